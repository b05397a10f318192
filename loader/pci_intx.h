/* The rules every boot table that routes PCI INTx lines (loader/acpi.c's
 * _PRT, loader/mptable.c's interrupt entries) holds a route list to:
 * slot 0 is the host bridge, a pin is INTA#..INTD#, the GSI an IOAPIC pin
 * no ISA IRQ uses; one route per slot and pin; and a GSI is either a PCI
 * line (active low) or a virtio-mmio one (active high), since an IOAPIC
 * pin has one polarity. */
#ifndef WISP_LOADER_PCI_INTX_H
#define WISP_LOADER_PCI_INTX_H

#include <stdbool.h>

#include "loader/loader.h"

#define PCI_SLOT_MAX  31   /* device numbers on a bus: 0 to 31 */
#define PCI_INTX_PINS 4    /* INTA# to INTD# */

/* Whether the npci routes of pci (at most max) can be described next to
 * the nvirtio virtio-mmio lines; false after one message naming table
 * ("the DSDT", "the MP table"). */
bool pci_intx_routes_valid(const struct loader_pci_intx *pci, unsigned npci, unsigned max,
			   const struct loader_virtio_mmio *virtio, unsigned nvirtio,
			   const char *table);

#endif
