/* SPDX-License-Identifier: MIT */
/* Live guns: enumerates input devices through libudev at start and follows
 * hotplug through a udev monitor, opens each keyboard-class event device the
 * config allows (or the heuristic picks, heuristic.h) with libevdev, grabs it
 * (EVIOCGRAB: its keys never reach the console or anything else), and hands
 * its events to the bridge. A device that vanishes leaves the bridge; its
 * pairing stays, keyed by its serial (else its udev path), for when it is
 * plugged in again. */
#ifndef HID_DEVICES_H
#define HID_DEVICES_H

#include "bridge.h"
#include "heuristic.h"

/* Starts watching. Returns 0, or -1 after logging (no udev: a container). */
int devices_start(struct bridge *br);
/* Stops watching; the devices' watches end with the relay's context. */
void devices_stop(void);

#endif
