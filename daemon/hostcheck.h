/* SPDX-License-Identifier: MIT */
/* Which Host names the daemon answers to: the defence against DNS rebinding.
 * A page on evil.example whose name is re-pointed at the box's address sends
 * `Host: evil.example` (and `Origin: http://evil.example`, which the origin
 * check alone would take for the box's own): such requests are refused.
 *
 * Allowed: public_url's host; localhost, *.localhost and loopback addresses;
 * the box's host name and <hostname>.local (for a host name with a domain,
 * also <first label>.local, the name mDNS publishes); every address of the
 * box's interfaces; the names in allowed_hosts ("*" = any Host at all). A
 * malformed Host (brackets around anything but an IPv6 literal, a port that
 * is not digits, over 255 bytes) matches nothing but "*". The port is not
 * compared: a rebinding attack changes the name, and a reverse proxy may
 * listen on another port. A request without Host (HTTP/1.0) is not from a
 * browser and passes. */
#ifndef SB_HOSTCHECK_H
#define SB_HOSTCHECK_H
#include <stdbool.h>
#include <stddef.h>

#define HOSTCHECK_MAX_ADDRS 32
#define HOSTCHECK_NAME_MAX 256

/* What the box is called: refreshed from the system, or set by tests. */
struct box_names {
	char hostname[HOSTCHECK_NAME_MAX];      /* lower case, "" if unknown */
	unsigned char addr[HOSTCHECK_MAX_ADDRS][16]; /* IPv4 as v4-mapped IPv6 */
	int n_addr;
};

/* The name part of a Host value (or of a URL after "://"), as sent:
 * "box.local:8080" -> "box.local",
 * "[fe80::1]:80" -> "[fe80::1]". */
void hostcheck_name_part(const char *host, char *out, size_t size);

/* Whether name (a host name or address, IPv6 in brackets or not, no port)
 * reaches only this computer, or no computer at all: localhost, loopback
 * addresses, 0.0.0.0 and ::. A link naming it is useless to a phone. */
bool hostcheck_is_local_only(const char *name);

/* The `hostname` option: used instead of gethostname(2) when not empty. */
void box_names_set_hostname(const char *name);

/* The address phones are best sent to: the first IPv4 address, then the
 * first IPv6 one (not link-local), that is not loopback, as text into out.
 * False when the box has none. */
bool box_names_lan_addr(const struct box_names *names, char *out, size_t size);

/* The box's names as read at most a minute ago (sooner when a request named
 * one not known yet, or the hostname option changed): for work done per
 * request. Valid until the next call of a hostcheck function. */
const struct box_names *box_names_current(void);

/* Fills names from the `hostname` option or gethostname(2), and getifaddrs(3). Returns 0 or SB_EIO
 * (names then holds what could be read). */
int box_names_read(struct box_names *names);

/* Pure: whether `host` (a Host header value: name, IPv4, or [IPv6], with an
 * optional :port) is one of the box's names. NULL or "" host: true. */
bool hostcheck_match(const char *host, const struct box_names *names,
		     const char *public_url, const char *allowed_hosts);

/* The daemon's check, with the box's names cached. An unknown name re-reads
 * them (at most once a second), so a new DHCP address or a renamed box is
 * picked up without a restart. */
bool hostcheck_allowed(const char *host, const char *public_url, const char *allowed_hosts);

#endif
