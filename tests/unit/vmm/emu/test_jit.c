/* Differential test of the translator (vmm/emu/jit.c) against the
 * interpreter, which is its reference: the same code runs twice from the
 * same state, once interpreted over decoded blocks (cpu.jit NULL) and once
 * with a translator of threshold 0 (every block is translated the first
 * time it runs), and everything the code can change must agree: the 16
 * GPRs, rip, RFLAGS (the arithmetic flags included: both sides produce
 * the host's values for the undefined ones, and none is masked), CR2, the
 * CPL, the memory the code can reach (data, stacks, page tables,
 * descriptor tables, its own bytes), the port and MMIO accesses, and how
 * emu_run stopped.
 *
 * The vCPU (sys_fixture.h) runs in 64-bit mode with 4-level paging over
 * its 16 MiB: 2 MiB identity pages, except for the code and data regions,
 * which have 4 KiB pages. The data pages start with their accessed and
 * dirty bits clear and are shuffled in physical memory, so that TLB
 * misses, first writes and page-crossing accesses take the translator's
 * slow path, and an access that crosses a page without being split reads
 * the wrong bytes. Next to them are a read-only page, a supervisor-only
 * page, a page that is not present and a page of MMIO (beyond RAM).
 * Exceptions are delivered through 64-bit gates on the IST1 stack to
 * handlers that halt, so a fault in the middle of a block ends the run in
 * a state that is compared like any other.
 *
 * The random cases: straight-line code of 1 to 30-odd instructions, mostly of
 * the kinds the translator turns into host code, in every operand size and
 * with register and memory operands (every addressing form, 67, segment
 * overrides), mixed with instructions it leaves to the interpreter's
 * handlers, forward branches over a few instructions, short counted
 * loops, calls and indirect branches (so that control leaves translated
 * code through every kind of exit), stores into the code's own later
 * bytes, and accesses to wild addresses; ended by HLT or by an OUT to the
 * recorded port (which asks emu_run to stop). One group runs at CPL 0,
 * one at CPL 3 with user pages. Four registers are reserved per case: the
 * base and index registers of memory operands, with values chosen so that
 * every operand reaches an address the generator picked, and a loop
 * counter; no other instruction writes them. Every other register, the
 * flags and the data start random.
 *
 * Then deterministic cases: page faults in the middle of a translated
 * block, self-modifying code, and a loop that runs one block many times.
 *
 * Reproducing: a mismatch prints the case's seed, its code and both
 * states; WISP_JIT_SEED=<seed> runs that case alone (in each random
 * group). WISP_DIFF_SEED changes the sweep, WISP_DIFF_CASES the number of
 * cases per random group (4000), and WISP_DIFF_VERBOSE=1 prints every
 * mismatch rather than the first three of a group (the environment of the
 * other differential tests). */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sys_fixture.h"
#include "vmm/emu/block.h"
#include "vmm/emu/exec.h"
#include "vmm/emu/interp.h"
#include "vmm/emu/jit.h"
#include "vmm/emu/segment.h"

#include "jit_case.h"

/* Instructions per run at most: far more than any case needs; a case that
 * loops (which would be a bug) stops there on both sides. Where a budget
 * stops a run is not compared: emu_run stops at a block boundary, and the
 * translator may end blocks elsewhere than the interpreter (after a taken
 * Jcc to the next instruction), or run a block that branches to its own
 * start up to 256 times before it returns. */
#define BUDGET 20000

static const char *const reg_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

/* The memory compared: everything the code, its faults and the page walks
 * can write. */
static const struct { uint64_t pa, size; } regions[] = {
	{ GDT, IST_TOP - GDT },        /* GDT (busy TSS), IDT, TSS, handlers, IST stack */
	{ CODE, CODE_SIZE },
	{ PT_BASE, PT_SIZE },          /* accessed and dirty bits */
	{ DATA, DATA_SIZE },
};
#define NREGIONS (sizeof(regions) / sizeof(regions[0]))
#define MEM_TOTAL (IST_TOP - GDT + CODE_SIZE + PT_SIZE + DATA_SIZE)

/* ---- one case ------------------------------------------------------------ */

/* How a run ended. */
struct outcome {
	enum emu_stop stop;
	uint64_t gpr[16], rip, rflags, cr2;
	unsigned cpl;
	bool halted;
	unsigned pio_writes, pio_size, pio_port;
	uint64_t pio_value;
	unsigned mmio_reads, mmio_writes, mmio_size;
	uint64_t mmio_addr, mmio_value;
};

static struct exec_table table;
/* The translated side: a translator and the block cache its code hangs
 * off (blocks are per vCPU, and so is a translator). */
struct side {
	struct emu_jit *jit;
	struct emu_block_cache *blocks;
};

static struct emu_block_cache *cache_interp;
static struct side tr;                 /* threshold 0 */
static struct emu_code_map *code_map;
static atomic_bool stop_request;
static struct { unsigned writes, size, port; uint64_t value; } pio;
/* The memory of the world as set up, of a case before it runs, and after
 * each of its runs. */
static uint8_t mem_world[MEM_TOTAL], mem_init[MEM_TOTAL], mem_interp[MEM_TOTAL], mem_jit[MEM_TOTAL];
static bool verbose;

/* The port bus: writes are recorded and end the run (the case's
 * terminator); reads return a constant. */
static void rec_pio_write(struct emu_env *env, uint16_t port, unsigned size, uint64_t value)
{
	(void)env;
	pio.writes++;
	pio.port = port;
	pio.size = size;
	pio.value = value;
	atomic_store(&stop_request, true);
}

static uint64_t rec_pio_read(struct emu_env *env, uint16_t port, unsigned size)
{
	(void)env;
	(void)port;
	(void)size;
	return 0x5a5a5a5a;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

/* ---- a crash in translated code ----------------------------------------- */

/* A translator bug may crash the process rather than produce a wrong
 * state: say which case did it, then let the previous handler (cmocka's)
 * report the crash. */
static const struct jcase *running;
static bool running_translated;
static struct sigaction crash_prev[4];
static const int crash_sigs[4] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE };

static void put_str(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	(void)!write(2, s, n);
}

static void put_hex(uint64_t v, unsigned digits)
{
	char buf[17];

	for (unsigned i = 0; i < digits; i++)
		buf[i] = "0123456789abcdef"[(v >> (4 * (digits - 1 - i))) & 15];
	buf[digits] = 0;
	put_str(buf);
}

static void crash_report(int sig)
{
	put_str("test_jit: crashed during the ");
	put_str(running_translated ? "translated" : "interpreted");
	put_str(" run of ");
	if (running) {
		put_str(running->group);
		put_str(" seed 0x");
		put_hex(running->seed, 16);
		put_str(", code at 0x");
		put_hex(running->base, 8);
		put_str(":");
		for (unsigned i = 0; i < running->len; i++) {
			put_str(" ");
			put_hex(running->code[i], 2);
		}
	}
	put_str("\n");
	for (unsigned i = 0; i < 4; i++)
		sigaction(crash_sigs[i], &crash_prev[i], NULL);
	/* Returning re-runs the faulting instruction under the previous
	 * handler. */
	(void)sig;
}

static void catch_crashes(void)
{
	struct sigaction sa = { .sa_handler = crash_report, .sa_flags = SA_NODEFER };

	for (unsigned i = 0; i < 4; i++)
		sigaction(crash_sigs[i], &sa, &crash_prev[i]);
}

/* ---- the world ------------------------------------------------------------ */

static void set_gate64(struct fixture *f, unsigned vec, uint64_t off, unsigned ist)
{
	uint64_t lo = (off & 0xffff) | ((uint64_t)S_CODE << 16) | ((uint64_t)ist << 32) |
		      ((uint64_t)(0x80 | 0xe) << 40) | (((off >> 16) & 0xffff) << 48);

	fix_wr64(f, IDT + vec * 16, lo);
	fix_wr64(f, IDT + vec * 16 + 8, off >> 32);
}

/* Where the data page at la lives: the ordinary pages and the two stack
 * pages are shuffled, so that an access that crosses a page boundary
 * without being split reaches the wrong bytes. */
static uint64_t data_pa(uint64_t la)
{
	uint64_t i = (la - DATA) >> 12;

	if (la < DATA || la >= DATA + DATA_SIZE)
		return la;
	if (i < 12)
		i = (5 * i + 7) % 12;
	else if (i == 12 || i == 13)
		i ^= 1;
	return DATA + (i << 12) + (la & 0xfff);
}

/* The page tables: 2 MiB pages, 4 KiB ones over the code and data
 * regions, the special pages next to the data. */
static void build_page_tables(struct fixture *f)
{
	struct emu_cpu *c = &f->cpu;

	c->cr3 = fix_alloc_table(f);
	for (uint64_t la = 0; la < FIX_RAM; la += MiB(2)) {
		if (la == CODE || la == DATA)
			continue;
		fix_wr64(f, fix_entry_pa(f, c->cr3, la, 2), la | PTE_P | PTE_W | PTE_U | PTE_PS);
	}
	/* Code pages already dirty: a translated store to one of them
	 * passes the TLB's write check, and only the code map stops it. */
	for (uint64_t la = CODE; la < CODE + MiB(2); la += 0x1000)
		fix_map4k(f, la, la, PTE_P | PTE_W | PTE_U | PTE_A | PTE_D);
	for (uint64_t la = DATA; la < DATA + MiB(2); la += 0x1000) {
		uint64_t flags = PTE_P | PTE_W | PTE_U;

		if (la == RO_PAGE)
			flags = PTE_P | PTE_U;
		else if (la == SUP_PAGE)
			flags = PTE_P | PTE_W;
		if (la == HOLE)
			fix_map4k(f, la, 0, 0);
		else if (la == MMIO_PAGE)
			fix_map4k(f, la, MMIO_PA, flags);
		else
			fix_map4k(f, la, data_pa(la), flags);
	}
	assert_true(f->next_table <= PT_BASE + PT_SIZE);
}

/* CPL 3: user code and data segments (FS and GS keep their bases). */
static void to_user(struct fixture *f)
{
	struct emu_cpu *c = &f->cpu;

	c->seg[SEG_CS] = (struct emu_segment){ .selector = S_CODE3 | 3, .limit = 0xffffffff,
		.type = 0xb, .s = 1, .dpl = 3, .present = 1, .l = 1, .g = 1 };
	for (unsigned s = 0; s < SEG_COUNT; s++) {
		uint64_t base = c->seg[s].base;

		if (s == SEG_CS)
			continue;
		c->seg[s] = (struct emu_segment){ .selector = S_DATA3 | 3, .limit = 0xffffffff,
			.type = 0x3, .s = 1, .dpl = 3, .present = 1, .db = 1, .g = 1 };
		if (s == SEG_FS || s == SEG_GS)
			c->seg[s].base = base;
	}
	emu_update_mode(c);
	assert_int_equal(c->cpl, 3);
}

/* 64-bit mode, paging, WP, the IDT, the TSS; CPL 0 or 3. */
static void world_setup(struct fixture *f, bool user)
{
	struct emu_cpu *c = &f->cpu;

	fix_wr64(f, GDT, 0);
	fix_wr64(f, GDT + S_CODE, desc(0, 0xfffff, ACC_CODE(0), FL_64));
	fix_wr64(f, GDT + S_DATA, desc(0, 0xfffff, ACC_DATA(0), FL_32));
	fix_wr64(f, GDT + S_CODE3, desc(0, 0xfffff, ACC_CODE(3), FL_64));
	fix_wr64(f, GDT + S_DATA3, desc(0, 0xfffff, ACC_DATA(3), FL_32));
	fix_wr64(f, GDT + S_TSS, desc(TSS, 0x67, 0x89, 0));
	fix_wr64(f, GDT + S_TSS + 8, 0);
	fix_long(f, GDT, NGDT);
	build_page_tables(f);
	c->cr0 |= EMU_CR0_WP;
	emu_tlb_flush(c, true);

	c->idtr = (struct emu_table_reg){ IDT, 32 * 16 - 1 };
	for (unsigned v = 0; v < 32; v++) {
		set_gate64(f, v, HANDLERS + 16 * v, 1);
		memset(guest_mem_ptr(&f->mem, HANDLERS + 16 * v, 16), 0xf4, 16);   /* hlt */
	}
	fix_wr64(f, TSS + 4, IST_TOP);       /* RSP0 */
	fix_wr64(f, TSS + 0x24, IST_TOP);    /* IST1 */
	assert_true(TRY(c, emu_load_tr(c, S_TSS)));

	c->seg[SEG_FS].base = FS_BASE;
	c->seg[SEG_GS].base = GS_BASE;
	c->code_map = code_map;
	f->env.pio_read = rec_pio_read;
	f->env.pio_write = rec_pio_write;
	if (user)
		to_user(f);
	assert_int_equal(c->mode, EMU_MODE_LONG64);
}

static int group_setup(void **state)
{
	(void)state;
	exec_table_init(&table);
	cache_interp = emu_block_cache_new();
	tr.blocks = emu_block_cache_new();
	code_map = emu_code_map_new(FIX_RAM);
	assert_non_null(cache_interp);
	assert_non_null(tr.blocks);
	assert_non_null(code_map);
	/* NULL would mean the host refused executable memory; the test
	 * would then compare the interpreter with itself. */
	tr.jit = emu_jit_new(0);
	assert_non_null(tr.jit);
	verbose = env_u64("WISP_DIFF_VERBOSE", 0) != 0;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	emu_jit_free(tr.jit);
	emu_block_cache_free(cache_interp);
	emu_block_cache_free(tr.blocks);
	emu_code_map_free(code_map);
	return 0;
}

/* ---- running and comparing ------------------------------------------------ */

static void mem_save(struct fixture *f, uint8_t *buf)
{
	for (unsigned i = 0; i < NREGIONS; i++) {
		uint64_t n = regions[i].size;

		memcpy(buf, guest_mem_ptr(&f->mem, regions[i].pa, n), n);
		buf += n;
	}
}

/* A write to guest RAM from outside the core: like a device's, it is
 * noted in the code map, so that blocks decoded from what was there
 * before are decoded afresh. */
static void guest_write(struct fixture *f, uint64_t pa, const void *src, size_t n)
{
	memcpy(guest_mem_ptr(&f->mem, pa, n), src, n);
	emu_code_map_note_write(code_map, pa, n);
}

static void mem_load(struct fixture *f, const uint8_t *buf)
{
	for (unsigned i = 0; i < NREGIONS; i++) {
		guest_write(f, regions[i].pa, buf, regions[i].size);
		buf += regions[i].size;
	}
}

static uint64_t mem_addr_of(size_t off)
{
	for (unsigned i = 0; i < NREGIONS; i++) {
		if (off < regions[i].size)
			return regions[i].pa + off;
		off -= regions[i].size;
	}
	return ~0ull;
}

/* Make the current guest memory and k->init the starting point. */
static void case_freeze(struct fixture *f, struct jcase *k)
{
	guest_write(f, k->base, k->code, k->len);
	k->init = f->cpu;
	mem_save(f, mem_init);
}

/* One run of k from its initial state, interpreted or translated. */
static void case_run(struct fixture *f, const struct jcase *k, bool translated, struct outcome *o,
		     uint8_t *mem, const struct side *with)
{
	struct emu_cpu *c = &f->cpu;

	mem_load(f, mem_init);
	*c = k->init;
	c->blocks = translated ? with->blocks : cache_interp;
	c->code_map = code_map;
	c->jit = translated ? with->jit : NULL;
	emu_tlb_flush(c, true);
	/* A supervisor entry for the supervisor-only page in the TLB: at CPL
	 * 3 the inline lookup then finds the page and must refuse it on its
	 * permission bit alone. */
	assert_true(TRY(c, emu_translate(c, SUP_PAGE, EMU_WRITE, true)));
	memset(&pio, 0, sizeof(pio));
	f->mmio_reads = f->mmio_writes = f->mmio_size = 0;
	f->mmio_addr = f->mmio_value = 0;
	atomic_store(&stop_request, false);

	running = k;
	running_translated = translated;
	o->stop = emu_run(c, &table, BUDGET, &stop_request);
	running = NULL;

	memcpy(o->gpr, c->gpr, sizeof(o->gpr));
	o->rip = c->rip;
	o->rflags = emu_get_rflags(c);
	o->cr2 = c->cr2;
	o->cpl = c->cpl;
	o->halted = c->halted;
	o->pio_writes = pio.writes;
	o->pio_size = pio.size;
	o->pio_port = pio.port;
	o->pio_value = pio.value;
	o->mmio_reads = f->mmio_reads;
	o->mmio_writes = f->mmio_writes;
	o->mmio_size = f->mmio_size;
	o->mmio_addr = f->mmio_addr;
	o->mmio_value = f->mmio_value;
	mem_save(f, mem);
}

static const char *stop_name(enum emu_stop s)
{
	static const char *const names[] = {
		"budget", "halt", "shutdown", "request", "irq window",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static void print_case(const struct jcase *k)
{
	unsigned off = 0;

	fprintf(stderr, "jit mismatch: %s, seed 0x%016llx, %u instructions then the terminator\n",
		k->group, (unsigned long long)k->seed, k->body_insns);
	/* One line per instruction: the bytes are contiguous code (body,
	 * terminator, then the subroutines of the calls). */
	while (off < k->len) {
		struct insn insn;
		unsigned n = k->len - off < INSN_MAX_LEN ? k->len - off : INSN_MAX_LEN;

		if (emu_decode(&insn, k->code + off, n, EMU_MODE_LONG64) != DECODE_OK)
			insn.len = (uint8_t)(k->len - off);
		fprintf(stderr, "  %#llx:", (unsigned long long)(k->base + off));
		for (unsigned i = 0; i < insn.len; i++)
			fprintf(stderr, " %02x", k->code[off + i]);
		fprintf(stderr, "\n");
		off += insn.len;
	}
	fprintf(stderr, "  initial state (CPL %u):", k->init.cpl);
	for (unsigned r = 0; r < 16; r++)
		fprintf(stderr, "%s%s=%#llx", r % 4 ? " " : "\n    ", reg_names[r],
			(unsigned long long)k->init.gpr[r]);
	{
		struct emu_cpu init = k->init;

		fprintf(stderr, "\n    rflags=%#llx", (unsigned long long)emu_get_rflags(&init));
	}
	if (k->rb >= 0)
		fprintf(stderr, "; reserved: base %s, base under 67 %s, index %s, loop counter %s",
			reg_names[k->rb], reg_names[k->rh], reg_names[k->rx], reg_names[k->rl]);
	fprintf(stderr, "\n");
}

/* Print (when print) and count the differences between the two runs. */
static unsigned compare(const struct outcome *a, const struct outcome *b, const uint8_t *ma,
			const uint8_t *mb, bool print)
{
	unsigned n = 0, nbytes = 0;

#define DIFF(field, what) do {                                                         \
	if (a->field != b->field) {                                                    \
		n++;                                                                   \
		if (print)                                                             \
			fprintf(stderr, "  %-11s interpreted %#llx, translated %#llx\n",    \
				what, (unsigned long long)a->field,                        \
				(unsigned long long)b->field);                             \
	}                                                                              \
} while (0)
	for (unsigned r = 0; r < 16; r++)
		DIFF(gpr[r], reg_names[r]);
	DIFF(rip, "rip");
	DIFF(rflags, "rflags");
	DIFF(cr2, "cr2");
	DIFF(cpl, "cpl");
	DIFF(halted, "halted");
	DIFF(stop, "stop");
	DIFF(pio_writes, "out count");
	DIFF(pio_port, "out port");
	DIFF(pio_size, "out size");
	DIFF(pio_value, "out value");
	DIFF(mmio_reads, "mmio reads");
	DIFF(mmio_writes, "mmio writes");
	DIFF(mmio_addr, "mmio addr");
	DIFF(mmio_size, "mmio size");
	DIFF(mmio_value, "mmio value");
#undef DIFF
	for (size_t i = 0; i < MEM_TOTAL; i++) {
		if (ma[i] == mb[i])
			continue;
		n++;
		if (print && nbytes++ < 16)
			fprintf(stderr, "  mem %#llx: interpreted %02x, translated %02x\n",
				(unsigned long long)mem_addr_of(i), ma[i], mb[i]);
	}
	if (print && nbytes > 16)
		fprintf(stderr, "  (%u more bytes differ)\n", nbytes - 16);
	if (print && n)
		fprintf(stderr, "  the interpreted run stopped (%s) at rip %#llx\n",
			stop_name(a->stop), (unsigned long long)a->rip);
	return n;
}

/* Run k both ways and compare; prints the case when they differ (and
 * print_it). Returns whether they agreed; the outcomes are left in
 * *interp and *jitted when given. */
static bool case_check(struct fixture *f, const struct jcase *k, bool print_it,
		       const struct side *with, struct outcome *interp, struct outcome *jitted)
{
	struct outcome a, b;

	case_run(f, k, false, &a, mem_interp, NULL);
	case_run(f, k, true, &b, mem_jit, with);
	if (interp)
		*interp = a;
	if (jitted)
		*jitted = b;
	if (!compare(&a, &b, mem_interp, mem_jit, false))
		return true;
	if (print_it) {
		print_case(k);
		compare(&a, &b, mem_interp, mem_jit, true);
	}
	return false;
}

/* ---- the generator (jit_case_gen.c) ------------------------------------------ */

static void case_generate(struct fixture *f, struct jcase *k, uint64_t seed)
{
	jit_case_generate(k, seed, &f->cpu, guest_mem_ptr(&f->mem, DATA, DATA_SIZE),
			  guest_mem_ptr(&f->mem, CODE, CODE_SIZE));
}

/* ---- the random groups ------------------------------------------------------ */

/* Whether the translated side holds code for a block at la: the tests
 * check that the translator really ran their code. */
static bool translated_at(const struct side *with, uint64_t la)
{
	for (unsigned i = 0; i < BLOCK_HASH_SIZE; i++) {
		const struct emu_block *b = with->blocks->slot[i];

		if (b && b->la == la && b->code)
			return true;
	}
	return false;
}

static uint64_t group_hash(const char *name)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h;
}

static void random_group(void **state, bool user, const char *name)
{
	struct fixture *f = *state;
	struct jcase *k = calloc(1, sizeof(*k));
	unsigned ncases = (unsigned)env_u64("WISP_DIFF_CASES", 4000), failures = 0;
	uint64_t sweep = env_u64("WISP_DIFF_SEED", 1), only = env_u64("WISP_JIT_SEED", 0);
	unsigned long insns = 0;
	unsigned translated = 0;
	struct emu_cpu world;

	assert_non_null(k);
	world_setup(f, user);
	world = f->cpu;
	mem_save(f, mem_world);
	k->group = name;
	k->user = user;
	catch_crashes();
	if (only)
		ncases = 1;
	for (unsigned i = 0; i < ncases; i++) {
		uint64_t seed = only ? only : splitmix64(group_hash(name) ^ splitmix64(sweep) ^ i);

		/* Each case from the same world (the previous runs set accessed
		 * and dirty bits, and left frames on the IST stack), so that
		 * its seed alone reproduces it. */
		f->cpu = world;
		mem_load(f, mem_world);
		case_generate(f, k, seed);
		case_freeze(f, k);
		insns += k->body_insns;
		if (!case_check(f, k, verbose || failures < 3, &tr, NULL, NULL))
			failures++;
		translated += translated_at(&tr, k->base);
	}
	for (unsigned i = 0; i < 4; i++)
		sigaction(crash_sigs[i], &crash_prev[i], NULL);
	fprintf(stderr, "test_jit %s: %u cases, %lu instructions, %u translated first blocks, "
		"%u mismatches\n", name, ncases, insns, translated, failures);
	free(k);
	assert_int_equal(failures, 0);
	/* Not every case's first block is translated (its first instruction
	 * may straddle a page), but most must be, or the test compares the
	 * interpreter with itself. */
	assert_true(translated * 4 > ncases * 3);
}

static void random_blocks_at_cpl0(void **state)
{
	random_group(state, false, "cpl0");
}

static void random_blocks_at_cpl3(void **state)
{
	random_group(state, true, "cpl3");
}

/* ---- deterministic cases ------------------------------------------------------ */

/* A case of given bytes at base, from the current state of f. */
static void fixed_case(struct fixture *f, struct jcase *k, const char *name, uint64_t base,
		       const uint8_t *code, unsigned len)
{
	k->seed = 0;
	k->group = name;
	k->user = f->cpu.cpl == 3;
	k->base = base;
	k->rb = k->rh = k->rx = k->rl = -1;
	assert_true(len <= CODE_MAX);
	memcpy(k->code, code, len);
	k->len = len;
	k->body_insns = 0;
	for (unsigned off = 0; off < len; k->body_insns++) {
		struct insn insn;

		assert_int_equal(emu_decode(&insn, code + off, len - off, EMU_MODE_LONG64),
				 DECODE_OK);
		off += insn.len;
	}
	f->cpu.rip = base;
	case_freeze(f, k);
}

/* Page faults from the middle of a translated block: translated
 * instructions before the faulting one take effect, those after do not,
 * and the fault is the interpreter's (vector, CR2, error code, frame). */
struct pf_case {
	const char *name;
	bool user;
	bool read_first;               /* read [rdx] first: the TLB then holds the
	                                * page, without the right that faults */
	uint8_t insn[4];               /* the faulting instruction, at [rdx] or the stack */
	unsigned len;
	uint64_t rdx, rsp, cr2;
	int err;                       /* < 0: compared with the interpreter only */
};

static const struct pf_case pf_cases[] = {
	{ "read of a page not present", false, false, { 0x48, 0x8b, 0x0a }, 3,
	  HOLE + 8, STACK_TOP, HOLE + 8, 0 },
	{ "read across into a page not present", false, false, { 0x48, 0x8b, 0x0a }, 3,
	  HOLE - 4, STACK_TOP, HOLE, 0 },
	{ "write of a read-only page", false, false, { 0x89, 0x0a }, 2,
	  RO_PAGE + 0x10, STACK_TOP, RO_PAGE + 0x10, EMU_PF_P | EMU_PF_W },
	{ "write of a read-only page just read", false, true, { 0x89, 0x0a }, 2,
	  RO_PAGE + 0x10, STACK_TOP, RO_PAGE + 0x10, EMU_PF_P | EMU_PF_W },
	{ "add to a read-only page just read", false, true, { 0x01, 0x02 }, 2,
	  RO_PAGE + 0x20, STACK_TOP, RO_PAGE + 0x20, EMU_PF_P | EMU_PF_W },
	{ "push onto a page not present", false, false, { 0x53 }, 1,
	  0, HOLE + 8, HOLE, EMU_PF_W },
	{ "locked xadd on a page not present", false, false, { 0xf0, 0x0f, 0xc1, 0x0a }, 4,
	  HOLE + 0x40, STACK_TOP, HOLE + 0x40, -1 },
	{ "user read of a supervisor page", true, false, { 0x48, 0x8b, 0x0a }, 3,
	  SUP_PAGE + 0x20, STACK_TOP, SUP_PAGE + 0x20, EMU_PF_P | EMU_PF_U },
	{ "user write of a supervisor page", true, false, { 0x88, 0x0a }, 2,
	  SUP_PAGE + 0x21, STACK_TOP, SUP_PAGE + 0x21, EMU_PF_P | EMU_PF_U | EMU_PF_W },
	{ "user write of a read-only page just read", true, true, { 0x66, 0x89, 0x0a }, 3,
	  RO_PAGE + 0xffc, STACK_TOP, RO_PAGE + 0xffc, EMU_PF_P | EMU_PF_U | EMU_PF_W },
	{ "user pop from a supervisor page", true, false, { 0x59 }, 1,
	  0, SUP_PAGE + 0x100, SUP_PAGE + 0x100, EMU_PF_P | EMU_PF_U },
};

static void page_fault_in_a_translated_block(void **state)
{
	struct fixture *f = *state;
	struct jcase *k = calloc(1, sizeof(*k));
	struct emu_cpu world[2];
	unsigned failures = 0;

	assert_non_null(k);
	world_setup(f, false);
	world[0] = f->cpu;
	mem_save(f, mem_world);
	to_user(f);
	world[1] = f->cpu;
	for (unsigned i = 0; i < sizeof(pf_cases) / sizeof(pf_cases[0]); i++) {
		const struct pf_case *p = &pf_cases[i];
		uint64_t base = CODE + 0x800, at;
		uint8_t code[64];
		unsigned n = 0;
		struct outcome o;

		f->cpu = world[p->user];
		mem_load(f, mem_world);
		/* mov eax, 0x11111111; add rbx, rax; [mov edi, [rdx]]; the
		 * faulting instruction; mov esi, 5; inc rbx; hlt */
		memcpy(code + n, (const uint8_t[]){ 0xb8, 0x11, 0x11, 0x11, 0x11,
						    0x48, 0x01, 0xc3 }, 8);
		n += 8;
		if (p->read_first) {
			memcpy(code + n, (const uint8_t[]){ 0x8b, 0x3a }, 2);
			n += 2;
		}
		at = base + n;
		memcpy(code + n, p->insn, p->len);
		n += p->len;
		memcpy(code + n, (const uint8_t[]){ 0xbe, 5, 0, 0, 0, 0x48, 0xff, 0xc3, 0xf4 }, 9);
		n += 9;
		for (unsigned r = 0; r < 16; r++)
			f->cpu.gpr[r] = 0x1000 * r + 0x77;
		f->cpu.gpr[RDX] = p->rdx;
		f->cpu.gpr[RSP] = p->rsp;
		emu_set_rflags(&f->cpu, 0x2 | EMU_CF | EMU_ZF);
		fixed_case(f, k, p->name, base, code, n);
		if (!case_check(f, k, true, &tr, NULL, &o)) {
			failures++;
			continue;
		}
		assert_true(translated_at(&tr, base));
		/* The state of the translated run, against what the fault
		 * must have left. */
		assert_int_equal(o.stop, EMU_STOP_HALT);
		assert_int_equal(o.rip, HANDLERS + 16 * EMU_VEC_PF + 1);
		assert_int_equal(o.cr2, p->cr2);
		if (p->err >= 0)
			assert_int_equal(fix_rd64(f, IST_TOP - 48), (uint64_t)p->err);
		assert_int_equal(fix_rd64(f, IST_TOP - 40), at);
		assert_int_equal(o.gpr[RAX], 0x11111111);
		assert_int_equal(o.gpr[RBX], 0x3077 + 0x11111111);
		assert_int_equal(o.gpr[RSI], 0x6077);
	}
	free(k);
	assert_int_equal(failures, 0);
}

/* Self-modifying code: a block that writes into its own bytes stops after
 * the writing instruction, and what runs next is the new code. */
struct smc_case {
	const char *name;
	uint8_t code[48];
	unsigned len;
	unsigned rbx_off;              /* rbx = the code's address + this */
	unsigned reg;                  /* the register holding the result */
	uint64_t expect;
};

static const struct smc_case smc_cases[] = {
	{ "mov to a later immediate, RIP-relative",
	  { 0xc6, 0x05, 0x01, 0, 0, 0, 0x22,          /* mov byte [rip + 1], 0x22 */
	    0xb8, 0x11, 0, 0, 0,                      /* mov eax, 0x11 (becomes 0x22) */
	    0x83, 0xc0, 0x01,                         /* add eax, 1 */
	    0xf4 }, 16, 0, RAX, 0x23 },
	{ "add to a later immediate through a register",
	  { 0x80, 0x03, 0x10,                         /* add byte [rbx], 0x10 */
	    0x48, 0xff, 0xc2,                         /* inc rdx */
	    0xb9, 0x05, 0, 0, 0,                      /* mov ecx, 5 (becomes 0x15) */
	    0xf4 }, 12, 7, RCX, 0x15 },
	{ "xchg (a handler) with a later immediate",
	  { 0xb0, 0x40,                               /* mov al, 0x40 */
	    0x86, 0x03,                               /* xchg [rbx], al */
	    0xba, 0x07, 0, 0, 0,                      /* mov edx, 7 (becomes 0x40) */
	    0xf4 }, 10, 5, RDX, 0x40 },
	{ "store of a qword over the following instructions",
	  { 0x48, 0xb8,                               /* mov rax, the bytes of */
	    0xb9, 0x33, 0, 0, 0, 0x90, 0x90, 0x90,    /* "mov ecx, 0x33; nop; nop; nop" */
	    0x48, 0x89, 0x43, 0x11,                   /* mov [rbx + 0x11], rax */
	    0x90,
	    0x31, 0xc9,                               /* xor ecx, ecx: at +0x0f */
	    0xb9, 0x01, 0, 0, 0,                      /* mov ecx, 1: at +0x11, overwritten */
	    0x90, 0x90, 0x90,
	    0xf4 }, 26, 0, RCX, 0x33 },
	{ "a store to its own page, then into its own bytes",
	  { 0xc6, 0x05, 0xf3, 0x07, 0, 0, 0x5a,       /* mov byte [rip + 0x7f3], 0x5a: its page */
	    0xc6, 0x05, 0x01, 0, 0, 0, 0x22,          /* mov byte [rip + 1], 0x22 */
	    0xb8, 0x11, 0, 0, 0,                      /* mov eax, 0x11 (becomes 0x22) */
	    0xf4 }, 20, 0, RAX, 0x22 },
	{ "write into bytes already run",
	  { 0xc6, 0x05, 0xf9, 0xff, 0xff, 0xff, 0x90, /* mov byte [rip - 7], 0x90: its first byte */
	    0xb8, 0x11, 0, 0, 0,                      /* mov eax, 0x11 */
	    0xf4 }, 13, 0, RAX, 0x11 },
	{ "a loop that rewrites its own block every time round",
	  { 0xb9, 0x05, 0, 0, 0,                      /* mov ecx, 5 */
	    0x31, 0xc0,                               /* xor eax, eax */
	    0x80, 0x05, 0x02, 0, 0, 0, 0x01,          /* L: add byte [rip + 2], 1 */
	    0x83, 0xc0, 0x00,                         /* add eax, 0 (1, 2, 3...) */
	    0xff, 0xc9,                               /* dec ecx */
	    0x75, 0xf2,                               /* jnz L */
	    0xf4 }, 22, 0, RAX, 15 },
};

static void self_modifying_code(void **state)
{
	struct fixture *f = *state;
	struct jcase *k = calloc(1, sizeof(*k));
	struct emu_cpu world;
	unsigned failures = 0;

	assert_non_null(k);
	world_setup(f, false);
	world = f->cpu;
	mem_save(f, mem_world);
	for (unsigned i = 0; i < sizeof(smc_cases) / sizeof(smc_cases[0]); i++) {
		const struct smc_case *s = &smc_cases[i];
		uint64_t base = CODE + 0x1000 + 0x100 * i;
		struct outcome o;

		f->cpu = world;
		mem_load(f, mem_world);
		f->cpu.gpr[RBX] = base + s->rbx_off;
		f->cpu.gpr[RSP] = STACK_TOP;
		fixed_case(f, k, s->name, base, s->code, s->len);
		if (!case_check(f, k, true, &tr, NULL, &o)) {
			failures++;
			continue;
		}
		assert_true(translated_at(&tr, base));
		assert_int_equal(o.stop, EMU_STOP_HALT);
		assert_int_equal(o.rip, base + s->len);
		assert_int_equal(o.gpr[s->reg] & 0xffffffff, s->expect);
	}
	free(k);
	assert_int_equal(failures, 0);
}

/* A block run many times: a loop with a backward Jcc to the block's own
 * start (which translated code runs in host code, 256 times at most
 * before it returns), translated the first time (threshold 0) or after
 * some interpreted runs (threshold 4, what the VMM uses); the final state
 * must be the interpreter's. */
static void loop_runs_one_block_many_times(void **state)
{
	static const uint8_t code[] = {
		0xb9, 0x58, 0x02, 0, 0,                 /* mov ecx, 600 */
		0x48, 0x6b, 0xc0, 0x03,                 /* L: imul rax, rax, 3 */
		0x48, 0x01, 0xc8,                       /* add rax, rcx */
		0x48, 0x31, 0xc2,                       /* xor rdx, rax */
		0x48, 0xc1, 0xc2, 0x07,                 /* rol rdx, 7 */
		0x48, 0x89, 0x14, 0xcb,                 /* mov [rbx + rcx * 8], rdx */
		0x10, 0x54, 0xcb, 0x04,                 /* adc [rbx + rcx * 8 + 4], dl */
		0xff, 0xc9,                             /* dec ecx */
		0x75, 0xe6,                             /* jnz L */
		0xf4,
	};
	struct fixture *f = *state;
	struct jcase *k = calloc(1, sizeof(*k));
	struct side warm = { emu_jit_new(4), emu_block_cache_new() };
	struct emu_cpu world;
	struct outcome o;

	assert_non_null(k);
	assert_non_null(warm.jit);
	assert_non_null(warm.blocks);
	world_setup(f, false);
	f->cpu.gpr[RAX] = 0x123456789abcdefull;
	f->cpu.gpr[RBX] = DATA;
	f->cpu.gpr[RDX] = 0x5555;
	f->cpu.gpr[RSP] = STACK_TOP;
	emu_set_rflags(&f->cpu, 0x2);
	world = f->cpu;
	fixed_case(f, k, "loop, threshold 0", CODE + 0x2000, code, sizeof(code));
	assert_true(case_check(f, k, true, &tr, NULL, &o));
	assert_true(translated_at(&tr, CODE + 0x2000 + 5));
	assert_int_equal(o.stop, EMU_STOP_HALT);
	assert_int_equal(o.rip, CODE + 0x2000 + sizeof(code));
	assert_int_equal(o.gpr[RCX], 0);

	/* The same loop elsewhere, with a translator of threshold 4 and its
	 * own blocks. */
	f->cpu = world;
	fixed_case(f, k, "loop, threshold 4", CODE + 0x2400, code, sizeof(code));
	assert_true(case_check(f, k, true, &warm, NULL, &o));
	assert_true(translated_at(&warm, CODE + 0x2400 + 5));
	assert_int_equal(o.stop, EMU_STOP_HALT);
	assert_int_equal(o.rip, CODE + 0x2400 + sizeof(code));
	assert_int_equal(o.gpr[RCX], 0);
	emu_jit_free(warm.jit);
	emu_block_cache_free(warm.blocks);
	free(k);
}

/* The comparison itself: a difference in any part of the state counts. */
static void comparison_sees_differences(void **state)
{
	/* mov [rbx], rax; inc rax; hlt */
	static const uint8_t code[] = { 0x48, 0x89, 0x03, 0x48, 0xff, 0xc0, 0xf4 };
	struct fixture *f = *state;
	struct jcase *k = calloc(1, sizeof(*k));
	struct outcome a, b, t;

	assert_non_null(k);
	world_setup(f, false);
	f->cpu.gpr[RBX] = DATA + 0x100;
	fixed_case(f, k, "comparison", CODE, code, sizeof(code));
	assert_true(case_check(f, k, true, &tr, &a, &b));
	assert_int_equal(compare(&a, &b, mem_interp, mem_jit, false), 0);
	t = b;
	t.rflags ^= EMU_AF;
	assert_int_equal(compare(&a, &t, mem_interp, mem_jit, false), 1);
	t = b;
	t.gpr[R15]++;
	assert_int_equal(compare(&a, &t, mem_interp, mem_jit, false), 1);
	mem_jit[MEM_TOTAL - 1] ^= 1;
	assert_int_equal(compare(&a, &b, mem_interp, mem_jit, false), 1);
	free(k);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fix_setup, fix_teardown)
	const struct CMUnitTest tests[] = {
		T(comparison_sees_differences),
		T(random_blocks_at_cpl0),
		T(random_blocks_at_cpl3),
		T(page_fault_in_a_translated_block),
		T(self_modifying_code),
		T(loop_runs_one_block_many_times),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
