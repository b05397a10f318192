/* The driver's side of the transport tests (virtio-mmio, virtio-pci): the
 * guest they share (RAM on a fake platform, queue 0's rings, a buffer),
 * the device status bits, and the steps of device initialisation (virtio
 * 1.x 3.1.1) that each transport spells in its own registers. A test
 * describes its registers in a struct transport, with its own read and
 * write of them. */
#ifndef WISP_TESTS_UNIT_VIRTIO_TRANSPORT_DRIVER_H
#define WISP_TESTS_UNIT_VIRTIO_TRANSPORT_DRIVER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/devices/test_platform.h"
#include "tests/unit/virtio/virtq_test_ring.h"
#include "virtio/virtqueue.h"
#include "vmm/guest_mem.h"
#include "vmm/memory_map.h"

#define S_ACK         1
#define S_DRIVER      2
#define S_DRIVER_OK   4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 64
#define S_UP (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK)

#define VERSION_1 (1ull << 32)

/* The driver's rings and buffers in guest RAM. */
#define RAM        MiB(16)
#define DESC_GPA   0x10000ull
#define AVAIL_GPA  0x11000ull
#define USED_GPA   0x12000ull
#define BUF_GPA    0x20000ull

/* A register: its offset in the transport's own space, and its width. */
struct transport_reg {
	unsigned off, size;
};

struct fixture;

/* A transport as its test drives it: the driver's read and write, and
 * where the registers of the shared steps are. The queue addresses are
 * written as two 32-bit halves, the high one 4 bytes above the low. */
struct transport {
	uint64_t (*rd)(struct fixture *x, unsigned off, unsigned size);
	void (*wr)(struct fixture *x, unsigned off, unsigned size, uint64_t v);
	struct transport_reg status;
	struct transport_reg device_features_sel, device_features;
	struct transport_reg driver_features_sel, driver_features;
	struct transport_reg queue_sel, queue_size, queue_desc, queue_driver, queue_device;
	struct transport_reg queue_enable;
};

static inline uint64_t transport_rd(const struct transport *t, struct fixture *x,
				    struct transport_reg r)
{
	return t->rd(x, r.off, r.size);
}

static inline void transport_wr(const struct transport *t, struct fixture *x,
				struct transport_reg r, uint64_t v)
{
	t->wr(x, r.off, r.size, v);
}

/* Word n of a feature set: sel selects it, word reads it. */
static inline uint32_t transport_feature_word(const struct transport *t, struct fixture *x,
					      struct transport_reg sel, struct transport_reg word,
					      uint32_t n)
{
	transport_wr(t, x, sel, n);
	return (uint32_t)transport_rd(t, x, word);
}

/* ACKNOWLEDGE, DRIVER, the features, FEATURES_OK; the status read back. */
static inline uint32_t transport_negotiate(const struct transport *t, struct fixture *x,
					   uint64_t features)
{
	transport_wr(t, x, t->status, S_ACK);
	transport_wr(t, x, t->status, S_ACK | S_DRIVER);
	transport_wr(t, x, t->driver_features_sel, 0);
	transport_wr(t, x, t->driver_features, (uint32_t)features);
	transport_wr(t, x, t->driver_features_sel, 1);
	transport_wr(t, x, t->driver_features, (uint32_t)(features >> 32));
	transport_wr(t, x, t->status, S_ACK | S_DRIVER | S_FEATURES_OK);
	return (uint32_t)transport_rd(t, x, t->status);
}

static inline void transport_wr_addr(const struct transport *t, struct fixture *x,
				     struct transport_reg low, uint64_t gpa)
{
	transport_wr(t, x, (struct transport_reg){ low.off, 4 }, (uint32_t)gpa);
	transport_wr(t, x, (struct transport_reg){ low.off + 4, 4 }, (uint32_t)(gpa >> 32));
}

/* Queue q of size entries at the given rings, then enabled. */
static inline void transport_queue_setup(const struct transport *t, struct fixture *x, unsigned q,
					 uint32_t size, uint64_t desc, uint64_t avail,
					 uint64_t used)
{
	transport_wr(t, x, t->queue_sel, q);
	transport_wr(t, x, t->queue_size, size);
	transport_wr_addr(t, x, t->queue_desc, desc);
	transport_wr_addr(t, x, t->queue_driver, avail);
	transport_wr_addr(t, x, t->queue_device, used);
	transport_wr(t, x, t->queue_enable, 1);
}

/* A device taken to DRIVER_OK with features and queue 0 of size 8 at the
 * shared rings. */
static inline void transport_bring_up(const struct transport *t, struct fixture *x,
				      uint64_t features)
{
	assert_int_equal(transport_negotiate(t, x, features), S_ACK | S_DRIVER | S_FEATURES_OK);
	transport_queue_setup(t, x, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(transport_rd(t, x, t->queue_enable), 1);
	transport_wr(t, x, t->status, S_UP);
	assert_int_equal(transport_rd(t, x, t->status), S_UP);
}

/* The device's view of a queue the driver set up at the shared rings. */
static inline void expect_shared_rings(const struct virtq *vq, uint16_t size)
{
	assert_int_equal(vq->size, size);
	assert_int_equal(vq->desc_gpa, DESC_GPA);
	assert_int_equal(vq->avail_gpa, AVAIL_GPA);
	assert_int_equal(vq->used_gpa, USED_GPA);
}

/* The guest: a fake platform with RAM, queue 0's rings (size 8) cleared
 * at the shared place. */
static inline struct fake_platform *transport_guest_new(struct guest_mem *mem,
							struct test_ring *ring)
{
	struct fake_platform *f = fake_platform_new();

	assert_int_equal(guest_mem_init(mem, RAM), 0);
	test_ring_init(ring, mem, DESC_GPA, AVAIL_GPA, USED_GPA, 8, 8);
	f->p.mem = mem;
	return f;
}

static inline void transport_guest_free(struct fake_platform *f, struct guest_mem *mem)
{
	guest_mem_destroy(mem);
	fake_platform_free(f);
}

#endif
