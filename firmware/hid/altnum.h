/* SPDX-License-Identifier: MIT */
/* The Alt+numpad decoder: guns in "Alt mode" send each character as Alt held
 * down while its decimal value is typed on the keypad (the Windows habit),
 * which is immune to the keyboard layout. This module turns those digits into
 * a Unicode code point; it knows nothing about keys or events. */
#ifndef HID_ALTNUM_H
#define HID_ALTNUM_H
#include <stdbool.h>
#include <stdint.h>

#define ALTNUM_MAX_DIGITS 7      /* U+10FFFF is 1114111 */

struct altnum {
	uint32_t value;
	int digits;
	bool leading_zero;       /* first digit was 0: Windows-1252 ("ANSI") */
	bool overflow;
};

void altnum_reset(struct altnum *a);
/* Adds one decimal digit (0..9); more than ALTNUM_MAX_DIGITS marks overflow. */
void altnum_digit(struct altnum *a, int d);
/* True while digits are pending. */
bool altnum_active(const struct altnum *a);
/* Ends the sequence (Alt released) and resets a. Returns the code point, or
 * -1 for no digits, an overflow, 0, a surrogate or a value past U+10FFFF.
 * With a leading zero the value is a Windows-1252 byte (0..255; 0x80..0x9F
 * map to their Unicode characters, undefined ones give -1); without one it is
 * the Unicode code point itself (the same as ASCII below 128). */
int32_t altnum_finish(struct altnum *a);

#endif
