/* SPDX-License-Identifier: MIT */
/* Fuzzes the config file parser: each input becomes the contents of one temp
 * file (the same path every run, rewritten in place) and config_parse reads it
 * as `scanbridged -c <file> -t`. Errors are fine; crashes are not. Invariants
 * from config.h: 0 or SB_ECONFIG; on error a one-line message; on success the
 * -t action and a finished config (bind, data_dir, an http(s) public_url). */
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "sb_err.h"

extern char **environ;

static char path[] = "/tmp/sb-fuzz-config-XXXXXX";
static int fd = -1;
static FILE *devnull;
static struct sb_config cfg; /* large: keep it off the stack */

static void cleanup(void)
{
	if (fd >= 0)
		close(fd);
	unlink(path);
}

/* SCANBRIDGE_* variables would override the file; drop them. */
static void clear_env(void)
{
	char name[256];

	for (size_t i = 0; environ[i];) {
		const char *eq = strchr(environ[i], '=');
		size_t n = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		if (!strncmp(environ[i], "SCANBRIDGE_", 11) && n < sizeof name) {
			snprintf(name, sizeof name, "%.*s", (int)n, environ[i]);
			unsetenv(name);
		} else {
			i++;
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	clear_env();
	if ((fd = mkstemp(path)) < 0 || !(devnull = fopen("/dev/null", "w"))) {
		perror("fuzz_config: set-up");
		abort();
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[] = { "scanbridged", "-c", path, "-t", NULL };
	enum sb_config_action action = SB_RUN;
	char err[512];
	int rc;

	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	rc = config_parse(&cfg, 4, argv, devnull, &action, err, sizeof err);
	FUZZ_ASSERT(rc == 0 || rc == SB_ECONFIG);
	FUZZ_ASSERT(memchr(err, '\0', sizeof err) != NULL);
	if (rc != 0) {
		FUZZ_ASSERT(err[0] != '\0' && strchr(err, '\n') == NULL);
		return 0;
	}
	FUZZ_ASSERT(action == SB_CHECK_ONLY);
	FUZZ_ASSERT(cfg.bind[0] != '\0' && cfg.data_dir[0] != '\0');
	FUZZ_ASSERT(!strncmp(cfg.public_url, "http://", 7) ||
		    !strncmp(cfg.public_url, "https://", 8));
	FUZZ_ASSERT(cfg.http_port >= 1 && cfg.http_port <= 65535);
	FUZZ_ASSERT(cfg.https_port >= 1 && cfg.https_port <= 65535);
	/* TLS on needs two ports, files needs both files */
	FUZZ_ASSERT(!cfg.tls_active || cfg.http_port != cfg.https_port);
	FUZZ_ASSERT(cfg.tls != SB_TLS_FILES || (cfg.tls_cert[0] && cfg.tls_key[0]));
	return 0;
}
