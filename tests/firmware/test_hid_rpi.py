# SPDX-License-Identifier: MIT
"""The Raspberry Pi boot fragments of firmware/rpi parse: config.txt files are
comments, [filter] sections and key=value lines with known keys (dtparam and
dtoverlay values of their own shape), every board's file names its board's
filter and ends back in [all]; cmdline.txt is one line of kernel parameters;
the watchdog drop-in is a systemd INI with RuntimeWatchdogSec under 16 s."""
import configparser
import os
import re

SRC = os.environ.get("SB_SOURCE_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
RPI = os.path.join(SRC, "firmware", "rpi")

KEYS = {"dtparam", "dtoverlay", "gpio", "enable_uart", "gpu_mem", "hdmi_ignore_hotplug",
        "arm_64bit", "hdmi_blanking", "disable_splash", "boot_delay"}
FILTERS = {"all", "pi3", "pi3+", "pi4", "pi400", "pi02", "pi0", "pi0w", "cm4", "none"}
OVERLAYS = {"disable-wifi", "disable-bt"}
BOARDS = {"pi3bplus.txt": "pi3+", "pi4b.txt": "pi4", "pi400.txt": "pi400", "zero2w.txt": "pi02"}


def parse_config_txt(path):
    """[(section, key, value)]; asserts on any line that is not understood."""
    out, section = [], "all"
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.fullmatch(r"\[([a-z0-9+]+)\]", line)
            if m:
                assert m.group(1) in FILTERS, f"{path}:{n}: unknown filter {line}"
                section = m.group(1)
                continue
            m = re.fullmatch(r"([a-z_0-9]+)=(\S+)", line)
            assert m, f"{path}:{n}: not key=value: {line!r}"
            key, value = m.groups()
            assert key in KEYS, f"{path}:{n}: unknown key {key}"
            if key == "dtparam":
                assert re.fullmatch(r"[a-z_]+=[a-z0-9_-]+", value), f"{path}:{n}: {value}"
            if key == "dtoverlay":
                assert value in OVERLAYS, f"{path}:{n}: unknown overlay {value}"
            if key == "gpio":
                assert re.fullmatch(r"\d+(,\d+)*=(op|ip)(,(dl|dh|pu|pd|pn))*", value), value
            if key in ("enable_uart", "gpu_mem", "hdmi_ignore_hotplug", "arm_64bit"):
                assert value.isdigit(), f"{path}:{n}: {key} needs a number"
            out.append((section, key, value))
    return out


def test_common_turns_the_watchdog_on():
    lines = parse_config_txt(os.path.join(RPI, "common.txt"))
    assert ("all", "dtparam", "watchdog=on") in lines
    assert ("all", "gpio", "17,18=op,dl") in lines


def test_boards_parse():
    for name, flt in BOARDS.items():
        path = os.path.join(RPI, name)
        with open(path) as f:
            text = f.read()
        lines = parse_config_txt(path)
        assert lines and all(s == flt for s, _, _ in lines), f"{name}: outside [{flt}]"
        assert text.rstrip().endswith("[all]"), f"{name}: must end back in [all]"
    # only the Zero 2 W keeps Wi-Fi (its only network)
    z = parse_config_txt(os.path.join(RPI, "zero2w.txt"))
    assert ("pi02", "dtoverlay", "disable-wifi") not in z


def test_cmdline_is_one_line():
    with open(os.path.join(RPI, "cmdline.txt")) as f:
        text = f.read()
    assert text.endswith("\n") and text.count("\n") == 1
    params = text.split()
    assert all(re.fullmatch(r"[a-z_.]+(=[\w:=.,/+-]+)?", p) for p in params), params
    assert any(p.startswith("root=") for p in params)


def test_watchdog_dropin():
    cp = configparser.ConfigParser()
    cp.optionxform = str
    cp.read(os.path.join(RPI, "system.conf.d", "scanbridge-watchdog.conf"))
    sec = int(cp["Manager"]["RuntimeWatchdogSec"].rstrip("s"))
    assert 0 < sec < 16      # bcm2835 watchdog maximum is ~15.9 s
