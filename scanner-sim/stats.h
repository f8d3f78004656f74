/* SPDX-License-Identifier: MIT */
/* Bookkeeping of every scan the simulator sends: when it was sent, acked and
 * delivered, with which seq, how often; the anomalies that break the delivery
 * guarantees (lost, duplicated, out of order); and exact nearest-rank
 * percentiles of the latencies. No I/O but the JSON printer, no clock: callers
 * pass times in microseconds of one monotonic clock. */
#ifndef SIM_STATS_H
#define SIM_STATS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	SIM_REC_DUP = 1,       /* delivered twice, or two different seqs for its id */
	SIM_REC_REJECTED = 2,  /* the server refused it for good (invalid_request...) */
};

/* One scan, indexed by its position in sim_stats.rec (the scan id embeds it). */
struct sim_rec {
	int64_t sent_us;       /* first send; 0 = not sent yet */
	int64_t ack_us;        /* first ack received; 0 = none */
	int64_t deliver_us;    /* first delivery to a desktop; 0 = none */
	int64_t ack_seq;       /* seq of the first ack; 0 = none */
	int64_t deliver_seq;   /* seq of the first delivery; 0 = none */
	uint16_t n_sent, n_ack, n_deliver, n_receipt;
	uint32_t flags;
};

struct sim_stats {
	struct sim_rec *rec;
	size_t n, cap;
	/* counters the callers bump directly */
	uint64_t out_of_order;  /* a desktop got seq <= one it already held */
	uint64_t gaps;          /* a desktop got seq > held + 1 */
	uint64_t rate_limited;  /* `error` rate_limited received */
	uint64_t errors;        /* other `error` messages received */
	uint64_t reconnects;    /* connections re-opened after a drop */
	uint64_t dup_acks;      /* acks with duplicate:true (resends) */
	/* kept by the functions below */
	uint64_t resent;        /* sends after the first for one scan */
	uint64_t sent_once, acked_once, delivered_once; /* scans with >= 1 of each */
	int64_t first_send_us, last_ack_us, last_deliver_us;
};

/* Percentiles of one latency distribution, in milliseconds. */
struct sim_pct {
	size_t n;
	double p50, p90, p99, p999, max;
};

struct sim_summary {
	uint64_t sent;          /* scans sent at least once */
	uint64_t acked;         /* scans acked at least once */
	uint64_t delivered;     /* scans delivered to a desktop at least once */
	uint64_t lost;          /* acked but never delivered */
	uint64_t duplicates;    /* scans flagged SIM_REC_DUP */
	uint64_t unacked;       /* sent, never acked, not rejected */
	uint64_t rejected;      /* refused by the server for good */
	uint64_t receipts;      /* scans with at least one `delivered` receipt */
	double throughput;      /* delivered / (last delivery - first send), per s */
	double ack_throughput;  /* acked / (last ack - first send), per s */
	struct sim_pct latency;     /* deliver_us - sent_us */
	struct sim_pct ack_latency; /* ack_us - sent_us */
};

void stats_init(struct sim_stats *st);
void stats_free(struct sim_stats *st);

/* Adds a scan record. Returns its index (>= 0), or -1 when out of memory. */
int64_t stats_add(struct sim_stats *st);

/* Returns the record at idx, or NULL when idx is out of range. */
struct sim_rec *stats_get(struct sim_stats *st, int64_t idx);

/* The scan was written to a socket at now_us (again, if n_sent > 0). */
void stats_sent(struct sim_stats *st, int64_t idx, int64_t now_us);

/* An ack for the scan arrived. A second ack with another seq flags the scan
 * SIM_REC_DUP (two seqs for one id). */
void stats_acked(struct sim_stats *st, int64_t idx, int64_t seq, bool duplicate,
		 int64_t now_us);

/* A desktop got the scan with seq (after de-dup on seq, see stats_seq_check).
 * A second delivery, or a seq other than the acked one, flags SIM_REC_DUP. */
void stats_delivered(struct sim_stats *st, int64_t idx, int64_t seq, int64_t now_us);

/* A `delivered` receipt reached the scanner. */
void stats_receipt(struct sim_stats *st, int64_t idx);

/* The server refused the scan for good; it is neither unacked nor lost. */
void stats_rejected(struct sim_stats *st, int64_t idx);

/* Order check for one desktop holding *held (its highest seq). Returns 0 when
 * seq is new (> *held; a jump past *held + 1 counts a gap) and sets *held = seq;
 * returns 1 when seq <= *held: counted out_of_order, the caller drops it. */
int stats_seq_check(struct sim_stats *st, int64_t *held, int64_t seq);

/* Nearest-rank percentile of sorted v[0..n): the value at rank ceil(k*n/100000)
 * (k in 1..100000, e.g. 99900 for p99.9), exact integer arithmetic. 0 if n == 0. */
int64_t stats_percentile(const int64_t *v, size_t n, unsigned k);

/* Sorts v[0..n) (microseconds) in place and fills *out in milliseconds. */
void stats_pct_fill(int64_t *v, size_t n, struct sim_pct *out);

/* Computes the summary. Returns 0, or -1 when out of memory. */
int stats_summarize(const struct sim_stats *st, struct sim_summary *out);

/* True when the summary breaks a guarantee: lost, duplicates or out_of_order. */
bool stats_failed(const struct sim_stats *st, const struct sim_summary *s);

/* Prints the core keys of the JSON contract, without braces:
 * "sent":..,"acked":..,"delivered":..,"lost":..,"duplicates":..,"out_of_order":..,
 * "throughput":..,"latency_ms":{..},"ack_latency_ms":{..} and the extra counters
 * (unacked, rejected, receipts, resent, dup_acks, gaps, rate_limited, errors,
 * reconnects, ack_throughput). */
void stats_print_json(FILE *f, const struct sim_stats *st, const struct sim_summary *s);

/* A human-readable report of the same figures. */
void stats_print_text(FILE *f, const struct sim_stats *st, const struct sim_summary *s);

#endif
