/* lapic-timer: the local APIC timer in one-shot and periodic mode (with
 * two divide configurations) and, when CPUID.1:ECX[24] offers it, in
 * TSC-deadline mode. Waits with sti; hlt. */
#include "guest.h"

#define VEC_TIMER 0x40
#define MODE_MASK (3u << 17)

static volatile uint32_t ticks;
static volatile uint64_t tick_tsc[16];

static void timer_isr(struct irq_frame *f)
{
	(void)f;
	if (ticks < ARRAY_SIZE(tick_tsc))
		tick_tsc[ticks] = rdtsc();
	ticks++;
	lapic_eoi();
}

/* Wait for ticks to reach n with sti; hlt (the timer wakes us). */
static void wait_ticks(uint32_t n)
{
	while (ticks < n)
		sti_hlt();
	cli();
}

/* APIC timer counts per 2^20 TSC cycles at this divide value, from the
 * current-count register (no interrupts, so scheduling delays of the
 * host do not matter). */
static uint64_t apic_rate(uint32_t div)
{
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | LVT_MASKED | LVT_TIMER_ONESHOT);
	lapic_write(LAPIC_TIMER_DIV, div);
	lapic_write(LAPIC_TIMER_INIT, 0xFFFFFFFF);
	uint64_t t0 = rdtsc();
	uint32_t c0 = lapic_read(LAPIC_TIMER_CUR);
	delay_ms(2);
	uint32_t c1 = lapic_read(LAPIC_TIMER_CUR);
	uint64_t t1 = rdtsc();
	lapic_write(LAPIC_TIMER_INIT, 0);
	return t1 > t0 ? ((uint64_t)(c0 - c1) << 20) / (t1 - t0) : 0;
}

int guest_main(void)
{
	checks_begin("lapic-timer", 0x40);
	set_handler(VEC_TIMER, timer_isr);
	lapic_enable();
	uint32_t ver = lapic_read(LAPIC_VERSION);
	note("LAPIC id %u, version %#x, %u LVT entries", lapic_id(), ver & 0xFF, ((ver >> 16) & 0xFF) + 1);
	check((ver & 0xFF) >= 0x10 && (ver & 0xFF) <= 0x15, "integrated xAPIC version (%#x)", ver & 0xFF);
	check(rdmsr(MSR_APIC_BASE) & (1u << 11), "APIC enabled in IA32_APIC_BASE (%#lx)",
	      (unsigned long)rdmsr(MSR_APIC_BASE));

	/* One-shot, divide by 16: counts down, fires once, stops at 0. */
	const uint32_t count = 1000000;   /* 16 ms at a 1 GHz APIC clock */
	ticks = 0;
	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | LVT_TIMER_ONESHOT);
	check(lapic_read(LAPIC_TIMER_DIV) == 0x3 &&
	      lapic_read(LAPIC_LVT_TIMER) == (VEC_TIMER | LVT_TIMER_ONESHOT),
	      "divide configuration and LVT timer read back");
	uint64_t t0 = rdtsc();
	lapic_write(LAPIC_TIMER_INIT, count);
	uint32_t c1 = lapic_read(LAPIC_TIMER_CUR);
	for (int i = 0; i < 50; i++)
		cpu_relax();
	uint32_t c2 = lapic_read(LAPIC_TIMER_CUR);
	check(c1 <= count && c2 < c1, "current count counts down (%u, then %u)", c1, c2);
	check(lapic_read(LAPIC_TIMER_INIT) == count, "initial count reads back");
	wait_ticks(1);
	uint64_t t16 = tick_tsc[0] - t0;
	check(ticks == 1, "one-shot fired");
	check(lapic_read(LAPIC_TIMER_CUR) == 0, "current count is 0 after the one-shot (%u)",
	      lapic_read(LAPIC_TIMER_CUR));
	delay_ms(20);
	check(ticks == 1, "one-shot fired only once (%u)", ticks);

	/* Divide by 1 counts about 16 times faster than divide by 16. */
	uint64_t r16 = apic_rate(0x3), r1 = apic_rate(0xB);
	note("one-shot of %u at divide 16: %lu TSC cycles; APIC counts per 2^20 TSC cycles: "
	     "%lu at divide 16, %lu at divide 1", count, (unsigned long)t16, (unsigned long)r16,
	     (unsigned long)r1);
	check(r16 && r1 / r16 >= 8 && r1 / r16 <= 32,
	      "divide by 1 counts about 16 times faster than divide by 16 (ratio %lu)",
	      (unsigned long)(r16 ? r1 / r16 : 0));

	/* Periodic: at least 8 interrupts, the count reloads. */
	ticks = 0;
	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | LVT_TIMER_PERIODIC);
	lapic_write(LAPIC_TIMER_INIT, count / 2);
	wait_ticks(8);
	uint32_t cur = lapic_read(LAPIC_TIMER_CUR);
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | LVT_MASKED);
	lapic_write(LAPIC_TIMER_INIT, 0);
	uint64_t period = (tick_tsc[7] - tick_tsc[1]) / 6;
	note("periodic: %u interrupts, about %lu TSC cycles apart", ticks, (unsigned long)period);
	check(ticks >= 8, "periodic mode delivered 8 interrupts");
	check(cur > 0 && cur <= count / 2, "periodic count reloads (current %u)", cur);
	/* Not faster than programmed; slower is allowed (a loaded host may
	 * coalesce ticks while the vCPU does not run). */
	uint64_t programmed = r16 ? ((uint64_t)(count / 2) << 20) / r16 : 0;
	check(period >= programmed / 2,
	      "periodic interval %lu TSC cycles is not shorter than programmed (%lu)",
	      (unsigned long)period, (unsigned long)programmed);
	uint32_t before = ticks;
	delay_ms(20);
	check(ticks == before, "masked and stopped timer stays quiet");

	/* TSC-deadline */
	if (cpuid(1, 0).ecx & (1u << 24)) {
		int good = 0;
		ticks = 0;
		lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | LVT_TIMER_TSC_DEADLINE);
		for (int i = 0; i < 3; i++) {
			uint32_t n = ticks;
			uint64_t deadline = rdtsc() + 20000000;   /* a few ms */
			wrmsr(MSR_TSC_DEADLINE, deadline);
			wait_ticks(n + 1);
			good += tick_tsc[n] >= deadline && rdmsr(MSR_TSC_DEADLINE) == 0;
		}
		check(good == 3, "TSC-deadline mode: 3 interrupts, each at or after its deadline, "
		      "IA32_TSC_DEADLINE cleared (%d of 3)", good);
		lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | LVT_MASKED);
	} else {
		note("TSC-deadline mode not offered (CPUID.1:ECX[24] clear): skipped");
	}
	return checks_end();
}
