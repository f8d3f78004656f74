/* SPDX-License-Identifier: MIT */
/* The WebSocket protocol of one simulator connection (see conn_internal.h),
 * on the byte stream conn_sock.c provides: the upgrade (request, answer),
 * then the server's frames, each read parsed whole (ws_frame.c) and
 * dispatched: messages decoded and handed to the owner (fragments reassembled
 * first), pings answered, and a close echoed before the connection is
 * closed. What the connection sends on its own is conn.c's (conn_flush). */
#include "conn_internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "grow.h"
#include "sb_err.h"
#include "ws_frame.h"
#include "ws_upgrade.h"

#define RX_MAX (64 * 1024)            /* reassembled message limit (server: 16 KiB) */
#define HDR_MAX 16384                 /* upgrade answer headers */

_Static_assert(sizeof ((struct sim_conn *)0)->accept >= WS_ACCEPT_SIZE,
	       "struct sim_conn holds a Sec-WebSocket-Accept value");

/* Queues a small frame (control frames: n <= 125) on c->out. 0 or -1. */
static int frame_queue(struct sim_conn *c, unsigned op, const void *data, size_t n)
{
	char f[WS_FRAME_HDR + 125];

	if (n > 125)
		return -1;
	memcpy(f + WS_FRAME_HDR, data, n);
	return conn_out_append(c, f, ws_frame_make(f, op, n));
}

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
			conn_mark_dirty(c);
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

static void on_frame(struct sim_conn *c, unsigned op, bool fin, char *p, size_t n)
{
	switch (op) {
	case WS_OP_TEXT:
	case WS_OP_BINARY:
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
	case WS_OP_CONT:
		if (!c->rx_frag || !rx_append(c, p, n)) {
			c->fatal = true;
		} else if (fin) {
			c->rx_frag = false;
			on_message(c, c->rx, c->rx_len);
			c->rx_len = 0;
		}
		break;
	case WS_OP_CLOSE:
		if (n >= 2)
			c->close_code = (unsigned char)p[0] << 8 | (unsigned char)p[1];
		c->peer_closed = true;
		break;
	case WS_OP_PING:
		if (n <= 125 && !c->close_sent) {
			if (frame_queue(c, WS_OP_PONG, p, n) < 0)
				c->fatal = true;
			conn_mark_dirty(c);
		}
		break;
	case WS_OP_PONG:
		break;
	default:
		c->fatal = true;
		break;
	}
}

/* Parses and dispatches the complete frames at p; returns the bytes used. p
 * has one writable byte past n (messages are NUL-terminated in place). */
static size_t parse_frames(struct sim_conn *c, char *p, size_t n)
{
	size_t off = 0;

	while (!c->fatal && !c->peer_closed) {
		struct ws_frame_in f;
		long used = ws_frame_parse(p + off, n - off, RX_MAX, &f);
		if (used < 0)
			c->fatal = true;
		if (used <= 0)
			break;
		on_frame(c, f.op, f.fin, f.payload, f.len);
		off += (size_t)used;
	}
	return off;
}

/* Feeds n new bytes (none: what c->in holds) to the frame parser. */
static void feed_frames(struct sim_conn *c, char *data, size_t n)
{
	size_t used;

	if (c->in_len == 0) {
		used = parse_frames(c, data, n);
		if (used < n && !c->fatal && !c->peer_closed) {
			if (!conn_in_reserve(c, n - used)) {
				c->fatal = true;
				return;
			}
			memcpy(c->in, data + used, n - used);
			c->in_len = n - used;
		}
		return;
	}
	if (n) {
		if (!conn_in_reserve(c, n)) {
			c->fatal = true;
			return;
		}
		memcpy(c->in + c->in_len, data, n);
		c->in_len += n;
	}
	used = parse_frames(c, c->in, c->in_len);
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
}

/* Reads what the socket has (TLS: and what OpenSSL holds) and dispatches it;
 * then answers a close, or closes on a protocol error. */
void conn_ws_read(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;

	while (!c->fatal && !c->peer_closed) {
		ssize_t n = conn_sock_read(c, l->scratch, SCRATCH);
		if (n == -2)
			break;
		if (n <= 0) {
			conn_closed(c);
			return;
		}
		feed_frames(c, l->scratch, (size_t)n);
		if (!c->ssl || !SSL_has_pending(c->ssl))
			break;               /* plain: level-triggered, the next pass reads on */
	}
	if (c->fatal) {
		conn_fail(c, "protocol error");
	} else if (c->peer_closed) {
		if (!c->close_sent) {        /* echo the close, as lws did */
			unsigned char code[2] = { (unsigned char)(c->close_code >> 8),
						  (unsigned char)c->close_code };
			if (frame_queue(c, WS_OP_CLOSE, code, c->close_code ? 2 : 0) == 0)
				(void)conn_flush_out(c);
		}
		conn_closed(c);
	}
}

/* ---- the upgrade ---------------------------------------------------------------------- */

static void established(struct sim_conn *c)
{
	sim_timer_cancel(&c->hs_timer);
	c->phase = PH_WS;
	c->state = SIM_C_OPEN;
	c->hello_sent = false;
	c->rx_len = 0;
	c->rx_frag = false;
	conn_mark_dirty(c);               /* hello */
}

void conn_upgrade_start(struct sim_conn *c)
{
	int n = ws_upgrade_request(c->loop->wbuf, 1024, c->loop->base, c->accept);

	if (n < 0) {
		conn_error(c, "upgrade request too long");
		return;
	}
	c->phase = PH_UPGRADE;
	c->in_len = 0;
	if (conn_send(c, c->loop->wbuf, (size_t)n) < 0)
		conn_error(c, "cannot send the upgrade request");
}

/* Reads the upgrade answer: in the loop's read buffer, kept in c->in only
 * while incomplete. Frames after it go to the frame parser. */
void conn_upgrade_read(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;
	char *buf, why[64];
	size_t len;
	long hlen;

	for (;;) {
		ssize_t n = conn_sock_read(c, l->scratch, SCRATCH);
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
			if (!conn_in_reserve(c, (size_t)n)) {
				conn_error(c, "out of memory");
				return;
			}
			memcpy(c->in + c->in_len, l->scratch, (size_t)n);
			c->in_len += (size_t)n;
			buf = c->in;
			len = c->in_len;
		}
		hlen = ws_upgrade_answer(buf, len, c->accept, why, sizeof why);
		if (hlen < 0) {
			conn_error(c, why);
			return;
		}
		if (hlen > 0)
			break;
		if (len >= HDR_MAX) {
			conn_error(c, "upgrade answer too long");
			return;
		}
		if (buf == l->scratch) {
			if (!conn_in_reserve(c, len)) {
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
			feed_frames(c, buf + hlen, len - (size_t)hlen);
	} else {
		memmove(c->in, c->in + hlen, len - (size_t)hlen);
		c->in_len = len - (size_t)hlen;
		if (c->in_len)
			feed_frames(c, l->scratch, 0);
	}
	conn_ws_read(c);
}
