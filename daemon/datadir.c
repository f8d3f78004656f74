/* SPDX-License-Identifier: MIT */
/* The data directory: checked before anything in it is trusted, and locked
 * for the life of the process (datadir.h). The lock is flock(2) on a file
 * that stays in the directory: the lock, not the file, says "in use", so a
 * daemon killed with SIGKILL or a power cut leaves nothing to clean up. */
#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sb_err.h"

/* How long a refused daemon waits for the holder's pid to appear in the lock
 * file: the holder writes it right after taking the lock. */
#define PID_READ_TRIES 20
#define PID_READ_PAUSE_NS (10 * 1000 * 1000)

static int path_join(char *out, size_t size, const char *dir, const char *name)
{
	if (snprintf(out, size, "%s/%s", dir, name) >= (int)size) {
		log_error("the data dir path is too long", "dir=\"%s\"", dir);
		return SB_ECONFIG;
	}
	return 0;
}

int datadir_check(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		log_error("cannot create the data dir", "dir=\"%s\" err=\"%s\"", dir, strerror(errno));
		return SB_EIO;
	}
	if (stat(dir, &st)) {
		log_error("cannot use the data dir", "dir=\"%s\" err=\"%s\"", dir, strerror(errno));
		return SB_EIO;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("the data dir is not a directory", "dir=\"%s\"", dir);
		return SB_EIO;
	}
	if (access(dir, R_OK | W_OK | X_OK)) {
		log_error("the data dir is not writable", "dir=\"%s\" err=\"%s\"", dir, strerror(errno));
		return SB_EIO;
	}
	/* Whoever can write the directory can replace the database or the
	 * secret (a sticky bit does not stop new files), so refuse rather than
	 * trust what is in it. */
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_error("the data dir is writable by group or others; chmod 700 it",
			  "dir=\"%s\" mode=%04o", dir, (unsigned)(st.st_mode & 07777));
		return SB_ECONFIG;
	}
	return 0;
}

/* The pid in the lock file, or 0 when there is none (yet). */
static long read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	char *end;
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return end != buf && (*end == '\n' || *end == '\0') && pid > 0 ? pid : 0;
}

static void report_holder(int fd, const char *dir, const char *path)
{
	const struct timespec pause = { 0, PID_READ_PAUSE_NS };
	char pid_text[24] = "unknown";
	long pid = 0;

	for (int i = 0; i < PID_READ_TRIES && !(pid = read_pid(fd)); i++)
		nanosleep(&pause, NULL);
	if (pid)
		snprintf(pid_text, sizeof pid_text, "%ld", pid);
	log_error("the data dir is in use by another scanbridged; stop it first, or give "
		  "this one another data_dir", "dir=\"%s\" pid=%s lock=\"%s\"", dir, pid_text, path);
}

static int write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)n, 0) != n)
		return -1;
	return 0;
}

static int open_lock_file(const char *path)
{
	/* O_NOFOLLOW: never write our pid through a link to someone else's file. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
	struct stat st;

	if (fd < 0) {
		log_error("cannot open the data dir's lock file", "path=\"%s\" err=\"%s\"", path,
			  errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		return SB_EIO;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		log_error("the data dir's lock file is not a regular file", "path=\"%s\"", path);
		close(fd);
		return SB_EIO;
	}
	return fd;
}

int datadir_lock(const char *dir)
{
	char path[PATH_MAX];
	int fd, rc;

	if ((rc = path_join(path, sizeof path, dir, DATADIR_LOCK_FILE)))
		return rc;
	if ((fd = open_lock_file(path)) < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK) {
			report_holder(fd, dir, path);
			rc = SB_EEXIST;
		} else {
			log_error("cannot lock the data dir", "path=\"%s\" err=\"%s\"", path,
				  strerror(errno));
			rc = SB_EIO;
		}
		close(fd);
		return rc;
	}
	if (write_pid(fd)) /* the lock holds without it; only the message is poorer */
		log_warn("cannot write the pid into the lock file", "path=\"%s\" err=\"%s\"", path,
			 strerror(errno));
	return fd;
}

void datadir_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* drops the flock */
}

int datadir_tighten(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, rc;

	if ((rc = path_join(path, sizeof path, dir, name)))
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0; /* absent (created 0600 later) or a link: not ours to change */
	rc = 0;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && (st.st_mode & 077)) {
		if (fchmod(fd, st.st_mode & 0700)) {
			log_error("cannot make a database file private; chmod 600 it",
				  "path=\"%s\" mode=%04o err=\"%s\"", path,
				  (unsigned)(st.st_mode & 07777), strerror(errno));
			rc = SB_EIO;
		} else {
			log_warn("a database file was open to group or others; made it private",
				 "path=\"%s\" was=%04o", path, (unsigned)(st.st_mode & 07777));
		}
	}
	close(fd);
	return rc;
}
