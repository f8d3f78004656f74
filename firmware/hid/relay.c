/* SPDX-License-Identifier: MIT */
/* WebSocket links of the bridge (see relay.h): the lws client protocol
 * callback translates socket events into outbox updates and relay events,
 * nothing more. A link is freed only once lws has let go of its wsi. */
#include "relay_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "grow.h"
#include "sb_err.h"

#define SUBPROTOCOL "scanbridge.v1"
#define FRAME_MAX 4096
#define RX_MAX (64 * 1024)
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
#define RESEND_MS 1000
#define PING_S 30

enum link_state { L_IDLE, L_CONNECTING, L_OPEN, L_WELCOMED, L_BACKOFF, L_CLOSING };

struct link {
	struct relay *r;
	struct link *next;
	int64_t pairing;
	char token[OB_TOKEN_MAX];
	struct lws *wsi;
	enum link_state state;
	bool hello_sent, retire, ping_due;
	unsigned attempts, inflight;
	int64_t sent_n;             /* newest outbox row sent on this connection */
	int close_code;
	lws_sorted_usec_list_t sul;   /* backoff, resend */
	lws_sorted_usec_list_t ping;
	char *rx;
	size_t rx_len, rx_cap;
};

void relay__event(struct relay *r, enum relay_ev ev, int64_t pairing, const char *detail)
{
	if (r->ops->event)
		r->ops->event(r->arg, ev, pairing, detail);
}

static void link_connect(struct link *l);
static void link_unlink(struct link *l);

static void link_free(struct link *l)
{
	lws_sul_cancel(&l->sul);
	lws_sul_cancel(&l->ping);
	free(l->rx);
	free(l);
}

/* ---- sending --------------------------------------------------------------- */

/* The next frame to send, or 0 for none. */
static int next_frame(struct link *l, char *p, size_t cap)
{
	struct ob_scan s;

	if (!l->hello_sent) {
		l->hello_sent = true;
		return sb_cmsg_hello(p, cap, l->token, -1);
	}
	if (l->state != L_WELCOMED)
		return 0;
	if (l->ping_due) {
		l->ping_due = false;
		return sb_cmsg_ping(p, cap);
	}
	if (l->inflight >= RELAY_INFLIGHT || outbox_next(l->r->ob, l->pairing, l->sent_n, &s) != 1)
		return 0;
	l->sent_n = s.n;
	l->inflight++;
	return sb_cmsg_scan(p, cap, s.id, s.code, SB_FMT_UNKNOWN, s.scanned_at);
}

static int on_writable(struct link *l)
{
	unsigned char buf[LWS_PRE + FRAME_MAX];
	char *p = (char *)buf + LWS_PRE;
	int n;

	if (l->state == L_CLOSING) {
		lws_close_reason(l->wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
		return -1;
	}
	n = next_frame(l, p, FRAME_MAX);
	if (n <= 0)
		return 0;
	if (lws_write(l->wsi, (unsigned char *)p, (size_t)n, LWS_WRITE_TEXT) < n)
		return -1;
	lws_callback_on_writable(l->wsi);   /* there may be more; 0 ends the chain */
	return 0;
}

static void ping_cb(lws_sorted_usec_list_t *sul)
{
	struct link *l = lws_container_of(sul, struct link, ping);

	if (l->state != L_WELCOMED || !l->wsi)
		return;
	l->ping_due = true;
	lws_callback_on_writable(l->wsi);
	lws_sul_schedule(l->r->ctx, 0, &l->ping, ping_cb, (lws_usec_t)PING_S * LWS_US_PER_SEC);
}

/* After a retryable error: send everything unacknowledged again (the daemon
 * answers a resent id with its original seq). */
static void resend_cb(lws_sorted_usec_list_t *sul)
{
	struct link *l = lws_container_of(sul, struct link, sul);

	if (l->state != L_WELCOMED || !l->wsi)
		return;
	l->sent_n = 0;
	l->inflight = 0;
	lws_callback_on_writable(l->wsi);
}

/* ---- receiving ------------------------------------------------------------- */

/* A replaced pairing with nothing left to send closes its link. */
static void maybe_retire(struct link *l)
{
	struct ob_pairing p;
	struct ob_scan s;

	if (outbox_pairing(l->r->ob, l->pairing, &p) == 0 && p.current)
		return;
	if (outbox_next(l->r->ob, l->pairing, 0, &s) != 0)
		return;
	l->retire = true;
	l->state = L_CLOSING;
	if (l->wsi)
		lws_callback_on_writable(l->wsi);
}

static void on_scan_error(struct link *l, const struct sb_server_msg *m)
{
	if (!strcmp(m->code, "invalid_request") || !strcmp(m->code, "invalid_check_digit")) {
		fprintf(stderr, "scanbridge-hid: scan %s refused: %s (%s)\n", m->id, m->code,
			m->message);
		outbox_drop(l->r->ob, m->id);
		if (l->inflight)
			l->inflight--;
		relay__event(l->r, RELAY_REFUSED, l->pairing, m->code);
		lws_callback_on_writable(l->wsi);
		maybe_retire(l);
		return;
	}
	/* unavailable, busy, rate_limited: the scan is not stored; try again */
	if (!lws_dll2_is_detached(&l->sul.list))
		return;
	lws_sul_schedule(l->r->ctx, 0, &l->sul, resend_cb, (lws_usec_t)RESEND_MS * 1000);
}

static void on_message(struct link *l)
{
	struct sb_server_msg m;

	if (sb_srv_decode(l->rx, l->rx_len, &m) < 0)
		return;
	switch (m.type) {
	case SB_SRV_WELCOME:
		l->state = L_WELCOMED;
		l->attempts = 0;
		l->sent_n = 0;
		l->inflight = 0;
		relay__event(l->r, RELAY_REACHABLE, l->pairing, NULL);
		relay__event(l->r, RELAY_WELCOMED, l->pairing, m.session);
		lws_sul_schedule(l->r->ctx, 0, &l->ping, ping_cb, (lws_usec_t)PING_S * LWS_US_PER_SEC);
		lws_callback_on_writable(l->wsi);
		maybe_retire(l);
		break;
	case SB_SRV_ACK:
		outbox_acked(l->r->ob, m.id);
		if (l->inflight)
			l->inflight--;
		relay__event(l->r, RELAY_ACKED, l->pairing, m.id);
		lws_callback_on_writable(l->wsi);
		maybe_retire(l);
		break;
	case SB_SRV_DELIVERED:
		relay__event(l->r, RELAY_DELIVERED, l->pairing, m.id);
		break;
	case SB_SRV_ERROR:
		if (m.id[0])
			on_scan_error(l, &m);
		else
			fprintf(stderr, "scanbridge-hid: daemon error %s: %s\n", m.code, m.message);
		break;
	default:
		break;
	}
}

static int on_receive(struct link *l, const void *in, size_t len)
{
	char *nb;

	if (l->rx_len + len + 1 > RX_MAX)
		return -1;
	nb = grow_reserve(l->rx, &l->rx_cap, l->rx_len + len + 1, 1, 1024);
	if (!nb)
		return -1;
	l->rx = nb;
	memcpy(l->rx + l->rx_len, in, len);
	l->rx_len += len;
	if (!lws_is_final_fragment(l->wsi) || lws_remaining_packet_payload(l->wsi))
		return 0;
	on_message(l);
	l->rx_len = 0;
	return 0;
}

/* ---- losing a connection ---------------------------------------------------- */

static void backoff_cb(lws_sorted_usec_list_t *sul)
{
	struct link *l = lws_container_of(sul, struct link, sul);

	if (l->state == L_BACKOFF)
		link_connect(l);
}

/* Close codes that mean the token will never work again. */
static bool token_dead(int close_code)
{
	return close_code == 4001 || close_code == 4003 || close_code == 4004;
}

static void link_lost(struct link *l)
{
	struct relay *r = l->r;
	unsigned delay = BACKOFF_MAX_MS;

	l->wsi = NULL;
	lws_sul_cancel(&l->ping);
	if (l->state == L_CLOSING) {
		link_unlink(l);
		return;
	}
	if (token_dead(l->close_code)) {
		char why[16];
		int dropped = outbox_pairing_dead(r->ob, l->pairing);
		fprintf(stderr, "scanbridge-hid: pairing %lld closed %d: its token is dead "
			"(%d unsent scans dropped)\n", (long long)l->pairing, l->close_code, dropped);
		snprintf(why, sizeof why, "%d", l->close_code);
		relay__event(r, RELAY_DEAD, l->pairing, why);
		link_unlink(l);
		return;
	}
	if (l->state != L_WELCOMED)
		relay__event(r, RELAY_UNREACHABLE, l->pairing, NULL);
	if (l->attempts < 8 && (BACKOFF_MIN_MS << l->attempts) < BACKOFF_MAX_MS)
		delay = BACKOFF_MIN_MS << l->attempts;
	l->attempts++;
	l->state = L_BACKOFF;
	lws_sul_schedule(r->ctx, 0, &l->sul, backoff_cb, (lws_usec_t)delay * 1000);
}

static int link_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct link *l = lws_get_opaque_user_data(wsi);

	if (!l)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		l->close_code = 0;
		link_lost(l);
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (l->state != L_CLOSING)
			l->state = L_OPEN;
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writable(l);
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(l, in, len);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2)
			l->close_code = ((const unsigned char *)in)[0] << 8 |
					((const unsigned char *)in)[1];
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		link_lost(l);
		break;
	default:
		break;
	}
	return 0;
}

/* ---- links ------------------------------------------------------------------ */

static void link_connect(struct link *l)
{
	struct lws_client_connect_info i;

	relay__http_connect_info(l->r, &i);
	i.path = "/ws";
	i.protocol = SUBPROTOCOL;
	i.local_protocol_name = SUBPROTOCOL;
	i.opaque_user_data = l;
	i.pwsi = &l->wsi;
	l->state = L_CONNECTING;
	l->hello_sent = false;
	l->close_code = 0;
	l->rx_len = 0;
	if (!lws_client_connect_via_info(&i) && l->state == L_CONNECTING) {
		l->wsi = NULL;
		link_lost(l);
	}
}

static void link_unlink(struct link *l)
{
	for (struct link **pp = &l->r->links; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	link_free(l);
}

static struct link *find_link(struct relay *r, int64_t pairing)
{
	for (struct link *l = r->links; l; l = l->next)
		if (l->pairing == pairing && l->state != L_CLOSING)
			return l;
	return NULL;
}

static void sync_one(void *arg, const struct ob_pairing *p)
{
	struct relay *r = arg;
	struct link *l;

	if (find_link(r, p->id))
		return;
	l = calloc(1, sizeof *l);
	if (!l)
		return;
	l->r = r;
	l->pairing = p->id;
	snprintf(l->token, sizeof l->token, "%s", p->token);
	l->next = r->links;
	r->links = l;
	link_connect(l);
}

void relay_sync(struct relay *r)
{
	outbox_live_pairings(r->ob, sync_one, r);
	for (struct link *l = r->links; l; l = l->next)
		if (l->state != L_CLOSING)
			maybe_retire(l);
}

void relay_kick(struct relay *r, int64_t pairing)
{
	struct link *l = find_link(r, pairing);

	if (l && l->wsi && l->state == L_WELCOMED)
		lws_callback_on_writable(l->wsi);
}

bool relay_any_up(const struct relay *r)
{
	for (const struct link *l = r->links; l; l = l->next)
		if (l->state == L_WELCOMED)
			return true;
	return false;
}

struct lws_context *relay_context(struct relay *r)
{
	return r->ctx;
}

static const struct lws_protocols link_protocol = {
	SUBPROTOCOL, link_cb, 0, 2048, 0, NULL, 0
};

int relay_init(struct relay **out, const char *url, const char *cafile, struct outbox *ob,
	       const struct relay_ops *ops, void *arg,
	       const struct lws_protocols *extra_protocol)
{
	struct lws_context_creation_info info;
	struct relay *r = calloc(1, sizeof *r);
	int n = 0;

	*out = NULL;
	if (!r)
		return SB_ENOMEM;
	if (relay__parse_url(url, &r->url) < 0) {
		fprintf(stderr, "scanbridge-hid: bad url %s (http(s)://host[:port])\n", url);
		free(r);
		return SB_ECONFIG;
	}
	snprintf(r->cafile, sizeof r->cafile, "%s", cafile ? cafile : "");
	r->ob = ob;
	r->ops = ops;
	r->arg = arg;
	r->protocols[n++] = link_protocol;
	r->protocols[n++] = relay__http_protocol;
	if (extra_protocol)
		r->protocols[n++] = *extra_protocol;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = r->protocols;
	info.timeout_secs = 10;
	info.connect_timeout_secs = 5;
	info.gid = -1;
	info.uid = -1;
	info.options = LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
	if (r->url.tls) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		if (r->cafile[0]) {
			info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
			info.client_ssl_ca_filepath = r->cafile;
		}
	}
	r->ctx = lws_create_context(&info);
	if (!r->ctx) {
		fprintf(stderr, "scanbridge-hid: cannot create the lws context\n");
		free(r);
		return SB_EIO;
	}
	*out = r;
	return 0;
}

void relay_free(struct relay *r)
{
	struct link *l, *next;

	if (!r)
		return;
	for (l = r->links; l; l = l->next) {
		lws_sul_cancel(&l->sul);
		lws_sul_cancel(&l->ping);
		if (l->wsi)
			lws_set_opaque_user_data(l->wsi, NULL);
	}
	lws_context_destroy(r->ctx);
	for (l = r->links; l; l = next) {
		next = l->next;
		link_free(l);
	}
	free(r);
}
