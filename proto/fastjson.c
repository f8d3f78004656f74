/* SPDX-License-Identifier: MIT */
/* The hot path of the wire messages (fastjson.h): the server's `scan`, `ack`
 * and `delivered` printed straight into one allocation, and the client's
 * canonical `scan`, `ack` and `ping` recognised without a cJSON tree. A
 * profile of the relay at full load put ~13% of the daemon's instructions in
 * cJSON's parse (a malloc per node and per string) and ~8% in vsnprintf. */
#include "fastjson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoders --------------------------------------------------------------- */

/* Worst case of one escaped byte: \u00XX. */
#define ESC_MAX 6
/* Longest int64 in decimal, with its sign. */
#define INT_MAX_CHARS 20

static char *put_lit(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}
#define PUT_LIT(p, s) put_lit((p), (s), sizeof(s) - 1)

/* Appends v in decimal, exactly (INT64_MIN too). */
static char *put_int(char *p, int64_t v)
{
	char tmp[INT_MAX_CHARS];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*p++ = '-';
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Appends s (NULL: nothing) as a JSON string body, escaped exactly as cJSON
 * 1.7 prints strings: the two-character escapes for " \ \b \f \n \r \t,
 * \u00xx (lower-case hex) for the other bytes below 0x20, every other byte
 * as it is. The caller reserves ESC_MAX bytes per byte of s. */
static char *put_escaped(char *p, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e = c == '"' ? '"' : c == '\\' ? '\\' : c == '\b' ? 'b' : c == '\f' ? 'f' :
			 c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;

		if (e) {
			*p++ = '\\';
			*p++ = e;
		} else if (c < 0x20) {
			p = PUT_LIT(p, "\\u00");
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		} else {
			*p++ = (char)c;
		}
	}
	return p;
}

static size_t esc_room(const char *s)
{
	return s ? strlen(s) * ESC_MAX : 0;
}

/* NUL-terminates a message printed into out (end is where it stopped). */
static char *finish(char *out, char *end)
{
	*end = '\0';
	return out;
}

char *sb_msg_scan(const struct sb_scan *s)
{
	const char *fmt = barcode_format_name(s->format);
	char *out = malloc(128 + 3 * INT_MAX_CHARS + esc_room(s->id) + esc_room(s->code) +
			   esc_room(fmt) + esc_room(s->scanner));
	char *p = out;

	if (!out)
		return NULL;
	p = PUT_LIT(p, "{\"type\":\"scan\",\"seq\":");
	p = put_int(p, s->seq);
	p = put_escaped(PUT_LIT(p, ",\"id\":\""), s->id);
	p = put_escaped(PUT_LIT(p, "\",\"code\":\""), s->code);
	p = put_escaped(PUT_LIT(p, "\",\"format\":\""), fmt);
	p = put_escaped(PUT_LIT(p, "\",\"scanner\":\""), s->scanner);
	p = PUT_LIT(p, "\",\"scanned_at\":");
	p = s->scanned_at >= 0 ? put_int(p, s->scanned_at) : PUT_LIT(p, "null");
	p = put_int(PUT_LIT(p, ",\"received_at\":"), s->received_at);
	return finish(out, PUT_LIT(p, "}"));
}

char *sb_msg_ack(const char *id, int64_t seq, bool duplicate)
{
	char *out = id ? malloc(64 + INT_MAX_CHARS + esc_room(id)) : NULL;
	char *p = out;

	if (!out)
		return NULL;
	p = put_escaped(PUT_LIT(p, "{\"type\":\"ack\",\"id\":\""), id);
	p = put_int(PUT_LIT(p, "\",\"seq\":"), seq);
	p = duplicate ? PUT_LIT(p, ",\"duplicate\":true}") : PUT_LIT(p, ",\"duplicate\":false}");
	return finish(out, p);
}

char *sb_msg_delivered(const char *id, int64_t seq)
{
	char *out = id ? malloc(48 + INT_MAX_CHARS + esc_room(id)) : NULL;
	char *p = out;

	if (!out)
		return NULL;
	p = put_escaped(PUT_LIT(p, "{\"type\":\"delivered\",\"id\":\""), id);
	p = put_int(PUT_LIT(p, "\",\"seq\":"), seq);
	return finish(out, PUT_LIT(p, "}"));
}

/* ---- the canonical client messages -------------------------------------------- */

/* 15 digits stay below 2^53: cJSON's double holds them exactly. */
#define FAST_DIGITS_MAX 15

struct cur {
	const char *p, *end;
};

static bool lit(struct cur *c, const char *s, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
		return false;
	c->p += n;
	return true;
}
#define LIT(c, s) lit((c), (s), sizeof(s) - 1)

/* A string of plain bytes (no escape, nothing below 0x20: what cJSON copies
 * byte for byte) that fits dst[cap] with its NUL. */
static bool plain_str(struct cur *c, char *dst, size_t cap, size_t *len)
{
	const char *s;
	size_t n;

	if (!LIT(c, "\""))
		return false;
	for (s = c->p; c->p < c->end && *c->p != '"'; c->p++)
		if ((unsigned char)*c->p < 0x20 || *c->p == '\\')
			return false;
	n = (size_t)(c->p - s);
	if (c->p == c->end || n >= cap)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	c->p++;
	*len = n;
	return true;
}

/* 0, or 1 to FAST_DIGITS_MAX digits without a leading zero. What follows is
 * the caller's to check (a '.', an 'e' or another digit fails its literal). */
static bool small_uint(struct cur *c, int64_t *v)
{
	int64_t n = 0;
	int digits = 0;

	if (c->p < c->end && *c->p == '0') {
		c->p++;
		*v = 0;
		return true;
	}
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && digits < FAST_DIGITS_MAX + 1) {
		n = n * 10 + (*c->p++ - '0');
		digits++;
	}
	*v = n;
	return digits >= 1 && digits <= FAST_DIGITS_MAX;
}

static bool at_end(const struct cur *c)
{
	return c->p == c->end;
}

/* After {"type":"scan", — the fields are read into locals first, so a
 * refusal leaves *out as it was for the cJSON path. */
static bool fast_scan(struct cur *c, struct sb_scan *out)
{
	char id[sizeof out->id], code[sizeof out->code], fmt[32];
	size_t id_len, code_len, fmt_len;
	int64_t at = -1;
	enum sb_format f;

	if (!LIT(c, "\"id\":") || !plain_str(c, id, sizeof id, &id_len) ||
	    !LIT(c, ",\"code\":") || !plain_str(c, code, sizeof code, &code_len) ||
	    !LIT(c, ",\"format\":") || !plain_str(c, fmt, sizeof fmt, &fmt_len))
		return false;
	if (LIT(c, ",\"scanned_at\":") && !small_uint(c, &at))
		return false;
	if (!LIT(c, "}") || !at_end(c))
		return false;
	if (scan_id_valid(id, id_len) != 0 || barcode_format_parse(fmt, &f) != 0 ||
	    barcode_validate(f, code, code_len) != 0)
		return false;   /* the cJSON path names the bad field */
	memcpy(out->id, id, id_len + 1);
	memcpy(out->code, code, code_len + 1);
	out->format = f;
	out->scanned_at = at;
	return true;
}

bool sb_fast_decode(const char *buf, size_t len, struct sb_client_msg *out)
{
	struct cur c = { buf, buf + len };
	int64_t seq;

	if (!buf || !LIT(&c, "{\"type\":\""))
		return false;
	if (LIT(&c, "ack\",\"seq\":")) {
		if (!small_uint(&c, &seq) || !LIT(&c, "}") || !at_end(&c))
			return false;
		out->type = SB_MSG_ACK;
		out->seq = seq;
		return true;
	}
	if (LIT(&c, "ping\"}")) {
		if (!at_end(&c))
			return false;
		out->type = SB_MSG_PING;
		return true;
	}
	if (LIT(&c, "scan\",") && fast_scan(&c, &out->scan)) {
		out->type = SB_MSG_SCAN;
		return true;
	}
	return false;
}
