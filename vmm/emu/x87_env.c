/* x87 control instructions with a memory operand: FLDCW/FNSTCW, FNSTSW
 * m16, FLDENV/FNSTENV and FRSTOR/FNSAVE with their four environment
 * layouts (16- or 32-bit operand size, protected or real/virtual-8086
 * mode: SDM vol. 1 8.1.10 and figures 8-9 to 8-12). The register-form
 * ones (FNINIT, FNCLEX, FNSTSW AX) are in x87.c.
 *
 * What the layouts' reserved bits hold is what the hardware the tests
 * run on writes: ones in the upper halves of the 32-bit control, status
 * and tag words and of the data selector's doubleword. The FPU CS/DS
 * selectors are not kept (see x87.h) and read as 0. In real mode the
 * layouts hold linear instruction and data pointers; the core keeps
 * offsets, so it adds (and on loading, subtracts) the current CS and DS
 * bases. */
#include <string.h>

#include "mem.h"
#include "operand.h"
#include "x87.h"

#define ENV32_SIZE 28
#define ENV16_SIZE 14

static void w16(uint8_t *p, uint32_t v) { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); }
static void w32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t r16(const uint8_t *p) { uint16_t x; memcpy(&x, p, 2); return x; }
static uint32_t r32(const uint8_t *p) { uint32_t x; memcpy(&x, p, 4); return x; }

static uint8_t abridged_tags(uint32_t tw)
{
	uint8_t t = 0;

	for (unsigned r = 0; r < 8; r++)
		if (((tw >> (2 * r)) & 3) != 3)
			t |= (uint8_t)(1u << r);
	return t;
}

static bool real_layout(const struct emu_cpu *cpu)
{
	return cpu->mode == EMU_MODE_REAL || (cpu->rflags & EMU_VM);
}

/* The environment into buf; returns its size. */
static unsigned store_env(const struct emu_cpu *cpu, const struct insn *insn, uint8_t *buf)
{
	const struct emu_fpu *f = &cpu->fpu;
	uint32_t ip = (uint32_t)f->fip, dp = (uint32_t)f->fdp, op = f->fop & 0x7ffu;
	bool real = real_layout(cpu);

	if (real) {
		ip += (uint32_t)cpu->seg[SEG_CS].base;
		dp += (uint32_t)cpu->seg[SEG_DS].base;
	}
	if (insn->opsize == 2) {
		w16(buf + 0, f->fcw);
		w16(buf + 2, f->fsw);
		w16(buf + 4, emu_x87_tag_word(f));
		w16(buf + 6, ip);
		w16(buf + 10, dp);
		if (real) {
			w16(buf + 8, ((ip >> 16) & 0xf) << 12 | op);
			w16(buf + 12, ((dp >> 16) & 0xf) << 12);
		} else {
			w16(buf + 8, 0);        /* FCS */
			w16(buf + 12, 0);       /* FDS */
		}
		return ENV16_SIZE;
	}
	w32(buf + 0, 0xffff0000u | f->fcw);
	w32(buf + 4, 0xffff0000u | f->fsw);
	w32(buf + 8, 0xffff0000u | emu_x87_tag_word(f));
	if (real) {
		w32(buf + 12, 0xffff0000u | (ip & 0xffff));
		w32(buf + 16, (ip >> 16) << 12 | op);
		w32(buf + 20, 0xffff0000u | (dp & 0xffff));
		w32(buf + 24, (dp >> 16) << 12);
	} else {
		w32(buf + 12, ip);
		w32(buf + 16, op << 16);        /* FCS 0 */
		w32(buf + 20, dp);
		w32(buf + 24, 0xffff0000u);     /* FDS 0 */
	}
	return ENV32_SIZE;
}

/* The environment from buf (of the size store_env gives). */
static void load_env(struct emu_cpu *cpu, const struct insn *insn, const uint8_t *buf)
{
	struct emu_fpu *f = &cpu->fpu;
	bool real = real_layout(cpu);
	uint32_t ip, dp;

	if (insn->opsize == 2) {
		f->fcw = x87_cw_value((uint16_t)r16(buf + 0));
		f->fsw = (uint16_t)r16(buf + 2);
		f->ftw = abridged_tags(r16(buf + 4));
		ip = r16(buf + 6);
		dp = r16(buf + 10);
		/* The protected-mode layout has no opcode: it loads as 0. */
		f->fop = 0;
		if (real) {
			ip |= (r16(buf + 8) >> 12) << 16;
			dp |= (r16(buf + 12) >> 12) << 16;
			f->fop = (uint16_t)(r16(buf + 8) & 0x7ff);
		}
	} else {
		f->fcw = x87_cw_value((uint16_t)r32(buf + 0));
		f->fsw = (uint16_t)r32(buf + 4);
		f->ftw = abridged_tags(r32(buf + 8));
		if (real) {
			ip = (r32(buf + 12) & 0xffff) | ((r32(buf + 16) >> 12) & 0xffff) << 16;
			dp = (r32(buf + 20) & 0xffff) | ((r32(buf + 24) >> 12) & 0xffff) << 16;
			f->fop = (uint16_t)(r32(buf + 16) & 0x7ff);
		} else {
			ip = r32(buf + 12);
			dp = r32(buf + 20);
			f->fop = (uint16_t)((r32(buf + 16) >> 16) & 0x7ff);
		}
	}
	if (real) {
		ip -= (uint32_t)cpu->seg[SEG_CS].base;
		dp -= (uint32_t)cpu->seg[SEG_DS].base;
	}
	f->fip = ip;
	f->fdp = dp;
	x87_update_es(f);
}

void x87_control_mem(struct emu_cpu *cpu, const struct insn *insn, unsigned esc, unsigned digit)
{
	struct emu_fpu *f = &cpu->fpu;
	unsigned seg = exec_ea_seg(insn), len;
	uint64_t ea = exec_ea(cpu, insn);
	uint8_t buf[ENV32_SIZE + 80];

	switch (esc << 3 | digit) {
	case 1 << 3 | 4:                        /* FLDENV */
		x87_check_pending(cpu);
		len = insn->opsize == 2 ? ENV16_SIZE : ENV32_SIZE;
		emu_read_bytes(cpu, seg, ea, buf, len);
		load_env(cpu, insn, buf);
		break;
	case 1 << 3 | 5:                        /* FLDCW */
		x87_check_pending(cpu);
		f->fcw = x87_cw_value((uint16_t)emu_read(cpu, seg, ea, 2));
		x87_update_es(f);
		break;
	case 1 << 3 | 6:                        /* FNSTENV: then masks everything */
		len = store_env(cpu, insn, buf);
		emu_write_bytes(cpu, seg, ea, buf, len);
		f->fcw |= FSW_EXC;
		x87_update_es(f);
		break;
	case 1 << 3 | 7:                        /* FNSTCW */
		emu_write(cpu, seg, ea, 2, f->fcw);
		break;
	case 5 << 3 | 4: {                      /* FRSTOR */
		unsigned top;

		x87_check_pending(cpu);
		len = insn->opsize == 2 ? ENV16_SIZE : ENV32_SIZE;
		emu_read_bytes(cpu, seg, ea, buf, len + 80);
		load_env(cpu, insn, buf);
		top = x87_top_of(f->fsw);
		for (unsigned i = 0; i < 8; i++) {
			const uint8_t *p = buf + len + 10 * i;
			unsigned r = (top + i) & 7;

			memcpy(&f->st[r].mant, p, 8);
			memcpy(&f->st[r].exp, p + 8, 2);
		}
		break;
	}
	case 5 << 3 | 6: {                      /* FNSAVE: then FNINIT */
		unsigned top = x87_top_of(f->fsw);

		len = store_env(cpu, insn, buf);
		for (unsigned i = 0; i < 8; i++) {
			uint8_t *p = buf + len + 10 * i;
			unsigned r = (top + i) & 7;

			memcpy(p, &f->st[r].mant, 8);
			memcpy(p + 8, &f->st[r].exp, 2);
		}
		emu_write_bytes(cpu, seg, ea, buf, len + 80);
		x87_init(f);
		break;
	}
	default:                                /* DD /7 FNSTSW m16 */
		emu_write(cpu, seg, ea, 2, f->fsw);
		break;
	}
	exec_advance(cpu, insn);
}
