/* The architectural state a vCPU starts in. Loaders fill it for the boot
 * path they implement; an accelerator applies it verbatim. Keeping it
 * backend-neutral is what lets KVM and the software core boot the same
 * guests from the same loaders. */
#ifndef WISP_CPU_STATE_H
#define WISP_CPU_STATE_H

#include <stdint.h>

struct cpu_segment {
	uint64_t base;
	uint32_t limit;     /* byte granular, already expanded */
	uint16_t selector;
	uint8_t type;       /* descriptor type field (4 bits) */
	uint8_t s;          /* 1 = code/data, 0 = system */
	uint8_t dpl;
	uint8_t present;
	uint8_t db;         /* default operation size */
	uint8_t l;          /* 64-bit code */
	uint8_t g;          /* granularity */
	uint8_t avl;
	uint8_t unusable;
};

struct cpu_table {
	uint64_t base;
	uint16_t limit;
};

enum cpu_gpr {
	CPU_RAX, CPU_RCX, CPU_RDX, CPU_RBX, CPU_RSP, CPU_RBP, CPU_RSI, CPU_RDI,
	CPU_R8, CPU_R9, CPU_R10, CPU_R11, CPU_R12, CPU_R13, CPU_R14, CPU_R15,
	CPU_NR_GPRS
};

struct cpu_state {
	uint64_t gpr[CPU_NR_GPRS];
	uint64_t rip;
	uint64_t rflags;
	uint64_t cr0, cr2, cr3, cr4, efer;
	struct cpu_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct cpu_table gdt, idt;
};

#endif
