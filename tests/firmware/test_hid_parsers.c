/* SPDX-License-Identifier: MIT */
/* scanbridge-hid's small parsers and rules: the config file (errors name
 * file:line), the pairing-URL recogniser, the Alt+numpad decoder, the device
 * heuristic on recorded capability sets, and the example config shipped in
 * firmware/ (it must parse). */
#include <stdio.h>
#include <string.h>

#include "altnum.h"
#include "check.h"
#include "config.h"
#include "heuristic.h"
#include "pairurl.h"

static int parse(struct hid_config *c, const char *text, char *err, size_t cap)
{
	hid_config_default(c);
	return hid_config_parse(c, "t.conf", text, strlen(text), err, cap);
}

static void test_config_defaults(void)
{
	struct hid_config c;
	char err[256];

	CHECK_EQ_INT(parse(&c, "# nothing\n\n", err, sizeof err), 0);
	CHECK_STR(c.url, "http://127.0.0.1:8080");
	CHECK_STR(c.reader.layout, "us");
	CHECK_EQ_INT(c.reader.end, HID_END_ENTER | HID_END_TAB);
	CHECK(c.heuristic && c.grab);
	CHECK_EQ_INT(c.status, HID_STATUS_NONE);
}

static void test_config_keys_and_sections(void)
{
	static const char text[] =
		"url = https://box.local:8443\n"
		"cafile = /var/lib/scanbridge/tls/ca.pem\n"
		"layout = fr\n"
		"end = enter, gap\n"
		"gap_ms = 80\n"
		"status = gpiod\n"
		"led_line = 17\n"
		"buzzer_line = 18\n"
		"[device 05e0:1200]\n"
		"layout = de\n"
		"prefix = ]E0\n"
		"[device 0C2E:*]\n"
		"alt_numpad = no\r\n";
	struct hid_config c;
	const struct hid_reader_conf *r;
	char err[256];
	bool allowed;

	CHECK_EQ_INT(parse(&c, text, err, sizeof err), 0);
	CHECK_STR(err, "");
	CHECK_STR(c.url, "https://box.local:8443");
	CHECK_STR(c.reader.layout, "fr");
	CHECK_EQ_INT(c.reader.end, HID_END_ENTER | HID_END_GAP);
	CHECK_EQ_INT(c.reader.gap_ms, 80);
	CHECK_EQ_INT(c.status, HID_STATUS_GPIOD);
	CHECK_EQ_INT(c.led_line, 17);
	CHECK_EQ_INT(c.n_rules, 2);
	r = hid_config_reader_for(&c, 0x05e0, 0x1200, &allowed);
	CHECK(allowed);
	CHECK_STR(r->layout, "de");
	CHECK_STR(r->prefix, "]E0");
	CHECK_EQ_INT(r->gap_ms, 80);          /* inherited */
	r = hid_config_reader_for(&c, 0x0c2e, 0x0b61, &allowed);
	CHECK(allowed);
	CHECK(!r->alt_numpad);
	CHECK_STR(r->layout, "fr");
	r = hid_config_reader_for(&c, 0x046d, 0xc31c, &allowed);
	CHECK(!allowed);
	CHECK_STR(r->layout, "fr");
}

static void test_config_errors(void)
{
	static const struct { const char *text, *err; } bad[] = {
		{ "nonsense\n", "t.conf:1: expected key = value" },
		{ "\nfoo = 1\n", "t.conf:2: unknown key \"foo\"" },
		{ "gap_ms = -1\n", "t.conf:1: \"-1\" is not a number from 0 to 10000" },
		{ "end = enter return\n", "t.conf:1: end: a list of enter, tab, gap or none" },
		{ "status = blink\n", "t.conf:1: status: gpiod, sysfs-led or none" },
		{ "[device 05e0]\n", "t.conf:1: a section is [device VVVV:PPPP] (hex USB ids, PPPP may be *)" },
		{ "[device 05e0:1200]\nurl = x\n", "t.conf:2: \"url\" cannot be set in a [device] section" },
		{ "sysfs_led = ../../x\n", "t.conf:1: sysfs_led: a name under /sys/class/leds" },
		{ "grab = maybe\n", "t.conf:1: \"maybe\" is not yes or no" },
		{ "layout =\n", "t.conf:1: empty layout" },
	};
	struct hid_config c;
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(parse(&c, bad[i].text, err, sizeof err) < 0);
		CHECK_STR(err, bad[i].err);
	}
}

static void test_config_long_line(void)
{
	char text[2000], err[256];
	struct hid_config c;

	memset(text, 'x', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	memcpy(text, "url = ", 6);
	CHECK(parse(&c, text, err, sizeof err) < 0);
	CHECK_STR(err, "t.conf:1: line too long");
	CHECK(hid_config_parse(&c, "t.conf", "layout = d\0e\n", 13, err, sizeof err) < 0);
}

static void test_example_config_parses(void)
{
	struct hid_config c;
	char err[512];

	hid_config_default(&c);
	CHECK_EQ_INT(hid_config_load(&c, SB_FIRMWARE_DIR "/scanbridge-hid.conf.example", err,
				     sizeof err), 0);
	CHECK_STR(err, "");
	CHECK_STR(c.url, "http://127.0.0.1:8080");   /* every key at its default */
	CHECK_STR(c.reader.layout, "us");
}

static void test_pair_url(void)
{
	char code[HID_PAIR_CODE_MAX];
	static const char *const bad[] = {
		"4006381333931", "http://box/p#short", "ftp://box/p#abcdefghijklmnopqrstuv",
		"http://box/q#abcdefghijklmnopqrstuv", "http://box/p#abcdefghijklmnopqrst uv",
		"http://box/p?x=1#abcdefghijklmnopqrstuv", "http:///p#abcdefghijklmnopqrstuv",
		"http://box/p#abcdefghijklmnopqrstuv#x", "http://box/xp#abcdefghijklmnopqrstuv",
		"http://box/p#", "https://box",
		/* a 64-character code: one too long */
		"http://box/p#abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl",
	};

	CHECK_EQ_INT(hid_pair_url_parse("https://scanbridge-ab12.local/p#Xy-_09AbCdEfGhIjKlMnOpQr",
					56, code, sizeof code), 0);
	CHECK_STR(code, "Xy-_09AbCdEfGhIjKlMnOpQr");
	CHECK_EQ_INT(hid_pair_url_parse("http://127.0.0.1:8080/p#abcdefghijklmnopqrstuv", 46,
					code, sizeof code), 0);
	CHECK_STR(code, "abcdefghijklmnopqrstuv");
	CHECK_EQ_INT(hid_pair_url_parse("https://[fd00::1]:8443/pos/p#abcdefghijklmnopqrstuv", 51,
					code, sizeof code), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(hid_pair_url_parse(bad[i], strlen(bad[i]), code, sizeof code) < 0);
}

static int32_t alt(const char *digits)
{
	struct altnum a;

	altnum_reset(&a);
	for (const char *p = digits; *p; p++)
		altnum_digit(&a, *p - '0');
	return altnum_finish(&a);
}

static void test_altnum(void)
{
	CHECK_EQ_INT(alt("65"), 'A');
	CHECK_EQ_INT(alt("065"), 'A');
	CHECK_EQ_INT(alt("0128"), 0x20AC);    /* Windows-1252: euro sign */
	CHECK_EQ_INT(alt("0129"), -1);        /* undefined there */
	CHECK_EQ_INT(alt("0233"), 0xE9);
	CHECK_EQ_INT(alt("0300"), -1);
	CHECK_EQ_INT(alt("8364"), 0x20AC);    /* without 0: the code point */
	CHECK_EQ_INT(alt("55296"), -1);       /* a surrogate */
	CHECK_EQ_INT(alt("1114111"), 0x10FFFF);
	CHECK_EQ_INT(alt("1114112"), -1);
	CHECK_EQ_INT(alt("99999999"), -1);    /* too many digits */
	CHECK_EQ_INT(alt(""), -1);
	CHECK_EQ_INT(alt("0"), -1);
}

/* Capability summaries as libevdev reports them for real devices. */
static void test_heuristic(void)
{
	static const struct { struct hid_devinfo d; bool kbd, gun; } devs[] = {
		{ { "Symbol Technologies, Inc, 2008 Symbol Bar Code Scanner", 3, 0x05e0, 0x1200,
		    false, false, true, true, true }, true, true },
		{ { "Honeywell Imaging & Mobility 1900", 3, 0x0c2e, 0x0b61,
		    false, false, true, true, true }, true, true },
		{ { "WCH.CN Barcode Scanner", 3, 0x1a86, 0xe026, false, false, true, true, true },
		  true, true },
		{ { "USBKey Chip USBKey Module", 3, 0x1a2c, 0x4c5e, false, false, true, true, true },
		  true, false },   /* a no-name gun: needs a [device] line */
		{ { "AT Translated Set 2 keyboard", 0x11, 0x0001, 0x0001,
		    false, false, true, true, true }, true, false },
		{ { "Logitech USB Receiver", 3, 0x046d, 0xc52b, true, false, true, true, true },
		  false, false },  /* keyboard+mouse combo receiver */
		{ { "Power Button", 0x19, 0, 1, false, false, false, false, false }, false, false },
		{ { "Datalogic ADC, Inc. Handheld Barcode Scanner", 3, 0x05f9, 0x2206,
		    false, false, true, true, true }, true, true },
		{ { "Wacom Intuos S Pen", 3, 0x056a, 0x0374, false, true, true, true, true },
		  false, false },
	};

	for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
		CHECK_EQ_INT(hid_is_keyboard_class(&devs[i].d), devs[i].kbd);
		if (hid_looks_like_scanner(&devs[i].d) != devs[i].gun)
			fprintf(stderr, "heuristic wrong for \"%s\"\n", devs[i].d.name);
		CHECK_EQ_INT(hid_looks_like_scanner(&devs[i].d), devs[i].gun);
	}
}

TEST_MAIN(TEST(test_config_defaults), TEST(test_config_keys_and_sections),
	  TEST(test_config_errors), TEST(test_config_long_line), TEST(test_example_config_parses),
	  TEST(test_pair_url), TEST(test_altnum), TEST(test_heuristic))
