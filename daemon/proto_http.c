/* SPDX-License-Identifier: MIT */
/* The HTTP side of libwebsockets for /api/v1, /healthz and /metrics: collects
 * the request (method, URI, query, bearer token, body), hands it to rest.c,
 * holds the answer until the group commit (or a long-poll wake-up / timeout,
 * or the decode worker pool's result for POST /decode), then writes headers
 * and body from the WRITEABLE callback. Static pages are lws file mounts set up
 * in server.c. The decode pool's wake-ups (LWS_CALLBACK_EVENT_WAIT_CANCELLED,
 * which lws sends to every protocol) are handled here and only here. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "decode_pool.h"
#include "header_overflow.h"
#include "log.h"
#include "metrics.h"
#include "proto_http.h"
#include "origin.h"
#include "rest.h"
#include "sb_err.h"

enum phase { PH_IDLE, PH_BODY, PH_WAITING, PH_HEADERS, PH_BODY_OUT };

/* lws's guard while an image is at the decoder (its own idle timeout is 10 s);
 * a full queue of photos takes a few seconds at most. */
#define DECODE_TIMEOUT_S 60

struct http_pss {
	struct waiter commit_w;     /* answer held until the batch commits */
	struct rest_poll poll;      /* parked long-poll */
	lws_sorted_usec_list_t poll_sul;
	struct lws *wsi;
	struct decode_job *job;     /* POST /decode at the worker pool */
	enum phase phase;
	struct rest_req rq;
	struct rest_resp rs;
	char token[SB_TOKEN_MAX + 1];
	char ip[64];
	char *body;
	size_t body_len, body_max;
	bool body_too_big, poll_armed, is_decode, preflight;
	char cors_origin[256];      /* an allowed browser origin to echo, or "" */
};

static const struct sb_config *H_cfg;
static char H_phone_page[PATH_MAX + 64];

void proto_http_set_config(const struct sb_config *cfg) { H_cfg = cfg; }

void proto_http_set_web_root(const char *dir)
{
	snprintf(H_phone_page, sizeof(H_phone_page), "%s/phone/index.html", dir);
}

static void request_write(struct http_pss *pss);

/* GET /p (and /p/): the phone page. Returns the lws verdict (-1: close). */
static int serve_phone_page(struct http_pss *pss)
{
	int n;

	if (pss->rq.method != HM_GET && pss->rq.method != HM_HEAD) {
		rest_error(&pss->rs, 405, "method_not_allowed", "this path only takes GET");
		snprintf(pss->rs.allow, sizeof(pss->rs.allow), "GET");
		request_write(pss);
		return 0;
	}
	n = lws_serve_http_file(pss->wsi, H_phone_page, "text/html", NULL, 0);
	if (n < 0 || (n > 0 && lws_http_transaction_completed(pss->wsi)))
		return -1;
	return 0;
}

/* ---- reading the request ---- */

static const struct { enum lws_token_indexes tok; enum http_method m; } uri_tokens[] = {
	{ WSI_TOKEN_GET_URI, HM_GET }, { WSI_TOKEN_POST_URI, HM_POST },
	{ WSI_TOKEN_DELETE_URI, HM_DELETE }, { WSI_TOKEN_PUT_URI, HM_PUT },
	{ WSI_TOKEN_PATCH_URI, HM_PATCH }, { WSI_TOKEN_OPTIONS_URI, HM_OPTIONS },
	{ WSI_TOKEN_HEAD_URI, HM_HEAD },
};

/* The method is whichever *_URI token has a value (lws does not export the
 * method itself in 4.1). */
static int read_method_and_path(struct lws *wsi, struct rest_req *rq)
{
	for (size_t i = 0; i < sizeof(uri_tokens) / sizeof(uri_tokens[0]); i++) {
		if (lws_hdr_total_length(wsi, uri_tokens[i].tok) <= 0)
			continue;
		rq->method = uri_tokens[i].m;
		if (lws_hdr_copy(wsi, rq->path, sizeof(rq->path), uri_tokens[i].tok) < 0)
			return SB_ETOOBIG;
		return 0;
	}
	return SB_EINVAL;
}

static void read_query(struct lws *wsi, struct rest_req *rq)
{
	size_t used = 0;
	char frag[256];

	rq->query[0] = '\0';
	for (int n = 0; lws_hdr_copy_fragment(wsi, frag, sizeof(frag),
					      WSI_TOKEN_HTTP_URI_ARGS, n) > 0; n++) {
		int w = snprintf(rq->query + used, sizeof(rq->query) - used, "%s%s",
				 used ? "&" : "", frag);

		if (w < 0 || (size_t)w >= sizeof(rq->query) - used)
			break;
		used += (size_t)w;
	}
}

static void read_headers(struct http_pss *pss)
{
	struct lws *wsi = pss->wsi;
	char auth[SB_TOKEN_MAX + 32] = "";
	const char *tok;

	pss->rq.token = NULL;
	if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
	    (tok = http_bearer_token(auth)) && strlen(tok) <= SB_TOKEN_MAX) {
		snprintf(pss->token, sizeof(pss->token), "%s", tok);
		pss->rq.token = pss->token;
	}
	pss->rq.ctype[0] = '\0';
	lws_hdr_copy(wsi, pss->rq.ctype, sizeof(pss->rq.ctype), WSI_TOKEN_HTTP_CONTENT_TYPE);
	lws_get_peer_simple(wsi, pss->ip, sizeof(pss->ip));
	pss->rq.ip = pss->ip;
}

static long content_length(struct lws *wsi)
{
	char v[32];

	if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return 0;
	return strtol(v, NULL, 10);
}

/* ---- answering ---- */

static void request_write(struct http_pss *pss)
{
	pss->phase = PH_HEADERS;
	lws_callback_on_writable(pss->wsi);
}

static void commit_done(struct waiter *w, int rc)
{
	struct http_pss *pss = lws_container_of(w, struct http_pss, commit_w);

	if (rc && pss->rs.status < 400)
		rest_error(&pss->rs, 503, "unavailable", "the change could not be stored; retry");
	request_write(pss);
}

/* Answers now, or after the open batch commits: an answer must never describe
 * data that is not yet durable. */
static void answer(struct http_pss *pss)
{
	pss->phase = PH_WAITING;
	if (session_batch_open()) {
		pss->commit_w.done = commit_done;
		pss->commit_w.sess = NULL;
		session_wait_commit(&pss->commit_w);
		return;
	}
	request_write(pss);
}

static void poll_done(struct waiter *w, int rc)
{
	struct http_pss *pss = lws_container_of(w, struct http_pss, poll.w);

	if (pss->poll_armed) {
		lws_sul_cancel(&pss->poll_sul);
		pss->poll_armed = false;
	}
	rest_poll_finish(&pss->poll, rc, &pss->rs);
	answer(pss);
}

static void poll_timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct http_pss *pss = lws_container_of(sul, struct http_pss, poll_sul);

	pss->poll_armed = false;
	session_waiter_cancel(&pss->poll.w);
	rest_poll_finish(&pss->poll, 0, &pss->rs);
	answer(pss);
}

static void decoded_cb(void *owner, const struct decode_outcome *res)
{
	struct http_pss *pss = owner;

	pss->job = NULL;
	rest_decode_finish(res, &pss->rs);
	answer(pss);
}

/* POST /decode: the body goes to the worker pool; the answer waits for it. */
static void submit_decode(struct http_pss *pss)
{
	int rc = decode_pool_submit((uint8_t *)pss->body, pss->body_len, decoded_cb, pss, &pss->job);

	if (rc) {
		struct decode_outcome res = { .rc = rc };

		metrics_inc(MC_FRAMES_REFUSED);
		rest_decode_finish(&res, &pss->rs);
		answer(pss);
		return;
	}
	pss->body = NULL; /* the pool owns the image now */
	pss->body_len = 0;
	pss->phase = PH_WAITING;
	lws_set_timeout(pss->wsi, PENDING_TIMEOUT_USER_OK, DECODE_TIMEOUT_S);
}

static void dispatch(struct http_pss *pss)
{
	enum rest_result rr;

	pss->rq.body = pss->body;
	pss->rq.body_len = pss->body_len;
	if (pss->body_too_big) {
		if (pss->is_decode)
			metrics_inc(MC_FRAMES_REFUSED);
		rest_error(&pss->rs, 413, "too_large", "the request body is too large");
		answer(pss);
		return;
	}
	memset(&pss->poll, 0, sizeof(pss->poll));
	pss->poll.w.done = poll_done;
	rr = rest_dispatch(&pss->rq, &pss->rs, &pss->poll);
	if (rr == REST_DECODE) {
		submit_decode(pss);
		return;
	}
	if (rr == REST_PARKED) {
		pss->phase = PH_WAITING;
		pss->poll_armed = true;
		/* lws's own idle timeout (timeout_secs, 10 s) would drop a longer
		 * wait; our timer answers it, lws only guards against a stuck one */
		lws_set_timeout(pss->wsi, PENDING_TIMEOUT_USER_OK, pss->poll.wait_ms / 1000 + 10);
		lws_sul_schedule(lws_get_context(pss->wsi), 0, &pss->poll_sul, poll_timeout_cb,
				 (lws_usec_t)pss->poll.wait_ms * LWS_US_PER_MS);
		return;
	}
	answer(pss);
}

static int add_header(struct http_pss *pss, const char *name, const char *value,
		      unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(pss->wsi, (const unsigned char *)name,
					   (const unsigned char *)value, (int)strlen(value), p, end);
}

/* CORS for a POS page on another allowed origin (the embeddable client). */
static int add_cors_headers(struct http_pss *pss, unsigned char **p, unsigned char *end)
{
	if (!pss->cors_origin[0])
		return 0;
	if (add_header(pss, "access-control-allow-origin:", pss->cors_origin, p, end) ||
	    add_header(pss, "vary:", "Origin", p, end) ||
	    add_header(pss, "access-control-expose-headers:", "Retry-After", p, end))
		return -1;
	if (!pss->preflight)
		return 0;
	return add_header(pss, "access-control-allow-methods:", "GET, POST, DELETE", p, end) ||
	       add_header(pss, "access-control-allow-headers:", "Authorization, Content-Type", p, end) ||
	       add_header(pss, "access-control-max-age:", "600", p, end);
}

static int write_headers(struct http_pss *pss)
{
	unsigned char buf[LWS_PRE + 1024], *start = &buf[LWS_PRE], *p = start,
		      *end = &buf[sizeof(buf) - 1];
	char num[16];

	if (lws_add_http_common_headers(pss->wsi, (unsigned)pss->rs.status,
					pss->rs.ctype ? pss->rs.ctype : "application/json",
					pss->rs.len, &p, end) ||
	    lws_add_http_header_by_name(pss->wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end))
		return -1;
	if (pss->rs.retry_after > 0) {
		int n = snprintf(num, sizeof(num), "%d", pss->rs.retry_after);

		if (lws_add_http_header_by_name(pss->wsi, (const unsigned char *)"retry-after:",
						(unsigned char *)num, n, &p, end))
			return -1;
	}
	if (pss->rs.allow[0] &&
	    lws_add_http_header_by_name(pss->wsi, (const unsigned char *)"allow:",
					(unsigned char *)pss->rs.allow, (int)strlen(pss->rs.allow), &p, end))
		return -1;
	if (add_cors_headers(pss, &p, end))
		return -1;
	return lws_finalize_write_http_header(pss->wsi, start, &p, end) ? -1 : 0;
}

static int write_body(struct http_pss *pss)
{
	unsigned char *buf = malloc(LWS_PRE + pss->rs.len + 1);
	int n;

	if (!buf)
		return -1;
	memcpy(buf + LWS_PRE, pss->rs.body, pss->rs.len);
	n = lws_write(pss->wsi, buf + LWS_PRE, pss->rs.len, LWS_WRITE_HTTP_FINAL);
	free(buf);
	return n < (int)pss->rs.len ? -1 : 0;
}

static void reset(struct http_pss *pss)
{
	rest_resp_clear(&pss->rs);
	free(pss->body);
	pss->body = NULL;
	pss->body_len = 0;
	pss->body_too_big = false;
	pss->phase = PH_IDLE;
}

static int on_writeable(struct http_pss *pss)
{
	if (pss->phase == PH_HEADERS) {
		if (write_headers(pss))
			return -1;
		if (pss->rs.len) {
			pss->phase = PH_BODY_OUT;
			lws_callback_on_writable(pss->wsi);
			return 0;
		}
	} else if (pss->phase == PH_BODY_OUT) {
		if (write_body(pss))
			return -1;
	} else {
		return 0;
	}
	reset(pss);
	return lws_http_transaction_completed(pss->wsi) ? -1 : 0;
}

/* The connection went away: take the request out of every queue. */
static void drop(struct http_pss *pss)
{
	if (pss->poll_armed) {
		lws_sul_cancel(&pss->poll_sul);
		pss->poll_armed = false;
		session_waiter_cancel(&pss->poll.w);
		rest_poll_finish(&pss->poll, 0, &pss->rs);
	}
	session_waiter_cancel(&pss->commit_w);
	decode_pool_cancel(pss->job);
	pss->job = NULL;
	reset(pss);
}

/* Browser requests from a page on another origin: only the appliance's own
 * origin and allowed_origins may use the API (a random web page must not
 * open sessions or pair on the store's LAN through a cashier's browser).
 * Answers 403 or the CORS preflight itself and returns true; false = go on. */
static bool cors_gate(struct http_pss *pss)
{
	char origin[256] = "", host[256] = "";

	pss->cors_origin[0] = '\0';
	pss->preflight = false;
	if (strncmp(pss->rq.path, "/api/v1/", 8) ||
	    lws_hdr_copy(pss->wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0)
		return false;
	lws_hdr_copy(pss->wsi, host, sizeof(host), WSI_TOKEN_HOST);
	if (!origin_allowed(origin, host, H_cfg->public_url, H_cfg->allowed_origins)) {
		rest_error(&pss->rs, 403, "forbidden",
			   "pages from this origin may not use the API (see allowed_origins)");
		answer(pss);
		return true;
	}
	snprintf(pss->cors_origin, sizeof(pss->cors_origin), "%s", origin);
	if (pss->rq.method != HM_OPTIONS)
		return false;
	pss->preflight = true;
	pss->rs.status = 204;
	answer(pss);
	return true;
}

static int on_http(struct http_pss *pss, struct lws *wsi)
{
	long len;

	reset(pss);
	memset(&pss->rq, 0, sizeof(pss->rq));
	memset(&pss->commit_w, 0, sizeof(pss->commit_w));
	pss->wsi = wsi;
	if (read_method_and_path(wsi, &pss->rq)) {
		rest_error(&pss->rs, 414, "invalid_request", "the request line is too long");
		answer(pss);
		return 0;
	}
	if (!strcmp(pss->rq.path, "/p") || !strcmp(pss->rq.path, "/p/"))
		return serve_phone_page(pss);
	if (cors_gate(pss))
		return 0;
	read_query(wsi, &pss->rq);
	read_headers(pss);
	len = content_length(wsi);
	pss->is_decode = !strcmp(pss->rq.path, "/api/v1/decode");
	pss->body_max = pss->is_decode ? (size_t)H_cfg->max_image_bytes : REST_MAX_BODY;
	if (len > 0) {
		pss->phase = PH_BODY;
		pss->body_too_big = (size_t)len > pss->body_max;
		return 0;
	}
	dispatch(pss);
	return 0;
}

static void on_body(struct http_pss *pss, const void *in, size_t len)
{
	char *p;

	if (pss->body_too_big || pss->body_len + len > pss->body_max) {
		pss->body_too_big = true;
		return;
	}
	if (!(p = realloc(pss->body, pss->body_len + len + 1))) {
		pss->body_too_big = true;
		return;
	}
	pss->body = p;
	memcpy(p + pss->body_len, in, len);
	pss->body_len += len;
	p[pss->body_len] = '\0';
}

/* An upgrade request: refused here with a status the client can read (lws
 * 4.1 documents this callback, returning > 0, for a refusal answered by hand;
 * writing it at FILTER_PROTOCOL_CONNECTION, as before, is not a path lws
 * expects, and once left its loop spinning in a zero-length recv()). */
static int confirm_upgrade(struct lws *wsi, const char *to)
{
	int verdict;

	if (!to || strcmp(to, "websocket"))
		return -1;
	verdict = proto_ws_upgrade_verdict(wsi);
	if (verdict == HTTP_STATUS_FORBIDDEN) {
		log_info("websocket from a disallowed origin refused", NULL);
		lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed");
		return 1;
	}
	return verdict;
}

int proto_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			void *in, size_t len)
{
	struct http_pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(pss, wsi);
	case LWS_CALLBACK_HTTP_BODY:
		if (pss->phase == PH_BODY)
			on_body(pss, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss->phase == PH_BODY)
			dispatch(pss);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return on_writeable(pss);
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		header_overflow_track(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		header_overflow_untrack(wsi);
		return confirm_upgrade(wsi, in);
	case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
	case LWS_CALLBACK_WSI_DESTROY:
		header_overflow_untrack(wsi);
		break;
	case LWS_CALLBACK_CLOSED_HTTP:
		header_overflow_untrack(wsi);
		/* fall through */
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (pss)
			drop(pss);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return -1; /* a WebSocket upgrade without our subprotocol */
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		decode_pool_deliver(); /* decode results; every protocol gets this, we alone act */
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

size_t proto_http_pss_size(void) { return sizeof(struct http_pss); }
