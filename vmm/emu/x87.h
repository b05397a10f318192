/* The x87 family (x87.c: the numeric instructions, x87_env.c: the
 * control instructions and the environment/state images): what its files
 * share, and the status/control word rules FXRSTOR uses too.
 *
 * State: cpu->fpu in the FXSAVE image's terms (cpu.h): FCW, FSW (TOP in
 * bits 13:11), the abridged tag byte (one bit per physical register, 1 =
 * not empty), FOP/FIP/FDP, and st[] indexed by physical register; ST(i)
 * is st[(TOP + i) & 7]. The FPU CS/DS selectors are not kept (they read
 * as 0, as on processors that deprecate them).
 *
 * Arithmetic runs on the host's x87 unit: the guest's ST(0), ST(i) and
 * ST(7) (with their empty/valid state), control word and condition codes
 * are loaded into the host FPU, the very same instruction runs there, and
 * the host's resulting registers, tags, TOP movement and status word come
 * back. x86-64 hosts have the same 80-bit unit, so results, flags, stack
 * faults, NaN and unsupported-format handling, transcendental accuracy and
 * the responses to unmasked exceptions are the hardware's own. */
#ifndef WISP_EMU_X87_H
#define WISP_EMU_X87_H

#include <stdbool.h>
#include <stdint.h>

#include "exec.h"

#if !defined(__x86_64__)
#error "the x87 family computes with the host's x87 unit: x86-64 hosts only"
#endif

/* Status word. */
#define FSW_IE  0x0001u
#define FSW_DE  0x0002u
#define FSW_ZE  0x0004u
#define FSW_OE  0x0008u
#define FSW_UE  0x0010u
#define FSW_PE  0x0020u
#define FSW_SF  0x0040u
#define FSW_ES  0x0080u
#define FSW_C0  0x0100u
#define FSW_C1  0x0200u
#define FSW_C2  0x0400u
#define FSW_TOP 0x3800u
#define FSW_C3  0x4000u
#define FSW_B   0x8000u
#define FSW_CC  (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)
#define FSW_EXC 0x003fu     /* the six exception flags */

/* Control word after FNINIT. */
#define FCW_INIT 0x037fu

static inline unsigned x87_top_of(uint16_t fsw)
{
	return (fsw >> 11) & 7;
}

static inline void x87_set_top(struct emu_fpu *f, unsigned top)
{
	f->fsw = (uint16_t)((f->fsw & ~FSW_TOP) | (top & 7) << 11);
}

/* The control word as stored: bits 15:13 read as 0 and bit 6 as 1 (what
 * FLDCW, FLDENV and FXRSTOR leave, measured on the hardware). */
static inline uint16_t x87_cw_value(uint16_t v)
{
	return (uint16_t)((v & 0x1f3f) | 0x0040);
}

/* ES and B follow the flags: set while an exception flag is set whose
 * mask bit is clear (recomputed by FLDCW, FLDENV, FRSTOR, FXRSTOR). */
static inline void x87_update_es(struct emu_fpu *f)
{
	if (f->fsw & ~f->fcw & FSW_EXC)
		f->fsw |= FSW_ES | FSW_B;
	else
		f->fsw &= (uint16_t)~(FSW_ES | FSW_B);
}

/* FNINIT: control word 037F, status 0, every register empty, pointers
 * and opcode 0; the register contents stay. */
static inline void x87_init(struct emu_fpu *f)
{
	f->fcw = FCW_INIT;
	f->fsw = 0;
	f->ftw = 0;
	f->fop = 0;
	f->fip = 0;
	f->fdp = 0;
}

/* The full tag word of FSTENV/FSAVE: per physical register 00 valid, 01
 * zero, 10 special (NaN, infinity, denormal, unsupported encoding), 11
 * empty. The state keeps only the abridged byte (empty or not); the rest
 * comes from the contents. */
uint16_t emu_x87_tag_word(const struct emu_fpu *f);

/* A waiting instruction with an unmasked exception pending (FSW.ES):
 * #MF with CR0.NE. Without NE the PC signals FERR# as IRQ 13 through the
 * chipset, which the core does not model: the instruction just runs. */
void x87_check_pending(struct emu_cpu *cpu);

/* ---- control instructions (x87_env.c) ---------------------------------- */

/* D9 /4 FLDENV, D9 /5 FLDCW, D9 /6 FNSTENV, D9 /7 FNSTCW, DD /4 FRSTOR,
 * DD /6 FNSAVE, DD /7 FNSTSW m16 (memory forms; digit is ModRM.reg). */
void x87_control_mem(struct emu_cpu *cpu, const struct insn *insn, unsigned esc, unsigned digit);

#endif
