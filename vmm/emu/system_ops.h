/* Handlers of the system family, by file (internal: system.c registers
 * them in the opcode table). */
#ifndef WISP_EMU_SYSTEM_OPS_H
#define WISP_EMU_SYSTEM_OPS_H

#include "exec.h"

/* sysdesc.c: segment registers, descriptor tables, far transfers. */
void sys_push_sreg(struct emu_cpu *cpu, const struct insn *insn);
void sys_pop_sreg(struct emu_cpu *cpu, const struct insn *insn);
void sys_mov_to_sreg(struct emu_cpu *cpu, const struct insn *insn);
void sys_mov_from_sreg(struct emu_cpu *cpu, const struct insn *insn);
void sys_load_far_pointer(struct emu_cpu *cpu, const struct insn *insn);
void sys_jmp_far(struct emu_cpu *cpu, const struct insn *insn);
void sys_call_far(struct emu_cpu *cpu, const struct insn *insn);
void sys_ret_far(struct emu_cpu *cpu, const struct insn *insn);
void sys_iret(struct emu_cpu *cpu, const struct insn *insn);
void sys_group6(struct emu_cpu *cpu, const struct insn *insn);
void sys_group7(struct emu_cpu *cpu, const struct insn *insn);
void sys_lar_lsl(struct emu_cpu *cpu, const struct insn *insn);

/* syscall.c: fast system calls. */
void sys_syscall(struct emu_cpu *cpu, const struct insn *insn);
void sys_sysret(struct emu_cpu *cpu, const struct insn *insn);
void sys_sysenter(struct emu_cpu *cpu, const struct insn *insn);
void sys_sysexit(struct emu_cpu *cpu, const struct insn *insn);
void sys_swapgs(struct emu_cpu *cpu, const struct insn *insn);

/* system.c */
void sys_rdtscp(struct emu_cpu *cpu, const struct insn *insn);

#endif
