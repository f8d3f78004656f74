/* SPDX-License-Identifier: MIT */
/* Barcode formats and code validation for the wire protocol: the table of format
 * names, a strict UTF-8 decoder that enforces the code text rules (1..N code
 * points, no overlongs, surrogates or control characters), digit-format lengths,
 * and GS1 mod-10 check digits for EAN-13, EAN-8, UPC-A, UPC-E (via its UPC-A
 * expansion) and ITF-14. Pure functions, no allocation. */
#include "barcode.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sb_err.h"

static const char *const format_names[SB_FMT_COUNT] = {
	[SB_FMT_UNKNOWN] = "UNKNOWN",
	[SB_FMT_EAN_13] = "EAN_13",
	[SB_FMT_EAN_8] = "EAN_8",
	[SB_FMT_UPC_A] = "UPC_A",
	[SB_FMT_UPC_E] = "UPC_E",
	[SB_FMT_CODE_128] = "CODE_128",
	[SB_FMT_CODE_39] = "CODE_39",
	[SB_FMT_CODE_93] = "CODE_93",
	[SB_FMT_ITF] = "ITF",
	[SB_FMT_CODABAR] = "CODABAR",
	[SB_FMT_QR_CODE] = "QR_CODE",
	[SB_FMT_DATA_MATRIX] = "DATA_MATRIX",
	[SB_FMT_PDF_417] = "PDF_417",
	[SB_FMT_AZTEC] = "AZTEC",
	[SB_FMT_DATABAR] = "DATABAR",
};

const char *barcode_format_name(enum sb_format f)
{
	if ((int)f < 0 || f >= SB_FMT_COUNT)
		return format_names[SB_FMT_UNKNOWN];
	return format_names[f];
}

int barcode_format_parse(const char *name, enum sb_format *out)
{
	if (name == NULL)
		return SB_EINVAL;
	for (int i = 0; i < SB_FMT_COUNT; i++) {
		if (strcmp(name, format_names[i]) == 0) {
			if (out != NULL)
				*out = (enum sb_format)i;
			return 0;
		}
	}
	return SB_EINVAL;
}

/* Decodes one UTF-8 sequence at s[0..len) (len >= 1). Returns its length in
 * bytes and sets *cp, or 0 when the sequence is invalid: a stray continuation
 * byte, truncated, overlong, a surrogate or above U+10FFFF. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n;
	uint32_t c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) { n = 2; c &= 0x1F; }
	else if (c >= 0xE0 && c <= 0xEF) { n = 3; c &= 0x0F; }
	else if (c >= 0xF0 && c <= 0xF4) { n = 4; c &= 0x07; }
	else return 0; /* continuation byte, C0/C1 (always overlong), F5..FF */
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min_cp[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

/* Unicode general category Cc: C0 controls, DEL and C1 controls. */
static bool is_control(uint32_t cp)
{
	return cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F);
}

int barcode_text_valid(const char *s, size_t len, size_t max_cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t count = 0;

	if (s == NULL || len == 0)
		return SB_EINVAL;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_decode(p + i, len - i, &cp);
		if (n == 0 || is_control(cp) || ++count > max_cp)
			return SB_EINVAL;
		i += n;
	}
	return 0;
}

static bool all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

char barcode_gs1_check_digit(const char *digits, size_t n)
{
	unsigned sum = 0;

	/* Weight 3 on the rightmost payload digit, then 1, 3, 1, ... leftwards. */
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(digits[n - 1 - i] - '0');
		sum += (i % 2 == 0) ? 3 * d : d;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

/* Expands the 8-digit UPC-E code e (number system, payload x1..x6, check) into
 * the 11-digit UPC-A payload a (without its check digit), per GS1: the last
 * payload digit x6 selects where the manufacturer/product zeros go. Patterns
 * name payload digits 'a'..'f' (x1..x6). Returns SB_EINVAL when the number
 * system is not 0 or 1. */
static int upce_expand(const char *e, char a[11])
{
	static const char *const layout[10] = {
		"abf0000cde", "abf0000cde", "abf0000cde", /* x6 = 0, 1, 2 */
		"abc00000de",                             /* x6 = 3 */
		"abcd00000e",                             /* x6 = 4 */
		"abcde0000f", "abcde0000f", "abcde0000f", /* x6 = 5..9 */
		"abcde0000f", "abcde0000f",
	};
	const char *x = e + 1;
	const char *pat = layout[x[5] - '0'];

	if (e[0] != '0' && e[0] != '1')
		return SB_EINVAL;
	a[0] = e[0];
	for (int i = 0; i < 10; i++)
		a[1 + i] = pat[i] == '0' ? '0' : x[pat[i] - 'a'];
	return 0;
}

/* Required length of a digit-only format, or 0 for formats without one. */
static size_t digit_format_len(enum sb_format f)
{
	switch (f) {
	case SB_FMT_EAN_13: return 13;
	case SB_FMT_EAN_8: return 8;
	case SB_FMT_UPC_A: return 12;
	case SB_FMT_UPC_E: return 8;
	default: return 0;
	}
}

/* The check digit of code[0..len) is its last digit over the rest (GS1 mod 10). */
static int gs1_verify(const char *code, size_t len)
{
	return barcode_gs1_check_digit(code, len - 1) == code[len - 1]
	       ? 0 : SB_ECHECKDIGIT;
}

int barcode_validate(enum sb_format f, const char *code, size_t len)
{
	size_t want = digit_format_len(f);
	char upca[11];

	if (barcode_text_valid(code, len, SB_CODE_MAX_CP) != 0)
		return SB_EINVAL;
	if (f == SB_FMT_ITF && len == 14 && all_digits(code, len))
		return gs1_verify(code, len);
	if (want == 0)
		return 0;
	if (len != want || !all_digits(code, len))
		return SB_EINVAL;
	if (f != SB_FMT_UPC_E)
		return gs1_verify(code, len);
	if (upce_expand(code, upca) != 0)
		return SB_EINVAL;
	return barcode_gs1_check_digit(upca, sizeof upca) == code[7]
	       ? 0 : SB_ECHECKDIGIT;
}

int scan_id_valid(const char *id, size_t len)
{
	if (id == NULL || len == 0 || len > SB_SCAN_ID_MAX)
		return SB_EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok)
			return SB_EINVAL;
	}
	return 0;
}
