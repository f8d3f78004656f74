/* SPDX-License-Identifier: MIT */
/* HTTPS: which certificate the TLS listener serves and how it stays valid.
 * With the local CA (tls = on, or auto off loopback) the server certificate
 * must always name the box as phones reach it: a new DHCP address or a
 * renamed box re-issues it, and it is renewed a month before it expires. The
 * new files replace the old ones (tlsca.c writes them atomically) and
 * lws_tls_cert_updated() loads them into the listener's SSL_CTX: handshakes
 * from then on get the new certificate, connections already open keep the
 * one they were made with. */
#include "lws_tls.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/ssl.h>

#include "hostcheck.h"
#include "log.h"
#include "sb_err.h"

/* TLS 1.2's forward-secret AEAD suites (ECDSA for the local CA's P-256 key,
 * RSA for a configured certificate); TLS 1.3's are all forward-secret. */
#define TLS12_CIPHERS                                                          \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_CIPHERS "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

static struct {
	const struct sb_config *cfg;
	struct tlsca *ca;               /* local CA mode only */
	char cert[PATH_MAX + 16];       /* what lws loads */
	char key[PATH_MAX + 16];
	struct timespec cert_mtime, key_mtime; /* tls = files: replaced? */
} T;

static void names_now(struct tlsca_names *out)
{
	struct box_names b;

	box_names_read(&b);
	memset(out, 0, sizeof(*out));
	snprintf(out->hostname, sizeof(out->hostname), "%s", b.hostname);
	for (int i = 0; i < b.n_addr && out->n_addr < TLSCA_MAX_ADDRS; i++)
		memcpy(out->addr[out->n_addr++], b.addr[i], 16);
}

/* Issues (or keeps) the server certificate for the box as it is now. */
static int ensure_server(const struct tlsca_names *names, bool *changed)
{
	char err[768] = "";
	int rc = tlsca_ensure_server(T.ca, names, time(NULL), changed, err, sizeof(err));

	if (rc)
		log_error("cannot issue the server certificate", "err=\"%s\"", err);
	else if (*changed)
		log_info("server certificate issued", "host=%s addresses=%d", names->hostname,
			 names->n_addr);
	return rc;
}

static int open_local_ca(const struct sb_config *cfg)
{
	char dir[PATH_MAX + 8], err[768] = "";
	struct tlsca_names names;
	bool changed;
	int rc;

	names_now(&names);
	snprintf(dir, sizeof(dir), "%s/tls", cfg->data_dir);
	if ((rc = tlsca_open(&T.ca, dir, names.hostname[0] ? names.hostname : "scanbridge",
			     time(NULL), err, sizeof(err)))) {
		log_error("cannot open the box's certificate authority", "dir=\"%s\" err=\"%s\"",
			  dir, err);
		return rc;
	}
	if ((rc = ensure_server(&names, &changed)))
		return rc;
	snprintf(T.cert, sizeof(T.cert), "%s", tlsca_server_cert_path(T.ca));
	snprintf(T.key, sizeof(T.key), "%s", tlsca_server_key_path(T.ca));
	log_info("TLS with the box's own CA", "ca=\"%s\" sha256=%s", tlsca_ca_subject(T.ca),
		 tlsca_ca_fingerprint(T.ca));
	return 0;
}

static bool mtimes(struct timespec *cert, struct timespec *key)
{
	struct stat sc, sk;

	if (stat(T.cert, &sc) || stat(T.key, &sk))
		return false;
	*cert = sc.st_mtim;
	*key = sk.st_mtim;
	return true;
}

static int check_files(void)
{
	char err[768] = "";
	int rc = tls_files_check(T.cert, T.key, time(NULL), err, sizeof(err));

	if (rc)
		log_error("tls_cert / tls_key unusable", "err=\"%s\"", err);
	else if (err[0])
		log_warn("tls_cert", "warning=\"%s\"", err);
	return rc;
}

static int open_files(const struct sb_config *cfg)
{
	int rc;

	snprintf(T.cert, sizeof(T.cert), "%s", cfg->tls_cert);
	snprintf(T.key, sizeof(T.key), "%s", cfg->tls_key);
	if ((rc = check_files()))
		return rc;
	mtimes(&T.cert_mtime, &T.key_mtime);
	log_info("TLS with the configured certificate", "cert=\"%s\"", T.cert);
	return 0;
}

int lws_tls_open(const struct sb_config *cfg)
{
	T.cfg = cfg;
	if (!cfg->tls_active)
		return 0;
	return cfg->tls == SB_TLS_FILES ? open_files(cfg) : open_local_ca(cfg);
}

void lws_tls_fill_vhost(struct lws_context_creation_info *info)
{
	info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info->ssl_cert_filepath = T.cert;
	info->ssl_private_key_filepath = T.key;
	info->ssl_cipher_list = TLS12_CIPHERS;
	info->tls1_3_plus_cipher_list = TLS13_CIPHERS;
	/* TLS 1.0 and 1.1 refused; no renegotiation (a handshake per request
	 * a client could make the box do) */
	info->ssl_options_set = (long)(SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
				       SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	info->alpn = "http/1.1";
}

static bool files_replaced(void)
{
	struct timespec c, k;

	if (!mtimes(&c, &k))
		return false;
	if (!memcmp(&c, &T.cert_mtime, sizeof(c)) && !memcmp(&k, &T.key_mtime, sizeof(k)))
		return false;
	/* a pair half-copied (new cert, old key) is taken at the next check */
	if (check_files())
		return false;
	T.cert_mtime = c;
	T.key_mtime = k;
	return true;
}

void lws_tls_check(struct lws_context *ctx)
{
	struct tlsca_names names;
	bool changed = false;

	if (!T.cfg || !T.cfg->tls_active)
		return;
	if (T.ca) {
		names_now(&names);
		if (ensure_server(&names, &changed))
			return; /* the running certificate stays in use */
	} else {
		changed = files_replaced();
	}
	if (!changed)
		return;
	lws_tls_cert_updated(ctx, T.cert, T.key, NULL, 0, NULL, 0);
	log_info("TLS certificate swapped in; open connections keep theirs", NULL);
}

const struct tlsca *lws_tls_ca(void)
{
	return T.ca;
}

void lws_tls_close(void)
{
	if (T.ca)
		tlsca_close(T.ca);
	memset(&T, 0, sizeof(T));
}
