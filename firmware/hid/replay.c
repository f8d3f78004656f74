/* SPDX-License-Identifier: MIT */
/* Recorded event streams (see replay.h). */
#include "replay.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

long hid_replay_read(struct hid_replay *rp, int fd, hid_event_cb cb, void *arg)
{
	unsigned char buf[HID_REC_SIZE * 64];
	ssize_t n;
	size_t off = 0;

	do
		n = read(fd, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return (long)n;
	while (off < (size_t)n) {
		size_t take = HID_REC_SIZE - rp->have;
		struct input_event ev;
		if (take > (size_t)n - off)
			take = (size_t)n - off;
		memcpy(rp->part + rp->have, buf + off, take);
		rp->have += take;
		off += take;
		if (rp->have < HID_REC_SIZE)
			break;
		rp->have = 0;
		hid_rec_decode(rp->part, &ev);
		cb(arg, &ev);
	}
	return (long)n;
}
