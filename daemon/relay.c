/* SPDX-License-Identifier: MIT */
/* The relay (relay.h): scans stored and acknowledged, forwarded to desktops in
 * seq order, desktop acks turned into `delivered` receipts, desktop replay from
 * the store, hello/welcome, and WebSocket messages parked while another
 * process holds the write lock. Acks, forwards and receipts are deferred to
 * the batch and run after COMMIT. It writes no session state: every change
 * goes through session.h; of a peer it writes sent_seq and gauge. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batch.h"
#include "clock.h"
#include "grow.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "sb_err.h"
#include "wire_err.h"

#define REPLAY_CHUNK 128

static struct {
	const struct sb_config *cfg;
	struct store *st;
} R;

void relay_init(const struct sb_config *cfg, struct store *st)
{
	R.cfg = cfg;
	R.st = st;
}

/* Scans (or receipts) queued per refill: at most half the send queue, so the
 * welcome and a chunk always fit even with a small send_queue_max. */
static unsigned refill_chunk(void)
{
	unsigned half = (unsigned)R.cfg->send_queue_max / 2;

	return half < 1 ? 1 : half < REPLAY_CHUNK ? half : REPLAY_CHUNK;
}

/* ---- what waits for the commit ---- */

enum act_kind { ACT_REPLY, ACT_FORWARD, ACT_DELIVERED };

struct action {
	struct batch_action ba;
	enum act_kind kind;
	struct peer *peer;          /* REPLY, DELIVERED (the desktop, WS); NULL once gone */
	struct sess *sess;          /* FORWARD, DELIVERED */
	char *msg;                  /* REPLY: ack; FORWARD: scan */
	char id[SB_SCAN_ID_MAX + 1];/* REPLY: the scan id, for `unavailable` */
	int64_t to;                 /* FORWARD: the scan's seq */
	int64_t received_mono;      /* FORWARD: for relay latency */
};

static void action_run_cb(struct batch_action *ba, int rc);

static struct action *action_add(enum act_kind kind, struct sess *s)
{
	struct action *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->ba.run = action_run_cb;
	a->kind = kind;
	a->sess = s;
	batch_defer(&a->ba);
	return a;
}

/* ---- replay and forward to desktops ---- */

struct refill_ctx { struct peer *p; int n; };

static void refill_one(const struct sb_scan *scan, void *arg)
{
	struct refill_ctx *c = arg;

	c->n++;
	c->p->sent_seq = scan->seq;
	session_peer_send(c->p, sb_msg_scan(scan));
}

/* Queues scans the desktop has not seen yet, a chunk at a time, from the store. */
static void desktop_refill(struct peer *p)
{
	struct sess *s = p->sess;
	struct refill_ctx c = { p, 0 };
	int64_t head = s ? session_committed_seq(s) : 0;

	while (s && !p->closing && p->sent_seq < head && p->ops->queued(p) < refill_chunk()) {
		c.n = 0;
		if (store_scans_after(R.st, session_id(s), p->sent_seq, head,
				      (int)refill_chunk(), refill_one, &c))
			return;
		if (c.n < (int)refill_chunk())
			p->sent_seq = head; /* the rest is purged */
	}
}

static void scanner_refill(struct peer *p);

void relay_peer_writable(struct peer *p)
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
	if (p->closing || head - p->sent_seq <= R.cfg->send_queue_max ||
	    p->ops->queued(p) < refill_chunk())
		return;
	metrics_inc(MC_SLOW_CONSUMER_CLOSES);
	log_warn("slow consumer closed", "sid=%s role=desktop behind=%lld", session_id(p->sess),
		 (long long)(head - p->sent_seq));
	session_peer_close(p, 1008, "send queue overflow");
}

static void forward_scan(struct action *a)
{
	struct sess *s = a->sess;

	if (!session_live(s))
		return;
	for (struct peer *p = session_peers(s); p; p = p->next) {
		if (p->role != SB_ROLE_DESKTOP || p->closing)
			continue;
		/* A desktop that is replaying, or whose queue is filling up, falls
		 * behind instead: the store has the scan and desktop_refill sends it
		 * as the queue drains, so its memory stays bounded. */
		if (p->sent_seq == a->to - 1 && p->ops->queued(p) < refill_chunk()) {
			p->sent_seq = a->to;
			session_peer_send(p, strdup(a->msg));
		} else if (p->sent_seq < a->to - 1) {
			desktop_refill(p);
			close_if_stalled(p, a->to);
		}
	}
	metrics_inc(MC_SCANS_RELAYED);
	metrics_observe(MH_RELAY_LATENCY, (double)(clock_mono_ms() - a->received_mono) / 1000.0);
}

/* ---- delivered receipts ---- */

/* A scanner's sent_seq is how far its `delivered` receipts have been queued; a
 * cumulative desktop ack can cover thousands of scans, so receipts are paced
 * a chunk at a time like a desktop's replay. */
struct receipt_ctx { struct peer *p; };

static void receipt_one(const struct sb_scan *scan, void *arg)
{
	struct receipt_ctx *c = arg;

	session_peer_send(c->p, sb_msg_delivered(scan->id, scan->seq));
}

/* The end of the next chunk of receipts owed from `from` up to head. */
static int64_t receipts_chunk_end(int64_t from, int64_t head)
{
	return head - from > (int64_t)refill_chunk() ? from + (int64_t)refill_chunk() : head;
}

static void scanner_refill(struct peer *p)
{
	struct sess *s = p->sess;
	struct receipt_ctx c = { p };
	int64_t head = s ? session_delivered_seq(s) : 0;

	while (s && !p->closing && p->sent_seq < head && p->ops->queued(p) < refill_chunk()) {
		int64_t to = receipts_chunk_end(p->sent_seq, head);

		if (store_scans_range(R.st, session_id(s), p->scanner, p->sent_seq, to, receipt_one, &c))
			return;
		p->sent_seq = to;
	}
}

/* The scanners that share one read of the session's receipts. */
#define SHARED_RECEIPTS_MAX 16
struct shared_receipts {
	struct peer *p[SHARED_RECEIPTS_MAX];
	int n;
};

static void receipt_shared(const struct sb_scan *scan, void *arg)
{
	struct shared_receipts *r = arg;

	for (int i = 0; i < r->n; i++)
		if (scan->seq > r->p[i]->sent_seq && !strcmp(r->p[i]->scanner, scan->scanner))
			session_peer_send(r->p[i], sb_msg_delivered(scan->id, scan->seq));
}

/* The scanners ready for receipts (queue room, something owed) read the next
 * chunk of the session's scans once, together, instead of once each: at 100
 * sessions x 2 scanners the per-scanner queries were ~9% of the daemon's CPU
 * (docs/benchmarks.md). Each still gets only its own scans past its
 * sent_seq, in seq order; what is left goes on through scanner_refill. */
static void receipts_together(struct sess *s, int64_t head)
{
	struct shared_receipts r = { .n = 0 };
	int64_t from = head, to;

	for (struct peer *p = session_peers(s); p && r.n < SHARED_RECEIPTS_MAX; p = p->next)
		if (p->role == SB_ROLE_SCANNER && !p->closing && p->sent_seq < head &&
		    p->ops->queued(p) < refill_chunk()) {
			r.p[r.n++] = p;
			if (p->sent_seq < from)
				from = p->sent_seq;
		}
	if (r.n < 2)
		return;
	to = receipts_chunk_end(from, head);
	if (store_scans_span(R.st, session_id(s), from, to, receipt_shared, &r))
		return;
	for (int i = 0; i < r.n; i++)
		if (r.p[i]->sent_seq < to)
			r.p[i]->sent_seq = to;
}

static void send_receipts(struct action *a)
{
	if (!session_live(a->sess))
		return;
	receipts_together(a->sess, session_delivered_seq(a->sess));
	for (struct peer *p = session_peers(a->sess); p; p = p->next)
		if (p->role == SB_ROLE_SCANNER)
			scanner_refill(p);
}

/* ---- after the commit ---- */

static void run_action(struct action *a, int rc)
{
	switch (a->kind) {
	case ACT_REPLY:
		if (!rc) {
			session_peer_send(a->peer, a->msg);
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
	}
}

static void action_run_cb(struct batch_action *ba, int rc)
{
	struct action *a = (struct action *)ba;

	run_action(a, rc);
	free(a->msg);
	free(a);
}

static void drop_peer_cb(struct batch_action *ba, void *p)
{
	struct action *a = (struct action *)ba;

	if (ba->run == action_run_cb && a->peer == p)
		a->peer = NULL;
}

/* ---- scans ---- */

int relay_scan_put(struct sess *s, const char *scanner, struct sb_scan *scan,
		   int64_t *seq, bool *duplicate)
{
	struct action *a;
	int rc;

	if ((rc = session_scan_put(s, scanner, scan, seq, duplicate)) || *duplicate)
		return rc;
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
	struct batch_waiter w;
	struct peer *peer;          /* NULL once the socket went away */
	enum sb_msg_type type;
	int64_t seq;                /* ack */
	char scanner[SB_ID_MAX];    /* kick */
	struct sb_scan scan;        /* scan */
};

static void peer_scan(struct peer *p, struct sb_scan *scan);
static void peer_ack(struct peer *p, int64_t seq);
static void peer_kick(struct peer *p, const char *scanner_id);

static struct parked *parked_of(struct batch_waiter *w)
{
	return (struct parked *)((char *)w - offsetof(struct parked, w));
}

static void parked_done(struct batch_waiter *w, int rc)
{
	struct parked *k = parked_of(w);
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

	if (batch_lock_queue_full() || !(k = calloc(1, sizeof(*k))))
		return false;
	k->w.done = parked_done;
	k->peer = p;
	k->type = type;
	k->seq = seq;
	if (scan)
		k->scan = *scan;
	if (scanner)
		snprintf(k->scanner, sizeof(k->scanner), "%s", scanner);
	batch_wait_lock(&k->w);
	return true;
}

/* The socket is gone: its waiting messages go with it (never acknowledged). */
static void unpark_cb(struct batch_waiter *w, void *p)
{
	if (w->done == parked_done && parked_of(w)->peer == p) {
		batch_waiter_cancel(w);
		free(parked_of(w));
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
	rc = relay_scan_put(p->sess, p->scanner, scan, &seq, &dup);
	if (rc == STORE_EBUSY && park(p, SB_MSG_SCAN, scan, 0, NULL))
		return;
	if (rc) {
		session_peer_error(p, SB_WIRE_UNAVAILABLE, "the scan could not be stored; resend it",
				   scan->id);
		return;
	}
	if (!batch_in_txn()) {
		session_peer_send(p, sb_msg_ack(scan->id, seq, dup));
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

	if (seq > session_committed_seq(s))
		return SB_EINVAL;
	if (seq <= session_delivered_seq(s))
		return 0;
	if ((rc = session_deliver(s, seq)))
		return rc;
	if (!(a = action_add(ACT_DELIVERED, s)))
		return SB_ENOMEM;
	a->peer = p;
	return 0;
}

int relay_ack(struct sess *s, int64_t seq)
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

static void peer_kick(struct peer *p, const char *scanner_id)
{
	int rc;

	if (p->role != SB_ROLE_DESKTOP) {
		session_peer_error(p, SB_WIRE_INVALID_REQUEST, "only a desktop removes scanners", NULL);
		return;
	}
	rc = session_scanner_kick(p->sess, scanner_id);
	if (rc == STORE_EBUSY && park(p, SB_MSG_KICK, NULL, 0, scanner_id))
		return;
	if (rc == SB_ENOTFOUND)
		session_peer_error(p, SB_WIRE_INVALID_REQUEST, "scanner: no such scanner in this session", NULL);
	else if (rc)
		session_peer_error(p, SB_WIRE_UNAVAILABLE, "the scanner could not be removed", NULL);
}

/* ---- hello and peers ---- */

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
		session_peer_close(p, sb_wire_refusal(rc)->ws_close, sb_strerror(rc));
		return;
	}
	/* desktops: scans up to last_seq are held; scanners: receipts up to
	 * delivered_seq are implied by welcome */
	p->sent_seq = c.role == SB_ROLE_DESKTOP ? m->last_seq : session_delivered_seq(s);
	session_peer_join(s, p, c.role, c.role == SB_ROLE_SCANNER ? c.sub : "");
	if (p->sent_seq > session_committed_seq(s)) {
		/* it claims scans the session never had (restored from another
		 * database?): say so, and send from the real head on */
		p->sent_seq = session_committed_seq(s);
		session_peer_send(p, welcome_for(p));
		session_peer_error(p, SB_WIRE_INVALID_REQUEST, "last_seq: above the session's last scan", NULL);
		peer_set_gauge(p, MG_CONN_DESKTOP);
		return;
	}
	peer_set_gauge(p, c.role == SB_ROLE_DESKTOP ? MG_CONN_DESKTOP : MG_CONN_SCANNER);
	session_peer_send(p, welcome_for(p));
	if (c.role == SB_ROLE_DESKTOP) {
		desktop_refill(p);
	} else {
		struct store_scanner sc;

		if (!store_scanner_get(R.st, session_id(s), c.sub, &sc))
			session_notify_desktops(s, sb_msg_scanner_joined(sc.id, sc.name), false);
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
	struct store_scanner *rows = grow_reserve(l->rows, &l->cap, l->n + 1, sizeof(*rows), 8);

	if (!rows)
		return;
	l->rows = rows;
	l->rows[l->n++] = *sc;
}

static void scanner_list_load(struct scanner_list *l, struct sess *s)
{
	memset(l, 0, sizeof(*l));
	store_scanners_list(R.st, session_id(s), scanner_list_add, l);
	if (l->n && !(l->items = calloc(l->n, sizeof(*l->items))))
		l->n = 0;
	for (size_t i = 0; i < l->n; i++) {
		l->items[i].id = l->rows[i].id;
		l->items[i].name = l->rows[i].name;
		l->items[i].connected = session_scanner_connected(s, l->rows[i].id);
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
		return sb_msg_welcome("scanner", session_id(s), session_committed_seq(s),
				      session_delivered_seq(s), session_expires_at(s), p->scanner,
				      NULL, 0);
	scanner_list_load(&l, s);
	msg = sb_msg_welcome("desktop", session_id(s), session_committed_seq(s),
			     session_delivered_seq(s), session_expires_at(s), NULL,
			     l.items ? l.items : no_scanners, l.n);
	scanner_list_free(&l);
	return msg;
}

void *relay_scanners_json(struct sess *s)
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

int relay_peer_message(struct peer *p, const struct sb_client_msg *m)
{
	if (!p->sess) {
		if (m->type != SB_MSG_HELLO) {
			session_peer_close(p, 4001, "the first message must be hello");
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
		session_peer_send(p, sb_msg_pong(clock_wall_ms()));
		break;
	}
	return 0;
}

void relay_peer_detach(struct peer *p)
{
	batch_each(drop_peer_cb, p);        /* its answers are not sent */
	batch_lock_each(unpark_cb, p);
	peer_set_gauge(p, -1);
	session_peer_leave(p);
}

