#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmm/bus.h"

struct recorder {
	uint64_t last_offset;
	unsigned last_size;
	uint64_t last_value;
	unsigned reads, writes;
	uint64_t read_value;
};

static uint64_t rec_read(void *opaque, uint64_t offset, unsigned size)
{
	struct recorder *r = opaque;
	r->reads++;
	r->last_offset = offset;
	r->last_size = size;
	return r->read_value;
}

static void rec_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct recorder *r = opaque;
	r->writes++;
	r->last_offset = offset;
	r->last_size = size;
	r->last_value = value;
}

static const struct bus_ops rec_ops = { rec_read, rec_write };

static void dispatch_goes_to_the_right_device_with_offsets(void **state)
{
	struct bus bus;
	struct recorder a = { .read_value = 0x11 }, b = { .read_value = 0x2222 };
	uint64_t v;

	bus_init(&bus, "pio");
	assert_int_equal(bus_register(&bus, 0x3f8, 8, &rec_ops, &a, "uart"), 0);
	assert_int_equal(bus_register(&bus, 0x70, 2, &rec_ops, &b, "rtc"), 0);

	assert_true(bus_read(&bus, 0x3fd, 1, &v));
	assert_int_equal(v, 0x11);
	assert_int_equal(a.last_offset, 5);
	assert_int_equal(a.last_size, 1);

	assert_true(bus_write(&bus, 0x71, 2, 0xbeef));
	assert_int_equal(b.last_offset, 1);
	assert_int_equal(b.last_value, 0xbeef);
	assert_int_equal(a.writes, 0);
	bus_destroy(&bus);
}

static void read_values_are_truncated_to_the_access_size(void **state)
{
	struct bus bus;
	struct recorder a = { .read_value = 0x123456789abcdef0ull };
	uint64_t v;

	bus_init(&bus, "mmio");
	assert_int_equal(bus_register(&bus, 0x1000, 0x100, &rec_ops, &a, "dev"), 0);
	bus_read(&bus, 0x1000, 1, &v);
	assert_int_equal(v, 0xf0);
	bus_read(&bus, 0x1000, 2, &v);
	assert_int_equal(v, 0xdef0);
	bus_read(&bus, 0x1000, 4, &v);
	assert_int_equal(v, 0x9abcdef0);
	bus_read(&bus, 0x1000, 8, &v);
	assert_int_equal(v, 0x123456789abcdef0ull);
	bus_destroy(&bus);
}

static void unassigned_reads_are_all_ones_and_writes_dropped(void **state)
{
	struct bus bus;
	struct recorder a = { 0 };
	uint64_t v;

	bus_init(&bus, "pio");
	assert_int_equal(bus_register(&bus, 0x60, 1, &rec_ops, &a, "kbd"), 0);
	assert_false(bus_read(&bus, 0x61, 1, &v));
	assert_int_equal(v, 0xff);
	assert_false(bus_read(&bus, 0x5f, 2, &v));
	assert_int_equal(v, 0xffff);
	assert_false(bus_read(&bus, 0x1234, 4, &v));
	assert_int_equal(v, 0xffffffff);
	assert_false(bus_read(&bus, 0, 8, &v));
	assert_int_equal(v, ~0ull);
	assert_false(bus_write(&bus, 0x61, 1, 0));
	assert_int_equal(a.writes + a.reads, 0);
	bus_destroy(&bus);
}

static void overlapping_ranges_are_refused(void **state)
{
	struct bus bus;
	struct recorder a = { 0 };

	bus_init(&bus, "pio");
	assert_int_equal(bus_register(&bus, 0x100, 0x10, &rec_ops, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x10f, 1, &rec_ops, &a, "tail"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0xf0, 0x11, &rec_ops, &a, "head"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x0, 0x1000, &rec_ops, &a, "cover"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x104, 2, &rec_ops, &a, "inside"), -EEXIST);
	/* Touching is not overlapping. */
	assert_int_equal(bus_register(&bus, 0xf0, 0x10, &rec_ops, &a, "before"), 0);
	assert_int_equal(bus_register(&bus, 0x110, 0x10, &rec_ops, &a, "after"), 0);
	assert_int_equal(bus.count, 3);
	assert_false(bus_range_free(&bus, 0x10f, 1));
	assert_false(bus_range_free(&bus, 0x0, 0x1000));
	assert_true(bus_range_free(&bus, 0x120, 0x10));
	assert_true(bus_range_free(&bus, 0x0, 0xf0));
	bus_destroy(&bus);
}

static void empty_and_wrapping_ranges_are_refused(void **state)
{
	struct bus bus;
	struct recorder a = { 0 };

	bus_init(&bus, "mmio");
	assert_int_equal(bus_register(&bus, 0x100, 0, &rec_ops, &a, "empty"), -EINVAL);
	assert_int_equal(bus_register(&bus, ~0ull - 1, 4, &rec_ops, &a, "wrap"), -EINVAL);
	assert_int_equal(bus_register(&bus, ~0ull, 1, &rec_ops, &a, "last byte"), 0);
	assert_non_null(bus_find(&bus, ~0ull));
	bus_destroy(&bus);
}

static void many_ranges_in_any_order_stay_sorted(void **state)
{
	struct bus bus;
	struct recorder rs[64] = { 0 };
	uint64_t v;

	bus_init(&bus, "pio");
	for (unsigned i = 0; i < 64; i++) {
		unsigned slot = (i * 37) % 64;   /* a permutation of 0..63 */
		rs[slot].read_value = slot;
		assert_int_equal(bus_register(&bus, slot * 0x10, 8, &rec_ops, &rs[slot], "r"), 0);
	}
	for (unsigned i = 1; i < bus.count; i++)
		assert_true(bus.ranges[i - 1].base < bus.ranges[i].base);
	for (unsigned slot = 0; slot < 64; slot++) {
		assert_true(bus_read(&bus, slot * 0x10 + 7, 1, &v));
		assert_int_equal(v, slot);
		assert_false(bus_read(&bus, slot * 0x10 + 8, 1, &v));
	}
	bus_destroy(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dispatch_goes_to_the_right_device_with_offsets),
		cmocka_unit_test(read_values_are_truncated_to_the_access_size),
		cmocka_unit_test(unassigned_reads_are_all_ones_and_writes_dropped),
		cmocka_unit_test(overlapping_ranges_are_refused),
		cmocka_unit_test(empty_and_wrapping_ranges_are_refused),
		cmocka_unit_test(many_ranges_in_any_order_stay_sorted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
