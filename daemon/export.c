/* SPDX-License-Identifier: MIT */
/* The session's scans as a CSV a cashier can count and a spreadsheet can
 * open: one row per (code, format), first-scanned order, with how many times
 * it was scanned and by whom last. Cells that a spreadsheet would run as a
 * formula (=, +, @, a tab, or - unless a plain negative number) get a leading
 * apostrophe: a QR code is free text, and an export opened in a spreadsheet
 * must not execute what a stranger printed. */
#include "export.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "barcode.h"
#include "clock.h"
#include "grow.h"
#include "sb_err.h"
#include "strbuf.h"

struct row {
	struct sb_scan last;        /* the latest scan of this code */
	int64_t count;
	size_t next;                /* hash chain: index + 1, 0 = end */
};

struct table {
	struct row *rows;
	size_t n, cap;
	size_t *heads;              /* hash buckets: index + 1, 0 = empty */
	size_t n_heads;
	bool oom;
};

static uint64_t key_hash(const struct sb_scan *s)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)s->format;

	for (const unsigned char *p = (const unsigned char *)s->code; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

static bool rehash(struct table *t)
{
	size_t n = t->n_heads ? t->n_heads * 2 : 256;
	size_t *heads = calloc(n, sizeof(*heads));

	if (!heads)
		return false;
	free(t->heads);
	t->heads = heads;
	t->n_heads = n;
	for (size_t i = 0; i < t->n; i++) {
		size_t b = key_hash(&t->rows[i].last) % n;

		t->rows[i].next = heads[b];
		heads[b] = i + 1;
	}
	return true;
}

static struct row *find(struct table *t, const struct sb_scan *s)
{
	for (size_t i = t->heads[key_hash(s) % t->n_heads]; i; i = t->rows[i - 1].next) {
		struct row *r = &t->rows[i - 1];

		if (r->last.format == s->format && !strcmp(r->last.code, s->code))
			return r;
	}
	return NULL;
}

static void add_scan(const struct sb_scan *s, void *ctx)
{
	struct table *t = ctx;
	struct row *r, *rows;
	size_t b;

	if (t->oom || (!t->n_heads && !rehash(t))) {
		t->oom = true;
		return;
	}
	if ((r = find(t, s))) {
		r->last = *s;
		r->count++;
		return;
	}
	if (!(rows = grow_reserve(t->rows, &t->cap, t->n + 1, sizeof(*rows), 64))) {
		t->oom = true;
		return;
	}
	t->rows = rows;
	r = &rows[t->n];
	r->last = *s;
	r->count = 1;
	b = key_hash(s) % t->n_heads;
	r->next = t->heads[b];
	t->heads[b] = ++t->n;
	if (t->n > t->n_heads / 2 && !rehash(t))
		t->oom = true;
}

/* A negative number ("-12", "-0.5") is data; "-1+2" is a formula. */
static bool plain_number(const char *v)
{
	if (!*v)
		return false;
	for (; *v; v++)
		if (!isdigit((unsigned char)*v) && *v != '.')
			return false;
	return true;
}

static bool formula_like(const char *v)
{
	return (v[0] && strchr("=+@\t\r", v[0])) || (v[0] == '-' && !plain_number(v + 1));
}

/* One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. */
static void put_cell(struct strbuf *b, const char *v, bool last)
{
	const char *lead = formula_like(v) ? "'" : "";

	if (!strpbrk(v, ",\"\r\n")) {
		strbuf_printf(b, "%s%s%s", lead, v, last ? "\r\n" : ",");
		return;
	}
	strbuf_printf(b, "\"%s", lead);
	for (const char *p = v; *p; p++)
		strbuf_printf(b, *p == '"' ? "\"\"" : "%c", *p);
	strbuf_printf(b, "\"%s", last ? "\r\n" : ",");
}

static void put_row(struct strbuf *b, struct sess *s, const struct row *r)
{
	char count[24], when[32], name[128] = "";
	const struct sb_scan *l = &r->last;

	session_scanner_name(s, l->scanner, name, sizeof(name));
	snprintf(count, sizeof(count), "%lld", (long long)r->count);
	clock_iso8601(l->scanned_at >= 0 ? l->scanned_at : l->received_at, when, sizeof(when));
	put_cell(b, l->code, false);
	put_cell(b, barcode_format_name(l->format), false);
	put_cell(b, count, false);
	put_cell(b, name, false);
	put_cell(b, when, true);
}

void export_scans_csv(struct sess *s, struct rest_resp *rs)
{
	struct table t = { 0 };
	struct strbuf b;
	int rc;

	if ((rc = session_scans_each(s, add_scan, &t)) || t.oom ||
	    (rc = strbuf_init(&b, 256 + t.n * 64))) {
		rest_error(rs, SB_WIRE_UNAVAILABLE,
			   t.oom ? "out of memory" : "the scans could not be read");
		goto out;
	}
	strbuf_printf(&b, "code,format,count,scanner,time\r\n");
	for (size_t i = 0; i < t.n; i++)
		put_row(&b, s, &t.rows[i]);
	if (strbuf_finish(&b, &rs->body, &rs->len)) {
		rest_error(rs, SB_WIRE_UNAVAILABLE, "out of memory");
		goto out;
	}
	rs->status = 200;
	rs->ctype = "text/csv; charset=utf-8";
	rs->disposition = "attachment; filename=\"scans.csv\"";
out:
	free(t.rows);
	free(t.heads);
}
