/* SPDX-License-Identifier: MIT */
/* Time, behind a seam tests can stub: wall clock (ms since the epoch, for the
 * wire and the database) and a monotonic clock (ms, for timers and rates). */
#ifndef SB_CLOCK_H
#define SB_CLOCK_H
#include <stddef.h>
#include <stdint.h>

int64_t clock_wall_ms(void);
int64_t clock_mono_ms(void);

/* wall_ms as "2026-11-23T14:25:52.123Z" (UTC) into out (32 bytes suffice).
 * Returns the length written (truncated to size - 1). */
size_t clock_iso8601(int64_t wall_ms, char *out, size_t size);

/* Tests: replace either clock (NULL restores the real one). */
typedef int64_t (*clock_fn)(void);
void clock_stub(clock_fn wall, clock_fn mono);

#endif
