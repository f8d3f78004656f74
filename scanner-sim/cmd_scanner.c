/* SPDX-License-Identifier: MIT */
/* `scanbridge-sim scanner`: pairs like a phone (POST /api/v1/pair with the code
 * from a pair URL), then sends codes read from stdin (one per line) or
 * generated, through an in-memory outbox: a scan stays until acked and is
 * resent with the same id after a reconnect. Every server message is printed
 * as one JSON line on stdout. Exits once the input is done and every scan is
 * acked and delivered (or --linger passed since the last ack). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "http.h"
#include "opts.h"
#include "sim.h"
#include "grow.h"

struct item {
	char id[40];
	char *code;
	enum sb_format format;
	bool acked, delivered;
};

struct scanner {
	struct sim_conn conn;
	struct item *items;
	size_t n, cap, head, next;        /* outbox: [head, n) may be unacked */
	size_t acked, delivered;
	char run[8];
	/* input */
	bool from_stdin, input_done;
	int force_format;                 /* -1 = detect */
	char line[4096];
	size_t line_len;
	/* generator */
	int gen;                          /* 0 none, 1 ean13, 2 code128, 3 qr */
	long count, generated;
	double rate;
	int64_t next_due_us;
	int64_t all_acked_at;
	bool quiet;
};

static void usage(FILE *f)
{
	fputs("usage: scanbridge-sim scanner --pair-url URL [--name N]\n"
	      "                              [--generate ean13|code128|qr --count N --rate R]\n"
	      "  --pair-url URL   the pairing URL, http(s)://host:port/p#CODE\n"
	      "  --cafile PATH    with https: trust the CA(s) in this PEM file (the daemon's\n"
	      "                   <data_dir>/tls/ca.pem) instead of the system store\n"
	      "  --insecure       with https: check neither the certificate nor the name\n"
	      "                   (for tests only)\n"
	      "  --name N         scanner name shown to the desktop\n"
	      "  --generate KIND  send generated codes instead of stdin lines\n"
	      "  --count N        how many to generate (default 10)\n"
	      "  --rate R         generated scans per second (default 1)\n"
	      "  --format F       format of stdin codes (default: EAN_13/EAN_8/UPC_A when the\n"
	      "                   digits and check digit fit, else UNKNOWN; a line may also\n"
	      "                   be 'FORMAT CODE')\n"
	      "  --linger S       after the last ack, wait at most S s for delivered (default 5)\n"
	      "  -q, --quiet      print only acks, delivered and errors\n"
	      "stdin: one code per line.\n", f);
}

static enum sb_format detect(const char *code)
{
	size_t n = strlen(code);

	if (n == 13 && barcode_validate(SB_FMT_EAN_13, code, n) == 0)
		return SB_FMT_EAN_13;
	if (n == 8 && barcode_validate(SB_FMT_EAN_8, code, n) == 0)
		return SB_FMT_EAN_8;
	if (n == 12 && barcode_validate(SB_FMT_UPC_A, code, n) == 0)
		return SB_FMT_UPC_A;
	return SB_FMT_UNKNOWN;
}

static int add_item(struct scanner *s, const char *code, enum sb_format f)
{
	struct item *it = grow_reserve(s->items, &s->cap, s->n + 1, sizeof *it, 64);

	if (!it)
		return -1;
	s->items = it;
	it = &s->items[s->n];
	memset(it, 0, sizeof *it);
	it->code = strdup(code);
	if (!it->code)
		return -1;
	snprintf(it->id, sizeof it->id, "%s-%zu", s->run, s->n + 1);
	it->format = f;
	s->n++;
	s->all_acked_at = 0;
	sim_conn_want_write(&s->conn);
	return 0;
}

static void add_line(struct scanner *s, char *line)
{
	char *code = line, *sp;
	enum sb_format f;

	while (*line == ' ' || *line == '\t')
		line++;
	code = line;
	if (!*code)
		return;
	sp = strchr(line, ' ');
	if (s->force_format >= 0) {
		f = (enum sb_format)s->force_format;
	} else if (sp) {
		*sp = '\0';
		if (barcode_format_parse(line, &f) == 0) {
			code = sp + 1;
		} else {
			*sp = ' ';
			f = detect(code);
		}
	} else {
		f = detect(code);
	}
	if (add_item(s, code, f) < 0)
		sim_stop = 1;
}

/* Reads what stdin has without blocking the loop. */
static void read_stdin(struct scanner *s)
{
	struct pollfd p = { 0, POLLIN, 0 };

	while (!s->input_done && poll(&p, 1, 0) > 0) {
		char buf[4096];
		ssize_t r = read(0, buf, sizeof buf);
		if (r <= 0) {
			if (s->line_len) {
				s->line[s->line_len] = '\0';
				add_line(s, s->line);
				s->line_len = 0;
			}
			s->input_done = true;
			return;
		}
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] == '\n') {
				s->line[s->line_len] = '\0';
				if (s->line_len && s->line[s->line_len - 1] == '\r')
					s->line[s->line_len - 1] = '\0';
				add_line(s, s->line);
				s->line_len = 0;
			} else if (s->line_len + 1 < sizeof s->line) {
				s->line[s->line_len++] = buf[i];
			}
		}
	}
}

static void generate(struct scanner *s)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	int64_t now = sim_now_us();
	char code[64];

	while (s->generated < s->count && s->next_due_us <= now) {
		if (s->gen == 1) {
			sim_ean13(sim_rand(), code);
			add_item(s, code, SB_FMT_EAN_13);
		} else if (s->gen == 2) {
			strcpy(code, "SIM");
			for (int i = 3; i < 12; i++)
				code[i] = alnum[sim_rand() % 36];
			code[12] = '\0';
			add_item(s, code, SB_FMT_CODE_128);
		} else {
			snprintf(code, sizeof code, "https://example.com/item/%016llx",
				 (unsigned long long)sim_rand());
			add_item(s, code, SB_FMT_QR_CODE);
		}
		s->generated++;
		s->next_due_us += (int64_t)(1e6 / s->rate);
	}
	if (s->generated >= s->count)
		s->input_done = true;
}

static void on_tick(struct sim_loop *l, void *arg)
{
	struct scanner *s = arg;

	if (s->conn.welcomes == 0)
		return;      /* start once connected; later, queue even while offline */
	if (s->from_stdin)
		read_stdin(s);
	else if (!s->input_done)
		generate(s);
}

static struct item *find(struct scanner *s, const char *id)
{
	for (size_t i = s->head; i < s->n; i++)
		if (!strcmp(s->items[i].id, id))
			return &s->items[i];
	for (size_t i = 0; i < s->head && i < s->n; i++)
		if (!strcmp(s->items[i].id, id))
			return &s->items[i];
	return NULL;
}

static void sc_message(struct sim_conn *c, const struct sb_server_msg *m,
		       const char *raw, size_t len)
{
	struct scanner *s = c->user;
	struct item *it;

	switch (m->type) {
	case SB_SRV_WELCOME:
		s->next = s->head;         /* resend everything unacked */
		break;
	case SB_SRV_ACK:
		it = find(s, m->id);
		if (it && !it->acked) {
			it->acked = true;
			s->acked++;
		}
		while (s->head < s->n && s->items[s->head].acked)
			s->head++;
		if (s->acked == s->n)
			s->all_acked_at = sim_now_us();
		break;
	case SB_SRV_DELIVERED:
		it = find(s, m->id);
		if (it && !it->delivered) {
			it->delivered = true;
			s->delivered++;
		}
		break;
	case SB_SRV_ERROR:
		it = m->id[0] ? find(s, m->id) : NULL;
		if (it && (!strcmp(m->code, "invalid_request") ||
			   !strcmp(m->code, "invalid_check_digit")) && !it->acked) {
			it->acked = true;          /* refused for good: do not resend */
			s->acked++;
		}
		break;
	default:
		break;
	}
	if (s->quiet && m->type != SB_SRV_ACK && m->type != SB_SRV_DELIVERED &&
	    m->type != SB_SRV_ERROR)
		return;
	if (m->type == SB_SRV_PONG)
		return;
	fwrite(raw, 1, len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

static int sc_writable(struct sim_conn *c, char *buf, size_t cap)
{
	struct scanner *s = c->user;
	struct item *it;

	while (s->next < s->n && s->items[s->next].acked)
		s->next++;
	if (s->next >= s->n)
		return 0;
	it = &s->items[s->next++];
	c->more = s->next < s->n;
	return sb_cmsg_scan(buf, cap, it->id, it->code, it->format, sim_wall_ms());
}

static const struct sim_conn_ops sc_ops = {
	.message = sc_message,
	.writable = sc_writable,
};

struct scanner_opts {
	const char *pair_url, *name, *cafile;
	bool insecure;
	double linger;
};

static int pair(const struct scanner_opts *o, struct sim_url *u, struct sim_pair_info *p)
{
	const char *rest, *hash;

	if (sim_url_parse(o->pair_url, u, &rest) < 0 || !(hash = strchr(rest, '#')) || !hash[1]) {
		fprintf(stderr, "scanbridge-sim scanner: bad --pair-url %s (want "
			"http(s)://host:port/p#CODE)\n", o->pair_url);
		return -1;
	}
	if (sim_opts_tls("scanner", o->cafile, o->insecure, u) < 0)
		return -1;
	if (api_pair(u, hash + 1, o->name, p) < 0)
		return -1;
	printf("{\"type\":\"paired\",\"session\":\"%s\",\"scanner\":\"%s\"}\n", p->session,
	       p->scanner);
	fflush(stdout);
	return 0;
}

static bool finished(const struct scanner *s, double linger)
{
	if (!s->input_done || s->acked < s->n)
		return false;
	if (s->delivered >= s->n)
		return true;
	return s->all_acked_at && sim_now_us() - s->all_acked_at >= (int64_t)(linger * 1e6);
}

/* --generate ean13|code128|qr: dst is the struct scanner. */
static int set_generate(const char *arg, void *dst)
{
	static const char *const kinds[] = { "ean13", "code128", "qr" };
	struct scanner *s = dst;

	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (!strcmp(arg, kinds[i])) {
			s->gen = (int)i + 1;       /* 0 is "none" */
			s->from_stdin = false;
			return 0;
		}
	}
	return -1;
}

/* --format F: dst is the int force_format. */
static int set_format(const char *arg, void *dst)
{
	enum sb_format f;

	if (barcode_format_parse(arg, &f))
		return -1;
	*(int *)dst = (int)f;
	return 0;
}

/* Fills *o, and the input and generator settings into *s. */
static int parse(int argc, char **argv, struct scanner_opts *o, struct scanner *s)
{
	const struct sim_opt opts[] = {
		OPT_STR("pair-url", &o->pair_url),
		OPT_TLS(&o->cafile, &o->insecure),
		OPT_STR("name", &o->name),
		OPT_CALL("generate", set_generate, s),
		OPT_LONG("count", &s->count, 1, 1L << 40),
		OPT_POSITIVE("rate", &s->rate),
		OPT_CALL("format", set_format, &s->force_format),
		OPT_DOUBLE("linger", &o->linger),
		OPT_QUIET(&s->quiet),
		OPT_END
	};
	int rc;

	memset(o, 0, sizeof *o);
	o->linger = 5;
	memset(s, 0, sizeof *s);
	s->from_stdin = true;
	s->force_format = -1;
	s->count = 10;
	s->rate = 1;
	rc = sim_opts_parse("scanner", argc, argv, usage, NULL, opts);
	if (rc == 0 && !o->pair_url) {
		usage(stderr);
		rc = -1;
	}
	return rc;
}

int cmd_scanner(int argc, char **argv)
{
	static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	struct scanner_opts o;
	struct scanner s;
	struct sim_url u;
	struct sim_pair_info p;
	struct sim_loop loop;
	int rc;

	if ((rc = parse(argc, argv, &o, &s)) != 0)
		return sim_opts_exit(rc);
	for (int i = 0; i < 6; i++)
		s.run[i] = b36[sim_rand() % 36];
	if (pair(&o, &u, &p) < 0)
		return 2;
	if (sim_loop_init(&loop, &u) < 0 ||
	    sim_conn_init(&s.conn, &loop, SIM_SCANNER, p.scanner_token, -1, &sc_ops, &s) < 0) {
		sim_loop_free(&loop);
		return 2;
	}
	loop.on_tick = on_tick;
	loop.tick_arg = &s;
	s.next_due_us = sim_now_us();
	sim_conn_start(&s.conn);
	while (!sim_stop && s.conn.state != SIM_C_DONE && !finished(&s, o.linger))
		sim_loop_service(&loop);
	rc = (s.input_done && s.acked >= s.n) ? 0 : 1;
	if (!s.quiet)
		fprintf(stderr, "scanbridge-sim scanner: %zu scans, %zu acked, %zu delivered\n",
			s.n, s.acked, s.delivered);
	sim_conn_stop(&s.conn);
	{
		int64_t until = sim_now_us() + 200000;
		while (sim_conn_has_socket(&s.conn) && sim_now_us() < until)
			sim_loop_service(&loop);
	}
	sim_loop_free(&loop);
	sim_conn_free(&s.conn);
	for (size_t i = 0; i < s.n; i++)
		free(s.items[i].code);
	free(s.items);
	return rc;
}
