/* syscall: SYSCALL/SYSRET round trips between CPL 3 and CPL 0, set up as
 * a 64-bit kernel does (EFER.SCE, STAR, LSTAR, SFMASK; SWAPGS with
 * KERNEL_GS_BASE in the entry path, which switches to its own stack).
 * Each of N calls from ring 3 passes a number and six arguments in
 * RAX, RDI, RSI, RDX, R10, R8, R9; the kernel records what it found and
 * answers in RAX, with RFLAGS to return in R11. Checked afterwards, at
 * CPL 0: the return RIP in RCX, the RFLAGS image in R11, the flags
 * SFMASK cleared (IF, DF, AC) in the handler, CS/SS = STAR[47:32] and +8
 * in the handler (CPL 0), RSP unchanged by SYSCALL, the GS bases swapped
 * and swapped back, the arguments and the result, CS/SS = STAR[63:48]+16
 * and +8 with RPL 3 after SYSRET, and RFLAGS loaded from R11.
 * Then SYSRETL to 32-bit ring 3 and SYSCALL from there through CSTAR;
 * #UD for SYSCALL with EFER.SCE clear, #GP(0) for SYSRET and SWAPGS at
 * CPL 3; SYSRET with a non-canonical RCX (see check_sysret_noncanonical).
 * Command line: "sysret_vendor" also checks that the non-canonical
 * SYSRET faults the way the CPUID vendor's processors do. */
#include "guest.h"

#define MSR_STAR           0xC0000081
#define MSR_LSTAR          0xC0000082
#define MSR_CSTAR          0xC0000083
#define MSR_SFMASK         0xC0000084
#define MSR_KERNEL_GS_BASE 0xC0000102
#define EFER_SCE (1u << 0)

#define FL_CF (1u << 0)
#define FL_PF (1u << 2)
#define FL_ZF (1u << 6)
#define FL_SF (1u << 7)
#define FL_TF (1u << 8)
#define FL_IF (1u << 9)
#define FL_DF (1u << 10)
#define FL_OF (1u << 11)
#define FL_IOPL (3u << 12)
#define FL_NT (1u << 14)
#define FL_RF (1u << 16)
#define FL_AC (1u << 18)
/* What Linux masks on SYSCALL. */
#define SFMASK_VALUE (FL_TF | FL_DF | FL_IF | FL_IOPL | FL_AC | FL_NT)
/* The RFLAGS bits compared between ring 3's own view and R11: the
 * arithmetic flags, DF and AC (ring 3 sets them itself). IF and IOPL are
 * left out: some hypervisors (KVM's PVM flavour) run ring 3 with IF=1
 * and IOPL 0 whatever the guest's RFLAGS say. */
#define FL_USER_MASK (FL_CF | FL_PF | FL_ZF | FL_SF | FL_DF | FL_OF | FL_AC | 2u)

#define STAR_KERNEL SEL_CODE64            /* CS 0x10, SS 0x18 */
#define STAR_USER   (SEL_DATA | 3)        /* SS 0x18+8 = 0x23, CS 0x18+16 = 0x2b */

#define NCALLS 16

/* The kernel's per-CPU syscall block, GS base while in the kernel. The
 * first word is the runtime's struct cpu pointer so this_cpu() keeps
 * working after SWAPGS. */
struct scblock {
	struct cpu *cpu;        /* 0 */
	struct scblock *self;   /* 8 */
	uint64_t user_rsp;      /* 16 */
	uint64_t kstack_top;    /* 24 */
};
#define SCB_SELF 8
#define SCB_USER_RSP 16
#define SCB_KSTACK 24

/* The frame the entry stub builds (lowest address first). */
struct scframe {
	uint64_t ss, cs, rflags, pad;
	uint64_t rax, rdi, rsi, rdx, r10, r8, r9, rcx, r11, user_rsp;
};

/* What the kernel saw, per call. */
struct krec {
	uint64_t nr, args[6], rcx, r11, rflags, cs, ss, user_rsp;
	uint64_t gs_base, kgs_base, gs_self;
	uint64_t ret, r11_out;
};

/* What ring 3 saw, per call (filled by user_syscall). */
struct ucall {
	uint64_t nr, args[6];          /* 0, 8..48 */
	uint64_t flags_in;             /* 56: RFLAGS bits ring 3 sets before SYSCALL */
	uint64_t rflags_before;        /* 64 */
	uint64_t rsp_before;           /* 72 */
	uint64_t ret_rip;              /* 80 */
	uint64_t ret;                  /* 88 */
	uint64_t rflags_after;         /* 96 */
	uint64_t cs_after, ss_after;   /* 104, 112 */
	uint64_t rsp_after;            /* 120 */
	uint64_t rcx_after;            /* 128 */
	uint64_t gs0_after;            /* 136: %gs:0 back in ring 3 */
};

static struct scblock scb;
static uint8_t syscall_kstack[8192] __attribute__((aligned(16)));
static struct krec krecs[NCALLS];
static struct ucall ucalls[NCALLS];
static volatile unsigned kcalls;

void syscall_entry(void);
uint64_t user_syscall(struct ucall *u);
uint64_t syscall_c(struct scframe *f);

/* ---- the kernel side --------------------------------------------------------- */
__asm__(
	"	.text\n"
	"	.globl syscall_entry\n"
	"syscall_entry:\n"
	"	swapgs\n"
	"	mov %rsp, %gs:" "16" "\n"          /* SCB_USER_RSP */
	"	mov %gs:" "24" ", %rsp\n"          /* SCB_KSTACK */
	"	pushq %gs:16\n"
	"	push %r11\n"
	"	push %rcx\n"
	"	push %r9\n"
	"	push %r8\n"
	"	push %r10\n"
	"	push %rdx\n"
	"	push %rsi\n"
	"	push %rdi\n"
	"	push %rax\n"
	"	pushq $0\n"
	"	pushfq\n"
	"	mov %cs, %eax\n"
	"	push %rax\n"
	"	mov %ss, %eax\n"
	"	push %rax\n"
	"	mov %rsp, %rdi\n"
	"	call syscall_c\n"
	"	add $40, %rsp\n"                   /* ss, cs, rflags, pad, rax */
	"	pop %rdi\n"
	"	pop %rsi\n"
	"	pop %rdx\n"
	"	pop %r10\n"
	"	pop %r8\n"
	"	pop %r9\n"
	"	pop %rcx\n"
	"	pop %r11\n"
	"	pop %rsp\n"
	"	swapgs\n"
	"	sysretq\n");

uint64_t syscall_c(struct scframe *f)
{
	unsigned i = kcalls;
	uint64_t ret = ~0ull;

	if (i < NCALLS) {
		struct krec *k = &krecs[i];
		uint64_t self;
		__asm__ volatile("mov %%gs:8, %0" : "=r"(self));
		k->nr = f->rax;
		k->args[0] = f->rdi;
		k->args[1] = f->rsi;
		k->args[2] = f->rdx;
		k->args[3] = f->r10;
		k->args[4] = f->r8;
		k->args[5] = f->r9;
		k->rcx = f->rcx;
		k->r11 = f->r11;
		k->rflags = f->rflags;
		k->cs = f->cs;
		k->ss = f->ss;
		k->user_rsp = f->user_rsp;
		k->gs_base = rdmsr(MSR_GS_BASE);
		k->kgs_base = rdmsr(MSR_KERNEL_GS_BASE);
		k->gs_self = self;
		ret = f->rax * 0x10001 + f->rdi + 2 * f->rsi + 3 * f->rdx + 4 * f->r10 +
		      5 * f->r8 + 6 * f->r9;
		/* RFLAGS to return: ring 3's own, CF flipped on odd calls and
		 * DF/AC cleared on even ones. */
		uint64_t r11 = f->r11;
		if (f->rax & 1)
			r11 ^= FL_CF;
		else
			r11 &= ~(uint64_t)(FL_DF | FL_AC);
		f->r11 = r11;
		k->r11_out = r11;
		k->ret = ret;
	}
	kcalls = i + 1;
	return ret;
}

/* ---- the user side -------------------------------------------------------------
 * uint64_t user_syscall(struct ucall *u): one SYSCALL with u's number and
 * arguments and RFLAGS bits, recording what ring 3 sees before and after. */
__asm__(
	"	.text\n"
	"	.globl user_syscall\n"
	"user_syscall:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	mov %rdi, %rbx\n"
	"	lea 1f(%rip), %rax\n"
	"	mov %rax, 80(%rbx)\n"
	"	mov 0(%rbx), %rax\n"
	"	mov 8(%rbx), %rdi\n"
	"	mov 16(%rbx), %rsi\n"
	"	mov 24(%rbx), %rdx\n"
	"	mov 32(%rbx), %r10\n"
	"	mov 40(%rbx), %r8\n"
	"	mov 48(%rbx), %r9\n"
	"	pushfq\n"
	"	pop %rbp\n"
	"	and $~0x40cd5, %rbp\n"              /* clear CF PF ZF SF OF DF AC */
	"	or 56(%rbx), %rbp\n"
	"	push %rbp\n"
	"	popfq\n"
	"	pushfq\n"
	"	pop 64(%rbx)\n"
	"	mov %rsp, 72(%rbx)\n"
	"	syscall\n"
	"1:	pushfq\n"
	"	pop 96(%rbx)\n"
	"	mov %rsp, 120(%rbx)\n"
	"	mov %rcx, 128(%rbx)\n"
	"	mov %rax, 88(%rbx)\n"
	"	mov %cs, %ecx\n"
	"	mov %rcx, 104(%rbx)\n"
	"	mov %ss, %ecx\n"
	"	mov %rcx, 112(%rbx)\n"
	"	mov %gs:0, %rcx\n"
	"	mov %rcx, 136(%rbx)\n"
	"	pushfq\n"
	"	andq $~0x40400, (%rsp)\n"           /* DF and AC off again */
	"	popfq\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n");

static const uint64_t flag_patterns[] = {
	0, FL_CF, FL_DF, FL_AC | FL_ZF, FL_CF | FL_SF | FL_OF, FL_DF | FL_AC | FL_PF,
	FL_CF | FL_ZF | FL_DF, FL_AC,
};

static uint64_t user_calls(uint64_t n)
{
	uint64_t sum = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct ucall *u = &ucalls[i];
		u->nr = i;
		for (unsigned a = 0; a < 6; a++)
			u->args[a] = (i + 1) * 0x1111111111ull + ((uint64_t)a << 56) + a;
		u->flags_in = flag_patterns[i % ARRAY_SIZE(flag_patterns)];
		sum += user_syscall(u);
	}
	return sum;
}

/* ---- compatibility mode: SYSRETL to 32-bit ring 3, SYSCALL through CSTAR ------- */
uint64_t compat_trip(void);
void cstar_entry(void);
extern const uint8_t compat_user32[], compat_after_syscall[];
static uint8_t compat_ustack[1024] __attribute__((aligned(16)));
volatile uint64_t compat_saved_rsp, compat_rcx, compat_r11, compat_rax, compat_kcs, compat_kss,
	compat_kflags;
volatile uint32_t compat_cs, compat_ss, compat_esp, compat_flags;

__asm__(
	"	.text\n"
	"	.globl compat_trip, cstar_entry, compat_user32, compat_after_syscall\n"
	"compat_trip:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	mov %rsp, compat_saved_rsp(%rip)\n"
	"	mov $0x23, %eax\n"
	"	mov %eax, %ds\n"
	"	mov %eax, %es\n"
	"	lea compat_user32(%rip), %rcx\n"
	"	mov $0x202 & ~0x200, %r11d\n"           /* IF off: 0x2 */
	"	or $0x1, %r11d\n"                       /* CF, seen in ring 3 */
	"	lea compat_ustack+1024(%rip), %rsp\n"
	"	sysretl\n"
	"	.code32\n"
	"compat_user32:\n"
	"	mov %cs, %eax\n"
	"	mov %eax, compat_cs\n"
	"	mov %ss, %eax\n"
	"	mov %eax, compat_ss\n"
	"	mov %esp, compat_esp\n"
	"	pushf\n"
	"	pop %eax\n"
	"	mov %eax, compat_flags\n"
	"	std\n"
	"	mov $0x1234, %eax\n"
	"	syscall\n"
	"compat_after_syscall:\n"
	"	ud2\n"
	"	.code64\n"
	"cstar_entry:\n"
	"	mov %rcx, compat_rcx(%rip)\n"
	"	mov %r11, compat_r11(%rip)\n"
	"	mov %rax, compat_rax(%rip)\n"
	"	mov %cs, %eax\n"
	"	mov %rax, compat_kcs(%rip)\n"
	"	mov %ss, %eax\n"
	"	mov %rax, compat_kss(%rip)\n"
	"	pushfq\n"
	"	pop compat_kflags(%rip)\n"
	"	mov compat_saved_rsp(%rip), %rsp\n"
	"	mov $0x18, %eax\n"
	"	mov %eax, %ds\n"
	"	mov %eax, %es\n"
	"	cld\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	xor %eax, %eax\n"
	"	ret\n");

static void check_compat(void)
{
	wrmsr(MSR_CSTAR, (uint64_t)cstar_entry);
	compat_trip();
	note("32-bit ring 3: CS %#x SS %#x ESP %#x EFLAGS %#x; CSTAR entry: RCX %#lx R11 %#lx RAX %#lx, "
	     "CS %#lx SS %#lx RFLAGS %#lx", compat_cs, compat_ss, compat_esp, compat_flags,
	     (unsigned long)compat_rcx, (unsigned long)compat_r11, (unsigned long)compat_rax,
	     (unsigned long)compat_kcs, (unsigned long)compat_kss, (unsigned long)compat_kflags);
	check(compat_cs == (STAR_USER | 3) && compat_ss == ((STAR_USER + 8) | 3) &&
	      compat_esp == (uint32_t)(uint64_t)(compat_ustack + sizeof(compat_ustack)) &&
	      (compat_flags & FL_CF),
	      "SYSRETL: 32-bit ring 3 with CS = STAR[63:48] | 3, SS = +8 | 3, RSP kept, EFLAGS from R11");
	check(compat_rcx == (uint64_t)compat_after_syscall && (compat_r11 & FL_DF) && compat_rax == 0x1234,
	      "SYSCALL from compatibility mode: to CSTAR, RCX = the return EIP, R11 = EFLAGS");
	check(compat_kcs == STAR_KERNEL && compat_kss == STAR_KERNEL + 8 &&
	      !(compat_kflags & (FL_DF | FL_IF)), "...in 64-bit mode at CPL 0 with SFMASK applied");
}

/* ---- faults: SYSCALL without EFER.SCE, SYSRET and SWAPGS at CPL 3 --------------- */
static volatile uint64_t fix_rip, at_rip;
static volatile struct { unsigned hits; uint64_t vector, error, rip, cs; } ft;

static void on_probe_fault(struct irq_frame *f)
{
	ft.hits++;
	ft.vector = f->vector;
	ft.error = f->error;
	ft.rip = f->rip;
	ft.cs = f->cs;
	if (!fix_rip) {
		printf("FAIL: exception %lu at rip %#lx with no probe armed\n", (unsigned long)f->vector,
		       (unsigned long)f->rip);
		exit_with(EXIT_UNEXPECTED_TRAP);
	}
	f->rip = fix_rip;
	fix_rip = 0;
}

#define ARM "lea 1f(%%rip), %%r11\n\tmov %%r11, %[fix]\n\tlea 2f(%%rip), %%r11\n\tmov %%r11, %[at]\n\t"
#define ARM_OPS [fix] "=m"(fix_rip), [at] "=m"(at_rip)

static uint64_t user_bad(uint64_t which)
{
	switch (which) {
	case 0:
		__asm__ volatile(ARM "2: syscall\n1:" : ARM_OPS :: "rcx", "r11", "memory");
		break;
	case 1:
		__asm__ volatile(ARM "2: sysretq\n1:" : ARM_OPS :: "rcx", "r11", "memory");
		break;
	case 2:
		__asm__ volatile(ARM "2: swapgs\n1:" : ARM_OPS :: "r11", "memory");
		break;
	}
	return which;
}

static void probe_user_fault(uint64_t which, uint64_t vector, const char *what)
{
	ft.hits = 0;
	ft.vector = ft.error = ft.rip = ft.cs = ~0ull;
	run_user(user_bad, which);
	check(ft.hits == 1 && ft.vector == vector && ft.error == 0 && ft.rip == at_rip &&
	      ft.cs == (SEL_UCODE64 | 3), "%s: vector %ld (want %lu), error %#lx, at the instruction: %s",
	      what, (long)ft.vector, (unsigned long)vector, (unsigned long)ft.error,
	      ft.rip == at_rip ? "yes" : "no");
}

static void check_faults(void)
{
	set_handler(6, on_probe_fault);
	set_handler(13, on_probe_fault);
	probe_user_fault(1, 13, "SYSRET at CPL 3 raises #GP(0)");
	probe_user_fault(2, 13, "SWAPGS at CPL 3 raises #GP(0)");
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~(uint64_t)EFER_SCE);
	probe_user_fault(0, 6, "SYSCALL with EFER.SCE clear raises #UD");
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	set_handler(6, NULL);
	set_handler(13, NULL);
}

/* ---- SYSRET with a non-canonical RCX ------------------------------------------- */
static volatile struct { unsigned hits; uint64_t vector, error, rip, cs; } gp;
static volatile uint64_t sysret_resume, sysret_rsp;
static uint8_t gp_stack[4096] __attribute__((aligned(16)));
extern const uint8_t sysret_nc_insn[], sysret_nc_resume[];

static void on_gp(struct irq_frame *f)
{
	gp.hits++;
	gp.vector = f->vector;
	gp.error = f->error;
	gp.rip = f->rip;
	gp.cs = f->cs;
	if (!sysret_resume) {
		printf("FAIL: #GP at rip %#lx cs %#lx with no probe armed\n",
		       (unsigned long)f->rip, (unsigned long)f->cs);
		exit_with(EXIT_UNEXPECTED_TRAP);
	}
	/* Back to ring 0 at the resume label, whichever ring faulted. */
	f->rip = sysret_resume;
	f->cs = SEL_CODE64;
	f->ss = SEL_DATA;
	f->rsp = sysret_rsp;
	f->rflags = 0x2;
	sysret_resume = 0;
}

/* SYSRET to a non-canonical RIP. Intel: #GP(0) at CPL 0, on the SYSRET
 * (the instruction does not complete). AMD: SYSRET completes and the
 * #GP(0) comes from CPL 3 at the non-canonical RIP (AMD has stated that
 * its check comes after the switch to CPL 3; QEMU's TCG with an AMD
 * vendor does the same). Either way ring 0 gets #GP(0) and can recover,
 * which is always checked; with the cmdline flag "sysret_vendor" the
 * rule of the CPUID vendor is checked as well. */
static void check_sysret_noncanonical(void)
{
	struct cpuid_regs v = cpuid(0, 0);
	int intel = v.ebx == 0x756e6547 && v.edx == 0x49656e69 && v.ecx == 0x6c65746e;
	int amd = v.ebx == 0x68747541 && v.edx == 0x69746e65 && v.ecx == 0x444d4163;
	const uint64_t bad = 0x8000000000001000ull;

	/* An AMD-style fault comes from ring 3 and switches to TSS.RSP0: give
	 * it a stack of its own (the runtime's value points into the stack
	 * this function runs on). */
	*(uint64_t *)((uint8_t *)this_cpu()->tss + 4) = (uint64_t)gp_stack + sizeof(gp_stack);
	set_handler(13, on_gp);
	gp.hits = 0;
	gp.rip = gp.cs = gp.error = gp.vector = ~0ull;
	__asm__ volatile(
		"lea sysret_nc_resume(%%rip), %%rax\n\t"
		"mov %%rax, %[res]\n\t"
		"mov %%rsp, %[rsp]\n\t"
		"mov %[bad], %%rcx\n\t"
		"mov $2, %%r11d\n\t"
		".globl sysret_nc_insn\n"
		"sysret_nc_insn: sysretq\n\t"
		".globl sysret_nc_resume\n"
		"sysret_nc_resume:\n\t"
		"mov $" "0x18" ", %%eax\n\t"
		"mov %%eax, %%ds\n\t"
		"mov %%eax, %%es\n\t"
		: [res] "=m"(sysret_resume), [rsp] "=m"(sysret_rsp)
		: [bad] "r"(bad)
		: "rax", "rcx", "r11", "memory");
	set_handler(13, NULL);

	int intel_style = gp.hits == 1 && gp.vector == 13 && gp.error == 0 &&
			  gp.rip == (uint64_t)sysret_nc_insn && gp.cs == SEL_CODE64;
	int amd_style = gp.hits == 1 && gp.vector == 13 && gp.error == 0 && gp.rip == bad &&
			gp.cs == (SEL_UCODE64 | 3);
	note("SYSRET to %#lx: %u #GP, error %#lx, rip %#lx, cs %#lx (%s); CPUID vendor %s", (unsigned long)bad,
	     gp.hits, (unsigned long)gp.error, (unsigned long)gp.rip, (unsigned long)gp.cs,
	     intel_style ? "Intel style: at CPL 0 on the SYSRET" :
	     amd_style ? "AMD style: from CPL 3 at the new RIP" : "neither",
	     intel ? "Intel" : amd ? "AMD" : "other");
	check(intel_style || amd_style, "SYSRET with a non-canonical RCX raises #GP(0), at CPL 0 on "
	      "the SYSRET or from CPL 3 at that RIP");
	if (!cmdline_flag("sysret_vendor"))
		return;
	if (intel)
		check(intel_style, "Intel vendor: the #GP(0) is raised at CPL 0 on the SYSRET");
	else if (amd)
		check(amd_style, "AMD vendor: the #GP(0) comes from CPL 3 at the non-canonical RIP");
	else
		note("vendor neither Intel nor AMD: no rule to check");
}

int guest_main(void)
{
	checks_begin("syscall", 0x90);

	if (cpuid(0x80000000, 0).eax < 0x80000001 || !(cpuid(0x80000001, 0).edx & (1u << 11))) {
		check(0, "CPUID 0x80000001:EDX[11] (SYSCALL) is set");
		return checks_end();
	}
	scb.cpu = this_cpu();
	scb.self = &scb;
	scb.kstack_top = (uint64_t)syscall_kstack + sizeof(syscall_kstack);
	wrmsr(MSR_STAR, ((uint64_t)STAR_USER << 48) | ((uint64_t)STAR_KERNEL << 32));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_CSTAR, 0);
	wrmsr(MSR_SFMASK, SFMASK_VALUE);
	wrmsr(MSR_KERNEL_GS_BASE, (uint64_t)&scb);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	check(rdmsr(MSR_STAR) == (((uint64_t)STAR_USER << 48) | ((uint64_t)STAR_KERNEL << 32)) &&
	      rdmsr(MSR_LSTAR) == (uint64_t)syscall_entry && rdmsr(MSR_SFMASK) == SFMASK_VALUE &&
	      rdmsr(MSR_KERNEL_GS_BASE) == (uint64_t)&scb && (rdmsr(MSR_EFER) & EFER_SCE),
	      "STAR, LSTAR, SFMASK, KERNEL_GS_BASE and EFER.SCE read back");

	uint64_t gs_user = rdmsr(MSR_GS_BASE);   /* the runtime's, kept in ring 3 */
	uint64_t sum = run_user(user_calls, NCALLS);
	check(kcalls == NCALLS, "%u SYSCALLs from CPL 3 reached the kernel (want %u)", kcalls, NCALLS);
	check(rdmsr(MSR_GS_BASE) == gs_user && rdmsr(MSR_KERNEL_GS_BASE) == (uint64_t)&scb,
	      "GS_BASE and KERNEL_GS_BASE as before after the round trips");

	unsigned bad_rcx = 0, bad_r11 = 0, bad_mask = 0, bad_kseg = 0, bad_rsp = 0, bad_gs = 0,
		 bad_args = 0, bad_ret = 0, bad_useg = 0, bad_flags = 0, bad_rsp_after = 0;
	uint64_t want_sum = 0;
	for (unsigned i = 0; i < NCALLS && i < kcalls; i++) {
		const struct krec *k = &krecs[i];
		const struct ucall *u = &ucalls[i];
		int first = 1;
#define BAD(counter, cond, ...) do { if (cond) { if (!(counter)++) note(__VA_ARGS__); first = 0; } } while (0)
		BAD(bad_rcx, k->rcx != u->ret_rip, "call %u: RCX %#lx, want the return RIP %#lx", i,
		    (unsigned long)k->rcx, (unsigned long)u->ret_rip);
		BAD(bad_r11, (k->r11 & FL_USER_MASK) != (u->rflags_before & FL_USER_MASK) ||
		    (k->r11 & FL_RF), "call %u: R11 %#lx, ring 3 had RFLAGS %#lx", i,
		    (unsigned long)k->r11, (unsigned long)u->rflags_before);
		BAD(bad_mask, k->rflags & (FL_IF | FL_DF | FL_AC | FL_TF | FL_NT),
		    "call %u: RFLAGS in the handler %#lx (IF, DF, AC, TF, NT must be clear)", i,
		    (unsigned long)k->rflags);
		BAD(bad_kseg, k->cs != STAR_KERNEL || k->ss != STAR_KERNEL + 8,
		    "call %u: handler CS %#lx SS %#lx, want %#x %#x", i, (unsigned long)k->cs,
		    (unsigned long)k->ss, STAR_KERNEL, STAR_KERNEL + 8);
		BAD(bad_rsp, k->user_rsp != u->rsp_before,
		    "call %u: RSP at the entry %#lx, ring 3 had %#lx", i,
		    (unsigned long)k->user_rsp, (unsigned long)u->rsp_before);
		BAD(bad_gs, k->gs_base != (uint64_t)&scb || k->kgs_base != gs_user ||
		    k->gs_self != (uint64_t)&scb || u->gs0_after != gs_user,
		    "call %u: after SWAPGS GS_BASE %#lx KERNEL_GS_BASE %#lx %%gs:8 %#lx; "
		    "%%gs:0 back in ring 3 %#lx", i, (unsigned long)k->gs_base,
		    (unsigned long)k->kgs_base, (unsigned long)k->gs_self, (unsigned long)u->gs0_after);
		int args_ok = k->nr == u->nr;
		for (unsigned a = 0; a < 6; a++)
			args_ok &= k->args[a] == u->args[a];
		BAD(bad_args, !args_ok, "call %u: number/arguments differ (nr %lu, a0 %#lx, a5 %#lx)",
		    i, (unsigned long)k->nr, (unsigned long)k->args[0], (unsigned long)k->args[5]);
		BAD(bad_ret, u->ret != k->ret, "call %u: RAX in ring 3 %#lx, the kernel returned %#lx",
		    i, (unsigned long)u->ret, (unsigned long)k->ret);
		BAD(bad_useg, u->cs_after != ((STAR_USER + 16) | 3) || u->ss_after != ((STAR_USER + 8) | 3),
		    "call %u: after SYSRET CS %#lx SS %#lx, want %#x %#x", i, (unsigned long)u->cs_after,
		    (unsigned long)u->ss_after, (STAR_USER + 16) | 3, (STAR_USER + 8) | 3);
		BAD(bad_flags, (u->rflags_after & FL_USER_MASK) != ((k->r11_out & FL_USER_MASK) | 2) ||
		    (u->rflags_after & FL_RF),
		    "call %u: RFLAGS after SYSRET %#lx, R11 was %#lx", i,
		    (unsigned long)u->rflags_after, (unsigned long)k->r11_out);
		BAD(bad_rsp_after, u->rsp_after != u->rsp_before,
		    "call %u: RSP after SYSRET %#lx, want %#lx", i, (unsigned long)u->rsp_after,
		    (unsigned long)u->rsp_before);
#undef BAD
		(void)first;
		want_sum += k->ret;
	}
	note("first call: RCX %#lx R11 %#lx, handler RFLAGS %#lx, ring-3 RFLAGS before %#lx after %#lx",
	     (unsigned long)krecs[0].rcx, (unsigned long)krecs[0].r11, (unsigned long)krecs[0].rflags,
	     (unsigned long)ucalls[0].rflags_before, (unsigned long)ucalls[0].rflags_after);
	check(!bad_rcx, "RCX = the return RIP after SYSCALL (%u bad)", bad_rcx);
	check(!bad_r11, "R11 = RFLAGS of ring 3 (arithmetic flags, DF, AC; RF clear) (%u bad)", bad_r11);
	check(!bad_mask, "SFMASK cleared IF, DF, AC (and TF, NT) in the handler (%u bad)", bad_mask);
	check(!bad_kseg, "handler runs with CS = STAR[47:32] (CPL 0), SS = +8 (%u bad)", bad_kseg);
	check(!bad_rsp, "SYSCALL left RSP alone (%u bad)", bad_rsp);
	check(!bad_gs, "SWAPGS exchanged GS_BASE and KERNEL_GS_BASE, and back (%u bad)", bad_gs);
	check(!bad_args, "number and six arguments arrived in RAX RDI RSI RDX R10 R8 R9 (%u bad)", bad_args);
	check(!bad_ret && sum == want_sum, "RAX in ring 3 = the kernel's result (%u bad; sum %#lx want %#lx)",
	      bad_ret, (unsigned long)sum, (unsigned long)want_sum);
	check(!bad_useg, "after SYSRET CS = STAR[63:48]+16 | 3, SS = STAR[63:48]+8 | 3 (%u bad)", bad_useg);
	check(!bad_flags, "SYSRET loaded RFLAGS from R11 (%u bad)", bad_flags);
	check(!bad_rsp_after, "RSP in ring 3 unchanged over the round trip (%u bad)", bad_rsp_after);

	check_compat();
	check_faults();
	check_sysret_noncanonical();
	return checks_end();
}
