/* SPDX-License-Identifier: MIT */
/* The relay's internals shared by relay.c (links) and relay_http.c (REST). */
#ifndef HID_RELAY_PRIV_H
#define HID_RELAY_PRIV_H
#include "relay.h"

struct link;

struct relay {
	struct lws_context *ctx;
	struct relay__url url;
	char cafile[256];
	struct outbox *ob;
	const struct relay_ops *ops;
	void *arg;
	struct link *links;
	struct lws_protocols protocols[4];
};

void relay__event(struct relay *r, enum relay_ev ev, int64_t pairing, const char *detail);

#endif
