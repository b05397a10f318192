/* timebase: do the TSC, the local APIC timer and the PIT agree on the
 * passage of time? (lapic-timer checks the timer's modes; this checks its
 * rate against the other clocks.)
 *   - reports the TSC frequency the CPU states, and where: CPUID 0x15
 *     (TSC/crystal ratio and crystal clock), 0x16 (base MHz), hypervisor
 *     leaf 0x40000010 (TSC and APIC bus kHz); "none" is fine;
 *   - measures the TSC and the APIC timer (divide by 1) over two windows
 *     timed by PIT channel 2 (1.193182 MHz, its count read back with the
 *     latch command): each clock must see the long window about 4 times
 *     the short one, and the TSC-to-APIC ratio must be the same in both
 *     (+-50%);
 *   - a stated TSC frequency (and a stated crystal / APIC bus rate, which
 *     the APIC timer counts) must match the measurement within +-50%;
 *   - a one-shot APIC timer interrupt of 20 ms (by the measured APIC rate)
 *     arrives after 20 ms by the TSC (by the measured TSC rate), +-50%;
 *   - with the cmdline flag "port61", port 0x61 as Linux's PIT calibration
 *     uses it: gate/speaker bits read back, the refresh bit toggles, OUT2
 *     low after a mode-0 count is written and high 5 ms later. */
#include <stdbool.h>

#include "guest.h"

#define PIT_HZ 1193182ull
#define VEC_TIMER 0x41
/* Tries of a timed window before one that no descheduling spoiled is
 * given up on: each is at most 40 ms. */
#define CLEAN_TRIES 20

struct sample { uint64_t tsc, apic, ns; bool disturbed; };

/* Channel 2's current count (counter latch command). */
static uint16_t pit2_count(void)
{
	outb(0x43, 0x80);
	uint8_t lo = inb(0x42);
	return (uint16_t)(lo | (inb(0x42) << 8));
}

/* The PIT count and the APIC timer's current count read together, and
 * the TSC at their middle. A read pair that took longer than 1 ms was
 * interrupted (the host took the vCPU away): *slow says so. */
static uint16_t read_clocks(uint32_t *apic, uint64_t *tsc, bool *slow)
{
	uint64_t before = rdtsc();
	uint16_t p = pit2_count();

	*apic = lapic_read(LAPIC_TIMER_CUR);
	uint64_t after = rdtsc();
	*tsc = before + (after - before) / 2;
	if (after - before > TSC_PER_MS)
		*slow = true;
	return p;
}

/* One window of at least n PIT ticks on channel 2 (mode 0 from 0xffff,
 * gate on through port 0x61, the count read back with the latch
 * command): TSC cycles and APIC timer counts (divide 1) over exactly the
 * PIT ticks counted. */
static struct sample pit_window(uint16_t n)
{
	struct sample s = { 0 };
	uint8_t b = inb(0x61);
	outb(0x61, (b & ~0x02) | 0x01);         /* gate 2 on, speaker off */
	outb(0x43, 0xB0);                       /* channel 2, lobyte/hibyte, mode 0 */
	outb(0x42, 0xFF);
	outb(0x42, 0xFF);
	lapic_write(LAPIC_TIMER_DIV, 0xB);      /* divide by 1 */
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | LVT_MASKED | LVT_TIMER_ONESHOT);
	lapic_write(LAPIC_TIMER_INIT, 0xFFFFFFFF);
	/* the count is loaded on the first clock after the write */
	uint64_t limit = rdtsc() + 2000 * TSC_PER_MS;   /* 2 s at most */
	uint32_t c0, c1;
	uint64_t t0, t1;
	bool slow = false;
	uint16_t p0 = read_clocks(&c0, &t0, &slow), p;
	while (p0 == 0xFFFF && rdtsc() < limit) {
		slow = false;
		p0 = read_clocks(&c0, &t0, &slow);
	}
	s.disturbed = slow;
	do {
		slow = false;
		p = read_clocks(&c1, &t1, &slow);
	} while ((uint16_t)(p0 - p) < n && rdtsc() < limit);
	s.disturbed |= slow;
	lapic_write(LAPIC_TIMER_INIT, 0);
	outb(0x61, b & ~0x03);
	s.tsc = t1 - t0;
	s.apic = (uint64_t)(c0 - c1);
	s.ns = (uint64_t)(uint16_t)(p0 - p) * 1000000000ull / PIT_HZ;
	return s;
}

/* A window no interruption of the vCPU spoiled (of CLEAN_TRIES tries; a
 * busy host may take the vCPU away between reading one clock and the
 * next, and on a shared two-core machine it does so often). */
static struct sample clean_window(uint16_t n)
{
	struct sample s = pit_window(n);

	for (int i = 1; i < CLEAN_TRIES && s.disturbed; i++)
		s = pit_window(n);
	return s;
}

/* Port 0x61 (system control port B): gate and speaker bits read back,
 * the refresh bit toggles, OUT2 goes high when channel 2 reaches 0 in
 * mode 0 (how Linux calibrates the TSC). Returns the TSC cycles until
 * OUT2 rose for a 5 ms count, 0 if it never did. */
static uint64_t check_port61(void)
{
	uint8_t b = inb(0x61);
	outb(0x61, (b & ~0x03) | 0x01);
	uint8_t g1 = inb(0x61);
	outb(0x61, (b & ~0x03) | 0x02);
	uint8_t g2 = inb(0x61);
	check((g1 & 3) == 1 && (g2 & 3) == 2, "port 0x61 reads back gate 2 and speaker data (%#x, %#x)",
	      g1, g2);
	uint8_t r0 = inb(0x61) & 0x10;
	int toggled = 0;
	uint64_t until = tsc_deadline_ms(2);
	while (!toggled && rdtsc() < until)
		toggled = (inb(0x61) & 0x10) != r0;
	check(toggled, "port 0x61 bit 4 (refresh) toggles");

	/* A busy host may take the vCPU away while it polls, which makes OUT2
	 * seem late: a try in which one poll took over 1 ms is done again
	 * (CLEAN_TRIES tries at most; the shortest counts). */
	uint64_t best = 0;
	uint8_t first = 0;
	int rose = 1;
	for (int i = 0; i < CLEAN_TRIES && rose; i++) {
		bool slow = false;

		outb(0x61, (b & ~0x02) | 0x01);
		outb(0x43, 0xB0);
		outb(0x42, (uint8_t)5966);
		outb(0x42, (uint8_t)(5966 >> 8));       /* 5 ms */
		uint64_t t0 = rdtsc();
		first |= inb(0x61);
		uint64_t limit = t0 + 1000 * TSC_PER_MS, t1 = rdtsc(), prev;
		do {
			prev = t1;
			rose = (inb(0x61) & 0x20) != 0;
			t1 = rdtsc();
			if (t1 - prev > TSC_PER_MS)
				slow = true;
		} while (!rose && t1 < limit);
		outb(0x61, b & ~0x03);
		if (rose && (!best || t1 - t0 < best))
			best = t1 - t0;
		if (!slow)
			break;
	}
	check(!(first & 0x20) && rose, "port 0x61 OUT2: low after the count is written (%#x), high "
	      "once channel 2 reaches 0", first);
	return rose ? best : 0;
}

static uint64_t per_second(uint64_t count, uint64_t ns)
{
	return ns ? count * 1000000000ull / ns : 0;   /* count < 2^34: no overflow */
}

/* a within +-50% of b */
static int near(uint64_t a, uint64_t b)
{
	return b && 2 * a >= b && 2 * a <= 3 * b;
}

static volatile uint32_t ticks;
static volatile uint64_t tick_tsc;
static void timer_isr(struct irq_frame *f)
{
	(void)f;
	tick_tsc = rdtsc();
	ticks++;
	lapic_eoi();
}

int guest_main(void)
{
	uint64_t stated_tsc = 0, stated_apic = 0;
	const char *tsc_src = "none", *apic_src = "none";

	checks_begin("timebase", 0xE0);
	set_handler(VEC_TIMER, timer_isr);
	lapic_enable();

	/* what the CPU states */
	uint32_t max = cpuid(0, 0).eax;
	if (max >= 0x15) {
		struct cpuid_regs r = cpuid(0x15, 0);
		note("CPUID 0x15: EAX %u EBX %u ECX %u", r.eax, r.ebx, r.ecx);
		if (r.eax && r.ebx && r.ecx) {
			stated_tsc = (uint64_t)r.ecx * r.ebx / r.eax;
			tsc_src = "CPUID 0x15 (crystal x EBX/EAX)";
		}
		if (r.ecx) {
			/* the core crystal clock is what the APIC timer counts */
			stated_apic = r.ecx;
			apic_src = "CPUID 0x15 ECX (crystal)";
		}
	}
	if (max >= 0x16 && !stated_tsc) {
		struct cpuid_regs r = cpuid(0x16, 0);
		note("CPUID 0x16: base %u MHz, max %u MHz, bus %u MHz", r.eax, r.ebx, r.ecx);
		if (r.eax) {
			stated_tsc = (uint64_t)r.eax * 1000000;
			tsc_src = "CPUID 0x16 (base MHz)";
		}
	}
	if (cpuid(1, 0).ecx & (1u << 31)) {
		struct cpuid_regs hv = cpuid(0x40000000, 0);
		char sig[13];
		memcpy(sig, &hv.ebx, 4);
		memcpy(sig + 4, &hv.ecx, 4);
		memcpy(sig + 8, &hv.edx, 4);
		sig[12] = 0;
		note("hypervisor \"%s\", leaves up to %#x", sig, hv.eax);
		if (hv.eax >= 0x40000010) {
			struct cpuid_regs r = cpuid(0x40000010, 0);
			note("CPUID 0x40000010: TSC %u kHz, APIC bus %u kHz", r.eax, r.ebx);
			if (r.eax && !stated_tsc) {
				stated_tsc = (uint64_t)r.eax * 1000;
				tsc_src = "CPUID 0x40000010 EAX (kHz)";
			}
			if (r.ebx && !stated_apic) {
				stated_apic = (uint64_t)r.ebx * 1000;
				apic_src = "CPUID 0x40000010 EBX (kHz)";
			}
		}
	}
	printf("  .. TSC frequency stated by %s: %lu Hz\n", tsc_src, (unsigned long)stated_tsc);
	printf("  .. APIC timer rate stated by %s: %lu Hz\n", apic_src, (unsigned long)stated_apic);

	/* measured against the PIT: 10 ms and 40 ms windows */
	struct sample s1 = clean_window(11932), s4 = clean_window(47727);
	uint64_t tsc_hz = per_second(s4.tsc, s4.ns), apic_hz = per_second(s4.apic, s4.ns);
	note("PIT %lu ns: TSC %lu, APIC %lu; PIT %lu ns: TSC %lu, APIC %lu", (unsigned long)s1.ns,
	     (unsigned long)s1.tsc, (unsigned long)s1.apic, (unsigned long)s4.ns, (unsigned long)s4.tsc,
	     (unsigned long)s4.apic);
	printf("  .. measured: TSC %lu Hz, APIC timer %lu Hz (divide 1)\n", (unsigned long)tsc_hz,
	       (unsigned long)apic_hz);
	check(s1.tsc && s1.apic && s4.tsc && s4.apic, "TSC and APIC timer both advanced during the PIT windows");
	check(near(s4.tsc, 4 * s1.tsc), "TSC: the 40 ms PIT window is about 4 of the 10 ms one (%lu / %lu)",
	      (unsigned long)s4.tsc, (unsigned long)s1.tsc);
	check(near(s4.apic, 4 * s1.apic), "APIC timer: the 40 ms PIT window is about 4 of the 10 ms one "
	      "(%lu / %lu)", (unsigned long)s4.apic, (unsigned long)s1.apic);
	uint64_t ratio1 = s1.apic ? (s1.tsc << 10) / s1.apic : 0, ratio4 = s4.apic ? (s4.tsc << 10) / s4.apic : 0;
	check(near(ratio4, ratio1), "TSC and APIC timer agree: TSC/APIC ratio %lu.%03lu and %lu.%03lu",
	      (unsigned long)(ratio1 >> 10), (unsigned long)((ratio1 & 1023) * 1000 >> 10),
	      (unsigned long)(ratio4 >> 10), (unsigned long)((ratio4 & 1023) * 1000 >> 10));
	if (stated_tsc)
		check(near(tsc_hz, stated_tsc), "measured TSC %lu Hz matches the stated %lu Hz",
		      (unsigned long)tsc_hz, (unsigned long)stated_tsc);
	if (stated_apic)
		check(near(apic_hz, stated_apic), "measured APIC timer %lu Hz matches the stated %lu Hz",
		      (unsigned long)apic_hz, (unsigned long)stated_apic);

	if (cmdline_flag("port61")) {
		uint64_t out2 = check_port61();
		check(near(out2, tsc_hz / 200), "OUT2 rose after %lu TSC cycles, 5 ms by the measured "
		      "TSC rate (%lu)", (unsigned long)out2, (unsigned long)(tsc_hz / 200));
	}

	/* a 20 ms one-shot, timed by the TSC; the best of three tries (a busy
	 * host may deliver an interrupt late) */
	if (!apic_hz || !tsc_hz)
		return checks_end();
	uint64_t want = tsc_hz / 50, best = 0;
	uint32_t count = (uint32_t)(apic_hz / 50);
	for (int i = 0; i < 3; i++) {
		ticks = 0;
		lapic_write(LAPIC_TIMER_DIV, 0xB);
		lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | LVT_TIMER_ONESHOT);
		uint64_t t0 = rdtsc();
		lapic_write(LAPIC_TIMER_INIT, count);
		while (!ticks)
			sti_hlt();
		cli();
		uint64_t took = tick_tsc - t0;
		if (!best || (took > want ? took - want : want - took) < (best > want ? best - want : want - best))
			best = took;
		if (near(took, want))
			break;
	}
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | LVT_MASKED);
	check(near(best, want), "a one-shot of %u APIC counts (20 ms) took %lu TSC cycles (want %lu)",
	      count, (unsigned long)best, (unsigned long)want);
	return checks_end();
}
