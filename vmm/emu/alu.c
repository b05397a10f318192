/* The integer ALU family: the eight classic operations in all their forms,
 * TEST, INC/DEC, MOV and its sign/zero-extending kin, LEA, XCHG, XADD,
 * CMPXCHG, BSWAP, the accumulator conversions, SETcc/CMOVcc, PUSH/POP,
 * NOPs and hints, LAHF/SAHF, the flag instructions, XLAT, ARPL and the
 * BCD adjustments. */
#include "exec.h"
#include "flags.h"
#include "mem.h"
#include "operand.h"

/* Operand size of a classic byte/word pair: the low opcode bit selects
 * the full size. */
static inline unsigned bw_size(const struct insn *insn)
{
	return (insn->op & 1) ? insn->opsize : 1;
}

/* A register named by the low three opcode bits (50+r, B8+r, ...). */
static inline unsigned op_reg(const struct insn *insn)
{
	return (insn->op & 7) | ((insn->rex & 1) << 3);
}

void exec_alu_flags(struct emu_cpu *cpu, unsigned op, unsigned size, uint64_t r,
		    uint64_t a, uint64_t b)
{
	static const uint8_t kind[8] = {
		[ALU_ADD] = CC_OP_ADD, [ALU_OR] = CC_OP_LOGIC, [ALU_ADC] = CC_OP_ADC,
		[ALU_SBB] = CC_OP_SBB, [ALU_AND] = CC_OP_LOGIC, [ALU_SUB] = CC_OP_SUB,
		[ALU_XOR] = CC_OP_LOGIC, [ALU_CMP] = CC_OP_SUB,
	};

	emu_flags_set(cpu, kind[op & 7], size, r, a, b);
}

/* r/m = r/m op b; CMP only reads. */
static void alu_to_rm(struct emu_cpu *cpu, const struct insn *insn, unsigned op, unsigned size,
		      uint64_t b)
{
	struct exec_rmw m;
	uint64_t a, r;
	bool cf;

	b &= size_mask(size);
	if (op == ALU_CMP) {
		exec_no_lock(cpu, insn);
		a = exec_get_rm(cpu, insn, size);
		exec_alu_flags(cpu, op, size, a - b, a, b);
		exec_advance(cpu, insn);
		return;
	}
	/* The carry-in is read once: the loop below may run again when a
	 * locked update races with another vCPU, with the flags untouched. */
	cf = emu_get_cf(cpu);
	a = exec_rmw_load_rm(cpu, insn, size, &m);
	do
		r = exec_alu_result(op, a, b, cf) & size_mask(size);
	while (!exec_rmw_store(cpu, &m, &a, r));
	exec_alu_flags(cpu, op, size, r, a, b);
	exec_advance(cpu, insn);
}

/* 00-3D: ADD/OR/ADC/SBB/AND/SUB/XOR/CMP in their six encodings. */
static void op_alu(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned op = (insn->op >> 3) & 7, size = bw_size(insn);
	uint64_t a, b, r;

	switch (insn->op & 7) {
	case 0:
	case 1:         /* r/m op= reg */
		alu_to_rm(cpu, insn, op, size, exec_get_reg(cpu, insn, insn->reg, size));
		return;
	case 2:
	case 3:         /* reg op= r/m */
		exec_no_lock(cpu, insn);
		a = exec_get_reg(cpu, insn, insn->reg, size);
		b = exec_get_rm(cpu, insn, size);
		r = exec_alu_result(op, a, b, emu_get_cf(cpu)) & size_mask(size);
		if (op != ALU_CMP)
			exec_set_reg(cpu, insn, insn->reg, size, r);
		break;
	default:        /* AL/eAX op= imm */
		exec_no_lock(cpu, insn);
		a = exec_get_reg(cpu, insn, 0, size);
		b = insn->imm & size_mask(size);
		r = exec_alu_result(op, a, b, emu_get_cf(cpu)) & size_mask(size);
		if (op != ALU_CMP)
			exec_set_reg(cpu, insn, 0, size, r);
		break;
	}
	exec_alu_flags(cpu, op, size, r, a, b);
	exec_advance(cpu, insn);
}

/* 80-83: group 1, r/m op= imm (83: a sign-extended imm8; 82: 80's alias
 * outside 64-bit mode). */
static void op_grp1(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = insn->op == 0x81 || insn->op == 0x83 ? insn->opsize : 1;

	alu_to_rm(cpu, insn, insn->reg & 7, size, insn->imm);
}

/* 84/85 TEST r/m, reg; A8/A9 TEST AL/eAX, imm. */
static void op_test(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = bw_size(insn);
	uint64_t a, b;

	exec_no_lock(cpu, insn);
	if (insn->op >= 0xa8) {
		a = exec_get_reg(cpu, insn, 0, size);
		b = insn->imm & size_mask(size);
	} else {
		a = exec_get_rm(cpu, insn, size);
		b = exec_get_reg(cpu, insn, insn->reg, size);
	}
	emu_flags_set(cpu, CC_OP_LOGIC, size, a & b, a, b);
	exec_advance(cpu, insn);
}

/* ---- INC/DEC ------------------------------------------------------- */

void exec_incdec_rm(struct emu_cpu *cpu, const struct insn *insn, unsigned size, bool dec)
{
	struct exec_rmw m;
	uint64_t a = exec_rmw_load_rm(cpu, insn, size, &m), r;

	do
		r = (dec ? a - 1 : a + 1) & size_mask(size);
	while (!exec_rmw_store(cpu, &m, &a, r));
	emu_flags_set(cpu, dec ? CC_OP_DEC : CC_OP_INC, size, r, a, 1);
	exec_advance(cpu, insn);
}

/* 40-4F outside 64-bit mode (where they are REX prefixes). */
static void op_incdec_reg(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned reg = insn->op & 7, size = insn->opsize;
	bool dec = insn->op & 8;
	uint64_t a, r;

	exec_no_lock(cpu, insn);
	a = exec_get_reg(cpu, insn, reg, size);
	r = (dec ? a - 1 : a + 1) & size_mask(size);
	exec_set_reg(cpu, insn, reg, size, r);
	emu_flags_set(cpu, dec ? CC_OP_DEC : CC_OP_INC, size, r, a, 1);
	exec_advance(cpu, insn);
}

/* FE: group 4, INC/DEC r/m8. */
static void op_grp4(struct emu_cpu *cpu, const struct insn *insn)
{
	if ((insn->reg & 7) > 1)
		emu_raise_ud(cpu);
	exec_incdec_rm(cpu, insn, 1, insn->reg & 1);
}

/* ---- moves --------------------------------------------------------- */

/* 88-8B: MOV r/m, reg and reg, r/m. */
static void op_mov(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = bw_size(insn);

	exec_no_lock(cpu, insn);
	if (insn->op & 2)
		exec_set_reg(cpu, insn, insn->reg, size, exec_get_rm(cpu, insn, size));
	else
		exec_set_rm(cpu, insn, size, exec_get_reg(cpu, insn, insn->reg, size));
	exec_advance(cpu, insn);
}

/* C6/C7 /0: MOV r/m, imm (C7 with REX.W: a sign-extended imm32). The other
 * digits are XABORT/XBEGIN (C6/C7 F8): #UD without RTM. */
static void op_mov_imm_rm(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	if ((insn->reg & 7) != 0)
		emu_raise_ud(cpu);
	exec_set_rm(cpu, insn, bw_size(insn), insn->imm);
	exec_advance(cpu, insn);
}

/* B0-B7: MOV r8, imm8; B8-BF: MOV r, imm (imm64 with REX.W). */
static void op_mov_imm_reg(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	exec_set_reg(cpu, insn, op_reg(insn), insn->op & 8 ? insn->opsize : 1, insn->imm);
	exec_advance(cpu, insn);
}

/* A0-A3: MOV between the accumulator and an absolute offset (moffs, of the
 * address size) in DS or the override. */
static void op_mov_moffs(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = bw_size(insn);
	unsigned seg = insn->seg != INSN_NO_SEG ? insn->seg : SEG_DS;
	uint64_t off = insn->imm & exec_addr_mask(insn);

	exec_no_lock(cpu, insn);
	if (insn->op & 2)
		emu_write(cpu, seg, off, size, exec_get_reg(cpu, insn, 0, size));
	else
		exec_set_reg(cpu, insn, 0, size, emu_read(cpu, seg, off, size));
	exec_advance(cpu, insn);
}

/* 0F B6/B7 MOVZX, 0F BE/BF MOVSX: from r/m8 or r/m16. */
static void op_movx(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned from = insn->op & 1 ? 2 : 1;
	uint64_t v;

	exec_no_lock(cpu, insn);
	v = exec_get_rm(cpu, insn, from);
	if (insn->op & 8)
		v = exec_sext(v, from);
	exec_set_reg(cpu, insn, insn->reg, insn->opsize, v);
	exec_advance(cpu, insn);
}

/* 63: MOVSXD in 64-bit mode (without REX.W it is a plain 32/16-bit move;
 * the source is 32 bits even then, as the AMD host reads it); ARPL outside
 * 64-bit mode. */
static void op_63(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	if (cpu->mode == EMU_MODE_LONG64) {
		unsigned size = insn->opsize;
		uint64_t v = exec_get_rm(cpu, insn, 4);

		exec_set_reg(cpu, insn, insn->reg, size, size == 8 ? exec_sext(v, 4) : v);
	} else {
		/* ARPL r/m16, r16: raise the selector's RPL to that of the
		 * source. Protected mode only. */
		struct exec_rmw m;
		uint64_t dst, src, r;

		if (cpu->mode == EMU_MODE_REAL || (cpu->rflags & EMU_VM))
			emu_raise_ud(cpu);
		src = exec_get_reg(cpu, insn, insn->reg, 2);
		dst = exec_rmw_load_rm(cpu, insn, 2, &m);
		if ((dst & 3) < (src & 3)) {
			do
				r = (dst & ~3ull) | (src & 3);
			while (!exec_rmw_store(cpu, &m, &dst, r));
			emu_set_arith_flags(cpu, EMU_ZF, EMU_ZF);
		} else {
			emu_set_arith_flags(cpu, EMU_ZF, 0);
		}
	}
	exec_advance(cpu, insn);
}

/* 8D: LEA. The address (of the address size) is truncated or zero-extended
 * to the operand size; no memory is touched. */
static void op_lea(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	if (insn->mod == 3)
		emu_raise_ud(cpu);
	exec_set_reg(cpu, insn, insn->reg, insn->opsize, exec_ea(cpu, insn));
	exec_advance(cpu, insn);
}

/* ---- exchanges ----------------------------------------------------- */

/* 86/87: XCHG r/m, reg. With memory it is locked whether or not LOCK is
 * there. */
static void op_xchg(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = bw_size(insn);
	uint64_t r = exec_get_reg(cpu, insn, insn->reg, size), old;
	struct exec_rmw m;

	if (insn->mod == 3) {
		exec_no_lock(cpu, insn);
		old = exec_get_reg(cpu, insn, insn->rm, size);
		exec_set_reg(cpu, insn, insn->rm, size, r);
	} else {
		old = exec_rmw_load_mem(cpu, exec_ea_seg(insn), exec_ea(cpu, insn), size, true, &m);
		while (!exec_rmw_store(cpu, &m, &old, r))
			;
	}
	exec_set_reg(cpu, insn, insn->reg, size, old);
	exec_advance(cpu, insn);
}

/* 90-97: XCHG rAX, r. 90 itself is NOP (not a 32-bit exchange, which would
 * zero RAX's upper half) unless REX.B makes it XCHG R8; F3 90 is PAUSE. */
static void op_xchg_ax(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned reg = op_reg(insn), size = insn->opsize;
	uint64_t a;

	exec_no_lock(cpu, insn);
	if (reg != 0) {
		a = exec_get_reg(cpu, insn, 0, size);
		exec_set_reg(cpu, insn, 0, size, exec_get_reg(cpu, insn, reg, size));
		exec_set_reg(cpu, insn, reg, size, a);
	}
	exec_advance(cpu, insn);
}

/* 0F C0/C1: XADD r/m, reg: reg = old r/m, r/m = old r/m + reg. */
static void op_xadd(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = bw_size(insn);
	uint64_t b = exec_get_reg(cpu, insn, insn->reg, size), a, r;
	struct exec_rmw m;

	if (insn->mod == 3) {
		exec_no_lock(cpu, insn);
		a = exec_get_reg(cpu, insn, insn->rm, size);
		r = (a + b) & size_mask(size);
		/* The destination is written last: XADD r, r keeps the sum. */
		exec_set_reg(cpu, insn, insn->reg, size, a);
		exec_set_reg(cpu, insn, insn->rm, size, r);
	} else {
		a = exec_rmw_load_rm(cpu, insn, size, &m);
		do
			r = (a + b) & size_mask(size);
		while (!exec_rmw_store(cpu, &m, &a, r));
		exec_set_reg(cpu, insn, insn->reg, size, a);
	}
	emu_flags_set(cpu, CC_OP_ADD, size, r, a, b);
	exec_advance(cpu, insn);
}

/* 0F B0/B1: CMPXCHG r/m, reg. Equal to the accumulator: r/m = reg, ZF = 1;
 * else the accumulator = r/m. Memory gets its own value back then (the
 * access is always a write); a register destination is left alone, so a
 * 32-bit one keeps its upper half, as on the AMD host. Flags as CMP
 * accumulator, r/m. */
static void op_cmpxchg(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = bw_size(insn);
	uint64_t acc = exec_get_reg(cpu, insn, 0, size);
	uint64_t src = exec_get_reg(cpu, insn, insn->reg, size);
	uint64_t old;
	struct exec_rmw m;

	old = exec_rmw_load_rm(cpu, insn, size, &m);
	if (m.is_reg) {
		if (old == acc)
			exec_set_reg(cpu, insn, insn->rm, size, src);
	} else {
		while (!exec_rmw_store(cpu, &m, &old, old == acc ? src : old))
			;
	}
	emu_flags_set(cpu, CC_OP_SUB, size, acc - old, acc, old);
	if (old != acc)
		exec_set_reg(cpu, insn, 0, size, old);
	exec_advance(cpu, insn);
}

/* 0F C8-CF: BSWAP. With a 16-bit operand the result is undefined; the
 * CPUs in use clear the register's low word. */
static void op_bswap(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned reg = op_reg(insn);
	uint64_t v = cpu->gpr[reg];

	exec_no_lock(cpu, insn);
	switch (insn->opsize) {
	case 8:
		v = __builtin_bswap64(v);
		break;
	case 4:
		v = __builtin_bswap32((uint32_t)v);
		break;
	default:
		v = 0;
		break;
	}
	exec_set_reg(cpu, insn, reg, insn->opsize, v);
	exec_advance(cpu, insn);
}

/* 98: CBW/CWDE/CDQE, the accumulator's lower half sign-extended. */
static void op_cbw(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = insn->opsize;

	exec_no_lock(cpu, insn);
	exec_set_reg(cpu, insn, 0, size, exec_sext(cpu->gpr[0], size / 2));
	exec_advance(cpu, insn);
}

/* 99: CWD/CDQ/CQO, rDX = the sign of rAX. */
static void op_cwd(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = insn->opsize;

	exec_no_lock(cpu, insn);
	exec_set_reg(cpu, insn, 2, size, (cpu->gpr[0] >> (8 * size - 1)) & 1 ? ~0ull : 0);
	exec_advance(cpu, insn);
}

/* ---- conditions ---------------------------------------------------- */

/* 0F 90-9F: SETcc r/m8 (the reg field is ignored). */
static void op_setcc(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	exec_set_rm(cpu, insn, 1, emu_cond(cpu, insn->op & 15));
	exec_advance(cpu, insn);
}

/* 0F 40-4F: CMOVcc. The source is read (and may fault) either way, and a
 * 32-bit destination is zero-extended even when nothing moves. */
static void op_cmovcc(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = insn->opsize;
	uint64_t v;

	exec_no_lock(cpu, insn);
	v = exec_get_rm(cpu, insn, size);
	if (!emu_cond(cpu, insn->op & 15))
		v = exec_get_reg(cpu, insn, insn->reg, size);
	exec_set_reg(cpu, insn, insn->reg, size, v);
	exec_advance(cpu, insn);
}

/* ---- stack --------------------------------------------------------- */

/* 50-57: PUSH r. PUSH rSP pushes the value from before the push. */
static void op_push_reg(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = exec_stack_opsize(cpu, insn);

	exec_no_lock(cpu, insn);
	exec_push(cpu, size, exec_get_reg(cpu, insn, op_reg(insn), size));
	exec_advance(cpu, insn);
}

/* 58-5F: POP r. POP rSP ends with the popped value in rSP. */
static void op_pop_reg(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = exec_stack_opsize(cpu, insn);
	uint64_t v;

	exec_no_lock(cpu, insn);
	v = exec_pop(cpu, size);
	exec_set_reg(cpu, insn, op_reg(insn), size, v);
	exec_advance(cpu, insn);
}

/* 68/6A: PUSH imm (sign-extended imm32 or imm8). */
static void op_push_imm(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	exec_push(cpu, exec_stack_opsize(cpu, insn), insn->imm);
	exec_advance(cpu, insn);
}

/* 8F /0: POP r/m. A memory destination addressed through rSP sees rSP as
 * it is after the pop; rSP changes only once the store has succeeded. */
static void op_pop_rm(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = exec_stack_opsize(cpu, insn);
	uint64_t v, ea, rsp;

	exec_no_lock(cpu, insn);
	if ((insn->reg & 7) != 0)
		emu_raise_ud(cpu);      /* AMD XOP encodings */
	v = exec_stack_peek(cpu, 0, size);
	if (insn->mod == 3) {
		exec_stack_adjust(cpu, size);
		exec_set_reg(cpu, insn, insn->rm, size, v);
	} else {
		rsp = cpu->gpr[4];
		exec_stack_adjust(cpu, size);
		ea = exec_ea(cpu, insn);
		cpu->gpr[4] = rsp;
		emu_write(cpu, exec_ea_seg(insn), ea, size, v);
		exec_stack_adjust(cpu, size);
	}
	exec_advance(cpu, insn);
}

/* 60: PUSHA/PUSHAD (not in 64-bit mode): AX CX DX BX, the original SP,
 * BP SI DI. All eight stores happen before SP moves. */
static void op_pusha(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = insn->opsize;

	exec_no_lock(cpu, insn);
	for (unsigned i = 0; i < 8; i++)
		exec_stack_poke(cpu, (uint64_t)size * (i + 1), size, cpu->gpr[i]);
	exec_stack_adjust(cpu, -8 * (int64_t)size);
	exec_advance(cpu, insn);
}

/* 61: POPA/POPAD: DI SI BP (SP skipped) BX DX CX AX. */
static void op_popa(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = insn->opsize;
	uint64_t v[8];

	exec_no_lock(cpu, insn);
	for (unsigned i = 0; i < 8; i++)
		v[i] = exec_stack_peek(cpu, (uint64_t)size * i, size);
	for (unsigned i = 0; i < 8; i++)
		if (7 - i != 4)
			exec_set_reg(cpu, insn, 7 - i, size, v[i]);
	exec_stack_adjust(cpu, 8 * (int64_t)size);
	exec_advance(cpu, insn);
}

/* ---- NOPs and hints ------------------------------------------------ */

/* 0F 0D (PREFETCH/PREFETCHW), 0F 18-1F (prefetches, reserved hints,
 * multi-byte NOP, ENDBR): the memory operand is never accessed. */
static void op_nop_modrm(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	exec_advance(cpu, insn);
}

/* 0F 0B: UD2. */
static void op_ud2(struct emu_cpu *cpu, const struct insn *insn)
{
	(void)insn;
	emu_raise_ud(cpu);
}

/* ---- flags --------------------------------------------------------- */

/* 9F: LAHF, AH = SF:ZF:0:AF:0:PF:1:CF. (64-bit mode needs CPUID's
 * LAHF-SAHF bit, which wisp advertises.) */
static void op_lahf(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	/* AH even with a REX prefix (which would make register 4 SPL). */
	cpu->gpr[0] = (cpu->gpr[0] & ~0xff00ull) | ((emu_get_rflags(cpu) & 0xd5) | 2) << 8;
	exec_advance(cpu, insn);
}

/* 9E: SAHF loads SF ZF AF PF CF from AH. */
static void op_sahf(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	emu_set_arith_flags(cpu, EMU_SF | EMU_ZF | EMU_AF | EMU_PF | EMU_CF, cpu->gpr[0] >> 8);
	exec_advance(cpu, insn);
}

/* F5 CMC, F8 CLC, F9 STC, FC CLD, FD STD. */
static void op_flag(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	switch (insn->op) {
	case 0xf5:
		emu_set_arith_flags(cpu, EMU_CF, emu_get_cf(cpu) ? 0 : EMU_CF);
		break;
	case 0xf8:
		emu_set_arith_flags(cpu, EMU_CF, 0);
		break;
	case 0xf9:
		emu_set_arith_flags(cpu, EMU_CF, EMU_CF);
		break;
	case 0xfc:
		cpu->rflags &= ~EMU_DF;
		break;
	default:
		cpu->rflags |= EMU_DF;
		break;
	}
	exec_advance(cpu, insn);
}

/* D7: XLAT, AL = [seg:rBX + AL] (rBX of the address size). */
static void op_xlat(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t off = (cpu->gpr[3] + (cpu->gpr[0] & 0xff)) & exec_addr_mask(insn);

	exec_no_lock(cpu, insn);
	exec_set_reg(cpu, insn, 0, 1, emu_read(cpu, exec_src_seg(insn), off, 1));
	exec_advance(cpu, insn);
}

/* ---- BCD (not in 64-bit mode, where the decoder rejects them) -------- */

/* 27 DAA / 2F DAS: adjust AL after a packed-BCD addition/subtraction.
 * OF is undefined; like the AMD host it is the overflow of AL +/- the
 * whole adjustment (06, 60 or 66). */
static void op_daa_das(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t f = emu_get_arith_flags(cpu), nf = 0;
	unsigned al = cpu->gpr[0] & 0xff, old_al = al, adj = 0;
	bool old_cf = f & EMU_CF, das = insn->op == 0x2f;

	exec_no_lock(cpu, insn);
	if ((al & 0xf) > 9 || (f & EMU_AF)) {
		if (das) {
			if (al < 6)
				nf |= EMU_CF;   /* the borrow of AL - 6 */
			al = (al - 6) & 0xff;
		} else {
			if (al > 0xf9)
				nf |= EMU_CF;   /* the carry of AL + 6 */
			al = (al + 6) & 0xff;
		}
		nf |= EMU_AF;
		adj = 6;
	}
	if (old_al > 0x99 || old_cf) {
		al = (das ? al - 0x60 : al + 0x60) & 0xff;
		nf |= EMU_CF;
		adj |= 0x60;
	} else if (!das) {
		nf &= ~EMU_CF;
	}
	if (das ? ((old_al ^ adj) & (old_al ^ al)) & 0x80 : ((old_al ^ al) & (adj ^ al)) & 0x80)
		nf |= EMU_OF;
	exec_set_reg(cpu, insn, 0, 1, al);
	emu_set_rflags(cpu, (emu_get_rflags(cpu) & ~EMU_ARITH_FLAGS) | nf | emu_szp_flags(al, 1));
	exec_advance(cpu, insn);
}

/* 37 AAA / 3F AAS: adjust AX after an unpacked-BCD addition/subtraction.
 * Only AF and CF are defined; like the AMD host, SF ZF PF OF describe the
 * 16-bit AX +/- 0x106 (or AX unchanged, OF clear) before AL's high nibble
 * is cleared. */
static void op_aaa_aas(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t f = emu_get_arith_flags(cpu), nf = 0;
	uint64_t ax = cpu->gpr[0] & 0xffff, old = ax;

	exec_no_lock(cpu, insn);
	if ((ax & 0xf) > 9 || (f & EMU_AF)) {
		/* AAA: AX += 0x106; AAS: AX -= 6, then AH -= 1. */
		bool add = insn->op == 0x37;

		ax = (add ? ax + 0x106 : ax - 0x106) & 0xffff;
		nf = EMU_AF | EMU_CF;
		if ((add ? (old ^ ax) & (0x106 ^ ax) : (old ^ 0x106) & (old ^ ax)) & 0x8000)
			nf |= EMU_OF;
	}
	nf |= emu_szp_flags(ax, 2) & ~EMU_PF;
	nf |= emu_szp_flags(ax, 1) & EMU_PF;    /* parity of the low byte */
	exec_set_reg(cpu, insn, 0, 2, ax & 0xff0f);
	emu_set_rflags(cpu, (emu_get_rflags(cpu) & ~EMU_ARITH_FLAGS) | nf);
	exec_advance(cpu, insn);
}

/* D4 ib AAM: AH = AL / base, AL = AL % base (#DE for base 0). D5 ib AAD:
 * AL = AL + AH * base, AH = 0. SF ZF PF follow AL. OF AF CF are undefined:
 * like the AMD host, AAM clears them and AAD sets them as the 8-bit
 * addition AL + (AH * base) does. */
static void op_aam_aad(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned base = insn->imm & 0xff, al = cpu->gpr[0] & 0xff, ah = (cpu->gpr[0] >> 8) & 0xff;
	unsigned prod = (ah * base) & 0xff;

	exec_no_lock(cpu, insn);
	if (insn->op == 0xd4) {
		if (base == 0)
			emu_raise(cpu, EMU_VEC_DE, false, 0);
		exec_set_reg(cpu, insn, 0, 2, (uint64_t)(al / base) << 8 | (al % base));
		emu_set_arith_flags(cpu, EMU_ARITH_FLAGS, emu_szp_flags(al % base, 1));
	} else {
		exec_set_reg(cpu, insn, 0, 2, (al + prod) & 0xff);
		emu_flags_set(cpu, CC_OP_ADD, 1, al + prod, al, prod);
	}
	exec_advance(cpu, insn);
}

void exec_register_alu(struct exec_table *t)
{
	exec_fn *p = t->fn[MAP_PRIMARY], *x = t->fn[MAP_0F];

	for (unsigned op = 0; op < 0x40; op++)
		if ((op & 7) < 6)
			p[op] = op_alu;
	for (unsigned op = 0x40; op < 0x50; op++)
		p[op] = op_incdec_reg;
	for (unsigned op = 0x50; op < 0x58; op++)
		p[op] = op_push_reg;
	for (unsigned op = 0x58; op < 0x60; op++)
		p[op] = op_pop_reg;
	p[0x60] = op_pusha;
	p[0x61] = op_popa;
	p[0x63] = op_63;
	p[0x68] = op_push_imm;
	p[0x6a] = op_push_imm;
	for (unsigned op = 0x80; op < 0x84; op++)
		p[op] = op_grp1;
	p[0x84] = p[0x85] = op_test;
	p[0x86] = p[0x87] = op_xchg;
	for (unsigned op = 0x88; op < 0x8c; op++)
		p[op] = op_mov;
	p[0x8d] = op_lea;
	p[0x8f] = op_pop_rm;
	for (unsigned op = 0x90; op < 0x98; op++)
		p[op] = op_xchg_ax;
	p[0x98] = op_cbw;
	p[0x99] = op_cwd;
	p[0x9e] = op_sahf;
	p[0x9f] = op_lahf;
	for (unsigned op = 0xa0; op < 0xa4; op++)
		p[op] = op_mov_moffs;
	p[0xa8] = p[0xa9] = op_test;
	for (unsigned op = 0xb0; op < 0xc0; op++)
		p[op] = op_mov_imm_reg;
	p[0xc6] = p[0xc7] = op_mov_imm_rm;
	p[0x27] = p[0x2f] = op_daa_das;
	p[0x37] = p[0x3f] = op_aaa_aas;
	p[0xd4] = p[0xd5] = op_aam_aad;
	p[0xd7] = op_xlat;
	p[0xf5] = p[0xf8] = p[0xf9] = p[0xfc] = p[0xfd] = op_flag;
	p[0xfe] = op_grp4;

	x[0x0b] = op_ud2;
	x[0x0d] = op_nop_modrm;
	for (unsigned op = 0x18; op < 0x20; op++)
		x[op] = op_nop_modrm;
	for (unsigned op = 0x40; op < 0x50; op++)
		x[op] = op_cmovcc;
	for (unsigned op = 0x90; op < 0xa0; op++)
		x[op] = op_setcc;
	x[0xb0] = x[0xb1] = op_cmpxchg;
	x[0xb6] = x[0xb7] = x[0xbe] = x[0xbf] = op_movx;
	x[0xc0] = x[0xc1] = op_xadd;
	for (unsigned op = 0xc8; op < 0xd0; op++)
		x[op] = op_bswap;
}
