/* The execution loop of the software core: fetch, decode, execute, deliver
 * exceptions and interrupts at instruction boundaries. The interpreter is
 * the reference every faster path is tested against. */
#ifndef WISP_EMU_INTERP_H
#define WISP_EMU_INTERP_H

#include <stdatomic.h>
#include <stdint.h>

#include "cpu.h"
#include "exec.h"

enum emu_stop {
	EMU_STOP_BUDGET,     /* max_insns executed */
	EMU_STOP_HALT,       /* HLT with nothing to deliver */
	EMU_STOP_SHUTDOWN,   /* triple fault */
	EMU_STOP_REQUEST,    /* *exit_request was set */
	EMU_STOP_IRQ_WINDOW, /* irq_window_exit and interrupts now enabled */
};

/* Run until one of enum emu_stop happens. */
enum emu_stop emu_run(struct emu_cpu *cpu, const struct exec_table *table, uint64_t max_insns,
		      atomic_bool *exit_request);

/* Execute one instruction (delivering any exception it raises). Returns
 * the vector delivered, or -1 when none. For tests. */
int emu_step(struct emu_cpu *cpu, const struct exec_table *table);

#endif
