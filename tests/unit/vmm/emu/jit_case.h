/* The random cases of the translator's differential test (test_jit.c):
 * the guest's layout they are built for, and the generator of their code,
 * registers, flags and data (jit_case_gen.c). */
#ifndef WISP_TEST_EMU_JIT_CASE_H
#define WISP_TEST_EMU_JIT_CASE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/emu/cpu.h"

/* ---- the guest's layout -------------------------------------------------- */

#define GDT        0x1000ull
#define IDT        0x2000ull
#define TSS        0x3000ull
#define HANDLERS   0x4000ull      /* vector v: a HLT at HANDLERS + 16 v */
#define IST_TOP    0x6000ull      /* every exception's stack (IST1) */
#define CODE       0x200000ull    /* 4 KiB pages */
#define CODE_SIZE  0x4000ull
#define PT_BASE    0x400000ull    /* the fixture's page-table allocator */
#define PT_SIZE    0x8000ull
#define DATA       0x600000ull    /* 4 KiB pages */
#define DATA_SIZE  0x10000ull
#define RW_END     (DATA + 0xc000)  /* ordinary targets of memory operands */
#define STACK_TOP  (DATA + 0xd000)  /* RSP starts around this page boundary */
#define RO_PAGE    (DATA + 0xe000)  /* present, user, read-only */
#define SUP_PAGE   (DATA + 0xf000)  /* present, writable, supervisor-only */
#define HOLE       (DATA + DATA_SIZE) /* not present */
#define MMIO_PAGE  (HOLE + 0x1000)  /* mapped to MMIO_PA */
#define MMIO_PA    0x2000000ull     /* beyond the 16 MiB of RAM */
#define FS_BASE    0x3000ull
#define GS_BASE    (0ull - 0x5000)  /* GS-relative addresses wrap around */

enum { S_CODE = 0x08, S_DATA = 0x10, S_CODE3 = 0x18, S_DATA3 = 0x20, S_TSS = 0x28, NGDT = 7 };
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

#define CODE_MAX 2048

struct jcase {
	uint64_t seed;                 /* 0: a deterministic case */
	const char *group;
	bool user;                     /* runs at CPL 3 */
	uint64_t base;                 /* linear address of code[0] */
	uint8_t code[CODE_MAX];
	unsigned len;
	unsigned body_insns;           /* instructions before the terminator */
	int rb, rh, rx, rl;            /* reserved: base, base under 67, index, loop
	                                * counter (-1: none) */
	struct emu_cpu init;           /* the state both runs start from */
};

/* splitmix64's finalizer: seeds from case numbers. */
static inline uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Fill k with the random case of seed: its code (in k->code, to be copied
 * to k->base), the registers and flags in c, the data area's bytes in
 * data (DATA_SIZE of them), and traps (INT3) over the code area in
 * code_area (CODE_SIZE). */
void jit_case_generate(struct jcase *k, uint64_t seed, struct emu_cpu *c, uint8_t *data,
		       uint8_t *code_area);

#endif
