/* Shifts and rotates: group 2 (C0/C1/D0-D3: ROL ROR RCL RCR SHL SHR SAL
 * SAR) and the double shifts SHLD/SHRD.
 *
 * Counts are masked to 5 bits (6 with a 64-bit operand); a masked count of
 * 0 changes no flag (the operand is still written back, which zero-extends
 * a 32-bit register as on hardware). RCL/RCR rotate through CF over 9 or
 * 17 bits for byte and word operands, so their count is taken mod 9/17.
 *
 * Flags the manuals leave undefined follow the AMD Zen host (see flags.c
 * for the shifts): ROL/ROR/RCL/RCR compute OF with the count-1 formula for
 * every count, RCL/RCR even when the count mod 9/17 is 0 (CF then stays).
 * SHLD/SHRD: AF = 1; OF as SHL/SHR compute it (see op_shxd); a 16-bit
 * count beyond 16 keeps shifting in the source, CF = 0. */
#include "exec.h"
#include "flags.h"
#include "operand.h"

static inline uint64_t bit_of(uint64_t v, unsigned n)
{
	return (v >> n) & 1;
}

/* Rotate within bits (8..64) by n (0 < n < bits). */
static inline uint64_t rotl(uint64_t v, unsigned n, unsigned bits)
{
	return ((v << n) | (v >> (bits - n))) & size_mask(bits / 8);
}

/* Group 2 operation op on a (size bytes) by a non-zero masked count, with
 * carry-in cf: the result. Rotations also give the CF/OF they set (they
 * touch no other flag); shifts record their flags lazily afterwards. */
static uint64_t shift_op(unsigned op, unsigned size, uint64_t a, unsigned count, bool cf_in,
			 uint64_t *flags)
{
	unsigned bits = 8 * size, top = bits - 1, n;
	uint64_t m = size_mask(size), r;
	bool cf;

	switch (op) {
	case 0:         /* ROL: CF = the bit rotated into bit 0 */
		n = count % bits;
		r = n ? rotl(a, n, bits) : a;
		cf = r & 1;
		*flags = (cf ? EMU_CF : 0) | ((bit_of(r, top) ^ cf) ? EMU_OF : 0);
		return r;
	case 1:         /* ROR: CF = the bit rotated into the top */
		n = count % bits;
		r = n ? rotl(a, bits - n, bits) : a;
		cf = bit_of(r, top);
		*flags = (cf ? EMU_CF : 0) | ((bit_of(r, top) ^ bit_of(r, top - 1)) ? EMU_OF : 0);
		return r;
	case 2:         /* RCL: rotate the (bits + 1)-bit value CF:a */
	case 3: {       /* RCR */
		unsigned __int128 v = (unsigned __int128)cf_in << bits | a, vm;

		vm = ((unsigned __int128)1 << (bits + 1)) - 1;
		n = count % (bits + 1);
		if (n) {
			if (op == 3)
				n = bits + 1 - n;
			v = ((v << n) | (v >> (bits + 1 - n))) & vm;
		}
		r = (uint64_t)v & m;
		cf = (v >> bits) & 1;
		if (op == 2)
			*flags = (cf ? EMU_CF : 0) | ((bit_of(r, top) ^ cf) ? EMU_OF : 0);
		else
			*flags = (cf ? EMU_CF : 0) | ((bit_of(r, top) ^ bit_of(r, top - 1)) ? EMU_OF : 0);
		return r;
	}
	case 5:         /* SHR */
		return a >> count;
	case 7:         /* SAR */
		return (uint64_t)((int64_t)exec_sext(a, size) >> count) & m;
	default:        /* SHL, and SAL (/6), the same operation */
		return count < bits ? (a << count) & m : 0;
	}
}

/* C0/C1 (imm8), D0/D1 (1), D2/D3 (CL). */
static void op_grp2(struct emu_cpu *cpu, const struct insn *insn)
{
	static const uint8_t kind[8] = { [4] = CC_OP_SHL, [5] = CC_OP_SHR, [6] = CC_OP_SHL,
					 [7] = CC_OP_SAR };
	unsigned size = (insn->op & 1) ? insn->opsize : 1, op = insn->reg & 7, count;
	uint64_t a, r, f = 0;
	struct exec_rmw m;
	bool cf;

	exec_no_lock(cpu, insn);
	if (insn->op <= 0xc1)
		count = insn->imm & 0xff;
	else if (insn->op <= 0xd1)
		count = 1;
	else
		count = cpu->gpr[1] & 0xff;
	count &= size == 8 ? 63 : 31;

	cf = emu_get_cf(cpu);
	a = exec_rmw_load_rm(cpu, insn, size, &m);
	r = count ? shift_op(op, size, a, count, cf, &f) : a;
	exec_rmw_store(cpu, &m, &a, r);
	if (count == 0)
		;                       /* no flag changes */
	else if (op < 4)
		emu_set_arith_flags(cpu, EMU_CF | EMU_OF, f);
	else
		emu_flags_set(cpu, kind[op], size, r, a, count);
	exec_advance(cpu, insn);
}

/* 0F A4/A5 SHLD r/m, reg, imm8/CL; 0F AC/AD SHRD. */
static void op_shxd(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = insn->opsize, bits = 8 * size, count;
	uint64_t a, b = exec_get_reg(cpu, insn, insn->reg, size), r, f;
	unsigned __int128 v;
	bool left = insn->op < 0xa8, cf, of;
	struct exec_rmw m;

	exec_no_lock(cpu, insn);
	count = (insn->op & 1) ? cpu->gpr[1] & 0xff : insn->imm & 0xff;
	count &= size == 8 ? 63 : 31;
	a = exec_rmw_load_rm(cpu, insn, size, &m);
	if (count == 0) {
		exec_rmw_store(cpu, &m, &a, a);
		exec_advance(cpu, insn);
		return;
	}
	/* The bits shifted in come from src. A 16-bit count beyond 16 (an
	 * undefined result) goes on shifting in src, as the AMD host does: the
	 * operands are concatenated dest:src (32/64-bit), dest:src:src (SHLD
	 * 16-bit) or src:src:dest (SHRD 16-bit), shifted, and the right part
	 * kept. CF is the last bit out of dest, 0 once dest is used up. */
	if (left) {
		unsigned width = size == 2 ? 48 : 2 * bits;

		if (size == 2)
			v = (unsigned __int128)a << 32 | (unsigned __int128)b << 16 | b;
		else
			v = (unsigned __int128)a << bits | b;
		r = (uint64_t)(v >> (width - bits - count)) & size_mask(size);
		cf = count <= bits && bit_of(a, bits - count);
		/* OF: CF ^ the top bit of what is left of dest (the sign change
		 * for a count of 1). */
		of = cf ^ bit_of(a << count, bits - 1);
	} else {
		if (size == 2)
			v = (unsigned __int128)b << 32 | (unsigned __int128)b << 16 | a;
		else
			v = (unsigned __int128)b << bits | a;
		r = (uint64_t)(v >> count) & size_mask(size);
		cf = count <= bits && bit_of(a, count - 1);
		/* OF: the top two bits of the result differ (the sign change
		 * for a count of 1). */
		of = bit_of(r, bits - 1) ^ bit_of(r, bits - 2);
	}
	exec_rmw_store(cpu, &m, &a, r);
	f = emu_szp_flags(r, size) | EMU_AF | (cf ? EMU_CF : 0) | (of ? EMU_OF : 0);
	emu_set_arith_flags(cpu, EMU_ARITH_FLAGS, f);
	exec_advance(cpu, insn);
}

void exec_register_shift(struct exec_table *t)
{
	exec_fn *p = t->fn[MAP_PRIMARY], *x = t->fn[MAP_0F];

	p[0xc0] = p[0xc1] = op_grp2;
	p[0xd0] = p[0xd1] = p[0xd2] = p[0xd3] = op_grp2;
	x[0xa4] = x[0xa5] = x[0xac] = x[0xad] = op_shxd;
}
