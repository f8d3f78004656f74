/* SPDX-License-Identifier: MIT */
/* Structured logging: each event becomes one logfmt line on stderr, built in a
 * fixed buffer and written with a single write(2) so lines from threads never
 * interleave. Also the sink for libwebsockets' own log, whose lines are
 * re-emitted as msg="lws" text="...". */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "clock.h"

#define LINE_MAX_BYTES 2048

const char *const log_level_names[] = { "error", "warn", "info", "debug", NULL };

static _Atomic int log_level_ = SB_LOG_INFO;
static atomic_bool lws_routed_;

static void apply_lws_level(void);

void log_set_level(enum sb_log_level level)
{
	atomic_store(&log_level_, (int)level);
	if (atomic_load(&lws_routed_))
		apply_lws_level();
}

const char *log_level_name(enum sb_log_level l)
{
	return (unsigned)l <= SB_LOG_DEBUG ? log_level_names[l] : "?";
}

enum sb_log_level log_get_level(void)
{
	return (enum sb_log_level)atomic_load(&log_level_);
}

const char *log_quote(char *buf, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (size < 3) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[n++] = '"';
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[5] = { (char)ch, 0 };
		size_t len = 1;

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\'; esc[1] = (char)ch; len = 2;
		} else if (ch == '\n' || ch == '\r' || ch == '\t') {
			esc[0] = '\\'; esc[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't'; len = 2;
		} else if (ch < 0x20 || ch == 0x7f) {
			esc[0] = '\\'; esc[1] = 'x'; esc[2] = hex[ch >> 4]; esc[3] = hex[ch & 15];
			len = 4;
		}
		if (n + len + 2 > size) /* keep room for the closing quote and NUL */
			break;
		memcpy(buf + n, esc, len);
		n += len;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

/* "2026-11-23T14:25:52.123Z" */
static size_t format_ts(char *buf, size_t size)
{
	struct timespec ts;

	/* the real clock, not clock_wall_ms(): tests stub that one */
	clock_gettime(CLOCK_REALTIME, &ts);
	return clock_iso8601((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, buf, size);
}

static void write_all(const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
	}
}

/* The line length after an snprintf that returned `added`, at most cap. */
static size_t advance(size_t n, int added, size_t cap)
{
	if (added < 0)
		return n;
	return n + (size_t)added < cap ? n + (size_t)added : cap;
}

void log_emit(enum sb_log_level level, const char *msg, const char *kv_fmt, ...)
{
	char line[LINE_MAX_BYTES], ts[40], qmsg[512];
	size_t n, cap = sizeof line - 1; /* text ends before the last byte: '\n' */
	va_list ap;

	if ((int)level > atomic_load(&log_level_))
		return;
	format_ts(ts, sizeof ts);
	log_quote(qmsg, sizeof qmsg, msg);
	/* each snprintf may use the last byte for its NUL; '\n' replaces it */
	n = advance(0, snprintf(line, sizeof line, "ts=%s level=%s msg=%s", ts,
				log_level_name(level), qmsg), cap);
	if (kv_fmt && *kv_fmt && n < cap) {
		line[n++] = ' ';
		va_start(ap, kv_fmt);
		n = advance(n, vsnprintf(line + n, sizeof line - n, kv_fmt, ap), cap);
		va_end(ap);
	}
	line[n++] = '\n';
	write_all(line, n);
}

/* ---- libwebsockets ------------------------------------------------------ */

static enum sb_log_level lws_to_level(int lll)
{
	if (lll & LLL_ERR)
		return SB_LOG_ERROR;
	if (lll & LLL_WARN)
		return SB_LOG_WARN;
	return SB_LOG_DEBUG;
}

/* Skips "[2018/11/13 07:41:57:3989] " and a following "N: " if present. */
static const char *skip_lws_prefix(const char *s)
{
	const char *p = s + 1;

	if (*s != '[')
		return s;
	while (*p && strchr("0123456789/:. ", *p))
		p++;
	if (*p != ']')
		return s;
	p++;
	while (*p == ' ')
		p++;
	if (p[0] >= 'A' && p[0] <= 'Z' && p[1] == ':' && p[2] == ' ')
		p += 3;
	return p;
}

static void lws_emit_cb(int lll, const char *line)
{
	char text[1024], q[1100];
	size_t n;

	snprintf(text, sizeof text, "%s", skip_lws_prefix(line));
	n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	log_emit(lws_to_level(lll), "lws", "text=%s", log_quote(q, sizeof q, text));
}

static void apply_lws_level(void)
{
	int mask = LLL_ERR | LLL_WARN;

	if (log_get_level() >= SB_LOG_DEBUG)
		mask |= LLL_NOTICE | LLL_INFO;
	lws_set_log_level(mask, lws_emit_cb);
}

void log_route_lws(void)
{
	atomic_store(&lws_routed_, true);
	apply_lws_level();
}
