/* Differential tests of the SSE/SSE2 family (sse*.c) against the host
 * CPU: every opcode and mandatory prefix the core implements, register
 * and memory forms (misaligned ones included, whose #GP is compared), on
 * values biased to the floating-point edge cases (NaNs of both kinds,
 * infinities, denormals, zeros of both signs, the integer conversion
 * limits) under random rounding modes, DAZ and FTZ, and now and then
 * unmasked exceptions (whose #XM, with the MXCSR flags it leaves, is
 * compared too). The forms the core must refuse although the host runs
 * them (MMX, SSE3 and later) and the CR0/CR4 rules are checked against
 * the core alone. See diff_harness_fp.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "diff_harness_fp.h"

static int setup(void **state)
{
	(void)state;
	diff_fp_setup("sse");
	diff_mem_randomize();
	return 0;
}

/* What the lanes of a vector hold. */
enum lane { L_F32, L_F64, L_INT, L_I32 };

static uint64_t rand_q(enum lane k)
{
	switch (k) {
	case L_F32:
		return diff_rand_f32() | (uint64_t)diff_rand_f32() << 32;
	case L_F64:
		return diff_rand_f64();
	case L_I32:
		return diff_rand_value(4) | diff_rand_value(4) << 32;
	default:
		switch (diff_rand_below(4)) {
		case 0: return diff_rand_value(8);
		case 1: return diff_rand_value(2) | diff_rand_value(2) << 16 |
			       diff_rand_value(2) << 32 | diff_rand_value(2) << 48;
		case 2: return diff_rand_value(1) * 0x0101010101010101ull ^ diff_rand_value(8);
		default: return diff_rand();
		}
	}
}

static void rand_xmms(struct diff_fp_case *fc, enum lane k)
{
	for (unsigned i = 0; i < 16; i++)
		diff_fx_set_xmm(&fc->in, i, rand_q(k), rand_q(k));
}

/* A random MXCSR, unmasked exceptions one case in eight. */
static void rand_mxcsr(struct diff_fp_case *fc)
{
	diff_fx_set_mxcsr(&fc->in, diff_rand_mxcsr(diff_rand_below(8) == 0));
}

/* Make d the SSE instruction pfx 0F op: ModRM.reg a random XMM register,
 * r/m a random one or, with mem, size bytes of memory holding lanes of
 * kind k. With align the address is 16-byte aligned, but one case in
 * twelve it is not (the host's #GP is compared). */
static uint64_t sse_insn(struct diff_insn *d, struct diff_fp_case *fc, unsigned pfx, unsigned op,
			 bool mem, unsigned size, bool align, enum lane k)
{
	uint8_t buf[16];
	uint64_t addr;

	if (pfx)
		diff_prefix(d, (uint8_t)pfx);
	d->map = 1;
	d->op = (uint8_t)op;
	d->modrm = true;
	d->reg = (uint8_t)diff_rand_below(16);
	if (!mem) {
		d->rm = (uint8_t)diff_rand_below(16);
		return 0;
	}
	addr = diff_rand_addr(size, align && diff_rand_below(12) ? 16 : 1);
	for (unsigned i = 0; i < 16; i += 8) {
		uint64_t q = rand_q(k);

		memcpy(buf + i, &q, 8);
	}
	if (size == 4 && k == L_F32) {
		uint32_t f = diff_rand_f32();

		memcpy(buf, &f, 4);
	}
	diff_mem_set(addr, buf, size);
	diff_mem_operand(d, &fc->c.in, addr, 0);
	return addr;
}

static const unsigned pfx_byte[4] = { 0, 0x66, 0xf3, 0xf2 };

/* 0F 51-53 58-5F C2: the arithmetic, every prefix. */
static void sse_arith(void **state)
{
	static const uint8_t ops[] = { 0x51, 0x58, 0x59, 0x5c, 0x5d, 0x5e, 0x5f, 0xc2, 0x52, 0x53 };
	unsigned n = diff_ncases(12000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		unsigned op = ops[diff_rand_below(sizeof(ops))], p = (unsigned)diff_rand_below(4);
		bool dbl, mem = diff_rand_below(3) == 0;

		if (op == 0x52 || op == 0x53)
			p &= 2;                 /* none or F3 */
		dbl = p == 1 || p == 3;
		diff_fp_new_case(&d, &fc);
		rand_xmms(&fc, dbl ? L_F64 : L_F32);
		rand_mxcsr(&fc);
		sse_insn(&d, &fc, pfx_byte[p], op, mem, p == 2 ? 4 : p == 3 ? 8 : 16, true,
			 dbl ? L_F64 : L_F32);
		if (op == 0xc2) {
			d.imm = diff_rand_below(4) ? diff_rand_below(8) : diff_rand() & 0xff;
			d.imm_len = 1;
		}
		diff_fp_check("sse arith", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* 0F 2E/2F (U)COMISS, 66: (U)COMISD. */
static void sse_comis(void **state)
{
	unsigned n = diff_ncases(4000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		bool dbl = diff_rand_below(2);

		diff_fp_new_case(&d, &fc);
		rand_xmms(&fc, dbl ? L_F64 : L_F32);
		rand_mxcsr(&fc);
		sse_insn(&d, &fc, dbl ? 0x66 : 0, 0x2e + (unsigned)diff_rand_below(2),
			 diff_rand_below(3) == 0, dbl ? 8 : 4, false, dbl ? L_F64 : L_F32);
		diff_fp_check("comis", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* 0F 5A 5B E6: the packed and scalar float conversions. */
static void sse_cvt_packed(void **state)
{
	static const struct { uint8_t op, pfx, size; enum lane in; } forms[] = {
		{ 0x5a, 0, 8, L_F32 }, { 0x5a, 1, 16, L_F64 }, { 0x5a, 2, 4, L_F32 },
		{ 0x5a, 3, 8, L_F64 }, { 0x5b, 0, 16, L_I32 }, { 0x5b, 1, 16, L_F32 },
		{ 0x5b, 2, 16, L_F32 }, { 0xe6, 1, 16, L_F64 }, { 0xe6, 2, 8, L_I32 },
		{ 0xe6, 3, 16, L_F64 },
	};
	unsigned n = diff_ncases(8000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		unsigned f = (unsigned)diff_rand_below(sizeof(forms) / sizeof(forms[0]));

		diff_fp_new_case(&d, &fc);
		rand_xmms(&fc, forms[f].in);
		rand_mxcsr(&fc);
		sse_insn(&d, &fc, pfx_byte[forms[f].pfx], forms[f].op, diff_rand_below(3) == 0,
			 forms[f].size, true, forms[f].in);
		diff_fp_check("cvt packed/scalar", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* F3/F2 0F 2A CVTSI2SS/SD (r/m32, r/m64), F3/F2 0F 2C/2D CVT(T)SS2SI and
 * CVT(T)SD2SI (r32, r64). */
static void sse_cvt_int(void **state)
{
	unsigned n = diff_ncases(8000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		bool dbl = diff_rand_below(2), wide = diff_rand_below(2), mem = diff_rand_below(3) == 0;
		static const uint8_t cvt_ops[] = { 0x2a, 0x2c, 0x2d };
		unsigned op = cvt_ops[diff_rand_below(3)];

		diff_fp_new_case(&d, &fc);
		rand_xmms(&fc, dbl ? L_F64 : L_F32);
		rand_mxcsr(&fc);
		if (wide)
			d.rex = 0x48;
		if (op == 0x2a) {
			/* The integer source: a GPR or memory. */
			diff_prefix(&d, dbl ? 0xf2 : 0xf3);
			d.map = 1;
			d.op = 0x2a;
			diff_modrm_operands(&d, &fc.c.in, wide ? 8 : 4, -1, mem, 0);
			d.reg = (uint8_t)diff_rand_below(16);
		} else {
			sse_insn(&d, &fc, dbl ? 0xf2 : 0xf3, op, mem, dbl ? 8 : 4, false,
				 dbl ? L_F64 : L_F32);
		}
		diff_fp_check("cvt int", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* The packed integer binary operations (66 0F ...). */
static void sse_int_ops(void **state)
{
	static const uint8_t ops[] = {
		0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
		0x74, 0x75, 0x76, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd,
		0xde, 0xdf, 0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed,
		0xee, 0xef, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd,
		0xfe,
	};
	unsigned n = diff_ncases(12000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		unsigned op = ops[diff_rand_below(sizeof(ops))];
		bool shift = (op & 0x0f) >= 1 && (op & 0x0f) <= 3 && op >= 0xd1;
		uint64_t addr;

		diff_fp_new_case(&d, &fc);
		rand_xmms(&fc, L_INT);
		addr = sse_insn(&d, &fc, 0x66, op, diff_rand_below(3) == 0, 16, true, L_INT);
		if (shift && diff_rand_below(4)) {
			/* Shift counts around the lane widths (the count is the
			 * whole low quadword). */
			uint64_t count = diff_rand_below(70);

			if (addr && !(addr & 15))
				diff_mem_set_value(addr, count, 8);
			else if (!d.mem)
				diff_fx_set_xmm(&fc.in, d.rm, count, diff_rand());
		}
		diff_fp_check("int op", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* 66 0F 71/72/73 /digit ib: the immediate shifts; undefined digits and
 * memory operands are #UD on the host too. */
static void sse_shift_imm(void **state)
{
	unsigned n = diff_ncases(4000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;

		diff_fp_new_case(&d, &fc);
		rand_xmms(&fc, L_INT);
		sse_insn(&d, &fc, 0x66, 0x71 + (unsigned)diff_rand_below(3), diff_rand_below(12) == 0,
			 16, true, L_INT);
		d.reg = (uint8_t)(diff_rand_below(4) ? 2 + 2 * diff_rand_below(3) + (diff_rand_below(4) == 0) :
				  diff_rand_below(8));
		d.imm = diff_rand_below(4) ? diff_rand_below(70) : diff_rand() & 0xff;
		d.imm_len = 1;
		diff_fp_check("shift imm", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* Shuffles, unpacks, inserts, extracts and masks. */
static void sse_shuffle(void **state)
{
	unsigned n = diff_ncases(8000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		bool mem = diff_rand_below(3) == 0;
		unsigned form = (unsigned)diff_rand_below(9);

		diff_fp_new_case(&d, &fc);
		rand_xmms(&fc, L_INT);
		d.imm = diff_rand() & 0xff;
		d.imm_len = 1;
		switch (form) {
		case 0:         /* PSHUFD/HW/LW */
			sse_insn(&d, &fc, pfx_byte[1 + diff_rand_below(3)], 0x70, mem, 16, true, L_INT);
			break;
		case 1:         /* SHUFPS/PD */
			sse_insn(&d, &fc, diff_rand_below(2) ? 0x66 : 0, 0xc6, mem, 16, true, L_INT);
			break;
		case 2:         /* UNPCKL/HPS/PD */
			sse_insn(&d, &fc, diff_rand_below(2) ? 0x66 : 0, 0x14 + (unsigned)diff_rand_below(2),
				 mem, 16, true, L_INT);
			d.imm_len = 0;
			break;
		case 3:         /* PINSRW xmm, r32/m16 */
			diff_prefix(&d, 0x66);
			d.map = 1;
			d.op = 0xc4;
			if (diff_rand_below(4) == 0)
				d.rex = 0x48;
			diff_modrm_operands(&d, &fc.c.in, 2, -1, mem, 0);
			d.reg = (uint8_t)diff_rand_below(16);
			break;
		case 4:         /* PEXTRW r32, xmm */
		case 5:         /* PMOVMSKB r32, xmm */
		case 6:         /* MOVMSKPS/PD r32, xmm */
			sse_insn(&d, &fc, form == 6 && diff_rand_below(2) ? 0 : 0x66,
				 form == 4 ? 0xc5 : form == 5 ? 0xd7 : 0x50, diff_rand_below(16) == 0, 16,
				 false, L_INT);
			if (diff_rand_below(4) == 0)
				d.rex = 0x48;
			if (form != 4)
				d.imm_len = 0;
			break;
		default:        /* ANDPS ANDNPS ORPS XORPS (+PD) */
			sse_insn(&d, &fc, diff_rand_below(2) ? 0x66 : 0, 0x54 + (unsigned)diff_rand_below(4),
				 mem, 16, true, L_INT);
			d.imm_len = 0;
			break;
		}
		diff_fp_check("shuffle", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* Every move, load and store form. */
static void sse_moves(void **state)
{
	static const struct { uint8_t op, pfx, size, align; } forms[] = {
		{ 0x10, 0, 16, 0 }, { 0x10, 1, 16, 0 }, { 0x10, 2, 4, 0 }, { 0x10, 3, 8, 0 },
		{ 0x11, 0, 16, 0 }, { 0x11, 1, 16, 0 }, { 0x11, 2, 4, 0 }, { 0x11, 3, 8, 0 },
		{ 0x12, 0, 8, 0 }, { 0x12, 1, 8, 0 }, { 0x13, 0, 8, 0 }, { 0x13, 1, 8, 0 },
		{ 0x16, 0, 8, 0 }, { 0x16, 1, 8, 0 }, { 0x17, 0, 8, 0 }, { 0x17, 1, 8, 0 },
		{ 0x28, 0, 16, 1 }, { 0x28, 1, 16, 1 }, { 0x29, 0, 16, 1 }, { 0x29, 1, 16, 1 },
		{ 0x2b, 0, 16, 1 }, { 0x2b, 1, 16, 1 }, { 0xe7, 1, 16, 1 },
		{ 0x6f, 1, 16, 1 }, { 0x6f, 2, 16, 0 }, { 0x7f, 1, 16, 1 }, { 0x7f, 2, 16, 0 },
		{ 0x7e, 2, 8, 0 }, { 0xd6, 1, 8, 0 },
	};
	unsigned n = diff_ncases(8000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		unsigned f = (unsigned)diff_rand_below(sizeof(forms) / sizeof(forms[0]) + 3);
		bool mem = diff_rand_below(2);

		diff_fp_new_case(&d, &fc);
		rand_xmms(&fc, L_INT);
		if (f < sizeof(forms) / sizeof(forms[0])) {
			sse_insn(&d, &fc, pfx_byte[forms[f].pfx], forms[f].op, mem, forms[f].size,
				 forms[f].align, L_INT);
		} else if (f == sizeof(forms) / sizeof(forms[0])) {
			/* 66 0F 6E MOVD/MOVQ xmm, r/m32/64 */
			diff_prefix(&d, 0x66);
			d.map = 1;
			d.op = 0x6e;
			if (diff_rand_below(2))
				d.rex = 0x48;
			diff_modrm_operands(&d, &fc.c.in, d.rex ? 8 : 4, -1, mem, 0);
			d.reg = (uint8_t)diff_rand_below(16);
		} else if (f == sizeof(forms) / sizeof(forms[0]) + 1) {
			/* 66 0F 7E MOVD/MOVQ r/m32/64, xmm */
			diff_prefix(&d, 0x66);
			d.map = 1;
			d.op = 0x7e;
			if (diff_rand_below(2))
				d.rex = 0x48;
			diff_modrm_operands(&d, &fc.c.in, d.rex ? 8 : 4, -1, mem, 0);
			d.reg = (uint8_t)diff_rand_below(16);
		} else {
			/* 0F C3 MOVNTI m32/m64, r (a register operand is #UD) */
			d.map = 1;
			d.op = 0xc3;
			if (diff_rand_below(2))
				d.rex = 0x48;
			diff_modrm_operands(&d, &fc.c.in, d.rex ? 8 : 4, -1, diff_rand_below(8) != 0, 0);
		}
		diff_fp_check("move", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* 66 0F F7 MASKMOVDQU: DS:RDI (or EDI with 67, or an FS override). */
static void sse_maskmov(void **state)
{
	unsigned n = diff_ncases(2000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		uint64_t addr = diff_rand_addr(16, 1);

		diff_fp_new_case(&d, &fc);
		rand_xmms(&fc, L_INT);
		sse_insn(&d, &fc, 0x66, 0xf7, diff_rand_below(16) == 0, 16, false, L_INT);
		if (diff_rand_below(4) == 0) {
			diff_prefix(&d, 0x67);
			fc.c.in.gpr[R_DI] = addr | diff_rand() << 32;
		} else {
			fc.c.in.gpr[R_DI] = addr;
		}
		diff_fp_check("maskmovdqu", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* A random x87 state, so that FXSAVE/FXRSTOR have all of it to move. */
static void rand_x87(struct diff_fp_case *fc)
{
	unsigned top = (unsigned)diff_rand_below(8);
	uint16_t fcw = (uint16_t)(0x037f ^ (diff_rand() & 0x0f00));
	uint16_t fsw = (uint16_t)((diff_rand() & 0x473f & ~0x3fu) | top << 11 |
				  (diff_rand() & 0x3f & fcw));

	for (unsigned i = 0; i < 8; i++) {
		uint64_t m;
		uint16_t e;

		diff_rand_f80(&m, &e);
		diff_fx_set_st(&fc->in, i, m, e);
	}
	diff_fx_set_x87(&fc->in, fcw, fsw, (uint8_t)diff_rand());
}

/* A reserved MXCSR bit (#GP for LDMXCSR/FXRSTOR): not bit 17, which
 * the AMD host accepts (its misaligned-SSE mode). */
static uint32_t reserved_mxcsr_bit(void)
{
	unsigned b = 16 + (unsigned)diff_rand_below(16);

	return 1u << (b == 17 ? 16 : b);
}

/* LDMXCSR/STMXCSR, FXSAVE/FXRSTOR (and their REX.W forms); with a 66
 * prefix they are #UD. */
static void sse_state(void **state)
{
	unsigned n = diff_ncases(4000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;
		unsigned digit = (unsigned)diff_rand_below(4);
		uint64_t addr;

		diff_fp_new_case(&d, &fc);
		rand_xmms(&fc, L_INT);
		rand_mxcsr(&fc);
		rand_x87(&fc);
		d.map = 1;
		d.op = 0xae;
		d.modrm = true;
		d.reg = (uint8_t)digit;
		if (diff_rand_below(3) == 0)
			d.rex = 0x48;
		if (diff_rand_below(8) == 0)
			diff_prefix(&d, 0x66);
		if (digit < 2) {
			struct diff_fx img;

			addr = diff_rand_addr(512, diff_rand_below(10) ? 16 : 1);
			/* FXRSTOR's image: another random state, with now and
			 * then a reserved MXCSR bit (#GP). */
			img = fc.in;
			for (unsigned r = 0; r < 16; r++)
				diff_fx_set_xmm(&img, r, rand_q(L_INT), rand_q(L_INT));
			for (unsigned r = 0; r < 8; r++) {
				uint64_t m;
				uint16_t e;

				diff_rand_f80(&m, &e);
				diff_fx_set_st(&img, r, m, e);
			}
			diff_fx_set_mxcsr(&img, diff_rand_mxcsr(diff_rand_below(4) == 0) |
					  (diff_rand_below(10) ? 0 : reserved_mxcsr_bit()));
			diff_fx_set_x87(&img, (uint16_t)diff_rand(), (uint16_t)diff_rand(), (uint8_t)diff_rand());
			memset(img.b + 6, 0, 18);               /* see below */
			diff_mem_set(addr, img.b, 512);
			/* The pointers and opcode: the AMD host saves them only
			 * with an exception pending, so the state starts with
			 * them 0; MXCSR_MASK is the host's (AMD: misaligned
			 * SSE mode). */
			memset(fc.in.b + 6, 0, 18);
			fc.mem_ignore = addr + 28;
			fc.mem_ignore_len = 4;
		} else {
			addr = diff_rand_addr(4, diff_rand_below(2) ? 4 : 1);
			diff_mem_set_value(addr, diff_rand_mxcsr(diff_rand_below(4) == 0) |
					   (diff_rand_below(8) ? 0 : reserved_mxcsr_bit()), 4);
		}
		diff_mem_operand(&d, &fc.c.in, addr, 0);
		diff_fp_check("fxsave/fxrstor/ldmxcsr/stmxcsr", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* The fences (any r/m), CLFLUSH, PREFETCHh and the hint NOPs. */
static void sse_misc(void **state)
{
	unsigned n = diff_ncases(2000);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct diff_insn d;
		struct diff_fp_case fc;

		diff_fp_new_case(&d, &fc);
		d.map = 1;
		d.modrm = true;
		switch (diff_rand_below(3)) {
		case 0:
			d.op = 0xae;
			d.reg = (uint8_t)(5 + diff_rand_below(3));
			d.rm = (uint8_t)diff_rand_below(16);
			break;
		case 1:
			d.op = 0xae;
			d.reg = 7;
			diff_mem_operand(&d, &fc.c.in, diff_rand_addr(1, 1), 0);
			break;
		default:
			d.op = 0x18;
			d.reg = (uint8_t)diff_rand_below(4);
			diff_mem_operand(&d, &fc.c.in, diff_rand_addr(1, 1), 0);
			break;
		}
		diff_fp_check("fence/clflush/prefetch", &d, &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* Encodings the host's #UD agrees with: LOCK, register operands where
 * only memory goes and back, undefined prefixes. */
static void sse_ud_native(void **state)
{
	static const uint8_t codes[][6] = {
		{ 4, 0xf0, 0x0f, 0x58, 0xc1 },                  /* lock addps */
		{ 5, 0xf0, 0x66, 0x0f, 0xfe, 0xc1 },            /* lock paddd */
		{ 3, 0x0f, 0x13, 0xc1 },                        /* movlps reg, reg */
		{ 4, 0x66, 0x0f, 0x12, 0xc1 },                  /* movlpd reg */
		{ 4, 0x66, 0x0f, 0x16, 0xc1 },                  /* movhpd reg */
		{ 3, 0x0f, 0x17, 0xc1 },                        /* movhps reg, reg */
		{ 3, 0x0f, 0x2b, 0xc1 },                        /* movntps reg */
		{ 4, 0x66, 0x0f, 0xe7, 0xc1 },                  /* movntdq reg */
		{ 3, 0x0f, 0xc3, 0xc1 },                        /* movnti reg */
		{ 3, 0x0f, 0xae, 0xe0 },                        /* /4 register form */
		{ 4, 0x66, 0x0f, 0xae, 0xf8 },                  /* 66 sfence */
		{ 5, 0x66, 0x0f, 0x73, 0xe1, 0x03 },            /* psraq imm: /4 of 73 */
		{ 4, 0x66, 0x0f, 0xc5, 0x00 },                  /* pextrw eax, [rax], ib */
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct diff_fp_case fc;
		struct diff_insn d;

		diff_fp_new_case(&d, &fc);
		fc.c.len = codes[i][0];
		memcpy(fc.c.code, codes[i] + 1, fc.c.len);
		if (codes[i][3] == 0xc5)
			fc.c.code[fc.c.len++] = 0x01;          /* the ib */
		fc.c.in.gpr[R_AX] = DIFF_DATA_BASE;
		diff_fp_run("#UD", &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* What the host runs but the core must refuse: MMX (not advertised, not
 * implemented; EMMS alone runs, see test_diff_x87.c), SSE3 and later. */
static void sse_ud_core(void **state)
{
	static const uint8_t codes[][6] = {
		{ 3, 0x0f, 0x6f, 0xc1 },                        /* movq mm, mm */
		{ 3, 0x0f, 0xef, 0xc1 },                        /* pxor mm */
		{ 3, 0x0f, 0x7e, 0xc0 },                        /* movd eax, mm */
		{ 4, 0x0f, 0x70, 0xc1, 0x1b },                  /* pshufw */
		{ 3, 0x0f, 0x2a, 0xc1 },                        /* cvtpi2ps */
		{ 3, 0x0f, 0xd7, 0xc1 },                        /* pmovmskb r, mm */
		{ 4, 0xf2, 0x0f, 0x7c, 0xc1 },                  /* haddps */
		{ 4, 0x66, 0x0f, 0xd0, 0xc1 },                  /* addsubpd */
		{ 4, 0xf3, 0x0f, 0x16, 0xc1 },                  /* movshdup */
		{ 4, 0xf2, 0x0f, 0x12, 0xc1 },                  /* movddup */
		{ 4, 0xf2, 0x0f, 0xf0, 0x00 },                  /* lddqu */
		{ 5, 0x66, 0x0f, 0x38, 0x00, 0xc1 },            /* pshufb */
		{ 3, 0x0f, 0xae, 0x20 },                        /* xsave */
		{ 4, 0x66, 0x0f, 0xae, 0x38 },                  /* clflushopt */
		{ 4, 0xf3, 0x0f, 0xae, 0xc0 },                  /* rdfsbase */
		{ 4, 0x66, 0x0f, 0x78, 0xc0 },                  /* extrq (decoder) */
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct diff_fp_case fc;
		struct diff_insn d;

		diff_fp_new_case(&d, &fc);
		fc.c.len = codes[i][0];
		memcpy(fc.c.code, codes[i] + 1, fc.c.len);
		fc.c.in.gpr[R_AX] = DIFF_DATA_BASE;
		fc.c.vector = EMU_VEC_UD;
		diff_fp_run("#UD in the core", &fc);
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

/* CR0.EM, CR0.TS, CR4.OSFXSR, CR4.OSXMMEXCPT. */
static void sse_control_regs(void **state)
{
	static const uint8_t addps[] = { 0x0f, 0x58, 0xc1 };
	static const uint8_t fxsave[] = { 0x0f, 0xae, 0x00 };              /* [rax] */
	static const uint8_t ldmxcsr[] = { 0x0f, 0xae, 0x10 };
	static const uint8_t movnti[] = { 0x0f, 0xc3, 0x08 };              /* [rax], ecx */
	static const uint8_t mfence[] = { 0x0f, 0xae, 0xf0 };
	static const struct {
		const uint8_t *code;
		unsigned len;
		uint64_t cr0_set, cr4_clear;
		int vector;
	} cases[] = {
		{ addps, 3, EMU_CR0_TS, 0, EMU_VEC_NM },
		{ addps, 3, EMU_CR0_EM, 0, EMU_VEC_UD },
		{ addps, 3, EMU_CR0_EM | EMU_CR0_TS, 0, EMU_VEC_UD },
		{ addps, 3, 0, EMU_CR4_OSFXSR, EMU_VEC_UD },
		{ ldmxcsr, 3, EMU_CR0_TS, 0, EMU_VEC_NM },
		{ ldmxcsr, 3, 0, EMU_CR4_OSFXSR, EMU_VEC_UD },
		{ fxsave, 3, EMU_CR0_TS, 0, EMU_VEC_NM },
		{ fxsave, 3, EMU_CR0_EM, 0, EMU_VEC_NM },
		/* Not SSE state: these run whatever the bits say (compared
		 * with the host, which has them clear). */
		{ movnti, 3, EMU_CR0_TS | EMU_CR0_EM, EMU_CR4_OSFXSR, -1 },
		{ mfence, 3, EMU_CR0_TS | EMU_CR0_EM, EMU_CR4_OSFXSR, -1 },
		{ fxsave, 3, 0, EMU_CR4_OSFXSR, -1 },
	};
	struct emu_cpu *cpu = diff_cpu();
	uint64_t cr0 = cpu->cr0, cr4 = cpu->cr4;

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diff_fp_case fc;
		struct diff_insn d;

		diff_fp_new_case(&d, &fc);
		memcpy(fc.c.code, cases[i].code, cases[i].len);
		fc.c.len = cases[i].len;
		fc.c.in.gpr[R_AX] = DIFF_DATA_BASE + 0x100;
		fc.c.vector = cases[i].vector;
		fc.mem_ignore = DIFF_DATA_BASE + 0x100 + 28;
		fc.mem_ignore_len = 4;
		cpu->cr0 = cr0 | cases[i].cr0_set;
		cpu->cr4 = cr4 & ~cases[i].cr4_clear;
		diff_fp_run("cr0/cr4", &fc);
	}
	cpu->cr0 = cr0;
	cpu->cr4 = cr4;

	/* An unmasked exception without CR4.OSXMMEXCPT is #UD, the flag
	 * still set. */
	{
		struct diff_fp_case fc;
		struct diff_insn d;
		struct diff_regs out;
		const uint8_t divss[] = { 0xf3, 0x0f, 0x5e, 0xc1 };     /* divss xmm0, xmm1 */
		uint32_t one = 0x3f800000;

		diff_fp_new_case(&d, &fc);
		memcpy(fc.c.code, divss, sizeof(divss));
		fc.c.len = sizeof(divss);
		memcpy(&cpu->fpu.xmm[0], &one, 4);
		memset(&cpu->fpu.xmm[1], 0, 16);
		cpu->fpu.mxcsr = 0x1f80 & ~0x200u;              /* ZE unmasked */
		cpu->cr4 = cr4 & ~EMU_CR4_OSXMMEXCPT;
		assert_int_equal(diff_emu_only(&fc.c, &out), EMU_VEC_UD);
		assert_int_equal(cpu->fpu.mxcsr & 0x3f, 0x4);
		assert_int_equal(cpu->fpu.xmm[0].d[0], one);
		cpu->fpu.mxcsr = 0x1f80 & ~0x200u;
		cpu->cr4 = cr4;
		assert_int_equal(diff_emu_only(&fc.c, &out), EMU_VEC_XM);
		cpu->fpu.mxcsr = 0x1f80;
	}
	assert_int_equal(diff_fp_group_failures(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sse_arith),
		cmocka_unit_test(sse_comis),
		cmocka_unit_test(sse_cvt_packed),
		cmocka_unit_test(sse_cvt_int),
		cmocka_unit_test(sse_int_ops),
		cmocka_unit_test(sse_shift_imm),
		cmocka_unit_test(sse_shuffle),
		cmocka_unit_test(sse_moves),
		cmocka_unit_test(sse_maskmov),
		cmocka_unit_test(sse_state),
		cmocka_unit_test(sse_misc),
		cmocka_unit_test(sse_ud_native),
		cmocka_unit_test(sse_ud_core),
		cmocka_unit_test(sse_control_regs),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
