/* String instructions: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS, each with
 * its REP/REPE/REPNE forms.
 *
 * Addressing: rSI in DS (or the segment override), rDI always in ES; the
 * address size selects SI/ESI/RSI, DI/EDI/RDI and CX/ECX/RCX, and they are
 * written back as registers of that size (16-bit: the low word merges;
 * 32-bit: zero-extended, as on the host CPU). DF picks the direction.
 *
 * Interruptibility: one call of a REP handler runs at most
 * STRING_BUDGET element steps (a fast-path chunk of up to a page counts
 * FAST_COST steps) and then returns with rip still on the instruction and
 * rCX/rSI/rDI describing what is left, so the execution loop can deliver
 * interrupts and count the budget of its caller; executing the instruction
 * again continues where it stopped. A fault in the middle likewise leaves
 * the registers at the faulting element, as the architecture requires.
 *
 * Fast path: REP MOVS and REP STOS with DF = 0 move whole runs that stay
 * within one page of the source and one of the destination with
 * memcpy/memset on the host mapping when both are RAM. The byte-by-byte
 * (element-by-element) semantics are kept for overlapping ranges: a
 * destination starting inside the source replicates the leading bytes, as
 * the forward copy does. */
#include <string.h>

#include "exec.h"
#include "flags.h"
#include "io.h"
#include "mem.h"
#include "operand.h"
#include "tlb.h"        /* emu_phys_host_page: a read pointer for the fast path */

#define STRING_BUDGET 256
#define FAST_COST 16

struct str {
	unsigned size;          /* element size */
	uint64_t amask;         /* address-size mask */
	int64_t step;           /* +size, or -size with DF */
	unsigned src_seg;
	uint16_t port;          /* INS/OUTS */
};

typedef void (*str_step_fn)(struct emu_cpu *cpu, const struct insn *insn, const struct str *s);
/* Elements done by the fast path at once (0: take the slow path). */
typedef uint64_t (*str_fast_fn)(struct emu_cpu *cpu, const struct insn *insn, const struct str *s,
				uint64_t count);

static inline uint64_t reg_addr(const struct emu_cpu *cpu, unsigned reg, const struct str *s)
{
	return cpu->gpr[reg] & s->amask;
}

/* rSI/rDI/rCX += delta, as a register of the address size. */
static inline void reg_add(struct emu_cpu *cpu, const struct insn *insn, unsigned reg, int64_t delta)
{
	exec_set_reg(cpu, insn, reg, insn->adsize, cpu->gpr[reg] + (uint64_t)delta);
}

/* ---- one element ------------------------------------------------------ */

static void movs_step(struct emu_cpu *cpu, const struct insn *insn, const struct str *s)
{
	uint64_t v = emu_read(cpu, s->src_seg, reg_addr(cpu, 6, s), s->size);

	emu_write(cpu, SEG_ES, reg_addr(cpu, 7, s), s->size, v);
	reg_add(cpu, insn, 6, s->step);
	reg_add(cpu, insn, 7, s->step);
}

static void stos_step(struct emu_cpu *cpu, const struct insn *insn, const struct str *s)
{
	emu_write(cpu, SEG_ES, reg_addr(cpu, 7, s), s->size, cpu->gpr[0] & size_mask(s->size));
	reg_add(cpu, insn, 7, s->step);
}

static void lods_step(struct emu_cpu *cpu, const struct insn *insn, const struct str *s)
{
	uint64_t v = emu_read(cpu, s->src_seg, reg_addr(cpu, 6, s), s->size);

	exec_set_reg(cpu, insn, 0, s->size, v);
	reg_add(cpu, insn, 6, s->step);
}

static void cmps_step(struct emu_cpu *cpu, const struct insn *insn, const struct str *s)
{
	uint64_t a = emu_read(cpu, s->src_seg, reg_addr(cpu, 6, s), s->size);
	uint64_t b = emu_read(cpu, SEG_ES, reg_addr(cpu, 7, s), s->size);

	emu_flags_set(cpu, CC_OP_SUB, s->size, a - b, a, b);
	reg_add(cpu, insn, 6, s->step);
	reg_add(cpu, insn, 7, s->step);
}

static void scas_step(struct emu_cpu *cpu, const struct insn *insn, const struct str *s)
{
	uint64_t a = cpu->gpr[0] & size_mask(s->size);
	uint64_t b = emu_read(cpu, SEG_ES, reg_addr(cpu, 7, s), s->size);

	emu_flags_set(cpu, CC_OP_SUB, s->size, a - b, a, b);
	reg_add(cpu, insn, 7, s->step);
}

/* INS: the destination is checked (and faults) before the port is read, so
 * a faulting INS does not lose a byte the device already handed over. */
static void ins_step(struct emu_cpu *cpu, const struct insn *insn, const struct str *s)
{
	uint64_t di = reg_addr(cpu, 7, s), v;
	void *p = emu_rmw_ptr(cpu, SEG_ES, di, s->size);

	v = emu_pio_in(cpu, s->port, s->size);
	if (p)
		memcpy(p, &v, s->size);         /* little-endian host */
	else
		emu_write(cpu, SEG_ES, di, s->size, v);
	reg_add(cpu, insn, 7, s->step);
}

static void outs_step(struct emu_cpu *cpu, const struct insn *insn, const struct str *s)
{
	uint64_t v = emu_read(cpu, s->src_seg, reg_addr(cpu, 6, s), s->size);

	emu_pio_out(cpu, s->port, s->size, v);
	reg_add(cpu, insn, 6, s->step);
}

/* ---- fast path -------------------------------------------------------- */

/* How many bytes (a multiple of the element size, at most len) from offset
 * off of segment seg stay within one page, the address size and, outside
 * 64-bit mode, an expand-up segment's limit. Checks the first element as
 * the slow path would (faulting the same way). la: its linear address. */
static uint64_t run_room(struct emu_cpu *cpu, unsigned seg, uint64_t off, uint64_t len,
			 const struct str *s, enum emu_access kind, uint64_t *la)
{
	const struct emu_segment *sg = &cpu->seg[seg];
	uint64_t room;

	*la = emu_linear(cpu, seg, off, s->size, kind);
	room = 4096 - (*la & 0xfff);
	if (room < len)
		len = room;
	if (s->amask - off + 1 < len && s->amask != ~0ull)
		len = s->amask - off + 1;
	if (cpu->mode != EMU_MODE_LONG64) {
		if (cpu->mode != EMU_MODE_REAL && !(sg->type & 8) && (sg->type & 4))
			return 0;       /* expand-down: leave it to the slow path */
		if (sg->limit - off + 1 < len)
			len = sg->limit - off + 1;
	}
	return len - len % s->size;
}

/* Copy len bytes forward, element by element in effect (see the top of the
 * file). false: the overlap is closer than one element, which only the
 * slow path gets right. */
static bool copy_forward(uint8_t *d, const uint8_t *src, uint64_t len, unsigned esize)
{
	uint64_t dist, done, n;

	if (d <= src || d >= src + len) {
		memmove(d, src, len);
		return true;
	}
	dist = (uint64_t)(d - src);
	if (dist < esize)
		return false;
	/* Every byte from dist on was written by the copy before it is
	 * read: the result repeats the first dist bytes. */
	memcpy(d, src, dist);
	for (done = dist; done < len; done += n) {
		n = done < len - done ? done : len - done;
		memcpy(d + done, d, n);
	}
	return true;
}

static uint64_t movs_fast(struct emu_cpu *cpu, const struct insn *insn, const struct str *s,
			  uint64_t count)
{
	uint64_t si = reg_addr(cpu, 6, s), di = reg_addr(cpu, 7, s), sla, dla, spa, len;
	uint8_t *sp, *dp;

	if (s->step < 0 || count < 2)
		return 0;
	len = (count < 4096 ? count : 4096) * s->size;
	len = run_room(cpu, s->src_seg, si, len, s, EMU_READ, &sla);
	if (len)
		len = run_room(cpu, SEG_ES, di, len, s, EMU_WRITE, &dla);
	if (len < 2 * (uint64_t)s->size)
		return 0;
	spa = emu_translate(cpu, sla, EMU_READ, false);
	sp = emu_phys_host_page(cpu, spa);
	if (!sp)
		return 0;
	dp = emu_rmw_ptr(cpu, SEG_ES, di, (unsigned)len);
	if (!dp || !copy_forward(dp, sp + (spa & 0xfff), len, s->size))
		return 0;
	reg_add(cpu, insn, 6, (int64_t)len);
	reg_add(cpu, insn, 7, (int64_t)len);
	return len / s->size;
}

static uint64_t stos_fast(struct emu_cpu *cpu, const struct insn *insn, const struct str *s,
			  uint64_t count)
{
	uint64_t di = reg_addr(cpu, 7, s), dla, len, v = cpu->gpr[0], done, n;
	uint8_t *dp;

	if (s->step < 0 || count < 2)
		return 0;
	len = (count < 4096 ? count : 4096) * s->size;
	len = run_room(cpu, SEG_ES, di, len, s, EMU_WRITE, &dla);
	if (len < 2 * (uint64_t)s->size)
		return 0;
	dp = emu_rmw_ptr(cpu, SEG_ES, di, (unsigned)len);
	if (!dp)
		return 0;
	if (s->size == 1) {
		memset(dp, (int)(v & 0xff), len);
	} else {
		memcpy(dp, &v, s->size);
		for (done = s->size; done < len; done += n) {
			n = done < len - done ? done : len - done;
			memcpy(dp + done, dp, n);
		}
	}
	reg_add(cpu, insn, 7, (int64_t)len);
	return len / s->size;
}

/* ---- the loop ----------------------------------------------------------- */

/* conditional: CMPS/SCAS, where REPE (F3) stops on ZF = 0 and REPNE (F2) on
 * ZF = 1. For the others F2 acts as F3. */
static void str_run(struct emu_cpu *cpu, const struct insn *insn, struct str *s,
		    str_step_fn step, str_fast_fn fast, bool conditional)
{
	unsigned budget = STRING_BUDGET;
	uint64_t cnt, n;

	s->amask = exec_addr_mask(insn);
	s->step = (cpu->rflags & EMU_DF) ? -(int64_t)s->size : (int64_t)s->size;
	s->src_seg = exec_src_seg(insn);
	if (!(insn->prefixes & (PFX_REP | PFX_REPNE))) {
		step(cpu, insn, s);
		exec_advance(cpu, insn);
		return;
	}
	for (;;) {
		cnt = cpu->gpr[1] & s->amask;
		if (cnt == 0)
			break;
		if (fast && (n = fast(cpu, insn, s, cnt)) != 0) {
			reg_add(cpu, insn, 1, -(int64_t)n);
			if (budget <= FAST_COST) {
				if (cnt - n != 0)
					return;         /* continue on the next call */
				break;
			}
			budget -= FAST_COST;
			continue;
		}
		step(cpu, insn, s);
		reg_add(cpu, insn, 1, -1);
		if (conditional && emu_cond(cpu, (insn->prefixes & PFX_REP) ? 5 : 4))
			break;  /* REPE: ZF = 0 (NE); REPNE: ZF = 1 (E) */
		if (--budget == 0) {
			if (cnt - 1 != 0)
				return;                 /* continue on the next call */
			break;
		}
	}
	exec_advance(cpu, insn);
}

static inline unsigned bw_size(const struct insn *insn)
{
	return (insn->op & 1) ? insn->opsize : 1;
}

static void op_movs(struct emu_cpu *cpu, const struct insn *insn)
{
	struct str s = { .size = bw_size(insn) };

	exec_no_lock(cpu, insn);
	str_run(cpu, insn, &s, movs_step, movs_fast, false);
}

static void op_stos(struct emu_cpu *cpu, const struct insn *insn)
{
	struct str s = { .size = bw_size(insn) };

	exec_no_lock(cpu, insn);
	str_run(cpu, insn, &s, stos_step, stos_fast, false);
}

static void op_lods(struct emu_cpu *cpu, const struct insn *insn)
{
	struct str s = { .size = bw_size(insn) };

	exec_no_lock(cpu, insn);
	str_run(cpu, insn, &s, lods_step, NULL, false);
}

static void op_cmps(struct emu_cpu *cpu, const struct insn *insn)
{
	struct str s = { .size = bw_size(insn) };

	exec_no_lock(cpu, insn);
	str_run(cpu, insn, &s, cmps_step, NULL, true);
}

static void op_scas(struct emu_cpu *cpu, const struct insn *insn)
{
	struct str s = { .size = bw_size(insn) };

	exec_no_lock(cpu, insn);
	str_run(cpu, insn, &s, scas_step, NULL, true);
}

/* 6C/6D INS, 6E/6F OUTS: the port is DX; 32-bit at most. */
static void op_ins_outs(struct emu_cpu *cpu, const struct insn *insn)
{
	struct str s = {
		.size = (insn->op & 1) ? (insn->opsize == 2 ? 2 : 4) : 1,
		.port = (uint16_t)cpu->gpr[2],
	};

	exec_no_lock(cpu, insn);
	/* With REP and a zero count nothing is accessed, but the permission
	 * check comes first on hardware too. */
	emu_check_io(cpu, s.port, s.size);
	str_run(cpu, insn, &s, insn->op < 0x6e ? ins_step : outs_step, NULL, false);
}

void exec_register_string(struct exec_table *t)
{
	exec_fn *p = t->fn[MAP_PRIMARY];

	p[0xa4] = p[0xa5] = op_movs;
	p[0xa6] = p[0xa7] = op_cmps;
	p[0xaa] = p[0xab] = op_stos;
	p[0xac] = p[0xad] = op_lods;
	p[0xae] = p[0xaf] = op_scas;
	p[0x6c] = p[0x6d] = p[0x6e] = p[0x6f] = op_ins_outs;
}
