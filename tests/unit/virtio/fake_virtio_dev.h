/* A fake virtio device for the transport tests (virtio-mmio, virtio-pci):
 * two queues, a few feature bits and a small configuration space; it
 * counts what the device core asks of it, and when told to serve it
 * returns every buffer made available at once, so the transports' used
 * rings and interrupts can be checked without a real device behind them. */
#ifndef WISP_TESTS_UNIT_VIRTIO_FAKE_VIRTIO_DEV_H
#define WISP_TESTS_UNIT_VIRTIO_FAKE_VIRTIO_DEV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <setjmp.h>
#include <cmocka.h>

#include "virtio/virtio_dev.h"

#define FAKE_QUEUES   2
#define FAKE_MAX_SIZE 16
#define FAKE_FEATURES ((1ull << 5) | (1ull << 35))
#define FAKE_CONFIG   12

struct fake_dev {
	unsigned notified[FAKE_QUEUES];
	unsigned resets, activations, destroyed;
	bool serve;                  /* pop and push on notify */
	uint8_t config[FAKE_CONFIG];
	struct virtq_elem elem;
};

static inline void fake_config_read(struct virtio_dev *dev, unsigned off, void *buf, unsigned len)
{
	struct fake_dev *d = dev->priv;

	assert_true(off + len <= FAKE_CONFIG);
	memcpy(buf, d->config + off, len);
}

static inline void fake_config_write(struct virtio_dev *dev, unsigned off, const void *buf,
				     unsigned len)
{
	struct fake_dev *d = dev->priv;

	assert_true(off + len <= FAKE_CONFIG);
	memcpy(d->config + off, buf, len);
}

static inline void fake_queue_notify(struct virtio_dev *dev, unsigned q)
{
	struct fake_dev *d = dev->priv;
	bool pushed = false;

	assert_true(q < FAKE_QUEUES);
	d->notified[q]++;
	if (!d->serve)
		return;
	while (virtq_pop(&dev->vq[q], &d->elem) > 0) {
		virtq_push(&dev->vq[q], &d->elem, 0);
		pushed = true;
	}
	if (pushed)
		virtio_dev_queue_interrupt(dev, q);
}

static inline void fake_activate(struct virtio_dev *dev)
{
	((struct fake_dev *)dev->priv)->activations++;
}

static inline void fake_reset(struct virtio_dev *dev)
{
	((struct fake_dev *)dev->priv)->resets++;
}

static inline void fake_destroy(struct virtio_dev *dev)
{
	((struct fake_dev *)dev->priv)->destroyed++;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake",
	.device_id = 42,
	.num_queues = FAKE_QUEUES,
	.queue_max_size = FAKE_MAX_SIZE,
	.features = FAKE_FEATURES,
	.config_size = FAKE_CONFIG,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.queue_notify = fake_queue_notify,
	.activate = fake_activate,
	.reset = fake_reset,
	.destroy = fake_destroy,
};

/* The virtio_dev_setup_fn for the fake; arg is its struct fake_dev. */
static inline int fake_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg)
{
	return virtio_dev_init(dev, &fake_ops, mem, (void *)arg);
}

/* A device whose set-up fails, as one out of memory would. */
static inline int fail_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg)
{
	(void)dev;
	(void)mem;
	(void)arg;
	return -ENOMEM;
}

#endif
