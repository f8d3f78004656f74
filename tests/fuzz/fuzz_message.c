/* SPDX-License-Identifier: MIT */
/* Fuzzes sb_msg_decode (depth 8, as the daemon's default max_json_depth) on
 * frames that are not NUL-terminated, as they arrive from lws. A decoded scan is
 * re-encoded with sb_msg_scan and sb_scan_to_json; both must print JSON that
 * parses, and the sb_msg_scan text must decode back to the same scan. A refused
 * frame's error must encode too (its message and id come from the input).
 * The same bytes go to sb_scan_decode (a REST scan body): a frame typed
 * "scan" that starts with '{' must get the very answer sb_msg_decode gave it,
 * the `type` member being one it ignores. */
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "message.h"
#include "sb_err.h"

#define DEPTH 8

static struct sb_client_msg msg, again; /* large: keep them off the stack */

/* s must be one JSON object; returns its parse for the caller to delete. */
static cJSON *parse_object(const char *s)
{
	cJSON *root;

	FUZZ_ASSERT(s != NULL);
	root = cJSON_Parse(s);
	FUZZ_ASSERT(cJSON_IsObject(root));
	return root;
}

static void check_scan_roundtrip(const struct sb_scan *scan)
{
	struct sb_scan s = *scan;
	char *text, *printed;
	cJSON *tree, *root;
	const cJSON *code;

	s.seq = 42;
	s.received_at = 1795000000123;
	snprintf(s.scanner, sizeof s.scanner, "sc-1");

	text = sb_msg_scan(&s);
	cJSON_Delete(parse_object(text));
	FUZZ_ASSERT(sb_msg_decode(text, strlen(text), DEPTH, &again, NULL) == 0);
	FUZZ_ASSERT(again.type == SB_MSG_SCAN);
	FUZZ_ASSERT(strcmp(again.scan.id, s.id) == 0);
	FUZZ_ASSERT(strcmp(again.scan.code, s.code) == 0);
	FUZZ_ASSERT(again.scan.format == s.format);
	FUZZ_ASSERT(again.scan.scanned_at == s.scanned_at);
	free(text);

	tree = sb_scan_to_json(&s);
	FUZZ_ASSERT(tree != NULL);
	printed = cJSON_PrintUnformatted(tree);
	root = parse_object(printed);
	code = cJSON_GetObjectItemCaseSensitive(root, "code");
	FUZZ_ASSERT(cJSON_IsString(code) && strcmp(code->valuestring, s.code) == 0);
	cJSON_Delete(root);
	free(printed);
	cJSON_Delete(tree);
}

/* Whether the first byte after JSON whitespace is '{' (sb_scan_decode's rule). */
static int starts_object(const char *buf, size_t size)
{
	size_t i = 0;

	while (i < size && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return i < size && buf[i] == '{';
}

static void check_scan_decode(const char *buf, size_t size, int msg_rc,
			      const struct sb_msg_error *msg_err)
{
	static struct sb_scan scan;
	struct sb_msg_error err;
	int rc = sb_scan_decode(buf, size, DEPTH, &scan, &err);

	FUZZ_ASSERT(rc == 0 || rc == SB_EPROTO || rc == SB_EINVAL ||
		    rc == SB_ECHECKDIGIT || rc == SB_ENOMEM);
	FUZZ_ASSERT(memchr(err.message, '\0', sizeof err.message) != NULL);
	if (rc == 0)
		check_scan_roundtrip(&scan);
	if (msg_rc == SB_EPROTO || msg_rc == SB_ENOMEM || rc == SB_ENOMEM ||
	    msg.type != SB_MSG_SCAN || !starts_object(buf, size))
		return;
	FUZZ_ASSERT(rc == msg_rc);
	FUZZ_ASSERT(strcmp(err.message, msg_err->message) == 0);
	FUZZ_ASSERT(strcmp(err.id, msg_err->id) == 0);
	if (rc == 0)
		FUZZ_ASSERT(strcmp(scan.id, msg.scan.id) == 0 &&
			    strcmp(scan.code, msg.scan.code) == 0 &&
			    scan.format == msg.scan.format && scan.scanned_at == msg.scan.scanned_at);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct sb_msg_error err;
	int depth_ok = sb_json_depth_ok(buf, size, DEPTH);
	int rc = sb_msg_decode(buf, size, DEPTH, &msg, &err);
	char *text;

	FUZZ_ASSERT(rc == 0 || rc == SB_EPROTO || rc == SB_EINVAL ||
		    rc == SB_ECHECKDIGIT || rc == SB_ENOMEM);
	if (!depth_ok)
		FUZZ_ASSERT(rc == SB_EPROTO);
	check_scan_decode(buf, size, rc, &err);
	if (rc == 0) {
		FUZZ_ASSERT(err.id[0] == '\0');
		if (msg.type == SB_MSG_SCAN)
			check_scan_roundtrip(&msg.scan);
		return 0;
	}
	FUZZ_ASSERT(memchr(err.message, '\0', sizeof err.message) != NULL);
	FUZZ_ASSERT(memchr(err.id, '\0', sizeof err.id) != NULL);
	text = sb_msg_error("invalid_request", err.message, err.id);
	cJSON_Delete(parse_object(text));
	free(text);
	return 0;
}
