/* Message-signalled interrupts as an x86 system decodes them: the
 * address/data pair a PCI function writes (MSI or an MSI-X table entry)
 * becomes one message on the APIC bus (devices/apic_bus.h).
 *
 * Address: 0xFEE in bits 31:20, destination ID in 19:12, redirection hint
 * in 3, destination mode (1 = logical) in 2; bits 63:32 zero (no extended
 * destination IDs: wisp's CPUID does not offer them). Data: vector in
 * 7:0, delivery mode in 10:8, level (assert) in 14, trigger mode (1 =
 * level) in 15. */
#ifndef WISP_DEVICES_MSI_H
#define WISP_DEVICES_MSI_H

#include <stdbool.h>
#include <stdint.h>

#include "apic_bus.h"

#define MSI_ADDR_BASE      0xFEE00000ull
#define MSI_ADDR_BASE_MASK 0xFFFFFFFFFFF00000ull

/* Fills msg from address/data; false when the address is not in the
 * interrupt window (a write a real system would send to memory instead)
 * or the delivery mode is one an MSI cannot carry (reserved, INIT,
 * STARTUP), so the caller drops it. */
bool msi_decode(uint64_t address, uint32_t data, struct apic_msg *msg);

#endif
