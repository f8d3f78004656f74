/* SPDX-License-Identifier: MIT */
/* libFuzzer: scanbridge-hid's config parser on arbitrary bytes. Invariants:
 * no crash, an error always has a message naming the file, and what parsed
 * keeps its strings terminated and its counts in range. */
#include <string.h>

#include "../../tests/fuzz/fuzz.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hid_config c;
	char err[256];
	int rc;

	hid_config_default(&c);
	rc = hid_config_parse(&c, "f.conf", (const char *)data, size, err, sizeof err);
	if (rc != 0)
		FUZZ_ASSERT(strncmp(err, "f.conf:", 7) == 0);
	FUZZ_ASSERT(c.n_rules >= 0 && c.n_rules <= HID_MAX_RULES);
	FUZZ_ASSERT(memchr(c.url, 0, sizeof c.url) && memchr(c.reader.layout, 0, sizeof c.reader.layout));
	for (int i = 0; i < c.n_rules; i++)
		FUZZ_ASSERT(memchr(c.rules[i].reader.prefix, 0, sizeof c.rules[i].reader.prefix));
	return 0;
}
