/* SPDX-License-Identifier: MIT */
/* Unit tests for scanner-sim/conn.c, the simulator's own epoll WebSocket
 * client, against a scripted server in a child process on 127.0.0.1: the
 * upgrade request and the 101 check, frames that arrive with the 101 or split
 * across reads, a fragmented message with a ping inside it, 16-bit lengths,
 * pong, masked client frames, the owner's frames in order (one write per
 * pass, and through a full socket buffer), a close 4004 echoed and taken as a
 * dead token, drops and refused connects reconnecting with backoff, a refused
 * upgrade, and the timer heap.
 *
 * The simulator's sources are compiled into this test (tests/CMakeLists.txt
 * links only stats.c and opts.c/util.c/http.c into the other test_sim_*):
 * the client is conn.c with conn_sock.c, conn_ws.c, sim_timer.c, ws_frame.c
 * and ws_upgrade.c. */
#include "../../scanner-sim/conn.c"
#include "../../scanner-sim/conn_sock.c"
#include "../../scanner-sim/conn_ws.c"
#include "../../scanner-sim/sim_timer.c"
#include "../../scanner-sim/ws_frame.c"
#include "../../scanner-sim/ws_upgrade.c"
#include "../../scanner-sim/util.c"
#include "../../scanner-sim/http.c"

#include <sys/wait.h>

#include "check.h"

/* ---- the scripted server (child process) --------------------------------------- */

static int srv_failures;

#define SCHECK(cond) do { if (!(cond)) { srv_failures++; \
	fprintf(stderr, "server %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)

static int srv_listen(int *port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		perror("listen");
		exit(2);
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static char rbuf[1 << 20];
static size_t rpos, rlen;            /* unread: rbuf[rpos, rlen) */

/* Reads more into rbuf; 0, or -1 at EOF / error / timeout. */
static int srv_fill(int fd)
{
	ssize_t n;

	if (rpos) {
		memmove(rbuf, rbuf + rpos, rlen - rpos);
		rlen -= rpos;
		rpos = 0;
	}
	n = recv(fd, rbuf + rlen, sizeof rbuf - rlen, 0);

	if (n <= 0)
		return -1;
	rlen += (size_t)n;
	return 0;
}

static int srv_accept(int lfd, int rcvbuf)
{
	struct timeval tv = { 5, 0 };
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		exit(3);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	rpos = rlen = 0;
	return fd;
}

/* Reads the upgrade request into req; returns the accept value for its key. */
static void srv_read_request(int fd, char *req, size_t cap, char accept[32])
{
	char *end, *k, key[64] = "", cat[128];
	unsigned char sha[SHA_DIGEST_LENGTH];
	size_t hl;

	while (!(end = memmem(rbuf + rpos, rlen - rpos, "\r\n\r\n", 4)))
		if (srv_fill(fd) < 0) {
			SCHECK(!"no upgrade request");
			exit(srv_failures);
		}
	hl = (size_t)(end + 4 - (rbuf + rpos));
	snprintf(req, cap, "%.*s", (int)hl, rbuf + rpos);
	rpos += hl;
	k = strstr(req, "Sec-WebSocket-Key: ");
	if (k)
		sscanf(k + 19, "%63[^\r]", key);
	SCHECK(strlen(key) == 24);
	snprintf(cat, sizeof cat, "%s" WS_GUID, key);
	SHA1((const unsigned char *)cat, strlen(cat), sha);
	EVP_EncodeBlock((unsigned char *)accept, sha, sizeof sha);
}

static size_t srv_frame(char *out, unsigned op, bool fin, const void *p, size_t n)
{
	size_t h = 2;

	out[0] = (char)((fin ? 0x80 : 0) | op);
	if (n < 126) {
		out[1] = (char)n;
	} else {
		out[1] = 126;
		out[2] = (char)(n >> 8);
		out[3] = (char)n;
		h = 4;
	}
	memcpy(out + h, p, n);
	return h + n;
}

static void srv_send(int fd, const void *p, size_t n)
{
	if (send(fd, p, n, MSG_NOSIGNAL) != (ssize_t)n)
		SCHECK(!"send");
}

/* One client frame: must be masked and final. Payload NUL-terminated in buf.
 * Returns the opcode, or -1 at EOF. */
static int srv_read_frame(int fd, char *buf, size_t cap, size_t *len)
{
	size_t h = 2, n;
	unsigned char *f;
	int op;

	for (;;) {
		size_t avail = rlen - rpos;
		f = (unsigned char *)rbuf + rpos;
		if (avail >= 2) {
			n = f[1] & 0x7f;
			h = n == 126 ? 4 : 2;
			if (avail >= h + 4) {
				if (n == 126)
					n = (size_t)f[2] << 8 | f[3];
				if (avail >= h + 4 + n)
					break;
			}
		}
		if (srv_fill(fd) < 0)
			return -1;
	}
	SCHECK(f[1] & 0x80);            /* masked */
	SCHECK(f[0] & 0x80);            /* final */
	SCHECK(n < cap);
	for (size_t i = 0; i < n && i < cap - 1; i++)
		buf[i] = (char)(f[h + 4 + i] ^ f[h + (i & 3)]);
	buf[n < cap ? n : cap - 1] = '\0';
	*len = n;
	op = f[0] & 0x0f;
	rpos += h + 4 + n;
	return op;
}

static const char *welcome_json =
	"{\"type\":\"welcome\",\"role\":\"desktop\",\"session\":\"s1\",\"last_seq\":0,"
	"\"delivered_seq\":0}";

static void srv_send_101(int fd, const char *accept, const char *extra, size_t extra_len)
{
	char out[1024];
	int n = snprintf(out, sizeof out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
			 "Sec-WebSocket-Protocol: scanbridge.v1\r\n\r\n", accept);

	memcpy(out + n, extra, extra_len);
	srv_send(fd, out, (size_t)n + extra_len);
}

/* ---- the client side ------------------------------------------------------------ */

struct owner {
	int n_msgs;
	enum sb_srv_type types[16];
	size_t lens[16];
	int lost_calls, lost_code;
	int to_send, sent;            /* frames the owner still writes */
	int writable_calls;
};

static void o_message(struct sim_conn *c, const struct sb_server_msg *m, const char *raw,
		      size_t len)
{
	struct owner *o = c->user;

	CHECK(raw[len] == '\0');
	if (o->n_msgs < 16) {
		o->types[o->n_msgs] = m->type;
		o->lens[o->n_msgs] = len;
	}
	o->n_msgs++;
}

static int o_writable(struct sim_conn *c, char *buf, size_t cap)
{
	struct owner *o = c->user;

	o->writable_calls++;
	if (o->sent >= o->to_send)
		return 0;
	o->sent++;
	c->more = o->sent < o->to_send;
	return sb_cmsg_ack(buf, cap, o->sent);
}

static void o_lost(struct sim_conn *c, int close_code)
{
	struct owner *o = c->user;

	o->lost_calls++;
	o->lost_code = close_code;
}

static const struct sim_conn_ops o_ops = { o_message, o_writable, o_lost };

static pid_t child;

static int start_server(void (*script)(int lfd, int port))
{
	int port, lfd = srv_listen(&port);

	child = fork();
	if (child == 0) {
		script(lfd, port);
		_exit(srv_failures > 100 ? 100 : srv_failures);
	}
	close(lfd);
	return port;
}

static void end_server(void)
{
	int st = 0;

	CHECK(waitpid(child, &st, 0) == child);
	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), 0);
}

/* A client of the scripted server on port, started (fast backoff). */
static void client_start(struct sim_loop *l, struct sim_conn *c, struct owner *o, int port,
			 enum sim_role role)
{
	struct sim_url u;
	char url[64];

	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	CHECK(sim_url_parse(url, &u, NULL) == 0);
	CHECK(sim_loop_init(l, &u) == 0);
	l->backoff_min_ms = 10;
	l->backoff_max_ms = 40;
	CHECK(sim_conn_init(c, l, role, "tok-1", role == SIM_DESKTOP ? 7 : -1, &o_ops, o) == 0);
	sim_conn_start(c);
}

static void client_free(struct sim_loop *l, struct sim_conn *c)
{
	sim_loop_free(l);
	sim_conn_free(c);
}

/* Runs the loop until done() or 5 s. */
static bool run_until(struct sim_loop *l, bool (*done)(void *), void *arg)
{
	int64_t until = sim_now_us() + 5000000;

	while (sim_now_us() < until) {
		if (done(arg))
			return true;
		sim_loop_service(l);
	}
	return done(arg);
}

static bool lost_once(void *arg)
{
	return ((struct owner *)arg)->lost_calls > 0;
}

/* ---- 1. the protocol ------------------------------------------------------------- */

static void script_protocol(int lfd, int port)
{
	int fd = srv_accept(lfd, 0);
	char req[2048], accept[32], buf[4096], exp[64], big[300], out[2048];
	size_t n, o = 0;
	int op, got_pong = 0, got_hello = 0;

	srv_read_request(fd, req, sizeof req, accept);
	SCHECK(!strncmp(req, "GET /ws HTTP/1.1\r\n", 18));
	snprintf(exp, sizeof exp, "Host: 127.0.0.1:%d\r\n", port);
	SCHECK(strstr(req, exp));
	snprintf(exp, sizeof exp, "Origin: http://127.0.0.1:%d\r\n", port);
	SCHECK(strstr(req, exp));
	SCHECK(strstr(req, "Sec-WebSocket-Protocol: scanbridge.v1\r\n"));
	SCHECK(strstr(req, "Sec-WebSocket-Version: 13\r\n"));
	SCHECK(strstr(req, "Upgrade: websocket\r\n"));
	/* a ping in the same write as the 101 */
	n = srv_frame(buf, WS_OP_PING, true, "p1", 2);
	srv_send_101(fd, accept, buf, n);
	for (int i = 0; i < 2; i++) {
		op = srv_read_frame(fd, buf, sizeof buf, &n);
		if (op == WS_OP_PONG) {
			got_pong++;
			SCHECK(n == 2 && !memcmp(buf, "p1", 2));
		} else if (op == WS_OP_TEXT) {
			got_hello++;
			SCHECK(!strcmp(buf, "{\"type\":\"hello\",\"token\":\"tok-1\",\"last_seq\":7}"));
		} else {
			SCHECK(!"pong or hello expected");
		}
	}
	SCHECK(got_pong == 1 && got_hello == 1);
	/* the welcome in three fragments with a ping between them, then a
	 * 16-bit-length message, written in pieces that split headers */
	n = strlen(welcome_json);
	o += srv_frame(out + o, WS_OP_TEXT, false, welcome_json, 10);
	o += srv_frame(out + o, WS_OP_PING, true, "p2", 2);
	o += srv_frame(out + o, WS_OP_CONT, false, welcome_json + 10, 20);
	o += srv_frame(out + o, WS_OP_CONT, true, welcome_json + 30, n - 30);
	memset(big, 'x', sizeof big);
	memcpy(big, "{\"type\":\"novelty\",\"pad\":\"", 25);
	memcpy(big + sizeof big - 2, "\"}", 2);
	o += srv_frame(out + o, WS_OP_TEXT, true, big, sizeof big);
	for (size_t at = 0; at < o;) {
		size_t step = at == 0 ? 1 : at < 20 ? 7 : 150;
		if (step > o - at)
			step = o - at;
		srv_send(fd, out + at, step);
		at += step;
		usleep(5000);
	}
	op = srv_read_frame(fd, buf, sizeof buf, &n);
	SCHECK(op == WS_OP_PONG && n == 2 && !memcmp(buf, "p2", 2));
	/* the owner's three acks, in order */
	for (int i = 1; i <= 3; i++) {
		op = srv_read_frame(fd, buf, sizeof buf, &n);
		snprintf(exp, sizeof exp, "{\"type\":\"ack\",\"seq\":%d}", i);
		SCHECK(op == WS_OP_TEXT && !strcmp(buf, exp));
	}
	/* close 4004: the client echoes it and hangs up */
	n = srv_frame(buf, WS_OP_CLOSE, true, "\x0f\xa4gone", 6);
	srv_send(fd, buf, n);
	op = srv_read_frame(fd, buf, sizeof buf, &n);
	SCHECK(op == WS_OP_CLOSE && n == 2 && (unsigned char)buf[0] == 0x0f &&
	       (unsigned char)buf[1] == 0xa4);
	SCHECK(srv_fill(fd) < 0);       /* EOF */
	close(fd);
}

static void test_protocol(void)
{
	struct sim_loop l;
	struct sim_conn c;
	struct owner o = { .to_send = 3 };

	client_start(&l, &c, &o, start_server(script_protocol), SIM_DESKTOP);
	CHECK(run_until(&l, lost_once, &o));
	CHECK_EQ_INT(o.n_msgs, 2);
	CHECK_EQ_INT(o.types[0], SB_SRV_WELCOME);
	CHECK_EQ_INT(o.lens[0], strlen(welcome_json));
	CHECK_EQ_INT(o.types[1], SB_SRV_UNKNOWN);
	CHECK_EQ_INT(o.lens[1], 300);
	CHECK_EQ_INT(o.sent, 3);
	CHECK_EQ_INT(o.lost_code, 4004);
	CHECK_EQ_INT(c.state, SIM_C_DONE);           /* a dead token: no reconnect */
	CHECK_EQ_INT(l.dead, 1);
	CHECK_EQ_INT(c.welcomes, 1);
	CHECK_EQ_INT(l.pending, 0);
	CHECK(!sim_conn_has_socket(&c));
	client_free(&l, &c);
	end_server();
}

/* ---- 2. a burst through a full socket buffer --------------------------------------- */

#define BURST 200000            /* ~5 MB of acks: more than the socket buffers take */

static void script_burst(int lfd, int port)
{
	int fd = srv_accept(lfd, 0);
	char req[2048], accept[32], buf[256], exp[64];
	size_t n;
	int op;

	(void)port;
	srv_read_request(fd, req, sizeof req, accept);
	srv_send_101(fd, accept, "", 0);
	op = srv_read_frame(fd, buf, sizeof buf, &n);
	SCHECK(op == WS_OP_TEXT && strstr(buf, "\"hello\""));
	n = srv_frame(buf, WS_OP_TEXT, true, welcome_json, strlen(welcome_json));
	srv_send(fd, buf, n);
	usleep(300000);                 /* let the client fill the socket */
	for (int i = 1; i <= BURST; i++) {
		op = srv_read_frame(fd, buf, sizeof buf, &n);
		snprintf(exp, sizeof exp, "{\"type\":\"ack\",\"seq\":%d}", i);
		if (op != WS_OP_TEXT || strcmp(buf, exp)) {
			SCHECK(!"acks in order");
			break;
		}
	}
	n = srv_frame(buf, WS_OP_CLOSE, true, "\x03\xe8", 2);
	srv_send(fd, buf, n);
	op = srv_read_frame(fd, buf, sizeof buf, &n);
	SCHECK(op == WS_OP_CLOSE);
	close(fd);
}

static void test_burst_through_full_socket(void)
{
	struct sim_loop l;
	struct sim_conn c;
	struct owner o = { .to_send = BURST };
	int64_t passes0;
	int64_t until;
	bool blocked = false;

	client_start(&l, &c, &o, start_server(script_burst), SIM_SCANNER);
	passes0 = (int64_t)l.passes;
	until = sim_now_us() + 20000000;
	while (!o.lost_calls && sim_now_us() < until) {
		sim_loop_service(&l);
		blocked |= (c.events & EPOLLOUT) != 0;   /* the socket refused some */
	}
	CHECK(blocked);
	CHECK_EQ_INT(o.lost_calls, 1);
	CHECK_EQ_INT(o.sent, BURST);
	CHECK_EQ_INT(o.lost_code, 1000);
	CHECK_EQ_INT(c.state, SIM_C_BACKOFF);        /* 1000 from the server: reconnect */
	/* 200,000 frames of ~25 bytes are ~80 bursts of 64 KiB, not 200,000 writes */
	CHECK((int64_t)l.passes - passes0 < 20000);
	CHECK(o.writable_calls <= BURST + 20);
	sim_conn_stop(&c);
	client_free(&l, &c);
	end_server();
}

/* ---- 3. drop and reconnect; refused upgrade ---------------------------------------- */

static void script_drop(int lfd, int port)
{
	char req[2048], accept[32], buf[256];
	size_t n;
	int fd, op;

	(void)port;
	for (int round = 0; round < 2; round++) {
		fd = srv_accept(lfd, 0);
		srv_read_request(fd, req, sizeof req, accept);
		srv_send_101(fd, accept, "", 0);
		op = srv_read_frame(fd, buf, sizeof buf, &n);
		SCHECK(op == WS_OP_TEXT && strstr(buf, "\"hello\""));
		n = srv_frame(buf, WS_OP_TEXT, true, welcome_json, strlen(welcome_json));
		srv_send(fd, buf, n);
		/* round 0: the client drops, no close frame; round 1: we close */
		if (round == 0) {
			SCHECK(srv_read_frame(fd, buf, sizeof buf, &n) == -1);
		} else {
			n = srv_frame(buf, WS_OP_CLOSE, true, "\x0f\xa3", 2);
			srv_send(fd, buf, n);
			op = srv_read_frame(fd, buf, sizeof buf, &n);
			SCHECK(op == WS_OP_CLOSE);
		}
		close(fd);
	}
	/* a third attempt would be a bug (4003 is a dead token): refuse it */
	fd = srv_accept(lfd, 0);
	srv_read_request(fd, req, sizeof req, accept);
	srv_send(fd, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", 45);
	SCHECK(!"reconnected after 4003");
	close(fd);
}

static bool welcomed(void *arg)
{
	struct sim_conn *c = arg;

	return c->state == SIM_C_WELCOMED;
}

static bool done_state(void *arg)
{
	return ((struct sim_conn *)arg)->state == SIM_C_DONE;
}

static void test_drop_and_reconnect(void)
{
	struct sim_loop l;
	struct sim_conn c;
	struct owner o = { 0 };

	client_start(&l, &c, &o, start_server(script_drop), SIM_SCANNER);
	CHECK(run_until(&l, welcomed, &c));
	sim_conn_drop(&c);
	CHECK_EQ_INT(l.drops, 1);
	sim_loop_service(&l);                /* the drop happens at the end of a pass */
	CHECK(o.lost_calls == 1 && o.lost_code == 0);
	CHECK_EQ_INT(c.state, SIM_C_BACKOFF);
	CHECK(run_until(&l, welcomed, &c));
	CHECK_EQ_INT(c.welcomes, 2);
	CHECK_EQ_INT(l.reconnects, 1);
	CHECK(run_until(&l, done_state, &c));
	CHECK_EQ_INT(o.lost_code, 4003);
	CHECK_EQ_INT(l.dead, 1);
	client_free(&l, &c);
	kill(child, SIGTERM);              /* it waits for a third connection */
	waitpid(child, NULL, 0);
}

static void script_refuse(int lfd, int port)
{
	char req[2048], accept[32];
	int fd;

	(void)port;
	for (int i = 0; i < 2; i++) {
		fd = srv_accept(lfd, 0);
		srv_read_request(fd, req, sizeof req, accept);
		srv_send(fd, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", 45);
		close(fd);
	}
}

static bool two_failures(void *arg)
{
	return ((struct sim_loop *)arg)->connect_failures >= 2;
}

static void test_refused_upgrade_backs_off(void)
{
	struct sim_loop l;
	struct sim_conn c;
	struct owner o = { 0 };

	client_start(&l, &c, &o, start_server(script_refuse), SIM_SCANNER);
	CHECK(run_until(&l, two_failures, &l));
	CHECK_EQ_INT(o.lost_code, 0);
	CHECK(c.attempts >= 2);
	CHECK_EQ_INT(c.welcomes, 0);
	sim_conn_stop(&c);
	client_free(&l, &c);
	end_server();
}

static void test_connection_refused(void)
{
	struct sim_loop l;
	struct sim_conn c;
	struct owner o = { 0 };
	int port, lfd = srv_listen(&port);

	close(lfd);                          /* nothing listens there now */
	client_start(&l, &c, &o, port, SIM_DESKTOP);
	CHECK(run_until(&l, two_failures, &l));
	CHECK(o.lost_calls >= 2);
	CHECK_EQ_INT(l.pending, c.state == SIM_C_CONNECTING ? 1 : 0);
	sim_conn_stop(&c);
	client_free(&l, &c);
}

/* ---- 4. timers ---------------------------------------------------------------------- */

struct tt {
	struct sim_timer t;
	int64_t due;
	int fired;
};

static int64_t last_due;
static int order_errors;

static void tt_cb(struct sim_timer *t)
{
	struct tt *x = sim_container_of(t, struct tt, t);

	x->fired++;
	if (x->due < last_due)
		order_errors++;
	last_due = x->due;
}

static bool all_fired(void *arg)
{
	struct tt *x = arg;

	for (int i = 0; i < 200; i++)
		if (i % 3 && !x[i].fired)
			return false;
	return true;
}

static void test_timer_heap(void)
{
	static struct tt x[200];
	struct sim_loop l;
	struct sim_url u;

	CHECK(sim_url_parse("http://127.0.0.1:9", &u, NULL) == 0);
	CHECK(sim_loop_init(&l, &u) == 0);
	sim_rand_seed(42);
	for (int i = 0; i < 200; i++) {
		int64_t d = (int64_t)sim_rand_range(0, 30000);
		sim_timer_schedule(&l, &x[i].t, tt_cb, d);
		x[i].due = x[i].t.due_us;
	}
	for (int i = 0; i < 200; i += 3)
		sim_timer_cancel(&x[i].t);
	sim_timer_cancel(&x[0].t);           /* twice: a no-op */
	CHECK(run_until(&l, all_fired, x));
	for (int i = 0; i < 200; i++)
		CHECK_EQ_INT(x[i].fired, i % 3 ? 1 : 0);
	CHECK_EQ_INT(order_errors, 0);
	CHECK_EQ_INT(l.n_heap, 1);           /* the loop's own tick */
	sim_loop_free(&l);
}

TEST_MAIN(TEST(test_protocol), TEST(test_burst_through_full_socket),
	  TEST(test_drop_and_reconnect), TEST(test_refused_upgrade_backs_off),
	  TEST(test_connection_refused), TEST(test_timer_heap))
