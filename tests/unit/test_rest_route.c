/* SPDX-License-Identifier: MIT */
/* Unit tests for rest_route.c: every route, wrong methods with their Allow
 * list, paths that must not be found (bad ids, odd segments, encodings,
 * length), query integer parsing and Bearer token extraction. */
#include <string.h>

#include "check.h"
#include "rest_route.h"
#include "sb_err.h"

#define SID "AbC_de-0123456789xyzQ"
#define API "/api/v1"

struct route_case {
	enum http_method method;
	const char *path;
	enum rest_route route;
	const char *sid;
	const char *id;
};

static const struct route_case ok_cases[] = {
	{ HM_POST,   API "/sessions",                         RR_SESSIONS_CREATE, "", "" },
	{ HM_GET,    API "/sessions/" SID,                    RR_SESSION_GET,     SID, "" },
	{ HM_DELETE, API "/sessions/" SID,                    RR_SESSION_DELETE,  SID, "" },
	{ HM_POST,   API "/sessions/" SID "/pair-code",       RR_PAIR_CODE,       SID, "" },
	{ HM_GET,    API "/sessions/" SID "/qr.svg",          RR_QR_SVG,          SID, "" },
	{ HM_POST,   API "/pair",                             RR_PAIR,            "", "" },
	{ HM_POST,   API "/sessions/" SID "/scans",           RR_SCAN_POST,       SID, "" },
	{ HM_GET,    API "/sessions/" SID "/scans",           RR_SCANS_LIST,      SID, "" },
	{ HM_POST,   API "/sessions/" SID "/ack",             RR_ACK,             SID, "" },
	{ HM_GET,    API "/sessions/" SID "/scans/scan-1_A",  RR_SCAN_STATUS,     SID, "scan-1_A" },
	{ HM_POST,   API "/decode",                           RR_DECODE,          "", "" },
	{ HM_GET,    "/healthz",                              RR_HEALTHZ,         "", "" },
	{ HM_GET,    "/metrics",                              RR_METRICS,         "", "" },
};
#define N_OK (sizeof ok_cases / sizeof ok_cases[0])

static void test_every_route(void)
{
	struct route_match m;

	for (size_t i = 0; i < N_OK; i++) {
		const struct route_case *c = &ok_cases[i];

		CHECK_EQ_INT(rest_route_match(c->method, c->path, &m), 0);
		CHECK_EQ_INT(m.route, c->route);
		CHECK_STR(m.sid, c->sid);
		CHECK_STR(m.id, c->id);
	}
}

static void test_head_is_get(void)
{
	struct route_match m;

	CHECK_EQ_INT(rest_route_match(HM_HEAD, "/healthz", &m), 0);
	CHECK_EQ_INT(m.route, RR_HEALTHZ);
	CHECK_EQ_INT(rest_route_match(HM_HEAD, API "/sessions/" SID "/scans", &m), 0);
	CHECK_EQ_INT(m.route, RR_SCANS_LIST);
	CHECK_EQ_INT(rest_route_match(HM_HEAD, API "/sessions", &m), SB_EPROTO);
	CHECK_STR(m.allow, "POST");
}

/* Allow lists for each path, in table order; HEAD never listed. */
static const struct { const char *path; const char *allow; } allow_cases[] = {
	{ API "/sessions",                        "POST" },
	{ API "/sessions/" SID,                   "GET, DELETE" },
	{ API "/sessions/" SID "/pair-code",      "POST" },
	{ API "/sessions/" SID "/qr.svg",         "GET" },
	{ API "/pair",                            "POST" },
	{ API "/sessions/" SID "/scans",          "POST, GET" },
	{ API "/sessions/" SID "/ack",            "POST" },
	{ API "/sessions/" SID "/scans/abc",      "GET" },
	{ API "/decode",                          "POST" },
	{ "/healthz",                             "GET" },
	{ "/metrics",                             "GET" },
};

static void test_wrong_methods(void)
{
	static const enum http_method all[] = { HM_GET, HM_POST, HM_DELETE, HM_PUT,
		HM_PATCH, HM_OPTIONS, HM_HEAD, HM_OTHER };
	struct route_match m;

	for (size_t i = 0; i < sizeof allow_cases / sizeof allow_cases[0]; i++) {
		const char *allow = allow_cases[i].allow;
		for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
			enum http_method meth = all[k];
			const char *name = http_method_name(meth == HM_HEAD ? HM_GET : meth);
			bool allowed = meth != HM_OTHER && strstr(allow, name) != NULL;
			int rc = rest_route_match(meth, allow_cases[i].path, &m);

			if (allowed) {
				CHECK_EQ_INT(rc, 0);
				continue;
			}
			CHECK_EQ_INT(rc, SB_EPROTO);
			CHECK_STR(m.allow, allow);
			CHECK_EQ_INT(m.route, RR_COUNT);
		}
	}
}

static void test_not_found(void)
{
	static const char *const bad[] = {
		"", "/", "//", "api/v1/sessions", "/api", "/api/v1", "/api/v2/sessions",
		"/API/v1/sessions", "/api/v1/session", "/api/v1/sessions/", "/api/v1/sessions//",
		"/api//v1/sessions", "//api/v1/sessions", "/healthz/", "/healthz/x", "/metricsx",
		API "/sessions/" SID "/", API "/sessions/" SID "//scans",
		API "/sessions/" SID "/scans/", API "/sessions/" SID "/scans/y/z",
		API "/sessions/x/scans/y/z", API "/sessions/" SID "/unknown",
		API "/sessions/a.b", API "/sessions/.", API "/sessions/..",
		API "/sessions/" SID "/scans/..", API "/./sessions", API "/../v1/sessions",
		API "/sessions/%41bc", API "/sessions/" SID "/scans/a%20b", "/healthz%2f",
		API "/sessions/a b", API "/sessions/" SID "/scans/a!b", "/healthz?x=1",
		API "/sessions/" SID "/qr.svg/", API "/sessions/" SID "/qr.svgz",
	};
	struct route_match m;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = rest_route_match(HM_GET, bad[i], &m);
		if (rc != SB_ENOTFOUND)
			fprintf(stderr, "path \"%s\"\n", bad[i]);
		CHECK_EQ_INT(rc, SB_ENOTFOUND);
		CHECK_EQ_INT(rest_route_match(HM_POST, bad[i], &m), SB_ENOTFOUND);
		CHECK_STR(m.allow, "");
	}
	CHECK_EQ_INT(rest_route_match(HM_GET, NULL, &m), SB_ENOTFOUND);
}

static void test_id_lengths(void)
{
	char path[256], id[80];
	struct route_match m;

	memset(id, 'a', sizeof id);
	id[64] = '\0';                                    /* 64 chars: the maximum */
	snprintf(path, sizeof path, API "/sessions/" SID "/scans/%s", id);
	CHECK_EQ_INT(rest_route_match(HM_GET, path, &m), 0);
	CHECK_STR(m.id, id);
	id[64] = 'a';
	id[65] = '\0';                                    /* 65 chars */
	snprintf(path, sizeof path, API "/sessions/" SID "/scans/%s", id);
	CHECK_EQ_INT(rest_route_match(HM_GET, path, &m), SB_ENOTFOUND);

	id[63] = '\0';                                    /* sid of 63 chars: maximum */
	snprintf(path, sizeof path, API "/sessions/%s", id);
	CHECK_EQ_INT(rest_route_match(HM_GET, path, &m), 0);
	CHECK_STR(m.sid, id);
	id[63] = 'a';
	id[64] = '\0';                                    /* 64 chars: too long */
	snprintf(path, sizeof path, API "/sessions/%s", id);
	CHECK_EQ_INT(rest_route_match(HM_GET, path, &m), SB_ENOTFOUND);
	CHECK_EQ_INT(rest_route_match(HM_GET, API "/sessions/x/scans/y", &m), 0);
	CHECK_STR(m.sid, "x");
	CHECK_STR(m.id, "y");
}

static void test_path_length(void)
{
	char path[600];
	struct route_match m;
	size_t pre = strlen(API "/sessions/x/scans/");

	/* exactly 512 chars is allowed by length (still not found: id too long) */
	memset(path, 'a', sizeof path);
	memcpy(path, API "/sessions/x/scans/", pre);
	path[512] = '\0';
	CHECK_EQ_INT(rest_route_match(HM_GET, path, &m), SB_ENOTFOUND);
	/* a long path of many short segments */
	for (size_t i = 0; i < 599; i++)
		path[i] = i % 2 ? 'a' : '/';
	path[599] = '\0';
	CHECK_EQ_INT(rest_route_match(HM_GET, path, &m), SB_ENOTFOUND);
}

static void test_method_names(void)
{
	CHECK_EQ_INT(http_method_parse("GET"), HM_GET);
	CHECK_EQ_INT(http_method_parse("POST"), HM_POST);
	CHECK_EQ_INT(http_method_parse("DELETE"), HM_DELETE);
	CHECK_EQ_INT(http_method_parse("PUT"), HM_PUT);
	CHECK_EQ_INT(http_method_parse("PATCH"), HM_PATCH);
	CHECK_EQ_INT(http_method_parse("OPTIONS"), HM_OPTIONS);
	CHECK_EQ_INT(http_method_parse("HEAD"), HM_HEAD);
	CHECK_EQ_INT(http_method_parse("get"), HM_OTHER);
	CHECK_EQ_INT(http_method_parse("GETX"), HM_OTHER);
	CHECK_EQ_INT(http_method_parse(""), HM_OTHER);
	CHECK_EQ_INT(http_method_parse(NULL), HM_OTHER);
	CHECK_STR(http_method_name(HM_DELETE), "DELETE");
	CHECK_STR(http_method_name(HM_HEAD), "HEAD");
	CHECK_STR(http_method_name(HM_OTHER), "OTHER");
}

static void test_query_get_int(void)
{
	int64_t v = 77;

	CHECK_EQ_INT(query_get_int("after=5&wait=10", "after", &v), 0);
	CHECK_EQ_INT(v, 5);
	CHECK_EQ_INT(query_get_int("after=5&wait=10", "wait", &v), 0);
	CHECK_EQ_INT(v, 10);
	CHECK_EQ_INT(query_get_int("after=5&wait=10", "limit", &v), SB_ENOTFOUND);
	CHECK_EQ_INT(query_get_int("", "after", &v), SB_ENOTFOUND);
	CHECK_EQ_INT(query_get_int(NULL, "after", &v), SB_ENOTFOUND);
	CHECK_EQ_INT(query_get_int("after=5&after=6", "after", &v), 0);
	CHECK_EQ_INT(v, 5);
	CHECK_EQ_INT(query_get_int("xafter=5", "after", &v), SB_ENOTFOUND);
	CHECK_EQ_INT(query_get_int("afterx=5", "after", &v), SB_ENOTFOUND);
	CHECK_EQ_INT(query_get_int("xafter=5&after=9", "after", &v), 0);
	CHECK_EQ_INT(v, 9);
	CHECK_EQ_INT(query_get_int("a=1&&after=3&", "after", &v), 0);   /* empty pairs skipped */
	CHECK_EQ_INT(v, 3);
	CHECK_EQ_INT(query_get_int("after=-42", "after", &v), 0);
	CHECK_EQ_INT(v, -42);
	CHECK_EQ_INT(query_get_int("after=0", "after", &v), 0);
	CHECK_EQ_INT(v, 0);
	CHECK_EQ_INT(query_get_int("after=999999999999999999", "after", &v), 0);
	CHECK_EQ_INT(v, 999999999999999999LL);
	CHECK_EQ_INT(query_get_int("after=-999999999999999999", "after", &v), 0);
	CHECK_EQ_INT(v, -999999999999999999LL);
	v = 77;
	static const char *const bad[] = {
		"after=", "after", "after&wait=1", "after=-", "after=+5", "after= 5", "after=5 ",
		"after=5x", "after=0x10", "after=1e3", "after=5.0", "after=%35",
		"after=1000000000000000000", "after=9223372036854775808",
		"after=99999999999999999999999", "after=--5", "after=5=6",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = query_get_int(bad[i], "after", &v);
		if (rc != SB_EINVAL)
			fprintf(stderr, "query \"%s\"\n", bad[i]);
		CHECK_EQ_INT(rc, SB_EINVAL);
		CHECK_EQ_INT(v, 77);                      /* untouched on error */
	}
	CHECK_EQ_INT(query_get_int("after=x&after=5", "after", &v), SB_EINVAL);  /* first wins */
}

static void test_bearer(void)
{
	const char *h = "Bearer abc.def-ghi_jkl";

	CHECK(http_bearer_token(h) == h + 7);
	CHECK_STR(http_bearer_token("bearer tok"), "tok");
	CHECK_STR(http_bearer_token("BEARER tok"), "tok");
	CHECK_STR(http_bearer_token("Bearer    tok=="), "tok==");
	CHECK(http_bearer_token(NULL) == NULL);
	CHECK(http_bearer_token("") == NULL);
	CHECK(http_bearer_token("Bearer") == NULL);
	CHECK(http_bearer_token("Bearer ") == NULL);
	CHECK(http_bearer_token("Bearer  ") == NULL);
	CHECK(http_bearer_token("Bearertok") == NULL);
	CHECK(http_bearer_token("Bearer\ttok") == NULL);
	CHECK(http_bearer_token("Basic dXNlcjpwYXNz") == NULL);
	CHECK(http_bearer_token("Bear tok") == NULL);
	CHECK(http_bearer_token(" Bearer tok") == NULL);
	CHECK(http_bearer_token("Bearer tok en") == NULL);
	CHECK(http_bearer_token("Bearer tok ") == NULL);
	CHECK(http_bearer_token("Bearer tok\tx") == NULL);
	CHECK(http_bearer_token("Bearer tok\x7f") == NULL);
}

TEST_MAIN(TEST(test_every_route), TEST(test_head_is_get), TEST(test_wrong_methods),
	  TEST(test_not_found), TEST(test_id_lengths), TEST(test_path_length),
	  TEST(test_method_names), TEST(test_query_get_int), TEST(test_bearer))
