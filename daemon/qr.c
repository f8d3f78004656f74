/* SPDX-License-Identifier: MIT */
/* QR codes for pairing URLs, encoded by libqrencode (8-bit mode, EC level M) and
 * rendered two ways: an SVG with a white background over a 4-module quiet zone
 * and one black path of merged horizontal runs (served as /qr.svg), and UTF-8
 * half-block art for terminals (scanner-sim, make run). */
#include "qr.h"
#include "strbuf.h"

#include <errno.h>
#include <qrencode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_err.h"

#define QR_QUIET 4 /* modules of light margin on each side, as ISO 18004 asks */

static int qr_encode(const char *text, QRcode **out)
{
	if (!text || !*text)
		return SB_EINVAL;
	errno = 0;
	*out = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (*out)
		return 0;
	return errno == ENOMEM ? SB_ENOMEM : SB_EINVAL; /* ERANGE: too long */
}

static int dark(const QRcode *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return 0; /* the quiet zone */
	return q->data[y * q->width + x] & 1;
}

/* One "MxyhNv1h-Nz" subpath per horizontal run of dark modules. */
static void svg_path(struct strbuf *b, const QRcode *q)
{
	for (int y = 0; y < q->width; y++) {
		for (int x = 0; x < q->width;) {
			int run = 0;
			while (x + run < q->width && dark(q, x + run, y))
				run++;
			if (run == 0) {
				x++;
				continue;
			}
			strbuf_printf(b, "M%d %dh%dv1h-%dz", x + QR_QUIET, y + QR_QUIET, run, run);
			x += run;
		}
	}
}

int qr_svg(const char *text, char **svg_out, size_t *len)
{
	QRcode *q = NULL;
	struct strbuf b;
	int rc, w;

	*svg_out = NULL;
	if ((rc = qr_encode(text, &q)) != 0)
		return rc;
	if (strbuf_init(&b, 4096) != 0) {
		QRcode_free(q);
		return SB_ENOMEM;
	}
	w = q->width + 2 * QR_QUIET;
	strbuf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
		    "shape-rendering=\"crispEdges\" role=\"img\" "
		    "aria-label=\"Pairing QR code\">\n", w, w);
	strbuf_printf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", w, w);
	strbuf_printf(&b, "<path fill=\"#000\" d=\"");
	svg_path(&b, q);
	strbuf_printf(&b, "\"/>\n</svg>\n");
	QRcode_free(q);
	return strbuf_finish(&b, svg_out, len);
}

/* Light modules print as full blocks, dark ones as blanks: on the usual dark
 * terminal background the code then shows dark-on-light, as scanners expect. */
static const char *half_block(int top_dark, int bottom_dark)
{
	if (top_dark && bottom_dark)
		return " ";
	if (top_dark)
		return "\u2584"; /* ▄: only the lower half is light */
	if (bottom_dark)
		return "\u2580"; /* ▀: only the upper half is light */
	return "\u2588";         /* █ */
}

int qr_text(const char *text, char **out)
{
	QRcode *q = NULL;
	struct strbuf b;
	int rc, lo = -QR_QUIET, hi;

	*out = NULL;
	if ((rc = qr_encode(text, &q)) != 0)
		return rc;
	hi = q->width + QR_QUIET; /* rows lo..hi-1; an odd count pads one light row */
	if (strbuf_init(&b, (size_t)(hi - lo) * (size_t)(hi - lo) * 2 + 64) != 0) {
		QRcode_free(q);
		return SB_ENOMEM;
	}
	for (int y = lo; y < hi; y += 2) {
		for (int x = lo; x < hi; x++)
			strbuf_printf(&b, "%s", half_block(dark(q, x, y), dark(q, x, y + 1)));
		strbuf_printf(&b, "\n");
	}
	QRcode_free(q);
	return strbuf_finish(&b, out, NULL);
}
