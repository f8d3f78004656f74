/* SPDX-License-Identifier: MIT */
/* Command-line options of every scanbridge-sim command. A command lists its
 * options in a table (long name, kind of value, where it goes, bounds) and
 * sim_opts_parse runs getopt_long over it, so --help, the value checks, the
 * stray-argument check and their messages exist once. Options that several
 * commands share come as a second table (fleet_cli_parse below: the ones load
 * and chaos share). Each command keeps its own hand-written usage text. */
#ifndef SIM_OPTS_H
#define SIM_OPTS_H
#include <stdbool.h>
#include <stdio.h>

#include "fleet.h"
#include "http.h"

#define SIM_DEFAULT_URL "http://127.0.0.1:8080"

/* The trust options every command that talks to the daemon takes, with
 * https:// URLs (ignored with http://). */
#define SIM_TLS_USAGE \
	"  --cafile PATH        with https: trust the CA(s) in this PEM file (the daemon's\n" \
	"                       <data_dir>/tls/ca.pem) instead of the system store\n" \
	"  --insecure           with https: check neither the certificate nor the name\n" \
	"                       (for tests only)\n"
#define OPT_TLS(cafile_p, insecure_p) \
	OPT_STR("cafile", cafile_p), OPT_FLAG("insecure", insecure_p)

enum sim_opt_kind {
	SIM_OPT_END = 0,    /* ends a table (an all-zero entry) */
	SIM_OPT_STR,        /* const char *: the argument itself */
	SIM_OPT_INT,        /* int, an integer in [min, max] */
	SIM_OPT_LONG,       /* long, an integer in [min, max] */
	SIM_OPT_DOUBLE,     /* double, a finite number >= 0 */
	SIM_OPT_POSITIVE,   /* double, a finite number > 0 */
	SIM_OPT_FLAG,       /* bool set to true; takes no argument */
	SIM_OPT_CALL,       /* set(arg, dst) parses it: returns 0 or -1 */
};

struct sim_opt {
	const char *name;            /* long name, without the dashes */
	enum sim_opt_kind kind;
	void *dst;                   /* where the value goes */
	long min, max;               /* SIM_OPT_INT, SIM_OPT_LONG */
	int (*set)(const char *arg, void *dst);   /* SIM_OPT_CALL */
	char short_name;             /* one-letter form (-q), or 0 */
};

/* Table entries. Each checks at compile time that dst points to the type its
 * kind writes (dst is a void * in the table). */
#define SIM_OPT_DST(type, p) ((void *)(1 ? (p) : (type *)0))
#define OPT_STR(n, p)          { .name = (n), .kind = SIM_OPT_STR, \
				 .dst = SIM_OPT_DST(const char *, p) }
#define OPT_INT(n, p, lo, hi)  { .name = (n), .kind = SIM_OPT_INT, \
				 .dst = SIM_OPT_DST(int, p), .min = (lo), .max = (hi) }
#define OPT_LONG(n, p, lo, hi) { .name = (n), .kind = SIM_OPT_LONG, \
				 .dst = SIM_OPT_DST(long, p), .min = (lo), .max = (hi) }
#define OPT_DOUBLE(n, p)       { .name = (n), .kind = SIM_OPT_DOUBLE, \
				 .dst = SIM_OPT_DST(double, p) }
#define OPT_POSITIVE(n, p)     { .name = (n), .kind = SIM_OPT_POSITIVE, \
				 .dst = SIM_OPT_DST(double, p) }
#define OPT_FLAG(n, p)         { .name = (n), .kind = SIM_OPT_FLAG, \
				 .dst = SIM_OPT_DST(bool, p) }
#define OPT_CALL(n, fn, p)     { .name = (n), .kind = SIM_OPT_CALL, .dst = (p), .set = (fn) }
#define OPT_QUIET(p)           { .name = "quiet", .kind = SIM_OPT_FLAG, \
				 .dst = SIM_OPT_DST(bool, p), .short_name = 'q' }
#define OPT_END                { .name = NULL }

/* Parses argv (argv[0] is the command name, cmd) against shared (may be NULL)
 * and own, both ended by an SIM_OPT_END entry; --help/-h is always there.
 * Returns 0 to run the command; 1 after printing usage to stdout (--help: exit
 * 0); -1 after printing why to stderr (unknown option, bad value, stray
 * argument: exit 2). Values already stored stay stored either way. */
int sim_opts_parse(const char *cmd, int argc, char **argv, void (*usage)(FILE *f),
		   const struct sim_opt *shared, const struct sim_opt *own);

/* The exit status for a non-zero sim_opts_parse result. */
static inline int sim_opts_exit(int rc)
{
	return rc > 0 ? 0 : 2;
}

/* The command line load and chaos share: the fleet (--sessions, --scanners,
 * --rate, --api-key, -q), --url, --cafile, --insecure, --duration, --settle,
 * --seed, --json. The caller sets the defaults and the bounds in which the
 * two commands differ; url defaults to SIM_DEFAULT_URL and fo.send is set
 * (both send scans). */
struct fleet_cli {
	struct fleet_opts fo;        /* fo.url is filled from url by fleet_cli_parse */
	const char *url;             /* --url, SIM_DEFAULT_URL when not given */
	const char *cafile;          /* --cafile, or NULL */
	bool insecure;               /* --insecure */
	double duration;             /* seconds of sending */
	double settle;               /* seconds to wait for the last acks/deliveries */
	bool json;
	long max_sessions;           /* --sessions in [1, max_sessions] */
	long min_scanners;           /* --scanners in [min_scanners, 1000] */
	bool rate_positive;          /* refuse --rate 0 (window-paced sending) */
};

/* sim_opts_parse over the shared options and own (may be NULL), then --url
 * (with --cafile and --insecure) into cli->fo.url. Returns like sim_opts_parse. */
int fleet_cli_parse(struct fleet_cli *cli, const char *cmd, int argc, char **argv,
		    void (*usage)(FILE *f), const struct sim_opt *own);

/* Parses a --url value into *u, with the trust options: cafile (may be NULL;
 * read at the first https call, so chaos --daemon-cmd may give the CA the
 * daemon is about to create) and insecure. Returns 0, or -1 after printing why. */
int sim_opts_url(const char *cmd, const char *url, const char *cafile, bool insecure,
		 struct sim_url *u);
/* The trust options alone, for a URL parsed otherwise (the scanner's pair
 * URL): sets u->cafile and u->insecure. Returns 0, or -1 after printing why. */
int sim_opts_tls(const char *cmd, const char *cafile, bool insecure, struct sim_url *u);

/* SIM_OPT_CALL setter for --seed N: seeds the generator at once, N in
 * [0, 2^62] (0: from the time and pid). dst is unused. */
int sim_opts_seed(const char *arg, void *dst);

#endif
