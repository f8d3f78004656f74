/* SPDX-License-Identifier: MIT */
/* Barcode formats and validation shared by the daemon, scanner-sim and firmware:
 * format names of the wire protocol, code text rules (UTF-8, no control
 * characters, 1..512 code points), digit-format lengths and check digits. */
#ifndef SB_BARCODE_H
#define SB_BARCODE_H
#include <stddef.h>

#define SB_CODE_MAX_CP 512                     /* code points */
#define SB_CODE_MAX_BYTES (SB_CODE_MAX_CP * 4) /* UTF-8 worst case */
#define SB_SCAN_ID_MAX 64                      /* client scan id chars */

enum sb_format {
	SB_FMT_UNKNOWN = 0,
	SB_FMT_EAN_13, SB_FMT_EAN_8, SB_FMT_UPC_A, SB_FMT_UPC_E,
	SB_FMT_CODE_128, SB_FMT_CODE_39, SB_FMT_CODE_93, SB_FMT_ITF,
	SB_FMT_CODABAR, SB_FMT_QR_CODE, SB_FMT_DATA_MATRIX, SB_FMT_PDF_417,
	SB_FMT_AZTEC, SB_FMT_DATABAR,
	SB_FMT_COUNT
};

/* Wire name of a format ("EAN_13"); "UNKNOWN" for out-of-range values. */
const char *barcode_format_name(enum sb_format f);

/* Parses a wire format name (exact, case-sensitive). Returns 0 and sets *out,
 * or SB_EINVAL for any other name. */
int barcode_format_parse(const char *name, enum sb_format *out);

/* Checks that s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF),
 * holds 1..max_cp code points and no Unicode control character (Cc: U+0000-001F,
 * U+007F-009F). Returns 0 or SB_EINVAL. */
int barcode_text_valid(const char *s, size_t len, size_t max_cp);

/* Full validation of a scanned code for a format: text rules above with
 * SB_CODE_MAX_CP, then for EAN_13/EAN_8/UPC_A/UPC_E exact length and digits only
 * (SB_EINVAL otherwise) and the check digit; for ITF of exactly 14 digits the
 * ITF-14 check digit. Returns 0, SB_EINVAL or SB_ECHECKDIGIT. */
int barcode_validate(enum sb_format f, const char *code, size_t len);

/* A client scan id: 1..64 chars of [A-Za-z0-9_-]. Returns 0 or SB_EINVAL. */
int scan_id_valid(const char *id, size_t len);

/* The GS1 mod-10 check digit ('0'..'9') over digits[0..n) (the payload without
 * its check digit), as used by EAN/UPC/ITF-14. */
char barcode_gs1_check_digit(const char *digits, size_t n);

#endif
