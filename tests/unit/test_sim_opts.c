/* SPDX-License-Identifier: MIT */
/* Unit tests for scanner-sim/opts.c, the option tables of every simulator
 * command: each kind of value with its bounds, the -q short form, --help, the
 * refusals (unknown option, bad value, stray argument), and the table that
 * load and chaos share with the bounds in which they differ. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner-sim/opts.h"
#include "check.h"

static int usage_calls;

static void usage(FILE *f)
{
	(void)f;
	usage_calls++;
}

/* Splits line into argv[] at spaces. The words live in a static buffer, as
 * argv does: string options point into it until the next call. */
static int split(const char *line, char **argv)
{
	static char buf[512];
	int argc = 0;

	snprintf(buf, sizeof buf, "%s", line);
	for (char *w = strtok(buf, " "); w && argc < 31; w = strtok(NULL, " "))
		argv[argc++] = w;
	argv[argc] = NULL;
	return argc;
}

struct vals {
	const char *s;
	int i;
	long l;
	double d, p;
	bool flag, quiet;
};

static int run(const char *line, struct vals *v)
{
	const struct sim_opt opts[] = {
		OPT_STR("str", &v->s),
		OPT_INT("int", &v->i, 1, 10),
		OPT_LONG("long", &v->l, 0, 1L << 40),
		OPT_DOUBLE("double", &v->d),
		OPT_POSITIVE("positive", &v->p),
		OPT_FLAG("flag", &v->flag),
		OPT_QUIET(&v->quiet),
		OPT_END
	};
	char *argv[32];
	int argc = split(line, argv);

	memset(v, 0, sizeof *v);
	return sim_opts_parse("test", argc, argv, usage, NULL, opts);
}

static void test_kinds(void)
{
	struct vals v;

	opterr = 0;
	CHECK_EQ_INT(run("cmd --str x --int 10 --long 1099511627776 --double 0 --positive 0.5 "
			 "--flag -q", &v), 0);
	CHECK_STR(v.s, "x");
	CHECK_EQ_INT(v.i, 10);
	CHECK_EQ_INT(v.l, 1L << 40);
	CHECK(v.d == 0 && v.p == 0.5 && v.flag && v.quiet);
	CHECK_EQ_INT(run("cmd --quiet --int=3", &v), 0);          /* --name=value, long -q */
	CHECK(v.quiet && v.i == 3);
	CHECK_EQ_INT(run("cmd", &v), 0);                          /* nothing given */
	CHECK(v.s == NULL && v.i == 0 && !v.quiet);
}

static void test_refusals(void)
{
	static const char *const bad[] = {
		"cmd --int 0", "cmd --int 11", "cmd --int 1.5", "cmd --long -1", "cmd --double -1",
		"cmd --double inf", "cmd --positive 0", "cmd --bogus", "cmd --str", "cmd stray",
		"cmd --flag=1",
	};
	struct vals v;

	opterr = 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = run(bad[i], &v);
		if (rc != -1)
			fprintf(stderr, "not refused: %s\n", bad[i]);
		CHECK_EQ_INT(rc, -1);
	}
}

static void test_help(void)
{
	struct vals v;

	usage_calls = 0;
	CHECK_EQ_INT(run("cmd --int 2 --help --int 0", &v), 1);  /* stops at --help */
	CHECK_EQ_INT(run("cmd -h", &v), 1);
	CHECK_EQ_INT(usage_calls, 2);
	CHECK_EQ_INT(sim_opts_exit(1), 0);
	CHECK_EQ_INT(sim_opts_exit(-1), 2);
}

static int run_fleet(const char *line, struct fleet_cli *c, long max_sessions,
		     long min_scanners, bool rate_positive, long *own_val)
{
	const struct sim_opt own[] = { OPT_LONG("own", own_val, 1, 5), OPT_END };
	char *argv[32];
	int argc = split(line, argv);

	memset(c, 0, sizeof *c);
	c->max_sessions = max_sessions;
	c->min_scanners = min_scanners;
	c->rate_positive = rate_positive;
	return fleet_cli_parse(c, "test", argc, argv, usage, own);
}

static void test_fleet_shared(void)
{
	struct fleet_cli c;
	long own = 0;

	opterr = 0;
	CHECK_EQ_INT(run_fleet("load --url http://h:81 --sessions 3 --scanners 0 --rate 0 "
			       "--duration 2 --settle 4 --api-key K --seed 7 --json -q --own 5",
			       &c, 10, 0, false, &own), 0);
	CHECK_STR(c.fo.url.host, "h");
	CHECK_EQ_INT(c.fo.url.port, 81);
	CHECK(c.fo.sessions == 3 && c.fo.scanners == 0 && c.fo.rate == 0);
	CHECK(c.duration == 2 && c.settle == 4 && c.json && c.fo.quiet && own == 5);
	CHECK_STR(c.fo.api_key, "K");
	CHECK_EQ_INT(run_fleet("x", &c, 10, 0, false, &own), 0);  /* the default URL */
	CHECK_EQ_INT(c.fo.url.port, 8080);
	/* the bounds the caller set */
	CHECK_EQ_INT(run_fleet("x --sessions 11", &c, 10, 0, false, &own), -1);
	CHECK_EQ_INT(run_fleet("x --scanners 0", &c, 10, 1, false, &own), -1);
	CHECK_EQ_INT(run_fleet("x --rate 0", &c, 10, 0, true, &own), -1);
	CHECK_EQ_INT(run_fleet("x --own 6", &c, 10, 0, false, &own), -1);
	CHECK_EQ_INT(run_fleet("x --url ftp://h", &c, 10, 0, false, &own), -1);
}

TEST_MAIN(TEST(test_kinds), TEST(test_refusals), TEST(test_help), TEST(test_fleet_shared))
