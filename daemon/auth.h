/* SPDX-License-Identifier: MIT */
/* Tokens: the appliance secret (32 random bytes created on first start, file mode
 * 0600 in the data dir) and HS256 JWTs with claims sid, role, sub, iat, exp.
 * The compact form, the algorithm pin and every claim are checked here; the
 * HMAC-SHA256 is nettle's (auth.c says why not libjwt).
 * Whether the session still exists / the scanner is kicked is checked by the
 * session layer, not here. */
#ifndef SB_AUTH_H
#define SB_AUTH_H
#include <stdint.h>
#include "message.h"

#define AUTH_SECRET_FILE "secret"
#define AUTH_SECRET_BYTES 32

enum sb_role { SB_ROLE_DESKTOP = 0, SB_ROLE_SCANNER = 1 };

struct auth;

struct auth_claims {
	char sid[SB_ID_MAX];
	enum sb_role role;
	char sub[SB_ID_MAX];    /* scanner id, or "desktop" */
	int64_t iat, exp;       /* seconds */
};

/* Loads <data_dir>/secret, creating it (0600, O_EXCL) when absent. Refuses a
 * secret that is a symbolic link or not a regular file, not owned by the
 * daemon's uid, of the wrong size, or readable by group/others. Returns 0, or
 * SB_EIO / SB_ECONFIG (or SB_ENOMEM) with a one-line reason in err. */
int auth_open(struct auth **out, const char *data_dir, char *err, size_t errlen);

/* Wipes the key and frees. NULL is fine. */
void auth_close(struct auth *a);

/* Signs a token. *token_out is malloc'd (free()). Returns 0, SB_ENOMEM, or
 * SB_EINVAL for claims auth_verify would refuse (sid/sub not 1..SB_ID_MAX-1 chars
 * of [A-Za-z0-9_-], unknown role, negative iat/exp). */
int auth_issue(const struct auth *a, const struct auth_claims *c, char **token_out);

/* Verifies signature (HS256 only, alg none and others refused), the presence and
 * types of all claims, a known role, and exp > now_s. Returns 0 and fills *out,
 * SB_EEXPIRED when only exp failed, SB_EAUTH for anything else. On SB_EEXPIRED
 * *out is filled too (the claims are authentic); on SB_EAUTH it is zeroed. */
int auth_verify(const struct auth *a, const char *token, int64_t now_s,
		struct auth_claims *out);

const char *auth_role_name(enum sb_role r);

#endif
