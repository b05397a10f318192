/* Operand helpers: effective addresses, registers, r/m operands, the
 * stack, locked read-modify-write, branch targets. See exec.h and
 * operand.h. */
#include <string.h>

#include "exec.h"
#include "mem.h"
#include "operand.h"

uint64_t exec_ea(struct emu_cpu *cpu, const struct insn *insn)
{
	uint64_t a = (uint64_t)insn->disp;

	if (insn->rip_relative) {
		a += insn->next_rip;
	} else {
		if (insn->base != INSN_NO_REG)
			a += cpu->gpr[insn->base];
		if (insn->index != INSN_NO_REG)
			a += cpu->gpr[insn->index] * insn->scale;
	}
	/* The sum wraps at the address size: 16-bit forms such as [BX+SI+d]
	 * wrap at 64 KiB, 67-prefixed ones at 4 GiB, RIP-relative ones too. */
	return a & size_mask(insn->adsize);
}

unsigned exec_ea_seg(const struct insn *insn)
{
	if (insn->seg != INSN_NO_SEG)
		return insn->seg;
	/* Only RSP and RBP themselves (not R12/R13, which share their low
	 * encoding bits) select SS; 16-bit [BP+...] forms decode with base BP. */
	if (!insn->rip_relative && (insn->base == 4 || insn->base == 5))
		return SEG_SS;
	return SEG_DS;
}

uint64_t exec_get_reg(const struct emu_cpu *cpu, const struct insn *insn, unsigned reg, unsigned size)
{
	switch (size) {
	case 1:
		if (!insn->rex && reg >= 4 && reg < 8)
			return (cpu->gpr[reg - 4] >> 8) & 0xff;
		return cpu->gpr[reg] & 0xff;
	case 2:
		return cpu->gpr[reg] & 0xffff;
	case 4:
		return cpu->gpr[reg] & 0xffffffff;
	default:
		return cpu->gpr[reg];
	}
}

void exec_set_reg(struct emu_cpu *cpu, const struct insn *insn, unsigned reg, unsigned size, uint64_t v)
{
	uint64_t *r;

	switch (size) {
	case 1:
		if (!insn->rex && reg >= 4 && reg < 8) {
			r = &cpu->gpr[reg - 4];
			*r = (*r & ~0xff00ull) | (v & 0xff) << 8;
		} else {
			r = &cpu->gpr[reg];
			*r = (*r & ~0xffull) | (v & 0xff);
		}
		break;
	case 2:
		r = &cpu->gpr[reg];
		*r = (*r & ~0xffffull) | (v & 0xffff);
		break;
	case 4:
		/* 32-bit results zero the upper half in 64-bit mode; outside
		 * it the upper half is not architecturally visible. */
		cpu->gpr[reg] = v & 0xffffffff;
		break;
	default:
		cpu->gpr[reg] = v;
		break;
	}
}

uint64_t exec_get_rm(struct emu_cpu *cpu, const struct insn *insn, unsigned size)
{
	if (insn->mod == 3)
		return exec_get_reg(cpu, insn, insn->rm, size);
	return emu_read(cpu, exec_ea_seg(insn), exec_ea(cpu, insn), size);
}

void exec_set_rm(struct emu_cpu *cpu, const struct insn *insn, unsigned size, uint64_t v)
{
	if (insn->mod == 3)
		exec_set_reg(cpu, insn, insn->rm, size, v);
	else
		emu_write(cpu, exec_ea_seg(insn), exec_ea(cpu, insn), size, v & size_mask(size));
}

void exec_advance(struct emu_cpu *cpu, const struct insn *insn)
{
	switch (cpu->mode) {
	case EMU_MODE_LONG64:
		cpu->rip = insn->next_rip;
		break;
	case EMU_MODE_PROT32:
		cpu->rip = insn->next_rip & 0xffffffff;
		break;
	default:
		cpu->rip = insn->next_rip & 0xffff;
		break;
	}
}

/* ---- stack --------------------------------------------------------- */

unsigned exec_stack_addr_size(const struct emu_cpu *cpu)
{
	if (cpu->mode == EMU_MODE_LONG64)
		return 8;
	return cpu->seg[SEG_SS].db ? 4 : 2;
}

unsigned exec_stack_opsize(const struct emu_cpu *cpu, const struct insn *insn)
{
	if (cpu->mode == EMU_MODE_LONG64)
		return insn->opsize == 2 ? 2 : 8;
	return insn->opsize;
}

uint64_t exec_stack_peek(struct emu_cpu *cpu, uint64_t offset, unsigned size)
{
	uint64_t m = size_mask(exec_stack_addr_size(cpu));

	return emu_read(cpu, SEG_SS, (cpu->gpr[4] + offset) & m, size);
}

void exec_stack_poke(struct emu_cpu *cpu, uint64_t offset, unsigned size, uint64_t v)
{
	uint64_t m = size_mask(exec_stack_addr_size(cpu));

	emu_write(cpu, SEG_SS, (cpu->gpr[4] - offset) & m, size, v & size_mask(size));
}

void exec_stack_adjust(struct emu_cpu *cpu, int64_t delta)
{
	uint64_t m = size_mask(exec_stack_addr_size(cpu));

	cpu->gpr[4] = (cpu->gpr[4] & ~m) | ((cpu->gpr[4] + (uint64_t)delta) & m);
}

void exec_push(struct emu_cpu *cpu, unsigned size, uint64_t v)
{
	/* Write first: a faulting push leaves RSP as it was. */
	exec_stack_poke(cpu, size, size, v);
	exec_stack_adjust(cpu, -(int64_t)size);
}

uint64_t exec_pop(struct emu_cpu *cpu, unsigned size)
{
	uint64_t v = exec_stack_peek(cpu, 0, size);

	exec_stack_adjust(cpu, size);
	return v;
}

/* ---- read-modify-write ---------------------------------------------- */

static uint64_t host_load(const void *p, unsigned size, bool atomic)
{
	uint8_t b;
	uint16_t w;
	uint32_t d;
	uint64_t q;

	if (atomic) {
		switch (size) {
		case 1: return __atomic_load_n((const uint8_t *)p, __ATOMIC_SEQ_CST);
		case 2: return __atomic_load_n((const uint16_t *)p, __ATOMIC_SEQ_CST);
		case 4: return __atomic_load_n((const uint32_t *)p, __ATOMIC_SEQ_CST);
		default: return __atomic_load_n((const uint64_t *)p, __ATOMIC_SEQ_CST);
		}
	}
	/* Guest operands need not be aligned: copy rather than dereference. */
	switch (size) {
	case 1: memcpy(&b, p, 1); return b;
	case 2: memcpy(&w, p, 2); return w;
	case 4: memcpy(&d, p, 4); return d;
	default: memcpy(&q, p, 8); return q;
	}
}

static void host_store(void *p, unsigned size, uint64_t v)
{
	uint8_t b = (uint8_t)v;
	uint16_t w = (uint16_t)v;
	uint32_t d = (uint32_t)v;

	switch (size) {
	case 1: memcpy(p, &b, 1); break;
	case 2: memcpy(p, &w, 2); break;
	case 4: memcpy(p, &d, 4); break;
	default: memcpy(p, &v, 8); break;
	}
}

/* Compare-and-swap on host memory; on failure *old becomes the current
 * value. The x86 host does this with LOCK CMPXCHG, which, like the guest's
 * locked instruction, also works on unaligned operands. */
static bool host_cas(void *p, unsigned size, uint64_t *old, uint64_t v)
{
	bool ok;

	switch (size) {
	case 1: {
		uint8_t e = (uint8_t)*old;
		ok = __atomic_compare_exchange_n((uint8_t *)p, &e, (uint8_t)v, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = e;
		break;
	}
	case 2: {
		uint16_t e = (uint16_t)*old;
		ok = __atomic_compare_exchange_n((uint16_t *)p, &e, (uint16_t)v, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = e;
		break;
	}
	case 4: {
		uint32_t e = (uint32_t)*old;
		ok = __atomic_compare_exchange_n((uint32_t *)p, &e, (uint32_t)v, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = e;
		break;
	}
	default: {
		uint64_t e = *old;
		ok = __atomic_compare_exchange_n((uint64_t *)p, &e, v, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = e;
		break;
	}
	}
	return ok;
}

uint64_t exec_rmw_load_mem(struct emu_cpu *cpu, unsigned seg, uint64_t ea, unsigned size,
			   bool locked, struct exec_rmw *m)
{
	memset(m, 0, sizeof(*m));
	m->seg = (uint8_t)seg;
	m->ea = ea;
	m->size = (uint8_t)size;
	m->locked = locked;
	/* Asking for a host pointer first also checks (and faults) the
	 * operand for writing before anything is read, as a read-modify-write
	 * does on hardware. */
	m->ptr = emu_rmw_ptr(cpu, seg, ea, size);
	if (m->ptr)
		return host_load(m->ptr, size, locked);
	return emu_read(cpu, seg, ea, size);
}

uint64_t exec_rmw_load_rm(struct emu_cpu *cpu, const struct insn *insn, unsigned size,
			  struct exec_rmw *m)
{
	if (insn->mod == 3) {
		exec_no_lock(cpu, insn);
		memset(m, 0, sizeof(*m));
		m->is_reg = true;
		m->reg = insn->rm;
		m->size = (uint8_t)size;
		m->insn = insn;
		return exec_get_reg(cpu, insn, insn->rm, size);
	}
	return exec_rmw_load_mem(cpu, exec_ea_seg(insn), exec_ea(cpu, insn), size,
				 insn->prefixes & PFX_LOCK, m);
}

bool exec_rmw_store(struct emu_cpu *cpu, struct exec_rmw *m, uint64_t *old, uint64_t v)
{
	v &= size_mask(m->size);
	if (m->is_reg) {
		exec_set_reg(cpu, m->insn, m->reg, m->size, v);
		return true;
	}
	if (!m->ptr) {
		emu_write(cpu, m->seg, m->ea, m->size, v);
		return true;
	}
	if (m->locked)
		return host_cas(m->ptr, m->size, old, v);
	host_store(m->ptr, m->size, v);
	return true;
}

/* ---- branches ------------------------------------------------------ */

unsigned exec_branch_opsize(const struct emu_cpu *cpu, const struct insn *insn)
{
	return cpu->mode == EMU_MODE_LONG64 ? 8 : insn->opsize;
}

uint64_t exec_branch_target(struct emu_cpu *cpu, uint64_t target, unsigned opsize)
{
	target &= size_mask(opsize);
	if (cpu->mode == EMU_MODE_LONG64) {
		/* Canonical: bits 63..47 all equal. */
		if (!emu_canonical(target))
			emu_raise_gp(cpu, 0);
	} else if (target > cpu->seg[SEG_CS].limit) {
		emu_raise_gp(cpu, 0);
	}
	return target;
}
