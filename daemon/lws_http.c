/* SPDX-License-Identifier: MIT */
/* The HTTP side of libwebsockets for /api/v1, /healthz and /metrics: collects
 * the request (method, URI, query, bearer token, body), hands it to rest.c,
 * holds the answer until the group commit (or a long-poll wake-up / timeout,
 * or the decode worker pool's result for POST /decode), then writes headers
 * and body from the WRITEABLE callback. Static pages are lws file mounts set up
 * in server.c. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libwebsockets.h>

#include "batch.h"
#include "client_ip.h"
#include "decode_pool.h"
#include "hostcheck.h"
#include "log.h"
#include "metrics.h"
#include "lws_http.h"
#include "lws_req.h"
#include "lws_ws.h"
#include "origin.h"
#include "rest.h"
#include "sb_err.h"
#include "trust.h"
#include "upload_budget.h"

enum phase { PH_IDLE, PH_BODY, PH_WAITING };

/* Room for the status line and headers of an answer (the security headers
 * included), before its body. */
#define HEADERS_MAX 2048

/* lws's guard while an image is at the decoder (its own idle timeout is 10 s);
 * a full queue of photos takes a few seconds at most. */
#define DECODE_TIMEOUT_S 60

struct http_pss {
	struct batch_waiter commit_w;     /* answer held until the batch commits */
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
	size_t budget_taken;        /* upload_budget bytes this request holds */
	bool body_too_big, poll_armed, is_decode, preflight;
	bool rx_paused;             /* the request is whole: read no more until answered */
	bool closing;               /* answered: the connection closes once it is out */
	char cors_origin[256];      /* an allowed browser origin to echo, or "" */
};

static const struct sb_config *H_cfg;
static char H_web_root[PATH_MAX + 64];
static char H_phone_page[PATH_MAX + 64];
static struct lws_vhost *H_plain_vhost; /* TLS on: the redirecting listener */

void lws_http_set_config(const struct sb_config *cfg) { H_cfg = cfg; }
void lws_http_set_plain_vhost(struct lws_vhost *vh) { H_plain_vhost = vh; }

/* The plain-HTTP listener of a TLS box: it redirects all but /trust, /healthz. */
static bool on_plain_listener(struct lws *wsi)
{
	return H_plain_vhost && lws_get_vhost(wsi) == H_plain_vhost;
}

void lws_http_set_web_root(const char *dir)
{
	snprintf(H_web_root, sizeof(H_web_root), "%s", dir);
	snprintf(H_phone_page, sizeof(H_phone_page), "%s/phone/index.html", dir);
}

static void request_write(struct http_pss *pss);
static void read_query(struct lws *wsi, struct rest_req *rq);
static void dispatch(struct http_pss *pss);
static int answer_early(struct http_pss *pss);

/* One request per connection: every answer says `connection: close` and the
 * connection closes once the answer is out. lws 4.1 cannot be trusted with a
 * second request on a connection that already holds it (HTTP pipelining):
 * it parsed a POST pipelined behind another POST from the wrong offset (the
 * body read as "PO"), answered a request pipelined behind a static file with
 * another's 403, and, after a POST, called BODY_COMPLETION over and over
 * without consuming anything (the loop spun at 100% CPU and ignored SIGTERM).
 * HTTP/1.1 allows answering the first request and closing.
 *
 * While a request is answered its input is paused, so that lws does not parse
 * what follows it (nor spin on it) meanwhile. */
static void pause_rx(struct http_pss *pss)
{
	if (pss->rx_paused)
		return;
	lws_rx_flow_control(pss->wsi, 0);
	pss->rx_paused = true;
}

static void resume_rx(struct http_pss *pss)
{
	if (!pss->rx_paused)
		return;
	lws_rx_flow_control(pss->wsi, 1);
	pss->rx_paused = false;
}

/* A page file served by us, not by a file mount: GET or HEAD only. Returns
 * the lws verdict (-1: close). */
static int serve_file(struct http_pss *pss, const char *path, const char *mime)
{
	static const char close_header[] = "connection: close\x0d\x0a";
	struct stat st;
	int n;

	if (pss->rq.method != HM_GET && pss->rq.method != HM_HEAD) {
		rest_error(&pss->rs, SB_WIRE_METHOD_NOT_ALLOWED, "this path only takes GET");
		snprintf(pss->rs.allow, sizeof(pss->rs.allow), "GET");
		request_write(pss);
		return 0;
	}
	/* A HEAD is answered here: lws_serve_http_file() would complete it
	 * itself (freeing this pss) and keep the connection, then parse what a
	 * client pipelined behind it from the wrong offset. */
	if (pss->rq.method == HM_HEAD && !stat(path, &st)) {
		pss->rs.status = 200;
		pss->rs.ctype = mime;
		pss->rs.len = (size_t)st.st_size; /* no body is written for HEAD */
		request_write(pss);
		return 0;
	}
	resume_rx(pss); /* lws serves the file and reads on as it likes */
	n = lws_serve_http_file(pss->wsi, path, mime, close_header, (int)sizeof(close_header) - 1);
	return n ? -1 : 0; /* > 0: done at once; the connection closes either way */
}

/* GET /p (and /p/): the phone page. */
static int serve_phone_page(struct http_pss *pss)
{
	return serve_file(pss, H_phone_page, "text/html");
}

/* /trust...: the onboarding page and the CA (trust.c). */
static int serve_trust(struct http_pss *pss)
{
	char host[HOSTCHECK_NAME_MAX + 8] = "", file[PATH_MAX + 128];

	lws_hdr_copy(pss->wsi, host, sizeof(host), WSI_TOKEN_HOST);
	if (trust_dispatch(&pss->rq, host, H_web_root, &pss->rs, file, sizeof(file)) == TRUST_FILE)
		return serve_file(pss, file, pss->rs.ctype);
	request_write(pss);
	return 0;
}

/* The plain listener of a TLS box: 301 to the same path over HTTPS. A phone
 * that opened a pairing link http://box/p#code keeps the #code: browsers
 * carry a fragment over a redirect whose Location has none. */
static int redirect_to_https(struct http_pss *pss)
{
	char host[HOSTCHECK_NAME_MAX + 8] = "", url[1400];

	lws_hdr_copy(pss->wsi, host, sizeof(host), WSI_TOKEN_HOST);
	read_query(pss->wsi, &pss->rq);
	if (!trust_https_url(host, pss->rq.path, pss->rq.query, url, sizeof(url)) ||
	    !(pss->rs.location = strdup(url))) {
		rest_error_status(&pss->rs, 414, SB_WIRE_INVALID_REQUEST, "the request line is too long");
		request_write(pss);
		return 0;
	}
	pss->rs.status = 301; /* no body: the browser follows Location */
	request_write(pss);
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
	lws_req_client_ip(wsi, H_cfg->trusted_proxies, pss->ip);
	pss->rq.ip = pss->ip;
	lws_hdr_copy(wsi, pss->rq.host, sizeof(pss->rq.host), WSI_TOKEN_HOST);
}

/* Content-Length as digits only (no sign, space or second value), or -1.
 * Absent: 0. lws reads it with atoll, so a malformed one is refused here
 * before lws frames a body with it. */
static long long content_length(struct lws *wsi)
{
	char v[32];
	long long n = 0;
	int len = lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH);

	if (!lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH))
		return 0;
	if (len <= 0 || len > 15)
		return -1;
	for (int i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

/* ---- answering ---- */

static int write_whole(struct lws *wsi, const struct rest_resp *rs, struct http_pss *cors);
static void reset(struct http_pss *pss);

/* A connection that has had its request: lws_set_opaque_user_data() (see
 * LWS_CALLBACK_FILTER_HTTP_CONNECTION). */
static char served_mark;

/* Writes the answer as soon as it is ready, whole, in one write, rather than
 * from a WRITEABLE callback: the connection's input is paused while its
 * request is answered (pause_rx), and lws 4.1 serves no POLLOUT to a paused
 * HTTP connection. What the socket does not take at once lws keeps and sends;
 * once it is out, lws calls WRITEABLE, where the connection is closed (from
 * inside a callback of its own, lws shuts it down gracefully: a client still
 * sending its body reads the answer instead of a reset). */
static void request_write(struct http_pss *pss)
{
	write_whole(pss->wsi, &pss->rs, pss); /* a failed write closes all the same */
	reset(pss);
	pss->closing = true;
	resume_rx(pss); /* lws flushes and calls WRITEABLE only while reading */
	lws_callback_on_writable(pss->wsi);
}

static void commit_done(struct batch_waiter *w, int rc)
{
	struct http_pss *pss = lws_container_of(w, struct http_pss, commit_w);

	if (rc && pss->rs.status < 400)
		rest_error(&pss->rs, SB_WIRE_UNAVAILABLE, "the change could not be stored; retry");
	request_write(pss);
}

/* Answers now, or after the open batch commits: an answer must never describe
 * data that is not yet durable. */
static void answer(struct http_pss *pss)
{
	pss->phase = PH_WAITING;
	if (batch_open()) {
		pss->commit_w.done = commit_done;
		batch_wait_commit(&pss->commit_w);
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
	pss->body = NULL; /* the pool owns the image now, and its budget */
	pss->body_len = 0;
	pss->budget_taken = 0;
	pss->phase = PH_WAITING;
	lws_set_timeout(pss->wsi, PENDING_TIMEOUT_USER_OK, DECODE_TIMEOUT_S);
}

/* The write lock is ours (rc 0): run the request again; or it never came. */
static void relock_done(struct batch_waiter *w, int rc)
{
	struct http_pss *pss = lws_container_of(w, struct http_pss, commit_w);

	rest_resp_clear(&pss->rs);
	if (!rc) {
		dispatch(pss);
		return;
	}
	rest_error(&pss->rs, SB_WIRE_UNAVAILABLE, "the database is busy; nothing was changed, retry");
	request_write(pss);
}

static void dispatch(struct http_pss *pss)
{
	enum rest_result rr;

	pss->rq.body = pss->body;
	pss->rq.body_len = pss->body_len;
	if (pss->body_too_big) {
		if (pss->is_decode)
			metrics_inc(MC_FRAMES_REFUSED);
		rest_error(&pss->rs, SB_WIRE_TOO_LARGE, "the request body is too large");
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
	if (rr == REST_LOCKED) {
		/* another process holds the database's write lock: the loop does
		 * not wait for it, the request runs again once it is ours */
		pss->phase = PH_WAITING;
		pss->commit_w.done = relock_done;
		batch_wait_lock(&pss->commit_w);
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

/* Status line and the headers every answer of ours has, `connection: close`
 * included (one request per connection: pause_rx); lws adds the security
 * headers configured on the vhost. */
static int put_common_headers(struct lws *wsi, const struct rest_resp *rs,
			      unsigned char **p, unsigned char *end)
{
	char num[16];

	if (lws_add_http_common_headers(wsi, (unsigned)rs->status,
					rs->ctype ? rs->ctype : "application/json", rs->len, p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, p, end))
		return -1;
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
					(const unsigned char *)"close", 5, p, end))
		return -1;
	if (rs->retry_after > 0) {
		int n = snprintf(num, sizeof(num), "%d", rs->retry_after);

		if (lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
						(unsigned char *)num, n, p, end))
			return -1;
	}
	if (rs->allow[0] &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
					(unsigned char *)rs->allow, (int)strlen(rs->allow), p, end))
		return -1;
	if (rs->location &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"location:",
					(unsigned char *)rs->location, (int)strlen(rs->location), p, end))
		return -1;
	if (rs->disposition &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-disposition:",
					(const unsigned char *)rs->disposition,
					(int)strlen(rs->disposition), p, end))
		return -1;
	return 0;
}

/* Status line, headers and body in one write; cors: add its CORS headers. */
static int write_whole(struct lws *wsi, const struct rest_resp *rs, struct http_pss *cors)
{
	unsigned char *buf = malloc(LWS_PRE + HEADERS_MAX + rs->len), *start, *p, *end;
	int rc = -1;

	if (!buf)
		return -1;
	start = p = buf + LWS_PRE;
	end = start + HEADERS_MAX - 1;
	if (!put_common_headers(wsi, rs, &p, end) && !(cors && add_cors_headers(cors, &p, end)) &&
	    !lws_finalize_http_header(wsi, &p, end)) {
		/* HEAD: the headers of the answer GET would get, no body */
		if (rs->len && !lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI)) {
			memcpy(p, rs->body, rs->len);
			p += rs->len;
		}
		rc = lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0 ? -1 : 0;
	}
	free(buf);
	return rc;
}

/* Answers a request lws has not handed to a protocol yet (the gate below):
 * headers and JSON body in one write, then the caller closes. Small enough to
 * go whole into a fresh socket's buffer. */
static void refuse_now(struct lws *wsi, int status, enum sb_wire code, const char *message)
{
	struct rest_resp rs = { 0 };

	rest_error_status(&rs, status, code, message);
	write_whole(wsi, &rs, NULL);
	rest_resp_clear(&rs);
}

static void reset(struct http_pss *pss)
{
	rest_resp_clear(&pss->rs);
	free(pss->body);
	pss->body = NULL;
	pss->body_len = 0;
	upload_budget_give(pss->budget_taken);
	pss->budget_taken = 0;
	pss->body_too_big = false;
	pss->phase = PH_IDLE;
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
	batch_waiter_cancel(&pss->commit_w);
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
		rest_error(&pss->rs, SB_WIRE_FORBIDDEN,
			   "pages from this origin may not use the API (see allowed_origins)");
		answer_early(pss);
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

/* Answered before the body is read: the body is never buffered. */
static int answer_early(struct http_pss *pss)
{
	answer(pss);
	return 0;
}

/* A request with a body: refused now when it would be whatever the body is
 * (too large, an unauthorised or mistyped upload, no image budget left), else
 * read. An image's bytes are taken from the shared budget up front. */
static int start_body(struct http_pss *pss, long long len)
{
	if ((unsigned long long)len > pss->body_max) {
		if (pss->is_decode)
			metrics_inc(MC_FRAMES_REFUSED);
		rest_error(&pss->rs, SB_WIRE_TOO_LARGE, "the request body is too large");
		return answer_early(pss);
	}
	if (rest_refuse_before_body(&pss->rq, &pss->rs))
		return answer_early(pss);
	if (pss->is_decode) {
		if (!upload_budget_take((size_t)len)) {
			metrics_inc(MC_FRAMES_REFUSED);
			rest_error(&pss->rs, SB_WIRE_BUSY, "too many images are being uploaded at once; retry");
			pss->rs.retry_after = 1;
			return answer_early(pss);
		}
		pss->budget_taken = (size_t)len;
	}
	pss->phase = PH_BODY;
	return 0;
}

static int on_http(struct http_pss *pss, struct lws *wsi)
{
	long long len = content_length(wsi); /* >= 0: request_gate refused the rest */

	reset(pss);
	memset(&pss->rq, 0, sizeof(pss->rq));
	memset(&pss->commit_w, 0, sizeof(pss->commit_w));
	pss->wsi = wsi;
	if (len <= 0)
		pause_rx(pss); /* before any answer: one that waits for a commit must
				* not leave lws reading what follows meanwhile */
	if (read_method_and_path(wsi, &pss->rq)) {
		rest_error_status(&pss->rs, 414, SB_WIRE_INVALID_REQUEST, "the request line is too long");
		return answer_early(pss);
	}
	if (trust_path(pss->rq.path))
		return serve_trust(pss);
	if (on_plain_listener(wsi) && strcmp(pss->rq.path, "/healthz"))
		return redirect_to_https(pss);
	if (!strcmp(pss->rq.path, "/p") || !strcmp(pss->rq.path, "/p/"))
		return serve_phone_page(pss);
	if (cors_gate(pss))
		return 0;
	read_query(wsi, &pss->rq);
	read_headers(pss);
	pss->is_decode = !strcmp(pss->rq.path, "/api/v1/decode");
	pss->body_max = pss->is_decode ? (size_t)H_cfg->max_image_bytes : REST_MAX_BODY;
	if (len > 0)
		return start_body(pss, len);
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

/* Every request, pages and upgrades' HTTP part included, before lws serves
 * it: framing lws would get wrong, and host names that are not the box's (a
 * DNS-rebinding page). Returns 0 (go on) or 1 (answered; lws closes). */
static int request_gate(struct lws *wsi)
{
	char host[HOSTCHECK_NAME_MAX + 8] = "";

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING)) {
		refuse_now(wsi, 411, SB_WIRE_INVALID_REQUEST,
			   "chunked request bodies are not accepted: send the body with a Content-Length");
		return 1;
	}
	if (content_length(wsi) < 0) {
		refuse_now(wsi, 400, SB_WIRE_INVALID_REQUEST, "Content-Length must be one decimal number");
		return 1;
	}
	if (!lws_req_host_allowed(wsi, H_cfg, host, sizeof(host))) {
		refuse_now(wsi, 403, SB_WIRE_FORBIDDEN,
			   "this box does not answer to that host name (see allowed_hosts)");
		return 1;
	}
	return 0;
}

/* A page (an lws file mount) is about to be answered: it says so when its
 * connection will close (after FILE_COMPLETION). A HEAD has no body, so lws
 * never calls FILE_COMPLETION and keeps the connection, and then parses what a
 * client pipelined behind it from the wrong offset (it answered a valid
 * request with its own 403): its input stays paused, and lws's keep-alive
 * timeout closes it. */
static int page_headers(struct lws *wsi, struct lws_process_html_args *args)
{
	unsigned char *p = (unsigned char *)args->p, *end = p + args->max_len;

	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
					(const unsigned char *)"close", 5, &p, end))
		return -1;
	args->max_len -= (int)(p - (unsigned char *)args->p);
	args->p = (char *)p;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI))
		lws_rx_flow_control(wsi, 0);
	return 0;
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
	if (on_plain_listener(wsi)) {
		refuse_now(wsi, HTTP_STATUS_FORBIDDEN, SB_WIRE_FORBIDDEN,
			   "this port only redirects to HTTPS: open wss:// on the HTTPS port");
		return 1;
	}
	verdict = lws_ws_upgrade_verdict(wsi);
	if (verdict == HTTP_STATUS_FORBIDDEN) {
		log_info("websocket from a disallowed origin or host refused", NULL);
		refuse_now(wsi, HTTP_STATUS_FORBIDDEN, SB_WIRE_FORBIDDEN,
			   "pages from this origin or host name may not open /ws (see allowed_origins, allowed_hosts)");
		return 1;
	}
	return verdict;
}

int lws_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			void *in, size_t len)
{
	struct http_pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return pss->closing ? -1 : on_http(pss, wsi);
	case LWS_CALLBACK_HTTP_BODY:
		if (pss->closing)
			return -1; /* answered already: the rest of the body is not read */
		if (pss->phase == PH_BODY)
			on_body(pss, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss->closing)
			return -1;
		pause_rx(pss);
		if (pss->phase == PH_BODY)
			dispatch(pss);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		/* answers are written when ready (request_write); this comes once
		 * lws has sent all of it */
		return pss->closing ? -1 : 0;
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return -1; /* one request per connection, pages too (see pause_rx) */
	case LWS_CALLBACK_ADD_HEADERS:
		return page_headers(wsi, in);
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi, in);
	case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
		/* One request per connection, pages too. The mark lives in the
		 * wsi's opaque pointer, not in pss: lws frees and remakes a
		 * connection's pss when a transaction ends (a HEAD of a page
		 * ends one without FILE_COMPLETION). */
		if (lws_get_opaque_user_data(wsi) == &served_mark)
			return 1; /* a request behind an answered one: not read */
		lws_set_opaque_user_data(wsi, &served_mark);
		return request_gate(wsi);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (pss)
			drop(pss);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return -1; /* a WebSocket upgrade without our subprotocol */
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

size_t lws_http_pss_size(void) { return sizeof(struct http_pss); }
