/* SPDX-License-Identifier: MIT */
/* The CA as an Apple configuration profile (mobileconfig.h). Written with
 * stdio into memory (open_memstream): the plist is a fixed template with the
 * label escaped into it, the certificate in base64 and identifiers derived
 * from the CA's fingerprint, so the same CA always gives the same bytes. */
#include "mobileconfig.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sb_err.h"

/* Base64 line length in <data> (Apple's own profiles use 52 to 76). */
#define B64_LINE 64
/* The name space of scanbridge's version 5 UUIDs, made once at random. */
static const unsigned char uuid_ns[16] = {
	0x94, 0xae, 0x2d, 0xa0, 0xb5, 0x5b, 0x46, 0x04,
	0xb4, 0xb3, 0x0a, 0x31, 0xec, 0x3b, 0xbe, 0x29,
};

/* The first 16 hex digits of fingerprint, lower case, into id (17 bytes). */
static int short_id(const char *fingerprint, char *id)
{
	int n = 0;

	for (const char *p = fingerprint; *p && n < 16; p++)
		if (isxdigit((unsigned char)*p))
			id[n++] = (char)tolower((unsigned char)*p);
	id[n] = '\0';
	return n == 16 ? 0 : -1;
}

/* RFC 4122 version 5: SHA-1 of name space + name, version and variant set. */
static int uuid_v5(const char *fingerprint, const char *which, char *out, size_t size)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha1(), NULL) &&
		 EVP_DigestUpdate(md, uuid_ns, sizeof uuid_ns) &&
		 EVP_DigestUpdate(md, fingerprint, strlen(fingerprint)) &&
		 EVP_DigestUpdate(md, which, strlen(which)) && EVP_DigestFinal_ex(md, h, &hlen);

	EVP_MD_CTX_free(md);
	if (!ok)
		return -1;
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x50);
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
	snprintf(out, size, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		 h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12],
		 h[13], h[14], h[15]);
	return 0;
}

/* s as XML character data; control characters other than tab and newline
 * are not allowed in XML 1.0 and are dropped. */
static void xml_put(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			if (c >= 0x20 || c == '\t' || c == '\n')
				fputc(c, f);
		}
	}
}

static void key_string(FILE *f, const char *indent, const char *key, const char *value)
{
	fprintf(f, "%s<key>%s</key>\n%s<string>", indent, key, indent);
	xml_put(f, value);
	fputs("</string>\n", f);
}

/* der in base64, B64_LINE characters a line, each line indented. */
static int put_base64(FILE *f, const char *indent, const unsigned char *der, size_t len)
{
	size_t b64_len = 4 * ((len + 2) / 3);
	char *b64 = malloc(b64_len + 1);

	if (!b64)
		return -1;
	EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
	for (size_t i = 0; i < b64_len; i += B64_LINE)
		fprintf(f, "%s%.*s\n", indent, B64_LINE, b64 + i);
	free(b64);
	return 0;
}

struct ids {
	char display[128 + 6 * 256];    /* "scanbridge CA (<label>)" */
	char id[48];                    /* local.scanbridge.<16 hex> */
	char uuid_profile[40], uuid_ca[40];
};

static int put_payload(FILE *f, const struct ids *ids, const unsigned char *der, size_t len)
{
	const char *in = "\t\t\t";
	char id[64];

	snprintf(id, sizeof id, "%s.ca", ids->id);
	fputs("\t\t<dict>\n", f);
	key_string(f, in, "PayloadCertificateFileName", "scanbridge-ca.crt");
	fprintf(f, "%s<key>PayloadContent</key>\n%s<data>\n", in, in);
	if (put_base64(f, in, der, len))
		return -1;
	fprintf(f, "%s</data>\n", in);
	key_string(f, in, "PayloadDescription", "Adds the scanbridge box's certificate "
		   "authority as a trusted root certificate.");
	key_string(f, in, "PayloadDisplayName", ids->display);
	key_string(f, in, "PayloadIdentifier", id);
	key_string(f, in, "PayloadType", "com.apple.security.root");
	key_string(f, in, "PayloadUUID", ids->uuid_ca);
	fprintf(f, "%s<key>PayloadVersion</key>\n%s<integer>1</integer>\n", in, in);
	fputs("\t\t</dict>\n", f);
	return 0;
}

static int put_profile(FILE *f, const struct ids *ids, const unsigned char *der, size_t len)
{
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	      "<plist version=\"1.0\">\n<dict>\n"
	      "\t<key>PayloadContent</key>\n\t<array>\n", f);
	if (put_payload(f, ids, der, len))
		return -1;
	fputs("\t</array>\n", f);
	key_string(f, "\t", "PayloadDescription", "Installs the certificate authority of this "
		   "store's scanbridge box, so that this device trusts the box's HTTPS pages. "
		   "On iPhone and iPad, then switch on full trust for it in Settings > General > "
		   "About > Certificate Trust Settings.");
	key_string(f, "\t", "PayloadDisplayName", ids->display);
	key_string(f, "\t", "PayloadIdentifier", ids->id);
	key_string(f, "\t", "PayloadOrganization", "scanbridge");
	fputs("\t<key>PayloadRemovalDisallowed</key>\n\t<false/>\n", f);
	key_string(f, "\t", "PayloadType", "Configuration");
	key_string(f, "\t", "PayloadUUID", ids->uuid_profile);
	fputs("\t<key>PayloadVersion</key>\n\t<integer>1</integer>\n</dict>\n</plist>\n", f);
	return 0;
}

static int make_ids(struct ids *ids, const char *fingerprint, const char *label)
{
	char hex[17];

	if (short_id(fingerprint, hex))
		return SB_EINVAL;
	snprintf(ids->id, sizeof ids->id, "local.scanbridge.%s", hex);
	/* the display name is escaped when written, not here */
	snprintf(ids->display, sizeof ids->display, "scanbridge CA (%.1500s)", label);
	if (uuid_v5(fingerprint, "/profile", ids->uuid_profile, sizeof ids->uuid_profile) ||
	    uuid_v5(fingerprint, "/ca", ids->uuid_ca, sizeof ids->uuid_ca))
		return SB_ENOMEM;
	return 0;
}

int mobileconfig_build(const unsigned char *der, size_t der_len, const char *fingerprint,
		       const char *label, char **out, size_t *out_len)
{
	struct ids ids;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc, bad;

	*out = NULL;
	*out_len = 0;
	if (!der || !der_len || der_len > (size_t)1 << 20 || !fingerprint)
		return SB_EINVAL;
	if ((rc = make_ids(&ids, fingerprint, label ? label : "")))
		return rc;
	if (!(f = open_memstream(&buf, &len)))
		return SB_ENOMEM;
	bad = put_profile(f, &ids, der, der_len) || ferror(f);
	if (fclose(f) || bad) {
		free(buf);
		return SB_ENOMEM;
	}
	*out = buf;
	*out_len = len;
	return 0;
}
