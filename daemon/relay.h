/* SPDX-License-Identifier: MIT */
/* The relay: scans stored and acknowledged, forwarded to desktops in seq
 * order, desktop acks turned into `delivered` receipts, desktop replay from the
 * store, hello/welcome, and WebSocket messages that wait for the write lock.
 * Nothing a client sees depends on data that is not yet committed: acks,
 * forwards and receipts are deferred to the batch (batch.h) and sent after
 * COMMIT; on failure the scans are answered `unavailable`. It calls the
 * session layer (session.h) for every change to a session; the transport
 * (lws_ws.c) and the REST handlers (rest.c) call it. */
#ifndef SB_RELAY_H
#define SB_RELAY_H
#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "message.h"
#include "session.h"
#include "store.h"

/* cfg and st outlive the relay. */
void relay_init(const struct sb_config *cfg, struct store *st);

/* ---- REST-facing (return 0 or an sb_err) ---- */
/* session_scan_put, and the scan is forwarded to the desktops once the batch
 * commits. STORE_EBUSY: nothing stored (see batch_lock_hit). */
int relay_scan_put(struct sess *s, const char *scanner, struct sb_scan *scan,
		   int64_t *seq, bool *duplicate);
/* A desktop's cumulative ack: SB_EINVAL above the committed head; at or below
 * delivered_seq accepted silently; else stored, and the scanners get their
 * `delivered` receipts once the batch commits. */
int relay_ack(struct sess *s, int64_t seq);
/* Scanners of a session as welcome/GET show them: a cJSON array (the
 * caller owns it), NULL without memory. */
void *relay_scanners_json(struct sess *s);

/* ---- WebSocket-facing ---- */
/* Handles one decoded message from peer p (hello included). Errors are answered
 * on p itself (error message or close); the return value is only for metrics. */
int relay_peer_message(struct peer *p, const struct sb_client_msg *m);
/* The transport's queue for p has room again: continue a desktop's replay or
 * a scanner's receipts. */
void relay_peer_writable(struct peer *p);
/* The socket is gone (CLOSED callback): its pending answers and waiting
 * messages are dropped, and it leaves its session. Safe on a peer that never
 * said hello. */
void relay_peer_detach(struct peer *p);

#endif
