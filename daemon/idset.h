/* SPDX-License-Identifier: MIT */
/* The client ids of one session's scans, in memory: a keyed 64-bit hash of
 * each id maps to the scan's sequence number. It replaces a UNIQUE index on
 * (session, client id) in SQLite, whose random page per scan was most of the
 * write cost of a scan (schema/004). A hash is not an id: a match is only a
 * candidate that the caller confirms against the stored scan. */
#ifndef SB_IDSET_H
#define SB_IDSET_H
#include <stddef.h>
#include <stdint.h>

struct idset_slot {
	uint64_t hash;
	int64_t seq;               /* 0: empty (sequence numbers start at 1) */
};

struct idset {
	struct idset_slot *slots;
	size_t cap;                /* 0 or a power of two */
	size_t n;
};

/* SipHash-2-4 of id under a key drawn once per process, so ids sent by a
 * client cannot be chosen to collide and lengthen the probes. */
uint64_t idset_hash(const char *id);
uint64_t idset_hash_bytes(const void *p, size_t len);

void idset_free(struct idset *s);  /* leaves an empty set */
/* Adds hash -> seq (seq >= 1). Returns 0 or SB_ENOMEM (the set unchanged). */
int idset_add(struct idset *s, uint64_t hash, int64_t seq);
/* The sequence numbers stored under hash, one per call: *cursor starts at 0;
 * returns 0 when there are no more. */
int64_t idset_next(const struct idset *s, uint64_t hash, size_t *cursor);
size_t idset_bytes(const struct idset *s);

/* Tests: a fixed key (NULL: draw one again). */
void idset__key(const uint8_t key[16]);

#endif
