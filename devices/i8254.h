/* The 8254 programmable interval timer of a PC for the software CPU core:
 * channels 0-2 at ports 0x40-0x42, the control word at 0x43, and the
 * system control port B at 0x61 (bit 0: channel 2 gate, bit 1: speaker
 * data, bits 2-3 read back as written, bit 4: refresh toggle, bit 5:
 * channel 2 output). Channel 0's output drives IRQ_PIT; channel 1 counts
 * with nothing attached; channel 2 is what the speaker and Linux's TSC
 * calibration use.
 *
 * Modelled: modes 0-5 (6 and 7 are 2 and 3), binary and BCD, LSB/MSB/
 * LSB-then-MSB access with separate read and write flip-flops, counter
 * latch and read-back commands, the status byte, gates (mode 0/4 pause,
 * mode 1/5 trigger, mode 2/3 stop and restart), a new count in mode 2/3
 * taking effect at the end of the current period. A count of 1 in modes
 * 2 and 3 (illegal on the 8254) counts as 2.
 *
 * Time: the counters run at I8254_HZ on the clock passed to
 * i8254_create(); every read computes from that clock, so reads are
 * right however rarely the timer is polled. Interrupts need a poll:
 * i8254_poll(p, now) brings IRQ 0 up to date with time now and returns
 * when the next rising edge of channel 0's output is due (UINT64_MAX if
 * none). All the rising edges between two polls reach the interrupt
 * controllers as one 0->1 transition, so a slow poll coalesces periodic
 * interrupts to one pending edge, as a late interrupt handler would see
 * them; none is lost entirely. Port accesses bring IRQ 0 up to date too.
 * Under KVM the kernel's PIT serves instead. */
#ifndef WISP_DEVICES_I8254_H
#define WISP_DEVICES_I8254_H

#include <stdint.h>

struct platform;
struct i8254;

#define I8254_HZ 1193182ull

/* Claims ports 0x40-0x43 and 0x61 on p->pio. now_ns is a monotonic clock
 * in nanoseconds (the VMM: CLOCK_MONOTONIC; tests: a fake). Returns NULL
 * after logging why. */
struct i8254 *i8254_create(struct platform *p, uint64_t (*now_ns)(void));
void i8254_destroy(struct i8254 *pit);

/* See above. now is on the create-time clock; any thread. */
uint64_t i8254_poll(struct i8254 *pit, uint64_t now);

#endif
