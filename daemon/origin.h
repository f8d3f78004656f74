/* SPDX-License-Identifier: MIT */
/* Which browser origins may call the API and open /ws: the appliance's own
 * (its public URL, or the Host the request came to) and the configured POS
 * origins. Requests without an Origin header (not from a browser page) are
 * not subject to it. Pure functions, unit-tested and fuzzable. */
#ifndef SB_ORIGIN_H
#define SB_ORIGIN_H
#include <stdbool.h>

/* True when origin ("scheme://host[:port]", compared case-insensitively, a
 * default port equal to none) is public_url's origin, is http(s)://<host>
 * for the request's Host header (host may be NULL), or is listed in allowed
 * (space- or comma-separated; "*" allows any). NULL or empty origin: true. */
bool origin_allowed(const char *origin, const char *host, const char *public_url,
		    const char *allowed);

#endif
