/* The ACPI tables that tell a guest with ACPI about its CPUs, interrupt
 * routing and how to power off: an RSDP (revision 2), an XSDT listing an
 * FADT and a MADT, the FACS and the DSDT the FADT points to.
 *
 * Placement: everything in the ACPI_TABLES_ADDR window of the BIOS area
 * (reserved in e820), the RSDP first at its 16-byte aligned start, where
 * Linux scans 0xE0000-0xFFFFF for it; the address is also handed on in
 * boot_params.acpi_rsdp_addr and hvm_start_info.rsdp_paddr.
 *
 * Contents (FACS through X_FIRMWARE_CTRL only; DSDT through both fields):
 *   FADT: not hardware-reduced; PM1a event block at ACPI_PM1A_EVT_PORT
 *         (4 bytes: status, enable), PM1a control at ACPI_PM1A_CNT_PORT
 *         (2 bytes), SCI on IRQ 9, no SMI command port (ACPI is always
 *         enabled), no PM timer, no GPE blocks, no reset register;
 *         IAPC_BOOT_ARCH says legacy devices and an 8042 are present.
 *   DSDT: Name(_S5, Package(){ ACPI_S5_SLP_TYP, ACPI_S5_SLP_TYP, 0, 0 }),
 *         the PCI root bridge \_SB.PCI0 (PNP0A03, segment 0, bus 0), so
 *         Linux scans bus 0: its _CRS gives bus 0 alone, the config ports
 *         0xCF8-0xCFF, the I/O windows 0x0000-0x0CF7 and 0x0D00-0xFFFF and
 *         the memory window [PCI_MMIO_START, PCI_MMIO_END) for BARs; its
 *         _PRT (when there are routes) names each device's INTx pin's GSI
 *         directly, level-triggered and active low as PCI has it. Then
 *         one \_SB.VRnn (_HID "LNRO0005", what Linux's virtio_mmio driver
 *         matches) per virtio-mmio device given, its _CRS a Memory32Fixed
 *         window and an Interrupt (level, active high, exclusive) on its
 *         GSI (16 and up: no MADT override concerns them).
 *   MADT: local APICs at LAPIC_BASE, one enabled Processor Local APIC per
 *         vCPU (ACPI UID = APIC ID = index), the IOAPIC (id ncpus) at
 *         IOAPIC_BASE with GSI base 0, IRQ 0 -> GSI 2 (edge, high), IRQ 9
 *         level/high, LINT1 NMI on every processor. */
#ifndef WISP_LOADER_ACPI_H
#define WISP_LOADER_ACPI_H

#include <stdint.h>

#include "loader/loader.h"
#include "vmm/memory_map.h"

struct guest_mem;

/* The PM1a register blocks devices/acpi_pm.c implements. */
#define ACPI_PM1A_EVT_PORT  0x600  /* PM1_STS (2 bytes), PM1_EN (2 bytes) */
#define ACPI_PM1_EVT_LEN    4
#define ACPI_PM1A_CNT_PORT  0x604  /* PM1_CNT (2 bytes) */
#define ACPI_PM1_CNT_LEN    2
#define ACPI_SCI_IRQ        9
/* SLP_TYP of \_S5 in the DSDT: PM1_CNT.SLP_TYP value that powers off. */
#define ACPI_S5_SLP_TYP     5

/* APIC IDs 0..n-1 and the IOAPIC's id n stay below the broadcast id. */
#define ACPI_MAX_CPUS       254
#define ACPI_MAX_VIRTIO_MMIO 8
#define ACPI_MAX_PCI_INTX    8

/* Where acpi_write_tables puts the RSDP. */
#define ACPI_RSDP_ADDR      ACPI_TABLES_ADDR

/* Writes all tables, the DSDT describing the nvirtio devices of virtio
 * and the npci INTx routes of pci (either may be NULL when its count is
 * 0); *rsdp_addr (may be NULL) gets the RSDP's address. Returns 0, or -1
 * after one message when ncpus is 0 or above ACPI_MAX_CPUS, a device
 * cannot be described (more than ACPI_MAX_VIRTIO_MMIO, above 4 GiB, a GSI
 * not from 16 to 23), a route cannot (more than ACPI_MAX_PCI_INTX, slot
 * not from 1 to 31, pin not from 1 to 4, GSI not from 16 to 23, a slot's
 * pin routed twice, a GSI also a virtio-mmio device's), or the tables do
 * not fit guest RAM or their window. */
int acpi_write_tables(struct guest_mem *mem, unsigned ncpus,
		      const struct loader_virtio_mmio *virtio, unsigned nvirtio,
		      const struct loader_pci_intx *pci, unsigned npci, uint64_t *rsdp_addr);

#endif
