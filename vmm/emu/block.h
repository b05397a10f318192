/* Decoded blocks: straight-line runs of instructions decoded once, with
 * their handlers looked up, and reused while their page is unwritten.
 *
 * A block is keyed by the linear and physical address of its first byte,
 * the code mode and the privilege, and never crosses a page. It records
 * its page's generation in the VM's code map (code_map.h), which any write
 * to the page bumps: the block is then decoded afresh at its next entry. A
 * write by the executing block into its own bytes also stops it after the
 * writing instruction (emu_note_write).
 *
 * Blocks live in an arena, each as long as its instructions; a two-way
 * hash table of pointers finds them. A full arena is emptied at once. */
#ifndef WISP_EMU_BLOCK_H
#define WISP_EMU_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "decode.h"
#include "exec.h"
#include "jit.h"

#define BLOCK_MAX_INSNS 32
#define BLOCK_MAX_BYTES 160
#define BLOCK_HASH_SIZE 65536          /* slots per vCPU (pairs: two ways) */
#define BLOCK_ARENA_SIZE (16u << 20)   /* bytes of blocks per vCPU */

struct block_insn {
	exec_fn fn;
	struct insn insn;
};

struct emu_block {
	uint64_t la;          /* linear address of the first byte */
	uint64_t pa;          /* physical address of the first byte */
	uint64_t rip;
	uint32_t gen;         /* the page's generation it was decoded at */
	uint8_t mode;         /* enum emu_mode it was decoded for */
	uint8_t cpl;          /* the privilege it was found runnable at */
	uint8_t ninsns;
	uint8_t nbytes;
	/* Translation (jit.h): how often it ran interpreted, and its code,
	 * valid while code_epoch is the translator's epoch. */
	uint16_t heat;
	uint32_t code_epoch;
	emu_jit_code code;
	struct block_insn insns[];
};

struct emu_block_cache {
	struct emu_block *slot[BLOCK_HASH_SIZE];
	uint8_t *arena;
	size_t used;
	/* Where a block is decoded before it is stored at its length. */
	union {
		struct emu_block block;
		uint8_t bytes[sizeof(struct emu_block) + BLOCK_MAX_INSNS * sizeof(struct block_insn)];
	} scratch;
};

struct emu_block_cache *emu_block_cache_new(void);
void emu_block_cache_free(struct emu_block_cache *cache);

/* A copy of the decoded block b (the scratch one) in the arena, emptying
 * the arena and the table first when it is full. */
struct emu_block *emu_block_cache_store(struct emu_block_cache *cache, const struct emu_block *b);

/* Whether the instruction ends its block: it never falls through (an
 * unconditional branch), or it may change how the following bytes decode
 * or run (mode, paging, descriptor tables), it opens an interrupt window,
 * or it serializes. */
bool emu_block_ends_after(const struct insn *insn);

#endif
