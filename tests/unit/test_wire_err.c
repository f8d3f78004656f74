/* SPDX-License-Identifier: MIT */
/* Unit tests for proto/wire_err.c: every wire code's text and HTTP status as
 * PROTOCOL.md fixes them, and the answer to every project error, for requests
 * (REST status and body, a hello's close code) and for images (REST and WS). */
#include <ctype.h>
#include <string.h>

#include "check.h"
#include "sb_err.h"
#include "wire_err.h"

static void test_codes_as_the_contract_says(void)
{
	static const struct { enum sb_wire code; const char *name; int status; } want[] = {
		{ SB_WIRE_INVALID_REQUEST, "invalid_request", 400 },
		{ SB_WIRE_INVALID_CHECK_DIGIT, "invalid_check_digit", 400 },
		{ SB_WIRE_UNAUTHORIZED, "unauthorized", 401 },
		{ SB_WIRE_FORBIDDEN, "forbidden", 403 },
		{ SB_WIRE_NOT_FOUND, "not_found", 404 },
		{ SB_WIRE_PAIR_CODE_INVALID, "pair_code_invalid", 404 },
		{ SB_WIRE_SESSION_FULL, "session_full", 409 },
		{ SB_WIRE_SESSION_EXPIRED, "session_expired", 410 },
		{ SB_WIRE_TOO_LARGE, "too_large", 413 },
		{ SB_WIRE_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415 },
		{ SB_WIRE_RATE_LIMITED, "rate_limited", 429 },
		{ SB_WIRE_UNAVAILABLE, "unavailable", 503 },
		{ SB_WIRE_BUSY, "busy", 503 },
		{ SB_WIRE_METHOD_NOT_ALLOWED, "method_not_allowed", 405 },
		{ SB_WIRE_PROTOCOL_VIOLATION, "protocol_violation", 0 },
	};

	CHECK_EQ_INT(sizeof want / sizeof want[0], SB_WIRE_COUNT);
	CHECK_EQ_INT(SB_WIRE_N_ERRORS, 14);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		CHECK_STR(sb_wire_name(want[i].code), want[i].name);
		CHECK_EQ_INT(sb_wire_http_status(want[i].code), want[i].status);
	}
	CHECK(sb_wire_name(SB_WIRE_COUNT) == NULL);
	CHECK(sb_wire_name((enum sb_wire)-1) == NULL);
	CHECK_EQ_INT(sb_wire_http_status(SB_WIRE_COUNT), 0);
}

/* snake_case and each once: clients match on the text. */
static void test_names_distinct(void)
{
	for (int i = 0; i < SB_WIRE_COUNT; i++) {
		const char *a = sb_wire_name((enum sb_wire)i);

		CHECK(a != NULL && a[0]);
		for (const char *p = a; p && *p; p++)
			CHECK(islower((unsigned char)*p) || *p == '_');
		for (int j = 0; j < i; j++)
			CHECK(strcmp(a, sb_wire_name((enum sb_wire)j)) != 0);
	}
}

static void expect_refusal(int err, enum sb_wire code, int status, int ws_close,
			   const char *message)
{
	const struct sb_wire_refusal *r = sb_wire_refusal(err); /* never NULL */

	CHECK_EQ_INT(r->code, code);
	CHECK_EQ_INT(sb_wire_http_status(r->code), status);
	CHECK_EQ_INT(r->ws_close, ws_close);
	CHECK_STR(r->message, message);
}

static void test_request_refusals(void)
{
	/* everything else failed to store: send it again */
	static const int others[] = { SB_ENOMEM, SB_EEXIST, SB_EIO, SB_EFULL, SB_ESCHEMA,
				      SB_ELIMIT, SB_EPROTO, SB_ETOOBIG, SB_ECONFIG, SB_OK,
				      -18, -1000, 1, 4001 };

	expect_refusal(SB_EAUTH, SB_WIRE_UNAUTHORIZED, 401, 4001,
		       "missing, invalid or revoked token");
	expect_refusal(SB_EGONE, SB_WIRE_UNAUTHORIZED, 401, 4004, "the session was ended");
	expect_refusal(SB_EKICKED, SB_WIRE_UNAUTHORIZED, 401, 4003,
		       "this scanner was removed from the session");
	expect_refusal(SB_EFORBIDDEN, SB_WIRE_FORBIDDEN, 403, 4001,
		       "the token is not valid for this session or role");
	expect_refusal(SB_EEXPIRED, SB_WIRE_SESSION_EXPIRED, 410, 4004, "the session has expired");
	expect_refusal(SB_ENOTFOUND, SB_WIRE_NOT_FOUND, 404, 1011, "not found");
	expect_refusal(SB_EINVAL, SB_WIRE_INVALID_REQUEST, 400, 1011, "invalid request");
	expect_refusal(SB_ECHECKDIGIT, SB_WIRE_INVALID_CHECK_DIGIT, 400, 1011,
		       "the check digit is wrong");
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		expect_refusal(others[i], SB_WIRE_UNAVAILABLE, 503, 1011,
			       "the request could not be stored; retry");
}

static void expect_image(int err, enum sb_wire code, int status, int retry,
			 const char *message, enum sb_wire ws_code, const char *ws_message)
{
	const struct sb_wire_image_refusal *r = sb_wire_image_refusal(err); /* never NULL */

	CHECK_EQ_INT(r->code, code);
	CHECK_EQ_INT(sb_wire_http_status(r->code), status);
	CHECK_EQ_INT(r->retry_after, retry);
	CHECK_STR(r->message, message);
	CHECK_EQ_INT(r->ws_code, ws_code);
	CHECK_STR(r->ws_message, ws_message);
}

static void test_image_refusals(void)
{
	static const char too_big[] = "the image is too large to decode: over "
		"max_image_megapixels, max_image_side, 100 scans or the memory per image";
	static const int busy[] = { SB_ELIMIT, SB_ENOMEM, SB_EGONE, SB_EIO, -18, 7 };

	expect_image(SB_EPROTO, SB_WIRE_UNSUPPORTED_MEDIA_TYPE, 415, 0,
		     "the body is neither a JPEG nor a PNG image",
		     SB_WIRE_UNSUPPORTED_MEDIA_TYPE, "the frame is neither a JPEG nor a PNG image");
	/* a WebSocket has no too_large error: 1009 is for frames over max_image_bytes */
	expect_image(SB_ETOOBIG, SB_WIRE_TOO_LARGE, 413, 0, too_big,
		     SB_WIRE_INVALID_REQUEST, too_big);
	expect_image(SB_EINVAL, SB_WIRE_INVALID_REQUEST, 400, 0, "the image is corrupt or truncated",
		     SB_WIRE_INVALID_REQUEST, "the image is corrupt or truncated");
	for (size_t i = 0; i < sizeof busy / sizeof busy[0]; i++)
		expect_image(busy[i], SB_WIRE_BUSY, 503, 1, "the decoder is busy; retry",
			     SB_WIRE_BUSY, "the decoder is busy; the frame was not decoded");
}

/* The tables cover every sb_err: none lies beyond SB_ERR_LAST. */
static void test_err_last(void)
{
	CHECK_STR(sb_strerror(SB_ERR_LAST - 1), "unknown error");
	CHECK(strcmp(sb_strerror(SB_ERR_LAST), "unknown error") != 0);
}

TEST_MAIN(TEST(test_err_last), TEST(test_codes_as_the_contract_says), TEST(test_names_distinct),
	  TEST(test_request_refusals), TEST(test_image_refusals))
