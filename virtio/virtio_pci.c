#include "virtio_pci.h"
#include "virtio_pci_regs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci_config.h"
#include "devices/pci_host.h"
#include "vmm/log.h"
#include "vmm/platform.h"

/* Where the structures sit in BAR 0 (each a page, so they never share
 * one: an OS may map them apart). */
#define BAR_COMMON        0x0000u
#define BAR_ISR           0x1000u
#define BAR_DEVICE        0x2000u
#define BAR_NOTIFY        0x3000u
#define BAR_MSIX_TABLE    0x4000u
#define BAR_MSIX_PBA      0x5000u
#define BAR_REGION_SIZE   0x1000u

#define ISR_QUEUE         0x1
#define ISR_CONFIG        0x2

/* MSI-X (PCI 3.0 6.8.2): the capability, and one vector per queue plus
 * one for configuration changes. */
#define MSIX_CAP_LEN      12
#define MSIX_CTRL         2          /* message control, in the capability */
#define MSIX_CTRL_ENABLE  0x8000u
#define MSIX_CTRL_MASKALL 0x4000u
#define MSIX_ENTRY_SIZE   16
#define MSIX_ENTRY_CTRL_MASKED 0x1u
#define MSIX_MAX_ENTRIES  (VIRTIO_DEV_MAX_QUEUES + 1)

#define SUBSYSTEM_ID      0x1100u
#define REVISION_MODERN   1

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct virtio_pci {
	struct virtio_dev dev;       /* dev.lock covers everything below too */
	bool dev_set_up;
	struct platform *p;
	unsigned gsi;
	struct pci_config cfg;
	unsigned msix_cap, pci_cfg_cap;   /* capability offsets */
	unsigned msix_entries;
	struct msix_entry msix[MSIX_MAX_ENTRIES];
	uint64_t msix_pending;       /* bit n: entry n fired while masked */

	uint32_t device_feature_sel, driver_feature_sel;
	uint16_t queue_sel;
	uint16_t msix_config;
	uint16_t queue_vector[VIRTIO_DEV_MAX_QUEUES];
	uint8_t isr;
	bool irq_level;              /* what the INTx line was last driven to */
	char name[64];
};

_Static_assert(MSIX_MAX_ENTRIES <= 64, "pending bits fit one word");
_Static_assert(MSIX_MAX_ENTRIES * MSIX_ENTRY_SIZE <= BAR_REGION_SIZE, "table fits its page");
_Static_assert(BAR_MSIX_PBA + BAR_REGION_SIZE <= VIRTIO_PCI_BAR_SIZE, "regions fit the BAR");
_Static_assert(VIRTIO_DEV_MAX_QUEUES * VIRTIO_PCI_NOTIFY_MULTIPLIER <= BAR_REGION_SIZE,
	       "notify addresses fit their page");

/* ---- interrupts ---------------------------------------------------------- */

static uint16_t msix_ctrl(const struct virtio_pci *v)
{
	return pci_config_read16(&v->cfg, v->msix_cap + MSIX_CTRL);
}

static bool msix_enabled(const struct virtio_pci *v)
{
	return msix_ctrl(v) & MSIX_CTRL_ENABLE;
}

static void update_intx(struct virtio_pci *v)
{
	uint16_t status = pci_config_read16(&v->cfg, PCI_REG_STATUS);
	bool level = v->isr && !msix_enabled(v) &&
		     !(pci_config_read16(&v->cfg, PCI_REG_COMMAND) & PCI_COMMAND_INTX_DISABLE);

	/* The status bit shows the function's wish, disabled or not. */
	status = v->isr ? status | PCI_STATUS_INTERRUPT : status & ~PCI_STATUS_INTERRUPT;
	pci_config_set(&v->cfg, PCI_REG_STATUS, 2, status);
	if (level != v->irq_level) {
		v->irq_level = level;
		platform_set_irq(v->p, v->gsi, level);
	}
}

static bool msix_masked(const struct virtio_pci *v, unsigned n)
{
	return (msix_ctrl(v) & MSIX_CTRL_MASKALL) || (v->msix[n].ctrl & MSIX_ENTRY_CTRL_MASKED);
}

static void msix_send(struct virtio_pci *v, unsigned n)
{
	const struct msix_entry *e = &v->msix[n];

	platform_signal_msi(v->p, ((uint64_t)e->addr_hi << 32) | e->addr_lo, e->data);
}

static void msix_notify(struct virtio_pci *v, uint16_t vector)
{
	if (vector >= v->msix_entries)
		return;
	if (msix_masked(v, vector))
		v->msix_pending |= 1ull << vector;
	else
		msix_send(v, vector);
}

/* After an unmask: what fired meanwhile goes out now. */
static void msix_flush_pending(struct virtio_pci *v)
{
	if (!msix_enabled(v))
		return;
	for (unsigned n = 0; n < v->msix_entries; n++) {
		if ((v->msix_pending >> n & 1) && !msix_masked(v, n)) {
			v->msix_pending &= ~(1ull << n);
			msix_send(v, n);
		}
	}
}

/* The core's request for an interrupt (dev.lock held). */
static void pci_interrupt(struct virtio_dev *dev, unsigned q)
{
	struct virtio_pci *v = dev->transport;

	if (msix_enabled(v)) {
		uint16_t vector = q == VIRTIO_DEV_CONFIG_IRQ ? v->msix_config : v->queue_vector[q];

		if (vector != VIRTIO_PCI_NO_VECTOR)
			msix_notify(v, vector);
		return;
	}
	v->isr |= q == VIRTIO_DEV_CONFIG_IRQ ? ISR_CONFIG : ISR_QUEUE;
	update_intx(v);
}

/* ---- the common configuration -------------------------------------------- */

static struct virtq *selected_queue(struct virtio_pci *v)
{
	if (v->queue_sel >= v->dev.ops->num_queues)
		return NULL;
	return &v->dev.vq[v->queue_sel];
}

/* What the driver may map a vector to: an entry of the table, or none. */
static uint16_t checked_vector(const struct virtio_pci *v, uint32_t vector)
{
	return vector < v->msix_entries ? (uint16_t)vector : VIRTIO_PCI_NO_VECTOR;
}

/* The state a reset leaves: queue sizes at their maximum (4.1.4.3: the
 * driver reads it there), no vectors, no interrupt pending. */
static void transport_reset(struct virtio_pci *v)
{
	for (unsigned q = 0; q < v->dev.ops->num_queues; q++) {
		v->dev.vq[q].size = v->dev.ops->queue_max_size;
		v->queue_vector[q] = VIRTIO_PCI_NO_VECTOR;
	}
	v->msix_config = VIRTIO_PCI_NO_VECTOR;
	v->device_feature_sel = v->driver_feature_sel = 0;
	v->queue_sel = 0;
	v->isr = 0;
	/* Nothing from before the reset may reach the new driver. */
	v->msix_pending = 0;
	update_intx(v);
}

static void put_le(uint8_t *p, uint64_t value, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(value >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint64_t common_read(struct virtio_pci *v, unsigned off, unsigned size)
{
	struct virtio_dev *dev = &v->dev;
	struct virtq *vq = selected_queue(v);
	uint8_t cc[VIRTIO_PCI_COMMON_SIZE] = { 0 };
	uint32_t acked = 0;

	if (off >= VIRTIO_PCI_COMMON_SIZE || size > VIRTIO_PCI_COMMON_SIZE - off)
		return 0;
	if (v->driver_feature_sel <= 1)
		acked = (uint32_t)(dev->features_acked >> (32 * v->driver_feature_sel));
	put_le(cc + VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, v->device_feature_sel, 4);
	put_le(cc + VIRTIO_PCI_COMMON_DEVICE_FEATURE, virtio_dev_features_offered(dev, v->device_feature_sel), 4);
	put_le(cc + VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT, v->driver_feature_sel, 4);
	put_le(cc + VIRTIO_PCI_COMMON_DRIVER_FEATURE, acked, 4);
	put_le(cc + VIRTIO_PCI_COMMON_MSIX_CONFIG, v->msix_config, 2);
	put_le(cc + VIRTIO_PCI_COMMON_NUM_QUEUES, dev->ops->num_queues, 2);
	cc[VIRTIO_PCI_COMMON_DEVICE_STATUS] = dev->status;
	cc[VIRTIO_PCI_COMMON_CONFIG_GENERATION] = (uint8_t)dev->config_generation;
	put_le(cc + VIRTIO_PCI_COMMON_QUEUE_SELECT, v->queue_sel, 2);
	if (vq) {
		put_le(cc + VIRTIO_PCI_COMMON_QUEUE_SIZE, vq->size, 2);
		put_le(cc + VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, v->queue_vector[v->queue_sel], 2);
		put_le(cc + VIRTIO_PCI_COMMON_QUEUE_ENABLE, vq->ready, 2);
		put_le(cc + VIRTIO_PCI_COMMON_QUEUE_NOTIFY_OFF, v->queue_sel, 2);
		put_le(cc + VIRTIO_PCI_COMMON_QUEUE_DESC, vq->desc_gpa, 8);
		put_le(cc + VIRTIO_PCI_COMMON_QUEUE_DRIVER, vq->avail_gpa, 8);
		put_le(cc + VIRTIO_PCI_COMMON_QUEUE_DEVICE, vq->used_gpa, 8);
	}
	return get_le(cc + off, size);
}

/* A 64-bit queue address written whole or as two 32-bit halves. */
static void write_address(uint64_t *addr, unsigned off, unsigned size, uint64_t value)
{
	if (size == 8)
		*addr = value;
	else if (off % 8 == 0)
		*addr = (*addr & 0xffffffff00000000ull) | (uint32_t)value;
	else
		*addr = (*addr & 0xffffffffull) | ((uint64_t)(uint32_t)value << 32);
}

static void common_write(struct virtio_pci *v, unsigned off, unsigned size, uint64_t value)
{
	struct virtio_dev *dev = &v->dev;
	struct virtq *vq = selected_queue(v);
	/* The ring's layout is fixed while the device may be using it. */
	struct virtq *setup = vq && !vq->ready ? vq : NULL;
	unsigned field = off & ~7u;

	if (off < VIRTIO_PCI_COMMON_QUEUE_DESC) {
		/* Every field below the addresses takes its own width only. */
		static const uint8_t width[VIRTIO_PCI_COMMON_QUEUE_DESC] = {
			[VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT] = 4,
			[VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT] = 4,
			[VIRTIO_PCI_COMMON_DRIVER_FEATURE] = 4, [VIRTIO_PCI_COMMON_MSIX_CONFIG] = 2,
			[VIRTIO_PCI_COMMON_DEVICE_STATUS] = 1, [VIRTIO_PCI_COMMON_QUEUE_SELECT] = 2,
			[VIRTIO_PCI_COMMON_QUEUE_SIZE] = 2, [VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR] = 2,
			[VIRTIO_PCI_COMMON_QUEUE_ENABLE] = 2,
		};

		if (width[off] != size) {
			log_debug("%s: %u-byte write to common configuration 0x%x dropped", v->name,
				  size, off);
			return;
		}
	} else if (!(off < VIRTIO_PCI_COMMON_SIZE && (size == 8 ? off % 8 == 0 : size == 4 && off % 4 == 0))) {
		log_debug("%s: %u-byte write to common configuration 0x%x dropped", v->name, size,
			  off);
		return;
	}

	switch (off) {
	case VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT:
		v->device_feature_sel = (uint32_t)value;
		return;
	case VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT:
		v->driver_feature_sel = (uint32_t)value;
		return;
	case VIRTIO_PCI_COMMON_DRIVER_FEATURE:
		virtio_dev_ack_features(dev, v->driver_feature_sel, (uint32_t)value);
		return;
	case VIRTIO_PCI_COMMON_MSIX_CONFIG:
		v->msix_config = checked_vector(v, (uint32_t)value);
		return;
	case VIRTIO_PCI_COMMON_DEVICE_STATUS:
		if ((uint8_t)value == 0) {
			virtio_dev_set_status(dev, 0);
			transport_reset(v);
		} else {
			virtio_dev_set_status(dev, (uint8_t)value);
		}
		return;
	case VIRTIO_PCI_COMMON_QUEUE_SELECT:
		v->queue_sel = (uint16_t)value;
		return;
	case VIRTIO_PCI_COMMON_QUEUE_SIZE:
		/* A size the ring cannot have is kept as 0, which enabling
		 * then refuses (the device needs reset). */
		if (setup)
			setup->size = (value && !(value & (value - 1)) &&
				       value <= dev->ops->queue_max_size) ? (uint16_t)value : 0;
		return;
	case VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR:
		if (vq)
			v->queue_vector[v->queue_sel] = checked_vector(v, (uint32_t)value);
		return;
	case VIRTIO_PCI_COMMON_QUEUE_ENABLE:
		/* 4.1.4.3.2: the driver never writes 0 here. */
		if (vq && value == 1)
			virtio_dev_queue_enable(dev, v->queue_sel);
		return;
	default:
		break;
	}
	if (!setup)
		return;
	if (field == VIRTIO_PCI_COMMON_QUEUE_DESC)
		write_address(&setup->desc_gpa, off, size, value);
	else if (field == VIRTIO_PCI_COMMON_QUEUE_DRIVER)
		write_address(&setup->avail_gpa, off, size, value);
	else if (field == VIRTIO_PCI_COMMON_QUEUE_DEVICE)
		write_address(&setup->used_gpa, off, size, value);
}

/* ---- the other structures of BAR 0 ---------------------------------------- */

static bool device_cfg_ok(const struct virtio_pci *v, unsigned off, unsigned size)
{
	unsigned len = v->dev.ops->config_size;

	return (size == 1 || size == 2 || size == 4 || size == 8) && off < len &&
	       size <= len - off;
}

static uint64_t msix_table_read(const struct virtio_pci *v, unsigned off, unsigned size)
{
	unsigned n = off / MSIX_ENTRY_SIZE;
	uint8_t entry[MSIX_ENTRY_SIZE];

	/* Dwords, or qwords at an entry's halves (PCI 3.0 6.8.2). */
	if (n >= v->msix_entries || !((size == 4 && off % 4 == 0) || (size == 8 && off % 8 == 0)))
		return 0;
	put_le(entry, v->msix[n].addr_lo, 4);
	put_le(entry + 4, v->msix[n].addr_hi, 4);
	put_le(entry + 8, v->msix[n].data, 4);
	put_le(entry + 12, v->msix[n].ctrl, 4);
	return get_le(entry + off % MSIX_ENTRY_SIZE, size);
}

static void msix_table_write(struct virtio_pci *v, unsigned off, unsigned size, uint64_t value)
{
	unsigned n = off / MSIX_ENTRY_SIZE;

	if (n >= v->msix_entries || !((size == 4 && off % 4 == 0) || (size == 8 && off % 8 == 0)))
		return;
	for (unsigned i = 0; i < size; i += 4) {
		uint32_t dword = (uint32_t)(value >> (8 * i));

		switch ((off + i) % MSIX_ENTRY_SIZE) {
		case 0:
			v->msix[n].addr_lo = dword & ~3u;  /* dword aligned */
			break;
		case 4:
			v->msix[n].addr_hi = dword;
			break;
		case 8:
			v->msix[n].data = dword;
			break;
		default:
			v->msix[n].ctrl = dword & MSIX_ENTRY_CTRL_MASKED;
			msix_flush_pending(v);
			break;
		}
	}
}

static uint64_t bar_region_read(struct virtio_pci *v, unsigned off, unsigned size)
{
	unsigned region = off & ~(BAR_REGION_SIZE - 1), in = off - region;
	uint64_t value = 0;

	switch (region) {
	case BAR_COMMON:
		return common_read(v, in, size);
	case BAR_ISR:
		/* Reading acknowledges (4.1.4.5). */
		if (in != 0)
			return 0;
		value = v->isr;
		v->isr = 0;
		update_intx(v);
		return value;
	case BAR_DEVICE:
		if (device_cfg_ok(v, in, size)) {
			uint8_t buf[8] = { 0 };

			v->dev.ops->config_read(&v->dev, in, buf, size);
			value = get_le(buf, size);
		}
		return value;
	case BAR_MSIX_TABLE:
		return msix_table_read(v, in, size);
	case BAR_MSIX_PBA:
		if (in < 8 && size <= 8 - in)
			value = v->msix_pending >> (8 * in);
		return size == 8 ? value : value & ((1ull << (8 * size)) - 1);
	default:
		return 0;    /* notifications are write-only */
	}
}

static void bar_region_write(struct virtio_pci *v, unsigned off, unsigned size, uint64_t value)
{
	unsigned region = off & ~(BAR_REGION_SIZE - 1), in = off - region;

	switch (region) {
	case BAR_COMMON:
		common_write(v, in, size, value);
		break;
	case BAR_DEVICE:
		if (device_cfg_ok(v, in, size) && v->dev.ops->config_write) {
			uint8_t buf[8];

			put_le(buf, value, size);
			v->dev.ops->config_write(&v->dev, in, buf, size);
		}
		break;
	case BAR_NOTIFY:
		/* The queue is the address's (queue_notify_off = index); the
		 * value written names it too, and is not needed. */
		if (in % VIRTIO_PCI_NOTIFY_MULTIPLIER == 0 && (size == 2 || size == 4))
			virtio_dev_queue_notify(&v->dev, in / VIRTIO_PCI_NOTIFY_MULTIPLIER);
		break;
	case BAR_MSIX_TABLE:
		msix_table_write(v, in, size, value);
		break;
	default:
		break;       /* the ISR and the pending bits are read-only */
	}
}

static bool pci_bar_read(void *opaque, uint64_t addr, unsigned size, uint64_t *value)
{
	struct virtio_pci *v = opaque;
	uint64_t off;
	bool hit;

	pthread_mutex_lock(&v->dev.lock);
	hit = pci_config_bar_decode(&v->cfg, addr, size, &off) == 0;
	if (hit)
		*value = bar_region_read(v, (unsigned)off, size);
	pthread_mutex_unlock(&v->dev.lock);
	return hit;
}

static bool pci_bar_write(void *opaque, uint64_t addr, unsigned size, uint64_t value)
{
	struct virtio_pci *v = opaque;
	uint64_t off;
	bool hit;

	pthread_mutex_lock(&v->dev.lock);
	hit = pci_config_bar_decode(&v->cfg, addr, size, &off) == 0;
	if (hit)
		bar_region_write(v, (unsigned)off, size, value);
	pthread_mutex_unlock(&v->dev.lock);
	return hit;
}

/* ---- configuration space --------------------------------------------------- */

/* VIRTIO_PCI_CAP_PCI_CFG (4.1.4.9): the driver names a BAR, an offset and
 * a length of 1, 2 or 4 in the capability; pci_cfg_data then reads or
 * writes there. Whether off..off+size touches the data field. */
static bool hits_pci_cfg_data(const struct virtio_pci *v, unsigned off, unsigned size)
{
	unsigned data = v->pci_cfg_cap + VIRTIO_PCI_CAP_PCI_CFG_DATA;

	return off < data + 4 && off + size > data;
}

/* The window the capability names, when it is one the device serves. */
static bool pci_cfg_window(const struct virtio_pci *v, unsigned *bar_off, unsigned *len)
{
	unsigned cap = v->pci_cfg_cap;
	uint32_t off = pci_config_read(&v->cfg, cap + VIRTIO_PCI_CAP_OFFSET, 4);

	*len = pci_config_read(&v->cfg, cap + VIRTIO_PCI_CAP_LENGTH, 4);
	*bar_off = off;
	return v->cfg.bytes[cap + VIRTIO_PCI_CAP_BAR] == 0 && (*len == 1 || *len == 2 || *len == 4) &&
	       off % *len == 0 && off < VIRTIO_PCI_BAR_SIZE;
}

static uint32_t pci_config_read_cb(void *opaque, unsigned offset, unsigned size)
{
	struct virtio_pci *v = opaque;
	unsigned bar_off, len;
	uint32_t value;

	pthread_mutex_lock(&v->dev.lock);
	if (hits_pci_cfg_data(v, offset, size)) {
		value = 0;
		/* Only a read of the whole field at its place means an access. */
		if (offset == v->pci_cfg_cap + VIRTIO_PCI_CAP_PCI_CFG_DATA && pci_cfg_window(v, &bar_off, &len) &&
		    size >= len)
			value = (uint32_t)bar_region_read(v, bar_off, len);
	} else {
		value = pci_config_read(&v->cfg, offset, size);
	}
	pthread_mutex_unlock(&v->dev.lock);
	return value;
}

static void pci_config_write_cb(void *opaque, unsigned offset, unsigned size, uint32_t value)
{
	struct virtio_pci *v = opaque;
	uint16_t old_ctrl;
	unsigned bar_off, len;

	pthread_mutex_lock(&v->dev.lock);
	if (hits_pci_cfg_data(v, offset, size)) {
		if (offset == v->pci_cfg_cap + VIRTIO_PCI_CAP_PCI_CFG_DATA && pci_cfg_window(v, &bar_off, &len) &&
		    size >= len)
			bar_region_write(v, bar_off, len, value & (len == 4 ? ~0u : (1u << (8 * len)) - 1));
	} else {
		old_ctrl = msix_ctrl(v);
		pci_config_write(&v->cfg, offset, size, value);
		/* Enabling MSI-X takes the line away from INTx, and a mask
		 * lifted lets the pending messages go. */
		if (msix_ctrl(v) != old_ctrl)
			msix_flush_pending(v);
		update_intx(v);
	}
	pthread_mutex_unlock(&v->dev.lock);
}

static const struct pci_function_ops virtio_pci_function_ops = {
	.config_read = pci_config_read_cb,
	.config_write = pci_config_write_cb,
	.bar_read = pci_bar_read,
	.bar_write = pci_bar_write,
};

/* ---- construction ------------------------------------------------------------ */

static uint32_t class_code(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET:
		return 0x020000;     /* network, Ethernet */
	case VIRTIO_ID_BLOCK:
		return 0x010000;     /* mass storage, SCSI: as other VMMs say */
	case VIRTIO_ID_CONSOLE:
		return 0x078000;     /* communication, other */
	default:
		return 0xff0000;     /* unassigned class */
	}
}

static unsigned add_virtio_cap(struct pci_config *cfg, uint8_t type, uint32_t offset,
			       uint32_t length, unsigned cap_len, uint32_t extra,
			       const uint8_t *wmask)
{
	uint8_t cap[VIRTIO_PCI_NOTIFY_CAP_LEN] = { PCI_CAP_ID_VENDOR, 0, (uint8_t)cap_len, type };

	cap[VIRTIO_PCI_CAP_BAR] = 0;
	put_le(cap + VIRTIO_PCI_CAP_OFFSET, offset, 4);
	put_le(cap + VIRTIO_PCI_CAP_LENGTH, length, 4);
	if (cap_len > VIRTIO_PCI_CAP_LEN)
		put_le(cap + VIRTIO_PCI_CAP_LEN, extra, 4);
	return pci_config_add_cap(cfg, cap, cap_len, wmask);
}

static int build_config(struct virtio_pci *v, uint32_t bar_addr)
{
	const struct virtio_dev_ops *ops = v->dev.ops;
	const struct pci_config_id id = {
		.vendor = VIRTIO_PCI_VENDOR_ID,
		.device = (uint16_t)(VIRTIO_PCI_DEVICE_ID_BASE + ops->device_id),
		.subsystem_vendor = VIRTIO_PCI_VENDOR_ID,
		.subsystem = SUBSYSTEM_ID,
		.class_code = class_code(ops->device_id),
		.revision = REVISION_MODERN,
		.interrupt_pin = 1,
	};
	uint8_t msix[MSIX_CAP_LEN] = { PCI_CAP_ID_MSIX };
	uint8_t msix_wmask[MSIX_CAP_LEN] = { 0 };
	uint8_t pci_cfg_wmask[VIRTIO_PCI_CFG_CAP_LEN] = { 0 };
	bool ok;

	pci_config_init(&v->cfg, &id);
	if (pci_config_set_bar(&v->cfg, 0, VIRTIO_PCI_BAR_SIZE, bar_addr))
		return -EINVAL;
	/* As firmware leaves it: the BAR decodes from the start, and the
	 * interrupt line register names the INTA# route's GSI. */
	pci_config_set(&v->cfg, PCI_REG_COMMAND, 2, PCI_COMMAND_MEMORY);
	pci_config_set(&v->cfg, PCI_REG_INTERRUPT_LINE, 1, v->gsi);

	v->msix_entries = ops->num_queues + 1;
	put_le(msix + MSIX_CTRL, v->msix_entries - 1, 2);
	put_le(msix + 4, BAR_MSIX_TABLE | 0, 4);   /* BIR 0 */
	put_le(msix + 8, BAR_MSIX_PBA | 0, 4);
	put_le(msix_wmask + MSIX_CTRL, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL, 2);
	v->msix_cap = pci_config_add_cap(&v->cfg, msix, sizeof(msix), msix_wmask);

	/* The driver chooses the window of the PCI configuration access
	 * capability: BAR, offset, length are writable, and so is the data
	 * field, which hits_pci_cfg_data intercepts. */
	pci_cfg_wmask[VIRTIO_PCI_CAP_BAR] = 0xff;
	memset(pci_cfg_wmask + VIRTIO_PCI_CAP_OFFSET, 0xff, 8);
	ok = v->msix_cap &&
	     add_virtio_cap(&v->cfg, VIRTIO_PCI_CAP_COMMON_CFG, BAR_COMMON, VIRTIO_PCI_COMMON_SIZE,
			    VIRTIO_PCI_CAP_LEN, 0, NULL) &&
	     add_virtio_cap(&v->cfg, VIRTIO_PCI_CAP_NOTIFY_CFG, BAR_NOTIFY,
			    ops->num_queues * VIRTIO_PCI_NOTIFY_MULTIPLIER, VIRTIO_PCI_NOTIFY_CAP_LEN,
			    VIRTIO_PCI_NOTIFY_MULTIPLIER, NULL) &&
	     add_virtio_cap(&v->cfg, VIRTIO_PCI_CAP_ISR_CFG, BAR_ISR, 1, VIRTIO_PCI_CAP_LEN, 0, NULL) &&
	     (ops->config_size == 0 ||
	      add_virtio_cap(&v->cfg, VIRTIO_PCI_CAP_DEVICE_CFG, BAR_DEVICE, ops->config_size,
			     VIRTIO_PCI_CAP_LEN, 0, NULL));
	if (ok)
		v->pci_cfg_cap = add_virtio_cap(&v->cfg, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, VIRTIO_PCI_CFG_CAP_LEN,
						0, pci_cfg_wmask);
	if (!ok || !v->pci_cfg_cap)
		return -ENOSPC;
	for (unsigned n = 0; n < v->msix_entries; n++)
		v->msix[n].ctrl = MSIX_ENTRY_CTRL_MASKED;
	return 0;
}

struct virtio_pci *virtio_pci_create(struct platform *p, struct pci_host *host, unsigned slot,
				     uint32_t bar_addr, unsigned gsi,
				     virtio_dev_setup_fn setup, const void *arg)
{
	struct virtio_pci *v = calloc(1, sizeof(*v));
	int rc;

	if (!v) {
		log_error("virtio-pci: out of memory");
		return NULL;
	}
	v->p = p;
	v->gsi = gsi;
	if (setup(&v->dev, p->mem, arg) != 0) {
		free(v);
		return NULL;
	}
	v->dev_set_up = true;
	snprintf(v->name, sizeof(v->name), "%s@00:%02x.0", v->dev.ops->name, slot);
	if (v->dev.ops->config_size > BAR_REGION_SIZE || slot == 0 || slot >= 32) {
		log_error("%s: cannot be a virtio-pci function (config %u bytes, slot %u)",
			  v->name, v->dev.ops->config_size, slot);
		virtio_pci_destroy(v);
		return NULL;
	}
	rc = build_config(v, bar_addr);
	if (rc) {
		log_error("%s: cannot build its PCI configuration (BAR at 0x%x): %s", v->name,
			  bar_addr, strerror(-rc));
		virtio_pci_destroy(v);
		return NULL;
	}
	/* virtio_dev_init cleared these. */
	v->dev.interrupt = pci_interrupt;
	v->dev.transport = v;
	transport_reset(v);

	rc = pci_host_add_function(host, PCI_DEVFN(slot, 0), &virtio_pci_function_ops, v);
	if (rc) {
		log_error("%s: cannot join PCI bus 0: %s", v->name, strerror(-rc));
		virtio_pci_destroy(v);
		return NULL;
	}
	return v;
}

void virtio_pci_destroy(struct virtio_pci *v)
{
	if (!v)
		return;
	if (v->dev_set_up)
		virtio_dev_destroy(&v->dev);
	free(v);
}

struct virtio_dev *virtio_pci_dev(struct virtio_pci *v)
{
	return &v->dev;
}
