/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the REST handlers end to end: routing, query, bearer
 * token and JSON bodies go through rest_dispatch over a real store (temp dir),
 * real tokens and the session layer, then the group commit. Input: first byte
 * picks the token (none / desktop / scanner / garbage) and the method; then a
 * path-and-query line (under /api/v1/, {sid} replaced by the live session's
 * id); the rest is the body. Invariants: every answer has a status in
 * 200..599 and, for 4xx/5xx, a JSON error body. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "auth.h"
#include "batch.h"
#include "config.h"
#include "fuzz.h"
#include "relay.h"
#include "rest.h"
#include "sb_err.h"
#include "session.h"
#include "store.h"

static struct sb_config cfg;
static struct store *st;
static struct auth *au;
static struct session_opened opened;
static struct session_paired paired;
static char dir[] = "/tmp/sbfuzzrestXXXXXX";

static void schedule(void) {}

static void cleanup(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd)) {
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256], path[64];

	config_defaults(&cfg);
	config_finish(&cfg, err, sizeof(err));
	cfg.pair_attempts_per_ip_per_min = 1000000000;
	cfg.sessions_per_ip_per_min = 1000000000;
	cfg.max_sessions = 1000000;
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/f.db", dir);
	if (store_open(&st, path, SB_DURABILITY_NORMAL, err, sizeof(err)) ||
	    auth_open(&au, dir, err, sizeof(err)))
		abort();
	session_init(&cfg, st, au, schedule);
	relay_init(&cfg, st);
	rest_init(&cfg, st);
	if (session_open(&opened) || batch_flush() ||
	    session_pair(opened.pair_code, "fuzz", &paired) || batch_flush())
		abort();
	return 0;
}

/* Copies src into dst replacing each "{sid}" with the session id. */
static void expand(char *dst, size_t size, const char *src, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < size; i++) {
		if (i + 5 <= n && !memcmp(src + i, "{sid}", 5)) {
			int w = snprintf(dst + o, size - o, "%s", opened.sid);

			o += w > 0 ? (size_t)w : 0;
			i += 4;
			continue;
		}
		dst[o++] = src[i] ? src[i] : '_';
	}
	dst[o < size ? o : size - 1] = '\0';
}

static void check_answer(const struct rest_resp *rs)
{
	cJSON *o;

	FUZZ_ASSERT(rs->status >= 200 && rs->status <= 599);
	if (rs->status < 400)
		return;
	o = cJSON_ParseWithLength(rs->body, rs->len);
	FUZZ_ASSERT(o && cJSON_IsObject(cJSON_GetObjectItem(o, "error")));
	cJSON_Delete(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum http_method methods[] = { HM_GET, HM_POST, HM_DELETE, HM_PUT };
	struct rest_req rq;
	struct rest_resp rs;
	struct rest_poll lp;
	const char *nl, *p = (const char *)data + 1;
	size_t line;
	char path[400];

	if (size < 2)
		return 0;
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	memset(&lp, 0, sizeof(lp));
	rq.method = methods[data[0] & 3];
	rq.token = (data[0] >> 2 & 3) == 1 ? opened.desktop_token
		 : (data[0] >> 2 & 3) == 2 ? paired.scanner_token
		 : (data[0] >> 2 & 3) == 3 ? "x.y.z" : NULL;
	nl = memchr(p, '\n', size - 1);
	line = nl ? (size_t)(nl - p) : size - 1;
	expand(path, sizeof(path), p, line);
	snprintf(rq.path, sizeof(rq.path), "/api/v1/%s", path);
	char *q = strchr(rq.path, '?');
	if (q) {
		snprintf(rq.query, sizeof(rq.query), "%s", q + 1);
		*q = '\0';
	}
	rq.ip = "192.0.2.1";
	rq.body = nl ? nl + 1 : NULL;
	rq.body_len = nl ? size - 1 - line - 1 : 0;
	snprintf(rq.ctype, sizeof(rq.ctype), "%s", "application/json");
	if (rest_dispatch(&rq, &rs, &lp) == REST_PARKED) {
		session_waiter_cancel(&lp.w);
		rest_poll_finish(&lp, 0, &rs);
	}
	if (batch_flush() && rs.status < 400)
		rs.status = 503; /* the daemon answers a failed commit 503 */
	if (rs.status != 503 || rs.body)
		check_answer(&rs);
	rest_resp_clear(&rs);
	return 0;
}
