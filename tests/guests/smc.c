/* smc: self-modifying and cross-modifying code. Every patch below must be
 * seen by the next execution of the patched bytes, however often they ran
 * before (each function is run repeatedly first, so a backend that
 * caches decoded code has it cached):
 *   - an immediate in a function in the same 4 KiB page as the code
 *     writing it, and in another page;
 *   - new functions copied into a buffer, one after the other;
 *   - the very next instruction of the straight-line stream: after a JMP,
 *     after a serializing CPUID (the SDM's two portable options) and with
 *     nothing in between (which every x86 processor since the P6 also
 *     handles for the processor that stores);
 *   - an opcode (not just an immediate), changing the instruction lengths;
 *   - an instruction that straddles two pages, patched in either page;
 *   - through a second linear address mapping the same physical page;
 *   - at CPL 3;
 *   - cross-modifying code: CPU 1 patches a function, then signals CPU 0,
 *     which executes CPUID and runs it (needs --cpus 2, "cpus=2").
 * Command line: "cpus=N" (default 2; 1 skips the cross-modifying part). */
#include "guest.h"

#define WARM 50            /* runs of a function before it is patched */
#define ROUNDS 32          /* patches per case */
#define ALIAS_VA 0xC00000ull

/* ---- the code under test ----------------------------------------------------
 * Each "mov $imm32, %eax" is b8 + imm32, so its immediate is at label+1. */
uint32_t same_page_patch(uint32_t v);
uint32_t same_page_fn(void);
uint32_t other_page_fn(void);
uint32_t next_insn_plain(uint32_t v);
uint32_t next_insn_jmp(uint32_t v);
uint32_t next_insn_cpuid(uint32_t v);
uint32_t few_ahead(uint32_t v);
uint32_t opcode_fn(void);
uint32_t xmod_fn(void);
extern uint8_t same_page_fn_imm[], other_page_fn_imm[], opcode_fn_body[], xmod_fn_imm[];

__asm__(
	"	.section .text.smc, \"ax\", @progbits\n"
	"	.balign 4096\n"
	/* same page: the writer and the function it patches */
	"	.globl same_page_patch, same_page_fn, same_page_fn_imm\n"
	"same_page_patch:\n"
	"	mov %edi, same_page_fn_imm(%rip)\n"
	"	call same_page_fn\n"
	"	ret\n"
	"same_page_fn:\n"
	"	.byte 0xb8\n"
	"same_page_fn_imm:\n"
	"	.long 0x11111111\n"
	"	ret\n"
	/* the next instruction, nothing in between */
	"	.globl next_insn_plain\n"
	"next_insn_plain:\n"
	"	mov %edi, 1f+1(%rip)\n"
	"1:	mov $0, %eax\n"
	"	ret\n"
	/* the next instruction, after a jmp */
	"	.globl next_insn_jmp\n"
	"next_insn_jmp:\n"
	"	mov %edi, 1f+1(%rip)\n"
	"	jmp 1f\n"
	"1:	mov $0, %eax\n"
	"	ret\n"
	/* the next instruction, after cpuid */
	"	.globl next_insn_cpuid\n"
	"next_insn_cpuid:\n"
	"	push %rbx\n"
	"	mov %edi, 1f+1(%rip)\n"
	"	xor %eax, %eax\n"
	"	xor %ecx, %ecx\n"
	"	cpuid\n"
	"1:	mov $0, %eax\n"
	"	pop %rbx\n"
	"	ret\n"
	/* a few instructions further on, no branch */
	"	.globl few_ahead\n"
	"few_ahead:\n"
	"	mov %edi, 1f+1(%rip)\n"
	"	xor %ecx, %ecx\n"
	"	add $3, %ecx\n"
	"	nop\n"
	"	lea 1(%rcx), %edx\n"
	"	sub %edx, %ecx\n"
	"1:	mov $0, %eax\n"
	"	ret\n"
	"	.balign 4096\n"
	/* another page, patched from C */
	"	.globl other_page_fn, other_page_fn_imm\n"
	"other_page_fn:\n"
	"	.byte 0xb8\n"
	"other_page_fn_imm:\n"
	"	.long 0x22222222\n"
	"	ret\n"
	/* an opcode to rewrite: 8 bytes of body, then ret */
	"	.globl opcode_fn, opcode_fn_body\n"
	"opcode_fn:\n"
	"opcode_fn_body:\n"
	"	.byte 0xb8, 0x01, 0x00, 0x00, 0x00\n"      /* mov $1, %eax */
	"	.byte 0x90, 0x90, 0x90\n"                  /* nop x3 */
	"	ret\n"
	"	.balign 4096\n"
	/* patched by CPU 1, run by CPU 0 */
	"	.globl xmod_fn, xmod_fn_imm\n"
	"xmod_fn:\n"
	"	.byte 0xb8\n"
	"xmod_fn_imm:\n"
	"	.long 0x33333333\n"
	"	ret\n"
	"	.balign 4096\n"
	"	.text\n");

/* Two pages of code buffer (the identity map is writable and executable). */
static uint8_t code_buf[2 * 4096] __attribute__((aligned(4096)));

typedef uint32_t (*fn0)(void);
typedef uint32_t (*fn1)(uint32_t);

static void poke32(void *p, uint32_t v)
{
	__asm__ volatile("movl %1, (%0)" :: "r"(p), "r"(v) : "memory");
}

static uint32_t value(unsigned round, unsigned salt)
{
	return 0x9E3779B9u * (round + 1) ^ (salt << 24) ^ round;
}

/* Run f WARM times, then ROUNDS times: patch with a new value, run, compare. */
static unsigned immediate_rounds(fn0 f, uint8_t *imm, unsigned salt)
{
	unsigned bad = 0;
	for (unsigned r = 0; r < ROUNDS; r++) {
		for (unsigned w = 0; w < (r ? 3 : WARM); w++)
			f();
		uint32_t v = value(r, salt);
		poke32(imm, v);
		uint32_t got = f();
		if (got != v && !bad++)
			note("round %u: got %#x, want %#x", r, got, v);
	}
	return bad;
}

static unsigned stream_rounds(fn1 f, unsigned salt)
{
	unsigned bad = 0;
	for (unsigned w = 0; w < WARM; w++)
		f(w);
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint32_t v = value(r, salt);
		uint32_t got = f(v);
		if (got != v && !bad++)
			note("round %u: got %#x, want %#x", r, got, v);
	}
	return bad;
}

static void check_immediates(void)
{
	unsigned bad = 0;
	for (unsigned w = 0; w < WARM; w++)
		same_page_fn();
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint32_t v = value(r, 1);
		uint32_t got = same_page_patch(v);
		if (got != v && !bad++)
			note("round %u: got %#x, want %#x", r, got, v);
	}
	check(!bad, "immediate patched by code in the same page, then called (%u of %u stale)", bad, ROUNDS);
	bad = immediate_rounds(other_page_fn, other_page_fn_imm, 2);
	check(!bad, "immediate in another page patched, then called (%u of %u stale)", bad, ROUNDS);
}

static void check_stream(void)
{
	unsigned bad = stream_rounds(next_insn_jmp, 3);
	check(!bad, "store to the next instruction, then JMP to it (%u of %u stale)", bad, ROUNDS);
	bad = stream_rounds(next_insn_cpuid, 4);
	check(!bad, "store to a later instruction, CPUID, then execute it (%u of %u stale)", bad, ROUNDS);
	bad = stream_rounds(next_insn_plain, 5);
	check(!bad, "store to the very next instruction, nothing in between (%u of %u stale)", bad, ROUNDS);
	bad = stream_rounds(few_ahead, 6);
	check(!bad, "store to an instruction five instructions on, no branch (%u of %u stale)", bad, ROUNDS);
}

/* Bodies for opcode_fn (8 bytes, then its ret) and what they return. */
static const struct { uint8_t b[8]; uint32_t ret; } bodies[] = {
	{ { 0xb8, 0x01, 0x00, 0x00, 0x00, 0x90, 0x90, 0x90 }, 1 },          /* mov $1; nop x3 */
	{ { 0x31, 0xc0, 0xff, 0xc0, 0xff, 0xc0, 0xff, 0xc0 }, 3 },          /* xor; inc x3 */
	{ { 0xb8, 0x10, 0x00, 0x00, 0x00, 0xff, 0xc8, 0x90 }, 0xf },        /* mov $16; dec; nop */
	{ { 0x31, 0xc0, 0x8d, 0x40, 0x2a, 0xd1, 0xe0, 0x90 }, 84 },         /* xor; lea 42(%rax); shl; nop */
	{ { 0x6a, 0x07, 0x58, 0x6b, 0xc0, 0x06, 0x90, 0x90 }, 42 },         /* push 7; pop %rax; imul $6 */
};

static void check_opcodes(void)
{
	unsigned bad = 0;
	for (unsigned r = 0; r < ROUNDS; r++) {
		unsigned k = r % ARRAY_SIZE(bodies);
		for (unsigned w = 0; w < (r ? 3 : WARM); w++)
			opcode_fn();
		memcpy(opcode_fn_body, bodies[k].b, 8);
		uint32_t got = opcode_fn();
		if (got != bodies[k].ret && !bad++)
			note("round %u (body %u): got %#x, want %#x", r, k, got, bodies[k].ret);
	}
	check(!bad, "opcodes rewritten with other instruction lengths (%u of %u stale)", bad, ROUNDS);
}

/* A function "mov $v, %eax; ret" at p; returns the address of its immediate. */
static uint8_t *emit_mov_ret(uint8_t *p, uint32_t v)
{
	p[0] = 0xb8;
	memcpy(p + 1, &v, 4);
	p[5] = 0xc3;
	return p + 1;
}

/* A function "mov $v, %ecx; lea (%rcx,%rcx,2), %eax; ret" = 3v. */
static void emit_mul3(uint8_t *p, uint32_t v)
{
	static const uint8_t tail[] = { 0x8d, 0x04, 0x49, 0xc3 };
	p[0] = 0xb9;
	memcpy(p + 1, &v, 4);
	memcpy(p + 5, tail, sizeof(tail));
}

static void check_copied(void)
{
	unsigned bad = 0;
	fn0 f = (fn0)(uintptr_t)code_buf;
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint32_t v = value(r, 7), want;
		if (r & 1) {
			emit_mul3(code_buf, v);
			want = 3 * v;
		} else {
			emit_mov_ret(code_buf, v);
			want = v;
		}
		uint32_t got = f();
		if (got != want && !bad++)
			note("round %u: got %#x, want %#x", r, got, want);
		for (unsigned w = 0; w < (r ? 3 : WARM); w++)
			f();
	}
	check(!bad, "new functions copied over the old in a buffer, then called (%u of %u stale)", bad, ROUNDS);
}

static void check_straddle(void)
{
	/* mov $imm32, %eax at 4093: b8 and two immediate bytes in the first
	 * page, two immediate bytes and ret in the second. */
	uint8_t *p = code_buf + 4096 - 3;
	fn0 f = (fn0)(uintptr_t)p;
	uint32_t cur = 0x44444444;
	unsigned bad = 0;
	emit_mov_ret(p, cur);
	for (unsigned r = 0; r < ROUNDS; r++) {
		for (unsigned w = 0; w < (r ? 3 : WARM); w++)
			f();
		uint32_t v = value(r, 8);
		/* odd rounds: the bytes in the second page; even: the first */
		if (r & 1)
			cur = (cur & 0x0000ffffu) | (v & 0xffff0000u);
		else
			cur = (cur & 0xffff0000u) | (v & 0x0000ffffu);
		memcpy(p + 1, &cur, 4);
		uint32_t got = f();
		if (got != cur && !bad++)
			note("round %u: got %#x, want %#x", r, got, cur);
	}
	check(!bad, "instruction across a page boundary, patched in either page (%u of %u stale)", bad, ROUNDS);
}

static void check_alias(void)
{
	uint64_t *pte = pte_4k(ALIAS_VA);
	uint8_t *alias = (uint8_t *)ALIAS_VA;
	fn0 f = (fn0)(uintptr_t)code_buf;
	unsigned bad = 0;

	*pte = (uint64_t)code_buf | PTE_P | PTE_W;
	invlpg(ALIAS_VA);
	emit_mov_ret(code_buf, 0x55555555);
	for (unsigned r = 0; r < ROUNDS; r++) {
		for (unsigned w = 0; w < (r ? 3 : WARM); w++)
			f();
		uint32_t v = value(r, 9);
		poke32(alias + 1, v);
		uint32_t got = f();
		if (got != v && !bad++)
			note("round %u: got %#x, want %#x", r, got, v);
	}
	check(!bad, "immediate patched through another linear address of the page (%u of %u stale)",
	      bad, ROUNDS);
	*pte = ALIAS_VA | PTE_P | PTE_W | PTE_U;
	invlpg(ALIAS_VA);
}

static uint64_t user_smc(uint64_t rounds)
{
	uint8_t *buf = code_buf + 256;
	fn0 f = (fn0)(uintptr_t)buf;
	uint64_t bad = 0;
	uint8_t *imm = emit_mov_ret(buf, 0);
	for (unsigned w = 0; w < WARM; w++)
		f();
	for (unsigned r = 0; r < rounds; r++) {
		uint32_t v = value(r, 10);
		poke32(imm, v);
		bad += f() != v;
	}
	bad += stream_rounds(next_insn_plain, 11);
	return bad;
}

static void check_user(void)
{
	uint64_t bad = run_user(user_smc, ROUNDS);
	check(!bad, "at CPL 3: patched immediate and store to the next instruction (%lu stale)",
	      (unsigned long)bad);
}

/* ---- cross-modifying code ------------------------------------------------------ */
static volatile uint32_t xmod_req, xmod_ack, xmod_stop;

static void xmod_ap(struct cpu *c)
{
	(void)c;
	for (uint32_t seen = 0; !xmod_stop;) {
		uint32_t r = __atomic_load_n(&xmod_req, __ATOMIC_ACQUIRE);
		if (r == seen) {
			cpu_relax();
			continue;
		}
		seen = r;
		poke32(xmod_fn_imm, value(r, 12));
		__atomic_store_n(&xmod_ack, r, __ATOMIC_RELEASE);
	}
}

static void check_cross(unsigned ncpus)
{
	if (ncpus < 2) {
		note("one CPU (cmdline cpus=1): cross-modifying code skipped");
		return;
	}
	lapic_enable();
	if (!check(smp_start_ap(1, xmod_ap, 3000) == 0, "CPU 1 (APIC id 1) started"))
		return;
	unsigned bad = 0, timeouts = 0;
	for (uint32_t r = 1; r <= ROUNDS; r++) {
		for (unsigned w = 0; w < (r > 1 ? 3 : WARM); w++)
			xmod_fn();
		__atomic_store_n(&xmod_req, r, __ATOMIC_RELEASE);
		uint64_t until = tsc_deadline_ms(2000);
		while (__atomic_load_n(&xmod_ack, __ATOMIC_ACQUIRE) != r && rdtsc() < until)
			cpu_relax();
		if (xmod_ack != r) {
			timeouts++;
			break;
		}
		cpuid(0, 0);   /* serializing, as the SDM's cross-modifying protocol asks */
		uint32_t got = xmod_fn(), want = value(r, 12);
		if (got != want && !bad++)
			note("round %u: got %#x, want %#x", r, got, want);
	}
	xmod_stop = 1;
	check(!timeouts, "CPU 1 answered every request");
	check(!bad, "cross-modifying: CPU 1 patches, CPU 0 runs CPUID and sees the new code "
	      "(%u of %u stale)", bad, ROUNDS);
}

int guest_main(void)
{
	checks_begin("smc", 0xB0);
	check_immediates();
	check_stream();
	check_opcodes();
	check_copied();
	check_straddle();
	check_alias();
	check_user();
	check_cross((unsigned)cmdline_u64("cpus", 2));
	return checks_end();
}
