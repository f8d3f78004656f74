/* SPDX-License-Identifier: MIT */
/* Unit tests for tlsca.c: the box's CA is made once (0600 key, 0700 dir) and
 * kept across restarts, half a CA or a corrupt one is refused, and the server
 * certificate it issues verifies against a store holding only the CA (as a
 * phone that installed it would), names exactly the box's names, is kept
 * while nothing changes and re-issued when the names change, when it nears
 * expiry or when its files are damaged. Each case works in a fresh directory
 * under one mkdtemp root; time is passed in, never read. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "sb_err.h"
#include "tlsca.h"

#define DAY 86400
/* 2026-05-28T20:26:40Z: any fixed time past TLSCA_CLOCK_FLOOR */
#define T0 ((time_t)1780000000)

static char tmp_root[] = "/tmp/sb-test-tlsca-XXXXXX";
static int dir_seq;

/* A path for a new TLS dir under tmp_root (not created: tlsca_open does);
 * it stays valid for the next 15 calls. */
static const char *new_dir(void)
{
	static char path[16][128];
	char *p = path[++dir_seq % 16];

	snprintf(p, sizeof path[0], "%s/d%d", tmp_root, dir_seq);
	return p;
}

static const char *in(const char *dir, const char *name)
{
	static char path[4][192];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof path[0], "%s/%s", dir, name);
	return p;
}

static int mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (int)(st.st_mode & 07777);
}

/* The whole file, malloc'd and NUL-terminated, or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = f ? calloc(1, 65536) : NULL;

	if (buf && !fread(buf, 1, 65535, f) && ferror(f)) {
		free(buf);
		buf = NULL;
	}
	if (f)
		fclose(f);
	return buf;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void add_v4(struct tlsca_names *n, const char *s)
{
	unsigned char *a = n->addr[n->n_addr++];

	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	CHECK(inet_pton(AF_INET, s, a + 12) == 1);
}

static void add_v6(struct tlsca_names *n, const char *s)
{
	CHECK(inet_pton(AF_INET6, s, n->addr[n->n_addr++]) == 1);
}

/* scanbridge-ab12 at 192.168.1.20, fe80::1, 10.0.0.5 and 2001:db8::7 */
static void box(struct tlsca_names *n)
{
	memset(n, 0, sizeof(*n));
	strcpy(n->hostname, "scanbridge-ab12");
	add_v4(n, "192.168.1.20");
	add_v6(n, "fe80::1");
	add_v4(n, "10.0.0.5");
	add_v6(n, "2001:db8::7");
}

static struct tlsca *open_ok(const char *dir, time_t now)
{
	struct tlsca *ca = NULL;
	char err[512] = "";

	CHECK_EQ_INT(tlsca_open(&ca, dir, "store-7", now, err, sizeof err), 0);
	CHECK_STR(err, "");
	CHECK(ca != NULL);
	return ca;
}

/* ensure_server, which must succeed; returns *changed. */
static bool ensure(struct tlsca *ca, const struct tlsca_names *n, time_t now)
{
	bool changed = false;
	char err[512] = "";

	CHECK_EQ_INT(tlsca_ensure_server(ca, n, now, &changed, err, sizeof err), 0);
	CHECK_STR(err, "");
	return changed;
}

/* Up to max certificates from a PEM file; returns how many. */
static int load_certs(const char *path, X509 **out, int max)
{
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return 0;
	while (n < max && (out[n] = PEM_read_X509(f, NULL, NULL, NULL)))
		n++;
	fclose(f);
	return n;
}

static X509 *load_cert(const char *path)
{
	X509 *x = NULL;

	return load_certs(path, &x, 1) ? x : NULL;
}

static void free_certs(X509 **x, int n)
{
	for (int i = 0; i < n; i++)
		X509_free(x[i]);
}

/* X509_verify_cert of leaf against a store holding only ca, at `at`, for
 * TLS server use; returns the verify error (X509_V_OK when it verifies). */
static int verify_at(X509 *ca, X509 *leaf, time_t at)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1;

	if (store && ctx && X509_STORE_add_cert(store, ca) &&
	    X509_STORE_CTX_init(ctx, store, leaf, NULL)) {
		X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);

		X509_VERIFY_PARAM_set_time(p, at); /* sets X509_V_FLAG_USE_CHECK_TIME */
		X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_USE_CHECK_TIME | X509_V_FLAG_X509_STRICT);
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
		rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

/* The SANs of x as sorted text "DNS:name" / "IP:address"; returns the count. */
static int sans_of(X509 *x, char (*out)[80], int max)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int n = 0;

	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && n < max; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int type;
		ASN1_STRING *v = GENERAL_NAME_get0_value(g, &type);
		char ip[INET6_ADDRSTRLEN] = "?";

		if (type == GEN_DNS) {
			snprintf(out[n++], 80, "DNS:%.*s", ASN1_STRING_length(v),
				 (const char *)ASN1_STRING_get0_data(v));
		} else if (type == GEN_IPADD) {
			inet_ntop(ASN1_STRING_length(v) == 4 ? AF_INET : AF_INET6,
				  ASN1_STRING_get0_data(v), ip, sizeof ip);
			snprintf(out[n++], 80, "IP:%s", ip);
		} else {
			snprintf(out[n++], 80, "other");
		}
	}
	GENERAL_NAMES_free(gens);
	qsort(out, (size_t)n, sizeof out[0], (int (*)(const void *, const void *))strcmp);
	return n;
}

/* Whether x names exactly `want` (sorted), and matches each name the way a
 * TLS client checks it. */
static void check_sans(X509 *x, const char *const *want, int n_want)
{
	char have[48][80];
	int n = sans_of(x, have, 48);

	CHECK_EQ_INT(n, n_want);
	for (int i = 0; i < n && i < n_want; i++)
		CHECK_STR(have[i], want[i]);
	for (int i = 0; i < n_want; i++) {
		if (!strncmp(want[i], "DNS:", 4))
			CHECK_EQ_INT(X509_check_host(x, want[i] + 4, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
						     NULL), 1);
		else
			CHECK_EQ_INT(X509_check_ip_asc(x, want[i] + 3, 0), 1);
	}
	CHECK_EQ_INT(X509_check_host(x, "evil.example", 0, 0, NULL), 0);
	CHECK_EQ_INT(X509_check_ip_asc(x, "192.168.1.21", 0), 0);
}

static const char *const box_sans[] = {
	"DNS:localhost", "DNS:scanbridge-ab12", "DNS:scanbridge-ab12.local",
	"IP:10.0.0.5", "IP:192.168.1.20", "IP:2001:db8::7", "IP:fe80::1",
};
#define N_BOX_SANS ((int)(sizeof box_sans / sizeof box_sans[0]))

static time_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	return ASN1_TIME_to_tm(t, &tm) ? timegm(&tm) : 0;
}

static bool ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* ---- the CA ----------------------------------------------------------------- */

static void check_ca_cert(X509 *x)
{
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	EVP_PKEY *pub = X509_get0_pubkey(x);
	char group[32] = "";
	time_t from = asn1_time(X509_get0_notBefore(x)), to = asn1_time(X509_get0_notAfter(x));

	CHECK_EQ_INT(X509_get_version(x), X509_VERSION_3);
	CHECK_EQ_INT(X509_check_ca(x), 1);
	CHECK(bc && bc->ca && bc->pathlen && ASN1_INTEGER_get(bc->pathlen) == 0);
	CHECK(ext_critical(x, NID_basic_constraints));
	CHECK(ext_critical(x, NID_key_usage));
	CHECK_EQ_INT(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	CHECK(X509_get0_subject_key_id(x) != NULL);
	CHECK_EQ_INT(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	CHECK(pub && EVP_PKEY_get_group_name(pub, group, sizeof group, NULL) == 1);
	CHECK_STR(group, "prime256v1");
	CHECK(bn && !BN_is_negative(bn) && BN_num_bits(bn) > 64 && BN_num_bits(bn) <= 128);
	CHECK_EQ_INT(from, T0 - 3600);
	CHECK(to - from > 10 * 366 * (time_t)DAY);
	CHECK(to - from >= 20 * 365 * (time_t)DAY);
	CHECK_EQ_INT(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
	CHECK_EQ_INT(X509_verify(x, pub), 1);
	BN_free(bn);
	BASIC_CONSTRAINTS_free(bc);
}

static void test_ca_created(void)
{
	const char *dir = new_dir();
	struct tlsca *ca = open_ok(dir, T0);
	X509 *x = load_cert(in(dir, "ca.pem"));
	char *pem = slurp(in(dir, "ca.pem")), name[256] = "";
	const char *fp = tlsca_ca_fingerprint(ca);
	size_t len = 0;
	const unsigned char *der = tlsca_ca_der(ca, &len), *p = der;
	X509 *from_der = d2i_X509(NULL, &p, (long)len);

	CHECK_EQ_INT(mode_of(dir), 0700);
	CHECK_EQ_INT(mode_of(in(dir, "ca.key")), 0600);
	CHECK(x != NULL);
	if (x)
		check_ca_cert(x);
	CHECK(from_der && x && !X509_cmp(from_der, x));
	CHECK(pem && !strcmp(pem, tlsca_ca_pem(ca, &len)) && len == strlen(pem));
	CHECK_STR(tlsca_ca_subject(ca), "scanbridge local CA store-7 2026-05-28");
	CHECK(x && X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationalUnitName,
					     name, sizeof name) > 0);
	CHECK_STR(name, "store-7");
	CHECK(x && X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName,
					     name, sizeof name) > 0);
	CHECK_STR(name, "scanbridge");
	CHECK_EQ_INT(strlen(fp), 95);
	for (int i = 0; fp[i]; i++)
		CHECK(i % 3 == 2 ? fp[i] == ':' : strchr("0123456789ABCDEF", fp[i]) != NULL);
	CHECK(tlsca_ca_not_after(ca) > T0 + 10 * 366 * (time_t)DAY);
	CHECK_EQ_INT(tlsca_server_not_after(ca), 0);
	CHECK_EQ_INT(access(in(dir, ".ca.key.tmp"), F_OK), -1);
	X509_free(from_der);
	X509_free(x);
	free(pem);
	tlsca_close(ca);
}

static void test_restart_keeps_ca(void)
{
	const char *dir = new_dir();
	struct tlsca *ca = open_ok(dir, T0);
	struct tlsca_names n;
	char fp[96];

	box(&n);
	CHECK(ensure(ca, &n, T0));
	snprintf(fp, sizeof fp, "%s", tlsca_ca_fingerprint(ca));
	tlsca_close(ca);
	ca = open_ok(dir, T0 + 5 * DAY); /* another label would not matter either */
	CHECK_STR(tlsca_ca_fingerprint(ca), fp);
	CHECK_STR(tlsca_ca_subject(ca), "scanbridge local CA store-7 2026-05-28");
	CHECK(!ensure(ca, &n, T0 + 5 * DAY)); /* and the server pair too */
	tlsca_close(ca);
}

static void test_two_cas_differ(void)
{
	struct tlsca *a = open_ok(new_dir(), T0), *b = open_ok(new_dir(), T0);

	CHECK(strcmp(tlsca_ca_fingerprint(a), tlsca_ca_fingerprint(b)) != 0);
	tlsca_close(a);
	tlsca_close(b);
}

static void expect_open_fails(const char *dir, time_t now, int want, const char *mention)
{
	struct tlsca *ca = (struct tlsca *)&ca; /* must be reset to NULL */
	char err[512] = "";

	CHECK_EQ_INT(tlsca_open(&ca, dir, "store-7", now, err, sizeof err), want);
	CHECK(ca == NULL);
	CHECK(err[0] != '\0');
	if (mention && !strstr(err, mention)) {
		check_failures_++;
		fprintf(stderr, "error \"%s\" does not mention \"%s\"\n", err, mention);
	}
}

static void test_half_ca_refused(void)
{
	const char *dir = new_dir();
	char *before, *after;

	tlsca_close(open_ok(dir, T0));
	before = slurp(in(dir, "ca.pem"));
	CHECK_EQ_INT(unlink(in(dir, "ca.key")), 0);
	expect_open_fails(dir, T0, SB_ECONFIG, "ca.key");
	after = slurp(in(dir, "ca.pem"));
	CHECK_EQ_INT(access(in(dir, "ca.key"), F_OK), -1); /* nothing made in its place */
	CHECK(before && after && !strcmp(before, after));
	free(before);
	free(after);

	dir = new_dir();
	tlsca_close(open_ok(dir, T0));
	CHECK_EQ_INT(unlink(in(dir, "ca.pem")), 0);
	expect_open_fails(dir, T0, SB_ECONFIG, "ca.pem");
	CHECK_EQ_INT(access(in(dir, "ca.pem"), F_OK), -1);
}

static void test_corrupt_ca_refused(void)
{
	char dir[128], other[128], *key;

	snprintf(dir, sizeof dir, "%s", new_dir());
	tlsca_close(open_ok(dir, T0));
	spit(in(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nnot base64 !!\n"
	     "-----END CERTIFICATE-----\n");
	expect_open_fails(dir, T0, SB_ECONFIG, "ca.pem");

	snprintf(dir, sizeof dir, "%s", new_dir());
	tlsca_close(open_ok(dir, T0));
	spit(in(dir, "ca.key"), "garbage\n");
	expect_open_fails(dir, T0, SB_ECONFIG, "ca.key");

	/* a well-formed key, of another CA */
	snprintf(dir, sizeof dir, "%s", new_dir());
	snprintf(other, sizeof other, "%s", new_dir());
	tlsca_close(open_ok(dir, T0));
	tlsca_close(open_ok(other, T0));
	key = slurp(in(other, "ca.key"));
	CHECK(key != NULL);
	if (key)
		spit(in(dir, "ca.key"), key);
	expect_open_fails(dir, T0, SB_ECONFIG, "ca.pem");
	free(key);
}

static void test_expired_ca_refused(void)
{
	const char *dir = new_dir();

	tlsca_close(open_ok(dir, T0));
	expect_open_fails(dir, T0 + 7400 * (time_t)DAY, SB_ECONFIG, "expired");
}

static void test_bad_dir_or_clock_refused(void)
{
	const char *dir = new_dir();

	CHECK_EQ_INT(mkdir(dir, 0700), 0);
	CHECK_EQ_INT(chmod(dir, 0770), 0);
	expect_open_fails(dir, T0, SB_ECONFIG, "chmod 700");
	CHECK_EQ_INT(access(in(dir, "ca.key"), F_OK), -1);
	/* a box that booted in 1970 makes no CA */
	dir = new_dir();
	expect_open_fails(dir, 0, SB_ECONFIG, "clock");
	CHECK_EQ_INT(access(in(dir, "ca.key"), F_OK), -1);
}

static void test_long_label(void)
{
	const char *dir = new_dir();
	struct tlsca *ca = NULL;
	char err[512] = "", label[200];

	memset(label, 'x', sizeof label - 1);
	label[sizeof label - 1] = '\0';
	CHECK_EQ_INT(tlsca_open(&ca, dir, label, T0, err, sizeof err), 0);
	CHECK(ca && strlen(tlsca_ca_subject(ca)) == 64);
	tlsca_close(ca);
	ca = NULL;
	CHECK_EQ_INT(tlsca_open(&ca, new_dir(), "", T0, err, sizeof err), 0);
	CHECK(ca != NULL);
	if (ca)
		CHECK_STR(tlsca_ca_subject(ca), "scanbridge local CA 2026-05-28");
	tlsca_close(ca);
	ca = NULL;
	/* UTF-8 counts in characters: 40 "é" are cut to 33 in the CN */
	label[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(label, "\xc3\xa9");
	CHECK_EQ_INT(tlsca_open(&ca, new_dir(), label, T0, err, sizeof err), 0);
	CHECK(ca && strlen(tlsca_ca_subject(ca)) == 20 + 33 * 2 + 11);
	tlsca_close(ca);
	/* not UTF-8, also a long run of continuation bytes */
	ca = (struct tlsca *)&ca;
	CHECK_EQ_INT(tlsca_open(&ca, new_dir(), "\xff\xfe", T0, err, sizeof err), SB_EINVAL);
	CHECK(ca == NULL && strstr(err, "UTF-8"));
	memset(label + 1, 0x80, sizeof label - 2);
	CHECK_EQ_INT(tlsca_open(&ca, new_dir(), label, T0, err, sizeof err), SB_EINVAL);
}

static void test_long_hostname(void)
{
	struct tlsca *ca = open_ok(new_dir(), T0);
	struct tlsca_names n;
	X509 *x;
	char cn[80], names[8][64];

	memset(&n, 0, sizeof n);
	memset(n.hostname, 'a', 64); /* a CN holds 64 characters: all of it */
	n.hostname[31] = '.';
	CHECK(ensure(ca, &n, T0));
	x = load_cert(tlsca_server_cert_path(ca));
	CHECK(x && X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					     sizeof cn) == 64);
	X509_free(x);
	/* 60 + 1 + 39: the CN is the first label, the SANs have it all */
	memset(n.hostname, 'b', 100);
	n.hostname[60] = '.';
	CHECK(ensure(ca, &n, T0));
	x = load_cert(tlsca_server_cert_path(ca));
	CHECK(x && X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					     sizeof cn) == 60);
	CHECK(x && X509_check_host(x, n.hostname, 0, 0, NULL) == 1);
	X509_free(x);
	CHECK_EQ_INT(tlsca_server_names(ca, names, 8), 4);
	/* too long for a DNS name with ".local": unknown */
	memset(n.hostname, 'c', 250);
	for (int i = 50; i < 250; i += 50)
		n.hostname[i] = '.';
	CHECK(ensure(ca, &n, T0));
	CHECK_EQ_INT(tlsca_server_names(ca, names, 8), 1);
	CHECK_STR(names[0], "localhost");
	tlsca_close(ca);
}

/* ---- the server certificate ------------------------------------------------- */

/* server.pem at dir: the server certificate then the CA's; checks the chain
 * and that it verifies at `at` for exactly want's names. */
static void check_server(const char *dir, time_t at, const char *const *want, int n_want)
{
	X509 *chain[3] = { NULL, NULL, NULL }, *ca = load_cert(in(dir, "ca.pem"));
	int n = load_certs(in(dir, "server.pem"), chain, 3);

	CHECK_EQ_INT(n, 2);
	CHECK(ca && chain[1] && !X509_cmp(ca, chain[1]));
	if (ca && chain[0]) {
		CHECK_EQ_INT(verify_at(ca, chain[0], at), X509_V_OK);
		check_sans(chain[0], want, n_want);
	}
	free_certs(chain, n);
	X509_free(ca);
}

static void check_server_cert(X509 *x, X509 *ca)
{
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	time_t from = asn1_time(X509_get0_notBefore(x)), to = asn1_time(X509_get0_notAfter(x));
	char cn[64] = "", o[64] = "";

	CHECK(bc && !bc->ca);
	CHECK(ext_critical(x, NID_basic_constraints));
	CHECK(ext_critical(x, NID_key_usage));
	CHECK_EQ_INT(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	CHECK_EQ_INT(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	CHECK(X509_get0_subject_key_id(x) != NULL);
	CHECK(X509_get0_authority_key_id(x) &&
	      !ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x), X509_get0_subject_key_id(ca)));
	CHECK_EQ_INT(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	CHECK_EQ_INT(from, T0 - 3600);
	CHECK_EQ_INT(to - from, 397 * (time_t)DAY);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName, o, sizeof o);
	CHECK_STR(cn, "scanbridge-ab12");
	CHECK_STR(o, "scanbridge");
	BASIC_CONSTRAINTS_free(bc);
}

static void test_server_issued_and_verifies(void)
{
	const char *dir = new_dir();
	struct tlsca *ca = open_ok(dir, T0);
	struct tlsca_names n;
	X509 *x, *cax;
	char names[16][64];
	int count;

	box(&n);
	CHECK(ensure(ca, &n, T0));
	CHECK_EQ_INT(mode_of(in(dir, "server.key")), 0600);
	CHECK_STR(tlsca_server_cert_path(ca), in(dir, "server.pem"));
	CHECK_STR(tlsca_server_key_path(ca), in(dir, "server.key"));
	check_server(dir, T0, box_sans, N_BOX_SANS);
	/* valid from an hour before now, not before that */
	check_server(dir, T0 - 3000, box_sans, N_BOX_SANS);
	x = load_cert(in(dir, "server.pem"));
	cax = load_cert(in(dir, "ca.pem"));
	CHECK(x && cax);
	if (x && cax) {
		check_server_cert(x, cax);
		CHECK_EQ_INT(verify_at(cax, x, T0 - 7200), X509_V_ERR_CERT_NOT_YET_VALID);
		CHECK_EQ_INT(verify_at(cax, x, T0 + 398 * (time_t)DAY), X509_V_ERR_CERT_HAS_EXPIRED);
		CHECK_EQ_INT(tlsca_server_not_after(ca), asn1_time(X509_get0_notAfter(x)));
	}
	CHECK(tlsca_server_not_after(ca) - T0 <= 397 * (time_t)DAY);
	count = tlsca_server_names(ca, names, 16);
	CHECK_EQ_INT(count, N_BOX_SANS);
	CHECK_STR(names[0], "scanbridge-ab12"); /* certificate order: host first */
	CHECK_STR(names[1], "scanbridge-ab12.local");
	CHECK_STR(names[2], "localhost");
	CHECK_STR(names[3], "192.168.1.20");
	CHECK_STR(names[4], "fe80::1");
	CHECK_EQ_INT(tlsca_server_names(ca, names, 2), 2);
	X509_free(x);
	X509_free(cax);
	tlsca_close(ca);
}

static void test_same_names_kept(void)
{
	const char *dir = new_dir();
	struct tlsca *ca = open_ok(dir, T0);
	struct tlsca_names n, shuffled;
	char *pem, *key, *pem2, *key2;

	box(&n);
	CHECK(ensure(ca, &n, T0));
	pem = slurp(in(dir, "server.pem"));
	key = slurp(in(dir, "server.key"));
	CHECK(!ensure(ca, &n, T0));
	CHECK(!ensure(ca, &n, T0 + 300 * (time_t)DAY)); /* 97 days left: kept */
	/* the same names in another order, a duplicate, an upper-case host */
	memset(&shuffled, 0, sizeof shuffled);
	strcpy(shuffled.hostname, "ScanBridge-AB12");
	add_v6(&shuffled, "2001:db8::7");
	add_v4(&shuffled, "10.0.0.5");
	add_v4(&shuffled, "192.168.1.20");
	add_v6(&shuffled, "fe80::1");
	add_v4(&shuffled, "10.0.0.5");
	CHECK(!ensure(ca, &shuffled, T0 + DAY));
	pem2 = slurp(in(dir, "server.pem"));
	key2 = slurp(in(dir, "server.key"));
	CHECK(pem && pem2 && !strcmp(pem, pem2));
	CHECK(key && key2 && !strcmp(key, key2));
	CHECK(tlsca_server_not_after(ca) > T0);
	free(pem);
	free(key);
	free(pem2);
	free(key2);
	tlsca_close(ca);
}

static void test_renewed_near_expiry(void)
{
	const char *dir = new_dir();
	struct tlsca *ca = open_ok(dir, T0);
	struct tlsca_names n;
	time_t later = T0 + 368 * (time_t)DAY; /* 28 days left */
	time_t first;

	box(&n);
	CHECK(ensure(ca, &n, T0));
	first = tlsca_server_not_after(ca);
	CHECK(ensure(ca, &n, later));
	CHECK(tlsca_server_not_after(ca) > first);
	CHECK_EQ_INT(tlsca_server_not_after(ca), later - 3600 + 397 * (time_t)DAY);
	check_server(dir, later, box_sans, N_BOX_SANS);
	CHECK(!ensure(ca, &n, later));
	/* the clock went back before the certificate's start: re-issued too */
	CHECK(ensure(ca, &n, T0));
	check_server(dir, T0, box_sans, N_BOX_SANS);
	tlsca_close(ca);
}

static void test_new_names_reissue(void)
{
	const char *dir = new_dir();
	struct tlsca *ca = open_ok(dir, T0);
	struct tlsca_names n;
	static const char *const more[] = {
		"DNS:localhost", "DNS:scanbridge-ab12", "DNS:scanbridge-ab12.local",
		"IP:10.0.0.5", "IP:172.16.0.9", "IP:192.168.1.20", "IP:2001:db8::7",
		"IP:fe80::1",
	};
	static const char *const renamed[] = {
		"DNS:localhost", "DNS:till-3.local", "DNS:till-3.shop.example",
		"DNS:till-3.shop.example.local", "IP:10.0.0.5", "IP:172.16.0.9",
		"IP:192.168.1.20", "IP:2001:db8::7", "IP:fe80::1",
	};

	box(&n);
	CHECK(ensure(ca, &n, T0));
	add_v4(&n, "172.16.0.9");
	CHECK(ensure(ca, &n, T0));
	check_server(dir, T0, more, (int)(sizeof more / sizeof more[0]));
	strcpy(n.hostname, "till-3.shop.example");
	CHECK(ensure(ca, &n, T0));
	check_server(dir, T0, renamed, (int)(sizeof renamed / sizeof renamed[0]));
	n.n_addr = 4; /* 172.16.0.9 gone */
	strcpy(n.hostname, "scanbridge-ab12");
	CHECK(ensure(ca, &n, T0));
	check_server(dir, T0, box_sans, N_BOX_SANS);
	CHECK(!ensure(ca, &n, T0));
	tlsca_close(ca);
}

static void test_unknown_or_bad_hostname(void)
{
	static const char *const bare[] = { "DNS:localhost", "IP:10.0.0.5" };
	static const char *const bad[] = { "bad_host", "a..b", ".lead", "sp ace", "x\x01y" };
	const char *dir = new_dir();
	struct tlsca *ca = open_ok(dir, T0);
	struct tlsca_names n;
	char names[4][64];

	memset(&n, 0, sizeof n);
	add_v4(&n, "10.0.0.5");
	CHECK(ensure(ca, &n, T0));
	check_server(dir, T0, bare, 2);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(n.hostname, sizeof n.hostname, "%s", bad[i]);
		CHECK(!ensure(ca, &n, T0)); /* counts as unknown: same names */
	}
	CHECK_EQ_INT(tlsca_server_names(ca, names, 4), 2);
	CHECK_STR(names[0], "localhost");
	CHECK_STR(names[1], "10.0.0.5");
	tlsca_close(ca);
}

static void test_damaged_files_reissued(void)
{
	const char *dir = new_dir();
	struct tlsca *ca = open_ok(dir, T0), *other;
	struct tlsca_names n;
	char other_dir[128], *key;

	box(&n);
	CHECK(ensure(ca, &n, T0));
	spit(in(dir, "server.pem"), "garbage");
	CHECK(ensure(ca, &n, T0));
	check_server(dir, T0, box_sans, N_BOX_SANS);
	spit(in(dir, "server.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	CHECK(ensure(ca, &n, T0));
	CHECK_EQ_INT(unlink(in(dir, "server.key")), 0);
	CHECK(ensure(ca, &n, T0));
	CHECK_EQ_INT(unlink(in(dir, "server.pem")), 0);
	CHECK(ensure(ca, &n, T0));
	/* a key that parses but is not the certificate's: the CA's own */
	key = slurp(in(dir, "ca.key"));
	if (key)
		spit(in(dir, "server.key"), key);
	free(key);
	CHECK(ensure(ca, &n, T0));
	CHECK_EQ_INT(tls_files_check(in(dir, "server.pem"), in(dir, "server.key"), T0, NULL, 0), 0);
	/* a good pair from another CA, for the same names */
	snprintf(other_dir, sizeof other_dir, "%s", new_dir());
	other = open_ok(other_dir, T0);
	CHECK(ensure(other, &n, T0));
	tlsca_close(other);
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "server.key" : "server.pem";
		char *text = slurp(in(other_dir, name));

		if (text)
			spit(in(dir, name), text);
		free(text);
	}
	CHECK_EQ_INT(tls_files_check(in(dir, "server.pem"), in(dir, "server.key"), T0, NULL, 0), 0);
	CHECK(ensure(ca, &n, T0));
	check_server(dir, T0, box_sans, N_BOX_SANS);
	tlsca_close(ca);
}

/* ---- a user-supplied pair --------------------------------------------------- */

static void expect_check(const char *cert, const char *key, time_t now, int want,
			 const char *mention)
{
	char err[512] = "x";

	CHECK_EQ_INT(tls_files_check(cert, key, now, err, sizeof err), want);
	if (!mention) {
		CHECK_STR(err, "");
	} else if (!strstr(err, mention)) {
		check_failures_++;
		fprintf(stderr, "error \"%s\" does not mention \"%s\"\n", err, mention);
	}
}

static void test_tls_files_check(void)
{
	char dir[128], cert[192], key[192], cakey[192], bad[192], chain_only[192];
	struct tlsca *ca;
	struct tlsca_names n;

	snprintf(dir, sizeof dir, "%s", new_dir());
	ca = open_ok(dir, T0);
	box(&n);
	CHECK(ensure(ca, &n, T0));
	tlsca_close(ca);
	snprintf(cert, sizeof cert, "%s/server.pem", dir);
	snprintf(key, sizeof key, "%s/server.key", dir);
	snprintf(cakey, sizeof cakey, "%s/ca.key", dir);
	snprintf(bad, sizeof bad, "%s/bad.pem", dir);
	snprintf(chain_only, sizeof chain_only, "%s/ca.pem", dir);

	expect_check(cert, key, T0, 0, NULL);
	expect_check(cert, key, T0 + 300 * (time_t)DAY, 0, NULL);
	expect_check(cert, cakey, T0, SB_ECONFIG, cakey);           /* mismatched key */
	expect_check(chain_only, key, T0, SB_ECONFIG, "does not belong");
	expect_check(cert, key, T0 + 398 * (time_t)DAY, SB_ECONFIG, "expired");
	expect_check(cert, key, T0 + 380 * (time_t)DAY, 0, "expires on"); /* warning */
	expect_check(cert, key, T0 - 2 * 3600, 0, "not valid before");   /* warning */
	expect_check(bad, key, T0, SB_ECONFIG, bad);                    /* missing */
	spit(bad, "hello\n");
	expect_check(bad, key, T0, SB_ECONFIG, bad);                    /* not PEM */
	expect_check(cert, bad, T0, SB_ECONFIG, bad);
	expect_check(cert, dir, T0, SB_ECONFIG, dir);                   /* a directory */
}

/* The openssl command line, an independent verifier, when it is installed. */
static void test_openssl_cli(void)
{
	char dir[128], cmd[1024];
	struct tlsca *ca;
	struct tlsca_names n;

	if (access("/usr/bin/openssl", X_OK)) {
		printf("skip openssl cli: /usr/bin/openssl not found\n");
		return;
	}
	snprintf(dir, sizeof dir, "%s", new_dir());
	ca = open_ok(dir, T0);
	box(&n);
	CHECK(ensure(ca, &n, T0));
	tlsca_close(ca);
	snprintf(cmd, sizeof cmd, "/usr/bin/openssl verify -attime %lld -purpose sslserver "
		 "-x509_strict -verify_hostname scanbridge-ab12.local -verify_ip 192.168.1.20 "
		 "-CAfile '%s/ca.pem' '%s/server.pem' >/dev/null", (long long)T0, dir, dir);
	CHECK_EQ_INT(system(cmd), 0);
	/* and it does refuse a name the box does not have */
	snprintf(cmd, sizeof cmd, "/usr/bin/openssl verify -attime %lld -verify_hostname "
		 "evil.example -CAfile '%s/ca.pem' '%s/server.pem' >/dev/null 2>&1",
		 (long long)T0, dir, dir);
	CHECK(system(cmd) != 0);
	snprintf(cmd, sizeof cmd, "/usr/bin/openssl pkey -in '%s/server.key' -noout 2>/dev/null &&"
		 " /usr/bin/openssl pkey -in '%s/ca.key' -noout 2>/dev/null", dir, dir);
	CHECK_EQ_INT(system(cmd), 0);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Not a timed test: prints how long it takes, for the record. */
static void test_timing(void)
{
	struct timespec t0;
	struct tlsca *ca;
	struct tlsca_names n;
	double make_ca, issue, keep;

	box(&n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ca = open_ok(new_dir(), T0);
	make_ca = seconds_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(ensure(ca, &n, T0));
	issue = seconds_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(!ensure(ca, &n, T0));
	keep = seconds_since(&t0);
	printf("timing: CA made %.2f ms, server issued %.2f ms, kept %.2f ms\n", make_ca * 1e3,
	       issue * 1e3, keep * 1e3);
	tlsca_close(ca);
}

static void cleanup(void)
{
	char cmd[160];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
	CHECK_EQ_INT(system(cmd), 0);
}

int main(void)
{
	static const struct check_case cases[] = {
		TEST(test_ca_created), TEST(test_restart_keeps_ca), TEST(test_two_cas_differ),
		TEST(test_half_ca_refused), TEST(test_corrupt_ca_refused),
		TEST(test_expired_ca_refused), TEST(test_bad_dir_or_clock_refused),
		TEST(test_long_label), TEST(test_long_hostname),
		TEST(test_server_issued_and_verifies),
		TEST(test_same_names_kept), TEST(test_renewed_near_expiry),
		TEST(test_new_names_reissue), TEST(test_unknown_or_bad_hostname),
		TEST(test_damaged_files_reissued), TEST(test_tls_files_check),
		TEST(test_openssl_cli), TEST(test_timing), TEST(cleanup),
	};

	umask(022);
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 1;
	}
	return check_run(cases, (int)(sizeof cases / sizeof cases[0]));
}
