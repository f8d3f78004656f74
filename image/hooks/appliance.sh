#!/bin/sh
# The appliance's own files and settings, put on a copy of the cached base
# root filesystem after the scanbridge packages (build-image.sh, step 2):
#   hooks/appliance.sh ROOT ARCH IMAGE_DIR
# image/rootfs/ (first boot, SSH by key file, network, journal limits), the
# fstab, the placeholder host name (first boot sets scanbridge-XXXX).
set -eu
root=$1 arch=$2 image=$3

cp -a "$image/rootfs/." "$root/"
chroot "$root" systemctl enable scanbridge-firstboot.service scanbridge-sshkeys.service
if [ "$arch" = arm64 ]; then
	boot=/boot/firmware fatlabel=RASPIFIRM rootlabel=RASPIROOT
else
	boot=/boot/efi fatlabel=SB-EFI rootlabel=scanbridge-root
fi
# nofail + a generous device timeout: a box must boot even when its boot
# partition is slow to show up (or damaged); the service does not need it.
cat > "$root/etc/fstab" <<FSTAB
# ext4 with its journal (data=ordered): a power cut loses at most the last
# seconds of writes of files, never the file system; SQLite's WAL with
# synchronous=FULL (durability = full) keeps every acknowledged scan.
LABEL=$rootlabel	/	ext4	rw,noatime,errors=remount-ro,commit=5	0	1
LABEL=$fatlabel	$boot	vfat	rw,noatime,umask=0077,flush,nofail,x-systemd.device-timeout=90s	0	2
FSTAB
echo scanbridge > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tscanbridge\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
