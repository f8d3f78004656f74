/* SPDX-License-Identifier: MIT */
/* HTTPS for the daemon (lws_tls.c): the certificate the TLS listener serves
 * (the box's own CA's server certificate, or the configured files), the
 * protocol settings, and the periodic check that renews or re-issues the
 * certificate and swaps it into the running listener. */
#ifndef SB_LWS_TLS_H
#define SB_LWS_TLS_H
#include <stdbool.h>
#include <libwebsockets.h>
#include "config.h"
#include "tlsca.h"

/* How often the box's names, addresses and the certificate's expiry are
 * looked at (a new DHCP lease, a renamed box, a replaced tls_cert). */
#define LWS_TLS_CHECK_SECS 60

/* With cfg->tls_active: opens <data_dir>/tls (creating the CA and a server
 * certificate on first start) or checks tls_cert/tls_key. 0 or an SB_E* code,
 * with the reason logged. Does nothing when TLS is off. */
int lws_tls_open(const struct sb_config *cfg);

/* Fills a vhost's TLS fields: certificate and key files, TLS 1.2+ with
 * forward-secret ciphers only, HTTP/1.1 only (no h2: lws_http.c answers one
 * request per connection). */
void lws_tls_fill_vhost(struct lws_context_creation_info *info);

/* Re-issues the server certificate when the box's names or addresses changed
 * or it is due for renewal (or reloads changed tls_cert/tls_key files), and
 * has lws load it for new handshakes; open connections keep theirs. */
void lws_tls_check(struct lws_context *ctx);

/* The box's CA, for /trust; NULL unless tls is on with the local CA. */
const struct tlsca *lws_tls_ca(void);

void lws_tls_close(void);

#endif
