/* Port I/O for the instructions that do it (IN/OUT in control.c,
 * INS/OUTS in string.c): the permission check, and the accesses through
 * cpu->env. */
#ifndef WISP_EMU_IO_H
#define WISP_EMU_IO_H

#include <stdint.h>

#include "cpu.h"

/* Raise #GP(0) unless the current privilege may access size bytes at
 * port: CPL <= IOPL, or (protected mode, and always in virtual-8086 mode)
 * the TSS I/O permission bitmap allows every byte. The system family
 * implements it (io_perm.c). */
void emu_check_io(struct emu_cpu *cpu, uint16_t port, unsigned size);

/* A port read of size bytes (1, 2, 4); with no device model behind the
 * core, ports read as all ones, as an empty ISA bus does. */
static inline uint64_t emu_pio_in(struct emu_cpu *cpu, uint16_t port, unsigned size)
{
	uint64_t m = (1ull << (8 * size)) - 1;

	if (!cpu->env || !cpu->env->pio_read)
		return m;
	return cpu->env->pio_read(cpu->env, port, size) & m;
}

static inline void emu_pio_out(struct emu_cpu *cpu, uint16_t port, unsigned size, uint64_t v)
{
	if (cpu->env && cpu->env->pio_write)
		cpu->env->pio_write(cpu->env, port, size, v & ((1ull << (8 * size)) - 1));
}

#endif
