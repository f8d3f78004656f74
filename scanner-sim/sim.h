/* SPDX-License-Identifier: MIT */
/* Small helpers every scanbridge-sim command uses: clocks, a seeded random
 * generator (jitter, drops, generated codes), the stop flag set by SIGINT /
 * SIGTERM, the fd limit, CPU accounting, and the command entry points. */
#ifndef SIM_H
#define SIM_H
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Set by SIGINT/SIGTERM (sim_signals_install); the loops poll it. */
extern volatile sig_atomic_t sim_stop;

void sim_signals_install(void);

/* grow_reserve (proto/grow.h), and when memory runs out says so and stops the
 * run (sim_stop): the new array, or NULL. */
void *sim_reserve_or_stop(void *items, size_t *cap, size_t need, size_t size,
			  size_t min_cap);

/* Monotonic time in microseconds; wall-clock time in ms since the epoch. */
int64_t sim_now_us(void);
int64_t sim_wall_ms(void);

/* xorshift64* generator; sim_rand_seed(0) seeds from time and pid. */
void sim_rand_seed(uint64_t seed);
uint64_t sim_rand(void);
/* Uniform in [lo, hi] (hi >= lo). */
uint64_t sim_rand_range(uint64_t lo, uint64_t hi);
/* Exponentially distributed with the given mean (>= 1), for random intervals. */
uint64_t sim_rand_exp(uint64_t mean);

/* Raises RLIMIT_NOFILE's soft limit to its hard limit. Returns the new soft limit. */
long sim_raise_nofile(void);

/* CPU seconds (user + system) this process used so far. */
double sim_cpu_self(double *user, double *sys);
/* CPU seconds (user + system) of another process from /proc/PID/stat, or -1. */
double sim_cpu_pid(long pid);
/* Peak RSS of this process in KiB. */
long sim_maxrss_kb(void);

/* An EAN-13 with a valid check digit whose payload ends with the digits of n. */
void sim_ean13(uint64_t n, char out[14]);

/* Parses a positive number (integer or decimal) into *out; 0 or -1. */
int sim_parse_double(const char *s, double *out);
int sim_parse_long(const char *s, long min, long max, long *out);

/* Commands: argc/argv start at the command name. Return the exit status. */
int cmd_session(int argc, char **argv);
int cmd_scanner(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_idle(int argc, char **argv);
int cmd_chaos(int argc, char **argv);

#endif
