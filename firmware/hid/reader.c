/* SPDX-License-Identifier: MIT */
/* Key events → codes (see reader.h). xkbcommon does all the layout work:
 * the characters come from xkb_state_key_get_utf8 on a state that has seen
 * every press and release, so modifiers and locks behave as on a desktop with
 * that layout. Order matters: a key's symbol is read before the state learns
 * of the key, as xkbcommon's documentation asks. */
#include "reader.h"

#include <stdio.h>
#include <string.h>

#include "sb_err.h"

#define XKB_EVDEV_OFFSET 8     /* xkb keycode = evdev keycode + 8 */

void hid_reader_conf_default(struct hid_reader_conf *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->layout, sizeof c->layout, "us");
	c->end = HID_END_ENTER | HID_END_TAB;
	c->gap_ms = 100;
	c->alt_numpad = true;
}

int hid_reader_init(struct hid_reader *r, struct xkb_context *ctx,
		    const struct hid_reader_conf *c)
{
	struct xkb_rule_names names;

	memset(r, 0, sizeof *r);
	r->conf = *c;
	memset(&names, 0, sizeof names);
	names.rules = "evdev";
	names.model = "pc105";
	names.layout = c->layout;
	names.variant = c->variant[0] ? c->variant : NULL;
	r->keymap = xkb_keymap_new_from_names(ctx, &names, XKB_KEYMAP_COMPILE_NO_FLAGS);
	if (!r->keymap)
		return SB_ECONFIG;
	/* xkb falls back to "us" for an unknown layout rather than failing:
	 * check that the compiled keymap names the layout we asked for. */
	if (xkb_keymap_num_layouts(r->keymap) < 1) {
		hid_reader_free(r);
		return SB_ECONFIG;
	}
	r->state = xkb_state_new(r->keymap);
	if (!r->state) {
		hid_reader_free(r);
		return SB_ENOMEM;
	}
	altnum_reset(&r->alt);
	return 0;
}

void hid_reader_free(struct hid_reader *r)
{
	xkb_state_unref(r->state);
	xkb_keymap_unref(r->keymap);
	r->state = NULL;
	r->keymap = NULL;
}

uint64_t hid_event_ms(const struct input_event *ev)
{
	return (uint64_t)ev->input_event_sec * 1000u + (uint64_t)ev->input_event_usec / 1000u;
}

bool hid_reader_pending(const struct hid_reader *r)
{
	return r->len > 0 || r->overflow || altnum_active(&r->alt);
}

static void clear_code(struct hid_reader *r)
{
	r->len = 0;
	r->overflow = false;
	altnum_reset(&r->alt);
}

static bool starts_with(const char *s, size_t len, const char *p, size_t plen)
{
	return plen > 0 && len >= plen && memcmp(s, p, plen) == 0;
}

/* Ends the held code: strips the affixes, checks the text rules of the
 * protocol. Returns 1 with *out filled, or 0 when nothing usable was held. */
static int finish_code(struct hid_reader *r, struct hid_code *out)
{
	const char *s = r->buf;
	size_t len = r->len;
	size_t plen = strlen(r->conf.prefix), slen = strlen(r->conf.suffix);
	bool overflow = r->overflow;

	clear_code(r);
	if (overflow || len == 0)
		return 0;
	if (starts_with(s, len, r->conf.prefix, plen)) {
		s += plen;
		len -= plen;
	}
	if (slen > 0 && len >= slen && memcmp(s + len - slen, r->conf.suffix, slen) == 0)
		len -= slen;
	if (len == 0 || barcode_text_valid(s, len, SB_CODE_MAX_CP) != 0)
		return 0;
	memcpy(out->text, s, len);
	out->text[len] = '\0';
	out->len = len;
	out->at_ms = r->last_ms;
	return 1;
}

/* A pause: end the code (HID_END_GAP) or count it as an interrupted scan. */
static int end_partial(struct hid_reader *r, struct hid_code *out)
{
	if (r->conf.end & HID_END_GAP)
		return finish_code(r, out);
	r->interrupted++;
	clear_code(r);
	return 0;
}

static void append(struct hid_reader *r, const char *utf8, size_t n)
{
	if (r->overflow)
		return;
	if (r->len + n > SB_CODE_MAX_BYTES) {
		r->overflow = true;
		return;
	}
	memcpy(r->buf + r->len, utf8, n);
	r->len += n;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static int keypad_digit(unsigned code)
{
	static const unsigned short kp[10] = { KEY_KP0, KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP4,
					       KEY_KP5, KEY_KP6, KEY_KP7, KEY_KP8, KEY_KP9 };
	for (int i = 0; i < 10; i++)
		if (kp[i] == code)
			return i;
	return -1;
}

static bool alt_held(struct hid_reader *r)
{
	return xkb_state_mod_name_is_active(r->state, XKB_MOD_NAME_ALT,
					    XKB_STATE_MODS_DEPRESSED) > 0;
}

static bool is_end_key(const struct hid_reader *r, xkb_keysym_t sym)
{
	if (sym == XKB_KEY_Return || sym == XKB_KEY_KP_Enter)
		return r->conf.end & HID_END_ENTER;
	if (sym == XKB_KEY_Tab || sym == XKB_KEY_ISO_Left_Tab)
		return r->conf.end & HID_END_TAB;
	return false;
}

/* A key press that is neither an end key nor an Alt+numpad digit: its text.
 * Control characters (Ctrl+letter, Escape, a Return not configured as an
 * end) cannot travel in a code (PROTOCOL.md) and are dropped. */
static void press_text(struct hid_reader *r, xkb_keycode_t kc)
{
	char u[16];
	int n = xkb_state_key_get_utf8(r->state, kc, u, sizeof u);

	if (n <= 0)
		return;      /* a modifier, a lock, a dead key: no text of its own */
	if ((size_t)n >= sizeof u || barcode_text_valid(u, (size_t)n, 4) != 0) {
		r->dropped_chars++;
		return;
	}
	append(r, u, (size_t)n);
}

/* Alt released after keypad digits: the character they spelled. */
static void alt_released(struct hid_reader *r)
{
	char u[4];
	int32_t cp;

	if (!altnum_active(&r->alt) || alt_held(r))
		return;
	cp = altnum_finish(&r->alt);
	if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
		r->dropped_chars++;
		return;
	}
	append(r, u, utf8_encode((uint32_t)cp, u));
}

static int on_press(struct hid_reader *r, xkb_keycode_t kc, unsigned code,
		    struct hid_code *out)
{
	int digit = keypad_digit(code);

	if (r->conf.alt_numpad && digit >= 0 && alt_held(r)) {
		altnum_digit(&r->alt, digit);
		return 0;
	}
	if (is_end_key(r, xkb_state_key_get_one_sym(r->state, kc)))
		return finish_code(r, out);
	press_text(r, kc);
	return 0;
}

static int on_key(struct hid_reader *r, const struct input_event *ev, struct hid_code *out)
{
	xkb_keycode_t kc = (xkb_keycode_t)ev->code + XKB_EVDEV_OFFSET;
	uint64_t ms = hid_event_ms(ev);
	int rc = 0;

	if (ev->value == 2)
		return 0;    /* autorepeat: a gun never holds a key to repeat it */
	if (ev->value == 1) {
		if (r->have_last && r->conf.gap_ms && hid_reader_pending(r) &&
		    ms - r->last_ms > r->conf.gap_ms)
			rc = end_partial(r, out);
		r->have_last = true;
		r->last_ms = ms;
		/* After a gap ended a code the buffer is empty, so this press
		 * cannot complete another one: *out keeps the gap-ended code. */
		if (rc == 0)
			rc = on_press(r, kc, ev->code, out);
		else
			(void)on_press(r, kc, ev->code, out);
	}
	xkb_state_update_key(r->state, kc, ev->value ? XKB_KEY_DOWN : XKB_KEY_UP);
	if (ev->value == 0)
		alt_released(r);
	return rc;
}

int hid_reader_feed(struct hid_reader *r, const struct input_event *ev, struct hid_code *out)
{
	if (ev->type == EV_SYN && ev->code == SYN_DROPPED) {
		/* The kernel lost events: the held code has holes, and the key
		 * state is unknown. Drop both. */
		if (hid_reader_pending(r))
			r->interrupted++;
		clear_code(r);
		xkb_state_unref(r->state);
		r->state = xkb_state_new(r->keymap);
		return 0;
	}
	if (ev->type != EV_KEY || !r->state)
		return 0;
	return on_key(r, ev, out);
}

int hid_reader_flush(struct hid_reader *r, uint64_t now_ms, struct hid_code *out)
{
	if (!hid_reader_pending(r) || !r->conf.gap_ms || !r->have_last ||
	    now_ms - r->last_ms <= r->conf.gap_ms)
		return 0;
	return end_partial(r, out);
}

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)(v & 0xFF);
}

void hid_rec_decode(const unsigned char rec[HID_REC_SIZE], struct input_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->input_event_sec = (long)get_le(rec, 8);
	ev->input_event_usec = (long)get_le(rec + 8, 8);
	ev->type = (uint16_t)get_le(rec + 16, 2);
	ev->code = (uint16_t)get_le(rec + 18, 2);
	ev->value = (int32_t)(uint32_t)get_le(rec + 20, 4);
}

void hid_rec_encode(const struct input_event *ev, unsigned char rec[HID_REC_SIZE])
{
	put_le(rec, (uint64_t)(int64_t)ev->input_event_sec, 8);
	put_le(rec + 8, (uint64_t)(int64_t)ev->input_event_usec, 8);
	put_le(rec + 16, ev->type, 2);
	put_le(rec + 18, ev->code, 2);
	put_le(rec + 20, (uint32_t)ev->value, 4);
}
