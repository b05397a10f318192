#include "fixtures.h"

#include "loader/x86_boot.h"

/* An independent decoder of a GDT slot, straight from the SDM layout. */
static void check_desc_matches(const struct guest_mem *mem, const struct cpu_segment *s)
{
	uint64_t d = g64(mem, BOOT_GDT_ADDR + s->selector);
	uint32_t limit = (uint32_t)((d & 0xFFFF) | ((d >> 32) & 0xF0000));
	unsigned g = (d >> 55) & 1;

	assert_int_equal(s->selector & 7, 0);
	assert_int_equal((d >> 16 & 0xFFFFFF) | ((d >> 56) << 24), s->base);
	assert_int_equal(g ? (limit << 12 | 0xFFF) : limit, s->limit);
	assert_int_equal((d >> 40) & 0xF, s->type);
	assert_int_equal((d >> 44) & 1, s->s);
	assert_int_equal((d >> 45) & 3, s->dpl);
	assert_int_equal((d >> 47) & 1, s->present);
	assert_int_equal((d >> 52) & 1, s->avl);
	assert_int_equal((d >> 53) & 1, s->l);
	assert_int_equal((d >> 54) & 1, s->db);
	assert_int_equal(g, s->g);
	assert_int_equal(s->unusable, 0);
}

static void check_flat_data(const struct cpu_segment *s)
{
	assert_int_equal(s->selector, 0x18);
	assert_int_equal(s->base, 0);
	assert_int_equal(s->limit, 0xFFFFFFFFu);
	assert_int_equal(s->type, 0x3);
	assert_int_equal(s->s, 1);
	assert_int_equal(s->present, 1);
	assert_int_equal(s->dpl, 0);
	assert_int_equal(s->g, 1);
	assert_int_equal(s->db, 1);
}

static void check_common(const struct guest_mem *mem, const struct cpu_state *st)
{
	check_desc_matches(mem, &st->cs);
	check_desc_matches(mem, &st->ds);
	check_desc_matches(mem, &st->tr);
	check_flat_data(&st->ds);
	check_flat_data(&st->es);
	check_flat_data(&st->fs);
	check_flat_data(&st->gs);
	check_flat_data(&st->ss);
	assert_int_equal(g64(mem, BOOT_GDT_ADDR), 0);
	assert_int_equal(g64(mem, BOOT_GDT_ADDR + 8), 0);

	assert_int_equal(st->cs.selector, 0x10);
	assert_int_equal(st->cs.type, 0xB);
	assert_int_equal(st->cs.s, 1);
	assert_int_equal(st->cs.base, 0);
	assert_int_equal(st->cs.limit, 0xFFFFFFFFu);

	assert_int_equal(st->tr.type, 11);
	assert_int_equal(st->tr.s, 0);
	assert_int_equal(st->tr.present, 1);
	assert_int_equal(st->tr.base, 0);
	assert_int_equal(st->tr.limit, 0x67);
	assert_int_equal(st->ldt.unusable, 1);
	assert_int_equal(st->ldt.type, 2);

	assert_int_equal(st->gdt.base, BOOT_GDT_ADDR);
	assert_int_equal(st->gdt.limit, BOOT_GDT_LIMIT);
	assert_true(BOOT_GDT_ADDR + st->gdt.limit < BOOT_IDT_ADDR);
	assert_int_equal(st->idt.limit, 0);
	assert_int_equal(st->rflags, 0x2);
	for (int i = 0; i < CPU_NR_GPRS; i++)
		assert_int_equal(st->gpr[i], 0);
}

/* Walks the guest's 4-level tables for a linear address as the MMU would. */
static uint64_t walk(const struct guest_mem *mem, uint64_t cr3, uint64_t va, uint64_t *pde_out)
{
	uint64_t pml4e = g64(mem, (cr3 & ~0xFFFull) + 8 * ((va >> 39) & 511));
	uint64_t pdpte, pde;

	assert_true(pml4e & 1);
	assert_true(pml4e & 2);
	pdpte = g64(mem, (pml4e & 0xFFFFFFFFF000ull) + 8 * ((va >> 30) & 511));
	assert_true(pdpte & 1);
	assert_false(pdpte & 0x80);
	pde = g64(mem, (pdpte & 0xFFFFFFFFF000ull) + 8 * ((va >> 21) & 511));
	assert_true(pde & 1);
	assert_true(pde & 2);
	assert_true(pde & 0x80);  /* 2 MiB page */
	*pde_out = pde;
	return (pde & 0xFFFFFFE00000ull) | (va & 0x1FFFFF);
}

static void test_long_mode(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct cpu_state st;
	uint64_t pde;

	(void)state;
	memset(&st, 0xA5, sizeof(st));
	assert_int_equal(x86_boot_setup(mem, X86_BOOT_LONG_MODE, &st), 0);
	check_common(mem, &st);

	assert_int_equal(st.cs.l, 1);
	assert_int_equal(st.cs.db, 0);
	assert_int_equal(st.cr0, 0x80010033);  /* PE MP ET NE WP PG */
	assert_int_equal(st.cr4, 0x20);        /* PAE */
	assert_int_equal(st.efer, 0x500);      /* LME LMA */
	assert_int_equal(st.cr3, BOOT_PAGE_TABLES_ADDR);

	static const uint64_t probes[] = {
		0, 0x1234, MiB(2) + 7, MiB(17), GiB(1), GiB(2) + 0x12345, GiB(3) - 1,
		PCI_HOLE_START, IOAPIC_BASE, LAPIC_BASE + 0x30, GiB(4) - 1,
	};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		assert_int_equal(walk(mem, st.cr3, probes[i], &pde), probes[i]);
		/* Uncached exactly in the PCI hole. */
		assert_int_equal((pde & 0x18) != 0, probes[i] >= PCI_HOLE_START);
		if (probes[i] >= PCI_HOLE_START)
			assert_int_equal(pde & 0x18, 0x18);
	}
	/* Nothing above 4 GiB: PML4[0] only, PDPT[0..3] only. */
	for (int i = 1; i < 512; i++)
		assert_int_equal(g64(mem, BOOT_PAGE_TABLES_ADDR + 8 * i), 0);
	for (int i = 4; i < 512; i++)
		assert_int_equal(g64(mem, BOOT_PAGE_TABLES_ADDR + 0x1000 + 8 * i), 0);
	mem_free(mem);
}

static void test_protected_mode(void **state)
{
	struct guest_mem *mem = mem_new(MiB(2));
	struct cpu_state st;

	(void)state;
	assert_int_equal(x86_boot_setup(mem, X86_BOOT_PROTECTED_MODE, &st), 0);
	check_common(mem, &st);
	assert_int_equal(st.cs.l, 0);
	assert_int_equal(st.cs.db, 1);
	assert_int_equal(st.cs.g, 1);
	assert_int_equal(st.cr0, 0x11);  /* PE ET */
	assert_int_equal(st.cr0 & X86_CR0_PG, 0);
	assert_int_equal(st.cr4, 0);
	assert_int_equal(st.efer, 0);
	/* Paging is off: no page tables written. */
	assert_int_equal(g64(mem, BOOT_PAGE_TABLES_ADDR), 0);
	mem_free(mem);
}

static void same_seg(const struct cpu_segment *x, const struct cpu_segment *y)
{
	assert_int_equal(x->base, y->base);
	assert_int_equal(x->limit, y->limit);
	assert_int_equal(x->selector, y->selector);
	assert_int_equal(x->type, y->type);
	assert_int_equal(x->s, y->s);
	assert_int_equal(x->dpl, y->dpl);
	assert_int_equal(x->present, y->present);
	assert_int_equal(x->db, y->db);
	assert_int_equal(x->l, y->l);
	assert_int_equal(x->g, y->g);
	assert_int_equal(x->unusable, y->unusable);
}

/* The builder alone gives the same state the setup call does. */
static void test_state_builder_matches_setup(void **state)
{
	struct guest_mem *mem = mem_new(MiB(8));
	struct cpu_state a, b;

	(void)state;
	for (int m = 0; m < 2; m++) {
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		assert_int_equal(x86_boot_setup(mem, (enum x86_boot_mode)m, &a), 0);
		x86_boot_cpu_state((enum x86_boot_mode)m, &b);
		assert_int_equal(a.cr0, b.cr0);
		assert_int_equal(a.cr3, b.cr3);
		assert_int_equal(a.cr4, b.cr4);
		assert_int_equal(a.efer, b.efer);
		assert_int_equal(a.rflags, b.rflags);
		assert_int_equal(a.gdt.base, b.gdt.base);
		assert_int_equal(a.gdt.limit, b.gdt.limit);
		assert_int_equal(a.idt.base, b.idt.base);
		same_seg(&a.cs, &b.cs);
		same_seg(&a.ss, &b.ss);
		same_seg(&a.tr, &b.tr);
		same_seg(&a.ldt, &b.ldt);
	}
	mem_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_mode),
		cmocka_unit_test(test_protected_mode),
		cmocka_unit_test(test_state_builder_matches_setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
