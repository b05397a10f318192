/* uart-irq: COM1's THRE interrupt through IOAPIC pin 4. Mask the legacy
 * PIC, route pin 4 (edge, fixed, to this CPU) to a vector, set MCR.OUT2
 * and IER.ETBEI: the interrupt must arrive, IIR must say THRE, and
 * reading IIR must clear it. A LAPIC one-shot is the watchdog, so a lost
 * interrupt is a failed check rather than a hang. */
#include "guest.h"

#define VEC_UART     0x41
#define VEC_WATCHDOG 0x42
#define UART_IER (COM1 + 1)
#define UART_IIR (COM1 + 2)
#define UART_MCR (COM1 + 4)
#define UART_LSR (COM1 + 5)

static volatile uint32_t uart_irqs, watchdog;

static void uart_isr(struct irq_frame *f)
{
	(void)f;
	uart_irqs++;      /* the UART is left alone: the test reads IIR */
	lapic_eoi();
}

static void watchdog_isr(struct irq_frame *f)
{
	(void)f;
	watchdog = 1;
	lapic_eoi();
}

/* Enable interrupts and halt until the UART interrupt number n arrives or
 * the watchdog (about 200 ms at a 1 GHz APIC timer) fires. */
static int wait_irq(uint32_t n)
{
	watchdog = 0;
	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, VEC_WATCHDOG | LVT_TIMER_ONESHOT);
	lapic_write(LAPIC_TIMER_INIT, 12500000);
	while (uart_irqs < n && !watchdog)
		sti_hlt();
	cli();
	lapic_write(LAPIC_TIMER_INIT, 0);
	return uart_irqs >= n;
}

static void drain_tx(void)
{
	for (unsigned i = 0; i < 100000 && !(inb(UART_LSR) & 0x40); i++)
		;
}

int guest_main(void)
{
	checks_begin("uart-irq", 0x50);
	set_handler(VEC_UART, uart_isr);
	set_handler(VEC_WATCHDOG, watchdog_isr);
	lapic_enable();
	pic_init_masked();
	check(inb(0x21) == 0xFF && inb(0xA1) == 0xFF, "legacy PIC masked (IMR %#x/%#x)", inb(0x21), inb(0xA1));

	uint32_t ver = ioapic_read(1);
	note("IOAPIC id %u, version %#x, %u pins", ioapic_read(0) >> 24, ver & 0xFF, ((ver >> 16) & 0xFF) + 1);
	check(((ver >> 16) & 0xFF) + 1 == 24, "IOAPIC has 24 pins");
	uint32_t me = lapic_id();
	ioapic_route(4, VEC_UART, me);
	check(ioapic_read(0x18) == VEC_UART && ioapic_read(0x19) >> 24 == me,
	      "IOAPIC pin 4 routed to vector %#x, APIC %u (%#x %#x)", VEC_UART, me,
	      ioapic_read(0x18), ioapic_read(0x19));

	/* 1: enabling ETBEI with the transmitter empty raises THRE */
	outb(UART_IER, 0);
	outb(UART_MCR, 0x0B);            /* DTR | RTS | OUT2 */
	drain_tx();
	(void)inb(UART_IIR);
	outb(UART_IER, 0x02);
	int arrived = wait_irq(1);
	uint8_t iir1 = inb(UART_IIR);
	uint8_t iir2 = inb(UART_IIR);
	outb(UART_IER, 0);
	check(arrived, "THRE interrupt arrived on vector %#x after IER.ETBEI (%u interrupts)",
	      VEC_UART, uart_irqs);
	check((iir1 & 0x0F) == 0x02, "IIR reports THRE (IIR %#x)", iir1);
	check((iir2 & 0x0F) == 0x01, "reading IIR cleared THRE (IIR now %#x)", iir2);
	note("IIR FIFO bits %#x", iir1 & 0xC0);

	/* 2: enabling again raises it again (a new edge) */
	drain_tx();
	outb(UART_IER, 0x02);
	arrived = wait_irq(2);
	iir1 = inb(UART_IIR);
	/* 3: ETBEI still on, THRE cleared by that read: transmitting a byte
	 * empties the transmitter again, which raises THRE again */
	outb(COM1, '*');
	int arrived3 = wait_irq(3);
	uint8_t iir3 = inb(UART_IIR);
	outb(UART_IER, 0);
	printf("\n");
	check(arrived, "THRE interrupt arrived again after re-enabling ETBEI");
	check((iir1 & 0x0F) == 0x02, "IIR reports THRE again (%#x)", iir1);
	check(arrived3, "THRE interrupt after transmitting a byte (%u interrupts in all)", uart_irqs);
	check((iir3 & 0x0F) == 0x02, "IIR reports THRE after the byte went out (%#x)", iir3);

	ioapic_write(0x18, IOREDTBL_MASKED);
	outb(UART_MCR, 0x03);
	return checks_end();
}
