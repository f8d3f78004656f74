/* SPDX-License-Identifier: MIT */
/* The store: SQLite (WAL) holding sessions, pair codes, scanners, scans and the
 * client-id -> seq tombstones. Statements are prepared once at open. Writes go
 * into one open transaction that the caller commits once per event-loop pass
 * (group commit): store_begin() is idempotent, store_commit() ends it.
 * The store knows nothing of sockets or the wire; all times are wall ms. */
#ifndef SB_STORE_H
#define SB_STORE_H
#include <stdbool.h>
#include <stdint.h>
#include "message.h"

/* How a COMMIT reaches the disk: normal (PRAGMA synchronous=NORMAL) survives a
 * killed process, full (FULL, an fsync per commit) also a power cut. */
enum sb_durability { SB_DURABILITY_NORMAL = 0, SB_DURABILITY_FULL = 1 };

/* The modes' names, by value, then NULL ("normal", "full"). */
extern const char *const store_durability_names[];
/* The name of d, or "?" for a value out of range. */
const char *store_durability_name(enum sb_durability d);

struct store;

struct store_session {
	char id[SB_ID_MAX];
	int64_t created_at;
	int64_t last_activity;
	int64_t last_seq;          /* MAX(seq) of the session's scans, 0 if none */
	int64_t delivered_seq;     /* highest seq a desktop acknowledged */
	char last_pair_code[SB_ID_MAX]; /* most recently issued pair code, "" if none */
};

struct store_scanner {
	char id[SB_ID_MAX];
	char name[SB_NAME_MAX_BYTES + 1];
	int64_t created_at;
	bool kicked;
};

enum store_end_reason { STORE_ENDED_DELETED = 1, STORE_ENDED_EXPIRED = 2 };

/* Opens (creating if needed) the database at path, sets WAL, busy_timeout,
 * foreign keys and synchronous per durability, applies the embedded migrations
 * (schema/NNN_*.sql, tracked in PRAGMA user_version) and prepares statements.
 * Returns 0; SB_ESCHEMA if the database is newer than this binary; SB_EIO if it
 * cannot be opened or is not a database; err gets a one-line reason. */
int store_open(struct store **out, const char *path, enum sb_durability d,
	       char *err, size_t errlen);

/* Rolls back an open transaction, finalizes statements, closes. NULL is fine. */
void store_close(struct store *st);

/* The schema version this binary applies (number of migrations). */
int store_schema_version(void);

/* Sets PRAGMA synchronous (NORMAL or FULL). Inside an open batch the change
 * takes effect when the batch ends. 0 or SB_EIO. */
int store_set_durability(struct store *st, enum sb_durability d);

/* Another connection (a backup, the sqlite3 shell) holds the database's write
 * lock. The store never waits for it on the caller's thread (its busy timeout
 * is a few ms): the caller retries later. Not an sb_err: only the session
 * layer sees it. */
#define STORE_EBUSY (-64)

/* Group commit. store_begin opens a write transaction unless one is open;
 * STORE_EBUSY while another connection holds the write lock (nothing opened).
 * store_commit commits it (no-op without one); STORE_EBUSY if the COMMIT must
 * wait for a lock: the transaction stays open for another store_commit (or
 * store_rollback). On any other failure it rolls back and returns SB_EFULL
 * (disk full) or SB_EIO: nothing of the batch persisted. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
bool store_in_txn(const struct store *st);

/* WAL checkpoints: the store runs them on a thread of its own (no commit
 * waits for one) until the WAL outgrows it under sustained load; then
 * store_checkpoint_due is true and the caller runs store_checkpoint between
 * batches, as often as it stays due. 0, SB_EFULL or SB_EIO. */
bool store_checkpoint_due(const struct store *st);
int store_checkpoint(struct store *st);

/* Frees the page cache's unused pages (they are read again when needed);
 * for an idle daemon. */
void store_release_memory(struct store *st);

/* Health: runs a trivial read. 0 or SB_EIO. */
int store_ping(struct store *st);

/* SQLite's message for the most recent failed statement ("" if none yet), for
 * logs. Owned by st, valid until the next store call. */
const char *store_last_error(const struct store *st);

/* Sessions. Mutations need an open transaction (store_begin) and return
 * SB_EIO/SB_EFULL on SQLite errors. */
int store_session_create(struct store *st, const char *sid, int64_t now);
int store_session_get(struct store *st, const char *sid, struct store_session *out); /* SB_ENOTFOUND */
int store_session_touch(struct store *st, const char *sid, int64_t last_activity);
/* A renewed session's life starts again at created_at (its maximum age). */
int store_session_renew(struct store *st, const char *sid, int64_t created_at);
/* Raises delivered_seq to seq (never lowers) and records that the scans up
 * to seq were delivered by now (one deliveries row: the purge's clock). */
int store_session_deliver(struct store *st, const char *sid, int64_t seq, int64_t now);
/* Deletes the session with its codes, scanners and scans, and records the id in
 * ended_sessions with the reason (kept until `now + keep_ms`). */
int store_session_end(struct store *st, const char *sid, enum store_end_reason why,
		      int64_t now, int64_t keep_ms);
/* Why a session no longer exists: STORE_ENDED_* or SB_ENOTFOUND if never known. */
int store_session_end_reason(struct store *st, const char *sid);
/* Calls fn for every session (the session layer loads them all at start and
 * decides expiry itself, on the monotonic clock). fn must not write. */
typedef void (*store_sid_fn)(const char *sid, void *ctx);
int store_sessions_each(struct store *st, store_sid_fn fn, void *ctx);
int store_session_count(struct store *st, int64_t *n);

/* Pair codes. add records code for sid expiring at expires_at and makes it the
 * session's last_pair_code. take marks an unused, unexpired code used and
 * returns its session in sid_out; SB_ENOTFOUND for unknown, used or expired.
 * valid: 0 if usable, SB_ENOTFOUND otherwise (does not consume). */
int store_pair_code_add(struct store *st, const char *code, const char *sid, int64_t expires_at);
int store_pair_code_take(struct store *st, const char *code, int64_t now, char sid_out[SB_ID_MAX]);
int store_pair_code_valid(struct store *st, const char *code, int64_t now);
/* Like valid, and copies the code's session id into sid_out: 0 if the code is
 * unused and unexpired, SB_ENOTFOUND otherwise. Does not consume the code. */
int store_pair_code_peek(struct store *st, const char *code, int64_t now, char sid_out[SB_ID_MAX]);
/* Bounds a session's codes before one more is added: keeps its `keep` most
 * recently issued unused, unexpired codes and deletes the rest of its codes
 * (a deleted code answers like a used one). */
int store_pair_codes_retire(struct store *st, const char *sid, int64_t now, int keep);
/* Cleanup: deletes every used or expired code (expired: expires_at <= now);
 * *n = rows deleted. */
int store_pair_codes_purge(struct store *st, int64_t now, int64_t *n);

/* Scanners of a session. count excludes kicked ones. */
int store_scanner_add(struct store *st, const char *sid, const char *scanner_id,
		      const char *name, int64_t now);
int store_scanner_get(struct store *st, const char *sid, const char *scanner_id,
		      struct store_scanner *out); /* SB_ENOTFOUND */
int store_scanner_kick(struct store *st, const char *sid, const char *scanner_id);
int store_scanner_count(struct store *st, const char *sid, int *n);
typedef void (*store_scanner_fn)(const struct store_scanner *s, void *ctx);
int store_scanners_list(struct store *st, const char *sid, store_scanner_fn fn, void *ctx); /* non-kicked, by created_at */

/* Scans. insert stores s (s->seq chosen by the caller, session in sid);
 * SB_EEXIST if the seq already exists in the session. Client ids are not
 * checked here: the session layer keeps them in memory (idset.h, schema/004).
 * get reads a scan by seq, also after its content was purged (then code is ""
 * and *purged is true). ids_each calls fn for every scan of the session, in
 * no order, until fn returns non-zero (which it returns). after calls fn for
 * scans with after < seq <= upto whose content is not purged, in seq order, at
 * most limit of them. */
int store_scan_insert(struct store *st, const char *sid, const struct sb_scan *s);
int store_scan_get(struct store *st, const char *sid, int64_t seq,
		   struct sb_scan *out, bool *purged, bool *delivered); /* SB_ENOTFOUND */
typedef int (*store_scan_id_fn)(int64_t seq, const char *client_id, void *ctx);
int store_scan_ids_each(struct store *st, const char *sid, store_scan_id_fn fn, void *ctx);
typedef void (*store_scan_fn)(const struct sb_scan *s, void *ctx);
int store_scans_after(struct store *st, const char *sid, int64_t after, int64_t upto,
		      int limit, store_scan_fn fn, void *ctx);
/* Calls fn for every scan of scanner with from < seq <= to (content or not),
 * for delivery receipts: only seq, id and scanner are filled in. span does
 * the same for every scanner of the session at once, in seq order. */
int store_scans_range(struct store *st, const char *sid, const char *scanner, int64_t from,
		      int64_t to, store_scan_fn fn, void *ctx);
int store_scans_span(struct store *st, const char *sid, int64_t from, int64_t to,
		     store_scan_fn fn, void *ctx);
/* Purges content (code) of scans delivered at or before `delivered_before`,
 * keeping id->seq, and forgets those deliveries. Drops ended_sessions rows
 * past their keep time. All or nothing; *n = rows purged. */
int store_purge(struct store *st, int64_t delivered_before, int64_t now, int64_t *n);

#endif
