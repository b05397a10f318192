/* Lazy arithmetic flags. A flag-setting instruction records what it did
 * (emu_flags_set) instead of computing six flags; readers (Jcc, SETcc,
 * CMOVcc, ADC/SBB, PUSHF, LAHF...) compute only what they need.
 *
 * The record lives in cpu->flags (struct emu_lazy_flags of cpu.h): op holds
 * the kind and the operand size (see cc_op_pack), dst/src1/src2 the values
 * masked to that size. While op is CC_OP_EFLAGS the six arithmetic flags
 * in cpu->rflags are authoritative; otherwise those six bits of
 * cpu->rflags are stale and every other bit is still authoritative.
 *
 * Flags the manuals leave undefined are computed the way the AMD Zen host
 * the differential tests run on computes them (see flags.c), so that a
 * guest that peeks at them sees what it would see on hardware. */
#ifndef WISP_EMU_FLAGS_H
#define WISP_EMU_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

/* Operation kinds. Each is used with the operand size in bytes. */
enum emu_cc_op {
	CC_OP_EFLAGS,    /* flags are in cpu->rflags already */
	CC_OP_ADD,       /* dst = src1 + src2 */
	CC_OP_ADC,       /* dst = src1 + src2 + carry-in (the carry-in is
	                  * implied by dst - src1 - src2) */
	CC_OP_SUB,       /* dst = src1 - src2 (also CMP, NEG with src1 = 0) */
	CC_OP_SBB,       /* dst = src1 - src2 - borrow-in */
	CC_OP_LOGIC,     /* AND/OR/XOR/TEST: CF = OF = 0 */
	CC_OP_INC,       /* CF preserved from before (emu_flags_set keeps it
	                  * in src2) */
	CC_OP_DEC,
	CC_OP_SHL,       /* src2 = count (non-zero, already masked), src1 =
	                  * value before */
	CC_OP_SHR,
	CC_OP_SAR,
	CC_OP_MUL,       /* CF = OF = (src2 != 0): src2 is "upper half
	                  * significant"; dst = the low half of the product */
	CC_OP_HOST,      /* dst is an RFLAGS image holding the six flags, as
	                  * the host computed them running the instruction
	                  * itself (translated code, jit.h); size unused */
	CC_OP_COUNT
};

/* cpu->flags.op: the kind in the low byte, the size in bytes above it. */
#define CC_OP_SIZE_SHIFT 8
static inline uint32_t cc_op_pack(enum emu_cc_op op, unsigned size)
{
	return (uint32_t)op | (uint32_t)size << CC_OP_SIZE_SHIFT;
}

/* Record the flags of an operation of size bytes (1, 2, 4, 8). For
 * INC/DEC, the current CF is folded in first. */
void emu_flags_set(struct emu_cpu *cpu, enum emu_cc_op op, unsigned size,
		   uint64_t dst, uint64_t src1, uint64_t src2);

/* All of RFLAGS, with the arithmetic flags computed. */
uint64_t emu_get_rflags(struct emu_cpu *cpu);

/* Replace RFLAGS (e.g. POPF, IRET): the arithmetic flags become explicit.
 * Bit 1 is forced to 1; no other bit is filtered (the caller applies the
 * instruction's own rules about IOPL, IF, VM...). */
void emu_set_rflags(struct emu_cpu *cpu, uint64_t rflags);

/* The carry flag alone (ADC/SBB, RCL/RCR, CMC...). */
bool emu_get_cf(struct emu_cpu *cpu);

/* Condition code cc (0..15, as in Jcc/SETcc/CMOVcc: O, NO, B, AE, E, NE,
 * BE, A, S, NS, P, NP, L, GE, LE, G). */
bool emu_cond(struct emu_cpu *cpu, unsigned cc);

/* ---- for instructions whose flags do not fit a lazy kind ------------- */

/* The six arithmetic flags (EMU_ARITH_FLAGS bits) of the current state. */
uint64_t emu_get_arith_flags(struct emu_cpu *cpu);

/* Set the arithmetic flags in mask (a subset of EMU_ARITH_FLAGS) to the
 * corresponding bits of value; the other arithmetic flags keep their
 * current values. Leaves the state explicit (CC_OP_EFLAGS). */
void emu_set_arith_flags(struct emu_cpu *cpu, uint64_t mask, uint64_t value);

/* PF, ZF and SF of a result of size bytes, as EMU_* bits. */
uint64_t emu_szp_flags(uint64_t result, unsigned size);

#endif
