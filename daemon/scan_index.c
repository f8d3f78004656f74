/* SPDX-License-Identifier: MIT */
/* Per-session seq -> rowid arrays in a hash table of runs (scan_index.h). */
#include "scan_index.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "idset.h"
#include "sb_err.h"

#define MIN_SLOTS 16
#define MIN_ROWIDS 16
/* A seq this far past a run's last one is refused, not filled: the session
 * layer appends last + 1, and a wild value must not allocate gigabytes. */
#define MAX_GAP (1 << 20)

struct scan_run {
	uint64_t hash;
	int64_t first_seq;         /* seq of rowids[0], when n > 0 */
	int64_t *rowids;           /* 0: no scan with that seq */
	size_t n, cap;
	size_t n_committed;        /* n when the last batch ended */
	bool journaled;            /* in ix->journal */
	bool created;              /* made in the open batch */
	bool dropped;              /* dropped in the open batch: out of slots */
	char sid[];
};

/* ---- the table of runs ---- */

static size_t slot_of(const struct scan_index *ix, uint64_t hash, const char *sid)
{
	size_t mask = ix->cap - 1, i = (size_t)hash & mask;

	while (ix->slots[i] && (ix->slots[i]->hash != hash || strcmp(ix->slots[i]->sid, sid)))
		i = (i + 1) & mask;
	return i;
}

static struct scan_run *lookup(const struct scan_index *ix, const char *sid)
{
	return ix->cap ? ix->slots[slot_of(ix, idset_hash(sid), sid)] : NULL;
}

static void place(struct scan_run **slots, size_t cap, struct scan_run *run)
{
	size_t i = (size_t)run->hash & (cap - 1);

	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = run;
}

/* Room for one more run, at most 3/4 full. */
static int make_room(struct scan_index *ix)
{
	size_t cap = ix->cap ? ix->cap * 2 : MIN_SLOTS;
	struct scan_run **slots;

	if ((ix->n + 1) * 4 <= ix->cap * 3)
		return 0;
	if (cap < ix->cap || !(slots = calloc(cap, sizeof(*slots))))
		return SB_ENOMEM;
	for (size_t i = 0; i < ix->cap; i++)
		if (ix->slots[i])
			place(slots, cap, ix->slots[i]);
	free(ix->slots);
	ix->slots = slots;
	ix->cap = cap;
	return 0;
}

static void insert(struct scan_index *ix, struct scan_run *run)
{
	place(ix->slots, ix->cap, run);
	ix->n++;
}

/* Takes run out of the table, shifting later members of its probe chain back
 * so that every lookup still finds them (no tombstones). */
static void unlink_run(struct scan_index *ix, const struct scan_run *run)
{
	size_t mask = ix->cap - 1, hole = slot_of(ix, run->hash, run->sid);

	ix->slots[hole] = NULL;
	ix->n--;
	for (size_t i = (hole + 1) & mask; ix->slots[i]; i = (i + 1) & mask) {
		size_t home = (size_t)ix->slots[i]->hash & mask;

		/* move it back unless its home lies cyclically in (hole, i] */
		if (hole <= i ? (home <= hole || home > i) : (home <= hole && home > i)) {
			ix->slots[hole] = ix->slots[i];
			ix->slots[i] = NULL;
			hole = i;
		}
	}
}

static void run_free(struct scan_run *run)
{
	if (run) {
		free(run->rowids);
		free(run);
	}
}

/* ---- the batch journal ---- */

static int journal(struct scan_index *ix, struct scan_run *run)
{
	struct scan_run **j;

	if (!ix->in_batch || run->journaled)
		return 0;
	j = grow_reserve(ix->journal, &ix->journal_cap, ix->n_journal + 1, sizeof(*j), 16);
	if (!j)
		return SB_ENOMEM;
	ix->journal = j;
	ix->journal[ix->n_journal++] = run;
	run->journaled = true;
	return 0;
}

void scan_index_begin(struct scan_index *ix)
{
	ix->in_batch = true;
}

void scan_index_commit(struct scan_index *ix)
{
	for (size_t i = 0; i < ix->n_journal; i++) {
		struct scan_run *run = ix->journal[i];

		if (run->dropped) {
			run_free(run);
			continue;
		}
		run->n_committed = run->n;
		run->journaled = run->created = false;
	}
	ix->n_journal = 0;
	ix->in_batch = false;
}

/* Runs made in the batch go first, so that a dropped run whose sid was made
 * again in the same batch finds its slot free when it comes back. */
void scan_index_rollback(struct scan_index *ix)
{
	for (size_t i = 0; i < ix->n_journal; i++) {
		struct scan_run *run = ix->journal[i];

		if (!run->created)
			continue;
		if (!run->dropped)
			unlink_run(ix, run);
		run_free(run);
		ix->journal[i] = NULL;
	}
	for (size_t i = 0; i < ix->n_journal; i++) {
		struct scan_run *run = ix->journal[i];

		if (!run)
			continue;
		if (run->dropped)
			insert(ix, run);   /* the room it had is still there */
		run->n = run->n_committed;
		run->journaled = run->dropped = false;
	}
	ix->n_journal = 0;
	ix->in_batch = false;
}

/* ---- runs ---- */

struct scan_run *scan_index_find(const struct scan_index *ix, const char *sid)
{
	return lookup(ix, sid);
}

int64_t scan_run_first(const struct scan_run *run)
{
	return run && run->n ? run->first_seq : 0;
}

int64_t scan_run_last(const struct scan_run *run)
{
	return run && run->n ? run->first_seq + (int64_t)run->n - 1 : 0;
}

int64_t scan_run_rowid(const struct scan_run *run, int64_t seq)
{
	if (!run || !run->n || seq < run->first_seq || seq > scan_run_last(run))
		return 0;
	return run->rowids[seq - run->first_seq];
}

struct scan_run *scan_index_add(struct scan_index *ix, const char *sid)
{
	size_t len = strlen(sid) + 1;
	struct scan_run *run;

	if (make_room(ix) || !(run = calloc(1, sizeof(*run) + len)))
		return NULL;
	memcpy(run->sid, sid, len);
	run->hash = idset_hash(sid);
	run->created = ix->in_batch;
	if (journal(ix, run)) {
		free(run);
		return NULL;
	}
	insert(ix, run);
	return run;
}

/* The index seq takes in run, checked against what is there. */
static int slot_for(const struct scan_run *run, int64_t seq, size_t *at)
{
	int64_t last = scan_run_last(run);

	if (seq < 1)
		return SB_EINVAL;
	if (!run->n) {
		*at = 0;
		return 0;
	}
	if (seq <= last)
		return scan_run_rowid(run, seq) ? SB_EEXIST : SB_EINVAL;
	if (seq - last > MAX_GAP)
		return SB_EINVAL;
	*at = (size_t)(seq - run->first_seq);
	return 0;
}

int scan_index_reserve(struct scan_index *ix, struct scan_run *run, int64_t seq)
{
	int64_t *rowids;
	size_t at;
	int rc;

	if ((rc = slot_for(run, seq, &at)) || (rc = journal(ix, run)))
		return rc;
	rowids = grow_reserve(run->rowids, &run->cap, at + 1, sizeof(*rowids), MIN_ROWIDS);
	if (!rowids)
		return SB_ENOMEM;
	run->rowids = rowids;
	return 0;
}

void scan_index_put(struct scan_index *ix, struct scan_run *run, int64_t seq, int64_t rowid)
{
	size_t at;

	if (slot_for(run, seq, &at) || at >= run->cap)
		return;   /* no scan_index_reserve before: a caller's bug */
	if (!run->n)
		run->first_seq = seq;
	while (run->n < at)
		run->rowids[run->n++] = 0;
	run->rowids[at] = rowid;
	run->n = at + 1;
	if (!ix->in_batch)
		run->n_committed = run->n;
}

int scan_index_drop(struct scan_index *ix, const char *sid)
{
	struct scan_run *run = lookup(ix, sid);

	if (!run)
		return 0;
	if (journal(ix, run))
		return SB_ENOMEM;
	unlink_run(ix, run);
	if (ix->in_batch)
		run->dropped = true;
	else
		run_free(run);
	return 0;
}

size_t scan_index_bytes(const struct scan_index *ix)
{
	size_t bytes = ix->cap * sizeof(*ix->slots) + ix->journal_cap * sizeof(*ix->journal);

	for (size_t i = 0; i < ix->cap; i++)
		if (ix->slots[i])
			bytes += sizeof(struct scan_run) + strlen(ix->slots[i]->sid) + 1
				 + ix->slots[i]->cap * sizeof(int64_t);
	return bytes;
}

void scan_index_free(struct scan_index *ix)
{
	for (size_t i = 0; i < ix->n_journal; i++)
		if (ix->journal[i] && ix->journal[i]->dropped)
			run_free(ix->journal[i]);
	for (size_t i = 0; i < ix->cap; i++)
		run_free(ix->slots[i]);
	free(ix->slots);
	free(ix->journal);
	memset(ix, 0, sizeof(*ix));
}
