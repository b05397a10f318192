/* What a device may ask of the machine it sits in: the buses to register
 * on, interrupt lines, guest memory, and a way to stop the VM. Devices see
 * only this, never the accelerator, so every device serves both backends
 * and unit tests can hand a device a fake platform. */
#ifndef WISP_PLATFORM_H
#define WISP_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

struct guest_mem;

enum vm_stop_reason {
	VM_STOP_NONE = 0,
	VM_STOP_POWEROFF,    /* guest powered off */
	VM_STOP_RESET,       /* guest asked for a reset (i8042 pulse, triple fault is not this) */
	VM_STOP_GUEST_EXIT,  /* debug-exit port: status carries (v << 1) | 1 */
	VM_STOP_CRASH,       /* triple fault, unrecoverable guest state */
	VM_STOP_TIMEOUT,
	VM_STOP_SIGNAL,
	VM_STOP_INTERNAL,    /* wisp failed */
};

struct platform {
	struct bus *pio;
	struct bus *mmio;
	struct guest_mem *mem;
	/* Drive an interrupt line (GSI) to a level. Edge-triggered inputs see
	 * the 0->1 transition; devices model their line as a level and let the
	 * interrupt controller find the edges. Callable from any thread. */
	void (*set_irq)(struct platform *p, unsigned gsi, bool level);
	/* Send a message-signalled interrupt: the address/data pair of a PCI
	 * function's MSI or MSI-X entry (devices/msi.h says how it is read).
	 * Callable from any thread. */
	void (*signal_msi)(struct platform *p, uint64_t address, uint32_t data);
	/* Ask the VM to stop; the first request wins. Callable from any thread,
	 * including a vCPU thread in the middle of an exit. */
	void (*request_stop)(struct platform *p, enum vm_stop_reason reason, int status);
};

static inline void platform_set_irq(struct platform *p, unsigned gsi, bool level)
{
	p->set_irq(p, gsi, level);
}

static inline void platform_signal_msi(struct platform *p, uint64_t address, uint32_t data)
{
	p->signal_msi(p, address, data);
}

static inline void platform_request_stop(struct platform *p, enum vm_stop_reason reason,
					 int status)
{
	p->request_stop(p, reason, status);
}

#endif
