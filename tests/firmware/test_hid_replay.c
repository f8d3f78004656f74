/* SPDX-License-Identifier: MIT */
/* The key-event → text path of scanbridge-hid on recorded gun streams
 * (the .ev files of tests/data/hid, made by generate.sh): each one goes through a
 * pipe, read by hid_replay_read into the hid_reader the live devices use,
 * with the gun's layout, and must give back exactly the texts typed. The
 * German stream read as a US gun must not: layouts matter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "reader.h"
#include "replay.h"

#define MAX_CODES 16

struct got {
	struct hid_reader r;
	char codes[MAX_CODES][SB_CODE_MAX_BYTES + 1];
	int n;
};

static void on_event(void *arg, const struct input_event *ev)
{
	struct got *g = arg;
	struct hid_code c;

	if (hid_reader_feed(&g->r, ev, &c) == 1 && g->n < MAX_CODES)
		strcpy(g->codes[g->n++], c.text);
}

/* Streams file through a pipe (a writer child, so big files do not fill the
 * pipe) into a reader made from conf. Returns the number of codes, -1 on error. */
static int replay(const char *file, const struct hid_reader_conf *conf, struct got *g)
{
	static struct xkb_context *ctx;
	char path[512];
	struct hid_replay rp = { { 0 }, 0 };
	int fds[2], status;
	pid_t pid;

	memset(g, 0, sizeof *g);
	if (!ctx)
		ctx = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
	if (hid_reader_init(&g->r, ctx, conf) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s", SB_HID_DATA, file);
	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		FILE *f = fopen(path, "rb");
		char buf[1000];   /* not a multiple of a record: tests reassembly */
		size_t n;
		close(fds[0]);
		if (!f)
			_exit(1);
		while ((n = fread(buf, 1, sizeof buf, f)) > 0)
			if (write(fds[1], buf, n) != (ssize_t)n)
				_exit(1);
		_exit(0);
	}
	close(fds[1]);
	while (hid_replay_read(&rp, fds[0], on_event, g) > 0)
		;
	close(fds[0]);
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ_INT(rp.have, 0);
	hid_reader_free(&g->r);
	return g->n;
}

static struct hid_reader_conf layout(const char *name)
{
	struct hid_reader_conf c;

	hid_reader_conf_default(&c);
	snprintf(c.layout, sizeof c.layout, "%s", name);
	return c;
}

static void expect(const char *file, const char *lay, const char *const *want, int n)
{
	struct hid_reader_conf c = layout(lay);
	struct got g;

	CHECK_EQ_INT(replay(file, &c, &g), n);
	for (int i = 0; i < n && i < g.n; i++)
		CHECK_STR(g.codes[i], want[i]);
}

static void test_us(void)
{
	static const char *const want[] = { "ABC-abc-0123456789", "Hello, World! #$%&*()_+",
					    "CAPS Lock 42", "z/y=Q?[]{}" };
	expect("us.ev", "us", want, 4);
}

static void test_de(void)
{
	static const char *const want[] = { "Zebra-Yak 0123 zZyY", "a@b€c{[]}\\~|",
					    "Größe-ÄÖÜß", "tab-ended" };
	expect("de.ev", "de", want, 4);
}

static void test_fr(void)
{
	static const char *const want[] = { "AZERTY qwerty 0123456789", "éèàçù", "a@b#c{}" };
	expect("fr.ev", "fr", want, 3);
}

/* The German gun read with a US keymap: the classic wedge failure (Z <-> Y). */
static void test_de_as_us_differs(void)
{
	struct hid_reader_conf c = layout("us");
	struct got g;

	CHECK(replay("de.ev", &c, &g) >= 1);
	CHECK(strcmp(g.codes[0], "Zebra-Yak 0123 zZyY") != 0);
	CHECK_STR(g.codes[0], "Yebra/Zak 0123 yYzZ");   /* and - is / there */
}

static void test_fast(void)
{
	static const char *const want[] = { "4006381333931", "036000291452", "CODE128-FAST-GUN",
					    "96385074", "15400141288763",
					    "https://example.com/item?id=42&x=y" };
	expect("fast.ev", "us", want, 6);
}

/* Default: a pause discards the partial code; SYN_DROPPED discards too. */
static void test_interrupted(void)
{
	static const char *const want[] = { "4006381333931", "96385074" };
	struct hid_reader_conf c = layout("us");
	struct got g;

	expect("interrupted.ev", "us", want, 2);
	/* With end-on-gap the partial code before the pause is a code of its own. */
	c.end |= HID_END_GAP;
	CHECK_EQ_INT(replay("interrupted.ev", &c, &g), 3);
	CHECK_STR(g.codes[0], "400638");
	CHECK_STR(g.codes[1], "4006381333931");
	CHECK_STR(g.codes[2], "96385074");
}

static void test_interrupted_counted(void)
{
	struct hid_reader_conf c = layout("us");
	struct got g;

	replay("interrupted.ev", &c, &g);
	CHECK_EQ_INT(g.r.interrupted, 2);
}

static void test_pairing(void)
{
	static const char *const want[] = {
		"https://scanbridge-ab12.local/p#Xy-_09AbCdEfGhIjKlMnOpQr", "4006381333931" };
	expect("pairing.ev", "us", want, 2);
}

static void test_altnum(void)
{
	static const char *const want[] = { "ABC-123/xyz" };
	struct hid_reader_conf c = layout("us");
	struct got g;

	expect("altnum.ev", "us", want, 1);
	/* Alt+numpad off: Alt+keypad gives no characters, only the Enter. */
	c.alt_numpad = false;
	CHECK_EQ_INT(replay("altnum.ev", &c, &g), 0);
}

static void test_affixes(void)
{
	static const char *const want[] = { "4006381333931", "036000291452" };
	struct hid_reader_conf c = layout("us");
	struct got g;

	snprintf(c.prefix, sizeof c.prefix, "<<");
	snprintf(c.suffix, sizeof c.suffix, ">>");
	CHECK_EQ_INT(replay("affixes.ev", &c, &g), 2);
	for (int i = 0; i < 2 && i < g.n; i++)
		CHECK_STR(g.codes[i], want[i]);
}

/* Tab as an end key is configurable: without it the tab is dropped (a control
 * character) and the code runs on into the next. */
static void test_tab_not_end(void)
{
	struct hid_reader_conf c = layout("de");
	struct got g;

	c.end = HID_END_ENTER;
	CHECK_EQ_INT(replay("de.ev", &c, &g), 3);
}

static void test_unknown_layout(void)
{
	struct xkb_context *ctx = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
	struct hid_reader_conf c = layout("no-such-layout");
	struct hid_reader r;

	xkb_context_set_log_level(ctx, XKB_LOG_LEVEL_CRITICAL);
	CHECK(hid_reader_init(&r, ctx, &c) < 0);
	xkb_context_unref(ctx);
}

/* The live path's timer ends a code that never got its Enter. */
static void test_flush(void)
{
	struct xkb_context *ctx = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
	struct hid_reader_conf c = layout("us");
	struct hid_reader r;
	struct hid_code code;
	struct input_event ev = { .type = EV_KEY, .code = KEY_5, .value = 1 };

	c.end |= HID_END_GAP;
	c.gap_ms = 50;
	CHECK_EQ_INT(hid_reader_init(&r, ctx, &c), 0);
	ev.input_event_sec = 10;
	CHECK_EQ_INT(hid_reader_feed(&r, &ev, &code), 0);
	ev.value = 0;
	CHECK_EQ_INT(hid_reader_feed(&r, &ev, &code), 0);
	CHECK_EQ_INT(hid_reader_flush(&r, 10000 + 40, &code), 0);
	CHECK(hid_reader_pending(&r));
	CHECK_EQ_INT(hid_reader_flush(&r, 10000 + 51, &code), 1);
	CHECK_STR(code.text, "5");
	CHECK(!hid_reader_pending(&r));
	hid_reader_free(&r);
	xkb_context_unref(ctx);
}

TEST_MAIN(TEST(test_us), TEST(test_de), TEST(test_fr), TEST(test_de_as_us_differs),
	  TEST(test_fast), TEST(test_interrupted), TEST(test_interrupted_counted),
	  TEST(test_pairing), TEST(test_altnum), TEST(test_affixes), TEST(test_tab_not_end),
	  TEST(test_unknown_layout), TEST(test_flush))
