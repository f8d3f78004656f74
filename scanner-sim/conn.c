/* SPDX-License-Identifier: MIT */
/* WebSocket client connections for scanbridge-sim on one epoll loop (see
 * conn.h). A pass: epoll_wait until the next timer, then for each ready
 * socket one read whose frames are all parsed and dispatched, then the due
 * timers, then one write per connection that has something to send (every
 * frame it owes, built back to back). Server messages reach the owner through
 * sim_conn_ops; nothing else here knows what a scan is.
 *
 * This file holds the loop, a connection's life (connect, lost, reconnect
 * with backoff, the pacing of attempts), what a connection sends (hello,
 * pings, the owner's frames, our close) and the public sim_loop_* and
 * sim_conn_* calls. The socket is conn_sock.c's, the WebSocket protocol on it
 * conn_ws.c's (with ws_frame.c and ws_upgrade.c), the timers sim_timer.c's. */
#include "conn_internal.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "grow.h"
#include "sim.h"
#include "ws_frame.h"

#define TICK_US 50000
#define CLOSE_LINGER_US 5000000       /* our close sent, waiting for the server's */
#define BURST_MAX (64 * 1024)         /* frames built per connection per pass */
#define EVENTS_MAX 512
/* The loop's write buffer: a burst, plus hello, ping and the frame that
 * crosses BURST_MAX. */
#define WBUF (BURST_MAX + 3 * (8 + SIM_FRAME_MAX))

static bool destroying;          /* loop teardown: no callbacks */

static void conn_lost(struct sim_conn *c, int close_code);
static void pump(struct sim_loop *l);

/* ---- a connection's life ---------------------------------------------------------- */

void conn_log(const struct sim_conn *c, const char *what)
{
	if (c->loop->log)
		fprintf(stderr, "scanbridge-sim: %s %s/ws: %s\n",
			c->role == SIM_DESKTOP ? "desktop" : "scanner", c->loop->base, what);
}

void conn_mark_dirty(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;
	struct sim_conn **nd;

	if (c->dirty)
		return;
	nd = sim_reserve_or_stop(l->dirty, &l->cap_dirty, l->n_dirty + 1, sizeof *nd, 64);
	if (!nd)
		return;
	l->dirty = nd;
	l->dirty[l->n_dirty++] = c;
	c->dirty = true;
}

/* Before the upgrade: a failed connection attempt. */
void conn_error(struct sim_conn *c, const char *why)
{
	conn_log(c, why);
	conn_close_socket(c);
	c->loop->connect_failures++;
	conn_lost(c, 0);
}

/* After the upgrade: the connection closed (close_code from the server's close
 * frame, 0 without one). */
void conn_closed(struct sim_conn *c)
{
	if (c->loop->log) {
		char why[32];
		snprintf(why, sizeof why, "closed (%d)", c->close_code);
		conn_log(c, why);
	}
	conn_close_socket(c);
	conn_lost(c, c->close_code);
}

void conn_fail(struct sim_conn *c, const char *why)
{
	if (c->phase < PH_WS) {
		conn_error(c, why);
	} else {
		conn_log(c, why);
		conn_closed(c);
	}
}

static void on_event(struct sim_loop *l, uint64_t key, uint32_t ev)
{
	uint32_t idx = (uint32_t)key, gen = (uint32_t)(key >> 32);
	struct sim_conn *c;

	if (idx >= l->n_all)
		return;
	c = l->all[idx];
	if (c->fd < 0 || c->gen != gen || c->kill)
		return;
	switch (c->phase) {
	case PH_TCP:
		conn_tcp_step(c);
		break;
	case PH_TLS:
		conn_tls_step(c);
		break;
	case PH_UPGRADE:
		if ((ev & EPOLLOUT) && conn_flush_out(c) < 0) {
			conn_error(c, "cannot send the upgrade request");
			return;
		}
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
			conn_upgrade_read(c);
		break;
	default:
		if (ev & EPOLLOUT) {
			if (conn_flush_out(c) < 0) {
				conn_closed(c);
				return;
			}
			if (!c->out_len && c->want)
				conn_mark_dirty(c);
		}
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP) || (c->ssl && (ev & EPOLLOUT)))
			conn_ws_read(c);
		break;
	}
}

/* ---- sending -------------------------------------------------------------------------- */

/* Everything c owes, in one write: hello, or a ping and then the owner's
 * frames while it has more (not while the socket still refuses earlier
 * bytes), or the close of sim_conn_stop; behind any queued pong. Built in
 * the loop's write buffer: only what the socket does not take is copied. Also
 * carries out drops and failed starts. */
static void conn_flush(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;
	char *w = l->wbuf;
	size_t wl = 0;
	bool blocked;

	if (c->failed) {
		c->failed = false;
		l->connect_failures++;
		conn_lost(c, 0);
		return;
	}
	if (c->fd < 0)
		return;
	if (c->kill) {
		conn_close_socket(c);
		conn_lost(c, c->close_code);
		return;
	}
	if (c->phase != PH_WS)
		return;
	blocked = c->events & EPOLLOUT;
	if (c->state != SIM_C_WELCOMED)
		c->want = false;
	if (c->state == SIM_C_DONE) {
		if (c->closing && !c->close_sent) {
			memcpy(w + WS_FRAME_HDR, "\x03\xe8" "bye", 5);     /* 1000 */
			wl += ws_frame_make(w, WS_OP_CLOSE, 5);
			c->close_sent = true;
			conn_deadline(c, CLOSE_LINGER_US);
		}
	} else {
		int n;
		if (!c->hello_sent && c->state == SIM_C_OPEN) {
			c->hello_sent = true;
			n = sb_cmsg_hello(w + wl + WS_FRAME_HDR, SIM_FRAME_MAX, c->token,
					  c->role == SIM_DESKTOP ? c->last_seq : -1);
			if (n > 0)
				wl += ws_frame_make(w + wl, WS_OP_TEXT, (size_t)n);
		}
		if (c->state == SIM_C_WELCOMED && c->ping_due) {
			c->ping_due = false;
			n = sb_cmsg_ping(w + wl + WS_FRAME_HDR, SIM_FRAME_MAX);
			if (n > 0)
				wl += ws_frame_make(w + wl, WS_OP_TEXT, (size_t)n);
		}
		while (c->state == SIM_C_WELCOMED && c->want && !blocked && wl < BURST_MAX) {
			c->more = false;
			n = c->ops->writable(c, w + wl + WS_FRAME_HDR, SIM_FRAME_MAX);
			if (n <= 0) {
				c->want = false;
				break;
			}
			wl += ws_frame_make(w + wl, WS_OP_TEXT, (size_t)n);
			if (!c->more)
				c->want = false;
		}
	}
	if (wl)
		c->last_tx_us = sim_now_us();
	if ((wl || c->out_len > c->out_off) && conn_send(c, w, wl) < 0) {
		conn_closed(c);
		return;
	}
	if (c->want && !(c->events & EPOLLOUT))
		conn_mark_dirty(c);               /* more than one burst: the rest next pass */
}

static void flush_dirty(struct sim_loop *l)
{
	size_t n0 = l->n_dirty;

	if (!n0)
		return;
	for (size_t i = 0; i < n0; i++) {
		struct sim_conn *c = l->dirty[i];
		c->dirty = false;
		conn_flush(c);
	}
	if (l->n_dirty > n0)
		memmove(l->dirty, l->dirty + n0, (l->n_dirty - n0) * sizeof *l->dirty);
	l->n_dirty -= n0;
}

/* ---- connecting, pacing, backoff ------------------------------------------------------ */

static void do_connect(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;

	c->state = SIM_C_CONNECTING;
	c->hello_sent = false;
	c->close_code = 0;
	c->rx_len = 0;
	c->counted = true;
	l->pending++;
	if (conn_open_socket(c) < 0) {
		c->failed = true;        /* reported at the end of the pass, not from in here */
		conn_mark_dirty(c);
	}
}

static void enqueue(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;

	if (c->queued)
		return;
	if (l->w_tail == l->w_cap) {
		if (l->w_head > 0) {
			memmove(l->waiting, l->waiting + l->w_head,
				(l->w_tail - l->w_head) * sizeof *l->waiting);
			l->w_tail -= l->w_head;
			l->w_head = 0;
		} else {
			struct sim_conn **nw = grow_reserve(l->waiting, &l->w_cap, l->w_tail + 1,
							   sizeof *nw, 256);
			if (!nw) {
				fprintf(stderr, "scanbridge-sim: out of memory\n");
				return;
			}
			l->waiting = nw;
		}
	}
	c->state = SIM_C_IDLE;
	c->queued = true;
	l->waiting[l->w_tail++] = c;
}

static void pump(struct sim_loop *l)
{
	while (l->pending < l->max_pending && l->w_head < l->w_tail) {
		struct sim_conn *c = l->waiting[l->w_head++];
		c->queued = false;
		if (c->state == SIM_C_IDLE)
			do_connect(c);
	}
	if (l->w_head == l->w_tail)
		l->w_head = l->w_tail = 0;
}

static void backoff_cb(struct sim_timer *t)
{
	struct sim_conn *c = sim_container_of(t, struct sim_conn, sul);

	if (c->state != SIM_C_BACKOFF)
		return;
	enqueue(c);
	pump(c->loop);
}

static void conn_lost(struct sim_conn *c, int close_code)
{
	struct sim_loop *l = c->loop;
	unsigned delay_ms;

	if (destroying)
		return;
	if (c->counted) {
		c->counted = false;
		l->pending--;
	}
	c->rx_len = 0;
	if (c->ops->lost)
		c->ops->lost(c, close_code);
	if (c->state == SIM_C_DONE) {
		pump(l);
		return;
	}
	if (close_code == 4003 || close_code == 4004) {
		fprintf(stderr, "scanbridge-sim: %s closed %d: its token is dead, not reconnecting\n",
			c->role == SIM_DESKTOP ? "desktop" : "scanner", close_code);
		c->state = SIM_C_DONE;
		l->dead++;
		pump(l);
		return;
	}
	delay_ms = l->backoff_max_ms;
	if (c->attempts < 16 && (l->backoff_min_ms << c->attempts) < l->backoff_max_ms)
		delay_ms = l->backoff_min_ms << c->attempts;
	delay_ms = (unsigned)sim_rand_range(delay_ms / 2, delay_ms);   /* jitter */
	c->attempts++;
	c->state = SIM_C_BACKOFF;
	sim_timer_schedule(l, &c->sul, backoff_cb, (int64_t)delay_ms * 1000);
	pump(l);
}

/* ---- the loop ---------------------------------------------------------------------------- */

static void tick_cb(struct sim_timer *t)
{
	struct sim_loop *l = sim_container_of(t, struct sim_loop, tick);
	int64_t now = sim_now_us();

	pump(l);
	if (now - l->last_ping_scan_us >= 1000000) {
		int64_t idle = (int64_t)l->ping_interval_s * 1000000;
		l->last_ping_scan_us = now;
		for (size_t i = 0; i < l->n_all; i++) {
			struct sim_conn *c = l->all[i];
			if (c->state == SIM_C_WELCOMED && now - c->last_tx_us >= idle) {
				c->ping_due = true;
				sim_conn_want_write(c);
			}
		}
	}
	if (l->on_tick)
		l->on_tick(l, l->tick_arg);
	sim_timer_schedule(l, &l->tick, tick_cb, TICK_US);
}

int sim_loop_init(struct sim_loop *l, const struct sim_url *u)
{
	const char *dbg = getenv("SIM_LWS_LOG");

	memset(l, 0, sizeof *l);
	l->ep = -1;
	snprintf(l->host, sizeof l->host, "%s", u->host);
	snprintf(l->base, sizeof l->base, "%s", u->base);
	l->url = *u;
	l->port = u->port;
	l->tls = u->tls;
	l->insecure = u->insecure;
	l->backoff_min_ms = 100;
	l->backoff_max_ms = 5000;
	l->max_pending = 256;
	l->ping_interval_s = 30;
	l->log = dbg && *dbg && strcmp(dbg, "0") != 0;
	l->scratch = malloc(SCRATCH + 1);
	l->wbuf = malloc(WBUF);
	if (!l->scratch || !l->wbuf) {
		fprintf(stderr, "scanbridge-sim: out of memory\n");
		return -1;
	}
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		fprintf(stderr, "scanbridge-sim: epoll_create1: %s\n", strerror(errno));
		return -1;
	}
	ws_mask_seed(((uint64_t)sim_now_us() << 20) ^ (uint64_t)getpid() ^
		     (uint64_t)(uintptr_t)l ^ 0x9E3779B97F4A7C15ull);
	destroying = false;
	l->last_ping_scan_us = sim_now_us();
	sim_timer_schedule(l, &l->tick, tick_cb, TICK_US);
	return 0;
}

void sim_loop_free(struct sim_loop *l)
{
	if (l->scratch) {            /* initialised */
		destroying = true;
		for (size_t i = 0; i < l->n_all; i++) {
			conn_close_socket(l->all[i]);
			l->all[i]->dirty = false;
		}
		if (l->ep >= 0)
			close(l->ep);
		if (l->addrs)
			freeaddrinfo(l->addrs);
	}
	sim_timer_free_all(l);
	free(l->dirty);
	free(l->scratch);
	free(l->wbuf);
	free(l->waiting);
	free(l->all);
	l->dirty = NULL;
	l->scratch = NULL;
	l->wbuf = NULL;
	l->waiting = NULL;
	l->all = NULL;
	l->addrs = NULL;
	l->ep = -1;
	l->n_dirty = l->cap_dirty = 0;
	l->n_all = l->cap_all = l->w_cap = l->w_head = l->w_tail = 0;
}

/* Waits in epoll for the next timer (sim_timer_wait_ms), not at all when
 * writes are owed. */
void sim_loop_service(struct sim_loop *l)
{
	struct epoll_event evs[EVENTS_MAX];
	int n;

	l->passes++;
	n = epoll_wait(l->ep, evs, EVENTS_MAX, l->n_dirty ? 0 : sim_timer_wait_ms(l));
	for (int i = 0; i < n; i++)
		on_event(l, evs[i].data.u64, evs[i].events);
	sim_timer_run_due(l);
	flush_dirty(l);
}

/* ---- connections ------------------------------------------------------------------------- */

int sim_conn_init(struct sim_conn *c, struct sim_loop *l, enum sim_role role,
		  const char *token, int64_t last_seq, const struct sim_conn_ops *ops,
		  void *user)
{
	struct sim_conn **na;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->loop = l;
	c->role = role;
	c->ops = ops;
	c->user = user;
	c->last_seq = last_seq;
	c->token = strdup(token);
	if (!c->token)
		return -1;
	na = grow_reserve(l->all, &l->cap_all, l->n_all + 1, sizeof *na, 64);
	if (!na || l->n_all >= UINT32_MAX) {
		free(c->token);
		c->token = NULL;
		if (na)
			l->all = na;
		return -1;
	}
	l->all = na;
	c->index = (uint32_t)l->n_all;
	l->all[l->n_all++] = c;
	return 0;
}

void sim_conn_free(struct sim_conn *c)
{
	if (c->loop && c->fd >= 0)     /* c->loop: set up (a zeroed struct has fd 0) */
		conn_close_socket(c);
	free(c->token);
	free(c->rx);
	free(c->in);
	free(c->out);
	c->token = NULL;
	c->rx = c->in = c->out = NULL;
	c->rx_cap = c->in_cap = c->out_cap = 0;
}

void sim_conn_start(struct sim_conn *c)
{
	enqueue(c);
	pump(c->loop);
}

void sim_conn_want_write(struct sim_conn *c)
{
	if (c->fd >= 0 && c->state == SIM_C_WELCOMED) {
		c->want = true;
		conn_mark_dirty(c);
	}
}

void sim_conn_drop(struct sim_conn *c)
{
	if (c->fd >= 0 && (c->state == SIM_C_OPEN || c->state == SIM_C_WELCOMED)) {
		c->loop->drops++;
		c->kill = true;              /* closed at the end of the pass, no close frame */
		conn_mark_dirty(c);
	}
}

void sim_conn_stop(struct sim_conn *c)
{
	enum sim_conn_state was = c->state;

	c->state = SIM_C_DONE;
	sim_timer_cancel(&c->sul);
	if (c->fd < 0)
		return;
	if ((was == SIM_C_OPEN || was == SIM_C_WELCOMED) && c->phase == PH_WS)
		c->closing = true;           /* sends a close 1000 */
	else
		c->kill = true;
	conn_mark_dirty(c);
}

void sim_conn_reconnect_now(struct sim_conn *c)
{
	if (c->state != SIM_C_BACKOFF)
		return;
	sim_timer_cancel(&c->sul);
	c->attempts = 0;
	enqueue(c);
	pump(c->loop);
}
