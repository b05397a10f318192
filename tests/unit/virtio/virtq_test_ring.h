/* The driver's side of a split virtqueue (virtio 1.x 2.7), kept by hand in
 * a unit test's guest RAM: the device tests negotiate features, hand the
 * device their rings, lay chains out, make them available and read the
 * used ring back. Every guest address is checked to
 * be RAM, so a test that gets its own layout wrong fails where it does. */
#ifndef WISP_TESTS_UNIT_VIRTIO_VIRTQ_TEST_RING_H
#define WISP_TESTS_UNIT_VIRTIO_VIRTQ_TEST_RING_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <setjmp.h>
#include <cmocka.h>

#include "virtio/virtio_dev.h"
#include "vmm/guest_mem.h"

#define TEST_DESC_F_NEXT  1
#define TEST_DESC_F_WRITE 2

/* One queue: where its three rings are, its size, and what the driver has
 * made available so far. */
struct test_ring {
	struct guest_mem *mem;
	uint64_t desc, avail, used;
	uint16_t size;
	uint16_t avail_idx;      /* chains made available */
	uint16_t next_desc;      /* where the next chain starts */
};

/* One buffer of a chain. */
struct test_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;              /* device-writable */
};

static inline void *guest_ptr(struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	assert_non_null(p);
	return p;
}

/* Hands out guest buffers from *next on, 64-byte aligned, below ram_size. */
static inline uint64_t guest_alloc(uint64_t *next, uint64_t ram_size, uint64_t len)
{
	uint64_t gpa = *next;

	*next = (*next + len + 63) & ~63ull;
	assert_true(*next < ram_size);
	return gpa;
}

/* A queue of size entries at the given rings, nothing made available yet;
 * the rings are zeroed for clear_entries entries (at least size: a later
 * set-up may use a larger queue at the same place). */
static inline void test_ring_init(struct test_ring *r, struct guest_mem *mem, uint64_t desc,
				  uint64_t avail, uint64_t used, uint16_t size, unsigned clear_entries)
{
	*r = (struct test_ring){ .mem = mem, .desc = desc, .avail = avail, .used = used, .size = size };
	memset(guest_ptr(mem, desc, 16 * clear_entries), 0, 16 * clear_entries);
	memset(guest_ptr(mem, avail, 6 + 2 * clear_entries), 0, 6 + 2 * clear_entries);
	memset(guest_ptr(mem, used, 6 + 8 * clear_entries), 0, 6 + 8 * clear_entries);
}

/* Lays the buffers out as one chain and makes it available (not
 * notified); returns its head. The index is published with release
 * order, as a driver on another CPU would. */
static inline uint16_t test_ring_post(struct test_ring *r, const struct test_buf *b, unsigned n)
{
	uint16_t head = r->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((head + i) % r->size);
		uint8_t *p = guest_ptr(r->mem, r->desc + 16 * d, 16);
		uint16_t flags = (b[i].write ? TEST_DESC_F_WRITE : 0) | (i + 1 < n ? TEST_DESC_F_NEXT : 0);
		uint16_t next = (uint16_t)((d + 1) % r->size);

		memcpy(p, &b[i].gpa, 8);
		memcpy(p + 8, &b[i].len, 4);
		memcpy(p + 12, &flags, 2);
		memcpy(p + 14, &next, 2);
	}
	r->next_desc = (uint16_t)((head + n) % r->size);
	memcpy(guest_ptr(r->mem, r->avail + 4 + 2 * (r->avail_idx % r->size), 2), &head, 2);
	r->avail_idx++;
	__atomic_store_n((uint16_t *)guest_ptr(r->mem, r->avail + 2, 2), r->avail_idx,
			 __ATOMIC_RELEASE);
	return head;
}

/* A one-buffer chain at descriptor slot, for tests that pick the slot. */
static inline void test_ring_post_at(struct test_ring *r, uint16_t slot, struct test_buf b)
{
	r->next_desc = slot;
	test_ring_post(r, &b, 1);
}

static inline uint16_t test_ring_used_idx(struct test_ring *r)
{
	return __atomic_load_n((uint16_t *)guest_ptr(r->mem, r->used + 2, 2), __ATOMIC_ACQUIRE);
}

/* Used element i (taken modulo the size): the chain's head and length. */
static inline void test_ring_used_elem(struct test_ring *r, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint8_t *e = guest_ptr(r->mem, r->used + 4 + 8 * (i % r->size), 8);

	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
}

/* Every feature the device offers, both words. */
static inline uint64_t test_features_offered(struct virtio_dev *dev)
{
	return ((uint64_t)virtio_dev_features_offered(dev, 1) << 32) |
	       virtio_dev_features_offered(dev, 0);
}

/* Feature negotiation on a device just reset (3.1.1, up to FEATURES_OK):
 * every feature offered but drop and EVENT_IDX, so that every used buffer
 * may interrupt. Called with dev->lock held. */
static inline void test_negotiate(struct virtio_dev *dev, uint64_t drop)
{
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	uint64_t f;

	virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_dev_set_status(dev, st);
	f = test_features_offered(dev) & ~drop & ~(1ull << VIRTIO_F_EVENT_IDX);
	virtio_dev_ack_features(dev, 0, (uint32_t)f);
	virtio_dev_ack_features(dev, 1, (uint32_t)(f >> 32));
	virtio_dev_set_status(dev, st | VIRTIO_STATUS_FEATURES_OK);
	assert_true(dev->status & VIRTIO_STATUS_FEATURES_OK);
}

/* Gives the device queue q at the ring's place and size, and enables it.
 * Called with dev->lock held. */
static inline void test_ring_attach(struct virtio_dev *dev, unsigned q, const struct test_ring *r)
{
	dev->vq[q].size = r->size;
	dev->vq[q].desc_gpa = r->desc;
	dev->vq[q].avail_gpa = r->avail;
	dev->vq[q].used_gpa = r->used;
	virtio_dev_queue_enable(dev, q);
	assert_true(dev->vq[q].ready);
}

/* The rest of a driver's set-up on a device just reset: negotiation as
 * test_negotiate, queues 0 to n - 1 at rings[0] to rings[n - 1], and
 * DRIVER_OK, which the device takes. Called with dev->lock held. */
static inline void test_driver_ok(struct virtio_dev *dev, uint64_t drop,
				  const struct test_ring *rings, unsigned n)
{
	uint8_t up = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		     VIRTIO_STATUS_DRIVER_OK;

	test_negotiate(dev, drop);
	for (unsigned q = 0; q < n; q++)
		test_ring_attach(dev, q, &rings[q]);
	virtio_dev_set_status(dev, up);
	assert_int_equal(dev->status, up);
}

/* The driver notifies queue q, as its doorbell write would. */
static inline void test_kick(struct virtio_dev *dev, unsigned q)
{
	pthread_mutex_lock(&dev->lock);
	virtio_dev_queue_notify(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

#endif
