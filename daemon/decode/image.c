/* SPDX-License-Identifier: MIT */
/* Image input for the decoder: a whole JPEG or PNG upload in memory → 8-bit
 * gray, bounded before any pixel buffer is allocated, downscaled to the size
 * that decodes best. This is the attack surface of POST /decode and binary WS
 * frames, and the entry a fuzzer calls (image_load_gray).
 *
 * Why these libraries: uploads are hostile input. libjpeg-turbo is the most
 * fuzzed JPEG decoder there is (OSS-Fuzz, every browser); through its libjpeg
 * API we get the header (dimensions, progressive or not) before anything is
 * allocated, a cap on its own memory (max_memory_to_use: a progressive file
 * keeps every DCT coefficient of the image), a scan counter to refuse files
 * built to burn CPU with hundreds of scans, the scaled IDCT (a 12 MP photo
 * decoded at 1/2 or 1/4 size) and the rows one at a time. libspng was written
 * for hostile input (fuzzed in OSS-Fuzz, explicit image and chunk-size limits,
 * CRC checked, no setjmp/longjmp error handling like libpng) and decodes row
 * by row. stb_image, the other candidate, is not hardened for untrusted input.
 *
 * Memory is bounded by design (docs/security.md, "Memory per image"): each
 * side is capped (max_image_side) as well as the area, the decoders' row and
 * coefficient buffers are computed from the header and refused above
 * max_work_bytes, and rows are box-filtered into the downscaled output as
 * they arrive, so no full-size image is ever held. */
#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jerror.h>
#include <jpeglib.h>
#include <spng.h>

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

/* ---- row-at-a-time downscaling ---- */

/* The output size for a w x h image: longest side max_side, aspect kept (the
 * same arithmetic as gray_image_downscale, so both give the same pixels). */
static void fit_size(int w, int h, int max_side, int *nw, int *nh)
{
	int longest = w > h ? w : h;
	*nw = w;
	*nh = h;
	if (max_side <= 0 || longest <= max_side)
		return;
	*nw = (int)((int64_t)w * max_side / longest);
	*nh = (int)((int64_t)h * max_side / longest);
	*nw = *nw < 1 ? 1 : *nw;
	*nh = *nh < 1 ? 1 : *nh;
}

/* A box filter fed one source row (or one Adam7 pass's pixels of a row) at a
 * time. Each output pixel is the mean of the source pixels in its box
 * (columns [i*w/nw, (i+1)*w/nw), rows likewise), as in gray_image_downscale.
 * When rows come in order (JPEG, plain PNG) it sums one output row at a time
 * and writes it out when its last source row is in; an interlaced PNG's rows
 * come pass by pass, so then it keeps one sum per output pixel. An image that
 * already fits is copied straight into the output. */
struct shrink {
	int w, h, nw, nh;
	uint8_t *out;   /* nw*nh bytes, the result; NULL while sum holds every pixel */
	uint32_t *sum;  /* downscaling: one row of sums (in order) or nw*nh (Adam7) */
	int *xmap;      /* downscaling: the output column of each source column */
	int in_order;
};

static int fits(const struct shrink *s)
{
	return s->nw == s->w && s->nh == s->h;
}

/* The bytes shrink_init allocates for a w x h source. */
static uint64_t shrink_bytes(int w, int h, int max_side, int in_order)
{
	int nw, nh;
	uint64_t out;
	fit_size(w, h, max_side, &nw, &nh);
	out = (uint64_t)nw * (uint64_t)nh;
	if (nw == w && nh == h)
		return out;
	return (in_order ? out + (uint64_t)nw * 4 : out * 4) + (uint64_t)w * sizeof(int);
}

static int shrink_init(struct shrink *s, int w, int h, int max_side, int in_order)
{
	memset(s, 0, sizeof(*s));
	s->w = w;
	s->h = h;
	s->in_order = in_order;
	fit_size(w, h, max_side, &s->nw, &s->nh);
	size_t out = (size_t)s->nw * (size_t)s->nh;
	if (fits(s)) {
		s->out = malloc(out);
		return s->out ? 0 : SB_ENOMEM;
	}
	if (in_order)
		s->out = malloc(out);
	s->sum = calloc(in_order ? (size_t)s->nw : out, sizeof(*s->sum));
	s->xmap = malloc((size_t)w * sizeof(*s->xmap));
	if ((in_order && !s->out) || !s->sum || !s->xmap)
		return SB_ENOMEM;
	/* x is in box i when i*w/nw <= x < (i+1)*w/nw, i.e. i = ((x+1)*nw-1)/w */
	for (int x = 0; x < w; x++)
		s->xmap[x] = (int)(((int64_t)(x + 1) * s->nw - 1) / w);
	return 0;
}

/* Means of output row j from its sums, into dst (the same memory as sums
 * when converting in place: byte i is written after sum i, which starts at
 * byte 4i, has been read). */
static void shrink_emit(const struct shrink *s, int j, const uint32_t *sums, uint8_t *dst)
{
	int64_t rows = (int64_t)(j + 1) * s->h / s->nh - (int64_t)j * s->h / s->nh;
	for (int i = 0; i < s->nw; i++) {
		int64_t cols = (int64_t)(i + 1) * s->w / s->nw - (int64_t)i * s->w / s->nw;
		uint64_t area = (uint64_t)(rows * cols), v = sums[i];
		dst[i] = (uint8_t)((v + area / 2) / area);
	}
}

/* Adds the pixels x0, x0+dx, ... of source row y (gray[x] for each). */
static void shrink_row(struct shrink *s, int y, const uint8_t *gray, int x0, int dx)
{
	if (fits(s)) {
		uint8_t *row = s->out + (size_t)y * (size_t)s->w;
		for (int x = x0; x < s->w; x += dx)
			row[x] = gray[x];
		return;
	}
	/* y is in box j when j*h/nh <= y < (j+1)*h/nh */
	int j = (int)(((int64_t)(y + 1) * s->nh - 1) / s->h);
	uint32_t *row = s->sum + (s->in_order ? 0 : (size_t)j * (size_t)s->nw);
	for (int x = x0; x < s->w; x += dx)
		row[s->xmap[x]] += gray[x];
	if (s->in_order && y + 1 == (int)((int64_t)(j + 1) * s->h / s->nh)) {
		shrink_emit(s, j, row, s->out + (size_t)j * (size_t)s->nw);
		memset(row, 0, (size_t)s->nw * sizeof(*row));
	}
}

/* Hands the finished image to out (every row must have been added): 0 or
 * SB_ENOMEM. */
static int shrink_finish(struct shrink *s, struct gray_image *out)
{
	if (!s->out) { /* Adam7: the sums become means in place, then shrink */
		uint8_t *dst = (uint8_t *)s->sum, *px;
		for (int j = 0; j < s->nh; j++)
			shrink_emit(s, j, s->sum + (size_t)j * s->nw, dst + (size_t)j * s->nw);
		px = realloc(s->sum, (size_t)s->nw * (size_t)s->nh);
		if (!px)
			return SB_ENOMEM; /* s->sum is still ours: shrink_free frees it */
		s->sum = NULL;
		s->out = px;
	}
	out->px = s->out;
	out->width = s->nw;
	out->height = s->nh;
	out->stride = s->nw;
	s->out = NULL;
	return 0;
}

static void shrink_free(struct shrink *s)
{
	free(s->sum);
	free(s->xmap);
	free(s->out);
	memset(s, 0, sizeof(*s));
}

/* ---- limits from the header ---- */

static int side_limit(const struct image_limits *lim)
{
	return lim->max_image_side > 0 ? lim->max_image_side : IMAGE_SIDE_DEFAULT;
}

static uint64_t work_limit(const struct image_limits *lim)
{
	return lim->max_work_bytes > 0 ? lim->max_work_bytes : IMAGE_WORK_DEFAULT;
}

/* SB_ETOOBIG when w x h is over a side or the area limit, else 0. */
static int check_dims(uint64_t w, uint64_t h, const struct image_limits *lim)
{
	uint64_t side = (uint64_t)side_limit(lim);
	if (w > side || h > side || w * h > lim->max_pixels)
		return SB_ETOOBIG;
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

/* ---- JPEG (libjpeg API of libjpeg-turbo) ---- */

/* A real encoder writes at most a few dozen scans (libjpeg's default
 * progression has 10, mozjpeg's optimised ones ~20); each scan can cost a pass
 * over every coefficient of the image, so hundreds are a CPU bomb. TurboJPEG's
 * TJFLAG_LIMITSCANS, used before, stopped at 500. */
#define JPEG_MAX_SCANS 100

/* Everything the decode touches after setjmp lives here, on the heap, so a
 * longjmp from libjpeg's error handler leaves no indeterminate locals. */
struct jpeg_job {
	struct jpeg_decompress_struct cinfo;
	struct jpeg_error_mgr jerr;
	struct jpeg_progress_mgr progress;
	jmp_buf on_error;
	int rc;                 /* the answer when libjpeg bails out */
	struct shrink sh;
	uint8_t *row;
};

static void jpeg_fail(j_common_ptr c)
{
	struct jpeg_job *j = c->client_data;
	/* "no backing store": max_memory_to_use reached, the image needs more
	 * than its budget */
	int code = c->err->msg_code;
	j->rc = code == JERR_NO_BACKING_STORE ? SB_ETOOBIG
		: code == JERR_OUT_OF_MEMORY  ? SB_ENOMEM : SB_EINVAL;
	longjmp(j->on_error, 1);
}

/* Any warning (a truncated file, corrupt data, a bogus progression) stops
 * the decode, as TJFLAG_STOPONWARNING did: a half-grey frame is not worth
 * decoding, and an error is quicker. Trace messages (level > 0) are ignored. */
static void jpeg_message(j_common_ptr c, int level)
{
	if (level < 0) {
		struct jpeg_job *j = c->client_data;
		j->rc = SB_EINVAL;
		longjmp(j->on_error, 1);
	}
}

static void jpeg_quiet(j_common_ptr c)
{
	(void)c;
}

static void jpeg_count_scans(j_common_ptr c)
{
	struct jpeg_job *j = c->client_data;
	if (((j_decompress_ptr)c)->input_scan_number > JPEG_MAX_SCANS) {
		j->rc = SB_ETOOBIG;
		longjmp(j->on_error, 1);
	}
}

/* The bytes libjpeg will allocate for this image, from its header: a
 * progressive or multi-scan file keeps every DCT coefficient of every
 * component (2 bytes each, blocks rounded up to the sampling factors, as
 * jdcoefct.c does); every file needs a few rows of blocks per component for
 * upsampling and colour conversion (counted at full width, generously). */
static uint64_t jpeg_work_bytes(j_decompress_ptr c)
{
	uint64_t bytes = 0;
	int vmax = 1;
	for (int ci = 0; ci < c->num_components; ci++) {
		const jpeg_component_info *comp = &c->comp_info[ci];
		uint64_t bw = (comp->width_in_blocks + comp->h_samp_factor - 1) /
			      comp->h_samp_factor * comp->h_samp_factor;
		uint64_t bh = (comp->height_in_blocks + comp->v_samp_factor - 1) /
			      comp->v_samp_factor * comp->v_samp_factor;
		if (jpeg_has_multiple_scans(c))
			bytes += bw * bh * DCTSIZE2 * sizeof(JCOEF);
		vmax = comp->v_samp_factor > vmax ? comp->v_samp_factor : vmax;
	}
	return bytes + (uint64_t)c->image_width * (uint64_t)c->num_components * 3u * DCTSIZE *
		       (uint64_t)vmax;
}

/* The smallest IDCT scaling factor n/8 (n <= 8) that keeps the longest side
 * at or above max_side, so the box filter finishes the job from a sharp
 * image. */
static void jpeg_pick_scale(j_decompress_ptr c, int max_side)
{
	int longest = (int)(c->image_width > c->image_height ? c->image_width : c->image_height);
	c->scale_num = 8;
	c->scale_denom = 8;
	if (max_side <= 0 || longest <= max_side)
		return;
	for (int n = 1; n < 8; n++) {
		if (((int64_t)longest * n + 7) / 8 >= max_side) {
			c->scale_num = (unsigned)n;
			return;
		}
	}
}

/* The decode proper; returns with j->sh holding the image, or an error. The
 * caller frees everything in j whatever happens. */
static int jpeg_run(struct jpeg_job *j, const uint8_t *buf, size_t len,
		    const struct image_limits *lim, struct gray_image *out)
{
	struct jpeg_decompress_struct *c = &j->cinfo;
	int rc;

	c->err = jpeg_std_error(&j->jerr);
	j->jerr.error_exit = jpeg_fail;
	j->jerr.emit_message = jpeg_message;
	j->jerr.output_message = jpeg_quiet;
	c->client_data = j;
	j->rc = SB_EINVAL;
	if (setjmp(j->on_error))
		return j->rc;
	jpeg_create_decompress(c);
	/* libjpeg's own cap, enforced where it allocates the coefficient
	 * buffers: what our estimate below misses still cannot go over. */
	c->mem->max_memory_to_use = (long)work_limit(lim);
	j->progress.progress_monitor = jpeg_count_scans;
	c->progress = &j->progress;
	if (len > (unsigned long)-1)
		return SB_ETOOBIG;
	jpeg_mem_src(c, buf, (unsigned long)len);
	if (jpeg_read_header(c, TRUE) != JPEG_HEADER_OK || c->image_width == 0 ||
	    c->image_height == 0)
		return SB_EINVAL;
	if ((rc = check_dims(c->image_width, c->image_height, lim)) != 0)
		return rc;
	c->out_color_space = JCS_GRAYSCALE;
	jpeg_pick_scale(c, lim->max_side);
	jpeg_calc_output_dimensions(c);
	int ow = (int)c->output_width, oh = (int)c->output_height;
	if (jpeg_work_bytes(c) + shrink_bytes(ow, oh, lim->max_side, 1) + ow > work_limit(lim))
		return SB_ETOOBIG;
	if ((rc = shrink_init(&j->sh, ow, oh, lim->max_side, 1)) != 0 ||
	    !(j->row = malloc((size_t)ow)))
		return SB_ENOMEM;
	jpeg_start_decompress(c);
	while (c->output_scanline < c->output_height) {
		int y = (int)c->output_scanline;
		JSAMPROW rows[1] = {j->row};
		if (jpeg_read_scanlines(c, rows, 1) != 1)
			return SB_EINVAL;
		shrink_row(&j->sh, y, j->row, 0, 1);
	}
	jpeg_finish_decompress(c);
	return shrink_finish(&j->sh, out);
}

static int load_jpeg(const uint8_t *buf, size_t len, const struct image_limits *lim,
		     struct gray_image *out)
{
	struct jpeg_job *j = calloc(1, sizeof(*j));
	int rc;
	if (!j)
		return SB_ENOMEM;
	rc = jpeg_run(j, buf, len, lim, out);
	jpeg_destroy_decompress(&j->cinfo);
	shrink_free(&j->sh);
	free(j->row);
	free(j);
	if (rc != 0)
		gray_image_free(out);
	return rc;
}

/* ---- PNG (libspng) ---- */

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

/* Ancillary chunks libspng keeps in memory (text, ICC profile, EXIF...): we
 * use none of them, and a phone's are a few KiB; one MiB is generous. */
#define PNG_CHUNK_CACHE (1u << 20)

/* The bytes a w-pixel-wide PNG costs besides the output: libspng's scanline
 * and previous scanline (the file's own format, up to 8 bytes a pixel for
 * 16-bit RGBA), its RGBA8 row for an interlaced file, our RGBA8 row and gray
 * row, zlib's inflate state (~44 KiB) and the chunk cache. */
static uint64_t png_work_bytes(const struct spng_ihdr *h)
{
	static const unsigned channels[7] = {1, 0, 3, 1, 2, 0, 4};
	uint64_t ch = h->color_type < 7 ? channels[h->color_type] : 4;
	uint64_t scanline = ((uint64_t)h->width * ch * h->bit_depth + 7) / 8 + 1;
	return 2 * scanline + (uint64_t)h->width * (4 + 4 + 1) + (64u << 10) + PNG_CHUNK_CACHE;
}

/* Header checks; libspng refuses a side over max_image_side itself. */
static int png_open(spng_ctx *ctx, const uint8_t *buf, size_t len,
		    const struct image_limits *lim, struct spng_ihdr *ihdr)
{
	uint32_t side = (uint32_t)side_limit(lim);
	/* No chunk can be larger than the file. */
	size_t chunk = lim->max_bytes > 0 && lim->max_bytes < PNG_CHUNK_CACHE ? lim->max_bytes
									   : PNG_CHUNK_CACHE;
	int err;
	if ((err = spng_set_image_limits(ctx, side, side)) != 0 ||
	    (err = spng_set_chunk_limits(ctx, chunk, PNG_CHUNK_CACHE)) != 0 ||
	    (err = spng_set_png_buffer(ctx, buf, len)) != 0 ||
	    (err = spng_get_ihdr(ctx, ihdr)) != 0)
		return spng_to_sb(err);
	if ((err = check_dims(ihdr->width, ihdr->height, lim)) != 0)
		return err;
	if (png_work_bytes(ihdr) +
		    shrink_bytes((int)ihdr->width, (int)ihdr->height, lim->max_side,
			 !ihdr->interlace_method) >
	    work_limit(lim))
		return SB_ETOOBIG;
	return 0;
}

/* Decodes every row (every pass's, for Adam7) into the downscaler, then
 * reads on to IEND. */
static int png_rows(spng_ctx *ctx, const struct spng_ihdr *ihdr, uint8_t *rgba, uint8_t *gray,
		    struct shrink *sh)
{
	static const int adam7_x0[7] = {0, 4, 0, 2, 0, 1, 0}, adam7_dx[7] = {8, 8, 4, 4, 2, 2, 1};
	size_t row_bytes = (size_t)ihdr->width * 4;
	struct spng_row_info ri;
	int err = spng_decode_image(ctx, NULL, 0, SPNG_FMT_RGBA8,
				    SPNG_DECODE_PROGRESSIVE | SPNG_DECODE_TRNS);
	while (err == 0) {
		if ((err = spng_get_row_info(ctx, &ri)) != 0)
			break;
		err = spng_decode_row(ctx, rgba, row_bytes);
		if (err != 0 && err != SPNG_EOI)
			break;
		int pass = ihdr->interlace_method ? ri.pass : 6; /* 6: every pixel */
		if (pass < 0 || pass > 6 || ri.row_num >= ihdr->height)
			return SB_EINVAL;
		png_row_to_gray(rgba, gray, sh->w, adam7_x0[pass], adam7_dx[pass]);
		shrink_row(sh, (int)ri.row_num, gray, adam7_x0[pass], adam7_dx[pass]);
	}
	/* Read on to IEND: a file cut after its last row is still truncated. */
	if (err != SPNG_EOI || (err = spng_decode_chunks(ctx)) != 0)
		return spng_to_sb(err);
	return 0;
}

static int load_png(const uint8_t *buf, size_t len, const struct image_limits *lim,
		    struct gray_image *out)
{
	struct spng_ihdr ihdr;
	struct shrink sh = {0};
	uint8_t *rgba = NULL, *gray = NULL;
	int rc;
	spng_ctx *ctx = spng_ctx_new(0);
	if (!ctx)
		return SB_ENOMEM;
	if ((rc = png_open(ctx, buf, len, lim, &ihdr)) != 0)
		goto out;
	rgba = malloc((size_t)ihdr.width * 4);
	gray = malloc((size_t)ihdr.width);
	if (!rgba || !gray ||
	    (rc = shrink_init(&sh, (int)ihdr.width, (int)ihdr.height, lim->max_side,
				   !ihdr.interlace_method)) != 0) {
		rc = SB_ENOMEM;
		goto out;
	}
	if ((rc = png_rows(ctx, &ihdr, rgba, gray, &sh)) != 0)
		goto out;
	/* libspng does not insist on IEND's CRC, so look for the whole chunk. */
	if (!memmem(buf, len, png_iend, sizeof(png_iend))) {
		rc = SB_EINVAL;
		goto out;
	}
	rc = shrink_finish(&sh, out);
out:
	shrink_free(&sh);
	free(rgba);
	free(gray);
	spng_ctx_free(ctx);
	return rc;
}

/* The whole pipeline: sniff, then decode straight to the downscaled gray
 * image (the loaders never hold a full-size one). */
int image_load_gray(const uint8_t *buf, size_t len, const struct image_limits *lim,
		    struct gray_image *out)
{
	int mj, mp;
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
		return load_jpeg(buf, len, lim, out);
	if (mp == 1)
		return load_png(buf, len, lim, out);
	if (mj < 0 || mp < 0)
		return SB_EINVAL; /* the first bytes of a JPEG or PNG, cut short */
	return SB_EPROTO;
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
