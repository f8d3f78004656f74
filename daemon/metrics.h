/* SPDX-License-Identifier: MIT */
/* Counters, gauges and histograms for /metrics (Prometheus text format 0.0.4).
 * Single-threaded: only the event loop updates them. */
#ifndef SB_METRICS_H
#define SB_METRICS_H
#include <stddef.h>
#include <stdint.h>

#include "wire_err.h"

enum metric_gauge { MG_CONN_DESKTOP, MG_CONN_SCANNER, MG_CONN_UNAUTH, MG_SESSIONS_ACTIVE,
		    MG_LONGPOLL_WAITERS, MG_COUNT };
enum metric_counter { MC_SCANS_RELAYED, MC_SCANS_DUPLICATE, MC_SESSIONS_CREATED, MC_SESSIONS_RENEWED,
		      MC_SESSIONS_EXPIRED, MC_SESSIONS_DELETED, MC_SCANNERS_PAIRED,
		      MC_DELIVERED, MC_COMMITS, MC_COMMIT_FAILURES, MC_HTTP_REQUESTS,
		      MC_WS_MESSAGES_IN, MC_WS_MESSAGES_OUT, MC_SLOW_CONSUMER_CLOSES,
		      MC_FRAMES_DECODED, MC_FRAMES_FOUND, MC_FRAMES_DROPPED, MC_FRAMES_REFUSED,
		      MC_COUNT };
enum metric_hist {
	MH_RELAY_LATENCY, MH_COMMIT_TIME, MH_DECODE_TIME, MH_CHECKPOINT_TIME, MH_COUNT
};

void metrics_gauge_add(enum metric_gauge g, int64_t delta);
void metrics_gauge_set(enum metric_gauge g, int64_t v);
void metrics_inc(enum metric_counter c);
void metrics_add(enum metric_counter c, int64_t n);
/* Errors answered to clients, labelled by wire error code; a code that is not
 * one (SB_WIRE_PROTOCOL_VIOLATION, or outside the enum) counts as "other". */
void metrics_error(enum sb_wire code);
/* Observes a duration in seconds. */
void metrics_observe(enum metric_hist h, double seconds);
int64_t metrics_counter_value(enum metric_counter c);

/* Renders everything; *out is malloc'd (free()). Returns 0 or SB_ENOMEM. */
int metrics_render(char **out, size_t *len);
void metrics_reset(void); /* tests */

#endif
