#include "block.h"

#include <stdlib.h>
#include <string.h>

struct emu_block_cache *emu_block_cache_new(void)
{
	struct emu_block_cache *cache = calloc(1, sizeof(*cache));

	if (!cache)
		return NULL;
	cache->arena = malloc(BLOCK_ARENA_SIZE);
	if (!cache->arena) {
		free(cache);
		return NULL;
	}
	return cache;
}

void emu_block_cache_free(struct emu_block_cache *cache)
{
	if (!cache)
		return;
	free(cache->arena);
	free(cache);
}

struct emu_block *emu_block_cache_store(struct emu_block_cache *cache, const struct emu_block *b)
{
	size_t size = sizeof(*b) + b->ninsns * sizeof(b->insns[0]);
	struct emu_block *copy;

	size = (size + 15) & ~(size_t)15;
	if (BLOCK_ARENA_SIZE - cache->used < size) {
		/* Every block goes, and with them the translations that
		 * point into them (they hang off the blocks). */
		memset(cache->slot, 0, sizeof(cache->slot));
		cache->used = 0;
	}
	copy = (struct emu_block *)(cache->arena + cache->used);
	cache->used += size;
	memcpy(copy, b, size);
	return copy;
}

bool emu_block_ends_after(const struct insn *insn)
{
	if (insn->map == MAP_PRIMARY) {
		switch (insn->op) {
		case 0x17:              /* POP SS: interrupt shadow */
		case 0x8e:              /* MOV Sreg (SS: shadow; CS/DS...: bases) */
		case 0x9d:              /* POPF: IF, TF */
		case 0xcf:              /* IRET */
		case 0xf4:              /* HLT */
		case 0xfa:              /* CLI */
		case 0xfb:              /* STI: interrupt shadow */
			return true;
		/* Unconditional transfers: what follows them in memory is not
		 * what runs next (decoding it would be wasted, or fail). */
		case 0xc2: case 0xc3:   /* RET */
		case 0xca: case 0xcb:   /* RETF */
		case 0xcc: case 0xcd:   /* INT3, INT n */
		case 0xe8: case 0xe9:   /* CALL, JMP rel */
		case 0xea: case 0x9a:   /* JMP, CALL far */
		case 0xeb:              /* JMP rel8 */
			return true;
		case 0xff:              /* CALL, JMP r/m (near and far) */
			return (insn->reg & 7) >= 2 && (insn->reg & 7) <= 5;
		default:
			return false;
		}
	}
	if (insn->map == MAP_0F) {
		switch (insn->op) {
		case 0x00:              /* LLDT, LTR, ... */
		case 0x01:              /* LGDT, LIDT, INVLPG, SWAPGS, ... */
		case 0x05: case 0x07:   /* SYSCALL, SYSRET */
		case 0x06:              /* CLTS */
		case 0x08: case 0x09:   /* INVD, WBINVD */
		case 0x20: case 0x21:
		case 0x22: case 0x23:   /* MOV CR/DR */
		case 0x30:              /* WRMSR */
		case 0x34: case 0x35:   /* SYSENTER, SYSEXIT */
		case 0xa1: case 0xa9:   /* POP FS/GS */
		case 0xa2:              /* CPUID: serializing (cross-modifying code) */
		case 0xae:              /* fences, FXRSTOR, LDMXCSR */
		case 0xb2: case 0xb4:
		case 0xb5:              /* LSS, LFS, LGS */
			return true;
		default:
			return false;
		}
	}
	return false;
}
