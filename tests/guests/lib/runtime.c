/* The guest runtime's core: descriptor tables, per-CPU data, paging,
 * interrupt dispatch, the start of the bootstrap and application
 * processors, the checks and debug-exit. */
#include "guest.h"

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
	/* I/O permission bitmap: ports 0-0x3ff open to ring 3 (all 0), then
	 * the terminating all-ones byte; ports above are denied. */
	uint8_t iomap[0x400 / 8 + 1];
} __attribute__((packed));

struct idt_entry {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
};

struct table_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* ---- descriptor tables --------------------------------------------------- */
uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16))) = {
	0,
	0x00CF9A000000FFFFull,  /* 0x08 32-bit code */
	0x00AF9A000000FFFFull,  /* 0x10 64-bit code */
	0x00CF92000000FFFFull,  /* 0x18 data */
	0x00CFF2000000FFFFull,  /* 0x20 ring-3 data */
	0x00AFFA000000FFFFull,  /* 0x28 ring-3 64-bit code */
	/* 0x30...: one 16-byte TSS descriptor per CPU, filled by cpu_init() */
};
struct table_ptr gdt_ptr = { sizeof(gdt) - 1, (uint64_t)gdt };

static struct idt_entry idt[256] __attribute__((aligned(16)));
static struct table_ptr idt_ptr = { sizeof(idt) - 1, (uint64_t)idt };
extern const uint8_t isr_stubs[];
extern const uint8_t user_return_insn[];
static irq_handler handlers[256];

static struct tss64 tss[MAX_CPUS] __attribute__((aligned(16)));
struct cpu cpus[MAX_CPUS];
uint8_t cpu_kstacks[MAX_CPUS][KSTACK_SIZE] __attribute__((aligned(16)));
static uint8_t cpu_istacks[MAX_CPUS][ISTACK_SIZE] __attribute__((aligned(16)));
static uint8_t cpu_ustacks[MAX_CPUS][USTACK_SIZE] __attribute__((aligned(16)));

static volatile int gs_ready;   /* the BSP's GS base points to its struct cpu */

/* Boot information, written by the entry stubs. */
uint32_t boot_kind;
uint64_t boot_info_addr;
uint32_t boot_magic;
uint64_t entry_regs[ENTRY_NREGS];

/* ---- paging ----------------------------------------------------------------- */
uint64_t pt_pml4[512] __attribute__((aligned(4096)));
uint64_t pt_pdpt[512] __attribute__((aligned(4096)));
uint64_t pt_pd[4][512] __attribute__((aligned(4096)));
static uint64_t pt_pool[4][512] __attribute__((aligned(4096)));
static unsigned pt_pool_used;

uint64_t pt_build(void);
uint64_t pt_build(void)
{
	/* Same tables as long_mode_from32 builds in start.S. */
	for (uint64_t i = 0; i < 2048; i++)
		(&pt_pd[0][0])[i] = (i << 21) | PTE_P | PTE_W | PTE_U | PTE_PS |
				    (i >= 1536 ? PTE_PWT | PTE_PCD : 0);
	for (uint64_t i = 0; i < 4; i++)
		pt_pdpt[i] = (uint64_t)pt_pd[i] | PTE_P | PTE_W | PTE_U;
	pt_pml4[0] = (uint64_t)pt_pdpt | PTE_P | PTE_W | PTE_U;
	return (uint64_t)pt_pml4;
}

uint64_t *pte_4k(uint64_t va)
{
	uint64_t *pde = &(&pt_pd[0][0])[(va >> 21) & 2047];
	if (va >= 0x100000000ull)
		panic(EXIT_RUNTIME_ERROR, "pte_4k: %lx is above 4 GiB", (unsigned long)va);
	if (*pde & PTE_PS) {
		if (pt_pool_used == ARRAY_SIZE(pt_pool))
			panic(EXIT_RUNTIME_ERROR, "pte_4k: out of page tables");
		uint64_t *pt = pt_pool[pt_pool_used++];
		uint64_t base = *pde & 0x000FFFFFFFE00000ull;
		uint64_t flags = *pde & (PTE_P | PTE_W | PTE_U | PTE_PWT | PTE_PCD | PTE_NX);
		for (uint64_t i = 0; i < 512; i++)
			pt[i] = (base + (i << 12)) | flags;
		*pde = (uint64_t)pt | PTE_P | PTE_W | PTE_U;
		write_cr3(read_cr3());
	}
	uint64_t *pt = (uint64_t *)(*pde & 0x000FFFFFFFFFF000ull);
	return &pt[(va >> 12) & 511];
}

int cpu_has_nx(void)
{
	if (cpuid(0x80000000, 0).eax < 0x80000001)
		return 0;
	return (cpuid(0x80000001, 0).edx >> 20) & 1;
}

/* ---- interrupts -------------------------------------------------------------- */
static void idt_init(void)
{
	for (unsigned v = 0; v < 256; v++) {
		uint64_t a = (uint64_t)(isr_stubs + 16 * v);
		idt[v].offset_lo = (uint16_t)a;
		idt[v].selector = SEL_CODE64;
		/* #DF, NMI and #MC on the IST stack */
		idt[v].ist = (v == 2 || v == 8 || v == 18) ? 1 : 0;
		/* interrupt gates; the ring-3 return gate and #BP are DPL 3 */
		idt[v].type_attr = (v == VEC_USER_RETURN || v == 3) ? 0xEE : 0x8E;
		idt[v].offset_mid = (uint16_t)(a >> 16);
		idt[v].offset_hi = (uint32_t)(a >> 32);
		idt[v].reserved = 0;
	}
}

void set_handler(unsigned vector, irq_handler h)
{
	handlers[vector & 255] = h;
}

static const char *const exception_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor segment overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check",
	"#MC machine check", "#XM SIMD error", "#VE virtualization", "#CP control protection",
};

void isr_dispatch(struct irq_frame *f);
void isr_dispatch(struct irq_frame *f)
{
	unsigned v = (unsigned)f->vector;

	if (v == VEC_USER_RETURN && (f->cs & 3) == 3)
		run_user_return(f->rax);
	/* The PVM flavour of KVM turns INT n (n != 3) at CPL 3 into #UD (it
	 * runs ring 3 natively in host user mode). A #UD or #GP exactly at the
	 * return gate's int instruction is the same request. */
	if ((v == 6 || v == 13) && (f->cs & 3) == 3 && f->rip == (uint64_t)user_return_insn)
		run_user_return(f->rax);
	if (handlers[v]) {
		handlers[v](f);
		return;
	}
	if ((v >= 0x20 && v <= 0x2F) || v == SPURIOUS_VECTOR)
		return;
	if (v < 32)
		printf("FAIL: unexpected exception %s (vector %u), error code %#lx, "
		       "rip %#lx, cs %#lx, rsp %#lx, cr2 %#lx, cpu %u\n",
		       exception_names[v] ? exception_names[v] : "reserved", v,
		       (unsigned long)f->error, (unsigned long)f->rip, (unsigned long)f->cs,
		       (unsigned long)f->rsp, (unsigned long)read_cr2(), this_cpu()->index);
	else
		printf("FAIL: unexpected interrupt, vector %#x, rip %#lx, cpu %u\n",
		       v, (unsigned long)f->rip, this_cpu()->index);
	exit_with(EXIT_UNEXPECTED_TRAP);
}

/* ---- CPUs ---------------------------------------------------------------------- */
static void cpu_init(unsigned index)
{
	struct cpu *c = &cpus[index];
	struct tss64 *t = &tss[index];
	uint64_t base = (uint64_t)t, limit = sizeof(*t) - 1;

	c->self = c;
	c->index = index;
	c->tss = t;
	c->ustack_top = (uint64_t)cpu_ustacks[index] + USTACK_SIZE;
	t->rsp[0] = (uint64_t)cpu_kstacks[index] + KSTACK_SIZE;
	t->ist[0] = (uint64_t)cpu_istacks[index] + ISTACK_SIZE;
	t->iomap_base = offsetof(struct tss64, iomap);
	memset(t->iomap, 0, sizeof(t->iomap) - 1);
	t->iomap[sizeof(t->iomap) - 1] = 0xFF;

	gdt[6 + 2 * index] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) |
			     (0x89ull << 40) | (((limit >> 16) & 0xF) << 48) |
			     (((base >> 24) & 0xFF) << 56);
	gdt[7 + 2 * index] = base >> 32;
	__asm__ volatile("ltr %w0" :: "r"(SEL_TSS0 + 16 * index));
	__asm__ volatile("lidt %0" :: "m"(idt_ptr));
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	c->apic_id = lapic_id();
}

static void cpu_features_on(void)
{
	write_cr0(read_cr0() | CR0_WP);
	if (cpu_has_nx())
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
}

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);   /* IER: no interrupts */
	outb(COM1 + 3, 0x80);   /* LCR: DLAB */
	outb(COM1 + 0, 0x01);   /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);   /* 8N1 */
	outb(COM1 + 2, 0x07);   /* FCR: FIFO on, cleared */
	outb(COM1 + 4, 0x03);   /* MCR: DTR | RTS */
}

void runtime_bsp_main(void);
void runtime_bsp_main(void)
{
	cpu_features_on();
	idt_init();
	cpu_init(0);
	gs_ready = 1;
	serial_init();
	pic_init_masked();
	exit_with((uint32_t)guest_main());
}

/* ---- application processors ---------------------------------------------------------- */
volatile uint32_t ap_next_index = 1;
volatile uint32_t ap_checked_in;
static void (*volatile ap_fn)(struct cpu *c);

void ap_main_c(uint32_t index);
void ap_main_c(uint32_t index)
{
	cpu_features_on();
	cpu_init(index);
	lapic_enable();
	void (*fn)(struct cpu *) = ap_fn;
	__atomic_fetch_add(&ap_checked_in, 1, __ATOMIC_SEQ_CST);
	if (fn)
		fn(this_cpu());
	for (;;)
		__asm__ volatile("cli; hlt");
}

extern const uint8_t tramp_start[], tramp_end[], tramp_gdtr[], tramp_cr3[],
	tramp_efer[], tramp_entry[];
extern const uint8_t ap_entry64[];

int smp_start_ap(uint32_t apic_id, void (*fn)(struct cpu *c), uint32_t timeout_ms)
{
	uint8_t *t = phys(TRAMPOLINE_ADDR);
	size_t size = (size_t)(tramp_end - tramp_start);
	uint32_t before = ap_checked_in;
	uint32_t efer = (uint32_t)(rdmsr(MSR_EFER) & (EFER_LME | EFER_NXE)) | EFER_LME;
	uint64_t entry = (uint64_t)ap_entry64;

	memcpy(t, tramp_start, size);
	memcpy(t + (tramp_gdtr - tramp_start), &gdt_ptr.limit, 2);
	uint32_t gdt_base = (uint32_t)gdt_ptr.base;
	memcpy(t + (tramp_gdtr - tramp_start) + 2, &gdt_base, 4);
	uint32_t cr3 = (uint32_t)read_cr3();
	memcpy(t + (tramp_cr3 - tramp_start), &cr3, 4);
	memcpy(t + (tramp_efer - tramp_start), &efer, 4);
	memcpy(t + (tramp_entry - tramp_start), &entry, 8);
	ap_fn = fn;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	/* INIT (assert), then two start-up IPIs with vector = page number */
	if (lapic_send_ipi(apic_id, 0x00004500) < 0)
		return -1;
	delay_ms(10);
	for (int i = 0; i < 2 && ap_checked_in == before; i++) {
		if (lapic_send_ipi(apic_id, 0x00004600 | (TRAMPOLINE_ADDR >> 12)) < 0)
			return -1;
		uint64_t until = tsc_deadline_ms(i == 0 ? 1 : timeout_ms);
		while (ap_checked_in == before && rdtsc() < until)
			cpu_relax();
	}
	return ap_checked_in != before ? 0 : -1;
}

/* ---- spinlock -------------------------------------------------------------------------- */
static int32_t cpu_token(void)
{
	/* before the BSP's cpu_init() only the BSP runs */
	return gs_ready ? (int32_t)this_cpu()->index : 0;
}

void spin_lock(struct spinlock *l)
{
	int32_t me = cpu_token();
	if (l->locked && l->owner == me) {   /* nested, e.g. a fault while printing */
		l->depth++;
		return;
	}
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (l->locked)
			cpu_relax();
	l->owner = me;
	l->depth = 1;
}

void spin_unlock(struct spinlock *l)
{
	if (--l->depth)
		return;
	l->owner = -1;
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/* ---- verdicts ---------------------------------------------------------------------------- */
void exit_with(uint32_t v)
{
	outl(DEBUG_EXIT_PORT, v);
	printf("debug-exit (port %#x) did not stop the machine; halting\n", DEBUG_EXIT_PORT);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void panic(uint32_t code, const char *fmt, ...)
{
	va_list ap;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit_with(code);
}

static const char *check_guest = "guest";
static uint32_t check_base, check_count, check_failed, check_code;

void checks_begin(const char *guest, uint32_t base)
{
	check_guest = guest;
	check_base = base;
	check_count = check_failed = check_code = 0;
	printf("== %s (booted via %s) ==\n", guest, boot_kind_name());
}

int check(int ok, const char *fmt, ...)
{
	va_list ap;
	check_count++;
	if (!ok) {
		check_failed++;
		if (!check_code)
			check_code = check_base + (check_count < 15 ? check_count : 15);
	}
	spin_lock(&print_lock);
	printf(ok ? "  ok: " : "FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	spin_unlock(&print_lock);
	return ok;
}

void note(const char *fmt, ...)
{
	va_list ap;
	spin_lock(&print_lock);
	printf("  .. ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	spin_unlock(&print_lock);
}

int checks_end(void)
{
	if (check_failed) {
		printf("FAIL: %s: %u of %u checks failed (exit code %#x)\n", check_guest,
		       check_failed, check_count, check_code);
		return (int)check_code;
	}
	printf("PASS: %s (%u checks)\n", check_guest, check_count);
	return 0;
}
