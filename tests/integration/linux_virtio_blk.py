#!/usr/bin/env python3
"""A stock Linux kernel's own virtio drivers on a wisp drive (and the
entropy device next to it), over one transport: an ext4 image
made by mke2fs -d from a folder is the guest's /dev/vda; the guest (the
blk workload of scripts/guest-linux) mounts it, prints the SHA-256 of
/hello.txt, writes /from-guest.txt and powers off. The test then reads
that file back out of the image on the host with debugfs: the bytes the
guest wrote really are in the image. The guest also lists how its virtio
interrupts arrived, which must match the transport:
  pci       virtio-pci, MSI-X messages (PCI-MSI in /proc/interrupts)
  pci-intx  virtio-pci with the kernel's MSI off (pci=nomsi): INTA# lines
            through the DSDT's _PRT to the IOAPIC
  mmio      virtio-mmio found in the DSDT, IOAPIC lines
and, on the project's own kernel (scripts/guest-kernel: no ACPI,
built-in drivers), which the stock kernel cannot show:
  mmio-cmdline  virtio-mmio announced on the kernel command line
                (virtio_mmio.device=), lines routed by the MP table
  mmio-dt       virtio-mmio announced in a device tree (setup_data), lines
                on the tree's IOAPIC node
  pci-mptable   virtio-pci with MSI off: INTA# lines routed by the MP
                table's PCI interrupt entries (no ACPI, no _PRT)

usage: linux_virtio_blk.py WISP IMAGES_DIR VARIANT [wisp run options...]
(exits 77 when the images or e2fsprogs are missing)"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

wisp, images, variant = sys.argv[1:4]
extra = sys.argv[4:]
# Kernel, wisp options, kernel arguments, the chip of the virtio
# interrupts, and vda's sysfs path (the bus and the announcement).
kernel_file, options, kernel_args, irq_chip, sysfs = {
    "pci": ("vmlinuz", ["--transport", "pci"], "", "PCI-MSI",
            r"/sys/devices/pci0000:00/0000:00:0[1-8]\.0/virtio\d+/block/vda"),
    "pci-intx": ("vmlinuz", ["--transport", "pci"], " pci=nomsi", "IO-APIC",
                 r"/sys/devices/pci0000:00/0000:00:0[1-8]\.0/virtio\d+/block/vda"),
    "mmio": ("vmlinuz", ["--transport", "mmio"], "", "IO-APIC",
             r"/sys/devices/platform/LNRO0005:\d+/virtio\d+/block/vda"),
    "mmio-cmdline": ("wisp-bzImage", ["--virtio-mmio-announce", "cmdline"], "", "IO-APIC",
                     r"/sys/devices/virtio-mmio-cmdline/virtio-mmio\.\d+/virtio\d+/block/vda"),
    "mmio-dt": ("wisp-bzImage", ["--virtio-mmio-announce", "dt"], "", "IO-APIC",
                r"/sys/devices/platform/fe000000\.virtio_mmio/virtio\d+/block/vda"),
    "pci-mptable": ("wisp-bzImage", ["--transport", "pci"], " pci=nomsi", "IO-APIC",
                    r"/sys/devices/pci0000:00/0000:00:0[1-8]\.0/virtio\d+/block/vda"),
}[variant]
kernel = os.path.join(images, kernel_file)
initrd = os.path.join(images, "initramfs.cpio.gz")
if not (os.path.exists(kernel) and os.path.exists(initrd)):
    print(f"SKIP: no {kernel} or {initrd}: run scripts/guest-linux and scripts/guest-kernel")
    sys.exit(77)
mke2fs = shutil.which("mke2fs") or "/sbin/mke2fs"
debugfs = shutil.which("debugfs") or "/sbin/debugfs"
if not (os.path.exists(mke2fs) and os.path.exists(debugfs)):
    print("SKIP: mke2fs/debugfs (e2fsprogs) not installed")
    sys.exit(77)

hello = b"hello from the host, through virtio-blk\n" * 100
with tempfile.TemporaryDirectory() as tmp:
    folder = os.path.join(tmp, "root")
    os.mkdir(folder)
    with open(os.path.join(folder, "hello.txt"), "wb") as f:
        f.write(hello)
    image = os.path.join(tmp, "disk.ext4")
    subprocess.run([mke2fs, "-q", "-t", "ext4", "-d", folder, image, "32M"], check=True)

    cmd = [wisp, "run", "--accel", "emu", "--mem", "512M", "--timeout", "400",
           "--kernel", kernel, "--initrd", initrd, "--drive", f"path={image}", "--rng",
           *options,
           "--cmdline", "console=ttyS0 panic=-1 reboot=k quiet wisp.run=blk" + kernel_args] + extra
    print("$", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=600)
    print(p.stdout)
    print(p.stderr, file=sys.stderr)
    # "irq: NAME CHIP COUNT" for every virtio interrupt the guest has.
    irqs = re.findall(r"^irq: (\S+) (\S+) (\d+)$", p.stdout, re.M)
    busy = [(name, chip) for name, chip, count in irqs if int(count) > 0]
    back = subprocess.run([debugfs, "-R", "cat /from-guest.txt", image],
                          capture_output=True).stdout
    checks = [
        ("exit status 0 (ACPI power-off, or a reset without ACPI)", p.returncode == 0),
        (f"the kernel found the disk where {variant} puts it",
         re.search(r"^blk: device " + sysfs + "$", p.stdout, re.M) is not None),
        ("the guest read hello.txt through virtio-blk",
         f"hello.txt sha256: {hashlib.sha256(hello).hexdigest()}" in p.stdout),
        ("the guest unmounted the file system", "blk: unmounted" in p.stdout),
        ("the image holds the file the guest wrote", back == b"written by the guest\n"),
        ("virtio-rng is the guest's hardware RNG and gives bytes",
         re.search(r"^rng: virtio_rng\S* (?!(00)+$)[0-9a-f]{32}$", p.stdout, re.M) is not None),
        (f"both devices interrupted the guest, all through {irq_chip}",
         len(busy) >= 2 and all(chip.startswith(irq_chip) for _, chip in busy)),
        ("no kernel oops or panic", "Oops" not in p.stdout and "Kernel panic" not in p.stdout),
    ]
failed = [name for name, ok in checks if not ok]
for name, ok in checks:
    print(f"{'ok  ' if ok else 'FAIL'}: {name}")
print(f"{'PASS' if not failed else 'FAIL'}: Linux virtio-blk over {variant}")
sys.exit(1 if failed else 0)
