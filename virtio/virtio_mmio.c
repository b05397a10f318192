#include "virtio_mmio.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio_mmio_regs.h"
#include "vmm/log.h"
#include "vmm/platform.h"

struct virtio_mmio {
	struct virtio_dev dev;       /* dev.lock covers everything below too */
	bool dev_set_up;
	struct platform *p;
	uint64_t base;
	unsigned gsi;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t interrupt_status;
	bool irq_level;              /* what the line was last driven to */
	char name[64];
};

static void update_irq(struct virtio_mmio *m)
{
	bool level = m->interrupt_status != 0;

	if (level != m->irq_level) {
		m->irq_level = level;
		platform_set_irq(m->p, m->gsi, level);
	}
}

/* The core's request for an interrupt (dev.lock held). */
static void mmio_interrupt(struct virtio_dev *dev, unsigned q)
{
	struct virtio_mmio *m = dev->transport;

	m->interrupt_status |= q == VIRTIO_DEV_CONFIG_IRQ ? VIRTIO_MMIO_INT_CONFIG
							  : VIRTIO_MMIO_INT_VRING;
	update_irq(m);
}

/* The selected queue, or NULL when the device has no such queue. */
static struct virtq *selected_queue(struct virtio_mmio *m)
{
	if (m->queue_sel >= m->dev.ops->num_queues)
		return NULL;
	return &m->dev.vq[m->queue_sel];
}

static void set_low(uint64_t *addr, uint32_t v)
{
	*addr = (*addr & 0xffffffff00000000ull) | v;
}

static void set_high(uint64_t *addr, uint32_t v)
{
	*addr = (*addr & 0xffffffffull) | ((uint64_t)v << 32);
}

static uint32_t reg_read(struct virtio_mmio *m, unsigned reg)
{
	struct virtio_dev *dev = &m->dev;
	struct virtq *vq;

	switch (reg) {
	case VIRTIO_MMIO_REG_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_REG_VERSION:
		return VIRTIO_MMIO_VERSION;
	case VIRTIO_MMIO_REG_DEVICE_ID:
		return dev->ops->device_id;
	case VIRTIO_MMIO_REG_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR_ID;
	case VIRTIO_MMIO_REG_DEVICE_FEATURES:
		return virtio_dev_features_offered(dev, m->device_features_sel);
	case VIRTIO_MMIO_REG_QUEUE_NUM_MAX:
		return selected_queue(m) ? dev->ops->queue_max_size : 0;
	case VIRTIO_MMIO_REG_QUEUE_READY:
		vq = selected_queue(m);
		return vq && vq->ready;
	case VIRTIO_MMIO_REG_INTERRUPT_STATUS:
		return m->interrupt_status;
	case VIRTIO_MMIO_REG_STATUS:
		return dev->status;
	case VIRTIO_MMIO_REG_CONFIG_GENERATION:
		return dev->config_generation;
	default:
		return 0;    /* write-only or reserved */
	}
}

static void reset(struct virtio_mmio *m)
{
	virtio_dev_set_status(&m->dev, 0);
	m->device_features_sel = 0;
	m->driver_features_sel = 0;
	m->queue_sel = 0;
	m->interrupt_status = 0;
	update_irq(m);
}

/* QueueNum as the driver wrote it, or 0 (no valid size) when the ring
 * cannot have that many entries. */
static uint16_t queue_size(const struct virtio_mmio *m, uint32_t v)
{
	if (v == 0 || (v & (v - 1)) || v > m->dev.ops->queue_max_size)
		return 0;
	return (uint16_t)v;
}

static void reg_write(struct virtio_mmio *m, unsigned reg, uint32_t v)
{
	struct virtio_dev *dev = &m->dev;
	struct virtq *vq = selected_queue(m);
	/* The ring's layout is fixed while the device may be using it. */
	struct virtq *setup = vq && !vq->ready ? vq : NULL;

	switch (reg) {
	case VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL:
		m->device_features_sel = v;
		break;
	case VIRTIO_MMIO_REG_DRIVER_FEATURES:
		virtio_dev_ack_features(dev, m->driver_features_sel, v);
		break;
	case VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL:
		m->driver_features_sel = v;
		break;
	case VIRTIO_MMIO_REG_QUEUE_SEL:
		m->queue_sel = v;
		break;
	case VIRTIO_MMIO_REG_QUEUE_NUM:
		if (setup)
			setup->size = queue_size(m, v);
		break;
	case VIRTIO_MMIO_REG_QUEUE_READY:
		if (!vq)
			break;
		if (v & 1)
			virtio_dev_queue_enable(dev, m->queue_sel);
		else
			vq->ready = false;
		break;
	case VIRTIO_MMIO_REG_QUEUE_NOTIFY:
		virtio_dev_queue_notify(dev, v);
		break;
	case VIRTIO_MMIO_REG_INTERRUPT_ACK:
		m->interrupt_status &= ~(v & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG));
		update_irq(m);
		break;
	case VIRTIO_MMIO_REG_STATUS:
		if ((v & 0xff) == 0)
			reset(m);
		else
			virtio_dev_set_status(dev, (uint8_t)v);
		break;
	case VIRTIO_MMIO_REG_QUEUE_DESC_LOW:
		if (setup)
			set_low(&setup->desc_gpa, v);
		break;
	case VIRTIO_MMIO_REG_QUEUE_DESC_HIGH:
		if (setup)
			set_high(&setup->desc_gpa, v);
		break;
	case VIRTIO_MMIO_REG_QUEUE_DRIVER_LOW:
		if (setup)
			set_low(&setup->avail_gpa, v);
		break;
	case VIRTIO_MMIO_REG_QUEUE_DRIVER_HIGH:
		if (setup)
			set_high(&setup->avail_gpa, v);
		break;
	case VIRTIO_MMIO_REG_QUEUE_DEVICE_LOW:
		if (setup)
			set_low(&setup->used_gpa, v);
		break;
	case VIRTIO_MMIO_REG_QUEUE_DEVICE_HIGH:
		if (setup)
			set_high(&setup->used_gpa, v);
		break;
	default:
		break;       /* read-only or reserved */
	}
}

static bool config_access_ok(const struct virtio_mmio *m, uint64_t off, unsigned size)
{
	unsigned len = m->dev.ops->config_size;

	return (size == 1 || size == 2 || size == 4 || size == 8) && off < len &&
	       size <= len - off;
}

static bool reg_access_ok(uint64_t offset, unsigned size)
{
	return size == 4 && (offset & 3) == 0 && offset < VIRTIO_MMIO_CONFIG;
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct virtio_mmio *m = opaque;
	uint64_t v = 0;

	pthread_mutex_lock(&m->dev.lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint8_t buf[8] = { 0 };
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;

		if (config_access_ok(m, off, size)) {
			m->dev.ops->config_read(&m->dev, (unsigned)off, buf, size);
			for (unsigned i = 0; i < size; i++)
				v |= (uint64_t)buf[i] << (8 * i);
		}
	} else if (reg_access_ok(offset, size)) {
		v = reg_read(m, (unsigned)offset);
	}
	pthread_mutex_unlock(&m->dev.lock);
	return v;
}

static void mmio_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct virtio_mmio *m = opaque;

	pthread_mutex_lock(&m->dev.lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint8_t buf[8];
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;

		if (config_access_ok(m, off, size) && m->dev.ops->config_write) {
			for (unsigned i = 0; i < size; i++)
				buf[i] = (uint8_t)(value >> (8 * i));
			m->dev.ops->config_write(&m->dev, (unsigned)off, buf, size);
		}
	} else if (reg_access_ok(offset, size)) {
		reg_write(m, (unsigned)offset, (uint32_t)value);
	}
	pthread_mutex_unlock(&m->dev.lock);
}

static const struct bus_ops virtio_mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
};

struct virtio_mmio *virtio_mmio_create(struct platform *p, uint64_t base, unsigned gsi,
				       virtio_dev_setup_fn setup, const void *arg)
{
	struct virtio_mmio *m = calloc(1, sizeof(*m));
	int rc;

	if (!m) {
		log_error("virtio-mmio: out of memory");
		return NULL;
	}
	m->p = p;
	m->base = base;
	m->gsi = gsi;
	if (setup(&m->dev, p->mem, arg) != 0) {
		free(m);
		return NULL;
	}
	m->dev_set_up = true;
	snprintf(m->name, sizeof(m->name), "%s@0x%llx", m->dev.ops->name,
		 (unsigned long long)base);
	if (m->dev.ops->config_size > VIRTIO_MMIO_CONFIG_MAX) {
		log_error("%s: %u bytes of configuration do not fit the virtio-mmio window",
			  m->name, m->dev.ops->config_size);
		virtio_mmio_destroy(m);
		return NULL;
	}
	/* virtio_dev_init cleared these. */
	m->dev.interrupt = mmio_interrupt;
	m->dev.transport = m;

	rc = bus_register(p->mmio, base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, m, m->name);
	if (rc) {
		log_error("%s: cannot claim MMIO 0x%llx-0x%llx: %s", m->name,
			  (unsigned long long)base,
			  (unsigned long long)(base + VIRTIO_MMIO_SIZE - 1), strerror(-rc));
		virtio_mmio_destroy(m);
		return NULL;
	}
	return m;
}

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	if (!m)
		return;
	if (m->dev_set_up)
		virtio_dev_destroy(&m->dev);
	free(m);
}

struct virtio_dev *virtio_mmio_dev(struct virtio_mmio *m)
{
	return &m->dev;
}
