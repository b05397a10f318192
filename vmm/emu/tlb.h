/* The software TLB and the page walker behind it (internal to the memory
 * code: everything else goes through mem.h).
 *
 * One direct-mapped table keyed by linear page number. An entry holds what
 * a walk found for one 4 KiB linear page: the physical page, a host pointer
 * when that page is ordinary RAM (so a hit is one compare and one host
 * access), and the accesses the translation allows, per privilege. Write
 * permission is granted only once the walk has set the dirty bit, so the
 * first write through an entry filled by a read walks again and sets D. */
#ifndef WISP_EMU_TLB_H
#define WISP_EMU_TLB_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "mem.h"

#define EMU_TLB_BITS 9
#define EMU_TLB_SIZE (1u << EMU_TLB_BITS)
#define EMU_TLB_NO_VPN (~0ull)

/* Permission bits: 1 << (kind + 3 * user). */
#define EMU_PERM_R_S (1u << 0)
#define EMU_PERM_W_S (1u << 1)
#define EMU_PERM_X_S (1u << 2)
#define EMU_PERM_R_U (1u << 3)
#define EMU_PERM_W_U (1u << 4)
#define EMU_PERM_X_U (1u << 5)
#define EMU_PERM_ALL 0x3fu

static inline unsigned emu_perm_bit(enum emu_access kind, bool user)
{
	return 1u << ((unsigned)kind + (user ? 3u : 0u));
}

struct emu_tlb_entry {
	uint64_t vpn;          /* la >> 12, or EMU_TLB_NO_VPN */
	uint8_t *host;         /* the page in host memory when RAM, else NULL */
	uint64_t pa;           /* physical page address */
	uint8_t perm;          /* EMU_PERM_* */
	uint8_t global;        /* survives non-global flushes */
	uint8_t page_shift;    /* size of the guest page it came from: 12, 21, 22, 30 */
};

struct emu_tlb {
	struct emu_tlb_entry e[EMU_TLB_SIZE];
	/* Some entry came from a page larger than 4 KiB: INVLPG then has to
	 * look beyond the one slot of its address. */
	bool has_large;
};

static inline struct emu_tlb_entry *emu_tlb_slot(struct emu_tlb *tlb, uint64_t la)
{
	return &tlb->e[(la >> 12) & (EMU_TLB_SIZE - 1)];
}

/* Walk the page tables (or, paging off, map 1:1) for an access of kind to
 * la and fill the TLB slot of la. user: the access is checked as a CPL 3
 * access. Returns the entry, or NULL with the #PF error code in *pf_error
 * (nothing is raised: the fetch path must be able to stop quietly). */
struct emu_tlb_entry *emu_page_walk(struct emu_cpu *cpu, uint64_t la, enum emu_access kind,
				    bool user, uint32_t *pf_error);

/* The host page of physical page pa when it is RAM that may be accessed
 * directly (not the local APIC's page), else NULL. */
uint8_t *emu_phys_host_page(struct emu_cpu *cpu, uint64_t pa);

#endif
