#include "interp.h"

#include <string.h>

#include "block.h"
#include "decode.h"
#include "interrupt.h"
#include "jit.h"
#include "mem.h"

/* Mask rip to the code size outside 64-bit mode. */
static uint64_t code_rip(const struct emu_cpu *cpu, uint64_t rip)
{
	switch (cpu->mode) {
	case EMU_MODE_LONG64:
		return rip;
	case EMU_MODE_PROT32:
		return rip & 0xffffffffull;
	default:
		return rip & 0xffffull;
	}
}

/* Fetch and decode the instruction at cpu->rip. A fault on any of its
 * bytes is raised. */
static void fetch_decode(struct emu_cpu *cpu, struct insn *insn)
{
	uint8_t bytes[INSN_MAX_LEN];
	unsigned got = emu_fetch(cpu, cpu->rip, bytes, sizeof(bytes));

	switch (emu_decode(insn, bytes, got, cpu->mode)) {
	case DECODE_OK:
		break;
	case DECODE_NEED_MORE:
		/* The bytes stopped at a page that faults (emu_fetch returns
		 * short rather than raise for a later byte), or at the 15-byte
		 * limit: fetching that byte alone raises the fault. */
		if (got < sizeof(bytes))
			emu_fetch(cpu, cpu->rip + got, bytes, 1);
		emu_raise_ud(cpu);
	case DECODE_INVALID:
		emu_raise_ud(cpu);
	}
	insn->next_rip = code_rip(cpu, cpu->rip + insn->len);
}

static void execute_one(struct emu_cpu *cpu, const struct exec_table *table)
{
	struct insn insn;
	exec_fn fn;

	fetch_decode(cpu, &insn);
	fn = table->fn[insn.map][insn.op];
	if (!fn) {
		emu_report_unimplemented(cpu, EMU_UNIMPL_OPCODE(insn.map, insn.op),
					 "opcode %s%02x (or it is undefined)",
					 insn.map == MAP_PRIMARY ? "" : insn.map == MAP_0F ? "0f " :
					 insn.map == MAP_0F38 ? "0f 38 " : "0f 3a ", insn.op);
		emu_raise_ud(cpu);
	}
	/* STI, MOV SS and POP SS set the shadow again for the instruction
	 * after them; any other instruction ends it. */
	cpu->interrupt_shadow = false;
	fn(cpu, &insn);
}

/* Linear address of cs:rip, as emu_fetch forms it. */
static uint64_t code_linear(const struct emu_cpu *cpu)
{
	if (cpu->mode == EMU_MODE_LONG64)
		return cpu->rip;
	return (cpu->seg[SEG_CS].base + cpu->rip) & 0xffffffffull;
}

/* Decode a block from the bytes of one page, stopping before anything that
 * does not decode wholly within the page or has no handler: the slow path
 * (execute_one) takes those, with their faults. */
static void build_block(struct emu_cpu *cpu, const struct exec_table *table, struct emu_block *b,
			const uint8_t *code, unsigned avail)
{
	uint64_t rip = cpu->rip;
	unsigned off = 0, n = 0;

	if (avail > BLOCK_MAX_BYTES)
		avail = BLOCK_MAX_BYTES;
	while (n < BLOCK_MAX_INSNS && off < avail) {
		struct block_insn *bi = &b->insns[n];
		unsigned left = avail - off;

		if (emu_decode(&bi->insn, code + off, left < INSN_MAX_LEN ? left : INSN_MAX_LEN,
			       cpu->mode) != DECODE_OK)
			break;
		bi->fn = table->fn[bi->insn.map][bi->insn.op];
		if (!bi->fn)
			break;
		off += bi->insn.len;
		rip = code_rip(cpu, rip + bi->insn.len);
		bi->insn.next_rip = rip;
		n++;
		if (emu_block_ends_after(&bi->insn))
			break;
	}
	b->ninsns = (uint8_t)n;
	b->nbytes = (uint8_t)off;
}

/* Find or build the block at cs:rip. NULL when the code is not in RAM or
 * its first instruction needs the slow path. */
static struct emu_block *get_block(struct emu_cpu *cpu, const struct exec_table *table,
				   const uint8_t **code_out)
{
	struct emu_block_cache *cache = cpu->blocks;
	uint64_t la = code_linear(cpu);
	uint64_t pa;
	const uint8_t *code;
	struct emu_block *b, **slot;

	if (cpu->mode == EMU_MODE_LONG64) {
		/* Non-canonical rips fault in emu_fetch, on the slow path. */
		if (!emu_canonical(la))
			return NULL;
	} else if (cpu->rip > cpu->seg[SEG_CS].limit) {
		return NULL;
	}
	code = emu_code_ptr(cpu, la, &pa);
	if (!code || (pa >> 12) >= cpu->code_map->pages)
		return NULL;
	/* Two ways: the most recently used of a pair in the even slot. */
	slot = &cache->slot[(la ^ (la >> 12) ^ (la >> 26)) & (BLOCK_HASH_SIZE - 2)];
	for (unsigned way = 0; way < 2; way++) {
		b = slot[way];
		if (b && b->la == la && b->pa == pa && b->rip == cpu->rip && b->mode == cpu->mode &&
		    b->cpl == cpu->cpl && emu_code_map_current(cpu->code_map, pa >> 12, b->gen)) {
			if (way) {
				slot[1] = slot[0];
				slot[0] = b;
			}
			*code_out = code;
			return b;
		}
	}
	b = &cache->scratch.block;
	memset(b, 0, sizeof(*b));
	b->la = la;
	b->pa = pa;
	b->rip = cpu->rip;
	b->mode = (uint8_t)cpu->mode;
	b->cpl = (uint8_t)cpu->cpl;
	/* Flag the page before reading its bytes (code_map.h). */
	b->gen = emu_code_map_mark(cpu->code_map, pa >> 12);
	/* Outside 64-bit mode the segment limit may end the code early. */
	{
		unsigned avail = 4096 - (unsigned)(pa & 0xfff);
		if (cpu->mode != EMU_MODE_LONG64 &&
		    cpu->seg[SEG_CS].limit - cpu->rip + 1 < avail)
			avail = (unsigned)(cpu->seg[SEG_CS].limit - cpu->rip + 1);
		build_block(cpu, table, b, code, avail);
	}
	if (!b->ninsns)
		return NULL;
	b = emu_block_cache_store(cache, b);
	slot[1] = slot[0];
	slot[0] = b;
	*code_out = code;
	return b;
}

/* Run one block (or one instruction on the slow path); count what ran. */
static void run_block(struct emu_cpu *cpu, const struct exec_table *table,
		      volatile uint64_t *done)
{
	const uint8_t *code;
	struct emu_block *b = get_block(cpu, table, &code);

	if (!b) {
		execute_one(cpu, table);
		(*done)++;
		return;
	}
	cpu->code_watch_lo = code;
	cpu->code_watch_hi = code + b->nbytes;
	cpu->smc_hit = false;
	if (cpu->jit) {
		emu_jit_code jitted = emu_jit_code_of(cpu->jit, cpu, b);

		if (jitted) {
			*done += jitted(cpu);
			cpu->jit_done = 0;
			goto out;
		}
	}
	for (unsigned i = 0; i < b->ninsns; i++) {
		const struct block_insn *bi = &b->insns[i];

		cpu->interrupt_shadow = false;
		bi->fn(cpu, &bi->insn);
		(*done)++;
		/* A branch taken, a string instruction to be resumed, a mode
		 * change or a write into this block's own bytes: the rest of
		 * the block is not what runs next. */
		if (cpu->rip != bi->insn.next_rip || cpu->mode != b->mode || cpu->smc_hit)
			break;
	}
out:
	/* A write into the block's own bytes bumped its page's generation:
	 * it is decoded afresh at its next entry. */
	cpu->code_watch_lo = cpu->code_watch_hi = NULL;
}

enum emu_stop emu_run(struct emu_cpu *cpu, const struct exec_table *table, uint64_t max_insns,
		      atomic_bool *exit_request)
{
	jmp_buf fault;
	volatile uint64_t done = 0;
	volatile enum emu_stop stop = EMU_STOP_BUDGET;

	cpu->fault_jmp = &fault;
	if (setjmp(fault)) {
		/* An instruction raised cpu->event: deliver it from the
		 * faulting instruction's boundary. */
		done += 1 + cpu->jit_done;
		cpu->jit_done = 0;
		/* A block the fault left may have written its own bytes: its
		 * page's generation says so at its next entry. */
		cpu->code_watch_lo = cpu->code_watch_hi = NULL;
		emu_deliver_event(cpu);
		cpu->fault_jmp = &fault;
		if (cpu->triple_fault) {
			stop = EMU_STOP_SHUTDOWN;
			goto out;
		}
	}
	while (done < max_insns) {
		if (atomic_load_explicit(exit_request, memory_order_relaxed)) {
			stop = EMU_STOP_REQUEST;
			break;
		}
		if (cpu->halted) {
			stop = EMU_STOP_HALT;
			break;
		}
		if (cpu->irq_window_exit && (cpu->rflags & EMU_IF) && !cpu->interrupt_shadow) {
			stop = EMU_STOP_IRQ_WINDOW;
			break;
		}
		if (cpu->blocks && cpu->code_map) {
			run_block(cpu, table, &done);
		} else {
			execute_one(cpu, table);
			done++;
		}
	}
out:
	cpu->fault_jmp = NULL;
	return stop;
}

int emu_step(struct emu_cpu *cpu, const struct exec_table *table)
{
	jmp_buf fault;
	volatile int vector = -1;

	cpu->fault_jmp = &fault;
	if (setjmp(fault)) {
		vector = cpu->event.vector;
		emu_deliver_event(cpu);
	} else {
		execute_one(cpu, table);
	}
	cpu->fault_jmp = NULL;
	return vector;
}
