/* SPDX-License-Identifier: MIT */
/* libwebsockets protocol callbacks: HTTP (REST + operations) and WebSocket. */
#ifndef SB_PROTO_HTTP_H
#define SB_PROTO_HTTP_H
#include <stddef.h>
#include <libwebsockets.h>
#include "client_ip.h"
#include "config.h"

int proto_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			void *in, size_t len);
size_t proto_http_pss_size(void);
void proto_http_set_config(const struct sb_config *cfg);
/* The phone page lives at exactly /p (QR codes point there): it is served from
 * <web_root>/phone/index.html by the HTTP callback, since an lws file mount
 * would redirect /p to /p/. */
void proto_http_set_web_root(const char *dir);

/* The client address per-IP limits key on (client_ip.h): the TCP peer, or the
 * client a trusted proxy names. */
void http_client_ip(struct lws *wsi, const char *trusted, char out[CLIENT_IP_MAX]);
/* Whether the request's Host is one of the box's names (hostcheck.h); host
 * receives the header. */
bool http_host_allowed(struct lws *wsi, char *host, size_t host_len);

int proto_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		      void *in, size_t len);
size_t proto_ws_pss_size(void);
void proto_ws_set_config(const struct sb_config *cfg);
/* Open WebSocket connections (all roles). */
unsigned proto_ws_connections(void);
/* 0: the WebSocket upgrade on wsi may go on; HTTP_STATUS_FORBIDDEN: its
 * Origin is not allowed; -1: not an upgrade of /ws. */
int proto_ws_upgrade_verdict(struct lws *wsi);

#endif
