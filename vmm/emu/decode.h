/* The x86 instruction decoder: bytes in, one struct insn out. It knows the
 * instruction format (prefixes, REX, the one-, two- and three-byte opcode
 * maps, ModRM/SIB/displacement/immediates, operand and address size in
 * every mode) and nothing about what instructions do.
 *
 * What the decoder rejects (DECODE_INVALID): opcodes that do not exist in
 * the map (empty slots, 3DNow! 0F 0F, VEX/EVEX-only slots), opcodes
 * invalid in 64-bit mode, VEX (C4/C5) and EVEX (62) prefixes (wisp
 * advertises no AVX), and instructions longer than 15 bytes.
 *
 * What it leaves to the handlers (they raise #UD themselves):
 *  - LOCK on an instruction that is not a read-modify-write of memory
 *    (the decoder only records PFX_LOCK);
 *  - an undefined /digit of a group opcode (FE /2, FF /7, 8F /1, C6 /1,
 *    0F 00 /6, 0F 01 mod=3 holes, 0F C7 /0, ...): decoded with the
 *    group's length;
 *  - a missing or wrong mandatory prefix (0F B8 without F3 is JMPE, not
 *    POPCNT; 66 0F 38 F0 is neither MOVBE nor CRC32; ...);
 *  - a register operand where only memory is allowed (LEA, LES, CMPXCHG8B,
 *    ...) and vice versa;
 *  - instructions of features the CPU does not advertise.
 *
 * Immediates (insn->imm, insn->imm2), by opcode; each handler truncates
 * to its operand size:
 *  - ib, zero-extended: 04 0C 14 1C 24 2C 34 3C (AL, imm8), 80 82 (byte
 *    group 1), A8, B0-B7, C0 C1 (shift count), C6, CD (INT n), D4 D5,
 *    E4-E7 (port), F6 /0 /1 (TEST r/m8, imm8); 0F 70-73, 0F A4/AC,
 *    0F BA, 0F C2, 0F C4-C6, every 0F 3A opcode.
 *  - ib, sign-extended to 64 bits: 6A (PUSH imm8), 6B (IMUL imm8), 83
 *    (group 1 imm8), and the rel8 of 70-7F (Jcc), E0-E3 (LOOPcc, JrCXZ)
 *    and EB (JMP).
 *  - iw, zero-extended: C2 and CA (RET imm16).
 *  - iz (2 bytes for operand size 16, else 4), sign-extended to 64 bits:
 *    05 0D .. 3D (rAX, imm), 68 (PUSH), 69 (IMUL), 81, A9, C7, F7 /0 /1,
 *    and the rel16/rel32 of E8 (CALL), E9 (JMP), 0F 80-8F (Jcc).
 *  - iv (operand size: 2, 4 or 8 bytes), zero-extended: B8-BF (MOV r, imm;
 *    with REX.W the full imm64).
 *  - Ap far pointer (9A CALLF, EA JMPF; invalid in 64-bit mode): imm = the
 *    offset (2 or 4 bytes by operand size), imm2 = the selector.
 *  - moffs (A0-A3): imm = the offset, address-size wide (2, 4 or 8 bytes),
 *    zero-extended; there is no ModRM (has_modrm false, base/index none).
 *  - ENTER (C8): imm = the iw frame size, imm2 = the ib nesting level.
 *
 * Operand size (insn->opsize): 2 or 4 by mode, 66 toggles it; in 64-bit
 * mode REX.W makes it 8 (REX.W beats 66). Opcodes that default to 64 bits
 * in 64-bit mode get 8 there, or 2 with a 66 prefix: PUSH/POP r (50-5F),
 * PUSH imm (68, 6A), POP r/m (8F), PUSHF/POPF (9C 9D), RET near (C2 C3),
 * ENTER/LEAVE (C8 C9), PUSH r/m (FF /6), PUSH/POP FS/GS (0F A0 A1 A8 A9).
 * Near branches are fixed at 8 in 64-bit mode (66 is ignored there, as
 * Intel CPUs do; AMD CPUs would honour it): Jcc (70-7F, 0F 80-8F),
 * LOOPcc/JrCXZ (E0-E3), CALL/JMP rel (E8 E9 EB), CALL/JMP r/m (FF /2 /4).
 * MOV to/from CR/DR (0F 20-23) is 8 in 64-bit mode and 4 elsewhere, and
 * its ModRM always names a register (mod is treated as 3 whatever the
 * encoding says, as the CPU does). The far forms (FF /3 /5, CA CB, CF)
 * and LGDT/LIDT-style operands follow the normal rule; their handlers
 * apply their own sizes.
 *
 * Address size (insn->adsize): 2 or 4 by mode, 67 toggles 2 <-> 4; in
 * 64-bit mode 8, or 4 with 67. 16-bit addressing fills base/index with
 * register numbers: BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP, BX (mod 00
 * rm 110 is a bare disp16), scale 1.
 *
 * Segment overrides: the last one wins. In 64-bit mode ES/CS/SS/DS
 * overrides have no effect and are not recorded (seg stays as it was,
 * INSN_NO_SEG unless an FS/GS override came first). */
#ifndef WISP_EMU_DECODE_H
#define WISP_EMU_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu.h"

#define INSN_MAX_LEN 15

/* Opcode maps. */
enum insn_map { MAP_PRIMARY, MAP_0F, MAP_0F38, MAP_0F3A, MAP_COUNT };

/* Prefix bits seen. Of F2 and F3 only the last one is kept (the one that
 * takes effect), so a handler of REP/REPE/REPNE tests one bit. */
#define PFX_LOCK   (1u << 0)
#define PFX_REP    (1u << 1)   /* F3 (REP/REPE) */
#define PFX_REPNE  (1u << 2)   /* F2 */
#define PFX_OPSIZE (1u << 3)   /* 66 */
#define PFX_ADSIZE (1u << 4)   /* 67 */

/* The mandatory prefix of an SSE instruction: which of none/66/F3/F2
 * selects the operation (the last of F2/F3 wins; 66 counts when neither
 * is present). Filled for every instruction of every map. */
enum insn_sse_prefix { SSE_NONE, SSE_66, SSE_F3, SSE_F2 };

#define INSN_NO_SEG 0xff
#define INSN_NO_REG 0xff

struct insn {
	uint8_t len;           /* total length in bytes, 1..15 */
	uint8_t map;           /* enum insn_map */
	uint8_t op;            /* the opcode byte within its map (for 0F38/0F3A
	                        * the third opcode byte) */
	uint8_t prefixes;      /* PFX_* */
	uint8_t sse_prefix;    /* enum insn_sse_prefix */
	uint8_t seg;           /* segment override (enum emu_sreg) or INSN_NO_SEG */
	uint8_t rex;           /* 0, or the REX byte 0x40..0x4F (64-bit mode only,
	                        * and only when it immediately precedes the
	                        * opcode; an earlier REX is ignored). Nonzero
	                        * rex means byte registers 4..7 are SPL..DIL */
	uint8_t opsize;        /* 2, 4 or 8: the effective operand size of a
	                        * non-byte form (byte forms use 1 by opcode) */
	uint8_t adsize;        /* 2, 4 or 8 */
	bool has_modrm;
	uint8_t mod;           /* ModRM.mod */
	uint8_t reg;           /* ModRM.reg, REX.R applied (0..15); for group
	                        * opcodes, the /digit is reg & 7 */
	uint8_t rm;            /* ModRM.rm with REX.B: the register when mod == 3 */
	/* Memory operand (mod != 3): address = base + index * scale + disp,
	 * RIP-relative when rip_relative (disp is then relative to next_rip).
	 * No memory operand: base = index = INSN_NO_REG, scale 1, disp 0. */
	uint8_t base;          /* register number 0..15 or INSN_NO_REG */
	uint8_t index;         /* register number 0..15 or INSN_NO_REG */
	uint8_t scale;         /* 1, 2, 4, 8 (as encoded, even with no index) */
	bool rip_relative;
	int64_t disp;          /* sign-extended */
	uint64_t imm;          /* first immediate, sign- or zero-extended as the
	                        * opcode defines (see the top of this file), or
	                        * moffs */
	uint64_t imm2;         /* ENTER's second immediate; far pointer selector */
	uint64_t next_rip;     /* rip of the following instruction (filled by
	                        * the caller's rip + len; emu_decode sets 0) */
};

enum decode_status {
	DECODE_OK = 0,
	DECODE_NEED_MORE = 1,  /* avail bytes ended inside the instruction */
	DECODE_INVALID = 2,    /* #UD: undefined opcode, or longer than 15 bytes
	                        * (architecturally #GP(0); see decode.c) */
};

/* Decode one instruction of code mode mode from bytes[0..avail). Never
 * reads bytes[avail] or beyond. *out is meaningful only on DECODE_OK.
 * An instruction that would be longer than 15 bytes is DECODE_INVALID
 * even when fewer bytes are available. */
enum decode_status emu_decode(struct insn *out, const uint8_t *bytes, size_t avail,
			      enum emu_mode mode);

/* The operand size of an instruction whose ModRM form is byte-sized
 * (low opcode bit clear in the classic ALU encodings) is 1; helpers for
 * handlers: */
static inline bool insn_has_mem(const struct insn *i) { return i->has_modrm && i->mod != 3; }

/* ---- the opcode tables (decode_tables.c) --------------------------------
 * One 16-bit descriptor per (map, opcode). Exposed for tests and for
 * tools that want to know an opcode's shape without decoding bytes. */

/* Immediate kinds (low 4 bits of a descriptor); see the top of the file. */
enum insn_imm_kind {
	IMM_NONE,
	IMM_IB,      /* 1 byte, zero-extended */
	IMM_IBS,     /* 1 byte, sign-extended (includes rel8) */
	IMM_IW,      /* 2 bytes, zero-extended */
	IMM_IZ,      /* 2/4 bytes by operand size, sign-extended */
	IMM_IV,      /* 2/4/8 bytes by operand size, zero-extended */
	IMM_AP,      /* far pointer: offset (2/4 by operand size) + selector */
	IMM_MOFFS,   /* address-size offset */
	IMM_ENTER,   /* iw then ib */
	IMM_GRP3B,   /* F6: ib for /0 /1 only */
	IMM_GRP3Z,   /* F7: iz for /0 /1 only */
};

#define DEC_IMM_MASK 0x000fu
#define DEC_MODRM    0x0010u  /* a ModRM byte follows the opcode */
#define DEC_UD       0x0020u  /* undefined opcode */
#define DEC_D64      0x0040u  /* 64-bit operand size by default in 64-bit mode */
#define DEC_F64      0x0080u  /* 64-bit operand size fixed in 64-bit mode */
#define DEC_I64      0x0100u  /* invalid in 64-bit mode */
#define DEC_CRDR     0x0200u  /* MOV CR/DR: register operand, size 4 or 8 by mode */
#define DEC_VEXLIKE  0x0400u  /* C4 C5 62: mod == 3 means VEX/EVEX (invalid) */
#define DEC_GRP5     0x0800u  /* FF: operand size rule depends on /digit */
#define DEC_PREFIX   0x1000u  /* a legacy prefix byte (primary map) */
#define DEC_ESCAPE   0x2000u  /* 0F, or 0F 38 / 0F 3A: another opcode byte */
#define DEC_REXLIKE  0x4000u  /* 40-4F: REX prefix in 64-bit mode */

extern const uint16_t emu_decode_table[MAP_COUNT][256];

#endif
