/* SPDX-License-Identifier: MIT */
/* Unit tests for daemon/idset.c, the in-memory client-id index that finds a
 * resent scan: SipHash-2-4 against the reference vector, every seq stored
 * under one hash comes back (a collision is a candidate, not an answer),
 * growth keeps every entry, and the key makes the hash unpredictable. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "idset.h"
#include "sb_err.h"

static const uint8_t ref_key[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* SipHash-2-4 as published: the paper's example (key 00..0f, message
 * 00..0e, appendix A) and the reference code's first vector (empty message). */
static void test_siphash_reference(void)
{
	uint8_t msg[15];

	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	idset__key(ref_key);
	CHECK(idset_hash_bytes(msg, sizeof msg) == 0xa129ca6149be45e5ULL);
	CHECK(idset_hash("") == 0x726fdb47dd0e0e31ULL);
	idset__key(NULL);
}

static void test_add_find_grow(void)
{
	struct idset s = { 0 };
	char id[32];
	size_t cur;

	idset__key(ref_key);
	for (int i = 1; i <= 10000; i++) {
		snprintf(id, sizeof id, "id-%d", i);
		CHECK_EQ_INT(idset_add(&s, idset_hash(id), i), 0);
	}
	CHECK_EQ_INT(s.n, 10000);
	CHECK(s.cap >= 10000 * 4 / 3);
	CHECK_EQ_INT(idset_bytes(&s), s.cap * sizeof(struct idset_slot));
	for (int i = 1; i <= 10000; i += 997) {
		bool seen = false;
		int64_t seq;

		snprintf(id, sizeof id, "id-%d", i);
		cur = 0;
		while ((seq = idset_next(&s, idset_hash(id), &cur)) > 0)
			seen |= seq == i;
		CHECK(seen);
	}
	cur = 0;
	CHECK_EQ_INT(idset_next(&s, idset_hash("never"), &cur), 0);
	idset_free(&s);
	CHECK(s.slots == NULL && s.cap == 0 && s.n == 0);
	cur = 0;
	CHECK_EQ_INT(idset_next(&s, 1, &cur), 0);   /* an empty set answers too */
	idset__key(NULL);
}

/* Two ids that collide (forced: the same hash added twice) both come back. */
static void test_collisions_are_all_returned(void)
{
	struct idset s = { 0 };
	size_t cur = 0;
	int64_t a, b;

	CHECK_EQ_INT(idset_add(&s, 42, 7), 0);
	CHECK_EQ_INT(idset_add(&s, 42 + 16, 8), 0);   /* same first slot, other hash */
	CHECK_EQ_INT(idset_add(&s, 42, 9), 0);
	a = idset_next(&s, 42, &cur);
	b = idset_next(&s, 42, &cur);
	CHECK_EQ_INT(a, 7);
	CHECK_EQ_INT(b, 9);
	CHECK_EQ_INT(idset_next(&s, 42, &cur), 0);
	CHECK_EQ_INT(idset_next(&s, 42, &cur), 0);    /* stays done */
	CHECK_EQ_INT(idset_add(&s, 1, 0), SB_EINVAL);  /* seq 0 marks an empty slot */
	CHECK_EQ_INT(s.n, 3);
	idset_free(&s);
}

static void test_key_changes_the_hash(void)
{
	uint8_t other[16];
	uint64_t h1, h2;

	idset__key(ref_key);
	h1 = idset_hash("AAAAAAAAAAAAAAAAAAAAAA");
	memset(other, 0xee, sizeof other);
	idset__key(other);
	h2 = idset_hash("AAAAAAAAAAAAAAAAAAAAAA");
	CHECK(h1 != h2);
	idset__key(NULL);                              /* a random key again */
	CHECK(idset_hash("x") == idset_hash("x"));
	CHECK(idset_hash("x") != idset_hash("y"));
}

TEST_MAIN(TEST(test_siphash_reference), TEST(test_add_find_grow),
	  TEST(test_collisions_are_all_returned), TEST(test_key_changes_the_hash))
