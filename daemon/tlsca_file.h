/* SPDX-License-Identifier: MIT */
/* Internal to tlsca: the files of the TLS directory. Reading keeps key bytes
 * in memory that is wiped afterwards; writing is atomic (tmp file, fsync,
 * rename, fsync of the directory) so a power cut leaves the old file or the
 * new one, never half of one. Split from tlsca.c, which decides what to
 * write. Messages go to err/errlen (or why/whylen), which may be NULL/0. */
#ifndef SB_TLSCA_FILE_H
#define SB_TLSCA_FILE_H
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Room after the dir in a path: "/.server.pem.tmp" and the NUL. */
#define TLSCA_NAME_ROOM 24

/* snprintf into err, when there is one. */
void tlsca__err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The newest OpenSSL error's text, for a message; never NULL. */
const char *tlsca__ssl_reason(void);

/* dir/name into out (PATH_MAX bytes); dir must leave TLSCA_NAME_ROOM. */
void tlsca__join(char *out, const char *dir, const char *name);

/* The private key in the PEM file at path; NULL with why set (missing,
 * corrupt, encrypted: never asks for a passphrase). EVP_PKEY_free it. */
EVP_PKEY *tlsca__key_read(const char *path, char *why, size_t whylen);

/* Up to max certificates from the PEM file at path into out (X509_free
 * each); returns how many, 0 with why set when there is none. */
int tlsca__certs_read(const char *path, X509 **out, int max, char *why, size_t whylen);

/* dir/name := key as PKCS#8 PEM, mode 0600, atomically. Returns 0, SB_ENOMEM,
 * SB_EIO or SB_EFULL. */
int tlsca__write_key(const char *dir, const char *name, EVP_PKEY *key, char *err,
		     size_t errlen);

/* dir/name := first, then second unless NULL, as PEM, mode 0644, atomically.
 * Returns 0, SB_ENOMEM, SB_EIO or SB_EFULL. */
int tlsca__write_certs(const char *dir, const char *name, X509 *first, X509 *second,
		       char *err, size_t errlen);

/* 1 when path exists, 0 when it does not, SB_EIO when that cannot be told. */
int tlsca__file_exists(const char *path, char *err, size_t errlen);

/* Creates dir 0700 when missing; refuses (SB_ECONFIG) one that is not a
 * directory or that group or others can write, SB_EIO when unusable. */
int tlsca__dir_check(const char *dir, char *err, size_t errlen);

/* Makes a key file open to group or others 0600, with a logged warning. */
void tlsca__key_tighten(const char *path);

#endif
