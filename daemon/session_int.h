/* SPDX-License-Identifier: MIT */
/* Internals shared by session.c (registry, pairing, expiry, REST operations) and
 * relay.c (the batch, scans, acks, forwards, replay, waiters). Not for the
 * transport. */
#ifndef SB_SESSION_INT_H
#define SB_SESSION_INT_H
#include "ratelimit.h"
#include "session.h"

/* Session ids are 16 random bytes in base64url (22 chars, session.c); the
 * in-memory record, one per live session, keeps them in a buffer that fits
 * those rather than SB_ID_MAX. A longer id (never one of ours) is not found. */
#define SESS_ID_MAX 24

struct sess {
	char id[SESS_ID_MAX];
	int64_t created_at, last_activity;  /* wall ms: tokens, the database */
	/* Expiry runs on the monotonic clock so a wall-clock jump neither expires
	 * every session nor keeps them forever: the database's wall times are
	 * turned into monotonic ones when a session is loaded. */
	int64_t created_mono, active_mono, persisted_mono;
	int64_t last_seq;        /* head, including the open batch */
	int64_t committed_seq;   /* head that clients may see */
	int64_t delivered_seq;
	struct peer *peers;
	struct waiter *waiters;  /* long-polls */
	struct sess *hnext;      /* hash chain */
	struct sess *touched_next;
	struct rate_window pair_codes; /* codes issued this minute (in memory) */
	bool touched, dead;
	bool ending;             /* its DELETE is in the open batch */
};

#define SESS_BUCKETS 4096

struct session_state {
	const struct sb_config *cfg;
	struct store *st;
	struct auth *auth;
	session_schedule_fn schedule;
	struct sess *buckets[SESS_BUCKETS];
	struct sess *touched;        /* sessions written in the open batch */
	struct sess *graveyard;      /* ended sessions, freed after the flush */
	bool flush_scheduled;
};

extern struct session_state session__s;

/* relay.c */
/* Joins the open batch (opening one if needed), marking s written. While the
 * write lock is held elsewhere it returns STORE_EBUSY and the caller's request
 * is to be run again (session_lock_hit); batch_try is for writes that may just
 * be skipped (activity, cleanup) and does not ask for that. */
int session__batch_begin(struct sess *s);
int session__batch_try(struct sess *s);
/* Queues s's end for after the commit (session__ended); NULL without memory.
 * cancel: the write it stood for failed, forget it. */
struct action *session__end_after_commit(struct sess *s);
void session__action_cancel(struct action *a);
void session__notify_desktops(struct sess *s, char *msg, bool after_commit);
void session__fail_waiters(struct sess *s, int rc);
void session__batch_free(void);
/* Sends msg (may be NULL; freed) to every peer of s, unlinks them and closes
 * them with code/reason. */
void session__unlink_all(struct sess *s, char *msg, int code, const char *reason);

/* session.c */
int64_t session__expires_at(const struct sess *s);   /* wall ms, for clients */
int session__reload(struct sess *s);                 /* after a failed commit */
void session__ended(struct sess *s);                 /* its DELETE committed */
bool session__scanner_connected(const struct sess *s, const char *scanner_id);

#endif
