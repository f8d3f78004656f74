/* SPDX-License-Identifier: MIT */
/* The decode worker pool: image decoding (decode.h) runs on worker threads so
 * it never blocks the event loop. The loop submits a job (the image bytes, a
 * completion callback and its owner); a bounded queue feeds the workers; each
 * result goes to a locked done-queue and the worker wakes the loop with
 * lws_cancel_service(), the only lws call that is safe from another thread.
 * After that pass the loop calls decode_pool_deliver(), which
 * runs the callbacks there. Owners that go away cancel their jobs; a cancelled
 * job's callback is never called, so the pool never touches freed owner memory.
 *
 * The decoder itself is a module loaded by the first job (decode_module.h), so
 * a daemon that never decodes never maps it; decode_pool_start() only checks
 * that its file is there.
 *
 * Everything here except the workers themselves runs on the loop thread. */
#ifndef SB_DECODE_POOL_H
#define SB_DECODE_POOL_H
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode.h"

struct lws_context;
struct decode_job;

/* What a job came to. rc: 0 (decoded; n may be 0 when nothing was found),
 * SB_ETOOBIG (over the byte or pixel limits, by the header), SB_EPROTO (neither
 * JPEG nor PNG), SB_EINVAL (corrupt or truncated image), SB_ENOMEM, SB_EIO (the
 * decoder module could not be loaded: logged once). ms: the
 * decode time decode_image() measured; queued_ms: time from submit to a worker
 * taking the job. Owners that answer a failed submit themselves fill in only
 * rc (SB_ELIMIT, SB_ENOMEM, SB_EGONE). */
struct decode_outcome {
	struct decode_job *job;             /* the handle submit returned */
	int rc;
	int n;
	double ms, queued_ms;
	const struct decode_result *codes;  /* n entries, valid during the callback */
};

/* Runs on the loop thread from decode_pool_deliver(). The job is freed right
 * after it returns: the owner must forget its handle. */
typedef void (*decode_done_fn)(void *owner, const struct decode_outcome *res);

/* Starts cfg->decode_workers threads (0: one per online core) and remembers ctx
 * for lws_cancel_service(). Signals are blocked in the workers. Logs a warning
 * when the decoder module's file is missing (decode_module_check()). Returns 0,
 * SB_ENOMEM or SB_EIO (no thread could be started). */
int decode_pool_start(const struct sb_config *cfg, struct lws_context *ctx);

/* Hands img (malloc'd, len bytes, taken from upload_budget) to the pool. On
 * success ownership of img and of its len budget bytes passes to the pool, *job is the handle for decode_pool_cancel() and done
 * will be called exactly once unless the job is cancelled. On failure the
 * caller still owns img and done is never called: SB_ELIMIT (the queue holds
 * decode_queue_max jobs: wire `busy`), SB_ENOMEM, SB_EGONE (not started or
 * stopping). */
int decode_pool_submit(uint8_t *img, size_t len, decode_done_fn done, void *owner,
		       struct decode_job **job);

/* The owner goes away: done will not be called for job. A job still waiting
 * for a worker is freed at once; one being decoded is freed when it finishes.
 * NULL is ignored. */
void decode_pool_cancel(struct decode_job *job);

/* Runs the callbacks of every finished job. The loop calls it after every
 * pass (a worker's lws_cancel_service() ends the pass it waits in); it takes
 * no lock when no job has finished. */
void decode_pool_deliver(void);

/* Shutdown, part 1 (before lws_context_destroy): stops and joins the workers
 * (a decode in progress finishes first). Queued jobs are not run; owners may
 * still cancel them. Afterwards submit answers SB_EGONE. */
void decode_pool_stop(void);

/* Shutdown, part 2 (after lws_context_destroy, when no owner is left): frees
 * every job still held, without calling callbacks. */
void decode_pool_free(void);

/* The limits decode_image() gets from the configuration. */
void decode_pool_limits(const struct sb_config *cfg, struct image_limits *lim);

#endif
