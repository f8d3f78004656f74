/* SPDX-License-Identifier: MIT */
/* The key-event reader: one per gun. It turns the gun's struct input_event
 * stream into scanned codes: key events go through a libxkbcommon keymap of the
 * gun's configured layout (Debian's xkb-data: any layout xkeyboard-config
 * knows), so Shift, AltGr and Caps Lock mean what they mean on that layout and a
 * German gun's KEY_Y is a 'z'. A code ends on Enter or Tab (configurable), or
 * on a pause between keys longer than gap_ms (which either ends the code or
 * throws the partial code away as an interrupted scan). Alt+numpad sequences,
 * and a configured prefix/suffix, are handled here too.
 *
 * The live device path (libevdev) and the replay path (a pipe of recorded
 * events) both call hid_reader_feed: there is one decoder. Time comes only from
 * the events' own timestamps (and from the caller for hid_reader_flush), so a
 * replay decodes exactly as the live gun did. */
#ifndef HID_READER_H
#define HID_READER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/input.h>
#include <xkbcommon/xkbcommon.h>

#include "altnum.h"
#include "barcode.h"   /* proto/: SB_CODE_MAX_BYTES */

/* Which keys end a code. */
#define HID_END_ENTER 0x1
#define HID_END_TAB   0x2
#define HID_END_GAP   0x4    /* a pause ends the code (else it discards it) */

#define HID_LAYOUT_MAX 64
#define HID_AFFIX_MAX 32

struct hid_reader_conf {
	char layout[HID_LAYOUT_MAX];    /* xkb layout name: "us", "de", "fr", ... */
	char variant[HID_LAYOUT_MAX];   /* xkb variant, "" for the default */
	unsigned end;                   /* HID_END_* bits */
	unsigned gap_ms;                /* 0: no gap rule */
	bool alt_numpad;                /* decode Alt+keypad digit sequences */
	char prefix[HID_AFFIX_MAX];     /* stripped from the start when present */
	char suffix[HID_AFFIX_MAX];     /* stripped from the end when present */
};

/* Defaults: layout us, end on Enter or Tab, gap 100 ms discards, Alt+numpad on. */
void hid_reader_conf_default(struct hid_reader_conf *c);

struct hid_code {
	char text[SB_CODE_MAX_BYTES + 1];
	size_t len;
	uint64_t at_ms;                 /* timestamp of the code's last key */
};

struct hid_reader {
	struct hid_reader_conf conf;
	struct xkb_keymap *keymap;
	struct xkb_state *state;
	char buf[SB_CODE_MAX_BYTES + 8];
	size_t len;
	bool overflow;                  /* the code grew past the limit: dropped */
	bool have_last;
	uint64_t last_ms;               /* timestamp of the latest key press */
	struct altnum alt;
	uint64_t interrupted;           /* partial codes discarded (gap, SYN_DROPPED) */
	uint64_t dropped_chars;         /* keys that gave no usable character */
};

/* Compiles the keymap for c's layout/variant in ctx (not owned; must outlive
 * r). Returns 0, or SB_ECONFIG when xkb does not know the layout, or SB_ENOMEM. */
int hid_reader_init(struct hid_reader *r, struct xkb_context *ctx,
		    const struct hid_reader_conf *c);
void hid_reader_free(struct hid_reader *r);

/* Feeds one event. Returns 1 with *out filled when it completed a code (an end
 * key, or a key press after a pause with HID_END_GAP), 0 otherwise. */
int hid_reader_feed(struct hid_reader *r, const struct input_event *ev, struct hid_code *out);

/* The live path's timer: when a partial code's last key is more than gap_ms
 * before now_ms, ends it (returns 1, *out filled) or discards it (returns 0).
 * Returns 0 when nothing is pending. */
int hid_reader_flush(struct hid_reader *r, uint64_t now_ms, struct hid_code *out);

/* True while part of a code is held. */
bool hid_reader_pending(const struct hid_reader *r);

/* Timestamp of an event in milliseconds. */
uint64_t hid_event_ms(const struct input_event *ev);

/* The recorded stream format (tests/data/hid, the replay input): a sequence of
 * 24-byte records, the 64-bit Linux struct input_event, little-endian:
 * s64 tv_sec, s64 tv_usec, u16 type, u16 code, s32 value. Fixed on every host
 * (armhf's own struct is 16 bytes), so recordings travel. */
#define HID_REC_SIZE 24
void hid_rec_decode(const unsigned char rec[HID_REC_SIZE], struct input_event *ev);
void hid_rec_encode(const struct input_event *ev, unsigned char rec[HID_REC_SIZE]);

#endif
