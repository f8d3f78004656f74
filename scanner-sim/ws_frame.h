/* SPDX-License-Identifier: MIT */
/* WebSocket framing (RFC 6455, section 5) for the simulator's client, with no
 * connection state: building a masked client frame in place, and reading one
 * server frame's header (unmasking its payload if the server masked it). The
 * connection (conn_ws.c) owns the buffers, the reassembly of fragments and
 * what each opcode means to it. Kept apart so that the byte layout can be
 * read, and checked, on its own. */
#ifndef WS_FRAME_H
#define WS_FRAME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
	WS_OP_CONT = 0x0, WS_OP_TEXT = 0x1, WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8, WS_OP_PING = 0x9, WS_OP_PONG = 0xA,
};

/* A client frame: FIN + opcode, MASK + length (7 bits, or 126 + 16 bits; our
 * frames are < 64 KiB), the 4-byte mask, the masked payload. The payload is
 * written at b + WS_FRAME_HDR (room for the longest header); ws_frame_make
 * builds the frame from b for the payload's real length and returns its
 * size. */
#define WS_FRAME_HDR 8

size_t ws_frame_make(char *buf, unsigned op, size_t n);

/* One received frame: its payload points into the parsed buffer. */
struct ws_frame_in {
	unsigned op;
	bool fin;
	char *payload;
	size_t len;
};

/* Reads the frame at p (n bytes available): its size when complete (f filled
 * in, a masked payload unmasked in place), 0 while incomplete, -1 for a
 * protocol error (RSV bits set, or a payload of max_len bytes or more). */
long ws_frame_parse(char *p, size_t n, size_t max_len, struct ws_frame_in *f);

/* Masks and handshake keys need no secrecy here, and drawing them from
 * sim_rand would change what a --seed run does: a generator of their own. */
uint32_t ws_mask_rand(void);
/* Seeds that generator, the first time only (later calls are no-ops). */
void ws_mask_seed(uint64_t seed);

#endif
