#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "devices/i8259.h"
#include "devices/ioapic.h"
#include "vmm/emu/apic_router.h"
#include "vmm/emu/cpuid.h"
#include "vmm/emu/lapic.h"
#include "vmm/memory_map.h"
#include "../../devices/test_platform.h"

#define ID       0x020
#define VERSION  0x030
#define TPR      0x080
#define APR      0x090
#define PPR      0x0A0
#define EOI      0x0B0
#define LDR      0x0D0
#define DFR      0x0E0
#define SVR      0x0F0
#define ISR      0x100
#define TMR      0x180
#define IRR      0x200
#define ESR      0x280
#define ICR_LO   0x300
#define ICR_HI   0x310
#define LVT_TMR  0x320
#define LVT_THM  0x330
#define LVT_PMC  0x340
#define LVT_LINT0 0x350
#define LVT_LINT1 0x360
#define LVT_ERR  0x370
#define TMICT    0x380
#define TMCCT    0x390
#define TDCR     0x3E0

#define MASKED   0x10000u
#define PERIODIC 0x20000u
#define DEADLINE 0x40000u
#define LEVEL    0x8000u
#define ASSERT   0x4000u
#define LOGICAL  0x800u
#define SELF     0x40000u
#define ALL      0x80000u
#define OTHERS   0xC0000u

#define NCPUS 4

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

struct fixture {
	struct apic_router *router;
	struct emu_lapic *l[NCPUS];
	atomic_uint kicks[NCPUS];   /* bumped from any thread */
	struct fake_platform *f;   /* for the IOAPIC and 8259 tests */
	struct ioapic *io;
	struct i8259 *pic;
};

static void kick(void *opaque)
{
	atomic_fetch_add((atomic_uint *)opaque, 1);
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	unsigned i;

	assert_non_null(x);
	fake_now = 1000000000ull;
	x->router = apic_router_create();
	assert_non_null(x->router);
	for (i = 0; i < NCPUS; i++) {
		x->l[i] = emu_lapic_create(i, apic_router_bus(x->router), fake_clock, kick,
					   &x->kicks[i]);
		assert_non_null(x->l[i]);
		assert_int_equal(apic_router_add(x->router, x->l[i]), 0);
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;
	unsigned i;

	for (i = 0; i < NCPUS; i++)
		emu_lapic_destroy(x->l[i]);
	apic_router_destroy(x->router);
	if (x->io)
		ioapic_destroy(x->io);
	if (x->pic)
		i8259_destroy(x->pic);
	if (x->f)
		fake_platform_free(x->f);
	free(x);
	return 0;
}

static uint32_t lr(struct emu_lapic *l, uint32_t reg)
{
	return (uint32_t)emu_lapic_mmio_read(l, reg, 4);
}

static void lw(struct emu_lapic *l, uint32_t reg, uint32_t v)
{
	emu_lapic_mmio_write(l, reg, 4, v);
}

static void enable(struct emu_lapic *l)
{
	lw(l, SVR, 0x1FF);
}

static void enable_all(struct fixture *x)
{
	unsigned i;

	for (i = 0; i < NCPUS; i++)
		enable(x->l[i]);
}

static void fixed(struct emu_lapic *l, uint8_t vector, bool level)
{
	struct apic_msg m = { .dest = emu_lapic_id(l), .vector = vector, .level = true,
			      .delivery_mode = APIC_DELIVERY_FIXED, .trigger_level = level };

	emu_lapic_deliver(l, &m);
}

static bool bit(struct emu_lapic *l, uint32_t base, unsigned vector)
{
	return lr(l, base + 0x10 * (vector / 32)) & (1u << (vector % 32));
}

/* Take one fixed interrupt the way the core does, then EOI it. */
static int take(struct emu_lapic *l)
{
	int v = emu_lapic_ack_interrupt(l);

	if (v >= 0)
		lw(l, EOI, 0);
	return v;
}

static void test_reset_state(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[2];
	unsigned r;

	assert_int_equal(lr(l, ID), 2u << 24);
	assert_int_equal(lr(l, VERSION), 0x00050014);
	assert_int_equal(lr(l, SVR), 0xFF);
	assert_int_equal(lr(l, DFR), 0xFFFFFFFF);
	assert_int_equal(lr(l, LDR), 0);
	assert_int_equal(lr(l, TPR), 0);
	assert_int_equal(lr(l, PPR), 0);
	for (r = LVT_TMR; r <= LVT_ERR; r += 0x10)
		assert_int_equal(lr(l, r), MASKED);
	assert_int_equal(lr(l, TMICT), 0);
	assert_int_equal(lr(l, TMCCT), 0);
	assert_true(emu_lapic_enabled(l));
	assert_int_equal(emu_lapic_pending_vector(l), -1);
	assert_false(emu_lapic_has_interrupt(l));
	/* ID and LDR are writable (8 bits); DFR keeps its reserved ones. */
	lw(l, ID, 0x7F123456);
	assert_int_equal(lr(l, ID), 0x7F000000);
	assert_int_equal(emu_lapic_id(l), 0x7F);
	lw(l, LDR, 0x12345678);
	assert_int_equal(lr(l, LDR), 0x12000000);
	lw(l, DFR, 0);
	assert_int_equal(lr(l, DFR), 0x0FFFFFFF);
}

static void test_svr_disable(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[0];
	struct apic_msg nmi = { .delivery_mode = APIC_DELIVERY_NMI, .level = true };

	/* Software-disabled: fixed interrupts are dropped, LVTs stay masked. */
	fixed(l, 0x40, false);
	assert_int_equal(emu_lapic_pending_vector(l), -1);
	lw(l, LVT_TMR, 0x30);
	assert_int_equal(lr(l, LVT_TMR), MASKED | 0x30);
	/* NMI still arrives. */
	emu_lapic_deliver(l, &nmi);
	assert_true(emu_lapic_take_nmi(l));
	assert_false(emu_lapic_take_nmi(l));

	enable(l);
	assert_int_equal(lr(l, SVR), 0x1FF);
	lw(l, LVT_TMR, 0x30);
	assert_int_equal(lr(l, LVT_TMR), 0x30);
	fixed(l, 0x40, false);
	assert_int_equal(emu_lapic_pending_vector(l), 0x40);
	/* Disabling masks every LVT; what is in IRR stays. */
	lw(l, SVR, 0xFF);
	assert_int_equal(lr(l, LVT_TMR), MASKED | 0x30);
	assert_int_equal(emu_lapic_pending_vector(l), 0x40);
	/* Only the vector, enable and focus bits are writable. */
	lw(l, SVR, 0xFFFFFFFF);
	assert_int_equal(lr(l, SVR), 0x3FF);
}

static void test_irr_isr_eoi_order(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[1];

	enable(l);
	fixed(l, 0x40, false);
	fixed(l, 0x50, true);
	fixed(l, 0x45, false);
	assert_true(bit(l, IRR, 0x40) && bit(l, IRR, 0x45) && bit(l, IRR, 0x50));
	assert_true(bit(l, TMR, 0x50));
	assert_false(bit(l, TMR, 0x40));
	assert_int_equal(emu_lapic_pending_vector(l), 0x50);
	emu_lapic_accept(l, 0x50);
	assert_false(bit(l, IRR, 0x50));
	assert_true(bit(l, ISR, 0x50));
	assert_int_equal(lr(l, PPR), 0x50);
	/* Class 4 waits behind class 5 in service. */
	assert_int_equal(emu_lapic_pending_vector(l), -1);
	/* A better class preempts. */
	fixed(l, 0x61, false);
	assert_int_equal(emu_lapic_ack_interrupt(l), 0x61);
	assert_int_equal(lr(l, PPR), 0x60);
	/* EOI retires the highest in service. */
	lw(l, EOI, 0);
	assert_false(bit(l, ISR, 0x61));
	assert_true(bit(l, ISR, 0x50));
	lw(l, EOI, 0);
	assert_int_equal(lr(l, PPR), 0);
	assert_int_equal(emu_lapic_pending_vector(l), 0x45);
	emu_lapic_accept(l, 0x45);
	/* 0x40 is in the same class as 0x45: blocked. */
	assert_int_equal(emu_lapic_pending_vector(l), -1);
	lw(l, EOI, 0);
	assert_int_equal(emu_lapic_ack_interrupt(l), 0x40);
	lw(l, EOI, 0);
	assert_int_equal(emu_lapic_ack_interrupt(l), -1);
	/* EOI with nothing in service is harmless. */
	lw(l, EOI, 0);
	/* Accepting a vector that is not requested does nothing. */
	emu_lapic_accept(l, 0x99);
	assert_false(bit(l, ISR, 0x99));
}

static void test_tpr_ppr_apr(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[0];

	enable(l);
	emu_lapic_set_tpr(l, 0x50);
	assert_int_equal(lr(l, TPR), 0x50);
	assert_int_equal(emu_lapic_get_tpr(l), 0x50);
	assert_int_equal(lr(l, PPR), 0x50);
	fixed(l, 0x55, false);
	assert_int_equal(emu_lapic_pending_vector(l), -1);
	assert_false(emu_lapic_has_interrupt(l));
	/* APR: the IRR class beats the TPR's. */
	fixed(l, 0x71, false);
	assert_int_equal(lr(l, APR), 0x70);
	assert_int_equal(emu_lapic_pending_vector(l), 0x71);
	emu_lapic_accept(l, 0x71);
	assert_int_equal(lr(l, PPR), 0x70);
	assert_int_equal(lr(l, APR), 0x70);
	lw(l, EOI, 0);
	assert_int_equal(lr(l, APR), 0x50);
	/* CR8 = TPR >> 4, as the core does it; lowering it releases 0x55. */
	x->kicks[0] = 0;
	emu_lapic_set_tpr(l, 3 << 4);
	assert_int_equal(emu_lapic_get_tpr(l) >> 4, 3);
	assert_int_equal(emu_lapic_pending_vector(l), 0x55);
	assert_int_equal(x->kicks[0], 1);
	/* TPR's sub-class shows in PPR. */
	lw(l, TPR, 0x5A);
	assert_int_equal(lr(l, PPR), 0x5A);
	assert_int_equal(emu_lapic_pending_vector(l), -1);
	lw(l, TPR, 0x1FF);
	assert_int_equal(lr(l, TPR), 0xFF);
}

static void test_kicks(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[3];

	enable(l);
	x->kicks[3] = 0;
	fixed(l, 0x40, false);
	assert_int_equal(x->kicks[3], 1);
	/* Nothing new: no kick. */
	fixed(l, 0x40, false);
	assert_int_equal(x->kicks[3], 1);
	emu_lapic_accept(l, 0x40);
	/* Blocked by the one in service: no kick... */
	fixed(l, 0x41, false);
	assert_int_equal(x->kicks[3], 1);
	/* ...until the EOI makes it deliverable. */
	lw(l, EOI, 0);
	assert_int_equal(x->kicks[3], 2);
	/* Reads and polls that change nothing do not kick. */
	(void)lr(l, IRR);
	emu_lapic_poll(l, fake_now);
	assert_int_equal(x->kicks[3], 2);
}

static void test_timer_oneshot(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[0];
	uint64_t t0;

	enable(l);
	lw(l, TDCR, 0xB);                    /* divide by 1 */
	lw(l, LVT_TMR, 0x30);
	assert_int_equal(emu_lapic_poll(l, fake_now), UINT64_MAX);
	t0 = fake_now;
	lw(l, TMICT, 1000);
	assert_int_equal(lr(l, TMICT), 1000);
	assert_int_equal(lr(l, TMCCT), 1000);
	assert_int_equal(emu_lapic_poll(l, fake_now), t0 + 1000);
	fake_now = t0 + 400;
	assert_int_equal(lr(l, TMCCT), 600);
	assert_int_equal(emu_lapic_pending_vector(l), -1);
	x->kicks[0] = 0;
	fake_now = t0 + 1000;
	assert_int_equal(emu_lapic_poll(l, fake_now), UINT64_MAX);
	assert_int_equal(emu_lapic_pending_vector(l), 0x30);
	assert_int_equal(x->kicks[0], 1);
	assert_int_equal(lr(l, TMCCT), 0);
	assert_int_equal(take(l), 0x30);
	fake_now += 100000;
	assert_int_equal(emu_lapic_poll(l, fake_now), UINT64_MAX);
	assert_int_equal(emu_lapic_pending_vector(l), -1);

	/* Divide by 16: a count lasts 16 ns; reads round up. */
	lw(l, TDCR, 0x3);
	t0 = fake_now;
	lw(l, TMICT, 100);
	assert_int_equal(emu_lapic_poll(l, fake_now), t0 + 1600);
	fake_now = t0 + 1;
	assert_int_equal(lr(l, TMCCT), 100);
	fake_now = t0 + 160;
	assert_int_equal(lr(l, TMCCT), 90);
	/* Changing the divider mid-count: the rest runs at the new rate. */
	lw(l, TDCR, 0xB);
	assert_int_equal(lr(l, TMCCT), 90);
	assert_int_equal(emu_lapic_poll(l, fake_now), fake_now + 90);
	/* A zero initial count stops the timer. */
	lw(l, TMICT, 0);
	assert_int_equal(lr(l, TMCCT), 0);
	assert_int_equal(emu_lapic_poll(l, fake_now + 1000000), UINT64_MAX);
	assert_int_equal(emu_lapic_pending_vector(l), -1);
}

static void test_timer_periodic(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[0];
	uint64_t t0;
	unsigned k;

	enable(l);
	lw(l, TDCR, 0x0);                    /* divide by 2 */
	lw(l, LVT_TMR, PERIODIC | 0x31);
	t0 = fake_now;
	lw(l, TMICT, 500);                   /* 1000 ns */
	for (k = 1; k <= 3; k++) {
		fake_now = t0 + 1000 * k;
		assert_int_equal(emu_lapic_poll(l, fake_now), t0 + 1000 * (k + 1));
		assert_int_equal(take(l), 0x31);
	}
	/* Count reads need no poll: 2.5 periods on. */
	fake_now = t0 + 5500;
	assert_int_equal(lr(l, TMCCT), 250);
	/* A late poll: one interrupt, and the grid is kept. */
	fake_now = t0 + 10300;
	assert_int_equal(emu_lapic_poll(l, fake_now), t0 + 11000);
	assert_int_equal(take(l), 0x31);
	assert_int_equal(take(l), -1);
	assert_int_equal(lr(l, TMCCT), 350);

	/* Masked: counts on, interrupts nothing, nothing to wake for. */
	lw(l, LVT_TMR, MASKED | PERIODIC | 0x31);
	fake_now = t0 + 20000;
	assert_int_equal(emu_lapic_poll(l, fake_now), UINT64_MAX);
	assert_int_equal(take(l), -1);
	assert_int_equal(lr(l, TMCCT), 500);
	/* Unmasking does not replay what expired while masked. */
	lw(l, LVT_TMR, PERIODIC | 0x31);
	assert_int_equal(take(l), -1);
	assert_int_equal(emu_lapic_poll(l, fake_now), t0 + 21000);
	/* Changing the mode disarms. */
	lw(l, LVT_TMR, 0x31);
	assert_int_equal(lr(l, TMCCT), 0);
	assert_int_equal(emu_lapic_poll(l, fake_now), UINT64_MAX);
}

static uint64_t ns_to_tsc(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * EMU_TSC_HZ / 1000000000ull);
}

static void test_timer_tsc_deadline(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[0];
	uint64_t t0 = fake_now, next;

	enable(l);
	/* Outside TSC-deadline mode the MSR is ignored and reads 0. */
	lw(l, LVT_TMR, 0x32);
	emu_lapic_set_tsc_deadline(l, ns_to_tsc(t0 + 5000));
	assert_int_equal(emu_lapic_get_tsc_deadline(l), 0);

	lw(l, LVT_TMR, DEADLINE | 0x32);
	assert_int_equal(lr(l, LVT_TMR), DEADLINE | 0x32);
	emu_lapic_set_tsc_deadline(l, ns_to_tsc(t0 + 5000));
	assert_int_equal(emu_lapic_get_tsc_deadline(l), ns_to_tsc(t0 + 5000));
	next = emu_lapic_poll(l, fake_now);
	assert_true(next >= t0 + 4999 && next <= t0 + 5001);
	/* The initial count does nothing in this mode. */
	lw(l, TMICT, 10);
	assert_int_equal(lr(l, TMCCT), 0);
	fake_now = next - 1;
	emu_lapic_poll(l, fake_now);
	assert_int_equal(take(l), -1);
	fake_now = next;
	assert_int_equal(emu_lapic_poll(l, fake_now), UINT64_MAX);
	assert_int_equal(take(l), 0x32);
	assert_int_equal(emu_lapic_get_tsc_deadline(l), 0);

	/* A deadline in the past fires at once. */
	emu_lapic_set_tsc_deadline(l, 1);
	assert_int_equal(take(l), 0x32);
	/* 0 disarms. */
	emu_lapic_set_tsc_deadline(l, ns_to_tsc(fake_now + 1000));
	emu_lapic_set_tsc_deadline(l, 0);
	fake_now += 1000000;
	assert_int_equal(emu_lapic_poll(l, fake_now), UINT64_MAX);
	assert_int_equal(take(l), -1);

	/* The guest TSC's offset moves the deadline with it. */
	emu_lapic_set_tsc_offset(l, (int64_t)ns_to_tsc(7000));
	emu_lapic_set_tsc_deadline(l, ns_to_tsc(fake_now + 7000 + 3000));
	next = emu_lapic_poll(l, fake_now);
	assert_true(next >= fake_now + 2999 && next <= fake_now + 3001);
	emu_lapic_set_tsc_offset(l, 0);
	next = emu_lapic_poll(l, fake_now);
	assert_true(next >= fake_now + 9999 && next <= fake_now + 10001);
	/* Leaving the mode disarms. */
	lw(l, LVT_TMR, 0x32);
	lw(l, LVT_TMR, DEADLINE | 0x32);
	assert_int_equal(emu_lapic_get_tsc_deadline(l), 0);
	assert_int_equal(emu_lapic_poll(l, fake_now + 1000000000), UINT64_MAX);
}

static void test_ipi_physical(void **state)
{
	struct fixture *x = *state;
	unsigned i;

	enable_all(x);
	for (i = 0; i < NCPUS; i++)
		x->kicks[i] = 0;
	lw(x->l[0], ICR_HI, 2u << 24);
	lw(x->l[0], ICR_LO, ASSERT | 0x41);
	assert_int_equal(lr(x->l[0], ICR_LO), ASSERT | 0x41);   /* idle at once */
	assert_int_equal(lr(x->l[0], ICR_HI), 2u << 24);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(emu_lapic_pending_vector(x->l[i]), i == 2 ? 0x41 : -1);
	assert_int_equal(x->kicks[2], 1);
	assert_int_equal(x->kicks[1], 0);
	assert_int_equal(take(x->l[2]), 0x41);
	/* Physical broadcast. */
	lw(x->l[1], ICR_HI, 0xFFu << 24);
	lw(x->l[1], ICR_LO, ASSERT | 0x42);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(take(x->l[i]), 0x42);
	/* Nobody at ID 9. */
	lw(x->l[1], ICR_HI, 9u << 24);
	lw(x->l[1], ICR_LO, ASSERT | 0x43);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(take(x->l[i]), -1);
	/* A changed ID is what is matched. */
	lw(x->l[3], ID, 9u << 24);
	lw(x->l[1], ICR_LO, ASSERT | 0x44);
	assert_int_equal(take(x->l[3]), 0x44);
}

static void test_ipi_logical(void **state)
{
	struct fixture *x = *state;
	unsigned i;

	enable_all(x);
	/* Flat: one bit each. */
	for (i = 0; i < NCPUS; i++)
		lw(x->l[i], LDR, (1u << i) << 24);
	lw(x->l[0], ICR_HI, 0x06u << 24);
	lw(x->l[0], ICR_LO, ASSERT | LOGICAL | 0x50);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(take(x->l[i]), i == 1 || i == 2 ? 0x50 : -1);
	/* An APIC with no logical ID is reached by broadcast only. */
	lw(x->l[3], LDR, 0);
	lw(x->l[0], ICR_HI, 0x08u << 24);
	lw(x->l[0], ICR_LO, ASSERT | LOGICAL | 0x51);
	assert_int_equal(take(x->l[3]), -1);
	lw(x->l[0], ICR_HI, 0xFFu << 24);
	lw(x->l[0], ICR_LO, ASSERT | LOGICAL | 0x52);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(take(x->l[i]), 0x52);

	/* Cluster: clusters 1 and 2, members by bit. */
	for (i = 0; i < NCPUS; i++)
		lw(x->l[i], DFR, 0x0FFFFFFF);
	lw(x->l[0], LDR, 0x11u << 24);
	lw(x->l[1], LDR, 0x12u << 24);
	lw(x->l[2], LDR, 0x21u << 24);
	lw(x->l[3], LDR, 0x22u << 24);
	lw(x->l[0], ICR_HI, 0x13u << 24);
	lw(x->l[0], ICR_LO, ASSERT | LOGICAL | 0x53);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(take(x->l[i]), i < 2 ? 0x53 : -1);
	lw(x->l[0], ICR_HI, 0x22u << 24);
	lw(x->l[0], ICR_LO, ASSERT | LOGICAL | 0x54);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(take(x->l[i]), i == 3 ? 0x54 : -1);
	/* Cluster 15: member 1 of every cluster. */
	lw(x->l[0], ICR_HI, 0xF1u << 24);
	lw(x->l[0], ICR_LO, ASSERT | LOGICAL | 0x55);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(take(x->l[i]), i == 0 || i == 2 ? 0x55 : -1);
}

static void test_ipi_shorthands(void **state)
{
	struct fixture *x = *state;
	unsigned i;

	enable_all(x);
	lw(x->l[1], ICR_HI, 3u << 24);       /* ignored with a shorthand */
	lw(x->l[1], ICR_LO, SELF | ASSERT | 0x60);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(take(x->l[i]), i == 1 ? 0x60 : -1);
	lw(x->l[1], ICR_LO, ALL | ASSERT | 0x61);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(take(x->l[i]), 0x61);
	lw(x->l[1], ICR_LO, OTHERS | ASSERT | 0x62);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(take(x->l[i]), i == 1 ? -1 : 0x62);
	/* All-but-self NMI, as Linux's NMI backtrace does. */
	lw(x->l[0], ICR_LO, OTHERS | ASSERT | (APIC_DELIVERY_NMI << 8));
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(emu_lapic_take_nmi(x->l[i]), i != 0);
}

static void test_ipi_lowest_priority(void **state)
{
	struct fixture *x = *state;
	unsigned i, got[NCPUS] = { 0 };
	int v;

	enable_all(x);
	emu_lapic_set_tpr(x->l[0], 0x30);
	emu_lapic_set_tpr(x->l[1], 0x10);
	emu_lapic_set_tpr(x->l[2], 0x20);
	emu_lapic_set_tpr(x->l[3], 0x40);
	lw(x->l[0], ICR_HI, 0xFFu << 24);
	lw(x->l[0], ICR_LO, ASSERT | (APIC_DELIVERY_LOWEST << 8) | 0x70);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(take(x->l[i]), i == 1 ? 0x70 : -1);
	/* Equal priorities: taken in turn, one target each time. */
	for (i = 0; i < NCPUS; i++)
		emu_lapic_set_tpr(x->l[i], 0);
	for (unsigned round = 0; round < 2 * NCPUS; round++) {
		unsigned hits = 0;

		lw(x->l[0], ICR_LO, ASSERT | (APIC_DELIVERY_LOWEST << 8) | 0x71);
		for (i = 0; i < NCPUS; i++) {
			v = take(x->l[i]);
			if (v == 0x71) {
				got[i]++;
				hits++;
			}
		}
		assert_int_equal(hits, 1);
	}
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(got[i], 2);
	/* A software-disabled APIC loses the arbitration. */
	for (i = 1; i < NCPUS; i++)
		lw(x->l[i], SVR, 0xFF);
	emu_lapic_set_tpr(x->l[0], 0xE0);
	lw(x->l[0], ICR_LO, ASSERT | (APIC_DELIVERY_LOWEST << 8) | 0xF1);
	assert_int_equal(emu_lapic_pending_vector(x->l[0]), 0xF1);
}

static void test_init_sipi(void **state)
{
	struct fixture *x = *state;
	uint8_t v;

	enable_all(x);
	lw(x->l[1], TPR, 0x20);
	fixed(x->l[1], 0x80, false);
	/* Linux's wakeup_secondary_cpu_via_init(): INIT assert, INIT
	 * de-assert, then two SIPIs. */
	lw(x->l[0], ICR_HI, 1u << 24);
	lw(x->l[0], ICR_LO, LEVEL | ASSERT | (APIC_DELIVERY_INIT << 8));
	lw(x->l[0], ICR_LO, LEVEL | (APIC_DELIVERY_INIT << 8));
	lw(x->l[0], ICR_LO, (APIC_DELIVERY_STARTUP << 8) | 0x9A);
	assert_false(emu_lapic_take_init(x->l[2]));
	assert_true(emu_lapic_take_init(x->l[1]));
	assert_false(emu_lapic_take_init(x->l[1]));
	/* INIT reset the APIC but for its ID; the SIPI after it stays. */
	assert_int_equal(lr(x->l[1], TPR), 0);
	assert_int_equal(lr(x->l[1], SVR), 0xFF);
	assert_int_equal(lr(x->l[1], ID), 1u << 24);
	assert_int_equal(emu_lapic_pending_vector(x->l[1]), -1);
	assert_true(emu_lapic_take_sipi(x->l[1], &v));
	assert_int_equal(v, 0x9A);
	assert_false(emu_lapic_take_sipi(x->l[1], &v));
	/* The second SIPI reaches a running CPU, which drops it. */
	lw(x->l[0], ICR_LO, (APIC_DELIVERY_STARTUP << 8) | 0x9A);
	assert_true(emu_lapic_take_sipi(x->l[1], &v));
	/* A SIPI before the INIT is stale. */
	lw(x->l[0], ICR_LO, (APIC_DELIVERY_STARTUP << 8) | 0x10);
	lw(x->l[0], ICR_LO, LEVEL | ASSERT | (APIC_DELIVERY_INIT << 8));
	assert_true(emu_lapic_take_init(x->l[1]));
	assert_false(emu_lapic_take_sipi(x->l[1], &v));
	/* INIT and SIPI reach a software-disabled APIC. */
	lw(x->l[0], ICR_LO, ASSERT | (APIC_DELIVERY_INIT << 8));
	lw(x->l[0], ICR_LO, (APIC_DELIVERY_STARTUP << 8) | 0x11);
	assert_true(emu_lapic_take_init(x->l[1]));
	assert_true(emu_lapic_take_sipi(x->l[1], &v));
	assert_int_equal(v, 0x11);
	/* NMI IPI. */
	lw(x->l[0], ICR_LO, ASSERT | (APIC_DELIVERY_NMI << 8));
	assert_true(emu_lapic_take_nmi(x->l[1]));
	assert_false(emu_lapic_take_nmi(x->l[0]));
}

static void test_illegal_vectors_and_esr(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[0];

	enable(l);
	enable(x->l[1]);
	lw(l, LVT_ERR, 0xEE);
	/* Sending vector 5: not sent, a send error. */
	lw(l, ICR_HI, 1u << 24);
	lw(l, ICR_LO, ASSERT | 0x05);
	assert_int_equal(emu_lapic_pending_vector(x->l[1]), -1);
	assert_int_equal(lr(l, ESR), 0);       /* latched by a write */
	lw(l, ESR, 0);
	assert_int_equal(lr(l, ESR), 0x20);
	assert_int_equal(take(l), 0xEE);
	/* Receiving vector 5. */
	fixed(l, 0x05, false);
	assert_false(bit(l, IRR, 0x05));
	lw(l, ESR, 0);
	assert_int_equal(lr(l, ESR), 0x40);
	assert_int_equal(take(l), 0xEE);
	lw(l, ESR, 0);
	assert_int_equal(lr(l, ESR), 0);
	/* A reserved register. */
	(void)lr(l, 0x3F0);
	lw(l, ESR, 0);
	assert_int_equal(lr(l, ESR), 0x80);
	assert_int_equal(take(l), 0xEE);
	/* An illegal error vector does not loop. */
	lw(l, LVT_ERR, 0x02);
	fixed(l, 0x01, false);
	lw(l, ESR, 0);
	assert_int_equal(lr(l, ESR), 0x40);
	assert_int_equal(take(l), -1);
}

static void pic_intr(void *opaque, bool level)
{
	emu_lapic_set_lint0(opaque, level);
}

static void test_lint0_extint_from_8259(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *bsp = x->l[0];
	uint8_t v;

	x->f = fake_platform_new();
	x->pic = i8259_create(&x->f->p, pic_intr, bsp);
	assert_non_null(x->pic);
	apic_router_set_pic(x->router, x->pic);
	emu_lapic_setup_lints(bsp, true);
	emu_lapic_setup_lints(x->l[1], false);
	assert_int_equal(lr(bsp, LVT_LINT0), APIC_DELIVERY_EXTINT << 8);
	assert_int_equal(lr(bsp, LVT_LINT1), APIC_DELIVERY_NMI << 8);
	assert_int_equal(lr(x->l[1], LVT_LINT0), MASKED | (APIC_DELIVERY_EXTINT << 8));

	outb(x->f, 0x20, 0x11);
	outb(x->f, 0x21, 0x30);
	outb(x->f, 0x21, 0x04);
	outb(x->f, 0x21, 0x01);
	outb(x->f, 0x21, 0x00);
	x->kicks[0] = 0;
	i8259_set_irq(x->pic, 4, true);
	assert_true(emu_lapic_extint_pending(bsp));
	assert_true(emu_lapic_has_interrupt(bsp));
	assert_int_equal(x->kicks[0], 1);
	/* ExtINT ignores the TPR. */
	emu_lapic_set_tpr(bsp, 0xF0);
	assert_int_equal(emu_lapic_ack_interrupt(bsp), 0x34);
	/* The INTA dropped INTR, and LINT0 with it. */
	assert_false(emu_lapic_extint_pending(bsp));
	assert_false(emu_lapic_take_extint(bsp, &v));
	outb(x->f, 0x20, 0x20);
	i8259_set_irq(x->pic, 4, false);

	/* Masked LINT0: the 8259 does not get through. */
	enable(bsp);
	lw(bsp, LVT_LINT0, MASKED | (APIC_DELIVERY_EXTINT << 8));
	i8259_set_irq(x->pic, 3, true);
	assert_false(emu_lapic_extint_pending(bsp));
	/* Unmasking with INTR up: pending at once, with a kick. */
	x->kicks[0] = 0;
	lw(bsp, LVT_LINT0, APIC_DELIVERY_EXTINT << 8);
	assert_true(emu_lapic_extint_pending(bsp));
	assert_int_equal(x->kicks[0], 1);
	assert_true(emu_lapic_take_extint(bsp, &v));
	assert_int_equal(v, 0x33);
	outb(x->f, 0x20, 0x20);
	i8259_set_irq(x->pic, 3, false);

	/* With the APIC off in IA32_APIC_BASE, LINT0 is plain INTR. */
	emu_lapic_set_enabled(bsp, false);
	assert_false(emu_lapic_enabled(bsp));
	assert_int_equal(lr(bsp, LVT_LINT0), MASKED);
	i8259_set_irq(x->pic, 5, true);
	assert_true(emu_lapic_extint_pending(bsp));
	assert_int_equal(emu_lapic_ack_interrupt(bsp), 0x35);
	emu_lapic_set_enabled(bsp, true);

	/* An ExtINT message (IOAPIC pin 0 in ExtINT mode) is one INTA. */
	{
		struct apic_msg m = { .delivery_mode = APIC_DELIVERY_EXTINT, .level = true };

		emu_lapic_deliver(x->l[2], &m);
		assert_true(emu_lapic_extint_pending(x->l[2]));
		/* Nothing at the 8259 any more: its spurious IRQ 7. */
		outb(x->f, 0x20, 0x20);
		i8259_set_irq(x->pic, 5, false);
		assert_int_equal(emu_lapic_ack_interrupt(x->l[2]), 0x37);
		assert_false(emu_lapic_extint_pending(x->l[2]));
	}
}

static void test_lint_fixed_and_nmi(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[0];

	enable(l);
	/* LINT1 as NMI: on the rising edge only. */
	lw(l, LVT_LINT1, APIC_DELIVERY_NMI << 8);
	emu_lapic_set_lint1(l, true);
	assert_true(emu_lapic_take_nmi(l));
	emu_lapic_set_lint1(l, true);
	assert_false(emu_lapic_take_nmi(l));
	emu_lapic_set_lint1(l, false);
	/* LINT0 fixed, level: remote IRR until the EOI. */
	lw(l, LVT_LINT0, LEVEL | 0x90);
	emu_lapic_set_lint0(l, true);
	assert_true(lr(l, LVT_LINT0) & 0x4000);
	assert_int_equal(emu_lapic_ack_interrupt(l), 0x90);
	assert_true(bit(l, TMR, 0x90));
	lw(l, EOI, 0);
	/* Still asserted: again. */
	assert_int_equal(emu_lapic_ack_interrupt(l), 0x90);
	emu_lapic_set_lint0(l, false);
	lw(l, EOI, 0);
	assert_false(lr(l, LVT_LINT0) & 0x4000);
	assert_int_equal(emu_lapic_ack_interrupt(l), -1);
	/* LINT0 fixed, edge. */
	lw(l, LVT_LINT0, 0x91);
	emu_lapic_set_lint0(l, true);
	emu_lapic_set_lint0(l, true);
	assert_int_equal(take(l), 0x91);
	assert_int_equal(take(l), -1);
}

static void test_ioapic_level_eoi_broadcast(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[2];

	enable_all(x);
	x->f = fake_platform_new();
	x->io = ioapic_create(&x->f->p, apic_router_bus(x->router));
	assert_non_null(x->io);
	apic_router_set_ioapic(x->router, x->io);
	/* Pin 9, level, vector 0x59, to APIC 2. */
	mmio_out(x->f, IOAPIC_BASE, 4, 0x23);
	mmio_out(x->f, IOAPIC_BASE + 0x10, 4, 2u << 24);
	mmio_out(x->f, IOAPIC_BASE, 4, 0x22);
	mmio_out(x->f, IOAPIC_BASE + 0x10, 4, 0x8000 | 0x59);
	ioapic_set_irq(x->io, 9, true);
	assert_true(bit(l, TMR, 0x59));
	assert_int_equal(emu_lapic_ack_interrupt(l), 0x59);
	/* Remote IRR holds the pin. */
	ioapic_set_irq(x->io, 9, true);
	assert_int_equal(emu_lapic_pending_vector(l), -1);
	/* The EOI broadcast releases it; still asserted, it comes again. */
	lw(l, EOI, 0);
	assert_int_equal(emu_lapic_ack_interrupt(l), 0x59);
	ioapic_set_irq(x->io, 9, false);
	lw(l, EOI, 0);
	assert_int_equal(emu_lapic_pending_vector(l), -1);
	mmio_out(x->f, IOAPIC_BASE, 4, 0x22);
	assert_false(mmio_in(x->f, IOAPIC_BASE + 0x10, 4) & 0x4000);
	/* Edge interrupts are not broadcast: TMR clear. */
	mmio_out(x->f, IOAPIC_BASE + 0x10, 4, 0x5A);
	ioapic_set_irq(x->io, 9, true);
	assert_false(bit(l, TMR, 0x5A));
	assert_int_equal(take(l), 0x5A);
}

static void test_hw_disable(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[1];
	struct apic_msg init = { .dest = 1, .delivery_mode = APIC_DELIVERY_INIT, .level = true };

	enable_all(x);
	lw(l, TPR, 0x30);
	emu_lapic_set_enabled(l, false);
	/* Off the bus: no IPIs, not even INIT. */
	lw(x->l[0], ICR_HI, 0xFFu << 24);
	lw(x->l[0], ICR_LO, ASSERT | 0x41);
	assert_int_equal(emu_lapic_pending_vector(l), -1);
	emu_lapic_deliver(l, &init);
	assert_false(emu_lapic_take_init(l));
	/* Back on: reset state. */
	emu_lapic_set_enabled(l, true);
	assert_int_equal(lr(l, TPR), 0);
	assert_int_equal(lr(l, SVR), 0xFF);
	assert_int_equal(lr(l, ID), 1u << 24);
}

static void test_mmio_hostile(void **state)
{
	struct fixture *x = *state;
	struct emu_lapic *l = x->l[3];

	enable(l);
	/* Narrow and misaligned reads see the register's bytes. */
	assert_int_equal(emu_lapic_mmio_read(l, VERSION, 1), 0x14);
	assert_int_equal(emu_lapic_mmio_read(l, VERSION + 2, 1), 0x05);
	assert_int_equal(emu_lapic_mmio_read(l, VERSION + 2, 4), 0x0005);
	assert_int_equal(emu_lapic_mmio_read(l, ID + 3, 2), 3);
	assert_int_equal(emu_lapic_mmio_read(l, VERSION, 8), 0x00050014);
	assert_int_equal(emu_lapic_mmio_read(l, SVR + 4, 4), 0);
	/* Off the page, or past the registers. */
	assert_int_equal(emu_lapic_mmio_read(l, 0x1000, 4), 0);
	assert_int_equal(emu_lapic_mmio_read(l, 0xFFFFFFFF, 8), 0);
	assert_int_equal(emu_lapic_mmio_read(l, 0xFFC, 8), 0);
	assert_int_equal(emu_lapic_mmio_read(l, 0x800, 4), 0);
	emu_lapic_mmio_write(l, 0x1000, 4, 0xFFFFFFFF);
	emu_lapic_mmio_write(l, 0xFFFFFFF0, 4, 0xFFFFFFFF);
	/* Narrow or misaligned writes are dropped. */
	emu_lapic_mmio_write(l, TPR, 1, 0x40);
	emu_lapic_mmio_write(l, TPR, 2, 0x40);
	emu_lapic_mmio_write(l, TPR + 1, 4, 0x40);
	assert_int_equal(lr(l, TPR), 0);
	/* A 64-bit write: the low half counts. */
	emu_lapic_mmio_write(l, TPR, 8, 0xFFFFFFFF00000020ull);
	assert_int_equal(lr(l, TPR), 0x20);
	/* Read-only registers ignore writes. */
	lw(l, VERSION, 0);
	lw(l, PPR, 0xFF);
	lw(l, IRR, 0xFFFFFFFF);
	lw(l, ISR + 0x70, 0xFFFFFFFF);
	lw(l, TMCCT, 1234);
	assert_int_equal(lr(l, VERSION), 0x00050014);
	assert_int_equal(lr(l, IRR), 0);
	assert_int_equal(lr(l, ISR + 0x70), 0);
	assert_int_equal(lr(l, TMCCT), 0);
	assert_int_equal(emu_lapic_pending_vector(l), -1);
	/* Reserved LVT bits stay clear; remote IRR is not writable. */
	lw(l, LVT_LINT0, 0xFFFFFFFF);
	assert_int_equal(lr(l, LVT_LINT0), 0x1A7FF);
	lw(l, LVT_TMR, 0xFFFFFFFF);
	assert_int_equal(lr(l, LVT_TMR), 0x700FF);
	lw(l, LVT_ERR, 0xFFFFFFFF);
	assert_int_equal(lr(l, LVT_ERR), 0x100FF);
	lw(l, LVT_THM, 0xFFFFFFFF);
	assert_int_equal(lr(l, LVT_THM), 0x107FF);
	lw(l, LVT_PMC, 0xFFFFFFFF);
	assert_int_equal(lr(l, LVT_PMC), 0x107FF);
	lw(l, ICR_LO, 0xFFF30000);          /* shorthand all-but-self, vector 0 */
	lw(l, TDCR, 0xFFFFFFFF);
	assert_int_equal(lr(l, TDCR), 0xB);
	/* The hostile ICR write sent vector 0: an error, not an interrupt. */
	assert_int_equal(emu_lapic_pending_vector(x->l[0]), -1);
	/* A huge count with the biggest divider. */
	lw(l, LVT_TMR, PERIODIC | 0x40);
	lw(l, TDCR, 0xA);                    /* divide by 128 */
	lw(l, TMICT, 0xFFFFFFFF);
	assert_int_equal(lr(l, TMCCT), 0xFFFFFFFF);
	assert_int_equal(emu_lapic_poll(l, fake_now), fake_now + 0xFFFFFFFFull * 128);
	fake_now += 0xFFFFFFFFull * 128 * 3 + 128;
	assert_int_equal(lr(l, TMCCT), 0xFFFFFFFE);
	/* Delivery modes nobody can send are dropped. */
	lw(l, ICR_LO, ASSERT | (3u << 8) | 0x40);
	lw(l, ICR_LO, ASSERT | (7u << 8) | 0x40);
	assert_int_equal(emu_lapic_pending_vector(x->l[0]), -1);
}

static void test_alone_without_bus(void **state)
{
	struct emu_lapic *l = emu_lapic_create(0, NULL, fake_clock, NULL, NULL);
	uint8_t v;

	(void)state;
	assert_non_null(l);
	enable(l);
	lw(l, ICR_LO, SELF | ASSERT | 0x40);
	lw(l, ICR_LO, ALL | ASSERT | 0x50);
	lw(l, ICR_LO, ASSERT | 0x60);        /* physical 0: itself */
	assert_int_equal(take(l), 0x60);
	assert_int_equal(take(l), 0x50);
	assert_int_equal(take(l), 0x40);
	/* Level EOI with no bus, ExtINT with no 8259. */
	fixed(l, 0x70, true);
	assert_int_equal(take(l), 0x70);
	emu_lapic_setup_lints(l, true);
	emu_lapic_set_lint0(l, true);
	assert_false(emu_lapic_take_extint(l, &v));
	emu_lapic_destroy(l);
}

/* Several vCPU threads IPI each other and take interrupts while the main
 * thread drives a level IOAPIC pin (lowest priority to everyone) and the
 * 8259 into the BSP: every lock order the parts use, at once. A deadlock
 * shows as a test timeout. */
struct worker {
	struct fixture *x;
	unsigned i;
	atomic_bool *stop;
	unsigned ipis, ioapic, pic;
};

static void *stress_worker(void *arg)
{
	struct worker *w = arg;
	struct emu_lapic *l = w->x->l[w->i];
	unsigned n;
	int v;

	for (n = 0; !atomic_load(w->stop) || n < 20000; n++) {
		if (n < 20000) {
			lw(l, ICR_HI, ((w->i + 1 + n % 3) % NCPUS) << 24);
			lw(l, ICR_LO, ASSERT | (0x40 + w->i));
			if (n % 64 == 0)
				lw(l, ICR_LO, OTHERS | ASSERT | 0x50);
		}
		while ((v = emu_lapic_ack_interrupt(l)) >= 0) {
			if (v >= 0x20 && v < 0x30) {
				w->pic++;         /* ExtINT: no LAPIC EOI */
				continue;
			}
			if (v == 0x80)
				w->ioapic++;
			else
				w->ipis++;
			lw(l, EOI, 0);
		}
		if (n >= 20000 && atomic_load(w->stop))
			break;
	}
	return NULL;
}

static void test_concurrent_stress(void **state)
{
	struct fixture *x = *state;
	struct worker w[NCPUS];
	pthread_t t[NCPUS];
	atomic_bool stop = false;
	unsigned i, n, ipis = 0, io = 0, pic = 0;

	enable_all(x);
	x->f = fake_platform_new();
	x->io = ioapic_create(&x->f->p, apic_router_bus(x->router));
	x->pic = i8259_create(&x->f->p, pic_intr, x->l[0]);
	assert_non_null(x->io);
	assert_non_null(x->pic);
	apic_router_set_ioapic(x->router, x->io);
	apic_router_set_pic(x->router, x->pic);
	emu_lapic_setup_lints(x->l[0], true);
	for (i = 0; i < NCPUS; i++)
		lw(x->l[i], LDR, 0x01000000);
	outb(x->f, 0x20, 0x11);
	outb(x->f, 0x21, 0x20);
	outb(x->f, 0x21, 0x04);
	outb(x->f, 0x21, 0x03);              /* auto-EOI: no PIC EOI needed */
	outb(x->f, 0x21, 0x00);
	mmio_out(x->f, IOAPIC_BASE, 4, 0x17);
	mmio_out(x->f, IOAPIC_BASE + 0x10, 4, 0x01000000);
	mmio_out(x->f, IOAPIC_BASE, 4, 0x16);
	mmio_out(x->f, IOAPIC_BASE + 0x10, 4, 0x8000 | LOGICAL | (APIC_DELIVERY_LOWEST << 8) | 0x80);

	for (i = 0; i < NCPUS; i++) {
		w[i] = (struct worker){ .x = x, .i = i, .stop = &stop };
		assert_int_equal(pthread_create(&t[i], NULL, stress_worker, &w[i]), 0);
	}
	for (n = 0; n < 20000; n++) {
		ioapic_set_irq(x->io, 3, n % 2 == 0);
		i8259_set_irq(x->pic, 4, n % 3 == 0);
		emu_lapic_poll(x->l[n % NCPUS], fake_now);
	}
	ioapic_set_irq(x->io, 3, false);
	i8259_set_irq(x->pic, 4, false);
	atomic_store(&stop, true);
	for (i = 0; i < NCPUS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		ipis += w[i].ipis;
		io += w[i].ioapic;
		pic += w[i].pic;
	}
	/* Retire what is left (on a loaded host the workers may have stopped
	 * before the last deliveries reached them), counting it too: the
	 * point is that every source got through, whoever took it. */
	for (i = 0; i < NCPUS; i++) {
		int v;

		while ((v = emu_lapic_ack_interrupt(x->l[i])) >= 0) {
			if (v >= 0x20 && v < 0x30) {
				pic++;
				continue;
			}
			if (v == 0x80)
				io++;
			else
				ipis++;
			lw(x->l[i], EOI, 0);
		}
		assert_int_equal(lr(x->l[i], PPR), 0);
	}
	assert_true(ipis > 0);
	assert_true(io > 0);
	assert_true(pic > 0);
	mmio_out(x->f, IOAPIC_BASE, 4, 0x16);
	assert_false(mmio_in(x->f, IOAPIC_BASE + 0x10, 4) & 0x4000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_reset_state),
		T(test_svr_disable),
		T(test_irr_isr_eoi_order),
		T(test_tpr_ppr_apr),
		T(test_kicks),
		T(test_timer_oneshot),
		T(test_timer_periodic),
		T(test_timer_tsc_deadline),
		T(test_ipi_physical),
		T(test_ipi_logical),
		T(test_ipi_shorthands),
		T(test_ipi_lowest_priority),
		T(test_init_sipi),
		T(test_illegal_vectors_and_esr),
		T(test_lint0_extint_from_8259),
		T(test_lint_fixed_and_nmi),
		T(test_ioapic_level_eoi_broadcast),
		T(test_hw_disable),
		T(test_mmio_hostile),
		T(test_concurrent_stress),
		cmocka_unit_test(test_alone_without_bus),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
