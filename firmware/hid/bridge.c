/* SPDX-License-Identifier: MIT */
/* The bridge's logic (see bridge.h): codes → pairing or outbox, relay events
 * → LED/buzzer. */
#include "bridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fdwatch.h"
#include "pairurl.h"
#include "sb_err.h"

#define TICK_MS 50
#define PROBE_MS 5000
#define HOLD_MAX 16       /* codes kept while a pairing request is on its way */

/* A pairing in flight. The gun may be unplugged before the answer comes: the
 * request names it by key, not by pointer. */
struct pair_req {
	struct bridge *br;
	char key[OB_GUN_MAX];
	char codes[HOLD_MAX][SB_CODE_MAX_BYTES + 1];
	int64_t at[HOLD_MAX];
	int n;
};

static struct pair_req *inflight_req(struct bridge *br, const char *key);
static void track(struct pair_req *q, bool on);

uint64_t bridge_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct gun *find_gun(struct bridge *br, const char *key)
{
	for (struct gun *g = br->guns; g; g = g->next)
		if (!strcmp(g->key, key))
			return g;
	return NULL;
}

/* Guns present now with a current pairing: the LED's "paired" mode. */
static void count_paired(struct bridge *br)
{
	struct ob_pairing p;
	int n = 0;

	for (struct gun *g = br->guns; g; g = g->next)
		if (outbox_current(br->ob, g->key, &p) == 0)
			n++;
	status_paired_guns(&br->status, n, bridge_now_ms());
}

static void error_cue(struct bridge *br)
{
	status_cue(&br->status, CUE_ERROR, bridge_now_ms());
}

/* ---- codes ----------------------------------------------------------------- */

static void store_scan(struct bridge *br, const char *key, const char *code, int64_t at)
{
	struct ob_pairing p;
	char id[SB_SCAN_ID_MAX + 1];

	if (outbox_current(br->ob, key, &p) != 0) {
		struct gun *g = find_gun(br, key);
		fprintf(stderr, "scanbridge-hid: %s is not paired: scan held back (scan the "
			"desktop's pairing QR code with it first)\n", key);
		if (g)
			g->held_back++;
		error_cue(br);
		return;
	}
	if (outbox_add(br->ob, p.id, code, at, id) < 0) {
		error_cue(br);
		return;
	}
	fprintf(stderr, "scanbridge-hid: %s: scan %s queued for session %.8s…\n", key, id,
		p.session);
	relay_kick(br->relay, p.id);
}

static void start_pairing(struct gun *g, const char *pair_code)
{
	struct pair_req *q = calloc(1, sizeof *q);

	if (!q) {
		error_cue(g->b);
		return;
	}
	q->br = g->b;
	snprintf(q->key, sizeof q->key, "%s", g->key);
	g->pairing = true;
	fprintf(stderr, "scanbridge-hid: %s scanned a pairing code: pairing as \"%s\"\n",
		g->key, g->name);
	track(q, true);
	/* the answer may come (and free q) before relay_pair returns */
	if (relay_pair(g->b->relay, pair_code, g->name, q) < 0) {
		track(q, false);
		g->pairing = false;
		free(q);
		error_cue(g->b);
	}
}

static void on_code(struct gun *g, const struct hid_code *c)
{
	char pair_code[HID_PAIR_CODE_MAX];
	struct pair_req *q;
	int64_t now = (int64_t)bridge_now_ms();

	g->codes++;
	if (hid_pair_url_parse(c->text, c->len, pair_code, sizeof pair_code) == 0) {
		start_pairing(g, pair_code);
		return;
	}
	q = g->pairing ? inflight_req(g->b, g->key) : NULL;
	if (q) {
		/* scanned before the pairing answer came: they belong to it */
		if (q->n < HOLD_MAX) {
			snprintf(q->codes[q->n], sizeof q->codes[0], "%s", c->text);
			q->at[q->n++] = now;
		}
		return;
	}
	store_scan(g->b, g->key, c->text, now);
}

/* ---- pairing answers --------------------------------------------------------- */

static struct pair_req *reqs[64];   /* pairing requests in flight */

static struct pair_req *inflight_req(struct bridge *br, const char *key)
{
	for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
		if (reqs[i] && reqs[i]->br == br && !strcmp(reqs[i]->key, key))
			return reqs[i];
	return NULL;
}

static void track(struct pair_req *q, bool on)
{
	for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
		if (on ? !reqs[i] : reqs[i] == q) {
			reqs[i] = on ? q : NULL;
			return;
		}
}

static void on_paired(void *arg, void *req, int status, const struct relay_pair_result *r)
{
	struct bridge *br = arg;
	struct pair_req *q = req;
	struct gun *g = find_gun(br, q->key);
	int64_t id;

	track(q, false);
	if (g)
		g->pairing = false;
	if (!r || outbox_pair(br->ob, q->key, r->session, r->scanner, r->token, &id) < 0) {
		fprintf(stderr, "scanbridge-hid: %s: pairing failed (HTTP %d)%s\n", q->key, status,
			status == 404 ? ": the code is used or expired, show a fresh QR code" : "");
		error_cue(br);
	} else {
		fprintf(stderr, "scanbridge-hid: %s paired with session %.8s… as scanner %s\n",
			q->key, r->session, r->scanner);
		status_cue(&br->status, CUE_PAIRED, bridge_now_ms());
		relay_sync(br->relay);
	}
	for (int i = 0; i < q->n; i++)
		store_scan(br, q->key, q->codes[i], q->at[i]);
	free(q);
	count_paired(br);
}

/* ---- relay events ------------------------------------------------------------ */

static void on_relay(void *arg, enum relay_ev ev, int64_t pairing, const char *detail)
{
	struct bridge *br = arg;
	uint64_t now = bridge_now_ms();

	switch (ev) {
	case RELAY_REACHABLE:
	case RELAY_WELCOMED:
		status_reachable(&br->status, true, now);
		break;
	case RELAY_UNREACHABLE:
		status_reachable(&br->status, false, now);
		break;
	case RELAY_DELIVERED:
		fprintf(stderr, "scanbridge-hid: scan %s delivered\n", detail);
		status_cue(&br->status, CUE_DELIVERED, now);
		break;
	case RELAY_ACKED:
		fprintf(stderr, "scanbridge-hid: scan %s stored by the daemon\n", detail);
		break;
	case RELAY_REFUSED:
		error_cue(br);
		break;
	case RELAY_DEAD:
		error_cue(br);
		count_paired(br);
		break;
	}
	(void)pairing;
}

static const struct relay_ops relay_ops = { on_relay, on_paired };

/* ---- guns ------------------------------------------------------------------- */

struct gun *bridge_gun_add(struct bridge *br, const char *key, const char *label,
			   const struct hid_reader_conf *rc, bool live)
{
	struct gun *g = calloc(1, sizeof *g);

	if (!g)
		return NULL;
	if (hid_reader_init(&g->reader, br->xkb, rc) < 0) {
		fprintf(stderr, "scanbridge-hid: %s: no xkb keymap for layout \"%s\"%s%s\n", key,
			rc->layout, rc->variant[0] ? " variant " : "", rc->variant);
		free(g);
		return NULL;
	}
	g->b = br;
	g->live = live;
	snprintf(g->key, sizeof g->key, "%s", key);
	/* the protocol's name limit is 64 code points; labels are ASCII here */
	snprintf(g->name, sizeof g->name, "USB scanner %.52s", label);
	g->next = br->guns;
	br->guns = g;
	fprintf(stderr, "scanbridge-hid: gun %s added (layout %s)\n", key, rc->layout);
	count_paired(br);
	return g;
}

void bridge_gun_remove(struct gun *g)
{
	struct bridge *br = g->b;

	for (struct gun **pp = &br->guns; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	fprintf(stderr, "scanbridge-hid: gun %s removed\n", g->key);
	hid_reader_free(&g->reader);
	free(g);
	count_paired(br);
}

void bridge_gun_event(struct gun *g, const struct input_event *ev)
{
	struct hid_code c;

	if (hid_reader_feed(&g->reader, ev, &c) == 1)
		on_code(g, &c);
}

/* ---- the loop ------------------------------------------------------------------ */

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	struct bridge *br = lws_container_of(sul, struct bridge, tick);
	uint64_t now = bridge_now_ms();
	struct hid_code c;

	for (struct gun *g = br->guns; g; g = g->next)
		if (g->live && hid_reader_flush(&g->reader, now, &c) == 1)
			on_code(g, &c);
	if (!relay_any_up(br->relay) && now >= br->next_probe_ms) {
		br->next_probe_ms = now + PROBE_MS;
		relay_probe(br->relay);
	}
	status_tick(&br->status, now);
	lws_sul_schedule(relay_context(br->relay), 0, &br->tick, tick_cb,
			 (lws_usec_t)TICK_MS * 1000);
}

int bridge_init(struct bridge *br, const struct hid_config *cfg,
		const struct status_backend *status_be)
{
	int rc;

	memset(br, 0, sizeof *br);
	br->cfg = cfg;
	status_init(&br->status, status_be, bridge_now_ms());
	br->xkb = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
	if (!br->xkb)
		return SB_ENOMEM;
	rc = outbox_open(&br->ob, cfg->outbox);
	if (rc < 0)
		return rc;
	rc = relay_init(&br->relay, cfg->url, cfg->cafile, br->ob, &relay_ops, br,
			&fdwatch_protocol);
	if (rc < 0)
		return rc;
	relay_sync(br->relay);
	lws_sul_schedule(relay_context(br->relay), 0, &br->tick, tick_cb, 1000);
	return 0;
}

void bridge_run(struct bridge *br)
{
	while (!br->stop)
		if (lws_service(relay_context(br->relay), 0) < 0)
			break;
}

void bridge_free(struct bridge *br)
{
	if (br->relay)
		lws_sul_cancel(&br->tick);
	relay_free(br->relay);       /* closes the watched fds too */
	while (br->guns)
		bridge_gun_remove(br->guns);
	outbox_close(br->ob);
	xkb_context_unref(br->xkb);
	status_close(&br->status);
	br->relay = NULL;
	br->ob = NULL;
	br->xkb = NULL;
}
