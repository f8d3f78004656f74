/* SPDX-License-Identifier: MIT */
/* Test-only LD_PRELOAD shim: while the file named by $SB_FAULT_FLAG exists,
 * every write or sync of the daemon's SQLite files (scanbridge.db and its
 * -wal/-shm) fails with EIO, as a dying SD card or disk would. Used by
 * tests/integration/test_ioerror.py; never linked into the daemon. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t write(int fd, const void *buf, size_t n);
int fsync(int fd);
int fdatasync(int fd);

static int failing(int fd)
{
	const char *flag = getenv("SB_FAULT_FLAG");
	char link[64], path[512];
	ssize_t n;

	if (!flag || access(flag, F_OK))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	return strstr(path, "scanbridge.db") != NULL;
}

#define NEXT(name) static __typeof__(name) *next_##name; \
	if (!next_##name) next_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	NEXT(pwrite64);
	if (failing(fd)) { errno = EIO; return -1; }
	return next_pwrite64(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	NEXT(pwrite);
	if (failing(fd)) { errno = EIO; return -1; }
	return next_pwrite(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	NEXT(write);
	if (failing(fd)) { errno = EIO; return -1; }
	return next_write(fd, buf, n);
}

int fsync(int fd)
{
	NEXT(fsync);
	if (failing(fd)) { errno = EIO; return -1; }
	return next_fsync(fd);
}

int fdatasync(int fd)
{
	NEXT(fdatasync);
	if (failing(fd)) { errno = EIO; return -1; }
	return next_fdatasync(fd);
}
