/* The architectural state of one vCPU of the software core, and the few
 * entry points every part of the core shares.
 *
 * Faults: an instruction that faults calls emu_raise(), which records the
 * exception and longjmps to cpu->fault_jmp, set by the execution loop
 * before each instruction (or block). Handlers therefore never return an
 * error: they write architectural state only after every access that can
 * fault, and the loop restarts exception delivery from cpu->rip, which
 * still points at the faulting instruction (handlers advance rip last, by
 * assigning insn->next_rip). */
#ifndef WISP_EMU_CPU_H
#define WISP_EMU_CPU_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "code_map.h"

struct guest_mem;
struct emu_lapic;
struct emu_cpu;

/* Segment registers in their encoding order (ModRM reg field of MOV Sreg). */
enum emu_sreg { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_COUNT };

/* A segment register with its hidden descriptor cache. */
struct emu_segment {
	uint16_t selector;
	uint64_t base;
	uint32_t limit;      /* byte granular, expanded */
	uint8_t type;        /* descriptor type (4 bits) */
	uint8_t s, dpl, present, db, l, g, avl;
	uint8_t unusable;    /* null selector loaded in protected/long mode */
};

struct emu_table_reg {
	uint64_t base;
	uint16_t limit;
};

/* Operand sizes and code modes. */
enum emu_mode {
	EMU_MODE_REAL,       /* CR0.PE = 0 */
	EMU_MODE_PROT16,     /* protected, CS.D = 0 (also compat mode, CS.D = 0) */
	EMU_MODE_PROT32,     /* protected, CS.D = 1 (also compat mode, CS.D = 1) */
	EMU_MODE_LONG64,     /* EFER.LMA = 1 and CS.L = 1 */
};

/* RFLAGS bits. */
#define EMU_CF   (1ull << 0)
#define EMU_PF   (1ull << 2)
#define EMU_AF   (1ull << 4)
#define EMU_ZF   (1ull << 6)
#define EMU_SF   (1ull << 7)
#define EMU_TF   (1ull << 8)
#define EMU_IF   (1ull << 9)
#define EMU_DF   (1ull << 10)
#define EMU_OF   (1ull << 11)
#define EMU_IOPL (3ull << 12)
#define EMU_NT   (1ull << 14)
#define EMU_RF   (1ull << 16)
#define EMU_VM   (1ull << 17)
#define EMU_AC   (1ull << 18)
#define EMU_VIF  (1ull << 19)
#define EMU_VIP  (1ull << 20)
#define EMU_ID   (1ull << 21)
#define EMU_ARITH_FLAGS (EMU_CF | EMU_PF | EMU_AF | EMU_ZF | EMU_SF | EMU_OF)

/* Control register bits the core acts on. */
#define EMU_CR0_PE (1ull << 0)
#define EMU_CR0_MP (1ull << 1)
#define EMU_CR0_EM (1ull << 2)
#define EMU_CR0_TS (1ull << 3)
#define EMU_CR0_ET (1ull << 4)
#define EMU_CR0_NE (1ull << 5)
#define EMU_CR0_WP (1ull << 16)
#define EMU_CR0_AM (1ull << 18)
#define EMU_CR0_NW (1ull << 29)
#define EMU_CR0_CD (1ull << 30)
#define EMU_CR0_PG (1ull << 31)
#define EMU_CR4_PSE        (1ull << 4)
#define EMU_CR4_PAE        (1ull << 5)
#define EMU_CR4_PGE        (1ull << 7)
#define EMU_CR4_OSFXSR     (1ull << 9)
#define EMU_CR4_OSXMMEXCPT (1ull << 10)
#define EMU_CR4_FSGSBASE   (1ull << 16)
#define EMU_CR4_SMEP       (1ull << 20)
#define EMU_CR4_SMAP       (1ull << 21)
#define EMU_EFER_SCE (1ull << 0)
#define EMU_EFER_LME (1ull << 8)
#define EMU_EFER_LMA (1ull << 10)
#define EMU_EFER_NXE (1ull << 11)
#define EMU_EFER_AUTOIBRS (1ull << 21)

/* Exception vectors. */
enum emu_vector {
	EMU_VEC_DE = 0, EMU_VEC_DB = 1, EMU_VEC_NMI = 2, EMU_VEC_BP = 3, EMU_VEC_OF = 4,
	EMU_VEC_BR = 5, EMU_VEC_UD = 6, EMU_VEC_NM = 7, EMU_VEC_DF = 8, EMU_VEC_TS = 10,
	EMU_VEC_NP = 11, EMU_VEC_SS = 12, EMU_VEC_GP = 13, EMU_VEC_PF = 14, EMU_VEC_MF = 16,
	EMU_VEC_AC = 17, EMU_VEC_MC = 18, EMU_VEC_XM = 19,
};

/* Page-fault error code bits. */
#define EMU_PF_P    (1u << 0)
#define EMU_PF_W    (1u << 1)
#define EMU_PF_U    (1u << 2)
#define EMU_PF_RSVD (1u << 3)
#define EMU_PF_I    (1u << 4)

/* Lazy arithmetic flags: the last flag-setting operation is remembered
 * (its kind, size and operands/result) and the six arithmetic flags are
 * computed only when something reads them. See flags.h. */
struct emu_lazy_flags {
	uint32_t op;         /* enum emu_cc_op */
	uint64_t dst;        /* result */
	uint64_t src1;       /* first operand (or the old value) */
	uint64_t src2;       /* second operand (or carry-in, shift count) */
};

/* x87 and SSE state, in the FXSAVE image's terms. */
struct emu_fpu {
	uint16_t fcw, fsw;
	uint8_t ftw;         /* abridged tag word: 1 bit per register, 1 = valid */
	uint16_t fop;
	uint64_t fip, fdp;
	uint32_t mxcsr;
	struct { uint64_t mant; uint16_t exp; } st[8];  /* 80-bit registers, physical order */
	union { uint8_t b[16]; uint32_t d[4]; uint64_t q[2]; } xmm[16];
};

struct emu_msrs {
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t tsc_aux, pat, misc_enable, apic_base;
	uint64_t tsc_deadline;
	int64_t tsc_offset;  /* guest TSC = scaled host time + offset */
};

/* A pending event for delivery at the next instruction boundary. */
struct emu_event {
	bool pending;
	uint8_t vector;
	bool has_error;
	uint32_t error;
	bool is_interrupt;   /* external interrupt (not an exception) */
	bool soft;           /* INT n / INT3 / INTO: the gate's DPL is checked */
	/* Trap-like events (INT n, INT3, INTO, ICEBP) happen after their
	 * instruction: the frame gets return_rip while cpu->rip stays on the
	 * instruction, so a fault while delivering them reports it. */
	bool trap;
	uint64_t return_rip;
};

struct emu_tlb;

struct emu_cpu {
	uint64_t gpr[16];    /* RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15 */
	uint64_t rip;
	uint64_t rflags;     /* authoritative except the arithmetic flags when
	                      * flags.op != CC_OP_EFLAGS */
	struct emu_lazy_flags flags;
	struct emu_segment seg[SEG_COUNT];
	struct emu_segment ldtr, tr;
	struct emu_table_reg gdtr, idtr;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
	uint64_t dr[8];
	unsigned cpl;
	enum emu_mode mode;  /* derived from CR0/EFER/CS: see emu_update_mode() */
	struct emu_fpu fpu;
	struct emu_msrs msr;

	/* Interrupt state. */
	bool halted;
	bool interrupt_shadow;     /* after STI / MOV SS / POP SS: one instruction */
	bool nmi_blocked;          /* from NMI delivery to IRET */
	struct emu_event event;    /* exception to deliver (from emu_raise) */
	unsigned fault_depth;      /* for #DF and triple fault detection */
	bool triple_fault;         /* set by delivery; the loop stops the VM */
	bool irq_window_exit;      /* leave emu_run once interrupts are enabled:
	                            * an interrupt waits for IF and no shadow */
	bool wait_for_sipi;        /* after INIT: only a start-up IPI wakes it */

	/* Execution. */
	jmp_buf *fault_jmp;        /* where emu_raise() longjmps */
	struct emu_block_cache *blocks;  /* decoded blocks; NULL: decode each time */
	struct emu_jit *jit;       /* translates hot blocks; NULL: interpret */
	struct emu_code_map *code_map;  /* the VM's, shared; blocks need it */
	/* The host bytes of the block being executed: a write into them
	 * (self-modifying code) sets smc_hit, and the block stops after the
	 * writing instruction and is decoded afresh. */
	const uint8_t *code_watch_lo, *code_watch_hi;
	bool smc_hit;
	/* Instructions translated code completed before the handler it is
	 * calling, which may fault: the budget counts them then. */
	uint32_t jit_done;
	struct emu_tlb *tlb;
	struct guest_mem *mem;
	struct emu_lapic *lapic;
	struct emu_env *env;       /* how the core reaches the rest of the VM */
	unsigned index;            /* vCPU number = APIC ID */
};

/* What the core needs from outside itself: port I/O and MMIO (served by
 * the VMM's buses), and the current guest time. Tests provide their own. */
struct emu_env {
	uint64_t (*pio_read)(struct emu_env *env, uint16_t port, unsigned size);
	void (*pio_write)(struct emu_env *env, uint16_t port, unsigned size, uint64_t value);
	uint64_t (*mmio_read)(struct emu_env *env, uint64_t gpa, unsigned size);
	void (*mmio_write)(struct emu_env *env, uint64_t gpa, unsigned size, uint64_t value);
};

/* Every write of the core to guest RAM calls this, with the host and the
 * physical address of the bytes written. */
static inline void emu_note_write(struct emu_cpu *cpu, const void *host, uint64_t pa, unsigned len)
{
	const uint8_t *p = host;

	if (p < cpu->code_watch_hi && p + len > cpu->code_watch_lo)
		cpu->smc_hit = true;
	if (cpu->code_map)
		emu_code_map_note_write(cpu->code_map, pa, len);
}

/* A 48-bit canonical linear address: bits 63..47 all equal. (The shift is
 * done unsigned: a signed left shift that overflows is undefined.) */
static inline bool emu_canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* Keys of emu_report_unimplemented: opcodes by map and byte, then named
 * features. */
#define EMU_UNIMPL_OPCODE(map, op) ((unsigned)(map) * 256u + (op))
enum {
	EMU_UNIMPL_XSAVE = 4 * 256,
	EMU_UNIMPL_CR4,
	EMU_UNIMPL_COUNT
};

/* The first time (per key) a guest runs into something the software core
 * does not implement, say so on stderr. The guest gets the fault a CPU
 * without the feature raises, which on its own looks like a guest bug. */
__attribute__((format(printf, 3, 4)))
void emu_report_unimplemented(const struct emu_cpu *cpu, unsigned key, const char *fmt, ...);

/* Record exception vector (with error code when has_error) and abandon the
 * current instruction. */
_Noreturn void emu_raise(struct emu_cpu *cpu, unsigned vector, bool has_error, uint32_t error);

static inline _Noreturn void emu_raise_gp(struct emu_cpu *cpu, uint32_t error)
{
	emu_raise(cpu, EMU_VEC_GP, true, error);
}

static inline _Noreturn void emu_raise_ud(struct emu_cpu *cpu)
{
	emu_raise(cpu, EMU_VEC_UD, false, 0);
}

/* Recompute cpu->mode and cpu->cpl after CR0, EFER or CS changed. */
void emu_update_mode(struct emu_cpu *cpu);

#endif
