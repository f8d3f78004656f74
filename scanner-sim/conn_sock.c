/* SPDX-License-Identifier: MIT */
/* The socket of one simulator connection (see conn_internal.h): the
 * non-blocking TCP connect (the host resolved once per loop), the TLS
 * handshake for wss:// (OpenSSL, the REST client's trust settings), reads and
 * writes through TLS or not, the output queue of what the socket did not take,
 * and the epoll interest. It stops at a connected byte stream: the upgrade
 * and the frames are conn_ws.c's. */
#include "conn_internal.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "grow.h"
#include "sim.h"

#define CONNECT_TIMEOUT_US 5000000    /* TCP connect */
#define HANDSHAKE_TIMEOUT_US 10000000 /* TLS handshake + upgrade answer */

int conn_set_events(struct sim_conn *c, uint32_t events)
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
bool conn_in_reserve(struct sim_conn *c, size_t n)
{
	char *nb = grow_reserve(c->in, &c->in_cap, c->in_len + n + 1, 1, 1024);

	if (!nb)
		return false;
	c->in = nb;
	return true;
}

/* Queues n bytes behind what c->out already holds. 0 or -1 (out of memory). */
int conn_out_append(struct sim_conn *c, const void *p, size_t n)
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


void conn_close_socket(struct sim_conn *c)
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


/* >0 bytes read, 0 at the end of the stream, -1 on an error, -2 nothing now. */
ssize_t conn_sock_read(struct sim_conn *c, char *buf, size_t cap)
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
			return conn_set_events(c, c->events | EPOLLOUT) < 0 ? -1 : -2;
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
int conn_flush_out(struct sim_conn *c)
{
	if (c->out_off < c->out_len) {
		ssize_t w = sock_write(c, c->out + c->out_off, c->out_len - c->out_off);
		if (w < 0)
			return -1;
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return conn_set_events(c, EPOLLIN | (c->out_len ? EPOLLOUT : 0));
}

/* Sends p (frames built in the loop's write buffer) behind whatever c->out
 * holds; what the socket does not take now is queued. 0, or -1 when the
 * socket is dead (or out of memory). */
int conn_send(struct sim_conn *c, const char *p, size_t n)
{
	ssize_t w = 0;

	if (c->out_len == c->out_off) {
		w = sock_write(c, p, n);
		if (w < 0)
			return -1;
	}
	if ((size_t)w < n && conn_out_append(c, p + w, n - (size_t)w) < 0)
		return -1;
	return conn_flush_out(c);
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

void conn_deadline(struct sim_conn *c, int64_t us)
{
	sim_timer_schedule(c->loop, &c->hs_timer, hs_timeout_cb, us);
}

/* Opens the socket and starts a non-blocking connect. 0 or -1 (nothing open). */
int conn_open_socket(struct sim_conn *c)
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
	if (conn_set_events(c, EPOLLOUT) < 0) {
		conn_log(c, strerror(errno));
		conn_close_socket(c);
		return -1;
	}
	conn_deadline(c, CONNECT_TIMEOUT_US);
	return 0;
}

void conn_tls_step(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;
	long vr;
	int rc, e;

	ERR_clear_error();
	rc = SSL_connect(c->ssl);
	if (rc == 1) {
		conn_upgrade_start(c);
		return;
	}
	e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (conn_set_events(c, EPOLLIN | (e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0)) < 0)
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

void conn_tcp_step(struct sim_conn *c)
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
	conn_deadline(c, HANDSHAKE_TIMEOUT_US);
	if (!l->tls) {
		conn_upgrade_start(c);
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
	conn_tls_step(c);
}
