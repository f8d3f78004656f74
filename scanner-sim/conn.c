/* SPDX-License-Identifier: MIT */
/* lws client connections for scanbridge-sim (see conn.h). All the lws
 * callbacks of the simulator live here; they translate socket events into the
 * owner's sim_conn_ops calls, nothing more. */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "sb_err.h"
#include "sim.h"
#include "grow.h"

#define SUBPROTOCOL "scanbridge.v1"
#define RX_MAX (64 * 1024)       /* reassembled message limit (server: 16 KiB) */
#define TICK_US 50000

static bool destroying;          /* context teardown: no callbacks, no timers */
static uint64_t activity;        /* socket callbacks and write requests so far */

static void conn_lost(struct sim_conn *c, int close_code);
static void pump(struct sim_loop *l);

/* ---- the lws protocol callback ---------------------------------------------- */

static int on_writable(struct sim_conn *c)
{
	unsigned char buf[LWS_PRE + SIM_FRAME_MAX];
	char *p = (char *)buf + LWS_PRE;
	int n = 0;

	if (c->state == SIM_C_DONE) {
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
		return -1;
	}
	if (!c->hello_sent) {
		n = sb_cmsg_hello(p, SIM_FRAME_MAX, c->token,
				  c->role == SIM_DESKTOP ? c->last_seq : -1);
		c->hello_sent = true;
	} else if (c->state != SIM_C_WELCOMED) {
		return 0;
	} else if (c->ping_due) {
		n = sb_cmsg_ping(p, SIM_FRAME_MAX);
		c->ping_due = false;
	} else {
		c->more = false;
		n = c->ops->writable(c, p, SIM_FRAME_MAX);
	}
	if (n <= 0)
		return 0;
	if (lws_write(c->wsi, (unsigned char *)p, (size_t)n, LWS_WRITE_TEXT) < n)
		return -1;
	c->last_tx_us = sim_now_us();
	if (c->state == SIM_C_WELCOMED && (c->more || c->ping_due))
		lws_callback_on_writable(c->wsi);
	return 0;
}

static void on_message(struct sim_conn *c)
{
	struct sb_server_msg m;
	int rc = sb_srv_decode(c->rx, c->rx_len, &m);

	if (rc < 0) {
		fprintf(stderr, "scanbridge-sim: undecodable server message (%s): %.200s\n",
			sb_strerror(rc), c->rx);
		return;
	}
	if (m.type == SB_SRV_WELCOME) {
		c->state = SIM_C_WELCOMED;
		c->attempts = 0;
		if (c->welcomes++ > 0)
			c->loop->reconnects++;
		if (c->counted) {
			c->counted = false;
			c->loop->pending--;
		}
		lws_callback_on_writable(c->wsi);
	}
	c->ops->message(c, &m, c->rx, c->rx_len);
}

static int on_receive(struct sim_conn *c, struct lws *wsi, const void *in, size_t len)
{
	char *nb;

	if (c->rx_len + len + 1 > RX_MAX)
		return -1;
	nb = grow_reserve(c->rx, &c->rx_cap, c->rx_len + len + 1, 1, 1024);
	if (!nb)
		return -1;
	c->rx = nb;
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	c->rx[c->rx_len] = '\0';
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	on_message(c);
	c->rx_len = 0;
	return 0;
}

/* lws asks after OpenSSL checked each certificate of the chain (preverify_ok
 * is its verdict, with the host name check). --insecure accepts whatever lws's
 * LCCSCF_ALLOW_* flags left; otherwise a refusal is reported once and stops the
 * run: retrying cannot make the certificate trusted. Returns 0 (lws: keep
 * OpenSSL's verdict). */
static int on_cert_check(struct sim_conn *c, X509_STORE_CTX *x, int preverify_ok)
{
	struct sim_loop *l = c->loop;
	int err;

	if (preverify_ok)
		return 0;
	if (l->insecure) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 0;
	}
	err = X509_STORE_CTX_get_error(x);
	if (l->cert_failures++ == 0)
		fprintf(stderr, "scanbridge-sim: %s/ws: certificate verify failed: %s (%s)\n",
			l->base, X509_verify_cert_error_string(err), sim_tls_hint(err));
	sim_stop = 1;
	return 0;
}

static int sim_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		     void *in, size_t len)
{
	struct sim_conn *c = lws_get_opaque_user_data(wsi);

	if (!c || destroying)
		return 0;
	activity++;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c->wsi = NULL;
		c->loop->connect_failures++;
		conn_lost(c, 0);
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->state = SIM_C_OPEN;
		c->hello_sent = false;
		c->rx_len = 0;
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writable(c);
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(c, wsi, in, len);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2)
			c->close_code = ((const unsigned char *)in)[0] << 8 |
					((const unsigned char *)in)[1];
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		c->wsi = NULL;
		conn_lost(c, c->close_code);
		break;
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		return on_cert_check(c, user, (int)len);   /* user: the X509_STORE_CTX */
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ SUBPROTOCOL, sim_ws_cb, 0, 2048, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---- connecting, pacing, backoff -------------------------------------------- */

static void do_connect(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;
	struct lws_client_connect_info i;
	const char *hostport = strstr(l->base, "://") + 3;

	memset(&i, 0, sizeof i);
	i.context = l->ctx;
	i.address = l->host;
	i.port = l->port;
	i.path = "/ws";
	i.host = hostport;         /* also the name lws checks the certificate against */
	i.origin = l->base;        /* sent as is (LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN) */
	if (l->tls)
		i.ssl_connection = LCCSCF_USE_SSL |
			(l->insecure ? LCCSCF_ALLOW_SELFSIGNED | LCCSCF_ALLOW_INSECURE |
				       LCCSCF_ALLOW_EXPIRED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK
				     : 0);
	i.protocol = SUBPROTOCOL;
	i.local_protocol_name = SUBPROTOCOL;
	i.opaque_user_data = c;
	i.pwsi = &c->wsi;
	c->state = SIM_C_CONNECTING;
	c->hello_sent = false;
	c->close_code = 0;
	c->rx_len = 0;
	c->counted = true;
	l->pending++;
	if (!lws_client_connect_via_info(&i) && c->state == SIM_C_CONNECTING) {
		c->wsi = NULL;
		l->connect_failures++;
		conn_lost(c, 0);
	}
}

static void enqueue(struct sim_conn *c)
{
	struct sim_loop *l = c->loop;

	if (c->queued)
		return;
	if (l->w_tail == l->w_cap) {
		if (l->w_head > 0) {
			memmove(l->waiting, l->waiting + l->w_head,
				(l->w_tail - l->w_head) * sizeof *l->waiting);
			l->w_tail -= l->w_head;
			l->w_head = 0;
		} else {
			struct sim_conn **nw = grow_reserve(l->waiting, &l->w_cap, l->w_tail + 1,
							   sizeof *nw, 256);
			if (!nw) {
				fprintf(stderr, "scanbridge-sim: out of memory\n");
				return;
			}
			l->waiting = nw;
		}
	}
	c->state = SIM_C_IDLE;
	c->queued = true;
	l->waiting[l->w_tail++] = c;
}

static void pump(struct sim_loop *l)
{
	while (l->pending < l->max_pending && l->w_head < l->w_tail) {
		struct sim_conn *c = l->waiting[l->w_head++];
		c->queued = false;
		if (c->state == SIM_C_IDLE)
			do_connect(c);
	}
	if (l->w_head == l->w_tail)
		l->w_head = l->w_tail = 0;
}

static void backoff_cb(lws_sorted_usec_list_t *sul)
{
	struct sim_conn *c = lws_container_of(sul, struct sim_conn, sul);

	if (c->state != SIM_C_BACKOFF)
		return;
	enqueue(c);
	pump(c->loop);
}

static void conn_lost(struct sim_conn *c, int close_code)
{
	struct sim_loop *l = c->loop;
	unsigned delay_ms;

	if (destroying)
		return;
	if (c->counted) {
		c->counted = false;
		l->pending--;
	}
	c->rx_len = 0;
	if (c->ops->lost)
		c->ops->lost(c, close_code);
	if (c->state == SIM_C_DONE) {
		pump(l);
		return;
	}
	if (close_code == 4003 || close_code == 4004) {
		fprintf(stderr, "scanbridge-sim: %s closed %d: its token is dead, not reconnecting\n",
			c->role == SIM_DESKTOP ? "desktop" : "scanner", close_code);
		c->state = SIM_C_DONE;
		l->dead++;
		pump(l);
		return;
	}
	delay_ms = l->backoff_max_ms;
	if (c->attempts < 16 && (l->backoff_min_ms << c->attempts) < l->backoff_max_ms)
		delay_ms = l->backoff_min_ms << c->attempts;
	delay_ms = (unsigned)sim_rand_range(delay_ms / 2, delay_ms);   /* jitter */
	c->attempts++;
	c->state = SIM_C_BACKOFF;
	lws_sul_schedule(l->ctx, 0, &c->sul, backoff_cb, (lws_usec_t)delay_ms * 1000);
	pump(l);
}

/* ---- the loop ---------------------------------------------------------------- */

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	struct sim_loop *l = lws_container_of(sul, struct sim_loop, tick);
	int64_t now = sim_now_us();

	pump(l);
	if (now - l->last_ping_scan_us >= 1000000) {
		int64_t idle = (int64_t)l->ping_interval_s * 1000000;
		l->last_ping_scan_us = now;
		for (size_t i = 0; i < l->n_all; i++) {
			struct sim_conn *c = l->all[i];
			if (c->state == SIM_C_WELCOMED && now - c->last_tx_us >= idle) {
				c->ping_due = true;
				sim_conn_want_write(c);
			}
		}
	}
	if (l->on_tick)
		l->on_tick(l, l->tick_arg);
	lws_sul_schedule(l->ctx, 0, &l->tick, tick_cb, TICK_US);
}

int sim_loop_init(struct sim_loop *l, const struct sim_url *u)
{
	struct lws_context_creation_info info;
	const char *dbg = getenv("SIM_LWS_LOG");

	memset(l, 0, sizeof *l);
	snprintf(l->host, sizeof l->host, "%s", u->host);
	snprintf(l->base, sizeof l->base, "%s", u->base);
	l->port = u->port;
	l->tls = u->tls;
	l->insecure = u->insecure;
	l->backoff_min_ms = 100;
	l->backoff_max_ms = 5000;
	l->max_pending = 256;
	l->ping_interval_s = 30;
	lws_set_log_level(dbg ? atoi(dbg) : 0, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.timeout_secs = 10;
	info.connect_timeout_secs = 5;
	info.gid = -1;
	info.uid = -1;
	info.options = LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
	if (u->tls) {
		/* With --cafile: that file alone, as the REST client (http.c) does.
		 * Without: the system store; naming its bundle keeps lws from also
		 * loading its built-in relative CA directory ("../share"). */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		if (u->cafile)
			info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
		info.client_ssl_ca_filepath = u->cafile ? u->cafile : X509_get_default_cert_file();
	}
	l->ctx = lws_create_context(&info);
	if (!l->ctx) {
		fprintf(stderr, "scanbridge-sim: cannot create the lws context\n");
		return -1;
	}
	destroying = false;
	l->last_ping_scan_us = sim_now_us();
	lws_sul_schedule(l->ctx, 0, &l->tick, tick_cb, TICK_US);
	return 0;
}

void sim_loop_free(struct sim_loop *l)
{
	if (l->ctx) {
		for (size_t i = 0; i < l->n_all; i++)
			lws_sul_cancel(&l->all[i]->sul);
		lws_sul_cancel(&l->tick);
		destroying = true;
		lws_context_destroy(l->ctx);
		l->ctx = NULL;
	}
	free(l->waiting);
	free(l->all);
	l->waiting = NULL;
	l->all = NULL;
	l->n_all = l->cap_all = l->w_cap = l->w_head = l->w_tail = 0;
}

/* lws 4.1 waits in poll() for (time to the next timer) / 1000 ms, rounded
 * down: in the last millisecond before each timer it polls with timeout 0 and
 * returns at once, again and again. At a thousand timers a second (scan
 * generators) that spin ate a whole core. A pass that returned within 50 us
 * and did nothing is such a spin: sleep 100 us instead of polling again. */
void sim_loop_service(struct sim_loop *l)
{
	uint64_t before = activity;
	int64_t t0 = sim_now_us();

	l->passes++;
	lws_service(l->ctx, 0);
	if (activity == before && sim_now_us() - t0 < 50) {
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
}

/* ---- connections ------------------------------------------------------------- */

int sim_conn_init(struct sim_conn *c, struct sim_loop *l, enum sim_role role,
		  const char *token, int64_t last_seq, const struct sim_conn_ops *ops,
		  void *user)
{
	struct sim_conn **na;

	memset(c, 0, sizeof *c);
	c->loop = l;
	c->role = role;
	c->ops = ops;
	c->user = user;
	c->last_seq = last_seq;
	c->token = strdup(token);
	if (!c->token)
		return -1;
	na = grow_reserve(l->all, &l->cap_all, l->n_all + 1, sizeof *na, 64);
	if (!na) {
		free(c->token);
		c->token = NULL;
		return -1;
	}
	l->all = na;
	l->all[l->n_all++] = c;
	return 0;
}

void sim_conn_free(struct sim_conn *c)
{
	free(c->token);
	free(c->rx);
	c->token = NULL;
	c->rx = NULL;
}

void sim_conn_start(struct sim_conn *c)
{
	enqueue(c);
	pump(c->loop);
}

void sim_conn_want_write(struct sim_conn *c)
{
	activity++;
	if (c->wsi && c->state == SIM_C_WELCOMED)
		lws_callback_on_writable(c->wsi);
}

void sim_conn_drop(struct sim_conn *c)
{
	if (c->wsi && (c->state == SIM_C_OPEN || c->state == SIM_C_WELCOMED)) {
		c->loop->drops++;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

void sim_conn_stop(struct sim_conn *c)
{
	enum sim_conn_state was = c->state;

	c->state = SIM_C_DONE;
	lws_sul_cancel(&c->sul);
	if (!c->wsi)
		return;
	if (was == SIM_C_OPEN || was == SIM_C_WELCOMED)
		lws_callback_on_writable(c->wsi);   /* sends a close 1000 */
	else
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void sim_conn_reconnect_now(struct sim_conn *c)
{
	if (c->state != SIM_C_BACKOFF)
		return;
	lws_sul_cancel(&c->sul);
	c->attempts = 0;
	enqueue(c);
	pump(c->loop);
}
