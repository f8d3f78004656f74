#!/usr/bin/env bash
# Builds a flashable scanbridge appliance image from Debian's archive and the
# freshly built scanbridge .debs (make deb / make deb-arm64):
#   image/build-image.sh amd64     build-image/out/scanbridge-x86-amd64.img.xz (UEFI + BIOS)
#   image/build-image.sh arm64     build-image/out/scanbridge-rpi-arm64.img.xz (Pi 3B+/4/400/Zero 2 W)
# 1. base root filesystem: mmdebstrap (image/packages.txt, customize hook
#    image/hooks/base.sh), cached in build-image/cache/ under a key of its
#    inputs: a rebuild after a code change starts from here;
# 2. the .debs installed into a copy of it (dpkg in a chroot; arm64 through
#    qemu-user-static's binfmt handler), then image/hooks/appliance.sh and
#    the boot loader (hooks/boot-<arch>.sh);
# 3. genimage: partition table, FAT boot partition and ext4 root made from
#    the directory (mkdosfs/mcopy, mke2fs -d: no loop devices, no mounts);
#    for BIOS, hooks/grub-bios-embed.py puts GRUB into the file itself;
# 4. xz and a SHA-256 file.
# XZ_LEVEL (default 6) trades the .xz size for time: 1 for quick rebuilds.
# Needs root (device nodes and file owners in the root filesystem).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
image=$top/image
arch=${1:?usage: build-image.sh amd64|arm64}
out=$top/build-image
debs=$out/deb/$arch
work=$out/work-$arch
suite=bookworm
mkdir -p "$out/cache" "$out/out" "$work"
t0=$(date +%s)
say() { echo "== [$(( $(date +%s) - t0 ))s] $*"; }

case $arch in
amd64) name=scanbridge-x86-amd64 boot=/boot/efi ;;
arm64) name=scanbridge-rpi-arm64 boot=/boot/firmware ;;
*) echo "unknown arch $arch" >&2; exit 2 ;;
esac
mapfile -t pkgdebs < <(ls "$debs"/scanbridge*_"$arch".deb | grep -v dbgsym)
[ ${#pkgdebs[@]} -gt 0 ] || { echo "no .debs in $debs: make deb${arch/amd64/}" >&2; exit 1; }

# ---- 1. base, cached ----
base_pkgs() {
	sed -e 's/#.*//' "$image/packages.txt" | awk -v a="$arch:" \
		'$1 ~ /:$/ { if ($1 != a) next; $1 = "" } { print }' | tr -s ' \n' '\n' | grep .
	for d in "${pkgdebs[@]}"; do dpkg-deb -f "$d" Depends; done |
		tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/:any//; s/ //g' | grep . | grep -v '^scanbridge'
}
pkgs=$(base_pkgs | sort -u | paste -sd, -)
key=$( (echo "$arch $suite $pkgs"; cat "$image/hooks/base.sh") | sha256sum | cut -c1-16)
base=$out/cache/base-$arch-$key.tar
if [ ! -f "$base" ]; then
	say "base root filesystem (not cached): $base"
	mmdebstrap --arch="$arch" --variant=minbase --components=main,non-free-firmware \
		--include="$pkgs" \
		--setup-hook="mkdir -p \"\$1$boot\"" \
		--essential-hook='echo "do_symlinks = yes" > "$1/etc/kernel-img.conf"' \
		--customize-hook="\"$image/hooks/base.sh\" \"\$1\" $arch \"$image\"" \
		"$suite" "$base.tmp.tar"
	mv "$base.tmp.tar" "$base"
	# one base per architecture: older keys are stale
	find "$out/cache" -name "base-$arch-*.tar" ! -name "${base##*/}" -delete
else
	say "base root filesystem (cached): $base"
fi

# ---- 2. root filesystem with the packages ----
root=$work/root
rm -rf "$root"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xpf "$base"
say "installing ${pkgdebs[*]##*/}"
mkdir -p "$root/tmp/debs"
cp "${pkgdebs[@]}" "$root/tmp/debs/"
chroot "$root" sh -c 'dpkg -i /tmp/debs/*.deb'
rm -rf "$root/tmp/debs"
"$image/hooks/appliance.sh" "$root" "$arch" "$image"
# a box's data dir is made by its own first start, never shipped
rm -rf "$root/var/lib/scanbridge"/*
"$image/hooks/boot-$arch.sh" "$root" "$work" "$top"

# ---- 3. disk image ----
say "genimage"
rm -rf "$work/genimage-tmp" "$work/images"
mkdir -p "$work/images"
genimage --rootpath "$root" --tmppath "$work/genimage-tmp" --inputpath "$work" \
	--outputpath "$work/images" --config "$image/genimage-$arch.cfg"
img=$work/images/$name.img
if [ "$arch" = amd64 ]; then
	say "GRUB for BIOS into the disk image"
	"$image/hooks/grub-bios-embed.py" "$img" "$work/grub-bios/boot.img" "$work/grub-bios/core.img"
fi

# ---- 4. compress, checksum ----
say "xz"
xz -T0 "-${XZ_LEVEL:-6}" -c "$img" > "$out/out/$name.img.xz.tmp"
mv "$out/out/$name.img.xz.tmp" "$out/out/$name.img.xz"
(cd "$out/out" && sha256sum "$name.img.xz" > "$name.img.xz.sha256")
say "done: $out/out/$name.img.xz ($(du -h "$out/out/$name.img.xz" | cut -f1))"
