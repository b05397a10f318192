/* The system family: registration of every handler of system_ops.h, and
 * the smaller privileged and processor-state instructions: MOV CR/DR,
 * CLTS, INVD/WBINVD, RDMSR/WRMSR, RDPMC, CPUID, RDTSC/RDTSCP, CLI/STI,
 * PUSHF/POPF, HLT, CMPXCHG8B/CMPXCHG16B. */
#include "system_ops.h"
#include "cpuid.h"
#include "flags.h"
#include "interrupt.h"
#include "mem.h"
#include "operand.h"
#include "sysregs.h"

static void require_cpl0(struct emu_cpu *cpu)
{
	if (cpu->cpl != 0)
		emu_raise_gp(cpu, 0);
}

static unsigned iopl(const struct emu_cpu *cpu)
{
	return (unsigned)((cpu->rflags & EMU_IOPL) >> 12);
}

/* ---- control and debug registers -------------------------------------- */

/* MOV to/from CRn and DRn: the GPR is 64-bit in 64-bit mode, else 32-bit,
 * whatever the operand-size prefix says. */
static unsigned crdr_size(const struct emu_cpu *cpu)
{
	return cpu->mode == EMU_MODE_LONG64 ? 8 : 4;
}

static void op_mov_from_cr(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t v;

	exec_no_lock(cpu, insn);
	if (insn->reg != 0 && insn->reg != 2 && insn->reg != 3 && insn->reg != 4 && insn->reg != 8)
		emu_raise_ud(cpu);
	require_cpl0(cpu);
	switch (insn->reg) {
	case 0: v = cpu->cr0; break;
	case 2: v = cpu->cr2; break;
	case 3: v = cpu->cr3; break;
	case 4: v = cpu->cr4; break;
	default: v = emu_read_cr8(cpu); break;
	}
	exec_set_reg(cpu, insn, insn->rm, crdr_size(cpu), v);
	exec_advance(cpu, insn);
}

static void op_mov_to_cr(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t v;

	exec_no_lock(cpu, insn);
	if (insn->reg != 0 && insn->reg != 2 && insn->reg != 3 && insn->reg != 4 && insn->reg != 8)
		emu_raise_ud(cpu);
	require_cpl0(cpu);
	v = exec_get_reg(cpu, insn, insn->rm, crdr_size(cpu));
	switch (insn->reg) {
	case 0: emu_write_cr0(cpu, v); break;
	case 2: cpu->cr2 = v; break;
	case 3: emu_write_cr3(cpu, v); break;
	case 4: emu_write_cr4(cpu, v); break;
	default: emu_write_cr8(cpu, v); break;
	}
	exec_advance(cpu, insn);
}

/* DR4/DR5 alias DR6/DR7 unless CR4.DE; DR8-15 do not exist. */
static unsigned dr_index(struct emu_cpu *cpu, unsigned reg)
{
	if (reg > 7 || ((reg == 4 || reg == 5) && (cpu->cr4 & EMU_CR4_DE)))
		emu_raise_ud(cpu);
	return (reg == 4 || reg == 5) ? reg + 2 : reg;
}

static void op_mov_from_dr(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned n;

	exec_no_lock(cpu, insn);
	n = dr_index(cpu, insn->reg);
	require_cpl0(cpu);
	exec_set_reg(cpu, insn, insn->rm, crdr_size(cpu), cpu->dr[n]);
	exec_advance(cpu, insn);
}

/* Debug registers are stored with their fixed bits; breakpoints and
 * DR7.GD are not modelled. */
static void op_mov_to_dr(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned n;
	uint64_t v;

	exec_no_lock(cpu, insn);
	n = dr_index(cpu, insn->reg);
	require_cpl0(cpu);
	v = exec_get_reg(cpu, insn, insn->rm, crdr_size(cpu));
	if (n >= 6 && (v >> 32))
		emu_raise_gp(cpu, 0);
	if (n == 6)
		v = (v & 0x0000e00fu) | 0xffff0ff0u;  /* B0-B3, BD, BS, BT */
	else if (n == 7)
		v = (v & ~0xd800ull) | 0x400;
	cpu->dr[n] = v;
	exec_advance(cpu, insn);
}

static void op_clts(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	require_cpl0(cpu);
	cpu->cr0 &= ~EMU_CR0_TS;
	exec_advance(cpu, insn);
}

/* INVD, WBINVD: there are no caches to act on. */
static void op_invd(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	require_cpl0(cpu);
	exec_advance(cpu, insn);
}

/* ---- MSRs, CPUID, TSC --------------------------------------------------- */

static void set_edx_eax(struct emu_cpu *cpu, uint64_t v)
{
	cpu->gpr[0] = v & 0xffffffffull;
	cpu->gpr[2] = v >> 32;
}

static void op_rdmsr(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t v;

	exec_no_lock(cpu, insn);
	require_cpl0(cpu);
	if (!emu_rdmsr(cpu, (uint32_t)cpu->gpr[1], &v))
		emu_raise_gp(cpu, 0);
	set_edx_eax(cpu, v);
	exec_advance(cpu, insn);
}

static void op_wrmsr(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t v = (cpu->gpr[0] & 0xffffffffull) | (cpu->gpr[2] << 32);

	exec_no_lock(cpu, insn);
	require_cpl0(cpu);
	if (!emu_wrmsr(cpu, (uint32_t)cpu->gpr[1], v))
		emu_raise_gp(cpu, 0);
	exec_advance(cpu, insn);
}

/* No performance counters are advertised: every counter index is
 * invalid. */
static void op_rdpmc(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	emu_raise_gp(cpu, 0);
}

static void op_cpuid(struct emu_cpu *cpu, const struct insn *insn)
{
	uint32_t r[4];

	exec_no_lock(cpu, insn);
	emu_cpuid(cpu, (uint32_t)cpu->gpr[0], (uint32_t)cpu->gpr[1], r);
	cpu->gpr[0] = r[0];
	cpu->gpr[3] = r[1];
	cpu->gpr[1] = r[2];
	cpu->gpr[2] = r[3];
	exec_advance(cpu, insn);
}

static void check_tsd(struct emu_cpu *cpu)
{
	if ((cpu->cr4 & EMU_CR4_TSD) && cpu->cpl != 0 && cpu->mode != EMU_MODE_REAL)
		emu_raise_gp(cpu, 0);
}

static void op_rdtsc(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	check_tsd(cpu);
	set_edx_eax(cpu, emu_tsc_read(cpu));
	exec_advance(cpu, insn);
}

void sys_rdtscp(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	check_tsd(cpu);
	set_edx_eax(cpu, emu_tsc_read(cpu));
	cpu->gpr[1] = cpu->msr.tsc_aux & 0xffffffffull;
	exec_advance(cpu, insn);
}

/* ---- interrupt flag, RFLAGS, HLT ---------------------------------------- */

/* CLI/STI: allowed when CPL <= IOPL (always in real mode); no VME/PVI. */
static void op_cli_sti(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	if (cpu->mode != EMU_MODE_REAL && cpu->cpl > iopl(cpu))
		emu_raise_gp(cpu, 0);
	if (insn->op == 0xfa) {
		cpu->rflags &= ~EMU_IF;
	} else {
		/* Interrupts wait one more instruction only when STI is what
		 * enabled them. */
		if (!(cpu->rflags & EMU_IF))
			cpu->interrupt_shadow = true;
		cpu->rflags |= EMU_IF;
	}
	exec_advance(cpu, insn);
}

static void op_pushf(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = exec_stack_opsize(cpu, insn);

	exec_no_lock(cpu, insn);
	/* The image never shows VM or RF. */
	exec_push(cpu, size, emu_get_rflags(cpu) & ~(EMU_VM | EMU_RF) & size_mask(size));
	exec_advance(cpu, insn);
}

static void op_popf(struct emu_cpu *cpu, const struct insn *insn)
{
	unsigned size = exec_stack_opsize(cpu, insn);
	uint64_t v;

	exec_no_lock(cpu, insn);
	v = exec_stack_peek(cpu, 0, size);
	exec_stack_adjust(cpu, size);
	emu_load_rflags(cpu, v, size, false);
	exec_advance(cpu, insn);
}

static void op_hlt(struct emu_cpu *cpu, const struct insn *insn)
{
	exec_no_lock(cpu, insn);
	require_cpl0(cpu);
	cpu->halted = true;
	exec_advance(cpu, insn);
}

/* ---- CMPXCHG8B / CMPXCHG16B --------------------------------------------- */

/* 16-byte compare-exchange on host memory: lo and hi hold the expected
 * value and receive the old one. */
static bool cas16(void *p, uint64_t *lo, uint64_t *hi, uint64_t nlo, uint64_t nhi)
{
#if defined(__x86_64__)
	bool ok;

	__asm__ volatile("lock cmpxchg16b %1"
			 : "=@ccz"(ok), "+m"(*(volatile unsigned __int128 *)p), "+a"(*lo), "+d"(*hi)
			 : "b"(nlo), "c"(nhi)
			 : "memory");
	return ok;
#else
	/* Hosts without a 16-byte CAS here: not atomic against other vCPUs. */
	uint64_t *q = p;
	bool ok = q[0] == *lo && q[1] == *hi;

	if (ok) {
		q[0] = nlo;
		q[1] = nhi;
	} else {
		*lo = q[0];
		*hi = q[1];
	}
	return ok;
#endif
}

static void op_group9(struct emu_cpu *cpu, const struct insn *insn)
{
	bool wide = insn->opsize == 8;
	unsigned half = wide ? 8 : 4, seg = exec_ea_seg(insn);
	uint64_t m = size_mask(half), ea, lo, hi, nlo, nhi, exp_lo, exp_hi;
	bool eq;
	void *p;

	/* Only /1 with a memory operand: RDRAND, RDSEED, RDPID are not
	 * advertised. */
	if ((insn->reg & 7) != 1 || !insn_has_mem(insn))
		emu_raise_ud(cpu);
	ea = exec_ea(cpu, insn);
	if (wide && (emu_linear(cpu, seg, ea, 16, EMU_WRITE) & 15))
		emu_raise_gp(cpu, 0);
	exp_lo = lo = cpu->gpr[0] & m;
	exp_hi = hi = cpu->gpr[2] & m;
	nlo = cpu->gpr[3] & m;
	nhi = cpu->gpr[1] & m;
	p = emu_rmw_ptr(cpu, seg, ea, 2 * half);
	if (p && !wide && ((uintptr_t)p & 7) == 0) {
		uint64_t expected = lo | (hi << 32);

		eq = __atomic_compare_exchange_n((uint64_t *)p, &expected, nlo | (nhi << 32), false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		lo = expected & m;
		hi = expected >> 32;
	} else if (p && wide) {
		eq = cas16(p, &lo, &hi, nlo, nhi);
	} else {
		/* MMIO, or a misaligned 8-byte operand: read, compare, and
		 * write back either the new or the old value (the
		 * instruction always writes). */
		uint64_t ea2 = (ea + half) & size_mask(insn->adsize);

		lo = emu_read(cpu, seg, ea, half);
		hi = emu_read(cpu, seg, ea2, half);
		eq = lo == exp_lo && hi == exp_hi;
		emu_write(cpu, seg, ea, half, eq ? nlo : lo);
		emu_write(cpu, seg, ea2, half, eq ? nhi : hi);
	}
	emu_set_arith_flags(cpu, EMU_ZF, eq ? EMU_ZF : 0);
	if (!eq) {
		exec_set_reg(cpu, insn, 0, half, lo);
		exec_set_reg(cpu, insn, 2, half, hi);
	}
	exec_advance(cpu, insn);
}

/* ---- the table ---------------------------------------------------------- */

void exec_register_system(struct exec_table *t)
{
	exec_fn *p = t->fn[MAP_PRIMARY], *x = t->fn[MAP_0F];

	p[0x06] = p[0x0e] = p[0x16] = p[0x1e] = sys_push_sreg;
	p[0x07] = p[0x17] = p[0x1f] = sys_pop_sreg;
	p[0x8c] = sys_mov_from_sreg;
	p[0x8e] = sys_mov_to_sreg;
	p[0x9a] = sys_call_far;
	p[0x9c] = op_pushf;
	p[0x9d] = op_popf;
	p[0xc4] = p[0xc5] = sys_load_far_pointer;
	p[0xca] = p[0xcb] = sys_ret_far;
	p[0xcf] = sys_iret;
	p[0xea] = sys_jmp_far;
	p[0xf4] = op_hlt;
	p[0xfa] = p[0xfb] = op_cli_sti;

	x[0x00] = sys_group6;
	x[0x01] = sys_group7;
	x[0x02] = x[0x03] = sys_lar_lsl;
	x[0x05] = sys_syscall;
	x[0x06] = op_clts;
	x[0x07] = sys_sysret;
	x[0x08] = x[0x09] = op_invd;
	x[0x20] = op_mov_from_cr;
	x[0x21] = op_mov_from_dr;
	x[0x22] = op_mov_to_cr;
	x[0x23] = op_mov_to_dr;
	x[0x30] = op_wrmsr;
	x[0x31] = op_rdtsc;
	x[0x32] = op_rdmsr;
	x[0x33] = op_rdpmc;
	x[0x34] = sys_sysenter;
	x[0x35] = sys_sysexit;
	x[0xa0] = x[0xa8] = sys_push_sreg;
	x[0xa1] = x[0xa9] = sys_pop_sreg;
	x[0xa2] = op_cpuid;
	x[0xb2] = x[0xb4] = x[0xb5] = sys_load_far_pointer;
	x[0xc7] = op_group9;
}
