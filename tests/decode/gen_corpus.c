/* SPDX-License-Identifier: MIT */
/* Corpus generator, our half: renders a fixed, deterministic list of codes
 * with barcode_encode (ZXing's writers) into PGM files, and lists the same
 * codes for the independent encoder (GNU barcode) that generate.sh drives.
 *
 *   gen_corpus list          one line per code: FORMAT<TAB>TEXT<TAB>GNU-TEXT
 *                            (GNU-TEXT "-" when GNU barcode lacks the format)
 *   gen_corpus render DIR    writes DIR/ours-<format>-<i>.pgm and prints
 *                            file<TAB>expected<TAB>FORMAT per image
 * Digit codes get their check digit computed here, so every code is valid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "barcode.h"
#include "decode.h"

struct item {
	enum sb_format f;
	const char *payload; /* digit formats: without the check digit */
	int needs_check;     /* append the GS1 check digit */
	const char *gnu_enc; /* GNU barcode -e, NULL when it has no such encoder */
};

static const struct item items[] = {
	{SB_FMT_EAN_13, "400638133393", 1, "ean13"},
	{SB_FMT_EAN_13, "978020131005", 1, "ean13"},
	{SB_FMT_EAN_13, "590123412345", 1, "ean13"},
	{SB_FMT_EAN_13, "841234567890", 1, "ean13"},
	{SB_FMT_EAN_13, "761234567890", 1, "ean13"},
	{SB_FMT_EAN_8, "9638507", 1, "ean8"},
	{SB_FMT_EAN_8, "5512345", 1, "ean8"},
	{SB_FMT_EAN_8, "4012345", 1, "ean8"},
	{SB_FMT_EAN_8, "7351353", 1, "ean8"},
	{SB_FMT_EAN_8, "2012345", 1, "ean8"},
	{SB_FMT_UPC_A, "03600029145", 1, "upc-a"},
	{SB_FMT_UPC_A, "12345678901", 1, "upc-a"},
	{SB_FMT_UPC_A, "72527273070", 1, "upc-a"},
	{SB_FMT_UPC_A, "88543210987", 1, "upc-a"},
	{SB_FMT_UPC_A, "04210000526", 1, "upc-a"},
	{SB_FMT_UPC_E, "0123456", 1, "upc-e"},
	{SB_FMT_UPC_E, "0654321", 1, "upc-e"},
	{SB_FMT_UPC_E, "0425261", 1, "upc-e"},
	{SB_FMT_UPC_E, "1234567", 1, "upc-e"},
	{SB_FMT_UPC_E, "0345673", 1, "upc-e"},
	{SB_FMT_CODE_128, "SCAN-128", 0, "128"},
	{SB_FMT_CODE_128, "scanbridge 0042", 0, "128"},
	{SB_FMT_CODE_128, "1234567890", 0, "128"},
	{SB_FMT_CODE_128, "LOT:A7/B-9", 0, "128"},
	{SB_FMT_CODE_128, "x_y=z~", 0, "128"},
	{SB_FMT_CODE_39, "SCAN39", 0, "39"},
	{SB_FMT_CODE_39, "PART-0042", 0, "39"},
	{SB_FMT_CODE_39, "AB 12.5 $", 0, "39"},
	{SB_FMT_CODE_39, "X1Y2Z3", 0, "39"},
	{SB_FMT_CODE_39, "98765", 0, "39"},
	{SB_FMT_CODE_93, "SCAN93", 0, "93"},
	{SB_FMT_CODE_93, "CODE-93 OK", 0, "93"},
	{SB_FMT_CODE_93, "1234567", 0, "93"},
	{SB_FMT_CODE_93, "A.B/C+D", 0, "93"},
	{SB_FMT_CODE_93, "WXYZ42", 0, "93"},
	{SB_FMT_ITF, "0001234560001", 1, "i25"},
	{SB_FMT_ITF, "1540014128876", 1, "i25"},
	{SB_FMT_ITF, "3001234567890", 1, "i25"},
	{SB_FMT_ITF, "5012345678900", 1, "i25"},
	{SB_FMT_ITF, "00987654", 0, "i25"},
	{SB_FMT_CODABAR, "40156", 0, "cbr"},
	{SB_FMT_CODABAR, "123-456", 0, "cbr"},
	{SB_FMT_CODABAR, "31117013206375", 0, "cbr"},
	{SB_FMT_CODABAR, "9$8.7/6:5", 0, "cbr"},
	{SB_FMT_CODABAR, "2024+11", 0, "cbr"},
	{SB_FMT_QR_CODE, "https://pos.example/p#k3Jx9QzAbC", 0, NULL},
	{SB_FMT_QR_CODE, "4006381333931", 0, NULL},
	{SB_FMT_QR_CODE, "WIFI:T:WPA;S:shop;P:secret;;", 0, NULL},
	{SB_FMT_QR_CODE, "Grüße aus Köln – 10 €", 0, NULL},
	{SB_FMT_QR_CODE, "QR", 0, NULL},
	{SB_FMT_DATA_MATRIX, "DM-0042 lot 7", 0, NULL},
	{SB_FMT_DATA_MATRIX, "0101234567890128", 0, NULL},
	{SB_FMT_DATA_MATRIX, "scanbridge data matrix sample text", 0, NULL},
	{SB_FMT_DATA_MATRIX, "A", 0, NULL},
	{SB_FMT_DATA_MATRIX, "serial:9f8e7d6c", 0, NULL},
	{SB_FMT_PDF_417, "PDF417 scanbridge", 0, NULL},
	{SB_FMT_PDF_417, "1234567890", 0, NULL},
	{SB_FMT_PDF_417, "ID;DOE;JOHN;1980-01-01", 0, NULL},
	{SB_FMT_PDF_417, "pdf", 0, NULL},
	{SB_FMT_PDF_417, "Ticket 42, row 7, seat 13", 0, NULL},
	{SB_FMT_AZTEC, "Aztec 12345", 0, NULL},
	{SB_FMT_AZTEC, "BOARDING M1DOE/JOHN", 0, NULL},
	{SB_FMT_AZTEC, "0", 0, NULL},
	{SB_FMT_AZTEC, "https://example.org/a", 0, NULL},
	{SB_FMT_AZTEC, "aztec lower case", 0, NULL},
};

#define N_ITEMS (sizeof(items) / sizeof(items[0]))

/* UPC-E (number system + 6 digits) expanded to the 11 UPC-A digits its check
 * digit is computed over. */
static void upce_expand(const char *e, char *a)
{
	const char *d = e + 1;
	switch (d[5]) {
	case '0': case '1': case '2':
		snprintf(a, 12, "%c%c%c%c0000%c%c%c", e[0], d[0], d[1], d[5], d[2], d[3], d[4]);
		break;
	case '3':
		snprintf(a, 12, "%c%c%c%c00000%c%c", e[0], d[0], d[1], d[2], d[3], d[4]);
		break;
	case '4':
		snprintf(a, 12, "%c%c%c%c%c00000%c", e[0], d[0], d[1], d[2], d[3], d[4]);
		break;
	default:
		snprintf(a, 12, "%c%c%c%c%c%c0000%c", e[0], d[0], d[1], d[2], d[3], d[4], d[5]);
	}
}

static void item_text(const struct item *it, char *out, size_t cap)
{
	size_t n = strlen(it->payload);
	char upca[12];
	snprintf(out, cap, "%s", it->payload);
	if (!it->needs_check || n + 1 >= cap)
		return;
	if (it->f == SB_FMT_UPC_E) {
		upce_expand(it->payload, upca);
		out[n] = barcode_gs1_check_digit(upca, 11);
	} else {
		out[n] = barcode_gs1_check_digit(it->payload, n);
	}
	out[n + 1] = '\0';
}

static int write_pgm(const char *path, const struct gray_image *img)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	fprintf(f, "P5\n%d %d\n255\n", img->width, img->height);
	for (int y = 0; y < img->height; y++)
		fwrite(img->px + (size_t)y * img->stride, 1, (size_t)img->width, f);
	return fclose(f);
}

static int lower_name(enum sb_format f, char *out, size_t cap)
{
	const char *s = barcode_format_name(f);
	size_t i = 0;
	for (; s[i] && i + 1 < cap; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i] == '_' ? '-' : s[i]);
	out[i] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	char text[128], path[4096], name[32];
	int idx[SB_FMT_COUNT] = {0};
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		for (size_t i = 0; i < N_ITEMS; i++) {
			item_text(&items[i], text, sizeof(text));
			printf("%s\t%s\t%s\n", barcode_format_name(items[i].f), text,
			       items[i].gnu_enc ? items[i].gnu_enc : "-");
		}
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "render") != 0) {
		fprintf(stderr, "usage: gen_corpus list | gen_corpus render DIR\n");
		return 2;
	}
	for (size_t i = 0; i < N_ITEMS; i++) {
		struct gray_image img = {0};
		item_text(&items[i], text, sizeof(text));
		int rc = barcode_encode(text, items[i].f, 0, 0, &img);
		if (rc != 0) {
			fprintf(stderr, "gen_corpus: cannot encode %s \"%s\": %d\n",
				barcode_format_name(items[i].f), text, rc);
			return 1;
		}
		lower_name(items[i].f, name, sizeof(name));
		snprintf(path, sizeof(path), "%s/ours-%s-%d.pgm", argv[2], name, idx[items[i].f]++);
		if (write_pgm(path, &img) != 0) {
			perror(path);
			return 1;
		}
		printf("%s\t%s\t%s\n", strrchr(path, '/') + 1, text, barcode_format_name(items[i].f));
		gray_image_free(&img);
	}
	return 0;
}
