/* SPDX-License-Identifier: MIT */
/* Host header allow-list (DNS rebinding); see hostcheck.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "hostcheck.h"
#include "netaddr.h"
#include "sb_err.h"
#include "wordlist.h"

#define REREAD_MS 1000
/* A new DHCP address that no request named yet (the QR and pair links use
 * it) is picked up within this. */
#define NAMES_MAX_AGE_MS 60000

/* The name part of a Host value, lower case, without port or IPv6 brackets.
 * False when it does not fit or is malformed: brackets around anything but an
 * IPv6 literal, or a port that is not 0-5 digits ("localhost:80x", and an
 * unbracketed "::1", whose "port" would be ":1"). */
static bool host_name(const char *host, size_t len, char out[HOSTCHECK_NAME_MAX])
{
	const char *end = host + len, *name_end, *port;
	bool bracketed = len && host[0] == '[';
	size_t n;

	if (bracketed) {
		const char *br = memchr(host, ']', len);

		if (!br)
			return false;
		host++;
		name_end = br;
		port = br + 1;
	} else {
		const char *colon = memchr(host, ':', len);

		name_end = port = colon ? colon : end;
	}
	if (port < end) {
		if (*port++ != ':' || end - port > 5)
			return false;
		for (const char *d = port; d < end; d++)
			if (*d < '0' || *d > '9')
				return false;
	}
	n = (size_t)(name_end - host);
	if (!n || n >= HOSTCHECK_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)((host[i] >= 'A' && host[i] <= 'Z') ? host[i] + 32 : host[i]);
	out[n] = '\0';
	if (bracketed) {
		unsigned char a6[16];

		return inet_pton(AF_INET6, out, a6) == 1;
	}
	if (n > 1 && out[n - 1] == '.')
		out[n - 1] = '\0'; /* "box.local." is box.local */
	return true;
}

/* name as a 16-byte address (IPv4 v4-mapped); false when it is not one. */
static bool as_addr(const char *name, unsigned char out[16])
{
	return netaddr_parse(name, strlen(name), out);
}

/* Whether two names (from host_name) are the same: addresses by value, so
 * "2001:db8:0::9" in allowed_hosts is the [2001:db8::9] a browser sends. */
static bool same_name(const char *a, const char *b)
{
	unsigned char aa[16], ba[16];

	if (!strcmp(a, b))
		return true;
	return as_addr(a, aa) && as_addr(b, ba) && !memcmp(aa, ba, 16);
}

static bool is_loopback(const char *name, const unsigned char *addr)
{
	static const unsigned char v6_loop[16] = { [15] = 1 };
	size_t n = strlen(name);

	if (!strcmp(name, "localhost") || (n > 10 && !strcmp(name + n - 10, ".localhost")))
		return true;
	if (!addr)
		return false;
	return !memcmp(addr, v6_loop, 16) ||
	       (addr[10] == 0xff && addr[11] == 0xff && addr[12] == 127 && !memcmp(addr, v6_loop, 10));
}

/* Whether name is the host of url ("scheme://host[:port][/...]"). */
static bool is_url_host(const char *name, const char *url)
{
	const char *p = url ? strstr(url, "://") : NULL;
	char uh[HOSTCHECK_NAME_MAX];
	size_t n;

	if (!p)
		return false;
	p += 3;
	n = strcspn(p, "/?#");
	for (size_t i = n; i-- > 0;)
		if (p[i] == '@') { /* "http://user@box.lan/": the host is box.lan */
			n -= i + 1;
			p += i + 1;
			break;
		}
	return host_name(p, n, uh) && same_name(uh, name);
}

/* Whether name is in list; with name NULL, whether list has the "*" entry. */
static bool is_listed(const char *name, const char *list)
{
	const char *p = list, *e;
	char entry[HOSTCHECK_NAME_MAX];
	size_t n;

	while ((e = wordlist_next(&p, &n))) {
		if (n == 1 && *e == '*')
			return true;
		if (name && host_name(e, n, entry) && same_name(entry, name))
			return true;
	}
	return false;
}

/* Whether name is h's first k bytes followed by ".local". */
static bool is_dot_local(const char *name, const char *h, size_t k)
{
	return k && !strncmp(name, h, k) && !strcmp(name + k, ".local");
}

static bool is_box(const char *name, const unsigned char *addr, const struct box_names *b)
{
	size_t hn = strlen(b->hostname);

	/* mDNS (avahi) publishes the first label: box.example.com is box.local */
	if (hn && (!strcmp(name, b->hostname) || is_dot_local(name, b->hostname, hn) ||
		   is_dot_local(name, b->hostname, strcspn(b->hostname, "."))))
		return true;
	for (int i = 0; addr && i < b->n_addr; i++)
		if (!memcmp(addr, b->addr[i], 16))
			return true;
	return false;
}

bool hostcheck_match(const char *host, const struct box_names *names,
		     const char *public_url, const char *allowed_hosts)
{
	char name[HOSTCHECK_NAME_MAX];
	unsigned char addr[16];
	bool numeric;

	if (!host || !*host || is_listed(NULL, allowed_hosts))
		return true; /* "*": any Host, even one that does not parse */
	if (!host_name(host, strlen(host), name))
		return false;
	numeric = as_addr(name, addr);
	return is_loopback(name, numeric ? addr : NULL) || is_url_host(name, public_url) ||
	       is_listed(name, allowed_hosts) || is_box(name, numeric ? addr : NULL, names);
}

static void add_addr(struct box_names *b, const struct sockaddr *sa)
{
	unsigned char *out;

	if (!sa || b->n_addr >= HOSTCHECK_MAX_ADDRS)
		return;
	out = b->addr[b->n_addr];
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	} else if (sa->sa_family == AF_INET) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else {
		return;
	}
	b->n_addr++;
}

static char configured_hostname[HOSTCHECK_NAME_MAX];

/* The names as last read, shared by the host check and the link builders:
 * getifaddrs() is a dozen system calls, not something to do per request. */
static struct {
	struct box_names names;
	int64_t read_at;        /* monotonic ms */
	bool have;
} cache;

void box_names_set_hostname(const char *name)
{
	snprintf(configured_hostname, sizeof(configured_hostname), "%s", name ? name : "");
	cache.have = false; /* a renamed box is seen at once */
}

int box_names_read(struct box_names *names)
{
	struct ifaddrs *ifs = NULL;
	char hn[HOSTCHECK_NAME_MAX] = "";
	int rc = 0;

	memset(names, 0, sizeof(*names));
	if (configured_hostname[0])
		snprintf(hn, sizeof(hn), "%s", configured_hostname);
	else if (gethostname(hn, sizeof(hn) - 1))
		rc = SB_EIO;
	if (!rc && !host_name(hn, strlen(hn), names->hostname))
		rc = SB_EIO;
	if (getifaddrs(&ifs))
		return SB_EIO;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
		add_addr(names, i->ifa_addr);
	freeifaddrs(ifs);
	return rc;
}

static void cache_refresh(int64_t now)
{
	box_names_read(&cache.names);
	cache.read_at = now;
	cache.have = true;
}

const struct box_names *box_names_current(void)
{
	int64_t now = clock_mono_ms();

	if (!cache.have || now - cache.read_at >= NAMES_MAX_AGE_MS)
		cache_refresh(now);
	return &cache.names;
}

bool hostcheck_allowed(const char *host, const char *public_url, const char *allowed_hosts)
{
	const struct box_names *names = box_names_current();
	int64_t now;

	if (hostcheck_match(host, names, public_url, allowed_hosts))
		return true;
	now = clock_mono_ms();
	if (now - cache.read_at < REREAD_MS)
		return false;
	cache_refresh(now);
	return hostcheck_match(host, names, public_url, allowed_hosts);
}

void hostcheck_name_part(const char *host, char *out, size_t size)
{
	size_t n = host[0] == '[' ? strcspn(host, "]") + (strchr(host, ']') ? 1 : 0)
				  : strcspn(host, ":/");

	snprintf(out, size, "%.*s", (int)n, host);
}

bool hostcheck_is_local_only(const char *name)
{
	static const unsigned char any[16];
	char bare[HOSTCHECK_NAME_MAX];
	unsigned char a[16];
	size_t n = strlen(name);

	if (n >= sizeof(bare))
		return false;
	if (name[0] == '[' && n > 2 && name[n - 1] == ']')
		snprintf(bare, sizeof(bare), "%.*s", (int)(n - 2), name + 1);
	else
		snprintf(bare, sizeof(bare), "%s", name);
	for (char *c = bare; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (!as_addr(bare, a))
		return is_loopback(bare, NULL);
	return is_loopback(bare, a) || !memcmp(a, any, 16) ||
	       (netaddr_is_v4(a) && !a[12] && !a[13] && !a[14] && !a[15]);
}

/* fe80::/10: valid only with an interface index a URL cannot carry well. */
static bool is_link_local_v6(const unsigned char a[16])
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static bool usable_lan_addr(const unsigned char a[16], bool want_v4)
{
	return netaddr_is_v4(a) == want_v4 && !is_loopback("", a) &&
	       (want_v4 || !is_link_local_v6(a));
}

bool box_names_lan_addr(const struct box_names *names, char *out, size_t size)
{
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < names->n_addr; i++) {
			const unsigned char *a = names->addr[i];

			if (!usable_lan_addr(a, pass == 0))
				continue;
			if (pass == 0)
				return inet_ntop(AF_INET, a + 12, out, (socklen_t)size) != NULL;
			return inet_ntop(AF_INET6, a, out, (socklen_t)size) != NULL;
		}
	return false;
}
