/* SPDX-License-Identifier: MIT */
/* QR codes for pairing URLs, rendered as SVG with libqrencode. */
#ifndef SB_QR_H
#define SB_QR_H
#include <stddef.h>

/* Renders text as an SVG QR code (EC level M, 4-module quiet zone, one path,
 * crisp edges). *svg_out is malloc'd (free()), *len its length.
 * Returns 0, SB_EINVAL (text empty or too long for a QR code) or SB_ENOMEM. */
int qr_svg(const char *text, char **svg_out, size_t *len);

/* Renders text as UTF-8 half-block art for terminals (scanner-sim, make run):
 * two module rows per line, 4-module quiet zone, light modules drawn as blocks
 * and dark ones as blanks, so it scans on a dark terminal background. *out is
 * malloc'd (free()), NUL-terminated. Returns 0, SB_EINVAL (text empty or too long
 * for a QR code) or SB_ENOMEM. */
int qr_text(const char *text, char **out);

#endif
