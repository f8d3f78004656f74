/* SPDX-License-Identifier: MIT */
/* Tokens: loads (or creates) the appliance secret, issues HS256 JWTs with the
 * claims of PROTOCOL.md and verifies them. The HMAC-SHA256 is nettle's, the
 * rest (RFC 7519's compact form for one algorithm) is here: until 2026-12
 * libjwt did it, and its OpenSSL 3 backend set up OpenSSL's providers at the
 * first token, +2.0 MiB of resident libcrypto for a daemon otherwise idle at
 * 7 MiB (docs/benchmarks.md, "Performance II, part 4"). Tokens are the same
 * bytes as libjwt's; tests/unit/test_auth.c checks each way against libjwt.
 * A token is verified in this order: its shape (three base64url segments,
 * a 43-character signature), the signature over the first two segments
 * (compared in constant time), then header and claims, each field's
 * presence, type and value. Nothing is parsed before the signature holds. */
#include "auth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rand.h"
#include "sb_err.h"

#define HS256_SIG_CHARS 43 /* base64url of 32 bytes, no padding */
/* base64url of {"alg":"HS256","typ":"JWT"}, the header libjwt wrote */
#define HS256_HEADER "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
/* iat/exp: whole numbers a double holds exactly (2^53), which is what a
 * JSON number is to cJSON; a time in seconds is ten digits. */
#define CLAIM_TIME_MAX 9007199254740991.0

struct auth {
	unsigned char key[AUTH_SECRET_BYTES];
};

const char *auth_role_name(enum sb_role r)
{
	return r == SB_ROLE_SCANNER ? "scanner" : "desktop";
}

/* ---- the secret file ---- */

static int read_full(int fd, unsigned char *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const unsigned char *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Makes the new directory entry durable too; best effort. */
static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Creates the secret. Returns 0, SB_EEXIST (someone else created it first) or
 * SB_EIO; a partly written file is removed so the next start does not refuse it. */
static int secret_create(struct auth *a, const char *dir, const char *path,
			 char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0 && errno == EEXIST)
		return SB_EEXIST;
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return SB_EIO;
	}
	if (rand_bytes(a->key, sizeof a->key) != 0) {
		snprintf(err, errlen, "cannot create %s: no random bytes", path);
		goto bad;
	}
	if (write_full(fd, a->key, sizeof a->key) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		goto bad;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		goto bad;
	}
	fsync_dir(dir);
	return 0;
bad:
	if (fd >= 0)
		close(fd);
	unlink(path);
	explicit_bzero(a->key, sizeof a->key);
	return SB_EIO;
}

/* Checks an existing secret's type, owner, size and mode before trusting it:
 * a file someone else owns could be read or rewritten by them. */
static int secret_check(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		return SB_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		return SB_ECONFIG;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is owned by uid %u, not by the daemon's uid %u; "
			 "chown it", path, (unsigned)st.st_uid, (unsigned)geteuid());
		return SB_ECONFIG;
	}
	if (st.st_size != AUTH_SECRET_BYTES) {
		snprintf(err, errlen, "%s has %lld bytes, expected %d; remove it to create "
			 "a new one (this invalidates every token)", path,
			 (long long)st.st_size, AUTH_SECRET_BYTES);
		return SB_ECONFIG;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s is readable by group or others (mode %04o); "
			 "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		return SB_ECONFIG;
	}
	return 0;
}

/* Opens and reads an existing secret. Returns 0, SB_ENOTFOUND, SB_EIO or
 * SB_ECONFIG. */
static int secret_load(struct auth *a, const char *path, char *err, size_t errlen)
{
	/* O_NOFOLLOW: a link could point the key at any file this user can read;
	 * O_NONBLOCK: a FIFO put there must not hang the start. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	int rc;

	if (fd < 0 && errno == ENOENT)
		return SB_ENOTFOUND;
	if (fd < 0 && errno == ELOOP) {
		snprintf(err, errlen, "%s is a symbolic link; put the file itself there "
			 "(mode 0600)", path);
		return SB_ECONFIG;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return SB_EIO;
	}
	rc = secret_check(fd, path, err, errlen);
	errno = 0; /* read_full fails without errno at end of file */
	if (rc == 0 && read_full(fd, a->key, sizeof a->key) != 0) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 errno ? strerror(errno) : "short file");
		explicit_bzero(a->key, sizeof a->key);
		rc = SB_EIO;
	}
	close(fd);
	return rc;
}

int auth_open(struct auth **out, const char *data_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct auth *a;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (snprintf(path, sizeof path, "%s/%s", data_dir, AUTH_SECRET_FILE)
	    >= (int)sizeof path) {
		snprintf(err, errlen, "data dir path too long: %s", data_dir);
		return SB_ECONFIG;
	}
	if (!(a = calloc(1, sizeof *a))) {
		snprintf(err, errlen, "out of memory");
		return SB_ENOMEM;
	}
	rc = secret_load(a, path, err, errlen);
	if (rc == SB_ENOTFOUND) {
		rc = secret_create(a, data_dir, path, err, errlen);
		if (rc == SB_EEXIST) /* lost a race with another process: use theirs */
			rc = secret_load(a, path, err, errlen);
	}
	if (rc != 0) {
		auth_close(a);
		return rc;
	}
	*out = a;
	return 0;
}

void auth_close(struct auth *a)
{
	if (!a)
		return;
	explicit_bzero(a->key, sizeof a->key);
	free(a);
}

/* ---- claims ---- */

/* A claim string we accept: 1..SB_ID_MAX-1 chars of [A-Za-z0-9_-]. */
static int id_ok(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++) {
		char ch = s[n];
		if (n >= SB_ID_MAX - 1)
			return 0;
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return 0;
	}
	return n > 0;
}

static int role_ok(enum sb_role r)
{
	return r == SB_ROLE_DESKTOP || r == SB_ROLE_SCANNER;
}

static int claims_ok(const struct auth_claims *c)
{
	return id_ok(c->sid) && id_ok(c->sub) && role_ok(c->role) &&
	       c->iat >= 0 && c->iat <= (int64_t)CLAIM_TIME_MAX &&
	       c->exp >= 0 && c->exp <= (int64_t)CLAIM_TIME_MAX;
}

/* base64url(HMAC-SHA256(key, signed[0..len))) into sig. */
static void hs256(const struct auth *a, const char *signed_part, size_t len,
		  char sig[HS256_SIG_CHARS + 1])
{
	struct hmac_sha256_ctx ctx;
	uint8_t mac[SHA256_DIGEST_SIZE];

	hmac_sha256_set_key(&ctx, AUTH_SECRET_BYTES, a->key);
	hmac_sha256_update(&ctx, len, (const uint8_t *)signed_part);
	hmac_sha256_digest(&ctx, sizeof mac, mac);
	base64url_encode(mac, sizeof mac, sig, HS256_SIG_CHARS + 1);
}

/* Claims in libjwt's order (sorted keys, compact); ids are [A-Za-z0-9_-]
 * (id_ok), so nothing needs escaping. */
static int payload_json(const struct auth_claims *c, char *out, size_t size)
{
	int n = snprintf(out, size, "{\"exp\":%lld,\"iat\":%lld,\"role\":\"%s\",\"sid\":\"%s\","
			 "\"sub\":\"%s\"}", (long long)c->exp, (long long)c->iat,
			 auth_role_name(c->role), c->sid, c->sub);

	return n > 0 && (size_t)n < size ? n : -1;
}

int auth_issue(const struct auth *a, const struct auth_claims *c, char **token_out)
{
	char json[3 * SB_ID_MAX + 96], *t;
	int n;
	size_t head;

	*token_out = NULL;
	if (!claims_ok(c) || (n = payload_json(c, json, sizeof json)) < 0)
		return SB_EINVAL;
	head = sizeof HS256_HEADER - 1 + 1 + ((size_t)n * 4 + 2) / 3;
	if (!(t = malloc(head + 1 + HS256_SIG_CHARS + 1)))
		return SB_ENOMEM;
	memcpy(t, HS256_HEADER ".", sizeof HS256_HEADER);
	base64url_encode((const unsigned char *)json, (size_t)n, t + sizeof HS256_HEADER,
			 head + 1 - sizeof HS256_HEADER);
	t[head] = '.';
	hs256(a, t, head, t + head + 1);
	*token_out = t; /* free()d by the caller */
	return 0;
}

/* ---- verification ---- */

static int b64url_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

/* Three non-empty base64url segments separated by dots, the last one exactly an
 * HS256 signature long, the whole at most SB_TOKEN_MAX chars. */
static int token_shape_ok(const char *t)
{
	size_t seg_len[3] = {0, 0, 0}, seg = 0, n = 0;

	if (!t)
		return 0;
	for (; t[n]; n++) {
		if (n >= SB_TOKEN_MAX)
			return 0;
		if (t[n] == '.') {
			if (++seg > 2)
				return 0;
		} else if (b64url_char(t[n])) {
			seg_len[seg]++;
		} else {
			return 0;
		}
	}
	return seg == 2 && seg_len[0] > 0 && seg_len[1] > 0 &&
	       seg_len[2] == HS256_SIG_CHARS;
}

/* The JSON object that the base64url text b64[0..len) encodes, or NULL. */
static cJSON *segment_json(const char *b64, size_t len)
{
	unsigned char buf[SB_TOKEN_MAX];
	int n = base64url_decode(b64, len, buf, sizeof buf - 1);
	cJSON *j;

	if (n < 0)
		return NULL;
	j = cJSON_ParseWithLength((const char *)buf, (size_t)n);
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static int header_ok(const char *b64, size_t len)
{
	cJSON *h = segment_json(b64, len);
	const char *alg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "alg"));
	int ok = alg && strcmp(alg, "HS256") == 0;

	cJSON_Delete(h);
	return ok;
}

static int claim_id(const cJSON *p, const char *name, char out[SB_ID_MAX])
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, name));

	if (!id_ok(v))
		return -1;
	strcpy(out, v); /* id_ok bounds it below SB_ID_MAX */
	return 0;
}

/* A whole number 0..CLAIM_TIME_MAX: not a string, a fraction or a sign. */
static int claim_time(const cJSON *p, const char *name, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, name);
	double d = cJSON_IsNumber(v) ? v->valuedouble : -1;

	if (!(d >= 0 && d <= CLAIM_TIME_MAX) || floor(d) != d)
		return -1;
	*out = (int64_t)d;
	return 0;
}

static int claim_role(const cJSON *p, enum sb_role *out)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "role"));

	if (v && strcmp(v, "desktop") == 0)
		*out = SB_ROLE_DESKTOP;
	else if (v && strcmp(v, "scanner") == 0)
		*out = SB_ROLE_SCANNER;
	else
		return -1;
	return 0;
}

static int claims_read(const char *b64, size_t len, struct auth_claims *c)
{
	cJSON *p = segment_json(b64, len);
	int rc = !p || claim_id(p, "sid", c->sid) || claim_id(p, "sub", c->sub) ||
		 claim_role(p, &c->role) || claim_time(p, "iat", &c->iat) ||
		 claim_time(p, "exp", &c->exp) ? -1 : 0;

	cJSON_Delete(p);
	return rc;
}

int auth_verify(const struct auth *a, const char *token, int64_t now_s,
		struct auth_claims *out)
{
	struct auth_claims c;
	char sig[HS256_SIG_CHARS + 1];
	const char *dot1, *dot2;

	memset(out, 0, sizeof *out);
	if (!a || !token_shape_ok(token))
		return SB_EAUTH;
	dot1 = strchr(token, '.');
	dot2 = strchr(dot1 + 1, '.');
	hs256(a, token, (size_t)(dot2 - token), sig);
	if (!memeql_sec(sig, dot2 + 1, HS256_SIG_CHARS))
		return SB_EAUTH;
	memset(&c, 0, sizeof c);
	if (!header_ok(token, (size_t)(dot1 - token)) ||
	    claims_read(dot1 + 1, (size_t)(dot2 - dot1 - 1), &c))
		return SB_EAUTH;
	*out = c; /* authentic claims, also handed out when only exp failed */
	return c.exp > now_s ? 0 : SB_EEXPIRED;
}
