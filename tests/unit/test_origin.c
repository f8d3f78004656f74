/* SPDX-License-Identifier: MIT */
/* Origin allow-list matching. */
#include "check.h"
#include "origin.h"

static void test_same_origin(void)
{
	const char *pub = "http://192.168.1.20:8080";

	CHECK(origin_allowed(NULL, NULL, pub, ""));
	CHECK(origin_allowed("", NULL, pub, ""));
	CHECK(origin_allowed("http://192.168.1.20:8080", NULL, pub, ""));
	CHECK(origin_allowed("HTTP://192.168.1.20:8080", NULL, pub, ""));
	CHECK(!origin_allowed("http://192.168.1.20:8081", NULL, pub, ""));
	CHECK(!origin_allowed("https://192.168.1.20:8080", NULL, pub, ""));
	CHECK(origin_allowed("https://scanbridge.local", NULL, "https://scanbridge.local:443", ""));
	CHECK(origin_allowed("http://box", NULL, "http://box/", ""));
	/* the Host the page was loaded from */
	CHECK(origin_allowed("http://127.0.0.1:9000", "127.0.0.1:9000", pub, ""));
	CHECK(!origin_allowed("http://evil.example", "127.0.0.1:9000", pub, ""));
	CHECK(origin_allowed("http://[::1]:9000", "[::1]:9000", pub, ""));
}

static void test_allow_list(void)
{
	const char *pub = "http://127.0.0.1:8080";
	const char *list = "https://pos.example, http://till.local:3000";

	CHECK(origin_allowed("https://pos.example", NULL, pub, list));
	CHECK(origin_allowed("https://pos.example:443", NULL, pub, list));
	CHECK(origin_allowed("http://till.local:3000", NULL, pub, list));
	CHECK(!origin_allowed("http://till.local", NULL, pub, list));
	CHECK(!origin_allowed("https://pos.example.evil", NULL, pub, list));
	CHECK(!origin_allowed("https://evil.example", NULL, pub, list));
	CHECK(!origin_allowed("null", NULL, pub, list));
	CHECK(origin_allowed("https://anything.example", NULL, pub, "*"));
	CHECK(!origin_allowed("javascript:alert(1)", NULL, pub, list));
}

TEST_MAIN(TEST(test_same_origin), TEST(test_allow_list))
