/* SPDX-License-Identifier: MIT */
/* The client side of scanbridge.v1: encoders for the messages a desktop or a
 * scanner sends (hello, scan, ack, kick, ping) and a decoder of server messages
 * into one struct. Pure functions over caller buffers (the decoder uses cJSON),
 * shared by scanner-sim and the firmware; no sockets, no clocks, no allocation
 * in the encoders so they suit a small device. */
#ifndef SB_CLIENT_H
#define SB_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "message.h"

/* ---- encoders ---------------------------------------------------------------
 * Each writes one NUL-terminated JSON object into buf[0..cap) and returns its
 * length (without the NUL), or SB_ETOOBIG when it does not fit, or SB_EINVAL for
 * a NULL/empty required string. Strings are JSON-escaped (control characters as
 * \u00XX); nothing is validated beyond that: the server is the judge. */

/* {"type":"hello","token":T} and, when last_seq >= 0, "last_seq":N (desktop). */
int sb_cmsg_hello(char *buf, size_t cap, const char *token, int64_t last_seq);

/* {"type":"scan","id":I,"code":C,"format":F} plus "scanned_at":N when
 * scanned_at >= 0 (omitted otherwise: the server then stores null). */
int sb_cmsg_scan(char *buf, size_t cap, const char *id, const char *code,
		 enum sb_format format, int64_t scanned_at);

/* {"type":"ack","seq":N}: every scan with seq <= N is delivered (cumulative). */
int sb_cmsg_ack(char *buf, size_t cap, int64_t seq);

/* {"type":"kick","scanner":ID} */
int sb_cmsg_kick(char *buf, size_t cap, const char *scanner);

/* {"type":"ping"} */
int sb_cmsg_ping(char *buf, size_t cap);

/* ---- decoder ---------------------------------------------------------------- */

enum sb_srv_type {
	SB_SRV_UNKNOWN = 0,      /* a type this decoder does not know: ignore it */
	SB_SRV_WELCOME, SB_SRV_SCAN, SB_SRV_ACK, SB_SRV_DELIVERED,
	SB_SRV_SCANNER_JOINED, SB_SRV_SCANNER_LEFT, SB_SRV_DECODED, SB_SRV_PONG,
	SB_SRV_ERROR, SB_SRV_SESSION_EXPIRED, SB_SRV_SESSION_ENDED,
};

/* One decoded server message. Only the fields of its type are set; the rest
 * are zero / empty (integers default to 0, scan.scanned_at to -1). Strings too
 * long for their buffer are truncated (NUL-terminated). */
struct sb_server_msg {
	enum sb_srv_type type;
	/* welcome */
	char role[16];                 /* "desktop" | "scanner" */
	char session[SB_ID_MAX];
	int64_t last_seq, delivered_seq, expires_at;
	char scanner[SB_ID_MAX];       /* welcome (scanner), scanner_joined.scanner.id,
	                                  scanner_left.scanner */
	char name[SB_NAME_MAX_BYTES + 1]; /* scanner_joined.scanner.name */
	/* scan (to desktops): every field of the stored scan */
	struct sb_scan scan;
	/* ack, delivered (id and seq); error (id, when it answers a scan) */
	char id[SB_SCAN_ID_MAX + 1];
	int64_t seq;
	bool duplicate;
	/* error */
	char code[32];
	char message[256];
	/* scanner_left, session_ended */
	char reason[32];
	/* pong.t, decoded.ms */
	int64_t t;
	int64_t ms;
	int n_codes;                   /* decoded: number of codes listed */
};

/* Decodes one server text frame (buf need not be NUL-terminated). Returns 0 with
 * *out filled (type SB_SRV_UNKNOWN for an object with an unknown string type),
 * SB_EPROTO when the text is not a JSON object with a string `type`, SB_EINVAL
 * when a field required by a known type is missing or of the wrong type. cJSON
 * does not tell a failed allocation from bad syntax: both give SB_EPROTO. */
int sb_srv_decode(const char *buf, size_t len, struct sb_server_msg *out);

/* Wire name of a server message type ("welcome"; "unknown" for SB_SRV_UNKNOWN). */
const char *sb_srv_type_name(enum sb_srv_type t);

#endif
