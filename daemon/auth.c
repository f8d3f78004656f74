/* SPDX-License-Identifier: MIT */
/* Tokens: loads (or creates) the appliance secret, issues HS256 JWTs with the
 * claims of PROTOCOL.md and verifies them. libjwt 1.10.2 accepts alg "none" when
 * no key is given, accepts any HMAC algorithm for a key and never looks at exp,
 * so this module checks the token's shape before libjwt sees it, insists on
 * HS256 afterwards, and checks every claim's presence, type and value itself. */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <jwt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rand.h"
#include "sb_err.h"

#define HS256_SIG_CHARS 43 /* base64url of 32 bytes, no padding */
#define CLAIM_TIME_DIGITS 18 /* iat/exp: at most 18 decimal digits */

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
	const int64_t max = 999999999999999999LL; /* CLAIM_TIME_DIGITS nines */

	return id_ok(c->sid) && id_ok(c->sub) && role_ok(c->role) &&
	       c->iat >= 0 && c->iat <= max && c->iat <= LONG_MAX &&
	       c->exp >= 0 && c->exp <= max && c->exp <= LONG_MAX;
}

static int add_grants(jwt_t *jwt, const struct auth_claims *c)
{
	if (jwt_add_grant(jwt, "sid", c->sid) || jwt_add_grant(jwt, "role", auth_role_name(c->role)) ||
	    jwt_add_grant(jwt, "sub", c->sub) || jwt_add_grant_int(jwt, "iat", (long)c->iat) ||
	    jwt_add_grant_int(jwt, "exp", (long)c->exp))
		return -1;
	return 0;
}

int auth_issue(const struct auth *a, const struct auth_claims *c, char **token_out)
{
	jwt_t *jwt = NULL;
	int rc = SB_ENOMEM;

	*token_out = NULL;
	if (!claims_ok(c))
		return SB_EINVAL;
	if (jwt_new(&jwt) != 0)
		return SB_ENOMEM;
	if (add_grants(jwt, c) != 0 ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, a->key, AUTH_SECRET_BYTES) != 0)
		goto out;
	if ((*token_out = jwt_encode_str(jwt)) != NULL) /* free()d by the caller */
		rc = 0;
out:
	jwt_free(jwt);
	return rc;
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

static int grant_id(jwt_t *jwt, const char *name, char out[SB_ID_MAX])
{
	const char *v = jwt_get_grant(jwt, name); /* NULL if absent or not a string */

	if (!id_ok(v))
		return -1;
	strcpy(out, v); /* id_ok bounds it below SB_ID_MAX */
	return 0;
}

/* An integer claim of 1..CLAIM_TIME_DIGITS digits. jwt_get_grant_int cannot tell a string or a
 * fraction from 0 (it sets errno only for a missing claim), so read the claim's
 * JSON text and insist on plain digits. */
static int grant_time(jwt_t *jwt, const char *name, int64_t *out)
{
	char *js = jwt_get_grants_json(jwt, name); /* free() */
	size_t n = 0;
	int64_t v = 0;

	for (; js && js[n] >= '0' && js[n] <= '9' && n < CLAIM_TIME_DIGITS; n++)
		v = v * 10 + (js[n] - '0');
	if (!js || n == 0 || js[n] != '\0') {
		free(js);
		return -1;
	}
	free(js);
	*out = v;
	return 0;
}

static int grant_role(jwt_t *jwt, enum sb_role *out)
{
	const char *v = jwt_get_grant(jwt, "role");

	if (v && strcmp(v, "desktop") == 0)
		*out = SB_ROLE_DESKTOP;
	else if (v && strcmp(v, "scanner") == 0)
		*out = SB_ROLE_SCANNER;
	else
		return -1;
	return 0;
}

int auth_verify(const struct auth *a, const char *token, int64_t now_s,
		struct auth_claims *out)
{
	struct auth_claims c;
	jwt_t *jwt = NULL;
	int rc = SB_EAUTH;

	memset(out, 0, sizeof *out);
	if (!a || !token_shape_ok(token))
		return SB_EAUTH;
	/* Always with the key: without one libjwt skips the signature check. */
	if (jwt_decode(&jwt, token, a->key, AUTH_SECRET_BYTES) != 0 || !jwt)
		goto out;
	if (jwt_get_alg(jwt) != JWT_ALG_HS256) /* libjwt takes HS384/512 for this key */
		goto out;
	memset(&c, 0, sizeof c);
	if (grant_id(jwt, "sid", c.sid) || grant_id(jwt, "sub", c.sub) ||
	    grant_role(jwt, &c.role) || grant_time(jwt, "iat", &c.iat) ||
	    grant_time(jwt, "exp", &c.exp))
		goto out;
	*out = c; /* authentic claims, also handed out when only exp failed */
	rc = c.exp > now_s ? 0 : SB_EEXPIRED;
out:
	jwt_free(jwt);
	return rc;
}
