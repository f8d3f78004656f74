/* SPDX-License-Identifier: MIT */
/* Unit tests for scanner-sim/stats.c: exact nearest-rank percentiles on known
 * data, and the bookkeeping that detects lost, duplicated and out-of-order
 * scans. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner-sim/stats.h"
#include "check.h"

static void test_percentile_exact(void)
{
	int64_t v[100];

	for (int i = 0; i < 100; i++)
		v[i] = i + 1;                       /* 1..100 */
	CHECK_EQ_INT(stats_percentile(v, 100, 50000), 50);
	CHECK_EQ_INT(stats_percentile(v, 100, 90000), 90);
	CHECK_EQ_INT(stats_percentile(v, 100, 99000), 99);   /* no float rounding to 100 */
	CHECK_EQ_INT(stats_percentile(v, 100, 99900), 100);
	CHECK_EQ_INT(stats_percentile(v, 100, 100000), 100);
	CHECK_EQ_INT(stats_percentile(v, 100, 1), 1);
	CHECK_EQ_INT(stats_percentile(v, 1, 50000), 1);
	CHECK_EQ_INT(stats_percentile(v, 0, 50000), 0);
	/* 1000 values: p99.9 is the 999th, not the max */
	{
		int64_t *w = malloc(1000 * sizeof *w);
		for (int i = 0; i < 1000; i++)
			w[i] = (i + 1) * 10;
		CHECK_EQ_INT(stats_percentile(w, 1000, 99900), 9990);
		CHECK_EQ_INT(stats_percentile(w, 1000, 99000), 9900);
		CHECK_EQ_INT(stats_percentile(w, 1000, 50000), 5000);
		free(w);
	}
	/* odd count: ceil */
	CHECK_EQ_INT(stats_percentile(v, 3, 50000), 2);
	CHECK_EQ_INT(stats_percentile(v, 7, 90000), 7);
}

static void test_pct_fill_sorts_and_converts(void)
{
	int64_t v[] = { 5000, 1000, 3000, 2000, 4000 };   /* microseconds */
	struct sim_pct p;

	stats_pct_fill(v, 5, &p);
	CHECK_EQ_INT(p.n, 5);
	CHECK(p.p50 == 3.0);
	CHECK(p.p90 == 5.0);
	CHECK(p.p99 == 5.0);
	CHECK(p.max == 5.0);
	CHECK_EQ_INT(v[0], 1000);
	stats_pct_fill(v, 0, &p);
	CHECK_EQ_INT(p.n, 0);
	CHECK(p.max == 0.0);
}

/* n scans sent at t = 1000 * i us, acked 500 us and delivered 1500 us later. */
static void fill(struct sim_stats *st, int n)
{
	for (int i = 0; i < n; i++) {
		int64_t idx = stats_add(st), t = 1000 * (i + 1);
		CHECK_EQ_INT(idx, i);
		stats_sent(st, idx, t);
		stats_acked(st, idx, i + 1, false, t + 500);
		stats_delivered(st, idx, i + 1, t + 1500);
		stats_receipt(st, idx);
	}
}

static void test_clean_run(void)
{
	struct sim_stats st;
	struct sim_summary s;

	stats_init(&st);
	fill(&st, 10);
	CHECK_EQ_INT(stats_summarize(&st, &s), 0);
	CHECK_EQ_INT(s.sent, 10);
	CHECK_EQ_INT(s.acked, 10);
	CHECK_EQ_INT(s.delivered, 10);
	CHECK_EQ_INT(s.lost, 0);
	CHECK_EQ_INT(s.duplicates, 0);
	CHECK_EQ_INT(s.unacked, 0);
	CHECK_EQ_INT(s.receipts, 10);
	CHECK(s.latency.p50 == 1.5 && s.latency.max == 1.5);
	CHECK(s.ack_latency.p99 == 0.5);
	/* 10 deliveries from the first send (1000 us) to the last (11500 us) */
	CHECK(s.throughput > 952.3 && s.throughput < 952.4);
	CHECK(!stats_failed(&st, &s));
	CHECK_EQ_INT(st.sent_once, 10);
	CHECK_EQ_INT(st.acked_once, 10);
	CHECK_EQ_INT(st.delivered_once, 10);
	stats_free(&st);
}

static void test_lost_and_unacked(void)
{
	struct sim_stats st;
	struct sim_summary s;
	int64_t a, b, c;

	stats_init(&st);
	a = stats_add(&st);
	b = stats_add(&st);
	c = stats_add(&st);
	stats_sent(&st, a, 10);
	stats_acked(&st, a, 1, false, 20);   /* acked, never delivered: lost */
	stats_sent(&st, b, 10);              /* never acked: unacked, not lost */
	stats_sent(&st, c, 10);
	stats_rejected(&st, c);              /* refused for good: neither */
	stats_summarize(&st, &s);
	CHECK_EQ_INT(s.sent, 3);
	CHECK_EQ_INT(s.acked, 1);
	CHECK_EQ_INT(s.lost, 1);
	CHECK_EQ_INT(s.unacked, 1);
	CHECK_EQ_INT(s.rejected, 1);
	CHECK(stats_failed(&st, &s));
	stats_free(&st);
}

static void test_duplicates(void)
{
	struct sim_stats st;
	struct sim_summary s;
	int64_t a, b, c, d;

	stats_init(&st);
	a = stats_add(&st);
	b = stats_add(&st);
	c = stats_add(&st);
	d = stats_add(&st);
	for (int64_t i = a; i <= d; i++)
		stats_sent(&st, i, 1);
	/* a: delivered twice with the same seq */
	stats_acked(&st, a, 1, false, 2);
	stats_delivered(&st, a, 1, 3);
	stats_delivered(&st, a, 1, 4);
	/* b: two different seqs in its acks (a resend stored again) */
	stats_acked(&st, b, 2, false, 2);
	stats_acked(&st, b, 3, true, 5);
	stats_delivered(&st, b, 2, 3);
	/* c: delivered with a seq other than the acked one */
	stats_acked(&st, c, 4, false, 2);
	stats_delivered(&st, c, 5, 3);
	/* d: resent, acked twice with its original seq: fine */
	stats_sent(&st, d, 6);
	stats_acked(&st, d, 6, false, 2);
	stats_acked(&st, d, 6, true, 7);
	stats_delivered(&st, d, 6, 3);
	stats_summarize(&st, &s);
	CHECK_EQ_INT(s.duplicates, 3);
	CHECK_EQ_INT(s.delivered, 4);
	CHECK_EQ_INT(s.lost, 0);
	CHECK_EQ_INT(st.resent, 1);
	CHECK_EQ_INT(st.dup_acks, 2);
	CHECK(stats_failed(&st, &s));
	CHECK(stats_get(&st, d)->n_sent == 2);
	CHECK(stats_get(&st, 99) == NULL);
	stats_free(&st);
}

static void test_seq_order(void)
{
	struct sim_stats st;
	struct sim_summary s;
	int64_t held = 0;

	stats_init(&st);
	CHECK_EQ_INT(stats_seq_check(&st, &held, 1), 0);
	CHECK_EQ_INT(stats_seq_check(&st, &held, 2), 0);
	CHECK_EQ_INT(stats_seq_check(&st, &held, 2), 1);    /* again: dropped */
	CHECK_EQ_INT(stats_seq_check(&st, &held, 1), 1);    /* backwards: dropped */
	CHECK_EQ_INT(stats_seq_check(&st, &held, 5), 0);    /* gap */
	CHECK_EQ_INT(held, 5);
	CHECK_EQ_INT(st.out_of_order, 2);
	CHECK_EQ_INT(st.gaps, 1);
	stats_summarize(&st, &s);
	CHECK(stats_failed(&st, &s));
	stats_free(&st);
}

static void test_many_records(void)
{
	struct sim_stats st;
	struct sim_summary s;

	stats_init(&st);
	fill(&st, 5000);                     /* grows the array several times */
	stats_summarize(&st, &s);
	CHECK_EQ_INT(s.delivered, 5000);
	CHECK_EQ_INT(stats_get(&st, 4999)->deliver_seq, 5000);
	stats_free(&st);
}

TEST_MAIN(TEST(test_percentile_exact), TEST(test_pct_fill_sorts_and_converts),
	  TEST(test_clean_run), TEST(test_lost_and_unacked), TEST(test_duplicates),
	  TEST(test_seq_order), TEST(test_many_records))
