/* SPDX-License-Identifier: MIT */
/* The bridge: guns, their codes, pairing by scan, and the status outputs,
 * over one relay (lws loop) and one outbox. Input sources (devices.c for
 * live evdev devices, main.c's --replay pipes) add guns and hand their events
 * to bridge_gun_event; everything after that is here:
 *   - a code that is a pairing URL pairs the gun (POST /pair, named
 *     "USB scanner <serial or path>") and replaces its earlier pairing;
 *   - any other code of a paired gun goes into the outbox and out on the
 *     pairing's link; of an unpaired gun it is held back (never sent: there is
 *     no session to send it to, and guessing one could put an item into
 *     someone else's sale), logged, and the buzzer sounds the error cue;
 *   - relay events drive the LED/buzzer. */
#ifndef HID_BRIDGE_H
#define HID_BRIDGE_H
#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <xkbcommon/xkbcommon.h>

#include "config.h"
#include "outbox.h"
#include "reader.h"
#include "relay.h"
#include "status.h"

struct gun {
	struct bridge *b;
	struct gun *next;
	char key[OB_GUN_MAX];        /* pairing key: serial, else the device path */
	char name[SB_NAME_MAX_BYTES + 1];   /* "USB scanner <serial or path>" */
	struct hid_reader reader;
	bool live;                   /* a real device: pauses are timed by the clock */
	bool pairing;                /* a POST /pair is on its way */
	uint64_t codes, held_back;
};

struct bridge {
	const struct hid_config *cfg;
	struct xkb_context *xkb;
	struct outbox *ob;
	struct relay *relay;
	struct status status;
	struct gun *guns;
	lws_sorted_usec_list_t tick;
	uint64_t next_probe_ms;
	volatile int stop;
};

/* Opens the outbox and the relay (lws context) and starts the links of the
 * stored pairings. The status backend is taken (b may be NULL). Returns 0 or a
 * negative sb_err after printing why. */
int bridge_init(struct bridge *br, const struct hid_config *cfg,
		const struct status_backend *status_be);
void bridge_free(struct bridge *br);

/* Runs the loop until br->stop is set (a signal handler may set it). */
void bridge_run(struct bridge *br);

/* A gun appeared. key: stable identity (serial or path); label: the part of
 * the scanner name after "USB scanner ". Returns NULL (logged) when its
 * layout does not compile. */
struct gun *bridge_gun_add(struct bridge *br, const char *key, const char *label,
			   const struct hid_reader_conf *rc, bool live);
/* The gun is gone (unplugged): a partial code is dropped; its pairing stays. */
void bridge_gun_remove(struct gun *g);
/* One event from the gun. */
void bridge_gun_event(struct gun *g, const struct input_event *ev);

/* Wall-clock milliseconds (the clock evdev stamps events with). */
uint64_t bridge_now_ms(void);

#endif
