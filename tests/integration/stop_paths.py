#!/usr/bin/env python3
"""The ways a running VM is stopped from outside, and what each leaves
behind: --timeout, SIGTERM, SIGINT and SIGHUP end wisp promptly with their
documented status, also with secondary vCPUs still waiting for INIT/SIPI;
--console file:PATH receives the guest's output.

usage: stop_paths.py WISP IDLE_GUEST HELLO_GUEST [kvm|emu]  (kvm: exits 77
without KVM)"""
import os
import signal
import subprocess
import sys
import tempfile
import time

wisp, idle, hello = sys.argv[1:4]
accel = sys.argv[4] if len(sys.argv) > 4 else "kvm"
if accel == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
    print("SKIP: /dev/kvm is not usable here")
    sys.exit(77)

EXIT_TIMEOUT, EXIT_SIGNAL = 10, 12
failures = 0


def check(name, ok, detail=""):
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if not ok:
        failures += 1


def start(extra):
    return subprocess.Popen([wisp, "run", "--accel", accel, "--mem", "64M", "--kernel", idle]
                            + extra, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_guest(p):
    """The idle guest prints one 'i' once it runs."""
    os.set_blocking(p.stdout.fileno(), True)
    return p.stdout.read(1) == "i"


t = time.monotonic()
p = start(["--timeout", "0.5"])
out, err = p.communicate(timeout=30)
elapsed = time.monotonic() - t
check("--timeout 0.5", p.returncode == EXIT_TIMEOUT and 0.4 < elapsed < 10,
      f"status {p.returncode}, {elapsed:.2f} s, stderr {err.strip()!r}")

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    for cpus in ("1", "4"):
        p = start(["--cpus", cpus, "--timeout", "60"])
        running = wait_for_guest(p)
        t = time.monotonic()
        p.send_signal(sig)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        elapsed = time.monotonic() - t
        check(f"{sig.name} with {cpus} vCPU(s)",
              running and p.returncode == EXIT_SIGNAL and elapsed < 5,
              f"status {p.returncode}, stopped in {elapsed:.2f} s, stderr {err.strip()!r}")

with tempfile.TemporaryDirectory() as tmp:
    log = os.path.join(tmp, "console.log")
    p = subprocess.run([wisp, "run", "--accel", accel, "--mem", "128M", "--kernel", hello,
                        "--console", "file:" + log], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    content = open(log).read() if os.path.exists(log) else ""
    check("--console file:PATH", p.returncode == 1 and p.stdout == ""
          and "Hello from a wisp test guest" in content,
          f"status {p.returncode}, {len(content)} bytes in the file, {len(p.stdout)} on stdout")
    p = subprocess.run([wisp, "run", "--accel", accel, "--mem", "128M", "--kernel", hello,
                        "--console", "none"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    check("--console none", p.returncode == 1 and p.stdout == "",
          f"status {p.returncode}, {len(p.stdout)} bytes on stdout")

print(f"{'PASS' if not failures else 'FAIL'}: stop paths")
sys.exit(1 if failures else 0)
