#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Makes a GPT disk image BIOS-bootable with GRUB, in the image file itself
(grub-bios-setup would need the block device of its own directory):

  grub-bios-embed.py DISK.img BOOT.img CORE.img

CORE.img (grub-mkimage -O i386-pc) goes into the disk's BIOS boot partition
(type 21686148-...), and boot.img's code into the protective MBR, keeping the
partition table. The two numbers grub-bios-setup would patch are patched
here: boot.img's pointer to core.img's first sector (offset 0x5c), and the
block list at the end of core.img's first sector (diskboot.img) naming the
sectors that follow it. The drive check jump is replaced by NOPs, as
grub-bios-setup does for hard disks."""
import struct
import sys
import uuid

SECTOR = 512
BIOS_BOOT = uuid.UUID("21686148-6449-6E6F-744E-656564454649")


def bios_boot_lba(disk):
    disk.seek(SECTOR)
    hdr = disk.read(92)
    if hdr[:8] != b"EFI PART":
        sys.exit("no GPT header in sector 1")
    entries_lba, n, size = struct.unpack_from("<QII", hdr, 72)
    disk.seek(entries_lba * SECTOR)
    for _ in range(n):
        e = disk.read(size)
        if uuid.UUID(bytes_le=e[:16]) == BIOS_BOOT:
            first, last = struct.unpack_from("<QQ", e, 32)
            return first, last - first + 1
    sys.exit("no BIOS boot partition")


def main(disk_path, boot_path, core_path):
    boot = bytearray(open(boot_path, "rb").read())
    core = bytearray(open(core_path, "rb").read())
    core += b"\0" * (-len(core) % SECTOR)
    with open(disk_path, "r+b") as disk:
        lba, sectors = bios_boot_lba(disk)
        if len(core) // SECTOR > sectors:
            sys.exit("core.img is larger than the BIOS boot partition")
        struct.pack_into("<Q", boot, 0x5C, lba)          # GRUB_BOOT_MACHINE_KERNEL_SECTOR
        boot[0x66:0x68] = b"\x90\x90"                     # GRUB_BOOT_MACHINE_DRIVE_CHECK
        # diskboot.img's block list: start (u64), length (u16), segment (u16)
        struct.pack_into("<QH", core, SECTOR - 12, lba + 1, len(core) // SECTOR - 1)
        disk.seek(lba * SECTOR)
        disk.write(core)
        disk.seek(0)
        disk.write(boot[:440])                            # code only: keep the table
    print(f"GRUB BIOS: core.img at LBA {lba} ({len(core) // SECTOR} sectors)")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
