/* I/O permission (SDM vol. 1 ch. 19.5): in protected mode, CPL <= IOPL
 * may use any port; otherwise every port of the access must be clear in
 * the I/O permission bitmap of a 32- or 64-bit TSS. */
#include "io.h"
#include "mem.h"
#include "segment.h"

void emu_check_io(struct emu_cpu *cpu, uint16_t port, unsigned size)
{
	const struct emu_segment *tr = &cpu->tr;
	uint32_t base, off;
	uint16_t bits;

	if (cpu->mode == EMU_MODE_REAL)
		return;
	if (cpu->cpl <= ((cpu->rflags & EMU_IOPL) >> 12))
		return;
	/* A 16-bit TSS has no bitmap; the bitmap offset lives at 0x66. */
	if (tr->unusable || (tr->type & ~0x2u) != DESC_TSS_AVL || tr->limit < 0x67)
		emu_raise_gp(cpu, 0);
	base = (uint32_t)emu_read_linear(cpu, tr->base + 0x66, 2, true);
	off = base + port / 8;
	/* The processor always reads two bytes, so both must be inside
	 * the TSS. */
	if ((uint64_t)off + 1 > tr->limit)
		emu_raise_gp(cpu, 0);
	bits = (uint16_t)emu_read_linear(cpu, tr->base + off, 2, true);
	if ((bits >> (port & 7)) & ((1u << size) - 1))
		emu_raise_gp(cpu, 0);
}
