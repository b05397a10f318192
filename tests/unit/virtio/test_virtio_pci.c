/* The virtio-pci transport driven as a guest driver would (and as a
 * hostile one might): through configuration mechanism #1 and BAR 0 in the
 * PCI host's memory window, with a fake device recording what the core
 * asks of it and a fake platform recording lines and messages. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "devices/pci_host.h"
#include "tests/unit/devices/test_platform.h"
#include "tests/unit/virtio/fake_virtio_dev.h"
#include "tests/unit/virtio/transport_driver.h"
#include "tests/unit/virtio/virtq_test_ring.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtio_pci_regs.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"

#define SLOT      3
#define GSI       19
#define BAR_ADDR  ((uint32_t)PCI_MMIO_START + 0x100000u)

#define CFG_ADDRESS 0xcf8
#define CFG_DATA    0xcfc

/* Type-0 header. */
#define REG_VENDOR     0x00
#define REG_COMMAND    0x04
#define REG_STATUS     0x06
#define REG_CLASS_REV  0x08
#define REG_HEADER     0x0e
#define REG_BAR0       0x10
#define REG_SUBSYSTEM  0x2c
#define REG_CAP_PTR    0x34
#define REG_INTERRUPT  0x3c
#define CMD_MEMORY       0x0002
#define CMD_INTX_DISABLE 0x0400
#define STATUS_INTERRUPT 0x0008
#define STATUS_CAP_LIST  0x0010

#define CAP_ID_MSIX    0x11
#define CAP_ID_VENDOR  0x09
#define MSIX_ENABLE    0x8000
#define MSIX_MASKALL   0x4000

#define MSIX_ENTRIES  (FAKE_QUEUES + 1)

/* ---- fake devices beyond fake_virtio_dev.h ------------------------------ */

static const struct virtio_dev_ops big_config_ops = {
	.name = "big",
	.device_id = 42,
	.num_queues = 1,
	.queue_max_size = 8,
	.config_size = 0x1001,       /* more than the device page of BAR 0 */
	.config_read = fake_config_read,
	.queue_notify = fake_queue_notify,
	.destroy = fake_destroy,
};

static int big_config_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg)
{
	return virtio_dev_init(dev, &big_config_ops, mem, (void *)arg);
}

static const struct virtio_dev_ops net_like_ops = {
	.name = "net-like",
	.device_id = VIRTIO_ID_NET,
	.num_queues = 1,
	.queue_max_size = 8,
	.queue_notify = fake_queue_notify,
	.destroy = fake_destroy,
};

static int net_like_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg)
{
	return virtio_dev_init(dev, &net_like_ops, mem, (void *)arg);
}

/* ---- the fixture ---------------------------------------------------------- */

/* One virtio capability as the driver found it. */
struct vcap {
	unsigned at;                 /* its offset in configuration space */
	uint8_t cap_len, bar;
	uint32_t offset, length;
};

struct fixture {
	struct fake_platform *f;
	struct guest_mem mem;
	struct pci_host *host;
	struct virtio_pci *v;
	struct virtio_pci *other;    /* a second function some tests add */
	struct virtio_dev *dev;
	struct fake_dev fake, other_fake;
	struct test_ring ring;       /* queue 0, as the tests set it up */

	struct vcap cap[VIRTIO_PCI_CAP_TYPES];  /* by cfg_type; at == 0: not found */
	uint32_t notify_mult;
	unsigned msix;               /* the MSI-X capability */
	uint32_t msix_table, msix_pba;   /* their offsets in BAR 0 */
};

/* ---- configuration space through mechanism #1 ---------------------------- */

static uint32_t cfg_rd_at(struct fixture *x, unsigned slot, unsigned reg, unsigned size)
{
	pio_out(x->f, CFG_ADDRESS, 4, 0x80000000u | slot << 11 | (reg & 0xfc));
	return (uint32_t)pio_in(x->f, (uint16_t)(CFG_DATA + (reg & 3)), size);
}

static uint32_t cfg_rd(struct fixture *x, unsigned reg, unsigned size)
{
	return cfg_rd_at(x, SLOT, reg, size);
}

static void cfg_wr(struct fixture *x, unsigned reg, unsigned size, uint32_t v)
{
	pio_out(x->f, CFG_ADDRESS, 4, 0x80000000u | SLOT << 11 | (reg & 0xfc));
	pio_out(x->f, (uint16_t)(CFG_DATA + (reg & 3)), size, v);
}

/* ---- BAR 0 ----------------------------------------------------------------- */

static uint64_t bar_rd(struct fixture *x, uint32_t off, unsigned size)
{
	return mmio_in(x->f, BAR_ADDR + off, size);
}

static void bar_wr(struct fixture *x, uint32_t off, unsigned size, uint64_t v)
{
	mmio_out(x->f, BAR_ADDR + off, size, v);
}

static uint64_t cc_rd(struct fixture *x, unsigned field, unsigned size)
{
	return bar_rd(x, x->cap[VIRTIO_PCI_CAP_COMMON_CFG].offset + field, size);
}

static void cc_wr(struct fixture *x, unsigned field, unsigned size, uint64_t v)
{
	bar_wr(x, x->cap[VIRTIO_PCI_CAP_COMMON_CFG].offset + field, size, v);
}

static uint8_t isr_rd(struct fixture *x)
{
	return (uint8_t)bar_rd(x, x->cap[VIRTIO_PCI_CAP_ISR_CFG].offset, 1);
}

static uint64_t devcfg_rd(struct fixture *x, unsigned off, unsigned size)
{
	return bar_rd(x, x->cap[VIRTIO_PCI_CAP_DEVICE_CFG].offset + off, size);
}

static void devcfg_wr(struct fixture *x, unsigned off, unsigned size, uint64_t v)
{
	bar_wr(x, x->cap[VIRTIO_PCI_CAP_DEVICE_CFG].offset + off, size, v);
}

/* Where the driver notifies queue q: the notify structure plus the
 * queue's notify offset times the multiplier. */
static uint32_t notify_addr(struct fixture *x, unsigned q)
{
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, q);
	return x->cap[VIRTIO_PCI_CAP_NOTIFY_CFG].offset +
	       (uint32_t)cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_NOTIFY_OFF, 2) * x->notify_mult;
}

static void notify(struct fixture *x, unsigned q)
{
	bar_wr(x, notify_addr(x, q), 2, q);
}

static uint32_t entry_at(struct fixture *x, unsigned n, unsigned field)
{
	return x->msix_table + 16 * n + field;
}

/* Entry n sends data to address, masked or not. */
static void msix_program(struct fixture *x, unsigned n, uint64_t address, uint32_t data,
			 bool masked)
{
	bar_wr(x, entry_at(x, n, 0), 4, (uint32_t)address);
	bar_wr(x, entry_at(x, n, 4), 4, (uint32_t)(address >> 32));
	bar_wr(x, entry_at(x, n, 8), 4, data);
	bar_wr(x, entry_at(x, n, 12), 4, masked);
}

static void msix_control(struct fixture *x, uint16_t ctrl)
{
	cfg_wr(x, x->msix + 2, 2, ctrl);
}

/* Finds the capabilities as Linux's virtio_pci_modern does. */
static void find_caps(struct fixture *x)
{
	unsigned seen = 0;

	assert_true(cfg_rd(x, REG_STATUS, 2) & STATUS_CAP_LIST);
	for (unsigned at = cfg_rd(x, REG_CAP_PTR, 1); at; at = cfg_rd(x, at + 1, 1)) {
		unsigned id = cfg_rd(x, at, 1);

		assert_true(at >= 0x40 && at % 4 == 0 && at < 0x100);
		assert_true(++seen < 16);
		if (id == CAP_ID_MSIX) {
			assert_int_equal(x->msix, 0);
			x->msix = at;
		} else if (id == CAP_ID_VENDOR) {
			unsigned type = cfg_rd(x, at + VIRTIO_PCI_CAP_CFG_TYPE, 1);
			struct vcap *c;

			assert_true(type >= 1 && type < VIRTIO_PCI_CAP_TYPES);
			c = &x->cap[type];
			assert_int_equal(c->at, 0);           /* one of each */
			c->at = at;
			c->cap_len = (uint8_t)cfg_rd(x, at + VIRTIO_PCI_CAP_CFG_LEN, 1);
			c->bar = (uint8_t)cfg_rd(x, at + VIRTIO_PCI_CAP_BAR, 1);
			c->offset = cfg_rd(x, at + VIRTIO_PCI_CAP_OFFSET, 4);
			c->length = cfg_rd(x, at + VIRTIO_PCI_CAP_LENGTH, 4);
			assert_true(at + c->cap_len <= 0x100);
			if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
				x->notify_mult = cfg_rd(x, at + VIRTIO_PCI_CAP_NOTIFY_MULTIPLIER, 4);
		} else {
			fail_msg("unexpected capability 0x%02x at 0x%02x", id, at);
		}
	}
	assert_int_not_equal(x->msix, 0);
	x->msix_table = cfg_rd(x, x->msix + 4, 4);
	x->msix_pba = cfg_rd(x, x->msix + 8, 4);
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = transport_guest_new(&x->mem, &x->ring);
	x->host = pci_host_create(&x->f->p);
	assert_non_null(x->host);
	x->v = virtio_pci_create(&x->f->p, x->host, SLOT, BAR_ADDR, GSI, fake_setup, &x->fake);
	assert_non_null(x->v);
	x->dev = virtio_pci_dev(x->v);
	find_caps(x);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	virtio_pci_destroy(x->v);
	assert_int_equal(x->fake.destroyed, 1);
	virtio_pci_destroy(x->other);
	pci_host_destroy(x->host);
	transport_guest_free(x->f, &x->mem);
	free(x);
	return 0;
}

/* ---- the driver's steps ------------------------------------------------------ */

#define CC(field, size) { VIRTIO_PCI_COMMON_##field, size }

/* The common configuration structure, for the steps the transports share. */
static const struct transport pci = {
	.rd = cc_rd,
	.wr = cc_wr,
	.status = CC(DEVICE_STATUS, 1),
	.device_features_sel = CC(DEVICE_FEATURE_SELECT, 4),
	.device_features = CC(DEVICE_FEATURE, 4),
	.driver_features_sel = CC(DRIVER_FEATURE_SELECT, 4),
	.driver_features = CC(DRIVER_FEATURE, 4),
	.queue_sel = CC(QUEUE_SELECT, 2),
	.queue_size = CC(QUEUE_SIZE, 2),
	.queue_desc = CC(QUEUE_DESC, 4),
	.queue_driver = CC(QUEUE_DRIVER, 4),
	.queue_device = CC(QUEUE_DEVICE, 4),
	.queue_enable = CC(QUEUE_ENABLE, 2),
};

static uint32_t negotiate(struct fixture *x, uint64_t features)
{
	return transport_negotiate(&pci, x, features);
}

static void queue_setup(struct fixture *x, unsigned q, uint16_t size, uint64_t desc,
			uint64_t avail, uint64_t used)
{
	transport_queue_setup(&pci, x, q, size, desc, avail, used);
}

/* A device taken to DRIVER_OK with queue 0 of size 8 set up. */
static void bring_up(struct fixture *x)
{
	transport_bring_up(&pci, x, VERSION_1);
}

/* Word n of the features the device offers, or of those the driver took. */
static uint32_t device_feature_word(struct fixture *x, uint32_t n)
{
	return transport_feature_word(&pci, x, pci.device_features_sel, pci.device_features, n);
}

static uint32_t driver_feature_word(struct fixture *x, uint32_t n)
{
	return transport_feature_word(&pci, x, pci.driver_features_sel, pci.driver_features, n);
}

/* One used buffer on queue 0, and the interrupt that asks for. */
static void complete_one(struct fixture *x)
{
	uint16_t before = test_ring_used_idx(&x->ring);

	test_ring_post_at(&x->ring, (uint16_t)(x->ring.avail_idx % 8), (struct test_buf){ BUF_GPA, 64, true });
	notify(x, 0);
	assert_int_equal(test_ring_used_idx(&x->ring), (uint16_t)(before + 1));
}

static void config_changed(struct fixture *x)
{
	pthread_mutex_lock(&x->dev->lock);
	virtio_dev_config_changed(x->dev);
	pthread_mutex_unlock(&x->dev->lock);
}

/* ---- identity and capabilities ---------------------------------------------- */

static void identity(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(cfg_rd(x, REG_VENDOR, 4), (0x1040u + 42) << 16 | 0x1af4);
	/* Revision 1 (modern only); no class for an unknown device kind. */
	assert_int_equal(cfg_rd(x, REG_CLASS_REV, 4), 0xff000001);
	assert_int_equal(cfg_rd(x, REG_HEADER, 1), 0);
	assert_int_equal(cfg_rd(x, REG_SUBSYSTEM, 4), 0x1100u << 16 | 0x1af4);
	/* INTA#, routed to the line the machine gave it. */
	assert_int_equal(cfg_rd(x, REG_INTERRUPT, 2), 0x0100 | GSI);
	/* Decoding its BAR from the start, no interrupt pending. */
	assert_int_equal(cfg_rd(x, REG_COMMAND, 2), CMD_MEMORY);
	assert_int_equal(cfg_rd(x, REG_STATUS, 2), STATUS_CAP_LIST);

	/* One 32-bit memory BAR of 32 KiB; the others absent. */
	assert_int_equal(cfg_rd(x, REG_BAR0, 4), BAR_ADDR);
	cfg_wr(x, REG_BAR0, 4, 0xffffffff);
	assert_int_equal(cfg_rd(x, REG_BAR0, 4), ~(VIRTIO_PCI_BAR_SIZE - 1));
	cfg_wr(x, REG_BAR0, 4, BAR_ADDR);
	assert_int_equal(cfg_rd(x, REG_BAR0, 4), BAR_ADDR);
	for (unsigned bar = 1; bar < 6; bar++) {
		cfg_wr(x, REG_BAR0 + 4 * bar, 4, 0xffffffff);
		assert_int_equal(cfg_rd(x, REG_BAR0 + 4 * bar, 4), 0);
	}
	/* The IDs do not take writes. */
	cfg_wr(x, REG_VENDOR, 4, 0);
	assert_int_equal(cfg_rd(x, REG_VENDOR, 2), 0x1af4);
}

static void capabilities(void **state)
{
	struct fixture *x = *state;
	uint16_t ctrl = (uint16_t)cfg_rd(x, x->msix + 2, 2);

	for (unsigned t = VIRTIO_PCI_CAP_COMMON_CFG; t <= VIRTIO_PCI_CAP_PCI_CFG; t++) {
		const struct vcap *c = &x->cap[t];

		assert_int_not_equal(c->at, 0);
		assert_int_equal(c->bar, 0);
		assert_int_equal(c->cap_len, t == VIRTIO_PCI_CAP_NOTIFY_CFG || t == VIRTIO_PCI_CAP_PCI_CFG ? 20 : 16);
		/* Each structure inside BAR 0. */
		assert_true(c->offset + c->length <= VIRTIO_PCI_BAR_SIZE);
	}
	assert_true(x->cap[VIRTIO_PCI_CAP_COMMON_CFG].length >= VIRTIO_PCI_COMMON_SIZE);
	assert_true(x->cap[VIRTIO_PCI_CAP_ISR_CFG].length >= 1);
	assert_int_equal(x->cap[VIRTIO_PCI_CAP_DEVICE_CFG].length, FAKE_CONFIG);
	/* Every queue's notify address fits the notify structure. */
	assert_int_equal(x->notify_mult, VIRTIO_PCI_NOTIFY_MULTIPLIER);
	for (unsigned q = 0; q < FAKE_QUEUES; q++) {
		cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, q);
		assert_true(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_NOTIFY_OFF, 2) * x->notify_mult + 2 <=
			    x->cap[VIRTIO_PCI_CAP_NOTIFY_CFG].length);
	}
	/* The PCI configuration access capability starts out naming nothing. */
	assert_int_equal(x->cap[VIRTIO_PCI_CAP_PCI_CFG].offset, 0);
	assert_int_equal(x->cap[VIRTIO_PCI_CAP_PCI_CFG].length, 0);

	/* MSI-X: one entry per queue and one for configuration changes,
	 * table and pending bits in BAR 0 (BIR 0), disabled. */
	assert_int_equal(ctrl, MSIX_ENTRIES - 1);
	assert_int_equal(x->msix_table & 7, 0);
	assert_int_equal(x->msix_pba & 7, 0);
	assert_true(x->msix_table + 16 * MSIX_ENTRIES <= VIRTIO_PCI_BAR_SIZE);
	assert_true(x->msix_pba + 8 <= VIRTIO_PCI_BAR_SIZE);

	/* The virtio capabilities are read-only to the driver. */
	cfg_wr(x, x->cap[VIRTIO_PCI_CAP_COMMON_CFG].at + 8, 4, 0x1234);
	cfg_wr(x, x->cap[VIRTIO_PCI_CAP_NOTIFY_CFG].at + VIRTIO_PCI_CAP_NOTIFY_MULTIPLIER, 4, 1);
	cfg_wr(x, x->cap[VIRTIO_PCI_CAP_ISR_CFG].at + 4, 1, 3);
	assert_int_equal(cfg_rd(x, x->cap[VIRTIO_PCI_CAP_COMMON_CFG].at + VIRTIO_PCI_CAP_OFFSET, 4),
			 x->cap[VIRTIO_PCI_CAP_COMMON_CFG].offset);
	assert_int_equal(cfg_rd(x, x->cap[VIRTIO_PCI_CAP_NOTIFY_CFG].at + VIRTIO_PCI_CAP_NOTIFY_MULTIPLIER, 4),
			 VIRTIO_PCI_NOTIFY_MULTIPLIER);
	assert_int_equal(cfg_rd(x, x->cap[VIRTIO_PCI_CAP_ISR_CFG].at + 4, 1), 0);
	/* So are the MSI-X table size and locations. */
	cfg_wr(x, x->msix + 2, 2, 0x07ff);
	cfg_wr(x, x->msix + 4, 4, 0x1000);
	assert_int_equal(cfg_rd(x, x->msix + 2, 2), MSIX_ENTRIES - 1);
	assert_int_equal(cfg_rd(x, x->msix + 4, 4), x->msix_table);
}

/* ---- features, status ------------------------------------------------------ */

static void features(void **state)
{
	struct fixture *x = *state;
	uint64_t offered;

	offered = device_feature_word(x, 0);
	offered |= (uint64_t)device_feature_word(x, 1) << 32;
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 4), 1);
	assert_int_equal(offered, FAKE_FEATURES | VERSION_1 | (1ull << VIRTIO_F_EVENT_IDX) |
				  (1ull << VIRTIO_F_INDIRECT_DESC));
	assert_int_equal(device_feature_word(x, 2), 0);
	assert_int_equal(device_feature_word(x, 0xffffffff), 0);
	/* The offer is read-only. */
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 4, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE, 4, 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE, 4), (uint32_t)offered);

	/* Without VERSION_1 (a legacy driver): refused. */
	assert_int_equal(negotiate(x, 1ull << 5), S_ACK | S_DRIVER);
	/* Not offered: refused. */
	assert_int_equal(negotiate(x, VERSION_1 | (1ull << 6)), S_ACK | S_DRIVER);
	/* DRIVER_OK without FEATURES_OK: ignored. */
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1, S_ACK | S_DRIVER | S_DRIVER_OK);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1), S_ACK | S_DRIVER);
	assert_int_equal(x->fake.activations, 0);

	/* The right set is taken, and the driver's words read back. */
	assert_int_equal(negotiate(x, VERSION_1 | (1ull << 35) | (1ull << 5)),
			 S_ACK | S_DRIVER | S_FEATURES_OK);
	assert_int_equal(x->dev->features_acked, VERSION_1 | (1ull << 35) | (1ull << 5));
	assert_int_equal(driver_feature_word(x, 0), 1u << 5);
	assert_int_equal(driver_feature_word(x, 1), 0x9);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT, 4), 1);
	assert_int_equal(driver_feature_word(x, 2), 0);
	assert_int_equal(driver_feature_word(x, 7), 0);
	/* After FEATURES_OK they are final. */
	cc_wr(x, VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT, 4, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_DRIVER_FEATURE, 4, 0xffffffff);
	assert_int_equal(x->dev->features_acked, VERSION_1 | (1ull << 35) | (1ull << 5));
}

/* ---- queues ------------------------------------------------------------------ */

static void queue_registers(void **state)
{
	struct fixture *x = *state;
	struct virtq *vq = &x->dev->vq[1];

	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), FAKE_QUEUES);
	assert_int_equal(negotiate(x, VERSION_1 | (1ull << VIRTIO_F_EVENT_IDX)),
			 S_ACK | S_DRIVER | S_FEATURES_OK);
	/* Sizes start at the maximum; each queue its own notify offset. */
	for (unsigned q = 0; q < FAKE_QUEUES; q++) {
		cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, q);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2), q);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), FAKE_MAX_SIZE);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2), 0);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2), VIRTIO_PCI_NO_VECTOR);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_DESC, 8), 0);
	}
	assert_int_not_equal(notify_addr(x, 0), notify_addr(x, 1));
	/* A queue the device does not have: size 0, nothing takes. */
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, FAKE_QUEUES);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), 0);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2, 4);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DESC, 4, 0x1000);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2, 1);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2), 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_DESC, 8), 0);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 0xffff);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), 0);

	/* 64-bit addresses written as halves, read whole or in halves. */
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 1);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DESC, 4, 0x23456000);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DESC + 4, 4, 0x1);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_DESC, 8), 0x123456000ull);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_DESC + 4, 4), 1);
	assert_int_equal(vq->desc_gpa, 0x123456000ull);
	/* ... or whole. */
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DRIVER, 8, 0xabcdef0012345678ull);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_DRIVER, 8), 0xabcdef0012345678ull);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_DRIVER, 4), 0x12345678);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DRIVER + 4, 4, 0);
	assert_int_equal(vq->avail_gpa, 0x12345678ull);
	/* The other queue was not touched. */
	assert_int_equal(x->dev->vq[0].desc_gpa, 0);

	/* 0x123456000 is past the 16 MiB of RAM: enabling refuses. */
	queue_setup(x, 1, 4, 0x123456000ull, AVAIL_GPA, USED_GPA);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2), 0);
	assert_true(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1) & S_NEEDS_RESET);
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1, 0);
	assert_int_equal(negotiate(x, VERSION_1 | (1ull << VIRTIO_F_EVENT_IDX)),
			 S_ACK | S_DRIVER | S_FEATURES_OK);

	queue_setup(x, 1, 4, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2), 1);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1), S_ACK | S_DRIVER | S_FEATURES_OK);
	assert_true(vq->ready);
	expect_shared_rings(vq, 4);
	assert_true(vq->event_idx);
	/* Once enabled, the layout is fixed; writing 0 to enable is not a
	 * way out (only a reset is). */
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2, 8);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DESC, 4, 0x5000);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DRIVER + 4, 4, 1);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DEVICE, 8, 0x7000);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2, 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), 4);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2), 1);
	expect_shared_rings(vq, 4);
	assert_false(x->dev->vq[0].ready);
}

static void queue_bad_sizes(void **state)
{
	struct fixture *x = *state;
	static const uint16_t bad[] = { 0, 3, 12, FAKE_MAX_SIZE * 2, 0x8000, 0xffff };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1, 0);
		assert_int_equal(negotiate(x, VERSION_1), S_ACK | S_DRIVER | S_FEATURES_OK);
		cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 0);
		cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2, bad[i]);
		/* Not a size the ring can have: it reads back as none. */
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), 0);
		queue_setup(x, 0, bad[i], DESC_GPA, AVAIL_GPA, USED_GPA);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2), 0);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1),
				 S_ACK | S_DRIVER | S_FEATURES_OK | S_NEEDS_RESET);
	}
	/* Every power of two up to the maximum is a size. */
	for (unsigned size = 1; size <= FAKE_MAX_SIZE; size *= 2) {
		cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1, 0);
		cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2, size);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), size);
	}
	queue_setup(x, 0, 2, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2), 1);
	assert_int_equal(x->dev->vq[0].size, 2);
}

static void notifications(void **state)
{
	struct fixture *x = *state;
	uint32_t n0, n1;

	assert_int_equal(negotiate(x, VERSION_1), S_ACK | S_DRIVER | S_FEATURES_OK);
	queue_setup(x, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	queue_setup(x, 1, 8, DESC_GPA + 0x4000, AVAIL_GPA + 0x4000, USED_GPA + 0x4000);
	n0 = notify_addr(x, 0);
	n1 = notify_addr(x, 1);
	/* Before DRIVER_OK the device does not look at its queues. */
	bar_wr(x, n0, 2, 0);
	assert_int_equal(x->fake.notified[0], 0);
	/* DRIVER_OK: each ready queue looked at once. */
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1, S_UP);
	assert_int_equal(x->fake.activations, 1);
	assert_int_equal(x->fake.notified[0], 1);
	assert_int_equal(x->fake.notified[1], 1);

	/* Each address reaches its own queue, whatever value is written. */
	bar_wr(x, n1, 2, 1);
	assert_int_equal(x->fake.notified[0], 1);
	assert_int_equal(x->fake.notified[1], 2);
	bar_wr(x, n0, 2, 0);
	bar_wr(x, n0, 2, 1);
	bar_wr(x, n0, 4, 0);
	assert_int_equal(x->fake.notified[0], 4);
	assert_int_equal(x->fake.notified[1], 2);

	/* Widths other than 16 and 32 bits, addresses between queues,
	 * queues the device does not have: nothing. */
	bar_wr(x, n0, 1, 0);
	bar_wr(x, n0, 8, 0);
	bar_wr(x, n0 + 1, 2, 0);
	bar_wr(x, n0 + 2, 2, 0);
	bar_wr(x, x->cap[VIRTIO_PCI_CAP_NOTIFY_CFG].offset + FAKE_QUEUES * x->notify_mult, 2, FAKE_QUEUES);
	bar_wr(x, x->cap[VIRTIO_PCI_CAP_NOTIFY_CFG].offset + 0xffc, 4, 0);
	assert_int_equal(x->fake.notified[0], 4);
	assert_int_equal(x->fake.notified[1], 2);
	/* The notify area reads as nothing. */
	assert_int_equal(bar_rd(x, n0, 2), 0);
}

static void reset_restores(void **state)
{
	struct fixture *x = *state;

	x->fake.serve = true;
	bring_up(x);
	cc_wr(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 2, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2, 1);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 1);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2, 4);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2, 2);
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 4, 1);
	cc_wr(x, VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT, 4, 1);
	complete_one(x);
	assert_true(x->f->irq[GSI]);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 1);

	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1, 0);
	assert_int_equal(x->fake.resets, 1);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1), 0);
	/* Selectors back to 0, no vectors, sizes at the maximum again. */
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 4), 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT, 4), 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2), 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 2), VIRTIO_PCI_NO_VECTOR);
	for (unsigned q = 0; q < FAKE_QUEUES; q++) {
		cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, q);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SIZE, 2), FAKE_MAX_SIZE);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2), VIRTIO_PCI_NO_VECTOR);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_ENABLE, 2), 0);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_DESC, 8), 0);
		assert_false(x->dev->vq[q].ready);
	}
	assert_int_equal(x->dev->features_acked, 0);
	/* The interrupt went with it. */
	assert_false(x->f->irq[GSI]);
	assert_int_equal(cfg_rd(x, REG_STATUS, 2) & STATUS_INTERRUPT, 0);
	assert_int_equal(isr_rd(x), 0);

	/* And the device comes up again from scratch. */
	memset(guest_ptr(&x->mem, DESC_GPA, 0x3000), 0, 0x3000);
	x->ring.avail_idx = 0;
	bring_up(x);
	complete_one(x);
}

static void config_generation(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_CONFIG_GENERATION, 1), 0);
	config_changed(x);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_CONFIG_GENERATION, 1), 1);
	config_changed(x);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_CONFIG_GENERATION, 1), 2);
	/* Read-only. */
	cc_wr(x, VIRTIO_PCI_COMMON_CONFIG_GENERATION, 1, 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_CONFIG_GENERATION, 1), 2);
	/* Before DRIVER_OK no configuration interrupt (2.1). */
	assert_false(x->f->irq[GSI]);
	assert_int_equal(isr_rd(x), 0);
}

static void device_config(void **state)
{
	struct fixture *x = *state;

	for (unsigned i = 0; i < FAKE_CONFIG; i++)
		x->fake.config[i] = (uint8_t)(0x10 + i);
	assert_int_equal(devcfg_rd(x, 0, 1), 0x10);
	assert_int_equal(devcfg_rd(x, 3, 1), 0x13);
	assert_int_equal(devcfg_rd(x, 2, 2), 0x1312);
	assert_int_equal(devcfg_rd(x, 4, 4), 0x17161514);
	assert_int_equal(devcfg_rd(x, 4, 8), 0x1b1a191817161514ull);
	assert_int_equal(devcfg_rd(x, FAKE_CONFIG - 1, 1), 0x1b);
	/* Past config_size, or hanging over it: 0, and writes dropped. */
	assert_int_equal(devcfg_rd(x, FAKE_CONFIG, 1), 0);
	assert_int_equal(devcfg_rd(x, FAKE_CONFIG - 2, 4), 0);
	assert_int_equal(devcfg_rd(x, 8, 8), 0);
	assert_int_equal(devcfg_rd(x, 0xffc, 4), 0);
	devcfg_wr(x, 8, 8, ~0ull);
	devcfg_wr(x, FAKE_CONFIG - 1, 2, 0xffff);
	devcfg_wr(x, FAKE_CONFIG, 4, 0xffffffff);
	/* A width the bus never produces. */
	devcfg_wr(x, 0, 3, 0xffffff);
	assert_int_equal(devcfg_rd(x, 0, 3), 0);
	for (unsigned i = 0; i < FAKE_CONFIG; i++)
		assert_int_equal(x->fake.config[i], 0x10 + i);
	/* Writes of each width reach the device. */
	devcfg_wr(x, 0, 1, 0xa0);
	devcfg_wr(x, 2, 2, 0xbeef);
	devcfg_wr(x, 4, 8, 0x0807060504030201ull);
	assert_int_equal(x->fake.config[0], 0xa0);
	assert_int_equal(x->fake.config[1], 0x11);
	assert_int_equal(devcfg_rd(x, 0, 4), 0xbeef11a0);
	assert_int_equal(devcfg_rd(x, 4, 8), 0x0807060504030201ull);
	devcfg_wr(x, 8, 4, 0xcafef00d);
	assert_int_equal(devcfg_rd(x, 8, 4), 0xcafef00d);
}

/* ---- INTx ------------------------------------------------------------------- */

static void intx(void **state)
{
	struct fixture *x = *state;

	x->fake.serve = true;
	bring_up(x);
	assert_false(x->f->irq[GSI]);

	/* A used buffer: ISR bit 0, the line up, status bit 3. */
	complete_one(x);
	assert_true(x->f->irq[GSI]);
	assert_true(cfg_rd(x, REG_STATUS, 2) & STATUS_INTERRUPT);
	/* The ISR is read-only: writing it acknowledges nothing. */
	bar_wr(x, x->cap[VIRTIO_PCI_CAP_ISR_CFG].offset, 1, 0xff);
	assert_true(x->f->irq[GSI]);
	/* Reading acknowledges: the line drops, the bit clears. */
	assert_int_equal(isr_rd(x), 1);
	assert_false(x->f->irq[GSI]);
	assert_int_equal(cfg_rd(x, REG_STATUS, 2) & STATUS_INTERRUPT, 0);
	assert_int_equal(isr_rd(x), 0);

	/* A configuration change: bit 1. */
	config_changed(x);
	assert_true(x->f->irq[GSI]);
	assert_int_equal(isr_rd(x), 2);
	assert_false(x->f->irq[GSI]);

	/* Both at once, taken by one read. */
	complete_one(x);
	config_changed(x);
	assert_int_equal(bar_rd(x, x->cap[VIRTIO_PCI_CAP_ISR_CFG].offset, 4), 3);
	assert_false(x->f->irq[GSI]);
	/* Bytes past the ISR read 0 and acknowledge nothing. */
	complete_one(x);
	assert_int_equal(bar_rd(x, x->cap[VIRTIO_PCI_CAP_ISR_CFG].offset + 1, 1), 0);
	assert_true(x->f->irq[GSI]);
	assert_int_equal(isr_rd(x), 1);
}

static void intx_disable(void **state)
{
	struct fixture *x = *state;
	unsigned calls;

	x->fake.serve = true;
	bring_up(x);
	cfg_wr(x, REG_COMMAND, 2, CMD_MEMORY | CMD_INTX_DISABLE);
	assert_int_equal(cfg_rd(x, REG_COMMAND, 2), CMD_MEMORY | CMD_INTX_DISABLE);

	/* Disabled: the line stays low, the status bit still tells. */
	calls = x->f->irq_calls[GSI];
	complete_one(x);
	assert_false(x->f->irq[GSI]);
	assert_int_equal(x->f->irq_calls[GSI], calls);
	assert_true(cfg_rd(x, REG_STATUS, 2) & STATUS_INTERRUPT);
	/* Enabled again: the pending interrupt comes through. */
	cfg_wr(x, REG_COMMAND, 2, CMD_MEMORY);
	assert_true(x->f->irq[GSI]);
	/* Disabled while up: the line goes down, the interrupt stays. */
	cfg_wr(x, REG_COMMAND, 2, CMD_MEMORY | CMD_INTX_DISABLE);
	assert_false(x->f->irq[GSI]);
	assert_true(cfg_rd(x, REG_STATUS, 2) & STATUS_INTERRUPT);
	assert_int_equal(isr_rd(x), 1);
	assert_int_equal(cfg_rd(x, REG_STATUS, 2) & STATUS_INTERRUPT, 0);
	cfg_wr(x, REG_COMMAND, 2, CMD_MEMORY);
	assert_false(x->f->irq[GSI]);
}

/* ---- MSI-X ------------------------------------------------------------------- */

#define MSG_ADDR(n) (0xfee00000ull | (n) << 12)
#define MSG_DATA(n) (0x40u + (n))

/* MSI-X on, config to entry 0, queue 0 to entry 1, queue 1 to entry 2. */
static void msix_bring_up(struct fixture *x, bool masked)
{
	msix_control(x, MSIX_ENABLE);
	for (unsigned n = 0; n < MSIX_ENTRIES; n++)
		msix_program(x, n, MSG_ADDR(n), MSG_DATA(n), masked);
	cc_wr(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 2, 0);
	for (unsigned q = 0; q < FAKE_QUEUES; q++) {
		cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, q);
		cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2, q + 1);
	}
	x->fake.serve = true;
	bring_up(x);
}

static void msix_takes_the_line(void **state)
{
	struct fixture *x = *state;

	x->fake.serve = true;
	bring_up(x);
	complete_one(x);
	assert_true(x->f->irq[GSI]);
	msix_control(x, MSIX_ENABLE);
	assert_int_equal(cfg_rd(x, x->msix + 2, 2), MSIX_ENABLE | (MSIX_ENTRIES - 1));
	assert_false(x->f->irq[GSI]);
	/* With MSI-X on, nothing uses the line or the ISR (no vector set:
	 * no message either). */
	complete_one(x);
	config_changed(x);
	assert_false(x->f->irq[GSI]);
	assert_int_equal(x->f->msi_calls, 0);
	/* Off again: INTx is back, with what was pending before. */
	msix_control(x, 0);
	assert_true(x->f->irq[GSI]);
	assert_int_equal(isr_rd(x), 1);
	assert_false(x->f->irq[GSI]);
}

static void msix_vectors(void **state)
{
	struct fixture *x = *state;

	/* Entries the table has read back; others are refused as VIRTIO_PCI_NO_VECTOR. */
	for (unsigned n = 0; n < MSIX_ENTRIES; n++) {
		cc_wr(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 2, n);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 2), n);
		cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 1);
		cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2, n);
		assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2), n);
	}
	cc_wr(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 2, MSIX_ENTRIES);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 2), VIRTIO_PCI_NO_VECTOR);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2, MSIX_ENTRIES);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2), VIRTIO_PCI_NO_VECTOR);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2, 1);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2, 0x7ff);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2), VIRTIO_PCI_NO_VECTOR);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2, VIRTIO_PCI_NO_VECTOR);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2), VIRTIO_PCI_NO_VECTOR);
	/* A write for a queue the device does not have lands nowhere. */
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, FAKE_QUEUES);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 0xffff);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2), VIRTIO_PCI_NO_VECTOR);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 1);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2), VIRTIO_PCI_NO_VECTOR);
}

static void msix_delivery(void **state)
{
	struct fixture *x = *state;

	msix_bring_up(x, false);
	complete_one(x);
	assert_int_equal(x->f->msi_calls, 1);
	assert_int_equal(x->f->msi[0].address, MSG_ADDR(1));
	assert_int_equal(x->f->msi[0].data, MSG_DATA(1));
	config_changed(x);
	assert_int_equal(x->f->msi_calls, 2);
	assert_int_equal(x->f->msi[1].address, MSG_ADDR(0));
	assert_int_equal(x->f->msi[1].data, MSG_DATA(0));
	/* No line, no ISR. */
	assert_false(x->f->irq[GSI]);
	assert_int_equal(x->f->irq_calls[GSI], 0);
	assert_int_equal(isr_rd(x), 0);
	assert_int_equal(cfg_rd(x, REG_STATUS, 2) & STATUS_INTERRUPT, 0);

	/* The address above 4 GiB, in the second dword, is carried too. */
	msix_program(x, 1, 0x0000000500001000ull, 0x1234, false);
	complete_one(x);
	assert_int_equal(x->f->msi_calls, 3);
	assert_int_equal(x->f->msi[2].address, 0x0000000500001000ull);
	assert_int_equal(x->f->msi[2].data, 0x1234);

	/* A queue whose vector is VIRTIO_PCI_NO_VECTOR sends nothing. */
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 2, VIRTIO_PCI_NO_VECTOR);
	complete_one(x);
	assert_int_equal(x->f->msi_calls, 3);
	assert_false(x->f->irq[GSI]);
	assert_int_equal(bar_rd(x, x->msix_pba, 8), 0);
}

static void msix_entry_mask(void **state)
{
	struct fixture *x = *state;

	/* The table starts out masked (PCI 3.0 6.8.2.9). */
	for (unsigned n = 0; n < MSIX_ENTRIES; n++)
		assert_int_equal(bar_rd(x, entry_at(x, n, 12), 4), 1);
	msix_bring_up(x, true);

	/* Masked: no message, the pending bit instead. */
	complete_one(x);
	assert_int_equal(x->f->msi_calls, 0);
	assert_int_equal(bar_rd(x, x->msix_pba, 8), 1u << 1);
	assert_int_equal(bar_rd(x, x->msix_pba, 4), 1u << 1);
	assert_int_equal(bar_rd(x, x->msix_pba, 1), 1u << 1);
	/* Twice while masked: still one pending message. */
	complete_one(x);
	config_changed(x);
	assert_int_equal(bar_rd(x, x->msix_pba, 8), (1u << 1) | 1u);
	/* The pending bits are read-only. */
	bar_wr(x, x->msix_pba, 8, 0);
	assert_int_equal(bar_rd(x, x->msix_pba, 8), (1u << 1) | 1u);
	assert_false(x->f->irq[GSI]);

	/* Unmasking entry 1 sends its message once, and clears its bit only. */
	bar_wr(x, entry_at(x, 1, 12), 4, 0);
	assert_int_equal(x->f->msi_calls, 1);
	assert_int_equal(x->f->msi[0].address, MSG_ADDR(1));
	assert_int_equal(x->f->msi[0].data, MSG_DATA(1));
	assert_int_equal(bar_rd(x, x->msix_pba, 8), 1u);
	/* Unmasking it again sends nothing more. */
	bar_wr(x, entry_at(x, 1, 12), 4, 0);
	assert_int_equal(x->f->msi_calls, 1);
	/* Entry 0's message went to wherever the entry says at unmask time. */
	msix_program(x, 0, 0xfee0f000ull, 0x99, true);
	bar_wr(x, entry_at(x, 0, 12), 4, 0);
	assert_int_equal(x->f->msi_calls, 2);
	assert_int_equal(x->f->msi[1].address, 0xfee0f000ull);
	assert_int_equal(x->f->msi[1].data, 0x99);
	assert_int_equal(bar_rd(x, x->msix_pba, 8), 0);
}

static void msix_function_mask(void **state)
{
	struct fixture *x = *state;

	msix_bring_up(x, false);
	msix_control(x, MSIX_ENABLE | MSIX_MASKALL);
	assert_int_equal(cfg_rd(x, x->msix + 2, 2) & (MSIX_ENABLE | MSIX_MASKALL),
			 MSIX_ENABLE | MSIX_MASKALL);
	complete_one(x);
	config_changed(x);
	assert_int_equal(x->f->msi_calls, 0);
	assert_int_equal(bar_rd(x, x->msix_pba, 8), 3);
	/* The entries' own mask bits did not change. */
	assert_int_equal(bar_rd(x, entry_at(x, 1, 12), 4), 0);
	assert_false(x->f->irq[GSI]);

	/* The function mask lifted: both go, in entry order. */
	msix_control(x, MSIX_ENABLE);
	assert_int_equal(x->f->msi_calls, 2);
	assert_int_equal(x->f->msi[0].address, MSG_ADDR(0));
	assert_int_equal(x->f->msi[1].address, MSG_ADDR(1));
	assert_int_equal(bar_rd(x, x->msix_pba, 8), 0);

	/* Function mask lifted while the entry is still masked: it waits. */
	bar_wr(x, entry_at(x, 1, 12), 4, 1);
	msix_control(x, MSIX_ENABLE | MSIX_MASKALL);
	complete_one(x);
	msix_control(x, MSIX_ENABLE);
	assert_int_equal(x->f->msi_calls, 2);
	assert_int_equal(bar_rd(x, x->msix_pba, 8), 2);
	bar_wr(x, entry_at(x, 1, 12), 4, 0);
	assert_int_equal(x->f->msi_calls, 3);

	/* MSI-X turned off with a message pending: it is not sent then, but
	 * when MSI-X is on again. */
	msix_control(x, MSIX_ENABLE | MSIX_MASKALL);
	complete_one(x);
	msix_control(x, 0);
	assert_int_equal(x->f->msi_calls, 3);
	assert_int_equal(bar_rd(x, x->msix_pba, 8), 2);
	msix_control(x, MSIX_ENABLE);
	assert_int_equal(x->f->msi_calls, 4);
	assert_int_equal(x->f->msi[3].address, MSG_ADDR(1));
}

static void msix_table_accesses(void **state)
{
	struct fixture *x = *state;

	/* Dwords, and qwords at the entry's halves. */
	bar_wr(x, entry_at(x, 2, 0), 8, 0x00000001fee02000ull);
	bar_wr(x, entry_at(x, 2, 8), 8, 0x0000000000004455ull);
	assert_int_equal(bar_rd(x, entry_at(x, 2, 0), 4), 0xfee02000);
	assert_int_equal(bar_rd(x, entry_at(x, 2, 4), 4), 1);
	assert_int_equal(bar_rd(x, entry_at(x, 2, 0), 8), 0x00000001fee02000ull);
	assert_int_equal(bar_rd(x, entry_at(x, 2, 8), 8), 0x0000000000004455ull);
	/* The address is dword aligned; the control word has only the mask. */
	bar_wr(x, entry_at(x, 2, 0), 4, 0xfee02003);
	bar_wr(x, entry_at(x, 2, 12), 4, 0xfffffffe);
	assert_int_equal(bar_rd(x, entry_at(x, 2, 0), 4), 0xfee02000);
	assert_int_equal(bar_rd(x, entry_at(x, 2, 12), 4), 0);

	/* Other widths, misaligned, or past the last entry: dropped, read 0. */
	bar_wr(x, entry_at(x, 2, 8), 2, 0xffff);
	bar_wr(x, entry_at(x, 2, 8), 1, 0xff);
	bar_wr(x, entry_at(x, 2, 9), 4, 0xffffffff);
	bar_wr(x, entry_at(x, 2, 4), 8, ~0ull);
	assert_int_equal(bar_rd(x, entry_at(x, 2, 8), 4), 0x4455);
	assert_int_equal(bar_rd(x, entry_at(x, 2, 0), 8), 0x00000001fee02000ull);
	assert_int_equal(bar_rd(x, entry_at(x, 2, 8), 2), 0);
	assert_int_equal(bar_rd(x, entry_at(x, 2, 9), 4), 0);
	assert_int_equal(bar_rd(x, entry_at(x, 2, 4), 8), 0);
	bar_wr(x, entry_at(x, MSIX_ENTRIES, 0), 4, 0xfee00000);
	assert_int_equal(bar_rd(x, entry_at(x, MSIX_ENTRIES, 0), 4), 0);
	assert_int_equal(bar_rd(x, entry_at(x, MSIX_ENTRIES, 12), 4), 0);
	/* Past the pending bits. */
	assert_int_equal(bar_rd(x, x->msix_pba + 8, 4), 0);
}

/* ---- the PCI configuration access capability --------------------------------- */

static void pci_cfg_window_set(struct fixture *x, uint8_t bar, uint32_t offset, uint32_t length)
{
	unsigned at = x->cap[VIRTIO_PCI_CAP_PCI_CFG].at;

	cfg_wr(x, at + 4, 1, bar);
	cfg_wr(x, at + 8, 4, offset);
	cfg_wr(x, at + 12, 4, length);
}

static uint32_t pci_cfg_data_rd(struct fixture *x, unsigned size)
{
	return cfg_rd(x, x->cap[VIRTIO_PCI_CAP_PCI_CFG].at + VIRTIO_PCI_CAP_PCI_CFG_DATA, size);
}

static void pci_cfg_data_wr(struct fixture *x, unsigned size, uint32_t v)
{
	cfg_wr(x, x->cap[VIRTIO_PCI_CAP_PCI_CFG].at + VIRTIO_PCI_CAP_PCI_CFG_DATA, size, v);
}

static void pci_cfg_access(void **state)
{
	struct fixture *x = *state;
	const uint32_t common = x->cap[VIRTIO_PCI_CAP_COMMON_CFG].offset;
	unsigned at = x->cap[VIRTIO_PCI_CAP_PCI_CFG].at;

	/* The window's fields are the driver's. */
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_NUM_QUEUES, 2);
	assert_int_equal(cfg_rd(x, at + 4, 1), 0);
	assert_int_equal(cfg_rd(x, at + 8, 4), common + VIRTIO_PCI_COMMON_NUM_QUEUES);
	assert_int_equal(cfg_rd(x, at + 12, 4), 2);
	assert_int_equal(pci_cfg_data_rd(x, 4), FAKE_QUEUES);
	assert_int_equal(pci_cfg_data_rd(x, 2), FAKE_QUEUES);

	/* Writes reach the common configuration as BAR writes would. */
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_QUEUE_SELECT, 2);
	pci_cfg_data_wr(x, 4, 0xffff0001);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2), 1);
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_DEVICE_STATUS, 1);
	pci_cfg_data_wr(x, 1, S_ACK);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1), S_ACK);
	assert_int_equal(pci_cfg_data_rd(x, 1), S_ACK);
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 4);
	pci_cfg_data_wr(x, 4, 1);
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_DEVICE_FEATURE, 4);
	assert_int_equal(pci_cfg_data_rd(x, 4), (uint32_t)(VERSION_1 >> 32) | (FAKE_FEATURES >> 32));

	/* And they work with the BAR not decoding (that is their point). */
	cfg_wr(x, REG_COMMAND, 2, 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1), 0xff);         /* nobody there */
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_DEVICE_STATUS, 1);
	pci_cfg_data_wr(x, 1, S_ACK | S_DRIVER);
	assert_int_equal(pci_cfg_data_rd(x, 1), S_ACK | S_DRIVER);
	cfg_wr(x, REG_COMMAND, 2, CMD_MEMORY);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1), S_ACK | S_DRIVER);

	/* The device configuration, the same way. */
	x->fake.config[4] = 0x5a;
	pci_cfg_window_set(x, 0, x->cap[VIRTIO_PCI_CAP_DEVICE_CFG].offset + 4, 1);
	assert_int_equal(pci_cfg_data_rd(x, 4), 0x5a);
	pci_cfg_data_wr(x, 1, 0xa5);
	assert_int_equal(x->fake.config[4], 0xa5);
}

static void pci_cfg_access_refused(void **state)
{
	struct fixture *x = *state;
	const uint32_t common = x->cap[VIRTIO_PCI_CAP_COMMON_CFG].offset;
	unsigned at = x->cap[VIRTIO_PCI_CAP_PCI_CFG].at;

	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 1);
	/* Lengths other than 1, 2, 4; offsets not aligned to the length;
	 * a BAR other than 0; past the BAR. */
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_QUEUE_SIZE, 3);
	assert_int_equal(pci_cfg_data_rd(x, 4), 0);
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_QUEUE_SELECT, 3);
	pci_cfg_data_wr(x, 4, 0);
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_QUEUE_SELECT, 0);
	assert_int_equal(pci_cfg_data_rd(x, 4), 0);
	pci_cfg_data_wr(x, 4, 0);
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_QUEUE_SELECT, 8);
	assert_int_equal(pci_cfg_data_rd(x, 4), 0);
	pci_cfg_data_wr(x, 4, 0);
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_NUM_QUEUES - 1, 2);
	assert_int_equal(pci_cfg_data_rd(x, 4), 0);
	x->fake.config[1] = 0x11;
	x->fake.config[2] = 0x22;
	pci_cfg_window_set(x, 0, x->cap[VIRTIO_PCI_CAP_DEVICE_CFG].offset + 1, 2);
	assert_int_equal(pci_cfg_data_rd(x, 4), 0);
	pci_cfg_data_wr(x, 4, 0);
	assert_int_equal(x->fake.config[1], 0x11);
	assert_int_equal(x->fake.config[2], 0x22);
	pci_cfg_window_set(x, 1, common + VIRTIO_PCI_COMMON_NUM_QUEUES, 2);
	assert_int_equal(pci_cfg_data_rd(x, 4), 0);
	pci_cfg_window_set(x, 1, common + VIRTIO_PCI_COMMON_QUEUE_SELECT, 2);
	pci_cfg_data_wr(x, 4, 0);
	pci_cfg_window_set(x, 0, VIRTIO_PCI_BAR_SIZE, 4);
	assert_int_equal(pci_cfg_data_rd(x, 4), 0);
	pci_cfg_window_set(x, 0, 0xfffffffc, 4);
	assert_int_equal(pci_cfg_data_rd(x, 4), 0);
	pci_cfg_data_wr(x, 4, 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2), 1);

	/* Only the whole data field, at its place, is an access: narrower
	 * than the window or offset into the field is not. */
	pci_cfg_window_set(x, 0, common + VIRTIO_PCI_COMMON_QUEUE_SELECT, 2);
	assert_int_equal(pci_cfg_data_rd(x, 1), 0);
	assert_int_equal(cfg_rd(x, at + 17, 1), 0);
	assert_int_equal(cfg_rd(x, at + 18, 2), 0);
	pci_cfg_data_wr(x, 1, 0);
	cfg_wr(x, at + 18, 2, 0);
	cfg_wr(x, at + 17, 1, 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2), 1);
	assert_int_equal(pci_cfg_data_rd(x, 2), 1);
}

/* ---- bad accesses ---------------------------------------------------------- */

static void common_bad_widths(void **state)
{
	struct fixture *x = *state;

	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2, 1);
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 4, 1);
	cc_wr(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 2, 1);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DESC, 8, 0x1000);

	/* Each field takes its own width at its own offset only. */
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 1, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 4, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_SELECT + 1, 1, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 2, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 8, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT + 2, 2, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 4, 0);         /* would also hit num_queues */
	cc_wr(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 1, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 2, S_ACK);          /* would also hit the generation */
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 4, S_ACK);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_SELECT, 2), 1);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, 4), 1);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 2), 1);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1), 0);
	/* The addresses: 32 bits at each half or 64 bits whole. */
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DESC, 2, 0x2000);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DESC, 1, 0x20);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DESC + 2, 4, 0x2000);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DESC + 4, 8, 0x2000);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_DEVICE + 4, 8, 0x2000);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_DESC, 8), 0x1000);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_DEVICE, 8), 0);

	/* Read-only fields. */
	cc_wr(x, VIRTIO_PCI_COMMON_DEVICE_FEATURE, 4, 0);
	cc_wr(x, VIRTIO_PCI_COMMON_NUM_QUEUES, 2, 7);
	cc_wr(x, VIRTIO_PCI_COMMON_QUEUE_NOTIFY_OFF, 2, 7);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), FAKE_QUEUES);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_NOTIFY_OFF, 2), 1);
	/* Past the structure: nothing. */
	cc_wr(x, VIRTIO_PCI_COMMON_SIZE, 4, 0xffffffff);
	cc_wr(x, 0xff8, 8, ~0ull);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_SIZE, 4), 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_SIZE - 4, 8), 0);
	assert_int_equal(cc_rd(x, 0xffc, 4), 0);

	/* Reads of any width give the bytes. */
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_NUM_QUEUES, 1), FAKE_QUEUES);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_NUM_QUEUES + 1, 1), 0);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_MSIX_CONFIG, 8),
			 1ull | (uint64_t)FAKE_QUEUES << 16 | 1ull << 48);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_QUEUE_DESC + 1, 2), 0x10);
}

static void bar_bad_accesses(void **state)
{
	struct fixture *x = *state;

	/* Parts of BAR 0 holding nothing read 0. */
	assert_int_equal(bar_rd(x, 0x6000, 4), 0);
	assert_int_equal(bar_rd(x, VIRTIO_PCI_BAR_SIZE - 8, 8), 0);
	bar_wr(x, 0x6000, 4, 0xffffffff);
	/* Hanging over the BAR's end: not the function's. */
	assert_int_equal(bar_rd(x, VIRTIO_PCI_BAR_SIZE - 2, 4), 0xffffffff);
	bar_wr(x, VIRTIO_PCI_BAR_SIZE - 4, 8, ~0ull);
	/* Nothing changed anywhere. */
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_DEVICE_STATUS, 1), 0);
	assert_int_equal(x->fake.notified[0] + x->fake.notified[1], 0);
	assert_int_equal(x->f->msi_calls, 0);
}

/* The OS may move BAR 0: every structure moves with it. */
static void bar_moves(void **state)
{
	struct fixture *x = *state;
	const uint32_t moved = (uint32_t)PCI_MMIO_START + 0x200000u;

	cfg_wr(x, REG_COMMAND, 2, 0);
	cfg_wr(x, REG_BAR0, 4, moved);
	cfg_wr(x, REG_COMMAND, 2, CMD_MEMORY);
	assert_int_equal(mmio_in(x->f, moved + x->cap[VIRTIO_PCI_CAP_COMMON_CFG].offset +
				 VIRTIO_PCI_COMMON_NUM_QUEUES, 2),
			 FAKE_QUEUES);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), 0xffff);
	mmio_out(x->f, moved + x->cap[VIRTIO_PCI_CAP_COMMON_CFG].offset + VIRTIO_PCI_COMMON_DEVICE_STATUS,
		 1, S_ACK);
	assert_int_equal(x->dev->status, S_ACK);
}

/* ---- construction ----------------------------------------------------------- */

static void create_failures(void **state)
{
	struct fixture *x = *state;
	struct fake_dev other = { 0 };

	log_set_level(LOG_SILENT);
	/* Slot 0 is the host bridge's; 32 and up do not exist. */
	assert_null(virtio_pci_create(&x->f->p, x->host, 0, BAR_ADDR + 0x8000, GSI, fake_setup,
				      &other));
	assert_int_equal(other.destroyed, 1);
	assert_null(virtio_pci_create(&x->f->p, x->host, 32, BAR_ADDR + 0x8000, GSI, fake_setup,
				      &other));
	assert_int_equal(other.destroyed, 2);
	/* The slot is taken. */
	assert_null(virtio_pci_create(&x->f->p, x->host, SLOT, BAR_ADDR + 0x8000, GSI, fake_setup,
				      &other));
	assert_int_equal(other.destroyed, 3);
	/* A BAR address not aligned to its size. */
	assert_null(virtio_pci_create(&x->f->p, x->host, 4, BAR_ADDR + 0x1000, GSI, fake_setup,
				      &other));
	assert_int_equal(other.destroyed, 4);
	/* More device configuration than its page. */
	assert_null(virtio_pci_create(&x->f->p, x->host, 4, BAR_ADDR + 0x8000, GSI,
				      big_config_setup, &other));
	assert_int_equal(other.destroyed, 5);
	/* The device cannot be set up. */
	assert_null(virtio_pci_create(&x->f->p, x->host, 4, BAR_ADDR + 0x8000, GSI, fail_setup,
				      NULL));
	log_set_level(LOG_ERROR);
	/* None of them joined the bus; the first device is unharmed. */
	assert_int_equal(cfg_rd_at(x, 4, REG_VENDOR, 4), 0xffffffff);
	assert_int_equal(mmio_in(x->f, BAR_ADDR + 0x8000, 4), 0xffffffff);
	assert_int_equal(cfg_rd(x, REG_VENDOR, 2), 0x1af4);
	assert_int_equal(x->fake.destroyed, 0);
}

static void second_function(void **state)
{
	struct fixture *x = *state;
	const uint32_t bar = BAR_ADDR + VIRTIO_PCI_BAR_SIZE;

	x->other = virtio_pci_create(&x->f->p, x->host, 4, bar, GSI + 1, net_like_setup,
				     &x->other_fake);
	assert_non_null(x->other);
	/* Its identity by device kind, its own BAR, its own line. */
	assert_int_equal(cfg_rd_at(x, 4, REG_VENDOR, 4), 0x1041u << 16 | 0x1af4);
	assert_int_equal(cfg_rd_at(x, 4, REG_CLASS_REV, 4), 0x02000001);
	assert_int_equal(cfg_rd_at(x, 4, REG_BAR0, 4), bar);
	assert_int_equal(cfg_rd_at(x, 4, REG_INTERRUPT, 1), GSI + 1);
	/* No device configuration: no capability for it. */
	for (unsigned at = cfg_rd_at(x, 4, REG_CAP_PTR, 1); at; at = cfg_rd_at(x, 4, at + 1, 1))
		if (cfg_rd_at(x, 4, at, 1) == CAP_ID_VENDOR)
			assert_int_not_equal(cfg_rd_at(x, 4, at + 3, 1), VIRTIO_PCI_CAP_DEVICE_CFG);
	/* The two BARs answer for their own device. */
	assert_int_equal(mmio_in(x->f, bar + x->cap[VIRTIO_PCI_CAP_COMMON_CFG].offset +
				 VIRTIO_PCI_COMMON_NUM_QUEUES, 2), 1);
	assert_int_equal(cc_rd(x, VIRTIO_PCI_COMMON_NUM_QUEUES, 2), FAKE_QUEUES);
	assert_int_equal(cfg_rd_at(x, 4, x->msix + 2, 2), 1);     /* two entries */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(identity),
		T(capabilities),
		T(features),
		T(queue_registers),
		T(queue_bad_sizes),
		T(notifications),
		T(reset_restores),
		T(config_generation),
		T(device_config),
		T(intx),
		T(intx_disable),
		T(msix_takes_the_line),
		T(msix_vectors),
		T(msix_delivery),
		T(msix_entry_mask),
		T(msix_function_mask),
		T(msix_table_accesses),
		T(pci_cfg_access),
		T(pci_cfg_access_refused),
		T(common_bad_widths),
		T(bar_bad_accesses),
		T(bar_moves),
		T(create_failures),
		T(second_function),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
