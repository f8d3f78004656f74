/* SPDX-License-Identifier: MIT */
/* An Apple configuration profile (.mobileconfig) that installs the box's CA
 * as a root on iOS, iPadOS and macOS: the one-tap way to trust the box there.
 * Pure: same input, same bytes, so a phone that installed it once sees the
 * same profile (same identifiers and UUIDs) again and updates it in place. */
#ifndef SB_MOBILECONFIG_H
#define SB_MOBILECONFIG_H
#include <stddef.h>

/* The profile: an XML plist, PayloadType Configuration, holding one payload
 * com.apple.security.root whose PayloadContent is <data>base64 of der</data>
 * (lines of 64), PayloadCertificateFileName "scanbridge-ca.crt",
 * PayloadDisplayName "scanbridge CA (<label>)", PayloadIdentifier
 * "local.scanbridge.<first 16 hex digits of fingerprint, lower case>.ca" (the
 * profile's own: the same without ".ca"), PayloadUUIDs that are RFC 4122
 * version 5 UUIDs (upper case) of the fingerprint, one for the profile and
 * one for the payload, PayloadVersion 1, PayloadOrganization "scanbridge",
 * and a PayloadDescription that says what it does and that iOS then wants
 * full trust switched on by hand. label is XML-escaped (control characters
 * dropped); NULL is "". fingerprint is tlsca_ca_fingerprint's "AB:CD:...".
 * Returns 0 with *out (NUL-terminated, free()) and *out_len (without the
 * NUL), SB_EINVAL when der is empty or fingerprint has fewer than 16 hex
 * digits, or SB_ENOMEM; *out is NULL on failure. */
int mobileconfig_build(const unsigned char *der, size_t der_len, const char *fingerprint,
		       const char *label, char **out, size_t *out_len);

#endif
