/* Boot GDT, identity page tables and initial vCPU state. The cpu_state
 * segments are decoded from the same descriptors that go into the guest's
 * GDT, so the hidden segment state the vCPU starts with is exactly what a
 * reload of any selector would produce. */
#include "loader/x86_boot.h"

#include <string.h>

#include "loader/bytes.h"
#include "vmm/guest_mem.h"
#include "vmm/memory_map.h"

/* Descriptor access byte: P | DPL 0 | S | type. */
#define ACC_CODE   0x9B  /* present, code, execute/read, accessed */
#define ACC_DATA   0x93  /* present, data, read/write, accessed */
#define ACC_TSS    0x8B  /* present, system, busy TSS (32- or 64-bit) */
/* Descriptor flags nibble. */
#define FLAG_L     0x2
#define FLAG_DB    0x4
#define FLAG_G     0x8

/* Page-table entry bits. */
#define PTE_P      (1ull << 0)
#define PTE_RW     (1ull << 1)
#define PTE_PWT    (1ull << 3)
#define PTE_PCD    (1ull << 4)
#define PTE_PS     (1ull << 7)

#define PML4_ADDR  (BOOT_PAGE_TABLES_ADDR)
#define PDPT_ADDR  (BOOT_PAGE_TABLES_ADDR + 0x1000)
#define PD_ADDR(i) (BOOT_PAGE_TABLES_ADDR + 0x2000 + (uint64_t)(i) * 0x1000)

_Static_assert(BOOT_GDT_ADDR + BOOT_GDT_ENTRIES * 8 <= BOOT_IDT_ADDR,
	       "boot GDT overlaps the IDT");
_Static_assert(BOOT_PAGE_TABLES_SIZE >= 6 * 0x1000, "room for PML4, PDPT and 4 PDs");

static uint64_t make_desc(uint32_t base, uint32_t limit20, uint8_t access, uint8_t flags)
{
	return (uint64_t)(limit20 & 0xFFFF) |
	       ((uint64_t)(base & 0xFFFFFF) << 16) |
	       ((uint64_t)access << 40) |
	       ((uint64_t)((limit20 >> 16) & 0xF) << 48) |
	       ((uint64_t)(flags & 0xF) << 52) |
	       ((uint64_t)(base >> 24) << 56);
}

/* The GDT for a mode as 8-byte slots; a 64-bit TSS takes two slots, its
 * upper half holding base[63:32] = 0. */
static void build_gdt(enum x86_boot_mode mode, uint64_t gdt[BOOT_GDT_ENTRIES])
{
	memset(gdt, 0, BOOT_GDT_ENTRIES * sizeof(gdt[0]));
	if (mode == X86_BOOT_LONG_MODE)
		gdt[BOOT_CS_SELECTOR / 8] = make_desc(0, 0xFFFFF, ACC_CODE, FLAG_G | FLAG_L);
	else
		gdt[BOOT_CS_SELECTOR / 8] = make_desc(0, 0xFFFFF, ACC_CODE, FLAG_G | FLAG_DB);
	gdt[BOOT_DS_SELECTOR / 8] = make_desc(0, 0xFFFFF, ACC_DATA, FLAG_G | FLAG_DB);
	gdt[BOOT_TSS_SELECTOR / 8] = make_desc(0, 0x67, ACC_TSS, 0);
}

static struct cpu_segment decode_desc(uint64_t d, uint16_t selector)
{
	struct cpu_segment s = { 0 };
	uint32_t limit = (uint32_t)(d & 0xFFFF) | (uint32_t)((d >> 32) & 0xF0000);
	uint8_t access = (uint8_t)(d >> 40);
	uint8_t flags = (uint8_t)((d >> 52) & 0xF);

	s.base = ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24);
	s.g = (flags & FLAG_G) != 0;
	s.limit = s.g ? (limit << 12) | 0xFFF : limit;
	s.selector = selector;
	s.type = access & 0xF;
	s.s = (access >> 4) & 1;
	s.dpl = (access >> 5) & 3;
	s.present = (access >> 7) & 1;
	s.avl = flags & 1;
	s.l = (flags & FLAG_L) != 0;
	s.db = (flags & FLAG_DB) != 0;
	s.unusable = !s.present;
	return s;
}

int x86_boot_write_gdt(struct guest_mem *mem, enum x86_boot_mode mode)
{
	uint64_t gdt[BOOT_GDT_ENTRIES];
	uint8_t buf[BOOT_GDT_ENTRIES * 8];

	build_gdt(mode, gdt);
	for (int i = 0; i < BOOT_GDT_ENTRIES; i++)
		put_le64(buf + 8 * i, gdt[i]);
	return guest_mem_write(mem, BOOT_GDT_ADDR, buf, sizeof(buf)) ? -1 : 0;
}

int x86_boot_write_page_tables(struct guest_mem *mem)
{
	uint8_t *pt = guest_mem_ptr(mem, BOOT_PAGE_TABLES_ADDR, BOOT_PAGE_TABLES_SIZE);

	if (!pt)
		return -1;
	memset(pt, 0, BOOT_PAGE_TABLES_SIZE);
	put_le64(pt + (PML4_ADDR - BOOT_PAGE_TABLES_ADDR), PDPT_ADDR | PTE_P | PTE_RW);
	for (unsigned i = 0; i < 4; i++) {
		uint8_t *pd = pt + (PD_ADDR(i) - BOOT_PAGE_TABLES_ADDR);

		put_le64(pt + (PDPT_ADDR - BOOT_PAGE_TABLES_ADDR) + 8 * i,
			 PD_ADDR(i) | PTE_P | PTE_RW);
		for (unsigned j = 0; j < 512; j++) {
			uint64_t addr = GiB(i) + MiB(2) * j;
			uint64_t pte = addr | PTE_P | PTE_RW | PTE_PS;

			/* The hole holds device registers: never cache them,
			 * even before the guest installs its own tables. */
			if (addr >= PCI_HOLE_START)
				pte |= PTE_PCD | PTE_PWT;
			put_le64(pd + 8 * j, pte);
		}
	}
	return 0;
}

void x86_boot_cpu_state(enum x86_boot_mode mode, struct cpu_state *state)
{
	uint64_t gdt[BOOT_GDT_ENTRIES];
	struct cpu_segment data;

	build_gdt(mode, gdt);
	memset(state, 0, sizeof(*state));
	state->rflags = 0x2;  /* bit 1 is reserved as 1; IF, TF, VM clear */

	state->cs = decode_desc(gdt[BOOT_CS_SELECTOR / 8], BOOT_CS_SELECTOR);
	data = decode_desc(gdt[BOOT_DS_SELECTOR / 8], BOOT_DS_SELECTOR);
	state->ds = state->es = state->fs = state->gs = state->ss = data;
	/* KVM and VMX insist on a usable busy TSS even though nothing runs
	 * at another privilege level before the guest loads its own. */
	state->tr = decode_desc(gdt[BOOT_TSS_SELECTOR / 8], BOOT_TSS_SELECTOR);
	state->ldt = (struct cpu_segment){ .type = 2, .unusable = 1 };

	state->gdt = (struct cpu_table){ BOOT_GDT_ADDR, BOOT_GDT_LIMIT };
	/* Empty IDT: an exception before the guest sets up its own escalates
	 * to a triple fault, which the VMM reports, instead of jumping
	 * through garbage. */
	state->idt = (struct cpu_table){ BOOT_IDT_ADDR, 0 };

	if (mode == X86_BOOT_LONG_MODE) {
		state->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE |
			     X86_CR0_WP | X86_CR0_PG;
		state->cr3 = PML4_ADDR;
		state->cr4 = X86_CR4_PAE;
		state->efer = X86_EFER_LME | X86_EFER_LMA;
	} else {
		state->cr0 = X86_CR0_PE | X86_CR0_ET;
	}
}

int x86_boot_setup(struct guest_mem *mem, enum x86_boot_mode mode, struct cpu_state *state)
{
	if (x86_boot_write_gdt(mem, mode) != 0)
		return -1;
	if (mode == X86_BOOT_LONG_MODE && x86_boot_write_page_tables(mem) != 0)
		return -1;
	x86_boot_cpu_state(mode, state);
	return 0;
}
