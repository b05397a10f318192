/* The instructions of segmentation: MOV/PUSH/POP Sreg, LDS/LES/LFS/LGS/
 * LSS, far JMP/CALL/RET, IRET, the descriptor-table registers (group 6
 * and 7), LAR/LSL/VERR/VERW. The architecture work is in segment.c and
 * interrupt.c; these decode operands and sequence the accesses. */
#include "system_ops.h"
#include "flags.h"
#include "interrupt.h"
#include "mem.h"
#include "operand.h"
#include "segment.h"
#include "sysregs.h"

static void require_cpl0(struct emu_cpu *cpu)
{
	if (cpu->cpl != 0)
		emu_raise_gp(cpu, 0);
}

static void require_protected(struct emu_cpu *cpu)
{
	if (cpu->mode == EMU_MODE_REAL)
		emu_raise_ud(cpu);
}

static void require_mem(struct emu_cpu *cpu, const struct insn *insn)
{
	if (!insn_has_mem(insn))
		emu_raise_ud(cpu);
}

/* ---- segment registers ------------------------------------------------- */

static unsigned sreg_of_push_pop(const struct insn *insn)
{
	if (insn->map == MAP_0F)
		return insn->op < 0xa8 ? SEG_FS : SEG_GS;
	return (insn->op >> 3) & 3;  /* 06 ES, 0E CS, 16 SS, 1E DS */
}

void sys_push_sreg(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	exec_push(cpu, exec_stack_opsize(cpu, insn), cpu->seg[sreg_of_push_pop(insn)].selector);
	exec_advance(cpu, insn);
}

void sys_pop_sreg(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = exec_stack_opsize(cpu, insn);
	unsigned sreg = sreg_of_push_pop(insn);
	uint64_t m = size_mask(exec_stack_addr_size(cpu));
	uint64_t sel;

	exec_no_lock(cpu, insn);
	sel = exec_stack_peek(cpu, 0, size);
	emu_load_sreg(cpu, sreg, (uint16_t)sel);
	/* RSP moves by the stack address size in force before the load. */
	cpu->gpr[4] = (cpu->gpr[4] & ~m) | ((cpu->gpr[4] + size) & m);
	if (sreg == SEG_SS)
		cpu->interrupt_shadow = true;
	exec_advance(cpu, insn);
}

void sys_mov_to_sreg(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned sreg = insn->reg & 7;

	exec_no_lock(cpu, insn);
	if (sreg == SEG_CS || sreg >= SEG_COUNT)
		emu_raise_ud(cpu);
	emu_load_sreg(cpu, sreg, (uint16_t)exec_get_rm(cpu, insn, 2));
	if (sreg == SEG_SS)
		cpu->interrupt_shadow = true;
	exec_advance(cpu, insn);
}

void sys_mov_from_sreg(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned sreg = insn->reg & 7;
	uint16_t sel;

	exec_no_lock(cpu, insn);
	if (sreg >= SEG_COUNT)
		emu_raise_ud(cpu);
	sel = cpu->seg[sreg].selector;
	/* A register gets the selector zero-extended to the operand size;
	 * memory always 16 bits. */
	if (insn->mod == 3)
		exec_set_reg(cpu, insn, insn->rm, insn->opsize, sel);
	else
		exec_set_rm(cpu, insn, 2, sel);
	exec_advance(cpu, insn);
}

/* LES (C4), LDS (C5), LSS (0F B2), LFS (0F B4), LGS (0F B5). */
void sys_load_far_pointer(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned sreg, seg = exec_ea_seg(insn), size = insn->opsize;
	uint64_t ea, off;
	uint16_t sel;

	exec_no_lock(cpu, insn);
	require_mem(cpu, insn);
	ea = exec_ea(cpu, insn);
	if (insn->map == MAP_PRIMARY) {
		exec_forbid_64(cpu);
		sreg = insn->op == 0xc4 ? SEG_ES : SEG_DS;
	} else {
		sreg = insn->op == 0xb2 ? SEG_SS : insn->op == 0xb4 ? SEG_FS : SEG_GS;
	}
	off = emu_read(cpu, seg, ea, size);
	sel = (uint16_t)emu_read(cpu, seg, (ea + size) & size_mask(insn->adsize), 2);
	emu_load_sreg(cpu, sreg, sel);
	exec_set_reg(cpu, insn, insn->reg, size, off);
	exec_advance(cpu, insn);
}

/* ---- far transfers ----------------------------------------------------- */

void sys_jmp_far(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	exec_forbid_64(cpu);
	emu_far_jmp(cpu, (uint16_t)insn->imm2, insn->imm & size_mask(insn->opsize), insn->opsize);
}

void sys_call_far(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	exec_forbid_64(cpu);
	emu_far_call(cpu, (uint16_t)insn->imm2, insn->imm & size_mask(insn->opsize), insn->opsize,
		     insn->next_rip);
}

/* FF /3 (CALL m16:16/32/64) and FF /5 (JMP m16:...): the hook control.c
 * calls for its group 5. */
void exec_far_indirect(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned seg = exec_ea_seg(insn), size = insn->opsize;
	uint64_t ea, off;
	uint16_t sel;

	exec_no_lock(cpu, insn);
	require_mem(cpu, insn);
	ea = exec_ea(cpu, insn);
	off = emu_read(cpu, seg, ea, size);
	sel = (uint16_t)emu_read(cpu, seg, (ea + size) & size_mask(insn->adsize), 2);
	if ((insn->reg & 7) == 3)
		emu_far_call(cpu, sel, off, size, insn->next_rip);
	else
		emu_far_jmp(cpu, sel, off, size);
}

void sys_ret_far(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	emu_far_ret(cpu, insn->opsize, insn->op == 0xca ? (uint16_t)insn->imm : 0);
}

void sys_iret(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	emu_iret(cpu, insn->opsize);
}

/* ---- group 6: SLDT, STR, LLDT, LTR, VERR, VERW -------------------------- */

/* Whether sel names a descriptor that VERR/VERW/LAR/LSL may look at from
 * the current privilege: present in its table, not null, and (unless
 * conforming code) with DPL >= CPL and DPL >= RPL. */
static bool visible_desc(struct emu_cpu *cpu, uint16_t sel, struct emu_segment *s)
{
	uint64_t d[2];

	if (sel_is_null(sel) || !emu_desc_read(cpu, sel, d, false))
		return false;
	emu_desc_decode(d, sel, false, s);
	if (s->s && (s->type & DESC_CODE) && (s->type & DESC_CONFORMING))
		return true;
	return s->dpl >= cpu->cpl && s->dpl >= (sel & 3u);
}

static void set_zf(struct emu_cpu *cpu, bool zf)
{
	emu_set_arith_flags(cpu, EMU_ZF, zf ? EMU_ZF : 0);
}

static void verr_verw(struct emu_cpu *cpu, const struct insn *insn, bool write)
{
	uint16_t sel = (uint16_t)exec_get_rm(cpu, insn, 2);
	struct emu_segment s;
	bool ok = visible_desc(cpu, sel, &s) && s.s;

	if (ok && write)
		ok = !(s.type & DESC_CODE) && (s.type & DESC_WRITABLE);
	else if (ok)
		ok = !(s.type & DESC_CODE) || (s.type & DESC_READABLE);
	set_zf(cpu, ok);
}

static void store_selector(struct emu_cpu *cpu, const struct insn *insn, uint16_t sel)
{
	if (insn->mod == 3)
		exec_set_reg(cpu, insn, insn->rm, insn->opsize, sel);
	else
		exec_set_rm(cpu, insn, 2, sel);
}

void sys_group6(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	require_protected(cpu);
	switch (insn->reg & 7) {
	case 0:
		store_selector(cpu, insn, cpu->ldtr.selector);
		break;
	case 1:
		store_selector(cpu, insn, cpu->tr.selector);
		break;
	case 2:
		require_cpl0(cpu);
		emu_load_ldtr(cpu, (uint16_t)exec_get_rm(cpu, insn, 2));
		break;
	case 3:
		require_cpl0(cpu);
		emu_load_tr(cpu, (uint16_t)exec_get_rm(cpu, insn, 2));
		break;
	case 4:
		verr_verw(cpu, insn, false);
		break;
	case 5:
		verr_verw(cpu, insn, true);
		break;
	default:
		emu_raise_ud(cpu);
	}
	exec_advance(cpu, insn);
}

/* ---- group 7 ------------------------------------------------------------ */

/* SGDT/SIDT: limit, then a 32-bit base (24 bits with a 16-bit operand),
 * or a 64-bit one in 64-bit mode. */
static void store_table(struct emu_cpu *cpu, const struct insn *insn, const struct emu_table_reg *t)
{
	unsigned seg = exec_ea_seg(insn);
	uint64_t ea = exec_ea(cpu, insn);
	unsigned bsize = cpu->mode == EMU_MODE_LONG64 ? 8 : 4;
	uint64_t base = t->base;

	if (bsize == 4)
		base &= insn->opsize == 2 ? 0xffffffull : 0xffffffffull;
	/* Both parts are checked before either is written. */
	emu_linear(cpu, seg, ea, 2 + bsize, EMU_WRITE);
	emu_write(cpu, seg, ea, 2, t->limit);
	emu_write(cpu, seg, (ea + 2) & size_mask(insn->adsize), bsize, base);
}

static void load_table(struct emu_cpu *cpu, const struct insn *insn, struct emu_table_reg *t)
{
	unsigned seg = exec_ea_seg(insn);
	uint64_t ea = exec_ea(cpu, insn);
	unsigned bsize = cpu->mode == EMU_MODE_LONG64 ? 8 : 4;
	uint16_t limit;
	uint64_t base;

	require_cpl0(cpu);
	limit = (uint16_t)emu_read(cpu, seg, ea, 2);
	base = emu_read(cpu, seg, (ea + 2) & size_mask(insn->adsize), bsize);
	if (bsize == 4 && insn->opsize == 2)
		base &= 0xffffff;
	t->limit = limit;
	t->base = base;
}

static void invlpg(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned seg = exec_ea_seg(insn);
	uint64_t ea = exec_ea(cpu, insn), la;

	require_cpl0(cpu);
	/* INVLPG names a linear address but accesses nothing: no limit or
	 * canonical checks. */
	if (cpu->mode == EMU_MODE_LONG64)
		la = ea + ((seg == SEG_FS || seg == SEG_GS) ? cpu->seg[seg].base : 0);
	else
		la = (cpu->seg[seg].base + ea) & 0xffffffffull;
	emu_tlb_flush_page(cpu, la);
}

static void lmsw(struct emu_cpu *cpu, uint16_t v)
{
	/* Only PE, MP, EM and TS; PE can be set but not cleared. */
	require_cpl0(cpu);
	emu_write_cr0(cpu, (cpu->cr0 & ~0xeull) | (v & 0xfu) | (cpu->cr0 & EMU_CR0_PE));
}

static void smsw(struct emu_cpu *cpu, const struct insn *insn)
{
	if (insn->mod == 3)
		exec_set_reg(cpu, insn, insn->rm, insn->opsize, cpu->cr0 & 0xffffffffull);
	else
		exec_set_rm(cpu, insn, 2, cpu->cr0 & 0xffff);
}

void sys_group7(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned r = insn->reg & 7;

	exec_no_lock(cpu, insn);
	if (insn->mod == 3) {
		/* The register forms: only SMSW, LMSW, SWAPGS and RDTSCP
		 * exist here (no VMX/SVM, MONITOR, SMAP, XSAVE, ...). */
		if (r == 4) {
			smsw(cpu, insn);
		} else if (r == 6) {
			lmsw(cpu, (uint16_t)exec_get_rm(cpu, insn, 2));
		} else if (r == 7 && (insn->rm & 7) == 0) {
			sys_swapgs(cpu, insn);
			return;
		} else if (r == 7 && (insn->rm & 7) == 1) {
			sys_rdtscp(cpu, insn);
			return;
		} else {
			emu_raise_ud(cpu);
		}
		exec_advance(cpu, insn);
		return;
	}
	switch (r) {
	case 0:
		store_table(cpu, insn, &cpu->gdtr);
		break;
	case 1:
		store_table(cpu, insn, &cpu->idtr);
		break;
	case 2:
		load_table(cpu, insn, &cpu->gdtr);
		break;
	case 3:
		load_table(cpu, insn, &cpu->idtr);
		break;
	case 4:
		smsw(cpu, insn);
		break;
	case 6:
		lmsw(cpu, (uint16_t)exec_get_rm(cpu, insn, 2));
		break;
	case 7:
		invlpg(cpu, insn);
		break;
	default:
		emu_raise_ud(cpu);
	}
	exec_advance(cpu, insn);
}

/* ---- LAR, LSL ----------------------------------------------------------- */

/* System descriptor types LAR (lar) or LSL (!lar) accept, by mode. */
static bool system_type_ok(const struct emu_cpu *cpu, unsigned type, bool lar)
{
	if (cpu->efer & EMU_EFER_LMA)
		return type == DESC_LDT || type == DESC_TSS_AVL || type == DESC_TSS_BUSY ||
		       (lar && type == 0xc);
	switch (type) {
	case DESC_TSS16_AVL:
	case DESC_LDT:
	case DESC_TSS16_BUSY:
	case DESC_TSS_AVL:
	case DESC_TSS_BUSY:
		return true;
	case 0x4:  /* 16-bit call gate */
	case 0x5:  /* task gate */
	case 0xc:  /* 32-bit call gate */
		return lar;
	default:
		return false;
	}
}

void sys_lar_lsl(struct emu_cpu *cpu, const struct insn *insn)
{
	bool lar = insn->op == 0x02;
	uint16_t sel;
	uint64_t d[2], v;
	struct emu_segment s;

	exec_no_lock(cpu, insn);
	require_protected(cpu);
	sel = (uint16_t)exec_get_rm(cpu, insn, 2);
	if (!visible_desc(cpu, sel, &s) || (!s.s && !system_type_ok(cpu, s.type, lar))) {
		set_zf(cpu, false);
		exec_advance(cpu, insn);
		return;
	}
	if (lar) {
		emu_desc_read(cpu, sel, d, false);
		v = (d[0] >> 32) & (insn->opsize == 2 ? 0xff00u : 0x00f0ff00u);
	} else {
		v = s.limit;
	}
	exec_set_reg(cpu, insn, insn->reg, insn->opsize, v);
	set_zf(cpu, true);
	exec_advance(cpu, insn);
}
