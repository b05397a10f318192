/* virtio-console driven as a guest driver would: both rings laid out by
 * hand in guest RAM, the device brought up through the device core,
 * buffers made available and notified, answers read back from the used
 * rings. Output lands in a pipe the test reads; input is fed through the
 * host-side calls. */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/virtio_console.h"
#include "virtio/virtio_dev.h"
#include "vmm/guest_mem.h"
#include "tests/unit/virtio/virtq_test_ring.h"

#define RAM_SIZE (16u << 20)
#define QSIZE    64u
#define BUF_GPA  0x20000u

#define RX VIRTIO_CONSOLE_RX_QUEUE
#define TX VIRTIO_CONSOLE_TX_QUEUE

/* Where each queue's rings sit; a second layout for a driver that sets
 * the device up again after a reset. */
struct ring_gpas {
	uint64_t desc, avail, used;
};

static const struct ring_gpas layout_a[2] = {
	[RX] = { 0x1000, 0x2000, 0x3000 },
	[TX] = { 0x4000, 0x5000, 0x6000 },
};
static const struct ring_gpas layout_b[2] = {
	[RX] = { 0x8000, 0x9000, 0xa000 },
	[TX] = { 0xb000, 0xc000, 0xd000 },
};

struct fixture {
	struct guest_mem mem;
	struct virtio_dev dev;
	struct virtio_dev *created;
	int out_rd, out_wr;          /* the console output pipe */
	struct test_ring ring[2];
	uint64_t next_buf;
	unsigned irqs[2], config_irqs;
};

static struct fixture *current;

static void on_interrupt(struct virtio_dev *dev, unsigned q)
{
	if (q == VIRTIO_DEV_CONFIG_IRQ)
		current->config_irqs++;
	else if (q < 2)
		current->irqs[q]++;
}

/* ---- a driver by hand ---------------------------------------------------- */

static uint64_t alloc_buf(struct fixture *x, uint64_t len)
{
	return guest_alloc(&x->next_buf, RAM_SIZE, len);
}

static uint32_t used_len(struct fixture *x, unsigned q, uint16_t i)
{
	uint32_t id, len;

	test_ring_used_elem(&x->ring[q], i, &id, &len);
	return len;
}

/* Reset, negotiate every feature offered but EVENT_IDX (so every push
 * interrupts) and drop, set both queues up at rings and set DRIVER_OK. */
static void bring_up_without(struct fixture *x, const struct ring_gpas rings[2], uint64_t drop)
{
	struct virtio_dev *dev = &x->dev;

	for (unsigned q = 0; q < 2; q++) {
		test_ring_init(&x->ring[q], &x->mem, rings[q].desc, rings[q].avail, rings[q].used,
			       QSIZE, QSIZE);
	}
	pthread_mutex_lock(&dev->lock);
	dev->interrupt = on_interrupt;
	virtio_dev_set_status(dev, 0);
	test_driver_ok(dev, drop, x->ring, 2);
	pthread_mutex_unlock(&dev->lock);
}

static void bring_up(struct fixture *x, const struct ring_gpas rings[2])
{
	bring_up_without(x, rings, 0);
}

/* One receive buffer of len bytes, filled with a marker so that bytes the
 * device did not write show. */
static uint64_t post_rx(struct fixture *x, uint32_t len)
{
	uint64_t gpa = alloc_buf(x, len);
	struct test_buf b = { gpa, len, true };

	memset(guest_ptr(&x->mem, gpa, len), '#', len);
	test_ring_post(&x->ring[RX], &b, 1);
	return gpa;
}

static uint64_t guest_bytes(struct fixture *x, const char *s)
{
	size_t len = strlen(s);
	uint64_t gpa = alloc_buf(x, len);

	memcpy(guest_ptr(&x->mem, gpa, len), s, len);
	return gpa;
}

/* What the device wrote to its output so far (the pipe is non-blocking). */
static size_t drain(struct fixture *x, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t got;

	while (n < cap && (got = read(x->out_rd, buf + n, cap - n)) > 0)
		n += (size_t)got;
	return n;
}

static bool wake_readable(struct fixture *x)
{
	struct pollfd p = { .fd = virtio_console_wake_fd(&x->dev), .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static bool needs_reset(struct fixture *x)
{
	return x->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

/* ---- fixtures ------------------------------------------------------------ */

static int make(void **state, uint16_t cols, uint16_t rows, bool up)
{
	struct fixture *x = calloc(1, sizeof(*x));
	int fds[2];
	struct virtio_console_config cfg = { .cols = cols, .rows = rows };

	assert_non_null(x);
	assert_int_equal(guest_mem_init(&x->mem, RAM_SIZE), 0);
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	x->out_rd = fds[0];
	x->out_wr = fds[1];
	x->next_buf = BUF_GPA;
	cfg.out_fd = x->out_wr;
	cfg.created = &x->created;
	assert_int_equal(virtio_console_setup(&x->dev, &x->mem, &cfg), 0);
	assert_ptr_equal(x->created, &x->dev);
	current = x;
	if (up)
		bring_up(x, layout_a);
	*state = x;
	return 0;
}

static int setup(void **state) { return make(state, 80, 25, true); }
static int setup_down(void **state) { return make(state, 80, 25, false); }
static int setup_wide(void **state) { return make(state, 132, 43, true); }

static int teardown(void **state)
{
	struct fixture *x = *state;

	virtio_dev_destroy(&x->dev);
	guest_mem_destroy(&x->mem);
	if (x->out_rd >= 0)
		close(x->out_rd);
	close(x->out_wr);
	free(x);
	return 0;
}

/* ---- the device's description and configuration space ------------------- */

static void config_space(void **state)
{
	struct fixture *x = *state;
	struct virtio_dev *dev = &x->dev;
	uint8_t cfg[VIRTIO_CONSOLE_CONFIG_SIZE];
	uint16_t v16;
	uint32_t v32;

	assert_int_equal(dev->ops->device_id, 3);
	assert_int_equal(dev->ops->num_queues, 2);
	assert_int_equal(dev->ops->config_size, 12);
	assert_true(dev->features_offered & (1ull << VIRTIO_CONSOLE_F_SIZE));
	assert_false(dev->features_offered & (1ull << VIRTIO_CONSOLE_F_MULTIPORT));
	assert_false(dev->features_offered & (1ull << VIRTIO_CONSOLE_F_EMERG_WRITE));
	assert_true(virtio_dev_has_feature(dev, VIRTIO_CONSOLE_F_SIZE));

	dev->ops->config_read(dev, 0, cfg, sizeof(cfg));
	memcpy(&v16, cfg + 0, 2);
	assert_int_equal(v16, 132);            /* cols first */
	memcpy(&v16, cfg + 2, 2);
	assert_int_equal(v16, 43);
	memcpy(&v32, cfg + 4, 4);
	assert_int_equal(v32, 1);              /* max_nr_ports */
	memcpy(&v32, cfg + 8, 4);
	assert_int_equal(v32, 0);              /* emerg_wr is write-only */
	/* Narrow and unaligned reads see the same bytes. */
	dev->ops->config_read(dev, 1, &cfg[0], 1);
	assert_int_equal(cfg[0], 0);           /* 132 >> 8 */
	dev->ops->config_read(dev, 2, &v16, 2);
	assert_int_equal(v16, 43);
}

/* The driver is told the size once it is ready (Linux reads it only on a
 * configuration change), and only when it accepted SIZE. */
static void size_announced_at_driver_ok(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(x->config_irqs, 0);
	bring_up(x, layout_a);
	assert_int_equal(x->config_irqs, 1);
	bring_up_without(x, layout_b, 1ull << VIRTIO_CONSOLE_F_SIZE);
	assert_false(virtio_dev_has_feature(&x->dev, VIRTIO_CONSOLE_F_SIZE));
	assert_int_equal(x->config_irqs, 1);
}

static void resize_tells_the_driver(void **state)
{
	struct fixture *x = *state;
	uint32_t gen = x->dev.config_generation;
	unsigned irqs = x->config_irqs;
	uint16_t v16;

	virtio_console_resize(&x->dev, 132, 43);      /* the same size: nothing */
	assert_int_equal(x->config_irqs, irqs);
	assert_int_equal(x->dev.config_generation, gen);

	virtio_console_resize(&x->dev, 100, 30);
	assert_int_equal(x->config_irqs, irqs + 1);
	assert_int_equal(x->dev.config_generation, gen + 1);
	x->dev.ops->config_read(&x->dev, 0, &v16, 2);
	assert_int_equal(v16, 100);
	x->dev.ops->config_read(&x->dev, 2, &v16, 2);
	assert_int_equal(v16, 30);
}

/* ---- output ------------------------------------------------------------- */

static void tx_segments_in_order(void **state)
{
	struct fixture *x = *state;
	struct test_buf first[3] = {
		{ guest_bytes(x, "hel"), 3, false },
		{ guest_bytes(x, "lo, "), 4, false },
		{ guest_bytes(x, "world\n"), 6, false },
	};
	struct test_buf second = { guest_bytes(x, "and more"), 8, false };
	char out[64];
	uint32_t id, len;

	test_ring_post(&x->ring[TX], first, 3);
	test_ring_post(&x->ring[TX], &second, 1);
	assert_int_equal(drain(x, out, sizeof(out)), 0);   /* nothing before the notify */
	test_kick(&x->dev, TX);
	assert_int_equal(drain(x, out, sizeof(out)), 21);
	assert_memory_equal(out, "hello, world\nand more", 21);
	assert_int_equal(test_ring_used_idx(&x->ring[TX]), 2);
	test_ring_used_elem(&x->ring[TX], 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 0);                /* nothing written into them */
	test_ring_used_elem(&x->ring[TX], 1, &id, &len);
	assert_int_equal(id, 3);
	assert_int_equal(len, 0);
	assert_true(x->irqs[TX] >= 1);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 0);
}

static void tx_wrong_direction_returned_unused(void **state)
{
	struct fixture *x = *state;
	uint64_t in = alloc_buf(x, 16);
	struct test_buf bad[2] = {
		{ guest_bytes(x, "secret"), 6, false },
		{ in, 16, true },                  /* a transmit buffer the device should write */
	};
	struct test_buf good = { guest_bytes(x, "ok\n"), 3, false };
	char out[64];

	memset(guest_ptr(&x->mem, in, 16), '#', 16);
	test_ring_post(&x->ring[TX], bad, 2);
	test_ring_post(&x->ring[TX], &good, 1);
	test_kick(&x->dev, TX);
	assert_int_equal(test_ring_used_idx(&x->ring[TX]), 2);
	assert_int_equal(used_len(x, TX, 0), 0);
	/* Neither half of the bad chain was used; the next chain was. */
	assert_int_equal(drain(x, out, sizeof(out)), 3);
	assert_memory_equal(out, "ok\n", 3);
	assert_memory_equal(guest_ptr(&x->mem, in, 16), "################", 16);
	assert_false(needs_reset(x));
}

static void tx_to_a_closed_output_keeps_going(void **state)
{
	struct fixture *x = *state;
	struct test_buf b = { guest_bytes(x, "nobody reads this"), 17, false };

	close(x->out_rd);
	x->out_rd = -1;
	test_ring_post(&x->ring[TX], &b, 1);
	test_kick(&x->dev, TX);
	test_ring_post(&x->ring[TX], &b, 1);
	test_kick(&x->dev, TX);
	assert_int_equal(test_ring_used_idx(&x->ring[TX]), 2);
	assert_false(needs_reset(x));
}

/* ---- input -------------------------------------------------------------- */

static void rx_fills_buffers_in_order(void **state)
{
	struct fixture *x = *state;
	uint64_t a = post_rx(x, 4), b = post_rx(x, 4), c = post_rx(x, 4);

	test_kick(&x->dev, RX);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 0);    /* no input: buffers stay the driver's */
	assert_int_equal(virtio_console_receive(&x->dev, (const uint8_t *)"abcdefg", 7), 7);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 2);
	assert_memory_equal(guest_ptr(&x->mem, a, 4), "abcd", 4);
	assert_int_equal(used_len(x, RX, 0), 4);
	assert_memory_equal(guest_ptr(&x->mem, b, 4), "efg#", 4);
	assert_int_equal(used_len(x, RX, 1), 3);
	assert_true(x->irqs[RX] >= 1);
	/* The third buffer takes the next input. */
	assert_int_equal(virtio_console_receive(&x->dev, (const uint8_t *)"h", 1), 1);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 3);
	assert_memory_equal(guest_ptr(&x->mem, c, 4), "h###", 4);
	assert_int_equal(virtio_console_input_space(&x->dev), VIRTIO_CONSOLE_INPUT_BUFFER);
}

/* A chain of two writable buffers is filled across both. */
static void rx_chain_across_segments(void **state)
{
	struct fixture *x = *state;
	uint64_t g1 = alloc_buf(x, 3), g2 = alloc_buf(x, 5);
	struct test_buf b[2] = { { g1, 3, true }, { g2, 5, true } };

	test_ring_post(&x->ring[RX], b, 2);
	assert_int_equal(virtio_console_receive(&x->dev, (const uint8_t *)"12345678", 8), 8);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 1);
	assert_int_equal(used_len(x, RX, 0), 8);
	assert_memory_equal(guest_ptr(&x->mem, g1, 3), "123", 3);
	assert_memory_equal(guest_ptr(&x->mem, g2, 5), "45678", 5);
}

static void rx_waits_without_buffers_and_resumes_on_notify(void **state)
{
	struct fixture *x = *state;
	size_t total = VIRTIO_CONSOLE_INPUT_BUFFER + 100;
	uint8_t *in = malloc(total), *got = malloc(total);
	uint64_t first;
	size_t n, have = 0;

	for (size_t i = 0; i < total; i++)
		in[i] = (uint8_t)(i * 7 + i / 251);
	/* No receive buffers: input waits, up to the bound, and no more. */
	n = virtio_console_receive(&x->dev, in, total);
	assert_int_equal(n, VIRTIO_CONSOLE_INPUT_BUFFER);
	assert_int_equal(virtio_console_input_space(&x->dev), 0);
	assert_int_equal(virtio_console_receive(&x->dev, in + n, total - n), 0);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 0);
	assert_false(wake_readable(x));

	/* The driver adds a buffer and notifies: it is filled, and the host
	 * is woken to read on. */
	first = post_rx(x, 1000);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 0);
	test_kick(&x->dev, RX);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 1);
	assert_int_equal(used_len(x, RX, 0), 1000);
	memcpy(got, guest_ptr(&x->mem, first, 1000), 1000);
	have = 1000;
	assert_int_equal(virtio_console_input_space(&x->dev), 1000);
	assert_true(wake_readable(x));
	virtio_console_wake_ack(&x->dev);
	assert_false(wake_readable(x));

	/* The host reads on; the rest arrives in order behind what waited. */
	assert_int_equal(virtio_console_receive(&x->dev, in + n, total - n), total - n);
	while (have < total) {
		uint16_t before = test_ring_used_idx(&x->ring[RX]);
		uint64_t g = post_rx(x, 1024);
		uint32_t len;

		test_kick(&x->dev, RX);
		assert_int_equal(test_ring_used_idx(&x->ring[RX]), (uint16_t)(before + 1));
		len = used_len(x, RX, before);
		assert_true(len > 0 && len <= 1024);
		memcpy(got + have, guest_ptr(&x->mem, g, len), len);
		have += len;
	}
	assert_memory_equal(got, in, total);
	assert_int_equal(virtio_console_input_space(&x->dev), VIRTIO_CONSOLE_INPUT_BUFFER);
	/* Space came back only once from full: no second wake. */
	assert_false(wake_readable(x));
	free(in);
	free(got);
}

/* Input typed before the driver is there waits for DRIVER_OK. */
static void rx_before_the_driver(void **state)
{
	struct fixture *x = *state;
	uint64_t g;

	assert_int_equal(virtio_console_receive(&x->dev, (const uint8_t *)"early", 5), 5);
	assert_int_equal(virtio_console_input_space(&x->dev), VIRTIO_CONSOLE_INPUT_BUFFER - 5);
	bring_up(x, layout_a);
	g = post_rx(x, 16);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 0);    /* made available, not yet notified */
	test_kick(&x->dev, RX);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 1);
	assert_int_equal(used_len(x, RX, 0), 5);
	assert_memory_equal(guest_ptr(&x->mem, g, 6), "early#", 6);
}

static void rx_wrong_direction_returned_unused(void **state)
{
	struct fixture *x = *state;
	uint64_t ro = guest_bytes(x, "readonly"), w = alloc_buf(x, 8), good;
	struct test_buf bad = { ro, 8, false };
	/* A readable header in front of a writable buffer: not a receive
	 * buffer either, even though it has room. */
	struct test_buf mixed[2] = { { guest_bytes(x, "hdr"), 3, false }, { w, 8, true } };

	memset(guest_ptr(&x->mem, w, 8), '#', 8);
	test_ring_post(&x->ring[RX], &bad, 1);
	test_ring_post(&x->ring[RX], mixed, 2);
	good = post_rx(x, 8);
	assert_int_equal(virtio_console_receive(&x->dev, (const uint8_t *)"input", 5), 5);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 3);
	assert_int_equal(used_len(x, RX, 0), 0);
	assert_memory_equal(guest_ptr(&x->mem, ro, 8), "readonly", 8);
	assert_int_equal(used_len(x, RX, 1), 0);
	assert_memory_equal(guest_ptr(&x->mem, w, 8), "########", 8);
	assert_int_equal(used_len(x, RX, 2), 5);
	assert_memory_equal(guest_ptr(&x->mem, good, 8), "input###", 8);
	assert_false(needs_reset(x));
}

/* A descriptor outside guest RAM: the device needs a reset, the input is
 * kept, and a new setup gets it. */
static void rx_malformed_ring(void **state)
{
	struct fixture *x = *state;
	struct test_buf bad = { RAM_SIZE - 4, 64, true };
	unsigned irqs = x->config_irqs;
	uint64_t g;

	test_ring_post(&x->ring[RX], &bad, 1);
	assert_int_equal(virtio_console_receive(&x->dev, (const uint8_t *)"kept", 4), 4);
	assert_true(needs_reset(x));
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 0);
	assert_int_equal(x->config_irqs, irqs + 1);   /* the driver is told */
	/* Broken: more input waits without touching the ring. */
	assert_int_equal(virtio_console_receive(&x->dev, (const uint8_t *)"!", 1), 1);
	assert_int_equal(virtio_console_input_space(&x->dev), VIRTIO_CONSOLE_INPUT_BUFFER - 5);

	bring_up(x, layout_b);
	assert_false(needs_reset(x));
	g = post_rx(x, 8);
	test_kick(&x->dev, RX);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 1);
	assert_memory_equal(guest_ptr(&x->mem, g, 8), "kept!###", 8);
}

/* After a reset the device leaves the old rings alone; input waits for
 * the next setup, output is not taken until then. */
static void reset(void **state)
{
	struct fixture *x = *state;
	uint64_t old_buf = post_rx(x, 8), g;
	struct test_buf t = { guest_bytes(x, "late\n"), 5, false };
	uint8_t before[8];
	char out[16];

	pthread_mutex_lock(&x->dev.lock);
	virtio_dev_set_status(&x->dev, 0);
	pthread_mutex_unlock(&x->dev.lock);
	assert_int_equal(x->dev.status, 0);
	assert_false(x->dev.vq[RX].ready);

	memcpy(before, guest_ptr(&x->mem, old_buf, 8), 8);
	assert_int_equal(virtio_console_receive(&x->dev, (const uint8_t *)"after", 5), 5);
	assert_memory_equal(guest_ptr(&x->mem, old_buf, 8), before, 8);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 0);
	test_ring_post(&x->ring[TX], &t, 1);
	test_kick(&x->dev, TX);
	assert_int_equal(test_ring_used_idx(&x->ring[TX]), 0);
	assert_int_equal(drain(x, out, sizeof(out)), 0);

	/* The config space does not depend on the driver. */
	x->dev.ops->config_read(&x->dev, 0, out, 2);
	assert_int_equal(((uint8_t)out[0]) | ((uint8_t)out[1] << 8), 80);

	bring_up(x, layout_b);
	g = post_rx(x, 8);
	test_kick(&x->dev, RX);
	assert_int_equal(test_ring_used_idx(&x->ring[RX]), 1);
	assert_memory_equal(guest_ptr(&x->mem, g, 8), "after###", 8);
	t.gpa = guest_bytes(x, "again\n");
	t.len = 6;
	test_ring_post(&x->ring[TX], &t, 1);
	test_kick(&x->dev, TX);
	assert_int_equal(drain(x, out, sizeof(out)), 6);
	assert_memory_equal(out, "again\n", 6);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(config_space, setup_wide, teardown),
		cmocka_unit_test_setup_teardown(size_announced_at_driver_ok, setup_down, teardown),
		cmocka_unit_test_setup_teardown(resize_tells_the_driver, setup_wide, teardown),
		T(tx_segments_in_order),
		T(tx_wrong_direction_returned_unused),
		T(tx_to_a_closed_output_keeps_going),
		T(rx_fills_buffers_in_order),
		T(rx_chain_across_segments),
		T(rx_waits_without_buffers_and_resumes_on_notify),
		cmocka_unit_test_setup_teardown(rx_before_the_driver, setup_down, teardown),
		T(rx_wrong_direction_returned_unused),
		T(rx_malformed_ring),
		T(reset),
	};

	/* A closed output pipe is an EPIPE, as in wisp, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
