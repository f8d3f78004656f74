/* SPDX-License-Identifier: MIT */
/* The hot path of the wire messages (message.h), without a cJSON tree: the
 * fixed-shape client messages a busy relay receives once per scan (`scan`,
 * `ack`, `ping`, written the way proto/client.c writes them) are recognised
 * by hand; everything else goes to message.c's cJSON decoder. Internal to
 * proto/: the daemon uses message.h. */
#ifndef SB_FASTJSON_H
#define SB_FASTJSON_H
#include <stdbool.h>
#include <stddef.h>

#include "message.h"

/* Decodes buf[0..len) into *out (already reset to its defaults, as
 * sb_msg_decode does) when it is exactly one of
 *   {"type":"ack","seq":N}
 *   {"type":"ping"}
 *   {"type":"scan","id":S,"code":S,"format":S[,"scanned_at":N]}
 * with no whitespace, S a string without escapes or bytes below 0x20, N 0 or
 * up to 15 digits without a leading zero, and every field valid. Returns
 * true when it did; false leaves *out untouched and the frame to the cJSON
 * path. For every frame it takes, the cJSON path gives the same *out and 0
 * (tests/fuzz/fuzz_fastjson.c compares them). */
bool sb_fast_decode(const char *buf, size_t len, struct sb_client_msg *out);

/* sb_msg_decode by the cJSON path alone (message.c): what the fast path is
 * held to, in the unit tests and the fuzz target. */
int sb_msg_decode_tree(const char *buf, size_t len, int max_depth,
		       struct sb_client_msg *out, struct sb_msg_error *err);

#endif
