/* SPDX-License-Identifier: MIT */
/* REST routing and query parsing: pure functions from a method and a path to a
 * route with its captured ids, so they are unit-tested and fuzzed apart from
 * libwebsockets. */
#ifndef SB_REST_ROUTE_H
#define SB_REST_ROUTE_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "message.h"

enum http_method { HM_GET, HM_POST, HM_DELETE, HM_PUT, HM_PATCH, HM_OPTIONS, HM_HEAD, HM_OTHER };

enum rest_route {
	RR_SESSIONS_CREATE,   /* POST   /api/v1/sessions */
	RR_SESSION_GET,       /* GET    /api/v1/sessions/{sid} */
	RR_SESSION_DELETE,    /* DELETE /api/v1/sessions/{sid} */
	RR_PAIR_CODE,         /* POST   /api/v1/sessions/{sid}/pair-code */
	RR_QR_SVG,            /* GET    /api/v1/sessions/{sid}/qr.svg */
	RR_PAIR,              /* POST   /api/v1/pair */
	RR_SCAN_POST,         /* POST   /api/v1/sessions/{sid}/scans */
	RR_SCANS_LIST,        /* GET    /api/v1/sessions/{sid}/scans */
	RR_ACK,               /* POST   /api/v1/sessions/{sid}/ack */
	RR_SCAN_STATUS,       /* GET    /api/v1/sessions/{sid}/scans/{id} */
	RR_DECODE,            /* POST   /api/v1/decode */
	RR_SCANS_CSV,         /* GET    /api/v1/sessions/{sid}/scans.csv */
	RR_SCANNER_DELETE,    /* DELETE /api/v1/sessions/{sid}/scanners/{id} */
	RR_HEALTHZ,           /* GET    /healthz */
	RR_METRICS,           /* GET    /metrics */
	RR_COUNT
};

struct route_match {
	enum rest_route route;
	char sid[SB_ID_MAX];           /* {sid}: 1..63 chars of [A-Za-z0-9_-] */
	char id[SB_SCAN_ID_MAX + 1];   /* {id}: a scan id (scan_id_valid) */
	char allow[64];                /* on SB_EPROTO: "GET, DELETE" etc. */
};

/* Parses method names ("GET" ...); anything else HM_OTHER. */
enum http_method http_method_parse(const char *name);
const char *http_method_name(enum http_method m);

/* Matches path (no query string; must start with '/'; a trailing slash is not
 * accepted) against the table. HEAD is treated as GET.
 * Returns 0 and fills m; SB_ENOTFOUND when no route has that path (or a captured
 * segment has bad characters / length); SB_EPROTO when the path exists but not
 * for that method (m->allow lists the methods, ", "-separated, table order). */
int rest_route_match(enum http_method method, const char *path, struct route_match *m);

/* Query strings ("after=5&wait=10", without '?'; may be NULL or empty).
 * query_get_int: finds name (exact key match, first occurrence), parses a
 * decimal integer (optional leading '-', no spaces, no '+', <= 18 digits, no
 * trailing chars) into *out. Returns 0 if found and valid, SB_ENOTFOUND if the
 * key is absent, SB_EINVAL if present but not an integer (including empty). */
int query_get_int(const char *query, const char *name, int64_t *out);

/* Extracts the token from an Authorization header value "Bearer <token>"
 * (scheme case-insensitive, one or more spaces). Returns a pointer into value or
 * NULL when absent/malformed. */
const char *http_bearer_token(const char *value);

#endif
