/* Shared fixture of the system-level unit tests of the software core
 * (test_paging.c, test_segments.c, test_interrupt.c, test_system.c,
 * test_fp_modes.c): a vCPU over 16 MiB
 * of guest RAM, helpers to build descriptors, gates and page tables in
 * it, and TRY() to run something that may raise. Header-only: every test
 * is its own executable. */
#ifndef WISP_TEST_EMU_SYS_FIXTURE_H
#define WISP_TEST_EMU_SYS_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/emu/cpu.h"
#include "vmm/emu/cpu_init.h"
#include "vmm/emu/decode.h"
#include "vmm/emu/exec.h"
#include "vmm/emu/flags.h"
#include "vmm/emu/mem.h"
#include "vmm/guest_mem.h"

#define FIX_RAM MiB(16)

struct fixture {
	struct guest_mem mem;
	struct emu_cpu cpu;
	struct emu_env env;
	uint64_t next_table;        /* bump allocator for page tables */
	/* The MMIO bus of the tests: records the last access. */
	uint64_t mmio_addr, mmio_value;
	unsigned mmio_size, mmio_reads, mmio_writes;
};

static inline struct fixture *fix_of_env(struct emu_env *env)
{
	return (struct fixture *)((char *)env - offsetof(struct fixture, env));
}

static uint64_t fix_mmio_read(struct emu_env *env, uint64_t gpa, unsigned size)
{
	struct fixture *f = fix_of_env(env);

	f->mmio_addr = gpa;
	f->mmio_size = size;
	f->mmio_reads++;
	return 0x1122334455667788ull;
}

static void fix_mmio_write(struct emu_env *env, uint64_t gpa, unsigned size, uint64_t value)
{
	struct fixture *f = fix_of_env(env);

	f->mmio_addr = gpa;
	f->mmio_size = size;
	f->mmio_value = value;
	f->mmio_writes++;
}

static int fix_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, FIX_RAM), 0);
	f->cpu.mem = &f->mem;
	f->cpu.tlb = emu_tlb_new();
	assert_non_null(f->cpu.tlb);
	f->env.mmio_read = fix_mmio_read;
	f->env.mmio_write = fix_mmio_write;
	f->cpu.env = &f->env;
	emu_cpu_reset(&f->cpu);
	f->next_table = 0x400000;
	*state = f;
	return 0;
}

static int fix_teardown(void **state)
{
	struct fixture *f = *state;

	emu_tlb_free(f->cpu.tlb);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

/* Run stmt; evaluates to true when it completed, false when it raised
 * (the exception is then in cpu->event). */
#define TRY(cpu, stmt) __extension__ ({                          \
	jmp_buf try_jb_;                                         \
	bool try_ok_;                                            \
	(cpu)->fault_jmp = &try_jb_;                             \
	(cpu)->event.pending = false;                            \
	if (setjmp(try_jb_) == 0) {                              \
		stmt;                                            \
		try_ok_ = true;                                  \
	} else {                                                 \
		try_ok_ = false;                                 \
	}                                                        \
	(cpu)->fault_jmp = NULL;                                 \
	try_ok_;                                                 \
})

/* Expect stmt to raise vector with error code err (err < 0: no code). */
#define EXPECT_FAULT(cpu, stmt, vec, err) do {                            \
	assert_false(TRY(cpu, stmt));                                     \
	assert_int_equal((cpu)->event.vector, (vec));                     \
	if ((err) < 0) {                                                  \
		assert_false((cpu)->event.has_error);                     \
	} else {                                                          \
		assert_true((cpu)->event.has_error);                      \
		assert_int_equal((cpu)->event.error, (uint32_t)(err));    \
	}                                                                 \
} while (0)

static inline uint64_t fix_rd64(struct fixture *f, uint64_t pa)
{
	uint64_t v = 0;

	assert_int_equal(guest_mem_read(&f->mem, pa, &v, 8), 0);
	return v;
}

static inline uint32_t fix_rd32(struct fixture *f, uint64_t pa)
{
	uint32_t v = 0;

	assert_int_equal(guest_mem_read(&f->mem, pa, &v, 4), 0);
	return v;
}

static inline void fix_wr64(struct fixture *f, uint64_t pa, uint64_t v)
{
	assert_int_equal(guest_mem_write(&f->mem, pa, &v, 8), 0);
}

static inline void fix_wr32(struct fixture *f, uint64_t pa, uint32_t v)
{
	assert_int_equal(guest_mem_write(&f->mem, pa, &v, 4), 0);
}

static inline void fix_wr16(struct fixture *f, uint64_t pa, uint16_t v)
{
	assert_int_equal(guest_mem_write(&f->mem, pa, &v, 2), 0);
}

/* ---- descriptors ------------------------------------------------------- */

/* An 8-byte segment descriptor. access: P DPL S type (byte 5); flags:
 * G D/B L AVL (high nibble of byte 6). */
static inline uint64_t desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	return (uint64_t)(limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)(flags & 0xf0) << 48) | ((uint64_t)(base >> 24) << 56);
}

#define ACC_CODE(dpl)  (0x9a | ((dpl) << 5))   /* present, exec/read */
#define ACC_DATA(dpl)  (0x92 | ((dpl) << 5))   /* present, read/write */
#define FL_32 0xc0                             /* G=1, D=1 */
#define FL_64 0xa0                             /* G=1, L=1 */

/* Protected mode with the GDT at gdt_pa (nentries entries) and a flat
 * ring 0 32-bit CS (selector 0x08) and SS/DS/ES (0x10). */
static inline void fix_protected(struct fixture *f, uint64_t gdt_pa, unsigned nentries)
{
	struct emu_cpu *c = &f->cpu;

	c->gdtr.base = gdt_pa;
	c->gdtr.limit = (uint16_t)(nentries * 8 - 1);
	c->cr0 = EMU_CR0_PE | EMU_CR0_ET;
	for (unsigned s = 0; s < SEG_COUNT; s++)
		c->seg[s] = (struct emu_segment){ .selector = 0x10, .limit = 0xffffffff, .type = 0x3,
						   .s = 1, .present = 1, .db = 1, .g = 1 };
	c->seg[SEG_CS] = (struct emu_segment){ .selector = 0x08, .limit = 0xffffffff, .type = 0xb,
					        .s = 1, .present = 1, .db = 1, .g = 1 };
	emu_update_mode(c);
	emu_tlb_flush(c, true);
}

/* 64-bit mode at CPL 0: flat CS 0x08 (L=1), SS/DS 0x10, paging on with
 * the caller's CR3 (set later), PAE. */
static inline void fix_long(struct fixture *f, uint64_t gdt_pa, unsigned nentries)
{
	struct emu_cpu *c = &f->cpu;

	fix_protected(f, gdt_pa, nentries);
	c->seg[SEG_CS].l = 1;
	c->seg[SEG_CS].db = 0;
	c->cr4 = EMU_CR4_PAE;
	c->efer = EMU_EFER_LME | EMU_EFER_LMA;
	c->cr0 |= EMU_CR0_PG;
	emu_update_mode(c);
	emu_tlb_flush(c, true);
}

/* Set the CPL the way the architecture holds it: CS.RPL and SS.DPL. */
static inline void fix_set_cpl(struct fixture *f, unsigned cpl)
{
	struct emu_cpu *c = &f->cpu;

	c->seg[SEG_CS].selector = (uint16_t)((c->seg[SEG_CS].selector & ~3u) | cpl);
	c->seg[SEG_CS].dpl = (uint8_t)cpl;
	c->seg[SEG_SS].selector = (uint16_t)((c->seg[SEG_SS].selector & ~3u) | cpl);
	c->seg[SEG_SS].dpl = (uint8_t)cpl;
	for (unsigned s = 0; s < SEG_COUNT; s++)
		if (s != SEG_CS && s != SEG_SS)
			c->seg[s].dpl = 3;
	emu_update_mode(c);
}

/* ---- page tables (4-level) --------------------------------------------- */

#define PTE_P  (1ull << 0)
#define PTE_W  (1ull << 1)
#define PTE_U  (1ull << 2)
#define PTE_A  (1ull << 5)
#define PTE_D  (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G  (1ull << 8)
#define PTE_XD (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

static __attribute__((noinline, unused)) uint64_t fix_alloc_table(struct fixture *f)
{
	uint64_t pa = f->next_table;

	f->next_table += 0x1000;
	assert_true(f->next_table <= FIX_RAM);
	memset(guest_mem_ptr(&f->mem, pa, 0x1000), 0, 0x1000);
	return pa;
}

/* Where the entry for la at level (4 = PML4 .. 1 = PT) lives, creating
 * the tables above it with permissive entries (P W U). */
static __attribute__((noinline, unused)) uint64_t fix_entry_pa(struct fixture *f, uint64_t cr3, uint64_t la, int level)
{
	uint64_t table = cr3 & PTE_ADDR;

	for (int l = 4; l > level; l--) {
		uint64_t epa = table + ((la >> (12 + 9 * (l - 1))) & 511) * 8;
		uint64_t e = fix_rd64(f, epa);

		if (!(e & PTE_P)) {
			e = fix_alloc_table(f) | PTE_P | PTE_W | PTE_U;
			fix_wr64(f, epa, e);
		}
		table = e & PTE_ADDR;
	}
	return table + ((la >> (12 + 9 * (level - 1))) & 511) * 8;
}

/* Map the 4 KiB page la -> pa with leaf flags. */
static __attribute__((noinline, unused)) uint64_t fix_map4k(struct fixture *f, uint64_t la, uint64_t pa, uint64_t flags)
{
	uint64_t epa = fix_entry_pa(f, f->cpu.cr3, la, 1);

	fix_wr64(f, epa, (pa & PTE_ADDR) | flags);
	return epa;
}

/* Decode and execute one instruction given as bytes through table (at
 * cpu->rip, which the bytes do not need to be stored at). true when it
 * completed. */
static inline bool fix_exec_bytes(const struct exec_table *table, struct emu_cpu *c,
				  const uint8_t *bytes, size_t n)
{
	struct insn insn;
	exec_fn fn;

	assert_int_equal(emu_decode(&insn, bytes, n, c->mode), DECODE_OK);
	insn.next_rip = c->rip + insn.len;
	if (c->mode != EMU_MODE_LONG64)
		insn.next_rip &= c->mode == EMU_MODE_PROT32 ? 0xffffffffull : 0xffffull;
	fn = table->fn[insn.map][insn.op];
	assert_non_null(fn);
	return TRY(c, fn(c, &insn));
}

#endif
