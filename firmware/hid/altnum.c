/* SPDX-License-Identifier: MIT */
/* Alt+numpad decoding (see altnum.h). The only table is Windows-1252's
 * 0x80..0x9F row, the one place where that code page differs from Unicode's
 * Latin-1 block: a code page, not a keyboard layout. */
#include "altnum.h"

#include <string.h>

/* Windows-1252 0x80..0x9F; 0 marks the five undefined bytes. */
static const uint16_t cp1252_80[32] = {
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

void altnum_reset(struct altnum *a)
{
	memset(a, 0, sizeof *a);
}

void altnum_digit(struct altnum *a, int d)
{
	if (d < 0 || d > 9 || a->digits >= ALTNUM_MAX_DIGITS) {
		a->overflow = true;
		return;
	}
	if (a->digits == 0 && d == 0)
		a->leading_zero = true;
	a->value = a->value * 10 + (uint32_t)d;
	a->digits++;
}

bool altnum_active(const struct altnum *a)
{
	return a->digits > 0 || a->overflow;
}

int32_t altnum_finish(struct altnum *a)
{
	struct altnum v = *a;
	uint32_t cp = v.value;

	altnum_reset(a);
	if (v.digits == 0 || v.overflow || cp == 0)
		return -1;
	if (v.leading_zero) {
		if (cp > 255)
			return -1;
		if (cp >= 0x80 && cp <= 0x9F) {
			cp = cp1252_80[cp - 0x80];
			if (cp == 0)
				return -1;
		}
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	return (int32_t)cp;
}
