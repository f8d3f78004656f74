/* SPDX-License-Identifier: MIT */
/* Unit tests for proto/grow.c, the growable-array helper every list and
 * buffer of the daemon and the simulator grows through: first capacity,
 * doubling, no move while there is room, and overflow refused with the array
 * left as it was. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "grow.h"

typedef void *(*reserve_fn)(void *items, size_t *cap, size_t need, size_t size, size_t min_cap);

static void first_and_doubling(reserve_fn reserve)
{
	int *v = NULL, *p;
	size_t cap = 0;

	p = reserve(v, &cap, 1, sizeof *v, 64);
	CHECK(p != NULL);
	CHECK_EQ_INT(cap, 64);
	v = p;
	for (int i = 0; i < 64; i++)
		v[i] = i;
	CHECK(reserve(v, &cap, 64, sizeof *v, 64) == v);    /* room: no move */
	CHECK_EQ_INT(cap, 64);
	p = reserve(v, &cap, 65, sizeof *v, 64);
	CHECK(p != NULL);
	CHECK_EQ_INT(cap, 128);
	v = p;
	CHECK_EQ_INT(v[63], 63);                                 /* contents kept */
	p = reserve(v, &cap, 1000, sizeof *v, 64);           /* several doublings */
	CHECK(p != NULL);
	CHECK_EQ_INT(cap, 1024);
	free(p);
}

static void overflow_refused(reserve_fn reserve)
{
	char *b = NULL, *p;
	size_t cap = 0;

	p = reserve(b, &cap, 16, 1, 8);
	CHECK(p != NULL);
	CHECK_EQ_INT(cap, 16);
	b = p;
	CHECK(reserve(b, &cap, SIZE_MAX, 1, 8) == NULL);     /* doubling overflows */
	CHECK(reserve(b, &cap, SIZE_MAX / 4, 8, 8) == NULL); /* bytes overflow */
	CHECK_EQ_INT(cap, 16);                                   /* untouched */
	b[15] = 'x';                                             /* still ours */
	free(b);
}

static void test_first_and_doubling(void)
{
	first_and_doubling(grow_reserve);
}

static void test_overflow_refused(void)
{
	overflow_refused(grow_reserve);
}

TEST_MAIN(TEST(test_first_and_doubling), TEST(test_overflow_refused))
