/* SPDX-License-Identifier: MIT */
/* Unit tests for qr.c: the SVG for a pairing URL against a checked-in golden file
 * (SB_REGENERATE=1 rewrites it), the SVG's path parsed back into a module matrix
 * and compared with libqrencode's own, a real decode with zbarimg when it is
 * installed, the terminal rendering parsed back, and too-long text refused. */
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "qr.h"
#include "sb_err.h"

#define QUIET 4
#define HELLO_URL "http://127.0.0.1:8080/p#hello"

/* A module matrix including the quiet zone: m[y * size + x], 1 = dark. */
struct matrix {
	int size;
	unsigned char *m;
};

static struct matrix reference(const char *text)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	struct matrix r = { 0, NULL };

	if (!q)
		return r;
	r.size = q->width + 2 * QUIET;
	r.m = calloc((size_t)r.size * (size_t)r.size, 1);
	for (int y = 0; y < q->width; y++)
		for (int x = 0; x < q->width; x++)
			r.m[(y + QUIET) * r.size + x + QUIET] = q->data[y * q->width + x] & 1;
	QRcode_free(q);
	return r;
}

/* Rebuilds the matrix from our SVG: viewBox size, then the one path's runs.
 * Returns size 0 on any surprise (overlapping runs, bad syntax, out of range). */
static struct matrix from_svg(const char *svg)
{
	struct matrix r = { 0, NULL };
	const char *d;
	int w, w2, x, y, n, n2, used;

	if (sscanf(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\"", &w, &w2) != 2 ||
	    w != w2 || w < 21 || !(d = strstr(svg, " d=\"")) || strstr(d + 1, " d=\""))
		return r;
	r.m = calloc((size_t)w * (size_t)w, 1);
	for (d += 4; *d == 'M'; d += used) {
		if (sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &n, &n2, &used) != 4 || n != n2 ||
		    n < 1 || x < 0 || y < 0 || y >= w || x + n > w)
			goto bad;
		for (int i = 0; i < n; i++) {
			if (r.m[y * w + x + i])
				goto bad;
			r.m[y * w + x + i] = 1;
		}
	}
	if (*d != '"')
		goto bad;
	r.size = w;
	return r;
bad:
	free(r.m);
	r.m = NULL;
	return r;
}

static int same(struct matrix a, struct matrix b)
{
	return a.size > 0 && a.size == b.size &&
	       memcmp(a.m, b.m, (size_t)a.size * (size_t)a.size) == 0;
}

static char *golden_path(void)
{
	const char *file = __FILE__; /* absolute: CMake passes full source paths */
	const char *slash = strrchr(file, '/');
	int dir = slash ? (int)(slash - file) : 1;
	char *p = malloc(strlen(file) + 32);

	sprintf(p, "%.*s/golden/qr_hello.svg", dir, slash ? file : ".");
	return p;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)n, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

static void test_svg_golden(void)
{
	char *svg = NULL, *path = golden_path(), *want;
	size_t len = 0, want_len = 0;

	CHECK_EQ_INT(qr_svg(HELLO_URL, &svg, &len), 0);
	CHECK(svg && strlen(svg) == len);
	if (getenv("SB_REGENERATE") && strcmp(getenv("SB_REGENERATE"), "1") == 0) {
		FILE *f = fopen(path, "wb");
		CHECK(f && fwrite(svg, 1, len, f) == len && fclose(f) == 0);
		printf("regenerated %s\n", path);
	}
	want = slurp(path, &want_len);
	CHECK(want != NULL);
	if (want && svg) {
		CHECK_EQ_INT(len, want_len);
		CHECK(memcmp(svg, want, len < want_len ? len : want_len) == 0);
	}
	free(want);
	free(path);
	free(svg);
}

static void test_svg_shape(void)
{
	char *svg = NULL;
	size_t len;

	CHECK_EQ_INT(qr_svg(HELLO_URL, &svg, &len), 0);
	if (!svg)
		return;
	CHECK(strstr(svg, "shape-rendering=\"crispEdges\"") != NULL);
	CHECK(strstr(svg, "role=\"img\" aria-label=\"Pairing QR code\"") != NULL);
	CHECK(strstr(svg, "<rect width=\"33\" height=\"33\" fill=\"#fff\"/>") != NULL); /* v2: 25+8 */
	CHECK(strstr(svg, "<path ") != NULL && strstr(strstr(svg, "<path ") + 1, "<path") == NULL);
	CHECK(strstr(svg, "M4 4h7v1h-7z") != NULL); /* top-left finder pattern, merged */
	CHECK(strcmp(svg + len - 7, "</svg>\n") == 0);
	free(svg);
}

static void check_svg_matches(const char *text)
{
	struct matrix want = reference(text), got = { 0, NULL };
	char *svg = NULL;
	size_t len;

	CHECK_EQ_INT(qr_svg(text, &svg, &len), 0);
	if (svg)
		got = from_svg(svg);
	CHECK(want.size > 0);
	CHECK(same(got, want));
	free(got.m);
	free(want.m);
	free(svg);
}

static void test_svg_is_the_code(void)
{
	char big[1500];

	check_svg_matches(HELLO_URL);
	check_svg_matches("http://192.168.1.20:8080/p#Zq3kP0x-_w9AbCdEfGhIjK");
	check_svg_matches("x");
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	check_svg_matches(big);
}

/* Writes the matrix as a binary PGM, 8 pixels per module. */
static int write_pgm(const char *path, struct matrix mx)
{
	enum { SCALE = 8 };
	int px = mx.size * SCALE;
	FILE *f = fopen(path, "wb");

	if (!f)
		return -1;
	fprintf(f, "P5\n%d %d\n255\n", px, px);
	for (int y = 0; y < px; y++)
		for (int x = 0; x < px; x++)
			fputc(mx.m[(y / SCALE) * mx.size + x / SCALE] ? 0 : 255, f);
	return fclose(f);
}

static void check_zbar_decodes(const char *text)
{
	char dir[] = "/tmp/sb-test-qr-XXXXXX", img[64], cmd[160], got[4096] = "";
	char *svg = NULL;
	size_t len, n = 0;
	struct matrix mx = { 0, NULL };
	FILE *p;

	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ_INT(qr_svg(text, &svg, &len), 0);
	if (svg)
		mx = from_svg(svg); /* decode what the SVG draws, not libqrencode's matrix */
	CHECK(mx.size > 0);
	snprintf(img, sizeof img, "%s/qr.pgm", dir);
	if (mx.size > 0 && write_pgm(img, mx) == 0) {
		snprintf(cmd, sizeof cmd, "zbarimg -q --raw %s 2>/dev/null", img);
		if ((p = popen(cmd, "r")) != NULL) {
			n = fread(got, 1, sizeof got - 1, p);
			CHECK_EQ_INT(pclose(p), 0);
		}
		got[n] = '\0';
		if (n > 0 && got[n - 1] == '\n')
			got[n - 1] = '\0';
		CHECK_STR(got, text);
	}
	unlink(img);
	rmdir(dir);
	free(mx.m);
	free(svg);
}

static void test_svg_decodes_with_zbar(void)
{
	if (system("command -v zbarimg >/dev/null 2>&1") != 0) {
		printf("skip test_svg_decodes_with_zbar: zbarimg not installed (Debian zbar-tools)\n");
		return;
	}
	check_zbar_decodes(HELLO_URL);
	check_zbar_decodes("http://192.168.1.20:8080/p#Zq3kP0x-_w9AbCdEfGhIjK");
}

/* Parses qr_text output back: █ both light, ▀ top light, ▄ bottom light, ' ' both dark. */
static struct matrix from_text(const char *t)
{
	struct matrix r = { 0, NULL };
	int cols = 0, row = 0, x = 0, cap = 200;
	unsigned char *m = calloc((size_t)cap * (size_t)cap, 1);

	for (; *t; ) {
		int top, bottom;
		if (*t == '\n') {
			if (cols && x != cols)
				goto bad;
			cols = x;
			x = 0;
			row += 2;
			t++;
			continue;
		}
		if (*t == ' ') {
			top = bottom = 1;
			t++;
		} else if (!strncmp(t, "\u2588", 3)) {
			top = bottom = 0;
			t += 3;
		} else if (!strncmp(t, "\u2580", 3)) {
			top = 0, bottom = 1;
			t += 3;
		} else if (!strncmp(t, "\u2584", 3)) {
			top = 1, bottom = 0;
			t += 3;
		} else {
			goto bad;
		}
		if (x >= cap || row + 1 >= cap)
			goto bad;
		m[row * cap + x] = (unsigned char)top;
		m[(row + 1) * cap + x] = (unsigned char)bottom;
		x++;
	}
	if (x != 0 || cols == 0 || row < cols) /* rows: cols, padded to even */
		goto bad;
	r.size = cols;
	r.m = calloc((size_t)cols * (size_t)cols, 1);
	for (int y = 0; y < cols; y++)
		memcpy(r.m + y * cols, m + y * cap, (size_t)cols);
	for (int y = cols; y < row; y++) /* the padding row must be light */
		for (int i = 0; i < cols; i++)
			if (m[y * cap + i])
				r.size = 0;
bad:
	free(m);
	return r;
}

static void test_text_is_the_code(void)
{
	struct matrix want = reference(HELLO_URL), got = { 0, NULL };
	char *t = NULL;

	CHECK_EQ_INT(qr_text(HELLO_URL, &t), 0);
	if (t) {
		got = from_text(t);
		CHECK_EQ_INT(strchr(t, '\n') - t, 33 * 3); /* all blocks, 3 bytes each */
	}
	CHECK(same(got, want));
	free(got.m);
	free(want.m);
	free(t);
}

static void test_too_long_and_empty(void)
{
	char *big = malloc(4000), *out = (char *)1;
	size_t len = 0;

	memset(big, 'a', 3999);
	big[3999] = '\0';
	CHECK_EQ_INT(qr_svg(big, &out, &len), SB_EINVAL);
	CHECK(out == NULL);
	out = (char *)1;
	CHECK_EQ_INT(qr_text(big, &out), SB_EINVAL);
	CHECK(out == NULL);
	big[2331] = '\0'; /* the 8-bit capacity of version 40 at level M */
	CHECK_EQ_INT(qr_svg(big, &out, &len), 0);
	free(out);
	big[2331] = 'a';
	big[2332] = '\0';
	CHECK_EQ_INT(qr_svg(big, &out, &len), SB_EINVAL);
	CHECK_EQ_INT(qr_svg("", &out, &len), SB_EINVAL);
	CHECK_EQ_INT(qr_text("", &out), SB_EINVAL);
	free(big);
}

TEST_MAIN(TEST(test_svg_golden), TEST(test_svg_shape), TEST(test_svg_is_the_code),
	  TEST(test_svg_decodes_with_zbar), TEST(test_text_is_the_code),
	  TEST(test_too_long_and_empty))
