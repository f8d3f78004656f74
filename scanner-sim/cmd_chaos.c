/* SPDX-License-Identifier: MIT */
/* `scanbridge-sim chaos`: S sessions x M scanners send scans while random
 * connections are dropped (no close handshake) and, with --daemon-cmd and
 * --kill-every, the daemon itself is killed with SIGKILL and restarted. Then
 * sending stops, the fleet settles, and exactly-once is verified: every scan
 * sent was acked, every acked scan was delivered exactly once, with the seq it
 * was acked with, in order. Exit 0 only then. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleet.h"
#include "opts.h"
#include "sim.h"

static void usage(FILE *f)
{
	fputs("usage: scanbridge-sim chaos [--url URL] [--daemon-cmd 'CMD' --kill-every S] [options]\n"
	      "  --url URL            daemon base URL, http://host:port or https://host:port\n"
	      "                       (default http://127.0.0.1:8080)\n"
	      SIM_TLS_USAGE
	      "  --sessions S         sessions, one desktop each (default 2)\n"
	      "  --scanners M         scanners per session (default 2)\n"
	      "  --rate R             scans/s per scanner (default 20)\n"
	      "  --duration D         seconds of chaos (default 10)\n"
	      "  --drop-every MS      mean ms between random connection drops; 0 = none\n"
	      "                       (default 500)\n"
	      "  --daemon-cmd CMD     start the daemon with /bin/sh -c CMD (its stdout goes to\n"
	      "                       our stderr), kill -9 and restart it; SIGTERM at the end\n"
	      "  --kill-every S       seconds between daemon kills (needs --daemon-cmd)\n"
	      "  --settle S           seconds to wait for the last acks and deliveries (default 20)\n"
	      "  --api-key KEY        Bearer key for POST /sessions\n"
	      "  --seed N             random seed (default: time and pid)\n"
	      "  --json               print one JSON object\n"
	      "  -q, --quiet          no progress on stderr\n", f);
}

struct chaos {
	struct fleet_cli cli;
	double kill_every, drop_every_ms;
	const char *daemon_cmd;
	pid_t daemon;               /* process group leader of the daemon we run */
	unsigned kills, restarts;
	int daemon_exit;            /* status at the end; -1 unknown */
};

static pid_t spawn(const char *cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		setpgid(0, 0);
		dup2(2, 1);              /* keep our stdout for the report */
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid);
	return pid;
}

/* Polls /healthz every 50 ms until it answers 200 or the daemon exits. */
static int wait_healthy(struct chaos *c, double timeout_s)
{
	int64_t until = sim_now_us() + (int64_t)(timeout_s * 1e6);

	while (sim_now_us() < until && !sim_stop) {
		int st;
		if (api_healthz(&c->cli.fo.url, 1000) == 0)
			return 0;
		if (c->daemon > 0 && waitpid(c->daemon, &st, WNOHANG) == c->daemon) {
			fprintf(stderr, "scanbridge-sim chaos: the daemon exited (status %d) before "
				"it was healthy\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			c->daemon = -1;
			return -1;
		}
		usleep(50000);
	}
	fprintf(stderr, "scanbridge-sim chaos: %s/healthz not healthy within %.0f s (last: %s)\n",
		c->cli.fo.url.base, timeout_s, http_error());
	return -1;
}

static int daemon_start(struct chaos *c)
{
	c->daemon = spawn(c->daemon_cmd);
	if (c->daemon < 0) {
		fprintf(stderr, "scanbridge-sim chaos: fork: %s\n", strerror(errno));
		return -1;
	}
	return wait_healthy(c, 20);
}

static int daemon_kill_restart(struct chaos *c, struct fleet *f)
{
	if (c->daemon > 0) {
		kill(-c->daemon, SIGKILL);
		waitpid(c->daemon, NULL, 0);
	}
	c->kills++;
	if (!c->cli.fo.quiet)
		fprintf(stderr, "scanbridge-sim chaos: killed the daemon (kill %u), restarting\n",
			c->kills);
	if (daemon_start(c) < 0)
		return -1;
	c->restarts++;
	fleet_reconnect_all(f);
	return 0;
}

static void daemon_stop(struct chaos *c)
{
	int st;
	int64_t until;

	if (c->daemon <= 0)
		return;
	kill(-c->daemon, SIGTERM);
	until = sim_now_us() + 15000000;
	while (sim_now_us() < until) {
		if (waitpid(c->daemon, &st, WNOHANG) == c->daemon) {
			c->daemon_exit = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			c->daemon = -1;
			return;
		}
		usleep(20000);
	}
	kill(-c->daemon, SIGKILL);
	waitpid(c->daemon, NULL, 0);
	c->daemon_exit = 128 + SIGKILL;
	c->daemon = -1;
}

static int parse(int argc, char **argv, struct chaos *c)
{
	const struct sim_opt own[] = {
		OPT_DOUBLE("drop-every", &c->drop_every_ms),
		OPT_STR("daemon-cmd", &c->daemon_cmd),
		OPT_POSITIVE("kill-every", &c->kill_every),
		OPT_END
	};
	int rc;

	*c = (struct chaos){
		.cli = {
			.fo = { .sessions = 2, .scanners = 2, .rate = 20 },
			.duration = 10, .settle = 20, .max_sessions = 100000,
			.min_scanners = 1,      /* exactly-once needs scans to check */
			.rate_positive = true,  /* chaos sends at a rate, never window-paced */
		},
		.drop_every_ms = 500,
		.daemon_exit = -1,
	};
	rc = fleet_cli_parse(&c->cli, "chaos", argc, argv, usage, own);
	if (rc == 0 && c->kill_every > 0 && !c->daemon_cmd) {
		fprintf(stderr, "scanbridge-sim chaos: --kill-every needs --daemon-cmd\n");
		rc = -1;
	}
	return rc;
}

/* The chaos phase: drops and kills until the duration is over. */
static int rampage(struct chaos *c, struct fleet *f)
{
	int64_t now = sim_now_us(), end = now + (int64_t)(c->cli.duration * 1e6);
	int64_t next_drop = INT64_MAX, next_kill = INT64_MAX;

	if (c->drop_every_ms > 0)
		next_drop = now + (int64_t)sim_rand_exp((uint64_t)(c->drop_every_ms * 1000));
	if (c->kill_every > 0)
		next_kill = now + (int64_t)(c->kill_every * 1e6);
	fleet_sending(f, true);
	while (!sim_stop && (now = sim_now_us()) < end) {
		int64_t until = end;
		if (next_drop < until)
			until = next_drop;
		if (next_kill < until)
			until = next_kill;
		fleet_run(f, until, NULL);
		now = sim_now_us();
		if (now >= next_kill && now < end) {
			if (daemon_kill_restart(c, f) < 0)
				return -1;
			next_kill = sim_now_us() + (int64_t)(c->kill_every * 1e6);
		}
		if (now >= next_drop) {
			fleet_drop_random(f);
			next_drop = now + (int64_t)sim_rand_exp((uint64_t)(c->drop_every_ms * 1000));
		}
	}
	fleet_sending(f, false);
	return 0;
}

static void report(const struct chaos *c, struct fleet *f, const struct sim_summary *s,
		   bool exactly_once, bool settled)
{
	f->stats.reconnects = f->loop.reconnects;
	if (c->cli.json) {
		fputc('{', stdout);
		stats_print_json(stdout, &f->stats, s);
		printf(",\"command\":\"chaos\",\"exactly_once\":%s,\"settled\":%s,\"sessions\":%d,"
		       "\"scanners\":%d,\"rate\":%g,\"duration_s\":%g,\"drops\":%llu,\"kills\":%u,"
		       "\"daemon_restarts\":%u,\"daemon_exit\":%d,\"sim_cpu_s\":%.3f}\n",
		       exactly_once ? "true" : "false", settled ? "true" : "false", f->n_sess,
		       f->n_sess * c->cli.fo.scanners, c->cli.fo.rate, c->cli.duration,
		       (unsigned long long)f->loop.drops, c->kills, c->restarts, c->daemon_exit,
		       sim_cpu_self(NULL, NULL));
	} else {
		printf("chaos: %d sessions x %d scanners, %g scans/s each, %g s; %llu drops, "
		       "%u daemon kills\n", f->n_sess, c->cli.fo.scanners, c->cli.fo.rate,
		       c->cli.duration, (unsigned long long)f->loop.drops, c->kills);
		stats_print_text(stdout, &f->stats, s);
		printf("exactly-once: %s%s\n", exactly_once ? "yes" : "NO",
		       settled ? "" : " (did not settle in time)");
	}
	fflush(stdout);
}

int cmd_chaos(int argc, char **argv)
{
	struct chaos c;
	struct fleet f;
	struct sim_summary s;
	bool settled, exactly_once;
	int rc = parse(argc, argv, &c);

	if (rc)
		return sim_opts_exit(rc);
	sim_raise_nofile();
	memset(&f, 0, sizeof f);
	if (c.daemon_cmd) {
		if (api_healthz(&c.cli.fo.url, 1000) == 0) {
			fprintf(stderr, "scanbridge-sim chaos: something already answers at %s; with "
				"--daemon-cmd the simulator starts the daemon itself\n",
				c.cli.fo.url.base);
			return 2;
		}
		if (daemon_start(&c) < 0)
			goto fail;
	}
	if (fleet_setup(&f, &c.cli.fo) < 0)
		goto fail;
	f.loop.backoff_min_ms = 50;
	f.loop.backoff_max_ms = 1000;
	fleet_connect(&f);
	if (!fleet_run(&f, sim_now_us() + 30000000, fleet_all_welcomed)) {
		fprintf(stderr, "scanbridge-sim chaos: not every connection was welcomed\n");
		goto fail;
	}
	if (rampage(&c, &f) < 0)
		goto fail;
	settled = fleet_run(&f, sim_now_us() + (int64_t)(c.cli.settle * 1e6), fleet_settled);
	if (stats_summarize(&f.stats, &s) < 0)
		goto fail;
	exactly_once = settled && s.sent > 0 && s.acked == s.sent && s.delivered == s.acked &&
		       !stats_failed(&f.stats, &s) && s.rejected == 0;
	daemon_stop(&c);
	report(&c, &f, &s, exactly_once, settled);
	fleet_free(&f);
	return exactly_once ? 0 : 1;
fail:
	fleet_free(&f);
	daemon_stop(&c);
	return 2;
}
