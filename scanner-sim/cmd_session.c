/* SPDX-License-Identifier: MIT */
/* `scanbridge-sim session`: creates a session, shows how to pair a phone (the
 * pair URL and its QR code on stderr, a JSON line on stdout), then acts as a
 * desktop: every server message is printed as one JSON line on stdout, each new
 * scan is acknowledged, and a dropped connection resumes from the last seq held
 * (replayed seqs are dropped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "http.h"
#include "opts.h"
#include "qr.h"
#include "sim.h"

struct desk {
	struct sim_conn conn;
	int64_t held, acked;
	long count, scans;        /* stop after count scans (0 = never) */
	bool quiet;
};

static void usage(FILE *f)
{
	fputs("usage: scanbridge-sim session [--url URL] [--count N] [--no-qr]\n"
	      "  --url URL        daemon base URL, http://host:port or https://host:port\n"
	      "                   (default http://127.0.0.1:8080)\n"
	      "  --cafile PATH    with https: trust the CA(s) in this PEM file (the daemon's\n"
	      "                   <data_dir>/tls/ca.pem) instead of the system store\n"
	      "  --insecure       with https: check neither the certificate nor the name\n"
	      "                   (for tests only)\n"
	      "  --count N        exit after N scans were received and acked (default: run\n"
	      "                   until SIGINT/SIGTERM)\n"
	      "  --api-key KEY    Bearer key for POST /sessions\n"
	      "  --no-qr          do not draw the QR code\n"
	      "  -q, --quiet      print only scans on stdout\n", f);
}

static void desk_message(struct sim_conn *c, const struct sb_server_msg *m,
			 const char *raw, size_t len)
{
	struct desk *d = c->user;

	if (m->type == SB_SRV_SCAN) {
		if (m->seq <= d->held)
			return;              /* replay of a seq we hold */
		d->held = m->seq;
		c->last_seq = d->held;
		d->scans++;
		sim_conn_want_write(c);
	} else if (m->type == SB_SRV_PONG || (d->quiet && m->type != SB_SRV_ERROR)) {
		return;
	} else if (m->type == SB_SRV_WELCOME && m->delivered_seq < d->acked) {
		d->acked = m->delivered_seq;
	}
	fwrite(raw, 1, len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

static int desk_writable(struct sim_conn *c, char *buf, size_t cap)
{
	struct desk *d = c->user;

	if (d->held <= d->acked)
		return 0;
	d->acked = d->held;
	return sb_cmsg_ack(buf, cap, d->held);
}

static void desk_lost(struct sim_conn *c, int close_code)
{
	struct desk *d = c->user;

	if (!d->quiet && c->state != SIM_C_DONE)
		fprintf(stderr, "scanbridge-sim session: connection lost (%d)%s\n", close_code,
			close_code == 4004 ? ", the session is over" : ", reconnecting");
}

static const struct sim_conn_ops desk_ops = {
	.message = desk_message,
	.writable = desk_writable,
	.lost = desk_lost,
};

static void show_pairing(const struct sim_session_info *si, bool qr)
{
	char *art = NULL;

	printf("{\"type\":\"session\",\"session\":\"%s\",\"pair_url\":\"%s\",\"pair_code\":\"%s\","
	       "\"desktop_token\":\"%s\",\"expires_at\":%lld}\n", si->session, si->pair_url,
	       si->pair_code, si->desktop_token, (long long)si->expires_at);
	fflush(stdout);
	if (qr && qr_text(si->pair_url, &art) == 0)
		fputs(art, stderr);
	free(art);
	fprintf(stderr, "pair a phone: %s\n", si->pair_url);
}

struct session_opts {
	const char *url, *api_key, *cafile;
	struct sim_url u;
	bool no_qr, insecure;
};

/* Fills *o, and the desktop's --count and --quiet into *d. */
static int parse(int argc, char **argv, struct session_opts *o, struct desk *d)
{
	const struct sim_opt opts[] = {
		OPT_STR("url", &o->url),
		OPT_TLS(&o->cafile, &o->insecure),
		OPT_LONG("count", &d->count, 1, 1L << 40),
		OPT_STR("api-key", &o->api_key),
		OPT_FLAG("no-qr", &o->no_qr),
		OPT_QUIET(&d->quiet),
		OPT_END
	};
	int rc;

	memset(o, 0, sizeof *o);
	o->url = SIM_DEFAULT_URL;
	rc = sim_opts_parse("session", argc, argv, usage, NULL, opts);
	if (rc == 0 && sim_opts_url("session", o->url, o->cafile, o->insecure, &o->u) < 0)
		rc = -1;
	return rc;
}

int cmd_session(int argc, char **argv)
{
	struct session_opts o;
	struct sim_session_info si;
	struct sim_loop loop;
	struct desk d;
	int rc;

	memset(&d, 0, sizeof d);
	if ((rc = parse(argc, argv, &o, &d)) != 0)
		return sim_opts_exit(rc);
	if (api_create_session(&o.u, o.api_key, &si) < 0)
		return 2;
	show_pairing(&si, !o.no_qr);
	if (sim_loop_init(&loop, &o.u) < 0 ||
	    sim_conn_init(&d.conn, &loop, SIM_DESKTOP, si.desktop_token, 0, &desk_ops, &d) < 0) {
		sim_loop_free(&loop);
		return 2;
	}
	sim_conn_start(&d.conn);
	while (!sim_stop && d.conn.state != SIM_C_DONE && !(d.count && d.scans >= d.count &&
							     d.acked >= d.held))
		sim_loop_service(&loop);
	if (d.conn.state == SIM_C_DONE)
		rc = 1;
	else if (d.count) {
		/* let the last ack reach the socket before closing */
		int64_t until = sim_now_us() + 200000;
		sim_conn_stop(&d.conn);
		while (sim_conn_has_socket(&d.conn) && sim_now_us() < until)
			sim_loop_service(&loop);
	}
	sim_loop_free(&loop);
	sim_conn_free(&d.conn);
	return rc;
}
