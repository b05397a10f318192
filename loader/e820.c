#include "loader/e820.h"

#include "vmm/guest_mem.h"
#include "vmm/memory_map.h"

static void add(struct e820_entry *out, size_t max, size_t *n, uint64_t addr, uint64_t end,
		uint32_t type)
{
	if (end <= addr)
		return;
	if (*n < max)
		out[*n] = (struct e820_entry){ addr, end - addr, type };
	(*n)++;
}

size_t e820_build(const struct guest_mem *mem, struct e820_entry *out, size_t max)
{
	size_t n = 0;

	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];
		uint64_t end = r->gpa + r->size;

		if (r->gpa < HIGH_MEMORY_START) {
			/* Conventional memory stops at the EBDA; from there to
			 * 1 MiB is what a PC keeps for the EBDA, VGA and BIOS,
			 * and wisp's MP table lives in it. */
			add(out, max, &n, r->gpa, end < EBDA_START ? end : EBDA_START, E820_RAM);
			if (end > EBDA_START)
				add(out, max, &n, EBDA_START, HIGH_MEMORY_START, E820_RESERVED);
			add(out, max, &n, HIGH_MEMORY_START, end, E820_RAM);
		} else {
			add(out, max, &n, r->gpa, end, E820_RAM);
		}
	}
	return n;
}
