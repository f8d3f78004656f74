/* SPDX-License-Identifier: MIT */
/* scanbridge-hid: USB barcode guns become scanbridge scanners. Reads flags
 * and the config file, opens the status outputs, starts the bridge (outbox,
 * relay), the device watcher (udev + evdev) and any --replay inputs, runs
 * the loop until SIGTERM, and tears down. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge.h"
#include "config.h"
#include "devices.h"
#include "fdwatch.h"
#include "replay.h"
#include "sb_err.h"

#define MAX_REPLAY 8
#define DEFAULT_CONF "/etc/scanbridge/scanbridge-hid.conf"

static struct bridge bridge;

struct replay_in {
	char name[64];
	const char *path;
	struct gun *gun;
	struct hid_replay rp;
};

struct opts {
	const char *conf;
	bool conf_given, check_only, no_devices;
	struct replay_in replay[MAX_REPLAY];
	int n_replay;
};

static void on_signal(int sig)
{
	(void)sig;
	bridge.stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: scanbridge-hid [options]\n"
		"  -c, --config FILE    config file (default " DEFAULT_CONF ", if present)\n"
		"  -u, --url URL        the daemon, http(s)://host:port (default http://127.0.0.1:8080)\n"
		"      --cafile FILE    CA to trust for an https URL (<data_dir>/tls/ca.pem)\n"
		"  -o, --outbox FILE    the outbox database\n"
		"  -l, --layout NAME    default keyboard layout of the guns (xkb: us, de, fr, ...)\n"
		"      --replay NAME=PATH  a recorded event stream (file or FIFO) as gun NAME\n"
		"      --no-devices     do not watch input devices (replay only)\n"
		"  -t, --test           check the configuration and exit\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n");
}

enum { OPT_CAFILE = 256, OPT_REPLAY, OPT_NO_DEVICES };

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "url", required_argument, NULL, 'u' },
	{ "cafile", required_argument, NULL, OPT_CAFILE },
	{ "outbox", required_argument, NULL, 'o' },
	{ "layout", required_argument, NULL, 'l' },
	{ "replay", required_argument, NULL, OPT_REPLAY },
	{ "no-devices", no_argument, NULL, OPT_NO_DEVICES },
	{ "test", no_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static int add_replay(struct opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct replay_in *r;

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof r->name || o->n_replay >= MAX_REPLAY)
		return -1;
	r = &o->replay[o->n_replay++];
	memcpy(r->name, arg, (size_t)(eq - arg));
	r->path = eq + 1;
	return 0;
}

/* Flags that override config keys are applied after the file is read. */
static int set_flag(struct hid_config *c, int opt, const char *v)
{
	size_t cap = opt == 'l' ? sizeof c->reader.layout : sizeof c->url;
	char *dst = opt == 'u' ? c->url : opt == 'o' ? c->outbox :
		    opt == 'l' ? c->reader.layout : c->cafile;

	if (strlen(v) >= cap)
		return -1;
	strcpy(dst, v);
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o, struct hid_config *cfg)
{
	char err[512];
	int opt;

	o->conf = DEFAULT_CONF;
	while ((opt = getopt_long(argc, argv, "c:u:o:l:thV", long_opts, NULL)) != -1) {
		if (opt == 'c') {
			o->conf = optarg;
			o->conf_given = true;
		} else if (opt == 'h') {
			usage(stdout);
			exit(0);
		} else if (opt == 'V') {
			printf("scanbridge-hid %s\n", SB_VERSION);
			exit(0);
		} else if (opt == 't') {
			o->check_only = true;
		} else if (opt == OPT_NO_DEVICES) {
			o->no_devices = true;
		} else if (opt == OPT_REPLAY) {
			if (add_replay(o, optarg) < 0) {
				fprintf(stderr, "scanbridge-hid: --replay NAME=PATH (at most %d)\n",
					MAX_REPLAY);
				return -1;
			}
		} else if (opt == '?') {
			usage(stderr);
			return -1;
		}
	}
	if ((o->conf_given || access(o->conf, F_OK) == 0) &&
	    hid_config_load(cfg, o->conf, err, sizeof err) < 0) {
		fprintf(stderr, "scanbridge-hid: %s\n", err);
		return -1;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:u:o:l:thV", long_opts, NULL)) != -1)
		if ((opt == 'u' || opt == 'o' || opt == 'l' || opt == OPT_CAFILE) &&
		    set_flag(cfg, opt, optarg) < 0) {
			fprintf(stderr, "scanbridge-hid: value too long: %s\n", optarg);
			return -1;
		}
	return 0;
}

/* ---- replay inputs ---------------------------------------------------------------- */

static void replay_event(void *arg, const struct input_event *ev)
{
	struct replay_in *r = arg;

	if (r->gun)
		bridge_gun_event(r->gun, ev);
}

static int replay_readable(void *arg, int fd)
{
	struct replay_in *r = arg;
	long n = hid_replay_read(&r->rp, fd, replay_event, r);

	return n > 0 || (n < 0 && errno == EAGAIN) ? 0 : -1;
}

static void replay_closed(void *arg)
{
	struct replay_in *r = arg;

	if (r->gun)
		bridge_gun_remove(r->gun);
	r->gun = NULL;
}

static const struct fdwatch_ops replay_ops = { replay_readable, replay_closed };

/* A FIFO is opened read-write so that it never reports end-of-file between
 * writers (the test harness writes to it in several goes). */
static int start_replay(struct replay_in *r, const struct hid_config *cfg)
{
	struct stat st;
	char key[80];
	int fd;

	fd = stat(r->path, &st) == 0 && S_ISFIFO(st.st_mode)
	     ? open(r->path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
	     : open(r->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "scanbridge-hid: --replay %s: %s\n", r->path, strerror(errno));
		return -1;
	}
	snprintf(key, sizeof key, "replay:%s", r->name);
	r->gun = bridge_gun_add(&bridge, key, r->name, &cfg->reader, false);
	if (!r->gun || !fdwatch_add(relay_context(bridge.relay), fd, &replay_ops, r)) {
		close(fd);
		return -1;
	}
	return 0;
}

/* ---- main ------------------------------------------------------------------------- */

static void open_status(const struct hid_config *cfg, struct status_backend *be)
{
	int rc = 0;

	memset(be, 0, sizeof *be);
	if (cfg->status == HID_STATUS_GPIOD)
		rc = status_backend_gpiod(be, cfg->gpio_chip, cfg->led_line, cfg->buzzer_line,
					  cfg->led_active_low);
	else if (cfg->status == HID_STATUS_SYSFS_LED)
		rc = status_backend_sysfs_led(be, cfg->sysfs_led, cfg->gpio_chip, cfg->buzzer_line);
	if (rc < 0) {
		fprintf(stderr, "scanbridge-hid: running without status LED/buzzer\n");
		memset(be, 0, sizeof *be);
	}
}

int main(int argc, char **argv)
{
	static struct hid_config cfg;
	static struct opts o;
	struct status_backend be;
	struct sigaction sa;
	int rc = 1;

	hid_config_default(&cfg);
	if (parse_args(argc, argv, &o, &cfg) < 0)
		return 2;
	if (o.check_only) {
		printf("scanbridge-hid: configuration OK\n");
		return 0;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(getenv("HID_LWS_LOG") ? atoi(getenv("HID_LWS_LOG")) : 0, NULL);
	open_status(&cfg, &be);
	if (bridge_init(&bridge, &cfg, &be) < 0)
		goto out;
	for (int i = 0; i < o.n_replay; i++)
		if (start_replay(&o.replay[i], &cfg) < 0)
			goto out;
	if (!o.no_devices && devices_start(&bridge) < 0)
		fprintf(stderr, "scanbridge-hid: no device watcher: only --replay inputs work\n");
	fprintf(stderr, "scanbridge-hid: ready, daemon %s, outbox %s\n", cfg.url, cfg.outbox);
	bridge_run(&bridge);
	fprintf(stderr, "scanbridge-hid: stopping\n");
	rc = 0;
out:
	devices_stop();
	bridge_free(&bridge);
	return rc;
}
