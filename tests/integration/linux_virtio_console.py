#!/usr/bin/env python3
"""A stock Linux kernel's virtio_console driver on wisp's virtio console
(--console-device virtio): the guest (the console workload of
scripts/guest-linux) prints a marker on /dev/hvc0; the test then writes
one line to wisp's stdin, which must reach the guest through hvc0 alone,
and the guest answers on hvc0 with the line and its SHA-256. The serial
port's output (the kernel's early messages, /init's own marker) still
reaches stdout.

usage: linux_virtio_console.py WISP IMAGES_DIR [wisp run options...]
(exits 77 when the images are missing)"""
import hashlib
import os
import secrets
import subprocess
import sys
import threading

wisp, images = sys.argv[1:3]
extra = sys.argv[3:]
kernel = os.path.join(images, "vmlinuz")
initrd = os.path.join(images, "initramfs.cpio.gz")
if not (os.path.exists(kernel) and os.path.exists(initrd)):
    print(f"SKIP: no {kernel} or {initrd}: run scripts/guest-linux")
    sys.exit(77)

# ttyS0 first: the kernel's console until virtio_console (a module here)
# registers hvc0, and /init's stdin and stdout.
cmd = [wisp, "run", "--accel", "emu", "--mem", "512M", "--timeout", "400",
       "--kernel", kernel, "--initrd", initrd, "--console-device", "virtio",
       "--cmdline", "console=ttyS0 console=hvc0 panic=-1 reboot=k quiet wisp.run=console"] + extra
print("$", " ".join(cmd), flush=True)
line = f"hello through hvc0 {secrets.token_hex(8)}"
proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
out_lines = []
ready = threading.Event()


def read_stdout():
    for raw in proc.stdout:
        text = raw.decode(errors="replace").rstrip("\r\n")
        out_lines.append(text)
        if text.strip() == "WISP-HVC ready":
            ready.set()


reader = threading.Thread(target=read_stdout, daemon=True)
reader.start()
# Until the marker, or the guest ended without one.
while not ready.wait(timeout=0.5) and proc.poll() is None:
    pass
sent = ready.is_set()
if sent:
    # Closing stdin too: what was written before the end of input still
    # reaches the guest.
    proc.stdin.write((line + "\n").encode())
    proc.stdin.close()
try:
    proc.wait(timeout=500)
except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
reader.join(timeout=10)
err = proc.stderr.read().decode(errors="replace")
stdout = "\n".join(out_lines)
print(stdout)
print(err, file=sys.stderr)

checks = [
    ("the guest printed its marker on hvc0", sent),
    ("exit status 0 (ACPI power-off)", proc.returncode == 0),
    ("the line came back through hvc0", f"got: {line}" in out_lines),
    ("... whole (its SHA-256)",
     f"sha256: {hashlib.sha256(line.encode()).hexdigest()}" in out_lines),
    ("hvc0 has the size offered (stdout is a pipe: 80x25)", "hvc0 size: 25 80" in out_lines),
    ("the serial port's output still reaches stdout",
     any(l.startswith("WISP-MARKER uptime") for l in out_lines)),
    ("host input went to hvc0 only, not to ttyS0",
     not any(l.startswith("ttyS0 got:") for l in out_lines)),
    ("the guest found /dev/hvc0", "console: no /dev/hvc0" not in out_lines),
    ("no kernel oops or panic", "Oops" not in stdout and "Kernel panic" not in stdout),
]
failed = [name for name, ok in checks if not ok]
for name, ok in checks:
    print(f"{'ok  ' if ok else 'FAIL'}: {name}")
print(f"{'PASS' if not failed else 'FAIL'}: Linux virtio-console")
sys.exit(1 if failed else 0)
