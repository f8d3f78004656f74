/* SPDX-License-Identifier: MIT */
/* Time, behind a seam tests can stub: wall clock (ms since the epoch, for the
 * wire and the database) and a monotonic clock (ms, for timers and rates). */
#ifndef SB_CLOCK_H
#define SB_CLOCK_H
#include <stdint.h>

int64_t clock_wall_ms(void);
int64_t clock_mono_ms(void);

/* Tests: replace either clock (NULL restores the real one). */
typedef int64_t (*clock_fn)(void);
void clock_stub(clock_fn wall, clock_fn mono);

#endif
