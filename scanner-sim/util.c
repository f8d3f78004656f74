/* SPDX-License-Identifier: MIT */
/* Clocks, randomness, signals, resource limits and CPU accounting for
 * scanbridge-sim (see sim.h). */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "barcode.h"
#include "grow.h"

volatile sig_atomic_t sim_stop;

static void on_signal(int sig)
{
	(void)sig;
	sim_stop = 1;
}

void sim_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

void *sim_reserve_or_stop(void *items, size_t *cap, size_t need, size_t size,
			  size_t min_cap)
{
	void *n = grow_reserve(items, cap, need, size, min_cap);

	if (!n) {
		fprintf(stderr, "scanbridge-sim: out of memory\n");
		sim_stop = 1;
	}
	return n;
}

int64_t sim_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sim_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

void sim_rand_seed(uint64_t seed)
{
	if (seed == 0)
		seed = (uint64_t)sim_now_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)sim_wall_ms();
	rng_state = seed ? seed : 1;
	for (int i = 0; i < 8; i++)
		(void)sim_rand();
}

uint64_t sim_rand(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

uint64_t sim_rand_range(uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + sim_rand() % (hi - lo + 1);
}

uint64_t sim_rand_exp(uint64_t mean)
{
	double u = ((double)(sim_rand() >> 11) + 1.0) / 9007199254740993.0; /* (0,1] */
	double v = -log(u) * (double)(mean ? mean : 1);

	return v < 1.0 ? 1 : (uint64_t)v;
}

long sim_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			fprintf(stderr, "scanbridge-sim: cannot raise the fd limit: %s\n",
				strerror(errno));
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

double sim_cpu_self(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	if (user)
		*user = tv_s(ru.ru_utime);
	if (sys)
		*sys = tv_s(ru.ru_stime);
	return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

double sim_cpu_pid(long pid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, stime = 0;
	FILE *f;
	size_t n;
	char *p;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1.0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');      /* the command name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &stime) != 2)
		return -1.0;
	return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}

long sim_maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

void sim_ean13(uint64_t n, char out[14])
{
	snprintf(out, 14, "400%09llu", (unsigned long long)(n % 1000000000ull));
	out[12] = barcode_gs1_check_digit(out, 12);
	out[13] = '\0';
}

int sim_parse_double(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || isinf(v))
		return -1;
	*out = v;
	return 0;
}

int sim_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
