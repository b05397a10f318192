/* Near control transfers and the software-interrupt instructions: Jcc,
 * JMP, CALL, RET, JrCXZ, LOOP/LOOPE/LOOPNE, ENTER/LEAVE, group 5 (FF:
 * INC/DEC/CALL/JMP/PUSH r/m), INT n/INT3/INTO/INT1, and IN/OUT.
 *
 * Near branches in 64-bit mode always use a 64-bit operand size (a 66
 * prefix is ignored, as Intel CPUs do and as the decoder sizes their
 * displacements); outside it, a 16-bit operand size truncates the target
 * to 16 bits. Every target is checked (canonical, or within CS's limit)
 * before the instruction changes anything, so a faulting CALL has not
 * pushed and a faulting LOOP has not decremented. */
#include "exec.h"
#include "flags.h"
#include "io.h"
#include "mem.h"
#include "operand.h"

/* Raise a software interrupt: like an exception, but delivered after the
 * instruction (the frame gets the next rip) and marked soft
 * so that delivery applies the gate-DPL check of INT n. */
static _Noreturn void exec_soft_interrupt(struct emu_cpu *cpu, const struct insn *insn,
					  unsigned vector)
{
	cpu->event = (struct emu_event){
		.pending = true,
		.vector = (uint8_t)vector,
		.soft = true,
		.trap = true,
		.return_rip = insn->next_rip,
	};
	longjmp(*cpu->fault_jmp, 1);
}

/* ---- jumps ---------------------------------------------------------- */

static inline uint64_t rel_target(const struct insn *insn)
{
	return insn->next_rip + insn->imm;
}

/* 70-7F Jcc rel8, 0F 80-8F Jcc rel16/32. */
static void op_jcc(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	if (emu_cond(cpu, insn->op & 15))
		cpu->rip = exec_branch_target(cpu, rel_target(insn), exec_branch_opsize(cpu, insn));
	else
		exec_advance(cpu, insn);
}

/* E9 JMP rel16/32, EB JMP rel8. */
static void op_jmp_rel(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	cpu->rip = exec_branch_target(cpu, rel_target(insn), exec_branch_opsize(cpu, insn));
}

/* E8 CALL rel16/32. */
static void op_call_rel(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = exec_branch_opsize(cpu, insn);
	uint64_t target;

	exec_no_lock(cpu, insn);
	target = exec_branch_target(cpu, rel_target(insn), size);
	exec_push(cpu, size, insn->next_rip);
	cpu->rip = target;
}

/* C3 RET, C2 RET imm16 (which then releases imm16 more bytes). */
static void op_ret(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = exec_stack_opsize(cpu, insn);
	uint64_t target;

	exec_no_lock(cpu, insn);
	target = exec_branch_target(cpu, exec_stack_peek(cpu, 0, size), size);
	exec_stack_adjust(cpu, (int64_t)size + (insn->op == 0xc2 ? (int64_t)(insn->imm & 0xffff) : 0));
	cpu->rip = target;
}

/* The count register of LOOP/JrCXZ: CX, ECX or RCX by address size. */
static inline uint64_t count_reg(const struct emu_cpu *cpu, const struct insn *insn)
{
	return cpu->gpr[1] & exec_addr_mask(insn);
}

/* E0 LOOPNE, E1 LOOPE, E2 LOOP: decrement the count (without touching the
 * flags), branch while it is non-zero (and ZF agrees). */
static void op_loop(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t cnt = (count_reg(cpu, insn) - 1) & exec_addr_mask(insn), target = 0;
	bool taken = cnt != 0;

	exec_no_lock(cpu, insn);
	if (taken && insn->op == 0xe0)
		taken = !emu_cond(cpu, 4);
	else if (taken && insn->op == 0xe1)
		taken = emu_cond(cpu, 4);
	if (taken)
		target = exec_branch_target(cpu, rel_target(insn), exec_branch_opsize(cpu, insn));
	exec_set_reg(cpu, insn, 1, insn->adsize, cnt);
	if (taken)
		cpu->rip = target;
	else
		exec_advance(cpu, insn);
}

/* E3 JCXZ/JECXZ/JRCXZ. */
static void op_jrcxz(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	if (count_reg(cpu, insn) == 0)
		cpu->rip = exec_branch_target(cpu, rel_target(insn), exec_branch_opsize(cpu, insn));
	else
		exec_advance(cpu, insn);
}

/* ---- frames --------------------------------------------------------- */

/* C8 iw ib: ENTER size, level. Push rBP, copy level - 1 frame pointers
 * from the enclosing frame, push the new frame pointer, then rBP = the
 * frame and rSP = frame - size. Every store, load and probe happens before
 * any register changes. */
static void op_enter(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = exec_stack_opsize(cpu, insn), level = insn->imm2 & 31;
	uint64_t m = size_mask(exec_stack_addr_size(cpu));
	uint64_t alloc = insn->imm & 0xffff, bp = cpu->gpr[5], frame, off = size;

	exec_no_lock(cpu, insn);
	exec_stack_poke(cpu, off, size, bp);
	frame = (cpu->gpr[4] - size) & m;
	if (level > 0) {
		for (unsigned i = 1; i < level; i++) {
			uint64_t v = emu_read(cpu, SEG_SS, (bp - (uint64_t)i * size) & m, size);

			off += size;
			exec_stack_poke(cpu, off, size, v);
		}
		off += size;
		exec_stack_poke(cpu, off, size, frame);
	}
	/* The AMD host also write-probes the new top of stack (rSP after the
	 * allocation), so a frame that does not fit faults here, at ENTER,
	 * rather than at the first use. */
	emu_translate(cpu, emu_linear(cpu, SEG_SS, (cpu->gpr[4] - off - alloc) & m, 1, EMU_WRITE),
		      EMU_WRITE, false);
	exec_set_reg(cpu, insn, 5, size, frame);
	exec_stack_adjust(cpu, -(int64_t)(off + alloc));
	exec_advance(cpu, insn);
}

/* C9: LEAVE, rSP = rBP, then POP rBP. */
static void op_leave(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = exec_stack_opsize(cpu, insn);
	uint64_t m = size_mask(exec_stack_addr_size(cpu));
	uint64_t sp = cpu->gpr[5] & m, v;

	exec_no_lock(cpu, insn);
	v = emu_read(cpu, SEG_SS, sp, size);
	cpu->gpr[4] = (cpu->gpr[4] & ~m) | ((sp + size) & m);
	exec_set_reg(cpu, insn, 5, size, v);
	exec_advance(cpu, insn);
}

/* ---- group 5 ---------------------------------------------------------- */

/* FF: /0 INC, /1 DEC, /2 CALL r/m, /3 CALL far m, /4 JMP r/m, /5 JMP far m,
 * /6 PUSH r/m. */
static void op_grp5(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned digit = insn->reg & 7, size;
	uint64_t v, target;

	switch (digit) {
	case 0:
	case 1:
		exec_incdec_rm(cpu, insn, insn->opsize, digit);
		return;
	case 3:
	case 5:
		exec_far_indirect(cpu, insn);
		return;
	case 7:
		emu_raise_ud(cpu);
	}
	exec_no_lock(cpu, insn);
	if (digit == 6) {
		size = exec_stack_opsize(cpu, insn);
		exec_push(cpu, size, exec_get_rm(cpu, insn, size));
		exec_advance(cpu, insn);
		return;
	}
	size = exec_branch_opsize(cpu, insn);
	v = exec_get_rm(cpu, insn, size);
	target = exec_branch_target(cpu, v, size);
	if (digit == 2)
		exec_push(cpu, size, insn->next_rip);
	cpu->rip = target;
}

/* ---- interrupts ------------------------------------------------------- */

/* CC INT3, CD INT n, CE INTO (not in 64-bit mode), F1 INT1/ICEBP. */
static void op_int(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	switch (insn->op) {
	case 0xcc:
		exec_soft_interrupt(cpu, insn, EMU_VEC_BP);
	case 0xcd:
		exec_soft_interrupt(cpu, insn, insn->imm & 0xff);
	case 0xce:
		if (emu_cond(cpu, 0))
			exec_soft_interrupt(cpu, insn, EMU_VEC_OF);
		exec_advance(cpu, insn);
		return;
	default:
		/* INT1 (ICEBP): a #DB trap after the instruction. Not a software
		 * interrupt for delivery: no gate-DPL check, as for a hardware
		 * #DB; the frame points past the instruction, as for any trap. */
		cpu->event = (struct emu_event){
			.pending = true,
			.vector = EMU_VEC_DB,
			.trap = true,
			.return_rip = insn->next_rip,
		};
		longjmp(*cpu->fault_jmp, 1);
	}
}

/* ---- port I/O --------------------------------------------------------- */

/* E4-E7: IN/OUT with an imm8 port; EC-EF: with DX. At most 32 bits. */
static void op_in_out(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = (insn->op & 1) ? (insn->opsize == 2 ? 2 : 4) : 1;
	uint16_t port = insn->op & 8 ? (uint16_t)cpu->gpr[2] : (uint16_t)(insn->imm & 0xff);

	exec_no_lock(cpu, insn);
	emu_check_io(cpu, port, size);
	if (insn->op & 2)
		emu_pio_out(cpu, port, size, cpu->gpr[0]);
	else
		exec_set_reg(cpu, insn, 0, size, emu_pio_in(cpu, port, size));
	exec_advance(cpu, insn);
}

void exec_register_control(struct exec_table *t)
{
	exec_fn *p = t->fn[MAP_PRIMARY], *x = t->fn[MAP_0F];

	for (unsigned op = 0x70; op < 0x80; op++)
		p[op] = op_jcc;
	for (unsigned op = 0x80; op < 0x90; op++)
		x[op] = op_jcc;
	p[0xc2] = p[0xc3] = op_ret;
	p[0xc8] = op_enter;
	p[0xc9] = op_leave;
	p[0xcc] = p[0xcd] = p[0xce] = p[0xf1] = op_int;
	p[0xe0] = p[0xe1] = p[0xe2] = op_loop;
	p[0xe3] = op_jrcxz;
	p[0xe4] = p[0xe5] = p[0xe6] = p[0xe7] = op_in_out;
	p[0xec] = p[0xed] = p[0xee] = p[0xef] = op_in_out;
	p[0xe8] = op_call_rel;
	p[0xe9] = p[0xeb] = op_jmp_rel;
	p[0xff] = op_grp5;
}
