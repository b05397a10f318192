/* Differential testing of the SSE and x87 families with their state: see
 * diff_harness_fp.h. */
#include "diff_harness_fp.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <ucontext.h>

#include "vmm/emu/cpu.h"
#include "vmm/emu/sse.h"
#include "vmm/emu/x87.h"

/* ---- native execution ---------------------------------------------------- */

/* What the stub reads and writes; the offsets are the asm's. */
struct native_ctx {
	struct diff_regs regs;          /* 0: GPRs, 128: RFLAGS */
	uint8_t pad[8];
	uint8_t host_fx[512];           /* 144: the test's own FP state */
	uint8_t in_fx[512];             /* 656 */
	uint8_t out_fx[512];            /* 1168 */
	uint8_t out_env[32];            /* 1680: FNSTENV after */
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct native_ctx, host_fx) == 144, "stub offsets");
_Static_assert(offsetof(struct native_ctx, in_fx) == 656, "stub offsets");
_Static_assert(offsetof(struct native_ctx, out_fx) == 1168, "stub offsets");
_Static_assert(offsetof(struct native_ctx, out_env) == 1680, "stub offsets");

/* diff_fp_native_enter(ctx, code): save the callee-saved registers, the
 * host stack pointer and the host FP state, FXRSTOR the case's state, load
 * RFLAGS and the GPRs, jump to code; the code jumps to diff_fp_native_exit,
 * which stores the GPRs, FXSAVEs and FNSTENVs (neither waits, so a pending
 * x87 exception stays pending rather than trapping here), takes RFLAGS,
 * restores the host FP state and returns. */
void diff_fp_native_enter(struct native_ctx *ctx, const void *code);
void diff_fp_native_exit(void);
/* Where the fault handler resumes: back on the host stack, the host FP
 * state restored, diff_fp_native_enter returns. Returning from the
 * handler to here (rather than a longjmp out of it) keeps sanitizers off
 * the alternate signal stack. */
void diff_fp_native_fault(void);
extern uint64_t diff_fp_host_rsp;

__asm__(
	".pushsection .text\n"
	".globl diff_fp_native_enter\n"
	".type diff_fp_native_enter, @function\n"
	"diff_fp_native_enter:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	mov %rsp, diff_fp_host_rsp(%rip)\n"
	"	mov %rdi, fp_ctx(%rip)\n"
	"	mov %rsi, fp_code(%rip)\n"
	"	fxsave64 144(%rdi)\n"
	"	fxrstor64 656(%rdi)\n"
	"	pushq 128(%rdi)\n"
	"	popfq\n"
	DIFF_ASM_LOAD_GPRS
	"	jmp *fp_code(%rip)\n"
	".size diff_fp_native_enter, .-diff_fp_native_enter\n"
	".globl diff_fp_native_exit\n"
	".type diff_fp_native_exit, @function\n"
	"diff_fp_native_exit:\n"
	"	mov %rdi, fp_tmp(%rip)\n"
	"	mov fp_ctx(%rip), %rdi\n"
	DIFF_ASM_STORE_GPRS_BUT_RDI
	"	mov fp_tmp(%rip), %rax\n"
	"	mov %rax, 56(%rdi)\n"
	"	fxsave64 1168(%rdi)\n"
	"	fnstenv 1680(%rdi)\n"
	"	mov diff_fp_host_rsp(%rip), %rsp\n"
	"	pushfq\n"
	"	popq 128(%rdi)\n"
	"	fxrstor64 144(%rdi)\n"
	"	cld\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".size diff_fp_native_exit, .-diff_fp_native_exit\n"
	".globl diff_fp_native_fault\n"
	".type diff_fp_native_fault, @function\n"
	"diff_fp_native_fault:\n"
	"	mov diff_fp_host_rsp(%rip), %rsp\n"
	"	mov fp_ctx(%rip), %rdi\n"
	"	fxrstor64 144(%rdi)\n"
	"	cld\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".size diff_fp_native_fault, .-diff_fp_native_fault\n"
	".popsection\n"
	".pushsection .bss\n"
	".balign 8\n"
	".globl diff_fp_host_rsp\n"
	"diff_fp_host_rsp: .zero 8\n"
	"fp_ctx: .zero 8\n"
	"fp_code: .zero 8\n"
	"fp_tmp: .zero 8\n"
	".popsection\n");

static struct native_ctx ctx;
static volatile int native_vector;
static unsigned failures, seen_failures;
static bool verbose;

/* A fault of the native instruction: the vector and the FP state at the
 * fault from the signal context, then on to diff_fp_native_fault. The
 * handler runs on the harness's alternate stack (the case's RSP is
 * anything). */
static void native_fault(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	native_vector = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	if (uc->uc_mcontext.fpregs)
		memcpy(ctx.out_fx, uc->uc_mcontext.fpregs, sizeof(ctx.out_fx));
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)diff_fp_native_fault;
	uc->uc_mcontext.gregs[REG_RSP] = (greg_t)diff_fp_host_rsp;
}

/* cmocka installs its own handlers for every test: put ours back. */
static void catch_faults(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE };
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = native_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, &old);
	if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == native_fault)
		return;
	for (unsigned i = 1; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* Run natively: the vector raised (-1: none), GPRs and flags in *out,
 * the FP state in ctx.out_fx (and ctx.out_env without a fault). */
static int run_native(const struct diff_fp_case *fc, struct diff_regs *out)
{
	uint8_t *code = (uint8_t *)(uintptr_t)DIFF_CODE_BASE;
	uint64_t exit_addr = (uint64_t)(uintptr_t)diff_fp_native_exit;
	unsigned n = fc->c.native_len ? fc->c.native_len : fc->c.len;

	memcpy(code, fc->c.native_len ? fc->c.native : fc->c.code, n);
	/* jmp *0(%rip); .quad diff_fp_native_exit */
	code[n++] = 0xff;
	code[n++] = 0x25;
	memset(code + n, 0, 4);
	n += 4;
	memcpy(code + n, &exit_addr, 8);
	__builtin___clear_cache((char *)code, (char *)code + n + 8);

	/* The x87 instruction and data pointers do not survive the kernel
	 * switching this process out between the instruction and the FXSAVE
	 * after it (the FPU state comes back without them): a run that was
	 * preempted is run again. The FP instructions only load or store
	 * memory, never read-modify-write it, so running one again is
	 * harmless. */
	for (unsigned attempt = 0; attempt < 20; attempt++) {
		struct rusage before, after;

		ctx.regs = fc->c.in;
		memcpy(ctx.in_fx, fc->in.b, sizeof(ctx.in_fx));
		memset(ctx.out_env, 0, sizeof(ctx.out_env));
		native_vector = -1;
		catch_faults();
		getrusage(RUSAGE_THREAD, &before);
		diff_fp_native_enter(&ctx, code);
		getrusage(RUSAGE_THREAD, &after);
		if (after.ru_nivcsw == before.ru_nivcsw && after.ru_nvcsw == before.ru_nvcsw)
			break;
	}
	*out = ctx.regs;
	return native_vector;
}

/* ---- the emulated side ------------------------------------------------- */

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* The image into cpu->fpu, as FXRSTOR64 loads it (ES and B follow the
 * unmasked flags; FOP has 11 bits). */
static void image_to_fpu(struct emu_fpu *f, const struct diff_fx *s)
{
	unsigned top;

	f->fcw = (uint16_t)((rd16(s->b + FX_FCW) & 0x1f3f) | 0x40);
	f->fsw = rd16(s->b + FX_FSW) & 0x7f7f;
	if (f->fsw & ~f->fcw & 0x3f)
		f->fsw |= 0x8080;
	f->ftw = s->b[FX_FTW];
	f->fop = rd16(s->b + FX_FOP) & 0x7ff;
	f->fip = rd64(s->b + FX_FIP);
	f->fdp = rd64(s->b + FX_FDP);
	f->mxcsr = rd32(s->b + FX_MXCSR);
	top = (f->fsw >> 11) & 7;
	for (unsigned i = 0; i < 8; i++) {
		f->st[(top + i) & 7].mant = rd64(s->b + FX_ST(i));
		f->st[(top + i) & 7].exp = rd16(s->b + FX_ST(i) + 8);
	}
	for (unsigned i = 0; i < 16; i++)
		memcpy(f->xmm[i].b, s->b + FX_XMM(i), 16);
}

static void fpu_to_image(struct diff_fx *s, const struct emu_fpu *f)
{
	unsigned top = (f->fsw >> 11) & 7;

	memset(s, 0, sizeof(*s));
	memcpy(s->b + FX_FCW, &f->fcw, 2);
	memcpy(s->b + FX_FSW, &f->fsw, 2);
	s->b[FX_FTW] = f->ftw;
	memcpy(s->b + FX_FOP, &f->fop, 2);
	memcpy(s->b + FX_FIP, &f->fip, 8);
	memcpy(s->b + FX_FDP, &f->fdp, 8);
	memcpy(s->b + FX_MXCSR, &f->mxcsr, 4);
	for (unsigned i = 0; i < 8; i++) {
		memcpy(s->b + FX_ST(i), &f->st[(top + i) & 7].mant, 8);
		memcpy(s->b + FX_ST(i) + 8, &f->st[(top + i) & 7].exp, 2);
	}
	for (unsigned i = 0; i < 16; i++)
		memcpy(s->b + FX_XMM(i), f->xmm[i].b, 16);
}

/* ---- setup and cases ----------------------------------------------------- */

void diff_fp_setup(const char *test_name)
{
	struct emu_cpu *cpu;
	const char *v = getenv("WISP_DIFF_VERBOSE");

	diff_setup(test_name);
	verbose = v && *v && *v != '0';
	cpu = diff_cpu();
	cpu->cr0 |= EMU_CR0_MP | EMU_CR0_NE;
	cpu->cr4 |= EMU_CR4_OSFXSR | EMU_CR4_OSXMMEXCPT;
}

void diff_fp_new_case(struct diff_insn *d, struct diff_fp_case *fc)
{
	struct diff_fx *s = &fc->in;

	memset(fc, 0, sizeof(*fc));
	diff_new_case(d, &fc->c);
	diff_fx_set_x87(s, 0x037f, 0, 0);
	diff_fx_set_mxcsr(s, 0x1f80);
	fc->fsw_mask = 0xffff;
	fc->pointers = true;
}

unsigned diff_fp_group_failures(void)
{
	unsigned mine = failures - seen_failures;

	seen_failures = failures;
	return mine;
}

void diff_fx_set_xmm(struct diff_fx *s, unsigned i, uint64_t lo, uint64_t hi)
{
	diff_fx_put(s, FX_XMM(i), &lo, 8);
	diff_fx_put(s, FX_XMM(i) + 8, &hi, 8);
}

void diff_fx_set_mxcsr(struct diff_fx *s, uint32_t v)
{
	diff_fx_put(s, FX_MXCSR, &v, 4);
}

void diff_fx_set_st(struct diff_fx *s, unsigned i, uint64_t mant, uint16_t exp)
{
	diff_fx_put(s, FX_ST(i), &mant, 8);
	diff_fx_put(s, FX_ST(i) + 8, &exp, 2);
}

void diff_fx_set_x87(struct diff_fx *s, uint16_t fcw, uint16_t fsw, uint8_t ftw)
{
	diff_fx_put(s, FX_FCW, &fcw, 2);
	diff_fx_put(s, FX_FSW, &fsw, 2);
	s->b[FX_FTW] = ftw;
}

/* ---- comparing ----------------------------------------------------------- */

static const char *const reg_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

static void hex(const uint8_t *p, unsigned n)
{
	for (unsigned i = n; i-- > 0;)
		fprintf(stderr, "%02x", p[i]);
}

/* Print the case once (at its first difference), then each difference. */
static bool header_done;

static void mismatch(const char *what, const struct diff_fp_case *fc, const char *field)
{
	if (!header_done) {
		failures++;
		header_done = true;
		if (failures > 12 && !verbose) {
			if (failures == 13)
				fprintf(stderr, "(more mismatches not shown; WISP_DIFF_VERBOSE=1 shows all)\n");
			return;
		}
		fprintf(stderr, "MISMATCH %s:\n  code:", what);
		for (unsigned i = 0; i < fc->c.len; i++)
			fprintf(stderr, " %02x", fc->c.code[i]);
		fprintf(stderr, "\n  in: fcw %04x fsw %04x ftw %02x mxcsr %08x rflags %06llx\n",
			rd16(fc->in.b + FX_FCW), rd16(fc->in.b + FX_FSW), fc->in.b[FX_FTW],
			rd32(fc->in.b + FX_MXCSR), (unsigned long long)fc->c.in.rflags);
		for (unsigned i = 0; i < 8; i++) {
			fprintf(stderr, "  in st%u ", i);
			hex(fc->in.b + FX_ST(i), 10);
			fprintf(stderr, "   xmm%u ", i);
			hex(fc->in.b + FX_XMM(i), 16);
			fprintf(stderr, "\n");
		}
	}
	if (failures > 12 && !verbose)
		return;
	fprintf(stderr, "  differs: %s\n", field);
}

static void cmp_bytes(const char *what, const struct diff_fp_case *fc, const char *name,
		      const uint8_t *want, const uint8_t *got, unsigned n)
{
	char buf[200];
	int k;

	if (memcmp(want, got, n) == 0)
		return;
	k = snprintf(buf, sizeof(buf), "%s: host ", name);
	for (unsigned i = n; i-- > 0 && k < 150;)
		k += snprintf(buf + k, sizeof(buf) - (size_t)k, "%02x", want[i]);
	k += snprintf(buf + k, sizeof(buf) - (size_t)k, "  core ");
	for (unsigned i = n; i-- > 0 && k < 190;)
		k += snprintf(buf + k, sizeof(buf) - (size_t)k, "%02x", got[i]);
	mismatch(what, fc, buf);
}

static void cmp_u64(const char *what, const struct diff_fp_case *fc, const char *name,
		    uint64_t want, uint64_t got)
{
	char buf[120];

	if (want == got)
		return;
	snprintf(buf, sizeof(buf), "%s: host %llx core %llx", name, (unsigned long long)want,
		 (unsigned long long)got);
	mismatch(what, fc, buf);
}

bool diff_fp_run(const char *what, struct diff_fp_case *fc)
{
	struct emu_cpu *cpu = diff_cpu();
	struct diff_regs want = fc->c.in, got;
	struct diff_fx efx, nfx;
	const uint8_t *native_data = (const uint8_t *)(uintptr_t)DIFF_DATA_BASE;
	const uint8_t *guest_data = diff_guest_mem(DIFF_DATA_BASE);
	uint64_t fmask = fc->c.flags;
	uint16_t skip = fc->c.skip_gpr, fswm = fc->fsw_mask;
	bool pointers = fc->pointers;
	int nvec = fc->c.vector, evec;
	char name[32];

	header_done = false;
	fc->c.in.rflags |= 2;
	want.rflags = fc->c.in.rflags;
	if (nvec < 0) {
		nvec = run_native(fc, &want);
		memcpy(nfx.b, ctx.out_fx, sizeof(nfx.b));
	} else {
		nfx = fc->in;
	}
	image_to_fpu(&cpu->fpu, &fc->in);
	if (fc->c.vector >= 0) {
		/* What the core must leave: the state as loaded. */
		fpu_to_image(&nfx, &cpu->fpu);
	}
	evec = diff_emu_only(&fc->c, &got);
	fpu_to_image(&efx, &cpu->fpu);

	if (nvec != evec) {
		char buf[64];

		snprintf(buf, sizeof(buf), "vector: host %d core %d", nvec, evec);
		mismatch(what, fc, buf);
	}
	if (nvec >= 0) {
		/* A fault changes no register; only the FP state (MXCSR flags
		 * of an #XM) as the host saved it. */
		want = fc->c.in;
		fmask = ~0ull;
		skip = 0;
		pointers = false;
	} else if (evec < 0 && cpu->rip != DIFF_CODE_BASE + fc->c.len) {
		cmp_u64(what, fc, "rip", DIFF_CODE_BASE + fc->c.len, cpu->rip);
	}
	for (unsigned i = 0; i < 16; i++)
		if (!(skip & (1u << i)))
			cmp_u64(what, fc, reg_names[i], want.gpr[i], got.gpr[i]);
	cmp_u64(what, fc, "rflags", want.rflags & fmask, got.rflags & fmask);

	cmp_u64(what, fc, "fcw", rd16(nfx.b + FX_FCW), rd16(efx.b + FX_FCW));
	cmp_u64(what, fc, "fsw", rd16(nfx.b + FX_FSW) & fswm, rd16(efx.b + FX_FSW) & fswm);
	cmp_u64(what, fc, "ftw", nfx.b[FX_FTW], efx.b[FX_FTW]);
	if (fc->mxcsr_loose)
		cmp_u64(what, fc, "mxcsr (modes)", rd32(nfx.b + FX_MXCSR) & ~0x3fu,
			rd32(efx.b + FX_MXCSR) & ~0x3fu);
	else
		cmp_u64(what, fc, "mxcsr", rd32(nfx.b + FX_MXCSR), rd32(efx.b + FX_MXCSR));
	for (unsigned i = 0; i < 8; i++) {
		if (fc->skip_st & (1u << i))
			continue;
		snprintf(name, sizeof(name), "st%u", i);
		cmp_bytes(what, fc, name, nfx.b + FX_ST(i), efx.b + FX_ST(i), 10);
	}
	for (unsigned i = 0; i < 16; i++) {
		if (fc->skip_xmm & (1u << i))
			continue;
		snprintf(name, sizeof(name), "xmm%u", i);
		cmp_bytes(what, fc, name, nfx.b + FX_XMM(i), efx.b + FX_XMM(i), 16);
	}
	/* The core's own FXSAVE image (sse.c) must agree with this file's
	 * reading of its state (MXCSR_MASK and the bytes after the
	 * registers aside), and its full tag word (x87.c, for FSTENV) with
	 * the host's. */
	{
		struct diff_fx core;

		memset(&core, 0, sizeof(core));
		emu_fxsave_image(cpu, core.b, true, 16);
		if (memcmp(core.b, efx.b, 28) != 0 || memcmp(core.b + 32, efx.b + 32, 416 - 32) != 0)
			mismatch(what, fc, "emu_fxsave_image disagrees with the state");
	}
	if (nvec < 0 && fc->c.vector < 0)
		cmp_u64(what, fc, "tag word", rd16(ctx.out_env + 8), emu_x87_tag_word(&cpu->fpu));
	if (pointers && fc->c.vector < 0) {
		cmp_u64(what, fc, "fip", rd32(ctx.out_env + 12), (uint32_t)cpu->fpu.fip);
		cmp_u64(what, fc, "fop", rd16(ctx.out_env + 18) & 0x7ff, cpu->fpu.fop);
		cmp_u64(what, fc, "fdp", rd32(ctx.out_env + 20), (uint32_t)cpu->fpu.fdp);
	}
	if (fc->mem_ignore_len) {
		uint8_t tmp[512];

		memcpy(tmp, diff_guest_mem(fc->mem_ignore), fc->mem_ignore_len);
		diff_mem_set(fc->mem_ignore, tmp, fc->mem_ignore_len);
	}
	if (memcmp(native_data, guest_data, DIFF_DATA_SIZE) != 0) {
		size_t i = 0;
		char buf[96];

		while (native_data[i] == guest_data[i])
			i++;
		snprintf(buf, sizeof(buf), "memory at %#llx: host %02x, core %02x",
			 (unsigned long long)(DIFF_DATA_BASE + i), native_data[i], guest_data[i]);
		mismatch(what, fc, buf);
		/* Keep the two copies equal for the cases after this one. */
		diff_mem_set(DIFF_DATA_BASE, native_data, DIFF_DATA_SIZE);
	}
	return !header_done;
}

bool diff_fp_check(const char *what, struct diff_insn *d, struct diff_fp_case *fc)
{
	struct diff_case *c = &fc->c;

	c->len = diff_encode(d, c->code);
	if (d->mem && d->base == DIFF_RIP) {
		d->disp = (int32_t)(d->rip_target - (DIFF_CODE_BASE + c->len));
		c->len = diff_encode(d, c->code);
	}
	return diff_fp_run(what, fc);
}

/* ---- random values -------------------------------------------------------- */

uint32_t diff_rand_f32(void)
{
	uint32_t sign = (uint32_t)diff_rand_below(2) << 31, v;
	float f;

	switch (diff_rand_below(16)) {
	case 0: return sign;                                            /* zero */
	case 1: return sign | 0x7f800000u;                              /* infinity */
	case 2: return sign | 0x7fc00000u | (uint32_t)(diff_rand() & 0x3fffff);   /* QNaN */
	case 3: return sign | 0x7f800000u | (uint32_t)(1 + diff_rand_below(0x3fffff)); /* SNaN */
	case 4: return sign | (uint32_t)(1 + diff_rand_below(0x7fffff)); /* denormal */
	case 5: return sign | (uint32_t)(0x00800000u + diff_rand_below(0x01000000)); /* tiny normals */
	case 6: return sign | (uint32_t)(0x7f7fffffu - diff_rand_below(0x01000000)); /* huge */
	case 7:
		f = (float)(int)(diff_rand_below(41) - 20);
		memcpy(&v, &f, 4);
		return v;
	case 8: {
		/* Around the integer conversion limits 2^31 and 2^63. */
		static const float lim[] = { 2147483648.0f, 9223372036854775808.0f, 4294967296.0f };

		f = lim[diff_rand_below(3)];
		memcpy(&v, &f, 4);
		return (sign | v) + (uint32_t)diff_rand_below(3) - 1;
	}
	case 9: case 10: case 11:
		/* Moderate magnitudes: 2^-20 .. 2^20, any mantissa. */
		return sign | (uint32_t)(107 + diff_rand_below(40)) << 23 |
		       (uint32_t)(diff_rand() & 0x7fffff);
	case 12:
		f = (float)((double)diff_rand_below(1000000) / 1000.0);
		memcpy(&v, &f, 4);
		return sign | v;
	default:
		return (uint32_t)diff_rand();
	}
}

uint64_t diff_rand_f64(void)
{
	uint64_t sign = diff_rand_below(2) << 63, v;
	double f;

	switch (diff_rand_below(16)) {
	case 0: return sign;
	case 1: return sign | 0x7ff0000000000000ull;
	case 2: return sign | 0x7ff8000000000000ull | (diff_rand() & 0x7ffffffffffffull);
	case 3: return sign | 0x7ff0000000000000ull | (1 + diff_rand_below(0x7ffffffffffffull));
	case 4: return sign | (1 + diff_rand_below(0xfffffffffffffull));
	case 5: return sign | (0x0010000000000000ull + diff_rand_below(0x0020000000000000ull));
	case 6: return sign | (0x7fefffffffffffffull - diff_rand_below(0x0020000000000000ull));
	case 7:
		f = (double)(int)(diff_rand_below(41) - 20);
		memcpy(&v, &f, 8);
		return v;
	case 8: {
		static const double lim[] = { 2147483648.0, 9223372036854775808.0, 4294967296.0,
					      2147483647.5, 3.4028234663852886e38, 1.1754943508222875e-38 };

		f = lim[diff_rand_below(6)];
		memcpy(&v, &f, 8);
		return (sign | v) + diff_rand_below(3) - 1;
	}
	case 9: case 10: case 11:
		return sign | (1023 - 40 + diff_rand_below(80)) << 52 | (diff_rand() & 0xfffffffffffffull);
	case 12:
		/* Float-sized values and ones just past the float range, for
		 * CVTSD2SS. */
		return sign | (1023 - 160 + diff_rand_below(320)) << 52 | (diff_rand() & 0xfffffffffffffull);
	default:
		return diff_rand();
	}
}

void diff_rand_f80(uint64_t *mant, uint16_t *exp)
{
	uint16_t sign = (uint16_t)(diff_rand_below(2) << 15);
	uint64_t j = 1ull << 63;

	switch (diff_rand_below(20)) {
	case 0: *mant = 0; *exp = sign; break;                                  /* zero */
	case 1: *mant = j; *exp = sign | 0x7fff; break;                         /* infinity */
	case 2: *mant = j | (3ull << 62) | (diff_rand() >> 2); *exp = sign | 0x7fff; break;
	case 3: *mant = j | (1 + diff_rand_below((1ull << 62) - 1)); *exp = sign | 0x7fff; break;
	case 4: *mant = 1 + diff_rand_below(j - 1); *exp = sign; break;         /* denormal */
	case 5:
		/* Unsupported encodings: pseudo-denormal, unnormal, pseudo-NaN
		 * and pseudo-infinity. */
		switch (diff_rand_below(4)) {
		case 0: *mant = j | (diff_rand() >> 1); *exp = sign; break;
		case 1: *mant = diff_rand() >> 1; *exp = sign | (uint16_t)(1 + diff_rand_below(0x7ffe)); break;
		case 2: *mant = (diff_rand() >> 1) | 1; *exp = sign | 0x7fff; break;
		default: *mant = 0; *exp = sign | 0x7fff; break;
		}
		break;
	case 6: *mant = j | (diff_rand() >> 1); *exp = sign | (uint16_t)(1 + diff_rand_below(64)); break;
	case 7: *mant = j | (diff_rand() >> 1); *exp = sign | (uint16_t)(0x7ffe - diff_rand_below(64)); break;
	case 8: {
		/* Small integers. */
		uint64_t n = 1 + diff_rand_below(1000);
		int lz = __builtin_clzll(n);

		*mant = n << lz;
		*exp = sign | (uint16_t)(16383 + 63 - lz);
		break;
	}
	case 9: {
		/* Around the integer conversion limits: 2^15, 2^31, 2^63. */
		static const uint16_t e[] = { 15, 31, 63, 16, 32, 62, 64 };

		*exp = sign | (uint16_t)(16383 + e[diff_rand_below(7)]);
		*mant = diff_rand_below(2) ? j + diff_rand_below(3) : ~0ull << diff_rand_below(3);
		break;
	}
	case 10:
		/* Values a double or float cannot hold: for FST rounding. */
		*mant = j | (diff_rand() >> 1);
		*exp = sign | (uint16_t)(16383 + (int)diff_rand_below(2 * 1100) - 1100);
		break;
	case 11:
		/* Multiples of pi/4 and nearby, for the trigonometry. */
		*mant = 0xc90fdaa22168c235ull + diff_rand_below(5) - 2;
		*exp = sign | (uint16_t)(16383 - 2 + diff_rand_below(70));
		break;
	case 12: case 13: case 14:
		*mant = j | (diff_rand() >> 1);
		*exp = sign | (uint16_t)(16383 - 20 + diff_rand_below(40));
		break;
	default:
		*mant = j | (diff_rand() >> 1);
		*exp = sign | (uint16_t)(16383 - 300 + diff_rand_below(600));
		break;
	}
}

uint32_t diff_rand_mxcsr(bool unmask)
{
	uint32_t v = (uint32_t)diff_rand_below(4) << 13;

	if (diff_rand_below(4) == 0)
		v |= 0x8000;                            /* FTZ */
	if (diff_rand_below(4) == 0)
		v |= 0x0040;                            /* DAZ */
	if (diff_rand_below(2))
		v |= (uint32_t)diff_rand_below(64);     /* sticky flags */
	if (unmask)
		v |= (uint32_t)diff_rand_below(64) << 7;
	else
		v |= 0x1f80;
	return v;
}
