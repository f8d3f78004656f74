/* SPDX-License-Identifier: MIT */
/* The decode worker pool (see decode_pool.h). One mutex guards the job queue
 * (a FIFO bounded by decode_queue_max), the done-queue and every job's state;
 * workers sleep on a condition variable. A job moves QUEUED -> RUNNING -> DONE;
 * the worker that finishes one appends it to the done-queue and calls
 * lws_cancel_service(), and the loop thread delivers it. The `cancelled` flag
 * is only read and written on the loop thread, so a worker never looks at an
 * owner or decides anything about one. */
#include "decode_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "clock.h"
#include "decode_module.h"
#include "log.h"
#include "metrics.h"
#include "sb_err.h"
#include "upload_budget.h"

#define MAX_WORKERS 256

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct decode_job {
	struct decode_job *prev, *next;     /* queue or done list */
	enum job_state state;
	bool cancelled;                     /* loop thread only */
	uint8_t *img;
	size_t len;
	decode_done_fn done;
	void *owner;
	int64_t submitted_ms;               /* monotonic */
	/* written by the worker */
	int rc, n;
	double ms, queued_ms;
	struct decode_result codes[DECODE_MAX_RESULTS];
};

struct job_list {
	struct decode_job *head, *tail;
	unsigned count;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job_list queue, done;
	pthread_t threads[MAX_WORKERS];
	int n_threads;
	bool running, stopping;
	unsigned queue_max;
	struct image_limits lim;
	struct lws_context *ctx;
	atomic_bool done_waiting;           /* P.done has jobs: decode_pool_deliver */
} P = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* ---- lists (caller holds P.mu) ---- */

static void list_push(struct job_list *l, struct decode_job *j)
{
	j->next = NULL;
	j->prev = l->tail;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->count++;
}

static void list_unlink(struct job_list *l, struct decode_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
	j->prev = j->next = NULL;
	l->count--;
}

static struct decode_job *list_take_all(struct job_list *l)
{
	struct decode_job *all = l->head;

	l->head = l->tail = NULL;
	l->count = 0;
	return all;
}

/* The image's bytes go back to the shared budget with it (upload_budget.h). */
static void job_free_img(struct decode_job *j)
{
	if (!j->img)
		return;
	free(j->img);
	j->img = NULL;
	upload_budget_give(j->len);
}

static void job_free(struct decode_job *j)
{
	job_free_img(j);
	free(j);
}

/* ---- workers ---- */

/* The first job loads the decoder module (decode_module.h); without it every
 * job fails with SB_EIO, which the owners answer like any other server-side
 * failure (wire `busy`). */
static void run_job(struct decode_job *j)
{
	const struct decode_module_api *m = decode_module_get();
	int n = 0;
	double ms = 0;

	j->rc = !m ? SB_EIO
		   : m->decode_image(j->img, j->len, &P.lim, 0, j->codes, DECODE_MAX_RESULTS, &n, &ms);
	j->n = j->rc ? 0 : n;
	j->ms = ms;
	job_free_img(j); /* the bytes are no longer needed; do not hold them until delivery */
}

/* Decoding is background work: on a 2-core box a worker at normal priority
 * competes with the event loop and a relayed scan waits for a core (p99 0.5 ->
 * 3.6 ms with 4 phones streaming frames). SCHED_IDLE gives the loop the core
 * whenever it wants one; frames still decode at full speed on idle cores. */
static void lower_priority(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp))
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
}

static void *worker_main(void *arg)
{
	struct decode_job *j;

	lower_priority();
	pthread_mutex_lock(&P.mu);
	for (;;) {
		while (!P.stopping && !P.queue.head)
			pthread_cond_wait(&P.cv, &P.mu);
		if (P.stopping)
			break;
		j = P.queue.head;
		list_unlink(&P.queue, j);
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&P.mu);

		j->queued_ms = (double)(clock_mono_ms() - j->submitted_ms);
		run_job(j);

		pthread_mutex_lock(&P.mu);
		j->state = JOB_DONE;
		list_push(&P.done, j);
		atomic_store(&P.done_waiting, true);
		/* under the lock: stop() joins us before the context goes away */
		lws_cancel_service(P.ctx);
	}
	pthread_mutex_unlock(&P.mu);
	return NULL;
}

/* ---- loop thread ---- */

void decode_pool_limits(const struct sb_config *cfg, struct image_limits *lim)
{
	lim->max_bytes = (size_t)cfg->max_image_bytes;
	lim->max_pixels = (uint64_t)cfg->max_image_megapixels * 1000000u;
	lim->max_side = cfg->decode_max_side;
	lim->max_image_side = cfg->max_image_side;
	lim->max_work_bytes = IMAGE_WORK_DEFAULT; /* docs/security.md, "Memory per image" */
}

static int worker_count(const struct sb_config *cfg)
{
	long n = cfg->decode_workers;

	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

int decode_pool_start(const struct sb_config *cfg, struct lws_context *ctx)
{
	sigset_t all, old;
	int want = worker_count(cfg);

	P.ctx = ctx;
	P.queue_max = (unsigned)cfg->decode_queue_max;
	decode_pool_limits(cfg, &P.lim);
	P.stopping = false;
	P.n_threads = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* SIGTERM/SIGHUP stay with the loop */
	while (P.n_threads < want &&
	       !pthread_create(&P.threads[P.n_threads], NULL, worker_main, NULL))
		P.n_threads++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!P.n_threads) {
		log_error("cannot start any decode worker", NULL);
		return SB_EIO;
	}
	if (P.n_threads < want)
		log_warn("fewer decode workers than configured", "started=%d wanted=%d",
			 P.n_threads, want);
	P.running = true;
	decode_module_check(); /* loaded on the first image; missing is worth a warning now */
	log_info("decode workers started", "workers=%d queue_max=%u max_side=%d", P.n_threads,
		 P.queue_max, P.lim.max_side);
	return 0;
}

int decode_pool_submit(uint8_t *img, size_t len, decode_done_fn done, void *owner,
		       struct decode_job **job)
{
	struct decode_job *j;

	*job = NULL;
	if (!P.running)
		return SB_EGONE;
	pthread_mutex_lock(&P.mu);
	if (P.queue.count >= P.queue_max) {
		pthread_mutex_unlock(&P.mu);
		return SB_ELIMIT;
	}
	pthread_mutex_unlock(&P.mu);
	if (!(j = calloc(1, sizeof(*j))))
		return SB_ENOMEM;
	j->img = img;
	j->len = len;
	j->done = done;
	j->owner = owner;
	j->submitted_ms = clock_mono_ms();
	j->state = JOB_QUEUED;
	pthread_mutex_lock(&P.mu);
	list_push(&P.queue, j); /* only the loop thread adds: the count checked above holds */
	pthread_cond_signal(&P.cv);
	pthread_mutex_unlock(&P.mu);
	*job = j;
	return 0;
}

void decode_pool_cancel(struct decode_job *j)
{
	bool queued;

	if (!j)
		return;
	pthread_mutex_lock(&P.mu);
	queued = j->state == JOB_QUEUED;
	if (queued)
		list_unlink(&P.queue, j);
	else
		j->cancelled = true; /* running or done: decode_pool_deliver frees it */
	pthread_mutex_unlock(&P.mu);
	if (queued)
		job_free(j);
}

static void account(const struct decode_job *j)
{
	if (j->rc) {
		metrics_inc(MC_FRAMES_REFUSED);
		return;
	}
	metrics_inc(MC_FRAMES_DECODED);
	if (j->n > 0)
		metrics_inc(MC_FRAMES_FOUND);
	metrics_observe(MH_DECODE_TIME, j->ms / 1000.0);
}

void decode_pool_deliver(void)
{
	struct decode_job *j, *next;
	struct decode_outcome res;

	/* called after every loop pass: no lock unless a worker finished */
	if (!atomic_exchange(&P.done_waiting, false))
		return;
	pthread_mutex_lock(&P.mu);
	j = list_take_all(&P.done);
	pthread_mutex_unlock(&P.mu);
	for (; j; j = next) {
		next = j->next;
		account(j);
		if (!j->cancelled) {
			res.job = j;
			res.rc = j->rc;
			res.n = j->n;
			res.ms = j->ms;
			res.queued_ms = j->queued_ms;
			res.codes = j->codes;
			j->done(j->owner, &res);
		}
		job_free(j);
	}
}

void decode_pool_stop(void)
{
	pthread_mutex_lock(&P.mu);
	P.stopping = true;
	pthread_cond_broadcast(&P.cv);
	pthread_mutex_unlock(&P.mu);
	for (int i = 0; i < P.n_threads; i++)
		pthread_join(P.threads[i], NULL);
	P.n_threads = 0;
	P.running = false;
}

void decode_pool_free(void)
{
	struct decode_job *lists[2], *j, *next;

	pthread_mutex_lock(&P.mu);
	lists[0] = list_take_all(&P.queue);
	lists[1] = list_take_all(&P.done);
	pthread_mutex_unlock(&P.mu);
	for (int i = 0; i < 2; i++)
		for (j = lists[i]; j; j = next) {
			next = j->next;
			job_free(j);
		}
	P.ctx = NULL;
}
