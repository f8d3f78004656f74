/* SPDX-License-Identifier: MIT */
/* REST handlers for /api/v1, /healthz and /metrics: a request (method, path,
 * query, bearer token, body) in, a response (status, JSON) out, with the session
 * layer in between. The lws plumbing lives in lws_http.c. */
#ifndef SB_REST_H
#define SB_REST_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "decode_pool.h"
#include "rest_route.h"
#include "session.h"
#include "store.h"
#include "wire_err.h"

#define REST_MAX_BODY (64 * 1024)

struct rest_req {
	enum http_method method;
	char path[512];
	char query[512];
	const char *token;          /* bearer token or NULL */
	char ctype[128];
	const char *body;
	size_t body_len;
	const char *ip;
	char host[264];             /* Host header as sent (already checked), or "" */
};

struct rest_resp {
	int status;
	char *body;                 /* malloc'd; freed by rest_resp_clear */
	size_t len;
	const char *ctype;
	int retry_after;            /* > 0: Retry-After header */
	char allow[64];             /* non-empty: Allow header */
	char *location;             /* malloc'd or NULL: Location header (redirects) */
	const char *disposition;    /* static or NULL: Content-Disposition header */
};

/* A parked long-poll; the transport embeds it and arms its own timeout. */
struct rest_poll {
	struct waiter w;
	int64_t after;
	int limit;
	int wait_ms;                /* how long to park, set by rest_dispatch */
};

enum rest_result { REST_REPLY = 0, REST_PARKED = 1, REST_DECODE = 2, REST_LOCKED = 3 };

void rest_init(const struct sb_config *cfg, struct store *st);

/* Handles one request. REST_REPLY: *rs is the answer (the transport still waits
 * for the commit when batch_open()). REST_PARKED: lp->w is parked on
 * the session; the transport calls rest_poll_finish when lp->w.done fires or its
 * own timer of lp->wait_ms ends (after session_waiter_cancel). REST_DECODE: see
 * rest_decode_finish. REST_LOCKED: its write met the database's write lock;
 * nothing was changed: queue the request with batch_wait_lock and dispatch it
 * again (after rest_resp_clear) when that waiter is done with rc 0, else answer
 * 503 `unavailable`. */
enum rest_result rest_dispatch(const struct rest_req *rq, struct rest_resp *rs,
			       struct rest_poll *lp);
/* Called when a request's headers are in and before its body is read: true
 * (and *rs is the answer) when the request is refused whatever its body would
 * be, so that an unauthorised upload is never buffered (POST /decode without
 * a scanner token or with a non-image Content-Type). */
bool rest_refuse_before_body(const struct rest_req *rq, struct rest_resp *rs);
/* REST_DECODE (POST /decode, authorized, image type, non-empty body): the
 * transport hands the body to decode_pool_submit() and answers with
 * rest_decode_finish() when the job is done — or at once, with only res->rc
 * set, when the submit failed. */
void rest_decode_finish(const struct decode_outcome *res, struct rest_resp *rs);
/* rc: 0 (scans arrived, or timeout), SB_EGONE / SB_EEXPIRED (session ended). */
void rest_poll_finish(struct rest_poll *lp, int rc, struct rest_resp *rs);
/* Replaces *rs by an error answer with code's HTTP status (wire_err.h), and
 * counts it in /metrics. */
void rest_error(struct rest_resp *rs, enum sb_wire code, const char *message);
/* The same with another status, for the few answers the contract gives one
 * of their own (411, 414: invalid_request). */
void rest_error_status(struct rest_resp *rs, int status, enum sb_wire code, const char *message);
void rest_resp_clear(struct rest_resp *rs);

#endif
