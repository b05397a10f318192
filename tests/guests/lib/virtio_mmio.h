/* What the test guests' own virtio drivers share: the device status bits
 * (virtio 1.x 2.1), the split ring layout (2.7) for a queue size fixed at
 * build time, and handing a queue to a virtio-mmio device through the
 * version 2 registers (4.2.3.2). */
#ifndef GUEST_VIRTIO_MMIO_H
#define GUEST_VIRTIO_MMIO_H

#include <stdint.h>

#include "guest.h"
#include "../../../virtio/virtio_mmio_regs.h"

#define VIRTIO_S_ACK         1
#define VIRTIO_S_DRIVER      2
#define VIRTIO_S_DRIVER_OK   4
#define VIRTIO_S_FEATURES_OK 8
#define VIRTIO_S_NEEDS_RESET 64

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* Declares struct avail and struct used for queues of n entries. */
#define VIRTQ_DECLARE_RINGS(n)                  \
	struct avail {                          \
		uint16_t flags;                 \
		uint16_t idx;                   \
		uint16_t ring[n];               \
	};                                      \
	struct used {                           \
		uint16_t flags;                 \
		uint16_t idx;                   \
		struct virtq_used_elem ring[n]; \
	}

/* Gives the selected queue of the device at base size entries at these
 * ring addresses and sets it ready; the caller checks what it reads back. */
static inline void virtio_mmio_queue_set(uint64_t base, uint32_t size, uint64_t desc,
					 uint64_t avail, uint64_t used)
{
	mmio_write32(base + VIRTIO_MMIO_REG_QUEUE_NUM, size);
	mmio_write32(base + VIRTIO_MMIO_REG_QUEUE_DESC_LOW, (uint32_t)desc);
	mmio_write32(base + VIRTIO_MMIO_REG_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	mmio_write32(base + VIRTIO_MMIO_REG_QUEUE_DRIVER_LOW, (uint32_t)avail);
	mmio_write32(base + VIRTIO_MMIO_REG_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	mmio_write32(base + VIRTIO_MMIO_REG_QUEUE_DEVICE_LOW, (uint32_t)used);
	mmio_write32(base + VIRTIO_MMIO_REG_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
	mmio_write32(base + VIRTIO_MMIO_REG_QUEUE_READY, 1);
}

#endif
