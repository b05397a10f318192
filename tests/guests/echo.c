/* echo: serial input through the RX data interrupt. COM1's received-data
 * interrupt (IER.ERBFI) is routed through IOAPIC pin 4; the guest halts
 * until it fires, drains RBR while LSR.DR is set, and echoes each line back
 * as "echo: <line>". The line "quit" ends the guest (exit status 1); "exit
 * N" ends it with debug-exit value N. Host input reaches the guest from
 * wisp's stdin: a pipe, a file or a terminal in raw mode. */
#include "guest.h"

#define VEC_UART  0x41
#define UART_RBR  COM1
#define UART_IER  (COM1 + 1)
#define UART_IIR  (COM1 + 2)
#define UART_FCR  (COM1 + 2)
#define UART_MCR  (COM1 + 4)
#define UART_LSR  (COM1 + 5)
#define LSR_DR    0x01

static volatile uint32_t rx_irqs;

static void uart_isr(struct irq_frame *f)
{
	(void)f;
	rx_irqs++;
	lapic_eoi();
}

static void line_done(const char *line)
{
	const char *end;

	printf("echo: %s\n", line);
	if (!strcmp(line, "quit")) {
		printf("echo: %u RX interrupts\n", rx_irqs);
		exit_with(0);
	}
	if (!strncmp(line, "exit ", 5))
		exit_with((uint32_t)parse_u64(line + 5, &end));
}

int guest_main(void)
{
	char line[128];
	size_t len = 0;

	set_handler(VEC_UART, uart_isr);
	lapic_enable();
	pic_init_masked();
	ioapic_route(4, VEC_UART, lapic_id());
	outb(UART_FCR, 0x07);            /* FIFOs on and cleared, trigger 1 byte */
	outb(UART_MCR, 0x0B);            /* DTR | RTS | OUT2 */
	outb(UART_IER, 0x01);            /* received data available */
	printf("echo: ready\n");

	for (;;) {
		cli();
		if (!(inb(UART_LSR) & LSR_DR))
			sti_hlt();       /* sti's shadow covers hlt: no lost wake-up */
		cli();
		while (inb(UART_LSR) & LSR_DR) {
			char c = (char)inb(UART_RBR);

			if (c == '\r' || c == '\n') {
				line[len] = '\0';
				if (len)
					line_done(line);
				len = 0;
			} else if (len < sizeof(line) - 1) {
				line[len++] = c;
			}
		}
	}
}
