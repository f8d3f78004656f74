/* SPDX-License-Identifier: MIT */
/* Unpredictable bytes from the kernel's CSPRNG via getrandom(2), and URL-safe
 * identifiers built from them (base64url without padding). getrandom may return
 * fewer bytes than asked or fail with EINTR, so every read is a loop; the byte
 * source sits behind a seam so tests can prove that loop. */
#include "rand.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "sb_err.h"

#define RAND_CHUNK 48 /* a multiple of 3: base64 chunks concatenate exactly */

static ssize_t getrandom_source(void *buf, size_t n, unsigned flags)
{
	return getrandom(buf, n, flags);
}

static rand_source_fn rand_source = getrandom_source;

void rand__stub(rand_source_fn fn)
{
	rand_source = fn ? fn : getrandom_source;
}

int rand_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	int zero_reads = 0;

	while (n > 0) {
		ssize_t r = rand_source(p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (size_t)r > n)
			return SB_EIO;
		if (r == 0 && ++zero_reads > 8) /* never spin on a broken source */
			return SB_EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int base64url_encode(const unsigned char *in, size_t n, char *out, size_t outsize)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t need = (n * 4 + 2) / 3, o = 0;

	if (!out || outsize < need + 1 || need > (size_t)0x7fffffff)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = tab[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = tab[v & 63];
	}
	out[o] = '\0';
	return (int)o;
}

static int b64url_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '-' ? 62 : ch == '_' ? 63 : -1;
}

int base64url_decode(const char *in, size_t n, unsigned char *out, size_t outsize)
{
	size_t o = 0;
	unsigned v = 0;
	int bits = 0;

	if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > outsize || n > 0x7fffffff)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int x = b64url_value(in[i]);

		if (x < 0)
			return -1;
		v = (v << 6 | (unsigned)x) & 0xffffff;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	return (int)o;
}

int rand_id(char *out, size_t outsize, size_t nbytes)
{
	unsigned char chunk[RAND_CHUNK];
	size_t o = 0;
	int rc = 0;

	if (!out || outsize < (nbytes * 4 + 2) / 3 + 1)
		return SB_EINVAL;
	out[0] = '\0';
	while (nbytes > 0) {
		size_t k = nbytes < RAND_CHUNK ? nbytes : RAND_CHUNK;
		if ((rc = rand_bytes(chunk, k)) != 0)
			break;
		o += (size_t)base64url_encode(chunk, k, out + o, outsize - o);
		nbytes -= k;
	}
	explicit_bzero(chunk, sizeof chunk); /* ids double as secrets (pair codes) */
	if (rc != 0)
		out[0] = '\0';
	return rc;
}
