/* Lazy arithmetic flags: see flags.h.
 *
 * Carry and overflow come from the top bits of the operands and result
 * alone, which is what makes the lazy record small. At the top bit t of
 * an addition d = a + b + c_in, the carry into t is a^b^d, so the carry
 * out of t is maj(a, b, a^b^d) = (a & b) | ((a ^ b) & ~d); the same
 * expression is exact for ADC whatever the carry-in was. Subtraction
 * borrows out of t when (~a & b) | (~(a ^ b) & d), again for SBB too.
 * Overflow: the operands agree in sign and the result does not.
 *
 * Undefined flags, as the AMD Zen host of the differential tests leaves
 * them (probed with scripts/emu-diff-sweep in strict mode):
 *  - AND/OR/XOR/TEST clear AF;
 *  - SHL/SHR/SAR set AF; OF for any non-zero count is MSB(result) ^ CF for
 *    SHL, and MSB(result) ^ (bit below the MSB of the result) for SHR
 *    (which is MSB(source) for a count of 1, 0 for larger counts); a count
 *    beyond the operand width (8/16-bit operands) shifts out zeros, CF = 0;
 *  - MUL/IMUL leave SF, ZF, AF and PF unchanged. */
#include "flags.h"

static inline unsigned cc_kind(uint32_t op)
{
	return op & 0xff;
}

static inline unsigned cc_size(uint32_t op)
{
	return op >> CC_OP_SIZE_SHIFT;
}

static inline uint64_t mask_of(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static inline unsigned top_bit(unsigned size)
{
	return 8 * size - 1;
}

static inline uint64_t msb(uint64_t v, unsigned size)
{
	return (v >> top_bit(size)) & 1;
}

/* PF: set when the low byte of the result has an even number of ones. */
static inline uint64_t pf_of(uint64_t dst)
{
	return __builtin_parity((unsigned)(dst & 0xff)) ? 0 : EMU_PF;
}

uint64_t emu_szp_flags(uint64_t result, unsigned size)
{
	uint64_t f = pf_of(result);

	if ((result & mask_of(size)) == 0)
		f |= EMU_ZF;
	if (msb(result, size))
		f |= EMU_SF;
	return f;
}

/* CF of the recorded operation (the op is not CC_OP_EFLAGS). */
static bool lazy_cf(const struct emu_lazy_flags *lf)
{
	unsigned size = cc_size(lf->op), bits = 8 * size;
	uint64_t a = lf->src1, b = lf->src2, d = lf->dst;

	switch (cc_kind(lf->op)) {
	case CC_OP_ADD:
	case CC_OP_ADC:
		return msb((a & b) | ((a ^ b) & ~d), size);
	case CC_OP_SUB:
	case CC_OP_SBB:
		return msb((~a & b) | (~(a ^ b) & d), size);
	case CC_OP_LOGIC:
		return false;
	case CC_OP_INC:
	case CC_OP_DEC:
		return b & 1;
	case CC_OP_SHL:
		/* The last bit shifted out is bit (bits - count) of the source. */
		return b <= bits ? (a >> (bits - b)) & 1 : 0;
	case CC_OP_SHR:
		return b <= bits ? (a >> (b - 1)) & 1 : 0;
	case CC_OP_SAR: {
		/* Shifting in copies of the sign: past the width CF is the sign. */
		unsigned n = b - 1 < bits ? (unsigned)b - 1 : bits - 1;
		return (a >> n) & 1;
	}
	case CC_OP_MUL:
		return b != 0;
	case CC_OP_HOST:
		return d & EMU_CF;
	}
	return false;
}

static bool lazy_of(const struct emu_lazy_flags *lf)
{
	unsigned size = cc_size(lf->op);
	uint64_t a = lf->src1, b = lf->src2, d = lf->dst;

	switch (cc_kind(lf->op)) {
	case CC_OP_ADD:
	case CC_OP_ADC:
		return msb((a ^ d) & (b ^ d), size);
	case CC_OP_SUB:
	case CC_OP_SBB:
		return msb((a ^ b) & (a ^ d), size);
	case CC_OP_LOGIC:
		return false;
	case CC_OP_INC:
		/* Overflow only from the largest positive value to the smallest. */
		return d == (1ull << top_bit(size));
	case CC_OP_DEC:
		return d == (1ull << top_bit(size)) - 1;
	case CC_OP_SHL:
		return msb(d, size) ^ lazy_cf(lf);
	case CC_OP_SHR:
		return msb(d ^ (d << 1), size);
	case CC_OP_SAR:
		return false;
	case CC_OP_MUL:
		return b != 0;
	}
	return false;
}

static uint64_t lazy_af(const struct emu_lazy_flags *lf)
{
	switch (cc_kind(lf->op)) {
	case CC_OP_ADD:
	case CC_OP_ADC:
	case CC_OP_SUB:
	case CC_OP_SBB:
		return (lf->src1 ^ lf->src2 ^ lf->dst) & EMU_AF;
	case CC_OP_INC:
		/* src2 holds CF here; the second operand was 1. */
		return (lf->src1 ^ 1 ^ lf->dst) & EMU_AF;
	case CC_OP_DEC:
		return (lf->src1 ^ 1 ^ lf->dst) & EMU_AF;
	case CC_OP_SHL:
	case CC_OP_SHR:
	case CC_OP_SAR:
		return EMU_AF;
	}
	return 0;
}

uint64_t emu_get_arith_flags(struct emu_cpu *cpu)
{
	const struct emu_lazy_flags *lf = &cpu->flags;
	uint64_t f;

	if (cc_kind(lf->op) == CC_OP_EFLAGS)
		return cpu->rflags & EMU_ARITH_FLAGS;
	if (cc_kind(lf->op) == CC_OP_HOST)
		return lf->dst & EMU_ARITH_FLAGS;
	f = emu_szp_flags(lf->dst, cc_size(lf->op)) | lazy_af(lf);
	if (lazy_cf(lf))
		f |= EMU_CF;
	if (lazy_of(lf))
		f |= EMU_OF;
	return f;
}

/* Make the arithmetic flags explicit in cpu->rflags. */
static void flags_commit(struct emu_cpu *cpu)
{
	if (cc_kind(cpu->flags.op) == CC_OP_EFLAGS)
		return;
	cpu->rflags = (cpu->rflags & ~EMU_ARITH_FLAGS) | emu_get_arith_flags(cpu);
	cpu->flags.op = CC_OP_EFLAGS;
}

void emu_flags_set(struct emu_cpu *cpu, enum emu_cc_op op, unsigned size,
		   uint64_t dst, uint64_t src1, uint64_t src2)
{
	uint64_t m = mask_of(size);

	switch (op) {
	case CC_OP_EFLAGS:
		flags_commit(cpu);
		return;
	case CC_OP_INC:
	case CC_OP_DEC:
		/* Carry survives INC/DEC: keep the old one in the record. */
		src2 = emu_get_cf(cpu);
		break;
	case CC_OP_MUL:
		/* Only CF and OF change (see the top of the file), so this kind
		 * is resolved at once rather than recorded. */
		emu_set_arith_flags(cpu, EMU_CF | EMU_OF, src2 ? EMU_CF | EMU_OF : 0);
		return;
	default:
		break;
	}
	cpu->flags.op = cc_op_pack(op, size);
	cpu->flags.dst = dst & m;
	cpu->flags.src1 = src1 & m;
	cpu->flags.src2 = op == CC_OP_SHL || op == CC_OP_SHR || op == CC_OP_SAR ? src2 : src2 & m;
}

uint64_t emu_get_rflags(struct emu_cpu *cpu)
{
	return (cpu->rflags & ~EMU_ARITH_FLAGS) | emu_get_arith_flags(cpu) | 2;
}

void emu_set_rflags(struct emu_cpu *cpu, uint64_t rflags)
{
	cpu->rflags = rflags | 2;
	cpu->flags.op = CC_OP_EFLAGS;
}

void emu_set_arith_flags(struct emu_cpu *cpu, uint64_t mask, uint64_t value)
{
	flags_commit(cpu);
	mask &= EMU_ARITH_FLAGS;
	cpu->rflags = (cpu->rflags & ~mask) | (value & mask);
}

bool emu_get_cf(struct emu_cpu *cpu)
{
	if (cc_kind(cpu->flags.op) == CC_OP_EFLAGS)
		return cpu->rflags & EMU_CF;
	return lazy_cf(&cpu->flags);
}

static inline int64_t sext(uint64_t v, unsigned size)
{
	unsigned sh = 64 - 8 * size;

	return (int64_t)(v << sh) >> sh;
}

/* The condition before its negation (cc & 1 inverts). */
static bool cond_base(struct emu_cpu *cpu, unsigned cc)
{
	const struct emu_lazy_flags *lf = &cpu->flags;
	unsigned kind = cc_kind(lf->op), size = cc_size(lf->op);
	uint64_t f;

	/* Compares and logic ops are what nearly every Jcc follows: answer
	 * those from the operands directly. */
	if (kind == CC_OP_SUB) {
		switch (cc >> 1) {
		case 1: return lf->src1 < lf->src2;                          /* B */
		case 2: return lf->dst == 0;                                  /* E */
		case 3: return lf->src1 <= lf->src2;                         /* BE */
		case 4: return msb(lf->dst, size);                            /* S */
		case 6: return sext(lf->src1, size) < sext(lf->src2, size);   /* L */
		case 7: return sext(lf->src1, size) <= sext(lf->src2, size);  /* LE */
		}
	} else if (kind == CC_OP_LOGIC) {
		switch (cc >> 1) {
		case 0: return false;                                         /* O */
		case 1: return false;                                         /* B */
		case 2:                                                       /* E */
		case 3: return lf->dst == 0;                                  /* BE */
		case 4:                                                       /* S */
		case 6: return msb(lf->dst, size);                            /* L */
		case 7: return lf->dst == 0 || msb(lf->dst, size);            /* LE */
		}
	}

	f = emu_get_arith_flags(cpu);
	switch (cc >> 1) {
	case 0: return f & EMU_OF;
	case 1: return f & EMU_CF;
	case 2: return f & EMU_ZF;
	case 3: return f & (EMU_CF | EMU_ZF);
	case 4: return f & EMU_SF;
	case 5: return f & EMU_PF;
	case 6: return !(f & EMU_SF) != !(f & EMU_OF);
	default: return (f & EMU_ZF) || !(f & EMU_SF) != !(f & EMU_OF);
	}
}

bool emu_cond(struct emu_cpu *cpu, unsigned cc)
{
	return cond_base(cpu, cc & 15) ^ (cc & 1);
}
