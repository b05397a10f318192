#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "devices/msi.h"

/* The message address/data decode to: decoded, and every field as want. */
static void expect_msg(uint64_t address, uint32_t data, struct apic_msg want)
{
	struct apic_msg m;

	assert_true(msi_decode(address, data, &m));
	assert_int_equal(m.dest, want.dest);
	assert_int_equal(m.logical, want.logical);
	assert_int_equal(m.vector, want.vector);
	assert_int_equal(m.delivery_mode, want.delivery_mode);
	assert_int_equal(m.level, want.level);
	assert_int_equal(m.trigger_level, want.trigger_level);
	assert_int_equal(m.shorthand, want.shorthand);
	assert_ptr_equal(m.sender, want.sender);
}

/* What Linux's x86 MSI code writes for vector 0x41 to APIC ID 3,
 * physical, fixed, edge. */
static void test_physical_fixed_edge(void **state)
{
	(void)state;
	expect_msg(0xFEE03000ull, 0x0041,
		   (struct apic_msg){ .dest = 3, .vector = 0x41, .delivery_mode = APIC_DELIVERY_FIXED,
				      .level = true, .shorthand = APIC_SHORTHAND_NONE });
}

static void test_logical_lowest_level(void **state)
{
	(void)state;
	/* Destination 0xA5, redirection hint and logical mode; lowest
	 * priority, level trigger, assert. */
	expect_msg(0xFEEA500Cull, 0xC1EE,
		   (struct apic_msg){ .dest = 0xA5, .logical = true, .vector = 0xEE,
				      .delivery_mode = APIC_DELIVERY_LOWEST, .level = true,
				      .trigger_level = true, .shorthand = APIC_SHORTHAND_NONE });
}

static void test_nmi_and_extint(void **state)
{
	struct apic_msg m;

	(void)state;
	assert_true(msi_decode(0xFEE00000ull, 0x0400, &m));
	assert_int_equal(m.delivery_mode, APIC_DELIVERY_NMI);
	assert_true(msi_decode(0xFEEFF000ull, 0x0700, &m));
	assert_int_equal(m.delivery_mode, APIC_DELIVERY_EXTINT);
	assert_int_equal(m.dest, 0xFF);
}

static void test_not_an_interrupt(void **state)
{
	struct apic_msg m = { .vector = 0x77 };

	(void)state;
	/* Outside the window: ordinary memory, a high address, the
	 * neighbouring megabytes. */
	assert_false(msi_decode(0x00001000ull, 0x41, &m));
	assert_false(msi_decode(0x1FEE00000ull, 0x41, &m));
	assert_false(msi_decode(0xFED00000ull, 0x41, &m));
	assert_false(msi_decode(0xFEF00000ull, 0x41, &m));
	/* Reserved, INIT and STARTUP delivery modes. */
	assert_false(msi_decode(0xFEE00000ull, 0x0341, &m));
	assert_false(msi_decode(0xFEE00000ull, 0x0541, &m));
	assert_false(msi_decode(0xFEE00000ull, 0x0641, &m));
	/* Nothing was filled in. */
	assert_int_equal(m.vector, 0x77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_physical_fixed_edge),
		cmocka_unit_test(test_logical_lowest_level),
		cmocka_unit_test(test_nmi_and_extint),
		cmocka_unit_test(test_not_an_interrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
