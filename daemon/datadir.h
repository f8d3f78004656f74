/* SPDX-License-Identifier: MIT */
/* The data directory belongs to one daemon: nobody but its owner may write
 * into it (whoever can would swap the database or the secret), and a second
 * scanbridged on the same directory is refused while the first runs (two
 * daemons would hand out the same seqs and expire each other's sessions). */
#ifndef SB_DATADIR_H
#define SB_DATADIR_H

/* Holds the lock (flock) and the pid of the daemon that holds it. */
#define DATADIR_LOCK_FILE "scanbridged.lock"

/* Creates dir (mode 0700) when it is absent; refuses (logged, with the path)
 * one that is not a directory, that this process cannot use, or that group or
 * others can write. Returns 0, SB_EIO or SB_ECONFIG. */
int datadir_check(const char *dir);

/* Takes an exclusive flock on <dir>/DATADIR_LOCK_FILE and writes this
 * process's pid into it. The lock lives as long as the returned descriptor:
 * the kernel drops it when the process ends, however it ends, so the file a
 * killed daemon leaves behind never blocks a restart. Returns the descriptor,
 * SB_EEXIST when another process holds the lock (logged with the directory
 * and that process's pid) or SB_EIO. */
int datadir_lock(const char *dir);

/* Releases the lock (the file stays). A negative fd is fine. */
void datadir_unlock(int fd);

/* Clears the group/other bits of <dir>/<name> if it exists (a database made
 * before files were created 0600); logs a warning when it had to. Symbolic
 * links are left alone. Returns 0, or SB_EIO when the mode cannot be fixed. */
int datadir_tighten(const char *dir, const char *name);

#endif
