/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 upgrade to WebSocket (RFC 6455, section 4) of the simulator's
 * client, with no socket: the request it sends (a fresh key, the expected
 * Sec-WebSocket-Accept derived from it) and the check of the server's answer
 * (101, that accept value, our subprotocol). The connection (conn_ws.c) does
 * the reading and writing. */
#ifndef WS_UPGRADE_H
#define WS_UPGRADE_H
#include <stddef.h>

#define WS_SUBPROTOCOL "scanbridge.v1"
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_ACCEPT_SIZE 32   /* a Sec-WebSocket-Accept value (28 chars) + NUL, rounded */

/* Writes the upgrade request for GET /ws to the daemon at base
 * (http(s)://host:port: the Host, and the Origin, which the daemon's origin
 * check allows) into buf, and the accept value to expect into accept. Returns
 * its length, or -1 when it does not fit in cap bytes. */
int ws_upgrade_request(char *buf, size_t cap, const char *base,
		       char accept[WS_ACCEPT_SIZE]);

/* Checks the answer at buf (len bytes so far): the length of its headers when
 * they are complete and say 101 with the expected accept value (and no other
 * subprotocol), 0 while incomplete, -1 when refused (why says how). Writes
 * NULs into the headers. */
long ws_upgrade_answer(char *buf, size_t len, const char *accept, char *why,
		       size_t why_cap);

#endif
