/* Constants shared by the guest runtime's C and assembly files. */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

/* GDT selectors of the runtime's own GDT (see runtime.c). */
#define SEL_CODE32   0x08   /* flat 32-bit code, used by 32-bit entries and the AP trampoline */
#define SEL_CODE64   0x10   /* 64-bit code, ring 0 */
#define SEL_DATA     0x18   /* flat data, ring 0 */
#define SEL_UDATA    0x23   /* flat data, ring 3 (GDT index 4, RPL 3) */
#define SEL_UCODE64  0x2B   /* 64-bit code, ring 3 (GDT index 5, RPL 3) */
#define SEL_TSS0     0x30   /* TSS of CPU n at SEL_TSS0 + 16 * n */
#define GDT_ENTRIES  (6 + 2 * MAX_CPUS)

#define MAX_CPUS     8
#define KSTACK_SIZE  16384  /* per-CPU ring-0 stack */
#define ISTACK_SIZE  4096   /* per-CPU IST stack (#DF, NMI, #MC) */
#define USTACK_SIZE  8192   /* per-CPU ring-3 stack for run_user() */

/* Offsets in struct cpu (runtime.c), read by assembly through %gs. */
#define CPU_SELF        0
#define CPU_SAVED_RSP   8
#define CPU_TSS         16
#define CPU_USTACK_TOP  24
#define CPU_INDEX       32

/* How the guest was booted. */
#define BOOT_ELF64      1
#define BOOT_PVH        2
#define BOOT_MULTIBOOT  3
#define BOOT_BZIMAGE    4

/* Registers the ELF64 entry stub saves for the hello guest, as indices
 * into entry_regs[]. */
#define ENTRY_CS      0
#define ENTRY_DS      1
#define ENTRY_ES      2
#define ENTRY_SS      3
#define ENTRY_RSP     4
#define ENTRY_RFLAGS  5
#define ENTRY_CR0     6
#define ENTRY_CR3     7
#define ENTRY_CR4     8
#define ENTRY_EFER    9
#define ENTRY_GDTR    10  /* sgdt image, 10 bytes in two slots */
#define ENTRY_IDTR    12  /* sidt image, 10 bytes in two slots */
#define ENTRY_NREGS   14

/* Real-mode trampoline for application processors: a free page below
 * 1 MiB (SIPI vector = address >> 12). */
#define TRAMPOLINE_ADDR 0x1000

/* Vector of the ring-3 -> ring-0 return gate used by run_user(). */
#define VEC_USER_RETURN 0x80

#endif
