/* SPDX-License-Identifier: MIT */
/* Unit tests for proto/client.c, the client side of the wire shared by
 * scanner-sim and the firmware: the encoders of what a desktop or a scanner
 * sends, and the decoder of what the server sends. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "client.h"
#include "sb_err.h"

static void test_client_encoders(void)
{
	char buf[256];

	CHECK_EQ_INT(sb_cmsg_hello(buf, sizeof buf, "t.o.k", 7), (int)strlen(buf));
	CHECK_STR(buf, "{\"type\":\"hello\",\"token\":\"t.o.k\",\"last_seq\":7}");
	sb_cmsg_hello(buf, sizeof buf, "t", -1);
	CHECK_STR(buf, "{\"type\":\"hello\",\"token\":\"t\"}");
	sb_cmsg_scan(buf, sizeof buf, "a-1", "q\"\\\x01", SB_FMT_CODE_128, 1795444990000);
	CHECK_STR(buf, "{\"type\":\"scan\",\"id\":\"a-1\",\"code\":\"q\\\"\\\\\\u0001\","
		  "\"format\":\"CODE_128\",\"scanned_at\":1795444990000}");
	sb_cmsg_scan(buf, sizeof buf, "a-2", "4006381333931", SB_FMT_EAN_13, -1);
	CHECK_STR(buf, "{\"type\":\"scan\",\"id\":\"a-2\",\"code\":\"4006381333931\","
		  "\"format\":\"EAN_13\"}");
	sb_cmsg_ack(buf, sizeof buf, 42);
	CHECK_STR(buf, "{\"type\":\"ack\",\"seq\":42}");
	sb_cmsg_kick(buf, sizeof buf, "9VWh-hIkrgg-xUhY");
	CHECK_STR(buf, "{\"type\":\"kick\",\"scanner\":\"9VWh-hIkrgg-xUhY\"}");
	sb_cmsg_ping(buf, sizeof buf);
	CHECK_STR(buf, "{\"type\":\"ping\"}");
	CHECK_EQ_INT(sb_cmsg_ack(buf, 10, 42), SB_ETOOBIG);
	CHECK_EQ_INT(sb_cmsg_hello(buf, sizeof buf, "", 0), SB_EINVAL);
	/* what we encode, the daemon's decoder accepts */
	{
		struct sb_client_msg m;
		int n = sb_cmsg_scan(buf, sizeof buf, "k3f9-0001", "4006381333931",
				     SB_FMT_EAN_13, 5);
		CHECK_EQ_INT(sb_msg_decode(buf, (size_t)n, 8, &m, NULL), 0);
		CHECK_EQ_INT(m.type, SB_MSG_SCAN);
		CHECK_STR(m.scan.id, "k3f9-0001");
		CHECK_EQ_INT(m.scan.scanned_at, 5);
	}
}

static void test_client_decoder(void)
{
	struct sb_server_msg m;
	const char *w = "{\"type\":\"welcome\",\"role\":\"scanner\",\"session\":\"S\",\"last_seq\":3,"
			"\"delivered_seq\":2,\"expires_at\":1795445564770,\"scanner\":\"X\"}";
	const char *s = "{\"type\":\"scan\",\"seq\":1,\"id\":\"k3f9-0001\",\"code\":\"4006381333931\","
			"\"format\":\"EAN_13\",\"scanner\":\"X\",\"scanned_at\":null,"
			"\"received_at\":1795444965773}";
	const char *a = "{\"type\":\"ack\",\"id\":\"k3f9-0001\",\"seq\":1,\"duplicate\":true}";
	const char *e = "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"slow\",\"id\":\"z\"}";
	const char *j = "{\"type\":\"scanner_joined\",\"scanner\":{\"id\":\"X\",\"name\":\"Till 2\"}}";

	CHECK_EQ_INT(sb_srv_decode(w, strlen(w), &m), 0);
	CHECK_EQ_INT(m.type, SB_SRV_WELCOME);
	CHECK_STR(m.role, "scanner");
	CHECK_EQ_INT(m.last_seq, 3);
	CHECK_EQ_INT(m.delivered_seq, 2);
	CHECK_EQ_INT(m.expires_at, 1795445564770LL);
	CHECK_STR(m.scanner, "X");
	CHECK_EQ_INT(sb_srv_decode(s, strlen(s), &m), 0);
	CHECK_EQ_INT(m.type, SB_SRV_SCAN);
	CHECK_EQ_INT(m.seq, 1);
	CHECK_STR(m.id, "k3f9-0001");
	CHECK_EQ_INT(m.scan.format, SB_FMT_EAN_13);
	CHECK_EQ_INT(m.scan.scanned_at, -1);
	CHECK_EQ_INT(m.scan.received_at, 1795444965773LL);
	CHECK_EQ_INT(sb_srv_decode(a, strlen(a), &m), 0);
	CHECK(m.type == SB_SRV_ACK && m.duplicate && m.seq == 1);
	CHECK_EQ_INT(sb_srv_decode(e, strlen(e), &m), 0);
	CHECK(m.type == SB_SRV_ERROR && !strcmp(m.code, "rate_limited") && !strcmp(m.id, "z"));
	CHECK_EQ_INT(sb_srv_decode(j, strlen(j), &m), 0);
	CHECK(m.type == SB_SRV_SCANNER_JOINED && !strcmp(m.name, "Till 2"));
	CHECK_EQ_INT(sb_srv_decode("{\"type\":\"future\"}", 18, &m), 0);
	CHECK_EQ_INT(m.type, SB_SRV_UNKNOWN);
	CHECK_EQ_INT(sb_srv_decode("[1]", 3, &m), SB_EPROTO);
	CHECK_EQ_INT(sb_srv_decode("{\"type\":\"ack\"", 13, &m), SB_EPROTO);
	CHECK_EQ_INT(sb_srv_decode("{\"type\":\"ack\",\"seq\":1}", 22, &m), SB_EINVAL);
	CHECK_STR(sb_srv_type_name(SB_SRV_DELIVERED), "delivered");
	/* integers that do not fit in int64_t are refused, not converted */
	CHECK_EQ_INT(sb_srv_decode("{\"type\":\"delivered\",\"id\":\"a\",\"seq\":9e22}", 40, &m),
		     SB_EINVAL);
	CHECK_EQ_INT(sb_srv_decode("{\"type\":\"pong\",\"t\":-1e300}", 26, &m), SB_EINVAL);
}

TEST_MAIN(TEST(test_client_encoders), TEST(test_client_decoder))
