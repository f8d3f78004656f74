/* SPDX-License-Identifier: MIT */
/* A fleet of simulated sessions for load, chaos and idle: S sessions, each with
 * one desktop and M scanners, created and paired over REST, then all connected
 * on one event loop. Scanners send generated EAN-13 scans (at a rate, or as fast
 * as a window of unacked scans allows) from an outbox that resends unacked scans
 * with the same id after a reconnect; desktops de-dup on seq, acknowledge
 * cumulatively and resume from the highest seq they hold. Every event lands in
 * one sim_stats. */
#ifndef SIM_FLEET_H
#define SIM_FLEET_H
#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "http.h"
#include "stats.h"

struct fleet;
struct fleet_session;

struct fleet_scanner {
	struct sim_conn conn;
	struct fleet_session *sess;
	char id[64];
	int64_t *ob;                 /* outbox: record indices in send order */
	size_t ob_head;              /* first one possibly unacked */
	size_t ob_next;              /* next one to (re)send */
	size_t ob_tail, ob_cap;
	int64_t next_due_us;         /* rate mode: when the next scan is generated */
	struct sim_timer gen;        /* rate mode timer */
	struct sim_timer retry;      /* resend after a recoverable error */
};

struct fleet_desktop {
	struct sim_conn conn;
	struct fleet_session *sess;
	int64_t held;                /* highest seq held (de-dup, resume) */
	int64_t acked;               /* highest seq acknowledged so far */
};

struct fleet_session {
	struct fleet *fleet;
	struct sim_session_info info;
	struct fleet_desktop desk;
	struct fleet_scanner *scanners;
	int n_scanners;
};

struct fleet_opts {
	struct sim_url url;
	const char *api_key;
	int sessions;                /* S */
	int scanners;                /* M per session (0 for desktop-only) */
	double rate;                 /* scans/s per scanner; 0 = window-paced */
	int window;                  /* unacked scans per scanner in window mode */
	bool send;                   /* false: connect and hold only (idle) */
	bool quiet;                  /* no progress on stderr */
};

struct fleet {
	struct fleet_opts o;
	struct sim_loop loop;
	struct sim_stats stats;
	struct fleet_session *sess;
	int n_sess;
	char run[16];                /* scan id prefix of this run */
	bool sending;                /* generating new scans */
	int64_t welcomed_at_us;      /* when all were first welcomed; 0 until then */
	uint64_t conns_total;
	uint64_t foreign;            /* scans whose id this run did not make */
};

/* Creates the sessions and pairs the scanners over REST (blocking), then sets up
 * the event loop and the connections (not started yet). Returns 0 or -1. */
int fleet_setup(struct fleet *f, const struct fleet_opts *o);
/* Starts every connection: desktops first. */
void fleet_connect(struct fleet *f);
/* Number of connections currently welcomed. */
uint64_t fleet_welcomed(const struct fleet *f);
/* Starts / stops generating new scans (the outbox keeps resending either way). */
void fleet_sending(struct fleet *f, bool on);
/* True when every scan sent is acked and every acked scan delivered. */
bool fleet_settled(const struct fleet *f);
/* Drops one random connection (chaos). */
void fleet_drop_random(struct fleet *f);
/* Reconnects every connection waiting in backoff now. */
void fleet_reconnect_all(struct fleet *f);
/* Runs the loop until done(f) (checked before each pass; may be NULL), the
 * monotonic time until_us, or SIGINT/SIGTERM. True when done(f) was reached. */
bool fleet_run(struct fleet *f, int64_t until_us, bool (*done)(const struct fleet *));
/* Every connection of the fleet is welcomed right now. */
bool fleet_all_welcomed(const struct fleet *f);
/* Closes everything and frees. */
void fleet_free(struct fleet *f);

#endif
