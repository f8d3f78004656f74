#!/bin/sh
# x86 boot: GRUB for UEFI (EFI/BOOT/BOOTX64.EFI on the ESP, the removable
# path every firmware looks at) and for BIOS (core.img in the BIOS boot
# partition), both made here with the build machine's GRUB (grub-efi-amd64-bin,
# grub-pc-bin; same Debian release), with the modules they need built in, so
# the image carries no grub packages. Both read /boot/grub/grub.cfg from the
# root file system, which boots /vmlinuz and /initrd.img: the links Debian's
# kernel packages keep current, so an apt kernel upgrade needs no GRUB step.
#   hooks/boot-amd64.sh ROOT WORK TOP
set -eu
root=$1 work=$2
mods="part_gpt part_msdos ext2 fat search search_label normal linux configfile echo test serial terminal gzio boot"
mkdir -p "$root/boot/grub" "$root/boot/efi/EFI/BOOT" "$work/grub-bios"
cat > "$root/boot/grub/grub.cfg" <<'CFG'
# scanbridge appliance (image/hooks/boot-amd64.sh)
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=1
menuentry "scanbridge" {
	search --no-floppy --label --set=root scanbridge-root
	linux /vmlinuz root=LABEL=scanbridge-root rw quiet loglevel=3 console=tty0 console=ttyS0,115200 panic=10
	initrd /initrd.img
}
CFG
cat > "$work/grub-early.cfg" <<'CFG'
search --no-floppy --label --set=root scanbridge-root
set prefix=($root)/boot/grub
configfile ($root)/boot/grub/grub.cfg
CFG
# shellcheck disable=SC2086
grub-mkimage -O x86_64-efi -o "$root/boot/efi/EFI/BOOT/BOOTX64.EFI" -c "$work/grub-early.cfg" \
	-p /boot/grub $mods efi_gop efi_uga all_video
# shellcheck disable=SC2086
grub-mkimage -O i386-pc -o "$work/grub-bios/core.img" -c "$work/grub-early.cfg" \
	-p /boot/grub $mods biosdisk
cp /usr/lib/grub/i386-pc/boot.img "$work/grub-bios/"
cp "$work/grub-bios/core.img" "$work/core.img"
