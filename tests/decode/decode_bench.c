/* SPDX-License-Identifier: MIT */
/* Decode benchmark (a program, not a test): time of decode_image() — JPEG
 * load, scaled decode, box filter, ZXing — on
 *   frame:  a 1280x720 JPEG camera frame with an EAN-13 in it,
 *   photo:  a 4000x3000 (12 MP) JPEG photo with a small EAN-13,
 *   empty:  a 1280x720 JPEG frame with no code (every retry pass runs),
 * N runs each, p50 / p99 / max in milliseconds. The images are made in
 * process (barcode_encode + a shaded, noisy background + libjpeg-turbo at
 * quality 85), so the figures depend on nothing outside the repo.
 *
 *   decode_bench [-n RUNS] [-s MAX_SIDE]      defaults: 100 runs, 1600 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <turbojpeg.h>

#include "barcode.h"
#include "decode.h"
#include "sb_err.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* A w x h frame: vertical light gradient plus noise, the code (scaled by
 * `scale`, nearest neighbour) pasted at (x0, y0); then JPEG quality 85. */
static unsigned char *make_jpeg(int w, int h, const struct gray_image *code, int scale, int x0, int y0,
				unsigned long *len)
{
	uint8_t *px = malloc((size_t)w * h);
	uint32_t s = 2463534242u;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			s ^= s << 13;
			s ^= s >> 17;
			s ^= s << 5;
			int v = 90 + 120 * y / h + (int)(s % 17) - 8;
			px[(size_t)y * w + x] = (uint8_t)v;
		}
	if (code)
		for (int y = 0; y < code->height * scale && y0 + y < h; y++)
			for (int x = 0; x < code->width * scale && x0 + x < w; x++) {
				uint8_t c = code->px[(size_t)(y / scale) * code->stride + x / scale];
				px[(size_t)(y0 + y) * w + x0 + x] = c ? 235 : 25;
			}
	unsigned char *jpg = NULL;
	tjhandle tj = tjInitCompress();
	if (tjCompress2(tj, px, w, w, h, TJPF_GRAY, &jpg, len, TJSAMP_GRAY, 85, 0) != 0) {
		fprintf(stderr, "tjCompress2: %s\n", tjGetErrorStr2(tj));
		exit(1);
	}
	tjDestroy(tj);
	free(px);
	return jpg;
}

static void bench(const char *name, const unsigned char *jpg, unsigned long len, const char *expect,
		  const struct image_limits *lim, int runs)
{
	double *t = malloc(sizeof(double) * (size_t)runs);
	struct decode_result r[DECODE_MAX_RESULTS];
	int found = 0;
	for (int i = 0; i < runs; i++) {
		int n = 0;
		double ms = 0, t0 = now_ms();
		int rc = decode_image(jpg, len, lim, 0, r, DECODE_MAX_RESULTS, &n, &ms);
		t[i] = now_ms() - t0;
		if (rc != 0) {
			fprintf(stderr, "%s: %s\n", name, sb_strerror(rc));
			exit(1);
		}
		for (int k = 0; k < n; k++)
			found += expect && strcmp(r[k].code, expect) == 0;
		if (n > 0 && (!expect || strcmp(r[0].code, expect) != 0)) {
			fprintf(stderr, "%s: wrong decode \"%s\"\n", name, r[0].code);
			exit(1);
		}
	}
	qsort(t, (size_t)runs, sizeof(double), cmp_double);
	printf("%-28s %7lu B  runs %4d  found %4d  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", name, len,
	       runs, found, t[runs / 2], t[(runs * 99) / 100 < runs ? (runs * 99) / 100 : runs - 1],
	       t[runs - 1]);
	free(t);
}

int main(int argc, char **argv)
{
	int runs = 100;
	struct image_limits lim = {8u << 20, 40000000u, 1600, 0, 0};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			lim.max_side = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: decode_bench [-n RUNS] [-s MAX_SIDE]\n");
			return 2;
		}
	}
	if (runs < 1)
		runs = 1;
	const char *ean = "4006381333931";
	struct gray_image code = {0};
	if (barcode_encode(ean, SB_FMT_EAN_13, 0, 0, &code) != 0)
		return 1;
	unsigned long flen = 0, plen = 0, elen = 0;
	/* Frame: the code at 2 x 2 px/module = 4 px/module, ~540 px wide. */
	unsigned char *frame = make_jpeg(1280, 720, &code, 2, 370, 200, &flen);
	/* Photo: the same code at 3 x 2 = 6 px/module, ~800 px of 4000. */
	unsigned char *photo = make_jpeg(4000, 3000, &code, 3, 1900, 1300, &plen);
	unsigned char *empty = make_jpeg(1280, 720, NULL, 1, 0, 0, &elen);
	printf("decode_bench: max_side %d, %d runs, one thread\n", lim.max_side, runs);
	bench("frame 1280x720 EAN-13", frame, flen, ean, &lim, runs);
	bench("photo 4000x3000 EAN-13", photo, plen, ean, &lim, runs);
	bench("empty frame 1280x720", empty, elen, NULL, &lim, runs);
	tjFree(frame);
	tjFree(photo);
	tjFree(empty);
	gray_image_free(&code);
	return 0;
}
