/* Model-specific registers of the software core. What is implemented
 * follows the CPUID model (cpuid.c): the MSRs of the features it
 * advertises, a few AMD ones that 64-bit kernels read on any family 17h+
 * part without checking (patch level, HWCR, DE_CFG...), and MTRRs and
 * machine-check globals that read as "none" and ignore writes (MTRR and
 * MCE/MCA are not advertised: there is nothing to store). Every other
 * MSR raises #GP(0), which is what careful guests probe with. */
#include "sysregs.h"
#include "cpuid.h"
#include "lapic.h"
#include "mem.h"

#define PHYS_MASK ((1ull << EMU_PHYS_ADDR_BITS) - 1)
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EN  (1ull << 11)
#define EFER_WRITABLE (EMU_EFER_SCE | EMU_EFER_LME | EMU_EFER_NXE | EMU_EFER_AUTOIBRS)

static bool is_mtrr(uint32_t index)
{
	return index == MSR_MTRRCAP || index == MSR_MTRR_DEF_TYPE ||
	       (index >= MSR_MTRR_PHYS_FIRST && index <= MSR_MTRR_PHYS_LAST) ||
	       index == MSR_MTRR_FIX64K || index == MSR_MTRR_FIX16K_0 || index == MSR_MTRR_FIX16K_1 ||
	       (index >= MSR_MTRR_FIX4K_FIRST && index <= MSR_MTRR_FIX4K_LAST);
}

/* Each PAT entry must name a memory type that exists: UC, WC, WT, WP,
 * WB or UC- (0, 1, 4, 5, 6, 7). */
static bool pat_valid(uint64_t pat)
{
	for (unsigned i = 0; i < 8; i++) {
		unsigned t = (pat >> (8 * i)) & 0xff;

		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

bool emu_rdmsr(struct emu_cpu *cpu, uint32_t index, uint64_t *value)
{
	uint64_t v = 0;

	switch (index) {
	case MSR_TSC:
		v = emu_tsc_read(cpu);
		break;
	case MSR_APIC_BASE:
		/* BSP: the first vCPU is the bootstrap processor. */
		v = (cpu->msr.apic_base & ~APIC_BASE_BSP) | (cpu->index == 0 ? APIC_BASE_BSP : 0);
		break;
	case MSR_SYSENTER_CS:
		v = cpu->msr.sysenter_cs;
		break;
	case MSR_SYSENTER_ESP:
		v = cpu->msr.sysenter_esp;
		break;
	case MSR_SYSENTER_EIP:
		v = cpu->msr.sysenter_eip;
		break;
	case MSR_PAT:
		v = cpu->msr.pat;
		break;
	case MSR_MISC_ENABLE:
		v = cpu->msr.misc_enable;
		break;
	case MSR_TSC_DEADLINE:
		v = cpu->lapic ? emu_lapic_get_tsc_deadline(cpu->lapic) : cpu->msr.tsc_deadline;
		break;
	case MSR_EFER:
		v = cpu->efer;
		break;
	case MSR_STAR:
		v = cpu->msr.star;
		break;
	case MSR_LSTAR:
		v = cpu->msr.lstar;
		break;
	case MSR_CSTAR:
		v = cpu->msr.cstar;
		break;
	case MSR_SFMASK:
		v = cpu->msr.sfmask;
		break;
	case MSR_FS_BASE:
		v = cpu->seg[SEG_FS].base;
		break;
	case MSR_GS_BASE:
		v = cpu->seg[SEG_GS].base;
		break;
	case MSR_KERNEL_GS_BASE:
		v = cpu->msr.kernel_gs_base;
		break;
	case MSR_TSC_AUX:
		v = cpu->msr.tsc_aux;
		break;
	case MSR_AMD_HWCR:
		v = 1ull << 24;  /* TscFreqSel: the TSC counts at a fixed rate */
		break;
	case MSR_AMD_DE_CFG:
		v = 1ull << 1;   /* LFENCE is dispatch-serializing */
		break;
	case MSR_AMD_VM_CR:
		v = 1ull << 4;   /* SVMDIS: no SVM here */
		break;
	case MSR_PATCH_LEVEL:
	case MSR_MCG_CAP:
	case MSR_MCG_STATUS:
	case MSR_MCG_CTL:
	case MSR_DEBUGCTL:
	case MSR_AMD_SYSCFG:
	case MSR_AMD_NB_CFG:
	case MSR_AMD_LS_CFG:
	case MSR_AMD_IC_CFG:
	case MSR_AMD_DC_CFG:
		break;
	default:
		if (!is_mtrr(index))
			return false;
		break;  /* no MTRRs: capabilities and ranges all zero */
	}
	*value = v;
	return true;
}

bool emu_wrmsr(struct emu_cpu *cpu, uint32_t index, uint64_t v)
{
	switch (index) {
	case MSR_TSC:
		emu_tsc_write(cpu, v);
		if (cpu->lapic)
			emu_lapic_set_tsc_offset(cpu->lapic, cpu->msr.tsc_offset);
		return true;
	case MSR_APIC_BASE: {
		uint64_t old = cpu->msr.apic_base;

		/* Base within MAXPHYADDR, no x2APIC (bit 10); BSP is
		 * read-only (derived from the index on reads). */
		if (v & ~(PHYS_MASK & ~0xfffull) & ~(APIC_BASE_EN | APIC_BASE_BSP))
			return false;
		cpu->msr.apic_base = v & ~APIC_BASE_BSP;
		if (cpu->lapic && ((old ^ v) & APIC_BASE_EN))
			emu_lapic_set_enabled(cpu->lapic, v & APIC_BASE_EN);
		/* The LAPIC page is never in the TLB as RAM: where it is
		 * changed, so do the translations that might point there. */
		if (old != cpu->msr.apic_base)
			emu_tlb_flush(cpu, true);
		return true;
	}
	case MSR_SYSENTER_CS:
		cpu->msr.sysenter_cs = v & 0xffff;
		return true;
	case MSR_SYSENTER_ESP:
	case MSR_SYSENTER_EIP:
		if (!emu_canonical(v))
			return false;
		if (index == MSR_SYSENTER_ESP)
			cpu->msr.sysenter_esp = v;
		else
			cpu->msr.sysenter_eip = v;
		return true;
	case MSR_PAT:
		if (!pat_valid(v))
			return false;
		cpu->msr.pat = v;
		return true;
	case MSR_MISC_ENABLE:
		cpu->msr.misc_enable = v;
		return true;
	case MSR_TSC_DEADLINE:
		if (cpu->lapic)
			emu_lapic_set_tsc_deadline(cpu->lapic, v);
		else
			cpu->msr.tsc_deadline = v;
		return true;
	case MSR_EFER: {
		uint64_t old = cpu->efer;

		if (v & ~(EFER_WRITABLE | EMU_EFER_LMA))
			return false;
		/* LME may not change while paging is on; LMA is the CPU's. */
		if ((cpu->cr0 & EMU_CR0_PG) && ((old ^ v) & EMU_EFER_LME))
			return false;
		cpu->efer = (v & EFER_WRITABLE) | (old & EMU_EFER_LMA);
		if ((old ^ cpu->efer) & EMU_EFER_NXE)
			emu_tlb_flush(cpu, true);
		return true;
	}
	case MSR_STAR:
		cpu->msr.star = v;
		return true;
	case MSR_LSTAR:
	case MSR_CSTAR:
		if (!emu_canonical(v))
			return false;
		if (index == MSR_LSTAR)
			cpu->msr.lstar = v;
		else
			cpu->msr.cstar = v;
		return true;
	case MSR_SFMASK:
		if (v >> 32)
			return false;
		cpu->msr.sfmask = v;
		return true;
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
		if (!emu_canonical(v))
			return false;
		if (index == MSR_FS_BASE)
			cpu->seg[SEG_FS].base = v;
		else if (index == MSR_GS_BASE)
			cpu->seg[SEG_GS].base = v;
		else
			cpu->msr.kernel_gs_base = v;
		return true;
	case MSR_TSC_AUX:
		if (v >> 32)
			return false;
		cpu->msr.tsc_aux = v;
		return true;
	case MSR_PATCH_LEVEL:
	case MSR_MCG_STATUS:
	case MSR_MCG_CTL:
	case MSR_DEBUGCTL:
	case MSR_AMD_HWCR:
	case MSR_AMD_SYSCFG:
	case MSR_AMD_NB_CFG:
	case MSR_AMD_LS_CFG:
	case MSR_AMD_IC_CFG:
	case MSR_AMD_DC_CFG:
	case MSR_AMD_DE_CFG:
		return true;  /* accepted, nothing to model */
	default:
		/* MTRR writes are accepted and dropped (MTRRcap is read-only). */
		return is_mtrr(index) && index != MSR_MTRRCAP;
	}
}
