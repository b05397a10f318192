/* The virtio-mmio transport and the device core behind it, driven as a
 * guest driver would (and as a hostile one might): a fake device records
 * what the core asks of it; virtio-rng serves real requests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "tests/unit/devices/test_platform.h"
#include "tests/unit/virtio/fake_virtio_dev.h"
#include "tests/unit/virtio/transport_driver.h"
#include "tests/unit/virtio/virtq_test_ring.h"
#include "virtio/virtio_mmio.h"
#include "virtio/virtio_mmio_regs.h"
#include "virtio/virtio_rng.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"

#define BASE 0xFE000000ull
#define GSI  17

#define CONFIG VIRTIO_MMIO_CONFIG

#define F_NEXT     1


struct fixture {
	struct fake_platform *f;
	struct guest_mem mem;
	struct virtio_mmio *m;
	struct virtio_dev *dev;
	struct fake_dev fake;
	struct test_ring ring;       /* queue 0, as the tests set it up */
};

/* ---- fake devices beyond fake_virtio_dev.h ------------------------------ */

static const struct virtio_dev_ops big_config_ops = {
	.name = "big",
	.device_id = 42,
	.num_queues = 1,
	.queue_max_size = 8,
	.config_size = VIRTIO_MMIO_CONFIG_MAX + 1,
	.config_read = fake_config_read,
	.queue_notify = fake_queue_notify,
	.destroy = fake_destroy,
};

static int big_config_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg)
{
	return virtio_dev_init(dev, &big_config_ops, mem, (void *)arg);
}

/* ---- the driver's side ---------------------------------------------------- */

static uint64_t rd_sized(struct fixture *x, unsigned reg, unsigned size)
{
	return mmio_in(x->f, BASE + reg, size);
}

static void wr_sized(struct fixture *x, unsigned reg, unsigned size, uint64_t v)
{
	mmio_out(x->f, BASE + reg, size, v);
}

static uint32_t rd(struct fixture *x, unsigned reg)
{
	return (uint32_t)rd_sized(x, reg, 4);
}

static void wr(struct fixture *x, unsigned reg, uint32_t v)
{
	wr_sized(x, reg, 4, v);
}

#define REG(r) { VIRTIO_MMIO_REG_##r, 4 }

static const struct transport mmio = {
	.rd = rd_sized,
	.wr = wr_sized,
	.status = REG(STATUS),
	.device_features_sel = REG(DEVICE_FEATURES_SEL),
	.device_features = REG(DEVICE_FEATURES),
	.driver_features_sel = REG(DRIVER_FEATURES_SEL),
	.driver_features = REG(DRIVER_FEATURES),
	.queue_sel = REG(QUEUE_SEL),
	.queue_size = REG(QUEUE_NUM),
	.queue_desc = REG(QUEUE_DESC_LOW),
	.queue_driver = REG(QUEUE_DRIVER_LOW),
	.queue_device = REG(QUEUE_DEVICE_LOW),
	.queue_enable = REG(QUEUE_READY),
};

static int setup_with(void **state, virtio_dev_setup_fn fn)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = transport_guest_new(&x->mem, &x->ring);
	x->m = virtio_mmio_create(&x->f->p, BASE, GSI, fn, &x->fake);
	assert_non_null(x->m);
	x->dev = virtio_mmio_dev(x->m);
	*state = x;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, fake_setup);
}

static int setup_rng(void **state)
{
	return setup_with(state, virtio_rng_setup);
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	virtio_mmio_destroy(x->m);
	transport_guest_free(x->f, &x->mem);
	free(x);
	return 0;
}

static uint32_t negotiate(struct fixture *x, uint64_t features)
{
	return transport_negotiate(&mmio, x, features);
}

static void queue_setup(struct fixture *x, unsigned q, uint32_t size, uint64_t desc,
			uint64_t avail, uint64_t used)
{
	transport_queue_setup(&mmio, x, q, size, desc, avail, used);
}

static uint32_t used_len(struct fixture *x, uint16_t n)
{
	uint32_t v;

	memcpy(&v, guest_ptr(&x->mem, USED_GPA + 4 + 8ull * n + 4, 4), 4);
	return v;
}

static void bring_up(struct fixture *x, uint64_t features)
{
	transport_bring_up(&mmio, x, features);
}

static uint32_t device_feature_word(struct fixture *x, uint32_t n)
{
	return transport_feature_word(&mmio, x, mmio.device_features_sel, mmio.device_features, n);
}

/* ---- tests ---------------------------------------------------------------- */

static void ids(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(rd(x, VIRTIO_MMIO_REG_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_VERSION), 2);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_DEVICE_ID), 42);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_VENDOR_ID), VIRTIO_MMIO_VENDOR_ID);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_CONFIG_GENERATION), 0);
	/* Write-only and reserved registers read 0. */
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY), 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_ACK), 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_DRIVER_FEATURES), 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_DESC_LOW), 0);
	assert_int_equal(rd(x, 0x028), 0);     /* legacy GuestPageSize */
	assert_int_equal(rd(x, 0x040), 0);     /* legacy QueuePFN */
	assert_int_equal(rd(x, 0x0f8), 0);
	/* Read-only registers ignore writes. */
	wr(x, VIRTIO_MMIO_REG_MAGIC_VALUE, 0);
	wr(x, VIRTIO_MMIO_REG_DEVICE_ID, 7);
	wr(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS, 3);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_DEVICE_ID), 42);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), 0);
}

static void features_offered(void **state)
{
	struct fixture *x = *state;
	uint64_t f;

	f = device_feature_word(x, 0);
	f |= (uint64_t)device_feature_word(x, 1) << 32;
	assert_int_equal(f, FAKE_FEATURES | VERSION_1 | (1ull << VIRTIO_F_EVENT_IDX) |
			    (1ull << VIRTIO_F_INDIRECT_DESC));
	assert_int_equal(device_feature_word(x, 2), 0);
	assert_int_equal(device_feature_word(x, 0xffffffff), 0);
}

static void features_ok_needs_version_1(void **state)
{
	struct fixture *x = *state;

	/* Without VERSION_1 (a legacy driver): refused, the bit stays clear. */
	assert_int_equal(negotiate(x, 1ull << 5), S_ACK | S_DRIVER);
	/* A feature that was not offered: refused. */
	assert_int_equal(negotiate(x, VERSION_1 | (1ull << 6)), S_ACK | S_DRIVER);
	assert_int_equal(negotiate(x, VERSION_1 | (1ull << 50)), S_ACK | S_DRIVER);
	/* DRIVER_OK without FEATURES_OK: ignored, no activation. */
	wr(x, VIRTIO_MMIO_REG_STATUS, S_ACK | S_DRIVER | S_DRIVER_OK);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), S_ACK | S_DRIVER);
	assert_int_equal(x->fake.activations, 0);
	/* The right set is taken. */
	assert_int_equal(negotiate(x, VERSION_1 | (1ull << 35) | (1ull << VIRTIO_F_EVENT_IDX)),
			 S_ACK | S_DRIVER | S_FEATURES_OK);
	assert_int_equal(x->dev->features_acked,
			 VERSION_1 | (1ull << 35) | (1ull << VIRTIO_F_EVENT_IDX));
	/* Feature writes after FEATURES_OK change nothing. */
	wr(x, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 0);
	wr(x, VIRTIO_MMIO_REG_DRIVER_FEATURES, 0xffffffff);
	assert_int_equal(x->dev->features_acked,
			 VERSION_1 | (1ull << 35) | (1ull << VIRTIO_F_EVENT_IDX));
}

static void features_ok_needs_driver(void **state)
{
	struct fixture *x = *state;

	wr(x, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 1);
	wr(x, VIRTIO_MMIO_REG_DRIVER_FEATURES, 1);
	wr(x, VIRTIO_MMIO_REG_STATUS, S_ACK | S_FEATURES_OK);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), S_ACK);
	/* Words past the second are no features. */
	wr(x, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 2);
	wr(x, VIRTIO_MMIO_REG_DRIVER_FEATURES, 0xffffffff);
	assert_int_equal(x->dev->features_acked, VERSION_1);
}

static void status_bits_only_grow(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(negotiate(x, VERSION_1), S_ACK | S_DRIVER | S_FEATURES_OK);
	/* Clearing bits other than by a reset is ignored. */
	wr(x, VIRTIO_MMIO_REG_STATUS, S_ACK);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
	/* The driver cannot set DEVICE_NEEDS_RESET; unknown bits are dropped. */
	wr(x, VIRTIO_MMIO_REG_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_NEEDS_RESET | 0x30);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
	wr(x, VIRTIO_MMIO_REG_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	assert_int_equal(x->fake.activations, 1);
	/* Writing the same status again activates nothing twice. */
	wr(x, VIRTIO_MMIO_REG_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	assert_int_equal(x->fake.activations, 1);
}

static void queue_registers(void **state)
{
	struct fixture *x = *state;
	struct virtq *vq = &x->dev->vq[1];

	assert_int_equal(negotiate(x, VERSION_1 | (1ull << VIRTIO_F_EVENT_IDX)),
			 S_ACK | S_DRIVER | S_FEATURES_OK);
	wr(x, VIRTIO_MMIO_REG_QUEUE_SEL, 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_NUM_MAX), FAKE_MAX_SIZE);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_READY), 0);
	wr(x, VIRTIO_MMIO_REG_QUEUE_SEL, 2);                  /* the device has two queues */
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_NUM_MAX), 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_READY), 0);
	wr(x, VIRTIO_MMIO_REG_QUEUE_READY, 1);                /* ignored */
	wr(x, VIRTIO_MMIO_REG_QUEUE_SEL, 0xffffffff);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_NUM_MAX), 0);

	queue_setup(x, 1, 4, 0x123456000ull, AVAIL_GPA, USED_GPA);
	/* 0x123456000 is past the 16 MiB of RAM: refused. */
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_READY), 0);
	assert_true(rd(x, VIRTIO_MMIO_REG_STATUS) & S_NEEDS_RESET);
	wr(x, VIRTIO_MMIO_REG_STATUS, 0);
	assert_int_equal(negotiate(x, VERSION_1 | (1ull << VIRTIO_F_EVENT_IDX)),
			 S_ACK | S_DRIVER | S_FEATURES_OK);

	queue_setup(x, 1, 4, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_READY), 1);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
	assert_true(vq->ready);
	expect_shared_rings(vq, 4);
	assert_true(vq->event_idx);           /* negotiated */
	assert_false(vq->indirect);           /* offered, not taken */
	/* While ready, the ring's layout cannot change. */
	wr(x, VIRTIO_MMIO_REG_QUEUE_NUM, 8);
	wr(x, VIRTIO_MMIO_REG_QUEUE_DESC_LOW, 0x5000);
	wr(x, VIRTIO_MMIO_REG_QUEUE_DESC_HIGH, 1);
	wr(x, VIRTIO_MMIO_REG_QUEUE_DRIVER_LOW, 0x6000);
	wr(x, VIRTIO_MMIO_REG_QUEUE_DEVICE_HIGH, 2);
	expect_shared_rings(vq, 4);
	/* Writing 0 disables it; then it can be set up again. */
	wr(x, VIRTIO_MMIO_REG_QUEUE_READY, 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_READY), 0);
	assert_false(vq->ready);
	wr(x, VIRTIO_MMIO_REG_QUEUE_NUM, 8);
	assert_int_equal(vq->size, 8);
	/* The other queue was never touched. */
	assert_false(x->dev->vq[0].ready);
}

static void queue_bad_sizes(void **state)
{
	struct fixture *x = *state;
	static const uint32_t bad[] = { 0, 3, 12, FAKE_MAX_SIZE * 2, 0x10008, 0x80000000 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wr(x, VIRTIO_MMIO_REG_STATUS, 0);
		assert_int_equal(negotiate(x, VERSION_1), S_ACK | S_DRIVER | S_FEATURES_OK);
		queue_setup(x, 0, bad[i], DESC_GPA, AVAIL_GPA, USED_GPA);
		assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_READY), 0);
		assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK | S_NEEDS_RESET);
		/* Not before DRIVER_OK: no configuration interrupt yet. */
		assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), 0);
	}
	/* Set up broken, DRIVER_OK brings the configuration interrupt, and
	 * the device stays inactive. */
	wr(x, VIRTIO_MMIO_REG_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_true(x->f->irq[GSI]);
	assert_int_equal(x->fake.activations, 0);
	/* A reset makes it usable again. */
	wr(x, VIRTIO_MMIO_REG_STATUS, 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), 0);
	assert_false(x->f->irq[GSI]);
	bring_up(x, VERSION_1);
	assert_int_equal(x->fake.activations, 1);
}

/* The core checks the size itself, whatever a transport let through. */
static void core_checks_queue_size(void **state)
{
	struct fixture *x = *state;
	static const uint16_t bad[] = { 0, 12, FAKE_MAX_SIZE * 2 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct virtq *vq = &x->dev->vq[0];

		wr(x, VIRTIO_MMIO_REG_STATUS, 0);
		assert_int_equal(negotiate(x, VERSION_1), S_ACK | S_DRIVER | S_FEATURES_OK);
		pthread_mutex_lock(&x->dev->lock);
		vq->size = bad[i];
		vq->desc_gpa = DESC_GPA;
		vq->avail_gpa = AVAIL_GPA;
		vq->used_gpa = USED_GPA;
		virtio_dev_queue_enable(x->dev, 0);
		pthread_mutex_unlock(&x->dev->lock);
		assert_false(vq->ready);
		assert_true(rd(x, VIRTIO_MMIO_REG_STATUS) & S_NEEDS_RESET);
	}
	/* Queues the device does not have: nothing happens. */
	pthread_mutex_lock(&x->dev->lock);
	virtio_dev_queue_enable(x->dev, 2);
	virtio_dev_queue_enable(x->dev, ~0u);
	virtio_dev_queue_notify(x->dev, VIRTIO_DEV_MAX_QUEUES);
	virtio_dev_queue_interrupt(x->dev, 5);
	pthread_mutex_unlock(&x->dev->lock);
}

static void queue_misaligned(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(negotiate(x, VERSION_1), S_ACK | S_DRIVER | S_FEATURES_OK);
	queue_setup(x, 0, 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA);   /* needs 16 */
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_READY), 0);
	assert_true(rd(x, VIRTIO_MMIO_REG_STATUS) & S_NEEDS_RESET);
	wr(x, VIRTIO_MMIO_REG_STATUS, 0);
	assert_int_equal(negotiate(x, VERSION_1), S_ACK | S_DRIVER | S_FEATURES_OK);
	queue_setup(x, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2);   /* needs 4 */
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_READY), 0);
	assert_true(rd(x, VIRTIO_MMIO_REG_STATUS) & S_NEEDS_RESET);
	wr(x, VIRTIO_MMIO_REG_STATUS, 0);
	assert_int_equal(negotiate(x, VERSION_1), S_ACK | S_DRIVER | S_FEATURES_OK);
	/* The used ring running off the end of RAM. */
	queue_setup(x, 0, 16, DESC_GPA, AVAIL_GPA, RAM - 8);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_READY), 0);
	assert_true(rd(x, VIRTIO_MMIO_REG_STATUS) & S_NEEDS_RESET);
}

static void notify(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(negotiate(x, VERSION_1), S_ACK | S_DRIVER | S_FEATURES_OK);
	queue_setup(x, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	/* Before DRIVER_OK the device does not look at its queues. */
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(x->fake.notified[0], 0);
	/* DRIVER_OK: activated, and each ready queue looked at once. */
	wr(x, VIRTIO_MMIO_REG_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	assert_int_equal(x->fake.activations, 1);
	assert_int_equal(x->fake.notified[0], 1);
	assert_int_equal(x->fake.notified[1], 0);
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(x->fake.notified[0], 2);
	/* Queue 1 is not ready; 2 and up do not exist. */
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 1);
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 2);
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0xffffffff);
	assert_int_equal(x->fake.notified[0], 2);
	assert_int_equal(x->fake.notified[1], 0);
	/* A device that needs a reset is not notified. */
	pthread_mutex_lock(&x->dev->lock);
	virtio_dev_needs_reset(x->dev);
	pthread_mutex_unlock(&x->dev->lock);
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(x->fake.notified[0], 2);
}

static void interrupts(void **state)
{
	struct fixture *x = *state;
	unsigned calls;

	x->fake.serve = true;
	bring_up(x, VERSION_1);
	assert_false(x->f->irq[GSI]);
	test_ring_post_at(&x->ring, 0, (struct test_buf){ BUF_GPA, 64, true });
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(test_ring_used_idx(&x->ring), 1);
	/* Used buffer: bit 0, line high until acknowledged. */
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_true(x->f->irq[GSI]);
	calls = x->f->irq_calls[GSI];
	/* A second used buffer while pending: the level stays, no new call. */
	test_ring_post_at(&x->ring, 1, (struct test_buf){ BUF_GPA, 64, true });
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(test_ring_used_idx(&x->ring), 2);
	assert_int_equal(x->f->irq_calls[GSI], calls);
	/* Acknowledging another bit changes nothing. */
	wr(x, VIRTIO_MMIO_REG_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG | 0xfffffffc);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_true(x->f->irq[GSI]);
	wr(x, VIRTIO_MMIO_REG_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), 0);
	assert_false(x->f->irq[GSI]);

	/* A configuration change: bit 1, a new generation. */
	pthread_mutex_lock(&x->dev->lock);
	virtio_dev_config_changed(x->dev);
	pthread_mutex_unlock(&x->dev->lock);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_CONFIG_GENERATION), 1);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_true(x->f->irq[GSI]);
	/* Both pending; each acknowledged on its own. */
	test_ring_post_at(&x->ring, 2, (struct test_buf){ BUF_GPA, 64, true });
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	wr(x, VIRTIO_MMIO_REG_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	assert_true(x->f->irq[GSI]);
	wr(x, VIRTIO_MMIO_REG_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_false(x->f->irq[GSI]);

	/* DEVICE_NEEDS_RESET after DRIVER_OK: a configuration interrupt. */
	pthread_mutex_lock(&x->dev->lock);
	virtio_dev_needs_reset(x->dev);
	pthread_mutex_unlock(&x->dev->lock);
	assert_true(rd(x, VIRTIO_MMIO_REG_STATUS) & S_NEEDS_RESET);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_true(x->f->irq[GSI]);
}

/* The driver's NO_INTERRUPT flag and the event index are honoured. */
static void interrupt_suppression(void **state)
{
	struct fixture *x = *state;
	uint16_t no_interrupt = 1;

	x->fake.serve = true;
	bring_up(x, VERSION_1);
	memcpy(guest_ptr(&x->mem, AVAIL_GPA, 2), &no_interrupt, 2);
	test_ring_post_at(&x->ring, 0, (struct test_buf){ BUF_GPA, 64, true });
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(test_ring_used_idx(&x->ring), 1);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), 0);
	assert_false(x->f->irq[GSI]);
}

static void reset(void **state)
{
	struct fixture *x = *state;

	x->fake.serve = true;
	bring_up(x, VERSION_1 | (1ull << VIRTIO_F_EVENT_IDX));
	test_ring_post_at(&x->ring, 0, (struct test_buf){ BUF_GPA, 64, true });
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	wr(x, VIRTIO_MMIO_REG_QUEUE_SEL, 1);
	wr(x, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 1);
	wr(x, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 1);
	assert_true(x->f->irq[GSI]);

	wr(x, VIRTIO_MMIO_REG_STATUS, 0);
	assert_int_equal(x->fake.resets, 1);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), 0);
	assert_false(x->f->irq[GSI]);
	assert_int_equal(x->dev->features_acked, 0);
	for (unsigned q = 0; q < 2; q++) {
		struct virtq *vq = &x->dev->vq[q];

		assert_false(vq->ready);
		assert_false(vq->event_idx);
		assert_int_equal(vq->size, 0);
		assert_int_equal(vq->desc_gpa, 0);
		assert_int_equal(vq->last_avail, 0);
		assert_int_equal(vq->used_idx, 0);
	}
	/* The selectors are back to 0 too. */
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_READY), 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_NUM_MAX), FAKE_MAX_SIZE);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_DEVICE_FEATURES) & (1u << 5), 1u << 5);
	/* And the device comes up again from scratch. */
	memset(guest_ptr(&x->mem, DESC_GPA, 0x3000), 0, 0x3000);
	x->ring.avail_idx = 0;
	bring_up(x, VERSION_1);
	test_ring_post_at(&x->ring, 0, (struct test_buf){ BUF_GPA, 64, true });
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(test_ring_used_idx(&x->ring), 1);
}

static void bad_accesses(void **state)
{
	struct fixture *x = *state;

	/* Registers: 32-bit aligned only. */
	assert_int_equal(mmio_in(x->f, BASE + VIRTIO_MMIO_REG_MAGIC_VALUE, 1), 0);
	assert_int_equal(mmio_in(x->f, BASE + VIRTIO_MMIO_REG_MAGIC_VALUE, 2), 0);
	assert_int_equal(mmio_in(x->f, BASE + VIRTIO_MMIO_REG_MAGIC_VALUE, 8), 0);
	assert_int_equal(mmio_in(x->f, BASE + VIRTIO_MMIO_REG_MAGIC_VALUE + 1, 4), 0);
	assert_int_equal(mmio_in(x->f, BASE + VIRTIO_MMIO_REG_VERSION + 2, 4), 0);
	mmio_out(x->f, BASE + VIRTIO_MMIO_REG_STATUS, 1, S_ACK);
	mmio_out(x->f, BASE + VIRTIO_MMIO_REG_STATUS, 8, S_ACK);
	mmio_out(x->f, BASE + VIRTIO_MMIO_REG_STATUS + 1, 4, S_ACK);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), 0);
	/* An 8-byte write over QueueDescLow/High is not two writes. */
	wr(x, VIRTIO_MMIO_REG_QUEUE_SEL, 0);
	mmio_out(x->f, BASE + VIRTIO_MMIO_REG_QUEUE_DESC_LOW, 8, 0x0000000100002000ull);
	assert_int_equal(x->dev->vq[0].desc_gpa, 0);
	/* A write to QueueNotify of odd size reaches no device. */
	mmio_out(x->f, BASE + VIRTIO_MMIO_REG_QUEUE_NOTIFY, 2, 0);
	/* Sizes the bus would never produce. */
	assert_int_equal(mmio_in(x->f, BASE + VIRTIO_MMIO_REG_MAGIC_VALUE, 3), 0);
	mmio_out(x->f, BASE + CONFIG, 3, 0xffffff);
	assert_int_equal(x->fake.config[0], 0);
	/* An access straddling the end of the window. */
	assert_int_equal(mmio_in(x->f, BASE + 0x1fc, 8), 0);
	mmio_out(x->f, BASE + 0x1fc, 8, ~0ull);
	/* Past the window: nobody is there (all ones, dropped). */
	assert_int_equal(mmio_in(x->f, BASE + VIRTIO_MMIO_SIZE, 4), 0xffffffff);
	assert_int_equal(x->fake.notified[0] + x->fake.notified[1], 0);
}

static void config_space(void **state)
{
	struct fixture *x = *state;

	for (unsigned i = 0; i < FAKE_CONFIG; i++)
		x->fake.config[i] = (uint8_t)(0x10 + i);
	assert_int_equal(mmio_in(x->f, BASE + CONFIG, 1), 0x10);
	assert_int_equal(mmio_in(x->f, BASE + CONFIG + 3, 1), 0x13);
	assert_int_equal(mmio_in(x->f, BASE + CONFIG + 1, 2), 0x1211);
	assert_int_equal(mmio_in(x->f, BASE + CONFIG + 4, 4), 0x17161514);
	assert_int_equal(mmio_in(x->f, BASE + CONFIG + 4, 8), 0x1b1a191817161514ull);
	/* Unaligned but inside: fine for config space. */
	assert_int_equal(mmio_in(x->f, BASE + CONFIG + 5, 4), 0x18171615);
	/* Past config_size, or hanging over it: 0, and writes dropped. */
	assert_int_equal(mmio_in(x->f, BASE + CONFIG + FAKE_CONFIG, 1), 0);
	assert_int_equal(mmio_in(x->f, BASE + CONFIG + 8, 8), 0);
	assert_int_equal(mmio_in(x->f, BASE + CONFIG + 0xf0, 4), 0);
	mmio_out(x->f, BASE + CONFIG + 8, 8, ~0ull);
	assert_int_equal(x->fake.config[8], 0x18);
	mmio_out(x->f, BASE + CONFIG + 2, 2, 0xbeef);
	assert_int_equal(x->fake.config[2], 0xef);
	assert_int_equal(x->fake.config[3], 0xbe);
	mmio_out(x->f, BASE + CONFIG + 4, 8, 0x0807060504030201ull);
	assert_int_equal(mmio_in(x->f, BASE + CONFIG + 4, 8), 0x0807060504030201ull);
}

static void create_failures(void **state)
{
	struct fixture *x = *state;
	struct fake_dev other = { 0 };

	(void)state;
	log_set_level(LOG_SILENT);
	/* The window is taken. */
	assert_null(virtio_mmio_create(&x->f->p, BASE + 0x100, GSI + 1, fake_setup, &other));
	assert_int_equal(other.destroyed, 1);
	/* The device cannot be set up. */
	assert_null(virtio_mmio_create(&x->f->p, BASE + 0x1000, GSI + 1, fail_setup, NULL));
	/* Too much configuration for the window. */
	other.destroyed = 0;
	assert_null(virtio_mmio_create(&x->f->p, BASE + 0x1000, GSI + 1, big_config_setup, &other));
	assert_int_equal(other.destroyed, 1);
	/* None of them claimed anything. */
	assert_true(bus_range_free(&x->f->mmio, BASE + 0x1000, 0x1000));
	log_set_level(LOG_ERROR);
}

/* ---- virtio-rng through the transport -------------------------------------- */

static bool all_equal(const uint8_t *p, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (p[i] != p[0])
			return false;
	return true;
}

static void rng_fills_buffers(void **state)
{
	struct fixture *x = *state;
	uint8_t *buf = guest_ptr(&x->mem, BUF_GPA, 256);

	assert_int_equal(rd(x, VIRTIO_MMIO_REG_DEVICE_ID), VIRTIO_ID_RNG);
	wr(x, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_DEVICE_FEATURES) & ~((1u << VIRTIO_F_EVENT_IDX) |
					     (1u << VIRTIO_F_INDIRECT_DESC)), 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_QUEUE_NUM_MAX), VIRTIO_RNG_QUEUE_SIZE);
	bring_up(x, VERSION_1);
	memset(buf, 0, 256);
	test_ring_post_at(&x->ring, 0, (struct test_buf){ BUF_GPA, 64, true });
	test_ring_post_at(&x->ring, 1, (struct test_buf){ BUF_GPA + 128, 64, true });
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(test_ring_used_idx(&x->ring), 2);
	assert_int_equal(used_len(x, 0), 64);
	assert_int_equal(used_len(x, 1), 64);
	assert_false(all_equal(buf, 64));
	assert_false(all_equal(buf + 128, 64));
	assert_memory_not_equal(buf, buf + 128, 64);
	/* Bytes between the buffers are untouched. */
	assert_true(all_equal(buf + 64, 64) && buf[64] == 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_true(x->f->irq[GSI]);
	wr(x, VIRTIO_MMIO_REG_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_false(x->f->irq[GSI]);
}

static void rng_caps_a_request(void **state)
{
	struct fixture *x = *state;
	uint32_t big = VIRTIO_RNG_MAX_REQUEST * 2;
	uint8_t *buf = guest_ptr(&x->mem, BUF_GPA, big);

	bring_up(x, VERSION_1);
	memset(buf, 0, big);
	test_ring_post_at(&x->ring, 0, (struct test_buf){ BUF_GPA, big, true });
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(test_ring_used_idx(&x->ring), 1);
	assert_int_equal(used_len(x, 0), VIRTIO_RNG_MAX_REQUEST);
	assert_true(all_equal(buf + VIRTIO_RNG_MAX_REQUEST, VIRTIO_RNG_MAX_REQUEST));
	assert_int_equal(buf[VIRTIO_RNG_MAX_REQUEST], 0);
}

/* A request the device is to read from is malformed for an entropy device. */
static void rng_readable_chain_needs_reset(void **state)
{
	struct fixture *x = *state;

	bring_up(x, VERSION_1);
	test_ring_post_at(&x->ring, 0, (struct test_buf){ BUF_GPA, 64, false });
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(test_ring_used_idx(&x->ring), 0);
	assert_true(rd(x, VIRTIO_MMIO_REG_STATUS) & S_NEEDS_RESET);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_true(x->f->irq[GSI]);
	/* Later notifications are ignored until the reset. */
	test_ring_post_at(&x->ring, 1, (struct test_buf){ BUF_GPA, 64, true });
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(test_ring_used_idx(&x->ring), 0);
	wr(x, VIRTIO_MMIO_REG_STATUS, 0);
	assert_int_equal(rd(x, VIRTIO_MMIO_REG_STATUS), 0);
	assert_false(x->f->irq[GSI]);
}

/* A chain pointing outside RAM: the ring code refuses it, the device
 * needs a reset, nothing is written. */
static void rng_bad_buffer_needs_reset(void **state)
{
	struct fixture *x = *state;

	bring_up(x, VERSION_1);
	test_ring_post_at(&x->ring, 0, (struct test_buf){ RAM - 16, 64, true });
	wr(x, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	assert_int_equal(test_ring_used_idx(&x->ring), 0);
	assert_true(rd(x, VIRTIO_MMIO_REG_STATUS) & S_NEEDS_RESET);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define R(f) cmocka_unit_test_setup_teardown(f, setup_rng, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(ids),
		T(features_offered),
		T(features_ok_needs_version_1),
		T(features_ok_needs_driver),
		T(status_bits_only_grow),
		T(queue_registers),
		T(queue_bad_sizes),
		T(core_checks_queue_size),
		T(queue_misaligned),
		T(notify),
		T(interrupts),
		T(interrupt_suppression),
		T(reset),
		T(bad_accesses),
		T(config_space),
		T(create_failures),
		R(rng_fills_buffers),
		R(rng_caps_a_request),
		R(rng_readable_chain_needs_reset),
		R(rng_bad_buffer_needs_reset),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
