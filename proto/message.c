/* SPDX-License-Identifier: MIT */
/* The scanbridge.v1 wire messages. Decoding checks nesting depth, parses one
 * client text frame with cJSON (length-bounded, no trailing garbage), then
 * validates the fields of each message type, naming the bad field in the error.
 * Encoding builds server messages with cJSON; integers are emitted as raw
 * decimal text because cJSON's own number printer rounds values above 2^50 or
 * so to 15 significant digits (9007199254740991 would print as 9.00719925474099e+15). */
#include "message.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fastjson.h"
#include "sb_err.h"

#define MAX_SAFE_INT 9007199254740991.0 /* 2^53 - 1: larger doubles are ambiguous */

/* ---- depth scan and string neutralising ------------------------------------ */

int sb_json_depth_ok(const char *buf, size_t len, int max_depth)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max_depth)
				return 0;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return 1;
}

/* Value of the 4 hex digits at p[0..4), or -1 if any is not hex. */
static long hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = (c >= '0' && c <= '9') ? c - '0'
		      : (c >= 'a' && c <= 'f') ? c - 'a' + 10
		      : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Looks at the \u escape at p[i] and rewrites it in place to \u0001 when cJSON
 * would mishandle it: \u0000 (cJSON ends the C string there, hiding the rest)
 * and lone surrogates (cJSON fails the whole parse, but the protocol wants
 * invalid_request for them). U+0001 is a control character, so field
 * validation rejects it with the field's name. Returns the index of the last
 * byte of the escape (or pair) consumed. */
static size_t neutralise_u_escape(char *p, size_t len, size_t i)
{
	long cp = (i + 6 <= len) ? hex4(p + i + 2) : -1;

	if (cp < 0)
		return i + 1; /* malformed: cJSON rejects it */
	if (cp >= 0xD800 && cp <= 0xDBFF && i + 12 <= len &&
	    p[i + 6] == '\\' && p[i + 7] == 'u') {
		long lo = hex4(p + i + 8);
		if (lo >= 0xDC00 && lo <= 0xDFFF)
			return i + 11; /* a proper surrogate pair */
	}
	if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
		memcpy(p + i + 2, "0001", 4);
	return i + 5;
}

/* Rewrites, inside the JSON strings of p[0..len), what cJSON would turn into a
 * hidden NUL or a parse failure: raw NUL bytes become 0x01, and see
 * neutralise_u_escape for escapes. Lengths do not change. */
static void neutralise_strings(char *p, size_t len)
{
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		if (!in_str) {
			in_str = p[i] == '"';
		} else if (p[i] == '"') {
			in_str = false;
		} else if (p[i] == '\0') {
			p[i] = '\x01';
		} else if (p[i] == '\\' && i + 1 < len) {
			i = p[i + 1] == 'u' ? neutralise_u_escape(p, len, i) : i + 1;
		}
	}
}

/* Parses buf[0..len) as exactly one JSON value (JSON whitespace around it
 * allowed). Returns the tree, or NULL with *rc set to SB_EPROTO / SB_ENOMEM. */
static cJSON *parse_exact(const char *buf, size_t len, int *rc)
{
	char *copy = malloc(len + 1);
	const char *end = NULL;
	cJSON *root;

	*rc = SB_ENOMEM;
	if (copy == NULL)
		return NULL;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	neutralise_strings(copy, len);
	*rc = SB_EPROTO;
	root = cJSON_ParseWithLengthOpts(copy, len, &end, 0);
	if (root != NULL) {
		end += strspn(end, " \t\r\n");
		if (end != copy + len) {
			cJSON_Delete(root);
			root = NULL;
		}
	}
	free(copy);
	return root;
}

/* ---- field access ------------------------------------------------------------ */

static int fail(struct sb_msg_error *err, int rc, const char *field, const char *what)
{
	if (field != NULL)
		snprintf(err->message, sizeof err->message, "%s: %s", field, what);
	else
		snprintf(err->message, sizeof err->message, "%s", what);
	return rc;
}

/* Looks up field key. Optional fields that are absent or null give *item NULL.
 * Returns 0 or SB_EINVAL (required field missing). */
static int field_get(const cJSON *o, const char *key, bool required,
		     const cJSON **item, struct sb_msg_error *err)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	*item = NULL;
	if (it == NULL || (!required && cJSON_IsNull(it)))
		return required ? fail(err, SB_EINVAL, key, "missing") : 0;
	*item = it;
	return 0;
}

/* A string field; *s NULL when optional and absent. Returns 0 or SB_EINVAL. */
static int field_string(const cJSON *o, const char *key, bool required,
			const char **s, size_t *len, struct sb_msg_error *err)
{
	const cJSON *it;
	int rc = field_get(o, key, required, &it, err);

	*s = NULL;
	*len = 0;
	if (rc != 0 || it == NULL)
		return rc;
	if (!cJSON_IsString(it) || it->valuestring == NULL)
		return fail(err, SB_EINVAL, key, "must be a string");
	*s = it->valuestring;
	*len = strlen(*s);
	return 0;
}

/* An integer field in 0..2^53-1 (a JSON number with an integral value); *v is
 * left alone when optional and absent. Returns 0 or SB_EINVAL. */
static int field_uint(const cJSON *o, const char *key, bool required, int64_t *v,
		      struct sb_msg_error *err)
{
	const cJSON *it;
	int rc = field_get(o, key, required, &it, err);
	double d;

	if (rc != 0 || it == NULL)
		return rc;
	d = cJSON_IsNumber(it) ? it->valuedouble : -1.0;
	if (!isfinite(d) || d < 0 || d > MAX_SAFE_INT || d != floor(d))
		return fail(err, SB_EINVAL, key, "must be an integer >= 0");
	*v = (int64_t)d;
	return 0;
}

/* ---- per-type decoders --------------------------------------------------------- */

static int decode_hello(const cJSON *o, struct sb_client_msg *m, struct sb_msg_error *err)
{
	const char *tok;
	size_t len;
	int rc = field_string(o, "token", true, &tok, &len, err);

	if (rc != 0)
		return rc;
	if (len == 0 || len > SB_TOKEN_MAX)
		return fail(err, SB_EINVAL, "token", "must be 1-1024 characters");
	memcpy(m->token, tok, len + 1);
	return field_uint(o, "last_seq", false, &m->last_seq, err);
}

/* Validates code against format, with a message saying which rule failed. */
static int check_code(enum sb_format f, const char *code, size_t len,
		      struct sb_msg_error *err)
{
	int rc = barcode_validate(f, code, len);
	char what[96];

	if (rc == SB_ECHECKDIGIT)
		return fail(err, rc, "code", "invalid check digit");
	if (rc == 0)
		return 0;
	if (barcode_text_valid(code, len, SB_CODE_MAX_CP) != 0)
		return fail(err, SB_EINVAL, "code",
			    "must be 1-512 code points of UTF-8 without control characters");
	snprintf(what, sizeof what, "wrong length or not only digits for %s",
		 barcode_format_name(f));
	return fail(err, SB_EINVAL, "code", what);
}

static int decode_scan_code(const cJSON *o, struct sb_scan *s, struct sb_msg_error *err)
{
	const char *str;
	size_t len;
	int rc = field_string(o, "format", false, &str, &len, err);

	if (rc != 0)
		return rc;
	if (str != NULL && barcode_format_parse(str, &s->format) != 0)
		return fail(err, SB_EINVAL, "format", "unknown format");
	rc = field_string(o, "code", true, &str, &len, err);
	if (rc != 0)
		return rc;
	if (len > SB_CODE_MAX_BYTES)
		return fail(err, SB_EINVAL, "code", "too long");
	rc = check_code(s->format, str, len, err);
	if (rc == 0)
		memcpy(s->code, str, len + 1);
	return rc;
}

/* The fields of a scan, WS `scan` and REST body alike. */
static int decode_scan_fields(const cJSON *o, struct sb_scan *s, struct sb_msg_error *err)
{
	const char *id;
	size_t len;
	int rc = field_string(o, "id", true, &id, &len, err);

	if (rc != 0)
		return rc;
	if (scan_id_valid(id, len) != 0)
		return fail(err, SB_EINVAL, "id", "must be 1-64 characters of A-Z a-z 0-9 _ -");
	memcpy(s->id, id, len + 1);
	memcpy(err->id, id, len + 1);
	rc = decode_scan_code(o, s, err);
	if (rc != 0)
		return rc;
	rc = field_uint(o, "scanned_at", false, &s->scanned_at, err);
	if (rc != 0)
		return fail(err, rc, "scanned_at", "must be an integer >= 0 or null");
	return 0;
}

static int decode_scan(const cJSON *o, struct sb_client_msg *m, struct sb_msg_error *err)
{
	return decode_scan_fields(o, &m->scan, err);
}

static int decode_ack(const cJSON *o, struct sb_client_msg *m, struct sb_msg_error *err)
{
	return field_uint(o, "seq", true, &m->seq, err);
}

static int decode_kick(const cJSON *o, struct sb_client_msg *m, struct sb_msg_error *err)
{
	const char *id;
	size_t len;
	int rc = field_string(o, "scanner", true, &id, &len, err);

	if (rc != 0)
		return rc;
	/* Same alphabet as scan ids, but it must fit m->scanner with its NUL. */
	if (len >= SB_ID_MAX || scan_id_valid(id, len) != 0)
		return fail(err, SB_EINVAL, "scanner", "must be a scanner id");
	memcpy(m->scanner, id, len + 1);
	return 0;
}

static int decode_ping(const cJSON *o, struct sb_client_msg *m, struct sb_msg_error *err)
{
	return 0;
}

static const struct {
	const char *name;
	enum sb_msg_type type;
	int (*decode)(const cJSON *, struct sb_client_msg *, struct sb_msg_error *);
} msg_types[] = {
	{ "hello", SB_MSG_HELLO, decode_hello },
	{ "scan", SB_MSG_SCAN, decode_scan },
	{ "ack", SB_MSG_ACK, decode_ack },
	{ "kick", SB_MSG_KICK, decode_kick },
	{ "ping", SB_MSG_PING, decode_ping },
};

/* Resets *s to the defaults of a scan's optional fields. */
static void scan_reset(struct sb_scan *s)
{
	memset(s, 0, sizeof *s);
	s->format = SB_FMT_UNKNOWN;
	s->scanned_at = -1;
}

/* Resets *m to the defaults of optional fields. */
static void msg_reset(struct sb_client_msg *m)
{
	memset(m, 0, sizeof *m);
	scan_reset(&m->scan);
}

/* Dispatches on the `type` of a parsed object. */
static int decode_object(const cJSON *root, struct sb_client_msg *out,
			 struct sb_msg_error *err)
{
	const cJSON *type;

	if (!cJSON_IsObject(root))
		return fail(err, SB_EPROTO, NULL, "message is not a JSON object");
	type = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!cJSON_IsString(type) || type->valuestring == NULL)
		return fail(err, SB_EPROTO, "type", "missing or not a string");
	for (size_t i = 0; i < sizeof msg_types / sizeof msg_types[0]; i++) {
		if (strcmp(type->valuestring, msg_types[i].name) == 0) {
			out->type = msg_types[i].type;
			return msg_types[i].decode(root, out, err);
		}
	}
	return fail(err, SB_EPROTO, "type", "unknown message type");
}

/* The checks every client text makes before its fields: present, not nested
 * too deeply, exactly one JSON value. Returns the tree, or NULL with *rc and
 * err set (SB_EPROTO, SB_ENOMEM). */
static cJSON *parse_frame(const char *buf, size_t len, int max_depth, int *rc,
			  struct sb_msg_error *err)
{
	cJSON *root;

	*rc = SB_EPROTO;
	if (buf == NULL) {
		fail(err, *rc, NULL, "empty message");
		return NULL;
	}
	if (!sb_json_depth_ok(buf, len, max_depth)) {
		fail(err, *rc, NULL, "JSON nested too deeply");
		return NULL;
	}
	root = parse_exact(buf, len, rc);
	if (root == NULL)
		fail(err, *rc, NULL, *rc == SB_ENOMEM ? "out of memory" : "not valid JSON");
	return root;
}

/* Clears err (err may be NULL: then scratch is used) and returns it. */
static struct sb_msg_error *err_reset(struct sb_msg_error *err, struct sb_msg_error *scratch)
{
	if (err == NULL)
		err = scratch;
	err->message[0] = '\0';
	err->id[0] = '\0';
	return err;
}

int sb_msg_decode(const char *buf, size_t len, int max_depth,
		  struct sb_client_msg *out, struct sb_msg_error *err)
{
	struct sb_msg_error scratch;

	err = err_reset(err, &scratch);
	msg_reset(out);
	if (max_depth >= 1 && sb_fast_decode(buf, len, out))
		return 0;
	return sb_msg_decode_tree(buf, len, max_depth, out, err);
}

int sb_msg_decode_tree(const char *buf, size_t len, int max_depth,
		       struct sb_client_msg *out, struct sb_msg_error *err)
{
	struct sb_msg_error scratch;
	cJSON *root;
	int rc;

	err = err_reset(err, &scratch);
	msg_reset(out);
	if ((root = parse_frame(buf, len, max_depth, &rc, err)) == NULL)
		return rc;
	rc = decode_object(root, out, err);
	cJSON_Delete(root);
	if (rc == 0)
		err->id[0] = '\0'; /* err describes failures only */
	return rc;
}

/* Whether the first byte after JSON whitespace opens an object. cJSON would
 * also skip a BOM and other control bytes before the value; a REST body has
 * always been held to JSON's own whitespace. */
static bool starts_object(const char *buf, size_t len)
{
	size_t i = 0;

	while (buf != NULL && i < len && buf[i] != '\0' && strchr(" \t\r\n", buf[i]) != NULL)
		i++;
	return buf != NULL && i < len && buf[i] == '{';
}

int sb_scan_decode(const char *buf, size_t len, int max_depth, struct sb_scan *out,
		   struct sb_msg_error *err)
{
	struct sb_msg_error scratch;
	cJSON *root;
	int rc;

	err = err_reset(err, &scratch);
	scan_reset(out);
	if (!starts_object(buf, len))
		return fail(err, SB_EPROTO, NULL, "message is not a JSON object");
	if ((root = parse_frame(buf, len, max_depth, &rc, err)) == NULL)
		return rc;
	rc = decode_scan_fields(root, out, err);
	cJSON_Delete(root);
	if (rc == 0)
		err->id[0] = '\0';
	return rc;
}

/* ---- encoders ---------------------------------------------------------------- */

/* Adds an integer exactly (as raw decimal text; see the file comment). */
static bool put_int(cJSON *o, const char *key, int64_t v)
{
	char num[24];

	snprintf(num, sizeof num, "%" PRId64, v);
	return cJSON_AddRawToObject(o, key, num) != NULL;
}

/* Adds a string, or null for NULL. */
static bool put_str(cJSON *o, const char *key, const char *v)
{
	if (v == NULL)
		return cJSON_AddNullToObject(o, key) != NULL;
	return cJSON_AddStringToObject(o, key, v) != NULL;
}

/* Creates an object with its "type" field, or NULL. */
static cJSON *new_msg(const char *type)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL && !put_str(o, "type", type)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

/* Prints o when every field was added (ok), then frees it. */
static char *finish(cJSON *o, bool ok)
{
	char *s = (o != NULL && ok) ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return s;
}

static bool put_scan_fields(cJSON *o, const struct sb_scan *s)
{
	bool ok = put_int(o, "seq", s->seq) && put_str(o, "id", s->id) &&
		  put_str(o, "code", s->code) &&
		  put_str(o, "format", barcode_format_name(s->format)) &&
		  put_str(o, "scanner", s->scanner);

	if (ok && s->scanned_at >= 0)
		ok = put_int(o, "scanned_at", s->scanned_at);
	else if (ok)
		ok = cJSON_AddNullToObject(o, "scanned_at") != NULL;
	return ok && put_int(o, "received_at", s->received_at);
}

void *sb_scan_to_json(const struct sb_scan *s)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL && !put_scan_fields(o, s)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

static bool put_scanner_list(cJSON *o, const struct sb_scanner_info *sc, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "scanners");

	for (size_t i = 0; arr != NULL && i < n; i++) {
		cJSON *item = cJSON_CreateObject();
		if (item == NULL || !cJSON_AddItemToArray(arr, item)) {
			cJSON_Delete(item);
			return false;
		}
		if (!put_str(item, "id", sc[i].id) || !put_str(item, "name", sc[i].name) ||
		    cJSON_AddBoolToObject(item, "connected", sc[i].connected) == NULL)
			return false;
	}
	return arr != NULL;
}

char *sb_msg_welcome(const char *role, const char *session, int64_t last_seq,
		     int64_t delivered_seq, int64_t expires_at, const char *scanner,
		     const struct sb_scanner_info *scanners, size_t n_scanners)
{
	cJSON *o = new_msg("welcome");
	bool ok = o != NULL && put_str(o, "role", role) && put_str(o, "session", session) &&
		  put_int(o, "last_seq", last_seq) &&
		  put_int(o, "delivered_seq", delivered_seq) &&
		  put_int(o, "expires_at", expires_at);

	if (ok && scanner != NULL)
		ok = put_str(o, "scanner", scanner);
	if (ok && (scanners != NULL || (role != NULL && strcmp(role, "desktop") == 0)))
		ok = put_scanner_list(o, scanners, scanners != NULL ? n_scanners : 0);
	return finish(o, ok);
}

char *sb_msg_scanner_joined(const char *id, const char *name)
{
	cJSON *o = new_msg("scanner_joined");
	cJSON *sc = o != NULL ? cJSON_AddObjectToObject(o, "scanner") : NULL;

	return finish(o, sc != NULL && put_str(sc, "id", id) && put_str(sc, "name", name));
}

char *sb_msg_scanner_left(const char *id, const char *reason)
{
	cJSON *o = new_msg("scanner_left");

	return finish(o, o != NULL && put_str(o, "scanner", id) &&
			 put_str(o, "reason", reason));
}

char *sb_msg_renewed(const char *token, int64_t expires_at)
{
	cJSON *o = new_msg("renewed");

	return finish(o, o != NULL && put_str(o, "token", token) &&
			 put_int(o, "expires_at", expires_at));
}

char *sb_msg_pong(int64_t t)
{
	cJSON *o = new_msg("pong");

	return finish(o, o != NULL && put_int(o, "t", t));
}

char *sb_msg_error(const char *code, const char *message, const char *id)
{
	cJSON *o = new_msg("error");
	bool ok = o != NULL && put_str(o, "code", code) && put_str(o, "message", message);

	if (ok && id != NULL && id[0] != '\0')
		ok = put_str(o, "id", id);
	return finish(o, ok);
}

char *sb_msg_session_expired(void)
{
	cJSON *o = new_msg("session_expired");

	return finish(o, o != NULL);
}

char *sb_msg_session_ended(const char *reason)
{
	cJSON *o = new_msg("session_ended");

	return finish(o, o != NULL && put_str(o, "reason", reason));
}

char *sb_msg_decoded(const char *const *codes, const enum sb_format *formats, size_t n,
		     double ms)
{
	cJSON *o = new_msg("decoded");
	cJSON *arr = o != NULL ? cJSON_AddArrayToObject(o, "codes") : NULL;
	bool ok = arr != NULL && cJSON_AddNumberToObject(o, "ms", ms) != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		cJSON *c = cJSON_CreateObject();

		if (c == NULL || !cJSON_AddItemToArray(arr, c)) {
			cJSON_Delete(c);
			ok = false;
			break;
		}
		ok = put_str(c, "code", codes[i]) &&
		     put_str(c, "format", barcode_format_name(formats[i]));
	}
	return finish(o, ok);
}
