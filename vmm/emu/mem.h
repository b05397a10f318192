/* Guest memory as the software core sees it: segmentation (offset ->
 * linear), paging (linear -> physical, with a software TLB), and physical
 * accesses that go to guest RAM or, outside RAM, to the MMIO bus.
 * Every check the architecture makes raises its exception through
 * emu_raise(): #GP/#SS for segment limits and rights, #PF with the exact
 * error code and CR2. Alignment checking (#AC) is not modelled, and CPUID
 * says nothing that would make a guest rely on it. */
#ifndef WISP_EMU_MEM_H
#define WISP_EMU_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

/* MAXPHYADDR, as CPUID 0x80000008 reports it: page-table entries with
 * address bits at or above it set fault with RSVD. */
#define EMU_PHYS_ADDR_BITS 40

enum emu_access {
	EMU_READ,
	EMU_WRITE,
	EMU_FETCH,
};

/* Accesses through a segment (seg: enum emu_sreg), at the CPU's current
 * privilege level. emu_read/emu_write: size 1, 2, 4 or 8; 16-byte (SSE)
 * and longer operands go through the _bytes forms, which translate every
 * page before moving any byte. Accesses that cross a page boundary are
 * split, with the second page translated first (a fault there leaves no
 * partial write). */
uint64_t emu_read(struct emu_cpu *cpu, unsigned seg, uint64_t offset, unsigned size);
void emu_write(struct emu_cpu *cpu, unsigned seg, uint64_t offset, unsigned size, uint64_t value);
void emu_read_bytes(struct emu_cpu *cpu, unsigned seg, uint64_t offset, void *dst, unsigned len);
void emu_write_bytes(struct emu_cpu *cpu, unsigned seg, uint64_t offset, const void *src, unsigned len);

/* Linear-address accesses. supervisor: an implicit supervisor access (GDT,
 * IDT, TSS reads) that ignores CPL for the U/S check. */
uint64_t emu_read_linear(struct emu_cpu *cpu, uint64_t la, unsigned size, bool supervisor);
void emu_write_linear(struct emu_cpu *cpu, uint64_t la, unsigned size, uint64_t value, bool supervisor);

/* Segment offset -> linear address, with the limit and rights checks of
 * an access of kind for size bytes. */
uint64_t emu_linear(struct emu_cpu *cpu, unsigned seg, uint64_t offset, unsigned size,
		    enum emu_access kind);

/* Linear -> physical for an access of kind at the CPU's privilege, walking
 * the page tables on a TLB miss (setting A/D bits). Raises #PF. */
uint64_t emu_translate(struct emu_cpu *cpu, uint64_t la, enum emu_access kind, bool supervisor);

/* A host pointer to size bytes at seg:offset for a locked read-modify-write
 * (writable RAM, within one page), or NULL when the operand is MMIO or
 * crosses a page: then the caller falls back to emu_read/emu_write. */
void *emu_rmw_ptr(struct emu_cpu *cpu, unsigned seg, uint64_t offset, unsigned size);

/* Fetch up to len code bytes at cs:rip into buf (stopping at a fault after
 * the first byte: returns how many were read; a fault on the first byte
 * raises). */
unsigned emu_fetch(struct emu_cpu *cpu, uint64_t rip, uint8_t *buf, unsigned len);

/* The code at linear address la for an instruction fetch at the CPU's
 * privilege (raising #PF like a fetch): its physical address in *pa, and
 * the host pointer to it when it is RAM, else NULL. One TLB lookup. */
const uint8_t *emu_code_ptr(struct emu_cpu *cpu, uint64_t la, uint64_t *pa);

/* Physical accesses: RAM, or MMIO through cpu->env. */
uint64_t emu_phys_read(struct emu_cpu *cpu, uint64_t pa, unsigned size);
void emu_phys_write(struct emu_cpu *cpu, uint64_t pa, unsigned size, uint64_t value);

/* The software TLB (cpu->tlb must be one, from emu_tlb_new(), before any
 * access). Flushes: emu_tlb_flush() for CR3 writes (include_global false),
 * changes of CR0.PG/WP, CR4.PGE/PAE/PSE, EFER.NXE and the APIC base
 * (include_global true); emu_tlb_flush_page() for INVLPG. */
struct emu_tlb *emu_tlb_new(void);
void emu_tlb_free(struct emu_tlb *tlb);
void emu_tlb_flush(struct emu_cpu *cpu, bool include_global);
void emu_tlb_flush_page(struct emu_cpu *cpu, uint64_t la);

#endif
