/* SPDX-License-Identifier: MIT */
/* Configuration loading. One static table describes every option (key, type,
 * range, default, unit, help, whether SIGHUP can change it); the defaults, the
 * config file parser, the SCANBRIDGE_* environment, the long flags, --help, the
 * example config and docs/configuration.md are all driven by it. The command
 * line parser is our own (no getopt state), so config_reload can run it again. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sb_err.h"

#ifndef SB_VERSION
#define SB_VERSION "0.0.0"
#endif

#define MAX_LINE 4096          /* longest config file line, in bytes */
#define ENV_PREFIX "SCANBRIDGE_"

enum opt_type { OPT_INT, OPT_LONG, OPT_STR, OPT_DURABILITY, OPT_LOG_LEVEL, OPT_TLS, OPT_LOOP };

struct option_def {
	const char *key;        /* snake_case, as in the file and the struct */
	enum opt_type type;
	size_t offset;          /* into struct sb_config */
	size_t size;            /* sizeof the field (strings: buffer size) */
	long min, max;          /* numbers only */
	const char *def;        /* default, as text */
	const char *arg;        /* placeholder in --help */
	const char *unit;       /* NULL when none */
	bool reloadable;
	const char *help;       /* one line */
};

#define FIELD(k) offsetof(struct sb_config, k), sizeof(((struct sb_config *)0)->k)
#define O_INT(k, lo, hi, d, unit, rl, help) \
	{ #k, OPT_INT, FIELD(k), lo, hi, #d, "N", unit, rl, help }
#define O_LONG(k, lo, hi, d, unit, rl, help) \
	{ #k, OPT_LONG, FIELD(k), lo, hi, #d, "N", unit, rl, help }
#define O_STR(k, d, arg, rl, help) \
	{ #k, OPT_STR, FIELD(k), 0, 0, d, arg, NULL, rl, help }
#define O_ENUM(k, type, d, arg, rl, help) \
	{ #k, type, FIELD(k), 0, 0, d, arg, NULL, rl, help }

#define RELOAD true
#define RESTART false

static const struct option_def options[] = {
	/* network */
	O_STR(bind, "127.0.0.1", "ADDR", RESTART,
	      "address to listen on: an IPv4 or IPv6 literal, 0.0.0.0 or :: for all"),
	O_INT(http_port, 1, 65535, 8080, NULL, RESTART,
	      "plain HTTP port: the whole service when TLS is off; with TLS on, only redirects to HTTPS, /trust and /healthz (old name: port)"),
	O_INT(https_port, 1, 65535, 8443, NULL, RESTART,
	      "HTTPS and WSS port when TLS is on"),
	O_ENUM(tls, OPT_TLS, "auto", "auto|on|off|files", RESTART,
	       "HTTPS: auto = on when bind is not a loopback address; on = with the box's own CA (<data_dir>/tls); files = with tls_cert and tls_key"),
	O_STR(tls_cert, "", "FILE", RESTART,
	      "certificate chain (PEM) for tls = files"),
	O_STR(tls_key, "", "FILE", RESTART,
	      "private key (PEM) of tls_cert, for tls = files"),
	O_STR(hostname, "", "NAME", RELOAD,
	      "the box's name in its certificate, its CA and its links; empty = the system host name"),
	O_STR(public_url, "", "URL", RELOAD,
	      "base URL phones use to reach this server; empty = from bind, or the box's first LAN address when bind is 0.0.0.0 or ::, with https and https_port when TLS is on"),
	/* storage */
	O_STR(data_dir, "data", "DIR", RESTART,
	      "directory for the database and the token secret, created 0700"),
	O_ENUM(durability, OPT_DURABILITY, "normal", "normal|full", RELOAD,
	       "SQLite synchronous mode: full survives power loss, normal is faster"),
	O_STR(web_root, "", "DIR", RESTART,
	      "directory of the web pages; empty = <exe dir>/../share/scanbridge/web"),
	/* sessions */
	O_INT(session_ttl, 1, 604800, 600, "seconds", RELOAD,
	      "inactivity after which a session expires"),
	O_INT(session_max_age, 1, 31536000, 86400, "seconds", RELOAD,
	      "lifetime of a session and its tokens, however active it is"),
	O_INT(pair_code_ttl, 1, 86400, 600, "seconds", RELOAD,
	      "how long a pair code stays valid"),
	O_INT(max_pair_codes, 1, 1000, 8, "codes", RELOAD,
	      "unused pair codes a session holds; issuing one more retires the oldest"),
	O_INT(pair_codes_per_session_per_min, 1, 10000000, 20, "codes/min", RELOAD,
	      "POST /sessions/{sid}/pair-code per session per minute; more get 429"),
	O_INT(cleanup_interval, 1, 3600, 60, "seconds", RELOAD,
	      "period of the pass that expires sessions and purges scans"),
	O_INT(scan_retention, 0, 86400, 86400, "seconds", RELOAD,
	      "how long a delivered scan's content is kept before it is purged; the default, a session's maximum age, keeps the session's export (scans.csv) complete"),
	O_INT(max_scanners, 1, 1024, 16, "scanners", RELOAD,
	      "scanners that may pair with one session"),
	O_INT(max_sessions, 1, 10000000, 10000, "sessions", RELOAD,
	      "live sessions; POST /sessions answers 503 above it"),
	/* auth */
	O_STR(api_key, "", "KEY", RELOAD,
	      "Bearer key POST /sessions requires; empty = no key needed"),
	O_STR(allowed_origins, "", "ORIGINS", RELOAD,
	      "browser origins besides the appliance's own that may use the API and /ws (POS pages), space-separated, e.g. https://pos.example; * = any"),
	O_STR(allowed_hosts, "", "HOSTS", RELOAD,
	      "host names besides the box's own (public_url, hostname, hostname.local, its addresses, localhost) that requests may be sent to, space-separated; * = any"),
	O_STR(trusted_proxies, "", "ADDRS", RELOAD,
	      "reverse proxies (addresses or CIDR blocks, space-separated) whose X-Forwarded-For / Forwarded names the client for per-IP limits; empty = none"),
	/* limits */
	O_ENUM(event_loop, OPT_LOOP, "auto", "auto|poll", RESTART,
	       "auto = epoll through lws's libev plugin when installed (package libwebsockets-evlib-ev), else poll; poll = lws's poll() loop, which looks at every connection on every pass"),
	O_INT(max_connections, 1, 10000000, 12000, "connections", RESTART,
	      "open connections in total; more are closed 4013"),
	O_INT(max_connections_per_ip, 1, 10000000, 256, "connections", RESTART,
	      "open connections per client IP; more are closed 4013"),
	O_INT(max_text_frame, 1024, 16777216, 16384, "bytes", RESTART,
	      "largest WebSocket text message; larger ones are closed 1009"),
	O_INT(max_json_depth, 1, 64, 8, "levels", RESTART,
	      "deepest JSON nesting accepted; deeper messages are closed 4000"),
	O_INT(hello_timeout, 1, 300, 5, "seconds", RELOAD,
	      "time a new WebSocket has to send hello before it is closed 4001"),
	O_INT(rate_burst, 1, 1000000, 100, "messages", RELOAD,
	      "messages a connection may send at once: the token bucket size"),
	O_INT(rate_per_sec, 1, 1000000, 20, "messages/s", RELOAD,
	      "sustained message rate per connection: the token bucket refill"),
	O_INT(rate_limit_close_after, 1, 1000000, 10, "errors", RELOAD,
	      "rate_limited errors in a row after which a connection is closed 4008"),
	O_INT(sessions_per_ip_per_min, 1, 10000000, 100, "requests/min", RELOAD,
	      "POST /sessions per client IP per minute; more get 429"),
	O_INT(pair_attempts_per_ip_per_min, 1, 10000000, 30, "requests/min", RELOAD,
	      "POST /pair per client IP per minute; more get 429"),
	O_INT(send_queue_max, 1, 10000000, 1024, "messages", RELOAD,
	      "queued outgoing messages per connection; overflow closes 1008"),
	O_INT(max_header_bytes, 1024, 32768, 8192, "bytes", RESTART,
	      "largest HTTP request header section (values and URI); larger ones are closed unanswered"),
	O_INT(max_longpoll_waiters, 1, 10000000, 1024, "requests", RELOAD,
	      "GET /scans requests parked waiting at the same time"),
	O_LONG(max_image_bytes, 1, 1073741824, 8388608, "bytes", RESTART,
	       "largest image a scanner may upload for decoding"),
	O_LONG(max_image_bytes_buffered, 1, 1073741824, 33554432, "bytes", RESTART,
	       "image bytes held in memory at once across all connections (uploads, frames, decode queue; raised to max_image_bytes if smaller); more are answered busy"),
	O_LONG(max_image_megapixels, 1, 1000, 40, "megapixels", RESTART,
	       "largest image, width x height, that is decoded"),
	O_INT(max_image_side, 64, 65535, 10000, "pixels", RESTART,
	      "largest width, and largest height, of an image that is decoded"),
	/* image decoding */
	O_INT(decode_workers, 0, 256, 0, "threads", RESTART,
	      "threads that decode images; 0 = one per online CPU core"),
	O_INT(decode_queue_max, 1, 100000, 16, "images", RESTART,
	      "images waiting for a decode thread; beyond that an image is answered busy"),
	O_INT(decode_max_side, 64, 16384, 1600, "pixels", RESTART,
	      "longest side an image is downscaled to before decoding"),
	/* logging */
	O_ENUM(log_level, OPT_LOG_LEVEL, "info", "error|warn|info|debug", RELOAD,
	       "least severe level that is logged"),
};
#define N_OPTIONS (sizeof options / sizeof options[0])

/* ---- small helpers ------------------------------------------------------ */

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return SB_ECONFIG;
}

const char *const sb_tls_mode_names[] = { "auto", "on", "off", "files", NULL };
const char *const sb_event_loop_names[] = { "auto", "poll", NULL };

static const char *const *enum_names(enum opt_type t)
{
	if (t == OPT_TLS)
		return sb_tls_mode_names;
	if (t == OPT_LOOP)
		return sb_event_loop_names;
	return t == OPT_DURABILITY ? store_durability_names : log_level_names;
}

/* Old names that still work everywhere (file, environment, flag), so that
 * configurations written for an earlier version keep their meaning. */
static const struct { const char *old, *key; } aliases[] = {
	{ "port", "http_port" },
};
#define N_ALIASES (sizeof aliases / sizeof aliases[0])

static const struct option_def *find_option(const char *key)
{
	for (size_t i = 0; i < N_ALIASES; i++)
		if (!strcmp(aliases[i].old, key))
			key = aliases[i].key;
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (!strcmp(options[i].key, key))
			return &options[i];
	return NULL;
}

/* "session_ttl" -> "session-ttl" */
static void key_to_flag(char *out, size_t size, const char *key)
{
	size_t i;

	for (i = 0; key[i] && i + 1 < size; i++)
		out[i] = key[i] == '_' ? '-' : key[i];
	out[i] = '\0';
}

/* "session_ttl" -> "SCANBRIDGE_SESSION_TTL" */
static void key_to_env(char *out, size_t size, const char *key)
{
	size_t n = (size_t)snprintf(out, size, "%s", ENV_PREFIX);

	for (size_t i = 0; key[i] && n + 1 < size; i++)
		out[n++] = (char)toupper((unsigned char)key[i]);
	out[n < size ? n : size - 1] = '\0';
}

/* ---- setting one option from text --------------------------------------- */

static int parse_number(const struct option_def *o, const char *v, long *out,
			const char *where, char *err, size_t errlen)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (!*v || isspace((unsigned char)*v) || *end)
		return fail(err, errlen, "%s: '%s' is not a number", where, v);
	if (errno == ERANGE || n < o->min || n > o->max)
		return fail(err, errlen, "%s: %s is out of range (%ld..%ld)",
			    where, v, o->min, o->max);
	*out = n;
	return 0;
}

static int parse_enum(const struct option_def *o, const char *v, int *out,
		      const char *where, char *err, size_t errlen)
{
	const char *const *names = enum_names(o->type);

	for (int i = 0; names[i]; i++) {
		if (!strcmp(names[i], v)) {
			*out = i;
			return 0;
		}
	}
	return fail(err, errlen, "%s: '%s' is not one of %s", where, v, o->arg);
}

/* Sets option o of c from text v; `where` prefixes any error message. */
static int set_option(struct sb_config *c, const struct option_def *o, const char *v,
		      const char *where, char *err, size_t errlen)
{
	char *field = (char *)c + o->offset;
	long n = 0;
	int e = 0, rc = 0;

	switch (o->type) {
	case OPT_STR:
		if (strlen(v) >= o->size)
			return fail(err, errlen, "%s: value is too long (max %zu bytes)",
				    where, o->size - 1);
		memcpy(field, v, strlen(v) + 1);
		return 0;
	case OPT_INT:
		if (!(rc = parse_number(o, v, &n, where, err, errlen)))
			*(int *)(void *)field = (int)n;
		return rc;
	case OPT_LONG:
		if (!(rc = parse_number(o, v, &n, where, err, errlen)))
			*(long *)(void *)field = n;
		return rc;
	case OPT_DURABILITY:
		if (!(rc = parse_enum(o, v, &e, where, err, errlen)))
			*(enum sb_durability *)(void *)field = (enum sb_durability)e;
		return rc;
	case OPT_LOG_LEVEL:
		if (!(rc = parse_enum(o, v, &e, where, err, errlen)))
			*(enum sb_log_level *)(void *)field = (enum sb_log_level)e;
		return rc;
	case OPT_TLS:
		if (!(rc = parse_enum(o, v, &e, where, err, errlen)))
			*(enum sb_tls_mode *)(void *)field = (enum sb_tls_mode)e;
		return rc;
	case OPT_LOOP:
		if (!(rc = parse_enum(o, v, &e, where, err, errlen)))
			*(enum sb_event_loop *)(void *)field = (enum sb_event_loop)e;
		return rc;
	}
	return fail(err, errlen, "%s: internal error", where);
}

void config_defaults(struct sb_config *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (set_option(c, &options[i], options[i].def, options[i].key, NULL, 0))
			abort(); /* the table itself is wrong */
}

/* ---- config file -------------------------------------------------------- */

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* A value in double quotes: \" and \\ are escapes, # is literal. After the
 * closing quote only whitespace and a comment may follow. Unquotes in place. */
static const char *unquote(char *v)
{
	char *r = v + 1, *w = v;

	for (; *r && *r != '"'; r++) {
		if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
			r++;
		*w++ = *r;
	}
	if (*r != '"')
		return "missing closing quote";
	r = trim(r + 1);
	*w = '\0';
	if (*r && *r != '#')
		return "unexpected text after closing quote";
	return NULL;
}

/* An unquoted value ends at a '#' that starts it or follows whitespace. */
static void strip_comment(char *v)
{
	for (char *p = v; *p; p++) {
		if (*p == '#' && (p == v || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	}
}

static int parse_line(struct sb_config *c, char *line, const char *where,
		      char *err, size_t errlen)
{
	char *s = trim(line), *eq, *key, *val;
	const struct option_def *o;
	const char *why;
	char prefix[PATH_MAX + 128];

	if (!*s || *s == '#')
		return 0;
	if (!(eq = strchr(s, '=')))
		return fail(err, errlen, "%s: expected 'key = value'", where);
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (!*key)
		return fail(err, errlen, "%s: expected 'key = value'", where);
	if (!(o = find_option(key)))
		return fail(err, errlen, "%s: unknown key '%s'", where, key);
	snprintf(prefix, sizeof prefix, "%s: %s", where, key);
	if (*val == '"') {
		if ((why = unquote(val)))
			return fail(err, errlen, "%s: %s", prefix, why);
	} else {
		strip_comment(val);
		val = trim(val);
	}
	return set_option(c, o, val, prefix, err, errlen);
}

static int load_file(struct sb_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = NULL;
	char *line = NULL, where[PATH_MAX + 32];
	size_t cap = 0;
	ssize_t len;
	int rc = 0, lineno = 0;

	if (!(f = fopen(path, "r")))
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	while (!rc && (len = getline(&line, &cap, f)) >= 0) {
		snprintf(where, sizeof where, "%s:%d", path, ++lineno);
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len > MAX_LINE)
			rc = fail(err, errlen, "%s: line longer than %d bytes", where, MAX_LINE);
		else
			rc = parse_line(c, line, where, err, errlen);
	}
	if (!rc && ferror(f))
		rc = fail(err, errlen, "%s: %s", path, strerror(errno));
	free(line);
	fclose(f);
	return rc;
}

/* ---- environment -------------------------------------------------------- */

static int load_env(struct sb_config *c, char *err, size_t errlen)
{
	char name[128];
	const char *v;
	int rc;

	for (size_t i = 0; i < N_ALIASES; i++) {   /* the new name, below, wins */
		key_to_env(name, sizeof name, aliases[i].old);
		if ((v = getenv(name)) &&
		    (rc = set_option(c, find_option(aliases[i].key), v, name, err, errlen)))
			return rc;
	}
	for (size_t i = 0; i < N_OPTIONS; i++) {
		key_to_env(name, sizeof name, options[i].key);
		if ((v = getenv(name)) && (rc = set_option(c, &options[i], v, name, err, errlen)))
			return rc;
	}
	return 0;
}

/* ---- command line ------------------------------------------------------- */

struct cli {
	const char *config_file;        /* -c / --config, or NULL */
	enum sb_config_action action;
	bool help, version;
};

/* "--name[=value]": copies "--name" into name and points *eq_value at the
 * text after '=' (NULL without one). */
static void split_long(const char *arg, char *name, size_t namelen, const char **eq_value)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);

	snprintf(name, namelen, "%.*s", (int)n, arg);
	*eq_value = eq ? eq + 1 : NULL;
}

/* The option a long flag sets: "--session-ttl" -> session_ttl. */
static const struct option_def *flag_option(const char *name)
{
	char key[64];
	size_t i;

	for (i = 0; name[i + 2] && name[i + 2] != '_' && i + 1 < sizeof key; i++)
		key[i] = name[i + 2] == '-' ? '_' : name[i + 2];
	key[i] = '\0';
	return name[i + 2] ? NULL : find_option(key);  /* "--session_ttl": no */
}

static int short_flag(int argc, char **argv, int *i, struct cli *cli,
		      char *err, size_t errlen)
{
	const char *a = argv[*i];

	if (a[1] == 'c') {
		if (a[2])
			cli->config_file = a + 2;
		else if (*i + 1 < argc)
			cli->config_file = argv[++*i];
		else
			return fail(err, errlen, "-c: missing value");
		return 0;
	}
	if (a[1] && !a[2] && strchr("thv", a[1])) {
		cli->action = a[1] == 't' ? SB_CHECK_ONLY : cli->action;
		cli->help |= a[1] == 'h';
		cli->version |= a[1] == 'v';
		return 0;
	}
	return fail(err, errlen, "%s: unknown option", a);
}

/* A long flag; with c set, an option flag is applied to it. */
static int long_flag(int argc, char **argv, int *i, struct cli *cli, struct sb_config *c,
		     char *err, size_t errlen)
{
	char name[80];
	const char *val;
	const struct option_def *o = NULL;
	bool is_config;

	split_long(argv[*i], name, sizeof name, &val);
	if (!strcmp(name, "--help") || !strcmp(name, "--version")) {
		if (val)
			return fail(err, errlen, "%s: takes no value", name);
		cli->help |= name[2] == 'h';
		cli->version |= name[2] == 'v';
		return 0;
	}
	is_config = !strcmp(name, "--config");
	if (!is_config && !(o = flag_option(name)))
		return fail(err, errlen, "%s: unknown option", name);
	if (!val && *i + 1 >= argc)
		return fail(err, errlen, "%s: missing value", name);
	if (!val)
		val = argv[++*i];
	if (is_config)
		cli->config_file = val;
	return c && o ? set_option(c, o, val, name, err, errlen) : 0;
}

/* Walks argv. With c == NULL only -c/-t/-h/-v are recorded and the syntax is
 * checked; with c set the option flags are applied to it. Stops at the first
 * --help or --version. */
static int scan_argv(int argc, char **argv, struct cli *cli, struct sb_config *c,
		     char *err, size_t errlen)
{
	int rc = 0;

	for (int i = 1; !rc && i < argc && !cli->help && !cli->version; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || !a[1])
			rc = fail(err, errlen, "unexpected argument '%s'", a);
		else if (a[1] != '-')
			rc = short_flag(argc, argv, &i, cli, err, errlen);
		else
			rc = long_flag(argc, argv, &i, cli, c, err, errlen);
	}
	return rc;
}

/* ---- putting it together ------------------------------------------------ */

static int load_config_file(struct sb_config *c, const char *path, char *err, size_t errlen)
{
	if (!path) {
		if (access(SB_DEFAULT_CONFIG_FILE, F_OK))
			return 0;
		path = SB_DEFAULT_CONFIG_FILE;
	}
	if (strlen(path) >= sizeof c->config_file)
		return fail(err, errlen, "%s: path too long", path);
	snprintf(c->config_file, sizeof c->config_file, "%s", path);
	return load_file(c, path, err, errlen);
}

/* Every source in order of precedence, without config_finish. `out` gets
 * --help / --version; NULL prints nothing. */
static int parse_sources(struct sb_config *c, int argc, char **argv, FILE *out,
			 enum sb_config_action *action, char *err, size_t errlen)
{
	struct cli cli = { NULL, SB_RUN, false, false };
	int rc;

	config_defaults(c);
	if ((rc = scan_argv(argc, argv, &cli, NULL, err, errlen)))
		return rc;
	*action = cli.action;
	if (cli.help || cli.version) {
		if (out && cli.help)
			config_print_help(out, argc > 0 ? argv[0] : NULL);
		else if (out)
			fprintf(out, "scanbridged %s\n", SB_VERSION);
		*action = SB_EXIT_OK;
		return 0;
	}
	if ((rc = load_config_file(c, cli.config_file, err, errlen)) ||
	    (rc = load_env(c, err, errlen)))
		return rc;
	cli = (struct cli){ NULL, SB_RUN, false, false };
	return scan_argv(argc, argv, &cli, c, err, errlen);
}

int config_parse(struct sb_config *c, int argc, char **argv, FILE *out,
		 enum sb_config_action *action, char *err, size_t errlen)
{
	int rc;

	if (err && errlen)
		err[0] = '\0';
	rc = parse_sources(c, argc, argv, out ? out : stdout, action, err, errlen);
	if (rc || *action == SB_EXIT_OK)
		return rc;
	return config_finish(c, err, errlen);
}

/* Whether bind is a loopback address (or localhost): such a daemon is only
 * reached from the box itself, a secure context for browsers without TLS. */
static bool bind_is_loopback(const char *bind)
{
	return !strncmp(bind, "127.", 4) || !strcmp(bind, "::1") || !strcmp(bind, "localhost");
}

bool config_bind_is_wildcard(const struct sb_config *c)
{
	return !strcmp(c->bind, "0.0.0.0") || !strcmp(c->bind, "::");
}

/* tls = auto|on|off|files -> whether the daemon serves HTTPS. */
static int resolve_tls(struct sb_config *c, char *err, size_t errlen)
{
	if (c->tls == SB_TLS_FILES && (!c->tls_cert[0] || !c->tls_key[0]))
		return fail(err, errlen, "tls = files needs both tls_cert and tls_key");
	if (c->tls != SB_TLS_FILES && (c->tls_cert[0] || c->tls_key[0]))
		return fail(err, errlen, "tls_cert and tls_key are used only with tls = files");
	c->tls_active = c->tls == SB_TLS_ON || c->tls == SB_TLS_FILES ||
			(c->tls == SB_TLS_AUTO && !bind_is_loopback(c->bind));
	if (c->tls_active && c->http_port == c->https_port)
		return fail(err, errlen, "http_port and https_port must differ when TLS is on");
	return 0;
}

/* The base URL of pair links when public_url is not set: the bind address
 * and the port phones use. A wildcard bind names no address a phone can
 * reach: the server puts the box's first LAN address in (config_set_derived_host). */
static int derive_public_url(struct sb_config *c, const char *host, char *err, size_t errlen)
{
	int len = snprintf(c->public_url, sizeof c->public_url,
			   strchr(host, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
			   c->tls_active ? "https" : "http", host,
			   c->tls_active ? c->https_port : c->http_port);

	c->public_url_derived = true;
	if (len < 0 || (size_t)len >= sizeof c->public_url)
		return fail(err, errlen, "public_url: derived from bind is too long");
	return 0;
}

int config_set_derived_host(struct sb_config *c, const char *host)
{
	char err[64];

	if (!c->public_url_derived)
		return 0;
	return derive_public_url(c, host, err, sizeof err);
}

int config_finish(struct sb_config *c, char *err, size_t errlen)
{
	char *url = c->public_url;
	size_t n;
	int rc;

	if (!c->bind[0])
		return fail(err, errlen, "bind: must not be empty");
	if (!c->data_dir[0])
		return fail(err, errlen, "data_dir: must not be empty");
	if ((rc = resolve_tls(c, err, errlen)))
		return rc;
	c->public_url_derived = false;
	if (!url[0] && (rc = derive_public_url(c, c->bind, err, errlen)))
		return rc;
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return fail(err, errlen, "public_url: '%s' must start with http:// or https://", url);
	if (!url[url[4] == 's' ? 8 : 7])
		return fail(err, errlen, "public_url: '%s' has no host", url);
	return 0;
}

/* ---- reload ------------------------------------------------------------- */

static bool option_differs(const struct option_def *o, const struct sb_config *a,
			   const struct sb_config *b)
{
	const char *fa = (const char *)a + o->offset, *fb = (const char *)b + o->offset;

	if (o->type == OPT_STR)
		return strncmp(fa, fb, o->size) != 0;
	return memcmp(fa, fb, o->size) != 0;
}

/* Puts cur's restart-only values into tmp, so it holds exactly what the
 * running daemon will use, and marks in `ignored` the ones that differed. */
static void keep_restart_only(const struct sb_config *cur, struct sb_config *tmp,
			      bool ignored[N_OPTIONS])
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_def *o = &options[i];

		ignored[i] = !o->reloadable && option_differs(o, cur, tmp);
		if (!o->reloadable)
			memcpy((char *)tmp + o->offset, (const char *)cur + o->offset, o->size);
	}
}

/* Names, never values (api_key is a secret), of what a reload changes. */
static void log_reload(const struct sb_config *cur, const struct sb_config *next,
		       const bool ignored[N_OPTIONS])
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_def *o = &options[i];

		if (ignored[i])
			log_warn("config option change ignored",
				 "key=%s reason=\"needs a restart\"", o->key);
		else if (o->reloadable && option_differs(o, cur, next))
			log_info("config option changed", "key=%s", o->key);
	}
}

int config_reload(struct sb_config *c, int argc, char **argv, char *err, size_t errlen)
{
	struct sb_config *tmp = NULL;
	enum sb_config_action action;
	bool ignored[N_OPTIONS];
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!(tmp = malloc(sizeof *tmp)))
		return fail(err, errlen, "out of memory");
	rc = parse_sources(tmp, argc, argv, NULL, &action, err, errlen);
	if (!rc && action != SB_EXIT_OK) {
		keep_restart_only(c, tmp, ignored);
		if (!(rc = config_finish(tmp, err, errlen))) {
			log_reload(c, tmp, ignored);
			memcpy(c, tmp, sizeof *c);
		}
	}
	explicit_bzero(tmp, sizeof *tmp); /* api_key */
	free(tmp);
	return rc;
}

/* ---- writers ------------------------------------------------------------ */

static void option_flag(char *out, size_t size, const struct option_def *o)
{
	char flag[64];

	key_to_flag(flag, sizeof flag, o->key);
	snprintf(out, size, "--%s %s", flag, o->arg);
}

/* "(seconds, 1..604800; reloadable)" and the like. */
static void option_notes(char *out, size_t size, const struct option_def *o, bool reload)
{
	int n = 0;

	if (o->type == OPT_INT || o->type == OPT_LONG)
		n = snprintf(out, size, "%s%s%ld..%ld", o->unit ? o->unit : "",
			     o->unit ? ", " : "", o->min, o->max);
	else if (o->type != OPT_STR)
		n = snprintf(out, size, "%s", o->arg);
	else
		n = snprintf(out, size, "text, at most %zu bytes", o->size - 1);
	if (reload && n >= 0 && (size_t)n < size)
		snprintf(out + n, size - (size_t)n, "; %s",
			 o->reloadable ? "reloadable" : "needs a restart");
}

void config_print_help(FILE *out, const char *argv0)
{
	char flag[96];
	int width = 0;

	for (size_t i = 0; i < N_OPTIONS; i++) {
		option_flag(flag, sizeof flag, &options[i]);
		width = (int)strlen(flag) > width ? (int)strlen(flag) : width;
	}
	fprintf(out, "usage: %s [-t] [-c FILE] [--OPTION VALUE | --OPTION=VALUE]...\n\n",
		argv0 ? argv0 : "scanbridged");
	fprintf(out, "  %-*s  %s\n", width, "-c, --config FILE",
		"read FILE (default " SB_DEFAULT_CONFIG_FILE " if it exists)");
	fprintf(out, "  %-*s  %s\n", width, "-t", "check the configuration and exit");
	fprintf(out, "  %-*s  %s\n", width, "-h, --help", "print this help and exit");
	fprintf(out, "  %-*s  %s\n", width, "-v, --version", "print the version and exit");
	fprintf(out, "\nOptions (also 'key = value' in the file and " ENV_PREFIX
		"<KEY> in the environment;\nflags beat the environment, which beats the file):\n");
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_def *o = &options[i];

		option_flag(flag, sizeof flag, o);
		fprintf(out, "  %-*s  %s (default %s%s%s%s%s)\n", width, flag, o->help,
			o->def[0] ? "" : "\"", o->def, o->def[0] ? "" : "\"",
			o->unit ? " " : "", o->unit ? o->unit : "");
	}
	fputs("\nOld names, still accepted as key, variable and flag:\n", out);
	for (size_t i = 0; i < N_ALIASES; i++) {
		char old[64], key[64];

		key_to_flag(old, sizeof old, aliases[i].old);
		key_to_flag(key, sizeof key, aliases[i].key);
		fprintf(out, "  --%s = --%s\n", old, key);
	}
}

void config_print_example(FILE *out)
{
	char notes[128];

	fputs("# scanbridged configuration: one 'key = value' per line.\n"
	      "# Generated by config_print_example() from the option table in daemon/config.c.\n"
	      "# Every option is shown commented out at its default. Values may be\n"
	      "# double-quoted (then '#' is literal). Environment variables SCANBRIDGE_<KEY>\n"
	      "# override this file, and --key-name flags override both.\n"
	      "# 'reloadable' options take effect on SIGHUP; the others need a restart.\n", out);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_def *o = &options[i];

		option_notes(notes, sizeof notes, o, true);
		fprintf(out, "\n# %s (%s)\n# %s = %s%s%s\n", o->help, notes, o->key,
			o->def[0] ? "" : "\"", o->def, o->def[0] ? "" : "\"");
	}
}

/* Markdown table cells: '|' must be escaped, even inside code spans; '<' and
 * '>' in text would read as HTML. */
static void md_cell(FILE *out, const char *s, bool code)
{
	fputs(code ? "| `" : "| ", out);
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (!code && (*s == '<' || *s == '>'))
			fputs(*s == '<' ? "&lt;" : "&gt;", out);
		else
			fputc(*s, out);
	}
	fputs(code ? "` " : " ", out);
}

static void md_row(FILE *out, const struct option_def *o)
{
	char flag[96], env[128], notes[128], desc[384];

	option_flag(flag, sizeof flag, o);
	key_to_env(env, sizeof env, o->key);
	option_notes(notes, sizeof notes, o, false);
	snprintf(desc, sizeof desc, "%s (%s)", o->help, notes);
	md_cell(out, o->key, true);
	md_cell(out, flag, true);
	md_cell(out, env, true);
	md_cell(out, o->def[0] ? o->def : "\"\"", true);
	md_cell(out, o->reloadable ? "yes" : "no", false);
	md_cell(out, desc, false);
	fputs("|\n", out);
}

void config_print_markdown(FILE *out)
{
	fputs("# Configuration\n\n"
	      "<!-- Generated by config_print_markdown() from the option table in\n"
	      "     daemon/config.c; do not edit. Regenerate with\n"
	      "     SB_REGENERATE=1 build/bin/test_config -->\n\n"
	      "Every option has a key and can be set in four places; later ones win:\n\n"
	      "1. the default embedded in the binary;\n"
	      "2. the config file, `-c FILE` or `--config FILE` (without it\n"
	      "   `" SB_DEFAULT_CONFIG_FILE "` is read if it exists): one\n"
	      "   `key = value` per line, `#` starts a comment (at the start of a line or\n"
	      "   after whitespace), values may be double-quoted so `#` is literal;\n"
	      "3. the environment, `" ENV_PREFIX "<KEY>` with the key upper-cased, e.g.\n"
	      "   `SCANBRIDGE_SESSION_TTL=300`;\n"
	      "4. a command-line flag, the key with `-` for `_`: `--session-ttl 300` or\n"
	      "   `--session-ttl=300`.\n\n"
	      "Other flags: `-t` checks the configuration and exits (0, or 1 with\n"
	      "`file:line: message`), `-h`/`--help`, `-v`/`--version`.\n\n"
	      "On SIGHUP the daemon reads all sources again. Options marked reloadable take\n"
	      "effect at once; changes to the others are logged and ignored until a restart.\n"
	      "An invalid configuration leaves the running one unchanged.\n"
	      "See `etc/scanbridge.conf.example` for a file listing every option.\n\n"
	      "| key | flag | environment | default | reloadable | description |\n"
	      "|---|---|---|---|---|---|\n", out);
	for (size_t i = 0; i < N_OPTIONS; i++)
		md_row(out, &options[i]);
}

/* ---- manual pages -------------------------------------------------------- */

/* roff text: a backslash is \e, a line must not start with '.' or '\'' (a
 * request), and in `code` '-' is \- so flags copy and paste as ASCII minus. */
static void man_text(FILE *out, const char *s, bool code)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (code && *s == '-')
			fputs("\\-", out);
		else
			fputc(*s, out);
	}
}

/* One option as a tagged paragraph: the flag (section 8) or the key
 * (section 5), then its help, range and default. */
static void man_option(FILE *out, const struct option_def *o, int section)
{
	char tag[96], notes[128], env[128];

	if (section == 8)
		option_flag(tag, sizeof tag, o);
	else
		snprintf(tag, sizeof tag, "%s = %s", o->key, o->arg);
	option_notes(notes, sizeof notes, o, true);
	key_to_env(env, sizeof env, o->key);
	fputs(".TP\n.B ", out);
	man_text(out, tag, true);
	fputc('\n', out);
	man_text(out, o->help, false);
	fputs(" (", out);
	man_text(out, notes, false);
	fputs(").\nDefault: ", out);
	man_text(out, o->def[0] ? o->def : "\"\"", true);
	fputs(section == 8 ? "; file key \\fB" : "; environment \\fB", out);
	man_text(out, section == 8 ? o->key : env, true);
	fputs("\\fR.\n", out);
}

static void man_aliases(FILE *out)
{
	fputs(".SS Old names\nStill accepted as key, variable and flag:\n", out);
	for (size_t i = 0; i < N_ALIASES; i++) {
		fputs(".TP\n.B ", out);
		man_text(out, aliases[i].old, true);
		fputs("\nthe old name of\n.BR ", out);
		man_text(out, aliases[i].key, true);
		fputs(" .\n", out);
	}
}

static void man_header(FILE *out, int section)
{
	fputs(".\\\" Generated by config_print_man() from the option table in\n"
	      ".\\\" daemon/config.c; do not edit. Regenerate with\n"
	      ".\\\" SB_REGENERATE=1 build/bin/test_config\n", out);
	if (section == 8)
		fputs(".TH SCANBRIDGED 8 \"\" \"scanbridge\" \"System Administration\"\n"
		      ".SH NAME\nscanbridged \\- phones as barcode scanners for a POS page\n"
		      ".SH SYNOPSIS\n.B scanbridged\n[\\fB\\-t\\fR] [\\fB\\-c\\fR \\fIFILE\\fR]"
		      " [\\fB\\-\\-\\fIoption\\fR \\fIvalue\\fR]...\n"
		      ".SH DESCRIPTION\n"
		      ".B scanbridged\nserves the desktop (POS) page and the phone scanner page of\n"
		      "a store's LAN, pairs phones with desktops and relays scans between them,\n"
		      "keeping every acknowledged scan in SQLite. It runs in the foreground,\n"
		      "logs to standard error (the journal under systemd) and tells systemd\n"
		      "when it is ready (Type=notify), with watchdog pets from its event loop.\n"
		      ".PP\nEvery option below can also be set in the configuration file,\n"
		      "see\n.BR scanbridge.conf (5),\nand in the environment. Flags win.\n"
		      ".SH OPTIONS\n"
		      ".TP\n.BI \\-c \" FILE\\fR, \" \\-\\-config \" FILE\"\n"
		      "read FILE (default " SB_DEFAULT_CONFIG_FILE " if it exists).\n"
		      ".TP\n.B \\-t\ncheck the configuration and exit.\n"
		      ".TP\n.BR \\-h \", \" \\-\\-help\nprint the help and exit.\n"
		      ".TP\n.BR \\-v \", \" \\-\\-version\nprint the version and exit.\n", out);
	else
		fputs(".TH SCANBRIDGE.CONF 5 \"\" \"scanbridge\" \"File Formats\"\n"
		      ".SH NAME\nscanbridge.conf \\- configuration of scanbridged\n"
		      ".SH DESCRIPTION\n.B " SB_DEFAULT_CONFIG_FILE "\nis read by\n"
		      ".BR scanbridged (8)\nat start and again on SIGHUP. One\n"
		      ".I key\n=\n.I value\nper line; '#' starts a comment at the start of a\n"
		      "line or after whitespace; a value may be double-quoted, then '#' is\n"
		      "literal. The environment (SCANBRIDGE_\\fIKEY\\fR) overrides the file\n"
		      "and flags override both. Options marked reloadable take effect on\n"
		      "SIGHUP (systemctl reload); the others need a restart.\n"
		      ".SH OPTIONS\n", out);
}

static void man_footer(FILE *out, int section)
{
	if (section == 8)
		fputs(".SH SIGNALS\n.TP\n.B SIGTERM, SIGINT\ndrain: commit what is in flight,"
		      " close every WebSocket (1001) and exit 0.\n"
		      ".TP\n.B SIGHUP\nreload the configuration; an invalid one is refused and"
		      " the running one kept.\n"
		      ".SH EXIT STATUS\n0 after SIGTERM, \\-\\-help, \\-\\-version or a good \\-t;"
		      " 1 when it cannot start (the reason is logged);\n"
		      "2 for an invalid configuration or flag.\n", out);
	fputs(".SH FILES\n.TP\n.I " SB_DEFAULT_CONFIG_FILE "\nthe configuration file.\n"
	      ".TP\n.I /var/lib/scanbridge\nthe data directory of the packaged service"
	      " (database, secret, tls/).\n"
	      ".SH SEE ALSO\n", out);
	fputs(section == 8 ? ".BR scanbridge.conf (5),\n" : ".BR scanbridged (8),\n", out);
	fputs(".BR systemctl (1),\n.BR journalctl (1)\n", out);
}

void config_print_man(FILE *out, int section)
{
	man_header(out, section);
	for (size_t i = 0; i < N_OPTIONS; i++)
		man_option(out, &options[i], section);
	man_aliases(out);
	man_footer(out, section);
}
