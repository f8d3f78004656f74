/* SPDX-License-Identifier: MIT */
/* The store: scanbridge's SQLite database (WAL) behind the functions of store.h.
 * store_open applies the embedded migrations and prepares every statement once
 * (a table of SQL indexed by enum stmt); each call binds, steps and resets its
 * statement and maps SQLite's result to an sb_err code. Writes go into the one
 * batch transaction the caller opens with store_begin and ends with store_commit
 * (group commit); they also work in autocommit. If SQLite rolls the batch back
 * on its own (disk full, I/O error), later writes of the batch fail fast and
 * store_commit reports the loss, so the caller never acknowledges a lost write. */
#include "store.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "barcode.h"
#include "sb_err.h"
#include "scan_index.h"
#include "wal_checkpointer.h"

/* Generated from schema/NNN_*.sql by cmake/embed_schema.cmake. */
extern const char *const store_migrations[];
extern const int store_migration_count;

/* While store_open migrates, nothing is served yet: it may wait for a lock.
 * Afterwards the connection belongs to the event loop, which must never stall
 * on one (a held write lock made every client wait 5 s): BEGIN IMMEDIATE gives
 * up after a few ms with STORE_EBUSY and the session layer retries it from a
 * timer. The few ms still cover a WAL read lock's brief contention. */
#define OPEN_BUSY_TIMEOUT_MS 5000
#define LOOP_BUSY_TIMEOUT_MS 2
/* Past this many WAL pages the checkpointer thread (wal_checkpointer.c) is
 * asked to copy the WAL back into the database. SQLite would otherwise run the
 * checkpoint inside the COMMIT that crosses its threshold, on the event loop,
 * holding back that batch's answers and every scan arriving meanwhile: that
 * was the whole of the relay's latency tail (docs/benchmarks.md). */
#define WAL_CHECKPOINT_PAGES 1024
/* A commit landing while the thread copies keeps the WAL from wrapping to its
 * start; under sustained load that is every time, and the WAL would grow
 * without end. Past this many pages the thread is no longer asked and the loop
 * checkpoints between its own batches (store_checkpoint_due): most of the WAL
 * is copied back by then, what is left is what came in meanwhile. Past the
 * hard limit the loop's checkpoint waits for the thread's to end instead of
 * giving up (it did, on a saturated machine, and the WAL grew past 4 MiB).
 * Bigger thresholds copy a page rewritten by many commits once, and stall
 * the loop less often: at 100 sessions x 2 scanners the loop checkpointed
 * 194 times per 10 s at 256 / 1,024 pages (1.0 s), 39 times at 1,024 / 8,192
 * (0.12 s) (docs/benchmarks.md, Performance II). */
#define WAL_LOOP_PAGES 4096
#define WAL_HARD_PAGES (2 * WAL_LOOP_PAGES)
#define WAL_HARD_WAIT_MS 1000

enum stmt {
	S_BEGIN, S_BEGIN_READ, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
	S_PING,
	S_SESSION_CREATE, S_SESSION_GET, S_SESSION_EXISTS, S_SESSION_TOUCH, S_SESSION_RENEW,
	S_SESSION_DELIVERED, S_SESSION_DELIVER, S_DELIVERY_ADD, S_SESSION_DELETE, S_SESSIONS_ALL, S_SESSION_COUNT,
	S_ENDED_PUT, S_ENDED_GET, S_ENDED_PURGE,
	S_PAIR_ADD, S_PAIR_LAST, S_PAIR_TAKE, S_PAIR_VALID, S_PAIR_RETIRE, S_PAIR_PURGE,
	S_SCANNER_ADD, S_SCANNER_GET, S_SCANNER_KICK, S_SCANNER_COUNT, S_SCANNERS_LIST,
	S_SCAN_INSERT, S_SCAN_ROW, S_SCAN_KEYS, S_SCAN_DELETE,
	S_PURGE_DUE, S_SESSION_PURGED, S_SCAN_PURGE, S_SESSION_PURGED_SET, S_DELIVERIES_DROP,
	S_COUNT
};

/* Columns read by row_to_scan, in this order; S_SCAN_ROW adds a flag. */
#define SCAN_COLS "seq, client_id, code, format, scanner_id, scanned_at, received_at"

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT store_op",
	[S_RELEASE] = "RELEASE store_op",
	[S_ROLLBACK_TO] = "ROLLBACK TO store_op",
	[S_PING] = "SELECT 1 FROM sessions LIMIT 1",
	[S_SESSION_CREATE] =
		"INSERT INTO sessions(id, created_at, last_activity) VALUES (?1, ?2, ?2)",
	[S_SESSION_GET] =
		"SELECT created_at, last_activity, delivered_seq, last_pair_code"
		" FROM sessions WHERE id = ?1",
	[S_SESSION_EXISTS] = "SELECT 1 FROM sessions WHERE id = ?1",
	[S_SESSION_TOUCH] = "UPDATE sessions SET last_activity = ?2 WHERE id = ?1",
	[S_SESSION_RENEW] = "UPDATE sessions SET created_at = ?2 WHERE id = ?1",
	[S_SESSION_DELIVERED] = "SELECT delivered_seq FROM sessions WHERE id = ?1",
	[S_SESSION_DELIVER] =
		"UPDATE sessions SET delivered_seq = MAX(delivered_seq, ?2) WHERE id = ?1",
	/* An ack is one row (schema/005), not a stamp on each scan it covers. */
	[S_DELIVERY_ADD] = "INSERT INTO deliveries(session_id, seq, at) VALUES (?1, ?2, ?3)",
	[S_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1",
	[S_SESSIONS_ALL] = "SELECT id FROM sessions",
	[S_SESSION_COUNT] = "SELECT count(*) FROM sessions",
	[S_ENDED_PUT] =
		"INSERT OR REPLACE INTO ended_sessions(id, reason, keep_until) VALUES (?1, ?2, ?3)",
	[S_ENDED_GET] = "SELECT reason FROM ended_sessions WHERE id = ?1",
	[S_ENDED_PURGE] = "DELETE FROM ended_sessions WHERE keep_until <= ?1",
	[S_PAIR_ADD] =
		"INSERT INTO pair_codes(code, session_id, expires_at) VALUES (?1, ?2, ?3)",
	[S_PAIR_LAST] = "UPDATE sessions SET last_pair_code = ?2 WHERE id = ?1",
	[S_PAIR_TAKE] =
		"UPDATE pair_codes SET used = 1 WHERE code = ?1 AND used = 0 AND expires_at > ?2"
		" RETURNING session_id",
	[S_PAIR_VALID] =
		"SELECT session_id FROM pair_codes WHERE code = ?1 AND used = 0 AND expires_at > ?2",
	/* Keeps the ?3 newest live codes of session ?1 and drops the rest (used,
	 * expired, older unused): rowid order is issue order, as an insert takes
	 * a rowid above every existing one. Visits pair_codes_session only. */
	[S_PAIR_RETIRE] =
		"DELETE FROM pair_codes WHERE session_id = ?1 AND rowid NOT IN"
		" (SELECT rowid FROM pair_codes WHERE session_id = ?1 AND used = 0"
		" AND expires_at > ?2 ORDER BY rowid DESC LIMIT ?3)",
	/* pair_codes_expires_at OR pair_codes_used (migration 3) */
	[S_PAIR_PURGE] = "DELETE FROM pair_codes WHERE expires_at <= ?1 OR used = 1",
	[S_SCANNER_ADD] =
		"INSERT INTO scanners(session_id, id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
	[S_SCANNER_GET] =
		"SELECT id, name, created_at, kicked FROM scanners WHERE session_id = ?1 AND id = ?2",
	[S_SCANNER_KICK] = "UPDATE scanners SET kicked = 1 WHERE session_id = ?1 AND id = ?2",
	[S_SCANNER_COUNT] =
		"SELECT count(*) FROM scanners WHERE session_id = ?1 AND kicked = 0",
	[S_SCANNERS_LIST] =
		"SELECT id, name, created_at, kicked FROM scanners"
		" WHERE session_id = ?1 AND kicked = 0 ORDER BY created_at, id",
	[S_SCAN_INSERT] =
		"INSERT INTO scans(session_id, seq, client_id, code, format, scanner_id,"
		" scanned_at, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	/* Scans are found through the scan index (scan_index.h), by rowid. */
	[S_SCAN_ROW] =
		"SELECT " SCAN_COLS ", code IS NULL FROM scans WHERE id = ?1",
	/* S_SCAN_ROW's layout with only what ids and receipts read: a scan's
	 * seq, client id and scanner */
	[S_SCAN_KEYS] =
		"SELECT seq, client_id, NULL, NULL, scanner_id, NULL, 0, code IS NULL FROM scans"
		" WHERE id = ?1",
	[S_SCAN_DELETE] = "DELETE FROM scans WHERE id = ?1",
	/* The purge: per session, the highest seq delivered long enough ago
	 * (deliveries_at), its scans from purged_seq on, then those rows. */
	[S_PURGE_DUE] =
		"SELECT session_id, MAX(seq) FROM deliveries WHERE at <= ?1 GROUP BY session_id",
	[S_SESSION_PURGED] = "SELECT purged_seq FROM sessions WHERE id = ?1",
	[S_SCAN_PURGE] = "UPDATE scans SET code = NULL WHERE id = ?1 AND code IS NOT NULL",
	[S_SESSION_PURGED_SET] =
		"UPDATE sessions SET purged_seq = MAX(purged_seq, ?2) WHERE id = ?1",
	[S_DELIVERIES_DROP] = "DELETE FROM deliveries WHERE at <= ?1",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	bool in_txn;           /* store_begin opened the batch, not yet ended */
	int batch_err;         /* SQLite rolled the open batch back: why (sb_err) */
	int pending_sync;      /* durability asked for inside a batch, or -1 */
	int wal_pages;         /* pages in the WAL after the last commit */
	struct wal_checkpointer *ckpt;
	struct scan_index ix;  /* each session's seq -> rowid (schema/005) */
	char last_err[256];    /* sqlite3_errmsg of the last failure */
};

/* ---- small helpers ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return SB_EFULL;
	case SQLITE_NOMEM:
		return SB_ENOMEM;
	case SQLITE_BUSY:
		return STORE_EBUSY;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
			return SB_EEXIST;
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return SB_ENOTFOUND;   /* the referenced session does not exist */
		return SB_EIO;
	default:
		return SB_EIO;
	}
}

/* Records a failed step and maps it. If SQLite ended the batch on its own,
 * remembers that so the rest of the batch fails and store_commit reports it. */
static int fail(struct store *st, int rc)
{
	int err = map_rc(rc);

	snprintf(st->last_err, sizeof st->last_err, "%s", sqlite3_errmsg(st->db));
	if (st->in_txn && !st->batch_err && sqlite3_get_autocommit(st->db))
		st->batch_err = err == SB_EFULL ? SB_EFULL : SB_EIO;
	return err;
}

/* Steps s once: 1 on a row, 0 when done, else an sb_err. bind_rc is the OR of
 * the statement's bind results (nonzero: a bind failed, s is not stepped). */
static int step(struct store *st, sqlite3_stmt *s, int bind_rc)
{
	int rc = bind_rc != SQLITE_OK ? SQLITE_ERROR : sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return fail(st, rc);
}

static int reset(sqlite3_stmt *s, int rc)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

/* Runs a statement to completion (at most one row expected): 0 or an sb_err. */
static int run(struct store *st, sqlite3_stmt *s, int bind_rc)
{
	int rc = step(st, s, bind_rc);

	while (rc == 1)
		rc = step(st, s, SQLITE_OK);
	return reset(s, rc);
}

static void run_quiet(struct store *st, enum stmt id)
{
	sqlite3_step(st->stmt[id]);
	reset(st->stmt[id], 0);
}

static int bt(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static int bi(sqlite3_stmt *s, int i, int64_t v)
{
	return sqlite3_bind_int64(s, i, v);
}

/* Copies text column i into dst (NULL reads as ""), truncating to fit. */
static void col_text(char *dst, size_t size, sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(s, i) : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

/* A required string that fits a buffer of size bytes (with its NUL). */
static bool fits(const char *s, size_t size)
{
	return s && strnlen(s, size) < size;
}

/* Write functions refuse to run once SQLite has dropped the open batch: their
 * effect would outlive the batch the caller is about to see fail. */
static int batch_lost(const struct store *st)
{
	return st->in_txn ? st->batch_err : 0;
}

/* Multi-statement writes run inside a savepoint so they apply whole or not at
 * all, in a batch as in autocommit. */
static int op_begin(struct store *st)
{
	int rc = batch_lost(st);

	return rc ? rc : run(st, st->stmt[S_SAVEPOINT], SQLITE_OK);
}

/* Ends the savepoint op_begin opened: releases it, or on rc != 0 undoes it. */
static int op_end(struct store *st, int rc)
{
	if (rc == 0)
		rc = run(st, st->stmt[S_RELEASE], SQLITE_OK);
	if (rc != 0 && !sqlite3_get_autocommit(st->db)) {
		run_quiet(st, S_ROLLBACK_TO);
		run_quiet(st, S_RELEASE);
		if (!st->in_txn && !sqlite3_get_autocommit(st->db))
			run_quiet(st, S_ROLLBACK);
	}
	return rc;
}

/* ---- opening ---- */

/* Runs a one-off statement; copies the first column of its first row (if any)
 * into out. Returns the SQLite result. */
static int query_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (out)
		out[0] = '\0';
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && out)
		col_text(out, size, s, 0);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(s);
	return rc;
}

static int check_is_db(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int rc = query_text(db, "SELECT count(*) FROM sqlite_schema", NULL, 0);

	if (rc == SQLITE_OK)
		return 0;
	if ((rc & 0xff) == SQLITE_NOTADB)
		set_err(err, errlen, "%s is not a database", path);
	else
		set_err(err, errlen, "cannot read %s: %s", path, sqlite3_errmsg(db));
	return SB_EIO;
}

static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *st = arg;

	(void)db;
	(void)name;
	st->wal_pages = pages;
	/* no thread yet while store_open migrates: the loop's share covers it */
	if (st->ckpt && pages >= WAL_CHECKPOINT_PAGES && pages < WAL_LOOP_PAGES)
		wal_checkpointer_kick(st->ckpt);
	return SQLITE_OK;
}

static int set_pragmas(struct store *st, enum sb_durability d, char *err, size_t errlen)
{
	char v[16];

	if (query_text(st->db, "PRAGMA journal_mode = WAL", v, sizeof v) != SQLITE_OK
	    || strcmp(v, "wal") != 0) {
		set_err(err, errlen, "cannot enable WAL (journal_mode is '%s'): %s", v,
			sqlite3_errmsg(st->db));
		return SB_EIO;
	}
	if (query_text(st->db, "PRAGMA foreign_keys = ON", NULL, 0) != SQLITE_OK
	    || query_text(st->db, "PRAGMA foreign_keys", v, sizeof v) != SQLITE_OK
	    || strcmp(v, "1") != 0) {
		set_err(err, errlen, "cannot enable foreign keys: %s", sqlite3_errmsg(st->db));
		return SB_EIO;
	}
	sqlite3_wal_hook(st->db, on_wal_commit, st); /* replaces autocheckpoint */
	if (store_set_durability(st, d) != 0) {
		set_err(err, errlen, "cannot set synchronous: %s", sqlite3_errmsg(st->db));
		return SB_EIO;
	}
	return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Applies migration number v (0-based) and sets user_version = v + 1; the caller
 * holds the write transaction. */
static int apply_migration(sqlite3 *db, int v, char *err, size_t errlen)
{
	char sql[64];

	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
	if (exec(db, store_migrations[v]) != SQLITE_OK || exec(db, sql) != SQLITE_OK) {
		set_err(err, errlen, "schema migration %d failed: %s", v + 1, sqlite3_errmsg(db));
		return SB_EIO;
	}
	return 0;
}

/* One step of migrating, in its own transaction: reads user_version and applies
 * the next migration. Sets *done when the schema is current. */
static int migrate_step(sqlite3 *db, bool *done, char *err, size_t errlen)
{
	char v[32];
	int version, rc = 0;

	if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK
	    || query_text(db, "PRAGMA user_version", v, sizeof v) != SQLITE_OK) {
		set_err(err, errlen, "cannot read schema version: %s", sqlite3_errmsg(db));
		rc = SB_EIO;
		goto out;
	}
	version = atoi(v);
	*done = version >= store_migration_count;
	if (version > store_migration_count) {
		set_err(err, errlen, "database schema version %d is newer than this "
			"scanbridged (%d); upgrade scanbridged", version, store_migration_count);
		rc = SB_ESCHEMA;
	} else if (!*done) {
		rc = apply_migration(db, version, err, errlen);
	}
	if (rc == 0 && exec(db, "COMMIT") != SQLITE_OK) {
		set_err(err, errlen, "cannot commit schema migration: %s", sqlite3_errmsg(db));
		rc = map_rc(sqlite3_extended_errcode(db)) == SB_EFULL ? SB_EFULL : SB_EIO;
	}
out:
	if (!sqlite3_get_autocommit(db))
		exec(db, "ROLLBACK");
	return rc;
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	bool done = false;
	int rc = 0;

	while (rc == 0 && !done)
		rc = migrate_step(db, &done, err, errlen);
	return rc;
}

static int prepare_all(struct store *st, char *err, size_t errlen)
{
	for (int i = 0; i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &st->stmt[i], NULL) != SQLITE_OK) {
			set_err(err, errlen, "cannot prepare statement %d: %s", i,
				sqlite3_errmsg(st->db));
			return SB_EIO;
		}
	}
	return 0;
}

/* Adds one stored row to the scan index: 0, SB_ENOMEM, or why it does not
 * fit (scan_index_reserve). */
static int index_row(struct scan_index *ix, const char *sid, int64_t seq, int64_t rowid)
{
	struct scan_run *scans = sid ? scan_index_find(ix, sid) : NULL;
	int rc;

	if (!sid)
		return SB_EINVAL;
	if (!scans && !(scans = scan_index_add(ix, sid)))
		return SB_ENOMEM;
	if ((rc = scan_index_reserve(ix, scans, seq)) == 0)
		scan_index_put(ix, scans, seq, rowid);
	return rc;
}

/* Fills the scan index from the table in rowid order, which is each
 * session's seq order: migration 5 copied the rows so, and inserts append.
 * A row that does not fit (a seq stored twice or out of order, which this
 * store never writes) stays in the table, unseen. */
static int load_index(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "SELECT id, session_id, seq FROM scans", -1, &s, NULL);

	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		int put = index_row(&st->ix, (const char *)sqlite3_column_text(s, 1),
				    sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 0));

		rc = put == SB_ENOMEM ? SQLITE_NOMEM : SQLITE_OK;
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return 0;
	set_err(err, errlen, "cannot read the scans' index: %s", sqlite3_errstr(rc));
	return rc == SQLITE_NOMEM ? SB_ENOMEM : SB_EIO;
}

int store_open(struct store **out, const char *path, enum sb_durability d,
	       char *err, size_t errlen)
{
	struct store *st = calloc(1, sizeof *st);
	int rc;

	*out = NULL;
	if (!st) {
		set_err(err, errlen, "out of memory");
		return SB_ENOMEM;
	}
	st->pending_sync = -1;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
			    | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		set_err(err, errlen, "cannot open %s: %s", path,
			st->db ? sqlite3_errmsg(st->db) : "out of memory");
		rc = SB_EIO;
		goto bad;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, OPEN_BUSY_TIMEOUT_MS);
	if ((rc = check_is_db(st->db, path, err, errlen)) != 0
	    || (rc = set_pragmas(st, d, err, errlen)) != 0
	    || (rc = migrate(st->db, err, errlen)) != 0
	    || (rc = prepare_all(st, err, errlen)) != 0
	    || (rc = load_index(st, err, errlen)) != 0)
		goto bad;
	if ((rc = wal_checkpointer_start(&st->ckpt, path)) != 0) {
		set_err(err, errlen, "cannot start the WAL checkpointer: %s", sb_strerror(rc));
		goto bad;
	}
	sqlite3_busy_timeout(st->db, LOOP_BUSY_TIMEOUT_MS);
	*out = st;
	return 0;
bad:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	wal_checkpointer_stop(st->ckpt); /* closed first: the last close cleans the WAL up */
	if (st->db && !sqlite3_get_autocommit(st->db))
		exec(st->db, "ROLLBACK");
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	scan_index_free(&st->ix);
	free(st);
}

int store_schema_version(void)
{
	return store_migration_count;
}

const char *const store_durability_names[] = { "normal", "full", NULL };

const char *store_durability_name(enum sb_durability d)
{
	return (unsigned)d <= SB_DURABILITY_FULL ? store_durability_names[d] : "?";
}

/* SQLite refuses to change synchronous inside a transaction: then the change
 * waits for the batch to end (apply_pending_sync). */
int store_set_durability(struct store *st, enum sb_durability d)
{
	const char *sql = d == SB_DURABILITY_FULL ? "PRAGMA synchronous = FULL"
						  : "PRAGMA synchronous = NORMAL";

	if (!sqlite3_get_autocommit(st->db)) {
		st->pending_sync = (int)d;
		return 0;
	}
	st->pending_sync = -1;
	return exec(st->db, sql) == SQLITE_OK ? 0 : SB_EIO;
}

static void end_batch(struct store *st)
{
	st->in_txn = false;
	st->batch_err = 0;
	if (st->pending_sync >= 0)
		store_set_durability(st, (enum sb_durability)st->pending_sync);
}

const char *store_last_error(const struct store *st)
{
	return st->last_err;
}

/* ---- group commit ---- */

int store_begin(struct store *st)
{
	int rc;

	if (st->in_txn) {
		if (!st->batch_err && sqlite3_get_autocommit(st->db))
			st->batch_err = SB_EIO;   /* the batch vanished unnoticed */
		return st->batch_err;
	}
	st->batch_err = 0;
	if (!sqlite3_get_autocommit(st->db)) {
		st->in_txn = true;        /* already in one: adopt it */
		scan_index_begin(&st->ix);
		return 0;
	}
	rc = run(st, st->stmt[S_BEGIN], SQLITE_OK);
	st->in_txn = rc == 0;
	if (st->in_txn)
		scan_index_begin(&st->ix);
	return rc;
}

int store_commit(struct store *st)
{
	int rc;

	if (!st->in_txn)
		return 0;
	rc = st->batch_err;
	if (rc == 0 && sqlite3_get_autocommit(st->db))
		rc = SB_EIO;
	if (rc == 0)
		rc = run(st, st->stmt[S_COMMIT], SQLITE_OK);
	if (rc == STORE_EBUSY && !sqlite3_get_autocommit(st->db))
		return rc;   /* still open: SQLite lets the COMMIT be retried */
	if (rc != 0 && !sqlite3_get_autocommit(st->db))
		run_quiet(st, S_ROLLBACK);
	if (rc == 0)
		scan_index_commit(&st->ix);
	else
		scan_index_rollback(&st->ix);
	end_batch(st);
	return rc == 0 || rc == SB_EFULL ? rc : SB_EIO;
}

void store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		run_quiet(st, S_ROLLBACK);
	scan_index_rollback(&st->ix);
	end_batch(st);
}

bool store_in_txn(const struct store *st)
{
	return st->in_txn;
}

bool store_checkpoint_due(const struct store *st)
{
	return !st->in_txn && st->wal_pages >= WAL_LOOP_PAGES;
}

/* PASSIVE, like SQLite's own automatic checkpoint: it never waits on a lock
 * (SQLITE_BUSY while the thread finishes one: the next pass tries again). The WAL
 * restarts from its start at the next commit once all of it is back. */
int store_checkpoint(struct store *st)
{
	bool hard = st->wal_pages >= WAL_HARD_PAGES;
	int logged = 0, copied = 0;
	int rc;

	if (st->in_txn)
		return 0;
	if (hard)
		sqlite3_busy_timeout(st->db, WAL_HARD_WAIT_MS);
	rc = sqlite3_wal_checkpoint_v2(st->db, NULL, hard ? SQLITE_CHECKPOINT_FULL
				       : SQLITE_CHECKPOINT_PASSIVE, &logged, &copied);
	if (hard)
		sqlite3_busy_timeout(st->db, LOOP_BUSY_TIMEOUT_MS);
	if ((rc & 0xff) == SQLITE_BUSY)
		return 0;
	if (rc != SQLITE_OK) {
		snprintf(st->last_err, sizeof st->last_err, "%s", sqlite3_errmsg(st->db));
		return (rc & 0xff) == SQLITE_FULL ? SB_EFULL : SB_EIO;
	}
	st->wal_pages = copied >= logged ? 0 : logged - copied;
	return 0;
}

void store_release_memory(struct store *st)
{
	sqlite3_db_release_memory(st->db);
}

int store_ping(struct store *st)
{
	return run(st, st->stmt[S_PING], SQLITE_OK) == 0 ? 0 : SB_EIO;
}

/* ---- sessions ---- */

int store_session_create(struct store *st, const char *sid, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_SESSION_CREATE];
	int rc = batch_lost(st);

	if (rc)
		return rc;
	if (!fits(sid, SB_ID_MAX))
		return SB_EINVAL;
	return run(st, s, bt(s, 1, sid) | bi(s, 2, now));
}

int store_session_get(struct store *st, const char *sid, struct store_session *out)
{
	sqlite3_stmt *s = st->stmt[S_SESSION_GET];
	int rc = step(st, s, bt(s, 1, sid));

	if (rc == 1) {
		snprintf(out->id, sizeof out->id, "%s", sid);
		out->created_at = sqlite3_column_int64(s, 0);
		out->last_activity = sqlite3_column_int64(s, 1);
		out->delivered_seq = sqlite3_column_int64(s, 2);
		col_text(out->last_pair_code, sizeof out->last_pair_code, s, 3);
		out->last_seq = scan_run_last(scan_index_find(&st->ix, sid));
		rc = 0;
	} else if (rc == 0) {
		rc = SB_ENOTFOUND;
	}
	return reset(s, rc);
}

/* Runs a single UPDATE; SB_ENOTFOUND if it matched no row. */
static int update_one(struct store *st, sqlite3_stmt *s, int bind_rc)
{
	int rc = batch_lost(st);

	if (rc)
		return reset(s, rc);
	rc = run(st, s, bind_rc);
	if (rc == 0 && sqlite3_changes64(st->db) == 0)
		rc = SB_ENOTFOUND;
	return rc;
}

int store_session_touch(struct store *st, const char *sid, int64_t last_activity)
{
	sqlite3_stmt *s = st->stmt[S_SESSION_TOUCH];

	return update_one(st, s, bt(s, 1, sid) | bi(s, 2, last_activity));
}

int store_session_renew(struct store *st, const char *sid, int64_t created_at)
{
	sqlite3_stmt *s = st->stmt[S_SESSION_RENEW];

	return update_one(st, s, bt(s, 1, sid) | bi(s, 2, created_at));
}

/* The value of a one-column, one-row query of sid's session; SB_ENOTFOUND
 * if there is no such session. */
static int session_int(struct store *st, enum stmt id, const char *sid, int64_t *out)
{
	sqlite3_stmt *s = st->stmt[id];
	int rc = step(st, s, bt(s, 1, sid));

	if (rc == 1) {
		*out = sqlite3_column_int64(s, 0);
		rc = 0;
	} else if (rc == 0) {
		rc = SB_ENOTFOUND;
	}
	return reset(s, rc);
}

/* The seqs from < seq <= to that scans (NULL: none) can hold: *lo..*hi. */
static void seq_span(const struct scan_run *scans, int64_t from, int64_t to,
		     int64_t *lo, int64_t *hi)
{
	int64_t first = scan_run_first(scans), last = scan_run_last(scans);

	*lo = from >= first ? from + 1 : first;
	*hi = to < last ? to : last;
}

/* Runs s with its ?1 bound to the rowid of each of sid's scans from < seq
 * <= to, in seq order; adds the rows it changed to *changed (NULL: not
 * counted). */
static int run_by_rowid(struct store *st, const char *sid, int64_t from, int64_t to,
			sqlite3_stmt *s, int64_t *changed)
{
	const struct scan_run *scans = scan_index_find(&st->ix, sid);
	int64_t lo, hi;
	int rc = 0;

	seq_span(scans, from, to, &lo, &hi);
	for (int64_t q = lo; rc == 0 && q <= hi; q++) {
		int64_t rowid = scan_run_rowid(scans, q);

		if (rowid && (rc = run(st, s, bi(s, 1, rowid))) == 0 && changed)
			*changed += sqlite3_changes64(st->db);
	}
	return rc;
}

int store_session_deliver(struct store *st, const char *sid, int64_t seq, int64_t now)
{
	sqlite3_stmt *sess = st->stmt[S_SESSION_DELIVER];
	sqlite3_stmt *add = st->stmt[S_DELIVERY_ADD];
	int rc = op_begin(st);

	if (rc)
		return rc;
	rc = update_one(st, sess, bt(sess, 1, sid) | bi(sess, 2, seq));
	if (rc == 0)
		rc = run(st, add, bt(add, 1, sid) | bi(add, 2, seq) | bi(add, 3, now));
	return op_end(st, rc);
}

int store_session_end(struct store *st, const char *sid, enum store_end_reason why,
		      int64_t now, int64_t keep_ms)
{
	sqlite3_stmt *del = st->stmt[S_SESSION_DELETE];
	sqlite3_stmt *put = st->stmt[S_ENDED_PUT];
	int rc = op_begin(st);

	if (rc)
		return rc;
	/* by rowid: there is no index for a cascade to search */
	rc = run_by_rowid(st, sid, 0, INT64_MAX, st->stmt[S_SCAN_DELETE], NULL);
	if (rc == 0)
		rc = run(st, del, bt(del, 1, sid));
	if (rc == 0)
		rc = run(st, put, bt(put, 1, sid) | bi(put, 2, why) | bi(put, 3, now + keep_ms));
	if (rc == 0)
		rc = scan_index_drop(&st->ix, sid);
	return op_end(st, rc);
}

int store_session_end_reason(struct store *st, const char *sid)
{
	sqlite3_stmt *s = st->stmt[S_ENDED_GET];
	int rc = step(st, s, bt(s, 1, sid));

	if (rc == 1)
		rc = (int)sqlite3_column_int64(s, 0);
	else if (rc == 0)
		rc = SB_ENOTFOUND;
	return reset(s, rc);
}

int store_sessions_each(struct store *st, store_sid_fn fn, void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_SESSIONS_ALL];
	int rc = step(st, s, SQLITE_OK);

	for (; rc == 1; rc = step(st, s, SQLITE_OK))
		fn((const char *)sqlite3_column_text(s, 0), ctx);
	return reset(s, rc);
}

/* Runs a SELECT count(*)-like statement into *n. */
static int count(struct store *st, sqlite3_stmt *s, int bind_rc, int64_t *n)
{
	int rc = step(st, s, bind_rc);

	if (rc == 1) {
		*n = sqlite3_column_int64(s, 0);
		rc = 0;
	} else if (rc == 0) {
		rc = SB_EIO;
	}
	return reset(s, rc);
}

int store_session_count(struct store *st, int64_t *n)
{
	return count(st, st->stmt[S_SESSION_COUNT], SQLITE_OK, n);
}

/* ---- pair codes ---- */

int store_pair_code_add(struct store *st, const char *code, const char *sid, int64_t expires_at)
{
	sqlite3_stmt *add = st->stmt[S_PAIR_ADD];
	sqlite3_stmt *last = st->stmt[S_PAIR_LAST];
	int rc;

	if (!fits(code, SB_ID_MAX) || !fits(sid, SB_ID_MAX))
		return SB_EINVAL;
	rc = op_begin(st);
	if (rc)
		return rc;
	rc = run(st, add, bt(add, 1, code) | bt(add, 2, sid) | bi(add, 3, expires_at));
	if (rc == 0)
		rc = update_one(st, last, bt(last, 1, sid) | bt(last, 2, code));
	return op_end(st, rc);
}

int store_pair_code_take(struct store *st, const char *code, int64_t now, char sid_out[SB_ID_MAX])
{
	sqlite3_stmt *s = st->stmt[S_PAIR_TAKE];
	int rc = batch_lost(st);

	if (rc)
		return rc;
	rc = step(st, s, bt(s, 1, code) | bi(s, 2, now));
	if (rc == 1) {
		col_text(sid_out, SB_ID_MAX, s, 0);
		rc = step(st, s, SQLITE_OK);   /* finish the UPDATE */
	} else if (rc == 0) {
		rc = SB_ENOTFOUND;
	}
	return reset(s, rc);
}

int store_pair_code_peek(struct store *st, const char *code, int64_t now, char sid_out[SB_ID_MAX])
{
	sqlite3_stmt *s = st->stmt[S_PAIR_VALID];
	int rc = step(st, s, bt(s, 1, code) | bi(s, 2, now));

	if (rc == 1) {
		if (sid_out)
			col_text(sid_out, SB_ID_MAX, s, 0);
		rc = 0;
	} else if (rc == 0) {
		rc = SB_ENOTFOUND;
	}
	return reset(s, rc);
}

int store_pair_code_valid(struct store *st, const char *code, int64_t now)
{
	return store_pair_code_peek(st, code, now, NULL);
}

int store_pair_codes_retire(struct store *st, const char *sid, int64_t now, int keep)
{
	sqlite3_stmt *s = st->stmt[S_PAIR_RETIRE];
	int rc = batch_lost(st);

	if (rc)
		return rc;
	return run(st, s, bt(s, 1, sid) | bi(s, 2, now) | bi(s, 3, keep > 0 ? keep : 0));
}

int store_pair_codes_purge(struct store *st, int64_t now, int64_t *n)
{
	sqlite3_stmt *s = st->stmt[S_PAIR_PURGE];
	int rc = batch_lost(st);

	if (rc == 0)
		rc = run(st, s, bi(s, 1, now));
	if (n)
		*n = rc == 0 ? sqlite3_changes64(st->db) : 0;
	return rc;
}

/* ---- scanners ---- */

int store_scanner_add(struct store *st, const char *sid, const char *scanner_id,
		      const char *name, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_SCANNER_ADD];
	int rc = batch_lost(st);

	if (rc)
		return rc;
	if (!fits(sid, SB_ID_MAX) || !fits(scanner_id, SB_ID_MAX)
	    || !fits(name, SB_NAME_MAX_BYTES + 1))
		return SB_EINVAL;
	return run(st, s, bt(s, 1, sid) | bt(s, 2, scanner_id) | bt(s, 3, name) | bi(s, 4, now));
}

static void row_to_scanner(sqlite3_stmt *s, struct store_scanner *out)
{
	col_text(out->id, sizeof out->id, s, 0);
	col_text(out->name, sizeof out->name, s, 1);
	out->created_at = sqlite3_column_int64(s, 2);
	out->kicked = sqlite3_column_int64(s, 3) != 0;
}

int store_scanner_get(struct store *st, const char *sid, const char *scanner_id,
		      struct store_scanner *out)
{
	sqlite3_stmt *s = st->stmt[S_SCANNER_GET];
	int rc = step(st, s, bt(s, 1, sid) | bt(s, 2, scanner_id));

	if (rc == 1) {
		row_to_scanner(s, out);
		rc = 0;
	} else if (rc == 0) {
		rc = SB_ENOTFOUND;
	}
	return reset(s, rc);
}

int store_scanner_kick(struct store *st, const char *sid, const char *scanner_id)
{
	sqlite3_stmt *s = st->stmt[S_SCANNER_KICK];

	return update_one(st, s, bt(s, 1, sid) | bt(s, 2, scanner_id));
}

int store_scanner_count(struct store *st, const char *sid, int *n)
{
	sqlite3_stmt *s = st->stmt[S_SCANNER_COUNT];
	int64_t v = 0;
	int rc = count(st, s, bt(s, 1, sid), &v);

	if (rc == 0)
		*n = (int)v;
	return rc;
}

int store_scanners_list(struct store *st, const char *sid, store_scanner_fn fn, void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_SCANNERS_LIST];
	struct store_scanner sc;
	int rc = step(st, s, bt(s, 1, sid));

	for (; rc == 1; rc = step(st, s, SQLITE_OK)) {
		row_to_scanner(s, &sc);
		fn(&sc, ctx);
	}
	return reset(s, rc);
}

/* ---- scans ---- */

static int reserve_failed(struct store *st, int rc, const char *sid, int64_t seq)
{
	if (rc == SB_EEXIST || rc == SB_EINVAL)
		snprintf(st->last_err, sizeof st->last_err, "session %s: %s seq %lld", sid,
			 rc == SB_EEXIST ? "already has" : "cannot append", (long long)seq);
	return rc;
}

/* sid's run in the scan index, made at its first scan once the session is
 * found (a foreign key used to check that, before schema/005). */
static int scans_of(struct store *st, const char *sid, struct scan_run **out)
{
	int64_t one;
	int rc;

	if ((*out = scan_index_find(&st->ix, sid)))
		return 0;
	if ((rc = session_int(st, S_SESSION_EXISTS, sid, &one)))
		return rc;
	return (*out = scan_index_add(&st->ix, sid)) ? 0 : SB_ENOMEM;
}

int store_scan_insert(struct store *st, const char *sid, const struct sb_scan *sc)
{
	sqlite3_stmt *s = st->stmt[S_SCAN_INSERT];
	struct scan_run *scans;
	int rc = batch_lost(st);

	if (rc)
		return rc;
	if (!fits(sid, SB_ID_MAX) || !fits(sc->id, sizeof sc->id)
	    || !fits(sc->code, sizeof sc->code) || !fits(sc->scanner, sizeof sc->scanner))
		return SB_EINVAL;
	if ((rc = scans_of(st, sid, &scans)))
		return rc;
	if ((rc = scan_index_reserve(&st->ix, scans, sc->seq)))
		return reserve_failed(st, rc, sid, sc->seq);
	rc = bt(s, 1, sid) | bi(s, 2, sc->seq) | bt(s, 3, sc->id) | bt(s, 4, sc->code)
	     | bt(s, 5, barcode_format_name(sc->format)) | bt(s, 6, sc->scanner)
	     | (sc->scanned_at == -1 ? sqlite3_bind_null(s, 7) : bi(s, 7, sc->scanned_at))
	     | bi(s, 8, sc->received_at);
	rc = run(st, s, rc);
	if (rc == 0)
		scan_index_put(&st->ix, scans, sc->seq, sqlite3_last_insert_rowid(st->db));
	return rc;
}

/* One scan as read by S_SCAN_ROW. */
struct scan_row {
	struct sb_scan sc;
	bool purged;
};

/* Fills out from a row of SCAN_COLS. */
static void row_to_scan(sqlite3_stmt *s, struct sb_scan *out)
{
	const char *fmt = (const char *)sqlite3_column_text(s, 3);

	out->seq = sqlite3_column_int64(s, 0);
	col_text(out->id, sizeof out->id, s, 1);
	col_text(out->code, sizeof out->code, s, 2);
	if (!fmt || barcode_format_parse(fmt, &out->format) != 0)
		out->format = SB_FMT_UNKNOWN;
	col_text(out->scanner, sizeof out->scanner, s, 4);
	out->scanned_at = sqlite3_column_type(s, 5) == SQLITE_NULL
			  ? -1 : sqlite3_column_int64(s, 5);
	out->received_at = sqlite3_column_int64(s, 6);
}

/* Reads the row of rowid into r by S_SCAN_ROW or S_SCAN_KEYS: 1, or 0 if
 * there is none, or an sb_err. */
static int read_row(struct store *st, sqlite3_stmt *s, int64_t rowid, struct scan_row *r)
{
	int rc = step(st, s, bi(s, 1, rowid));

	if (rc == 1) {
		row_to_scan(s, &r->sc);
		r->purged = sqlite3_column_int64(s, 7) != 0;
	}
	return reset(s, rc);
}

/* What each_row does with a row: ROW_NEXT, ROW_STOP, or an sb_err to stop with. */
enum { ROW_NEXT = 0, ROW_STOP = 1 };
typedef int (*row_fn)(const struct scan_row *r, void *arg);

/* Calls fn with sid's stored scans from < seq <= to, in seq order, found
 * through the scan index. The statement is reset before fn runs, so fn may
 * use the store. Outside a batch the rows are read in one read transaction:
 * a statement on its own takes and drops the WAL read lock (two fcntl calls),
 * which was 5% of the daemon's time at 10 sessions x 4 scanners. */
static int each_row(struct store *st, enum stmt how, const char *sid, int64_t from,
		    int64_t to, row_fn fn, void *arg)
{
	const struct scan_run *scans = scan_index_find(&st->ix, sid);
	bool own_txn = sqlite3_get_autocommit(st->db) && to > from + 1;
	struct scan_row r;
	int64_t lo, hi;
	int rc = own_txn ? run(st, st->stmt[S_BEGIN_READ], SQLITE_OK) : 0;

	seq_span(scans, from, to, &lo, &hi);
	for (int64_t q = lo; rc == 0 && q <= hi; q++) {
		int64_t rowid = scan_run_rowid(scans, q);

		if (rowid && (rc = read_row(st, st->stmt[how], rowid, &r)) == 1)
			rc = fn(&r, arg);
	}
	if (own_txn && !sqlite3_get_autocommit(st->db))
		run_quiet(st, S_COMMIT);
	return rc == ROW_STOP ? 0 : rc;
}

static int copy_row(const struct scan_row *r, void *arg)
{
	*(struct scan_row *)arg = *r;
	return ROW_STOP;
}

int store_scan_get(struct store *st, const char *sid, int64_t seq,
		   struct sb_scan *out, bool *purged, bool *delivered)
{
	struct scan_row r = { .sc.seq = 0 };
	int64_t delivered_seq = 0;
	int rc = each_row(st, S_SCAN_ROW, sid, seq - 1, seq, copy_row, &r);

	if (rc)
		return rc;
	if (!r.sc.seq)
		return SB_ENOTFOUND;
	if (delivered && (rc = session_int(st, S_SESSION_DELIVERED, sid, &delivered_seq)))
		return rc;
	*out = r.sc;
	if (purged)
		*purged = r.purged;
	if (delivered)
		*delivered = seq <= delivered_seq;
	return 0;
}

struct ids_walk {
	store_scan_id_fn fn;
	void *ctx;
};

static int id_row(const struct scan_row *r, void *arg)
{
	const struct ids_walk *w = arg;

	return w->fn(r->sc.seq, r->sc.id, w->ctx);
}

int store_scan_ids_each(struct store *st, const char *sid, store_scan_id_fn fn, void *ctx)
{
	struct ids_walk w = { fn, ctx };

	return each_row(st, S_SCAN_KEYS, sid, 0, INT64_MAX, id_row, &w);
}

/* Hands rows to a store_scan_fn: the ones with content, or one scanner's,
 * or all; at most left of them. */
struct scans_walk {
	store_scan_fn fn;
	void *ctx;
	const char *scanner;   /* NULL: any */
	bool content_only;
	int left;
};

static int walk_row(const struct scan_row *r, void *arg)
{
	struct scans_walk *w = arg;

	if ((w->content_only && r->purged) || (w->scanner && strcmp(r->sc.scanner, w->scanner)))
		return ROW_NEXT;
	w->fn(&r->sc, w->ctx);
	return --w->left > 0 ? ROW_NEXT : ROW_STOP;
}

int store_scans_after(struct store *st, const char *sid, int64_t after, int64_t upto,
		      int limit, store_scan_fn fn, void *ctx)
{
	struct scans_walk w = { fn, ctx, NULL, true, limit };

	return limit > 0 ? each_row(st, S_SCAN_ROW, sid, after, upto, walk_row, &w) : 0;
}

int store_scans_range(struct store *st, const char *sid, const char *scanner, int64_t from,
		      int64_t to, store_scan_fn fn, void *ctx)
{
	struct scans_walk w = { fn, ctx, scanner, false, INT_MAX };

	if (!fits(scanner, SB_ID_MAX))
		return SB_EINVAL;
	return each_row(st, S_SCAN_KEYS, sid, from, to, walk_row, &w);
}

int store_scans_span(struct store *st, const char *sid, int64_t from, int64_t to,
		     store_scan_fn fn, void *ctx)
{
	struct scans_walk w = { fn, ctx, NULL, false, INT_MAX };

	return each_row(st, S_SCAN_KEYS, sid, from, to, walk_row, &w);
}

/* Clears the content of sid's scans up to seq not cleared yet; adds the
 * count to *n. */
static int purge_session(struct store *st, const char *sid, int64_t upto, int64_t *n)
{
	sqlite3_stmt *mark = st->stmt[S_SESSION_PURGED_SET];
	int64_t from;
	int rc = session_int(st, S_SESSION_PURGED, sid, &from);

	if (rc)
		return rc == SB_ENOTFOUND ? 0 : rc;   /* ended: its scans are gone */
	rc = run_by_rowid(st, sid, from, upto, st->stmt[S_SCAN_PURGE], n);
	return rc ? rc : run(st, mark, bt(mark, 1, sid) | bi(mark, 2, upto));
}

/* The sessions with deliveries due, each purged as it is read (GROUP BY has
 * read every row before the first comes back, so writing meanwhile is safe). */
static int purge_due(struct store *st, int64_t delivered_before, int64_t *n)
{
	sqlite3_stmt *due = st->stmt[S_PURGE_DUE];
	int rc = step(st, due, bi(due, 1, delivered_before));
	char sid[SB_ID_MAX];

	for (; rc == 1; rc = step(st, due, SQLITE_OK)) {
		col_text(sid, sizeof sid, due, 0);
		rc = purge_session(st, sid, sqlite3_column_int64(due, 1), n);
		if (rc)
			break;
	}
	return reset(due, rc);
}

int store_purge(struct store *st, int64_t delivered_before, int64_t now, int64_t *n)
{
	sqlite3_stmt *drop = st->stmt[S_DELIVERIES_DROP];
	sqlite3_stmt *ended = st->stmt[S_ENDED_PURGE];
	int64_t purged = 0;
	int rc = op_begin(st);

	if (rc == 0)
		rc = purge_due(st, delivered_before, &purged);
	if (rc == 0)
		rc = run(st, drop, bi(drop, 1, delivered_before));
	if (rc == 0)
		rc = run(st, ended, bi(ended, 1, now));
	rc = op_end(st, rc);
	if (n)
		*n = rc ? 0 : purged;
	return rc;
}
