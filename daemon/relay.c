/* SPDX-License-Identifier: MIT */
/* The relay: the group-commit batch and everything that flows through it —
 * scans stored and acknowledged, forwarded to desktops in seq order, desktop
 * acks turned into `delivered` receipts — plus desktop replay from the store and
 * long-poll waiters. Nothing a client sees depends on data that is not yet
 * committed: effects are queued as actions and run after COMMIT. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "sb_err.h"
#include "session_int.h"
#include "wire_err.h"

#define REPLAY_CHUNK 128

/* Scans (or receipts) queued per refill: at most half the send queue, so the
 * welcome and a chunk always fit even with a small send_queue_max. */
static unsigned refill_chunk(void)
{
	unsigned half = (unsigned)session__s.cfg->send_queue_max / 2;

	return half < 1 ? 1 : half < REPLAY_CHUNK ? half : REPLAY_CHUNK;
}

enum act_kind { ACT_REPLY, ACT_FORWARD, ACT_DELIVERED, ACT_NOTIFY, ACT_END };

struct action {
	enum act_kind kind;
	struct action *next;
	struct peer *peer;          /* REPLY, DELIVERED (the desktop, WS); NULL once gone */
	struct sess *sess;          /* FORWARD, DELIVERED, NOTIFY, END (NULL: cancelled) */
	char *msg;                  /* REPLY: ack; FORWARD: scan; NOTIFY: message */
	char id[SB_SCAN_ID_MAX + 1];/* REPLY: the scan id, for `unavailable` */
	int64_t to;                 /* FORWARD: the scan's seq */
	int64_t received_mono;      /* FORWARD: for relay latency */
};

static struct {
	struct action *head, *tail;
	struct waiter *commit_waiters;   /* REST answers held until commit */
} B;

/* ---- small list helpers ---- */

static void waiter_unlink(struct waiter **list, struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else if (*list == w)
		*list = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->queued = false;
}

static void waiter_push(struct waiter **list, struct waiter *w)
{
	w->prev = NULL;
	w->next = *list;
	if (*list)
		(*list)->prev = w;
	*list = w;
	w->queued = true;
}

static struct action *action_add(enum act_kind kind, struct sess *s)
{
	struct action *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->kind = kind;
	a->sess = s;
	if (B.tail)
		B.tail->next = a;
	else
		B.head = a;
	B.tail = a;
	return a;
}

/* ---- waiting for the write lock (session.h) ---- */

/* Requests queued for the lock are bounded like every other input: past this
 * many, a write that meets the lock is answered `unavailable` at once. */
#define LOCK_WAITERS_MAX 1024
/* After a wait timed out, how often an idle daemon tries the lock so that
 * /healthz stops saying degraded once writes work (each try may cost the
 * loop the store's 2 ms busy timeout). */
#define LOCK_PROBE_MS 250

static struct {
	session_timer_fn arm;
	struct waiter *head, *tail;  /* requests to run again, in arrival order */
	unsigned n;
	int64_t since;               /* mono ms the wait began; 0: not waiting */
	bool commit;                 /* it is the open batch's COMMIT that waits */
	bool hit;                    /* see session_lock_hit */
	bool probe;                  /* a wait timed out: try until writes work */
} L;

static bool store_failing;

void session_set_timer(session_timer_fn arm)
{
	L.arm = arm;
}

static void lock_arm(void)
{
	if (L.arm)
		L.arm(L.since ? SESSION_LOCK_RETRY_MS : LOCK_PROBE_MS);
}

static void lock_wait_start(void)
{
	if (L.since)
		return;
	L.since = clock_mono_ms();
	if (!L.since)
		L.since = 1;
	log_warn("database write lock held by another connection; writes wait", NULL);
	lock_arm();
}

static bool lock_past_deadline(void)
{
	return clock_mono_ms() - L.since >= SESSION_LOCK_DEADLINE_MS;
}

void session_wait_lock(struct waiter *w)
{
	w->prev = L.tail;
	w->next = NULL;
	if (L.tail)
		L.tail->next = w;
	else
		L.head = w;
	L.tail = w;
	w->queued = w->for_lock = true;
	L.n++;
}

static void lock_unlink(struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		L.head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		L.tail = w->prev;
	w->prev = w->next = NULL;
	w->queued = w->for_lock = false;
	L.n--;
}

/* Runs (rc 0: the lock is ours, the batch open) or fails every queued request.
 * Requests queued meanwhile wait for the next round. */
static void lock_run_waiters(int rc)
{
	struct waiter *w = L.head;

	L.head = L.tail = NULL;
	L.n = 0;
	while (w) {
		struct waiter *next = w->next;

		w->prev = w->next = NULL;
		w->queued = w->for_lock = false;
		w->done(w, rc);
		w = next;
	}
}

bool session_lock_hit(void)
{
	bool hit = L.hit;

	L.hit = false;
	return hit;
}

static void schedule_flush(void)
{
	if (!session__s.flush_scheduled) {
		session__s.flush_scheduled = true;
		session__s.schedule();
	}
}

/* The deadline passed: nothing of the waiting requests is stored. */
static void lock_give_up(void)
{
	if (L.head) {
		log_error("database write lock still held elsewhere; waiting writes answered"
			  " unavailable", "waited_ms=%lld",
			  (long long)(clock_mono_ms() - L.since));
		metrics_inc(MC_COMMIT_FAILURES);
		store_failing = true;
		L.probe = true;
	}
	L.since = 0;
	lock_run_waiters(SB_EIO);
	if (L.probe)
		lock_arm();
}

void session_lock_retry(void)
{
	int rc;

	if (L.commit) {
		schedule_flush();    /* session_flush retries the COMMIT */
		return;
	}
	if (!L.since && !L.probe)
		return;
	rc = store_begin(session__s.st);
	if (rc == STORE_EBUSY) {
		if (L.since && lock_past_deadline())
			lock_give_up();
		else
			lock_arm();
		return;
	}
	if (L.since)
		log_info("database write lock is ours again", "waited_ms=%lld",
			 (long long)(clock_mono_ms() - L.since));
	L.since = 0;
	L.probe = false;
	if (!rc)
		schedule_flush();    /* even empty, its commit clears store_failing */
	lock_run_waiters(rc);
}

/* ---- the batch ---- */

int session__batch_try(struct sess *s)
{
	int rc;

	/* waiting requests go first: nothing overtakes them */
	if (L.since && !store_in_txn(session__s.st))
		return STORE_EBUSY;
	rc = store_begin(session__s.st);
	if (rc == STORE_EBUSY)
		lock_wait_start();
	if (rc)
		return rc;
	if (s && !s->touched) {
		s->touched = true;
		s->touched_next = session__s.touched;
		session__s.touched = s;
	}
	schedule_flush();
	return 0;
}

int session__batch_begin(struct sess *s)
{
	int rc = session__batch_try(s);

	if (rc == STORE_EBUSY)
		L.hit = true;
	return rc;
}

bool session_batch_open(void)
{
	return store_in_txn(session__s.st) || B.head || B.commit_waiters;
}

void session_wait_commit(struct waiter *w)
{
	waiter_push(&B.commit_waiters, w);
	if (!session__s.flush_scheduled) {
		session__s.flush_scheduled = true;
		session__s.schedule();
	}
}

void session_waiter_cancel(struct waiter *w)
{
	if (!w->queued)
		return;
	if (w->for_lock)
		lock_unlink(w);
	else if (w->sess && !w->sess->dead) {
		waiter_unlink(&w->sess->waiters, w);
		metrics_gauge_add(MG_LONGPOLL_WAITERS, -1);
	} else {
		waiter_unlink(&B.commit_waiters, w);
	}
}

/* ---- sending ---- */

static void peer_send(struct peer *p, char *msg)
{
	if (!msg)
		return;
	if (!p || p->closing) {
		free(msg);
		return;
	}
	metrics_inc(MC_WS_MESSAGES_OUT);
	if (p->ops->send(p, msg) == SB_ELIMIT) {
		metrics_inc(MC_SLOW_CONSUMER_CLOSES);
		log_warn("slow consumer closed", "sid=%s role=%s",
			 p->sess ? p->sess->id : "-", auth_role_name(p->role));
		p->closing = true;
		p->ops->close(p, 1008, "send queue overflow");
	}
}

void session_peer_send(struct peer *p, char *msg)
{
	peer_send(p, msg);
}

void session_peer_error(struct peer *p, enum sb_wire code, const char *message, const char *id)
{
	metrics_error(code);
	peer_send(p, sb_msg_error(sb_wire_name(code), message, id));
}

static void send_to_desktops(struct sess *s, const char *msg)
{
	for (struct peer *p = s->peers; p; p = p->next)
		if (p->role == SB_ROLE_DESKTOP)
			peer_send(p, strdup(msg));
}

void session__notify_desktops(struct sess *s, char *msg, bool after_commit)
{
	struct action *a;

	if (!msg)
		return;
	if (after_commit && store_in_txn(session__s.st) && (a = action_add(ACT_NOTIFY, s))) {
		a->msg = msg;
		return;
	}
	send_to_desktops(s, msg);
	free(msg);
}

/* ---- replay and forward to desktops ---- */

struct refill_ctx { struct peer *p; int n; };

static void refill_one(const struct sb_scan *scan, void *arg)
{
	struct refill_ctx *c = arg;

	c->n++;
	c->p->sent_seq = scan->seq;
	peer_send(c->p, sb_msg_scan(scan));
}

/* Queues scans the desktop has not seen yet, a chunk at a time, from the store. */
static void desktop_refill(struct peer *p)
{
	struct sess *s = p->sess;
	struct refill_ctx c = { p, 0 };

	while (s && !p->closing && p->sent_seq < s->committed_seq &&
	       p->ops->queued(p) < refill_chunk()) {
		c.n = 0;
		if (store_scans_after(session__s.st, s->id, p->sent_seq, s->committed_seq,
				      (int)refill_chunk(), refill_one, &c))
			return;
		if (c.n < (int)refill_chunk())
			p->sent_seq = s->committed_seq; /* the rest is purged */
	}
}

static void scanner_refill(struct peer *p);

void session_peer_writable(struct peer *p)
{
	if (p->sess && p->role == SB_ROLE_DESKTOP)
		desktop_refill(p);
	else if (p->sess)
		scanner_refill(p);
}

/* A desktop more than send_queue_max scans behind whose queue is not
 * draining has stopped reading: close it (1008) so its socket and session
 * slot do not stay held; it resumes later from its last_seq. Its memory was
 * bounded all along (the backlog waits in SQLite). */
static void close_if_stalled(struct peer *p, int64_t head)
{
	if (p->closing || head - p->sent_seq <= session__s.cfg->send_queue_max ||
	    p->ops->queued(p) < refill_chunk())
		return;
	metrics_inc(MC_SLOW_CONSUMER_CLOSES);
	log_warn("slow consumer closed", "sid=%s role=desktop behind=%lld", p->sess->id,
		 (long long)(head - p->sent_seq));
	p->closing = true;
	p->ops->close(p, 1008, "send queue overflow");
}

static void forward_scan(struct action *a)
{
	struct sess *s = a->sess;

	if (s->dead)
		return;
	if (a->to > s->committed_seq)
		s->committed_seq = a->to;
	for (struct peer *p = s->peers; p; p = p->next) {
		if (p->role != SB_ROLE_DESKTOP || p->closing)
			continue;
		/* A desktop that is replaying, or whose queue is filling up, falls
		 * behind instead: the store has the scan and desktop_refill sends it
		 * as the queue drains, so its memory stays bounded. */
		if (p->sent_seq == a->to - 1 && p->ops->queued(p) < refill_chunk()) {
			p->sent_seq = a->to;
			peer_send(p, strdup(a->msg));
		} else if (p->sent_seq < a->to - 1) {
			desktop_refill(p);
			close_if_stalled(p, a->to);
		}
	}
	metrics_inc(MC_SCANS_RELAYED);
	metrics_observe(MH_RELAY_LATENCY, (double)(clock_mono_ms() - a->received_mono) / 1000.0);
}

static void wake_waiters(struct sess *s)
{
	struct waiter *w = s->waiters, *next;

	for (; w; w = next) {
		next = w->next;
		if (s->committed_seq > w->after) {
			waiter_unlink(&s->waiters, w);
			metrics_gauge_add(MG_LONGPOLL_WAITERS, -1);
			w->done(w, 0);
		}
	}
}

void session__fail_waiters(struct sess *s, int rc)
{
	while (s->waiters) {
		struct waiter *w = s->waiters;

		waiter_unlink(&s->waiters, w);
		metrics_gauge_add(MG_LONGPOLL_WAITERS, -1);
		w->done(w, rc);
	}
}

void session_waiter_park(struct sess *s, struct waiter *w, int64_t after)
{
	w->sess = s;
	w->after = after;
	waiter_push(&s->waiters, w);
	metrics_gauge_add(MG_LONGPOLL_WAITERS, 1);
}

/* ---- delivered receipts ---- */

/* A scanner's sent_seq is how far its `delivered` receipts have been queued; a
 * cumulative desktop ack can cover thousands of scans, so receipts are paced
 * a chunk at a time like a desktop's replay. */
struct receipt_ctx { struct peer *p; };

static void receipt_one(const struct sb_scan *scan, void *arg)
{
	struct receipt_ctx *c = arg;

	if (!strcmp(c->p->scanner, scan->scanner))
		peer_send(c->p, sb_msg_delivered(scan->id, scan->seq));
}

static void scanner_refill(struct peer *p)
{
	struct sess *s = p->sess;
	struct receipt_ctx c = { p };

	while (s && !p->closing && p->sent_seq < s->delivered_seq &&
	       p->ops->queued(p) < refill_chunk()) {
		int64_t to = p->sent_seq + refill_chunk();

		if (to > s->delivered_seq)
			to = s->delivered_seq;
		if (store_scans_range(session__s.st, s->id, p->sent_seq, to, receipt_one, &c))
			return;
		p->sent_seq = to;
	}
}

static void send_receipts(struct action *a)
{
	if (a->sess->dead)
		return;
	for (struct peer *p = a->sess->peers; p; p = p->next)
		if (p->role == SB_ROLE_SCANNER)
			scanner_refill(p);
}

/* ---- flush ---- */

static void run_action(struct action *a, int rc)
{
	switch (a->kind) {
	case ACT_REPLY:
		if (!rc) {
			peer_send(a->peer, a->msg);
			a->msg = NULL;
		} else if (a->peer) {
			session_peer_error(a->peer, SB_WIRE_UNAVAILABLE,
					   "the scan could not be stored; resend it", a->id);
		}
		break;
	case ACT_FORWARD:
		if (!rc)
			forward_scan(a);
		break;
	case ACT_DELIVERED:
		if (!rc)
			send_receipts(a);
		else if (a->peer) /* else the desktop takes the ack as done */
			session_peer_error(a->peer, SB_WIRE_UNAVAILABLE,
					   "the acknowledgement could not be stored; send it again", NULL);
		break;
	case ACT_END:
		if (!rc && a->sess && !a->sess->dead)
			session__ended(a->sess);
		break;
	case ACT_NOTIFY:
		if (!rc && !a->sess->dead)
			send_to_desktops(a->sess, a->msg);
		break;
	}
}

static void run_actions(int rc)
{
	struct action *a = B.head;

	B.head = B.tail = NULL;
	while (a) {
		struct action *next = a->next;

		run_action(a, rc);
		free(a->msg);
		free(a);
		a = next;
	}
}

static void run_commit_waiters(int rc)
{
	while (B.commit_waiters) {
		struct waiter *w = B.commit_waiters;

		waiter_unlink(&B.commit_waiters, w);
		w->done(w, rc);
	}
}

/* After the batch: wake long-polls of sessions that got scans; on failure put
 * the in-memory heads back to what the database holds. */
static void settle_touched(int rc)
{
	struct sess *s = session__s.touched, *next;

	session__s.touched = NULL;
	for (; s; s = next) {
		next = s->touched_next;
		s->touched = false;
		s->touched_next = NULL;
		if (s->dead)
			continue;
		if (rc) {
			session__reload(s);
		} else {
			s->committed_seq = s->last_seq;
			wake_waiters(s);
		}
	}
}

static void free_graveyard(void)
{
	while (session__s.graveyard) {
		struct sess *s = session__s.graveyard;

		session__s.graveyard = s->hnext;
		free(s);
	}
}

/* The last group commit failed (disk full, I/O error, a write lock that did
 * not come back in time) and none has succeeded since: /healthz reports
 * degraded until writes work again. */
bool session_store_failing(void)
{
	return store_failing;
}

/* A COMMIT that met a lock keeps the batch open, its answers held, and is
 * tried again from the timer until the deadline; then it is rolled back. */
static int commit_busy(void)
{
	if (!L.commit) {
		L.commit = true;
		L.since = 0;
		lock_wait_start();
		return STORE_EBUSY;
	}
	if (!lock_past_deadline()) {
		lock_arm();
		return STORE_EBUSY;
	}
	store_rollback(session__s.st);
	return SB_EIO;
}

static int commit(void)
{
	int rc = store_commit(session__s.st);

	if (rc == STORE_EBUSY && (rc = commit_busy()) == STORE_EBUSY)
		return rc;
	if (L.commit) {
		L.commit = false;
		L.since = 0;
	}
	return rc;
}

int session_flush(void)
{
	int64_t t0 = clock_mono_ms();
	int rc = 0;

	session__s.flush_scheduled = false;
	if (store_in_txn(session__s.st)) {
		if ((rc = commit()) == STORE_EBUSY)
			return 0;        /* answers wait for the retried COMMIT */
		metrics_inc(rc ? MC_COMMIT_FAILURES : MC_COMMITS);
		metrics_observe(MH_COMMIT_TIME, (double)(clock_mono_ms() - t0) / 1000.0);
		if (rc)
			log_error("commit failed; batch answered unavailable", "err=\"%s\"",
				  sb_strerror(rc));
		else if (store_failing)
			log_info("storage writes recovered", NULL);
		store_failing = rc != 0;
	}
	settle_touched(rc);
	run_actions(rc);
	run_commit_waiters(rc);
	free_graveyard();
	return rc;
}

/* The loop's share of WAL checkpointing (store.h): it stalls the loop for the
 * pages that came in while the store's thread copied the rest. */
void session_checkpoint(void)
{
	static bool failing;
	int64_t t0;
	int rc;

	if (!store_checkpoint_due(session__s.st))
		return;
	t0 = clock_mono_ms();
	rc = store_checkpoint(session__s.st);
	metrics_observe(MH_CHECKPOINT_TIME, (double)(clock_mono_ms() - t0) / 1000.0);
	if (rc && !failing)
		log_warn("WAL checkpoint failed; retrying after each batch", "err=\"%s\"",
			 store_last_error(session__s.st));
	else if (!rc && failing)
		log_info("WAL checkpoint recovered", NULL);
	failing = rc != 0;
}

struct action *session__end_after_commit(struct sess *s)
{
	return action_add(ACT_END, s);
}

void session__action_cancel(struct action *a)
{
	a->sess = NULL;
}

void session__batch_free(void)
{
	lock_run_waiters(SB_EIO);
	L.since = 0;
	L.commit = L.probe = L.hit = false;
	run_actions(SB_EIO);
	run_commit_waiters(SB_EIO);
	free_graveyard();
}

/* ---- scans ---- */

/* A resend is the rare case: try the INSERT first (the UNIQUE(session, client
 * id) index is the check) and look the original up only when it collides. */
static int scan_duplicate(struct sess *s, const struct sb_scan *scan, int64_t *seq,
			  bool *duplicate)
{
	struct sb_scan found;
	int rc = store_scan_find(session__s.st, s->id, scan->id, &found, NULL, NULL);

	if (rc)
		return rc == SB_ENOTFOUND ? SB_EIO : rc;
	*seq = found.seq;
	*duplicate = true;
	metrics_inc(MC_SCANS_DUPLICATE);
	return 0;
}

int session_scan_put(struct sess *s, const char *scanner, struct sb_scan *scan,
		     int64_t *seq, bool *duplicate)
{
	struct action *a;
	int rc;

	if ((rc = session__batch_begin(s)))
		return rc;
	scan->seq = s->last_seq + 1;
	scan->received_at = clock_wall_ms();
	snprintf(scan->scanner, sizeof(scan->scanner), "%s", scanner);
	rc = store_scan_insert(session__s.st, s->id, scan);
	if (rc == SB_EEXIST)
		return scan_duplicate(s, scan, seq, duplicate);
	if (rc)
		return rc;
	s->last_seq = scan->seq;
	*seq = scan->seq;
	*duplicate = false;
	if (!(a = action_add(ACT_FORWARD, s)))
		return SB_ENOMEM;
	a->to = scan->seq;
	a->msg = sb_msg_scan(scan);
	a->received_mono = clock_mono_ms();
	return 0;
}

/* ---- WS messages waiting for the write lock ---- */

/* A scan, ack or kick that met the lock, copied (the decoded message is the
 * transport's) and run again in arrival order once the lock is ours. */
struct parked {
	struct waiter w;
	struct peer *peer;          /* NULL once the socket went away */
	enum sb_msg_type type;
	int64_t seq;                /* ack */
	char scanner[SB_ID_MAX];    /* kick */
	struct sb_scan scan;        /* scan */
};

static void peer_scan(struct peer *p, struct sb_scan *scan);
static void peer_ack(struct peer *p, int64_t seq);
static void peer_kick(struct peer *p, const char *scanner_id);

static void parked_done(struct waiter *w, int rc)
{
	struct parked *k = (struct parked *)((char *)w - offsetof(struct parked, w));
	struct peer *p = k->peer;

	if (p && p->sess && !p->closing && rc)
		session_peer_error(p, SB_WIRE_UNAVAILABLE, "the database is busy; send it again",
				   k->type == SB_MSG_SCAN ? k->scan.id : NULL);
	else if (p && p->sess && !p->closing && k->type == SB_MSG_SCAN)
		peer_scan(p, &k->scan);
	else if (p && p->sess && !p->closing && k->type == SB_MSG_ACK)
		peer_ack(p, k->seq);
	else if (p && p->sess && !p->closing && k->type == SB_MSG_KICK)
		peer_kick(p, k->scanner);
	free(k);
}

/* Queues p's message for the lock; false (answer `unavailable` now) when too
 * many already wait or memory is short. */
static bool park(struct peer *p, enum sb_msg_type type, const struct sb_scan *scan,
		 int64_t seq, const char *scanner)
{
	struct parked *k;

	if (L.n >= LOCK_WAITERS_MAX || !(k = calloc(1, sizeof(*k))))
		return false;
	k->w.done = parked_done;
	k->peer = p;
	k->type = type;
	k->seq = seq;
	if (scan)
		k->scan = *scan;
	if (scanner)
		snprintf(k->scanner, sizeof(k->scanner), "%s", scanner);
	session_wait_lock(&k->w);
	return true;
}

/* The socket is gone: its waiting messages go with it (never acknowledged). */
static void unpark(struct peer *p)
{
	struct waiter *w = L.head, *next;

	for (; w; w = next) {
		next = w->next;
		if (w->done == parked_done &&
		    ((struct parked *)((char *)w - offsetof(struct parked, w)))->peer == p) {
			lock_unlink(w);
			free((char *)w - offsetof(struct parked, w));
		}
	}
}

static void peer_scan(struct peer *p, struct sb_scan *scan)
{
	int64_t seq = 0;
	bool dup = false;
	struct action *a;
	int rc;

	if (p->role != SB_ROLE_SCANNER) {
		session_peer_error(p, SB_WIRE_INVALID_REQUEST, "only a scanner sends scans", scan->id);
		return;
	}
	rc = session_scan_put(p->sess, p->scanner, scan, &seq, &dup);
	if (rc == STORE_EBUSY && park(p, SB_MSG_SCAN, scan, 0, NULL))
		return;
	if (rc) {
		session_peer_error(p, SB_WIRE_UNAVAILABLE, "the scan could not be stored; resend it",
				   scan->id);
		return;
	}
	if (!store_in_txn(session__s.st)) {
		peer_send(p, sb_msg_ack(scan->id, seq, dup));
		return;
	}
	if (!(a = action_add(ACT_REPLY, p->sess))) {
		session_peer_error(p, SB_WIRE_UNAVAILABLE, "out of memory", scan->id);
		return;
	}
	a->peer = p;
	a->msg = sb_msg_ack(scan->id, seq, dup);
	snprintf(a->id, sizeof(a->id), "%s", scan->id);
}

/* ---- desktop acks ---- */

/* p: the desktop that sent it over WS, told if the commit fails (NULL: REST,
 * whose answer waits for the commit). */
static int ack_store(struct sess *s, int64_t seq, struct peer *p)
{
	struct action *a;
	int rc;

	if (seq > s->committed_seq)
		return SB_EINVAL;
	if (seq <= s->delivered_seq)
		return 0;
	if ((rc = session__batch_begin(s)) ||
	    (rc = store_session_deliver(session__s.st, s->id, seq, clock_wall_ms())))
		return rc;
	if (!(a = action_add(ACT_DELIVERED, s)))
		return SB_ENOMEM;
	a->peer = p;
	metrics_add(MC_DELIVERED, seq - s->delivered_seq);
	s->delivered_seq = seq;
	return 0;
}

int session_ack(struct sess *s, int64_t seq)
{
	return ack_store(s, seq, NULL);
}

static void peer_ack(struct peer *p, int64_t seq)
{
	int rc;

	if (p->role != SB_ROLE_DESKTOP) {
		session_peer_error(p, SB_WIRE_INVALID_REQUEST, "only a desktop acknowledges scans", NULL);
		return;
	}
	rc = ack_store(p->sess, seq, p);
	if (rc == STORE_EBUSY && park(p, SB_MSG_ACK, NULL, seq, NULL))
		return;
	if (rc == SB_EINVAL)
		session_peer_error(p, SB_WIRE_INVALID_REQUEST, "seq: above the session's last scan", NULL);
	else if (rc)
		session_peer_error(p, SB_WIRE_UNAVAILABLE, "the acknowledgement could not be stored", NULL);
}

/* ---- kick ---- */

static void peer_unlink(struct peer *p);

/* Closes a scanner's sockets and takes them out of the session at once, so
 * their later CLOSED callbacks do not announce a second scanner_left. */
static void close_scanner_peers(struct sess *s, const char *scanner_id, int code,
				const char *reason)
{
	struct peer *p = s->peers, *next;

	for (; p; p = next) {
		next = p->next;
		if (p->role != SB_ROLE_SCANNER || strcmp(p->scanner, scanner_id))
			continue;
		if (!p->closing) {
			p->closing = true;
			p->ops->close(p, code, reason);
		}
		peer_unlink(p);
	}
}

static void peer_kick(struct peer *p, const char *scanner_id)
{
	struct store_scanner sc;
	struct sess *s = p->sess;
	int rc;

	if (p->role != SB_ROLE_DESKTOP) {
		session_peer_error(p, SB_WIRE_INVALID_REQUEST, "only a desktop removes scanners", NULL);
		return;
	}
	if (store_scanner_get(session__s.st, s->id, scanner_id, &sc) || sc.kicked) {
		session_peer_error(p, SB_WIRE_INVALID_REQUEST, "scanner: no such scanner in this session", NULL);
		return;
	}
	rc = session__batch_begin(s);
	if (rc == STORE_EBUSY && park(p, SB_MSG_KICK, NULL, 0, scanner_id))
		return;
	if (rc || store_scanner_kick(session__s.st, s->id, scanner_id)) {
		session_peer_error(p, SB_WIRE_UNAVAILABLE, "the scanner could not be removed", NULL);
		return;
	}
	close_scanner_peers(s, scanner_id, 4003, "kicked");
	session__notify_desktops(s, sb_msg_scanner_left(scanner_id, "kicked"), true);
	log_info("scanner kicked", "sid=%s scanner=%s", s->id, scanner_id);
}

/* ---- hello and peers ---- */

static void peer_link(struct sess *s, struct peer *p)
{
	p->sess = s;
	p->prev = NULL;
	p->next = s->peers;
	if (s->peers)
		s->peers->prev = p;
	s->peers = p;
}

static void peer_unlink(struct peer *p)
{
	struct sess *s = p->sess;

	if (p->prev)
		p->prev->next = p->next;
	else if (s->peers == p)
		s->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	p->sess = NULL;
}

static void peer_set_gauge(struct peer *p, int gauge)
{
	if (p->gauge >= 0)
		metrics_gauge_add(p->gauge, -1);
	p->gauge = gauge;
	if (gauge >= 0)
		metrics_gauge_add(gauge, 1);
}

static char *welcome_for(struct peer *p);

static void peer_hello(struct peer *p, const struct sb_client_msg *m)
{
	struct auth_claims c;
	struct sess *s = NULL;
	int rc;

	rc = session_authorize(m->token, NULL, SB_ROLE_DESKTOP, &s, &c);
	if (rc == SB_EFORBIDDEN) /* a scanner token: fine for hello */
		rc = session_authorize(m->token, NULL, SB_ROLE_SCANNER, &s, &c);
	if (!rc && c.role == SB_ROLE_SCANNER && strlen(c.sub) >= sizeof(p->scanner))
		rc = SB_EAUTH; /* never one of ours: see PEER_SCANNER_MAX */
	if (rc) {
		p->closing = true;
		p->ops->close(p, sb_wire_refusal(rc)->ws_close, sb_strerror(rc));
		return;
	}
	p->role = c.role;
	/* fits: checked above (a "%s" snprintf would warn of truncation) */
	strcpy(p->scanner, c.role == SB_ROLE_SCANNER ? c.sub : "");
	/* desktops: scans up to last_seq are held; scanners: receipts up to
	 * delivered_seq are implied by welcome */
	p->sent_seq = c.role == SB_ROLE_DESKTOP ? m->last_seq : s->delivered_seq;
	peer_link(s, p);
	if (p->sent_seq > s->committed_seq) {
		/* it claims scans the session never had (restored from another
		 * database?): say so, and send from the real head on */
		p->sent_seq = s->committed_seq;
		peer_send(p, welcome_for(p));
		session_peer_error(p, SB_WIRE_INVALID_REQUEST, "last_seq: above the session's last scan", NULL);
		peer_set_gauge(p, MG_CONN_DESKTOP);
		return;
	}
	peer_set_gauge(p, c.role == SB_ROLE_DESKTOP ? MG_CONN_DESKTOP : MG_CONN_SCANNER);
	peer_send(p, welcome_for(p));
	if (c.role == SB_ROLE_DESKTOP) {
		desktop_refill(p);
	} else {
		struct store_scanner sc;

		if (!store_scanner_get(session__s.st, s->id, c.sub, &sc))
			session__notify_desktops(s, sb_msg_scanner_joined(sc.id, sc.name), false);
	}
}

/* A session's scanners as welcome and GET show them: the stored rows, and
 * the wire view (pointing into them) with each one's connected flag. */
struct scanner_list {
	struct store_scanner *rows;
	struct sb_scanner_info *items;
	size_t n, cap;
};

static void scanner_list_add(const struct store_scanner *sc, void *arg)
{
	struct scanner_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct store_scanner *rows = realloc(l->rows, cap * sizeof(*rows));

		if (!rows)
			return;
		l->rows = rows;
		l->cap = cap;
	}
	l->rows[l->n++] = *sc;
}

static void scanner_list_load(struct scanner_list *l, struct sess *s)
{
	memset(l, 0, sizeof(*l));
	store_scanners_list(session__s.st, s->id, scanner_list_add, l);
	if (l->n && !(l->items = calloc(l->n, sizeof(*l->items))))
		l->n = 0;
	for (size_t i = 0; i < l->n; i++) {
		l->items[i].id = l->rows[i].id;
		l->items[i].name = l->rows[i].name;
		l->items[i].connected = session__scanner_connected(s, l->rows[i].id);
	}
}

static void scanner_list_free(struct scanner_list *l)
{
	free(l->rows);
	free(l->items);
}

static const struct sb_scanner_info no_scanners[1];

static char *welcome_for(struct peer *p)
{
	struct sess *s = p->sess;
	struct scanner_list l;
	char *msg;

	if (p->role == SB_ROLE_SCANNER)
		return sb_msg_welcome("scanner", s->id, s->committed_seq, s->delivered_seq,
				      session__expires_at(s), p->scanner, NULL, 0);
	scanner_list_load(&l, s);
	msg = sb_msg_welcome("desktop", s->id, s->committed_seq, s->delivered_seq,
			     session__expires_at(s), NULL, l.items ? l.items : no_scanners, l.n);
	scanner_list_free(&l);
	return msg;
}

void *session_scanners_json(struct sess *s)
{
	struct scanner_list l;
	cJSON *arr = cJSON_CreateArray();

	scanner_list_load(&l, s);
	for (size_t i = 0; arr && i < l.n; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			break;
		}
		cJSON_AddStringToObject(o, "id", l.items[i].id);
		cJSON_AddStringToObject(o, "name", l.items[i].name);
		cJSON_AddBoolToObject(o, "connected", l.items[i].connected);
	}
	scanner_list_free(&l);
	return arr;
}

int session_peer_message(struct peer *p, const struct sb_client_msg *m)
{
	if (!p->sess) {
		if (m->type != SB_MSG_HELLO) {
			p->closing = true;
			p->ops->close(p, 4001, "the first message must be hello");
			return SB_EAUTH;
		}
		peer_hello(p, m);
		return 0;
	}
	session_touch(p->sess);
	switch (m->type) {
	case SB_MSG_HELLO:
		session_peer_error(p, SB_WIRE_INVALID_REQUEST, "hello was already sent", NULL);
		break;
	case SB_MSG_SCAN:
		peer_scan(p, (struct sb_scan *)&m->scan);
		break;
	case SB_MSG_ACK:
		peer_ack(p, m->seq);
		break;
	case SB_MSG_KICK:
		peer_kick(p, m->scanner);
		break;
	case SB_MSG_PING:
		peer_send(p, sb_msg_pong(clock_wall_ms()));
		break;
	}
	return 0;
}

static void cancel_replies(struct peer *p)
{
	for (struct action *a = B.head; a; a = a->next)
		if (a->peer == p)
			a->peer = NULL;
}

void session_peer_detach(struct peer *p)
{
	struct sess *s = p->sess;

	cancel_replies(p);
	unpark(p);
	peer_set_gauge(p, -1);
	if (!s)
		return;
	peer_unlink(p);
	if (p->role == SB_ROLE_SCANNER && !s->dead &&
	    !session__scanner_connected(s, p->scanner))
		session__notify_desktops(s, sb_msg_scanner_left(p->scanner, "disconnected"), false);
}

void session__unlink_all(struct sess *s, char *msg, int code, const char *reason)
{
	while (s->peers) {
		struct peer *p = s->peers;

		peer_send(p, msg ? strdup(msg) : NULL);
		peer_unlink(p);
		if (!p->closing) {
			p->closing = true;
			p->ops->close(p, code, reason);
		}
	}
	free(msg);
}
