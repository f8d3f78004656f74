/* SPDX-License-Identifier: MIT */
/* Where each session's scans are in the scans table: per session, the rowid
 * of each seq, in memory. It replaces SQLite's (session_id, seq) index
 * (schema/005), which had one insertion point per session: a group commit
 * over 100 busy sessions rewrote 100 of its leaf pages in the WAL, about
 * four in five of the pages a commit wrote (docs/benchmarks.md, "Performance
 * II, part 4"). Rows now go to the end of one table and nothing else.
 *
 * Seqs are appended in increasing order per session (gaps allowed); a seq
 * costs 8 bytes while its session lives. Changes made inside a batch
 * (scan_index_begin) are undone by scan_index_rollback and kept by
 * scan_index_commit, like the SQLite transaction they mirror; outside a
 * batch every change is kept at once. */
#ifndef SB_SCAN_INDEX_H
#define SB_SCAN_INDEX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scan_run;

struct scan_index {
	struct scan_run **slots;   /* open addressing by the sid's hash */
	size_t cap;                /* 0 or a power of two */
	size_t n;                  /* runs in slots */
	struct scan_run **journal; /* runs changed in the open batch */
	size_t n_journal, journal_cap;
	bool in_batch;
};

/* The session's run, NULL if it has none (no scan, or dropped). */
struct scan_run *scan_index_find(const struct scan_index *ix, const char *sid);
/* A new, empty run for sid, which has none; NULL when out of memory. */
struct scan_run *scan_index_add(struct scan_index *ix, const char *sid);
/* The rowid of seq in run (NULL is fine), 0 if the session has no such scan. */
int64_t scan_run_rowid(const struct scan_run *run, int64_t seq);
/* The lowest seq in run (NULL is fine), 0 if none. */
int64_t scan_run_first(const struct scan_run *run);
/* The highest seq in run (NULL is fine), 0 if none. */
int64_t scan_run_last(const struct scan_run *run);

/* Makes room for seq in run, so that the scan_index_put of the same seq
 * cannot fail. SB_EEXIST if seq is stored, SB_EINVAL if it is below the
 * run's highest seq (or < 1), SB_ENOMEM. */
int scan_index_reserve(struct scan_index *ix, struct scan_run *run, int64_t seq);
/* Records seq -> rowid (rowid >= 1) after a successful scan_index_reserve. */
void scan_index_put(struct scan_index *ix, struct scan_run *run, int64_t seq, int64_t rowid);
/* Forgets sid's run (its session was deleted). In a batch the run is kept
 * aside for a rollback. 0, or SB_ENOMEM with nothing changed. */
int scan_index_drop(struct scan_index *ix, const char *sid);

void scan_index_begin(struct scan_index *ix);
void scan_index_commit(struct scan_index *ix);
void scan_index_rollback(struct scan_index *ix);

size_t scan_index_bytes(const struct scan_index *ix);
void scan_index_free(struct scan_index *ix);  /* leaves an empty index */

#endif
