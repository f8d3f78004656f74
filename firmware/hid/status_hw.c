/* SPDX-License-Identifier: MIT */
/* Status output drivers: GPIO lines through the character device (libgpiod
 * 1.6, Debian bookworm's API) and a sysfs LED (/sys/class/leds/<name>, the
 * Pi's ACT LED), whose buzzer, if any, is a gpiod line. */
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gpiod.h>

#define CONSUMER "scanbridge-hid"

struct hw {
	struct gpiod_chip *chip;
	struct gpiod_line *led, *buzzer;
	bool led_active_low;
	int sysfs_fd;                 /* brightness file, or -1 */
};

static int hw_set(void *ctx, enum status_line line, bool on)
{
	struct hw *h = ctx;

	if (line == STATUS_LED && h->sysfs_fd >= 0)
		return pwrite(h->sysfs_fd, on ? "1\n" : "0\n", 2, 0) == 2 ? 0 : -1;
	if (line == STATUS_LED && h->led)
		return gpiod_line_set_value(h->led, on != h->led_active_low);
	if (line == STATUS_BUZZER && h->buzzer)
		return gpiod_line_set_value(h->buzzer, on);
	return 0;
}

static void hw_close(void *ctx)
{
	struct hw *h = ctx;

	if (h->led)
		gpiod_line_release(h->led);
	if (h->buzzer)
		gpiod_line_release(h->buzzer);
	if (h->chip)
		gpiod_chip_close(h->chip);
	if (h->sysfs_fd >= 0)
		close(h->sysfs_fd);
	free(h);
}

/* Requests line offset as an output at its "off" level. NULL after logging. */
static struct gpiod_line *output(struct hw *h, int offset, int off_value)
{
	struct gpiod_line *l = gpiod_chip_get_line(h->chip, (unsigned)offset);

	if (!l || gpiod_line_request_output(l, CONSUMER, off_value) < 0) {
		fprintf(stderr, "scanbridge-hid: GPIO line %d: %s\n", offset, strerror(errno));
		return NULL;
	}
	return l;
}

static int open_chip(struct hw *h, const char *chip)
{
	h->chip = gpiod_chip_open_lookup(chip);
	if (!h->chip) {
		fprintf(stderr, "scanbridge-hid: GPIO chip %s: %s\n", chip, strerror(errno));
		return -1;
	}
	return 0;
}

static void done(struct status_backend *b, struct hw *h)
{
	b->ctx = h;
	b->set = hw_set;
	b->close = hw_close;
}

int status_backend_gpiod(struct status_backend *b, const char *chip, int led_line,
			 int buzzer_line, bool led_active_low)
{
	struct hw *h = calloc(1, sizeof *h);

	if (!h)
		return -1;
	h->sysfs_fd = -1;
	h->led_active_low = led_active_low;
	if (open_chip(h, chip) < 0 ||
	    (led_line >= 0 && !(h->led = output(h, led_line, led_active_low))) ||
	    (buzzer_line >= 0 && !(h->buzzer = output(h, buzzer_line, 0)))) {
		hw_close(h);
		return -1;
	}
	done(b, h);
	return 0;
}

/* Takes the LED from the kernel's trigger (mmc0 activity on a Pi). */
static int sysfs_open(struct hw *h, const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof path, "/sys/class/leds/%s/trigger", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "none\n", 5) != 5) {
		fprintf(stderr, "scanbridge-hid: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	snprintf(path, sizeof path, "/sys/class/leds/%s/brightness", name);
	h->sysfs_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (h->sysfs_fd < 0) {
		fprintf(stderr, "scanbridge-hid: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int status_backend_sysfs_led(struct status_backend *b, const char *led_name,
			     const char *chip, int buzzer_line)
{
	struct hw *h = calloc(1, sizeof *h);

	if (!h)
		return -1;
	h->sysfs_fd = -1;
	if (sysfs_open(h, led_name) < 0 ||
	    (buzzer_line >= 0 && (open_chip(h, chip) < 0 || !(h->buzzer = output(h, buzzer_line, 0))))) {
		hw_close(h);
		return -1;
	}
	done(b, h);
	return 0;
}
