/* SPDX-License-Identifier: MIT */
/* Structured logs to stderr, one line per event in logfmt:
 *   ts=2026-11-23T14:25:52.123Z level=info msg="session created" sid=...
 * libwebsockets' own log is routed through here. Never log tokens or pair codes. */
#ifndef SB_LOG_H
#define SB_LOG_H
#include <stddef.h>

enum sb_log_level { SB_LOG_ERROR = 0, SB_LOG_WARN, SB_LOG_INFO, SB_LOG_DEBUG };

/* The levels' names, by value, then NULL ("error" ... "debug"): what the
 * config file and the log lines say. */
extern const char *const log_level_names[];
/* The name of l, or "?" for a value out of range. */
const char *log_level_name(enum sb_log_level l);

void log_set_level(enum sb_log_level level);
enum sb_log_level log_get_level(void);

/* msg is a short fixed text; kv is a printf format of extra key=value pairs
 * (may be NULL). Values with spaces should be quoted by the caller via %s and
 * log_quote() when they come from clients. */
void log_emit(enum sb_log_level level, const char *msg, const char *kv_fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(msg, ...) log_emit(SB_LOG_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_emit(SB_LOG_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_emit(SB_LOG_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) log_emit(SB_LOG_DEBUG, msg, __VA_ARGS__)

/* Copies s into buf as a logfmt-safe value: quoted, with \" \\ and control
 * characters escaped, truncated to fit. Returns buf. */
const char *log_quote(char *buf, size_t size, const char *s);

/* Installs log_emit as libwebsockets' log sink (errors and warnings only,
 * notices at debug). */
void log_route_lws(void);
#endif
