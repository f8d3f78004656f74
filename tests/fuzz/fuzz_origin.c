/* SPDX-License-Identifier: MIT */
/* libFuzzer target for origin_allowed: the input splits at newlines into
 * Origin, Host, public_url and allowed_origins. Invariants: an origin is always
 * allowed by "*", by its own value as public_url, and a missing origin always. */
#include <string.h>

#include "fuzz.h"
#include "origin.h"

static char *take_line(char **p)
{
	char *s = *p, *nl = s ? strchr(s, '\n') : NULL;

	if (nl) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = NULL;
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *p = buf;
	const char *origin, *host, *pub, *allowed;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	origin = take_line(&p);
	host = p ? take_line(&p) : NULL;
	pub = p ? take_line(&p) : "";
	allowed = p ? p : "";
	(void)origin_allowed(origin, host, pub, allowed);
	FUZZ_ASSERT(origin_allowed(origin, NULL, "", "*"));
	FUZZ_ASSERT(origin_allowed(NULL, host, pub, allowed));
	if (!strncmp(origin, "http://", 7) && strlen(origin) > 7 && strlen(origin) < 200 &&
	    !strpbrk(origin + 7, "/?#"))
		FUZZ_ASSERT(origin_allowed(origin, NULL, origin, ""));
	free(buf);
	return 0;
}
