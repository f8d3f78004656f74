#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Boot smoke test of an appliance image under qemu (TCG), checked from outside
through user-mode networking with ports forwarded on 127.0.0.1 only:

  tests/image/boottest.py amd64 [--firmware uefi|bios] [--quick]
  tests/image/boottest.py arm64          (root filesystem under -M virt)

1. boot: time until /healthz answers (boot-to-ready); the root file system
   has grown, the box named itself scanbridge-XXXX, Avahi announces it;
2. the unit is active, notify-ready (StatusText from sd_notify), and the
   in-VM `systemd-analyze security` figure;
3. pair -> scan -> delivered with scanbridge-sim load through the port;
4. SIGSTOP the daemon: the watchdog restarts it;
5. a hard power-off (QMP quit, no shutdown) during a scan load: every scan
   acknowledged before the cut is there after the next boot;
6. a clean reboot keeps the data and the secret (the old desktop token,
   signed with it, still reads the scans).
SSH (for the checks inside) is turned on the appliance's way: an
authorized_keys file put on the FAT boot partition (mtools, no mount).
--quick stops after step 1 (the second firmware's boot check).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import ssl

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(TOP, "build-image")
PORT_HTTP, PORT_HTTPS, PORT_SSH = 18080, 18443, 18022
SIM = os.environ.get("SB_SIM", os.path.join(TOP, "build", "bin", "scanbridge-sim"))
results = {}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


class VM:
    def __init__(self, arch, firmware, workdir):
        self.arch, self.firmware, self.dir = arch, firmware, workdir
        self.proc = None
        self.qmp_path = os.path.join(workdir, "qmp.sock")

    def cmdline(self):
        fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in
                       ((PORT_HTTP, 80), (PORT_HTTPS, 443), (PORT_SSH, 22)))
        common = ["-m", "1024", "-smp", "2", "-accel", "tcg", "-display", "none",
                  "-monitor", "none", "-qmp", f"unix:{self.qmp_path},server,nowait",
                  "-drive", f"file={self.dir}/disk.img,format=raw,if=virtio,cache=none",
                  "-netdev", f"user,id=n,{fwd}", "-device", "virtio-net-pci,netdev=n",
                  "-serial", f"file:{self.dir}/console-{int(time.time())}.log"]
        if self.arch == "amd64":
            cmd = ["qemu-system-x86_64", "-machine", "q35"] + common
            if self.firmware == "uefi":
                cmd += ["-drive", "if=pflash,format=raw,readonly=on,"
                        "file=/usr/share/OVMF/OVMF_CODE_4M.fd",
                        "-drive", f"if=pflash,format=raw,file={self.dir}/vars.fd"]
            return cmd
        # The Pi's boot firmware does not run in qemu: the image's own kernel
        # and initramfs boot its root file system on -M virt.
        return ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72"] + common + [
            "-kernel", f"{self.dir}/vmlinuz", "-initrd", f"{self.dir}/initrd.img",
            "-append", "root=LABEL=RASPIROOT rw console=ttyAMA0 panic=10 quiet"]

    def start(self):
        if os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmdline(), stdout=subprocess.DEVNULL,
                                     stderr=open(f"{self.dir}/qemu.err", "a"))

    def qmp(self, *cmds):
        s = socket.socket(socket.AF_UNIX)
        for _ in range(50):
            try:
                s.connect(self.qmp_path)
                break
            except OSError:
                time.sleep(0.1)
        s.recv(65536)
        for c in ("qmp_capabilities",) + cmds:
            s.sendall(json.dumps({"execute": c}).encode() + b"\n")
            time.sleep(0.2)
        s.close()

    def power_off(self):
        """The plug pulled: qemu quits, the guest is told nothing."""
        self.qmp("quit")
        self.proc.wait(timeout=30)

    def wait_exit(self, timeout):
        self.proc.wait(timeout=timeout)

    def wait_ready(self, timeout):
        while time.monotonic() - self.t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit("qemu exited")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PORT_HTTP}/healthz",
                                            timeout=5) as r:
                    if r.status == 200:
                        return time.monotonic() - self.t0
            except OSError:
                pass
            time.sleep(2)
        raise SystemExit(f"/healthz did not answer within {timeout} s")

    def ssh(self, cmd, check=True):
        r = subprocess.run(["ssh", "-i", f"{self.dir}/key", "-p", str(PORT_SSH),
                            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20",
                            "root@127.0.0.1", cmd], capture_output=True, text=True, timeout=120)
        if check and r.returncode:
            raise SystemExit(f"ssh {cmd!r}: {r.returncode} {r.stderr}")
        return r.stdout

    def wait_ssh(self, timeout=180):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = subprocess.run(["ssh", "-i", f"{self.dir}/key", "-p", str(PORT_SSH), "-o",
                                "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
                                "root@127.0.0.1", "true"], capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(3)
        raise SystemExit("ssh did not come up (authorized_keys on the boot partition)")


def fat_offset(disk):
    """Byte offset of the FAT boot partition: the ESP of a GPT disk, or the
    Pi's firmware partition (MBR type 0x0c/0x0b)."""
    import struct
    import uuid
    esp = uuid.UUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
    with open(disk, "rb") as f:
        mbr = f.read(1024)
        if mbr[512:520] == b"EFI PART":
            lba, n, size = struct.unpack_from("<QII", mbr, 512 + 72)
            f.seek(lba * 512)
            for _ in range(n):
                e = f.read(size)
                if uuid.UUID(bytes_le=e[:16]) == esp:
                    return struct.unpack_from("<Q", e, 32)[0] * 512
        for i in range(4):
            e = mbr[0x1BE + 16 * i:0x1CE + 16 * i]
            if e[4] in (0x0B, 0x0C):
                return struct.unpack_from("<I", e, 8)[0] * 512
    raise SystemExit("no FAT partition in the image")


def prepare(arch, firmware):
    d = os.path.join(OUT, f"test-{arch}-{firmware}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    name = "scanbridge-x86-amd64" if arch == "amd64" else "scanbridge-rpi-arm64"
    img = os.path.join(OUT, f"work-{arch}", "images", f"{name}.img")
    disk = os.path.join(d, "disk.img")
    if os.path.exists(img):
        shutil.copyfile(img, disk)
    else:
        with open(disk, "wb") as f:
            subprocess.run(["xz", "-dc", os.path.join(OUT, "out", f"{name}.img.xz")],
                           stdout=f, check=True)
    run(["truncate", "-s", "4G", disk])   # an SD card larger than the image
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{d}/key"])
    off = fat_offset(disk)
    run(["mcopy", "-o", "-i", f"{disk}@@{off}", f"{d}/key.pub", "::authorized_keys"])
    if firmware == "uefi":
        shutil.copyfile("/usr/share/OVMF/OVMF_VARS_4M.fd", f"{d}/vars.fd")
    if arch == "arm64":
        boot = os.path.join(OUT, "work-arm64", "root", "boot")
        shutil.copyfile(os.path.realpath(os.path.join(boot, "..", "vmlinuz")), f"{d}/vmlinuz")
        shutil.copyfile(os.path.realpath(os.path.join(boot, "..", "initrd.img")), f"{d}/initrd.img")
    return d


def https(path, method="GET", token=None, body=None):
    ctx = ssl._create_unverified_context()   # the box's own CA; names are checked in-VM
    req = urllib.request.Request(f"https://127.0.0.1:{PORT_HTTPS}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        return json.loads(r.read())


def check(cond, what):
    log(("ok   " if cond else "FAIL ") + what)
    if not cond:
        raise SystemExit(f"FAIL: {what}")


def step_inside(vm):
    vm.wait_ssh()
    show = dict(l.split("=", 1) for l in vm.ssh(
        "systemctl show scanbridged -p ActiveState -p SubState -p Type -p StatusText "
        "-p WatchdogUSec -p NRestarts -p MainPID").split("\n") if "=" in l)
    check(show["ActiveState"] == "active" and show["Type"] == "notify", f"unit active, Type=notify: {show}")
    check(show["StatusText"].startswith("serving "), "READY=1 with STATUS=serving <url> (sd_notify)")
    host = vm.ssh("hostname").strip()
    check(host.startswith("scanbridge-") and len(host) == 15, f"host name {host} from the MAC")
    size = int(vm.ssh("df --output=size -B1M / | tail -1"))
    check(size > 3000, f"root file system grown to the disk: {size} MiB")
    avahi = vm.ssh("journalctl -b -u avahi-daemon --no-pager | grep -c 'successfully established' || true")
    check(int(avahi.strip() or 0) >= 1, "Avahi announces the scanbridge services")
    sec = vm.ssh("systemd-analyze security scanbridged --no-pager | tail -1")
    results["systemd_analyze_in_vm"] = sec.strip()
    log(f"     {sec.strip()}")
    check(vm.ssh("systemctl is-enabled ssh.socket", check=False).strip() == "masked",
          "SSH socket masked (sshd only through authorized_keys on the boot partition)")
    return host, show


def step_flow():
    r = subprocess.run([SIM, "load", "--url", f"https://127.0.0.1:{PORT_HTTPS}", "--insecure",
                        "--sessions", "1", "--scanners", "2", "--rate", "5", "--duration", "5",
                        "--connect-timeout", "60", "--json", "-q"],
                       capture_output=True, text=True, timeout=300)
    log(f"     sim load: {r.stdout.strip()[:400]}")
    res = json.loads(r.stdout)
    results["flow"] = res
    sent = res.get("sent", 0)
    check(r.returncode == 0 and sent > 0 and res.get("delivered") == sent and not res.get("lost"),
          f"pair -> scan -> delivered through the forwarded port ({sent} scans)")


def unit_props(vm, *props):
    out = vm.ssh("systemctl show scanbridged " + " ".join("-p " + p for p in props))
    return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)


def step_watchdog(vm, pid0):
    t = time.monotonic()
    vm.ssh(f"kill -STOP {pid0}")
    while time.monotonic() - t < 180:
        p = unit_props(vm, "NRestarts", "MainPID", "ActiveState")
        if p["NRestarts"] != "0" and p["ActiveState"] == "active" and p["MainPID"] not in ("0", pid0):
            break
        time.sleep(2)
    else:
        raise SystemExit("FAIL: the watchdog did not restart a stopped daemon in 180 s")
    dt = time.monotonic() - t
    results["watchdog_restart_s"] = round(dt, 1)
    j = vm.ssh("journalctl -b -u scanbridged --no-pager | grep -c 'Watchdog timeout' || true")
    check(int(j.strip() or 0) >= 1,
          f"SIGSTOP'd loop: 'Watchdog timeout', killed and restarted {dt:.0f} s after the stop")
    vm.t0 = time.monotonic()
    vm.wait_ready(120)


def step_powercut(vm):
    s = https("/api/v1/sessions", "POST", body={})
    pair = f"https://127.0.0.1:{PORT_HTTPS}/p#{s['pair_code']}"
    out = open(os.path.join(vm.dir, "powercut-acks.jsonl"), "w")
    sim = subprocess.Popen([SIM, "scanner", "--pair-url", pair, "--insecure", "--generate",
                            "ean13", "--count", "100000", "--rate", "20", "-q"],
                           stdout=out, stderr=subprocess.DEVNULL)
    time.sleep(15)
    vm.power_off()
    sim.kill()
    sim.wait()
    out.close()
    acked = {}
    for line in open(out.name):
        try:
            m = json.loads(line)
        except ValueError:
            continue
        if m.get("type") == "ack":
            acked[m["id"]] = m["seq"]
    check(len(acked) > 20, f"{len(acked)} scans acknowledged before the power cut")
    return s, acked


def stored_scans(s):
    got, after = {}, 0
    while True:
        r = https(f"/api/v1/sessions/{s['session']}/scans?after={after}&limit=500",
                  token=s["desktop_token"])
        for x in r["scans"]:
            got[x["id"]] = x["seq"]
        if not r["scans"]:
            return got
        after = r["scans"][-1]["seq"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("arch", choices=["amd64", "arm64"])
    ap.add_argument("--firmware", choices=["uefi", "bios"], default="uefi")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    fw = a.firmware if a.arch == "amd64" else "virt"
    d = prepare(a.arch, fw)
    vm = VM(a.arch, fw, d)
    timeout = 900
    log(f"boot 1 ({a.arch}, {fw}, TCG)")
    vm.start()
    results["boot_to_ready_first_s"] = round(vm.wait_ready(timeout), 1)
    log(f"     first boot to /healthz: {results['boot_to_ready_first_s']} s")
    if a.quick:
        vm.power_off()
        print(json.dumps(results))
        return
    host, show = step_inside(vm)
    secret0 = vm.ssh("sha256sum /var/lib/scanbridge/secret").split()[0]
    step_flow()
    step_watchdog(vm, show["MainPID"])
    s, acked = step_powercut(vm)
    log("boot 2 (after the power cut)")
    vm.start()
    results["boot_to_ready_after_cut_s"] = round(vm.wait_ready(timeout), 1)
    got = stored_scans(s)
    lost = [i for i, q in acked.items() if got.get(i) != q]
    check(not lost, f"no acknowledged scan lost to the power cut ({len(acked)} acked, "
          f"{len(got)} stored, {len(lost)} missing)")
    vm.wait_ssh()
    vm.ssh("systemctl reboot", check=False)
    while True:   # the daemon has stopped: the reboot is under way
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT_HTTP}/healthz", timeout=3)
            time.sleep(1)
        except OSError:
            break
    log("boot 3 (clean reboot)")
    vm.t0 = time.monotonic()
    results["boot_to_ready_reboot_s"] = round(vm.wait_ready(timeout), 1)
    vm.wait_ssh()
    check(vm.ssh("sha256sum /var/lib/scanbridge/secret").split()[0] == secret0,
          "the secret survived power cut and reboot")
    check(vm.ssh("hostname").strip() == host, "the host name stays")
    check(len(stored_scans(s)) == len(got), "the scans survived the reboot (old token still valid)")
    vm.ssh("systemctl poweroff", check=False)
    try:
        vm.wait_exit(120)
    except subprocess.TimeoutExpired:
        vm.power_off()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
