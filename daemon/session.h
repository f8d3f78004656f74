/* SPDX-License-Identifier: MIT */
/* The session layer: pairing, relay, acknowledgements, delivery receipts, expiry
 * and long-poll waiters. It sits between the transport (lws_ws.c,
 * lws_http.c), which owns sockets, and the store, which owns SQL.
 *
 * Group commit: every write goes into the store's open transaction and every
 * effect that must not be seen before the data is durable (acks, forwards to
 * desktops, delivered receipts, REST answers) is queued as a batch action.
 * session_flush() — run by the transport once per event-loop pass — commits and
 * then performs the actions, or on failure answers them with `unavailable`. */
#ifndef SB_SESSION_H
#define SB_SESSION_H
#include <stdbool.h>
#include <stdint.h>
#include "auth.h"
#include "config.h"
#include "message.h"
#include "store.h"
#include "wire_err.h"

struct sess;

/* A WebSocket peer as the session layer sees it. The transport embeds it in its
 * per-connection state and implements the ops. */
struct peer;
struct peer_ops {
	/* Queues msg (ownership passes; freed by the transport). Returns 0, or
	 * SB_ELIMIT when the queue is full: the transport then closes the peer. */
	int (*send)(struct peer *p, char *msg);
	/* Starts a close handshake with code and reason; the transport later calls
	 * session_peer_detach() from its CLOSED callback. */
	void (*close)(struct peer *p, int code, const char *reason);
	/* How full the send queue is, in message slots: at least the messages
	 * queued, more when they are large (a transport may count bytes too). */
	unsigned (*queued)(const struct peer *p);
};

/* Scanner ids are 12 random bytes in base64url (16 chars, session.c): a
 * connection holds its own id in a buffer that fits those, not SB_ID_MAX, as
 * every idle connection pays for it. A token naming a longer id is refused. */
#define PEER_SCANNER_MAX 24

struct peer {
	const struct peer_ops *ops;
	struct sess *sess;          /* NULL until hello succeeded */
	enum sb_role role;
	char scanner[PEER_SCANNER_MAX]; /* scanner id for scanners */
	int64_t sent_seq;           /* desktops: highest seq queued to this peer */
	int gauge;                  /* metric_gauge this connection is counted in, -1 none */
	bool closing;
	struct peer *prev, *next;   /* the session's peer list */
};

/* A REST request waiting for a commit (or a long-poll for new scans). The
 * transport embeds it; done() runs after the batch committed (rc 0) or failed
 * (rc SB_EIO/SB_EFULL), or — for waiters — when scans arrive (rc 0), or the
 * session ends (rc SB_EGONE / SB_EEXPIRED). */
struct waiter {
	void (*done)(struct waiter *w, int rc);
	struct sess *sess;          /* long-poll only */
	int64_t after;              /* long-poll only */
	bool queued;
	bool for_lock;              /* queued by session_wait_lock */
	struct waiter *prev, *next;
};

/* Called when a flush is needed; the transport schedules session_flush() to run
 * after the current loop pass. */
typedef void (*session_schedule_fn)(void);
/* Arms the transport's one-shot timer: session_lock_retry() in ms. */
typedef void (*session_timer_fn)(int64_t ms);

int session_init(const struct sb_config *cfg, struct store *st, struct auth *auth,
		 session_schedule_fn schedule);
/* Frees all in-memory state. Peers must be detached first. */
void session_shutdown(void);

/* Commits the open batch and runs its actions. Returns 0 or the commit error. */
int session_flush(void);
/* Runs a WAL checkpoint when the store needs the loop to (store.h); the
 * transport calls it once per event-loop pass, after session_flush. */
void session_checkpoint(void);
/* True while a batch holds uncommitted writes: a REST answer must then wait for
 * session_flush() via session_wait_commit(). */
bool session_batch_open(void);
void session_wait_commit(struct waiter *w);
/* True while the store refuses writes: the last commit failed and none has
 * succeeded since (clients get `unavailable`; /healthz says degraded). */
bool session_store_failing(void);
/* Removes w wherever it is queued (the request went away). */
void session_waiter_cancel(struct waiter *w);

/* Another process holding the database's write lock must not stall the loop:
 * a write that meets it is not waited for but run again once the lock is ours
 * (retried every SESSION_LOCK_RETRY_MS from the transport's timer), in arrival
 * order, while the loop serves everything else. Past SESSION_LOCK_DEADLINE_MS
 * the waiting writes are answered `unavailable` (REST 503) with nothing
 * changed. A COMMIT that meets a lock waits the same way, its answers held. */
#define SESSION_LOCK_RETRY_MS 20
#define SESSION_LOCK_DEADLINE_MS 3000
void session_set_timer(session_timer_fn arm);
/* The transport's timer fired. */
void session_lock_retry(void);
/* True (and cleared) when an operation since the last call could not begin
 * its write because of the lock: the REST request is to be run again once
 * w, queued with session_wait_lock, is done (rc 0: run it now; else answer
 * 503 `unavailable`). */
bool session_lock_hit(void);
void session_wait_lock(struct waiter *w);

/* Cleanup pass: persists activity, ends expired sessions (session_expired +
 * close 4004), purges delivered scans' content past scan_retention, deletes
 * used and expired pair codes. */
void session_cleanup(void);
/* Shutdown: closes every peer with 1001 and fails every waiter. */
void session_close_all(int code, const char *reason);

/* ---- REST-facing operations (return 0 or an sb_err) ---- */
struct session_opened {
	char sid[SB_ID_MAX];
	char *desktop_token;        /* malloc'd, caller frees */
	char pair_code[SB_ID_MAX];
	char pair_url[512];
	int64_t expires_at;
};
struct session_paired {
	char sid[SB_ID_MAX];
	char scanner[SB_ID_MAX];
	char *scanner_token;        /* malloc'd, caller frees */
	int64_t expires_at;
};
struct session_info {
	int64_t last_seq, delivered_seq, expires_at;
};

int session_open(struct session_opened *out);            /* SB_ELIMIT at max_sessions */
int session_pair(const char *pair_code, const char *name, struct session_paired *out);
							  /* SB_ENOTFOUND, SB_ELIMIT (full) */
/* Verifies a token for a request on session `sid` (NULL: any) in role `role`.
 * Returns 0 and *out; SB_EAUTH (bad token), SB_EGONE (deleted), SB_EEXPIRED,
 * SB_EKICKED, SB_EFORBIDDEN (other session or role). Counts as activity. */
int session_authorize(const char *token, const char *sid, enum sb_role role,
		      struct sess **out, struct auth_claims *claims);
int session_info(struct sess *s, struct session_info *out);
/* Scanners of a session as welcome/GET show them; *json is a cJSON array. */
void *session_scanners_json(struct sess *s);
/* A new pair code; the session's oldest unused one is retired past
 * max_pair_codes. SB_ELIMIT past pair_codes_per_session_per_min, with
 * *retry_after_s (seconds, >= 1). */
int session_new_pair_code(struct sess *s, char code[SB_ID_MAX], char url[512], int64_t *expires_at,
			  int *retry_after_s);
/* Latest pair URL if its code is still usable, else SB_ENOTFOUND. */
int session_current_pair_url(struct sess *s, char url[512]);
int session_end(struct sess *s);                          /* DELETE */
/* Stores a scan from a scanner (REST path): *seq and *duplicate are final once
 * the batch commits. SB_EINVAL/SB_ECHECKDIGIT are checked by the caller. */
int session_scan_put(struct sess *s, const char *scanner, struct sb_scan *scan,
		     int64_t *seq, bool *duplicate);
int session_ack(struct sess *s, int64_t seq);             /* SB_EINVAL above head */
/* Scans after `after` that clients may see (committed, content not purged). */
int session_scans_list(struct sess *s, int64_t after, int limit,
		       void (*fn)(const struct sb_scan *, void *), void *ctx, int64_t *last_seq);
int session_scan_status(struct sess *s, const char *id, int64_t *seq, bool *delivered);
/* Long-poll: parks w until a committed scan with seq > after exists. */
void session_waiter_park(struct sess *s, struct waiter *w, int64_t after);
const char *session_id(const struct sess *s);
int64_t session_committed_seq(const struct sess *s);
void session_touch(struct sess *s);

/* ---- WebSocket-facing operations ---- */
/* Handles one decoded message from peer p (hello included). Errors are answered
 * on p itself (error message or close); the return value is only for metrics. */
int session_peer_message(struct peer *p, const struct sb_client_msg *m);
/* The transport's queue for p has room again: continue a desktop's replay. */
void session_peer_writable(struct peer *p);
/* The socket is gone (CLOSED callback). Safe on a peer that never said hello. */
void session_peer_detach(struct peer *p);
/* Queues msg (malloc'd, ownership passes; NULL is ignored) to p the way every
 * message of the session layer goes: dropped when p is closing, else counted
 * in /metrics, and a full send queue closes p 1008 (slow consumer). */
void session_peer_send(struct peer *p, char *msg);
/* Sends an error message to p (helper for the transport), counted by code. */
void session_peer_error(struct peer *p, enum sb_wire code, const char *message, const char *id);

#endif
