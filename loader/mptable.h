/* The Intel MultiProcessor Specification 1.4 tables that tell a guest
 * without ACPI about its CPUs, the IOAPIC and how ISA IRQs reach it.
 *
 * Placement: the 16-byte floating pointer at EBDA_START (the first KiB of
 * the EBDA, where the spec says to look; the BDA word at
 * BIOS_BDA_EBDA_SEG points there) and the configuration table at
 * MPTABLE_CONFIG_ADDR in the BIOS area, which e820 reserves. The EBDA's
 * single KiB holds the table for at most 39 CPUs, the BIOS area for all
 * MPTABLE_MAX_CPUS.
 *
 * Contents: one processor per vCPU (APIC ID = index, CPU 0 the BSP); bus 0
 * "PCI", bus 1 "ISA"; one IOAPIC (id = ncpus) at IOAPIC_BASE; ExtINT on
 * IOAPIC pin 0, ISA IRQ 0 (PIT) on pin 2 as KVM's default routing has it,
 * ISA IRQ n on pin n for n = 1, 3..15; for each virtio-mmio device, ISA
 * "IRQ" g on pin g (its GSI, 16-23), level-triggered and active high;
 * for each PCI INTx route, PCI "IRQ" (slot << 2) | (pin - 1) on pin gsi,
 * conforming to the bus (level, active low); LINT0 ExtINT and LINT1 NMI
 * on every local APIC. */
#ifndef WISP_LOADER_MPTABLE_H
#define WISP_LOADER_MPTABLE_H

#include <stdint.h>

#include "loader/loader.h"

struct guest_mem;

#define MPTABLE_CONFIG_MAX  0x00010000ull
/* APIC IDs 0..n-1 and the IOAPIC's id n must all stay below the broadcast
 * id 255. */
#define MPTABLE_MAX_CPUS    254

#define MPTABLE_BUS_PCI     0
#define MPTABLE_BUS_ISA     1
#define MPTABLE_MAX_VIRTIO_MMIO 8
#define MPTABLE_MAX_PCI_INTX    8

/* Writes both tables and the BDA words; virtio and pci may be NULL when
 * their counts are 0. Returns 0, or -1 after one message when ncpus is 0
 * or above MPTABLE_MAX_CPUS, there are more than MPTABLE_MAX_VIRTIO_MMIO
 * devices or one is not on a GSI from 16 to 23, or there are more than
 * MPTABLE_MAX_PCI_INTX routes or one has a slot not from 1 to 31, a pin
 * not from 1 to 4, a GSI not from 16 to 23 or a virtio-mmio device's, or
 * routes a slot's pin a second time. */
int mptable_write(struct guest_mem *mem, unsigned ncpus,
		  const struct loader_virtio_mmio *virtio, unsigned nvirtio,
		  const struct loader_pci_intx *pci, unsigned npci);

#endif
