/* SPDX-License-Identifier: MIT */
/* The barcode decoder as a module loaded on first use. decode.cpp (ZXing-C++)
 * and image.c (libjpeg-turbo, libspng) are built into scanbridge-decode.so,
 * which the daemon dlopen()s when the first image reaches the decode worker
 * pool: a daemon that never decodes never maps libstdc++, libZXing,
 * libjpeg or libspng (about 1.8 MiB of RSS). The module exports one
 * symbol, DECODE_MODULE_SYMBOL, a struct decode_module_api whose abi and
 * version must match this build's, so a stale module is refused.
 *
 * Where it is looked for, first match wins:
 *   1. $SB_DECODE_MODULE, when set and not empty (only there: for tests and
 *      odd layouts);
 *   2. <dir of the executable>/DECODE_MODULE_RELDIR/DECODE_MODULE_FILE, which
 *      holds in the build tree (it mirrors the install layout), after
 *      `cmake --install` and for a copied bin/ + lib/ tree;
 *   3. DECODE_MODULE_INSTALL_PATH, the absolute path it was installed to.
 * The module is never unloaded (ZXing keeps static state). */
#ifndef SB_DECODE_MODULE_H
#define SB_DECODE_MODULE_H
#include <stddef.h>

#include "assert_net.h"
#include "decode.h"

#define DECODE_MODULE_ABI 2 /* 2: struct image_limits grew */
#define DECODE_MODULE_SYMBOL "sb_decode_module"
#define DECODE_MODULE_ENV "SB_DECODE_MODULE"

/* What the module exports. abi and version are read first; nothing else is
 * touched unless both match the loader's. */
struct decode_module_api {
	unsigned abi;            /* DECODE_MODULE_ABI of the module's build */
	const char *version;     /* SB_VERSION of the module's build */
	/* decode.h's functions of the same names */
	int (*decode_image)(const uint8_t *buf, size_t len, const struct image_limits *lim,
			    unsigned formats_mask, struct decode_result *out, int max, int *n,
			    double *ms);
	unsigned long (*zxing_asserts)(void);
	int (*assert_net_selftest)(void);
	/* handed to assert_net_set_hook() before the first decode */
	assert_hook_fn assert_hook;
};

/* The module's API, loaded on the first call (any thread; later calls return
 * at once). NULL when it cannot be loaded: the reason (dlerror() text, or a
 * version mismatch) is logged once as an error, and every later call returns
 * NULL too — the daemon keeps running without server-side decoding. */
const struct decode_module_api *decode_module_get(void);

/* Writes the path the module would be loaded from to buf: the first candidate
 * (see the top) that exists, else the exe-relative one (or $SB_DECODE_MODULE).
 * Returns 0 when that file exists, SB_ENOTFOUND when no candidate does. */
int decode_module_path(char *buf, size_t size);

/* Start-up check (no dlopen): logs a warning naming the path when the module
 * file is not there, so a broken install shows before the first image does. */
void decode_module_check(void);

#endif
