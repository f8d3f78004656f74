/* SPDX-License-Identifier: MIT */
/* WebSocket frames of the simulator's client (see ws_frame.h): masked client
 * frames built in place, server frame headers read, and the generator of the
 * masks (also of the upgrade's keys, ws_upgrade.c). */
#include "ws_frame.h"

#include <string.h>

static uint64_t mask_state;

void ws_mask_seed(uint64_t seed)
{
	if (!mask_state)
		mask_state = seed;
}

uint32_t ws_mask_rand(void)
{
	mask_state ^= mask_state >> 12;
	mask_state ^= mask_state << 25;
	mask_state ^= mask_state >> 27;
	return (uint32_t)((mask_state * 0x2545F4914F6CDD1Dull) >> 32);
}

size_t ws_frame_make(char *buf, unsigned op, size_t n)
{
	unsigned char *b = (unsigned char *)buf, *p;
	uint32_t m = ws_mask_rand();
	unsigned char mk[4] = { (unsigned char)m, (unsigned char)(m >> 8),
				(unsigned char)(m >> 16), (unsigned char)(m >> 24) };

	b[0] = (unsigned char)(0x80 | op);
	if (n < 126) {
		memmove(b + 6, b + WS_FRAME_HDR, n);
		b[1] = (unsigned char)(0x80 | n);
		p = b + 2;
	} else {
		b[1] = 0x80 | 126;
		b[2] = (unsigned char)(n >> 8);
		b[3] = (unsigned char)n;
		p = b + 4;
	}
	memcpy(p, mk, 4);
	p += 4;
	for (size_t i = 0; i < n; i++)
		p[i] ^= mk[i & 3];
	return (size_t)(p - b) + n;
}

long ws_frame_parse(char *p, size_t n, size_t max_len, struct ws_frame_in *f)
{
	unsigned char *b = (unsigned char *)p;
	uint64_t len;
	size_t hl = 2;

	if (n < 2)
		return 0;
	if (b[0] & 0x70)                 /* RSV bits: no extension was negotiated */
		return -1;
	len = b[1] & 0x7f;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)b[2] << 8 | b[3];
		hl = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | b[2 + i];
		hl = 10;
	}
	if (len >= max_len)
		return -1;
	if (b[1] & 0x80)
		hl += 4;
	if (n < hl + len)
		return 0;
	if (b[1] & 0x80) {               /* a server must not mask; undo it anyway */
		const unsigned char *mk = b + hl - 4;
		for (size_t i = 0; i < len; i++)
			b[hl + i] ^= mk[i & 3];
	}
	f->op = b[0] & 0x0f;
	f->fin = b[0] & 0x80;
	f->payload = p + hl;
	f->len = (size_t)len;
	return (long)(hl + (size_t)len);
}
