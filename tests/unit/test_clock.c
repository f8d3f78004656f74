/* SPDX-License-Identifier: MIT */
/* Unit tests for clock.c: the real clocks are plausible and the stubs replace
 * and restore them. */
#include <time.h>

#include "check.h"
#include "clock.h"

static int64_t fake_wall(void) { return 1700000000123; }
static int64_t fake_mono(void) { return 42; }

static void test_real_clocks(void)
{
	int64_t w = clock_wall_ms(), m1 = clock_mono_ms(), m2;

	CHECK(w > 1577836800000LL);           /* after 2020-01-01 */
	CHECK(w / 1000 - (int64_t)time(NULL) <= 1 && (int64_t)time(NULL) - w / 1000 <= 1);
	m2 = clock_mono_ms();
	CHECK(m1 >= 0 && m2 >= m1);
}

static void test_stub_and_restore(void)
{
	clock_stub(fake_wall, NULL);
	CHECK_EQ_INT(clock_wall_ms(), 1700000000123);
	clock_stub(NULL, fake_mono);
	CHECK(clock_wall_ms() > 1577836800000LL);
	CHECK_EQ_INT(clock_mono_ms(), 42);
	clock_stub(NULL, NULL);
	CHECK(clock_wall_ms() > 1577836800000LL);
	CHECK(clock_mono_ms() != 42);
}

TEST_MAIN(TEST(test_real_clocks), TEST(test_stub_and_restore))
