/* Segment register loads and far transfers, following the pseudo-code of
 * MOV/POP Sreg, JMP, CALL, RET, LLDT and LTR in the SDM vol. 2 and the
 * protection rules of vol. 3 ch. 5. Descriptor-table reads are implicit
 * supervisor accesses. */
#include "segment.h"
#include "mem.h"

/* ---- descriptors ------------------------------------------------------- */

/* Linear address of sel's descriptor, or false beyond the table limit. */
static bool desc_addr(const struct emu_cpu *cpu, uint16_t sel, unsigned len, uint64_t *la)
{
	uint64_t base, limit, off = sel & ~7u;

	if (sel & 4) {
		if (cpu->ldtr.unusable || sel_is_null(cpu->ldtr.selector) || !cpu->ldtr.present)
			return false;
		base = cpu->ldtr.base;
		limit = cpu->ldtr.limit;
	} else {
		base = cpu->gdtr.base;
		limit = cpu->gdtr.limit;
	}
	if (off + len - 1 > limit)
		return false;
	*la = base + off;
	return true;
}

bool emu_desc_read(struct emu_cpu *cpu, uint16_t sel, uint64_t desc[2], bool wide)
{
	uint64_t la;

	if (!desc_addr(cpu, sel, wide ? 16 : 8, &la))
		return false;
	desc[0] = emu_read_linear(cpu, la, 8, true);
	desc[1] = wide ? emu_read_linear(cpu, la + 8, 8, true) : 0;
	return true;
}

void emu_desc_decode(const uint64_t desc[2], uint16_t sel, bool wide, struct emu_segment *out)
{
	uint64_t d = desc[0];
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	out->selector = sel;
	out->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	if (wide)
		out->base |= (desc[1] & 0xffffffffull) << 32;
	out->type = (d >> 40) & 0xf;
	out->s = (d >> 44) & 1;
	out->dpl = (d >> 45) & 3;
	out->present = (d >> 47) & 1;
	out->avl = (d >> 52) & 1;
	out->l = (d >> 53) & 1;
	out->db = (d >> 54) & 1;
	out->g = (d >> 55) & 1;
	out->limit = out->g ? (limit << 12) | 0xfff : limit;
	out->unusable = 0;
}

static void desc_or_byte5(struct emu_cpu *cpu, uint16_t sel, uint64_t desc, uint8_t bits)
{
	uint64_t la;
	uint8_t b = (uint8_t)(desc >> 40);

	if ((b & bits) == bits || !desc_addr(cpu, sel, 8, &la))
		return;
	emu_write_linear(cpu, la + 5, 1, b | bits, true);
}

void emu_desc_set_accessed(struct emu_cpu *cpu, uint16_t sel, uint64_t desc)
{
	desc_or_byte5(cpu, sel, desc, DESC_ACCESSED);
}

static inline bool long_mode(const struct emu_cpu *cpu)
{
	return cpu->efer & EMU_EFER_LMA;
}

/* ---- data segments and SS ---------------------------------------------- */

static void load_null(struct emu_cpu *cpu, unsigned sreg, uint16_t sel)
{
	struct emu_segment *s = &cpu->seg[sreg];
	/* AMD keeps the FS/GS base on a null load in 64-bit mode, and 64-bit
	 * software sets those bases through the MSRs anyway. */
	uint64_t base = (cpu->mode == EMU_MODE_LONG64 && (sreg == SEG_FS || sreg == SEG_GS)) ? s->base : 0;

	*s = (struct emu_segment){ .selector = sel, .base = base, .unusable = 1 };
	if (sreg == SEG_SS)
		s->dpl = sel & 3;  /* CPL lives in SS.DPL */
}

void emu_load_sreg(struct emu_cpu *cpu, unsigned sreg, uint16_t sel)
{
	struct emu_segment seg;
	uint64_t d[2];
	unsigned rpl = sel & 3;

	if (cpu->mode == EMU_MODE_REAL) {
		/* Base and selector only: the cached limit and attributes
		 * stay (what makes "unreal" mode work). */
		struct emu_segment *s = &cpu->seg[sreg];

		s->selector = sel;
		s->base = (uint64_t)sel << 4;
		s->unusable = 0;
		s->present = 1;
		return;
	}
	if (sel_is_null(sel)) {
		/* A null SS is allowed only in 64-bit mode, below CPL 3, with
		 * RPL = CPL. */
		if (sreg == SEG_SS && (cpu->mode != EMU_MODE_LONG64 || cpu->cpl == 3 || rpl != cpu->cpl))
			emu_raise_gp(cpu, 0);
		load_null(cpu, sreg, sel);
		return;
	}
	if (!emu_desc_read(cpu, sel, d, false))
		emu_raise_gp(cpu, sel_error(sel));
	emu_desc_decode(d, sel, false, &seg);
	if (sreg == SEG_SS) {
		if (rpl != cpu->cpl || !seg.s || (seg.type & DESC_CODE) || !(seg.type & DESC_WRITABLE) ||
		    seg.dpl != cpu->cpl)
			emu_raise_gp(cpu, sel_error(sel));
		if (!seg.present)
			emu_raise(cpu, EMU_VEC_SS, true, sel_error(sel));
	} else {
		if (!seg.s || ((seg.type & DESC_CODE) && !(seg.type & DESC_READABLE)))
			emu_raise_gp(cpu, sel_error(sel));
		/* Data and non-conforming code: both RPL and CPL must be at
		 * or above the descriptor's privilege. */
		if ((!(seg.type & DESC_CODE) || !(seg.type & DESC_CONFORMING)) &&
		    (rpl > seg.dpl || cpu->cpl > seg.dpl))
			emu_raise_gp(cpu, sel_error(sel));
		if (!seg.present)
			emu_raise(cpu, EMU_VEC_NP, true, sel_error(sel));
	}
	emu_desc_set_accessed(cpu, sel, d[0]);
	seg.type |= DESC_ACCESSED;
	cpu->seg[sreg] = seg;
}

/* ---- LDTR and TR ------------------------------------------------------- */

void emu_load_ldtr(struct emu_cpu *cpu, uint16_t sel)
{
	struct emu_segment seg;
	uint64_t d[2];
	bool wide = long_mode(cpu);

	if (sel_is_null(sel)) {
		cpu->ldtr = (struct emu_segment){ .selector = sel, .unusable = 1 };
		return;
	}
	if ((sel & 4) || !emu_desc_read(cpu, sel, d, wide))
		emu_raise_gp(cpu, sel_error(sel));
	emu_desc_decode(d, sel, wide, &seg);
	if (seg.s || seg.type != DESC_LDT)
		emu_raise_gp(cpu, sel_error(sel));
	if (!seg.present)
		emu_raise(cpu, EMU_VEC_NP, true, sel_error(sel));
	if (wide && !emu_canonical(seg.base))
		emu_raise_gp(cpu, sel_error(sel));
	cpu->ldtr = seg;
}

void emu_load_tr(struct emu_cpu *cpu, uint16_t sel)
{
	struct emu_segment seg;
	uint64_t d[2];
	bool wide = long_mode(cpu);

	if (sel_is_null(sel))
		emu_raise_gp(cpu, 0);
	if ((sel & 4) || !emu_desc_read(cpu, sel, d, wide))
		emu_raise_gp(cpu, sel_error(sel));
	emu_desc_decode(d, sel, wide, &seg);
	/* An available TSS: 32-bit (64-bit in long mode), or a 16-bit one
	 * outside long mode. */
	if (seg.s || (seg.type != DESC_TSS_AVL && (wide || seg.type != DESC_TSS16_AVL)))
		emu_raise_gp(cpu, sel_error(sel));
	if (!seg.present)
		emu_raise(cpu, EMU_VEC_NP, true, sel_error(sel));
	if (wide && !emu_canonical(seg.base))
		emu_raise_gp(cpu, sel_error(sel));
	desc_or_byte5(cpu, sel, d[0], 0x2);  /* mark busy */
	seg.type |= 0x2;
	cpu->tr = seg;
}

/* ---- CS ---------------------------------------------------------------- */

void emu_set_cs(struct emu_cpu *cpu, const struct emu_segment *cs, unsigned cpl)
{
	cpu->seg[SEG_CS] = *cs;
	cpu->seg[SEG_CS].selector = (uint16_t)((cs->selector & ~3u) | cpl);
	cpu->seg[SEG_CS].type |= DESC_ACCESSED;
	emu_update_mode(cpu);
	cpu->cpl = cpl;
}

static void load_cs_real(struct emu_cpu *cpu, uint16_t sel)
{
	struct emu_segment *cs = &cpu->seg[SEG_CS];

	cs->selector = sel;
	cs->base = (uint64_t)sel << 4;
	cs->unusable = 0;
	cs->present = 1;
}

/* The code segment a far JMP or CALL goes to directly (no gates). */
static void check_jmp_target(struct emu_cpu *cpu, uint16_t sel, struct emu_segment *cs,
			     uint64_t *desc)
{
	uint64_t d[2];

	if (sel_is_null(sel))
		emu_raise_gp(cpu, 0);
	if (!emu_desc_read(cpu, sel, d, false))
		emu_raise_gp(cpu, sel_error(sel));
	emu_desc_decode(d, sel, false, cs);
	/* System descriptors: call gates, task gates and TSSs would switch
	 * stacks or tasks through the gate; not modelled (see segment.h). */
	if (!cs->s || !(cs->type & DESC_CODE))
		emu_raise_gp(cpu, sel_error(sel));
	if (cs->type & DESC_CONFORMING) {
		if (cs->dpl > cpu->cpl)
			emu_raise_gp(cpu, sel_error(sel));
	} else if ((sel & 3u) > cpu->cpl || cs->dpl != cpu->cpl) {
		emu_raise_gp(cpu, sel_error(sel));
	}
	if (!cs->present)
		emu_raise(cpu, EMU_VEC_NP, true, sel_error(sel));
	if (long_mode(cpu) && cs->l && cs->db)
		emu_raise_gp(cpu, sel_error(sel));
	*desc = d[0];
}

/* The new instruction pointer must lie within the new CS (or be
 * canonical for 64-bit code). */
static void check_offset(struct emu_cpu *cpu, const struct emu_segment *cs, uint64_t offset)
{
	if (long_mode(cpu) && cs->l) {
		if (!emu_canonical(offset))
			emu_raise_gp(cpu, 0);
	} else if (offset > cs->limit) {
		emu_raise_gp(cpu, 0);
	}
}

void emu_far_jmp(struct emu_cpu *cpu, uint16_t sel, uint64_t offset, unsigned opsize)
{
	struct emu_segment cs;
	uint64_t d;

	if (cpu->mode == EMU_MODE_REAL) {
		load_cs_real(cpu, sel);
		cpu->rip = offset;
		return;
	}
	check_jmp_target(cpu, sel, &cs, &d);
	check_offset(cpu, &cs, offset);
	emu_desc_set_accessed(cpu, sel, d);
	emu_set_cs(cpu, &cs, cpu->cpl);
	cpu->rip = offset;
}

void emu_far_call(struct emu_cpu *cpu, uint16_t sel, uint64_t offset, unsigned opsize,
		  uint64_t ret_rip)
{
	uint64_t sp = cpu->gpr[4];
	uint16_t old_cs = cpu->seg[SEG_CS].selector;
	struct emu_segment cs;
	uint64_t d;

	if (cpu->mode == EMU_MODE_REAL) {
		emu_stack_write(cpu, sp - opsize, opsize, old_cs);
		emu_stack_write(cpu, sp - 2 * opsize, opsize, ret_rip);
		emu_set_sp(cpu, sp - 2 * opsize);
		load_cs_real(cpu, sel);
		cpu->rip = offset;
		return;
	}
	check_jmp_target(cpu, sel, &cs, &d);
	check_offset(cpu, &cs, offset);
	emu_stack_write(cpu, sp - opsize, opsize, old_cs);
	emu_stack_write(cpu, sp - 2 * opsize, opsize, ret_rip);
	emu_desc_set_accessed(cpu, sel, d);
	emu_set_sp(cpu, sp - 2 * opsize);
	emu_set_cs(cpu, &cs, cpu->cpl);
	cpu->rip = offset;
}

void emu_check_return_cs(struct emu_cpu *cpu, uint16_t sel, struct emu_segment *cs)
{
	uint64_t d[2];
	unsigned rpl = sel & 3;

	if (sel_is_null(sel))
		emu_raise_gp(cpu, 0);
	if (!emu_desc_read(cpu, sel, d, false))
		emu_raise_gp(cpu, sel_error(sel));
	emu_desc_decode(d, sel, false, cs);
	if (!cs->s || !(cs->type & DESC_CODE) || rpl < cpu->cpl)
		emu_raise_gp(cpu, sel_error(sel));
	if (cs->type & DESC_CONFORMING) {
		if (cs->dpl > rpl)
			emu_raise_gp(cpu, sel_error(sel));
	} else if (cs->dpl != rpl) {
		emu_raise_gp(cpu, sel_error(sel));
	}
	if (!cs->present)
		emu_raise(cpu, EMU_VEC_NP, true, sel_error(sel));
	if (long_mode(cpu) && cs->l && cs->db)
		emu_raise_gp(cpu, sel_error(sel));
	emu_desc_set_accessed(cpu, sel, d[0]);
}

void emu_check_return_ss(struct emu_cpu *cpu, uint16_t sel, unsigned rpl,
			 const struct emu_segment *cs, struct emu_segment *ss)
{
	uint64_t d[2];

	if (sel_is_null(sel)) {
		/* Returning to 64-bit code below CPL 3 may leave SS null. */
		if (long_mode(cpu) && cs->l && rpl != 3) {
			*ss = (struct emu_segment){ .selector = sel, .dpl = (uint8_t)rpl, .unusable = 1 };
			return;
		}
		emu_raise_gp(cpu, 0);
	}
	if (!emu_desc_read(cpu, sel, d, false))
		emu_raise_gp(cpu, sel_error(sel));
	emu_desc_decode(d, sel, false, ss);
	if ((sel & 3u) != rpl || !ss->s || (ss->type & DESC_CODE) || !(ss->type & DESC_WRITABLE) ||
	    ss->dpl != rpl)
		emu_raise_gp(cpu, sel_error(sel));
	if (!ss->present)
		emu_raise(cpu, EMU_VEC_SS, true, sel_error(sel));
	emu_desc_set_accessed(cpu, sel, d[0]);
	ss->type |= DESC_ACCESSED;
}

void emu_null_inaccessible_segments(struct emu_cpu *cpu)
{
	static const unsigned regs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };

	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		struct emu_segment *s = &cpu->seg[regs[i]];
		bool conforming_code = (s->type & DESC_CODE) && (s->type & DESC_CONFORMING);

		if (!s->unusable && !conforming_code && s->dpl < cpu->cpl) {
			uint64_t base = (regs[i] == SEG_FS || regs[i] == SEG_GS) && long_mode(cpu) ? s->base : 0;

			*s = (struct emu_segment){ .selector = 0, .base = base, .unusable = 1 };
		}
	}
}

void emu_far_ret(struct emu_cpu *cpu, unsigned opsize, uint16_t pop_bytes)
{
	uint64_t sp = cpu->gpr[4];
	uint64_t ip = emu_stack_read(cpu, sp, opsize);
	uint16_t sel = (uint16_t)emu_stack_read(cpu, sp + opsize, opsize);
	struct emu_segment cs, ss;
	unsigned rpl = sel & 3;
	uint64_t new_sp;
	bool from64;

	if (cpu->mode == EMU_MODE_REAL) {
		load_cs_real(cpu, sel);
		cpu->rip = ip;
		emu_set_sp(cpu, sp + 2 * opsize + pop_bytes);
		return;
	}
	emu_check_return_cs(cpu, sel, &cs);
	if (rpl == cpu->cpl) {
		check_offset(cpu, &cs, ip);
		/* RSP moves at the stack size in force before CS changes. */
		emu_set_sp(cpu, sp + 2 * opsize + pop_bytes);
		emu_set_cs(cpu, &cs, cpu->cpl);
		cpu->rip = ip;
		return;
	}
	/* To an outer level: the caller's SS:SP sits above the parameters. */
	new_sp = emu_stack_read(cpu, sp + 2 * opsize + pop_bytes, opsize);
	sel = (uint16_t)emu_stack_read(cpu, sp + 3 * opsize + pop_bytes, opsize);
	emu_check_return_ss(cpu, sel, rpl, &cs, &ss);
	check_offset(cpu, &cs, ip);
	from64 = cpu->mode == EMU_MODE_LONG64;
	cpu->seg[SEG_SS] = ss;
	emu_set_cs(cpu, &cs, rpl);
	cpu->rip = ip;
	/* From 64-bit mode the popped RSP is taken whole. */
	if (from64)
		cpu->gpr[4] = new_sp + pop_bytes;
	else
		emu_set_sp(cpu, new_sp + pop_bytes);
	emu_null_inaccessible_segments(cpu);
}

/* ---- the stack --------------------------------------------------------- */

unsigned emu_stack_size(const struct emu_cpu *cpu)
{
	if (cpu->mode == EMU_MODE_LONG64)
		return 8;
	return cpu->seg[SEG_SS].db ? 4 : 2;
}

static uint64_t sp_mask(const struct emu_cpu *cpu)
{
	switch (emu_stack_size(cpu)) {
	case 8:
		return ~0ull;
	case 4:
		return 0xffffffffull;
	default:
		return 0xffffull;
	}
}

uint64_t emu_stack_read(struct emu_cpu *cpu, uint64_t sp, unsigned size)
{
	return emu_read(cpu, SEG_SS, sp & sp_mask(cpu), size);
}

void emu_stack_write(struct emu_cpu *cpu, uint64_t sp, unsigned size, uint64_t v)
{
	emu_write(cpu, SEG_SS, sp & sp_mask(cpu), size, v);
}

void emu_set_sp(struct emu_cpu *cpu, uint64_t sp)
{
	uint64_t m = sp_mask(cpu);

	cpu->gpr[4] = (cpu->gpr[4] & ~m) | (sp & m);
}
