/* SPDX-License-Identifier: MIT */
/* The LED/buzzer state machine (see status.h). Pure: no clock, no I/O but
 * the backend's set(), called only when a line changes. */
#include "status.h"

#include <string.h>

struct blink { uint16_t on_ms, off_ms; };

/* off_ms 0: steady on */
static const struct blink patterns[] = {
	[STATUS_STARTING] = { 500, 500 },
	[STATUS_READY] = { 100, 1900 },
	[STATUS_PAIRED] = { 1, 0 },
	[STATUS_ERROR] = { 100, 100 },
};

#define CUE_GAP_MS 80

static void set_line(struct status *s, enum status_line line, bool on)
{
	bool *cur = line == STATUS_LED ? &s->led : &s->buzzer;

	if (*cur == on)
		return;
	*cur = on;
	if (s->be.set)
		s->be.set(s->be.ctx, line, on);
}

static void update_mode(struct status *s, uint64_t now_ms)
{
	enum status_mode m;

	if (!s->reachable_known)
		m = STATUS_STARTING;
	else if (!s->reachable)
		m = STATUS_ERROR;
	else
		m = s->paired_guns > 0 ? STATUS_PAIRED : STATUS_READY;
	if (m != s->mode) {
		s->mode = m;
		s->mode_since = now_ms;
	}
}

void status_init(struct status *s, const struct status_backend *b, uint64_t now_ms)
{
	memset(s, 0, sizeof *s);
	if (b)
		s->be = *b;
	s->mode = STATUS_STARTING;
	s->mode_since = now_ms;
	status_tick(s, now_ms);
}

void status_close(struct status *s)
{
	set_line(s, STATUS_LED, false);
	set_line(s, STATUS_BUZZER, false);
	if (s->be.close)
		s->be.close(s->be.ctx);
	s->be.set = NULL;
	s->be.close = NULL;
}

void status_reachable(struct status *s, bool up, uint64_t now_ms)
{
	s->reachable = up;
	s->reachable_known = true;
	update_mode(s, now_ms);
	status_tick(s, now_ms);
}

void status_paired_guns(struct status *s, int n, uint64_t now_ms)
{
	s->paired_guns = n;
	update_mode(s, now_ms);
	status_tick(s, now_ms);
}

/* Appends on/off segments; a full queue drops the cue (a flood of scans
 * needs no more beeps than the queue holds). */
static void queue(struct status *s, const uint16_t *segs, int n, uint64_t now_ms)
{
	if (s->n_seg == 0)
		s->seg_since = now_ms;
	if (s->n_seg > 0 && s->n_seg % 2 == 1) {
		if (s->n_seg + 1 + n > STATUS_QUEUE)
			return;
		s->seg[s->n_seg++] = CUE_GAP_MS;   /* a pause before the next cue */
	}
	if (s->n_seg + n > STATUS_QUEUE)
		return;
	memcpy(s->seg + s->n_seg, segs, (size_t)n * sizeof *segs);
	s->n_seg += n;
}

void status_cue(struct status *s, enum status_cue c, uint64_t now_ms)
{
	static const uint16_t delivered[] = { 60 };
	static const uint16_t paired[] = { 60, 80, 60 };
	static const uint16_t error[] = { 600 };

	if (c == CUE_DELIVERED)
		queue(s, delivered, 1, now_ms);
	else if (c == CUE_PAIRED)
		queue(s, paired, 3, now_ms);
	else
		queue(s, error, 1, now_ms);
	status_tick(s, now_ms);
}

/* The buzzer: advances through the segments. Returns the next change. */
static uint64_t tick_buzzer(struct status *s, uint64_t now_ms)
{
	while (s->cur < s->n_seg && now_ms >= s->seg_since + s->seg[s->cur]) {
		s->seg_since += s->seg[s->cur];
		s->cur++;
	}
	if (s->cur >= s->n_seg) {
		s->cur = s->n_seg = 0;
		set_line(s, STATUS_BUZZER, false);
		return UINT64_MAX;
	}
	set_line(s, STATUS_BUZZER, s->cur % 2 == 0);
	return s->seg_since + s->seg[s->cur];
}

static uint64_t tick_led(struct status *s, uint64_t now_ms)
{
	const struct blink *b = &patterns[s->mode];
	uint64_t period = (uint64_t)b->on_ms + b->off_ms, pos;

	if (b->off_ms == 0) {
		set_line(s, STATUS_LED, true);
		return UINT64_MAX;
	}
	pos = (now_ms - s->mode_since) % period;
	set_line(s, STATUS_LED, pos < b->on_ms);
	return now_ms - pos + (pos < b->on_ms ? b->on_ms : period);
}

uint64_t status_tick(struct status *s, uint64_t now_ms)
{
	uint64_t a = tick_led(s, now_ms), b = tick_buzzer(s, now_ms);

	return a < b ? a : b;
}
