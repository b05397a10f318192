/* What every x86 boot path shares: the boot GDT at BOOT_GDT_ADDR, the
 * identity page tables at BOOT_PAGE_TABLES_ADDR, and the initial vCPU
 * state for 64-bit long mode or 32-bit flat protected mode.
 *
 * GDT (selector: descriptor)
 *   0x00, 0x08  null
 *   0x10        code: 64-bit (L=1) in long mode, 32-bit flat (D=1) otherwise
 *   0x18        flat 4 GiB read/write data
 *   0x20        busy TSS, base 0, limit 0x67 (16 bytes in long mode)
 * The Linux boot protocol wants exactly CS=0x10 and DS=0x18; multiboot and
 * PVH accept any flat segments, so every path uses the same layout. */
#ifndef WISP_LOADER_X86_BOOT_H
#define WISP_LOADER_X86_BOOT_H

#include <stdint.h>

#include "vmm/cpu_state.h"

struct guest_mem;

#define BOOT_CS_SELECTOR  0x10
#define BOOT_DS_SELECTOR  0x18
#define BOOT_TSS_SELECTOR 0x20
#define BOOT_GDT_ENTRIES  6
#define BOOT_GDT_LIMIT    (BOOT_GDT_ENTRIES * 8 - 1)

enum x86_boot_mode {
	X86_BOOT_LONG_MODE,       /* paging on, identity map of 0..4 GiB */
	X86_BOOT_PROTECTED_MODE,  /* 32-bit flat, paging off */
};

/* Bits of the initial control registers, named for the tests and callers. */
#define X86_CR0_PE  (1ull << 0)
#define X86_CR0_MP  (1ull << 1)
#define X86_CR0_ET  (1ull << 4)
#define X86_CR0_NE  (1ull << 5)
#define X86_CR0_WP  (1ull << 16)
#define X86_CR0_PG  (1ull << 31)
#define X86_CR4_PAE (1ull << 5)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)

/* Writes the GDT (and, for long mode, the page tables) into guest RAM and
 * fills *state: segments decoded from that very GDT, control registers for
 * the mode, RFLAGS 0x2, every GPR and RIP zero for the caller to set.
 * Returns 0, or -1 when low RAM cannot hold the structures. */
int x86_boot_setup(struct guest_mem *mem, enum x86_boot_mode mode, struct cpu_state *state);

/* The pieces of x86_boot_setup, for callers and tests that need one. */
int x86_boot_write_gdt(struct guest_mem *mem, enum x86_boot_mode mode);
int x86_boot_write_page_tables(struct guest_mem *mem);
void x86_boot_cpu_state(enum x86_boot_mode mode, struct cpu_state *state);

#endif
