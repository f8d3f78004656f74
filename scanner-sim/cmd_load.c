/* SPDX-License-Identifier: MIT */
/* `scanbridge-sim load`: S desktops and S x M scanners on one event loop send
 * scans for D seconds (at R scans/s per scanner, or window-paced with R = 0),
 * wait a bounded time for the last acks and deliveries, and report counts,
 * throughput and latency percentiles (text, or one JSON object with --json).
 * Exit 1 when anything acked was lost, duplicated or delivered out of order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "opts.h"
#include "sim.h"

static void usage(FILE *f)
{
	fputs("usage: scanbridge-sim load [--url URL] [--sessions S] [--scanners M] [--rate R]\n"
	      "                           [--duration D] [--json] [options]\n"
	      "  --url URL            daemon base URL, http://host:port or https://host:port\n"
	      "                       (default http://127.0.0.1:8080)\n"
	      SIM_TLS_USAGE
	      "  --sessions S         sessions, one desktop each (default 1)\n"
	      "  --scanners M         scanners per session (default 1)\n"
	      "  --rate R             scans/s per scanner; 0 = as fast as acks allow (default 10)\n"
	      "  --window W           unacked scans per scanner when --rate 0 (default 32)\n"
	      "  --duration D         seconds of sending (default 10)\n"
	      "  --settle S           seconds to wait for outstanding acks/deliveries (default 10)\n"
	      "  --connect-timeout S  seconds for every connection to be welcomed (default 60)\n"
	      "  --api-key KEY        Bearer key for POST /sessions\n"
	      "  --daemon-pid PID     also report that process's CPU time (daemon_cpu_s)\n"
	      "  --seed N             random seed (default: time and pid)\n"
	      "  --json               print one JSON object\n"
	      "  -q, --quiet          no progress on stderr\n", f);
}

struct load_opts {
	struct fleet_cli cli;
	double connect_timeout;
	long daemon_pid;
};

static int parse(int argc, char **argv, struct load_opts *o)
{
	const struct sim_opt own[] = {
		OPT_INT("window", &o->cli.fo.window, 1, 100000),
		OPT_DOUBLE("connect-timeout", &o->connect_timeout),
		OPT_LONG("daemon-pid", &o->daemon_pid, 1, 1L << 30),
		OPT_END
	};

	*o = (struct load_opts){
		.cli = {
			.fo = { .sessions = 1, .scanners = 1, .rate = 10, .window = 32 },
			.duration = 10, .settle = 10, .max_sessions = 1000000,
			.min_scanners = 0,      /* --scanners 0: desktops only */
		},
		.connect_timeout = 60,
	};
	return fleet_cli_parse(&o->cli, "load", argc, argv, usage, own);
}

static void report(struct fleet *f, const struct load_opts *o, const struct sim_summary *s,
		   double send_s, double connect_s, double cpu, double cpu_u, double cpu_s,
		   double dcpu)
{
	FILE *out = stdout;

	f->stats.reconnects = f->loop.reconnects;
	if (o->cli.json) {
		fputc('{', out);
		stats_print_json(out, &f->stats, s);
		fprintf(out, ",\"command\":\"load\",\"sessions\":%d,\"scanners\":%d,\"rate\":%g,"
			"\"window\":%d,\"duration_s\":%.3f,\"connect_s\":%.3f,\"sim_cpu_s\":%.3f,"
			"\"sim_cpu_user_s\":%.3f,\"sim_cpu_sys_s\":%.3f,\"sim_max_rss_kb\":%ld",
			f->n_sess, f->n_sess * o->cli.fo.scanners, o->cli.fo.rate, o->cli.fo.window,
			send_s, connect_s, cpu, cpu_u, cpu_s, sim_maxrss_kb());
		if (dcpu >= 0)
			fprintf(out, ",\"daemon_cpu_s\":%.3f", dcpu);
		fprintf(out, ",\"loop_passes\":%llu}\n", (unsigned long long)f->loop.passes);
	} else {
		fprintf(out, "load: %d sessions x %d scanners, rate %g/s per scanner%s, %.1f s "
			"(connected in %.2f s)\n", f->n_sess, o->cli.fo.scanners, o->cli.fo.rate,
			o->cli.fo.rate > 0 ? "" : " (window-paced)", send_s, connect_s);
		stats_print_text(out, &f->stats, s);
		fprintf(out, "sim CPU %.2f s (user %.2f, sys %.2f)", cpu, cpu_u, cpu_s);
		if (dcpu >= 0)
			fprintf(out, ", daemon CPU %.2f s", dcpu);
		fputc('\n', out);
	}
	fflush(out);
}

int cmd_load(int argc, char **argv)
{
	struct load_opts o;
	struct fleet f;
	struct sim_summary s;
	double cpu0, cpu1, u0, u1, s0, s1, d0 = -1, dcpu = -1, connect_s, send_s;
	int64_t t0, t1;
	int rc = parse(argc, argv, &o);

	if (rc)
		return sim_opts_exit(rc);
	sim_raise_nofile();
	t0 = sim_now_us();
	if (fleet_setup(&f, &o.cli.fo) < 0) {
		fleet_free(&f);
		return 2;
	}
	fleet_connect(&f);
	if (!fleet_run(&f, t0 + (int64_t)(o.connect_timeout * 1e6), fleet_all_welcomed)) {
		fprintf(stderr, "scanbridge-sim load: only %llu of %llu connections welcomed\n",
			(unsigned long long)fleet_welcomed(&f), (unsigned long long)f.conns_total);
		fleet_free(&f);
		return 2;
	}
	connect_s = (double)(sim_now_us() - t0) / 1e6;
	cpu0 = sim_cpu_self(&u0, &s0);
	if (o.daemon_pid)
		d0 = sim_cpu_pid(o.daemon_pid);
	t1 = sim_now_us();
	fleet_sending(&f, true);
	fleet_run(&f, t1 + (int64_t)(o.cli.duration * 1e6), NULL);
	fleet_sending(&f, false);
	send_s = (double)(sim_now_us() - t1) / 1e6;
	fleet_run(&f, sim_now_us() + (int64_t)(o.cli.settle * 1e6), fleet_settled);
	cpu1 = sim_cpu_self(&u1, &s1);
	if (o.daemon_pid && d0 >= 0) {
		double d1 = sim_cpu_pid(o.daemon_pid);
		dcpu = d1 >= 0 ? d1 - d0 : -1;
	}
	if (stats_summarize(&f.stats, &s) < 0) {
		fprintf(stderr, "scanbridge-sim load: out of memory\n");
		fleet_free(&f);
		return 2;
	}
	report(&f, &o, &s, send_s, connect_s, cpu1 - cpu0, u1 - u0, s1 - s0, dcpu);
	rc = stats_failed(&f.stats, &s) ? 1 : 0;
	fleet_free(&f);
	return rc;
}
