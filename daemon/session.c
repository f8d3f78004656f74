/* SPDX-License-Identifier: MIT */
/* Sessions (session.h): the in-memory registry (loaded at start from the
 * store), opening, pairing, token checks against live sessions, sliding expiry,
 * ending and the periodic cleanup; each session's heads, its peers and its
 * long-poll waiters. The relay (relay.c) moves scans between the peers; this
 * file decides who may take part and for how long, and is the only writer of
 * struct sess. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "grow.h"
#include "idset.h"
#include "log.h"
#include "metrics.h"
#include "rand.h"
#include "ratelimit.h"
#include "sb_err.h"
#include "session.h"

/* Session ids are 16 random bytes in base64url (22 chars); the in-memory
 * record, one per live session, keeps them in a buffer that fits those rather
 * than SB_ID_MAX. A longer id (never one of ours) is not found. */
#define SESS_ID_MAX 24
#define SESSION_ID_BYTES 16
_Static_assert((SESSION_ID_BYTES * 4 + 2) / 3 < SESS_ID_MAX,
	       "a session id must fit struct sess's buffer");
#define PAIR_CODE_BYTES 16
#define SCANNER_ID_BYTES 12
_Static_assert((SCANNER_ID_BYTES * 4 + 2) / 3 < PEER_SCANNER_MAX,
	       "a scanner id must fit struct peer's buffer");

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
	/* Client ids of its scans, for resends (schema/004): read from the
	 * store when the session is first asked after start or a failed batch. */
	struct idset ids;
	bool ids_loaded;
	bool touched, dead;
	bool ending;             /* its DELETE is in the open batch */
};

#define SESS_BUCKETS 4096

static struct {
	const struct sb_config *cfg;
	struct store *st;
	struct auth *auth;
	struct sess *buckets[SESS_BUCKETS];
	struct sess *touched;        /* sessions written in the open batch */
	struct sess *graveyard;      /* ended sessions, freed after the flush */
} S;

static int64_t ttl_ms(void) { return (int64_t)S.cfg->session_ttl * 1000; }
static int64_t max_age_ms(void) { return (int64_t)S.cfg->session_max_age * 1000; }

static struct sess *sess_get(const char *sid);
static void settle_cb(int rc);
static void reap_cb(void);

static void load_one(const char *sid, void *ctx)
{
	sess_get(sid);
}

int session_init(const struct sb_config *cfg, struct store *st, struct auth *auth,
		 batch_schedule_fn schedule)
{
	static const struct batch_hooks hooks = { settle_cb, reap_cb };
	int64_t n = 0;

	memset(&S, 0, sizeof(S));
	S.cfg = cfg;
	S.st = st;
	S.auth = auth;
	batch_init(st, schedule, &hooks);
	if (store_sessions_each(st, load_one, NULL))
		return SB_EIO;
	if (!store_session_count(st, &n))
		metrics_gauge_set(MG_SESSIONS_ACTIVE, n);
	return 0;
}

void session_shutdown(void)
{
	batch_shutdown();
	reap_cb();
	for (int i = 0; i < SESS_BUCKETS; i++) {
		while (S.buckets[i]) {
			struct sess *s = S.buckets[i];

			S.buckets[i] = s->hnext;
			idset_free(&s->ids);
			free(s);
		}
	}
}

/* ---- registry ---- */

static unsigned bucket_of(const char *sid)
{
	unsigned h = 2166136261u;

	for (; *sid; sid++)
		h = (h ^ (unsigned char)*sid) * 16777619u;
	return h % SESS_BUCKETS;
}

static struct sess *lookup(const char *sid)
{
	for (struct sess *s = S.buckets[bucket_of(sid)]; s; s = s->hnext)
		if (!strcmp(s->id, sid))
			return s;
	return NULL;
}

static void insert(struct sess *s)
{
	unsigned b = bucket_of(s->id);

	s->hnext = S.buckets[b];
	S.buckets[b] = s;
}

static void unlink_from_registry(struct sess *s)
{
	struct sess **pp = &S.buckets[bucket_of(s->id)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	}
	s->hnext = NULL;
}

/* A stored wall time as a point on the monotonic clock (never in the future:
 * a wall clock that went back makes it "now"). */
static int64_t mono_of(int64_t wall_ms)
{
	int64_t ago = clock_wall_ms() - wall_ms;

	return clock_mono_ms() - (ago > 0 ? ago : 0);
}

static struct sess *sess_new(const struct store_session *row)
{
	size_t n = strlen(row->id);
	struct sess *s;

	if (n >= sizeof(s->id) || !(s = calloc(1, sizeof(*s))))
		return NULL;
	memcpy(s->id, row->id, n + 1);
	s->created_at = row->created_at;
	s->last_activity = row->last_activity;
	s->created_mono = mono_of(row->created_at);
	s->active_mono = s->persisted_mono = mono_of(row->last_activity);
	s->last_seq = s->committed_seq = row->last_seq;
	s->delivered_seq = row->delivered_seq;
	insert(s);
	return s;
}

static struct sess *sess_get(const char *sid)
{
	struct store_session row;
	struct sess *s = lookup(sid);

	if (s)
		return s;
	if (store_session_get(S.st, sid, &row))
		return NULL;
	return sess_new(&row);
}

static void unlink_all(struct sess *s, char *msg, int code, const char *reason);
static void fail_waiters(struct sess *s, int rc);

/* Takes s out of the registry; its record is freed after the flush (deferred
 * actions may still hold it). */
static void bury(struct sess *s)
{
	unlink_from_registry(s);
	s->dead = true;
	s->hnext = S.graveyard;
	S.graveyard = s;
}

/* After a failed commit: the heads go back to what the database holds. */
static void sess_reload(struct sess *s)
{
	struct store_session row;

	if (store_session_get(S.st, s->id, &row)) {
		/* created in the failed batch: it never existed */
		unlink_all(s, NULL, 1011, "session could not be stored");
		fail_waiters(s, SB_EIO);
		bury(s);
		return;
	}
	s->last_seq = s->committed_seq = row.last_seq;
	s->delivered_seq = row.delivered_seq;
	s->ending = false;       /* its DELETE, if any, was rolled back */
	idset_free(&s->ids);     /* it may name scans that were rolled back */
	s->ids_loaded = false;
}

const char *session_id(const struct sess *s) { return s->id; }
int64_t session_committed_seq(const struct sess *s) { return s->committed_seq; }
int64_t session_delivered_seq(const struct sess *s) { return s->delivered_seq; }
bool session_live(const struct sess *s) { return !s->dead; }

/* ---- the batch: sessions written in it follow its commit ---- */

/* Joins the open batch (batch_try/batch_begin), marking s (if any) written:
 * its heads settle when the batch commits or fails. */
static int sess_join(struct sess *s, int rc)
{
	if (rc)
		return rc;
	if (s && !s->touched) {
		s->touched = true;
		s->touched_next = S.touched;
		S.touched = s;
	}
	return 0;
}

static int sess_begin(struct sess *s) { return sess_join(s, batch_begin()); }
static int sess_try(struct sess *s) { return sess_join(s, batch_try()); }

static void wake_waiters(struct sess *s);

/* batch hook, after the COMMIT: wake long-polls of sessions that got scans;
 * on failure put the in-memory heads back to what the database holds. */
static void settle_cb(int rc)
{
	struct sess *s = S.touched, *next;

	S.touched = NULL;
	for (; s; s = next) {
		next = s->touched_next;
		s->touched = false;
		s->touched_next = NULL;
		if (s->dead)
			continue;
		if (rc) {
			sess_reload(s);
		} else {
			s->committed_seq = s->last_seq;
			wake_waiters(s);
		}
	}
}

/* batch hook, last: ended sessions' records go. */
static void reap_cb(void)
{
	while (S.graveyard) {
		struct sess *s = S.graveyard;

		S.graveyard = s->hnext;
		idset_free(&s->ids);
		free(s);
	}
}

/* ---- expiry ---- */

/* Monotonic ms left before the session expires (<= 0: expired). */
static int64_t ms_left(const struct sess *s)
{
	int64_t now = clock_mono_ms();
	int64_t idle = s->active_mono + ttl_ms() - now;
	int64_t aged = s->created_mono + max_age_ms() - now;

	return idle < aged ? idle : aged;
}

static bool sess_expired(const struct sess *s)
{
	return ms_left(s) <= 0;
}

int64_t session_expires_at(const struct sess *s)
{
	return clock_wall_ms() + ms_left(s);
}

/* Activity is kept in memory and written through at most every ttl/20 (>= 1 s),
 * inside the group commit (for a restart); the cleanup pass writes the rest. */
void session_touch(struct sess *s)
{
	int64_t mono = clock_mono_ms();
	int64_t every = ttl_ms() / 20 > 1000 ? ttl_ms() / 20 : 1000;

	if (mono <= s->active_mono)
		return;
	s->active_mono = mono;
	s->last_activity = clock_wall_ms();
	if (mono - s->persisted_mono < every)
		return;
	if (!sess_try(s) && !store_session_touch(S.st, s->id, s->last_activity))
		s->persisted_mono = mono;
}

/* Tells the session's clients it is over and forgets it. */
static void sess_forget(struct sess *s, enum store_end_reason why)
{
	bool expired = why == STORE_ENDED_EXPIRED;
	char *msg = expired ? sb_msg_session_expired() : sb_msg_session_ended("deleted");

	unlink_all(s, msg, 4004, expired ? "session expired" : "session ended");
	fail_waiters(s, expired ? SB_EEXPIRED : SB_EGONE);
	bury(s);
	metrics_gauge_add(MG_SESSIONS_ACTIVE, -1);
	metrics_inc(expired ? MC_SESSIONS_EXPIRED : MC_SESSIONS_DELETED);
	log_info(expired ? "session expired" : "session ended", "sid=%s", s->id);
}

/* Expiry ends the session in memory whatever the store says: a row left
 * behind (write failed) is loaded again, found expired and ended again. */
static void sess_kill(struct sess *s, enum store_end_reason why)
{
	if (!sess_try(s))
		store_session_end(S.st, s->id, why, clock_wall_ms(), max_age_ms());
	sess_forget(s, why);
}

/* ---- what waits for the commit: the session's own deferred actions ---- */

enum sess_act { SACT_NOTIFY, SACT_END };

struct sess_action {
	struct batch_action ba;
	enum sess_act kind;
	struct sess *sess;          /* NULL: cancelled */
	char *msg;                  /* NOTIFY: the message for the desktops */
};

static void send_to_desktops(struct sess *s, const char *msg);

static void sess_action_cb(struct batch_action *ba, int rc)
{
	struct sess_action *a = (struct sess_action *)ba;

	if (!rc && a->sess && !a->sess->dead) {
		if (a->kind == SACT_NOTIFY)
			send_to_desktops(a->sess, a->msg);
		else
			sess_forget(a->sess, STORE_ENDED_DELETED); /* its DELETE committed */
	}
	free(a->msg);
	free(a);
}

static struct sess_action *sess_defer(enum sess_act kind, struct sess *s)
{
	struct sess_action *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->ba.run = sess_action_cb;
	a->kind = kind;
	a->sess = s;
	batch_defer(&a->ba);
	return a;
}

/* DELETE: the client's 204 means it is gone, so nothing happens before the
 * row's removal commits (sess_forget then); a write or commit that fails
 * leaves the session, its tokens and its sockets as they were. */
int session_end(struct sess *s)
{
	struct sess_action *a;
	int rc;

	if (s->ending)
		return 0;            /* a DELETE of it is already in this batch */
	if ((rc = sess_begin(s)))
		return rc;
	if (!(a = sess_defer(SACT_END, s)))
		return SB_ENOMEM;
	rc = store_session_end(S.st, s->id, STORE_ENDED_DELETED, clock_wall_ms(),
			       max_age_ms());
	if (rc) {
		a->sess = NULL;      /* the write it stood for failed: forget it */
		return rc;
	}
	s->ending = true;
	return 0;
}

struct sid_list { char (*ids)[SB_ID_MAX]; size_t n, cap; };

static void sid_list_add(const char *sid, void *arg)
{
	struct sid_list *l = arg;
	void *p = grow_reserve(l->ids, &l->cap, l->n + 1, sizeof(*l->ids), 64);

	if (!p)
		return;
	l->ids = p;
	snprintf(l->ids[l->n++], SB_ID_MAX, "%s", sid);
}

static void persist_activity(struct sess *s)
{
	if (s->active_mono <= s->persisted_mono || sess_try(s))
		return;
	if (!store_session_touch(S.st, s->id, s->last_activity))
		s->persisted_mono = s->active_mono;
}

/* ---- renewal ---- */

static int issue_token(const char *sid, enum sb_role role, const char *sub,
		       int64_t created_ms, char **token);

/* A till open all day must not lose its phones to the maximum age: a session
 * with open connections is renewed this close to it (two cleanup passes, as
 * one may meet the write lock; at most half its life). */
static int64_t renew_window_ms(void)
{
	int64_t w = 2 * (int64_t)S.cfg->cleanup_interval * 1000 + 1000;

	return w < max_age_ms() / 2 ? w : max_age_ms() / 2;
}

static bool in_use(const struct sess *s)
{
	for (const struct peer *p = s->peers; p; p = p->next)
		if (!p->closing)
			return true;
	return false;
}

/* Every open connection gets a token for the new life, for its own role
 * and scanner; one that is not connected now keeps its old token, which
 * ends at the old maximum age (that phone pairs again). */
static void send_renewed(struct sess *s)
{
	int64_t expires_at = session_expires_at(s);

	for (struct peer *p = s->peers; p; p = p->next) {
		char *token = NULL;

		if (p->closing || issue_token(s->id, p->role, p->role == SB_ROLE_DESKTOP ?
					      "desktop" : p->scanner, s->created_at, &token))
			continue;
		session_peer_send(p, sb_msg_renewed(token, expires_at));
		free(token);
	}
}

static void maybe_renew(struct sess *s)
{
	int64_t now = clock_mono_ms(), wall = clock_wall_ms();

	if (s->created_mono + max_age_ms() - now > renew_window_ms() || s->ending || !in_use(s))
		return;
	if (sess_try(s) || store_session_renew(S.st, s->id, wall))
		return; /* the next pass tries again */
	s->created_at = wall;
	s->created_mono = now;
	send_renewed(s);
	metrics_inc(MC_SESSIONS_RENEWED);
	log_info("session renewed at its maximum age", "sid=%s", s->id);
}

/* Every session is in memory (loaded at start), so expiry is decided here on
 * the monotonic clock; the database only needs the activity for a restart. */
static void expire_sessions(void)
{
	struct sid_list l = { 0 };

	for (int i = 0; i < SESS_BUCKETS; i++) {
		for (struct sess *s = S.buckets[i]; s; s = s->hnext) {
			if (sess_expired(s)) {
				sid_list_add(s->id, &l);
			} else {
				persist_activity(s);
				maybe_renew(s);
			}
		}
	}
	for (size_t i = 0; i < l.n; i++) {
		struct sess *s = lookup(l.ids[i]);

		if (s)
			sess_kill(s, STORE_ENDED_EXPIRED);
	}
	free(l.ids);
}

/* A used or expired pair code answers like an unknown one, so its row serves
 * nothing: it is deleted here (a session that stops issuing codes would keep
 * them until it ends). */
static void purge_pair_codes(int64_t now)
{
	int64_t n = 0;

	if (!batch_try() && !store_pair_codes_purge(S.st, now, &n) && n)
		log_debug("purged pair codes", "n=%lld", (long long)n);
}

void session_cleanup(void)
{
	int64_t now = clock_wall_ms();
	int64_t purged = 0;

	expire_sessions();
	if (!batch_try())
		store_purge(S.st, now - (int64_t)S.cfg->scan_retention * 1000,
			    now, &purged);
	if (purged)
		log_debug("purged delivered scans", "n=%lld", (long long)purged);
	purge_pair_codes(now);
}

void session_close_all(int code, const char *reason)
{
	for (int i = 0; i < SESS_BUCKETS; i++) {
		for (struct sess *s = S.buckets[i]; s; s = s->hnext) {
			unlink_all(s, NULL, code, reason);
			fail_waiters(s, SB_EIO);
		}
	}
}

/* ---- tokens ---- */

static int issue_token(const char *sid, enum sb_role role, const char *sub,
		       int64_t created_ms, char **token)
{
	struct auth_claims c = { .role = role };

	snprintf(c.sid, sizeof(c.sid), "%s", sid);
	snprintf(c.sub, sizeof(c.sub), "%s", sub);
	c.iat = clock_wall_ms() / 1000;
	c.exp = (created_ms + max_age_ms()) / 1000;
	return auth_issue(S.auth, &c, token);
}

static int gone_reason(const char *sid)
{
	int why = store_session_end_reason(S.st, sid);

	if (why == STORE_ENDED_EXPIRED)
		return SB_EEXPIRED;
	if (why == STORE_ENDED_DELETED)
		return SB_EGONE;
	return SB_EAUTH;
}

static int check_scanner(struct sess *s, const char *scanner_id)
{
	struct store_scanner sc;

	if (store_scanner_get(S.st, s->id, scanner_id, &sc))
		return SB_EAUTH;
	return sc.kicked ? SB_EKICKED : 0;
}

int session_authorize(const char *token, const char *sid, enum sb_role role,
		      struct sess **out, struct auth_claims *c)
{
	struct sess *s;
	int rc;

	if (!token || !*token)
		return SB_EAUTH;
	rc = auth_verify(S.auth, token, clock_wall_ms() / 1000, c);
	if (rc)
		return rc == SB_EEXPIRED ? SB_EEXPIRED : SB_EAUTH;
	if (!(s = sess_get(c->sid)))
		return gone_reason(c->sid);
	if (sess_expired(s)) {
		sess_kill(s, STORE_ENDED_EXPIRED);
		return SB_EEXPIRED;
	}
	if (c->role == SB_ROLE_SCANNER && (rc = check_scanner(s, c->sub)))
		return rc;
	if ((sid && strcmp(sid, c->sid)) || c->role != role)
		return SB_EFORBIDDEN;
	session_touch(s);
	*out = s;
	return 0;
}

/* ---- opening and pairing ---- */

/* A session holds at most max_pair_codes live codes: the oldest unused one is
 * retired to make room (the desktop shows only the latest, and every code is a
 * row and a guessable target until it goes). Used and expired ones of the
 * session go at the same time. */
static int add_pair_code(struct sess *s, char code[SB_ID_MAX], char url[512], int64_t *expires_at)
{
	int64_t now = clock_wall_ms();
	int64_t exp = now + (int64_t)S.cfg->pair_code_ttl * 1000;
	int rc;

	if ((rc = rand_id(code, SB_ID_MAX, PAIR_CODE_BYTES)) ||
	    (rc = sess_begin(s)) ||
	    (rc = store_pair_codes_retire(S.st, s->id, now,
					  S.cfg->max_pair_codes - 1)) ||
	    (rc = store_pair_code_add(S.st, code, s->id, exp)))
		return rc;
	snprintf(url, 512, "%s/p#%s", S.cfg->public_url, code);
	*expires_at = exp;
	return 0;
}

/* Issuing is limited per session, on the monotonic clock: a desktop token must
 * not turn into a stream of codes (each a write, and retiring the codes its
 * phones are about to scan). The first code, from session_open, is not
 * counted: POST /sessions has its own per-IP limit. */
int session_new_pair_code(struct sess *s, char code[SB_ID_MAX], char url[512], int64_t *expires_at,
			  int *retry_after_s)
{
	if (window_hit(&s->pair_codes, S.cfg->pair_codes_per_session_per_min,
		       clock_mono_ms(), retry_after_s))
		return SB_ELIMIT;
	return add_pair_code(s, code, url, expires_at);
}

int session_current_pair_url(struct sess *s, char url[512])
{
	struct store_session row;

	if (store_session_get(S.st, s->id, &row) || !row.last_pair_code[0] ||
	    store_pair_code_valid(S.st, row.last_pair_code, clock_wall_ms()))
		return SB_ENOTFOUND;
	snprintf(url, 512, "%s/p#%s", S.cfg->public_url, row.last_pair_code);
	return 0;
}

static int at_session_cap(void)
{
	int64_t n = 0;

	if (store_session_count(S.st, &n))
		return SB_EIO;
	return n >= S.cfg->max_sessions ? SB_ELIMIT : 0;
}

int session_open(struct session_opened *out)
{
	struct store_session row = { 0 };
	struct sess *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = at_session_cap()) || (rc = rand_id(row.id, sizeof(row.id), SESSION_ID_BYTES)) ||
	    (rc = batch_begin()))
		return rc;
	row.created_at = row.last_activity = clock_wall_ms();
	if ((rc = store_session_create(S.st, row.id, row.created_at)))
		return rc;
	if (!(s = sess_new(&row)))
		return SB_ENOMEM;
	sess_begin(s); /* mark touched: a failed commit forgets it */
	if ((rc = add_pair_code(s, out->pair_code, out->pair_url, &out->expires_at)) ||
	    (rc = issue_token(s->id, SB_ROLE_DESKTOP, "desktop", s->created_at, &out->desktop_token)))
		return rc;
	snprintf(out->sid, sizeof(out->sid), "%s", s->id);
	out->expires_at = session_expires_at(s);
	metrics_inc(MC_SESSIONS_CREATED);
	metrics_gauge_add(MG_SESSIONS_ACTIVE, 1);
	log_info("session created", "sid=%s", s->id);
	return 0;
}

static int scanner_room(struct sess *s)
{
	int n = 0;

	if (store_scanner_count(S.st, s->id, &n))
		return SB_EIO;
	return n >= S.cfg->max_scanners ? SB_ELIMIT : 0;
}

int session_pair(const char *pair_code, const char *name, struct session_paired *out)
{
	char sid[SB_ID_MAX];
	struct sess *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = store_pair_code_peek(S.st, pair_code, clock_wall_ms(), sid)))
		return rc;
	if (!(s = sess_get(sid)) || sess_expired(s))
		return SB_ENOTFOUND;
	if ((rc = scanner_room(s)) || (rc = sess_begin(s)) ||
	    (rc = store_pair_code_take(S.st, pair_code, clock_wall_ms(), sid)) ||
	    (rc = rand_id(out->scanner, sizeof(out->scanner), SCANNER_ID_BYTES)) ||
	    (rc = store_scanner_add(S.st, s->id, out->scanner, name, clock_wall_ms())) ||
	    (rc = issue_token(s->id, SB_ROLE_SCANNER, out->scanner, s->created_at, &out->scanner_token)))
		return rc;
	snprintf(out->sid, sizeof(out->sid), "%s", s->id);
	session_touch(s);
	out->expires_at = session_expires_at(s);
	session_notify_desktops(s, sb_msg_scanner_joined(out->scanner, name), true);
	metrics_inc(MC_SCANNERS_PAIRED);
	log_info("scanner paired", "sid=%s scanner=%s", s->id, out->scanner);
	return 0;
}

/* ---- REST reads ---- */

int session_info(struct sess *s, struct session_info *out)
{
	out->last_seq = s->committed_seq;
	out->delivered_seq = s->delivered_seq;
	out->expires_at = session_expires_at(s);
	return 0;
}

int session_scans_list(struct sess *s, int64_t after, int limit,
		       void (*fn)(const struct sb_scan *, void *), void *ctx, int64_t *last_seq)
{
	*last_seq = s->committed_seq;
	return store_scans_after(S.st, s->id, after, s->committed_seq, limit, fn, ctx);
}

/* ---- client ids (resends) ---- */

static int add_id(int64_t seq, const char *id, void *arg)
{
	return idset_add(arg, idset_hash(id ? id : ""), seq);
}

/* Builds the session's client-id set from the store the first time it is
 * needed: one pass over the session's rows, in the open batch's view. */
static int ids_ready(struct sess *s)
{
	int rc;

	if (s->ids_loaded)
		return 0;
	rc = store_scan_ids_each(S.st, s->id, add_id, &s->ids);
	if (rc) {
		idset_free(&s->ids);
		return rc;
	}
	s->ids_loaded = true;
	return 0;
}

/* The scan of s whose client id is id (hash: idset_hash(id)), SB_ENOTFOUND
 * if none: every candidate of the hash is read back and compared. */
static int find_by_id(struct sess *s, const char *id, uint64_t hash, struct sb_scan *out,
		      bool *delivered)
{
	size_t cursor = 0;
	int64_t seq;
	int rc = ids_ready(s);

	if (rc)
		return rc;
	while ((seq = idset_next(&s->ids, hash, &cursor)) > 0) {
		rc = store_scan_get(S.st, s->id, seq, out, NULL, delivered);
		if (rc && rc != SB_ENOTFOUND)
			return rc;
		if (!rc && !strcmp(out->id, id))
			return 0;
	}
	return SB_ENOTFOUND;
}

/* Records a stored scan's id; should memory run out, the set is dropped and
 * read again from the store (which has the scan) when next needed. */
static void remember_id(struct sess *s, uint64_t hash, int64_t seq)
{
	if (s->ids_loaded && idset_add(&s->ids, hash, seq)) {
		idset_free(&s->ids);
		s->ids_loaded = false;
	}
}

int session_scan_status(struct sess *s, const char *id, int64_t *seq, bool *delivered)
{
	struct sb_scan scan;
	int rc = find_by_id(s, id, idset_hash(id), &scan, delivered);

	if (rc)
		return rc;
	if (scan.seq > s->committed_seq)
		return SB_ENOTFOUND; /* stored in the open batch: not yet acknowledged */
	*seq = scan.seq;
	return 0;
}

/* ---- writes the relay asks for ---- */

/* A resend gets the seq it had: looked up in memory first, then stored. */
int session_scan_put(struct sess *s, const char *scanner, struct sb_scan *scan,
		     int64_t *seq, bool *duplicate)
{
	uint64_t hash = idset_hash(scan->id);
	struct sb_scan found;
	int rc;

	if ((rc = sess_begin(s)))
		return rc;
	rc = find_by_id(s, scan->id, hash, &found, NULL);
	if (rc != SB_ENOTFOUND) {
		if (rc)
			return rc;
		*seq = found.seq;
		*duplicate = true;
		metrics_inc(MC_SCANS_DUPLICATE);
		return 0;
	}
	scan->seq = s->last_seq + 1;
	scan->received_at = clock_wall_ms();
	snprintf(scan->scanner, sizeof(scan->scanner), "%s", scanner);
	if ((rc = store_scan_insert(S.st, s->id, scan)))
		return rc;
	remember_id(s, hash, scan->seq);
	s->last_seq = scan->seq;
	*seq = scan->seq;
	*duplicate = false;
	return 0;
}

int session_deliver(struct sess *s, int64_t seq)
{
	int rc;

	if ((rc = sess_begin(s)) ||
	    (rc = store_session_deliver(S.st, s->id, seq, clock_wall_ms())))
		return rc;
	metrics_add(MC_DELIVERED, seq - s->delivered_seq);
	s->delivered_seq = seq;
	return 0;
}

/* ---- long-poll waiters ---- */

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

void session_waiter_park(struct sess *s, struct waiter *w, int64_t after)
{
	w->sess = s;
	w->after = after;
	w->prev = NULL;
	w->next = s->waiters;
	if (s->waiters)
		s->waiters->prev = w;
	s->waiters = w;
	w->queued = true;
	metrics_gauge_add(MG_LONGPOLL_WAITERS, 1);
}

void session_waiter_cancel(struct waiter *w)
{
	if (!w->queued || !w->sess || w->sess->dead)
		return;
	waiter_unlink(&w->sess->waiters, w);
	metrics_gauge_add(MG_LONGPOLL_WAITERS, -1);
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

static void fail_waiters(struct sess *s, int rc)
{
	while (s->waiters) {
		struct waiter *w = s->waiters;

		waiter_unlink(&s->waiters, w);
		metrics_gauge_add(MG_LONGPOLL_WAITERS, -1);
		w->done(w, rc);
	}
}

/* ---- peers ---- */

void session_peer_join(struct sess *s, struct peer *p, enum sb_role role, const char *scanner)
{
	p->role = role;
	/* fits: checked by the caller (a "%s" snprintf would warn of truncation) */
	strcpy(p->scanner, scanner);
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

struct peer *session_peers(const struct sess *s)
{
	return s->peers;
}

bool session_scanner_connected(const struct sess *s, const char *scanner_id)
{
	for (const struct peer *p = s->peers; p; p = p->next)
		if (p->role == SB_ROLE_SCANNER && !p->closing && !strcmp(p->scanner, scanner_id))
			return true;
	return false;
}

void session_peer_close(struct peer *p, int code, const char *reason)
{
	p->closing = true;
	p->ops->close(p, code, reason);
}

void session_peer_send(struct peer *p, char *msg)
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
		session_peer_close(p, 1008, "send queue overflow");
	}
}

void session_peer_error(struct peer *p, enum sb_wire code, const char *message, const char *id)
{
	metrics_error(code);
	session_peer_send(p, sb_msg_error(sb_wire_name(code), message, id));
}

static void send_to_desktops(struct sess *s, const char *msg)
{
	for (struct peer *p = s->peers; p; p = p->next)
		if (p->role == SB_ROLE_DESKTOP)
			session_peer_send(p, strdup(msg));
}

void session_notify_desktops(struct sess *s, char *msg, bool after_commit)
{
	struct sess_action *a;

	if (!msg)
		return;
	if (after_commit && batch_in_txn() && (a = sess_defer(SACT_NOTIFY, s))) {
		a->msg = msg;
		return;
	}
	send_to_desktops(s, msg);
	free(msg);
}

void session_peer_leave(struct peer *p)
{
	struct sess *s = p->sess;

	if (!s)
		return;
	peer_unlink(p);
	if (p->role == SB_ROLE_SCANNER && !s->dead && !session_scanner_connected(s, p->scanner))
		session_notify_desktops(s, sb_msg_scanner_left(p->scanner, "disconnected"), false);
}

/* Sends msg (may be NULL; freed) to every peer of s, unlinks them and closes
 * them with code/reason. */
static void unlink_all(struct sess *s, char *msg, int code, const char *reason)
{
	while (s->peers) {
		struct peer *p = s->peers;

		session_peer_send(p, msg ? strdup(msg) : NULL);
		peer_unlink(p);
		if (!p->closing)
			session_peer_close(p, code, reason);
	}
	free(msg);
}

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
		if (!p->closing)
			session_peer_close(p, code, reason);
		peer_unlink(p);
	}
}

/* A kicked scanner's sockets close 4003 (it may not come back); one that
 * unpaired itself asked for it: 1000. Either way its slot is free. */
static int remove_scanner(struct sess *s, const char *scanner_id, const char *reason,
			  int close_code)
{
	struct store_scanner sc;
	int rc;

	if (store_scanner_get(S.st, s->id, scanner_id, &sc) || sc.kicked)
		return SB_ENOTFOUND;
	if ((rc = sess_begin(s)))
		return rc;
	if (store_scanner_kick(S.st, s->id, scanner_id))
		return SB_EIO;
	close_scanner_peers(s, scanner_id, close_code, reason);
	session_notify_desktops(s, sb_msg_scanner_left(scanner_id, reason), true);
	log_info("scanner removed", "sid=%s scanner=%s reason=%s", s->id, scanner_id, reason);
	return 0;
}

int session_scanner_kick(struct sess *s, const char *scanner_id)
{
	return remove_scanner(s, scanner_id, "kicked", 4003);
}

int session_scanner_unpair(struct sess *s, const char *scanner_id)
{
	return remove_scanner(s, scanner_id, "unpaired", 1000);
}

int session_scans_each(struct sess *s, store_scan_fn fn, void *ctx)
{
	return store_scans_after(S.st, s->id, 0, INT64_MAX, INT_MAX, fn, ctx) ? SB_EIO : 0;
}

int session_scanner_name(struct sess *s, const char *scanner_id, char *out, size_t size)
{
	struct store_scanner sc;

	if (store_scanner_get(S.st, s->id, scanner_id, &sc))
		return SB_ENOTFOUND;
	snprintf(out, size, "%s", sc.name);
	return 0;
}
