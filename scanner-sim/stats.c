/* SPDX-License-Identifier: MIT */
/* Scan bookkeeping and latency percentiles for scanbridge-sim: a growable array
 * of per-scan records (index = the number embedded in the scan id), updated as
 * sends, acks, deliveries and receipts happen, and summarised at the end. */
#include "stats.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

void stats_init(struct sim_stats *st)
{
	memset(st, 0, sizeof *st);
}

void stats_free(struct sim_stats *st)
{
	free(st->rec);
	memset(st, 0, sizeof *st);
}

int64_t stats_add(struct sim_stats *st)
{
	struct sim_rec *r = grow_reserve(st->rec, &st->cap, st->n + 1, sizeof *r, 1024);

	if (!r)
		return -1;
	st->rec = r;
	memset(&st->rec[st->n], 0, sizeof st->rec[0]);
	return (int64_t)st->n++;
}

struct sim_rec *stats_get(struct sim_stats *st, int64_t idx)
{
	if (idx < 0 || (size_t)idx >= st->n)
		return NULL;
	return &st->rec[idx];
}

void stats_sent(struct sim_stats *st, int64_t idx, int64_t now_us)
{
	struct sim_rec *r = stats_get(st, idx);

	if (!r)
		return;
	if (r->n_sent == 0) {
		st->sent_once++;
		r->sent_us = now_us;
		if (!st->first_send_us || now_us < st->first_send_us)
			st->first_send_us = now_us;
	} else {
		st->resent++;
	}
	if (r->n_sent < UINT16_MAX)
		r->n_sent++;
}

void stats_acked(struct sim_stats *st, int64_t idx, int64_t seq, bool duplicate,
		 int64_t now_us)
{
	struct sim_rec *r = stats_get(st, idx);

	if (!r)
		return;
	if (duplicate)
		st->dup_acks++;
	if (r->n_ack == 0) {
		st->acked_once++;
		r->ack_us = now_us;
		r->ack_seq = seq;
		if (now_us > st->last_ack_us)
			st->last_ack_us = now_us;
	} else if (r->ack_seq != seq) {
		r->flags |= SIM_REC_DUP;
	}
	if (r->deliver_seq && r->deliver_seq != seq)
		r->flags |= SIM_REC_DUP;
	if (r->n_ack < UINT16_MAX)
		r->n_ack++;
}

void stats_delivered(struct sim_stats *st, int64_t idx, int64_t seq, int64_t now_us)
{
	struct sim_rec *r = stats_get(st, idx);

	if (!r)
		return;
	if (r->n_deliver == 0) {
		st->delivered_once++;
		r->deliver_us = now_us;
		r->deliver_seq = seq;
		if (now_us > st->last_deliver_us)
			st->last_deliver_us = now_us;
	} else {
		r->flags |= SIM_REC_DUP;
	}
	if (r->ack_seq && r->ack_seq != seq)
		r->flags |= SIM_REC_DUP;
	if (r->n_deliver < UINT16_MAX)
		r->n_deliver++;
}

void stats_receipt(struct sim_stats *st, int64_t idx)
{
	struct sim_rec *r = stats_get(st, idx);

	if (r && r->n_receipt < UINT16_MAX)
		r->n_receipt++;
}

void stats_rejected(struct sim_stats *st, int64_t idx)
{
	struct sim_rec *r = stats_get(st, idx);

	if (r)
		r->flags |= SIM_REC_REJECTED;
}

int stats_seq_check(struct sim_stats *st, int64_t *held, int64_t seq)
{
	if (seq <= *held) {
		st->out_of_order++;
		return 1;
	}
	if (seq > *held + 1)
		st->gaps++;
	*held = seq;
	return 0;
}

/* ---- percentiles ------------------------------------------------------------- */

int64_t stats_percentile(const int64_t *v, size_t n, unsigned k)
{
	uint64_t rank;

	if (n == 0)
		return 0;
	if (k > 100000)
		k = 100000;
	rank = ((uint64_t)k * n + 99999) / 100000;   /* ceil(k * n / 100000) */
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

void stats_pct_fill(int64_t *v, size_t n, struct sim_pct *out)
{
	memset(out, 0, sizeof *out);
	out->n = n;
	if (n == 0)
		return;
	qsort(v, n, sizeof *v, cmp_i64);
	out->p50 = (double)stats_percentile(v, n, 50000) / 1000.0;
	out->p90 = (double)stats_percentile(v, n, 90000) / 1000.0;
	out->p99 = (double)stats_percentile(v, n, 99000) / 1000.0;
	out->p999 = (double)stats_percentile(v, n, 99900) / 1000.0;
	out->max = (double)v[n - 1] / 1000.0;
}

/* ---- summary ----------------------------------------------------------------- */

static double per_second(uint64_t count, int64_t from_us, int64_t to_us)
{
	if (count == 0 || to_us <= from_us)
		return 0.0;
	return (double)count * 1e6 / (double)(to_us - from_us);
}

int stats_summarize(const struct sim_stats *st, struct sim_summary *out)
{
	int64_t *lat = NULL, *ack = NULL;
	size_t n_lat = 0, n_ack = 0;

	memset(out, 0, sizeof *out);
	if (st->n) {
		lat = malloc(st->n * sizeof *lat);
		ack = malloc(st->n * sizeof *ack);
		if (!lat || !ack) {
			free(lat);
			free(ack);
			return -1;
		}
	}
	for (size_t i = 0; i < st->n; i++) {
		const struct sim_rec *r = &st->rec[i];
		bool rejected = r->flags & SIM_REC_REJECTED;
		if (r->n_sent)
			out->sent++;
		if (r->n_ack) {
			out->acked++;
			ack[n_ack++] = r->ack_us - r->sent_us;
		} else if (r->n_sent && !rejected) {
			out->unacked++;
		}
		if (r->n_deliver) {
			out->delivered++;
			lat[n_lat++] = r->deliver_us - r->sent_us;
		} else if (r->n_ack) {
			out->lost++;
		}
		if (r->flags & SIM_REC_DUP)
			out->duplicates++;
		if (rejected)
			out->rejected++;
		if (r->n_receipt)
			out->receipts++;
	}
	stats_pct_fill(lat, n_lat, &out->latency);
	stats_pct_fill(ack, n_ack, &out->ack_latency);
	free(lat);
	free(ack);
	out->throughput = per_second(out->delivered, st->first_send_us, st->last_deliver_us);
	out->ack_throughput = per_second(out->acked, st->first_send_us, st->last_ack_us);
	return 0;
}

bool stats_failed(const struct sim_stats *st, const struct sim_summary *s)
{
	return s->lost || s->duplicates || st->out_of_order;
}

static void print_pct(FILE *f, const char *key, const struct sim_pct *p)
{
	fprintf(f, "\"%s\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}",
		key, p->p50, p->p90, p->p99, p->p999, p->max);
}

void stats_print_json(FILE *f, const struct sim_stats *st, const struct sim_summary *s)
{
	fprintf(f, "\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"delivered\":%" PRIu64
		",\"lost\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"out_of_order\":%" PRIu64
		",\"throughput\":%.1f,",
		s->sent, s->acked, s->delivered, s->lost, s->duplicates, st->out_of_order,
		s->throughput);
	print_pct(f, "latency_ms", &s->latency);
	fputc(',', f);
	print_pct(f, "ack_latency_ms", &s->ack_latency);
	fprintf(f, ",\"unacked\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"receipts\":%" PRIu64
		",\"resent\":%" PRIu64 ",\"dup_acks\":%" PRIu64 ",\"gaps\":%" PRIu64
		",\"rate_limited\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"reconnects\":%" PRIu64
		",\"ack_throughput\":%.1f",
		s->unacked, s->rejected, s->receipts, st->resent, st->dup_acks, st->gaps,
		st->rate_limited, st->errors, st->reconnects, s->ack_throughput);
}

static void text_pct(FILE *f, const char *label, const struct sim_pct *p)
{
	fprintf(f, "%-22s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms (n=%zu)\n",
		label, p->p50, p->p90, p->p99, p->p999, p->max, p->n);
}

void stats_print_text(FILE *f, const struct sim_stats *st, const struct sim_summary *s)
{
	fprintf(f, "sent %" PRIu64 "  acked %" PRIu64 "  delivered %" PRIu64 "  lost %" PRIu64
		"  duplicates %" PRIu64 "  out-of-order %" PRIu64 "\n",
		s->sent, s->acked, s->delivered, s->lost, s->duplicates, st->out_of_order);
	fprintf(f, "unacked %" PRIu64 "  rejected %" PRIu64 "  receipts %" PRIu64 "  resent %"
		PRIu64 "  gaps %" PRIu64 "  rate_limited %" PRIu64 "  errors %" PRIu64
		"  reconnects %" PRIu64 "\n",
		s->unacked, s->rejected, s->receipts, st->resent, st->gaps, st->rate_limited,
		st->errors, st->reconnects);
	fprintf(f, "throughput %.1f scans/s delivered, %.1f scans/s acked\n",
		s->throughput, s->ack_throughput);
	text_pct(f, "scan->desktop latency", &s->latency);
	text_pct(f, "ack latency", &s->ack_latency);
}
