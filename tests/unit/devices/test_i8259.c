#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "devices/i8259.h"
#include "test_platform.h"

struct fixture {
	struct fake_platform *f;
	struct i8259 *pic;
	bool intr;
	unsigned intr_calls;
};

static void intr_changed(void *opaque, bool level)
{
	struct fixture *x = opaque;

	/* Only changes are reported. */
	assert_true(level != x->intr);
	x->intr = level;
	x->intr_calls++;
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = fake_platform_new();
	x->pic = i8259_create(&x->f->p, intr_changed, x);
	assert_non_null(x->pic);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	i8259_destroy(x->pic);
	fake_platform_free(x->f);
	free(x);
	return 0;
}

/* Linux's init_8259A(): mask, ICW1-4 on each chip, restore the masks. */
static void init_linux(struct fixture *x, bool auto_eoi)
{
	outb(x->f, 0x21, 0xFF);
	outb(x->f, 0xA1, 0xFF);
	outb(x->f, 0x20, 0x11);
	outb(x->f, 0x21, 0x30);
	outb(x->f, 0x21, 1u << 2);
	outb(x->f, 0x21, auto_eoi ? 0x03 : 0x01);
	outb(x->f, 0xA0, 0x11);
	outb(x->f, 0xA1, 0x38);
	outb(x->f, 0xA1, 0x02);
	outb(x->f, 0xA1, 0x01);
	outb(x->f, 0x21, 0x00);
	outb(x->f, 0xA1, 0x00);
}

static uint8_t read_isr(struct fixture *x, uint16_t port)
{
	outb(x->f, port, 0x0B);
	return inb(x->f, port);
}

static uint8_t read_irr(struct fixture *x, uint16_t port)
{
	outb(x->f, port, 0x0A);
	return inb(x->f, port);
}

static void eoi(struct fixture *x, uint16_t port)
{
	outb(x->f, port, 0x20);
}

static void pulse(struct fixture *x, unsigned irq)
{
	i8259_set_irq(x->pic, irq, true);
	i8259_set_irq(x->pic, irq, false);
}

static void test_power_on_masked(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(inb(x->f, 0x21), 0xFF);
	assert_int_equal(inb(x->f, 0xA1), 0xFF);
	i8259_set_irq(x->pic, 4, true);
	assert_false(i8259_has_interrupt(x->pic));
	assert_int_equal(x->intr_calls, 0);
	/* The request is latched in IRR though. */
	assert_int_equal(inb(x->f, 0x20), 0x10);
}

static void test_init_linux(void **state)
{
	struct fixture *x = *state;

	/* A request from before the initialisation is forgotten. */
	i8259_set_irq(x->pic, 4, true);
	init_linux(x, false);
	assert_int_equal(inb(x->f, 0x21), 0x00);
	assert_int_equal(inb(x->f, 0xA1), 0x00);
	assert_false(i8259_has_interrupt(x->pic));
	i8259_set_irq(x->pic, 4, false);

	pulse(x, 1);
	assert_true(i8259_has_interrupt(x->pic));
	assert_true(x->intr);
	assert_int_equal(read_irr(x, 0x20), 0x02);
	assert_int_equal(i8259_acknowledge(x->pic), 0x31);
	assert_false(x->intr);
	assert_int_equal(read_isr(x, 0x20), 0x02);
	assert_int_equal(read_irr(x, 0x20), 0x00);
	eoi(x, 0x20);
	assert_int_equal(read_isr(x, 0x20), 0x00);
	assert_false(i8259_has_interrupt(x->pic));
}

static void test_init_bios(void **state)
{
	struct fixture *x = *state;

	/* A BIOS: real-mode vectors, IRQ 0-2 open (timer, keyboard,
	 * cascade), the slave's IRQ 8 open. */
	outb(x->f, 0x20, 0x11);
	outb(x->f, 0xA0, 0x11);
	outb(x->f, 0x21, 0x08);
	outb(x->f, 0xA1, 0x70);
	outb(x->f, 0x21, 0x04);
	outb(x->f, 0xA1, 0x02);
	outb(x->f, 0x21, 0x01);
	outb(x->f, 0xA1, 0x01);
	outb(x->f, 0x21, 0xF8);
	outb(x->f, 0xA1, 0xFE);
	assert_int_equal(inb(x->f, 0x21), 0xF8);
	assert_int_equal(inb(x->f, 0xA1), 0xFE);

	pulse(x, 0);
	assert_int_equal(i8259_acknowledge(x->pic), 0x08);
	eoi(x, 0x20);
	pulse(x, 8);
	assert_true(x->intr);
	assert_int_equal(i8259_acknowledge(x->pic), 0x70);
	eoi(x, 0xA0);
	eoi(x, 0x20);
	/* Masked: latched but not presented. */
	pulse(x, 5);
	assert_false(x->intr);
	outb(x->f, 0x21, 0xD8);
	assert_true(x->intr);
	assert_int_equal(i8259_acknowledge(x->pic), 0x0D);
}

static void test_priorities_and_nesting(void **state)
{
	struct fixture *x = *state;

	init_linux(x, false);
	pulse(x, 5);
	pulse(x, 3);
	assert_int_equal(i8259_acknowledge(x->pic), 0x33);
	/* 5 waits behind 3 in service. */
	assert_false(i8259_has_interrupt(x->pic));
	/* 1 is better than 3: it nests. */
	pulse(x, 1);
	assert_true(i8259_has_interrupt(x->pic));
	assert_int_equal(i8259_acknowledge(x->pic), 0x31);
	assert_int_equal(read_isr(x, 0x20), 0x0A);
	/* Non-specific EOI retires the best in service: 1. */
	eoi(x, 0x20);
	assert_int_equal(read_isr(x, 0x20), 0x08);
	assert_false(i8259_has_interrupt(x->pic));
	eoi(x, 0x20);
	assert_true(i8259_has_interrupt(x->pic));
	assert_int_equal(i8259_acknowledge(x->pic), 0x35);

	/* Specific EOI names its level. */
	pulse(x, 6);
	outb(x->f, 0x20, 0x60 | 5);
	assert_int_equal(read_isr(x, 0x20), 0x00);
	assert_int_equal(i8259_acknowledge(x->pic), 0x36);
	outb(x->f, 0x20, 0x60 | 6);
	assert_int_equal(read_isr(x, 0x20), 0x00);
}

static void test_rotation(void **state)
{
	struct fixture *x = *state;

	init_linux(x, false);
	pulse(x, 3);
	assert_int_equal(i8259_acknowledge(x->pic), 0x33);
	/* Rotate on non-specific EOI: 3 becomes the lowest, 4 the best. */
	outb(x->f, 0x20, 0xA0);
	pulse(x, 0);
	pulse(x, 5);
	assert_int_equal(i8259_acknowledge(x->pic), 0x35);
	eoi(x, 0x20);
	assert_int_equal(i8259_acknowledge(x->pic), 0x30);
	eoi(x, 0x20);
	/* Set priority: 7 lowest, so 0 best again. */
	outb(x->f, 0x20, 0xC0 | 7);
	pulse(x, 6);
	pulse(x, 2 + 0);   /* cascade input: ignored */
	pulse(x, 1);
	assert_int_equal(i8259_acknowledge(x->pic), 0x31);
	/* Rotate on specific EOI. */
	outb(x->f, 0x20, 0xE0 | 1);
	assert_int_equal(read_isr(x, 0x20), 0x00);
	pulse(x, 0);
	/* 2 is now the best; 6 beats 0. */
	assert_int_equal(i8259_acknowledge(x->pic), 0x36);
}

static void test_cascade(void **state)
{
	struct fixture *x = *state;

	init_linux(x, false);
	pulse(x, 12);
	assert_true(x->intr);
	assert_int_equal(read_irr(x, 0x20), 0x04);
	assert_int_equal(i8259_acknowledge(x->pic), 0x3C);
	assert_int_equal(read_isr(x, 0x20), 0x04);
	assert_int_equal(read_isr(x, 0xA0), 0x10);
	/* A better slave request waits for the master's EOI (no special
	 * fully nested mode). */
	pulse(x, 9);
	assert_false(x->intr);
	/* A better master request gets through. */
	pulse(x, 1);
	assert_true(x->intr);
	assert_int_equal(i8259_acknowledge(x->pic), 0x31);
	eoi(x, 0x20);
	/* Linux: slave EOI, then master. */
	eoi(x, 0xA0);
	assert_int_equal(read_isr(x, 0xA0), 0x00);
	eoi(x, 0x20);
	assert_true(x->intr);
	assert_int_equal(i8259_acknowledge(x->pic), 0x39);
	eoi(x, 0xA0);
	eoi(x, 0x20);
	assert_false(x->intr);

	/* Two slave requests: both delivered in turn. */
	pulse(x, 14);
	pulse(x, 11);
	assert_int_equal(i8259_acknowledge(x->pic), 0x3B);
	eoi(x, 0xA0);
	eoi(x, 0x20);
	assert_int_equal(i8259_acknowledge(x->pic), 0x3E);
	eoi(x, 0xA0);
	eoi(x, 0x20);
	assert_false(i8259_has_interrupt(x->pic));
}

static void test_slave_auto_eoi(void **state)
{
	struct fixture *x = *state;

	init_linux(x, false);
	outb(x->f, 0xA0, 0x11);
	outb(x->f, 0xA1, 0x38);
	outb(x->f, 0xA1, 0x02);
	outb(x->f, 0xA1, 0x03);           /* slave in auto-EOI */
	outb(x->f, 0x21, 0x00);
	outb(x->f, 0xA1, 0x00);
	outb(x->f, 0x20, 0x11);
	outb(x->f, 0x21, 0x30);
	outb(x->f, 0x21, 0x04);
	outb(x->f, 0x21, 0x13);           /* master: auto-EOI, SFNM */
	/* Two slave requests: the slave's INTR never drops between them,
	 * yet the master sees the second. */
	pulse(x, 9);
	pulse(x, 10);
	assert_int_equal(i8259_acknowledge(x->pic), 0x39);
	assert_true(x->intr);
	assert_int_equal(i8259_acknowledge(x->pic), 0x3A);
	assert_false(x->intr);
	assert_int_equal(read_isr(x, 0x20), 0x00);
	assert_int_equal(read_isr(x, 0xA0), 0x00);
}

static void test_spurious(void **state)
{
	struct fixture *x = *state;

	init_linux(x, false);
	/* Nothing pending at all: IRQ 7 and no ISR. */
	assert_int_equal(i8259_acknowledge(x->pic), 0x37);
	assert_int_equal(read_isr(x, 0x20), 0x00);

	/* A level request withdrawn before the INTA cycle. */
	outb(x->f, 0x4D0, 0x08);
	i8259_set_irq(x->pic, 3, true);
	assert_true(x->intr);
	i8259_set_irq(x->pic, 3, false);
	assert_false(x->intr);
	assert_int_equal(i8259_acknowledge(x->pic), 0x37);
	assert_int_equal(read_isr(x, 0x20), 0x00);

	/* A slave request the master latched, masked at the slave before
	 * the CPU got to it: IRQ 15, with IRQ 2 in service at the master. */
	pulse(x, 10);
	assert_true(x->intr);
	outb(x->f, 0xA1, 0x04);
	assert_true(x->intr);
	assert_int_equal(i8259_acknowledge(x->pic), 0x3F);
	assert_int_equal(read_isr(x, 0x20), 0x04);
	assert_int_equal(read_isr(x, 0xA0), 0x00);
	eoi(x, 0x20);
	assert_false(x->intr);
}

static void test_elcr(void **state)
{
	struct fixture *x = *state;

	outb(x->f, 0x4D0, 0xFF);
	outb(x->f, 0x4D1, 0xFF);
	assert_int_equal(inb(x->f, 0x4D0), 0xF8);   /* IRQ 0-2 edge only */
	assert_int_equal(inb(x->f, 0x4D1), 0xDE);   /* IRQ 8 and 13 too */
	assert_int_equal(pio_in(x->f, 0x4D0, 2), 0xDEF8);
	pio_out(x->f, 0x4D0, 2, 0x0200);            /* IRQ 9 level only */
	assert_int_equal(inb(x->f, 0x4D0), 0x00);
	assert_int_equal(inb(x->f, 0x4D1), 0x02);
	init_linux(x, false);

	/* Level: requests again after EOI while the line is up. */
	i8259_set_irq(x->pic, 9, true);
	assert_int_equal(i8259_acknowledge(x->pic), 0x39);
	eoi(x, 0xA0);
	eoi(x, 0x20);
	assert_true(x->intr);
	assert_int_equal(i8259_acknowledge(x->pic), 0x39);
	i8259_set_irq(x->pic, 9, false);
	eoi(x, 0xA0);
	eoi(x, 0x20);
	assert_false(x->intr);

	/* Edge: one request per rising edge, kept when the line drops. */
	i8259_set_irq(x->pic, 4, true);
	i8259_set_irq(x->pic, 4, false);
	assert_true(x->intr);
	assert_int_equal(i8259_acknowledge(x->pic), 0x34);
	eoi(x, 0x20);
	assert_false(x->intr);
	i8259_set_irq(x->pic, 4, true);
	assert_int_equal(i8259_acknowledge(x->pic), 0x34);
	eoi(x, 0x20);
	i8259_set_irq(x->pic, 4, true);
	assert_false(x->intr);

	/* ICW1.LTIM makes every input level-sensitive. */
	i8259_set_irq(x->pic, 4, false);
	i8259_set_irq(x->pic, 5, true);
	outb(x->f, 0x20, 0x19);
	outb(x->f, 0x21, 0x30);
	outb(x->f, 0x21, 0x04);
	outb(x->f, 0x21, 0x01);
	assert_true(x->intr);          /* 5 is high: it requests at once */
	assert_int_equal(i8259_acknowledge(x->pic), 0x35);
}

static void test_auto_eoi(void **state)
{
	struct fixture *x = *state;

	init_linux(x, true);
	pulse(x, 3);
	assert_int_equal(i8259_acknowledge(x->pic), 0x33);
	assert_int_equal(read_isr(x, 0x20), 0x00);
	/* Nothing in service: a worse request goes straight through. */
	pulse(x, 6);
	assert_int_equal(i8259_acknowledge(x->pic), 0x36);
	/* Rotate in auto-EOI mode. */
	outb(x->f, 0x20, 0x80);
	pulse(x, 1);
	assert_int_equal(i8259_acknowledge(x->pic), 0x31);
	pulse(x, 0);
	pulse(x, 3);
	assert_int_equal(i8259_acknowledge(x->pic), 0x33);   /* 2 best now */
	outb(x->f, 0x20, 0x00);
	assert_int_equal(i8259_acknowledge(x->pic), 0x30);
}

static void test_poll_and_special_mask(void **state)
{
	struct fixture *x = *state;

	init_linux(x, false);
	pulse(x, 6);
	outb(x->f, 0x20, 0x0C);           /* OCW3: poll */
	assert_int_equal(inb(x->f, 0x20), 0x86);
	assert_int_equal(read_isr(x, 0x20), 0x40);
	outb(x->f, 0x20, 0x0C);
	assert_int_equal(inb(x->f, 0x21), 0x00);   /* nothing: bit 7 clear */
	eoi(x, 0x20);
	/* The IMR reads normally again after a poll. */
	assert_int_equal(inb(x->f, 0x21), 0x00);

	/* Special mask: with 3 in service and masked, 5 gets through. */
	pulse(x, 3);
	assert_int_equal(i8259_acknowledge(x->pic), 0x33);
	pulse(x, 5);
	assert_false(x->intr);
	outb(x->f, 0x21, 0x08);
	outb(x->f, 0x20, 0x68);           /* OCW3: set special mask */
	assert_true(x->intr);
	assert_int_equal(i8259_acknowledge(x->pic), 0x35);
	outb(x->f, 0x20, 0x60 | 5);
	outb(x->f, 0x20, 0x48);           /* clear special mask */
	outb(x->f, 0x21, 0x00);
	outb(x->f, 0x20, 0x60 | 3);
	assert_int_equal(read_isr(x, 0x20), 0x00);
}

static void test_special_fully_nested(void **state)
{
	struct fixture *x = *state;

	init_linux(x, false);
	outb(x->f, 0x20, 0x11);
	outb(x->f, 0x21, 0x30);
	outb(x->f, 0x21, 0x04);
	outb(x->f, 0x21, 0x11);           /* ICW4: SFNM */
	pulse(x, 12);
	assert_int_equal(i8259_acknowledge(x->pic), 0x3C);
	/* A better request from the same slave nests. */
	pulse(x, 9);
	assert_true(x->intr);
	assert_int_equal(i8259_acknowledge(x->pic), 0x39);
}

static void test_hostile(void **state)
{
	struct fixture *x = *state;

	init_linux(x, false);
	i8259_set_irq(x->pic, 2, true);
	i8259_set_irq(x->pic, 16, true);
	i8259_set_irq(x->pic, ~0u, true);
	assert_false(x->intr);
	/* A word write covers both ports: OCW1 on the odd one... after an
	 * OCW3 on the even one. */
	pio_out(x->f, 0x20, 2, 0xFF0A);
	assert_int_equal(inb(x->f, 0x21), 0xFF);
	/* Bytes past the pair float. */
	assert_int_equal(pio_in(x->f, 0x21, 2), 0xFFFF);
	assert_int_equal(pio_in(x->f, 0x4D1, 4), 0xFFFFFF00);
	/* An 8080-mode init (no ICW4) still works. */
	outb(x->f, 0x20, 0x10);
	outb(x->f, 0x21, 0xFF);           /* vector base keeps bits 7:3 */
	outb(x->f, 0x21, 0x04);
	outb(x->f, 0x21, 0x00);           /* ICW3 done: this is OCW1 */
	pulse(x, 1);
	assert_int_equal(i8259_acknowledge(x->pic), 0xF9);
	/* Single mode: no ICW3, and IRQ 2 is no cascade. */
	outb(x->f, 0x20, 0x13);
	outb(x->f, 0x21, 0x40);
	outb(x->f, 0x21, 0x01);
	outb(x->f, 0x21, 0x00);
	assert_int_equal(inb(x->f, 0x21), 0x00);
	pulse(x, 12);
	assert_false(x->intr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_power_on_masked),
		T(test_init_linux),
		T(test_init_bios),
		T(test_priorities_and_nesting),
		T(test_rotation),
		T(test_cascade),
		T(test_slave_auto_eoi),
		T(test_spurious),
		T(test_elcr),
		T(test_auto_eoi),
		T(test_poll_and_special_mask),
		T(test_special_fully_nested),
		T(test_hostile),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
