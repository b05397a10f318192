/* Bit instructions: BT/BTS/BTR/BTC (register and immediate offsets),
 * BSF/BSR, and the counting instructions TZCNT, LZCNT, POPCNT.
 *
 * F3 0F BC: TZCNT only exists with BMI1, and a CPU without BMI1 ignores
 * the F3 and runs BSF (compilers emit "rep bsf" on purpose for that). The
 * CPUID of wisp's software core advertises ABM (LZCNT) and POPCNT but not
 * BMI1, so F3 0F BC is BSF here; EMU_HAVE_BMI1 switches it to TZCNT for a
 * CPUID that advertises BMI1. (F3 0F BD is LZCNT: ABM is advertised.)
 *
 * Undefined flags follow the AMD host: BT* change CF only; BSF/BSR clear
 * CF OF SF AF and set PF from the result (a zero source: ZF = PF = 1 and
 * the destination unchanged, as AMD documents and Intel does); LZCNT/TZCNT
 * clear SF AF PF and keep OF; POPCNT clears all but ZF. */
#include "exec.h"
#include "flags.h"
#include "mem.h"
#include "operand.h"

#ifndef EMU_HAVE_BMI1
#define EMU_HAVE_BMI1 0
#endif

enum { BT, BTS, BTR, BTC };

static uint64_t bt_apply(unsigned op, uint64_t v, unsigned bit)
{
	switch (op) {
	case BTS: return v | 1ull << bit;
	case BTR: return v & ~(1ull << bit);
	case BTC: return v ^ 1ull << bit;
	default: return v;
	}
}

/* The BT family on the r/m operand. offset: the bit offset, already
 * sign-extended from the operand size when it comes from a register
 * (reg_offset), in which case a memory operand is displaced by whole
 * operands: the bit string extends both ways from the address. */
static void bt_common(struct emu_cpu *cpu, const struct insn *insn, unsigned op, uint64_t offset,
		      bool reg_offset)
{
	unsigned size = insn->opsize, bits = 8 * size;
	unsigned bit = offset & (bits - 1);
	uint64_t v, r;
	struct exec_rmw m;

	if (op == BT)
		exec_no_lock(cpu, insn);
	if (insn->mod == 3) {
		exec_no_lock(cpu, insn);
		v = exec_get_reg(cpu, insn, insn->rm, size);
		if (op != BT)
			exec_set_reg(cpu, insn, insn->rm, size, bt_apply(op, v, bit));
	} else {
		uint64_t ea = exec_ea(cpu, insn);
		unsigned seg = exec_ea_seg(insn);

		if (reg_offset) {
			int64_t units = (int64_t)offset >> __builtin_ctz(bits);

			ea = (ea + (uint64_t)units * size) & exec_addr_mask(insn);
		}
		if (op == BT) {
			v = emu_read(cpu, seg, ea, size);
		} else {
			v = exec_rmw_load_mem(cpu, seg, ea, size, insn->prefixes & PFX_LOCK, &m);
			do
				r = bt_apply(op, v, bit);
			while (!exec_rmw_store(cpu, &m, &v, r));
		}
	}
	emu_set_arith_flags(cpu, EMU_CF, (v >> bit) & 1 ? EMU_CF : 0);
	exec_advance(cpu, insn);
}

/* 0F A3 BT, AB BTS, B3 BTR, BB BTC: r/m, reg. */
static void op_bt_reg(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t off = exec_sext(exec_get_reg(cpu, insn, insn->reg, insn->opsize), insn->opsize);

	bt_common(cpu, insn, (insn->op >> 3) & 3, off, true);
}

/* 0F BA: group 8, /4 BT, /5 BTS, /6 BTR, /7 BTC r/m, imm8. */
static void op_grp8(struct emu_cpu *cpu, const struct insn *insn)
{
	if ((insn->reg & 7) < 4)
		emu_raise_ud(cpu);
	bt_common(cpu, insn, (insn->reg & 7) - 4, insn->imm & 0xff, false);
}

/* 0F BC BSF / 0F BD BSR, and their F3 forms TZCNT / LZCNT. */
static void op_bsf_bsr(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = insn->opsize, bits = 8 * size;
	bool rev = insn->op == 0xbd;
	bool cnt = (insn->prefixes & PFX_REP) && (rev || EMU_HAVE_BMI1);
	uint64_t v, r;

	exec_no_lock(cpu, insn);
	v = exec_get_rm(cpu, insn, size);
	if (cnt) {
		/* LZCNT/TZCNT: the operand size for a zero source, CF says so,
		 * ZF says the count is 0. */
		if (v == 0)
			r = bits;
		else if (rev)
			r = __builtin_clzll(v) - (64 - bits);
		else
			r = __builtin_ctzll(v);
		exec_set_reg(cpu, insn, insn->reg, size, r);
		emu_set_arith_flags(cpu, EMU_ARITH_FLAGS & ~EMU_OF,
				    (v == 0 ? EMU_CF : 0) | (r == 0 ? EMU_ZF : 0));
	} else if (v == 0) {
		/* PF as if the result were 0, like the host. */
		emu_set_arith_flags(cpu, EMU_ARITH_FLAGS, EMU_ZF | EMU_PF);
	} else {
		r = (uint64_t)(rev ? 63 - __builtin_clzll(v) : __builtin_ctzll(v));
		exec_set_reg(cpu, insn, insn->reg, size, r);
		emu_set_arith_flags(cpu, EMU_ARITH_FLAGS, emu_szp_flags(r, size) & EMU_PF);
	}
	exec_advance(cpu, insn);
}

/* F3 0F B8: POPCNT (0F B8 without F3 is JMPE, #UD). */
static void op_popcnt(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = insn->opsize;
	uint64_t v;

	exec_no_lock(cpu, insn);
	if (!(insn->prefixes & PFX_REP))
		emu_raise_ud(cpu);
	v = exec_get_rm(cpu, insn, size);
	exec_set_reg(cpu, insn, insn->reg, size, (uint64_t)__builtin_popcountll(v));
	emu_set_arith_flags(cpu, EMU_ARITH_FLAGS, v == 0 ? EMU_ZF : 0);
	exec_advance(cpu, insn);
}

void exec_register_bitops(struct exec_table *t)
{
	exec_fn *x = t->fn[MAP_0F];

	x[0xa3] = x[0xab] = x[0xb3] = x[0xbb] = op_bt_reg;
	x[0xba] = op_grp8;
	x[0xbc] = x[0xbd] = op_bsf_bsr;
	x[0xb8] = op_popcnt;
}
