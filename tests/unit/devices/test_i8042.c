#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "devices/i8042.h"
#include "test_platform.h"
#include "vmm/memory_map.h"

#define DATA   0x60
#define STATUS 0x64
#define CMD    0x64

#define STR_OBF  0x01
#define STR_SYS  0x04
#define STR_CMD  0x08
#define STR_AUX  0x20

struct fixture {
	struct fake_platform *f;
	struct i8042 *k;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = fake_platform_new();
	x->k = i8042_create(&x->f->p);
	assert_non_null(x->k);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	i8042_destroy(x->k);
	fake_platform_free(x->f);
	free(x);
	return 0;
}

/* Issue a controller command and collect its one-byte reply. */
static uint8_t command_reply(struct fixture *x, uint8_t cmd)
{
	outb(x->f, CMD, cmd);
	assert_true(inb(x->f, STATUS) & STR_OBF);
	return inb(x->f, DATA);
}

static void test_idle_status(void **state)
{
	struct fixture *x = *state;
	uint8_t st = inb(x->f, STATUS);

	assert_int_equal(st & STR_OBF, 0);
	assert_int_equal(st & 0x02, 0);    /* input buffer never busy */
	assert_int_equal(st & 0x10, 0x10); /* not inhibited */
	assert_false(x->f->irq[IRQ_I8042]);
}

static void test_self_test(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(command_reply(x, 0xaa), 0x55);
	assert_int_equal(inb(x->f, STATUS) & (STR_OBF | STR_SYS | STR_CMD), STR_SYS | STR_CMD);
	assert_int_equal(command_reply(x, 0xab), 0x00);
	/* No mouse port: the interface test reports a stuck clock line. */
	assert_int_not_equal(command_reply(x, 0xa9), 0x00);
}

static void test_command_byte(void **state)
{
	struct fixture *x = *state;
	uint8_t ctr = command_reply(x, 0x20);

	assert_int_equal(ctr & 0x01, 0x01); /* keyboard interrupt on */
	outb(x->f, CMD, 0x60);
	outb(x->f, DATA, 0x65);
	assert_int_equal(inb(x->f, STATUS) & (STR_OBF | STR_CMD), 0);
	assert_int_equal(command_reply(x, 0x20), 0x65);

	outb(x->f, CMD, 0xad);
	assert_int_equal(command_reply(x, 0x20) & 0x10, 0x10);
	outb(x->f, CMD, 0xae);
	assert_int_equal(command_reply(x, 0x20) & 0x10, 0x00);
	outb(x->f, CMD, 0xa8);
	assert_int_equal(command_reply(x, 0x20) & 0x20, 0x00);
	outb(x->f, CMD, 0xa7);
	assert_int_equal(command_reply(x, 0x20) & 0x20, 0x20);

	/* The rest of the controller RAM. */
	outb(x->f, CMD, 0x65);
	outb(x->f, DATA, 0x3c);
	assert_int_equal(command_reply(x, 0x25), 0x3c);
	assert_int_equal(command_reply(x, 0x20) & 0x20, 0x20);
}

static void test_irq(void **state)
{
	struct fixture *x = *state;

	outb(x->f, CMD, 0xaa);
	assert_true(x->f->irq[IRQ_I8042]);
	assert_int_equal(inb(x->f, DATA), 0x55);
	assert_false(x->f->irq[IRQ_I8042]);

	outb(x->f, CMD, 0x60);
	outb(x->f, DATA, 0x44); /* interrupts off */
	outb(x->f, CMD, 0xaa);
	assert_false(x->f->irq[IRQ_I8042]);
	assert_int_equal(inb(x->f, STATUS) & STR_OBF, STR_OBF);
	/* Turning the interrupt on with data waiting raises it. */
	outb(x->f, CMD, 0x60);
	outb(x->f, DATA, 0x45);
	assert_true(x->f->irq[IRQ_I8042]);
}

static void test_reset_pulse(void **state)
{
	struct fixture *x = *state;

	outb(x->f, CMD, 0xff); /* pulse nothing */
	assert_int_equal(x->f->stop_calls, 0);
	outb(x->f, CMD, 0xfe);
	assert_int_equal(x->f->stop_calls, 1);
	assert_int_equal(x->f->stop_reason, VM_STOP_RESET);
	assert_int_equal(x->f->stop_status, 0);
}

static void test_output_port(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(command_reply(x, 0xd0) & 0x01, 0x01);
	outb(x->f, CMD, 0xd1);
	outb(x->f, DATA, 0xdf); /* A20 on, not reset */
	assert_int_equal(x->f->stop_calls, 0);
	assert_int_equal(command_reply(x, 0xd0), 0xdf);
	outb(x->f, CMD, 0xd1);
	outb(x->f, DATA, 0xde);
	assert_int_equal(x->f->stop_calls, 1);
	assert_int_equal(x->f->stop_reason, VM_STOP_RESET);
}

static void test_no_devices(void **state)
{
	struct fixture *x = *state;

	/* A byte for the keyboard is refused at once ("resend"). */
	outb(x->f, DATA, 0xf2);
	assert_int_equal(inb(x->f, STATUS) & STR_OBF, STR_OBF);
	assert_int_equal(inb(x->f, DATA), 0xfe);
	/* Nothing queued: the last value again, and OBF stays clear. */
	assert_int_equal(inb(x->f, DATA), 0xfe);
	assert_int_equal(inb(x->f, STATUS) & STR_OBF, 0);

	/* The AUX loop answers without the AUX flag: no mouse port. */
	outb(x->f, CMD, 0xd3);
	outb(x->f, DATA, 0x5a);
	assert_int_equal(inb(x->f, STATUS) & (STR_OBF | STR_AUX), STR_OBF);
	assert_int_equal(inb(x->f, DATA), 0x5a);

	/* Bytes for the mouse vanish. */
	outb(x->f, CMD, 0xd4);
	outb(x->f, DATA, 0xff);
	assert_int_equal(inb(x->f, STATUS) & STR_OBF, 0);

	/* D2 echoes as keyboard data. */
	outb(x->f, CMD, 0xd2);
	outb(x->f, DATA, 0x1c);
	assert_int_equal(inb(x->f, DATA), 0x1c);
}

static void test_new_command_cancels_pending(void **state)
{
	struct fixture *x = *state;

	outb(x->f, CMD, 0xd1);
	outb(x->f, CMD, 0xaa);
	assert_int_equal(inb(x->f, DATA), 0x55);
	/* This byte goes to the (absent) keyboard, not the output port. */
	outb(x->f, DATA, 0x00);
	assert_int_equal(x->f->stop_calls, 0);
	assert_int_equal(inb(x->f, DATA), 0xfe);
}

static void test_wide_access(void **state)
{
	struct fixture *x = *state;

	outb(x->f, CMD, 0xaa);
	assert_int_equal(pio_in(x->f, DATA, 2), 0xff55);
	/* 0x61 and 0x65 are not ours. */
	assert_int_equal(pio_in(x->f, 0x61, 1), 0xff);
	assert_int_equal(pio_in(x->f, 0x65, 1), 0xff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_idle_status),
		T(test_self_test),
		T(test_command_byte),
		T(test_irq),
		T(test_reset_pulse),
		T(test_output_port),
		T(test_no_devices),
		T(test_new_command_cancels_pending),
		T(test_wide_access),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
