/* The vCPU of the software core as a whole: raising exceptions, the
 * derived mode, reset/INIT/SIPI, and conversion from and to the loaders'
 * backend-neutral boot state. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid.h"
#include "flags.h"
#include "mem.h"
#include "vmm/cpu_state.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"

#include "cpu_init.h"

_Noreturn void emu_raise(struct emu_cpu *cpu, unsigned vector, bool has_error, uint32_t error)
{
	cpu->event = (struct emu_event){
		.pending = true,
		.vector = (uint8_t)vector,
		.has_error = has_error,
		.error = has_error ? error : 0,
	};
	/* Raising outside an instruction (no loop around it) is a bug in
	 * the core, not something a guest can cause. */
	if (!cpu->fault_jmp)
		abort();
	longjmp(*cpu->fault_jmp, 1);
}

void emu_report_unimplemented(const struct emu_cpu *cpu, unsigned key, const char *fmt, ...)
{
	static atomic_uchar reported[EMU_UNIMPL_COUNT];
	char what[128];
	va_list ap;

	if (key >= EMU_UNIMPL_COUNT || atomic_exchange(&reported[key], 1))
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_warn("vCPU %u at rip 0x%llx: %s is not implemented by the software core; "
		 "the guest gets the fault a CPU without it raises", cpu->index,
		 (unsigned long long)cpu->rip, what);
}

/* The mode follows CR0.PE, EFER.LMA and the cached CS.L/CS.D. CPL is
 * SS.DPL in protected mode: the architecture keeps the two equal (SS
 * loads require DPL = CPL, every privilege change reloads SS), and unlike
 * CS's RPL it is still 0 in the window between setting CR0.PE and the
 * far jump that loads a protected-mode CS. */
void emu_update_mode(struct emu_cpu *cpu)
{
	const struct emu_segment *cs = &cpu->seg[SEG_CS];

	if (!(cpu->cr0 & EMU_CR0_PE)) {
		cpu->mode = EMU_MODE_REAL;
		cpu->cpl = 0;
		return;
	}
	if ((cpu->efer & EMU_EFER_LMA) && cs->l)
		cpu->mode = EMU_MODE_LONG64;
	else
		cpu->mode = cs->db ? EMU_MODE_PROT32 : EMU_MODE_PROT16;
	cpu->cpl = cpu->seg[SEG_SS].dpl & 3;
}

static void set_seg(struct emu_segment *s, uint16_t sel, uint64_t base, uint32_t limit,
		    uint8_t type, uint8_t sys)
{
	*s = (struct emu_segment){
		.selector = sel, .base = base, .limit = limit, .type = type,
		.s = sys, .present = 1,
	};
}

void emu_cpu_reset(struct emu_cpu *cpu)
{
	/* What survives: the wiring to the VM, the TSC (INIT leaves the
	 * TSC running, and vCPUs must agree on it) and, across INIT, the
	 * APIC base (the LAPIC keeps its enable bit too). */
	uint64_t apic_base = cpu->msr.apic_base;
	struct emu_tlb *tlb = cpu->tlb;
	struct emu_block_cache *blocks = cpu->blocks;
	struct emu_jit *jit = cpu->jit;
	struct emu_code_map *code_map = cpu->code_map;
	struct guest_mem *mem = cpu->mem;
	struct emu_lapic *lapic = cpu->lapic;
	struct emu_env *env = cpu->env;
	jmp_buf *fault_jmp = cpu->fault_jmp;
	unsigned index = cpu->index;
	int64_t tsc_offset = cpu->msr.tsc_offset;

	memset(cpu, 0, sizeof(*cpu));
	cpu->tlb = tlb;
	cpu->blocks = blocks;
	cpu->jit = jit;
	cpu->code_map = code_map;
	cpu->mem = mem;
	cpu->lapic = lapic;
	cpu->env = env;
	cpu->fault_jmp = fault_jmp;
	cpu->index = index;
	cpu->msr.tsc_offset = tsc_offset;

	/* SDM vol. 3 table 9-1. */
	cpu->rflags = 0x2;
	cpu->flags.op = CC_OP_EFLAGS;
	cpu->rip = 0xfff0;
	cpu->gpr[2] = emu_cpuid_signature();  /* EDX = family/model/stepping */
	cpu->cr0 = EMU_CR0_CD | EMU_CR0_NW | EMU_CR0_ET;
	set_seg(&cpu->seg[SEG_CS], 0xf000, 0xffff0000ull, 0xffff, 0xb, 1);
	for (unsigned s = 0; s < SEG_COUNT; s++)
		if (s != SEG_CS)
			set_seg(&cpu->seg[s], 0, 0, 0xffff, 0x3, 1);
	set_seg(&cpu->ldtr, 0, 0, 0xffff, 0x2, 0);
	set_seg(&cpu->tr, 0, 0, 0xffff, 0xb, 0);
	cpu->gdtr.limit = 0xffff;
	cpu->idtr.limit = 0xffff;
	cpu->dr[6] = 0xffff0ff0;
	cpu->dr[7] = 0x400;
	cpu->fpu.fcw = 0x40;
	cpu->fpu.mxcsr = 0x1f80;
	/* Enabled at the default address; the BSP flag is read from the
	 * index (see emu_rdmsr), so it does not matter when index is set. */
	cpu->msr.apic_base = apic_base ? apic_base : LAPIC_BASE | (1ull << 11);
	cpu->msr.pat = 0x0007040600070406ull;
	cpu->msr.misc_enable = 1;  /* fast strings */
	emu_update_mode(cpu);
	emu_tlb_flush(cpu, true);
}

void emu_cpu_sipi(struct emu_cpu *cpu, uint8_t vector)
{
	struct emu_segment *cs = &cpu->seg[SEG_CS];

	cs->selector = (uint16_t)(vector << 8);
	cs->base = (uint64_t)vector << 12;
	cs->limit = 0xffff;
	cpu->rip = 0;
	cpu->halted = false;
	cpu->wait_for_sipi = false;
	emu_update_mode(cpu);
}

static void seg_from_state(struct emu_segment *d, const struct cpu_segment *s)
{
	*d = (struct emu_segment){
		.selector = s->selector, .base = s->base, .limit = s->limit,
		.type = s->type & 0xf, .s = s->s, .dpl = s->dpl & 3, .present = s->present,
		.db = s->db, .l = s->l, .g = s->g, .avl = s->avl, .unusable = s->unusable,
	};
}

static void seg_to_state(struct cpu_segment *d, const struct emu_segment *s)
{
	*d = (struct cpu_segment){
		.selector = s->selector, .base = s->base, .limit = s->limit,
		.type = s->type, .s = s->s, .dpl = s->dpl, .present = s->present,
		.db = s->db, .l = s->l, .g = s->g, .avl = s->avl, .unusable = s->unusable,
	};
}

void emu_cpu_load_state(struct emu_cpu *cpu, const struct cpu_state *st)
{
	memcpy(cpu->gpr, st->gpr, sizeof(cpu->gpr));
	cpu->rip = st->rip;
	cpu->rflags = (st->rflags | 0x2) & ~(0x8ull | 0x20ull | (1ull << 15) | ~0x3fffffull);
	cpu->flags.op = CC_OP_EFLAGS;
	cpu->cr0 = st->cr0 | EMU_CR0_ET;
	cpu->cr2 = st->cr2;
	cpu->cr3 = st->cr3;
	cpu->cr4 = st->cr4;
	cpu->efer = st->efer;
	/* LMA follows from LME and paging; loaders may give either. */
	if ((cpu->efer & EMU_EFER_LME) && (cpu->cr0 & EMU_CR0_PG))
		cpu->efer |= EMU_EFER_LMA;
	seg_from_state(&cpu->seg[SEG_ES], &st->es);
	seg_from_state(&cpu->seg[SEG_CS], &st->cs);
	seg_from_state(&cpu->seg[SEG_SS], &st->ss);
	seg_from_state(&cpu->seg[SEG_DS], &st->ds);
	seg_from_state(&cpu->seg[SEG_FS], &st->fs);
	seg_from_state(&cpu->seg[SEG_GS], &st->gs);
	seg_from_state(&cpu->tr, &st->tr);
	seg_from_state(&cpu->ldtr, &st->ldt);
	cpu->gdtr = (struct emu_table_reg){ st->gdt.base, st->gdt.limit };
	cpu->idtr = (struct emu_table_reg){ st->idt.base, st->idt.limit };
	cpu->halted = false;
	cpu->interrupt_shadow = false;
	cpu->event.pending = false;
	emu_update_mode(cpu);
	emu_tlb_flush(cpu, true);
}

void emu_cpu_save_state(const struct emu_cpu *cpu, struct cpu_state *st)
{
	/* emu_get_rflags folds the lazy flags in place: work on a copy. */
	struct emu_cpu tmp = *cpu;

	memset(st, 0, sizeof(*st));
	memcpy(st->gpr, cpu->gpr, sizeof(st->gpr));
	st->rip = cpu->rip;
	st->rflags = emu_get_rflags(&tmp);
	st->cr0 = cpu->cr0;
	st->cr2 = cpu->cr2;
	st->cr3 = cpu->cr3;
	st->cr4 = cpu->cr4;
	st->efer = cpu->efer;
	seg_to_state(&st->es, &cpu->seg[SEG_ES]);
	seg_to_state(&st->cs, &cpu->seg[SEG_CS]);
	seg_to_state(&st->ss, &cpu->seg[SEG_SS]);
	seg_to_state(&st->ds, &cpu->seg[SEG_DS]);
	seg_to_state(&st->fs, &cpu->seg[SEG_FS]);
	seg_to_state(&st->gs, &cpu->seg[SEG_GS]);
	seg_to_state(&st->tr, &cpu->tr);
	seg_to_state(&st->ldt, &cpu->ldtr);
	st->gdt = (struct cpu_table){ cpu->gdtr.base, cpu->gdtr.limit };
	st->idt = (struct cpu_table){ cpu->idtr.base, cpu->idtr.limit };
}
