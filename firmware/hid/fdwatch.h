/* SPDX-License-Identifier: MIT */
/* Foreign file descriptors (evdev devices, the udev monitor, replay pipes)
 * in the relay's lws event loop, adopted as lws "raw files": one loop, one
 * thread, no polling. */
#ifndef HID_FDWATCH_H
#define HID_FDWATCH_H
#include <libwebsockets.h>

struct fdwatch;

/* readable: fd has data (or hung up); return -1 to stop watching.
 * closed: the watch ended (readable returned -1, or fdwatch_remove); the fd
 * is closed by then, and w freed afterwards. */
struct fdwatch_ops {
	int (*readable)(void *arg, int fd);
	void (*closed)(void *arg);
};

/* The lws protocol to add to the context (relay_init's extra_protocol). */
extern const struct lws_protocols fdwatch_protocol;

/* Watches fd (ownership passes: it is closed when the watch ends). Returns
 * the watch, or NULL (fd closed) on failure. */
struct fdwatch *fdwatch_add(struct lws_context *ctx, int fd, const struct fdwatch_ops *ops,
			    void *arg);
/* Ends a watch from outside its callbacks; ops->closed is called. */
void fdwatch_remove(struct fdwatch *w);

#endif
