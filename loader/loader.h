/* Loading a guest image into guest RAM and producing the boot vCPU's
 * initial state. The image is recognised by its contents:
 *   1. Linux bzImage ("HdrS" at 0x202) -> 64-bit boot protocol
 *   2. multiboot v1 header in the first 8 KiB -> 32-bit protected mode
 *   3. ELF with a Xen PVH entry note -> 32-bit protected mode, hvm_start_info
 *   4. ELF64 -> long mode at e_entry
 * Every path also writes the ACPI tables and the MP table (SMP without
 * ACPI), but for a bzImage given a device tree, which replaces the MP
 * table. */
#ifndef WISP_LOADER_H
#define WISP_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loader/virtio_mmio_announce.h"
#include "vmm/cpu_state.h"

struct guest_mem;

enum boot_format {
	BOOT_FORMAT_NONE = 0,
	BOOT_FORMAT_BZIMAGE,
	BOOT_FORMAT_MULTIBOOT,
	BOOT_FORMAT_PVH,
	BOOT_FORMAT_ELF64,
};

/* What a Linux kernel gets when the user gives no command line: the serial
 * console, reboot through the i8042 (which ends wisp) and no hanging on a
 * panic. */
#define LINUX_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1"

/* A virtio-mmio device the boot tables tell the kernel about: its register
 * window and its interrupt line (GSI >= 16, level-triggered, active high). */
struct loader_virtio_mmio {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

/* A PCI device's INTx line as the boot tables route it: device number
 * (slot) on bus 0, interrupt pin (1 = INTA# .. 4 = INTD#) and the IOAPIC
 * pin / GSI it is wired to (16 and up). The line is level-triggered; the
 * tables leave the polarity to the bus's convention (active low), which
 * the interrupt controllers of both backends take as a logical level. */
struct loader_pci_intx {
	uint8_t slot;
	uint8_t pin;
	uint32_t gsi;
};

struct loader_input {
	const uint8_t *kernel;      /* the whole image file */
	size_t kernel_size;
	const char *kernel_path;    /* for messages and the multiboot cmdline */
	const uint8_t *initrd;      /* NULL when none */
	size_t initrd_size;
	const char *initrd_path;    /* for messages and the multiboot module
	                             * string; may be NULL */
	const char *cmdline;        /* NULL: none given; Linux boot paths then
	                             * get LINUX_DEFAULT_CMDLINE */
	unsigned ncpus;
	/* The MP table (or the device tree) routes every device's line;
	 * announce says which of the DSDT, the command line and the device
	 * tree names the devices (a device tree needs a bzImage). */
	const struct loader_virtio_mmio *virtio_mmio;
	unsigned n_virtio_mmio;
	enum virtio_mmio_announce virtio_mmio_announce;
	/* The INTx routing of the PCI devices on bus 0: the DSDT's _PRT of
	 * \_SB.PCI0 and the MP table's PCI interrupt entries. */
	const struct loader_pci_intx *pci_intx;
	unsigned n_pci_intx;
};

struct loader_result {
	enum boot_format format;
	struct cpu_state bsp;       /* initial state of vCPU 0 */
	uint64_t kernel_start, kernel_end;  /* guest-physical, for messages */
	uint64_t initrd_start, initrd_size; /* 0 when none */
};

/* Returns 0 or -1 after printing one clear message naming the file. */
int loader_load(struct guest_mem *mem, const struct loader_input *in,
		struct loader_result *out);

const char *boot_format_name(enum boot_format format);

#endif
