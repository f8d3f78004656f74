/* SPDX-License-Identifier: MIT */
/* The one symbol scanbridge-decode.so exports (everything else in the module
 * is hidden): its ABI, its version and decode.h's entry points, read by the
 * loader in the daemon (decode_module.c). Only in the module, never in a
 * program that links the decoder statically. */
#include "decode_module.h"

extern const struct decode_module_api sb_decode_module __attribute__((visibility("default")));

const struct decode_module_api sb_decode_module = {
	.abi = DECODE_MODULE_ABI,
	.version = SB_VERSION,
	.decode_image = decode_image,
	.zxing_asserts = decode_zxing_asserts,
	.assert_net_selftest = decode__assert_net_selftest,
	.assert_hook = decode__assert_hook,
};
