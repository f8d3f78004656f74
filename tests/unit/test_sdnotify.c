/* SPDX-License-Identifier: MIT */
/* Unit tests for daemon/sdnotify.c, systemd's notify protocol spoken without
 * libsystemd: the datagram reaches a socket named by $NOTIFY_SOCKET, by path
 * and in the abstract namespace; no socket means nothing is sent; bad names
 * are refused; and the watchdog interval is only ours when $WATCHDOG_PID is. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "sdnotify.h"

/* A datagram socket bound to name (a path, or '@' + an abstract name). */
static int listen_on(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	CHECK(fd >= 0);
	CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sa,
			  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	CHECK(n >= 0);
	buf[n < 0 ? 0 : n] = '\0';
	CHECK_STR(buf, want);
}

static void test_path_socket(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof path, "/tmp/sb-notify-%d", (int)getpid());
	unlink(path);
	fd = listen_on(path);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK_EQ_INT(sdnotify_send("READY=1\nSTATUS=serving http://x"), 1);
	expect_datagram(fd, "READY=1\nSTATUS=serving http://x");
	sdnotify_stopping();                       /* no watchdog running: just the message */
	expect_datagram(fd, "STOPPING=1\nSTATUS=draining");
	close(fd);
	unlink(path);
	CHECK(sdnotify_send("WATCHDOG=1") < 0);    /* nobody listens any more */
	unsetenv("NOTIFY_SOCKET");
}

static void test_abstract_socket(void)
{
	char name[64];
	int fd;

	snprintf(name, sizeof name, "@sb-notify-test-%d", (int)getpid());
	fd = listen_on(name);
	setenv("NOTIFY_SOCKET", name, 1);
	CHECK_EQ_INT(sdnotify_send("WATCHDOG=1"), 1);
	expect_datagram(fd, "WATCHDOG=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void test_no_or_bad_socket(void)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ_INT(sdnotify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK_EQ_INT(sdnotify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_EQ_INT(sdnotify_send("READY=1"), -EINVAL);
	setenv("NOTIFY_SOCKET", "@", 1);
	CHECK_EQ_INT(sdnotify_send("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_interval(void)
{
	char pid[32];

	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	CHECK(sdnotify_watchdog_usec() == 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	CHECK(sdnotify_watchdog_usec() == 30000000);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	CHECK(sdnotify_watchdog_usec() == 30000000);
	setenv("WATCHDOG_PID", "1", 1);             /* meant for another process */
	CHECK(sdnotify_watchdog_usec() == 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "30s", 1);
	CHECK(sdnotify_watchdog_usec() == 0);
	setenv("WATCHDOG_USEC", "-5", 1);
	CHECK(sdnotify_watchdog_usec() == 0);
	unsetenv("WATCHDOG_USEC");
}

TEST_MAIN(TEST(test_path_socket), TEST(test_abstract_socket), TEST(test_no_or_bad_socket),
	  TEST(test_watchdog_interval))
