/* SPDX-License-Identifier: MIT */
/* The status LED and buzzer: a state machine from the bridge's own events to
 * on/off commands for two outputs, with time passed in (so tests drive it
 * with a fake clock and a recording backend). The LED shows a mode:
 *   starting     500 ms on / 500 ms off   (until the daemon first answers)
 *   ready        100 ms on every 2 s      (daemon reachable, no gun paired)
 *   paired       steady on                (daemon reachable, a gun paired)
 *   error        100 ms on / 100 ms off   (daemon unreachable)
 * The buzzer plays cues, queued so none is cut short:
 *   delivered    one 60 ms beep           (a desktop took a scan)
 *   paired       two 60 ms beeps          (a gun was paired by scanning a QR)
 *   error        one 600 ms beep          (scan refused, held back because the
 *                                          gun is unpaired, pairing failed,
 *                                          pairing ended by the daemon) */
#ifndef HID_STATUS_H
#define HID_STATUS_H
#include <stdbool.h>
#include <stdint.h>

enum status_line { STATUS_LED, STATUS_BUZZER };

/* An output driver: set(ctx, line, on) switches one line (return value is
 * ignored but logged by drivers), close(ctx) releases it. */
struct status_backend {
	void *ctx;
	int (*set)(void *ctx, enum status_line line, bool on);
	void (*close)(void *ctx);
};

enum status_mode { STATUS_STARTING, STATUS_READY, STATUS_PAIRED, STATUS_ERROR };
enum status_cue { CUE_DELIVERED, CUE_PAIRED, CUE_ERROR };

#define STATUS_QUEUE 32

struct status {
	struct status_backend be;
	enum status_mode mode;
	bool reachable, reachable_known;
	int paired_guns;
	bool led, buzzer;              /* what the outputs are now */
	uint64_t mode_since;
	/* buzzer: segments alternate on, off, on, ...; durations in ms */
	uint16_t seg[STATUS_QUEUE];
	int n_seg, cur;
	uint64_t seg_since;
};

/* Takes the backend (b may have a NULL set: no outputs). */
void status_init(struct status *s, const struct status_backend *b, uint64_t now_ms);
void status_close(struct status *s);

void status_reachable(struct status *s, bool up, uint64_t now_ms);
void status_paired_guns(struct status *s, int n, uint64_t now_ms);
void status_cue(struct status *s, enum status_cue c, uint64_t now_ms);

/* Drives the outputs for now_ms. Returns the time of the next change. */
uint64_t status_tick(struct status *s, uint64_t now_ms);

/* Backends (status_hw.c). Each returns 0 and fills *b, or -1 after logging
 * why (the bridge then runs without outputs). */
int status_backend_gpiod(struct status_backend *b, const char *chip, int led_line,
			 int buzzer_line, bool led_active_low);
int status_backend_sysfs_led(struct status_backend *b, const char *led_name,
			     const char *chip, int buzzer_line);

#endif
