/* SSE/SSE2 data movement: MOVUPS/MOVUPD/MOVSS/MOVSD, MOVAPS/MOVAPD,
 * MOVLPS/MOVHPS/MOVLPD/MOVHPD/MOVHLPS/MOVLHPS, MOVDQA/MOVDQU, MOVD/MOVQ
 * (66 0F 6E/7E, F3 0F 7E, 66 0F D6), the non-temporal stores MOVNTPS/
 * MOVNTPD/MOVNTDQ and MASKMOVDQU. None of them computes, so none raises a
 * SIMD floating-point exception; the aligned forms check alignment (see
 * sse.h). Non-temporal hints mean nothing to the core. */
#include "mem.h"
#include "operand.h"
#include "sse.h"

/* 0F 10 (load) / 0F 11 (store): MOVUPS, 66 MOVUPD, F3 MOVSS, F2 MOVSD.
 * The scalar loads from memory zero the rest of the register; between
 * registers they replace the low element only. */
void sse_op_mov_10_11(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = insn->sse_prefix == SSE_F3 ? 4 : insn->sse_prefix == SSE_F2 ? 8 : 16;
	bool store = insn->op == 0x11;
	unsigned dst = store ? insn->rm : insn->reg, src = store ? insn->reg : insn->rm;
	union sse_vec v, d;

	if (store && insn->mod != 3) {
		sse_get(cpu, insn->reg, &v);
		sse_store_mem(cpu, insn, size, SSE_UNALIGNED, &v);
		exec_advance(cpu, insn);
		return;
	}
	if (insn->mod != 3) {
		sse_load_rm(cpu, insn, size, SSE_UNALIGNED, &v);
		sse_set(cpu, dst, &v);
		exec_advance(cpu, insn);
		return;
	}
	sse_get(cpu, src, &v);
	sse_get(cpu, dst, &d);
	if (size == 4)
		d.d[0] = v.d[0];
	else if (size == 8)
		d.q[0] = v.q[0];
	else
		d = v;
	sse_set(cpu, dst, &d);
	exec_advance(cpu, insn);
}

/* A whole-register move: load is xmm <- xmm/m128, else xmm/m128 <- xmm. */
static void move_full(struct emu_cpu *cpu, const struct insn *insn, bool load, enum sse_align a)
{
	union sse_vec v;

	if (load) {
		sse_load_rm(cpu, insn, 16, a, &v);
		sse_set(cpu, insn->reg, &v);
	} else {
		sse_get(cpu, insn->reg, &v);
		if (insn->mod == 3)
			sse_set(cpu, insn->rm, &v);
		else
			sse_store_mem(cpu, insn, 16, a, &v);
	}
	exec_advance(cpu, insn);
}

/* 0F 28 / 0F 29: MOVAPS, 66 MOVAPD. */
void sse_op_movap(struct emu_cpu *cpu, const struct insn *insn)
{
	move_full(cpu, insn, insn->op == 0x28, SSE_ALIGNED);
}

/* 66 0F 6F / 7F MOVDQA, F3 0F 6F / 7F MOVDQU. */
void sse_op_movdq(struct emu_cpu *cpu, const struct insn *insn)
{
	move_full(cpu, insn, insn->op == 0x6f,
		  insn->sse_prefix == SSE_66 ? SSE_ALIGNED : SSE_UNALIGNED);
}

/* 0F 12: MOVLPS xmm, m64 / MOVHLPS xmm, xmm (register form), 66: MOVLPD
 * xmm, m64 (memory only). 0F 13: MOVLPS/MOVLPD m64, xmm (memory only).
 * The other half of the register is kept. */
void sse_op_movlp(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec d, v;

	if (insn->op == 0x13 || insn->sse_prefix == SSE_66)
		sse_need_mem(cpu, insn);
	if (insn->op == 0x13) {
		sse_get(cpu, insn->reg, &v);
		sse_store_mem(cpu, insn, 8, SSE_UNALIGNED, &v);
		exec_advance(cpu, insn);
		return;
	}
	sse_load_rm(cpu, insn, 8, SSE_UNALIGNED, &v);
	sse_get(cpu, insn->reg, &d);
	d.q[0] = insn->mod == 3 ? v.q[1] : v.q[0];
	sse_set(cpu, insn->reg, &d);
	exec_advance(cpu, insn);
}

/* 0F 16: MOVHPS xmm, m64 / MOVLHPS xmm, xmm, 66: MOVHPD xmm, m64. 0F 17:
 * MOVHPS/MOVHPD m64, xmm. */
void sse_op_movhp(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec d, v;

	if (insn->op == 0x17 || insn->sse_prefix == SSE_66)
		sse_need_mem(cpu, insn);
	if (insn->op == 0x17) {
		sse_get(cpu, insn->reg, &v);
		v.q[0] = v.q[1];
		sse_store_mem(cpu, insn, 8, SSE_UNALIGNED, &v);
		exec_advance(cpu, insn);
		return;
	}
	sse_load_rm(cpu, insn, 8, SSE_UNALIGNED, &v);
	sse_get(cpu, insn->reg, &d);
	d.q[1] = v.q[0];
	sse_set(cpu, insn->reg, &d);
	exec_advance(cpu, insn);
}

/* 0F 2B MOVNTPS, 66 0F 2B MOVNTPD, 66 0F E7 MOVNTDQ: aligned stores. */
void sse_op_movnt(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec v;

	sse_need_mem(cpu, insn);
	sse_get(cpu, insn->reg, &v);
	sse_store_mem(cpu, insn, 16, SSE_ALIGNED, &v);
	exec_advance(cpu, insn);
}

/* The GPR operand size of MOVD/MOVQ: REX.W makes it 64 bits (66 is the
 * mandatory prefix here, not an operand-size override). */
static unsigned movd_size(const struct insn *insn)
{
	return (insn->rex & 8) ? 8 : 4;
}

/* 66 0F 6E MOVD xmm, r/m32 / MOVQ xmm, r/m64: zero-extended to 128 bits. */
void sse_op_movd_to(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec v = { .q = { exec_get_rm(cpu, insn, movd_size(insn)), 0 } };

	sse_set(cpu, insn->reg, &v);
	exec_advance(cpu, insn);
}

/* 66 0F 7E MOVD r/m32, xmm / MOVQ r/m64, xmm; F3 0F 7E MOVQ xmm, xmm/m64
 * (zero-extended). */
void sse_op_7e(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec v;

	if (insn->sse_prefix == SSE_66) {
		unsigned size = movd_size(insn);

		sse_get(cpu, insn->reg, &v);
		exec_set_rm(cpu, insn, size, v.q[0] & size_mask(size));
	} else {
		sse_load_rm(cpu, insn, 8, SSE_UNALIGNED, &v);
		v.q[1] = 0;
		sse_set(cpu, insn->reg, &v);
	}
	exec_advance(cpu, insn);
}

/* 66 0F D6 MOVQ xmm/m64, xmm: a register destination is zero-extended. */
void sse_op_movq_d6(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec v;

	sse_get(cpu, insn->reg, &v);
	v.q[1] = 0;
	if (insn->mod == 3)
		sse_set(cpu, insn->rm, &v);
	else
		sse_store_mem(cpu, insn, 8, SSE_UNALIGNED, &v);
	exec_advance(cpu, insn);
}

/* 66 0F F7 MASKMOVDQU xmm1, xmm2: the bytes of xmm1 whose byte in xmm2 has
 * its top bit set go to DS:rDI (segment override allowed). The whole
 * 16-byte range is checked for writing first, so that a fault leaves no
 * byte written (the manual allows faults for unselected bytes). */
void sse_op_maskmov(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned seg = exec_src_seg(insn);
	uint64_t amask = exec_addr_mask(insn), di = cpu->gpr[7] & amask;
	union sse_vec v, m;
	unsigned sel = 0;

	sse_need_reg(cpu, insn);
	sse_get(cpu, insn->reg, &v);
	sse_get(cpu, insn->rm, &m);
	for (unsigned i = 0; i < 16; i++)
		sel |= (unsigned)(m.b[i] >> 7) << i;
	if (sel) {
		uint64_t first = emu_linear(cpu, seg, di, 1, EMU_WRITE);
		uint64_t last = emu_linear(cpu, seg, (di + 15) & amask, 1, EMU_WRITE);

		emu_translate(cpu, first, EMU_WRITE, false);
		emu_translate(cpu, last, EMU_WRITE, false);
		for (unsigned i = 0; i < 16; i++)
			if (sel & (1u << i))
				emu_write(cpu, seg, (di + i) & amask, 1, v.b[i]);
	}
	exec_advance(cpu, insn);
}
