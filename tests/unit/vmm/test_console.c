#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/console.h"

static void raw_console_ctrl_a_x_quits(void **state)
{
	struct console con = { .raw = true };
	uint8_t out[16];
	size_t n;

	assert_false(console_filter_input(&con, (const uint8_t *)"ls\r", 3, out, &n));
	assert_int_equal(n, 3);
	assert_memory_equal(out, "ls\r", 3);
	assert_true(console_filter_input(&con, (const uint8_t *)"a\x01x", 3, out, &n));
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'a');
}

static void ctrl_a_twice_sends_one_and_split_escapes_work(void **state)
{
	struct console con = { .raw = true };
	uint8_t out[16];
	size_t n;

	assert_false(console_filter_input(&con, (const uint8_t *)"\x01\x01z", 3, out, &n));
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 0x01);
	assert_int_equal(out[1], 'z');
	/* The escape may arrive in one read and the command in the next. */
	assert_false(console_filter_input(&con, (const uint8_t *)"\x01", 1, out, &n));
	assert_int_equal(n, 0);
	assert_true(console_filter_input(&con, (const uint8_t *)"x", 1, out, &n));
	/* Unknown commands are swallowed. */
	con.escape = false;
	assert_false(console_filter_input(&con, (const uint8_t *)"\x01qy", 3, out, &n));
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'y');
}

static void piped_input_passes_through_untouched(void **state)
{
	struct console con = { .raw = false };
	uint8_t out[16];
	size_t n;

	assert_false(console_filter_input(&con, (const uint8_t *)"\x01x\n", 3, out, &n));
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\x01x\n", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(raw_console_ctrl_a_x_quits),
		cmocka_unit_test(ctrl_a_twice_sends_one_and_split_escapes_work),
		cmocka_unit_test(piped_input_passes_through_untouched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
