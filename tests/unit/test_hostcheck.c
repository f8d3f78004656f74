/* SPDX-License-Identifier: MIT */
/* Host header allow-list (DNS rebinding): hostcheck_match against a box whose
 * names are set by hand, and box_names_read on this machine. */
#include <arpa/inet.h>
#include <string.h>

#include "check.h"
#include "clock.h"
#include "hostcheck.h"
#include "sb_err.h"

static void add_v4(struct box_names *b, const char *s)
{
	unsigned char *a = b->addr[b->n_addr++];

	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	CHECK(inet_pton(AF_INET, s, a + 12) == 1);
}

static void add_v6(struct box_names *b, const char *s)
{
	CHECK(inet_pton(AF_INET6, s, b->addr[b->n_addr++]) == 1);
}

/* scanbridge-ab12 at 192.168.1.20, fe80::1 and 10.0.0.5 */
static void box(struct box_names *b)
{
	memset(b, 0, sizeof(*b));
	strcpy(b->hostname, "scanbridge-ab12");
	add_v4(b, "192.168.1.20");
	add_v6(b, "fe80::1");
	add_v4(b, "10.0.0.5");
}

static bool ok(const char *host)
{
	struct box_names b;

	box(&b);
	return hostcheck_match(host, &b, "http://box.lan:8080", "pos.example till.example:3000");
}

static void test_no_host(void)
{
	struct box_names b;

	box(&b);
	CHECK(hostcheck_match(NULL, &b, "", ""));
	CHECK(hostcheck_match("", &b, "", ""));
	CHECK(hostcheck_match(NULL, &b, NULL, NULL));
	CHECK(hostcheck_match("", &b, NULL, NULL));
}

static void test_loopback(void)
{
	CHECK(ok("localhost"));
	CHECK(ok("localhost:8080"));
	CHECK(ok("LOCALHOST"));
	CHECK(ok("LocalHost:80"));
	CHECK(ok("localhost."));
	CHECK(ok("localhost:"));        /* empty port: RFC 3986 allows it */
	CHECK(ok("app.localhost"));
	CHECK(ok("a.b.localhost:3000"));
	CHECK(ok("APP.LOCALHOST."));
	CHECK(ok("127.0.0.1"));
	CHECK(ok("127.0.0.1:8080"));
	CHECK(ok("127.1.2.3"));
	CHECK(ok("127.255.255.255:1"));
	CHECK(ok("[::1]"));
	CHECK(ok("[::1]:8080"));
	CHECK(ok("[0:0:0:0:0:0:0:1]"));
	CHECK(ok("[::ffff:127.0.0.1]:80")); /* v4-mapped loopback */

	CHECK(!ok(".localhost"));
	CHECK(!ok("localhost.evil"));
	CHECK(!ok("localhost.evil:8080"));
	CHECK(!ok("localhostevil"));
	CHECK(!ok("evillocalhost"));
	CHECK(!ok("localhost.."));
	CHECK(!ok("127.0.0.1.evil"));
	CHECK(!ok("128.0.0.1"));
	CHECK(!ok("0.0.0.0"));
	CHECK(!ok("[::]"));
	CHECK(!ok("[::2]"));
	CHECK(!ok("[::1"));
	CHECK(!ok("[::1]x"));
	CHECK(!ok("[::1]8080"));
	CHECK(!ok("[::1]:80]"));
	CHECK(!ok("::1"));              /* unbracketed IPv6 */
	CHECK(!ok("::1:8080"));
	CHECK(!ok("[]"));
	CHECK(!ok("[]:80"));
	CHECK(!ok("[localhost]"));      /* brackets hold IPv6 literals only */
	CHECK(!ok("[127.0.0.1]"));
	CHECK(!ok("[::1%25lo]"));
	/* forms inet_pton does not read are names, and not the box's */
	CHECK(!ok("0x7f.1"));
	CHECK(!ok("0x7f000001"));
	CHECK(!ok("2130706433"));
	CHECK(!ok("127.1"));
	CHECK(!ok("0177.0.0.1"));
	CHECK(!ok("127.0.0.01"));
}

static void test_box_names(void)
{
	CHECK(ok("scanbridge-ab12"));
	CHECK(ok("scanbridge-ab12:80"));
	CHECK(ok("scanbridge-ab12.local:80"));
	CHECK(ok("scanbridge-ab12.local"));
	CHECK(ok("SCANBRIDGE-AB12.LOCAL."));
	CHECK(ok("192.168.1.20"));
	CHECK(ok("192.168.1.20:8080"));
	CHECK(ok("[fe80::1]"));
	CHECK(ok("[FE80::0001]:443"));
	CHECK(ok("10.0.0.5"));
	CHECK(ok("[::ffff:10.0.0.5]"));
	CHECK(ok("[::ffff:192.168.1.20]:8080"));

	CHECK(!ok("scanbridge-ab12.evil"));
	CHECK(!ok("scanbridge-ab12.local.evil"));
	CHECK(!ok("scanbridge-ab12.localx"));
	CHECK(!ok("scanbridge-ab1"));
	CHECK(!ok("scanbridge-ab123"));
	CHECK(!ok("xscanbridge-ab12"));
	CHECK(!ok("scanbridge-ab12.lan"));
	CHECK(!ok(".local"));
	CHECK(!ok("192.168.1.21"));
	CHECK(!ok("192.168.1.2"));
	CHECK(!ok("192.168.1.200"));
	CHECK(!ok("[fe80::2]"));
	CHECK(!ok("fe80::1"));          /* unbracketed */
	CHECK(!ok("[::10.0.0.5]"));     /* IPv4-compatible, not v4-mapped */
	CHECK(!ok("[fe80::1%25eth0]")); /* zone ids are not compared */
}

static void test_box_fqdn(void)
{
	struct box_names b;

	memset(&b, 0, sizeof(b));
	strcpy(b.hostname, "box.example.com");
	CHECK(hostcheck_match("box.example.com", &b, "", ""));
	CHECK(hostcheck_match("box.example.com.local", &b, "", ""));
	CHECK(hostcheck_match("box.local", &b, "", "")); /* what avahi publishes */
	CHECK(!hostcheck_match("box", &b, "", ""));
	CHECK(!hostcheck_match("box.example", &b, "", ""));
	CHECK(!hostcheck_match("box.evil", &b, "", ""));
	CHECK(!hostcheck_match("example.local", &b, "", ""));

	/* no names known: only loopback and the configured ones */
	memset(&b, 0, sizeof(b));
	CHECK(hostcheck_match("localhost", &b, "", ""));
	CHECK(hostcheck_match("[::1]", &b, "", ""));
	CHECK(!hostcheck_match(".local", &b, "", ""));
	CHECK(!hostcheck_match("local", &b, "", ""));
	CHECK(!hostcheck_match("192.168.1.20", &b, "", ""));
	CHECK(!hostcheck_match("[::]", &b, "", ""));  /* all-zero, as the empty slots */
	CHECK(!hostcheck_match("0.0.0.0", &b, "", ""));
}

static void test_public_url(void)
{
	struct box_names b;

	box(&b);
	CHECK(ok("box.lan"));
	CHECK(ok("box.lan:8080"));
	CHECK(ok("box.lan:9999"));      /* port not compared */
	CHECK(ok("BOX.LAN."));
	CHECK(!ok("box.lan.evil"));
	CHECK(!ok("evil.box.lan"));
	CHECK(!ok("box.la"));
	CHECK(!ok("box"));

	CHECK(hostcheck_match("box.lan", &b, "https://box.lan/scan?x=1", ""));
	CHECK(hostcheck_match("box.lan", &b, "http://box.lan", ""));
	CHECK(hostcheck_match("box.lan", &b, "http://box.lan#frag", ""));
	CHECK(hostcheck_match("box.lan", &b, "http://user:pw@box.lan:8080/", ""));
	CHECK(!hostcheck_match("user", &b, "http://user:pw@box.lan:8080/", ""));
	CHECK(hostcheck_match("[2001:db8::5]:80", &b, "http://[2001:db8::5]:8080", ""));
	/* addresses compare by value, not spelling */
	CHECK(hostcheck_match("[2001:db8::5]", &b, "http://[2001:DB8:0:0::05]:8080", ""));
	CHECK(!hostcheck_match("[2001:db8::6]", &b, "http://[2001:DB8:0:0::05]:8080", ""));
	CHECK(hostcheck_match("203.0.113.9", &b, "http://203.0.113.9:8080", ""));
	CHECK(!hostcheck_match("203.0.113.90", &b, "http://203.0.113.9:8080", ""));
	CHECK(!hostcheck_match("box.lan", &b, "box.lan", ""));    /* not a URL */
	CHECK(!hostcheck_match("box.lan", &b, "", ""));
	CHECK(!hostcheck_match("box.lan", &b, NULL, ""));
	CHECK(!hostcheck_match("box.lan", &b, "http://", ""));
	CHECK(!hostcheck_match("box.lan", &b, "http://box.lan:80x/", ""));
}

static void test_allowed_hosts(void)
{
	struct box_names b;
	const char *list = "pos.example, till.example:3000\t[2001:db8::9]:443 ,, 198.51.100.7";

	box(&b);
	CHECK(ok("pos.example"));
	CHECK(ok("till.example"));
	CHECK(ok("TILL.EXAMPLE:1234"));
	CHECK(!ok("pos.example.evil"));
	CHECK(!ok("evil.pos.example"));
	CHECK(!ok("example"));

	CHECK(hostcheck_match("pos.example:443", &b, "", list));
	CHECK(hostcheck_match("till.example", &b, "", list));
	CHECK(hostcheck_match("till.example:3000", &b, "", list));
	CHECK(hostcheck_match("[2001:db8::9]", &b, "", list));
	CHECK(hostcheck_match("[2001:db8:0::9]:1", &b, "", list));
	CHECK(hostcheck_match("198.51.100.7:8080", &b, "", list));
	CHECK(!hostcheck_match("198.51.100.70", &b, "", list));
	CHECK(hostcheck_match("198.51.100.8", &b, "", "[::ffff:198.51.100.8]"));
	CHECK(hostcheck_match("[::ffff:198.51.100.8]", &b, "", "198.51.100.8"));
	CHECK(!hostcheck_match("[::198.51.100.8]", &b, "", "198.51.100.8"));
	CHECK(!hostcheck_match("evil.example", &b, "", list));
	CHECK(!hostcheck_match("3000", &b, "", list));
	/* malformed entries match nothing */
	CHECK(!hostcheck_match("evil", &b, "", "evil:x [evil] :80"));
	CHECK(!hostcheck_match("x", &b, "", "*x x*"));

	/* "*": anything, even what does not parse */
	CHECK(hostcheck_match("evil.example", &b, "", "*"));
	CHECK(hostcheck_match("evil.example:8080", &b, "", "pos.example, *"));
	CHECK(hostcheck_match("[::1", &b, "", "*"));
	CHECK(hostcheck_match("x:y:z", &b, "", "*"));
	{
		char big[400];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		CHECK(hostcheck_match(big, &b, "", "*"));
	}
}

static void test_refused(void)
{
	char name[300];

	CHECK(!ok("evil.example"));
	CHECK(!ok("evil.example:8080"));
	CHECK(!ok("evil.example."));
	CHECK(!ok(" "));
	CHECK(!ok(":"));
	CHECK(!ok(":8080"));
	CHECK(!ok("."));
	/* trailing junk */
	CHECK(!ok("localhost:8080junk"));
	CHECK(!ok("localhost:8080:9090"));
	CHECK(!ok("localhost:123456"));
	CHECK(!ok("localhost:-1"));
	CHECK(!ok("localhost:+80"));
	CHECK(!ok("localhost "));
	CHECK(!ok("localhost/"));
	CHECK(!ok("localhost/x"));
	CHECK(!ok("localhost?"));
	CHECK(!ok("localhost@evil.example"));
	CHECK(!ok("evil.example@localhost"));
	CHECK(!ok("127.0.0.1 "));
	CHECK(!ok("scanbridge-ab12\t"));
	CHECK(!ok("box.lan,evil.example"));
	CHECK(!ok("pos.example evil"));

	/* oversize: 255 bytes fit, 256 do not (even with a port after) */
	memset(name, 'a', sizeof(name));
	memcpy(name + 255 - 10, ".localhost", 11);
	CHECK_EQ_INT(strlen(name), 255);
	CHECK(ok(name));
	memset(name, 'a', sizeof(name));
	memcpy(name + 256 - 10, ".localhost", 11);
	CHECK_EQ_INT(strlen(name), 256);
	CHECK(!ok(name));
	memcpy(name + 256 - 10, ".localhost:80", 14);
	CHECK(!ok(name));
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CHECK(!ok(name));
	{
		struct box_names b;

		box(&b);
		CHECK(!hostcheck_match(name, &b, "", name));
	}
}

static void test_box_names_read(void)
{
	static const unsigned char v6_loop[16] = { [15] = 1 };
	static const unsigned char v4_loop[16] = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 };
	struct box_names b;
	bool loop = false;
	int rc;

	memset(&b, 0x5a, sizeof(b));
	rc = box_names_read(&b);
	CHECK(rc == 0 || rc == SB_EIO);
	CHECK(b.hostname[0] != '\0');
	CHECK(strlen(b.hostname) < sizeof(b.hostname));
	for (const char *p = b.hostname; *p; p++)
		CHECK(!(*p >= 'A' && *p <= 'Z'));
	CHECK(b.n_addr >= 1 && b.n_addr <= HOSTCHECK_MAX_ADDRS);
	for (int i = 0; i < b.n_addr; i++)
		if (!memcmp(b.addr[i], v4_loop, 16) || !memcmp(b.addr[i], v6_loop, 16))
			loop = true;
	CHECK(loop);
	/* and the match uses them */
	CHECK(hostcheck_match(b.hostname, &b, "", ""));
	if (!strchr(b.hostname, '.')) {
		char local[HOSTCHECK_NAME_MAX + 8];

		snprintf(local, sizeof(local), "%s.local", b.hostname);
		CHECK(hostcheck_match(local, &b, "", ""));
	}
	CHECK(!hostcheck_match("evil.example", &b, "", ""));
}

static int64_t mono_now;

static int64_t fake_mono(void)
{
	return mono_now;
}

static void test_allowed_cached(void)
{
	clock_stub(NULL, fake_mono);
	mono_now = 1000000;
	CHECK(hostcheck_allowed(NULL, "", ""));
	CHECK(hostcheck_allowed("localhost:8080", "", ""));
	CHECK(hostcheck_allowed("box.lan", "http://box.lan", ""));
	CHECK(!hostcheck_allowed("evil.example", "http://box.lan", ""));
	CHECK(!hostcheck_allowed("evil.example", "http://box.lan", "")); /* no re-read */
	CHECK(hostcheck_allowed("evil.example", "http://box.lan", "*"));
	CHECK(hostcheck_allowed("[::1]", "", ""));
	mono_now += 999;
	CHECK(!hostcheck_allowed("evil.example", "", ""));
	mono_now += 1;  /* a second later an unknown name re-reads the names */
	CHECK(!hostcheck_allowed("evil.example", "", ""));
	CHECK(hostcheck_allowed("localhost", "", ""));
	mono_now += 5000;
	CHECK(!hostcheck_allowed("[::1", "", ""));
	clock_stub(NULL, NULL);
}

TEST_MAIN(TEST(test_no_host), TEST(test_loopback), TEST(test_box_names), TEST(test_box_fqdn),
	  TEST(test_public_url), TEST(test_allowed_hosts), TEST(test_refused),
	  TEST(test_box_names_read), TEST(test_allowed_cached))
