/* Operand helpers beyond those of exec.h, shared by the integer families
 * (alu.c, shift.c, muldiv.c, bitops.c, string.c, control.c) and usable by
 * any other: sign extension, the stack, LOCK checks and locked
 * read-modify-write of a memory operand. Implemented in operand.c. */
#ifndef WISP_EMU_OPERAND_H
#define WISP_EMU_OPERAND_H

#include <stdbool.h>
#include <stdint.h>

#include "exec.h"

/* v (of size bytes) sign-extended to 64 bits. */
static inline uint64_t exec_sext(uint64_t v, unsigned size)
{
	unsigned sh = 64 - 8 * size;

	return (uint64_t)((int64_t)(v << sh) >> sh);
}

/* LOCK is only legal on a read-modify-write of memory: handlers of every
 * other instruction start with this. */
static inline void exec_no_lock(struct emu_cpu *cpu, const struct insn *insn)
{
	if (insn->prefixes & PFX_LOCK)
		emu_raise_ud(cpu);
}

/* #UD unless the code runs in 64-bit mode / outside it. */
static inline void exec_require_64(struct emu_cpu *cpu)
{
	if (cpu->mode != EMU_MODE_LONG64)
		emu_raise_ud(cpu);
}

static inline void exec_forbid_64(struct emu_cpu *cpu)
{
	if (cpu->mode == EMU_MODE_LONG64)
		emu_raise_ud(cpu);
}

/* The segment of a string instruction's source (DS or its override). */
static inline unsigned exec_src_seg(const struct insn *insn)
{
	return insn->seg != INSN_NO_SEG ? insn->seg : SEG_DS;
}

/* Mask of an address of adsize bytes. */
static inline uint64_t exec_addr_mask(const struct insn *insn)
{
	return size_mask(insn->adsize);
}

/* ---- stack --------------------------------------------------------- */

/* Size of the stack pointer: 8 in 64-bit mode, else 4 or 2 by SS.B. */
unsigned exec_stack_addr_size(const struct emu_cpu *cpu);

/* Operand size of PUSH/POP/CALL/RET and friends: in 64-bit mode 8 (2
 * with a 66 prefix: 32-bit pushes do not exist there), else the
 * instruction's operand size. */
unsigned exec_stack_opsize(const struct emu_cpu *cpu, const struct insn *insn);

/* Read size bytes at SS:(RSP + offset), wrapping as the stack address
 * size does, without moving RSP. */
uint64_t exec_stack_peek(struct emu_cpu *cpu, uint64_t offset, unsigned size);

/* Write size bytes at SS:(RSP - offset) (wrapping), without moving RSP. */
void exec_stack_poke(struct emu_cpu *cpu, uint64_t offset, unsigned size, uint64_t v);

/* RSP = RSP + delta within the stack address size (the bits above it,
 * e.g. the high half of ESP with a 16-bit stack, are kept). */
void exec_stack_adjust(struct emu_cpu *cpu, int64_t delta);

/* ---- read-modify-write ---------------------------------------------- */

/* One read-modify-write operand. With LOCK, a memory operand in RAM
 * within one page is updated by a host atomic on its host mapping; in
 * MMIO or across pages LOCK degrades to a plain read then write. Usage:
 *
 *	struct exec_rmw m;
 *	uint64_t old = exec_rmw_load_rm(cpu, insn, size, &m), new;
 *	do
 *		new = f(old);
 *	while (!exec_rmw_store(cpu, &m, &old, new));
 *
 * exec_rmw_store returns false (with old refreshed) when another vCPU
 * changed the operand since the load: the caller recomputes. */
struct exec_rmw {
	void *ptr;          /* host pointer (RAM), or NULL */
	uint64_t ea;        /* segment offset of a memory operand */
	uint8_t seg;
	uint8_t size;
	bool is_reg;        /* a register operand */
	uint8_t reg;
	bool locked;        /* host atomics on ptr */
	const struct insn *insn;   /* for register access (REX / high bytes) */
};

/* The r/m operand. LOCK with a register operand raises #UD. */
uint64_t exec_rmw_load_rm(struct emu_cpu *cpu, const struct insn *insn, unsigned size,
			  struct exec_rmw *m);

/* A memory operand at seg:ea (e.g. BTS's displaced operand); locked says
 * whether host atomics are to be used (LOCK prefix, or XCHG). */
uint64_t exec_rmw_load_mem(struct emu_cpu *cpu, unsigned seg, uint64_t ea, unsigned size,
			   bool locked, struct exec_rmw *m);

bool exec_rmw_store(struct emu_cpu *cpu, struct exec_rmw *m, uint64_t *old, uint64_t v);

/* ---- branches ------------------------------------------------------ */

/* The checked target of a near branch of operand size opsize: truncated
 * to opsize, #GP(0) when it is non-canonical in 64-bit mode or beyond CS's
 * limit outside it. Checks only: the caller assigns cpu->rip once every
 * other access of the instruction has succeeded (CALL checks its target
 * before it pushes, as the manuals' pseudo-code does). */
uint64_t exec_branch_target(struct emu_cpu *cpu, uint64_t target, unsigned opsize);

/* Near branches' operand size: 8 in 64-bit mode (the 66 prefix is
 * ignored, as on Intel CPUs), else insn->opsize. */
unsigned exec_branch_opsize(const struct emu_cpu *cpu, const struct insn *insn);

/* ---- the eight classic ALU operations ----------------------------- */

/* op: the operation of opcodes 00-3F (op >> 3) and of group 1's /digit:
 * ADD, OR, ADC, SBB, AND, SUB, XOR, CMP. */
enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };

/* The result (not masked) of a op b with carry-in cf (ADC/SBB only). */
static inline uint64_t exec_alu_result(unsigned op, uint64_t a, uint64_t b, bool cf)
{
	switch (op) {
	case ALU_ADD: return a + b;
	case ALU_OR:  return a | b;
	case ALU_ADC: return a + b + cf;
	case ALU_SBB: return a - b - cf;
	case ALU_AND: return a & b;
	case ALU_XOR: return a ^ b;
	default:      return a - b;     /* SUB, CMP */
	}
}

/* Record the flags of r = a op b (size bytes). */
void exec_alu_flags(struct emu_cpu *cpu, unsigned op, unsigned size, uint64_t r,
		    uint64_t a, uint64_t b);

/* INC/DEC of the r/m operand (FE/FF /0 /1), LOCK-able. In alu.c. */
void exec_incdec_rm(struct emu_cpu *cpu, const struct insn *insn, unsigned size, bool dec);

/* ---- hooks of other families ---------------------------------------- */

/* FF /3 and /5 (CALL/JMP far through memory): the system family's
 * (sysdesc.c); control.c's group 5 handler passes them on. */
void exec_far_indirect(struct emu_cpu *cpu, const struct insn *insn);

#endif
