/* The PCI host: configuration mechanism #1 (CONFIG_ADDRESS at 0xcf8,
 * CONFIG_DATA at 0xcfc-0xcff) for bus 0, with a host bridge at 00:00.0.
 * Devices join bus 0 by registering a function with its config-space
 * accessors; everything unregistered reads as all ones (no device). */
#ifndef WISP_DEVICES_PCI_HOST_H
#define WISP_DEVICES_PCI_HOST_H

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
};

/* Registers the ports and the host bridge. Returns NULL after logging why. */
struct pci_host *pci_host_create(struct platform *p);
void pci_host_destroy(struct pci_host *h);

/* Puts a function at bus 0, devfn (see PCI_DEVFN). Call while the machine
 * is built, before vCPUs run. Returns 0, -EINVAL (devfn out of range, ops
 * incomplete) or -EEXIST (devfn taken). */
int pci_host_add_function(struct pci_host *h, unsigned devfn,
			  const struct pci_function_ops *ops, void *opaque);

#endif
