/* SPDX-License-Identifier: MIT */
/* libFuzzer target for /trust (trust.c) and the plain listener's redirect
 * URL: the input is a method byte, then a path line and a Host line. The box
 * has a real CA in a temp dir and a web root with one page file.
 * Invariants: only 200, 404 and 405 are answered; a page file is always
 * <web_root>/trust/<one plain name>; no answer carries a private key; a
 * redirect URL is https://, one line, and ends with the path it was given. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "tlsca.h"
#include "trust.h"

static struct sb_config cfg;
static struct tlsca *ca;
static char web_root[64];

static void make_box(void)
{
	char dir[64], tls[80], page[96];
	struct tlsca_names names = { .hostname = "fuzz-box", .n_addr = 1 };
	bool changed;
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/sbfuzz-trust-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(tls, sizeof(tls), "%s/tls", dir);
	snprintf(web_root, sizeof(web_root), "%s/web", dir);
	snprintf(page, sizeof(page), "%s/trust", web_root);
	names.addr[0][10] = names.addr[0][11] = 0xff;
	names.addr[0][12] = 192, names.addr[0][13] = 168, names.addr[0][15] = 7;
	if (mkdir(web_root, 0700) || mkdir(page, 0700) ||
	    tlsca_open(&ca, tls, "fuzz-box", time(NULL), NULL, 0) ||
	    tlsca_ensure_server(ca, &names, time(NULL), &changed, NULL, 0))
		abort();
	strcat(page, "/index.html");
	if (!(f = fopen(page, "w")))
		abort();
	fputs("<html></html>", f);
	fclose(f);
	config_defaults(&cfg);
	cfg.tls = SB_TLS_ON;
	config_finish(&cfg, NULL, 0);
	trust_init(&cfg, ca);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	make_box();
	return 0;
}

static void check_file(const char *file)
{
	size_t n = strlen(web_root);
	const char *name = file + n + strlen("/trust/");

	FUZZ_ASSERT(!strncmp(file, web_root, n) && !strncmp(file + n, "/trust/", 7));
	FUZZ_ASSERT(*name && *name != '.' && !strchr(name, '/'));
}

static void check_redirect(const char *host, const char *path)
{
	char url[1400];

	if (!trust_https_url(host, path, NULL, url, sizeof(url)))
		return;
	FUZZ_ASSERT(!strncmp(url, "https://", 8));
	FUZZ_ASSERT(!strpbrk(url, "\r\n") || strpbrk(host, "\r\n") || strpbrk(path, "\r\n"));
	FUZZ_ASSERT(strlen(url) >= strlen(path) && !strcmp(url + strlen(url) - strlen(path), path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rest_req rq = { 0 };
	struct rest_resp rs = { 0 };
	char host[300] = "", file[PATH_MAX + 128];
	const char *nl;
	size_t plen;

	if (size < 1 || size > 800)
		return 0;
	rq.method = (enum http_method)(data[0] % (HM_OTHER + 1));
	data++, size--;
	nl = memchr(data, '\n', size);
	plen = nl ? (size_t)(nl - (const char *)data) : size;
	if (plen >= sizeof(rq.path) || memchr(data, '\0', size))
		return 0;
	memcpy(rq.path, data, plen);
	if (nl)
		snprintf(host, sizeof(host), "%.*s", (int)(size - plen - 1), nl + 1);
	check_redirect(host, rq.path);
	if (!trust_path(rq.path))
		return 0;
	if (trust_dispatch(&rq, host, web_root, &rs, file, sizeof(file)) == TRUST_FILE)
		check_file(file);
	else
		FUZZ_ASSERT(rs.status == 200 || rs.status == 404 || rs.status == 405);
	/* (the Host is echoed in info.json's URLs: not when it says so itself) */
	FUZZ_ASSERT(!rs.body || strstr(host, "PRIVATE") ||
		    !memmem(rs.body, rs.len, "PRIVATE KEY", 11));
	rest_resp_clear(&rs);
	return 0;
}
