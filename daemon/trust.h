/* SPDX-License-Identifier: MIT */
/* /trust: what a phone or a till needs to trust the box's HTTPS (trust.c).
 * The onboarding page's static files come from <web_root>/trust/; the CA
 * (PEM, DER, an Apple profile), a QR code of the page and info.json are made
 * here. Served on every listener, the plain-HTTP one included: a device that
 * does not trust the box yet can only reach it there. */
#ifndef SB_TRUST_H
#define SB_TRUST_H
#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "rest.h"
#include "tlsca.h"

enum trust_result {
	TRUST_REPLY,    /* *rs is the answer */
	TRUST_FILE,     /* serve the static page file written into `file` */
};

/* ca: the box's CA (tls on with the local CA), else NULL. */
void trust_init(const struct sb_config *cfg, const struct tlsca *ca);

/* /trust, or anything under /trust/. */
bool trust_path(const char *path);

/* A request for a trust_path. host: its Host header ("" when none; already
 * one of the box's names). web_root: where the page files are. */
enum trust_result trust_dispatch(const struct rest_req *rq, const char *host,
				 const char *web_root, struct rest_resp *rs,
				 char *file, size_t filelen);

/* The https:// URL for path on the host the request used (the redirect of the
 * plain-HTTP listener): written into out; false when it does not fit. */
bool trust_https_url(const char *host, const char *path, const char *query,
		     char *out, size_t size);

#endif
