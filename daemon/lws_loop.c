/* SPDX-License-Identifier: MIT */
/* lws on a libev loop owned here (lws_loop.h), run one pass at a time with
 * ev_run(EVRUN_ONCE) so that the server's group commit still follows each
 * pass. Two lws 4.1 facts shape it:
 *  - lws finds its libev glue as a plugin (libwebsockets-evlib_ev.so, Debian
 *    package libwebsockets-evlib-ev) and fails to create the context without
 *    it; the plugin is looked for first and the poll() loop used if absent
 *    (or if the configuration says event_loop = poll).
 *  - the glue re-arms its one timer with ev_timer_set() + ev_timer_start(),
 *    which do nothing while that timer is pending: a timeout scheduled sooner
 *    than the pending one (the hello deadline, a long-poll's end, a close's
 *    linger) would wait for the later one. A 10 ms lws timer of our own keeps
 *    the pending one never more than 10 ms away, which bounds the lateness.
 *    After 2 s without a socket event the tick slows to 1 s (an idle box
 *    should not wake 100 times a second: 0.5% of a core here); the first
 *    event after that brings it back within a second. Going quiet is also
 *    when the server gives back what a burst freed (on_quiet). */
#include "lws_loop.h"

#include <dlfcn.h>
#include <string.h>

#include <ev.h>

#include "log.h"

#define TICK_BUSY_MS 10
#define TICK_IDLE_MS 1000
#define QUIET_TICKS_TO_IDLE 200   /* 2 s of busy ticks without an event */
#define EV_PLUGIN "libwebsockets-evlib_ev.so"

static struct {
	bool chosen;
	struct ev_loop *loop;     /* NULL: lws's poll() loop */
	void *foreign[1];
	struct lws_context *ctx;
	lws_sorted_usec_list_t tick;
	unsigned last_iteration;  /* ev_iteration() at the last tick */
	unsigned quiet_ticks;
	void (*on_quiet)(void);
} E;

static bool plugin_present(void)
{
	void *h = dlopen(EV_PLUGIN, RTLD_LAZY | RTLD_LOCAL);

	if (!h)
		return false;
	dlclose(h);
	return true;
}

static void choose(bool epoll_allowed)
{
	E.chosen = true;
	if (!epoll_allowed)
		return;
	if (!plugin_present()) {
		log_info("event loop: poll (lws's libev plugin not installed)",
			 "plugin=" EV_PLUGIN);
		return;
	}
	E.loop = ev_loop_new(EVBACKEND_EPOLL);
}

void lws_loop_fill(struct lws_context_creation_info *info, bool epoll_allowed)
{
	if (!E.chosen)
		choose(epoll_allowed);
	if (!E.loop)
		return;
	E.foreign[0] = E.loop;
	info->foreign_loops = E.foreign;
	info->options |= LWS_SERVER_OPTION_LIBEV;
}

/* A tick alone is one loop iteration, and lws's own once-a-second timer one
 * more; a socket event brings at least two (the event, then lws's idle
 * watcher), so more than two since the last tick means there was one. */
static void tick_cb(lws_sorted_usec_list_t *sul)
{
	unsigned it = ev_iteration(E.loop);
	bool idle;

	if (it - E.last_iteration > 2)
		E.quiet_ticks = 0;
	else if (E.quiet_ticks < QUIET_TICKS_TO_IDLE && ++E.quiet_ticks == QUIET_TICKS_TO_IDLE
		 && E.on_quiet)
		E.on_quiet();
	E.last_iteration = it;
	idle = E.quiet_ticks >= QUIET_TICKS_TO_IDLE;
	lws_sul_schedule(E.ctx, 0, sul, tick_cb,
			 (idle ? TICK_IDLE_MS : TICK_BUSY_MS) * LWS_US_PER_MS);
}

void lws_loop_started(struct lws_context *ctx, void (*on_quiet)(void))
{
	E.ctx = ctx;
	E.on_quiet = on_quiet;
	log_info("event loop", "backend=%s", E.loop ? "epoll" : "poll");
	if (E.loop)
		tick_cb(&E.tick);
}

int lws_loop_run_once(struct lws_context *ctx)
{
	if (!E.loop)
		return lws_service(ctx, 0);
	ev_run(E.loop, EVRUN_ONCE);
	return 0;
}

int lws_loop_run_ready(struct lws_context *ctx)
{
	if (!E.loop)
		return lws_service(ctx, -1);   /* lws 4.1: a negative timeout polls without waiting */
	ev_run(E.loop, EVRUN_NOWAIT);
	return 0;
}

void lws_loop_close(void)
{
	if (E.loop)
		ev_loop_destroy(E.loop);
	memset(&E, 0, sizeof(E));
}
