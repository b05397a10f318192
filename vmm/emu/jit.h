/* The translator of the software core: decoded blocks (block.h) turned
 * into host x86-64 code.
 *
 * Only 64-bit-mode blocks are translated. The common integer instructions
 * (MOV, LEA, MOVZX/SX, the ALU group, TEST, INC/DEC/NEG/NOT, shifts and
 * rotates, IMUL/MUL, SETcc, CMOVcc, PUSH/POP, Jcc/JMP/CALL/RET rel) become
 * host instructions of the same kind, so their flags are the host's own;
 * memory operands go through an inline TLB lookup. Everything else, and
 * any access the inline lookup cannot serve (TLB miss, MMIO, a page
 * crossing, a write into the running block), calls the interpreter's
 * handler for that instruction: the interpreter stays the reference, and
 * the translated code is tested against it (tests/unit/vmm/emu/test_jit.c).
 *
 * Between instructions the translated code keeps the whole architectural
 * state in struct emu_cpu (general registers, flags as CC_OP_HOST), except
 * cpu->rip, which it stores before anything that can fault or read it and
 * when it leaves. */
#ifndef WISP_EMU_JIT_H
#define WISP_EMU_JIT_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

struct emu_block;
struct emu_jit;

/* Translated code of one block: runs it from its first instruction and
 * returns how many instructions completed (the budget's count). cpu->rip
 * is then the next instruction to run. A fault longjmps to cpu->fault_jmp
 * as an interpreted instruction's would. */
typedef unsigned (*emu_jit_code)(struct emu_cpu *cpu);

/* A translator with its own executable code buffer, for one vCPU. A block
 * is translated the threshold-th time it runs (0 or 1: the first time).
 * NULL when the host refuses executable memory (the caller then
 * interprets). */
struct emu_jit *emu_jit_new(unsigned threshold);
void emu_jit_free(struct emu_jit *jit);

/* The code of block b, translating it when it has become hot enough; NULL
 * while it is to be interpreted. b must just have been found valid for
 * cpu's current state (its bytes, mode and privilege). */
emu_jit_code emu_jit_code_of(struct emu_jit *jit, struct emu_cpu *cpu, struct emu_block *b);

#endif
