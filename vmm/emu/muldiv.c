/* Multiplication and division, and the rest of group 3 (F6/F7: TEST imm,
 * NOT, NEG, MUL, IMUL, DIV, IDIV), plus the two- and three-operand IMUL
 * forms (0F AF, 69, 6B).
 *
 * MUL/IMUL set CF = OF = "the high half is significant" and, like the AMD
 * host, leave SF ZF AF PF alone (see flags.c). DIV/IDIV define no flag;
 * like the AMD host they clear SF ZF PF, set AF and keep CF OF. #DE for a
 * zero divisor and for a quotient that does not fit, which includes the
 * most negative dividend divided by -1. */
#include "exec.h"
#include "flags.h"
#include "operand.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

/* The accumulator pair of size bytes: AX for bytes, else rDX:rAX. */
static u128 get_acc_pair(const struct emu_cpu *cpu, unsigned size)
{
	uint64_t m = size_mask(size);

	if (size == 1)
		return cpu->gpr[0] & 0xffff;
	return (u128)(cpu->gpr[2] & m) << (8 * size) | (cpu->gpr[0] & m);
}

static void set_acc_pair(struct emu_cpu *cpu, const struct insn *insn, unsigned size, u128 v)
{
	if (size == 1) {
		exec_set_reg(cpu, insn, 0, 2, (uint64_t)v & 0xffff);
		return;
	}
	exec_set_reg(cpu, insn, 0, size, (uint64_t)v);
	exec_set_reg(cpu, insn, 2, size, (uint64_t)(v >> (8 * size)));
}

static void set_mul_flags(struct emu_cpu *cpu, bool significant)
{
	emu_flags_set(cpu, CC_OP_MUL, 8, 0, 0, significant);
}

/* F6/F7 /4 MUL, /5 IMUL: rDX:rAX (AX) = rAX (AL) * r/m. */
static void mul1(struct emu_cpu *cpu, const struct insn *insn, unsigned size, bool sign)
{
	uint64_t b = exec_get_rm(cpu, insn, size), a = cpu->gpr[0] & size_mask(size);
	unsigned bits = 8 * size;
	u128 p;
	bool sig;

	if (sign) {
		s128 sp = (s128)(int64_t)exec_sext(a, size) * (int64_t)exec_sext(b, size);

		p = (u128)sp;
		/* Significant unless the product is its low half sign-extended. */
		sig = sp != (s128)(int64_t)exec_sext((uint64_t)p & size_mask(size), size);
	} else {
		p = (u128)a * b;
		sig = (p >> bits) != 0;
	}
	set_acc_pair(cpu, insn, size, p);
	set_mul_flags(cpu, sig);
}

/* F6/F7 /6 DIV, /7 IDIV: rAX (AL) = rDX:rAX (AX) / r/m, rDX (AH) = the
 * remainder. */
static void div1(struct emu_cpu *cpu, const struct insn *insn, unsigned size, bool sign)
{
	uint64_t d = exec_get_rm(cpu, insn, size), m = size_mask(size);
	unsigned bits = 8 * size;
	u128 n = get_acc_pair(cpu, size), q, r;

	if (d == 0)
		emu_raise(cpu, EMU_VEC_DE, false, 0);
	if (!sign) {
		/* The quotient fits iff the high half is below the divisor. */
		if ((uint64_t)(n >> bits) >= d)
			emu_raise(cpu, EMU_VEC_DE, false, 0);
		q = n / d;
		r = n % d;
	} else {
		/* Sign-extend the 2 * bits dividend to 128 bits. */
		s128 sn = (s128)(n << (128 - 2 * bits)) >> (128 - 2 * bits);
		s128 sd = (int64_t)exec_sext(d, size), sq, sr;
		s128 lim = (s128)1 << (bits - 1);

		/* -2^127 / -1 is the one case the host division itself cannot
		 * do; it overflows the guest's quotient as well. */
		if (bits == 64 && sd == -1 && n == (u128)1 << 127)
			emu_raise(cpu, EMU_VEC_DE, false, 0);
		sq = sn / sd;
		sr = sn % sd;
		if (sq >= lim || sq < -lim)
			emu_raise(cpu, EMU_VEC_DE, false, 0);
		q = (u128)sq;
		r = (u128)sr;
	}
	if (size == 1) {
		exec_set_reg(cpu, insn, 0, 2, ((uint64_t)r & 0xff) << 8 | ((uint64_t)q & 0xff));
	} else {
		exec_set_reg(cpu, insn, 0, size, (uint64_t)q & m);
		exec_set_reg(cpu, insn, 2, size, (uint64_t)r & m);
	}
	/* All six are undefined; the AMD host clears SF ZF PF, sets AF and
	 * keeps CF OF. */
	emu_set_arith_flags(cpu, EMU_SF | EMU_ZF | EMU_PF | EMU_AF, EMU_AF);
}

/* F6/F7: group 3. */
static void op_grp3(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = (insn->op & 1) ? insn->opsize : 1;
	uint64_t a, r;
	struct exec_rmw m;

	switch (insn->reg & 7) {
	case 0:
	case 1:         /* TEST r/m, imm (/1 is an undocumented alias) */
		exec_no_lock(cpu, insn);
		a = exec_get_rm(cpu, insn, size);
		emu_flags_set(cpu, CC_OP_LOGIC, size, a & insn->imm, a, insn->imm);
		break;
	case 2:         /* NOT: no flags */
		a = exec_rmw_load_rm(cpu, insn, size, &m);
		while (!exec_rmw_store(cpu, &m, &a, ~a))
			;
		break;
	case 3:         /* NEG: flags of 0 - r/m */
		a = exec_rmw_load_rm(cpu, insn, size, &m);
		do
			r = (0 - a) & size_mask(size);
		while (!exec_rmw_store(cpu, &m, &a, r));
		emu_flags_set(cpu, CC_OP_SUB, size, r, 0, a);
		break;
	case 4:
	case 5:
		exec_no_lock(cpu, insn);
		mul1(cpu, insn, size, insn->reg & 1);
		break;
	default:
		exec_no_lock(cpu, insn);
		div1(cpu, insn, size, insn->reg & 1);
		break;
	}
	exec_advance(cpu, insn);
}

/* reg = a * b truncated to size, signed: 0F AF (a = reg, b = r/m), 69 and
 * 6B (a = r/m, b = imm). */
static void imul_to_reg(struct emu_cpu *cpu, const struct insn *insn, uint64_t a, uint64_t b)
{
	unsigned size = insn->opsize;
	s128 p = (s128)(int64_t)exec_sext(a, size) * (int64_t)exec_sext(b, size);
	uint64_t lo = (uint64_t)p & size_mask(size);

	exec_set_reg(cpu, insn, insn->reg, size, lo);
	set_mul_flags(cpu, p != (s128)(int64_t)exec_sext(lo, size));
	exec_advance(cpu, insn);
}

static void op_imul_rm(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t b;

	exec_no_lock(cpu, insn);
	b = exec_get_rm(cpu, insn, insn->opsize);
	imul_to_reg(cpu, insn, exec_get_reg(cpu, insn, insn->reg, insn->opsize), b);
}

static void op_imul_imm(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	imul_to_reg(cpu, insn, exec_get_rm(cpu, insn, insn->opsize), insn->imm);
}

void exec_register_muldiv(struct exec_table *t)
{
	t->fn[MAP_PRIMARY][0xf6] = t->fn[MAP_PRIMARY][0xf7] = op_grp3;
	t->fn[MAP_PRIMARY][0x69] = t->fn[MAP_PRIMARY][0x6b] = op_imul_imm;
	t->fn[MAP_0F][0xaf] = op_imul_rm;
}
