/* SPDX-License-Identifier: MIT */
/* A growable, always NUL-terminated string for renderers (metrics text, QR
 * SVG). An allocation failure is sticky: later appends do nothing and
 * strbuf_finish reports it once, so callers check a single place. */
#ifndef SB_STRBUF_H
#define SB_STRBUF_H
#include <stddef.h>

struct strbuf {
	char *s;
	size_t len, cap;
	int oom;
};

/* Starts an empty string with cap bytes. Returns 0 or SB_ENOMEM. */
int strbuf_init(struct strbuf *b, size_t cap);

/* Appends printf-style text, growing as needed. */
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the string over (*out, and *len when len is non-NULL; free() it), or
 * frees it and returns SB_ENOMEM if any append failed. */
int strbuf_finish(struct strbuf *b, char **out, size_t *len);

#endif
