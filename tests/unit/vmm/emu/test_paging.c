/* Paging and the memory paths of the software core: every permission
 * combination of 4-level paging, accessed/dirty bits, large pages,
 * reserved-bit faults, CR2 and error codes, the TLB's flush rules, 32-bit
 * and PAE paging, page-crossing accesses, MMIO and segmentation-free flat
 * accesses. */
#include <stdbool.h>
#include <stdlib.h>

#include "sys_fixture.h"
#include "vmm/emu/sysregs.h"

#define CR3_PA 0x100000ull
#define DATA_LA 0x0000000040000000ull
#define DATA_PA 0x200000ull

static void paging_on(struct fixture *f, bool nxe, bool wp)
{
	fix_long(f, 0, 0);
	f->cpu.cr3 = fix_alloc_table(f);
	if (nxe)
		f->cpu.efer |= EMU_EFER_NXE;
	if (wp)
		f->cpu.cr0 |= EMU_CR0_WP;
	emu_tlb_flush(&f->cpu, true);
}

/* ---- flat, paging off --------------------------------------------------- */

static void flat_real_mode_reads_and_writes_ram(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	volatile uint64_t v = 0;

	c->seg[SEG_DS].base = 0x1000;
	assert_true(TRY(c, emu_write(c, SEG_DS, 0x10, 4, 0xdeadbeef)));
	assert_int_equal(fix_rd32(f, 0x1010), 0xdeadbeef);
	assert_true(TRY(c, v = emu_read(c, SEG_DS, 0x10, 2)));
	assert_int_equal(v, 0xbeef);
	/* Past the 64 KiB limit: #GP(0); on SS: #SS(0). */
	EXPECT_FAULT(c, emu_read(c, SEG_DS, 0xffff, 2), EMU_VEC_GP, 0);
	EXPECT_FAULT(c, emu_read(c, SEG_SS, 0xfffe, 4), EMU_VEC_SS, 0);
}

static void flat_accesses_outside_ram_go_to_mmio(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	volatile uint64_t v = 0;

	fix_protected(f, 0, 0);
	assert_true(TRY(c, v = emu_read(c, SEG_DS, 0xfeb00010, 4)));
	assert_int_equal(v, 0x55667788);
	assert_int_equal(f->mmio_addr, 0xfeb00010);
	assert_int_equal(f->mmio_size, 4);
	assert_true(TRY(c, emu_write(c, SEG_DS, 0xfeb00020, 2, 0xabcd)));
	assert_int_equal(f->mmio_value, 0xabcd);
	assert_int_equal(f->mmio_writes, 1);
	/* An access straddling the end of RAM: the RAM part and one MMIO
	 * read for the rest. */
	f->mmio_reads = 0;
	fix_wr16(f, FIX_RAM - 2, 0x3344);
	assert_true(TRY(c, v = emu_read(c, SEG_DS, FIX_RAM - 2, 4)));
	assert_int_equal(v, 0x77883344);
	assert_int_equal(f->mmio_reads, 1);
	assert_int_equal(f->mmio_addr, FIX_RAM);
	assert_int_equal(f->mmio_size, 2);
}

static void rmw_pointer_only_for_ram_within_a_page(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	void *volatile p = NULL;

	fix_protected(f, 0, 0);
	assert_true(TRY(c, p = emu_rmw_ptr(c, SEG_DS, 0x2000, 8)));
	assert_ptr_equal(p, guest_mem_ptr(&f->mem, 0x2000, 8));
	assert_true(TRY(c, p = emu_rmw_ptr(c, SEG_DS, 0x2ffc, 8)));
	assert_null(p);
	assert_true(TRY(c, p = emu_rmw_ptr(c, SEG_DS, 0xfeb00000, 4)));
	assert_null(p);
}

static void fetch_stops_at_the_cs_limit(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	uint8_t buf[15];
	volatile unsigned n = 0;

	/* Reset state: CS base 0xFFFF0000 is outside RAM (MMIO reads). */
	c->seg[SEG_CS].base = 0x10000;
	assert_true(TRY(c, n = emu_fetch(c, 0xfff8, buf, 15)));
	assert_int_equal(n, 8);
	EXPECT_FAULT(c, emu_fetch(c, 0x10000, buf, 15), EMU_VEC_GP, 0);
}

/* ---- the permission matrix ---------------------------------------------- */

/* Whether an access is allowed by a leaf with these rights (no SMEP/SMAP). */
static bool allowed(bool u, bool w, bool nx, bool wp, unsigned cpl, enum emu_access kind)
{
	if (cpl == 3) {
		if (!u)
			return false;
		if (kind == EMU_WRITE)
			return w;
		if (kind == EMU_FETCH)
			return !nx;
		return true;
	}
	if (kind == EMU_WRITE)
		return w || !wp;
	if (kind == EMU_FETCH)
		return !nx;
	return true;
}

static bool access(struct emu_cpu *c, uint64_t la, enum emu_access kind)
{
	uint8_t b;

	switch (kind) {
	case EMU_READ:
		return TRY(c, emu_read_linear(c, la, 4, false));
	case EMU_WRITE:
		return TRY(c, emu_write_linear(c, la, 4, 0x12345678, false));
	default:
		return TRY(c, emu_fetch(c, la, &b, 1));
	}
}

static void every_permission_combination(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	static const char *kinds[] = { "read", "write", "fetch" };

	for (unsigned bits = 0; bits < 32; bits++) {
		bool u = bits & 1, w = bits & 2, nx = bits & 4, wp = bits & 8;
		unsigned cpl = (bits & 16) ? 3 : 0;

		for (unsigned k = 0; k < 3; k++) {
			enum emu_access kind = (enum emu_access)k;
			uint64_t flags = PTE_P | (u ? PTE_U : 0) | (w ? PTE_W : 0) | (nx ? PTE_XD : 0);
			bool ok, want = allowed(u, w, nx, wp, cpl, kind);

			f->next_table = 0x400000;
			paging_on(f, true, wp);
			fix_map4k(f, DATA_LA, DATA_PA, flags);
			fix_set_cpl(f, cpl);
			ok = access(c, DATA_LA + 0x10, kind);
			if (ok != want)
				fail_msg("u=%d w=%d nx=%d wp=%d cpl=%u %s: %s", u, w, nx, wp, cpl,
					 kinds[k], ok ? "allowed" : "faulted");
			if (!ok) {
				uint32_t err = EMU_PF_P | (kind == EMU_WRITE ? EMU_PF_W : 0) |
					       (cpl == 3 ? EMU_PF_U : 0) |
					       (kind == EMU_FETCH ? EMU_PF_I : 0);

				assert_int_equal(c->event.vector, EMU_VEC_PF);
				assert_int_equal(c->event.error, err);
				assert_int_equal(c->cr2, DATA_LA + 0x10);
			}
			/* The same access again goes through the TLB: same answer. */
			assert_int_equal(access(c, DATA_LA + 0x10, kind), want);
		}
	}
}

static void upper_levels_restrict_too(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	uint64_t pde;

	paging_on(f, true, true);
	fix_map4k(f, DATA_LA, DATA_PA, PTE_P | PTE_W | PTE_U);
	pde = fix_entry_pa(f, c->cr3, DATA_LA, 2);
	fix_wr64(f, pde, fix_rd64(f, pde) & ~PTE_U);
	fix_set_cpl(f, 3);
	EXPECT_FAULT(c, emu_read_linear(c, DATA_LA, 4, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_U);
	/* Implicit supervisor accesses ignore CPL. */
	assert_true(TRY(c, emu_read_linear(c, DATA_LA, 4, true)));
	fix_set_cpl(f, 0);
	fix_wr64(f, pde, fix_rd64(f, pde) | PTE_U | PTE_XD);
	emu_tlb_flush(c, true);
	EXPECT_FAULT(c, emu_fetch(c, DATA_LA, (uint8_t[1]){ 0 }, 1), EMU_VEC_PF, EMU_PF_P | EMU_PF_I);
	fix_wr64(f, pde, (fix_rd64(f, pde) & ~PTE_XD) & ~PTE_W);
	emu_tlb_flush(c, true);
	EXPECT_FAULT(c, emu_write_linear(c, DATA_LA, 4, 1, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_W);
}

static void not_present_and_cr2(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	paging_on(f, false, false);
	fix_set_cpl(f, 3);
	EXPECT_FAULT(c, emu_write_linear(c, 0x7000123, 1, 0, false), EMU_VEC_PF, EMU_PF_W | EMU_PF_U);
	assert_int_equal(c->cr2, 0x7000123);
	/* Without NXE, fetches do not report I/D. */
	fix_set_cpl(f, 0);
	EXPECT_FAULT(c, emu_fetch(c, 0x7000456, (uint8_t[1]){ 0 }, 1), EMU_VEC_PF, 0);
	assert_int_equal(c->cr2, 0x7000456);
	/* Non-canonical: #GP(0), CR2 untouched. */
	EXPECT_FAULT(c, emu_read_linear(c, 0x0000800000000000ull, 1, false), EMU_VEC_GP, 0);
	assert_int_equal(c->cr2, 0x7000456);
}

/* ---- accessed and dirty ------------------------------------------------- */

static void accessed_and_dirty_bits(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	uint64_t pte, pde, pdpte, pml4e;

	paging_on(f, false, false);
	pte = fix_map4k(f, DATA_LA, DATA_PA, PTE_P | PTE_W);
	pde = fix_entry_pa(f, c->cr3, DATA_LA, 2);
	pdpte = fix_entry_pa(f, c->cr3, DATA_LA, 3);
	pml4e = fix_entry_pa(f, c->cr3, DATA_LA, 4);
	assert_true(TRY(c, emu_read_linear(c, DATA_LA, 8, false)));
	assert_true(fix_rd64(f, pte) & PTE_A);
	assert_false(fix_rd64(f, pte) & PTE_D);
	assert_true(fix_rd64(f, pde) & PTE_A);
	assert_true(fix_rd64(f, pdpte) & PTE_A);
	assert_true(fix_rd64(f, pml4e) & PTE_A);
	/* The entry the read filled does not carry write permission: the
	 * write walks again and sets D. */
	assert_true(TRY(c, emu_write_linear(c, DATA_LA, 8, 1, false)));
	assert_true(fix_rd64(f, pte) & PTE_D);
	assert_false(fix_rd64(f, pde) & PTE_D);
	assert_int_equal(fix_rd64(f, DATA_PA), 1);
	/* A faulting access sets nothing. */
	fix_wr64(f, pte, (DATA_PA | PTE_P) & ~PTE_W);
	emu_tlb_flush(c, true);
	fix_set_cpl(f, 3);
	EXPECT_FAULT(c, emu_read_linear(c, DATA_LA, 8, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_U);
	assert_false(fix_rd64(f, pte) & PTE_A);
}

/* ---- large pages, reserved bits ----------------------------------------- */

static void two_mib_and_one_gib_pages(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	uint64_t pde, pdpte;
	volatile uint64_t pa = 0;

	paging_on(f, true, true);
	pde = fix_entry_pa(f, c->cr3, 0x80000000ull, 2);
	fix_wr64(f, pde, 0x600000 | PTE_P | PTE_W | PTE_PS);
	assert_true(TRY(c, pa = emu_translate(c, 0x80123456ull, EMU_WRITE, false)));
	assert_int_equal(pa, 0x723456);
	assert_true(fix_rd64(f, pde) & PTE_D);

	/* 1 GiB page at 3 GiB mapping physical 0 (bits 29:13 must be 0). */
	pdpte = fix_entry_pa(f, c->cr3, 0xc0000000ull, 3);
	fix_wr64(f, pdpte, PTE_P | PTE_PS);
	assert_true(TRY(c, pa = emu_translate(c, 0xc0abcdefull, EMU_READ, false)));
	assert_int_equal(pa, 0xabcdef);
	EXPECT_FAULT(c, emu_translate(c, 0xc0abcdefull, EMU_WRITE, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_W);
	fix_wr64(f, pdpte, PTE_P | PTE_PS | (1ull << 13));
	emu_tlb_flush(c, true);
	EXPECT_FAULT(c, emu_translate(c, 0xc0000000ull, EMU_READ, false), EMU_VEC_PF,
		     EMU_PF_P | EMU_PF_RSVD);
}

static void reserved_bits_fault_with_rsvd(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	uint64_t pte, pde, pml4e;

	paging_on(f, false, false);
	pte = fix_map4k(f, DATA_LA, DATA_PA, PTE_P | PTE_W);
	/* XD without NXE is reserved. */
	fix_wr64(f, pte, DATA_PA | PTE_P | PTE_XD);
	EXPECT_FAULT(c, emu_read_linear(c, DATA_LA, 1, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_RSVD);
	assert_int_equal(c->cr2, DATA_LA);
	/* An address bit at MAXPHYADDR. */
	fix_wr64(f, pte, DATA_PA | PTE_P | (1ull << EMU_PHYS_ADDR_BITS));
	fix_set_cpl(f, 3);
	EXPECT_FAULT(c, emu_write_linear(c, DATA_LA, 1, 0, true), EMU_VEC_PF,
		     EMU_PF_P | EMU_PF_RSVD | EMU_PF_W);
	fix_set_cpl(f, 0);
	/* 2 MiB page with bit 13 set. */
	fix_wr64(f, pte, DATA_PA | PTE_P);
	pde = fix_entry_pa(f, c->cr3, DATA_LA, 2);
	fix_wr64(f, pde, 0x200000 | PTE_P | PTE_PS | (1ull << 13));
	EXPECT_FAULT(c, emu_read_linear(c, DATA_LA, 1, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_RSVD);
	/* PS in a PML4E. */
	pml4e = fix_entry_pa(f, c->cr3, DATA_LA, 4);
	fix_wr64(f, pml4e, fix_rd64(f, pml4e) | PTE_PS);
	EXPECT_FAULT(c, emu_read_linear(c, DATA_LA, 1, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_RSVD);
}

/* ---- TLB flush rules ---------------------------------------------------- */

static void global_pages_survive_cr3_writes(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	uint64_t pg, pn;
	volatile uint64_t v = 0;

	paging_on(f, false, false);
	c->cr4 |= EMU_CR4_PGE;
	fix_wr64(f, 0x300000, 1);
	fix_wr64(f, 0x301000, 2);
	fix_wr64(f, 0x302000, 3);
	pg = fix_map4k(f, 0x10000000, 0x300000, PTE_P | PTE_W | PTE_G);
	pn = fix_map4k(f, 0x10001000, 0x300000, PTE_P | PTE_W);
	assert_true(TRY(c, emu_read_linear(c, 0x10000000, 8, false)));
	assert_true(TRY(c, emu_read_linear(c, 0x10001000, 8, false)));
	fix_wr64(f, pg, 0x301000 | PTE_P | PTE_W | PTE_G);
	fix_wr64(f, pn, 0x301000 | PTE_P | PTE_W);
	/* MOV CR3: the non-global page sees the change, the global one not. */
	assert_true(TRY(c, emu_write_cr3(c, c->cr3)));
	assert_true(TRY(c, v = emu_read_linear(c, 0x10000000, 8, false)));
	assert_int_equal(v, 1);
	assert_true(TRY(c, v = emu_read_linear(c, 0x10001000, 8, false)));
	assert_int_equal(v, 2);
	/* INVLPG drops the global one too. */
	emu_tlb_flush_page(c, 0x10000abc);
	assert_true(TRY(c, v = emu_read_linear(c, 0x10000000, 8, false)));
	assert_int_equal(v, 2);
	/* Clearing CR4.PGE flushes everything. */
	fix_wr64(f, pg, 0x302000 | PTE_P | PTE_W | PTE_G);
	assert_true(TRY(c, emu_write_cr3(c, c->cr3)));
	assert_true(TRY(c, v = emu_read_linear(c, 0x10000000, 8, false)));
	assert_int_equal(v, 2);
	assert_true(TRY(c, emu_write_cr4(c, c->cr4 & ~EMU_CR4_PGE)));
	assert_true(TRY(c, v = emu_read_linear(c, 0x10000000, 8, false)));
	assert_int_equal(v, 3);
}

static void invlpg_drops_a_whole_large_page(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	uint64_t pde;
	volatile uint64_t v = 0;

	paging_on(f, false, false);
	pde = fix_entry_pa(f, c->cr3, 0x80000000ull, 2);
	fix_wr64(f, pde, 0x200000 | PTE_P | PTE_W | PTE_PS);
	fix_wr64(f, 0x200000 + 0x5000, 0xaa);
	fix_wr64(f, 0x400000 + 0x5000, 0xbb);
	assert_true(TRY(c, v = emu_read_linear(c, 0x80005000ull, 8, false)));
	assert_int_equal(v, 0xaa);
	fix_wr64(f, pde, 0x400000 | PTE_P | PTE_W | PTE_PS);
	/* INVLPG of another 4 KiB piece of the same 2 MiB page. */
	emu_tlb_flush_page(c, 0x80100000ull);
	assert_true(TRY(c, v = emu_read_linear(c, 0x80005000ull, 8, false)));
	assert_int_equal(v, 0xbb);
}

/* ---- other paging modes ------------------------------------------------- */

static void thirty_two_bit_paging_with_pse(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	volatile uint64_t pa = 0;
	uint32_t pd = 0x100000, pt = 0x101000;

	fix_protected(f, 0, 0);
	memset(guest_mem_ptr(&f->mem, pd, 0x2000), 0, 0x2000);
	c->cr3 = pd;
	c->cr4 = EMU_CR4_PSE;
	c->cr0 |= EMU_CR0_PG | EMU_CR0_WP;
	emu_tlb_flush(c, true);
	/* 4 KiB: 0x00403000 -> 0x5000, user read-only. */
	fix_wr32(f, pd + 1 * 4, pt | 0x7);
	fix_wr32(f, pt + 3 * 4, 0x5000 | 0x5);
	assert_true(TRY(c, pa = emu_translate(c, 0x00403010, EMU_READ, false)));
	assert_int_equal(pa, 0x5010);
	assert_true(fix_rd32(f, pt + 12) & PTE_A);
	EXPECT_FAULT(c, emu_translate(c, 0x00403010, EMU_WRITE, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_W);
	/* 4 MiB with PSE-36: PDE bits 20:13 are physical bits 39:32. */
	fix_wr32(f, pd + 2 * 4, 0x00c00000 | (0x3u << 13) | 0x83);
	assert_true(TRY(c, pa = emu_translate(c, 0x00812345, EMU_WRITE, false)));
	assert_int_equal(pa, 0x300c12345ull);
	assert_true(fix_rd32(f, pd + 8) & PTE_D);
	/* Bit 21 of a 4 MiB PDE is reserved. */
	fix_wr32(f, pd + 3 * 4, 0x01000000 | (1u << 21) | 0x83);
	EXPECT_FAULT(c, emu_translate(c, 0x00c00000, EMU_READ, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_RSVD);
	/* Without CR4.PSE the PS bit means nothing: a page table. */
	c->cr4 = 0;
	emu_tlb_flush(c, true);
	fix_wr32(f, pd + 2 * 4, pt | 0x83);
	assert_true(TRY(c, pa = emu_translate(c, 0x00803000, EMU_READ, false)));
	assert_int_equal(pa, 0x5000);
}

static void pae_paging_with_nx(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	volatile uint64_t pa = 0;
	uint64_t pdpt = 0x100000, pd = 0x101000, pt = 0x102000;

	fix_protected(f, 0, 0);
	memset(guest_mem_ptr(&f->mem, pdpt, 0x3000), 0, 0x3000);
	c->cr3 = pdpt;
	c->cr4 = EMU_CR4_PAE;
	c->efer = EMU_EFER_NXE;
	c->cr0 |= EMU_CR0_PG;
	emu_tlb_flush(c, true);
	fix_wr64(f, pdpt + 1 * 8, pd | PTE_P);
	fix_wr64(f, pd + 2 * 8, pt | PTE_P | PTE_W);
	fix_wr64(f, pt + 5 * 8, 0x9000 | PTE_P | PTE_XD);
	assert_true(TRY(c, pa = emu_translate(c, 0x40405123, EMU_READ, false)));
	assert_int_equal(pa, 0x9123);
	EXPECT_FAULT(c, emu_translate(c, 0x40405123, EMU_FETCH, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_I);
	/* PDPTE bits 2:1 are reserved in PAE paging. */
	fix_wr64(f, pdpt + 1 * 8, pd | PTE_P | PTE_W);
	emu_tlb_flush(c, true);
	EXPECT_FAULT(c, emu_translate(c, 0x40405123, EMU_READ, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_RSVD);
}

/* ---- crossing pages ----------------------------------------------------- */

static void page_crossing_write_is_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	volatile uint64_t v = 0;

	paging_on(f, false, false);
	fix_map4k(f, 0x10000000, 0x300000, PTE_P | PTE_W);
	fix_map4k(f, 0x10001000, 0x301000, PTE_P);  /* read-only */
	c->cr0 |= EMU_CR0_WP;
	emu_tlb_flush(c, true);
	fix_wr64(f, 0x300ff8, 0x1111111111111111ull);
	EXPECT_FAULT(c, emu_write_linear(c, 0x10000ffc, 8, 0, false), EMU_VEC_PF, EMU_PF_P | EMU_PF_W);
	assert_int_equal(c->cr2, 0x10001000);
	assert_int_equal(fix_rd64(f, 0x300ff8), 0x1111111111111111ull);
	/* Reads across the boundary join both pages. */
	fix_wr32(f, 0x301000, 0x44332211);
	assert_true(TRY(c, v = emu_read_linear(c, 0x10000ffe, 4, false)));
	assert_int_equal(v, 0x22111111);
	/* A fetch stops quietly at a page that faults after the first byte. */
	{
		uint8_t buf[15];
		volatile unsigned n = 0;

		fix_map4k(f, 0x10002000, 0x302000, PTE_P);
		assert_true(TRY(c, n = emu_fetch(c, 0x10001ffa, buf, 15)));
		assert_int_equal(n, 15);
		assert_true(TRY(c, n = emu_fetch(c, 0x10002ffa, buf, 15)));
		assert_int_equal(n, 6);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(flat_real_mode_reads_and_writes_ram, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(flat_accesses_outside_ram_go_to_mmio, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(rmw_pointer_only_for_ram_within_a_page, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(fetch_stops_at_the_cs_limit, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(every_permission_combination, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(upper_levels_restrict_too, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(not_present_and_cr2, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(accessed_and_dirty_bits, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(two_mib_and_one_gib_pages, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(reserved_bits_fault_with_rsvd, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(global_pages_survive_cr3_writes, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(invlpg_drops_a_whole_large_page, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(thirty_two_bit_paging_with_pse, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(pae_paging_with_nx, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(page_crossing_write_is_all_or_nothing, fix_setup, fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
