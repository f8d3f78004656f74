/* SPDX-License-Identifier: MIT */
/* Client address behind trusted reverse proxies; see client_ip.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client_ip.h"
#include "netaddr.h"
#include "sb_err.h"
#include "wordlist.h"

#define HOPS_MAX 16 /* proxy hops looked at; a longer chain is cut at the left */

static bool prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)bytes))
		return false;
	return !rest || ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest))) == 0;
}

/* One list entry ("addr" or "addr/bits") against a; -1 when malformed. The
 * bits count for the notation: up to 32 for IPv4 ("10.0.0.0/8"), up to 128
 * for IPv6, v4-mapped included ("::ffff:10.0.0.0/104" is 10.0.0.0/8; a
 * v4-mapped block shorter than /96 is malformed). */
static int entry_matches(const char *e, size_t n, const unsigned char a[16])
{
	const char *slash = memchr(e, '/', n);
	size_t alen = slash ? (size_t)(slash - e) : n;
	bool v4_text = !memchr(e, ':', alen);
	unsigned char net[16];
	int bits = 128;

	if (!netaddr_parse(e, alen, net))
		return -1;
	if (slash) {
		size_t k = n - alen - 1;

		if (!k || k > 3)
			return -1;
		bits = 0;
		for (size_t i = 0; i < k; i++) {
			if (slash[1 + i] < '0' || slash[1 + i] > '9')
				return -1;
			bits = bits * 10 + (slash[1 + i] - '0');
		}
		if (bits > (v4_text ? 32 : 128))
			return -1;
		/* "::ffff:10.0.0.0/8" would be every IPv4 address: refused */
		if (!v4_text && netaddr_is_v4(net) && bits < 96)
			return -1;
		if (v4_text)
			bits += 96;
	}
	return netaddr_is_v4(net) == netaddr_is_v4(a) && prefix_equal(net, a, bits);
}

static bool trusted_bin(const unsigned char a[16], const char *trusted)
{
	const char *p = trusted, *e;
	size_t n;

	while ((e = wordlist_next(&p, &n)))
		if (entry_matches(e, n, a) == 1)
			return true;
	return false;
}

bool client_ip_trusted(const char *addr, const char *trusted)
{
	unsigned char a[16];

	return addr && netaddr_parse(addr, strlen(addr), a) && trusted_bin(a, trusted);
}

int client_ip_check_list(const char *trusted, char *bad, size_t bad_len)
{
	static const unsigned char any[16];
	const char *p = trusted, *e;
	size_t n;

	while ((e = wordlist_next(&p, &n)))
		if (entry_matches(e, n, any) < 0) {
			snprintf(bad, bad_len, "%.*s", (int)n, e);
			return SB_EINVAL;
		}
	return 0;
}

/* One hop as the proxies wrote it: strips quotes, IPv6 brackets and a port. */
static bool hop_addr(const char *s, size_t n, unsigned char out[16])
{
	while (n && (*s == ' ' || *s == '\t' || *s == '"'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '"'))
		n--;
	if (n && *s == '[') {
		const char *br = memchr(s, ']', n);

		/* "[2001:db8::17]" or "[2001:db8::17]:4711", nothing else */
		return br && (br + 1 == s + n || br[1] == ':') &&
		       netaddr_parse(s + 1, (size_t)(br - s - 1), out);
	}
	if (memchr(s, ':', n) && memchr(s, '.', n) && !netaddr_parse(s, n, out))
		n = (size_t)((const char *)memchr(s, ':', n) - s); /* "1.2.3.4:5678" */
	return netaddr_parse(s, n, out);
}

/* The for= value of one Forwarded element ("for=x;proto=y"), or NULL. */
static const char *forwarded_for(const char *el, size_t n, size_t *len)
{
	const char *p = el, *end = el + n;

	while (p < end) {
		size_t k = strcspn(p, ";");

		if (k > (size_t)(end - p))
			k = (size_t)(end - p);
		while (k && (*p == ' ' || *p == '\t'))
			p++, k--;
		if (k >= 4 && !strncasecmp(p, "for=", 4)) {
			*len = k - 4;
			return p + 4;
		}
		p += k + 1;
	}
	return NULL;
}

/* Splits a header into hops, in order; returns how many (the last HOPS_MAX).
 * Empty elements ("a,,b", "a, ") are no hops: HTTP lists may have them. */
static int split_hops(const char *h, bool forwarded, const char *hop[HOPS_MAX],
		      size_t hop_len[HOPS_MAX])
{
	int n = 0;

	for (const char *p = h; p && *p;) {
		size_t k = strcspn(p, ","), vl = k;
		const char *v;

		if (strspn(p, " \t") >= k) {
			p += k + (p[k] == ',');
			continue;
		}
		v = forwarded ? forwarded_for(p, k, &vl) : p;
		if (n == HOPS_MAX) {
			memmove(hop, hop + 1, sizeof(hop[0]) * (HOPS_MAX - 1));
			memmove(hop_len, hop_len + 1, sizeof(hop_len[0]) * (HOPS_MAX - 1));
			n--;
		}
		hop[n] = v;
		hop_len[n++] = v ? vl : 0;
		p += k + (p[k] == ',');
	}
	return n;
}

static void format_addr(const unsigned char a[16], char out[CLIENT_IP_MAX])
{
	if (netaddr_is_v4(a))
		inet_ntop(AF_INET, a + 12, out, CLIENT_IP_MAX);
	else
		inet_ntop(AF_INET6, a, out, CLIENT_IP_MAX);
}

void client_ip_resolve(const char *peer, const char *forwarded, const char *xff,
		       const char *trusted, char out[CLIENT_IP_MAX])
{
	const char *hop[HOPS_MAX], *h;
	size_t hop_len[HOPS_MAX];
	unsigned char a[16];
	int n;

	snprintf(out, CLIENT_IP_MAX, "%s", peer ? peer : "");
	if (!client_ip_trusted(peer, trusted))
		return;
	h = xff && *xff ? xff : forwarded;
	n = split_hops(h, h != xff, hop, hop_len);
	while (n-- > 0) {
		/* a hop that is not an address ("unknown", "_hidden"): the trusted
		 * proxy after it is as close to the client as we can tell */
		if (!hop[n] || !hop_addr(hop[n], hop_len[n], a))
			return;
		format_addr(a, out);
		if (!trusted_bin(a, trusted))
			return;
	}
}
