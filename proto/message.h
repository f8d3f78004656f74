/* SPDX-License-Identifier: MIT */
/* The scanbridge.v1 wire messages: decoding and validating client messages,
 * encoding server messages. Pure functions over buffers (cJSON inside), shared by
 * the daemon, scanner-sim and firmware; no sockets, no clocks. */
#ifndef SB_MESSAGE_H
#define SB_MESSAGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "barcode.h"

#define SB_TOKEN_MAX 1024      /* longest token accepted */
#define SB_ID_MAX 64           /* session / scanner id / pair code buffer size incl NUL */
#define SB_NAME_MAX_CP 64      /* scanner name code points */
#define SB_NAME_MAX_BYTES (SB_NAME_MAX_CP * 4)

enum sb_msg_type {
	SB_MSG_HELLO, SB_MSG_SCAN, SB_MSG_ACK, SB_MSG_KICK, SB_MSG_PING,
};

/* One stored/relayed scan as the protocol sees it. */
struct sb_scan {
	int64_t seq;
	char id[SB_SCAN_ID_MAX + 1];
	char code[SB_CODE_MAX_BYTES + 1];
	enum sb_format format;
	char scanner[SB_ID_MAX];
	int64_t scanned_at;     /* ms; -1 when the client gave none (wire: null) */
	int64_t received_at;    /* ms */
};

/* A decoded client message. Fields are valid according to type. */
struct sb_client_msg {
	enum sb_msg_type type;
	char token[SB_TOKEN_MAX + 1];           /* hello */
	int64_t last_seq;                       /* hello (desktop), default 0 */
	struct sb_scan scan;                    /* scan: id, code, format, scanned_at */
	int64_t seq;                            /* ack */
	char scanner[SB_ID_MAX];                /* kick */
};

/* Why a message was refused; message is for humans, id is set (non-empty) when a
 * scan's id could be read so the error can name it. */
struct sb_msg_error {
	char message[128];
	char id[SB_SCAN_ID_MAX + 1];
};

/* Decodes one text frame. Returns:
 *   0              *out filled;
 *   SB_EPROTO      not JSON, not an object, missing/unknown type, nested deeper
 *                  than max_depth (close 4000);
 *   SB_EINVAL      a field is missing, of the wrong type, too long or invalid
 *                  (error invalid_request);
 *   SB_ECHECKDIGIT a scan's check digit is wrong (error invalid_check_digit);
 *   SB_ENOMEM      out of memory (the frame is copied before parsing).
 * err (may be NULL) is filled on failure. Never reads past buf[len]; buf need
 * not be NUL-terminated. Optional fields given as null count as absent. A NUL
 * (raw or \u0000) or lone surrogate escape inside a string is treated as a
 * control character: the field holding it is invalid (SB_EINVAL). */
int sb_msg_decode(const char *buf, size_t len, int max_depth,
		  struct sb_client_msg *out, struct sb_msg_error *err);

/* Decodes a bare scan object {id, code, format?, scanned_at?} (the body of a
 * REST scan) by exactly the rules of a WS `scan`: same fields, same
 * validation, same err->message. The client's own bytes are parsed, so
 * nothing it sent (a \u0000, a lone surrogate) is hidden from the checks; other
 * members, `type` included, are ignored. Returns:
 *   0              *out filled (seq, scanner, received_at zero);
 *   SB_EPROTO      not JSON, not an object (the first byte after JSON
 *                  whitespace must be '{'), nested deeper than max_depth;
 *   SB_EINVAL, SB_ECHECKDIGIT, SB_ENOMEM  as sb_msg_decode.
 * err (may be NULL) is filled on failure. Never reads past buf[len]. */
int sb_scan_decode(const char *buf, size_t len, int max_depth, struct sb_scan *out,
		   struct sb_msg_error *err);

/* Returns 1 if the JSON text nests objects/arrays no deeper than max_depth (a
 * scan outside strings, so it costs nothing to run before a full parse). */
int sb_json_depth_ok(const char *buf, size_t len, int max_depth);

/* Server message encoders. Each returns a malloc'd NUL-terminated JSON string
 * (caller frees with free()) or NULL when out of memory. Integers print exactly
 * (no exponent) up to INT64_MAX; NULL strings print as null. sb_msg_welcome adds
 * `scanner` when scanner is non-NULL, and `scanners` when scanners is non-NULL
 * or role is "desktop" (an empty array then). */
struct sb_scanner_info { const char *id; const char *name; bool connected; };

char *sb_msg_welcome(const char *role, const char *session, int64_t last_seq,
		     int64_t delivered_seq, int64_t expires_at, const char *scanner,
		     const struct sb_scanner_info *scanners, size_t n_scanners);
char *sb_msg_scan(const struct sb_scan *s);
char *sb_msg_ack(const char *id, int64_t seq, bool duplicate);
char *sb_msg_delivered(const char *id, int64_t seq);
char *sb_msg_scanner_joined(const char *id, const char *name);
char *sb_msg_scanner_left(const char *id, const char *reason);
char *sb_msg_pong(int64_t t);
/* The session was renewed at its maximum age: this connection's new token
 * (same session, role and scanner) and the new end of the session's life. */
char *sb_msg_renewed(const char *token, int64_t expires_at);
char *sb_msg_error(const char *code, const char *message, const char *id /* NULL ok */);
char *sb_msg_session_expired(void);
char *sb_msg_session_ended(const char *reason);

/* The JSON object of a scan as used by both WS `scan` and REST listings, without
 * `type` (cJSON *, returned as void * so this header needs no cJSON include;
 * caller frees with cJSON_Delete or by adding it to a tree; NULL when out of
 * memory). Integer fields are cJSON raw items (exact decimal text), so print
 * the tree rather than reading valuedouble back. */
void *sb_scan_to_json(const struct sb_scan *s);

/* `decoded` {codes:[{code, format}], ms}: the answer to a binary image frame.
 * codes[i] and formats[i] for i < n (n may be 0: nothing found); ms is the
 * decode time in milliseconds (printed as a JSON number). */
char *sb_msg_decoded(const char *const *codes, const enum sb_format *formats, size_t n,
		     double ms);

#endif
