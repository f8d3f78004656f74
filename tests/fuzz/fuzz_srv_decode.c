/* SPDX-License-Identifier: MIT */
/* libFuzzer target for sb_srv_decode (proto/client.c), the decoder of server
 * messages that scanner-sim and the firmware run on whatever a server sends.
 * Invariants: it returns 0, SB_EPROTO or SB_EINVAL; on 0 every string field
 * is NUL-terminated inside its buffer and the type has a name; decoding the
 * same bytes again gives the same result; and a decoded scan, encoded again
 * by the daemon's own encoder (sb_msg_scan), decodes to the same scan. */
#include <string.h>

#include "client.h"
#include "fuzz.h"
#include "sb_err.h"

#define TERMINATED(field) FUZZ_ASSERT(memchr((field), '\0', sizeof(field)) != NULL)

static void check_strings(const struct sb_server_msg *m)
{
	TERMINATED(m->role);
	TERMINATED(m->session);
	TERMINATED(m->scanner);
	TERMINATED(m->name);
	TERMINATED(m->scan.id);
	TERMINATED(m->scan.code);
	TERMINATED(m->scan.scanner);
	TERMINATED(m->id);
	TERMINATED(m->code);
	TERMINATED(m->message);
	TERMINATED(m->reason);
}

/* What the daemon sends for a stored scan, this decoder reads back whole. */
static void check_scan_round_trip(const struct sb_server_msg *m)
{
	static struct sb_server_msg again;
	char *text = sb_msg_scan(&m->scan);

	if (!text)
		return; /* out of memory, or a field the encoder refuses */
	FUZZ_ASSERT(sb_srv_decode(text, strlen(text), &again) == 0);
	FUZZ_ASSERT(again.type == SB_SRV_SCAN);
	FUZZ_ASSERT(again.scan.seq == m->scan.seq);
	FUZZ_ASSERT(!strcmp(again.scan.id, m->scan.id));
	FUZZ_ASSERT(!strcmp(again.scan.code, m->scan.code));
	FUZZ_ASSERT(again.scan.format == m->scan.format);
	FUZZ_ASSERT(again.scan.scanned_at == m->scan.scanned_at);
	FUZZ_ASSERT(again.scan.received_at == m->scan.received_at);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* static: the struct is large, and each call starts from a clean one */
	static struct sb_server_msg m, m2;
	int rc = sb_srv_decode((const char *)data, size, &m);

	FUZZ_ASSERT(rc == 0 || rc == SB_EPROTO || rc == SB_EINVAL);
	FUZZ_ASSERT(sb_srv_decode((const char *)data, size, &m2) == rc);
	if (rc)
		return 0;
	FUZZ_ASSERT(!memcmp(&m, &m2, sizeof(m)));
	FUZZ_ASSERT(sb_srv_type_name(m.type) != NULL);
	check_strings(&m);
	if (m.type == SB_SRV_SCAN)
		check_scan_round_trip(&m);
	return 0;
}
