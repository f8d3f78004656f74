/* SPDX-License-Identifier: MIT */
/* Time behind a seam: the wall clock (CLOCK_REALTIME, ms since the epoch, for the
 * wire and the database) and a monotonic clock (CLOCK_MONOTONIC, ms, for timers
 * and rates), each reached through a function pointer tests can replace. */
#include "clock.h"

#include <time.h>

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0; /* cannot happen for these clocks on Linux */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

static int64_t real_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static clock_fn wall_fn = real_wall_ms;
static clock_fn mono_fn = real_mono_ms;

int64_t clock_wall_ms(void)
{
	return wall_fn();
}

int64_t clock_mono_ms(void)
{
	return mono_fn();
}

void clock_stub(clock_fn wall, clock_fn mono)
{
	wall_fn = wall ? wall : real_wall_ms;
	mono_fn = mono ? mono : real_mono_ms;
}
