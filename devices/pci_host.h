/* The PCI host: configuration mechanism #1 (CONFIG_ADDRESS at 0xcf8,
 * CONFIG_DATA at 0xcfc-0xcff) for bus 0, with a host bridge at 00:00.0.
 * Devices join bus 0 by registering a function with its config-space
 * accessors; everything unregistered reads as all ones (no device).
 *
 * The host also owns the memory window [PCI_MMIO_START, PCI_MMIO_END)
 * where the functions' memory BARs live: an access there goes to the
 * function whose BAR decodes it at that moment, so the OS may move BARs
 * inside the window (the MMIO bus itself is fixed once vCPUs run). */
#ifndef WISP_DEVICES_PCI_HOST_H
#define WISP_DEVICES_PCI_HOST_H

#include <stdbool.h>
#include <stdint.h>

struct platform;
struct pci_host;

#define PCI_DEVFN(dev, fn) ((((unsigned)(dev) & 0x1f) << 3) | ((unsigned)(fn) & 0x07))
#define PCI_MAX_DEVFN 256u

struct pci_function_ops {
	/* offset is into the function's config space (below 256 for now,
	 * below 4096 once ECAM exists); size is 1, 2 or 4 and the access
	 * never crosses a dword boundary. The host calls these without
	 * holding its own lock, from any thread: the function locks its own
	 * state. Reads return the value zero-extended. */
	uint32_t (*config_read)(void *opaque, unsigned offset, unsigned size);
	void (*config_write)(void *opaque, unsigned offset, unsigned size, uint32_t value);
	/* An access to [addr, addr + size) in the host's memory window:
	 * when one of the function's memory BARs decodes it, serve it and
	 * return true; false leaves it to the other functions. Both NULL
	 * for a function without memory BARs. Any thread, no host lock. */
	bool (*bar_read)(void *opaque, uint64_t addr, unsigned size, uint64_t *value);
	bool (*bar_write)(void *opaque, uint64_t addr, unsigned size, uint64_t value);
};

/* Registers the ports, the memory window and the host bridge. Returns NULL after logging why. */
struct pci_host *pci_host_create(struct platform *p);
void pci_host_destroy(struct pci_host *h);

/* Puts a function at bus 0, devfn (see PCI_DEVFN). Call while the machine
 * is built, before vCPUs run. Returns 0, -EINVAL (devfn out of range, ops
 * incomplete: config accessors missing, or only one of the BAR accessors)
 * or -EEXIST (devfn taken). */
int pci_host_add_function(struct pci_host *h, unsigned devfn,
			  const struct pci_function_ops *ops, void *opaque);

#endif
