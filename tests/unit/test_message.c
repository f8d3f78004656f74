/* SPDX-License-Identifier: MIT */
/* Unit tests for proto/message.c: decoding every client message type and every
 * way a field can be missing or wrong, depth limits, framing (trailing garbage,
 * buffers that are not NUL-terminated), NUL and surrogate escapes, and the exact
 * JSON text of every server message encoder. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "message.h"
#include "sb_err.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define DEPTH 8

/* Decodes a C string literal (sizeof - 1 so embedded NULs count). */
#define DEC(lit, m, e) sb_msg_decode(lit, sizeof(lit) - 1, DEPTH, m, e)

static struct sb_client_msg msg; /* large: keep it off the stack */

static void test_decode_hello(void)
{
	struct sb_msg_error e;

	CHECK_EQ_INT(DEC("{\"type\":\"hello\",\"token\":\"abc.def.ghi\"}", &msg, &e), 0);
	CHECK_EQ_INT(msg.type, SB_MSG_HELLO);
	CHECK_STR(msg.token, "abc.def.ghi");
	CHECK_EQ_INT(msg.last_seq, 0);
	CHECK_EQ_INT(DEC("{\"type\":\"hello\",\"token\":\"t\",\"last_seq\":42}", &msg, &e), 0);
	CHECK_EQ_INT(msg.last_seq, 42);
	CHECK_EQ_INT(DEC("{\"type\":\"hello\",\"token\":\"t\",\"last_seq\":null}", &msg, &e), 0);
	CHECK_EQ_INT(msg.last_seq, 0);
	CHECK_EQ_INT(DEC(" \r\n\t{ \"last_seq\" : 7 , \"token\" : \"t\" , \"type\" : \"hello\" }\n",
			 &msg, &e), 0);
	CHECK_EQ_INT(msg.last_seq, 7);
}

static void test_decode_hello_token_max(void)
{
	size_t n = SB_TOKEN_MAX;
	char *buf = malloc(n + 64);
	int len;

	memset(buf, 0, n + 64);
	len = sprintf(buf, "{\"type\":\"hello\",\"token\":\"");
	memset(buf + len, 'a', n);
	strcpy(buf + len + n, "\"}");
	CHECK_EQ_INT(sb_msg_decode(buf, strlen(buf), DEPTH, &msg, NULL), 0);
	CHECK_EQ_INT(strlen(msg.token), SB_TOKEN_MAX);
	memset(buf + len, 'a', n + 1);
	strcpy(buf + len + n + 1, "\"}");
	CHECK_EQ_INT(sb_msg_decode(buf, strlen(buf), DEPTH, &msg, NULL), SB_EINVAL);
	free(buf);
}

static void test_decode_scan(void)
{
	struct sb_msg_error e;

	CHECK_EQ_INT(DEC("{\"type\":\"scan\",\"id\":\"s-1_A\",\"code\":\"4006381333931\","
			 "\"format\":\"EAN_13\",\"scanned_at\":1795000000000,\"extra\":[1,{}]}",
			 &msg, &e), 0);
	CHECK_EQ_INT(msg.type, SB_MSG_SCAN);
	CHECK_STR(msg.scan.id, "s-1_A");
	CHECK_STR(msg.scan.code, "4006381333931");
	CHECK_EQ_INT(msg.scan.format, SB_FMT_EAN_13);
	CHECK_EQ_INT(msg.scan.scanned_at, 1795000000000LL);
	CHECK_STR(e.id, "");

	CHECK_EQ_INT(DEC("{\"type\":\"scan\",\"id\":\"x\",\"code\":\"caf\\u00e9 \\ud834\\udd1e\"}",
			 &msg, &e), 0);
	CHECK_STR(msg.scan.code, "caf\xC3\xA9 \xF0\x9D\x84\x9E");
	CHECK_EQ_INT(msg.scan.format, SB_FMT_UNKNOWN);
	CHECK_EQ_INT(msg.scan.scanned_at, -1);

	CHECK_EQ_INT(DEC("{\"type\":\"scan\",\"id\":\"x\",\"code\":\"q\",\"format\":null,"
			 "\"scanned_at\":null}", &msg, &e), 0);
	CHECK_EQ_INT(msg.scan.format, SB_FMT_UNKNOWN);
	CHECK_EQ_INT(msg.scan.scanned_at, -1);
	CHECK_EQ_INT(DEC("{\"type\":\"scan\",\"id\":\"x\",\"code\":\"q\",\"scanned_at\":0}",
			 &msg, &e), 0);
	CHECK_EQ_INT(msg.scan.scanned_at, 0);
}

static void test_decode_ack_kick_ping(void)
{
	CHECK_EQ_INT(DEC("{\"type\":\"ack\",\"seq\":17}", &msg, NULL), 0);
	CHECK_EQ_INT(msg.type, SB_MSG_ACK);
	CHECK_EQ_INT(msg.seq, 17);
	CHECK_EQ_INT(DEC("{\"type\":\"ack\",\"seq\":0}", &msg, NULL), 0);
	CHECK_EQ_INT(msg.seq, 0);
	CHECK_EQ_INT(DEC("{\"type\":\"kick\",\"scanner\":\"Ab_9-xYz01234567\"}", &msg, NULL), 0);
	CHECK_EQ_INT(msg.type, SB_MSG_KICK);
	CHECK_STR(msg.scanner, "Ab_9-xYz01234567");
	CHECK_EQ_INT(DEC("{\"type\":\"ping\"}", &msg, NULL), 0);
	CHECK_EQ_INT(msg.type, SB_MSG_PING);
	CHECK_EQ_INT(DEC("{\"type\":\"ping\",\"t\":123,\"whatever\":{\"a\":[]}}", &msg, NULL), 0);
}

struct bad_case {
	const char *json;
	size_t len;
	int rc;
	const char *message; /* exact, or NULL */
	const char *id;      /* err.id expected */
};
#define BAD(lit, rc, message, id) { lit, sizeof(lit) - 1, rc, message, id }

static const struct bad_case bad_cases[] = {
	/* framing: close 4000 */
	BAD("", SB_EPROTO, "not valid JSON", ""),
	BAD("   ", SB_EPROTO, "not valid JSON", ""),
	BAD("hello", SB_EPROTO, "not valid JSON", ""),
	BAD("{\"type\":\"ping\"", SB_EPROTO, "not valid JSON", ""),
	BAD("{\"type\":\"ping\"}x", SB_EPROTO, "not valid JSON", ""),
	BAD("{\"type\":\"ping\"}{}", SB_EPROTO, "not valid JSON", ""),
	BAD("{\"type\":\"ping\"}\0", SB_EPROTO, "not valid JSON", ""),
	BAD("{\"type\":\"ping\",}", SB_EPROTO, "not valid JSON", ""),
	BAD("{'type':'ping'}", SB_EPROTO, "not valid JSON", ""),
	BAD("{\"type\":\"p\\xng\"}", SB_EPROTO, "not valid JSON", ""),
	BAD("[{\"type\":\"ping\"}]", SB_EPROTO, "message is not a JSON object", ""),
	BAD("\"ping\"", SB_EPROTO, "message is not a JSON object", ""),
	BAD("42", SB_EPROTO, "message is not a JSON object", ""),
	BAD("null", SB_EPROTO, "message is not a JSON object", ""),
	BAD("{}", SB_EPROTO, "type: missing or not a string", ""),
	BAD("{\"type\":1}", SB_EPROTO, "type: missing or not a string", ""),
	BAD("{\"type\":null}", SB_EPROTO, "type: missing or not a string", ""),
	BAD("{\"Type\":\"ping\"}", SB_EPROTO, "type: missing or not a string", ""),
	BAD("{\"type\":\"PING\"}", SB_EPROTO, "type: unknown message type", ""),
	BAD("{\"type\":\"welcome\"}", SB_EPROTO, "type: unknown message type", ""),
	BAD("{\"type\":\"ping\\u0000\"}", SB_EPROTO, "type: unknown message type", ""),
	BAD("{\"type\":\"\"}", SB_EPROTO, "type: unknown message type", ""),
	/* hello */
	BAD("{\"type\":\"hello\"}", SB_EINVAL, "token: missing", ""),
	BAD("{\"type\":\"hello\",\"token\":null}", SB_EINVAL, "token: must be a string", ""),
	BAD("{\"type\":\"hello\",\"token\":5}", SB_EINVAL, "token: must be a string", ""),
	BAD("{\"type\":\"hello\",\"token\":\"\"}", SB_EINVAL, "token: must be 1-1024 characters", ""),
	BAD("{\"type\":\"hello\",\"token\":\"t\",\"last_seq\":-1}", SB_EINVAL,
	    "last_seq: must be an integer >= 0", ""),
	BAD("{\"type\":\"hello\",\"token\":\"t\",\"last_seq\":\"3\"}", SB_EINVAL,
	    "last_seq: must be an integer >= 0", ""),
	BAD("{\"type\":\"hello\",\"token\":\"t\",\"last_seq\":1.5}", SB_EINVAL,
	    "last_seq: must be an integer >= 0", ""),
	/* scan: id */
	BAD("{\"type\":\"scan\",\"code\":\"x\"}", SB_EINVAL, "id: missing", ""),
	BAD("{\"type\":\"scan\",\"id\":7,\"code\":\"x\"}", SB_EINVAL, "id: must be a string", ""),
	BAD("{\"type\":\"scan\",\"id\":\"\",\"code\":\"x\"}", SB_EINVAL, NULL, ""),
	BAD("{\"type\":\"scan\",\"id\":\"a b\",\"code\":\"x\"}", SB_EINVAL,
	    "id: must be 1-64 characters of A-Z a-z 0-9 _ -", ""),
	BAD("{\"type\":\"scan\",\"id\":\"a\\u0000b\",\"code\":\"x\"}", SB_EINVAL, NULL, ""),
	BAD("{\"type\":\"scan\",\"id\":\"0123456789012345678901234567890123456789012345678901234567890123X\","
	    "\"code\":\"x\"}", SB_EINVAL, NULL, ""),
	/* scan: format (id already known, so the error names it) */
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"x\",\"format\":\"ean13\"}", SB_EINVAL,
	    "format: unknown format", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"x\",\"format\":\"\"}", SB_EINVAL,
	    "format: unknown format", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"x\",\"format\":13}", SB_EINVAL,
	    "format: must be a string", "s1"),
	/* scan: code */
	BAD("{\"type\":\"scan\",\"id\":\"s1\"}", SB_EINVAL, "code: missing", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":null}", SB_EINVAL,
	    "code: must be a string", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":4006381333931}", SB_EINVAL,
	    "code: must be a string", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"\"}", SB_EINVAL,
	    "code: must be 1-512 code points of UTF-8 without control characters", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"a\\tb\"}", SB_EINVAL,
	    "code: must be 1-512 code points of UTF-8 without control characters", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"a\\u0085\"}", SB_EINVAL, NULL, "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"a\x7f\"}", SB_EINVAL, NULL, "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"\xC0\x80\"}", SB_EINVAL, NULL, "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"\xED\xA0\x80\"}", SB_EINVAL, NULL, "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"40063813\\u00003931\",\"format\":\"EAN_13\"}",
	    SB_EINVAL, "code: must be 1-512 code points of UTF-8 without control characters", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"ab\\u0000\"}", SB_EINVAL, NULL, "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"ab\\U0000\"}", SB_EPROTO, NULL, ""),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"\\u0000\"}", SB_EINVAL, NULL, "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"ab\0cd\"}", SB_EINVAL, NULL, "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"\\ud800\"}", SB_EINVAL, NULL, "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"a\\udc00b\"}", SB_EINVAL, NULL, "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"\\ud800\\u0041\"}", SB_EINVAL, NULL, "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"\\udc00\\ud800\"}", SB_EINVAL, NULL, "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"400638133393\",\"format\":\"EAN_13\"}",
	    SB_EINVAL, "code: wrong length or not only digits for EAN_13", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"4006381333932\",\"format\":\"EAN_13\"}",
	    SB_ECHECKDIGIT, "code: invalid check digit", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"00012345678906\",\"format\":\"ITF\"}",
	    SB_ECHECKDIGIT, "code: invalid check digit", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"21234565\",\"format\":\"UPC_E\"}",
	    SB_EINVAL, "code: wrong length or not only digits for UPC_E", "s1"),
	/* scan: scanned_at */
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"x\",\"scanned_at\":-5}", SB_EINVAL,
	    "scanned_at: must be an integer >= 0 or null", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"x\",\"scanned_at\":\"1\"}", SB_EINVAL,
	    "scanned_at: must be an integer >= 0 or null", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"x\",\"scanned_at\":1.25}", SB_EINVAL,
	    "scanned_at: must be an integer >= 0 or null", "s1"),
	BAD("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"x\",\"scanned_at\":false}", SB_EINVAL,
	    "scanned_at: must be an integer >= 0 or null", "s1"),
	/* ack */
	BAD("{\"type\":\"ack\"}", SB_EINVAL, "seq: missing", ""),
	BAD("{\"type\":\"ack\",\"seq\":null}", SB_EINVAL, "seq: must be an integer >= 0", ""),
	BAD("{\"type\":\"ack\",\"seq\":-1}", SB_EINVAL, "seq: must be an integer >= 0", ""),
	BAD("{\"type\":\"ack\",\"seq\":1.5}", SB_EINVAL, "seq: must be an integer >= 0", ""),
	BAD("{\"type\":\"ack\",\"seq\":\"1\"}", SB_EINVAL, "seq: must be an integer >= 0", ""),
	BAD("{\"type\":\"ack\",\"seq\":true}", SB_EINVAL, "seq: must be an integer >= 0", ""),
	BAD("{\"type\":\"ack\",\"seq\":[1]}", SB_EINVAL, "seq: must be an integer >= 0", ""),
	BAD("{\"type\":\"ack\",\"seq\":1e400}", SB_EINVAL, "seq: must be an integer >= 0", ""),
	BAD("{\"type\":\"ack\",\"seq\":-1e400}", SB_EINVAL, "seq: must be an integer >= 0", ""),
	BAD("{\"type\":\"ack\",\"seq\":9007199254740992}", SB_EINVAL,
	    "seq: must be an integer >= 0", ""),
	BAD("{\"type\":\"ack\",\"seq\":18446744073709551616}", SB_EINVAL,
	    "seq: must be an integer >= 0", ""),
	/* kick */
	BAD("{\"type\":\"kick\"}", SB_EINVAL, "scanner: missing", ""),
	BAD("{\"type\":\"kick\",\"scanner\":1}", SB_EINVAL, "scanner: must be a string", ""),
	BAD("{\"type\":\"kick\",\"scanner\":\"\"}", SB_EINVAL, "scanner: must be a scanner id", ""),
	BAD("{\"type\":\"kick\",\"scanner\":\"a/b\"}", SB_EINVAL, "scanner: must be a scanner id", ""),
	BAD("{\"type\":\"kick\",\"scanner\":"
	    "\"0123456789012345678901234567890123456789012345678901234567890123\"}",
	    SB_EINVAL, "scanner: must be a scanner id", ""),
};

static void test_decode_errors(void)
{
	for (size_t i = 0; i < N(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct sb_msg_error e;
		int rc = sb_msg_decode(c->json, c->len, DEPTH, &msg, &e);
		int failures = check_failures_;

		CHECK_EQ_INT(rc, c->rc);
		if (c->message != NULL)
			CHECK_STR(e.message, c->message);
		CHECK(e.message[0] != '\0');
		CHECK_STR(e.id, c->id);
		if (check_failures_ != failures)
			fprintf(stderr, "  in case %zu: %s (message \"%s\")\n", i, c->json, e.message);
		/* NULL err must be fine too */
		CHECK_EQ_INT(sb_msg_decode(c->json, c->len, DEPTH, &msg, NULL), c->rc);
	}
}

static void test_integer_limits(void)
{
	CHECK_EQ_INT(DEC("{\"type\":\"ack\",\"seq\":9007199254740991}", &msg, NULL), 0);
	CHECK_EQ_INT(msg.seq, 9007199254740991LL);
	CHECK_EQ_INT(DEC("{\"type\":\"ack\",\"seq\":1e2}", &msg, NULL), 0);
	CHECK_EQ_INT(msg.seq, 100);
	CHECK_EQ_INT(DEC("{\"type\":\"ack\",\"seq\":3.0}", &msg, NULL), 0);
	CHECK_EQ_INT(msg.seq, 3);
	CHECK_EQ_INT(DEC("{\"type\":\"ack\",\"seq\":-0}", &msg, NULL), 0);
	CHECK_EQ_INT(msg.seq, 0);
	CHECK_EQ_INT(DEC("{\"type\":\"ack\",\"seq\":0.0000001}", &msg, NULL), SB_EINVAL);
}

/* The NUL check must look at escapes, not at text that merely looks like one. */
static void test_nul_escape_lookalikes(void)
{
	struct sb_msg_error e;

	CHECK_EQ_INT(DEC("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"a\\\\u0000b\"}", &msg, &e), 0);
	CHECK_STR(msg.scan.code, "a\\u0000b");
	/* a NUL in a key does not let "code\u0000x" stand in for "code" */
	CHECK_EQ_INT(DEC("{\"type\":\"scan\",\"id\":\"s1\",\"code\\u0000x\":\"bad\","
			 "\"code\":\"4006381333931\",\"format\":\"EAN_13\"}", &msg, &e), 0);
	CHECK_STR(msg.scan.code, "4006381333931");
	/* a NUL in an ignored field is harmless */
	CHECK_EQ_INT(DEC("{\"type\":\"ping\",\"x\":\"\\u0000\"}", &msg, &e), 0);
	/* a truncated token would otherwise authenticate as its prefix */
	CHECK_EQ_INT(DEC("{\"type\":\"hello\",\"token\":\"abc\\u0000def\"}", &msg, &e), 0);
	CHECK_EQ_INT(strlen(msg.token), 7);
}

static void test_depth(void)
{
	static const char deep9[] = "{\"type\":\"ping\",\"x\":[[[[[[[[]]]]]]]]}";
	static const char deep8[] = "{\"type\":\"ping\",\"x\":[[[[[[[]]]]]]]}";
	struct sb_msg_error e;

	CHECK_EQ_INT(sb_json_depth_ok(deep8, strlen(deep8), 8), 1);
	CHECK_EQ_INT(sb_json_depth_ok(deep9, strlen(deep9), 8), 0);
	CHECK_EQ_INT(DEC(deep8, &msg, &e), 0);
	CHECK_EQ_INT(DEC(deep9, &msg, &e), SB_EPROTO);
	CHECK_STR(e.message, "JSON nested too deeply");
	CHECK_EQ_INT(sb_json_depth_ok("{}", 2, 1), 1);
	CHECK_EQ_INT(sb_json_depth_ok("{}", 2, 0), 0);
	CHECK_EQ_INT(sb_json_depth_ok("1", 1, 0), 1);
	CHECK_EQ_INT(sb_json_depth_ok("{\"a\":{}}", 8, 1), 0);
	CHECK_EQ_INT(sb_json_depth_ok("{\"a\":{},\"b\":[]}", 15, 2), 1);
	/* brackets inside strings, and escaped quotes, do not count */
	CHECK_EQ_INT(sb_json_depth_ok("{\"a\":\"[[[{{{\"}", 14, 1), 1);
	CHECK_EQ_INT(sb_json_depth_ok("{\"a\":\"\\\"[[[\"}", 13, 1), 1);
	CHECK_EQ_INT(sb_json_depth_ok("{\"a\":\"\\\\\",\"b\":[[]]}", 19, 2), 0);
	/* stray closers cannot bank depth for later */
	CHECK_EQ_INT(sb_json_depth_ok("]]]]{{", 6, 1), 0);
	/* length bounds the scan */
	CHECK_EQ_INT(sb_json_depth_ok("{}{{{{", 2, 1), 1);
	/* depth is checked before parsing: deep garbage is still "too deep" */
	CHECK_EQ_INT(sb_msg_decode("[[[[[[[[[[", 10, 8, &msg, &e), SB_EPROTO);
	CHECK_STR(e.message, "JSON nested too deeply");
	CHECK_EQ_INT(sb_msg_decode("{\"type\":\"ping\",\"x\":{}}", 22, 1, &msg, &e), SB_EPROTO);
	CHECK_EQ_INT(sb_msg_decode("{\"type\":\"ping\",\"x\":{}}", 22, 2, &msg, &e), 0);
}

/* Decoding from an exact-size heap buffer: ASan reports any read past len. */
static void test_not_nul_terminated(void)
{
	static const char text[] = "{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"73513537\",\"format\":\"EAN_8\"}";
	size_t len = sizeof text - 1;
	char *buf = malloc(len);

	memcpy(buf, text, len);
	CHECK_EQ_INT(sb_msg_decode(buf, len, DEPTH, &msg, NULL), 0);
	CHECK_STR(msg.scan.code, "73513537");
	/* every truncation fails cleanly, without reading past the end */
	for (size_t n = 0; n < len; n++) {
		char *part = malloc(n ? n : 1);
		memcpy(part, text, n);
		CHECK_EQ_INT(sb_msg_decode(part, n, DEPTH, &msg, NULL), SB_EPROTO);
		free(part);
	}
	free(buf);
	/* the byte after len is not part of the message */
	CHECK_EQ_INT(sb_msg_decode("{\"type\":\"ping\"}}", 15, DEPTH, &msg, NULL), 0);
	CHECK_EQ_INT(sb_msg_decode("{\"type\":\"ack\",\"seq\":12345", 23, DEPTH, &msg, NULL),
		     SB_EPROTO);
	CHECK_EQ_INT(sb_msg_decode("{\"type\":\"ack\",\"seq\":1}2", 22, DEPTH, &msg, NULL), 0);
	CHECK_EQ_INT(msg.seq, 1);
	CHECK_EQ_INT(sb_msg_decode(NULL, 0, DEPTH, &msg, NULL), SB_EPROTO);
}

/* A second decode into the same struct sees none of the first one's fields. */
static void test_struct_reuse(void)
{
	struct sb_msg_error e;

	CHECK_EQ_INT(DEC("{\"type\":\"scan\",\"id\":\"s1\",\"code\":\"4006381333931\","
			 "\"format\":\"EAN_13\",\"scanned_at\":5}", &msg, &e), 0);
	CHECK_EQ_INT(DEC("{\"type\":\"scan\",\"id\":\"s2\",\"code\":\"z\"}", &msg, &e), 0);
	CHECK_STR(msg.scan.id, "s2");
	CHECK_STR(msg.scan.code, "z");
	CHECK_EQ_INT(msg.scan.format, SB_FMT_UNKNOWN);
	CHECK_EQ_INT(msg.scan.scanned_at, -1);
	CHECK_EQ_INT(DEC("{\"type\":\"hello\",\"token\":\"t\",\"last_seq\":9}", &msg, &e), 0);
	CHECK_EQ_INT(DEC("{\"type\":\"hello\",\"token\":\"u\"}", &msg, &e), 0);
	CHECK_EQ_INT(msg.last_seq, 0);
	/* and the error of a failed decode does not linger */
	CHECK_EQ_INT(DEC("{\"type\":\"scan\",\"id\":\"s3\",\"code\":\"\"}", &msg, &e), SB_EINVAL);
	CHECK_STR(e.id, "s3");
	CHECK_EQ_INT(DEC("{\"type\":\"ping\"}", &msg, &e), 0);
	CHECK_STR(e.id, "");
	CHECK_STR(e.message, "");
}

/* ---- sb_scan_decode: a REST scan body ---- */

/* How the daemon read a REST scan before sb_scan_decode: the body, typed by
 * gluing {"type":"scan", onto it, through sb_msg_decode. The oracle for "exactly
 * the rules of the WS scan". A body not starting with '{' after JSON
 * whitespace counts as SB_EPROTO (REST answered both "must be a JSON object"). */
static int glued_decode(const char *body, size_t len, struct sb_client_msg *m,
			struct sb_msg_error *e)
{
	static const char prefix[] = "{\"type\":\"scan\",";
	size_t i = 0, n;
	char *text;
	int rc;

	while (i < len && body[i] && strchr(" \t\r\n", body[i]))
		i++;
	if (i == len || body[i] != '{')
		return SB_EPROTO;
	n = len - i - 1;
	text = malloc(sizeof(prefix) + n);
	memcpy(text, prefix, sizeof(prefix) - 1);
	memcpy(text + sizeof(prefix) - 1, body + i + 1, n);
	for (i = sizeof(prefix) - 1; i < sizeof(prefix) - 1 + n && strchr(" \t\r\n", text[i]) &&
	     text[i]; i++)
		;
	if (i < sizeof(prefix) - 1 + n && text[i] == '}')
		text[sizeof(prefix) - 2] = ' ';
	rc = sb_msg_decode(text, sizeof(prefix) - 1 + n, DEPTH, m, e);
	free(text);
	return rc;
}

/* sb_scan_decode(body) answers as the glued WS message did: same rc, and for
 * field errors the same message and id; on success the same scan. */
static void expect_same_as_glued(const char *body, size_t len)
{
	static struct sb_client_msg want;
	struct sb_msg_error we = { 0 }, ge = { 0 };
	struct sb_scan got;
	int wrc = glued_decode(body, len, &want, &we);
	int grc = sb_scan_decode(body, len, DEPTH, &got, &ge);
	int failures = check_failures_;

	CHECK_EQ_INT(grc, wrc);
	CHECK_EQ_INT(sb_scan_decode(body, len, DEPTH, &got, NULL), wrc);
	if (grc == wrc && grc != SB_EPROTO) {
		CHECK_STR(ge.message, we.message);
		CHECK_STR(ge.id, we.id);
	}
	if (grc == 0 && wrc == 0) {
		CHECK_STR(got.id, want.scan.id);
		CHECK_STR(got.code, want.scan.code);
		CHECK_EQ_INT(got.format, want.scan.format);
		CHECK_EQ_INT(got.scanned_at, want.scan.scanned_at);
	}
	if (grc)
		CHECK(ge.message[0] != '\0');
	if (check_failures_ != failures)
		fprintf(stderr, "  body: %.*s (rc %d, message \"%s\")\n", (int)len, body, grc,
			ge.message);
}

#define SAME(lit) expect_same_as_glued(lit, sizeof(lit) - 1)

static void test_scan_decode_like_ws(void)
{
	static const char prefix[] = "{\"type\":\"scan\",";
	char bare[512];

	SAME("{\"id\":\"s-1_A\",\"code\":\"4006381333931\",\"format\":\"EAN_13\","
	     "\"scanned_at\":1795000000000,\"extra\":[1,{}]}");
	SAME(" \r\n\t{ \"code\" : \"q\" , \"id\" : \"x\" }\n");
	SAME("{\"id\":\"x\",\"code\":\"caf\\u00e9 \\ud834\\udd1e\",\"format\":null,\"scanned_at\":null}");
	SAME("{\"type\":\"hello\",\"id\":\"x\",\"code\":\"q\"}"); /* a `type` is just ignored */
	SAME("{\"id\":\"x\",\"code\":\"q\",\"type\":\"scan\"}");
	SAME("{}");
	SAME("{ }");
	SAME("{\n\t}");
	SAME("");
	SAME("   ");
	SAME("[]");
	SAME("[{\"id\":\"x\",\"code\":\"q\"}]");
	SAME("\"x\"");
	SAME("42");
	SAME("null");
	SAME("{");
	SAME("{,\"id\":\"x\",\"code\":\"q\"}");
	SAME("{\"id\":\"x\",\"code\":\"q\",}");
	SAME("{\"id\":\"x\",\"code\":\"q\"}x");
	SAME("{\"id\":\"x\",\"code\":\"q\"}{}");
	SAME("\xEF\xBB\xBF{\"id\":\"x\",\"code\":\"q\"}");   /* a BOM: not JSON whitespace */
	SAME("\x0b{\"id\":\"x\",\"code\":\"q\"}");
	SAME("{\"id\":\"x\",\"code\":\"q\",\"d\":[[[[[[[[]]]]]]]]}");
	SAME("{\"id\":\"x\",\"code\":\"q\",\"d\":[[[[[[[]]]]]]]}");
	SAME("{\"id\":\"s1\",\"code\":\"ab\\u0000cd\"}");
	SAME("{\"id\":\"s1\",\"code\":\"ab\0cd\"}");
	SAME("{\"id\":\"s1\",\"code\\u0000x\":\"bad\",\"code\":\"4006381333931\",\"format\":\"EAN_13\"}");
	SAME("{\"id\":\"s1\",\"code\":\"\\ud800\"}");
	/* every scan case of the WS table, with its `type` taken off */
	for (size_t i = 0; i < N(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t n = c->len - (sizeof(prefix) - 1);

		if (c->len < sizeof(prefix) || memcmp(c->json, prefix, sizeof(prefix) - 1) ||
		    n + 1 >= sizeof(bare))
			continue;
		bare[0] = '{';
		memcpy(bare + 1, c->json + sizeof(prefix) - 1, n);
		expect_same_as_glued(bare, n + 1);
	}
}

static void test_scan_decode_edges(void)
{
	static const char text[] = "{\"id\":\"s1\",\"code\":\"73513537\",\"format\":\"EAN_8\"}";
	size_t len = sizeof text - 1;
	struct sb_msg_error e;
	struct sb_scan s;

	/* a NUL before the object is not whitespace (the old glue skipped it) */
	CHECK_EQ_INT(sb_scan_decode("\0{\"id\":\"x\",\"code\":\"q\"}", 23, DEPTH, &s, &e), SB_EPROTO);
	CHECK_STR(e.message, "message is not a JSON object");
	CHECK_EQ_INT(sb_scan_decode(NULL, 0, DEPTH, &s, &e), SB_EPROTO);
	CHECK_EQ_INT(sb_scan_decode("{\"id\":\"x\",\"code\":\"q\",\"d\":{}}", 27, 1, &s, &e), SB_EPROTO);
	CHECK_STR(e.message, "JSON nested too deeply");
	/* exact-size buffers: ASan reports any read past len */
	for (size_t n = 0; n <= len; n++) {
		char *part = malloc(n ? n : 1);

		memcpy(part, text, n);
		CHECK_EQ_INT(sb_scan_decode(part, n, DEPTH, &s, NULL), n == len ? 0 : SB_EPROTO);
		free(part);
	}
	CHECK_STR(s.code, "73513537");
	CHECK_EQ_INT(s.format, SB_FMT_EAN_8);
	/* a second decode sees none of the first one's fields, and no error lingers */
	CHECK_EQ_INT(sb_scan_decode("{\"id\":\"s3\",\"code\":\"\"}", 21, DEPTH, &s, &e), SB_EINVAL);
	CHECK_STR(e.id, "s3");
	CHECK_EQ_INT(sb_scan_decode("{\"id\":\"s2\",\"code\":\"z\"}", 22, DEPTH, &s, &e), 0);
	CHECK_EQ_INT(s.format, SB_FMT_UNKNOWN);
	CHECK_EQ_INT(s.scanned_at, -1);
	CHECK_EQ_INT(s.seq, 0);
	CHECK_STR(s.scanner, "");
	CHECK_STR(e.id, "");
	CHECK_STR(e.message, "");
}

/* Checks an encoder's output against the exact expected JSON, then frees it. */
static void expect_json(char *got, const char *want)
{
	CHECK_STR(got, want);
	free(got);
}

static void test_encode_welcome(void)
{
	static const struct sb_scanner_info sc[] = {
		{ "AAAAAAAAAAAAAAAA", "Till 1 \"front\"", true },
		{ "BBBBBBBBBBBBBBBB", "Caf\xC3\xA9", false },
	};

	expect_json(sb_msg_welcome("desktop", "S", 5, 3, 1795000000000LL, NULL, sc, 2),
		    "{\"type\":\"welcome\",\"role\":\"desktop\",\"session\":\"S\",\"last_seq\":5,"
		    "\"delivered_seq\":3,\"expires_at\":1795000000000,\"scanners\":["
		    "{\"id\":\"AAAAAAAAAAAAAAAA\",\"name\":\"Till 1 \\\"front\\\"\",\"connected\":true},"
		    "{\"id\":\"BBBBBBBBBBBBBBBB\",\"name\":\"Caf\xC3\xA9\",\"connected\":false}]}");
	expect_json(sb_msg_welcome("desktop", "S", 0, 0, 1, NULL, NULL, 0),
		    "{\"type\":\"welcome\",\"role\":\"desktop\",\"session\":\"S\",\"last_seq\":0,"
		    "\"delivered_seq\":0,\"expires_at\":1,\"scanners\":[]}");
	expect_json(sb_msg_welcome("desktop", "S", 0, 0, 1, NULL, sc, 0),
		    "{\"type\":\"welcome\",\"role\":\"desktop\",\"session\":\"S\",\"last_seq\":0,"
		    "\"delivered_seq\":0,\"expires_at\":1,\"scanners\":[]}");
	expect_json(sb_msg_welcome("scanner", "S", 9007199254740991LL, 7, 1795000000000LL,
				   "AAAAAAAAAAAAAAAA", NULL, 0),
		    "{\"type\":\"welcome\",\"role\":\"scanner\",\"session\":\"S\","
		    "\"last_seq\":9007199254740991,\"delivered_seq\":7,"
		    "\"expires_at\":1795000000000,\"scanner\":\"AAAAAAAAAAAAAAAA\"}");
}

static struct sb_scan sample_scan(void)
{
	struct sb_scan s;

	memset(&s, 0, sizeof s);
	s.seq = 9007199254740991LL;
	strcpy(s.id, "scan-1");
	strcpy(s.code, "A\"B\\C/\xE4\xB8\xAD");
	s.format = SB_FMT_QR_CODE;
	strcpy(s.scanner, "AAAAAAAAAAAAAAAA");
	s.scanned_at = 1795000000000LL;
	s.received_at = 1795000000123LL;
	return s;
}

#define SAMPLE_FIELDS "\"seq\":9007199254740991,\"id\":\"scan-1\"," \
	"\"code\":\"A\\\"B\\\\C/\xE4\xB8\xAD\",\"format\":\"QR_CODE\"," \
	"\"scanner\":\"AAAAAAAAAAAAAAAA\",\"scanned_at\":1795000000000,\"received_at\":1795000000123"

static void test_encode_scan(void)
{
	struct sb_scan s = sample_scan();
	cJSON *j;

	expect_json(sb_msg_scan(&s), "{\"type\":\"scan\"," SAMPLE_FIELDS "}");
	j = sb_scan_to_json(&s);
	CHECK(j != NULL);
	expect_json(cJSON_PrintUnformatted(j), "{" SAMPLE_FIELDS "}");
	cJSON_Delete(j);

	s.seq = 1;
	s.scanned_at = -1;
	s.format = SB_FMT_UNKNOWN;
	expect_json(sb_msg_scan(&s),
		    "{\"type\":\"scan\",\"seq\":1,\"id\":\"scan-1\",\"code\":\"A\\\"B\\\\C/\xE4\xB8\xAD\","
		    "\"format\":\"UNKNOWN\",\"scanner\":\"AAAAAAAAAAAAAAAA\",\"scanned_at\":null,"
		    "\"received_at\":1795000000123}");

	/* scan_to_json items can be embedded in a REST listing */
	cJSON *list = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(list, "scans");
	cJSON_AddItemToArray(arr, sb_scan_to_json(&s));
	expect_json(cJSON_PrintUnformatted(list),
		    "{\"scans\":[{\"seq\":1,\"id\":\"scan-1\",\"code\":\"A\\\"B\\\\C/\xE4\xB8\xAD\","
		    "\"format\":\"UNKNOWN\",\"scanner\":\"AAAAAAAAAAAAAAAA\",\"scanned_at\":null,"
		    "\"received_at\":1795000000123}]}");
	cJSON_Delete(list);
}

static void test_encode_small(void)
{
	expect_json(sb_msg_ack("s1", 12, false),
		    "{\"type\":\"ack\",\"id\":\"s1\",\"seq\":12,\"duplicate\":false}");
	expect_json(sb_msg_ack("s1", 9007199254740991LL, true),
		    "{\"type\":\"ack\",\"id\":\"s1\",\"seq\":9007199254740991,\"duplicate\":true}");
	expect_json(sb_msg_delivered("s1", 12), "{\"type\":\"delivered\",\"id\":\"s1\",\"seq\":12}");
	expect_json(sb_msg_scanner_joined("AAAAAAAAAAAAAAAA", "Phone"),
		    "{\"type\":\"scanner_joined\",\"scanner\":{\"id\":\"AAAAAAAAAAAAAAAA\",\"name\":\"Phone\"}}");
	expect_json(sb_msg_scanner_left("AAAAAAAAAAAAAAAA", "kicked"),
		    "{\"type\":\"scanner_left\",\"scanner\":\"AAAAAAAAAAAAAAAA\",\"reason\":\"kicked\"}");
	expect_json(sb_msg_pong(1795000000000LL), "{\"type\":\"pong\",\"t\":1795000000000}");
	expect_json(sb_msg_pong(0), "{\"type\":\"pong\",\"t\":0}");
	expect_json(sb_msg_error("invalid_check_digit", "code: invalid check digit", "s1"),
		    "{\"type\":\"error\",\"code\":\"invalid_check_digit\","
		    "\"message\":\"code: invalid check digit\",\"id\":\"s1\"}");
	expect_json(sb_msg_error("rate_limited", "slow \"down\"", NULL),
		    "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"slow \\\"down\\\"\"}");
	expect_json(sb_msg_error("invalid_request", "x", ""),
		    "{\"type\":\"error\",\"code\":\"invalid_request\",\"message\":\"x\"}");
	expect_json(sb_msg_session_expired(), "{\"type\":\"session_expired\"}");
	expect_json(sb_msg_session_ended("deleted"),
		    "{\"type\":\"session_ended\",\"reason\":\"deleted\"}");
}

/* What the encoder prints, the decoder side of a client can read back. */
static void test_encode_roundtrip_numbers(void)
{
	char *s = sb_msg_pong(9007199254740991LL);
	cJSON *j = cJSON_Parse(s);

	CHECK(j != NULL);
	CHECK(cJSON_GetObjectItem(j, "t")->valuedouble == 9007199254740991.0);
	cJSON_Delete(j);
	free(s);
}

/* The hand-printed scan/ack/delivered encoders must produce JSON that parses
 * back to exactly what went in, whatever the text holds. */
static void test_fast_encoders_round_trip(void)
{
	static const char *const codes[] = {
		"plain", "quote\"inside", "back\\slash", "\\\"", "caf\xc3\xa9 \xf0\x9d\x84\x9e",
		"line\nbreak\ttab\x01ctl", "/slash</script>", "",
	};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		struct sb_scan sc = { .seq = 9007199254740991LL, .format = SB_FMT_QR_CODE,
				      .scanned_at = (i % 2) ? -1 : 1795000000000LL,
				      .received_at = 1795000000001LL };
		char *text;
		cJSON *o;

		snprintf(sc.id, sizeof sc.id, "id-%zu", i);
		snprintf(sc.code, sizeof sc.code, "%s", codes[i]);
		snprintf(sc.scanner, sizeof sc.scanner, "sc_%zu", i);
		text = sb_msg_scan(&sc);
		CHECK(text != NULL);
		o = cJSON_Parse(text);
		CHECK(o != NULL);
		CHECK_STR(cJSON_GetObjectItem(o, "type")->valuestring, "scan");
		CHECK_STR(cJSON_GetObjectItem(o, "code")->valuestring, codes[i]);
		CHECK_STR(cJSON_GetObjectItem(o, "id")->valuestring, sc.id);
		CHECK_STR(cJSON_GetObjectItem(o, "scanner")->valuestring, sc.scanner);
		CHECK_STR(cJSON_GetObjectItem(o, "format")->valuestring, "QR_CODE");
		CHECK(strstr(text, "\"seq\":9007199254740991,") != NULL);
		CHECK((i % 2) ? cJSON_IsNull(cJSON_GetObjectItem(o, "scanned_at"))
			      : strstr(text, "\"scanned_at\":1795000000000,") != NULL);
		cJSON_Delete(o);
		free(text);
	}
	char long_code[SB_CODE_MAX_BYTES + 1];
	struct sb_scan big = { .seq = 1, .scanned_at = -1 };
	memset(long_code, '"', SB_CODE_MAX_BYTES);
	long_code[SB_CODE_MAX_BYTES] = '\0';
	memcpy(big.code, long_code, sizeof long_code);
	char *t = sb_msg_scan(&big);
	cJSON *o = cJSON_Parse(t);
	CHECK(o && !strcmp(cJSON_GetObjectItem(o, "code")->valuestring, long_code));
	cJSON_Delete(o);
	free(t);
	t = sb_msg_ack("a\"b", 7, true);
	CHECK_STR(t, "{\"type\":\"ack\",\"id\":\"a\\\"b\",\"seq\":7,\"duplicate\":true}");
	free(t);
	t = sb_msg_delivered("x", 8);
	CHECK_STR(t, "{\"type\":\"delivered\",\"id\":\"x\",\"seq\":8}");
	free(t);
}

TEST_MAIN(TEST(test_fast_encoders_round_trip), TEST(test_decode_hello), TEST(test_decode_hello_token_max), TEST(test_decode_scan),
	  TEST(test_decode_ack_kick_ping), TEST(test_decode_errors), TEST(test_integer_limits),
	  TEST(test_nul_escape_lookalikes), TEST(test_depth), TEST(test_not_nul_terminated),
	  TEST(test_struct_reuse), TEST(test_encode_welcome), TEST(test_encode_scan),
	  TEST(test_encode_small), TEST(test_encode_roundtrip_numbers),
	  TEST(test_scan_decode_like_ws), TEST(test_scan_decode_edges))
