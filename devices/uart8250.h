/* A 16550A UART on eight I/O ports: the guest's serial console.
 *
 * Transmitted bytes go straight to a host file descriptor; received bytes
 * come from the host through uart8250_receive() and wait in a software
 * queue behind the 16-byte FIFO, so a paste larger than the FIFO is not
 * lost. The interrupt line is a level, gated by MCR.OUT2 as on a PC. */
#ifndef WISP_DEVICES_UART8250_H
#define WISP_DEVICES_UART8250_H

#include <stddef.h>
#include <stdint.h>

struct platform;
struct uart8250;

/* Size of the software receive queue, FIFO included. */
#define UART8250_RX_QUEUE_SIZE 4096u

/* Claims ports base..base+7 on p->pio. out_fd -1 discards output; the
 * caller keeps ownership of out_fd. Returns NULL after logging why. */
struct uart8250 *uart8250_create(struct platform *p, uint16_t base, unsigned irq, int out_fd);
void uart8250_destroy(struct uart8250 *u);

/* Queue host input for the guest. Returns how many bytes of buf were
 * accepted (fewer than len when the queue is full). Any thread. */
size_t uart8250_receive(struct uart8250 *u, const uint8_t *buf, size_t len);

/* How many bytes uart8250_receive() would accept now; the host stops
 * reading its input while this is 0. */
size_t uart8250_rx_space(struct uart8250 *u);

#endif
