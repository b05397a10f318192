/* cpl3-faults: page faults taken at CPL 3, with the error code (P, W, U,
 * RSVD, I), CR2, the saved RIP/CS and ring 3 resuming after each:
 *   - read and instruction fetch on a supervisor page;
 *   - write to a read-only user page (also with CR0.WP=0, which only
 *     concerns ring 0);
 *   - fetch from an NX user page (when CPUID offers NX);
 *   - read, write and fetch on a not-present page;
 *   - reserved bits: a physical-address bit at or above MAXPHYADDR (CPUID
 *     0x80000008) in a PTE, when MAXPHYADDR < 52; bit 13 of a 2 MiB PDE;
 *   - permissions combined over the levels: a user PTE under a supervisor
 *     PDE, a writable PTE under a read-only PDE, an executable PTE under
 *     an NX PDE;
 *   - read-modify-write instructions (inc, lock cmpxchg whose compare
 *     fails, xchg): write faults, also on a not-present page, nothing
 *     written; a faulting write leaves the dirty bit clear;
 *   - rep movsb running into a read-only page: the fault at the first
 *     byte there, RCX/RSI/RDI telling what is left, the rest copied;
 *   - accesses that cross into a page they may not touch: a read into a
 *     supervisor page, a write into a read-only page (which must leave the
 *     first page untouched), an instruction whose tail is on an NX page;
 *     CR2 is the first byte on the second page;
 *   - the accessed and dirty bits set by ring-3 accesses (4 KiB PTE, the
 *     PDE above it, a 2 MiB PDE);
 *   - TLB: a PTE made read-only or not present, then INVLPG; made
 *     writable again, then a CR3 reload. */
#include "guest.h"

#define PF_P    (1u << 0)
#define PF_W    (1u << 1)
#define PF_U    (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I    (1u << 4)
#define PTE_A   (1ull << 5)
#define PTE_D   (1ull << 6)

#define PG_SUP    0x800000ull
#define PG_RO     0x801000ull
#define PG_NX     0x802000ull
#define PG_NP     0x803000ull
#define PG_RSVD   0x804000ull
#define PG_AD     0x805000ull
#define PG_TLB    0x806000ull
#define PG_SPLIT_W 0x807000ull   /* user, writable; then PG_RO2 */
#define PG_RO2    0x808000ull
#define PG_SPLIT_R 0x809000ull   /* user; then PG_SUP2 */
#define PG_SUP2   0x80A000ull
#define PG_SPLIT_X 0x80B000ull   /* user, executable; then PG_NX2 */
#define PG_NX2    0x80C000ull
#define RG_PDE_SUP  0xC00000ull  /* 2 MiB regions whose PDE is changed */
#define RG_PDE_RO   0xE00000ull
#define RG_PDE_NX   0x1000000ull
#define RG_PDE_RSVD 0x1200000ull
#define RG_PDE_AD   0x1400000ull

/* ---- fault recording -------------------------------------------------------------- */
static volatile uint64_t fault_rip, fixup_rip;
static volatile struct { unsigned hits; uint64_t vector, error, rip, cs, cr2, rcx, rsi, rdi; } got;

static void on_fault(struct irq_frame *f)
{
	got.hits++;
	got.vector = f->vector;
	got.error = f->error;
	got.rip = f->rip;
	got.cs = f->cs;
	got.cr2 = f->vector == 14 ? read_cr2() : 0;
	got.rcx = f->rcx;
	got.rsi = f->rsi;
	got.rdi = f->rdi;
	if (!fixup_rip) {
		printf("FAIL: exception %lu at rip %#lx (cr2 %#lx, error %#lx) with no probe armed\n",
		       (unsigned long)f->vector, (unsigned long)f->rip, (unsigned long)read_cr2(),
		       (unsigned long)f->error);
		exit_with(EXIT_UNEXPECTED_TRAP);
	}
	f->rip = fixup_rip;
	fixup_rip = 0;
}

/* label 2: the instruction under test; label 1: where to go on */
#define ARM "lea 1f(%%rip), %%r11\n\tmov %%r11, %[fix]\n\t" \
	    "lea 2f(%%rip), %%r11\n\tmov %%r11, %[at]\n\t"
#define ARM_OPS [fix] "=m"(fixup_rip), [at] "=m"(fault_rip)

enum op { OP_READ, OP_WRITE, OP_FETCH, OP_READ8, OP_WRITE8, OP_RMW, OP_CMPXCHG, OP_XCHG, OP_REPMOVS };
#define REP_COUNT 64
static uint8_t rep_src[REP_COUNT];
static volatile enum op probe_op;

/* Ring 3: one access of kind probe_op at addr. */
static uint64_t user_access(uint64_t addr)
{
	uint64_t v = 0;
	switch (probe_op) {
	case OP_READ:
		__asm__ volatile(ARM "2: movb (%[a]), %%al\n1:" : ARM_OPS, "=a"(v) : [a] "r"(addr) : "r11", "memory");
		break;
	case OP_WRITE:
		__asm__ volatile(ARM "2: movb $0x5a, (%[a])\n1:" : ARM_OPS : [a] "r"(addr) : "r11", "memory");
		break;
	case OP_FETCH:
		/* the fault is at the target, reported with RIP = addr; code
		 * there that runs jumps back through RCX */
		__asm__ volatile(ARM "lea 1f(%%rip), %%rcx\n\t2: jmp *%[a]\n1:"
				 : ARM_OPS : [a] "r"(addr) : "rcx", "r11", "memory");
		break;
	case OP_READ8:
		__asm__ volatile(ARM "2: movq (%[a]), %%rax\n1:" : ARM_OPS, "=a"(v) : [a] "r"(addr) : "r11", "memory");
		break;
	case OP_WRITE8:
		__asm__ volatile(ARM "2: movq %[v], (%[a])\n1:"
				 : ARM_OPS : [a] "r"(addr), [v] "r"(0x1122334455667788ull) : "r11", "memory");
		break;
	case OP_RMW:
		__asm__ volatile(ARM "2: incl (%[a])\n1:" : ARM_OPS : [a] "r"(addr) : "r11", "memory");
		break;
	case OP_CMPXCHG:
		/* RAX differs from the memory: the compare fails, yet the
		 * destination gets a write cycle */
		__asm__ volatile(ARM "2: lock cmpxchgl %[n], (%[a])\n1:"
				 : ARM_OPS, "+a"(v) : [a] "r"(addr), [n] "r"(0x99u) : "r11", "memory", "cc");
		break;
	case OP_XCHG:
		__asm__ volatile(ARM "2: xchgl %k[v], (%[a])\n1:"
				 : ARM_OPS, [v] "+r"(v) : [a] "r"(addr) : "r11", "memory");
		break;
	case OP_REPMOVS: {
		uint64_t si = (uint64_t)rep_src, di = addr, cx = REP_COUNT;
		__asm__ volatile(ARM "2: rep movsb\n1:"
				 : ARM_OPS, "+S"(si), "+D"(di), "+c"(cx) :: "r11", "memory");
		break;
	}
	}
	return v;
}

static const char *const op_name[] = { "read", "write", "fetch", "8-byte read", "8-byte write",
	"incl", "lock cmpxchg (compare fails)", "xchg", "rep movsb" };

static void reset(void)
{
	got.hits = 0;
	got.vector = got.error = got.rip = got.cs = got.cr2 = ~0ull;
	fault_rip = 0;
}

/* An access from ring 3 that must fault with this error code at cr2. */
static int expect_pf(const char *what, enum op op, uint64_t addr, uint64_t error, uint64_t cr2)
{
	reset();
	probe_op = op;
	run_user(user_access, addr);
	uint64_t rip = op == OP_FETCH ? addr : fault_rip;
	int ok = got.hits == 1 && got.vector == 14 && got.error == error && got.cr2 == cr2 &&
		 got.rip == rip && got.cs == (SEL_UCODE64 | 3);
	return check(ok, "%s (%s at %#lx): #PF %u time(s), vector %ld, error %#lx (want %#lx), "
		     "CR2 %#lx (want %#lx), RIP %s, CS %#lx", what, op_name[op], (unsigned long)addr,
		     got.hits, (long)got.vector, (unsigned long)got.error, (unsigned long)error,
		     (unsigned long)got.cr2, (unsigned long)cr2, got.rip == rip ? "ok" : "WRONG",
		     (unsigned long)got.cs);
}

/* An access from ring 3 that must not fault. */
static int expect_ok(const char *what, enum op op, uint64_t addr)
{
	reset();
	probe_op = op;
	run_user(user_access, addr);
	if (got.hits)
		return check(0, "%s (%s at %#lx): no fault, but #PF error %#lx CR2 %#lx", what,
			     op_name[op], (unsigned long)addr, (unsigned long)got.error,
			     (unsigned long)got.cr2);
	return check(1, "%s (%s at %#lx): no fault", what, op_name[op], (unsigned long)addr);
}

/* ---- page tables ------------------------------------------------------------------- */
static uint64_t *pde_of(uint64_t va)
{
	const uint64_t mask = 0x000FFFFFFFFFF000ull;
	uint64_t *pml4 = phys(read_cr3() & mask);
	uint64_t *pdpt = phys(pml4[(va >> 39) & 511] & mask);
	uint64_t *pd = phys(pdpt[(va >> 30) & 511] & mask);
	return &pd[(va >> 21) & 511];
}

static void flush(void)
{
	write_cr3(read_cr3());
}

static void fill_code(uint64_t page)
{
	/* jmp *%rcx (back to the probe), ud2 */
	*(volatile uint32_t *)phys(page) = 0x0b0fe1ff;
}

int guest_main(void)
{
	int nx = cpu_has_nx();
	unsigned maxphy = cpuid(0x80000000, 0).eax >= 0x80000008 ? cpuid(0x80000008, 0).eax & 0xff : 36;

	checks_begin("cpl3-faults", 0xD0);
	set_handler(14, on_fault);
	note("NX %s, MAXPHYADDR %u", nx ? "on" : "not offered", maxphy);

	for (uint64_t a = PG_SUP; a <= PG_NX2; a += 0x1000) {
		memset(phys(a), 0, 4096);
		fill_code(a);
	}
	*pte_4k(PG_SUP) &= ~PTE_U;
	*pte_4k(PG_SUP2) &= ~PTE_U;
	*pte_4k(PG_RO) &= ~PTE_W;
	*pte_4k(PG_RO2) &= ~PTE_W;
	*pte_4k(PG_NP) = 0;
	if (nx) {
		*pte_4k(PG_NX) |= PTE_NX;
		*pte_4k(PG_NX2) |= PTE_NX;
	}
	flush();

	/* supervisor, read-only, NX, not present */
	expect_pf("supervisor page", OP_READ, PG_SUP + 0x10, PF_P | PF_U, PG_SUP + 0x10);
	expect_pf("supervisor page", OP_FETCH, PG_SUP, PF_P | PF_U | (nx ? PF_I : 0), PG_SUP);
	expect_ok("read-only user page", OP_READ, PG_RO + 0x20);
	expect_pf("read-only user page", OP_WRITE, PG_RO + 0x20, PF_P | PF_W | PF_U, PG_RO + 0x20);
	write_cr0(read_cr0() & ~(uint64_t)CR0_WP);
	expect_pf("read-only user page, CR0.WP=0", OP_WRITE, PG_RO + 0x28, PF_P | PF_W | PF_U, PG_RO + 0x28);
	write_cr0(read_cr0() | CR0_WP);
	if (nx) {
		expect_ok("NX user page", OP_READ, PG_NX + 0x30);
		expect_pf("NX user page", OP_FETCH, PG_NX, PF_P | PF_U | PF_I, PG_NX);
	} else {
		note("no NX: NX fetches skipped");
	}
	expect_ok("executable user page", OP_FETCH, PG_SPLIT_X);
	expect_pf("not-present page", OP_READ, PG_NP + 0x40, PF_U, PG_NP + 0x40);
	expect_pf("not-present page", OP_WRITE, PG_NP + 0x48, PF_W | PF_U, PG_NP + 0x48);
	expect_pf("not-present page", OP_FETCH, PG_NP, PF_U | (nx ? PF_I : 0), PG_NP);

	/* reserved bits */
	if (maxphy < 52) {
		*pte_4k(PG_RSVD) |= 1ull << maxphy;
		invlpg(PG_RSVD);
		expect_pf("PTE with a physical-address bit at MAXPHYADDR", OP_READ, PG_RSVD + 0x50,
			  PF_P | PF_U | PF_RSVD, PG_RSVD + 0x50);
		expect_pf("PTE with a physical-address bit at MAXPHYADDR", OP_WRITE, PG_RSVD + 0x58,
			  PF_P | PF_W | PF_U | PF_RSVD, PG_RSVD + 0x58);
		*pte_4k(PG_RSVD) &= ~(1ull << maxphy);
		invlpg(PG_RSVD);
		expect_ok("the same PTE without the bit", OP_READ, PG_RSVD + 0x50);
	} else {
		note("MAXPHYADDR 52: no physical-address bit is reserved, that case skipped");
	}
	uint64_t *pde = pde_of(RG_PDE_RSVD);
	check((*pde & PTE_PS) != 0, "the region at %#lx is a 2 MiB page", (unsigned long)RG_PDE_RSVD);
	*pde |= 1ull << 13;
	flush();
	expect_pf("2 MiB PDE with reserved bit 13", OP_READ, RG_PDE_RSVD + 0x1234,
		  PF_P | PF_U | PF_RSVD, RG_PDE_RSVD + 0x1234);
	if (nx)
		expect_pf("2 MiB PDE with reserved bit 13", OP_FETCH, RG_PDE_RSVD + 0x2000,
			  PF_P | PF_U | PF_RSVD | PF_I, RG_PDE_RSVD + 0x2000);
	*pde &= ~(1ull << 13);
	flush();

	/* permissions combined over the levels */
	fill_code(RG_PDE_NX);
	pte_4k(RG_PDE_SUP);
	pte_4k(RG_PDE_RO);
	pte_4k(RG_PDE_NX);
	*pde_of(RG_PDE_SUP) &= ~PTE_U;
	*pde_of(RG_PDE_RO) &= ~PTE_W;
	if (nx)
		*pde_of(RG_PDE_NX) |= PTE_NX;
	flush();
	expect_pf("user PTE under a supervisor PDE", OP_READ, RG_PDE_SUP + 0x60, PF_P | PF_U,
		  RG_PDE_SUP + 0x60);
	expect_ok("writable PTE under a read-only PDE", OP_READ, RG_PDE_RO + 0x68);
	expect_pf("writable PTE under a read-only PDE", OP_WRITE, RG_PDE_RO + 0x68, PF_P | PF_W | PF_U,
		  RG_PDE_RO + 0x68);
	if (nx)
		expect_pf("executable PTE under an NX PDE", OP_FETCH, RG_PDE_NX, PF_P | PF_U | PF_I, RG_PDE_NX);
	*pde_of(RG_PDE_SUP) |= PTE_U;
	*pde_of(RG_PDE_RO) |= PTE_W;
	*pde_of(RG_PDE_NX) &= ~PTE_NX;
	flush();

	/* accesses across a page boundary */
	expect_pf("read across into a supervisor page", OP_READ8, PG_SUP2 - 4, PF_P | PF_U, PG_SUP2);
	*(volatile uint32_t *)phys(PG_RO2 - 4) = 0xCAFEF00D;
	expect_pf("write across into a read-only page", OP_WRITE8, PG_RO2 - 4, PF_P | PF_W | PF_U, PG_RO2);
	check(*(volatile uint32_t *)phys(PG_RO2 - 4) == 0xCAFEF00D,
	      "the faulting write left the bytes on the writable page alone (%#x)",
	      *(volatile uint32_t *)phys(PG_RO2 - 4));
	if (nx) {
		/* mov $imm32, %eax; jmp *%rcx at 3 bytes before the NX page */
		uint8_t *p = phys(PG_NX2 - 3);
		static const uint8_t insn[] = { 0xb8, 0x01, 0x02, 0x03, 0x04, 0xff, 0xe1 };
		memcpy(p, insn, sizeof(insn));
		expect_pf("instruction whose last bytes are on an NX page", OP_FETCH, PG_NX2 - 3,
			  PF_P | PF_U | PF_I, PG_NX2);
	}

	/* read-modify-write instructions: the fault is a write fault even
	 * on a not-present page, and nothing is written */
	expect_pf("not-present page", OP_RMW, PG_NP + 0x50, PF_W | PF_U, PG_NP + 0x50);
	write_cr0(read_cr0() & ~(uint64_t)CR0_WP);   /* ring 0 writes the read-only page */
	*(volatile uint32_t *)phys(PG_RO + 0x60) = 0x1000;
	write_cr0(read_cr0() | CR0_WP);
	expect_pf("read-only user page", OP_RMW, PG_RO + 0x60, PF_P | PF_W | PF_U, PG_RO + 0x60);
	expect_pf("read-only user page", OP_CMPXCHG, PG_RO + 0x60, PF_P | PF_W | PF_U, PG_RO + 0x60);
	expect_pf("read-only user page", OP_XCHG, PG_RO + 0x60, PF_P | PF_W | PF_U, PG_RO + 0x60);
	check(*(volatile uint32_t *)phys(PG_RO + 0x60) == 0x1000, "the read-only word is unchanged (%#x)",
	      *(volatile uint32_t *)phys(PG_RO + 0x60));
	/* a faulting write does not set the dirty bit */
	uint64_t *pte_ro = pte_4k(PG_RO);
	*pte_ro &= ~(PTE_A | PTE_D);
	invlpg(PG_RO);
	expect_pf("read-only user page, A/D clear", OP_WRITE, PG_RO + 0x68, PF_P | PF_W | PF_U, PG_RO + 0x68);
	check(!(*pte_ro & PTE_D), "the faulting write left D clear in the PTE (%#lx)", (unsigned long)*pte_ro);

	/* rep movsb running into a read-only page: the fault is at the first
	 * byte there, with RCX/RSI/RDI describing what is left */
	for (unsigned i = 0; i < REP_COUNT; i++)
		rep_src[i] = (uint8_t)(0xA0 + i);
	memset(phys(PG_RO2 - 16), 0, 16);   /* (the last 16 bytes of the writable page) */
	uint64_t dst = PG_RO2 - 16;
	expect_pf("rep movsb of 64 bytes, 16 before a read-only page", OP_REPMOVS, dst,
		  PF_P | PF_W | PF_U, PG_RO2);
	check(got.rcx == REP_COUNT - 16 && got.rsi == (uint64_t)rep_src + 16 && got.rdi == PG_RO2 &&
	      memcmp(phys(dst), rep_src, 16) == 0,
	      "at the fault RCX %lu (want %u), RSI +%lu, RDI %#lx, and the first 16 bytes copied",
	      (unsigned long)got.rcx, REP_COUNT - 16, (unsigned long)(got.rsi - (uint64_t)rep_src),
	      (unsigned long)got.rdi);

	/* accessed and dirty bits */
	uint64_t *pte = pte_4k(PG_AD);
	uint64_t *pde_ad = pde_of(PG_AD);
	*pte &= ~(PTE_A | PTE_D);
	*pde_ad &= ~PTE_A;
	flush();
	expect_ok("A/D page", OP_READ, PG_AD + 0x70);
	check((*pte & (PTE_A | PTE_D)) == PTE_A && (*pde_ad & PTE_A),
	      "a ring-3 read set A in the PTE (%#lx) and in the PDE (%#lx), not D",
	      (unsigned long)*pte, (unsigned long)*pde_ad);
	expect_ok("A/D page", OP_WRITE, PG_AD + 0x78);
	check((*pte & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "a ring-3 write set D in the PTE (%#lx)",
	      (unsigned long)*pte);
	uint64_t *pde2m = pde_of(RG_PDE_AD);
	*pde2m &= ~(PTE_A | PTE_D);
	flush();
	expect_ok("2 MiB page", OP_READ, RG_PDE_AD + 0x80);
	uint64_t after_read = *pde2m;
	expect_ok("2 MiB page", OP_WRITE, RG_PDE_AD + 0x88);
	check((after_read & (PTE_A | PTE_D)) == PTE_A && (*pde2m & (PTE_A | PTE_D)) == (PTE_A | PTE_D),
	      "2 MiB PDE: A after a ring-3 read (%#lx), D after a write (%#lx)",
	      (unsigned long)after_read, (unsigned long)*pde2m);

	/* TLB invalidation */
	pte = pte_4k(PG_TLB);
	expect_ok("TLB page, writable", OP_WRITE, PG_TLB + 0x90);
	*pte &= ~PTE_W;
	invlpg(PG_TLB);
	expect_pf("TLB page made read-only, INVLPG", OP_WRITE, PG_TLB + 0x90, PF_P | PF_W | PF_U, PG_TLB + 0x90);
	*pte |= PTE_W;
	flush();
	expect_ok("TLB page writable again, CR3 reloaded", OP_WRITE, PG_TLB + 0x90);
	uint64_t saved = *pte;
	*pte = 0;
	invlpg(PG_TLB);
	expect_pf("TLB page made not present, INVLPG", OP_READ, PG_TLB + 0x98, PF_U, PG_TLB + 0x98);
	*pte = saved;
	invlpg(PG_TLB);
	expect_ok("TLB page present again", OP_READ, PG_TLB + 0x98);
	return checks_end();
}
