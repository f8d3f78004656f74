/* SPDX-License-Identifier: MIT */
/* REST handlers: each route checks the token (401/403/410), then the body
 * (400), then calls the session layer and turns its answer into the status and
 * JSON of docs/openapi.yaml. Long-polls park a waiter on the session and are
 * finished by rest_poll_finish when scans arrive or the transport's timer ends. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "batch.h"
#include "clock.h"
#include "export.h"
#include "hostcheck.h"
#include "log.h"
#include "metrics.h"
#include "qr.h"
#include "ratelimit.h"
#include "relay.h"
#include "rest.h"
#include "sb_err.h"
#include "wire_err.h"

#define LONGPOLL_MAX_S 30
#define LIST_DEFAULT 100
#define LIST_MAX 500

static struct {
	const struct sb_config *cfg;
	struct store *st;
	int64_t started_mono;
	int parked;
} R;

void rest_init(const struct sb_config *cfg, struct store *st)
{
	R.cfg = cfg;
	R.st = st;
	R.started_mono = clock_mono_ms();
	R.parked = 0;
}

/* ---- responses ---- */

void rest_resp_clear(struct rest_resp *rs)
{
	free(rs->body);
	free(rs->location);
	memset(rs, 0, sizeof(*rs));
}

static void reply_json(struct rest_resp *rs, int status, cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (!text) {
		rest_error(rs, SB_WIRE_UNAVAILABLE, "out of memory");
		return;
	}
	free(rs->body);
	rs->status = status;
	rs->body = text;
	rs->len = strlen(text);
	rs->ctype = "application/json";
}

static void reply_empty(struct rest_resp *rs, int status)
{
	free(rs->body);
	rs->body = NULL;
	rs->len = 0;
	rs->status = status;
	rs->ctype = "application/json";
}

void rest_error_status(struct rest_resp *rs, int status, enum sb_wire code, const char *message)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(o, "error");
	char *text;

	cJSON_AddStringToObject(e, "code", sb_wire_name(code));
	cJSON_AddStringToObject(e, "message", message);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	free(rs->body);
	rs->status = status;
	rs->body = text;
	rs->len = text ? strlen(text) : 0;
	rs->ctype = "application/json";
	metrics_error(code);
}

void rest_error(struct rest_resp *rs, enum sb_wire code, const char *message)
{
	rest_error_status(rs, sb_wire_http_status(code), code, message);
}

/* Answers an sb_err from the session layer as wire_err.c's table says. */
static void reply_err(struct rest_resp *rs, int rc)
{
	const struct sb_wire_refusal *r = sb_wire_refusal(rc);

	rest_error(rs, r->code, r->message);
}

/* ---- request helpers ---- */

static int authorize(const struct rest_req *rq, const struct route_match *m, enum sb_role role,
		     struct sess **s, struct rest_resp *rs)
{
	struct auth_claims c;
	int rc = session_authorize(rq->token, m->sid[0] ? m->sid : NULL, role, s, &c);

	if (rc)
		reply_err(rs, rc);
	return rc;
}

/* Parses an optional JSON object body. Returns NULL and answers 400 when the
 * body is present but not an object; *o is NULL for an empty body. */
static int parse_body(const struct rest_req *rq, cJSON **o, struct rest_resp *rs)
{
	*o = NULL;
	if (!rq->body_len)
		return 0;
	if (!sb_json_depth_ok(rq->body, rq->body_len, R.cfg->max_json_depth) ||
	    !(*o = cJSON_ParseWithLength(rq->body, rq->body_len)) || !cJSON_IsObject(*o)) {
		cJSON_Delete(*o);
		*o = NULL;
		rest_error(rs, SB_WIRE_INVALID_REQUEST, "the body must be a JSON object");
		return SB_EINVAL;
	}
	return 0;
}

static int require_body(const struct rest_req *rq, cJSON **o, struct rest_resp *rs)
{
	if (parse_body(rq, o, rs))
		return SB_EINVAL;
	if (!*o) {
		rest_error(rs, SB_WIRE_INVALID_REQUEST, "a JSON object body is required");
		return SB_EINVAL;
	}
	return 0;
}

static int ip_window(const struct rest_req *rq, enum ip_window which, int limit,
		     struct rest_resp *rs)
{
	int retry = 0;

	static int64_t last_logged;
	int64_t now = clock_mono_ms();

	if (!iplimit_hit(which, rq->ip ? rq->ip : "-", limit, now, &retry))
		return 0;
	if (now - last_logged >= 1000) { /* a flood must not flood the log too */
		last_logged = now;
		log_warn(which == IPW_PAIR ? "pair attempts rate limited" : "session creation rate limited",
			 "ip=%s retry_after_s=%d", rq->ip ? rq->ip : "-", retry);
	}
	rest_error(rs, SB_WIRE_RATE_LIMITED, "too many requests from this address; retry later");
	rs->retry_after = retry;
	return SB_ELIMIT;
}

static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return !diff;
}

/* ---- pair links ---- */

/* Where pair links point for this request: public_url when it is set;
 * else the Host the desktop page was opened with, when that is one of the
 * box's own names and reaches beyond this computer (a till at
 * http://scanbox.lan/ gives phones scanbox.lan, not the bind address); else
 * the derived public_url (the box's LAN address for a wildcard bind). */
static void link_base(const struct rest_req *rq, char *out, size_t size)
{
	char name[HOSTCHECK_NAME_MAX];

	snprintf(out, size, "%s", R.cfg->public_url);
	if (!R.cfg->public_url_derived || !rq->host[0] || strpbrk(rq->host, "/?#@\\ "))
		return;
	hostcheck_name_part(rq->host, name, sizeof(name));
	if (hostcheck_is_local_only(name))
		return;
	if (hostcheck_match(rq->host, box_names_current(), NULL, NULL))
		snprintf(out, size, "%s://%s", R.cfg->tls_active ? "https" : "http", rq->host);
}

static void pair_link(const struct rest_req *rq, const char *code, char url[512])
{
	char base[300];

	link_base(rq, base, sizeof(base));
	snprintf(url, 512, "%s/p#%s", base, code);
}

/* ---- sessions ---- */

static void h_create(const struct rest_req *rq, struct rest_resp *rs)
{
	struct session_opened so;
	cJSON *body = NULL, *o;
	int rc;

	if (R.cfg->api_key[0] && (!rq->token || !same_secret(rq->token, R.cfg->api_key))) {
		rest_error(rs, SB_WIRE_UNAUTHORIZED, "this appliance requires its API key");
		return;
	}
	if (parse_body(rq, &body, rs) ||
	    ip_window(rq, IPW_SESSIONS, R.cfg->sessions_per_ip_per_min, rs))
		goto out;
	if ((rc = session_open(&so))) {
		if (rc == SB_ELIMIT)
			rest_error(rs, SB_WIRE_UNAVAILABLE, "the appliance holds its maximum number of sessions");
		else
			reply_err(rs, rc);
		goto out;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "session", so.sid);
	cJSON_AddStringToObject(o, "desktop_token", so.desktop_token);
	cJSON_AddStringToObject(o, "pair_code", so.pair_code);
	pair_link(rq, so.pair_code, so.pair_url);
	cJSON_AddStringToObject(o, "pair_url", so.pair_url);
	cJSON_AddNumberToObject(o, "expires_at", (double)so.expires_at);
	free(so.desktop_token);
	reply_json(rs, 201, o);
out:
	cJSON_Delete(body);
}

static void h_session_get(const struct rest_req *rq, const struct route_match *m,
			  struct rest_resp *rs)
{
	struct session_info si;
	struct sess *s;
	cJSON *o;

	if (authorize(rq, m, SB_ROLE_DESKTOP, &s, rs))
		return;
	session_info(s, &si);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "session", session_id(s));
	cJSON_AddNumberToObject(o, "last_seq", (double)si.last_seq);
	cJSON_AddNumberToObject(o, "delivered_seq", (double)si.delivered_seq);
	cJSON_AddNumberToObject(o, "expires_at", (double)si.expires_at);
	cJSON_AddItemToObject(o, "scanners", relay_scanners_json(s));
	reply_json(rs, 200, o);
}

static void h_session_delete(const struct rest_req *rq, const struct route_match *m,
			     struct rest_resp *rs)
{
	struct sess *s;
	int rc;

	if (authorize(rq, m, SB_ROLE_DESKTOP, &s, rs))
		return;
	/* 204 is released only after the commit (the transport waits for it) */
	if ((rc = session_end(s)))
		reply_err(rs, rc);
	else
		reply_empty(rs, 204);
}

static void h_pair_code(const struct rest_req *rq, const struct route_match *m,
			struct rest_resp *rs)
{
	char code[SB_ID_MAX], url[512];
	int64_t exp = 0;
	struct sess *s;
	cJSON *o;
	int rc, retry = 1;

	if (authorize(rq, m, SB_ROLE_DESKTOP, &s, rs))
		return;
	if ((rc = session_new_pair_code(s, code, url, &exp, &retry))) {
		if (rc != SB_ELIMIT) {
			reply_err(rs, rc);
			return;
		}
		rest_error(rs, SB_WIRE_RATE_LIMITED, "too many pair codes for this session; retry later");
		rs->retry_after = retry;
		return;
	}
	pair_link(rq, code, url);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "pair_code", code);
	cJSON_AddStringToObject(o, "pair_url", url);
	cJSON_AddNumberToObject(o, "expires_at", (double)exp);
	reply_json(rs, 201, o);
}

static void h_qr(const struct rest_req *rq, const struct route_match *m, struct rest_resp *rs)
{
	char url[512], code[SB_ID_MAX];
	char *svg = NULL;
	size_t len = 0;
	struct sess *s;

	if (authorize(rq, m, SB_ROLE_DESKTOP, &s, rs))
		return;
	if (session_current_pair_url(s, url)) {
		rest_error(rs, SB_WIRE_PAIR_CODE_INVALID, "the latest pair code is used or expired; request a new one");
		return;
	}
	snprintf(code, sizeof(code), "%s", strrchr(url, '#') + 1);
	pair_link(rq, code, url);
	if (qr_svg(url, &svg, &len)) {
		rest_error(rs, SB_WIRE_UNAVAILABLE, "the QR code could not be rendered");
		return;
	}
	free(rs->body);
	rs->status = 200;
	rs->body = svg;
	rs->len = len;
	rs->ctype = "image/svg+xml";
}

/* ---- pairing ---- */

static int pair_fields(cJSON *body, const char **code, const char **name, struct rest_resp *rs)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "pair_code");
	cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "name");

	if (!cJSON_IsString(c)) {
		rest_error(rs, SB_WIRE_INVALID_REQUEST, "pair_code: a string is required");
		return SB_EINVAL;
	}
	if (!c->valuestring[0] || strlen(c->valuestring) >= SB_ID_MAX) {
		rest_error(rs, SB_WIRE_PAIR_CODE_INVALID, "unknown, used or expired pair code");
		return SB_EINVAL;
	}
	*code = c->valuestring;
	*name = "Scanner";
	if (n && !cJSON_IsNull(n)) {
		if (!cJSON_IsString(n) ||
		    barcode_text_valid(n->valuestring, strlen(n->valuestring), SB_NAME_MAX_CP)) {
			rest_error(rs, SB_WIRE_INVALID_REQUEST,
				   "name: 1-64 characters without control characters");
			return SB_EINVAL;
		}
		*name = n->valuestring;
	}
	return 0;
}

static void h_pair(const struct rest_req *rq, struct rest_resp *rs)
{
	struct session_paired sp;
	const char *code, *name;
	cJSON *body = NULL, *o;
	int rc;

	if (ip_window(rq, IPW_PAIR, R.cfg->pair_attempts_per_ip_per_min, rs) ||
	    require_body(rq, &body, rs) || pair_fields(body, &code, &name, rs))
		goto out;
	rc = session_pair(code, name, &sp);
	if (rc == SB_ENOTFOUND) {
		/* guessing is limited per IP and logged; the code itself never is */
		log_info("pair attempt refused", "ip=%s", rq->ip ? rq->ip : "-");
		rest_error(rs, SB_WIRE_PAIR_CODE_INVALID, "unknown, used or expired pair code");
		goto out;
	} else if (rc == SB_ELIMIT) {
		rest_error(rs, SB_WIRE_SESSION_FULL, "this session has its maximum number of scanners");
		goto out;
	} else if (rc) {
		reply_err(rs, rc);
		goto out;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "session", sp.sid);
	cJSON_AddStringToObject(o, "scanner", sp.scanner);
	cJSON_AddStringToObject(o, "scanner_token", sp.scanner_token);
	cJSON_AddNumberToObject(o, "expires_at", (double)sp.expires_at);
	free(sp.scanner_token);
	reply_json(rs, 200, o);
out:
	cJSON_Delete(body);
}

/* ---- scans ---- */

/* Reads {id, code, format?, scanned_at?} with exactly the rules of the WS
 * `scan` message (sb_scan_decode parses the client's own bytes). */
static int scan_fields(const struct rest_req *rq, struct sb_scan *scan, struct rest_resp *rs)
{
	struct sb_msg_error err = { 0 };
	int rc = sb_scan_decode(rq->body, rq->body_len, R.cfg->max_json_depth, scan, &err);

	if (rc == SB_EPROTO)
		rest_error(rs, SB_WIRE_INVALID_REQUEST, "the body must be a JSON object");
	else if (rc)
		rest_error(rs, sb_wire_refusal(rc)->code, err.message[0] ? err.message : "invalid scan");
	return rc;
}

static void h_scan_post(const struct rest_req *rq, const struct route_match *m,
			struct rest_resp *rs)
{
	struct sb_scan scan;
	struct auth_claims c;
	struct sess *s;
	int64_t seq = 0;
	bool dup = false;
	cJSON *o;
	int rc;

	rc = session_authorize(rq->token, m->sid, SB_ROLE_SCANNER, &s, &c);
	if (rc)
		reply_err(rs, rc);
	else if (!scan_fields(rq, &scan, rs) &&
		 (rc = relay_scan_put(s, c.sub, &scan, &seq, &dup)))
		reply_err(rs, SB_EIO);
	else if (!rs->status) {
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "seq", (double)seq);
		cJSON_AddStringToObject(o, "id", scan.id);
		cJSON_AddBoolToObject(o, "duplicate", dup);
		reply_json(rs, dup ? 200 : 201, o);
	}
}

static void add_scan_item(const struct sb_scan *scan, void *arr)
{
	cJSON_AddItemToArray(arr, sb_scan_to_json(scan));
}

static void reply_scan_list(struct sess *s, int64_t after, int limit, struct rest_resp *rs)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(o, "scans");
	int64_t last = 0;

	if (session_scans_list(s, after, limit, add_scan_item, arr, &last)) {
		cJSON_Delete(o);
		rest_error(rs, SB_WIRE_UNAVAILABLE, "the scans could not be read");
		return;
	}
	cJSON_AddNumberToObject(o, "last_seq", (double)last);
	reply_json(rs, 200, o);
}

static int list_params(const struct rest_req *rq, int64_t *after, int64_t *wait, int64_t *limit,
		       struct rest_resp *rs)
{
	int r1, r2, r3;

	*after = 0, *wait = 0, *limit = LIST_DEFAULT;
	r1 = query_get_int(rq->query, "after", after);
	r2 = query_get_int(rq->query, "wait", wait);
	r3 = query_get_int(rq->query, "limit", limit);
	if (r1 == SB_EINVAL || r2 == SB_EINVAL || r3 == SB_EINVAL || *after < 0) {
		rest_error(rs, SB_WIRE_INVALID_REQUEST, "after, wait and limit must be integers, after >= 0");
		return SB_EINVAL;
	}
	*wait = *wait < 0 ? 0 : *wait > LONGPOLL_MAX_S ? LONGPOLL_MAX_S : *wait;
	*limit = *limit < 1 ? 1 : *limit > LIST_MAX ? LIST_MAX : *limit;
	return 0;
}

static enum rest_result h_scans_list(const struct rest_req *rq, const struct route_match *m,
				     struct rest_resp *rs, struct rest_poll *lp)
{
	int64_t after, wait, limit;
	struct sess *s;

	if (authorize(rq, m, SB_ROLE_DESKTOP, &s, rs) || list_params(rq, &after, &wait, &limit, rs))
		return REST_REPLY;
	if (!wait || session_committed_seq(s) > after) {
		reply_scan_list(s, after, (int)limit, rs);
		return REST_REPLY;
	}
	if (R.parked >= R.cfg->max_longpoll_waiters) {
		rest_error(rs, SB_WIRE_BUSY, "too many waiting requests; retry");
		return REST_REPLY;
	}
	lp->after = after;
	lp->limit = (int)limit;
	lp->wait_ms = (int)wait * 1000;
	session_waiter_park(s, &lp->w, after);
	R.parked++;
	return REST_PARKED;
}

void rest_poll_finish(struct rest_poll *lp, int rc, struct rest_resp *rs)
{
	R.parked--;
	if (rc)
		reply_err(rs, rc);
	else
		reply_scan_list(lp->w.sess, lp->after, lp->limit, rs);
}

static void h_ack(const struct rest_req *rq, const struct route_match *m, struct rest_resp *rs)
{
	cJSON *body = NULL, *seq;
	struct sess *s;
	int rc;

	if (authorize(rq, m, SB_ROLE_DESKTOP, &s, rs) || require_body(rq, &body, rs))
		goto out;
	seq = cJSON_GetObjectItemCaseSensitive(body, "seq");
	if (!cJSON_IsNumber(seq) || seq->valuedouble < 0 || seq->valuedouble > 9007199254740991.0 ||
	    seq->valuedouble != (double)(int64_t)seq->valuedouble) {
		rest_error(rs, SB_WIRE_INVALID_REQUEST, "seq: a non-negative integer is required");
		goto out;
	}
	rc = relay_ack(s, (int64_t)seq->valuedouble);
	if (rc == SB_EINVAL)
		rest_error(rs, SB_WIRE_INVALID_REQUEST, "seq: above the session's last scan");
	else if (rc)
		reply_err(rs, SB_EIO);
	else
		reply_empty(rs, 204);
out:
	cJSON_Delete(body);
}

static void h_scan_status(const struct rest_req *rq, const struct route_match *m,
			  struct rest_resp *rs)
{
	struct sess *s;
	int64_t seq = 0;
	bool delivered = false;
	cJSON *o;

	if (authorize(rq, m, SB_ROLE_SCANNER, &s, rs))
		return;
	if (session_scan_status(s, m->id, &seq, &delivered)) {
		rest_error(rs, SB_WIRE_NOT_FOUND, "no scan with this id in the session");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", m->id);
	cJSON_AddNumberToObject(o, "seq", (double)seq);
	cJSON_AddBoolToObject(o, "delivered", delivered);
	reply_json(rs, 200, o);
}

/* image/jpeg or image/png, parameters allowed ("image/png; q=1"). Which of the
 * two the body really is, the decoder reads from the image's own signature. */
static bool image_ctype(const char *ctype)
{
	size_t n = strcspn(ctype, ";");

	while (n && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t'))
		n--;
	return (n == 10 && !strncasecmp(ctype, "image/jpeg", n)) ||
	       (n == 9 && !strncasecmp(ctype, "image/png", n));
}

/* What refuses a decode whatever its body: the token, then the type. */
static bool decode_refused(const struct rest_req *rq, const struct route_match *m,
			   struct rest_resp *rs)
{
	struct sess *s;

	if (authorize(rq, m, SB_ROLE_SCANNER, &s, rs))
		return true;
	if (image_ctype(rq->ctype))
		return false;
	metrics_inc(MC_FRAMES_REFUSED);
	rest_error(rs, SB_WIRE_UNSUPPORTED_MEDIA_TYPE, "Content-Type must be image/jpeg or image/png");
	return true;
}

static enum rest_result h_decode(const struct rest_req *rq, const struct route_match *m,
				 struct rest_resp *rs)
{
	if (decode_refused(rq, m, rs))
		return REST_REPLY;
	if (!rq->body_len) {
		metrics_inc(MC_FRAMES_REFUSED);
		rest_error(rs, SB_WIRE_INVALID_REQUEST, "the body is empty: send one JPEG or PNG image");
		return REST_REPLY;
	}
	return REST_DECODE;
}

bool rest_refuse_before_body(const struct rest_req *rq, struct rest_resp *rs)
{
	struct route_match m;

	if (rest_route_match(rq->method, rq->path, &m) || m.route != RR_DECODE)
		return false;
	return decode_refused(rq, &m, rs);
}

static void reply_decoded(const struct decode_outcome *res, struct rest_resp *rs)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(o, "codes");

	for (int i = 0; arr && i < res->n && i < DECODE_MAX_RESULTS; i++) {
		cJSON *c = cJSON_CreateObject();

		cJSON_AddStringToObject(c, "code", res->codes[i].code);
		cJSON_AddStringToObject(c, "format", barcode_format_name(res->codes[i].format));
		cJSON_AddItemToArray(arr, c);
	}
	cJSON_AddNumberToObject(o, "ms", round(res->ms * 10) / 10);
	reply_json(rs, 200, o);
}

void rest_decode_finish(const struct decode_outcome *res, struct rest_resp *rs)
{
	const struct sb_wire_image_refusal *r;

	if (!res->rc) {
		reply_decoded(res, rs);
		return;
	}
	r = sb_wire_image_refusal(res->rc);
	rest_error(rs, r->code, r->message);
	rs->retry_after = r->retry_after;
}

/* ---- operations ---- */

static void h_scans_csv(const struct rest_req *rq, const struct route_match *m,
			struct rest_resp *rs)
{
	struct sess *s;

	if (!authorize(rq, m, SB_ROLE_DESKTOP, &s, rs))
		export_scans_csv(s, rs);
}

/* A scanner unpairs itself (its own token), or a desktop removes one (as a
 * WS kick): either way the slot is free and desktops hear scanner_left. */
static void h_scanner_delete(const struct rest_req *rq, const struct route_match *m,
			     struct rest_resp *rs)
{
	struct auth_claims c;
	struct sess *s;
	int rc = session_authorize(rq->token, m->sid, SB_ROLE_SCANNER, &s, &c);

	if (rc == SB_EFORBIDDEN && c.role == SB_ROLE_DESKTOP)
		rc = session_authorize(rq->token, m->sid, SB_ROLE_DESKTOP, &s, &c);
	if (rc) {
		reply_err(rs, rc);
		return;
	}
	if (c.role == SB_ROLE_SCANNER && strcmp(c.sub, m->id)) {
		rest_error(rs, SB_WIRE_FORBIDDEN, "a scanner token may only unpair its own scanner");
		return;
	}
	rc = c.role == SB_ROLE_SCANNER ? session_scanner_unpair(s, m->id)
				       : session_scanner_kick(s, m->id);
	if (rc == SB_ENOTFOUND)
		rest_error(rs, SB_WIRE_NOT_FOUND, "no such scanner in this session");
	else if (rc)
		reply_err(rs, rc);
	else
		reply_empty(rs, 204); /* released after the commit */
}

static void h_healthz(struct rest_resp *rs)
{
	bool db = !store_ping(R.st), writes = !batch_store_failing(), ok = db && writes;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "status", ok ? "ok" : "degraded");
	cJSON_AddStringToObject(o, "db", db ? "ok" : "error");
	cJSON_AddStringToObject(o, "writes", writes ? "ok" : "failing");
	cJSON_AddStringToObject(o, "version", SB_VERSION);
	cJSON_AddNumberToObject(o, "uptime_s", (double)((clock_mono_ms() - R.started_mono) / 1000));
	reply_json(rs, ok ? 200 : 503, o);
}

static void h_metrics(struct rest_resp *rs)
{
	char *text = NULL;
	size_t len = 0;

	if (metrics_render(&text, &len)) {
		rest_error(rs, SB_WIRE_UNAVAILABLE, "out of memory");
		return;
	}
	free(rs->body);
	rs->status = 200;
	rs->body = text;
	rs->len = len;
	rs->ctype = "text/plain; version=0.0.4";
}

enum rest_result rest_dispatch(const struct rest_req *rq, struct rest_resp *rs,
			       struct rest_poll *lp)
{
	struct route_match m;
	int rc = rest_route_match(rq->method, rq->path, &m);

	metrics_inc(MC_HTTP_REQUESTS);
	if (rc == SB_EPROTO) {
		rest_error(rs, SB_WIRE_METHOD_NOT_ALLOWED, "this path does not take that method");
		snprintf(rs->allow, sizeof(rs->allow), "%s", m.allow);
		return REST_REPLY;
	}
	if (rc) {
		rest_error(rs, SB_WIRE_NOT_FOUND, "no such resource");
		return REST_REPLY;
	}
	batch_lock_hit(); /* from here on: did this request meet the write lock? */
	switch (m.route) {
	case RR_SESSIONS_CREATE: h_create(rq, rs); break;
	case RR_SESSION_GET: h_session_get(rq, &m, rs); break;
	case RR_SESSION_DELETE: h_session_delete(rq, &m, rs); break;
	case RR_PAIR_CODE: h_pair_code(rq, &m, rs); break;
	case RR_QR_SVG: h_qr(rq, &m, rs); break;
	case RR_PAIR: h_pair(rq, rs); break;
	case RR_SCAN_POST: h_scan_post(rq, &m, rs); break;
	case RR_SCANS_LIST: return h_scans_list(rq, &m, rs, lp);
	case RR_ACK: h_ack(rq, &m, rs); break;
	case RR_SCAN_STATUS: h_scan_status(rq, &m, rs); break;
	case RR_DECODE: return h_decode(rq, &m, rs);
	case RR_SCANS_CSV: h_scans_csv(rq, &m, rs); break;
	case RR_SCANNER_DELETE: h_scanner_delete(rq, &m, rs); break;
	case RR_HEALTHZ: h_healthz(rs); break;
	case RR_METRICS: h_metrics(rs); break;
	case RR_COUNT: break;
	}
	return batch_lock_hit() ? REST_LOCKED : REST_REPLY;
}
