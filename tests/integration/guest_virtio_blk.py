#!/usr/bin/env python3
"""The virtio-blk test guest against two disk images with a known pattern.

    guest_virtio_blk.py --wisp PATH --kernel virtio-blk.elf
                        [--accel kvm|emu] [--transport mmio|pci] [--timeout S]

Creates a writable and a read-only image whose sectors hold the pattern
tests/guests/virtio_blk.c expects, runs the guest with both as --drive
(the writable one first, with an id=; the read-only one with ,ro and an id=
of its own), and checks that it exits through debug-exit with 0 and
reports PASS. Then reads the images on the host: in the writable one
exactly the sector the guest was told to write holds the guest's pattern,
every other sector is untouched; the read-only one is unchanged.

Exits 0 (pass), 1 (fail) or 77 (skipped: --accel kvm and /dev/kvm not
usable). Standard library only.
"""

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_guest import SKIP, describe_status, kvm_usable, verdict  # noqa: E402

SECTOR = 512
# Not a power of two, so a driver that rounds the capacity shows.
SECTORS = 3001
# 20 bytes, the most GET_ID holds: no NUL after it.
SERIAL = "wisp-blk-serial-0123"
RO_SERIAL = "ro-7"
# virtio-mmio slots 0 and 1 (vmm/memory_map.h: VIRTIO_MMIO_BASE, 0x200
# apart; slot n interrupts on GSI VIRTIO_MMIO_GSI_BASE + n); drives take
# the first slots in command-line order.
MMIO_BASES = (0xfe000000, 0xfe000200)
MMIO_GSI = 16
GUEST_TAG = b"wisp-blk-guest-w"


def image_sector(s):
    """Sector s of a fresh image (virtio_blk.c: image_byte)."""
    head = s.to_bytes(8, "little")
    return head + bytes((i * 7 + s * 13 + (s >> 8)) & 0xff for i in range(8, SECTOR))


def written_sector(s):
    """What the guest writes to sector s (virtio_blk.c: written_byte)."""
    return GUEST_TAG + bytes((0x5a ^ (i * 3) ^ s) & 0xff for i in range(len(GUEST_TAG), SECTOR))


def make_image(path):
    with open(path, "wb") as f:
        for s in range(SECTORS):
            f.write(image_sector(s))


def changed_sectors(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != SECTORS * SECTOR:
        return None
    return [s for s in range(SECTORS)
            if data[s * SECTOR:(s + 1) * SECTOR] != image_sector(s)], data


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wisp", required=True)
    ap.add_argument("--kernel", required=True, help="the virtio-blk guest image")
    ap.add_argument("--accel", default="kvm", choices=["kvm", "emu"])
    ap.add_argument("--transport", default="mmio", choices=["mmio", "pci"])
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args(argv)

    if args.accel == "kvm":
        why = kvm_usable()
        if why:
            print("SKIP: %s (needs a usable /dev/kvm)" % why)
            return SKIP

    # Anywhere but sector 0, the middle and the last sector, which the
    # guest reads for the image's pattern.
    write_sector = random.choice([s for s in range(1, SECTORS - 1) if s != SECTORS // 2])
    cmdline = ["transport=%s" % args.transport, "sectors=%d" % SECTORS,
               "write_sector=%d" % write_sector, "serial=%s" % SERIAL,
               "ro_drive", "ro_serial=%s" % RO_SERIAL]
    if args.transport == "mmio":
        cmdline += ["virtio_base=%#x" % MMIO_BASES[0], "virtio_gsi=%d" % MMIO_GSI,
                    "ro_base=%#x" % MMIO_BASES[1]]

    problems = []
    with tempfile.TemporaryDirectory(prefix="wisp-blk-") as tmp:
        rw, ro = os.path.join(tmp, "rw.img"), os.path.join(tmp, "ro.img")
        make_image(rw)
        make_image(ro)
        os.chmod(ro, 0o444)
        cmd = [args.wisp, "run", "--accel", args.accel, "--kernel", args.kernel,
               "--console", "stdio", "--timeout", "%g" % args.timeout, "--mem", "64M",
               "--transport", args.transport,
               "--drive", "path=%s,id=%s" % (rw, SERIAL),
               "--drive", "path=%s,ro,id=%s" % (ro, RO_SERIAL),
               "--cmdline", " ".join(cmdline)]
        print("$ " + " ".join(cmd), flush=True)
        start = time.monotonic()
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=args.timeout + 30)
        except subprocess.TimeoutExpired:
            print("FAIL: wisp did not exit within %gs" % (args.timeout + 30))
            return 1
        elapsed = time.monotonic() - start
        out = proc.stdout.decode("utf-8", "replace").replace("\r", "")
        err = proc.stderr.decode("utf-8", "replace")
        sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
        if err.strip():
            print("---- wisp stderr ----")
            sys.stdout.write(err if err.endswith("\n") else err + "\n")
        print("exit status %d (%s) after %.2fs" % (proc.returncode,
                                                   describe_status(proc.returncode), elapsed))

        if proc.returncode != 1:
            problems.append("exit status %d (%s), expected 1 (debug-exit 0)"
                            % (proc.returncode, describe_status(proc.returncode)))
        if not re.search(r"^PASS: virtio-blk", out, re.MULTILINE):
            problems.append("the guest did not report PASS")
        m = re.search(r"^FAIL.*$", out, re.MULTILINE)
        if m:
            problems.append("the guest reported %r" % m.group(0))

        # The images as the guest left them.
        res = changed_sectors(rw)
        if res is None:
            problems.append("the writable image changed size")
        else:
            changed, data = res
            got = data[write_sector * SECTOR:(write_sector + 1) * SECTOR]
            if changed != [write_sector]:
                problems.append("writable image: sectors %s changed, expected only %d"
                                % (changed[:10], write_sector))
            elif got != written_sector(write_sector):
                problems.append("writable image: sector %d is not the guest's pattern "
                                "(starts %r)" % (write_sector, got[:16]))
            else:
                print("host: sector %d of the writable image holds the guest's data, "
                      "the other %d sectors are unchanged" % (write_sector, SECTORS - 1))
        res = changed_sectors(ro)
        if res is None or res[0]:
            problems.append("the read-only image changed (sectors %s)"
                            % (res[0][:10] if res else "size"))
        else:
            print("host: the read-only image is unchanged")

    return verdict("virtio-blk %s/%s" % (args.accel, args.transport), problems, elapsed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
