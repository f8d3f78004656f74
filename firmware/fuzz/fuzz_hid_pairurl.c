/* SPDX-License-Identifier: MIT */
/* libFuzzer: the pairing-URL recogniser. Invariants: a recognised code is
 * 16..63 URL-safe characters and is the input's tail after its '#'. */
#include <string.h>

#include "../../tests/fuzz/fuzz.h"
#include "pairurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char code[HID_PAIR_CODE_MAX];
	size_t n;

	if (hid_pair_url_parse((const char *)data, size, code, sizeof code) != 0)
		return 0;
	n = strlen(code);
	FUZZ_ASSERT(n >= 16 && n < HID_PAIR_CODE_MAX);
	FUZZ_ASSERT(strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n);
	FUZZ_ASSERT(n < size && memcmp(data + size - n, code, n) == 0 && data[size - n - 1] == '#');
	return 0;
}
