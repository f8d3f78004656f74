/* SPDX-License-Identifier: MIT */
/* Sessions: the in-memory registry (loaded lazily from the store), opening,
 * pairing, token checks against live sessions, sliding expiry, ending and the
 * periodic cleanup. The relay (relay.c) moves scans; this file decides who may
 * take part and for how long. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "rand.h"
#include "sb_err.h"
#include "session_int.h"

#define SESSION_ID_BYTES 16
_Static_assert((SESSION_ID_BYTES * 4 + 2) / 3 < SESS_ID_MAX,
	       "a session id must fit struct sess's buffer");
#define PAIR_CODE_BYTES 16
#define SCANNER_ID_BYTES 12
_Static_assert((SCANNER_ID_BYTES * 4 + 2) / 3 < PEER_SCANNER_MAX,
	       "a scanner id must fit struct peer's buffer");

struct session_state session__s;

static int64_t ttl_ms(void) { return (int64_t)session__s.cfg->session_ttl * 1000; }
static int64_t max_age_ms(void) { return (int64_t)session__s.cfg->session_max_age * 1000; }

static struct sess *sess_get(const char *sid);

static void load_one(const char *sid, void *ctx)
{
	sess_get(sid);
}

int session_init(const struct sb_config *cfg, struct store *st, struct auth *auth,
		 session_schedule_fn schedule)
{
	int64_t n = 0;

	memset(&session__s, 0, sizeof(session__s));
	session__s.cfg = cfg;
	session__s.st = st;
	session__s.auth = auth;
	session__s.schedule = schedule;
	if (store_sessions_each(st, load_one, NULL))
		return SB_EIO;
	if (!store_session_count(st, &n))
		metrics_gauge_set(MG_SESSIONS_ACTIVE, n);
	return 0;
}

void session_shutdown(void)
{
	session__batch_free();
	for (int i = 0; i < SESS_BUCKETS; i++) {
		while (session__s.buckets[i]) {
			struct sess *s = session__s.buckets[i];

			session__s.buckets[i] = s->hnext;
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
	for (struct sess *s = session__s.buckets[bucket_of(sid)]; s; s = s->hnext)
		if (!strcmp(s->id, sid))
			return s;
	return NULL;
}

static void insert(struct sess *s)
{
	unsigned b = bucket_of(s->id);

	s->hnext = session__s.buckets[b];
	session__s.buckets[b] = s;
}

static void unlink_from_registry(struct sess *s)
{
	struct sess **pp = &session__s.buckets[bucket_of(s->id)];

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
	if (store_session_get(session__s.st, sid, &row))
		return NULL;
	return sess_new(&row);
}

int session__reload(struct sess *s)
{
	struct store_session row;

	if (store_session_get(session__s.st, s->id, &row)) {
		/* created in the failed batch: it never existed */
		session__unlink_all(s, NULL, 1011, "session could not be stored");
		session__fail_waiters(s, SB_EIO);
		unlink_from_registry(s);
		s->dead = true;
		s->hnext = session__s.graveyard;
		session__s.graveyard = s;
		return SB_ENOTFOUND;
	}
	s->last_seq = s->committed_seq = row.last_seq;
	s->delivered_seq = row.delivered_seq;
	s->ending = false;       /* its DELETE, if any, was rolled back */
	return 0;
}

const char *session_id(const struct sess *s) { return s->id; }
int64_t session_committed_seq(const struct sess *s) { return s->committed_seq; }

bool session__scanner_connected(const struct sess *s, const char *scanner_id)
{
	for (const struct peer *p = s->peers; p; p = p->next)
		if (p->role == SB_ROLE_SCANNER && !p->closing && !strcmp(p->scanner, scanner_id))
			return true;
	return false;
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

int64_t session__expires_at(const struct sess *s)
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
	if (!session__batch_try(s) && !store_session_touch(session__s.st, s->id, s->last_activity))
		s->persisted_mono = mono;
}

/* Tells the session's clients it is over and forgets it. */
static void sess_forget(struct sess *s, enum store_end_reason why)
{
	bool expired = why == STORE_ENDED_EXPIRED;
	char *msg = expired ? sb_msg_session_expired() : sb_msg_session_ended("deleted");

	session__unlink_all(s, msg, 4004, expired ? "session expired" : "session ended");
	session__fail_waiters(s, expired ? SB_EEXPIRED : SB_EGONE);
	unlink_from_registry(s);
	s->dead = true;
	s->hnext = session__s.graveyard;
	session__s.graveyard = s;
	metrics_gauge_add(MG_SESSIONS_ACTIVE, -1);
	metrics_inc(expired ? MC_SESSIONS_EXPIRED : MC_SESSIONS_DELETED);
	log_info(expired ? "session expired" : "session ended", "sid=%s", s->id);
}

/* Expiry ends the session in memory whatever the store says: a row left
 * behind (write failed) is loaded again, found expired and ended again. */
static void sess_kill(struct sess *s, enum store_end_reason why)
{
	if (!session__batch_try(s))
		store_session_end(session__s.st, s->id, why, clock_wall_ms(), max_age_ms());
	sess_forget(s, why);
}

void session__ended(struct sess *s)
{
	sess_forget(s, STORE_ENDED_DELETED);
}

/* DELETE: the client's 204 means it is gone, so nothing happens before the
 * row's removal commits (session__ended then); a write or commit that fails
 * leaves the session, its tokens and its sockets as they were. */
int session_end(struct sess *s)
{
	struct action *a;
	int rc;

	if (s->ending)
		return 0;            /* a DELETE of it is already in this batch */
	if ((rc = session__batch_begin(s)))
		return rc;
	if (!(a = session__end_after_commit(s)))
		return SB_ENOMEM;
	rc = store_session_end(session__s.st, s->id, STORE_ENDED_DELETED, clock_wall_ms(),
			       max_age_ms());
	if (rc) {
		session__action_cancel(a);
		return rc;
	}
	s->ending = true;
	return 0;
}

struct sid_list { char (*ids)[SB_ID_MAX]; size_t n, cap; };

static void sid_list_add(const char *sid, void *arg)
{
	struct sid_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p = realloc(l->ids, cap * sizeof(*l->ids));

		if (!p)
			return;
		l->ids = p;
		l->cap = cap;
	}
	snprintf(l->ids[l->n++], SB_ID_MAX, "%s", sid);
}

static void persist_activity(struct sess *s)
{
	if (s->active_mono <= s->persisted_mono || session__batch_try(s))
		return;
	if (!store_session_touch(session__s.st, s->id, s->last_activity))
		s->persisted_mono = s->active_mono;
}

/* Every session is in memory (loaded at start), so expiry is decided here on
 * the monotonic clock; the database only needs the activity for a restart. */
static void expire_sessions(void)
{
	struct sid_list l = { 0 };

	for (int i = 0; i < SESS_BUCKETS; i++) {
		for (struct sess *s = session__s.buckets[i]; s; s = s->hnext) {
			if (sess_expired(s))
				sid_list_add(s->id, &l);
			else
				persist_activity(s);
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

	if (!session__batch_try(NULL) && !store_pair_codes_purge(session__s.st, now, &n) && n)
		log_debug("purged pair codes", "n=%lld", (long long)n);
}

void session_cleanup(void)
{
	int64_t now = clock_wall_ms();
	int64_t purged = 0;

	expire_sessions();
	if (!session__batch_try(NULL))
		store_purge(session__s.st, now - (int64_t)session__s.cfg->scan_retention * 1000,
			    now, &purged);
	if (purged)
		log_debug("purged delivered scans", "n=%lld", (long long)purged);
	purge_pair_codes(now);
}

void session_close_all(int code, const char *reason)
{
	for (int i = 0; i < SESS_BUCKETS; i++) {
		for (struct sess *s = session__s.buckets[i]; s; s = s->hnext) {
			session__unlink_all(s, NULL, code, reason);
			session__fail_waiters(s, SB_EIO);
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
	return auth_issue(session__s.auth, &c, token);
}

static int gone_reason(const char *sid)
{
	int why = store_session_end_reason(session__s.st, sid);

	if (why == STORE_ENDED_EXPIRED)
		return SB_EEXPIRED;
	if (why == STORE_ENDED_DELETED)
		return SB_EGONE;
	return SB_EAUTH;
}

static int check_scanner(struct sess *s, const char *scanner_id)
{
	struct store_scanner sc;

	if (store_scanner_get(session__s.st, s->id, scanner_id, &sc))
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
	rc = auth_verify(session__s.auth, token, clock_wall_ms() / 1000, c);
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
	int64_t exp = now + (int64_t)session__s.cfg->pair_code_ttl * 1000;
	int rc;

	if ((rc = rand_id(code, SB_ID_MAX, PAIR_CODE_BYTES)) ||
	    (rc = session__batch_begin(s)) ||
	    (rc = store_pair_codes_retire(session__s.st, s->id, now,
					  session__s.cfg->max_pair_codes - 1)) ||
	    (rc = store_pair_code_add(session__s.st, code, s->id, exp)))
		return rc;
	snprintf(url, 512, "%s/p#%s", session__s.cfg->public_url, code);
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
	if (window_hit(&s->pair_codes, session__s.cfg->pair_codes_per_session_per_min,
		       clock_mono_ms(), retry_after_s))
		return SB_ELIMIT;
	return add_pair_code(s, code, url, expires_at);
}

int session_current_pair_url(struct sess *s, char url[512])
{
	struct store_session row;

	if (store_session_get(session__s.st, s->id, &row) || !row.last_pair_code[0] ||
	    store_pair_code_valid(session__s.st, row.last_pair_code, clock_wall_ms()))
		return SB_ENOTFOUND;
	snprintf(url, 512, "%s/p#%s", session__s.cfg->public_url, row.last_pair_code);
	return 0;
}

static int at_session_cap(void)
{
	int64_t n = 0;

	if (store_session_count(session__s.st, &n))
		return SB_EIO;
	return n >= session__s.cfg->max_sessions ? SB_ELIMIT : 0;
}

int session_open(struct session_opened *out)
{
	struct store_session row = { 0 };
	struct sess *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = at_session_cap()) || (rc = rand_id(row.id, sizeof(row.id), SESSION_ID_BYTES)) ||
	    (rc = session__batch_begin(NULL)))
		return rc;
	row.created_at = row.last_activity = clock_wall_ms();
	if ((rc = store_session_create(session__s.st, row.id, row.created_at)))
		return rc;
	if (!(s = sess_new(&row)))
		return SB_ENOMEM;
	session__batch_begin(s); /* mark touched: a failed commit forgets it */
	if ((rc = add_pair_code(s, out->pair_code, out->pair_url, &out->expires_at)) ||
	    (rc = issue_token(s->id, SB_ROLE_DESKTOP, "desktop", s->created_at, &out->desktop_token)))
		return rc;
	snprintf(out->sid, sizeof(out->sid), "%s", s->id);
	out->expires_at = session__expires_at(s);
	metrics_inc(MC_SESSIONS_CREATED);
	metrics_gauge_add(MG_SESSIONS_ACTIVE, 1);
	log_info("session created", "sid=%s", s->id);
	return 0;
}

static int scanner_room(struct sess *s)
{
	int n = 0;

	if (store_scanner_count(session__s.st, s->id, &n))
		return SB_EIO;
	return n >= session__s.cfg->max_scanners ? SB_ELIMIT : 0;
}

int session_pair(const char *pair_code, const char *name, struct session_paired *out)
{
	char sid[SB_ID_MAX];
	struct sess *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = store_pair_code_peek(session__s.st, pair_code, clock_wall_ms(), sid)))
		return rc;
	if (!(s = sess_get(sid)) || sess_expired(s))
		return SB_ENOTFOUND;
	if ((rc = scanner_room(s)) || (rc = session__batch_begin(s)) ||
	    (rc = store_pair_code_take(session__s.st, pair_code, clock_wall_ms(), sid)) ||
	    (rc = rand_id(out->scanner, sizeof(out->scanner), SCANNER_ID_BYTES)) ||
	    (rc = store_scanner_add(session__s.st, s->id, out->scanner, name, clock_wall_ms())) ||
	    (rc = issue_token(s->id, SB_ROLE_SCANNER, out->scanner, s->created_at, &out->scanner_token)))
		return rc;
	snprintf(out->sid, sizeof(out->sid), "%s", s->id);
	session_touch(s);
	out->expires_at = session__expires_at(s);
	session__notify_desktops(s, sb_msg_scanner_joined(out->scanner, name), true);
	metrics_inc(MC_SCANNERS_PAIRED);
	log_info("scanner paired", "sid=%s scanner=%s", s->id, out->scanner);
	return 0;
}

/* ---- REST reads ---- */

int session_info(struct sess *s, struct session_info *out)
{
	out->last_seq = s->committed_seq;
	out->delivered_seq = s->delivered_seq;
	out->expires_at = session__expires_at(s);
	return 0;
}

int session_scans_list(struct sess *s, int64_t after, int limit,
		       void (*fn)(const struct sb_scan *, void *), void *ctx, int64_t *last_seq)
{
	*last_seq = s->committed_seq;
	return store_scans_after(session__s.st, s->id, after, s->committed_seq, limit, fn, ctx);
}

int session_scan_status(struct sess *s, const char *id, int64_t *seq, bool *delivered)
{
	struct sb_scan scan;
	int rc = store_scan_find(session__s.st, s->id, id, &scan, NULL, delivered);

	if (rc)
		return rc;
	if (scan.seq > s->committed_seq)
		return SB_ENOTFOUND; /* stored in the open batch: not yet acknowledged */
	*seq = scan.seq;
	return 0;
}
