#!/usr/bin/env python3
"""Boot one test guest under wisp and judge the run.

    run_guest.py --wisp PATH --kernel IMG [--accel kvm|emu|auto]
                 [--expect-status N] [--expect-output REGEX ...]
                 [--reject-output REGEX ...] [--timeout S] [-- EXTRA WISP ARGS]

Runs `wisp run --accel ACCEL --kernel IMG --console stdio --timeout S
EXTRA...`, prints the guest's output and a verdict, and exits 0 (pass),
1 (fail) or 77 (skipped: --accel kvm and /dev/kvm missing or not usable),
which is what meson's test() expects. Standard library only.
"""

import argparse
import os
import re
import subprocess
import sys
import time

SKIP = 77

WISP_STATUS = {
    0: "clean poweroff/reset",
    2: "usage error",
    4: "image not loadable",
    6: "host cannot run it (no accelerator, memory)",
    8: "guest crash / triple fault",
    10: "timeout",
    12: "signal",
    14: "internal error",
}


def verdict(name, problems, elapsed):
    """Print one FAIL line per problem, or PASS; the exit status for meson."""
    if problems:
        for p in problems:
            print("FAIL: %s: %s" % (name, p))
        return 1
    print("PASS: %s (%.2fs)" % (name, elapsed))
    return 0


def describe_status(status):
    if status < 0:
        return "killed by signal %d" % -status
    if status & 1:
        return "guest debug-exit, value %#x" % ((status - 1) >> 1)
    return WISP_STATUS.get(status, "unknown status")


def kvm_usable():
    """None if /dev/kvm can be opened read-write, else the reason."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return "/dev/kvm: %s" % e.strerror
    os.close(fd)
    return None


def parse_args(argv):
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(
        description="Boot one test guest under wisp and check its exit status and output.")
    ap.add_argument("--wisp", required=True, help="the wisp executable")
    ap.add_argument("--kernel", required=True, help="the guest image")
    ap.add_argument("--accel", default="kvm", help="wisp's --accel (default: kvm)")
    ap.add_argument("--expect-status", type=int, default=1,
                    help="wisp's expected exit status (default 1: debug-exit with 0)")
    ap.add_argument("--expect-output", action="append", default=[], metavar="REGEX",
                    help="a regular expression the output must match (repeatable)")
    ap.add_argument("--reject-output", action="append", default=[], metavar="REGEX",
                    help="a regular expression the output must not match (repeatable)")
    ap.add_argument("--timeout", type=float, default=30,
                    help="wisp's --timeout in seconds (default 30)")
    args = ap.parse_args(argv)
    args.extra = extra
    return args


def main(argv):
    args = parse_args(argv)
    name = os.path.basename(args.kernel)

    if args.accel == "kvm":
        why = kvm_usable()
        if why:
            print("SKIP: %s: %s (needs a usable /dev/kvm)" % (name, why))
            return SKIP

    timeout = "%g" % args.timeout
    cmd = [args.wisp, "run", "--accel", args.accel, "--kernel", args.kernel,
           "--console", "stdio", "--timeout", timeout] + args.extra
    print("$ " + " ".join(cmd), flush=True)
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=args.timeout + 30)
        status, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        status, out, err = None, e.stdout or b"", e.stderr or b""
    except OSError as e:
        print("FAIL: %s: cannot run %s: %s" % (name, args.wisp, e.strerror))
        return 1
    elapsed = time.monotonic() - start
    out = out.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "")
    err = err.decode("utf-8", "replace")

    print("---- guest output (stdout) ----")
    sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
    if err.strip():
        print("---- wisp stderr ----")
        sys.stdout.write(err if err.endswith("\n") else err + "\n")
    print("-------------------------------")

    problems = []
    if status is None:
        problems.append("wisp did not exit within %gs (its own --timeout is %ss)"
                        % (args.timeout + 30, timeout))
    else:
        print("exit status %d (%s) after %.2fs" % (status, describe_status(status), elapsed))
        if status != args.expect_status:
            problems.append("exit status %d (%s), expected %d (%s)" % (
                status, describe_status(status), args.expect_status,
                describe_status(args.expect_status)))
    for rx in args.expect_output:
        if not re.search(rx, out, re.MULTILINE):
            problems.append("output does not match /%s/" % rx)
    for rx in args.reject_output:
        m = re.search(rx, out, re.MULTILINE)
        if m:
            line = out[out.rfind("\n", 0, m.start()) + 1:out.find("\n", m.end())
                       if out.find("\n", m.end()) >= 0 else len(out)]
            problems.append("output matches /%s/: %r" % (rx, line))
    return verdict(name, problems, elapsed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
