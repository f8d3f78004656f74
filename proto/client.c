/* SPDX-License-Identifier: MIT */
/* Client-side scanbridge.v1 messages. The encoders print into the caller's
 * buffer with a tiny bounded writer (JSON string escaping included), so a
 * firmware can use them without a heap; the decoder parses one server frame with
 * cJSON and copies the fields of its type into a flat struct. */
#include "client.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sb_err.h"

/* ---- bounded writer ---------------------------------------------------------- */

struct wbuf {
	char *p;
	size_t cap, len;
	bool overflow;
};

static void w_raw(struct wbuf *w, const char *s, size_t n)
{
	if (w->overflow || w->len + n + 1 > w->cap) {
		w->overflow = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

static void w_str(struct wbuf *w, const char *s)
{
	w_raw(w, s, strlen(s));
}

static void w_int(struct wbuf *w, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof num, "%" PRId64, v);

	w_raw(w, num, (size_t)n);
}

/* A JSON string literal: quotes, backslash and control characters escaped;
 * other bytes (UTF-8 included) copied as they are. */
static void w_json_str(struct wbuf *w, const char *s)
{
	w_raw(w, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		char esc[8];
		if (*c == '"' || *c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*c;
			w_raw(w, esc, 2);
		} else if (*c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", *c);
			w_raw(w, esc, 6);
		} else {
			w_raw(w, (const char *)c, 1);
		}
	}
	w_raw(w, "\"", 1);
}

static int w_done(struct wbuf *w)
{
	if (w->overflow)
		return SB_ETOOBIG;
	return (int)w->len;
}

static int w_init(struct wbuf *w, char *buf, size_t cap)
{
	if (!buf || cap == 0)
		return SB_EINVAL;
	w->p = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
	buf[0] = '\0';
	return 0;
}

static bool nonempty(const char *s)
{
	return s && *s;
}

/* ---- encoders ---------------------------------------------------------------- */

int sb_cmsg_hello(char *buf, size_t cap, const char *token, int64_t last_seq)
{
	struct wbuf w;

	if (!nonempty(token) || w_init(&w, buf, cap) < 0)
		return SB_EINVAL;
	w_str(&w, "{\"type\":\"hello\",\"token\":");
	w_json_str(&w, token);
	if (last_seq >= 0) {
		w_str(&w, ",\"last_seq\":");
		w_int(&w, last_seq);
	}
	w_str(&w, "}");
	return w_done(&w);
}

int sb_cmsg_scan(char *buf, size_t cap, const char *id, const char *code,
		 enum sb_format format, int64_t scanned_at)
{
	struct wbuf w;

	if (!nonempty(id) || !nonempty(code) || w_init(&w, buf, cap) < 0)
		return SB_EINVAL;
	w_str(&w, "{\"type\":\"scan\",\"id\":");
	w_json_str(&w, id);
	w_str(&w, ",\"code\":");
	w_json_str(&w, code);
	w_str(&w, ",\"format\":");
	w_json_str(&w, barcode_format_name(format));
	if (scanned_at >= 0) {
		w_str(&w, ",\"scanned_at\":");
		w_int(&w, scanned_at);
	}
	w_str(&w, "}");
	return w_done(&w);
}

int sb_cmsg_ack(char *buf, size_t cap, int64_t seq)
{
	struct wbuf w;

	if (w_init(&w, buf, cap) < 0)
		return SB_EINVAL;
	w_str(&w, "{\"type\":\"ack\",\"seq\":");
	w_int(&w, seq);
	w_str(&w, "}");
	return w_done(&w);
}

int sb_cmsg_kick(char *buf, size_t cap, const char *scanner)
{
	struct wbuf w;

	if (!nonempty(scanner) || w_init(&w, buf, cap) < 0)
		return SB_EINVAL;
	w_str(&w, "{\"type\":\"kick\",\"scanner\":");
	w_json_str(&w, scanner);
	w_str(&w, "}");
	return w_done(&w);
}

int sb_cmsg_ping(char *buf, size_t cap)
{
	struct wbuf w;

	if (w_init(&w, buf, cap) < 0)
		return SB_EINVAL;
	w_str(&w, "{\"type\":\"ping\"}");
	return w_done(&w);
}

/* ---- decoder ----------------------------------------------------------------- */

static const char *const srv_names[] = {
	[SB_SRV_UNKNOWN] = "unknown",
	[SB_SRV_WELCOME] = "welcome",
	[SB_SRV_SCAN] = "scan",
	[SB_SRV_ACK] = "ack",
	[SB_SRV_DELIVERED] = "delivered",
	[SB_SRV_SCANNER_JOINED] = "scanner_joined",
	[SB_SRV_SCANNER_LEFT] = "scanner_left",
	[SB_SRV_DECODED] = "decoded",
	[SB_SRV_PONG] = "pong",
	[SB_SRV_ERROR] = "error",
	[SB_SRV_SESSION_EXPIRED] = "session_expired",
	[SB_SRV_SESSION_ENDED] = "session_ended",
};

const char *sb_srv_type_name(enum sb_srv_type t)
{
	if ((size_t)t >= sizeof srv_names / sizeof srv_names[0])
		return "unknown";
	return srv_names[t];
}

static enum sb_srv_type srv_type_parse(const char *s)
{
	for (size_t i = 1; i < sizeof srv_names / sizeof srv_names[0]; i++)
		if (strcmp(s, srv_names[i]) == 0)
			return (enum sb_srv_type)i;
	return SB_SRV_UNKNOWN;
}

/* Copies string member key into dst (truncating). Returns 0, or SB_EINVAL when
 * required and missing / not a string. A null value counts as missing. */
static int get_str(const cJSON *o, const char *key, char *dst, size_t cap, bool required)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(it) || !it->valuestring) {
		dst[0] = '\0';
		return required ? SB_EINVAL : 0;
	}
	snprintf(dst, cap, "%s", it->valuestring);
	return 0;
}

/* Integer member key into *dst (def when absent or null; a fraction, as in
 * decoded.ms, is cut). SB_EINVAL when required and missing, or present and not
 * a number that fits in int64_t: converting one that does not (9e22, found by
 * fuzz_srv_decode) is undefined behaviour. */
static int get_int(const cJSON *o, const char *key, int64_t *dst, int64_t def, bool required)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	*dst = def;
	if (!it || cJSON_IsNull(it))
		return required ? SB_EINVAL : 0;
	/* 2^63 is exact as a double; NaN fails both comparisons */
	if (!cJSON_IsNumber(it) || !(it->valuedouble >= -9223372036854775808.0 &&
				     it->valuedouble < 9223372036854775808.0))
		return SB_EINVAL;
	*dst = (int64_t)it->valuedouble;
	return 0;
}

static int decode_welcome(const cJSON *o, struct sb_server_msg *m)
{
	int rc = get_str(o, "role", m->role, sizeof m->role, true);

	if (!rc) rc = get_str(o, "session", m->session, sizeof m->session, true);
	if (!rc) rc = get_int(o, "last_seq", &m->last_seq, 0, true);
	if (!rc) rc = get_int(o, "delivered_seq", &m->delivered_seq, 0, true);
	if (!rc) rc = get_int(o, "expires_at", &m->expires_at, 0, false);
	if (!rc) rc = get_str(o, "scanner", m->scanner, sizeof m->scanner, false);
	return rc;
}

static int decode_scan(const cJSON *o, struct sb_server_msg *m)
{
	struct sb_scan *s = &m->scan;
	char fmt[32];
	int rc = get_int(o, "seq", &s->seq, 0, true);

	if (!rc) rc = get_str(o, "id", s->id, sizeof s->id, true);
	if (!rc) rc = get_str(o, "code", s->code, sizeof s->code, true);
	if (!rc) rc = get_str(o, "format", fmt, sizeof fmt, false);
	if (!rc) rc = get_str(o, "scanner", s->scanner, sizeof s->scanner, false);
	if (!rc) rc = get_int(o, "scanned_at", &s->scanned_at, -1, false);
	if (!rc) rc = get_int(o, "received_at", &s->received_at, 0, false);
	if (rc)
		return rc;
	if (!fmt[0] || barcode_format_parse(fmt, &s->format) < 0)
		s->format = SB_FMT_UNKNOWN;
	if (s->scanned_at < 0)
		s->scanned_at = -1; /* no time: -1 is how sb_scan says so (the wire: null) */
	m->seq = s->seq;
	snprintf(m->id, sizeof m->id, "%s", s->id);
	return 0;
}

static int decode_fields(const cJSON *o, struct sb_server_msg *m)
{
	const cJSON *it;
	int rc = 0;

	switch (m->type) {
	case SB_SRV_WELCOME:
		return decode_welcome(o, m);
	case SB_SRV_SCAN:
		return decode_scan(o, m);
	case SB_SRV_ACK:
		it = cJSON_GetObjectItemCaseSensitive(o, "duplicate");
		m->duplicate = cJSON_IsTrue(it);
		/* fall through */
	case SB_SRV_DELIVERED:
		rc = get_str(o, "id", m->id, sizeof m->id, true);
		if (!rc) rc = get_int(o, "seq", &m->seq, 0, true);
		return rc;
	case SB_SRV_SCANNER_JOINED:
		it = cJSON_GetObjectItemCaseSensitive(o, "scanner");
		if (!cJSON_IsObject(it))
			return SB_EINVAL;
		rc = get_str(it, "id", m->scanner, sizeof m->scanner, true);
		if (!rc) rc = get_str(it, "name", m->name, sizeof m->name, false);
		return rc;
	case SB_SRV_SCANNER_LEFT:
		rc = get_str(o, "scanner", m->scanner, sizeof m->scanner, true);
		if (!rc) rc = get_str(o, "reason", m->reason, sizeof m->reason, false);
		return rc;
	case SB_SRV_DECODED:
		it = cJSON_GetObjectItemCaseSensitive(o, "codes");
		m->n_codes = cJSON_IsArray(it) ? cJSON_GetArraySize(it) : 0;
		return get_int(o, "ms", &m->ms, 0, false);
	case SB_SRV_PONG:
		return get_int(o, "t", &m->t, 0, false);
	case SB_SRV_ERROR:
		rc = get_str(o, "code", m->code, sizeof m->code, true);
		if (!rc) rc = get_str(o, "message", m->message, sizeof m->message, false);
		if (!rc) rc = get_str(o, "id", m->id, sizeof m->id, false);
		return rc;
	case SB_SRV_SESSION_ENDED:
		return get_str(o, "reason", m->reason, sizeof m->reason, false);
	case SB_SRV_SESSION_EXPIRED:
	case SB_SRV_UNKNOWN:
		return 0;
	}
	return 0;
}

int sb_srv_decode(const char *buf, size_t len, struct sb_server_msg *out)
{
	cJSON *root = NULL;
	const cJSON *type;
	int rc;

	memset(out, 0, sizeof *out);
	out->scan.scanned_at = -1;
	root = cJSON_ParseWithLength(buf, len);
	if (!root) {
		/* cJSON reports allocation failure and bad syntax alike */
		return SB_EPROTO;
	}
	type = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!cJSON_IsObject(root) || !cJSON_IsString(type) || !type->valuestring) {
		rc = SB_EPROTO;
		goto out;
	}
	out->type = srv_type_parse(type->valuestring);
	rc = decode_fields(root, out);
out:
	cJSON_Delete(root);
	return rc;
}
