/* SPDX-License-Identifier: MIT */
/* Rate limits: a token bucket per connection (messages), per-IP counters
 * (open connections, and one-minute windows for sessions created and pair
 * attempts) and a one-minute window a caller keeps per holder (a session's
 * pair codes issued). Times are monotonic ms passed in by the caller, so tests need no
 * clock. Single-threaded (the event loop). */
#ifndef SB_RATELIMIT_H
#define SB_RATELIMIT_H
#include <stdbool.h>
#include <stdint.h>

/* Zeroed is full: it counts the tokens taken and not yet refilled, so it
 * needs no flag for its first take (one per WebSocket: 16 bytes, not 24). */
struct token_bucket {
	double spent;
	int64_t last_ms;
};

/* Takes one token; refills at per_sec up to burst. Returns true if allowed. */
bool bucket_take(struct token_bucket *b, int burst, int per_sec, int64_t now_ms);

/* A fixed one-minute window counting one holder's events (a session's pair
 * codes issued). All zero is an empty window. */
struct rate_window {
	int64_t start_ms;
	int count;
};

/* Counts one event in w's current window. Returns 0 if within limit_per_min,
 * else SB_ELIMIT (not counted) and *retry_after_s = seconds until the window
 * ends (>= 1). */
int window_hit(struct rate_window *w, int limit_per_min, int64_t now_ms, int *retry_after_s);

enum ip_window { IPW_SESSIONS = 0, IPW_PAIR = 1, IPW_COUNT };

/* Counts one event for ip in the current one-minute window of `which`. Returns 0
 * if within limit_per_min, else SB_ELIMIT and *retry_after_s = seconds until the
 * window ends (>= 1). Addresses longer than 63 chars are truncated. If the
 * entry for a new ip cannot be allocated it fails open: returns 0. */
int iplimit_hit(enum ip_window which, const char *ip, int limit_per_min, int64_t now_ms,
		int *retry_after_s);

/* Open connections per IP: add returns 0, SB_ELIMIT (not counted) when ip
 * already has max, or SB_ENOMEM (not counted) when the entry for a new ip
 * cannot be allocated; del undoes an add (no-op for an unknown ip). */
int iplimit_conn_add(const char *ip, int max);
void iplimit_conn_del(const char *ip);

/* Drops entries with no connections and no window younger than a minute. */
void iplimit_prune(int64_t now_ms);
/* Frees everything (shutdown, tests). */
void iplimit_reset(void);
/* Number of per-IP entries currently held (tests, metrics). */
int iplimit_entries(void);

#endif
