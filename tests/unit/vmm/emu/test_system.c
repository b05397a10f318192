/* The system instructions of the software core, run from their encodings
 * through the decoder and the opcode table: control registers, CPUID,
 * MSRs and the TSC, SYSCALL/SYSRET, the switch to protected mode, IF and
 * RFLAGS rules, CMPXCHG8B/16B, LAR/LSL/VERR/VERW, SWAPGS, HLT, MOV Sreg,
 * INVLPG, LMSW/SMSW and the I/O permission bitmap. */
#include <stdbool.h>
#include <stdlib.h>

#include "sys_fixture.h"
#include "vmm/emu/cpuid.h"
#include "vmm/emu/decode.h"
#include "vmm/emu/exec.h"
#include "vmm/emu/io.h"
#include "vmm/emu/segment.h"
#include "vmm/emu/sysregs.h"

#define GDT 0x1000ull
#define TSS 0x3000ull
#define NGDT 16

enum {
	S_CODE = 0x08, S_DATA = 0x10, S_CODE3 = 0x18, S_DATA3 = 0x20,
	S_TSS = 0x28, S_CODE64 = 0x30, S_RODATA = 0x38,
};

static struct exec_table table;

static void build_gdt(struct fixture *f)
{
	fix_wr64(f, GDT + 0, 0);
	fix_wr64(f, GDT + S_CODE, desc(0, 0xfffff, ACC_CODE(0), FL_32));
	fix_wr64(f, GDT + S_DATA, desc(0, 0xfffff, ACC_DATA(0), FL_32));
	fix_wr64(f, GDT + S_CODE3, desc(0, 0xfffff, ACC_CODE(3), FL_32));
	fix_wr64(f, GDT + S_DATA3, desc(0, 0xfffff, ACC_DATA(3), FL_32));
	fix_wr64(f, GDT + S_TSS, desc(TSS, 0x2067, 0x89, 0));
	fix_wr64(f, GDT + S_CODE64, desc(0, 0xfffff, ACC_CODE(0), FL_64));
	fix_wr64(f, GDT + S_RODATA, desc(0, 0xfffff, 0x90, FL_32));
}

#define RUN(c, ...) fix_exec_bytes(&table, (c), (const uint8_t[]){ __VA_ARGS__ }, \
				   sizeof((const uint8_t[]){ __VA_ARGS__ }))

#define RUN_FAULT(c, vec, err, ...) do {                                          \
	assert_false(RUN(c, __VA_ARGS__));                                        \
	assert_int_equal((c)->event.vector, (vec));                               \
	if ((err) >= 0)                                                           \
		assert_int_equal((c)->event.error, (uint32_t)(err));              \
} while (0)

static void long_setup(struct fixture *f)
{
	struct emu_cpu *c = &f->cpu;
	uint64_t pml4 = 0x100000, pdpt = 0x101000;

	build_gdt(f);
	fix_long(f, GDT, NGDT);
	memset(guest_mem_ptr(&f->mem, pml4, 0x2000), 0, 0x2000);
	fix_wr64(f, pml4, pdpt | PTE_P | PTE_W | PTE_U);
	fix_wr64(f, pdpt, PTE_P | PTE_W | PTE_U | PTE_PS);
	c->cr3 = pml4;
	emu_tlb_flush(c, true);
	c->rip = 0x10000;
	c->gpr[4] = 0x8000;
}

static int group_setup(void **state)
{
	exec_table_init(&table);
	return 0;
}

/* ---- control registers -------------------------------------------------- */

static void mov_to_and_from_control_registers(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	long_setup(f);
	c->gpr[0] = c->cr4 | EMU_CR4_PGE;
	assert_true(RUN(c, 0x0f, 0x22, 0xe0));                 /* mov cr4, rax */
	assert_true(c->cr4 & EMU_CR4_PGE);
	assert_int_equal(c->rip, 0x10003);
	c->gpr[0] = c->cr4 | EMU_CR4_SMEP;
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x22, 0xe0);
	c->gpr[0] = c->cr4 & ~EMU_CR4_PAE;                     /* PAE off in long mode */
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x22, 0xe0);
	RUN_FAULT(c, EMU_VEC_UD, -1, 0x0f, 0x22, 0xc8);        /* mov cr1, rax */
	assert_true(RUN(c, 0x0f, 0x20, 0xc3));                 /* mov rbx, cr0 */
	assert_int_equal(c->gpr[3], c->cr0);
	/* Clearing PG in 64-bit mode is refused. */
	c->gpr[0] = c->cr0 & ~EMU_CR0_PG;
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x22, 0xc0);
	/* CR8 without a LAPIC: kept in the CPU; bits above 3 reserved. */
	c->gpr[0] = 0x9;
	assert_true(RUN(c, 0x44, 0x0f, 0x22, 0xc0));           /* mov cr8, rax */
	assert_true(RUN(c, 0x44, 0x0f, 0x20, 0xc1));           /* mov rcx, cr8 */
	assert_int_equal(c->gpr[1], 0x9);
	c->gpr[0] = 0x10;
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x44, 0x0f, 0x22, 0xc0);
	/* CPL 3: #GP(0). */
	fix_set_cpl(f, 3);
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x20, 0xc3);
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x21, 0xc3);         /* mov rbx, dr0 */
}

static void real_mode_to_protected_mode(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	build_gdt(f);
	c->seg[SEG_CS].selector = 0;
	c->seg[SEG_CS].base = 0;
	c->rip = 0x7c00;
	fix_wr16(f, 0x600, NGDT * 8 - 1);
	fix_wr32(f, 0x602, GDT);
	assert_true(RUN(c, 0x0f, 0x01, 0x16, 0x00, 0x06));     /* lgdt [0x600] */
	assert_int_equal(c->gdtr.base, GDT);
	assert_int_equal(c->gdtr.limit, NGDT * 8 - 1);
	c->gpr[0] = EMU_CR0_PE;
	assert_true(RUN(c, 0x0f, 0x22, 0xc0));                 /* mov cr0, eax */
	assert_int_equal(c->mode, EMU_MODE_PROT16);
	assert_int_equal(c->cpl, 0);
	/* jmp dword 0x08:0x00001000 */
	assert_true(RUN(c, 0x66, 0xea, 0x00, 0x10, 0x00, 0x00, 0x08, 0x00));
	assert_int_equal(c->mode, EMU_MODE_PROT32);
	assert_int_equal(c->rip, 0x1000);
	assert_int_equal(c->seg[SEG_CS].selector, S_CODE);
	c->gpr[0] = S_DATA;
	assert_true(RUN(c, 0x8e, 0xd0));                       /* mov ss, ax */
	assert_true(c->interrupt_shadow);
	assert_int_equal(c->seg[SEG_SS].limit, 0xffffffff);
	RUN_FAULT(c, EMU_VEC_UD, -1, 0x8e, 0xc8);              /* mov cs, ax */
	c->gpr[0] = S_RODATA;
	RUN_FAULT(c, EMU_VEC_GP, S_RODATA, 0x8e, 0xd0);
	/* sgdt [0x700] */
	assert_true(RUN(c, 0x0f, 0x01, 0x05, 0x00, 0x07, 0x00, 0x00));
	assert_int_equal(fix_rd32(f, 0x702), GDT);
	/* smsw eax, lmsw: PE cannot be cleared. */
	assert_true(RUN(c, 0x0f, 0x01, 0xe0));
	assert_int_equal(c->gpr[0] & 1, 1);
	c->gpr[0] = 0x8;  /* TS, PE clear */
	assert_true(RUN(c, 0x0f, 0x01, 0xf0));                 /* lmsw ax */
	assert_int_equal(c->cr0 & 0xf, 0x9);
	assert_true(RUN(c, 0x0f, 0x06));                       /* clts */
	assert_int_equal(c->cr0 & 0xf, 0x1);
}

/* ---- CPUID, MSRs, TSC --------------------------------------------------- */

static void cpuid_model(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	char vendor[13] = { 0 };

	long_setup(f);
	c->index = 3;
	c->gpr[0] = 0;
	assert_true(RUN(c, 0x0f, 0xa2));
	memcpy(vendor, &c->gpr[3], 4);
	memcpy(vendor + 4, &c->gpr[2], 4);
	memcpy(vendor + 8, &c->gpr[1], 4);
	assert_string_equal(vendor, "AuthenticAMD");
	c->gpr[0] = 1;
	assert_true(RUN(c, 0x0f, 0xa2));
	assert_int_equal(c->gpr[0], emu_cpuid_signature());
	assert_int_equal(c->gpr[3] >> 24, 3);
	assert_true(c->gpr[1] & (1u << 31));                   /* hypervisor */
	assert_true(c->gpr[1] & (1u << 24));                   /* TSC deadline */
	assert_false(c->gpr[1] & (1u << 21));                  /* no x2APIC */
	c->gpr[0] = 6;
	assert_true(RUN(c, 0x0f, 0xa2));
	assert_int_equal(c->gpr[0], 1u << 2);                  /* ARAT only */
	c->gpr[0] = 7;
	c->gpr[1] = 0;
	assert_true(RUN(c, 0x0f, 0xa2));
	assert_int_equal(c->gpr[3], 0);                        /* no SMEP/SMAP/... */
	c->gpr[0] = 0x80000001;
	assert_true(RUN(c, 0x0f, 0xa2));
	assert_true(c->gpr[2] & (1u << 29));                   /* LM */
	assert_true(c->gpr[2] & (1u << 20));                   /* NX */
	c->gpr[0] = 0x80000008;
	assert_true(RUN(c, 0x0f, 0xa2));
	assert_int_equal(c->gpr[0], 0x3028);
	c->gpr[0] = 0x40000000;
	assert_true(RUN(c, 0x0f, 0xa2));
	memcpy(vendor, &c->gpr[3], 4);
	memcpy(vendor + 4, &c->gpr[1], 4);
	memcpy(vendor + 8, &c->gpr[2], 4);
	assert_string_equal(vendor, "WispEmuCore");
	c->gpr[0] = 0x15;
	assert_true(RUN(c, 0x0f, 0xa2));
	assert_int_equal(c->gpr[0], 1);
	assert_int_equal(c->gpr[3], 1);
	assert_int_equal(c->gpr[1], (uint32_t)EMU_TSC_HZ);
}

static uint64_t edx_eax(const struct emu_cpu *c)
{
	return (c->gpr[0] & 0xffffffffull) | (c->gpr[2] << 32);
}

static void msrs_and_the_tsc(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	uint64_t t1, t2;

	long_setup(f);
	/* wrmsr STAR, rdmsr back */
	c->gpr[1] = MSR_STAR;
	c->gpr[0] = 0x00100000;
	c->gpr[2] = 0x00230010;
	assert_true(RUN(c, 0x0f, 0x30));
	assert_int_equal(c->msr.star, 0x0023001000100000ull);
	c->gpr[0] = c->gpr[2] = 0;
	assert_true(RUN(c, 0x0f, 0x32));
	assert_int_equal(edx_eax(c), 0x0023001000100000ull);
	/* Unknown MSRs, reserved EFER bits, non-canonical LSTAR: #GP(0). */
	c->gpr[1] = 0x12345678;
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x32);
	c->gpr[1] = MSR_EFER;
	c->gpr[0] = (uint32_t)(c->efer | (1u << 12));
	c->gpr[2] = 0;
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x30);
	/* LME cannot change while paging is on. */
	c->gpr[0] = (uint32_t)(c->efer & ~EMU_EFER_LME);
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x30);
	c->gpr[1] = MSR_LSTAR;
	c->gpr[0] = 0;
	c->gpr[2] = 0x8000;
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x30);
	c->gpr[1] = MSR_PAT;
	c->gpr[0] = 0x02;  /* type 2 does not exist */
	c->gpr[2] = 0;
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x30);
	/* MTRRs: read as nothing, writes dropped. */
	c->gpr[1] = MSR_MTRR_DEF_TYPE;
	c->gpr[0] = 0xc06;
	assert_true(RUN(c, 0x0f, 0x30));
	assert_true(RUN(c, 0x0f, 0x32));
	/* The TSC runs, and WRMSR moves it. */
	assert_true(RUN(c, 0x0f, 0x31));
	t1 = edx_eax(c);
	assert_true(RUN(c, 0x0f, 0x31));
	t2 = edx_eax(c);
	assert_true(t2 >= t1);
	c->gpr[1] = MSR_TSC;
	c->gpr[0] = 0;
	c->gpr[2] = 0x100;
	assert_true(RUN(c, 0x0f, 0x30));
	assert_true(RUN(c, 0x0f, 0x31));
	assert_true(edx_eax(c) >= (0x100ull << 32));
	assert_true(edx_eax(c) < (0x100ull << 32) + EMU_TSC_HZ);
	/* RDTSCP adds TSC_AUX; CR4.TSD forbids it at CPL 3. */
	c->msr.tsc_aux = 7;
	assert_true(RUN(c, 0x0f, 0x01, 0xf9));
	assert_int_equal(c->gpr[1], 7);
	c->cr4 |= EMU_CR4_TSD;
	fix_set_cpl(f, 3);
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x31);
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x32);               /* rdmsr */
}

/* ---- SYSCALL / SYSRET / SWAPGS ------------------------------------------ */

static void syscall_sysret_swapgs(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	long_setup(f);
	RUN_FAULT(c, EMU_VEC_UD, -1, 0x0f, 0x05);              /* SCE clear */
	c->efer |= EMU_EFER_SCE;
	c->msr.star = (0x23ull << 48) | (0x10ull << 32);
	c->msr.lstar = 0xffffffff81800000ull;
	c->msr.sfmask = EMU_IF | EMU_TF;
	c->msr.kernel_gs_base = 0xffff888000000000ull;
	/* From user mode. */
	c->seg[SEG_CS].selector = 0x33;
	fix_set_cpl(f, 3);
	c->rip = 0x400000;
	emu_set_rflags(c, 0x2 | EMU_IF | EMU_CF);
	assert_true(RUN(c, 0x0f, 0x05));
	assert_int_equal(c->cpl, 0);
	assert_int_equal(c->mode, EMU_MODE_LONG64);
	assert_int_equal(c->seg[SEG_CS].selector, 0x10);
	assert_int_equal(c->seg[SEG_SS].selector, 0x18);
	assert_int_equal(c->rip, 0xffffffff81800000ull);
	assert_int_equal(c->gpr[1], 0x400002);
	assert_int_equal(c->gpr[11], 0x2 | EMU_IF | EMU_CF);
	assert_false(emu_get_rflags(c) & EMU_IF);

	assert_true(RUN(c, 0x0f, 0x01, 0xf8));                 /* swapgs */
	assert_int_equal(c->seg[SEG_GS].base, 0xffff888000000000ull);

	assert_true(RUN(c, 0x48, 0x0f, 0x07));                 /* sysretq */
	assert_int_equal(c->cpl, 3);
	assert_int_equal(c->seg[SEG_CS].selector, 0x33);
	assert_int_equal(c->seg[SEG_SS].selector, 0x2b);
	assert_int_equal(c->rip, 0x400002);
	assert_int_equal(emu_get_rflags(c), 0x2 | EMU_IF | EMU_CF);
	assert_int_equal(c->mode, EMU_MODE_LONG64);

	RUN_FAULT(c, EMU_VEC_GP, 0, 0x48, 0x0f, 0x07);         /* sysret at CPL 3 */
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x01, 0xf8);         /* swapgs at CPL 3 */
	/* SYSRET to a non-canonical RIP completes, as on AMD (the CPUID's
	 * vendor): the #GP comes from fetching there, at CPL 3. */
	fix_set_cpl(f, 0);
	c->gpr[1] = 0x0000800000000000ull;
	assert_true(RUN(c, 0x48, 0x0f, 0x07));
	assert_int_equal(c->cpl, 3);
	assert_int_equal(c->rip, 0x0000800000000000ull);
	fix_set_cpl(f, 0);
	/* SYSRET without REX.W returns to compatibility mode. */
	c->gpr[1] = 0x1234;
	assert_true(RUN(c, 0x0f, 0x07));
	assert_int_equal(c->mode, EMU_MODE_PROT32);
	assert_int_equal(c->seg[SEG_CS].selector, 0x23);
}

static void sysenter_sysexit(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	build_gdt(f);
	fix_protected(f, GDT, NGDT);
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x34);               /* SYSENTER_CS null */
	c->msr.sysenter_cs = S_CODE;
	c->msr.sysenter_esp = 0x9000;
	c->msr.sysenter_eip = 0xc1000000;
	fix_set_cpl(f, 3);
	emu_set_rflags(c, 0x2 | EMU_IF);
	assert_true(RUN(c, 0x0f, 0x34));
	assert_int_equal(c->cpl, 0);
	assert_int_equal(c->seg[SEG_CS].selector, S_CODE);
	assert_int_equal(c->seg[SEG_SS].selector, S_DATA);
	assert_int_equal(c->gpr[4], 0x9000);
	assert_int_equal(c->rip, 0xc1000000);
	assert_false(c->rflags & EMU_IF);
	c->gpr[1] = 0xbffff000;
	c->gpr[2] = 0x08048000;
	assert_true(RUN(c, 0x0f, 0x35));
	assert_int_equal(c->cpl, 3);
	assert_int_equal(c->seg[SEG_CS].selector, S_CODE3 | 3);
	assert_int_equal(c->seg[SEG_SS].selector, S_DATA3 | 3);
	assert_int_equal(c->gpr[4], 0xbffff000);
	assert_int_equal(c->rip, 0x08048000);
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x35);               /* SYSEXIT at CPL 3 */
	/* Like AMD processors: #UD in long mode. */
	long_setup(f);
	RUN_FAULT(c, EMU_VEC_UD, -1, 0x0f, 0x34);
}

/* ---- IF, RFLAGS, HLT ---------------------------------------------------- */

static void interrupt_flag_and_rflags_rules(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	long_setup(f);
	emu_set_rflags(c, 0x2);
	assert_true(RUN(c, 0xfb));                             /* sti */
	assert_true(c->interrupt_shadow);
	assert_true(c->rflags & EMU_IF);
	c->interrupt_shadow = false;
	assert_true(RUN(c, 0xfb));                             /* IF already set: no shadow */
	assert_false(c->interrupt_shadow);
	emu_set_rflags(c, 0x2 | EMU_RF);
	assert_true(RUN(c, 0x9c));                             /* pushf */
	assert_int_equal(fix_rd64(f, 0x8000 - 8), 0x2);
	assert_true(RUN(c, 0xf4));                             /* hlt */
	assert_true(c->halted);

	/* CPL 3, IOPL 0: CLI faults; POPF silently keeps IF and IOPL. */
	fix_set_cpl(f, 3);
	emu_set_rflags(c, 0x2 | EMU_IF);
	RUN_FAULT(c, EMU_VEC_GP, 0, 0xfa);
	RUN_FAULT(c, EMU_VEC_GP, 0, 0xf4);
	fix_wr64(f, 0x8000 - 8, 0x2 | EMU_IOPL | EMU_CF | EMU_AC | EMU_ID);
	c->gpr[4] = 0x8000 - 8;
	assert_true(RUN(c, 0x9d));                             /* popf */
	assert_int_equal(emu_get_rflags(c), 0x2 | EMU_IF | EMU_CF | EMU_AC | EMU_ID);
	assert_int_equal(c->gpr[4], 0x8000);
	/* With IOPL 3, CLI works at CPL 3. */
	emu_set_rflags(c, 0x2 | EMU_IF | EMU_IOPL);
	assert_true(RUN(c, 0xfa));
	assert_false(c->rflags & EMU_IF);
}

/* ---- CMPXCHG8B / 16B ---------------------------------------------------- */

static void cmpxchg8b_and_16b(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	long_setup(f);
	fix_wr64(f, 0x5000, 0x1111111122222222ull);
	c->gpr[6] = 0x5000;
	c->gpr[0] = 0x22222222;
	c->gpr[2] = 0x11111111;
	c->gpr[3] = 0x44444444;
	c->gpr[1] = 0x33333333;
	assert_true(RUN(c, 0xf0, 0x0f, 0xc7, 0x0e));           /* lock cmpxchg8b [rsi] */
	assert_true(emu_get_rflags(c) & EMU_ZF);
	assert_int_equal(fix_rd64(f, 0x5000), 0x3333333344444444ull);
	assert_true(RUN(c, 0x0f, 0xc7, 0x0e));                 /* mismatch now */
	assert_false(emu_get_rflags(c) & EMU_ZF);
	assert_int_equal(c->gpr[0], 0x44444444);
	assert_int_equal(c->gpr[2], 0x33333333);

	fix_wr64(f, 0x6000, 1);
	fix_wr64(f, 0x6008, 2);
	c->gpr[6] = 0x6000;
	c->gpr[0] = 1;
	c->gpr[2] = 2;
	c->gpr[3] = 0xaaaaaaaaaaaaaaaaull;
	c->gpr[1] = 0xbbbbbbbbbbbbbbbbull;
	assert_true(RUN(c, 0xf0, 0x48, 0x0f, 0xc7, 0x0e));     /* lock cmpxchg16b [rsi] */
	assert_true(emu_get_rflags(c) & EMU_ZF);
	assert_int_equal(fix_rd64(f, 0x6000), 0xaaaaaaaaaaaaaaaaull);
	assert_int_equal(fix_rd64(f, 0x6008), 0xbbbbbbbbbbbbbbbbull);
	c->gpr[0] = 0;
	assert_true(RUN(c, 0x48, 0x0f, 0xc7, 0x0e));
	assert_false(emu_get_rflags(c) & EMU_ZF);
	assert_int_equal(c->gpr[0], 0xaaaaaaaaaaaaaaaaull);
	assert_int_equal(c->gpr[2], 0xbbbbbbbbbbbbbbbbull);
	c->gpr[6] = 0x6008;
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x48, 0x0f, 0xc7, 0x0e);   /* misaligned */
	RUN_FAULT(c, EMU_VEC_UD, -1, 0x0f, 0xc7, 0xc8);        /* register operand */
}

/* ---- LAR, LSL, VERR, VERW ----------------------------------------------- */

static void descriptor_queries(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	build_gdt(f);
	fix_protected(f, GDT, NGDT);
	c->gpr[1] = S_DATA;
	assert_true(RUN(c, 0x0f, 0x02, 0xc1));                 /* lar eax, ecx */
	assert_true(emu_get_rflags(c) & EMU_ZF);
	assert_int_equal(c->gpr[0], 0x00c09200);
	assert_true(RUN(c, 0x0f, 0x03, 0xd1));                 /* lsl edx, ecx */
	assert_int_equal(c->gpr[2], 0xffffffff);
	c->gpr[1] = S_TSS;
	assert_true(RUN(c, 0x0f, 0x03, 0xd1));
	assert_int_equal(c->gpr[2], 0x2067);
	c->gpr[1] = 0x400;                                     /* beyond the GDT */
	c->gpr[2] = 0x55;
	assert_true(RUN(c, 0x0f, 0x03, 0xd1));
	assert_false(emu_get_rflags(c) & EMU_ZF);
	assert_int_equal(c->gpr[2], 0x55);
	c->gpr[1] = S_RODATA;
	assert_true(RUN(c, 0x0f, 0x00, 0xe1));                 /* verr cx */
	assert_true(emu_get_rflags(c) & EMU_ZF);
	assert_true(RUN(c, 0x0f, 0x00, 0xe9));                 /* verw cx */
	assert_false(emu_get_rflags(c) & EMU_ZF);
	/* From CPL 3, ring 0 data is invisible. */
	fix_set_cpl(f, 3);
	c->gpr[1] = S_DATA;
	assert_true(RUN(c, 0x0f, 0x00, 0xe1));
	assert_false(emu_get_rflags(c) & EMU_ZF);
	RUN_FAULT(c, EMU_VEC_GP, 0, 0x0f, 0x00, 0xd9);         /* ltr cx at CPL 3 */
}

/* ---- INVLPG, I/O permission --------------------------------------------- */

static void invlpg_instruction(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;
	uint64_t pte;
	volatile uint64_t v = 0;

	long_setup(f);
	/* A 4 KiB page in the second GiB (outside the identity map). */
	pte = fix_map4k(f, 0x40200000ull, 0x200000, PTE_P | PTE_W);
	fix_wr64(f, 0x200000, 1);
	fix_wr64(f, 0x201000, 2);
	assert_true(TRY(c, v = emu_read_linear(c, 0x40200000ull, 8, false)));
	assert_int_equal(v, 1);
	fix_wr64(f, pte, 0x201000 | PTE_P | PTE_W);
	c->gpr[0] = 0x40200000ull;
	assert_true(RUN(c, 0x0f, 0x01, 0x38));                 /* invlpg [rax] */
	assert_true(TRY(c, v = emu_read_linear(c, 0x40200000ull, 8, false)));
	assert_int_equal(v, 2);
}

static void io_permission_bitmap(void **state)
{
	struct fixture *f = *state;
	struct emu_cpu *c = &f->cpu;

	build_gdt(f);
	fix_protected(f, GDT, NGDT);
	fix_wr16(f, TSS + 0x66, 0x100);                        /* bitmap at TSS + 0x100 */
	memset(guest_mem_ptr(&f->mem, TSS + 0x100, 0x2001), 0xff, 0x2001);
	*(uint8_t *)guest_mem_ptr(&f->mem, TSS + 0x100 + 0x60 / 8, 1) = 0xfe;  /* 0x60 allowed */
	assert_true(TRY(c, emu_load_tr(c, S_TSS)));
	fix_set_cpl(f, 3);
	assert_true(TRY(c, emu_check_io(c, 0x60, 1)));
	EXPECT_FAULT(c, emu_check_io(c, 0x60, 2), EMU_VEC_GP, 0);
	EXPECT_FAULT(c, emu_check_io(c, 0x64, 1), EMU_VEC_GP, 0);
	/* Beyond the TSS limit: denied. */
	EXPECT_FAULT(c, emu_check_io(c, 0xffff, 1), EMU_VEC_GP, 0);
	/* CPL <= IOPL: no bitmap. */
	c->rflags |= EMU_IOPL;
	assert_true(TRY(c, emu_check_io(c, 0x64, 4)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(mov_to_and_from_control_registers, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(real_mode_to_protected_mode, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(cpuid_model, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(msrs_and_the_tsc, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(syscall_sysret_swapgs, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(sysenter_sysexit, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(interrupt_flag_and_rflags_rules, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(cmpxchg8b_and_16b, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(descriptor_queries, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(invlpg_instruction, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(io_permission_bitmap, fix_setup, fix_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
