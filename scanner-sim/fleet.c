/* SPDX-License-Identifier: MIT */
/* Simulated sessions for load, chaos and idle (see fleet.h): REST set-up, the
 * scanner outbox and generator, the desktop de-dup and cumulative ack. */
#include "fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "grow.h"

#define OB_MIN 64

/* ---- scan ids ------------------------------------------------------------------
 * "<run>-<record index>": the desktop side finds the record from the id alone. */

static int64_t id_to_index(const struct fleet *f, const char *id)
{
	size_t n = strlen(f->run);
	char *end;
	long long v;

	if (strncmp(id, f->run, n) != 0 || id[n] != '-')
		return -1;
	v = strtoll(id + n + 1, &end, 10);
	if (*end || v < 0)
		return -1;
	return (int64_t)v;
}

/* ---- scanner ------------------------------------------------------------------ */

static int ob_push(struct fleet_scanner *s, int64_t idx)
{
	int64_t *ob;

	if (s->ob_head > 4096 && s->ob_head * 2 > s->ob_tail) {
		memmove(s->ob, s->ob + s->ob_head, (s->ob_tail - s->ob_head) * sizeof *s->ob);
		s->ob_tail -= s->ob_head;
		s->ob_next -= s->ob_head;
		s->ob_head = 0;
	}
	ob = grow_reserve(s->ob, &s->ob_cap, s->ob_tail + 1, sizeof *ob, OB_MIN);
	if (!ob)
		return -1;
	s->ob = ob;
	s->ob[s->ob_tail++] = idx;
	return 0;
}

static bool rec_done(struct fleet *f, int64_t idx)
{
	const struct sim_rec *r = stats_get(&f->stats, idx);

	return !r || r->n_ack || (r->flags & SIM_REC_REJECTED);
}

static void ob_advance(struct fleet_scanner *s)
{
	struct fleet *f = s->sess->fleet;

	while (s->ob_head < s->ob_tail && rec_done(f, s->ob[s->ob_head]))
		s->ob_head++;
	if (s->ob_next < s->ob_head)
		s->ob_next = s->ob_head;
}

static int generate(struct fleet_scanner *s)
{
	struct fleet *f = s->sess->fleet;
	int64_t idx = stats_add(&f->stats);

	if (idx < 0 || ob_push(s, idx) < 0) {
		fprintf(stderr, "scanbridge-sim: out of memory\n");
		sim_stop = 1;
		return -1;
	}
	return 0;
}

static int scanner_writable(struct sim_conn *c, char *buf, size_t cap)
{
	struct fleet_scanner *s = c->user;
	struct fleet *f = s->sess->fleet;
	bool windowed = f->o.rate <= 0;
	char id[48], code[14];
	int64_t idx;
	int n;

	while (s->ob_next < s->ob_tail && rec_done(f, s->ob[s->ob_next]))
		s->ob_next++;
	if (windowed && s->ob_next - s->ob_head >= (size_t)f->o.window)
		return 0;
	if (s->ob_next == s->ob_tail) {
		if (!windowed || !f->sending || generate(s) < 0)
			return 0;
	}
	idx = s->ob[s->ob_next++];
	snprintf(id, sizeof id, "%s-%lld", f->run, (long long)idx);
	sim_ean13((uint64_t)idx, code);
	n = sb_cmsg_scan(buf, cap, id, code, SB_FMT_EAN_13, sim_wall_ms());
	if (n > 0)
		stats_sent(&f->stats, idx, sim_now_us());
	c->more = s->ob_next < s->ob_tail ||
		  (windowed && f->sending && s->ob_next - s->ob_head < (size_t)f->o.window);
	return n;
}

static void retry_cb(struct sim_timer *sul)
{
	struct fleet_scanner *s = sim_container_of(sul, struct fleet_scanner, retry);

	s->ob_next = s->ob_head;     /* resend what is unacked; acked ones are skipped */
	sim_conn_want_write(&s->conn);
}

static void scanner_error(struct fleet_scanner *s, const struct sb_server_msg *m)
{
	struct fleet *f = s->sess->fleet;
	int64_t idx = m->id[0] ? id_to_index(f, m->id) : -1;
	bool again = !strcmp(m->code, "rate_limited") || !strcmp(m->code, "unavailable") ||
		     !strcmp(m->code, "busy");

	if (!strcmp(m->code, "rate_limited"))
		f->stats.rate_limited++;
	else
		f->stats.errors++;
	if (idx < 0)
		return;
	if (again) {
		sim_timer_schedule(&f->loop, &s->retry, retry_cb, 200 * 1000);
	} else {
		if (f->stats.errors <= 5)
			fprintf(stderr, "scanbridge-sim: scan %s refused: %s %s\n", m->id,
				m->code, m->message);
		stats_rejected(&f->stats, idx);
		ob_advance(s);
	}
}

static void scanner_message(struct sim_conn *c, const struct sb_server_msg *m,
			    const char *raw, size_t len)
{
	struct fleet_scanner *s = c->user;
	struct fleet *f = s->sess->fleet;
	int64_t idx;

	switch (m->type) {
	case SB_SRV_WELCOME:
		s->ob_next = s->ob_head;     /* the outbox: resend every unacked scan */
		sim_conn_want_write(c);
		break;
	case SB_SRV_ACK:
		idx = id_to_index(f, m->id);
		if (idx < 0)
			break;
		stats_acked(&f->stats, idx, m->seq, m->duplicate, sim_now_us());
		ob_advance(s);
		sim_conn_want_write(c);
		break;
	case SB_SRV_DELIVERED:
		idx = id_to_index(f, m->id);
		if (idx >= 0)
			stats_receipt(&f->stats, idx);
		break;
	case SB_SRV_ERROR:
		scanner_error(s, m);
		break;
	default:
		break;
	}
}

static const struct sim_conn_ops scanner_ops = {
	.message = scanner_message,
	.writable = scanner_writable,
};

static void gen_cb(struct sim_timer *sul)
{
	struct fleet_scanner *s = sim_container_of(sul, struct fleet_scanner, gen);
	struct fleet *f = s->sess->fleet;
	int64_t now = sim_now_us(), interval = (int64_t)(1e6 / f->o.rate);

	if (!f->sending)
		return;
	if (interval < 1)
		interval = 1;
	while (s->next_due_us <= now) {
		if (generate(s) < 0)
			return;
		s->next_due_us += interval;
	}
	sim_conn_want_write(&s->conn);
	sim_timer_schedule(&f->loop, &s->gen, gen_cb, s->next_due_us - now);
}

/* ---- desktop ------------------------------------------------------------------ */

static void desktop_message(struct sim_conn *c, const struct sb_server_msg *m,
			    const char *raw, size_t len)
{
	struct fleet_desktop *d = c->user;
	struct fleet *f = d->sess->fleet;
	int64_t idx;

	switch (m->type) {
	case SB_SRV_WELCOME:
		if (m->last_seq < d->held)
			fprintf(stderr, "scanbridge-sim: session %s: head %lld below the %lld held\n",
				d->sess->info.session, (long long)m->last_seq, (long long)d->held);
		if (m->delivered_seq < d->acked)
			d->acked = m->delivered_seq;   /* our last ack was not committed */
		sim_conn_want_write(c);
		break;
	case SB_SRV_SCAN:
		if (stats_seq_check(&f->stats, &d->held, m->seq))
			break;                          /* already held: de-dup on seq */
		c->last_seq = d->held;
		idx = id_to_index(f, m->id);
		if (idx < 0)
			f->foreign++;
		else
			stats_delivered(&f->stats, idx, m->seq, sim_now_us());
		sim_conn_want_write(c);
		break;
	case SB_SRV_ERROR:
		if (!strcmp(m->code, "rate_limited"))
			f->stats.rate_limited++;
		else
			f->stats.errors++;
		break;
	default:
		break;
	}
}

static int desktop_writable(struct sim_conn *c, char *buf, size_t cap)
{
	struct fleet_desktop *d = c->user;

	if (d->held <= d->acked)
		return 0;
	d->acked = d->held;
	return sb_cmsg_ack(buf, cap, d->held);
}

static const struct sim_conn_ops desktop_ops = {
	.message = desktop_message,
	.writable = desktop_writable,
};

/* ---- set-up and control -------------------------------------------------------- */

static int setup_session(struct fleet *f, struct fleet_session *fs, int si)
{
	fs->fleet = f;
	if (api_create_session(&f->o.url, f->o.api_key, &fs->info) < 0)
		return -1;
	fs->scanners = calloc((size_t)f->o.scanners + 1, sizeof *fs->scanners);
	if (!fs->scanners)
		return -1;
	for (int j = 0; j < f->o.scanners; j++) {
		struct fleet_scanner *s = &fs->scanners[j];
		struct sim_pair_info p;
		char code[64], name[48];
		if (j == 0)
			snprintf(code, sizeof code, "%s", fs->info.pair_code);
		else if (api_pair_code(&f->o.url, &fs->info, code) < 0)
			return -1;
		snprintf(name, sizeof name, "sim %d.%d", si + 1, j + 1);
		if (api_pair(&f->o.url, code, name, &p) < 0)
			return -1;
		s->sess = fs;
		snprintf(s->id, sizeof s->id, "%s", p.scanner);
		if (sim_conn_init(&s->conn, &f->loop, SIM_SCANNER, p.scanner_token, -1,
				  &scanner_ops, s) < 0)
			return -1;
		fs->n_scanners++;
	}
	fs->desk.sess = fs;
	return sim_conn_init(&fs->desk.conn, &f->loop, SIM_DESKTOP, fs->info.desktop_token, 0,
			     &desktop_ops, &fs->desk);
}

int fleet_setup(struct fleet *f, const struct fleet_opts *o)
{
	static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";

	memset(f, 0, sizeof *f);
	f->o = *o;
	if (f->o.window < 1)
		f->o.window = 32;
	stats_init(&f->stats);
	for (int i = 0; i < 6; i++)
		f->run[i] = b36[sim_rand() % 36];
	if (sim_loop_init(&f->loop, &f->o.url) < 0)
		return -1;
	f->sess = calloc((size_t)o->sessions, sizeof *f->sess);
	if (!f->sess)
		return -1;
	for (int i = 0; i < o->sessions; i++) {
		f->n_sess++;        /* counted first: fleet_free frees a half set-up one */
		if (setup_session(f, &f->sess[i], i) < 0)
			return -1;
		f->conns_total += 1 + (uint64_t)o->scanners;
		if (!o->quiet && (i + 1) % 500 == 0)
			fprintf(stderr, "scanbridge-sim: %d/%d sessions set up\n", i + 1, o->sessions);
	}
	return 0;
}

void fleet_connect(struct fleet *f)
{
	for (int i = 0; i < f->n_sess; i++)
		sim_conn_start(&f->sess[i].desk.conn);
	for (int i = 0; i < f->n_sess; i++)
		for (int j = 0; j < f->sess[i].n_scanners; j++)
			sim_conn_start(&f->sess[i].scanners[j].conn);
}

uint64_t fleet_welcomed(const struct fleet *f)
{
	uint64_t n = 0;

	for (size_t i = 0; i < f->loop.n_all; i++)
		n += f->loop.all[i]->state == SIM_C_WELCOMED;
	return n;
}

void fleet_sending(struct fleet *f, bool on)
{
	int64_t now = sim_now_us();

	f->sending = on;
	for (int i = 0; i < f->n_sess; i++) {
		for (int j = 0; j < f->sess[i].n_scanners; j++) {
			struct fleet_scanner *s = &f->sess[i].scanners[j];
			if (!on) {
				sim_timer_cancel(&s->gen);
				continue;
			}
			if (f->o.rate > 0) {
				int64_t interval = (int64_t)(1e6 / f->o.rate);
				s->next_due_us = now + (int64_t)sim_rand_range(0, (uint64_t)interval);
				sim_timer_schedule(&f->loop, &s->gen, gen_cb, s->next_due_us - now);
			} else {
				sim_conn_want_write(&s->conn);
			}
		}
	}
}

bool fleet_settled(const struct fleet *f)
{
	const struct sim_stats *st = &f->stats;

	return st->acked_once >= st->sent_once && st->delivered_once >= st->acked_once;
}

void fleet_drop_random(struct fleet *f)
{
	if (f->loop.n_all == 0)
		return;
	for (int tries = 0; tries < 8; tries++) {
		struct sim_conn *c = f->loop.all[sim_rand() % f->loop.n_all];
		if (c->state == SIM_C_WELCOMED) {
			sim_conn_drop(c);
			return;
		}
	}
}

void fleet_reconnect_all(struct fleet *f)
{
	for (size_t i = 0; i < f->loop.n_all; i++)
		sim_conn_reconnect_now(f->loop.all[i]);
}

void fleet_free(struct fleet *f)
{
	for (int i = 0; i < f->n_sess; i++)
		for (int j = 0; j < f->sess[i].n_scanners; j++) {
			sim_timer_cancel(&f->sess[i].scanners[j].gen);
			sim_timer_cancel(&f->sess[i].scanners[j].retry);
		}
	sim_loop_free(&f->loop);
	for (int i = 0; i < f->n_sess; i++) {
		struct fleet_session *fs = &f->sess[i];
		for (int j = 0; j < fs->n_scanners; j++) {
			sim_conn_free(&fs->scanners[j].conn);
			free(fs->scanners[j].ob);
		}
		sim_conn_free(&fs->desk.conn);
		free(fs->scanners);
	}
	free(f->sess);
	stats_free(&f->stats);
	memset(f, 0, sizeof *f);
}

bool fleet_run(struct fleet *f, int64_t until_us, bool (*done)(const struct fleet *))
{
	while (!sim_stop) {
		if (done && done(f))
			return true;
		if (sim_now_us() >= until_us)
			return false;
		sim_loop_service(&f->loop);
	}
	return false;
}

bool fleet_all_welcomed(const struct fleet *f)
{
	return fleet_welcomed(f) >= f->conns_total;
}
