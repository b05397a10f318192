/* The wisp test guests' runtime: what a guest's main file may use.
 *
 * A guest defines int guest_main(void); the runtime calls it on the
 * bootstrap processor in 64-bit mode, with its own GDT/IDT/TSS, the first
 * 4 GiB identity-mapped (2 MiB pages, user-accessible, the last GiB
 * uncached), CR0.WP and (if the CPU has it) EFER.NXE on, the legacy PIC
 * masked and COM1 initialised. Its return value goes to debug-exit. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NORETURN __attribute__((noreturn))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))

int guest_main(void);

/* A pointer to a physical address (identity mapped). The empty asm keeps
 * the compiler from reasoning about constant low addresses. */
static inline void *phys(uint64_t addr)
{
	__asm__("" : "+r"(addr));
	return (void *)addr;
}

/* ---- port I/O and MMIO ---------------------------------------------------- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* One access of exactly the given size (volatile + asm so the compiler
 * neither splits nor merges them). */
static inline uint8_t mmio_read8(uint64_t a) { uint8_t v; __asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory"); return v; }
static inline uint16_t mmio_read16(uint64_t a) { uint16_t v; __asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a) : "memory"); return v; }
static inline uint32_t mmio_read32(uint64_t a) { uint32_t v; __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory"); return v; }
static inline uint64_t mmio_read64(uint64_t a) { uint64_t v; __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(a) : "memory"); return v; }
static inline void mmio_write8(uint64_t a, uint8_t v) { __asm__ volatile("movb %0, (%1)" :: "q"(v), "r"(a) : "memory"); }
static inline void mmio_write16(uint64_t a, uint16_t v) { __asm__ volatile("movw %0, (%1)" :: "r"(v), "r"(a) : "memory"); }
static inline void mmio_write32(uint64_t a, uint32_t v) { __asm__ volatile("movl %0, (%1)" :: "r"(v), "r"(a) : "memory"); }
static inline void mmio_write64(uint64_t a, uint64_t v) { __asm__ volatile("movq %0, (%1)" :: "r"(v), "r"(a) : "memory"); }

/* ---- CPU ------------------------------------------------------------------ */
struct cpuid_regs { uint32_t eax, ebx, ecx, edx; };

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r;
	__asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(subleaf));
	return r;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#define DEFINE_CR(n) \
	static inline uint64_t read_cr##n(void) { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
	static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n :: "r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline uint64_t read_rflags(void) { uint64_t v; __asm__ volatile("pushfq; popq %0" : "=r"(v)); return v; }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" :: "r"(va) : "memory"); }

#define MSR_EFER           0xC0000080
#define MSR_GS_BASE        0xC0000101
#define MSR_APIC_BASE      0x1B
#define MSR_TSC_DEADLINE   0x6E0
#define EFER_LME  (1u << 8)
#define EFER_LMA  (1u << 10)
#define EFER_NXE  (1u << 11)
#define CR0_PE    (1u << 0)
#define CR0_WP    (1u << 16)
#define CR0_PG    (1u << 31)
#define CR4_PAE   (1u << 5)
#define RFLAGS_IF (1u << 9)

/* ---- interrupts --------------------------------------------------------------
 * The frame the interrupt stubs build; a handler may change any field
 * (e.g. rip to skip a faulting instruction) and it is restored by iretq. */
struct irq_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};
typedef void (*irq_handler)(struct irq_frame *f);
/* Without a handler, an exception or interrupt prints a diagnosis and
 * exits with EXIT_UNEXPECTED_TRAP (legacy PIC vectors 0x20-0x2F and the
 * LAPIC spurious vector 0xFF are ignored). */
void set_handler(unsigned vector, irq_handler h);
#define EXIT_UNEXPECTED_TRAP 0x7E
#define EXIT_RUNTIME_ERROR   0x7D
#define SPURIOUS_VECTOR      0xFF

/* ---- ring 3 --------------------------------------------------------------------
 * Run fn(arg) at CPL 3 (IOPL 3, interrupts off) on this CPU's user stack and
 * return its value. Ports 0-0x3ff are also open to ring 3 in the TSS I/O
 * bitmap: the PVM flavour of KVM ignores IOPL at CPL 3 (and runs ring 3
 * with IF=1 whatever RFLAGS says) but honours the bitmap. A fault handler may abandon the ring-3 code by calling
 * run_user_return(value) (from the handler, at CPL 0). */
uint64_t run_user(uint64_t (*fn)(uint64_t), uint64_t arg);
NORETURN void run_user_return(uint64_t value);

/* ---- per-CPU data ---------------------------------------------------------------- */
struct tss64;
struct cpu {
	struct cpu *self;          /* CPU_SELF */
	uint64_t saved_rsp;        /* CPU_SAVED_RSP */
	struct tss64 *tss;         /* CPU_TSS */
	uint64_t ustack_top;       /* CPU_USTACK_TOP */
	uint32_t index;            /* CPU_INDEX: 0 = BSP, then in start-up order */
	uint32_t apic_id;
};
static inline struct cpu *this_cpu(void)
{
	struct cpu *c;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

/* ---- paging --------------------------------------------------------------------- */
#define PTE_P    (1ull << 0)
#define PTE_W    (1ull << 1)
#define PTE_U    (1ull << 2)
#define PTE_PWT  (1ull << 3)
#define PTE_PCD  (1ull << 4)
#define PTE_PS   (1ull << 7)
#define PTE_NX   (1ull << 63)
/* The 4 KiB page-table entry that maps va (below 4 GiB), splitting its
 * 2 MiB page first (into an identity map with the same flags) if needed.
 * Change it, then invlpg(va). */
uint64_t *pte_4k(uint64_t va);
int cpu_has_nx(void);

/* ---- output, checks and the verdict --------------------------------------------- */
void putchar_serial(char c);
int printf(const char *fmt, ...) PRINTF(1, 2);
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...) PRINTF(3, 4);

/* Debug-exit: wisp exits with (v << 1) | 1. Never returns. */
NORETURN void exit_with(uint32_t v);
/* Print "FAIL: ..." and exit_with(code). */
NORETURN void panic(uint32_t code, const char *fmt, ...) PRINTF(2, 3);

/* Checks: each prints "ok: ..." or "FAIL: ..."; the first failure decides
 * the exit code, base + number of the check (at most base + 15). */
void checks_begin(const char *guest, uint32_t base);
int check(int ok, const char *fmt, ...) PRINTF(2, 3);
void note(const char *fmt, ...) PRINTF(1, 2);   /* "  .. " informational line */
/* Prints "PASS: <guest>" or "FAIL: <guest>: N of M checks failed" and
 * returns the code for guest_main to return. */
int checks_end(void);

/* ---- string helpers -------------------------------------------------------------- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* ---- boot information ------------------------------------------------------------- */
extern uint32_t boot_kind;          /* BOOT_* */
extern uint64_t boot_info_addr;     /* hvm_start_info / multiboot info / boot_params */
extern uint32_t boot_magic;         /* EAX at the multiboot entry */
extern uint64_t entry_regs[ENTRY_NREGS];
const char *boot_kind_name(void);
/* The command line the boot path handed over ("" if none; for multiboot,
 * with the kernel path as its first word). */
const char *boot_cmdline(void);
/* Value of key=value on the command line, copied to buf; 0 if found. */
int cmdline_value(const char *key, char *buf, size_t n);
uint64_t cmdline_u64(const char *key, uint64_t dflt);
int cmdline_flag(const char *key);  /* key or key=1 present */
uint64_t parse_u64(const char *s, const char **end);

/* ---- platform devices ------------------------------------------------------------ */
#define COM1 0x3F8
#define DEBUG_EXIT_PORT 0xF4
#define FW_CFG_PORT_SEL  0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_RAM_SIZE  0x0003
#define FW_CFG_NB_CPUS   0x0005
int fw_cfg_present(void);
void fw_cfg_read(uint16_t key, void *buf, size_t n);
/* APIC IDs of the enabled processors in the MP table; count, or -1 when
 * there is no valid MP table. */
int mptable_cpus(uint8_t *apic_ids, int max);
/* The IOAPIC pin the MP table routes INTx pin (1 = INTA#) of PCI device dev
 * on PCI bus bus to, and the entry's flags (bits 0-1 polarity, 2-3
 * trigger; 0 = the bus's own: active low, level for PCI): 0, or -1 when
 * the table has no such route. */
#define MP_FLAGS_POLARITY(f) ((f) & 3)
#define MP_FLAGS_TRIGGER(f)  (((f) >> 2) & 3)
#define MP_POLARITY_HIGH 1
#define MP_TRIGGER_EDGE  1
int mptable_pci_irq(unsigned bus, unsigned dev, unsigned pin, unsigned *ioapic_pin,
		    unsigned *flags);
uint8_t cmos_read(uint8_t reg);

/* ---- interrupt controllers ------------------------------------------------------- */
#define LAPIC_BASE   0xFEE00000ull
#define IOAPIC_BASE  0xFEC00000ull
#define LAPIC_ID        0x020
#define LAPIC_VERSION   0x030
#define LAPIC_TPR       0x080
#define LAPIC_EOI       0x0B0
#define LAPIC_SVR       0x0F0
#define LAPIC_ISR       0x100
#define LAPIC_IRR       0x200
#define LAPIC_ESR       0x280
#define LAPIC_ICR_LO    0x300
#define LAPIC_ICR_HI    0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR  0x390
#define LAPIC_TIMER_DIV  0x3E0
#define LVT_MASKED        (1u << 16)
#define LVT_TIMER_ONESHOT (0u << 17)
#define LVT_TIMER_PERIODIC (1u << 17)
#define LVT_TIMER_TSC_DEADLINE (2u << 17)
static inline uint32_t lapic_read(uint32_t reg) { return mmio_read32(LAPIC_BASE + reg); }
static inline void lapic_write(uint32_t reg, uint32_t v) { mmio_write32(LAPIC_BASE + reg, v); }
static inline uint32_t lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }
static inline void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }
void lapic_enable(void);
/* Write ICR (destination APIC id, low word) and wait for delivery; 0 on
 * success, -1 if the delivery status never cleared. */
int lapic_send_ipi(uint32_t dest, uint32_t icr_lo);
uint32_t ioapic_read(uint32_t reg);
void ioapic_write(uint32_t reg, uint32_t v);
/* Redirection entry of a pin: low word (vector, mode, mask...) and the
 * destination APIC id. */
void ioapic_route(unsigned pin, uint32_t lo, uint32_t dest);
#define IOREDTBL_MASKED     (1u << 16)
#define IOREDTBL_LEVEL      (1u << 15)
#define IOREDTBL_ACTIVE_LOW (1u << 13)
/* Initialise both 8259s (vectors 0x20-0x2F) and mask every line. */
void pic_init_masked(void);

/* ---- time ------------------------------------------------------------------------
 * The TSC rate is not known: these assume at most 5 GHz, so a delay or a
 * bound of n ms lasts at least n ms (longer on a slower TSC). */
#define TSC_PER_MS 5000000ull
void delay_ms(uint32_t ms);
static inline uint64_t tsc_deadline_ms(uint32_t ms) { return rdtsc() + ms * TSC_PER_MS; }

/* ---- SMP -------------------------------------------------------------------------
 * Start the AP with this APIC id with INIT-SIPI-SIPI; it runs
 * fn(its struct cpu) on its own stack with the runtime's GDT, IDT and a
 * TSS of its own, and halts when fn returns. Returns 0 once the AP has
 * checked in, -1 after timeout_ms (see delay_ms). */
int smp_start_ap(uint32_t apic_id, void (*fn)(struct cpu *c), uint32_t timeout_ms);
extern volatile uint32_t ap_checked_in;

/* Spinlock (used by printf, free for guests). */
struct spinlock { volatile uint32_t locked; volatile int32_t owner; uint32_t depth; };
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);
/* Held (it nests) by every printf; hold it to keep several calls' output
 * one line when other CPUs print too. */
extern struct spinlock print_lock;

#endif
