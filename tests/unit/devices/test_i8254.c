#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "devices/i8254.h"
#include "vmm/memory_map.h"
#include "test_platform.h"

/* The fake clock; starts away from 0 so nothing depends on it. */
static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

/* The first instant at which t ticks have passed since base. */
static uint64_t at_tick(uint64_t base, uint64_t t)
{
	return base + (t * 1000000000ull + I8254_HZ - 1) / I8254_HZ;
}

struct fixture {
	struct fake_platform *f;
	struct i8254 *pit;
	bool level;
	unsigned rises;   /* 0->1 transitions of IRQ 0 */
};

static struct fixture *current;

static void record_irq(struct platform *p, unsigned gsi, bool level)
{
	assert_int_equal(gsi, IRQ_PIT);
	if (level && !current->level)
		current->rises++;
	current->level = level;
	fake_set_irq(p, gsi, level);
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	fake_now = 5000000000ull;
	x->f = fake_platform_new();
	x->f->p.set_irq = record_irq;
	current = x;
	x->pit = i8254_create(&x->f->p, fake_clock);
	assert_non_null(x->pit);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	i8254_destroy(x->pit);
	fake_platform_free(x->f);
	free(x);
	current = NULL;
	return 0;
}

static void program(struct fixture *x, unsigned ch, uint8_t cw, uint16_t count)
{
	outb(x->f, 0x43, cw);
	if (((cw >> 4) & 3) == 1) {
		outb(x->f, (uint16_t)(0x40 + ch), (uint8_t)count);
	} else if (((cw >> 4) & 3) == 2) {
		outb(x->f, (uint16_t)(0x40 + ch), (uint8_t)(count >> 8));
	} else {
		outb(x->f, (uint16_t)(0x40 + ch), (uint8_t)count);
		outb(x->f, (uint16_t)(0x40 + ch), (uint8_t)(count >> 8));
	}
}

/* Latch and read a LOHI channel. */
static uint16_t read_latched(struct fixture *x, unsigned ch)
{
	uint16_t v;

	outb(x->f, 0x43, (uint8_t)(ch << 6));
	v = inb(x->f, (uint16_t)(0x40 + ch));
	return (uint16_t)(v | inb(x->f, (uint16_t)(0x40 + ch)) << 8);
}

static uint8_t read_status(struct fixture *x, unsigned ch)
{
	outb(x->f, 0x43, (uint8_t)(0xE0 | (2u << ch)));
	return inb(x->f, (uint16_t)(0x40 + ch));
}

static void test_mode2_periodic(void **state)
{
	struct fixture *x = *state;
	uint64_t t0 = fake_now, next, period_end;
	unsigned k;

	/* Linux's PIT clockevent, periodic at HZ=1000. */
	program(x, 0, 0x34, 1193);
	assert_true(x->level);               /* mode 2: OUT high */
	x->rises = 0;
	next = i8254_poll(x->pit, fake_now);
	assert_int_equal(next, at_tick(t0, 1193));
	assert_int_equal(x->rises, 0);
	fake_now = next - 1;
	assert_int_equal(i8254_poll(x->pit, fake_now), next);
	assert_int_equal(x->rises, 0);
	for (k = 1; k <= 5; k++) {
		fake_now = at_tick(t0, 1193ull * k);
		next = i8254_poll(x->pit, fake_now);
		assert_int_equal(x->rises, k);
		assert_int_equal(next, at_tick(t0, 1193ull * (k + 1)));
		assert_true(x->level);
	}
	/* Ten periods without a poll: one edge, and the next is on the grid. */
	fake_now = at_tick(t0, 1193ull * 15) + 100;
	next = i8254_poll(x->pit, fake_now);
	assert_int_equal(x->rises, 6);
	assert_int_equal(next, at_tick(t0, 1193ull * 16));
	/* The count reads right without any poll. */
	period_end = at_tick(t0, 1193ull * 16);
	(void)period_end;
	fake_now = at_tick(t0, 1193ull * 20 + 300);
	assert_int_equal(read_latched(x, 0), 1193 - 300);
	/* Port accesses catch up on edges too. */
	assert_int_equal(x->rises, 7);
}

static void test_mode0_oneshot(void **state)
{
	struct fixture *x = *state;
	uint64_t t0 = fake_now, next;

	program(x, 0, 0x30, 100);
	assert_false(x->level);              /* mode 0: OUT low */
	x->rises = 0;
	next = i8254_poll(x->pit, fake_now);
	assert_int_equal(next, at_tick(t0, 100));
	fake_now = at_tick(t0, 40);
	assert_int_equal(read_latched(x, 0), 60);
	assert_int_equal(read_status(x, 0) & 0x80, 0);
	fake_now = at_tick(t0, 100);
	assert_int_equal(i8254_poll(x->pit, fake_now), UINT64_MAX);
	assert_int_equal(x->rises, 1);
	assert_true(x->level);
	assert_int_equal(read_status(x, 0) & 0x80, 0x80);
	/* It stays high; the counter wraps and keeps counting. */
	fake_now = at_tick(t0, 110);
	assert_int_equal(i8254_poll(x->pit, fake_now), UINT64_MAX);
	assert_int_equal(x->rises, 1);
	assert_int_equal(read_latched(x, 0), 0xFFF6);
	/* A new count re-arms: OUT drops, rises again at its end. */
	t0 = fake_now;
	outb(x->f, 0x40, 10);
	assert_false(x->level);          /* the first byte drops OUT */
	fake_now += 5000;
	outb(x->f, 0x40, 0);
	t0 = fake_now;
	assert_int_equal(i8254_poll(x->pit, fake_now), at_tick(t0, 10));
	fake_now = at_tick(t0, 10000);
	i8254_poll(x->pit, fake_now);
	assert_int_equal(x->rises, 2);
}

static void test_mode3_square(void **state)
{
	struct fixture *x = *state;
	uint64_t t0 = fake_now;

	program(x, 0, 0x36, 100);
	x->rises = 0;
	fake_now = at_tick(t0, 10);
	assert_int_equal(read_latched(x, 0), 80);    /* down by two */
	assert_int_equal(read_status(x, 0) & 0x80, 0x80);
	fake_now = at_tick(t0, 60);
	assert_int_equal(read_status(x, 0) & 0x80, 0);
	assert_int_equal(read_latched(x, 0), 80);
	assert_false(x->level);
	fake_now = at_tick(t0, 100);
	assert_int_equal(i8254_poll(x->pit, fake_now), at_tick(t0, 200));
	assert_int_equal(x->rises, 1);
	assert_true(x->level);
	/* An odd count: high one tick longer than low. */
	t0 = fake_now = 7000000000ull;
	program(x, 0, 0x36, 5);
	fake_now = at_tick(t0, 2);
	assert_int_equal(read_status(x, 0) & 0x80, 0x80);
	fake_now = at_tick(t0, 3);
	assert_int_equal(read_status(x, 0) & 0x80, 0);
	fake_now = at_tick(t0, 4);
	assert_int_equal(read_status(x, 0) & 0x80, 0);
	fake_now = at_tick(t0, 5);
	assert_int_equal(read_status(x, 0) & 0x80, 0x80);
}

static void test_latch_and_readback(void **state)
{
	struct fixture *x = *state;
	uint64_t t0 = fake_now;

	outb(x->f, 0x43, 0x34);
	/* Null count until a count is written; OUT high in mode 2. */
	assert_int_equal(read_status(x, 0), 0x80 | 0x40 | 0x34);
	outb(x->f, 0x40, 0xE8);
	outb(x->f, 0x40, 0x03);              /* 1000 */
	t0 = fake_now;
	assert_int_equal(read_status(x, 0), 0x80 | 0x34);
	/* A latch holds its value while time passes, until read. */
	fake_now = at_tick(t0, 250);
	outb(x->f, 0x43, 0x00);
	fake_now = at_tick(t0, 400);
	outb(x->f, 0x43, 0x00);              /* second latch: ignored */
	assert_int_equal(inb(x->f, 0x40), 750 & 0xFF);
	fake_now = at_tick(t0, 500);
	assert_int_equal(inb(x->f, 0x40), 750 >> 8);
	/* Unlatched reads follow the counter. */
	assert_int_equal(inb(x->f, 0x40), 500 & 0xFF);
	assert_int_equal(inb(x->f, 0x40), 500 >> 8);
	/* Read-back of count and status: status first, then the count. */
	outb(x->f, 0x43, 0xC2);
	fake_now = at_tick(t0, 600);
	assert_int_equal(inb(x->f, 0x40), 0x80 | 0x34);
	assert_int_equal(inb(x->f, 0x40), 500 & 0xFF);
	assert_int_equal(inb(x->f, 0x40), 500 >> 8);
	/* Read-back of several channels at once. */
	program(x, 2, 0xB0, 0x1234);
	outb(x->f, 0x43, 0xC0 | 0x08 | 0x02);
	assert_int_equal(inb(x->f, 0x42), 0x30);   /* mode 0 loads with the gate low */
	assert_int_equal(inb(x->f, 0x42), 0x34);
	assert_int_equal(inb(x->f, 0x42), 0x12);
	assert_int_equal(inb(x->f, 0x40), 0x80 | 0x34);
}

static void test_access_modes_and_bcd(void **state)
{
	struct fixture *x = *state;
	uint64_t t0;

	/* LSB only. */
	program(x, 1, 0x50, 0x80);
	t0 = fake_now;
	fake_now = at_tick(t0, 0x10);
	assert_int_equal(inb(x->f, 0x41), 0x70);
	assert_int_equal(inb(x->f, 0x41), 0x70);
	/* MSB only. */
	program(x, 1, 0x60, 0x0300);
	t0 = fake_now;
	fake_now = at_tick(t0, 0x100);
	assert_int_equal(inb(x->f, 0x41), 0x02);
	/* BCD: 1234 counts down in decimal. */
	program(x, 1, 0x71, 0x1234);
	t0 = fake_now;
	fake_now = at_tick(t0, 34);
	assert_int_equal(read_latched(x, 1), 0x1200);
	fake_now = at_tick(t0, 1235);
	assert_int_equal(read_latched(x, 1), 0x9999);
	/* Count 0 is the full range. */
	program(x, 1, 0x70, 0);
	t0 = fake_now;
	fake_now = at_tick(t0, 1);
	assert_int_equal(read_latched(x, 1), 0xFFFF);
	program(x, 1, 0x71, 0);
	t0 = fake_now;
	fake_now = at_tick(t0, 1);
	assert_int_equal(read_latched(x, 1), 0x9999);
	/* LOHI reads and writes keep separate flip-flops. */
	program(x, 1, 0x70, 0x4000);
	t0 = fake_now;
	outb(x->f, 0x43, 0x40);
	assert_int_equal(inb(x->f, 0x41), 0x00);
	outb(x->f, 0x41, 0x00);              /* LSB of a new count */
	assert_int_equal(inb(x->f, 0x41), 0x40);
	outb(x->f, 0x41, 0x20);              /* MSB: 0x2000 loaded */
	fake_now = at_tick(fake_now, 0x10);
	assert_int_equal(read_latched(x, 1), 0x1FF0);
}

static void test_port61_channel2(void **state)
{
	struct fixture *x = *state;
	uint64_t t0;
	uint8_t msb, prev;
	unsigned i;

	assert_int_equal(inb(x->f, 0x61) & 0xEF, 0x00);
	outb(x->f, 0x61, 0xFF);
	assert_int_equal(inb(x->f, 0x61) & 0xCF, 0x0F);   /* bits 0-3 stick */
	outb(x->f, 0x61, 0x00);

	/* Linux's pit_calibrate_tsc(): gate on, speaker off, mode 0 on
	 * channel 2, wait for OUT2. */
	outb(x->f, 0x61, (uint8_t)((inb(x->f, 0x61) & ~0x02) | 0x01));
	outb(x->f, 0x43, 0xB0);
	outb(x->f, 0x42, 11932 & 0xFF);
	outb(x->f, 0x42, 11932 >> 8);
	t0 = fake_now;
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0);
	fake_now = at_tick(t0, 11931);
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0);
	fake_now = at_tick(t0, 11932);
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0x20);

	/* quick_pit_calibrate(): the MSB of a free-running 0xFFFF count goes
	 * down steadily. */
	outb(x->f, 0x43, 0xB0);
	outb(x->f, 0x42, 0xFF);
	outb(x->f, 0x42, 0xFF);
	prev = 0xFF;
	for (i = 0; i < 20; i++) {
		fake_now += 256 * 1000000000ull / I8254_HZ + 1;
		(void)inb(x->f, 0x42);
		msb = inb(x->f, 0x42);
		assert_true(msb < prev || (i == 0 && msb <= prev));
		prev = msb;
	}

	/* Gate low pauses mode 0. */
	program(x, 2, 0xB0, 1000);
	t0 = fake_now;
	fake_now = at_tick(t0, 100);
	outb(x->f, 0x61, 0x00);
	fake_now += 1000000;
	assert_int_equal(read_latched(x, 2), 900);
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0);
	outb(x->f, 0x61, 0x01);
	t0 = fake_now;
	fake_now = at_tick(t0, 899);
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0);
	fake_now = at_tick(t0, 900);
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0x20);

	/* Mode 1: the gate's rising edge triggers a one-shot. */
	outb(x->f, 0x61, 0x00);
	program(x, 2, 0xB2, 50);
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0x20);
	fake_now += 1000000;
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0x20);
	outb(x->f, 0x61, 0x01);
	t0 = fake_now;
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0);
	fake_now = at_tick(t0, 49);
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0);
	fake_now = at_tick(t0, 50);
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0x20);

	/* Mode 3 (the speaker): gate low forces OUT high and stops it. */
	program(x, 2, 0xB6, 100);
	t0 = fake_now;
	fake_now = at_tick(t0, 60);
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0);
	outb(x->f, 0x61, 0x00);
	assert_int_equal(inb(x->f, 0x61) & 0x20, 0x20);
	/* ... and its rising edge restarts the count. */
	fake_now += 12345;
	outb(x->f, 0x61, 0x01);
	t0 = fake_now;
	fake_now = at_tick(t0, 10);
	assert_int_equal(read_latched(x, 2), 80);
}

static void test_refresh_toggle(void **state)
{
	struct fixture *x = *state;
	uint8_t a, b;

	fake_now = 15085ull * 1000;
	a = inb(x->f, 0x61) & 0x10;
	fake_now += 15085;
	b = inb(x->f, 0x61) & 0x10;
	assert_int_not_equal(a, b);
	fake_now += 15085;
	assert_int_equal(inb(x->f, 0x61) & 0x10, a);
}

static void test_mode2_new_count_at_period_end(void **state)
{
	struct fixture *x = *state;
	uint64_t t0 = fake_now, next;

	program(x, 0, 0x34, 1000);
	x->rises = 0;
	fake_now = at_tick(t0, 300);
	outb(x->f, 0x40, 100);
	outb(x->f, 0x40, 0);
	/* The current period still ends at 1000. */
	fake_now = at_tick(t0, 900);
	assert_int_equal(read_latched(x, 0), 100);
	assert_int_equal(read_status(x, 0) & 0x40, 0x40);   /* not loaded yet */
	assert_int_equal(i8254_poll(x->pit, fake_now), at_tick(t0, 1000));
	fake_now = at_tick(t0, 1000);
	next = i8254_poll(x->pit, fake_now);
	assert_int_equal(x->rises, 1);
	/* The new period runs on the same ticks. */
	assert_int_equal(next, at_tick(t0, 1100));
	fake_now = at_tick(t0, 1050);
	assert_int_equal(read_latched(x, 0), 50);
	assert_int_equal(read_status(x, 0) & 0x40, 0);
}

static void test_mode4_strobe(void **state)
{
	struct fixture *x = *state;
	uint64_t t0 = fake_now;

	program(x, 0, 0x38, 20);
	assert_true(x->level);
	x->rises = 0;
	assert_int_equal(i8254_poll(x->pit, fake_now), at_tick(t0, 21));
	fake_now = at_tick(t0, 20);
	assert_int_equal(read_status(x, 0) & 0x80, 0);     /* the strobe */
	fake_now = at_tick(t0, 21);
	assert_int_equal(i8254_poll(x->pit, fake_now), UINT64_MAX);
	assert_int_equal(x->rises, 1);
	assert_true(x->level);
	/* A slow poll that missed the whole strobe still sees its edge. */
	program(x, 0, 0x38, 20);
	t0 = fake_now;
	fake_now = at_tick(t0, 500);
	i8254_poll(x->pit, fake_now);
	assert_int_equal(x->rises, 2);
}

static void test_hostile(void **state)
{
	struct fixture *x = *state;
	uint64_t t0, next;

	/* The control register cannot be read; wide reads split. */
	assert_int_equal(inb(x->f, 0x43), 0xFF);
	assert_int_equal(pio_in(x->f, 0x43, 2), 0xFFFF);
	assert_int_equal(pio_in(x->f, 0x61, 4) & 0xFFFFFF00, 0xFFFFFF00);
	/* Count 1 in mode 2 runs as 2; modes 6 and 7 are 2 and 3. */
	program(x, 0, 0x3C, 1);              /* mode 6 */
	t0 = fake_now;
	next = i8254_poll(x->pit, fake_now);
	assert_int_equal(next, at_tick(t0, 2));
	assert_int_equal(read_status(x, 0) & 0x0E, 0x0C);
	program(x, 0, 0x3E, 1);              /* mode 7 */
	assert_int_equal(read_status(x, 0) & 0x3F, 0x3E);
	/* Invalid BCD digits wrap instead of overflowing. */
	program(x, 1, 0x71, 0xFFFF);
	assert_true(read_latched(x, 1) <= 0x9999);
	/* Time going backwards is "no time passed". */
	program(x, 0, 0x34, 1000);
	t0 = fake_now;
	assert_int_equal(i8254_poll(x->pit, t0 - 1000000), at_tick(t0, 1000));
	assert_int_equal(i8254_poll(x->pit, 0), at_tick(t0, 1000));
	/* Far in the future: nothing overflows. */
	fake_now = UINT64_MAX - 10;
	next = i8254_poll(x->pit, fake_now);
	assert_true(next > fake_now);
	(void)read_latched(x, 0);
	/* Word writes to the counters: two bytes to consecutive ports. */
	pio_out(x->f, 0x42, 2, 0xB0FF);
	assert_int_equal(read_status(x, 2) & 0x3F, 0x30);
}

static void test_second_instance_refused(void **state)
{
	struct fixture *x = *state;

	assert_null(i8254_create(&x->f->p, fake_clock));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_mode2_periodic),
		T(test_mode0_oneshot),
		T(test_mode3_square),
		T(test_latch_and_readback),
		T(test_access_modes_and_bcd),
		T(test_port61_channel2),
		T(test_refresh_toggle),
		T(test_mode2_new_count_at_period_end),
		T(test_mode4_strobe),
		T(test_hostile),
		T(test_second_instance_refused),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
