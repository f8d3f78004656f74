/* SPDX-License-Identifier: MIT */
/* `scanbridge-sim idle`: opens N paired connections (N/2 sessions, one desktop
 * and one scanner each), reports as soon as all are welcomed (one JSON line with
 * --json), then holds them — pinging every 30 s — until SIGINT/SIGTERM or
 * --hold S. Exit 1 when not all were welcomed in time. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "sim.h"

static void usage(FILE *f)
{
	fputs("usage: scanbridge-sim idle [--url URL] --connections N [--hold S] [--json]\n"
	      "  --url URL            daemon base URL (default http://127.0.0.1:8080)\n"
	      "  --connections N      connections to hold, even: N/2 sessions of a desktop\n"
	      "                       and a scanner (default 100)\n"
	      "  --hold S             seconds to hold after all are welcomed (default: until\n"
	      "                       SIGINT/SIGTERM)\n"
	      "  --connect-timeout S  seconds for every connection to be welcomed (default 120)\n"
	      "  --max-pending N      connection attempts in flight at once (default 256)\n"
	      "  --api-key KEY        Bearer key for POST /sessions\n"
	      "  --json               print one JSON object when all are welcomed\n"
	      "  -q, --quiet          no progress on stderr\n", f);
}

int cmd_idle(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "connections", required_argument, NULL, 'n' },
		{ "hold", required_argument, NULL, 'H' },
		{ "connect-timeout", required_argument, NULL, 'C' },
		{ "max-pending", required_argument, NULL, 'P' },
		{ "api-key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *url = "http://127.0.0.1:8080";
	struct fleet_opts fo;
	struct fleet f;
	double hold = -1, connect_timeout = 120, setup_s, connect_s;
	long n = 100, max_pending = 256, nofile;
	bool json = false, all;
	int64_t t0, t1, t2;
	int ch;

	memset(&fo, 0, sizeof fo);
	while ((ch = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'n': if (sim_parse_long(optarg, 2, 10000000, &n)) goto bad; break;
		case 'H': if (sim_parse_double(optarg, &hold)) goto bad; break;
		case 'C': if (sim_parse_double(optarg, &connect_timeout)) goto bad; break;
		case 'P': if (sim_parse_long(optarg, 1, 100000, &max_pending)) goto bad; break;
		case 'k': fo.api_key = optarg; break;
		case 'j': json = true; break;
		case 'q': fo.quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || sim_url_parse(url, &fo.url, NULL) < 0) {
		usage(stderr);
		return 2;
	}
	nofile = sim_raise_nofile();
	if (nofile > 0 && n + 64 > nofile)
		fprintf(stderr, "scanbridge-sim idle: %ld connections need more fds than the "
			"limit %ld\n", n, nofile);
	fo.sessions = (int)(n / 2);
	fo.scanners = 1;
	fo.send = false;
	t0 = sim_now_us();
	if (fleet_setup(&f, &fo) < 0) {
		fleet_free(&f);
		return 2;
	}
	f.loop.max_pending = (unsigned)max_pending;
	t1 = sim_now_us();
	fleet_connect(&f);
	all = fleet_run(&f, t1 + (int64_t)(connect_timeout * 1e6), fleet_all_welcomed);
	t2 = sim_now_us();
	setup_s = (double)(t1 - t0) / 1e6;
	connect_s = (double)(t2 - t1) / 1e6;
	if (json)
		printf("{\"command\":\"idle\",\"connections\":%llu,\"sessions\":%d,\"welcomed\":%llu,"
		       "\"setup_s\":%.3f,\"connect_s\":%.3f,\"connect_failures\":%llu,"
		       "\"sim_cpu_s\":%.3f,\"sim_max_rss_kb\":%ld}\n",
		       (unsigned long long)f.conns_total, f.n_sess,
		       (unsigned long long)fleet_welcomed(&f), setup_s, connect_s,
		       (unsigned long long)f.loop.connect_failures, sim_cpu_self(NULL, NULL),
		       sim_maxrss_kb());
	else
		printf("idle: %llu of %llu connections welcomed (%d sessions); REST set-up %.2f s, "
		       "connect %.2f s; holding\n", (unsigned long long)fleet_welcomed(&f),
		       (unsigned long long)f.conns_total, f.n_sess, setup_s, connect_s);
	fflush(stdout);
	if (all)
		fleet_run(&f, hold < 0 ? INT64_MAX : t2 + (int64_t)(hold * 1e6), NULL);
	if (!fo.quiet)
		fprintf(stderr, "scanbridge-sim idle: %llu welcomed at the end, %llu reconnects\n",
			(unsigned long long)fleet_welcomed(&f),
			(unsigned long long)f.loop.reconnects);
	fleet_free(&f);
	return all ? 0 : 1;
bad:
	fprintf(stderr, "scanbridge-sim idle: bad value for an option: %s\n", optarg);
	return 2;
}
