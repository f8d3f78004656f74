/* SPDX-License-Identifier: MIT */
/* The box as its own certificate authority (issue 14): phones on a store LAN
 * install the box's CA certificate once and then trust its HTTPS, whatever
 * name or address they reach it by. The CA (ca.key + ca.pem) is made on first
 * start and kept for 20 years: phones trust it, so it is never replaced
 * silently. The server certificate it issues (server.pem + server.key) names
 * the box's current host names and addresses and is re-issued whenever they
 * change or it nears expiry. Also checks a user-supplied pair (tls = files).
 *
 * Every function that takes err/errlen writes a one-line message there on
 * failure (err may be NULL when errlen is 0). Keys are never logged. */
#ifndef SB_TLSCA_H
#define SB_TLSCA_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define TLSCA_MAX_ADDRS 32
/* A server certificate closer than this to its end is re-issued. */
#define TLSCA_RENEW_BEFORE_DAYS 30
/* A user-supplied certificate closer than this to its end is warned about. */
#define TLSCA_WARN_BEFORE_DAYS 30
/* Browsers refuse server certificates valid for longer (CA/B forum). */
#define TLSCA_SERVER_DAYS 397
/* 20 years, leap days included. */
#define TLSCA_CA_DAYS 7305
/* A CA is never made while the clock says earlier than this (2024-01-01Z):
 * a box without a real-time clock that boots in 1970 would otherwise make
 * a CA that phones trust and that expired decades ago. */
#define TLSCA_CLOCK_FLOOR ((time_t)1704067200)

#define TLSCA_CA_KEY_FILE "ca.key"
#define TLSCA_CA_CERT_FILE "ca.pem"
#define TLSCA_SERVER_CERT_FILE "server.pem"
#define TLSCA_SERVER_KEY_FILE "server.key"

struct tlsca_names {                 /* what the box is called right now */
	char hostname[256];              /* lower case; "" = unknown */
	unsigned char addr[TLSCA_MAX_ADDRS][16]; /* IPv6, or IPv4 as v4-mapped ::ffff:a.b.c.d */
	int n_addr;
};

struct tlsca;                        /* opaque */

/* Opens dir (created 0700 if missing; refuses one that is not a directory or
 * that group or others can write) and loads ca.key + ca.pem, or creates them
 * when both are missing: ECDSA P-256 key, self-signed X.509 v3 CA certificate,
 * SHA-256, random 128-bit positive serial, subject O=scanbridge, OU=<label>,
 * CN="scanbridge local CA <label> <YYYY-MM-DD of creation>" (label cut to 33
 * characters in the CN and 64 in the OU, the X.509 limits; no OU when label is
 * ""), valid from now-1h for TLSCA_CA_DAYS, basicConstraints critical CA:TRUE
 * pathlen:0, keyUsage critical keyCertSign+cRLSign, subjectKeyIdentifier.
 * A loaded CA keeps its own subject whatever label says now.
 * One file missing and the other present is an error (never silently replace
 * a CA phones trust), as is a corrupt file, a key that does not match the
 * certificate, an expired CA, or (for a new CA) a clock before
 * TLSCA_CLOCK_FLOOR. Files are written via tmp file + fsync + rename + fsync of
 * the dir, keys 0600 (ca.key is made 0600 with a warning if found looser).
 * Returns 0 and *out (free with tlsca_close), or SB_ENOMEM, SB_EIO, SB_EFULL,
 * SB_EINVAL (label not UTF-8) or SB_ECONFIG (bad dir, bad CA files, clock). */
int tlsca_open(struct tlsca **out, const char *dir, const char *label, time_t now,
	       char *err, size_t errlen);
/* Frees ca and wipes its key from memory. NULL is fine. */
void tlsca_close(struct tlsca *ca);

/* Makes sure dir/server.pem (the server certificate followed by the CA
 * certificate: the chain lws loads with SSL_CTX_use_certificate_chain_file)
 * and dir/server.key (0600) exist, were issued by this CA, name exactly the
 * SAN set of `names`, are valid at now and do not expire within
 * TLSCA_RENEW_BEFORE_DAYS of it; otherwise issues a new pair (fresh P-256 key)
 * and writes both atomically (key first, each tmp+rename). A missing, corrupt
 * or mismatched pair is simply re-issued.
 * SAN set: DNS hostname (when non-empty and a valid DNS name; an invalid one
 * counts as unknown), DNS <hostname>.local, for a hostname with dots also
 * <first label>.local, DNS localhost, IP for every addr (v4-mapped written as
 * 4-byte IPv4); duplicates dropped. Server cert: SHA-256, random serial,
 * notBefore now-1h, notAfter notBefore+TLSCA_SERVER_DAYS, subject
 * CN=<hostname, or its first label when over 64 bytes, or "localhost">,
 * O=scanbridge, basicConstraints critical CA:FALSE, keyUsage critical
 * digitalSignature, extKeyUsage serverAuth, SKI + AKI. SAN sets compare
 * order-insensitively. *changed = true when new files were written.
 * Returns 0, SB_ENOMEM, SB_EIO or SB_EFULL (files unchanged or half written:
 * the next call re-issues). */
int tlsca_ensure_server(struct tlsca *ca, const struct tlsca_names *names, time_t now,
			bool *changed, char *err, size_t errlen);

/* The strings below belong to ca and live until tlsca_close. */
const char *tlsca_server_cert_path(const struct tlsca *ca);   /* dir/server.pem */
const char *tlsca_server_key_path(const struct tlsca *ca);    /* dir/server.key */
const char *tlsca_ca_pem(const struct tlsca *ca, size_t *len); /* NUL-terminated */
const unsigned char *tlsca_ca_der(const struct tlsca *ca, size_t *len);
/* SHA-256 of the CA's DER, "AB:CD:..." (95 characters, upper-case hex). */
const char *tlsca_ca_fingerprint(const struct tlsca *ca);
const char *tlsca_ca_subject(const struct tlsca *ca);     /* the CN, for display */
time_t tlsca_ca_not_after(const struct tlsca *ca);
time_t tlsca_server_not_after(const struct tlsca *ca);   /* 0 before ensure_server */
/* The names of the current server certificate, for display, in certificate
 * order: fills up to max strings (DNS names as is, IPs as text, each cut to
 * 63 bytes) into out[i]; returns the count (0 before ensure_server). */
int tlsca_server_names(const struct tlsca *ca, char (*out)[64], int max);

/* A user-supplied pair (tls = files): loads cert (PEM, may hold a chain; the
 * first certificate is the server's) and key (PEM, unencrypted: an encrypted
 * key is refused, never prompted for), checks the key matches the certificate
 * (X509_check_private_key) and the cert is not expired at now. Returns 0 or
 * SB_ECONFIG with a message naming the file. Returns 0 with a warning in err
 * (err non-empty) when it expires within TLSCA_WARN_BEFORE_DAYS or is not yet
 * valid at now (a clock that is wrong); err is "" when all is well. */
int tls_files_check(const char *cert_path, const char *key_path, time_t now, char *err,
		    size_t errlen);

#endif
