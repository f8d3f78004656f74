/* SPDX-License-Identifier: MIT */
/* scanbridged: parse flags and config, then run the server in the foreground
 * (systemd supervises it; it never daemonizes) with logs on stderr. */
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "server.h"

int main(int argc, char **argv)
{
	static struct sb_config cfg;
	enum sb_config_action action = SB_RUN;
	char err[512] = "";

	if (config_parse(&cfg, argc, argv, stdout, &action, err, sizeof(err))) {
		fprintf(stderr, "scanbridged: %s\n", err);
		return 1;
	}
	if (action == SB_EXIT_OK)
		return 0;
	if (action == SB_CHECK_ONLY) {
		printf("scanbridged: configuration ok\n");
		return 0;
	}
	log_set_level(cfg.log_level);
	log_route_lws();
	return server_run(&cfg, argc, argv);
}
