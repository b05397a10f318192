/* The x86-64 encoder of the translator: see x86_asm.h. */
#include "x86_asm.h"

#include <string.h>

void asm_init(struct x86_asm *g, uint8_t *buf, size_t size)
{
	g->start = g->p = buf;
	g->end = buf + size;
	g->full = false;
	g->nlabels = 0;
	g->nfix = 0;
}

void asm_b1(struct x86_asm *g, uint8_t v)
{
	if (g->p >= g->end) {
		g->full = true;
		return;
	}
	*g->p++ = v;
}

void asm_b4(struct x86_asm *g, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		asm_b1(g, (uint8_t)(v >> (8 * i)));
}

void asm_b8(struct x86_asm *g, uint64_t v)
{
	asm_b4(g, (uint32_t)v);
	asm_b4(g, (uint32_t)(v >> 32));
}

uint16_t asm_label(struct x86_asm *g)
{
	if (g->nlabels >= X86_ASM_MAX_LABELS) {
		g->full = true;
		return 0;
	}
	g->label_pos[g->nlabels] = UINT32_MAX;
	return (uint16_t)g->nlabels++;
}

void asm_bind(struct x86_asm *g, uint16_t label)
{
	g->label_pos[label] = (uint32_t)(g->p - g->start);
}

void asm_rel32(struct x86_asm *g, uint16_t label)
{
	if (g->nfix >= X86_ASM_MAX_FIXUPS) {
		g->full = true;
		return;
	}
	g->fix[g->nfix].at = (uint32_t)(g->p - g->start);
	g->fix[g->nfix].label = label;
	g->nfix++;
	asm_b4(g, 0);
}

/* An instruction with a ModRM byte: [66] [REX] opcode bytes, ModRM, SIB,
 * displacement. size 1 and 4: no prefix; 2: 66; 8: REX.W. A byte operand
 * in SPL..DIL would need a REX; the translator only uses AL, CL, DL (and
 * AH through the guest's own encodings: never combined with a REX). */
void asm_modrm(struct x86_asm *g, unsigned size, const uint8_t *opc, unsigned nopc, int reg,
		       struct rm rm)
{
	unsigned rex = 0;

	if (size == 2)
		asm_b1(g, 0x66);
	if (size == 8)
		rex |= 8;
	if (reg & 8)
		rex |= 4;
	if (rm.is_reg) {
		if (rm.reg & 8)
			rex |= 1;
	} else {
		if (rm.index >= 0 && (rm.index & 8))
			rex |= 2;
		if (rm.base & 8)
			rex |= 1;
	}
	if (rex)
		asm_b1(g, (uint8_t)(0x40 | rex));
	for (unsigned i = 0; i < nopc; i++)
		asm_b1(g, opc[i]);
	if (rm.is_reg) {
		asm_b1(g, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm.reg & 7)));
		return;
	}
	{
		unsigned mod = rm.disp == 0 && (rm.base & 7) != RBP ? 0 :
			       rm.disp >= -128 && rm.disp <= 127 ? 1 : 2;
		bool sib = rm.index >= 0 || (rm.base & 7) == RSP;

		asm_b1(g, (uint8_t)(mod << 6 | (reg & 7) << 3 | (sib ? 4 : (rm.base & 7))));
		if (sib) {
			unsigned ss = rm.scale == 8 ? 3 : rm.scale == 4 ? 2 : rm.scale == 2 ? 1 : 0;
			unsigned idx = rm.index >= 0 ? (unsigned)rm.index & 7 : 4;

			asm_b1(g, (uint8_t)(ss << 6 | idx << 3 | (rm.base & 7)));
		}
		if (mod == 1)
			asm_b1(g, (uint8_t)rm.disp);
		else if (mod == 2)
			asm_b4(g, (uint32_t)rm.disp);
	}
}

void asm_op1(struct x86_asm *g, unsigned size, uint8_t opc, int reg, struct rm rm)
{
	asm_modrm(g, size, &opc, 1, reg, rm);
}

void asm_op2(struct x86_asm *g, unsigned size, uint8_t opc2, int reg, struct rm rm)
{
	uint8_t o[2] = { 0x0f, opc2 };

	asm_modrm(g, size, o, 2, reg, rm);
}

/* mov reg, r/m (size 1: 8a; else 8b) and mov r/m, reg. */
void asm_mov_load(struct x86_asm *g, unsigned size, int reg, struct rm rm)
{
	asm_op1(g, size, size == 1 ? 0x8a : 0x8b, reg, rm);
}

void asm_mov_store(struct x86_asm *g, unsigned size, struct rm rm, int reg)
{
	asm_op1(g, size, size == 1 ? 0x88 : 0x89, reg, rm);
}

/* reg = zero-extended load of size bytes. */
void asm_load_zx(struct x86_asm *g, unsigned size, int reg, struct rm rm)
{
	if (size == 1)
		asm_op2(g, 4, 0xb6, reg, rm);
	else if (size == 2)
		asm_op2(g, 4, 0xb7, reg, rm);
	else
		asm_mov_load(g, size, reg, rm);
}

/* mov reg64, imm64 (shortest form). */
void asm_mov_imm(struct x86_asm *g, int reg, uint64_t v)
{
	if (v <= UINT32_MAX) {
		if (reg & 8)
			asm_b1(g, 0x41);
		asm_b1(g, (uint8_t)(0xb8 + (reg & 7)));
		asm_b4(g, (uint32_t)v);
	} else if (x86_fits_i32((int64_t)v)) {
		asm_op1(g, 8, 0xc7, 0, R(reg));
		asm_b4(g, (uint32_t)v);
	} else {
		asm_b1(g, (uint8_t)(0x48 | ((reg & 8) ? 1 : 0)));
		asm_b1(g, (uint8_t)(0xb8 + (reg & 7)));
		asm_b8(g, v);
	}
}

void asm_jmp(struct x86_asm *g, uint16_t label)
{
	asm_b1(g, 0xe9);
	asm_rel32(g, label);
}

/* Jcc rel32 with the condition code cc (0..15). */
void asm_jcc(struct x86_asm *g, unsigned cc, uint16_t label)
{
	asm_b1(g, 0x0f);
	asm_b1(g, (uint8_t)(0x80 | cc));
	asm_rel32(g, label);
}

void asm_call(struct x86_asm *g, const void *fn)
{
	asm_mov_imm(g, RAX, (uint64_t)(uintptr_t)fn);
	asm_b1(g, 0xff);
	asm_b1(g, 0xd0);   /* call rax */
}

bool asm_finish(struct x86_asm *g)
{
	for (unsigned f = 0; f < g->nfix && !g->full; f++) {
		uint32_t at = g->fix[f].at, to = g->label_pos[g->fix[f].label];
		int32_t rel = (int32_t)(to - (at + 4));

		if (to == UINT32_MAX)
			return false;   /* a label never bound: a translator bug */
		memcpy(g->start + at, &rel, 4);
	}
	return !g->full;
}
