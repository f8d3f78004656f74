/* SPDX-License-Identifier: MIT */
/* Unit tests for metrics.c: exact Prometheus text lines after updates, bucket
 * cumulativity, _sum/_count/+Inf, error labels, and the HELP/TYPE framing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

static char *rendered;

static void render(void)
{
	size_t len = 0;

	free(rendered);
	rendered = NULL;
	CHECK_EQ_INT(metrics_render(&rendered, &len), 0);
	CHECK(rendered != NULL);
	if (rendered)
		CHECK_EQ_INT(strlen(rendered), len);
}

/* The line must appear whole: preceded by start or '\n', followed by '\n'. */
static int has_line(const char *line)
{
	size_t n = strlen(line);

	for (const char *p = rendered; p && (p = strstr(p, line)) != NULL; p++)
		if ((p == rendered || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

#define CHECK_LINE(l) do { if (!has_line(l)) { check_failures_++; \
	fprintf(stderr, "%s:%d: missing line: %s\n", __FILE__, __LINE__, l); } } while (0)

static void test_zero_render(void)
{
	metrics_reset();
	render();
	CHECK_LINE("# HELP scanbridge_connections Open WebSocket connections by role.");
	CHECK_LINE("# TYPE scanbridge_connections gauge");
	CHECK_LINE("scanbridge_connections{role=\"desktop\"} 0");
	CHECK_LINE("scanbridge_connections{role=\"scanner\"} 0");
	CHECK_LINE("scanbridge_connections{role=\"unauthenticated\"} 0");
	CHECK_LINE("# TYPE scanbridge_sessions_active gauge");
	CHECK_LINE("# TYPE scanbridge_longpoll_waiters gauge");
	CHECK_LINE("# TYPE scanbridge_scans_relayed_total counter");
	CHECK_LINE("scanbridge_scans_relayed_total 0");
	CHECK_LINE("scanbridge_slow_consumer_closes_total 0");
	CHECK_LINE("scanbridge_errors_total{code=\"other\"} 0");
	CHECK_LINE("# TYPE scanbridge_relay_latency_seconds histogram");
	CHECK_LINE("scanbridge_relay_latency_seconds_bucket{le=\"+Inf\"} 0");
	CHECK_LINE("scanbridge_commit_seconds_sum 0");
	CHECK_LINE("scanbridge_commit_seconds_count 0");
}

static void test_every_name_once(void)
{
	static const char *const names[] = {
		"scanbridge_connections", "scanbridge_sessions_active",
		"scanbridge_longpoll_waiters", "scanbridge_scans_relayed_total",
		"scanbridge_scans_duplicate_total", "scanbridge_sessions_created_total",
		"scanbridge_sessions_renewed_total",
		"scanbridge_sessions_expired_total", "scanbridge_sessions_deleted_total",
		"scanbridge_scanners_paired_total", "scanbridge_scans_delivered_total",
		"scanbridge_commits_total", "scanbridge_commit_failures_total",
		"scanbridge_http_requests_total", "scanbridge_ws_messages_received_total",
		"scanbridge_ws_messages_sent_total", "scanbridge_slow_consumer_closes_total",
		"scanbridge_frames_decoded_total", "scanbridge_frames_found_total",
		"scanbridge_frames_dropped_total", "scanbridge_frames_refused_total",
		"scanbridge_decode_seconds",
		"scanbridge_errors_total", "scanbridge_relay_latency_seconds",
		"scanbridge_commit_seconds", "scanbridge_wal_checkpoint_seconds",
	};
	char line[160];
	int types = 0, helps = 0;

	metrics_reset();
	render();
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(line, sizeof line, "# TYPE %s ", names[i]);
		CHECK(strstr(rendered, line) != NULL);
		CHECK(strstr(strstr(rendered, line) + 1, line) == NULL);
	}
	for (const char *p = rendered; (p = strstr(p, "# TYPE ")) != NULL; p++)
		types++;
	for (const char *p = rendered; (p = strstr(p, "# HELP ")) != NULL; p++)
		helps++;
	CHECK_EQ_INT(types, sizeof names / sizeof names[0]);
	CHECK_EQ_INT(helps, types);
	CHECK(rendered[strlen(rendered) - 1] == '\n');
}

static void test_gauges_and_counters(void)
{
	metrics_reset();
	metrics_gauge_add(MG_CONN_DESKTOP, 3);
	metrics_gauge_add(MG_CONN_DESKTOP, -1);
	metrics_gauge_add(MG_CONN_UNAUTH, 1);
	metrics_gauge_set(MG_SESSIONS_ACTIVE, 17);
	metrics_gauge_add(MG_LONGPOLL_WAITERS, -2);
	metrics_inc(MC_SCANS_RELAYED);
	metrics_inc(MC_SCANS_RELAYED);
	metrics_add(MC_WS_MESSAGES_OUT, 1000000);
	metrics_add(MC_COMMITS, -5); /* ignored: counters never go down */
	CHECK_EQ_INT(metrics_counter_value(MC_SCANS_RELAYED), 2);
	CHECK_EQ_INT(metrics_counter_value(MC_WS_MESSAGES_OUT), 1000000);
	CHECK_EQ_INT(metrics_counter_value(MC_COMMITS), 0);
	render();
	CHECK_LINE("scanbridge_connections{role=\"desktop\"} 2");
	CHECK_LINE("scanbridge_connections{role=\"scanner\"} 0");
	CHECK_LINE("scanbridge_connections{role=\"unauthenticated\"} 1");
	CHECK_LINE("scanbridge_sessions_active 17");
	CHECK_LINE("scanbridge_longpoll_waiters -2");
	CHECK_LINE("scanbridge_scans_relayed_total 2");
	CHECK_LINE("scanbridge_ws_messages_sent_total 1000000");
	CHECK_LINE("scanbridge_commits_total 0");
	metrics_reset();
	CHECK_EQ_INT(metrics_counter_value(MC_SCANS_RELAYED), 0);
}

static void test_errors_by_code(void)
{
	metrics_reset();
	metrics_error(SB_WIRE_INVALID_REQUEST);
	metrics_error(SB_WIRE_INVALID_REQUEST);
	metrics_error(SB_WIRE_RATE_LIMITED);
	metrics_error(SB_WIRE_METHOD_NOT_ALLOWED);
	metrics_error(SB_WIRE_PROTOCOL_VIOLATION); /* closes 4000: not an error code */
	metrics_error((enum sb_wire)99);
	metrics_error((enum sb_wire)-1);
	render();
	CHECK_LINE("# TYPE scanbridge_errors_total counter");
	CHECK_LINE("scanbridge_errors_total{code=\"invalid_request\"} 2");
	CHECK_LINE("scanbridge_errors_total{code=\"rate_limited\"} 1");
	CHECK_LINE("scanbridge_errors_total{code=\"method_not_allowed\"} 1");
	CHECK_LINE("scanbridge_errors_total{code=\"unavailable\"} 0");
	CHECK_LINE("scanbridge_errors_total{code=\"pair_code_invalid\"} 0");
	CHECK_LINE("scanbridge_errors_total{code=\"other\"} 3");
	CHECK(strstr(rendered, "protocol_violation") == NULL);
}

/* The label set is the contract's error codes, in this order, then "other":
 * dashboards and alerts name them. */
static void test_error_labels(void)
{
	static const char *const want =
		"scanbridge_errors_total{code=\"invalid_request\"} 0\n"
		"scanbridge_errors_total{code=\"invalid_check_digit\"} 0\n"
		"scanbridge_errors_total{code=\"unauthorized\"} 0\n"
		"scanbridge_errors_total{code=\"forbidden\"} 0\n"
		"scanbridge_errors_total{code=\"not_found\"} 0\n"
		"scanbridge_errors_total{code=\"pair_code_invalid\"} 0\n"
		"scanbridge_errors_total{code=\"session_full\"} 0\n"
		"scanbridge_errors_total{code=\"session_expired\"} 0\n"
		"scanbridge_errors_total{code=\"too_large\"} 0\n"
		"scanbridge_errors_total{code=\"unsupported_media_type\"} 0\n"
		"scanbridge_errors_total{code=\"rate_limited\"} 0\n"
		"scanbridge_errors_total{code=\"unavailable\"} 0\n"
		"scanbridge_errors_total{code=\"busy\"} 0\n"
		"scanbridge_errors_total{code=\"method_not_allowed\"} 0\n"
		"scanbridge_errors_total{code=\"other\"} 0\n"
		"# HELP ";
	int n = 0;

	metrics_reset();
	render();
	CHECK(strstr(rendered, want) != NULL);
	for (const char *p = rendered; (p = strstr(p, "scanbridge_errors_total{")) != NULL; p++)
		n++;
	CHECK_EQ_INT(n, 15);
}

static void test_histogram_exact(void)
{
	static const char *const want =
		"# HELP scanbridge_relay_latency_seconds Time from a scan's arrival to its forward after commit.\n"
		"# TYPE scanbridge_relay_latency_seconds histogram\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"0.0005\"} 2\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"0.001\"} 3\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"0.0025\"} 3\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"0.005\"} 3\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"0.01\"} 3\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"0.025\"} 3\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"0.05\"} 4\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"0.1\"} 4\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"0.25\"} 4\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"0.5\"} 4\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"1\"} 5\n"
		"scanbridge_relay_latency_seconds_bucket{le=\"+Inf\"} 6\n"
		"scanbridge_relay_latency_seconds_sum 3.5515\n"
		"scanbridge_relay_latency_seconds_count 6\n"
		"# HELP scanbridge_commit_seconds";

	metrics_reset();
	metrics_observe(MH_RELAY_LATENCY, 0.0005); /* on a bound: le means <= */
	metrics_observe(MH_RELAY_LATENCY, -0.25);  /* clock step: counted as 0 */
	metrics_observe(MH_RELAY_LATENCY, 0.001);
	metrics_observe(MH_RELAY_LATENCY, 0.05);
	metrics_observe(MH_RELAY_LATENCY, 1.0);
	metrics_observe(MH_RELAY_LATENCY, 2.5); /* only in +Inf */
	metrics_observe(MH_RELAY_LATENCY, nan("")); /* ignored */
	metrics_observe(MH_COMMIT_TIME, 0.003);
	render();
	CHECK(strstr(rendered, want) != NULL);
	if (!strstr(rendered, want))
		fprintf(stderr, "%s", rendered);
	CHECK_LINE("scanbridge_commit_seconds_bucket{le=\"0.0025\"} 0");
	CHECK_LINE("scanbridge_commit_seconds_bucket{le=\"0.005\"} 1");
	CHECK_LINE("scanbridge_commit_seconds_bucket{le=\"+Inf\"} 1");
	CHECK_LINE("scanbridge_commit_seconds_sum 0.003");
	CHECK_LINE("scanbridge_commit_seconds_count 1");
}

static void test_families_contiguous(void)
{
	/* Text format 0.0.4: all samples of a family follow its TYPE line together. */
	const char *d, *s, *u, *next;

	metrics_reset();
	render();
	d = strstr(rendered, "scanbridge_connections{role=\"desktop\"}");
	s = strstr(rendered, "scanbridge_connections{role=\"scanner\"}");
	u = strstr(rendered, "scanbridge_connections{role=\"unauthenticated\"}");
	next = strstr(rendered, "# HELP scanbridge_sessions_active");
	CHECK(d && s && u && next && d < s && s < u && u < next);
	free(rendered);
	rendered = NULL;
}

TEST_MAIN(TEST(test_zero_render), TEST(test_every_name_once),
	  TEST(test_gauges_and_counters), TEST(test_errors_by_code), TEST(test_error_labels),
	  TEST(test_histogram_exact), TEST(test_families_contiguous))
