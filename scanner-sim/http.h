/* SPDX-License-Identifier: MIT */
/* A small blocking HTTP/1.1 client for the set-up calls of scanbridge-sim
 * (create sessions, pair scanners, health checks) made before or outside the
 * event loop, and the typed REST calls built on it. One connection per request
 * (Connection: close); Content-Length and chunked answers are both read. */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H
#include <stddef.h>
#include <stdint.h>

/* http://host[:port] — the base of every URL the simulator takes. */
struct sim_url {
	char host[256];
	int port;
	char base[300];      /* "http://host:port" */
};

/* Parses "http://host[:port][/path][#fragment]". *rest (may be NULL) points at
 * the path (or the end). IPv6 literals in brackets are accepted. Returns 0 or -1
 * (not http://, bad port, host too long). */
int sim_url_parse(const char *s, struct sim_url *u, const char **rest);

/* One request. body may be NULL; token (may be NULL) becomes a Bearer header.
 * On success returns 0 with *status set and *resp a malloc'd NUL-terminated
 * body (free()); *retry_after (may be NULL) is the Retry-After seconds or 0.
 * Returns -1 on a network error or timeout (nothing allocated). */
int http_call(const struct sim_url *u, const char *method, const char *path,
	      const char *token, const char *body, int timeout_ms,
	      int *status, char **resp, int *retry_after);

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
