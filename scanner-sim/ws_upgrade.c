/* SPDX-License-Identifier: MIT */
/* The WebSocket upgrade request and the check of its answer (see
 * ws_upgrade.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE            /* memmem */
#endif
#include "ws_upgrade.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ws_frame.h"          /* ws_mask_rand: the key */

int ws_upgrade_request(char *buf, size_t cap, const char *base,
		       char accept[WS_ACCEPT_SIZE])
{
	unsigned char key[16], sha[SHA_DIGEST_LENGTH];
	char k64[32], cat[80];
	int n;

	for (int i = 0; i < 16; i += 4) {
		uint32_t r = ws_mask_rand();
		memcpy(key + i, &r, 4);
	}
	EVP_EncodeBlock((unsigned char *)k64, key, sizeof key);
	snprintf(cat, sizeof cat, "%s" WS_GUID, k64);
	SHA1((const unsigned char *)cat, strlen(cat), sha);
	EVP_EncodeBlock((unsigned char *)accept, sha, sizeof sha);
	/* The Host is the URL's host:port (the certificate's name is checked
	 * separately); Origin the daemon's own base, which its origin check allows. */
	n = snprintf(buf, cap,
		     "GET /ws HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Origin: %s\r\n"
		     "Sec-WebSocket-Protocol: " WS_SUBPROTOCOL "\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "\r\n", strstr(base, "://") + 3, k64, base);
	return n <= 0 || (size_t)n >= cap ? -1 : n;
}

long ws_upgrade_answer(char *buf, size_t len, const char *accept, char *why,
		       size_t why_cap)
{
	char *end = memmem(buf, len, "\r\n\r\n", 4), *line;
	int status = 0;
	bool accept_ok = false;

	if (!end)
		return 0;
	*end = '\0';
	if (sscanf(buf, "HTTP/%*u.%*u %d", &status) != 1 || status != 101) {
		snprintf(why, why_cap, "upgrade answered HTTP %d", status);
		return -1;
	}
	for (line = strstr(buf, "\r\n"); line;) {
		char *next, *colon, *v, *ve;
		line += 2;
		next = strstr(line, "\r\n");
		if (next)
			*next = '\0';
		colon = strchr(line, ':');
		if (colon) {
			*colon = '\0';
			for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
				;
			for (ve = v + strlen(v); ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); )
				*--ve = '\0';
			if (!strcasecmp(line, "sec-websocket-accept")) {
				accept_ok = !strcmp(v, accept);
			} else if (!strcasecmp(line, "sec-websocket-protocol") &&
				   strcmp(v, WS_SUBPROTOCOL)) {
				snprintf(why, why_cap, "the server chose another subprotocol");
				return -1;
			}
		}
		line = next;
	}
	if (!accept_ok) {
		snprintf(why, why_cap, "bad Sec-WebSocket-Accept");
		return -1;
	}
	return (long)(end + 4 - buf);
}
