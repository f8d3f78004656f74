/* SPDX-License-Identifier: MIT */
/* Fuzzes the REST parsers: the input is "METHOD\npath?query"; the method goes
 * to http_method_parse, the path to rest_route_match, the query to
 * query_get_int for after / wait / limit, and the whole input (NUL-terminated)
 * to http_bearer_token. Invariants come from rest_route.h. */
#include <string.h>

#include "fuzz.h"
#include "rest_route.h"
#include "sb_err.h"

#define QUERY_INT_LIMIT 999999999999999999LL /* 18 digits */

static int id_chars(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static void check_route(enum http_method method, const char *path)
{
	struct route_match m;
	int rc = rest_route_match(method, path, &m);

	FUZZ_ASSERT(rc == 0 || rc == SB_ENOTFOUND || rc == SB_EPROTO);
	FUZZ_ASSERT(memchr(m.sid, '\0', sizeof m.sid) && id_chars(m.sid));
	FUZZ_ASSERT(memchr(m.id, '\0', sizeof m.id) && id_chars(m.id));
	FUZZ_ASSERT(memchr(m.allow, '\0', sizeof m.allow) != NULL);
	if (rc == 0) {
		FUZZ_ASSERT((int)m.route >= 0 && m.route < RR_COUNT);
		FUZZ_ASSERT(path[0] == '/' && path[strlen(path) - 1] != '/');
		if (m.route != RR_SESSIONS_CREATE && m.route != RR_PAIR &&
		    m.route != RR_DECODE && m.route != RR_HEALTHZ && m.route != RR_METRICS)
			FUZZ_ASSERT(m.sid[0] != '\0' && strstr(path, m.sid) != NULL);
		if (m.route == RR_SCAN_STATUS)
			FUZZ_ASSERT(m.id[0] != '\0');
	} else if (rc == SB_EPROTO) {
		FUZZ_ASSERT(m.allow[0] != '\0');
	}
}

static void check_query(const char *query)
{
	static const char *const names[] = { "after", "wait", "limit" };
	int64_t v;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		int rc = query_get_int(query, names[i], &v);
		FUZZ_ASSERT(rc == 0 || rc == SB_ENOTFOUND || rc == SB_EINVAL);
		if (rc == 0)
			FUZZ_ASSERT(v >= -QUERY_INT_LIMIT && v <= QUERY_INT_LIMIT);
	}
}

static void check_bearer(const char *value)
{
	const char *tok = http_bearer_token(value);

	if (!tok)
		return;
	FUZZ_ASSERT(tok > value + 6 && tok < value + strlen(value));
	for (const char *p = tok; *p; p++)
		FUZZ_ASSERT((unsigned char)*p > ' ' && *p != 0x7f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *path, *query, *nl;
	enum http_method method;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	check_bearer(copy);

	nl = strchr(copy, '\n');
	path = nl ? nl + 1 : copy;
	if (nl)
		*nl = '\0';
	method = nl ? http_method_parse(copy) : HM_GET;
	FUZZ_ASSERT((int)method >= 0 && method <= HM_OTHER);
	FUZZ_ASSERT(http_method_name(method) != NULL);
	if ((query = strchr(path, '?')))
		*query++ = '\0';
	check_route(method, path);
	check_query(query);
	free(copy);
	return 0;
}
