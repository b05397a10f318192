/* SSE/SSE2 floating-point arithmetic and the instructions around it:
 * ADD/SUB/MUL/DIV/MIN/MAX/SQRT PS/PD/SS/SD, RCPPS/RCPSS/RSQRTPS/RSQRTSS,
 * CMPPS/CMPPD/CMPSS/CMPSD, COMISS/UCOMISS/COMISD/UCOMISD (computed on the
 * host's SSE unit under the guest's MXCSR, see sse.h), and the bitwise
 * and shuffling ones that compute nothing: ANDPS/ANDNPS/ORPS/XORPS (+PD),
 * UNPCKLPS/UNPCKHPS/UNPCKLPD/UNPCKHPD, SHUFPS/SHUFPD, MOVMSKPS/MOVMSKPD.
 *
 * The host instruction always runs register to register: a memory source
 * is read first (4, 8 or 16 bytes by the form; the packed forms require
 * alignment) into the low bytes of a register, which the scalar forms
 * only look at the low element of. The destination keeps what the
 * instruction does not write (the upper elements of the scalar forms) as
 * the host instruction itself keeps it. */
#include "flags.h"
#include "operand.h"
#include "sse.h"

/* The operand size of a form: packed 16, F3 (single scalar) 4, F2
 * (double scalar) 8. */
static unsigned fp_src_size(const struct insn *insn)
{
	switch (insn->sse_prefix) {
	case SSE_F3: return 4;
	case SSE_F2: return 8;
	default: return 16;
	}
}

#define KEY(op, pfx) ((unsigned)(op) << 2 | (pfx))

#define FP4(op, name)                                                               \
	case KEY(op, SSE_NONE): SSE_HOST(name "ps %[s], %[d]", d, s, csr); break; \
	case KEY(op, SSE_66):   SSE_HOST(name "pd %[s], %[d]", d, s, csr); break; \
	case KEY(op, SSE_F3):   SSE_HOST(name "ss %[s], %[d]", d, s, csr); break; \
	case KEY(op, SSE_F2):   SSE_HOST(name "sd %[s], %[d]", d, s, csr); break;

/* CMPccPS/PD/SS/SD: the predicate is imm8[2:0] (the legacy encoding
 * ignores the upper bits). */
#define CMP1(form, n) \
	case n: SSE_HOST("cmp" form " $" #n ", %[s], %[d]", d, s, csr); break;
#define CMP8(form)                                                          \
	switch (imm & 7) {                                                  \
	CMP1(form, 0) CMP1(form, 1) CMP1(form, 2) CMP1(form, 3)             \
	CMP1(form, 4) CMP1(form, 5) CMP1(form, 6) CMP1(form, 7)             \
	}                                                                   \
	break;

/* d = d op s on the host for key = KEY(0F op, prefix); returns the flags. */
static uint32_t host_fp(unsigned key, unsigned imm, union sse_vec *dv, const union sse_vec *sv,
			uint32_t csr)
{
	sse_host_vec d = sse_to_host(dv), s = sse_to_host(sv);

	switch (key) {
	FP4(0x51, "sqrt")
	FP4(0x58, "add")
	FP4(0x59, "mul")
	FP4(0x5c, "sub")
	FP4(0x5d, "min")
	FP4(0x5e, "div")
	FP4(0x5f, "max")
	case KEY(0x52, SSE_NONE): SSE_HOST("rsqrtps %[s], %[d]", d, s, csr); break;
	case KEY(0x52, SSE_F3):   SSE_HOST("rsqrtss %[s], %[d]", d, s, csr); break;
	case KEY(0x53, SSE_NONE): SSE_HOST("rcpps %[s], %[d]", d, s, csr); break;
	case KEY(0x53, SSE_F3):   SSE_HOST("rcpss %[s], %[d]", d, s, csr); break;
	case KEY(0xc2, SSE_NONE): CMP8("ps")
	case KEY(0xc2, SSE_66):   CMP8("pd")
	case KEY(0xc2, SSE_F3):   CMP8("ss")
	case KEY(0xc2, SSE_F2):   CMP8("sd")
	}
	sse_from_host(dv, d);
	return csr & MXCSR_FLAGS;
}

/* 0F 51-53, 58-5F, C2 with every prefix the table lets through. */
void sse_op_fp(struct emu_cpu *cpu, const struct insn *insn)
{
	static const uint8_t lanes[4] = { 4, 2, 1, 1 }, width[4] = { 4, 8, 4, 8 };
	struct sse_fp_op op = {
		.fn = host_fp, .key = KEY(insn->op, insn->sse_prefix), .imm = insn->imm & 0xff,
		.lanes = lanes[insn->sse_prefix], .width = width[insn->sse_prefix],
	};
	union sse_vec d, s;

	switch (insn->op) {
	case 0x58: op.xop = SSE_XOP_ADD; break;
	case 0x5c: op.xop = SSE_XOP_SUB; break;
	case 0x59: op.xop = SSE_XOP_MUL; break;
	case 0x5e: op.xop = SSE_XOP_DIV; break;
	default: op.xop = SSE_XOP_NONE; break;  /* nothing else overflows */
	}
	sse_load_rm(cpu, insn, fp_src_size(insn), SSE_ALIGNED, &s);
	sse_get(cpu, insn->reg, &d);
	sse_fp_flags(cpu, sse_fp_run(cpu, &op, &d, &s));
	sse_set(cpu, insn->reg, &d);
	exec_advance(cpu, insn);
}

/* 0F 2E UCOMISS, 0F 2F COMISS, 66: the SD forms. ZF PF CF say unordered
 * (all set), less (CF), equal (ZF) or greater (none); OF SF AF are
 * cleared. COMIS signals invalid for any NaN, UCOMIS for SNaNs only. */
void sse_op_comis(struct emu_cpu *cpu, const struct insn *insn)
{
	bool dbl = insn->sse_prefix == SSE_66;
	union sse_vec dv, sv;
	sse_host_vec d, s;
	uint32_t csr = sse_host_csr(cpu), saved;
	bool zf, pf, cf;

	sse_load_rm(cpu, insn, dbl ? 8 : 4, SSE_UNALIGNED, &sv);
	sse_get(cpu, insn->reg, &dv);
	d = sse_to_host(&dv);
	s = sse_to_host(&sv);
	/* The flags are read straight out of the asm statement (the MXCSR
	 * loads after the compare do not touch RFLAGS). */
#define COMIS(text) \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" text " %[s], %[d]\n\t"         \
			 "stmxcsr %[c]\n\tldmxcsr %[h]"                                    \
			 : [c] "+m"(csr), [h] "=m"(saved), "=@ccz"(zf), "=@ccp"(pf), "=@ccc"(cf) \
			 : [d] "x"(d), [s] "x"(s))
	switch ((insn->op & 1) | (dbl ? 2 : 0)) {
	case 0: COMIS("ucomiss"); break;
	case 1: COMIS("comiss"); break;
	case 2: COMIS("ucomisd"); break;
	default: COMIS("comisd"); break;
	}
#undef COMIS
	sse_fp_flags(cpu, csr & MXCSR_FLAGS);
	emu_set_arith_flags(cpu, EMU_ARITH_FLAGS,
			    (zf ? EMU_ZF : 0) | (pf ? EMU_PF : 0) | (cf ? EMU_CF : 0));
	exec_advance(cpu, insn);
}

/* 0F 54-57: ANDPS ANDNPS ORPS XORPS, 66: the PD forms (the same bits). */
void sse_op_logic(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec d, s;

	sse_load_rm(cpu, insn, 16, SSE_ALIGNED, &s);
	sse_get(cpu, insn->reg, &d);
	for (unsigned i = 0; i < 2; i++) {
		switch (insn->op) {
		case 0x54: d.q[i] &= s.q[i]; break;
		case 0x55: d.q[i] = ~d.q[i] & s.q[i]; break;
		case 0x56: d.q[i] |= s.q[i]; break;
		default:   d.q[i] ^= s.q[i]; break;
		}
	}
	sse_set(cpu, insn->reg, &d);
	exec_advance(cpu, insn);
}

/* 0F 14 UNPCKLPS, 0F 15 UNPCKHPS, 66: UNPCKLPD/UNPCKHPD. */
void sse_op_unpck(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec d, s, r;
	unsigned h = insn->op == 0x15;

	sse_load_rm(cpu, insn, 16, SSE_ALIGNED, &s);
	sse_get(cpu, insn->reg, &d);
	if (insn->sse_prefix == SSE_66) {
		r.q[0] = d.q[h];
		r.q[1] = s.q[h];
	} else {
		r.d[0] = d.d[2 * h];
		r.d[1] = s.d[2 * h];
		r.d[2] = d.d[2 * h + 1];
		r.d[3] = s.d[2 * h + 1];
	}
	sse_set(cpu, insn->reg, &r);
	exec_advance(cpu, insn);
}

/* 0F C6 SHUFPS, 66: SHUFPD: the low half of the result comes from the
 * destination, the high half from the source, as imm8 selects. */
void sse_op_shufp(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned imm = insn->imm & 0xff;
	union sse_vec d, s, r;

	sse_load_rm(cpu, insn, 16, SSE_ALIGNED, &s);
	sse_get(cpu, insn->reg, &d);
	if (insn->sse_prefix == SSE_66) {
		r.q[0] = d.q[imm & 1];
		r.q[1] = s.q[(imm >> 1) & 1];
	} else {
		r.d[0] = d.d[imm & 3];
		r.d[1] = d.d[(imm >> 2) & 3];
		r.d[2] = s.d[(imm >> 4) & 3];
		r.d[3] = s.d[(imm >> 6) & 3];
	}
	sse_set(cpu, insn->reg, &r);
	exec_advance(cpu, insn);
}

/* 0F 50 MOVMSKPS r32, xmm, 66: MOVMSKPD (register operands only): the sign
 * bits, zero-extended into the whole register. */
void sse_op_movmskp(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec s;
	uint32_t m = 0;

	sse_need_reg(cpu, insn);
	sse_get(cpu, insn->rm, &s);
	if (insn->sse_prefix == SSE_66) {
		m = (uint32_t)(s.q[0] >> 63) | (uint32_t)(s.q[1] >> 63) << 1;
	} else {
		for (unsigned i = 0; i < 4; i++)
			m |= (s.d[i] >> 31) << i;
	}
	exec_set_reg(cpu, insn, insn->reg, 4, m);
	exec_advance(cpu, insn);
}
