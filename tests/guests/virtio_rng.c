/* virtio-rng: a tiny virtio-mmio driver for the entropy device (wisp run
 * --rng). The test passes the device's window and line on the command
 * line (virtio_base=0x... virtio_gsi=N: slot 0 of memory_map.h), or wisp
 * does (--virtio-mmio-cmdline: virtio_mmio.device=SIZE@BASE:GSI). The
 * driver checks the registers, that FEATURES_OK is refused without
 * VERSION_1, negotiates VERSION_1 alone, sets up queue 0 with 8 entries in
 * its own memory, and asks twice for 64 random bytes: the device fills
 * each buffer at once (the used ring is polled), the bytes are not all
 * equal and the two answers differ. Each answer also raises the device's
 * line, taken through the IOAPIC as the firmware tables describe it
 * (level-triggered, active high): the handler acknowledges InterruptStatus
 * before the EOI, so one interrupt per request arrives with a reason.
 *
 * PVM's local APIC (the KVM of the development machines) performs the EOI
 * of a vector when it delivers it, before the handler runs: the IOAPIC
 * then finds the level line still high and delivers it once more, after
 * the handler lowered it. Such a re-delivery finds InterruptStatus 0; at
 * most one per request is accepted, and counted apart. A line that stays
 * high after InterruptACK would give a storm of them instead. A LAPIC
 * one-shot is the watchdog. */
#include "virtio_mmio.h"

#define VEC_VIRTIO   0x51
#define VEC_WATCHDOG 0x52

#define QSIZE   8
#define REQ_LEN 64
#define DESC_F_WRITE 2

VIRTQ_DECLARE_RINGS(QSIZE);

/* The rings and the buffers, in the guest's own RAM (identity mapped). */
static struct virtq_desc descs[QSIZE] __attribute__((aligned(4096)));
static struct avail avail __attribute__((aligned(4096)));
static volatile struct used used __attribute__((aligned(4096)));
static uint8_t bufs[2][REQ_LEN] __attribute__((aligned(64)));

static uint64_t base;
static volatile uint32_t irqs, empty_irqs, last_isr, watchdog;

static uint32_t rd(unsigned reg) { return mmio_read32(base + reg); }
static void wr(unsigned reg, uint32_t v) { mmio_write32(base + reg, v); }

static void virtio_isr(struct irq_frame *f)
{
	(void)f;
	uint32_t status = rd(VIRTIO_MMIO_REG_INTERRUPT_STATUS);

	if (status) {
		last_isr = status;
		irqs++;
		/* The line is a level: lower it before the EOI, or it fires
		 * again. */
		wr(VIRTIO_MMIO_REG_INTERRUPT_ACK, status);
	} else {
		empty_irqs++;
	}
	lapic_eoi();
}

static void watchdog_isr(struct irq_frame *f)
{
	(void)f;
	watchdog = 1;
	lapic_eoi();
}

/* Halt with interrupts on until n device interrupts arrived or the
 * watchdog (about 200 ms at a 1 GHz APIC timer) fired. */
static int wait_irqs(uint32_t n)
{
	watchdog = 0;
	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, VEC_WATCHDOG | LVT_TIMER_ONESHOT);
	lapic_write(LAPIC_TIMER_INIT, 12500000);
	while (irqs < n && !watchdog)
		sti_hlt();
	cli();
	lapic_write(LAPIC_TIMER_INIT, 0);
	return irqs >= n;
}

/* virtio_mmio.device=SIZE@BASE:GSI, as Linux parses it; 0 if found. */
static int from_linux_syntax(uint64_t *b, uint32_t *g)
{
	char v[64];
	const char *s;
	uint64_t size;

	if (cmdline_value("virtio_mmio.device", v, sizeof(v)))
		return -1;
	size = parse_u64(v, &s);
	if (*s != '@')
		return -1;
	*b = parse_u64(s + 1, &s);
	if (*s != ':')
		return -1;
	*g = (uint32_t)parse_u64(s + 1, &s);
	note("virtio_mmio.device=%s: %#llx bytes", v, (unsigned long long)size);
	return size >= 0x100 ? 0 : -1;
}

static int all_equal(const uint8_t *p, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		if (p[i] != p[0])
			return 0;
	return 1;
}

/* Post buffer i as a writable one-descriptor chain and notify. Returns
 * whether the device put it in the used ring (polled, a bounded number of
 * reads: the device answers during the notifying write). */
static int request(unsigned i)
{
	uint16_t idx = avail.idx;

	memset(bufs[i], 0, REQ_LEN);
	descs[i] = (struct virtq_desc){ .addr = (uint64_t)(uintptr_t)bufs[i], .len = REQ_LEN,
				  .flags = DESC_F_WRITE };
	avail.ring[idx % QSIZE] = (uint16_t)i;
	__asm__ volatile("" ::: "memory");   /* ring entry before the index (x86: TSO) */
	avail.idx = (uint16_t)(idx + 1);
	__asm__ volatile("mfence" ::: "memory");
	wr(VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	for (unsigned n = 0; n < 100000; n++) {
		if (used.idx == (uint16_t)(idx + 1))
			return 1;
		cpu_relax();
	}
	return 0;
}

int guest_main(void)
{
	uint32_t gsi, status, me;
	uint64_t features;

	checks_begin("virtio-rng", 0x80);
	base = cmdline_u64("virtio_base", 0);
	gsi = (uint32_t)cmdline_u64("virtio_gsi", 0);
	if (!base && from_linux_syntax(&base, &gsi))
		panic(0x8F, "usage: virtio_base=ADDR virtio_gsi=N or virtio_mmio.device=SIZE@ADDR:N "
		      "on the command line");
	if (gsi < 16 || gsi > 23)
		panic(0x8F, "GSI %u is not an IOAPIC pin from 16 to 23", gsi);
	note("virtio-mmio at %#llx, GSI %u", (unsigned long long)base, gsi);

	check(rd(VIRTIO_MMIO_REG_MAGIC_VALUE) == 0x74726976 && rd(VIRTIO_MMIO_REG_VERSION) == 2 && rd(VIRTIO_MMIO_REG_DEVICE_ID) == 4,
	      "magic %#x, version %u, device id %u (entropy)", rd(VIRTIO_MMIO_REG_MAGIC_VALUE), rd(VIRTIO_MMIO_REG_VERSION), rd(VIRTIO_MMIO_REG_DEVICE_ID));

	/* Reset, then a legacy driver's negotiation: refused. */
	wr(VIRTIO_MMIO_REG_STATUS, 0);
	wr(VIRTIO_MMIO_REG_STATUS, VIRTIO_S_ACK);
	wr(VIRTIO_MMIO_REG_STATUS, VIRTIO_S_ACK | VIRTIO_S_DRIVER);
	wr(VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 1);
	features = (uint64_t)rd(VIRTIO_MMIO_REG_DEVICE_FEATURES) << 32;
	wr(VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 0);
	features |= rd(VIRTIO_MMIO_REG_DEVICE_FEATURES);
	note("device features %#llx", (unsigned long long)features);
	wr(VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_REG_DRIVER_FEATURES, 0);
	wr(VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_REG_DRIVER_FEATURES, 0);
	wr(VIRTIO_MMIO_REG_STATUS, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	status = rd(VIRTIO_MMIO_REG_STATUS);
	check(status == (VIRTIO_S_ACK | VIRTIO_S_DRIVER), "FEATURES_OK refused without VERSION_1 (status %#x)",
	      status);

	/* VERSION_1 only (no event index, no indirect descriptors). */
	wr(VIRTIO_MMIO_REG_STATUS, 0);
	check(rd(VIRTIO_MMIO_REG_STATUS) == 0, "reset: status 0");
	wr(VIRTIO_MMIO_REG_STATUS, VIRTIO_S_ACK);
	wr(VIRTIO_MMIO_REG_STATUS, VIRTIO_S_ACK | VIRTIO_S_DRIVER);
	wr(VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_REG_DRIVER_FEATURES, 1);                     /* bit 32: VERSION_1 */
	wr(VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_REG_DRIVER_FEATURES, 0);
	wr(VIRTIO_MMIO_REG_STATUS, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	status = rd(VIRTIO_MMIO_REG_STATUS);
	check((features >> 32) & 1, "the device offers VERSION_1");
	check(status == (VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK),
	      "FEATURES_OK kept with VERSION_1 (status %#x)", status);

	wr(VIRTIO_MMIO_REG_QUEUE_SEL, 0);
	uint32_t max = rd(VIRTIO_MMIO_REG_QUEUE_NUM_MAX);
	check(max >= QSIZE && rd(VIRTIO_MMIO_REG_QUEUE_READY) == 0, "queue 0: QueueNumMax %u, not ready", max);
	virtio_mmio_queue_set(base, QSIZE, (uintptr_t)descs, (uintptr_t)&avail, (uintptr_t)&used);
	check(rd(VIRTIO_MMIO_REG_QUEUE_READY) == 1, "queue 0 ready with %u entries at %p/%p/%p", QSIZE,
	      (void *)descs, (void *)&avail, (void *)&used);
	wr(VIRTIO_MMIO_REG_STATUS, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK);
	status = rd(VIRTIO_MMIO_REG_STATUS);
	check(status == (VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK),
	      "DRIVER_OK (status %#x)", status);

	/* The line through the IOAPIC: level-triggered, active high. */
	set_handler(VEC_VIRTIO, virtio_isr);
	set_handler(VEC_WATCHDOG, watchdog_isr);
	lapic_enable();
	pic_init_masked();
	me = lapic_id();
	ioapic_route(gsi, VEC_VIRTIO | IOREDTBL_LEVEL, me);

	cli();
	int got1 = request(0);
	check(got1 && used.ring[0].id == 0 && used.ring[0].len == REQ_LEN,
	      "request 1 answered: used idx %u, id %u, len %u", used.idx, used.ring[0].id,
	      used.ring[0].len);
	check(rd(VIRTIO_MMIO_REG_INTERRUPT_STATUS) == 1, "InterruptStatus says used buffer (%#x)", rd(VIRTIO_MMIO_REG_INTERRUPT_STATUS));
	int irq1 = wait_irqs(1);
	check(irq1 && last_isr == 1, "interrupt 1 on vector %#x (status %#x in the handler)",
	      VEC_VIRTIO, last_isr);
	check(!all_equal(bufs[0], REQ_LEN), "request 1: 64 bytes, not all equal (%02x %02x %02x %02x ...)",
	      bufs[0][0], bufs[0][1], bufs[0][2], bufs[0][3]);

	int got2 = request(1);
	check(got2 && used.ring[1].id == 1 && used.ring[1].len == REQ_LEN,
	      "request 2 answered: used idx %u, id %u, len %u", used.idx, used.ring[1].id,
	      used.ring[1].len);
	int irq2 = wait_irqs(2);
	check(irq2, "interrupt 2");
	check(!all_equal(bufs[1], REQ_LEN) && memcmp(bufs[0], bufs[1], REQ_LEN) != 0,
	      "request 2: other bytes (%02x %02x %02x %02x ...)",
	      bufs[1][0], bufs[1][1], bufs[1][2], bufs[1][3]);

	/* Acknowledged before the EOI, the level line does not fire again
	 * (beyond the re-delivery described at the top). */
	wait_irqs(3);
	if (empty_irqs)
		note("%u interrupts without a reason (re-delivered after an early EOI)", empty_irqs);
	check(irqs == 2 && empty_irqs <= 2 && rd(VIRTIO_MMIO_REG_INTERRUPT_STATUS) == 0,
	      "no interrupt after the acknowledgement (%u with a reason, %u without)", irqs,
	      empty_irqs);

	ioapic_write(0x10 + 2 * gsi, IOREDTBL_MASKED);
	wr(VIRTIO_MMIO_REG_STATUS, 0);
	check(rd(VIRTIO_MMIO_REG_STATUS) == 0 && rd(VIRTIO_MMIO_REG_QUEUE_READY) == 0, "reset: status 0, queue not ready");
	return checks_end();
}
