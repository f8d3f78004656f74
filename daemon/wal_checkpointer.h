/* SPDX-License-Identifier: MIT */
/* The store's WAL checkpointer: a thread with its own SQLite connection that
 * copies the WAL back into the database file while the event loop goes on
 * committing, so no batch waits for the copy. Only store.c uses it. */
#ifndef SB_WAL_CHECKPOINTER_H
#define SB_WAL_CHECKPOINTER_H

struct wal_checkpointer;

/* Opens a second connection to the database at path and starts the thread.
 * 0, or SB_EIO / SB_ENOMEM (the caller then checkpoints on its own thread). */
int wal_checkpointer_start(struct wal_checkpointer **out, const char *path);

/* Asks for a checkpoint; returns at once. Called after commits that left the
 * WAL past the threshold: a request while one runs is remembered, not queued. */
void wal_checkpointer_kick(struct wal_checkpointer *c);

/* Waits for a running checkpoint, stops the thread, closes its connection.
 * NULL is fine. */
void wal_checkpointer_stop(struct wal_checkpointer *c);

#endif
