/* SPDX-License-Identifier: MIT */
/* Unit tests for daemon/decode/decode.cpp and daemon/decode/image.c: encode -> decode round
 * trips for every format ZXing can write (raw gray, through PNG and through
 * JPEG), inverted images, format filters, and every hostile input the upload
 * path must refuse with its documented error and no crash: each truncation of
 * a small JPEG and PNG, headers claiming huge dimensions, zero bytes, things
 * that are not images, 20 MB of garbage. Meant to run under ASan too. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h> /* jpeglib.h needs FILE */
#include <jpeglib.h>
#include <spng.h>
#include <turbojpeg.h>

#include "barcode.h"
#include "check.h"
#include "decode.h"
#include "sb_err.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct image_limits lim_default = {8u << 20, 40000000u, 1600, 0, 0};

struct sample {
	enum sb_format f;
	const char *text;     /* encoded */
	const char *expected; /* decoded */
};

static const struct sample samples[] = {
	{SB_FMT_EAN_13, "4006381333931", "4006381333931"},
	{SB_FMT_EAN_8, "96385074", "96385074"},
	{SB_FMT_UPC_A, "036000291452", "036000291452"},
	{SB_FMT_UPC_E, "01234565", "01234565"},
	{SB_FMT_CODE_128, "scanbridge-128/x", "scanbridge-128/x"},
	{SB_FMT_CODE_39, "SCAN-39 OK", "SCAN-39 OK"},
	{SB_FMT_CODE_93, "SCAN93", "SCAN93"},
	{SB_FMT_ITF, "00012345600012", "00012345600012"},
	{SB_FMT_CODABAR, "A40156B", "40156"},
	{SB_FMT_QR_CODE, "https://pos.example/p#k3Jx9QzA", "https://pos.example/p#k3Jx9QzA"},
	{SB_FMT_DATA_MATRIX, "DM-0042 lot 7", "DM-0042 lot 7"},
	{SB_FMT_PDF_417, "PDF417 scanbridge", "PDF417 scanbridge"},
	{SB_FMT_AZTEC, "Aztec 12345", "Aztec 12345"},
};

/* --- small encoders for building test files in memory ------------------- */

static uint8_t *to_png(const struct gray_image *img, size_t *len)
{
	struct spng_ihdr ihdr = {0};
	int err = 0;
	uint8_t *out = NULL;
	spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
	ihdr.width = (uint32_t)img->width;
	ihdr.height = (uint32_t)img->height;
	ihdr.bit_depth = 8;
	ihdr.color_type = SPNG_COLOR_TYPE_GRAYSCALE;
	spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
	spng_set_ihdr(ctx, &ihdr);
	uint8_t *dense = malloc((size_t)img->width * img->height);
	for (int y = 0; y < img->height; y++)
		memcpy(dense + (size_t)y * img->width, img->px + (size_t)y * img->stride, (size_t)img->width);
	err = spng_encode_image(ctx, dense, (size_t)img->width * img->height, SPNG_FMT_PNG,
				SPNG_ENCODE_FINALIZE);
	if (!err)
		out = spng_get_png_buffer(ctx, len, &err);
	free(dense);
	spng_ctx_free(ctx);
	return err ? NULL : out;
}

static uint8_t *to_jpeg(const struct gray_image *img, int quality, size_t *len)
{
	unsigned char *jpg = NULL;
	unsigned long jlen = 0;
	tjhandle tj = tjInitCompress();
	int rc = tjCompress2(tj, img->px, img->width, img->stride, img->height, TJPF_GRAY, &jpg,
			     &jlen, TJSAMP_GRAY, quality, 0);
	tjDestroy(tj);
	if (rc != 0) {
		tjFree(jpg);
		return NULL;
	}
	/* Copy into malloc'd memory so callers free() both kinds alike. */
	uint8_t *out = malloc(jlen);
	memcpy(out, jpg, jlen);
	tjFree(jpg);
	*len = jlen;
	return out;
}

static int has_code(const struct decode_result *r, int n, enum sb_format f, const char *code)
{
	for (int i = 0; i < n; i++)
		if (r[i].format == f && strcmp(r[i].code, code) == 0)
			return 1;
	return 0;
}

/* --- round trips --------------------------------------------------------- */

static void test_roundtrip_gray(void)
{
	for (size_t i = 0; i < N(samples); i++) {
		struct gray_image img = {0};
		struct decode_result r[DECODE_MAX_RESULTS];
		int n = -1;
		CHECK_EQ_INT(barcode_encode(samples[i].text, samples[i].f, 0, 0, &img), 0);
		if (!img.px)
			continue;
		CHECK(img.width > 0 && img.height > 0 && img.stride >= img.width);
		CHECK_EQ_INT(decode_gray(img.px, img.width, img.height, img.stride, 0, r,
					 DECODE_MAX_RESULTS, &n), 0);
		CHECK_EQ_INT(n, 1);
		if (!has_code(r, n, samples[i].f, samples[i].expected))
			fprintf(stderr, "  round trip %s \"%s\": n=%d first=\"%s\" (%s)\n",
				barcode_format_name(samples[i].f), samples[i].text, n,
				n > 0 ? r[0].code : "", n > 0 ? barcode_format_name(r[0].format) : "");
		CHECK(has_code(r, n, samples[i].f, samples[i].expected));
		gray_image_free(&img);
	}
}

/* Same, at a camera frame's size, through PNG and JPEG files and decode_image. */
static void test_roundtrip_files(void)
{
	for (size_t i = 0; i < N(samples); i++) {
		struct gray_image img = {0};
		struct decode_result r[DECODE_MAX_RESULTS];
		size_t len = 0;
		int n = -1;
		double ms = -1;
		CHECK_EQ_INT(barcode_encode(samples[i].text, samples[i].f, 640, 480, &img), 0);
		CHECK(img.width >= 640 && img.height >= 480);
		uint8_t *png = to_png(&img, &len);
		CHECK(png != NULL);
		CHECK_EQ_INT(decode_image(png, len, &lim_default, 0, r, DECODE_MAX_RESULTS, &n, &ms), 0);
		CHECK(has_code(r, n, samples[i].f, samples[i].expected));
		CHECK(ms >= 0);
		free(png);
		uint8_t *jpg = to_jpeg(&img, 85, &len);
		CHECK(jpg != NULL);
		CHECK_EQ_INT(decode_image(jpg, len, &lim_default, 0, r, DECODE_MAX_RESULTS, &n, NULL), 0);
		CHECK(has_code(r, n, samples[i].f, samples[i].expected));
		free(jpg);
		gray_image_free(&img);
	}
}

static void test_inverted(void)
{
	static const struct sample inv[] = {
		{SB_FMT_QR_CODE, "inverted QR", "inverted QR"},
		{SB_FMT_CODE_128, "INV128", "INV128"},
		{SB_FMT_DATA_MATRIX, "inverted DM", "inverted DM"},
	};
	for (size_t i = 0; i < N(inv); i++) {
		struct gray_image img = {0};
		struct decode_result r[DECODE_MAX_RESULTS];
		int n = -1;
		CHECK_EQ_INT(barcode_encode(inv[i].text, inv[i].f, 400, 300, &img), 0);
		for (size_t k = 0; k < (size_t)img.stride * img.height; k++)
			img.px[k] = (uint8_t)(255 - img.px[k]);
		CHECK_EQ_INT(decode_gray(img.px, img.width, img.height, img.stride, 0, r,
					 DECODE_MAX_RESULTS, &n), 0);
		CHECK(has_code(r, n, inv[i].f, inv[i].expected));
		gray_image_free(&img);
	}
}

static void test_low_contrast(void)
{
	struct gray_image img = {0};
	struct decode_result r[DECODE_MAX_RESULTS];
	int n = -1;
	CHECK_EQ_INT(barcode_encode("4006381333931", SB_FMT_EAN_13, 400, 200, &img), 0);
	for (size_t k = 0; k < (size_t)img.stride * img.height; k++)
		img.px[k] = (uint8_t)(110 + img.px[k] / 16); /* 110..125 */
	CHECK_EQ_INT(decode_gray(img.px, img.width, img.height, img.stride, 0, r, 4, &n), 0);
	CHECK(has_code(r, n, SB_FMT_EAN_13, "4006381333931"));
	gray_image_free(&img);
}

static void test_format_filter_and_stride(void)
{
	struct gray_image img = {0};
	struct decode_result r[2];
	int n = -1;
	CHECK_EQ_INT(barcode_encode("FILTER", SB_FMT_CODE_128, 300, 120, &img), 0);
	/* Asking for QR only: the Code 128 symbol is not reported. */
	CHECK_EQ_INT(decode_gray(img.px, img.width, img.height, img.stride, 1u << SB_FMT_QR_CODE,
				 r, 2, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(decode_gray(img.px, img.width, img.height, img.stride, 1u << SB_FMT_CODE_128,
				 r, 2, &n), 0);
	CHECK(has_code(r, n, SB_FMT_CODE_128, "FILTER"));
	/* A sub-rectangle through a stride wider than the width. */
	int w = img.width - 20;
	CHECK_EQ_INT(decode_gray(img.px + 10, w, img.height, img.stride, 0, r, 2, &n), 0);
	CHECK(has_code(r, n, SB_FMT_CODE_128, "FILTER"));
	/* max = 0: nothing written, not an error. */
	CHECK_EQ_INT(decode_gray(img.px, img.width, img.height, img.stride, 0, NULL, 0, &n), 0);
	CHECK_EQ_INT(n, 0);
	gray_image_free(&img);
}

static void test_decode_bad_geometry(void)
{
	uint8_t px[64] = {0};
	struct decode_result r[1];
	int n = 7;
	CHECK_EQ_INT(decode_gray(NULL, 8, 8, 8, 0, r, 1, &n), SB_EINVAL);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(decode_gray(px, 0, 8, 8, 0, r, 1, &n), SB_EINVAL);
	CHECK_EQ_INT(decode_gray(px, 8, -1, 8, 0, r, 1, &n), SB_EINVAL);
	CHECK_EQ_INT(decode_gray(px, 8, 8, 4, 0, r, 1, &n), SB_EINVAL);
	CHECK_EQ_INT(decode_gray(px, 8, 8, 8, 0, NULL, 1, &n), SB_EINVAL);
	CHECK_EQ_INT(decode_gray(px, 8, 8, 8, 0, r, 1, NULL), SB_EINVAL);
	CHECK_EQ_INT(decode_gray(px, 8, 8, 8, 0, r, -1, &n), SB_EINVAL);
	/* Blank and noise images: nothing found is success with n = 0. */
	CHECK_EQ_INT(decode_gray(px, 8, 8, 8, 0, r, 1, &n), 0);
	CHECK_EQ_INT(n, 0);
	uint8_t *noise = malloc(640 * 480);
	uint32_t s = 12345;
	for (int i = 0; i < 640 * 480; i++) {
		s = s * 1103515245u + 12345u;
		noise[i] = (uint8_t)(s >> 24);
	}
	CHECK_EQ_INT(decode_gray(noise, 640, 480, 640, 0, r, 1, &n), 0);
	CHECK_EQ_INT(n, 0);
	free(noise);
}

static void test_encode_errors(void)
{
	struct gray_image img = {(uint8_t *)1, 1, 1, 1};
	CHECK_EQ_INT(barcode_encode("123", SB_FMT_EAN_13, 0, 0, &img), SB_EINVAL);
	CHECK(img.px == NULL);
	CHECK_EQ_INT(barcode_encode("4006381333932", SB_FMT_EAN_13, 0, 0, &img), SB_EINVAL);
	CHECK_EQ_INT(barcode_encode("12AB5678", SB_FMT_EAN_8, 0, 0, &img), SB_EINVAL);
	CHECK_EQ_INT(barcode_encode("123", SB_FMT_ITF, 0, 0, &img), SB_EINVAL);
	CHECK_EQ_INT(barcode_encode("x", SB_FMT_DATABAR, 0, 0, &img), SB_EINVAL);
	CHECK_EQ_INT(barcode_encode("x", SB_FMT_UNKNOWN, 0, 0, &img), SB_EINVAL);
	CHECK_EQ_INT(barcode_encode("x", SB_FMT_COUNT, 0, 0, &img), SB_EINVAL);
	CHECK_EQ_INT(barcode_encode("", SB_FMT_QR_CODE, 0, 0, &img), SB_EINVAL);
	CHECK_EQ_INT(barcode_encode(NULL, SB_FMT_QR_CODE, 0, 0, &img), SB_EINVAL);
	CHECK_EQ_INT(barcode_encode("x", SB_FMT_QR_CODE, -1, 0, &img), SB_EINVAL);
	CHECK_EQ_INT(barcode_encode("x", SB_FMT_QR_CODE, 0, 0, NULL), SB_EINVAL);
	/* Too long for a QR code: the writer throws, we answer SB_EINVAL. */
	char *big = malloc(8000);
	memset(big, 'A', 7999);
	big[7999] = '\0';
	CHECK_EQ_INT(barcode_encode(big, SB_FMT_QR_CODE, 0, 0, &img), SB_EINVAL);
	free(big);
	gray_image_free(&img);
	gray_image_free(NULL);
}

/* --- image input: valid files ------------------------------------------- */

static void test_load_and_downscale(void)
{
	struct gray_image src = {0}, out = {0};
	size_t len = 0;
	CHECK_EQ_INT(barcode_encode("DOWNSCALE", SB_FMT_QR_CODE, 4000, 3000, &src), 0);
	uint8_t *jpg = to_jpeg(&src, 80, &len);
	CHECK_EQ_INT(image_load_gray(jpg, len, &lim_default, &out), 0);
	CHECK_EQ_INT(out.width, 1600);
	CHECK_EQ_INT(out.height, 1200);
	gray_image_free(&out);
	uint8_t *png = to_png(&src, &len);
	CHECK_EQ_INT(image_load_gray(png, len, &lim_default, &out), 0);
	CHECK_EQ_INT(out.width, 1600);
	CHECK_EQ_INT(out.height, 1200);
	gray_image_free(&out);
	/* max_side 0: full size. */
	struct image_limits full = lim_default;
	full.max_side = 0;
	CHECK_EQ_INT(image_load_gray(png, len, &full, &out), 0);
	CHECK_EQ_INT(out.width, 4000);
	CHECK_EQ_INT(out.height, 3000);
	CHECK_EQ_INT(memcmp(out.px, src.px, (size_t)4000 * 3000), 0);
	gray_image_free(&out);
	/* Pixel limit: 12 MP against 11.99 MP. */
	full.max_pixels = 4000u * 3000u - 1;
	CHECK_EQ_INT(image_load_gray(png, len, &full, &out), SB_ETOOBIG);
	CHECK_EQ_INT(image_load_gray(jpg, len < 10 ? len : 10, &full, &out), SB_EINVAL);
	CHECK(out.px == NULL);
	free(jpg);
	free(png);
	gray_image_free(&src);

	/* Box filter on a known image: 4x2 -> 2x1 means of 2x2 blocks. */
	struct gray_image b = {malloc(8), 4, 2, 4};
	static const uint8_t px[8] = {0, 100, 200, 200, 100, 200, 40, 40};
	memcpy(b.px, px, 8);
	CHECK_EQ_INT(gray_image_downscale(&b, 2), 0);
	CHECK_EQ_INT(b.width, 2);
	CHECK_EQ_INT(b.height, 1);
	CHECK_EQ_INT(b.px[0], 100);
	CHECK_EQ_INT(b.px[1], 120);
	gray_image_free(&b);
}

/* Color, alpha, 16-bit and interlaced PNGs all come out as the same gray. */
static void test_png_variants(void)
{
	static const struct { uint8_t color_type, bit_depth, interlace; } v[] = {
		{SPNG_COLOR_TYPE_TRUECOLOR, 8, 0}, {SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 8, 0},
		{SPNG_COLOR_TYPE_GRAYSCALE, 16, 0}, {SPNG_COLOR_TYPE_GRAYSCALE, 8, 1},
		{SPNG_COLOR_TYPE_TRUECOLOR, 8, 1},
	};
	struct gray_image src = {0};
	CHECK_EQ_INT(barcode_encode("PNG variants", SB_FMT_QR_CODE, 123, 77, &src), 0);
	int w = src.width, h = src.height;
	for (size_t i = 0; i < N(v); i++) {
		int ch = v[i].color_type == SPNG_COLOR_TYPE_TRUECOLOR ? 3
			 : v[i].color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ? 4 : 1;
		int bps = v[i].bit_depth / 8;
		size_t rawlen = (size_t)w * h * ch * bps, len = 0;
		uint8_t *raw = malloc(rawlen);
		for (int k = 0; k < w * h; k++)
			for (int c = 0; c < ch * bps; c++)
				raw[(size_t)k * ch * bps + c] = (ch == 4 && c == 3) ? 255 : src.px[k];
		struct spng_ihdr ihdr = {(uint32_t)w, (uint32_t)h, v[i].bit_depth, v[i].color_type, 0, 0,
					 v[i].interlace};
		spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
		spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
		spng_set_ihdr(ctx, &ihdr);
		int err = spng_encode_image(ctx, raw, rawlen, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
		uint8_t *png = err ? NULL : spng_get_png_buffer(ctx, &len, &err);
		spng_ctx_free(ctx);
		CHECK(png != NULL);
		struct gray_image out = {0};
		CHECK_EQ_INT(image_load_gray(png, len, &lim_default, &out), 0);
		CHECK_EQ_INT(out.width, w);
		CHECK_EQ_INT(out.height, h);
		int diff = 0;
		for (int k = 0; out.px && k < w * h; k++)
			diff += abs((int)out.px[k] - (int)src.px[k]) > 1;
		if (diff)
			fprintf(stderr, "  png variant %zu: %d pixels differ\n", i, diff);
		CHECK_EQ_INT(diff, 0);
		gray_image_free(&out);
		free(png);
		free(raw);
	}
	gray_image_free(&src);
}

/* --- image input: hostile ------------------------------------------------ */

static void test_truncated(void)
{
	struct gray_image src = {0}, out = {0};
	size_t jlen = 0, plen = 0;
	CHECK_EQ_INT(barcode_encode("TRUNC", SB_FMT_QR_CODE, 0, 0, &src), 0);
	uint8_t *jpg = to_jpeg(&src, 75, &jlen);
	uint8_t *png = to_png(&src, &plen);
	CHECK_EQ_INT(image_load_gray(jpg, jlen, &lim_default, &out), 0);
	gray_image_free(&out);
	CHECK_EQ_INT(image_load_gray(png, plen, &lim_default, &out), 0);
	gray_image_free(&out);
	int bad = 0;
	for (size_t l = 0; l < jlen; l++) {
		/* A fresh heap copy of exactly l bytes so ASan sees any over-read. */
		uint8_t *cut = malloc(l ? l : 1);
		memcpy(cut, jpg, l);
		int rc = image_load_gray(cut, l, &lim_default, &out);
		if (rc != SB_EINVAL && bad++ < 5)
			fprintf(stderr, "  jpeg cut at %zu/%zu: %d\n", l, jlen, rc);
		CHECK(out.px == NULL);
		gray_image_free(&out);
		free(cut);
	}
	for (size_t l = 0; l < plen; l++) {
		uint8_t *cut = malloc(l ? l : 1);
		memcpy(cut, png, l);
		int rc = image_load_gray(cut, l, &lim_default, &out);
		if (rc != SB_EINVAL && bad++ < 10)
			fprintf(stderr, "  png cut at %zu/%zu: %d\n", l, plen, rc);
		CHECK(out.px == NULL);
		gray_image_free(&out);
		free(cut);
	}
	CHECK_EQ_INT(bad, 0);
	free(jpg);
	free(png);
	gray_image_free(&src);
}

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Headers that claim huge images: refused by the header, never allocated
 * (ASan's allocator would fail loudly on a 10 GB request). */
static void test_huge_dimensions(void)
{
	struct gray_image src = {0}, out = {0};
	size_t jlen = 0, plen = 0;
	CHECK_EQ_INT(barcode_encode("HUGE", SB_FMT_QR_CODE, 0, 0, &src), 0);
	uint8_t *png = to_png(&src, &plen);
	/* PNG: IHDR is at offset 8 (length, "IHDR", w, h, ...), CRC over type+data. */
	put32(png + 16, 100000);
	put32(png + 20, 100000);
	put32(png + 29, crc32_png(png + 12, 17));
	CHECK_EQ_INT(image_load_gray(png, plen, &lim_default, &out), SB_ETOOBIG);
	CHECK(out.px == NULL);
	/* One side huge, the other 1: still over the pixel budget. */
	put32(png + 16, 100000000);
	put32(png + 20, 1);
	put32(png + 29, crc32_png(png + 12, 17));
	CHECK_EQ_INT(image_load_gray(png, plen, &lim_default, &out), SB_ETOOBIG);
	/* Beyond PNG's own limit (2^31 - 1). */
	put32(png + 16, 0xffffffffu);
	put32(png + 20, 0xffffffffu);
	put32(png + 29, crc32_png(png + 12, 17));
	int rc = image_load_gray(png, plen, &lim_default, &out);
	CHECK(rc == SB_ETOOBIG || rc == SB_EINVAL);
	/* Bad CRC on IHDR: corrupt. */
	put32(png + 16, 100);
	put32(png + 20, 100);
	CHECK_EQ_INT(image_load_gray(png, plen, &lim_default, &out), SB_EINVAL);
	free(png);

	/* JPEG: patch the SOF0 frame header's height and width (16 bits each;
	 * libjpeg refuses sides over 65500 itself, as corrupt). 65500 x 65500 is
	 * 4.3 gigapixels. */
	uint8_t *jpg = to_jpeg(&src, 75, &jlen);
	size_t sof = 0;
	for (size_t i = 2; i + 9 < jlen; i++)
		if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) {
			sof = i;
			break;
		}
	CHECK(sof != 0);
	jpg[sof + 5] = jpg[sof + 7] = 65500 >> 8;
	jpg[sof + 6] = jpg[sof + 8] = 65500 & 0xff;
	CHECK_EQ_INT(image_load_gray(jpg, jlen, &lim_default, &out), SB_ETOOBIG);
	CHECK(out.px == NULL);
	jpg[sof + 5] = jpg[sof + 6] = jpg[sof + 7] = jpg[sof + 8] = 0xff;
	CHECK_EQ_INT(image_load_gray(jpg, jlen, &lim_default, &out), SB_EINVAL);
	/* 8000 x 6000 = 48 MP > 40 MP. */
	jpg[sof + 5] = 6000 >> 8;
	jpg[sof + 6] = 6000 & 0xff;
	jpg[sof + 7] = 8000 >> 8;
	jpg[sof + 8] = 8000 & 0xff;
	CHECK_EQ_INT(image_load_gray(jpg, jlen, &lim_default, &out), SB_ETOOBIG);
	/* 6000 x 6000 = 36 MP: within the limit, but the data is for a tiny image. */
	jpg[sof + 7] = 6000 >> 8;
	jpg[sof + 8] = 6000 & 0xff;
	CHECK_EQ_INT(image_load_gray(jpg, jlen, &lim_default, &out), SB_EINVAL);
	CHECK(out.px == NULL);
	/* Zero width. */
	jpg[sof + 7] = jpg[sof + 8] = 0;
	CHECK_EQ_INT(image_load_gray(jpg, jlen, &lim_default, &out), SB_EINVAL);
	free(jpg);
	gray_image_free(&src);
}

static void test_not_images(void)
{
	static const char *const bad[] = {
		"hello, world", "GIF89a\x01\x00\x01\x00", "%PDF-1.7\n", "BM\x36\x00\x00\x00",
		"RIFF\x24\x00\x00\x00WEBPVP8 ", "P5\n1 1\n255\n\x80", "{\"type\":\"scan\"}",
		"\x89PNX\r\n\x1a\n", "\xff\xd9\xff",
	};
	struct gray_image out = {0};
	for (size_t i = 0; i < N(bad); i++) {
		CHECK_EQ_INT(image_load_gray((const uint8_t *)bad[i], strlen(bad[i]), &lim_default, &out),
			     SB_EPROTO);
		CHECK(out.px == NULL);
	}
	/* Zero bytes, NULL buffer, NULL limits. */
	CHECK_EQ_INT(image_load_gray((const uint8_t *)"", 0, &lim_default, &out), SB_EINVAL);
	CHECK_EQ_INT(image_load_gray(NULL, 10, &lim_default, &out), SB_EINVAL);
	CHECK_EQ_INT(image_load_gray((const uint8_t *)"\xff\xd8\xff", 3, NULL, &out), SB_EINVAL);
	CHECK_EQ_INT(image_load_gray((const uint8_t *)"\xff\xd8\xff", 3, &lim_default, NULL), SB_EINVAL);
	/* Bare magic: a JPEG / PNG with nothing after the signature. */
	CHECK_EQ_INT(image_load_gray((const uint8_t *)"\xff\xd8\xff", 3, &lim_default, &out), SB_EINVAL);
	CHECK_EQ_INT(image_load_gray((const uint8_t *)"\x89PNG\r\n\x1a\n", 8, &lim_default, &out),
		     SB_EINVAL);
	int n = 5;
	double ms = -1;
	struct decode_result r[1];
	CHECK_EQ_INT(decode_image((const uint8_t *)"nope", 4, &lim_default, 0, r, 1, &n, &ms), SB_EPROTO);
	CHECK_EQ_INT(n, 0);
	CHECK(ms >= 0);
}

static void test_garbage_20mb(void)
{
	const size_t len = 20u << 20;
	uint8_t *g = malloc(len);
	struct gray_image out = {0};
	uint32_t s = 0xdecafbad;
	for (size_t i = 0; i < len; i++) {
		s ^= s << 13;
		s ^= s >> 17;
		s ^= s << 5;
		g[i] = (uint8_t)s;
	}
	g[0] = 'G'; /* not a magic by chance */
	/* Over max_image_bytes (8 MiB): refused by size alone. */
	CHECK_EQ_INT(image_load_gray(g, len, &lim_default, &out), SB_ETOOBIG);
	struct image_limits roomy = lim_default;
	roomy.max_bytes = 32u << 20;
	CHECK_EQ_INT(image_load_gray(g, len, &roomy, &out), SB_EPROTO);
	/* Garbage behind a JPEG or a PNG signature: corrupt. */
	memcpy(g, "\xff\xd8\xff", 3);
	CHECK_EQ_INT(image_load_gray(g, len, &roomy, &out), SB_EINVAL);
	CHECK(out.px == NULL);
	memcpy(g, "\x89PNG\r\n\x1a\n", 8);
	CHECK_EQ_INT(image_load_gray(g, len, &roomy, &out), SB_EINVAL);
	CHECK(out.px == NULL);
	free(g);
}

/* Single-bit flips through a small JPEG and PNG: any answer but a crash. */
static void test_bit_flips(void)
{
	struct gray_image src = {0}, out = {0};
	size_t jlen = 0, plen = 0;
	CHECK_EQ_INT(barcode_encode("FLIP", SB_FMT_QR_CODE, 0, 0, &src), 0);
	uint8_t *files[2] = {to_jpeg(&src, 75, &jlen), to_png(&src, &plen)};
	size_t lens[2] = {jlen, plen};
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < lens[f]; i++) {
			uint8_t *m = malloc(lens[f]);
			memcpy(m, files[f], lens[f]);
			m[i] ^= (uint8_t)(1u << (i % 8));
			int rc = image_load_gray(m, lens[f], &lim_default, &out);
			CHECK(rc == 0 || rc == SB_EINVAL || rc == SB_ETOOBIG || rc == SB_EPROTO);
			CHECK((rc == 0) == (out.px != NULL));
			gray_image_free(&out);
			free(m);
		}
	free(files[0]);
	free(files[1]);
	gray_image_free(&src);
}

/* --- image bombs: limits per side, memory budget, scans ------------------ */

/* A gray PNG of w x h, every pixel v, as a libspng-encoded file (interlaced
 * when asked). */
static uint8_t *flat_png(int w, int h, uint8_t v, int interlace, size_t *len)
{
	struct gray_image img = {malloc((size_t)w * h), w, h, w};
	memset(img.px, v, (size_t)w * h);
	uint8_t *out = NULL;
	int err = 0;
	spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
	struct spng_ihdr ihdr = {(uint32_t)w, (uint32_t)h, 8, SPNG_COLOR_TYPE_GRAYSCALE, 0, 0,
				 (uint8_t)interlace};
	spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
	spng_set_ihdr(ctx, &ihdr);
	err = spng_encode_image(ctx, img.px, (size_t)w * h, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
	if (!err)
		out = spng_get_png_buffer(ctx, len, &err);
	spng_ctx_free(ctx);
	gray_image_free(&img);
	return err ? NULL : out;
}

/* A progressive gray JPEG of img through libjpeg, with its default
 * progression (nscans 0) or one of 1 + 63 x 4 scans (every AC coefficient
 * alone, in four successive-approximation steps). */
static uint8_t *progressive_jpeg(const struct gray_image *img, int many_scans, size_t *len)
{
	static jpeg_scan_info script[1 + 63 * 4];
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr jerr;
	unsigned char *buf = NULL;
	unsigned long blen = 0;
	int n = 0;
	script[n++] = (jpeg_scan_info){1, {0}, 0, 0, 0, 0};
	for (int k = 1; k < 64; k++)
		for (int a = 3; a >= 0; a--)
			script[n++] = (jpeg_scan_info){1, {0}, k, k, a == 3 ? 0 : a + 1, a};
	c.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &buf, &blen);
	c.image_width = (JDIMENSION)img->width;
	c.image_height = (JDIMENSION)img->height;
	c.input_components = 1;
	c.in_color_space = JCS_GRAYSCALE;
	jpeg_set_defaults(&c);
	jpeg_simple_progression(&c);
	if (many_scans) {
		c.scan_info = script;
		c.num_scans = n;
	}
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = img->px + (size_t)c.next_scanline * img->stride;
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	uint8_t *out = malloc(blen);
	memcpy(out, buf, blen);
	free(buf);
	*len = blen;
	return out;
}

/* Width and height are capped each (max_image_side), not only their product:
 * 40,000,000 x 1 is 40 MP but would need 40 MB rows. */
static void test_side_limits(void)
{
	struct gray_image out = {0};
	size_t len = 0;
	uint8_t *png = flat_png(16, 16, 200, 0, &len);
	static const uint32_t dims[][2] = {{40000000, 1}, {1, 40000000}, {10001, 1}, {1, 10001}};
	for (size_t i = 0; i < N(dims); i++) {
		put32(png + 16, dims[i][0]);
		put32(png + 20, dims[i][1]);
		put32(png + 29, crc32_png(png + 12, 17));
		CHECK_EQ_INT(image_load_gray(png, len, &lim_default, &out), SB_ETOOBIG);
		CHECK(out.px == NULL);
	}
	free(png);
	/* The cap itself is allowed; a lower configured cap refuses. */
	png = flat_png(10000, 3, 90, 0, &len);
	CHECK_EQ_INT(image_load_gray(png, len, &lim_default, &out), 0);
	CHECK_EQ_INT(out.width, 1600);
	CHECK_EQ_INT(out.height, 1); /* 3 * 1600 / 10000 rounded down, at least 1 */
	CHECK_EQ_INT(out.px[0], 90);
	gray_image_free(&out);
	struct image_limits narrow = lim_default;
	narrow.max_image_side = 9999;
	CHECK_EQ_INT(image_load_gray(png, len, &narrow, &out), SB_ETOOBIG);
	free(png);
	/* JPEG: the same caps from the SOF. */
	struct gray_image src = {malloc(10001 * 8), 10001, 8, 10001};
	memset(src.px, 128, 10001 * 8);
	uint8_t *jpg = to_jpeg(&src, 75, &len);
	CHECK_EQ_INT(image_load_gray(jpg, len, &lim_default, &out), SB_ETOOBIG);
	narrow.max_image_side = 10001;
	CHECK_EQ_INT(image_load_gray(jpg, len, &narrow, &out), 0);
	gray_image_free(&out);
	free(jpg);
	gray_image_free(&src);
}

/* Rows are downscaled as they are decoded: the result must be the very
 * pixels gray_image_downscale gives from the full image, for plain and
 * Adam7-interlaced PNGs and for JPEGs. */
static void test_streamed_downscale_matches(void)
{
	struct gray_image src = {0}, ref = {0}, out = {0};
	CHECK_EQ_INT(barcode_encode("stream", SB_FMT_QR_CODE, 3001, 1999, &src), 0);
	/* some texture, so a wrong box shows */
	for (int y = 0; y < src.height; y++)
		for (int x = 0; x < src.width; x++)
			src.px[(size_t)y * src.stride + x] ^= (uint8_t)((x * 7 + y * 13) & 31);
	ref = (struct gray_image){malloc((size_t)src.width * src.height), src.width, src.height,
				  src.width};
	for (int y = 0; y < src.height; y++)
		memcpy(ref.px + (size_t)y * ref.width, src.px + (size_t)y * src.stride,
		       (size_t)src.width);
	CHECK_EQ_INT(gray_image_downscale(&ref, 1600), 0);
	for (int interlace = 0; interlace < 2; interlace++) {
		struct spng_ihdr ihdr = {(uint32_t)src.width, (uint32_t)src.height, 8,
					 SPNG_COLOR_TYPE_GRAYSCALE, 0, 0, (uint8_t)interlace};
		size_t len = 0;
		int err = 0;
		spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
		spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
		spng_set_ihdr(ctx, &ihdr);
		CHECK_EQ_INT(spng_encode_image(ctx, src.px, (size_t)src.stride * src.height,
					       SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE), 0);
		uint8_t *png = spng_get_png_buffer(ctx, &len, &err);
		spng_ctx_free(ctx);
		CHECK_EQ_INT(image_load_gray(png, len, &lim_default, &out), 0);
		CHECK_EQ_INT(out.width, ref.width);
		CHECK_EQ_INT(out.height, ref.height);
		CHECK(out.px && memcmp(out.px, ref.px, (size_t)ref.width * ref.height) == 0);
		gray_image_free(&out);
		free(png);
	}
	gray_image_free(&ref);
	gray_image_free(&src);
}

/* A progressive JPEG keeps every coefficient (2 bytes per pixel for gray):
 * refused when that is over max_work_bytes, decoded when under; and one of
 * over 100 scans is refused, however small. */
static void test_jpeg_budget_and_scans(void)
{
	struct gray_image src = {0}, out = {0}, base = {0};
	size_t plen = 0, blen = 0, mlen = 0;
	CHECK_EQ_INT(barcode_encode("4006381333931", SB_FMT_EAN_13, 1200, 900, &src), 0);
	uint8_t *prog = progressive_jpeg(&src, 0, &plen);
	uint8_t *baseline = to_jpeg(&src, 75, &blen);
	struct image_limits tight = lim_default;
	tight.max_work_bytes = (size_t)src.width * src.height * 2; /* < coefficients + rows */
	CHECK_EQ_INT(image_load_gray(prog, plen, &tight, &out), SB_ETOOBIG);
	CHECK(out.px == NULL);
	/* a baseline JPEG needs rows only: fine under the same budget */
	CHECK_EQ_INT(image_load_gray(baseline, blen, &tight, &base), 0);
	gray_image_free(&base);
	CHECK_EQ_INT(image_load_gray(prog, plen, &lim_default, &out), 0);
	CHECK_EQ_INT(out.width, src.width);
	struct decode_result r[DECODE_MAX_RESULTS];
	int n = 0;
	CHECK_EQ_INT(decode_gray(out.px, out.width, out.height, out.stride, 0, r, DECODE_MAX_RESULTS,
				 &n), 0);
	CHECK(has_code(r, n, SB_FMT_EAN_13, "4006381333931"));
	gray_image_free(&out);
	uint8_t *many = progressive_jpeg(&src, 1, &mlen);
	CHECK_EQ_INT(image_load_gray(many, mlen, &lim_default, &out), SB_ETOOBIG);
	CHECK(out.px == NULL);
	free(many);
	free(prog);
	free(baseline);
	gray_image_free(&src);
}

/* A 16-bit RGBA PNG as wide as allowed (10000 px): decoded within the default
 * budget; a budget under its header estimate refuses it. */
static void test_png_budget(void)
{
	const int w = 10000, h = 400;
	struct spng_ihdr ihdr = {(uint32_t)w, (uint32_t)h, 16, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 0,
				 0, 0};
	size_t rawlen = (size_t)w * h * 8, len = 0;
	uint8_t *raw = calloc(1, rawlen);
	int err = 0;
	for (size_t i = 0; i < rawlen; i += 8)
		raw[i + 6] = raw[i + 7] = 0xff; /* opaque black */
	spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
	spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
	spng_set_ihdr(ctx, &ihdr);
	CHECK_EQ_INT(spng_encode_image(ctx, raw, rawlen, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE), 0);
	uint8_t *png = spng_get_png_buffer(ctx, &len, &err);
	spng_ctx_free(ctx);
	free(raw);
	struct gray_image out = {0};
	CHECK_EQ_INT(image_load_gray(png, len, &lim_default, &out), 0);
	CHECK_EQ_INT(out.width, 1600);
	CHECK_EQ_INT(out.height, 64);
	CHECK(out.px && out.px[0] == 0 && out.px[1600 * 64 - 1] == 0);
	gray_image_free(&out);
	struct image_limits tight = lim_default;
	/* rows 2 x 80 kB + 90 kB, zlib 64 KiB, chunk cache 1 MiB, output 100 kB */
	tight.max_work_bytes = 5u << 18;
	CHECK_EQ_INT(image_load_gray(png, len, &tight, &out), SB_ETOOBIG);
	free(png);
}

/* glibc's assert() failure entry (declared by <assert.h> only without NDEBUG). */
extern void __assert_fail(const char *expr, const char *file, unsigned int line, const char *func)
	__attribute__((__noreturn__));

/* The net for ZXing's assert() (decode.cpp): caught inside ZXing; anywhere
 * else a failed assertion still aborts the process, as glibc's would. */
static void test_assert_net(void)
{
	CHECK_EQ_INT(decode__assert_net_selftest(), 0);
	CHECK_EQ_INT(decode_zxing_asserts(), 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2); /* keep the expected message out of the test log */
		__assert_fail("outside ZXing", __FILE__, __LINE__, __func__);
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

TEST_MAIN(TEST(test_assert_net), TEST(test_roundtrip_gray), TEST(test_roundtrip_files), TEST(test_inverted),
	  TEST(test_low_contrast), TEST(test_format_filter_and_stride), TEST(test_decode_bad_geometry),
	  TEST(test_encode_errors), TEST(test_load_and_downscale), TEST(test_png_variants),
	  TEST(test_truncated), TEST(test_huge_dimensions), TEST(test_not_images),
	  TEST(test_garbage_20mb), TEST(test_bit_flips), TEST(test_side_limits),
	  TEST(test_streamed_downscale_matches), TEST(test_jpeg_budget_and_scans),
	  TEST(test_png_budget))
