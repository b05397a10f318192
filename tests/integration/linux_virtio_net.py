#!/usr/bin/env python3
"""A stock Linux kernel's virtio_net driver on a wisp tap device, over one
transport (pci: virtio-pci with MSI-X; mmio: virtio-mmio found in the DSDT).

The host side lives in a network namespace of its own, so nothing on the
host is touched: a tap there with 10.0.2.1/24, a busybox nc listening on
port 5001 and a busybox httpd on port 8080. wisp runs inside the namespace
with --net tap=...; the guest (the net workload of scripts/guest-linux)
sets up eth0 as 10.0.2.2/24, sends 1 MiB of random bytes with nc and
prints their SHA-256, fetches a 2 MiB file over HTTP and prints its
SHA-256. The test checks both directions byte for byte, the guest's MAC
address (given with mac= over pci; derived from the tap's name over mmio),
and that the driver counted no receive errors (a frame split over several
receive buffers that the driver found incomplete would show there).

usage: linux_virtio_net.py WISP IMAGES_DIR pci|mmio [wisp run options...]
(exits 77 when the images are missing, or namespaces or taps cannot be
made: not root, no ip, no busybox)"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

wisp, images, transport = sys.argv[1:4]
extra = sys.argv[4:]
assert transport in ("pci", "mmio"), transport
kernel = os.path.join(images, "vmlinuz")
initrd = os.path.join(images, "initramfs.cpio.gz")
if not (os.path.exists(kernel) and os.path.exists(initrd)):
    print(f"SKIP: no {kernel} or {initrd}: run scripts/guest-linux")
    sys.exit(77)
ip = shutil.which("ip") or "/usr/sbin/ip"
busybox = shutil.which("busybox")
if os.geteuid() != 0 or not os.path.exists(ip) or not busybox:
    print("SKIP: needs root, ip (iproute2) and busybox to make a namespace with a tap")
    sys.exit(77)

NS = f"wisp-net-{os.getpid()}"
TAP = "wisptap0"
GIVEN_MAC = "52:54:00:12:34:56"
UP_KIB = 1024
DOWN = os.urandom(2 << 20)


def default_mac(name):
    """virtio_net_default_mac: 02 and five bytes of the name's FNV-1a hash."""
    h = 0xcbf29ce484222325
    for c in name.encode():
        h = ((h ^ c) * 0x100000001b3) & (2**64 - 1)
    return ":".join(f"{b:02x}" for b in [2] + [(h >> (8 * i)) & 0xff for i in range(5)])


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True)


def in_ns(*args):
    return [ip, "netns", "exec", NS] + list(args)


procs = []
status = 1
with tempfile.TemporaryDirectory() as tmp:
    try:
        r = run(ip, "netns", "add", NS)
        if r.returncode:
            print(f"SKIP: cannot make a network namespace: {r.stderr.strip()}")
            sys.exit(77)
        r = run(*in_ns(ip, "tuntap", "add", "dev", TAP, "mode", "tap"))
        if r.returncode:
            print(f"SKIP: cannot make a tap: {r.stderr.strip()}")
            sys.exit(77)
        for cmd in (["addr", "add", "10.0.2.1/24", "dev", TAP], ["link", "set", TAP, "up"],
                    ["link", "set", "lo", "up"]):
            subprocess.run(in_ns(ip, *cmd), check=True)

        www = os.path.join(tmp, "www")
        os.mkdir(www)
        with open(os.path.join(www, "down"), "wb") as f:
            f.write(DOWN)
        received = os.path.join(tmp, "received")
        httpd = subprocess.Popen(in_ns(busybox, "httpd", "-f", "-p", "10.0.2.1:8080", "-h", www))
        procs.append(httpd)
        # The listener's stdin stays open: busybox nc half-closes the
        # connection when its stdin ends, and the guest's nc would then
        # stop before it has sent everything.
        with open(received, "wb") as out:
            listener = subprocess.Popen(in_ns(busybox, "nc", "-l", "-p", "5001"),
                                        stdin=subprocess.PIPE, stdout=out)
        procs.append(listener)
        time.sleep(0.5)

        mac = GIVEN_MAC if transport == "pci" else default_mac(TAP)
        net = f"tap={TAP}" + (f",mac={GIVEN_MAC}" if transport == "pci" else "")
        cmd = in_ns(wisp, "run", "--accel", "emu", "--mem", "512M", "--timeout", "400",
                    "--kernel", kernel, "--initrd", initrd, "--net", net,
                    "--transport", transport,
                    "--cmdline", "console=ttyS0 panic=-1 reboot=k quiet wisp.run=net "
                    f"wisp.kib={UP_KIB}") + extra
        print("$", " ".join(cmd), flush=True)
        p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=600)
        print(p.stdout)
        print(p.stderr, file=sys.stderr)
        try:
            listener.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        with open(received, "rb") as f:
            got = f.read()

        def line(key):
            m = re.search(rf"^net: {key} (\S+)", p.stdout, re.M)
            return m.group(1) if m else None

        m = re.search(r"^net: stats (.*)$", p.stdout, re.M)
        stats = dict(re.findall(r"(\w+) (\d+)", m.group(1))) if m else {}
        checks = [
            ("exit status 0 (ACPI power-off)", p.returncode == 0),
            (f"eth0 has the MAC {mac}", line("mac") == mac),
            ("eth0 has a carrier", re.search(r"^net: operstate \S+ carrier 1$", p.stdout, re.M)
             is not None),
            ("the guest's nc finished", "net: sent" in p.stdout),
            (f"the host received the guest's {UP_KIB} KiB whole",
             len(got) == UP_KIB * 1024 and line("up sha256") == hashlib.sha256(got).hexdigest()),
            ("the guest received the host's 2 MiB whole",
             line("down sha256") == hashlib.sha256(DOWN).hexdigest()),
            ("the driver counted no receive or transmit errors",
             stats.get("rx_length_errors") == "0" and stats.get("rx_frame_errors") == "0" and
             stats.get("tx_errors") == "0"),
            ("no kernel oops or panic", "Oops" not in p.stdout and "Kernel panic" not in p.stdout),
        ]
        failed = [name for name, ok in checks if not ok]
        for name, ok in checks:
            print(f"{'ok  ' if ok else 'FAIL'}: {name}")
        print(f"received {len(got)} bytes on the host; guest stats: {stats}")
        print(f"{'PASS' if not failed else 'FAIL'}: Linux virtio-net over {transport}")
        status = 1 if failed else 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        run(ip, "netns", "del", NS)
sys.exit(status)
