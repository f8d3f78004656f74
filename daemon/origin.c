/* SPDX-License-Identifier: MIT */
/* Origin allow-list matching; see origin.h. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "origin.h"
#include "wordlist.h"

#define ORIGIN_MAX 256

/* Normalises "scheme://host[:port][/...]" to lower-case "scheme://host:port"
 * with the default port made explicit. Returns false for anything else. */
static bool normalise(const char *in, size_t len, char out[ORIGIN_MAX])
{
	const char *p, *end = in + len, *hostend;
	int defport;
	size_t n;

	if (len > 8 && !strncasecmp(in, "https://", 8))
		p = in + 8, defport = 443;
	else if (len > 7 && !strncasecmp(in, "http://", 7))
		p = in + 7, defport = 80;
	else
		return false;
	hostend = p;
	while (hostend < end && *hostend != '/' && *hostend != '?' && *hostend != '#')
		hostend++;
	n = (size_t)(hostend - in);
	if (hostend == p || n >= ORIGIN_MAX - 8)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)((in[i] >= 'A' && in[i] <= 'Z') ? in[i] + 32 : in[i]);
	out[n] = '\0';
	/* a port is present if the authority has a ':' after any IPv6 ']' */
	const char *br = memchr(p, ']', (size_t)(hostend - p));
	const char *colon = memchr(br ? br : p, ':', (size_t)(hostend - (br ? br : p)));
	if (!colon)
		snprintf(out + n, ORIGIN_MAX - n, ":%d", defport);
	return true;
}

static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
	char na[ORIGIN_MAX], nb[ORIGIN_MAX];

	return normalise(a, alen, na) && normalise(b, blen, nb) && !strcmp(na, nb);
}

static bool listed(const char *origin, const char *allowed)
{
	const char *p = allowed, *e;
	size_t n;

	while ((e = wordlist_next(&p, &n)))
		if ((n == 1 && *e == '*') || same(origin, strlen(origin), e, n))
			return true;
	return false;
}

static bool matches_host(const char *origin, const char *host)
{
	char url[ORIGIN_MAX];
	const char *schemes[] = { "http://", "https://" };

	for (int i = 0; host && *host && i < 2; i++) {
		int n = snprintf(url, sizeof(url), "%s%s", schemes[i], host);

		if (n > 0 && n < (int)sizeof(url) && same(origin, strlen(origin), url, (size_t)n))
			return true;
	}
	return false;
}

bool origin_allowed(const char *origin, const char *host, const char *public_url,
		    const char *allowed)
{
	if (!origin || !*origin)
		return true;
	if (public_url && *public_url && same(origin, strlen(origin), public_url, strlen(public_url)))
		return true;
	return matches_host(origin, host) || listed(origin, allowed);
}
