/* SPDX-License-Identifier: MIT */
/* Client address behind trusted reverse proxies: the trusted_proxies list
 * (addresses, CIDR blocks, its config check) and Forwarded / X-Forwarded-For
 * walked from the right. */
#include <string.h>

#include "check.h"
#include "client_ip.h"
#include "sb_err.h"

static char out_[CLIENT_IP_MAX];

static const char *res(const char *peer, const char *fwd, const char *xff, const char *trusted)
{
	memset(out_, 'X', sizeof(out_));
	client_ip_resolve(peer, fwd, xff, trusted, out_);
	return out_;
}

#define PROXY "127.0.0.1 10.0.0.0/8"

static void test_trusted_addresses(void)
{
	CHECK(client_ip_trusted("127.0.0.1", "127.0.0.1"));
	CHECK(client_ip_trusted("127.0.0.1", "10.0.0.1, 127.0.0.1"));
	CHECK(client_ip_trusted("127.0.0.1", "10.0.0.1\t127.0.0.1"));
	CHECK(client_ip_trusted("127.0.0.1", " ,127.0.0.1, "));
	CHECK(!client_ip_trusted("127.0.0.2", "127.0.0.1"));
	CHECK(client_ip_trusted("::1", "::1"));
	CHECK(client_ip_trusted("0:0::1", "::1"));
	CHECK(client_ip_trusted("2001:DB8::1", "2001:db8:0::0001"));
	CHECK(!client_ip_trusted("::2", "::1"));
	CHECK(!client_ip_trusted(NULL, "127.0.0.1"));
	CHECK(!client_ip_trusted("", "127.0.0.1"));
	CHECK(!client_ip_trusted("127.0.0.1", ""));
	CHECK(!client_ip_trusted("127.0.0.1", NULL));
	CHECK(!client_ip_trusted("localhost", "localhost"));
	CHECK(!client_ip_trusted("127.0.0.1 ", "127.0.0.1"));
	CHECK(!client_ip_trusted("[::1]", "::1"));
	CHECK(!client_ip_trusted("127.0.0.1:80", "127.0.0.1"));
	CHECK(!client_ip_trusted("fe80::1%eth0", "fe80::1"));
}

static void test_trusted_cidr(void)
{
	CHECK(client_ip_trusted("10.0.0.1", "10.0.0.0/8"));
	CHECK(client_ip_trusted("10.255.255.255", "10.0.0.0/8"));
	CHECK(!client_ip_trusted("11.0.0.0", "10.0.0.0/8"));
	CHECK(!client_ip_trusted("9.255.255.255", "10.0.0.0/8"));
	CHECK(client_ip_trusted("10.9.9.9", "10.1.2.3/8"));      /* host bits ignored */
	CHECK(client_ip_trusted("192.168.1.77", "192.168.1.0/24"));
	CHECK(!client_ip_trusted("192.168.2.77", "192.168.1.0/24"));
	CHECK(client_ip_trusted("192.0.2.4", "192.0.2.4/31"));
	CHECK(client_ip_trusted("192.0.2.5", "192.0.2.4/31"));
	CHECK(!client_ip_trusted("192.0.2.6", "192.0.2.4/31"));
	CHECK(!client_ip_trusted("192.0.2.3", "192.0.2.4/31"));
	CHECK(client_ip_trusted("172.31.0.1", "172.16.0.0/12"));
	CHECK(!client_ip_trusted("172.32.0.1", "172.16.0.0/12"));
	CHECK(client_ip_trusted("192.0.2.5", "192.0.2.5/32"));
	CHECK(!client_ip_trusted("192.0.2.4", "192.0.2.5/32"));
	CHECK(client_ip_trusted("192.0.2.5", "192.0.2.5/032"));
	CHECK(client_ip_trusted("1.2.3.4", "0.0.0.0/0"));
	CHECK(client_ip_trusted("255.255.255.255", "0.0.0.0/0"));
	CHECK(client_ip_trusted("1.2.3.4", "9.9.9.9/0"));
	CHECK(client_ip_trusted("128.0.0.1", "128.0.0.0/1"));
	CHECK(!client_ip_trusted("127.0.0.1", "128.0.0.0/1"));

	CHECK(client_ip_trusted("fd12:3456::1", "fd00::/8"));
	CHECK(client_ip_trusted("fdff::", "fd00::/8"));
	CHECK(!client_ip_trusted("fc00::1", "fd00::/8"));
	CHECK(!client_ip_trusted("fe00::1", "fd00::/8"));
	CHECK(client_ip_trusted("2001:db8:1:2::3", "2001:db8::/32"));
	CHECK(!client_ip_trusted("2001:db9::3", "2001:db8::/32"));
	CHECK(client_ip_trusted("2001:db8::7", "2001:db8::/125"));
	CHECK(!client_ip_trusted("2001:db8::8", "2001:db8::/125"));
	CHECK(client_ip_trusted("2001:db8::8", "2001:db8::8/128"));
	CHECK(!client_ip_trusted("2001:db8::9", "2001:db8::8/128"));
	CHECK(client_ip_trusted("2001:db8::9", "::/0"));
	CHECK(client_ip_trusted("::", "::/0"));
}

/* IPv4 entries match IPv4 addresses (v4-mapped ones too, as dual-stack
 * sockets report them), IPv6 entries IPv6 addresses, never across. */
static void test_trusted_families(void)
{
	CHECK(!client_ip_trusted("2001:db8::1", "0.0.0.0/0"));
	CHECK(!client_ip_trusted("::1", "0.0.0.0/0"));
	CHECK(!client_ip_trusted("::", "0.0.0.0/0"));
	CHECK(!client_ip_trusted("1.2.3.4", "::/0"));
	CHECK(!client_ip_trusted("::ffff:1.2.3.4", "::/0"));
	CHECK(!client_ip_trusted("127.0.0.1", "::1"));
	CHECK(!client_ip_trusted("::1", "127.0.0.1"));
	CHECK(!client_ip_trusted("::1", "127.0.0.0/8"));
	CHECK(!client_ip_trusted("::a00:1", "10.0.0.0/8"));      /* IPv4-compatible ::10.0.0.1 */
	CHECK(!client_ip_trusted("10.0.0.1", "::a00:0/104"));
	CHECK(!client_ip_trusted("0.0.0.1", "::1"));
	/* v4-mapped: the IPv4 address it maps */
	CHECK(client_ip_trusted("::ffff:10.0.0.1", "10.0.0.0/8"));
	CHECK(client_ip_trusted("::FFFF:127.0.0.1", "127.0.0.1"));
	CHECK(client_ip_trusted("127.0.0.1", "::ffff:127.0.0.1"));
	CHECK(client_ip_trusted("10.1.1.1", "::ffff:10.0.0.0/104"));
	CHECK(client_ip_trusted("::ffff:10.1.1.1", "::ffff:10.0.0.0/104"));
	CHECK(!client_ip_trusted("11.1.1.1", "::ffff:10.0.0.0/104"));
	CHECK(client_ip_trusted("203.0.113.1", "::ffff:0:0/96"));
	CHECK(!client_ip_trusted("2001:db8::1", "::ffff:0:0/96"));
}

static void test_check_list(void)
{
	char bad[64];

	CHECK_EQ_INT(client_ip_check_list(NULL, bad, sizeof(bad)), 0);
	CHECK_EQ_INT(client_ip_check_list("", bad, sizeof(bad)), 0);
	CHECK_EQ_INT(client_ip_check_list(" ,\t, ", bad, sizeof(bad)), 0);
	CHECK_EQ_INT(client_ip_check_list("127.0.0.1 10.0.0.0/8, fd00::/8\t::1 0.0.0.0/0 ::/0 "
					  "192.0.2.5/32 2001:db8::/128 ::ffff:10.0.0.0/104 "
					  "::ffff:127.0.0.1 10.0.0.0/08",
					  bad, sizeof(bad)), 0);
	static const char *const bads[] = {
		"10.0.0.0/33", "10.0.0.0/", "abc", "1.2.3.4/x", "::/129", "fd00::/200",
		"1.2.3.4/-1", "1.2.3.4/+8", "1.2.3.4/ 8", "1.2.3.4/8x", "1.2.3.4/0x8",
		"1.2.3.4/0032", "/8", "/", "1.2.3", "1.2.3.4.5", "256.0.0.1", "[::1]",
		"10.0.0.0/8/8", "localhost", "fe80::1%eth0", "*", "10.0.0.0-10.0.0.9",
		"1.2.3.4:80", "::ffff:10.0.0.0/129", "01.2.3.4", "::ffff:10.0.0.0/8",
		"::ffff:0:0/95", "::ffff:10.0.0.0/0",
	};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		char list[128];
		int rc;

		if (strchr(bads[i], ' '))
			continue; /* a space splits the entry: "1.2.3.4/" is the bad one */
		snprintf(list, sizeof(list), "127.0.0.1, %s 10.0.0.0/8", bads[i]);
		strcpy(bad, "?");
		rc = client_ip_check_list(list, bad, sizeof(bad));
		CHECK_EQ_INT(rc, SB_EINVAL);
		CHECK_STR(bad, bads[i]);
		/* and a bad entry never matches, whatever is asked */
		CHECK(!client_ip_trusted("10.0.0.0", bads[i]));
		CHECK(!client_ip_trusted("1.2.3.4", bads[i]));
		CHECK(!client_ip_trusted("::", bads[i]));
		CHECK(!client_ip_trusted("fd00::1", bads[i]));
	}
	CHECK_EQ_INT(client_ip_check_list("1.2.3.4/ 8", bad, sizeof(bad)), SB_EINVAL);
	CHECK_STR(bad, "1.2.3.4/");
	/* the first bad entry, cut to fit */
	CHECK_EQ_INT(client_ip_check_list("abcdef ghi", bad, 4), SB_EINVAL);
	CHECK_STR(bad, "abc");
	CHECK_EQ_INT(client_ip_check_list("abcdef", NULL, 0), SB_EINVAL);
	/* bad entries next to good ones: the good ones still work */
	CHECK(client_ip_trusted("10.0.0.1", "10.0.0.0/33 abc 10.0.0.0/8"));
	CHECK(!client_ip_trusted("10.0.0.1", "10.0.0.0/33 10.0.0.0/"));
}

static void test_untrusted_peer(void)
{
	CHECK_STR(res("203.0.113.9", NULL, "1.2.3.4", PROXY), "203.0.113.9");
	CHECK_STR(res("203.0.113.9", "for=1.2.3.4", "1.2.3.4", PROXY), "203.0.113.9");
	CHECK_STR(res("127.0.0.1", "for=1.2.3.4", "1.2.3.4", ""), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", "for=1.2.3.4", "1.2.3.4", NULL), "127.0.0.1");
	CHECK_STR(res("::ffff:1.2.3.4", NULL, "5.6.7.8", PROXY), "::ffff:1.2.3.4"); /* as given */
	CHECK_STR(res("garbage", NULL, "5.6.7.8", PROXY), "garbage");
	CHECK_STR(res(NULL, NULL, "5.6.7.8", PROXY), "");
	CHECK_STR(res("", NULL, "5.6.7.8", PROXY), "");
	CHECK_STR(res("0123456789012345678901234567890123456789012345678901234567890", NULL,
		      NULL, PROXY), "012345678901234567890123456789012345678901234");
}

static void test_xff(void)
{
	CHECK_STR(res("127.0.0.1", NULL, "203.0.113.7", PROXY), "203.0.113.7");
	CHECK_STR(res("127.0.0.1", "", "203.0.113.7", PROXY), "203.0.113.7");
	CHECK_STR(res("127.0.0.1", NULL, " 203.0.113.7 ", PROXY), "203.0.113.7");
	CHECK_STR(res("127.0.0.1", NULL, "1.1.1.1, 10.0.0.2", PROXY), "1.1.1.1");
	CHECK_STR(res("127.0.0.1", NULL, "1.1.1.1,10.0.0.2,10.0.0.3", PROXY), "1.1.1.1");
	/* what the client wrote itself is left of its own address */
	CHECK_STR(res("127.0.0.1", NULL, "6.6.6.6, 1.1.1.1", "127.0.0.1"), "1.1.1.1");
	CHECK_STR(res("127.0.0.1", NULL, "10.0.0.9, 6.6.6.6, 1.1.1.1, 10.0.0.2", PROXY), "1.1.1.1");
	/* all proxies: the leftmost */
	CHECK_STR(res("127.0.0.1", NULL, "10.0.0.3, 10.0.0.2", PROXY), "10.0.0.3");
	CHECK_STR(res("10.0.0.1", NULL, "127.0.0.1", PROXY), "127.0.0.1");
	/* no header: the peer */
	CHECK_STR(res("127.0.0.1", NULL, NULL, PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", "", "", PROXY), "127.0.0.1");
	CHECK_STR(res("::ffff:127.0.0.1", NULL, NULL, PROXY), "::ffff:127.0.0.1");
	/* not an address: the proxy after it is as close as we can tell */
	CHECK_STR(res("127.0.0.1", NULL, "unknown", PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", NULL, "1.1.1.1, unknown, 10.0.0.2", PROXY), "10.0.0.2");
	CHECK_STR(res("127.0.0.1", NULL, "1.1.1.1, garbage", PROXY), "127.0.0.1");
	/* empty list elements are no hops (RFC 9110 5.6.1) */
	CHECK_STR(res("127.0.0.1", NULL, "1.1.1.1, 10.0.0.2,", PROXY), "1.1.1.1");
	CHECK_STR(res("127.0.0.1", NULL, "1.1.1.1, 10.0.0.2, ,", PROXY), "1.1.1.1");
	CHECK_STR(res("127.0.0.1", NULL, "1.1.1.1,,10.0.0.2", PROXY), "1.1.1.1");
	CHECK_STR(res("127.0.0.1", NULL, ",", PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", NULL, " ,\t, ", PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", NULL, "1.1.1.1 2.2.2.2", PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", NULL, "[::1", PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", NULL, "[2001:db8::1]junk", PROXY), "127.0.0.1");
	/* ports, brackets and quotes are stripped */
	CHECK_STR(res("127.0.0.1", NULL, "192.0.2.43:47011", PROXY), "192.0.2.43");
	CHECK_STR(res("127.0.0.1", NULL, "[2001:db8::1]:443", PROXY), "2001:db8::1");
	CHECK_STR(res("127.0.0.1", NULL, "[2001:db8::1]", PROXY), "2001:db8::1");
	CHECK_STR(res("127.0.0.1", NULL, "\"1.2.3.4\"", PROXY), "1.2.3.4");
	/* IPv6 proxies */
	CHECK_STR(res("::1", NULL, "2001:db8::1", "::1"), "2001:db8::1");
	CHECK_STR(res("fd00::5", NULL, "2001:db8::1, fd00::7", "fd00::/8"), "2001:db8::1");
	CHECK_STR(res("fd00::5", NULL, "10.0.0.2", "fd00::/8 10.0.0.0/8"), "10.0.0.2");
	CHECK_STR(res("fd00::5", NULL, "1.1.1.1, 10.0.0.2", "fd00::/8 10.0.0.0/8"), "1.1.1.1");
	/* a v4 trusted block does not make an IPv6 hop trusted, nor the reverse */
	CHECK_STR(res("127.0.0.1", NULL, "1.1.1.1, ::ffff:a00:2", PROXY), "1.1.1.1");
	CHECK(strcmp(res("127.0.0.1", NULL, "1.1.1.1, ::a00:2", PROXY), "1.1.1.1") != 0);
	CHECK_STR(res("127.0.0.1", NULL, "1.1.1.1, 2001:db8::2", PROXY), "2001:db8::2");
	CHECK_STR(res("::1", NULL, "1.1.1.1, 127.0.0.1", "::/0"), "127.0.0.1");
	/* a dual-stack peer, v4-mapped, is trusted by its IPv4 entry */
	CHECK_STR(res("::ffff:127.0.0.1", NULL, "203.0.113.7", PROXY), "203.0.113.7");
}

/* What comes out of the headers is a canonical literal. */
static void test_canonical(void)
{
	CHECK_STR(res("127.0.0.1", NULL, "::ffff:1.2.3.4", PROXY), "1.2.3.4");
	CHECK_STR(res("127.0.0.1", NULL, "::FFFF:1.2.3.4", PROXY), "1.2.3.4");
	CHECK_STR(res("127.0.0.1", NULL, "[::ffff:1.2.3.4]:80", PROXY), "1.2.3.4");
	CHECK_STR(res("127.0.0.1", NULL, "2001:DB8:0:0::0001", PROXY), "2001:db8::1");
	CHECK_STR(res("127.0.0.1", NULL, "2001:0db8:0000:0000:0000:0000:0000:0001", PROXY),
		  "2001:db8::1");
	CHECK_STR(res("127.0.0.1", NULL, "::", PROXY), "::");
	CHECK_STR(res("127.0.0.1", NULL, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", PROXY),
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	CHECK_STR(res("127.0.0.1", "for=\"[::ffff:203.0.113.1]\"", NULL, PROXY), "203.0.113.1");
	/* longest textual form fits */
	CHECK_STR(res("127.0.0.1", NULL, "[::ffff:255.255.255.255]", PROXY), "255.255.255.255");
	CHECK_STR(res("127.0.0.1", NULL, "1:2:3:4:5:6:7:8", PROXY), "1:2:3:4:5:6:7:8");
}

static void test_forwarded(void)
{
	CHECK_STR(res("127.0.0.1",
		      "for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"",
		      NULL, PROXY), "2001:db8:cafe::17");
	CHECK_STR(res("127.0.0.1", "for=192.0.2.43:47011", NULL, PROXY), "192.0.2.43");
	CHECK_STR(res("127.0.0.1", "for=\"192.0.2.43:47011\"", NULL, PROXY), "192.0.2.43");
	CHECK_STR(res("127.0.0.1", "for=192.0.2.43", NULL, PROXY), "192.0.2.43");
	CHECK_STR(res("127.0.0.1", "For=192.0.2.43", NULL, PROXY), "192.0.2.43");
	CHECK_STR(res("127.0.0.1", "FOR=192.0.2.43", NULL, PROXY), "192.0.2.43");
	CHECK_STR(res("127.0.0.1", "proto=https;for=192.0.2.43;host=x", NULL, PROXY), "192.0.2.43");
	CHECK_STR(res("127.0.0.1", "proto=https; for=192.0.2.43", NULL, PROXY), "192.0.2.43");
	CHECK_STR(res("127.0.0.1", "for=198.51.100.17, for=10.0.0.2", NULL, PROXY),
		  "198.51.100.17");
	CHECK_STR(res("127.0.0.1", "for=6.6.6.6, for=198.51.100.17;by=10.0.0.2, for=10.0.0.2",
		      NULL, PROXY), "198.51.100.17");
	CHECK_STR(res("127.0.0.1", "for=10.0.0.3,for=10.0.0.2", NULL, PROXY), "10.0.0.3");
	/* obfuscated or missing: the proxy after it */
	CHECK_STR(res("127.0.0.1", "for=_hidden", NULL, PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", "for=unknown, for=10.0.0.2", NULL, PROXY), "10.0.0.2");
	CHECK_STR(res("127.0.0.1", "proto=https", NULL, PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", "for=1.1.1.1, proto=https", NULL, PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", "for=", NULL, PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", "forx=1.1.1.1", NULL, PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", "xfor=1.1.1.1", NULL, PROXY), "127.0.0.1");
	CHECK_STR(res("127.0.0.1", "for=[2001:db8::1]", NULL, PROXY), "2001:db8::1");
	/* X-Forwarded-For, what nginx and HAProxy append, wins over a
	 * Forwarded the client may have sent through them */
	CHECK_STR(res("127.0.0.1", "for=192.0.2.1", "198.51.100.1", PROXY), "198.51.100.1");
	CHECK_STR(res("127.0.0.1", "for=_hidden", "198.51.100.1", PROXY), "198.51.100.1");
	CHECK_STR(res("127.0.0.1", "for=192.0.2.1", "", PROXY), "192.0.2.1");
	CHECK_STR(res("127.0.0.1", "", "198.51.100.1", PROXY), "198.51.100.1");
	CHECK_STR(res("127.0.0.1", NULL, "198.51.100.1", PROXY), "198.51.100.1");
}

/* Only the last 16 hops are looked at: a longer chain is cut at the left. */
static void test_many_hops(void)
{
	char xff[1024];
	size_t n = 0;

	/* client and 15 proxies: the client */
	n = (size_t)snprintf(xff, sizeof(xff), "198.51.100.1");
	for (int i = 0; i < 15; i++)
		n += (size_t)snprintf(xff + n, sizeof(xff) - n, ", 10.0.0.%d", i + 1);
	CHECK_STR(res("127.0.0.1", NULL, xff, PROXY), "198.51.100.1");
	/* client and 16 proxies: the client is cut off, the leftmost proxy looked at */
	n += (size_t)snprintf(xff + n, sizeof(xff) - n, ", 10.0.0.16");
	CHECK_STR(res("127.0.0.1", NULL, xff, PROXY), "10.0.0.1");
	/* 40 spoofed entries left of the client and one proxy */
	n = 0;
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(xff + n, sizeof(xff) - n, "6.6.6.%d, ", i);
	snprintf(xff + n, sizeof(xff) - n, "1.1.1.1, 10.0.0.2");
	CHECK_STR(res("127.0.0.1", NULL, xff, PROXY), "1.1.1.1");
	/* 40 trusted hops: a trusted one, never an address the client chose */
	n = (size_t)snprintf(xff, sizeof(xff), "6.6.6.6");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(xff + n, sizeof(xff) - n, ",10.0.0.%d", i + 1);
	CHECK_STR(res("127.0.0.1", NULL, xff, PROXY), "10.0.0.25");
	/* the same with Forwarded */
	n = (size_t)snprintf(xff, sizeof(xff), "for=6.6.6.6");
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(xff + n, sizeof(xff) - n, ", for=10.0.0.%d;proto=http", i + 1);
	CHECK_STR(res("127.0.0.1", xff, NULL, PROXY), "10.0.0.5");
	/* many empty elements: no hops, so they push nothing out */
	memset(xff, ',', 100);
	strcpy(xff + 100, "1.1.1.1");
	CHECK_STR(res("127.0.0.1", NULL, xff, PROXY), "1.1.1.1");
	strcpy(xff, "1.1.1.1");
	memset(xff + 7, ',', 100);
	xff[107] = '\0';
	CHECK_STR(res("127.0.0.1", NULL, xff, PROXY), "1.1.1.1");
	n = (size_t)snprintf(xff, sizeof(xff), "1.1.1.1");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(xff + n, sizeof(xff) - n, ", ,10.0.0.%d", i % 16);
	CHECK_STR(res("127.0.0.1", NULL, xff, PROXY), "10.0.0.8");
	CHECK_STR(res("127.0.0.1", "for=1.1.1.1, , for=10.0.0.2,", NULL, PROXY), "1.1.1.1");
}

TEST_MAIN(TEST(test_trusted_addresses), TEST(test_trusted_cidr), TEST(test_trusted_families),
	  TEST(test_check_list), TEST(test_untrusted_peer), TEST(test_xff), TEST(test_canonical),
	  TEST(test_forwarded), TEST(test_many_hops))
