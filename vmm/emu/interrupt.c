/* Event delivery (SDM vol. 3 ch. 6, the INT n pseudo-code of vol. 2) and
 * IRET. Every check and every stack write happens before any register
 * changes, so a fault during delivery leaves the CPU as it was at the
 * event and the nested fault can be delivered (or combined into #DF) from
 * the same state. */
#include "interrupt.h"
#include "flags.h"
#include "mem.h"
#include "segment.h"

/* Exception classes of the double-fault table (SDM vol. 3 table 6-5). */
enum fault_class { CLASS_BENIGN = 1, CLASS_CONTRIBUTORY, CLASS_PAGE_FAULT, CLASS_DOUBLE_FAULT };

static enum fault_class classify(const struct emu_event *e)
{
	if (e->is_interrupt || e->soft)
		return CLASS_BENIGN;
	switch (e->vector) {
	case EMU_VEC_DE:
	case EMU_VEC_TS:
	case EMU_VEC_NP:
	case EMU_VEC_SS:
	case EMU_VEC_GP:
		return CLASS_CONTRIBUTORY;
	case EMU_VEC_PF:
		return CLASS_PAGE_FAULT;
	case EMU_VEC_DF:
		return CLASS_DOUBLE_FAULT;
	default:
		return CLASS_BENIGN;
	}
}

/* ---- stack frames ------------------------------------------------------ */

/* Push n values of size bytes (vals[0] first, at the highest address) on
 * the stack ss:sp that the handler will run on, checking its limits
 * (#SS(ss_err)) outside long mode and canonical addresses (#SS(ext))
 * inside. The accesses are made at the new privilege level. Returns the
 * new stack pointer; nothing is committed. */
static uint64_t push_frame(struct emu_cpu *cpu, const struct emu_segment *ss, uint64_t sp,
			   const uint64_t *vals, unsigned n, unsigned size, uint32_t ss_err,
			   uint32_t ext, unsigned new_cpl)
{
	bool supervisor = new_cpl < 3;
	bool lm = cpu->efer & EMU_EFER_LMA;
	uint64_t mask = lm ? ~0ull : (ss->db ? 0xffffffffull : 0xffffull);

	if (lm && (!emu_canonical(sp - 1) || !emu_canonical(sp - (uint64_t)n * size)))
		emu_raise(cpu, EMU_VEC_SS, true, ext);
	for (unsigned i = 0; i < n; i++) {
		uint64_t off = (sp - (uint64_t)(i + 1) * size) & mask;
		uint64_t la;

		if (lm) {
			la = off;
		} else {
			uint64_t last = off + size - 1;

			if (ss->unusable)
				emu_raise(cpu, EMU_VEC_SS, true, ss_err);
			if (ss->type & DESC_EXPAND_DN) {
				if (off <= ss->limit || last > (ss->db ? 0xffffffffull : 0xffffull))
					emu_raise(cpu, EMU_VEC_SS, true, ss_err);
			} else if (last > ss->limit) {
				emu_raise(cpu, EMU_VEC_SS, true, ss_err);
			}
			la = (ss->base + off) & 0xffffffffull;
		}
		emu_write_linear(cpu, la, size, vals[i], supervisor);
	}
	return (sp - (uint64_t)n * size) & mask;
}

/* ---- handler code segment and stacks ----------------------------------- */

/* The code segment named by a gate. */
static void handler_cs(struct emu_cpu *cpu, uint16_t sel, uint32_t ext, bool want64,
		       struct emu_segment *cs)
{
	uint64_t d[2];

	if (sel_is_null(sel))
		emu_raise_gp(cpu, ext);
	if (!emu_desc_read(cpu, sel, d, false))
		emu_raise_gp(cpu, sel_error(sel) | ext);
	emu_desc_decode(d, sel, false, cs);
	if (!cs->s || !(cs->type & DESC_CODE) || cs->dpl > cpu->cpl)
		emu_raise_gp(cpu, sel_error(sel) | ext);
	if (want64 && (!cs->l || cs->db))
		emu_raise_gp(cpu, sel_error(sel) | ext);
	if (!cs->present)
		emu_raise(cpu, EMU_VEC_NP, true, sel_error(sel) | ext);
	emu_desc_set_accessed(cpu, sel, d[0]);
}

/* Read size bytes at offset off of the current TSS (#TS beyond its limit). */
static uint64_t tss_read(struct emu_cpu *cpu, uint32_t off, unsigned size, uint32_t ext)
{
	if (cpu->tr.unusable || !cpu->tr.present || off + size - 1 > cpu->tr.limit)
		emu_raise(cpu, EMU_VEC_TS, true, sel_error(cpu->tr.selector) | ext);
	return emu_read_linear(cpu, cpu->tr.base + off, size, true);
}

/* The inner stack for privilege level dpl from a 16- or 32-bit TSS. */
static void legacy_inner_stack(struct emu_cpu *cpu, unsigned dpl, uint32_t ext,
			       struct emu_segment *ss, uint64_t *sp)
{
	bool tss32 = (cpu->tr.type & ~0x2u) == DESC_TSS_AVL;
	uint16_t sel;
	uint64_t d[2];

	if (tss32) {
		*sp = tss_read(cpu, 4 + dpl * 8, 4, ext);
		sel = (uint16_t)tss_read(cpu, 8 + dpl * 8, 2, ext);
	} else {
		*sp = tss_read(cpu, 2 + dpl * 4, 2, ext);
		sel = (uint16_t)tss_read(cpu, 4 + dpl * 4, 2, ext);
	}
	if (sel_is_null(sel))
		emu_raise(cpu, EMU_VEC_TS, true, ext);
	if (!emu_desc_read(cpu, sel, d, false))
		emu_raise(cpu, EMU_VEC_TS, true, sel_error(sel) | ext);
	emu_desc_decode(d, sel, false, ss);
	if ((sel & 3u) != dpl || ss->dpl != dpl || !ss->s || (ss->type & DESC_CODE) ||
	    !(ss->type & DESC_WRITABLE))
		emu_raise(cpu, EMU_VEC_TS, true, sel_error(sel) | ext);
	if (!ss->present)
		emu_raise(cpu, EMU_VEC_SS, true, sel_error(sel) | ext);
	emu_desc_set_accessed(cpu, sel, d[0]);
	ss->type |= DESC_ACCESSED;
}

/* Error code pushed: only hardware exceptions that define one. */
static bool pushes_error(const struct emu_event *ev)
{
	return ev->has_error && !ev->is_interrupt && !ev->soft;
}

static void commit_flags(struct emu_cpu *cpu, uint64_t flags, bool clear_if)
{
	flags &= ~(EMU_TF | EMU_NT | EMU_RF | EMU_VM);
	if (clear_if)
		flags &= ~EMU_IF;
	emu_set_rflags(cpu, flags);
}

/* ---- real mode --------------------------------------------------------- */

/* The rip a frame saves: the instruction's for faults and interrupts, the
 * next one's for trap-like events. */
static uint64_t event_rip(const struct emu_cpu *cpu, const struct emu_event *ev)
{
	return ev->trap ? ev->return_rip : cpu->rip;
}

static void deliver_real(struct emu_cpu *cpu, const struct emu_event *ev)
{
	uint64_t ent = (uint64_t)ev->vector * 4;
	uint64_t flags = emu_get_rflags(cpu);
	uint64_t sp = cpu->gpr[4];
	uint32_t vec;
	struct emu_segment *cs = &cpu->seg[SEG_CS];

	if (ent + 3 > cpu->idtr.limit)
		emu_raise_gp(cpu, 0);
	vec = (uint32_t)emu_read_linear(cpu, cpu->idtr.base + ent, 4, true);
	emu_stack_write(cpu, sp - 2, 2, flags);
	emu_stack_write(cpu, sp - 4, 2, cs->selector);
	emu_stack_write(cpu, sp - 6, 2, event_rip(cpu, ev));
	emu_set_sp(cpu, sp - 6);
	cs->selector = (uint16_t)(vec >> 16);
	cs->base = (uint64_t)(vec >> 16) << 4;
	cpu->rip = vec & 0xffff;
	emu_set_rflags(cpu, flags & ~(EMU_IF | EMU_TF | EMU_AC | EMU_RF));
}

/* ---- protected mode ---------------------------------------------------- */

static void deliver_protected(struct emu_cpu *cpu, const struct emu_event *ev)
{
	uint32_t ext = ev->soft ? 0 : 1;
	uint32_t idt_err = (uint32_t)ev->vector * 8 + 2 + ext;
	uint64_t gate, off, sp, flags, vals[6];
	struct emu_segment cs, ss;
	unsigned type, gsize, n = 0, new_cpl;
	uint16_t sel;
	bool inner, int_gate;
	uint32_t ss_err;

	if ((uint64_t)ev->vector * 8 + 7 > cpu->idtr.limit)
		emu_raise_gp(cpu, idt_err);
	gate = emu_read_linear(cpu, cpu->idtr.base + (uint64_t)ev->vector * 8, 8, true);
	type = (gate >> 40) & 0x1f;  /* S bit and type */
	switch (type) {
	case DESC_INT_GATE16:
	case DESC_TRAP_GATE16:
		gsize = 2;
		break;
	case DESC_INT_GATE:
	case DESC_TRAP_GATE:
		gsize = 4;
		break;
	default:
		/* Includes task gates (type 5): task switches are not
		 * modelled. */
		emu_raise_gp(cpu, idt_err);
	}
	int_gate = (type & 1) == 0;
	if (ev->soft && ((gate >> 45) & 3) < cpu->cpl)
		emu_raise_gp(cpu, (uint32_t)ev->vector * 8 + 2);
	if (!((gate >> 47) & 1))
		emu_raise(cpu, EMU_VEC_NP, true, idt_err);
	sel = (uint16_t)(gate >> 16);
	off = (gate & 0xffff) | (gsize == 4 ? ((gate >> 32) & 0xffff0000ull) : 0);
	handler_cs(cpu, sel, ext, false, &cs);
	inner = !(cs.type & DESC_CONFORMING) && cs.dpl < cpu->cpl;
	new_cpl = inner ? cs.dpl : cpu->cpl;
	if (off > cs.limit)
		emu_raise_gp(cpu, ext);

	flags = emu_get_rflags(cpu);
	if (inner) {
		legacy_inner_stack(cpu, new_cpl, ext, &ss, &sp);
		ss_err = sel_error(ss.selector) | ext;
		vals[n++] = cpu->seg[SEG_SS].selector;
		vals[n++] = cpu->gpr[4];
	} else {
		ss = cpu->seg[SEG_SS];
		sp = cpu->gpr[4];
		ss_err = ext;
	}
	vals[n++] = flags;
	vals[n++] = cpu->seg[SEG_CS].selector;
	vals[n++] = event_rip(cpu, ev);
	if (pushes_error(ev))
		vals[n++] = ev->error;
	sp = push_frame(cpu, &ss, sp, vals, n, gsize, ss_err, ext, new_cpl);

	if (inner)
		cpu->seg[SEG_SS] = ss;
	emu_set_cs(cpu, &cs, new_cpl);
	emu_set_sp(cpu, sp);
	cpu->rip = off;
	commit_flags(cpu, flags, int_gate);
}

/* ---- long mode --------------------------------------------------------- */

static void deliver_long(struct emu_cpu *cpu, const struct emu_event *ev)
{
	uint32_t ext = ev->soft ? 0 : 1;
	uint32_t idt_err = (uint32_t)ev->vector * 8 + 2 + ext;
	uint64_t lo, hi, off, sp, flags, vals[6];
	struct emu_segment cs, ss;
	unsigned type, ist, n = 0, new_cpl;
	uint16_t sel;
	bool inner;

	if ((uint64_t)ev->vector * 16 + 15 > cpu->idtr.limit)
		emu_raise_gp(cpu, idt_err);
	lo = emu_read_linear(cpu, cpu->idtr.base + (uint64_t)ev->vector * 16, 8, true);
	hi = emu_read_linear(cpu, cpu->idtr.base + (uint64_t)ev->vector * 16 + 8, 8, true);
	type = (lo >> 40) & 0x1f;
	if (type != DESC_INT_GATE && type != DESC_TRAP_GATE)
		emu_raise_gp(cpu, idt_err);
	if (ev->soft && ((lo >> 45) & 3) < cpu->cpl)
		emu_raise_gp(cpu, (uint32_t)ev->vector * 8 + 2);
	if (!((lo >> 47) & 1))
		emu_raise(cpu, EMU_VEC_NP, true, idt_err);
	sel = (uint16_t)(lo >> 16);
	off = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull) | (hi << 32);
	ist = (lo >> 32) & 7;
	handler_cs(cpu, sel, ext, true, &cs);
	inner = !(cs.type & DESC_CONFORMING) && cs.dpl < cpu->cpl;
	new_cpl = inner ? cs.dpl : cpu->cpl;
	if (!emu_canonical(off))
		emu_raise_gp(cpu, ext);

	/* The stack: an IST entry when the gate names one, else RSP0..2
	 * on a privilege change, else the current one; aligned to 16. */
	if (ist)
		sp = tss_read(cpu, 0x24 + (ist - 1) * 8, 8, ext);
	else if (inner)
		sp = tss_read(cpu, 4 + new_cpl * 8, 8, ext);
	else
		sp = cpu->gpr[4];
	if (!emu_canonical(sp))
		emu_raise(cpu, EMU_VEC_SS, true, ext);
	sp &= ~0xfull;

	flags = emu_get_rflags(cpu);
	vals[n++] = cpu->seg[SEG_SS].selector;
	vals[n++] = cpu->gpr[4];
	vals[n++] = flags;
	vals[n++] = cpu->seg[SEG_CS].selector;
	vals[n++] = event_rip(cpu, ev);
	if (pushes_error(ev))
		vals[n++] = ev->error;
	ss = cpu->seg[SEG_SS];
	sp = push_frame(cpu, &ss, sp, vals, n, 8, ext, ext, new_cpl);

	if (inner) {
		/* A privilege change leaves SS null, with RPL = new CPL. */
		cpu->seg[SEG_SS] = (struct emu_segment){
			.selector = (uint16_t)new_cpl, .dpl = (uint8_t)new_cpl, .unusable = 1,
		};
	}
	emu_set_cs(cpu, &cs, new_cpl);
	cpu->gpr[4] = sp;
	cpu->rip = off;
	commit_flags(cpu, flags, type == DESC_INT_GATE);
}

/* ---- delivery ---------------------------------------------------------- */

static void deliver_once(struct emu_cpu *cpu)
{
	struct emu_event ev = cpu->event;

	if (cpu->mode == EMU_MODE_REAL)
		deliver_real(cpu, &ev);
	else if (cpu->efer & EMU_EFER_LMA)
		deliver_long(cpu, &ev);
	else
		deliver_protected(cpu, &ev);
	if (ev.vector == EMU_VEC_NMI && !ev.soft)
		cpu->nmi_blocked = true;
	cpu->halted = false;
	cpu->interrupt_shadow = false;
}

void emu_deliver_event(struct emu_cpu *cpu)
{
	jmp_buf nested;
	jmp_buf *outer = cpu->fault_jmp;

	if (!cpu->event.pending)
		return;
	cpu->fault_jmp = &nested;
	/* cpu->fault_depth holds the class of the event being delivered
	 * while it is; a fault during delivery lands here with the new
	 * exception in cpu->event (state in cpu, not in locals, across the
	 * longjmp). */
	if (setjmp(nested)) {
		enum fault_class first = (enum fault_class)cpu->fault_depth;
		enum fault_class second = classify(&cpu->event);

		if (first == CLASS_DOUBLE_FAULT) {
			cpu->triple_fault = true;
			goto out;
		}
		if ((first == CLASS_CONTRIBUTORY && second == CLASS_CONTRIBUTORY) ||
		    (first == CLASS_PAGE_FAULT &&
		     (second == CLASS_CONTRIBUTORY || second == CLASS_PAGE_FAULT))) {
			cpu->event = (struct emu_event){
				.pending = true, .vector = EMU_VEC_DF, .has_error = true, .error = 0,
			};
		}
		/* Otherwise the new exception is delivered in place of the
		 * first, which recurs when its instruction restarts. */
	}
	cpu->fault_depth = classify(&cpu->event);
	deliver_once(cpu);
out:
	cpu->event.pending = false;
	cpu->fault_depth = 0;
	cpu->fault_jmp = outer;
}

/* ---- RFLAGS loads and IRET ---------------------------------------------- */

void emu_load_rflags(struct emu_cpu *cpu, uint64_t value, unsigned opsize, bool iret)
{
	uint64_t old = emu_get_rflags(cpu);
	uint64_t mask = EMU_RFLAGS_WRITABLE & ~EMU_VM;
	bool real = cpu->mode == EMU_MODE_REAL;
	unsigned iopl = (old & EMU_IOPL) >> 12;

	/* VIF and VIP change only through IRET at CPL 0 in protected mode;
	 * POPF leaves RF alone too. */
	if (!iret || real || cpu->cpl != 0)
		mask &= ~(EMU_VIF | EMU_VIP);
	if (!iret)
		mask &= ~EMU_RF;
	if (!real) {
		if (cpu->cpl != 0)
			mask &= ~EMU_IOPL;
		if (cpu->cpl > iopl)
			mask &= ~EMU_IF;
	}
	if (opsize == 2)
		mask &= 0xffff;
	emu_set_rflags(cpu, (old & ~mask) | (value & mask) | 0x2);
}

void emu_iret(struct emu_cpu *cpu, unsigned opsize)
{
	uint64_t sp = cpu->gpr[4], ip, fl, new_sp = 0;
	uint16_t sel, ss_sel;
	struct emu_segment cs, ss;
	unsigned rpl, old_cpl = cpu->cpl;
	bool from64 = cpu->mode == EMU_MODE_LONG64, pop_ss;

	/* IRET ends NMI blocking even when it then faults. */
	cpu->nmi_blocked = false;
	ip = emu_stack_read(cpu, sp, opsize);
	sel = (uint16_t)emu_stack_read(cpu, sp + opsize, opsize);
	fl = emu_stack_read(cpu, sp + 2 * opsize, opsize);

	if (cpu->mode == EMU_MODE_REAL) {
		struct emu_segment *c = &cpu->seg[SEG_CS];

		if (ip > c->limit)
			emu_raise_gp(cpu, 0);
		c->selector = sel;
		c->base = (uint64_t)sel << 4;
		emu_load_rflags(cpu, fl, opsize, true);
		emu_set_sp(cpu, sp + 3 * opsize);
		cpu->rip = ip;
		return;
	}
	/* Nested-task returns and returns to virtual-8086 mode: not
	 * modelled (in IA-32e mode NT = 1 is #GP(0) architecturally). */
	if (emu_get_rflags(cpu) & EMU_NT)
		emu_raise_gp(cpu, 0);
	if (!(cpu->efer & EMU_EFER_LMA) && opsize == 4 && (fl & EMU_VM) && cpu->cpl == 0)
		emu_raise_gp(cpu, 0);

	emu_check_return_cs(cpu, sel, &cs);
	rpl = sel & 3;
	pop_ss = from64 || rpl > cpu->cpl;
	if (pop_ss) {
		new_sp = emu_stack_read(cpu, sp + 3 * opsize, opsize);
		ss_sel = (uint16_t)emu_stack_read(cpu, sp + 4 * opsize, opsize);
		emu_check_return_ss(cpu, ss_sel, rpl, &cs, &ss);
	}
	if ((cpu->efer & EMU_EFER_LMA) && cs.l) {
		if (!emu_canonical(ip))
			emu_raise_gp(cpu, 0);
	} else if (ip > cs.limit) {
		emu_raise_gp(cpu, 0);
	}

	emu_load_rflags(cpu, fl, opsize, true);  /* at the old CPL */
	if (pop_ss) {
		cpu->seg[SEG_SS] = ss;
		emu_set_cs(cpu, &cs, rpl);
		if (from64)
			cpu->gpr[4] = new_sp;
		else
			emu_set_sp(cpu, new_sp);
		if (rpl > old_cpl)
			emu_null_inaccessible_segments(cpu);
	} else {
		emu_set_sp(cpu, sp + 3 * opsize);
		emu_set_cs(cpu, &cs, cpu->cpl);
	}
	cpu->rip = ip;
}
