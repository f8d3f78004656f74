/* SPDX-License-Identifier: MIT */
/* The WebSocket side of libwebsockets (/ws, subprotocol scanbridge.v1): admits
 * connections (capacity, per-IP cap, hello deadline), reassembles fragmented
 * messages, enforces the frame-size and rate limits, decodes each message with
 * the shared protocol library and hands it to the session layer. Binary
 * messages from a scanner are images: they go to the decode worker pool, at
 * most WS_IMAGES_IN_FLIGHT per connection plus one waiting (a newer frame
 * replaces the waiting one: the freshest frame wins), and the result is
 * answered `decoded`. Outgoing messages go through a bounded per-connection
 * queue written one frame per WRITEABLE callback. */
#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "clock.h"
#include "decode_pool.h"
#include "metrics.h"
#include "origin.h"
#include "lws_req.h"
#include "lws_ws.h"
#include "ratelimit.h"
#include "relay.h"
#include "sb_err.h"
#include "session.h"
#include "upload_budget.h"
#include "wire_err.h"

#define CLOSE_LINGER_S 3
#define WS_IMAGES_IN_FLIGHT 2       /* PROTOCOL.md: image frames <= 2 in flight */
#define WS_QUEUE_SLOT_BYTES 256     /* a typical scan message (ws_queued) */
#define RX_MIN_CAP 512
#define CLOSE_REASON_MAX 70         /* bytes; our reasons are short, longer ones are cut */
#define WRITE_BURST 64
#define COALESCE_MAX 16384          /* bytes of frames written in one go */
/* lws 4.1 keeps LWS_WRITE_CLOSE (4) private to steer users to lws_close_reason,
 * but its ws write path frames value 4 as a close frame. */
#define SB_LWS_WRITE_CLOSE ((enum lws_write_protocol)4)

struct qmsg {
	struct qmsg *next;
	size_t len;
	unsigned char buf[];        /* LWS_PRE headroom, then the message */
};

/* A scanner's images at the decoder: allocated with its first image frame. */
struct ws_images {
	struct decode_job *inflight[WS_IMAGES_IN_FLIGHT];
	uint8_t *pending;           /* the newest image waiting for a free slot */
	size_t pending_len;
};

/* One per WebSocket, held for as long as the connection: ten thousand idle
 * ones are the daemon's memory, so what only some connections need (images,
 * a close reason, a reassembly buffer) hangs off a pointer, the address is
 * kept in binary and the hello deadline is lws's own per-wsi timer. */
struct ws_pss {
	struct peer peer;
	struct lws *wsi;
	struct qmsg *qhead, *qtail;
	char *rx;                   /* message being reassembled (images: kept for scanners only) */
	uint32_t rx_len, rx_cap;    /* max_image_bytes and max_text_frame are < 4 GiB */
	struct ws_images *img;
	char *close_reason;         /* malloc'd when a close is queued */
	struct token_bucket bucket;
	unsigned queued;
	uint32_t qbytes;            /* bytes of the queued messages (ws_queued) */
	int strikes;                /* rate_limited answers in a row */
	uint16_t close_code;
	uint8_t ip[16];             /* the peer's address (family ip_family), for the per-IP count */
	uint8_t ip_family;
	bool rx_binary : 1, rx_skip : 1, close_pending : 1, close_started : 1, ip_counted : 1,
	     established : 1;
};

static const struct sb_config *W_cfg;
static unsigned W_conns;

void lws_ws_set_config(const struct sb_config *cfg) { W_cfg = cfg; }
unsigned lws_ws_connections(void) { return W_conns; }
size_t lws_ws_pss_size(void) { return sizeof(struct ws_pss); }

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
	pss->qbytes += (uint32_t)len;
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
	pss->qbytes = 0;
}

static void ws_close(struct peer *p, int code, const char *reason)
{
	struct ws_pss *pss = of_peer(p);

	if (pss->close_pending)
		return;
	pss->close_pending = true;
	pss->close_code = (uint16_t)code;
	pss->close_reason = strndup(reason ? reason : "", CLOSE_REASON_MAX); /* NULL: sent empty */
	if (code == 1008) /* slow consumer: what it did not read is dropped */
		queue_free(pss);
	lws_callback_on_writable(pss->wsi);
}

/* How full the queue is, in slots of WS_QUEUE_SLOT_BYTES: its messages, or
 * its bytes / WS_QUEUE_SLOT_BYTES when that is more. The session layer stops
 * forwarding live scans to a desktop at a fixed number of slots (and refills
 * it from the database as it drains): counted in messages alone, 1,000
 * desktops that stopped reading held 128 scans of 500 characters each, 92 MB;
 * counted this way a queue holds at most 128 slots = 32 KiB. */
static unsigned ws_queued(const struct peer *p)
{
	const struct ws_pss *pss = of_peer(p);
	unsigned by_bytes = pss->qbytes / WS_QUEUE_SLOT_BYTES;

	return by_bytes > pss->queued ? by_bytes : pss->queued;
}

static const struct peer_ops ws_ops = { ws_send, ws_close, ws_queued };

static void close_with(struct ws_pss *pss, int code, const char *reason)
{
	session_peer_close(&pss->peer, code, reason);
}

/* ---- images: decode jobs, at most WS_IMAGES_IN_FLIGHT per connection ---- */

static int free_slot(const struct ws_images *img)
{
	for (int i = 0; i < WS_IMAGES_IN_FLIGHT; i++)
		if (!img->inflight[i])
			return i;
	return -1;
}

static void send_decoded(struct ws_pss *pss, const struct decode_outcome *res)
{
	const char *codes[DECODE_MAX_RESULTS];
	enum sb_format formats[DECODE_MAX_RESULTS];
	int n = res->n < DECODE_MAX_RESULTS ? res->n : DECODE_MAX_RESULTS;

	for (int i = 0; i < n; i++) {
		codes[i] = res->codes[i].code;
		formats[i] = res->codes[i].format;
	}
	session_peer_send(&pss->peer,
			  sb_msg_decoded(codes, formats, (size_t)n, round(res->ms * 10) / 10));
}

/* The answer to one image frame: `decoded`, or an error (the socket stays open). */
static void answer_image(struct ws_pss *pss, const struct decode_outcome *res)
{
	const struct sb_wire_image_refusal *r;

	if (!res->rc) {
		send_decoded(pss, res);
		return;
	}
	r = sb_wire_image_refusal(res->rc);
	session_peer_error(&pss->peer, r->ws_code, r->ws_message, NULL);
}

static void image_decoded_cb(void *owner, const struct decode_outcome *res);
static void rx_release(struct ws_pss *pss);

/* An image that will not be decoded (ownership of img passes): answered rc. */
static void image_refuse(struct ws_pss *pss, uint8_t *img, size_t len, int rc)
{
	struct decode_outcome res = { .rc = rc };

	free(img);
	upload_budget_give(len);
	metrics_inc(MC_FRAMES_REFUSED);
	answer_image(pss, &res);
}

/* Hands img (ownership passes) to the pool in a free slot. */
static void image_submit(struct ws_pss *pss, uint8_t *img, size_t len)
{
	int slot = free_slot(pss->img);
	int rc = slot < 0 ? SB_ELIMIT
			  : decode_pool_submit(img, len, image_decoded_cb, pss, &pss->img->inflight[slot]);

	if (rc)
		image_refuse(pss, img, len, rc);
}

static void image_decoded_cb(void *owner, const struct decode_outcome *res)
{
	struct ws_pss *pss = owner;
	struct ws_images *im = pss->img;
	uint8_t *next = im->pending;

	for (int i = 0; i < WS_IMAGES_IN_FLIGHT; i++)
		if (im->inflight[i] == res->job)
			im->inflight[i] = NULL;
	answer_image(pss, res);
	if (next && !pss->peer.closing) {
		im->pending = NULL;
		image_submit(pss, next, im->pending_len);
	}
}

/* A whole image from a scanner (ownership of img passes): decode it now, or
 * keep it as the one waiting frame, replacing an older waiting one. */
static void image_accept(struct ws_pss *pss, uint8_t *img, size_t len)
{
	struct ws_images *im = pss->img ? pss->img : (pss->img = calloc(1, sizeof(*im)));

	if (!im) {
		image_refuse(pss, img, len, SB_ENOMEM);
		return;
	}
	if (free_slot(im) >= 0) {
		image_submit(pss, img, len);
		return;
	}
	if (im->pending) {
		free(im->pending);
		upload_budget_give(im->pending_len);
		metrics_inc(MC_FRAMES_DROPPED);
	}
	im->pending = img;
	im->pending_len = len;
}

/* The connection is gone: its results must never reach this memory. */
static void images_cancel(struct ws_pss *pss)
{
	if (!pss->img)
		return;
	for (int i = 0; i < WS_IMAGES_IN_FLIGHT; i++)
		decode_pool_cancel(pss->img->inflight[i]);
	if (pss->img->pending)
		upload_budget_give(pss->img->pending_len);
	free(pss->img->pending);
	free(pss->img);
	pss->img = NULL;
}

/* ---- admission ---- */

/* LWS_CALLBACK_TIMER: the hello deadline (lws_set_timer_usecs, which lives in
 * the wsi and dies with it). */
static void on_hello_deadline(struct ws_pss *pss)
{
	if (pss->established && !pss->peer.sess)
		close_with(pss, 4001, "no hello in time");
}

/* The peer's address as text, for the per-IP connection count: kept in binary
 * (16 bytes, not 46 chars), printed back the same way at add and at delete. */
static void ip_remember(struct ws_pss *pss, struct lws *wsi)
{
	char text[CLIENT_IP_MAX] = "";

	lws_req_client_ip(wsi, W_cfg->trusted_proxies, text); /* the upgrade's headers are still here */
	if (inet_pton(AF_INET, text, pss->ip) == 1)
		pss->ip_family = AF_INET;
	else if (inet_pton(AF_INET6, text, pss->ip) == 1)
		pss->ip_family = AF_INET6;
}

static const char *ip_text(const struct ws_pss *pss, char buf[INET6_ADDRSTRLEN])
{
	if (!pss->ip_family || !inet_ntop(pss->ip_family, pss->ip, buf, INET6_ADDRSTRLEN))
		return "unknown";
	return buf;
}

/* Whether a WebSocket upgrade may go on: 0, HTTP_STATUS_FORBIDDEN (an origin
 * outside the allow-list) or -1 (not /ws: hang up). Browsers send Origin on
 * WebSocket upgrades and no CORS applies, so the allow-list is checked here:
 * a page from elsewhere cannot relay scans. */
int lws_ws_upgrade_verdict(struct lws *wsi)
{
	char uri[64] = "", origin[256] = "", host[256] = "";

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 || strcmp(uri, "/ws"))
		return -1;
	lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
	if (!lws_req_host_allowed(wsi, W_cfg, host, sizeof(host)) ||
	    !origin_allowed(origin, host, W_cfg->public_url, W_cfg->allowed_origins))
		return HTTP_STATUS_FORBIDDEN;
	return 0;
}

/* The 403 itself is answered earlier, at HTTP_CONFIRM_UPGRADE (lws_http.c),
 * the one place lws 4.1 expects a refusal written by hand; this is the net. */
static int filter_connection(struct lws *wsi)
{
	return lws_ws_upgrade_verdict(wsi) ? 1 : 0;
}

static void on_established(struct ws_pss *pss, struct lws *wsi)
{
	char ip[INET6_ADDRSTRLEN];

	memset(pss, 0, sizeof(*pss));
	pss->wsi = wsi;
	pss->peer.ops = &ws_ops;
	pss->peer.gauge = MG_CONN_UNAUTH;
	pss->established = true;
	metrics_gauge_add(MG_CONN_UNAUTH, 1);
	W_conns++;
	ip_remember(pss, wsi);
	if (W_conns > (unsigned)W_cfg->max_connections) {
		close_with(pss, 4013, "server at capacity");
		return;
	}
	if (iplimit_conn_add(ip_text(pss, ip), W_cfg->max_connections_per_ip)) {
		close_with(pss, 4013, "server at capacity");
		return;
	}
	pss->ip_counted = true;
	lws_set_timer_usecs(wsi, (lws_usec_t)W_cfg->hello_timeout * LWS_US_PER_SEC);
}

static void on_closed(struct ws_pss *pss)
{
	char ip[INET6_ADDRSTRLEN];

	if (!pss->established)
		return;
	relay_peer_detach(&pss->peer);
	queue_free(pss);
	images_cancel(pss);
	rx_release(pss);
	free(pss->close_reason);
	pss->close_reason = NULL;
	if (pss->ip_counted)
		iplimit_conn_del(ip_text(pss, ip));
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
		metrics_error(SB_WIRE_RATE_LIMITED);
		close_with(pss, 4008, "rate limited");
	} else {
		session_peer_error(&pss->peer, SB_WIRE_RATE_LIMITED, "too many messages; slow down", NULL);
	}
	return false;
}

static void on_binary(struct ws_pss *pss)
{
	if (!pss->peer.sess)
		close_with(pss, 4001, "the first message must be hello");
	else if (pss->peer.role != SB_ROLE_SCANNER)
		session_peer_error(&pss->peer, SB_WIRE_INVALID_REQUEST, "only a scanner sends images", NULL);
	else if (!pss->rx_len) {
		metrics_inc(MC_FRAMES_REFUSED);
		session_peer_error(&pss->peer, SB_WIRE_INVALID_REQUEST, "empty image frame", NULL);
	} else {
		size_t len = pss->rx_len;
		uint8_t *img = realloc(pss->rx, len); /* shrinks: the image keeps len bytes */

		if (!img)
			img = (uint8_t *)pss->rx;
		upload_budget_give(pss->rx_cap - len); /* the image holds len of it from now */
		pss->rx = NULL; /* the image changes hands, with its budget */
		pss->rx_cap = 0;
		session_touch(pss->peer.sess);
		image_accept(pss, img, len);
	}
}

static void on_text(struct ws_pss *pss, const char *buf, size_t len)
{
	/* ~3 KB, reused: the loop is single-threaded and this is not re-entered */
	static struct sb_client_msg msg;
	struct sb_client_msg *m = &msg;
	struct sb_msg_error err = { 0 };
	int rc;

	rc = sb_msg_decode(buf, len, W_cfg->max_json_depth, m, &err);
	/* A desktop's acks are exempt from the rate limit: there is at most one
	 * per scan it was sent, so a desktop fed by several busy scanners must
	 * not be throttled for keeping up. Everything else pays its token. */
	if (!(rc == 0 && m->type == SB_MSG_ACK && pss->peer.sess &&
	      pss->peer.role == SB_ROLE_DESKTOP) && !within_rate(pss))
		return;
	if (rc == SB_EPROTO) {
		metrics_error(SB_WIRE_PROTOCOL_VIOLATION);
		close_with(pss, 4000, err.message[0] ? err.message : "protocol violation");
	} else if (rc && !pss->peer.sess) {
		close_with(pss, 4001, "the first message must be a valid hello");
	} else if (rc) {
		session_peer_error(&pss->peer, sb_wire_refusal(rc)->code, err.message,
				   err.id[0] ? err.id : NULL);
	} else {
		relay_peer_message(&pss->peer, m);
	}
}

/* Drops the reassembly buffer: after an image it may be megabytes. A
 * scanner's image buffer is counted in the shared budget by its capacity. */
static void rx_release(struct ws_pss *pss)
{
	if (pss->rx && pss->rx_binary)
		upload_budget_give(pss->rx_cap);
	free(pss->rx);
	pss->rx = NULL;
	pss->rx_len = pss->rx_cap = 0;
}

static void on_message(struct ws_pss *pss)
{
	metrics_inc(MC_WS_MESSAGES_IN);
	if (!pss->rx_binary)
		on_text(pss, pss->rx, pss->rx_len); /* rate-checks after decoding: acks are exempt */
	else if (within_rate(pss))
		on_binary(pss);
	/* An idle connection keeps no reassembly buffer (on_binary may have taken
	 * the image already): that is most of the memory of 10,000 of them. */
	rx_release(pss);
}

/* Grows the reassembly buffer geometrically: an image arrives in many pieces. */
static int rx_reserve(struct ws_pss *pss, size_t need, size_t max)
{
	size_t cap = pss->rx_cap ? pss->rx_cap : RX_MIN_CAP;
	char *p;

	if (need <= pss->rx_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > max + 1)
		cap = max + 1;
	if (pss->rx_binary && !upload_budget_take(cap - pss->rx_cap))
		return SB_ELIMIT;
	if (!(p = realloc(pss->rx, cap))) {
		if (pss->rx_binary)
			upload_budget_give(cap - pss->rx_cap);
		return SB_ENOMEM;
	}
	pss->rx = p;
	pss->rx_cap = (uint32_t)cap;
	return 0;
}

static int append_rx(struct ws_pss *pss, const void *in, size_t len)
{
	int rc;
	size_t max = pss->rx_binary ? (size_t)W_cfg->max_image_bytes : (size_t)W_cfg->max_text_frame;

	if (pss->rx_len + len > max)
		return SB_ETOOBIG;
	if (pss->rx_binary && (!pss->peer.sess || pss->peer.role != SB_ROLE_SCANNER)) {
		pss->rx_len += (uint32_t)len; /* refused when whole; counted, not kept */
		return 0;
	}
	if ((rc = rx_reserve(pss, pss->rx_len + len + 1, max)))
		return rc;
	memcpy(pss->rx + pss->rx_len, in, len);
	pss->rx_len += (uint32_t)len;
	return 0;
}

static void on_receive(struct ws_pss *pss, const void *in, size_t len)
{
	int rc;

	if (pss->peer.closing)
		return;
	if (lws_is_first_fragment(pss->wsi)) {
		pss->rx_len = 0;
		pss->rx_binary = lws_frame_is_binary(pss->wsi);
		pss->rx_skip = false;
		if (!pss->rx_binary && lws_is_final_fragment(pss->wsi) &&
		    len <= (size_t)W_cfg->max_text_frame) {
			/* the usual case: a whole message in one piece, decoded in place */
			metrics_inc(MC_WS_MESSAGES_IN);
			on_text(pss, in, len);
			return;
		}
	}
	if (pss->rx_skip)
		return;
	if ((rc = append_rx(pss, in, len)) == SB_ELIMIT) {
		/* the shared image budget is spent: this frame is dropped, not the socket */
		pss->rx_skip = true;
		metrics_inc(MC_FRAMES_REFUSED);
		rx_release(pss);
		session_peer_error(&pss->peer, SB_WIRE_BUSY,
				   "too many images are being received at once; the frame was not decoded", NULL);
		return;
	}
	if (rc) {
		pss->rx_skip = true;
		if (pss->rx_binary)
			metrics_inc(MC_FRAMES_REFUSED);
		rx_release(pss); /* up to max_image_bytes: not kept until the close ends */
		metrics_error(SB_WIRE_TOO_LARGE);
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
	unsigned char buf[LWS_PRE + 2 + CLOSE_REASON_MAX];
	size_t n = pss->close_reason ? strlen(pss->close_reason) : 0;

	pss->close_started = true;
	buf[LWS_PRE] = (unsigned char)(pss->close_code >> 8);
	buf[LWS_PRE + 1] = (unsigned char)(pss->close_code & 0xff);
	if (n)
		memcpy(buf + LWS_PRE + 2, pss->close_reason, n);
	if (lws_write(pss->wsi, buf + LWS_PRE, n + 2, SB_LWS_WRITE_CLOSE) < 0)
		return -1;
	lws_set_timeout(pss->wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_LINGER_S);
	return 0;
}

/* Unlinks and frees the head of the queue. */
static void queue_pop(struct ws_pss *pss)
{
	struct qmsg *q = pss->qhead;

	pss->qhead = q->next;
	if (!pss->qhead)
		pss->qtail = NULL;
	pss->queued--;
	pss->qbytes -= (uint32_t)q->len;
	free(q);
}

/* Server frames are unmasked: FIN + text opcode, then a 7-bit or 16-bit
 * length (COALESCE_MAX keeps every coalesced message under 64 KiB). */
static size_t frame_header(unsigned char *h, size_t len)
{
	h[0] = 0x81;
	if (len < 126) {
		h[1] = (unsigned char)len;
		return 2;
	}
	h[1] = 126;
	h[2] = (unsigned char)(len >> 8);
	h[3] = (unsigned char)(len & 0xff);
	return 4;
}

/* Frames the queued messages that fit in COALESCE_MAX bytes, at most
 * WRITE_BURST of them, into buf; returns the byte count (0: the head alone
 * is too big and goes out through lws_write as usual). */
static size_t coalesce(const struct ws_pss *pss, unsigned char *buf, int *count)
{
	size_t used = 0;
	int n = 0;

	for (const struct qmsg *q = pss->qhead; q && n < WRITE_BURST; q = q->next, n++) {
		if (used + 4 + q->len > COALESCE_MAX)
			break;
		used += frame_header(buf + used, q->len);
		memcpy(buf + used, q->buf + LWS_PRE, q->len);
		used += q->len;
	}
	*count = n;
	return used;
}

/* Writes queued messages while the socket takes them. Several at once go out
 * framed by us in one lws_write (LWS_WRITE_HTTP is lws's raw write): on a busy
 * desktop or scanner that is one send() per loop pass instead of one per
 * message, and a syscall is the dearest thing the relay does (perf: ~17% of
 * the daemon's time in the hypervisor's irq-enable on this VM). A single frame
 * per WRITEABLE left busy desktops seconds behind their scanners. lws buffers
 * a partial write itself and then reports the pipe choked. */
static int write_queued(struct ws_pss *pss)
{
	static unsigned char out[LWS_PRE + COALESCE_MAX];

	for (int i = 0; i < WRITE_BURST && pss->qhead; i++) {
		size_t n;
		int count;

		if (i && lws_send_pipe_choked(pss->wsi))
			break;
		if (pss->qhead->next && (n = coalesce(pss, out + LWS_PRE, &count)) > 0) {
			if (lws_write(pss->wsi, out + LWS_PRE, n, LWS_WRITE_HTTP) < 0)
				return -1;
			while (count--)
				queue_pop(pss);
			continue;
		}
		if (lws_write(pss->wsi, pss->qhead->buf + LWS_PRE, pss->qhead->len, LWS_WRITE_TEXT) < 0)
			return -1;
		queue_pop(pss);
	}
	return 0;
}

static int on_writeable(struct ws_pss *pss)
{
	if (write_queued(pss))
		return -1;
	if (pss->qhead) {
		lws_callback_on_writable(pss->wsi);
		return 0;
	}
	if (!pss->close_pending)
		relay_peer_writable(&pss->peer); /* a replaying desktop gets its next chunk */
	if (pss->qhead)
		return 0;
	if (pss->close_pending && !pss->close_started)
		return send_close_frame(pss);
	return 0;
}

/* The client's close frame. When it answers ours (sent by hand, so lws does
 * not know it), the handshake is complete: close the TCP connection without
 * echoing, or browsers see a second close frame, call it a protocol error and
 * report 1006 instead of our code. Otherwise lws 4.1 checks the codes up to
 * 2999 but accepts a 1-byte payload and codes of 5000 and above, which RFC 6455
 * (7.4) says are protocol errors: answer those 1002 instead of echoing them. */
static int check_peer_close(struct ws_pss *pss, struct lws *wsi, const unsigned char *in,
			    size_t len)
{
	unsigned code;

	if (pss && pss->close_started)
		return -1;
	if (len == 0)
		return 0;
	code = len >= 2 ? (unsigned)in[0] << 8 | in[1] : 0;
	if (len >= 2 && code >= 1000 && code <= 4999)
		return 0;
	lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, (unsigned char *)"invalid close frame", 19);
	return -1;
}

int lws_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
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
	case LWS_CALLBACK_TIMER:
		on_hello_deadline(pss);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return on_writeable(pss);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		return check_peer_close(pss, wsi, in, len);
	case LWS_CALLBACK_CLOSED:
		on_closed(pss);
		return 0;
	default:
		return 0;
	}
}
