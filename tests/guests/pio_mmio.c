/* pio-mmio: port I/O and MMIO of every size against the test device's
 * scratch registers, all-ones reads from unassigned ports and MMIO, PCI
 * configuration mechanism #1, fw_cfg and the CMOS/RTC.
 *
 * Command line: "testdev" (the test device must be there: wisp run
 * --testdev), "machine=wisp" (check wisp's exact PCI IDs and unassigned
 * MMIO), "mem_mib=N" and "cpus=N" (the --mem / --cpus given). Without
 * them (e.g. under QEMU) the machine-specific checks are only reported. */
#include "guest.h"

#define TD_PORT  0xE0
#define TD_MMIO  0xFEB00000ull
#define TD_MMIO_SIZE 0x1000
#define UNASSIGNED_MMIO 0xFEA00000ull
#define MiB (1024ull * 1024)

enum space { PIO, MMIO };

static uint64_t rd(enum space s, uint64_t a, unsigned size)
{
	if (s == PIO) {
		switch (size) {
		case 1: return inb((uint16_t)a);
		case 2: return inw((uint16_t)a);
		default: return inl((uint16_t)a);
		}
	}
	switch (size) {
	case 1: return mmio_read8(a);
	case 2: return mmio_read16(a);
	case 4: return mmio_read32(a);
	default: return mmio_read64(a);
	}
}

static void wr(enum space s, uint64_t a, unsigned size, uint64_t v)
{
	if (s == PIO) {
		switch (size) {
		case 1: outb((uint16_t)a, (uint8_t)v); break;
		case 2: outw((uint16_t)a, (uint16_t)v); break;
		default: outl((uint16_t)a, (uint32_t)v); break;
		}
		return;
	}
	switch (size) {
	case 1: mmio_write8(a, (uint8_t)v); break;
	case 2: mmio_write16(a, (uint16_t)v); break;
	case 4: mmio_write32(a, (uint32_t)v); break;
	default: mmio_write64(a, v); break;
	}
}

static uint64_t size_mask(unsigned size)
{
	return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* For each size and offset (every offset for ports, aligned ones for
 * MMIO) inside an 8-byte block: zero the block, write one value, read it
 * back at the same size, then read every byte of the block and check
 * that exactly the written bytes changed, little endian. */
static void scratch_test(enum space s, uint64_t base, const char *what)
{
	static const unsigned pio_sizes[] = { 1, 2, 4 }, mmio_sizes[] = { 1, 2, 4, 8 };
	const unsigned *sizes = s == PIO ? pio_sizes : mmio_sizes;
	unsigned nsizes = s == PIO ? 3 : 4;

	for (unsigned si = 0; si < nsizes; si++) {
		unsigned size = sizes[si], bad = 0, n = 0;
		char first[96] = "";
		for (unsigned off = 0; off + size <= 8; off += (s == PIO ? 1 : size)) {
			uint64_t v = (0x8877665544332211ull * (off + 3) ^ 0xA5C3F00F5AA55AA5ull) & size_mask(size);
			for (unsigned i = 0; i < 8; i += 4)
				wr(s, base + i, 4, 0);
			wr(s, base + off, size, v);
			uint64_t got = rd(s, base + off, size);
			n++;
			if (got != v && !bad++)
				snprintf(first, sizeof(first), "read back %#lx at +%u, wrote %#lx",
					 (unsigned long)got, off, (unsigned long)v);
			for (unsigned i = 0; i < 8; i++) {
				uint8_t want = i >= off && i < off + size ? (uint8_t)(v >> (8 * (i - off))) : 0;
				uint8_t b = (uint8_t)rd(s, base + i, 1);
				if (b != want && !bad++)
					snprintf(first, sizeof(first), "byte +%u is %#x after a %u-byte write of %#lx at +%u",
						 i, b, size, (unsigned long)v, off);
			}
		}
		check(!bad, "%s: %u-byte writes/reads at %u offsets%s%s", what, size, n,
		      bad ? ": " : "", first);
	}
	/* one wide write, narrow reads of every offset */
	uint64_t q = 0x0123456789ABCDEFull;
	unsigned bad = 0;
	wr(s, base, 4, (uint32_t)q);
	wr(s, base + 4, 4, (uint32_t)(q >> 32));
	for (unsigned size = 1; size <= (s == PIO ? 4u : 8u); size *= 2)
		for (unsigned off = 0; off + size <= 8; off += (s == PIO ? 1 : size))
			bad += rd(s, base + off, size) != ((q >> (8 * off)) & size_mask(size));
	check(!bad, "%s: two 4-byte writes read back at every size and offset", what);
}

static int testdev_present(void)
{
	outb(TD_PORT, 0x5A);
	outb(TD_PORT + 7, 0xC3);
	return inb(TD_PORT) == 0x5A && inb(TD_PORT + 7) == 0xC3;
}

static void unassigned_ports(void)
{
	static const uint16_t ports[] = { 0x2F8, 0x3E8, 0x100 };
	for (unsigned i = 0; i < ARRAY_SIZE(ports); i++) {
		uint16_t p = ports[i];
		outb(p, 0x12);   /* writes are dropped */
		uint8_t b = inb(p);
		uint16_t w = inw(p);
		uint32_t l = inl(p);
		check(b == 0xFF && w == 0xFFFF && l == 0xFFFFFFFF,
		      "unassigned port %#x reads all ones (inb %#x, inw %#x, inl %#x)", p, b, w, l);
	}
}

static void unassigned_mmio(int strict)
{
	uint64_t a = UNASSIGNED_MMIO;
	mmio_write32(a, 0x12345678);
	mmio_write64(a + 8, 0);
	uint8_t b = mmio_read8(a);
	uint16_t w = mmio_read16(a + 2);
	uint32_t l = mmio_read32(a + 4);
	uint64_t q = mmio_read64(a + 8);
	int ok = b == 0xFF && w == 0xFFFF && l == 0xFFFFFFFF && q == ~0ull;
	if (strict)
		check(ok, "unassigned MMIO %#lx reads all ones at sizes 1/2/4/8 (%#x %#x %#x %#lx)",
		      (unsigned long)a, b, w, l, (unsigned long)q);
	else
		note("unassigned MMIO %#lx reads %#x %#x %#x %#lx (checked on wisp only)",
		     (unsigned long)a, b, w, l, (unsigned long)q);
}

static uint32_t pci_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xFC);
}

static void pci(int strict)
{
	outl(0xCF8, pci_addr(0, 0, 0, 0));
	uint32_t addr = inl(0xCF8);
	uint32_t id = inl(0xCFC);
	uint16_t vendor = inw(0xCFC), device = inw(0xCFE);
	uint8_t vlo = inb(0xCFC), dhi = inb(0xCFF);
	outl(0xCF8, pci_addr(0, 0, 0, 8));
	uint32_t class = inl(0xCFC) >> 8;

	check(addr == pci_addr(0, 0, 0, 0), "PCI CONFIG_ADDRESS (0xcf8) reads back (%#x)", addr);
	note("PCI 00:00.0 is %04x:%04x, class %06x", id & 0xFFFF, id >> 16, class);
	if (strict)
		check(id == 0x00081B36, "PCI 00:00.0 is the host bridge 1b36:0008 (got %04x:%04x)",
		      id & 0xFFFF, id >> 16);
	check((class >> 8) == 0x0600, "PCI 00:00.0 class is host bridge 06/00 (got %06x)", class);
	check(vendor == (id & 0xFFFF) && device == (id >> 16) && vlo == (uint8_t)id &&
	      dhi == (uint8_t)(id >> 24), "PCI config 8/16-bit reads at 0xcfc-0xcff agree with the 32-bit read");
	outl(0xCF8, pci_addr(0, 31, 0, 0));
	uint32_t absent = inl(0xCFC);
	outl(0xCF8, pci_addr(1, 0, 0, 0));
	uint32_t absent2 = inl(0xCFC);
	check(absent == 0xFFFFFFFF && absent2 == 0xFFFFFFFF,
	      "absent PCI functions 00:1f.0 and 01:00.0 read all ones (%#x, %#x)", absent, absent2);
}

static void fw_cfg(void)
{
	char sig[5] = { 0 };
	fw_cfg_read(FW_CFG_SIGNATURE, sig, 4);
	if (!check(!memcmp(sig, "QEMU", 4), "fw_cfg signature \"QEMU\" (got \"%s\")", sig))
		return;
	uint16_t ncpus = 0;
	fw_cfg_read(FW_CFG_NB_CPUS, &ncpus, 2);
	uint64_t want = cmdline_u64("cpus", 0);
	if (want)
		check(ncpus == want, "fw_cfg CPU count is %lu (got %u)", (unsigned long)want, ncpus);
	else
		check(ncpus >= 1 && ncpus <= 255, "fw_cfg CPU count is sane (%u)", ncpus);
	uint64_t ram = 0;
	fw_cfg_read(FW_CFG_RAM_SIZE, &ram, 8);
	uint64_t mem = cmdline_u64("mem_mib", 0) * MiB;
	if (mem)
		check(ram == mem, "fw_cfg RAM size is %lu MiB (got %lu bytes)", (unsigned long)(mem / MiB),
		      (unsigned long)ram);
	else
		note("fw_cfg RAM size %lu bytes", (unsigned long)ram);
}

static unsigned bcd(uint8_t v, int binary)
{
	return binary ? v : (unsigned)(v >> 4) * 10 + (v & 15);
}

static void cmos(void)
{
	uint64_t mem = cmdline_u64("mem_mib", 0) * MiB;
	unsigned base = cmos_read(0x15) | cmos_read(0x16) << 8;
	unsigned ext = cmos_read(0x17) | cmos_read(0x18) << 8;
	unsigned ext2 = cmos_read(0x30) | cmos_read(0x31) << 8;
	unsigned above16 = cmos_read(0x34) | cmos_read(0x35) << 8;
	note("CMOS memory: base %u KiB, extended %u KiB (%u), above 16 MiB %u x 64 KiB",
	     base, ext, ext2, above16);
	check(base == 640, "CMOS base memory (0x15/0x16) is 640 KiB (got %u)", base);
	check(ext == ext2, "CMOS extended memory at 0x17/0x18 and 0x30/0x31 agree");
	if (mem) {
		uint64_t low = mem < 0xC0000000ull ? mem : 0xC0000000ull;
		uint64_t e = (low - MiB) / 1024, a = low > 16 * MiB ? (low - 16 * MiB) / 65536 : 0;
		if (a > 0xFFFF)
			a = 0xFFFF;
		/* capped at 0xffff KiB (QEMU) or at 0xfc00 KiB = 63 MiB (Bochs BIOS) */
		check(ext == e || (e > 0xFC00 && (ext == 0xFC00 || ext == 0xFFFF)),
		      "CMOS extended memory is %u KiB for %lu MiB", ext, (unsigned long)(mem / MiB));
		check(above16 == a, "CMOS memory above 16 MiB (0x34/0x35) is %lu x 64 KiB",
		      (unsigned long)a);
	}

	/* RTC: wait for no update in progress (bounded), then read the date */
	for (unsigned i = 0; i < 100000 && (cmos_read(0x0A) & 0x80); i++)
		;
	uint8_t sb = cmos_read(0x0B);
	int binary = sb & 4;
	unsigned sec = bcd(cmos_read(0x00), binary), min = bcd(cmos_read(0x02), binary);
	uint8_t hr = cmos_read(0x04);
	unsigned hour = bcd(hr & 0x7F, binary);
	unsigned day = bcd(cmos_read(0x07), binary), mon = bcd(cmos_read(0x08), binary);
	unsigned year = bcd(cmos_read(0x09), binary), century = bcd(cmos_read(0x32), binary);
	if (!(sb & 2) && (hr & 0x80))
		hour = hour % 12 + 12;
	note("RTC: %02u%02u-%02u-%02u %02u:%02u:%02u (status B %#x)", century, year, mon, day,
	     hour, min, sec, sb);
	check(sec < 60 && min < 60 && hour < 24, "RTC time is sane");
	check(mon >= 1 && mon <= 12 && day >= 1 && day <= 31, "RTC date is sane");
	check(year >= 20 && (century == 20 || century == 0), "RTC year is 20%02u (century byte %u)",
	      year, century);
}

int guest_main(void)
{
	int wisp = 0;
	char m[16];
	if (!cmdline_value("machine", m, sizeof(m)))
		wisp = !strcmp(m, "wisp");

	checks_begin("pio-mmio", 0x20);
	note("cmdline: \"%s\"", boot_cmdline());
	int td = testdev_present();
	if (cmdline_flag("testdev") || td) {
		if (check(td, "test device present (scratch ports %#x-%#x)", TD_PORT, TD_PORT + 7)) {
			scratch_test(PIO, TD_PORT, "testdev ports");
			scratch_test(MMIO, TD_MMIO, "testdev MMIO");
			scratch_test(MMIO, TD_MMIO + TD_MMIO_SIZE - 8, "testdev MMIO end");
			scratch_test(MMIO, TD_MMIO + 0x800, "testdev MMIO middle");
		}
	} else {
		note("no test device (not run with --testdev): scratch checks skipped");
	}
	unassigned_ports();
	unassigned_mmio(wisp);
	pci(wisp);
	fw_cfg();
	cmos();
	return checks_end();
}
