/* A PCI function's type-0 configuration space, kept by the function
 * itself: the header's registers with the bits software may write, 32-bit
 * memory BARs with the sizing protocol, a capability list, and the
 * question the PCI host asks for its memory window: which BAR decodes an
 * address now.
 *
 * Not locked: the function serialises calls with its own lock. Offsets
 * are into the 256-byte conventional space; accesses of 1, 2 or 4 bytes
 * that stay inside it (the host never crosses a dword). */
#ifndef WISP_DEVICES_PCI_CONFIG_H
#define WISP_DEVICES_PCI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/pci_regs.h"

#define PCI_BAR_MIN_SIZE      16u     /* a memory BAR's smallest size */

struct pci_config_id {
	uint16_t vendor, device;
	uint16_t subsystem_vendor, subsystem;
	uint32_t class_code;      /* base class, subclass, prog-if: 0xBBSSPP */
	uint8_t revision;
	uint8_t interrupt_pin;    /* 0: none, 1..4: INTA#..INTD# */
};

struct pci_config {
	uint8_t bytes[PCI_CONFIG_SPACE_SIZE];
	uint8_t wmask[PCI_CONFIG_SPACE_SIZE];  /* bits a write may change */
	uint32_t bar_size[PCI_BAR_COUNT];      /* 0: no BAR */
	unsigned cap_end;         /* where the next capability goes */
	unsigned last_cap;        /* offset of the last capability, 0: none */
};

/* An empty function with id's identity; no BARs, no capabilities. */
void pci_config_init(struct pci_config *c, const struct pci_config_id *id);

/* BAR n becomes a 32-bit non-prefetchable memory BAR of size bytes (a
 * power of two, at least PCI_BAR_MIN_SIZE), holding address addr (aligned
 * to size: firmware's placement, which the OS may keep or move). 0 or
 * -EINVAL. */
int pci_config_set_bar(struct pci_config *c, unsigned n, uint32_t size, uint32_t addr);

/* Appends a capability of len bytes (body[0] its ID; body[1], the next
 * pointer, is filled in). wmask (may be NULL: read-only) gives the bits
 * a driver may write. Returns its offset, or 0 when the space is full. */
unsigned pci_config_add_cap(struct pci_config *c, const uint8_t *body, unsigned len,
			    const uint8_t *wmask);

/* The driver's accesses: values are little-endian numbers. Writes change
 * only writable bits. */
uint32_t pci_config_read(const struct pci_config *c, unsigned off, unsigned size);
void pci_config_write(struct pci_config *c, unsigned off, unsigned size, uint32_t value);

/* The function's own changes, regardless of the write mask. */
void pci_config_set(struct pci_config *c, unsigned off, unsigned size, uint32_t value);

/* Which BAR decodes [addr, addr + size) now (memory decoding enabled, the
 * BAR assigned, the access inside it): its index and *offset into it, or
 * -1. */
int pci_config_bar_decode(const struct pci_config *c, uint64_t addr, unsigned size,
			  uint64_t *offset);

/* The 16-bit register at off, as it stands. */
static inline uint16_t pci_config_read16(const struct pci_config *c, unsigned off)
{
	return (uint16_t)(c->bytes[off] | (c->bytes[off + 1] << 8));
}

#endif
