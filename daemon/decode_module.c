/* SPDX-License-Identifier: MIT */
/* Loads the decoder module (see decode_module.h) once, on the first image:
 * finds the file, dlopen()s it, checks its ABI and version, and installs its
 * assert hook (assert_net.c) before anyone can decode. Never dlclose()d. */
#include "decode_module.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sb_err.h"

#ifndef DECODE_MODULE_FILE
#define DECODE_MODULE_FILE "scanbridge-decode.so"
#endif
#ifndef DECODE_MODULE_RELDIR
#define DECODE_MODULE_RELDIR "../lib/scanbridge"
#endif
#ifndef DECODE_MODULE_INSTALL_PATH
#define DECODE_MODULE_INSTALL_PATH "/usr/local/lib/scanbridge/" DECODE_MODULE_FILE
#endif

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const struct decode_module_api *api;

/* <dir of the executable>/DECODE_MODULE_RELDIR/DECODE_MODULE_FILE. */
static int exe_relative(char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int len;

	if (n <= 0)
		return SB_ENOTFOUND;
	exe[n] = '\0';
	len = snprintf(buf, size, "%s/%s/%s", dirname(exe), DECODE_MODULE_RELDIR, DECODE_MODULE_FILE);
	return len > 0 && (size_t)len < size ? 0 : SB_ENOTFOUND;
}

int decode_module_path(char *buf, size_t size)
{
	const char *env = getenv(DECODE_MODULE_ENV);
	char rel[PATH_MAX + 64];
	bool have_rel;

	if (env && *env) {
		snprintf(buf, size, "%s", env);
		return access(env, R_OK) ? SB_ENOTFOUND : 0;
	}
	have_rel = exe_relative(rel, sizeof(rel)) == 0;
	if (have_rel && !access(rel, R_OK)) {
		snprintf(buf, size, "%s", rel);
		return 0;
	}
	if (!access(DECODE_MODULE_INSTALL_PATH, R_OK)) {
		snprintf(buf, size, "%s", DECODE_MODULE_INSTALL_PATH);
		return 0;
	}
	snprintf(buf, size, "%s", have_rel ? rel : DECODE_MODULE_INSTALL_PATH);
	return SB_ENOTFOUND;
}

void decode_module_check(void)
{
	char path[PATH_MAX + 64];

	if (decode_module_path(path, sizeof(path)))
		log_warn("decoder module not found; image decoding will answer busy", "path=\"%s\"",
			 path);
}

static void load(void)
{
	char path[PATH_MAX + 64];
	const struct decode_module_api *m;
	const char *err;
	void *h;

	decode_module_path(path, sizeof(path));
	/* RTLD_LOCAL: only our dlsym sees its symbols. libZXing.so, loaded with
	 * it, still binds __assert_fail to the executable's (global scope). */
	if (!(h = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
		err = dlerror();
		log_error("cannot load the decoder module; image decoding disabled",
			  "path=\"%s\" err=\"%s\"", path, err ? err : "?");
		return;
	}
	if (!(m = dlsym(h, DECODE_MODULE_SYMBOL))) {
		err = dlerror();
		log_error("the decoder module is not one of ours; image decoding disabled",
			  "path=\"%s\" err=\"%s\"", path, err ? err : "?");
		return; /* h stays open: a failed module is not retried either */
	}
	if (m->abi != DECODE_MODULE_ABI || !m->version || strcmp(m->version, SB_VERSION)) {
		log_error("the decoder module is from another build; image decoding disabled",
			  "path=\"%s\" module_abi=%u module_version=\"%s\" want_abi=%u want_version=%s",
			  path, m->abi, m->abi == DECODE_MODULE_ABI && m->version ? m->version : "?",
			  DECODE_MODULE_ABI, SB_VERSION);
		return;
	}
	assert_net_set_hook(m->assert_hook);
	api = m;
	log_info("decoder module loaded", "path=\"%s\"", path);
}

const struct decode_module_api *decode_module_get(void)
{
	pthread_once(&load_once, load);
	return api;
}
