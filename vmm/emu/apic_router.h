/* The system's APIC bus under the software core: routes each apic_msg
 * (from the IOAPIC, a LAPIC's ICR, later MSIs) to the local APICs it
 * names, carries EOI broadcasts to the IOAPIC and ExtINT acknowledges to
 * the 8259.
 *
 * Routing: physical destination = APIC ID, 0xFF all; logical = each
 * LAPIC's LDR under its DFR model (flat: bitwise AND; cluster: cluster
 * nibble 15 or equal, and member bits), 0xFF all; shorthands self, all,
 * all-but-self by sender. Lowest priority goes to the one target with the
 * lowest processor priority (software-disabled APICs last), ties taken in
 * turn. Hardware-disabled LAPICs are never targets. */
#ifndef WISP_EMU_APIC_ROUTER_H
#define WISP_EMU_APIC_ROUTER_H

#include "devices/apic_bus.h"

struct apic_router;
struct emu_lapic;
struct ioapic;
struct i8259;

/* Up to APIC_ROUTER_MAX LAPICs (the xAPIC's 8-bit ID space). */
#define APIC_ROUTER_MAX 256

struct apic_router *apic_router_create(void);
/* The LAPICs, IOAPIC and 8259 stay the caller's. */
void apic_router_destroy(struct apic_router *r);

/* The bus to hand the IOAPIC and the LAPICs. */
struct apic_bus *apic_router_bus(struct apic_router *r);

/* Attach the machine's parts, while it is built (before vCPUs run; a
 * LAPIC added later is safe but may miss messages sent meanwhile).
 * apic_router_add returns 0, -EINVAL or -ENOSPC. */
int apic_router_add(struct apic_router *r, struct emu_lapic *lapic);
void apic_router_set_ioapic(struct apic_router *r, struct ioapic *ioapic);
void apic_router_set_pic(struct apic_router *r, struct i8259 *pic);

#endif
