#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/guest_mem.h"

static void small_guest_is_one_region(void **state)
{
	struct guest_mem mem;

	assert_int_equal(guest_mem_init(&mem, MiB(64)), 0);
	assert_int_equal(mem.nregions, 1);
	assert_int_equal(mem.regions[0].gpa, 0);
	assert_int_equal(mem.regions[0].size, MiB(64));
	assert_int_equal(guest_mem_end(&mem), MiB(64));
	guest_mem_destroy(&mem);
}

static void large_guest_skips_the_pci_hole(void **state)
{
	struct guest_mem mem;

	assert_int_equal(guest_mem_init(&mem, GiB(4)), 0);
	assert_int_equal(mem.nregions, 2);
	assert_int_equal(mem.regions[0].size, PCI_HOLE_START);
	assert_int_equal(mem.regions[1].gpa, HIGH_RAM_START);
	assert_int_equal(mem.regions[1].size, GiB(4) - PCI_HOLE_START);
	assert_int_equal(guest_mem_end(&mem), HIGH_RAM_START + GiB(1));
	assert_null(guest_mem_ptr(&mem, PCI_HOLE_START, 1));
	assert_null(guest_mem_ptr(&mem, LAPIC_BASE, 4));
	assert_non_null(guest_mem_ptr(&mem, HIGH_RAM_START, 4096));
	/* One host mapping: the high region follows the low one. */
	assert_ptr_equal(mem.regions[1].hva, mem.regions[0].hva + PCI_HOLE_START);
	guest_mem_destroy(&mem);
}

static void exactly_the_low_limit(void **state)
{
	struct guest_mem mem;

	assert_int_equal(guest_mem_init(&mem, PCI_HOLE_START), 0);
	assert_int_equal(mem.nregions, 1);
	guest_mem_destroy(&mem);
}

static void bad_sizes_refused(void **state)
{
	struct guest_mem mem;

	assert_int_equal(guest_mem_init(&mem, 0), -EINVAL);
	assert_int_equal(guest_mem_init(&mem, MiB(1)), -EINVAL);
	assert_int_equal(guest_mem_init(&mem, MiB(64) + 1), -EINVAL);
	assert_int_equal(guest_mem_init(&mem, GUEST_RAM_MAX + 4096), -EINVAL);
}

static void ranges_are_bounds_checked(void **state)
{
	struct guest_mem mem;
	uint8_t buf[16] = { 1, 2, 3 }, back[16];

	assert_int_equal(guest_mem_init(&mem, MiB(4)), 0);
	assert_non_null(guest_mem_ptr(&mem, 0, MiB(4)));
	assert_non_null(guest_mem_ptr(&mem, MiB(4) - 1, 1));
	assert_null(guest_mem_ptr(&mem, MiB(4) - 1, 2));
	assert_null(guest_mem_ptr(&mem, MiB(4), 1));
	assert_null(guest_mem_ptr(&mem, 0, 0));
	/* Sums that wrap around must not fool the check. */
	assert_null(guest_mem_ptr(&mem, 16, ~0ull - 8));
	assert_null(guest_mem_ptr(&mem, ~0ull - 4, 16));

	assert_int_equal(guest_mem_write(&mem, 0x1000, buf, sizeof(buf)), 0);
	assert_int_equal(guest_mem_read(&mem, 0x1000, back, sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	assert_int_equal(guest_mem_write(&mem, MiB(4) - 8, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(guest_mem_read(&mem, MiB(4) - 8, back, sizeof(back)), -EFAULT);
	assert_true(guest_mem_is_ram(&mem, 0, 4096));
	assert_false(guest_mem_is_ram(&mem, MiB(8), 4096));
	guest_mem_destroy(&mem);
}

static void memory_starts_zeroed(void **state)
{
	struct guest_mem mem;
	const uint8_t *p;

	assert_int_equal(guest_mem_init(&mem, MiB(2)), 0);
	p = guest_mem_ptr(&mem, 0, MiB(2));
	for (size_t i = 0; i < MiB(2); i += 4096)
		assert_int_equal(p[i], 0);
	guest_mem_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(small_guest_is_one_region),
		cmocka_unit_test(large_guest_skips_the_pci_hole),
		cmocka_unit_test(exactly_the_low_limit),
		cmocka_unit_test(bad_sizes_refused),
		cmocka_unit_test(ranges_are_bounds_checked),
		cmocka_unit_test(memory_starts_zeroed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
