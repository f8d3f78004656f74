/* SPDX-License-Identifier: MIT */
/* libFuzzer: the key-event reader (xkb layout, Alt+numpad decoder, gaps,
 * affixes) on arbitrary event streams in the recording format. The first
 * byte picks a layout and options. Invariants: every code is valid protocol
 * text (UTF-8, no control characters, 1..512 code points), and the
 * Alt+numpad decoder alone never returns an invalid code point. */
#include <string.h>

#include "../../tests/fuzz/fuzz.h"
#include "barcode.h"
#include "reader.h"

static struct xkb_context *ctx;
static struct hid_reader readers[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const layouts[4] = { "us", "de", "fr", "gb" };

	(void)argc;
	(void)argv;
	ctx = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
	for (int i = 0; i < 4; i++) {
		struct hid_reader_conf c;
		hid_reader_conf_default(&c);
		strcpy(c.layout, layouts[i]);
		if (i & 1)
			c.end |= HID_END_GAP;
		if (i == 2) {
			strcpy(c.prefix, "]E0");
			strcpy(c.suffix, "x");
		}
		if (hid_reader_init(&readers[i], ctx, &c) != 0)
			abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hid_reader *r;
	struct hid_code code;
	struct altnum a;

	if (size < 1)
		return 0;
	r = &readers[data[0] & 3];
	altnum_reset(&a);
	for (size_t off = 1; off + HID_REC_SIZE <= size; off += HID_REC_SIZE) {
		struct input_event ev;
		int32_t cp;
		hid_rec_decode(data + off, &ev);
		if (hid_reader_feed(r, &ev, &code) == 1 || hid_reader_flush(r, hid_event_ms(&ev), &code) == 1)
			FUZZ_ASSERT(code.len > 0 && strlen(code.text) == code.len &&
				    barcode_text_valid(code.text, code.len, SB_CODE_MAX_CP) == 0);
		altnum_digit(&a, ev.value);
		if (ev.code & 1) {
			cp = altnum_finish(&a);
			FUZZ_ASSERT(cp == -1 || (cp > 0 && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF)));
		}
	}
	/* the reader is reused across inputs (a long-lived gun): drop state */
	hid_reader_flush(r, UINT64_MAX, &code);
	return 0;
}
