/* The generator of the translator's random test cases: see jit_case.h
 * and the top of test_jit.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jit_case.h"
#include "vmm/emu/exec.h"
#include "vmm/emu/flags.h"

/* ---- the generator --------------------------------------------------------- */

struct gen {
	uint64_t rng;
	struct jcase *k;
	uint16_t reserved;             /* registers no instruction may write */
	uint64_t regs[16];             /* initial values (those of the reserved ones matter) */
	bool in_sub;                   /* in a subroutine: nothing that moves RSP */
	int wild;                      /* >= 0: memory operands are [this + disp8] */
	unsigned nsubs;
	struct {
		unsigned at;           /* offset of a rel32/disp32 to the subroutine */
		unsigned end;          /* offset of the end of its instruction */
	} fix[64];
};

static uint64_t rnd64(struct gen *g)
{
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545f4914f6cdd1dull;
}

static unsigned rnd(struct gen *g, unsigned n)
{
	return n ? (unsigned)(rnd64(g) % n) : 0;
}

static bool chance(struct gen *g, unsigned percent)
{
	return rnd(g, 100) < percent;
}

/* A value of size bytes, often one of those at the edges of arithmetic. */
static uint64_t value(struct gen *g, unsigned size)
{
	uint64_t m = size_mask(size), top = 1ull << (8 * size - 1);

	switch (rnd(g, 10)) {
	case 0: return 0;
	case 1: return rnd(g, 4);
	case 2: return m;
	case 3: return top;
	case 4: return top - 1;
	case 5: return (top + (uint64_t)((int64_t)rnd(g, 5) - 2)) & m;
	case 6: return (1ull << rnd(g, 8 * size)) & m;
	case 7: return (0 - (uint64_t)rnd(g, 8)) & m;
	default: return rnd64(g) & m;
	}
}

/* ---- encoding ---- */

enum mform { MF_BASE, MF_BASE_INDEX, MF_INDEX, MF_ABS, MF_RIP };

/* One instruction, as fields. */
struct ins {
	uint8_t pfx[6];
	unsigned npfx;
	bool w, rex;                   /* REX.W; a REX even when no bit is needed */
	uint8_t opc[3];
	unsigned nopc;
	bool opreg;                    /* a register in the opcode's low bits */
	unsigned oreg;
	bool modrm;
	unsigned reg;                  /* register 0..15 or /digit */
	bool mem;
	unsigned rm;                   /* the register when !mem */
	enum mform form;
	unsigned base, index, scale;
	int64_t disp;
	unsigned disp_len;             /* 0, 1, 4 */
	bool rip_to;                   /* MF_RIP: disp reaches rip_target */
	uint64_t rip_target;
	uint64_t imm;
	unsigned imm_len;
	/* Registers written, as encoded (the REX decides what 4..7 are for
	 * bytes), and registers written whatever the encoding. */
	struct { uint8_t reg, size; } wr[3];
	unsigned nwr;
	uint16_t wr_full;
};

static void pfx(struct ins *in, uint8_t p)
{
	in->pfx[in->npfx++] = p;
}

static void opc1(struct ins *in, uint8_t o)
{
	in->opc[0] = o;
	in->nopc = 1;
}

static void opc2(struct ins *in, uint8_t o)
{
	in->opc[0] = 0x0f;
	in->opc[1] = o;
	in->nopc = 2;
}

static void wr(struct ins *in, unsigned reg, unsigned size)
{
	in->wr[in->nwr].reg = (uint8_t)reg;
	in->wr[in->nwr].size = (uint8_t)size;
	in->nwr++;
}

static bool has_base(const struct ins *in)
{
	return in->form == MF_BASE || in->form == MF_BASE_INDEX;
}

static bool has_index(const struct ins *in)
{
	return in->form == MF_BASE_INDEX || in->form == MF_INDEX;
}

static unsigned rex_bits(const struct ins *in)
{
	unsigned rex = in->w ? 8 : 0;

	if (in->modrm && (in->reg & 8))
		rex |= 4;
	if (in->modrm && !in->mem && (in->rm & 8))
		rex |= 1;
	if (in->modrm && in->mem && has_base(in) && (in->base & 8))
		rex |= 1;
	if (in->modrm && in->mem && has_index(in) && (in->index & 8))
		rex |= 2;
	if (in->opreg && (in->oreg & 8))
		rex |= 1;
	return rex;
}

static bool has_rex(const struct ins *in)
{
	return in->rex || rex_bits(in);
}

/* Bytes of in at linear address addr; returns the length. */
static unsigned encode(const struct ins *in, uint64_t addr, uint8_t *out)
{
	unsigned n = 0, rex = rex_bits(in), disp_at = 0;

	for (unsigned i = 0; i < in->npfx; i++)
		out[n++] = in->pfx[i];
	if (rex || in->rex)
		out[n++] = (uint8_t)(0x40 | rex);
	for (unsigned i = 0; i < in->nopc; i++)
		out[n++] = in->opc[i];
	if (in->opreg)
		out[n - 1] = (uint8_t)(out[n - 1] + (in->oreg & 7));
	if (in->modrm) {
		unsigned reg = (in->reg & 7) << 3, ss = in->scale == 8 ? 3 : in->scale == 4 ? 2 :
			       in->scale == 2 ? 1 : 0;
		unsigned mod = in->disp_len == 0 ? 0 : in->disp_len == 1 ? 0x40 : 0x80;

		if (!in->mem) {
			out[n++] = (uint8_t)(0xc0 | reg | (in->rm & 7));
		} else {
			switch (in->form) {
			case MF_BASE:
				if ((in->base & 7) == RSP) {
					out[n++] = (uint8_t)(mod | reg | 4);
					out[n++] = (uint8_t)(4 << 3 | RSP);
				} else {
					out[n++] = (uint8_t)(mod | reg | (in->base & 7));
				}
				break;
			case MF_BASE_INDEX:
				out[n++] = (uint8_t)(mod | reg | 4);
				out[n++] = (uint8_t)(ss << 6 | (in->index & 7) << 3 |
						     (in->base & 7));
				break;
			case MF_INDEX:
				out[n++] = (uint8_t)(reg | 4);
				out[n++] = (uint8_t)(ss << 6 | (in->index & 7) << 3 | 5);
				break;
			case MF_ABS:
				out[n++] = (uint8_t)(reg | 4);
				out[n++] = (uint8_t)(4 << 3 | 5);
				break;
			case MF_RIP:
				out[n++] = (uint8_t)(reg | 5);
				break;
			}
			disp_at = n;
			for (unsigned i = 0; i < in->disp_len; i++)
				out[n++] = (uint8_t)(in->disp >> (8 * i));
		}
	}
	for (unsigned i = 0; i < in->imm_len; i++)
		out[n++] = (uint8_t)(in->imm >> (8 * i));
	if (in->modrm && in->mem && in->form == MF_RIP && in->rip_to) {
		/* Relative to the end of the instruction, immediates included;
		 * under 67 the sum is truncated to 32 bits. */
		uint32_t d = (uint32_t)(in->rip_target - (addr + n));

		for (unsigned i = 0; i < 4; i++)
			out[disp_at + i] = (uint8_t)(d >> (8 * i));
	}
	return n;
}

/* The register a byte/word/... operand reg of size names. */
static unsigned actual_reg(unsigned reg, unsigned size, bool rex)
{
	return size == 1 && !rex && reg >= 4 && reg < 8 ? reg - 4 : reg;
}

static bool writes_allowed(const struct gen *g, const struct ins *in)
{
	bool rex = has_rex(in);

	if (in->wr_full & g->reserved)
		return false;
	for (unsigned i = 0; i < in->nwr; i++)
		if (g->reserved & (1u << actual_reg(in->wr[i].reg, in->wr[i].size, rex)))
			return false;
	return true;
}

static uint64_t here(const struct gen *g)
{
	return g->k->base + g->k->len;
}

static void emit_bytes(struct gen *g, const uint8_t *b, unsigned n)
{
	assert_true(g->k->len + n <= CODE_MAX);
	memcpy(g->k->code + g->k->len, b, n);
	g->k->len += n;
}

/* Encode in at the current end of the code; false when it would be
 * longer than 15 bytes or write a reserved register (the caller then
 * tries another). */
static bool emit(struct gen *g, const struct ins *in)
{
	uint8_t b[32];
	unsigned n = encode(in, here(g), b);

	if (n > INSN_MAX_LEN || !writes_allowed(g, in))
		return false;
	emit_bytes(g, b, n);
	return true;
}

/* ---- operands ---- */

static unsigned rsize(struct gen *g)
{
	return 1u << rnd(g, 4);
}

static unsigned wsize(struct gen *g)
{
	return 2u << rnd(g, 3);
}

/* The operand size prefixes of a non-byte size (66, REX.W), and now and
 * then a REX with no bit set (SPL..DIL for bytes, nothing otherwise). */
static void set_size(struct gen *g, struct ins *in, unsigned size)
{
	if (size == 2)
		pfx(in, 0x66);
	if (size == 8)
		in->w = true;
	if (chance(g, 15))
		in->rex = true;
}

static bool fits8(int64_t v)
{
	return v >= -128 && v <= 127;
}

/* The displacement's length for disp with the chosen form. */
static void pick_disp_len(struct gen *g, struct ins *in)
{
	if (!has_base(in)) {
		in->disp_len = 4;
		return;
	}
	if (in->disp == 0 && (in->base & 7) != RBP && chance(g, 60))
		in->disp_len = 0;
	else if (fits8(in->disp) && chance(g, 75))
		in->disp_len = 1;
	else
		in->disp_len = 4;
}

/* A linear address for an operand of size bytes: mostly in the ordinary
 * data, sometimes across a page boundary, in MMIO, in the code region
 * clear of the case's own code (a page blocks were decoded from, or may
 * be: the translator's stores check that inline), or on the special
 * pages, where some accesses fault. */
static uint64_t pick_target(struct gen *g, unsigned size)
{
	unsigned r = rnd(g, 1000);
	uint64_t clear = g->k->base + 0x800;

	if (r < 4)
		return HOLE + rnd(g, 0x1000 - size + 1);
	if (r < 14)
		return RO_PAGE + rnd(g, 0x1000 - size + 1);
	if (r < 24)
		return SUP_PAGE + rnd(g, 0x1000 - size + 1);
	if (r < 30 && size > 1) {
		/* across into the read-only, the supervisor, the absent page */
		uint64_t edge = RO_PAGE + 0x1000 * rnd(g, 3);

		return edge - 1 - rnd(g, size - 1);
	}
	if (r < 50)
		return MMIO_PAGE + rnd(g, 0x1000 - size + 1);
	if (r < 65)
		return clear + rnd(g, (unsigned)(CODE + CODE_SIZE - clear) - size + 1);
	if (r < 220) {
		uint64_t edge = DATA + 0x1000 * (1 + rnd(g, 12));

		return size > 1 ? edge - 1 - rnd(g, size - 1) : edge - rnd(g, 2);
	}
	return DATA + rnd(g, (unsigned)(RW_END - DATA) - size + 1);
}

/* Make in's r/m a memory operand at linear address t, in one of the
 * addressing forms, through the reserved registers. */
static void mem_at(struct gen *g, struct ins *in, uint64_t t)
{
	uint64_t seg_base = 0, ea, b = g->regs[g->k->rb], h = g->regs[g->k->rh];
	int64_t x = (int64_t)g->regs[g->k->rx];
	unsigned r = rnd(g, 20), f = rnd(g, 100);

	in->modrm = true;
	in->mem = true;
	/* FS and GS add their bases; ES, CS, SS and DS do nothing here. */
	if (r == 0) {
		pfx(in, 0x64);
		seg_base = FS_BASE;
	} else if (r == 1) {
		pfx(in, 0x65);
		seg_base = GS_BASE;
	} else if (r == 2) {
		static const uint8_t nop_seg[4] = { 0x26, 0x2e, 0x36, 0x3e };

		pfx(in, nop_seg[rnd(g, 4)]);
	}
	ea = t - seg_base;
	in->scale = 1u << rnd(g, 4);
	if (f < 14) {
		/* 67: the effective address is computed in 32 bits (and
		 * ea < 4 GiB here), so the base may have garbage above. */
		pfx(in, 0x67);
		switch (rnd(g, 4)) {
		case 0:
			in->form = MF_BASE;
			in->base = (unsigned)g->k->rh;
			in->disp = (int32_t)(uint32_t)(ea - h);
			break;
		case 1:
			in->form = MF_BASE_INDEX;
			in->base = (unsigned)g->k->rh;
			in->index = (unsigned)g->k->rx;
			in->disp = (int32_t)(uint32_t)(ea - h - (uint64_t)x * in->scale);
			break;
		case 2:
			in->form = MF_BASE;
			in->base = (unsigned)g->k->rb;
			in->disp = (int32_t)(uint32_t)(ea - b);
			break;
		default:
			in->form = MF_RIP;
			in->rip_to = true;
			in->rip_target = ea;
			break;
		}
	} else if (f < 40) {
		in->form = MF_BASE;
		in->base = (unsigned)g->k->rb;
		in->disp = (int64_t)(ea - b);
	} else if (f < 65) {
		in->form = MF_BASE_INDEX;
		in->base = (unsigned)g->k->rb;
		in->index = (unsigned)g->k->rx;
		in->disp = (int64_t)(ea - b - (uint64_t)x * in->scale);
	} else if (f < 75) {
		in->form = MF_INDEX;
		in->index = (unsigned)g->k->rx;
		in->disp = (int64_t)(ea - (uint64_t)x * in->scale);
	} else if (f < 80) {
		in->form = MF_ABS;
		in->disp = (int64_t)ea;
	} else {
		in->form = MF_RIP;
		in->rip_to = true;
		in->rip_target = ea;
	}
	assert_true(in->disp >= INT32_MIN && in->disp <= INT32_MAX);
	pick_disp_len(g, in);
}

/* A memory operand of size bytes: somewhere picked, or near RSP. */
static void mem_operand(struct gen *g, struct ins *in, unsigned size)
{
	if (g->wild >= 0) {
		in->modrm = true;
		in->mem = true;
		in->form = MF_BASE;
		in->base = (unsigned)g->wild;
		in->disp = (int)rnd(g, 16) - 8;
		pick_disp_len(g, in);
		return;
	}
	if (!g->in_sub && chance(g, 8)) {
		/* [rsp + disp8]: wherever RSP has moved to, still in the
		 * stack pages. */
		in->modrm = true;
		in->mem = true;
		in->form = MF_BASE;
		in->base = RSP;
		in->disp = (int)rnd(g, 128) - 64;
		pick_disp_len(g, in);
		return;
	}
	mem_at(g, in, pick_target(g, size));
}

/* The r/m operand: a register (written when write) or, percent of the
 * time, memory. */
static void rm_operand(struct gen *g, struct ins *in, unsigned size, bool write, unsigned percent)
{
	in->modrm = true;
	if (chance(g, percent)) {
		mem_operand(g, in, size);
		return;
	}
	in->rm = rnd(g, 16);
	if (write)
		wr(in, in->rm, size);
}

/* An addressing form with any registers: for LEA and NOP, which compute
 * an address and access nothing. */
static void any_address(struct gen *g, struct ins *in)
{
	in->modrm = true;
	in->mem = true;
	in->form = (enum mform)rnd(g, 5);
	in->base = rnd(g, 16);
	do
		in->index = rnd(g, 16);
	while (in->index == RSP);
	in->scale = 1u << rnd(g, 4);
	in->disp = chance(g, 50) ? (int)rnd(g, 256) - 128 : (int32_t)value(g, 4);
	if (in->form == MF_RIP && chance(g, 50))
		in->disp = 0;
	if (chance(g, 15))
		pfx(in, 0x67);
	if (chance(g, 5))
		pfx(in, 0x64);
	pick_disp_len(g, in);
}

static unsigned count_imm(struct gen *g)
{
	static const uint8_t counts[] = {
		0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 0xff,
	};

	return chance(g, 25) ? rnd(g, 256) : counts[rnd(g, sizeof(counts))];
}

/* ---- instruction kinds ---- */

static void g_mov(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g);

	set_size(g, in, size);
	switch (rnd(g, 4)) {
	case 0:                                     /* 88 89: r/m, reg */
		opc1(in, size == 1 ? 0x88 : 0x89);
		in->reg = rnd(g, 16);
		rm_operand(g, in, size, true, 50);
		break;
	case 1:                                     /* 8A 8B: reg, r/m */
		opc1(in, size == 1 ? 0x8a : 0x8b);
		in->reg = rnd(g, 16);
		wr(in, in->reg, size);
		rm_operand(g, in, size, false, 50);
		break;
	case 2:                                     /* C6 C7 /0: r/m, imm */
		opc1(in, size == 1 ? 0xc6 : 0xc7);
		in->reg = 0;
		rm_operand(g, in, size, true, 50);
		in->imm_len = size == 1 ? 1 : size == 2 ? 2 : 4;
		in->imm = value(g, in->imm_len);
		break;
	default:                                    /* B0-BF: reg, imm (imm64 with REX.W) */
		opc1(in, size == 1 ? 0xb0 : 0xb8);
		in->opreg = true;
		in->oreg = rnd(g, 16);
		wr(in, in->oreg, size);
		in->imm_len = size;
		in->imm = value(g, size);
		break;
	}
}

static void g_lea(struct gen *g, struct ins *in)
{
	unsigned size = wsize(g);

	set_size(g, in, size);
	opc1(in, 0x8d);
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	any_address(g, in);
}

static void g_movx(struct gen *g, struct ins *in)
{
	static const uint8_t ops[4] = { 0xb6, 0xb7, 0xbe, 0xbf };
	uint8_t op = ops[rnd(g, 4)];
	unsigned size = wsize(g);

	set_size(g, in, size);
	opc2(in, op);
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	rm_operand(g, in, (op & 1) ? 2 : 1, false, 40);
}

static void g_movsxd(struct gen *g, struct ins *in)
{
	/* Without REX.W it is a 32-bit move, which is not translated. */
	unsigned size = chance(g, 85) ? 8 : 4;

	set_size(g, in, size);
	opc1(in, 0x63);
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	rm_operand(g, in, 4, false, 40);
}

static void maybe_lock(struct gen *g, struct ins *in, unsigned percent)
{
	if (in->mem && chance(g, percent))
		pfx(in, 0xf0);
}

/* 00-3D: ADD OR ADC SBB AND SUB XOR CMP in their six forms. */
static void g_alu(struct gen *g, struct ins *in)
{
	unsigned n = rnd(g, 8), form = rnd(g, 6);
	unsigned size = form == 4 ? 1 : form == 5 ? wsize(g) : rsize(g);

	set_size(g, in, size);
	opc1(in, (uint8_t)(n * 8 + (form < 4 ? (form & 2) + (size == 1 ? 0 : 1) : form)));
	switch (form) {
	case 0: case 1:
		in->reg = rnd(g, 16);
		rm_operand(g, in, size, n != 7, 45);
		if (n != 7)
			maybe_lock(g, in, 12);
		break;
	case 2: case 3:
		in->reg = rnd(g, 16);
		if (n != 7)
			wr(in, in->reg, size);
		rm_operand(g, in, size, false, 45);
		break;
	default:
		in->imm_len = size == 1 ? 1 : size == 2 ? 2 : 4;
		in->imm = value(g, in->imm_len);
		if (n != 7)
			wr(in, RAX, size);
		break;
	}
}

/* 80 81 83: group 1 with an immediate. */
static void g_grp1(struct gen *g, struct ins *in)
{
	static const uint8_t ops[3] = { 0x80, 0x81, 0x83 };
	uint8_t op = ops[rnd(g, 3)];
	unsigned n = rnd(g, 8), size = op == 0x80 ? 1 : wsize(g);

	set_size(g, in, size);
	opc1(in, op);
	in->reg = n;
	rm_operand(g, in, size, n != 7, 45);
	if (n != 7)
		maybe_lock(g, in, 12);
	in->imm_len = op == 0x81 ? (size == 2 ? 2 : 4) : 1;
	in->imm = value(g, in->imm_len);
}

/* 84 85, A8 A9, F6 F7 /0 (/1, its alias). */
static void g_test(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g);

	set_size(g, in, size);
	switch (rnd(g, 3)) {
	case 0:
		opc1(in, size == 1 ? 0x84 : 0x85);
		in->reg = rnd(g, 16);
		rm_operand(g, in, size, false, 40);
		return;
	case 1:
		opc1(in, size == 1 ? 0xa8 : 0xa9);
		break;
	default:
		opc1(in, size == 1 ? 0xf6 : 0xf7);
		in->reg = chance(g, 85) ? 0 : 1;
		rm_operand(g, in, size, false, 40);
		break;
	}
	in->imm_len = size == 1 ? 1 : size == 2 ? 2 : 4;
	in->imm = value(g, in->imm_len);
}

/* FE FF /0 /1 (INC DEC) and F6 F7 /2 /3 (NOT NEG): read-modify-write of
 * r/m. */
static void g_unary(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g);
	bool incdec = chance(g, 55);

	set_size(g, in, size);
	opc1(in, (uint8_t)((incdec ? 0xfe : 0xf6) + (size == 1 ? 0 : 1)));
	in->reg = (incdec ? 0 : 2) + rnd(g, 2);
	rm_operand(g, in, size, true, 45);
	maybe_lock(g, in, 12);
}

/* F6 F7 /4 /5 (MUL IMUL), rarely /6 /7 (DIV IDIV: not translated, and
 * they raise #DE on many random inputs). */
static void g_mul1(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g);

	set_size(g, in, size);
	opc1(in, size == 1 ? 0xf6 : 0xf7);
	in->reg = (chance(g, 94) ? 4 : 6) + rnd(g, 2);
	rm_operand(g, in, size, false, 40);
	in->wr_full = (1u << RAX) | (size == 1 ? 0 : 1u << RDX);
}

/* 0F AF, 69, 6B. */
static void g_imul(struct gen *g, struct ins *in)
{
	unsigned size = wsize(g), form = rnd(g, 3);

	set_size(g, in, size);
	if (form == 0)
		opc2(in, 0xaf);
	else
		opc1(in, form == 1 ? 0x69 : 0x6b);
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	rm_operand(g, in, size, false, 40);
	if (form == 1)
		in->imm_len = size == 2 ? 2 : 4;
	else if (form == 2)
		in->imm_len = 1;
	in->imm = value(g, in->imm_len ? in->imm_len : 1);
}

/* C0 C1 D0 D1 D2 D3: ROL ROR RCL RCR SHL SHR SAR, and SAL (/6, not
 * translated). Immediate counts include 0 and counts that mask to 0. */
static void g_shift(struct gen *g, struct ins *in)
{
	static const uint8_t ops[6] = { 0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3 };
	static const uint8_t digits[7] = { 0, 1, 2, 3, 4, 5, 7 };
	uint8_t op = ops[rnd(g, 6)];
	unsigned size = (op & 1) ? wsize(g) : 1;

	set_size(g, in, size);
	opc1(in, op);
	in->reg = chance(g, 95) ? digits[rnd(g, 7)] : 6;
	rm_operand(g, in, size, true, 35);
	if (op < 0xd0) {
		in->imm_len = 1;
		in->imm = count_imm(g);
	}
}

/* 0F 90-9F: SETcc r/m8 (the memory form is not translated). */
static void g_setcc(struct gen *g, struct ins *in)
{
	set_size(g, in, 1);
	opc2(in, (uint8_t)(0x90 + rnd(g, 16)));
	in->reg = chance(g, 80) ? 0 : rnd(g, 8);
	rm_operand(g, in, 1, true, 12);
}

/* 0F 40-4F: CMOVcc. */
static void g_cmov(struct gen *g, struct ins *in)
{
	unsigned size = wsize(g);

	set_size(g, in, size);
	opc2(in, (uint8_t)(0x40 + rnd(g, 16)));
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	rm_operand(g, in, size, false, 35);
}

/* 50-5F, 68, 6A; 16-bit pushes and pops (66) are not translated. */
static void g_pushpop(struct gen *g, struct ins *in)
{
	unsigned kind = rnd(g, 5);
	bool o16 = chance(g, 5);

	if (o16)
		pfx(in, 0x66);
	if (chance(g, 10))
		in->rex = true;
	if (kind < 2) {
		opc1(in, 0x50);
		in->opreg = true;
		in->oreg = rnd(g, 16);
	} else if (kind < 4) {
		opc1(in, 0x58);
		in->opreg = true;
		in->oreg = rnd(g, 16);
		wr(in, in->oreg, o16 ? 2 : 8);
	} else if (chance(g, 50)) {
		opc1(in, 0x6a);
		in->imm_len = 1;
		in->imm = value(g, 1);
	} else {
		opc1(in, 0x68);
		in->imm_len = o16 ? 2 : 4;
		in->imm = value(g, in->imm_len);
	}
}

/* 98 (CBW CWDE CDQE), 99 (CWD CDQ CQO). */
static void g_convert(struct gen *g, struct ins *in)
{
	bool cwd = chance(g, 50);

	set_size(g, in, wsize(g));
	opc1(in, cwd ? 0x99 : 0x98);
	in->wr_full = 1u << (cwd ? RDX : RAX);
}

/* 90 (66 90, F3 90: PAUSE), 0F 1F /0 with any address (nothing is
 * accessed). */
static void g_nop(struct gen *g, struct ins *in)
{
	switch (rnd(g, 4)) {
	case 0:
		opc1(in, 0x90);
		break;
	case 1:
		pfx(in, chance(g, 50) ? 0x66 : 0xf3);
		opc1(in, 0x90);
		break;
	default:
		set_size(g, in, wsize(g));
		opc2(in, 0x1f);
		in->reg = 0;
		if (chance(g, 70)) {
			any_address(g, in);
		} else {
			in->modrm = true;
			in->rm = rnd(g, 16);
		}
		break;
	}
}

/* ---- kinds left to the interpreter's handlers ---- */

/* 0F BC BD: BSF BSR. */
static void g_bsf(struct gen *g, struct ins *in)
{
	unsigned size = wsize(g);

	set_size(g, in, size);
	opc2(in, chance(g, 50) ? 0xbc : 0xbd);
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	rm_operand(g, in, size, false, 30);
}

/* 86 87 (with memory: locked), 91-97 and REX.B 90: XCHG. */
static void g_xchg(struct gen *g, struct ins *in)
{
	unsigned size;

	if (chance(g, 60)) {
		size = rsize(g);
		set_size(g, in, size);
		opc1(in, size == 1 ? 0x86 : 0x87);
		in->reg = rnd(g, 16);
		wr(in, in->reg, size);
		rm_operand(g, in, size, true, 40);
	} else {
		size = wsize(g);
		set_size(g, in, size);
		opc1(in, 0x90);
		in->opreg = true;
		in->oreg = 1 + rnd(g, 15);
		wr(in, in->oreg, size);
		wr(in, RAX, size);
	}
}

/* 0F A3 AB B3 BB (register forms only: a register bit offset reaches
 * memory far from the operand), 0F BA /4-/7 with an immediate. */
static void g_bt(struct gen *g, struct ins *in)
{
	static const uint8_t ops[4] = { 0xa3, 0xab, 0xb3, 0xbb };
	unsigned size = wsize(g), n;

	set_size(g, in, size);
	if (chance(g, 40)) {
		uint8_t op = ops[rnd(g, 4)];

		opc2(in, op);
		in->reg = rnd(g, 16);
		in->modrm = true;
		in->rm = rnd(g, 16);
		if (op != 0xa3)
			wr(in, in->rm, size);
		return;
	}
	opc2(in, 0xba);
	n = 4 + rnd(g, 4);
	in->reg = n;
	rm_operand(g, in, size, n != 4, 40);
	if (n != 4)
		maybe_lock(g, in, 20);
	in->imm_len = 1;
	in->imm = rnd(g, 256);
}

/* 0F C0 C1 (XADD), 0F B0 B1 (CMPXCHG). */
static void g_xadd(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g);
	bool cmpxchg = chance(g, 50);

	set_size(g, in, size);
	opc2(in, (uint8_t)((cmpxchg ? 0xb0 : 0xc0) + (size == 1 ? 0 : 1)));
	in->reg = rnd(g, 16);
	if (cmpxchg)
		in->wr_full = 1u << RAX;
	else
		wr(in, in->reg, size);
	rm_operand(g, in, size, true, 45);
	maybe_lock(g, in, 30);
}

/* 0F C8-CF: BSWAP. */
static void g_bswap(struct gen *g, struct ins *in)
{
	unsigned size = chance(g, 50) ? 4 : 8;

	set_size(g, in, size);
	opc2(in, 0xc8);
	in->opreg = true;
	in->oreg = rnd(g, 16);
	wr(in, in->oreg, size);
}

/* LAHF SAHF CLC STC CMC CLD STD, and PUSHFQ: the flags through the
 * handlers, which must see what translated code left in them. */
static void g_flagop(struct gen *g, struct ins *in)
{
	static const uint8_t ops[8] = { 0x9f, 0x9e, 0xf8, 0xf9, 0xf5, 0xfc, 0xfd, 0x9c };
	uint8_t op = ops[rnd(g, g->in_sub ? 7 : 8)];

	opc1(in, op);
	if (op == 0x9f)
		in->wr_full = 1u << RAX;
}

/* 0F A4 AC (SHLD SHRD imm), 0F A5 AD (by CL). */
static void g_shld(struct gen *g, struct ins *in)
{
	unsigned size = wsize(g);
	uint8_t op = (uint8_t)((chance(g, 50) ? 0xa4 : 0xac) + rnd(g, 2));

	set_size(g, in, size);
	opc2(in, op);
	in->reg = rnd(g, 16);
	rm_operand(g, in, size, true, 30);
	if (!(op & 1)) {
		in->imm_len = 1;
		in->imm = count_imm(g);
	}
}

/* FF /6 (PUSH r/m), 8F /0 (POP r/m). */
static void g_pushpop_rm(struct gen *g, struct ins *in)
{
	bool pop = chance(g, 50);

	if (chance(g, 10))
		in->rex = true;
	opc1(in, pop ? 0x8f : 0xff);
	in->reg = pop ? 0 : 6;
	rm_operand(g, in, 8, pop, 50);
}

/* A0-A3: MOV between rAX and an absolute address (moffs, 8 bytes or 4
 * under 67). */
static void g_moffs(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g), r = rnd(g, 8);
	uint64_t seg_base = 0, t = pick_target(g, size);
	bool load = chance(g, 50);

	if (r == 0) {
		pfx(in, 0x64);
		seg_base = FS_BASE;
	} else if (r == 1) {
		pfx(in, 0x65);
		seg_base = GS_BASE;
	}
	in->imm_len = 8;
	if (chance(g, 20)) {
		pfx(in, 0x67);
		in->imm_len = 4;
	}
	set_size(g, in, size);
	opc1(in, (uint8_t)((load ? 0xa0 : 0xa2) + (size == 1 ? 0 : 1)));
	in->imm = (t - seg_base) & size_mask(in->imm_len);
	if (load)
		wr(in, RAX, size);
}

typedef void (*kind_fn)(struct gen *g, struct ins *in);

static const struct kind {
	kind_fn fn;
	unsigned weight;
	bool moves_rsp;                /* not in subroutines */
} kinds[] = {
	{ g_mov, 14, false },
	{ g_lea, 5, false },
	{ g_movx, 4, false },
	{ g_movsxd, 2, false },
	{ g_alu, 14, false },
	{ g_grp1, 8, false },
	{ g_test, 4, false },
	{ g_unary, 6, false },
	{ g_mul1, 3, false },
	{ g_imul, 4, false },
	{ g_shift, 10, false },
	{ g_setcc, 4, false },
	{ g_cmov, 4, false },
	{ g_pushpop, 7, true },
	{ g_convert, 2, false },
	{ g_nop, 2, false },
	/* left to the handlers */
	{ g_bsf, 1, false },
	{ g_xchg, 2, false },
	{ g_bt, 2, false },
	{ g_xadd, 2, false },
	{ g_bswap, 1, false },
	{ g_flagop, 2, false },
	{ g_shld, 1, false },
	{ g_pushpop_rm, 1, true },
	{ g_moffs, 1, false },
};

/* One instruction of a random kind. */
static void emit_simple(struct gen *g)
{
	unsigned total = 0;

	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!(g->in_sub && kinds[i].moves_rsp))
			total += kinds[i].weight;
	for (;;) {
		unsigned pick = rnd(g, total), i = 0;
		struct ins in;

		for (;; i++) {
			if (g->in_sub && kinds[i].moves_rsp)
				continue;
			if (pick < kinds[i].weight)
				break;
			pick -= kinds[i].weight;
		}
		memset(&in, 0, sizeof(in));
		kinds[i].fn(g, &in);
		if (emit(g, &in))
			return;
	}
}

/* ---- units: an instruction, or a few that belong together ---- */

static unsigned free_reg(struct gen *g)
{
	unsigned r;

	do
		r = rnd(g, 16);
	while ((g->reserved >> r) & 1);
	return r;
}

/* mov r32, imm32 (B8+r). */
static void emit_mov_imm32(struct gen *g, unsigned reg, uint32_t v)
{
	struct ins in = { 0 };

	opc1(&in, 0xb8);
	in.opreg = true;
	in.oreg = reg;
	in.imm = v;
	in.imm_len = 4;
	wr(&in, reg, 4);
	assert_true(emit(g, &in));
}

/* A string instruction (handler) with RDI, RSI and RCX set up (by
 * translated MOVs) to stay in the data: STOS MOVS LODS SCAS CMPS, bytes or
 * wider, with or without REP. */
static unsigned unit_string(struct gen *g)
{
	static const uint8_t ops[5] = { 0xaa, 0xa4, 0xac, 0xae, 0xa6 };
	uint8_t op = ops[rnd(g, 5)];
	unsigned size = rsize(g), n = 1, rep = rnd(g, 3);
	struct ins in = { 0 };

	if (op != 0xac) {
		emit_mov_imm32(g, RDI, (uint32_t)(DATA + 0x1000 + rnd(g, 0xa000)));
		n++;
	}
	if (op == 0xa4 || op == 0xac || op == 0xa6) {
		emit_mov_imm32(g, RSI, (uint32_t)(DATA + 0x1000 + rnd(g, 0xa000)));
		n++;
	}
	if (rep) {
		emit_mov_imm32(g, RCX, rnd(g, 17));
		n++;
		/* F2 is REPNE for SCAS and CMPS, REP for the others. */
		pfx(&in, rep == 1 ? 0xf3 : 0xf2);
	}
	if (size == 2)
		pfx(&in, 0x66);
	in.w = size == 8;
	opc1(&in, (uint8_t)(op + (size == 1 ? 0 : 1)));
	in.wr_full = 1u << RDI | 1u << RSI | 1u << RCX | 1u << RAX;
	assert_true(emit(g, &in));
	return n;
}

/* A forward branch over 0-2 instructions: Jcc rel8 or rel32, JMP, or
 * LOOPNE/LOOPE/LOOP/JRCXZ (which are left to the handlers). */
static unsigned unit_skip(struct gen *g)
{
	unsigned kind = rnd(g, 12), k = rnd(g, 3), at = g->k->len, blen, rel;
	uint8_t b[8];

	if (kind < 6) {
		b[0] = (uint8_t)(0x70 + rnd(g, 16));
		blen = 2;
	} else if (kind < 9) {
		/* now and then with a branch hint (2E, 3E), which changes
		 * nothing */
		unsigned h = chance(g, 20);

		if (h)
			b[0] = chance(g, 50) ? 0x2e : 0x3e;
		b[h] = 0x0f;
		b[h + 1] = (uint8_t)(0x80 + rnd(g, 16));
		blen = 6 + h;
	} else if (kind == 9) {
		b[0] = chance(g, 50) ? 0xeb : 0xe9;
		blen = b[0] == 0xeb ? 2 : 5;
	} else {
		b[0] = (uint8_t)(0xe0 + rnd(g, 4));
		blen = 2;
	}
	g->k->len += blen;
	for (unsigned i = 0; i < k; i++)
		emit_simple(g);
	rel = g->k->len - (at + blen);
	if (blen == 2) {
		assert_true(rel <= 127);
		b[1] = (uint8_t)rel;
	} else {
		for (unsigned i = 0; i < 4; i++)
			b[blen - 4 + i] = (uint8_t)(rel >> (8 * i));
	}
	memcpy(g->k->code + at, b, blen);
	return 1 + k;
}

/* The rel32/disp32 at offset at (its instruction ending at end) is to
 * reach a new subroutine: emit_subs places it after the terminator and
 * patches it. */
static void to_sub(struct gen *g, unsigned at, unsigned end)
{
	assert_true(g->nsubs < sizeof(g->fix) / sizeof(g->fix[0]));
	g->fix[g->nsubs].at = at;
	g->fix[g->nsubs].end = end;
	g->nsubs++;
}

/* lea reg, [rip + disp32]: to a subroutine (sub) or to target. */
static void emit_lea_rip(struct gen *g, unsigned reg, bool sub, uint64_t target)
{
	struct ins in = { 0 };

	in.w = true;
	opc1(&in, 0x8d);
	in.reg = reg;
	in.modrm = true;
	in.mem = true;
	in.form = MF_RIP;
	in.disp_len = 4;
	in.rip_to = !sub;
	in.rip_target = target;
	wr(&in, reg, 8);
	assert_true(emit(g, &in));
	if (sub)
		to_sub(g, g->k->len - 4, g->k->len);
}

/* CALL rel32 (kind 0), CALL through a register (1) or memory (2), JMP
 * through a register (3) or memory (4), the target loaded by a LEA.
 * Calls go to a subroutine that returns; jumps go to the next
 * instruction. */
static unsigned unit_branch(struct gen *g)
{
	unsigned kind = rnd(g, 5), reg = free_reg(g), n = 1;
	bool call = kind < 3;
	struct ins in = { 0 };
	uint64_t slot = 0;

	if (kind == 0) {
		static const uint8_t call_rel[5] = { 0xe8, 0, 0, 0, 0 };

		emit_bytes(g, call_rel, 5);
		to_sub(g, g->k->len - 4, g->k->len);
		return 1;
	}
	/* FF /2 or /4, through reg or through a qword in the data. REX.W
	 * or 66 change nothing: near branches are 64-bit here. */
	opc1(&in, 0xff);
	in.reg = call ? 2 : 4;
	in.w = chance(g, 20);
	if (chance(g, 10))
		pfx(&in, 0x66);
	if (kind == 2 || kind == 4) {
		slot = DATA + 8 * rnd(g, (unsigned)(RW_END - DATA) / 8);
		mem_at(g, &in, slot);
	} else {
		in.modrm = true;
		in.rm = reg;
	}
	if (call) {
		emit_lea_rip(g, reg, true, 0);
	} else {
		/* The jump's length does not depend on where it is. */
		uint8_t tmp[32];
		unsigned jlen = encode(&in, 0, tmp), mlen = 0;

		if (slot) {
			struct ins st = { 0 };

			st.w = true;
			opc1(&st, 0x89);
			st.reg = reg;
			mem_at(g, &st, slot);
			mlen = encode(&st, 0, tmp);
			/* lea (7 bytes), the store, the jump */
			emit_lea_rip(g, reg, false, here(g) + 7 + mlen + jlen);
			assert_true(emit(g, &st));
			n++;
		} else {
			emit_lea_rip(g, reg, false, here(g) + 7 + jlen);
		}
		assert_true(emit(g, &in));
		return n + 2;
	}
	if (slot) {
		struct ins st = { 0 };

		st.w = true;
		opc1(&st, 0x89);
		st.reg = reg;
		mem_at(g, &st, slot);
		assert_true(emit(g, &st));
		n++;
	}
	assert_true(emit(g, &in));
	return n + 1;
}

/* Self-modifying code: a RIP-relative store (MOV, ADD, or a locked ADD,
 * which is left to the handler) into the immediate of a MOV that comes
 * 0-2 instructions later. The block must stop after the store, and the
 * MOV run with its new immediate. Sometimes a store to the same page,
 * before the case's code, comes first: the page is then no longer marked
 * as holding code, but the running block still is code. */
static unsigned unit_smc(struct gen *g)
{
	static const uint8_t forms[4][3] = {
		{ 0xc6, 0x05 }, { 0x66, 0xc7, 0x05 }, { 0x80, 0x05 }, { 0xf0, 0x80, 0x05 },
	};
	static const unsigned nop[4] = { 2, 3, 2, 3 };
	unsigned kind = rnd(g, 4), nsimple = rnd(g, 3), k = nsimple, at, reg = free_reg(g);
	unsigned ilen = kind == 1 ? 2 : 1, slen = nop[kind] + 4 + ilen;
	uint8_t b[12];
	uint64_t imm_at, imm = value(g, ilen);
	uint32_t disp;
	struct ins mov = { 0 };
	uint64_t page = here(g) & ~0xfffull;

	if (g->k->base > page + 24 && chance(g, 30)) {
		uint8_t pre[7] = { 0xc6, 0x05 };
		uint64_t t = page + rnd(g, (unsigned)(g->k->base - page) - 16);

		disp = (uint32_t)(t - (here(g) + 7));
		memcpy(pre + 2, &disp, 4);
		pre[6] = (uint8_t)rnd(g, 256);
		emit_bytes(g, pre, 7);
		k++;
	}
	at = g->k->len;
	g->k->len += slen;
	for (unsigned i = 0; i < nsimple; i++)
		emit_simple(g);
	opc1(&mov, 0xb8);
	mov.opreg = true;
	mov.oreg = reg;
	mov.imm = value(g, 4);
	mov.imm_len = 4;
	wr(&mov, reg, 4);
	imm_at = here(g) + (reg >= 8 ? 2 : 1);
	assert_true(emit(g, &mov));
	disp = (uint32_t)(imm_at + rnd(g, 5 - ilen) - (g->k->base + at + slen));
	memcpy(b, forms[kind], nop[kind]);
	memcpy(b + nop[kind], &disp, 4);
	memcpy(b + nop[kind] + 4, &imm, ilen);
	memcpy(g->k->code + at, b, slen);
	return 2 + k;
}

/* POP RSP: push rsp; pop rsp, or push imm; pop rsp with a new stack
 * pointer (still in the stack pages), which shows the order of the load,
 * the increment and the write. */
static unsigned unit_pop_rsp(struct gen *g)
{
	static const uint8_t same[2] = { 0x54, 0x5c };
	uint8_t b[6] = { 0x68 };
	uint32_t v = (uint32_t)(STACK_TOP - 0x100 + rnd(g, 0x200));

	if (chance(g, 50)) {
		emit_bytes(g, same, 2);
		return 2;
	}
	memcpy(b + 1, &v, 4);
	b[5] = 0x5c;
	emit_bytes(g, b, 6);
	return 2;
}

/* mov r64, imm64, bypassing the reserved-register check (for the loop
 * counter, which only its unit writes). */
static void emit_mov_imm64_raw(struct gen *g, unsigned reg, uint64_t v)
{
	struct ins in = { 0 };
	uint8_t b[16];

	in.w = true;
	opc1(&in, 0xb8);
	in.opreg = true;
	in.oreg = reg;
	in.imm = v;
	in.imm_len = 8;
	emit_bytes(g, b, encode(&in, here(g), b));
}

/* A counted loop: mov rl, n; L: 1-3 instructions; dec rl; jnz L. The
 * block at L runs 2-4 times, translated the first time, re-entered with
 * other registers and flags. */
static unsigned unit_loop(struct gen *g)
{
	unsigned n = 2 + rnd(g, 3), k = 1 + rnd(g, 3), rl = (unsigned)g->k->rl, top;
	uint8_t b[5];
	unsigned len = 0;
	int rel;

	emit_mov_imm64_raw(g, rl, n);
	top = g->k->len;
	for (unsigned i = 0; i < k; i++)
		emit_simple(g);
	if (rl & 8)
		b[len++] = 0x41;
	b[len++] = 0xff;                              /* dec r32 */
	b[len++] = (uint8_t)(0xc8 | (rl & 7));
	rel = (int)top - (int)(g->k->len + len + 2);
	assert_true(rel >= -128);
	b[len++] = 0x75;                              /* jnz top */
	b[len++] = (uint8_t)rel;
	emit_bytes(g, b, len);
	return 3 + k;
}

/* An address far from anything mapped, in a register just loaded: non-
 * canonical (#GP), across the end of the lower canonical half, or
 * canonical but with no page tables (#PF), for one instruction's memory
 * operand. */
static unsigned unit_wild(struct gen *g)
{
	static const uint64_t wild[] = {
		0x0000800000000000ull, 0x00007ffffffffffcull, 0xffff7ffffffffff8ull,
		0xffff800000000000ull, 0x00007ffffffff000ull, 0x8000000000000000ull,
	};
	unsigned r = free_reg(g);
	struct ins in = { 0 };

	in.w = true;
	opc1(&in, 0xb8);
	in.opreg = true;
	in.oreg = r;
	in.imm = wild[rnd(g, sizeof(wild) / sizeof(wild[0]))] + rnd(g, 8);
	in.imm_len = 8;
	wr(&in, r, 8);
	assert_true(emit(g, &in));
	g->wild = (int)r;
	emit_simple(g);
	g->wild = -1;
	return 2;
}

/* call next; pop reg: the get-PC idiom, a call to the very next
 * instruction (its handler returns to the translated code). */
static unsigned unit_get_pc(struct gen *g)
{
	static const uint8_t call_next[5] = { 0xe8, 0, 0, 0, 0 };
	unsigned r = free_reg(g);
	uint8_t pop[2] = { 0x41, (uint8_t)(0x58 | (r & 7)) };

	emit_bytes(g, call_next, 5);
	if (r & 8)
		emit_bytes(g, pop, 2);
	else
		emit_bytes(g, pop + 1, 1);
	return 2;
}

static unsigned emit_unit(struct gen *g)
{
	unsigned r = rnd(g, 100);

	if (r < 76) {
		emit_simple(g);
		return 1;
	}
	if (r < 79)
		return unit_string(g);
	if (r < 80)
		return unit_pop_rsp(g);
	if (r < 87)
		return unit_skip(g);
	if (r < 90)
		return unit_smc(g);
	if (r < 92)
		return unit_loop(g);
	if (r < 93)
		return unit_wild(g);
	if (r < 94)
		return unit_get_pc(g);
	return unit_branch(g);
}

/* HLT, or (always at CPL 3, where HLT faults) OUT to a port, which ends
 * the run, then a jump to itself that the run stops at. */
static void emit_terminator(struct gen *g)
{
	static const uint8_t hlt = 0xf4, spin[2] = { 0xeb, 0xfe };

	if (!g->k->user && chance(g, 50)) {
		emit_bytes(g, &hlt, 1);
		return;
	}
	switch (rnd(g, 4)) {
	case 0: emit_bytes(g, (const uint8_t[]){ 0xe6, 0xe9 }, 2); break;        /* out 0xe9, al */
	case 1: emit_bytes(g, (const uint8_t[]){ 0xe7, 0x80 }, 2); break;        /* out 0x80, eax */
	case 2: emit_bytes(g, (const uint8_t[]){ 0x66, 0xe7, 0x84 }, 3); break;  /* out 0x84, ax */
	default: emit_bytes(g, (const uint8_t[]){ 0xee }, 1); break;             /* out dx, al */
	}
	emit_bytes(g, spin, 2);
}

/* The subroutines of the calls: a few instructions, then RET. */
static void emit_subs(struct gen *g)
{
	static const uint8_t ret = 0xc3, ret_imm[3] = { 0xc2, 0x08, 0x00 };

	g->in_sub = true;
	for (unsigned s = 0; s < g->nsubs; s++) {
		uint32_t rel = g->k->len - g->fix[s].end;

		memcpy(g->k->code + g->fix[s].at, &rel, 4);
		for (unsigned i = rnd(g, 4); i; i--)
			emit_simple(g);
		/* RET, or RET 8 (a handler), which drops a qword more */
		if (chance(g, 85))
			emit_bytes(g, &ret, 1);
		else
			emit_bytes(g, ret_imm, 3);
	}
	g->in_sub = false;
}

/* Registers: random, but four of RBX RBP R8-R15 are reserved, three for
 * addressing and one for loops (RAX RCX RDX RSI RDI have implicit uses). */
static void pick_registers(struct gen *g)
{
	static const uint8_t cands[10] = { RBX, RBP, R8, R9, R10, R11, R12, R13, R14, R15 };
	struct jcase *k = g->k;
	unsigned pick[4];

	for (unsigned i = 0; i < 4; i++) {
		bool again;

		do {
			pick[i] = rnd(g, 10);
			again = false;
			for (unsigned j = 0; j < i; j++)
				again |= pick[j] == pick[i];
		} while (again);
	}
	k->rb = cands[pick[0]];
	k->rh = cands[pick[1]];
	k->rx = cands[pick[2]];
	k->rl = cands[pick[3]];
	g->reserved = (uint16_t)(1u << RSP | 1u << k->rb | 1u << k->rh | 1u << k->rx | 1u << k->rl);

	for (unsigned r = 0; r < 16; r++)
		g->regs[r] = value(g, 8);
	if (chance(g, 40))
		g->regs[RCX] = rnd(g, 70);       /* shift and rotate counts */
	g->regs[RSP] = STACK_TOP - 0x80 + rnd(g, 0x100);
	if (chance(g, 70))
		g->regs[RSP] &= ~7ull;
	g->regs[k->rb] = DATA + 0x2000 + rnd(g, 0x8000);
	g->regs[k->rh] = rnd64(g) << 32 | (DATA + rnd(g, 0xc000));
	g->regs[k->rx] = (uint64_t)((int64_t)rnd(g, 129) - 64);
}

/* Generate the case of seed: code, registers, flags and data. */
void jit_case_generate(struct jcase *k, uint64_t seed, struct emu_cpu *c, uint8_t *data,
		       uint8_t *code_area)
{
	struct gen *g = calloc(1, sizeof(*g));
	unsigned target, n = 0;
	uint64_t rflags;

	assert_non_null(g);
	g->rng = splitmix64(seed) | 1;
	g->k = k;
	g->wild = -1;
	k->seed = seed;
	k->len = 0;
	/* Now and then close to the end of a page: the block stops there
	 * and an instruction may straddle it (the interpreter's slow path). */
	k->base = CODE + (chance(g, 25) ? 0x1000 - rnd(g, 48) : rnd(g, 0x2000));
	pick_registers(g);

	target = 1 + rnd(g, 30);
	while (n < target && k->len < CODE_MAX - 512)
		n += emit_unit(g);
	k->body_insns = n;
	emit_terminator(g);
	emit_subs(g);

	/* Memory: random data with some edge values, stray code bytes that
	 * trap (INT3) around the case's code. */
	for (uint64_t i = 0; i < DATA_SIZE; i += 8) {
		uint64_t v = chance(g, 25) ? value(g, 8) : rnd64(g);

		memcpy(data + i, &v, 8);
	}
	memset(code_area, 0xcc, CODE_SIZE);

	memcpy(c->gpr, g->regs, sizeof(c->gpr));
	c->rip = k->base;
	c->halted = false;
	c->cr2 = 0;
	rflags = 0x2 | (rnd64(g) & (EMU_ARITH_FLAGS | EMU_DF | EMU_IF));
	/* IOPL 3: the OUT of the terminator is allowed at CPL 3. */
	emu_set_rflags(c, rflags | EMU_IOPL);
	free(g);
}
