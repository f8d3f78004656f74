/* SPDX-License-Identifier: MIT */
#ifndef SB_HEADER_OVERFLOW_H
#define SB_HEADER_OVERFLOW_H

#include <libwebsockets.h>

/* A request whose header section outgrows lws's header buffer
 * (max_header_bytes) is dropped by lws 4.1 without any status. This module
 * answers it 431 + JSON instead.
 *
 * lws reports the overflow only through its log ("Ran out of header data
 * space", an error, from inside the parser) and then shuts the socket down;
 * no callback names the connection before that. So the connections still
 * reading their first header section are tracked, and when the log line
 * comes, the one that has received at least max_header_bytes (the kernel's
 * TCP byte count) is the one overflowing: it gets the answer, written straight
 * to the socket before lws closes it. If that is not exactly one connection
 * (or the overflow is on a later keep-alive request), lws's drop stands. */

/* `headers` are the security headers every response gets. */
void header_overflow_init(const struct lws_protocol_vhost_options *headers, int max_header_bytes);

/* A new connection starts reading its first request's headers. */
void header_overflow_track(struct lws *wsi);
/* Its headers are complete (or it is closing): no longer a candidate. */
void header_overflow_untrack(struct lws *wsi);

/* Frees what is still tracked (shutdown). */
void header_overflow_shutdown(void);

#endif
