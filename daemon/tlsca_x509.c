/* SPDX-License-Identifier: MIT */
/* The certificates of the box's CA, made and read in memory (tlsca_x509.h):
 * the CA's own, the server's, and the server's names (SAN set) as text so
 * that "does the certificate still name this box?" is a string compare.
 * SANs are built as GENERAL_NAMEs, never through OpenSSL's config syntax, so
 * a host name can never smuggle in another extension value. */
#include "tlsca_x509.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "sb_err.h"

/* X.509 upper bounds (RFC 5280 ub-common-name, ub-organizational-unit-name),
 * in characters; OpenSSL refuses longer values. */
#define CN_MAX_CHARS 64
#define OU_MAX_CHARS 64
/* "scanbridge local CA " + label + " " + YYYY-MM-DD fits CN_MAX_CHARS */
#define CN_LABEL_CHARS (CN_MAX_CHARS - 20 - 1 - 10)
/* A host name must leave room for ".local" within DNS's 253. */
#define HOST_MAX_LEN (253 - 6)

EVP_PKEY *tlsca__keygen(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* 128 random bits as a positive serial (RFC 5280: at most 20 octets, unique
 * per issuer; randomness is what keeps two CAs of the same label apart). */
static int set_random_serial(X509 *x)
{
	unsigned char bytes[16];
	BIGNUM *bn = NULL;
	int rc = -1;

	if (RAND_bytes(bytes, sizeof bytes) == 1 && (bn = BN_bin2bn(bytes, sizeof bytes, NULL)) &&
	    !BN_is_zero(bn) && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		rc = 0;
	BN_free(bn);
	return rc;
}

/* Version 3, a random serial, valid from an hour before now (a phone whose
 * clock is a little behind still accepts it) for `days`. */
static int set_frame(X509 *x, time_t now, int days)
{
	if (!X509_set_version(x, X509_VERSION_3) || set_random_serial(x))
		return -1;
	if (!ASN1_TIME_adj(X509_getm_notBefore(x), now, 0, -3600) ||
	    !ASN1_TIME_adj(X509_getm_notAfter(x), now, days, -3600))
		return -1;
	return 0;
}

static int name_add(X509_NAME *n, const char *field, const char *value)
{
	return X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (const unsigned char *)value,
					  -1, -1, 0) == 1 ? 0 : -1;
}

/* Copies the first max_chars UTF-8 characters of s, within size bytes (a
 * label that is not UTF-8 may be cut anywhere: OpenSSL then refuses it). */
static void utf8_cut(char *out, size_t size, const char *s, int max_chars)
{
	size_t i = 0;
	int chars = 0;

	for (; s[i] && i + 1 < size; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chars++ == max_chars)
			break;
	memcpy(out, s, i);
	out[i] = '\0';
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ok = ext && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* O=scanbridge, OU=<label>, CN=scanbridge local CA <label> <day>: the label
 * tells several stores' CAs apart on a phone, the day a re-made one. */
static int set_ca_name(X509_NAME *n, const char *label, time_t now)
{
	char ou[4 * OU_MAX_CHARS + 1], short_label[4 * CN_LABEL_CHARS + 1], day[16], cn[256];
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(day, sizeof day, "%Y-%m-%d", &tm);
	utf8_cut(ou, sizeof ou, label, OU_MAX_CHARS);
	utf8_cut(short_label, sizeof short_label, label, CN_LABEL_CHARS);
	if (short_label[0])
		snprintf(cn, sizeof cn, "scanbridge local CA %s %s", short_label, day);
	else
		snprintf(cn, sizeof cn, "scanbridge local CA %s", day);
	if (name_add(n, "O", "scanbridge") || (ou[0] && name_add(n, "OU", ou)) ||
	    name_add(n, "CN", cn))
		return -1;
	return 0;
}

int tlsca__make_ca(EVP_PKEY *key, const char *label, time_t now, X509 **out, char *err,
		   size_t errlen)
{
	X509 *x = X509_new();
	int rc = SB_ENOMEM;

	*out = NULL;
	if (!x || set_frame(x, now, TLSCA_CA_DAYS) || !X509_set_pubkey(x, key))
		goto done;
	if (set_ca_name(X509_get_subject_name(x), label, now)) {
		snprintf(err, errlen, "cannot put the label into the CA's name (not UTF-8?)");
		rc = SB_EINVAL;
		goto done;
	}
	if (!X509_set_issuer_name(x, X509_get_subject_name(x)) ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") || !X509_sign(x, key, EVP_sha256()))
		goto done;
	*out = x;
	x = NULL;
	rc = 0;
done:
	if (rc == SB_ENOMEM)
		snprintf(err, errlen, "cannot make the CA certificate (out of memory?)");
	X509_free(x);
	return rc;
}

/* One SAN from its text form ("DNS:name" or "IP:address"). */
static GENERAL_NAME *general_name(const char *text)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	int type = strncmp(text, "DNS:", 4) ? GEN_IPADD : GEN_DNS;
	ASN1_STRING *v = NULL;

	if (type == GEN_IPADD) {
		v = a2i_IPADDRESS(text + 3);
	} else if ((v = ASN1_IA5STRING_new()) && !ASN1_STRING_set(v, text + 4, -1)) {
		ASN1_STRING_free(v);
		v = NULL;
	}
	if (!g || !v) {
		GENERAL_NAME_free(g);
		ASN1_STRING_free(v);
		return NULL;
	}
	GENERAL_NAME_set0_value(g, type, v);
	return g;
}

static int add_sans(X509 *x, const struct tlsca_sans *sans)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int rc = -1;

	if (!gens)
		return -1;
	for (int i = 0; i < sans->n; i++) {
		GENERAL_NAME *g = general_name(sans->name[i]);

		if (!g || !sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto done;
		}
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1)
		rc = 0;
done:
	GENERAL_NAMES_free(gens);
	return rc;
}

int tlsca__make_server(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const struct tlsca_sans *sans,
		       const char *cn, time_t now, X509 **out)
{
	X509 *x = X509_new();
	X509_NAME *subject = x ? X509_get_subject_name(x) : NULL;

	*out = NULL;
	if (!x || set_frame(x, now, TLSCA_SERVER_DAYS) || !X509_set_pubkey(x, key) ||
	    name_add(subject, "O", "scanbridge") || name_add(subject, "CN", cn) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
	    add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(x, ca, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(x, ca, NID_ext_key_usage, "serverAuth") ||
	    add_ext(x, ca, NID_subject_key_identifier, "hash") ||
	    add_ext(x, ca, NID_authority_key_identifier, "keyid,issuer") || add_sans(x, sans) ||
	    !X509_sign(x, ca_key, EVP_sha256())) {
		X509_free(x);
		return SB_ENOMEM;
	}
	*out = x;
	return 0;
}

/* Appends a name unless it is already there (a host called "localhost", the
 * same address on two interfaces). */
__attribute__((format(printf, 2, 3)))
static void sans_add(struct tlsca_sans *s, const char *fmt, ...)
{
	char name[TLSCA_SAN_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return;
	if (s->n < TLSCA_SAN_MAX)
		memcpy(s->name[s->n++], name, sizeof name);
}

/* An address as text: 4 or 16 bytes; v4-mapped IPv6 as the IPv4 it maps. */
static void ip_text(const unsigned char *a, int len, char *out, size_t size)
{
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (len == 16 && !memcmp(a, v4mapped, sizeof v4mapped))
		inet_ntop(AF_INET, a + 12, out, (socklen_t)size);
	else
		inet_ntop(len == 4 ? AF_INET : AF_INET6, a, out, (socklen_t)size);
}

static bool host_char_ok(char c)
{
	return c == '-' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Lower-cased, without a trailing dot; "" unless a DNS name made of letters,
 * digits and hyphens (gethostname may return anything, and a SAN that is not
 * a valid name makes some clients reject the whole certificate). */
static void host_clean(char *out, const char *hostname)
{
	size_t n = strnlen(hostname, 255), label = 0;

	out[0] = '\0';
	if (n && hostname[n - 1] == '.')
		n--;
	if (!n || n > HOST_MAX_LEN)
		return;
	for (size_t i = 0; i < n; i++) {
		char c = hostname[i] >= 'A' && hostname[i] <= 'Z' ? (char)(hostname[i] | 0x20)
								 : hostname[i];
		bool dot = c == '.';

		if (dot ? label == 0 || i + 1 == n : !host_char_ok(c) || ++label > 63) {
			out[0] = '\0';
			return;
		}
		if (dot)
			label = 0;
		out[i] = c;
	}
	out[n] = '\0';
}

void tlsca__sans_want(const struct tlsca_names *names, struct tlsca_sans *out, char *cn,
		      size_t cnsize)
{
	char host[256], addr[INET6_ADDRSTRLEN];
	size_t first;

	out->n = 0;
	host_clean(host, names->hostname);
	first = strcspn(host, ".");
	if (host[0]) {
		sans_add(out, "DNS:%s", host);
		sans_add(out, "DNS:%s.local", host);
		if (host[first]) /* mDNS publishes the first label: box.example.com is box.local */
			sans_add(out, "DNS:%.*s.local", (int)first, host);
	}
	sans_add(out, "DNS:localhost");
	for (int i = 0; i < names->n_addr && i < TLSCA_MAX_ADDRS; i++) {
		ip_text(names->addr[i], 16, addr, sizeof addr);
		sans_add(out, "IP:%s", addr);
	}
	if (!host[0])
		snprintf(cn, cnsize, "localhost");
	else if (strlen(host) <= CN_MAX_CHARS && strlen(host) < cnsize)
		snprintf(cn, cnsize, "%s", host);
	else
		snprintf(cn, cnsize, "%.*s", (int)first, host);
}

/* One SAN as text; "?" for a kind we never write (it then matches nothing). */
static void san_text(const GENERAL_NAME *g, char *out, size_t size)
{
	int type;
	const void *v = GENERAL_NAME_get0_value(g, &type);
	/* only these two types hold an ASN1_STRING */
	const unsigned char *data = type == GEN_DNS || type == GEN_IPADD ? ASN1_STRING_get0_data(v) : NULL;
	int len = data ? ASN1_STRING_length(v) : 0;
	char addr[INET6_ADDRSTRLEN];

	if (type == GEN_DNS && len > 0 && len <= HOST_MAX_LEN + 6 && !memchr(data, 0, (size_t)len)) {
		snprintf(out, size, "DNS:%.*s", len, (const char *)data);
	} else if (type == GEN_IPADD && (len == 4 || len == 16)) {
		ip_text(data, len, addr, sizeof addr);
		snprintf(out, size, "IP:%s", addr);
	} else {
		snprintf(out, size, "?");
	}
}

void tlsca__sans_of(X509 *cert, struct tlsca_sans *out)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int n = gens ? sk_GENERAL_NAME_num(gens) : 0;

	out->n = 0;
	for (int i = 0; i < n && out->n < TLSCA_SAN_MAX; i++)
		san_text(sk_GENERAL_NAME_value(gens, i), out->name[out->n++], TLSCA_SAN_LEN);
	if (n > TLSCA_SAN_MAX) /* more than we ever write: make it equal nothing */
		snprintf(out->name[TLSCA_SAN_MAX - 1], TLSCA_SAN_LEN, "?");
	GENERAL_NAMES_free(gens);
}

static int text_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void sorted(const struct tlsca_sans *s, const char **out)
{
	for (int i = 0; i < s->n; i++)
		out[i] = s->name[i];
	qsort(out, (size_t)s->n, sizeof *out, text_cmp);
}

bool tlsca__sans_equal(const struct tlsca_sans *a, const struct tlsca_sans *b)
{
	const char *sa[TLSCA_SAN_MAX], *sb[TLSCA_SAN_MAX];

	if (a->n != b->n)
		return false;
	sorted(a, sa);
	sorted(b, sb);
	for (int i = 0; i < a->n; i++)
		if (strcmp(sa[i], sb[i]))
			return false;
	return true;
}

time_t tlsca__time(const ASN1_TIME *t)
{
	struct tm tm;
	time_t when;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	when = timegm(&tm);
	/* past 2038 with a 32-bit time_t (armhf): the CA's 20 years end
	 * there, and must not read as long expired */
	return when == (time_t)-1 && tm.tm_year > 70 ? TLSCA_TIME_MAX : when;
}
