/* SPDX-License-Identifier: MIT */
/* Unit tests for rand.c: base64url vectors (RFC 4648 §10, URL alphabet), id
 * lengths and alphabet, and the read loop under short reads, EINTR and failures
 * through the byte-source seam. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rand.h"
#include "sb_err.h"

static void check_b64(const char *in, const char *want)
{
	char out[64];
	int n = base64url_encode((const unsigned char *)in, strlen(in), out, sizeof out);
	CHECK_EQ_INT(n, strlen(want));
	CHECK_STR(out, want);
}

static void check_unb64(const char *in, const char *want)
{
	unsigned char out[64];
	int n = base64url_decode(in, strlen(in), out, sizeof out);

	CHECK_EQ_INT(n, strlen(want));
	CHECK(n >= 0 && memcmp(out, want, (size_t)n) == 0);
}

static void test_base64url_vectors(void)
{
	static const unsigned char url[] = { 0xfb, 0xff, 0xbf };
	char out[8];

	check_b64("", "");
	check_b64("f", "Zg");
	check_b64("fo", "Zm8");
	check_b64("foo", "Zm9v");
	check_b64("foob", "Zm9vYg");
	check_b64("fooba", "Zm9vYmE");
	check_b64("foobar", "Zm9vYmFy");
	check_unb64("Zm9vYmFy", "foobar");
	check_unb64("Zm9vYmE", "fooba");
	check_unb64("Zm9vYg", "foob");
	check_unb64("Zg", "f");
	check_unb64("", "");
	CHECK_EQ_INT(base64url_encode(url, 3, out, sizeof out), 4);
	CHECK_STR(out, "-_-_");
	CHECK_EQ_INT(base64url_decode("-_-_", 4, (unsigned char *)out, sizeof out), 3);
	CHECK(memcmp(out, url, 3) == 0);
}

/* What a token's segments must not be: padded, standard base64, a length no
 * encoding has, or longer than the buffer. */
static void test_base64url_decode_refuses(void)
{
	unsigned char out[8];

	CHECK_EQ_INT(base64url_decode("Zg==", 4, out, sizeof out), -1);
	CHECK_EQ_INT(base64url_decode("+/+/", 4, out, sizeof out), -1);
	CHECK_EQ_INT(base64url_decode("Zm9vY", 5, out, sizeof out), -1);
	CHECK_EQ_INT(base64url_decode("Zm9\n", 4, out, sizeof out), -1);
	CHECK_EQ_INT(base64url_decode("Zm9vYmFy", 8, out, 5), -1);
	CHECK_EQ_INT(base64url_decode("Zm9vYmFy", 8, out, 6), 6);
	CHECK_EQ_INT(base64url_decode("Zm9vYmE", 7, out, 4), -1);
	CHECK_EQ_INT(base64url_decode("Zm9vYmE", 7, out, 5), 5);
}

static void test_base64url_too_small(void)
{
	char out[8];
	CHECK_EQ_INT(base64url_encode((const unsigned char *)"foob", 4, out, 7), 6);
	CHECK_EQ_INT(base64url_encode((const unsigned char *)"foob", 4, out, 6), -1);
	CHECK_EQ_INT(base64url_encode((const unsigned char *)"f", 1, out, 2), -1);
	CHECK_EQ_INT(base64url_encode((const unsigned char *)"f", 1, out, 3), 2);
}

static int id_alphabet_ok(const char *s)
{
	for (; *s; s++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *s))
			return 0;
	return 1;
}

static void test_rand_id_lengths(void)
{
	char id[200];

	CHECK_EQ_INT(rand_id(id, 23, 16), 0); /* 128 bits: session ids, pair codes */
	CHECK_EQ_INT(strlen(id), 22);
	CHECK(id_alphabet_ok(id));
	CHECK_EQ_INT(rand_id(id, 17, 12), 0); /* 96 bits: scanner ids */
	CHECK_EQ_INT(strlen(id), 16);
	CHECK_EQ_INT(rand_id(id, sizeof id, 100), 0); /* spans several chunks */
	CHECK_EQ_INT(strlen(id), 134);
	CHECK(id_alphabet_ok(id));
	strcpy(id, "untouched");
	CHECK_EQ_INT(rand_id(id, 22, 16), SB_EINVAL);
	CHECK_STR(id, "untouched");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_rand_id_unique(void)
{
	enum { N = 2000 };
	static char ids[N][23];

	for (int i = 0; i < N; i++)
		CHECK_EQ_INT(rand_id(ids[i], sizeof ids[i], 16), 0);
	qsort(ids, N, sizeof ids[0], cmp_str);
	for (int i = 1; i < N; i++)
		CHECK(strcmp(ids[i - 1], ids[i]) != 0);
}

static void test_rand_bytes_spread(void)
{
	enum { N = 1 << 20 };
	unsigned char *buf = calloc(1, N);
	long counts[256] = {0};

	CHECK_EQ_INT(rand_bytes(buf, N), 0);
	CHECK_EQ_INT(rand_bytes(buf, 0), 0);
	for (int i = 0; i < N; i++)
		counts[buf[i]]++;
	for (int v = 0; v < 256; v++) /* expected 4096 each; 6 sigma is ~380 */
		CHECK(counts[v] > 3500 && counts[v] < 4700);
	free(buf);
}

/* A source that gives at most 3 bytes per call and fails with EINTR every other. */
static int stingy_calls;
static ssize_t stingy_source(void *buf, size_t n, unsigned flags)
{
	(void)flags;
	if (stingy_calls++ % 2 == 0) {
		errno = EINTR;
		return -1;
	}
	n = n < 3 ? n : 3;
	memset(buf, 0xab, n);
	return (ssize_t)n;
}

static ssize_t failing_source(void *buf, size_t n, unsigned flags)
{
	(void)buf; (void)n; (void)flags;
	errno = ENOSYS;
	return -1;
}

static ssize_t empty_source(void *buf, size_t n, unsigned flags)
{
	(void)buf; (void)n; (void)flags;
	return 0;
}

static void test_rand_short_reads_and_eintr(void)
{
	unsigned char buf[100];
	char id[32];

	memset(buf, 0, sizeof buf);
	rand__stub(stingy_source);
	CHECK_EQ_INT(rand_bytes(buf, sizeof buf), 0);
	for (size_t i = 0; i < sizeof buf; i++)
		CHECK_EQ_INT(buf[i], 0xab);
	CHECK_EQ_INT(stingy_calls, 2 * 34); /* ceil(100 / 3) reads, each after an EINTR */
	CHECK_EQ_INT(rand_id(id, sizeof id, 3), 0);
	CHECK_STR(id, "q6ur");
	rand__stub(NULL);
}

static void test_rand_failures(void)
{
	unsigned char buf[16];
	char id[32];

	rand__stub(failing_source);
	CHECK_EQ_INT(rand_bytes(buf, sizeof buf), SB_EIO);
	CHECK_EQ_INT(rand_id(id, sizeof id, 16), SB_EIO);
	CHECK_STR(id, "");
	rand__stub(empty_source); /* must not spin forever */
	CHECK_EQ_INT(rand_bytes(buf, sizeof buf), SB_EIO);
	rand__stub(NULL);
	CHECK_EQ_INT(rand_bytes(buf, sizeof buf), 0);
}

TEST_MAIN(TEST(test_base64url_vectors), TEST(test_base64url_too_small),
	  TEST(test_base64url_decode_refuses),
	  TEST(test_rand_id_lengths), TEST(test_rand_id_unique),
	  TEST(test_rand_bytes_spread), TEST(test_rand_short_reads_and_eintr),
	  TEST(test_rand_failures))
