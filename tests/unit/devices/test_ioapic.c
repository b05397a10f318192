#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "devices/apic_bus.h"
#include "devices/ioapic.h"
#include "vmm/memory_map.h"
#include "test_platform.h"

#define IOREGSEL (IOAPIC_BASE + 0x00)
#define IOWIN    (IOAPIC_BASE + 0x10)
#define IOEOI    (IOAPIC_BASE + 0x40)

#define RTE_LOGICAL   (1u << 11)
#define RTE_POLARITY  (1u << 13)
#define RTE_REMOTE    (1u << 14)
#define RTE_LEVEL     (1u << 15)
#define RTE_MASKED    (1u << 16)

#define MAX_MSGS 64

/* A bus that only records what the IOAPIC sends. */
struct fake_bus {
	struct apic_bus bus;
	struct apic_msg msgs[MAX_MSGS];
	unsigned n;
};

static void fake_deliver(struct apic_bus *bus, const struct apic_msg *msg)
{
	struct fake_bus *b = (struct fake_bus *)bus;

	assert_true(b->n < MAX_MSGS);
	b->msgs[b->n++] = *msg;
}

struct fixture {
	struct fake_platform *f;
	struct fake_bus bus;
	struct ioapic *io;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = fake_platform_new();
	x->bus.bus.deliver = fake_deliver;
	x->io = ioapic_create(&x->f->p, &x->bus.bus);
	assert_non_null(x->io);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	ioapic_destroy(x->io);
	fake_platform_free(x->f);
	free(x);
	return 0;
}

static uint32_t rd(struct fixture *x, uint8_t reg)
{
	mmio_out(x->f, IOREGSEL, 4, reg);
	return (uint32_t)mmio_in(x->f, IOWIN, 4);
}

static void wr(struct fixture *x, uint8_t reg, uint32_t v)
{
	mmio_out(x->f, IOREGSEL, 4, reg);
	mmio_out(x->f, IOWIN, 4, v);
}

static void route(struct fixture *x, unsigned pin, uint32_t lo, uint8_t dest)
{
	wr(x, (uint8_t)(0x11 + 2 * pin), (uint32_t)dest << 24);
	wr(x, (uint8_t)(0x10 + 2 * pin), lo);
}

static void test_registers(void **state)
{
	struct fixture *x = *state;
	unsigned pin;

	assert_int_equal(rd(x, 0x01), 0x00170020);     /* 24 pins, version 0x20 */
	assert_int_equal(rd(x, 0x00), 0);
	wr(x, 0x00, 0xFFFFFFFF);
	assert_int_equal(rd(x, 0x00), 0x0F000000);     /* 4-bit ID */
	assert_int_equal(rd(x, 0x02), 0x0F000000);     /* arbitration follows */
	wr(x, 0x01, 0);
	assert_int_equal(rd(x, 0x01), 0x00170020);     /* read-only */
	for (pin = 0; pin < IOAPIC_PINS; pin++) {
		assert_int_equal(rd(x, (uint8_t)(0x10 + 2 * pin)), RTE_MASKED);
		assert_int_equal(rd(x, (uint8_t)(0x11 + 2 * pin)), 0);
	}
	/* Remote IRR and delivery status cannot be written; the high
	 * dword keeps only the destination. */
	wr(x, 0x10, 0xFFFFFFFF);
	assert_int_equal(rd(x, 0x10), 0x0001AFFF);
	wr(x, 0x11, 0xFFFFFFFF);
	assert_int_equal(rd(x, 0x11), 0xFF000000);
	/* IOREGSEL reads back. */
	mmio_out(x->f, IOREGSEL, 4, 0x2F);
	assert_int_equal(mmio_in(x->f, IOREGSEL, 4), 0x2F);
	/* Past the last entry: zeros. */
	assert_int_equal(rd(x, 0x40), 0);
	assert_int_equal(rd(x, 0xFF), 0);
}

static void test_edge(void **state)
{
	struct fixture *x = *state;
	const struct apic_msg *m;

	route(x, 4, 0x31, 1);
	ioapic_set_irq(x->io, 4, true);
	assert_int_equal(x->bus.n, 1);
	m = &x->bus.msgs[0];
	assert_int_equal(m->vector, 0x31);
	assert_int_equal(m->dest, 1);
	assert_false(m->logical);
	assert_int_equal(m->delivery_mode, APIC_DELIVERY_FIXED);
	assert_false(m->trigger_level);
	assert_true(m->level);
	assert_int_equal(m->shorthand, APIC_SHORTHAND_NONE);
	assert_null(m->sender);
	/* No edge, no message. */
	ioapic_set_irq(x->io, 4, true);
	ioapic_set_irq(x->io, 4, false);
	assert_int_equal(x->bus.n, 1);
	ioapic_set_irq(x->io, 4, true);
	assert_int_equal(x->bus.n, 2);
	assert_int_equal(rd(x, 0x18) & RTE_REMOTE, 0);
	/* An EOI means nothing to an edge pin. */
	ioapic_eoi(x->io, 0x31);
	assert_int_equal(x->bus.n, 2);
	ioapic_set_irq(x->io, 4, false);

	/* A masked edge is lost, even when unmasked while the line is up. */
	route(x, 4, 0x31 | RTE_MASKED, 1);
	ioapic_set_irq(x->io, 4, true);
	assert_int_equal(x->bus.n, 2);
	route(x, 4, 0x31, 1);
	assert_int_equal(x->bus.n, 2);
	ioapic_set_irq(x->io, 4, false);
	ioapic_set_irq(x->io, 4, true);
	assert_int_equal(x->bus.n, 3);
}

static void test_level_remote_irr(void **state)
{
	struct fixture *x = *state;
	const struct apic_msg *m;

	route(x, 10, 0x40 | RTE_LEVEL | RTE_LOGICAL | (APIC_DELIVERY_LOWEST << 8), 0x03);
	ioapic_set_irq(x->io, 10, true);
	assert_int_equal(x->bus.n, 1);
	m = &x->bus.msgs[0];
	assert_int_equal(m->vector, 0x40);
	assert_true(m->logical);
	assert_int_equal(m->dest, 0x03);
	assert_true(m->trigger_level);
	assert_int_equal(m->delivery_mode, APIC_DELIVERY_LOWEST);
	assert_true(rd(x, 0x10 + 20) & RTE_REMOTE);
	/* Held off by remote IRR while asserted. */
	ioapic_set_irq(x->io, 10, true);
	assert_int_equal(x->bus.n, 1);
	/* An EOI for another vector changes nothing. */
	ioapic_eoi(x->io, 0x41);
	assert_int_equal(x->bus.n, 1);
	/* EOI with the line still up: again. */
	ioapic_eoi(x->io, 0x40);
	assert_int_equal(x->bus.n, 2);
	assert_true(rd(x, 0x10 + 20) & RTE_REMOTE);
	/* The device is served: the line drops, the EOI retires it. */
	ioapic_set_irq(x->io, 10, false);
	ioapic_eoi(x->io, 0x40);
	assert_int_equal(x->bus.n, 2);
	assert_false(rd(x, 0x10 + 20) & RTE_REMOTE);
	/* Asserted while masked: sent on unmask. */
	route(x, 10, 0x40 | RTE_LEVEL | RTE_MASKED, 0);
	ioapic_set_irq(x->io, 10, true);
	assert_int_equal(x->bus.n, 2);
	route(x, 10, 0x40 | RTE_LEVEL, 0);
	assert_int_equal(x->bus.n, 3);
	/* The EOI register of version 0x20 does what the broadcast does. */
	mmio_out(x->f, IOEOI, 4, 0x40);
	assert_int_equal(x->bus.n, 4);
	ioapic_set_irq(x->io, 10, false);
	mmio_out(x->f, IOEOI, 4, 0x40);
	assert_false(rd(x, 0x10 + 20) & RTE_REMOTE);
	assert_int_equal(x->bus.n, 4);
}

static void test_edge_switch_clears_remote_irr(void **state)
{
	struct fixture *x = *state;

	route(x, 5, 0x50 | RTE_LEVEL, 0);
	ioapic_set_irq(x->io, 5, true);
	assert_true(rd(x, 0x1A) & RTE_REMOTE);
	ioapic_set_irq(x->io, 5, false);
	/* The old-IOAPIC trick: through edge and back to level. */
	route(x, 5, 0x50 | RTE_MASKED, 0);
	assert_false(rd(x, 0x1A) & RTE_REMOTE);
	route(x, 5, 0x50 | RTE_LEVEL, 0);
	assert_int_equal(x->bus.n, 1);
	ioapic_set_irq(x->io, 5, true);
	assert_int_equal(x->bus.n, 2);
}

static void test_modes_and_polarity(void **state)
{
	struct fixture *x = *state;

	/* NMI with the level bit is still an edge, without remote IRR. */
	route(x, 3, (APIC_DELIVERY_NMI << 8) | RTE_LEVEL, 0xFF);
	ioapic_set_irq(x->io, 3, true);
	assert_int_equal(x->bus.n, 1);
	assert_int_equal(x->bus.msgs[0].delivery_mode, APIC_DELIVERY_NMI);
	assert_false(x->bus.msgs[0].trigger_level);
	assert_int_equal(x->bus.msgs[0].dest, 0xFF);
	assert_false(rd(x, 0x16) & RTE_REMOTE);
	ioapic_set_irq(x->io, 3, true);
	assert_int_equal(x->bus.n, 1);

	/* ExtINT on pin 0 (virtual wire through the IOAPIC). */
	route(x, 0, APIC_DELIVERY_EXTINT << 8, 0);
	ioapic_set_irq(x->io, 0, true);
	assert_int_equal(x->bus.n, 2);
	assert_int_equal(x->bus.msgs[1].delivery_mode, APIC_DELIVERY_EXTINT);

	/* Active-low is kept for the OS; the platform's level is logical. */
	route(x, 11, 0x60 | RTE_LEVEL | RTE_POLARITY, 0);
	assert_true(rd(x, 0x10 + 22) & RTE_POLARITY);
	assert_int_equal(x->bus.n, 2);
	ioapic_set_irq(x->io, 11, true);
	assert_int_equal(x->bus.n, 3);
}

static void test_hostile_accesses(void **state)
{
	struct fixture *x = *state;

	route(x, 1, 0x12345 & 0x1AFFF, 0xAB);
	/* Byte reads of IOWIN. */
	mmio_out(x->f, IOREGSEL, 1, 0x13);
	assert_int_equal(mmio_in(x->f, IOWIN + 3, 1), 0xAB);
	assert_int_equal(mmio_in(x->f, IOWIN, 2), 0);
	/* A byte write merges into the register. */
	mmio_out(x->f, IOREGSEL, 1, 0x12);
	mmio_out(x->f, IOWIN, 1, 0x77);
	assert_int_equal(rd(x, 0x12), (0x12345 & 0x1AF00) | 0x77);
	/* An 8-byte write: the low half is IOREGSEL, the rest reserved. */
	mmio_out(x->f, IOREGSEL, 8, 0xFFFFFFFF00000001ull);
	assert_int_equal(mmio_in(x->f, IOREGSEL, 8), 1);
	assert_int_equal(rd(x, 0x01), 0x00170020);
	/* Reserved offsets read 0, swallow writes. */
	mmio_out(x->f, IOAPIC_BASE + 0x20, 4, 0xFFFFFFFF);
	mmio_out(x->f, IOAPIC_BASE + 0xFFC, 4, 0xFFFFFFFF);
	mmio_out(x->f, IOAPIC_BASE + 0x14, 4, 0xFFFFFFFF);
	assert_int_equal(mmio_in(x->f, IOAPIC_BASE + 0x20, 4), 0);
	assert_int_equal(mmio_in(x->f, IOAPIC_BASE + 0xFF8, 8), 0);
	assert_int_equal(mmio_in(x->f, IOEOI, 4), 0);
	/* A misaligned read straddling IOREGSEL's end. */
	mmio_out(x->f, IOREGSEL, 4, 0x10);
	assert_int_equal(mmio_in(x->f, IOAPIC_BASE + 2, 4), 0);
	assert_int_equal(mmio_in(x->f, IOAPIC_BASE + 0, 8), 0x10);
	/* Pins that do not exist. */
	ioapic_set_irq(x->io, IOAPIC_PINS, true);
	ioapic_set_irq(x->io, ~0u, true);
	assert_int_equal(x->bus.n, 0);
	/* Writes to IOREGSEL keep 8 bits. */
	mmio_out(x->f, IOREGSEL, 4, 0x1234);
	assert_int_equal(mmio_in(x->f, IOREGSEL, 4), 0x34);
}

static void test_mmio_window_claimed(void **state)
{
	struct fixture *x = *state;
	struct ioapic *again;

	(void)x;
	/* A second IOAPIC at the same place is refused. */
	again = ioapic_create(&x->f->p, &x->bus.bus);
	assert_null(again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_registers),
		T(test_edge),
		T(test_level_remote_irr),
		T(test_edge_switch_clears_remote_irr),
		T(test_modes_and_polarity),
		T(test_hostile_accesses),
		T(test_mmio_window_claimed),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
