/* SPDX-License-Identifier: MIT */
/* Unit tests for scanner-sim/stats.c: exact nearest-rank percentiles on known
 * data, and the bookkeeping that detects lost, duplicated and out-of-order
 * scans. Also the client-side wire helpers the simulator is built on
 * (proto/client.c): encoders and the server-message decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/client.h"
#include "../../scanner-sim/stats.h"
#include "check.h"
#include "sb_err.h"

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

static void test_client_encoders(void)
{
	char buf[256];

	CHECK_EQ_INT(sb_cmsg_hello(buf, sizeof buf, "t.o.k", 7), (int)strlen(buf));
	CHECK_STR(buf, "{\"type\":\"hello\",\"token\":\"t.o.k\",\"last_seq\":7}");
	sb_cmsg_hello(buf, sizeof buf, "t", -1);
	CHECK_STR(buf, "{\"type\":\"hello\",\"token\":\"t\"}");
	sb_cmsg_scan(buf, sizeof buf, "a-1", "q\"\\\x01", SB_FMT_CODE_128, 1795444990000);
	CHECK_STR(buf, "{\"type\":\"scan\",\"id\":\"a-1\",\"code\":\"q\\\"\\\\\\u0001\","
		  "\"format\":\"CODE_128\",\"scanned_at\":1795444990000}");
	sb_cmsg_scan(buf, sizeof buf, "a-2", "4006381333931", SB_FMT_EAN_13, -1);
	CHECK_STR(buf, "{\"type\":\"scan\",\"id\":\"a-2\",\"code\":\"4006381333931\","
		  "\"format\":\"EAN_13\"}");
	sb_cmsg_ack(buf, sizeof buf, 42);
	CHECK_STR(buf, "{\"type\":\"ack\",\"seq\":42}");
	sb_cmsg_kick(buf, sizeof buf, "9VWh-hIkrgg-xUhY");
	CHECK_STR(buf, "{\"type\":\"kick\",\"scanner\":\"9VWh-hIkrgg-xUhY\"}");
	sb_cmsg_ping(buf, sizeof buf);
	CHECK_STR(buf, "{\"type\":\"ping\"}");
	CHECK_EQ_INT(sb_cmsg_ack(buf, 10, 42), SB_ETOOBIG);
	CHECK_EQ_INT(sb_cmsg_hello(buf, sizeof buf, "", 0), SB_EINVAL);
	/* what we encode, the daemon's decoder accepts */
	{
		struct sb_client_msg m;
		int n = sb_cmsg_scan(buf, sizeof buf, "k3f9-0001", "4006381333931",
				     SB_FMT_EAN_13, 5);
		CHECK_EQ_INT(sb_msg_decode(buf, (size_t)n, 8, &m, NULL), 0);
		CHECK_EQ_INT(m.type, SB_MSG_SCAN);
		CHECK_STR(m.scan.id, "k3f9-0001");
		CHECK_EQ_INT(m.scan.scanned_at, 5);
	}
}

static void test_client_decoder(void)
{
	struct sb_server_msg m;
	const char *w = "{\"type\":\"welcome\",\"role\":\"scanner\",\"session\":\"S\",\"last_seq\":3,"
			"\"delivered_seq\":2,\"expires_at\":1795445564770,\"scanner\":\"X\"}";
	const char *s = "{\"type\":\"scan\",\"seq\":1,\"id\":\"k3f9-0001\",\"code\":\"4006381333931\","
			"\"format\":\"EAN_13\",\"scanner\":\"X\",\"scanned_at\":null,"
			"\"received_at\":1795444965773}";
	const char *a = "{\"type\":\"ack\",\"id\":\"k3f9-0001\",\"seq\":1,\"duplicate\":true}";
	const char *e = "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"slow\",\"id\":\"z\"}";
	const char *j = "{\"type\":\"scanner_joined\",\"scanner\":{\"id\":\"X\",\"name\":\"Till 2\"}}";

	CHECK_EQ_INT(sb_srv_decode(w, strlen(w), &m), 0);
	CHECK_EQ_INT(m.type, SB_SRV_WELCOME);
	CHECK_STR(m.role, "scanner");
	CHECK_EQ_INT(m.last_seq, 3);
	CHECK_EQ_INT(m.delivered_seq, 2);
	CHECK_EQ_INT(m.expires_at, 1795445564770LL);
	CHECK_STR(m.scanner, "X");
	CHECK_EQ_INT(sb_srv_decode(s, strlen(s), &m), 0);
	CHECK_EQ_INT(m.type, SB_SRV_SCAN);
	CHECK_EQ_INT(m.seq, 1);
	CHECK_STR(m.id, "k3f9-0001");
	CHECK_EQ_INT(m.scan.format, SB_FMT_EAN_13);
	CHECK_EQ_INT(m.scan.scanned_at, -1);
	CHECK_EQ_INT(m.scan.received_at, 1795444965773LL);
	CHECK_EQ_INT(sb_srv_decode(a, strlen(a), &m), 0);
	CHECK(m.type == SB_SRV_ACK && m.duplicate && m.seq == 1);
	CHECK_EQ_INT(sb_srv_decode(e, strlen(e), &m), 0);
	CHECK(m.type == SB_SRV_ERROR && !strcmp(m.code, "rate_limited") && !strcmp(m.id, "z"));
	CHECK_EQ_INT(sb_srv_decode(j, strlen(j), &m), 0);
	CHECK(m.type == SB_SRV_SCANNER_JOINED && !strcmp(m.name, "Till 2"));
	CHECK_EQ_INT(sb_srv_decode("{\"type\":\"future\"}", 18, &m), 0);
	CHECK_EQ_INT(m.type, SB_SRV_UNKNOWN);
	CHECK_EQ_INT(sb_srv_decode("[1]", 3, &m), SB_EPROTO);
	CHECK_EQ_INT(sb_srv_decode("{\"type\":\"ack\"", 13, &m), SB_EPROTO);
	CHECK_EQ_INT(sb_srv_decode("{\"type\":\"ack\",\"seq\":1}", 22, &m), SB_EINVAL);
	CHECK_STR(sb_srv_type_name(SB_SRV_DELIVERED), "delivered");
}

TEST_MAIN(TEST(test_percentile_exact), TEST(test_pct_fill_sorts_and_converts),
	  TEST(test_clean_run), TEST(test_lost_and_unacked), TEST(test_duplicates),
	  TEST(test_seq_order), TEST(test_many_records), TEST(test_client_encoders),
	  TEST(test_client_decoder))
