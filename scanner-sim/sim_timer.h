/* SPDX-License-Identifier: MIT */
/* One-shot timers of the simulator's event loop (struct sim_loop, conn.h): a
 * binary min-heap on the due time, held by the loop. Thousands of connections
 * and scanners each hold a timer or two (backoff, handshake deadline, scan
 * rate), so scheduling and cancelling cost O(log n) and the next deadline,
 * which bounds the loop's epoll wait, is read in O(1). Nothing here knows
 * about sockets; conn.h includes this header, so owners of a loop get the
 * timers with it. */
#ifndef SIM_TIMER_H
#define SIM_TIMER_H
#include <stddef.h>
#include <stdint.h>

struct sim_loop;

/* A one-shot timer on the loop (a min-heap entry). Zeroed = not scheduled. */
struct sim_timer {
	int64_t due_us;
	size_t pos;                   /* heap position + 1; 0 when not scheduled */
	struct sim_loop *loop;
	void (*cb)(struct sim_timer *t);
};

/* (Re)schedules t to call cb in delay_us (at the first pass after that). */
void sim_timer_schedule(struct sim_loop *l, struct sim_timer *t,
			void (*cb)(struct sim_timer *t), int64_t delay_us);
/* Unschedules t; a no-op when it is not scheduled. */
void sim_timer_cancel(struct sim_timer *t);

/* For the loop (conn.c). */
/* Calls back every timer now due, earliest first (each unscheduled first). */
void sim_timer_run_due(struct sim_loop *l);
/* How long a pass may wait for the next timer: milliseconds, rounded up
 * (rounding down would poll with timeout 0 in the last millisecond before
 * each timer: a spin), at most 1000. */
int sim_timer_wait_ms(const struct sim_loop *l);
/* Loop teardown: unschedules every timer without calling it, frees the heap. */
void sim_timer_free_all(struct sim_loop *l);

#endif
