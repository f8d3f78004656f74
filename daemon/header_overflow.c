/* SPDX-License-Identifier: MIT */
/* 431 for header sections larger than lws's header buffer; see the header. */
#include <netinet/in.h>
#include <linux/tcp.h> /* glibc's struct tcp_info lacks tcpi_bytes_received */
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "header_overflow.h"
#include "log.h"
#include "metrics.h"

#define OVERFLOW_TEXT "Ran out of header data space"
/* Unread request bytes left in the socket make close() send a reset, which can
 * destroy the answer before the client reads it; this much is read away first. */
#define DRAIN_MAX (256 * 1024)

/* The socket is kept by fd: a connection lws freed without telling us leaves
 * an entry whose wsi must never be dereferenced, while a stale fd is harmless
 * (not a socket, or a second candidate, which means no answer). */
struct candidate {
	struct candidate *next;
	const struct lws *wsi; /* only compared, to untrack */
	int fd;
};

static const struct lws_protocol_vhost_options *O_headers;
static uint64_t O_limit;
static struct candidate *O_list; /* only connections still in their first headers */

static void unlink_where(bool (*match)(const struct candidate *, const void *), const void *key)
{
	struct candidate **pp = &O_list;

	while (*pp) {
		struct candidate *c = *pp;

		if (match(c, key)) {
			*pp = c->next;
			free(c);
		} else {
			pp = &c->next;
		}
	}
}

static bool same_wsi(const struct candidate *c, const void *wsi) { return c->wsi == wsi; }
static bool same_fd(const struct candidate *c, const void *fd) { return c->fd == *(const int *)fd; }
static bool any(const struct candidate *c, const void *key) { return true; }

void header_overflow_track(struct lws *wsi)
{
	struct candidate *c;
	int fd = lws_get_socket_fd(wsi);

	if (fd < 0)
		return;
	unlink_where(same_fd, &fd); /* a reused fd: its old entry is stale */
	c = malloc(sizeof(*c));
	if (!c)
		return; /* not tracked: an overflow is dropped as lws does */
	c->wsi = wsi;
	c->fd = fd;
	c->next = O_list;
	O_list = c;
}

void header_overflow_untrack(struct lws *wsi) { unlink_where(same_wsi, wsi); }

void header_overflow_shutdown(void) { unlink_where(any, NULL); }

static uint64_t bytes_received(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
		return 0;
	return ti.tcpi_bytes_received;
}

/* The one tracked connection that has received a whole header buffer, or -1. */
static int overflowing_fd(void)
{
	int found = -1;

	for (struct candidate *c = O_list; c; c = c->next) {
		if (bytes_received(c->fd) < O_limit)
			continue;
		if (found >= 0)
			return -1; /* two of them: cannot tell which one lws is parsing */
		found = c->fd;
	}
	return found;
}

static size_t format_answer(char *buf, size_t cap)
{
	static const char body[] =
		"{\"error\":{\"code\":\"too_large\",\"message\":\"request header section too large\"}}";
	size_t n = (size_t)snprintf(buf, cap,
				    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
				    "content-type: application/json\r\n"
				    "content-length: %zu\r\ncache-control: no-store\r\n"
				    "connection: close\r\n", sizeof(body) - 1);
	for (const struct lws_protocol_vhost_options *h = O_headers; h && n < cap; h = h->next)
		n += (size_t)snprintf(buf + n, cap - n, "%s %s\r\n", h->name, h->value);
	if (n < cap)
		n += (size_t)snprintf(buf + n, cap - n, "\r\n%s", body);
	return n < cap ? n : 0;
}

static void drain_unread(int fd)
{
	char sink[4096];
	size_t total = 0;
	ssize_t r;

	while (total < DRAIN_MAX && (r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
		total += (size_t)r;
}

/* Runs inside lws's parser, just before lws drops the connection. Nothing has
 * been written on it yet, so the kernel buffer takes the answer whole. */
static void on_overflow_logged(void)
{
	char buf[2048];
	size_t n = format_answer(buf, sizeof(buf));
	int fd = overflowing_fd();

	if (fd < 0 || !n)
		return;
	drain_unread(fd);
	if (send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n)
		metrics_error("too_large");
}

void header_overflow_init(const struct lws_protocol_vhost_options *headers, int max_header_bytes)
{
	O_headers = headers;
	O_limit = (uint64_t)max_header_bytes;
	log_watch_lws(OVERFLOW_TEXT, on_overflow_logged);
}
