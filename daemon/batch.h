/* SPDX-License-Identifier: MIT */
/* Group commit: every write of one event-loop pass goes into the store's one
 * open transaction, and every effect that must not be seen before the data is
 * durable is deferred until batch_flush() has run the COMMIT. It knows the
 * store and nothing of sessions, peers or sockets: what waits for the commit
 * is a callback the caller embeds (struct batch_action, struct batch_waiter).
 *
 * It also keeps the loop from ever waiting for SQLite's write lock: a write
 * that meets a lock held by another process is queued (batch_wait_lock) and run
 * again from the transport's timer once the lock is ours, and the loop's share
 * of WAL checkpointing (batch_checkpoint) sits here, next to the store. */
#ifndef SB_BATCH_H
#define SB_BATCH_H
#include <stdbool.h>
#include <stdint.h>
#include "store.h"

/* An effect deferred until the open batch's COMMIT. The caller embeds it and
 * sets run; run(a, rc) is called once, after the commit (rc 0) or its failure
 * (SB_EIO/SB_EFULL), or with SB_EIO at batch_shutdown. From that call on a is
 * the caller's again (run may free it). */
struct batch_action {
	void (*run)(struct batch_action *a, int rc);
	struct batch_action *next;      /* batch.c's */
};

/* A request waiting for the commit or for the write lock. The caller embeds
 * it and sets done; done(w, rc) is called once unless w is cancelled first. */
struct batch_waiter {
	void (*done)(struct batch_waiter *w, int rc);
	bool queued, for_lock;          /* batch.c's */
	struct batch_waiter *prev, *next;
};

/* The transport schedules batch_flush() to run after the current loop pass
 * (or the few ready passes it gathers first, server.c). */
typedef void (*batch_schedule_fn)(void);
/* Arms the transport's one-shot timer: batch_lock_retry() in ms. */
typedef void (*batch_timer_fn)(int64_t ms);

/* What the layer above does around each flush (the session layer: its in-memory
 * heads follow the commit): settle(rc) right after the COMMIT or its failure,
 * before the deferred actions run; reap() last, after the commit waiters. */
struct batch_hooks {
	void (*settle)(int rc);
	void (*reap)(void);
};

/* Starts with an empty batch. hooks may be NULL; it is copied. */
void batch_init(struct store *st, batch_schedule_fn schedule, const struct batch_hooks *hooks);
/* Fails (SB_EIO) every lock waiter, deferred action and commit waiter. */
void batch_shutdown(void);

/* Joins the open batch, opening one if needed. Returns 0, or STORE_EBUSY while
 * the write lock is held elsewhere (nothing opened; writes that wait for it go
 * first, so this is also the answer while any waits), or another store error.
 * batch_begin also notes the lock hit (batch_lock_hit): the caller's request
 * is to be run again; batch_try is for writes that may just be skipped. */
int batch_begin(void);
int batch_try(void);
/* True while the store's transaction is open. */
bool batch_in_txn(void);
/* True while the batch holds uncommitted writes or effects: a REST answer must
 * then wait for the flush via batch_wait_commit(). */
bool batch_open(void);
/* How many actions wait for the open batch's commit (a batch's size). */
unsigned batch_deferred(void);

/* Defers a (run set by the caller) until the open batch's commit; actions run
 * in the order they were deferred. */
void batch_defer(struct batch_action *a);
/* Calls fn(a, arg) on every action still deferred (to drop references). */
void batch_each(void (*fn)(struct batch_action *a, void *arg), void *arg);
/* Queues w (done set by the caller) until the next flush: done(w, 0) after the
 * commit, or the commit's error. */
void batch_wait_commit(struct batch_waiter *w);
/* Removes w from whichever batch queue holds it (the request went away). */
void batch_waiter_cancel(struct batch_waiter *w);

/* Commits the open batch, then calls hooks.settle, the deferred actions in
 * order, the commit waiters and hooks.reap, all with the commit's result.
 * Returns 0 or the commit error. A COMMIT that meets the write lock keeps the
 * batch open, its effects held, and returns 0: the lock timer retries it. */
int batch_flush(void);
/* True while the store refuses writes: the last commit failed and none has
 * succeeded since (clients get `unavailable`; /healthz says degraded). */
bool batch_store_failing(void);
/* Runs a WAL checkpoint when the store needs the loop to (store.h); the
 * transport calls it once per event-loop pass, after batch_flush. */
void batch_checkpoint(void);

/* Another process holding the database's write lock must not stall the loop:
 * a write that meets it is not waited for but run again once the lock is ours
 * (retried every BATCH_LOCK_RETRY_MS from the transport's timer), in arrival
 * order, while the loop serves everything else. Past BATCH_LOCK_DEADLINE_MS
 * the waiting writes are answered `unavailable` (REST 503) with nothing
 * changed. A COMMIT that meets a lock waits the same way, its answers held. */
#define BATCH_LOCK_RETRY_MS 20
#define BATCH_LOCK_DEADLINE_MS 3000
/* Requests queued for the lock are bounded like every other input: past this
 * many, a WebSocket write that meets the lock is answered `unavailable`. */
#define BATCH_LOCK_WAITERS_MAX 1024
void batch_set_timer(batch_timer_fn arm);
/* The transport's timer fired. */
void batch_lock_retry(void);
/* True (and cleared) when a batch_begin since the last call met the lock:
 * the REST request is to be run again once w, queued with batch_wait_lock, is
 * done (rc 0: the lock is ours, run it now; else answer 503 `unavailable`). */
bool batch_lock_hit(void);
void batch_wait_lock(struct batch_waiter *w);
/* True when BATCH_LOCK_WAITERS_MAX requests already wait for the lock. */
bool batch_lock_queue_full(void);
/* Calls fn(w, arg) on every waiter queued for the lock, in order; fn may
 * cancel w (batch_waiter_cancel) and free it. */
void batch_lock_each(void (*fn)(struct batch_waiter *w, void *arg), void *arg);

#endif
