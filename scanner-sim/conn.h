/* SPDX-License-Identifier: MIT */
/* WebSocket client connections of scanbridge-sim: one epoll loop holds any
 * number of desktop and scanner connections to ws://host:port/ws, or wss://
 * for an https URL (subprotocol scanbridge.v1). The WebSocket client (RFC 6455
 * upgrade, masked client frames, fragment reassembly, close handshake, pong)
 * and the non-blocking TLS (OpenSSL, the REST client's SSL_CTX) are our own: a
 * load generator must cost less than the daemon it measures, so a pass costs
 * one epoll_wait, one read per readable socket and one write per connection
 * with something to say, however many frames that is (a scanner's burst of
 * scans, a desktop's ack with a pong). A certificate it does not trust stops
 * the run (sim_stop): that is a set-up error, not a network failure to retry.
 * This layer sends `hello` (and `ping` every 30 s), decodes server messages,
 * paces connection attempts, and reconnects dropped connections with
 * exponential backoff and jitter. What to send is the owner's business,
 * through the callbacks of struct sim_conn_ops. Timers (struct sim_timer,
 * sim_timer.h) run on the same loop. */
#ifndef SIM_CONN_H
#define SIM_CONN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h" /* proto/: the wire messages of a client */
#include "http.h"   /* struct sim_url */
#include "sim_timer.h" /* struct sim_timer, sim_timer_schedule / cancel */

#define SIM_FRAME_MAX 8192   /* largest frame an owner may ask to send */

#define sim_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct sim_loop;

enum sim_role { SIM_DESKTOP, SIM_SCANNER };

enum sim_conn_state {
	SIM_C_IDLE,        /* not started, or waiting for a connect slot */
	SIM_C_CONNECTING,  /* TCP / TLS / upgrade in progress */
	SIM_C_OPEN,        /* upgraded, hello sent or about to be */
	SIM_C_WELCOMED,    /* welcome received: the owner may send */
	SIM_C_BACKOFF,     /* lost; a reconnect is scheduled */
	SIM_C_DONE,        /* stopped, or the token is dead (close 4003/4004) */
};

struct sim_conn;

struct sim_conn_ops {
	/* Every decoded server message (welcome included, after the state changed). */
	void (*message)(struct sim_conn *c, const struct sb_server_msg *m,
			const char *raw, size_t len);
	/* The connection may send: write at most cap bytes of one JSON text into
	 * buf and return its length, or 0 when there is nothing to send. Set
	 * c->more when another frame is ready right away: it is asked again and
	 * the frames go out in one write. Only called once welcomed, after
	 * sim_conn_want_write (or a welcome). */
	int (*writable)(struct sim_conn *c, char *buf, size_t cap);
	/* The connection was lost (close_code 0 for a network error or a failed
	 * connect); called before the reconnect is scheduled. May be NULL. */
	void (*lost)(struct sim_conn *c, int close_code);
};

struct sim_conn {
	struct sim_loop *loop;
	const struct sim_conn_ops *ops;
	void *user;
	enum sim_role role;
	char *token;              /* owned (strdup'd) */
	int64_t last_seq;         /* desktop hello last_seq; the owner keeps it current */
	enum sim_conn_state state;
	bool hello_sent, ping_due, counted, queued, more;
	unsigned attempts;        /* failed attempts since the last welcome */
	int close_code;           /* of the last close, 0 if none */
	int64_t last_tx_us;
	uint64_t welcomes;        /* how many times it was welcomed */
	struct sim_timer sul;     /* reconnect backoff */
	/* The socket (conn_sock.c's and conn_ws.c's business). fd >= 0 while there is one. */
	int fd;
	void *ssl;                /* SSL *, wss:// only */
	uint32_t gen;             /* bumped per socket: stale epoll events are ignored */
	uint32_t index;           /* in loop->all */
	uint32_t events;          /* registered with epoll */
	uint8_t phase;            /* TCP connect, TLS, upgrade, WebSocket */
	bool want, dirty, closing, close_sent, kill, failed, peer_closed, fatal, rx_frag;
	struct sim_timer hs_timer;/* connect / handshake / close deadline */
	char accept[32];          /* expected Sec-WebSocket-Accept */
	char *in;                 /* received, not yet parsed (partial frame, headers) */
	size_t in_len, in_cap;
	char *rx;                 /* fragmented message being reassembled */
	size_t rx_len, rx_cap;
	char *out;                /* frames not yet written */
	size_t out_off, out_len, out_cap;
};

struct sim_loop {
	int ep;                   /* epoll fd, -1 before init */
	char host[256];
	int port;
	bool tls, insecure;       /* wss://; no certificate checks */
	char base[300];           /* the daemon's http(s)://host:port, the Origin */
	struct sim_url url;       /* for TLS: the trust settings */
	void *addrs;              /* struct addrinfo * of host, resolved once */
	unsigned addr_pref;       /* which of them to dial */
	uint64_t cert_failures;   /* handshakes refused for the certificate */
	unsigned backoff_min_ms, backoff_max_ms;
	unsigned max_pending;     /* connection attempts in flight at once */
	unsigned pending;
	unsigned ping_interval_s;
	struct sim_conn **waiting;     /* FIFO of conns waiting for a connect slot */
	size_t w_head, w_tail, w_cap;
	struct sim_conn **all;         /* every conn, for pings */
	size_t n_all, cap_all;
	uint64_t reconnects, drops, connect_failures, dead;
	uint64_t passes;          /* event loop passes (sim_loop_service calls) */
	int64_t last_ping_scan_us;
	struct sim_timer tick;
	void (*on_tick)(struct sim_loop *l, void *arg);   /* every 50 ms; may be NULL */
	void *tick_arg;
	struct sim_timer **heap;       /* timers, a binary min-heap on due_us */
	size_t n_heap, cap_heap;
	struct sim_conn **dirty;       /* conns with something to write or do */
	size_t n_dirty, cap_dirty;
	char *scratch;                 /* read buffer */
	char *wbuf;                    /* frames being built (conn.c, conn_ws.c) */
	bool log;                      /* SIM_LWS_LOG: connection errors on stderr */
};

/* Sets up the loop for ws://host:port/ws, or wss:// with u's trust settings
 * when u->tls. Returns 0 or -1 after printing why. u is copied. */
int sim_loop_init(struct sim_loop *l, const struct sim_url *u);
/* Closes every connection (no callbacks) and frees the loop; conn structs stay
 * the owner's, call sim_conn_free on each afterwards. */
void sim_loop_free(struct sim_loop *l);
/* One pass of the event loop (waits at most until the next timer). */
void sim_loop_service(struct sim_loop *l);

/* Sets up c (token is copied). last_seq: desktop hello value, -1 for a scanner. */
int sim_conn_init(struct sim_conn *c, struct sim_loop *l, enum sim_role role,
		  const char *token, int64_t last_seq, const struct sim_conn_ops *ops,
		  void *user);
void sim_conn_free(struct sim_conn *c);
/* Queues a connection attempt (paced by max_pending). */
void sim_conn_start(struct sim_conn *c);
/* Asks for a writable call at the end of this pass (no-op unless welcomed). */
void sim_conn_want_write(struct sim_conn *c);
/* Drops the connection abruptly (no close handshake), as a network failure
 * would; it reconnects with backoff. */
void sim_conn_drop(struct sim_conn *c);
/* Closes for good: no reconnect. */
void sim_conn_stop(struct sim_conn *c);
/* If waiting in backoff, reconnects now (after the daemon is back). */
void sim_conn_reconnect_now(struct sim_conn *c);
/* A socket is open (connecting, open, or closing). */
static inline bool sim_conn_has_socket(const struct sim_conn *c)
{
	return c->fd >= 0;
}

#endif
