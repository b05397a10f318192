#include "loader/pci_intx.h"

#include "vmm/log.h"
#include "vmm/memory_map.h"

bool pci_intx_routes_valid(const struct loader_pci_intx *pci, unsigned npci, unsigned max,
			   const struct loader_virtio_mmio *virtio, unsigned nvirtio,
			   const char *table)
{
	if (npci > max) {
		log_error("%u PCI INTx routes cannot be described in %s (at most %u)", npci, table,
			  max);
		return false;
	}
	if (npci && !pci) {
		log_error("internal error: %u PCI INTx routes given without their table", npci);
		return false;
	}
	for (unsigned i = 0; i < npci; i++) {
		const struct loader_pci_intx *r = &pci[i];

		if (r->slot < 1 || r->slot > PCI_SLOT_MAX || r->pin < 1 || r->pin > PCI_INTX_PINS ||
		    r->gsi < 16 || r->gsi >= IOAPIC_PINS) {
			log_error("internal error: PCI INTx route slot %u pin %u -> GSI %u cannot be "
				  "described in %s (slot 1 to %u, pin 1 to %u, GSI 16 to %u)",
				  r->slot, r->pin, r->gsi, table, PCI_SLOT_MAX, PCI_INTX_PINS,
				  IOAPIC_PINS - 1);
			return false;
		}
		for (unsigned j = 0; j < i; j++) {
			if (pci[j].slot == r->slot && pci[j].pin == r->pin) {
				log_error("internal error: PCI slot %u pin %u has two INTx routes",
					  r->slot, r->pin);
				return false;
			}
		}
		for (unsigned j = 0; j < nvirtio; j++) {
			if (virtio[j].gsi == r->gsi) {
				log_error("internal error: GSI %u is both a virtio-mmio line and PCI "
					  "slot %u's INTx line", r->gsi, r->slot);
				return false;
			}
		}
	}
	return true;
}
