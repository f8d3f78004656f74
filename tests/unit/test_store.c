/* SPDX-License-Identifier: MIT */
/* Unit tests of the store against real SQLite files in a fresh temporary
 * directory: opening and migrating, refusing newer or foreign files, every
 * query of store.h, tombstones after purge, and group-commit semantics (batch
 * visibility, rollback, a failing COMMIT, a batch SQLite dropped on its own).
 * A second plain sqlite3 connection inspects the file where store.h cannot. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "sb_err.h"
#include "store.h"

static char dir[64];
static char db_path[128];

/* A fresh directory and database path for one test. */
static void fresh(void)
{
	snprintf(dir, sizeof dir, "/tmp/sb-store-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(db_path, sizeof db_path, "%s/scanbridge.db", dir);
}

static void cleanup(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[160];

	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(p, sizeof p, "%s%s", db_path, suffix[i]);
		unlink(p);
	}
	rmdir(dir);
}

static struct store *open_ok(void)
{
	struct store *st = NULL;
	char err[256] = "";
	int rc = store_open(&st, db_path, SB_DURABILITY_NORMAL, err, sizeof err);

	CHECK_EQ_INT(rc, 0);
	if (rc)
		fprintf(stderr, "store_open: %s\n", err);
	return st;
}

/* Runs sql on a separate connection and returns the first column as integer. */
static long long peek_int(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long long v = -12345;

	if (sqlite3_open(db_path, &db) == SQLITE_OK
	    && sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK
	    && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static int exec_other(const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(db_path, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static struct sb_scan mkscan(int64_t seq, const char *id, const char *code)
{
	struct sb_scan s;

	memset(&s, 0, sizeof s);
	s.seq = seq;
	snprintf(s.id, sizeof s.id, "%s", id);
	snprintf(s.code, sizeof s.code, "%s", code);
	s.format = SB_FMT_CODE_128;
	snprintf(s.scanner, sizeof s.scanner, "scn1");
	s.scanned_at = -1;
	s.received_at = 1000 + seq;
	return s;
}

/* Inserts scans 1..n with ids "c<seq>" into sid. */
static void insert_n(struct store *st, const char *sid, int n)
{
	char id[32];

	for (int i = 1; i <= n; i++) {
		snprintf(id, sizeof id, "c%d", i);
		struct sb_scan s = mkscan(i, id, "ABC-123");
		CHECK_EQ_INT(store_scan_insert(st, sid, &s), 0);
	}
}

/* Collects seqs (and ids) passed to a scan callback. */
struct seqs { int n; int64_t seq[64]; char code[64][16]; };

static void collect_cb(const struct sb_scan *s, void *ctx)
{
	struct seqs *c = ctx;

	if (c->n < 64) {
		size_t len = strnlen(s->code, sizeof c->code[0] - 1);

		memcpy(c->code[c->n], s->code, len);
		c->code[c->n][len] = '\0';
		c->seq[c->n++] = s->seq;
	}
}

/* ---- opening ---- */

extern const char *const store_migrations[];

/* A database of schema 3 (scans keyed by (session, seq), UNIQUE client ids)
 * keeps its scans through migration 4 and takes new ones after it. */
static void test_migration_4_keeps_scans(void)
{
	struct sb_scan a = mkscan(3, "c3", "X"), got;
	struct store_session ss;
	struct store *st;
	sqlite3 *db = NULL;
	char sql[256];

	fresh();
	CHECK_EQ_INT(sqlite3_open(db_path, &db), SQLITE_OK);
	for (int v = 0; v < 3; v++)
		CHECK_EQ_INT(sqlite3_exec(db, store_migrations[v], NULL, NULL, NULL), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 3;"
				  "INSERT INTO sessions(id, created_at, last_activity, delivered_seq)"
				  " VALUES ('s', 1, 1, 1)", NULL, NULL, NULL), SQLITE_OK);
	for (int seq = 1; seq <= 2; seq++) {
		snprintf(sql, sizeof sql, "INSERT INTO scans VALUES ('s', %d, 'c%d', 'code%d',"
			 " 'ean13', 'scn1', NULL, %d, %s)", seq, seq, seq, 1000 + seq,
			 seq == 1 ? "2000" : "NULL");
		CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_close(db);

	st = open_ok();
	CHECK_EQ_INT(peek_int("PRAGMA user_version"), store_schema_version());
	CHECK_EQ_INT(store_session_get(st, "s", &ss), 0);
	CHECK_EQ_INT(ss.last_seq, 2);
	CHECK_EQ_INT(ss.delivered_seq, 1);
	CHECK_EQ_INT(store_scan_get(st, "s", 1, &got, NULL, NULL), 0);
	CHECK_STR(got.id, "c1");
	CHECK_STR(got.code, "code1");
	CHECK_EQ_INT(got.received_at, 1001);
	/* the delivered, unpurged scan 1 became a delivery */
	CHECK_EQ_INT(peek_int("SELECT seq FROM deliveries WHERE session_id = 's' AND at = 2000"), 1);
	CHECK_EQ_INT(store_scan_insert(st, "s", &a), 0);
	a.seq = 2;
	CHECK_EQ_INT(store_scan_insert(st, "s", &a), SB_EEXIST);   /* the seq index is back */
	CHECK_EQ_INT(store_session_end(st, "s", STORE_ENDED_DELETED, 5, 10), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 0);  /* the cascade too */
	store_close(st);
	cleanup();
}

/* A database of schema 4 (the (session_id, seq) index, rows in arrival
 * order, a foreign key) goes through migration 5: every scan of a live
 * session is found by seq whatever its rowid was, a scan whose session is
 * gone is dropped, the foreign key and the index are gone, the scan index
 * is rebuilt from the table on every open, and delivered content not yet
 * purged still is, on time. */
static void test_migration_5_scans_by_rowid(void)
{
	struct sb_scan got, c = mkscan(4, "c4", "NEW");
	struct store_session ss;
	struct store *st;
	sqlite3 *db = NULL;
	int64_t n = -1;
	bool purged;

	fresh();
	CHECK_EQ_INT(sqlite3_open(db_path, &db), SQLITE_OK);
	for (int v = 0; v < 4; v++)
		CHECK_EQ_INT(sqlite3_exec(db, store_migrations[v], NULL, NULL, NULL), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 4;"
		"INSERT INTO sessions(id, created_at, last_activity) VALUES ('a', 1, 1), ('b', 1, 1);"
		/* a's seq 2 arrived before its seq 1 (a clock step back) */
		"INSERT INTO scans VALUES ('a', 2, 'a2', 'A2', 'ean13', 'p', NULL, 10, NULL);"
		"INSERT INTO scans VALUES ('b', 1, 'b1', 'B1', 'ean13', 'p', NULL, 11, NULL);"
		"INSERT INTO scans VALUES ('a', 1, 'a1', 'A1', 'ean13', 'p', NULL, 12, 20);"
		"INSERT INTO scans VALUES ('b', 2, 'b2', 'B2', 'ean13', 'p', NULL, 13, NULL);"
		"PRAGMA foreign_keys = OFF;"
		"INSERT INTO scans VALUES ('gone', 1, 'g1', 'G1', 'ean13', 'p', NULL, 14, NULL);",
		NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	for (int open = 0; open < 2; open++) {
		st = open_ok();
		CHECK_EQ_INT(store_session_get(st, "a", &ss), 0);
		CHECK_EQ_INT(ss.last_seq, open ? 4 : 2);
		CHECK_EQ_INT(store_scan_get(st, "a", 1, &got, NULL, NULL), 0);
		CHECK_STR(got.code, "A1");
		CHECK_EQ_INT(store_scan_get(st, "b", 2, &got, NULL, NULL), 0);
		CHECK_STR(got.code, "B2");
		if (!open)
			CHECK_EQ_INT(store_scan_insert(st, "a", &c), 0);   /* seq 3 left out */
		store_close(st);
	}
	st = open_ok();   /* a1's delivery (at 20) came through: it is purged on time */
	CHECK_EQ_INT(store_purge(st, 19, 30, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(store_purge(st, 20, 30, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(store_scan_get(st, "a", 1, &got, &purged, NULL), 0);
	CHECK(purged);
	CHECK_EQ_INT(store_scan_get(st, "a", 2, &got, &purged, NULL), 0);
	CHECK(!purged);
	store_close(st);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans WHERE session_id = 'gone'"), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM pragma_foreign_key_list('scans')"), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM sqlite_schema WHERE name = 'scans_session_seq'"), 0);
	cleanup();
}

/* The scan index follows the batch it was changed in: a rolled back batch
 * takes back its scans and its session deletes, a committed one keeps them,
 * and a deleted session's scans go with it, by rowid, leaving the others. */
static void test_scan_index_follows_batches(void)
{
	struct sb_scan got, late = mkscan(3, "late", "L");
	struct store_session ss;
	struct store *st;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(store_session_create(st, "t", 1), 0);
	insert_n(st, "s", 2);
	insert_n(st, "t", 2);
	CHECK_EQ_INT(store_begin(st), 0);
	CHECK_EQ_INT(store_session_end(st, "s", STORE_ENDED_DELETED, 5, 10), 0);
	CHECK_EQ_INT(store_scan_get(st, "s", 1, &got, NULL, NULL), SB_ENOTFOUND);
	CHECK_EQ_INT(store_scan_insert(st, "s", &late), SB_ENOTFOUND);
	store_rollback(st);
	CHECK_EQ_INT(store_scan_get(st, "s", 2, &got, NULL, NULL), 0);   /* back */
	CHECK_STR(got.id, "c2");
	CHECK_EQ_INT(store_scan_insert(st, "s", &late), 0);
	CHECK_EQ_INT(store_session_get(st, "s", &ss), 0);
	CHECK_EQ_INT(ss.last_seq, 3);

	CHECK_EQ_INT(store_begin(st), 0);
	CHECK_EQ_INT(store_session_create(st, "u", 1), 0);
	insert_n(st, "u", 1);
	store_rollback(st);
	CHECK_EQ_INT(store_scan_insert(st, "u", &late), SB_ENOTFOUND);   /* no session left */

	CHECK_EQ_INT(store_begin(st), 0);
	CHECK_EQ_INT(store_session_end(st, "s", STORE_ENDED_DELETED, 5, 10), 0);
	CHECK_EQ_INT(store_commit(st), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans WHERE session_id = 's'"), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans WHERE session_id = 't'"), 2);
	CHECK_EQ_INT(store_scan_get(st, "t", 2, &got, NULL, NULL), 0);
	store_close(st);
	cleanup();
}

static void test_open_migrate_reopen(void)
{
	struct store_session ss;
	struct store *st;

	fresh();
	st = open_ok();
	CHECK(store_schema_version() >= 1);
	CHECK_EQ_INT(store_session_create(st, "s1", 100), 0);
	CHECK_EQ_INT(store_ping(st), 0);
	store_close(st);
	CHECK_EQ_INT(peek_int("PRAGMA user_version"), store_schema_version());
	st = open_ok();
	CHECK_EQ_INT(store_session_get(st, "s1", &ss), 0);
	CHECK_EQ_INT(ss.created_at, 100);
	CHECK_STR(store_last_error(st), "");
	store_close(st);
	CHECK_EQ_INT(peek_int("PRAGMA user_version"), store_schema_version());
	store_close(NULL);
	cleanup();
}

static void test_journal_mode_wal(void)
{
	struct store *st;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(sqlite3_open(db_path, &db), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_step(s), SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);
	store_close(st);
	cleanup();
}

static void test_newer_schema_refused(void)
{
	struct store *st = (struct store *)&st;   /* must be reset to NULL */
	char err[256] = "";

	fresh();
	CHECK_EQ_INT(exec_other("PRAGMA user_version = 999"), SQLITE_OK);
	CHECK_EQ_INT(store_open(&st, db_path, SB_DURABILITY_NORMAL, err, sizeof err), SB_ESCHEMA);
	CHECK(st == NULL);
	char want[160];
	snprintf(want, sizeof want, "database schema version 999 is newer than this "
		 "scanbridged (%d); upgrade scanbridged", store_schema_version());
	CHECK_STR(err, want);
	CHECK_EQ_INT(peek_int("PRAGMA user_version"), 999);   /* untouched */
	cleanup();
}

static void test_garbage_file_refused(void)
{
	struct store *st = NULL;
	char err[256] = "";
	char junk[4096];
	FILE *f;

	fresh();
	memset(junk, 'x', sizeof junk);
	f = fopen(db_path, "wb");
	CHECK(f != NULL);
	if (f) {
		fwrite(junk, 1, sizeof junk, f);
		fclose(f);
	}
	CHECK_EQ_INT(store_open(&st, db_path, SB_DURABILITY_NORMAL, err, sizeof err), SB_EIO);
	CHECK(st == NULL);
	CHECK(strstr(err, "is not a database") != NULL);
	CHECK(strstr(err, db_path) != NULL);
	/* NULL err buffer is fine too */
	CHECK_EQ_INT(store_open(&st, db_path, SB_DURABILITY_NORMAL, NULL, 0), SB_EIO);
	cleanup();
}

static void test_unopenable_path(void)
{
	struct store *st = NULL;
	char err[256] = "";

	CHECK_EQ_INT(store_open(&st, "/nonexistent-dir-sb/x.db", SB_DURABILITY_NORMAL,
				err, sizeof err), SB_EIO);
	CHECK(st == NULL);
	CHECK(strstr(err, "/nonexistent-dir-sb/x.db") != NULL);
}

static void test_durability(void)
{
	struct store *st = NULL;
	char err[256];

	fresh();
	CHECK_EQ_INT(store_open(&st, db_path, SB_DURABILITY_FULL, err, sizeof err), 0);
	CHECK_EQ_INT(store_set_durability(st, SB_DURABILITY_NORMAL), 0);
	CHECK_EQ_INT(store_set_durability(st, SB_DURABILITY_FULL), 0);
	CHECK_EQ_INT(store_begin(st), 0);                     /* also inside a batch */
	CHECK_EQ_INT(store_set_durability(st, SB_DURABILITY_NORMAL), 0);
	CHECK_EQ_INT(store_commit(st), 0);
	store_close(st);
	cleanup();
}

/* ---- sessions ---- */

static void test_session_create_get(void)
{
	struct store_session ss;
	struct store *st;
	int64_t n = -1;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "sessA", 5000), 0);
	CHECK_EQ_INT(store_session_create(st, "sessA", 6000), SB_EEXIST);
	CHECK_EQ_INT(store_session_get(st, "sessA", &ss), 0);
	CHECK_STR(ss.id, "sessA");
	CHECK_EQ_INT(ss.created_at, 5000);
	CHECK_EQ_INT(ss.last_activity, 5000);
	CHECK_EQ_INT(ss.last_seq, 0);
	CHECK_EQ_INT(ss.delivered_seq, 0);
	CHECK_STR(ss.last_pair_code, "");
	CHECK_EQ_INT(store_session_touch(st, "sessA", 7000), 0);
	CHECK_EQ_INT(store_session_get(st, "sessA", &ss), 0);
	CHECK_EQ_INT(ss.last_activity, 7000);
	CHECK_EQ_INT(store_session_touch(st, "nope", 7000), SB_ENOTFOUND);
	CHECK_EQ_INT(store_session_get(st, "nope", &ss), SB_ENOTFOUND);
	CHECK_EQ_INT(store_session_count(st, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(store_session_create(st, NULL, 1), SB_EINVAL);
	store_close(st);
	cleanup();
}

static void test_last_seq_derived(void)
{
	struct store_session ss;
	struct store *st;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "a", 1), 0);
	CHECK_EQ_INT(store_session_create(st, "b", 1), 0);
	insert_n(st, "a", 3);
	insert_n(st, "b", 7);
	CHECK_EQ_INT(store_session_get(st, "a", &ss), 0);
	CHECK_EQ_INT(ss.last_seq, 3);
	CHECK_EQ_INT(store_session_get(st, "b", &ss), 0);
	CHECK_EQ_INT(ss.last_seq, 7);
	store_close(st);
	cleanup();
}

/* ---- scans ---- */

static void test_scan_insert_find(void)
{
	struct sb_scan a = mkscan(1, "id-1", "4006381333931"), got;
	struct sb_scan b = mkscan(2, "id_2", "héllo wörld");
	struct store *st;
	bool purged = true, delivered = true;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	a.format = SB_FMT_EAN_13;
	b.scanned_at = 123456789012;
	CHECK_EQ_INT(store_scan_insert(st, "s", &a), 0);
	CHECK_EQ_INT(store_scan_insert(st, "s", &b), 0);

	CHECK_EQ_INT(store_scan_get(st, "s", 1, &got, &purged, &delivered), 0);
	CHECK_EQ_INT(got.seq, 1);
	CHECK_STR(got.id, "id-1");
	CHECK_STR(got.code, "4006381333931");
	CHECK_EQ_INT(got.format, SB_FMT_EAN_13);
	CHECK_STR(got.scanner, "scn1");
	CHECK_EQ_INT(got.scanned_at, -1);
	CHECK_EQ_INT(got.received_at, 1001);
	CHECK(!purged);
	CHECK(!delivered);

	CHECK_EQ_INT(store_scan_get(st, "s", 2, &got, NULL, NULL), 0);
	CHECK_EQ_INT(got.seq, 2);
	CHECK_STR(got.code, "héllo wörld");
	CHECK_EQ_INT(got.format, SB_FMT_CODE_128);
	CHECK_EQ_INT(got.scanned_at, 123456789012);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans WHERE scanned_at IS NULL"), 1);

	CHECK_EQ_INT(store_scan_get(st, "s", 3, &got, NULL, NULL), SB_ENOTFOUND);
	CHECK_EQ_INT(store_scan_get(st, "other", 1, &got, NULL, NULL), SB_ENOTFOUND);
	store_close(st);
	cleanup();
}

/* Client ids are the session layer's (idset.c): the store refuses a seq
 * twice and lists every (seq, client id) of a session for it. */
struct ids_ctx { int n; int64_t seq_sum; char last[64]; };

static int ids_cb(int64_t seq, const char *id, void *arg)
{
	struct ids_ctx *c = arg;

	c->n++;
	c->seq_sum += seq;
	snprintf(c->last, sizeof c->last, "%s", id);
	return c->n == 99 ? SB_EIO : 0;
}

static void test_scan_duplicates(void)
{
	struct sb_scan a = mkscan(1, "dup", "X"), b = mkscan(2, "dup", "Y");
	struct sb_scan c = mkscan(1, "other", "Z"), got;
	struct ids_ctx ids = { 0 };
	struct store *st;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(store_session_create(st, "t", 1), 0);
	CHECK_EQ_INT(store_scan_insert(st, "s", &a), 0);
	CHECK_EQ_INT(store_scan_insert(st, "s", &c), SB_EEXIST);   /* same seq */
	CHECK(store_last_error(st)[0] != '\0');
	CHECK_EQ_INT(store_scan_insert(st, "t", &c), 0);           /* other session: fine */
	CHECK_EQ_INT(store_scan_insert(st, "gone", &b), SB_ENOTFOUND);
	CHECK_EQ_INT(store_scan_get(st, "s", 1, &got, NULL, NULL), 0);
	CHECK_STR(got.id, "dup");
	CHECK_STR(got.code, "X");

	CHECK_EQ_INT(store_scan_insert(st, "s", &b), 0);
	CHECK_EQ_INT(store_scan_ids_each(st, "s", ids_cb, &ids), 0);
	CHECK_EQ_INT(ids.n, 2);
	CHECK_EQ_INT(ids.seq_sum, 3);
	CHECK_STR(ids.last, "dup");
	memset(&ids, 0, sizeof ids);
	CHECK_EQ_INT(store_scan_ids_each(st, "t", ids_cb, &ids), 0);
	CHECK_EQ_INT(ids.n, 1);
	CHECK_STR(ids.last, "other");
	ids.n = 98;                                                 /* fn's error stops it */
	CHECK_EQ_INT(store_scan_ids_each(st, "s", ids_cb, &ids), SB_EIO);
	CHECK_EQ_INT(ids.n, 99);
	store_close(st);
	cleanup();
}

static void test_scans_after(void)
{
	struct store *st;
	struct seqs c;
	int64_t n = -1;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(store_session_create(st, "t", 1), 0);
	insert_n(st, "t", 5);
	insert_n(st, "s", 10);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_scans_after(st, "s", 2, 8, 3, collect_cb, &c), 0);
	CHECK_EQ_INT(c.n, 3);
	CHECK_EQ_INT(c.seq[0], 3);
	CHECK_EQ_INT(c.seq[2], 5);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_scans_after(st, "s", 2, 8, 100, collect_cb, &c), 0);
	CHECK_EQ_INT(c.n, 6);
	for (int i = 0; i < c.n; i++)
		CHECK_EQ_INT(c.seq[i], 3 + i);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_scans_after(st, "s", 2, 8, 0, collect_cb, &c), 0);
	CHECK_EQ_INT(c.n, 0);
	/* deliver and purge 1..4: after skips purged content */
	CHECK_EQ_INT(store_session_deliver(st, "s", 4, 2000), 0);
	CHECK_EQ_INT(store_purge(st, 2000, 2000, &n), 0);
	CHECK_EQ_INT(n, 4);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_scans_after(st, "s", 0, 100, 100, collect_cb, &c), 0);
	CHECK_EQ_INT(c.n, 6);
	CHECK_EQ_INT(c.seq[0], 5);
	CHECK_EQ_INT(c.seq[5], 10);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_scans_after(st, "nope", 0, 100, 100, collect_cb, &c), 0);
	CHECK_EQ_INT(c.n, 0);
	store_close(st);
	cleanup();
}

static void test_deliver_purge_tombstones(void)
{
	struct store_session ss;
	struct sb_scan got;
	struct store *st;
	struct seqs c;
	bool purged, delivered;
	int64_t n = -1;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	insert_n(st, "s", 5);
	CHECK_EQ_INT(store_session_deliver(st, "s", 3, 1000), 0);
	CHECK_EQ_INT(store_session_deliver(st, "s", 2, 1500), 0);   /* never lowers */
	CHECK_EQ_INT(store_session_get(st, "s", &ss), 0);
	CHECK_EQ_INT(ss.delivered_seq, 3);
	CHECK_EQ_INT(peek_int("SELECT seq FROM deliveries WHERE at = 1000"), 3);  /* one row an ack */
	CHECK_EQ_INT(store_session_deliver(st, "s", 4, 3000), 0);
	CHECK_EQ_INT(peek_int("SELECT seq FROM deliveries WHERE at = 3000"), 4);
	CHECK_EQ_INT(store_session_deliver(st, "nope", 4, 3000), SB_ENOTFOUND);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM deliveries"), 3);   /* nope's: none */

	CHECK_EQ_INT(store_scan_get(st, "s", 2, &got, &purged, &delivered), 0);
	CHECK(delivered);
	CHECK(!purged);
	CHECK_EQ_INT(store_purge(st, 999, 1000, &n), 0);            /* nothing old enough */
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(store_purge(st, 1000, 1000, &n), 0);           /* seqs 1..3 */
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(store_purge(st, 1000, 1000, NULL), 0);         /* idempotent */
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM deliveries"), 2);   /* the due one went */
	CHECK_EQ_INT(peek_int("SELECT purged_seq FROM sessions"), 3);

	CHECK_EQ_INT(store_scan_get(st, "s", 2, &got, &purged, &delivered), 0);
	CHECK(purged);
	CHECK(delivered);
	CHECK_EQ_INT(got.seq, 2);
	CHECK_STR(got.code, "");
	CHECK_STR(got.scanner, "scn1");
	CHECK_EQ_INT(store_scan_get(st, "s", 4, &got, &purged, &delivered), 0);
	CHECK(!purged);
	CHECK(delivered);
	CHECK_EQ_INT(store_scan_get(st, "s", 5, &got, &purged, &delivered), 0);
	CHECK(!purged);
	CHECK(!delivered);

	memset(&c, 0, sizeof c);   /* range: every row of the scanner, content or not */
	CHECK_EQ_INT(store_scans_range(st, "s", "scn1", 1, 4, collect_cb, &c), 0);
	CHECK_EQ_INT(c.n, 3);
	CHECK_EQ_INT(c.seq[0], 2);
	CHECK_EQ_INT(c.seq[2], 4);
	memset(&c, 0, sizeof c);   /* another scanner's receipts are not these */
	CHECK_EQ_INT(store_scans_range(st, "s", "scn2", 1, 4, collect_cb, &c), 0);
	CHECK_EQ_INT(c.n, 0);
	CHECK_EQ_INT(store_session_get(st, "s", &ss), 0);
	CHECK_EQ_INT(ss.last_seq, 5);   /* tombstones keep the head */
	store_close(st);
	cleanup();
}

/* Collects (seq, scanner, id) from store_scans_span. */
struct span { int n; int64_t seq[16]; char scanner[16][8]; char id[16][8]; };

static void span_cb(const struct sb_scan *s, void *ctx)
{
	struct span *c = ctx;

	if (c->n < 16) {
		snprintf(c->scanner[c->n], sizeof c->scanner[0], "%.7s", s->scanner);
		snprintf(c->id[c->n], sizeof c->id[0], "%.7s", s->id);
		c->seq[c->n++] = s->seq;
	}
}

/* Receipts for all of a session's scanners in one read: every scan in the
 * range, content or purged, in seq order, with its scanner and client id. */
static void test_scans_span(void)
{
	const char *who[] = { "a", "b", "a", "a", "b", "b" };
	struct store *st;
	struct span c;
	int64_t n;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(store_session_create(st, "other", 1), 0);
	for (int i = 0; i < 6; i++) {
		char id[8];
		struct sb_scan sc;

		snprintf(id, sizeof id, "id%d", i + 1);
		sc = mkscan(i + 1, id, "X");
		snprintf(sc.scanner, sizeof sc.scanner, "%s", who[i]);
		CHECK_EQ_INT(store_scan_insert(st, "s", &sc), 0);
		CHECK_EQ_INT(store_scan_insert(st, "other", &sc), 0);
	}
	CHECK_EQ_INT(store_session_deliver(st, "s", 2, 100), 0);
	CHECK_EQ_INT(store_purge(st, 100, 100, &n), 0);   /* 1 and 2 lose their code */
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_scans_span(st, "s", 0, 5, span_cb, &c), 0);
	CHECK_EQ_INT(c.n, 5);
	for (int i = 0; i < 5; i++) {
		char id[8];

		snprintf(id, sizeof id, "id%d", i + 1);
		CHECK_EQ_INT(c.seq[i], i + 1);
		CHECK_STR(c.scanner[i], who[i]);
		CHECK_STR(c.id[i], id);
	}
	memset(&c, 0, sizeof c);   /* from is exclusive, to inclusive */
	CHECK_EQ_INT(store_scans_span(st, "s", 4, 6, span_cb, &c), 0);
	CHECK_EQ_INT(c.n, 2);
	CHECK_EQ_INT(c.seq[0], 5);
	CHECK_EQ_INT(c.seq[1], 6);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_scans_span(st, "s", 6, 9, span_cb, &c), 0);
	CHECK_EQ_INT(c.n, 0);
	store_close(st);
	cleanup();
}

struct ids { int n; char id[8][SB_ID_MAX]; };

static void sid_cb(const char *sid, void *ctx)
{
	struct ids *c = ctx;

	if (c->n < 8)
		snprintf(c->id[c->n++], SB_ID_MAX, "%s", sid);
}

static bool has_id(const struct ids *c, const char *id)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->id[i], id))
			return true;
	return false;
}

static void test_sessions_each(void)
{
	struct store *st;
	struct ids c;

	fresh();
	st = open_ok();
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_sessions_each(st, sid_cb, &c), 0);
	CHECK_EQ_INT(c.n, 0);
	CHECK_EQ_INT(store_session_create(st, "idle", 0), 0);
	CHECK_EQ_INT(store_session_create(st, "old", 0), 0);
	CHECK_EQ_INT(store_session_create(st, "young", 500), 0);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_sessions_each(st, sid_cb, &c), 0);
	CHECK_EQ_INT(c.n, 3);
	CHECK(has_id(&c, "idle"));
	CHECK(has_id(&c, "old"));
	CHECK(has_id(&c, "young"));
	store_close(st);
	cleanup();
}

static void test_session_end(void)
{
	struct store_scanner sc;
	struct store_session ss;
	struct sb_scan got;
	struct store *st;
	int64_t n;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(store_session_create(st, "keep", 1), 0);
	insert_n(st, "s", 4);
	insert_n(st, "keep", 2);
	CHECK_EQ_INT(store_scanner_add(st, "s", "scn", "Phone", 2), 0);
	CHECK_EQ_INT(store_pair_code_add(st, "code1", "s", 99999), 0);
	CHECK_EQ_INT(store_session_end_reason(st, "s"), SB_ENOTFOUND);

	CHECK_EQ_INT(store_session_end(st, "s", STORE_ENDED_DELETED, 1000, 5000), 0);
	CHECK_EQ_INT(store_session_get(st, "s", &ss), SB_ENOTFOUND);
	CHECK_EQ_INT(store_scan_get(st, "s", 1, &got, NULL, NULL), SB_ENOTFOUND);
	CHECK_EQ_INT(store_scanner_get(st, "s", "scn", &sc), SB_ENOTFOUND);
	CHECK_EQ_INT(store_pair_code_valid(st, "code1", 1000), SB_ENOTFOUND);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans WHERE session_id = 's'"), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 2);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM pair_codes"), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scanners"), 0);
	CHECK_EQ_INT(store_session_end_reason(st, "s"), STORE_ENDED_DELETED);
	CHECK_EQ_INT(store_session_end_reason(st, "keep"), SB_ENOTFOUND);
	CHECK_EQ_INT(store_session_count(st, &n), 0);
	CHECK_EQ_INT(n, 1);

	CHECK_EQ_INT(store_session_end(st, "keep", STORE_ENDED_EXPIRED, 2000, 10000), 0);
	CHECK_EQ_INT(store_session_end_reason(st, "keep"), STORE_ENDED_EXPIRED);
	CHECK_EQ_INT(store_purge(st, 0, 5999, NULL), 0);     /* s kept until 6000 */
	CHECK_EQ_INT(store_session_end_reason(st, "s"), STORE_ENDED_DELETED);
	CHECK_EQ_INT(store_purge(st, 0, 6000, NULL), 0);
	CHECK_EQ_INT(store_session_end_reason(st, "s"), SB_ENOTFOUND);
	CHECK_EQ_INT(store_session_end_reason(st, "keep"), STORE_ENDED_EXPIRED);
	store_close(st);
	cleanup();
}

/* ---- pair codes ---- */

static void test_pair_codes(void)
{
	struct store_session ss;
	char sid[SB_ID_MAX] = "";
	struct store *st;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(store_pair_code_add(st, "code1", "s", 2000), 0);
	CHECK_EQ_INT(store_session_get(st, "s", &ss), 0);
	CHECK_STR(ss.last_pair_code, "code1");
	CHECK_EQ_INT(store_pair_code_add(st, "code2", "s", 1500), 0);
	CHECK_EQ_INT(store_session_get(st, "s", &ss), 0);
	CHECK_STR(ss.last_pair_code, "code2");
	CHECK_EQ_INT(store_pair_code_add(st, "code1", "s", 2000), SB_EEXIST);
	CHECK_EQ_INT(store_pair_code_add(st, "code3", "nope", 2000), SB_ENOTFOUND);
	CHECK_EQ_INT(store_session_get(st, "s", &ss), 0);
	CHECK_STR(ss.last_pair_code, "code2");   /* failed adds changed nothing */

	CHECK_EQ_INT(store_pair_code_valid(st, "code1", 1000), 0);
	CHECK_EQ_INT(store_pair_code_peek(st, "code1", 1000, sid), 0);
	CHECK_STR(sid, "s");
	CHECK_EQ_INT(store_pair_code_peek(st, "code1", 2000, sid), SB_ENOTFOUND);
	CHECK_EQ_INT(store_pair_code_valid(st, "code1", 1000), 0);   /* peek did not consume */
	sid[0] = '\0';
	CHECK_EQ_INT(store_pair_code_take(st, "code1", 1000, sid), 0);
	CHECK_STR(sid, "s");
	CHECK_EQ_INT(store_pair_code_take(st, "code1", 1000, sid), SB_ENOTFOUND);  /* single use */
	CHECK_EQ_INT(store_pair_code_valid(st, "code1", 1000), SB_ENOTFOUND);
	CHECK_EQ_INT(store_pair_code_valid(st, "code2", 1499), 0);
	CHECK_EQ_INT(store_pair_code_valid(st, "code2", 1500), SB_ENOTFOUND);     /* expired */
	CHECK_EQ_INT(store_pair_code_take(st, "code2", 1500, sid), SB_ENOTFOUND);
	CHECK_EQ_INT(store_pair_code_take(st, "code2", 1499, sid), 0);            /* still there */
	CHECK_EQ_INT(store_pair_code_take(st, "unknown", 0, sid), SB_ENOTFOUND);
	CHECK_EQ_INT(store_pair_code_valid(st, "unknown", 0), SB_ENOTFOUND);
	store_close(st);
	cleanup();
}

/* Before a code is added the session keeps only its newest live codes, in
 * issue order (not expiry order: pair_code_ttl may have changed), and loses
 * its used and expired ones; other sessions are untouched. */
static void test_pair_codes_retire(void)
{
	struct store *st;
	char sid[SB_ID_MAX];

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(store_session_create(st, "t", 1), 0);
	CHECK_EQ_INT(store_pair_code_add(st, "a", "s", 5000), 0);
	CHECK_EQ_INT(store_pair_code_add(st, "b", "s", 9000), 0);
	CHECK_EQ_INT(store_pair_code_add(st, "c", "s", 3000), 0);
	CHECK_EQ_INT(store_pair_code_add(st, "d", "s", 3000), 0);
	CHECK_EQ_INT(store_pair_code_add(st, "e", "s", 1500), 0);  /* expired at 2000 */
	CHECK_EQ_INT(store_pair_code_add(st, "t1", "t", 1500), 0);
	CHECK_EQ_INT(store_pair_code_take(st, "d", 2000, sid), 0);  /* used */
	CHECK_EQ_INT(store_pair_codes_retire(st, "s", 2000, 2), 0);
	CHECK_EQ_INT(store_pair_code_valid(st, "a", 2000), SB_ENOTFOUND);  /* oldest: retired */
	CHECK_EQ_INT(store_pair_code_valid(st, "b", 2000), 0);
	CHECK_EQ_INT(store_pair_code_valid(st, "c", 2000), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM pair_codes WHERE session_id = 's'"), 2);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM pair_codes WHERE session_id = 't'"), 1);
	CHECK_EQ_INT(store_pair_codes_retire(st, "s", 2000, 0), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM pair_codes WHERE session_id = 's'"), 0);
	store_close(st);
	cleanup();
}

/* The cleanup pass deletes used and expired codes (a deleted code answers like
 * a used one) and keeps live ones. */
static void test_pair_codes_purge(void)
{
	struct store *st;
	char sid[SB_ID_MAX];
	int64_t n = -1;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(store_pair_code_add(st, "live", "s", 3000), 0);
	CHECK_EQ_INT(store_pair_code_add(st, "used", "s", 3000), 0);
	CHECK_EQ_INT(store_pair_code_add(st, "old", "s", 2000), 0);
	CHECK_EQ_INT(store_pair_code_take(st, "used", 1000, sid), 0);
	CHECK_EQ_INT(store_pair_codes_purge(st, 1999, &n), 0);
	CHECK_EQ_INT(n, 1);                                        /* "used" */
	CHECK_EQ_INT(store_pair_codes_purge(st, 2000, &n), 0);
	CHECK_EQ_INT(n, 1);                                        /* "old" at its expiry */
	CHECK_EQ_INT(store_pair_codes_purge(st, 2000, NULL), 0);   /* idempotent */
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM pair_codes"), 1);
	CHECK_EQ_INT(store_pair_code_valid(st, "live", 2000), 0);
	CHECK_EQ_INT(store_pair_code_take(st, "used", 1000, sid), SB_ENOTFOUND);
	CHECK_EQ_INT(store_begin(st), 0);                          /* in a batch too */
	CHECK_EQ_INT(store_pair_codes_purge(st, 3000, &n), 0);
	CHECK_EQ_INT(store_commit(st), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM pair_codes"), 0);
	store_close(st);
	cleanup();
}

/* ---- scanners ---- */

struct names { int n; char id[8][SB_ID_MAX]; };

static void scanner_cb(const struct store_scanner *s, void *ctx)
{
	struct names *c = ctx;

	if (c->n < 8)
		snprintf(c->id[c->n++], SB_ID_MAX, "%s", s->id);
}

static void test_scanners(void)
{
	struct store_scanner sc;
	struct store *st;
	struct names c;
	int n = -1;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(store_scanner_count(st, "s", &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(store_scanner_add(st, "s", "p1", "Till 1", 10), 0);
	CHECK_EQ_INT(store_scanner_add(st, "s", "p2", "Till 2", 20), 0);
	CHECK_EQ_INT(store_scanner_add(st, "s", "p3", "Phöne 3", 15), 0);
	CHECK_EQ_INT(store_scanner_add(st, "s", "p1", "again", 30), SB_EEXIST);
	CHECK_EQ_INT(store_scanner_add(st, "nope", "p9", "x", 30), SB_ENOTFOUND);
	CHECK_EQ_INT(store_scanner_count(st, "s", &n), 0);
	CHECK_EQ_INT(n, 3);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_scanners_list(st, "s", scanner_cb, &c), 0);
	CHECK_EQ_INT(c.n, 3);
	CHECK_STR(c.id[0], "p1");
	CHECK_STR(c.id[1], "p3");
	CHECK_STR(c.id[2], "p2");

	CHECK_EQ_INT(store_scanner_kick(st, "s", "p3"), 0);
	CHECK_EQ_INT(store_scanner_kick(st, "s", "zz"), SB_ENOTFOUND);
	CHECK_EQ_INT(store_scanner_count(st, "s", &n), 0);
	CHECK_EQ_INT(n, 2);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_scanners_list(st, "s", scanner_cb, &c), 0);
	CHECK_EQ_INT(c.n, 2);
	CHECK_STR(c.id[1], "p2");
	CHECK_EQ_INT(store_scanner_get(st, "s", "p3", &sc), 0);
	CHECK(sc.kicked);
	CHECK_STR(sc.name, "Phöne 3");
	CHECK_EQ_INT(sc.created_at, 15);
	CHECK_EQ_INT(store_scanner_get(st, "s", "p1", &sc), 0);
	CHECK(!sc.kicked);
	CHECK_EQ_INT(store_scanner_get(st, "s", "p9", &sc), SB_ENOTFOUND);
	store_close(st);
	cleanup();
}

/* ---- group commit ---- */

static void test_group_commit(void)
{
	struct store_session ss;
	struct store *st;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);   /* autocommit */
	CHECK(!store_in_txn(st));
	CHECK_EQ_INT(store_commit(st), 0);                   /* no-op without one */
	CHECK_EQ_INT(store_begin(st), 0);
	CHECK(store_in_txn(st));
	CHECK_EQ_INT(store_begin(st), 0);                    /* idempotent */
	insert_n(st, "s", 1000);
	CHECK_EQ_INT(store_session_deliver(st, "s", 10, 5), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 0);   /* not yet visible */
	CHECK_EQ_INT(store_commit(st), 0);
	CHECK(!store_in_txn(st));
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 1000);
	store_close(st);
	st = open_ok();
	CHECK_EQ_INT(store_session_get(st, "s", &ss), 0);
	CHECK_EQ_INT(ss.last_seq, 1000);
	CHECK_EQ_INT(ss.delivered_seq, 10);
	store_close(st);
	cleanup();
}

static void test_rollback(void)
{
	struct store_session ss;
	struct store *st;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(store_begin(st), 0);
	insert_n(st, "s", 10);
	CHECK_EQ_INT(store_session_get(st, "s", &ss), 0);
	CHECK_EQ_INT(ss.last_seq, 10);                        /* own writes visible */
	store_rollback(st);
	CHECK(!store_in_txn(st));
	CHECK_EQ_INT(store_session_get(st, "s", &ss), 0);
	CHECK_EQ_INT(ss.last_seq, 0);
	store_rollback(st);                                   /* harmless twice */
	/* a batch left open is rolled back by close */
	CHECK_EQ_INT(store_begin(st), 0);
	insert_n(st, "s", 3);
	store_close(st);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 0);
	cleanup();
}

/* A failed statement in a batch (constraint, missing session) fails alone: the
 * savepoint of a multi-statement write keeps the rest of the batch intact. */
static void test_batch_survives_failed_write(void)
{
	struct store *st;
	struct sb_scan dup = mkscan(1, "c1", "X");

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(store_begin(st), 0);
	insert_n(st, "s", 2);
	CHECK_EQ_INT(store_scan_insert(st, "s", &dup), SB_EEXIST);
	CHECK_EQ_INT(store_pair_code_add(st, "pc", "nope", 10), SB_ENOTFOUND);
	CHECK_EQ_INT(store_session_deliver(st, "nope", 1, 10), SB_ENOTFOUND);
	CHECK_EQ_INT(store_pair_code_add(st, "pc", "s", 10), 0);
	CHECK(store_in_txn(st));
	CHECK_EQ_INT(store_commit(st), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 2);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM pair_codes"), 1);
	store_close(st);
	cleanup();
}

/* COMMIT itself fails (a deferred foreign key, set up behind the store's back):
 * the batch is rolled back, nothing persists, the next batch works. */
static void test_commit_failure(void)
{
	struct sb_scan poison = mkscan(2, "poison", "P");
	struct store *st;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(exec_other(
		"CREATE TABLE trap(sid TEXT REFERENCES sessions(id) DEFERRABLE INITIALLY DEFERRED);"
		"CREATE TRIGGER trap_t AFTER INSERT ON scans WHEN NEW.client_id = 'poison'"
		" BEGIN INSERT INTO trap VALUES ('no-such-session'); END;"), SQLITE_OK);
	CHECK_EQ_INT(store_begin(st), 0);
	insert_n(st, "s", 1);
	CHECK_EQ_INT(store_scan_insert(st, "s", &poison), 0);   /* deferred: fails at COMMIT */
	CHECK_EQ_INT(store_commit(st), SB_EIO);
	CHECK(!store_in_txn(st));
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 0);
	CHECK_EQ_INT(store_begin(st), 0);
	insert_n(st, "s", 3);
	CHECK_EQ_INT(store_commit(st), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 3);
	store_close(st);
	cleanup();
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Another process holds the write lock: store_begin gives up at once (the
 * event loop must not wait 5 s for it), nothing is opened, reads still work,
 * and once the lock is released the batch begins and commits. */
static void test_write_lock_held_elsewhere(void)
{
	struct store_session row;
	sqlite3 *other = NULL;
	struct store *st;
	long long t0, took;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(sqlite3_open(db_path, &other), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	t0 = mono_ms();
	CHECK_EQ_INT(store_begin(st), STORE_EBUSY);
	took = mono_ms() - t0;
	CHECK(took < 100);
	CHECK(!store_in_txn(st));
	CHECK_EQ_INT(store_session_get(st, "s", &row), 0);
	CHECK_EQ_INT(store_ping(st), 0);
	CHECK_EQ_INT(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	CHECK_EQ_INT(store_begin(st), 0);
	insert_n(st, "s", 2);
	CHECK_EQ_INT(store_commit(st), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 2);
	store_close(st);
	cleanup();
}

/* SQLite rolls the whole batch back on its own (as on disk full; simulated with
 * RAISE(ROLLBACK)): later writes of the batch fail fast and store_commit reports
 * the loss, so no earlier write of the batch gets acknowledged. */
static void test_batch_lost(void)
{
	struct sb_scan bomb = mkscan(2, "bomb", "B"), after = mkscan(3, "after", "A");
	struct store *st;
	int64_t n;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(store_session_create(st, "s", 1), 0);
	CHECK_EQ_INT(exec_other(
		"CREATE TRIGGER bomb_t BEFORE INSERT ON scans WHEN NEW.client_id = 'bomb'"
		" BEGIN SELECT RAISE(ROLLBACK, 'simulated failure'); END;"), SQLITE_OK);
	CHECK_EQ_INT(store_begin(st), 0);
	insert_n(st, "s", 1);
	CHECK_EQ_INT(store_scan_insert(st, "s", &bomb), SB_EIO);
	CHECK(strstr(store_last_error(st), "simulated failure") != NULL);
	CHECK(store_in_txn(st));
	CHECK_EQ_INT(store_scan_insert(st, "s", &after), SB_EIO);
	CHECK_EQ_INT(store_session_deliver(st, "s", 1, 5), SB_EIO);
	CHECK_EQ_INT(store_begin(st), SB_EIO);
	CHECK_EQ_INT(store_session_count(st, &n), 0);              /* reads still work */
	CHECK_EQ_INT(store_commit(st), SB_EIO);
	CHECK(!store_in_txn(st));
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 0);
	CHECK_EQ_INT(peek_int("SELECT delivered_seq FROM sessions"), 0);
	CHECK_EQ_INT(store_begin(st), 0);                          /* next batch fine */
	CHECK_EQ_INT(store_scan_insert(st, "s", &after), 0);
	CHECK_EQ_INT(store_commit(st), 0);
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 1);
	store_close(st);
	cleanup();
}

static long long file_size(const char *suffix)
{
	char p[160];
	struct stat sb;

	snprintf(p, sizeof p, "%s%s", db_path, suffix);
	return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

#define LOAD_SESSIONS 50

/* A fresh store with sessions s0..s49 for commit_scans. */
static struct store *open_with_sessions(void)
{
	struct store *st;
	char sid[8];

	fresh();
	st = open_ok();
	for (int i = 0; i < LOAD_SESSIONS; i++) {
		snprintf(sid, sizeof sid, "s%d", i);
		CHECK_EQ_INT(store_session_create(st, sid, 1), 0);
	}
	return st;
}

/* One batch per scan, as the relay commits at 1,000 scans/s, with the loop's
 * share of checkpointing done as batch_checkpoint does it. */
static void commit_scans(struct store *st, int from, int to, bool loop_checkpoints)
{
	char id[32], sid[8];

	for (int i = from; i <= to; i++) {
		snprintf(sid, sizeof sid, "s%d", i % LOAD_SESSIONS);
		snprintf(id, sizeof id, "c%d", i);
		struct sb_scan sc = mkscan(i / LOAD_SESSIONS + 1, id, "4006381333931");
		CHECK_EQ_INT(store_begin(st), 0);
		CHECK_EQ_INT(store_scan_insert(st, sid, &sc), 0);
		CHECK_EQ_INT(store_commit(st), 0);
		if (loop_checkpoints && store_checkpoint_due(st))
			CHECK_EQ_INT(store_checkpoint(st), 0);
	}
}

/* The commits themselves never copy the WAL back: the checkpoint thread does,
 * so the database file grows while the loop does nothing but commit, long
 * before the loop would be asked to checkpoint itself. */
static void test_checkpoint_thread(void)
{
	struct store *st = open_with_sessions();
	long long before;
	int n = 0;

	CHECK_EQ_INT(store_checkpoint(st), 0);
	before = file_size("");
	while (file_size("") <= before && !store_checkpoint_due(st) && n < 5000) {
		n++;
		commit_scans(st, n, n, false);
		usleep(200);
	}
	CHECK(file_size("") > before);
	CHECK(!store_checkpoint_due(st));
	store_close(st);
	CHECK_EQ_INT(file_size("-wal"), -1);   /* the last close removed it */
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), n);
	cleanup();
}

/* Commits landing while the thread copies keep the WAL from wrapping to its
 * start; the loop's own checkpoint past 4,096 pages bounds it, and past 8,192
 * it waits for the thread's instead of giving up (plus the frames of the
 * commits in between: 1 MiB of slack). */
static void test_wal_bounded_under_sustained_commits(void)
{
	struct store *st = open_with_sessions();

	commit_scans(st, 1, 20000, true);  /* ~50,000 WAL pages, ~200 MiB */
	CHECK(file_size("-wal") > 0);
	CHECK(file_size("-wal") <= (8192LL + 256) * (4096 + 24));
	CHECK_EQ_INT(peek_int("SELECT count(*) FROM scans"), 20000);
	store_close(st);
	cleanup();
}

/* The queries the daemon runs often use the indexes meant for them. */
static void test_query_plans(void)
{
	static const char *const q[][2] = {
		/* store_purge: the deliveries due, then their deletion */
		{ "EXPLAIN QUERY PLAN SELECT session_id, MAX(seq) FROM deliveries WHERE at <= 5"
		  " GROUP BY session_id", "deliveries_at" },
		{ "EXPLAIN QUERY PLAN DELETE FROM deliveries WHERE at <= 5", "deliveries_at" },
		{ "EXPLAIN QUERY PLAN DELETE FROM ended_sessions WHERE keep_until <= 1",
		  "ended_sessions_keep_until" },
		/* a scan is read, stamped and deleted by the rowid the scan index
		 * holds (schema/005) */
		{ "EXPLAIN QUERY PLAN SELECT code FROM scans WHERE id = 3", "INTEGER PRIMARY KEY" },
		{ "EXPLAIN QUERY PLAN UPDATE scans SET code = NULL WHERE id = 3"
		  " AND code IS NOT NULL", "INTEGER PRIMARY KEY" },
		{ "EXPLAIN QUERY PLAN DELETE FROM scans WHERE id = 3", "INTEGER PRIMARY KEY" },
		/* store_pair_codes_purge: both sides of the OR are searches */
		{ "EXPLAIN QUERY PLAN DELETE FROM pair_codes WHERE expires_at <= 1 OR used = 1",
		  "pair_codes_expires_at" },
		{ "EXPLAIN QUERY PLAN DELETE FROM pair_codes WHERE expires_at <= 1 OR used = 1",
		  "pair_codes_used" },
		/* store_pair_codes_retire */
		{ "EXPLAIN QUERY PLAN DELETE FROM pair_codes WHERE session_id = 's' AND rowid"
		  " NOT IN (SELECT rowid FROM pair_codes WHERE session_id = 's' AND used = 0"
		  " AND expires_at > 1 ORDER BY rowid DESC LIMIT 7)", "pair_codes_session" },
	};
	struct store *st;
	sqlite3 *db = NULL;

	fresh();
	st = open_ok();
	CHECK_EQ_INT(sqlite3_open(db_path, &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
		sqlite3_stmt *s = NULL;
		bool found = false;

		CHECK_EQ_INT(sqlite3_prepare_v2(db, q[i][0], -1, &s, NULL), SQLITE_OK);
		while (sqlite3_step(s) == SQLITE_ROW)
			found |= strstr((const char *)sqlite3_column_text(s, 3), q[i][1]) != NULL;
		if (!found)
			fprintf(stderr, "plan of \"%s\" does not use %s\n", q[i][0], q[i][1]);
		CHECK(found);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	store_close(st);
	cleanup();
}

TEST_MAIN(TEST(test_open_migrate_reopen), TEST(test_migration_4_keeps_scans),
	  TEST(test_migration_5_scans_by_rowid), TEST(test_scan_index_follows_batches), TEST(test_journal_mode_wal),
	  TEST(test_newer_schema_refused), TEST(test_garbage_file_refused),
	  TEST(test_unopenable_path), TEST(test_durability),
	  TEST(test_session_create_get), TEST(test_last_seq_derived),
	  TEST(test_scan_insert_find), TEST(test_scan_duplicates), TEST(test_scans_after),
	  TEST(test_deliver_purge_tombstones), TEST(test_scans_span),
	  TEST(test_sessions_each),
	  TEST(test_session_end), TEST(test_pair_codes), TEST(test_pair_codes_retire),
	  TEST(test_pair_codes_purge), TEST(test_scanners),
	  TEST(test_group_commit), TEST(test_rollback),
	  TEST(test_batch_survives_failed_write), TEST(test_commit_failure),
	  TEST(test_write_lock_held_elsewhere),
	  TEST(test_batch_lost), TEST(test_checkpoint_thread),
	  TEST(test_wal_bounded_under_sustained_commits), TEST(test_query_plans))
