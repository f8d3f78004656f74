/* SPDX-License-Identifier: MIT */
/* The WebSocket side of libwebsockets (/ws, subprotocol scanbridge.v1): admits
 * connections (capacity, per-IP cap, hello deadline), reassembles fragmented
 * messages, enforces the frame-size and rate limits, decodes each message with
 * the shared protocol library and hands it to the session layer. Outgoing
 * messages go through a bounded per-connection queue written one frame per
 * WRITEABLE callback. */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "proto_http.h"
#include "ratelimit.h"
#include "sb_err.h"
#include "session.h"

#define CLOSE_LINGER_S 3
/* lws 4.1 keeps LWS_WRITE_CLOSE (4) private to steer users to lws_close_reason,
 * but its ws write path frames value 4 as a close frame. */
#define SB_LWS_WRITE_CLOSE ((enum lws_write_protocol)4)

struct qmsg {
	struct qmsg *next;
	size_t len;
	unsigned char buf[];        /* LWS_PRE headroom, then the message */
};

struct ws_pss {
	struct peer peer;
	struct lws *wsi;
	struct qmsg *qhead, *qtail;
	unsigned queued;
	char *rx;                   /* text message being reassembled */
	size_t rx_len;
	bool rx_binary, rx_skip;
	struct token_bucket bucket;
	int strikes;                /* rate_limited answers in a row */
	lws_sorted_usec_list_t hello_sul;
	bool hello_armed, close_pending, close_started, ip_counted, established;
	int close_code;
	char close_reason[124]; /* a close frame carries at most 123 bytes of reason */
	char ip[64];
};

static const struct sb_config *W_cfg;
static unsigned W_conns;

void proto_ws_set_config(const struct sb_config *cfg) { W_cfg = cfg; }
unsigned proto_ws_connections(void) { return W_conns; }
size_t proto_ws_pss_size(void) { return sizeof(struct ws_pss); }

static struct ws_pss *of_peer(const struct peer *p)
{
	return lws_container_of(p, struct ws_pss, peer);
}

/* ---- the send queue (peer ops) ---- */

static int ws_send(struct peer *p, char *msg)
{
	struct ws_pss *pss = of_peer(p);
	size_t len = strlen(msg);
	struct qmsg *q;

	if (pss->close_pending || pss->queued >= (unsigned)W_cfg->send_queue_max) {
		free(msg);
		return pss->close_pending ? 0 : SB_ELIMIT;
	}
	q = malloc(sizeof(*q) + LWS_PRE + len);
	if (!q) {
		free(msg);
		return SB_ENOMEM;
	}
	q->next = NULL;
	q->len = len;
	memcpy(q->buf + LWS_PRE, msg, len);
	free(msg);
	if (pss->qtail)
		pss->qtail->next = q;
	else
		pss->qhead = q;
	pss->qtail = q;
	pss->queued++;
	lws_callback_on_writable(pss->wsi);
	return 0;
}

static void queue_free(struct ws_pss *pss)
{
	while (pss->qhead) {
		struct qmsg *q = pss->qhead;

		pss->qhead = q->next;
		free(q);
	}
	pss->qtail = NULL;
	pss->queued = 0;
}

static void ws_close(struct peer *p, int code, const char *reason)
{
	struct ws_pss *pss = of_peer(p);

	if (pss->close_pending)
		return;
	pss->close_pending = true;
	pss->close_code = code;
	snprintf(pss->close_reason, sizeof(pss->close_reason), "%.120s", reason);
	if (code == 1008) /* slow consumer: what it did not read is dropped */
		queue_free(pss);
	lws_callback_on_writable(pss->wsi);
}

static unsigned ws_queued(const struct peer *p)
{
	return of_peer(p)->queued;
}

static const struct peer_ops ws_ops = { ws_send, ws_close, ws_queued };

static void close_with(struct ws_pss *pss, int code, const char *reason)
{
	pss->peer.closing = true;
	ws_close(&pss->peer, code, reason);
}

/* ---- admission ---- */

static void hello_timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct ws_pss *pss = lws_container_of(sul, struct ws_pss, hello_sul);

	pss->hello_armed = false;
	if (!pss->peer.sess)
		close_with(pss, 4001, "no hello in time");
}

static int filter_connection(struct lws *wsi)
{
	char uri[64] = "";

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 || strcmp(uri, "/ws"))
		return 1; /* refuse the upgrade */
	return 0;
}

static void on_established(struct ws_pss *pss, struct lws *wsi)
{
	memset(pss, 0, sizeof(*pss));
	pss->wsi = wsi;
	pss->peer.ops = &ws_ops;
	pss->peer.gauge = MG_CONN_UNAUTH;
	pss->established = true;
	metrics_gauge_add(MG_CONN_UNAUTH, 1);
	W_conns++;
	lws_get_peer_simple(wsi, pss->ip, sizeof(pss->ip));
	if (W_conns > (unsigned)W_cfg->max_connections) {
		close_with(pss, 4013, "server at capacity");
		return;
	}
	if (iplimit_conn_add(pss->ip, W_cfg->max_connections_per_ip)) {
		close_with(pss, 4013, "server at capacity");
		return;
	}
	pss->ip_counted = true;
	pss->hello_armed = true;
	lws_sul_schedule(lws_get_context(wsi), 0, &pss->hello_sul, hello_timeout_cb,
			 (lws_usec_t)W_cfg->hello_timeout * LWS_US_PER_SEC);
}

static void on_closed(struct ws_pss *pss)
{
	if (!pss->established)
		return;
	if (pss->hello_armed)
		lws_sul_cancel(&pss->hello_sul);
	session_peer_detach(&pss->peer);
	queue_free(pss);
	free(pss->rx);
	pss->rx = NULL;
	if (pss->ip_counted)
		iplimit_conn_del(pss->ip);
	W_conns--;
	pss->established = false;
}

/* ---- incoming messages ---- */

static bool within_rate(struct ws_pss *pss)
{
	if (bucket_take(&pss->bucket, W_cfg->rate_burst, W_cfg->rate_per_sec, clock_mono_ms())) {
		pss->strikes = 0;
		return true;
	}
	if (++pss->strikes >= W_cfg->rate_limit_close_after) {
		metrics_error("rate_limited");
		close_with(pss, 4008, "rate limited");
	} else {
		session_peer_error(&pss->peer, "rate_limited", "too many messages; slow down", NULL);
	}
	return false;
}

static void on_binary(struct ws_pss *pss)
{
	if (!pss->peer.sess)
		close_with(pss, 4001, "the first message must be hello");
	else if (pss->peer.role != SB_ROLE_SCANNER)
		session_peer_error(&pss->peer, "invalid_request", "only a scanner sends images", NULL);
	else
		session_peer_error(&pss->peer, "unsupported_media_type",
				   "image decoding is not available in this build", NULL);
}

static void on_text(struct ws_pss *pss)
{
	struct sb_client_msg *m = malloc(sizeof(*m));
	struct sb_msg_error err = { 0 };
	int rc;

	if (!m) {
		close_with(pss, 1011, "out of memory");
		return;
	}
	rc = sb_msg_decode(pss->rx, pss->rx_len, W_cfg->max_json_depth, m, &err);
	if (rc == SB_EPROTO) {
		metrics_error("protocol_violation");
		close_with(pss, 4000, err.message[0] ? err.message : "protocol violation");
	} else if (rc && !pss->peer.sess) {
		close_with(pss, 4001, "the first message must be a valid hello");
	} else if (rc) {
		session_peer_error(&pss->peer, rc == SB_ECHECKDIGIT ? "invalid_check_digit"
				   : "invalid_request", err.message, err.id[0] ? err.id : NULL);
	} else {
		session_peer_message(&pss->peer, m);
	}
	free(m);
}

static void on_message(struct ws_pss *pss)
{
	metrics_inc(MC_WS_MESSAGES_IN);
	if (!within_rate(pss))
		return;
	if (pss->rx_binary)
		on_binary(pss);
	else
		on_text(pss);
}

static int append_rx(struct ws_pss *pss, const void *in, size_t len)
{
	size_t max = (size_t)W_cfg->max_text_frame;
	char *p;

	if (pss->rx_binary) {
		pss->rx_len += len; /* images are counted, not kept, until the decoder exists */
		return pss->rx_len > (size_t)W_cfg->max_image_bytes ? SB_ETOOBIG : 0;
	}
	if (pss->rx_len + len > max)
		return SB_ETOOBIG;
	if (!(p = realloc(pss->rx, pss->rx_len + len + 1)))
		return SB_ENOMEM;
	pss->rx = p;
	memcpy(p + pss->rx_len, in, len);
	pss->rx_len += len;
	return 0;
}

static void on_receive(struct ws_pss *pss, const void *in, size_t len)
{
	if (pss->peer.closing)
		return;
	if (lws_is_first_fragment(pss->wsi)) {
		pss->rx_len = 0;
		pss->rx_binary = lws_frame_is_binary(pss->wsi);
		pss->rx_skip = false;
	}
	if (pss->rx_skip)
		return;
	if (append_rx(pss, in, len)) {
		pss->rx_skip = true;
		metrics_error("too_large");
		close_with(pss, 1009, "message too big");
		return;
	}
	if (lws_is_final_fragment(pss->wsi))
		on_message(pss);
}

/* ---- writing ---- */

/* Sends our close frame and lingers: the socket stays open until the client
 * answers with its own close (lws then finishes the handshake) or a timeout.
 * Closing at once (returning -1 from WRITEABLE) resets the connection when the
 * client is still sending, and the reset eats the close frame and the last
 * messages on the client side — exactly what a rate-limited flooder must see. */
static int send_close_frame(struct ws_pss *pss)
{
	unsigned char buf[LWS_PRE + 2 + sizeof(pss->close_reason)];
	size_t n = strlen(pss->close_reason);

	pss->close_started = true;
	buf[LWS_PRE] = (unsigned char)(pss->close_code >> 8);
	buf[LWS_PRE + 1] = (unsigned char)(pss->close_code & 0xff);
	memcpy(buf + LWS_PRE + 2, pss->close_reason, n);
	if (lws_write(pss->wsi, buf + LWS_PRE, n + 2, SB_LWS_WRITE_CLOSE) < 0)
		return -1;
	lws_set_timeout(pss->wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_LINGER_S);
	return 0;
}

static int on_writeable(struct ws_pss *pss)
{
	struct qmsg *q = pss->qhead;

	if (q) {
		int n = lws_write(pss->wsi, q->buf + LWS_PRE, q->len, LWS_WRITE_TEXT);

		pss->qhead = q->next;
		if (!pss->qhead)
			pss->qtail = NULL;
		pss->queued--;
		free(q);
		if (n < 0)
			return -1;
		if (pss->qhead) {
			lws_callback_on_writable(pss->wsi);
			return 0;
		}
	}
	if (!pss->close_pending)
		session_peer_writable(&pss->peer); /* a replaying desktop gets its next chunk */
	if (pss->qhead)
		return 0;
	if (pss->close_pending && !pss->close_started)
		return send_close_frame(pss);
	return 0;
}

int proto_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		      void *in, size_t len)
{
	struct ws_pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return filter_connection(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		on_established(pss, wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		on_receive(pss, in, len);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return on_writeable(pss);
	case LWS_CALLBACK_CLOSED:
		on_closed(pss);
		return 0;
	default:
		return 0;
	}
}
