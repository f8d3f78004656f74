/* SPDX-License-Identifier: MIT */
/* The event loop under lws (transport layer): epoll through lws's libev
 * plugin when it is installed, lws's own poll() loop otherwise. poll() looks
 * at every connection on every pass: at 1,000 scans/s over 1,000 sockets it
 * was ~60% of the daemon's CPU (docs/benchmarks.md, Performance II). */
#ifndef SB_LWS_LOOP_H
#define SB_LWS_LOOP_H
#include <stdbool.h>

#include <libwebsockets.h>

/* Chooses the loop (once: epoll if allowed and lws's libev plugin is
 * installed) and sets info's foreign loop and option for it. */
void lws_loop_fill(struct lws_context_creation_info *info, bool epoll_allowed);
/* After the context exists: the libev loop's timer tick (see lws_loop.c).
 * on_quiet (may be NULL) runs each time the epoll loop has gone 2 s without a
 * socket event; the poll() loop never calls it. */
void lws_loop_started(struct lws_context *ctx, void (*on_quiet)(void));
/* One pass: waits for the next event or timer and services it. <0: stop. */
int lws_loop_run_once(struct lws_context *ctx);
/* One pass that does not wait: services what is ready now. <0: stop. */
int lws_loop_run_ready(struct lws_context *ctx);
/* After lws_context_destroy: frees the libev loop. */
void lws_loop_close(void);

#endif
