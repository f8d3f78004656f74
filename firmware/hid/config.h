/* SPDX-License-Identifier: MIT */
/* scanbridge-hid's configuration: a `key = value` file (one option a line, #
 * comments) whose global keys set the daemon URL, the outbox, the status
 * LED/buzzer and every gun's reader defaults, followed by optional
 * `[device VVVV:PPPP]` sections (hex USB vendor:product, PPPP may be *) that
 * put a gun model on the allow-list and override its reader settings
 * (layout, end keys, ...). firmware/scanbridge-hid.conf.example lists every
 * key. */
#ifndef HID_CONFIG_H
#define HID_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reader.h"

#define HID_MAX_RULES 32
#define HID_PATH_MAX 256

struct hid_dev_rule {
	uint16_t vendor, product;
	bool any_product;               /* VVVV:* */
	struct hid_reader_conf reader;
};

enum hid_status_backend { HID_STATUS_NONE, HID_STATUS_GPIOD, HID_STATUS_SYSFS_LED };

struct hid_config {
	char url[HID_PATH_MAX];         /* the daemon, default http://127.0.0.1:8080 */
	char cafile[HID_PATH_MAX];      /* CA for an https url; "" = system store */
	char outbox[HID_PATH_MAX];      /* SQLite outbox file */
	struct hid_reader_conf reader;  /* defaults of every gun */
	bool heuristic;                 /* also take devices that look like guns */
	bool grab;                      /* EVIOCGRAB the guns (default yes) */
	struct hid_dev_rule rules[HID_MAX_RULES];
	int n_rules;
	enum hid_status_backend status;
	char gpio_chip[64];             /* gpiod: chip name/path, default gpiochip0 */
	int led_line, buzzer_line;      /* gpiod line offsets; -1 = none */
	bool led_active_low;
	char sysfs_led[128];            /* sysfs-led: /sys/class/leds/<name> */
};

/* The built-in defaults. */
void hid_config_default(struct hid_config *c);

/* Parses text[0..len) (need not be NUL-terminated) over the values already in
 * c (start from hid_config_default). Returns 0, or SB_ECONFIG with err
 * ("<file>:<line>: <why>", file being the name given) filled; c is then
 * partly updated. */
int hid_config_parse(struct hid_config *c, const char *file, const char *text, size_t len,
		     char *err, size_t errcap);

/* Reads and parses a file. SB_ECONFIG (err filled) when unreadable or bad. */
int hid_config_load(struct hid_config *c, const char *path, char *err, size_t errcap);

/* The reader settings for a device: its [device] section's, else the global
 * ones. *allowed says whether a section names it. */
const struct hid_reader_conf *hid_config_reader_for(const struct hid_config *c,
						    uint16_t vendor, uint16_t product,
						    bool *allowed);

/* Parses an end-key list ("enter tab", "enter,gap", "none"). 0 or SB_EINVAL. */
int hid_config_parse_end(const char *s, unsigned *out);

#endif
