/* SPDX-License-Identifier: MIT */
/* Unit tests for daemon/scan_index.c, each session's seq -> rowid in memory:
 * appends and gaps, what reserve refuses, the table keeping every run
 * findable through growth and removals, and batches undone or kept. */
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "sb_err.h"
#include "scan_index.h"

static int put(struct scan_index *ix, const char *sid, int64_t seq, int64_t rowid)
{
	struct scan_run *run = scan_index_find(ix, sid);
	int rc;

	if (!run && !(run = scan_index_add(ix, sid)))
		return SB_ENOMEM;
	if ((rc = scan_index_reserve(ix, run, seq)) == 0)
		scan_index_put(ix, run, seq, rowid);
	return rc;
}

static int64_t rowid_of(const struct scan_index *ix, const char *sid, int64_t seq)
{
	return scan_run_rowid(scan_index_find(ix, sid), seq);
}

static void test_appends_and_gaps(void)
{
	struct scan_index ix = { 0 };

	CHECK(scan_index_find(&ix, "s") == NULL);
	CHECK_EQ_INT(scan_run_last(NULL), 0);
	CHECK_EQ_INT(put(&ix, "s", 5, 100), 0);       /* a run may start anywhere */
	CHECK_EQ_INT(put(&ix, "s", 6, 101), 0);
	CHECK_EQ_INT(put(&ix, "s", 9, 300), 0);       /* 7 and 8 missing */
	CHECK_EQ_INT(scan_run_first(scan_index_find(&ix, "s")), 5);
	CHECK_EQ_INT(scan_run_last(scan_index_find(&ix, "s")), 9);
	CHECK_EQ_INT(rowid_of(&ix, "s", 6), 101);
	CHECK_EQ_INT(rowid_of(&ix, "s", 7), 0);
	CHECK_EQ_INT(rowid_of(&ix, "s", 4), 0);
	CHECK_EQ_INT(rowid_of(&ix, "s", 10), 0);
	CHECK_EQ_INT(put(&ix, "s", 9, 1), SB_EEXIST);
	CHECK_EQ_INT(put(&ix, "s", 7, 1), SB_EINVAL);   /* below the top: not an append */
	CHECK_EQ_INT(put(&ix, "s", 3, 1), SB_EINVAL);
	CHECK_EQ_INT(put(&ix, "s", 0, 1), SB_EINVAL);
	CHECK_EQ_INT(put(&ix, "s", 9 + (1 << 20) + 1, 1), SB_EINVAL);   /* a wild seq */
	CHECK_EQ_INT(rowid_of(&ix, "s", 9), 300);
	CHECK(scan_index_bytes(&ix) > 0);
	scan_index_free(&ix);
	CHECK(scan_index_find(&ix, "s") == NULL);
	CHECK_EQ_INT(scan_index_bytes(&ix), 0);
}

/* 2,000 sessions grow the table many times; dropping every third one
 * (shifting probe chains back) loses none of the others. */
static void test_many_runs_and_drops(void)
{
	struct scan_index ix = { 0 };
	char sid[32];
	int missing = 0, wrong = 0;

	for (int i = 0; i < 2000; i++) {
		snprintf(sid, sizeof sid, "session-%d", i);
		for (int q = 1; q <= 3; q++)
			CHECK_EQ_INT(put(&ix, sid, q, (int64_t)i * 10 + q), 0);
	}
	for (int i = 0; i < 2000; i += 3) {
		snprintf(sid, sizeof sid, "session-%d", i);
		CHECK_EQ_INT(scan_index_drop(&ix, sid), 0);
	}
	for (int i = 0; i < 2000; i++) {
		const struct scan_run *run;

		snprintf(sid, sizeof sid, "session-%d", i);
		run = scan_index_find(&ix, sid);
		if (i % 3 == 0) {
			wrong += run != NULL;
			continue;
		}
		missing += run == NULL;
		wrong += run && scan_run_rowid(run, 2) != (int64_t)i * 10 + 2;
	}
	CHECK_EQ_INT(missing, 0);
	CHECK_EQ_INT(wrong, 0);
	CHECK_EQ_INT(scan_index_drop(&ix, "never"), 0);
	scan_index_free(&ix);
}

static void test_rollback_undoes_the_batch(void)
{
	struct scan_index ix = { 0 };

	CHECK_EQ_INT(put(&ix, "kept", 1, 10), 0);
	CHECK_EQ_INT(put(&ix, "gone", 1, 20), 0);
	scan_index_begin(&ix);
	CHECK_EQ_INT(put(&ix, "kept", 2, 11), 0);
	CHECK_EQ_INT(put(&ix, "new", 1, 30), 0);
	CHECK_EQ_INT(scan_index_drop(&ix, "gone"), 0);
	CHECK(scan_index_find(&ix, "gone") == NULL);
	CHECK_EQ_INT(put(&ix, "gone", 7, 40), 0);      /* made again in the same batch */
	scan_index_rollback(&ix);
	CHECK_EQ_INT(scan_run_last(scan_index_find(&ix, "kept")), 1);
	CHECK(scan_index_find(&ix, "new") == NULL);
	CHECK_EQ_INT(rowid_of(&ix, "gone", 1), 20);
	CHECK_EQ_INT(rowid_of(&ix, "gone", 7), 0);
	CHECK_EQ_INT(put(&ix, "kept", 2, 12), 0);      /* the undone seq is free again */
	CHECK_EQ_INT(rowid_of(&ix, "kept", 2), 12);
	scan_index_free(&ix);
}

static void test_commit_keeps_the_batch(void)
{
	struct scan_index ix = { 0 };

	CHECK_EQ_INT(put(&ix, "a", 1, 1), 0);
	CHECK_EQ_INT(put(&ix, "b", 1, 2), 0);
	scan_index_begin(&ix);
	CHECK_EQ_INT(put(&ix, "a", 2, 3), 0);
	CHECK_EQ_INT(put(&ix, "c", 1, 4), 0);
	CHECK_EQ_INT(scan_index_drop(&ix, "b"), 0);
	scan_index_commit(&ix);
	scan_index_begin(&ix);                         /* a later batch undoes only itself */
	CHECK_EQ_INT(put(&ix, "a", 3, 5), 0);
	scan_index_rollback(&ix);
	CHECK_EQ_INT(scan_run_last(scan_index_find(&ix, "a")), 2);
	CHECK_EQ_INT(rowid_of(&ix, "c", 1), 4);
	CHECK(scan_index_find(&ix, "b") == NULL);
	scan_index_begin(&ix);                         /* freed with a batch still open */
	CHECK_EQ_INT(scan_index_drop(&ix, "c"), 0);
	scan_index_free(&ix);
}

TEST_MAIN(TEST(test_appends_and_gaps), TEST(test_many_runs_and_drops),
	  TEST(test_rollback_undoes_the_batch), TEST(test_commit_keeps_the_batch))
