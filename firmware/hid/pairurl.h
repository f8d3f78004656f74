/* SPDX-License-Identifier: MIT */
/* Recognising a scanbridge pairing URL in a scanned code: the QR code a
 * desktop shows holds `<public_url>/p#<pair_code>` (PROTOCOL.md). A gun that
 * scans one is being paired, not scanning a product. */
#ifndef HID_PAIRURL_H
#define HID_PAIRURL_H
#include <stddef.h>

#define HID_PAIR_CODE_MAX 64

/* Is s[0..len) http(s)://HOST[:PORT][/PATH]/p#CODE, CODE being 16..63
 * URL-safe base64 characters ([A-Za-z0-9_-]) and nothing after it? HOST is any
 * name or address (the box's public URL, which this bridge does not need to
 * know). Returns 0 with code (cap >= HID_PAIR_CODE_MAX) set, or SB_EINVAL. */
int hid_pair_url_parse(const char *s, size_t len, char *code, size_t cap);

#endif
