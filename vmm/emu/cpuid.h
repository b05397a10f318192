/* The processor the software core presents: a fixed CPUID model that
 * advertises only what the core implements, and the TSC it describes. */
#ifndef WISP_EMU_CPUID_H
#define WISP_EMU_CPUID_H

#include <stdint.h>

#include "cpu.h"

/* The guest TSC rate: host CLOCK_MONOTONIC scaled to this. */
#define EMU_TSC_HZ 1000000000ull

/* Features that land with other parts of the core; flipped to 1 when they
 * exist. SSE: FXSR, SSE, SSE2 (and CR4.OSFXSR/OSXMMEXCPT). CLFLUSH: the
 * 0F AE /7 instruction (its line size is reported regardless). */
#ifndef EMU_CPUID_SSE
#define EMU_CPUID_SSE 1
#endif
#ifndef EMU_CPUID_CLFLUSH
#define EMU_CPUID_CLFLUSH 1
#endif

/* Leaf 1 EAX (and the EDX value after reset): family 19h, model 1,
 * stepping 1. */
uint32_t emu_cpuid_signature(void);

/* CPUID leaf/subleaf as seen by cpu: out = EAX, EBX, ECX, EDX. Leaves
 * outside the model read as zeros. */
void emu_cpuid(const struct emu_cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/* The guest TSC: scaled host monotonic time + cpu->msr.tsc_offset. */
uint64_t emu_tsc_host(void);
uint64_t emu_tsc_read(const struct emu_cpu *cpu);
void emu_tsc_write(struct emu_cpu *cpu, uint64_t value);

#endif
