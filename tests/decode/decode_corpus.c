/* SPDX-License-Identifier: MIT */
/* Corpus test for the decoder: decodes every image of a corpus through
 * image_load_gray + decode_gray, the daemon's own path, in this one process
 * (so an abort inside ZXing fails the test), and checks the rates.
 *
 *   decode_corpus corpus DIR   DIR/manifest.tsv (file, code, format, class) and
 *                              DIR/classes.tsv (class, min rate %, text) from
 *                              tests/data/barcodes/generate.sh. Asserts each
 *                              class's minimum rate and zero wrong decodes.
 *   decode_corpus photos DIR   DIR/manifest.json of barcode-photos (real photos).
 *                              Asserts zero wrong decodes, reports the rate.
 * Options after DIR: -s MAX_SIDE (default 1600), -v (list every miss).
 * A wrong decode is any returned code that is not the expected text (nor, for
 * the photos, one of the manifest's accepted alternatives). Exit 0 pass,
 * 1 fail, 77 skipped (no corpus). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "barcode.h"
#include "decode.h"
#include "sb_err.h"

#define MAX_CLASSES 64
#define CLASS_NAME_CHARS 63

struct class_stat {
	char name[CLASS_NAME_CHARS + 1];
	int min_rate; /* percent; 0 = report only */
	int total, ok, wrong, errors;
	double ms;
};

static struct class_stat classes[MAX_CLASSES];
static int n_classes;
static int verbose;
static struct image_limits limits = {8u << 20, 40000000u, 1600, 0, 0}; /* daemon defaults */

static struct class_stat *class_get(const char *name)
{
	/* Names are kept to their first CLASS_NAME_CHARS characters (the precision
	 * also tells gcc -O3 that the copy cannot be truncated): look them up the
	 * same way, so a long name stays one class. */
	for (int i = 0; i < n_classes; i++)
		if (strncmp(classes[i].name, name, CLASS_NAME_CHARS) == 0)
			return &classes[i];
	if (n_classes == MAX_CLASSES)
		return &classes[MAX_CLASSES - 1];
	struct class_stat *c = &classes[n_classes++];
	snprintf(c->name, sizeof(c->name), "%.*s", CLASS_NAME_CHARS, name);
	return c;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Decodes one file like the daemon: load (bounded, downscaled), then decode. */
static int decode_file(const char *path, struct decode_result *r, int *n, double *ms)
{
	size_t len = 0;
	struct gray_image img = {0};
	uint8_t *buf = read_file(path, &len);
	int rc;
	*n = 0;
	if (!buf)
		return SB_EIO;
	double t0 = now_ms();
	rc = image_load_gray(buf, len, &limits, &img);
	if (rc == 0)
		rc = decode_gray(img.px, img.width, img.height, img.stride, 0, r, DECODE_MAX_RESULTS, n);
	*ms = now_ms() - t0;
	gray_image_free(&img);
	free(buf);
	return rc;
}

static void print_code(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			printf("\\x%02x", (unsigned char)*s);
		else
			putchar(*s);
}

static int load_classes(const char *dir)
{
	char path[4096], line[512];
	snprintf(path, sizeof(path), "%s/classes.tsv", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		class_get(line)->min_rate = atoi(tab + 1);
	}
	fclose(f);
	return 0;
}

static int run_corpus(const char *dir)
{
	char path[4096], line[4096];
	struct decode_result r[DECODE_MAX_RESULTS];
	snprintf(path, sizeof(path), "%s/manifest.tsv", dir);
	FILE *f = fopen(path, "r");
	if (!f || load_classes(dir) != 0) {
		printf("SKIP: no corpus in %s (run tests/data/barcodes/generate.sh)\n", dir);
		if (f)
			fclose(f);
		return 77;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *file = strtok(line, "\t"), *code = strtok(NULL, "\t"), *fmt = strtok(NULL, "\t"),
		     *cls = strtok(NULL, "\t");
		enum sb_format want = SB_FMT_UNKNOWN;
		if (!file || !code || !fmt || !cls || barcode_format_parse(fmt, &want) != 0) {
			fprintf(stderr, "bad manifest line: %s\n", line);
			fclose(f);
			return 1;
		}
		struct class_stat *c = class_get(cls);
		int n = 0, found = 0, wrong = 0;
		double ms = 0;
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		int rc = decode_file(path, r, &n, &ms);
		c->total++;
		c->ms += ms;
		if (rc != 0) {
			c->errors++;
			printf("ERROR %s: %s\n", file, sb_strerror(rc));
			continue;
		}
		for (int i = 0; i < n; i++) {
			if (strcmp(r[i].code, code) == 0) {
				found = 1;
				if (r[i].format != want)
					printf("note  %s: right text, format %s (expected %s)\n", file,
					       barcode_format_name(r[i].format), fmt);
			} else {
				wrong++;
				printf("WRONG %s: got \"", file);
				print_code(r[i].code);
				printf("\" (%s), expected \"%s\" (%s)\n", barcode_format_name(r[i].format), code, fmt);
			}
		}
		c->ok += found;
		c->wrong += wrong;
		if (!found && verbose)
			printf("miss  %s (%s \"%s\")\n", file, fmt, code);
	}
	fclose(f);

	int fail = 0, total = 0, ok = 0, wrong = 0;
	printf("\n%-16s %6s %6s %7s %6s %8s %6s\n", "class", "images", "ok", "rate", "wrong", "ms/img", "gate");
	for (int i = 0; i < n_classes; i++) {
		struct class_stat *c = &classes[i];
		if (!c->total)
			continue;
		double rate = 100.0 * c->ok / c->total;
		int bad = c->wrong > 0 || c->errors > 0 || (c->min_rate > 0 && rate < c->min_rate);
		printf("%-16s %6d %6d %6.1f%% %6d %8.1f %5d%% %s\n", c->name, c->total, c->ok, rate, c->wrong,
		       c->ms / c->total, c->min_rate, bad ? "FAIL" : "");
		fail |= bad;
		total += c->total;
		ok += c->ok;
		wrong += c->wrong;
	}
	printf("%-16s %6d %6d %6.1f%% %6d\n", "all", total, ok, total ? 100.0 * ok / total : 0.0, wrong);
	printf("ZXing assertions caught (pass lost, process kept): %lu\n", decode_zxing_asserts());
	printf("%s\n", fail ? "FAIL" : "PASS");
	return fail;
}

/* Is s one of the strings of JSON array arr? */
static int in_array(const cJSON *arr, const char *s)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0)
			return 1;
	return 0;
}

static int run_photos(const char *dir)
{
	char path[4096];
	size_t len = 0;
	struct decode_result r[DECODE_MAX_RESULTS];
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	char *json = (char *)read_file(path, &len);
	if (!json) {
		printf("SKIP: %s not found (the real-photo set lives beside the repo)\n", path);
		return 77;
	}
	json[len] = '\0';
	cJSON *root = cJSON_Parse(json);
	free(json);
	if (!cJSON_IsArray(root)) {
		fprintf(stderr, "%s: not a JSON array\n", path);
		cJSON_Delete(root);
		return 1;
	}
	int total = 0, ok = 0, wrong = 0, negatives = 0, errors = 0;
	double ms_sum = 0, ms_max = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, root) {
		const cJSON *file = cJSON_GetObjectItem(e, "file"), *code = cJSON_GetObjectItem(e, "code"),
			    *fmt = cJSON_GetObjectItem(e, "format");
		if (!cJSON_IsString(file))
			continue;
		int n = 0, found = 0, bad = 0;
		double ms = 0;
		snprintf(path, sizeof(path), "%s/%s", dir, file->valuestring);
		int rc = decode_file(path, r, &n, &ms);
		ms_sum += ms;
		ms_max = ms > ms_max ? ms : ms_max;
		if (cJSON_IsString(code))
			total++;
		else
			negatives++;
		if (rc != 0) {
			errors++;
			printf("ERROR %s: %s\n", file->valuestring, sb_strerror(rc));
			continue;
		}
		for (int i = 0; i < n; i++) {
			const char *got = r[i].code;
			if (cJSON_IsString(code) && strcmp(got, code->valuestring) == 0) {
				found = 1;
				if (cJSON_IsString(fmt) && strcmp(barcode_format_name(r[i].format), fmt->valuestring))
					printf("note  %s: right text, format %s (expected %s)\n", file->valuestring,
					       barcode_format_name(r[i].format), fmt->valuestring);
			} else if (cJSON_IsString(code) &&
				   (in_array(cJSON_GetObjectItem(e, "accept"), got) ||
				    in_array(cJSON_GetObjectItem(e, "same_symbol"), got))) {
				found = 1;
				printf("note  %s: \"%s\" is an accepted form of \"%s\"\n", file->valuestring, got,
				       code->valuestring);
			} else if (in_array(cJSON_GetObjectItem(e, "also"), got)) {
				printf("note  %s: also found the other code in frame \"%s\"\n", file->valuestring, got);
			} else {
				bad++;
				printf("WRONG %s: got \"", file->valuestring);
				print_code(got);
				printf("\" (%s), expected %s\n", barcode_format_name(r[i].format),
				       cJSON_IsString(code) ? code->valuestring : "no code");
			}
		}
		ok += found;
		wrong += bad;
		if (!found && cJSON_IsString(code) && verbose)
			printf("miss  %s (%s \"%s\")\n", file->valuestring,
			       cJSON_IsString(fmt) ? fmt->valuestring : "?", code->valuestring);
	}
	cJSON_Delete(root);
	int images = total + negatives;
	printf("\nreal photos: %d of %d decoded (%.1f%%), %d wrong, %d load errors; %d negatives;"
	       " %.1f ms/image mean, %.1f ms max (max_side %d)\n",
	       ok, total, total ? 100.0 * ok / total : 0.0, wrong, errors, negatives,
	       images ? ms_sum / images : 0.0, ms_max, limits.max_side);
	printf("ZXing assertions caught (pass lost, process kept): %lu\n", decode_zxing_asserts());
	printf("%s\n", wrong || errors ? "FAIL" : "PASS");
	return wrong || errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: decode_corpus corpus|photos DIR [-s MAX_SIDE] [-v]\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			limits.max_side = atoi(argv[++i]);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "corpus") == 0)
		return run_corpus(argv[2]);
	if (strcmp(argv[1], "photos") == 0)
		return run_photos(argv[2]);
	fprintf(stderr, "decode_corpus: unknown mode %s\n", argv[1]);
	return 2;
}
