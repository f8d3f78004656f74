/* SPDX-License-Identifier: MIT */
/* A recorded event source: a file descriptor (a pipe, a FIFO, a file) carrying
 * the 24-byte records of reader.h. The bridge's --replay inputs and the replay
 * tests read through it into the same hid_reader the live devices use. Reads
 * may end mid-record (a pipe); the partial record is kept for the next read. */
#ifndef HID_REPLAY_H
#define HID_REPLAY_H
#include <stddef.h>

#include <linux/input.h>

#include "reader.h"

typedef void (*hid_event_cb)(void *arg, const struct input_event *ev);

struct hid_replay {
	unsigned char part[HID_REC_SIZE];
	size_t have;
};

/* Reads what fd has (one read()) and calls cb for each whole record. Returns
 * the number of bytes read (> 0), 0 at end of stream, or -1 with errno set
 * (EAGAIN on an empty non-blocking fd). */
long hid_replay_read(struct hid_replay *rp, int fd, hid_event_cb cb, void *arg);

#endif
