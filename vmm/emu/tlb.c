/* The software TLB: allocation and the flushes the system instructions
 * ask for (MOV CR3, CR0/CR4 paging bits, INVLPG, APIC base moves). */
#include <stdlib.h>

#include "tlb.h"

static void invalidate(struct emu_tlb_entry *e)
{
	e->vpn = EMU_TLB_NO_VPN;
	e->host = NULL;
	e->perm = 0;
	e->global = 0;
}

struct emu_tlb *emu_tlb_new(void)
{
	struct emu_tlb *tlb = calloc(1, sizeof(*tlb));

	if (!tlb)
		return NULL;
	for (unsigned i = 0; i < EMU_TLB_SIZE; i++)
		invalidate(&tlb->e[i]);
	return tlb;
}

void emu_tlb_free(struct emu_tlb *tlb)
{
	free(tlb);
}

void emu_tlb_flush(struct emu_cpu *cpu, bool include_global)
{
	struct emu_tlb *tlb = cpu->tlb;
	bool large = false;

	if (!tlb)
		return;
	for (unsigned i = 0; i < EMU_TLB_SIZE; i++) {
		struct emu_tlb_entry *e = &tlb->e[i];

		if (e->vpn == EMU_TLB_NO_VPN)
			continue;
		if (include_global || !e->global)
			invalidate(e);
		else if (e->page_shift > 12)
			large = true;
	}
	tlb->has_large = large;
}

void emu_tlb_flush_page(struct emu_cpu *cpu, uint64_t la)
{
	struct emu_tlb *tlb = cpu->tlb;
	uint64_t vpn = la >> 12;

	if (!tlb)
		return;
	/* INVLPG drops the translation of the page containing la, global or
	 * not, whatever its size: an entry filled from a 2 MiB page may sit in
	 * any slot, so with large pages around every slot is looked at. */
	if (!tlb->has_large) {
		struct emu_tlb_entry *e = emu_tlb_slot(tlb, la);

		if (e->vpn == vpn)
			invalidate(e);
		return;
	}
	for (unsigned i = 0; i < EMU_TLB_SIZE; i++) {
		struct emu_tlb_entry *e = &tlb->e[i];
		unsigned s = e->page_shift - 12;

		if (e->vpn != EMU_TLB_NO_VPN && (e->vpn >> s) == (vpn >> s))
			invalidate(e);
	}
}
