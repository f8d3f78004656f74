/* SPDX-License-Identifier: MIT */
/* The service's side of systemd's notify protocol (sd_notify(3)): a leaf
 * module the server calls at ready and at drain. The watchdog pet runs on the
 * event loop itself, not on a thread of its own: what systemd must learn is
 * that the loop still turns, and a thread would keep petting a stuck loop.
 *
 * The protocol is a datagram of NAME=value lines to the AF_UNIX socket named
 * by $NOTIFY_SOCKET ('@' for the abstract namespace), a stable interface
 * systemd documents for daemons that do not link it. It is spoken here
 * rather than through libsystemd, which brought libgcrypt, liblzma, libzstd,
 * liblz4 and libcap with it: ~1 MiB of the idle daemon's resident memory
 * for three messages (docs/benchmarks.md, Performance II). */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static struct {
	struct lws_context *ctx;
	lws_sorted_usec_list_t pet_sul;
	lws_usec_t pet_every;   /* 0: no watchdog */
} W;

int sdnotify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = path ? strlen(path) : 0;
	ssize_t sent;
	int fd;

	if (!n)
		return 0;
	if ((path[0] != '/' && path[0] != '@') || n < 2 || n >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
		      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	if (sent < 0)
		sent = -errno;
	close(fd);
	return sent < 0 ? (int)sent : 1;
}

/* WatchdogSec= in microseconds when systemd asked this very process for pets
 * ($WATCHDOG_USEC, and $WATCHDOG_PID if set is ours), else 0. */
uint64_t sdnotify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (!usec || !*usec)
		return 0;
	if (pid && *pid && strtoll(pid, &end, 10) != (long long)getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno || *end || usec[0] == '-' || v == 0)
		return 0;
	return (uint64_t)v;
}

static void pet_cb(lws_sorted_usec_list_t *sul)
{
	sdnotify_send("WATCHDOG=1");
	lws_sul_schedule(W.ctx, 0, sul, pet_cb, W.pet_every);
}

/* Pets at half the interval leave a whole half-period for a busy pass of the
 * loop. */
static void start_watchdog(struct lws_context *ctx)
{
	uint64_t usec = sdnotify_watchdog_usec();

	if (usec < 2)
		return;
	W.ctx = ctx;
	W.pet_every = (lws_usec_t)(usec / 2);
	log_info("systemd watchdog on", "interval_ms=%llu pet_ms=%llu",
		 (unsigned long long)(usec / 1000), (unsigned long long)(usec / 2000));
	pet_cb(&W.pet_sul);
}

void sdnotify_ready(struct lws_context *ctx, const char *url)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving %s", url);
	/* 0: not under systemd (no NOTIFY_SOCKET), nothing to say */
	if (sdnotify_send(msg) > 0)
		start_watchdog(ctx);
}

void sdnotify_stopping(void)
{
	if (W.pet_every) {
		lws_sul_cancel(&W.pet_sul);
		W.pet_every = 0;
	}
	sdnotify_send("STOPPING=1\nSTATUS=draining");
}
