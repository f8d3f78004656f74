/* SPDX-License-Identifier: MIT */
/* The service's side of systemd's notify protocol (sd_notify(3)): a leaf
 * module the server calls at ready and at drain. The watchdog pet runs on the
 * event loop itself, not on a thread of its own: what systemd must learn is
 * that the loop still turns, and a thread would keep petting a stuck loop. */
#include "sdnotify.h"

#include "log.h"

#ifdef SB_SYSTEMD
#include <stdint.h>
#include <systemd/sd-daemon.h>

static struct {
	struct lws_context *ctx;
	lws_sorted_usec_list_t pet_sul;
	lws_usec_t pet_every;   /* 0: no watchdog */
} W;

static void pet_cb(lws_sorted_usec_list_t *sul)
{
	sd_notify(0, "WATCHDOG=1");
	lws_sul_schedule(W.ctx, 0, sul, pet_cb, W.pet_every);
}

/* sd_watchdog_enabled gives WatchdogSec= in microseconds when systemd asked
 * this very process (WATCHDOG_PID) for pets; pets at half of it leave a whole
 * half-period for a busy pass of the loop. */
static void start_watchdog(struct lws_context *ctx)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec < 2)
		return;
	W.ctx = ctx;
	W.pet_every = (lws_usec_t)(usec / 2);
	log_info("systemd watchdog on", "interval_ms=%llu pet_ms=%llu",
		 (unsigned long long)(usec / 1000), (unsigned long long)(usec / 2000));
	pet_cb(&W.pet_sul);
}

void sdnotify_ready(struct lws_context *ctx, const char *url)
{
	/* 0: not under systemd (no NOTIFY_SOCKET), nothing to say */
	if (sd_notifyf(0, "READY=1\nSTATUS=serving %s", url) > 0)
		start_watchdog(ctx);
}

void sdnotify_stopping(void)
{
	if (W.pet_every) {
		lws_sul_cancel(&W.pet_sul);
		W.pet_every = 0;
	}
	sd_notify(0, "STOPPING=1\nSTATUS=draining");
}

#else /* !SB_SYSTEMD */

void sdnotify_ready(struct lws_context *ctx, const char *url)
{
	(void)ctx;
	(void)url;
}

void sdnotify_stopping(void)
{
}

#endif
