/* The page walker: 32-bit paging (4 KiB and, with CR4.PSE, 4 MiB pages
 * with PSE-36 high address bits), PAE paging and 4-level paging (2 MiB and
 * 1 GiB pages), as the SDM vol. 3 ch. 4 and the APM vol. 2 ch. 5 describe
 * them. The result of a successful walk is a TLB entry; a failed walk
 * returns the page-fault error code and leaves raising to the caller. */
#include "tlb.h"
#include "vmm/guest_mem.h"

#define PTE_P  (1ull << 0)
#define PTE_W  (1ull << 1)
#define PTE_U  (1ull << 2)
#define PTE_A  (1ull << 5)
#define PTE_D  (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G  (1ull << 8)
#define PTE_XD (1ull << 63)

#define PHYS_MASK ((1ull << EMU_PHYS_ADDR_BITS) - 1)
/* Address bits at or above MAXPHYADDR that an entry must leave clear:
 * up to bit 51 in 4-level paging, up to bit 62 in PAE paging. */
#define RSVD_PHYS_LONG (((1ull << 52) - 1) & ~PHYS_MASK)
#define RSVD_PHYS_PAE  (((1ull << 63) - 1) & ~PHYS_MASK)

/* What the walk collected on its way to the leaf. */
struct walk {
	/* Host addresses of the entries used, to set their accessed bits
	 * once the access is known to be allowed. */
	void *entry[4];
	uint8_t entry_size[4];
	unsigned n;
	uint64_t base;         /* physical base of the (possibly large) page */
	unsigned shift;        /* its size */
	bool w, u, nx, global;
};

enum walk_result { WALK_OK, WALK_NOT_PRESENT, WALK_RESERVED };

/* Read one paging-structure entry. Page tables live in RAM; an entry
 * outside RAM reads as not present (wisp has no ROM or device memory a
 * guest could sensibly point its page tables at). The read is atomic so
 * that a concurrent update by another vCPU is seen whole. */
static uint64_t read_entry(struct emu_cpu *cpu, uint64_t pa, unsigned size, void **host)
{
	void *p = guest_mem_ptr(cpu->mem, pa, size);

	*host = p;
	if (!p)
		return 0;
	if (size == 4)
		return __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE);
	return __atomic_load_n((uint64_t *)p, __ATOMIC_ACQUIRE);
}

static void remember(struct walk *w, void *host, unsigned size)
{
	w->entry[w->n] = host;
	w->entry_size[w->n] = (uint8_t)size;
	w->n++;
}

/* Entries in the 8-byte format, from level `level` (4 = PML4, 2 = PD) down. */
static enum walk_result walk_entries64(struct emu_cpu *cpu, uint64_t la, struct walk *w,
				       uint64_t table, int level, bool long_mode)
{
	bool nxe = cpu->efer & EMU_EFER_NXE;
	uint64_t common = long_mode ? RSVD_PHYS_LONG : RSVD_PHYS_PAE;

	if (!nxe)
		common |= PTE_XD;
	for (; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);
		uint64_t pa = table + ((la >> shift) & 511) * 8;
		uint64_t rsvd = common;
		void *host;
		uint64_t pte = read_entry(cpu, pa, 8, &host);
		bool leaf;

		if (!(pte & PTE_P))
			return WALK_NOT_PRESENT;
		leaf = level == 1 || ((level == 2 || level == 3) && (pte & PTE_PS));
		if (level == 4)
			rsvd |= PTE_PS;
		else if (level == 3 && leaf)
			rsvd |= ((1ull << 30) - 1) & ~((1ull << 13) - 1);  /* 29:13 */
		else if (level == 2 && leaf)
			rsvd |= ((1ull << 21) - 1) & ~((1ull << 13) - 1);  /* 20:13 */
		if (pte & rsvd)
			return WALK_RESERVED;
		remember(w, host, 8);
		w->w = w->w && (pte & PTE_W);
		w->u = w->u && (pte & PTE_U);
		if (nxe && (pte & PTE_XD))
			w->nx = true;
		if (leaf) {
			w->shift = shift;
			w->base = pte & PHYS_MASK & ~((1ull << shift) - 1);
			w->global = (cpu->cr4 & EMU_CR4_PGE) && (pte & PTE_G);
			return WALK_OK;
		}
		table = pte & PHYS_MASK & ~0xfffull;
	}
	return WALK_NOT_PRESENT;  /* not reached */
}

static enum walk_result walk_long(struct emu_cpu *cpu, uint64_t la, struct walk *w)
{
	return walk_entries64(cpu, la, w, cpu->cr3 & PHYS_MASK & ~0xfffull, 4, true);
}

/* PAE paging: CR3 points at four PDPTEs. The processor loads them when
 * CR3 is written; reading them at walk time instead differs only for a
 * guest that rewrites its PDPT without reloading CR3, which no OS does.
 * PDPTEs carry no access rights and no accessed bit. */
static enum walk_result walk_pae(struct emu_cpu *cpu, uint64_t la, struct walk *w)
{
	uint64_t pa = (cpu->cr3 & 0xffffffe0ull) + ((la >> 30) & 3) * 8;
	uint64_t rsvd = ~PHYS_MASK | (0xfull << 5) | (3ull << 1);
	void *host;
	uint64_t pdpte = read_entry(cpu, pa, 8, &host);

	if (!(pdpte & PTE_P))
		return WALK_NOT_PRESENT;
	if (pdpte & rsvd)
		return WALK_RESERVED;
	return walk_entries64(cpu, la, w, pdpte & PHYS_MASK & ~0xfffull, 2, false);
}

/* 32-bit paging. A 4 MiB PDE holds physical address bits 39:32 in its
 * bits 20:13 (PSE-36 with a 40-bit MAXPHYADDR); bit 21 is reserved. */
static enum walk_result walk_32(struct emu_cpu *cpu, uint64_t la, struct walk *w)
{
	void *host;
	uint64_t pde = read_entry(cpu, (cpu->cr3 & 0xfffff000ull) + ((la >> 22) & 1023) * 4, 4, &host);
	uint64_t pte;

	if (!(pde & PTE_P))
		return WALK_NOT_PRESENT;
	if ((pde & PTE_PS) && (cpu->cr4 & EMU_CR4_PSE)) {
		if (pde & (1ull << 21))
			return WALK_RESERVED;
		remember(w, host, 4);
		w->w = pde & PTE_W;
		w->u = pde & PTE_U;
		w->shift = 22;
		w->base = (pde & 0xffc00000ull) | (((pde >> 13) & 0xff) << 32);
		w->global = (cpu->cr4 & EMU_CR4_PGE) && (pde & PTE_G);
		return WALK_OK;
	}
	remember(w, host, 4);
	pte = read_entry(cpu, (pde & 0xfffff000ull) + ((la >> 12) & 1023) * 4, 4, &host);
	if (!(pte & PTE_P))
		return WALK_NOT_PRESENT;
	remember(w, host, 4);
	w->w = (pde & PTE_W) && (pte & PTE_W);
	w->u = (pde & PTE_U) && (pte & PTE_U);
	w->shift = 12;
	w->base = pte & 0xfffff000ull;
	w->global = (cpu->cr4 & EMU_CR4_PGE) && (pte & PTE_G);
	return WALK_OK;
}

static void set_bits(void *host, unsigned size, uint64_t bits)
{
	/* A locked OR, as the processor's own A/D updates are: another vCPU
	 * (or the guest on it) may be changing other bits of the entry. */
	if (size == 4) {
		if ((__atomic_load_n((uint32_t *)host, __ATOMIC_RELAXED) & bits) != bits)
			__atomic_fetch_or((uint32_t *)host, (uint32_t)bits, __ATOMIC_ACQ_REL);
	} else {
		if ((__atomic_load_n((uint64_t *)host, __ATOMIC_RELAXED) & bits) != bits)
			__atomic_fetch_or((uint64_t *)host, bits, __ATOMIC_ACQ_REL);
	}
}

static bool leaf_dirty(const struct walk *w)
{
	void *host = w->entry[w->n - 1];

	if (w->entry_size[w->n - 1] == 4)
		return __atomic_load_n((uint32_t *)host, __ATOMIC_RELAXED) & PTE_D;
	return __atomic_load_n((uint64_t *)host, __ATOMIC_RELAXED) & PTE_D;
}

/* The accesses a translation with these rights allows (no SMEP/SMAP:
 * wisp refuses to enable them). Supervisor writes to read-only pages are
 * allowed unless CR0.WP. */
static unsigned rights(const struct emu_cpu *cpu, const struct walk *w)
{
	unsigned perm = EMU_PERM_R_S;

	if (!w->nx)
		perm |= EMU_PERM_X_S;
	if (w->w || !(cpu->cr0 & EMU_CR0_WP))
		perm |= EMU_PERM_W_S;
	if (w->u) {
		perm |= EMU_PERM_R_U;
		if (w->w)
			perm |= EMU_PERM_W_U;
		if (!w->nx)
			perm |= EMU_PERM_X_U;
	}
	return perm;
}

struct emu_tlb_entry *emu_page_walk(struct emu_cpu *cpu, uint64_t la, enum emu_access kind,
				    bool user, uint32_t *pf_error)
{
	struct emu_tlb_entry *e = emu_tlb_slot(cpu->tlb, la);
	struct walk w = { .w = true, .u = true };
	enum walk_result r;
	unsigned perm;

	if (!(cpu->cr0 & EMU_CR0_PG)) {
		e->vpn = la >> 12;
		e->pa = la & ~0xfffull;
		e->host = emu_phys_host_page(cpu, e->pa);
		e->perm = EMU_PERM_ALL;
		e->global = 0;
		e->page_shift = 12;
		return e;
	}
	if (!(cpu->cr4 & EMU_CR4_PAE))
		r = walk_32(cpu, la, &w);
	else if (cpu->efer & EMU_EFER_LMA)
		r = walk_long(cpu, la, &w);
	else
		r = walk_pae(cpu, la, &w);

	perm = r == WALK_OK ? rights(cpu, &w) : 0;
	if (r != WALK_OK || !(perm & emu_perm_bit(kind, user))) {
		uint32_t err = 0;

		if (r != WALK_NOT_PRESENT)
			err |= EMU_PF_P;
		if (r == WALK_RESERVED)
			err |= EMU_PF_RSVD;
		if (kind == EMU_WRITE)
			err |= EMU_PF_W;
		if (user)
			err |= EMU_PF_U;
		/* I/D is reported where execute-disable exists at all. */
		if (kind == EMU_FETCH && (cpu->cr4 & EMU_CR4_PAE) && (cpu->efer & EMU_EFER_NXE))
			err |= EMU_PF_I;
		*pf_error = err;
		return NULL;
	}

	for (unsigned i = 0; i < w.n; i++)
		set_bits(w.entry[i], w.entry_size[i], PTE_A);
	if (kind == EMU_WRITE)
		set_bits(w.entry[w.n - 1], w.entry_size[w.n - 1], PTE_D);
	else if (!leaf_dirty(&w))
		perm &= ~(EMU_PERM_W_S | EMU_PERM_W_U);  /* the first write walks again */

	e->vpn = la >> 12;
	e->pa = w.base | (la & ((1ull << w.shift) - 1) & ~0xfffull);
	e->host = emu_phys_host_page(cpu, e->pa);
	e->perm = (uint8_t)perm;
	e->global = w.global;
	e->page_shift = (uint8_t)w.shift;
	if (w.shift > 12)
		cpu->tlb->has_large = true;
	return e;
}
