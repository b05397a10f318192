/* Format detection and dispatch. The order matters: a bzImage is
 * recognised by its setup header; a multiboot header wins over the ELF
 * headers of the same file because the kernel asked for multiboot's entry
 * state (QEMU decides the same way); an ELF then boots through PVH when it
 * has the Xen entry note, else as plain ELF64. */
#include "loader/loader.h"

#include <string.h>

#include "loader/acpi.h"
#include "loader/bzimage.h"
#include "loader/elf.h"
#include "loader/mptable.h"
#include "loader/multiboot.h"
#include "loader/placement.h"
#include "vmm/log.h"

const char *boot_format_name(enum boot_format format)
{
	switch (format) {
	case BOOT_FORMAT_BZIMAGE:
		return "bzImage";
	case BOOT_FORMAT_MULTIBOOT:
		return "multiboot";
	case BOOT_FORMAT_PVH:
		return "PVH";
	case BOOT_FORMAT_ELF64:
		return "ELF64";
	case BOOT_FORMAT_NONE:
		break;
	}
	return "none";
}

int loader_load(struct guest_mem *mem, const struct loader_input *in,
		struct loader_result *out)
{
	const char *name = loader_kernel_name(in);
	size_t mb_offset = 0;
	uint64_t rsdp = 0;
	int mb;

	memset(out, 0, sizeof(*out));
	if (!in->kernel || in->kernel_size == 0) {
		log_error("%s: kernel image is empty", name);
		return -1;
	}
	/* A device tree describes the CPUs and the interrupts itself. */
	if (in->virtio_mmio_announce != VIRTIO_MMIO_IN_DT &&
	    mptable_write(mem, in->ncpus, in->virtio_mmio, in->n_virtio_mmio, in->pci_intx,
			  in->n_pci_intx) != 0)
		return -1;
	/* Always at ACPI_RSDP_ADDR, which the bzImage and PVH paths hand on. */
	if (acpi_write_tables(mem, in->ncpus, in->virtio_mmio,
			      in->virtio_mmio_announce == VIRTIO_MMIO_IN_DSDT ? in->n_virtio_mmio : 0,
			      in->pci_intx, in->n_pci_intx, &rsdp) != 0)
		return -1;
	if (rsdp != ACPI_RSDP_ADDR) {
		log_error("internal error: RSDP at 0x%llx, expected 0x%llx",
			  (unsigned long long)rsdp, (unsigned long long)ACPI_RSDP_ADDR);
		return -1;
	}

	if (bzimage_detect(in->kernel, in->kernel_size))
		return bzimage_load(mem, in, out);
	if (in->virtio_mmio_announce == VIRTIO_MMIO_IN_DT) {
		log_error("%s: a device tree is handed over in a bzImage's setup_data; this "
			  "kernel is no bzImage", name);
		return -1;
	}
	mb = multiboot_find(in->kernel, in->kernel_size, &mb_offset);
	if (mb > 0)
		return multiboot_load(mem, in, mb_offset, out);
	if (elf_detect(in->kernel, in->kernel_size))
		return elf_load(mem, in, out);
	if (mb < 0) {
		log_error("%s: multiboot header at offset 0x%zx has a bad checksum", name,
			  mb_offset);
		return -1;
	}
	log_error("%s: not a bootable kernel image (no bzImage header, multiboot header or "
		  "ELF signature)", name);
	return -1;
}
