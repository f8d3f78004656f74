/* SPDX-License-Identifier: MIT */
/* Open addressing with linear probing over (hash, seq) slots (idset.h). Slots
 * are never deleted one by one: a session's set is dropped whole when the
 * session ends or its open batch fails, and built again from the store. */
#include "idset.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rand.h"
#include "sb_err.h"

#define MIN_CAP 16

static uint64_t K0, K1;
static bool keyed;

void idset__key(const uint8_t key[16])
{
	keyed = key != NULL;
	if (key) {
		memcpy(&K0, key, 8);
		memcpy(&K1, key + 8, 8);
	}
}

static void ensure_key(void)
{
	uint8_t key[16];

	if (keyed)
		return;
	/* Without the kernel's bytes the set still works; only the defence
	 * against chosen collisions is weaker. */
	if (rand_bytes(key, sizeof key) != 0)
		memset(key, 0x5b, sizeof key);
	idset__key(key);
}

static uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

#define SIPROUND                                                        \
	do {                                                            \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32); \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                  \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                  \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32); \
	} while (0)

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* SipHash-2-4 (Aumasson and Bernstein), little-endian as specified. */
static uint64_t siphash(const unsigned char *in, size_t len)
{
	uint64_t v0 = K0 ^ 0x736f6d6570736575ULL, v1 = K1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = K0 ^ 0x6c7967656e657261ULL, v3 = K1 ^ 0x7465646279746573ULL;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < tail; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t idset_hash_bytes(const void *p, size_t len)
{
	ensure_key();
	return siphash(p, len);
}

uint64_t idset_hash(const char *id)
{
	return idset_hash_bytes(id, strlen(id));
}

void idset_free(struct idset *s)
{
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

static void put(struct idset_slot *slots, size_t cap, uint64_t hash, int64_t seq)
{
	size_t i = (size_t)hash & (cap - 1);

	while (slots[i].seq)
		i = (i + 1) & (cap - 1);
	slots[i].hash = hash;
	slots[i].seq = seq;
}

/* Doubles the table (or makes the first one), rehashing every slot. */
static int grow(struct idset *s)
{
	size_t cap = s->cap ? s->cap * 2 : MIN_CAP;
	struct idset_slot *slots;

	if (cap < s->cap || cap > SIZE_MAX / sizeof(*slots))
		return SB_ENOMEM;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return SB_ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i].seq)
			put(slots, cap, s->slots[i].hash, s->slots[i].seq);
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

int idset_add(struct idset *s, uint64_t hash, int64_t seq)
{
	if (seq < 1)
		return SB_EINVAL;
	/* at most 3/4 full: probes stay short, 21-43 bytes per id */
	if ((s->n + 1) * 4 > s->cap * 3) {
		int rc = grow(s);

		if (rc)
			return rc;
	}
	put(s->slots, s->cap, hash, seq);
	s->n++;
	return 0;
}

int64_t idset_next(const struct idset *s, uint64_t hash, size_t *cursor)
{
	if (!s->cap)
		return 0;
	for (; *cursor < s->cap; (*cursor)++) {
		const struct idset_slot *sl = &s->slots[((size_t)hash + *cursor) & (s->cap - 1)];

		if (!sl->seq)
			break;
		if (sl->hash == hash) {
			(*cursor)++;
			return sl->seq;
		}
	}
	*cursor = s->cap;
	return 0;
}

size_t idset_bytes(const struct idset *s)
{
	return s->cap * sizeof(*s->slots);
}
