/* SPDX-License-Identifier: MIT */
/* scanbridge-hid-gen: writes the struct input_event stream a keyboard-wedge
 * barcode gun set to a given layout would send for given texts, in the
 * recording format of firmware/hid/reader.h (24-byte 64-bit records). It asks
 * libxkbcommon which key and modifiers give each character on that layout
 * (so a "de" stream really holds KEY_Y for 'z', and AltGr+Q for '@'): no
 * layout table is written by hand. Used to make the .ev files of tests/data/hid
 * (tests/data/hid/generate.sh) and, at test time, streams holding a fresh
 * pairing URL.
 *
 * usage: scanbridge-hid-gen -l LAYOUT [-V VARIANT] [-k KEY_US] [-s SEC] [-o FILE] ITEM...
 *   t:TEXT  type TEXT, then Enter      T:TEXT  type TEXT, then Tab
 *   p:TEXT  type TEXT, no end key      a:TEXT  TEXT as Alt+keypad codes, then Enter
 *   g:MS    a pause of MS ms           c       press Caps Lock (toggles it)
 *   d       a SYN_DROPPED event (the kernel lost events)
 * -k: microseconds between two events (default 2000). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/input.h>
#include <xkbcommon/xkbcommon.h>

#include "reader.h"

struct gen {
	struct xkb_keymap *keymap;
	struct xkb_state *state;   /* mirrors every key emitted (for Caps Lock) */
	uint64_t t_us;
	unsigned step_us;
	FILE *out;
};

static void emit(struct gen *g, unsigned type, unsigned code, int value)
{
	struct input_event ev;
	unsigned char rec[HID_REC_SIZE];

	memset(&ev, 0, sizeof ev);
	ev.input_event_sec = (long)(g->t_us / 1000000u);
	ev.input_event_usec = (long)(g->t_us % 1000000u);
	ev.type = (uint16_t)type;
	ev.code = (uint16_t)code;
	ev.value = value;
	hid_rec_encode(&ev, rec);
	fwrite(rec, 1, sizeof rec, g->out);
}

/* One key event and its SYN_REPORT, as the kernel reports a key. */
static void key(struct gen *g, unsigned code, int down)
{
	emit(g, EV_KEY, code, down);
	emit(g, EV_SYN, SYN_REPORT, 0);
	xkb_state_update_key(g->state, code + 8, down ? XKB_KEY_DOWN : XKB_KEY_UP);
	g->t_us += g->step_us;
}

static const unsigned mod_sets[][2] = {
	{ 0, 0 }, { KEY_LEFTSHIFT, 0 }, { KEY_RIGHTALT, 0 }, { KEY_LEFTSHIFT, KEY_RIGHTALT },
};

/* Would pressing code with the modifier keys mods, in the current lock
 * state, type the UTF-8 character want? */
static int gives(struct gen *g, const unsigned mods[2], unsigned code, const char *want)
{
	struct xkb_state *t = xkb_state_new(g->keymap);
	char u[16];
	int ok;

	xkb_state_update_mask(t, 0, 0,
			      xkb_state_serialize_mods(g->state, XKB_STATE_MODS_LOCKED), 0, 0,
			      xkb_state_serialize_layout(g->state, XKB_STATE_LAYOUT_LOCKED));
	for (int i = 0; i < 2; i++)
		if (mods[i])
			xkb_state_update_key(t, mods[i] + 8, XKB_KEY_DOWN);
	ok = xkb_state_key_get_utf8(t, code + 8, u, sizeof u) > 0 && strcmp(u, want) == 0;
	xkb_state_unref(t);
	return ok;
}

static int is_keypad(unsigned code)
{
	return (code >= KEY_KP7 && code <= KEY_KPDOT) || code == KEY_KPSLASH ||
	       code == KEY_KPASTERISK || code == KEY_KPENTER || code == KEY_KPEQUAL ||
	       code == KEY_KPCOMMA || code == KEY_KPPLUSMINUS;
}

/* Types one UTF-8 character; fewest modifiers first, main block before keypad. */
static int type_char(struct gen *g, const char *ch)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t m = 0; m < sizeof mod_sets / sizeof mod_sets[0]; m++)
			for (unsigned code = 1; code < 248; code++) {
				if (is_keypad(code) != pass || !gives(g, mod_sets[m], code, ch))
					continue;
				for (int i = 0; i < 2; i++)
					if (mod_sets[m][i])
						key(g, mod_sets[m][i], 1);
				key(g, code, 1);
				key(g, code, 0);
				for (int i = 1; i >= 0; i--)
					if (mod_sets[m][i])
						key(g, mod_sets[m][i], 0);
				return 0;
			}
	fprintf(stderr, "scanbridge-hid-gen: no key gives \"%s\" on this layout\n", ch);
	return -1;
}

static size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static int type_text(struct gen *g, const char *s)
{
	while (*s) {
		char ch[8] = { 0 };
		size_t n = utf8_len((unsigned char)*s);
		memcpy(ch, s, n < 5 ? n : 4);
		if (type_char(g, ch) < 0)
			return -1;
		s += strlen(ch);
	}
	return 0;
}

static int type_altnum(struct gen *g, const char *s)
{
	static const unsigned kp[10] = { KEY_KP0, KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP4,
					 KEY_KP5, KEY_KP6, KEY_KP7, KEY_KP8, KEY_KP9 };
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char digits[12];
		if (*p >= 0x80) {
			fprintf(stderr, "scanbridge-hid-gen: a: ASCII only\n");
			return -1;
		}
		snprintf(digits, sizeof digits, "%u", *p);
		key(g, KEY_LEFTALT, 1);
		for (char *d = digits; *d; d++) {
			key(g, kp[*d - '0'], 1);
			key(g, kp[*d - '0'], 0);
		}
		key(g, KEY_LEFTALT, 0);
	}
	return 0;
}

static int item(struct gen *g, const char *it)
{
	if (strcmp(it, "c") == 0) {
		key(g, KEY_CAPSLOCK, 1);
		key(g, KEY_CAPSLOCK, 0);
		return 0;
	}
	if (strcmp(it, "d") == 0) {
		emit(g, EV_SYN, SYN_DROPPED, 0);
		return 0;
	}
	if (strlen(it) < 2 || it[1] != ':')
		return -1;
	switch (it[0]) {
	case 'g':
		g->t_us += strtoull(it + 2, NULL, 10) * 1000u;
		return 0;
	case 'p':
		return type_text(g, it + 2);
	case 't':
	case 'T':
		if (type_text(g, it + 2) < 0)
			return -1;
		key(g, it[0] == 't' ? KEY_ENTER : KEY_TAB, 1);
		key(g, it[0] == 't' ? KEY_ENTER : KEY_TAB, 0);
		return 0;
	case 'a':
		if (type_altnum(g, it + 2) < 0)
			return -1;
		key(g, KEY_ENTER, 1);
		key(g, KEY_ENTER, 0);
		return 0;
	default:
		return -1;
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: scanbridge-hid-gen -l LAYOUT [-V VARIANT] [-k KEY_US] [-s SEC] "
		"[-o FILE] ITEM...\n  items: t:TEXT T:TEXT p:TEXT a:TEXT g:MS c d\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct xkb_rule_names names = { "evdev", "pc105", "us", NULL, NULL };
	struct xkb_context *ctx;
	struct gen g = { NULL, NULL, 1700000000ull * 1000000u, 2000, stdout };
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "l:V:k:s:o:h")) != -1) {
		switch (opt) {
		case 'l': names.layout = optarg; break;
		case 'V': names.variant = optarg; break;
		case 'k': g.step_us = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': g.t_us = strtoull(optarg, NULL, 10) * 1000000u; break;
		case 'o':
			g.out = fopen(optarg, "wb");
			if (!g.out) {
				perror(optarg);
				return 1;
			}
			break;
		default: return usage();
		}
	}
	if (optind >= argc)
		return usage();
	ctx = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
	g.keymap = ctx ? xkb_keymap_new_from_names(ctx, &names, XKB_KEYMAP_COMPILE_NO_FLAGS) : NULL;
	if (!g.keymap) {
		fprintf(stderr, "scanbridge-hid-gen: no keymap for layout %s\n", names.layout);
		return 1;
	}
	g.state = xkb_state_new(g.keymap);
	for (int i = optind; i < argc && rc == 0; i++)
		if (item(&g, argv[i]) < 0) {
			fprintf(stderr, "scanbridge-hid-gen: cannot generate item \"%s\"\n", argv[i]);
			rc = 1;
		}
	if (fflush(g.out) != 0 || (g.out != stdout && fclose(g.out) != 0))
		rc = 1;
	xkb_state_unref(g.state);
	xkb_keymap_unref(g.keymap);
	xkb_context_unref(ctx);
	return rc;
}
