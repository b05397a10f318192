/* The CPUID model of the software core.
 *
 * An AMD-style processor (vendor AuthenticAMD, family 19h): AMD's rules
 * are what the core follows where the vendors differ (SYSCALL in every
 * mode, SYSENTER #UD in long mode, LZCNT under ABM). Only what the core
 * implements is advertised, so a guest never takes a path the core would
 * answer with #UD: no SMEP/SMAP, no MCE/MCA, no MTRRs, no x2APIC, no
 * XSAVE, no leaf 7 features. The hypervisor bit is set and leaf
 * 0x40000000 names wisp's own core, deliberately not a signature any
 * guest would take for KVM and start paravirtual protocols with.
 *
 * The core does not speculate, so it has none of the speculative-execution
 * flaws of the parts it resembles, and says so the way AMD's CPUs do:
 * SSB_NO (leaf 0x80000008), SRSO_NO and the TSA "not affected" bits (leaf
 * 0x80000021), and Automatic IBRS (EFER bit 21, accepted and trivially
 * honoured). Family 19h is not on the kernels' Retbleed list, as 17h is. Without this a Linux
 * guest routes every RET through a return thunk and every indirect branch
 * through a retpoline, for nothing: a quarter of all instructions it runs. */
#include <string.h>
#include <time.h>

#include "cpuid.h"
#include "lapic.h"
#include "mem.h"

#define VENDOR "AuthenticAMD"
#define HV_SIGNATURE "WispEmuCore\0"
#define BRAND "wisp software x86-64 core"

#define MAX_BASIC 0x16u
#define MAX_HV 0x40000010u
#define MAX_EXT 0x80000021u

/* Leaf 1 EDX. */
#define F_FPU   (1u << 0)
#define F_PSE   (1u << 3)
#define F_TSC   (1u << 4)
#define F_MSR   (1u << 5)
#define F_PAE   (1u << 6)
#define F_CX8   (1u << 8)
#define F_APIC  (1u << 9)
#define F_SEP   (1u << 11)
#define F_PGE   (1u << 13)
#define F_CMOV  (1u << 15)
#define F_PAT   (1u << 16)
#define F_PSE36 (1u << 17)
#define F_CLFSH (1u << 19)
#define F_FXSR  (1u << 24)
#define F_SSE   (1u << 25)
#define F_SSE2  (1u << 26)
/* Leaf 1 ECX. */
#define F_CX16        (1u << 13)
#define F_POPCNT      (1u << 23)
#define F_TSCDEADLINE (1u << 24)
#define F_HYPERVISOR  (1u << 31)
/* Leaf 0x80000001 ECX / EDX. */
#define F_LAHF_LM  (1u << 0)
#define F_ABM      (1u << 5)
#define F_SYSCALL  (1u << 11)
#define F_NX       (1u << 20)
#define F_PAGE1GB  (1u << 26)
#define F_RDTSCP   (1u << 27)
#define F_LM       (1u << 29)
/* Leaf 6 EAX: the APIC timer keeps running in every power state (the core
 * has no deep ones). With the TSC deadline mode it lets Linux do without
 * the PIT as its clock event device, which a kernel given a device tree
 * cannot route (its IOAPIC domain takes only the tree's interrupts). */
#define F_ARAT (1u << 2)
/* Leaf 0x80000007 EDX. */
#define F_INVARIANT_TSC (1u << 8)
/* Leaf 0x80000008 EBX. */
#define F_SSB_NO (1u << 26)
/* Leaf 0x80000021 EAX / ECX. */
#define F_AUTOIBRS  (1u << 8)
#define F_SRSO_NO   (1u << 29)
#define F_TSA_SQ_NO (1u << 1)
#define F_TSA_L1_NO (1u << 2)

/* Leaf 1 EDX bits AMD repeats in 0x80000001 EDX. */
#define AMD_DUP_MASK 0x0183f3ffu

static uint32_t leaf1_edx(void)
{
	uint32_t edx = F_FPU | F_PSE | F_TSC | F_MSR | F_PAE | F_CX8 | F_APIC | F_SEP |
		       F_PGE | F_CMOV | F_PAT | F_PSE36;

	if (EMU_CPUID_CLFLUSH)
		edx |= F_CLFSH;
	if (EMU_CPUID_SSE)
		edx |= F_FXSR | F_SSE | F_SSE2;
	return edx;
}

uint32_t emu_cpuid_signature(void)
{
	/* Family 0xF + extended family 0xA = 19h, model 1, stepping 1. */
	return (0xau << 20) | (0x0u << 16) | (0xfu << 8) | (0x1u << 4) | 0x1u;
}

/* Four bytes of a string as a register, little-endian as CPUID has it. */
static uint32_t str4(const char *s)
{
	uint32_t v;

	memcpy(&v, s, 4);
	return v;
}

void emu_cpuid(const struct emu_cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	static const char brand[48] = BRAND;

	(void)subleaf;  /* no leaf of the model has subleaves */
	out[0] = out[1] = out[2] = out[3] = 0;
	switch (leaf) {
	case 0:
		out[0] = MAX_BASIC;
		out[1] = str4(VENDOR);
		out[3] = str4(VENDOR + 4);
		out[2] = str4(VENDOR + 8);
		break;
	case 1:
		out[0] = emu_cpuid_signature();
		/* CLFLUSH line size in 8-byte units, one logical processor,
		 * the initial APIC ID. */
		out[1] = (8u << 8) | (1u << 16) | ((cpu->index & 0xffu) << 24);
		out[2] = F_CX16 | F_POPCNT | F_TSCDEADLINE | F_HYPERVISOR;
		out[3] = leaf1_edx();
		break;
	case 6:
		out[0] = F_ARAT;
		break;
	case 0x15:
		/* TSC = crystal * EBX / EAX: the crystal is the TSC itself. */
		out[0] = 1;
		out[1] = 1;
		out[2] = (uint32_t)EMU_TSC_HZ;
		break;
	case 0x16:
		out[0] = (uint32_t)(EMU_TSC_HZ / 1000000);  /* base MHz */
		out[1] = (uint32_t)(EMU_TSC_HZ / 1000000);  /* max MHz */
		out[2] = 100;                               /* bus MHz */
		break;
	case 0x40000000:
		out[0] = MAX_HV;
		out[1] = str4(HV_SIGNATURE);
		out[2] = str4(HV_SIGNATURE + 4);
		out[3] = str4(HV_SIGNATURE + 8);
		break;
	case 0x40000010:
		/* The timing leaf guests read under a hypervisor: the TSC and
		 * the local APIC timer's input clock, in kHz, so neither needs
		 * calibrating. */
		out[0] = (uint32_t)(EMU_TSC_HZ / 1000);
		out[1] = (uint32_t)(EMU_LAPIC_TIMER_HZ / 1000);
		break;
	case 0x80000000:
		out[0] = MAX_EXT;
		out[1] = str4(VENDOR);
		out[3] = str4(VENDOR + 4);
		out[2] = str4(VENDOR + 8);
		break;
	case 0x80000001:
		out[0] = emu_cpuid_signature();
		out[2] = F_LAHF_LM | F_ABM;
		out[3] = (leaf1_edx() & AMD_DUP_MASK) | F_SYSCALL | F_NX | F_PAGE1GB |
			 F_RDTSCP | F_LM;
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004:
		for (unsigned i = 0; i < 4; i++)
			out[i] = str4(brand + (leaf - 0x80000002) * 16 + i * 4);
		break;
	case 0x80000005:
		/* L1 data and instruction caches: 32 KiB, 8-way, 64-byte
		 * lines (a plausible model: nothing depends on it). */
		out[2] = 0x20080140;
		out[3] = 0x20080140;
		break;
	case 0x80000006:
		out[2] = 0x02006140;  /* L2: 512 KiB, 8-way, 64-byte lines */
		break;
	case 0x80000007:
		out[3] = F_INVARIANT_TSC;
		break;
	case 0x80000008:
		out[0] = EMU_PHYS_ADDR_BITS | (48u << 8);
		out[1] = F_SSB_NO;
		break;
	case 0x80000021:
		out[0] = F_AUTOIBRS | F_SRSO_NO;
		out[2] = F_TSA_SQ_NO | F_TSA_L1_NO;
		break;
	default:
		break;
	}
}

uint64_t emu_tsc_host(void)
{
	struct timespec ts;
	unsigned __int128 ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (unsigned __int128)ts.tv_sec * 1000000000u + (unsigned __int128)ts.tv_nsec;
	return (uint64_t)(ns * EMU_TSC_HZ / 1000000000u);
}

uint64_t emu_tsc_read(const struct emu_cpu *cpu)
{
	return emu_tsc_host() + (uint64_t)cpu->msr.tsc_offset;
}

void emu_tsc_write(struct emu_cpu *cpu, uint64_t value)
{
	cpu->msr.tsc_offset = (int64_t)(value - emu_tsc_host());
}
