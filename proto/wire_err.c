/* SPDX-License-Identifier: MIT */
/* The wire-error tables: codes with their HTTP status, and the answers to
 * project errors, for requests and for images. Rows are indexed by code or by
 * -err, so a lookup is an array access; a missing row is the table's default. */
#include "wire_err.h"

#include <stddef.h>

#include "sb_err.h"

static const struct {
	const char *name;
	int http_status;
} wire_codes[SB_WIRE_COUNT] = {
	[SB_WIRE_INVALID_REQUEST] = { "invalid_request", 400 },
	[SB_WIRE_INVALID_CHECK_DIGIT] = { "invalid_check_digit", 400 },
	[SB_WIRE_UNAUTHORIZED] = { "unauthorized", 401 },
	[SB_WIRE_FORBIDDEN] = { "forbidden", 403 },
	[SB_WIRE_NOT_FOUND] = { "not_found", 404 },
	[SB_WIRE_PAIR_CODE_INVALID] = { "pair_code_invalid", 404 },
	[SB_WIRE_SESSION_FULL] = { "session_full", 409 },
	[SB_WIRE_SESSION_EXPIRED] = { "session_expired", 410 },
	[SB_WIRE_TOO_LARGE] = { "too_large", 413 },
	[SB_WIRE_UNSUPPORTED_MEDIA_TYPE] = { "unsupported_media_type", 415 },
	[SB_WIRE_RATE_LIMITED] = { "rate_limited", 429 },
	[SB_WIRE_UNAVAILABLE] = { "unavailable", 503 },
	[SB_WIRE_BUSY] = { "busy", 503 },
	[SB_WIRE_METHOD_NOT_ALLOWED] = { "method_not_allowed", 405 },
	[SB_WIRE_PROTOCOL_VIOLATION] = { "protocol_violation", 0 },
};

const char *sb_wire_name(enum sb_wire code)
{
	return (unsigned)code < SB_WIRE_COUNT ? wire_codes[code].name : NULL;
}

int sb_wire_http_status(enum sb_wire code)
{
	return (unsigned)code < SB_WIRE_COUNT ? wire_codes[code].http_status : 0;
}

#define ERR_ROWS (1 - SB_ERR_LAST) /* -err for every sb_err, SB_OK's row unused */

/* Whether err may index a table of ERR_ROWS rows (by -err). */
static int err_row(int err)
{
	return err < 0 && err > -ERR_ROWS;
}

/* Hello closes: 4001 for a token that is no good, 4003 kicked, 4004 the
 * session is gone (PROTOCOL.md close codes); 1011 for what is not the
 * client's doing. */
static const struct sb_wire_refusal refusals[ERR_ROWS] = {
	[-SB_EAUTH] = { SB_WIRE_UNAUTHORIZED, 4001, "missing, invalid or revoked token" },
	[-SB_EGONE] = { SB_WIRE_UNAUTHORIZED, 4004, "the session was ended" },
	[-SB_EKICKED] = { SB_WIRE_UNAUTHORIZED, 4003,
			  "this scanner was removed from the session" },
	[-SB_EFORBIDDEN] = { SB_WIRE_FORBIDDEN, 4001,
			     "the token is not valid for this session or role" },
	[-SB_EEXPIRED] = { SB_WIRE_SESSION_EXPIRED, 4004, "the session has expired" },
	[-SB_ENOTFOUND] = { SB_WIRE_NOT_FOUND, 1011, "not found" },
	[-SB_EINVAL] = { SB_WIRE_INVALID_REQUEST, 1011, "invalid request" },
	[-SB_ECHECKDIGIT] = { SB_WIRE_INVALID_CHECK_DIGIT, 1011, "the check digit is wrong" },
};

static const struct sb_wire_refusal refusal_default = {
	SB_WIRE_UNAVAILABLE, 1011, "the request could not be stored; retry",
};

const struct sb_wire_refusal *sb_wire_refusal(int err)
{
	return err_row(err) && refusals[-err].message ? &refusals[-err] : &refusal_default;
}

#define TOO_BIG_TO_DECODE "the image is too large to decode: over max_image_megapixels," \
			  " max_image_side, 100 scans or the memory per image"

static const struct sb_wire_image_refusal image_refusals[ERR_ROWS] = {
	[-SB_EPROTO] = { SB_WIRE_UNSUPPORTED_MEDIA_TYPE, 0,
			 "the body is neither a JPEG nor a PNG image",
			 SB_WIRE_UNSUPPORTED_MEDIA_TYPE,
			 "the frame is neither a JPEG nor a PNG image" },
	[-SB_ETOOBIG] = { SB_WIRE_TOO_LARGE, 0, TOO_BIG_TO_DECODE,
			  SB_WIRE_INVALID_REQUEST, TOO_BIG_TO_DECODE },
	[-SB_EINVAL] = { SB_WIRE_INVALID_REQUEST, 0, "the image is corrupt or truncated",
			 SB_WIRE_INVALID_REQUEST, "the image is corrupt or truncated" },
};

static const struct sb_wire_image_refusal image_refusal_default = {
	SB_WIRE_BUSY, 1, "the decoder is busy; retry",
	SB_WIRE_BUSY, "the decoder is busy; the frame was not decoded",
};

const struct sb_wire_image_refusal *sb_wire_image_refusal(int err)
{
	return err_row(err) && image_refusals[-err].message ? &image_refusals[-err]
							     : &image_refusal_default;
}
