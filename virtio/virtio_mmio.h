/* The virtio-mmio transport, register layout version 2 (virtio 1.x 4.2.2):
 * one virtio device in a VIRTIO_MMIO_SIZE window on the MMIO bus and one
 * interrupt line.
 *
 * Registers (0x000-0x0ff) take aligned 32-bit accesses only; anything
 * else reads as 0 and writes are dropped. The configuration space from
 * 0x100 takes 1, 2, 4 or 8-byte accesses inside the device's config_size.
 * Reads of write-only registers give 0; writes to read-only ones are
 * dropped.
 *
 * Queues: QueueNumMax is the device's queue_max_size (0 for a queue it
 * does not have). QueueNum, QueueDesc/Driver/Device are taken while the
 * selected queue is not ready and ignored while it is. A QueueNum that is
 * 0, not a power of two or above QueueNumMax is kept as "no valid size":
 * writing 1 to QueueReady then leaves the queue disabled and sets
 * DEVICE_NEEDS_RESET, so a driver's mistake is visible instead of the
 * device silently using another size than the driver laid out. Writing 0
 * to QueueReady disables the queue.
 *
 * Interrupts are level-triggered, active high: the line is asserted while
 * InterruptStatus (bit 0: used buffers, bit 1: configuration change) is
 * not 0; InterruptACK clears the bits written; a reset clears them all.
 * Firmware tables must describe the line so (loader/acpi.c,
 * loader/mptable.c). */
#ifndef WISP_VIRTIO_VIRTIO_MMIO_H
#define WISP_VIRTIO_VIRTIO_MMIO_H

#include <stdint.h>

#include "virtio_dev.h"

struct platform;
struct virtio_mmio;

#define VIRTIO_MMIO_SIZE        0x200u
#define VIRTIO_MMIO_CONFIG      0x100u   /* device configuration space */
#define VIRTIO_MMIO_CONFIG_MAX  (VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG)

#define VIRTIO_MMIO_MAGIC       0x74726976u   /* "virt" */
#define VIRTIO_MMIO_VERSION     2u
#define VIRTIO_MMIO_VENDOR_ID   0x50534957u   /* "WISP" */

#define VIRTIO_MMIO_INT_VRING   0x1u
#define VIRTIO_MMIO_INT_CONFIG  0x2u

/* A device set up by setup(dev, p->mem, arg), on p->mmio at
 * [base, base + VIRTIO_MMIO_SIZE), interrupting on line gsi. Returns NULL
 * after logging why. */
struct virtio_mmio *virtio_mmio_create(struct platform *p, uint64_t base, unsigned gsi,
				       virtio_dev_setup_fn setup, const void *arg);
/* After every vCPU stopped: destroys the device, then the transport. */
void virtio_mmio_destroy(struct virtio_mmio *m);

struct virtio_dev *virtio_mmio_dev(struct virtio_mmio *m);

#endif
