/* SPDX-License-Identifier: MIT */
/* The client address that per-IP limits key on. Normally the TCP peer; behind
 * a reverse proxy every client would then be the proxy, and one busy till
 * would use up everyone's budget. When the peer is listed in trusted_proxies
 * (addresses or CIDR blocks), the client is read from what the proxies
 * appended: `X-Forwarded-For`, or when there is none the `for=` elements
 * of `Forwarded` (RFC 7239), walked from the right, skipping trusted proxies;
 * the first address that is not one is the client. X-Forwarded-For comes
 * first because it is what nginx (`$proxy_add_x_forwarded_for`) and HAProxy
 * (`option forwardfor`) append: a client's own `Forwarded` passes through
 * them untouched and must not win over what the proxy wrote. Headers from an
 * untrusted peer are ignored (anyone can send them). Pure functions,
 * fuzzable. */
#ifndef SB_CLIENT_IP_H
#define SB_CLIENT_IP_H
#include <stdbool.h>
#include <stddef.h>

#define CLIENT_IP_MAX 46 /* INET6_ADDRSTRLEN */

/* Whether `addr` (an IPv4 or IPv6 literal) is in `trusted` (space- or
 * comma-separated addresses and CIDR blocks; malformed entries never match). */
bool client_ip_trusted(const char *addr, const char *trusted);

/* Writes the client address into out (a canonical literal, or the peer as
 * given when nothing better is known). forwarded and xff may be NULL. */
void client_ip_resolve(const char *peer, const char *forwarded, const char *xff,
		       const char *trusted, char out[CLIENT_IP_MAX]);

/* Whether `trusted` is well-formed (config check): 0, or SB_EINVAL with the
 * bad entry copied to bad (bad_len bytes). */
int client_ip_check_list(const char *trusted, char *bad, size_t bad_len);

#endif
