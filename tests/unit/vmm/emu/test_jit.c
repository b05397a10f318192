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

/* ---- the guest's layout -------------------------------------------------- */

#define GDT        0x1000ull
#define IDT        0x2000ull
#define TSS        0x3000ull
#define HANDLERS   0x4000ull      /* vector v: a HLT at HANDLERS + 16 v */
#define IST_TOP    0x6000ull      /* every exception's stack (IST1) */
#define CODE       0x200000ull    /* 4 KiB pages */
#define CODE_SIZE  0x4000ull
#define PT_BASE    0x400000ull    /* the fixture's page-table allocator */
#define PT_SIZE    0x8000ull
#define DATA       0x600000ull    /* 4 KiB pages */
#define DATA_SIZE  0x10000ull
#define RW_END     (DATA + 0xc000)  /* ordinary targets of memory operands */
#define STACK_TOP  (DATA + 0xd000)  /* RSP starts around this page boundary */
#define RO_PAGE    (DATA + 0xe000)  /* present, user, read-only */
#define SUP_PAGE   (DATA + 0xf000)  /* present, writable, supervisor-only */
#define HOLE       (DATA + DATA_SIZE) /* not present */
#define MMIO_PAGE  (HOLE + 0x1000)  /* mapped to MMIO_PA */
#define MMIO_PA    0x2000000ull     /* beyond the 16 MiB of RAM */
#define FS_BASE    0x3000ull
#define GS_BASE    (0ull - 0x5000)  /* GS-relative addresses wrap around */

enum { S_CODE = 0x08, S_DATA = 0x10, S_CODE3 = 0x18, S_DATA3 = 0x20, S_TSS = 0x28, NGDT = 7 };
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

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

#define CODE_MAX 2048

struct jcase {
	uint64_t seed;                 /* 0: a deterministic case */
	const char *group;
	bool user;                     /* runs at CPL 3 */
	uint64_t base;                 /* linear address of code[0] */
	uint8_t code[CODE_MAX];
	unsigned len;
	unsigned body_insns;           /* instructions before the terminator */
	int rb, rh, rx, rl;            /* reserved: base, base under 67, index, loop
	                                * counter (-1: none) */
	struct emu_cpu init;           /* the state both runs start from */
};

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

/* ---- the generator --------------------------------------------------------- */

struct gen {
	uint64_t rng;
	struct jcase *k;
	uint16_t reserved;             /* registers no instruction may write */
	uint64_t regs[16];             /* initial values (those of the reserved ones matter) */
	bool in_sub;                   /* in a subroutine: nothing that moves RSP */
	int wild;                      /* >= 0: memory operands are [this + disp8] */
	unsigned nsubs;
	struct {
		unsigned at;           /* offset of a rel32/disp32 to the subroutine */
		unsigned end;          /* offset of the end of its instruction */
	} fix[64];
};

static uint64_t rnd64(struct gen *g)
{
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545f4914f6cdd1dull;
}

static unsigned rnd(struct gen *g, unsigned n)
{
	return n ? (unsigned)(rnd64(g) % n) : 0;
}

static bool chance(struct gen *g, unsigned percent)
{
	return rnd(g, 100) < percent;
}

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finalizer */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A value of size bytes, often one of those at the edges of arithmetic. */
static uint64_t value(struct gen *g, unsigned size)
{
	uint64_t m = size_mask(size), top = 1ull << (8 * size - 1);

	switch (rnd(g, 10)) {
	case 0: return 0;
	case 1: return rnd(g, 4);
	case 2: return m;
	case 3: return top;
	case 4: return top - 1;
	case 5: return (top + (uint64_t)((int64_t)rnd(g, 5) - 2)) & m;
	case 6: return (1ull << rnd(g, 8 * size)) & m;
	case 7: return (0 - (uint64_t)rnd(g, 8)) & m;
	default: return rnd64(g) & m;
	}
}

/* ---- encoding ---- */

enum mform { MF_BASE, MF_BASE_INDEX, MF_INDEX, MF_ABS, MF_RIP };

/* One instruction, as fields. */
struct ins {
	uint8_t pfx[6];
	unsigned npfx;
	bool w, rex;                   /* REX.W; a REX even when no bit is needed */
	uint8_t opc[3];
	unsigned nopc;
	bool opreg;                    /* a register in the opcode's low bits */
	unsigned oreg;
	bool modrm;
	unsigned reg;                  /* register 0..15 or /digit */
	bool mem;
	unsigned rm;                   /* the register when !mem */
	enum mform form;
	unsigned base, index, scale;
	int64_t disp;
	unsigned disp_len;             /* 0, 1, 4 */
	bool rip_to;                   /* MF_RIP: disp reaches rip_target */
	uint64_t rip_target;
	uint64_t imm;
	unsigned imm_len;
	/* Registers written, as encoded (the REX decides what 4..7 are for
	 * bytes), and registers written whatever the encoding. */
	struct { uint8_t reg, size; } wr[3];
	unsigned nwr;
	uint16_t wr_full;
};

static void pfx(struct ins *in, uint8_t p)
{
	in->pfx[in->npfx++] = p;
}

static void opc1(struct ins *in, uint8_t o)
{
	in->opc[0] = o;
	in->nopc = 1;
}

static void opc2(struct ins *in, uint8_t o)
{
	in->opc[0] = 0x0f;
	in->opc[1] = o;
	in->nopc = 2;
}

static void wr(struct ins *in, unsigned reg, unsigned size)
{
	in->wr[in->nwr].reg = (uint8_t)reg;
	in->wr[in->nwr].size = (uint8_t)size;
	in->nwr++;
}

static bool has_base(const struct ins *in)
{
	return in->form == MF_BASE || in->form == MF_BASE_INDEX;
}

static bool has_index(const struct ins *in)
{
	return in->form == MF_BASE_INDEX || in->form == MF_INDEX;
}

static unsigned rex_bits(const struct ins *in)
{
	unsigned rex = in->w ? 8 : 0;

	if (in->modrm && (in->reg & 8))
		rex |= 4;
	if (in->modrm && !in->mem && (in->rm & 8))
		rex |= 1;
	if (in->modrm && in->mem && has_base(in) && (in->base & 8))
		rex |= 1;
	if (in->modrm && in->mem && has_index(in) && (in->index & 8))
		rex |= 2;
	if (in->opreg && (in->oreg & 8))
		rex |= 1;
	return rex;
}

static bool has_rex(const struct ins *in)
{
	return in->rex || rex_bits(in);
}

/* Bytes of in at linear address addr; returns the length. */
static unsigned encode(const struct ins *in, uint64_t addr, uint8_t *out)
{
	unsigned n = 0, rex = rex_bits(in), disp_at = 0;

	for (unsigned i = 0; i < in->npfx; i++)
		out[n++] = in->pfx[i];
	if (rex || in->rex)
		out[n++] = (uint8_t)(0x40 | rex);
	for (unsigned i = 0; i < in->nopc; i++)
		out[n++] = in->opc[i];
	if (in->opreg)
		out[n - 1] = (uint8_t)(out[n - 1] + (in->oreg & 7));
	if (in->modrm) {
		unsigned reg = (in->reg & 7) << 3, ss = in->scale == 8 ? 3 : in->scale == 4 ? 2 :
			       in->scale == 2 ? 1 : 0;
		unsigned mod = in->disp_len == 0 ? 0 : in->disp_len == 1 ? 0x40 : 0x80;

		if (!in->mem) {
			out[n++] = (uint8_t)(0xc0 | reg | (in->rm & 7));
		} else {
			switch (in->form) {
			case MF_BASE:
				if ((in->base & 7) == RSP) {
					out[n++] = (uint8_t)(mod | reg | 4);
					out[n++] = (uint8_t)(4 << 3 | RSP);
				} else {
					out[n++] = (uint8_t)(mod | reg | (in->base & 7));
				}
				break;
			case MF_BASE_INDEX:
				out[n++] = (uint8_t)(mod | reg | 4);
				out[n++] = (uint8_t)(ss << 6 | (in->index & 7) << 3 |
						     (in->base & 7));
				break;
			case MF_INDEX:
				out[n++] = (uint8_t)(reg | 4);
				out[n++] = (uint8_t)(ss << 6 | (in->index & 7) << 3 | 5);
				break;
			case MF_ABS:
				out[n++] = (uint8_t)(reg | 4);
				out[n++] = (uint8_t)(4 << 3 | 5);
				break;
			case MF_RIP:
				out[n++] = (uint8_t)(reg | 5);
				break;
			}
			disp_at = n;
			for (unsigned i = 0; i < in->disp_len; i++)
				out[n++] = (uint8_t)(in->disp >> (8 * i));
		}
	}
	for (unsigned i = 0; i < in->imm_len; i++)
		out[n++] = (uint8_t)(in->imm >> (8 * i));
	if (in->modrm && in->mem && in->form == MF_RIP && in->rip_to) {
		/* Relative to the end of the instruction, immediates included;
		 * under 67 the sum is truncated to 32 bits. */
		uint32_t d = (uint32_t)(in->rip_target - (addr + n));

		for (unsigned i = 0; i < 4; i++)
			out[disp_at + i] = (uint8_t)(d >> (8 * i));
	}
	return n;
}

/* The register a byte/word/... operand reg of size names. */
static unsigned actual_reg(unsigned reg, unsigned size, bool rex)
{
	return size == 1 && !rex && reg >= 4 && reg < 8 ? reg - 4 : reg;
}

static bool writes_allowed(const struct gen *g, const struct ins *in)
{
	bool rex = has_rex(in);

	if (in->wr_full & g->reserved)
		return false;
	for (unsigned i = 0; i < in->nwr; i++)
		if (g->reserved & (1u << actual_reg(in->wr[i].reg, in->wr[i].size, rex)))
			return false;
	return true;
}

static uint64_t here(const struct gen *g)
{
	return g->k->base + g->k->len;
}

static void emit_bytes(struct gen *g, const uint8_t *b, unsigned n)
{
	assert_true(g->k->len + n <= CODE_MAX);
	memcpy(g->k->code + g->k->len, b, n);
	g->k->len += n;
}

/* Encode in at the current end of the code; false when it would be
 * longer than 15 bytes or write a reserved register (the caller then
 * tries another). */
static bool emit(struct gen *g, const struct ins *in)
{
	uint8_t b[32];
	unsigned n = encode(in, here(g), b);

	if (n > INSN_MAX_LEN || !writes_allowed(g, in))
		return false;
	emit_bytes(g, b, n);
	return true;
}

/* ---- operands ---- */

static unsigned rsize(struct gen *g)
{
	return 1u << rnd(g, 4);
}

static unsigned wsize(struct gen *g)
{
	return 2u << rnd(g, 3);
}

/* The operand size prefixes of a non-byte size (66, REX.W), and now and
 * then a REX with no bit set (SPL..DIL for bytes, nothing otherwise). */
static void set_size(struct gen *g, struct ins *in, unsigned size)
{
	if (size == 2)
		pfx(in, 0x66);
	if (size == 8)
		in->w = true;
	if (chance(g, 15))
		in->rex = true;
}

static bool fits8(int64_t v)
{
	return v >= -128 && v <= 127;
}

/* The displacement's length for disp with the chosen form. */
static void pick_disp_len(struct gen *g, struct ins *in)
{
	if (!has_base(in)) {
		in->disp_len = 4;
		return;
	}
	if (in->disp == 0 && (in->base & 7) != RBP && chance(g, 60))
		in->disp_len = 0;
	else if (fits8(in->disp) && chance(g, 75))
		in->disp_len = 1;
	else
		in->disp_len = 4;
}

/* A linear address for an operand of size bytes: mostly in the ordinary
 * data, sometimes across a page boundary, in MMIO, in the code region
 * clear of the case's own code (a page blocks were decoded from, or may
 * be: the translator's stores check that inline), or on the special
 * pages, where some accesses fault. */
static uint64_t pick_target(struct gen *g, unsigned size)
{
	unsigned r = rnd(g, 1000);
	uint64_t clear = g->k->base + 0x800;

	if (r < 4)
		return HOLE + rnd(g, 0x1000 - size + 1);
	if (r < 14)
		return RO_PAGE + rnd(g, 0x1000 - size + 1);
	if (r < 24)
		return SUP_PAGE + rnd(g, 0x1000 - size + 1);
	if (r < 30 && size > 1) {
		/* across into the read-only, the supervisor, the absent page */
		uint64_t edge = RO_PAGE + 0x1000 * rnd(g, 3);

		return edge - 1 - rnd(g, size - 1);
	}
	if (r < 50)
		return MMIO_PAGE + rnd(g, 0x1000 - size + 1);
	if (r < 65)
		return clear + rnd(g, (unsigned)(CODE + CODE_SIZE - clear) - size + 1);
	if (r < 220) {
		uint64_t edge = DATA + 0x1000 * (1 + rnd(g, 12));

		return size > 1 ? edge - 1 - rnd(g, size - 1) : edge - rnd(g, 2);
	}
	return DATA + rnd(g, (unsigned)(RW_END - DATA) - size + 1);
}

/* Make in's r/m a memory operand at linear address t, in one of the
 * addressing forms, through the reserved registers. */
static void mem_at(struct gen *g, struct ins *in, uint64_t t)
{
	uint64_t seg_base = 0, ea, b = g->regs[g->k->rb], h = g->regs[g->k->rh];
	int64_t x = (int64_t)g->regs[g->k->rx];
	unsigned r = rnd(g, 20), f = rnd(g, 100);

	in->modrm = true;
	in->mem = true;
	/* FS and GS add their bases; ES, CS, SS and DS do nothing here. */
	if (r == 0) {
		pfx(in, 0x64);
		seg_base = FS_BASE;
	} else if (r == 1) {
		pfx(in, 0x65);
		seg_base = GS_BASE;
	} else if (r == 2) {
		static const uint8_t nop_seg[4] = { 0x26, 0x2e, 0x36, 0x3e };

		pfx(in, nop_seg[rnd(g, 4)]);
	}
	ea = t - seg_base;
	in->scale = 1u << rnd(g, 4);
	if (f < 14) {
		/* 67: the effective address is computed in 32 bits (and
		 * ea < 4 GiB here), so the base may have garbage above. */
		pfx(in, 0x67);
		switch (rnd(g, 4)) {
		case 0:
			in->form = MF_BASE;
			in->base = (unsigned)g->k->rh;
			in->disp = (int32_t)(uint32_t)(ea - h);
			break;
		case 1:
			in->form = MF_BASE_INDEX;
			in->base = (unsigned)g->k->rh;
			in->index = (unsigned)g->k->rx;
			in->disp = (int32_t)(uint32_t)(ea - h - (uint64_t)x * in->scale);
			break;
		case 2:
			in->form = MF_BASE;
			in->base = (unsigned)g->k->rb;
			in->disp = (int32_t)(uint32_t)(ea - b);
			break;
		default:
			in->form = MF_RIP;
			in->rip_to = true;
			in->rip_target = ea;
			break;
		}
	} else if (f < 40) {
		in->form = MF_BASE;
		in->base = (unsigned)g->k->rb;
		in->disp = (int64_t)(ea - b);
	} else if (f < 65) {
		in->form = MF_BASE_INDEX;
		in->base = (unsigned)g->k->rb;
		in->index = (unsigned)g->k->rx;
		in->disp = (int64_t)(ea - b - (uint64_t)x * in->scale);
	} else if (f < 75) {
		in->form = MF_INDEX;
		in->index = (unsigned)g->k->rx;
		in->disp = (int64_t)(ea - (uint64_t)x * in->scale);
	} else if (f < 80) {
		in->form = MF_ABS;
		in->disp = (int64_t)ea;
	} else {
		in->form = MF_RIP;
		in->rip_to = true;
		in->rip_target = ea;
	}
	assert_true(in->disp >= INT32_MIN && in->disp <= INT32_MAX);
	pick_disp_len(g, in);
}

/* A memory operand of size bytes: somewhere picked, or near RSP. */
static void mem_operand(struct gen *g, struct ins *in, unsigned size)
{
	if (g->wild >= 0) {
		in->modrm = true;
		in->mem = true;
		in->form = MF_BASE;
		in->base = (unsigned)g->wild;
		in->disp = (int)rnd(g, 16) - 8;
		pick_disp_len(g, in);
		return;
	}
	if (!g->in_sub && chance(g, 8)) {
		/* [rsp + disp8]: wherever RSP has moved to, still in the
		 * stack pages. */
		in->modrm = true;
		in->mem = true;
		in->form = MF_BASE;
		in->base = RSP;
		in->disp = (int)rnd(g, 128) - 64;
		pick_disp_len(g, in);
		return;
	}
	mem_at(g, in, pick_target(g, size));
}

/* The r/m operand: a register (written when write) or, percent of the
 * time, memory. */
static void rm_operand(struct gen *g, struct ins *in, unsigned size, bool write, unsigned percent)
{
	in->modrm = true;
	if (chance(g, percent)) {
		mem_operand(g, in, size);
		return;
	}
	in->rm = rnd(g, 16);
	if (write)
		wr(in, in->rm, size);
}

/* An addressing form with any registers: for LEA and NOP, which compute
 * an address and access nothing. */
static void any_address(struct gen *g, struct ins *in)
{
	in->modrm = true;
	in->mem = true;
	in->form = (enum mform)rnd(g, 5);
	in->base = rnd(g, 16);
	do
		in->index = rnd(g, 16);
	while (in->index == RSP);
	in->scale = 1u << rnd(g, 4);
	in->disp = chance(g, 50) ? (int)rnd(g, 256) - 128 : (int32_t)value(g, 4);
	if (in->form == MF_RIP && chance(g, 50))
		in->disp = 0;
	if (chance(g, 15))
		pfx(in, 0x67);
	if (chance(g, 5))
		pfx(in, 0x64);
	pick_disp_len(g, in);
}

static unsigned count_imm(struct gen *g)
{
	static const uint8_t counts[] = {
		0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 0xff,
	};

	return chance(g, 25) ? rnd(g, 256) : counts[rnd(g, sizeof(counts))];
}

/* ---- instruction kinds ---- */

static void g_mov(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g);

	set_size(g, in, size);
	switch (rnd(g, 4)) {
	case 0:                                     /* 88 89: r/m, reg */
		opc1(in, size == 1 ? 0x88 : 0x89);
		in->reg = rnd(g, 16);
		rm_operand(g, in, size, true, 50);
		break;
	case 1:                                     /* 8A 8B: reg, r/m */
		opc1(in, size == 1 ? 0x8a : 0x8b);
		in->reg = rnd(g, 16);
		wr(in, in->reg, size);
		rm_operand(g, in, size, false, 50);
		break;
	case 2:                                     /* C6 C7 /0: r/m, imm */
		opc1(in, size == 1 ? 0xc6 : 0xc7);
		in->reg = 0;
		rm_operand(g, in, size, true, 50);
		in->imm_len = size == 1 ? 1 : size == 2 ? 2 : 4;
		in->imm = value(g, in->imm_len);
		break;
	default:                                    /* B0-BF: reg, imm (imm64 with REX.W) */
		opc1(in, size == 1 ? 0xb0 : 0xb8);
		in->opreg = true;
		in->oreg = rnd(g, 16);
		wr(in, in->oreg, size);
		in->imm_len = size;
		in->imm = value(g, size);
		break;
	}
}

static void g_lea(struct gen *g, struct ins *in)
{
	unsigned size = wsize(g);

	set_size(g, in, size);
	opc1(in, 0x8d);
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	any_address(g, in);
}

static void g_movx(struct gen *g, struct ins *in)
{
	static const uint8_t ops[4] = { 0xb6, 0xb7, 0xbe, 0xbf };
	uint8_t op = ops[rnd(g, 4)];
	unsigned size = wsize(g);

	set_size(g, in, size);
	opc2(in, op);
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	rm_operand(g, in, (op & 1) ? 2 : 1, false, 40);
}

static void g_movsxd(struct gen *g, struct ins *in)
{
	/* Without REX.W it is a 32-bit move, which is not translated. */
	unsigned size = chance(g, 85) ? 8 : 4;

	set_size(g, in, size);
	opc1(in, 0x63);
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	rm_operand(g, in, 4, false, 40);
}

static void maybe_lock(struct gen *g, struct ins *in, unsigned percent)
{
	if (in->mem && chance(g, percent))
		pfx(in, 0xf0);
}

/* 00-3D: ADD OR ADC SBB AND SUB XOR CMP in their six forms. */
static void g_alu(struct gen *g, struct ins *in)
{
	unsigned n = rnd(g, 8), form = rnd(g, 6);
	unsigned size = form == 4 ? 1 : form == 5 ? wsize(g) : rsize(g);

	set_size(g, in, size);
	opc1(in, (uint8_t)(n * 8 + (form < 4 ? (form & 2) + (size == 1 ? 0 : 1) : form)));
	switch (form) {
	case 0: case 1:
		in->reg = rnd(g, 16);
		rm_operand(g, in, size, n != 7, 45);
		if (n != 7)
			maybe_lock(g, in, 12);
		break;
	case 2: case 3:
		in->reg = rnd(g, 16);
		if (n != 7)
			wr(in, in->reg, size);
		rm_operand(g, in, size, false, 45);
		break;
	default:
		in->imm_len = size == 1 ? 1 : size == 2 ? 2 : 4;
		in->imm = value(g, in->imm_len);
		if (n != 7)
			wr(in, RAX, size);
		break;
	}
}

/* 80 81 83: group 1 with an immediate. */
static void g_grp1(struct gen *g, struct ins *in)
{
	static const uint8_t ops[3] = { 0x80, 0x81, 0x83 };
	uint8_t op = ops[rnd(g, 3)];
	unsigned n = rnd(g, 8), size = op == 0x80 ? 1 : wsize(g);

	set_size(g, in, size);
	opc1(in, op);
	in->reg = n;
	rm_operand(g, in, size, n != 7, 45);
	if (n != 7)
		maybe_lock(g, in, 12);
	in->imm_len = op == 0x81 ? (size == 2 ? 2 : 4) : 1;
	in->imm = value(g, in->imm_len);
}

/* 84 85, A8 A9, F6 F7 /0 (/1, its alias). */
static void g_test(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g);

	set_size(g, in, size);
	switch (rnd(g, 3)) {
	case 0:
		opc1(in, size == 1 ? 0x84 : 0x85);
		in->reg = rnd(g, 16);
		rm_operand(g, in, size, false, 40);
		return;
	case 1:
		opc1(in, size == 1 ? 0xa8 : 0xa9);
		break;
	default:
		opc1(in, size == 1 ? 0xf6 : 0xf7);
		in->reg = chance(g, 85) ? 0 : 1;
		rm_operand(g, in, size, false, 40);
		break;
	}
	in->imm_len = size == 1 ? 1 : size == 2 ? 2 : 4;
	in->imm = value(g, in->imm_len);
}

/* FE FF /0 /1 (INC DEC) and F6 F7 /2 /3 (NOT NEG): read-modify-write of
 * r/m. */
static void g_unary(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g);
	bool incdec = chance(g, 55);

	set_size(g, in, size);
	opc1(in, (uint8_t)((incdec ? 0xfe : 0xf6) + (size == 1 ? 0 : 1)));
	in->reg = (incdec ? 0 : 2) + rnd(g, 2);
	rm_operand(g, in, size, true, 45);
	maybe_lock(g, in, 12);
}

/* F6 F7 /4 /5 (MUL IMUL), rarely /6 /7 (DIV IDIV: not translated, and
 * they raise #DE on many random inputs). */
static void g_mul1(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g);

	set_size(g, in, size);
	opc1(in, size == 1 ? 0xf6 : 0xf7);
	in->reg = (chance(g, 94) ? 4 : 6) + rnd(g, 2);
	rm_operand(g, in, size, false, 40);
	in->wr_full = (1u << RAX) | (size == 1 ? 0 : 1u << RDX);
}

/* 0F AF, 69, 6B. */
static void g_imul(struct gen *g, struct ins *in)
{
	unsigned size = wsize(g), form = rnd(g, 3);

	set_size(g, in, size);
	if (form == 0)
		opc2(in, 0xaf);
	else
		opc1(in, form == 1 ? 0x69 : 0x6b);
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	rm_operand(g, in, size, false, 40);
	if (form == 1)
		in->imm_len = size == 2 ? 2 : 4;
	else if (form == 2)
		in->imm_len = 1;
	in->imm = value(g, in->imm_len ? in->imm_len : 1);
}

/* C0 C1 D0 D1 D2 D3: ROL ROR RCL RCR SHL SHR SAR, and SAL (/6, not
 * translated). Immediate counts include 0 and counts that mask to 0. */
static void g_shift(struct gen *g, struct ins *in)
{
	static const uint8_t ops[6] = { 0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3 };
	static const uint8_t digits[7] = { 0, 1, 2, 3, 4, 5, 7 };
	uint8_t op = ops[rnd(g, 6)];
	unsigned size = (op & 1) ? wsize(g) : 1;

	set_size(g, in, size);
	opc1(in, op);
	in->reg = chance(g, 95) ? digits[rnd(g, 7)] : 6;
	rm_operand(g, in, size, true, 35);
	if (op < 0xd0) {
		in->imm_len = 1;
		in->imm = count_imm(g);
	}
}

/* 0F 90-9F: SETcc r/m8 (the memory form is not translated). */
static void g_setcc(struct gen *g, struct ins *in)
{
	set_size(g, in, 1);
	opc2(in, (uint8_t)(0x90 + rnd(g, 16)));
	in->reg = chance(g, 80) ? 0 : rnd(g, 8);
	rm_operand(g, in, 1, true, 12);
}

/* 0F 40-4F: CMOVcc. */
static void g_cmov(struct gen *g, struct ins *in)
{
	unsigned size = wsize(g);

	set_size(g, in, size);
	opc2(in, (uint8_t)(0x40 + rnd(g, 16)));
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	rm_operand(g, in, size, false, 35);
}

/* 50-5F, 68, 6A; 16-bit pushes and pops (66) are not translated. */
static void g_pushpop(struct gen *g, struct ins *in)
{
	unsigned kind = rnd(g, 5);
	bool o16 = chance(g, 5);

	if (o16)
		pfx(in, 0x66);
	if (chance(g, 10))
		in->rex = true;
	if (kind < 2) {
		opc1(in, 0x50);
		in->opreg = true;
		in->oreg = rnd(g, 16);
	} else if (kind < 4) {
		opc1(in, 0x58);
		in->opreg = true;
		in->oreg = rnd(g, 16);
		wr(in, in->oreg, o16 ? 2 : 8);
	} else if (chance(g, 50)) {
		opc1(in, 0x6a);
		in->imm_len = 1;
		in->imm = value(g, 1);
	} else {
		opc1(in, 0x68);
		in->imm_len = o16 ? 2 : 4;
		in->imm = value(g, in->imm_len);
	}
}

/* 98 (CBW CWDE CDQE), 99 (CWD CDQ CQO). */
static void g_convert(struct gen *g, struct ins *in)
{
	bool cwd = chance(g, 50);

	set_size(g, in, wsize(g));
	opc1(in, cwd ? 0x99 : 0x98);
	in->wr_full = 1u << (cwd ? RDX : RAX);
}

/* 90 (66 90, F3 90: PAUSE), 0F 1F /0 with any address (nothing is
 * accessed). */
static void g_nop(struct gen *g, struct ins *in)
{
	switch (rnd(g, 4)) {
	case 0:
		opc1(in, 0x90);
		break;
	case 1:
		pfx(in, chance(g, 50) ? 0x66 : 0xf3);
		opc1(in, 0x90);
		break;
	default:
		set_size(g, in, wsize(g));
		opc2(in, 0x1f);
		in->reg = 0;
		if (chance(g, 70)) {
			any_address(g, in);
		} else {
			in->modrm = true;
			in->rm = rnd(g, 16);
		}
		break;
	}
}

/* ---- kinds left to the interpreter's handlers ---- */

/* 0F BC BD: BSF BSR. */
static void g_bsf(struct gen *g, struct ins *in)
{
	unsigned size = wsize(g);

	set_size(g, in, size);
	opc2(in, chance(g, 50) ? 0xbc : 0xbd);
	in->reg = rnd(g, 16);
	wr(in, in->reg, size);
	rm_operand(g, in, size, false, 30);
}

/* 86 87 (with memory: locked), 91-97 and REX.B 90: XCHG. */
static void g_xchg(struct gen *g, struct ins *in)
{
	unsigned size;

	if (chance(g, 60)) {
		size = rsize(g);
		set_size(g, in, size);
		opc1(in, size == 1 ? 0x86 : 0x87);
		in->reg = rnd(g, 16);
		wr(in, in->reg, size);
		rm_operand(g, in, size, true, 40);
	} else {
		size = wsize(g);
		set_size(g, in, size);
		opc1(in, 0x90);
		in->opreg = true;
		in->oreg = 1 + rnd(g, 15);
		wr(in, in->oreg, size);
		wr(in, RAX, size);
	}
}

/* 0F A3 AB B3 BB (register forms only: a register bit offset reaches
 * memory far from the operand), 0F BA /4-/7 with an immediate. */
static void g_bt(struct gen *g, struct ins *in)
{
	static const uint8_t ops[4] = { 0xa3, 0xab, 0xb3, 0xbb };
	unsigned size = wsize(g), n;

	set_size(g, in, size);
	if (chance(g, 40)) {
		uint8_t op = ops[rnd(g, 4)];

		opc2(in, op);
		in->reg = rnd(g, 16);
		in->modrm = true;
		in->rm = rnd(g, 16);
		if (op != 0xa3)
			wr(in, in->rm, size);
		return;
	}
	opc2(in, 0xba);
	n = 4 + rnd(g, 4);
	in->reg = n;
	rm_operand(g, in, size, n != 4, 40);
	if (n != 4)
		maybe_lock(g, in, 20);
	in->imm_len = 1;
	in->imm = rnd(g, 256);
}

/* 0F C0 C1 (XADD), 0F B0 B1 (CMPXCHG). */
static void g_xadd(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g);
	bool cmpxchg = chance(g, 50);

	set_size(g, in, size);
	opc2(in, (uint8_t)((cmpxchg ? 0xb0 : 0xc0) + (size == 1 ? 0 : 1)));
	in->reg = rnd(g, 16);
	if (cmpxchg)
		in->wr_full = 1u << RAX;
	else
		wr(in, in->reg, size);
	rm_operand(g, in, size, true, 45);
	maybe_lock(g, in, 30);
}

/* 0F C8-CF: BSWAP. */
static void g_bswap(struct gen *g, struct ins *in)
{
	unsigned size = chance(g, 50) ? 4 : 8;

	set_size(g, in, size);
	opc2(in, 0xc8);
	in->opreg = true;
	in->oreg = rnd(g, 16);
	wr(in, in->oreg, size);
}

/* LAHF SAHF CLC STC CMC CLD STD, and PUSHFQ: the flags through the
 * handlers, which must see what translated code left in them. */
static void g_flagop(struct gen *g, struct ins *in)
{
	static const uint8_t ops[8] = { 0x9f, 0x9e, 0xf8, 0xf9, 0xf5, 0xfc, 0xfd, 0x9c };
	uint8_t op = ops[rnd(g, g->in_sub ? 7 : 8)];

	opc1(in, op);
	if (op == 0x9f)
		in->wr_full = 1u << RAX;
}

/* 0F A4 AC (SHLD SHRD imm), 0F A5 AD (by CL). */
static void g_shld(struct gen *g, struct ins *in)
{
	unsigned size = wsize(g);
	uint8_t op = (uint8_t)((chance(g, 50) ? 0xa4 : 0xac) + rnd(g, 2));

	set_size(g, in, size);
	opc2(in, op);
	in->reg = rnd(g, 16);
	rm_operand(g, in, size, true, 30);
	if (!(op & 1)) {
		in->imm_len = 1;
		in->imm = count_imm(g);
	}
}

/* FF /6 (PUSH r/m), 8F /0 (POP r/m). */
static void g_pushpop_rm(struct gen *g, struct ins *in)
{
	bool pop = chance(g, 50);

	if (chance(g, 10))
		in->rex = true;
	opc1(in, pop ? 0x8f : 0xff);
	in->reg = pop ? 0 : 6;
	rm_operand(g, in, 8, pop, 50);
}

/* A0-A3: MOV between rAX and an absolute address (moffs, 8 bytes or 4
 * under 67). */
static void g_moffs(struct gen *g, struct ins *in)
{
	unsigned size = rsize(g), r = rnd(g, 8);
	uint64_t seg_base = 0, t = pick_target(g, size);
	bool load = chance(g, 50);

	if (r == 0) {
		pfx(in, 0x64);
		seg_base = FS_BASE;
	} else if (r == 1) {
		pfx(in, 0x65);
		seg_base = GS_BASE;
	}
	in->imm_len = 8;
	if (chance(g, 20)) {
		pfx(in, 0x67);
		in->imm_len = 4;
	}
	set_size(g, in, size);
	opc1(in, (uint8_t)((load ? 0xa0 : 0xa2) + (size == 1 ? 0 : 1)));
	in->imm = (t - seg_base) & size_mask(in->imm_len);
	if (load)
		wr(in, RAX, size);
}

typedef void (*kind_fn)(struct gen *g, struct ins *in);

static const struct kind {
	kind_fn fn;
	unsigned weight;
	bool moves_rsp;                /* not in subroutines */
} kinds[] = {
	{ g_mov, 14, false },
	{ g_lea, 5, false },
	{ g_movx, 4, false },
	{ g_movsxd, 2, false },
	{ g_alu, 14, false },
	{ g_grp1, 8, false },
	{ g_test, 4, false },
	{ g_unary, 6, false },
	{ g_mul1, 3, false },
	{ g_imul, 4, false },
	{ g_shift, 10, false },
	{ g_setcc, 4, false },
	{ g_cmov, 4, false },
	{ g_pushpop, 7, true },
	{ g_convert, 2, false },
	{ g_nop, 2, false },
	/* left to the handlers */
	{ g_bsf, 1, false },
	{ g_xchg, 2, false },
	{ g_bt, 2, false },
	{ g_xadd, 2, false },
	{ g_bswap, 1, false },
	{ g_flagop, 2, false },
	{ g_shld, 1, false },
	{ g_pushpop_rm, 1, true },
	{ g_moffs, 1, false },
};

/* One instruction of a random kind. */
static void emit_simple(struct gen *g)
{
	unsigned total = 0;

	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!(g->in_sub && kinds[i].moves_rsp))
			total += kinds[i].weight;
	for (;;) {
		unsigned pick = rnd(g, total), i = 0;
		struct ins in;

		for (;; i++) {
			if (g->in_sub && kinds[i].moves_rsp)
				continue;
			if (pick < kinds[i].weight)
				break;
			pick -= kinds[i].weight;
		}
		memset(&in, 0, sizeof(in));
		kinds[i].fn(g, &in);
		if (emit(g, &in))
			return;
	}
}

/* ---- units: an instruction, or a few that belong together ---- */

static unsigned free_reg(struct gen *g)
{
	unsigned r;

	do
		r = rnd(g, 16);
	while ((g->reserved >> r) & 1);
	return r;
}

/* mov r32, imm32 (B8+r). */
static void emit_mov_imm32(struct gen *g, unsigned reg, uint32_t v)
{
	struct ins in = { 0 };

	opc1(&in, 0xb8);
	in.opreg = true;
	in.oreg = reg;
	in.imm = v;
	in.imm_len = 4;
	wr(&in, reg, 4);
	assert_true(emit(g, &in));
}

/* A string instruction (handler) with RDI, RSI and RCX set up (by
 * translated MOVs) to stay in the data: STOS MOVS LODS SCAS CMPS, bytes or
 * wider, with or without REP. */
static unsigned unit_string(struct gen *g)
{
	static const uint8_t ops[5] = { 0xaa, 0xa4, 0xac, 0xae, 0xa6 };
	uint8_t op = ops[rnd(g, 5)];
	unsigned size = rsize(g), n = 1, rep = rnd(g, 3);
	struct ins in = { 0 };

	if (op != 0xac) {
		emit_mov_imm32(g, RDI, (uint32_t)(DATA + 0x1000 + rnd(g, 0xa000)));
		n++;
	}
	if (op == 0xa4 || op == 0xac || op == 0xa6) {
		emit_mov_imm32(g, RSI, (uint32_t)(DATA + 0x1000 + rnd(g, 0xa000)));
		n++;
	}
	if (rep) {
		emit_mov_imm32(g, RCX, rnd(g, 17));
		n++;
		/* F2 is REPNE for SCAS and CMPS, REP for the others. */
		pfx(&in, rep == 1 ? 0xf3 : 0xf2);
	}
	if (size == 2)
		pfx(&in, 0x66);
	in.w = size == 8;
	opc1(&in, (uint8_t)(op + (size == 1 ? 0 : 1)));
	in.wr_full = 1u << RDI | 1u << RSI | 1u << RCX | 1u << RAX;
	assert_true(emit(g, &in));
	return n;
}

/* A forward branch over 0-2 instructions: Jcc rel8 or rel32, JMP, or
 * LOOPNE/LOOPE/LOOP/JRCXZ (which are left to the handlers). */
static unsigned unit_skip(struct gen *g)
{
	unsigned kind = rnd(g, 12), k = rnd(g, 3), at = g->k->len, blen, rel;
	uint8_t b[8];

	if (kind < 6) {
		b[0] = (uint8_t)(0x70 + rnd(g, 16));
		blen = 2;
	} else if (kind < 9) {
		/* now and then with a branch hint (2E, 3E), which changes
		 * nothing */
		unsigned h = chance(g, 20);

		if (h)
			b[0] = chance(g, 50) ? 0x2e : 0x3e;
		b[h] = 0x0f;
		b[h + 1] = (uint8_t)(0x80 + rnd(g, 16));
		blen = 6 + h;
	} else if (kind == 9) {
		b[0] = chance(g, 50) ? 0xeb : 0xe9;
		blen = b[0] == 0xeb ? 2 : 5;
	} else {
		b[0] = (uint8_t)(0xe0 + rnd(g, 4));
		blen = 2;
	}
	g->k->len += blen;
	for (unsigned i = 0; i < k; i++)
		emit_simple(g);
	rel = g->k->len - (at + blen);
	if (blen == 2) {
		assert_true(rel <= 127);
		b[1] = (uint8_t)rel;
	} else {
		for (unsigned i = 0; i < 4; i++)
			b[blen - 4 + i] = (uint8_t)(rel >> (8 * i));
	}
	memcpy(g->k->code + at, b, blen);
	return 1 + k;
}

/* The rel32/disp32 at offset at (its instruction ending at end) is to
 * reach a new subroutine: emit_subs places it after the terminator and
 * patches it. */
static void to_sub(struct gen *g, unsigned at, unsigned end)
{
	assert_true(g->nsubs < sizeof(g->fix) / sizeof(g->fix[0]));
	g->fix[g->nsubs].at = at;
	g->fix[g->nsubs].end = end;
	g->nsubs++;
}

/* lea reg, [rip + disp32]: to a subroutine (sub) or to target. */
static void emit_lea_rip(struct gen *g, unsigned reg, bool sub, uint64_t target)
{
	struct ins in = { 0 };

	in.w = true;
	opc1(&in, 0x8d);
	in.reg = reg;
	in.modrm = true;
	in.mem = true;
	in.form = MF_RIP;
	in.disp_len = 4;
	in.rip_to = !sub;
	in.rip_target = target;
	wr(&in, reg, 8);
	assert_true(emit(g, &in));
	if (sub)
		to_sub(g, g->k->len - 4, g->k->len);
}

/* CALL rel32 (kind 0), CALL through a register (1) or memory (2), JMP
 * through a register (3) or memory (4), the target loaded by a LEA.
 * Calls go to a subroutine that returns; jumps go to the next
 * instruction. */
static unsigned unit_branch(struct gen *g)
{
	unsigned kind = rnd(g, 5), reg = free_reg(g), n = 1;
	bool call = kind < 3;
	struct ins in = { 0 };
	uint64_t slot = 0;

	if (kind == 0) {
		static const uint8_t call_rel[5] = { 0xe8, 0, 0, 0, 0 };

		emit_bytes(g, call_rel, 5);
		to_sub(g, g->k->len - 4, g->k->len);
		return 1;
	}
	/* FF /2 or /4, through reg or through a qword in the data. REX.W
	 * or 66 change nothing: near branches are 64-bit here. */
	opc1(&in, 0xff);
	in.reg = call ? 2 : 4;
	in.w = chance(g, 20);
	if (chance(g, 10))
		pfx(&in, 0x66);
	if (kind == 2 || kind == 4) {
		slot = DATA + 8 * rnd(g, (unsigned)(RW_END - DATA) / 8);
		mem_at(g, &in, slot);
	} else {
		in.modrm = true;
		in.rm = reg;
	}
	if (call) {
		emit_lea_rip(g, reg, true, 0);
	} else {
		/* The jump's length does not depend on where it is. */
		uint8_t tmp[32];
		unsigned jlen = encode(&in, 0, tmp), mlen = 0;

		if (slot) {
			struct ins st = { 0 };

			st.w = true;
			opc1(&st, 0x89);
			st.reg = reg;
			mem_at(g, &st, slot);
			mlen = encode(&st, 0, tmp);
			/* lea (7 bytes), the store, the jump */
			emit_lea_rip(g, reg, false, here(g) + 7 + mlen + jlen);
			assert_true(emit(g, &st));
			n++;
		} else {
			emit_lea_rip(g, reg, false, here(g) + 7 + jlen);
		}
		assert_true(emit(g, &in));
		return n + 2;
	}
	if (slot) {
		struct ins st = { 0 };

		st.w = true;
		opc1(&st, 0x89);
		st.reg = reg;
		mem_at(g, &st, slot);
		assert_true(emit(g, &st));
		n++;
	}
	assert_true(emit(g, &in));
	return n + 1;
}

/* Self-modifying code: a RIP-relative store (MOV, ADD, or a locked ADD,
 * which is left to the handler) into the immediate of a MOV that comes
 * 0-2 instructions later. The block must stop after the store, and the
 * MOV run with its new immediate. Sometimes a store to the same page,
 * before the case's code, comes first: the page is then no longer marked
 * as holding code, but the running block still is code. */
static unsigned unit_smc(struct gen *g)
{
	static const uint8_t forms[4][3] = {
		{ 0xc6, 0x05 }, { 0x66, 0xc7, 0x05 }, { 0x80, 0x05 }, { 0xf0, 0x80, 0x05 },
	};
	static const unsigned nop[4] = { 2, 3, 2, 3 };
	unsigned kind = rnd(g, 4), nsimple = rnd(g, 3), k = nsimple, at, reg = free_reg(g);
	unsigned ilen = kind == 1 ? 2 : 1, slen = nop[kind] + 4 + ilen;
	uint8_t b[12];
	uint64_t imm_at, imm = value(g, ilen);
	uint32_t disp;
	struct ins mov = { 0 };
	uint64_t page = here(g) & ~0xfffull;

	if (g->k->base > page + 24 && chance(g, 30)) {
		uint8_t pre[7] = { 0xc6, 0x05 };
		uint64_t t = page + rnd(g, (unsigned)(g->k->base - page) - 16);

		disp = (uint32_t)(t - (here(g) + 7));
		memcpy(pre + 2, &disp, 4);
		pre[6] = (uint8_t)rnd(g, 256);
		emit_bytes(g, pre, 7);
		k++;
	}
	at = g->k->len;
	g->k->len += slen;
	for (unsigned i = 0; i < nsimple; i++)
		emit_simple(g);
	opc1(&mov, 0xb8);
	mov.opreg = true;
	mov.oreg = reg;
	mov.imm = value(g, 4);
	mov.imm_len = 4;
	wr(&mov, reg, 4);
	imm_at = here(g) + (reg >= 8 ? 2 : 1);
	assert_true(emit(g, &mov));
	disp = (uint32_t)(imm_at + rnd(g, 5 - ilen) - (g->k->base + at + slen));
	memcpy(b, forms[kind], nop[kind]);
	memcpy(b + nop[kind], &disp, 4);
	memcpy(b + nop[kind] + 4, &imm, ilen);
	memcpy(g->k->code + at, b, slen);
	return 2 + k;
}

/* POP RSP: push rsp; pop rsp, or push imm; pop rsp with a new stack
 * pointer (still in the stack pages), which shows the order of the load,
 * the increment and the write. */
static unsigned unit_pop_rsp(struct gen *g)
{
	static const uint8_t same[2] = { 0x54, 0x5c };
	uint8_t b[6] = { 0x68 };
	uint32_t v = (uint32_t)(STACK_TOP - 0x100 + rnd(g, 0x200));

	if (chance(g, 50)) {
		emit_bytes(g, same, 2);
		return 2;
	}
	memcpy(b + 1, &v, 4);
	b[5] = 0x5c;
	emit_bytes(g, b, 6);
	return 2;
}

/* mov r64, imm64, bypassing the reserved-register check (for the loop
 * counter, which only its unit writes). */
static void emit_mov_imm64_raw(struct gen *g, unsigned reg, uint64_t v)
{
	struct ins in = { 0 };
	uint8_t b[16];

	in.w = true;
	opc1(&in, 0xb8);
	in.opreg = true;
	in.oreg = reg;
	in.imm = v;
	in.imm_len = 8;
	emit_bytes(g, b, encode(&in, here(g), b));
}

/* A counted loop: mov rl, n; L: 1-3 instructions; dec rl; jnz L. The
 * block at L runs 2-4 times, translated the first time, re-entered with
 * other registers and flags. */
static unsigned unit_loop(struct gen *g)
{
	unsigned n = 2 + rnd(g, 3), k = 1 + rnd(g, 3), rl = (unsigned)g->k->rl, top;
	uint8_t b[5];
	unsigned len = 0;
	int rel;

	emit_mov_imm64_raw(g, rl, n);
	top = g->k->len;
	for (unsigned i = 0; i < k; i++)
		emit_simple(g);
	if (rl & 8)
		b[len++] = 0x41;
	b[len++] = 0xff;                              /* dec r32 */
	b[len++] = (uint8_t)(0xc8 | (rl & 7));
	rel = (int)top - (int)(g->k->len + len + 2);
	assert_true(rel >= -128);
	b[len++] = 0x75;                              /* jnz top */
	b[len++] = (uint8_t)rel;
	emit_bytes(g, b, len);
	return 3 + k;
}

/* An address far from anything mapped, in a register just loaded: non-
 * canonical (#GP), across the end of the lower canonical half, or
 * canonical but with no page tables (#PF), for one instruction's memory
 * operand. */
static unsigned unit_wild(struct gen *g)
{
	static const uint64_t wild[] = {
		0x0000800000000000ull, 0x00007ffffffffffcull, 0xffff7ffffffffff8ull,
		0xffff800000000000ull, 0x00007ffffffff000ull, 0x8000000000000000ull,
	};
	unsigned r = free_reg(g);
	struct ins in = { 0 };

	in.w = true;
	opc1(&in, 0xb8);
	in.opreg = true;
	in.oreg = r;
	in.imm = wild[rnd(g, sizeof(wild) / sizeof(wild[0]))] + rnd(g, 8);
	in.imm_len = 8;
	wr(&in, r, 8);
	assert_true(emit(g, &in));
	g->wild = (int)r;
	emit_simple(g);
	g->wild = -1;
	return 2;
}

/* call next; pop reg: the get-PC idiom, a call to the very next
 * instruction (its handler returns to the translated code). */
static unsigned unit_get_pc(struct gen *g)
{
	static const uint8_t call_next[5] = { 0xe8, 0, 0, 0, 0 };
	unsigned r = free_reg(g);
	uint8_t pop[2] = { 0x41, (uint8_t)(0x58 | (r & 7)) };

	emit_bytes(g, call_next, 5);
	if (r & 8)
		emit_bytes(g, pop, 2);
	else
		emit_bytes(g, pop + 1, 1);
	return 2;
}

static unsigned emit_unit(struct gen *g)
{
	unsigned r = rnd(g, 100);

	if (r < 76) {
		emit_simple(g);
		return 1;
	}
	if (r < 79)
		return unit_string(g);
	if (r < 80)
		return unit_pop_rsp(g);
	if (r < 87)
		return unit_skip(g);
	if (r < 90)
		return unit_smc(g);
	if (r < 92)
		return unit_loop(g);
	if (r < 93)
		return unit_wild(g);
	if (r < 94)
		return unit_get_pc(g);
	return unit_branch(g);
}

/* HLT, or (always at CPL 3, where HLT faults) OUT to a port, which ends
 * the run, then a jump to itself that the run stops at. */
static void emit_terminator(struct gen *g)
{
	static const uint8_t hlt = 0xf4, spin[2] = { 0xeb, 0xfe };

	if (!g->k->user && chance(g, 50)) {
		emit_bytes(g, &hlt, 1);
		return;
	}
	switch (rnd(g, 4)) {
	case 0: emit_bytes(g, (const uint8_t[]){ 0xe6, 0xe9 }, 2); break;        /* out 0xe9, al */
	case 1: emit_bytes(g, (const uint8_t[]){ 0xe7, 0x80 }, 2); break;        /* out 0x80, eax */
	case 2: emit_bytes(g, (const uint8_t[]){ 0x66, 0xe7, 0x84 }, 3); break;  /* out 0x84, ax */
	default: emit_bytes(g, (const uint8_t[]){ 0xee }, 1); break;             /* out dx, al */
	}
	emit_bytes(g, spin, 2);
}

/* The subroutines of the calls: a few instructions, then RET. */
static void emit_subs(struct gen *g)
{
	static const uint8_t ret = 0xc3, ret_imm[3] = { 0xc2, 0x08, 0x00 };

	g->in_sub = true;
	for (unsigned s = 0; s < g->nsubs; s++) {
		uint32_t rel = g->k->len - g->fix[s].end;

		memcpy(g->k->code + g->fix[s].at, &rel, 4);
		for (unsigned i = rnd(g, 4); i; i--)
			emit_simple(g);
		/* RET, or RET 8 (a handler), which drops a qword more */
		if (chance(g, 85))
			emit_bytes(g, &ret, 1);
		else
			emit_bytes(g, ret_imm, 3);
	}
	g->in_sub = false;
}

/* Registers: random, but four of RBX RBP R8-R15 are reserved, three for
 * addressing and one for loops (RAX RCX RDX RSI RDI have implicit uses). */
static void pick_registers(struct gen *g)
{
	static const uint8_t cands[10] = { RBX, RBP, R8, R9, R10, R11, R12, R13, R14, R15 };
	struct jcase *k = g->k;
	unsigned pick[4];

	for (unsigned i = 0; i < 4; i++) {
		bool again;

		do {
			pick[i] = rnd(g, 10);
			again = false;
			for (unsigned j = 0; j < i; j++)
				again |= pick[j] == pick[i];
		} while (again);
	}
	k->rb = cands[pick[0]];
	k->rh = cands[pick[1]];
	k->rx = cands[pick[2]];
	k->rl = cands[pick[3]];
	g->reserved = (uint16_t)(1u << RSP | 1u << k->rb | 1u << k->rh | 1u << k->rx | 1u << k->rl);

	for (unsigned r = 0; r < 16; r++)
		g->regs[r] = value(g, 8);
	if (chance(g, 40))
		g->regs[RCX] = rnd(g, 70);       /* shift and rotate counts */
	g->regs[RSP] = STACK_TOP - 0x80 + rnd(g, 0x100);
	if (chance(g, 70))
		g->regs[RSP] &= ~7ull;
	g->regs[k->rb] = DATA + 0x2000 + rnd(g, 0x8000);
	g->regs[k->rh] = rnd64(g) << 32 | (DATA + rnd(g, 0xc000));
	g->regs[k->rx] = (uint64_t)((int64_t)rnd(g, 129) - 64);
}

/* Generate the case of seed: code, registers, flags and data. */
static void case_generate(struct fixture *f, struct jcase *k, uint64_t seed)
{
	struct gen *g = calloc(1, sizeof(*g));
	struct emu_cpu *c = &f->cpu;
	unsigned target, n = 0;
	uint64_t rflags;
	uint8_t *data = guest_mem_ptr(&f->mem, DATA, DATA_SIZE);

	assert_non_null(g);
	g->rng = mix(seed) | 1;
	g->k = k;
	g->wild = -1;
	k->seed = seed;
	k->len = 0;
	/* Now and then close to the end of a page: the block stops there
	 * and an instruction may straddle it (the interpreter's slow path). */
	k->base = CODE + (chance(g, 25) ? 0x1000 - rnd(g, 48) : rnd(g, 0x2000));
	pick_registers(g);

	target = 1 + rnd(g, 30);
	while (n < target && k->len < CODE_MAX - 512)
		n += emit_unit(g);
	k->body_insns = n;
	emit_terminator(g);
	emit_subs(g);

	/* Memory: random data with some edge values, stray code bytes that
	 * trap (INT3) around the case's code. */
	for (uint64_t i = 0; i < DATA_SIZE; i += 8) {
		uint64_t v = chance(g, 25) ? value(g, 8) : rnd64(g);

		memcpy(data + i, &v, 8);
	}
	memset(guest_mem_ptr(&f->mem, CODE, CODE_SIZE), 0xcc, CODE_SIZE);

	memcpy(c->gpr, g->regs, sizeof(c->gpr));
	c->rip = k->base;
	c->halted = false;
	c->cr2 = 0;
	rflags = 0x2 | (rnd64(g) & (EMU_ARITH_FLAGS | EMU_DF | EMU_IF));
	/* IOPL 3: the OUT of the terminator is allowed at CPL 3. */
	emu_set_rflags(c, rflags | EMU_IOPL);
	free(g);
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
		uint64_t seed = only ? only : mix(group_hash(name) ^ mix(sweep) ^ i);

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
