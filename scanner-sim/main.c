/* SPDX-License-Identifier: MIT */
/* scanbridge-sim: plays phones and desktops against scanbridged for demos,
 * tests, load and fault injection. main() only dispatches to a command. */
#include <stdio.h>
#include <string.h>

#include "sim.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *what;
} commands[] = {
	{ "session", cmd_session, "create a session, show its pairing QR, act as a desktop" },
	{ "scanner", cmd_scanner, "pair like a phone and send codes from stdin or generated" },
	{ "load", cmd_load, "S desktops and SxM scanners: throughput, latency, loss" },
	{ "idle", cmd_idle, "open and hold N paired connections" },
	{ "chaos", cmd_chaos, "random drops and daemon kills, then verify exactly-once" },
};

static void usage(FILE *f)
{
	fputs("usage: scanbridge-sim COMMAND [options]   (COMMAND --help for its options)\n\n", f);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].what);
	fputs("\n  --version  print the version\n", f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v")) {
		printf("scanbridge-sim %s\n", SB_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			sim_rand_seed(0);
			sim_signals_install();
			return commands[i].run(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "scanbridge-sim: unknown command %s\n", argv[1]);
	usage(stderr);
	return 2;
}
