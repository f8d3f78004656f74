/* SPDX-License-Identifier: MIT */
/* Growable string for the renderers; see strbuf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "sb_err.h"
#include "strbuf.h"

int strbuf_init(struct strbuf *b, size_t cap)
{
	b->len = 0;
	b->cap = cap;
	b->oom = 0;
	b->s = malloc(cap);
	if (b->s)
		b->s[0] = '\0';
	return b->s ? 0 : SB_ENOMEM;
}

static int grow(struct strbuf *b, size_t need)
{
	size_t cap = (b->len + need + 1) * 2;
	char *s = realloc(b->s, cap);

	if (!s) {
		b->oom = 1;
		return SB_ENOMEM;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= b->cap - b->len) {
		if (grow(b, (size_t)n))
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	if (n < 0)
		b->oom = 1;
	else
		b->len += (size_t)n;
}

int strbuf_finish(struct strbuf *b, char **out, size_t *len)
{
	if (b->oom) {
		free(b->s);
		b->s = NULL;
		return SB_ENOMEM;
	}
	*out = b->s;
	if (len)
		*len = b->len;
	return 0;
}
