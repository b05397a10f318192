#include "uart8250.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/console.h"
#include "vmm/log.h"
#include "vmm/platform.h"

/* Register offsets from the base port. */
#define REG_RBR 0 /* read, DLAB=0 */
#define REG_THR 0 /* write, DLAB=0 */
#define REG_DLL 0 /* DLAB=1 */
#define REG_IER 1 /* DLAB=0 */
#define REG_DLM 1 /* DLAB=1 */
#define REG_IIR 2 /* read */
#define REG_FCR 2 /* write */
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7
#define UART_NPORTS 8

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI  0x04 /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK  0x0f

#define IIR_NO_INT  0x01
#define IIR_ID_MSR  0x00
#define IIR_ID_THRE 0x02
#define IIR_ID_RDA  0x04
#define IIR_ID_RLS  0x06
#define IIR_ID_CTI  0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_PE   0x04
#define LSR_FE   0x08
#define LSR_BI   0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS   0x01
#define MSR_DDSR   0x02
#define MSR_TERI   0x04
#define MSR_DDCD   0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS    0x10
#define MSR_DSR    0x20
#define MSR_RI     0x40
#define MSR_DCD    0x80

#define FIFO_SIZE 16

struct uart8250 {
	pthread_mutex_t lock;
	struct platform *p;
	unsigned irq;
	int out_fd;            /* -1: discard; also after the reader went away */
	bool irq_level;        /* what we last drove the line to */
	char name[24];

	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t msr;           /* line states in 7:4, deltas in 3:0 */
	uint8_t lsr_errs;      /* OE/PE/FE/BI, latched until LSR is read */
	bool fifo_on;
	unsigned rx_trigger;   /* 1, 4, 8 or 14 */
	bool thre_pending;     /* THR-empty interrupt not yet acknowledged */
	uint8_t last_rx;       /* RBR reads as this when nothing is queued */

	/* Ring of received bytes. The first min(count, FIFO_SIZE) (or 1 with
	 * FIFOs off) are "in the chip"; the rest are still on the wire. */
	size_t rx_head, rx_count;
	uint8_t rx[UART8250_RX_QUEUE_SIZE];
};

static size_t rx_capacity(const struct uart8250 *u)
{
	return u->fifo_on ? FIFO_SIZE : 1;
}

static size_t rx_visible(const struct uart8250 *u)
{
	size_t cap = rx_capacity(u);
	return u->rx_count < cap ? u->rx_count : cap;
}

static void rx_push(struct uart8250 *u, uint8_t b)
{
	u->rx[(u->rx_head + u->rx_count) % UART8250_RX_QUEUE_SIZE] = b;
	u->rx_count++;
}

static uint8_t rx_pop(struct uart8250 *u)
{
	if (u->rx_count) {
		u->last_rx = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART8250_RX_QUEUE_SIZE;
		u->rx_count--;
	}
	return u->last_rx;
}

/* A FIFO reset empties the chip, not the wire behind it. */
static void rx_reset_fifo(struct uart8250 *u)
{
	size_t n = rx_visible(u);

	u->rx_head = (u->rx_head + n) % UART8250_RX_QUEUE_SIZE;
	u->rx_count -= n;
}

/* Modem input lines. Nothing is attached on the host side, so report a
 * ready modem with carrier (getty and friends wait for DCD); in loopback
 * they follow the modem control outputs. */
static uint8_t modem_lines(uint8_t mcr)
{
	uint8_t v = 0;

	if (!(mcr & MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	if (mcr & MCR_RTS)
		v |= MSR_CTS;
	if (mcr & MCR_DTR)
		v |= MSR_DSR;
	if (mcr & MCR_OUT1)
		v |= MSR_RI;
	if (mcr & MCR_OUT2)
		v |= MSR_DCD;
	return v;
}

/* The highest-priority enabled interrupt, or -1. */
static int pending_id(const struct uart8250 *u)
{
	if ((u->ier & IER_ELSI) && u->lsr_errs)
		return IIR_ID_RLS;
	if ((u->ier & IER_ERBFI) && u->rx_count) {
		/* We have no bit timing to measure a character timeout, so
		 * data sitting below the trigger level is always "timed
		 * out": the driver still drains it promptly. */
		if (!u->fifo_on || rx_visible(u) >= u->rx_trigger)
			return IIR_ID_RDA;
		return IIR_ID_CTI;
	}
	if ((u->ier & IER_ETBEI) && u->thre_pending)
		return IIR_ID_THRE;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		return IIR_ID_MSR;
	return -1;
}

static void update_irq(struct uart8250 *u)
{
	/* On a PC the INTR pin reaches the interrupt controller through a
	 * buffer enabled by OUT2; loopback forces the OUT2 pin inactive. */
	bool level = pending_id(u) >= 0 && (u->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;

	if (level != u->irq_level) {
		u->irq_level = level;
		platform_set_irq(u->p, u->irq, level);
	}
}

static void transmit(struct uart8250 *u, uint8_t b)
{
	if (u->mcr & MCR_LOOP) {
		/* The receiver holds what the FIFO (or RBR) holds; one more
		 * character is an overrun and is lost. */
		if (u->rx_count >= rx_capacity(u))
			u->lsr_errs |= LSR_OE;
		else
			rx_push(u, b);
		return;
	}
	/* The path every console device's output takes: a reader that went
	 * away stops the output, never the guest. */
	console_output(&u->out_fd, &b, 1, u->name);
}

static void write_mcr(struct uart8250 *u, uint8_t v)
{
	uint8_t before = modem_lines(u->mcr), after, changed;

	u->mcr = v & MCR_MASK;
	after = modem_lines(u->mcr);
	changed = before ^ after;
	if (changed & MSR_CTS)
		u->msr |= MSR_DCTS;
	if (changed & MSR_DSR)
		u->msr |= MSR_DDSR;
	if (changed & MSR_DCD)
		u->msr |= MSR_DDCD;
	if ((before & MSR_RI) && !(after & MSR_RI))
		u->msr |= MSR_TERI;
	u->msr = (uint8_t)((u->msr & MSR_DELTAS) | after);
}

static void write_fcr(struct uart8250 *u, uint8_t v)
{
	static const unsigned trigger[4] = { 1, 4, 8, 14 };
	bool on = v & FCR_ENABLE;

	/* Switching the FIFOs on or off empties them, and the other bits only
	 * take effect when the enable bit is written as 1. But drivers reset
	 * the FIFOs when they open the port, and what a real line would have
	 * delivered as noise is here the user's input, typed or piped ahead
	 * of the guest: it is kept. Only bytes the guest sent itself in
	 * loopback mode are thrown away. */
	if ((on != u->fifo_on || (on && (v & FCR_CLEAR_RX))) && (u->mcr & MCR_LOOP))
		rx_reset_fifo(u);
	u->fifo_on = on;
	if (on)
		u->rx_trigger = trigger[v >> 6];
	/* FCR_CLEAR_TX: transmission is instant, the TX FIFO is always empty. */
}

static uint8_t reg_read(struct uart8250 *u, unsigned reg)
{
	uint8_t v;
	int id;

	switch (reg) {
	case REG_RBR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		return rx_pop(u);
	case REG_IER:
		if (u->lcr & LCR_DLAB)
			return u->dlm;
		return u->ier;
	case REG_IIR:
		id = pending_id(u);
		/* Reading IIR acknowledges a THR-empty interrupt, but only
		 * when that is what it reports. */
		if (id == IIR_ID_THRE)
			u->thre_pending = false;
		v = id < 0 ? IIR_NO_INT : (uint8_t)id;
		return u->fifo_on ? v | IIR_FIFO_ON : v;
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		v = LSR_THRE | LSR_TEMT | u->lsr_errs;
		if (u->rx_count)
			v |= LSR_DR;
		u->lsr_errs = 0;
		return v;
	case REG_MSR:
		v = u->msr;
		u->msr &= (uint8_t)~MSR_DELTAS;
		return v;
	case REG_SCR:
		return u->scr;
	}
	return 0xff;
}

static void reg_write(struct uart8250 *u, unsigned reg, uint8_t v)
{
	uint8_t old;

	switch (reg) {
	case REG_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
			return;
		}
		/* Writing THR acknowledges THR-empty; the byte leaves at once,
		 * so THR is empty again and the interrupt comes back. */
		transmit(u, v);
		u->thre_pending = true;
		return;
	case REG_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			return;
		}
		old = u->ier;
		u->ier = v & IER_MASK;
		/* Enabling ETBEI while THR is empty (it always is) raises the
		 * interrupt; Linux's 8250 driver starts transmission this way. */
		if (!(old & IER_ETBEI) && (u->ier & IER_ETBEI))
			u->thre_pending = true;
		return;
	case REG_FCR:
		write_fcr(u, v);
		return;
	case REG_LCR:
		u->lcr = v;
		return;
	case REG_MCR:
		write_mcr(u, v);
		return;
	case REG_SCR:
		u->scr = v;
		return;
	}
	/* LSR and MSR writes (factory test) are ignored. */
}

/* A wide access is split into byte cycles, as an 8-bit ISA device sees it;
 * bytes past the last register are not ours and float high. */
static uint64_t uart_read(void *opaque, uint64_t offset, unsigned size)
{
	struct uart8250 *u = opaque;
	uint64_t v = 0;
	unsigned i;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&u->lock);
	for (i = 0; i < size; i++) {
		uint64_t b = 0xff;
		if (offset < UART_NPORTS && i < UART_NPORTS - offset)
			b = reg_read(u, (unsigned)(offset + i));
		v |= b << (8 * i);
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return v;
}

static void uart_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct uart8250 *u = opaque;
	unsigned i;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&u->lock);
	for (i = 0; i < size; i++) {
		if (offset < UART_NPORTS && i < UART_NPORTS - offset)
			reg_write(u, (unsigned)(offset + i), (uint8_t)(value >> (8 * i)));
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static const struct bus_ops uart_ops = {
	.read = uart_read,
	.write = uart_write,
};

struct uart8250 *uart8250_create(struct platform *p, uint16_t base, unsigned irq, int out_fd)
{
	struct uart8250 *u;
	int rc;

	if (base > 0x10000 - UART_NPORTS) {
		log_error("uart8250: ports 0x%x-0x%x run past the end of I/O space", base,
			  base + UART_NPORTS - 1);
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		log_error("uart8250: out of memory");
		return NULL;
	}
	pthread_mutex_init(&u->lock, NULL);
	u->p = p;
	u->irq = irq;
	u->out_fd = out_fd;
	u->rx_trigger = 1;
	u->msr = modem_lines(0);
	snprintf(u->name, sizeof(u->name), "uart8250@0x%x", base);

	rc = bus_register(p->pio, base, UART_NPORTS, &uart_ops, u, u->name);
	if (rc) {
		log_error("%s: cannot claim ports 0x%x-0x%x: %s", u->name, base,
			  base + UART_NPORTS - 1, strerror(-rc));
		uart8250_destroy(u);
		return NULL;
	}
	return u;
}

void uart8250_destroy(struct uart8250 *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	free(u);
}

size_t uart8250_receive(struct uart8250 *u, const uint8_t *buf, size_t len)
{
	size_t n, i;

	pthread_mutex_lock(&u->lock);
	n = UART8250_RX_QUEUE_SIZE - u->rx_count;
	if (n > len)
		n = len;
	for (i = 0; i < n; i++)
		rx_push(u, buf[i]);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

size_t uart8250_rx_space(struct uart8250 *u)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	n = UART8250_RX_QUEUE_SIZE - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return n;
}
