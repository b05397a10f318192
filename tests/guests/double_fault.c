/* double-fault: exceptions raised while the processor delivers another
 * one, combined by the rules of SDM vol. 3 table 6-5 (benign,
 * contributory, page fault), and #DF delivered on its IST stack.
 *
 * An exception raised in a handler's body, once delivery is complete, is
 * an ordinary new exception; only a fault while delivering (reading the
 * gate, pushing the frame) combines with the first one. So the "nested"
 * cases below make delivery itself fail: a gate marked not present (#NP
 * with the IDT error code) or an unmapped stack (#PF).
 *   1. #UD in the body of a #PF handler: delivered normally, no #DF.
 *   2. benign + contributory: #UD whose gate is not present -> #NP(0x33),
 *      handled serially.
 *   3. contributory + page fault: #DE with RSP on an unmapped page -> #PF
 *      (CR2 on that page; its own gate has an IST stack), handled serially.
 *   4. contributory + contributory: #DE whose gate is not present -> #NP
 *      -> #DF(0) on the IST stack; the #DF handler resumes the test.
 *   5. page fault + contributory: #PF whose gate is not present -> #DF.
 *   6. page fault + page fault, at CPL 0: a #PF with RSP on an unmapped
 *      page -> #DF.
 *   7. page fault + page fault from CPL 3: TSS.RSP0 on an unmapped page,
 *      a #PF at CPL 3 -> #DF (ring 3 first takes an int3 whose handler
 *      sets the bad RSP0).
 * Cases 2 and 3 (the combinations that must NOT give #DF) run only with
 * the cmdline flag "serial": the PVM flavour of KVM delivers events in
 * software and turns any fault during delivery into #DF. The #DF handler ends the guest from there,
 *      with the verdict. */
#include "guest.h"

#define BAD_STACK_PAGE 0xA00000ull          /* not present */
#define BAD_STACK_TOP  (BAD_STACK_PAGE + 0x1000)
#define UNMAPPED       0xA01000ull          /* not present */
#define PF_IST_STACK_SIZE 4096

struct idt_gate {
	uint16_t offset_lo, selector;
	uint8_t ist, type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi, reserved;
};

static struct idt_gate *idt;
static uint8_t pf_ist_stack[PF_IST_STACK_SIZE] __attribute__((aligned(16)));

/* What the handlers saw, in order. */
struct event { uint64_t vector, error, rip, cs, rsp, cr2, frame; };
static volatile struct event log[8];
static volatile unsigned nlog;
/* Where a handler that cannot return to the faulting code resumes. */
static volatile uint64_t resume_rip, resume_rsp;
static volatile int case_no;

static void record(struct irq_frame *f)
{
	if (nlog < ARRAY_SIZE(log)) {
		volatile struct event *e = &log[nlog];
		e->vector = f->vector;
		e->error = f->error;
		e->rip = f->rip;
		e->cs = f->cs;
		e->rsp = f->rsp;
		e->cr2 = read_cr2();
		e->frame = (uint64_t)f;
	}
	nlog++;
}

static void reset_log(int n)
{
	nlog = 0;
	case_no = n;
	for (unsigned i = 0; i < ARRAY_SIZE(log); i++)
		log[i].vector = ~0ull;
}

static void gate_present(unsigned v, int present)
{
	if (present)
		idt[v].type_attr |= 0x80;
	else
		idt[v].type_attr &= 0x7f;
}

/* Back to the test code at resume_rip on its stack, at CPL 0. */
static void resume(struct irq_frame *f)
{
	if (!resume_rip) {
		printf("FAIL: vector %lu in case %d with nowhere to resume\n", (unsigned long)f->vector, case_no);
		exit_with(EXIT_UNEXPECTED_TRAP);
	}
	f->rip = resume_rip;
	f->rsp = resume_rsp;
	f->cs = SEL_CODE64;
	f->ss = SEL_DATA;
	f->rflags = 0x2;
	resume_rip = 0;
}

static uint64_t tss_ist(unsigned n)
{
	return *(uint64_t *)((uint8_t *)this_cpu()->tss + 36 + 8 * (n - 1));
}

static void set_tss_ist(unsigned n, uint64_t v)
{
	*(uint64_t *)((uint8_t *)this_cpu()->tss + 36 + 8 * (n - 1)) = v;
}

static void set_tss_rsp0(uint64_t v)
{
	*(uint64_t *)((uint8_t *)this_cpu()->tss + 4) = v;
}

static int on_ist1(uint64_t frame)
{
	uint64_t top = tss_ist(1);
	return frame < top && frame >= top - ISTACK_SIZE;
}

static void final_verdict(void);

/* ---- handlers ---------------------------------------------------------------- */
static volatile unsigned ud_in_pf;

static void on_pf(struct irq_frame *f)
{
	record(f);
	switch (case_no) {
	case 1:
		/* a #UD in the body of the #PF handler */
		__asm__ volatile("ud2");
		ud_in_pf = nlog;
		f->rip += 3;   /* mov (%rax), %rax */
		return;
	case 3:
		resume(f);
		return;
	default:
		printf("FAIL: #PF in case %d, rip %#lx, cr2 %#lx, error %#lx\n", case_no,
		       (unsigned long)f->rip, (unsigned long)read_cr2(), (unsigned long)f->error);
		exit_with(EXIT_UNEXPECTED_TRAP);
	}
}

static void on_ud(struct irq_frame *f)
{
	record(f);
	f->rip += 2;   /* ud2 */
}

static void on_np(struct irq_frame *f)
{
	record(f);
	if (case_no == 2) {
		gate_present(6, 1);
		f->rip += 2;   /* the ud2 whose gate was not present */
		return;
	}
	printf("FAIL: #NP delivered in case %d (error %#lx), expected a #DF\n", case_no,
	       (unsigned long)f->error);
	exit_with(EXIT_UNEXPECTED_TRAP);
}

static void on_df(struct irq_frame *f)
{
	record(f);
	if (case_no == 7) {
		final_verdict();   /* does not return */
	}
	resume(f);
}

/* ---- the cases ---------------------------------------------------------------- */
/* Arm resume_rip/resume_rsp with label 1 and the current RSP. */
#define ARM "lea 1f(%%rip), %%r11\n\tmov %%r11, %[rip]\n\tmov %%rsp, %[rsp]\n\t"
#define ARM_OPS [rip] "=m"(resume_rip), [rsp] "=m"(resume_rsp)

static int expect_log(unsigned n, const uint64_t *vectors)
{
	if (nlog != n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		if (log[i].vector != vectors[i])
			return 0;
	return 1;
}

static void show_log(void)
{
	for (unsigned i = 0; i < nlog && i < ARRAY_SIZE(log); i++)
		note("  #%u: vector %lu error %#lx rip %#lx cs %#lx rsp %#lx cr2 %#lx", i,
		     (unsigned long)log[i].vector, (unsigned long)log[i].error, (unsigned long)log[i].rip,
		     (unsigned long)log[i].cs, (unsigned long)log[i].rsp, (unsigned long)log[i].cr2);
}

static void case1_ud_in_pf_handler(void)
{
	uint64_t rip;
	reset_log(1);
	ud_in_pf = 0;
	__asm__ volatile("lea 2f(%%rip), %[r]\n\t"
			 "2: mov (%%rax), %%rax\n\t"
			 : [r] "=&r"(rip) : "a"(UNMAPPED + 8) : "memory");
	static const uint64_t want[] = { 14, 6 };
	int ok = expect_log(2, want) && ud_in_pf == 2 && log[0].rip == rip &&
		 log[0].cr2 == UNMAPPED + 8 && log[0].error == 0;
	if (!ok)
		show_log();
	check(ok, "1. #UD in the body of a #PF handler: #PF then #UD, both handled, no #DF");
}

static void case2_benign_contributory(void)
{
	uint64_t rip;
	reset_log(2);
	gate_present(6, 0);
	__asm__ volatile(ARM
			 "lea 2f(%%rip), %%r11\n\t"
			 "mov %%r11, %[r]\n\t"
			 "2: ud2\n\t"
			 "1:\n\t"
			 : ARM_OPS, [r] "=m"(rip) :: "r11", "memory");
	gate_present(6, 1);
	resume_rip = 0;
	static const uint64_t want[] = { 11 };
	/* Error code: index 6, IDT. EXT is set by Intel's rule (delivering
	 * an earlier exception); AMD describes EXT as an external source, so
	 * either is accepted. */
	int ok = expect_log(1, want) && (log[0].error & ~1ull) == ((6 << 3) | 2) && log[0].rip == rip;
	show_log();
	check(ok, "2. #UD with its gate not present: #NP(0x32 = vector 6, IDT; EXT may be set) at "
	      "the ud2, handled serially (benign + contributory)");
}

static void case3_contributory_pf(void)
{
	uint64_t rip;
	reset_log(3);
	idt[14].ist = 2;
	set_tss_ist(2, (uint64_t)pf_ist_stack + sizeof(pf_ist_stack));
	__asm__ volatile(ARM
			 "xor %%edx, %%edx\n\t"
			 "xor %%ecx, %%ecx\n\t"
			 "mov $1, %%eax\n\t"
			 "lea 2f(%%rip), %%r11\n\t"
			 "mov %%r11, %%r8\n\t"
			 "mov %[bad], %%rsp\n\t"
			 "2: divl %%ecx\n\t"
			 "1:\n\t"
			 "mov %%r8, %[r]\n\t"
			 : ARM_OPS, [r] "=m"(rip)
			 : [bad] "i"(BAD_STACK_TOP)
			 : "rax", "rcx", "rdx", "r8", "r11", "memory");
	idt[14].ist = 0;
	static const uint64_t want[] = { 14 };
	uint64_t frame = log[0].frame;
	int ok = expect_log(1, want) && log[0].error == 2 && log[0].rip == rip &&
		 log[0].rsp == BAD_STACK_TOP && log[0].cr2 >= BAD_STACK_PAGE &&
		 log[0].cr2 < BAD_STACK_TOP &&
		 frame >= (uint64_t)pf_ist_stack && frame < (uint64_t)pf_ist_stack + sizeof(pf_ist_stack);
	show_log();
	check(ok, "3. #DE with RSP on an unmapped page: #PF(W) on the stack page at the div, "
	      "on its IST stack, handled serially (contributory + page fault)");
}

static void case4_contributory_contributory(void)
{
	reset_log(4);
	gate_present(0, 0);
	__asm__ volatile(ARM
			 "xor %%edx, %%edx\n\t"
			 "xor %%ecx, %%ecx\n\t"
			 "mov $1, %%eax\n\t"
			 "divl %%ecx\n\t"
			 "1:\n\t"
			 : ARM_OPS :: "rax", "rcx", "rdx", "r11", "memory");
	gate_present(0, 1);
	static const uint64_t want[] = { 8 };
	int ok = expect_log(1, want) && log[0].error == 0 && on_ist1(log[0].frame);
	show_log();
	check(ok, "4. #DE with its gate not present: #NP -> #DF(0) on the IST stack "
	      "(contributory + contributory)");
}

static void case5_pf_contributory(void)
{
	reset_log(5);
	gate_present(14, 0);
	__asm__ volatile(ARM
			 "mov (%%rax), %%rax\n\t"
			 "1:\n\t"
			 : ARM_OPS : "a"(UNMAPPED + 16) : "r11", "memory");
	gate_present(14, 1);
	static const uint64_t want[] = { 8 };
	int ok = expect_log(1, want) && log[0].error == 0 && on_ist1(log[0].frame);
	show_log();
	check(ok, "5. #PF with its gate not present: #NP -> #DF(0) on the IST stack "
	      "(page fault + contributory)");
}

static void case6_pf_pf(void)
{
	reset_log(6);
	__asm__ volatile(ARM
			 "mov %[bad], %%rsp\n\t"
			 "mov (%%rax), %%rax\n\t"
			 "1:\n\t"
			 : ARM_OPS : "a"(UNMAPPED + 24), [bad] "i"(BAD_STACK_TOP) : "r11", "memory");
	static const uint64_t want[] = { 8 };
	int ok = expect_log(1, want) && log[0].error == 0 && on_ist1(log[0].frame);
	show_log();
	check(ok, "6. #PF at CPL 0 with RSP on an unmapped page: the frame push faults -> #DF(0) "
	      "on the IST stack (page fault + page fault)");
}

/* run_user() sets TSS.RSP0 itself on the way to ring 3: ring 3 asks for
 * the bad one with int3, whose handler installs it. */
static void on_bp(struct irq_frame *f)
{
	(void)f;
	set_tss_rsp0(BAD_STACK_TOP);
}

static uint64_t user_touch(uint64_t addr)
{
	__asm__ volatile("int3" ::: "memory");
	return *(volatile uint64_t *)addr;
}

static void case7_pf_pf_user(void)
{
	reset_log(7);
	note("7. #PF at CPL 3 with TSS.RSP0 on an unmapped page: expect #DF(0) on the IST stack, "
	     "whose handler gives the verdict");
	set_handler(3, on_bp);
	run_user(user_touch, UNMAPPED + 32);
	check(0, "7. the #PF at CPL 3 with a bad RSP0 came back to ring 0 without a #DF");
	show_log();
	exit_with((uint32_t)checks_end());
}

static void final_verdict(void)
{
	static const uint64_t want[] = { 8 };
	int ok = expect_log(1, want) && log[0].error == 0 && on_ist1(log[0].frame);
	show_log();
	check(ok, "7. #PF at CPL 3 with TSS.RSP0 on an unmapped page -> #DF(0) on the IST stack "
	      "(page fault + page fault, delivered through the privilege change)");
	exit_with((uint32_t)checks_end());
}

int guest_main(void)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr;

	checks_begin("double-fault", 0xA0);
	__asm__ volatile("sidt %0" : "=m"(idtr));
	idt = (struct idt_gate *)idtr.base;
	check(idt[8].ist == 1 && (idt[8].type_attr & 0x80), "the #DF gate uses IST 1 (stack top %#lx)",
	      (unsigned long)tss_ist(1));

	*pte_4k(BAD_STACK_PAGE) = 0;
	*pte_4k(UNMAPPED) = 0;
	write_cr3(read_cr3());

	set_handler(6, on_ud);
	set_handler(8, on_df);
	set_handler(11, on_np);
	set_handler(14, on_pf);

	case1_ud_in_pf_handler();
	if (cmdline_flag("serial")) {
		case2_benign_contributory();
		case3_contributory_pf();
	} else {
		note("2. and 3. (faults during delivery handled serially) skipped: cmdline flag serial");
	}
	case4_contributory_contributory();
	case5_pf_contributory();
	case6_pf_pf();
	case7_pf_pf_user();
	return checks_end();
}
