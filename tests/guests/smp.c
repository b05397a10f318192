/* smp: find the CPUs (fw_cfg count, cross-checked with the MP table),
 * start every AP with INIT-SIPI-SIPI, let each say "AP <apic id> up" and
 * count itself in with lock incl; then all CPUs hammer shared counters,
 * a little at CPL 0 and a lot at CPL 3, and the totals must add up.
 * Command line: "cpus=N" (the --cpus given; default 4), and
 * "mptable_unreliable" to only report the MP table cross-check (QEMU with
 * SeaBIOS may list only the BSP). */
#include "guest.h"

#define VEC_GO   0x50
#define CPL0_INCS 1000ul
#define CPL3_INCS 200000ul

static volatile uint32_t online = 1, done, go;
static volatile uint32_t counter0, counter3;

static void lock_incl(volatile uint32_t *p)
{
	__asm__ volatile("lock incl %0" : "+m"(*p) :: "memory");
}

static uint64_t user_incs(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		lock_incl(&counter3);
	return n;
}

static void work(void)
{
	for (unsigned long i = 0; i < CPL0_INCS; i++)
		lock_incl(&counter0);
	run_user(user_incs, CPL3_INCS);
}

static void go_isr(struct irq_frame *f)
{
	(void)f;
	lapic_eoi();
}

static void ap_main(struct cpu *c)
{
	printf("AP %u up (cpu %u)\n", c->apic_id, c->index);
	lock_incl(&online);
	while (!go)
		sti_hlt();     /* woken by the BSP's IPI */
	cli();
	work();
	lock_incl(&done);
}

int guest_main(void)
{
	uint8_t ids[MAX_CPUS];
	uint16_t nfw = 0;
	uint64_t want = cmdline_u64("cpus", 4);

	checks_begin("smp", 0x60);
	set_handler(VEC_GO, go_isr);
	lapic_enable();
	uint32_t bsp = lapic_id();

	if (check(fw_cfg_present(), "fw_cfg present"))
		fw_cfg_read(FW_CFG_NB_CPUS, &nfw, 2);
	check(nfw == want, "fw_cfg CPU count is %lu (got %u)", (unsigned long)want, nfw);
	int nmp = mptable_cpus(ids, MAX_CPUS);
	if (cmdline_flag("mptable_unreliable"))   /* e.g. SeaBIOS under QEMU TCG lists only the BSP */
		note("MP table lists %d enabled processors (not checked)", nmp);
	else
		check(nmp == nfw, "MP table lists %d enabled processors, as many as fw_cfg", nmp);
	if (nmp != nfw) {
		/* go on with the documented APIC ids 0..N-1 */
		nmp = nfw < MAX_CPUS ? nfw : MAX_CPUS;
		for (int i = 0; i < nmp; i++)
			ids[i] = (uint8_t)i;
		note("using APIC ids 0..%d", nmp - 1);
	}
	if (nmp < 1)
		return checks_end();
	int bsp_listed = 0;
	for (int i = 0; i < nmp; i++)
		bsp_listed |= ids[i] == bsp;
	check(bsp_listed, "the BSP (APIC id %u) is among the processors", bsp);

	unsigned started = 0;
	for (int i = 0; i < nmp; i++) {
		if (ids[i] == bsp)
			continue;
		int r = smp_start_ap(ids[i], ap_main, 3000);
		check(r == 0, "AP with APIC id %u started with INIT-SIPI-SIPI", ids[i]);
		started += r == 0;
	}
	uint64_t until = tsc_deadline_ms(3000);
	while (online < started + 1 && rdtsc() < until)
		cpu_relax();
	printf("SMP: %u CPUs online\n", online);
	check(online == (uint32_t)nmp, "all %d CPUs online", nmp);

	/* all together now */
	go = 1;
	lapic_send_ipi(0, 0x000C0000 | VEC_GO);   /* fixed, all excluding self */
	work();
	until = tsc_deadline_ms(10000);
	while (done < started && rdtsc() < until)
		cpu_relax();
	check(done == started, "every AP finished its share (%u of %u)", done, started);
	check(counter0 == online * CPL0_INCS, "CPL-0 lock incl total %u = %u CPUs x %lu",
	      counter0, online, CPL0_INCS);
	check(counter3 == online * CPL3_INCS, "CPL-3 lock incl total %u = %u CPUs x %lu",
	      counter3, online, CPL3_INCS);
	return checks_end();
}
