/* Differential testing of the software core against the host CPU: see
 * diff_harness.h. */
#include "diff_harness.h"

#include <asm/ldt.h>
#include <asm/prctl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/emu/decode.h"
#include "vmm/emu/exec.h"
#include "vmm/emu/flags.h"
#include "vmm/emu/mem.h"
#include "vmm/guest_mem.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* ---- native execution ---------------------------------------------------- */

/* diff_native_enter(regs, code): save the callee-saved registers, the
 * host stack pointer and DS/ES/SS, load RFLAGS and all sixteen GPRs (RSP
 * included) from *regs and jump to code. The code ends with a jump to
 * diff_native_exit, which stores the GPRs back, returns to the host stack
 * and segments, stores RFLAGS and returns to the caller. Globals carry the
 * pointers across, as no register is free at either end. */
void diff_native_enter(struct diff_regs *regs, const void *code);
void diff_native_exit(void);

__asm__(
	".pushsection .text\n"
	".globl diff_native_enter\n"
	".type diff_native_enter, @function\n"
	"diff_native_enter:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	mov %rsp, diff_host_rsp(%rip)\n"
	"	mov %ds, diff_host_ds(%rip)\n"
	"	mov %es, diff_host_es(%rip)\n"
	"	mov %ss, diff_host_ss(%rip)\n"
	"	mov %rdi, diff_regs_ptr(%rip)\n"
	"	mov %rsi, diff_code_ptr(%rip)\n"
	"	pushq 128(%rdi)\n"
	"	popfq\n"
	DIFF_ASM_LOAD_GPRS
	"	jmp *diff_code_ptr(%rip)\n"
	".size diff_native_enter, .-diff_native_enter\n"
	".globl diff_native_exit\n"
	".type diff_native_exit, @function\n"
	"diff_native_exit:\n"
	"	mov %rdi, diff_tmp(%rip)\n"
	"	mov diff_regs_ptr(%rip), %rdi\n"
	DIFF_ASM_STORE_GPRS_BUT_RDI
	"	mov diff_tmp(%rip), %rax\n"
	"	mov %rax, 56(%rdi)\n"
	"	mov diff_host_rsp(%rip), %rsp\n"
	"	mov diff_host_ss(%rip), %ss\n"
	"	mov diff_host_ds(%rip), %ds\n"
	"	mov diff_host_es(%rip), %es\n"
	"	pushfq\n"
	"	popq 128(%rdi)\n"
	"	cld\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".size diff_native_exit, .-diff_native_exit\n"
	".popsection\n"
	".pushsection .bss\n"
	".balign 8\n"
	"diff_host_rsp: .zero 8\n"
	"diff_regs_ptr: .zero 8\n"
	"diff_code_ptr: .zero 8\n"
	"diff_tmp: .zero 8\n"
	"diff_host_ds: .zero 2\n"
	"diff_host_es: .zero 2\n"
	"diff_host_ss: .zero 2\n"
	".popsection\n");

static uint8_t *native_code;    /* the page at DIFF_CODE_PAGE */
static uint8_t *native_data;    /* at DIFF_DATA_BASE */
static uint8_t *guest_data;     /* the same window in guest RAM */
static uint8_t initial_data[DIFF_DATA_SIZE];
static uint64_t fs_base;

static struct guest_mem gmem;
static struct emu_cpu cpu;
static struct exec_table table;
static struct emu_env env;

static bool mode32;             /* diff_mode32 */
static bool ldt_ready;
#define LDT_SEL 0x7             /* LDT entry 0, RPL 3 */
#define USER32_CS 0x23          /* Linux's 32-bit user code segment */
#define USER64_CS 0x33

static uint64_t rng;
static unsigned failures;
static unsigned long cases;
static bool strict, verbose;
static const struct diff_case *current;

uint64_t diff_pio_value;
unsigned diff_pio_writes;
uint64_t diff_pio_last_write;

static void print_bytes(const uint8_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fprintf(stderr, "%02x ", b[i]);
}

/* A test bug that makes the native instruction fault must not look like a
 * hang or an unexplained crash: say which case it was. */
static void native_crash(int sig)
{
	static const char msg[] = "diff_harness: the native run crashed (signal) on: ";
	char hex[64];
	unsigned n = 0;

	(void)!write(2, msg, sizeof(msg) - 1);
	for (unsigned i = 0; current && i < current->len && n + 3 < sizeof(hex); i++) {
		static const char digits[] = "0123456789abcdef";

		hex[n++] = digits[current->code[i] >> 4];
		hex[n++] = digits[current->code[i] & 15];
		hex[n++] = ' ';
	}
	hex[n++] = '\n';
	(void)!write(2, hex, n);
	(void)sig;
	_exit(3);
}

/* cmocka installs its own handlers at the start of every test; theirs
 * would run on the native code's stack. Put ours back when they did. */
static void catch_native_crashes(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE };
	struct sigaction sa = { .sa_handler = native_crash, .sa_flags = SA_ONSTACK }, old;

	sigaction(SIGSEGV, &sa, &old);
	if (old.sa_handler == native_crash)
		return;
	for (unsigned i = 1; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static void *map_fixed(uint64_t addr, size_t size, int prot)
{
	void *p = mmap((void *)(uintptr_t)addr, size, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED || (uint64_t)(uintptr_t)p != addr) {
		fprintf(stderr, "diff_harness: cannot map %#llx\n", (unsigned long long)addr);
		abort();
	}
	return p;
}

static uint64_t fake_pio_read(struct emu_env *e, uint16_t port, unsigned size)
{
	(void)e;
	(void)port;
	(void)size;
	return diff_pio_value;
}

static void fake_pio_write(struct emu_env *e, uint16_t port, unsigned size, uint64_t value)
{
	(void)e;
	(void)port;
	(void)size;
	diff_pio_writes++;
	diff_pio_last_write = value;
}

static void set_seg(struct emu_segment *s, uint8_t type, bool code)
{
	*s = (struct emu_segment){
		.base = 0, .limit = 0xffffffff, .type = type, .s = 1, .present = 1,
		.db = code ? 0 : 1, .l = code ? 1 : 0, .g = 1,
	};
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

void diff_setup(const char *test_name)
{
	static bool done;
	uint64_t h = 1469598103934665603ull;

	/* The generator: FNV-1a of the name, mixed with the seed. */
	for (const char *p = test_name; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	rng = h ^ (env_u64("WISP_DIFF_SEED", 1) * 0x9e3779b97f4a7c15ull);
	if (!rng)
		rng = 1;
	if (done)
		return;
	done = true;
	strict = env_u64("WISP_DIFF_STRICT", 0) != 0;
	verbose = env_u64("WISP_DIFF_VERBOSE", 0) != 0;

	native_code = map_fixed(DIFF_CODE_PAGE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
	native_data = map_fixed(DIFF_DATA_BASE, DIFF_DATA_SIZE, PROT_READ | PROT_WRITE);
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_base) != 0)
		abort();

	static uint8_t altstack[65536];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };

	sigaltstack(&ss, NULL);

	if (guest_mem_init(&gmem, DIFF_RAM_SIZE) != 0)
		abort();
	guest_data = guest_mem_ptr(&gmem, DIFF_DATA_BASE, DIFF_DATA_SIZE);

	env.pio_read = fake_pio_read;
	env.pio_write = fake_pio_write;
	memset(&cpu, 0, sizeof(cpu));
	cpu.mem = &gmem;
	cpu.env = &env;
	cpu.tlb = emu_tlb_new();
	cpu.cr0 = EMU_CR0_PE | EMU_CR0_ET;
	cpu.efer = EMU_EFER_LME | EMU_EFER_LMA;
	for (unsigned s = 0; s < SEG_COUNT; s++)
		set_seg(&cpu.seg[s], s == SEG_CS ? 0xb : 0x3, s == SEG_CS);
	cpu.seg[SEG_FS].base = fs_base;
	cpu.flags.op = CC_OP_EFLAGS;
	cpu.rflags = 2;
	emu_update_mode(&cpu);
	emu_tlb_flush(&cpu, true);
	exec_table_init(&table);
}

struct emu_cpu *diff_cpu(void)
{
	return &cpu;
}

unsigned diff_ncases(unsigned dflt)
{
	/* The groups' defaults are tripled: the normal run still takes well
	 * under a second per binary. */
	return (unsigned)env_u64("WISP_DIFF_CASES", 3ull * dflt);
}

unsigned diff_failures(void)
{
	return failures;
}

unsigned diff_group_failures(void)
{
	static unsigned seen;
	unsigned mine = failures - seen;

	seen = failures;
	return mine;
}

void diff_new_case(struct diff_insn *d, struct diff_case *c)
{
	memset(d, 0, sizeof(*d));
	memset(c, 0, sizeof(*c));
	diff_rand_regs(&c->in);
	c->vector = -1;
	c->flags = DIFF_ALL_FLAGS;
	c->mode32 = mode32;
}

unsigned diff_rand_size(void)
{
	return 1u << diff_rand_below(mode32 ? 3 : 4);
}

unsigned diff_rand_wide_size(void)
{
	return 2u << diff_rand_below(mode32 ? 2 : 3);
}

unsigned long diff_count(void)
{
	return cases;
}

bool diff_strict(void)
{
	return strict;
}

/* ---- random ------------------------------------------------------------- */

uint64_t diff_rand(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

uint64_t diff_rand_below(uint64_t n)
{
	return n ? diff_rand() % n : 0;
}

uint64_t diff_rand_value(unsigned size)
{
	uint64_t m = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1, top = 1ull << (8 * size - 1);
	uint64_t v;

	switch (diff_rand_below(12)) {
	case 0: v = diff_rand_below(4); break;
	case 1: v = ~diff_rand_below(4); break;
	case 2: v = top + diff_rand_below(3) - 1; break;             /* around the sign */
	case 3: v = 1ull << diff_rand_below(8 * size); break;
	case 4: v = ~(1ull << diff_rand_below(8 * size)); break;
	case 5: v = diff_rand_below(300); break;
	case 6: v = diff_rand() >> diff_rand_below(64); break;        /* any width */
	case 7: v = 0 - (diff_rand() >> diff_rand_below(64)); break;
	default: v = diff_rand(); break;
	}
	return v & m;
}

void diff_rand_regs(struct diff_regs *r)
{
	for (unsigned i = 0; i < 16; i++)
		r->gpr[i] = diff_rand_value(8);
	r->rflags = 2 | (diff_rand() & DIFF_ALL_FLAGS);
}

/* ---- memory ------------------------------------------------------------ */

void diff_mem_randomize(void)
{
	for (size_t i = 0; i < DIFF_DATA_SIZE; i += 8) {
		uint64_t v = diff_rand();

		memcpy(native_data + i, &v, 8);
	}
	memcpy(guest_data, native_data, DIFF_DATA_SIZE);
}

void diff_mem_set(uint64_t addr, const void *p, size_t n)
{
	if (addr < DIFF_DATA_BASE || addr + n > DIFF_DATA_BASE + DIFF_DATA_SIZE)
		abort();
	memcpy(native_data + (addr - DIFF_DATA_BASE), p, n);
	memcpy(guest_data + (addr - DIFF_DATA_BASE), p, n);
}

void diff_mem_set_value(uint64_t addr, uint64_t v, unsigned size)
{
	diff_mem_set(addr, &v, size);
}

const uint8_t *diff_guest_mem(uint64_t addr)
{
	return guest_data + (addr - DIFF_DATA_BASE);
}

void diff_mem_resync(void)
{
	memcpy(native_data, guest_data, DIFF_DATA_SIZE);
}

uint64_t diff_rand_addr(unsigned size, unsigned align)
{
	uint64_t off = diff_rand_below(DIFF_DATA_SIZE - size + 1);

	if (align > 1)
		off &= ~(uint64_t)(align - 1);
	/* Now and then, straddle a page boundary. */
	if (diff_rand_below(8) == 0 && size > 1 && align <= 1)
		off = 4096 * (1 + diff_rand_below(DIFF_DATA_SIZE / 4096 - 1)) - 1 - diff_rand_below(size - 1);
	return DIFF_DATA_BASE + off;
}

void diff_prefix(struct diff_insn *d, uint8_t p)
{
	if (d->nprefix < sizeof(d->prefix))
		d->prefix[d->nprefix++] = p;
}

static unsigned pick_reg(uint16_t avoid)
{
	unsigned r;

	do
		r = (unsigned)diff_rand_below(16);
	while (avoid & (1u << r));
	return r;
}

/* 16-bit addressing: the registers of each ModRM.rm form (base, index). */
static const uint8_t rm16_regs[8][2] = {
	{ R_BX, R_SI }, { R_BX, R_DI }, { R_BP, R_SI }, { R_BP, R_DI },
	{ R_SI, DIFF_NONE }, { R_DI, DIFF_NONE }, { R_BP, DIFF_NONE }, { R_BX, DIFF_NONE },
};

/* The memory operand of 32-bit code, at offset off from the data
 * segment's base: 16-bit addressing with a 67 prefix now and then, else
 * 32-bit with or without SIB. */
static void mem_operand32(struct diff_insn *d, struct diff_regs *r, uint64_t off, uint16_t keep)
{
	d->mem = true;
	d->base = d->index = DIFF_NONE;
	d->scale = 1;
	d->disp = 0;
	d->disp_len = 0;
	if (diff_rand_below(3) == 0 && off < 0x10000) {
		unsigned form;
		uint16_t iv = 0, disp = 0;

		diff_prefix(d, 0x67);
		d->a16 = true;
		do
			form = (unsigned)diff_rand_below(9);
		while (form < 8 && ((keep >> rm16_regs[form][0]) & 1 ||
				    (rm16_regs[form][1] != DIFF_NONE && (keep >> rm16_regs[form][1]) & 1)));
		d->rm16 = (uint8_t)form;
		if (form == 8) {
			d->disp = (int32_t)off;
			d->disp_len = 2;
			return;
		}
		switch (diff_rand_below(3)) {
		case 0: break;
		case 1: disp = (uint16_t)(int8_t)diff_rand(); d->disp_len = 1; break;
		default: disp = (uint16_t)diff_rand(); d->disp_len = 2; break;
		}
		d->disp = (int16_t)disp;
		if (rm16_regs[form][1] != DIFF_NONE) {
			iv = (uint16_t)diff_rand();
			r->gpr[rm16_regs[form][1]] = (diff_rand() & ~0xffffull) | iv;
		}
		/* Only the low 16 bits take part, and their sum wraps. */
		r->gpr[rm16_regs[form][0]] = (diff_rand() & ~0xffffull) | (uint16_t)(off - iv - disp);
		return;
	}
	if (diff_rand_below(10) == 0) {
		d->disp = (int32_t)off;         /* absolute disp32 */
		d->disp_len = 4;
		return;
	}
	uint64_t iv = 0;

	d->base = (uint8_t)pick_reg((uint16_t)(keep | 0xff00));
	if (diff_rand_below(2)) {
		d->index = (uint8_t)pick_reg((uint16_t)(keep | 0xff00 | 1u << d->base | 1u << R_SP));
		d->scale = (uint8_t)(1u << diff_rand_below(4));
		iv = diff_rand();
		r->gpr[d->index] = iv;
	}
	switch (diff_rand_below(3)) {
	case 0: break;
	case 1: d->disp = (int8_t)diff_rand(); d->disp_len = 1; break;
	default: d->disp = (int32_t)diff_rand(); d->disp_len = 4; break;
	}
	r->gpr[d->base] = (diff_rand() << 32) |
			  (uint32_t)(off - iv * d->scale - (uint64_t)(int64_t)d->disp);
}

static void mem_operand64(struct diff_insn *d, struct diff_regs *r, uint64_t addr, uint16_t keep)
{
	unsigned form = (unsigned)diff_rand_below(20);
	bool a32 = false;
	uint64_t target = addr, iv = 0;

	d->mem = true;
	d->base = d->index = DIFF_NONE;
	d->scale = 1;
	d->disp = 0;
	d->disp_len = 0;
	if (form == 0) {
		d->base = DIFF_RIP;
		d->rip_target = addr;
		return;
	}
	if (form == 1) {
		d->disp = (int32_t)addr;        /* absolute disp32, no base */
		d->disp_len = 4;
		return;
	}
	if (form < 5) {
		a32 = true;
		diff_prefix(d, 0x67);
	} else if (form == 5) {
		diff_prefix(d, 0x64);
		target = addr - fs_base;
	}
	/* Not RSP as an index: that encoding means "no index". */
	d->base = (uint8_t)pick_reg(keep);
	if (diff_rand_below(2)) {
		d->index = (uint8_t)pick_reg(keep | 1u << d->base | 1u << R_SP);
		d->scale = (uint8_t)(1u << diff_rand_below(4));
		iv = diff_rand_value(8);
		if (!a32)
			iv = (uint64_t)(int64_t)(int32_t)iv >> diff_rand_below(2);
		r->gpr[d->index] = iv;
	}
	switch (diff_rand_below(3)) {
	case 0: break;
	case 1: d->disp = (int8_t)diff_rand(); d->disp_len = 1; break;
	default: d->disp = (int32_t)diff_rand(); d->disp_len = 4; break;
	}
	r->gpr[d->base] = target - iv * d->scale - (uint64_t)(int64_t)d->disp;
	if (a32) {
		/* Only the low halves take part: garbage above them. */
		r->gpr[d->base] = (r->gpr[d->base] & 0xffffffff) | (diff_rand() << 32);
		if (d->index != DIFF_NONE)
			r->gpr[d->index] = (iv & 0xffffffff) | (diff_rand() << 32);
	}
}

void diff_size_prefix(struct diff_insn *d, unsigned size)
{
	if (mode32) {
		if (size == 2)
			diff_prefix(d, 0x66);
		else if (size == 8)
			abort();        /* no 64-bit operands in 32-bit code */
		return;
	}
	if (size == 2)
		diff_prefix(d, 0x66);
	else if (size == 8)
		d->rex |= 0x48;
	else if (size == 1 && diff_rand_below(2))
		d->rex |= 0x40;
}

void diff_mem_operand(struct diff_insn *d, struct diff_regs *r, uint64_t addr, uint16_t keep)
{
	if (mode32)
		mem_operand32(d, r, addr - DIFF_DATA_BASE, keep);
	else
		mem_operand64(d, r, addr, keep);
}

static bool has_rex(const struct diff_insn *d)
{
	return d->rex || (d->modrm && (d->reg >= 8 || (!d->mem && d->rm >= 8) ||
				       (d->mem && d->base >= 8 && d->base < 16) ||
				       (d->mem && d->index >= 8 && d->index < 16)));
}

uint64_t diff_reg_value(const struct diff_regs *r, const struct diff_insn *d, unsigned reg,
			unsigned size)
{
	if (size == 1 && reg >= 4 && reg < 8 && !has_rex(d))
		return (r->gpr[reg - 4] >> 8) & 0xff;
	return r->gpr[reg] & (size >= 8 ? ~0ull : (1ull << (8 * size)) - 1);
}

uint64_t diff_modrm_operands(struct diff_insn *d, struct diff_regs *r, unsigned size, int digit,
			     bool mem, uint16_t keep)
{
	/* Byte registers without REX: 0..7 only (AH..BH for 4..7); a base or
	 * index above 7 may still add a REX, which the decoder must see too. */
	unsigned nregs = mode32 || (size == 1 && !(d->rex & 0x40)) ? 8 : 16;
	uint64_t addr;

	d->modrm = true;
	if (digit >= 0) {
		d->reg = (uint8_t)digit;
	} else {
		d->reg = (uint8_t)diff_rand_below(nregs);
		keep |= (uint16_t)(1u << d->reg);
		if (size == 1 && nregs == 8)
			keep |= (uint16_t)(1u << (d->reg & 3));  /* AH..BH live in 0..3 */
	}
	if (!mem) {
		d->mem = false;
		d->rm = (uint8_t)diff_rand_below(nregs);
		return 0;
	}
	addr = diff_rand_addr(size, 1);
	diff_mem_set_value(addr, diff_rand_value(size), size);
	diff_mem_operand(d, r, addr, keep);
	return addr;
}

uint64_t diff_modrm(struct diff_insn *d, struct diff_regs *r, unsigned size, int digit, bool mem,
		    uint16_t keep)
{
	diff_size_prefix(d, size);
	return diff_modrm_operands(d, r, size, digit, mem, keep);
}

/* ---- encoding ------------------------------------------------------------ */

unsigned diff_encode(const struct diff_insn *d, uint8_t *out)
{
	unsigned n = 0, rex = d->rex;

	for (unsigned i = 0; i < d->nprefix; i++)
		out[n++] = d->prefix[i];
	if (d->modrm) {
		if (d->reg >= 8)
			rex |= 0x44;
		if (!d->mem && d->rm >= 8)
			rex |= 0x41;
		if (d->mem && d->base < 16 && d->base >= 8)
			rex |= 0x41;
		if (d->mem && d->index < 16 && d->index >= 8)
			rex |= 0x42;
	}
	if (rex)
		out[n++] = (uint8_t)(rex | 0x40);
	if (d->map == 1)
		out[n++] = 0x0f;
	out[n++] = d->op;
	if (d->modrm) {
		unsigned reg = (d->reg & 7) << 3, disp_len = d->disp_len;

		if (!d->mem) {
			out[n++] = (uint8_t)(0xc0 | reg | (d->rm & 7));
			disp_len = 0;
		} else if (d->a16) {
			/* 16-bit forms: rm 6 with mod 0 is a bare disp16, so [BP]
			 * needs a displacement. */
			if (d->rm16 == 8) {
				out[n++] = (uint8_t)(reg | 6);
				disp_len = 2;
			} else {
				if (d->rm16 == 6 && disp_len == 0)
					disp_len = 1;
				out[n++] = (uint8_t)((disp_len == 0 ? 0 : disp_len == 1 ? 0x40 : 0x80) |
						     reg | d->rm16);
			}
		} else if (d->base == DIFF_RIP) {
			out[n++] = (uint8_t)(0x05 | reg);
			disp_len = 4;
		} else if (d->base == DIFF_NONE) {
			out[n++] = (uint8_t)(0x04 | reg);
			out[n++] = (uint8_t)(((unsigned)__builtin_ctz(d->scale) << 6) |
					     ((d->index == DIFF_NONE ? 4u : d->index & 7u) << 3) | 5);
			disp_len = 4;
		} else {
			unsigned mod;

			if (disp_len == 0 && (d->base & 7) == 5)
				disp_len = 1;   /* [rbp]/[r13] need a displacement */
			mod = disp_len == 0 ? 0 : disp_len == 1 ? 1 : 2;
			if (d->index != DIFF_NONE || (d->base & 7) == 4) {
				out[n++] = (uint8_t)(mod << 6 | reg | 4);
				out[n++] = (uint8_t)(((unsigned)__builtin_ctz(d->scale) << 6) |
						     ((d->index == DIFF_NONE ? 4u : d->index & 7u) << 3) |
						     (d->base & 7u));
			} else {
				out[n++] = (uint8_t)(mod << 6 | reg | (d->base & 7u));
			}
		}
		for (unsigned i = 0; i < disp_len; i++)
			out[n++] = (uint8_t)((uint32_t)d->disp >> (8 * i));
	}
	for (unsigned i = 0; i < d->imm_len; i++)
		out[n++] = (uint8_t)(d->imm >> (8 * i));
	for (unsigned i = 0; i < d->imm2_len; i++)
		out[n++] = (uint8_t)(d->imm2 >> (8 * i));
	return n;
}

/* ---- running ------------------------------------------------------------- */

/* The code page: the instruction at DIFF_CODE_BASE, exit pads after it
 * and at branch targets, and at the end the fixed pieces of 32-bit runs
 * and the marker the pads write. */
#define LDT_SEL_OFF   0xf00     /* u16: the LDT data selector */
#define FARPTR32_OFF  0xf08     /* m16:32 to DIFF_CODE_BASE in USER32_CS */
#define ENTRY32_OFF   0xf10     /* 64-bit: load DS ES SS, far jump there */
#define EXIT64_OFF    0xf40     /* 64-bit: jump to diff_native_exit */
#define MARKER_OFF    0xff0     /* which pad ran (natively) */
#define PAD_LEN 21

/* A 64-bit exit pad at page offset off: mov byte [rip + marker], id; then
 * jmp *0(%rip) to diff_native_exit. Neither touches a register or a flag.
 * The 32-bit one writes the marker through DS (based at the data window)
 * and far-jumps to the 64-bit exit. */
static void put_pad(unsigned off, uint8_t id, bool code32)
{
	uint8_t *p = native_code + off;
	uint64_t exit_addr = (uint64_t)(uintptr_t)diff_native_exit;

	p[0] = 0xc6;
	p[1] = 0x05;
	p[6] = id;
	if (code32) {
		uint32_t moff = (uint32_t)(DIFF_CODE_PAGE + MARKER_OFF - DIFF_DATA_BASE);
		uint32_t exit32 = (uint32_t)(DIFF_CODE_PAGE + EXIT64_OFF);
		uint16_t sel = USER64_CS;

		memcpy(p + 2, &moff, 4);
		p[7] = 0xea;
		memcpy(p + 8, &exit32, 4);
		memcpy(p + 12, &sel, 2);
		return;
	}
	int32_t rel = (int32_t)(MARKER_OFF - (off + 7));

	memcpy(p + 2, &rel, 4);
	p[7] = 0xff;
	p[8] = 0x25;
	memset(p + 9, 0, 4);
	memcpy(p + 13, &exit_addr, 8);
}

/* The fixed 64-bit pieces of 32-bit runs. */
static void put_trampolines(void)
{
	static const uint8_t loads[3] = { 0x1d, 0x05, 0x15 };  /* mov ds/es/ss, [rip+d] */
	uint8_t *p = native_code + ENTRY32_OFF;
	uint16_t sel = LDT_SEL, cs32 = USER32_CS;
	uint32_t target = (uint32_t)DIFF_CODE_BASE;
	uint64_t exit_addr = (uint64_t)(uintptr_t)diff_native_exit;
	unsigned off = ENTRY32_OFF;

	memcpy(native_code + LDT_SEL_OFF, &sel, 2);
	memcpy(native_code + FARPTR32_OFF, &target, 4);
	memcpy(native_code + FARPTR32_OFF + 4, &cs32, 2);
	for (unsigned i = 0; i < 4; i++, p += 6, off += 6) {
		int32_t rel = (int32_t)((i < 3 ? LDT_SEL_OFF : FARPTR32_OFF) - (off + 6));

		p[0] = i < 3 ? 0x8e : 0xff;
		p[1] = i < 3 ? loads[i] : 0x2d;         /* jmp far [rip+d] (m16:32) */
		memcpy(p + 2, &rel, 4);
	}
	p = native_code + EXIT64_OFF;
	p[0] = 0xff;
	p[1] = 0x25;
	memset(p + 2, 0, 4);
	memcpy(p + 6, &exit_addr, 8);
}

bool diff_target_ok(uint64_t target, unsigned len)
{
	uint64_t lo = DIFF_CODE_PAGE + 16, hi = DIFF_CODE_PAGE + LDT_SEL_OFF - PAD_LEN;

	if (target < lo || target > hi)
		return false;
	/* Clear of the instruction and of the fall-through pad after it. */
	return target + PAD_LEN <= DIFF_CODE_BASE || target >= DIFF_CODE_BASE + len + PAD_LEN + 3;
}

bool diff_mode32(bool on)
{
	if (on && !ldt_ready) {
		struct user_desc desc = {
			.entry_number = 0, .base_addr = (unsigned)DIFF_DATA_BASE, .limit = 0xfffff,
			.seg_32bit = 1, .contents = 0, .read_exec_only = 0, .limit_in_pages = 1,
			.seg_not_present = 0, .useable = 1,
		};

		if (syscall(SYS_modify_ldt, 1, &desc, sizeof(desc)) != 0)
			return false;
		put_trampolines();
		ldt_ready = true;
	}
	mode32 = on;
	return true;
}

bool diff_in_mode32(void)
{
	return mode32;
}

/* Run natively; returns which pad ended it (1: fall-through, 2: target). */
static int run_native(const struct diff_case *c, struct diff_regs *io)
{
	unsigned n = c->native_len ? c->native_len : c->len, base = DIFF_CODE_BASE - DIFF_CODE_PAGE;

	memcpy(native_code + base, c->native_len ? c->native : c->code, n);
	put_pad(base + n, 1, c->mode32);
	if (c->target)
		put_pad((unsigned)(c->target - DIFF_CODE_PAGE), 2, c->mode32);
	native_code[MARKER_OFF] = 0;
	__builtin___clear_cache((char *)native_code, (char *)native_code + 4096);
	catch_native_crashes();
	current = c;
	diff_native_enter(io, native_code + (c->mode32 ? ENTRY32_OFF : base));
	current = NULL;
	return native_code[MARKER_OFF];
}

/* The core's CPU in 64-bit mode, or as 32-bit code with the segments the
 * native run uses. */
static void set_cpu_mode(bool m32)
{
	if ((cpu.mode == EMU_MODE_PROT32) == m32)
		return;
	for (unsigned s = 0; s < SEG_COUNT; s++)
		set_seg(&cpu.seg[s], s == SEG_CS ? 0xb : 0x3, s == SEG_CS);
	cpu.seg[SEG_FS].base = fs_base;
	if (m32) {
		cpu.seg[SEG_CS].l = 0;
		cpu.seg[SEG_CS].db = 1;
		cpu.seg[SEG_DS].base = cpu.seg[SEG_ES].base = cpu.seg[SEG_SS].base = DIFF_DATA_BASE;
	}
	emu_update_mode(&cpu);
}

static bool is_rep_string(const struct insn *insn)
{
	if (insn->map != MAP_PRIMARY || !(insn->prefixes & (PFX_REP | PFX_REPNE)))
		return false;
	return (insn->op >= 0xa4 && insn->op <= 0xa7) || (insn->op >= 0xaa && insn->op <= 0xaf) ||
	       (insn->op >= 0x6c && insn->op <= 0x6f);
}

/* One instruction in the core; a REP string instruction that stops to let
 * interrupts in is executed again until it finishes. */
static int run_emu(const struct diff_case *c, struct diff_regs *io)
{
	jmp_buf jb;
	struct insn insn;
	volatile unsigned rounds = 0;

	/* An undecodable instruction is #UD, as the execution loop makes it. */
	set_cpu_mode(c->mode32);
	if (emu_decode(&insn, c->code, c->len, cpu.mode) != DECODE_OK) {
		cpu.rip = DIFF_CODE_BASE;
		cpu.event.soft = false;
		return EMU_VEC_UD;
	}
	if (insn.len != c->len) {
		fprintf(stderr, "diff_harness: decoded length %u, encoded %u\n", insn.len, c->len);
		return 257;
	}
	memcpy(cpu.gpr, io->gpr, sizeof(cpu.gpr));
	emu_set_rflags(&cpu, io->rflags);
	cpu.rip = DIFF_CODE_BASE;
	cpu.event.pending = false;
	insn.next_rip = DIFF_CODE_BASE + insn.len;
	cpu.fault_jmp = &jb;
	if (setjmp(jb)) {
		cpu.fault_jmp = NULL;
		memcpy(io->gpr, cpu.gpr, sizeof(cpu.gpr));
		io->rflags = emu_get_rflags(&cpu);
		return cpu.event.vector;
	}
	for (;;) {
		exec_fn fn = table.fn[insn.map][insn.op];

		if (!fn)
			emu_raise_ud(&cpu);
		fn(&cpu, &insn);
		if (cpu.rip != DIFF_CODE_BASE || !is_rep_string(&insn) || ++rounds > 1000000)
			break;
	}
	cpu.fault_jmp = NULL;
	memcpy(io->gpr, cpu.gpr, sizeof(cpu.gpr));
	io->rflags = emu_get_rflags(&cpu);
	return -1;
}

int diff_native_only(struct diff_case *c, struct diff_regs *out)
{
	*out = c->in;
	out->rflags |= 2;
	return run_native(c, out);
}

int diff_emu_only(struct diff_case *c, struct diff_regs *out)
{
	*out = c->in;
	return run_emu(c, out);
}

static const char *const reg_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

static void report(const char *what, const struct diff_case *c, const struct diff_regs *want,
		   const struct diff_regs *got, int vector, const char *why)
{
	failures++;
	if (failures > 12 && !verbose) {
		if (failures == 13)
			fprintf(stderr, "(more mismatches not shown; WISP_DIFF_VERBOSE=1 shows all)\n");
		return;
	}
	fprintf(stderr, "MISMATCH %s: %s\n  code: ", what, why);
	print_bytes(c->code, c->len);
	fprintf(stderr, "\n  vector: core %d, expected %d\n", vector, c->vector);
	for (unsigned i = 0; i < 16; i++) {
		uint64_t m = c->mode32 && i < 8 ? 0xffffffffull : ~0ull;
		bool bad = ((want->gpr[i] ^ got->gpr[i]) & m) && !(c->skip_gpr & (1u << i));

		fprintf(stderr, "  %-3s in %016llx  %s %016llx  core %016llx%s\n", reg_names[i],
			(unsigned long long)c->in.gpr[i], c->vector < 0 ? "host" : "want",
			(unsigned long long)want->gpr[i], (unsigned long long)got->gpr[i],
			bad ? "  <--" : "");
	}
	fprintf(stderr, "  rflags in %06llx  want %06llx  core %06llx  (compared %06llx)\n",
		(unsigned long long)c->in.rflags, (unsigned long long)want->rflags,
		(unsigned long long)got->rflags, (unsigned long long)c->flags);
}

bool diff_run(const char *what, struct diff_case *c)
{
	struct diff_regs want = c->in, got = c->in;
	uint64_t mask = strict ? DIFF_ALL_FLAGS : c->flags;
	uint16_t skip = strict ? 0 : c->skip_gpr;
	const uint8_t *ref = native_data;
	const char *why = NULL;
	char memwhy[96];
	uint64_t want_rip = DIFF_CODE_BASE + c->len;
	int vector;

	cases++;
	c->in.rflags |= 2;
	want.rflags = got.rflags = c->in.rflags;
	memcpy(initial_data, native_data, DIFF_DATA_SIZE);
	if (c->vector < 0 && run_native(c, &want) == 2)
		want_rip = c->target;
	vector = run_emu(c, &got);
	if (c->vector >= 0) {
		/* A fault changes nothing: registers, flags and memory as given. */
		mask = ~0ull;
		skip = 0;
		want = c->in;
		ref = initial_data;
	}
	if (vector != c->vector) {
		why = "exception";
	} else if (c->vector < 0 && cpu.rip != want_rip) {
		why = want_rip == c->target ? "rip (the host took the branch)" : "rip";
	} else if ((want.rflags ^ got.rflags) & mask) {
		why = "flags";
	} else {
		for (unsigned i = 0; i < 16; i++) {
			/* After compatibility mode the upper halves are undefined. */
			uint64_t m = c->mode32 && i < 8 ? 0xffffffffull : ~0ull;

			if (!(skip & (1u << i)) && ((want.gpr[i] ^ got.gpr[i]) & m))
				why = "registers";
		}
	}
	if (!why && memcmp(ref, guest_data, DIFF_DATA_SIZE) != 0) {
		size_t i = 0;

		while (ref[i] == guest_data[i])
			i++;
		snprintf(memwhy, sizeof(memwhy), "memory at %#llx: want %02x, core %02x",
			 (unsigned long long)(DIFF_DATA_BASE + i), ref[i], guest_data[i]);
		why = memwhy;
	}
	if (!why)
		return true;
	report(what, c, &want, &got, vector, why);
	/* Keep the two copies equal for the cases after this one. */
	memcpy(native_data, ref, DIFF_DATA_SIZE);
	memcpy(guest_data, ref, DIFF_DATA_SIZE);
	return false;
}

bool diff_check(const char *what, struct diff_insn *d, struct diff_case *c)
{
	c->len = diff_encode(d, c->code);
	if (d->mem && d->base == DIFF_RIP) {
		d->disp = (int32_t)(d->rip_target - (DIFF_CODE_BASE + c->len));
		c->len = diff_encode(d, c->code);
	}
	return diff_run(what, c);
}
