/* SPDX-License-Identifier: MIT */
/* The device heuristic (see heuristic.h): pure, over a capability summary,
 * so it is tested on recorded capability sets. */
#include "heuristic.h"

#include <string.h>
#include <strings.h>

static const uint16_t scanner_vendors[] = {
	0x05e0, /* Symbol Technologies (Zebra) */
	0x0c2e, /* Metrologic (Honeywell) */
	0x0536, /* Hand Held Products (Honeywell) */
	0x05f9, /* PSC / Datalogic */
	0x1eab, /* Fujian Newland */
	0x065a, /* Opticon */
	0x0a5f, /* Zebra Technologies */
};

static const char *const scanner_words[] = { "barcode", "scanner", "scan", "reader" };

bool hid_is_keyboard_class(const struct hid_devinfo *d)
{
	return d->has_enter && d->has_digits && d->has_letters && !d->has_rel && !d->has_abs;
}

bool hid_looks_like_scanner(const struct hid_devinfo *d)
{
	if (!hid_is_keyboard_class(d))
		return false;
	for (size_t i = 0; i < sizeof scanner_vendors / sizeof scanner_vendors[0]; i++)
		if (d->vendor == scanner_vendors[i])
			return true;
	for (size_t i = 0; i < sizeof scanner_words / sizeof scanner_words[0]; i++)
		if (strcasestr(d->name, scanner_words[i]))
			return true;
	return false;
}
