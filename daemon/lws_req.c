/* SPDX-License-Identifier: MIT */
/* Facts about a request read from its lws headers, for both the HTTP and the
 * WebSocket side (lws_http.c, lws_ws.c): who the client is behind trusted
 * proxies (client_ip.h) and whether the request names one of the box's own
 * hosts (hostcheck.h). */
#include <stdio.h>

#include "hostcheck.h"
#include "lws_req.h"

void lws_req_client_ip(struct lws *wsi, const char *trusted, char out[CLIENT_IP_MAX])
{
	char peer[CLIENT_IP_MAX] = "", fwd[512] = "", xff[512] = "";

	lws_get_peer_simple(wsi, peer, sizeof(peer));
	if (!trusted[0] || !client_ip_trusted(peer, trusted)) {
		snprintf(out, CLIENT_IP_MAX, "%s", peer);
		return;
	}
	/* a header too long to read names no client: the proxy is as close as
	 * we can tell (never the other header, which the client may have sent) */
	if (lws_hdr_copy(wsi, xff, sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR) < 0 ||
	    (!xff[0] && lws_hdr_custom_length(wsi, "forwarded:", 10) >= (int)sizeof(fwd))) {
		snprintf(out, CLIENT_IP_MAX, "%s", peer);
		return;
	}
	if (!xff[0] && lws_hdr_custom_copy(wsi, fwd, sizeof(fwd), "forwarded:", 10) < 0)
		fwd[0] = '\0';
	client_ip_resolve(peer, fwd, xff, trusted, out);
}

bool lws_req_host_allowed(struct lws *wsi, const struct sb_config *cfg, char *host, size_t host_len)
{
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HOST);

	if (n <= 0)
		return true;
	if ((size_t)n >= host_len || lws_hdr_copy(wsi, host, (int)host_len, WSI_TOKEN_HOST) < 0)
		return false;
	return hostcheck_allowed(host, cfg->public_url, cfg->allowed_hosts);
}
