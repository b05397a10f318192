#include "fixtures.h"

#include "loader/e820.h"

struct want {
	uint64_t addr, size;
	uint32_t type;
};

static void check_map(uint64_t ram, const struct want *want, size_t nwant)
{
	struct guest_mem *mem = mem_new(ram);
	struct e820_entry map[E820_MAX_ENTRIES];
	uint64_t ram_total = 0;
	size_t n;

	memset(map, 0xEE, sizeof(map));
	n = e820_build(mem, map, E820_MAX_ENTRIES);
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(map[i].addr, want[i].addr);
		assert_int_equal(map[i].size, want[i].size);
		assert_int_equal(map[i].type, want[i].type);
		if (i)  /* ascending, no overlap */
			assert_true(map[i].addr >= map[i - 1].addr + map[i - 1].size);
		if (map[i].type == E820_RAM) {
			ram_total += map[i].size;
			/* Every RAM entry is really backed. */
			assert_true(guest_mem_is_ram(mem, map[i].addr, map[i].size));
		}
	}
	/* All RAM but the reserved 0x9FC00..1 MiB is reported. */
	assert_int_equal(ram_total, ram - (HIGH_MEMORY_START - EBDA_START));
	mem_free(mem);
}

static void test_64m(void **state)
{
	const struct want w[] = {
		{ 0, EBDA_START, E820_RAM },
		{ EBDA_START, HIGH_MEMORY_START - EBDA_START, E820_RESERVED },
		{ MiB(1), MiB(63), E820_RAM },
	};
	(void)state;
	check_map(MiB(64), w, 3);
}

static void test_2m_minimum(void **state)
{
	const struct want w[] = {
		{ 0, 0x9FC00, E820_RAM },
		{ 0x9FC00, 0x60400, E820_RESERVED },
		{ 0x100000, 0x100000, E820_RAM },
	};
	(void)state;
	check_map(MiB(2), w, 3);
}

static void test_3g_fills_low(void **state)
{
	const struct want w[] = {
		{ 0, EBDA_START, E820_RAM },
		{ EBDA_START, HIGH_MEMORY_START - EBDA_START, E820_RESERVED },
		{ MiB(1), GiB(3) - MiB(1), E820_RAM },
	};
	(void)state;
	check_map(GiB(3), w, 3);
}

static void test_3g_plus_page_goes_high(void **state)
{
	const struct want w[] = {
		{ 0, EBDA_START, E820_RAM },
		{ EBDA_START, HIGH_MEMORY_START - EBDA_START, E820_RESERVED },
		{ MiB(1), GiB(3) - MiB(1), E820_RAM },
		{ GiB(4), 0x1000, E820_RAM },
	};
	(void)state;
	check_map(GiB(3) + 0x1000, w, 4);
}

static void test_8g(void **state)
{
	const struct want w[] = {
		{ 0, EBDA_START, E820_RAM },
		{ EBDA_START, HIGH_MEMORY_START - EBDA_START, E820_RESERVED },
		{ MiB(1), PCI_HOLE_START - MiB(1), E820_RAM },
		{ HIGH_RAM_START, GiB(8) - PCI_HOLE_START, E820_RAM },
	};
	(void)state;
	check_map(GiB(8), w, 4);
}

/* Like snprintf: the count of the whole map, only max entries written. */
static void test_truncated_output(void **state)
{
	struct guest_mem *mem = mem_new(GiB(8));
	struct e820_entry map[3];

	(void)state;
	memset(map, 0, sizeof(map));
	assert_int_equal(e820_build(mem, map, 2), 4);
	assert_int_equal(map[1].type, E820_RESERVED);
	assert_int_equal(map[2].size, 0);  /* untouched */
	assert_int_equal(e820_build(mem, NULL, 0), 4);
	mem_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_64m),
		cmocka_unit_test(test_2m_minimum),
		cmocka_unit_test(test_3g_fills_low),
		cmocka_unit_test(test_3g_plus_page_goes_high),
		cmocka_unit_test(test_8g),
		cmocka_unit_test(test_truncated_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
