/* SPDX-License-Identifier: MIT */
/* WebSocket client connections for scanbridge-sim on one epoll loop (see
 * conn.h). A pass: epoll_wait until the next timer, then for each ready
 * socket one read whose frames are all parsed and dispatched, then the due
 * timers, then one write per connection that has something to send (every
 * frame it owes, built back to back). Server messages reach the owner through
 * sim_conn_ops; nothing else here knows what a scan is. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE            /* memmem */
#endif
#include "conn.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sb_err.h"
#include "sim.h"
#include "grow.h"

#define SUBPROTOCOL "scanbridge.v1"
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define RX_MAX (64 * 1024)        /* reassembled message limit (server: 16 KiB) */
#define TICK_US 50000
#define CONNECT_TIMEOUT_US 5000000    /* TCP connect */
#define HANDSHAKE_TIMEOUT_US 10000000 /* TLS handshake + upgrade answer */
#define CLOSE_LINGER_US 5000000       /* our close sent, waiting for the server's */
#define SCRATCH (64 * 1024)           /* one read */
#define HDR_MAX 16384                 /* upgrade answer headers */
#define BURST_MAX (64 * 1024)         /* frames built per connection per pass */
#define EVENTS_MAX 512
/* The loop's write buffer: a burst, plus hello, ping and the frame that
 * crosses BURST_MAX. */
#define WBUF (BURST_MAX + 3 * (8 + SIM_FRAME_MAX))

enum { PH_TCP, PH_TLS, PH_UPGRADE, PH_WS };
enum { OP_CONT = 0x0, OP_TEXT = 0x1, OP_BINARY = 0x2, OP_CLOSE = 0x8, OP_PING = 0x9,
       OP_PONG = 0xA };

static bool destroying;          /* loop teardown: no callbacks */

static void conn_lost(struct sim_conn *c, int close_code);
static void pump(struct sim_loop *l);
static void ws_read(struct sim_conn *c);
static void ws_feed(struct sim_conn *c, char *data, size_t n);

/* ---- timers: a binary min-heap ------------------------------------------------ */

static void heap_put(struct sim_loop *l, size_t i, struct sim_timer *t)
{
	l->heap[i] = t;
	t->pos = i + 1;
}

static void heap_up(struct sim_loop *l, size_t i)
{
	struct sim_timer *t = l->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->due_us <= t->due_us)
			break;
		heap_put(l, i, l->heap[p]);
		i = p;
	}
	heap_put(l, i, t);
}

static void heap_down(struct sim_loop *l, size_t i)
{
	struct sim_timer *t = l->heap[i];

	for (;;) {
		size_t ch = 2 * i + 1;
		if (ch >= l->n_heap)
			break;
		if (ch + 1 < l->n_heap && l->heap[ch + 1]->due_us < l->heap[ch]->due_us)
			ch++;
		if (t->due_us <= l->heap[ch]->due_us)
			break;
		heap_put(l, i, l->heap[ch]);
		i = ch;
	}
	heap_put(l, i, t);
}

void sim_timer_cancel(struct sim_timer *t)
{
	struct sim_loop *l = t->loop;
	size_t i;

	if (!t->pos || !l)
		return;
	i = t->pos - 1;
	t->pos = 0;
	if (i >= --l->n_heap)
		return;
	heap_put(l, i, l->heap[l->n_heap]);
	if (i > 0 && l->heap[i]->due_us < l->heap[(i - 1) / 2]->due_us)
		heap_up(l, i);
	else
		heap_down(l, i);
}

void sim_timer_schedule(struct sim_loop *l, struct sim_timer *t,
			void (*cb)(struct sim_timer *t), int64_t delay_us)
{
	struct sim_timer **nh;

	sim_timer_cancel(t);
	nh = grow_reserve(l->heap, &l->cap_heap, l->n_heap + 1, sizeof *nh, 64);
	if (!nh) {
		fprintf(stderr, "scanbridge-sim: out of memory\n");
		sim_stop = 1;
		return;
	}
	l->heap = nh;
	t->loop = l;
	t->cb = cb;
	t->due_us = sim_now_us() + (delay_us < 1 ? 1 : delay_us);
	l->heap[l->n_heap++] = t;
	heap_up(l, l->n_heap - 1);
}

static void run_timers(struct sim_loop *l)
{
	int64_t now = sim_now_us();

	while (l->n_heap && l->heap[0]->due_us <= now) {
		struct sim_timer *t = l->heap[0];
		sim_timer_cancel(t);
		t->cb(t);
	}
}

/* ---- small helpers --------------------------------------------------------------- */

/* Masks and handshake keys need no secrecy here, and drawing them from
 * sim_rand would change what a --seed run does: a generator of their own. */
static uint64_t mask_state;

static uint32_t mask_rand(void)
{
	mask_state ^= mask_state >> 12;
	mask_state ^= mask_state << 25;
	mask_state ^= mask_state >> 27;
	return (uint32_t)((mask_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static void conn_log(const struct sim_conn *c, const char *what)
{
	if (c->loop->log)
		fprintf(stderr, "scanbridge-sim: %s %s/ws: %s\n",
			c->role == SIM_DESKTOP ? "desktop" : "scanner", c->loop->base, what);
}

static void mark_dirty(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;
	struct sim_conn **nd;

	if (c->dirty)
		return;
	nd = grow_reserve(l->dirty, &l->cap_dirty, l->n_dirty + 1, sizeof *nd, 64);
	if (!nd) {
		fprintf(stderr, "scanbridge-sim: out of memory\n");
		sim_stop = 1;
		return;
	}
	l->dirty = nd;
	l->dirty[l->n_dirty++] = c;
	c->dirty = true;
}

static int set_events(struct sim_conn *c, uint32_t events)
{
	struct epoll_event ev;

	if (c->events == events)
		return 0;
	memset(&ev, 0, sizeof ev);
	ev.events = events;
	ev.data.u64 = (uint64_t)c->gen << 32 | c->index;
	if (epoll_ctl(c->loop->ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -1;
	c->events = events;
	return 0;
}

/* Room for n more bytes (+1 for a NUL) in the receive buffer. */
static bool in_reserve(struct sim_conn *c, size_t n)
{
	char *nb = grow_reserve(c->in, &c->in_cap, c->in_len + n + 1, 1, 1024);

	if (!nb)
		return false;
	c->in = nb;
	return true;
}

/* Queues n bytes behind what c->out already holds. 0 or -1 (out of memory). */
static int out_append(struct sim_conn *c, const void *p, size_t n)
{
	char *nb;

	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
	} else if (c->out_off && c->out_len + n > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	nb = grow_reserve(c->out, &c->out_cap, c->out_len + n, 1, 256);
	if (!nb)
		return -1;
	c->out = nb;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/* ---- frames -------------------------------------------------------------------------
 * A client frame: FIN + opcode, MASK + length (7 bits, or 126 + 16 bits; our
 * frames are < 64 KiB), the 4-byte mask, the masked payload. The payload is
 * written at b + FRAME_HDR (room for the longest header); frame_make builds
 * the frame from b for the payload's real length and returns its size. */
#define FRAME_HDR 8

static size_t frame_make(char *buf, unsigned op, size_t n)
{
	unsigned char *b = (unsigned char *)buf, *p;
	uint32_t m = mask_rand();
	unsigned char mk[4] = { (unsigned char)m, (unsigned char)(m >> 8),
				(unsigned char)(m >> 16), (unsigned char)(m >> 24) };

	b[0] = (unsigned char)(0x80 | op);
	if (n < 126) {
		memmove(b + 6, b + FRAME_HDR, n);
		b[1] = (unsigned char)(0x80 | n);
		p = b + 2;
	} else {
		b[1] = 0x80 | 126;
		b[2] = (unsigned char)(n >> 8);
		b[3] = (unsigned char)n;
		p = b + 4;
	}
	memcpy(p, mk, 4);
	p += 4;
	for (size_t i = 0; i < n; i++)
		p[i] ^= mk[i & 3];
	return (size_t)(p - b) + n;
}

/* Queues a small frame (control frames: n <= 125) on c->out. 0 or -1. */
static int frame_queue(struct sim_conn *c, unsigned op, const void *data, size_t n)
{
	char f[FRAME_HDR + 125];

	if (n > 125)
		return -1;
	memcpy(f + FRAME_HDR, data, n);
	return out_append(c, f, frame_make(f, op, n));
}

/* ---- the socket -------------------------------------------------------------------- */

static void close_socket(struct sim_conn *c)
{
	sim_timer_cancel(&c->hs_timer);
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
	c->events = 0;
	c->phase = PH_TCP;
	c->in_len = c->rx_len = c->out_off = c->out_len = 0;
	c->want = c->closing = c->close_sent = c->kill = false;
	c->peer_closed = c->fatal = c->rx_frag = false;
}

/* Before the upgrade: a failed connection attempt. */
static void conn_error(struct sim_conn *c, const char *why)
{
	conn_log(c, why);
	close_socket(c);
	c->loop->connect_failures++;
	conn_lost(c, 0);
}

/* After the upgrade: the connection closed (close_code from the server's close
 * frame, 0 without one). */
static void conn_closed(struct sim_conn *c)
{
	if (c->loop->log) {
		char why[32];
		snprintf(why, sizeof why, "closed (%d)", c->close_code);
		conn_log(c, why);
	}
	close_socket(c);
	conn_lost(c, c->close_code);
}

static void conn_fail(struct sim_conn *c, const char *why)
{
	if (c->phase < PH_WS) {
		conn_error(c, why);
	} else {
		conn_log(c, why);
		conn_closed(c);
	}
}

/* >0 bytes read, 0 at the end of the stream, -1 on an error, -2 nothing now. */
static ssize_t sock_read(struct sim_conn *c, char *buf, size_t cap)
{
	if (c->ssl) {
		size_t got = 0;
		int e;
		ERR_clear_error();
		if (SSL_read_ex(c->ssl, buf, cap, &got) == 1)
			return (ssize_t)got;
		e = SSL_get_error(c->ssl, 0);
		if (e == SSL_ERROR_WANT_READ)
			return -2;
		if (e == SSL_ERROR_WANT_WRITE)
			return set_events(c, c->events | EPOLLOUT) < 0 ? -1 : -2;
		ERR_clear_error();
		return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
	for (;;) {
		ssize_t n = recv(c->fd, buf, cap, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
	}
}

/* Writes as much of p as the socket takes now: the bytes written, or -1
 * when the socket is dead. */
static ssize_t sock_write(struct sim_conn *c, const char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w;
		if (c->ssl) {
			size_t wrote = 0;
			int e;
			ERR_clear_error();
			if (SSL_write_ex(c->ssl, p + done, n - done, &wrote) == 1) {
				done += wrote;
				continue;
			}
			e = SSL_get_error(c->ssl, 0);
			ERR_clear_error();
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
				break;
			return -1;
		}
		w = send(c->fd, p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			done += (size_t)w;
			if (done < n)
				break;           /* the socket buffer is full */
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return -1;
	}
	return (ssize_t)done;
}

/* Writes what c->out holds, as far as the socket takes it; watches for
 * writability while something is left. 0, or -1 when the socket is dead. */
static int flush_out(struct sim_conn *c)
{
	if (c->out_off < c->out_len) {
		ssize_t w = sock_write(c, c->out + c->out_off, c->out_len - c->out_off);
		if (w < 0)
			return -1;
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return set_events(c, EPOLLIN | (c->out_len ? EPOLLOUT : 0));
}

/* Sends p (frames built in the loop's write buffer) behind whatever c->out
 * holds; what the socket does not take now is queued. 0, or -1 when the
 * socket is dead (or out of memory). */
static int send_now(struct sim_conn *c, const char *p, size_t n)
{
	ssize_t w = 0;

	if (c->out_len == c->out_off) {
		w = sock_write(c, p, n);
		if (w < 0)
			return -1;
	}
	if ((size_t)w < n && out_append(c, p + w, n - (size_t)w) < 0)
		return -1;
	return flush_out(c);
}

static const struct addrinfo *pick_addr(struct sim_loop *l)
{
	const struct addrinfo *ai;
	unsigned n = 0;

	if (!l->addrs) {
		struct addrinfo hints, *res = NULL;
		char port[16];
		int rc;
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		snprintf(port, sizeof port, "%d", l->port);
		rc = getaddrinfo(l->host, port, &hints, &res);
		if (rc != 0 || !res) {
			if (l->log)
				fprintf(stderr, "scanbridge-sim: cannot resolve %s: %s\n", l->host,
					gai_strerror(rc));
			return NULL;
		}
		l->addrs = res;
	}
	for (ai = l->addrs; ai; ai = ai->ai_next)
		n++;
	n = l->addr_pref % n;
	for (ai = l->addrs; n--; ai = ai->ai_next)
		;
	return ai;
}

static void hs_timeout_cb(struct sim_timer *t)
{
	struct sim_conn *c = sim_container_of(t, struct sim_conn, hs_timer);

	if (c->fd < 0)
		return;
	conn_fail(c, c->phase < PH_WS ? "timed out connecting" : "no close answer");
}

/* Opens the socket and starts a non-blocking connect. 0 or -1 (nothing open). */
static int open_socket(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;
	const struct addrinfo *ai = pick_addr(l);
	int fd, one = 1;

	if (!ai)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		conn_log(c, strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		conn_log(c, strerror(errno));
		l->addr_pref++;          /* another address of the name next time, if any */
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->gen++;
	c->phase = PH_TCP;
	c->events = 0;
	if (set_events(c, EPOLLOUT) < 0) {
		conn_log(c, strerror(errno));
		close_socket(c);
		return -1;
	}
	sim_timer_schedule(l, &c->hs_timer, hs_timeout_cb, CONNECT_TIMEOUT_US);
	return 0;
}

/* ---- the handshake: TCP, TLS, upgrade ------------------------------------------------ */

static void established(struct sim_conn *c)
{
	sim_timer_cancel(&c->hs_timer);
	c->phase = PH_WS;
	c->state = SIM_C_OPEN;
	c->hello_sent = false;
	c->rx_len = 0;
	c->rx_frag = false;
	mark_dirty(c);               /* hello */
}

static void start_upgrade(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;
	unsigned char key[16], sha[SHA_DIGEST_LENGTH];
	char k64[32], cat[80], *p;
	int n;

	for (int i = 0; i < 16; i += 4) {
		uint32_t r = mask_rand();
		memcpy(key + i, &r, 4);
	}
	EVP_EncodeBlock((unsigned char *)k64, key, sizeof key);
	snprintf(cat, sizeof cat, "%s" WS_GUID, k64);
	SHA1((const unsigned char *)cat, strlen(cat), sha);
	EVP_EncodeBlock((unsigned char *)c->accept, sha, sizeof sha);
	p = l->wbuf;
	/* The Host is the URL's host:port (the certificate's name is checked
	 * separately); Origin the daemon's own base, which its origin check allows. */
	n = snprintf(p, 1024,
		     "GET /ws HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Origin: %s\r\n"
		     "Sec-WebSocket-Protocol: " SUBPROTOCOL "\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "\r\n", strstr(l->base, "://") + 3, k64, l->base);
	if (n <= 0 || n >= 1024) {
		conn_error(c, "upgrade request too long");
		return;
	}
	c->phase = PH_UPGRADE;
	c->in_len = 0;
	if (send_now(c, p, (size_t)n) < 0)
		conn_error(c, "cannot send the upgrade request");
}

static void tls_step(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;
	long vr;
	int rc, e;

	ERR_clear_error();
	rc = SSL_connect(c->ssl);
	if (rc == 1) {
		start_upgrade(c);
		return;
	}
	e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (set_events(c, EPOLLIN | (e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0)) < 0)
			conn_error(c, strerror(errno));
		return;
	}
	ERR_clear_error();
	vr = SSL_get_verify_result(c->ssl);
	if (!l->insecure && vr != X509_V_OK) {
		/* Retrying cannot make the certificate trusted: report once, stop. */
		if (l->cert_failures++ == 0)
			fprintf(stderr, "scanbridge-sim: %s/ws: certificate verify failed: %s (%s)\n",
				l->base, X509_verify_cert_error_string(vr), sim_tls_hint(vr));
		sim_stop = 1;
	}
	conn_error(c, "TLS handshake failed");
}

static void tcp_step(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		l->addr_pref++;
		conn_error(c, strerror(err));
		return;
	}
	sim_timer_schedule(l, &c->hs_timer, hs_timeout_cb, HANDSHAKE_TIMEOUT_US);
	if (!l->tls) {
		start_upgrade(c);
		return;
	}
	c->ssl = sim_tls_new(&l->url, c->fd);
	if (!c->ssl) {
		conn_error(c, http_error());
		return;
	}
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_read_ahead(c->ssl, 1);
	c->phase = PH_TLS;
	tls_step(c);
}

/* The length of the upgrade answer's headers at buf when they are complete
 * and say 101 with the right accept key, 0 while incomplete, -1 when refused
 * (conn_error called). Writes NULs into the headers. */
static long upgrade_parse(struct sim_conn *c, char *buf, size_t len)
{
	char *end = memmem(buf, len, "\r\n\r\n", 4), *line, why[64];
	int status = 0;
	bool accept_ok = false;

	if (!end)
		return 0;
	*end = '\0';
	if (sscanf(buf, "HTTP/%*u.%*u %d", &status) != 1 || status != 101) {
		snprintf(why, sizeof why, "upgrade answered HTTP %d", status);
		conn_error(c, why);
		return -1;
	}
	for (line = strstr(buf, "\r\n"); line;) {
		char *next, *colon, *v, *ve;
		line += 2;
		next = strstr(line, "\r\n");
		if (next)
			*next = '\0';
		colon = strchr(line, ':');
		if (colon) {
			*colon = '\0';
			for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
				;
			for (ve = v + strlen(v); ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); )
				*--ve = '\0';
			if (!strcasecmp(line, "sec-websocket-accept")) {
				accept_ok = !strcmp(v, c->accept);
			} else if (!strcasecmp(line, "sec-websocket-protocol") &&
				   strcmp(v, SUBPROTOCOL)) {
				conn_error(c, "the server chose another subprotocol");
				return -1;
			}
		}
		line = next;
	}
	if (!accept_ok) {
		conn_error(c, "bad Sec-WebSocket-Accept");
		return -1;
	}
	return (long)(end + 4 - buf);
}

/* Reads the upgrade answer: in the loop's read buffer, kept in c->in only
 * while incomplete. Frames after it go to the frame parser. */
static void upgrade_read(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;
	char *buf;
	size_t len;
	long hlen;

	for (;;) {
		ssize_t n = sock_read(c, l->scratch, SCRATCH);
		if (n == -2)
			return;
		if (n <= 0) {
			conn_error(c, n ? "read failed during the upgrade" : "closed during the upgrade");
			return;
		}
		if (c->in_len == 0) {
			buf = l->scratch;
			len = (size_t)n;
		} else {
			if (!in_reserve(c, (size_t)n)) {
				conn_error(c, "out of memory");
				return;
			}
			memcpy(c->in + c->in_len, l->scratch, (size_t)n);
			c->in_len += (size_t)n;
			buf = c->in;
			len = c->in_len;
		}
		hlen = upgrade_parse(c, buf, len);
		if (hlen < 0)
			return;
		if (hlen > 0)
			break;
		if (len >= HDR_MAX) {
			conn_error(c, "upgrade answer too long");
			return;
		}
		if (buf == l->scratch) {
			if (!in_reserve(c, len)) {
				conn_error(c, "out of memory");
				return;
			}
			memcpy(c->in, buf, len);
			c->in_len = len;
		}
		if (!c->ssl || !SSL_has_pending(c->ssl))
			return;
	}
	established(c);
	if (buf == l->scratch) {
		if (len > (size_t)hlen)      /* frames that came with the answer */
			ws_feed(c, buf + hlen, len - (size_t)hlen);
	} else {
		memmove(c->in, c->in + hlen, len - (size_t)hlen);
		c->in_len = len - (size_t)hlen;
		if (c->in_len)
			ws_feed(c, l->scratch, 0);
	}
	ws_read(c);
}

/* ---- receiving ----------------------------------------------------------------------- */

static void on_message(struct sim_conn *c, char *msg, size_t len)
{
	struct sb_server_msg m;
	char save = msg[len];
	int rc;

	msg[len] = '\0';                 /* the buffer has the byte; restored below */
	rc = sb_srv_decode(msg, len, &m);
	if (rc < 0) {
		fprintf(stderr, "scanbridge-sim: undecodable server message (%s): %.200s\n",
			sb_strerror(rc), msg);
	} else {
		if (m.type == SB_SRV_WELCOME && c->state != SIM_C_DONE) {
			c->state = SIM_C_WELCOMED;
			c->attempts = 0;
			if (c->welcomes++ > 0)
				c->loop->reconnects++;
			if (c->counted) {
				c->counted = false;
				c->loop->pending--;
			}
			c->want = true;
			mark_dirty(c);
		}
		c->ops->message(c, &m, msg, len);
	}
	msg[len] = save;
}

static bool rx_append(struct sim_conn *c, const char *p, size_t n)
{
	char *nb;

	if (c->rx_len + n + 1 > RX_MAX)
		return false;
	nb = grow_reserve(c->rx, &c->rx_cap, c->rx_len + n + 1, 1, 1024);
	if (!nb)
		return false;
	c->rx = nb;
	memcpy(c->rx + c->rx_len, p, n);
	c->rx_len += n;
	return true;
}

static void ws_frame(struct sim_conn *c, unsigned op, bool fin, char *p, size_t n)
{
	switch (op) {
	case OP_TEXT:
	case OP_BINARY:
		if (c->rx_frag) {
			c->fatal = true;
		} else if (fin) {
			on_message(c, p, n);
		} else {
			c->rx_len = 0;
			c->rx_frag = true;
			c->fatal = !rx_append(c, p, n);
		}
		break;
	case OP_CONT:
		if (!c->rx_frag || !rx_append(c, p, n)) {
			c->fatal = true;
		} else if (fin) {
			c->rx_frag = false;
			on_message(c, c->rx, c->rx_len);
			c->rx_len = 0;
		}
		break;
	case OP_CLOSE:
		if (n >= 2)
			c->close_code = (unsigned char)p[0] << 8 | (unsigned char)p[1];
		c->peer_closed = true;
		break;
	case OP_PING:
		if (n <= 125 && !c->close_sent) {
			if (frame_queue(c, OP_PONG, p, n) < 0)
				c->fatal = true;
			mark_dirty(c);
		}
		break;
	case OP_PONG:
		break;
	default:
		c->fatal = true;
		break;
	}
}

/* Parses and dispatches the complete frames at p; returns the bytes used. p
 * has one writable byte past n (messages are NUL-terminated in place). */
static size_t ws_parse(struct sim_conn *c, char *p, size_t n)
{
	size_t off = 0;

	while (!c->fatal && !c->peer_closed && n - off >= 2) {
		unsigned char *f = (unsigned char *)p + off;
		uint64_t len = f[1] & 0x7f;
		size_t hl = 2;
		if (f[0] & 0x70) {           /* RSV bits: no extension was negotiated */
			c->fatal = true;
			break;
		}
		if (len == 126) {
			if (n - off < 4)
				break;
			len = (uint64_t)f[2] << 8 | f[3];
			hl = 4;
		} else if (len == 127) {
			if (n - off < 10)
				break;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | f[2 + i];
			hl = 10;
		}
		if (len >= RX_MAX) {
			c->fatal = true;
			break;
		}
		if (f[1] & 0x80)
			hl += 4;
		if (n - off < hl + len)
			break;
		if (f[1] & 0x80) {            /* a server must not mask; undo it anyway */
			const unsigned char *mk = f + hl - 4;
			for (size_t i = 0; i < len; i++)
				f[hl + i] ^= mk[i & 3];
		}
		ws_frame(c, f[0] & 0x0f, f[0] & 0x80, (char *)f + hl, (size_t)len);
		off += hl + (size_t)len;
	}
	return off;
}

/* Feeds n new bytes (none: what c->in holds) to the frame parser. */
static void ws_feed(struct sim_conn *c, char *data, size_t n)
{
	size_t used;

	if (c->in_len == 0) {
		used = ws_parse(c, data, n);
		if (used < n && !c->fatal && !c->peer_closed) {
			if (!in_reserve(c, n - used)) {
				c->fatal = true;
				return;
			}
			memcpy(c->in, data + used, n - used);
			c->in_len = n - used;
		}
		return;
	}
	if (n) {
		if (!in_reserve(c, n)) {
			c->fatal = true;
			return;
		}
		memcpy(c->in + c->in_len, data, n);
		c->in_len += n;
	}
	used = ws_parse(c, c->in, c->in_len);
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
}

/* Reads what the socket has (TLS: and what OpenSSL holds) and dispatches it;
 * then answers a close, or closes on a protocol error. */
static void ws_read(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;

	while (!c->fatal && !c->peer_closed) {
		ssize_t n = sock_read(c, l->scratch, SCRATCH);
		if (n == -2)
			break;
		if (n <= 0) {
			conn_closed(c);
			return;
		}
		ws_feed(c, l->scratch, (size_t)n);
		if (!c->ssl || !SSL_has_pending(c->ssl))
			break;               /* plain: level-triggered, the next pass reads on */
	}
	if (c->fatal) {
		conn_fail(c, "protocol error");
	} else if (c->peer_closed) {
		if (!c->close_sent) {        /* echo the close, as lws did */
			unsigned char code[2] = { (unsigned char)(c->close_code >> 8),
						  (unsigned char)c->close_code };
			if (frame_queue(c, OP_CLOSE, code, c->close_code ? 2 : 0) == 0)
				(void)flush_out(c);
		}
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
		tcp_step(c);
		break;
	case PH_TLS:
		tls_step(c);
		break;
	case PH_UPGRADE:
		if ((ev & EPOLLOUT) && flush_out(c) < 0) {
			conn_error(c, "cannot send the upgrade request");
			return;
		}
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
			upgrade_read(c);
		break;
	default:
		if (ev & EPOLLOUT) {
			if (flush_out(c) < 0) {
				conn_closed(c);
				return;
			}
			if (!c->out_len && c->want)
				mark_dirty(c);
		}
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP) || (c->ssl && (ev & EPOLLOUT)))
			ws_read(c);
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
		close_socket(c);
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
			memcpy(w + FRAME_HDR, "\x03\xe8" "bye", 5);     /* 1000 */
			wl += frame_make(w, OP_CLOSE, 5);
			c->close_sent = true;
			sim_timer_schedule(l, &c->hs_timer, hs_timeout_cb, CLOSE_LINGER_US);
		}
	} else {
		int n;
		if (!c->hello_sent && c->state == SIM_C_OPEN) {
			c->hello_sent = true;
			n = sb_cmsg_hello(w + wl + FRAME_HDR, SIM_FRAME_MAX, c->token,
					  c->role == SIM_DESKTOP ? c->last_seq : -1);
			if (n > 0)
				wl += frame_make(w + wl, OP_TEXT, (size_t)n);
		}
		if (c->state == SIM_C_WELCOMED && c->ping_due) {
			c->ping_due = false;
			n = sb_cmsg_ping(w + wl + FRAME_HDR, SIM_FRAME_MAX);
			if (n > 0)
				wl += frame_make(w + wl, OP_TEXT, (size_t)n);
		}
		while (c->state == SIM_C_WELCOMED && c->want && !blocked && wl < BURST_MAX) {
			c->more = false;
			n = c->ops->writable(c, w + wl + FRAME_HDR, SIM_FRAME_MAX);
			if (n <= 0) {
				c->want = false;
				break;
			}
			wl += frame_make(w + wl, OP_TEXT, (size_t)n);
			if (!c->more)
				c->want = false;
		}
	}
	if (wl)
		c->last_tx_us = sim_now_us();
	if ((wl || c->out_len > c->out_off) && send_now(c, w, wl) < 0) {
		conn_closed(c);
		return;
	}
	if (c->want && !(c->events & EPOLLOUT))
		mark_dirty(c);               /* more than one burst: the rest next pass */
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
	if (open_socket(c) < 0) {
		c->failed = true;        /* reported at the end of the pass, not from in here */
		mark_dirty(c);
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
	if (!mask_state)
		mask_state = ((uint64_t)sim_now_us() << 20) ^ (uint64_t)getpid() ^
			     (uint64_t)(uintptr_t)l ^ 0x9E3779B97F4A7C15ull;
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
			close_socket(l->all[i]);
			l->all[i]->dirty = false;
		}
		for (size_t i = 0; i < l->n_heap; i++)
			l->heap[i]->pos = 0;
		if (l->ep >= 0)
			close(l->ep);
		if (l->addrs)
			freeaddrinfo(l->addrs);
	}
	free(l->heap);
	free(l->dirty);
	free(l->scratch);
	free(l->wbuf);
	free(l->waiting);
	free(l->all);
	l->heap = NULL;
	l->dirty = NULL;
	l->scratch = NULL;
	l->wbuf = NULL;
	l->waiting = NULL;
	l->all = NULL;
	l->addrs = NULL;
	l->ep = -1;
	l->n_heap = l->cap_heap = l->n_dirty = l->cap_dirty = 0;
	l->n_all = l->cap_all = l->w_cap = l->w_head = l->w_tail = 0;
}

/* Waits in epoll for the next timer, rounded up to the millisecond (rounding
 * down would poll with timeout 0 in the last millisecond before each timer:
 * a spin), not at all when writes are owed. */
void sim_loop_service(struct sim_loop *l)
{
	struct epoll_event evs[EVENTS_MAX];
	int timeout = 0, n;

	l->passes++;
	if (!l->n_dirty) {
		timeout = 1000;
		if (l->n_heap) {
			int64_t d = l->heap[0]->due_us - sim_now_us();
			timeout = d <= 0 ? 0 : d >= 1000000 ? 1000 : (int)((d + 999) / 1000);
		}
	}
	n = epoll_wait(l->ep, evs, EVENTS_MAX, timeout);
	for (int i = 0; i < n; i++)
		on_event(l, evs[i].data.u64, evs[i].events);
	run_timers(l);
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
		close_socket(c);
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
		mark_dirty(c);
	}
}

void sim_conn_drop(struct sim_conn *c)
{
	if (c->fd >= 0 && (c->state == SIM_C_OPEN || c->state == SIM_C_WELCOMED)) {
		c->loop->drops++;
		c->kill = true;              /* closed at the end of the pass, no close frame */
		mark_dirty(c);
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
	mark_dirty(c);
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
