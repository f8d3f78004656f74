/* SPDX-License-Identifier: MIT */
/* Blocking HTTP/1.1 client and the REST set-up calls of scanbridge-sim. Used
 * before the event loop starts (sessions, pairing) and between daemon restarts
 * (health checks), where blocking is harmless. */
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "grow.h"

int sim_url_parse(const char *s, struct sim_url *u, const char **rest)
{
	const char *h, *end, *colon = NULL;
	size_t hlen;
	long port = 80;

	memset(u, 0, sizeof *u);
	if (strncmp(s, "http://", 7) != 0)
		return -1;
	h = s + 7;
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
	snprintf(u->base, sizeof u->base, strchr(u->host, ':') ? "http://[%s]:%d" : "http://%s:%d",
		 u->host, u->port);
	if (rest)
		*rest = end;
	return 0;
}

static int dial(const struct sim_url *u, int timeout_ms)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char port[16];
	int fd = -1;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", u->port);
	if (getaddrinfo(u->host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads the whole answer until EOF (the server closes: Connection: close), or
 * until the body announced by Content-Length is complete. */
static int read_answer(int fd, char **out, size_t *out_len)
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
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
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
	char head[2048];
	char *ans = NULL, *hend, *ra, *te;
	size_t ans_len = 0, blen = body ? strlen(body) : 0;
	int fd, n;

	fd = dial(u, timeout_ms);
	if (fd < 0)
		return -1;
	n = snprintf(head, sizeof head,
		     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n%s%s%s\r\n",
		     method, path, u->host, u->port, blen, token ? "Authorization: Bearer " : "",
		     token ? token : "", token ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof head || send_all(fd, head, (size_t)n) < 0 ||
	    (blen && send_all(fd, body, blen) < 0) || read_answer(fd, &ans, &ans_len) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	hend = strstr(ans, "\r\n\r\n");
	if (!hend || sscanf(ans, "HTTP/1.%*d %d", status) != 1) {
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
				errno ? strerror(errno) : "no answer");
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
			fprintf(stderr, "scanbridge-sim: %s %s%s: HTTP %d %.300s\n", method, u->base,
				path, status, resp);
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
	return status == 200 ? 0 : -1;
}
