/* SPDX-License-Identifier: MIT */
/* The status LED/buzzer state machine against a recording backend and a fake
 * clock: modes (starting, ready, paired, error) as LED patterns, cues
 * (delivered, paired, error) as buzzer segments, queued without cutting. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "status.h"

#define MAX_REC 256

struct rec { uint64_t t; enum status_line line; bool on; };

static struct rec recs[MAX_REC];
static int n_recs;
static uint64_t now;
static bool closed;

static int fake_set(void *ctx, enum status_line line, bool on)
{
	(void)ctx;
	if (n_recs < MAX_REC)
		recs[n_recs++] = (struct rec){ now, line, on };
	return 0;
}

static void fake_close(void *ctx)
{
	(void)ctx;
	closed = true;
}

static const struct status_backend fake = { NULL, fake_set, fake_close };

static void start(struct status *s)
{
	n_recs = 0;
	now = 1000;
	closed = false;
	status_init(s, &fake, now);
}

/* Runs the clock to t, ticking at every change the machine asks for. */
static void run_to(struct status *s, uint64_t t)
{
	while (now < t) {
		uint64_t next = status_tick(s, now);
		now = next < t ? next : t;
	}
	status_tick(s, now);
}

/* The line's transitions recorded in [from, to): "1@0 0@500 ..." relative to from. */
static void transitions(enum status_line line, uint64_t from, uint64_t to, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < n_recs; i++)
		if (recs[i].line == line && recs[i].t >= from && recs[i].t < to)
			n += (size_t)snprintf(out + n, cap - n, "%s%d@%llu", n ? " " : "",
					      recs[i].on, (unsigned long long)(recs[i].t - from));
}

static void test_starting_blinks(void)
{
	struct status s;
	char t[256];

	start(&s);
	run_to(&s, 3000);
	transitions(STATUS_LED, 1000, 3000, t, sizeof t);
	CHECK_STR(t, "1@0 0@500 1@1000 0@1500");
	CHECK_EQ_INT(s.mode, STATUS_STARTING);
}

static void test_ready_then_paired_then_error(void)
{
	struct status s;
	char t[256];

	start(&s);
	status_reachable(&s, true, now);
	CHECK_EQ_INT(s.mode, STATUS_READY);
	run_to(&s, 5000);
	transitions(STATUS_LED, 1000, 5000, t, sizeof t);
	CHECK_STR(t, "1@0 0@100 1@2000 0@2100");
	status_paired_guns(&s, 1, now);
	CHECK_EQ_INT(s.mode, STATUS_PAIRED);
	run_to(&s, 8000);
	transitions(STATUS_LED, 5000, 8000, t, sizeof t);
	CHECK_STR(t, "1@0");                  /* steady on */
	status_reachable(&s, false, now);
	CHECK_EQ_INT(s.mode, STATUS_ERROR);
	run_to(&s, 8400);
	transitions(STATUS_LED, 8000, 8400, t, sizeof t);
	CHECK_STR(t, "0@100 1@200 0@300");    /* on at 8000 already: fast blink */
	status_reachable(&s, true, now);
	CHECK_EQ_INT(s.mode, STATUS_PAIRED);
}

static void test_cues(void)
{
	struct status s;
	char t[256];

	start(&s);
	status_cue(&s, CUE_DELIVERED, now);
	run_to(&s, 1500);
	transitions(STATUS_BUZZER, 1000, 1500, t, sizeof t);
	CHECK_STR(t, "1@0 0@60");
	status_cue(&s, CUE_PAIRED, now);
	run_to(&s, 2000);
	transitions(STATUS_BUZZER, 1500, 2000, t, sizeof t);
	CHECK_STR(t, "1@0 0@60 1@140 0@200");
	status_cue(&s, CUE_ERROR, now);
	run_to(&s, 3000);
	transitions(STATUS_BUZZER, 2000, 3000, t, sizeof t);
	CHECK_STR(t, "1@0 0@600");
}

/* Cues close together play one after the other, with a pause between. */
static void test_cues_queue(void)
{
	struct status s;
	char t[256];

	start(&s);
	status_cue(&s, CUE_DELIVERED, now);
	status_cue(&s, CUE_ERROR, now + 10);
	run_to(&s, 2000);
	transitions(STATUS_BUZZER, 1000, 2000, t, sizeof t);
	CHECK_STR(t, "1@0 0@60 1@140 0@740");
}

/* A flood of cues never overflows the queue. */
static void test_cue_flood(void)
{
	struct status s;

	start(&s);
	for (int i = 0; i < 1000; i++)
		status_cue(&s, CUE_DELIVERED, now);
	CHECK(s.n_seg <= STATUS_QUEUE);
	run_to(&s, 10000);
	CHECK(!s.buzzer);
}

static void test_close_turns_off(void)
{
	struct status s;

	start(&s);
	status_reachable(&s, true, now);
	status_paired_guns(&s, 2, now);
	status_cue(&s, CUE_ERROR, now);
	CHECK(s.led && s.buzzer);
	status_close(&s);
	CHECK(!s.led && !s.buzzer);
	CHECK(closed);
}

/* Without a backend (status = none) the machine runs and drives nothing. */
static void test_no_backend(void)
{
	struct status s;

	n_recs = 0;
	status_init(&s, NULL, 0);
	status_cue(&s, CUE_ERROR, 0);
	status_tick(&s, 1000);
	status_close(&s);
	CHECK_EQ_INT(n_recs, 0);
}

TEST_MAIN(TEST(test_starting_blinks), TEST(test_ready_then_paired_then_error), TEST(test_cues),
	  TEST(test_cues_queue), TEST(test_cue_flood), TEST(test_close_turns_off),
	  TEST(test_no_backend))
