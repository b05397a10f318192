#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "devices/msi.h"

/* What Linux's x86 MSI code writes for vector 0x41 to APIC ID 3,
 * physical, fixed, edge. */
static void test_physical_fixed_edge(void **state)
{
	struct apic_msg m;

	(void)state;
	assert_true(msi_decode(0xFEE03000ull, 0x0041, &m));
	assert_int_equal(m.dest, 3);
	assert_false(m.logical);
	assert_int_equal(m.vector, 0x41);
	assert_int_equal(m.delivery_mode, APIC_DELIVERY_FIXED);
	assert_true(m.level);
	assert_false(m.trigger_level);
	assert_int_equal(m.shorthand, APIC_SHORTHAND_NONE);
	assert_null(m.sender);
}

static void test_logical_lowest_level(void **state)
{
	struct apic_msg m;

	(void)state;
	/* Destination 0xA5, redirection hint and logical mode; lowest
	 * priority, level trigger, assert. */
	assert_true(msi_decode(0xFEEA500Cull, 0xC1EE, &m));
	assert_int_equal(m.dest, 0xA5);
	assert_true(m.logical);
	assert_int_equal(m.vector, 0xEE);
	assert_int_equal(m.delivery_mode, APIC_DELIVERY_LOWEST);
	assert_true(m.trigger_level);
	assert_true(m.level);
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
