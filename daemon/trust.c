/* SPDX-License-Identifier: MIT */
/* /trust: the onboarding page's data. The CA is offered in the three forms
 * platforms take (PEM for Linux and Firefox, DER with the type Android and
 * Windows open as a certificate, an Apple configuration profile for iOS and
 * macOS); its fingerprint is in info.json for the page to show, so a cautious
 * IT person compares it with what the phone displays before trusting it. The
 * CA's private key never leaves tlsca.c. */
#include "trust.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "hostcheck.h"
#include "mobileconfig.h"
#include "qr.h"
#include "sb_err.h"

#define TRUST_PREFIX "/trust"
#define NAMES_MAX 48

static const struct sb_config *R_cfg;
static const struct tlsca *R_ca;

void trust_init(const struct sb_config *cfg, const struct tlsca *ca)
{
	R_cfg = cfg;
	R_ca = ca;
}

bool trust_path(const char *path)
{
	size_t n = strlen(TRUST_PREFIX);

	return !strncmp(path, TRUST_PREFIX, n) && (path[n] == '\0' || path[n] == '/');
}

/* ---- host names ---- */

/* A host phones can reach, for the trust page's QR code: the box's LAN
 * address (many Android phones resolve no .local names), else the name the
 * page was opened with unless that is this computer only, else
 * <hostname>.local. */
static void reachable_host(const char *host, char *out, size_t size)
{
	const struct box_names *b = box_names_current();
	char addr[64];

	if (box_names_lan_addr(b, addr, sizeof(addr))) {
		snprintf(out, size, strchr(addr, ':') ? "[%s]" : "%s", addr);
		return;
	}
	hostcheck_name_part(host, out, size);
	if (out[0] && !hostcheck_is_local_only(out))
		return;
	if (b->hostname[0])
		snprintf(out, size, "%.200s.local", b->hostname);
	else
		snprintf(out, size, "localhost");
}

/* The box's name for people (info.json, the Apple profile's title). */
static const char *box_label(void)
{
	const char *hn = box_names_current()->hostname;

	return hn[0] ? hn : "scanbridge";
}

bool trust_https_url(const char *host, const char *path, const char *query,
		     char *out, size_t size)
{
	char name[HOSTCHECK_NAME_MAX + 8];
	int n;

	hostcheck_name_part(host, name, sizeof(name));
	if (!name[0]) /* HTTP/1.0, no Host */
		reachable_host("", name, sizeof(name));
	n = snprintf(out, size, "https://%s:%d%s%s%s", name, R_cfg->https_port, path,
		     query && *query ? "?" : "", query ? query : "");
	return n > 0 && (size_t)n < size;
}

static void trust_url(const char *host, char *out, size_t size)
{
	char name[HOSTCHECK_NAME_MAX + 8];

	reachable_host(host, name, sizeof(name));
	snprintf(out, size, "http://%s:%d/trust", name, R_cfg->http_port);
}

/* ---- answers ---- */

static void reply_bytes(struct rest_resp *rs, const void *data, size_t len, const char *ctype,
			const char *disposition)
{
	if (!(rs->body = malloc(len ? len : 1))) {
		rest_error(rs, SB_WIRE_UNAVAILABLE, "out of memory");
		return;
	}
	memcpy(rs->body, data, len);
	rs->len = len;
	rs->status = 200;
	rs->ctype = ctype;
	rs->disposition = disposition;
}

static void iso_time(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cJSON *ca_json(void)
{
	cJSON *o = cJSON_CreateObject();
	char when[32];

	iso_time(tlsca_ca_not_after(R_ca), when);
	cJSON_AddStringToObject(o, "subject", tlsca_ca_subject(R_ca));
	cJSON_AddStringToObject(o, "sha256", tlsca_ca_fingerprint(R_ca));
	cJSON_AddStringToObject(o, "not_after", when);
	return o;
}

static cJSON *server_json(void)
{
	char names[NAMES_MAX][64], when[32];
	int n = tlsca_server_names(R_ca, names, NAMES_MAX);
	cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "names");

	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(names[i]));
	iso_time(tlsca_server_not_after(R_ca), when);
	cJSON_AddStringToObject(o, "not_after", when);
	return o;
}

static const char *mode_name(void)
{
	if (!R_cfg->tls_active)
		return "off";
	return R_cfg->tls == SB_TLS_FILES ? "files" : "local-ca";
}

static void h_info(const char *host, struct rest_resp *rs)
{
	char url[600];
	cJSON *o = cJSON_CreateObject();
	char *text;

	cJSON_AddBoolToObject(o, "tls", R_cfg->tls_active);
	cJSON_AddStringToObject(o, "mode", mode_name());
	cJSON_AddStringToObject(o, "box", box_label());
	if (R_cfg->tls_active && trust_https_url(host, "/", NULL, url, sizeof(url)))
		cJSON_AddStringToObject(o, "https_url", url);
	else
		cJSON_AddNullToObject(o, "https_url");
	trust_url(host, url, sizeof(url));
	cJSON_AddStringToObject(o, "trust_url", url);
	cJSON_AddItemToObject(o, "ca", R_ca ? ca_json() : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "server", R_ca ? server_json() : cJSON_CreateNull());
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text) {
		rest_error(rs, SB_WIRE_UNAVAILABLE, "out of memory");
		return;
	}
	rs->status = 200;
	rs->body = text;
	rs->len = strlen(text);
	rs->ctype = "application/json";
}

static void h_qr(const char *host, struct rest_resp *rs)
{
	char url[600];

	trust_url(host, url, sizeof(url));
	if (qr_svg(url, &rs->body, &rs->len)) {
		rest_error(rs, SB_WIRE_UNAVAILABLE, "cannot render the QR code");
		return;
	}
	rs->status = 200;
	rs->ctype = "image/svg+xml";
}

static void h_mobileconfig(struct rest_resp *rs)
{
	const unsigned char *der;
	size_t len;

	der = tlsca_ca_der(R_ca, &len);
	if (mobileconfig_build(der, len, tlsca_ca_fingerprint(R_ca), box_label(),
			       &rs->body, &rs->len)) {
		rest_error(rs, SB_WIRE_UNAVAILABLE, "out of memory");
		return;
	}
	rs->status = 200;
	rs->ctype = "application/x-apple-aspen-config";
	rs->disposition = "attachment; filename=\"scanbridge.mobileconfig\"";
}

/* The CA's three forms; false when name is none of them. */
static bool h_ca(const char *name, struct rest_resp *rs)
{
	size_t len;

	if (strcmp(name, "ca.pem") && strcmp(name, "ca.crt") &&
	    strcmp(name, "scanbridge.mobileconfig"))
		return false;
	if (!R_ca) {
		rest_error(rs, SB_WIRE_NOT_FOUND, R_cfg->tls_active
			   ? "this box uses its configured certificate (tls = files), not its own CA"
			   : "HTTPS is off on this box (tls = off), so it has no CA to install");
		return true;
	}
	if (!strcmp(name, "ca.pem")) {
		const char *pem = tlsca_ca_pem(R_ca, &len);

		reply_bytes(rs, pem, len, "application/x-pem-file",
			    "attachment; filename=\"scanbridge-ca.pem\"");
	} else if (!strcmp(name, "ca.crt")) {
		const unsigned char *der = tlsca_ca_der(R_ca, &len);

		reply_bytes(rs, der, len, "application/x-x509-ca-cert",
			    "attachment; filename=\"scanbridge-ca.crt\"");
	} else {
		h_mobileconfig(rs);
	}
	return true;
}

/* ---- static page files ---- */

static const char *mime_of(const char *name)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html" }, { ".js", "text/javascript" }, { ".css", "text/css" },
		{ ".svg", "image/svg+xml" }, { ".png", "image/png" }, { ".json", "application/json" },
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return NULL;
}

/* One plain file name: no directories, no dot files, a known type. */
static bool page_file_name(const char *name)
{
	if (!*name || *name == '.' || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && !strchr("._-", *p))
			return false;
	return mime_of(name) != NULL;
}

static bool page_file(const char *web_root, const char *name, struct rest_resp *rs,
		      char *file, size_t filelen)
{
	struct stat st;
	int n;

	if (!page_file_name(name))
		return false;
	n = snprintf(file, filelen, "%s/trust/%s", web_root, name);
	if (n < 0 || (size_t)n >= filelen || stat(file, &st) || !S_ISREG(st.st_mode))
		return false;
	rs->ctype = mime_of(name);
	return true;
}

enum trust_result trust_dispatch(const struct rest_req *rq, const char *host,
				 const char *web_root, struct rest_resp *rs,
				 char *file, size_t filelen)
{
	const char *name = rq->path + strlen(TRUST_PREFIX);

	if (rq->method != HM_GET && rq->method != HM_HEAD) {
		rest_error(rs, SB_WIRE_METHOD_NOT_ALLOWED, "this path only takes GET");
		snprintf(rs->allow, sizeof(rs->allow), "GET");
		return TRUST_REPLY;
	}
	if (*name == '/')
		name++;
	if (!*name)
		name = "index.html";
	if (!strcmp(name, "info.json"))
		h_info(host, rs);
	else if (!strcmp(name, "qr.svg"))
		h_qr(host, rs);
	else if (h_ca(name, rs))
		;
	else if (page_file(web_root, name, rs, file, filelen))
		return TRUST_FILE;
	else
		rest_error(rs, SB_WIRE_NOT_FOUND, "no such page");
	return TRUST_REPLY;
}
