/* SPDX-License-Identifier: MIT */
/* Unit tests for datadir.c: the directory checks (created 0700, refused when
 * group/other can write it or it is not a directory), the lock (a second
 * holder is refused while the first holds it, even in the same process, since
 * flock belongs to the open file; released by closing) and the tightening of
 * database files left open to group/other. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "datadir.h"
#include "sb_err.h"

static char tmp_root[] = "/tmp/sb-test-datadir-XXXXXX";
static int dir_seq;

/* A path for a new data dir under tmp_root (not created). */
static char *new_path(void)
{
	static char path[128];

	snprintf(path, sizeof path, "%s/d%d", tmp_root, ++dir_seq);
	return path;
}

static int mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (int)(st.st_mode & 07777);
}

static void test_check_creates_0700(void)
{
	char *dir = new_path();

	CHECK_EQ_INT(datadir_check(dir), 0);
	CHECK_EQ_INT(mode_of(dir), 0700);
	CHECK_EQ_INT(datadir_check(dir), 0); /* existing: fine */
	CHECK_EQ_INT(chmod(dir, 0755), 0);  /* others may read, not write */
	CHECK_EQ_INT(datadir_check(dir), 0);
}

static void test_check_refuses_writable_by_others(void)
{
	static const mode_t bad[] = { 0770, 0720, 0702, 01777 };
	char *dir = new_path();

	CHECK_EQ_INT(mkdir(dir, 0700), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(chmod(dir, bad[i]), 0);
		CHECK_EQ_INT(datadir_check(dir), SB_ECONFIG);
	}
}

static void test_check_refuses_a_file(void)
{
	char *path = new_path();
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ_INT(datadir_check(path), SB_EIO);
}

static void test_lock_is_exclusive_and_released(void)
{
	char dir[128], path[160], buf[32] = "";
	int fd, second, third;
	FILE *f;

	snprintf(dir, sizeof dir, "%s", new_path());
	CHECK_EQ_INT(datadir_check(dir), 0);
	fd = datadir_lock(dir);
	CHECK(fd >= 0);
	second = datadir_lock(dir);
	CHECK_EQ_INT(second, SB_EEXIST);
	snprintf(path, sizeof path, "%s/%s", dir, DATADIR_LOCK_FILE);
	CHECK_EQ_INT(mode_of(path), 0600);
	if ((f = fopen(path, "r"))) {
		CHECK(fgets(buf, sizeof buf, f) != NULL);
		fclose(f);
	}
	CHECK_EQ_INT(atol(buf), getpid());
	datadir_unlock(fd);
	third = datadir_lock(dir); /* the file stays; the lock went with the fd */
	CHECK(third >= 0);
	datadir_unlock(third);
	datadir_unlock(-1);
}

static void test_lock_file_link_refused(void)
{
	char dir[128], path[160];

	snprintf(dir, sizeof dir, "%s", new_path());
	CHECK_EQ_INT(datadir_check(dir), 0);
	snprintf(path, sizeof path, "%s/%s", dir, DATADIR_LOCK_FILE);
	CHECK_EQ_INT(symlink("/etc/passwd", path), 0);
	CHECK_EQ_INT(datadir_lock(dir), SB_EIO);
}

static void test_tighten(void)
{
	char dir[128], path[160], link[160];
	int fd;

	snprintf(dir, sizeof dir, "%s", new_path());
	CHECK_EQ_INT(datadir_check(dir), 0);
	CHECK_EQ_INT(datadir_tighten(dir, "absent.db"), 0);
	snprintf(path, sizeof path, "%s/x.db", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ_INT(chmod(path, 0664), 0);
	CHECK_EQ_INT(datadir_tighten(dir, "x.db"), 0);
	CHECK_EQ_INT(mode_of(path), 0600);
	/* A link is left alone, and so is its target. */
	CHECK_EQ_INT(chmod(path, 0644), 0);
	snprintf(link, sizeof link, "%s/link.db", dir);
	CHECK_EQ_INT(symlink(path, link), 0);
	CHECK_EQ_INT(datadir_tighten(dir, "link.db"), 0);
	CHECK_EQ_INT(mode_of(path), 0644);
}

static void cleanup(void)
{
	char cmd[160];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
	CHECK_EQ_INT(system(cmd), 0);
}

int main(void)
{
	static const struct check_case cases[] = {
		TEST(test_check_creates_0700), TEST(test_check_refuses_writable_by_others),
		TEST(test_check_refuses_a_file), TEST(test_lock_is_exclusive_and_released),
		TEST(test_lock_file_link_refused), TEST(test_tighten), TEST(cleanup),
	};

	umask(022);
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 1;
	}
	return check_run(cases, (int)(sizeof cases / sizeof cases[0]));
}
