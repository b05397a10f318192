#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmm/size.h"

static void sizes_with_units(void **state)
{
	uint64_t v;

	assert_int_equal(parse_size("512M", &v), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(parse_size("1G", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(parse_size("1g", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(parse_size("64k", &v), 0);
	assert_int_equal(v, 64ull << 10);
	assert_int_equal(parse_size("2T", &v), 0);
	assert_int_equal(v, 2ull << 40);
	assert_int_equal(parse_size("256MiB", &v), 0);
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(parse_size("1GB", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(parse_size("134217728", &v), 0);
	assert_int_equal(v, 134217728ull);
	assert_int_equal(parse_size("4096B", &v), 0);
	assert_int_equal(v, 4096);
}

static void bad_sizes(void **state)
{
	uint64_t v = 7;
	static const char *const bad[] = {
		"", "M", "-1G", "+1G", " 1G", "1G ", "1.5G", "12Q", "1GG", "1Mi",
		"0x100", "99999999999999999999", "17179869184G", NULL,
	};

	for (int i = 0; bad[i]; i++)
		assert_int_equal(parse_size(bad[i], &v), -1);
	assert_int_equal(parse_size(NULL, &v), -1);
	assert_int_equal(v, 7);
}

static void unsigned_numbers_in_range(void **state)
{
	unsigned v;

	assert_int_equal(parse_uint("4", 1, 64, &v), 0);
	assert_int_equal(v, 4);
	assert_int_equal(parse_uint("64", 1, 64, &v), 0);
	assert_int_equal(parse_uint("65", 1, 64, &v), -1);
	assert_int_equal(parse_uint("0", 1, 64, &v), -1);
	assert_int_equal(parse_uint("-1", 1, 64, &v), -1);
	assert_int_equal(parse_uint("2x", 1, 64, &v), -1);
	assert_int_equal(parse_uint("", 1, 64, &v), -1);
}

static void seconds(void **state)
{
	double v;

	assert_int_equal(parse_seconds("30", &v), 0);
	assert_true(v == 30.0);
	assert_int_equal(parse_seconds("0.5", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(parse_seconds("0", &v), -1);
	assert_int_equal(parse_seconds("-3", &v), -1);
	assert_int_equal(parse_seconds("nan", &v), -1);
	assert_int_equal(parse_seconds("inf", &v), -1);
	assert_int_equal(parse_seconds("3s", &v), -1);
	assert_int_equal(parse_seconds("1e99", &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes_with_units),
		cmocka_unit_test(bad_sizes),
		cmocka_unit_test(unsigned_numbers_in_range),
		cmocka_unit_test(seconds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
