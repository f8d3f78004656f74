/* SPDX-License-Identifier: MIT */
/* Group commit (batch.h): the open batch, its deferred actions and commit
 * waiters, the flush, the wait for another process's write lock, and the
 * loop's share of WAL checkpointing. Nothing here knows a session or a
 * socket: what the layers above want done after the COMMIT are callbacks. */
#include <stddef.h>
#include <string.h>

#include "batch.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "sb_err.h"

/* After a wait timed out, how often an idle daemon tries the lock so that
 * /healthz stops saying degraded once writes work (each try may cost the
 * loop the store's 2 ms busy timeout). */
#define LOCK_PROBE_MS 250

static struct {
	struct store *st;
	batch_schedule_fn schedule;
	struct batch_hooks hooks;
	struct batch_action *head, *tail;     /* deferred until the commit */
	unsigned deferred;                    /* actions in head..tail */
	struct batch_waiter *commit_waiters;  /* REST answers held until commit */
	bool flush_scheduled;
	bool store_failing;                   /* see batch_store_failing */
	bool checkpoint_failing;
} B;

static struct {
	batch_timer_fn arm;
	struct batch_waiter *head, *tail; /* requests to run again, in arrival order */
	unsigned n;
	int64_t since;               /* mono ms the wait began; 0: not waiting */
	bool commit;                 /* it is the open batch's COMMIT that waits */
	bool hit;                    /* see batch_lock_hit */
	bool probe;                  /* a wait timed out: try until writes work */
} L;

void batch_init(struct store *st, batch_schedule_fn schedule, const struct batch_hooks *hooks)
{
	batch_timer_fn arm = L.arm;  /* the transport's timer outlives a restart */

	memset(&B, 0, sizeof(B));
	memset(&L, 0, sizeof(L));
	B.st = st;
	B.schedule = schedule;
	if (hooks)
		B.hooks = *hooks;
	L.arm = arm;
}

static void schedule_flush(void)
{
	if (!B.flush_scheduled) {
		B.flush_scheduled = true;
		B.schedule();
	}
}

/* ---- commit waiters ---- */

static void waiter_unlink(struct batch_waiter **list, struct batch_waiter *w)
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

void batch_wait_commit(struct batch_waiter *w)
{
	w->prev = NULL;
	w->next = B.commit_waiters;
	if (B.commit_waiters)
		B.commit_waiters->prev = w;
	B.commit_waiters = w;
	w->queued = true;
	schedule_flush();
}

static void run_commit_waiters(int rc)
{
	while (B.commit_waiters) {
		struct batch_waiter *w = B.commit_waiters;

		waiter_unlink(&B.commit_waiters, w);
		w->done(w, rc);
	}
}

/* ---- waiting for the write lock ---- */

void batch_set_timer(batch_timer_fn arm)
{
	L.arm = arm;
}

static void lock_arm(void)
{
	if (L.arm)
		L.arm(L.since ? BATCH_LOCK_RETRY_MS : LOCK_PROBE_MS);
}

static void lock_wait_start(void)
{
	if (L.since)
		return;
	L.since = clock_mono_ms();
	if (!L.since)
		L.since = 1;
	log_warn("database write lock held by another connection; writes wait", NULL);
	lock_arm();
}

static bool lock_past_deadline(void)
{
	return clock_mono_ms() - L.since >= BATCH_LOCK_DEADLINE_MS;
}

void batch_wait_lock(struct batch_waiter *w)
{
	w->prev = L.tail;
	w->next = NULL;
	if (L.tail)
		L.tail->next = w;
	else
		L.head = w;
	L.tail = w;
	w->queued = w->for_lock = true;
	L.n++;
}

bool batch_lock_queue_full(void)
{
	return L.n >= BATCH_LOCK_WAITERS_MAX;
}

static void lock_unlink(struct batch_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		L.head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		L.tail = w->prev;
	w->prev = w->next = NULL;
	w->queued = w->for_lock = false;
	L.n--;
}

void batch_lock_each(void (*fn)(struct batch_waiter *w, void *arg), void *arg)
{
	struct batch_waiter *w = L.head, *next;

	for (; w; w = next) {
		next = w->next;
		fn(w, arg);
	}
}

void batch_waiter_cancel(struct batch_waiter *w)
{
	if (!w->queued)
		return;
	if (w->for_lock)
		lock_unlink(w);
	else
		waiter_unlink(&B.commit_waiters, w);
}

/* Runs (rc 0: the lock is ours, the batch open) or fails every queued request.
 * Requests queued meanwhile wait for the next round. */
static void lock_run_waiters(int rc)
{
	struct batch_waiter *w = L.head;

	L.head = L.tail = NULL;
	L.n = 0;
	while (w) {
		struct batch_waiter *next = w->next;

		w->prev = w->next = NULL;
		w->queued = w->for_lock = false;
		w->done(w, rc);
		w = next;
	}
}

bool batch_lock_hit(void)
{
	bool hit = L.hit;

	L.hit = false;
	return hit;
}

/* The deadline passed: nothing of the waiting requests is stored. */
static void lock_give_up(void)
{
	if (L.head) {
		log_error("database write lock still held elsewhere; waiting writes answered"
			  " unavailable", "waited_ms=%lld",
			  (long long)(clock_mono_ms() - L.since));
		metrics_inc(MC_COMMIT_FAILURES);
		B.store_failing = true;
		L.probe = true;
	}
	L.since = 0;
	lock_run_waiters(SB_EIO);
	if (L.probe)
		lock_arm();
}

void batch_lock_retry(void)
{
	int rc;

	if (L.commit) {
		schedule_flush();    /* batch_flush retries the COMMIT */
		return;
	}
	if (!L.since && !L.probe)
		return;
	rc = store_begin(B.st);
	if (rc == STORE_EBUSY) {
		if (L.since && lock_past_deadline())
			lock_give_up();
		else
			lock_arm();
		return;
	}
	if (L.since)
		log_info("database write lock is ours again", "waited_ms=%lld",
			 (long long)(clock_mono_ms() - L.since));
	L.since = 0;
	L.probe = false;
	if (!rc)
		schedule_flush();    /* even empty, its commit clears store_failing */
	lock_run_waiters(rc);
}

/* ---- the batch ---- */

int batch_try(void)
{
	int rc;

	/* waiting requests go first: nothing overtakes them */
	if (L.since && !store_in_txn(B.st))
		return STORE_EBUSY;
	rc = store_begin(B.st);
	if (rc == STORE_EBUSY)
		lock_wait_start();
	if (rc)
		return rc;
	schedule_flush();
	return 0;
}

int batch_begin(void)
{
	int rc = batch_try();

	if (rc == STORE_EBUSY)
		L.hit = true;
	return rc;
}

bool batch_in_txn(void)
{
	return store_in_txn(B.st);
}

unsigned batch_deferred(void) { return B.deferred; }

bool batch_open(void)
{
	return store_in_txn(B.st) || B.head || B.commit_waiters;
}

void batch_defer(struct batch_action *a)
{
	a->next = NULL;
	if (B.tail)
		B.tail->next = a;
	else
		B.head = a;
	B.tail = a;
	B.deferred++;
}

void batch_each(void (*fn)(struct batch_action *a, void *arg), void *arg)
{
	for (struct batch_action *a = B.head; a; a = a->next)
		fn(a, arg);
}

static void run_actions(int rc)
{
	struct batch_action *a = B.head;

	B.head = B.tail = NULL;
	B.deferred = 0;
	while (a) {
		struct batch_action *next = a->next;

		a->next = NULL;
		a->run(a, rc);
		a = next;
	}
}

/* ---- flush ---- */

bool batch_store_failing(void)
{
	return B.store_failing;
}

/* A COMMIT that met a lock keeps the batch open, its answers held, and is
 * tried again from the timer until the deadline; then it is rolled back. */
static int commit_busy(void)
{
	if (!L.commit) {
		L.commit = true;
		L.since = 0;
		lock_wait_start();
		return STORE_EBUSY;
	}
	if (!lock_past_deadline()) {
		lock_arm();
		return STORE_EBUSY;
	}
	store_rollback(B.st);
	return SB_EIO;
}

static int commit(void)
{
	int rc = store_commit(B.st);

	if (rc == STORE_EBUSY && (rc = commit_busy()) == STORE_EBUSY)
		return rc;
	if (L.commit) {
		L.commit = false;
		L.since = 0;
	}
	return rc;
}

/* Commits the open transaction; counted, timed and logged. */
static int commit_timed(void)
{
	int64_t t0 = clock_mono_ms();
	int rc = commit();

	if (rc == STORE_EBUSY)
		return rc;
	metrics_inc(rc ? MC_COMMIT_FAILURES : MC_COMMITS);
	metrics_observe(MH_COMMIT_TIME, (double)(clock_mono_ms() - t0) / 1000.0);
	if (rc)
		log_error("commit failed; batch answered unavailable", "err=\"%s\"",
			  sb_strerror(rc));
	else if (B.store_failing)
		log_info("storage writes recovered", NULL);
	B.store_failing = rc != 0;
	return rc;
}

int batch_flush(void)
{
	int rc = 0;

	B.flush_scheduled = false;
	if (store_in_txn(B.st) && (rc = commit_timed()) == STORE_EBUSY)
		return 0;            /* answers wait for the retried COMMIT */
	if (B.hooks.settle)
		B.hooks.settle(rc);
	run_actions(rc);
	run_commit_waiters(rc);
	if (B.hooks.reap)
		B.hooks.reap();
	return rc;
}

/* The loop's share of WAL checkpointing (store.h): it stalls the loop for the
 * pages that came in while the store's thread copied the rest. */
void batch_checkpoint(void)
{
	int64_t t0;
	int rc;

	if (!store_checkpoint_due(B.st))
		return;
	t0 = clock_mono_ms();
	rc = store_checkpoint(B.st);
	metrics_observe(MH_CHECKPOINT_TIME, (double)(clock_mono_ms() - t0) / 1000.0);
	if (rc && !B.checkpoint_failing)
		log_warn("WAL checkpoint failed; retrying after each batch", "err=\"%s\"",
			 store_last_error(B.st));
	else if (!rc && B.checkpoint_failing)
		log_info("WAL checkpoint recovered", NULL);
	B.checkpoint_failing = rc != 0;
}

void batch_shutdown(void)
{
	lock_run_waiters(SB_EIO);
	L.since = 0;
	L.commit = L.probe = L.hit = false;
	run_actions(SB_EIO);
	run_commit_waiters(SB_EIO);
}
