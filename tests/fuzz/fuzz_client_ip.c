/* SPDX-License-Identifier: MIT */
/* libFuzzer target for client_ip: the input splits at newlines into the peer,
 * Forwarded, X-Forwarded-For and trusted_proxies (a missing line is NULL).
 * Invariants: the output is NUL-terminated in CLIENT_IP_MAX; it is the peer
 * (cut to fit) when the peer is not trusted, and otherwise either the peer or
 * a canonical address literal; X-Forwarded-For, when present, hides Forwarded;
 * client_ip_check_list names a bad entry that is bad on its own. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "client_ip.h"
#include "fuzz.h"
#include "sb_err.h"

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

/* out (NUL-terminated in CLIENT_IP_MAX) as resolved from these arguments */
static void resolve(const char *peer, const char *fwd, const char *xff, const char *trusted,
		    char out[CLIENT_IP_MAX])
{
	memset(out, 0xa5, CLIENT_IP_MAX);
	client_ip_resolve(peer, fwd, xff, trusted, out);
	FUZZ_ASSERT(memchr(out, '\0', CLIENT_IP_MAX));
}

/* Whether out is peer as given, cut to CLIENT_IP_MAX - 1 bytes. */
static bool is_peer(const char *out, const char *peer)
{
	return !strncmp(out, peer ? peer : "", CLIENT_IP_MAX - 1);
}

/* Whether s is an address literal as client_ip writes it: inet_ntop's form,
 * IPv4 for v4-mapped addresses. */
static bool canonical(const char *s)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	unsigned char a[16];
	char back[CLIENT_IP_MAX];

	if (inet_pton(AF_INET, s, a) == 1)
		return inet_ntop(AF_INET, a, back, sizeof(back)) && !strcmp(back, s);
	if (inet_pton(AF_INET6, s, a) != 1 || !memcmp(a, mapped, 12))
		return false;
	return inet_ntop(AF_INET6, a, back, sizeof(back)) && !strcmp(back, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *p, *bad, *tmp;
	const char *peer, *fwd, *xff, *trusted;
	char out[CLIENT_IP_MAX], out2[CLIENT_IP_MAX];
	bool peer_trusted;
	int rc;

	if (size > 8192)
		return 0;
	buf = malloc(size + 1);
	bad = malloc(size + 1);
	tmp = malloc(size + 64);
	if (!buf || !bad || !tmp)
		goto out;
	memcpy(buf, data, size);
	buf[size] = '\0';
	p = buf;
	peer = take_line(&p);
	fwd = p ? take_line(&p) : NULL;
	xff = p ? take_line(&p) : NULL;
	trusted = p ? take_line(&p) : NULL;

	peer_trusted = client_ip_trusted(peer, trusted);
	resolve(peer, fwd, xff, trusted, out);
	if (!peer_trusted)
		FUZZ_ASSERT(is_peer(out, peer));
	else
		FUZZ_ASSERT(is_peer(out, peer) || canonical(out));
	if (!is_peer(out, peer)) {
		/* an address client_ip itself takes back */
		FUZZ_ASSERT(client_ip_trusted(out, out));
		FUZZ_ASSERT(client_ip_trusted(out, "0.0.0.0/0 ::/0"));
		FUZZ_ASSERT(client_ip_check_list(out, bad, size + 1) == 0);
	}
	/* no trust, no headers: the peer */
	resolve(peer, fwd, xff, "", out2);
	FUZZ_ASSERT(is_peer(out2, peer));
	resolve(peer, fwd, xff, NULL, out2);
	FUZZ_ASSERT(is_peer(out2, peer));
	/* X-Forwarded-For, when there is one, is all that is read */
	if (xff && *xff) {
		resolve(peer, "for=9.9.9.9", xff, trusted, out2);
		FUZZ_ASSERT(!strcmp(out, out2));
	}
	/* a malformed entry more changes nothing */
	if (trusted && peer) {
		snprintf(tmp, size + 64, "%s 10.0.0.0/33 abc", trusted);
		FUZZ_ASSERT(client_ip_trusted(peer, tmp) == peer_trusted);
	}
	/* the config check names an entry of the list, bad on its own */
	rc = client_ip_check_list(trusted, bad, size + 1);
	FUZZ_ASSERT(rc == 0 || rc == SB_EINVAL);
	if (rc) {
		FUZZ_ASSERT(trusted && *bad && strstr(trusted, bad));
		FUZZ_ASSERT(!strpbrk(bad, " ,\t"));
		snprintf(tmp, size + 64, "%s", bad);
		FUZZ_ASSERT(client_ip_check_list(tmp, bad, size + 1) == SB_EINVAL);
		FUZZ_ASSERT(!strcmp(tmp, bad));
		FUZZ_ASSERT(!client_ip_trusted("1.2.3.4", tmp) && !client_ip_trusted("::1", tmp));
	}
out:
	free(tmp);
	free(bad);
	free(buf);
	return 0;
}
