/* Differential testing of the software core against the host CPU.
 *
 * A test builds one instruction (diff_insn -> bytes with diff_encode),
 * chooses its input registers and flags, and diff_run executes it twice:
 * natively, in this process, from DIFF_CODE_BASE in a page mapped there through
 * an assembly stub that loads every GPR and RFLAGS from a struct and
 * stores them back; and in the core (emu_decode + the exec table) on an
 * emu_cpu in 64-bit mode, flat segments, paging off, CPL 0. Then it
 * compares all GPRs, the flags the test says are defined, rip, and the
 * data window.
 *
 * Memory operands: the data window is mapped at the same address natively
 * (DIFF_DATA_BASE, host virtual) and in the guest (guest physical =
 * linear), so one set of register values addresses the same bytes in both
 * runs; diff_mem_operand picks an addressing form and sets the base/index
 * registers so the operand lands where the test wants it.
 *
 * Reproducibility: every random choice comes from one generator seeded by
 * the test name and WISP_DIFF_SEED; WISP_DIFF_CASES scales the number of
 * cases; WISP_DIFF_STRICT=1 compares the undefined flags too (to compare
 * the core with the host CPU's choices); WISP_DIFF_VERBOSE=1 prints every
 * mismatch rather than the first few. */
#ifndef WISP_TESTS_DIFF_HARNESS_H
#define WISP_TESTS_DIFF_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/emu/cpu.h"

#define DIFF_CODE_PAGE 0x1f0000ull      /* mapped executable natively */
#define DIFF_CODE_BASE 0x1f0800ull      /* rip of the instruction under test */
#define DIFF_DATA_BASE 0x200000ull
#define DIFF_DATA_SIZE 0x4000ull         /* four pages */
#define DIFF_RAM_SIZE  (4ull << 20)

enum { R_AX, R_CX, R_DX, R_BX, R_SP, R_BP, R_SI, R_DI,
       R_8, R_9, R_10, R_11, R_12, R_13, R_14, R_15 };

#define DIFF_NONE 0xff
#define DIFF_RIP  0xfe

/* The flags every instruction here may be compared on. */
#define DIFF_ALL_FLAGS (EMU_ARITH_FLAGS | EMU_DF)

struct diff_regs {
	uint64_t gpr[16];
	uint64_t rflags;
};

/* An instruction, as fields. */
struct diff_insn {
	uint8_t prefix[6];      /* legacy prefixes, in order */
	unsigned nprefix;
	uint8_t rex;            /* REX bits (0x40 | W R X B) to force, e.g. 0x48
	                         * for REX.W or 0x40 to get SPL..DIL; R/X/B are
	                         * added from the registers as needed */
	uint8_t map;            /* 0: one-byte map, 1: 0F */
	uint8_t op;
	bool modrm;
	uint8_t reg;            /* ModRM.reg: a register 0..15 or a /digit */
	bool mem;               /* r/m is memory (else the register rm) */
	uint8_t rm;
	uint8_t base, index;    /* register, DIFF_NONE, or DIFF_RIP (base) */
	uint8_t scale;
	int32_t disp;
	uint8_t disp_len;       /* 0, 1, 4 (forced to 4 for RIP / no base) */
	uint64_t imm;
	uint8_t imm_len;        /* 0, 1, 2, 4, 8 */
	uint64_t imm2;
	uint8_t imm2_len;
	uint64_t rip_target;    /* base DIFF_RIP: the address to reach */
	bool a16;               /* 16-bit addressing (67 in 32-bit code): */
	uint8_t rm16;           /* the ModRM.rm form 0..7 ([BX+SI] ... [BX]),
	                         * or 8 for a bare disp16 */
};

void diff_prefix(struct diff_insn *d, uint8_t p);
unsigned diff_encode(const struct diff_insn *d, uint8_t *out);

/* One case. */
struct diff_case {
	uint8_t code[16];
	unsigned len;
	struct diff_regs in;
	uint64_t flags;         /* RFLAGS bits to compare (defined flags) */
	uint16_t skip_gpr;      /* GPRs whose result is undefined: not compared */
	int vector;             /* -1: run natively too; else the exception the
	                         * core must raise (state then unchanged) */
	uint64_t target;        /* a branch: where it goes when taken (in the
	                         * code page, clear of the instruction and the
	                         * 24 bytes after it; 0: not a branch). Natively
	                         * both ways end in a pad that records which one
	                         * ran; the core's rip must agree. */
	uint8_t native[16];     /* other bytes to run natively (native_len != 0):
	                         * the reference for an encoding the host reads
	                         * differently (F3 0F BC is TZCNT on a BMI1 host) */
	unsigned native_len;
	bool mode32;            /* run as 32-bit code (compatibility mode) */
};

/* 32-bit code. Natively the case runs in compatibility mode (selector
 * 0x23) with DS, ES and SS loaded with an LDT data segment whose base is
 * DIFF_DATA_BASE (4 GiB limit, B = 1), so that 16-bit addressing reaches
 * the window too; the core runs it in EMU_MODE_PROT32 with the same
 * segments. Offsets are therefore relative to DIFF_DATA_BASE, and only the
 * low halves of RAX..RDI are compared (the upper halves are undefined
 * after compatibility mode). While on, diff_new_case makes 32-bit cases,
 * diff_modrm* pick 32- or (with 67) 16-bit addressing, and size 8 does not
 * exist. Returns false when the host cannot do it (no modify_ldt): the
 * caller skips those tests. */
bool diff_mode32(bool on);
bool diff_in_mode32(void);

/* Whether target (a branch target for an instruction of len bytes at
 * DIFF_CODE_BASE) leaves room for the exit pads. */
bool diff_target_ok(uint64_t target, unsigned len);

/* Once per process (also sets the RNG from the test name). */
void diff_setup(const char *test_name);
/* Cases per group: WISP_DIFF_CASES when set, else 3 * dflt. */
unsigned diff_ncases(unsigned dflt);

uint64_t diff_rand(void);
uint64_t diff_rand_below(uint64_t n);
/* A value of size bytes biased towards the interesting ones: 0, 1, all
 * ones, the sign boundaries, small numbers, single bits, random. */
uint64_t diff_rand_value(unsigned size);
/* Random GPRs (RSP too) and random arithmetic flags + DF. */
void diff_rand_regs(struct diff_regs *r);

/* The data window: fresh random contents (both copies), and writes that
 * go to both copies. */
void diff_mem_randomize(void);
void diff_mem_set(uint64_t addr, const void *p, size_t n);
void diff_mem_set_value(uint64_t addr, uint64_t v, unsigned size);
/* The guest's copy of the window at addr (for emulated-only checks), and
 * making the host's copy equal to it again after such a run. */
const uint8_t *diff_guest_mem(uint64_t addr);
void diff_mem_resync(void);
/* A random address in the window for an operand of size bytes, aligned to
 * align (1: any), keeping room bytes available after it. */
uint64_t diff_rand_addr(unsigned size, unsigned align);

/* Make d's r/m a memory operand at addr: picks base/index/scale/disp (and
 * sometimes a 67 prefix with garbage in the upper halves, or RIP-relative,
 * or an FS override) and sets the registers it uses in r. Registers in
 * keep (bit mask) are not used for addressing. */
void diff_mem_operand(struct diff_insn *d, struct diff_regs *r, uint64_t addr, uint16_t keep);

/* Set up a ModRM instruction of operand size size (1, 2, 4, 8: adds 66 or
 * REX.W; byte forms sometimes get a bare REX, making 4..7 SPL..DIL rather
 * than AH..BH): ModRM.reg is digit when digit >= 0, else a random register;
 * r/m a random register or, with mem, memory at a random address of the
 * window holding a random interesting value. Returns that address (0 for
 * a register). keep: registers that must not serve for addressing, on top
 * of the reg operand. */
uint64_t diff_modrm(struct diff_insn *d, struct diff_regs *r, unsigned size, int digit, bool mem,
		    uint16_t keep);
void diff_size_prefix(struct diff_insn *d, unsigned size);
/* diff_modrm without the size prefix: size only picks the registers and
 * the memory value (MOVZX and the like, whose operands differ in size). */
uint64_t diff_modrm_operands(struct diff_insn *d, struct diff_regs *r, unsigned size, int digit,
			     bool mem, uint16_t keep);
/* The value of register reg of size bytes as d encodes it (AH..BH when a
 * byte register 4..7 comes without any REX). */
uint64_t diff_reg_value(const struct diff_regs *r, const struct diff_insn *d, unsigned reg,
			unsigned size);

/* Encode d into c, run natively and in the core, compare. Returns whether
 * they agreed (mismatches are printed and counted). */
bool diff_check(const char *what, struct diff_insn *d, struct diff_case *c);
/* The same for a case whose bytes are already in c->code. */
bool diff_run(const char *what, struct diff_case *c);
/* Run only the host CPU on c (for probing what it does): the pad that
 * ended the run (1: fall-through, 2: c->target). */
int diff_native_only(struct diff_case *c, struct diff_regs *out);
/* Run only the core on c (no comparison): the vector raised or -1, and
 * the resulting registers in *out. */
int diff_emu_only(struct diff_case *c, struct diff_regs *out);

unsigned diff_failures(void);
/* Mismatches since the previous call (one cmocka test per group). */
unsigned diff_group_failures(void);
/* Clear d and c; random registers and flags; run natively; compare all
 * flags (tests narrow c->flags to the defined ones). */
void diff_new_case(struct diff_insn *d, struct diff_case *c);
/* Random operand size: 1, 2, 4 or 8 / 2, 4 or 8. */
unsigned diff_rand_size(void);
unsigned diff_rand_wide_size(void);
/* Number of cases run since diff_setup. */
unsigned long diff_count(void);
bool diff_strict(void);

/* The emulated CPU (for tests that set up more, e.g. port I/O). */
struct emu_cpu *diff_cpu(void);
/* Ports seen by the core's fake port bus: reads return diff_pio_value;
 * writes are logged. */
extern uint64_t diff_pio_value;
extern unsigned diff_pio_writes;
extern uint64_t diff_pio_last_write;


/* The native stubs' register moves, between the GPRs and a struct
 * diff_regs at %rdi (RDI itself last when loading; when storing, the
 * caller stores RDI, which holds the pointer). */
#define DIFF_ASM_LOAD_GPRS \
	"	mov 0(%rdi), %rax\n"    "	mov 8(%rdi), %rcx\n" \
	"	mov 16(%rdi), %rdx\n"   "	mov 24(%rdi), %rbx\n" \
	"	mov 32(%rdi), %rsp\n"   "	mov 40(%rdi), %rbp\n" \
	"	mov 48(%rdi), %rsi\n"   "	mov 64(%rdi), %r8\n" \
	"	mov 72(%rdi), %r9\n"    "	mov 80(%rdi), %r10\n" \
	"	mov 88(%rdi), %r11\n"   "	mov 96(%rdi), %r12\n" \
	"	mov 104(%rdi), %r13\n"  "	mov 112(%rdi), %r14\n" \
	"	mov 120(%rdi), %r15\n"  "	mov 56(%rdi), %rdi\n"
#define DIFF_ASM_STORE_GPRS_BUT_RDI \
	"	mov %rax, 0(%rdi)\n"    "	mov %rcx, 8(%rdi)\n" \
	"	mov %rdx, 16(%rdi)\n"   "	mov %rbx, 24(%rdi)\n" \
	"	mov %rsp, 32(%rdi)\n"   "	mov %rbp, 40(%rdi)\n" \
	"	mov %rsi, 48(%rdi)\n"   "	mov %r8, 64(%rdi)\n" \
	"	mov %r9, 72(%rdi)\n"    "	mov %r10, 80(%rdi)\n" \
	"	mov %r11, 88(%rdi)\n"   "	mov %r12, 96(%rdi)\n" \
	"	mov %r13, 104(%rdi)\n"  "	mov %r14, 112(%rdi)\n" \
	"	mov %r15, 120(%rdi)\n"

#endif
