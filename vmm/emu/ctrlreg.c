/* Control register writes: the consistency checks of MOV CRn (SDM vol. 2
 * MOV—Move to/from Control Registers, vol. 3 2.5 and 9.8.5 for entering
 * and leaving IA-32e mode) and their effect on the mode and the TLB. */
#include "sysregs.h"
#include "lapic.h"
#include "mem.h"

#define CR0_SETTABLE (EMU_CR0_PE | EMU_CR0_MP | EMU_CR0_EM | EMU_CR0_TS | EMU_CR0_NE | \
		      EMU_CR0_WP | EMU_CR0_AM | EMU_CR0_NW | EMU_CR0_CD | EMU_CR0_PG)
#define PHYS_MASK ((1ull << EMU_PHYS_ADDR_BITS) - 1)

void emu_write_cr0(struct emu_cpu *cpu, uint64_t value)
{
	uint64_t old = cpu->cr0;

	if (value >> 32)
		emu_raise_gp(cpu, 0);
	/* Writes to CR0's reserved bits are ignored; ET is fixed at 1. */
	value = (value & CR0_SETTABLE) | EMU_CR0_ET;
	if ((value & EMU_CR0_PG) && !(value & EMU_CR0_PE))
		emu_raise_gp(cpu, 0);
	if ((value & EMU_CR0_NW) && !(value & EMU_CR0_CD))
		emu_raise_gp(cpu, 0);
	if ((value & EMU_CR0_PG) && !(old & EMU_CR0_PG) && (cpu->efer & EMU_EFER_LME)) {
		/* Entering IA-32e mode needs PAE, and cannot happen from
		 * 64-bit code (there is none yet: CS.L must be 0). */
		if (!(cpu->cr4 & EMU_CR4_PAE) || cpu->seg[SEG_CS].l)
			emu_raise_gp(cpu, 0);
		cpu->efer |= EMU_EFER_LMA;
	}
	if (!(value & EMU_CR0_PG) && (old & EMU_CR0_PG) && (cpu->efer & EMU_EFER_LMA)) {
		/* Leaving it is done from compatibility mode only. */
		if (cpu->mode == EMU_MODE_LONG64)
			emu_raise_gp(cpu, 0);
		cpu->efer &= ~EMU_EFER_LMA;
	}
	cpu->cr0 = value;
	if ((old ^ value) & (EMU_CR0_PG | EMU_CR0_WP | EMU_CR0_PE))
		emu_tlb_flush(cpu, true);
	emu_update_mode(cpu);
}

void emu_write_cr3(struct emu_cpu *cpu, uint64_t value)
{
	if (cpu->efer & EMU_EFER_LMA) {
		/* Bits 63:MAXPHYADDR are reserved (no PCIDs). */
		if (value & ~PHYS_MASK)
			emu_raise_gp(cpu, 0);
	} else {
		value &= 0xffffffffull;
	}
	cpu->cr3 = value;
	emu_tlb_flush(cpu, false);
}

void emu_write_cr4(struct emu_cpu *cpu, uint64_t value)
{
	uint64_t old = cpu->cr4;

	if (value & ~EMU_CR4_SUPPORTED) {
		emu_report_unimplemented(cpu, EMU_UNIMPL_CR4, "CR4 bits %#llx",
					 (unsigned long long)(value & ~EMU_CR4_SUPPORTED));
		emu_raise_gp(cpu, 0);
	}
	if ((cpu->efer & EMU_EFER_LMA) && !(value & EMU_CR4_PAE))
		emu_raise_gp(cpu, 0);
	cpu->cr4 = value;
	if ((old ^ value) & (EMU_CR4_PGE | EMU_CR4_PAE | EMU_CR4_PSE))
		emu_tlb_flush(cpu, true);
}

void emu_write_cr8(struct emu_cpu *cpu, uint64_t value)
{
	if (value & ~0xfull)
		emu_raise_gp(cpu, 0);
	if (cpu->lapic)
		emu_lapic_set_tpr(cpu->lapic, (uint8_t)(value << 4));
	else
		cpu->cr8 = value;
}

uint64_t emu_read_cr8(struct emu_cpu *cpu)
{
	if (cpu->lapic)
		return emu_lapic_get_tpr(cpu->lapic) >> 4;
	return cpu->cr8;
}
