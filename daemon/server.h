/* SPDX-License-Identifier: MIT */
/* Runs the daemon until SIGTERM: state, libwebsockets context, event loop. */
#ifndef SB_SERVER_H
#define SB_SERVER_H
#include "config.h"

/* Returns the process exit status: 0 after a clean drain, 1 when start-up
 * failed (the reason is logged). cfg must outlive the call; SIGHUP updates it in
 * place from the original argv. */
int server_run(struct sb_config *cfg, int argc, char **argv);

#endif
