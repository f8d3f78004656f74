/* SPDX-License-Identifier: MIT */
/* `scanbridge-sim load`: S desktops and S x M scanners on one event loop send
 * scans for D seconds (at R scans/s per scanner, or window-paced with R = 0),
 * wait a bounded time for the last acks and deliveries, and report counts,
 * throughput and latency percentiles (text, or one JSON object with --json).
 * Exit 1 when anything acked was lost, duplicated or delivered out of order. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "sim.h"

static void usage(FILE *f)
{
	fputs("usage: scanbridge-sim load [--url URL] [--sessions S] [--scanners M] [--rate R]\n"
	      "                           [--duration D] [--json] [options]\n"
	      "  --url URL            daemon base URL (default http://127.0.0.1:8080)\n"
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
	struct fleet_opts fo;
	double duration, settle, connect_timeout;
	long daemon_pid;
	bool json;
};

static int parse(int argc, char **argv, struct load_opts *o)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "sessions", required_argument, NULL, 's' },
		{ "scanners", required_argument, NULL, 'm' },
		{ "rate", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "duration", required_argument, NULL, 'd' },
		{ "settle", required_argument, NULL, 'S' },
		{ "connect-timeout", required_argument, NULL, 'C' },
		{ "api-key", required_argument, NULL, 'k' },
		{ "daemon-pid", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'z' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *url = "http://127.0.0.1:8080";
	long v;
	int ch;

	memset(o, 0, sizeof *o);
	o->fo.sessions = 1;
	o->fo.scanners = 1;
	o->fo.rate = 10;
	o->fo.window = 32;
	o->fo.send = true;
	o->duration = 10;
	o->settle = 10;
	o->connect_timeout = 60;
	while ((ch = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 's': if (sim_parse_long(optarg, 1, 1000000, &v)) goto bad; o->fo.sessions = (int)v; break;
		case 'm': if (sim_parse_long(optarg, 0, 1000, &v)) goto bad; o->fo.scanners = (int)v; break;
		case 'r': if (sim_parse_double(optarg, &o->fo.rate)) goto bad; break;
		case 'w': if (sim_parse_long(optarg, 1, 100000, &v)) goto bad; o->fo.window = (int)v; break;
		case 'd': if (sim_parse_double(optarg, &o->duration)) goto bad; break;
		case 'S': if (sim_parse_double(optarg, &o->settle)) goto bad; break;
		case 'C': if (sim_parse_double(optarg, &o->connect_timeout)) goto bad; break;
		case 'k': o->fo.api_key = optarg; break;
		case 'p': if (sim_parse_long(optarg, 1, 1L << 30, &o->daemon_pid)) goto bad; break;
		case 'z': if (sim_parse_long(optarg, 0, 1L << 62, &v)) goto bad; sim_rand_seed((uint64_t)v); break;
		case 'j': o->json = true; break;
		case 'q': o->fo.quiet = true; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc)
		goto bad_arg;
	if (sim_url_parse(url, &o->fo.url, NULL) < 0) {
		fprintf(stderr, "scanbridge-sim load: bad --url %s (want http://host:port)\n", url);
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "scanbridge-sim load: bad value for an option: %s\n", optarg);
	return -1;
bad_arg:
	fprintf(stderr, "scanbridge-sim load: unexpected argument %s\n", argv[optind]);
	return -1;
}

static void report(struct fleet *f, const struct load_opts *o, const struct sim_summary *s,
		   double send_s, double connect_s, double cpu, double cpu_u, double cpu_s,
		   double dcpu)
{
	FILE *out = stdout;

	f->stats.reconnects = f->loop.reconnects;
	if (o->json) {
		fputc('{', out);
		stats_print_json(out, &f->stats, s);
		fprintf(out, ",\"command\":\"load\",\"sessions\":%d,\"scanners\":%d,\"rate\":%g,"
			"\"window\":%d,\"duration_s\":%.3f,\"connect_s\":%.3f,\"sim_cpu_s\":%.3f,"
			"\"sim_cpu_user_s\":%.3f,\"sim_cpu_sys_s\":%.3f,\"sim_max_rss_kb\":%ld",
			f->n_sess, f->n_sess * o->fo.scanners, o->fo.rate, o->fo.window, send_s,
			connect_s, cpu, cpu_u, cpu_s, sim_maxrss_kb());
		if (dcpu >= 0)
			fprintf(out, ",\"daemon_cpu_s\":%.3f", dcpu);
		fprintf(out, ",\"loop_passes\":%llu}\n", (unsigned long long)f->loop.passes);
	} else {
		fprintf(out, "load: %d sessions x %d scanners, rate %g/s per scanner%s, %.1f s "
			"(connected in %.2f s)\n", f->n_sess, o->fo.scanners, o->fo.rate,
			o->fo.rate > 0 ? "" : " (window-paced)", send_s, connect_s);
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
		return rc > 0 ? 0 : 2;
	sim_raise_nofile();
	t0 = sim_now_us();
	if (fleet_setup(&f, &o.fo) < 0) {
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
	fleet_run(&f, t1 + (int64_t)(o.duration * 1e6), NULL);
	fleet_sending(&f, false);
	send_s = (double)(sim_now_us() - t1) / 1e6;
	fleet_run(&f, sim_now_us() + (int64_t)(o.settle * 1e6), fleet_settled);
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
