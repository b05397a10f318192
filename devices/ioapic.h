/* An 82093AA-style I/O APIC for the software CPU core: 24 input pins, each
 * with a redirection entry that turns an edge or a level on the pin into a
 * message on the APIC bus (devices/apic_bus.h).
 *
 * The MMIO window at IOAPIC_BASE holds IOREGSEL (+0x00), IOWIN (+0x10) and
 * the EOI register of version 0x20 parts (+0x40): the version register
 * says 0x20, so an OS may retire a level-triggered vector either there or
 * by the local APIC's EOI broadcast (ioapic_eoi()). Under KVM the kernel's
 * IOAPIC serves instead and this one is not created. */
#ifndef WISP_DEVICES_IOAPIC_H
#define WISP_DEVICES_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

struct platform;
struct apic_bus;
struct ioapic;

#define IOAPIC_VERSION   0x20
#define IOAPIC_MMIO_SIZE 0x1000u

/* Claims [IOAPIC_BASE, +IOAPIC_MMIO_SIZE) on p->mmio; messages go to bus,
 * which must outlive the IOAPIC. All pins start masked. Returns NULL after
 * logging why. */
struct ioapic *ioapic_create(struct platform *p, struct apic_bus *bus);
void ioapic_destroy(struct ioapic *io);

/* Drive input pin (0..23; others are ignored) to level (true = asserted:
 * the platform's lines are logical, so the entry's polarity bit is kept
 * for the OS to read back but does not invert). An edge-triggered pin
 * sends on 0->1 if unmasked (a masked edge is lost, as on the 82093AA); a
 * level-triggered pin sends while asserted, unmasked and remote IRR clear.
 * Any thread; calls bus->deliver with the IOAPIC's lock held. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level);

/* EOI broadcast for vector: clears remote IRR of every level-triggered pin
 * with that vector; a pin still asserted sends again. Any thread, with no
 * local APIC lock held. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

#endif
