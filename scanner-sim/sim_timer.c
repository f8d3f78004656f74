/* SPDX-License-Identifier: MIT */
/* The loop's timers (see sim_timer.h): a binary min-heap on due_us in
 * l->heap, each timer knowing its position (pos) so that it can be cancelled
 * or rescheduled in place. */
#include "sim_timer.h"

#include <stdlib.h>

#include "conn.h"  /* struct sim_loop */
#include "sim.h"

static void heap_put(struct sim_loop *l, size_t i, struct sim_timer *t)
{
	l->heap[i] = t;
	t->pos = i + 1;
}

static void heap_up(struct sim_loop *l, size_t i)
{
	struct sim_timer *t = l->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->due_us <= t->due_us)
			break;
		heap_put(l, i, l->heap[p]);
		i = p;
	}
	heap_put(l, i, t);
}

static void heap_down(struct sim_loop *l, size_t i)
{
	struct sim_timer *t = l->heap[i];

	for (;;) {
		size_t ch = 2 * i + 1;
		if (ch >= l->n_heap)
			break;
		if (ch + 1 < l->n_heap && l->heap[ch + 1]->due_us < l->heap[ch]->due_us)
			ch++;
		if (t->due_us <= l->heap[ch]->due_us)
			break;
		heap_put(l, i, l->heap[ch]);
		i = ch;
	}
	heap_put(l, i, t);
}

void sim_timer_cancel(struct sim_timer *t)
{
	struct sim_loop *l = t->loop;
	size_t i;

	if (!t->pos || !l)
		return;
	i = t->pos - 1;
	t->pos = 0;
	if (i >= --l->n_heap)
		return;
	heap_put(l, i, l->heap[l->n_heap]);
	if (i > 0 && l->heap[i]->due_us < l->heap[(i - 1) / 2]->due_us)
		heap_up(l, i);
	else
		heap_down(l, i);
}

void sim_timer_schedule(struct sim_loop *l, struct sim_timer *t,
			void (*cb)(struct sim_timer *t), int64_t delay_us)
{
	struct sim_timer **nh;

	sim_timer_cancel(t);
	nh = sim_reserve_or_stop(l->heap, &l->cap_heap, l->n_heap + 1, sizeof *nh, 64);
	if (!nh)
		return;
	l->heap = nh;
	t->loop = l;
	t->cb = cb;
	t->due_us = sim_now_us() + (delay_us < 1 ? 1 : delay_us);
	l->heap[l->n_heap++] = t;
	heap_up(l, l->n_heap - 1);
}

void sim_timer_run_due(struct sim_loop *l)
{
	int64_t now = sim_now_us();

	while (l->n_heap && l->heap[0]->due_us <= now) {
		struct sim_timer *t = l->heap[0];
		sim_timer_cancel(t);
		t->cb(t);
	}
}

int sim_timer_wait_ms(const struct sim_loop *l)
{
	int64_t d;

	if (!l->n_heap)
		return 1000;
	d = l->heap[0]->due_us - sim_now_us();
	return d <= 0 ? 0 : d >= 1000000 ? 1000 : (int)((d + 999) / 1000);
}

void sim_timer_free_all(struct sim_loop *l)
{
	for (size_t i = 0; i < l->n_heap; i++)
		l->heap[i]->pos = 0;
	free(l->heap);
	l->heap = NULL;
	l->n_heap = l->cap_heap = 0;
}
