/* SPDX-License-Identifier: MIT */
/* A small blocking HTTP/1.1 client for the set-up calls of scanbridge-sim
 * (create sessions, pair scanners, health checks) made before or outside the
 * event loop, and the typed REST calls built on it. One connection per request
 * (Connection: close); Content-Length and chunked answers are both read.
 * https:// URLs go over TLS (OpenSSL): the daemon's certificate is verified
 * against the system store or --cafile, and its name against the URL's host
 * (SNI sent for names), unless --insecure. */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* http(s)://host[:port] — the base of every URL the simulator takes, and how
 * to trust the daemon when it is https (the WebSockets then go to wss://). */
struct sim_url {
	char host[256];
	int port;
	bool tls;            /* https:// (REST over TLS, WebSockets over wss://) */
	char base[300];      /* "http://host:port" or "https://host:port" */
	const char *cafile;  /* PEM CA(s) to trust instead of the system store; NULL:
			      * the system store. Not owned (an argv string). */
	bool insecure;       /* no certificate or name check: for tests only */
};

/* Parses "http[s]://host[:port][/path][#fragment]" (default port 80 or 443).
 * *rest (may be NULL) points at the path (or the end). IPv6 literals in
 * brackets are accepted. cafile and insecure are left NULL/false. Returns 0 or
 * -1 (another scheme, bad port, host too long). */
int sim_url_parse(const char *s, struct sim_url *u, const char **rest);

/* One request. body may be NULL; token (may be NULL) becomes a Bearer header.
 * On success returns 0 with *status set and *resp a malloc'd NUL-terminated
 * body (free()); *retry_after (may be NULL) is the Retry-After seconds or 0.
 * Returns -1 on a network, TLS or certificate error, or a timeout (nothing
 * allocated); http_error() then says which. */
int http_call(const struct sim_url *u, const char *method, const char *path,
	      const char *token, const char *body, int timeout_ms,
	      int *status, char **resp, int *retry_after);

/* Why the last http_call failed: "connection refused", "certificate verify
 * failed: self-signed certificate in certificate chain (trust the daemon's CA
 * with --cafile ...)", ... Static storage, valid until the next http_call. */
const char *http_error(void);

/* The advice printed after OpenSSL refused the daemon's certificate with
 * X509_V_ERR_* code x509_err (the REST client here and the WebSockets in
 * conn_sock.c say the same). A static string. */
const char *sim_tls_hint(long x509_err);

/* A client SSL on the connected socket fd for u (the process's one SSL_CTX,
 * shared with the REST calls): SNI for a name, the name or address checked
 * against the certificate unless u->insecure. The handshake is the caller's
 * (conn_sock.c runs it non-blocking). NULL after setting http_error(). */
struct ssl_st;
struct ssl_st *sim_tls_new(const struct sim_url *u, int fd);

/* ---- REST calls (docs/protocol.md). Each returns 0, or -1 after printing why
 * to stderr. 429 answers are retried after Retry-After (with a warning). */

struct sim_session_info {
	char session[64];
	char desktop_token[1100];
	char pair_code[64];
	char pair_url[512];
	int64_t expires_at;
};

struct sim_pair_info {
	char session[64];
	char scanner[64];
	char scanner_token[1100];
};

int api_create_session(const struct sim_url *u, const char *api_key,
		       struct sim_session_info *out);
/* A new pair code for the session (POST /sessions/{sid}/pair-code). */
int api_pair_code(const struct sim_url *u, const struct sim_session_info *s,
		  char code[64]);
int api_pair(const struct sim_url *u, const char *pair_code, const char *name,
	     struct sim_pair_info *out);
/* GET /healthz: 0 when it answers 200, else -1 (quietly). */
int api_healthz(const struct sim_url *u, int timeout_ms);

#endif
