/* SPDX-License-Identifier: MIT */
/* udev + libevdev (see devices.h). Each taken device is one fdwatch; its
 * struct lives until the watch ends (unplug: read() fails with ENODEV). */
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libevdev/libevdev.h>
#include <libudev.h>

#include "fdwatch.h"

struct dev {
	struct dev *next;
	char node[64];
	struct libevdev *evdev;
	struct gun *gun;
};

static struct udev *udev;
static struct udev_monitor *monitor;
static struct bridge *bridge;
static struct dev *devs;

static bool taken(const char *node)
{
	for (struct dev *d = devs; d; d = d->next)
		if (!strcmp(d->node, node))
			return true;
	return false;
}

static void devinfo(struct libevdev *e, struct hid_devinfo *i)
{
	memset(i, 0, sizeof *i);
	snprintf(i->name, sizeof i->name, "%s", libevdev_get_name(e) ? libevdev_get_name(e) : "");
	i->bustype = (uint16_t)libevdev_get_id_bustype(e);
	i->vendor = (uint16_t)libevdev_get_id_vendor(e);
	i->product = (uint16_t)libevdev_get_id_product(e);
	i->has_rel = libevdev_has_event_type(e, EV_REL);
	i->has_abs = libevdev_has_event_type(e, EV_ABS);
	i->has_enter = libevdev_has_event_code(e, EV_KEY, KEY_ENTER);
	i->has_digits = libevdev_has_event_code(e, EV_KEY, KEY_1) &&
			libevdev_has_event_code(e, EV_KEY, KEY_0);
	i->has_letters = libevdev_has_event_code(e, EV_KEY, KEY_A) &&
			 libevdev_has_event_code(e, EV_KEY, KEY_Z) &&
			 libevdev_has_event_code(e, EV_KEY, KEY_Q);
}

/* ---- events ------------------------------------------------------------------ */

static int dev_readable(void *arg, int fd)
{
	struct dev *d = arg;
	struct input_event ev;
	unsigned flag = LIBEVDEV_READ_FLAG_NORMAL;
	int rc;

	(void)fd;
	while ((rc = libevdev_next_event(d->evdev, flag, &ev)) >= 0) {
		if (rc == LIBEVDEV_READ_STATUS_SYNC) {
			/* Events were lost: the reader drops the partial code; the
			 * resync events only restore key state, which it resets. */
			if (flag == LIBEVDEV_READ_FLAG_NORMAL) {
				struct input_event drop = ev;
				drop.type = EV_SYN;
				drop.code = SYN_DROPPED;
				bridge_gun_event(d->gun, &drop);
			}
			flag = LIBEVDEV_READ_FLAG_SYNC;
			continue;
		}
		flag = LIBEVDEV_READ_FLAG_NORMAL;
		bridge_gun_event(d->gun, &ev);
	}
	if (rc == -EAGAIN)
		return 0;
	fprintf(stderr, "scanbridge-hid: %s: %s\n", d->node, strerror(-rc));
	return -1;
}

static void dev_closed(void *arg)
{
	struct dev *d = arg;

	for (struct dev **pp = &devs; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	if (d->gun)
		bridge_gun_remove(d->gun);
	libevdev_free(d->evdev);
	free(d);
}

static const struct fdwatch_ops dev_ops = { dev_readable, dev_closed };

/* ---- taking a device ------------------------------------------------------------- */

/* The gun's stable key: its USB serial, else its physical path. */
static void identity(struct udev_device *u, const char *node, char *key, size_t cap)
{
	const char *serial = udev_device_get_property_value(u, "ID_SERIAL_SHORT");
	const char *path = udev_device_get_property_value(u, "ID_PATH");

	if (serial && *serial)
		snprintf(key, cap, "%s", serial);
	else
		snprintf(key, cap, "%s", path && *path ? path : node);
}

static bool wanted(const struct hid_devinfo *i, const struct hid_reader_conf **rc)
{
	bool allowed;

	*rc = hid_config_reader_for(bridge->cfg, i->vendor, i->product, &allowed);
	return allowed || (bridge->cfg->heuristic && hid_looks_like_scanner(i));
}

static void consider(struct udev_device *u)
{
	const char *node = udev_device_get_devnode(u);
	const struct hid_reader_conf *rc;
	struct hid_devinfo info;
	struct dev *d;
	char key[OB_GUN_MAX];
	int fd;

	if (!node || strncmp(node, "/dev/input/event", 16) || taken(node))
		return;
	fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	d = calloc(1, sizeof *d);
	if (!d || libevdev_new_from_fd(fd, &d->evdev) < 0) {
		free(d);
		close(fd);
		return;
	}
	devinfo(d->evdev, &info);
	if (!wanted(&info, &rc) ||
	    (bridge->cfg->grab && libevdev_grab(d->evdev, LIBEVDEV_GRAB) < 0)) {
		if (bridge->cfg->grab && wanted(&info, &rc))
			fprintf(stderr, "scanbridge-hid: %s: cannot grab it (in use?)\n", node);
		libevdev_free(d->evdev);
		free(d);
		close(fd);
		return;
	}
	snprintf(d->node, sizeof d->node, "%s", node);
	identity(u, node, key, sizeof key);
	fprintf(stderr, "scanbridge-hid: %s: \"%s\" %04x:%04x taken as a gun\n", node, info.name,
		info.vendor, info.product);
	d->gun = bridge_gun_add(bridge, key, key, rc, true);
	d->next = devs;
	devs = d;
	if (!d->gun || !fdwatch_add(relay_context(bridge->relay), fd, &dev_ops, d)) {
		devs = d->next;
		if (d->gun)
			bridge_gun_remove(d->gun);
		libevdev_free(d->evdev);
		free(d);
	}
}

/* ---- udev ---------------------------------------------------------------------- */

static int monitor_readable(void *arg, int fd)
{
	struct udev_device *u = udev_monitor_receive_device(monitor);
	const char *action;

	(void)arg;
	(void)fd;
	if (!u)
		return 0;
	action = udev_device_get_action(u);
	if (action && !strcmp(action, "add"))
		consider(u);
	/* "remove": the device's own read fails with ENODEV and ends its watch */
	udev_device_unref(u);
	return 0;
}

static const struct fdwatch_ops monitor_ops = { monitor_readable, NULL };

static void enumerate(void)
{
	struct udev_enumerate *en = udev_enumerate_new(udev);
	struct udev_list_entry *e;

	if (!en)
		return;
	udev_enumerate_add_match_subsystem(en, "input");
	udev_enumerate_add_match_property(en, "ID_INPUT_KEYBOARD", "1");
	udev_enumerate_scan_devices(en);
	udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en)) {
		struct udev_device *u = udev_device_new_from_syspath(udev, udev_list_entry_get_name(e));
		if (u) {
			consider(u);
			udev_device_unref(u);
		}
	}
	udev_enumerate_unref(en);
}

int devices_start(struct bridge *br)
{
	int fd;

	bridge = br;
	udev = udev_new();
	if (!udev)
		return -1;
	monitor = udev_monitor_new_from_netlink(udev, "udev");
	if (!monitor || udev_monitor_filter_add_match_subsystem_devtype(monitor, "input", NULL) < 0 ||
	    udev_monitor_enable_receiving(monitor) < 0) {
		devices_stop();
		return -1;
	}
	/* the watch owns a duplicate: the monitor keeps and closes its own fd */
	fd = dup(udev_monitor_get_fd(monitor));
	if (fd < 0 || !fdwatch_add(relay_context(br->relay), fd, &monitor_ops, NULL)) {
		devices_stop();
		return -1;
	}
	enumerate();
	return 0;
}

void devices_stop(void)
{
	if (monitor)
		udev_monitor_unref(monitor);
	if (udev)
		udev_unref(udev);
	monitor = NULL;
	udev = NULL;
}
