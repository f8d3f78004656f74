/* SPDX-License-Identifier: MIT */
/* REST routing without libwebsockets: a static table of method + path pattern
 * ("/api/v1/sessions/{sid}/scans/{id}") matched segment by segment, with
 * {sid} and {id} captured and validated; plus the two small parsers the HTTP
 * layer needs, query integers and the Bearer token of an Authorization header.
 * Anything odd in a path (empty, "." or ".." segments, percent-encoding, over
 * 512 chars) is simply not found. */
#include <stdio.h>
#include <string.h>

#include "barcode.h"
#include "rest_route.h"
#include "sb_err.h"

#define PATH_MAX_LEN 512
#define SID_MAX_LEN (SB_ID_MAX - 1)
#define QUERY_INT_MAX_DIGITS 18
#define SEG_MAX 8                /* more segments than any route has */

struct route_def {
	enum http_method method;
	const char *pattern;
	enum rest_route route;
};

static const struct route_def routes[] = {
	{ HM_POST,   "/api/v1/sessions",                   RR_SESSIONS_CREATE },
	{ HM_GET,    "/api/v1/sessions/{sid}",             RR_SESSION_GET },
	{ HM_DELETE, "/api/v1/sessions/{sid}",             RR_SESSION_DELETE },
	{ HM_POST,   "/api/v1/sessions/{sid}/pair-code",   RR_PAIR_CODE },
	{ HM_GET,    "/api/v1/sessions/{sid}/qr.svg",      RR_QR_SVG },
	{ HM_POST,   "/api/v1/pair",                       RR_PAIR },
	{ HM_POST,   "/api/v1/sessions/{sid}/scans",       RR_SCAN_POST },
	{ HM_GET,    "/api/v1/sessions/{sid}/scans",       RR_SCANS_LIST },
	{ HM_POST,   "/api/v1/sessions/{sid}/ack",         RR_ACK },
	{ HM_GET,    "/api/v1/sessions/{sid}/scans/{id}",  RR_SCAN_STATUS },
	{ HM_POST,   "/api/v1/decode",                     RR_DECODE },
	{ HM_GET,    "/api/v1/sessions/{sid}/scans.csv",   RR_SCANS_CSV },
	{ HM_DELETE, "/api/v1/sessions/{sid}/scanners/{id}", RR_SCANNER_DELETE },
	{ HM_GET,    "/healthz",                           RR_HEALTHZ },
	{ HM_GET,    "/metrics",                           RR_METRICS },
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

static const char *const method_names[] = {
	[HM_GET] = "GET", [HM_POST] = "POST", [HM_DELETE] = "DELETE", [HM_PUT] = "PUT",
	[HM_PATCH] = "PATCH", [HM_OPTIONS] = "OPTIONS", [HM_HEAD] = "HEAD",
};

enum http_method http_method_parse(const char *name)
{
	for (int m = 0; name && m < HM_OTHER; m++)
		if (!strcmp(name, method_names[m]))
			return (enum http_method)m;
	return HM_OTHER;
}

const char *http_method_name(enum http_method m)
{
	if ((int)m < 0 || m >= HM_OTHER)
		return "OTHER";
	return method_names[m];
}

/* One path segment: s[0..len). */
struct seg {
	const char *s;
	size_t len;
};

/* Splits "/a/b" into segments after the leading '/'. Returns the count, or -1
 * if a segment is empty (also a trailing slash) or there are more than max. */
static int split_path(const char *path, struct seg *out, int max)
{
	int n = 0;
	const char *p = path + 1;

	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == 0 || n == max)
			return -1;
		out[n].s = p;
		out[n++].len = len;
		if (!end)
			return n;
		p = end + 1;
	}
}

static bool seg_is(const struct seg *g, const char *lit)
{
	return g->len == strlen(lit) && !memcmp(g->s, lit, g->len);
}

static bool sid_valid(const struct seg *g)
{
	if (g->len < 1 || g->len > SID_MAX_LEN)
		return false;
	for (size_t i = 0; i < g->len; i++) {
		char c = g->s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Matches one pattern segment against a path segment, capturing into m. */
static bool seg_match(const struct seg *pat, const struct seg *g, struct route_match *m)
{
	if (seg_is(pat, "{sid}")) {
		if (!sid_valid(g))
			return false;
		memcpy(m->sid, g->s, g->len);
		m->sid[g->len] = '\0';
		return true;
	}
	if (seg_is(pat, "{id}")) {
		if (g->len > SB_SCAN_ID_MAX || scan_id_valid(g->s, g->len) != 0)
			return false;
		memcpy(m->id, g->s, g->len);
		m->id[g->len] = '\0';
		return true;
	}
	return pat->len == g->len && !memcmp(pat->s, g->s, g->len);
}

/* Does the path (already split) fit pattern? Captures go into m. */
static bool pattern_match(const char *pattern, const struct seg *path, int n,
			  struct route_match *m)
{
	struct seg pat[SEG_MAX];
	int pn = split_path(pattern, pat, SEG_MAX);

	if (pn != n)
		return false;
	for (int i = 0; i < n; i++)
		if (!seg_match(&pat[i], &path[i], m))
			return false;
	return true;
}

/* Rejects what no route can be: wrong start, over PATH_MAX_LEN, '%' anywhere. */
static bool path_plausible(const char *path)
{
	return path && path[0] == '/' && strnlen(path, PATH_MAX_LEN + 1) <= PATH_MAX_LEN &&
	       !strchr(path, '%');
}

/* Splits path into segs; -1 for an empty, "." or ".." segment or too many. */
static int path_segments(const char *path, struct seg *segs)
{
	int n = split_path(path, segs, SEG_MAX);

	for (int i = 0; i < n; i++)
		if (seg_is(&segs[i], ".") || seg_is(&segs[i], ".."))
			return -1;
	return n;
}

/* Appends method to the ", "-separated list unless *seen already has it. */
static void allow_add(char *allow, size_t size, unsigned *seen, enum http_method method)
{
	size_t used = strlen(allow);

	if (*seen & (1u << method))
		return;
	*seen |= 1u << method;
	snprintf(allow + used, size - used, "%s%s", used ? ", " : "", http_method_name(method));
}

static bool method_fits(enum http_method want, enum http_method have)
{
	return want == have || (want == HM_HEAD && have == HM_GET);
}

int rest_route_match(enum http_method method, const char *path, struct route_match *m)
{
	struct seg segs[SEG_MAX];
	struct route_match cand;
	unsigned seen = 0;
	int n;

	memset(m, 0, sizeof *m);
	m->route = RR_COUNT;
	if (!path_plausible(path) || (n = path_segments(path, segs)) < 0)
		return SB_ENOTFOUND;
	for (size_t r = 0; r < ROUTE_COUNT; r++) {
		memset(&cand, 0, sizeof cand);
		if (!pattern_match(routes[r].pattern, segs, n, &cand))
			continue;
		if (method_fits(method, routes[r].method)) {
			cand.route = routes[r].route;
			*m = cand;
			return 0;
		}
		allow_add(m->allow, sizeof m->allow, &seen, routes[r].method);
	}
	return seen ? SB_EPROTO : SB_ENOTFOUND;
}

/* Parses "-?[0-9]{1,18}" exactly s[0..len). */
static int parse_int(const char *s, size_t len, int64_t *out)
{
	bool neg = len > 0 && s[0] == '-';
	size_t i = neg ? 1 : 0;
	int64_t v = 0;

	if (len - i < 1 || len - i > QUERY_INT_MAX_DIGITS)
		return SB_EINVAL;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SB_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

int query_get_int(const char *query, const char *name, int64_t *out)
{
	size_t name_len = name ? strlen(name) : 0;
	const char *p = query;

	if (!name_len)
		return SB_EINVAL;
	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t key_len = eq ? (size_t)(eq - p) : len;

		if (key_len == name_len && !memcmp(p, name, name_len)) {
			if (!eq)
				return SB_EINVAL;
			return parse_int(eq + 1, len - key_len - 1, out);
		}
		p = amp ? amp + 1 : NULL;
	}
	return SB_ENOTFOUND;
}

static bool ascii_prefix_ci(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++) {
		char c = *s;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != *prefix)
			return false;
	}
	return true;
}

const char *http_bearer_token(const char *value)
{
	const char *tok;

	if (!value || !ascii_prefix_ci(value, "bearer") || value[6] != ' ')
		return NULL;
	for (tok = value + 6; *tok == ' '; tok++)
		;
	if (!*tok)
		return NULL;
	for (const char *p = tok; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return NULL;
	return tok;
}
