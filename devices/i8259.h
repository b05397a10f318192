/* The master/slave 8259A pair of a PC for the software CPU core: master at
 * ports 0x20-0x21 (IRQ 0-7), slave at 0xA0-0xA1 (IRQ 8-15) cascaded on the
 * master's IRQ 2, and the PIIX edge/level control registers (ELCR) at
 * 0x4D0-0x4D1.
 *
 * Modelled: ICW1-4 (x86 mode, cascade or single), OCW1 (IMR), OCW2
 * (non-specific/specific EOI, rotation on EOI, rotate in auto-EOI mode,
 * set priority), OCW3 (IRR/ISR reads, poll, special mask), auto-EOI,
 * special fully nested mode, and level sensitivity from ICW1.LTIM or the
 * ELCR. Not modelled: 8080 mode and buffered-mode pins.
 *
 * Edge inputs latch IRR on 0->1 and keep it when the line drops before the
 * CPU acknowledges (the datasheet's spurious IRQ 7 for a vanished request
 * would only lose the interrupt); level inputs follow the line. Before the
 * guest initialises the pair, both chips are fully masked, with the vector
 * bases a PC BIOS uses (0x08, 0x70).
 *
 * The pair's INTR output goes to whoever created it (the BSP's LINT0 under
 * the software core); the CPU's INTA cycle is i8259_acknowledge(). Under
 * KVM the kernel's 8259s serve instead. */
#ifndef WISP_DEVICES_I8259_H
#define WISP_DEVICES_I8259_H

#include <stdbool.h>

struct platform;
struct i8259;

/* Claims the ports above on p->pio. intr_changed (may be NULL) is called
 * whenever the INTR output changes level, with the pair's lock held, so
 * the calls arrive in order; it must not call back into the i8259.
 * Returns NULL after logging why. */
struct i8259 *i8259_create(struct platform *p, void (*intr_changed)(void *opaque, bool level),
			   void *opaque);
void i8259_destroy(struct i8259 *pic);

/* Drive ISA IRQ 0-15 to level. IRQ 2 is the cascade input, driven by the
 * slave only: setting it, or any IRQ above 15, is ignored. Any thread. */
void i8259_set_irq(struct i8259 *pic, unsigned irq, bool level);

/* Whether INTR is asserted. */
bool i8259_has_interrupt(struct i8259 *pic);

/* The INTA cycle: moves the highest-priority request to in-service (or
 * not, in auto-EOI mode) and returns its vector. With nothing to deliver
 * (the request went away) it returns the spurious vector of the chip
 * concerned, IRQ 7 (master) or IRQ 15 (slave, after the master has taken
 * IRQ 2 in service), as the 8259A does. Any thread. */
int i8259_acknowledge(struct i8259 *pic);

#endif
