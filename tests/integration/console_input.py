#!/usr/bin/env python3
"""Host input reaching the guest's serial port, through the echo guest:
from a pipe (with a paste larger than the UART's FIFO, nothing lost) and
from a terminal, which wisp puts in raw mode while it runs, where Ctrl-A x
quits, and which it restores however it exits.

usage: console_input.py WISP ECHO_GUEST [kvm|emu]  (kvm: exits 77 without
KVM)"""
import os
import pty
import signal
import subprocess
import sys
import termios
import time

wisp, echo = sys.argv[1:3]
accel = sys.argv[3] if len(sys.argv) > 3 else "kvm"
if accel == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
    print("SKIP: /dev/kvm is not usable here")
    sys.exit(77)

EXIT_SIGNAL = 12
CMD = [wisp, "run", "--accel", accel, "--mem", "64M", "--timeout", "60", "--kernel", echo]
failures = 0


def check(name, ok, detail=""):
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if not ok:
        failures += 1


# 1. A pipe: lines in, lines echoed, the guest's own exit status out.
lines = [f"line {i:03d} " + "x" * 90 for i in range(60)]   # ~6 KiB, > the RX queue
p = subprocess.run(CMD, input="\n".join(lines + ["exit 21"]) + "\n", capture_output=True,
                   text=True, timeout=90)
echoed = [l[len("echo: "):] for l in p.stdout.splitlines() if l.startswith("echo: line")]
check("piped input, all lines echoed in order", echoed == lines,
      f"{len(echoed)} of {len(lines)} lines back")
check("the guest's status through the pipe run", p.returncode == (21 << 1) | 1,
      f"status {p.returncode}, stderr {p.stderr.strip()!r}")


# 2. A terminal.
def run_on_tty(script, expect_status, name):
    """Run wisp with a pty as stdin; script(master, proc) drives it."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen(CMD, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    os.set_blocking(proc.stdout.fileno(), True)
    ready = proc.stdout.readline().strip() == "echo: ready"
    during = termios.tcgetattr(slave)
    raw = not (during[3] & termios.ICANON) and not (during[3] & termios.ECHO)
    script(master, proc)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    check(f"{name}: raw mode while running", ready and raw)
    check(f"{name}: status {expect_status}", proc.returncode == expect_status,
          f"status {proc.returncode}, stderr {err.strip()!r}")
    check(f"{name}: terminal restored", after == before)
    return out


out = run_on_tty(lambda m, p: os.write(m, b"hello\rquit\r"), 1, "guest quits")
check("terminal input arrives unchanged (CR, no line editing)",
      "echo: hello" in out, repr(out))
run_on_tty(lambda m, p: os.write(m, b"abc\x01x"), EXIT_SIGNAL, "Ctrl-A x")


def ctrl_a_twice(m, p):
    os.write(m, b"a\x01\x01b\rquit\r")


out = run_on_tty(ctrl_a_twice, 1, "Ctrl-A Ctrl-A")
check("Ctrl-A Ctrl-A sends one Ctrl-A", "echo: a\x01b" in out, repr(out))
run_on_tty(lambda m, p: (time.sleep(0.1), p.send_signal(signal.SIGTERM)), EXIT_SIGNAL,
           "SIGTERM")

print(f"{'PASS' if not failures else 'FAIL'}: console input")
sys.exit(1 if failures else 0)
