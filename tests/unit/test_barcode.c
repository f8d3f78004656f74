/* SPDX-License-Identifier: MIT */
/* Unit tests for proto/barcode.c: format names, UTF-8 text rules, digit-format
 * lengths and check digits (EAN-13, EAN-8, UPC-A, UPC-E, ITF-14), scan ids.
 * Table-driven; every expected check digit was computed by hand as well. */
#include <stdlib.h>
#include <string.h>

#include "barcode.h"
#include "check.h"
#include "sb_err.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_format_names(void)
{
	static const char *const names[SB_FMT_COUNT] = {
		"UNKNOWN", "EAN_13", "EAN_8", "UPC_A", "UPC_E", "CODE_128",
		"CODE_39", "CODE_93", "ITF", "CODABAR", "QR_CODE", "DATA_MATRIX",
		"PDF_417", "AZTEC", "DATABAR",
	};
	for (int i = 0; i < SB_FMT_COUNT; i++) {
		enum sb_format f = SB_FMT_COUNT;
		CHECK_STR(barcode_format_name((enum sb_format)i), names[i]);
		CHECK_EQ_INT(barcode_format_parse(names[i], &f), 0);
		CHECK_EQ_INT(f, i);
	}
	CHECK_STR(barcode_format_name(SB_FMT_COUNT), "UNKNOWN");
	CHECK_STR(barcode_format_name((enum sb_format)-1), "UNKNOWN");
}

static void test_format_unknown_names(void)
{
	static const char *const bad[] = {
		"ean13", "", "EAN_13 ", " EAN_13", "ean_13", "EAN13", "QR", "unknown",
		"EAN_13\n", "CODE128", "ITF14",
	};
	for (size_t i = 0; i < N(bad); i++) {
		enum sb_format f = SB_FMT_QR_CODE;
		CHECK_EQ_INT(barcode_format_parse(bad[i], &f), SB_EINVAL);
		CHECK_EQ_INT(f, SB_FMT_QR_CODE); /* untouched on failure */
	}
	CHECK_EQ_INT(barcode_format_parse(NULL, NULL), SB_EINVAL);
}

struct text_case { const char *s; size_t len; int want; const char *what; };
#define T(lit, want) { lit, sizeof(lit) - 1, want, #lit }

static void test_text_utf8(void)
{
	static const struct text_case cases[] = {
		T("a", 0), T("hello world", 0),
		T("\xC3\xA9", 0),                 /* é */
		T("\xF0\x9D\x84\x9E", 0),         /* U+1D11E 𝄞 */
		T("\xE4\xB8\xAD\xE6\x96\x87", 0), /* 中文 */
		T("\xEF\xBF\xBF", 0),             /* U+FFFF noncharacter: allowed */
		T("\xF4\x8F\xBF\xBF", 0),         /* U+10FFFF */
		T("\xC2\xA0", 0),                 /* U+00A0, first after C1 */
		T("", SB_EINVAL),
		T("\xC0\x80", SB_EINVAL),         /* overlong NUL */
		T("\xC1\xBF", SB_EINVAL),         /* overlong */
		T("\xE0\x80\x80", SB_EINVAL),     /* overlong */
		T("\xE0\x9F\xBF", SB_EINVAL),     /* overlong U+07FF */
		T("\xF0\x8F\xBF\xBF", SB_EINVAL), /* overlong U+FFFF */
		T("\xED\xA0\x80", SB_EINVAL),     /* U+D800 */
		T("\xED\xBF\xBF", SB_EINVAL),     /* U+DFFF */
		T("\xF4\x90\x80\x80", SB_EINVAL), /* U+110000 */
		T("\xF5\x80\x80\x80", SB_EINVAL),
		T("\xFF", SB_EINVAL), T("\x80", SB_EINVAL), T("a\xBF", SB_EINVAL),
		T("\xC3", SB_EINVAL), T("\xE4\xB8", SB_EINVAL),       /* truncated */
		T("\xF0\x9D\x84", SB_EINVAL), T("\xE4\xB8" "a", SB_EINVAL),
		T("a\tb", SB_EINVAL), T("a\nb", SB_EINVAL), T("\x7F", SB_EINVAL),
		T("\x1F", SB_EINVAL), T("a\0b", SB_EINVAL),
		T("\xC2\x85", SB_EINVAL), T("\xC2\x80", SB_EINVAL), T("\xC2\x9F", SB_EINVAL),
	};
	for (size_t i = 0; i < N(cases); i++) {
		int rc = barcode_text_valid(cases[i].s, cases[i].len, SB_CODE_MAX_CP);
		if (rc != cases[i].want)
			fprintf(stderr, "case %s\n", cases[i].what);
		CHECK_EQ_INT(rc, cases[i].want);
	}
}

/* Fills a buffer with n copies of the UTF-8 sequence u; returns its length. */
static size_t repeat(char *buf, const char *u, size_t n)
{
	size_t ul = strlen(u);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * ul, u, ul);
	return n * ul;
}

static void test_text_length(void)
{
	char *buf = malloc(SB_CODE_MAX_BYTES + 8);
	size_t len;

	len = repeat(buf, "x", 512);
	CHECK_EQ_INT(barcode_text_valid(buf, len, SB_CODE_MAX_CP), 0);
	len = repeat(buf, "x", 513);
	CHECK_EQ_INT(barcode_text_valid(buf, len, SB_CODE_MAX_CP), SB_EINVAL);
	len = repeat(buf, "\xF0\x9D\x84\x9E", 512); /* 2048 bytes, 512 code points */
	CHECK_EQ_INT(len, SB_CODE_MAX_BYTES);
	CHECK_EQ_INT(barcode_text_valid(buf, len, SB_CODE_MAX_CP), 0);
	CHECK_EQ_INT(barcode_validate(SB_FMT_QR_CODE, buf, len), 0);
	len = repeat(buf, "\xC3\xA9", 513);
	CHECK_EQ_INT(barcode_text_valid(buf, len, SB_CODE_MAX_CP), SB_EINVAL);
	CHECK_EQ_INT(barcode_validate(SB_FMT_QR_CODE, buf, len), SB_EINVAL);
	CHECK_EQ_INT(barcode_text_valid("abc", 3, 3), 0);
	CHECK_EQ_INT(barcode_text_valid("abcd", 4, 3), SB_EINVAL);
	CHECK_EQ_INT(barcode_text_valid(NULL, 0, 3), SB_EINVAL);
	free(buf);
}

static void test_gs1_check_digit(void)
{
	CHECK_EQ_INT(barcode_gs1_check_digit("400638133393", 12), '1');
	CHECK_EQ_INT(barcode_gs1_check_digit("7351353", 7), '7');
	CHECK_EQ_INT(barcode_gs1_check_digit("03600029145", 11), '2');
	CHECK_EQ_INT(barcode_gs1_check_digit("0001234567890", 13), '5');
	CHECK_EQ_INT(barcode_gs1_check_digit("01234500006", 11), '5'); /* UPC-E 01234565 */
	CHECK_EQ_INT(barcode_gs1_check_digit("000000000000", 12), '0');
}

struct code_case { enum sb_format f; const char *code; int want; };

static void test_validate_digit_formats(void)
{
	static const struct code_case cases[] = {
		{ SB_FMT_EAN_13, "4006381333931", 0 },
		{ SB_FMT_EAN_13, "5901234123457", 0 },
		{ SB_FMT_EAN_13, "4006381333932", SB_ECHECKDIGIT },
		{ SB_FMT_EAN_13, "4006381333930", SB_ECHECKDIGIT },
		{ SB_FMT_EAN_13, "400638133393", SB_EINVAL },
		{ SB_FMT_EAN_13, "40063813339310", SB_EINVAL },
		{ SB_FMT_EAN_13, "400638133393X", SB_EINVAL },
		{ SB_FMT_EAN_13, " 006381333931", SB_EINVAL },
		{ SB_FMT_EAN_8, "73513537", 0 },
		{ SB_FMT_EAN_8, "96385074", 0 },
		{ SB_FMT_EAN_8, "73513538", SB_ECHECKDIGIT },
		{ SB_FMT_EAN_8, "7351353", SB_EINVAL },
		{ SB_FMT_EAN_8, "7351353a", SB_EINVAL },
		{ SB_FMT_UPC_A, "036000291452", 0 },
		{ SB_FMT_UPC_A, "036000291453", SB_ECHECKDIGIT },
		{ SB_FMT_UPC_A, "03600029145", SB_EINVAL },
		{ SB_FMT_UPC_A, "0360002914522", SB_EINVAL },
		{ SB_FMT_UPC_E, "01234565", 0 },  /* -> 01234500006 5 */
		{ SB_FMT_UPC_E, "01234564", SB_ECHECKDIGIT },
		{ SB_FMT_UPC_E, "04252614", 0 },  /* x6=1 -> UPC-A 042100005264 */
		{ SB_FMT_UPC_E, "01234204", 0 },  /* x6=0 -> 01200000342 4 */
		{ SB_FMT_UPC_E, "06543226", 0 },  /* x6=2 -> 06520000432 6 */
		{ SB_FMT_UPC_E, "01234036", 0 },  /* x6=3 -> 01230000040 6 */
		{ SB_FMT_UPC_E, "01234145", 0 },  /* x6=4 -> 01234000001 5 */
		{ SB_FMT_UPC_E, "01234558", 0 },  /* x6=5 -> 01234500005 8 */
		{ SB_FMT_UPC_E, "01234146", SB_ECHECKDIGIT },
		/* Naive mod 10 over the 7 UPC-E digits gives 0425261 -> 0, not 4. */
		{ SB_FMT_UPC_E, "04252610", SB_ECHECKDIGIT },
		{ SB_FMT_UPC_E, "11234562", 0 },  /* number system 1 -> 11234500006 2 */
		{ SB_FMT_UPC_E, "21234565", SB_EINVAL }, /* number system 2 */
		{ SB_FMT_UPC_E, "91234565", SB_EINVAL },
		{ SB_FMT_UPC_E, "0123456", SB_EINVAL },
		{ SB_FMT_UPC_E, "123456", SB_EINVAL },  /* 6-digit form not accepted */
		{ SB_FMT_UPC_E, "0123456x", SB_EINVAL },
		{ SB_FMT_ITF, "00012345678905", 0 },
		{ SB_FMT_ITF, "15400141288763", 0 },
		{ SB_FMT_ITF, "00012345678906", SB_ECHECKDIGIT },
		{ SB_FMT_ITF, "0001234567890", 0 },    /* not 14 digits: not checked */
		{ SB_FMT_ITF, "000123456789066", 0 },
		{ SB_FMT_ITF, "1234", 0 },
		{ SB_FMT_ITF, "0001234567890A", 0 },   /* 14 chars, not all digits */
		{ SB_FMT_CODE_128, "4006381333932", 0 },/* no check for other formats */
		{ SB_FMT_UNKNOWN, "anything \xC3\xA9", 0 },
		{ SB_FMT_QR_CODE, "https://example.com/?a=1", 0 },
		{ SB_FMT_QR_CODE, "tab\there", SB_EINVAL },
		{ SB_FMT_EAN_13, "", SB_EINVAL },
		{ SB_FMT_UNKNOWN, "", SB_EINVAL },
	};
	for (size_t i = 0; i < N(cases); i++) {
		int rc = barcode_validate(cases[i].f, cases[i].code, strlen(cases[i].code));
		if (rc != cases[i].want)
			fprintf(stderr, "case %s %s\n", barcode_format_name(cases[i].f), cases[i].code);
		CHECK_EQ_INT(rc, cases[i].want);
	}
}

/* Every single-digit corruption of a valid EAN-13 is caught (mod 10 property). */
static void test_single_digit_errors_detected(void)
{
	char code[] = "4006381333931";
	for (size_t pos = 0; pos < 13; pos++) {
		char orig = code[pos];
		for (char d = '0'; d <= '9'; d++) {
			if (d == orig)
				continue;
			code[pos] = d;
			CHECK_EQ_INT(barcode_validate(SB_FMT_EAN_13, code, 13), SB_ECHECKDIGIT);
		}
		code[pos] = orig;
	}
	CHECK_EQ_INT(barcode_validate(SB_FMT_EAN_13, code, 13), 0);
}

/* Code length is len, not strlen: an embedded NUL is a control character. */
static void test_validate_uses_len(void)
{
	CHECK_EQ_INT(barcode_validate(SB_FMT_EAN_13, "4006381333931XYZ", 13), 0);
	CHECK_EQ_INT(barcode_validate(SB_FMT_UNKNOWN, "ab\0cd", 5), SB_EINVAL);
	CHECK_EQ_INT(barcode_validate(SB_FMT_EAN_8, "7351353\0", 8), SB_EINVAL);
}

static void test_scan_id(void)
{
	char id[66];

	CHECK_EQ_INT(scan_id_valid("a", 1), 0);
	CHECK_EQ_INT(scan_id_valid("AZaz09_-", 8), 0);
	CHECK_EQ_INT(scan_id_valid("", 0), SB_EINVAL);
	CHECK_EQ_INT(scan_id_valid(NULL, 0), SB_EINVAL);
	CHECK_EQ_INT(scan_id_valid("a b", 3), SB_EINVAL);
	CHECK_EQ_INT(scan_id_valid("a.b", 3), SB_EINVAL);
	CHECK_EQ_INT(scan_id_valid("a/b", 3), SB_EINVAL);
	CHECK_EQ_INT(scan_id_valid("\xC3\xA9", 2), SB_EINVAL);
	CHECK_EQ_INT(scan_id_valid("ab\0", 3), SB_EINVAL);
	memset(id, 'x', sizeof id);
	CHECK_EQ_INT(scan_id_valid(id, 64), 0);
	CHECK_EQ_INT(scan_id_valid(id, 65), SB_EINVAL);
}

TEST_MAIN(TEST(test_format_names), TEST(test_format_unknown_names),
	  TEST(test_text_utf8), TEST(test_text_length), TEST(test_gs1_check_digit),
	  TEST(test_validate_digit_formats), TEST(test_single_digit_errors_detected),
	  TEST(test_validate_uses_len), TEST(test_scan_id))
