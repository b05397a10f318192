/* PCI configuration space through configuration mechanism #1 (CONFIG_ADDRESS
 * at 0xCF8, CONFIG_DATA at 0xCFC), for the test guests' own drivers: typed
 * register access, a bus scan by vendor and device ID, the capability
 * list and BAR decoding. A function is named by bus/device/function. */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include <stdint.h>

#include "../../../devices/pci_regs.h"

/* A capability list longer than this is a loop (at most 48 capabilities
 * of 4 bytes fit in the 192 bytes after the header). */
#define PCI_MAX_CAPS       48

struct pci_fn {
	uint8_t bus, dev, fn;
};

uint32_t pci_read32(struct pci_fn f, unsigned reg);
uint16_t pci_read16(struct pci_fn f, unsigned reg);
uint8_t pci_read8(struct pci_fn f, unsigned reg);
void pci_write32(struct pci_fn f, unsigned reg, uint32_t v);
void pci_write16(struct pci_fn f, unsigned reg, uint16_t v);
void pci_write8(struct pci_fn f, unsigned reg, uint8_t v);

/* The index-th function (0: the first) on bus with this vendor and device
 * ID, in device/function order: 0 and *out filled, or -1. */
int pci_find(unsigned bus, uint16_t vendor, uint16_t device, unsigned index,
	     struct pci_fn *out);

/* The offsets of f's capabilities in list order, at most max: the count,
 * or -1 when the list is malformed (a pointer into the header, a loop, or
 * more than PCI_MAX_CAPS entries). 0 when f has no capability list. */
int pci_caps(struct pci_fn f, uint8_t *offsets, int max);

/* A BAR as the function decodes it. */
struct pci_bar {
	uint64_t addr;
	uint64_t size;   /* from sizing: all ones written, the read-back decoded */
	int io;          /* an I/O BAR */
	int is64;        /* a 64-bit memory BAR (uses the next BAR too) */
};
/* Decode BAR bar of f and size it. Decoding of f is switched off during
 * sizing and the command register restored. 0, or -1 when bar is the
 * upper half of a 64-bit BAR or out of range. */
int pci_bar(struct pci_fn f, unsigned bar, struct pci_bar *out);

#endif
