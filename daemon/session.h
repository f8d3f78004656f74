/* SPDX-License-Identifier: MIT */
/* Sessions: the in-memory record of each live session (struct sess, private to
 * session.c) and everything that writes it — opening, pairing, token checks,
 * sliding expiry, ending, the cleanup pass, the heads (last, committed and
 * delivered seq), the session's peers (WebSocket connections) and its
 * long-poll waiters. It sits above the group commit (batch.h), which it calls
 * to open the batch and to defer what must wait for the COMMIT, and below the
 * relay (relay.h), which moves scans, acks and receipts between the peers.
 *
 * Writes go into the batch; session_init hooks the session heads onto its
 * flush: after a COMMIT the committed head follows the written one and
 * long-polls wake; after a failed one the heads are reloaded from the store. */
#ifndef SB_SESSION_H
#define SB_SESSION_H
#include <stdbool.h>
#include <stdint.h>
#include "auth.h"
#include "batch.h"
#include "config.h"
#include "message.h"
#include "store.h"
#include "wire_err.h"

struct sess;

/* A WebSocket peer. The transport embeds it in its per-connection state and
 * implements the ops. */
struct peer;
struct peer_ops {
	/* Queues msg (ownership passes; freed by the transport). Returns 0, or
	 * SB_ELIMIT when the queue is full: the transport then closes the peer. */
	int (*send)(struct peer *p, char *msg);
	/* Starts a close handshake with code and reason; the transport later calls
	 * relay_peer_detach() from its CLOSED callback. */
	void (*close)(struct peer *p, int code, const char *reason);
	/* How full the send queue is, in message slots: at least the messages
	 * queued, more when they are large (a transport may count bytes too). */
	unsigned (*queued)(const struct peer *p);
};

/* Scanner ids are 12 random bytes in base64url (16 chars, session.c): a
 * connection holds its own id in a buffer that fits those, not SB_ID_MAX, as
 * every idle connection pays for it. A token naming a longer id is refused. */
#define PEER_SCANNER_MAX 24

/* Who writes what: ops the transport (once); sess, role, scanner, closing and
 * the list links session.c (session_peer_join/leave/close); sent_seq and gauge
 * the relay (gauge starts as the transport's). */
struct peer {
	const struct peer_ops *ops;
	struct sess *sess;          /* NULL until hello succeeded */
	enum sb_role role;
	char scanner[PEER_SCANNER_MAX]; /* scanner id for scanners */
	int64_t sent_seq;           /* desktops: highest seq queued to this peer;
				       scanners: receipts queued up to this seq */
	int gauge;                  /* metric_gauge this connection is counted in, -1 none */
	bool closing;
	struct peer *prev, *next;   /* the session's peer list */
};

/* A long-poll for new scans. The transport embeds it; done() runs when a
 * committed scan with seq > after exists (rc 0), or the session ends (rc
 * SB_EGONE / SB_EEXPIRED), or at shutdown (SB_EIO). */
struct waiter {
	void (*done)(struct waiter *w, int rc);
	struct sess *sess;
	int64_t after;
	bool queued;
	struct waiter *prev, *next;
};

/* Loads every session of the store into memory and starts the batch
 * (batch_init, with schedule). Returns 0 or SB_EIO. */
int session_init(const struct sb_config *cfg, struct store *st, struct auth *auth,
		 batch_schedule_fn schedule);
/* Fails what waits on the batch (batch_shutdown) and frees all in-memory
 * state. Peers must be detached first. */
void session_shutdown(void);

/* Cleanup pass: persists activity, ends expired sessions (session_expired +
 * close 4004), purges delivered scans' content past scan_retention, deletes
 * used and expired pair codes. */
void session_cleanup(void);
/* Shutdown: closes every peer with code/reason and fails every long-poll. */
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
/* A new pair code; the session's oldest unused one is retired past
 * max_pair_codes. SB_ELIMIT past pair_codes_per_session_per_min, with
 * *retry_after_s (seconds, >= 1). */
int session_new_pair_code(struct sess *s, char code[SB_ID_MAX], char url[512], int64_t *expires_at,
			  int *retry_after_s);
/* Latest pair URL if its code is still usable, else SB_ENOTFOUND. */
int session_current_pair_url(struct sess *s, char url[512]);
int session_end(struct sess *s);                          /* DELETE */
/* Stores a scan from scanner in the open batch (batch_begin: STORE_EBUSY while
 * the lock waits) and moves the session's head: *seq and *duplicate (a resend
 * of a stored scan id, nothing written) are final once the batch commits.
 * SB_EINVAL/SB_ECHECKDIGIT are checked by the caller; forwarding the scan is
 * the relay's (relay_scan_put). */
int session_scan_put(struct sess *s, const char *scanner, struct sb_scan *scan,
		     int64_t *seq, bool *duplicate);
/* Stores the desktop's cumulative ack of seq (committed_seq >= seq >
 * delivered_seq, checked by the caller) in the open batch and moves
 * delivered_seq. STORE_EBUSY or a store error: nothing moved. */
int session_deliver(struct sess *s, int64_t seq);
/* Scans after `after` that clients may see (committed, content not purged). */
int session_scans_list(struct sess *s, int64_t after, int limit,
		       void (*fn)(const struct sb_scan *, void *), void *ctx, int64_t *last_seq);
int session_scan_status(struct sess *s, const char *id, int64_t *seq, bool *delivered);
/* Long-poll: parks w until a committed scan with seq > after exists. */
void session_waiter_park(struct sess *s, struct waiter *w, int64_t after);
/* Removes w from s's long-polls (the request went away); no-op if not parked. */
void session_waiter_cancel(struct waiter *w);
const char *session_id(const struct sess *s);
int64_t session_committed_seq(const struct sess *s);   /* head clients may see */
int64_t session_delivered_seq(const struct sess *s);
/* Wall ms the session expires at, for clients (now + what is left). */
int64_t session_expires_at(const struct sess *s);
/* False once the session ended (a deferred action may still hold it: the
 * record is freed after the flush that ended it). */
bool session_live(const struct sess *s);
void session_touch(struct sess *s);

/* ---- peers (the relay's and the transport's) ---- */
/* p joins s after its hello: sets p's session, role and scanner id (fits
 * PEER_SCANNER_MAX: checked by the caller). */
void session_peer_join(struct sess *s, struct peer *p, enum sb_role role, const char *scanner);
/* p leaves its session (its socket is gone); the desktops hear scanner_left
 * when it was the scanner's last connection. Safe when p has no session. */
void session_peer_leave(struct peer *p);
/* The first peer of s (then p->next), NULL when none. */
struct peer *session_peers(const struct sess *s);
bool session_scanner_connected(const struct sess *s, const char *scanner_id);
/* Starts p's close handshake: marks it closing and calls its close op. */
void session_peer_close(struct peer *p, int code, const char *reason);
/* Queues msg (malloc'd, ownership passes; NULL is ignored) to p the way every
 * message of the daemon goes: dropped when p is closing, else counted in
 * /metrics, and a full send queue closes p 1008 (slow consumer). */
void session_peer_send(struct peer *p, char *msg);
/* Sends an error message to p, counted by code. */
void session_peer_error(struct peer *p, enum sb_wire code, const char *message, const char *id);
/* Sends msg (malloc'd, ownership passes; NULL ignored) to s's desktops, after
 * the open batch's commit when after_commit and a batch is open, else now. */
void session_notify_desktops(struct sess *s, char *msg, bool after_commit);
/* Removes a scanner from s (WS kick): SB_ENOTFOUND when it is unknown or
 * already removed, STORE_EBUSY (batch_begin) or SB_EIO with nothing changed;
 * else its sockets close 4003 and the desktops hear scanner_left after the
 * commit. */
int session_scanner_kick(struct sess *s, const char *scanner_id);
/* The same for a scanner that leaves by itself (REST DELETE with its own
 * token): its sockets close 1000, desktops hear scanner_left "unpaired". */
int session_scanner_unpair(struct sess *s, const char *scanner_id);

/* Every scan of s whose content is held (scan_retention), in seq order. */
int session_scans_each(struct sess *s, store_scan_fn fn, void *ctx);
/* The name a scanner of s paired with, removed ones too. */
int session_scanner_name(struct sess *s, const char *scanner_id, char *out, size_t size);

#endif
