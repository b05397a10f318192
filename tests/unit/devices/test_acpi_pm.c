#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "devices/acpi_pm.h"
#include "loader/acpi.h"
#include "test_platform.h"

#define STS      ACPI_PM1A_EVT_PORT
#define EN       (ACPI_PM1A_EVT_PORT + 2)
#define CNT      ACPI_PM1A_CNT_PORT
#define SCI_EN   0x0001u
#define SLP_EN   0x2000u
#define SLP_TYP(t) ((uint16_t)((t) << 10))

struct fixture {
	struct fake_platform *f;
	struct acpi_pm *pm;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = fake_platform_new();
	x->pm = acpi_pm_create(&x->f->p);
	assert_non_null(x->pm);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	acpi_pm_destroy(x->pm);
	fake_platform_free(x->f);
	free(x);
	return 0;
}

static void test_s5_powers_off(void **state)
{
	struct fixture *x = *state;

	/* What ACPICA does: SLP_TYP first, then SLP_TYP | SLP_EN. */
	pio_out(x->f, CNT, 2, SCI_EN | SLP_TYP(ACPI_S5_SLP_TYP));
	assert_int_equal(x->f->stop_calls, 0);
	pio_out(x->f, CNT, 2, SCI_EN | SLP_TYP(ACPI_S5_SLP_TYP) | SLP_EN);
	assert_int_equal(x->f->stop_calls, 1);
	assert_int_equal(x->f->stop_reason, VM_STOP_POWEROFF);
	assert_int_equal(x->f->stop_status, 0);
}

static void test_s5_byte_writes(void **state)
{
	struct fixture *x = *state;
	uint16_t v = SLP_TYP(ACPI_S5_SLP_TYP) | SLP_EN;

	pio_out(x->f, CNT, 1, v & 0xFF);
	assert_int_equal(x->f->stop_calls, 0);
	pio_out(x->f, CNT + 1, 1, v >> 8);
	assert_int_equal(x->f->stop_calls, 1);
	assert_int_equal(x->f->stop_reason, VM_STOP_POWEROFF);
}

static void test_other_types_ignored(void **state)
{
	struct fixture *x = *state;

	for (unsigned t = 0; t < 8; t++) {
		if (t == ACPI_S5_SLP_TYP)
			continue;
		pio_out(x->f, CNT, 2, SLP_TYP(t) | SLP_EN);
		/* SLP_EN is write-only; SLP_TYP sticks; SCI_EN stays. */
		assert_int_equal(pio_in(x->f, CNT, 2), SLP_TYP(t) | SCI_EN);
	}
	assert_int_equal(x->f->stop_calls, 0);
	/* S5's type without SLP_EN does nothing either. */
	pio_out(x->f, CNT, 2, SLP_TYP(ACPI_S5_SLP_TYP));
	assert_int_equal(x->f->stop_calls, 0);
}

static void test_sci_en(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(pio_in(x->f, CNT, 2), SCI_EN);
	assert_int_equal(inb(x->f, CNT) & 1, 1);
	pio_out(x->f, CNT, 2, 0);
	assert_int_equal(pio_in(x->f, CNT, 2), SCI_EN);
}

static void test_status_and_enable(void **state)
{
	struct fixture *x = *state;

	/* Nothing ever raises a status bit. */
	assert_int_equal(pio_in(x->f, STS, 2), 0);
	/* Write-1-to-clear: writing ones leaves it 0, never sets. */
	pio_out(x->f, STS, 2, 0xFFFF);
	assert_int_equal(pio_in(x->f, STS, 2), 0);
	/* Enable bits are read/write where defined. */
	pio_out(x->f, EN, 2, 0x0120);  /* PWRBTN_EN | SLPBTN_EN */
	assert_int_equal(pio_in(x->f, EN, 2), 0x0120);
	pio_out(x->f, EN, 2, 0x0002);  /* reserved: ignored */
	assert_int_equal(pio_in(x->f, EN, 2), 0);
	/* A 32-bit read covers status and enable. */
	pio_out(x->f, EN, 2, 0x0020);
	assert_int_equal(pio_in(x->f, STS, 4), 0x00200000);
	/* A 32-bit write to the event block writes both halves: clearing
	 * status and setting enable. */
	pio_out(x->f, STS, 4, 0x0100FFFF);
	assert_int_equal(pio_in(x->f, STS, 4), 0x01000000);
	assert_int_equal(x->f->stop_calls, 0);
}

static void test_port_taken(void **state)
{
	struct fixture *x = *state;

	/* A second instance cannot claim the same ports. */
	assert_null(acpi_pm_create(&x->f->p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_s5_powers_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_s5_byte_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_types_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sci_en, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_and_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_taken, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
