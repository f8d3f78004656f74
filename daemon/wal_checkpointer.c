/* SPDX-License-Identifier: MIT */
/* A PASSIVE checkpoint never takes the write lock, so the loop's connection can
 * append and commit while this thread copies pages back and syncs: on a 2-core
 * VM the relay's p99 at 1,000 scans/s fell from 5-8 ms (checkpoint inside the
 * COMMIT) to ~2 ms (docs/benchmarks.md). What it cannot do is restart the
 * WAL: a commit that lands while it copies keeps the WAL from wrapping, so under
 * sustained load the store also checkpoints on the loop past a hard limit
 * (store_checkpoint_due). */
#include "wal_checkpointer.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>

#include "sb_err.h"

struct wal_checkpointer {
	sqlite3 *db;             /* used by the thread only, after start */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wanted;             /* under mu */
	bool stopping;           /* under mu */
};

static void *checkpoint_main(void *arg)
{
	struct wal_checkpointer *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->wanted && !c->stopping)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stopping)
			break;
		c->wanted = false;
		pthread_mutex_unlock(&c->mu);
		/* Errors need no handling here: the WAL keeps growing and the
		 * loop's own checkpoint past the hard limit reports them. */
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int wal_checkpointer_start(struct wal_checkpointer **out, const char *path)
{
	struct wal_checkpointer *c = calloc(1, sizeof *c);

	*out = NULL;
	if (!c)
		return SB_ENOMEM;
	/* A connection that has read nothing does not know the database is in
	 * WAL mode yet, and its checkpoints do nothing: one read opens the WAL.
	 * synchronous stays at SQLite's default (FULL): a checkpoint syncs the
	 * WAL before copying and the database after, as under NORMAL. */
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)
	    != SQLITE_OK
	    || sqlite3_exec(c->db, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(c->db);
		free(c);
		return SB_EIO;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&c->thread, NULL, checkpoint_main, c) != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		sqlite3_close(c->db);
		free(c);
		return SB_ENOMEM;
	}
	*out = c;
	return 0;
}

void wal_checkpointer_kick(struct wal_checkpointer *c)
{
	pthread_mutex_lock(&c->mu);
	if (!c->wanted) {
		c->wanted = true;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
}

void wal_checkpointer_stop(struct wal_checkpointer *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	sqlite3_close(c->db);
	free(c);
}
