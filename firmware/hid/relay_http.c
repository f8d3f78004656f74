/* SPDX-License-Identifier: MIT */
/* The REST calls of the bridge over the relay's lws context: POST /pair
 * (pairing by scan) and GET /healthz (reachability while no link is up). One
 * small request struct per call, freed when lws closes its wsi; the event
 * loop never blocks on the daemon. */
#include "relay_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sb_err.h"

#define HTTP_PROTOCOL "scanbridge-hid-http"
#define BODY_MAX 8192

enum req_kind { REQ_PAIR, REQ_HEALTH };

struct req {
	struct relay *r;
	enum req_kind kind;
	void *user;
	char *body;                  /* request body (pair) */
	char resp[BODY_MAX];
	size_t resp_len;
	int status;
	bool done;
	bool starting;               /* inside lws_client_connect_via_info */
};

int relay__parse_url(const char *s, struct relay__url *u)
{
	const char *h, *end;
	char *pe;
	long port;

	memset(u, 0, sizeof *u);
	if (!strncmp(s, "http://", 7)) {
		h = s + 7;
		port = 80;
	} else if (!strncmp(s, "https://", 8)) {
		h = s + 8;
		port = 443;
		u->tls = true;
	} else {
		return -1;
	}
	end = h + strcspn(h, ":/");
	if (end == h || (size_t)(end - h) >= sizeof u->host)
		return -1;
	memcpy(u->host, h, (size_t)(end - h));
	if (*end == ':') {
		port = strtol(end + 1, &pe, 10);
		if (pe == end + 1 || port < 1 || port > 65535 || (*pe && strcmp(pe, "/")))
			return -1;
	} else if (*end && strcmp(end, "/")) {
		return -1;
	}
	u->port = (int)port;
	snprintf(u->base, sizeof u->base, "%s://%s:%d", u->tls ? "https" : "http", u->host,
		 u->port);
	return 0;
}

void relay__http_connect_info(struct relay *r, struct lws_client_connect_info *i)
{
	memset(i, 0, sizeof *i);
	i->context = r->ctx;
	i->address = r->url.host;
	i->port = r->url.port;
	i->host = strstr(r->url.base, "://") + 3;
	i->origin = r->url.base;
	if (r->url.tls)
		i->ssl_connection = LCCSCF_USE_SSL;
}

/* ---- answers ------------------------------------------------------------------ */

static void copy_field(const cJSON *j, const char *key, char *dst, size_t cap)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, key);

	if (cJSON_IsString(it) && strlen(it->valuestring) < cap)
		strcpy(dst, it->valuestring);
}

static void finish_pair(struct req *q)
{
	struct relay_pair_result res;
	cJSON *j = NULL;
	int status = q->status;

	memset(&res, 0, sizeof res);
	if (status == 200) {
		j = cJSON_ParseWithLength(q->resp, q->resp_len);
		copy_field(j, "session", res.session, sizeof res.session);
		copy_field(j, "scanner", res.scanner, sizeof res.scanner);
		copy_field(j, "scanner_token", res.token, sizeof res.token);
		if (!res.session[0] || !res.scanner[0] || !res.token[0])
			status = 0;
	} else if (status) {
		fprintf(stderr, "scanbridge-hid: POST /pair: HTTP %d %.200s\n", status, q->resp);
	}
	cJSON_Delete(j);
	q->r->ops->paired(q->r->arg, q->user, status, status == 200 ? &res : NULL);
}

static void finish(struct req *q)
{
	if (q->done)
		return;
	q->done = true;
	if (q->kind == REQ_PAIR)
		finish_pair(q);
	else
		relay__event(q->r, q->status == 200 ? RELAY_REACHABLE : RELAY_UNREACHABLE, 0,
			     NULL);
}

/* ---- the lws protocol ------------------------------------------------------------ */

static int append_headers(struct lws *wsi, struct req *q, void *in, size_t len)
{
	unsigned char **p = in, *end = (*p) + len;
	size_t blen = strlen(q->body);

	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					 (const unsigned char *)"application/json", 16, p, end) ||
	    lws_add_http_header_content_length(wsi, blen, p, end))
		return -1;
	lws_client_http_body_pending(wsi, 1);
	lws_callback_on_writable(wsi);
	return 0;
}

static int write_body(struct lws *wsi, struct req *q)
{
	unsigned char buf[LWS_PRE + 1024];
	size_t blen = strlen(q->body);

	if (blen > sizeof buf - LWS_PRE)
		return -1;
	memcpy(buf + LWS_PRE, q->body, blen);
	if (lws_write(wsi, buf + LWS_PRE, blen, LWS_WRITE_HTTP_FINAL) < (int)blen)
		return -1;
	lws_client_http_body_pending(wsi, 0);
	return 0;
}

static void take(struct req *q, const void *in, size_t len)
{
	if (q->resp_len + len >= sizeof q->resp)
		len = sizeof q->resp - 1 - q->resp_len;
	memcpy(q->resp + q->resp_len, in, len);
	q->resp_len += len;
	q->resp[q->resp_len] = '\0';
}

static void req_free(struct req *q);

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct req *q = lws_get_opaque_user_data(wsi);
	char buf[LWS_PRE + 1024], *px = buf + LWS_PRE;
	int lenx = sizeof buf - LWS_PRE;

	if (!q)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return q->body ? append_headers(wsi, q, in, len) : 0;
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		return q->body ? write_body(wsi, q) : 0;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		q->status = (int)lws_http_client_http_response(wsi);
		break;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		take(q, in, len);
		break;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		return lws_http_client_read(wsi, &px, &lenx) < 0 ? -1 : 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		finish(q);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		q->status = 0;
		/* no CLOSED follows a connection error */
		__attribute__((fallthrough));
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		finish(q);
		lws_set_opaque_user_data(wsi, NULL);
		if (!q->starting)
			req_free(q);
		break;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols relay__http_protocol = {
	HTTP_PROTOCOL, http_cb, 0, 0, 0, NULL, 0
};

static void req_free(struct req *q)
{
	free(q->body);
	free(q);
}

/* Starts the request. Whatever happens, q ends in finish() and is freed:
 * here when lws failed (or finished) inside the connect call, otherwise by
 * the CLOSED callback. */
static void start(struct relay *r, struct req *q, const char *method, const char *path)
{
	struct lws_client_connect_info i;
	struct lws *wsi = NULL, *got;

	relay__http_connect_info(r, &i);
	i.method = method;
	i.path = path;
	i.protocol = HTTP_PROTOCOL;
	i.local_protocol_name = HTTP_PROTOCOL;
	i.opaque_user_data = q;
	i.pwsi = &wsi;
	q->starting = true;
	got = lws_client_connect_via_info(&i);
	q->starting = false;
	if (!got || q->done) {
		finish(q);
		req_free(q);
	}
}

int relay_pair(struct relay *r, const char *pair_code, const char *name, void *req)
{
	struct req *q = calloc(1, sizeof *q);
	cJSON *j = cJSON_CreateObject();

	if (!q || !j || !cJSON_AddStringToObject(j, "pair_code", pair_code) ||
	    !cJSON_AddStringToObject(j, "name", name) || !(q->body = cJSON_PrintUnformatted(j))) {
		cJSON_Delete(j);
		free(q);
		return SB_ENOMEM;
	}
	cJSON_Delete(j);
	q->r = r;
	q->kind = REQ_PAIR;
	q->user = req;
	start(r, q, "POST", "/api/v1/pair");
	return 0;
}

void relay_probe(struct relay *r)
{
	struct req *q = calloc(1, sizeof *q);

	if (!q)
		return;
	q->r = r;
	q->kind = REQ_HEALTH;
	start(r, q, "GET", "/healthz");
}
