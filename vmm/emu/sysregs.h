/* Control registers and model-specific registers of the software core:
 * the checked writes MOV CRn, LMSW, CLTS, RDMSR/WRMSR and the tests use.
 * Debug registers are stored, but breakpoints are not modelled. */
#ifndef WISP_EMU_SYSREGS_H
#define WISP_EMU_SYSREGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

/* CR4 bits the core accepts: TSD, DE, PSE, PAE, MCE, PGE, PCE, OSFXSR,
 * OSXMMEXCPT. Everything else (VME/PVI, UMIP, LA57, FSGSBASE, PCIDE,
 * OSXSAVE, SMEP, SMAP, PKE, ...) is not implemented and not advertised:
 * setting it raises #GP(0). */
#define EMU_CR4_TSD (1ull << 2)
#define EMU_CR4_DE  (1ull << 3)
#define EMU_CR4_MCE (1ull << 6)
#define EMU_CR4_PCE (1ull << 8)
#define EMU_CR4_SUPPORTED (EMU_CR4_TSD | EMU_CR4_DE | EMU_CR4_PSE | EMU_CR4_PAE | \
			   EMU_CR4_MCE | EMU_CR4_PGE | EMU_CR4_PCE | EMU_CR4_OSFXSR | \
			   EMU_CR4_OSXMMEXCPT)

/* Checked writes with their side effects (mode, EFER.LMA, TLB flushes);
 * raise #GP(0) on what the architecture refuses. The CPL check is the
 * instruction's. */
void emu_write_cr0(struct emu_cpu *cpu, uint64_t value);
void emu_write_cr3(struct emu_cpu *cpu, uint64_t value);
void emu_write_cr4(struct emu_cpu *cpu, uint64_t value);
/* CR8 = TPR[7:4], kept by the local APIC when there is one. */
void emu_write_cr8(struct emu_cpu *cpu, uint64_t value);
uint64_t emu_read_cr8(struct emu_cpu *cpu);

/* MSR numbers the core knows. */
#define MSR_TSC             0x00000010u
#define MSR_APIC_BASE       0x0000001bu
#define MSR_PATCH_LEVEL     0x0000008bu
#define MSR_MTRRCAP         0x000000feu
#define MSR_SYSENTER_CS     0x00000174u
#define MSR_SYSENTER_ESP    0x00000175u
#define MSR_SYSENTER_EIP    0x00000176u
#define MSR_MCG_CAP         0x00000179u
#define MSR_MCG_STATUS      0x0000017au
#define MSR_MCG_CTL         0x0000017bu
#define MSR_MISC_ENABLE     0x000001a0u
#define MSR_DEBUGCTL        0x000001d9u
#define MSR_MTRR_PHYS_FIRST 0x00000200u   /* 0x200..0x20f: base/mask pairs */
#define MSR_MTRR_PHYS_LAST  0x0000020fu
#define MSR_MTRR_FIX64K     0x00000250u
#define MSR_MTRR_FIX16K_0   0x00000258u
#define MSR_MTRR_FIX16K_1   0x00000259u
#define MSR_MTRR_FIX4K_FIRST 0x00000268u
#define MSR_MTRR_FIX4K_LAST 0x0000026fu
#define MSR_PAT             0x00000277u
#define MSR_MTRR_DEF_TYPE   0x000002ffu
#define MSR_TSC_DEADLINE    0x000006e0u
#define MSR_EFER            0xc0000080u
#define MSR_STAR            0xc0000081u
#define MSR_LSTAR           0xc0000082u
#define MSR_CSTAR           0xc0000083u
#define MSR_SFMASK          0xc0000084u
#define MSR_FS_BASE         0xc0000100u
#define MSR_GS_BASE         0xc0000101u
#define MSR_KERNEL_GS_BASE  0xc0000102u
#define MSR_TSC_AUX         0xc0000103u
#define MSR_AMD_SYSCFG      0xc0010010u
#define MSR_AMD_HWCR        0xc0010015u
#define MSR_AMD_NB_CFG      0xc001001fu
#define MSR_AMD_VM_CR       0xc0010114u
#define MSR_AMD_LS_CFG      0xc0011020u
#define MSR_AMD_IC_CFG      0xc0011021u
#define MSR_AMD_DC_CFG      0xc0011022u
#define MSR_AMD_DE_CFG      0xc0011029u

/* RDMSR/WRMSR semantics: false for an MSR the core does not implement or
 * a value it refuses (the instruction then raises #GP(0)). */
bool emu_rdmsr(struct emu_cpu *cpu, uint32_t index, uint64_t *value);
bool emu_wrmsr(struct emu_cpu *cpu, uint32_t index, uint64_t value);

#endif
