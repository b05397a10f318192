/* The translator: see jit.h.
 *
 * Code shape. rbx holds the cpu, r12 the TLB's entry array; every guest
 * register lives in cpu->gpr and is loaded into a host scratch register
 * (rax, rcx, rdx, rsi, rdi, r8) for the one instruction that uses it, then
 * stored back, so state is complete at every instruction boundary and any
 * instruction can hand over to its interpreter handler.
 *
 * Flags. A host instruction of the same kind as the guest's computes the
 * guest's flags, undefined ones included, exactly as the host CPU does,
 * which is what the interpreter models too. After one, PUSHFQ stores the
 * host RFLAGS as the lazy record CC_OP_HOST. While the host flags still
 * hold that value (nothing since clobbered them: "live"), a Jcc, SETcc,
 * CMOVcc, ADC... uses them directly; otherwise they are loaded back from
 * the record (SAHF plus an overflow trick: no POPF). Instructions that
 * leave some flags alone (INC/DEC, rotates, MUL, shifts by CL, which may
 * be by zero) first get the guest's flags into the host's.
 *
 * Memory. The effective address is formed in rsi; an inline lookup of the
 * software TLB (one compare on the page number, a permission bit, RAM, no
 * page crossing) yields the host address in rdx. A write also checks it
 * against the code map (code_map.h). Anything else jumps to an
 * out-of-line stub that stores rip and runs the whole instruction through
 * its interpreter handler, which walks, faults, reaches MMIO or notes the
 * self-modifying write as it always does.
 *
 * Exits. Every way out stores rip (when not already stored by a handler)
 * and returns the count of instructions completed. */
#include "jit.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "block.h"
#include "flags.h"
#include "tlb.h"
#include "x86_asm.h"

#define CODE_BUFFER_SIZE (32u << 20)
/* Room one block's code may need at most: 32 instructions of at most a
 * few hundred bytes, their stubs, and the exits. */
#define BLOCK_CODE_MAX (32u << 10)

struct emu_jit {
	uint8_t *buf;
	size_t used;
	uint32_t epoch;       /* bumped when the buffer is reset */
	unsigned threshold;
};

/* ---- host registers ------------------------------------------------------ */

#define CPU RBX               /* struct emu_cpu * */
#define TLBE R12              /* struct emu_tlb_entry[EMU_TLB_SIZE] */
#define CODEMAP R13           /* the code map's per-page flags */
#define HOPS R14              /* self-loops left before returning */
#define DONE R15              /* instructions completed by earlier loops */

/* A block that branches to its own start runs again without returning
 * this many times at most: the caller looks at interrupts and requests
 * between returns. */
#define MAX_SELF_LOOPS 256

#define OFF_GPR(r)    ((int32_t)(offsetof(struct emu_cpu, gpr) + 8 * (r)))
#define OFF_RIP       ((int32_t)offsetof(struct emu_cpu, rip))
#define OFF_FLAGS_OP  ((int32_t)offsetof(struct emu_cpu, flags.op))
#define OFF_FLAGS_DST ((int32_t)offsetof(struct emu_cpu, flags.dst))
#define OFF_SHADOW    ((int32_t)offsetof(struct emu_cpu, interrupt_shadow))
#define OFF_SMC_HIT   ((int32_t)offsetof(struct emu_cpu, smc_hit))
#define OFF_JIT_DONE  ((int32_t)offsetof(struct emu_cpu, jit_done))
#define OFF_MODE      ((int32_t)offsetof(struct emu_cpu, mode))
#define OFF_TLB       ((int32_t)offsetof(struct emu_cpu, tlb))
#define OFF_CODE_MAP  ((int32_t)offsetof(struct emu_cpu, code_map))
#define MAP_OFF_CODE  ((int32_t)offsetof(struct emu_code_map, code))
#define OFF_SEG_BASE(s) ((int32_t)(offsetof(struct emu_cpu, seg) + \
				   (s) * sizeof(struct emu_segment) + \
				   offsetof(struct emu_segment, base)))

_Static_assert(sizeof(struct emu_tlb_entry) == 32, "TLB entry indexing shifts by 5");
#define TLB_OFF_VPN  ((int32_t)offsetof(struct emu_tlb_entry, vpn))
#define TLB_OFF_HOST ((int32_t)offsetof(struct emu_tlb_entry, host))
#define TLB_OFF_PERM ((int32_t)offsetof(struct emu_tlb_entry, perm))
#define TLB_OFF_PA   ((int32_t)offsetof(struct emu_tlb_entry, pa))

/* ---- translation state ---------------------------------------------------- */

/* Out-of-line code emitted after the block body. */
enum stub_kind {
	STUB_SLOW,            /* run insn through its handler, then resume */
	STUB_EXIT_TO,         /* rip = target, return count */
	STUB_EXIT,            /* rip already stored; return count */
};

struct stub {
	uint8_t kind;
	uint8_t index;        /* the instruction (STUB_SLOW) */
	uint16_t label;       /* where the stub starts */
	uint16_t resume;      /* STUB_SLOW: label after the instruction */
	uint32_t count;
	uint64_t target;
};

struct gen {
	struct x86_asm a;
	struct stub stubs[X86_ASM_MAX_LABELS];
	unsigned nstubs;
	uint16_t epilogue;
	uint16_t chain_entry; /* the block's start, after the prologue */
	/* What the code emitted so far leaves in the flags. */
	bool host_live;       /* the host RFLAGS hold the guest's six flags */
	bool known_host;      /* cpu->flags is CC_OP_HOST */
	bool user;            /* the block runs at CPL 3 */
	const uint32_t *page_gen;  /* the code map's generation of its page */
	const struct emu_block *block;
};

/* mov qword [rbx + off], imm (through rax when it does not fit 32 bits). */
static void store_imm64(struct gen *g, int32_t off, uint64_t v)
{
	if (x86_fits_i32((int64_t)v)) {
		asm_op1(&g->a, 8, 0xc7, 0, M(CPU, off));
		asm_b4(&g->a, (uint32_t)v);
	} else {
		asm_mov_imm(&g->a, RAX, v);
		asm_mov_store(&g->a, 8, M(CPU, off), RAX);
	}
}

static uint16_t add_stub(struct gen *g, enum stub_kind kind, unsigned index, uint32_t count,
			 uint64_t target)
{
	struct stub *s;

	if (g->nstubs >= X86_ASM_MAX_LABELS) {
		g->a.full = true;
		return 0;
	}
	s = &g->stubs[g->nstubs++];
	s->kind = (uint8_t)kind;
	s->index = (uint8_t)index;
	s->count = count;
	s->target = target;
	s->label = asm_label(&g->a);
	s->resume = 0;
	return s->label;
}

/* ---- guest operands ------------------------------------------------------ */

/* Where a guest register of size bytes lives: byte registers 4..7 without
 * a REX are AH, CH, DH, BH. */
static struct rm guest_reg(const struct insn *insn, unsigned reg, unsigned size)
{
	if (size == 1 && !insn->rex && reg >= 4 && reg < 8)
		return M(CPU, OFF_GPR(reg - 4) + 1);
	return M(CPU, OFF_GPR(reg));
}

/* host reg = the guest register, zero-extended. */
static void load_guest(struct gen *g, const struct insn *insn, int host, unsigned reg, unsigned size)
{
	asm_load_zx(&g->a, size, host, guest_reg(insn, reg, size));
}

/* The guest register = host reg: bytes and words merge, a dword is
 * zero-extended (the host register's upper half is zero after any 32-bit
 * operation or load, so the whole register is stored). */
static void store_guest(struct gen *g, const struct insn *insn, unsigned reg, unsigned size, int host)
{
	asm_mov_store(&g->a, size == 4 ? 8 : size, guest_reg(insn, reg, size), host);
}

/* rsi = the effective address of insn's memory operand (no segment). */
static void emit_ea(struct gen *g, const struct insn *insn)
{
	if (insn->rip_relative) {
		asm_mov_imm(&g->a, RSI, insn->next_rip + (uint64_t)insn->disp);
	} else if (insn->base != INSN_NO_REG) {
		asm_mov_load(&g->a, 8, RSI, M(CPU, OFF_GPR(insn->base)));
		if (insn->index != INSN_NO_REG) {
			asm_mov_load(&g->a, 8, RDI, M(CPU, OFF_GPR(insn->index)));
			asm_op1(&g->a, 8, 0x8d, RSI, MI(RSI, RDI, insn->scale, (int32_t)insn->disp));
		} else if (insn->disp) {
			asm_op1(&g->a, 8, 0x8d, RSI, M(RSI, (int32_t)insn->disp));
		}
	} else if (insn->index != INSN_NO_REG) {
		/* lea rsi, [rdi * scale + disp32]: SIB with no base. */
		unsigned ss = insn->scale == 8 ? 3 : insn->scale == 4 ? 2 : insn->scale == 2 ? 1 : 0;

		asm_mov_load(&g->a, 8, RDI, M(CPU, OFF_GPR(insn->index)));
		asm_b1(&g->a, 0x48);
		asm_b1(&g->a, 0x8d);
		asm_b1(&g->a, (uint8_t)((RSI & 7) << 3 | 4));
		asm_b1(&g->a, (uint8_t)(ss << 6 | (RDI & 7) << 3 | 5));
		asm_b4(&g->a, (uint32_t)insn->disp);
	} else {
		asm_mov_imm(&g->a, RSI, (uint64_t)insn->disp);
	}
	if (insn->adsize == 4)
		asm_op1(&g->a, 4, 0x89, RSI, R(RSI));   /* mov esi, esi */
}

/* rsi = the linear address (FS/GS bases; the others are zero here). */
static void emit_linear(struct gen *g, const struct insn *insn)
{
	emit_ea(g, insn);
	if (insn->seg == SEG_FS || insn->seg == SEG_GS)
		asm_op1(&g->a, 8, 0x03, RSI, M(CPU, OFF_SEG_BASE(insn->seg)));
}

/* rdx = the host address of size bytes at linear rsi, for an access of
 * kind; jumps to slow otherwise. Clobbers rax, rcx, rdx and the flags. */
static void emit_tlb(struct gen *g, enum emu_access kind, unsigned size, uint16_t slow)
{
	unsigned perm = emu_perm_bit(kind, g->user);

	asm_mov_load(&g->a, 8, RAX, R(RSI));
	asm_op1(&g->a, 8, 0xc1, 5, R(RAX)); asm_b1(&g->a, 12);                  /* shr rax, 12 */
	asm_op1(&g->a, 4, 0x8b, RCX, R(RAX));                            /* mov ecx, eax */
	asm_op1(&g->a, 4, 0x81, 4, R(RCX)); asm_b4(&g->a, EMU_TLB_SIZE - 1);    /* and ecx, mask */
	asm_op1(&g->a, 4, 0xc1, 4, R(RCX)); asm_b1(&g->a, 5);                   /* shl ecx, 5 */
	asm_op1(&g->a, 8, 0x03, RCX, R(TLBE));                           /* add rcx, r12 */
	asm_op1(&g->a, 8, 0x3b, RAX, M(RCX, TLB_OFF_VPN));               /* cmp rax, [rcx] */
	asm_jcc(&g->a, CC_NE, slow);
	asm_op1(&g->a, 1, 0xf6, 0, M(RCX, TLB_OFF_PERM)); asm_b1(&g->a, (uint8_t)perm);  /* test byte */
	asm_jcc(&g->a, CC_E, slow);
	asm_mov_load(&g->a, 8, RDX, M(RCX, TLB_OFF_HOST));
	asm_op1(&g->a, 8, 0x85, RDX, R(RDX));                            /* test rdx, rdx */
	asm_jcc(&g->a, CC_E, slow);
	if (kind == EMU_WRITE) {
		/* A write to a page blocks were decoded from (this one's own
		 * bytes included): the handler makes it and notes it. */
		asm_mov_load(&g->a, 8, RAX, M(RCX, TLB_OFF_PA));
		asm_op1(&g->a, 8, 0xc1, 5, R(RAX)); asm_b1(&g->a, 12);          /* shr rax, 12 */
		asm_op1(&g->a, 1, 0x80, 7, MI(CODEMAP, RAX, 1, 0)); asm_b1(&g->a, 0);  /* cmp byte [r13+rax], 0 */
		asm_jcc(&g->a, CC_NE, slow);
	}
	asm_op1(&g->a, 4, 0x8b, RAX, R(RSI));                            /* mov eax, esi */
	asm_op1(&g->a, 4, 0x81, 4, R(RAX)); asm_b4(&g->a, 0xfff);              /* and eax, 0xfff */
	asm_op1(&g->a, 4, 0x81, 7, R(RAX)); asm_b4(&g->a, 4096 - size);         /* cmp eax, 4096 - size */
	asm_jcc(&g->a, CC_A, slow);
	asm_op1(&g->a, 8, 0x03, RDX, R(RAX));                            /* add rdx, rax */
	g->host_live = false;
}

/* ---- flags --------------------------------------------------------------- */

/* cpu->flags becomes CC_OP_HOST (whatever lazy kind it was). */
static void jit_flags_to_host(struct emu_cpu *cpu)
{
	uint64_t f = emu_get_arith_flags(cpu);

	cpu->flags.op = CC_OP_HOST;
	cpu->flags.dst = f;
}

/* Before an instruction that reads or only partly writes the flags: make
 * the record CC_OP_HOST (a call: done before any host register holds
 * something). */
static void flags_prepare(struct gen *g)
{
	if (g->host_live || g->known_host)
		return;
	asm_mov_load(&g->a, 8, RDI, R(CPU));
	asm_call(&g->a, (const void *)jit_flags_to_host);
	g->known_host = true;
}

/* Load the guest's flags into the host's from the CC_OP_HOST record
 * (flags_prepare came first). Clobbers rax and rcx. OF cannot be set
 * without touching the others, so it goes first (ADD of 0x7f to a 0/1
 * overflows exactly for 1), then SAHF sets SF, ZF, AF, PF and CF. */
static void flags_load(struct gen *g)
{
	if (g->host_live)
		return;
	assert(g->known_host);
	asm_mov_load(&g->a, 8, RAX, M(CPU, OFF_FLAGS_DST));
	asm_op1(&g->a, 4, 0x8b, RCX, R(RAX));                            /* mov ecx, eax */
	asm_op1(&g->a, 4, 0xc1, 5, R(RCX)); asm_b1(&g->a, 11);                  /* shr ecx, 11 */
	asm_op1(&g->a, 1, 0x80, 4, R(RCX)); asm_b1(&g->a, 1);                   /* and cl, 1 */
	asm_op1(&g->a, 1, 0x80, 0, R(RCX)); asm_b1(&g->a, 0x7f);                /* add cl, 0x7f */
	asm_b1(&g->a, 0x88); asm_b1(&g->a, 0xc4);                                /* mov ah, al */
	asm_b1(&g->a, 0x9e);                                             /* sahf */
	g->host_live = true;
}

/* After a host instruction that set the guest's flags. */
static void flags_store(struct gen *g)
{
	asm_b1(&g->a, 0x9c);                                             /* pushfq */
	asm_op1(&g->a, 4, 0x8f, 0, M(CPU, OFF_FLAGS_DST));               /* pop qword [] */
	if (!g->known_host) {
		asm_op1(&g->a, 4, 0xc7, 0, M(CPU, OFF_FLAGS_OP));
		asm_b4(&g->a, CC_OP_HOST);
		g->known_host = true;
	}
	g->host_live = true;
}

/* ---- instructions ------------------------------------------------------- */

static void store_rip(struct gen *g, uint64_t rip)
{
	store_imm64(g, OFF_RIP, rip);
}

/* The checks after a handler ran: it went elsewhere, changed mode or
 * wrote into this block: leave with rip as it left it. */
static void after_handler(struct gen *g, unsigned i, uint64_t next)
{
	uint16_t out = add_stub(g, STUB_EXIT, 0, i + 1, 0);

	if (x86_fits_i32((int64_t)next)) {
		asm_op1(&g->a, 8, 0x81, 7, M(CPU, OFF_RIP)); asm_b4(&g->a, (uint32_t)next);
	} else {
		asm_mov_imm(&g->a, RAX, next);
		asm_op1(&g->a, 8, 0x3b, RAX, M(CPU, OFF_RIP));
	}
	asm_jcc(&g->a, CC_NE, out);
	asm_op1(&g->a, 1, 0x80, 7, M(CPU, OFF_SMC_HIT)); asm_b1(&g->a, 0);
	asm_jcc(&g->a, CC_NE, out);
	/* Its page was written (by the handler or another vCPU): the page is
	 * no longer flagged, so the inline stores that follow would not be
	 * caught writing into this block. It is decoded afresh instead. */
	asm_mov_imm(&g->a, RAX, (uint64_t)(uintptr_t)g->page_gen);
	asm_op1(&g->a, 4, 0x81, 7, M(RAX, 0)); asm_b4(&g->a, g->block->gen);
	asm_jcc(&g->a, CC_NE, out);
	asm_op1(&g->a, 4, 0x81, 7, M(CPU, OFF_MODE)); asm_b4(&g->a, EMU_MODE_LONG64);
	asm_jcc(&g->a, CC_NE, out);
}

/* Call the interpreter's handler for instruction i. */
static void emit_handler_call(struct gen *g, unsigned i)
{
	const struct block_insn *bi = &g->block->insns[i];
	uint64_t rip = i ? g->block->insns[i - 1].insn.next_rip : g->block->rip;

	store_rip(g, rip);
	/* What completed before it, should it fault. */
	asm_op1(&g->a, 4, 0x8d, RAX, M(DONE, (int32_t)i));          /* lea eax, [r15 + i] */
	asm_mov_store(&g->a, 4, M(CPU, OFF_JIT_DONE), RAX);
	asm_op1(&g->a, 1, 0xc6, 0, M(CPU, OFF_SHADOW)); asm_b1(&g->a, 0);
	asm_mov_load(&g->a, 8, RDI, R(CPU));
	asm_mov_imm(&g->a, RSI, (uint64_t)(uintptr_t)&bi->insn);
	asm_call(&g->a, (const void *)bi->fn);
	after_handler(g, i, bi->insn.next_rip);
	g->host_live = false;
	g->known_host = false;
}

/* The ALU operation n (0..7: ADD OR ADC SBB AND SUB XOR CMP) as host
 * opcode "r/m, reg" of the size: op r/m(rax), reg(rcx). */
static uint8_t alu_opcode(unsigned n, unsigned size)
{
	return (uint8_t)(n * 8 + (size == 1 ? 0 : 1));
}

static unsigned bw_size(const struct insn *insn)
{
	return (insn->op & 1) ? insn->opsize : 1;
}

/* State of the translation of one instruction with a memory operand. */
struct memop {
	uint16_t slow;        /* the stub running the handler */
	uint16_t resume;      /* after the instruction */
};

static void memop_begin(struct gen *g, unsigned i, struct memop *m)
{
	m->slow = add_stub(g, STUB_SLOW, i, 0, 0);
	m->resume = asm_label(&g->a);
	g->stubs[g->nstubs - 1].resume = m->resume;
}

/* flags_kept: the instruction leaves the flags alone, so its handler
 * does too. */
static void memop_end(struct gen *g, struct memop *m, bool flags_kept)
{
	asm_bind(&g->a, m->resume);
	/* The handler may have run instead: it leaves the flags its way. */
	g->host_live = false;
	if (!flags_kept)
		g->known_host = false;
}

/* The r/m operand of insn for an access of kind: a guest register, or
 * memory at [rdx] after the inline lookup (memop begun: the caller ends
 * it). */
static struct rm rm_operand(struct gen *g, unsigned i, const struct insn *insn,
			    enum emu_access kind, unsigned size, struct memop *m)
{
	if (insn->mod == 3)
		return guest_reg(insn, insn->rm, size);
	memop_begin(g, i, m);
	emit_linear(g, insn);
	emit_tlb(g, kind, size, m->slow);
	return M(RDX, 0);
}

/* eax = the count to return: count more than earlier self-loops did. */
static void count_to_eax(struct gen *g, uint32_t count)
{
	asm_op1(&g->a, 4, 0x8d, RAX, M(DONE, (int32_t)count));          /* lea eax, [r15 + count] */
}

/* The r/m operand of insn = r8 (a MOV: the flags stay as they are). The
 * lookup clobbers rax, rcx, rdx, rsi and rdi, never r8. */
static void store_rm_r8(struct gen *g, unsigned i, const struct insn *insn, unsigned size)
{
	struct memop m;

	if (insn->mod == 3) {
		store_guest(g, insn, insn->rm, size, R8);
		return;
	}
	memop_begin(g, i, &m);
	emit_linear(g, insn);
	emit_tlb(g, EMU_WRITE, size, m.slow);
	asm_mov_store(&g->a, size, M(RDX, 0), R8);
	memop_end(g, &m, true);
}

/* Leave to rip = target after count instructions; a branch back to the
 * block's own start loops instead, a bounded number of times. */
static void exit_with(struct gen *g, uint32_t count, uint64_t target)
{
	if (target == g->block->rip) {
		uint16_t leave = asm_label(&g->a);

		asm_op1(&g->a, 4, 0xff, 1, R(HOPS));                     /* dec r14d */
		asm_jcc(&g->a, CC_E, leave);
		asm_op1(&g->a, 4, 0x81, 0, R(DONE)); asm_b4(&g->a, count);       /* add r15d, count */
		asm_jmp(&g->a, g->chain_entry);
		asm_bind(&g->a, leave);
	}
	store_rip(g, target);
	count_to_eax(g, count);
	asm_jmp(&g->a, g->epilogue);
}

/* Leave to rip = target after instruction i. */
static void exit_to(struct gen *g, unsigned i, uint64_t target)
{
	exit_with(g, i + 1, target);
}

/* Leave after instruction i with rip already stored. */
static void exit_stored(struct gen *g, unsigned i)
{
	count_to_eax(g, i + 1);
	asm_jmp(&g->a, g->epilogue);
}

/* Jump to slow unless rax is a canonical address (a branch to a
 * non-canonical one faults: the handler raises it). Clobbers rcx. */
static void check_canonical_rax(struct gen *g, uint16_t slow)
{
	asm_mov_load(&g->a, 8, RCX, R(RAX));
	asm_op1(&g->a, 8, 0xc1, 4, R(RCX)); asm_b1(&g->a, 16);                  /* shl rcx, 16 */
	asm_op1(&g->a, 8, 0xc1, 7, R(RCX)); asm_b1(&g->a, 16);                  /* sar rcx, 16 */
	asm_op1(&g->a, 8, 0x3b, RCX, R(RAX));                            /* cmp rcx, rax */
	asm_jcc(&g->a, CC_NE, slow);
}

/* Push r8 (8 bytes) on the stack: the lookup of rsp - 8 may go slow. */
static void push_r8(struct gen *g, struct memop *m)
{
	asm_mov_load(&g->a, 8, RSI, M(CPU, OFF_GPR(RSP)));
	asm_op1(&g->a, 8, 0x8d, RSI, M(RSI, -8));
	emit_tlb(g, EMU_WRITE, 8, m->slow);
	asm_mov_store(&g->a, 8, M(RDX, 0), R8);
	asm_mov_store(&g->a, 8, M(CPU, OFF_GPR(RSP)), RSI);
}

/* The rel8/rel32 branch target of insn. */
static uint64_t branch_target(const struct insn *insn)
{
	return insn->next_rip + insn->imm;
}

/* Jcc, SETcc, CMOVcc: the guest's flags in the host's. */
static void flags_for_condition(struct gen *g)
{
	flags_prepare(g);
	flags_load(g);
}

/* Group 2 (C0 C1 D0 D1 D2 D3): rotates and shifts. SAL (/6) is left to
 * the handler, and so is a count that masks to zero (flags and result
 * unchanged, which the handler models). */
static bool emit_shift(struct gen *g, unsigned i, const struct insn *insn)
{
	unsigned op = insn->op, n = insn->reg & 7, size = bw_size(insn);
	bool by_cl = op == 0xd2 || op == 0xd3;
	unsigned count = op == 0xc0 || op == 0xc1 ? (unsigned)insn->imm : 1;
	bool partial;
	struct memop m;
	struct rm loc;

	if (n == 6)
		return false;
	if (!by_cl && (count & (size == 8 ? 63 : 31)) == 0)
		return false;
	/* Rotates keep SF, ZF, AF, PF; RCL/RCR read CF; a count in CL may
	 * be zero: those need the guest's flags in the host's first. */
	partial = by_cl || n < 4;
	if (partial)
		flags_prepare(g);
	loc = rm_operand(g, i, insn, EMU_WRITE, size, &m);
	if (partial)
		flags_load(g);
	asm_load_zx(&g->a, size, RAX, loc);
	if (by_cl) {
		asm_mov_load(&g->a, 1, RCX, M(CPU, OFF_GPR(1)));
		asm_op1(&g->a, size, size == 1 ? 0xd2 : 0xd3, (int)n, R(RAX));
	} else {
		asm_op1(&g->a, size, size == 1 ? 0xc0 : 0xc1, (int)n, R(RAX));
		asm_b1(&g->a, (uint8_t)count);
	}
	flags_store(g);
	if (insn->mod == 3)
		store_guest(g, insn, insn->rm, size, RAX);
	else {
		asm_mov_store(&g->a, size, loc, RAX);
		memop_end(g, &m, false);
	}
	return true;
}

/* Group 3 (F6 F7): TEST imm, NOT, NEG, MUL, IMUL; DIV/IDIV (which fault)
 * are left to the handler. */
static bool emit_group3(struct gen *g, unsigned i, const struct insn *insn)
{
	unsigned n = insn->reg & 7, size = bw_size(insn);
	struct memop m;
	struct rm loc;

	switch (n) {
	case 0: case 1:                 /* TEST r/m, imm */
		loc = rm_operand(g, i, insn, EMU_READ, size, &m);
		asm_load_zx(&g->a, size, RAX, loc);
		asm_mov_imm(&g->a, RCX, insn->imm & size_mask(size));
		asm_op1(&g->a, size, size == 1 ? 0x84 : 0x85, RCX, R(RAX));
		flags_store(g);
		break;
	case 2: case 3:                 /* NOT, NEG */
		loc = rm_operand(g, i, insn, EMU_WRITE, size, &m);
		asm_load_zx(&g->a, size, RAX, loc);
		asm_op1(&g->a, size, size == 1 ? 0xf6 : 0xf7, (int)n, R(RAX));
		if (n == 3)
			flags_store(g);
		if (insn->mod == 3)
			store_guest(g, insn, insn->rm, size, RAX);
		else
			asm_mov_store(&g->a, size, loc, RAX);
		break;
	case 4: case 5:                 /* MUL, IMUL: rDX:rAX = rAX * r/m */
		/* SF, ZF, AF and PF stay as they were on this host. */
		flags_prepare(g);
		loc = rm_operand(g, i, insn, EMU_READ, size, &m);
		flags_load(g);
		asm_load_zx(&g->a, size, RCX, loc);
		load_guest(g, insn, RAX, 0, size);
		asm_op1(&g->a, size, size == 1 ? 0xf6 : 0xf7, (int)n, R(RCX));
		flags_store(g);
		if (size == 1) {
			asm_mov_store(&g->a, 2, M(CPU, OFF_GPR(0)), RAX);
		} else {
			store_guest(g, insn, 0, size, RAX);
			store_guest(g, insn, 2, size, RDX);
		}
		break;
	default:
		return false;
	}
	if (insn->mod != 3)
		memop_end(g, &m, n == 2);
	return true;
}

/* Group 5 (FE FF): INC, DEC; FF: CALL and JMP through r/m, PUSH r/m. */
static bool emit_group5(struct gen *g, unsigned i, const struct insn *insn, bool *ends)
{
	unsigned n = insn->reg & 7, size = bw_size(insn);
	struct memop m;
	struct rm loc;

	if (n <= 1) {
		/* CF survives INC and DEC. */
		flags_prepare(g);
		loc = rm_operand(g, i, insn, EMU_WRITE, size, &m);
		flags_load(g);
		asm_load_zx(&g->a, size, RAX, loc);
		asm_op1(&g->a, size, size == 1 ? 0xfe : 0xff, (int)n, R(RAX));
		flags_store(g);
		if (insn->mod == 3) {
			store_guest(g, insn, insn->rm, size, RAX);
		} else {
			asm_mov_store(&g->a, size, loc, RAX);
			memop_end(g, &m, false);
		}
		return true;
	}
	if (insn->op != 0xff || insn->opsize != 8 || (n != 2 && n != 4))
		return false;
	/* CALL/JMP r/m64. The stub serves the operand's lookup, a
	 * non-canonical target and the push's lookup alike. */
	if (insn->mod == 3) {
		memop_begin(g, i, &m);
		asm_mov_load(&g->a, 8, RAX, guest_reg(insn, insn->rm, 8));
	} else {
		loc = rm_operand(g, i, insn, EMU_READ, 8, &m);
		asm_mov_load(&g->a, 8, RAX, loc);
	}
	check_canonical_rax(g, m.slow);
	asm_mov_load(&g->a, 8, R9, R(RAX));
	if (n == 2) {
		asm_mov_imm(&g->a, R8, insn->next_rip);
		push_r8(g, &m);
	}
	asm_mov_store(&g->a, 8, M(CPU, OFF_RIP), R9);
	asm_bind(&g->a, m.resume);
	exit_stored(g, i);
	g->host_live = false;
	*ends = true;
	return true;
}

/* The 0F map. */
static bool emit_native_0f(struct gen *g, unsigned i, const struct insn *insn, bool *ends)
{
	unsigned op = insn->op, size = insn->opsize;
	struct memop m;
	struct rm loc;

	(void)ends;
	if (op >= 0x80 && op <= 0x8f) {                 /* Jcc rel32 */
		uint16_t taken = add_stub(g, STUB_EXIT_TO, 0, i + 1, branch_target(insn));

		flags_for_condition(g);
		asm_jcc(&g->a, op & 15, taken);
		return true;
	}
	if (op >= 0x90 && op <= 0x9f) {                 /* SETcc r/m8 */
		if (insn->mod != 3)
			return false;
		flags_for_condition(g);
		asm_b1(&g->a, 0x0f); asm_b1(&g->a, (uint8_t)op); asm_b1(&g->a, 0xc0);   /* setcc al */
		asm_mov_store(&g->a, 1, guest_reg(insn, insn->rm, 1), RAX);
		return true;
	}
	if (op >= 0x40 && op <= 0x4f) {                 /* CMOVcc reg, r/m */
		flags_prepare(g);
		loc = rm_operand(g, i, insn, EMU_READ, size, &m);
		flags_load(g);
		load_guest(g, insn, RAX, insn->reg, size);
		asm_load_zx(&g->a, size, RCX, loc);
		asm_op2(&g->a, size, (uint8_t)op, RAX, R(RCX));
		store_guest(g, insn, insn->reg, size, RAX);
		if (insn->mod != 3)
			memop_end(g, &m, true);
		return true;
	}
	if (op >= 0xc8 && op <= 0xcf && size >= 4) {    /* BSWAP (16-bit: undefined) */
		unsigned reg = (op & 7) | ((insn->rex & 1) ? 8 : 0);

		load_guest(g, insn, RAX, reg, size);
		if (size == 8)
			asm_b1(&g->a, 0x48);
		asm_b1(&g->a, 0x0f); asm_b1(&g->a, 0xc8);                       /* bswap eax/rax */
		store_guest(g, insn, reg, size, RAX);
		return true;
	}
	switch (op) {
	case 0x1f:                                      /* NOP r/m */
		return true;
	case 0xa3: case 0xab: case 0xb3: case 0xbb:    /* BT/BTS/BTR/BTC reg, reg */
	case 0xba: {                                    /* ... reg, imm8 */
		/* Register operands only: with memory, a register bit offset
		 * reaches beyond the operand. CF is the bit; this host leaves
		 * the other flags as they were. */
		unsigned n = op == 0xba ? (insn->reg & 7) : ((op >> 3) & 3) + 4;

		if (insn->mod != 3 || n < 4 || size == 2)
			return false;
		flags_prepare(g);
		flags_load(g);
		load_guest(g, insn, RAX, insn->rm, size);
		if (op == 0xba) {
			asm_op2(&g->a, size, 0xba, (int)n, R(RAX));
			asm_b1(&g->a, (uint8_t)insn->imm);
		} else {
			load_guest(g, insn, RCX, insn->reg, size);
			asm_op2(&g->a, size, (uint8_t)op, RCX, R(RAX));
		}
		flags_store(g);
		if (n != 4)
			store_guest(g, insn, insn->rm, size, RAX);
		return true;
	}
	case 0xaf:                                      /* IMUL reg, r/m */
		flags_prepare(g);
		loc = rm_operand(g, i, insn, EMU_READ, size, &m);
		flags_load(g);
		load_guest(g, insn, RAX, insn->reg, size);
		asm_load_zx(&g->a, size, RCX, loc);
		asm_op2(&g->a, size, 0xaf, RAX, R(RCX));
		flags_store(g);
		store_guest(g, insn, insn->reg, size, RAX);
		if (insn->mod != 3)
			memop_end(g, &m, false);
		return true;
	case 0xb6: case 0xb7: case 0xbe: case 0xbf: {   /* MOVZX, MOVSX */
		unsigned from = (op & 1) ? 2 : 1;

		loc = rm_operand(g, i, insn, EMU_READ, from, &m);
		asm_op2(&g->a, size == 8 ? 8 : 4, (uint8_t)op, RAX, loc);
		store_guest(g, insn, insn->reg, size, RAX);
		if (insn->mod != 3)
			memop_end(g, &m, true);
		return true;
	}
	default:
		return false;
	}
}

/* ALU operation n (the 00-3D / group 1 numbering) on RAX and RCX with the
 * guest's flags; the result, but for CMP's, to memory at dst_mem or, when
 * that is NULL, to guest register reg. */
static void emit_alu_result(struct gen *g, const struct insn *insn, unsigned n, unsigned size,
			    const struct rm *dst_mem, unsigned reg)
{
	asm_op1(&g->a, size, alu_opcode(n, size), RCX, R(RAX));
	flags_store(g);
	if (n == 7)
		return;
	if (dst_mem)
		asm_mov_store(&g->a, size, *dst_mem, RAX);
	else
		store_guest(g, insn, reg, size, RAX);
}

/* Translate instruction i natively if it is one of the translated kinds;
 * false: the caller emits a handler call. */
static bool emit_native(struct gen *g, unsigned i, bool *ends)
{
	const struct insn *insn = &g->block->insns[i].insn;
	unsigned op = insn->op, size;
	bool mem = insn->has_modrm && insn->mod != 3;
	struct memop m;
	struct rm rmloc;

	*ends = false;
	if (insn->prefixes & PFX_LOCK)
		return false;
	if (insn->map == MAP_PRIMARY) {
		/* ---- ALU 00-3D ------------------------------------------ */
		if (op < 0x40 && (op & 7) < 6) {
			unsigned n = (op >> 3) & 7, form = op & 7;
			bool rmw = (form == 0 || form == 1) && n != 7;

			size = bw_size(insn);
			if (form >= 4)
				size = form == 4 ? 1 : insn->opsize;
			if (n == 2 || n == 3)
				flags_prepare(g);
			if (mem) {
				memop_begin(g, i, &m);
				emit_linear(g, insn);
				emit_tlb(g, rmw ? EMU_WRITE : EMU_READ, size, m.slow);
				rmloc = M(RDX, 0);
			} else {
				rmloc = insn->has_modrm ? guest_reg(insn, insn->rm, size) : guest_reg(insn, 0, size);
			}
			if (n == 2 || n == 3)
				flags_load(g);
			switch (form) {
			case 0: case 1:             /* r/m op= reg */
				asm_load_zx(&g->a, size, RAX, rmloc);
				load_guest(g, insn, RCX, insn->reg, size);
				emit_alu_result(g, insn, n, size, mem ? &rmloc : NULL, insn->rm);
				break;
			case 2: case 3:             /* reg op= r/m */
				load_guest(g, insn, RAX, insn->reg, size);
				asm_load_zx(&g->a, size, RCX, rmloc);
				emit_alu_result(g, insn, n, size, NULL, insn->reg);
				break;
			default:                    /* AL/eAX op= imm */
				load_guest(g, insn, RAX, 0, size);
				asm_mov_imm(&g->a, RCX, insn->imm & size_mask(size));
				emit_alu_result(g, insn, n, size, NULL, 0);
				break;
			}
			if (mem)
				memop_end(g, &m, false);
			return true;
		}
		switch (op) {
		case 0x80: case 0x81: case 0x83: {      /* group 1, imm */
			unsigned n = insn->reg & 7;

			size = op == 0x80 ? 1 : insn->opsize;
			if (n == 2 || n == 3)
				flags_prepare(g);
			if (mem) {
				memop_begin(g, i, &m);
				emit_linear(g, insn);
				emit_tlb(g, n == 7 ? EMU_READ : EMU_WRITE, size, m.slow);
				rmloc = M(RDX, 0);
			} else {
				rmloc = guest_reg(insn, insn->rm, size);
			}
			if (n == 2 || n == 3)
				flags_load(g);
			asm_load_zx(&g->a, size, RAX, rmloc);
			asm_mov_imm(&g->a, RCX, insn->imm & size_mask(size));
			emit_alu_result(g, insn, n, size, mem ? &rmloc : NULL, insn->rm);
			if (mem)
				memop_end(g, &m, false);
			return true;
		}
		case 0x84: case 0x85:                   /* TEST r/m, reg */
			size = bw_size(insn);
			if (mem) {
				memop_begin(g, i, &m);
				emit_linear(g, insn);
				emit_tlb(g, EMU_READ, size, m.slow);
				rmloc = M(RDX, 0);
			} else {
				rmloc = guest_reg(insn, insn->rm, size);
			}
			asm_load_zx(&g->a, size, RAX, rmloc);
			load_guest(g, insn, RCX, insn->reg, size);
			asm_op1(&g->a, size, size == 1 ? 0x84 : 0x85, RCX, R(RAX));
			flags_store(g);
			if (mem)
				memop_end(g, &m, false);
			return true;
		case 0xa8: case 0xa9:                   /* TEST AL/eAX, imm */
			size = op == 0xa8 ? 1 : insn->opsize;
			load_guest(g, insn, RAX, 0, size);
			asm_mov_imm(&g->a, RCX, insn->imm & size_mask(size));
			asm_op1(&g->a, size, size == 1 ? 0x84 : 0x85, RCX, R(RAX));
			flags_store(g);
			return true;
		case 0x88: case 0x89:                   /* MOV r/m, reg */
			size = bw_size(insn);
			load_guest(g, insn, R8, insn->reg, size);
			store_rm_r8(g, i, insn, size);
			return true;
		case 0x8a: case 0x8b:                   /* MOV reg, r/m */
			size = bw_size(insn);
			if (mem) {
				memop_begin(g, i, &m);
				emit_linear(g, insn);
				emit_tlb(g, EMU_READ, size, m.slow);
				asm_load_zx(&g->a, size, RAX, M(RDX, 0));
				store_guest(g, insn, insn->reg, size, RAX);
				memop_end(g, &m, true);
			} else {
				load_guest(g, insn, RAX, insn->rm, size);
				store_guest(g, insn, insn->reg, size, RAX);
			}
			return true;
		case 0xc6: case 0xc7:                   /* MOV r/m, imm */
			if (insn->reg & 7)
				return false;
			size = bw_size(insn);
			asm_mov_imm(&g->a, R8, insn->imm & size_mask(size));
			store_rm_r8(g, i, insn, size);
			return true;
		case 0x8d:                              /* LEA */
			if (!mem)
				return false;
			emit_ea(g, insn);
			if (insn->opsize == 2)
				asm_mov_store(&g->a, 2, M(CPU, OFF_GPR(insn->reg)), RSI);
			else if (insn->opsize == 4) {
				asm_op1(&g->a, 4, 0x89, RSI, R(RSI));
				asm_mov_store(&g->a, 8, M(CPU, OFF_GPR(insn->reg)), RSI);
			} else {
				asm_mov_store(&g->a, 8, M(CPU, OFF_GPR(insn->reg)), RSI);
			}
			return true;
		}
		if (op >= 0x70 && op <= 0x7f) {         /* Jcc rel8 */
			uint16_t taken = add_stub(g, STUB_EXIT_TO, 0, i + 1, branch_target(insn));

			flags_for_condition(g);
			asm_jcc(&g->a, op & 15, taken);
			return true;
		}
		if (op >= 0x50 && op <= 0x57 && insn->opsize == 8) {   /* PUSH reg */
			memop_begin(g, i, &m);
			load_guest(g, insn, R8, (op & 7) | ((insn->rex & 1) ? 8 : 0), 8);
			push_r8(g, &m);
			memop_end(g, &m, true);
			return true;
		}
		if (op >= 0x58 && op <= 0x5f && insn->opsize == 8) {   /* POP reg */
			memop_begin(g, i, &m);
			asm_mov_load(&g->a, 8, RSI, M(CPU, OFF_GPR(RSP)));
			emit_tlb(g, EMU_READ, 8, m.slow);
			asm_mov_load(&g->a, 8, R8, M(RDX, 0));
			asm_op1(&g->a, 8, 0x8d, RSI, M(RSI, 8));
			asm_mov_store(&g->a, 8, M(CPU, OFF_GPR(RSP)), RSI);
			asm_mov_store(&g->a, 8, M(CPU, OFF_GPR((op & 7) | ((insn->rex & 1) ? 8 : 0))), R8);
			memop_end(g, &m, true);
			return true;
		}
		switch (op) {
		case 0x68: case 0x6a:                   /* PUSH imm */
			if (insn->opsize != 8)
				return false;
			memop_begin(g, i, &m);
			asm_mov_imm(&g->a, R8, insn->imm);
			push_r8(g, &m);
			memop_end(g, &m, true);
			return true;
		case 0x63:                              /* MOVSXD reg, r/m32 */
			if (insn->opsize != 8)
				return false;
			rmloc = rm_operand(g, i, insn, EMU_READ, 4, &m);
			asm_op1(&g->a, 8, 0x63, RAX, rmloc);
			store_guest(g, insn, insn->reg, 8, RAX);
			if (mem)
				memop_end(g, &m, true);
			return true;
		case 0x69: case 0x6b:                   /* IMUL reg, r/m, imm */
			size = insn->opsize;
			flags_prepare(g);
			rmloc = rm_operand(g, i, insn, EMU_READ, size, &m);
			flags_load(g);
			asm_load_zx(&g->a, size, RCX, rmloc);
			asm_op1(&g->a, size, 0x69, RAX, R(RCX));
			if (size == 2) {
				asm_b1(&g->a, (uint8_t)insn->imm);
				asm_b1(&g->a, (uint8_t)(insn->imm >> 8));
			} else {
				asm_b4(&g->a, (uint32_t)insn->imm);
			}
			flags_store(g);
			store_guest(g, insn, insn->reg, size, RAX);
			if (mem)
				memop_end(g, &m, false);
			return true;
		case 0x90:                              /* NOP, PAUSE */
			return !(insn->rex & 1);
		case 0x98:                              /* CBW, CWDE, CDQE */
		case 0x99:                              /* CWD, CDQ, CQO */
			size = insn->opsize;
			asm_mov_load(&g->a, 8, RAX, M(CPU, OFF_GPR(0)));
			if (size == 2)
				asm_b1(&g->a, 0x66);
			else if (size == 8)
				asm_b1(&g->a, 0x48);
			asm_b1(&g->a, (uint8_t)op);
			store_guest(g, insn, op == 0x98 ? 0 : 2, size, op == 0x98 ? RAX : RDX);
			return true;
		case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
			return emit_shift(g, i, insn);
		case 0xf6: case 0xf7:
			return emit_group3(g, i, insn);
		case 0xfe: case 0xff:
			return emit_group5(g, i, insn, ends);
		case 0xeb: case 0xe9:                   /* JMP rel */
			exit_to(g, i, branch_target(insn));
			*ends = true;
			return true;
		case 0xe8:                              /* CALL rel32 */
			memop_begin(g, i, &m);
			asm_mov_imm(&g->a, R8, insn->next_rip);
			push_r8(g, &m);
			/* The handler comes back here only when the target is
			 * the next instruction: rip is the target either way. */
			asm_bind(&g->a, m.resume);
			exit_to(g, i, branch_target(insn));
			*ends = true;
			return true;
		case 0xc3:                              /* RET */
			if (insn->opsize != 8)
				return false;
			memop_begin(g, i, &m);
			asm_mov_load(&g->a, 8, RSI, M(CPU, OFF_GPR(RSP)));
			emit_tlb(g, EMU_READ, 8, m.slow);
			asm_mov_load(&g->a, 8, RAX, M(RDX, 0));
			check_canonical_rax(g, m.slow);
			asm_op1(&g->a, 8, 0x8d, RSI, M(RSI, 8));
			asm_mov_store(&g->a, 8, M(CPU, OFF_GPR(RSP)), RSI);
			asm_mov_store(&g->a, 8, M(CPU, OFF_RIP), RAX);
			asm_bind(&g->a, m.resume);
			exit_stored(g, i);
			*ends = true;
			return true;
		}
		if (op >= 0xb0 && op <= 0xbf) {         /* MOV reg, imm */
			unsigned reg = (op & 7) | ((insn->rex & 1) ? 8 : 0);

			size = op < 0xb8 ? 1 : insn->opsize;
			asm_mov_imm(&g->a, RAX, insn->imm & size_mask(size));
			store_guest(g, insn, reg, size, RAX);
			return true;
		}
		return false;
	}
	if (insn->map == MAP_0F)
		return emit_native_0f(g, i, insn, ends);
	return false;
}

/* ---- blocks ------------------------------------------------------------- */

static void emit_stubs(struct gen *g)
{
	/* Stubs may add exit stubs of their own (after a handler): the
	 * count grows while this runs. */
	for (unsigned s = 0; s < g->nstubs; s++) {
		struct stub st = g->stubs[s];

		asm_bind(&g->a, st.label);
		switch (st.kind) {
		case STUB_SLOW: {
			bool live = g->host_live, known = g->known_host;

			emit_handler_call(g, st.index);
			asm_jmp(&g->a, st.resume);
			g->host_live = live;
			g->known_host = known;
			break;
		}
		case STUB_EXIT_TO:
			exit_with(g, st.count, st.target);
			break;
		case STUB_EXIT:
			count_to_eax(g, st.count);
			asm_jmp(&g->a, g->epilogue);
			break;
		}
	}
}

static void translate(struct gen *g)
{
	const struct emu_block *b = g->block;
	unsigned i;

	/* Prologue: five pushes keep the stack 16-byte aligned for calls. */
	asm_b1(&g->a, 0x53);                                  /* push rbx */
	asm_b1(&g->a, 0x41); asm_b1(&g->a, 0x54);                     /* push r12 */
	asm_b1(&g->a, 0x41); asm_b1(&g->a, 0x55);                     /* push r13 */
	asm_b1(&g->a, 0x41); asm_b1(&g->a, 0x56);                     /* push r14 */
	asm_b1(&g->a, 0x41); asm_b1(&g->a, 0x57);                     /* push r15 */
	asm_mov_load(&g->a, 8, CPU, R(RDI));
	asm_mov_load(&g->a, 8, TLBE, M(CPU, OFF_TLB));
	asm_mov_load(&g->a, 8, CODEMAP, M(CPU, OFF_CODE_MAP));
	asm_mov_load(&g->a, 8, CODEMAP, M(CODEMAP, MAP_OFF_CODE));
	asm_mov_imm(&g->a, HOPS, MAX_SELF_LOOPS);
	asm_op1(&g->a, 4, 0x31, DONE, R(DONE));               /* xor r15d, r15d */
	g->epilogue = asm_label(&g->a);
	g->chain_entry = asm_label(&g->a);
	asm_bind(&g->a, g->chain_entry);
	asm_op1(&g->a, 1, 0xc6, 0, M(CPU, OFF_SHADOW)); asm_b1(&g->a, 0);

	for (i = 0; i < b->ninsns && !g->a.full; i++) {
		bool ends = false;

		if (!emit_native(g, i, &ends))
			emit_handler_call(g, i);
		if (ends)
			break;
	}
	if (i == b->ninsns)
		exit_with(g, b->ninsns, b->insns[b->ninsns - 1].insn.next_rip);
	asm_bind(&g->a, g->epilogue);
	asm_b1(&g->a, 0x41); asm_b1(&g->a, 0x5f);                     /* pop r15 */
	asm_b1(&g->a, 0x41); asm_b1(&g->a, 0x5e);                     /* pop r14 */
	asm_b1(&g->a, 0x41); asm_b1(&g->a, 0x5d);                     /* pop r13 */
	asm_b1(&g->a, 0x41); asm_b1(&g->a, 0x5c);                     /* pop r12 */
	asm_b1(&g->a, 0x5b);                                  /* pop rbx */
	asm_b1(&g->a, 0xc3);                                  /* ret */
	emit_stubs(g);
}

/* ---- the translator ----------------------------------------------------- */

struct emu_jit *emu_jit_new(unsigned threshold)
{
	struct emu_jit *jit = calloc(1, sizeof(*jit));

	if (!jit)
		return NULL;
	jit->buf = mmap(NULL, CODE_BUFFER_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (jit->buf == MAP_FAILED) {
		free(jit);
		return NULL;
	}
	jit->epoch = 1;
	jit->threshold = threshold;
	return jit;
}

void emu_jit_free(struct emu_jit *jit)
{
	if (!jit)
		return;
	munmap(jit->buf, CODE_BUFFER_SIZE);
	free(jit);
}

emu_jit_code emu_jit_code_of(struct emu_jit *jit, struct emu_cpu *cpu, struct emu_block *b)
{
	struct gen *g;
	emu_jit_code code;

	if (b->code && b->code_epoch == jit->epoch)
		return b->code;
	if (b->mode != EMU_MODE_LONG64 || b->heat == UINT16_MAX)
		return NULL;
	if (++b->heat < jit->threshold)
		return NULL;
	if (CODE_BUFFER_SIZE - jit->used < BLOCK_CODE_MAX) {
		/* Full: start again; every block's code is now stale. */
		jit->used = 0;
		jit->epoch++;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	asm_init(&g->a, jit->buf + jit->used, BLOCK_CODE_MAX);
	g->block = b;
	g->user = cpu->cpl == 3;
	g->page_gen = &cpu->code_map->gen[b->pa >> 12];
	translate(g);
	if (!asm_finish(&g->a)) {
		b->heat = UINT16_MAX;  /* too big: stays interpreted */
		free(g);
		return NULL;
	}
	code = (emu_jit_code)(void *)g->a.start;
	jit->used += (size_t)(g->a.p - g->a.start);
	jit->used = (jit->used + 15) & ~(size_t)15;
	free(g);
	b->code = code;
	b->code_epoch = jit->epoch;
	return code;
}
