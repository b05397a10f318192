/* ACPI tables written from the ACPI 6.x specification: every table is
 * built byte by byte at explicit offsets into a buffer holding the whole
 * window, then copied to guest RAM in one piece. */
#include "loader/acpi.h"

#include <stdlib.h>
#include <string.h>

#include "loader/bytes.h"
#include "loader/pci_intx.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"

_Static_assert(ACPI_TABLES_ADDR >= VGA_RAM_START && (ACPI_TABLES_ADDR & 0xF) == 0,
	       "RSDP at a paragraph of the BIOS area");
_Static_assert(ACPI_TABLES_ADDR >= 0xE0000 && ACPI_TABLES_ADDR + 36 <= 0x100000,
	       "RSDP where Linux scans for it");
_Static_assert(ACPI_TABLES_ADDR + ACPI_TABLES_SIZE <= MPTABLE_CONFIG_ADDR,
	       "ACPI tables stay clear of the MP configuration table");

#define OEM_ID        "WISP  "     /* 6 bytes */
#define OEM_TABLE_ID  "WISPVM  "   /* 8 bytes */
#define OEM_REVISION  1
#define CREATOR_ID    "WISP"
#define CREATOR_REV   1

#define HDR_SIZE      36           /* System Description Table Header */
#define RSDP_SIZE     36
#define FACS_SIZE     64
#define FADT_SIZE     276          /* revision 6 */
#define GAS_SIZE      12

/* Header offsets. */
#define HDR_LENGTH    4
#define HDR_REVISION  8
#define HDR_CHECKSUM  9

/* FADT offsets (ACPI 6.x table 5-34). */
#define FADT_FIRMWARE_CTRL   36
#define FADT_DSDT            40
#define FADT_PM_PROFILE      45
#define FADT_SCI_INT         46
#define FADT_SMI_CMD         48
#define FADT_PM1A_EVT_BLK    56
#define FADT_PM1A_CNT_BLK    64
#define FADT_PM_TMR_BLK      76
#define FADT_PM1_EVT_LEN     88
#define FADT_PM1_CNT_LEN     89
#define FADT_PM_TMR_LEN      91
#define FADT_P_LVL2_LAT      96
#define FADT_P_LVL3_LAT      98
#define FADT_IAPC_BOOT_ARCH  109
#define FADT_FLAGS           112
#define FADT_MINOR_VERSION   131
#define FADT_X_FIRMWARE_CTRL 132
#define FADT_X_DSDT          140
#define FADT_X_PM1A_EVT_BLK  148
#define FADT_X_PM1A_CNT_BLK  172

#define FADT_WBINVD          (1u << 0)
#define FADT_PROC_C1         (1u << 2)
#define FADT_PWR_BUTTON      (1u << 4)  /* power button: no fixed hardware */
#define FADT_SLP_BUTTON      (1u << 5)  /* sleep button: likewise */
#define FADT_FIX_RTC         (1u << 6)  /* no RTC wake status in PM1 */
#define BOOT_ARCH_LEGACY     (1u << 0)
#define BOOT_ARCH_8042       (1u << 1)

#define GAS_SYSTEM_IO        1
#define GAS_ACCESS_WORD      2

/* MADT (ACPI 6.x 5.2.12). */
#define MADT_REVISION        5
#define MADT_PCAT_COMPAT     1u
#define MADT_LAPIC           0
#define MADT_IOAPIC          1
#define MADT_ISO             2
#define MADT_LAPIC_NMI       4
#define MADT_LAPIC_SIZE      8
#define MADT_IOAPIC_SIZE     12
#define MADT_ISO_SIZE        10
#define MADT_LAPIC_NMI_SIZE  6
#define MPS_HIGH             0x1u   /* MPS INTI flags: polarity active high */
#define MPS_EDGE             (0x1u << 2)
#define MPS_LEVEL            (0x3u << 2)

/* ---- AML (ACPI 6.x chapter 20), written front to back ------------------
 *
 * A package (Scope, Device, Buffer, Package) starts with a PkgLength that
 * counts the bytes after its opcode, itself included, and takes 1 to 3
 * bytes by the length it encodes: aml_open leaves room for the longest,
 * aml_close writes the shortest and moves the body up to it, so nested
 * packages need no sizes worked out beforehand. */
#define AML_SCOPE_OP     0x10
#define AML_NAME_OP      0x08
#define AML_BUFFER_OP    0x11
#define AML_PACKAGE_OP   0x12
#define AML_ZERO_OP      0x00
#define AML_ONE_OP       0x01
#define AML_BYTE_PREFIX  0x0A
#define AML_WORD_PREFIX  0x0B
#define AML_DWORD_PREFIX 0x0C
#define AML_STRING_PREFIX 0x0D
#define AML_QWORD_PREFIX 0x0E
#define AML_EXT_OP       0x5B
#define AML_DEVICE_OP    0x82     /* after AML_EXT_OP */
#define AML_PKGLENGTH_MAX 3       /* 20 bits: far more than a DSDT here needs */

/* The DSDT body for the most devices takes about 750 bytes; the unit
 * tests build that case. */
#define DSDT_AML_MAX 2048

struct aml {
	uint8_t buf[DSDT_AML_MAX];
	size_t len;
	bool full;                 /* something did not fit: the AML is void */
};

static void aml_put(struct aml *a, const void *src, size_t n)
{
	if (a->full || n > sizeof(a->buf) - a->len) {
		a->full = true;
		return;
	}
	memcpy(a->buf + a->len, src, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_put(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned bytes)
{
	uint8_t b[8];

	for (unsigned i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_put(a, b, bytes);
}

/* An Integer in its shortest encoding, the one iasl writes. */
static void aml_integer(struct aml *a, uint64_t v)
{
	if (v <= 1) {
		aml_byte(a, v ? AML_ONE_OP : AML_ZERO_OP);
	} else if (v <= 0xFF) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xFFFF) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xFFFFFFFF) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

/* NameOp and a NameSeg: Name (seg, <the object that follows>). */
static void aml_name(struct aml *a, const char seg[4])
{
	aml_byte(a, AML_NAME_OP);
	aml_put(a, seg, 4);
}

/* PkgLength for body bytes that follow it into p; returns the bytes it
 * took. */
static size_t put_pkglength(uint8_t *p, size_t body)
{
	size_t n = body + 1 <= 0x3F ? 1 : body + 2 <= 0xFFF ? 2 : 3;
	size_t len = body + n;

	if (n == 1) {
		p[0] = (uint8_t)len;
		return 1;
	}
	p[0] = (uint8_t)(((n - 1) << 6) | (len & 0xF));
	for (size_t i = 1; i < n; i++)
		p[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
	return n;
}

/* Where the package's PkgLength goes, for aml_close. */
static size_t aml_open(struct aml *a)
{
	static const uint8_t room[AML_PKGLENGTH_MAX];
	size_t at = a->len;

	aml_put(a, room, sizeof(room));
	return at;
}

static void aml_close(struct aml *a, size_t at)
{
	uint8_t enc[AML_PKGLENGTH_MAX];
	size_t body, n;

	if (a->full)
		return;
	body = a->len - at - AML_PKGLENGTH_MAX;
	if (body + AML_PKGLENGTH_MAX > 0xFFFFF) {
		a->full = true;
		return;
	}
	n = put_pkglength(enc, body);
	memmove(a->buf + at + n, a->buf + at + AML_PKGLENGTH_MAX, body);
	memcpy(a->buf + at, enc, n);
	a->len = at + n + body;
}

/* Device (seg) { ...: close it with aml_close. */
static size_t aml_device(struct aml *a, const char seg[4])
{
	size_t at;

	aml_byte(a, AML_EXT_OP);
	aml_byte(a, AML_DEVICE_OP);
	at = aml_open(a);
	aml_put(a, seg, 4);
	return at;
}

/* Buffer (len) { bytes } */
static void aml_buffer(struct aml *a, const uint8_t *bytes, size_t len)
{
	size_t at;

	aml_byte(a, AML_BUFFER_OP);
	at = aml_open(a);
	aml_integer(a, len);
	aml_put(a, bytes, len);
	aml_close(a, at);
}

/* Package () { ...: close it with aml_close after n elements. */
static size_t aml_package(struct aml *a, uint8_t n)
{
	size_t at;

	aml_byte(a, AML_PACKAGE_OP);
	at = aml_open(a);
	aml_byte(a, n);                        /* NumElements */
	return at;
}

/* ---- resource descriptors (ACPI 6.x 6.4) --------------------------------- */

#define RES_IO_PORT        0x47   /* small item 0x08, 7 bytes of data */
#define RES_END_TAG        0x79   /* small item 0x0F, 1 byte: checksum 0 = none */
#define RES_MEMORY32_FIXED 0x86   /* large item, 9 bytes of data */
#define RES_DWORD_SPACE    0x87   /* large item, 23 bytes of data (no source) */
#define RES_WORD_SPACE     0x88   /* large item, 13 bytes of data (no source) */
#define RES_EXT_IRQ        0x89   /* large item */
#define RES_WORD_SPACE_SIZE  16
#define RES_DWORD_SPACE_SIZE 26
#define RES_IO_PORT_SIZE     8

#define IO_DECODE16        0x01   /* I/O port descriptor: 16-bit decode */
#define SPACE_MEMORY       0      /* address space descriptors: resource type */
#define SPACE_IO           1
#define SPACE_BUS_NUMBER   2
/* General flags: a producer (bit 0 clear: the bridge hands the range on),
 * positive decode (bit 1 clear), minimum and maximum fixed. */
#define SPACE_FIXED_WINDOW 0x0C
#define SPACE_IO_ENTIRE    0x03   /* _RNG: ISA and non-ISA ports alike */
#define SPACE_MEM_RW_UC    0x01   /* _RW read-write, _MEM non-cacheable,
				   * _MTP AddressRangeMemory */

/* An address space window [min, max], granularity and translation 0. */
static uint8_t *put_word_space(uint8_t *p, uint8_t type, uint8_t type_flags, uint16_t min,
			       uint16_t max)
{
	p[0] = RES_WORD_SPACE;
	put_le16(p + 1, RES_WORD_SPACE_SIZE - 3);
	p[3] = type;
	p[4] = SPACE_FIXED_WINDOW;
	p[5] = type_flags;
	put_le16(p + 6, 0);                    /* _GRA */
	put_le16(p + 8, min);
	put_le16(p + 10, max);
	put_le16(p + 12, 0);                   /* _TRA */
	put_le16(p + 14, (uint16_t)(max - min + 1));
	return p + RES_WORD_SPACE_SIZE;
}

static uint8_t *put_dword_space(uint8_t *p, uint8_t type, uint8_t type_flags, uint32_t min,
				uint32_t max)
{
	p[0] = RES_DWORD_SPACE;
	put_le16(p + 1, RES_DWORD_SPACE_SIZE - 3);
	p[3] = type;
	p[4] = SPACE_FIXED_WINDOW;
	p[5] = type_flags;
	put_le32(p + 6, 0);
	put_le32(p + 10, min);
	put_le32(p + 14, max);
	put_le32(p + 18, 0);
	put_le32(p + 22, max - min + 1);
	return p + RES_DWORD_SPACE_SIZE;
}

/* ---- the DSDT's devices ----------------------------------------------------
 *
 *   Name (_S5, Package () { 5, 5, 0, 0 })
 *   Scope (\_SB) { Device (PCI0) { ... }  one Device (VRnn) per virtio-mmio
 *                  device }
 */
static const uint8_t dsdt_s5[] = {
	0x08,                    /* NameOp */
	'_', 'S', '5', '_',      /* NameSeg "_S5_" */
	0x12,                    /* PackageOp */
	0x08,                    /* PkgLength: 8 bytes, this one included */
	0x04,                    /* NumElements */
	0x0A, ACPI_S5_SLP_TYP,   /* BytePrefix: SLP_TYP for PM1a_CNT */
	0x0A, ACPI_S5_SLP_TYP,   /* BytePrefix: SLP_TYP for PM1b_CNT */
	0x00,                    /* ZeroOp: reserved */
	0x00,                    /* ZeroOp: reserved */
};

#define EISAID_PNP0A03    0x030AD041u  /* compressed "PNP", product 0x0A03 */
#define PCI_CONFIG_PORT   0xCF8        /* CONFIG_ADDRESS and CONFIG_DATA: 8 ports */
#define PCI_CONFIG_PORTS  8
#define PCI0_CRS_SIZE     (RES_WORD_SPACE_SIZE + RES_IO_PORT_SIZE + 2 * RES_WORD_SPACE_SIZE + \
			   RES_DWORD_SPACE_SIZE + 2)

/* The PCI root bridge. Linux, once ACPI is on, enumerates PCI only below
 * the host bridges the namespace declares, and gives the root bus only
 * the windows their _CRS names: without them no BAR could be placed.
 *   Device (PCI0) {
 *       Name (_HID, EisaId ("PNP0A03"))
 *       Name (_UID, 0)
 *       Name (_SEG, 0)
 *       Name (_BBN, 0)
 *       Name (_CRS, ResourceTemplate () {
 *           WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
 *                          0, 0, 0, 0, 1)               bus 0 alone
 *           IO (Decode16, 0xCF8, 0xCF8, 1, 8)           the config ports
 *           WordIO (..., EntireRange, 0, 0x0000, 0x0CF7, 0, 0x0CF8)
 *           WordIO (..., EntireRange, 0, 0x0D00, 0xFFFF, 0, 0xF300)
 *           DWordMemory (..., NonCacheable, ReadWrite,
 *                        0, PCI_MMIO_START, PCI_MMIO_END - 1, 0, size)
 *       })
 *       Name (_PRT, Package () {                        with routes only
 *           Package () { (slot << 16) | 0xFFFF, pin - 1, 0, gsi }, ...
 *       })
 *   }
 * The config ports are listed as QEMU lists them; Linux recognises the
 * range and keeps it out of the root bus's windows. _PRT names GSIs
 * directly (Source 0, no link devices): the OS programs each IOAPIC pin
 * level-triggered, active low, as PCI INTx lines are. */
static void put_pci_root(struct aml *a, const struct loader_pci_intx *pci, unsigned npci)
{
	uint8_t crs[PCI0_CRS_SIZE], *p = crs;
	size_t dev, prt;

	p = put_word_space(p, SPACE_BUS_NUMBER, 0, 0, 0);
	p[0] = RES_IO_PORT;
	p[1] = IO_DECODE16;
	put_le16(p + 2, PCI_CONFIG_PORT);      /* _MIN */
	put_le16(p + 4, PCI_CONFIG_PORT);      /* _MAX */
	p[6] = 1;                              /* _ALN */
	p[7] = PCI_CONFIG_PORTS;               /* _LEN */
	p += RES_IO_PORT_SIZE;
	p = put_word_space(p, SPACE_IO, SPACE_IO_ENTIRE, 0x0000, PCI_CONFIG_PORT - 1);
	p = put_word_space(p, SPACE_IO, SPACE_IO_ENTIRE, 0x0D00, 0xFFFF);
	p = put_dword_space(p, SPACE_MEMORY, SPACE_MEM_RW_UC, (uint32_t)PCI_MMIO_START,
			    (uint32_t)(PCI_MMIO_END - 1));
	*p++ = RES_END_TAG;
	*p++ = 0;

	dev = aml_device(a, "PCI0");
	aml_name(a, "_HID");
	aml_integer(a, EISAID_PNP0A03);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	aml_buffer(a, crs, (size_t)(p - crs));
	if (npci) {
		/* An empty _PRT is a malformed one to ACPICA. */
		aml_name(a, "_PRT");
		prt = aml_package(a, (uint8_t)npci);
		for (unsigned i = 0; i < npci; i++) {
			size_t entry = aml_package(a, 4);

			aml_integer(a, ((uint32_t)pci[i].slot << 16) | 0xFFFF); /* any function */
			aml_integer(a, pci[i].pin - 1u);  /* 0 = INTA# */
			aml_integer(a, 0);                /* Source: a GSI, no link device */
			aml_integer(a, pci[i].gsi);       /* SourceIndex: the GSI */
			aml_close(a, entry);
		}
		aml_close(a, prt);
	}
	aml_close(a, dev);
}

_Static_assert(PCI_MMIO_START < PCI_MMIO_END && PCI_MMIO_END <= 0x100000000ull,
	       "the PCI memory window fits a DWordMemory descriptor");
_Static_assert(PCI_CONFIG_PORT + PCI_CONFIG_PORTS <= 0x0D00,
	       "the config ports lie between the two I/O windows");

/* A virtio-mmio device, as Linux's virtio_mmio driver matches it:
 *   Device (VRnn) {
 *       Name (_HID, "LNRO0005")
 *       Name (_UID, nn)
 *       Name (_CRS, ResourceTemplate () {
 *           Memory32Fixed (ReadWrite, base, size)
 *           Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) { gsi }
 *       })
 *   }
 * The Interrupt descriptor is what makes the OS program the IOAPIC pin
 * (GSI >= 16: no MADT override applies) level-triggered and active high,
 * as virtio_mmio.c drives the line. */
#define VIRTIO_CRS_SIZE   23     /* 12 + 9 + 2 bytes of resource descriptors */
#define EXT_IRQ_CONSUMER   0x01  /* level (bit 1 clear), active high (bit 2
				  * clear), exclusive (bit 3 clear) */

static uint8_t hex_digit(unsigned v)
{
	return (uint8_t)(v < 10 ? '0' + v : 'A' + v - 10);
}

static void put_virtio_mmio_device(struct aml *a, unsigned index,
				   const struct loader_virtio_mmio *d)
{
	static const char hid[] = "LNRO0005";
	const char name[4] = { 'V', 'R', (char)hex_digit((index >> 4) & 0xF),
			       (char)hex_digit(index & 0xF) };
	uint8_t crs[VIRTIO_CRS_SIZE], *p = crs;
	size_t dev;

	*p++ = RES_MEMORY32_FIXED;
	put_le16(p, 9);
	p += 2;
	*p++ = 0x01;                           /* read-write */
	put_le32(p, (uint32_t)d->base);
	put_le32(p + 4, d->size);
	p += 8;
	*p++ = RES_EXT_IRQ;
	put_le16(p, 6);
	p += 2;
	*p++ = EXT_IRQ_CONSUMER;
	*p++ = 1;                              /* one interrupt */
	put_le32(p, d->gsi);
	p += 4;
	*p++ = RES_END_TAG;
	*p++ = 0;

	dev = aml_device(a, name);
	aml_name(a, "_HID");
	aml_byte(a, AML_STRING_PREFIX);
	aml_put(a, hid, sizeof(hid));          /* with its NUL */
	aml_name(a, "_UID");
	aml_byte(a, AML_BYTE_PREFIX);          /* even for 0, as before */
	aml_byte(a, (uint8_t)index);
	aml_name(a, "_CRS");
	aml_buffer(a, crs, sizeof(crs));
	aml_close(a, dev);
}

/* The DSDT's definition blocks into a; false when they did not fit. */
static bool build_dsdt_aml(struct aml *a, const struct loader_virtio_mmio *virtio,
			   unsigned nvirtio, const struct loader_pci_intx *pci, unsigned npci)
{
	size_t sb;

	a->len = 0;
	a->full = false;
	aml_put(a, dsdt_s5, sizeof(dsdt_s5));
	aml_byte(a, AML_SCOPE_OP);
	sb = aml_open(a);
	aml_put(a, "\\_SB_", 5);               /* RootChar, NameSeg */
	put_pci_root(a, pci, npci);
	for (unsigned i = 0; i < nvirtio; i++)
		put_virtio_mmio_device(a, i, &virtio[i]);
	aml_close(a, sb);
	return !a->full;
}

struct window {
	uint8_t *buf;
	uint64_t used;
	bool full;
};

/* Offset into the window of a fresh, zeroed, aligned block of len bytes;
 * sets full (and returns 0) when it does not fit. */
static uint64_t take(struct window *w, uint64_t len, uint64_t align)
{
	uint64_t off = (w->used + align - 1) & ~(align - 1);

	if (w->full || off > ACPI_TABLES_SIZE || len > ACPI_TABLES_SIZE - off) {
		w->full = true;
		return 0;
	}
	w->used = off + len;
	return off;
}

static void put_header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put_le32(t + HDR_LENGTH, len);
	t[HDR_REVISION] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put_le32(t + 24, OEM_REVISION);
	memcpy(t + 28, CREATOR_ID, 4);
	put_le32(t + 32, CREATOR_REV);
}

static void finish(uint8_t *t, uint32_t len)
{
	t[HDR_CHECKSUM] = 0;
	t[HDR_CHECKSUM] = (uint8_t)-byte_sum(t, len);
}

static void put_gas_io(uint8_t *g, uint8_t bits, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = bits;
	g[2] = 0;                /* bit offset */
	g[3] = GAS_ACCESS_WORD;
	put_le64(g + 4, port);
}

static void build_fadt(uint8_t *t, uint64_t facs, uint64_t dsdt)
{
	put_header(t, "FACP", FADT_SIZE, 6);
	/* FACS through X_FIRMWARE_CTRL only: with both set, OSPM ignores
	 * FIRMWARE_CTRL anyway, and ACPICA would list the FACS twice. */
	put_le32(t + FADT_FIRMWARE_CTRL, 0);
	put_le32(t + FADT_DSDT, (uint32_t)dsdt);
	t[FADT_PM_PROFILE] = 0;  /* unspecified */
	put_le16(t + FADT_SCI_INT, ACPI_SCI_IRQ);
	put_le32(t + FADT_SMI_CMD, 0);  /* no SMI: ACPI mode is always on */
	put_le32(t + FADT_PM1A_EVT_BLK, ACPI_PM1A_EVT_PORT);
	put_le32(t + FADT_PM1A_CNT_BLK, ACPI_PM1A_CNT_PORT);
	put_le32(t + FADT_PM_TMR_BLK, 0);
	t[FADT_PM1_EVT_LEN] = ACPI_PM1_EVT_LEN;
	t[FADT_PM1_CNT_LEN] = ACPI_PM1_CNT_LEN;
	t[FADT_PM_TMR_LEN] = 0;
	put_le16(t + FADT_P_LVL2_LAT, 101);   /* > 100: no C2 */
	put_le16(t + FADT_P_LVL3_LAT, 1001);  /* > 1000: no C3 */
	put_le16(t + FADT_IAPC_BOOT_ARCH, BOOT_ARCH_LEGACY | BOOT_ARCH_8042);
	put_le32(t + FADT_FLAGS, FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON |
				 FADT_SLP_BUTTON | FADT_FIX_RTC);
	t[FADT_MINOR_VERSION] = 0;
	put_le64(t + FADT_X_FIRMWARE_CTRL, facs);
	put_le64(t + FADT_X_DSDT, dsdt);
	put_gas_io(t + FADT_X_PM1A_EVT_BLK, 8 * ACPI_PM1_EVT_LEN, ACPI_PM1A_EVT_PORT);
	put_gas_io(t + FADT_X_PM1A_CNT_BLK, 8 * ACPI_PM1_CNT_LEN, ACPI_PM1A_CNT_PORT);
	finish(t, FADT_SIZE);
}

static uint32_t madt_size(unsigned ncpus)
{
	return HDR_SIZE + 8 + ncpus * MADT_LAPIC_SIZE + MADT_IOAPIC_SIZE + 2 * MADT_ISO_SIZE +
	       MADT_LAPIC_NMI_SIZE;
}

static uint8_t *put_iso(uint8_t *e, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	e[0] = MADT_ISO;
	e[1] = MADT_ISO_SIZE;
	e[2] = 0;  /* bus: ISA */
	e[3] = irq;
	put_le32(e + 4, gsi);
	put_le16(e + 8, flags);
	return e + MADT_ISO_SIZE;
}

static void build_madt(uint8_t *t, unsigned ncpus)
{
	uint32_t len = madt_size(ncpus);
	uint8_t *e = t + HDR_SIZE + 8;

	put_header(t, "APIC", len, MADT_REVISION);
	put_le32(t + HDR_SIZE, (uint32_t)LAPIC_BASE);
	put_le32(t + HDR_SIZE + 4, MADT_PCAT_COMPAT);
	for (unsigned i = 0; i < ncpus; i++) {
		e[0] = MADT_LAPIC;
		e[1] = MADT_LAPIC_SIZE;
		e[2] = (uint8_t)i;        /* ACPI processor UID */
		e[3] = (uint8_t)i;        /* APIC ID */
		put_le32(e + 4, 1);       /* enabled */
		e += MADT_LAPIC_SIZE;
	}
	e[0] = MADT_IOAPIC;
	e[1] = MADT_IOAPIC_SIZE;
	e[2] = (uint8_t)ncpus;            /* IOAPIC ID */
	e[3] = 0;
	put_le32(e + 4, (uint32_t)IOAPIC_BASE);
	put_le32(e + 8, 0);               /* GSI base */
	e += MADT_IOAPIC_SIZE;
	/* The PIT on pin 2, as the MP table has it; the SCI level-triggered,
	 * active high, the PC convention. */
	e = put_iso(e, 0, 2, MPS_EDGE | MPS_HIGH);
	e = put_iso(e, ACPI_SCI_IRQ, ACPI_SCI_IRQ, MPS_LEVEL | MPS_HIGH);
	e[0] = MADT_LAPIC_NMI;
	e[1] = MADT_LAPIC_NMI_SIZE;
	e[2] = 0xFF;                      /* all processors */
	put_le16(e + 3, 0);               /* flags: conform to the bus */
	e[5] = 1;                         /* LINT1 */
	finish(t, len);
}

static bool virtio_mmio_describable(const struct loader_virtio_mmio *virtio, unsigned nvirtio)
{
	if (nvirtio > ACPI_MAX_VIRTIO_MMIO) {
		log_error("%u virtio-mmio devices cannot be described in the DSDT (at most %u)",
			  nvirtio, ACPI_MAX_VIRTIO_MMIO);
		return false;
	}
	for (unsigned i = 0; i < nvirtio; i++) {
		const struct loader_virtio_mmio *d = &virtio[i];

		if (d->size == 0 || d->base >= 0x100000000ull ||
		    d->size > 0x100000000ull - d->base || d->gsi < 16 || d->gsi >= IOAPIC_PINS) {
			log_error("internal error: virtio-mmio device at 0x%llx (0x%x bytes, GSI %u) "
				  "cannot be described in the DSDT", (unsigned long long)d->base,
				  d->size, d->gsi);
			return false;
		}
	}
	return true;
}

int acpi_write_tables(struct guest_mem *mem, unsigned ncpus,
		      const struct loader_virtio_mmio *virtio, unsigned nvirtio,
		      const struct loader_pci_intx *pci, unsigned npci, uint64_t *rsdp_addr)
{
	struct window w = { 0 };
	uint64_t rsdp, facs, xsdt, fadt, dsdt, madt;
	struct aml *aml;
	uint32_t xsdt_len = HDR_SIZE + 2 * 8, dsdt_len;
	uint8_t *t;
	int rc = -1;

	if (ncpus == 0 || ncpus > ACPI_MAX_CPUS) {
		log_error("%u vCPUs cannot be described in the ACPI tables (1 to %u)", ncpus,
			  ACPI_MAX_CPUS);
		return -1;
	}
	if (!virtio_mmio_describable(virtio, nvirtio) ||
	    !pci_intx_routes_valid(pci, npci, ACPI_MAX_PCI_INTX, virtio, nvirtio, "the DSDT"))
		return -1;
	aml = malloc(sizeof(*aml));
	if (!aml) {
		log_error("out of memory building the ACPI tables");
		return -1;
	}
	if (!build_dsdt_aml(aml, virtio, nvirtio, pci, npci)) {
		log_error("internal error: the DSDT for %u virtio-mmio devices and %u PCI INTx "
			  "routes does not fit its %u-byte buffer", nvirtio, npci, DSDT_AML_MAX);
		goto out;
	}
	dsdt_len = HDR_SIZE + (uint32_t)aml->len;
	w.buf = calloc(1, ACPI_TABLES_SIZE);
	if (!w.buf) {
		log_error("out of memory building the ACPI tables");
		goto out;
	}
	rsdp = take(&w, RSDP_SIZE, 16);
	facs = take(&w, FACS_SIZE, 64);
	xsdt = take(&w, xsdt_len, 16);
	fadt = take(&w, FADT_SIZE, 16);
	dsdt = take(&w, dsdt_len, 16);
	madt = take(&w, madt_size(ncpus), 16);
	if (w.full) {
		log_error("the ACPI tables for %u vCPUs do not fit their 0x%llx-byte window",
			  ncpus, (unsigned long long)ACPI_TABLES_SIZE);
		goto out;
	}

	/* FACS: no checksum; version 2, no global lock owner, no waking. */
	t = w.buf + facs;
	memcpy(t, "FACS", 4);
	put_le32(t + 4, FACS_SIZE);
	t[32] = 2;

	t = w.buf + dsdt;
	put_header(t, "DSDT", dsdt_len, 2);  /* 2: 64-bit integers */
	memcpy(t + HDR_SIZE, aml->buf, aml->len);
	finish(t, dsdt_len);

	build_fadt(w.buf + fadt, ACPI_TABLES_ADDR + facs, ACPI_TABLES_ADDR + dsdt);
	build_madt(w.buf + madt, ncpus);

	t = w.buf + xsdt;
	put_header(t, "XSDT", xsdt_len, 1);
	put_le64(t + HDR_SIZE, ACPI_TABLES_ADDR + fadt);
	put_le64(t + HDR_SIZE + 8, ACPI_TABLES_ADDR + madt);
	finish(t, xsdt_len);

	/* RSDP: checksum over the first 20 bytes, extended over all 36. */
	t = w.buf + rsdp;
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, OEM_ID, 6);
	t[15] = 2;                                   /* revision: ACPI 2.0+ */
	put_le32(t + 16, 0);                         /* no RSDT */
	put_le32(t + 20, RSDP_SIZE);
	put_le64(t + 24, ACPI_TABLES_ADDR + xsdt);
	t[8] = (uint8_t)-byte_sum(t, 20);
	t[32] = (uint8_t)-byte_sum(t, RSDP_SIZE);

	if (guest_mem_write(mem, ACPI_TABLES_ADDR, w.buf, w.used) != 0) {
		log_error("guest RAM cannot hold the ACPI tables");
		goto out;
	}
	if (rsdp_addr)
		*rsdp_addr = ACPI_TABLES_ADDR + rsdp;
	rc = 0;
out:
	free(w.buf);
	free(aml);
	return rc;
}
