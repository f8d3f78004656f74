#!/bin/sh
# mmdebstrap --customize-hook for the cached base root filesystem:
#   hooks/base.sh ROOT ARCH IMAGE_DIR
# The services that are on and off, and nothing that identifies one box: the
# machine id and SSH host keys are made on each box's first boot. The
# appliance's own files and settings (hooks/appliance.sh) are added on top of
# the cached base by build-image.sh, so changing them costs no rebuild of it.
set -eu
root=$1 arch=$2 image=$3

if [ "$arch" = arm64 ]; then boot=/boot/firmware; else boot=/boot/efi; fi
mkdir -p "$root$boot"
chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service \
	systemd-timesyncd.service
chroot "$root" systemctl disable ssh.service ssh.socket 2>/dev/null || true
chroot "$root" systemctl mask ssh.socket 2>/dev/null || true
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# One box, one identity: made at first boot.
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
# No password, ever: root stays locked (its password field is '*').
chroot "$root" passwd -l root >/dev/null
# Initramfs with the drivers for any box (USB sticks, SATA, NVMe, virtio).
sed -i 's/^MODULES=.*/MODULES=most/' "$root/etc/initramfs-tools/initramfs.conf"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
