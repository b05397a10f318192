/* Segmentation of the software core: descriptor tables, loading segment
 * registers with the checks of each mode, far transfers of control (JMP,
 * CALL, RET), LDTR and TR, and the stack helpers the privileged transfers
 * (here and in interrupt.c) share.
 *
 * Not modelled: call gates and task gates/task switches (far JMP/CALL
 * through them raises #GP(selector); no mainstream OS uses them on
 * x86-64, and Linux uses neither), virtual-8086 mode. */
#ifndef WISP_EMU_SEGMENT_H
#define WISP_EMU_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

/* Descriptor type bits (S = 1). */
#define DESC_ACCESSED   0x1
#define DESC_WRITABLE   0x2    /* data */
#define DESC_READABLE   0x2    /* code */
#define DESC_EXPAND_DN  0x4    /* data */
#define DESC_CONFORMING 0x4    /* code */
#define DESC_CODE       0x8
/* System descriptor types (S = 0). */
#define DESC_LDT        0x2
#define DESC_TSS16_AVL  0x1
#define DESC_TSS16_BUSY 0x3
#define DESC_TSS_AVL    0x9    /* 32-bit, or 64-bit in long mode */
#define DESC_TSS_BUSY   0xb
#define DESC_INT_GATE16 0x6
#define DESC_TRAP_GATE16 0x7
#define DESC_INT_GATE   0xe    /* 32-bit, or 64-bit in long mode */
#define DESC_TRAP_GATE  0xf

/* The error code naming a selector: its index and TI, RPL dropped. */
static inline uint32_t sel_error(uint16_t sel)
{
	return sel & 0xfffcu;
}

static inline bool sel_is_null(uint16_t sel)
{
	return (sel & 0xfffcu) == 0;
}

/* Read the descriptor for sel from the GDT or LDT (8 bytes, or 16 for a
 * system descriptor in long mode when wide). Returns false when it lies
 * beyond the table's limit (or names an unusable LDT): the caller raises
 * the fault its instruction defines. Page faults on the table raise. */
bool emu_desc_read(struct emu_cpu *cpu, uint16_t sel, uint64_t desc[2], bool wide);

/* Decode a descriptor into a segment register cache (with the upper base
 * of a wide system descriptor when wide). */
void emu_desc_decode(const uint64_t desc[2], uint16_t sel, bool wide, struct emu_segment *out);

/* Set the accessed bit of sel's code/data descriptor in memory if clear. */
void emu_desc_set_accessed(struct emu_cpu *cpu, uint16_t sel, uint64_t desc);

/* MOV/POP Sreg, LDS/LES/LFS/LGS/LSS: load a data segment register or SS
 * (not CS) with the checks of the current mode. */
void emu_load_sreg(struct emu_cpu *cpu, unsigned sreg, uint16_t sel);

/* LLDT / LTR (the CPL 0 check is the caller's). */
void emu_load_ldtr(struct emu_cpu *cpu, uint16_t sel);
void emu_load_tr(struct emu_cpu *cpu, uint16_t sel);

/* Install a checked CS and the CPL that goes with it (sets SS.DPL's CPL
 * only through emu_update_mode when SS is loaded too: callers that change
 * privilege load SS after CS). */
void emu_set_cs(struct emu_cpu *cpu, const struct emu_segment *cs, unsigned cpl);

/* Checks of a far return (RET far, IRET) in protected/long mode: the CS
 * to return to, and for a return to an outer level (or any IRET in 64-bit
 * mode) the SS. Raise #GP/#NP/#SS as the SDM's RET and IRET define. */
void emu_check_return_cs(struct emu_cpu *cpu, uint16_t sel, struct emu_segment *cs);
void emu_check_return_ss(struct emu_cpu *cpu, uint16_t sel, unsigned rpl,
			 const struct emu_segment *cs, struct emu_segment *ss);

/* After a return to an outer privilege level: data segment registers the
 * new CPL may not use become null. */
void emu_null_inaccessible_segments(struct emu_cpu *cpu);

/* Far transfers (all modes). ret_rip: the return address CALL pushes. */
void emu_far_jmp(struct emu_cpu *cpu, uint16_t sel, uint64_t offset, unsigned opsize);
void emu_far_call(struct emu_cpu *cpu, uint16_t sel, uint64_t offset, unsigned opsize,
		  uint64_t ret_rip);
void emu_far_ret(struct emu_cpu *cpu, unsigned opsize, uint16_t pop_bytes);

/* ---- the stack ---------------------------------------------------------
 * The address size of SS:RSP (8 in 64-bit mode, else 4 or 2 by SS.B),
 * reads/writes at a given stack pointer (masked to that size) without
 * moving RSP, and committing a new RSP. Transfers that push or pop several
 * values compute every access first and move RSP last, so a fault leaves
 * RSP untouched. */
unsigned emu_stack_size(const struct emu_cpu *cpu);
uint64_t emu_stack_read(struct emu_cpu *cpu, uint64_t sp, unsigned size);
void emu_stack_write(struct emu_cpu *cpu, uint64_t sp, unsigned size, uint64_t v);
void emu_set_sp(struct emu_cpu *cpu, uint64_t sp);

#endif
