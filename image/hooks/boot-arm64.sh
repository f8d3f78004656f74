#!/bin/sh
# Raspberry Pi boot partition (/boot/firmware, FAT, label RASPIFIRM): Debian's
# raspi-firmware puts the GPU firmware, the kernel, the initramfs and the
# device trees there, and writes config.txt and cmdline.txt from
# /etc/default/raspi-* every time a kernel is installed. The appliance's
# settings go into those defaults, so a kernel upgrade by apt keeps them.
# firmware/rpi/ (scanbridge-hid's board configuration), when this tree has
# it: common.txt and each board's file (they carry their own [pi4]-style
# filters) are appended to config.txt, cmdline.txt replaces the generated
# one, system.conf.d/ goes to /etc/systemd/system.conf.d/.
#   hooks/boot-arm64.sh ROOT WORK TOP
set -eu
root=$1 top=$3
rpi=$top/firmware/rpi

cat > "$root/etc/default/raspi-firmware" <<'EOF2'
# scanbridge appliance (image/hooks/boot-arm64.sh)
ROOTPART=LABEL=RASPIROOT
CONSOLES="tty1"
EOF2
echo "fsck.repair=yes quiet loglevel=3 panic=10" > "$root/etc/default/raspi-extra-cmdline"
: > "$root/etc/default/raspi-firmware-custom"
if [ -d "$rpi" ]; then
	for f in "$rpi/common.txt" "$rpi"/pi*.txt "$rpi"/zero*.txt; do
		[ -f "$f" ] && cat "$f" >> "$root/etc/default/raspi-firmware-custom"
	done
	if [ -d "$rpi/system.conf.d" ]; then
		mkdir -p "$root/etc/systemd/system.conf.d"
		cp "$rpi"/system.conf.d/*.conf "$root/etc/systemd/system.conf.d/"
	fi
fi
kver=$(basename "$(readlink -f "$root/vmlinuz")" | sed 's/^vmlinuz-//')
# The hook acts only when called as a maintainer script would call it, and
# only on a mounted /boot/firmware unless it sees a chroot, which ischroot
# cannot tell without /proc: it is told.
chroot "$root" env DEB_MAINT_PARAMS=configure sh -c \
	'ischroot() { return 0; }; . /etc/kernel/postinst.d/z50-raspi-firmware' "$kver"
if [ -f "$rpi/cmdline.txt" ]; then
	cp "$rpi/cmdline.txt" "$root/boot/firmware/cmdline.txt"
	# kernel upgrades regenerate cmdline.txt from the defaults: keep them alike
	sed -e 's/^console=[^ ]* //; s/root=[^ ]* //; s/rootwait//; s/^rw //; s/  */ /g' "$rpi/cmdline.txt" \
		> "$root/etc/default/raspi-extra-cmdline"
fi
