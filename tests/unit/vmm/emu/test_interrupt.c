/* Event delivery of the software core: the real-mode IVT, 32-bit gates
 * with and without a privilege change, 64-bit gates with IST and RSP0,
 * the double-fault rules and the triple fault, and IRET back. */
#include <stdbool.h>
#include <stdlib.h>

#include "sys_fixture.h"
#include "vmm/emu/interrupt.h"
#include "vmm/emu/segment.h"

#define GDT 0x1000ull
#define IDT 0x2000ull
#define TSS 0x3000ull
#define NGDT 12

enum {
	S_CODE = 0x08, S_DATA = 0x10, S_CODE3 = 0x18, S_DATA3 = 0x20, S_TSS32 = 0x28,
	S_CODE64 = 0x30, S_CODE64_3 = 0x38, S_TSS64 = 0x40, /* 16 bytes */
};

static void build_gdt(struct fixture *f)
{
	fix_wr64(f, GDT + 0, 0);
	fix_wr64(f, GDT + S_CODE, desc(0, 0xfffff, ACC_CODE(0), FL_32));
	fix_wr64(f, GDT + S_DATA, desc(0, 0xfffff, ACC_DATA(0), FL_32));
	fix_wr64(f, GDT + S_CODE3, desc(0, 0xfffff, ACC_CODE(3), FL_32));
	fix_wr64(f, GDT + S_DATA3, desc(0, 0xfffff, ACC_DATA(3), FL_32));
	fix_wr64(f, GDT + S_TSS32, desc(TSS, 0x67, 0x89, 0));
	fix_wr64(f, GDT + S_CODE64, desc(0, 0xfffff, ACC_CODE(0), FL_64));
	fix_wr64(f, GDT + S_CODE64_3, desc(0, 0xfffff, ACC_CODE(3), FL_64));
	fix_wr64(f, GDT + S_TSS64, desc(TSS, 0x67, 0x89, 0));
	fix_wr64(f, GDT + S_TSS64 + 8, 0);
}

static uint64_t gate32(uint32_t off, uint16_t sel, unsigned type, unsigned dpl)
{
	return (off & 0xffffu) | ((uint64_t)sel << 16) |
	       ((uint64_t)(0x80 | (dpl << 5) | type) << 40) | ((uint64_t)(off >> 16) << 48);
}

static void set_gate64(struct fixture *f, unsigned vec, uint64_t off, uint16_t sel, unsigned ist,
		       unsigned type, unsigned dpl, bool present)
{
	uint64_t lo = (off & 0xffff) | ((uint64_t)sel << 16) | ((uint64_t)ist << 32) |
		      ((uint64_t)((present ? 0x80 : 0) | (dpl << 5) | type) << 40) |
		      (((off >> 16) & 0xffff) << 48);

	fix_wr64(f, IDT + vec * 16, lo);
	fix_wr64(f, IDT + vec * 16 + 8, off >> 32);
}

static void raise_event(struct emu_cpu *c, unsigned vec, bool has_error, uint32_t err, bool ext)
{
	c->event = (struct emu_event){ .pending = true, .vector = (uint8_t)vec,
				       .has_error = has_error, .error = err, .is_interrupt = ext };
}

/* ---- real mode ---------------------------------------------------------- */

static void real_mode_through_the_ivt(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	c->idtr = (struct emu_table_reg){ 0, 0x3ff };
	fix_wr32(f, 0x21 * 4, 0x12345678);
	c->seg[SEG_CS].selector = 0xf000;
	c->seg[SEG_CS].base = 0xf0000;
	c->rip = 0x100;
	c->gpr[4] = 0x1000;
	emu_set_rflags(c, 0x2 | EMU_IF | EMU_CF);
	raise_event(c, 0x21, false, 0, true);
	emu_deliver_event(c);
	assert_false(c->event.pending);
	assert_int_equal(c->seg[SEG_CS].selector, 0x1234);
	assert_int_equal(c->seg[SEG_CS].base, 0x12340);
	assert_int_equal(c->rip, 0x5678);
	assert_int_equal(c->gpr[4], 0xffa);
	assert_int_equal(fix_rd32(f, 0xffa) & 0xffff, 0x100);
	assert_int_equal(fix_rd32(f, 0xffc) & 0xffff, 0xf000);
	assert_int_equal(fix_rd32(f, 0xffe) & 0xffff, 0x203);
	assert_false(emu_get_rflags(c) & EMU_IF);

	emu_iret(c, 2);
	assert_int_equal(c->rip, 0x100);
	assert_int_equal(c->seg[SEG_CS].base, 0xf0000);
	assert_int_equal(emu_get_rflags(c), 0x203);
	assert_int_equal(c->gpr[4], 0x1000);
}

/* ---- 32-bit protected mode ---------------------------------------------- */

static void protected_setup(struct fixture *f)
{
	struct emu_cpu *c = &f->cpu;

	build_gdt(f);
	fix_protected(f, GDT, NGDT);
	c->idtr = (struct emu_table_reg){ IDT, 0x7ff };
	fix_wr32(f, TSS + 4, 0x9000);     /* ESP0 */
	fix_wr32(f, TSS + 8, S_DATA);     /* SS0 */
	assert_true(TRY(c, emu_load_tr(c, S_TSS32)));
}

static void user_state(struct fixture *f, bool lm)
{
	struct emu_cpu *c = &f->cpu;

	c->seg[SEG_CS] = (struct emu_segment){ .selector = (lm ? S_CODE64_3 : S_CODE3) | 3,
		.limit = 0xffffffff, .type = 0xb, .s = 1, .dpl = 3, .present = 1, .db = !lm,
		.l = lm, .g = 1 };
	for (unsigned s = 0; s < SEG_COUNT; s++)
		if (s != SEG_CS)
			c->seg[s] = (struct emu_segment){ .selector = S_DATA3 | 3, .limit = 0xffffffff,
				.type = 0x3, .s = 1, .dpl = 3, .present = 1, .db = 1, .g = 1 };
	emu_update_mode(c);
	assert_int_equal(c->cpl, 3);
	c->gpr[4] = 0x7000;
	c->rip = 0x4000;
	emu_set_rflags(c, 0x2 | EMU_IF);
}

static void protected_gate_with_privilege_change(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	protected_setup(f);
	fix_wr64(f, IDT + 0x30 * 8, gate32(0x5000, S_CODE, 0xe, 0));
	user_state(f, false);
	raise_event(c, 0x30, false, 0, true);
	emu_deliver_event(c);
	assert_int_equal(c->cpl, 0);
	assert_int_equal(c->seg[SEG_CS].selector, S_CODE);
	assert_int_equal(c->rip, 0x5000);
	assert_int_equal(c->seg[SEG_SS].selector, S_DATA);
	assert_int_equal(c->gpr[4], 0x9000 - 20);
	assert_int_equal(fix_rd32(f, 0x9000 - 20), 0x4000);
	assert_int_equal(fix_rd32(f, 0x9000 - 16), S_CODE3 | 3);
	assert_int_equal(fix_rd32(f, 0x9000 - 12), 0x202);
	assert_int_equal(fix_rd32(f, 0x9000 - 8), 0x7000);
	assert_int_equal(fix_rd32(f, 0x9000 - 4), S_DATA3 | 3);
	assert_false(emu_get_rflags(c) & EMU_IF);

	/* And back with IRET to the outer level. */
	assert_true(TRY(c, emu_iret(c, 4)));
	assert_int_equal(c->cpl, 3);
	assert_int_equal(c->rip, 0x4000);
	assert_int_equal(c->gpr[4], 0x7000);
	assert_int_equal(c->seg[SEG_SS].selector, S_DATA3 | 3);
	assert_true(emu_get_rflags(c) & EMU_IF);
}

static void protected_trap_gate_with_error_code(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	protected_setup(f);
	fix_wr64(f, IDT + 13 * 8, gate32(0x6000, S_CODE, 0xf, 0));
	c->gpr[4] = 0x8000;
	c->rip = 0x1111;
	emu_set_rflags(c, 0x2 | EMU_IF);
	raise_event(c, EMU_VEC_GP, true, 0x1234, false);
	emu_deliver_event(c);
	assert_int_equal(c->rip, 0x6000);
	assert_int_equal(c->gpr[4], 0x8000 - 16);
	assert_int_equal(fix_rd32(f, 0x8000 - 16), 0x1234);
	assert_int_equal(fix_rd32(f, 0x8000 - 12), 0x1111);
	assert_true(emu_get_rflags(c) & EMU_IF);  /* trap gate */
}

static void soft_interrupt_checks_the_gate_dpl(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	protected_setup(f);
	fix_wr64(f, IDT + 0x30 * 8, gate32(0x5000, S_CODE, 0xe, 0));
	fix_wr64(f, IDT + 0x80 * 8, gate32(0x5800, S_CODE, 0xf, 3));
	fix_wr64(f, IDT + 13 * 8, gate32(0x6000, S_CODE, 0xe, 0));
	user_state(f, false);
	c->event = (struct emu_event){ .pending = true, .vector = 0x30, .soft = true };
	emu_deliver_event(c);
	assert_int_equal(c->rip, 0x6000);
	assert_int_equal(fix_rd32(f, 0x9000 - 24), 0x30 * 8 + 2);

	user_state(f, false);
	c->event = (struct emu_event){ .pending = true, .vector = 0x80, .soft = true };
	emu_deliver_event(c);
	assert_int_equal(c->rip, 0x5800);
	assert_int_equal(c->cpl, 0);
}

/* ---- long mode ---------------------------------------------------------- */

static void long_setup(struct fixture *f)
{
	struct emu_cpu *c = &f->cpu;
	uint64_t pml4 = 0x100000, pdpt = 0x101000;

	build_gdt(f);
	fix_long(f, GDT, NGDT);
	c->seg[SEG_CS].selector = S_CODE64;
	memset(guest_mem_ptr(&f->mem, pml4, 0x2000), 0, 0x2000);
	fix_wr64(f, pml4, pdpt | PTE_P | PTE_W | PTE_U);
	fix_wr64(f, pdpt, PTE_P | PTE_W | PTE_U | PTE_PS);  /* 1 GiB identity */
	c->cr3 = pml4;
	emu_tlb_flush(c, true);
	c->idtr = (struct emu_table_reg){ IDT, 0xfff };
	fix_wr64(f, TSS + 4, 0x9008);                  /* RSP0, misaligned on purpose */
	fix_wr64(f, TSS + 0x24, 0xa000);               /* IST1 */
	assert_true(TRY(c, emu_load_tr(c, S_TSS64)));
}

static void long_mode_rsp0_ist_and_iretq(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	long_setup(f);
	set_gate64(f, 0x40, 0xffffffff81000000ull, S_CODE64, 0, 0xe, 0, true);
	set_gate64(f, 0x41, 0x1000, S_CODE64, 1, 0xe, 0, true);
	user_state(f, true);
	c->gpr[4] = 0x7008;
	raise_event(c, 0x40, false, 0, true);
	emu_deliver_event(c);
	assert_int_equal(c->cpl, 0);
	assert_int_equal(c->mode, EMU_MODE_LONG64);
	assert_int_equal(c->rip, 0xffffffff81000000ull);
	/* RSP0 aligned down to 16, then five qwords. */
	assert_int_equal(c->gpr[4], 0x9000 - 40);
	assert_int_equal(fix_rd64(f, 0x9000 - 40), 0x4000);
	assert_int_equal(fix_rd64(f, 0x9000 - 32), S_CODE64_3 | 3);
	assert_int_equal(fix_rd64(f, 0x9000 - 24), 0x202);
	assert_int_equal(fix_rd64(f, 0x9000 - 16), 0x7008);
	assert_int_equal(fix_rd64(f, 0x9000 - 8), S_DATA3 | 3);
	/* SS is the null selector after a privilege change. */
	assert_int_equal(c->seg[SEG_SS].selector, 0);
	assert_true(c->seg[SEG_SS].unusable);

	assert_true(TRY(c, emu_iret(c, 8)));
	assert_int_equal(c->cpl, 3);
	assert_int_equal(c->rip, 0x4000);
	assert_int_equal(c->gpr[4], 0x7008);
	assert_int_equal(c->seg[SEG_SS].selector, S_DATA3 | 3);

	/* The IST stack, also without a privilege change. */
	fix_set_cpl(f, 0);
	c->seg[SEG_CS].selector = S_CODE64;
	c->seg[SEG_SS].selector = S_DATA;
	c->gpr[4] = 0x5000;
	raise_event(c, 0x41, false, 0, true);
	emu_deliver_event(c);
	assert_int_equal(c->rip, 0x1000);
	assert_int_equal(c->gpr[4], 0xa000 - 40);
	assert_int_equal(fix_rd64(f, 0xa000 - 16), 0x5000);
	assert_int_equal(c->seg[SEG_SS].selector, S_DATA);
}

static void fault_delivering_a_fault_is_a_double_fault(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	long_setup(f);
	set_gate64(f, EMU_VEC_GP, 0x2000, S_CODE64, 0, 0xe, 0, false);  /* not present */
	set_gate64(f, EMU_VEC_DF, 0x3000, S_CODE64, 1, 0xe, 0, true);
	c->gpr[4] = 0x6000;
	c->rip = 0x1234;
	raise_event(c, EMU_VEC_GP, true, 0, false);
	emu_deliver_event(c);
	assert_false(c->triple_fault);
	assert_int_equal(c->rip, 0x3000);
	assert_int_equal(c->gpr[4], 0xa000 - 48);
	assert_int_equal(fix_rd64(f, 0xa000 - 48), 0);      /* #DF's error code */
	assert_int_equal(fix_rd64(f, 0xa000 - 40), 0x1234);
}

static void benign_then_contributory_delivers_the_second(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	long_setup(f);
	set_gate64(f, EMU_VEC_UD, 0x2000, S_CODE64, 0, 0xe, 0, false);
	set_gate64(f, EMU_VEC_NP, 0x2800, S_CODE64, 0, 0xe, 0, true);
	c->gpr[4] = 0x6000;
	raise_event(c, EMU_VEC_UD, false, 0, false);
	emu_deliver_event(c);
	assert_int_equal(c->rip, 0x2800);
	/* #NP(IDT entry 6, IDT bit, EXT). */
	assert_int_equal(fix_rd64(f, 0x6000 - 48), EMU_VEC_UD * 8 + 2 + 1);
}

static void page_fault_on_the_stack_then_triple_fault(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	long_setup(f);
	set_gate64(f, EMU_VEC_PF, 0x2000, S_CODE64, 0, 0xe, 0, true);
	set_gate64(f, EMU_VEC_DF, 0x3000, S_CODE64, 1, 0xe, 0, true);
	/* The stack is outside the identity-mapped first GiB. */
	c->gpr[4] = 0x40001000;
	c->rip = 0x1234;
	raise_event(c, EMU_VEC_PF, true, EMU_PF_W, false);
	emu_deliver_event(c);
	assert_false(c->triple_fault);
	assert_int_equal(c->rip, 0x3000);
	assert_int_equal(c->cr2, 0x40001000 - 8);

	/* Now without a usable #DF gate: shutdown, state left alone. */
	set_gate64(f, EMU_VEC_DF, 0x3000, S_CODE64, 1, 0xe, 0, false);
	c->gpr[4] = 0x40001000;
	c->rip = 0x1234;
	raise_event(c, EMU_VEC_PF, true, EMU_PF_W, false);
	emu_deliver_event(c);
	assert_true(c->triple_fault);
	assert_false(c->event.pending);
	assert_int_equal(c->rip, 0x1234);
	assert_int_equal(c->gpr[4], 0x40001000);
}

static void nmi_blocks_until_iret(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	long_setup(f);
	set_gate64(f, EMU_VEC_NMI, 0x2000, S_CODE64, 0, 0xe, 0, true);
	c->gpr[4] = 0x6000;
	c->seg[SEG_SS].selector = S_DATA;
	c->halted = true;
	raise_event(c, EMU_VEC_NMI, false, 0, true);
	emu_deliver_event(c);
	assert_true(c->nmi_blocked);
	assert_false(c->halted);
	assert_true(TRY(c, emu_iret(c, 8)));
	assert_false(c->nmi_blocked);
	assert_int_equal(c->gpr[4], 0x6000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(real_mode_through_the_ivt, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(protected_gate_with_privilege_change, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(protected_trap_gate_with_error_code, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(soft_interrupt_checks_the_gate_dpl, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(long_mode_rsp0_ist_and_iretq, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(fault_delivering_a_fault_is_a_double_fault, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(benign_then_contributory_delivers_the_second, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(page_fault_on_the_stack_then_triple_fault, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(nmi_blocks_until_iret, fix_setup, fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
