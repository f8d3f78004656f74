/* SPDX-License-Identifier: MIT */
/* Fuzzes barcode_validate: the first byte picks the format (mod SB_FMT_COUNT),
 * the rest is the code, passed without a NUL terminator. Invariants from
 * barcode.h: an accepted code is valid text; an accepted EAN/UPC code has the
 * format's exact length, digits only; an accepted EAN-13/EAN-8/UPC-A or ITF-14
 * carries its GS1 check digit; format names round-trip. */
#include <string.h>

#include "barcode.h"
#include "fuzz.h"
#include "sb_err.h"

static size_t digit_len(enum sb_format f)
{
	switch (f) {
	case SB_FMT_EAN_13: return 13;
	case SB_FMT_EAN_8: return 8;
	case SB_FMT_UPC_A: return 12;
	case SB_FMT_UPC_E: return 8;
	default: return 0;
	}
}

static int all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum sb_format f, parsed;
	const char *code;
	size_t len, want;
	int rc;

	if (size < 1)
		return 0;
	f = (enum sb_format)(data[0] % SB_FMT_COUNT);
	code = (const char *)data + 1;
	len = size - 1;

	FUZZ_ASSERT(barcode_format_parse(barcode_format_name(f), &parsed) == 0 && parsed == f);
	rc = barcode_validate(f, code, len);
	FUZZ_ASSERT(rc == 0 || rc == SB_EINVAL || rc == SB_ECHECKDIGIT);
	(void)scan_id_valid(code, len);
	if (rc != 0)
		return 0;

	FUZZ_ASSERT(barcode_text_valid(code, len, SB_CODE_MAX_CP) == 0);
	want = digit_len(f);
	if (want)
		FUZZ_ASSERT(len == want && all_digits(code, len));
	if (f == SB_FMT_EAN_13 || f == SB_FMT_EAN_8 || f == SB_FMT_UPC_A ||
	    (f == SB_FMT_ITF && len == 14 && all_digits(code, len)))
		FUZZ_ASSERT(barcode_gs1_check_digit(code, len - 1) == code[len - 1]);
	return 0;
}
