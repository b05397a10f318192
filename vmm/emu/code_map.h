/* Which guest pages hold code the core has decoded, shared by the vCPUs
 * of a VM: the page-granular self-modifying-code detection of the block
 * cache (block.h).
 *
 * Each physical page has a flag "blocks were decoded from it" and a
 * generation. A block records its page's generation when it is decoded
 * and is valid while the generation is unchanged. Every write of the core
 * to guest RAM is noted (emu_note_write); one that lands on a flagged page
 * clears the flag and bumps the generation, so every block of that page,
 * on every vCPU, is decoded afresh at its next entry, and further writes
 * to the page cost nothing until code is decoded from it again. Translated
 * code checks the flag inline on its stores (jit.c).
 *
 * Writers other than the core (devices writing guest RAM while the guest
 * runs) must note their writes too: emu_code_map_note_write. Not noted:
 * the page walker's accessed/dirty-bit updates (code in a page table is
 * nothing a guest does).
 *
 * A vCPU that decodes a page while another writes it: the decoder flags
 * the page before it reads the bytes and the writer checks the flag after
 * its store, so one of them sees the other (both sides are sequentially
 * consistent atomics). A write made by the fast path of translated code
 * checks first and stores after; racing with a first decode of that very
 * page it may be missed, which is cross-modifying code without the
 * serialization the architecture asks for. */
#ifndef WISP_EMU_CODE_MAP_H
#define WISP_EMU_CODE_MAP_H

#include <stdbool.h>
#include <stdint.h>

struct emu_code_map {
	uint8_t *code;        /* per page: blocks were decoded from it */
	uint32_t *gen;        /* per page: bumped by a write while flagged */
	uint64_t pages;       /* physical pages covered: [0, pages << 12) */
};

/* A map of physical addresses below top (RAM's end). NULL: no memory. */
struct emu_code_map *emu_code_map_new(uint64_t top);
void emu_code_map_free(struct emu_code_map *map);

/* The flagged page was written. */
void emu_code_map_written(struct emu_code_map *map, uint64_t page);

static inline void emu_code_map_note_write(struct emu_code_map *map, uint64_t pa, uint64_t len)
{
	uint64_t last = (pa + len - 1) >> 12;

	for (uint64_t p = pa >> 12; p <= last && p < map->pages; p++)
		if (__atomic_load_n(&map->code[p], __ATOMIC_SEQ_CST))
			emu_code_map_written(map, p);
}

/* Blocks are about to be decoded from page: its generation now. */
static inline uint32_t emu_code_map_mark(struct emu_code_map *map, uint64_t page)
{
	__atomic_store_n(&map->code[page], 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&map->gen[page], __ATOMIC_SEQ_CST);
}

static inline bool emu_code_map_current(const struct emu_code_map *map, uint64_t page, uint32_t gen)
{
	return __atomic_load_n(&map->gen[page], __ATOMIC_RELAXED) == gen;
}

#endif
