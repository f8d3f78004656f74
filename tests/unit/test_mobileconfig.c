/* SPDX-License-Identifier: MIT */
/* Unit tests for mobileconfig.c: the profile carries the certificate's DER in
 * base64 and the identifiers derived from the fingerprint (RFC 4122 v5 UUIDs,
 * checked against Python's uuid.uuid5), nests its elements properly, escapes
 * the label, and is the same bytes for the same CA. Python's plistlib reads
 * it back when python3 is installed. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check.h"
#include "mobileconfig.h"
#include "sb_err.h"

/* 32 bytes, as tlsca_ca_fingerprint writes them */
#define FP "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:" \
	   "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
/* uuid.uuid5(UUID("94ae2da0-b55b-4604-b4b3-0a31ec3bbe29"), FP + "/profile"), "/ca" */
#define UUID_PROFILE "A78DA86B-6C15-5592-BC88-63A248872607"
#define UUID_CA "F52CB64E-6693-5B43-8F3A-876CCE8ABF14"

static unsigned char der[700];

static void fill_der(void)
{
	for (size_t i = 0; i < sizeof der; i++)
		der[i] = (unsigned char)(i * 7 + 3);
}

static char *build(const char *fp, const char *label, size_t *len)
{
	char *out = NULL;

	CHECK_EQ_INT(mobileconfig_build(der, sizeof der, fp, label, &out, len), 0);
	CHECK(out && strlen(out) == *len);
	return out;
}

static void must_contain(const char *text, const char *part)
{
	if (!strstr(text, part)) {
		check_failures_++;
		fprintf(stderr, "profile lacks \"%s\"\n", part);
	}
}

/* Start and end tags nest properly and close; <x/>, <?..?> and <!...> stand
 * alone. Returns the number of <dict> elements, or -1. */
static int well_formed(const char *s)
{
	char stack[32][48];
	int depth = 0, dicts = 0;

	for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
		const char *end = strchr(p, '>');
		bool closing = p[1] == '/';
		size_t n = strcspn(p + 1 + closing, " />");

		if (!end || n == 0 || n >= sizeof stack[0])
			return -1;
		if (p[1] == '?' || p[1] == '!' || end[-1] == '/')
			continue;
		if (closing) {
			if (!depth || strlen(stack[--depth]) != n || strncmp(stack[depth], p + 2, n))
				return -1;
			continue;
		}
		if (depth == 32)
			return -1;
		snprintf(stack[depth++], sizeof stack[0], "%.*s", (int)n, p + 1);
		dicts += !strcmp(stack[depth - 1], "dict");
	}
	return depth == 0 ? dicts : -1;
}

static void test_content(void)
{
	size_t len;
	char *out = build(FP, "store 7", &len);
	char b64[1024], joined[1024] = "";
	const char *data;
	size_t at = 0, line;

	if (!out)
		return;
	CHECK(!strncmp(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39));
	CHECK_EQ_INT(well_formed(out), 2);
	must_contain(out, "<key>PayloadType</key>\n\t<string>Configuration</string>");
	must_contain(out, "<string>com.apple.security.root</string>");
	must_contain(out, "<string>scanbridge-ca.crt</string>");
	must_contain(out, "<string>scanbridge CA (store 7)</string>");
	must_contain(out, "<string>local.scanbridge.abcdef0123456789</string>");
	must_contain(out, "<string>local.scanbridge.abcdef0123456789.ca</string>");
	must_contain(out, "<string>" UUID_PROFILE "</string>");
	must_contain(out, "<string>" UUID_CA "</string>");
	must_contain(out, "<key>PayloadOrganization</key>\n\t<string>scanbridge</string>");
	must_contain(out, "<key>PayloadVersion</key>\n\t<integer>1</integer>");
	must_contain(out, "Certificate Trust Settings");
	/* the DER, in base64 lines of 52 to 76 characters */
	EVP_EncodeBlock((unsigned char *)b64, der, (int)sizeof der);
	data = strstr(out, "<data>\n");
	CHECK(data != NULL);
	for (data = data ? data + 7 : "";; data += line + 1) {
		data += strspn(data, "\t");
		if (*data == '<' || !*data)
			break;
		line = strcspn(data, "\n");
		if (!data[line])
			break;
		CHECK(line <= 76);
		/* all lines but the last are full */
		CHECK(line >= 52 || data[line + 1 + strspn(data + line + 1, "\t")] == '<');
		if (at + line < sizeof joined) {
			memcpy(joined + at, data, line);
			at += line;
			joined[at] = '\0';
		}
	}
	CHECK_STR(joined, b64);
	free(out);
}

static void test_same_input_same_bytes(void)
{
	size_t len1, len2, len3;
	char *a = build(FP, "store 7", &len1), *b = build(FP, "store 7", &len2);
	char *c = build("00:11:22:33:44:55:66:77:88:99", "store 7", &len3);

	CHECK(a && b && len1 == len2 && !memcmp(a, b, len1));
	/* another CA: other identifiers and UUIDs */
	CHECK(c && !strstr(c, UUID_PROFILE) && !strstr(c, UUID_CA));
	CHECK(c && strstr(c, "local.scanbridge.0011223344556677.ca"));
	free(a);
	free(b);
	free(c);
}

static void test_label_escaped(void)
{
	size_t len;
	char *out = build(FP, "<&>\"'\x01x", &len);

	if (!out)
		return;
	must_contain(out, "<string>scanbridge CA (&lt;&amp;&gt;&quot;&apos;x)</string>");
	CHECK(!strstr(out, "<&>"));
	CHECK(!strchr(out, '\x01'));
	CHECK_EQ_INT(well_formed(out), 2);
	free(out);
	out = build(FP, NULL, &len);
	if (out)
		must_contain(out, "<string>scanbridge CA ()</string>");
	free(out);
}

static void test_bad_input(void)
{
	char *out = (char *)1;
	size_t len = 1;

	CHECK_EQ_INT(mobileconfig_build(der, sizeof der, "AB:CD", "x", &out, &len), SB_EINVAL);
	CHECK(out == NULL && len == 0);
	CHECK_EQ_INT(mobileconfig_build(der, 0, FP, "x", &out, &len), SB_EINVAL);
	CHECK_EQ_INT(mobileconfig_build(der, sizeof der, NULL, "x", &out, &len), SB_EINVAL);
}

/* An independent reader, when installed: Python's plistlib. */
static void test_plistlib_reads_it(void)
{
	char path[] = "/tmp/sb-test-mobileconfig-XXXXXX", cmd[1024];
	size_t len;
	char *out;
	FILE *f;
	int fd;

	if (access("/usr/bin/python3", X_OK)) {
		printf("skip plistlib: /usr/bin/python3 not found\n");
		return;
	}
	out = build(FP, "caf\xc3\xa9 <7>", &len);
	fd = mkstemp(path);
	CHECK(fd >= 0 && out);
	if (fd < 0 || !out) {
		free(out);
		return;
	}
	f = fdopen(fd, "w");
	CHECK(f && fwrite(out, 1, len, f) == len);
	if (f)
		fclose(f);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import plistlib,sys\n"
		 "d = plistlib.load(open(sys.argv[1], \"rb\"))\n"
		 "p = d[\"PayloadContent\"][0]\n"
		 "assert d[\"PayloadType\"] == \"Configuration\" and d[\"PayloadVersion\"] == 1\n"
		 "assert d[\"PayloadDisplayName\"] == \"scanbridge CA (caf\\u00e9 <7>)\"\n"
		 "assert p[\"PayloadType\"] == \"com.apple.security.root\"\n"
		 "assert p[\"PayloadContent\"] == bytes((i * 7 + 3) %% 256 for i in range(%zu))\n"
		 "assert d[\"PayloadUUID\"] != p[\"PayloadUUID\"]\n' '%s'",
		 sizeof der, path);
	CHECK_EQ_INT(system(cmd), 0);
	unlink(path);
	free(out);
}

int main(void)
{
	static const struct check_case cases[] = {
		TEST(test_content), TEST(test_same_input_same_bytes), TEST(test_label_escaped),
		TEST(test_bad_input), TEST(test_plistlib_reads_it),
	};

	fill_der();
	return check_run(cases, (int)(sizeof cases / sizeof cases[0]));
}
