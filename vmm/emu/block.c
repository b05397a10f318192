#include "block.h"

#include <stdlib.h>

struct emu_block_cache *emu_block_cache_new(void)
{
	return calloc(1, sizeof(struct emu_block_cache));
}

void emu_block_cache_free(struct emu_block_cache *cache)
{
	free(cache);
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
