/* SPDX-License-Identifier: MIT */
/* The box's certificate authority and the server certificate it issues
 * (tlsca.h): when to trust, keep or re-issue the files in the TLS directory.
 * The certificates are made in tlsca_x509.c, the files read and written
 * (atomically, keys 0600 and wiped from memory) in tlsca_file.c. */
#include "tlsca.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "sb_err.h"
#include "tlsca_file.h"
#include "tlsca_x509.h"

#define DAY_S 86400

struct tlsca {
	char dir[PATH_MAX];
	char server_cert_path[PATH_MAX];
	char server_key_path[PATH_MAX];
	EVP_PKEY *key;          /* the CA's */
	X509 *cert;             /* the CA's */
	char *pem;              /* cert as PEM, NUL-terminated */
	size_t pem_len;
	unsigned char *der;     /* cert as DER (OPENSSL_malloc) */
	size_t der_len;
	char fingerprint[32 * 3];
	char subject[4 * 64 + 1]; /* the CN: at most 64 UTF-8 characters */
	time_t not_after;
	X509 *server;           /* the current server certificate; NULL before ensure */
	time_t server_not_after;
};

static const char *ymd(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d", &tm))
		snprintf(buf, size, "?");
	return buf;
}

/* ---- the CA ----------------------------------------------------------------- */

static int ca_load(struct tlsca *ca, const char *key_path, const char *pem_path, time_t now,
		   char *err, size_t errlen)
{
	char why[256], day[16];
	time_t not_after;

	if (!(ca->key = tlsca__key_read(key_path, why, sizeof why))) {
		tlsca__err(err, errlen, "cannot use the CA key %s: %s", key_path, why);
		return SB_ECONFIG;
	}
	tlsca__key_tighten(key_path);
	if (!tlsca__certs_read(pem_path, &ca->cert, 1, why, sizeof why)) {
		tlsca__err(err, errlen, "cannot use the CA certificate %s: %s", pem_path, why);
		return SB_ECONFIG;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1 || X509_check_ca(ca->cert) != 1) {
		tlsca__err(err, errlen, "%s is not the CA certificate of the key %s", pem_path, key_path);
		return SB_ECONFIG;
	}
	if ((not_after = tlsca__time(X509_get0_notAfter(ca->cert))) <= now) {
		tlsca__err(err, errlen, "the CA certificate %s expired on %s; delete it and its key to "
			   "make a new CA (phones must then install the new one)", pem_path,
			   ymd(not_after, day, sizeof day));
		return SB_ECONFIG;
	}
	return 0;
}

static int ca_create(struct tlsca *ca, const char *label, time_t now, char *err, size_t errlen)
{
	char day[16], path[PATH_MAX];
	int rc;

	if (now < TLSCA_CLOCK_FLOOR) {
		tlsca__err(err, errlen, "the clock says %s: a CA made now would be wrong for 20 years; "
			   "set the clock (NTP) first", ymd(now, day, sizeof day));
		return SB_ECONFIG;
	}
	if (!(ca->key = tlsca__keygen())) {
		tlsca__err(err, errlen, "cannot generate the CA key: %s", tlsca__ssl_reason());
		return SB_ENOMEM;
	}
	if ((rc = tlsca__make_ca(ca->key, label, now, &ca->cert, err, errlen)))
		return rc;
	/* the certificate last: a crash in between leaves a key without
	 * certificate, which tlsca_open reports rather than replacing */
	if ((rc = tlsca__write_key(ca->dir, TLSCA_CA_KEY_FILE, ca->key, err, errlen)))
		return rc;
	if ((rc = tlsca__write_certs(ca->dir, TLSCA_CA_CERT_FILE, ca->cert, NULL, err, errlen))) {
		/* no phone can trust a CA whose certificate was never written:
		 * take the key back, so that the next start simply tries again */
		tlsca__join(path, ca->dir, TLSCA_CA_KEY_FILE);
		unlink(path);
	}
	return rc;
}

static int ca_load_or_create(struct tlsca *ca, const char *label, time_t now, char *err,
			     size_t errlen)
{
	char key_path[PATH_MAX], pem_path[PATH_MAX];
	int has_key, has_pem;

	tlsca__join(key_path, ca->dir, TLSCA_CA_KEY_FILE);
	tlsca__join(pem_path, ca->dir, TLSCA_CA_CERT_FILE);
	if ((has_key = tlsca__file_exists(key_path, err, errlen)) < 0)
		return has_key;
	if ((has_pem = tlsca__file_exists(pem_path, err, errlen)) < 0)
		return has_pem;
	if (has_key && has_pem)
		return ca_load(ca, key_path, pem_path, now, err, errlen);
	if (!has_key && !has_pem)
		return ca_create(ca, label, now, err, errlen);
	/* never make a new CA over half of one: phones may trust it */
	tlsca__err(err, errlen, "%s exists but %s is missing: put it back (from a backup), or delete "
		   "%s to make a new CA that phones must install again",
		   has_key ? key_path : pem_path, has_key ? pem_path : key_path,
		   has_key ? key_path : pem_path);
	return SB_ECONFIG;
}

static void hex_colons(char *out, const unsigned char *md, unsigned len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (unsigned i = 0; i < len; i++) {
		*out++ = hex[md[i] >> 4];
		*out++ = hex[md[i] & 15];
		*out++ = i + 1 < len ? ':' : '\0';
	}
}

static void cn_of(X509 *cert, char *out, size_t size)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int len = i < 0 ? -1 : ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
							     X509_NAME_get_entry(name, i)));

	snprintf(out, size, "%.*s", len > 0 ? len : 0, len > 0 ? (const char *)utf8 : "");
	OPENSSL_free(utf8);
}

/* What the accessors hand out, computed once. */
static int ca_cache(struct tlsca *ca, char *err, size_t errlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len = 0;
	int der_len = i2d_X509(ca->cert, &ca->der);

	if (bio && PEM_write_bio_X509(bio, ca->cert) && (len = BIO_get_mem_data(bio, &data)) > 0 &&
	    (ca->pem = malloc((size_t)len + 1))) {
		memcpy(ca->pem, data, (size_t)len);
		ca->pem[len] = '\0';
		ca->pem_len = (size_t)len;
	}
	BIO_free(bio);
	if (!ca->pem || der_len <= 0 || !X509_digest(ca->cert, EVP_sha256(), md, &md_len)) {
		tlsca__err(err, errlen, "out of memory");
		return SB_ENOMEM;
	}
	ca->der_len = (size_t)der_len;
	hex_colons(ca->fingerprint, md, md_len);
	cn_of(ca->cert, ca->subject, sizeof ca->subject);
	ca->not_after = tlsca__time(X509_get0_notAfter(ca->cert));
	return 0;
}

static int set_paths(struct tlsca *ca, const char *dir, char *err, size_t errlen)
{
	if (!dir || !*dir || strlen(dir) + TLSCA_NAME_ROOM > PATH_MAX) {
		tlsca__err(err, errlen, "the TLS dir path is empty or too long");
		return SB_ECONFIG;
	}
	snprintf(ca->dir, sizeof ca->dir, "%s", dir);
	tlsca__join(ca->server_cert_path, dir, TLSCA_SERVER_CERT_FILE);
	tlsca__join(ca->server_key_path, dir, TLSCA_SERVER_KEY_FILE);
	return 0;
}

int tlsca_open(struct tlsca **out, const char *dir, const char *label, time_t now, char *err,
	       size_t errlen)
{
	struct tlsca *ca = calloc(1, sizeof *ca);
	int rc;

	*out = NULL;
	tlsca__err(err, errlen, "%s", "");
	if (!ca) {
		tlsca__err(err, errlen, "out of memory");
		return SB_ENOMEM;
	}
	if ((rc = set_paths(ca, dir, err, errlen)) || (rc = tlsca__dir_check(dir, err, errlen)) ||
	    (rc = ca_load_or_create(ca, label ? label : "", now, err, errlen)) ||
	    (rc = ca_cache(ca, err, errlen))) {
		tlsca_close(ca);
		ERR_clear_error();
		return rc;
	}
	*out = ca;
	ERR_clear_error();
	return 0;
}

void tlsca_close(struct tlsca *ca)
{
	if (!ca)
		return;
	EVP_PKEY_free(ca->key); /* wipes the private key as it frees it */
	X509_free(ca->cert);
	X509_free(ca->server);
	free(ca->pem);
	OPENSSL_free(ca->der);
	free(ca);
}

/* ---- the server certificate ------------------------------------------------- */

static void server_set(struct tlsca *ca, X509 *cert)
{
	X509_free(ca->server);
	ca->server = cert;
	ca->server_not_after = tlsca__time(X509_get0_notAfter(cert));
}

/* Whether the pair on disk is one this CA issued for want and still good:
 * the chain is exactly server + this CA, the key matches, the names are
 * want's, and it is valid at now for longer than the renewal margin. */
static bool server_good(const struct tlsca *ca, X509 *const chain[2], EVP_PKEY *key,
			const struct tlsca_sans *want, time_t now)
{
	struct tlsca_sans have;
	time_t before = tlsca__time(X509_get0_notBefore(chain[0]));
	time_t after = tlsca__time(X509_get0_notAfter(chain[0]));

	if (X509_cmp(chain[1], ca->cert) || X509_check_issued(ca->cert, chain[0]) != X509_V_OK ||
	    X509_verify(chain[0], ca->key) != 1 || X509_check_private_key(chain[0], key) != 1)
		return false;
	/* before > now: the clock went back (or was wrong when it was issued) */
	if (before > now || after - now < (time_t)TLSCA_RENEW_BEFORE_DAYS * DAY_S)
		return false;
	tlsca__sans_of(chain[0], &have);
	return tlsca__sans_equal(&have, want);
}

/* The server certificate on disk when server_good, else NULL: missing,
 * corrupt, foreign or stale files are not an error, just re-issued. */
static X509 *server_load(const struct tlsca *ca, const struct tlsca_sans *want, time_t now)
{
	X509 *chain[3] = { NULL, NULL, NULL };
	EVP_PKEY *key = NULL;
	char why[256];
	int n = tlsca__certs_read(ca->server_cert_path, chain, 3, why, sizeof why);
	bool good = n == 2 && (key = tlsca__key_read(ca->server_key_path, why, sizeof why)) &&
		    server_good(ca, chain, key, want, now);

	EVP_PKEY_free(key);
	X509_free(chain[1]);
	X509_free(chain[2]);
	if (good)
		return chain[0];
	X509_free(chain[0]);
	return NULL;
}

static int server_issue(struct tlsca *ca, const struct tlsca_sans *want, const char *cn,
			time_t now, char *err, size_t errlen)
{
	EVP_PKEY *key = tlsca__keygen();
	X509 *cert = NULL;
	int rc = SB_ENOMEM;

	if (!key || tlsca__make_server(ca->cert, ca->key, key, want, cn, now, &cert)) {
		tlsca__err(err, errlen, "cannot make the server certificate: %s", tlsca__ssl_reason());
		goto done;
	}
	/* key first: a crash before the certificate leaves a pair that does not
	 * match, which the next call re-issues */
	if ((rc = tlsca__write_key(ca->dir, TLSCA_SERVER_KEY_FILE, key, err, errlen)) ||
	    (rc = tlsca__write_certs(ca->dir, TLSCA_SERVER_CERT_FILE, cert, ca->cert, err, errlen)))
		goto done;
	server_set(ca, cert);
	cert = NULL;
done:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int tlsca_ensure_server(struct tlsca *ca, const struct tlsca_names *names, time_t now,
			bool *changed, char *err, size_t errlen)
{
	struct tlsca_sans want;
	char cn[65];
	X509 *cur;
	int rc = 0;

	*changed = false;
	tlsca__err(err, errlen, "%s", "");
	tlsca__sans_want(names, &want, cn, sizeof cn);
	if ((cur = server_load(ca, &want, now)))
		server_set(ca, cur);
	else if (!(rc = server_issue(ca, &want, cn, now, err, errlen)))
		*changed = true;
	ERR_clear_error();
	return rc;
}

/* ---- accessors -------------------------------------------------------------- */

const char *tlsca_server_cert_path(const struct tlsca *ca)
{
	return ca->server_cert_path;
}

const char *tlsca_server_key_path(const struct tlsca *ca)
{
	return ca->server_key_path;
}

const char *tlsca_ca_pem(const struct tlsca *ca, size_t *len)
{
	if (len)
		*len = ca->pem_len;
	return ca->pem;
}

const unsigned char *tlsca_ca_der(const struct tlsca *ca, size_t *len)
{
	if (len)
		*len = ca->der_len;
	return ca->der;
}

const char *tlsca_ca_fingerprint(const struct tlsca *ca)
{
	return ca->fingerprint;
}

const char *tlsca_ca_subject(const struct tlsca *ca)
{
	return ca->subject;
}

time_t tlsca_ca_not_after(const struct tlsca *ca)
{
	return ca->not_after;
}

time_t tlsca_server_not_after(const struct tlsca *ca)
{
	return ca->server ? ca->server_not_after : 0;
}

int tlsca_server_names(const struct tlsca *ca, char (*out)[64], int max)
{
	struct tlsca_sans have;
	int n = 0;

	if (!ca->server)
		return 0;
	tlsca__sans_of(ca->server, &have);
	for (int i = 0; i < have.n && n < max; i++) {
		const char *s = have.name[i];

		if (!strncmp(s, "DNS:", 4) || !strncmp(s, "IP:", 3))
			snprintf(out[n++], 64, "%.63s", strchr(s, ':') + 1);
	}
	return n;
}

/* ---- a user-supplied pair --------------------------------------------------- */

static int check_dates(X509 *cert, const char *path, time_t now, char *err, size_t errlen)
{
	time_t before = tlsca__time(X509_get0_notBefore(cert));
	time_t after = tlsca__time(X509_get0_notAfter(cert));
	char day[16];

	if (after <= now) {
		tlsca__err(err, errlen, "the certificate in %s expired on %s", path,
			   ymd(after, day, sizeof day));
		return SB_ECONFIG;
	}
	if (after - now < (time_t)TLSCA_WARN_BEFORE_DAYS * DAY_S)
		tlsca__err(err, errlen, "the certificate in %s expires on %s, in %lld days: renew it",
			   path, ymd(after, day, sizeof day), (long long)((after - now) / DAY_S));
	else if (before > now)
		tlsca__err(err, errlen, "the certificate in %s is not valid before %s: is the clock "
			   "right?", path, ymd(before, day, sizeof day));
	return 0;
}

int tls_files_check(const char *cert_path, const char *key_path, time_t now, char *err,
		    size_t errlen)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char why[256];
	int rc = SB_ECONFIG;

	tlsca__err(err, errlen, "%s", "");
	if (!tlsca__certs_read(cert_path, &cert, 1, why, sizeof why))
		tlsca__err(err, errlen, "cannot use the certificate %s: %s", cert_path, why);
	else if (!(key = tlsca__key_read(key_path, why, sizeof why)))
		tlsca__err(err, errlen, "cannot use the key %s: %s", key_path, why);
	else if (X509_check_private_key(cert, key) != 1)
		tlsca__err(err, errlen, "the key %s does not belong to the certificate %s", key_path,
			   cert_path);
	else
		rc = check_dates(cert, cert_path, now, err, errlen);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}
