#!/usr/bin/env python3
"""A stock Linux kernel (Debian's cloud kernel, a bzImage) on the software
core, with 1 and with 2 vCPUs: it boots to a busybox /init, which runs a
small workload (arithmetic, a pipe, a file in tmpfs and its SHA-256) and
powers off through ACPI, ending wisp with status 0.

usage: linux_boot.py WISP IMAGES_DIR  (exits 77 when scripts/guest-linux
has not made the images)"""
import hashlib
import os
import subprocess
import sys
import time

wisp, images = sys.argv[1:3]
kernel = os.path.join(images, "vmlinuz")
initrd = os.path.join(images, "initramfs.cpio.gz")
if not (os.path.exists(kernel) and os.path.exists(initrd)):
    print(f"SKIP: no {kernel} or {initrd}: run scripts/guest-linux")
    sys.exit(77)

want_sha = hashlib.sha256(b"w" * 256 * 1024).hexdigest()
failed = []
for cpus in (1, 2):
    cmd = [wisp, "run", "--accel", "emu", "--mem", "512M", "--cpus", str(cpus),
           "--timeout", "400", "--kernel", kernel, "--initrd", initrd,
           "--cmdline", "console=ttyS0 panic=-1 reboot=k quiet wisp.run=workload"]
    print("$", " ".join(cmd), flush=True)
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=600)
    elapsed = time.monotonic() - t
    print(p.stdout)
    print(p.stderr, file=sys.stderr)
    checks = [
        ("exit status 0 (ACPI power-off)", p.returncode == 0),
        ("the marker from /init", "WISP-MARKER uptime" in p.stdout),
        (f"{cpus} CPU(s) online", f"cpus: {cpus}" in p.stdout),
        ("shell arithmetic", "arith: 42" in p.stdout),
        ("a pipe through seq, grep and wc", "pipe: 19" in p.stdout),
        ("SHA-256 of a file written in tmpfs", f"sha256: {want_sha}" in p.stdout),
        ("the workload finished", "WISP-DONE" in p.stdout),
        ("no kernel oops or panic", "Oops" not in p.stdout and "Kernel panic" not in p.stdout),
    ]
    for name, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} --cpus {cpus}: {name}")
        if not ok:
            failed.append(name)
    print(f"--cpus {cpus}: {elapsed:.1f} s, status {p.returncode}")
print(f"{'PASS' if not failed else 'FAIL'}: Linux on the software core")
sys.exit(1 if failed else 0)
