/* SPDX-License-Identifier: MIT */
/* Unit tests for ratelimit.c: the token bucket's burst and refill, per-IP
 * one-minute windows with their Retry-After, connection counting, pruning and
 * reset. Every time is an explicit ms value (a fake clock). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "ratelimit.h"
#include "sb_err.h"

static int take_n(struct token_bucket *b, int n, int burst, int per_sec, int64_t now)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += bucket_take(b, burst, per_sec, now);
	return ok;
}

static void test_bucket_burst_then_refill(void)
{
	struct token_bucket b = { 0 };
	int64_t t = 1000000;

	CHECK_EQ_INT(take_n(&b, 100, 100, 20, t), 100);   /* zeroed: full at first take */
	CHECK(!bucket_take(&b, 100, 20, t));
	CHECK(!bucket_take(&b, 100, 20, t + 25));         /* 0.5 token */
	CHECK(bucket_take(&b, 100, 20, t + 50));          /* 0.5 + 0.5 after 50 ms */
	CHECK(!bucket_take(&b, 100, 20, t + 50));
	CHECK_EQ_INT(take_n(&b, 30, 100, 20, t + 1050), 20);  /* 1 s -> 20 tokens */
}

static void test_bucket_capped_at_burst(void)
{
	struct token_bucket b = { 0 };

	CHECK_EQ_INT(take_n(&b, 5, 5, 10, 0), 5);
	CHECK_EQ_INT(take_n(&b, 10, 5, 10, 3600000), 5);  /* an hour idle: still 5 */
}

static void test_bucket_fractional_and_backwards(void)
{
	struct token_bucket b = { 0 };

	CHECK_EQ_INT(take_n(&b, 2, 2, 1, 500), 2);
	CHECK(!bucket_take(&b, 2, 1, 400));               /* clock went back: no refill */
	CHECK(!bucket_take(&b, 2, 1, 1000));              /* 0.5 token */
	CHECK(bucket_take(&b, 2, 1, 1500));               /* 0.5 + 0.5 */
	CHECK(!bucket_take(&b, 2, 1, 1500));
}

static void test_window_limit_and_retry_after(void)
{
	int retry = -1;
	int64_t t = 5000000;

	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "10.0.0.1", 3, t + i, &retry), 0);
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "10.0.0.1", 3, t + 10, &retry), SB_ELIMIT);
	CHECK_EQ_INT(retry, 60);                          /* 59.99 s -> 60 */
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "10.0.0.1", 3, t + 30000, &retry), SB_ELIMIT);
	CHECK_EQ_INT(retry, 30);
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "10.0.0.1", 3, t + 58001, &retry), SB_ELIMIT);
	CHECK_EQ_INT(retry, 2);                           /* 1.999 s -> 2 */
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "10.0.0.1", 3, t + 59999, &retry), SB_ELIMIT);
	CHECK_EQ_INT(retry, 1);                           /* 1 ms left -> at least 1 */
	/* a hit at start + 60000 opens a new window */
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "10.0.0.1", 3, t + 60000, &retry), 0);
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "10.0.0.1", 3, t + 60001, &retry), 0);
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "10.0.0.1", 3, t + 60002, &retry), 0);
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "10.0.0.1", 3, t + 60003, &retry), SB_ELIMIT);
	CHECK_EQ_INT(retry, 60);
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "10.0.0.1", 3, t + 60003, NULL), SB_ELIMIT);
	iplimit_reset();
}

static void test_window_per_ip_and_kind(void)
{
	int retry = 0;

	CHECK_EQ_INT(iplimit_hit(IPW_SESSIONS, "a", 1, 0, &retry), 0);
	CHECK_EQ_INT(iplimit_hit(IPW_SESSIONS, "a", 1, 1, &retry), SB_ELIMIT);
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "a", 1, 1, &retry), 0);       /* other window */
	CHECK_EQ_INT(iplimit_hit(IPW_SESSIONS, "b", 1, 1, &retry), 0);   /* other ip */
	CHECK_EQ_INT(iplimit_entries(), 2);
	iplimit_reset();
	CHECK_EQ_INT(iplimit_entries(), 0);
}

static void test_long_ip_truncated(void)
{
	char a[100], b[100];
	int retry = 0;

	memset(a, 'x', 99);
	a[99] = '\0';
	memcpy(b, a, sizeof b);
	b[80] = 'y';                                      /* differs after char 63 */
	CHECK_EQ_INT(iplimit_hit(IPW_SESSIONS, a, 1, 0, &retry), 0);
	CHECK_EQ_INT(iplimit_hit(IPW_SESSIONS, b, 1, 0, &retry), SB_ELIMIT);
	CHECK_EQ_INT(iplimit_entries(), 1);
	b[80] = 'x';
	b[62] = 'y';                                      /* the 63rd char still counts */
	CHECK_EQ_INT(iplimit_hit(IPW_SESSIONS, b, 1, 0, &retry), 0);
	CHECK_EQ_INT(iplimit_entries(), 2);
	iplimit_reset();
}

static void test_conn_add_del_max(void)
{
	CHECK_EQ_INT(iplimit_conn_add("::1", 2), 0);
	CHECK_EQ_INT(iplimit_conn_add("::1", 2), 0);
	CHECK_EQ_INT(iplimit_conn_add("::1", 2), SB_ELIMIT);
	CHECK_EQ_INT(iplimit_conn_add("::2", 2), 0);
	iplimit_conn_del("::1");
	CHECK_EQ_INT(iplimit_conn_add("::1", 2), 0);       /* room again */
	CHECK_EQ_INT(iplimit_conn_add("::1", 2), SB_ELIMIT);
	iplimit_conn_del("::1");
	iplimit_conn_del("::1");
	iplimit_conn_del("::1");                          /* extra del: harmless */
	iplimit_conn_del("never-seen");
	CHECK_EQ_INT(iplimit_entries(), 1);               /* "::1" freed, "::2" held */
	CHECK_EQ_INT(iplimit_conn_add("::1", 1), 0);
	CHECK_EQ_INT(iplimit_conn_add("::1", 1), SB_ELIMIT);
	iplimit_reset();
	CHECK_EQ_INT(iplimit_entries(), 0);
}

static void test_prune(void)
{
	int retry = 0;

	CHECK_EQ_INT(iplimit_hit(IPW_SESSIONS, "w", 5, 1000, &retry), 0);  /* window only */
	CHECK_EQ_INT(iplimit_conn_add("c", 5), 0);                         /* conn only */
	CHECK_EQ_INT(iplimit_conn_add("both", 5), 0);
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "both", 5, 1000, &retry), 0);
	CHECK_EQ_INT(iplimit_entries(), 3);
	iplimit_prune(60999);                             /* windows still open */
	CHECK_EQ_INT(iplimit_entries(), 3);
	iplimit_prune(61000);                             /* "w" idle now */
	CHECK_EQ_INT(iplimit_entries(), 2);
	iplimit_conn_del("both");                         /* had a window: kept for prune */
	CHECK_EQ_INT(iplimit_entries(), 2);
	iplimit_prune(61000);
	CHECK_EQ_INT(iplimit_entries(), 1);
	CHECK_EQ_INT(iplimit_conn_add("c", 1), SB_ELIMIT); /* conn count survived prune */
	iplimit_conn_del("c");
	CHECK_EQ_INT(iplimit_entries(), 0);
	/* a pruned ip starts fresh */
	CHECK_EQ_INT(iplimit_hit(IPW_SESSIONS, "w", 1, 70000, &retry), 0);
	iplimit_reset();
}

static void test_many_ips_reset(void)
{
	char ip[32];
	int retry = 0;

	for (int i = 0; i < 5000; i++) {
		snprintf(ip, sizeof ip, "192.168.%d.%d", i / 256, i % 256);
		CHECK_EQ_INT(iplimit_hit(IPW_PAIR, ip, 1, 0, &retry), 0);
	}
	CHECK_EQ_INT(iplimit_entries(), 5000);
	CHECK_EQ_INT(iplimit_hit(IPW_PAIR, "192.168.3.7", 1, 0, &retry), SB_ELIMIT);
	iplimit_reset();
	CHECK_EQ_INT(iplimit_entries(), 0);
	iplimit_reset();                                  /* twice: fine */
}

/* One holder's window (a session's pair codes): zeroed is empty, a refused
 * event is not counted, and the window restarts a minute after it opened. */
static void test_holder_window(void)
{
	struct rate_window w = { 0 };
	int retry = 0;

	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(window_hit(&w, 3, 5000 + i, &retry), 0);
	CHECK_EQ_INT(window_hit(&w, 3, 5000, &retry), SB_ELIMIT);
	CHECK_EQ_INT(retry, 60);
	CHECK_EQ_INT(window_hit(&w, 3, 64001, &retry), SB_ELIMIT);
	CHECK_EQ_INT(retry, 1);
	CHECK_EQ_INT(window_hit(&w, 3, 64999, NULL), SB_ELIMIT);
	CHECK_EQ_INT(window_hit(&w, 3, 65000, &retry), 0);       /* a new window */
	CHECK_EQ_INT(w.count, 1);
}

TEST_MAIN(TEST(test_bucket_burst_then_refill), TEST(test_bucket_capped_at_burst),
	  TEST(test_bucket_fractional_and_backwards), TEST(test_window_limit_and_retry_after),
	  TEST(test_window_per_ip_and_kind), TEST(test_long_ip_truncated),
	  TEST(test_conn_add_del_max), TEST(test_prune), TEST(test_many_ips_reset),
	  TEST(test_holder_window))
