#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "devices/uart8250.h"
#include "test_platform.h"

#define BASE 0x3f8
#define IRQ  4

#define RBR (BASE + 0)
#define THR (BASE + 0)
#define DLL (BASE + 0)
#define IER (BASE + 1)
#define DLM (BASE + 1)
#define IIR (BASE + 2)
#define FCR (BASE + 2)
#define LCR (BASE + 3)
#define MCR (BASE + 4)
#define LSR (BASE + 5)
#define MSR (BASE + 6)
#define SCR (BASE + 7)

struct fixture {
	struct fake_platform *f;
	struct uart8250 *u;
	int pipe_rd, pipe_wr;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	int fds[2];

	assert_non_null(x);
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	x->pipe_rd = fds[0];
	x->pipe_wr = fds[1];
	x->f = fake_platform_new();
	x->u = uart8250_create(&x->f->p, BASE, IRQ, x->pipe_wr);
	assert_non_null(x->u);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	uart8250_destroy(x->u);
	fake_platform_free(x->f);
	if (x->pipe_rd >= 0)
		close(x->pipe_rd);
	close(x->pipe_wr);
	free(x);
	return 0;
}

static size_t drain_pipe(int fd, char *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);
	return n < 0 ? 0 : (size_t)n;
}

static void test_reset_state(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(inb(x->f, IER), 0);
	assert_int_equal(inb(x->f, IIR), 0x01);
	assert_int_equal(inb(x->f, LCR), 0);
	assert_int_equal(inb(x->f, MCR), 0);
	assert_int_equal(inb(x->f, LSR), 0x60);
	/* A modem that is ready and has carrier. */
	assert_int_equal(inb(x->f, MSR), 0xb0);
	assert_false(x->f->irq[IRQ]);
}

static void test_scratch_and_masks(void **state)
{
	struct fixture *x = *state;

	outb(x->f, SCR, 0xa5);
	assert_int_equal(inb(x->f, SCR), 0xa5);
	outb(x->f, LCR, 0x1b);
	assert_int_equal(inb(x->f, LCR), 0x1b);
	outb(x->f, IER, 0xff);
	assert_int_equal(inb(x->f, IER), 0x0f);
	outb(x->f, MCR, 0xff);
	assert_int_equal(inb(x->f, MCR), 0x1f);
}

static void test_dlab(void **state)
{
	struct fixture *x = *state;
	char buf[8];

	outb(x->f, IER, 0x05);
	outb(x->f, LCR, 0x83);
	outb(x->f, DLL, 0x0c);
	outb(x->f, DLM, 0x01);
	assert_int_equal(inb(x->f, DLL), 0x0c);
	assert_int_equal(inb(x->f, DLM), 0x01);
	/* The divisor write did not transmit anything. */
	assert_int_equal(drain_pipe(x->pipe_rd, buf, sizeof(buf)), 0);
	outb(x->f, LCR, 0x03);
	assert_int_equal(inb(x->f, IER), 0x05);
	outb(x->f, LCR, 0x83);
	assert_int_equal(inb(x->f, DLL), 0x0c);
	assert_int_equal(inb(x->f, DLM), 0x01);
}

static void test_thr_output(void **state)
{
	struct fixture *x = *state;
	char buf[16];

	outb(x->f, THR, 'h');
	outb(x->f, THR, 'i');
	outb(x->f, THR, '\n');
	assert_int_equal(inb(x->f, LSR) & 0x60, 0x60);
	assert_int_equal(drain_pipe(x->pipe_rd, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "hi\n", 3);
}

static void test_output_to_closed_pipe(void **state)
{
	struct fixture *x = *state;

	signal(SIGPIPE, SIG_IGN);
	close(x->pipe_rd);
	x->pipe_rd = -1;
	outb(x->f, THR, 'a');
	outb(x->f, THR, 'b');
	assert_int_equal(inb(x->f, LSR) & 0x60, 0x60);
}

static void test_output_discarded(void **state)
{
	struct fake_platform *f = fake_platform_new();
	struct uart8250 *u = uart8250_create(&f->p, 0x2f8, 3, -1);

	(void)state;
	assert_non_null(u);
	outb(f, 0x2f8, 'x');
	assert_int_equal(inb(f, 0x2f8 + 5) & 0x60, 0x60);
	uart8250_destroy(u);
	fake_platform_free(f);
}

static void test_thre_interrupt(void **state)
{
	struct fixture *x = *state;

	outb(x->f, MCR, 0x08); /* OUT2 */
	assert_false(x->f->irq[IRQ]);
	/* Enabling ETBEI with THR empty raises the interrupt at once. */
	outb(x->f, IER, 0x02);
	assert_true(x->f->irq[IRQ]);
	assert_int_equal(inb(x->f, IIR), 0x02);
	/* Reading IIR reported and acknowledged it. */
	assert_false(x->f->irq[IRQ]);
	assert_int_equal(inb(x->f, IIR), 0x01);
	/* Rewriting IER with ETBEI still set is not a new edge. */
	outb(x->f, IER, 0x02);
	assert_int_equal(inb(x->f, IIR), 0x01);
	/* Each transmitted byte empties THR again. */
	outb(x->f, THR, 'z');
	assert_true(x->f->irq[IRQ]);
	assert_int_equal(inb(x->f, IIR), 0x02);
	assert_false(x->f->irq[IRQ]);
	/* Off and on again: a new interrupt. */
	outb(x->f, IER, 0x00);
	outb(x->f, IER, 0x02);
	assert_true(x->f->irq[IRQ]);
	/* Disabling ETBEI drops the line. */
	outb(x->f, IER, 0x00);
	assert_false(x->f->irq[IRQ]);
}

static void test_rx_data(void **state)
{
	struct fixture *x = *state;
	const uint8_t in[] = { 'A', 'B' };

	outb(x->f, MCR, 0x08);
	outb(x->f, IER, 0x01);
	assert_false(x->f->irq[IRQ]);
	assert_int_equal(uart8250_receive(x->u, in, sizeof(in)), 2);
	assert_true(x->f->irq[IRQ]);
	assert_int_equal(inb(x->f, LSR) & 0x01, 0x01);
	assert_int_equal(inb(x->f, IIR), 0x04);
	assert_int_equal(inb(x->f, RBR), 'A');
	assert_true(x->f->irq[IRQ]);
	assert_int_equal(inb(x->f, RBR), 'B');
	assert_false(x->f->irq[IRQ]);
	assert_int_equal(inb(x->f, LSR) & 0x01, 0);
	assert_int_equal(inb(x->f, IIR), 0x01);
	/* An empty RBR reads the last character again. */
	assert_int_equal(inb(x->f, RBR), 'B');
}

static void test_rx_beats_thre(void **state)
{
	struct fixture *x = *state;
	const uint8_t in = 'q';

	outb(x->f, IER, 0x03);
	assert_int_equal(uart8250_receive(x->u, &in, 1), 1);
	assert_int_equal(inb(x->f, IIR), 0x04);
	assert_int_equal(inb(x->f, RBR), 'q');
	assert_int_equal(inb(x->f, IIR), 0x02);
	assert_int_equal(inb(x->f, IIR), 0x01);
}

static void check_trigger(struct fixture *x, uint8_t fcr, unsigned level)
{
	uint8_t in[32];
	unsigned i;

	memset(in, 'x', sizeof(in));
	outb(x->f, FCR, fcr | 0x07);
	outb(x->f, IER, 0x01);
	assert_int_equal(inb(x->f, IIR), 0xc1);
	for (i = 1; i < level; i++) {
		assert_int_equal(uart8250_receive(x->u, in, 1), 1);
		/* Below the trigger: character timeout. */
		assert_int_equal(inb(x->f, IIR), 0xcc);
	}
	assert_int_equal(uart8250_receive(x->u, in, 1), 1);
	assert_int_equal(inb(x->f, IIR), 0xc4);
	inb(x->f, RBR);
	if (level > 1)
		assert_int_equal(inb(x->f, IIR), 0xcc);
	else
		assert_int_equal(inb(x->f, IIR), 0xc1);
	/* Drain for the next round (a FIFO reset keeps host input). */
	while (inb(x->f, LSR) & 0x01)
		inb(x->f, RBR);
}

static void test_fifo_trigger_levels(void **state)
{
	struct fixture *x = *state;

	check_trigger(x, 0x00, 1);
	check_trigger(x, 0x40, 4);
	check_trigger(x, 0x80, 8);
	check_trigger(x, 0xc0, 14);
}

static void test_fifo_off_no_fifo_bits(void **state)
{
	struct fixture *x = *state;

	outb(x->f, FCR, 0x01);
	assert_int_equal(inb(x->f, IIR) & 0xc0, 0xc0);
	outb(x->f, FCR, 0x00);
	assert_int_equal(inb(x->f, IIR), 0x01);
}

static void test_fifo_reset_keeps_backlog(void **state)
{
	struct fixture *x = *state;
	uint8_t in[20];
	unsigned i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	outb(x->f, FCR, 0x01);
	assert_int_equal(uart8250_receive(x->u, in, sizeof(in)), sizeof(in));
	/* Host input typed ahead of the driver's FIFO reset is kept whole. */
	outb(x->f, FCR, 0x03);
	outb(x->f, FCR, 0x00);
	outb(x->f, FCR, 0x07);
	for (i = 0; i < 20; i++) {
		assert_int_equal(inb(x->f, LSR) & 0x01, 0x01);
		assert_int_equal(inb(x->f, RBR), i);
	}
	assert_int_equal(inb(x->f, LSR) & 0x01, 0);

	/* What the guest sent itself in loopback goes with the reset. */
	outb(x->f, MCR, 0x10);
	outb(x->f, THR, 'L');
	outb(x->f, THR, 'M');
	assert_int_equal(inb(x->f, LSR) & 0x01, 0x01);
	outb(x->f, FCR, 0x03);
	assert_int_equal(inb(x->f, LSR) & 0x01, 0);
	outb(x->f, MCR, 0x00);
}

static void test_loopback(void **state)
{
	struct fixture *x = *state;
	char buf[8];

	outb(x->f, MCR, 0x10);
	outb(x->f, THR, 'L');
	assert_int_equal(drain_pipe(x->pipe_rd, buf, sizeof(buf)), 0);
	assert_int_equal(inb(x->f, LSR) & 0x61, 0x61);
	assert_int_equal(inb(x->f, RBR), 'L');

	/* Linux's probe: RTS|OUT2 in loopback must read back as CTS|DCD. */
	outb(x->f, MCR, 0x1a);
	assert_int_equal(inb(x->f, MSR) & 0xf0, 0x90);
	outb(x->f, MCR, 0x15);
	assert_int_equal(inb(x->f, MSR) & 0xf0, 0x60);
	/* RI went from 1 to 0: trailing edge. */
	outb(x->f, MCR, 0x11);
	assert_int_equal(inb(x->f, MSR), 0x20 | 0x04);
	/* Deltas clear on read. */
	assert_int_equal(inb(x->f, MSR), 0x20);

	outb(x->f, MCR, 0x00);
	assert_int_equal(inb(x->f, MSR) & 0xf0, 0xb0);
	outb(x->f, THR, 'o');
	assert_int_equal(drain_pipe(x->pipe_rd, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'o');
}

static void test_modem_status_interrupt(void **state)
{
	struct fixture *x = *state;

	outb(x->f, IER, 0x08);
	assert_int_equal(inb(x->f, IIR), 0x01);
	outb(x->f, MCR, 0x10); /* loopback: CTS, DSR, DCD all drop */
	assert_int_equal(inb(x->f, IIR), 0x00);
	assert_int_equal(inb(x->f, MSR) & 0x0f, 0x0b);
	assert_int_equal(inb(x->f, IIR), 0x01);
}

static void test_overrun(void **state)
{
	struct fixture *x = *state;

	outb(x->f, MCR, 0x18);
	outb(x->f, IER, 0x04);
	/* Without FIFOs the receiver holds one character. */
	outb(x->f, THR, '1');
	assert_int_equal(inb(x->f, IIR), 0x01);
	outb(x->f, THR, '2');
	assert_int_equal(inb(x->f, IIR), 0x06);
	assert_int_equal(inb(x->f, LSR), 0x63);
	/* Reading LSR cleared OE and the line status interrupt. */
	assert_int_equal(inb(x->f, LSR), 0x61);
	assert_int_equal(inb(x->f, IIR), 0x01);
	assert_int_equal(inb(x->f, RBR), '1');

	/* With FIFOs, the 17th character overruns. */
	outb(x->f, FCR, 0x07);
	for (int i = 0; i < 16; i++)
		outb(x->f, THR, (uint8_t)('a' + i));
	assert_int_equal(inb(x->f, LSR) & 0x02, 0);
	outb(x->f, THR, '!');
	assert_int_equal(inb(x->f, LSR) & 0x02, 0x02);
	for (int i = 0; i < 16; i++)
		assert_int_equal(inb(x->f, RBR), 'a' + i);
	assert_int_equal(inb(x->f, LSR), 0x60);
}

static void test_out2_gates_irq(void **state)
{
	struct fixture *x = *state;

	outb(x->f, IER, 0x02);
	/* Pending, but OUT2 is off. */
	assert_false(x->f->irq[IRQ]);
	outb(x->f, MCR, 0x08);
	assert_true(x->f->irq[IRQ]);
	outb(x->f, MCR, 0x00);
	assert_false(x->f->irq[IRQ]);
	outb(x->f, MCR, 0x0b);
	assert_true(x->f->irq[IRQ]);
	/* Loopback disconnects OUT2 from the pin. */
	outb(x->f, MCR, 0x1b);
	assert_false(x->f->irq[IRQ]);
	outb(x->f, MCR, 0x0b);
	assert_true(x->f->irq[IRQ]);
	assert_int_equal(inb(x->f, IIR), 0x02);
	assert_false(x->f->irq[IRQ]);
}

static void test_rx_space(void **state)
{
	struct fixture *x = *state;
	static uint8_t big[5000];
	uint8_t one = '1';

	memset(big, 'b', sizeof(big));
	big[0] = 'F';
	big[UART8250_RX_QUEUE_SIZE - 1] = 'L';
	assert_int_equal(uart8250_rx_space(x->u), UART8250_RX_QUEUE_SIZE);
	assert_int_equal(uart8250_receive(x->u, big, 10), 10);
	assert_int_equal(uart8250_rx_space(x->u), UART8250_RX_QUEUE_SIZE - 10);
	assert_int_equal(uart8250_receive(x->u, big + 10, sizeof(big) - 10),
			 UART8250_RX_QUEUE_SIZE - 10);
	assert_int_equal(uart8250_rx_space(x->u), 0);
	assert_int_equal(uart8250_receive(x->u, &one, 1), 0);
	assert_int_equal(uart8250_receive(x->u, NULL, 0), 0);

	assert_int_equal(inb(x->f, RBR), 'F');
	assert_int_equal(uart8250_rx_space(x->u), 1);
	assert_int_equal(uart8250_receive(x->u, &one, 1), 1);
	/* Everything comes out, in order, across the ring's wrap. */
	for (unsigned i = 1; i < UART8250_RX_QUEUE_SIZE - 1; i++)
		assert_int_equal(inb(x->f, RBR), 'b');
	assert_int_equal(inb(x->f, RBR), 'L');
	assert_int_equal(inb(x->f, RBR), '1');
	assert_int_equal(inb(x->f, LSR) & 0x01, 0);
	assert_int_equal(uart8250_rx_space(x->u), UART8250_RX_QUEUE_SIZE);
}

static void test_wide_and_odd_accesses(void **state)
{
	struct fixture *x = *state;

	/* A word at SCR: SCR, then a byte past the device. */
	outb(x->f, SCR, 0x5a);
	assert_int_equal(pio_in(x->f, SCR, 2), 0xff5a);
	/* A word write at LCR sets LCR and MCR. */
	pio_out(x->f, LCR, 2, 0x0803);
	assert_int_equal(inb(x->f, LCR), 0x03);
	assert_int_equal(inb(x->f, MCR), 0x08);
	pio_out(x->f, SCR, 4, 0xffffff77);
	assert_int_equal(inb(x->f, SCR), 0x77);
}

static void test_port_conflict(void **state)
{
	struct fixture *x = *state;

	assert_null(uart8250_create(&x->f->p, BASE + 4, 3, -1));
	assert_null(uart8250_create(&x->f->p, 0xfffc, 3, -1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_reset_state),
		T(test_scratch_and_masks),
		T(test_dlab),
		T(test_thr_output),
		T(test_output_to_closed_pipe),
		cmocka_unit_test(test_output_discarded),
		T(test_thre_interrupt),
		T(test_rx_data),
		T(test_rx_beats_thre),
		T(test_fifo_trigger_levels),
		T(test_fifo_off_no_fifo_bits),
		T(test_fifo_reset_keeps_backlog),
		T(test_loopback),
		T(test_modem_status_interrupt),
		T(test_overrun),
		T(test_out2_gates_irq),
		T(test_rx_space),
		T(test_wide_and_odd_accesses),
		T(test_port_conflict),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
