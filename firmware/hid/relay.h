/* SPDX-License-Identifier: MIT */
/* The bridge's side of scanbridge.v1: one lws client context holding a
 * WebSocket "link" per live pairing (a gun's current pairing, or a replaced
 * one that still has scans in the outbox), the REST calls of pairing, and a
 * health probe. A link sends `hello` with the pairing's scanner token, then
 * every unacknowledged scan of that pairing from the outbox (original ids,
 * at most RELAY_INFLIGHT unacknowledged at once), and forgets each one when
 * the daemon acks it; it reconnects with backoff when the daemon goes away.
 * What happens is reported through relay_ops, which the status LED/buzzer
 * follows: the bridge needs no other subscription to the daemon. */
#ifndef HID_RELAY_H
#define HID_RELAY_H
#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "outbox.h"

#define RELAY_INFLIGHT 16

enum relay_ev {
	RELAY_REACHABLE,      /* the daemon answered (probe or welcome) */
	RELAY_UNREACHABLE,    /* a connection or probe failed */
	RELAY_WELCOMED,       /* a link is up (pairing) */
	RELAY_ACKED,          /* a scan is stored by the daemon (pairing, id) */
	RELAY_DELIVERED,      /* a desktop took it (pairing, id) */
	RELAY_REFUSED,        /* the daemon refused a scan for good (id, error code) */
	RELAY_DEAD,           /* the pairing's token is dead: kicked/ended (close code) */
};

struct relay_pair_result {
	char session[SB_ID_MAX];
	char scanner[SB_ID_MAX];
	char token[OB_TOKEN_MAX];
};

struct relay_ops {
	void (*event)(void *arg, enum relay_ev ev, int64_t pairing, const char *detail);
	/* POST /pair answered: status is the HTTP status (0: no answer), r is
	 * set on 200. req is relay_pair's req. */
	void (*paired)(void *arg, void *req, int status, const struct relay_pair_result *r);
};

struct relay;

/* Creates the lws context for url ("http(s)://host:port"), trusting cafile
 * (NULL or "": the system store) for https. extra_protocol (may be NULL) is
 * added to the context (the bridge's file-descriptor watcher). Returns 0 and
 * *out, or SB_ECONFIG (bad URL) / SB_EIO after printing why. */
int relay_init(struct relay **out, const char *url, const char *cafile, struct outbox *ob,
	       const struct relay_ops *ops, void *arg,
	       const struct lws_protocols *extra_protocol);
void relay_free(struct relay *r);
struct lws_context *relay_context(struct relay *r);

/* Opens links for every live pairing of the outbox that has none, and closes
 * links of pairings that are no longer live. */
void relay_sync(struct relay *r);
/* A new scan is in the outbox for pairing: send it when the link is up. */
void relay_kick(struct relay *r, int64_t pairing);
/* POST /api/v1/pair {pair_code, name}; ops->paired gets the answer (status 0
 * when there was none), maybe before this returns. Returns 0, or SB_ENOMEM
 * (then paired is never called). */
int relay_pair(struct relay *r, const char *pair_code, const char *name, void *req);
/* GET /healthz; the answer is a RELAY_REACHABLE or RELAY_UNREACHABLE event. */
void relay_probe(struct relay *r);
/* True when some link is welcomed. */
bool relay_any_up(const struct relay *r);

/* ---- inside the relay (relay_http.c) ---- */
struct relay__url {
	char host[256];
	int port;
	bool tls;
	char base[300];
};
int relay__parse_url(const char *s, struct relay__url *u);
extern const struct lws_protocols relay__http_protocol;
void relay__http_connect_info(struct relay *r, struct lws_client_connect_info *i);

#endif
