/* SPDX-License-Identifier: MIT */
/* Raw-file adoption (see fdwatch.h). lws closes the descriptor of a raw file
 * wsi when it closes the wsi; the watch struct is freed in the close callback. */
#include "fdwatch.h"

#include <stdlib.h>
#include <unistd.h>

#define FDWATCH_PROTOCOL "scanbridge-hid-fd"

struct fdwatch {
	struct lws *wsi;
	int fd;
	const struct fdwatch_ops *ops;
	void *arg;
};

static int fdwatch_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		      void *in, size_t len)
{
	struct fdwatch *w = lws_get_opaque_user_data(wsi);

	if (!w)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		return w->ops->readable(w->arg, w->fd) < 0 ? -1 : 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		lws_set_opaque_user_data(wsi, NULL);
		if (w->ops->closed)
			w->ops->closed(w->arg);
		free(w);
		break;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols fdwatch_protocol = {
	FDWATCH_PROTOCOL, fdwatch_cb, 0, 0, 0, NULL, 0
};

struct fdwatch *fdwatch_add(struct lws_context *ctx, int fd, const struct fdwatch_ops *ops,
			    void *arg)
{
	struct fdwatch *w = calloc(1, sizeof *w);
	lws_sock_file_fd_type u;

	if (!w) {
		close(fd);
		return NULL;
	}
	w->fd = fd;
	w->ops = ops;
	w->arg = arg;
	u.filefd = fd;
	w->wsi = lws_adopt_descriptor_vhost(lws_get_vhost_by_name(ctx, "default"),
					    LWS_ADOPT_RAW_FILE_DESC, u, FDWATCH_PROTOCOL, NULL);
	if (!w->wsi) {
		free(w);
		close(fd);
		return NULL;
	}
	lws_set_opaque_user_data(w->wsi, w);
	return w;
}

void fdwatch_remove(struct fdwatch *w)
{
	lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}
