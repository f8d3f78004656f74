/* SPDX-License-Identifier: MIT */
/* Rate limits for the event loop: a token bucket per connection, a one-minute
 * window the caller holds (window_hit), and a per-IP table (fixed hash of 1024
 * chained buckets, FNV-1a) holding each address's open connection count and
 * its fixed one-minute windows for sessions created and pair attempts. The
 * caller passes monotonic ms, so nothing here reads a clock. Not thread-safe:
 * only the event loop calls it. */
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "sb_err.h"

#define IPL_BUCKETS 1024
#define IPL_IP_MAX 64           /* buffer incl. NUL: addresses keep 63 chars */
#define IPL_WINDOW_MS 60000

struct ip_entry {
	struct ip_entry *next;
	char ip[IPL_IP_MAX];
	int conns;
	int64_t window_start_ms[IPW_COUNT];
	int count[IPW_COUNT];   /* 0: no window open */
};

static struct ip_entry *ipl_table[IPL_BUCKETS];
static int ipl_entries;

bool bucket_take(struct token_bucket *b, int burst, int per_sec, int64_t now_ms)
{
	if (now_ms > b->last_ms) {
		b->spent -= (double)(now_ms - b->last_ms) * per_sec / 1000.0;
		if (b->spent < 0)
			b->spent = 0;
		b->last_ms = now_ms;
	}
	if (b->spent > burst - 1.0)
		return false;
	b->spent += 1.0;
	return true;
}

int window_hit(struct rate_window *w, int limit_per_min, int64_t now_ms, int *retry_after_s)
{
	int64_t left_ms;

	if (w->count <= 0 || now_ms - w->start_ms >= IPL_WINDOW_MS) {
		w->start_ms = now_ms;
		w->count = 0;
	}
	if (w->count < limit_per_min) {
		w->count++;
		return 0;
	}
	left_ms = w->start_ms + IPL_WINDOW_MS - now_ms;
	if (retry_after_s)
		*retry_after_s = left_ms > 0 ? (int)((left_ms + 999) / 1000) : 1;
	return SB_ELIMIT;
}

/* Copies ip into key, truncated to IPL_IP_MAX - 1 chars; NULL reads as "". */
static void ip_key(const char *ip, char key[IPL_IP_MAX])
{
	size_t n = ip ? strnlen(ip, IPL_IP_MAX - 1) : 0;

	if (n)
		memcpy(key, ip, n);
	key[n] = '\0';
}

static unsigned ip_hash(const char *key)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h % IPL_BUCKETS;
}

/* The entry for ip, or NULL. With create, allocates a missing one (NULL if
 * allocation fails). */
static struct ip_entry *ip_lookup(const char *ip, bool create)
{
	char key[IPL_IP_MAX];
	unsigned h;
	struct ip_entry *e;

	ip_key(ip, key);
	h = ip_hash(key);
	for (e = ipl_table[h]; e; e = e->next)
		if (!strcmp(e->ip, key))
			return e;
	if (!create || !(e = calloc(1, sizeof *e)))
		return NULL;
	memcpy(e->ip, key, sizeof key);
	e->next = ipl_table[h];
	ipl_table[h] = e;
	ipl_entries++;
	return e;
}

static bool window_open(const struct ip_entry *e, int w, int64_t now_ms)
{
	return e->count[w] > 0 && now_ms - e->window_start_ms[w] < IPL_WINDOW_MS;
}

static bool entry_idle(const struct ip_entry *e, int64_t now_ms)
{
	if (e->conns > 0)
		return false;
	for (int w = 0; w < IPW_COUNT; w++)
		if (window_open(e, w, now_ms))
			return false;
	return true;
}

static bool windows_unused(const struct ip_entry *e)
{
	for (int w = 0; w < IPW_COUNT; w++)
		if (e->count[w] > 0)
			return false;
	return true;
}

/* Unlinks and frees e from bucket chain *link. */
static void entry_free(struct ip_entry **link, struct ip_entry *e)
{
	*link = e->next;
	free(e);
	ipl_entries--;
}

/* Allocation failure fails open (returns 0): a full heap must not lock every
 * client out. */
int iplimit_hit(enum ip_window which, const char *ip, int limit_per_min, int64_t now_ms,
		int *retry_after_s)
{
	struct ip_entry *e;
	int64_t left_ms;

	if ((int)which < 0 || which >= IPW_COUNT || !(e = ip_lookup(ip, true)))
		return 0;
	if (!window_open(e, which, now_ms)) {
		e->window_start_ms[which] = now_ms;
		e->count[which] = 0;
	}
	if (e->count[which] < limit_per_min) {
		e->count[which]++;
		return 0;
	}
	left_ms = e->window_start_ms[which] + IPL_WINDOW_MS - now_ms;
	if (retry_after_s)
		*retry_after_s = left_ms > 0 ? (int)((left_ms + 999) / 1000) : 1;
	return SB_ELIMIT;
}

/* Returns SB_ENOMEM (not counted) when a new entry cannot be allocated. */
int iplimit_conn_add(const char *ip, int max)
{
	struct ip_entry *e = ip_lookup(ip, true);

	if (!e)
		return SB_ENOMEM;
	if (e->conns >= max)
		return SB_ELIMIT;
	e->conns++;
	return 0;
}

/* An entry left with no connections and no window ever opened is freed now;
 * others wait for iplimit_prune. */
void iplimit_conn_del(const char *ip)
{
	char key[IPL_IP_MAX];
	struct ip_entry **link, *e;

	ip_key(ip, key);
	for (link = &ipl_table[ip_hash(key)]; (e = *link); link = &e->next) {
		if (strcmp(e->ip, key))
			continue;
		if (e->conns > 0)
			e->conns--;
		if (e->conns == 0 && windows_unused(e))
			entry_free(link, e);
		return;
	}
}

void iplimit_prune(int64_t now_ms)
{
	for (int h = 0; h < IPL_BUCKETS; h++) {
		struct ip_entry **link = &ipl_table[h], *e;

		while ((e = *link)) {
			if (entry_idle(e, now_ms))
				entry_free(link, e);
			else
				link = &e->next;
		}
	}
}

void iplimit_reset(void)
{
	for (int h = 0; h < IPL_BUCKETS; h++) {
		while (ipl_table[h])
			entry_free(&ipl_table[h], ipl_table[h]);
	}
}

int iplimit_entries(void)
{
	return ipl_entries;
}
