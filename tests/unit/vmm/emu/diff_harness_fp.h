/* Differential testing of the core's SSE and x87 families against the
 * host CPU: an extension of diff_harness.h that carries the floating-point
 * state (the x87 stack and control/status words, MXCSR, XMM0-15) in and
 * out of both runs.
 *
 * A case is a diff_case (code, GPRs, RFLAGS, the flags compared) plus an
 * FXSAVE image of the FP state to start from. diff_fp_run executes the
 * instruction natively from DIFF_CODE_BASE through its own stub, which
 * FXRSTORs the image before and FXSAVEs (and FNSTENVs, for the x87
 * instruction and data pointers and last opcode) after; and in the core
 * through diff_emu_only with the same state in cpu->fpu. It then compares
 * GPRs, the flags, rip, the data window, and the FP state field by field.
 *
 * Native faults are part of the comparison: the stub's run catches
 * SIGSEGV/SIGBUS/SIGILL/SIGFPE, takes the vector from the signal context
 * (REG_TRAPNO) and the FP state at the fault from its saved FPU image, so
 * alignment #GP, #UD, unmasked SIMD exceptions (#XM) and pending x87
 * exceptions (#MF) are compared with what the core raises, state
 * included (an #XM sets MXCSR flags). Cases the host cannot run (CR0/CR4
 * settings of the guest) set c.vector to the vector the core must raise,
 * as in diff_harness.h.
 *
 * The emulated CPU has CR0.MP|NE and CR4.OSFXSR|OSXMMEXCPT set, as Linux
 * runs user space. */
#ifndef WISP_TESTS_DIFF_HARNESS_FP_H
#define WISP_TESTS_DIFF_HARNESS_FP_H

#include <stdbool.h>
#include <stdint.h>

#include "diff_harness.h"

/* The FXSAVE image (64-bit layout of FXSAVE64: 64-bit FIP/FDP, XMM0-15). */
struct diff_fx {
	uint8_t b[512];
} __attribute__((aligned(16)));

/* Offsets in the image. */
#define FX_FCW   0
#define FX_FSW   2
#define FX_FTW   4
#define FX_FOP   6
#define FX_FIP   8
#define FX_FDP   16
#define FX_MXCSR 24
#define FX_ST(i)  (32 + 16 * (i))       /* ST(i), stack order, 10 bytes */
#define FX_XMM(i) (160 + 16 * (i))

struct diff_fp_case {
	struct diff_case c;
	struct diff_fx in;
	uint16_t skip_xmm;      /* XMM registers whose result is not compared */
	uint16_t fsw_mask;      /* FSW bits compared (diff_fp_new_case: all) */
	uint8_t skip_st;        /* ST(i) (stack order after) not compared */
	bool pointers;          /* compare FIP/FDP (low 32 bits) and FOP */
	bool mxcsr_loose;       /* compare MXCSR but not its flags */
	uint64_t mem_ignore;    /* bytes of the data window not compared */
	unsigned mem_ignore_len;
};

/* diff_setup plus the FP state of the emulated CPU. */
void diff_fp_setup(const char *test_name);

/* Clear d and fc: random GPRs and flags (diff_new_case), an FP state with
 * FNINIT's x87 state, MXCSR 1F80 and zero XMM registers; compare all. */
void diff_fp_new_case(struct diff_insn *d, struct diff_fp_case *fc);

/* Encode d into fc->c, run both ways, compare. Returns whether they
 * agreed; mismatches are printed and counted. */
bool diff_fp_check(const char *what, struct diff_insn *d, struct diff_fp_case *fc);
bool diff_fp_run(const char *what, struct diff_fp_case *fc);

/* Mismatches since the previous call. */
unsigned diff_fp_group_failures(void);

/* ---- building states ------------------------------------------------ */

static inline void diff_fx_put(struct diff_fx *s, unsigned off, const void *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		s->b[off + i] = ((const uint8_t *)p)[i];
}

void diff_fx_set_xmm(struct diff_fx *s, unsigned i, uint64_t lo, uint64_t hi);
void diff_fx_set_mxcsr(struct diff_fx *s, uint32_t v);
void diff_fx_set_st(struct diff_fx *s, unsigned i, uint64_t mant, uint16_t exp);
/* FCW, FSW (the TOP in it counts: ST(i) are relative to it) and the
 * abridged tag byte (physical registers). */
void diff_fx_set_x87(struct diff_fx *s, uint16_t fcw, uint16_t fsw, uint8_t ftw);

/* Random values biased to the interesting ones: zeros, infinities, QNaNs
 * and SNaNs with random payloads, denormals, the smallest and largest
 * normals, 1, small integers, values around the integer conversion
 * limits, and random bits. */
uint32_t diff_rand_f32(void);
uint64_t diff_rand_f64(void);
/* An 80-bit value, the unsupported encodings (unnormals, pseudo-NaNs,
 * pseudo-infinities, pseudo-denormals) included now and then. */
void diff_rand_f80(uint64_t *mant, uint16_t *exp);

/* A random MXCSR: any rounding mode, DAZ, FTZ, some sticky flags; all
 * exceptions masked unless unmask (then each mask bit at random). */
uint32_t diff_rand_mxcsr(bool unmask);

#endif
