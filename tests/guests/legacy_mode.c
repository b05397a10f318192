/* legacy-mode: 32-bit protected mode with IA-32e off (legacy_mode.S),
 * which the 64-bit guests never visit: the guest's own GDT, 32-bit IDT
 * (interrupt and trap gates) and 32-bit TSS.
 *   - #DE (no error code, EIP of the div), #GP(selector) loading DS
 *     beyond the GDT limit;
 *   - int $0x40 at CPL 0 through a trap gate (IF stays set in the
 *     handler);
 *   - 32-bit paging with CR4.PSE: #PF error code and CR2 for a read and a
 *     write of a not-present page and a write to a read-only page with
 *     CR0.WP, which CR0.WP=0 allows; A and D set in a 4 MiB PDE; with
 *     CR4.PSE=0 a PDE's PS bit ignored (the PDE names a page table);
 *   - ring 3 under 32-bit paging, entered with iret: #PF (U=1) on a
 *     supervisor page and int $0x80 through a DPL-3 gate, both delivered
 *     on the TSS's SS0:ESP0 with the ring-3 SS:ESP in the frame;
 *   - PAE paging without long mode: NX fetch (I/D) when NX is offered,
 *     not-present read, a PTE address bit at MAXPHYADDR (RSVD) when
 *     MAXPHYADDR < 52.
 * Not for the PVM flavour of KVM: its instruction emulator, which runs
 * all CPL-0 code, has no IRET outside real mode (nor INT n at CPL 0), so
 * the first handler's return ends the VM with an emulation failure. */
#include "guest.h"
#include "legacy_mode.h"

struct gate32 { uint16_t off_lo, sel; uint8_t zero, type; uint16_t off_hi; };
struct tss32 {
	uint16_t link, r0;
	uint32_t esp0;
	uint16_t ss0, r1;
	uint32_t other[22];
	uint16_t trap, iomap;
} __attribute__((packed));

uint64_t legacy_trip(void);
extern uint32_t lg_log[LG_NLOG * LG_LOG_WORDS], lg_nlog, lg_res[LGR_RESULTS];
extern const uint8_t lg_stubs[], lg_stub_40[], lg_stub_80[], lg_stub_default[];
extern const uint8_t lg_de_insn[], lg_gp_insn[], lg_int_after[], lg_np_r_insn[], lg_np_w_insn[],
	lg_ro_w_insn[], lg_user_pf_insn[], lg_user_int_after[], lg_pae_np_insn[], lg_pae_rsvd_insn[];
extern uint8_t lg_kstack_top[], lg_ustack_top[];

/* Read by legacy_mode.S. */
uint64_t lg_gdt[LG_GDT_ENTRIES] __attribute__((aligned(16)));
struct { uint16_t pad[3]; uint16_t limit; uint32_t base; } lg_gdtr_s __attribute__((aligned(8)));
struct { uint16_t pad[3]; uint16_t limit; uint32_t base; } lg_idtr_s __attribute__((aligned(8)));
static struct gate32 lg_idt[256] __attribute__((aligned(16)));
static struct tss32 lg_tss __attribute__((aligned(16)));
uint32_t lg_pd[1024] __attribute__((aligned(4096)));
static uint32_t lg_pt[1024] __attribute__((aligned(4096)));
static uint32_t lg_pt2[1024] __attribute__((aligned(4096)));
uint64_t lg_pdpt[4] __attribute__((aligned(32)));
static uint64_t lg_pae_pd[512] __attribute__((aligned(4096)));
static uint64_t lg_pae_pt[512] __attribute__((aligned(4096)));
uint32_t lg_nx, lg_pae_rsvd;
/* lgdt/lidt operands: the asm uses these names */
__asm__(".globl lg_gdtr, lg_idtr\n"
	".set lg_gdtr, lg_gdtr_s + 6\n"
	".set lg_idtr, lg_idtr_s + 6\n");

static void set_gate(unsigned v, const uint8_t *stub, uint8_t type)
{
	uint32_t a = (uint32_t)(uint64_t)stub;
	lg_idt[v] = (struct gate32){ (uint16_t)a, LG_CODE0, 0, type, (uint16_t)(a >> 16) };
}

static void build_tables(int nx, unsigned maxphy)
{
	uint32_t tss = (uint32_t)(uint64_t)&lg_tss, lim = sizeof(lg_tss) - 1;

	lg_gdt[0] = 0;
	lg_gdt[1] = 0x00CF9A000000FFFFull;
	lg_gdt[2] = 0x00CF92000000FFFFull;
	lg_gdt[3] = 0x00CFFA000000FFFFull;
	lg_gdt[4] = 0x00CFF2000000FFFFull;
	lg_gdt[5] = (lim & 0xFFFF) | ((uint64_t)(tss & 0xFFFFFF) << 16) | (0x89ull << 40) |
		    ((uint64_t)(tss >> 24) << 56);
	lg_gdtr_s.limit = sizeof(lg_gdt) - 1;
	lg_gdtr_s.base = (uint32_t)(uint64_t)lg_gdt;

	for (unsigned v = 0; v < 256; v++)
		set_gate(v, lg_stub_default, 0x8E);
	for (unsigned v = 0; v < 32; v++)
		set_gate(v, lg_stubs + 16 * v, 0x8E);
	set_gate(0x40, lg_stub_40, 0x8F);       /* trap gate */
	set_gate(0x80, lg_stub_80, 0xEE);       /* interrupt gate, DPL 3 */
	lg_idtr_s.limit = sizeof(lg_idt) - 1;
	lg_idtr_s.base = (uint32_t)(uint64_t)lg_idt;

	memset(&lg_tss, 0, sizeof(lg_tss));
	lg_tss.esp0 = (uint32_t)(uint64_t)lg_kstack_top;
	lg_tss.ss0 = LG_DATA0;
	lg_tss.iomap = sizeof(lg_tss);          /* no I/O bitmap */

	/* 32-bit paging: 4 KiB pages below 4 MiB, then 4 MiB pages to 64 MiB */
	for (uint32_t i = 0; i < 1024; i++)
		lg_pt[i] = (i << 12) | 0x7;     /* P W U */
	lg_pt[LG_PG_NP >> 12] = 0;
	lg_pt[LG_PG_RO >> 12] &= ~2u;
	lg_pt[LG_PG_SUP >> 12] &= ~4u;
	memset(lg_pd, 0, sizeof(lg_pd));
	lg_pd[0] = (uint32_t)(uint64_t)lg_pt | 0x7;
	for (uint32_t i = 1; i < 16; i++)
		lg_pd[i] = (i << 22) | 0x87;    /* P W U PS */
	/* PS set on a PDE that points to a page table: only CR4.PSE=0 uses it */
	memset(lg_pt2, 0, sizeof(lg_pt2));
	lg_pt2[0] = LG_NOPSE_PHYS | 0x7;
	lg_pd[LG_NOPSE >> 22] = (uint32_t)(uint64_t)lg_pt2 | 0x87;

	/* PAE paging: 2 MiB pages to 64 MiB, 4 KiB pages in 2-4 MiB */
	for (uint64_t i = 0; i < 512; i++)
		lg_pae_pt[i] = (0x200000 + (i << 12)) | 0x7;
	lg_pae_pt[(LG_PG_NP - 0x200000) >> 12] = 0;
	if (nx)
		lg_pae_pt[(LG_PG_NX - 0x200000) >> 12] |= PTE_NX;
	lg_pae_rsvd = maxphy < 52;
	if (lg_pae_rsvd)
		lg_pae_pt[(LG_PG_RSVD - 0x200000) >> 12] |= 1ull << maxphy;
	memset(lg_pae_pd, 0, sizeof(lg_pae_pd));
	for (uint64_t i = 0; i < 32; i++)
		lg_pae_pd[i] = (i << 21) | 0x87;
	lg_pae_pd[1] = (uint64_t)lg_pae_pt | 0x7;
	lg_pdpt[0] = (uint64_t)lg_pae_pd | 0x1;  /* PDPTEs: P only (W/U are reserved) */
	lg_pdpt[1] = lg_pdpt[2] = lg_pdpt[3] = 0;
}

static const uint32_t *find(unsigned step)
{
	for (unsigned i = 0; i < lg_nlog && i < LG_NLOG; i++)
		if (lg_log[i * LG_LOG_WORDS + LGL_STEP] == step)
			return &lg_log[i * LG_LOG_WORDS];
	return NULL;
}

static unsigned count(unsigned step)
{
	unsigned n = 0;
	for (unsigned i = 0; i < lg_nlog && i < LG_NLOG; i++)
		n += lg_log[i * LG_LOG_WORDS + LGL_STEP] == step;
	return n;
}

static uint32_t addr32(const void *p) { return (uint32_t)(uint64_t)p; }

/* One exception in this step with this vector, error code, EIP (and CR2
 * for #PF), from CS cs. */
static int expect(unsigned step, const char *what, uint32_t vec, uint32_t err, uint32_t eip,
		  uint32_t cr2, uint32_t cs)
{
	const uint32_t *e = find(step);
	if (!e)
		return check(0, "%s: no exception", what);
	int ok = count(step) == 1 && e[LGL_VEC] == vec && e[LGL_ERR] == err && e[LGL_EIP] == eip &&
		 e[LGL_CS] == cs && (vec != 14 || e[LGL_CR2] == cr2);
	return check(ok, "%s: vector %u error %#x EIP %#x CS %#x CR2 %#x (want %u %#x %#x %#x %#x)", what,
		     e[LGL_VEC], e[LGL_ERR], e[LGL_EIP], e[LGL_CS], e[LGL_CR2], vec, err, eip, cs,
		     vec == 14 ? cr2 : e[LGL_CR2]);
}

int guest_main(void)
{
	int nx = cpu_has_nx();
	unsigned maxphy = cpuid(0x80000000, 0).eax >= 0x80000008 ? cpuid(0x80000008, 0).eax & 0xff : 36;

	checks_begin("legacy-mode", 0x70);
	build_tables(nx, maxphy);
	*(volatile uint32_t *)phys(LG_NOPSE_PHYS + 0x10) = 0x5AFE5AFE;
	*(volatile uint32_t *)phys(0x10) = 0xBAD0BAD0;   /* what a 4 MiB reading would find */
	lg_nx = (uint32_t)nx;
	lg_pd[LG_BIG >> 22] &= ~0x60u;          /* A and D clear */
	memset(phys(LG_PG_RO), 0, 4096);

	legacy_trip();

	/* back in 64-bit mode */
	uint16_t cs, tr;
	__asm__ volatile("mov %%cs, %0; str %1" : "=r"(cs), "=r"(tr));
	check((rdmsr(MSR_EFER) & EFER_LMA) && cs == SEL_CODE64 && tr == SEL_TSS0 && this_cpu()->index == 0,
	      "back in 64-bit mode (EFER %#lx, CS %#x, TR %#x)", (unsigned long)rdmsr(MSR_EFER), cs, tr);
	check(!lg_res[LGR_ABORTED] && lg_res[LGR_STEP_DONE] == ST_END,
	      "the trip ran to its end (last step %u of %u%s)", lg_res[LGR_STEP_DONE], ST_END,
	      lg_res[LGR_ABORTED] ? ", abandoned after an unexpected exception" : "");
	for (unsigned i = 0; i < lg_nlog && i < LG_NLOG; i++) {
		const uint32_t *e = &lg_log[i * LG_LOG_WORDS];
		note("step %u: vector %u error %#x EIP %#x CS %#x EFLAGS %#x CR2 %#x ESP %#x SS %#x frame %#x",
		     e[LGL_STEP], e[LGL_VEC], e[LGL_ERR], e[LGL_EIP], e[LGL_CS], e[LGL_EFLAGS], e[LGL_CR2],
		     e[LGL_ESP], e[LGL_SS], e[LGL_FRAME]);
	}

	expect(ST_DE, "#DE", 0, 0, addr32(lg_de_insn), 0, LG_CODE0);
	expect(ST_GP_SEL, "#GP loading DS with 0xfff8", 13, 0xFFF8, addr32(lg_gp_insn), 0, LG_CODE0);
	expect(ST_INT_TRAP, "int $0x40 at CPL 0", 0x40, 0, addr32(lg_int_after), 0, LG_CODE0);
	check(lg_res[LGR_INT_EFLAGS] & RFLAGS_IF, "a trap gate leaves IF set (EFLAGS %#x in the handler)",
	      lg_res[LGR_INT_EFLAGS]);
	expect(ST_PG32_NP_R, "32-bit paging: read of a not-present page", 14, 0, addr32(lg_np_r_insn),
	       LG_PG_NP + 0x10, LG_CODE0);
	expect(ST_PG32_NP_W, "32-bit paging: write to a not-present page", 14, 2, addr32(lg_np_w_insn),
	       LG_PG_NP + 0x20, LG_CODE0);
	expect(ST_PG32_RO_W, "32-bit paging: write to a read-only page, CR0.WP", 14, 3, addr32(lg_ro_w_insn),
	       LG_PG_RO + 0x30, LG_CODE0);
	check(*(volatile uint32_t *)phys(LG_PG_RO + 0x30) == 0, "the read-only page was not written");
	check(count(ST_PG32_WP0) == 0 && *(volatile uint32_t *)phys(LG_PG_RO + 0x50) == 0x600DC0DE,
	      "CR0.WP=0: ring 0 wrote the read-only page");
	check(count(ST_PG32_NOPSE) == 0 && lg_res[LGR_NOPSE_VAL] == 0x5AFE5AFE,
	      "CR4.PSE=0: a PDE with PS set is a page-table pointer (read %#x, want %#x)",
	      lg_res[LGR_NOPSE_VAL], 0x5AFE5AFE);
	uint32_t pde_r = lg_res[LGR_PDE_READ], pde_w = lg_pd[LG_BIG >> 22];
	check((pde_r & 0x60) == 0x20 && (pde_w & 0x60) == 0x60 &&
	      *(volatile uint32_t *)phys(LG_BIG + 0x2000) == 0x12345678,
	      "4 MiB page (CR4.PSE): A set by a read (PDE %#x), D by a write (PDE %#x)", pde_r, pde_w);

	const uint32_t *e = find(ST_RING3_PF);
	expect(ST_RING3_PF, "ring 3: read of a supervisor page", 14, 5, addr32(lg_user_pf_insn),
	       LG_PG_SUP + 0x10, LG_UCODE);
	if (e)
		check(e[LGL_ESP] == addr32(lg_ustack_top) && e[LGL_SS] == LG_UDATA &&
		      e[LGL_FRAME] + 28 == addr32(lg_kstack_top),
		      "...delivered on SS0:ESP0 with ring 3's SS:ESP %#x:%#x in the frame (frame at %#x)",
		      e[LGL_SS], e[LGL_ESP], e[LGL_FRAME]);
	e = find(ST_RING3_INT);
	expect(ST_RING3_INT, "ring 3: int $0x80 through a DPL-3 gate", 0x80, 0, addr32(lg_user_int_after),
	       0, LG_UCODE);
	if (e)
		check(e[LGL_ESP] == addr32(lg_ustack_top) && e[LGL_SS] == LG_UDATA &&
		      e[LGL_FRAME] + 28 == addr32(lg_kstack_top) && !(e[LGL_EFLAGS] & 0x3000),
		      "...on SS0:ESP0 with ring 3's SS:ESP %#x:%#x (frame at %#x), EFLAGS %#x",
		      e[LGL_SS], e[LGL_ESP], e[LGL_FRAME], e[LGL_EFLAGS]);

	if (nx)
		expect(ST_PAE_NX, "PAE paging: fetch from an NX page", 14, 0x11, LG_PG_NX, LG_PG_NX, LG_CODE0);
	else
		note("no NX: the PAE NX fetch skipped");
	expect(ST_PAE_NP_R, "PAE paging: read of a not-present page", 14, 0, addr32(lg_pae_np_insn),
	       LG_PG_NP + 0x40, LG_CODE0);
	if (lg_pae_rsvd)
		expect(ST_PAE_RSVD, "PAE paging: PTE address bit at MAXPHYADDR", 14, 0x9,
		       addr32(lg_pae_rsvd_insn), LG_PG_RSVD + 0x10, LG_CODE0);
	else
		note("MAXPHYADDR 52: the PAE reserved-bit case skipped");
	return checks_end();
}
