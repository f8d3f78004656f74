/* SPDX-License-Identifier: MIT */
/* 16-byte IP addresses; see netaddr.h. */
#include <arpa/inet.h>
#include <string.h>

#include "netaddr.h"

#define LITERAL_MAX 46 /* INET6_ADDRSTRLEN */

static const unsigned char v4_prefix[12] = { [10] = 0xff, [11] = 0xff };

bool netaddr_parse(const char *s, size_t len, unsigned char out[16])
{
	char buf[LITERAL_MAX];
	struct in_addr v4;

	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, out) == 1)
		return true;
	if (inet_pton(AF_INET, buf, &v4) != 1)
		return false;
	memcpy(out, v4_prefix, sizeof(v4_prefix));
	memcpy(out + 12, &v4, 4);
	return true;
}

bool netaddr_is_v4(const unsigned char a[16])
{
	return !memcmp(a, v4_prefix, sizeof(v4_prefix));
}
