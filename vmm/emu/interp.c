#include "interp.h"

#include "decode.h"
#include "interrupt.h"
#include "mem.h"

/* Mask rip to the code size outside 64-bit mode. */
static uint64_t code_rip(const struct emu_cpu *cpu, uint64_t rip)
{
	switch (cpu->mode) {
	case EMU_MODE_LONG64:
		return rip;
	case EMU_MODE_PROT32:
		return rip & 0xffffffffull;
	default:
		return rip & 0xffffull;
	}
}

/* Fetch and decode the instruction at cpu->rip. A fault on any of its
 * bytes is raised. */
static void fetch_decode(struct emu_cpu *cpu, struct insn *insn)
{
	uint8_t bytes[INSN_MAX_LEN];
	unsigned got = emu_fetch(cpu, cpu->rip, bytes, sizeof(bytes));

	switch (emu_decode(insn, bytes, got, cpu->mode)) {
	case DECODE_OK:
		break;
	case DECODE_NEED_MORE:
		/* The bytes stopped at a page that faults (emu_fetch returns
		 * short rather than raise for a later byte), or at the 15-byte
		 * limit: fetching that byte alone raises the fault. */
		if (got < sizeof(bytes))
			emu_fetch(cpu, cpu->rip + got, bytes, 1);
		emu_raise_ud(cpu);
	case DECODE_INVALID:
		emu_raise_ud(cpu);
	}
	insn->next_rip = code_rip(cpu, cpu->rip + insn->len);
}

static void execute_one(struct emu_cpu *cpu, const struct exec_table *table)
{
	struct insn insn;
	exec_fn fn;

	fetch_decode(cpu, &insn);
	fn = table->fn[insn.map][insn.op];
	if (!fn)
		emu_raise_ud(cpu);
	/* STI, MOV SS and POP SS set the shadow again for the instruction
	 * after them; any other instruction ends it. */
	cpu->interrupt_shadow = false;
	fn(cpu, &insn);
}

enum emu_stop emu_run(struct emu_cpu *cpu, const struct exec_table *table, uint64_t max_insns,
		      atomic_bool *exit_request)
{
	jmp_buf fault;
	volatile uint64_t done = 0;
	volatile enum emu_stop stop = EMU_STOP_BUDGET;

	cpu->fault_jmp = &fault;
	if (setjmp(fault)) {
		/* An instruction raised cpu->event: deliver it from the
		 * faulting instruction's boundary. */
		done++;
		emu_deliver_event(cpu);
		cpu->fault_jmp = &fault;
		if (cpu->triple_fault) {
			stop = EMU_STOP_SHUTDOWN;
			goto out;
		}
	}
	while (done < max_insns) {
		if (atomic_load_explicit(exit_request, memory_order_relaxed)) {
			stop = EMU_STOP_REQUEST;
			break;
		}
		if (cpu->halted) {
			stop = EMU_STOP_HALT;
			break;
		}
		if (cpu->irq_window_exit && (cpu->rflags & EMU_IF) && !cpu->interrupt_shadow) {
			stop = EMU_STOP_IRQ_WINDOW;
			break;
		}
		execute_one(cpu, table);
		done++;
	}
out:
	cpu->fault_jmp = NULL;
	return stop;
}

int emu_step(struct emu_cpu *cpu, const struct exec_table *table)
{
	jmp_buf fault;
	volatile int vector = -1;

	cpu->fault_jmp = &fault;
	if (setjmp(fault)) {
		vector = cpu->event.vector;
		emu_deliver_event(cpu);
	} else {
		execute_one(cpu, table);
	}
	cpu->fault_jmp = NULL;
	return vector;
}
