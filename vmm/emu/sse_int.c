/* SSE2 packed integer instructions (66-prefixed 0F 60-76, C4 C5, D1-FE):
 * add/subtract (wrapping and saturating), compares, min/max, averages,
 * multiplies, PSADBW, logic, shifts by register and by immediate
 * (including the whole-register byte shifts PSLLDQ/PSRLDQ), unpacks,
 * packs with saturation, PSHUFD/PSHUFHW/PSHUFLW, PINSRW/PEXTRW and
 * PMOVMSKB. Integer work raises no SIMD exception, so all of it is plain
 * C on lanes; sources are xmm/m128, aligned. */
#include "operand.h"
#include "sse.h"

static inline int8_t sat_s8(int v) { return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v); }
static inline uint8_t sat_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }
static inline int16_t sat_s16(int v) { return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v); }
static inline uint16_t sat_u16(int v) { return (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v); }

/* Logical/arithmetic shifts of every lane of width bits by count (any
 * 64-bit value: counts past the width clear the lanes, or fill them with
 * the sign for arithmetic shifts). kind: 0 right logical, 1 right
 * arithmetic, 2 left. */
static void shift_lanes(union sse_vec *d, unsigned bits, uint64_t count, unsigned kind)
{
	unsigned n = 128 / bits;

	if (count >= bits) {
		if (kind != 1) {
			d->q[0] = d->q[1] = 0;
			return;
		}
		count = bits - 1;
	}
	for (unsigned i = 0; i < n; i++) {
		switch (bits) {
		case 16:
			if (kind == 0)
				d->w[i] = (uint16_t)(d->w[i] >> count);
			else if (kind == 1)
				d->sw[i] = (int16_t)(d->sw[i] >> count);
			else
				d->w[i] = (uint16_t)(d->w[i] << count);
			break;
		case 32:
			if (kind == 0)
				d->d[i] >>= count;
			else if (kind == 1)
				d->sd[i] >>= count;
			else
				d->d[i] <<= count;
			break;
		default:
			if (kind == 0)
				d->q[i] >>= count;
			else
				d->q[i] <<= count;
			break;
		}
	}
}

/* Interleave the low (high = false) or high halves of d and s in lanes of
 * width bytes: d0 s0 d1 s1 ... */
static void unpack(union sse_vec *d, const union sse_vec *s, unsigned width, bool high)
{
	union sse_vec r;
	unsigned half = 8 / width, base = high ? 8 : 0;

	for (unsigned i = 0; i < half; i++) {
		for (unsigned k = 0; k < width; k++) {
			r.b[(2 * i) * width + k] = d->b[base + i * width + k];
			r.b[(2 * i + 1) * width + k] = s->b[base + i * width + k];
		}
	}
	*d = r;
}

/* One packed binary operation of 66 0F op: d = d op s. */
static void int_binop(unsigned op, union sse_vec *d, const union sse_vec *s)
{
	union sse_vec r = *d;

	switch (op) {
	case 0x60: unpack(d, s, 1, false); return;
	case 0x61: unpack(d, s, 2, false); return;
	case 0x62: unpack(d, s, 4, false); return;
	case 0x6c: unpack(d, s, 8, false); return;
	case 0x68: unpack(d, s, 1, true); return;
	case 0x69: unpack(d, s, 2, true); return;
	case 0x6a: unpack(d, s, 4, true); return;
	case 0x6d: unpack(d, s, 8, true); return;
	case 0x63:      /* PACKSSWB */
		for (unsigned i = 0; i < 8; i++) {
			r.sb[i] = sat_s8(d->sw[i]);
			r.sb[8 + i] = sat_s8(s->sw[i]);
		}
		break;
	case 0x67:      /* PACKUSWB */
		for (unsigned i = 0; i < 8; i++) {
			r.b[i] = sat_u8(d->sw[i]);
			r.b[8 + i] = sat_u8(s->sw[i]);
		}
		break;
	case 0x6b:      /* PACKSSDW */
		for (unsigned i = 0; i < 4; i++) {
			r.sw[i] = sat_s16(d->sd[i]);
			r.sw[4 + i] = sat_s16(s->sd[i]);
		}
		break;
	case 0x64:      /* PCMPGTB/W/D */
		for (unsigned i = 0; i < 16; i++)
			r.b[i] = d->sb[i] > s->sb[i] ? 0xff : 0;
		break;
	case 0x65:
		for (unsigned i = 0; i < 8; i++)
			r.w[i] = d->sw[i] > s->sw[i] ? 0xffff : 0;
		break;
	case 0x66:
		for (unsigned i = 0; i < 4; i++)
			r.d[i] = d->sd[i] > s->sd[i] ? ~0u : 0;
		break;
	case 0x74:      /* PCMPEQB/W/D */
		for (unsigned i = 0; i < 16; i++)
			r.b[i] = d->b[i] == s->b[i] ? 0xff : 0;
		break;
	case 0x75:
		for (unsigned i = 0; i < 8; i++)
			r.w[i] = d->w[i] == s->w[i] ? 0xffff : 0;
		break;
	case 0x76:
		for (unsigned i = 0; i < 4; i++)
			r.d[i] = d->d[i] == s->d[i] ? ~0u : 0;
		break;
	case 0xd1: shift_lanes(&r, 16, s->q[0], 0); break;      /* PSRLW/D/Q */
	case 0xd2: shift_lanes(&r, 32, s->q[0], 0); break;
	case 0xd3: shift_lanes(&r, 64, s->q[0], 0); break;
	case 0xe1: shift_lanes(&r, 16, s->q[0], 1); break;      /* PSRAW/D */
	case 0xe2: shift_lanes(&r, 32, s->q[0], 1); break;
	case 0xf1: shift_lanes(&r, 16, s->q[0], 2); break;      /* PSLLW/D/Q */
	case 0xf2: shift_lanes(&r, 32, s->q[0], 2); break;
	case 0xf3: shift_lanes(&r, 64, s->q[0], 2); break;
	case 0xd4:      /* PADDQ */
		for (unsigned i = 0; i < 2; i++)
			r.q[i] = d->q[i] + s->q[i];
		break;
	case 0xfb:      /* PSUBQ */
		for (unsigned i = 0; i < 2; i++)
			r.q[i] = d->q[i] - s->q[i];
		break;
	case 0xd5:      /* PMULLW */
		for (unsigned i = 0; i < 8; i++)
			r.w[i] = (uint16_t)(d->sw[i] * s->sw[i]);
		break;
	case 0xe5:      /* PMULHW */
		for (unsigned i = 0; i < 8; i++)
			r.w[i] = (uint16_t)((d->sw[i] * s->sw[i]) >> 16);
		break;
	case 0xe4:      /* PMULHUW */
		for (unsigned i = 0; i < 8; i++)
			r.w[i] = (uint16_t)(((uint32_t)d->w[i] * s->w[i]) >> 16);
		break;
	case 0xf4:      /* PMULUDQ: the even doublewords, full 64-bit products */
		for (unsigned i = 0; i < 2; i++)
			r.q[i] = (uint64_t)d->d[2 * i] * s->d[2 * i];
		break;
	case 0xf5:      /* PMADDWD: 0x8000 * 0x8000 twice wraps to 0x80000000 */
		for (unsigned i = 0; i < 4; i++) {
			int64_t v = (int64_t)d->sw[2 * i] * s->sw[2 * i] +
				    (int64_t)d->sw[2 * i + 1] * s->sw[2 * i + 1];

			r.d[i] = (uint32_t)v;
		}
		break;
	case 0xf6:      /* PSADBW: per quadword, the sum in its low word */
		for (unsigned q = 0; q < 2; q++) {
			unsigned sum = 0;

			for (unsigned i = 0; i < 8; i++) {
				int a = d->b[8 * q + i], b = s->b[8 * q + i];

				sum += (unsigned)(a > b ? a - b : b - a);
			}
			r.q[q] = sum;
		}
		break;
	case 0xd8:      /* PSUBUSB/W */
		for (unsigned i = 0; i < 16; i++)
			r.b[i] = sat_u8(d->b[i] - s->b[i]);
		break;
	case 0xd9:
		for (unsigned i = 0; i < 8; i++)
			r.w[i] = sat_u16(d->w[i] - s->w[i]);
		break;
	case 0xdc:      /* PADDUSB/W */
		for (unsigned i = 0; i < 16; i++)
			r.b[i] = sat_u8(d->b[i] + s->b[i]);
		break;
	case 0xdd:
		for (unsigned i = 0; i < 8; i++)
			r.w[i] = sat_u16(d->w[i] + s->w[i]);
		break;
	case 0xe8:      /* PSUBSB/W */
		for (unsigned i = 0; i < 16; i++)
			r.sb[i] = sat_s8(d->sb[i] - s->sb[i]);
		break;
	case 0xe9:
		for (unsigned i = 0; i < 8; i++)
			r.sw[i] = sat_s16(d->sw[i] - s->sw[i]);
		break;
	case 0xec:      /* PADDSB/W */
		for (unsigned i = 0; i < 16; i++)
			r.sb[i] = sat_s8(d->sb[i] + s->sb[i]);
		break;
	case 0xed:
		for (unsigned i = 0; i < 8; i++)
			r.sw[i] = sat_s16(d->sw[i] + s->sw[i]);
		break;
	case 0xda:      /* PMINUB, PMAXUB */
		for (unsigned i = 0; i < 16; i++)
			r.b[i] = d->b[i] < s->b[i] ? d->b[i] : s->b[i];
		break;
	case 0xde:
		for (unsigned i = 0; i < 16; i++)
			r.b[i] = d->b[i] > s->b[i] ? d->b[i] : s->b[i];
		break;
	case 0xea:      /* PMINSW, PMAXSW */
		for (unsigned i = 0; i < 8; i++)
			r.sw[i] = d->sw[i] < s->sw[i] ? d->sw[i] : s->sw[i];
		break;
	case 0xee:
		for (unsigned i = 0; i < 8; i++)
			r.sw[i] = d->sw[i] > s->sw[i] ? d->sw[i] : s->sw[i];
		break;
	case 0xe0:      /* PAVGB/W: rounded up */
		for (unsigned i = 0; i < 16; i++)
			r.b[i] = (uint8_t)((d->b[i] + s->b[i] + 1) >> 1);
		break;
	case 0xe3:
		for (unsigned i = 0; i < 8; i++)
			r.w[i] = (uint16_t)((d->w[i] + s->w[i] + 1) >> 1);
		break;
	case 0xdb: r.q[0] = d->q[0] & s->q[0]; r.q[1] = d->q[1] & s->q[1]; break;      /* PAND */
	case 0xdf: r.q[0] = ~d->q[0] & s->q[0]; r.q[1] = ~d->q[1] & s->q[1]; break;    /* PANDN */
	case 0xeb: r.q[0] = d->q[0] | s->q[0]; r.q[1] = d->q[1] | s->q[1]; break;      /* POR */
	case 0xef: r.q[0] = d->q[0] ^ s->q[0]; r.q[1] = d->q[1] ^ s->q[1]; break;      /* PXOR */
	case 0xf8:      /* PSUBB/W/D */
		for (unsigned i = 0; i < 16; i++)
			r.b[i] = (uint8_t)(d->b[i] - s->b[i]);
		break;
	case 0xf9:
		for (unsigned i = 0; i < 8; i++)
			r.w[i] = (uint16_t)(d->w[i] - s->w[i]);
		break;
	case 0xfa:
		for (unsigned i = 0; i < 4; i++)
			r.d[i] = d->d[i] - s->d[i];
		break;
	case 0xfc:      /* PADDB/W/D */
		for (unsigned i = 0; i < 16; i++)
			r.b[i] = (uint8_t)(d->b[i] + s->b[i]);
		break;
	case 0xfd:
		for (unsigned i = 0; i < 8; i++)
			r.w[i] = (uint16_t)(d->w[i] + s->w[i]);
		break;
	case 0xfe:
		for (unsigned i = 0; i < 4; i++)
			r.d[i] = d->d[i] + s->d[i];
		break;
	}
	*d = r;
}

void sse_op_int(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec d, s;

	sse_load_rm(cpu, insn, 16, SSE_ALIGNED, &s);
	sse_get(cpu, insn->reg, &d);
	int_binop(insn->op, &d, &s);
	sse_set(cpu, insn->reg, &d);
	exec_advance(cpu, insn);
}

/* 66 0F 71/72/73 /digit ib, register operand only: 71 /2 /4 /6 PSRLW
 * PSRAW PSLLW, 72 the same on doublewords, 73 /2 PSRLQ /3 PSRLDQ /6 PSLLQ
 * /7 PSLLDQ (the DQ forms shift the whole register by bytes). */
void sse_op_shift_imm(struct emu_cpu *cpu, const struct insn *insn)
{
	static const uint8_t bits[3] = { 16, 32, 64 };
	unsigned digit = insn->reg & 7, count = insn->imm & 0xff;
	union sse_vec d, r = { .q = { 0, 0 } };

	sse_need_reg(cpu, insn);
	sse_get(cpu, insn->rm, &d);
	switch (digit) {
	case 2:
		shift_lanes(&d, bits[insn->op - 0x71], count, 0);
		break;
	case 4:
		if (insn->op == 0x73)
			emu_raise_ud(cpu);
		shift_lanes(&d, bits[insn->op - 0x71], count, 1);
		break;
	case 6:
		shift_lanes(&d, bits[insn->op - 0x71], count, 2);
		break;
	case 3:
	case 7:
		if (insn->op != 0x73)
			emu_raise_ud(cpu);
		for (unsigned i = 0; count < 16 && i + count < 16; i++) {
			if (digit == 3)
				r.b[i] = d.b[i + count];
			else
				r.b[i + count] = d.b[i];
		}
		d = r;
		break;
	default:
		emu_raise_ud(cpu);
	}
	sse_set(cpu, insn->rm, &d);
	exec_advance(cpu, insn);
}

/* 66 0F 70 PSHUFD, F3 PSHUFHW (the high four words), F2 PSHUFLW (the low
 * four); the other half is copied. */
void sse_op_pshuf(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned imm = insn->imm & 0xff;
	union sse_vec s, r;

	sse_load_rm(cpu, insn, 16, SSE_ALIGNED, &s);
	r = s;
	for (unsigned i = 0; i < 4; i++) {
		unsigned sel = (imm >> (2 * i)) & 3;

		if (insn->sse_prefix == SSE_66)
			r.d[i] = s.d[sel];
		else if (insn->sse_prefix == SSE_F3)
			r.w[4 + i] = s.w[4 + sel];
		else
			r.w[i] = s.w[sel];
	}
	sse_set(cpu, insn->reg, &r);
	exec_advance(cpu, insn);
}

/* 66 0F C4 PINSRW xmm, r32/m16, imm8. */
void sse_op_pinsrw(struct emu_cpu *cpu, const struct insn *insn)
{
	uint16_t v = (uint16_t)exec_get_rm(cpu, insn, 2);
	union sse_vec d;

	sse_get(cpu, insn->reg, &d);
	d.w[insn->imm & 7] = v;
	sse_set(cpu, insn->reg, &d);
	exec_advance(cpu, insn);
}

/* 66 0F C5 PEXTRW r32, xmm, imm8 (register operand only): zero-extended
 * into the whole register, whatever REX.W says. */
void sse_op_pextrw(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec s;

	sse_need_reg(cpu, insn);
	sse_get(cpu, insn->rm, &s);
	exec_set_reg(cpu, insn, insn->reg, 4, s.w[insn->imm & 7]);
	exec_advance(cpu, insn);
}

/* 66 0F D7 PMOVMSKB r32, xmm: the top bit of every byte. */
void sse_op_pmovmskb(struct emu_cpu *cpu, const struct insn *insn)
{
	union sse_vec s;
	uint32_t m = 0;

	sse_need_reg(cpu, insn);
	sse_get(cpu, insn->rm, &s);
	for (unsigned i = 0; i < 16; i++)
		m |= (uint32_t)(s.b[i] >> 7) << i;
	exec_set_reg(cpu, insn, insn->reg, 4, m);
	exec_advance(cpu, insn);
}
