/* The transport-independent half of a virtio device: the status state
 * machine, feature negotiation, queue enabling and the interrupt policy.
 * Every value here comes from the driver and is checked, never trusted:
 * a driver that breaks the rules gets a refused status bit or
 * DEVICE_NEEDS_RESET, and the VMM carries on. */
#include "virtio_dev.h"

#include <errno.h>
#include <string.h>

#include "vmm/log.h"

/* Status bits the driver may set; DEVICE_NEEDS_RESET is the device's. */
#define DRIVER_STATUS_BITS (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
			    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK | \
			    VIRTIO_STATUS_FAILED)

/* What the core offers on top of every device's own features: the 1.x
 * interface, and the two ring features virtqueue.c implements. */
#define CORE_FEATURES ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) | \
		       (1ull << VIRTIO_F_INDIRECT_DESC))

static bool is_pow2(unsigned v)
{
	return v && !(v & (v - 1));
}

int virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
		    struct guest_mem *mem, void *priv)
{
	if (!ops || ops->num_queues == 0 || ops->num_queues > VIRTIO_DEV_MAX_QUEUES ||
	    !is_pow2(ops->queue_max_size) || ops->queue_max_size > VIRTQ_MAX_SIZE ||
	    !ops->queue_notify || !ops->destroy || (ops->config_size && !ops->config_read)) {
		log_error("%s: inconsistent virtio device description",
			  ops && ops->name ? ops->name : "virtio");
		return -EINVAL;
	}
	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->priv = priv;
	dev->mem = mem;
	dev->features_offered = ops->features | CORE_FEATURES;
	for (unsigned q = 0; q < VIRTIO_DEV_MAX_QUEUES; q++) {
		virtq_reset(&dev->vq[q]);
		dev->vq[q].mem = mem;
	}
	return -pthread_mutex_init(&dev->lock, NULL);
}

void virtio_dev_destroy(struct virtio_dev *dev)
{
	if (!dev->ops)
		return;
	dev->ops->destroy(dev);
	dev->priv = NULL;
	pthread_mutex_destroy(&dev->lock);
	dev->ops = NULL;
}

static void reset(struct virtio_dev *dev)
{
	/* The device first lets go of its queues, then they are forgotten. */
	if (dev->ops->reset)
		dev->ops->reset(dev);
	dev->status = 0;
	dev->features_acked = 0;
	for (unsigned q = 0; q < VIRTIO_DEV_MAX_QUEUES; q++) {
		virtq_reset(&dev->vq[q]);
		dev->vq[q].mem = dev->mem;
	}
}

/* The ring features as negotiated, on every queue. */
static void apply_ring_features(struct virtio_dev *dev, struct virtq *vq)
{
	bool ok = dev->status & VIRTIO_STATUS_FEATURES_OK;

	vq->event_idx = ok && virtio_dev_has_feature(dev, VIRTIO_F_EVENT_IDX);
	vq->indirect = ok && virtio_dev_has_feature(dev, VIRTIO_F_INDIRECT_DESC);
}

static bool features_acceptable(const struct virtio_dev *dev)
{
	if (dev->features_acked & ~dev->features_offered) {
		log_debug("%s: driver accepted features %#llx that were not offered",
			  dev->ops->name,
			  (unsigned long long)(dev->features_acked & ~dev->features_offered));
		return false;
	}
	/* Only the 1.x interface is offered: no legacy layout or endianness. */
	if (!virtio_dev_has_feature(dev, VIRTIO_F_VERSION_1)) {
		log_debug("%s: driver did not accept VIRTIO_F_VERSION_1", dev->ops->name);
		return false;
	}
	return true;
}

static bool can_use_queues(const struct virtio_dev *dev)
{
	return (dev->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET |
			       VIRTIO_STATUS_FAILED)) == VIRTIO_STATUS_DRIVER_OK;
}

void virtio_dev_set_status(struct virtio_dev *dev, uint8_t status)
{
	uint8_t old = dev->status & DRIVER_STATUS_BITS, add;

	if (status == 0) {
		reset(dev);
		return;
	}
	/* A driver writes back what it read, DEVICE_NEEDS_RESET included:
	 * that bit is not the driver's to set or clear. */
	status &= DRIVER_STATUS_BITS;
	if (old & ~status) {
		log_debug("%s: driver cleared status bits %#x without a reset: ignored",
			  dev->ops->name, old & ~status);
		return;
	}
	add = status & ~old;
	if (add & VIRTIO_STATUS_FEATURES_OK) {
		/* 2.1 / 3.1.1: features are accepted after DRIVER; refused, the
		 * bit stays clear and the driver sees so when it reads back. */
		if (!(status & VIRTIO_STATUS_DRIVER) || !features_acceptable(dev))
			add &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((add & VIRTIO_STATUS_DRIVER_OK) && !((old | add) & VIRTIO_STATUS_FEATURES_OK)) {
		log_debug("%s: DRIVER_OK without FEATURES_OK: ignored", dev->ops->name);
		add &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	}
	dev->status |= add;

	if (add & VIRTIO_STATUS_FEATURES_OK)
		for (unsigned q = 0; q < dev->ops->num_queues; q++)
			apply_ring_features(dev, &dev->vq[q]);
	if (add & VIRTIO_STATUS_DRIVER_OK) {
		if (dev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
			/* Found broken during setup: now the driver may be told. */
			if (dev->interrupt)
				dev->interrupt(dev, VIRTIO_DEV_CONFIG_IRQ);
			return;
		}
		if (dev->ops->activate)
			dev->ops->activate(dev);
		/* Buffers made available before DRIVER_OK were not to be
		 * used then (2.1); they are now. */
		for (unsigned q = 0; q < dev->ops->num_queues; q++)
			virtio_dev_queue_notify(dev, q);
	}
}

uint32_t virtio_dev_features_offered(const struct virtio_dev *dev, unsigned sel)
{
	if (sel > 1)
		return 0;
	return (uint32_t)(dev->features_offered >> (32 * sel));
}

void virtio_dev_ack_features(struct virtio_dev *dev, unsigned sel, uint32_t value)
{
	uint64_t mask;

	if (sel > 1 || (dev->status & VIRTIO_STATUS_FEATURES_OK))
		return;
	mask = 0xffffffffull << (32 * sel);
	dev->features_acked = (dev->features_acked & ~mask) | ((uint64_t)value << (32 * sel));
}

void virtio_dev_queue_enable(struct virtio_dev *dev, unsigned q)
{
	struct virtq *vq;

	if (q >= dev->ops->num_queues)
		return;
	vq = &dev->vq[q];
	if (vq->ready)
		return;
	vq->mem = dev->mem;
	apply_ring_features(dev, vq);
	if (!is_pow2(vq->size) || vq->size > dev->ops->queue_max_size || !virtq_valid(vq)) {
		log_debug("%s: queue %u enabled with an invalid setup (size %u, desc %#llx, "
			  "driver %#llx, device %#llx)", dev->ops->name, q, vq->size,
			  (unsigned long long)vq->desc_gpa, (unsigned long long)vq->avail_gpa,
			  (unsigned long long)vq->used_gpa);
		virtio_dev_needs_reset(dev);
		return;
	}
	vq->ready = true;
}

void virtio_dev_queue_notify(struct virtio_dev *dev, unsigned q)
{
	if (q >= dev->ops->num_queues || !dev->vq[q].ready || dev->vq[q].broken ||
	    !can_use_queues(dev))
		return;
	dev->ops->queue_notify(dev, q);
}

void virtio_dev_queue_interrupt(struct virtio_dev *dev, unsigned q)
{
	if (q >= dev->ops->num_queues || !dev->interrupt)
		return;
	if (virtq_should_notify(&dev->vq[q]))
		dev->interrupt(dev, q);
}

void virtio_dev_config_changed(struct virtio_dev *dev)
{
	dev->config_generation++;
	/* No configuration notification before DRIVER_OK (2.1). */
	if ((dev->status & VIRTIO_STATUS_DRIVER_OK) && dev->interrupt)
		dev->interrupt(dev, VIRTIO_DEV_CONFIG_IRQ);
}

void virtio_dev_needs_reset(struct virtio_dev *dev)
{
	if (dev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	log_debug("%s: device needs reset", dev->ops->name);
	dev->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if ((dev->status & VIRTIO_STATUS_DRIVER_OK) && dev->interrupt)
		dev->interrupt(dev, VIRTIO_DEV_CONFIG_IRQ);
}
