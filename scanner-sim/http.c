/* SPDX-License-Identifier: MIT */
/* Blocking HTTP/1.1 client and the REST set-up calls of scanbridge-sim. Used
 * before the event loop starts (sessions, pairing) and between daemon restarts
 * (health checks), where blocking is harmless. https:// goes through OpenSSL
 * on the same blocking socket (its timeouts bound the handshake too). */
#include "http.h"

#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "grow.h"

/* One request's connection: a socket, with an SSL on it for https. */
struct http_conn {
	int fd;
	SSL *ssl;                /* NULL for http:// */
};

static char last_error[700];    /* fits the base, the path and a reason */

__attribute__((format(printf, 1, 2)))
static void set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
}

const char *http_error(void)
{
	return last_error[0] ? last_error : "no answer";
}

int sim_url_parse(const char *s, struct sim_url *u, const char **rest)
{
	const char *h, *end, *colon = NULL;
	size_t hlen;
	long port;

	memset(u, 0, sizeof *u);
	if (strncmp(s, "http://", 7) == 0) {
		h = s + 7;
		port = 80;
	} else if (strncmp(s, "https://", 8) == 0) {
		h = s + 8;
		port = 443;
		u->tls = true;
	} else {
		return -1;
	}
	if (*h == '[') {                       /* [v6]:port */
		end = strchr(h, ']');
		if (!end)
			return -1;
		hlen = (size_t)(end - h - 1);
		h++;
		end++;
		if (*end == ':')
			colon = end;
	} else {
		end = h + strcspn(h, ":/#?");
		hlen = (size_t)(end - h);
		if (*end == ':')
			colon = end;
	}
	if (hlen == 0 || hlen >= sizeof u->host)
		return -1;
	memcpy(u->host, h, hlen);
	if (colon) {
		char *pe;
		port = strtol(colon + 1, &pe, 10);
		if (pe == colon + 1 || port < 1 || port > 65535)
			return -1;
		end = pe;
	}
	u->port = (int)port;
	snprintf(u->base, sizeof u->base, strchr(u->host, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
		 u->tls ? "https" : "http", u->host, u->port);
	if (rest)
		*rest = end;
	return 0;
}

/* ---- TLS ------------------------------------------------------------------------ */

/* OpenSSL's reason for its last error, never NULL: the system error behind it
 * if there is one (a CA file that cannot be read), else its own. Clears
 * OpenSSL's error queue. */
static const char *ssl_reason(void)
{
	unsigned long e, last = 0;
	const char *r;

	while ((e = ERR_get_error()) != 0) {
		if (ERR_SYSTEM_ERROR(e)) {
			ERR_clear_error();
			return strerror(ERR_GET_REASON(e));
		}
		last = e;
	}
	r = last ? ERR_reason_error_string(last) : NULL;
	return r ? r : "unknown error";
}

/* The client SSL_CTX: one per process, made at the first https call for that
 * call's trust settings (every URL of one run has the same) and kept. Returns
 * NULL after set_error. */
static SSL_CTX *tls_ctx(const struct sim_url *u)
{
	static SSL_CTX *ctx;
	static const char *ctx_cafile;
	static bool ctx_insecure;
	SSL_CTX *c;

	if (ctx && ctx_cafile == u->cafile && ctx_insecure == u->insecure)
		return ctx;
	c = SSL_CTX_new(TLS_client_method());
	if (!c) {
		set_error("TLS: %s", ssl_reason());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	/* The daemon closes after each answer; a close without close_notify is an
	 * end of answer here (the body length is checked), not an error. */
	SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (!u->insecure) {
		int ok = u->cafile ? SSL_CTX_load_verify_locations(c, u->cafile, NULL)
				   : SSL_CTX_set_default_verify_paths(c);
		if (ok != 1) {
			set_error("cannot load the CA file %s: %s",
				  u->cafile ? u->cafile : "(system default)", ssl_reason());
			SSL_CTX_free(c);
			return NULL;
		}
		SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	}
	SSL_CTX_free(ctx);
	ctx = c;
	ctx_cafile = u->cafile;
	ctx_insecure = u->insecure;
	return ctx;
}

static bool is_ip_literal(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

const char *sim_tls_hint(long x509_err)
{
	if (x509_err == X509_V_ERR_HOSTNAME_MISMATCH || x509_err == X509_V_ERR_IP_ADDRESS_MISMATCH)
		return "the certificate is not for this host: use a name or address it lists, "
		       "or --insecure for tests";
	return "trust the daemon's CA with --cafile <data_dir>/tls/ca.pem, or --insecure "
	       "for tests";
}

/* Why SSL_connect failed, as one line into last_error. */
static void tls_connect_error(const struct sim_url *u, SSL *ssl, int rc)
{
	int saved_errno = errno;
	long vr = SSL_get_verify_result(ssl);
	unsigned long e = ERR_peek_last_error();
	int err = SSL_get_error(ssl, rc);
	char reason[256];

	if (!u->insecure && vr != X509_V_OK) {
		set_error("TLS handshake: certificate verify failed: %s (%s)",
			  X509_verify_cert_error_string(vr), sim_tls_hint(vr));
	} else if (e) {
		ERR_error_string_n(e, reason, sizeof reason);
		set_error("TLS handshake: %s%s", reason,
			  ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER
			  ? " (is this the daemon's https port?)" : "");
	} else {
		set_error("TLS handshake: %s",
			  err == SSL_ERROR_SYSCALL && saved_errno ? strerror(saved_errno)
			  : "the connection closed (is this the daemon's https port?)");
	}
	ERR_clear_error();
}

SSL *sim_tls_new(const struct sim_url *u, int fd)
{
	SSL_CTX *ctx = tls_ctx(u);
	bool ip = is_ip_literal(u->host);
	SSL *ssl;

	if (!ctx)
		return NULL;
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 ||
	    (!ip && SSL_set_tlsext_host_name(ssl, u->host) != 1)) {
		set_error("TLS: %s", ssl_reason());
		SSL_free(ssl);
		return NULL;
	}
	if (!u->insecure) {
		X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (ip ? X509_VERIFY_PARAM_set1_ip_asc(param, u->host) != 1
		       : SSL_set1_host(ssl, u->host) != 1) {
			set_error("TLS: cannot check the name %s", u->host);
			SSL_free(ssl);
			return NULL;
		}
	}
	return ssl;
}

/* Starts TLS on c->fd: SNI for names, the name or address checked against the
 * certificate, unless insecure. Returns 0 or -1 after set_error. */
static int tls_start(const struct sim_url *u, struct http_conn *c)
{
	int rc;

	c->ssl = sim_tls_new(u, c->fd);
	if (!c->ssl)
		return -1;
	ERR_clear_error();
	errno = 0;
	rc = SSL_connect(c->ssl);
	if (rc != 1) {
		tls_connect_error(u, c->ssl, rc);
		return -1;
	}
	return 0;
}

/* ---- the connection ------------------------------------------------------------- */

static int dial(const struct sim_url *u, int timeout_ms)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char port[16];
	int fd = -1, rc, err = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", u->port);
	rc = getaddrinfo(u->host, port, &hints, &res);
	if (rc != 0) {
		set_error("cannot resolve %s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		set_error("connect to %s: %s", u->base, strerror(err));
		errno = err;
	}
	return fd;
}

/* Connects, over TLS for https. Returns 0 or -1 after set_error. */
static int conn_open(const struct sim_url *u, int timeout_ms, struct http_conn *c)
{
	c->ssl = NULL;
	c->fd = dial(u, timeout_ms);
	if (c->fd < 0)
		return -1;
	if (u->tls) {
		/* The handshake's last flight, then the request, are small writes
		 * while data is in flight: Nagle would hold the request until the
		 * daemon's delayed ACK, 40 ms per call. */
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (tls_start(u, c) < 0)
			return -1;
	}
	return 0;
}

static void conn_close(struct http_conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);    /* no close_notify: the daemon closes after answering */
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

static int send_all(struct http_conn *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w;
		if (c->ssl) {
			size_t done = 0;
			w = SSL_write_ex(c->ssl, p, n, &done) == 1 ? (ssize_t)done : -1;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0) {
			set_error("send: %s", c->ssl ? "TLS write failed" : strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads up to n bytes: > 0, 0 at the end of the stream, -1 on an error. */
static ssize_t recv_some(struct http_conn *c, char *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	if (!c->ssl) {
		do
			r = recv(c->fd, p, n, 0);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			set_error("receive: %s", strerror(errno));
		return r;
	}
	if (SSL_read_ex(c->ssl, p, n, &got) == 1)
		return (ssize_t)got;
	if (SSL_get_error(c->ssl, 0) == SSL_ERROR_ZERO_RETURN)
		return 0;
	set_error("receive: %s", errno == EAGAIN ? "timed out" : "TLS read failed");
	return -1;
}

/* Reads the whole answer until EOF (the server closes: Connection: close), or
 * until the body announced by Content-Length is complete. */
static int read_answer(struct http_conn *c, char **out, size_t *out_len)
{
	size_t cap = 0, len = 0;
	char *buf = NULL;
	char *hend;

	for (;;) {
		ssize_t r;
		char *nb = grow_reserve(buf, &cap, len + 4096 + 1, 1, 8192);
		if (!nb)
			goto fail;
		buf = nb;
		r = recv_some(c, buf + len, cap - len - 1);
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		hend = strstr(buf, "\r\n\r\n");
		if (hend) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");
			if (cl && cl < hend) {
				size_t want = (size_t)strtoul(cl + 17, NULL, 10);
				if (len >= (size_t)(hend + 4 - buf) + want)
					break;
			}
		}
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
fail:
	free(buf);
	return -1;
}

/* Decodes a chunked body in place. */
static void unchunk(char *body)
{
	char *in = body, *outp = body;

	for (;;) {
		char *end;
		unsigned long n = strtoul(in, &end, 16);
		char *line_end = strstr(end, "\r\n");
		if (!line_end || n == 0)
			break;
		in = line_end + 2;
		if (strlen(in) < n)
			n = strlen(in);
		memmove(outp, in, n);
		outp += n;
		in += n;
		if (strncmp(in, "\r\n", 2) == 0)
			in += 2;
	}
	*outp = '\0';
}

int http_call(const struct sim_url *u, const char *method, const char *path,
	      const char *token, const char *body, int timeout_ms,
	      int *status, char **resp, int *retry_after)
{
	struct http_conn c = { -1, NULL };
	char head[2048];
	char *req = NULL, *ans = NULL, *hend, *ra, *te;
	size_t ans_len = 0, blen = body ? strlen(body) : 0;
	/* Host: the base without its scheme ("host:port", "[v6]:port") */
	const char *hostport = strstr(u->base, "://") + 3;
	int n;

	last_error[0] = '\0';
	if (conn_open(u, timeout_ms, &c) < 0) {
		conn_close(&c);
		return -1;
	}
	n = snprintf(head, sizeof head,
		     "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n%s%s%s\r\n",
		     method, path, hostport, blen, token ? "Authorization: Bearer " : "",
		     token ? token : "", token ? "\r\n" : "");
	/* head and body in one write (one TLS record): a second small write
	 * waits for the ACK of the first (Nagle against delayed ACK) */
	if (n < 0 || (size_t)n >= sizeof head || !(req = malloc((size_t)n + blen))) {
		set_error("%s%s: request too large", u->base, path);
		conn_close(&c);
		return -1;
	}
	memcpy(req, head, (size_t)n);
	if (blen)
		memcpy(req + n, body, blen);
	if (send_all(&c, req, (size_t)n + blen) < 0 || read_answer(&c, &ans, &ans_len) < 0) {
		free(req);
		conn_close(&c);
		return -1;
	}
	free(req);
	conn_close(&c);
	hend = strstr(ans, "\r\n\r\n");
	if (!hend || sscanf(ans, "HTTP/1.%*d %d", status) != 1) {
		set_error("%s%s: not an HTTP answer", u->base, path);
		free(ans);
		return -1;
	}
	*hend = '\0';
	if (retry_after) {
		ra = strcasestr(ans, "\r\nretry-after:");
		*retry_after = ra ? atoi(ra + 14) : 0;
	}
	te = strcasestr(ans, "\r\ntransfer-encoding: chunked");
	memmove(ans, hend + 4, ans_len - (size_t)(hend + 4 - ans) + 1);
	if (te)
		unchunk(ans);
	*resp = ans;
	return 0;
}

/* ---- REST ----------------------------------------------------------------- */

/* A JSON call that expects want_status; retries 429 after Retry-After. Returns
 * the parsed body (cJSON_Delete) or NULL after printing why. */
static cJSON *api_json(const struct sim_url *u, const char *method, const char *path,
		       const char *token, const char *body, int want_status)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		int status = 0, retry = 0;
		char *resp = NULL;
		cJSON *j;
		if (http_call(u, method, path, token, body, 10000, &status, &resp, &retry) < 0) {
			fprintf(stderr, "scanbridge-sim: %s %s%s: %s\n", method, u->base, path,
				http_error());
			return NULL;
		}
		if (status == 429) {
			free(resp);
			if (retry < 1)
				retry = 1;
			fprintf(stderr, "scanbridge-sim: %s %s: 429 rate_limited, retrying in %d s "
				"(raise the daemon's per-IP limits for big runs)\n", method, path, retry);
			sleep((unsigned)retry);
			continue;
		}
		if (status != want_status) {
			fprintf(stderr, "scanbridge-sim: %s %s%s: HTTP %d %.300s%s\n", method, u->base,
				path, status, resp, status / 100 == 3 && !u->tls
				? "(a redirect: the daemon serves HTTPS; use --url https://host:https_port)"
				: "");
			free(resp);
			return NULL;
		}
		j = cJSON_Parse(resp);
		free(resp);
		if (!cJSON_IsObject(j)) {
			fprintf(stderr, "scanbridge-sim: %s %s: answer is not a JSON object\n",
				method, path);
			cJSON_Delete(j);
			return NULL;
		}
		return j;
	}
	return NULL;
}

static int copy_str(const cJSON *o, const char *key, char *dst, size_t cap)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(it) || strlen(it->valuestring) >= cap) {
		fprintf(stderr, "scanbridge-sim: answer lacks a usable \"%s\"\n", key);
		return -1;
	}
	strcpy(dst, it->valuestring);
	return 0;
}

int api_create_session(const struct sim_url *u, const char *api_key,
		       struct sim_session_info *out)
{
	cJSON *j = api_json(u, "POST", "/api/v1/sessions", api_key, "{}", 201);
	const cJSON *exp;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!j)
		return -1;
	if (copy_str(j, "session", out->session, sizeof out->session) == 0 &&
	    copy_str(j, "desktop_token", out->desktop_token, sizeof out->desktop_token) == 0 &&
	    copy_str(j, "pair_code", out->pair_code, sizeof out->pair_code) == 0 &&
	    copy_str(j, "pair_url", out->pair_url, sizeof out->pair_url) == 0)
		rc = 0;
	exp = cJSON_GetObjectItemCaseSensitive(j, "expires_at");
	if (cJSON_IsNumber(exp))
		out->expires_at = (int64_t)exp->valuedouble;
	cJSON_Delete(j);
	return rc;
}

int api_pair_code(const struct sim_url *u, const struct sim_session_info *s, char code[64])
{
	char path[160];
	cJSON *j;
	int rc;

	snprintf(path, sizeof path, "/api/v1/sessions/%s/pair-code", s->session);
	j = api_json(u, "POST", path, s->desktop_token, NULL, 201);
	if (!j)
		return -1;
	rc = copy_str(j, "pair_code", code, 64);
	cJSON_Delete(j);
	return rc;
}

int api_pair(const struct sim_url *u, const char *pair_code, const char *name,
	     struct sim_pair_info *out)
{
	cJSON *req = cJSON_CreateObject(), *j;
	char *body;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!req)
		return -1;
	cJSON_AddStringToObject(req, "pair_code", pair_code);
	if (name && *name)
		cJSON_AddStringToObject(req, "name", name);
	body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!body)
		return -1;
	j = api_json(u, "POST", "/api/v1/pair", NULL, body, 200);
	free(body);
	if (!j)
		return -1;
	if (copy_str(j, "session", out->session, sizeof out->session) == 0 &&
	    copy_str(j, "scanner", out->scanner, sizeof out->scanner) == 0 &&
	    copy_str(j, "scanner_token", out->scanner_token, sizeof out->scanner_token) == 0)
		rc = 0;
	cJSON_Delete(j);
	return rc;
}

int api_healthz(const struct sim_url *u, int timeout_ms)
{
	int status = 0;
	char *resp = NULL;

	if (http_call(u, "GET", "/healthz", NULL, NULL, timeout_ms, &status, &resp, NULL) < 0)
		return -1;
	free(resp);
	if (status == 200)
		return 0;
	set_error("HTTP %d", status);
	return -1;
}
