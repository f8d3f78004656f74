/* SPDX-License-Identifier: MIT */
/* Unit tests for proto/fastjson.c, held to the cJSON path it replaces on the
 * hot path: the hand-printed `scan`, `ack` and `delivered` must be byte for
 * byte what a cJSON tree prints for the same fields, and the fast decoder
 * must give exactly what the cJSON decoder gives for every frame it takes.
 * Both are checked over many generated inputs: control characters, quotes,
 * backslashes, DEL, UTF-8 and invalid bytes, integer extremes. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "fastjson.h"
#include "message.h"
#include "sb_err.h"

#define ROUNDS 20000

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* A string of n random bytes (never NUL) drawn mostly from the tricky ones. */
static void rnd_str(char *dst, size_t n)
{
	static const char tricky[] = "\"\\/\b\f\n\r\t\x01\x1f\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff\x80 aZ09_-";

	for (size_t i = 0; i < n; i++) {
		uint32_t r = rnd();

		dst[i] = r % 3 ? tricky[(r >> 8) % (sizeof tricky - 1)] : (char)(1 + (r >> 8) % 255);
	}
	dst[n] = '\0';
}

static int64_t rnd_int(void)
{
	static const int64_t edge[] = { 0, 1, -1, 9, 10, 99, 100, INT64_MAX, INT64_MIN,
					9007199254740991LL, 1000000000000000LL };
	uint32_t r = rnd();

	if (r % 4 == 0)
		return edge[(r >> 8) % (sizeof edge / sizeof edge[0])];
	return (int64_t)(((uint64_t)rnd() << 32) | rnd()) >> (rnd() % 64);
}

/* ---- encoders against cJSON ---- */

static void add_int(cJSON *o, const char *key, int64_t v)
{
	char num[24];

	snprintf(num, sizeof num, "%" PRId64, v);
	cJSON_AddRawToObject(o, key, num);
}

static char *ref_print(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	return s;
}

static char *ref_scan(const struct sb_scan *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", "scan");
	add_int(o, "seq", s->seq);
	cJSON_AddStringToObject(o, "id", s->id);
	cJSON_AddStringToObject(o, "code", s->code);
	cJSON_AddStringToObject(o, "format", barcode_format_name(s->format));
	cJSON_AddStringToObject(o, "scanner", s->scanner);
	if (s->scanned_at >= 0)
		add_int(o, "scanned_at", s->scanned_at);
	else
		cJSON_AddNullToObject(o, "scanned_at");
	add_int(o, "received_at", s->received_at);
	return ref_print(o);
}

static char *ref_ack(const char *id, int64_t seq, bool dup)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", "ack");
	cJSON_AddStringToObject(o, "id", id);
	add_int(o, "seq", seq);
	cJSON_AddBoolToObject(o, "duplicate", dup);
	return ref_print(o);
}

static char *ref_delivered(const char *id, int64_t seq)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", "delivered");
	cJSON_AddStringToObject(o, "id", id);
	add_int(o, "seq", seq);
	return ref_print(o);
}

static int same(char *got, char *want)
{
	int ok = got && want && strcmp(got, want) == 0;

	if (!ok)
		fprintf(stderr, "got  %s\nwant %s\n", got ? got : "(null)", want ? want : "(null)");
	free(got);
	free(want);
	return ok;
}

/* A malloc'd copy of a literal, for same(). */
static char *copy(const char *s)
{
	char *d = malloc(strlen(s) + 1);

	return d ? strcpy(d, s) : NULL;
}

static struct sb_scan scan; /* large: keep it off the stack */

static void test_encoders_match_cjson(void)
{
	int bad = 0;

	for (int i = 0; i < ROUNDS && bad < 5; i++) {
		bool dup = rnd() & 1;

		memset(&scan, 0, sizeof scan);
		scan.seq = rnd_int();
		rnd_str(scan.id, rnd() % (sizeof scan.id));
		rnd_str(scan.code, rnd() % 2 ? rnd() % 40 : rnd() % (sizeof scan.code));
		rnd_str(scan.scanner, rnd() % (sizeof scan.scanner));
		scan.format = (enum sb_format)(rnd() % (SB_FMT_UNKNOWN + 1));
		scan.scanned_at = rnd() % 3 ? rnd_int() : -1;
		scan.received_at = rnd_int();
		bad += !same(sb_msg_scan(&scan), ref_scan(&scan));
		bad += !same(sb_msg_ack(scan.id, scan.seq, dup), ref_ack(scan.id, scan.seq, dup));
		bad += !same(sb_msg_delivered(scan.code, scan.seq), ref_delivered(scan.code, scan.seq));
	}
	CHECK_EQ_INT(bad, 0);
}

static void test_encoders_fixed(void)
{
	CHECK(same(sb_msg_ack("a\"b\\c\x01\x7f", INT64_MIN, true),
		   copy("{\"type\":\"ack\",\"id\":\"a\\\"b\\\\c\\u0001\x7f\",\"seq\":-9223372036854775808,"
			  "\"duplicate\":true}")));
	CHECK(same(sb_msg_delivered("", 0), copy("{\"type\":\"delivered\",\"id\":\"\",\"seq\":0}")));
	CHECK(sb_msg_ack(NULL, 1, false) == NULL);
	CHECK(sb_msg_delivered(NULL, 1) == NULL);
}

/* ---- the fast decoder against the cJSON decoder ---- */

static struct sb_client_msg fast, tree;

static int taken;

/* Decodes buf both ways; when the fast path takes it, the tree must agree. */
static int agree(const char *buf, size_t len)
{
	struct sb_msg_error e;
	int rc;

	memset(&fast, 0, sizeof fast);
	fast.scan.scanned_at = -1;
	fast.scan.format = SB_FMT_UNKNOWN;
	if (!sb_fast_decode(buf, len, &fast))
		return 1;
	taken++;
	rc = sb_msg_decode_tree(buf, len, 8, &tree, &e);
	if (rc != 0 || memcmp(&fast, &tree, sizeof fast) != 0) {
		fprintf(stderr, "disagree (tree rc %d) on: %.*s\n", rc, (int)len, buf);
		return 0;
	}
	return 1;
}

static int fast_takes(const char *s)
{
	memset(&fast, 0, sizeof fast);
	fast.scan.scanned_at = -1;
	fast.scan.format = SB_FMT_UNKNOWN;
	return sb_fast_decode(s, strlen(s), &fast);
}

static void test_fast_takes_canonical(void)
{
	CHECK(fast_takes("{\"type\":\"ack\",\"seq\":42}") && fast.seq == 42);
	CHECK(fast_takes("{\"type\":\"ping\"}") && fast.type == SB_MSG_PING);
	CHECK(fast_takes("{\"type\":\"scan\",\"id\":\"s-1\",\"code\":\"4006381333931\","
			 "\"format\":\"EAN_13\",\"scanned_at\":1700000000000}"));
	CHECK_STR(fast.scan.code, "4006381333931");
	CHECK_EQ_INT(fast.scan.scanned_at, 1700000000000LL);
	CHECK(fast_takes("{\"type\":\"scan\",\"id\":\"x\",\"code\":\"caf\xc3\xa9\",\"format\":\"QR_CODE\"}"));
	CHECK_EQ_INT(fast.scan.scanned_at, -1);
	/* left to cJSON: spaces, escapes, leading zeros, 16 digits, other orders,
	 * invalid fields (the tree names them) */
	CHECK(!fast_takes("{\"type\":\"ack\",\"seq\": 42}"));
	CHECK(!fast_takes("{\"type\":\"ack\",\"seq\":042}"));
	CHECK(!fast_takes("{\"type\":\"ack\",\"seq\":1234567890123456}"));
	CHECK(!fast_takes("{\"type\":\"ack\",\"seq\":1.5}"));
	CHECK(!fast_takes("{\"type\":\"ack\",\"seq\":1}\n"));
	CHECK(!fast_takes("{\"seq\":1,\"type\":\"ack\"}"));
	CHECK(!fast_takes("{\"type\":\"scan\",\"id\":\"a\",\"code\":\"a\\\"b\",\"format\":\"UNKNOWN\"}"));
	CHECK(!fast_takes("{\"type\":\"scan\",\"id\":\"a b\",\"code\":\"ab\",\"format\":\"UNKNOWN\"}"));
	CHECK(!fast_takes("{\"type\":\"scan\",\"id\":\"a\",\"code\":\"4006381333932\",\"format\":\"EAN_13\"}"));
	CHECK(!fast_takes("{\"type\":\"scan\",\"id\":\"a\",\"code\":\"x\x7fy\",\"format\":\"UNKNOWN\"}"));
	CHECK(!fast_takes("{\"type\":\"scan\",\"id\":\"a\",\"code\":\"x\",\"format\":\"NOPE\"}"));
	CHECK(!fast_takes("{\"type\":\"scan\",\"id\":\"a\",\"code\":\"x\",\"format\":\"UNKNOWN\",\"scanned_at\":null}"));
}

/* Generated frames: canonical ones with random fields, then mutated. */
static size_t gen_frame(char *buf, size_t cap)
{
	static const char *const fmts[] = { "EAN_13", "UNKNOWN", "QR_CODE", "CODE_128", "ITF", "X" };
	char id[80], code[64];
	int n;

	rnd_str(id, rnd() % 3 ? 0 : 1 + rnd() % 70);
	if (!id[0])
		snprintf(id, sizeof id, "s%u", rnd() % 1000);
	rnd_str(code, rnd() % 2 ? 1 + rnd() % 20 : 0);
	if (!code[0])
		snprintf(code, sizeof code, "%u", rnd());
	switch (rnd() % 4) {
	case 0:
		n = snprintf(buf, cap, "{\"type\":\"ack\",\"seq\":%" PRId64 "}", rnd_int());
		break;
	case 1:
		n = snprintf(buf, cap, "{\"type\":\"ping\"}");
		break;
	default:
		n = snprintf(buf, cap, "{\"type\":\"scan\",\"id\":\"%s\",\"code\":\"%s\",\"format\":\"%s\"%s%" PRId64 "}",
			     id, code, fmts[rnd() % 6], rnd() % 2 ? ",\"scanned_at\":" : "}", rnd_int());
		if (buf[n - 1] == '}' && strstr(buf, "}") != buf + n - 1) /* no scanned_at: cut */
			n = (int)(strstr(buf, "}") - buf) + 1;
	}
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

static void test_fast_agrees_with_tree(void)
{
	char buf[512];
	int bad = 0;

	for (int i = 0; i < ROUNDS * 5 && bad < 5; i++) {
		size_t len = gen_frame(buf, sizeof buf);

		for (int m = rnd() % 3; m > 0 && len; m--) /* a few byte flips */
			buf[rnd() % len] = (char)rnd();
		bad += !agree(buf, len);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(taken > ROUNDS / 2); /* the generator does reach the fast path */
}

TEST_MAIN(TEST(test_encoders_match_cjson), TEST(test_encoders_fixed),
	  TEST(test_fast_takes_canonical), TEST(test_fast_agrees_with_tree))
