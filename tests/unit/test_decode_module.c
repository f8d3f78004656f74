/* SPDX-License-Identifier: MIT */
/* Unit tests for daemon/decode_module.c and daemon/assert_net.c, the daemon's
 * side of the decoder: this program links sbcore only, like scanbridged, and
 * loads the built scanbridge-decode.so the way the daemon does (relative to
 * the executable: <build>/bin/../lib/scanbridge). Checks that nothing of the
 * decoder is mapped before the first use, that the module decodes, that the
 * assert net works through the module (the executable's __assert_fail, the
 * module's hook, the exception across the C frame), that an assertion outside
 * ZXing still aborts with glibc's message, and that a missing module is one
 * logged error and NULL, not a crash. */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "decode_module.h"
#include "sb_err.h"

#ifndef SB_SEEDS_DIR
#define SB_SEEDS_DIR "tests/data/barcodes/seeds"
#endif

extern void __assert_fail(const char *expr, const char *file, unsigned int line, const char *func)
	__attribute__((__noreturn__));

static bool mapped(const char *name)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

/* Runs fn in a child with stderr captured into buf; returns its wait status. */
static int in_child(void (*fn)(void), char *buf, size_t size)
{
	int fds[2], status = 0;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	buf[0] = '\0';
	fflush(NULL);
	if (pipe(fds))
		return -1;
	if ((pid = fork()) == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		fn();
		_exit(check_failures_ ? 1 : 0);
	}
	close(fds[1]);
	while (got + 1 < size && (r = read(fds[0], buf + got, size - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(fds[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static void missing_child(void)
{
	char path[4096];

	setenv(DECODE_MODULE_ENV, "/nonexistent/scanbridge-decode.so", 1);
	CHECK_EQ_INT(decode_module_path(path, sizeof(path)), SB_ENOTFOUND);
	CHECK_STR(path, "/nonexistent/scanbridge-decode.so");
	decode_module_check();
	CHECK(decode_module_get() == NULL);
	CHECK(decode_module_get() == NULL); /* no second attempt, no second error */
	CHECK(!mapped("libZXing"));
}

/* Runs first, before this process loads the module. */
static void test_missing_module(void)
{
	char err[8192];
	int before = check_failures_;
	int status = in_child(missing_child, err, sizeof(err));
	const char *first;

	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(strstr(err, "level=warn msg=\"decoder module not found") != NULL);
	first = strstr(err, "level=error msg=\"cannot load the decoder module");
	CHECK(first != NULL);
	CHECK(first && strstr(first + 1, "level=error") == NULL); /* logged once */
	CHECK(strstr(err, "/nonexistent/scanbridge-decode.so") != NULL);
	CHECK(strstr(err, "No such file or directory") != NULL); /* dlerror()'s text */
	if (check_failures_ != before)
		fprintf(stderr, "child's log:\n%s", err);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	long n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void test_module_loads_and_decodes(void)
{
	const struct image_limits lim = {8u << 20, 40000000u, 1600, 0, 0};
	struct decode_result r[DECODE_MAX_RESULTS];
	const struct decode_module_api *m;
	char path[4096];
	uint8_t *png;
	size_t len = 0;
	double ms = 0;
	int n = 0;

	unsetenv(DECODE_MODULE_ENV);
	CHECK_EQ_INT(decode_module_path(path, sizeof(path)), 0);
	CHECK(strstr(path, "/scanbridge-decode.so") != NULL);
	/* sbcore alone maps none of the decoder's libraries (libstdc++ is not
	 * checked: the sanitizer runtimes bring it in ASan builds) */
	CHECK(!mapped("libZXing") && !mapped("libjpeg") && !mapped("libspng"));
	CHECK(!mapped("scanbridge-decode"));
	m = decode_module_get();
	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(decode_module_get() == m);
	CHECK_EQ_INT(m->abi, DECODE_MODULE_ABI);
	CHECK_STR(m->version, SB_VERSION);
	CHECK(mapped("libZXing"));

	png = read_file(SB_SEEDS_DIR "/gnu-ean-13.png", &len);
	CHECK(png != NULL);
	if (png) {
		CHECK_EQ_INT(m->decode_image(png, len, &lim, 0, r, DECODE_MAX_RESULTS, &n, &ms), 0);
		CHECK_EQ_INT(n, 1);
		if (n == 1)
			CHECK_STR(r[0].code, "4006381333931");
		free(png);
	}
	CHECK_EQ_INT(m->decode_image((const uint8_t *)"nope", 4, &lim, 0, r, 1, &n, &ms), SB_EPROTO);
}

/* The net through the module: __assert_fail in the global scope is this
 * executable's (assert_net.c, exported), and a failed assertion inside a
 * ZXing call reaches the module's hook and is caught in the module. */
static void test_assert_net_through_module(void)
{
	const struct decode_module_api *m = decode_module_get();

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK_EQ_INT(m->assert_net_selftest(), 0);
	CHECK_EQ_INT(m->assert_net_selftest(), 0);
	CHECK_EQ_INT(m->zxing_asserts(), 0);
}

static void assert_outside_child(void)
{
	__assert_fail("outside ZXing", "somefile.c", 42, "somefunc");
}

/* With the hook installed, an assertion anywhere else still aborts, with
 * glibc's message. */
static void test_assert_outside_zxing_aborts(void)
{
	char err[4096];
	int before = check_failures_, status;

	CHECK(decode_module_get() != NULL);
	status = in_child(assert_outside_child, err, sizeof(err));
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	CHECK(strstr(err, "test_decode_mod") != NULL); /* program_invocation_short_name */
	CHECK(strstr(err, ": somefile.c:42: somefunc: Assertion `outside ZXing' failed.\n") != NULL);
	if (check_failures_ != before)
		fprintf(stderr, "child's stderr:\n%s", err);
}

TEST_MAIN(TEST(test_missing_module), TEST(test_module_loads_and_decodes),
	  TEST(test_assert_net_through_module), TEST(test_assert_outside_zxing_aborts))
