/* SPDX-License-Identifier: MIT */
/* Counters, gauges and histograms for /metrics, kept in static arrays (the event
 * loop is the only writer) and rendered in the Prometheus text format 0.0.4 with
 * HELP and TYPE lines. Errors answered to clients are counted per wire error
 * code (wire_err.h); anything else (a protocol violation, which closes rather
 * than answers `error`) counts as "other". */
#include "metrics.h"
#include "strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_err.h"
#include "wire_err.h"

#define HIST_BUCKETS 11 /* finite upper bounds; +Inf is the count */

static const double bucket_le[HIST_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
};

/* Every error code of the wire contract, then the catch-all. */
#define N_ERROR_CODES (SB_WIRE_N_ERRORS + 1)
#define ERROR_OTHER SB_WIRE_N_ERRORS

struct gauge_def { const char *name, *label, *help; };
struct metric_def { const char *name, *help; };

static const struct gauge_def gauge_defs[MG_COUNT] = {
	[MG_CONN_DESKTOP] = { "scanbridge_connections", "role=\"desktop\"",
			      "Open WebSocket connections by role." },
	[MG_CONN_SCANNER] = { "scanbridge_connections", "role=\"scanner\"", NULL },
	[MG_CONN_UNAUTH] = { "scanbridge_connections", "role=\"unauthenticated\"", NULL },
	[MG_SESSIONS_ACTIVE] = { "scanbridge_sessions_active", NULL, "Live sessions." },
	[MG_LONGPOLL_WAITERS] = { "scanbridge_longpoll_waiters", NULL,
				  "REST long-polls waiting for a scan." },
};

static const struct metric_def counter_defs[MC_COUNT] = {
	[MC_SCANS_RELAYED] = { "scanbridge_scans_relayed_total", "Scans stored and relayed." },
	[MC_SCANS_DUPLICATE] = { "scanbridge_scans_duplicate_total",
				 "Resent scans answered with their original seq." },
	[MC_SESSIONS_CREATED] = { "scanbridge_sessions_created_total", "Sessions created." },
	[MC_SESSIONS_RENEWED] = { "scanbridge_sessions_renewed_total", "Sessions in use renewed at their maximum age." },
	[MC_SESSIONS_EXPIRED] = { "scanbridge_sessions_expired_total", "Sessions expired." },
	[MC_SESSIONS_DELETED] = { "scanbridge_sessions_deleted_total",
				  "Sessions ended by DELETE." },
	[MC_SCANNERS_PAIRED] = { "scanbridge_scanners_paired_total", "Scanners paired." },
	[MC_DELIVERED] = { "scanbridge_scans_delivered_total",
			   "Scans acknowledged by a desktop." },
	[MC_COMMITS] = { "scanbridge_commits_total", "Group commits that succeeded." },
	[MC_COMMIT_FAILURES] = { "scanbridge_commit_failures_total",
				 "Group commits that failed and were rolled back." },
	[MC_HTTP_REQUESTS] = { "scanbridge_http_requests_total", "HTTP requests answered." },
	[MC_WS_MESSAGES_IN] = { "scanbridge_ws_messages_received_total",
				"WebSocket messages received." },
	[MC_WS_MESSAGES_OUT] = { "scanbridge_ws_messages_sent_total",
				 "WebSocket messages sent." },
	[MC_SLOW_CONSUMER_CLOSES] = { "scanbridge_slow_consumer_closes_total",
				      "Connections closed because their send queue overflowed." },
	[MC_FRAMES_DECODED] = { "scanbridge_frames_decoded_total",
				"Images (WebSocket frames and POST /decode) decoded, with or without a code." },
	[MC_FRAMES_FOUND] = { "scanbridge_frames_found_total",
			      "Decoded images in which at least one code was found." },
	[MC_FRAMES_DROPPED] = { "scanbridge_frames_dropped_total",
				"Waiting image frames replaced by a fresher one from the same connection." },
	[MC_FRAMES_REFUSED] = { "scanbridge_frames_refused_total",
				"Images refused: decoder busy, too large, not JPEG/PNG, or corrupt." },
};

static const struct metric_def hist_defs[MH_COUNT] = {
	[MH_RELAY_LATENCY] = { "scanbridge_relay_latency_seconds",
			       "Time from a scan's arrival to its forward after commit." },
	[MH_COMMIT_TIME] = { "scanbridge_commit_seconds", "Duration of a group commit." },
	[MH_DECODE_TIME] = { "scanbridge_decode_seconds",
			     "Time to load and decode one image on a worker thread." },
	[MH_CHECKPOINT_TIME] = { "scanbridge_wal_checkpoint_seconds",
				 "Duration of a WAL checkpoint the event loop ran itself (the WAL outgrew the checkpoint thread); the loop waits meanwhile." },
};

struct histogram {
	uint64_t bucket[HIST_BUCKETS]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

static int64_t gauges[MG_COUNT];
static int64_t counters[MC_COUNT];
static int64_t errors[N_ERROR_CODES];
static struct histogram hists[MH_COUNT];

void metrics_gauge_add(enum metric_gauge g, int64_t delta)
{
	if ((unsigned)g < MG_COUNT)
		gauges[g] += delta;
}

void metrics_gauge_set(enum metric_gauge g, int64_t v)
{
	if ((unsigned)g < MG_COUNT)
		gauges[g] = v;
}

void metrics_inc(enum metric_counter c)
{
	metrics_add(c, 1);
}

void metrics_add(enum metric_counter c, int64_t n)
{
	if ((unsigned)c < MC_COUNT && n > 0) /* counters never go down */
		counters[c] += n;
}

int64_t metrics_counter_value(enum metric_counter c)
{
	return (unsigned)c < MC_COUNT ? counters[c] : 0;
}

void metrics_error(enum sb_wire code)
{
	errors[(unsigned)code < SB_WIRE_N_ERRORS ? (unsigned)code : ERROR_OTHER]++;
}

void metrics_observe(enum metric_hist h, double seconds)
{
	struct histogram *hg;
	int i;

	if ((unsigned)h >= MH_COUNT || isnan(seconds))
		return;
	if (seconds < 0)
		seconds = 0; /* a clock step; the observation still happened */
	hg = &hists[h];
	for (i = 0; i < HIST_BUCKETS && seconds > bucket_le[i]; i++)
		;
	if (i < HIST_BUCKETS)
		hg->bucket[i]++;
	hg->count++;
	hg->sum += seconds;
}

void metrics_reset(void)
{
	memset(gauges, 0, sizeof gauges);
	memset(counters, 0, sizeof counters);
	memset(errors, 0, sizeof errors);
	memset(hists, 0, sizeof hists);
}

/* ---- rendering ---- */

/* Shortest text that reads back as the same double (Prometheus clients do this). */
static void fmt_double(char *buf, size_t size, double v)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void header(struct strbuf *b, const char *name, const char *help, const char *type)
{
	strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_gauges(struct strbuf *b)
{
	for (int g = 0; g < MG_COUNT; g++) {
		const struct gauge_def *d = &gauge_defs[g];
		if (d->help)
			header(b, d->name, d->help, "gauge");
		if (d->label)
			strbuf_printf(b, "%s{%s} %lld\n", d->name, d->label, (long long)gauges[g]);
		else
			strbuf_printf(b, "%s %lld\n", d->name, (long long)gauges[g]);
	}
}

static void render_counters(struct strbuf *b)
{
	for (int c = 0; c < MC_COUNT; c++) {
		header(b, counter_defs[c].name, counter_defs[c].help, "counter");
		strbuf_printf(b, "%s %lld\n", counter_defs[c].name, (long long)counters[c]);
	}
	header(b, "scanbridge_errors_total", "Errors answered to clients, by wire code.",
	       "counter");
	for (size_t i = 0; i < N_ERROR_CODES; i++)
		strbuf_printf(b, "scanbridge_errors_total{code=\"%s\"} %lld\n",
		    i == ERROR_OTHER ? "other" : sb_wire_name((enum sb_wire)i), (long long)errors[i]);
}

static void render_histogram(struct strbuf *b, const struct metric_def *d,
			     const struct histogram *h)
{
	char num[32];
	uint64_t cum = 0;

	header(b, d->name, d->help, "histogram");
	for (int i = 0; i < HIST_BUCKETS; i++) {
		cum += h->bucket[i];
		fmt_double(num, sizeof num, bucket_le[i]);
		strbuf_printf(b, "%s_bucket{le=\"%s\"} %llu\n", d->name, num, (unsigned long long)cum);
	}
	strbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", d->name, (unsigned long long)h->count);
	fmt_double(num, sizeof num, h->sum);
	strbuf_printf(b, "%s_sum %s\n%s_count %llu\n", d->name, num, d->name,
	    (unsigned long long)h->count);
}

int metrics_render(char **outp, size_t *len)
{
	struct strbuf b;

	*outp = NULL;
	if (strbuf_init(&b, 8192))
		return SB_ENOMEM;
	render_gauges(&b);
	render_counters(&b);
	for (int h = 0; h < MH_COUNT; h++)
		render_histogram(&b, &hist_defs[h], &hists[h]);
	return strbuf_finish(&b, outp, len);
}
