/* SPDX-License-Identifier: MIT */
/* libFuzzer target for hostcheck_match: the input splits at newlines into
 * Host, public_url, allowed_hosts and the box's host name; what follows is the
 * box's addresses, 16 raw bytes each. Invariants: "*" and a missing Host are
 * always allowed, loopback always; the port, letter case and a trailing dot do
 * not change the answer; more allowed_hosts never refuse what fewer allowed; a
 * plain name is allowed by its own allowed_hosts entry and public_url. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "hostcheck.h"

static char *take_line(char **p)
{
	char *s = *p, *nl = s ? strchr(s, '\n') : NULL;

	if (nl) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = NULL;
	}
	return s;
}

/* Letters, digits, '-' and '.': a name host_name takes as it is. */
static bool plain_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 200)
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.'))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct box_names b;
	static const struct box_names none;
	char *buf, *p, *tmp;
	const char *host, *pub, *allowed, *hn;
	const uint8_t *rest = NULL;
	size_t rest_len = 0, hlen;
	bool r;

	if (size > 4096)
		return 0;
	buf = malloc(size + 1);
	tmp = malloc(2 * size + 64);
	if (!buf || !tmp) {
		free(buf);
		free(tmp);
		return 0;
	}
	memcpy(buf, data, size);
	buf[size] = '\0';
	p = buf;
	host = take_line(&p);
	pub = p ? take_line(&p) : "";
	allowed = p ? take_line(&p) : "";
	hn = p ? take_line(&p) : "";
	if (p) {
		rest = data + (p - buf);
		rest_len = size - (size_t)(p - buf);
	}
	memset(&b, 0, sizeof(b));
	snprintf(b.hostname, sizeof(b.hostname), "%s", hn);
	for (char *c = b.hostname; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c += 32;
	for (; rest_len >= 16 && b.n_addr < HOSTCHECK_MAX_ADDRS; rest += 16, rest_len -= 16)
		memcpy(b.addr[b.n_addr++], rest, 16);

	r = hostcheck_match(host, &b, pub, allowed);
	hlen = strlen(host);

	FUZZ_ASSERT(hostcheck_match(host, &b, pub, "*"));
	FUZZ_ASSERT(hostcheck_match(host, &b, "", "x *"));
	FUZZ_ASSERT(hostcheck_match(NULL, &b, pub, allowed));
	FUZZ_ASSERT(hostcheck_match("", &b, pub, allowed));
	FUZZ_ASSERT(hostcheck_match("localhost", &b, pub, allowed));
	FUZZ_ASSERT(hostcheck_match("LocalHost:8080", &b, pub, allowed));
	FUZZ_ASSERT(hostcheck_match("app.localhost", &b, pub, allowed));
	FUZZ_ASSERT(hostcheck_match("127.0.0.1", &b, pub, allowed));
	FUZZ_ASSERT(hostcheck_match("127.9.8.7:1", &b, pub, allowed));
	FUZZ_ASSERT(hostcheck_match("[::1]:8080", &b, pub, allowed));
	FUZZ_ASSERT(hostcheck_match("[::ffff:127.0.0.1]", &b, pub, allowed));

	/* more names never refuse: over none, and with one more entry */
	if (hostcheck_match(host, &b, pub, ""))
		FUZZ_ASSERT(r);
	snprintf(tmp, 2 * size + 64, "%s pos.example", allowed);
	if (r)
		FUZZ_ASSERT(hostcheck_match(host, &b, pub, tmp));

	/* the port is not compared */
	if (!strchr(host, ':') && hlen) {
		snprintf(tmp, 2 * size + 64, "%s:8080", host);
		FUZZ_ASSERT(hostcheck_match(tmp, &b, pub, allowed) == r);
		snprintf(tmp, 2 * size + 64, "%s:", host);
		FUZZ_ASSERT(hostcheck_match(tmp, &b, pub, allowed) == r);
	}
	/* nor the letter case */
	for (size_t i = 0; i <= hlen; i++)
		tmp[i] = (char)(host[i] >= 'a' && host[i] <= 'z' ? host[i] - 32 : host[i]);
	FUZZ_ASSERT(hostcheck_match(tmp, &b, pub, allowed) == r);
	/* nor a trailing dot on a name */
	if (plain_name(host) && host[hlen - 1] != '.') {
		snprintf(tmp, 2 * size + 64, "%s.", host);
		FUZZ_ASSERT(hostcheck_match(tmp, &b, pub, allowed) == r);
	}
	/* a plain name is allowed by its own entry and its own public_url */
	if (plain_name(host)) {
		FUZZ_ASSERT(hostcheck_match(host, &b, "", host));
		snprintf(tmp, 2 * size + 64, "http://%s:8080/", host);
		FUZZ_ASSERT(hostcheck_match(host, &b, tmp, ""));
		snprintf(tmp, 2 * size + 64, "%s.rebind-evil.example", host);
		FUZZ_ASSERT(!hostcheck_match(tmp, &none, "", ""));
	}
	/* every address of the box is allowed, as IPv4 or [IPv6] */
	for (int i = 0; i < b.n_addr; i++) {
		static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
		char a[64], lit[72];

		if (!memcmp(b.addr[i], mapped, 12)) {
			FUZZ_ASSERT(inet_ntop(AF_INET, b.addr[i] + 12, a, sizeof(a)));
			snprintf(lit, sizeof(lit), "%s:80", a);
		} else {
			FUZZ_ASSERT(inet_ntop(AF_INET6, b.addr[i], a, sizeof(a)));
			snprintf(lit, sizeof(lit), "[%s]:80", a);
		}
		FUZZ_ASSERT(hostcheck_match(lit, &b, "", ""));
	}
	free(tmp);
	free(buf);
	return 0;
}
