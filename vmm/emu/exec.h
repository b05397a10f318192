/* Instruction execution: the one opcode table mapping (map, opcode) to a
 * handler, and the operand helpers handlers share. Handlers live in files
 * by instruction family (alu.c, shift.c, muldiv.c, bitops.c, string.c,
 * control.c, system.c, ...); each family fills its part of the table from
 * its exec_register_*() function, so adding an instruction touches only
 * its family's file. */
#ifndef WISP_EMU_EXEC_H
#define WISP_EMU_EXEC_H

#include "cpu.h"
#include "decode.h"

typedef void (*exec_fn)(struct emu_cpu *cpu, const struct insn *insn);

/* [map][opcode]; NULL = #UD. Group opcodes dispatch on insn->reg & 7
 * inside their handler. */
struct exec_table {
	exec_fn fn[MAP_COUNT][256];
};

/* Fill a table with every family's handlers. */
void exec_table_init(struct exec_table *t);

/* Families (each in its own file). */
void exec_register_alu(struct exec_table *t);      /* add/or/adc/sbb/and/sub/xor/cmp/test/inc/dec/neg/not, mov, lea, movzx/sx, xchg, cmpxchg, xadd, bswap, cbw..., setcc, cmovcc, push/pop, nop, lahf/sahf, flags ops */
void exec_register_shift(struct exec_table *t);    /* shl/shr/sar/rol/ror/rcl/rcr, shld/shrd */
void exec_register_muldiv(struct exec_table *t);   /* mul/imul/div/idiv */
void exec_register_bitops(struct exec_table *t);   /* bt/bts/btr/btc, bsf/bsr, tzcnt/lzcnt/popcnt */
void exec_register_string(struct exec_table *t);   /* movs/stos/lods/cmps/scas (+rep), ins/outs */
void exec_register_control(struct exec_table *t);  /* jmp/jcc/call/ret/loop/jcxz, enter/leave, int/into/int3, in/out, hlt */
void exec_register_system(struct exec_table *t);   /* far jmp/call/ret, iret, lgdt/lidt/ltr/lldt, mov cr/dr, invlpg, cpuid, rdtsc, rdmsr/wrmsr, syscall/sysret, swapgs, cli/sti, pushf/popf, mov sreg, lss..., clts, wbinvd, cmpxchg8b/16b, rdtscp, lar/lsl/verr/verw */
void exec_register_sse(struct exec_table *t);      /* SSE/SSE2, fxsave/fxrstor, ldmxcsr/stmxcsr */
void exec_register_x87(struct exec_table *t);      /* x87 */

/* ---- operand helpers --------------------------------------------------- */

/* Effective address (offset within the segment) of insn's memory operand,
 * truncated to the address size. */
uint64_t exec_ea(struct emu_cpu *cpu, const struct insn *insn);

/* The segment of insn's memory operand: its override, or SS for a
 * base of RSP/RBP (not RIP-relative), else DS. */
unsigned exec_ea_seg(const struct insn *insn);

/* Register access by number and size: size 1 with no REX maps 4..7 to
 * AH, CH, DH, BH (legacy high-byte registers). Writes of size 4 zero the
 * upper half, sizes 1 and 2 merge. */
uint64_t exec_get_reg(const struct emu_cpu *cpu, const struct insn *insn, unsigned reg, unsigned size);
void exec_set_reg(struct emu_cpu *cpu, const struct insn *insn, unsigned reg, unsigned size, uint64_t v);

/* The ModRM r/m operand (register or memory) of size bytes. */
uint64_t exec_get_rm(struct emu_cpu *cpu, const struct insn *insn, unsigned size);
void exec_set_rm(struct emu_cpu *cpu, const struct insn *insn, unsigned size, uint64_t v);

/* Stack: push/pop size bytes on SS:RSP with the stack-address size. */
void exec_push(struct emu_cpu *cpu, unsigned size, uint64_t v);
uint64_t exec_pop(struct emu_cpu *cpu, unsigned size);

/* Finish an instruction: rip = next_rip (masked to 16/32 bits outside
 * 64-bit mode). */
void exec_advance(struct emu_cpu *cpu, const struct insn *insn);

/* Mask of size bytes. */
static inline uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

#endif
