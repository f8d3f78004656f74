/* SPDX-License-Identifier: MIT */
/* systemd's notify protocol for the service (Type=notify): READY=1 once the
 * listeners are up, STOPPING=1 when the drain starts, STATUS= lines, and
 * WATCHDOG=1 pets sent from an lws timer on the event loop, so a loop that
 * stops turning stops petting and systemd restarts the daemon (WatchdogSec=).
 * Built without libsystemd (SB_SYSTEMD off) every call does nothing, and so
 * does every call when the daemon was not started by systemd. */
#ifndef SB_SDNOTIFY_H
#define SB_SDNOTIFY_H
#include <libwebsockets.h>

/* Tells systemd the daemon serves url (STATUS=) and is ready; when the unit
 * has a watchdog, starts petting it from ctx's loop at half its interval.
 * ctx must outlive the timer: sdnotify_stopping cancels it. */
void sdnotify_ready(struct lws_context *ctx, const char *url);

/* Tells systemd the daemon is draining and stops the watchdog pets (the
 * drain is bounded; TimeoutStopSec covers the rest). Safe to call twice or
 * before sdnotify_ready. */
void sdnotify_stopping(void);

#endif
