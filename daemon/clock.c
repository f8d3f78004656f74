/* SPDX-License-Identifier: MIT */
/* Time behind a seam: the wall clock (CLOCK_REALTIME, ms since the epoch, for the
 * wire and the database) and a monotonic clock (CLOCK_MONOTONIC, ms, for timers
 * and rates), each reached through a function pointer tests can replace. */
#include "clock.h"

#include <stdio.h>
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

size_t clock_iso8601(int64_t wall_ms, char *out, size_t size)
{
	int64_t ms = wall_ms % 1000 < 0 ? wall_ms % 1000 + 1000 : wall_ms % 1000;
	time_t t = (time_t)((wall_ms - ms) / 1000);
	struct tm tm;
	size_t n;

	if (!size)
		return 0;
	gmtime_r(&t, &tm);
	n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(out + n, size - n, ".%03dZ", (int)ms);
	return n < size ? n : size - 1;
}

void clock_stub(clock_fn wall, clock_fn mono)
{
	wall_fn = wall ? wall : real_wall_ms;
	mono_fn = mono ? mono : real_mono_ms;
}
