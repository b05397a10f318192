/* A virtio device as its transports see it, and the core they share.
 *
 * A device (virtio_blk.c, virtio_rng.c, ...) fills a struct virtio_dev_ops
 * and speaks only to this interface: it never knows whether it sits on
 * virtio-mmio or virtio-pci. A transport (virtio_mmio.c, virtio_pci.c)
 * maps the driver's register accesses onto the core: feature negotiation,
 * the device status state machine, queue setup, notifications, the
 * configuration space; and it delivers the interrupts the core asks for
 * (a line for mmio and INTx, MSI-X vectors for pci).
 *
 * Status (virtio 1.x 2.1): the driver writes ACKNOWLEDGE, DRIVER,
 * FEATURES_OK (the core clears it again if the accepted features are not a
 * subset of the offered ones or lack VERSION_1), DRIVER_OK (the device is
 * activated); writing 0 resets the device and its queues. A device that
 * finds its queues malformed calls virtio_dev_needs_reset: status gets
 * DEVICE_NEEDS_RESET and the driver a configuration interrupt.
 *
 * Locking: dev->lock covers the core state, the queues and the device's
 * own state. Transports take it around every driver access; the core
 * calls the ops with it held, except destroy. A device's worker thread
 * takes it around queue operations. The interrupt callback is called
 * with it held and must not take it. */
#ifndef WISP_VIRTIO_VIRTIO_DEV_H
#define WISP_VIRTIO_VIRTIO_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtqueue.h"

struct guest_mem;
struct virtio_dev;

/* Device IDs (virtio 1.x 5). */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE        1
#define VIRTIO_STATUS_DRIVER             2
#define VIRTIO_STATUS_DRIVER_OK          4
#define VIRTIO_STATUS_FEATURES_OK        8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED             128

#define VIRTIO_DEV_MAX_QUEUES 8

struct virtio_dev_ops {
	const char *name;                /* for messages: "virtio-blk" */
	uint32_t device_id;
	unsigned num_queues;             /* at most VIRTIO_DEV_MAX_QUEUES */
	uint16_t queue_max_size;         /* a power of two */
	/* Device-specific features offered; the core adds VERSION_1,
	 * EVENT_IDX and INDIRECT_DESC. */
	uint64_t features;
	unsigned config_size;            /* bytes of device configuration */

	/* The configuration space, len bytes at off (the transport has
	 * checked off + len <= config_size). write may be NULL: writes are
	 * then ignored. */
	void (*config_read)(struct virtio_dev *dev, unsigned off, void *buf, unsigned len);
	void (*config_write)(struct virtio_dev *dev, unsigned off, const void *buf, unsigned len);
	/* The driver notified queue q (which is ready). */
	void (*queue_notify)(struct virtio_dev *dev, unsigned q);
	/* DRIVER_OK was set: features are final, queues set up. May be NULL. */
	void (*activate)(struct virtio_dev *dev);
	/* The driver reset the device (status 0): stop using the queues;
	 * requests in flight must not touch guest memory afterwards. May be
	 * NULL. */
	void (*reset)(struct virtio_dev *dev);
	/* The VM is going away (after every vCPU stopped): flush what was
	 * acknowledged, free the device. */
	void (*destroy)(struct virtio_dev *dev);
};

/* How the core asks its transport for an interrupt: for queue q, or for a
 * configuration change when q is VIRTIO_DEV_CONFIG_IRQ. */
#define VIRTIO_DEV_CONFIG_IRQ (~0u)
typedef void (*virtio_interrupt_fn)(struct virtio_dev *dev, unsigned q);

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;                      /* the device's own state */
	struct guest_mem *mem;
	pthread_mutex_t lock;

	uint64_t features_offered;
	uint64_t features_acked;         /* what the driver wrote */
	uint8_t status;
	uint32_t config_generation;
	struct virtq vq[VIRTIO_DEV_MAX_QUEUES];

	/* Set by the transport. */
	virtio_interrupt_fn interrupt;
	void *transport;
};

/* Fills dev for one device kind: calls virtio_dev_init with the device's
 * ops and its own state. arg is the device's configuration (may be NULL).
 * Returns 0, or a negative errno after one message and with nothing left
 * to free. */
typedef int (*virtio_dev_setup_fn)(struct virtio_dev *dev, struct guest_mem *mem,
				   const void *arg);

/* Set up dev for ops (lock, features, queues at reset state). 0 or a
 * negative errno. */
int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
		    struct guest_mem *mem, void *priv);
/* ops->destroy, then the core's own resources. */
void virtio_dev_destroy(struct virtio_dev *dev);

/* ---- for transports (dev->lock held) ----------------------------------- */

/* A status write by the driver, with the state machine's rules. */
void virtio_dev_set_status(struct virtio_dev *dev, uint8_t status);
/* Feature words (sel 0: bits 0-31, 1: bits 32-63). Writes after
 * FEATURES_OK are ignored. */
uint32_t virtio_dev_features_offered(const struct virtio_dev *dev, unsigned sel);
void virtio_dev_ack_features(struct virtio_dev *dev, unsigned sel, uint32_t value);
/* The driver enabled queue q after writing its size and addresses: the
 * queue becomes ready if its setup is valid, else the device needs reset. */
void virtio_dev_queue_enable(struct virtio_dev *dev, unsigned q);
/* A notification for queue q (out of range or not ready: ignored). */
void virtio_dev_queue_notify(struct virtio_dev *dev, unsigned q);

/* ---- for devices (dev->lock held) -------------------------------------- */

static inline bool virtio_dev_has_feature(const struct virtio_dev *dev, unsigned bit)
{
	return (dev->features_acked >> bit) & 1;
}

/* After pushing to queue q: interrupt the driver if it wants one. */
void virtio_dev_queue_interrupt(struct virtio_dev *dev, unsigned q);
/* The configuration changed: bump the generation, interrupt. */
void virtio_dev_config_changed(struct virtio_dev *dev);
/* A malformed queue: DEVICE_NEEDS_RESET and a configuration interrupt;
 * the device stops using its queues until the driver resets it. */
void virtio_dev_needs_reset(struct virtio_dev *dev);

#endif
