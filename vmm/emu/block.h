/* Decoded blocks: straight-line runs of instructions decoded once, with
 * their handlers looked up, and reused while their bytes are unchanged.
 *
 * A block is keyed by the linear and physical address of its first byte
 * and the code mode, and never crosses a page. Before each reuse its bytes
 * are compared with guest memory, which catches every writer (other vCPUs,
 * devices, the VMM); a write by the executing block into its own bytes
 * stops it after the writing instruction (emu_note_write). */
#ifndef WISP_EMU_BLOCK_H
#define WISP_EMU_BLOCK_H

#include <stdint.h>

#include "cpu.h"
#include "decode.h"
#include "exec.h"
#include "jit.h"

#define BLOCK_MAX_INSNS 32
#define BLOCK_MAX_BYTES 160
#define BLOCK_CACHE_SIZE 4096   /* blocks per vCPU, a power of two */

struct block_insn {
	exec_fn fn;
	struct insn insn;
};

struct emu_block {
	uint64_t la;          /* linear address of the first byte */
	uint64_t pa;          /* physical address of the first byte */
	uint64_t rip;
	uint8_t mode;         /* enum emu_mode it was decoded for */
	uint8_t cpl;          /* the privilege it was found runnable at */
	uint8_t ninsns;       /* 0: empty slot */
	uint8_t nbytes;
	/* Translation (jit.h): how often it ran interpreted, and its code,
	 * valid while code_epoch is the translator's epoch. */
	uint16_t heat;
	uint32_t code_epoch;
	emu_jit_code code;
	uint8_t bytes[BLOCK_MAX_BYTES];
	struct block_insn insns[BLOCK_MAX_INSNS];
};

struct emu_block_cache {
	struct emu_block slot[BLOCK_CACHE_SIZE];
};

struct emu_block_cache *emu_block_cache_new(void);
void emu_block_cache_free(struct emu_block_cache *cache);

/* Whether the instruction must end its block even when it falls through:
 * it may change how the following bytes decode or run (mode, paging,
 * descriptor tables), it opens an interrupt window, or it serializes. */
bool emu_block_ends_after(const struct insn *insn);

#endif
