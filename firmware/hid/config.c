/* SPDX-License-Identifier: MIT */
/* The configuration file parser (see config.h). Lines are copied into a
 * bounded buffer before they are looked at, so an over-long line is an error
 * with its line number, never a truncation that changes a value. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_err.h"

#define LINE_MAX_LEN 512

struct parse {
	struct hid_config *c;
	struct hid_reader_conf *reader;   /* where reader keys go: global or section */
	const char *file;
	int line;
	char *err;
	size_t errcap;
};

void hid_config_default(struct hid_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->url, sizeof c->url, "http://127.0.0.1:8080");
	snprintf(c->outbox, sizeof c->outbox, "/var/lib/scanbridge-hid/outbox.db");
	hid_reader_conf_default(&c->reader);
	c->heuristic = true;
	c->grab = true;
	c->status = HID_STATUS_NONE;
	snprintf(c->gpio_chip, sizeof c->gpio_chip, "gpiochip0");
	c->led_line = -1;
	c->buzzer_line = -1;
	snprintf(c->sysfs_led, sizeof c->sysfs_led, "ACT");
}

static int fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (p->errcap) {
		n = snprintf(p->err, p->errcap, "%s:%d: ", p->file, p->line);
		if (n < 0 || (size_t)n >= p->errcap)
			n = 0;
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errcap - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return SB_ECONFIG;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int set_str(struct parse *p, char *dst, size_t cap, const char *v)
{
	if (strlen(v) >= cap)
		return fail(p, "value too long (at most %zu bytes)", cap - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int set_bool(struct parse *p, bool *dst, const char *v)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		*dst = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
		*dst = false;
	else
		return fail(p, "\"%s\" is not yes or no", v);
	return 0;
}

static int set_int(struct parse *p, int *dst, const char *v, long lo, long hi)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < lo || n > hi)
		return fail(p, "\"%s\" is not a number from %ld to %ld", v, lo, hi);
	*dst = (int)n;
	return 0;
}

int hid_config_parse_end(const char *s, unsigned *out)
{
	char buf[64], *save = NULL, *tok;
	unsigned end = 0;

	if (strlen(s) >= sizeof buf)
		return SB_EINVAL;
	strcpy(buf, s);
	for (tok = strtok_r(buf, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
		if (!strcmp(tok, "enter"))
			end |= HID_END_ENTER;
		else if (!strcmp(tok, "tab"))
			end |= HID_END_TAB;
		else if (!strcmp(tok, "gap"))
			end |= HID_END_GAP;
		else if (strcmp(tok, "none"))
			return SB_EINVAL;
	}
	*out = end;
	return 0;
}

/* Keys valid both globally and in a [device] section. Returns 1 when key is
 * not one of them, else 0 or SB_ECONFIG. */
static int reader_key(struct parse *p, const char *k, const char *v)
{
	struct hid_reader_conf *r = p->reader;
	int n = 0; /* set_int fills it on success; -O3 cannot see that */

	if (!strcmp(k, "layout"))
		return v[0] ? set_str(p, r->layout, sizeof r->layout, v) : fail(p, "empty layout");
	if (!strcmp(k, "variant"))
		return set_str(p, r->variant, sizeof r->variant, v);
	if (!strcmp(k, "prefix"))
		return set_str(p, r->prefix, sizeof r->prefix, v);
	if (!strcmp(k, "suffix"))
		return set_str(p, r->suffix, sizeof r->suffix, v);
	if (!strcmp(k, "alt_numpad"))
		return set_bool(p, &r->alt_numpad, v);
	if (!strcmp(k, "end"))
		return hid_config_parse_end(v, &r->end) ? fail(p, "end: a list of enter, tab, gap or none") : 0;
	if (!strcmp(k, "gap_ms")) {
		if (set_int(p, &n, v, 0, 10000))
			return SB_ECONFIG;
		r->gap_ms = (unsigned)n;
		return 0;
	}
	return 1;
}

static int status_key(struct parse *p, const char *v)
{
	struct hid_config *c = p->c;

	if (!strcmp(v, "none"))
		c->status = HID_STATUS_NONE;
	else if (!strcmp(v, "gpiod"))
		c->status = HID_STATUS_GPIOD;
	else if (!strcmp(v, "sysfs-led"))
		c->status = HID_STATUS_SYSFS_LED;
	else
		return fail(p, "status: gpiod, sysfs-led or none");
	return 0;
}

static int global_key(struct parse *p, const char *k, const char *v)
{
	struct hid_config *c = p->c;

	if (!strcmp(k, "url"))
		return set_str(p, c->url, sizeof c->url, v);
	if (!strcmp(k, "cafile"))
		return set_str(p, c->cafile, sizeof c->cafile, v);
	if (!strcmp(k, "outbox"))
		return v[0] ? set_str(p, c->outbox, sizeof c->outbox, v) : fail(p, "empty outbox");
	if (!strcmp(k, "heuristic"))
		return set_bool(p, &c->heuristic, v);
	if (!strcmp(k, "grab"))
		return set_bool(p, &c->grab, v);
	if (!strcmp(k, "status"))
		return status_key(p, v);
	if (!strcmp(k, "gpio_chip"))
		return set_str(p, c->gpio_chip, sizeof c->gpio_chip, v);
	if (!strcmp(k, "led_line"))
		return set_int(p, &c->led_line, v, -1, 1023);
	if (!strcmp(k, "buzzer_line"))
		return set_int(p, &c->buzzer_line, v, -1, 1023);
	if (!strcmp(k, "led_active_low"))
		return set_bool(p, &c->led_active_low, v);
	if (!strcmp(k, "sysfs_led")) {
		if (!v[0] || strchr(v, '/') || !strcmp(v, "..") || !strcmp(v, "."))
			return fail(p, "sysfs_led: a name under /sys/class/leds");
		return set_str(p, c->sysfs_led, sizeof c->sysfs_led, v);
	}
	return fail(p, "unknown key \"%s\"", k);
}

static int hex16(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;

	if (n < 1 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		v = v * 16 + (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0'
					: (tolower((unsigned char)s[i]) - 'a' + 10));
	}
	*out = (uint16_t)v;
	return 0;
}

/* "[device VVVV:PPPP]" or "[device VVVV:*]": a new rule, inheriting the
 * global reader settings as they stand at this line. */
static int section(struct parse *p, char *s)
{
	struct hid_config *c = p->c;
	struct hid_dev_rule *r;
	char *colon, *close = strchr(s, ']');

	if (!close || close[1] || strncmp(s, "[device ", 8))
		return fail(p, "a section is [device VVVV:PPPP]");
	*close = '\0';
	s = trim(s + 8);
	colon = strchr(s, ':');
	if (c->n_rules >= HID_MAX_RULES)
		return fail(p, "more than %d [device] sections", HID_MAX_RULES);
	r = &c->rules[c->n_rules];
	memset(r, 0, sizeof *r);
	if (!colon || hex16(s, (size_t)(colon - s), &r->vendor) ||
	    (strcmp(colon + 1, "*") && hex16(colon + 1, strlen(colon + 1), &r->product)))
		return fail(p, "a section is [device VVVV:PPPP] (hex USB ids, PPPP may be *)");
	r->any_product = !strcmp(colon + 1, "*");
	r->reader = c->reader;
	p->reader = &r->reader;
	c->n_rules++;
	return 0;
}

static int line(struct parse *p, char *s)
{
	char *eq, *k, *v;
	int rc;

	s = trim(s);
	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return section(p, s);
	eq = strchr(s, '=');
	if (!eq)
		return fail(p, "expected key = value");
	*eq = '\0';
	k = trim(s);
	v = trim(eq + 1);
	rc = reader_key(p, k, v);
	if (rc != 1)
		return rc;
	if (p->reader != &p->c->reader)
		return fail(p, "\"%s\" cannot be set in a [device] section", k);
	return global_key(p, k, v);
}

int hid_config_parse(struct hid_config *c, const char *file, const char *text, size_t len,
		     char *err, size_t errcap)
{
	struct parse p = { c, &c->reader, file, 0, err, errcap };
	size_t i = 0;

	if (errcap)
		err[0] = '\0';
	while (i < len) {
		char buf[LINE_MAX_LEN + 1];
		size_t n = 0;
		int rc;
		p.line++;
		while (i < len && text[i] != '\n') {
			if (n == LINE_MAX_LEN || text[i] == '\0')
				return fail(&p, text[i] ? "line too long" : "NUL byte");
			buf[n++] = text[i++];
		}
		i++;
		buf[n] = '\0';
		rc = line(&p, buf);
		if (rc)
			return rc;
	}
	return 0;
}

int hid_config_load(struct hid_config *c, const char *path, char *err, size_t errcap)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long n;
	int rc = SB_ECONFIG;

	if (!f) {
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		return SB_ECONFIG;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (1 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1)) &&
	    fread(text, 1, (size_t)n, f) == (size_t)n)
		rc = hid_config_parse(c, path, text, (size_t)n, err, errcap);
	else
		snprintf(err, errcap, "%s: cannot read it (or larger than 1 MiB)", path);
	free(text);
	fclose(f);
	return rc;
}

const struct hid_reader_conf *hid_config_reader_for(const struct hid_config *c,
						    uint16_t vendor, uint16_t product,
						    bool *allowed)
{
	for (int i = 0; i < c->n_rules; i++) {
		const struct hid_dev_rule *r = &c->rules[i];
		if (r->vendor == vendor && (r->any_product || r->product == product)) {
			*allowed = true;
			return &r->reader;
		}
	}
	*allowed = false;
	return &c->reader;
}
