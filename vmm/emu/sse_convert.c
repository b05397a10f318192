/* SSE/SSE2 conversions: CVTSI2SS/SD, CVT(T)SS2SI/CVT(T)SD2SI (32- and
 * 64-bit integers), CVTSS2SD/CVTSD2SS, CVTPS2PD/CVTPD2PS, CVTDQ2PS/
 * CVT(T)PS2DQ, CVTDQ2PD/CVT(T)PD2DQ. Computed by the same instruction on
 * the host under the guest's MXCSR (see sse.h): rounding, the "integer
 * indefinite" result (0x80000000 / 0x8000000000000000) of NaNs and
 * out-of-range values, and the flags all come out exactly as the hardware
 * gives them. The MMX forms (CVTPI2PS, CVTPS2PI, ...) are not implemented,
 * like the rest of MMX. */
#include "operand.h"
#include "sse.h"

#define KEY(op, pfx) ((unsigned)(op) << 2 | (pfx))

/* d = convert(s) on the host for form key; returns the flags. */
static uint32_t host_cvt(unsigned key, unsigned imm, union sse_vec *dv, const union sse_vec *sv,
			 uint32_t csr)
{
	sse_host_vec d = sse_to_host(dv), s = sse_to_host(sv);

	(void)imm;
	switch (key) {
	case KEY(0x5a, SSE_NONE): SSE_HOST("cvtps2pd %[s], %[d]", d, s, csr); break;
	case KEY(0x5a, SSE_66):   SSE_HOST("cvtpd2ps %[s], %[d]", d, s, csr); break;
	case KEY(0x5a, SSE_F3):   SSE_HOST("cvtss2sd %[s], %[d]", d, s, csr); break;
	case KEY(0x5a, SSE_F2):   SSE_HOST("cvtsd2ss %[s], %[d]", d, s, csr); break;
	case KEY(0x5b, SSE_NONE): SSE_HOST("cvtdq2ps %[s], %[d]", d, s, csr); break;
	case KEY(0x5b, SSE_66):   SSE_HOST("cvtps2dq %[s], %[d]", d, s, csr); break;
	case KEY(0x5b, SSE_F3):   SSE_HOST("cvttps2dq %[s], %[d]", d, s, csr); break;
	case KEY(0xe6, SSE_66):   SSE_HOST("cvttpd2dq %[s], %[d]", d, s, csr); break;
	case KEY(0xe6, SSE_F3):   SSE_HOST("cvtdq2pd %[s], %[d]", d, s, csr); break;
	default:                  SSE_HOST("cvtpd2dq %[s], %[d]", d, s, csr); break;
	}
	sse_from_host(dv, d);
	return csr & MXCSR_FLAGS;
}

/* 0F 5A, 5B, E6: xmm = convert(xmm/m), the source size by form: m64 for
 * the two that widen two elements (CVTPS2PD, CVTDQ2PD), m32/m64 for the
 * scalar ones, else m128 (aligned). */
void sse_op_cvt(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned key = KEY(insn->op, insn->sse_prefix), size;
	struct sse_fp_op op = { .fn = host_cvt, .key = key, .lanes = 1, .width = 8 };
	union sse_vec d, s;

	switch (key) {
	case KEY(0x5a, SSE_NONE):
	case KEY(0x5a, SSE_F2):
	case KEY(0xe6, SSE_F3):
		size = 8;
		break;
	case KEY(0x5a, SSE_F3):
		size = 4;
		break;
	default:
		size = 16;
		break;
	}
	sse_load_rm(cpu, insn, size, SSE_ALIGNED, &s);
	sse_get(cpu, insn->reg, &d);
	/* Only CVTPD2PS (two elements) and CVTSD2SS can overflow or
	 * underflow. */
	if (key == KEY(0x5a, SSE_66) || key == KEY(0x5a, SSE_F2)) {
		op.xop = SSE_XOP_CVT;
		op.lanes = key == KEY(0x5a, SSE_66) ? 2 : 1;
	}
	sse_fp_flags(cpu, sse_fp_run(cpu, &op, &d, &s));
	sse_set(cpu, insn->reg, &d);
	exec_advance(cpu, insn);
}

/* F3 0F 2A CVTSI2SS xmm, r/m32 (r/m64 with REX.W), F2: CVTSI2SD. Only the
 * low element changes. */
void sse_op_cvtsi2s(struct emu_cpu *cpu, const struct insn *insn)
{
	bool wide = insn->rex & 8, dbl = insn->sse_prefix == SSE_F2;
	uint64_t v = exec_get_rm(cpu, insn, wide ? 8 : 4);
	uint32_t csr = sse_host_csr(cpu), saved;
	union sse_vec dv;
	sse_host_vec d;

	sse_get(cpu, insn->reg, &dv);
	d = sse_to_host(&dv);
#define CVT(text) \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" text "\n\tstmxcsr %[c]\n\tldmxcsr %[h]" \
			 : [d] "+x"(d), [c] "+m"(csr), [h] "=m"(saved) : [g] "r"(v))
	switch ((wide ? 1 : 0) | (dbl ? 2 : 0)) {
	case 0: CVT("cvtsi2ssl %k[g], %[d]"); break;
	case 1: CVT("cvtsi2ssq %q[g], %[d]"); break;
	case 2: CVT("cvtsi2sdl %k[g], %[d]"); break;
	default: CVT("cvtsi2sdq %q[g], %[d]"); break;
	}
#undef CVT
	sse_fp_flags(cpu, csr & MXCSR_FLAGS);
	sse_from_host(&dv, d);
	sse_set(cpu, insn->reg, &dv);
	exec_advance(cpu, insn);
}

/* F3 0F 2C CVTTSS2SI r32/r64, xmm/m32 (truncating), F3 0F 2D CVTSS2SI
 * (MXCSR rounding), F2: the SD forms from xmm/m64. A 32-bit result
 * zero-extends into the register. */
void sse_op_cvts2si(struct emu_cpu *cpu, const struct insn *insn)
{
	bool wide = insn->rex & 8, dbl = insn->sse_prefix == SSE_F2;
	uint32_t csr = sse_host_csr(cpu), saved;
	union sse_vec sv;
	sse_host_vec s;
	uint64_t r;

	sse_load_rm(cpu, insn, dbl ? 8 : 4, SSE_UNALIGNED, &sv);
	s = sse_to_host(&sv);
#define CVT(text) \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" text "\n\tstmxcsr %[c]\n\tldmxcsr %[h]" \
			 : [g] "=r"(r), [c] "+m"(csr), [h] "=m"(saved) : [s] "x"(s))
	switch ((insn->op & 1) | (wide ? 2 : 0) | (dbl ? 4 : 0)) {
	case 0: CVT("cvttss2si %[s], %k[g]"); break;
	case 1: CVT("cvtss2si %[s], %k[g]"); break;
	case 2: CVT("cvttss2si %[s], %q[g]"); break;
	case 3: CVT("cvtss2si %[s], %q[g]"); break;
	case 4: CVT("cvttsd2si %[s], %k[g]"); break;
	case 5: CVT("cvtsd2si %[s], %k[g]"); break;
	case 6: CVT("cvttsd2si %[s], %q[g]"); break;
	default: CVT("cvtsd2si %[s], %q[g]"); break;
	}
#undef CVT
	sse_fp_flags(cpu, csr & MXCSR_FLAGS);
	exec_set_reg(cpu, insn, insn->reg, wide ? 8 : 4, r);
	exec_advance(cpu, insn);
}
