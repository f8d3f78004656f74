/* SPDX-License-Identifier: MIT */
/* Unit tests for auth.c: the secret file (created 0600 with 32 bytes, reused on
 * re-open, refused when the wrong size, not a file, a link, someone else's or
 * readable by others) and
 * token verification against hand-made and re-signed hostile tokens: alg none,
 * other HMAC algorithms with the same key, other keys, tampering, truncation,
 * missing or mistyped claims, expiry, and plain garbage. */
#include <fcntl.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "check.h"
#include "rand.h"
#include "sb_err.h"

#define NOW 1700000000LL
#define GOOD_PAYLOAD "{\"sid\":\"S3ss10n_-id\",\"role\":\"desktop\",\"sub\":\"desktop\"," \
		     "\"iat\":1699990000,\"exp\":1700086400}"

static char tmp_root[] = "/tmp/sb-test-auth-XXXXXX";
static int dir_seq;

/* A fresh, empty data dir under tmp_root. */
static char *new_dir(void)
{
	static char path[128];

	snprintf(path, sizeof path, "%s/d%d", tmp_root, ++dir_seq);
	if (mkdir(path, 0700) != 0)
		perror(path);
	return path;
}

static void write_file(const char *dir, const void *data, size_t n, mode_t mode)
{
	char path[160];
	int fd;

	snprintf(path, sizeof path, "%s/secret", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CHECK(fd >= 0 && write(fd, data, n) == (ssize_t)n);
	close(fd);
	chmod(path, mode);
}

static int read_key(const char *dir, unsigned char key[32])
{
	char path[160];
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "%s/secret", dir);
	if (!(f = fopen(path, "rb")))
		return -1;
	n = fread(key, 1, 32, f);
	fclose(f);
	return n == 32 ? 0 : -1;
}

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n * 2 + 4);

	base64url_encode((const unsigned char *)s, n, out, n * 2 + 4);
	return out;
}

/* header and payload JSON base64url'd here, signature segment given verbatim. */
static char *craft(const char *header, const char *payload, const char *sig)
{
	char *h = b64(header), *p = b64(payload);
	char *t = malloc(strlen(h) + strlen(p) + strlen(sig) + 3);

	sprintf(t, "%s.%s.%s", h, p, sig);
	free(h);
	free(p);
	return t;
}

/* A token libjwt signs with any alg/key over the given payload JSON. */
static char *sign(const char *payload, jwt_alg_t alg, const unsigned char *key, int keylen)
{
	jwt_t *jwt = NULL;
	char *t = NULL;

	if (jwt_new(&jwt) == 0 && jwt_add_grants_json(jwt, payload) == 0 &&
	    jwt_set_alg(jwt, alg, key, keylen) == 0)
		t = jwt_encode_str(jwt);
	jwt_free(jwt);
	CHECK(t != NULL);
	return t;
}

static struct auth *open_ok(const char *dir)
{
	struct auth *a = NULL;
	char err[256];

	CHECK_EQ_INT(auth_open(&a, dir, err, sizeof err), 0);
	CHECK_STR(err, "");
	return a;
}

static int verify(struct auth *a, const char *token)
{
	struct auth_claims c;
	return auth_verify(a, token, NOW, &c);
}

/* ---- secret file ---- */

static void test_secret_created(void)
{
	char *dir = new_dir(), path[160];
	struct auth *a = open_ok(dir);
	struct stat st;

	snprintf(path, sizeof path, "%s/secret", dir);
	CHECK_EQ_INT(stat(path, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ_INT(st.st_size, 32);
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	auth_close(a);
	auth_close(NULL);
}

static void test_secret_reopen_same_key(void)
{
	char dir[128];
	struct auth *a1, *a2, *other;
	struct auth_claims c = { "sess1", SB_ROLE_SCANNER, "scanner1", NOW, NOW + 60 }, got;
	char *tok = NULL;

	snprintf(dir, sizeof dir, "%s", new_dir());
	a1 = open_ok(dir);
	a2 = open_ok(dir);
	other = open_ok(new_dir());
	CHECK_EQ_INT(auth_issue(a1, &c, &tok), 0);
	CHECK_EQ_INT(auth_verify(a2, tok, NOW, &got), 0);
	CHECK_STR(got.sid, "sess1");
	CHECK_STR(got.sub, "scanner1");
	CHECK_EQ_INT(got.role, SB_ROLE_SCANNER);
	CHECK_EQ_INT(auth_verify(other, tok, NOW, &got), SB_EAUTH);
	free(tok);
	auth_close(a1);
	auth_close(a2);
	auth_close(other);
}

static void test_secret_wrong_size(void)
{
	char *dir = new_dir(), err[256];
	struct auth *a = (struct auth *)1;

	write_file(dir, "0123456789012345678901234567890", 31, 0600);
	CHECK_EQ_INT(auth_open(&a, dir, err, sizeof err), SB_ECONFIG);
	CHECK(a == NULL);
	CHECK(strstr(err, "has 31 bytes, expected 32") != NULL);
	dir = new_dir();
	write_file(dir, "012345678901234567890123456789012", 33, 0600);
	CHECK_EQ_INT(auth_open(&a, dir, err, sizeof err), SB_ECONFIG);
	dir = new_dir();
	write_file(dir, "", 0, 0600); /* an empty file is not silently refilled */
	CHECK_EQ_INT(auth_open(&a, dir, err, sizeof err), SB_ECONFIG);
}

static void test_secret_readable_by_others(void)
{
	char *dir = new_dir(), err[256], want[256];
	struct auth *a = NULL;
	unsigned char key[32] = {1};

	write_file(dir, key, 32, 0644);
	CHECK_EQ_INT(auth_open(&a, dir, err, sizeof err), SB_ECONFIG);
	snprintf(want, sizeof want,
		 "%s/secret is readable by group or others (mode 0644); chmod 600 it", dir);
	CHECK_STR(err, want);
	write_file(dir, key, 32, 0640);
	CHECK_EQ_INT(auth_open(&a, dir, err, sizeof err), SB_ECONFIG);
	write_file(dir, key, 32, 0604);
	CHECK_EQ_INT(auth_open(&a, dir, err, sizeof err), SB_ECONFIG);
	write_file(dir, key, 32, 0400); /* read-only for the owner is fine */
	a = open_ok(dir);
	auth_close(a);
}

static void test_secret_odd_places(void)
{
	char *dir = new_dir(), path[160], err[256];
	struct auth *a = NULL;

	snprintf(path, sizeof path, "%s/secret", dir);
	CHECK_EQ_INT(mkdir(path, 0700), 0);
	CHECK_EQ_INT(auth_open(&a, dir, err, sizeof err), SB_ECONFIG);
	CHECK(strstr(err, "not a regular file") != NULL);
	snprintf(path, sizeof path, "%s/missing", tmp_root);
	CHECK_EQ_INT(auth_open(&a, path, err, sizeof err), SB_EIO);
	CHECK(strstr(err, "cannot create") != NULL);
}

/* A link is refused, not followed (even to a good key); a FIFO does not hang
 * the start; a secret owned by another uid is refused (only root can make
 * one). */
static void test_secret_link_fifo_owner(void)
{
	char *dir = new_dir(), path[160], real[160], err[256];
	struct auth *a = NULL;
	unsigned char key[32] = {2};

	write_file(dir, key, 32, 0600);
	snprintf(path, sizeof path, "%s/secret", dir);
	snprintf(real, sizeof real, "%s/real", dir);
	CHECK_EQ_INT(rename(path, real), 0);
	CHECK_EQ_INT(symlink(real, path), 0);
	CHECK_EQ_INT(auth_open(&a, dir, err, sizeof err), SB_ECONFIG);
	CHECK(strstr(err, "is a symbolic link") != NULL);
	CHECK_EQ_INT(unlink(path), 0);
	CHECK_EQ_INT(mkfifo(path, 0600), 0);
	CHECK_EQ_INT(auth_open(&a, dir, err, sizeof err), SB_ECONFIG);
	CHECK(strstr(err, "not a regular file") != NULL);
	CHECK_EQ_INT(unlink(path), 0);
	if (geteuid() != 0)
		return;
	CHECK_EQ_INT(rename(real, path), 0);
	CHECK_EQ_INT(chown(path, 65534, (gid_t)-1), 0);
	CHECK_EQ_INT(auth_open(&a, dir, err, sizeof err), SB_ECONFIG);
	CHECK(strstr(err, "is owned by uid 65534") != NULL);
}

/* ---- tokens ---- */

static struct auth *A;
static unsigned char KEY[32];

static void test_issue_verify_roundtrip(void)
{
	struct auth_claims c = { "S3ss10n_-id", SB_ROLE_DESKTOP, "desktop", NOW - 5, NOW + 86400 };
	struct auth_claims got;
	char *tok = NULL;
	jwt_t *jwt = NULL;

	CHECK_EQ_INT(auth_issue(A, &c, &tok), 0);
	CHECK_EQ_INT(auth_verify(A, tok, NOW, &got), 0);
	CHECK_STR(got.sid, c.sid);
	CHECK_STR(got.sub, "desktop");
	CHECK_EQ_INT(got.role, SB_ROLE_DESKTOP);
	CHECK_EQ_INT(got.iat, NOW - 5);
	CHECK_EQ_INT(got.exp, NOW + 86400);
	/* What is on the wire: HS256, exp and iat as integers, role as a name. */
	CHECK_EQ_INT(jwt_decode(&jwt, tok, KEY, 32), 0);
	CHECK_EQ_INT(jwt_get_alg(jwt), JWT_ALG_HS256);
	CHECK_STR(jwt_get_grant(jwt, "role"), "desktop");
	CHECK_EQ_INT(jwt_get_grant_int(jwt, "exp"), NOW + 86400);
	jwt_free(jwt);
	free(tok);
	CHECK_STR(auth_role_name(SB_ROLE_SCANNER), "scanner");
	CHECK_STR(auth_role_name(SB_ROLE_DESKTOP), "desktop");
}

/* The daemon signed with libjwt until schema 5: its tokens are the same bytes
 * as libjwt's for the same claims, so the tokens clients hold and the ones
 * issued now cannot be told apart. */
static void test_issue_same_bytes_as_libjwt(void)
{
	struct auth_claims c = { "S3ss10n_-id", SB_ROLE_SCANNER, "scn-1", NOW - 5, NOW + 600 };
	char *ours = NULL, *theirs;
	char payload[256];

	snprintf(payload, sizeof payload, "{\"sid\":\"%s\",\"role\":\"scanner\",\"sub\":\"%s\","
		 "\"iat\":%lld,\"exp\":%lld}", c.sid, c.sub, (long long)c.iat, (long long)c.exp);
	theirs = sign(payload, JWT_ALG_HS256, KEY, 32);
	CHECK_EQ_INT(auth_issue(A, &c, &ours), 0);
	CHECK(theirs && ours);
	if (theirs && ours)
		CHECK_STR(ours, theirs);
	free(ours);
	free(theirs);
}

static void test_issue_refuses_bad_claims(void)
{
	struct auth_claims c = { "bad/sid", SB_ROLE_DESKTOP, "desktop", NOW, NOW + 60 };
	char *tok = (char *)1;

	CHECK_EQ_INT(auth_issue(A, &c, &tok), SB_EINVAL);
	CHECK(tok == NULL);
	strcpy(c.sid, "ok");
	c.sub[0] = '\0';
	CHECK_EQ_INT(auth_issue(A, &c, &tok), SB_EINVAL);
	strcpy(c.sub, "desktop");
	c.role = (enum sb_role)7;
	CHECK_EQ_INT(auth_issue(A, &c, &tok), SB_EINVAL);
}

static void test_good_payload_signed_here(void)
{
	char *t = sign(GOOD_PAYLOAD, JWT_ALG_HS256, KEY, 32);
	CHECK_EQ_INT(verify(A, t), 0); /* the baseline every hostile case departs from */
	free(t);
}

static void test_alg_none(void)
{
	char *good = sign(GOOD_PAYLOAD, JWT_ALG_HS256, KEY, 32);
	const char *sig = strrchr(good, '.') + 1;
	char *t;

	t = craft("{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD_PAYLOAD, "");
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	free(t);
	t = craft("{\"alg\":\"none\"}", GOOD_PAYLOAD, "");
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	free(t);
	/* Right length signature, so it gets past the shape check to libjwt. */
	t = craft("{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD_PAYLOAD, sig);
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	free(t);
	t = craft("{\"alg\":\"None\",\"typ\":\"JWT\"}", GOOD_PAYLOAD, sig);
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	free(t);
	t = craft("{\"typ\":\"JWT\"}", GOOD_PAYLOAD, sig); /* no alg at all */
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	free(t);
	free(good);
}

static void test_other_algs_same_key(void)
{
	char *t = sign(GOOD_PAYLOAD, JWT_ALG_HS512, KEY, 32);
	CHECK_EQ_INT(verify(A, t), SB_EAUTH); /* libjwt itself would accept it */
	free(t);
	t = sign(GOOD_PAYLOAD, JWT_ALG_HS384, KEY, 32);
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	free(t);
}

static void test_other_key(void)
{
	unsigned char other[32];
	char *t;

	memcpy(other, KEY, 32);
	other[31] ^= 1;
	t = sign(GOOD_PAYLOAD, JWT_ALG_HS256, other, 32);
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	free(t);
	t = sign(GOOD_PAYLOAD, JWT_ALG_HS256, KEY, 31); /* a prefix of our key */
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	free(t);
}

static void test_tampered(void)
{
	char *good = sign(GOOD_PAYLOAD, JWT_ALG_HS256, KEY, 32);
	char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
	char *p = b64("{\"sid\":\"S3ss10n_-id\",\"role\":\"scanner\",\"sub\":\"desktop\","
		      "\"iat\":1699990000,\"exp\":1700086400}");
	char t[1024];

	/* Same header and signature, payload swapped: role desktop -> scanner. */
	snprintf(t, sizeof t, "%.*s.%s%s", (int)(dot1 - good), good, p, dot2);
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	/* One signature character changed. */
	snprintf(t, sizeof t, "%s", good);
	t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	/* One payload character changed. */
	snprintf(t, sizeof t, "%s", good);
	t[dot1 - good + 5] ^= 1;
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	free(p);
	free(good);
}

static void test_truncated(void)
{
	char *good = sign(GOOD_PAYLOAD, JWT_ALG_HS256, KEY, 32);
	size_t n = strlen(good);

	good[n - 1] = '\0';
	CHECK_EQ_INT(verify(A, good), SB_EAUTH);
	*strrchr(good, '.') = '\0'; /* header.payload */
	CHECK_EQ_INT(verify(A, good), SB_EAUTH);
	strcat(good, ".");          /* header.payload. */
	CHECK_EQ_INT(verify(A, good), SB_EAUTH);
	good[10] = '\0';
	CHECK_EQ_INT(verify(A, good), SB_EAUTH);
	free(good);
}

static void test_expiry(void)
{
	struct auth_claims c = { "sx", SB_ROLE_SCANNER, "scan1", NOW - 100, NOW - 1 }, got;
	char *t = NULL;

	CHECK_EQ_INT(auth_issue(A, &c, &t), 0);
	CHECK_EQ_INT(auth_verify(A, t, NOW, &got), SB_EEXPIRED);
	CHECK_STR(got.sid, "sx"); /* authentic, so the caller may use the claims */
	CHECK_EQ_INT(auth_verify(A, t, NOW - 2, &got), 0);
	free(t);
	c.exp = NOW; /* exp must be strictly in the future */
	CHECK_EQ_INT(auth_issue(A, &c, &t), 0);
	CHECK_EQ_INT(auth_verify(A, t, NOW, &got), SB_EEXPIRED);
	t[strlen(t) - 3] ^= 1; /* expired AND forged: not "expired" */
	CHECK_EQ_INT(auth_verify(A, t, NOW, &got), SB_EAUTH);
	CHECK_STR(got.sid, "");
	free(t);
}

static void check_payload(const char *payload, int want)
{
	char *t = sign(payload, JWT_ALG_HS256, KEY, 32);
	int rc = verify(A, t);
	if (rc != want)
		fprintf(stderr, "payload %s: got %d, want %d\n", payload, rc, want);
	CHECK_EQ_INT(rc, want);
	free(t);
}

static void test_claims(void)
{
	check_payload("{\"sid\":\"s\",\"role\":\"scanner\",\"sub\":\"x\",\"iat\":1}", SB_EAUTH);
	check_payload("{\"sid\":\"s\",\"role\":\"scanner\",\"sub\":\"x\",\"iat\":1,"
		      "\"exp\":\"1800000000\"}", SB_EAUTH);
	check_payload("{\"sid\":\"s\",\"role\":\"scanner\",\"sub\":\"x\",\"iat\":1,"
		      "\"exp\":1800000000.5}", SB_EAUTH);
	check_payload("{\"sid\":\"s\",\"role\":\"scanner\",\"sub\":\"x\",\"exp\":1800000000}", SB_EAUTH);
	check_payload("{\"sid\":\"s\",\"role\":\"scanner\",\"sub\":\"x\",\"iat\":\"1\","
		      "\"exp\":1800000000}", SB_EAUTH);
	check_payload("{\"sid\":\"s\",\"role\":\"admin\",\"sub\":\"x\",\"iat\":1,"
		      "\"exp\":1800000000}", SB_EAUTH);
	check_payload("{\"sid\":\"s\",\"role\":\"Desktop\",\"sub\":\"x\",\"iat\":1,"
		      "\"exp\":1800000000}", SB_EAUTH);
	check_payload("{\"sid\":\"s\",\"role\":1,\"sub\":\"x\",\"iat\":1,\"exp\":1800000000}", SB_EAUTH);
	check_payload("{\"role\":\"scanner\",\"sub\":\"x\",\"iat\":1,\"exp\":1800000000}", SB_EAUTH);
	check_payload("{\"sid\":\"s\",\"role\":\"scanner\",\"iat\":1,\"exp\":1800000000}", SB_EAUTH);
	check_payload("{\"sid\":\"a/b\",\"role\":\"scanner\",\"sub\":\"x\",\"iat\":1,"
		      "\"exp\":1800000000}", SB_EAUTH);
	check_payload("{\"sid\":\"\",\"role\":\"scanner\",\"sub\":\"x\",\"iat\":1,"
		      "\"exp\":1800000000}", SB_EAUTH);
	check_payload("{\"sid\":7,\"role\":\"scanner\",\"sub\":\"x\",\"iat\":1,"
		      "\"exp\":1800000000}", SB_EAUTH);
	check_payload("{\"sid\":\"s\",\"role\":\"scanner\",\"sub\":\"x\",\"iat\":-1,"
		      "\"exp\":1800000000}", SB_EAUTH);
	check_payload("{\"sid\":\"s\",\"role\":\"scanner\",\"sub\":\"x\",\"iat\":1,"
		      "\"exp\":1800000000}", 0);
}

static void test_id_lengths(void)
{
	char payload[512], id[80];

	memset(id, 'a', sizeof id);
	id[SB_ID_MAX - 1] = '\0'; /* 63 chars: the longest that fits */
	snprintf(payload, sizeof payload, "{\"sid\":\"%s\",\"role\":\"scanner\",\"sub\":\"%s\","
		 "\"iat\":1,\"exp\":1800000000}", id, id);
	check_payload(payload, 0);
	id[SB_ID_MAX - 1] = 'a';
	id[SB_ID_MAX] = '\0';
	snprintf(payload, sizeof payload, "{\"sid\":\"%s\",\"role\":\"scanner\",\"sub\":\"x\","
		 "\"iat\":1,\"exp\":1800000000}", id);
	check_payload(payload, SB_EAUTH);
	snprintf(payload, sizeof payload, "{\"sid\":\"x\",\"role\":\"scanner\",\"sub\":\"%s\","
		 "\"iat\":1,\"exp\":1800000000}", id);
	check_payload(payload, SB_EAUTH);
}

static void test_garbage(void)
{
	char *good = sign(GOOD_PAYLOAD, JWT_ALG_HS256, KEY, 32), t[2100];
	struct auth_claims c;

	CHECK_EQ_INT(auth_verify(A, NULL, NOW, &c), SB_EAUTH);
	CHECK_EQ_INT(verify(A, ""), SB_EAUTH);
	CHECK_EQ_INT(verify(A, "garbage"), SB_EAUTH);
	CHECK_EQ_INT(verify(A, ".."), SB_EAUTH);
	CHECK_EQ_INT(verify(A, "a.b"), SB_EAUTH);
	CHECK_EQ_INT(verify(A, "a.b.c.d"), SB_EAUTH);
	CHECK_EQ_INT(verify(A, "Bearer x.y.z"), SB_EAUTH);
	snprintf(t, sizeof t, "%s.%s", good, strrchr(good, '.') + 1); /* four segments */
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	snprintf(t, sizeof t, "%s=", good); /* padding is not base64url here */
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	snprintf(t, sizeof t, " %s", good);
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	memset(t, 'a', 2000); /* 2000 chars, three segments */
	t[2000] = '\0';
	t[100] = t[1900] = '.';
	CHECK_EQ_INT(verify(A, t), SB_EAUTH);
	/* A genuine token padded past SB_TOKEN_MAX with junk claims is refused too. */
	{
		char payload[1400];
		memset(payload, 0, sizeof payload);
		snprintf(payload, sizeof payload, "{\"sid\":\"s\",\"role\":\"scanner\",\"sub\":\"x\","
			 "\"iat\":1,\"exp\":1800000000,\"pad\":\"%0900d\"}", 0);
		check_payload(payload, SB_EAUTH);
	}
	free(good);
}

static void tokens_setup(void)
{
	char *dir = new_dir();
	A = open_ok(dir);
	CHECK_EQ_INT(read_key(dir, KEY), 0);
}

static void tokens_teardown(void)
{
	char cmd[160];

	auth_close(A);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
	CHECK_EQ_INT(system(cmd), 0);
}

int main(void)
{
	static const struct check_case cases[] = {
		TEST(tokens_setup), TEST(test_secret_created), TEST(test_secret_reopen_same_key),
		TEST(test_secret_wrong_size), TEST(test_secret_readable_by_others),
		TEST(test_secret_odd_places), TEST(test_secret_link_fifo_owner),
		TEST(test_issue_verify_roundtrip),
		TEST(test_issue_same_bytes_as_libjwt), TEST(test_issue_refuses_bad_claims), TEST(test_good_payload_signed_here),
		TEST(test_alg_none), TEST(test_other_algs_same_key), TEST(test_other_key),
		TEST(test_tampered), TEST(test_truncated), TEST(test_expiry),
		TEST(test_claims), TEST(test_id_lengths), TEST(test_garbage),
		TEST(tokens_teardown),
	};

	umask(022);
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 1;
	}
	return check_run(cases, (int)(sizeof cases / sizeof cases[0]));
}
