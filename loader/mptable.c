#include "loader/mptable.h"

#include <string.h>

#include "loader/bytes.h"
#include "loader/pci_intx.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"

#define MPF_SIZE          16
#define MPC_HEADER_SIZE   44
#define MPC_CPU_SIZE      20
#define MPC_ENTRY_SIZE    8    /* every other entry type */
#define MP_SPEC_REV       4    /* version 1.4 */
/* I/O interrupt entry flags (MP 1.4 table 4-10). */
#define MP_POLARITY_HIGH  0x1
#define MP_TRIGGER_LEVEL  0xC

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_IOINTSRC, MP_LINTSRC };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

#define CPU_ENABLED       0x01
#define CPU_BSP           0x02
#define LAPIC_VERSION     0x14  /* integrated xAPIC */
#define IOAPIC_VERSION    0x11  /* 82093AA-like, 24 pins */
/* Family 6; FPU, TSC, MSR, PAE, CX8, APIC, PGE, CMOV. Informational only:
 * guests read CPUID itself. */
#define CPU_SIGNATURE     0x00000600u
#define CPU_FEATURES      0x0000A371u
#define LAPIC_ALL         0xFF
#define BDA_BASE_MEM_KB   0x413  /* BDA word: KiB of conventional memory */

/* Processors, 2 buses, 1 IOAPIC, 16 I/O and 2 local interrupt entries, and
 * an I/O interrupt entry per virtio-mmio device and per PCI INTx route. */
#define MPC_FIXED_ENTRIES (2 + 1 + 16 + 2)
#define MPC_SIZE(n, v) (MPC_HEADER_SIZE + (n) * MPC_CPU_SIZE + \
			(MPC_FIXED_ENTRIES + (v)) * MPC_ENTRY_SIZE)
#define MPC_MAX_SIZE MPC_SIZE(MPTABLE_MAX_CPUS, MPTABLE_MAX_VIRTIO_MMIO + MPTABLE_MAX_PCI_INTX)


_Static_assert(MPC_MAX_SIZE <= MPTABLE_CONFIG_MAX, "MP table fits the BIOS area");
_Static_assert(MPTABLE_CONFIG_ADDR >= VGA_RAM_START &&
	       MPTABLE_CONFIG_ADDR + MPTABLE_CONFIG_MAX <= HIGH_MEMORY_START,
	       "MP table lies in the reserved BIOS area");
_Static_assert((EBDA_START & 0xF) == 0 && EBDA_START + MPF_SIZE <= VGA_RAM_START,
	       "MP floating pointer at a paragraph in the EBDA");

static uint8_t *put_small(uint8_t *p, uint8_t type, uint8_t a, uint8_t b, uint8_t c,
			  uint32_t d)
{
	p[0] = type;
	p[1] = a;
	p[2] = b;
	p[3] = c;
	put_le32(p + 4, d);
	return p + MPC_ENTRY_SIZE;
}

static uint8_t *put_bus(uint8_t *p, uint8_t id, const char name[7])
{
	p[0] = MP_BUS;
	p[1] = id;
	memcpy(p + 2, name, 6);
	return p + MPC_ENTRY_SIZE;
}

/* I/O (type 3) and local (type 4) interrupt entries share one layout;
 * flags 0 = polarity and trigger conform to the bus (ISA: edge, high). */
static uint8_t *put_int_flags(uint8_t *p, uint8_t type, uint8_t irqtype, uint16_t flags,
			      uint8_t bus, uint8_t irq, uint8_t dst, uint8_t pin)
{
	p[0] = type;
	p[1] = irqtype;
	put_le16(p + 2, flags);
	p[4] = bus;
	p[5] = irq;
	p[6] = dst;
	p[7] = pin;
	return p + MPC_ENTRY_SIZE;
}

static uint8_t *put_int(uint8_t *p, uint8_t type, uint8_t irqtype, uint8_t bus, uint8_t irq,
			uint8_t dst, uint8_t pin)
{
	return put_int_flags(p, type, irqtype, 0, bus, irq, dst, pin);
}

int mptable_write(struct guest_mem *mem, unsigned ncpus,
		  const struct loader_virtio_mmio *virtio, unsigned nvirtio,
		  const struct loader_pci_intx *pci, unsigned npci)
{
	uint8_t mpc[MPC_MAX_SIZE];
	uint8_t mpf[MPF_SIZE];
	uint8_t bda[2];
	uint8_t *p;
	uint8_t ioapic_id;
	size_t len;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS) {
		log_error("%u vCPUs cannot be described in the MP table (1 to %u)", ncpus,
			  MPTABLE_MAX_CPUS);
		return -1;
	}
	if (nvirtio > MPTABLE_MAX_VIRTIO_MMIO) {
		log_error("%u virtio-mmio devices cannot be described in the MP table (at most %u)",
			  nvirtio, MPTABLE_MAX_VIRTIO_MMIO);
		return -1;
	}
	for (unsigned i = 0; i < nvirtio; i++) {
		if (virtio[i].gsi < 16 || virtio[i].gsi >= IOAPIC_PINS) {
			log_error("internal error: virtio-mmio device on GSI %u, not an IOAPIC "
				  "pin from 16 to %u", virtio[i].gsi, IOAPIC_PINS - 1);
			return -1;
		}
	}
	if (!pci_intx_routes_valid(pci, npci, MPTABLE_MAX_PCI_INTX, virtio, nvirtio, "the MP table"))
		return -1;
	ioapic_id = (uint8_t)ncpus;
	len = MPC_SIZE(ncpus, nvirtio + npci);
	memset(mpc, 0, sizeof(mpc));

	p = mpc + MPC_HEADER_SIZE;
	for (unsigned i = 0; i < ncpus; i++) {
		p[0] = MP_PROCESSOR;
		p[1] = (uint8_t)i;
		p[2] = LAPIC_VERSION;
		p[3] = CPU_ENABLED | (i == 0 ? CPU_BSP : 0);
		put_le32(p + 4, CPU_SIGNATURE);
		put_le32(p + 8, CPU_FEATURES);
		p += MPC_CPU_SIZE;
	}
	/* The spec orders entries by type, buses by ascending id. */
	p = put_bus(p, MPTABLE_BUS_PCI, "PCI   ");
	p = put_bus(p, MPTABLE_BUS_ISA, "ISA   ");
	p = put_small(p, MP_IOAPIC, ioapic_id, IOAPIC_VERSION, 0x01 /* enabled */,
		      (uint32_t)IOAPIC_BASE);

	/* The 8259 through pin 0 (virtual wire), the PIT on pin 2 where
	 * KVM's in-kernel IOAPIC routes GSI 0, the other ISA IRQs 1:1. The
	 * cascade IRQ 2 never fires and gets no entry. */
	p = put_int(p, MP_IOINTSRC, MP_EXTINT, MPTABLE_BUS_ISA, 0, ioapic_id, 0);
	p = put_int(p, MP_IOINTSRC, MP_INT, MPTABLE_BUS_ISA, 0, ioapic_id, 2);
	for (uint8_t irq = 1; irq < 16; irq++) {
		if (irq == 2)
			continue;
		p = put_int(p, MP_IOINTSRC, MP_INT, MPTABLE_BUS_ISA, irq, ioapic_id, irq);
	}
	/* virtio-mmio lines: on no real bus, so on ISA (as Firecracker's MP
	 * table has them, IRQ = pin), with the level trigger and the high
	 * polarity the device drives spelled out rather than ISA's edge. A
	 * kernel without ACPI maps IRQ n to these pins only through such
	 * entries (virtio_mmio.device=...:n). */
	for (unsigned i = 0; i < nvirtio; i++)
		p = put_int_flags(p, MP_IOINTSRC, MP_INT, MP_TRIGGER_LEVEL | MP_POLARITY_HIGH,
				  MPTABLE_BUS_ISA, (uint8_t)virtio[i].gsi, ioapic_id,
				  (uint8_t)virtio[i].gsi);
	/* PCI INTx lines: the source "IRQ" of a PCI bus entry is the device
	 * number and the pin (MP 1.4 D.3), flags 0 conform to the bus:
	 * level-triggered, active low. */
	for (unsigned i = 0; i < npci; i++)
		p = put_int(p, MP_IOINTSRC, MP_INT, MPTABLE_BUS_PCI,
			    (uint8_t)(pci[i].slot << 2 | (pci[i].pin - 1)), ioapic_id,
			    (uint8_t)pci[i].gsi);
	p = put_int(p, MP_LINTSRC, MP_EXTINT, MPTABLE_BUS_ISA, 0, LAPIC_ALL, 0);
	p = put_int(p, MP_LINTSRC, MP_NMI, MPTABLE_BUS_ISA, 0, LAPIC_ALL, 1);
	if ((size_t)(p - mpc) != len) {
		log_error("internal error: MP table is %zu bytes, expected %zu",
			  (size_t)(p - mpc), len);
		return -1;
	}

	memcpy(mpc, "PCMP", 4);
	put_le16(mpc + 4, (uint16_t)len);
	mpc[6] = MP_SPEC_REV;
	memcpy(mpc + 8, "WISP    ", 8);
	memcpy(mpc + 16, "WISPVM      ", 12);
	put_le16(mpc + 34, (uint16_t)(ncpus + MPC_FIXED_ENTRIES + nvirtio + npci));
	put_le32(mpc + 36, (uint32_t)LAPIC_BASE);
	mpc[7] = (uint8_t)-byte_sum(mpc, len);

	memset(mpf, 0, sizeof(mpf));
	memcpy(mpf, "_MP_", 4);
	put_le32(mpf + 4, (uint32_t)MPTABLE_CONFIG_ADDR);
	mpf[8] = 1;  /* length in 16-byte paragraphs */
	mpf[9] = MP_SPEC_REV;
	/* Feature bytes 0: a configuration table is present; IMCR absent,
	 * so the system runs in virtual wire mode. */
	mpf[10] = (uint8_t)-byte_sum(mpf, sizeof(mpf));

	if (guest_mem_write(mem, MPTABLE_CONFIG_ADDR, mpc, len) != 0 ||
	    guest_mem_write(mem, EBDA_START, mpf, sizeof(mpf)) != 0) {
		log_error("guest RAM cannot hold the MP table");
		return -1;
	}
	/* Linux finds the EBDA through the BDA, and trusts RAM below the
	 * smaller of it and the BDA's base memory size. */
	put_le16(bda, (uint16_t)(EBDA_START >> 4));
	if (guest_mem_write(mem, BIOS_BDA_EBDA_SEG, bda, 2) != 0)
		return -1;
	put_le16(bda, (uint16_t)(EBDA_START >> 10));
	if (guest_mem_write(mem, BDA_BASE_MEM_KB, bda, 2) != 0)
		return -1;
	return 0;
}
