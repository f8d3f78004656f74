/* SPDX-License-Identifier: MIT */
/* The hot-path decoder (proto/fastjson.c) against the cJSON decoder it
 * shortcuts: every frame the fast path takes must decode to the same message
 * through cJSON alone, so sb_msg_decode accepts exactly what it did before.
 * The hand-printed encoders must print what cJSON prints for the same text. */
#include <string.h>

#include <cjson/cJSON.h>

#include "fastjson.h"
#include "fuzz.h"
#include "message.h"

static struct sb_client_msg fast, tree;

static void check_decoder(const char *buf, size_t len)
{
	struct sb_msg_error e;

	memset(&fast, 0, sizeof fast);
	fast.scan.format = SB_FMT_UNKNOWN;
	fast.scan.scanned_at = -1;
	if (!sb_fast_decode(buf, len, &fast))
		return;
	FUZZ_ASSERT(sb_msg_decode_tree(buf, len, 8, &tree, &e) == 0);
	FUZZ_ASSERT(memcmp(&fast, &tree, sizeof fast) == 0);
}

/* The input as an id (NUL ends it) printed by sb_msg_delivered and by cJSON. */
static void check_encoder(const char *buf, size_t len)
{
	char id[256];
	size_t n = len < sizeof id - 1 ? len : sizeof id - 1;
	cJSON *o = cJSON_CreateObject();
	char *want, *got;

	memcpy(id, buf, n);
	id[n] = '\0';
	cJSON_AddStringToObject(o, "type", "delivered");
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddRawToObject(o, "seq", "7");
	want = cJSON_PrintUnformatted(o);
	got = sb_msg_delivered(id, 7);
	FUZZ_ASSERT(want && got && strcmp(want, got) == 0);
	free(want);
	free(got);
	cJSON_Delete(o);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decoder((const char *)data, size);
	check_encoder((const char *)data, size);
	return 0;
}
