/* SPDX-License-Identifier: MIT */
/* The wire's error codes (PROTOCOL.md: WebSocket `error`.code, REST
 * error.code) and how each project error (sb_err.h) is answered with them:
 * the one place a code's text, its HTTP status, a hello's close code and the
 * message for humans are written down. The daemon answers from these tables;
 * clients may name the codes from here instead of spelling them again. */
#ifndef SB_WIRE_ERR_H
#define SB_WIRE_ERR_H

/* Ordered as /metrics lists them (scanbridge_errors_total). */
enum sb_wire {
	SB_WIRE_INVALID_REQUEST,
	SB_WIRE_INVALID_CHECK_DIGIT,
	SB_WIRE_UNAUTHORIZED,
	SB_WIRE_FORBIDDEN,
	SB_WIRE_NOT_FOUND,
	SB_WIRE_PAIR_CODE_INVALID,
	SB_WIRE_SESSION_FULL,
	SB_WIRE_SESSION_EXPIRED,
	SB_WIRE_TOO_LARGE,
	SB_WIRE_UNSUPPORTED_MEDIA_TYPE,
	SB_WIRE_RATE_LIMITED,
	SB_WIRE_UNAVAILABLE,
	SB_WIRE_BUSY,
	SB_WIRE_METHOD_NOT_ALLOWED,
	SB_WIRE_N_ERRORS,           /* the codes above are the contract's error codes */
	/* Not an error code: a protocol violation closes the socket 4000 instead
	 * of answering `error`; named so that it can be counted all the same. */
	SB_WIRE_PROTOCOL_VIOLATION = SB_WIRE_N_ERRORS,
	SB_WIRE_COUNT
};

/* The code's wire text ("invalid_request"); NULL for a value outside the enum. */
const char *sb_wire_name(enum sb_wire code);
/* The HTTP status REST answers the code with (PROTOCOL.md); 0 for
 * SB_WIRE_PROTOCOL_VIOLATION and values outside the enum. */
int sb_wire_http_status(enum sb_wire code);

/* How a request that failed with an sb_err is refused: REST answers
 * sb_wire_http_status(code) with code and message; a WebSocket hello is
 * closed with ws_close (and sb_strerror(err) as the reason). */
struct sb_wire_refusal {
	enum sb_wire code;
	int ws_close;
	const char *message;
};

/* The refusal for err (an sb_err from authorising or serving a request). An
 * err without a row of its own (SB_EIO, SB_EFULL, SB_ENOMEM, ...) is a
 * failure to store: `unavailable`, close 1011. Never NULL. */
const struct sb_wire_refusal *sb_wire_refusal(int err);

/* How an image that was not decoded is answered. REST (POST /decode) and
 * WebSocket (a binary frame) differ: a WebSocket has no `too_large` error,
 * and only REST tells the client when to retry. */
struct sb_wire_image_refusal {
	enum sb_wire code;          /* REST error code */
	int retry_after;            /* REST Retry-After seconds; 0: none */
	const char *message;        /* REST message */
	enum sb_wire ws_code;       /* WebSocket `error` code */
	const char *ws_message;     /* WebSocket message */
};

/* The answer to an image whose decode ended with err (non-zero): SB_EPROTO
 * (neither JPEG nor PNG), SB_ETOOBIG (over the size limits), SB_EINVAL
 * (corrupt or truncated); anything else (SB_ELIMIT: queue full, SB_ENOMEM,
 * SB_EGONE: shutting down) is `busy`, worth trying again later. Never NULL. */
const struct sb_wire_image_refusal *sb_wire_image_refusal(int err);

#endif
