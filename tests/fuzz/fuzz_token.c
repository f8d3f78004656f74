/* SPDX-License-Identifier: MIT */
/* Fuzzes auth_verify with a fixed key: an appliance secret created once by
 * auth_open in a mkdtemp directory. Each input is verified twice:
 *   1. as a token, exactly as a client would send it;
 *   2. signed: the input is "<header JSON>\n<payload JSON>" (or just the
 *      payload, under {"alg":"HS256","typ":"JWT"}), base64url-encoded and
 *      signed with the secret, so the claim checks behind the signature are
 *      fuzzed too.
 * Invariants from auth.h: only 0, SB_EEXPIRED or SB_EAUTH; on success a
 * non-empty sid and sub and a known role, exp after now; on SB_EAUTH zeroed
 * claims; and accepted claims re-issue into a token that verifies the same. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "rand.h"
#include "fuzz.h"
#include "sb_err.h"

#define NOW_S 1795000000LL
#define DEFAULT_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static struct auth *auth;
static unsigned char key[AUTH_SECRET_BYTES];
static char dir[] = "/tmp/sb-fuzz-token-XXXXXX";

static void cleanup(void)
{
	char path[sizeof dir + sizeof AUTH_SECRET_FILE + 1];

	auth_close(auth);
	snprintf(path, sizeof path, "%s/%s", dir, AUTH_SECRET_FILE);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256], path[sizeof dir + sizeof AUTH_SECRET_FILE + 1];
	int fd;

	if (!mkdtemp(dir) || auth_open(&auth, dir, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_token: cannot set up a secret in %s: %s\n", dir, err);
		abort();
	}
	snprintf(path, sizeof path, "%s/%s", dir, AUTH_SECRET_FILE);
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, key, sizeof key) != (ssize_t)sizeof key) {
		fprintf(stderr, "fuzz_token: cannot read %s\n", path);
		abort();
	}
	close(fd);
	atexit(cleanup);
	return 0;
}

/* The daemon's own encoder (rand.h); the buffer is sized by the caller. */
static size_t b64url(const unsigned char *in, size_t n, char *out)
{
	int w = base64url_encode(in, n, out, (n + 2) / 3 * 4 + 1);

	return w < 0 ? 0 : (size_t)w;
}

/* "<b64 header>.<b64 payload>.<b64 HMAC-SHA256>", malloc'd. */
static char *sign(const char *header, size_t hlen, const char *payload, size_t plen)
{
	char *tok = malloc((hlen + plen + 32) / 3 * 4 + 64);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	size_t n;

	if (!tok)
		return NULL;
	n = b64url((const unsigned char *)header, hlen, tok);
	tok[n++] = '.';
	n += b64url((const unsigned char *)payload, plen, tok + n);
	if (!HMAC(EVP_sha256(), key, sizeof key, (unsigned char *)tok, n, mac, &maclen)) {
		free(tok);
		return NULL;
	}
	tok[n++] = '.';
	n += b64url(mac, maclen, tok + n);
	tok[n] = '\0';
	return tok;
}

static int id_ok(const char *s)
{
	size_t n = strnlen(s, SB_ID_MAX);

	if (n == 0 || n >= SB_ID_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static void verify(const char *token)
{
	static const struct auth_claims zero;
	struct auth_claims c, again;
	char *tok2 = NULL;
	int rc = auth_verify(auth, token, NOW_S, &c);

	FUZZ_ASSERT(rc == 0 || rc == SB_EEXPIRED || rc == SB_EAUTH);
	if (rc == SB_EAUTH) {
		FUZZ_ASSERT(memcmp(&c, &zero, sizeof c) == 0);
		return;
	}
	FUZZ_ASSERT(c.sid[0] != '\0' && id_ok(c.sid) && id_ok(c.sub));
	FUZZ_ASSERT(c.role == SB_ROLE_DESKTOP || c.role == SB_ROLE_SCANNER);
	FUZZ_ASSERT(c.iat >= 0 && c.exp >= 0);
	FUZZ_ASSERT(rc == 0 ? c.exp > NOW_S : c.exp <= NOW_S);

	FUZZ_ASSERT(auth_issue(auth, &c, &tok2) == 0);
	FUZZ_ASSERT(auth_verify(auth, tok2, NOW_S, &again) == rc);
	FUZZ_ASSERT(strcmp(again.sid, c.sid) == 0 && strcmp(again.sub, c.sub) == 0 &&
		    again.role == c.role && again.iat == c.iat && again.exp == c.exp);
	free(tok2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nl = memchr(in, '\n', size);
	char *copy = malloc(size + 1), *signed_tok;

	if (!copy)
		return 0;
	memcpy(copy, in, size);
	copy[size] = '\0';
	verify(copy);
	free(copy);

	if (nl)
		signed_tok = sign(in, (size_t)(nl - in), nl + 1, size - (size_t)(nl - in) - 1);
	else
		signed_tok = sign(DEFAULT_HEADER, strlen(DEFAULT_HEADER), in, size);
	if (signed_tok)
		verify(signed_tok);
	free(signed_tok);
	return 0;
}
