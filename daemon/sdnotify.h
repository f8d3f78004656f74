/* SPDX-License-Identifier: MIT */
/* systemd's notify protocol for the service (Type=notify): READY=1 once the
 * listeners are up, STOPPING=1 when the drain starts, STATUS= lines, and
 * WATCHDOG=1 pets sent from an lws timer on the event loop, so a loop that
 * stops turning stops petting and systemd restarts the daemon (WatchdogSec=).
 * When the daemon was not started by systemd ($NOTIFY_SOCKET unset) every
 * call does nothing. */
#ifndef SB_SDNOTIFY_H
#define SB_SDNOTIFY_H
#include <stdint.h>

#include <libwebsockets.h>

/* Sends one notify datagram (NAME=value lines) to $NOTIFY_SOCKET: 1 sent,
 * 0 no socket named (not under systemd), or -errno. */
int sdnotify_send(const char *msg);

/* The watchdog interval systemd gave this process, in microseconds, or 0. */
uint64_t sdnotify_watchdog_usec(void);

/* Tells systemd the daemon serves url (STATUS=) and is ready; when the unit
 * has a watchdog, starts petting it from ctx's loop at half its interval.
 * ctx must outlive the timer: sdnotify_stopping cancels it. */
void sdnotify_ready(struct lws_context *ctx, const char *url);

/* Tells systemd the daemon is draining and stops the watchdog pets (the
 * drain is bounded; TimeoutStopSec covers the rest). Safe to call twice or
 * before sdnotify_ready. */
void sdnotify_stopping(void);

#endif
