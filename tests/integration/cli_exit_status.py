#!/usr/bin/env python3
"""wisp's answers to bad user input: one clear message, a documented status,
and nothing started. Runs the real binary; needs no accelerator except where
a case says so."""
import fcntl
import os
import subprocess
import sys
import tempfile

wisp = sys.argv[1]
failures = 0


def case(name, args, status, message, stdin=None):
    global failures
    p = subprocess.run([wisp] + args, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    ok = p.returncode == status and message in p.stderr
    lines = [l for l in p.stderr.splitlines() if l.startswith("wisp: error")]
    if status not in (0,) and len(lines) != 1:
        ok = False
    print(f"{'ok  ' if ok else 'FAIL'} {name}: status {p.returncode} (want {status})")
    if not ok:
        print(f"     stderr: {p.stderr.strip()!r}\n     wanted a message containing {message!r}")
        failures += 1


with tempfile.TemporaryDirectory() as tmp:
    empty = os.path.join(tmp, "empty")
    open(empty, "w").close()
    text = os.path.join(tmp, "notes.txt")
    with open(text, "w") as f:
        f.write("this is not a kernel\n" * 100)
    truncated = os.path.join(tmp, "truncated-elf")
    with open(truncated, "wb") as f:
        f.write(b"\x7fELF\x02\x01\x01" + b"\0" * 9)

    case("no command", [], 2, "no command")
    case("unknown command", ["fly"], 2, "unknown command 'fly'")
    case("unknown flag", ["run", "--kernel", text, "--turbo"], 2, "unknown option '--turbo'")
    case("missing kernel flag", ["run"], 2, "needs --kernel")
    case("flag without value", ["run", "--kernel"], 2, "--kernel needs a value")
    case("bad size", ["run", "--kernel", text, "--mem", "lots"], 2, "'lots' is not a size")
    case("size not page aligned", ["run", "--kernel", text, "--mem", "5000000"], 2,
         "not a multiple of 4 KiB")
    case("too many cpus", ["run", "--kernel", text, "--cpus", "1000"], 2, "--cpus")
    case("bad accel", ["run", "--kernel", text, "--accel", "tcg"], 2, "--accel")
    case("bad console", ["run", "--kernel", text, "--console", "tty"], 2, "--console")
    case("bad timeout", ["run", "--kernel", text, "--timeout", "-1"], 2, "--timeout")
    case("bad transport", ["run", "--kernel", text, "--transport", "ccw"], 2,
         "--transport: 'ccw' is not one of auto, mmio, pci")
    case("pci transport with mmio devices on the command line",
         ["run", "--kernel", text, "--rng", "--transport", "pci", "--virtio-mmio-cmdline"],
         2, "on the command line or in a device tree needs --transport mmio")
    case("pci transport with mmio devices in a device tree",
         ["run", "--kernel", text, "--rng", "--transport", "pci", "--virtio-mmio-announce", "dt"],
         2, "needs --transport mmio")
    case("bad virtio-mmio announcement",
         ["run", "--kernel", text, "--virtio-mmio-announce", "acpi"], 2,
         "--virtio-mmio-announce: 'acpi' is not one of dsdt, cmdline, dt")
    case("flag with a value it does not take", ["run", "--kernel", text, "--rng=1"], 2, "--rng")
    case("drive without a path", ["run", "--kernel", text, "--drive", "ro"], 2, "--drive needs path=IMG")
    case("drive with an unknown key", ["run", "--kernel", text, "--drive", f"path={text},cache=none"],
         2, "--drive: 'cache=none' is not one of")
    case("drive id too long", ["run", "--kernel", text, "--drive", f"path={text},id={'x' * 21}"],
         2, "longer than 20 bytes")
    case("too many drives", ["run", "--kernel", text] + ["--drive", f"path={text}"] * 7, 2,
         "at most 6 drives")
    case("missing drive image", ["run", "--kernel", text, "--drive",
                                 "path=" + os.path.join(tmp, "nope.img")], 4,
         "--drive: cannot open")
    # Another process writing the image holds its lock: refused before the
    # guest starts, as a bad image.
    locked = os.path.join(tmp, "locked.img")
    with open(locked, "wb") as f:
        f.truncate(1 << 20)
    with open(locked, "rb+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        case("drive image locked by another process",
             ["run", "--kernel", text, "--drive", f"path={locked}"], 4,
             f"--drive: '{locked}' is in use by another process (locked)")
        case("read-only drive on an image another process writes",
             ["run", "--kernel", text, "--drive", f"path={locked},ro"], 4, "(locked)")
    case("drive image is a directory", ["run", "--kernel", text, "--drive", f"path={tmp},ro"], 4,
         "not a regular file or a block device")
    case("net without a tap", ["run", "--kernel", text, "--net", "mac=02:00:00:00:00:01"], 2,
         "--net needs tap=NAME")
    case("net tap name invalid", ["run", "--kernel", text, "--net", "tap=a/b"], 2,
         "'a/b' is not an interface name")
    case("net mac malformed", ["run", "--kernel", text, "--net", "tap=t0,mac=02:00:00:00:00"], 2,
         "is not of the form xx:xx:xx:xx:xx:xx")
    case("net mac multicast", ["run", "--kernel", text, "--net", "tap=t0,mac=01:00:5e:00:00:01"],
         2, "multicast")
    case("too many virtio devices", ["run", "--kernel", text, "--rng"] +
         ["--drive", f"path={text}"] * 6 + ["--net", "tap=t0", "--net", "tap=t1"], 2,
         "at most 8 virtio devices")
    case("too many virtio devices with the virtio console",
         ["run", "--kernel", text, "--rng", "--console-device", "virtio"] +
         ["--drive", f"path={text}"] * 6 + ["--net", "tap=t0"], 2, "at most 8 virtio devices")
    if os.access("/dev/net/tun", os.R_OK | os.W_OK):
        case("net on an interface that is not a tap", ["run", "--kernel", text, "--net", "tap=lo"],
             4, "'lo' exists but is not a single-queue tap")
    case("missing kernel file", ["run", "--kernel", os.path.join(tmp, "nope")], 4,
         "No such file or directory")
    case("kernel is a directory", ["run", "--kernel", tmp], 4, "not a regular file")
    case("empty kernel", ["run", "--kernel", empty], 4, "empty")
    case("missing initrd", ["run", "--kernel", text, "--initrd", os.path.join(tmp, "x")], 4,
         "initrd")
    case("more memory than the host", ["run", "--kernel", text, "--mem", "900G"], 6,
         "more than this host")
    case("console file in a missing folder",
         ["run", "--kernel", text, "--console", "file:" + os.path.join(tmp, "a", "b")], 2,
         "--console file:")
    case("not a kernel, software core", ["run", "--kernel", text, "--accel", "emu"], 4,
         "not a bootable kernel image")
    case("device tree for a kernel that is no bzImage",
         ["run", "--kernel", text, "--accel", "emu", "--virtio-mmio-announce", "dt"], 4,
         "a device tree is handed over in a bzImage's setup_data")
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        case("not a kernel", ["run", "--accel", "kvm", "--kernel", text], 4,
             "not a bootable kernel image")
        case("truncated ELF", ["run", "--accel", "kvm", "--kernel", truncated], 4, "")

p = subprocess.run([wisp, "--version"], capture_output=True, text=True)
if p.returncode != 0 or not p.stdout.startswith("wisp "):
    print("FAIL --version")
    failures += 1
p = subprocess.run([wisp, "--help"], capture_output=True, text=True)
if p.returncode != 0 or "exit status" not in p.stdout:
    print("FAIL --help")
    failures += 1

sys.exit(1 if failures else 0)
