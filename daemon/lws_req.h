/* SPDX-License-Identifier: MIT */
/* Request facts from lws headers, shared by the HTTP and WebSocket glue. */
#ifndef SB_LWS_REQ_H
#define SB_LWS_REQ_H
#include <stdbool.h>
#include <stddef.h>
#include <libwebsockets.h>
#include "client_ip.h"
#include "config.h"

/* The client address per-IP limits key on (client_ip.h): the TCP peer, or the
 * client a trusted proxy names. */
void lws_req_client_ip(struct lws *wsi, const char *trusted, char out[CLIENT_IP_MAX]);

/* Whether the request's Host is one of the box's names (hostcheck.h, with
 * cfg's public_url and allowed_hosts); host receives the header. A request
 * without Host passes. */
bool lws_req_host_allowed(struct lws *wsi, const struct sb_config *cfg, char *host,
			  size_t host_len);

#endif
