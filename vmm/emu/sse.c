/* SSE and SSE2: the dispatch table, the availability and alignment rules,
 * MXCSR, and group 15 (0F AE: FXSAVE/FXRSTOR, LDMXCSR/STMXCSR, the fences,
 * CLFLUSH) with MOVNTI. The instructions themselves live in sse_move.c,
 * sse_int.c, sse_float.c and sse_convert.c; see sse.h.
 *
 * Sources: Intel SDM vol. 1 ch. 10-11 (SSE/SSE2 state, exceptions), vol. 2
 * (each instruction), vol. 3 ch. 13 (CR0/CR4 bits); AMD APM vol. 4. */
#include <string.h>

#include "mem.h"
#include "operand.h"
#include "sse.h"
#include "x87.h"

/* ---- availability --------------------------------------------------------- */

/* SDM vol. 3 ch. 13 (system support for SSE): SSE instructions are #UD
 * with CR0.EM set or CR4.OSFXSR clear (the OS has not said it saves the
 * state), #NM with CR0.TS set (lazy FPU switching). */
static void sse_available(struct emu_cpu *cpu)
{
	if ((cpu->cr0 & EMU_CR0_EM) || !(cpu->cr4 & EMU_CR4_OSFXSR))
		emu_raise_ud(cpu);
	if (cpu->cr0 & EMU_CR0_TS)
		emu_raise(cpu, EMU_VEC_NM, false, 0);
}

/* ---- operands --------------------------------------------------------------- */

/* The linear address of seg:ea without the access checks (those come with
 * the access itself): what the alignment rules look at. */
static uint64_t sse_linear(const struct emu_cpu *cpu, unsigned seg, uint64_t ea)
{
	if (cpu->mode == EMU_MODE_LONG64)
		return (seg == SEG_FS || seg == SEG_GS) ? ea + cpu->seg[seg].base : ea;
	return (cpu->seg[seg].base + ea) & 0xffffffffull;
}

void sse_check_align(struct emu_cpu *cpu, unsigned seg, uint64_t ea)
{
	/* #GP(0) whatever the segment (even SS): SDM vol. 2 "SIMD
	 * Floating-Point Exceptions ... not aligned on a 16-byte boundary". */
	if (sse_linear(cpu, seg, ea) & 15)
		emu_raise_gp(cpu, 0);
}

void sse_load_rm(struct emu_cpu *cpu, const struct insn *insn, unsigned size,
		 enum sse_align align, union sse_vec *v)
{
	unsigned seg;
	uint64_t ea;

	if (insn->mod == 3) {
		sse_get(cpu, insn->rm, v);
		return;
	}
	seg = exec_ea_seg(insn);
	ea = exec_ea(cpu, insn);
	v->q[0] = v->q[1] = 0;
	if (size == 16) {
		if (align == SSE_ALIGNED)
			sse_check_align(cpu, seg, ea);
		emu_read_bytes(cpu, seg, ea, v->b, 16);
	} else {
		v->q[0] = emu_read(cpu, seg, ea, size);
	}
}

void sse_store_mem(struct emu_cpu *cpu, const struct insn *insn, unsigned size,
		   enum sse_align align, const union sse_vec *v)
{
	unsigned seg = exec_ea_seg(insn);
	uint64_t ea = exec_ea(cpu, insn);

	if (size == 16) {
		if (align == SSE_ALIGNED)
			sse_check_align(cpu, seg, ea);
		emu_write_bytes(cpu, seg, ea, v->b, 16);
	} else {
		emu_write(cpu, seg, ea, size, v->q[0] & size_mask(size));
	}
}

/* ---- exceptions ------------------------------------------------------------ */

void sse_fp_flags(struct emu_cpu *cpu, uint32_t flags)
{
	uint32_t unmasked = flags & ~(cpu->fpu.mxcsr >> 7) & MXCSR_FLAGS;

	if (unmasked) {
		/* SDM vol. 1 11.5.2: with an unmasked pre-computation exception
		 * (invalid, denormal, divide-by-zero) in any element, the
		 * post-computation conditions are not looked at; the flags of
		 * every element's pre-computation exceptions are set. The
		 * destination is not written in either case. */
		if (unmasked & (MXCSR_IE | MXCSR_DE | MXCSR_ZE))
			flags &= MXCSR_IE | MXCSR_DE | MXCSR_ZE;
		cpu->fpu.mxcsr |= flags;
		if (cpu->cr4 & EMU_CR4_OSXMMEXCPT)
			emu_raise(cpu, EMU_VEC_XM, false, 0);
		emu_raise_ud(cpu);
	}
	cpu->fpu.mxcsr |= flags;
}

/* fn, and with underflow unmasked a second run with FTZ set, which flags
 * every tiny result (the masked run flags only the inexact ones). */
static uint32_t run_tiny(struct emu_cpu *cpu, const struct sse_fp_op *op, union sse_vec *d,
			 const union sse_vec *s, uint32_t csr)
{
	union sse_vec t = *d;
	uint32_t flags = op->fn(op->key, op->imm, d, s, csr);

	if (!(cpu->fpu.mxcsr & MXCSR_UM) && !(flags & MXCSR_UE))
		flags |= op->fn(op->key, op->imm, &t, s, csr | MXCSR_FTZ) & MXCSR_UE;
	return flags;
}

/* Whether a op b (width-byte floats; CVT: b, a double, to single) rounds
 * inexactly under the guest's rounding mode to the precision of the
 * result with an unbounded exponent: the x87 unit with its precision
 * control set computes exactly that (its exponent cannot overflow or
 * underflow from these operands). DAZ first turns denormal operands into
 * zeros, as the SSE operation saw them. */
static __attribute__((noinline)) bool inexact_unbounded(enum sse_xop xop, unsigned width,
							uint64_t a, uint64_t b, uint32_t mxcsr)
{
	uint16_t cw = (uint16_t)(0x3f | ((xop == SSE_XOP_CVT || width == 4) ? 0 : 2) << 8 |
				 ((mxcsr >> 13) & 3) << 10), saved, sw = 0;
	uint32_t a4 = (uint32_t)a, b4 = (uint32_t)b;

	if (mxcsr & MXCSR_DAZ) {
		if (width == 4) {
			if (!(a4 & 0x7f800000u))
				a4 &= 0x80000000u;
			if (!(b4 & 0x7f800000u))
				b4 &= 0x80000000u;
		} else {
			if (!(a & 0x7ff0000000000000ull))
				a &= 1ull << 63;
			if (!(b & 0x7ff0000000000000ull))
				b &= 1ull << 63;
		}
	}
#define X87(load, text)                                                                 \
	__asm__ volatile("fnstcw %[saved]\n\tfnclex\n\tfldcw %[cw]\n\t" load text "\n\t"  \
			 "fnstsw %[sw]\n\tfstp %%st(0)\n\tfstp %%st(0)\n\tfnclex\n\t"         \
			 "fldcw %[saved]"                                                     \
			 : [saved] "=m"(saved), [sw] "=m"(sw)                                  \
			 : [cw] "m"(cw), [a4] "m"(a4), [b4] "m"(b4), [a] "m"(a), [b] "m"(b))
#define L4 "flds %[b4]\n\tflds %[a4]\n\t"
#define L8 "fldl %[b]\n\tfldl %[a]\n\t"
	switch (xop * 2 + (width == 8)) {
	case SSE_XOP_ADD * 2: X87(L4, "fadd %%st(1), %%st"); break;
	case SSE_XOP_ADD * 2 + 1: X87(L8, "fadd %%st(1), %%st"); break;
	case SSE_XOP_SUB * 2: X87(L4, "fsub %%st(1), %%st"); break;
	case SSE_XOP_SUB * 2 + 1: X87(L8, "fsub %%st(1), %%st"); break;
	case SSE_XOP_MUL * 2: X87(L4, "fmul %%st(1), %%st"); break;
	case SSE_XOP_MUL * 2 + 1: X87(L8, "fmul %%st(1), %%st"); break;
	case SSE_XOP_DIV * 2: X87(L4, "fdiv %%st(1), %%st"); break;
	case SSE_XOP_DIV * 2 + 1: X87(L8, "fdiv %%st(1), %%st"); break;
	case SSE_XOP_CVT * 2 + 1: X87("fld1\n\tfldl %[b]\n\t", "fmul %%st(1), %%st"); break;
	default: break;
	}
#undef X87
#undef L4
#undef L8
	return sw & 0x20;
}

/* The flags of one element's run, given the unmasked exceptions. */
static uint32_t element_flags(struct emu_cpu *cpu, const struct sse_fp_op *op, uint32_t flags,
			      uint32_t unmasked, uint64_t a, uint64_t b)
{
	if (!(flags & unmasked & (MXCSR_OE | MXCSR_UE)))
		return flags;
	flags &= ~MXCSR_PE;
	if (op->xop != SSE_XOP_NONE && inexact_unbounded(op->xop, op->width, a, b, cpu->fpu.mxcsr))
		flags |= MXCSR_PE;
	return flags;
}

static uint64_t lane_of(const union sse_vec *v, unsigned width, unsigned i)
{
	return width == 4 ? v->d[i] : v->q[i];
}

uint32_t sse_fp_run(struct emu_cpu *cpu, const struct sse_fp_op *op, union sse_vec *d,
		    const union sse_vec *s)
{
	uint32_t csr = sse_host_csr(cpu), unmasked = ~(cpu->fpu.mxcsr >> 7) & MXCSR_FLAGS;
	uint32_t flags, total = 0;
	union sse_vec d0 = *d;

	flags = run_tiny(cpu, op, d, s, csr);
	if (!(flags & unmasked & (MXCSR_OE | MXCSR_UE)) ||
	    (flags & unmasked & (MXCSR_IE | MXCSR_DE | MXCSR_ZE)))
		return flags;
	if (op->lanes == 1)
		return element_flags(cpu, op, flags, unmasked, lane_of(&d0, op->width, 0),
				     lane_of(s, op->width, 0));
	/* Element by element, the others 1.0 (which raises nothing in any
	 * operation that can overflow or underflow). */
	for (unsigned i = 0; i < op->lanes; i++) {
		union sse_vec dl, sl;
		uint32_t f;

		for (unsigned k = 0; k < op->lanes; k++) {
			if (op->width == 4) {
				dl.d[k] = k == i ? d0.d[k] : 0x3f800000u;
				sl.d[k] = k == i ? s->d[k] : 0x3f800000u;
			} else {
				dl.q[k] = k == i ? d0.q[k] : 0x3ff0000000000000ull;
				sl.q[k] = k == i ? s->q[k] : 0x3ff0000000000000ull;
			}
		}
		f = run_tiny(cpu, op, &dl, &sl, csr);
		total |= element_flags(cpu, op, f, unmasked, lane_of(&d0, op->width, i),
				       lane_of(s, op->width, i));
	}
	return total;
}

/* ---- the table ------------------------------------------------------------ */

/* [opcode][sse_prefix: none, 66, F3, F2]; NULL is #UD. The no-prefix forms
 * of the integer opcodes (60-7F, D0-FF, C4 C5, 70) are MMX, which the core
 * does not implement (and CPUID does not advertise). */
#define ALL4(f) { f, f, f, f }
#define PSPD(f) { f, f, NULL, NULL }
#define P66(f)  { NULL, f, NULL, NULL }

static const exec_fn sse_ops[256][4] = {
	[0x10] = ALL4(sse_op_mov_10_11),
	[0x11] = ALL4(sse_op_mov_10_11),
	[0x12] = PSPD(sse_op_movlp),
	[0x13] = PSPD(sse_op_movlp),
	[0x14] = PSPD(sse_op_unpck),
	[0x15] = PSPD(sse_op_unpck),
	[0x16] = PSPD(sse_op_movhp),
	[0x17] = PSPD(sse_op_movhp),
	[0x28] = PSPD(sse_op_movap),
	[0x29] = PSPD(sse_op_movap),
	[0x2a] = { NULL, NULL, sse_op_cvtsi2s, sse_op_cvtsi2s },
	[0x2b] = PSPD(sse_op_movnt),
	[0x2c] = { NULL, NULL, sse_op_cvts2si, sse_op_cvts2si },
	[0x2d] = { NULL, NULL, sse_op_cvts2si, sse_op_cvts2si },
	[0x2e] = PSPD(sse_op_comis),
	[0x2f] = PSPD(sse_op_comis),
	[0x50] = PSPD(sse_op_movmskp),
	[0x51] = ALL4(sse_op_fp),
	[0x52] = { sse_op_fp, NULL, sse_op_fp, NULL },
	[0x53] = { sse_op_fp, NULL, sse_op_fp, NULL },
	[0x54] = PSPD(sse_op_logic),
	[0x55] = PSPD(sse_op_logic),
	[0x56] = PSPD(sse_op_logic),
	[0x57] = PSPD(sse_op_logic),
	[0x58] = ALL4(sse_op_fp),
	[0x59] = ALL4(sse_op_fp),
	[0x5a] = ALL4(sse_op_cvt),
	[0x5b] = { sse_op_cvt, sse_op_cvt, sse_op_cvt, NULL },
	[0x5c] = ALL4(sse_op_fp),
	[0x5d] = ALL4(sse_op_fp),
	[0x5e] = ALL4(sse_op_fp),
	[0x5f] = ALL4(sse_op_fp),
	[0x60] = P66(sse_op_int), [0x61] = P66(sse_op_int), [0x62] = P66(sse_op_int),
	[0x63] = P66(sse_op_int), [0x64] = P66(sse_op_int), [0x65] = P66(sse_op_int),
	[0x66] = P66(sse_op_int), [0x67] = P66(sse_op_int), [0x68] = P66(sse_op_int),
	[0x69] = P66(sse_op_int), [0x6a] = P66(sse_op_int), [0x6b] = P66(sse_op_int),
	[0x6c] = P66(sse_op_int), [0x6d] = P66(sse_op_int),
	[0x6e] = P66(sse_op_movd_to),
	[0x6f] = { NULL, sse_op_movdq, sse_op_movdq, NULL },
	[0x70] = { NULL, sse_op_pshuf, sse_op_pshuf, sse_op_pshuf },
	[0x71] = P66(sse_op_shift_imm),
	[0x72] = P66(sse_op_shift_imm),
	[0x73] = P66(sse_op_shift_imm),
	[0x74] = P66(sse_op_int), [0x75] = P66(sse_op_int), [0x76] = P66(sse_op_int),
	[0x7e] = { NULL, sse_op_7e, sse_op_7e, NULL },
	[0x7f] = { NULL, sse_op_movdq, sse_op_movdq, NULL },
	[0xc2] = ALL4(sse_op_fp),
	[0xc4] = P66(sse_op_pinsrw),
	[0xc5] = P66(sse_op_pextrw),
	[0xc6] = PSPD(sse_op_shufp),
	[0xd1] = P66(sse_op_int), [0xd2] = P66(sse_op_int), [0xd3] = P66(sse_op_int),
	[0xd4] = P66(sse_op_int), [0xd5] = P66(sse_op_int),
	[0xd6] = P66(sse_op_movq_d6),
	[0xd7] = P66(sse_op_pmovmskb),
	[0xd8] = P66(sse_op_int), [0xd9] = P66(sse_op_int), [0xda] = P66(sse_op_int),
	[0xdb] = P66(sse_op_int), [0xdc] = P66(sse_op_int), [0xdd] = P66(sse_op_int),
	[0xde] = P66(sse_op_int), [0xdf] = P66(sse_op_int),
	[0xe0] = P66(sse_op_int), [0xe1] = P66(sse_op_int), [0xe2] = P66(sse_op_int),
	[0xe3] = P66(sse_op_int), [0xe4] = P66(sse_op_int), [0xe5] = P66(sse_op_int),
	[0xe6] = { NULL, sse_op_cvt, sse_op_cvt, sse_op_cvt },
	[0xe7] = P66(sse_op_movnt),
	[0xe8] = P66(sse_op_int), [0xe9] = P66(sse_op_int), [0xea] = P66(sse_op_int),
	[0xeb] = P66(sse_op_int), [0xec] = P66(sse_op_int), [0xed] = P66(sse_op_int),
	[0xee] = P66(sse_op_int), [0xef] = P66(sse_op_int),
	[0xf1] = P66(sse_op_int), [0xf2] = P66(sse_op_int), [0xf3] = P66(sse_op_int),
	[0xf4] = P66(sse_op_int), [0xf5] = P66(sse_op_int), [0xf6] = P66(sse_op_int),
	[0xf7] = P66(sse_op_maskmov),
	[0xf8] = P66(sse_op_int), [0xf9] = P66(sse_op_int), [0xfa] = P66(sse_op_int),
	[0xfb] = P66(sse_op_int), [0xfc] = P66(sse_op_int), [0xfd] = P66(sse_op_int),
	[0xfe] = P66(sse_op_int),
};

static void sse_dispatch(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_fn fn = sse_ops[insn->op][insn->sse_prefix];
	static const char *const prefix[] = { "", "66 ", "f3 ", "f2 " };

	if (!fn) {
		emu_report_unimplemented(cpu, EMU_UNIMPL_OPCODE(insn->map, insn->op),
					 "%s0f %02x (MMX, or SSE3 and later)",
					 prefix[insn->sse_prefix], insn->op);
		emu_raise_ud(cpu);
	}
	exec_no_lock(cpu, insn);
	sse_available(cpu);
	fn(cpu, insn);
}

/* ---- group 15 --------------------------------------------------------------- */

static inline void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* SDM vol. 2 FXSAVE table 3-53 (legacy/compatibility layout) and 3-56
 * (64-bit layout with REX.W). The FPU CS and DS selectors are not kept
 * (they read as 0, as on processors that deprecate them); the x87
 * registers are stored in stack order (ST0 first), while the tag byte
 * keeps one bit per physical register. */
void emu_fxsave_image(const struct emu_cpu *cpu, uint8_t *img, bool rex_w, unsigned xmm_count)
{
	const struct emu_fpu *f = &cpu->fpu;
	unsigned top = x87_top_of(f->fsw);

	put16(img + 0, f->fcw);
	put16(img + 2, f->fsw);
	img[4] = f->ftw;
	img[5] = 0;
	put16(img + 6, f->fop & 0x7ff);
	if (rex_w) {
		put64(img + 8, f->fip);
		put64(img + 16, f->fdp);
	} else {
		put32(img + 8, (uint32_t)f->fip);
		put32(img + 12, 0);                     /* FCS, reserved */
		put32(img + 16, (uint32_t)f->fdp);
		put32(img + 20, 0);                     /* FDS, reserved */
	}
	put32(img + 24, f->mxcsr);
	put32(img + 28, EMU_MXCSR_MASK);
	for (unsigned i = 0; i < 8; i++) {
		uint8_t *p = img + 32 + 16 * i;
		unsigned r = (top + i) & 7;

		put64(p, f->st[r].mant);
		put16(p + 8, f->st[r].exp);
		memset(p + 10, 0, 6);
	}
	for (unsigned i = 0; i < xmm_count; i++)
		memcpy(img + 160 + 16 * i, f->xmm[i].b, 16);
}

bool emu_fxrstor_image(struct emu_cpu *cpu, const uint8_t *img, bool rex_w, unsigned xmm_count)
{
	struct emu_fpu *f = &cpu->fpu;
	uint32_t mxcsr = get32(img + 24);
	unsigned top;

	if (mxcsr & ~EMU_MXCSR_MASK)
		return false;
	f->fcw = x87_cw_value(get16(img + 0));
	f->fsw = get16(img + 2);
	f->ftw = img[4];
	f->fop = get16(img + 6) & 0x7ff;
	if (rex_w) {
		f->fip = get64(img + 8);
		f->fdp = get64(img + 16);
	} else {
		f->fip = get32(img + 8);
		f->fdp = get32(img + 16);
	}
	x87_update_es(f);
	f->mxcsr = mxcsr;
	top = x87_top_of(f->fsw);
	for (unsigned i = 0; i < 8; i++) {
		const uint8_t *p = img + 32 + 16 * i;
		unsigned r = (top + i) & 7;

		f->st[r].mant = get64(p);
		f->st[r].exp = get16(p + 8);
	}
	for (unsigned i = 0; i < xmm_count; i++)
		memcpy(f->xmm[i].b, img + 160 + 16 * i, 16);
	return true;
}

/* The REX.W form saves 64-bit FIP/FDP (FXSAVE64/FXRSTOR64). */
static bool fx_rex_w(const struct emu_cpu *cpu, const struct insn *insn)
{
	return cpu->mode == EMU_MODE_LONG64 && (insn->rex & 8);
}

static unsigned fx_xmm_count(const struct emu_cpu *cpu)
{
	return cpu->mode == EMU_MODE_LONG64 ? 16 : 8;
}

/* FXSAVE/FXRSTOR: #NM with CR0.TS or CR0.EM (they are x87 instructions
 * as much as SSE ones), #GP(0) when the 512-byte area is not 16-byte
 * aligned. Unlike FSAVE, FXSAVE leaves the state as it is. */
static void op_fxsave(struct emu_cpu *cpu, const struct insn *insn, bool restore)
{
	unsigned seg = exec_ea_seg(insn);
	uint64_t ea = exec_ea(cpu, insn);
	uint8_t img[EMU_FXSAVE_SIZE];
	bool w = fx_rex_w(cpu, insn);

	if (cpu->cr0 & (EMU_CR0_TS | EMU_CR0_EM))
		emu_raise(cpu, EMU_VEC_NM, false, 0);
	sse_check_align(cpu, seg, ea);
	if (restore) {
		emu_read_bytes(cpu, seg, ea, img, sizeof(img));
		if (!emu_fxrstor_image(cpu, img, w, fx_xmm_count(cpu)))
			emu_raise_gp(cpu, 0);
	} else {
		/* Only the bytes FXSAVE defines are written: the reserved and
		 * software-available tail keeps its contents. */
		unsigned len = 160 + 16 * fx_xmm_count(cpu);

		emu_fxsave_image(cpu, img, w, fx_xmm_count(cpu));
		emu_write_bytes(cpu, seg, ea, img, len);
	}
	exec_advance(cpu, insn);
}

/* LDMXCSR/STMXCSR: the SSE availability rules; LDMXCSR #GP(0) on a
 * reserved bit. Loading flags that are unmasked raises nothing until an
 * instruction sets a flag again. */
static void op_mxcsr(struct emu_cpu *cpu, const struct insn *insn, bool load)
{
	unsigned seg = exec_ea_seg(insn);
	uint64_t ea = exec_ea(cpu, insn);

	sse_available(cpu);
	if (load) {
		uint32_t v = (uint32_t)emu_read(cpu, seg, ea, 4);

		if (v & ~EMU_MXCSR_MASK)
			emu_raise_gp(cpu, 0);
		cpu->fpu.mxcsr = v;
	} else {
		emu_write(cpu, seg, ea, 4, cpu->fpu.mxcsr);
	}
	exec_advance(cpu, insn);
}

/* CLFLUSH: guest RAM is host memory, coherent with everything that reads
 * it (devices included), so there is nothing to write back; the address
 * is still checked as a byte read would be (segment, canonical form,
 * paging), as the instruction faults like one. The fence keeps it ordered
 * with the guest's earlier stores, as CLFLUSH is with writes. */
static void op_clflush(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned seg = exec_ea_seg(insn);
	uint64_t la = emu_linear(cpu, seg, exec_ea(cpu, insn), 1, EMU_READ);

	emu_translate(cpu, la, EMU_READ, false);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	exec_advance(cpu, insn);
}

/* 0F AE. Memory forms: /0 FXSAVE, /1 FXRSTOR, /2 LDMXCSR, /3 STMXCSR,
 * /7 CLFLUSH (/4-/6 are XSAVE and friends: not implemented, not
 * advertised). Register forms: /5 LFENCE, /6 MFENCE, /7 SFENCE (the r/m
 * field is ignored). Every prefixed form is another instruction
 * (RDFSBASE..., PTWRITE, CLWB, CLFLUSHOPT, ...) of a feature the core
 * does not have: #UD, as the hardware gives for 66 with /0-/3 too. */
static void op_grp15(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned digit = insn->reg & 7;

	exec_no_lock(cpu, insn);
	if (insn->sse_prefix != SSE_NONE) {
		emu_report_unimplemented(cpu, EMU_UNIMPL_OPCODE(MAP_0F, 0xae),
					 "a prefixed 0f ae form (RDFSBASE, CLWB, CLFLUSHOPT, ...)");
		emu_raise_ud(cpu);
	}
	if (insn->mod == 3) {
		if (digit < 5)
			emu_raise_ud(cpu);
		/* The guest's memory accesses are host accesses: host fences
		 * order them. LFENCE also waits for earlier instructions,
		 * which the interpreter does anyway. */
		if (digit == 5)
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
		else if (digit == 6)
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		else
			__atomic_thread_fence(__ATOMIC_RELEASE);
		exec_advance(cpu, insn);
		return;
	}
	switch (digit) {
	case 0:
		op_fxsave(cpu, insn, false);
		break;
	case 1:
		op_fxsave(cpu, insn, true);
		break;
	case 2:
		op_mxcsr(cpu, insn, true);
		break;
	case 3:
		op_mxcsr(cpu, insn, false);
		break;
	case 7:
		op_clflush(cpu, insn);
		break;
	default:
		emu_report_unimplemented(cpu, EMU_UNIMPL_XSAVE, "XSAVE/XRSTOR/XSAVEOPT (0f ae /%u)",
					 digit);
		emu_raise_ud(cpu);
	}
}

/* 0F C3 MOVNTI m32/m64, r: an integer store (no SSE state, so none of the
 * SSE availability rules); the non-temporal hint means nothing here. */
static void op_movnti(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = insn->opsize == 8 ? 8 : 4;

	exec_no_lock(cpu, insn);
	if (insn->sse_prefix != SSE_NONE)
		emu_raise_ud(cpu);
	sse_need_mem(cpu, insn);
	exec_set_rm(cpu, insn, size, exec_get_reg(cpu, insn, insn->reg, size));
	exec_advance(cpu, insn);
}

void exec_register_sse(struct exec_table *t)
{
	exec_fn *x = t->fn[MAP_0F];

	for (unsigned op = 0; op < 256; op++) {
		const exec_fn *e = sse_ops[op];

		if (e[0] || e[1] || e[2] || e[3])
			x[op] = sse_dispatch;
	}
	x[0xae] = op_grp15;
	x[0xc3] = op_movnti;
}
