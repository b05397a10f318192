#!/usr/bin/env python3
"""Wrap a flat 64-bit kernel into a Linux bzImage (boot protocol 2.15).

    mkbzimage.py [--init-size BYTES] [--pref-address ADDR] INPUT OUTPUT

INPUT is either a flat binary that expects to be loaded at --pref-address
(default 0x100000), with its 64-bit entry at offset 0x200, or an ELF64 file
whose PT_LOAD segments start at that address; an ELF is flattened here and
its init_size covers the segments' memory size (.bss included).

The result has one setup sector after the boot sector holding the setup
header and no real-mode code: a loader must use the 64-bit boot protocol
(load the payload at file offset (setup_sects + 1) * 512 to pref_address,
enter at pref_address + 0x200 in long mode with RSI = boot_params). The
16-bit entry at 0x200 only halts.
"""

import argparse
import struct
import sys

SETUP_SECTS = 1
HEADER_VERSION = 0x020F
LOADED_HIGH = 0x01
XLF_KERNEL_64 = 0x0001


def flatten_elf(data, base):
    """Lay the PT_LOAD segments of an ELF64 out from base; returns
    (flat bytes, memory size)."""
    if data[4] != 2 or data[5] != 1:
        raise ValueError("not a little-endian ELF64 file")
    e_phoff, = struct.unpack_from("<Q", data, 0x20)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 0x36)
    segs = []
    for i in range(e_phnum):
        p_type, _flags, p_offset, _vaddr, p_paddr, p_filesz, p_memsz, _align = \
            struct.unpack_from("<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == 1 and p_memsz:
            segs.append((p_paddr, p_offset, p_filesz, p_memsz))
    if not segs:
        raise ValueError("no PT_LOAD segment")
    low = min(s[0] for s in segs)
    if low != base:
        raise ValueError("lowest segment is at %#x, not at pref_address %#x" % (low, base))
    file_end = max(s[0] + s[2] for s in segs) - base
    mem_end = max(s[0] + s[3] for s in segs) - base
    flat = bytearray(file_end)
    for paddr, off, filesz, _memsz in segs:
        flat[paddr - base:paddr - base + filesz] = data[off:off + filesz]
    return bytes(flat), mem_end


def build(payload, init_size, pref_address):
    payload = payload + b"\0" * (-len(payload) % 16)
    init_size = max(init_size, len(payload))
    init_size = (init_size + 0xFFF) & ~0xFFF
    setup = bytearray((SETUP_SECTS + 1) * 512)

    def put(fmt, off, *vals):
        struct.pack_into("<" + fmt, setup, off, *vals)

    put("B", 0x1F1, SETUP_SECTS)          # setup_sects
    put("H", 0x1F2, 0)                    # root_flags
    put("I", 0x1F4, len(payload) // 16)   # syssize
    put("H", 0x1FA, 0xFFFF)               # vid_mode: normal
    put("H", 0x1FE, 0xAA55)               # boot_flag
    put("BB", 0x200, 0xEB, 0x280 - 0x202) # jmp short to the halt loop
    setup[0x202:0x206] = b"HdrS"
    put("H", 0x206, HEADER_VERSION)
    put("H", 0x20C, 0x1000)               # start_sys_seg (obsolete)
    put("H", 0x20E, 0x2A0 - 0x200)        # kernel_version string
    put("B", 0x211, LOADED_HIGH)          # loadflags
    put("I", 0x214, pref_address)         # code32_start
    put("I", 0x22C, 0x7FFFFFFF)           # initrd_addr_max
    put("I", 0x230, 0x200000)             # kernel_alignment
    put("B", 0x234, 0)                    # relocatable_kernel
    put("B", 0x235, 12)                   # min_alignment (log2)
    put("H", 0x236, XLF_KERNEL_64)        # xloadflags
    put("I", 0x238, 2047)                 # cmdline_size
    put("Q", 0x258, pref_address)         # pref_address
    put("I", 0x260, init_size)            # init_size
    setup[0x280:0x284] = bytes([0xFA, 0xF4, 0xEB, 0xFD])  # cli; 1: hlt; jmp 1b
    version = b"wisp test guest\0"
    setup[0x2A0:0x2A0 + len(version)] = version
    return bytes(setup) + payload


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--init-size", type=lambda s: int(s, 0), default=0,
                    help="memory the kernel needs from pref_address (flat input)")
    ap.add_argument("--pref-address", type=lambda s: int(s, 0), default=0x100000)
    ap.add_argument("input")
    ap.add_argument("output")
    args = ap.parse_args(argv)
    if args.pref_address < 0x100000:
        ap.error("pref_address must be at least 1 MiB")
    with open(args.input, "rb") as f:
        data = f.read()
    if data[:4] == b"\x7fELF":
        try:
            payload, mem_size = flatten_elf(data, args.pref_address)
        except ValueError as e:
            sys.exit("mkbzimage: %s: %s" % (args.input, e))
        init_size = max(mem_size, args.init_size)
    else:
        payload, init_size = data, args.init_size
    if len(payload) < 0x210:
        sys.exit("mkbzimage: %s: payload too small to hold a 64-bit entry at 0x200" % args.input)
    with open(args.output, "wb") as f:
        f.write(build(payload, init_size, args.pref_address))


if __name__ == "__main__":
    main(sys.argv[1:])
