/* SPDX-License-Identifier: MIT */
/* The HTTP side of libwebsockets (lws_http.c): REST, operations, the phone
 * page, and every request's first checks. */
#ifndef SB_LWS_HTTP_H
#define SB_LWS_HTTP_H
#include <stddef.h>
#include <libwebsockets.h>
#include "config.h"

int lws_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		      void *in, size_t len);
size_t lws_http_pss_size(void);
void lws_http_set_config(const struct sb_config *cfg);
/* The phone page lives at exactly /p (QR codes point there): it is served from
 * <web_root>/phone/index.html by the HTTP callback, since an lws file mount
 * would redirect /p to /p/. */
void lws_http_set_web_root(const char *dir);
/* TLS on: the listener whose requests are redirected to HTTPS (all but
 * /trust... and /healthz). NULL (the default): none. */
void lws_http_set_plain_vhost(struct lws_vhost *vh);

#endif
