/* SPDX-License-Identifier: MIT */
/* Configuration: one table of options, each settable from the config file
 * (`key = value`), the environment (SCANBRIDGE_KEY) and a long flag (--key-name),
 * in that order of increasing precedence. The table also generates --help, the
 * example config and docs/configuration.md, so they cannot drift from the code. */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "log.h"   /* enum sb_log_level */
#include "store.h" /* enum sb_durability */

#define SB_DEFAULT_CONFIG_FILE "/etc/scanbridge/scanbridge.conf"


enum sb_tls_mode { SB_TLS_AUTO, SB_TLS_ON, SB_TLS_OFF, SB_TLS_FILES };
extern const char *const sb_tls_mode_names[];
enum sb_event_loop { SB_LOOP_AUTO, SB_LOOP_POLL };
extern const char *const sb_event_loop_names[];

struct sb_config {
	/* network */
	char bind[128];                 /* bind = 127.0.0.1 */
	int http_port;                  /* http_port = 8080 (alias: port) */
	int https_port;                 /* https_port = 8443 */
	enum sb_tls_mode tls;           /* tls = auto|on|off|files */
	char tls_cert[PATH_MAX];        /* tls = files: certificate chain */
	char tls_key[PATH_MAX];         /* tls = files: its private key */
	char hostname[256];             /* "" = gethostname() */
	char public_url[256];           /* public_url = "" -> derived (config_finish) */
	/* storage */
	char data_dir[PATH_MAX];        /* data_dir = data */
	enum sb_durability durability;  /* durability = normal|full */
	char web_root[PATH_MAX];        /* web_root = "" -> <exe>/../share/scanbridge/web */
	/* sessions (seconds) */
	int session_ttl;                /* 600 */
	int session_max_age;            /* 86400 */
	int pair_code_ttl;              /* 600 */
	int max_pair_codes;             /* 8 unused codes per session */
	int pair_codes_per_session_per_min; /* 20 */
	int cleanup_interval;           /* 60 */
	int scan_retention;             /* 86400: a session's life, for its export */
	int max_scanners;               /* 16 per session */
	int max_sessions;               /* 10000 */
	/* auth */
	char api_key[256];              /* "" = POST /sessions needs no key */
	char allowed_origins[1024];     /* "" = same origin only; space-separated; "*" any */
	char allowed_hosts[1024];       /* "" = the box's own names only; "*" any Host */
	char trusted_proxies[1024];     /* "" = none: per-IP limits key on the TCP peer */
	/* limits */
	enum sb_event_loop event_loop;  /* event_loop = auto|poll */
	int max_connections;            /* 12000 */
	int max_connections_per_ip;     /* 256 */
	int max_text_frame;             /* 16384 bytes */
	int max_json_depth;             /* 8 */
	int hello_timeout;              /* 5 s */
	int rate_burst;                 /* 100 messages */
	int rate_per_sec;               /* 20 messages/s */
	int rate_limit_close_after;     /* 10 consecutive rate_limited errors -> 4008 */
	int sessions_per_ip_per_min;    /* 100 */
	int pair_attempts_per_ip_per_min; /* 30 */
	int send_queue_max;             /* 1024 messages per connection */
	int max_header_bytes;           /* 8192: lws's header buffer per request */
	int max_longpoll_waiters;       /* 1024 */
	long max_image_bytes;           /* 8388608 */
	long max_image_bytes_buffered;  /* 33554432: all images in memory at once */
	long max_image_megapixels;      /* 40 */
	int max_image_side;             /* 10000 px, width and height each */
	/* image decoding */
	int decode_workers;             /* 0 = one per online core */
	int decode_queue_max;           /* 16 images waiting for a worker */
	int decode_max_side;            /* 1600 px: larger images are downscaled */
	/* logging */
	enum sb_log_level log_level;    /* info */
	/* worked out by config_finish (not options) */
	bool tls_active;                /* HTTPS served: tls on/files, or auto off loopback */
	bool public_url_derived;        /* public_url was not set: made from bind */
	/* where the file came from (not an option) */
	char config_file[PATH_MAX];
};

/* What main should do after config_parse. */
enum sb_config_action { SB_RUN, SB_CHECK_ONLY /* -t */, SB_EXIT_OK /* --help, --version printed */ };

/* Fills every option with its embedded default. */
void config_defaults(struct sb_config *c);

/* Builds the configuration: defaults, then the config file (-c/--config FILE;
 * without it SB_DEFAULT_CONFIG_FILE if it exists), then SCANBRIDGE_* environment
 * variables, then long flags. Prints --help / --version to `out` itself.
 * Returns 0 and sets *action, or SB_ECONFIG with a one-line message in err naming
 * file:line, the variable or the flag. argv is not modified. */
int config_parse(struct sb_config *c, int argc, char **argv, FILE *out,
		 enum sb_config_action *action, char *err, size_t errlen);

/* SIGHUP: re-reads file, environment and the original argv into a copy and
 * copies only the reloadable options into *c. On error *c is unchanged and err
 * says why. */
int config_reload(struct sb_config *c, int argc, char **argv, char *err, size_t errlen);

/* Cross-option checks and derived values (public_url default). Called by
 * config_parse; exposed for tests. */
int config_finish(struct sb_config *c, char *err, size_t errlen);

/* bind is 0.0.0.0 or ::, an address no phone can be sent to. */
bool config_bind_is_wildcard(const struct sb_config *c);

/* When public_url was derived (not configured), remakes it with host (an
 * address or name phones reach) in place of bind's. Returns 0 or SB_ECONFIG. */
int config_set_derived_host(struct sb_config *c, const char *host);

/* Writers driven by the option table. */
void config_print_help(FILE *out, const char *argv0);
void config_print_example(FILE *out);   /* etc/scanbridge.conf.example */
void config_print_markdown(FILE *out);  /* docs/configuration.md */
/* Manual page in roff: section 8 is scanbridged(8) (flags), section 5 is
 * scanbridge.conf(5) (file keys); man/scanbridged.8, man/scanbridge.conf.5. */
void config_print_man(FILE *out, int section);


#endif
