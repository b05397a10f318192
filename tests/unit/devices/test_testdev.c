#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "devices/testdev.h"
#include "test_platform.h"
#include "vmm/memory_map.h"

struct fixture {
	struct fake_platform *f;
	struct testdev *t;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = fake_platform_new();
	x->t = testdev_create(&x->f->p);
	assert_non_null(x->t);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	testdev_destroy(x->t);
	fake_platform_free(x->f);
	free(x);
	return 0;
}

static void test_pio_scratch(void **state)
{
	struct fixture *x = *state;

	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(inb(x->f, (uint16_t)(0xe0 + i)), 0);
	pio_out(x->f, 0xe0, 4, 0x11223344);
	assert_int_equal(inb(x->f, 0xe0), 0x44);
	assert_int_equal(inb(x->f, 0xe1), 0x33);
	assert_int_equal(pio_in(x->f, 0xe2, 2), 0x1122);
	assert_int_equal(pio_in(x->f, 0xe1, 4), 0x00112233);
	pio_out(x->f, 0xe5, 2, 0xbeef);
	assert_int_equal(pio_in(x->f, 0xe4, 4), 0x00beef00);
	/* Hanging over the end: the bytes that fit are kept, the rest
	 * read as 0xff. */
	pio_out(x->f, 0xe6, 4, 0xaabbccdd);
	assert_int_equal(pio_in(x->f, 0xe6, 4), 0xffffccdd);
	assert_int_equal(pio_in(x->f, 0xe7, 2), 0xffcc);
	assert_int_equal(inb(x->f, 0xe8), 0xff);
}

static void test_mmio_scratch(void **state)
{
	struct fixture *x = *state;
	const uint64_t b = TESTDEV_MMIO_BASE;

	mmio_out(x->f, b + 0x10, 8, 0x0123456789abcdefull);
	assert_int_equal(mmio_in(x->f, b + 0x10, 8), 0x0123456789abcdefull);
	assert_int_equal(mmio_in(x->f, b + 0x10, 4), 0x89abcdef);
	assert_int_equal(mmio_in(x->f, b + 0x14, 2), 0x4567);
	assert_int_equal(mmio_in(x->f, b + 0x17, 1), 0x01);
	assert_int_equal(mmio_in(x->f, b + 0x13, 4), 0x23456789);
	mmio_out(x->f, b + 0x11, 1, 0x55);
	assert_int_equal(mmio_in(x->f, b + 0x10, 8), 0x0123456789ab55efull);
	/* Clipped at the end of the window. */
	mmio_out(x->f, b + TESTDEV_MMIO_SIZE - 4, 8, 0x1111111122222222ull);
	assert_int_equal(mmio_in(x->f, b + TESTDEV_MMIO_SIZE - 4, 8), 0xffffffff22222222ull);
	assert_int_equal(mmio_in(x->f, b + TESTDEV_MMIO_SIZE - 1, 1), 0x22);
	assert_int_equal(mmio_in(x->f, b + TESTDEV_MMIO_SIZE, 1), 0xff);
	assert_int_equal(mmio_in(x->f, b - 1, 1), 0xff);
	/* PIO and MMIO scratch are separate. */
	assert_int_equal(inb(x->f, 0xe0), 0);
}

static void test_counters(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(testdev_pio_reads(x->t), 0);
	assert_int_equal(testdev_pio_writes(x->t), 0);
	assert_int_equal(testdev_mmio_reads(x->t), 0);
	assert_int_equal(testdev_mmio_writes(x->t), 0);
	outb(x->f, 0xe3, 1);
	outb(x->f, 0xe7, 1);
	inb(x->f, 0xe0);
	mmio_out(x->f, TESTDEV_MMIO_BASE, 4, 1);
	mmio_in(x->f, TESTDEV_MMIO_BASE + 8, 8);
	mmio_in(x->f, TESTDEV_MMIO_BASE + 0xfff, 8);
	mmio_in(x->f, TESTDEV_MMIO_BASE + 0x1000, 8); /* not ours */
	assert_int_equal(testdev_pio_reads(x->t), 1);
	assert_int_equal(testdev_pio_writes(x->t), 2);
	assert_int_equal(testdev_mmio_reads(x->t), 2);
	assert_int_equal(testdev_mmio_writes(x->t), 1);
}

static void test_conflict(void **state)
{
	struct fixture *x = *state;
	struct fake_platform *f = fake_platform_new();
	static const struct bus_ops none = { 0 };

	/* The MMIO window is checked before the ports are claimed. */
	assert_int_equal(bus_register(&f->mmio, TESTDEV_MMIO_BASE + 0x800, 4, &none, NULL, "x"), 0);
	assert_null(testdev_create(&f->p));
	assert_null(bus_find(&f->pio, 0xe0));
	fake_platform_free(f);
	assert_null(testdev_create(&x->f->p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pio_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
