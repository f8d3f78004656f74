/* SPDX-License-Identifier: MIT */
/* The SQLite outbox (see outbox.h). Statements are prepared per call: this
 * is a handful of writes a second, and it keeps the module short. */
#include "outbox.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sqlite3.h>

#include "sb_err.h"

struct outbox {
	sqlite3 *db;
	char box[13];                  /* random per file: ids differ across files */
};

static const char *const schema =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"PRAGMA foreign_keys=ON;"
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS pairings(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" gun TEXT NOT NULL, session TEXT NOT NULL, scanner TEXT NOT NULL,"
	" token TEXT NOT NULL, current INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE IF NOT EXISTS scans(n INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT UNIQUE, pairing INTEGER NOT NULL REFERENCES pairings(id) ON DELETE CASCADE,"
	" code TEXT NOT NULL, scanned_at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS scans_pairing ON scans(pairing, n);";

/* Runs one statement with text/int64 parameters given as a format: 's' text,
 * 'i' int64. Calls row (may be NULL) per result row. Returns 0 or SB_EIO. */
static int run(struct outbox *ob, const char *sql, const char *fmt,
	       void (*row)(void *arg, sqlite3_stmt *st), void *arg, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc;

	if (sqlite3_prepare_v2(ob->db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "scanbridge-hid: outbox: %s\n", sqlite3_errmsg(ob->db));
		return SB_EIO;
	}
	va_start(ap, arg);
	for (int i = 0; fmt[i]; i++) {
		if (fmt[i] == 's')
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (row)
			row(arg, st);
	if (rc != SQLITE_DONE)
		fprintf(stderr, "scanbridge-hid: outbox: %s\n", sqlite3_errmsg(ob->db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : SB_EIO;
}

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static void box_row(void *arg, sqlite3_stmt *st)
{
	copy_col(st, 0, arg, 13);
}

/* The file's random id, made on first open. */
static int load_box(struct outbox *ob)
{
	unsigned char r[6];
	char hex[13];

	if (run(ob, "SELECT v FROM meta WHERE k='box'", "", box_row, ob->box) < 0)
		return SB_EIO;
	if (ob->box[0])
		return 0;
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return SB_EIO;
	for (int i = 0; i < 6; i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	if (run(ob, "INSERT INTO meta(k, v) VALUES('box', ?)", "s", NULL, NULL, hex) < 0)
		return SB_EIO;
	memcpy(ob->box, hex, sizeof hex);
	return 0;
}

int outbox_open(struct outbox **out, const char *path)
{
	struct outbox *ob = calloc(1, sizeof *ob);
	char *msg = NULL;

	*out = NULL;
	if (!ob)
		return SB_ENOMEM;
	if (sqlite3_open(path, &ob->db) != SQLITE_OK ||
	    sqlite3_busy_timeout(ob->db, 5000) != SQLITE_OK ||
	    sqlite3_exec(ob->db, schema, NULL, NULL, &msg) != SQLITE_OK || load_box(ob) < 0) {
		fprintf(stderr, "scanbridge-hid: outbox %s: %s\n", path,
			msg ? msg : sqlite3_errmsg(ob->db));
		sqlite3_free(msg);
		outbox_close(ob);
		return SB_EIO;
	}
	*out = ob;
	return 0;
}

void outbox_close(struct outbox *ob)
{
	if (!ob)
		return;
	sqlite3_close(ob->db);
	free(ob);
}

static int tx(struct outbox *ob, const char *what)
{
	return sqlite3_exec(ob->db, what, NULL, NULL, NULL) == SQLITE_OK ? 0 : SB_EIO;
}

/* Forgets replaced pairings with nothing left to send. */
static int gc(struct outbox *ob)
{
	return run(ob, "DELETE FROM pairings WHERE current=0 AND NOT EXISTS"
		   " (SELECT 1 FROM scans WHERE scans.pairing=pairings.id)", "", NULL, NULL);
}

int outbox_pair(struct outbox *ob, const char *gun, const char *session,
		const char *scanner, const char *token, int64_t *id)
{
	if (tx(ob, "BEGIN IMMEDIATE") < 0)
		return SB_EIO;
	if (run(ob, "UPDATE pairings SET current=0 WHERE gun=?", "s", NULL, NULL, gun) < 0 ||
	    run(ob, "INSERT INTO pairings(gun, session, scanner, token) VALUES(?,?,?,?)",
		"ssss", NULL, NULL, gun, session, scanner, token) < 0 || gc(ob) < 0) {
		tx(ob, "ROLLBACK");
		return SB_EIO;
	}
	if (id)
		*id = sqlite3_last_insert_rowid(ob->db);
	return tx(ob, "COMMIT");
}

struct pairing_rows {
	struct ob_pairing *one;
	void (*cb)(void *arg, const struct ob_pairing *p);
	void *arg;
	int n;
};

static void pairing_row(void *arg, sqlite3_stmt *st)
{
	struct pairing_rows *pr = arg;
	struct ob_pairing p, *dst = pr->one ? pr->one : &p;

	dst->id = sqlite3_column_int64(st, 0);
	copy_col(st, 1, dst->gun, sizeof dst->gun);
	copy_col(st, 2, dst->session, sizeof dst->session);
	copy_col(st, 3, dst->scanner, sizeof dst->scanner);
	copy_col(st, 4, dst->token, sizeof dst->token);
	dst->current = sqlite3_column_int(st, 5);
	pr->n++;
	if (pr->cb)
		pr->cb(pr->arg, dst);
}

#define PAIRING_COLS "SELECT id, gun, session, scanner, token, current FROM pairings "

int outbox_current(struct outbox *ob, const char *gun, struct ob_pairing *out)
{
	struct pairing_rows pr = { out, NULL, NULL, 0 };

	if (run(ob, PAIRING_COLS "WHERE gun=? AND current=1", "s", pairing_row, &pr, gun) < 0)
		return SB_EIO;
	return pr.n ? 0 : SB_ENOTFOUND;
}

int outbox_pairing(struct outbox *ob, int64_t id, struct ob_pairing *out)
{
	struct pairing_rows pr = { out, NULL, NULL, 0 };

	if (run(ob, PAIRING_COLS "WHERE id=?", "i", pairing_row, &pr, id) < 0)
		return SB_EIO;
	return pr.n ? 0 : SB_ENOTFOUND;
}

int outbox_live_pairings(struct outbox *ob, void (*cb)(void *arg, const struct ob_pairing *p),
			 void *arg)
{
	struct pairing_rows pr = { NULL, cb, arg, 0 };

	return run(ob, PAIRING_COLS "WHERE current=1 OR EXISTS"
		   " (SELECT 1 FROM scans WHERE scans.pairing=pairings.id) ORDER BY id",
		   "", pairing_row, &pr);
}

static void count_row(void *arg, sqlite3_stmt *st)
{
	*(int *)arg = sqlite3_column_int(st, 0);
}

int outbox_pairing_dead(struct outbox *ob, int64_t id)
{
	int n = 0;

	if (run(ob, "SELECT count(*) FROM scans WHERE pairing=?", "i", count_row, &n, id) < 0 ||
	    run(ob, "DELETE FROM pairings WHERE id=?", "i", NULL, NULL, id) < 0)
		return SB_EIO;
	return n;
}

int outbox_add(struct outbox *ob, int64_t pairing, const char *code, int64_t scanned_at,
	       char *id)
{
	int64_t n;

	if (tx(ob, "BEGIN IMMEDIATE") < 0)
		return SB_EIO;
	if (run(ob, "INSERT INTO scans(pairing, code, scanned_at) VALUES(?,?,?)", "isi",
		NULL, NULL, pairing, code, scanned_at) < 0)
		goto bad;
	n = sqlite3_last_insert_rowid(ob->db);
	snprintf(id, SB_SCAN_ID_MAX + 1, "h%s-%lld", ob->box, (long long)n);
	if (run(ob, "UPDATE scans SET id=? WHERE n=?", "si", NULL, NULL, id, n) < 0)
		goto bad;
	return tx(ob, "COMMIT");
bad:
	tx(ob, "ROLLBACK");
	return SB_EIO;
}

int outbox_acked(struct outbox *ob, const char *id)
{
	if (run(ob, "DELETE FROM scans WHERE id=?", "s", NULL, NULL, id) < 0)
		return SB_EIO;
	return gc(ob);
}

int outbox_drop(struct outbox *ob, const char *id)
{
	return outbox_acked(ob, id);
}

struct scan_rows {
	void (*cb)(void *arg, const struct ob_scan *s);
	void *arg;
	int n;
};

static void scan_row(void *arg, sqlite3_stmt *st)
{
	struct scan_rows *sr = arg;
	struct ob_scan s;

	copy_col(st, 0, s.id, sizeof s.id);
	copy_col(st, 1, s.code, sizeof s.code);
	s.scanned_at = sqlite3_column_int64(st, 2);
	s.n = sqlite3_column_int64(st, 3);
	sr->n++;
	sr->cb(sr->arg, &s);
}

int outbox_pending(struct outbox *ob, int64_t pairing,
		   void (*cb)(void *arg, const struct ob_scan *s), void *arg)
{
	struct scan_rows sr = { cb, arg, 0 };

	if (run(ob, "SELECT id, code, scanned_at, n FROM scans WHERE pairing=? ORDER BY n", "i",
		scan_row, &sr, pairing) < 0)
		return SB_EIO;
	return sr.n;
}

static void copy_scan(void *arg, const struct ob_scan *s)
{
	*(struct ob_scan *)arg = *s;
}

int outbox_next(struct outbox *ob, int64_t pairing, int64_t n, struct ob_scan *out)
{
	struct scan_rows sr = { copy_scan, out, 0 };

	if (run(ob, "SELECT id, code, scanned_at, n FROM scans WHERE pairing=? AND n>?"
		" ORDER BY n LIMIT 1", "ii", scan_row, &sr, pairing, n) < 0)
		return SB_EIO;
	return sr.n;
}

int outbox_count(struct outbox *ob)
{
	int n = 0;

	if (run(ob, "SELECT count(*) FROM scans", "", count_row, &n) < 0)
		return SB_EIO;
	return n;
}
