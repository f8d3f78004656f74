/* SPDX-License-Identifier: MIT */
/* Image input for the decoder: a whole JPEG or PNG upload in memory → 8-bit
 * gray, bounded before any pixel buffer is allocated, downscaled to the size
 * that decodes best. This is the attack surface of POST /decode and binary WS
 * frames, and the entry a fuzzer calls (image_load_gray).
 *
 * Why these libraries: uploads are hostile input. libjpeg-turbo (TurboJPEG
 * API) is the most fuzzed JPEG decoder there is (OSS-Fuzz, every browser), its
 * header call gives the dimensions before we allocate, its scaled IDCT decodes
 * a 12 MP photo at 1/2 or 1/4 size for a fraction of the cost, and
 * TJFLAG_LIMITSCANS refuses progressive files built to burn CPU with thousands
 * of scans. libspng was written for hostile input (fuzzed in OSS-Fuzz, explicit
 * image and chunk-size limits, CRC checked, no setjmp/longjmp error handling
 * like libpng) and decodes row by row, so a PNG costs one gray buffer plus one
 * row. stb_image, the other candidate, is not hardened for untrusted input. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spng.h>
#include <turbojpeg.h>

#include "decode.h"
#include "sb_err.h"

static const uint8_t jpeg_magic[] = {0xff, 0xd8, 0xff};
static const uint8_t png_magic[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const uint8_t png_iend[] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};

/* 1 when buf starts with magic, 0 when it differs, -1 when buf is a strict
 * prefix of magic (a truncated file of that type). */
static int magic_match(const uint8_t *buf, size_t len, const uint8_t *magic, size_t mlen)
{
	size_t n = len < mlen ? len : mlen;
	if (memcmp(buf, magic, n) != 0)
		return 0;
	return len < mlen ? -1 : 1;
}

static int alloc_gray(struct gray_image *img, int w, int h)
{
	img->px = malloc((size_t)w * (size_t)h);
	if (!img->px)
		return SB_ENOMEM;
	img->width = w;
	img->height = h;
	img->stride = w;
	return 0;
}

int gray_image_downscale(struct gray_image *img, int max_side)
{
	int w = img->width, h = img->height, longest = w > h ? w : h;
	uint32_t *colsum = NULL;
	uint8_t *dst = NULL;
	if (max_side <= 0 || longest <= max_side)
		return 0;
	int nw = (int)((int64_t)w * max_side / longest), nh = (int)((int64_t)h * max_side / longest);
	nw = nw < 1 ? 1 : nw;
	nh = nh < 1 ? 1 : nh;
	colsum = malloc((size_t)w * sizeof(*colsum));
	dst = malloc((size_t)nw * (size_t)nh);
	if (!colsum || !dst) {
		free(colsum);
		free(dst);
		return SB_ENOMEM;
	}
	/* Box filter: each output pixel is the mean of the source pixels it covers
	 * (columns [x0,x1) x rows [y0,y1), the split rounded down). */
	for (int j = 0; j < nh; j++) {
		int y0 = (int)((int64_t)j * h / nh), y1 = (int)((int64_t)(j + 1) * h / nh);
		memset(colsum, 0, (size_t)w * sizeof(*colsum));
		for (int y = y0; y < y1; y++) {
			const uint8_t *row = img->px + (size_t)y * img->stride;
			for (int x = 0; x < w; x++)
				colsum[x] += row[x];
		}
		for (int i = 0; i < nw; i++) {
			int x0 = (int)((int64_t)i * w / nw), x1 = (int)((int64_t)(i + 1) * w / nw);
			uint64_t sum = 0;
			for (int x = x0; x < x1; x++)
				sum += colsum[x];
			uint64_t area = (uint64_t)(x1 - x0) * (uint64_t)(y1 - y0);
			dst[(size_t)j * nw + i] = (uint8_t)((sum + area / 2) / area);
		}
	}
	free(colsum);
	free(img->px);
	img->px = dst;
	img->width = nw;
	img->height = nh;
	img->stride = nw;
	return 0;
}

/* The smallest IDCT scaling factor (<= 1) that keeps the longest side at or
 * above max_side, so the box filter finishes the job from a sharp image. */
static tjscalingfactor jpeg_pick_scale(int w, int h, int max_side)
{
	tjscalingfactor best = {1, 1};
	int count = 0, longest = w > h ? w : h;
	tjscalingfactor *sf = tjGetScalingFactors(&count);
	if (!sf || max_side <= 0 || longest <= max_side)
		return best;
	for (int i = 0; i < count; i++) {
		if (sf[i].num > sf[i].denom)
			continue;
		int scaled = TJSCALED(longest, sf[i]);
		if (scaled >= max_side && scaled < TJSCALED(longest, best))
			best = sf[i];
	}
	return best;
}

static int load_jpeg(const uint8_t *buf, size_t len, const struct image_limits *lim,
		     struct gray_image *out)
{
	int rc = SB_EINVAL, w = 0, h = 0, subsamp = 0, colorspace = 0;
	tjhandle tj = tjInitDecompress();
	if (!tj)
		return SB_ENOMEM;
	if (len > (unsigned long)-1 ||
	    tjDecompressHeader3(tj, buf, (unsigned long)len, &w, &h, &subsamp, &colorspace) != 0)
		goto bad;
	if (w <= 0 || h <= 0)
		goto bad;
	if ((uint64_t)w * (uint64_t)h > lim->max_pixels) {
		rc = SB_ETOOBIG;
		goto bad;
	}
	tjscalingfactor sf = jpeg_pick_scale(w, h, lim->max_side);
	int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
	if ((rc = alloc_gray(out, sw, sh)) != 0)
		goto bad;
	/* Any warning (a truncated file, corrupt data) stops the decode: a
	 * half-grey frame is not worth decoding, and an error is quicker. */
	if (tjDecompress2(tj, buf, (unsigned long)len, out->px, sw, sw, sh, TJPF_GRAY,
			  TJFLAG_LIMITSCANS | TJFLAG_STOPONWARNING) != 0) {
		rc = SB_EINVAL;
		goto bad;
	}
	tjDestroy(tj);
	return 0;
bad:
	gray_image_free(out);
	tjDestroy(tj);
	return rc;
}

static int spng_to_sb(int err)
{
	switch (err) {
	case SPNG_EWIDTH: case SPNG_EHEIGHT: case SPNG_EUSER_WIDTH: case SPNG_EUSER_HEIGHT:
	case SPNG_EOVERFLOW: case SPNG_ECHUNK_LIMITS:
		return SB_ETOOBIG;
	case SPNG_EMEM:
		return SB_ENOMEM;
	default:
		return SB_EINVAL;
	}
}

/* One decoded RGBA8 row (or the Adam7 pass's pixels of it) into gray, alpha
 * laid over white as a browser would show it. */
static void png_row_to_gray(const uint8_t *rgba, uint8_t *gray, int w, int x0, int dx)
{
	for (int x = x0; x < w; x += dx) {
		const uint8_t *p = rgba + (size_t)x * 4;
		unsigned y = (306u * p[0] + 601u * p[1] + 117u * p[2] + 512u) >> 10;
		gray[x] = (uint8_t)((y * p[3] + 255u * (255u - p[3]) + 127u) / 255u);
	}
}

static int load_png(const uint8_t *buf, size_t len, const struct image_limits *lim,
		    struct gray_image *out)
{
	static const int adam7_x0[7] = {0, 4, 0, 2, 0, 1, 0}, adam7_dx[7] = {8, 8, 4, 4, 2, 2, 1};
	struct spng_ihdr ihdr;
	struct spng_row_info ri;
	uint8_t *row = NULL;
	int rc, err;
	uint32_t side_limit = lim->max_pixels > 0x7fffffffu ? 0x7fffffffu : (uint32_t)lim->max_pixels;
	/* No chunk can be larger than the file; ancillary chunks kept in memory
	 * (the cache) are bounded by the same figure (libspng wants cache >= chunk). */
	size_t chunk_limit = lim->max_bytes > 0 && lim->max_bytes < 0x7fffffffu ? lim->max_bytes
									 : 0x7fffffffu;
	spng_ctx *ctx = spng_ctx_new(0);
	if (!ctx)
		return SB_ENOMEM;
	if ((err = spng_set_image_limits(ctx, side_limit, side_limit)) != 0 ||
	    (err = spng_set_chunk_limits(ctx, chunk_limit, chunk_limit)) != 0 ||
	    (err = spng_set_png_buffer(ctx, buf, len)) != 0 ||
	    (err = spng_get_ihdr(ctx, &ihdr)) != 0) {
		rc = spng_to_sb(err);
		goto bad;
	}
	if ((uint64_t)ihdr.width * ihdr.height > lim->max_pixels || ihdr.width > 0x7fffffffu / 4) {
		rc = SB_ETOOBIG;
		goto bad;
	}
	if ((rc = alloc_gray(out, (int)ihdr.width, (int)ihdr.height)) != 0)
		goto bad;
	row = malloc((size_t)ihdr.width * 4);
	if (!row) {
		rc = SB_ENOMEM;
		goto bad;
	}
	if ((err = spng_decode_image(ctx, NULL, 0, SPNG_FMT_RGBA8,
				     SPNG_DECODE_PROGRESSIVE | SPNG_DECODE_TRNS)) != 0) {
		rc = spng_to_sb(err);
		goto bad;
	}
	do {
		if ((err = spng_get_row_info(ctx, &ri)) != 0)
			break;
		err = spng_decode_row(ctx, row, (size_t)ihdr.width * 4);
		if (err != 0 && err != SPNG_EOI)
			break;
		int pass = ihdr.interlace_method ? ri.pass : 6; /* 6: every pixel */
		if (pass < 0 || pass > 6 || ri.row_num >= ihdr.height) {
			err = SPNG_EINTERNAL;
			break;
		}
		png_row_to_gray(row, out->px + (size_t)ri.row_num * out->stride, out->width,
				adam7_x0[pass], adam7_dx[pass]);
	} while (err == 0);
	/* Read on to IEND: a file cut after its last row is still truncated.
	 * libspng does not insist on IEND's CRC, so look for the whole chunk. */
	if (err != SPNG_EOI || (err = spng_decode_chunks(ctx)) != 0) {
		rc = spng_to_sb(err);
		goto bad;
	}
	if (!memmem(buf, len, png_iend, sizeof(png_iend))) {
		rc = SB_EINVAL;
		goto bad;
	}
	free(row);
	spng_ctx_free(ctx);
	return 0;
bad:
	free(row);
	gray_image_free(out);
	spng_ctx_free(ctx);
	return rc;
}

int image_load_gray(const uint8_t *buf, size_t len, const struct image_limits *lim,
		    struct gray_image *out)
{
	int rc, mj, mp;
	if (!out)
		return SB_EINVAL;
	out->px = NULL;
	out->width = out->height = out->stride = 0;
	if (!buf || len == 0 || !lim)
		return SB_EINVAL;
	if (lim->max_bytes > 0 && len > lim->max_bytes)
		return SB_ETOOBIG;
	mj = magic_match(buf, len, jpeg_magic, sizeof(jpeg_magic));
	mp = magic_match(buf, len, png_magic, sizeof(png_magic));
	if (mj == 1)
		rc = load_jpeg(buf, len, lim, out);
	else if (mp == 1)
		rc = load_png(buf, len, lim, out);
	else if (mj < 0 || mp < 0)
		return SB_EINVAL; /* the first bytes of a JPEG or PNG, cut short */
	else
		return SB_EPROTO;
	if (rc == 0 && (rc = gray_image_downscale(out, lim->max_side)) != 0)
		gray_image_free(out);
	return rc;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int decode_image(const uint8_t *buf, size_t len, const struct image_limits *lim,
		 unsigned formats_mask, struct decode_result *out, int max, int *n, double *ms)
{
	struct gray_image img = {0};
	double t0 = now_ms();
	int rc;
	if (n)
		*n = 0;
	if (!n)
		return SB_EINVAL;
	rc = image_load_gray(buf, len, lim, &img);
	if (rc == 0)
		rc = decode_gray(img.px, img.width, img.height, img.stride, formats_mask, out, max, n);
	gray_image_free(&img);
	if (ms)
		*ms = now_ms() - t0;
	return rc;
}
