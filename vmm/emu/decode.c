/* The instruction decoder: one pass over the bytes, with a table lookup
 * (decode_tables.c) deciding the opcode's shape, so the cost is a handful
 * of branches per byte and no calls.
 *
 * Length limit: an instruction longer than 15 bytes is reported as
 * DECODE_INVALID as soon as its length is known to exceed 15 (the CPU
 * raises #GP(0) for it, which the caller may choose to map; wisp's guests
 * never produce one). */
#include "decode.h"

/* Little-endian load of n (<= 8) bytes, host-endianness independent;
 * the common sizes are single loads the compiler can merge. */
static inline uint64_t load_le(const uint8_t *p, unsigned n)
{
	switch (n) {
	case 0: return 0;
	case 1: return p[0];
	case 2: return (uint64_t)p[0] | (uint64_t)p[1] << 8;
	case 4: return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
		       (uint64_t)p[3] << 24;
	default: {
		uint64_t v = 0;

		for (unsigned i = 0; i < n; i++)
			v |= (uint64_t)p[i] << (8 * i);
		return v;
	}
	}
}

static inline int64_t sign_extend(uint64_t v, unsigned bytes)
{
	switch (bytes) {
	case 1: return (int8_t)v;
	case 2: return (int16_t)v;
	case 4: return (int32_t)v;
	default: return (int64_t)v;
	}
}

/* 16-bit addressing: ModRM.rm -> base and index (BX=3, BP=5, SI=6, DI=7).
 * BP-based forms have base 5 so the default segment rule (SS for a
 * RSP/RBP base) applies unchanged. */
static const uint8_t base16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
static const uint8_t index16[8] = { 6, 7, 6, 7, INSN_NO_REG, INSN_NO_REG, INSN_NO_REG, INSN_NO_REG };

/* Make sure bytes [pos, pos + n) exist: beyond 15 is invalid whatever is
 * available; beyond avail needs more bytes. */
#define NEED(n)                                                                      \
	do {                                                                         \
		if (pos + (n) > lim)                                                 \
			return pos + (n) > INSN_MAX_LEN ? DECODE_INVALID : DECODE_NEED_MORE; \
	} while (0)

enum decode_status emu_decode(struct insn *out, const uint8_t *p, size_t avail,
			      enum emu_mode mode)
{
	const bool long64 = mode == EMU_MODE_LONG64;
	const unsigned def = (mode == EMU_MODE_REAL || mode == EMU_MODE_PROT16) ? 2 : 4;
	const size_t lim = avail < INSN_MAX_LEN ? avail : INSN_MAX_LEN;
	size_t pos = 0;
	unsigned pfx = 0, rex = 0, seg = INSN_NO_SEG, rep = SSE_NONE;
	unsigned map = MAP_PRIMARY, op;
	uint16_t d;

	/* Legacy prefixes and REX, in any order and any number (the 15-byte
	 * limit bounds the loop). A REX counts only right before the opcode. */
	for (;;) {
		NEED(1);
		op = p[pos];
		d = emu_decode_table[MAP_PRIMARY][op];
		if (d & DEC_PREFIX) {
			switch (op) {
			case 0x26: case 0x2e: case 0x36: case 0x3e:
				/* ES/CS/SS/DS (0x26 + 8 * sreg); no effect in 64-bit mode. */
				if (!long64)
					seg = (op >> 3) & 3;
				break;
			case 0x64: case 0x65: seg = op - 0x60; break;
			case 0x66: pfx |= PFX_OPSIZE; break;
			case 0x67: pfx |= PFX_ADSIZE; break;
			case 0xf0: pfx |= PFX_LOCK; break;
			case 0xf2: pfx = (pfx & ~PFX_REP) | PFX_REPNE; rep = SSE_F2; break;
			case 0xf3: pfx = (pfx & ~PFX_REPNE) | PFX_REP; rep = SSE_F3; break;
			}
			rex = 0;
		} else if ((d & DEC_REXLIKE) && long64) {
			rex = op;
		} else {
			break;
		}
		pos++;
	}
	pos++;

	/* Escapes to the two- and three-byte maps. */
	if (d & DEC_ESCAPE) {
		NEED(1);
		op = p[pos++];
		map = MAP_0F;
		d = emu_decode_table[MAP_0F][op];
		if (d & DEC_ESCAPE) {
			NEED(1);
			map = op == 0x38 ? MAP_0F38 : MAP_0F3A;
			op = p[pos++];
			d = emu_decode_table[map][op];
		}
	}
	if ((d & DEC_UD) || (long64 && (d & DEC_I64)))
		return DECODE_INVALID;

	unsigned opsize = (pfx & PFX_OPSIZE) ? 6 - def : def;
	unsigned adsize = long64 ? ((pfx & PFX_ADSIZE) ? 4 : 8)
				 : ((pfx & PFX_ADSIZE) ? 6 - def : def);
	unsigned modrm = 0, mod = 0, reg = 0, rm = 0;
	unsigned base = INSN_NO_REG, index = INSN_NO_REG, scale = 1, disp_len = 0;
	bool rip_rel = false;

	if (d & DEC_MODRM) {
		NEED(1);
		modrm = p[pos++];
		mod = modrm >> 6;
		reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
		rm = (modrm & 7) | ((rex & 1) << 3);
		/* C4/C5/62 with a register operand are VEX/EVEX prefixes
		 * (in 64-bit mode they already failed as DEC_I64). */
		if ((d & DEC_VEXLIKE) && mod == 3)
			return DECODE_INVALID;
		/* MOV CR/DR ignore mod: always a register. */
		if (d & DEC_CRDR)
			mod = 3;
		if (mod == 3) {
			/* register operand: nothing more */
		} else if (adsize == 2) {
			unsigned r = modrm & 7;

			if (mod == 0 && r == 6) {
				disp_len = 2;
			} else {
				base = base16[r];
				index = index16[r];
				disp_len = mod;  /* mod 1: disp8, mod 2: disp16 */
			}
		} else {
			if ((modrm & 7) == 4) {
				NEED(1);
				unsigned sib = p[pos++];
				unsigned i = ((sib >> 3) & 7) | ((rex & 2) << 2);

				scale = 1u << (sib >> 6);
				index = i == 4 ? INSN_NO_REG : i;  /* r12 (REX.X) is an index */
				if ((sib & 7) == 5 && mod == 0)
					disp_len = 4;              /* no base, disp32 */
				else
					base = (sib & 7) | ((rex & 1) << 3);
			} else if ((modrm & 7) == 5 && mod == 0) {
				disp_len = 4;                      /* disp32 or RIP + disp32 */
				rip_rel = long64;
			} else {
				base = rm;
			}
			if (mod == 1)
				disp_len = 1;
			else if (mod == 2)
				disp_len = 4;
		}
	}

	/* Operand size: REX.W beats 66; the 64-bit defaults (decode.h). */
	if (long64) {
		unsigned digit = (modrm >> 3) & 7;

		if (rex & 8)
			opsize = 8;
		else if (d & (DEC_F64 | DEC_CRDR))
			opsize = 8;
		else if (d & DEC_D64)
			opsize = (pfx & PFX_OPSIZE) ? 2 : 8;
		else if (d & DEC_GRP5) {
			if (digit == 2 || digit == 4)
				opsize = 8;              /* CALL/JMP near r/m */
			else if (digit == 6 && !(pfx & PFX_OPSIZE))
				opsize = 8;              /* PUSH r/m */
		}
	} else if (d & DEC_CRDR) {
		opsize = 4;
	}

	unsigned imm_len = 0, imm2_len = 0;
	bool imm_signed = false;

	switch (d & DEC_IMM_MASK) {
	case IMM_NONE: break;
	case IMM_IB: imm_len = 1; break;
	case IMM_IBS: imm_len = 1; imm_signed = true; break;
	case IMM_IW: imm_len = 2; break;
	case IMM_IZ: imm_len = opsize == 2 ? 2 : 4; imm_signed = true; break;
	case IMM_IV: imm_len = opsize; break;
	case IMM_AP: imm_len = opsize == 2 ? 2 : 4; imm2_len = 2; break;
	case IMM_MOFFS: imm_len = adsize; break;
	case IMM_ENTER: imm_len = 2; imm2_len = 1; break;
	case IMM_GRP3B:
		if (((modrm >> 3) & 7) < 2)
			imm_len = 1;
		break;
	case IMM_GRP3Z:
		if (((modrm >> 3) & 7) < 2) {
			imm_len = opsize == 2 ? 2 : 4;
			imm_signed = true;
		}
		break;
	}

	NEED(disp_len + imm_len + imm2_len);
	int64_t disp = disp_len ? sign_extend(load_le(p + pos, disp_len), disp_len) : 0;
	pos += disp_len;
	uint64_t imm = load_le(p + pos, imm_len);
	if (imm_signed)
		imm = (uint64_t)sign_extend(imm, imm_len);
	pos += imm_len;
	uint64_t imm2 = load_le(p + pos, imm2_len);
	pos += imm2_len;

	out->len = (uint8_t)pos;
	out->map = (uint8_t)map;
	out->op = (uint8_t)op;
	out->prefixes = (uint8_t)pfx;
	out->sse_prefix = (uint8_t)(rep != SSE_NONE ? rep : (pfx & PFX_OPSIZE) ? SSE_66 : SSE_NONE);
	out->seg = (uint8_t)seg;
	out->rex = (uint8_t)rex;
	out->opsize = (uint8_t)opsize;
	out->adsize = (uint8_t)adsize;
	out->has_modrm = (d & DEC_MODRM) != 0;
	out->mod = (uint8_t)mod;
	out->reg = (uint8_t)reg;
	out->rm = (uint8_t)rm;
	out->base = (uint8_t)base;
	out->index = (uint8_t)index;
	out->scale = (uint8_t)scale;
	out->rip_relative = rip_rel;
	out->disp = disp;
	out->imm = imm;
	out->imm2 = imm2;
	out->next_rip = 0;
	return DECODE_OK;
}
