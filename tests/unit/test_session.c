/* SPDX-License-Identifier: MIT */
/* Unit tests of the session layer over a real store in a temp dir, with fake
 * peers that record what they are sent and a stubbed clock: relay order, ack
 * after commit, de-duplication, receipts, replay pacing and expiry arithmetic. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "auth.h"
#include "check.h"
#include "clock.h"
#include "batch.h"
#include "relay.h"
#include "sb_err.h"
#include "session.h"
#include "store.h"

#define MAXMSG 4096

struct fake_peer {
	struct peer p;
	char *msgs[MAXMSG];
	unsigned n, read;      /* read: messages the "client" consumed */
	int close_code;
};

static int64_t now_ms = 1800000000000;
static int64_t wall_offset;   /* a wall-clock jump; the monotonic clock ignores it */
static int64_t fake_wall(void) { return now_ms + wall_offset; }
static int64_t fake_mono(void) { return now_ms; }

static int fake_send(struct peer *p, char *msg)
{
	struct fake_peer *f = (struct fake_peer *)p;

	if (f->n - f->read >= 256 || f->n == MAXMSG) {
		free(msg);
		return SB_ELIMIT;
	}
	f->msgs[f->n++] = msg;
	return 0;
}

static void fake_close(struct peer *p, int code, const char *reason)
{
	((struct fake_peer *)p)->close_code = code;
}

static unsigned fake_queued(const struct peer *p)
{
	const struct fake_peer *f = (const struct fake_peer *)p;

	return f->n - f->read;
}

static const struct peer_ops fake_ops = { fake_send, fake_close, fake_queued };

static struct sb_config cfg;
static struct store *st;
static struct auth *au;
static char dir[] = "/tmp/sbsessXXXXXX";
static int flushes_requested;

static void schedule(void) { flushes_requested++; }

static void setup(void)
{
	char err[256], path[128];

	now_ms = 1800000000000;
	wall_offset = 0;
	clock_stub(fake_wall, fake_mono);
	CHECK(mkdtemp(dir) != NULL);
	config_defaults(&cfg);
	config_finish(&cfg, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/t.db", dir);
	CHECK_EQ_INT(store_open(&st, path, SB_DURABILITY_NORMAL, err, sizeof(err)), 0);
	CHECK_EQ_INT(auth_open(&au, dir, err, sizeof(err)), 0);
	session_init(&cfg, st, au, schedule);
	relay_init(&cfg, st);
}

/* One expiry/purge pass, as the daemon's cleanup timer runs it, committed. */
static void run_cleanup(void)
{
	session_cleanup();
	batch_flush();
}

/* The daemon stops and starts again on the same database. */
static void restart_session_layer(void)
{
	session_shutdown();
	session_init(&cfg, st, au, schedule);
}

static void teardown(void)
{
	char cmd[128];

	session_shutdown();
	store_close(st);
	auth_close(au);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
	clock_stub(NULL, NULL);
}

static void fake_init(struct fake_peer *f)
{
	memset(f, 0, sizeof(*f));
	f->p.ops = &fake_ops;
	f->p.gauge = -1;
}

static void fake_free(struct fake_peer *f)
{
	relay_peer_detach(&f->p);
	for (unsigned i = 0; i < f->n; i++)
		free(f->msgs[i]);
	f->n = f->read = 0;
}

/* Next unread message's JSON, or NULL. */
static cJSON *next_msg(struct fake_peer *f)
{
	if (f->read == f->n)
		return NULL;
	return cJSON_Parse(f->msgs[f->read++]);
}

static const char *type_of(cJSON *m)
{
	cJSON *t = cJSON_GetObjectItem(m, "type");

	return cJSON_IsString(t) ? t->valuestring : "";
}

static double num(cJSON *m, const char *k)
{
	cJSON *v = cJSON_GetObjectItem(m, k);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void hello(struct fake_peer *f, const char *token, int64_t last_seq)
{
	struct sb_client_msg m = { .type = SB_MSG_HELLO, .last_seq = last_seq };
	cJSON *w;

	snprintf(m.token, sizeof(m.token), "%s", token);
	relay_peer_message(&f->p, &m);
	w = next_msg(f);
	CHECK_STR(type_of(w), "welcome");
	cJSON_Delete(w);
}

static void send_scan(struct fake_peer *f, const char *id, const char *code)
{
	struct sb_client_msg m = { .type = SB_MSG_SCAN };

	snprintf(m.scan.id, sizeof(m.scan.id), "%s", id);
	snprintf(m.scan.code, sizeof(m.scan.code), "%s", code);
	m.scan.scanned_at = -1;
	relay_peer_message(&f->p, &m);
}

static void send_ack(struct fake_peer *f, int64_t seq)
{
	struct sb_client_msg m = { .type = SB_MSG_ACK, .seq = seq };

	relay_peer_message(&f->p, &m);
}

struct pair_of { struct session_opened o; struct session_paired p; };

static void open_and_pair(struct pair_of *s)
{
	CHECK_EQ_INT(session_open(&s->o), 0);
	CHECK_EQ_INT(session_pair(s->o.pair_code, "Till", &s->p), 0);
	CHECK_EQ_INT(batch_flush(), 0);
}

static void free_pair(struct pair_of *s)
{
	free(s->o.desktop_token);
	free(s->p.scanner_token);
}

static void test_ack_only_after_commit(void)
{
	struct fake_peer d, sc;
	struct pair_of s;
	cJSON *m;

	setup();
	open_and_pair(&s);
	fake_init(&d);
	fake_init(&sc);
	hello(&d, s.o.desktop_token, 0);
	hello(&sc, s.p.scanner_token, 0);
	m = next_msg(&d); /* scanner_joined on connect */
	CHECK_STR(type_of(m), "scanner_joined");
	cJSON_Delete(m);
	send_scan(&sc, "a1", "hello");
	CHECK(next_msg(&sc) == NULL);  /* nothing before the commit */
	CHECK(next_msg(&d) == NULL);
	CHECK(flushes_requested > 0);
	CHECK_EQ_INT(batch_flush(), 0);
	m = next_msg(&sc);
	CHECK_STR(type_of(m), "ack");
	CHECK_EQ_INT(num(m, "seq"), 1);
	cJSON_Delete(m);
	m = next_msg(&d);
	CHECK_STR(type_of(m), "scan");
	CHECK_EQ_INT(num(m, "seq"), 1);
	cJSON_Delete(m);
	fake_free(&d);
	fake_free(&sc);
	free_pair(&s);
	teardown();
}

static void test_duplicate_keeps_seq_and_is_not_forwarded(void)
{
	struct fake_peer d, sc;
	struct pair_of s;
	cJSON *m;

	setup();
	open_and_pair(&s);
	fake_init(&d);
	fake_init(&sc);
	hello(&sc, s.p.scanner_token, 0);
	hello(&d, s.o.desktop_token, 0);
	send_scan(&sc, "x", "1");
	send_scan(&sc, "y", "2");
	send_scan(&sc, "x", "1"); /* resent inside the same batch */
	batch_flush();
	send_scan(&sc, "y", "2"); /* and after the commit */
	batch_flush();
	int64_t want[][2] = { { 1, 0 }, { 2, 0 }, { 1, 1 }, { 2, 1 } };
	for (int i = 0; i < 4; i++) {
		m = next_msg(&sc);
		CHECK_STR(type_of(m), "ack");
		CHECK_EQ_INT(num(m, "seq"), want[i][0]);
		CHECK_EQ_INT(cJSON_IsTrue(cJSON_GetObjectItem(m, "duplicate")), want[i][1]);
		cJSON_Delete(m);
	}
	for (int i = 1; i <= 2; i++) {
		m = next_msg(&d);
		CHECK_EQ_INT(num(m, "seq"), i);
		cJSON_Delete(m);
	}
	CHECK(next_msg(&d) == NULL);
	fake_free(&d);
	fake_free(&sc);
	free_pair(&s);
	teardown();
}

/* After a restart the client ids come back from the store (schema/004 keeps
 * them in memory only): a resend is still the original scan. */
static void test_duplicate_found_after_restart(void)
{
	struct fake_peer sc, sc2;
	struct pair_of s;
	cJSON *m;

	setup();
	open_and_pair(&s);
	fake_init(&sc);
	hello(&sc, s.p.scanner_token, 0);
	send_scan(&sc, "x", "1");
	send_scan(&sc, "y", "2");
	batch_flush();
	fake_free(&sc);
	restart_session_layer();
	fake_init(&sc2);
	hello(&sc2, s.p.scanner_token, 0);
	send_scan(&sc2, "y", "2");
	send_scan(&sc2, "z", "3");
	send_scan(&sc2, "x", "1");
	batch_flush();
	int64_t want[][2] = { { 2, 1 }, { 3, 0 }, { 1, 1 } };
	for (int i = 0; i < 3; i++) {
		m = next_msg(&sc2);
		CHECK_STR(type_of(m), "ack");
		CHECK_EQ_INT(num(m, "seq"), want[i][0]);
		CHECK_EQ_INT(cJSON_IsTrue(cJSON_GetObjectItem(m, "duplicate")), want[i][1]);
		cJSON_Delete(m);
	}
	CHECK_EQ_INT(store_scan_insert(st, s.o.sid, &(struct sb_scan){ .seq = 3 }), SB_EEXIST);
	fake_free(&sc2);
	free_pair(&s);
	teardown();
}

static void test_cumulative_ack_sends_each_receipt_once(void)
{
	struct fake_peer d, sc;
	struct pair_of s;
	char id[16];
	int delivered = 0;
	cJSON *m;

	setup();
	open_and_pair(&s);
	fake_init(&d);
	fake_init(&sc);
	hello(&sc, s.p.scanner_token, 0);
	hello(&d, s.o.desktop_token, 0);
	for (int i = 0; i < 600; i++) {
		snprintf(id, sizeof(id), "s%d", i);
		send_scan(&sc, id, "code");
		if (i % 100 == 99) {
			batch_flush();
			sc.read = sc.n;      /* the client reads its acks */
		}
	}
	send_ack(&d, 600);
	batch_flush();
	/* receipts come a chunk at a time as the scanner's queue drains */
	for (int round = 0; round < 20 && sc.read < sc.n; round++) {
		while ((m = next_msg(&sc))) {
			delivered += !strcmp(type_of(m), "delivered");
			cJSON_Delete(m);
		}
		relay_peer_writable(&sc.p);
	}
	CHECK_EQ_INT(delivered, 600);
	CHECK_EQ_INT(sc.close_code, 0);
	send_ack(&d, 600);           /* again: nothing new */
	batch_flush();
	CHECK(next_msg(&sc) == NULL);
	fake_free(&d);
	fake_free(&sc);
	free_pair(&s);
	teardown();
}

static void test_resume_replays_in_order_without_overflow(void)
{
	struct fake_peer d, sc;
	struct pair_of s;
	char id[16];
	int64_t expect = 101;
	cJSON *m;

	setup();
	open_and_pair(&s);
	fake_init(&sc);
	hello(&sc, s.p.scanner_token, 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		send_scan(&sc, id, "code");
		if (i % 100 == 99) {
			batch_flush();
			sc.read = sc.n;
		}
	}
	fake_init(&d);
	hello(&d, s.o.desktop_token, 100);
	for (int round = 0; round < 50 && expect <= 1000; round++) {
		while ((m = next_msg(&d))) {
			if (!strcmp(type_of(m), "scan"))
				CHECK_EQ_INT(num(m, "seq"), expect++);
			cJSON_Delete(m);
		}
		relay_peer_writable(&d.p);
	}
	CHECK_EQ_INT(expect, 1001);
	CHECK_EQ_INT(d.close_code, 0);
	CHECK_EQ_INT(sc.close_code, 0);
	fake_free(&d);
	fake_free(&sc);
	free_pair(&s);
	teardown();
}

/* A desktop that pauses falls behind with bounded memory and catches up from
 * the store; one more than send_queue_max scans behind, with its queue not
 * draining, has stopped reading and is closed 1008 (it resumes from last_seq). */
static void stream(struct fake_peer *sc, int from, int to)
{
	char id[16];

	for (int i = from; i < to; i++) {
		snprintf(id, sizeof(id), "b%d", i);
		send_scan(sc, id, "code");
		if (i % 100 == 99 || i == to - 1) {
			batch_flush();
			sc->read = sc->n;
		}
	}
}

static void test_desktop_not_reading_falls_behind_then_catches_up(void)
{
	struct fake_peer d, sc;
	struct pair_of s;
	int64_t expect = 1;
	cJSON *m;

	setup();
	open_and_pair(&s);
	fake_init(&sc);
	fake_init(&d);
	hello(&sc, s.p.scanner_token, 0);
	hello(&d, s.o.desktop_token, 0);
	stream(&sc, 0, 1000);              /* 1000 < send_queue_max (1024) behind */
	CHECK(d.n - d.read <= 256);        /* bounded while it does not read */
	CHECK_EQ_INT(d.close_code, 0);
	for (int round = 0; round < 100 && expect <= 1000; round++) {
		while ((m = next_msg(&d))) {
			if (!strcmp(type_of(m), "scan"))
				CHECK_EQ_INT(num(m, "seq"), expect++);
			cJSON_Delete(m);
		}
		relay_peer_writable(&d.p);
	}
	CHECK_EQ_INT(expect, 1001);
	stream(&sc, 1000, 2300);           /* now it stops reading for good */
	CHECK_EQ_INT(d.close_code, 1008);
	CHECK(d.n - d.read <= 256);
	fake_free(&d);
	fake_free(&sc);
	free_pair(&s);
	teardown();
}

/* Makes the next COMMIT of a batch holding a scan id starting with "boom" fail,
 * from a second connection: a trigger inserts a row violating a deferred
 * foreign key, which SQLite only checks at COMMIT. */
static void inject_commit_failure(void)
{
	char path[128];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/t.db", dir);
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db,
		"CREATE TABLE inj_parent(id INTEGER PRIMARY KEY);"
		"CREATE TABLE inj_child(pid INTEGER REFERENCES inj_parent(id)"
		" DEFERRABLE INITIALLY DEFERRED);"
		"CREATE TRIGGER inj AFTER INSERT ON scans WHEN NEW.client_id LIKE 'boom%'"
		" BEGIN INSERT INTO inj_child VALUES(42); END;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_failed_commit_acks_nothing_and_rewinds(void)
{
	struct fake_peer d, sc;
	struct pair_of s;
	cJSON *m;

	setup();
	open_and_pair(&s);
	fake_init(&d);
	fake_init(&sc);
	hello(&sc, s.p.scanner_token, 0);
	hello(&d, s.o.desktop_token, 0);
	inject_commit_failure();
	send_scan(&sc, "ok1", "1");
	send_scan(&sc, "boom1", "2");
	CHECK(batch_flush() != 0);
	for (int i = 0; i < 2; i++) {
		m = next_msg(&sc);
		CHECK_STR(type_of(m), "error");
		CHECK_STR(cJSON_GetObjectItem(m, "code")->valuestring, "unavailable");
		CHECK_STR(cJSON_GetObjectItem(m, "id")->valuestring, i ? "boom1" : "ok1");
		cJSON_Delete(m);
	}
	CHECK(next_msg(&d) == NULL);     /* nothing forwarded */
	send_scan(&sc, "ok2", "3");
	send_scan(&sc, "ok1", "1");       /* resent: it was never stored */
	CHECK_EQ_INT(batch_flush(), 0);
	for (int i = 1; i <= 2; i++) {
		m = next_msg(&sc);
		CHECK_STR(type_of(m), "ack");
		CHECK_EQ_INT(num(m, "seq"), i); /* the head went back to 0 */
		CHECK(cJSON_IsFalse(cJSON_GetObjectItem(m, "duplicate")));
		cJSON_Delete(m);
		m = next_msg(&d);
		CHECK_EQ_INT(num(m, "seq"), i);
		cJSON_Delete(m);
	}
	fake_free(&d);
	fake_free(&sc);
	free_pair(&s);
	teardown();
}

static struct sess *sess_of(const char *desktop_token)
{
	struct auth_claims c;
	struct sess *s = NULL;

	CHECK_EQ_INT(session_authorize(desktop_token, NULL, SB_ROLE_DESKTOP, &s, &c), 0);
	return s;
}

static void expect_error(struct fake_peer *f, const char *code, const char *id)
{
	cJSON *m = next_msg(f);
	cJSON *i = cJSON_GetObjectItem(m, "id");

	CHECK_STR(type_of(m), "error");
	CHECK_STR(cJSON_GetObjectItem(m, "code") ? cJSON_GetObjectItem(m, "code")->valuestring
		  : "", code);
	if (id)
		CHECK_STR(cJSON_IsString(i) ? i->valuestring : "", id);
	cJSON_Delete(m);
}

/* A desktop's ack whose COMMIT fails is not silent: the desktop hears
 * `unavailable` (and sends it again), the scanner gets no receipt, and
 * delivered_seq is what the database holds. */
static void test_failed_ack_commit_tells_the_desktop(void)
{
	struct fake_peer d, sc;
	struct session_info si;
	struct pair_of s;
	cJSON *m;

	setup();
	open_and_pair(&s);
	fake_init(&d);
	fake_init(&sc);
	hello(&sc, s.p.scanner_token, 0);
	hello(&d, s.o.desktop_token, 0);
	send_scan(&sc, "a1", "1");
	CHECK_EQ_INT(batch_flush(), 0);
	cJSON_Delete(next_msg(&sc));
	cJSON_Delete(next_msg(&d));
	inject_commit_failure();
	send_ack(&d, 1);
	send_scan(&sc, "boom1", "2");    /* the batch's COMMIT fails */
	CHECK(batch_flush() != 0);
	expect_error(&d, "unavailable", NULL);
	expect_error(&sc, "unavailable", "boom1");
	CHECK(next_msg(&sc) == NULL);    /* no delivered receipt */
	session_info(sess_of(s.o.desktop_token), &si);
	CHECK_EQ_INT(si.delivered_seq, 0);
	send_ack(&d, 1);
	CHECK_EQ_INT(batch_flush(), 0);
	m = next_msg(&sc);
	CHECK_STR(type_of(m), "delivered");
	cJSON_Delete(m);
	CHECK(next_msg(&d) == NULL);
	fake_free(&d);
	fake_free(&sc);
	free_pair(&s);
	teardown();
}

/* DELETE is answered after its commit, and only then does anything end: a
 * failed commit leaves the session, its sockets and tokens as they were. */
static void test_delete_ends_only_after_commit(void)
{
	struct fake_peer d, sc;
	struct auth_claims c;
	struct pair_of s;
	struct sess *x;
	cJSON *m;

	setup();
	open_and_pair(&s);
	fake_init(&d);
	fake_init(&sc);
	hello(&sc, s.p.scanner_token, 0);
	hello(&d, s.o.desktop_token, 0);
	inject_commit_failure();
	send_scan(&sc, "boom1", "1");    /* the batch's COMMIT fails */
	CHECK_EQ_INT(session_end(sess_of(s.o.desktop_token)), 0);
	CHECK(next_msg(&d) == NULL && d.close_code == 0); /* nothing before the commit */
	CHECK(batch_flush() != 0);
	expect_error(&sc, "unavailable", "boom1");
	CHECK(next_msg(&d) == NULL && d.close_code == 0 && sc.close_code == 0);
	CHECK_EQ_INT(session_authorize(s.p.scanner_token, NULL, SB_ROLE_SCANNER, &x, &c), 0);
	CHECK_EQ_INT(session_end(sess_of(s.o.desktop_token)), 0);
	CHECK_EQ_INT(batch_flush(), 0);
	m = next_msg(&d);
	CHECK_STR(type_of(m), "session_ended");
	cJSON_Delete(m);
	CHECK_EQ_INT(d.close_code, 4004);
	CHECK_EQ_INT(sc.close_code, 4004);
	CHECK_EQ_INT(session_authorize(s.o.desktop_token, NULL, SB_ROLE_DESKTOP, &x, &c), SB_EGONE);
	fake_free(&d);
	fake_free(&sc);
	free_pair(&s);
	teardown();
}

static int64_t timer_ms;
static void fake_timer(int64_t ms) { timer_ms = ms; }

static sqlite3 *hold_write_lock(void)
{
	char path[128];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/t.db", dir);
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void release_write_lock(sqlite3 *db)
{
	CHECK_EQ_INT(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void expect_ack(struct fake_peer *f, int64_t seq)
{
	cJSON *m = next_msg(f);

	CHECK_STR(type_of(m), "ack");
	CHECK_EQ_INT(num(m, "seq"), seq);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(m, "duplicate")));
	cJSON_Delete(m);
}

/* Another process holds the write lock: a scan is neither acked nor refused
 * while the timer retries, and is stored once the lock is free; past the
 * deadline one is refused `unavailable`, not stored, and writes recover on
 * their own once the lock is back. A socket that goes away while its scan
 * waits leaves nothing behind (the scan is dropped, never acknowledged). */
static void test_write_lock_held_elsewhere(void)
{
	struct fake_peer d, sc, sc2;
	struct pair_of s;
	int64_t seq = 0;
	bool dlv = false;
	sqlite3 *lk;
	cJSON *m;

	setup();
	batch_set_timer(fake_timer);
	open_and_pair(&s);
	fake_init(&d);
	fake_init(&sc);
	hello(&sc, s.p.scanner_token, 0);
	hello(&d, s.o.desktop_token, 0);
	lk = hold_write_lock();
	timer_ms = 0;
	send_scan(&sc, "w1", "1");
	CHECK_EQ_INT(batch_flush(), 0);
	CHECK(next_msg(&sc) == NULL);
	CHECK_EQ_INT(timer_ms, BATCH_LOCK_RETRY_MS);
	now_ms += BATCH_LOCK_DEADLINE_MS / 2;
	batch_lock_retry();            /* still held: not yet refused */
	CHECK(next_msg(&sc) == NULL);
	release_write_lock(lk);
	batch_lock_retry();
	CHECK_EQ_INT(batch_flush(), 0);
	expect_ack(&sc, 1);
	m = next_msg(&d);
	CHECK_EQ_INT(num(m, "seq"), 1);
	cJSON_Delete(m);

	lk = hold_write_lock();
	send_scan(&sc, "w2", "2");
	CHECK(next_msg(&sc) == NULL);
	fake_init(&sc2);                 /* a socket that goes away while it waits */
	hello(&sc2, s.p.scanner_token, 0);
	send_scan(&sc2, "gone1", "3");
	fake_free(&sc2);
	now_ms += BATCH_LOCK_DEADLINE_MS;
	batch_lock_retry();
	expect_error(&sc, "unavailable", "w2");
	CHECK(batch_store_failing());
	release_write_lock(lk);
	batch_lock_retry();            /* writes work again */
	CHECK_EQ_INT(batch_flush(), 0);
	CHECK(!batch_store_failing());
	send_scan(&sc, "w2", "2");
	CHECK_EQ_INT(batch_flush(), 0);
	expect_ack(&sc, 2);
	CHECK(next_msg(&sc) == NULL);
	CHECK_EQ_INT(session_scan_status(sess_of(s.o.desktop_token), "gone1", &seq, &dlv),
		     SB_ENOTFOUND);
	batch_set_timer(NULL);
	fake_free(&d);
	fake_free(&sc);
	free_pair(&s);
	teardown();
}

static void test_expiry_slides_and_caps(void)
{
	struct fake_peer d;
	struct pair_of s;
	struct session_info si;
	struct auth_claims c;
	struct sess *sp;
	struct sb_client_msg ping = { .type = SB_MSG_PING };
	int64_t t0;
	cJSON *m;

	setup();
	cfg.session_ttl = 600;
	cfg.session_max_age = 3600;
	t0 = now_ms;
	open_and_pair(&s);
	CHECK_EQ_INT(s.o.expires_at, t0 + 600000);
	fake_init(&d);
	hello(&d, s.o.desktop_token, 0);
	/* a ping every 5 minutes keeps it alive, until the maximum age */
	for (int i = 1; i <= 11; i++) {
		now_ms = t0 + i * 300000;
		relay_peer_message(&d.p, &ping);
		run_cleanup();
		while ((m = next_msg(&d))) {
			CHECK_STR(type_of(m), "pong");
			cJSON_Delete(m);
		}
	}
	CHECK_EQ_INT(session_authorize(s.o.desktop_token, NULL, SB_ROLE_DESKTOP, &sp, &c), 0);
	session_info(sp, &si);
	CHECK_EQ_INT(si.expires_at, t0 + 3600000); /* capped by max age */
	now_ms = t0 + 3600000;
	run_cleanup();
	m = next_msg(&d);
	CHECK_STR(type_of(m), "session_expired");
	cJSON_Delete(m);
	CHECK_EQ_INT(d.close_code, 4004);
	CHECK_EQ_INT(session_authorize(s.o.desktop_token, NULL, SB_ROLE_DESKTOP, &sp, &c), SB_EEXPIRED);
	fake_free(&d);
	free_pair(&s);
	teardown();
}

/* Expiry follows the monotonic clock: a wall clock set forward by two days
 * expires nothing, one set back a day keeps nothing alive past its ttl. */
static void test_wall_clock_jumps_do_not_move_expiry(void)
{
	struct fake_peer d;
	struct pair_of s;
	struct session_info si;
	cJSON *m;

	setup();
	cfg.session_ttl = 600;
	open_and_pair(&s);
	fake_init(&d);
	hello(&d, s.o.desktop_token, 0);
	wall_offset = 2 * 86400 * 1000LL;      /* NTP jumps forward two days */
	now_ms += 60000;
	run_cleanup();
	CHECK(next_msg(&d) == NULL);           /* nothing expired */
	CHECK_EQ_INT(d.close_code, 0);
	session_info(d.p.sess, &si);
	CHECK_EQ_INT(si.expires_at, now_ms + wall_offset + 540000); /* 9 minutes left */
	wall_offset = -86400 * 1000LL;          /* and back, a day behind */
	now_ms += 540000;                       /* the ttl runs out on the monotonic clock */
	run_cleanup();
	m = next_msg(&d);
	CHECK_STR(type_of(m), "session_expired");
	cJSON_Delete(m);
	CHECK_EQ_INT(d.close_code, 4004);
	fake_free(&d);
	free_pair(&s);
	teardown();
}

/* After a restart every stored session is back in memory with its expiry. */
static void test_sessions_are_loaded_at_start(void)
{
	struct pair_of s;
	struct auth_claims c;
	struct sess *sp;

	setup();
	cfg.session_ttl = 600;
	open_and_pair(&s);
	now_ms += 100000;
	restart_session_layer();                /* the daemon restarts on the same database */
	now_ms += 499000;                       /* 599 s after the last activity */
	run_cleanup();
	CHECK_EQ_INT(session_authorize(s.o.desktop_token, NULL, SB_ROLE_DESKTOP, &sp, &c), 0);
	restart_session_layer();
	now_ms += 600001;
	run_cleanup();                      /* expired without anyone asking for it */
	CHECK_EQ_INT(store_session_end_reason(st, s.o.sid), STORE_ENDED_EXPIRED);
	free_pair(&s);
	teardown();
}

static void test_idle_session_expires_after_ttl(void)
{
	struct pair_of s;
	struct auth_claims c;
	struct sess *sp;

	setup();
	cfg.session_ttl = 600;
	open_and_pair(&s);
	now_ms += 599000;
	run_cleanup();
	CHECK_EQ_INT(session_authorize(s.o.desktop_token, NULL, SB_ROLE_DESKTOP, &sp, &c), 0);
	now_ms += 600000 - 1;            /* the authorize above was activity */
	run_cleanup();
	CHECK_EQ_INT(session_authorize(s.p.scanner_token, NULL, SB_ROLE_SCANNER, &sp, &c), 0);
	now_ms += 600000;
	run_cleanup();
	CHECK_EQ_INT(session_authorize(s.o.desktop_token, NULL, SB_ROLE_DESKTOP, &sp, &c), SB_EEXPIRED);
	free_pair(&s);
	teardown();
}

static void test_roles_and_revocation(void)
{
	struct pair_of s, other;
	struct session_paired again;
	struct auth_claims c;
	struct sess *sp;
	struct fake_peer d, sc;
	struct sb_client_msg kick = { .type = SB_MSG_KICK };

	setup();
	open_and_pair(&s);
	open_and_pair(&other);
	CHECK_EQ_INT(session_authorize(s.p.scanner_token, s.o.sid, SB_ROLE_DESKTOP, &sp, &c), SB_EFORBIDDEN);
	CHECK_EQ_INT(session_authorize(s.o.desktop_token, other.o.sid, SB_ROLE_DESKTOP, &sp, &c), SB_EFORBIDDEN);
	CHECK_EQ_INT(session_authorize("garbage", NULL, SB_ROLE_DESKTOP, &sp, &c), SB_EAUTH);
	CHECK_EQ_INT(session_pair(s.o.pair_code, "again", &again), SB_ENOTFOUND); /* single use */
	fake_init(&d);
	fake_init(&sc);
	hello(&d, s.o.desktop_token, 0);
	hello(&sc, s.p.scanner_token, 0);
	snprintf(kick.scanner, sizeof(kick.scanner), "%s", s.p.scanner);
	relay_peer_message(&d.p, &kick);
	batch_flush();
	CHECK_EQ_INT(sc.close_code, 4003);
	CHECK_EQ_INT(session_authorize(s.p.scanner_token, NULL, SB_ROLE_SCANNER, &sp, &c), SB_EKICKED);
	CHECK_EQ_INT(session_authorize(s.o.desktop_token, NULL, SB_ROLE_DESKTOP, &sp, &c), 0);
	session_end(sp);
	batch_flush();
	CHECK_EQ_INT(d.close_code, 4004);
	CHECK_EQ_INT(session_authorize(s.o.desktop_token, NULL, SB_ROLE_DESKTOP, &sp, &c), SB_EGONE);
	fake_free(&d);
	fake_free(&sc);
	free_pair(&s);
	free(other.o.desktop_token);
	free(other.p.scanner_token);
	teardown();
}

static void test_scanner_cap(void)
{
	struct session_opened o;
	struct session_paired p;
	char code[SB_ID_MAX], url[512];
	int64_t exp;
	struct auth_claims c;
	struct sess *sp;

	setup();
	cfg.max_scanners = 2;
	CHECK_EQ_INT(session_open(&o), 0);
	batch_flush();
	CHECK_EQ_INT(session_authorize(o.desktop_token, NULL, SB_ROLE_DESKTOP, &sp, &c), 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(session_new_pair_code(sp, code, url, &exp, NULL), 0);
		batch_flush();
		int rc = session_pair(code, "x", &p);
		CHECK_EQ_INT(rc, i < 2 ? 0 : SB_ELIMIT);
		batch_flush();
		if (!rc)
			free(p.scanner_token);
	}
	/* refused for the cap: the code stays usable */
	CHECK_EQ_INT(store_pair_code_valid(st, code, now_ms), 0);
	free(o.desktop_token);
	teardown();
}

/* A connection keeps its scanner id in PEER_SCANNER_MAX bytes: a correctly
 * signed token naming a longer (never issued) scanner id is refused at hello
 * instead of being cut and then matching the wrong scanner. */
static void test_hello_refuses_overlong_scanner_id(void)
{
	struct auth_claims c = { .role = SB_ROLE_SCANNER };
	struct session_opened o;
	struct fake_peer f;
	char *token = NULL;

	setup();
	CHECK_EQ_INT(session_open(&o), 0);
	CHECK_EQ_INT(batch_flush(), 0);
	memset(c.sub, 'x', PEER_SCANNER_MAX);
	c.sub[PEER_SCANNER_MAX] = '\0';
	snprintf(c.sid, sizeof(c.sid), "%s", o.sid);
	c.iat = now_ms / 1000;
	c.exp = c.iat + 600;
	CHECK_EQ_INT(store_scanner_add(st, o.sid, c.sub, "long", now_ms), 0);
	CHECK_EQ_INT(auth_issue(au, &c, &token), 0);
	fake_init(&f);
	struct sb_client_msg m = { .type = SB_MSG_HELLO, .last_seq = -1 };

	snprintf(m.token, sizeof(m.token), "%s", token);
	relay_peer_message(&f.p, &m);
	CHECK_EQ_INT(f.close_code, 4001);
	CHECK(f.p.sess == NULL);
	fake_free(&f);
	free(token);
	free(o.desktop_token);
	teardown();
}

TEST_MAIN(TEST(test_ack_only_after_commit), TEST(test_duplicate_keeps_seq_and_is_not_forwarded),
	  TEST(test_duplicate_found_after_restart),
	  TEST(test_cumulative_ack_sends_each_receipt_once),
	  TEST(test_resume_replays_in_order_without_overflow),
	  TEST(test_desktop_not_reading_falls_behind_then_catches_up),
	  TEST(test_failed_commit_acks_nothing_and_rewinds),
	  TEST(test_failed_ack_commit_tells_the_desktop), TEST(test_delete_ends_only_after_commit),
	  TEST(test_write_lock_held_elsewhere), TEST(test_expiry_slides_and_caps),
	  TEST(test_wall_clock_jumps_do_not_move_expiry), TEST(test_sessions_are_loaded_at_start),
	  TEST(test_idle_session_expires_after_ttl), TEST(test_roles_and_revocation),
	  TEST(test_scanner_cap), TEST(test_hello_refuses_overlong_scanner_id))
