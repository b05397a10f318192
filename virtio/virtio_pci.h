/* The virtio-pci transport, modern interface only (virtio 1.x 4.1): one
 * virtio device as a PCI function on bus 0 of the PCI host.
 *
 * Identity: vendor 0x1AF4, device 0x1040 + virtio device ID, revision 1
 * (no legacy interface), subsystem 0x1AF4:0x1100, a class code by device
 * kind, interrupt pin INTA#.
 *
 * One 32-bit memory BAR (BAR 0, VIRTIO_PCI_BAR_SIZE bytes, placed by the
 * caller in the PCI window; the OS may move it) holds, each found through
 * its vendor capability: the common configuration (0x0000), the ISR
 * status (0x1000), the device configuration (0x2000), the notification
 * area (0x3000, queue q at q * VIRTIO_PCI_NOTIFY_MULTIPLIER), and the
 * MSI-X table (0x4000) and pending bits (0x5000). The VIRTIO_PCI_CAP_PCI_CFG
 * capability gives the same structures through configuration space.
 *
 * Interrupts: with MSI-X enabled, the configuration vector and each
 * queue's vector (NO_VECTOR: none) send the table entry's message through
 * platform_signal_msi; a masked entry or function sets the pending bit
 * and sends on unmask. Otherwise INTx: the ISR bits (1 queue, 2
 * configuration) drive the line (level, GSI given by the caller, routed
 * by the boot tables) unless the command register's INTx disable is set;
 * reading the ISR clears it and lowers the line.
 *
 * Common configuration fields take accesses of their own width at their
 * own offset (64-bit fields also as two 32-bit halves); reads of any
 * width return the bytes; other writes are dropped. */
#ifndef WISP_VIRTIO_VIRTIO_PCI_H
#define WISP_VIRTIO_VIRTIO_PCI_H

#include <stdint.h>

#include "virtio_dev.h"

struct platform;
struct pci_host;
struct virtio_pci;

#define VIRTIO_PCI_VENDOR_ID         0x1AF4u
#define VIRTIO_PCI_DEVICE_ID_BASE    0x1040u
#define VIRTIO_PCI_BAR_SIZE          0x8000u
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4u

/* A device set up by setup(dev, p->mem, arg) as function 0 of bus-0
 * device slot on host, its BAR at bar_addr (aligned to
 * VIRTIO_PCI_BAR_SIZE), INTx on line gsi. Returns NULL after logging
 * why. */
struct virtio_pci *virtio_pci_create(struct platform *p, struct pci_host *host, unsigned slot,
				     uint32_t bar_addr, unsigned gsi,
				     virtio_dev_setup_fn setup, const void *arg);
/* After every vCPU stopped: destroys the device, then the transport. */
void virtio_pci_destroy(struct virtio_pci *v);

struct virtio_dev *virtio_pci_dev(struct virtio_pci *v);

#endif
