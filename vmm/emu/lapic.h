/* The local APIC of one software vCPU (xAPIC).
 *
 * The register page sits at LAPIC_BASE in every vCPU's physical address
 * space but is private to each: it is not on the MMIO bus, and the core's
 * memory code calls emu_lapic_mmio_read/write when its vCPU touches it.
 * Registers: ID, version (0x50014: six LVT entries, no EOI-broadcast
 * suppression), TPR, APR, PPR, EOI, LDR, DFR, SVR, ISR/TMR/IRR, ESR, ICR,
 * the LVT (timer, thermal, performance, LINT0, LINT1, error) and the timer
 * (initial/current count, divide configuration).
 *
 * Interrupts arrive as apic_msg from the APIC bus (emu_lapic_deliver, by
 * the router), from the local pins (emu_lapic_set_lint0/1), the timer and
 * the error LVT. Fixed ones wait in IRR; NMI, INIT, SIPI and ExtINT wait
 * in flags the core takes. At an instruction boundary the core does:
 *
 *	if (emu_lapic_take_init(l))          reset the CPU, wait for SIPI
 *	if (waiting && emu_lapic_take_sipi(l, &v))  start at v << 12
 *	if (!NMI blocked && emu_lapic_take_nmi(l))  deliver NMI (vector 2)
 *	if (IF && no interrupt shadow && (v = emu_lapic_ack_interrupt(l)) >= 0)
 *		deliver external interrupt v
 *
 * emu_lapic_ack_interrupt() runs the 8259's INTA cycle for ExtINT and
 * otherwise moves the best IRR vector above PPR to ISR, in one step. The
 * older pair emu_lapic_pending_vector() + emu_lapic_accept() does the same
 * for fixed interrupts only. A SIPI that arrives while the vCPU runs must
 * be taken and dropped (hardware ignores it).
 *
 * Time: the timer counts at EMU_LAPIC_TIMER_HZ (before the divider) on the
 * clock given at create time. Register reads compute from that clock, so
 * they are right however rarely the LAPIC is polled; expiries raise their
 * interrupt when emu_lapic_poll(l, now) (or any register access) sees
 * them. A periodic timer polled late raises its vector once: the IRR
 * holds one of each vector anyway.
 *
 * Locking: each LAPIC has its own mutex. It never calls out (bus, kick)
 * with it held, so the IOAPIC, the 8259 and other LAPICs may call in from
 * any thread while holding their own locks. */
#ifndef WISP_EMU_LAPIC_H
#define WISP_EMU_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/apic_bus.h"

/* The APIC timer's input clock, before the divide configuration. */
#define EMU_LAPIC_TIMER_HZ 1000000000ull

#define EMU_LAPIC_VERSION 0x00050014u

struct emu_lapic;

/* bus carries IPIs and EOI broadcasts (may be NULL: no other CPUs, no
 * IOAPIC); now_ns is the monotonic clock in ns; kick(opaque) (may be NULL)
 * is called, without the LAPIC's lock, whenever something becomes
 * deliverable that was not (a new IRR vector above PPR, NMI, INIT, SIPI,
 * ExtINT): the vCPU may be asleep in HLT. kick may come from any thread,
 * including the vCPU's own; it must only wake, not call back in.
 * The LAPIC starts in its power-up state: enabled in IA32_APIC_BASE,
 * software-disabled in SVR, every LVT masked. */
struct emu_lapic *emu_lapic_create(unsigned apic_id, struct apic_bus *bus,
				   uint64_t (*now_ns)(void), void (*kick)(void *opaque),
				   void *opaque);
void emu_lapic_destroy(struct emu_lapic *l);

/* Power-up state again (registers, pending events, timer), keeping the ID
 * and IA32_APIC_BASE's enable bit. emu_lapic_take_init() does this. */
void emu_lapic_reset(struct emu_lapic *l);

/* What a PC BIOS leaves in LINT0/LINT1 (and what wisp's KVM backend
 * sets): LINT0 ExtINT, LINT1 NMI, unmasked on the BSP and masked on the
 * others, so the 8259 reaches the BSP before the OS sets up its APIC. */
void emu_lapic_setup_lints(struct emu_lapic *l, bool bsp);

/* The register page. offset is within the 4 KiB page (others read 0),
 * size 1..8. Registers are 32 bits on 16-byte boundaries: reads may be
 * narrow; writes must be 32 bits (or 64, of which the low half counts) at
 * the register's offset, anything else is dropped. */
uint64_t emu_lapic_mmio_read(struct emu_lapic *l, uint32_t offset, unsigned size);
void emu_lapic_mmio_write(struct emu_lapic *l, uint32_t offset, unsigned size, uint64_t value);

/* Timer expiry up to now (the create-time clock); returns when the timer
 * next expires, or UINT64_MAX when it is stopped or its LVT is masked (a
 * masked timer still counts; unmasking it is a register write, which the
 * vCPU follows with a poll). */
uint64_t emu_lapic_poll(struct emu_lapic *l, uint64_t now);

/* IA32_TSC_DEADLINE (MSR 0x6E0). tsc is guest TSC, where guest TSC =
 * now_ns() * EMU_TSC_HZ (cpuid.h) / 1e9 + the offset given to
 * emu_lapic_set_tsc_offset (default 0). Writes count only in TSC-deadline
 * mode; 0 disarms; a past deadline fires at once. Reads give the armed
 * deadline, 0 once it fired or outside TSC-deadline mode. */
void emu_lapic_set_tsc_deadline(struct emu_lapic *l, uint64_t tsc);
uint64_t emu_lapic_get_tsc_deadline(struct emu_lapic *l);
void emu_lapic_set_tsc_offset(struct emu_lapic *l, int64_t offset);

/* An interrupt message for this LAPIC (the router has decided it is a
 * target). A hardware-disabled LAPIC ignores everything; a
 * software-disabled one drops fixed interrupts and keeps the rest. */
void emu_lapic_deliver(struct emu_lapic *l, const struct apic_msg *msg);

/* The local interrupt pins. LINT0 carries the 8259's INTR on the BSP. In
 * ExtINT mode (or with the LAPIC hardware-disabled, when the pin is the
 * CPU's INTR) the level is what matters; NMI, INIT and fixed edge modes
 * act on 0->1, fixed level mode sets remote IRR until the EOI. LINT1 with
 * the LAPIC hardware-disabled is the CPU's NMI pin. */
void emu_lapic_set_lint0(struct emu_lapic *l, bool level);
void emu_lapic_set_lint1(struct emu_lapic *l, bool level);

/* The best fixed vector in IRR above the processor priority, or -1. */
int emu_lapic_pending_vector(struct emu_lapic *l);
/* IRR -> ISR for vector (nothing if vector is not requested). */
void emu_lapic_accept(struct emu_lapic *l, uint8_t vector);

/* Any maskable interrupt for the core: ExtINT or a fixed vector above
 * PPR. The one-step acknowledge: ExtINT first (the 8259's vector through
 * the bus's INTA), else the best fixed vector, moved to ISR. -1 if none. */
bool emu_lapic_has_interrupt(struct emu_lapic *l);
int emu_lapic_ack_interrupt(struct emu_lapic *l);

/* ExtINT: pending while LINT0 is asserted in ExtINT mode, or once per
 * ExtINT message. take runs the INTA cycle (bus->inta) and gives the
 * vector; false when nothing is pending or no 8259 answers. */
bool emu_lapic_extint_pending(struct emu_lapic *l);
bool emu_lapic_take_extint(struct emu_lapic *l, uint8_t *vector);

/* Pending NMI / INIT / SIPI, cleared by taking. take_init also resets the
 * LAPIC (INIT resets it, except the ID); a SIPI that came before the INIT
 * is forgotten, one that came after stays for take_sipi. */
bool emu_lapic_take_nmi(struct emu_lapic *l);
bool emu_lapic_take_init(struct emu_lapic *l);
bool emu_lapic_take_sipi(struct emu_lapic *l, uint8_t *vector);

/* The whole TPR register (bits 7:4 priority class, 3:0 sub-class).
 * CR8 is TPR >> 4: MOV to CR8 is emu_lapic_set_tpr(l, cr8 << 4) and MOV
 * from CR8 is emu_lapic_get_tpr(l) >> 4. */
uint8_t emu_lapic_get_tpr(struct emu_lapic *l);
void emu_lapic_set_tpr(struct emu_lapic *l, uint8_t tpr);

/* IA32_APIC_BASE bit 11 (the core owns the MSR). Disabling resets the
 * LAPIC and takes it off the APIC bus. */
void emu_lapic_set_enabled(struct emu_lapic *l, bool enabled);
bool emu_lapic_enabled(struct emu_lapic *l);

unsigned emu_lapic_id(struct emu_lapic *l);

/* For the router (vmm/emu/apic_router.c): whether msg's destination (not
 * its shorthand) names this LAPIC, and its priority for lowest-priority
 * arbitration (PPR; 0x100 when software-disabled). */
bool emu_lapic_match_dest(struct emu_lapic *l, const struct apic_msg *msg);
unsigned emu_lapic_arb_priority(struct emu_lapic *l);

#endif
