/* SPDX-License-Identifier: MIT */
/* The daemon's life: opens the data dir, store and secret, builds the
 * libwebsockets context (protocols, REST and static mounts, security headers),
 * starts the decode worker pool, runs the event loop with the group-commit and
 * cleanup timers, reacts to SIGTERM (drain and exit 0) and SIGHUP (reload), and
 * tears everything down. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "auth.h"
#include "batch.h"
#include "client_ip.h"
#include "clock.h"
#include "datadir.h"
#include "decode_pool.h"
#include "log.h"
#include "hostcheck.h"
#include "lws_http.h"
#include "lws_loop.h"
#include "lws_tls.h"
#include "lws_ws.h"
#include "ratelimit.h"
#include "relay.h"
#include "rest.h"
#include "sb_err.h"
#include "sdnotify.h"
#include "server.h"
#include "session.h"
#include "store.h"
#include "trust.h"
#include "upload_budget.h"

#define DB_FILE "scanbridge.db"
/* lws mallocs this per connection. Scans and acks (~110-150 bytes) arrive
 * whole; hellos (~230 bytes, a JWT) and long codes are reassembled from
 * pieces by lws_ws.c. Under callgrind the same 3,200-scan load cost the
 * daemon the same instructions at 192 as at 256 bytes (+1.2% at 128). */
#define WS_RX_BUFFER 192
/* lws caps each send() at tx_packet_size, or at the rx buffer size when that
 * is 0, buffering the rest at some cost and reporting the pipe choked: a
 * desktop's ~250-byte scan messages then went out one per WRITEABLE pass. */
#define WS_TX_PACKET 65536
/* An HTTP answer goes out in one write (lws_http.c); lws would otherwise
 * cut every send at 4 KiB and hold the rest itself. */
#define HTTP_TX_PACKET (1024 * 1024)
#define DRAIN_MS 1000

static volatile sig_atomic_t stop_requested, reload_requested;

static struct {
	struct sb_config *cfg;
	int argc;
	char **argv;
	struct lws_context *ctx;
	struct store *st;
	struct auth *auth;
	int lock_fd;            /* datadir_lock: held until teardown */
	lws_sorted_usec_list_t cleanup_sul;
	lws_sorted_usec_list_t names_sul;   /* the box's names: links, certificate */
	char web_root[PATH_MAX + 128];
} D;

/* Signals are taken by one thread with sigwait() and passed to the loop with
 * lws_cancel_service(), the one lws call that is safe from another thread. A
 * handler that only sets a flag can lose a signal that lands between the
 * loop's check and poll(): the daemon would then sleep until the next event. */
static sigset_t handled_signals;
static pthread_t signal_thread;
static bool signal_thread_running;

static void *signal_main(void *arg)
{
	int sig;

	for (;;) {
		if (sigwait(&handled_signals, &sig))
			continue;
		if (sig == SIGHUP)
			reload_requested = 1;
		else
			stop_requested = 1;
		lws_cancel_service(D.ctx);
		if (sig != SIGHUP)
			return NULL;
	}
}

/* Blocks the signals in this thread and every thread started after it (the
 * decode workers); only signal_main receives them. */
static void block_signals(void)
{
	sigemptyset(&handled_signals);
	sigaddset(&handled_signals, SIGTERM);
	sigaddset(&handled_signals, SIGINT);
	sigaddset(&handled_signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &handled_signals, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int start_signal_thread(void)
{
	if (pthread_create(&signal_thread, NULL, signal_main, NULL)) {
		log_error("cannot start the signal thread", NULL);
		return SB_EIO;
	}
	signal_thread_running = true;
	return 0;
}

/* The loop also ends without a signal (an lws error): wake the thread with
 * the signal it waits for, so it returns, before the context goes away. */
static void stop_signal_thread(void)
{
	if (!signal_thread_running)
		return;
	if (!stop_requested)
		pthread_kill(signal_thread, SIGTERM);
	pthread_join(signal_thread, NULL);
	signal_thread_running = false;
}

/* ---- timers ---- */

/* The group commit runs right after the loop pass that produced the writes
 * (run_loop calls batch_flush when lws_service returns), not from a timer:
 * a timer would cost one more poll() over every connection per batch. */
static bool flush_wanted;

static void schedule_flush(void)
{
	flush_wanted = true;
}

/* Writes that met another process's database write lock are retried from
 * this timer, never waited for on the loop (batch.h). */
static lws_sorted_usec_list_t lock_sul;

static void lock_retry_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	batch_lock_retry();
	/* lws runs timers before it polls, and the poll may sleep long: the
	 * batch the retry opened is committed now, not after the next event */
	if (flush_wanted) {
		flush_wanted = false;
		batch_flush();
	}
}

static void arm_lock_retry(int64_t ms)
{
	lws_sul_schedule(D.ctx, 0, &lock_sul, lock_retry_cb, (lws_usec_t)ms * LWS_US_PER_MS);
}

/* glibc keeps what a burst of connections freed (TLS handshakes leave ~3 KB
 * each): 46 MB stayed resident after 2,000 WSS connections closed, 12.8 MB
 * with a trim. Once per cleanup pass (a minute): cheap next to the pass. */
static void give_back_memory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* When the loop goes quiet after a burst (lws_loop.c): SQLite's page cache
 * holds every page the burst read (up to 2 MiB, ~190 B of each idle
 * connection at 10,000) and glibc the burst's freed requests (3 KiB each,
 * ~68 B per connection left). Both come back on the next busy pass, from the
 * OS's page cache. Not in the minute's cleanup: under load that would be a
 * re-read of the hot pages every minute. */
static void on_quiet(void)
{
	store_release_memory(D.st);
	give_back_memory();
}

static void cleanup_cb(lws_sorted_usec_list_t *sul)
{
	session_cleanup();
	iplimit_prune(clock_mono_ms());
	give_back_memory();
	lws_sul_schedule(D.ctx, 0, &D.cleanup_sul, cleanup_cb,
			 (lws_usec_t)D.cfg->cleanup_interval * LWS_US_PER_SEC);
}

/* A pair link must name an address phones reach: with bind 0.0.0.0 or ::
 * (and no public_url) that is the box's LAN address, which DHCP may change. */
static void refresh_public_url(void)
{
	struct box_names b;
	char addr[64];

	if (!D.cfg->public_url_derived || !config_bind_is_wildcard(D.cfg))
		return;
	box_names_read(&b);
	if (!box_names_lan_addr(&b, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "%.63s", b.hostname[0] ? b.hostname : "localhost");
	config_set_derived_host(D.cfg, addr);
}

/* make run's default (bind 127.0.0.1) and a public_url naming loopback give
 * pair links no phone can open: said once at start (the desktop page says it
 * too). A desktop opened by one of the box's LAN names still gets that name
 * in its links (rest.c). */
static void warn_if_links_local_only(void)
{
	char name[HOSTCHECK_NAME_MAX];
	const char *h = strstr(D.cfg->public_url, "://");

	if (!h)
		return;
	hostcheck_name_part(h + 3, name, sizeof(name));
	if (hostcheck_is_local_only(name))
		log_warn("pair links name an address phones cannot reach",
			 "url=%s hint=\"listen on the LAN (bind = 0.0.0.0) or set public_url\"",
			 D.cfg->public_url);
}

/* The box's names and addresses, looked at every LWS_TLS_CHECK_SECS: the
 * derived pair-link address and the TLS certificate follow them. */
static void names_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	refresh_public_url();
	lws_tls_check(D.ctx);
	lws_sul_schedule(D.ctx, 0, &D.names_sul, names_cb, LWS_TLS_CHECK_SECS * LWS_US_PER_SEC);
}

/* ---- start-up ---- */

/* Checks the data dir and locks it before anything in it is opened: a second
 * daemon must not even migrate or checkpoint the first one's database. Then
 * makes database files left open to group/other by older versions private
 * (new ones are created 0600 under the umask; SQLite gives -wal and -shm the
 * database file's mode). */
static int open_data_dir(const char *dir)
{
	static const char *const db_files[] = { DB_FILE, DB_FILE "-wal", DB_FILE "-shm" };
	int rc;

	if ((rc = datadir_check(dir)))
		return rc;
	if ((D.lock_fd = datadir_lock(dir)) < 0)
		return D.lock_fd;
	for (size_t i = 0; i < sizeof db_files / sizeof db_files[0]; i++)
		if ((rc = datadir_tighten(dir, db_files[i])))
			return rc;
	return 0;
}

static int open_state(void)
{
	char path[PATH_MAX + 32], err[256] = "";
	int rc;

	if ((rc = open_data_dir(D.cfg->data_dir)))
		return rc;
	snprintf(path, sizeof(path), "%s/%s", D.cfg->data_dir, DB_FILE);
	if ((rc = store_open(&D.st, path, D.cfg->durability, err, sizeof(err)))) {
		log_error("cannot open the database", "path=\"%s\" err=\"%s\"", path, err);
		return rc;
	}
	if ((rc = auth_open(&D.auth, D.cfg->data_dir, err, sizeof(err)))) {
		log_error("cannot use the appliance secret", "err=\"%s\"", err);
		return rc;
	}
	return 0;
}

/* web_root, or <dir of the executable>/../share/scanbridge/web. */
static void find_web_root(void)
{
	char exe[PATH_MAX], guess[PATH_MAX + 64];
	ssize_t n;

	if (D.cfg->web_root[0]) {
		snprintf(D.web_root, sizeof(D.web_root), "%s", D.cfg->web_root);
	} else if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		snprintf(guess, sizeof(guess), "%s/../share/scanbridge/web", dirname(exe));
		if (strlen(guess) >= PATH_MAX || !realpath(guess, D.web_root))
			snprintf(D.web_root, sizeof(D.web_root), "%s", guess);
	}
	if (access(D.web_root, R_OK))
		log_warn("web root not found; pages will answer 404", "dir=\"%s\"", D.web_root);
	lws_http_set_web_root(D.web_root);
}

/* ---- libwebsockets ---- */

static struct lws_protocols protocols[] = {
	{ "http", lws_http_callback, 0, 0, 0, NULL, HTTP_TX_PACKET },
	{ "scanbridge.v1", lws_ws_callback, 0, WS_RX_BUFFER, 0, NULL, WS_TX_PACKET },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static const struct lws_protocol_vhost_options mime_json = {
	NULL, NULL, ".json", "application/json" };
static const struct lws_protocol_vhost_options mime_mjs = {
	&mime_json, NULL, ".mjs", "text/javascript" };
static const struct lws_protocol_vhost_options mime_js = {
	&mime_mjs, NULL, ".js", "text/javascript" };

/* Sent with every response, pages and API alike. */
static const struct lws_protocol_vhost_options hdr_referrer = {
	NULL, NULL, "referrer-policy:", "no-referrer" };
static const struct lws_protocol_vhost_options hdr_frame = {
	&hdr_referrer, NULL, "x-frame-options:", "DENY" };
static const struct lws_protocol_vhost_options hdr_nosniff = {
	&hdr_frame, NULL, "x-content-type-options:", "nosniff" };
static const struct lws_protocol_vhost_options hdr_csp = {
	&hdr_nosniff, NULL, "content-security-policy:",
	"default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
	"media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
	"frame-ancestors 'none'" };

/* A WebSocket with no traffic for 60 s gets a protocol ping; one with nothing
 * valid (data or pong) for 150 s is hung up, so a half-open connection (a
 * phone that left the Wi-Fi) does not stay forever. Browsers answer pings. */
static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 60,
	.secs_since_valid_hangup = 150,
};

/* A certificate trusted by design (tls = files) may promise browsers HTTPS
 * for a year; the box's own CA may not: a device that has not installed it
 * yet must still reach /trust over plain HTTP. */
static const struct lws_protocol_vhost_options hdr_hsts = {
	&hdr_csp, NULL, "strict-transport-security:", "max-age=31536000" };

#define N_MOUNTS 6
static struct lws_http_mount mounts[N_MOUNTS];
static struct lws_http_mount plain_mount;

static void set_mount(struct lws_http_mount *m, struct lws_http_mount *next, const char *at,
		      const char *origin, enum lws_mount_protocols kind)
{
	memset(m, 0, sizeof(*m));
	m->mount_next = next;
	m->mountpoint = at;
	m->mountpoint_len = (unsigned char)strlen(at);
	m->origin = origin;
	m->origin_protocol = (unsigned char)kind;
	if (kind == LWSMPRO_FILE) {
		m->protocol = "http"; /* pages too get LWS_CALLBACK_ADD_HEADERS (lws_http.c) */
		m->def = "index.html";
		m->extra_mimetypes = &mime_js;
		m->cache_max_age = 0;
	}
}

static void build_mounts(void)
{
	static const char *const callbacks[] = { "/api/v1", "/healthz", "/metrics", "/p", "/trust" };
	int i;

	for (i = 0; i < N_MOUNTS - 1; i++)
		set_mount(&mounts[i], &mounts[i + 1], callbacks[i], "http", LWSMPRO_CALLBACK);
	set_mount(&mounts[i], NULL, "/", D.web_root, LWSMPRO_FILE);
	/* TLS on: the plain listener hands every path to lws_http.c, which
	 * serves /trust and /healthz and redirects the rest */
	set_mount(&plain_mount, NULL, "/", "http", LWSMPRO_CALLBACK);
}

/* What every listener shares. */
static void vhost_common(struct lws_context_creation_info *info, const char *name, int port)
{
	info->port = port;
	info->iface = D.cfg->bind;
	info->protocols = protocols;
	info->headers = &hdr_csp;
	info->vhost_name = name;
	info->retry_and_idle_policy = &idle_policy;
	info->options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND |
			LWS_SERVER_OPTION_DISABLE_IPV6 * !strchr(D.cfg->bind, ':');
}

static void context_common(struct lws_context_creation_info *info)
{
	lws_loop_fill(info, D.cfg->event_loop == SB_LOOP_AUTO);
	info->server_string = "scanbridge";
	info->timeout_secs = 10;
	/* HTTP connections carry one request (lws_http.c); the one lws keeps
	 * after a page's HEAD (input paused) is let go after a second */
	info->keepalive_timeout = 1;
	/* Held only while a request's headers are parsed, not per connection. */
	info->max_http_header_data = (unsigned short)D.cfg->max_header_bytes;
}

static int listen_failed(const char *what, int port)
{
	log_error("cannot listen (is the port in use or the address wrong?)",
		  "listener=%s bind=%s port=%d", what, D.cfg->bind, port);
	return SB_EIO;
}

/* TLS off: one plain listener serving everything, as lws's default vhost. */
static int create_plain_context(void)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	vhost_common(&info, "scanbridge", D.cfg->http_port);
	context_common(&info);
	info.mounts = mounts;
	if (!(D.ctx = lws_create_context(&info)))
		return listen_failed("http", D.cfg->http_port);
	return 0;
}

/* TLS on: HTTPS (and WSS) serving everything, and a plain listener that
 * redirects to it but for the trust onboarding (lws_http.c). */
static int create_tls_context(void)
{
	struct lws_context_creation_info info;
	struct lws_vhost *plain;

	memset(&info, 0, sizeof(info));
	context_common(&info);
	/* no OS CA store: lws would load its 144 certificates (870 KiB, 23 ms
	 * at start) for a client TLS context the daemon never uses */
	info.options |= LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
			LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	if (!(D.ctx = lws_create_context(&info))) {
		log_error("cannot create the event loop", NULL);
		return SB_EIO;
	}
	memset(&info, 0, sizeof(info));
	vhost_common(&info, "scanbridge", D.cfg->https_port);
	info.mounts = mounts;
	if (D.cfg->tls == SB_TLS_FILES)
		info.headers = &hdr_hsts;
	lws_tls_fill_vhost(&info);
	if (!lws_create_vhost(D.ctx, &info))
		return listen_failed("https", D.cfg->https_port);
	memset(&info, 0, sizeof(info));
	vhost_common(&info, "scanbridge-http", D.cfg->http_port);
	info.mounts = &plain_mount;
	if (!(plain = lws_create_vhost(D.ctx, &info)))
		return listen_failed("http", D.cfg->http_port);
	lws_http_set_plain_vhost(plain);
	return 0;
}

static int create_context(void)
{
	protocols[0].per_session_data_size = lws_http_pss_size();
	protocols[1].per_session_data_size = lws_ws_pss_size();
	build_mounts();
	return D.cfg->tls_active ? create_tls_context() : create_plain_context();
}

/* trusted_proxies must be addresses or CIDR blocks: a typo would silently
 * leave every client behind the proxy sharing one per-IP budget. */
static int check_proxies(const struct sb_config *cfg)
{
	char bad[64], q[160];

	if (!client_ip_check_list(cfg->trusted_proxies, bad, sizeof(bad)))
		return 0;
	log_error("trusted_proxies: not an address or CIDR block", "entry=%s",
		  log_quote(q, sizeof(q), bad));
	return SB_ECONFIG;
}

static void log_listening(const struct sb_config *cfg)
{
	if (cfg->tls_active)
		log_info("listening", "url=%s https_port=%d http_port=%d tls=%s data_dir=\"%s\" "
			 "web_root=\"%s\"", cfg->public_url, cfg->https_port, cfg->http_port,
			 sb_tls_mode_names[cfg->tls], cfg->data_dir, D.web_root);
	else
		log_info("listening", "url=%s http_port=%d tls=off data_dir=\"%s\" web_root=\"%s\"",
			 cfg->public_url, cfg->http_port, cfg->data_dir, D.web_root);
}

/* ---- run ---- */

static void apply_reload(void)
{
	char err[512] = "";

	reload_requested = 0;
	if (config_reload(D.cfg, D.argc, D.argv, err, sizeof(err))) {
		log_error("reload refused; keeping the running configuration", "err=\"%s\"", err);
		return;
	}
	log_set_level(D.cfg->log_level);
	store_set_durability(D.st, D.cfg->durability);
	box_names_set_hostname(D.cfg->hostname);
	names_cb(&D.names_sul); /* a new hostname: new links and certificate now */
	lws_sul_schedule(D.ctx, 0, &D.cleanup_sul, cleanup_cb,
			 (lws_usec_t)D.cfg->cleanup_interval * LWS_US_PER_SEC);
	log_info("configuration reloaded", NULL);
}

/* lws_service() sleeps in poll() until its next timer or socket event, which
 * for clients that stopped reading can be many seconds away (a CI run hung
 * 17.9 s there, past the 10 s the tests give a stop): this timer wakes the
 * drain loop so that it sees its deadline. */
#define DRAIN_TICK_MS 50
static lws_sorted_usec_list_t drain_sul;

static void drain_tick_cb(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(D.ctx, 0, sul, drain_tick_cb, DRAIN_TICK_MS * LWS_US_PER_MS);
}

static void drain(void)
{
	int64_t until = clock_mono_ms() + DRAIN_MS;

	log_info("shutting down", NULL);
	sdnotify_stopping();
	batch_flush();
	session_close_all(1001, "server shutting down");
	batch_flush();
	drain_tick_cb(&drain_sul);
	while (lws_ws_connections() && clock_mono_ms() < until) {
		lws_loop_run_once(D.ctx);
		batch_flush();
	}
	lws_sul_cancel(&drain_sul);
}

/* lws reads at most its rx buffer (WS_RX_BUFFER) from a socket per pass, so
 * under load one pass's batch was a few hundred scans, and every commit wrote
 * a WAL page per busy session and every peer got its share in one more
 * write. While a pass that does not wait finds a backlog (GATHER_MIN_NEW
 * more actions for the batch), gather up to GATHER_PASSES of them (and
 * GATHER_MS) before the commit. A trickle stops it at once: at 10,000
 * scans/s over 500 sessions a pass finds a few scans, and holding their acks
 * for more doubled the p99. It costs one epoll_wait() that returns at once.
 * Once a commit cost little (schema/005), what a commit owes every busy peer
 * (a send, two epoll_ctl) was most of what 300 connections cost more than
 * 50: at saturation a pass brings hundreds of actions, and 64 passes / 8 ms
 * took 100 x 2 from ~0.7 to ~0.9 of 10 x 4's throughput. The floor of 64
 * keeps 20,000 scans/s (100 x 2) from gathering: with 16 its p99 went from
 * 4-7 to 10 ms. */
#define GATHER_PASSES 64
#define GATHER_MS 8
#define GATHER_MIN_NEW 64

/* Actions the batch gained since it held `before` (a flush in between, from
 * the lock retry timer, started a new one). */
static unsigned batch_gained(unsigned before)
{
	unsigned now = batch_deferred();

	return now >= before ? now - before : now;
}

static int gather_batch(void)
{
	int64_t until;

	if (!flush_wanted)
		return 0;
	until = clock_mono_ms() + GATHER_MS;
	for (int i = 0; flush_wanted && i < GATHER_PASSES && clock_mono_ms() < until; i++) {
		unsigned before = batch_deferred();

		if (lws_loop_run_ready(D.ctx) < 0)
			return -1;
		if (batch_gained(before) < GATHER_MIN_NEW)
			break;
	}
	return 0;
}

static void run_loop(void)
{
	while (!stop_requested) {
		if (lws_loop_run_once(D.ctx) < 0 || gather_batch() < 0)
			break;
		decode_pool_deliver(); /* a worker's result ends the pass it waits in */
		if (flush_wanted) {
			flush_wanted = false;
			batch_flush();
		}
		batch_checkpoint();
		if (reload_requested)
			apply_reload();
	}
	drain();
}

static void teardown(void)
{
	stop_signal_thread();   /* it calls lws_cancel_service on the context */
	decode_pool_stop();     /* workers gone before the context they wake is */
	if (D.ctx)
		lws_context_destroy(D.ctx); /* owners cancel their jobs as they close */
	lws_loop_close();
	lws_tls_close();
	decode_pool_free();
	session_shutdown();
	iplimit_reset();
	store_close(D.st);
	auth_close(D.auth);
	datadir_unlock(D.lock_fd); /* last: the database is closed */
	memset(&D, 0, sizeof(D));
}

int server_run(struct sb_config *cfg, int argc, char **argv)
{
	int rc;

	D.cfg = cfg;
	D.argc = argc;
	D.argv = argv;
	D.lock_fd = -1;
	/* Everything the daemon creates (database, -wal, -shm, secret, lock
	 * file) is for its user only; SQLite creates files 0644 otherwise. */
	umask(077);
	block_signals();
	find_web_root();
	box_names_set_hostname(cfg->hostname);
	refresh_public_url();
	if ((rc = open_state()) || (rc = lws_tls_open(cfg)))
		goto out;
	trust_init(cfg, lws_tls_ca());
	if ((rc = session_init(cfg, D.st, D.auth, schedule_flush))) {
		log_error("cannot load the sessions from the database", NULL);
		goto out;
	}
	batch_set_timer(arm_lock_retry);
	relay_init(cfg, D.st);
	rest_init(cfg, D.st);
	if ((rc = check_proxies(cfg)))
		goto out;
	upload_budget_init((size_t)(cfg->max_image_bytes_buffered > cfg->max_image_bytes
				    ? cfg->max_image_bytes_buffered : cfg->max_image_bytes));
	lws_http_set_config(cfg);
	lws_ws_set_config(cfg);
	if ((rc = create_context()) || (rc = decode_pool_start(cfg, D.ctx)) ||
	    (rc = start_signal_thread()))
		goto out;
	lws_loop_started(D.ctx, on_quiet);
	lws_sul_schedule(D.ctx, 0, &D.cleanup_sul, cleanup_cb,
			 (lws_usec_t)cfg->cleanup_interval * LWS_US_PER_SEC);
	lws_sul_schedule(D.ctx, 0, &D.names_sul, names_cb, LWS_TLS_CHECK_SECS * LWS_US_PER_SEC);
	log_listening(cfg);
	warn_if_links_local_only();
	printf("desktop: %s/\n", cfg->public_url);
	fflush(stdout);
	sdnotify_ready(D.ctx, cfg->public_url); /* READY=1, watchdog pets */
	run_loop();
out:
	teardown();
	return rc ? 1 : 0;
}
