/* SPDX-License-Identifier: MIT */
/* Unpredictable bytes from the kernel (getrandom) and URL-safe identifiers. */
#ifndef SB_RAND_H
#define SB_RAND_H
#include <stddef.h>
#include <sys/types.h>

/* Fills buf with n random bytes. Returns 0 or SB_EIO. */
int rand_bytes(void *buf, size_t n);

/* Writes base64url (no padding) of `nbytes` random bytes into out, NUL-terminated.
 * out must hold at least (nbytes * 4 + 2) / 3 + 1 chars. Returns 0, SB_EIO, or
 * SB_EINVAL when out is too small (out is then left untouched). On SB_EIO out is "". */
int rand_id(char *out, size_t outsize, size_t nbytes);

/* base64url encoding without padding; returns the length written (excl. NUL) or
 * -1 if out is too small. */
int base64url_encode(const unsigned char *in, size_t n, char *out, size_t outsize);
/* Decodes n base64url characters (no padding) into out; returns the byte
 * count, or -1 for a character outside the alphabet, a length no encoding
 * has (n % 4 == 1) or an out too small. Tokens (auth.c) are its only input. */
int base64url_decode(const char *in, size_t n, unsigned char *out, size_t outsize);

/* Tests: replace the byte source (getrandom(2) signature; NULL restores it) to
 * exercise short reads, EINTR and failures. */
typedef ssize_t (*rand_source_fn)(void *buf, size_t n, unsigned flags);
void rand__stub(rand_source_fn fn);

#endif
