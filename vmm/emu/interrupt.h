/* Exception and interrupt delivery, and IRET.
 *
 * The execution loop hands every event to emu_deliver_event(): exceptions
 * recorded by emu_raise(), software interrupts (event.soft, rip already
 * past the INT instruction) and external interrupts and NMIs
 * (event.is_interrupt) it injects at an instruction boundary. */
#ifndef WISP_EMU_INTERRUPT_H
#define WISP_EMU_INTERRUPT_H

#include "cpu.h"

/* Deliver cpu->event through the IVT (real mode) or the IDT (protected
 * and long mode) and clear it. A fault while delivering is combined with
 * the event as the SDM's double-fault table says (contributory after
 * contributory, or contributory/#PF after #PF, give #DF(0); anything else
 * is delivered in turn); a fault while delivering #DF sets
 * cpu->triple_fault and leaves the state as it was. Uses its own
 * fault_jmp and restores cpu->fault_jmp before returning. Wakes a halted
 * CPU; NMI delivery sets nmi_blocked. Task gates are not modelled: a task
 * gate in the IDT gives #GP(vector * 8 + 2). */
void emu_deliver_event(struct emu_cpu *cpu);

/* IRET with operand size opsize (2, 4, 8): real mode, protected mode to
 * the same or an outer privilege level, IA-32e mode (IRET in 64-bit mode
 * always pops SS:RSP). Unblocks NMIs (even when it faults). Returns to
 * virtual-8086 mode and nested-task returns (NT = 1) raise #GP(0): not
 * modelled. Sets rip itself. */
void emu_iret(struct emu_cpu *cpu, unsigned opsize);

/* The RFLAGS bits software may change (POPF/IRET): CF PF AF ZF SF TF IF DF
 * OF IOPL NT RF AC VIF VIP ID (VM only through IRET at CPL 0). */
#define EMU_RFLAGS_WRITABLE 0x3f7fd5ull

/* Load RFLAGS as POPF (iret = false) or IRET (iret = true) does at the
 * current CPL and IOPL, only the low 16 bits when opsize is 2. */
void emu_load_rflags(struct emu_cpu *cpu, uint64_t value, unsigned opsize, bool iret);

#endif
