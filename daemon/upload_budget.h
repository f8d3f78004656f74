/* SPDX-License-Identifier: MIT */
/* One budget for the image bytes the daemon holds in memory at once, across
 * every connection: REST uploads being received, WebSocket binary messages
 * being reassembled, and images waiting for or at the decoder. Without it each
 * connection's own cap (max_image_bytes) multiplies by the connections an
 * attacker opens (12 uploads of 8 MiB took RSS from 9 to ~105 MB).
 *
 * Bytes are taken on the loop thread as they arrive and given back by
 * whichever thread frees the buffer (the decode workers too): the counter is
 * atomic. Leaf module: no lws, no SQL. */
#ifndef SB_UPLOAD_BUDGET_H
#define SB_UPLOAD_BUDGET_H
#include <stdbool.h>
#include <stddef.h>

/* Sets the cap in bytes (0 = the budget is empty: every take fails). */
void upload_budget_init(size_t cap);

/* Takes n bytes: true when they fit under the cap (then they must be given
 * back with upload_budget_give once the buffer is freed), false otherwise
 * (nothing taken). */
bool upload_budget_take(size_t n);

/* Gives back n bytes taken before. */
void upload_budget_give(size_t n);

/* Bytes taken now (for /metrics and tests). */
size_t upload_budget_used(void);

#endif
