/* SPDX-License-Identifier: MIT */
/* Which input devices are barcode guns. A device named by a [device
 * VVVV:PPPP] section of the config is always taken; otherwise, with
 * heuristic = yes (the default), a device is taken when it
 *   1. is keyboard-class: it has EV_KEY with KEY_ENTER, the digits 0-9 and the
 *      letters A-Z (a gun is a keyboard-wedge device), and
 *   2. is not a pointer: no EV_REL, no EV_ABS (mice, touchpads, tablets), and
 *   3. says it is a scanner: its USB vendor is a barcode-scanner maker
 *      (Symbol/Zebra 05e0, Metrologic/Honeywell 0c2e, Hand Held Products
 *      0536, Datalogic 05f9, Newland 1eab, Opticon 065a, Zebra 0a5f), or its
 *      name contains "barcode", "scanner", "scan" or "reader" (any case).
 * An ordinary keyboard passes 1 and 2 but not 3, so the box's own keyboard is
 * never grabbed; a no-name gun whose name says nothing needs a [device] line. */
#ifndef HID_HEURISTIC_H
#define HID_HEURISTIC_H
#include <stdbool.h>
#include <stdint.h>

struct hid_devinfo {
	char name[128];
	uint16_t bustype, vendor, product;
	bool has_rel, has_abs;
	bool has_enter, has_digits, has_letters;   /* all of them */
};

bool hid_is_keyboard_class(const struct hid_devinfo *d);
bool hid_looks_like_scanner(const struct hid_devinfo *d);

#endif
