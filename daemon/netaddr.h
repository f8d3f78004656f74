/* SPDX-License-Identifier: MIT */
/* IP addresses as 16 bytes: IPv6 as is, IPv4 v4-mapped (::ffff:a.b.c.d), so
 * that one comparison serves both families (hostcheck.c, client_ip.c). */
#ifndef SB_NETADDR_H
#define SB_NETADDR_H
#include <stdbool.h>
#include <stddef.h>

/* Parses the len bytes at s (an IPv6 or dotted-quad IPv4 literal, no
 * brackets, no port; s need not be NUL-terminated) into out. False when they
 * are not one (out is then undefined). */
bool netaddr_parse(const char *s, size_t len, unsigned char out[16]);

/* Whether a holds an IPv4 address (v4-mapped). */
bool netaddr_is_v4(const unsigned char a[16]);

#endif
