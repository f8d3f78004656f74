/* SPDX-License-Identifier: MIT */
/* The bridge's on-disk state (SQLite): each gun's pairing (session, scanner
 * token) and the outbox of scans not yet acknowledged by the daemon. A scan
 * gets its protocol id when it is stored — "h<box>-<n>", <box> random per
 * outbox file, <n> never reused — and is resent with that id until the
 * daemon acks it, across daemon restarts and bridge restarts: the daemon
 * de-duplicates by id, so each scan is stored exactly once. Commits are
 * synchronous=FULL: a scan is a person's action, a few a second at most. */
#ifndef HID_OUTBOX_H
#define HID_OUTBOX_H
#include <stddef.h>
#include <stdint.h>

#include "barcode.h"
#include "message.h"

#define OB_GUN_MAX 160
#define OB_TOKEN_MAX 1100

struct outbox;

struct ob_pairing {
	int64_t id;
	char gun[OB_GUN_MAX];          /* the gun's stable key (serial or path) */
	char session[SB_ID_MAX];
	char scanner[SB_ID_MAX];
	char token[OB_TOKEN_MAX];
	int current;                   /* 1: the gun's pairing now; 0: replaced */
};

struct ob_scan {
	int64_t n;                     /* storage order */
	char id[SB_SCAN_ID_MAX + 1];
	char code[SB_CODE_MAX_BYTES + 1];
	int64_t scanned_at;            /* ms */
};

/* Opens (creates) the outbox file. Returns 0 and *out, or SB_EIO. */
int outbox_open(struct outbox **out, const char *path);
void outbox_close(struct outbox *ob);

/* Records a new pairing of gun and makes it the gun's current one (the earlier
 * one stays while it has scans to send). *id (may be NULL) gets its id.
 * Returns 0 or SB_EIO. */
int outbox_pair(struct outbox *ob, const char *gun, const char *session,
		const char *scanner, const char *token, int64_t *id);
/* The gun's current pairing: 0, SB_ENOTFOUND, SB_EIO. */
int outbox_current(struct outbox *ob, const char *gun, struct ob_pairing *out);
int outbox_pairing(struct outbox *ob, int64_t id, struct ob_pairing *out);
/* A pairing whose token is dead (kicked, session ended or expired): drops it
 * and its unsent scans. Returns the number of scans dropped, or SB_EIO. */
int outbox_pairing_dead(struct outbox *ob, int64_t id);
/* Calls cb for each pairing that is current or still has scans (ids in
 * creation order). Returns 0 or SB_EIO. */
int outbox_live_pairings(struct outbox *ob, void (*cb)(void *arg, const struct ob_pairing *p),
			 void *arg);

/* Stores a scan for pairing; id (SB_SCAN_ID_MAX + 1 bytes) gets its id.
 * Returns 0 or SB_EIO. */
int outbox_add(struct outbox *ob, int64_t pairing, const char *code, int64_t scanned_at,
	       char *id);
/* The daemon acknowledged id: forget it (and a replaced pairing with no scans
 * left). Returns 0 (also for an unknown id) or SB_EIO. */
int outbox_acked(struct outbox *ob, const char *id);
/* Drops one scan the daemon refused for good (invalid). 0 or SB_EIO. */
int outbox_drop(struct outbox *ob, const char *id);
/* Calls cb for each unacknowledged scan of pairing, oldest first. Returns the
 * count, or SB_EIO. */
int outbox_pending(struct outbox *ob, int64_t pairing,
		   void (*cb)(void *arg, const struct ob_scan *s), void *arg);
/* The oldest unacknowledged scan of pairing stored after n (n = 0: the
 * oldest). Returns 1 with *out set, 0 when there is none, or SB_EIO. */
int outbox_next(struct outbox *ob, int64_t pairing, int64_t n, struct ob_scan *out);
/* Unacknowledged scans of every pairing. */
int outbox_count(struct outbox *ob);

#endif
