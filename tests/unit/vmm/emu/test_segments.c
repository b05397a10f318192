/* Segmentation of the software core: loads in real, protected and long
 * mode with their faults, access rights and limits, far transfers, LTR and
 * LLDT, and the CPU state the loaders hand over (reset, SIPI, load/save). */
#include <stdbool.h>
#include <stdlib.h>

#include "sys_fixture.h"
#include "vmm/cpu_state.h"
#include "vmm/emu/segment.h"
#include "vmm/emu/sysregs.h"

#define GDT 0x1000ull
#define TSS 0x3000ull
#define LDT 0x4000ull
#define NGDT 16

enum {
	S_CODE = 0x08, S_DATA = 0x10, S_RODATA = 0x18, S_XONLY = 0x20, S_EXPDN = 0x28,
	S_DATA3 = 0x30, S_CODE3 = 0x38, S_NP = 0x40, S_CODE64 = 0x48, S_TSS = 0x50,
	S_LDT = 0x58, S_SMALL = 0x60, S_CONF = 0x68,
};

static void build_gdt(struct fixture *f)
{
	fix_wr64(f, GDT + 0x00, 0);
	fix_wr64(f, GDT + S_CODE, desc(0, 0xfffff, ACC_CODE(0), FL_32));
	fix_wr64(f, GDT + S_DATA, desc(0, 0xfffff, ACC_DATA(0), FL_32));
	fix_wr64(f, GDT + S_RODATA, desc(0, 0xfffff, 0x90, FL_32));
	fix_wr64(f, GDT + S_XONLY, desc(0, 0xfffff, 0x98, FL_32));
	fix_wr64(f, GDT + S_EXPDN, desc(0x10000, 0x0fff, 0x96, 0));
	fix_wr64(f, GDT + S_DATA3, desc(0, 0xfffff, ACC_DATA(3), FL_32));
	fix_wr64(f, GDT + S_CODE3, desc(0, 0xfffff, ACC_CODE(3), FL_32));
	fix_wr64(f, GDT + S_NP, desc(0, 0xfffff, 0x12, FL_32));
	fix_wr64(f, GDT + S_CODE64, desc(0, 0xfffff, ACC_CODE(0), FL_64));
	fix_wr64(f, GDT + S_TSS, desc(TSS, 0x67, 0x89, 0));
	fix_wr64(f, GDT + S_LDT, desc(LDT, 0x0f, 0x82, 0));
	fix_wr64(f, GDT + S_SMALL, desc(0x20000, 0x00ff, ACC_DATA(0), 0x40));
	fix_wr64(f, GDT + S_CONF, desc(0, 0xfffff, 0x9e, FL_32));
	fix_wr64(f, LDT + 8, desc(0x50000, 0xffff, ACC_DATA(0), 0x40));
}

static void protected_setup(struct fixture *f)
{
	build_gdt(f);
	fix_protected(f, GDT, NGDT);
	f->cpu.gpr[4] = 0x8000;
}

/* ---- real mode ---------------------------------------------------------- */

static void real_mode_loads_set_the_base(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	volatile uint64_t v = 0;

	assert_true(TRY(c, emu_load_sreg(c, SEG_DS, 0x1234)));
	assert_int_equal(c->seg[SEG_DS].base, 0x12340);
	assert_int_equal(c->seg[SEG_DS].limit, 0xffff);
	fix_wr32(f, 0x12350, 0xcafe);
	assert_true(TRY(c, v = emu_read(c, SEG_DS, 0x10, 4)));
	assert_int_equal(v, 0xcafe);
	EXPECT_FAULT(c, emu_read(c, SEG_DS, 0xfffe, 4), EMU_VEC_GP, 0);
}

static void unreal_mode_keeps_the_cached_limit(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	volatile uint64_t v = 0;

	protected_setup(f);
	assert_true(TRY(c, emu_load_sreg(c, SEG_DS, S_DATA)));
	assert_true(TRY(c, emu_write_cr0(c, c->cr0 & ~EMU_CR0_PE)));
	assert_int_equal(c->mode, EMU_MODE_REAL);
	assert_true(TRY(c, emu_load_sreg(c, SEG_DS, 0x2000)));
	assert_int_equal(c->seg[SEG_DS].base, 0x20000);
	fix_wr32(f, 0x120000, 0x600d);
	assert_true(TRY(c, v = emu_read(c, SEG_DS, 0x100000, 4)));
	assert_int_equal(v, 0x600d);
}

/* ---- protected mode ----------------------------------------------------- */

static void data_segment_loads(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	protected_setup(f);
	assert_true(TRY(c, emu_load_sreg(c, SEG_DS, S_SMALL)));
	assert_int_equal(c->seg[SEG_DS].base, 0x20000);
	assert_int_equal(c->seg[SEG_DS].limit, 0xff);
	assert_int_equal(c->seg[SEG_DS].type, 0x3);
	/* The accessed bit is set in the descriptor too. */
	assert_int_equal((fix_rd64(f, GDT + S_SMALL) >> 40) & 1, 1);
	EXPECT_FAULT(c, emu_read(c, SEG_DS, 0xfe, 4), EMU_VEC_GP, 0);

	/* Null: loads, then faults on use. */
	assert_true(TRY(c, emu_load_sreg(c, SEG_ES, 0)));
	assert_true(c->seg[SEG_ES].unusable);
	EXPECT_FAULT(c, emu_read(c, SEG_ES, 0, 1), EMU_VEC_GP, 0);

	EXPECT_FAULT(c, emu_load_sreg(c, SEG_DS, 0x80), EMU_VEC_GP, 0x80);     /* beyond the GDT */
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_DS, S_NP), EMU_VEC_NP, S_NP);
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_DS, S_XONLY), EMU_VEC_GP, S_XONLY);
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_DS, S_TSS), EMU_VEC_GP, S_TSS);
	/* Readable code loads, but is not writable. */
	assert_true(TRY(c, emu_load_sreg(c, SEG_FS, S_CODE)));
	assert_true(TRY(c, emu_read(c, SEG_FS, 0x100, 4)));
	EXPECT_FAULT(c, emu_write(c, SEG_FS, 0x100, 4, 0), EMU_VEC_GP, 0);
}

static void stack_segment_loads(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	protected_setup(f);
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_SS, 0), EMU_VEC_GP, 0);
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_SS, S_RODATA), EMU_VEC_GP, S_RODATA);
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_SS, S_DATA3 | 3), EMU_VEC_GP, S_DATA3);  /* DPL != CPL */
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_SS, S_DATA | 3), EMU_VEC_GP, S_DATA);    /* RPL != CPL */
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_SS, S_NP), EMU_VEC_SS, S_NP);
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_SS, S_CODE), EMU_VEC_GP, S_CODE);
	assert_true(TRY(c, emu_load_sreg(c, SEG_SS, S_SMALL)));
	EXPECT_FAULT(c, emu_write(c, SEG_SS, 0x100, 1, 0), EMU_VEC_SS, 0);
}

static void rights_and_expand_down_limits(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	protected_setup(f);
	assert_true(TRY(c, emu_load_sreg(c, SEG_DS, S_RODATA)));
	assert_true(TRY(c, emu_read(c, SEG_DS, 0x100, 4)));
	EXPECT_FAULT(c, emu_write(c, SEG_DS, 0x100, 4, 0), EMU_VEC_GP, 0);

	/* Expand-down, 16-bit: valid offsets 0x1000..0xffff. */
	assert_true(TRY(c, emu_load_sreg(c, SEG_ES, S_EXPDN)));
	EXPECT_FAULT(c, emu_read(c, SEG_ES, 0x0fff, 1), EMU_VEC_GP, 0);
	assert_true(TRY(c, emu_write(c, SEG_ES, 0x1000, 4, 0x77)));
	assert_int_equal(fix_rd32(f, 0x11000), 0x77);
	EXPECT_FAULT(c, emu_read(c, SEG_ES, 0xffff, 2), EMU_VEC_GP, 0);
	assert_true(TRY(c, emu_load_sreg(c, SEG_SS, S_EXPDN)));
	EXPECT_FAULT(c, emu_read(c, SEG_SS, 0x10, 2), EMU_VEC_SS, 0);

	/* Execute-only code cannot be read, even through CS. */
	c->seg[SEG_CS].type = 0x8;
	EXPECT_FAULT(c, emu_read(c, SEG_CS, 0, 1), EMU_VEC_GP, 0);
}

static void privilege_checks_at_cpl3(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	protected_setup(f);
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_DS, S_DATA | 3), EMU_VEC_GP, S_DATA);  /* RPL > DPL */
	fix_set_cpl(f, 3);
	assert_int_equal(c->cpl, 3);
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_DS, S_DATA), EMU_VEC_GP, S_DATA);      /* CPL > DPL */
	assert_true(TRY(c, emu_load_sreg(c, SEG_DS, S_DATA3 | 3)));
	/* Conforming readable code has no privilege check. */
	assert_true(TRY(c, emu_load_sreg(c, SEG_ES, S_CONF | 3)));
}

/* ---- far transfers ------------------------------------------------------ */

static void far_call_and_return(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	protected_setup(f);
	c->rip = 0x100;
	assert_true(TRY(c, emu_far_call(c, S_CODE, 0x1234, 4, 0x5678)));
	assert_int_equal(c->rip, 0x1234);
	assert_int_equal(c->gpr[4], 0x8000 - 8);
	assert_int_equal(fix_rd32(f, 0x7ffc), S_CODE);
	assert_int_equal(fix_rd32(f, 0x7ff8), 0x5678);
	assert_true(TRY(c, emu_far_ret(c, 4, 0)));
	assert_int_equal(c->rip, 0x5678);
	assert_int_equal(c->gpr[4], 0x8000);

	EXPECT_FAULT(c, emu_far_jmp(c, S_CODE3 | 3, 0, 4), EMU_VEC_GP, S_CODE3);
	EXPECT_FAULT(c, emu_far_jmp(c, S_DATA, 0, 4), EMU_VEC_GP, S_DATA);
	EXPECT_FAULT(c, emu_far_jmp(c, 0, 0, 4), EMU_VEC_GP, 0);
	EXPECT_FAULT(c, emu_far_jmp(c, S_TSS, 0, 4), EMU_VEC_GP, S_TSS);  /* no task switches */
	/* A faulting call leaves RSP alone. */
	assert_int_equal(c->gpr[4], 0x8000);

	/* Conforming code keeps the CPL. */
	fix_set_cpl(f, 3);
	assert_true(TRY(c, emu_far_jmp(c, S_CONF, 0x40, 4)));
	assert_int_equal(c->cpl, 3);
	assert_int_equal(c->seg[SEG_CS].selector, S_CONF | 3);
}

static void far_return_to_an_outer_level(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	protected_setup(f);
	assert_true(TRY(c, emu_load_sreg(c, SEG_DS, S_DATA)));
	assert_true(TRY(c, emu_load_sreg(c, SEG_ES, S_DATA3)));
	/* ip, cs, (8 bytes of parameters), sp, ss */
	fix_wr32(f, 0x8000, 0x4444);
	fix_wr32(f, 0x8004, S_CODE3 | 3);
	fix_wr32(f, 0x8010, 0x9000);
	fix_wr32(f, 0x8014, S_DATA3 | 3);
	assert_true(TRY(c, emu_far_ret(c, 4, 8)));
	assert_int_equal(c->cpl, 3);
	assert_int_equal(c->rip, 0x4444);
	assert_int_equal(c->seg[SEG_CS].selector, S_CODE3 | 3);
	assert_int_equal(c->seg[SEG_SS].selector, S_DATA3 | 3);
	assert_int_equal(c->gpr[4], 0x9008);
	/* DS (DPL 0) becomes null; ES (DPL 3) stays. */
	assert_true(c->seg[SEG_DS].unusable);
	assert_false(c->seg[SEG_ES].unusable);

	/* Returning inwards is refused. */
	fix_wr32(f, 0x9008, 0x1);
	fix_wr32(f, 0x900c, S_CODE);
	EXPECT_FAULT(c, emu_far_ret(c, 4, 0), EMU_VEC_GP, S_CODE);
}

static void real_mode_far_transfers(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	c->seg[SEG_SS].base = 0;
	c->gpr[4] = 0x1000;
	c->seg[SEG_CS].selector = 0xf000;
	assert_true(TRY(c, emu_far_call(c, 0x2000, 0x10, 2, 0xfff5)));
	assert_int_equal(c->seg[SEG_CS].base, 0x20000);
	assert_int_equal(c->rip, 0x10);
	assert_true(TRY(c, emu_far_ret(c, 2, 0)));
	assert_int_equal(c->seg[SEG_CS].selector, 0xf000);
	assert_int_equal(c->seg[SEG_CS].base, 0xf0000);
	assert_int_equal(c->rip, 0xfff5);
	assert_int_equal(c->gpr[4], 0x1000);
}

/* ---- TR and LDTR -------------------------------------------------------- */

static void ltr_and_lldt(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	protected_setup(f);
	assert_true(TRY(c, emu_load_tr(c, S_TSS)));
	assert_int_equal(c->tr.base, TSS);
	assert_int_equal(c->tr.type, 0xb);
	assert_int_equal((fix_rd64(f, GDT + S_TSS) >> 40) & 0xf, 0xb);
	EXPECT_FAULT(c, emu_load_tr(c, S_TSS), EMU_VEC_GP, S_TSS);   /* busy now */
	EXPECT_FAULT(c, emu_load_tr(c, 0), EMU_VEC_GP, 0);
	EXPECT_FAULT(c, emu_load_tr(c, S_DATA), EMU_VEC_GP, S_DATA);

	EXPECT_FAULT(c, emu_load_sreg(c, SEG_DS, 0x0c), EMU_VEC_GP, 0x0c);  /* no LDT yet */
	EXPECT_FAULT(c, emu_load_ldtr(c, S_TSS), EMU_VEC_GP, S_TSS);
	assert_true(TRY(c, emu_load_ldtr(c, S_LDT)));
	assert_int_equal(c->ldtr.base, LDT);
	assert_true(TRY(c, emu_load_sreg(c, SEG_DS, 0x0c)));
	assert_int_equal(c->seg[SEG_DS].base, 0x50000);
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_DS, 0x14), EMU_VEC_GP, 0x14);  /* beyond the LDT */
}

/* ---- long mode ---------------------------------------------------------- */

static void long_setup(struct fixture *f)
{
	uint64_t pml4 = 0x100000, pdpt = 0x101000;

	build_gdt(f);
	fix_long(f, GDT, NGDT);
	memset(guest_mem_ptr(&f->mem, pml4, 0x2000), 0, 0x2000);
	fix_wr64(f, pml4, pdpt | PTE_P | PTE_W | PTE_U);
	fix_wr64(f, pdpt, PTE_P | PTE_W | PTE_U | PTE_PS);  /* 1 GiB identity */
	f->cpu.cr3 = pml4;
	emu_tlb_flush(&f->cpu, true);
}

static void long_mode_segments(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	volatile uint64_t v = 0;

	long_setup(f);
	assert_int_equal(c->mode, EMU_MODE_LONG64);
	/* DS's base is ignored, FS's is used. */
	c->seg[SEG_DS].base = 0x1000;
	fix_wr32(f, 0x2000, 0xaaaa);
	fix_wr32(f, 0x7000, 0xbbbb);
	assert_true(TRY(c, v = emu_read(c, SEG_DS, 0x2000, 4)));
	assert_int_equal(v, 0xaaaa);
	assert_true(emu_wrmsr(c, MSR_FS_BASE, 0x5000));
	assert_true(TRY(c, v = emu_read(c, SEG_FS, 0x2000, 4)));
	assert_int_equal(v, 0xbbbb);
	assert_false(emu_wrmsr(c, MSR_GS_BASE, 0x0000800000000000ull));

	EXPECT_FAULT(c, emu_read(c, SEG_DS, 0x0000800000000000ull, 1), EMU_VEC_GP, 0);
	EXPECT_FAULT(c, emu_read(c, SEG_SS, 0x00007ffffffffffcull, 8), EMU_VEC_SS, 0);

	/* Null selectors: DS fine and usable; SS fine at CPL 0. */
	assert_true(TRY(c, emu_load_sreg(c, SEG_DS, 0)));
	assert_true(TRY(c, emu_read(c, SEG_DS, 0x2000, 4)));
	assert_true(TRY(c, emu_load_sreg(c, SEG_SS, 0)));
	assert_int_equal(c->cpl, 0);
	fix_set_cpl(f, 3);
	EXPECT_FAULT(c, emu_load_sreg(c, SEG_SS, 3), EMU_VEC_GP, 0);

	/* Leaving 64-bit mode through a far jump to 32-bit code. */
	fix_set_cpl(f, 0);
	assert_true(TRY(c, emu_far_jmp(c, S_CODE, 0x1000, 4)));
	assert_int_equal(c->mode, EMU_MODE_PROT32);
	assert_true(TRY(c, emu_far_jmp(c, S_CODE64, 0x2000, 4)));
	assert_int_equal(c->mode, EMU_MODE_LONG64);
}

/* ---- CPU state ---------------------------------------------------------- */

static void reset_sipi_and_state_conversion(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	struct cpu_state st, back;

	assert_int_equal(c->mode, EMU_MODE_REAL);
	assert_int_equal(c->rip, 0xfff0);
	assert_int_equal(c->seg[SEG_CS].base, 0xffff0000ull);
	assert_int_equal(c->rflags, 2);
	{
		uint64_t apic_base = 0;

		assert_true(emu_rdmsr(c, MSR_APIC_BASE, &apic_base));
		assert_int_equal(apic_base, 0xfee00900ull);
		c->index = 1;
		assert_true(emu_rdmsr(c, MSR_APIC_BASE, &apic_base));
		assert_int_equal(apic_base, 0xfee00800ull);
		c->index = 0;
	}

	emu_cpu_sipi(c, 0x9a);
	assert_int_equal(c->seg[SEG_CS].selector, 0x9a00);
	assert_int_equal(c->seg[SEG_CS].base, 0x9a000);
	assert_int_equal(c->rip, 0);

	/* A 64-bit boot state as the loaders write it (LMA left to derive). */
	memset(&st, 0, sizeof(st));
	st.rip = 0x1000000;
	st.rflags = 0x2;
	st.gpr[CPU_RSI] = 0x7000;
	st.cr0 = EMU_CR0_PE | EMU_CR0_PG;
	st.cr3 = 0x9000;
	st.cr4 = EMU_CR4_PAE;
	st.efer = EMU_EFER_LME;
	st.cs = (struct cpu_segment){ .selector = 0x10, .limit = 0xffffffff, .type = 0xb, .s = 1,
				      .present = 1, .l = 1, .g = 1 };
	st.ss = st.ds = st.es = st.fs = st.gs = (struct cpu_segment){
		.selector = 0x18, .limit = 0xffffffff, .type = 0x3, .s = 1, .present = 1, .db = 1, .g = 1 };
	st.tr = (struct cpu_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	st.gdt = (struct cpu_table){ 0x500, 0x7f };
	emu_cpu_load_state(c, &st);
	assert_int_equal(c->mode, EMU_MODE_LONG64);
	assert_int_equal(c->cpl, 0);
	assert_true(c->efer & EMU_EFER_LMA);
	assert_int_equal(c->gpr[6], 0x7000);
	emu_cpu_save_state(c, &back);
	assert_int_equal(back.rip, st.rip);
	assert_int_equal(back.cs.l, 1);
	assert_int_equal(back.gdt.base, 0x500);
	assert_int_equal(back.efer, EMU_EFER_LME | EMU_EFER_LMA);
	assert_int_equal(back.rflags, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(real_mode_loads_set_the_base, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(unreal_mode_keeps_the_cached_limit, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(data_segment_loads, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(stack_segment_loads, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(rights_and_expand_down_limits, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(privilege_checks_at_cpl3, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(far_call_and_return, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(far_return_to_an_outer_level, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(real_mode_far_transfers, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(ltr_and_lldt, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(long_mode_segments, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(reset_sipi_and_state_conversion, fix_setup, fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
