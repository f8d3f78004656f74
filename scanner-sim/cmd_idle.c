/* SPDX-License-Identifier: MIT */
/* `scanbridge-sim idle`: opens N paired connections (N/2 sessions, one desktop
 * and one scanner each), reports as soon as all are welcomed (one JSON line with
 * --json), then holds them — pinging every 30 s — until SIGINT/SIGTERM or
 * --hold S. Exit 1 when not all were welcomed in time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "opts.h"
#include "sim.h"

static void usage(FILE *f)
{
	fputs("usage: scanbridge-sim idle [--url URL] --connections N [--hold S] [--json]\n"
	      "  --url URL            daemon base URL, http://host:port or https://host:port\n"
	      "                       (default http://127.0.0.1:8080)\n"
	      SIM_TLS_USAGE
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

struct idle_opts {
	struct fleet_opts fo;
	const char *url, *cafile;
	bool insecure;
	long connections, max_pending;
	double hold;                 /* < 0: until SIGINT/SIGTERM */
	double connect_timeout;
	bool json;
};

static int parse(int argc, char **argv, struct idle_opts *o)
{
	const struct sim_opt opts[] = {
		OPT_STR("url", &o->url),
		OPT_TLS(&o->cafile, &o->insecure),
		OPT_LONG("connections", &o->connections, 2, 10000000),
		OPT_DOUBLE("hold", &o->hold),
		OPT_DOUBLE("connect-timeout", &o->connect_timeout),
		OPT_LONG("max-pending", &o->max_pending, 1, 100000),
		OPT_STR("api-key", &o->fo.api_key),
		OPT_FLAG("json", &o->json),
		OPT_QUIET(&o->fo.quiet),
		OPT_END
	};
	int rc;

	memset(o, 0, sizeof *o);
	o->url = SIM_DEFAULT_URL;
	o->connections = 100;
	o->max_pending = 256;
	o->hold = -1;
	o->connect_timeout = 120;
	rc = sim_opts_parse("idle", argc, argv, usage, NULL, opts);
	if (rc == 0 && sim_opts_url("idle", o->url, o->cafile, o->insecure, &o->fo.url) < 0)
		rc = -1;
	return rc;
}

int cmd_idle(int argc, char **argv)
{
	struct idle_opts o;
	struct fleet f;
	double setup_s, connect_s;
	long nofile;
	bool all;
	int64_t t0, t1, t2;
	int rc = parse(argc, argv, &o);

	if (rc)
		return sim_opts_exit(rc);
	nofile = sim_raise_nofile();
	if (nofile > 0 && o.connections + 64 > nofile)
		fprintf(stderr, "scanbridge-sim idle: %ld connections need more fds than the "
			"limit %ld\n", o.connections, nofile);
	o.fo.sessions = (int)(o.connections / 2);
	o.fo.scanners = 1;
	o.fo.send = false;
	t0 = sim_now_us();
	if (fleet_setup(&f, &o.fo) < 0) {
		fleet_free(&f);
		return 2;
	}
	f.loop.max_pending = (unsigned)o.max_pending;
	t1 = sim_now_us();
	fleet_connect(&f);
	all = fleet_run(&f, t1 + (int64_t)(o.connect_timeout * 1e6), fleet_all_welcomed);
	t2 = sim_now_us();
	setup_s = (double)(t1 - t0) / 1e6;
	connect_s = (double)(t2 - t1) / 1e6;
	if (o.json)
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
		fleet_run(&f, o.hold < 0 ? INT64_MAX : t2 + (int64_t)(o.hold * 1e6), NULL);
	if (!o.fo.quiet)
		fprintf(stderr, "scanbridge-sim idle: %llu welcomed at the end, %llu reconnects\n",
			(unsigned long long)fleet_welcomed(&f),
			(unsigned long long)f.loop.reconnects);
	fleet_free(&f);
	return all ? 0 : 1;
}
