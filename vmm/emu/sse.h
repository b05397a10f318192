/* The SSE/SSE2 family (sse.c, sse_move.c, sse_int.c, sse_float.c,
 * sse_convert.c): what its files share, and the FXSAVE image that the
 * tests and any state transfer use.
 *
 * Dispatch: sse.c owns one table indexed by the 0F opcode and the
 * mandatory prefix (none/66/F3/F2); an empty slot is #UD. The dispatcher
 * checks LOCK (#UD) and the SSE availability rules (CR0.EM or !CR4.OSFXSR
 * #UD, CR0.TS #NM) before any handler runs, so handlers only fetch
 * operands and compute.
 *
 * Floating point runs on the host's own SSE unit under the guest's MXCSR
 * rounding control, DAZ and FTZ with every exception masked (so the host
 * never traps); the flags it raises are folded into the guest MXCSR by
 * sse_fp_flags(), which also raises #XM (or #UD without CR4.OSXMMEXCPT)
 * for the unmasked ones before the destination is written. The host is
 * x86-64, so this is bit-exact with the hardware, including NaN
 * propagation, denormals and the approximations of RCPPS/RSQRTPS. */
#ifndef WISP_EMU_SSE_H
#define WISP_EMU_SSE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "exec.h"

#if !defined(__x86_64__)
#error "the SSE family computes floating point with the host's SSE unit: x86-64 hosts only"
#endif

/* MXCSR. */
#define MXCSR_IE   0x0001u
#define MXCSR_DE   0x0002u
#define MXCSR_ZE   0x0004u
#define MXCSR_OE   0x0008u
#define MXCSR_UE   0x0010u
#define MXCSR_PE   0x0020u
#define MXCSR_FLAGS 0x003fu
#define MXCSR_DAZ  0x0040u
#define MXCSR_MASKS 0x1f80u  /* IM DM ZM OM UM PM */
#define MXCSR_UM   0x0800u
#define MXCSR_RC   0x6000u
#define MXCSR_FTZ  0x8000u
/* The bits LDMXCSR/FXRSTOR accept (MXCSR_MASK of the FXSAVE image): all
 * of the low 16, DAZ included; no misaligned-SSE mode (AMD's MM bit). */
#define EMU_MXCSR_MASK 0x0000ffffu

/* One XMM register or 128-bit operand, in every lane width. */
union sse_vec {
	uint8_t b[16];
	uint16_t w[8];
	uint32_t d[4];
	uint64_t q[2];
	int8_t sb[16];
	int16_t sw[8];
	int32_t sd[4];
	int64_t sq[2];
};

static inline void sse_get(const struct emu_cpu *cpu, unsigned reg, union sse_vec *v)
{
	v->q[0] = cpu->fpu.xmm[reg].q[0];
	v->q[1] = cpu->fpu.xmm[reg].q[1];
}

static inline void sse_set(struct emu_cpu *cpu, unsigned reg, const union sse_vec *v)
{
	cpu->fpu.xmm[reg].q[0] = v->q[0];
	cpu->fpu.xmm[reg].q[1] = v->q[1];
}

/* ---- operands (sse.c) ---------------------------------------------------- */

/* Whether a 16-byte memory operand of this instruction must be aligned:
 * the legacy SSE rule, every one except the explicitly unaligned moves
 * (the caller says which). */
enum sse_align { SSE_UNALIGNED, SSE_ALIGNED };

/* The r/m operand as a source: XMM register rm, or size (4, 8 or 16)
 * bytes of memory in the low bytes of *v, the rest zero. A 16-byte memory
 * operand with SSE_ALIGNED raises #GP(0) when its linear address is not
 * 16-byte aligned. */
void sse_load_rm(struct emu_cpu *cpu, const struct insn *insn, unsigned size,
		 enum sse_align align, union sse_vec *v);

/* Store the low size bytes of *v to the memory operand (mod != 3). */
void sse_store_mem(struct emu_cpu *cpu, const struct insn *insn, unsigned size,
		   enum sse_align align, const union sse_vec *v);

/* #GP(0) unless seg:ea is 16-byte aligned (as a linear address). */
void sse_check_align(struct emu_cpu *cpu, unsigned seg, uint64_t ea);

/* #UD for a register operand where only memory is allowed, and back. */
static inline void sse_need_mem(struct emu_cpu *cpu, const struct insn *insn)
{
	if (insn->mod == 3)
		emu_raise_ud(cpu);
}

static inline void sse_need_reg(struct emu_cpu *cpu, const struct insn *insn)
{
	if (insn->mod != 3)
		emu_raise_ud(cpu);
}

/* Fold the exception flags an operation raised into MXCSR. When one of
 * them is unmasked, raise #XM (#UD without CR4.OSXMMEXCPT) instead of
 * returning: an unmasked pre-computation exception (IE, DE, ZE) records
 * only those flags, as the post-computation ones are never evaluated. */
void sse_fp_flags(struct emu_cpu *cpu, uint32_t flags);

/* The MXCSR the host runs an operation under: the guest's rounding
 * control, DAZ and FTZ, every exception masked, no flags. FTZ only acts
 * on masked underflows, so it is left out when the guest unmasks them. */
static inline uint32_t sse_host_csr(const struct emu_cpu *cpu)
{
	uint32_t keep = MXCSR_RC | MXCSR_DAZ | MXCSR_FTZ;

	if (!(cpu->fpu.mxcsr & MXCSR_UM))
		keep &= ~MXCSR_FTZ;
	return (cpu->fpu.mxcsr & keep) | MXCSR_MASKS;
}

/* ---- the host's SSE unit ------------------------------------------------- */

/* A vector type the "x" (XMM register) asm constraint accepts. */
typedef double sse_host_vec __attribute__((vector_size(16)));

static inline sse_host_vec sse_to_host(const union sse_vec *v)
{
	sse_host_vec h;

	memcpy(&h, v, sizeof(h));
	return h;
}

static inline void sse_from_host(union sse_vec *v, sse_host_vec h)
{
	memcpy(v, &h, sizeof(h));
}

/* Run the SSE instruction text on the host with MXCSR = csr, then put the
 * MXCSR it ended with (the flags raised) in csr and the host's own MXCSR
 * back, all in one asm statement so that no compiled floating-point code
 * can run under the guest's modes. In text, %[d] is the destination XMM
 * register (d, in and out) and %[s] the source (s). */
#define SSE_HOST(text, d, s, csr) do {                                              \
	uint32_t sse_saved_csr_;                                                    \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" text "\n\t"          \
			 "stmxcsr %[c]\n\tldmxcsr %[h]"                                \
			 : [d] "+x"(d), [c] "+m"(csr), [h] "=m"(sse_saved_csr_)           \
			 : [s] "x"(s));                                                   \
} while (0)

/* A floating-point operation on the host: d = op(d, s) for the form key
 * (and immediate), run under MXCSR csr; returns the flags it raised. */
typedef uint32_t (*sse_host_fn)(unsigned key, unsigned imm, union sse_vec *d,
				const union sse_vec *s, uint32_t csr);

/* The arithmetic of an operation that can overflow or underflow, for
 * the precision flag of an unmasked overflow/underflow (see sse_fp_run). */
enum sse_xop { SSE_XOP_NONE, SSE_XOP_ADD, SSE_XOP_SUB, SSE_XOP_MUL, SSE_XOP_DIV, SSE_XOP_CVT };

struct sse_fp_op {
	sse_host_fn fn;
	unsigned key, imm;
	unsigned lanes;         /* elements computed: 1 for the scalar forms */
	unsigned width;         /* bytes per source element, 4 or 8 */
	enum sse_xop xop;       /* d op s per element (CVT: double to single) */
};

/* Run op->fn under the guest's MXCSR (sse_host_csr) and return the flags
 * as the hardware raises them for the guest's masks. The host's run has
 * every exception masked, which reports underflow only for inexact tiny
 * results and sets PE with every overflow; with those unmasked the
 * hardware signals every tiny result, and the overflowing or underflowing
 * element sets PE only when its result, rounded with an unbounded
 * exponent, is inexact (SDM vol. 1 11.5.2). Such elements are redone one
 * by one, the precision question going to the host's x87 unit, whose
 * exponent range is wide enough. */
uint32_t sse_fp_run(struct emu_cpu *cpu, const struct sse_fp_op *op, union sse_vec *d,
		    const union sse_vec *s);

/* ---- handlers (one per opcode; each dispatches on sse_prefix itself) ---- */

/* sse_move.c */
void sse_op_mov_10_11(struct emu_cpu *cpu, const struct insn *insn);   /* movups/pd/ss/sd */
void sse_op_movlp(struct emu_cpu *cpu, const struct insn *insn);       /* 12 13: movlps/pd, movhlps */
void sse_op_movhp(struct emu_cpu *cpu, const struct insn *insn);       /* 16 17: movhps/pd, movlhps */
void sse_op_movap(struct emu_cpu *cpu, const struct insn *insn);       /* 28 29 */
void sse_op_movnt(struct emu_cpu *cpu, const struct insn *insn);       /* 2B, E7 */
void sse_op_movd_to(struct emu_cpu *cpu, const struct insn *insn);     /* 66 6E */
void sse_op_movdq(struct emu_cpu *cpu, const struct insn *insn);       /* 6F 7F */
void sse_op_7e(struct emu_cpu *cpu, const struct insn *insn);          /* 66 7E movd from, F3 7E movq */
void sse_op_movq_d6(struct emu_cpu *cpu, const struct insn *insn);     /* 66 D6 */
void sse_op_maskmov(struct emu_cpu *cpu, const struct insn *insn);     /* 66 F7 */

/* sse_int.c */
void sse_op_int(struct emu_cpu *cpu, const struct insn *insn);         /* packed integer binary ops */
void sse_op_shift_imm(struct emu_cpu *cpu, const struct insn *insn);   /* 71 72 73 */
void sse_op_pshuf(struct emu_cpu *cpu, const struct insn *insn);       /* 70 */
void sse_op_pinsrw(struct emu_cpu *cpu, const struct insn *insn);      /* C4 */
void sse_op_pextrw(struct emu_cpu *cpu, const struct insn *insn);      /* C5 */
void sse_op_pmovmskb(struct emu_cpu *cpu, const struct insn *insn);    /* D7 */

/* sse_float.c */
void sse_op_fp(struct emu_cpu *cpu, const struct insn *insn);          /* 51-53 58-5F C2 */
void sse_op_comis(struct emu_cpu *cpu, const struct insn *insn);       /* 2E 2F */
void sse_op_logic(struct emu_cpu *cpu, const struct insn *insn);       /* 54-57 */
void sse_op_unpck(struct emu_cpu *cpu, const struct insn *insn);       /* 14 15 */
void sse_op_shufp(struct emu_cpu *cpu, const struct insn *insn);       /* C6 */
void sse_op_movmskp(struct emu_cpu *cpu, const struct insn *insn);     /* 50 */

/* sse_convert.c */
void sse_op_cvt(struct emu_cpu *cpu, const struct insn *insn);         /* 5A 5B E6 */
void sse_op_cvtsi2s(struct emu_cpu *cpu, const struct insn *insn);     /* 2A */
void sse_op_cvts2si(struct emu_cpu *cpu, const struct insn *insn);     /* 2C 2D */

/* ---- the FXSAVE image (sse.c) ------------------------------------------ */

#define EMU_FXSAVE_SIZE 512

/* The 512-byte image of FXSAVE (rex_w: the 64-bit FIP/FDP layout of
 * FXSAVE64) from cpu's state, and its inverse. xmm_count is 16 in 64-bit
 * mode, else 8: the bytes after the last XMM register saved (reserved,
 * and 464..511 free for software) are left as they are in img, as the
 * hardware leaves them. emu_fxrstor_image returns false, changing
 * nothing, when the image's MXCSR sets reserved bits. */
void emu_fxsave_image(const struct emu_cpu *cpu, uint8_t *img, bool rex_w, unsigned xmm_count);
bool emu_fxrstor_image(struct emu_cpu *cpu, const uint8_t *img, bool rex_w, unsigned xmm_count);

#endif
