/* A small x86-64 assembler for the translator (jit.c): the encodings it
 * emits, into a bounded buffer, with labels that may be bound after the
 * jumps to them. Running out of room (or of labels) sets full rather than
 * writing past the end; the caller checks it once at the end. */
#ifndef WISP_EMU_X86_ASM_H
#define WISP_EMU_X86_ASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X86_ASM_MAX_LABELS 256
#define X86_ASM_MAX_FIXUPS 512

/* Host registers by encoding. */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

/* Condition codes of Jcc/SETcc/CMOVcc (the low nibble of the opcode). */
enum { CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_BE = 6, CC_A = 7 };

struct asm_fixup {
	uint32_t at;          /* offset of a rel32 */
	uint16_t label;
};

struct x86_asm {
	uint8_t *start, *p, *end;
	bool full;
	uint32_t label_pos[X86_ASM_MAX_LABELS];
	unsigned nlabels;
	struct asm_fixup fix[X86_ASM_MAX_FIXUPS];
	unsigned nfix;
};

static inline bool x86_fits_i32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

/* A ModRM-encoded operand: a host register, or memory at
 * [base + index * scale + disp] (index < 0: none). */
struct rm {
	bool is_reg;
	int reg;
	int base, index, scale;
	int32_t disp;
};

static inline struct rm R(int reg)
{
	return (struct rm){ .is_reg = true, .reg = reg, .index = -1 };
}

static inline struct rm M(int base, int32_t disp)
{
	return (struct rm){ .base = base, .index = -1, .disp = disp };
}

static inline struct rm MI(int base, int index, int scale, int32_t disp)
{
	return (struct rm){ .base = base, .index = index, .scale = scale, .disp = disp };
}

void asm_init(struct x86_asm *a, uint8_t *buf, size_t size);
/* Resolve the jumps to labels; false if the code did not fit. */
bool asm_finish(struct x86_asm *a);

void asm_b1(struct x86_asm *a, uint8_t v);
void asm_b4(struct x86_asm *a, uint32_t v);
void asm_b8(struct x86_asm *a, uint64_t v);

uint16_t asm_label(struct x86_asm *a);
void asm_bind(struct x86_asm *a, uint16_t label);
/* A rel32 to label, resolved by asm_finish. */
void asm_rel32(struct x86_asm *a, uint16_t label);

/* [66] [REX] opcode bytes, ModRM, SIB, displacement. size 1 and 4: no
 * prefix; 2: 66; 8: REX.W. A byte operand in SPL..DIL would need a REX:
 * the translator only uses AL, CL, DL and R8B as byte registers. */
void asm_modrm(struct x86_asm *a, unsigned size, const uint8_t *opc, unsigned nopc, int reg,
	       struct rm rm);
void asm_op1(struct x86_asm *a, unsigned size, uint8_t opc, int reg, struct rm rm);
void asm_op2(struct x86_asm *a, unsigned size, uint8_t opc2, int reg, struct rm rm);  /* 0F opc2 */
void asm_mov_load(struct x86_asm *a, unsigned size, int reg, struct rm rm);
void asm_mov_store(struct x86_asm *a, unsigned size, struct rm rm, int reg);
/* reg = zero-extended load of size bytes. */
void asm_load_zx(struct x86_asm *a, unsigned size, int reg, struct rm rm);
/* reg64 = imm64, in the shortest form. */
void asm_mov_imm(struct x86_asm *a, int reg, uint64_t v);
void asm_jmp(struct x86_asm *a, uint16_t label);
void asm_jcc(struct x86_asm *a, unsigned cc, uint16_t label);
/* call through rax (clobbered). */
void asm_call(struct x86_asm *a, const void *fn);

#endif
