/* Starting a vCPU of the software core: power-on/INIT state, start-up
 * IPIs, and the loaders' backend-neutral boot state in and out. */
#ifndef WISP_EMU_CPU_INIT_H
#define WISP_EMU_CPU_INIT_H

#include <stdint.h>

#include "cpu.h"

struct cpu_state;

/* Power-on / INIT state (SDM vol. 3 table 9-1): real mode at F000:FFF0
 * with CS base 0xFFFF0000. Keeps the wiring (tlb, mem, lapic, env,
 * fault_jmp, index), the TSC offset and a non-zero IA32_APIC_BASE (so a
 * zeroed CPU gets the power-on value, and INIT keeps the guest's). The
 * BSP flag of IA32_APIC_BASE reads as index == 0. */
void emu_cpu_reset(struct emu_cpu *cpu);

/* Start-up IPI: CS = vector << 8 (base vector << 12), IP = 0, running. */
void emu_cpu_sipi(struct emu_cpu *cpu, uint8_t vector);

/* From and to the loaders' state (vmm/cpu_state.h). Loading derives
 * EFER.LMA from LME and CR0.PG, the mode and CPL (SS.DPL), and flushes
 * the TLB. */
void emu_cpu_load_state(struct emu_cpu *cpu, const struct cpu_state *st);
void emu_cpu_save_state(const struct emu_cpu *cpu, struct cpu_state *st);

#endif
