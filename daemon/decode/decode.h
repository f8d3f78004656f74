/* SPDX-License-Identifier: MIT */
/* Barcode images: the C API over ZXing-C++ (decode.cpp is the only C++ in the
 * project; no exception crosses it except decode__assert_hook's) and the image
 * input path (JPEG/PNG bounded from the header before any pixel is allocated,
 * large photos downscaled while decoding). Pure functions, safe to call from
 * worker threads. The daemon reaches them only through the decoder module
 * (decode_module.h); tests and tools link them directly (CMake target
 * sbdecode). */
#ifndef SB_DECODE_H
#define SB_DECODE_H
#include <stddef.h>
#include <stdint.h>
#include "barcode.h"

#define DECODE_MAX_RESULTS 8

struct gray_image {
	uint8_t *px;            /* malloc'd, width*height bytes unless stride says more */
	int width, height, stride;
};

/* Defaults for the two limits below when they are 0 (tools and tests that
 * set only the first three). docs/security.md, "Memory per image", has the
 * arithmetic behind them. */
#define IMAGE_SIDE_DEFAULT 10000            /* max_image_side */
#define IMAGE_WORK_DEFAULT (48u << 20)      /* bytes of decoder buffers per image */

struct image_limits {
	size_t max_bytes;       /* encoded size (max_image_bytes) */
	uint64_t max_pixels;    /* width*height from the header (max_image_megapixels) */
	int max_side;           /* longest side after downscaling for decode (e.g. 1600) */
	int max_image_side;     /* width and height each, from the header; 0 = default */
	size_t max_work_bytes;  /* the decoders' and our buffers for one image, computed
				 * from the header (rows, coefficients, output); 0 = default */
};

struct decode_result {
	char code[SB_CODE_MAX_BYTES + 1];
	enum sb_format format;
};

/* Decodes an 8-bit gray buffer. formats_mask: bit (1u << SB_FMT_x) per format
 * wanted, 0 = all. Writes up to max results (codes that fail barcode_validate —
 * e.g. with control characters — are dropped, never returned). *n = count.
 * Returns 0 (also when nothing was found), SB_EINVAL (bad geometry) or SB_ENOMEM. */
int decode_gray(const uint8_t *px, int width, int height, int stride, unsigned formats_mask,
		struct decode_result *out, int max, int *n);

/* Loads a whole JPEG or PNG into gray, refusing what is over the limits by its
 * header (SB_ETOOBIG: a side, the area, or the memory its decoding needs; also
 * a JPEG of over 100 scans), not an image of those types (SB_EPROTO: wire
 * unsupported_media_type), or corrupt/truncated (SB_EINVAL). Large images come
 * back downscaled so their longest side is <= lim->max_side; rows are
 * downscaled as they are decoded, so a full-size image is never in memory. */
int image_load_gray(const uint8_t *buf, size_t len, const struct image_limits *lim,
		    struct gray_image *out);

/* Both of the above. *ms gets the decode time in milliseconds. */
int decode_image(const uint8_t *buf, size_t len, const struct image_limits *lim,
		 unsigned formats_mask, struct decode_result *out, int max, int *n, double *ms);

/* Renders text as a barcode of format f into a gray bitmap (black on white)
 * with a quiet zone, at least width x height (0: natural size). For the
 * simulator and tests. Returns 0, SB_EINVAL (text not encodable in f, or f has
 * no writer) or SB_ENOMEM. */
int barcode_encode(const char *text, enum sb_format f, int width, int height,
		   struct gray_image *out);

void gray_image_free(struct gray_image *img);

/* Additions (not used by the daemon's first integration; kept for the
 * simulator, tests and the fuzz target). */

/* Shrinks img in place with a box filter so its longest side is <= max_side
 * (aspect kept; no-op when it already fits or max_side <= 0). img->px is
 * replaced by a new dense buffer (stride = width). Returns 0 or SB_ENOMEM (img
 * unchanged). */
int gray_image_downscale(struct gray_image *img, int max_side);

/* How many assert() failures inside ZXing (Debian builds it with assertions,
 * and 1.4.0 trips one on some images) were caught and turned into "nothing
 * found in this pass" since start, across threads. For a metric or a log
 * line; any non-zero value is worth a look. */
unsigned long decode_zxing_asserts(void);

/* Test seam for the net above: checks that __assert_fail resolves to the
 * executable's (assert_net.c, so libZXing's failed asserts reach it) and that
 * one raised inside a ZXing call reaches decode__assert_hook, is caught and
 * leaves the thread outside ZXing again. Returns 0 or SB_EINVAL. */
int decode__assert_net_selftest(void);

/* The hook assert_net.c calls on a failed assertion: throws (a C++ exception)
 * when the calling thread is inside ZXing, returns otherwise. Installed by the
 * module loader (decode_module.c); found at link time when the decoder is
 * linked statically. */
void decode__assert_hook(const char *expr, const char *file, unsigned int line, const char *func);

#endif
