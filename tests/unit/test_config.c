/* SPDX-License-Identifier: MIT */
/* Unit tests of the configuration module: defaults, the file syntax, the
 * precedence of file < environment < flags, every error message form, range
 * checks, reload, and the generated etc/scanbridge.conf.example and
 * docs/configuration.md (SB_REGENERATE=1 rewrites those two instead). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "sb_err.h"

extern char **environ;

struct run {
	struct sb_config c;
	enum sb_config_action action;
	char err[512];
	int rc;
};

static struct run R;

/* Removes every SCANBRIDGE_* variable so the tests see only their own. */
static void clear_env(void)
{
	char name[256];

	for (int i = 0; environ[i];) {
		const char *eq = strchr(environ[i], '=');

		if (!strncmp(environ[i], "SCANBRIDGE_", 11) && eq &&
		    (size_t)(eq - environ[i]) < sizeof name) {
			snprintf(name, sizeof name, "%.*s", (int)(eq - environ[i]), environ[i]);
			unsetenv(name);
			i = 0;
			continue;
		}
		i++;
	}
}

/* Runs config_parse on "scanbridged" + args (NULL-terminated) into R. */
static int parse_args(const char *const *args, FILE *out)
{
	char *argv[32] = { "scanbridged" };
	int argc = 1;

	while (args[argc - 1] && argc < 31) {
		argv[argc] = (char *)args[argc - 1];
		argc++;
	}
	memset(&R, 0, sizeof R);
	R.rc = config_parse(&R.c, argc, argv, out, &R.action, R.err, sizeof R.err);
	return R.rc;
}

#define PARSE(...) parse_args((const char *const[]){ __VA_ARGS__, NULL }, NULL)

static char tmp_path[64];

/* Writes text to a fresh temporary file; returns its path (valid until the next call). */
static const char *write_tmp(const char *text)
{
	int fd;

	if (tmp_path[0])
		unlink(tmp_path);
	snprintf(tmp_path, sizeof tmp_path, "/tmp/sb-test-config-XXXXXX");
	fd = mkstemp(tmp_path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return tmp_path;
}

/* Parses a config file holding `text` (no env, no flags) and expects error `want`
 * after the "FILE:" prefix. */
static void check_file_error(const char *text, const char *want)
{
	char expect[600];
	const char *path = write_tmp(text);

	clear_env();
	CHECK_EQ_INT(PARSE("-c", path), SB_ECONFIG);
	snprintf(expect, sizeof expect, "%s:%s", path, want);
	CHECK_STR(R.err, expect);
}

static void check_flag_error(const char *flag, const char *value, const char *want)
{
	clear_env();
	CHECK_EQ_INT(PARSE("-c", "/dev/null", flag, value), SB_ECONFIG);
	CHECK_STR(R.err, want);
}

/* ---- stderr capture, for the log lines of config_reload ------------------ */

static int saved_stderr = -1;
static FILE *capture_file;

static void capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	saved_stderr = dup(STDERR_FILENO);
	dup2(fileno(capture_file), STDERR_FILENO);
}

static char *capture_end(void)
{
	static char buf[8192];
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(capture_file);
	n = fread(buf, 1, sizeof buf - 1, capture_file);
	buf[n] = '\0';
	fclose(capture_file);
	return buf;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_defaults(void)
{
	struct sb_config *c = &R.c;

	clear_env();
	CHECK_EQ_INT(PARSE("-c", "/dev/null"), 0);
	CHECK_EQ_INT(R.action, SB_RUN);
	CHECK_STR(c->bind, "127.0.0.1");
	CHECK_EQ_INT(c->http_port, 8080);
	CHECK_STR(c->public_url, "http://127.0.0.1:8080");
	CHECK_STR(c->data_dir, "data");
	CHECK_EQ_INT(c->durability, SB_DURABILITY_NORMAL);
	CHECK_STR(c->web_root, "");
	CHECK_EQ_INT(c->session_ttl, 600);
	CHECK_EQ_INT(c->session_max_age, 86400);
	CHECK_EQ_INT(c->pair_code_ttl, 600);
	CHECK_EQ_INT(c->cleanup_interval, 60);
	CHECK_EQ_INT(c->scan_retention, 86400);
	CHECK_EQ_INT(c->max_scanners, 16);
	CHECK_EQ_INT(c->max_sessions, 10000);
	CHECK_STR(c->api_key, "");
	CHECK_EQ_INT(c->max_connections, 12000);
	CHECK_EQ_INT(c->max_connections_per_ip, 256);
	CHECK_EQ_INT(c->max_text_frame, 16384);
	CHECK_EQ_INT(c->max_json_depth, 8);
	CHECK_EQ_INT(c->hello_timeout, 5);
	CHECK_EQ_INT(c->rate_burst, 100);
	CHECK_EQ_INT(c->rate_per_sec, 20);
	CHECK_EQ_INT(c->rate_limit_close_after, 10);
	CHECK_EQ_INT(c->sessions_per_ip_per_min, 100);
	CHECK_EQ_INT(c->pair_attempts_per_ip_per_min, 30);
	CHECK_EQ_INT(c->send_queue_max, 1024);
	CHECK_EQ_INT(c->max_longpoll_waiters, 1024);
	CHECK_EQ_INT(c->max_image_bytes, 8388608L);
	CHECK_EQ_INT(c->max_image_megapixels, 40L);
	CHECK_EQ_INT(c->log_level, SB_LOG_INFO);
	CHECK_STR(c->config_file, "/dev/null");
}

static void test_defaults_raw(void)
{
	struct sb_config c;

	config_defaults(&c);
	CHECK_STR(c.public_url, "");
	CHECK_EQ_INT(c.http_port, 8080);
	CHECK_STR(c.config_file, "");
	CHECK_STR(store_durability_name(SB_DURABILITY_FULL), "full");
	CHECK_STR(log_level_name(SB_LOG_WARN), "warn");
}

/* Without -c the default file is read only if it exists. */
static void test_default_file(void)
{
	clear_env();
	if (access(SB_DEFAULT_CONFIG_FILE, F_OK) == 0)
		return; /* a real installation: nothing to assert here */
	CHECK_EQ_INT(parse_args((const char *const[]){ NULL }, NULL), 0);
	CHECK_STR(R.c.config_file, "");
	CHECK_EQ_INT(R.c.http_port, 8080);
}

static void test_file_syntax(void)
{
	const char *path = write_tmp(
		"# a comment\n"
		"\n"
		"   \t\n"
		"  # indented comment\n"
		"port=9001\n"
		"  bind   =   0.0.0.0   \n"
		"session_ttl = 30 # trailing comment\n"
		"api_key = \"a # b\"   # comment after quotes\n"
		"data_dir = /var/lib/sb#1\n"
		"web_root = \"  spaced \\\"q\\\" \\\\ \"\n"
		"durability = full\r\n"
		"log_level = debug\n"
		"public_url = #nothing\n"
		"max_image_bytes = 1024");   /* no final newline */

	clear_env();
	CHECK_EQ_INT(PARSE("-c", path), 0);
	CHECK_STR(R.err, "");
	CHECK_EQ_INT(R.c.http_port, 9001);
	CHECK_STR(R.c.bind, "0.0.0.0");
	CHECK_EQ_INT(R.c.session_ttl, 30);
	CHECK_STR(R.c.api_key, "a # b");
	CHECK_STR(R.c.data_dir, "/var/lib/sb#1");
	CHECK_STR(R.c.web_root, "  spaced \"q\" \\ ");
	CHECK_EQ_INT(R.c.durability, SB_DURABILITY_FULL);
	CHECK_EQ_INT(R.c.log_level, SB_LOG_DEBUG);
	CHECK_STR(R.c.public_url, "https://0.0.0.0:8443"); /* tls = auto: on beyond loopback */
	CHECK(R.c.tls_active);
	CHECK_EQ_INT(R.c.max_image_bytes, 1024);
	CHECK_STR(R.c.config_file, path);
}

static void test_file_errors(void)
{
	char line[5000];

	check_file_error("port = 1\nfoo = 2\n", "2: unknown key 'foo'");
	check_file_error("\n\njust words\n", "3: expected 'key = value'");
	check_file_error(" = 5\n", "1: expected 'key = value'");
	check_file_error("port = abc\n", "1: port: 'abc' is not a number");
	check_file_error("port = 80x\n", "1: port: '80x' is not a number");
	check_file_error("port =\n", "1: port: '' is not a number");
	check_file_error("port = 70000\n", "1: port: 70000 is out of range (1..65535)");
	check_file_error("durability = fast\n", "1: durability: 'fast' is not one of normal|full");
	check_file_error("log_level = INFO\n",
			 "1: log_level: 'INFO' is not one of error|warn|info|debug");
	check_file_error("api_key = \"abc\n", "1: api_key: missing closing quote");
	check_file_error("api_key = \"abc\" def\n", "1: api_key: unexpected text after closing quote");
	memset(line, 'x', sizeof line);
	memcpy(line, "bind = ", 7);
	line[7 + 128] = '\0';
	check_file_error(line, "1: bind: value is too long (max 127 bytes)");

	clear_env();
	CHECK_EQ_INT(PARSE("-c", "/nonexistent/scanbridge.conf"), SB_ECONFIG);
	CHECK_STR(R.err, "/nonexistent/scanbridge.conf: No such file or directory");
}

static void test_line_length(void)
{
	char text[4200];

	memset(text, 'x', sizeof text);
	text[0] = '#';
	text[4096] = '\n';
	text[4097] = '\0';
	clear_env();
	CHECK_EQ_INT(PARSE("-c", write_tmp(text)), 0);           /* exactly 4096 bytes */
	text[4096] = 'x';
	text[4097] = '\n';
	text[4098] = '\0';
	check_file_error(text, "1: line longer than 4096 bytes");
}

static void test_precedence(void)
{
	const char *path = write_tmp("session_ttl = 100\nport = 9000\nbind = ::1\n");

	clear_env();
	CHECK_EQ_INT(PARSE("-c", path), 0);
	CHECK_EQ_INT(R.c.session_ttl, 100);
	CHECK_STR(R.c.public_url, "http://[::1]:9000");

	setenv("SCANBRIDGE_SESSION_TTL", "200", 1);
	setenv("SCANBRIDGE_PAIR_ATTEMPTS_PER_IP_PER_MIN", "7", 1);
	CHECK_EQ_INT(PARSE("-c", path), 0);
	CHECK_EQ_INT(R.c.session_ttl, 200);                      /* env beats file */
	CHECK_EQ_INT(R.c.pair_attempts_per_ip_per_min, 7);
	CHECK_EQ_INT(R.c.http_port, 9000);

	CHECK_EQ_INT(PARSE("--session-ttl", "300", "-c", path), 0);
	CHECK_EQ_INT(R.c.session_ttl, 300);                      /* flag beats env */
	CHECK_EQ_INT(PARSE("--session-ttl=400", "--port=1234", "--config", path), 0);
	CHECK_EQ_INT(R.c.session_ttl, 400);
	CHECK_EQ_INT(R.c.http_port, 1234);
	CHECK_EQ_INT(PARSE("--config=/dev/null", "--session-ttl", "5", "--session-ttl", "6"), 0);
	CHECK_EQ_INT(R.c.session_ttl, 6);                        /* last flag wins */
	CHECK_EQ_INT(R.c.http_port, 8080);
	CHECK_STR(R.c.config_file, "/dev/null");
	CHECK_EQ_INT(PARSE("-c/dev/null", "--log-level", "warn", "--api-key=k=v"), 0);
	CHECK_EQ_INT(R.c.log_level, SB_LOG_WARN);
	CHECK_STR(R.c.api_key, "k=v");
	clear_env();
}

static void test_env_errors(void)
{
	clear_env();
	setenv("SCANBRIDGE_PORT", "abc", 1);
	CHECK_EQ_INT(PARSE("-c", "/dev/null"), SB_ECONFIG);
	CHECK_STR(R.err, "SCANBRIDGE_PORT: 'abc' is not a number");
	clear_env();
	setenv("SCANBRIDGE_LOG_LEVEL", "loud", 1);
	CHECK_EQ_INT(PARSE("-c", "/dev/null"), SB_ECONFIG);
	CHECK_STR(R.err, "SCANBRIDGE_LOG_LEVEL: 'loud' is not one of error|warn|info|debug");
	clear_env();
	setenv("SCANBRIDGE_MAX_SCANNERS", "0", 1);
	CHECK_EQ_INT(PARSE("-c", "/dev/null"), SB_ECONFIG);
	CHECK_STR(R.err, "SCANBRIDGE_MAX_SCANNERS: 0 is out of range (1..1024)");
	clear_env();
	setenv("SCANBRIDGE_NOT_AN_OPTION", "x", 1);              /* ignored */
	CHECK_EQ_INT(PARSE("-c", "/dev/null"), 0);
	clear_env();
}

static void test_flag_errors(void)
{
	check_flag_error("--port", "70000", "--port: 70000 is out of range (1..65535)");
	check_flag_error("--port", "abc", "--port: 'abc' is not a number");
	check_flag_error("--port=", NULL, "--port: '' is not a number");
	check_flag_error("--durability", "fast", "--durability: 'fast' is not one of normal|full");
	check_flag_error("--no-such-option", "1", "--no-such-option: unknown option");
	check_flag_error("--session_ttl", "1", "--session_ttl: unknown option");
	check_flag_error("--bind", NULL, "--bind: missing value");
	check_flag_error("-x", NULL, "-x: unknown option");
	check_flag_error("-tv", NULL, "-tv: unknown option");
	check_flag_error("stray", NULL, "unexpected argument 'stray'");
	check_flag_error("--help=yes", NULL, "--help: takes no value");
	check_flag_error("--", NULL, "--: unknown option");
	clear_env();
	CHECK_EQ_INT(PARSE("-c"), SB_ECONFIG);
	CHECK_STR(R.err, "-c: missing value");
	CHECK_EQ_INT(PARSE("--config"), SB_ECONFIG);
	CHECK_STR(R.err, "--config: missing value");
	/* an unknown flag is reported even when the config file is missing */
	CHECK_EQ_INT(PARSE("-c", "/nonexistent", "--bogus=1"), SB_ECONFIG);
	CHECK_STR(R.err, "--bogus: unknown option");
}

static void test_ranges(void)
{
	static const struct { const char *flag, *value; int ok; } cases[] = {
		{ "--port", "0", 0 }, { "--port", "1", 1 }, { "--port", "65535", 1 },
		{ "--port", "-1", 0 }, { "--port", "99999999999999999999999", 0 },
		{ "--port", " 80", 0 }, { "--port", "+80", 1 },
		{ "--session-ttl", "604800", 1 }, { "--session-ttl", "604801", 0 },
		{ "--session-ttl", "0", 0 },
		{ "--cleanup-interval", "3600", 1 }, { "--cleanup-interval", "3601", 0 },
		{ "--scan-retention", "0", 1 }, { "--scan-retention", "86401", 0 },
		{ "--max-image-bytes", "1073741824", 1 }, { "--max-image-bytes", "1073741825", 0 },
		{ "--max-json-depth", "0", 0 }, { "--max-text-frame", "1023", 0 },
	};

	clear_env();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = PARSE("-c", "/dev/null", cases[i].flag, cases[i].value);

		if ((rc == 0) != cases[i].ok)
			fprintf(stderr, "range case %s %s: rc %d (%s)\n", cases[i].flag,
				cases[i].value, rc, R.err);
		CHECK((rc == 0) == cases[i].ok);
	}
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--port", "99999999999999999999999"), SB_ECONFIG);
	CHECK_STR(R.err, "--port: 99999999999999999999999 is out of range (1..65535)");
}

static void test_finish(void)
{
	struct sb_config c;
	char err[256];

	config_defaults(&c);
	snprintf(c.public_url, sizeof c.public_url, "https://scan.example.com//");
	CHECK_EQ_INT(config_finish(&c, err, sizeof err), 0);
	CHECK_STR(c.public_url, "https://scan.example.com");

	snprintf(c.public_url, sizeof c.public_url, "ftp://x");
	CHECK_EQ_INT(config_finish(&c, err, sizeof err), SB_ECONFIG);
	CHECK_STR(err, "public_url: 'ftp://x' must start with http:// or https://");
	snprintf(c.public_url, sizeof c.public_url, "https:///");
	CHECK_EQ_INT(config_finish(&c, err, sizeof err), SB_ECONFIG);

	config_defaults(&c);
	snprintf(c.bind, sizeof c.bind, "::");
	c.http_port = 81;
	c.tls = SB_TLS_OFF;
	CHECK_EQ_INT(config_finish(&c, err, sizeof err), 0);
	CHECK_STR(c.public_url, "http://[::]:81");

	clear_env();
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--public-url", "scanner.local"), SB_ECONFIG);
	CHECK_STR(R.err, "public_url: 'scanner.local' must start with http:// or https://");
}

static void test_actions(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	clear_env();
	CHECK_EQ_INT(PARSE("-t", "-c", "/dev/null"), 0);
	CHECK_EQ_INT(R.action, SB_CHECK_ONLY);

	out = open_memstream(&buf, &len);
	CHECK_EQ_INT(parse_args((const char *const[]){ "--version", NULL }, out), 0);
	fclose(out);
	CHECK_EQ_INT(R.action, SB_EXIT_OK);
	CHECK_STR(buf, "scanbridged " SB_VERSION "\n");
	free(buf);

	/* --help wins over a missing config file: the file is not read */
	out = open_memstream(&buf, &len);
	CHECK_EQ_INT(parse_args((const char *const[]){ "-c", "/nonexistent", "-h", NULL }, out), 0);
	fclose(out);
	CHECK_EQ_INT(R.action, SB_EXIT_OK);
	CHECK(!strncmp(buf, "usage: scanbridged [-t] [-c FILE]", 33));
	CHECK(strstr(buf, "\n  -t ") != NULL);
	CHECK(strstr(buf, "--session-ttl N") != NULL);
	CHECK(strstr(buf, "inactivity after which a session expires (default 600 seconds)\n") != NULL);
	CHECK(strstr(buf, "--log-level error|warn|info|debug") != NULL);
	CHECK(strstr(buf, "--public-url URL") != NULL);
	free(buf);

	out = open_memstream(&buf, &len);
	CHECK_EQ_INT(parse_args((const char *const[]){ "-v", NULL }, out), 0);
	fclose(out);
	CHECK_STR(buf, "scanbridged " SB_VERSION "\n");
	free(buf);
}

static void test_reload(void)
{
	char *argv[] = { "scanbridged", "-c", NULL, NULL };
	char path[64], err[512], *log;
	struct sb_config c, before;

	clear_env();
	snprintf(path, sizeof path, "%s", write_tmp("session_ttl = 100\nport = 9000\n"));
	argv[2] = path;
	CHECK_EQ_INT(parse_args((const char *const[]){ "-c", path, NULL }, NULL), 0);
	c = R.c;
	CHECK_STR(c.public_url, "http://127.0.0.1:9000");

	/* rewrite the same path: reloadable keys change, port does not */
	unlink(path);
	snprintf(tmp_path, sizeof tmp_path, "%s", path);
	FILE *f = fopen(path, "w");
	fputs("session_ttl = 200\nport = 9001\nlog_level = debug\napi_key = secret\n"
	      "max_connections = 5\n", f);
	fclose(f);
	setenv("SCANBRIDGE_RATE_BURST", "7", 1);
	capture_begin();
	CHECK_EQ_INT(config_reload(&c, 3, argv, err, sizeof err), 0);
	log = capture_end();
	CHECK_EQ_INT(c.session_ttl, 200);
	CHECK_EQ_INT(c.log_level, SB_LOG_DEBUG);
	CHECK_STR(c.api_key, "secret");
	CHECK_EQ_INT(c.rate_burst, 7);
	CHECK_EQ_INT(c.http_port, 9000);
	CHECK_EQ_INT(c.max_connections, 12000);
	CHECK_STR(c.public_url, "http://127.0.0.1:9000");   /* derived from the running port */
	CHECK(strstr(log, "level=warn msg=\"config option change ignored\" key=http_port ") != NULL);
	CHECK(strstr(log, "key=max_connections ") != NULL);
	CHECK(strstr(log, "level=info msg=\"config option changed\" key=session_ttl\n") != NULL);
	CHECK(strstr(log, "secret") == NULL);
	clear_env();

	/* a broken file leaves the running configuration alone */
	f = fopen(path, "w");
	fputs("session_ttl = 300\nbogus = 1\n", f);
	fclose(f);
	before = c;
	CHECK_EQ_INT(config_reload(&c, 3, argv, err, sizeof err), SB_ECONFIG);
	CHECK(!memcmp(&before, &c, sizeof c));
	CHECK(strstr(err, ":2: unknown key 'bogus'") != NULL);

	/* so does one that fails the final checks */
	f = fopen(path, "w");
	fputs("session_ttl = 300\npublic_url = ftp://x\n", f);
	fclose(f);
	CHECK_EQ_INT(config_reload(&c, 3, argv, err, sizeof err), SB_ECONFIG);
	CHECK(!memcmp(&before, &c, sizeof c));
	CHECK_STR(err, "public_url: 'ftp://x' must start with http:// or https://");

	/* an explicit public_url is reloadable */
	f = fopen(path, "w");
	fputs("public_url = https://pos.example/\n", f);
	fclose(f);
	capture_begin();
	CHECK_EQ_INT(config_reload(&c, 3, argv, err, sizeof err), 0);
	log = capture_end();
	CHECK_STR(c.public_url, "https://pos.example");
	CHECK(strstr(log, "key=public_url\n") != NULL);
	unlink(path);
	tmp_path[0] = '\0';
}

/* ---- generated files ------------------------------------------------------ */

/* The repository root, from this file's (absolute, under CMake) path. */
static void repo_path(char *out, size_t size, const char *rel)
{
	static const char self[] = "tests/unit/test_config.c";
	const char *file = __FILE__;
	size_t n = strlen(file);

	if (n >= sizeof self - 1 && !strcmp(file + n - (sizeof self - 1), self))
		n -= sizeof self - 1;
	else
		n = 0;
	snprintf(out, size, "%.*s%s%s", (int)n, file, n ? "" : "../../", rel);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;
	FILE *m;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &cap);
	for (int ch; (ch = fgetc(f)) != EOF;)
		fputc(ch, m);
	fclose(m);
	fclose(f);
	*len = cap;
	return buf;
}

static void check_generated(const char *rel, void (*render)(FILE *))
{
	char path[4096], *want = NULL, *have = NULL;
	size_t want_len = 0, have_len = 0;
	const char *regen = getenv("SB_REGENERATE");
	FILE *out;

	repo_path(path, sizeof path, rel);
	out = open_memstream(&have, &have_len);
	render(out);
	fclose(out);
	if (regen && !strcmp(regen, "1")) {
		out = fopen(path, "wb");
		CHECK(out != NULL);
		if (out) {
			fwrite(have, 1, have_len, out);
			fclose(out);
		}
	}
	want = read_all(path, &want_len);
	if (!want || want_len != have_len || memcmp(want, have, have_len))
		fprintf(stderr, "%s is out of date: run SB_REGENERATE=1 test_config\n", path);
	CHECK(want != NULL && want_len == have_len && !memcmp(want, have, have_len));
	free(want);
	free(have);
}

static void test_generated_example(void)
{
	check_generated("etc/scanbridge.conf.example", config_print_example);
}

static void test_generated_markdown(void)
{
	check_generated("docs/configuration.md", config_print_markdown);
}

/* Every option is listed in the example at its documented default, and the
 * example, uncommented, parses back to the defaults. */
static void test_example_contents(void)
{
	static const char *const lines[] = {
		"# bind = 127.0.0.1\n", "# http_port = 8080\n", "# public_url = \"\"\n",
		"# data_dir = data\n", "# durability = normal\n", "# web_root = \"\"\n",
		"# session_ttl = 600\n", "# session_max_age = 86400\n",
		"# pair_code_ttl = 600\n", "# cleanup_interval = 60\n",
		"# scan_retention = 86400\n", "# max_scanners = 16\n", "# max_sessions = 10000\n",
		"# api_key = \"\"\n", "# max_connections = 12000\n",
		"# max_connections_per_ip = 256\n", "# max_text_frame = 16384\n",
		"# max_json_depth = 8\n", "# hello_timeout = 5\n", "# rate_burst = 100\n",
		"# rate_per_sec = 20\n", "# rate_limit_close_after = 10\n",
		"# sessions_per_ip_per_min = 100\n", "# pair_attempts_per_ip_per_min = 30\n",
		"# send_queue_max = 1024\n", "# max_longpoll_waiters = 1024\n",
		"# max_image_bytes = 8388608\n", "# max_image_megapixels = 40\n",
		"# log_level = info\n",
	};
	char *buf = NULL, *p;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct sb_config defaults;

	config_print_example(out);
	fclose(out);
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		if (!strstr(buf, lines[i]))
			fprintf(stderr, "missing in example: %s", lines[i]);
		CHECK(strstr(buf, lines[i]) != NULL);
	}
	CHECK(strstr(buf, "# inactivity after which a session expires (seconds, 1..604800; "
		      "reloadable)\n# session_ttl = 600\n") != NULL);
	CHECK(strstr(buf, "(1..65535; needs a restart)\n# http_port = 8080\n") != NULL);
	/* uncomment the option lines: "# key = v" -> "  key = v" */
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		if ((p = strstr(buf, lines[i])))
			p[0] = ' ', p[1] = ' ';
	clear_env();
	CHECK_EQ_INT(PARSE("-c", write_tmp(buf)), 0);
	config_defaults(&defaults);
	config_finish(&defaults, NULL, 0);
	snprintf(defaults.config_file, sizeof defaults.config_file, "%s", tmp_path);
	CHECK(!memcmp(&defaults, &R.c, sizeof defaults));
	free(buf);
	unlink(tmp_path);
	tmp_path[0] = '\0';
}

static void test_markdown_contents(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	config_print_markdown(out);
	fclose(out);
	CHECK(!strncmp(buf, "# Configuration\n", 16));
	CHECK(strstr(buf, "| key | flag | environment | default | reloadable | description |\n"));
	CHECK(strstr(buf, "| `session_ttl` | `--session-ttl N` | `SCANBRIDGE_SESSION_TTL` | `600` "
		      "| yes | inactivity after which a session expires (seconds, 1..604800) |\n"));
	CHECK(strstr(buf, "| `durability` | `--durability normal\\|full` | "));
	CHECK(strstr(buf, "| `http_port` | `--http-port N` | `SCANBRIDGE_HTTP_PORT` | `8080` | no |"));
	free(buf);
}

/* `port` is the old name of http_port, in every source; the new name wins. */
static void test_port_alias(void)
{
	clear_env();
	setenv("SCANBRIDGE_PORT", "9100", 1);
	CHECK_EQ_INT(PARSE("-c", "/dev/null"), 0);
	CHECK_EQ_INT(R.c.http_port, 9100);
	setenv("SCANBRIDGE_HTTP_PORT", "9200", 1);
	CHECK_EQ_INT(PARSE("-c", "/dev/null"), 0);
	CHECK_EQ_INT(R.c.http_port, 9200);
	clear_env();
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--http-port", "9300"), 0);
	CHECK_EQ_INT(R.c.http_port, 9300);
	CHECK_EQ_INT(PARSE("-c", write_tmp("http_port = 9400\n")), 0);
	CHECK_EQ_INT(R.c.http_port, 9400);
	unlink(tmp_path);
}

/* tls = auto is on exactly when the daemon listens beyond loopback; the
 * derived pair-link base then says https and the HTTPS port. */
static void test_tls_modes(void)
{
	clear_env();
	CHECK_EQ_INT(PARSE("-c", "/dev/null"), 0);
	CHECK(!R.c.tls_active);
	CHECK_STR(R.c.public_url, "http://127.0.0.1:8080");
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--bind", "::1"), 0);
	CHECK(!R.c.tls_active);
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--bind", "192.168.1.20"), 0);
	CHECK(R.c.tls_active);
	CHECK_STR(R.c.public_url, "https://192.168.1.20:8443");
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--bind", "0.0.0.0", "--tls", "off"), 0);
	CHECK(!R.c.tls_active);
	CHECK(R.c.public_url_derived);
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--tls", "on", "--https-port", "9443"), 0);
	CHECK(R.c.tls_active);
	CHECK_STR(R.c.public_url, "https://127.0.0.1:9443");
	CHECK_EQ_INT(config_set_derived_host(&R.c, "10.0.0.7"), 0);
	CHECK_STR(R.c.public_url, "https://10.0.0.7:9443");
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--tls", "files"), SB_ECONFIG);
	CHECK_STR(R.err, "tls = files needs both tls_cert and tls_key");
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--tls", "on", "--tls-cert", "/x"), SB_ECONFIG);
	CHECK_STR(R.err, "tls_cert and tls_key are used only with tls = files");
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--tls", "on", "--http-port", "8443"), SB_ECONFIG);
	CHECK_STR(R.err, "http_port and https_port must differ when TLS is on");
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--tls", "maybe"), SB_ECONFIG);
	CHECK_EQ_INT(PARSE("-c", "/dev/null", "--tls", "files", "--tls-cert", "/c",
			   "--tls-key", "/k", "--public-url", "https://pos.example"), 0);
	CHECK(R.c.tls_active && !R.c.public_url_derived);
	CHECK_EQ_INT(config_set_derived_host(&R.c, "10.0.0.7"), 0);
	CHECK_STR(R.c.public_url, "https://pos.example");        /* configured: kept */
}

static void print_man8(FILE *out)
{
	config_print_man(out, 8);
}

static void print_man5(FILE *out)
{
	config_print_man(out, 5);
}

/* The manual pages (man/) are generated like the example and the markdown,
 * name every option, and keep roff requests out of the option text. */
static void test_generated_man(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	check_generated("man/scanbridged.8", print_man8);
	check_generated("man/scanbridge.conf.5", print_man5);
	config_print_man(out, 8);
	fclose(out);
	CHECK(!strncmp(buf, ".\\\" Generated", 12));
	CHECK(strstr(buf, ".TH SCANBRIDGED 8 "));
	CHECK(strstr(buf, ".TP\n.B \\-\\-session\\-ttl N\n"));
	CHECK(strstr(buf, "Default: 600; file key \\fBsession_ttl\\fR.\n"));
	free(buf);
	buf = NULL;
	out = open_memstream(&buf, &len);
	config_print_man(out, 5);
	fclose(out);
	CHECK(strstr(buf, ".TH SCANBRIDGE.CONF 5 "));
	CHECK(strstr(buf, ".TP\n.B durability = normal|full\n"));
	CHECK(strstr(buf, "environment \\fBSCANBRIDGE_DURABILITY\\fR"));
	free(buf);
}

TEST_MAIN(TEST(test_defaults), TEST(test_defaults_raw), TEST(test_default_file),
	  TEST(test_file_syntax),
	  TEST(test_file_errors), TEST(test_line_length), TEST(test_precedence),
	  TEST(test_env_errors), TEST(test_flag_errors), TEST(test_ranges),
	  TEST(test_finish), TEST(test_actions), TEST(test_reload),
	  TEST(test_generated_example), TEST(test_generated_markdown),
	  TEST(test_example_contents), TEST(test_markdown_contents), TEST(test_port_alias), TEST(test_tls_modes),
	  TEST(test_generated_man))
