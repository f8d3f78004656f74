/* SPDX-License-Identifier: MIT */
/* Table-driven getopt_long for the scanbridge-sim commands (see opts.h). */
#include "opts.h"

#include <getopt.h>
#include <stdint.h>
#include <string.h>

#include "sim.h"

#define OPTS_MAX 32                  /* options of one command, --help aside */
#define LONG_ONLY 256                /* getopt_long values above any short letter */

/* Flattens shared + own into getopt_long's table lo (with --help last) and its
 * short letters; tab[i] is the entry behind the value LONG_ONLY + i, or behind
 * its short letter. Returns how many entries tab has, or -1 past OPTS_MAX. */
static int flatten(const struct sim_opt *shared, const struct sim_opt *own,
		   const struct sim_opt **tab, struct option *lo, char *shorts)
{
	const struct sim_opt *parts[2] = { shared, own };
	int n = 0, ns = 0;

	for (int p = 0; p < 2; p++) {
		for (const struct sim_opt *o = parts[p]; o && o->name; o++, n++) {
			if (n == OPTS_MAX)
				return -1;
			tab[n] = o;
			lo[n] = (struct option){ o->name,
						 o->kind == SIM_OPT_FLAG ? no_argument : required_argument,
						 NULL, o->short_name ? o->short_name : LONG_ONLY + n };
			if (o->short_name)
				shorts[ns++] = o->short_name;
		}
	}
	lo[n] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n + 1] = (struct option){ NULL, 0, NULL, 0 };
	shorts[ns++] = 'h';
	shorts[ns] = '\0';
	return n;
}

static const struct sim_opt *lookup(const struct sim_opt **tab, int n, int val)
{
	if (val >= LONG_ONLY && val < LONG_ONLY + n)
		return tab[val - LONG_ONLY];
	for (int i = 0; i < n; i++)
		if (tab[i]->short_name == val)
			return tab[i];
	return NULL;
}

/* Stores one value. Returns 0, or -1 when arg is not a valid one. */
static int store(const struct sim_opt *o, const char *arg)
{
	long v;

	switch (o->kind) {
	case SIM_OPT_STR:
		*(const char **)o->dst = arg;
		return 0;
	case SIM_OPT_INT:
		if (sim_parse_long(arg, o->min, o->max, &v))
			return -1;
		*(int *)o->dst = (int)v;
		return 0;
	case SIM_OPT_LONG:
		return sim_parse_long(arg, o->min, o->max, (long *)o->dst);
	case SIM_OPT_DOUBLE:
		return sim_parse_double(arg, (double *)o->dst);
	case SIM_OPT_POSITIVE:
		if (sim_parse_double(arg, (double *)o->dst))
			return -1;
		return *(double *)o->dst > 0 ? 0 : -1;
	case SIM_OPT_FLAG:
		*(bool *)o->dst = true;
		return 0;
	case SIM_OPT_CALL:
		return o->set(arg, o->dst);
	default:
		return -1;
	}
}

int sim_opts_parse(const char *cmd, int argc, char **argv, void (*usage)(FILE *f),
		   const struct sim_opt *shared, const struct sim_opt *own)
{
	const struct sim_opt *tab[OPTS_MAX];
	struct option lo[OPTS_MAX + 2];
	char shorts[OPTS_MAX + 2];
	int n = flatten(shared, own, tab, lo, shorts), ch;

	if (n < 0) {
		fprintf(stderr, "scanbridge-sim %s: too many options\n", cmd);
		return -1;
	}
	optind = 0;                  /* glibc and musl: start afresh (tests parse twice) */
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct sim_opt *o;
		if (ch == 'h') {
			usage(stdout);
			return 1;
		}
		o = lookup(tab, n, ch);
		if (!o) {
			usage(stderr);
			return -1;
		}
		if (store(o, optarg) < 0) {
			fprintf(stderr, "scanbridge-sim %s: bad value for an option: %s\n", cmd,
				optarg);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int fleet_cli_parse(struct fleet_cli *cli, const char *cmd, int argc, char **argv,
		    void (*usage)(FILE *f), const struct sim_opt *own)
{
	const struct sim_opt shared[] = {
		OPT_STR("url", &cli->url),
		OPT_TLS(&cli->cafile, &cli->insecure),
		OPT_INT("sessions", &cli->fo.sessions, 1, cli->max_sessions),
		OPT_INT("scanners", &cli->fo.scanners, cli->min_scanners, 1000),
		{ .name = "rate", .kind = cli->rate_positive ? SIM_OPT_POSITIVE : SIM_OPT_DOUBLE,
		  .dst = &cli->fo.rate },
		OPT_DOUBLE("duration", &cli->duration),
		OPT_DOUBLE("settle", &cli->settle),
		OPT_STR("api-key", &cli->fo.api_key),
		OPT_CALL("seed", sim_opts_seed, NULL),
		OPT_FLAG("json", &cli->json),
		OPT_QUIET(&cli->fo.quiet),
		OPT_END
	};
	int rc;

	cli->url = SIM_DEFAULT_URL;
	cli->fo.send = true;
	rc = sim_opts_parse(cmd, argc, argv, usage, shared, own);
	if (rc == 0 && sim_opts_url(cmd, cli->url, cli->cafile, cli->insecure, &cli->fo.url) < 0)
		rc = -1;
	return rc;
}

int sim_opts_url(const char *cmd, const char *url, const char *cafile, bool insecure,
		 struct sim_url *u)
{
	if (sim_url_parse(url, u, NULL) < 0) {
		fprintf(stderr, "scanbridge-sim %s: bad --url %s (want http://host:port or "
			"https://host:port)\n", cmd, url);
		return -1;
	}
	return sim_opts_tls(cmd, cafile, insecure, u);
}

int sim_opts_tls(const char *cmd, const char *cafile, bool insecure, struct sim_url *u)
{
	/* Kept from the libwebsockets client, which checked a wss:// certificate
	 * against the Host header cut at its first ':' ("[::1]:8443" did not
	 * survive). conn_sock.c now checks an address as http.c does, but IPv6 over
	 * wss:// has no test yet. */
	if (u->tls && !insecure && strchr(u->host, ':')) {
		fprintf(stderr, "scanbridge-sim %s: https with an IPv6 address cannot be verified "
			"here; use a host name (or --insecure)\n", cmd);
		return -1;
	}
	u->cafile = cafile;
	u->insecure = insecure;
	return 0;
}

int sim_opts_seed(const char *arg, void *dst)
{
	long v;

	(void)dst;
	if (sim_parse_long(arg, 0, 1L << 62, &v))
		return -1;
	sim_rand_seed((uint64_t)v);
	return 0;
}
