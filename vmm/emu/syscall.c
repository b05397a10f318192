/* Fast system calls: SYSCALL/SYSRET (AMD's, usable in every protected
 * mode once EFER.SCE is set), SYSENTER/SYSEXIT (legacy protected mode:
 * like AMD processors, #UD in long mode) and SWAPGS. They load CS and SS
 * with fixed flat descriptors instead of reading the GDT (APM vol. 2
 * 6.1.1, SDM vol. 2 SYSCALL/SYSRET/SYSENTER/SYSEXIT). */
#include "system_ops.h"
#include "flags.h"
#include "interrupt.h"
#include "operand.h"

/* A flat 4 GiB code or data segment as SYSCALL & co. load it. */
static struct emu_segment flat(uint16_t sel, bool code, unsigned dpl, bool l64)
{
	return (struct emu_segment){
		.selector = sel, .base = 0, .limit = 0xffffffffu,
		.type = code ? 0xb : 0x3, .s = 1, .dpl = (uint8_t)dpl, .present = 1,
		.db = code ? !l64 : 1, .l = code && l64, .g = 1,
	};
}

/* Switch CS and SS to flat segments for privilege level cpl. */
static void load_flat(struct emu_cpu *cpu, uint16_t cs_sel, uint16_t ss_sel, unsigned cpl, bool l64)
{
	cpu->seg[SEG_CS] = flat(cs_sel, true, cpl, l64);
	cpu->seg[SEG_SS] = flat(ss_sel, false, cpl, false);
	emu_update_mode(cpu);
}

void sys_syscall(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t flags;
	uint16_t sel = (uint16_t)(cpu->msr.star >> 32);

	exec_no_lock(cpu, insn);
	if (!(cpu->efer & EMU_EFER_SCE) || cpu->mode == EMU_MODE_REAL)
		emu_raise_ud(cpu);
	flags = emu_get_rflags(cpu);
	if (cpu->efer & EMU_EFER_LMA) {
		bool from64 = cpu->mode == EMU_MODE_LONG64;

		cpu->gpr[1] = insn->next_rip;
		cpu->gpr[11] = flags & ~EMU_RF;
		load_flat(cpu, sel & 0xfffc, (uint16_t)(sel + 8), 0, true);
		cpu->rip = from64 ? cpu->msr.lstar : cpu->msr.cstar;
		emu_set_rflags(cpu, flags & ~cpu->msr.sfmask & ~EMU_RF);
		return;
	}
	/* Legacy mode: ECX gets the return address, STAR[31:0] the target. */
	cpu->gpr[1] = insn->next_rip & 0xffffffffull;
	load_flat(cpu, sel & 0xfffc, (uint16_t)(sel + 8), 0, false);
	cpu->rip = cpu->msr.star & 0xffffffffull;
	emu_set_rflags(cpu, flags & ~(EMU_IF | EMU_RF | EMU_VM));
}

void sys_sysret(struct emu_cpu *cpu, const struct insn *insn)
{
	uint16_t sel = (uint16_t)(cpu->msr.star >> 48);

	exec_no_lock(cpu, insn);
	if (!(cpu->efer & EMU_EFER_SCE))
		emu_raise_ud(cpu);
	if (cpu->mode == EMU_MODE_REAL || cpu->cpl != 0)
		emu_raise_gp(cpu, 0);
	if (cpu->efer & EMU_EFER_LMA) {
		bool to64 = insn->opsize == 8;
		uint64_t flags = (cpu->gpr[11] & EMU_RFLAGS_WRITABLE & ~(EMU_RF | EMU_VM)) | 0x2;

		/* The CPUID says AMD: a non-canonical RCX is not checked
		 * here (Intel faults at CPL 0); the switch to CPL 3 happens
		 * and the fetch at the new rip raises #GP there. */
		load_flat(cpu, (uint16_t)((to64 ? sel + 16 : sel) | 3), (uint16_t)((sel + 8) | 3), 3, to64);
		cpu->rip = to64 ? cpu->gpr[1] : (cpu->gpr[1] & 0xffffffffull);
		emu_set_rflags(cpu, flags);
		return;
	}
	load_flat(cpu, (uint16_t)(sel | 3), (uint16_t)((sel + 8) | 3), 3, false);
	cpu->rip = cpu->gpr[1] & 0xffffffffull;
	cpu->rflags |= EMU_IF;
}

void sys_sysenter(struct emu_cpu *cpu, const struct insn *insn)
{
	uint16_t sel = (uint16_t)cpu->msr.sysenter_cs;

	exec_no_lock(cpu, insn);
	if (cpu->efer & EMU_EFER_LMA)
		emu_raise_ud(cpu);
	if (cpu->mode == EMU_MODE_REAL || (sel & 0xfffc) == 0)
		emu_raise_gp(cpu, 0);
	load_flat(cpu, sel & 0xfffc, (uint16_t)((sel & 0xfffc) + 8), 0, false);
	cpu->gpr[4] = cpu->msr.sysenter_esp & 0xffffffffull;
	cpu->rip = cpu->msr.sysenter_eip & 0xffffffffull;
	cpu->rflags &= ~(EMU_IF | EMU_RF | EMU_VM);
}

void sys_sysexit(struct emu_cpu *cpu, const struct insn *insn)
{
	uint16_t sel = (uint16_t)cpu->msr.sysenter_cs;

	exec_no_lock(cpu, insn);
	if (cpu->efer & EMU_EFER_LMA)
		emu_raise_ud(cpu);
	if (cpu->mode == EMU_MODE_REAL || cpu->cpl != 0 || (sel & 0xfffc) == 0)
		emu_raise_gp(cpu, 0);
	load_flat(cpu, (uint16_t)((sel + 16) | 3), (uint16_t)((sel + 24) | 3), 3, false);
	cpu->gpr[4] = cpu->gpr[1] & 0xffffffffull;
	cpu->rip = cpu->gpr[2] & 0xffffffffull;
}

void sys_swapgs(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t t;

	exec_require_64(cpu);
	if (cpu->cpl != 0)
		emu_raise_gp(cpu, 0);
	t = cpu->seg[SEG_GS].base;
	cpu->seg[SEG_GS].base = cpu->msr.kernel_gs_base;
	cpu->msr.kernel_gs_base = t;
	exec_advance(cpu, insn);
}
