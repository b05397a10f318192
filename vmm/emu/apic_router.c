#include "apic_router.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#include "devices/i8259.h"
#include "devices/ioapic.h"
#include "lapic.h"

struct apic_router {
	struct apic_bus bus;               /* first: the bus ops get this */
	pthread_mutex_t add_lock;          /* serialises adders only */
	/* Append-only: a slot is written before count covers it, so
	 * deliveries read without a lock. */
	_Atomic(struct emu_lapic *) lapics[APIC_ROUTER_MAX];
	atomic_uint count;
	atomic_uint rotor;                 /* lowest-priority tie breaker */
	_Atomic(struct ioapic *) ioapic;
	_Atomic(struct i8259 *) pic;
};

static struct apic_router *router_of(struct apic_bus *bus)
{
	return (struct apic_router *)((char *)bus - offsetof(struct apic_router, bus));
}

static bool is_target(struct emu_lapic *l, const struct apic_msg *msg)
{
	switch (msg->shorthand) {
	case APIC_SHORTHAND_SELF:
		return l == msg->sender && emu_lapic_enabled(l);
	case APIC_SHORTHAND_ALL:
		return emu_lapic_enabled(l);
	case APIC_SHORTHAND_ALL_BUT_SELF:
		return l != msg->sender && emu_lapic_enabled(l);
	}
	return emu_lapic_match_dest(l, msg);
}

static void router_deliver(struct apic_bus *bus, const struct apic_msg *msg)
{
	struct apic_router *r = router_of(bus);
	struct emu_lapic *targets[APIC_ROUTER_MAX], *best;
	unsigned n = atomic_load(&r->count), nt = 0, i, start, prio, best_prio;

	for (i = 0; i < n; i++) {
		struct emu_lapic *l = atomic_load(&r->lapics[i]);

		if (l && is_target(l, msg))
			targets[nt++] = l;
	}
	if (!nt)
		return;
	if (msg->delivery_mode != APIC_DELIVERY_LOWEST || nt == 1) {
		for (i = 0; i < nt; i++)
			emu_lapic_deliver(targets[i], msg);
		return;
	}
	/* Lowest priority: one target. Priorities are read one LAPIC at a
	 * time and may move meanwhile; hardware arbitration is no more
	 * exact than that either. */
	start = atomic_fetch_add(&r->rotor, 1) % nt;
	best = NULL;
	best_prio = ~0u;
	for (i = 0; i < nt; i++) {
		struct emu_lapic *l = targets[(start + i) % nt];

		prio = emu_lapic_arb_priority(l);
		if (prio < best_prio) {
			best = l;
			best_prio = prio;
		}
	}
	emu_lapic_deliver(best, msg);
}

static void router_eoi(struct apic_bus *bus, uint8_t vector)
{
	struct ioapic *io = atomic_load(&router_of(bus)->ioapic);

	if (io)
		ioapic_eoi(io, vector);
}

static int router_inta(struct apic_bus *bus)
{
	struct i8259 *pic = atomic_load(&router_of(bus)->pic);

	return pic ? i8259_acknowledge(pic) : -1;
}

struct apic_router *apic_router_create(void)
{
	struct apic_router *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->add_lock, NULL);
	r->bus.deliver = router_deliver;
	r->bus.eoi = router_eoi;
	r->bus.inta = router_inta;
	return r;
}

void apic_router_destroy(struct apic_router *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->add_lock);
	free(r);
}

struct apic_bus *apic_router_bus(struct apic_router *r)
{
	return &r->bus;
}

int apic_router_add(struct apic_router *r, struct emu_lapic *lapic)
{
	unsigned n;
	int rc = 0;

	if (!lapic)
		return -EINVAL;
	pthread_mutex_lock(&r->add_lock);
	n = atomic_load(&r->count);
	if (n >= APIC_ROUTER_MAX) {
		rc = -ENOSPC;
	} else {
		atomic_store(&r->lapics[n], lapic);
		atomic_store(&r->count, n + 1);
	}
	pthread_mutex_unlock(&r->add_lock);
	return rc;
}

void apic_router_set_ioapic(struct apic_router *r, struct ioapic *ioapic)
{
	atomic_store(&r->ioapic, ioapic);
}

void apic_router_set_pic(struct apic_router *r, struct i8259 *pic)
{
	atomic_store(&r->pic, pic);
}
