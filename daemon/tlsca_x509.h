/* SPDX-License-Identifier: MIT */
/* Internal to tlsca: making and reading the certificates in memory (no files,
 * no state). Split from tlsca.c, which owns the files and the lifetime. */
#ifndef SB_TLSCA_X509_H
#define SB_TLSCA_X509_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tlsca.h"

/* hostname, hostname.local, first-label.local, localhost, the addresses */
#define TLSCA_SAN_MAX (TLSCA_MAX_ADDRS + 4)
/* "DNS:" + a 253-byte name + ".local" + NUL, rounded up */
#define TLSCA_SAN_LEN 272

/* A SAN set as text, "DNS:box.local" or "IP:10.0.0.5" (inet_ntop's form), in
 * the order of the certificate or of tlsca__sans_want. */
struct tlsca_sans {
	char name[TLSCA_SAN_MAX][TLSCA_SAN_LEN];
	int n;
};

/* A fresh ECDSA P-256 key, or NULL (out of memory, no entropy). */
EVP_PKEY *tlsca__keygen(void);

/* A self-signed CA certificate for key (tlsca.h, tlsca_open). Returns 0 and
 * *out (X509_free), SB_EINVAL (label not UTF-8) or SB_ENOMEM. */
int tlsca__make_ca(EVP_PKEY *key, const char *label, time_t now, X509 **out,
		   char *err, size_t errlen);

/* A server certificate for key, issued by ca/ca_key, naming sans, subject
 * CN=cn (tlsca.h, tlsca_ensure_server). Returns 0 and *out (X509_free) or
 * SB_ENOMEM. */
int tlsca__make_server(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const struct tlsca_sans *sans,
		       const char *cn, time_t now, X509 **out);

/* The SAN set names should give, and the CN for it (cnsize >= 65: a CN
 * holds up to 64 characters). */
void tlsca__sans_want(const struct tlsca_names *names, struct tlsca_sans *out, char *cn,
		      size_t cnsize);

/* The SAN set of cert; a name of another type, or too many, yields a set
 * that equals no wanted one. */
void tlsca__sans_of(X509 *cert, struct tlsca_sans *out);

/* Whether a and b hold the same names, in any order. */
bool tlsca__sans_equal(const struct tlsca_sans *a, const struct tlsca_sans *b);

/* The latest time a time_t holds. */
#define TLSCA_TIME_MAX ((time_t)((1ULL << (sizeof(time_t) * 8 - 1)) - 1))

/* t as a time_t (timegm), TLSCA_TIME_MAX when later than a time_t holds, or
 * 0 when it cannot be read. */
time_t tlsca__time(const ASN1_TIME *t);

#endif
