/* The guest-physical memory map of a wisp machine: where RAM, the PCI hole,
 * the interrupt controllers and the boot structures live. One place, so the
 * loaders, the e820 table, the devices and the accelerators agree. */
#ifndef WISP_MEMORY_MAP_H
#define WISP_MEMORY_MAP_H

#include <stdint.h>

#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)

/* RAM below 4 GiB stops at the PCI hole; the rest continues at 4 GiB. */
#define PCI_HOLE_START        0xC0000000ull
#define PCI_HOLE_END          0x100000000ull
#define HIGH_RAM_START        0x100000000ull
#define GUEST_RAM_MIN         MiB(2)
#define GUEST_RAM_MAX         GiB(1024)

/* Inside the hole. */
#define PCI_MMIO_START        0xC0000000ull  /* BARs of PCI devices */
#define PCI_MMIO_END          0xE0000000ull
#define PCI_MMCONFIG_START    0xE0000000ull  /* reserved for ECAM */
/* virtio-mmio devices: slot n at VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_SLOT_SIZE
 * (one 4 KiB page for all), above ECAM's 256 MiB and below the test
 * device, the IOAPIC and the LAPIC. */
#define VIRTIO_MMIO_BASE      0xFE000000ull
#define VIRTIO_MMIO_SLOT_SIZE 0x200ull
#define VIRTIO_MMIO_SLOTS     8u
#define TESTDEV_MMIO_BASE     0xFEB00000ull  /* test device scratch window */
#define TESTDEV_MMIO_SIZE     0x1000ull
#define IOAPIC_BASE           0xFEC00000ull
#define LAPIC_BASE            0xFEE00000ull
/* KVM on Intel needs three pages for the real-mode TSS and one for the
 * identity map, below 4 GiB and outside RAM. */
#define KVM_IDENTITY_MAP_ADDR 0xFFFBC000ull
#define KVM_TSS_ADDR          0xFFFBD000ull

/* Low memory, as a PC BIOS would leave it. The boot structures written by
 * the loaders sit in conventional memory below the EBDA. */
#define BOOT_GDT_ADDR         0x00000500ull  /* 0x500..0x57f: boot GDT */
#define BOOT_IDT_ADDR         0x00000580ull  /* empty IDT (limit 0) */
#define BOOT_INFO_ADDR        0x00007000ull  /* boot_params / multiboot info / hvm_start_info */
#define BOOT_INFO_SIZE        0x00001000ull
#define BOOT_PAGE_TABLES_ADDR 0x00009000ull  /* PML4, PDPT, 4 PDs: 0x9000..0xEFFF */
#define BOOT_PAGE_TABLES_SIZE 0x00006000ull
#define BOOT_STACK_TOP        0x0008F000ull  /* initial stack for guests that want one */
#define BOOT_CMDLINE_ADDR     0x00020000ull
#define BOOT_CMDLINE_MAX      0x00010000ull  /* 64 KiB including the NUL */
#define BOOT_EXTRA_ADDR       0x00030000ull  /* e820 copies, multiboot mmap, module list */
#define BOOT_EXTRA_SIZE       0x00010000ull
#define BOOT_SETUP_DATA_ADDR  0x00040000ull  /* bzImage setup_data: the device tree */
#define BOOT_SETUP_DATA_SIZE  0x00010000ull
#define EBDA_START            0x0009FC00ull  /* MP floating pointer */
#define BIOS_BDA_EBDA_SEG     0x0000040Eull  /* BDA word: EBDA segment */
#define VGA_RAM_START         0x000A0000ull
#define ACPI_TABLES_ADDR      0x000E0000ull  /* RSDP and ACPI tables (BIOS area) */
#define ACPI_TABLES_SIZE      0x00010000ull  /* up to MPTABLE_CONFIG_ADDR */
#define MPTABLE_CONFIG_ADDR   0x000F0000ull  /* MP configuration table (BIOS area) */
#define HIGH_MEMORY_START     0x00100000ull  /* 1 MiB */

/* The serial port the boot tables describe (the device tree names it). */
#define COM1_IO_BASE 0x3f8

/* Interrupt routing of the legacy devices (ISA IRQ = IOAPIC pin = GSI). */
#define IRQ_PIT    0
#define IRQ_I8042  1
#define IRQ_COM2   3
#define IRQ_COM1   4
#define IRQ_RTC    8
#define IOAPIC_PINS 24
/* virtio-mmio slot n interrupts on IOAPIC pin / GSI VIRTIO_MMIO_GSI_BASE + n,
 * level-triggered and active high: pins 16-23, which no ISA IRQ uses. */
#define VIRTIO_MMIO_GSI_BASE 16u

#endif
