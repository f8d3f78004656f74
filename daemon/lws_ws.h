/* SPDX-License-Identifier: MIT */
/* The WebSocket side of libwebsockets (lws_ws.c): /ws, subprotocol
 * scanbridge.v1, as the transport of the session layer's peers. */
#ifndef SB_LWS_WS_H
#define SB_LWS_WS_H
#include <stddef.h>
#include <libwebsockets.h>
#include "config.h"

int lws_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		    void *in, size_t len);
size_t lws_ws_pss_size(void);
void lws_ws_set_config(const struct sb_config *cfg);
/* Open WebSocket connections (all roles). */
unsigned lws_ws_connections(void);
/* 0: the WebSocket upgrade on wsi may go on; HTTP_STATUS_FORBIDDEN: its
 * Origin or Host is not allowed; -1: not an upgrade of /ws. Asked by the HTTP
 * side, which answers the upgrade request. */
int lws_ws_upgrade_verdict(struct lws *wsi);

#endif
