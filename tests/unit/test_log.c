/* SPDX-License-Identifier: MIT */
/* Unit tests of the log module: the logfmt line shape, level filtering,
 * log_quote escaping and truncation, the 2 KiB line cap, and libwebsockets'
 * log routed through log_emit. stderr is captured through a temporary file. */
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "check.h"

static int saved_stderr = -1;
static FILE *capture_file;
static char captured[8192];

static void capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	saved_stderr = dup(STDERR_FILENO);
	dup2(fileno(capture_file), STDERR_FILENO);
}

static const char *capture_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(capture_file);
	n = fread(captured, 1, sizeof captured - 1, capture_file);
	captured[n] = '\0';
	fclose(capture_file);
	return captured;
}

/* "ts=YYYY-MM-DDTHH:MM:SS.mmmZ " with digits where digits belong. */
static int is_ts_prefix(const char *s)
{
	static const char shape[] = "ts=dddd-dd-ddTdd:dd:dd.dddZ ";

	for (size_t i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return 0;
	}
	return 1;
}

static void test_line_shape(void)
{
	const char *out;

	log_set_level(SB_LOG_INFO);
	capture_begin();
	log_info("session created", "sid=%s n=%d", "abc", 3);
	log_warn("no extras", NULL);
	out = capture_end();
	CHECK(is_ts_prefix(out));
	CHECK(!strncmp(out + 28, "level=info msg=\"session created\" sid=abc n=3\n", 45));
	out = strchr(out, '\n') + 1;
	CHECK(is_ts_prefix(out));
	CHECK_STR(out + 28, "level=warn msg=\"no extras\"\n");
}

static void test_level_filter(void)
{
	const char *out;

	log_set_level(SB_LOG_WARN);
	CHECK_EQ_INT(log_get_level(), SB_LOG_WARN);
	capture_begin();
	log_debug("d", "k=%d", 1);
	log_info("i", "k=%d", 2);
	log_warn("w", "k=%d", 3);
	log_error("e", "k=%d", 4);
	out = capture_end();
	CHECK(strstr(out, "msg=\"d\"") == NULL);
	CHECK(strstr(out, "msg=\"i\"") == NULL);
	CHECK(strstr(out, "level=warn msg=\"w\" k=3\n") != NULL);
	CHECK(strstr(out, "level=error msg=\"e\" k=4\n") != NULL);

	log_set_level(SB_LOG_DEBUG);
	capture_begin();
	log_debug("d", "k=%d", 1);
	out = capture_end();
	CHECK(strstr(out, "level=debug msg=\"d\" k=1\n") != NULL);

	log_set_level(SB_LOG_ERROR);
	capture_begin();
	log_warn("w", NULL);
	out = capture_end();
	CHECK_STR(out, "");
	log_set_level(SB_LOG_INFO);
}

static void test_quote(void)
{
	char buf[64];

	CHECK_STR(log_quote(buf, sizeof buf, "plain"), "\"plain\"");
	CHECK_STR(log_quote(buf, sizeof buf, ""), "\"\"");
	CHECK_STR(log_quote(buf, sizeof buf, NULL), "\"\"");
	CHECK_STR(log_quote(buf, sizeof buf, "a \"b\" c\\d"), "\"a \\\"b\\\" c\\\\d\"");
	CHECK_STR(log_quote(buf, sizeof buf, "l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
	CHECK_STR(log_quote(buf, sizeof buf, "\x01\x1f\x7f"), "\"\\x01\\x1f\\x7f\"");
	CHECK_STR(log_quote(buf, sizeof buf, "caf\xc3\xa9"), "\"caf\xc3\xa9\"");
	/* truncation keeps the closing quote and never splits an escape */
	CHECK_STR(log_quote(buf, 6, "abcdef"), "\"abc\"");
	CHECK_STR(log_quote(buf, 6, "ab\"cd"), "\"ab\"");
	CHECK_STR(log_quote(buf, 7, "ab\"cd"), "\"ab\\\"\"");
	CHECK_STR(log_quote(buf, 3, "abc"), "\"\"");
	CHECK_STR(log_quote(buf, 2, "abc"), "");
}

static void test_long_line(void)
{
	char big[4000];
	const char *out;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_set_level(SB_LOG_INFO);
	capture_begin();
	log_info("big", "v=%s", big);
	log_info("after", NULL);
	out = capture_end();
	CHECK_EQ_INT(strchr(out, '\n') - out + 1, 2048);   /* capped at 2 KiB */
	CHECK(strstr(strchr(out, '\n'), "msg=\"after\"\n") != NULL);
}

static void test_lws_routing(void)
{
	const char *out;

	log_set_level(SB_LOG_INFO);
	log_route_lws();
	capture_begin();
	lwsl_err("listen failed on port %d\n", 80);
	lwsl_warn("a \"quoted\" warning\n");
	lwsl_notice("a notice\n");
	out = capture_end();
	CHECK(strstr(out, "level=error msg=\"lws\" text=\"listen failed on port 80\"\n") != NULL);
	CHECK(strstr(out, "level=warn msg=\"lws\" text=\"a \\\"quoted\\\" warning\"\n") != NULL);
	CHECK(strstr(out, "a notice") == NULL);

	log_set_level(SB_LOG_DEBUG);   /* notices come through at debug */
	capture_begin();
	lwsl_notice("a notice\n");
	out = capture_end();
	CHECK(strstr(out, "level=debug msg=\"lws\" text=\"a notice\"\n") != NULL);
	log_set_level(SB_LOG_INFO);
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
}

TEST_MAIN(TEST(test_line_shape), TEST(test_level_filter), TEST(test_quote),
	  TEST(test_long_line), TEST(test_lws_routing))
