/* The APIC bus as the software interrupt controllers see it: the one
 * message an IOAPIC pin, an MSI write or a local APIC's IPI turns into,
 * and the wires back (EOI broadcast, the 8259's INTA cycle). The IOAPIC
 * only sends; the system's implementation (vmm/emu/apic_router.c) routes
 * each message to the local APICs it names. Tests supply their own bus. */
#ifndef WISP_DEVICES_APIC_BUS_H
#define WISP_DEVICES_APIC_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* Delivery modes, with the encoding of the IOAPIC redirection entry, the
 * ICR and the LVT (bits 10:8). 3 is reserved. */
#define APIC_DELIVERY_FIXED   0
#define APIC_DELIVERY_LOWEST  1   /* fixed, to one target: the least busy */
#define APIC_DELIVERY_SMI     2
#define APIC_DELIVERY_NMI     4
#define APIC_DELIVERY_INIT    5
#define APIC_DELIVERY_STARTUP 6   /* SIPI: vector is the start page number */
#define APIC_DELIVERY_EXTINT  7   /* the vector comes from the 8259 (INTA) */

/* Destination shorthands, with the ICR's encoding (bits 19:18). Only a
 * local APIC sends shorthands; everybody else leaves 0. */
#define APIC_SHORTHAND_NONE         0
#define APIC_SHORTHAND_SELF         1
#define APIC_SHORTHAND_ALL          2
#define APIC_SHORTHAND_ALL_BUT_SELF 3

/* Physical destination that every local APIC accepts (xAPIC). */
#define APIC_BROADCAST 0xFFu

struct apic_msg {
	uint32_t dest;          /* physical: APIC ID, APIC_BROADCAST for all;
	                         * logical: the message destination address
	                         * (8 bits, flat or cluster per each DFR) */
	bool logical;           /* destination mode */
	uint8_t vector;
	uint8_t delivery_mode;  /* APIC_DELIVERY_* */
	bool level;             /* asserted; only an INIT level de-assert is false */
	bool trigger_level;     /* level-triggered: the target sets TMR and
	                         * broadcasts an EOI for the vector */
	uint8_t shorthand;      /* APIC_SHORTHAND_*: overrides dest */
	const void *sender;     /* the sending local APIC, for the shorthands;
	                         * NULL from the IOAPIC and MSIs */
};

struct apic_bus {
	/* Deliver msg to every local APIC it names. Any thread; the caller
	 * may hold its own lock (the IOAPIC does, to keep its pins' messages
	 * in order), so the bus never calls back into the sender. */
	void (*deliver)(struct apic_bus *bus, const struct apic_msg *msg);
	/* A local APIC retired a level-triggered vector: the IOAPIC clears
	 * remote IRR of the pins using it. Called with no local APIC lock
	 * held. May be NULL. */
	void (*eoi)(struct apic_bus *bus, uint8_t vector);
	/* The INTA cycle of an ExtINT interrupt: the 8259's vector, or -1
	 * when no 8259 is attached. Called with no local APIC lock held.
	 * May be NULL. */
	int (*inta)(struct apic_bus *bus);
};

#endif
