#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "devices/debug_exit.h"
#include "test_platform.h"

#define PORT 0xf4

struct fixture {
	struct fake_platform *f;
	struct debug_exit *d;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = fake_platform_new();
	x->d = debug_exit_create(&x->f->p, PORT, 4);
	assert_non_null(x->d);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	debug_exit_destroy(x->d);
	fake_platform_free(x->f);
	free(x);
	return 0;
}

static void expect_exit(struct fixture *x, uint16_t port, unsigned size, uint64_t v, int status)
{
	unsigned before = x->f->stop_calls;

	pio_out(x->f, port, size, v);
	assert_int_equal(x->f->stop_calls, before + 1);
	assert_int_equal(x->f->stop_reason, VM_STOP_GUEST_EXIT);
	assert_int_equal(x->f->stop_status, status);
	/* Always odd, so never mistaken for one of wisp's own statuses. */
	assert_int_equal(x->f->stop_status & 1, 1);
}

static void test_status(void **state)
{
	struct fixture *x = *state;

	expect_exit(x, PORT, 1, 0, 1);
	expect_exit(x, PORT, 1, 1, 3);
	expect_exit(x, PORT, 1, 0x10, 0x21);
	expect_exit(x, PORT, 1, 0xff, 0x1ff);
	expect_exit(x, PORT, 2, 0x1234, 0x2469);
	expect_exit(x, PORT, 4, 0x31, 0x63);
	expect_exit(x, PORT, 4, 0x12345678, 0x2468acf1);
	expect_exit(x, PORT, 4, 0x7fffffff, -1);
	/* The top bit of a 32-bit value falls off. */
	expect_exit(x, PORT, 4, 0x80000000, 1);
	/* Any port of the range. */
	expect_exit(x, PORT + 3, 1, 2, 5);
}

static void test_reads(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(pio_in(x->f, PORT, 1), 0xff);
	assert_int_equal(pio_in(x->f, PORT, 2), 0xffff);
	assert_int_equal(pio_in(x->f, PORT, 4), 0xffffffff);
	assert_int_equal(x->f->stop_calls, 0);
}

static void test_bad_ranges(void **state)
{
	struct fixture *x = *state;

	assert_null(debug_exit_create(&x->f->p, 0x500, 0));
	assert_null(debug_exit_create(&x->f->p, 0xfffe, 4));
	assert_null(debug_exit_create(&x->f->p, PORT + 2, 1));
	assert_int_equal(pio_in(x->f, 0x4f4, 1), 0xff);
	pio_out(x->f, 0x4f4, 1, 1);
	assert_int_equal(x->f->stop_calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_ranges, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
