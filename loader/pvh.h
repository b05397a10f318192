/* The Xen PVH boot ABI's start-of-day table (xen/include/public/arch-x86/
 * hvm/start_info.h, version 1), as a PVH-capable kernel expects in EBX:
 *
 *   BOOT_INFO_ADDR    struct hvm_start_info (56 bytes): magic 0x336ec578,
 *                     version 1, flags 0, cmdline_paddr = BOOT_CMDLINE_ADDR,
 *                     rsdp_paddr 0 (no ACPI), memmap, modules
 *   BOOT_EXTRA_ADDR   memmap: hvm_memmap_table_entry {addr, size, type,
 *                     reserved} from e820_build, then, with an initrd, one
 *                     hvm_modlist_entry {paddr, size, cmdline_paddr 0,
 *                     reserved} (nr_modules 1) */
#ifndef WISP_LOADER_PVH_H
#define WISP_LOADER_PVH_H

#include <stdint.h>

struct guest_mem;
struct loader_input;

#define HVM_START_MAGIC        0x336ec578u
#define HVM_START_INFO_SIZE    56
#define HVM_MEMMAP_ENTRY_SIZE  24
#define HVM_MODLIST_ENTRY_SIZE 32

/* Field offsets in struct hvm_start_info. */
#define HVM_SI_MAGIC          0
#define HVM_SI_VERSION        4
#define HVM_SI_FLAGS          8
#define HVM_SI_NR_MODULES     12
#define HVM_SI_MODLIST_PADDR  16
#define HVM_SI_CMDLINE_PADDR  24
#define HVM_SI_RSDP_PADDR     32
#define HVM_SI_MEMMAP_PADDR   40
#define HVM_SI_MEMMAP_ENTRIES 48

/* Writes the command line, the memmap, the module list (when the input
 * has an initrd, already placed at initrd_addr) and the start info.
 * 0 or -1 after one message. */
int pvh_write_start_info(struct guest_mem *mem, const struct loader_input *in,
			 uint64_t initrd_addr);

#endif
