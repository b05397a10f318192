/* virtio-blk driven as a guest driver would: rings and buffers laid out
 * by hand in guest RAM, the device brought up through the device core,
 * requests made available and notified, answers read back from the used
 * ring. Every effect is checked in the image file itself. The tests run
 * with the worker-thread engine and with the default one (io_uring where
 * it works). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/virtio_blk.h"
#include "virtio/virtio_dev.h"
#include "vmm/guest_mem.h"
#include "tests/unit/virtio/test_image.h"
#include "tests/unit/virtio/virtq_test_ring.h"

#define RAM_SIZE   (16u << 20)
#define QSIZE      256u
#define DESC_GPA   0x1000u
#define AVAIL_GPA  0x3000u
#define USED_GPA   0x4000u
#define BUF_GPA    0x10000u

#define IMAGE_SECTORS 2048u
#define IMAGE_SIZE    (IMAGE_SECTORS * 512u)

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2
#define NO_STATUS 0xee          /* what the status byte holds before */

#define F_SIZE_MAX 1
#define F_SEG_MAX 2
#define F_RO 5
#define F_BLK_SIZE 6
#define F_FLUSH 9
#define F_DISCARD 13
#define F_WRITE_ZEROES 14

static enum blk_io_engine engine;

struct fixture {
	struct guest_mem mem;
	struct virtio_dev *dev;
	char path[64];
	int fd;                  /* the test's own view of the image */
	struct test_ring ring;   /* queue 0 */
	uint64_t next_buf;
	atomic_uint irqs;
};

static struct fixture *current;

static void on_interrupt(struct virtio_dev *dev, unsigned q)
{
	atomic_fetch_add(&current->irqs, 1);
}

/* ---- a driver by hand ---------------------------------------------------- */

static uint64_t alloc_buf(struct fixture *x, uint64_t len)
{
	return guest_alloc(&x->next_buf, RAM_SIZE, len);
}

/* Features the driver accepts: all offered, less drop. EVENT_IDX is left
 * out so that every completion can interrupt. */
static void bring_up(struct fixture *x, uint64_t drop)
{
	struct virtio_dev *dev = x->dev;

	test_ring_init(&x->ring, &x->mem, DESC_GPA, AVAIL_GPA, USED_GPA, QSIZE, QSIZE);
	x->next_buf = BUF_GPA;

	pthread_mutex_lock(&dev->lock);
	dev->interrupt = on_interrupt;
	virtio_dev_set_status(dev, 0);
	test_driver_ok(dev, drop, &x->ring, 1);
	pthread_mutex_unlock(&dev->lock);
}

/* Wait (at most 10 s) until the used index reaches idx. */
static void wait_used(struct fixture *x, uint16_t idx)
{
	for (int i = 0; i < 10000 && test_ring_used_idx(&x->ring) != idx; i++)
		usleep(1000);
	assert_int_equal(test_ring_used_idx(&x->ring), idx);
}

static uint64_t header(struct fixture *x, uint32_t type, uint64_t sector)
{
	uint64_t gpa = alloc_buf(x, 16);
	uint8_t h[16] = { 0 };

	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	assert_int_equal(guest_mem_write(&x->mem, gpa, h, sizeof(h)), 0);
	return gpa;
}

static uint64_t status_buf(struct fixture *x)
{
	uint64_t gpa = alloc_buf(x, 1);

	*(uint8_t *)guest_ptr(&x->mem, gpa, 1) = NO_STATUS;
	return gpa;
}

/* Post the chain, notify, wait for it; its used length in *used. */
static void run_chain(struct fixture *x, const struct test_buf *b, unsigned n, uint32_t *used)
{
	uint16_t before = test_ring_used_idx(&x->ring);
	uint32_t id, len;

	test_ring_post(&x->ring, b, n);
	test_kick(x->dev, 0);
	wait_used(x, (uint16_t)(before + 1));
	test_ring_used_elem(&x->ring, before, &id, &len);
	if (used)
		*used = len;
}

/* The common shape: header, optional data buffer, status. */
static uint8_t request(struct fixture *x, uint32_t type, uint64_t sector,
		       uint64_t data_gpa, uint32_t data_len, bool data_write, uint32_t *used)
{
	struct test_buf b[3];
	unsigned n = 0;
	uint64_t st = status_buf(x);

	b[n++] = (struct test_buf){ header(x, type, sector), 16, false };
	if (data_len)
		b[n++] = (struct test_buf){ data_gpa, data_len, data_write };
	b[n++] = (struct test_buf){ st, 1, true };
	run_chain(x, b, n, used);
	return *(uint8_t *)guest_ptr(&x->mem, st, 1);
}

static uint64_t guest_data(struct fixture *x, const void *src, uint32_t len)
{
	uint64_t gpa = alloc_buf(x, len);

	memcpy(guest_ptr(&x->mem, gpa, len), src, len);
	return gpa;
}

static uint8_t dwz_request(struct fixture *x, uint32_t type, uint64_t sector, uint32_t count,
			  uint32_t flags)
{
	uint8_t seg[16];

	memcpy(seg, &sector, 8);
	memcpy(seg + 8, &count, 4);
	memcpy(seg + 12, &flags, 4);
	return request(x, type, 0, guest_data(x, seg, 16), 16, false, NULL);
}

/* ---- fixtures ------------------------------------------------------------ */

static int make(void **state, bool read_only, const char *id)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct virtio_blk_config cfg = { .fd = -1, .read_only = read_only, .id = id,
					  .engine = engine };

	assert_non_null(x);
	assert_int_equal(guest_mem_init(&x->mem, RAM_SIZE), 0);
	x->fd = test_image_create(x->path, sizeof(x->path), "/tmp", "wisp-vblk", IMAGE_SIZE);
	assert_true(x->fd >= 0);
	cfg.path = x->path;
	x->dev = virtio_blk_create(&x->mem, &cfg);
	assert_non_null(x->dev);
	current = x;
	bring_up(x, 0);
	*state = x;
	return 0;
}

static int setup_rw(void **state) { return make(state, false, "wisp-test-disk"); }
static int setup_ro(void **state) { return make(state, true, "01234567890123456789"); }

static int teardown(void **state)
{
	struct fixture *x = *state;

	virtio_blk_destroy(x->dev);
	guest_mem_destroy(&x->mem);
	close(x->fd);
	unlink(x->path);
	free(x);
	return 0;
}

static uint32_t config32(struct fixture *x, unsigned off)
{
	uint32_t v;

	x->dev->ops->config_read(x->dev, off, &v, 4);
	return v;
}

/* ---- the tests ----------------------------------------------------------- */

static void create_refuses_bad_configs(void **state)
{
	struct guest_mem mem;
	struct virtio_blk_config cfg = { .path = "/nonexistent/disk.img", .fd = -1 };

	assert_int_equal(guest_mem_init(&mem, RAM_SIZE), 0);
	assert_null(virtio_blk_create(&mem, &cfg));
	cfg.path = "/dev/null";
	assert_null(virtio_blk_create(&mem, &cfg));
	cfg.path = "/tmp";
	cfg.read_only = true;
	assert_null(virtio_blk_create(&mem, &cfg));
	cfg.path = NULL;
	assert_null(virtio_blk_create(&mem, &cfg));
	cfg.path = "/dev/null";
	cfg.id = "012345678901234567890";     /* 21 bytes */
	assert_null(virtio_blk_create(&mem, &cfg));
	guest_mem_destroy(&mem);
}

static void config_and_features(void **state)
{
	struct fixture *x = *state;
	uint64_t f = test_features_offered(x->dev), cap;
	uint16_t nq;
	uint8_t may_unmap;

	assert_int_equal(x->dev->ops->device_id, VIRTIO_ID_BLOCK);
	assert_int_equal(x->dev->ops->queue_max_size, QSIZE);
	assert_true(f & (1ull << F_SEG_MAX));
	assert_true(f & (1ull << F_BLK_SIZE));
	assert_true(f & (1ull << F_FLUSH));
	assert_true(f & (1ull << F_WRITE_ZEROES));
	assert_true(f & (1ull << VIRTIO_F_VERSION_1));
	assert_false(f & (1ull << F_RO));
	assert_false(f & (1ull << F_SIZE_MAX));        /* not enforced, not offered */
	x->dev->ops->config_read(x->dev, 0, &cap, 8);
	assert_int_equal(cap, IMAGE_SECTORS);
	assert_int_equal(config32(x, 12), VIRTQ_MAX_SEGS - 2);   /* seg_max */
	assert_int_equal(config32(x, 20), 512);                  /* blk_size */
	x->dev->ops->config_read(x->dev, 34, &nq, 2);
	assert_int_equal(nq, 1);
	assert_int_equal(config32(x, 52), 1);                    /* max_write_zeroes_seg */
	assert_true(config32(x, 48) > 0);
	x->dev->ops->config_read(x->dev, 56, &may_unmap, 1);
	/* Discard and unmapping go together: both need holes. */
	if (f & (1ull << F_DISCARD)) {
		assert_int_equal(config32(x, 40), 1);            /* max_discard_seg */
		assert_true(config32(x, 36) > 0);
		assert_int_equal(may_unmap, 1);
	} else {
		assert_int_equal(may_unmap, 0);
	}
}

static void write_then_read(void **state)
{
	struct fixture *x = *state;
	uint8_t data[1024], back[1536], want[1536];
	uint64_t gpa;
	uint32_t used;

	test_pattern(data, sizeof(data), 77);
	gpa = guest_data(x, data, sizeof(data));
	assert_int_equal(request(x, T_OUT, 10, gpa, sizeof(data), false, &used), S_OK);
	assert_int_equal(used, 1);
	test_image_expect(x->fd, 10 * 512, data, sizeof(data));
	test_image_expect_pattern(x->fd, 9 * 512, 512);
	test_image_expect_pattern(x->fd, 12 * 512, 512);

	gpa = alloc_buf(x, sizeof(back));
	memset(guest_ptr(&x->mem, gpa, sizeof(back)), 0xcc, sizeof(back));
	assert_int_equal(request(x, T_IN, 9, gpa, sizeof(back), true, &used), S_OK);
	assert_int_equal(used, sizeof(back) + 1);
	memcpy(back, guest_ptr(&x->mem, gpa, sizeof(back)), sizeof(back));
	assert_int_equal(pread(x->fd, want, sizeof(want), 9 * 512), sizeof(want));
	assert_memory_equal(back, want, sizeof(back));
	assert_memory_equal(back + 512, data, sizeof(data));
	assert_true(atomic_load(&x->irqs) >= 2);
}

/* The device may not assume any framing: the header split over buffers,
 * data sharing a buffer with the header or with the status byte. */
static void any_framing(void **state)
{
	struct fixture *x = *state;
	uint8_t data[1024], back[1024];
	uint64_t hdr = header(x, T_OUT, 100), blob, st, rd;
	struct test_buf b[5];
	uint32_t used;

	test_pattern(data, sizeof(data), 5);
	/* Header in 5 + 11 bytes, data in 300 + 724 bytes. */
	st = status_buf(x);
	b[0] = (struct test_buf){ hdr, 5, false };
	b[1] = (struct test_buf){ hdr + 5, 11, false };
	b[2] = (struct test_buf){ guest_data(x, data, 300), 300, false };
	b[3] = (struct test_buf){ guest_data(x, data + 300, 724), 724, false };
	b[4] = (struct test_buf){ st, 1, true };
	run_chain(x, b, 5, &used);
	assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, st, 1), S_OK);
	test_image_expect(x->fd, 100 * 512, data, sizeof(data));

	/* Header and data in one buffer. */
	blob = alloc_buf(x, 16 + 512);
	memcpy(guest_ptr(&x->mem, blob, 16), guest_ptr(&x->mem, header(x, T_OUT, 200), 16), 16);
	memcpy(guest_ptr(&x->mem, blob + 16, 512), data + 512, 512);
	st = status_buf(x);
	b[0] = (struct test_buf){ blob, 16 + 512, false };
	b[1] = (struct test_buf){ st, 1, true };
	run_chain(x, b, 2, NULL);
	assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, st, 1), S_OK);
	test_image_expect(x->fd, 200 * 512, data + 512, 512);

	/* A read whose last buffer holds the data's end and the status. */
	rd = alloc_buf(x, 1025);
	memset(guest_ptr(&x->mem, rd, 1025), 0xcc, 1025);
	b[0] = (struct test_buf){ header(x, T_IN, 100), 16, false };
	b[1] = (struct test_buf){ rd, 700, true };
	b[2] = (struct test_buf){ rd + 700, 325, true };
	run_chain(x, b, 3, &used);
	assert_int_equal(used, 1025);
	assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, rd + 1024, 1), S_OK);
	memcpy(back, guest_ptr(&x->mem, rd, 1024), 1024);
	assert_memory_equal(back, data, sizeof(data));
}

static void flush_and_get_id(void **state)
{
	struct fixture *x = *state;
	uint64_t id = alloc_buf(x, 20);
	char want[20] = "wisp-test-disk";
	uint32_t used;

	assert_int_equal(request(x, T_FLUSH, 0, 0, 0, false, &used), S_OK);
	assert_int_equal(used, 1);
	memset(guest_ptr(&x->mem, id, 20), 0xcc, 20);
	assert_int_equal(request(x, T_GET_ID, 0, id, 20, true, &used), S_OK);
	assert_memory_equal(guest_ptr(&x->mem, id, 20), want, 20);    /* zero padded */
	assert_int_equal(used, 21);
	/* Flush with a data buffer is malformed. */
	assert_int_equal(request(x, T_FLUSH, 0, alloc_buf(x, 512), 512, false, NULL), S_IOERR);
}

static void discard_and_write_zeroes(void **state)
{
	struct fixture *x = *state;

	if (test_features_offered(x->dev) & (1ull << F_DISCARD)) {
		assert_int_equal(dwz_request(x, T_DISCARD, 16, 16, 0), S_OK);
		test_image_expect_zero(x->fd, 16 * 512, 16 * 512);
		test_image_expect_pattern(x->fd, 15 * 512, 512);
		test_image_expect_pattern(x->fd, 32 * 512, 512);
	}
	assert_int_equal(dwz_request(x, T_WRITE_ZEROES, 41, 3, 0), S_OK);
	test_image_expect_zero(x->fd, 41 * 512, 3 * 512);
	test_image_expect_pattern(x->fd, 40 * 512, 512);
	test_image_expect_pattern(x->fd, 44 * 512, 512);
	assert_int_equal(dwz_request(x, T_WRITE_ZEROES, 64, 64, 1), S_OK);   /* unmap */
	test_image_expect_zero(x->fd, 64 * 512, 64 * 512);
	test_image_expect_pattern(x->fd, 128 * 512, 512);
	assert_int_equal(dwz_request(x, T_WRITE_ZEROES, 200, 0, 0), S_OK);  /* nothing */
	test_image_expect_pattern(x->fd, 200 * 512, 512);
}

static void discard_and_write_zeroes_refused(void **state)
{
	struct fixture *x = *state;
	uint8_t two[32] = { 0 };
	uint32_t one = 1;

	if (test_features_offered(x->dev) & (1ull << F_DISCARD))
		assert_int_equal(dwz_request(x, T_DISCARD, 0, 8, 1), S_UNSUPP);  /* unmap */
	assert_int_equal(dwz_request(x, T_WRITE_ZEROES, 0, 8, 2), S_UNSUPP);    /* unknown flag */
	assert_int_equal(dwz_request(x, T_WRITE_ZEROES, IMAGE_SECTORS - 4, 8, 0), S_IOERR);
	assert_int_equal(dwz_request(x, T_WRITE_ZEROES, ~0ull - 2, 8, 0), S_IOERR);
	/* Two segments (max_write_zeroes_seg is 1). */
	memcpy(two + 8, &one, 4);
	memcpy(two + 24, &one, 4);
	assert_int_equal(request(x, T_WRITE_ZEROES, 0, guest_data(x, two, 32), 32, false, NULL),
			 S_UNSUPP);
	/* Not a whole segment. */
	assert_int_equal(request(x, T_WRITE_ZEROES, 0, guest_data(x, two, 15), 15, false, NULL),
			 S_IOERR);
	test_image_expect_pattern(x->fd, 0, IMAGE_SIZE);
}

static void ranges_checked(void **state)
{
	struct fixture *x = *state;
	uint64_t buf = alloc_buf(x, 1024);

	memset(guest_ptr(&x->mem, buf, 1024), 0x5a, 1024);
	assert_int_equal(request(x, T_OUT, IMAGE_SECTORS, buf, 512, false, NULL), S_IOERR);
	assert_int_equal(request(x, T_OUT, IMAGE_SECTORS - 1, buf, 1024, false, NULL), S_IOERR);
	assert_int_equal(request(x, T_IN, IMAGE_SECTORS, buf, 512, true, NULL), S_IOERR);
	/* sector * 512 would wrap around. */
	assert_int_equal(request(x, T_OUT, 1ull << 55, buf, 512, false, NULL), S_IOERR);
	assert_int_equal(request(x, T_IN, ~0ull, buf, 512, true, NULL), S_IOERR);
	/* Not whole sectors. */
	assert_int_equal(request(x, T_OUT, 0, buf, 100, false, NULL), S_IOERR);
	assert_int_equal(request(x, T_IN, 0, buf, 513, true, NULL), S_IOERR);
	test_image_expect_pattern(x->fd, 0, IMAGE_SIZE);
	/* The last sector is fine, and so is an empty read at the end. */
	assert_int_equal(request(x, T_OUT, IMAGE_SECTORS - 1, buf, 512, false, NULL), S_OK);
	test_image_expect(x->fd, IMAGE_SIZE - 512, guest_ptr(&x->mem, buf, 512), 512);
	assert_int_equal(request(x, T_IN, IMAGE_SECTORS, 0, 0, true, NULL), S_OK);
}

static void malformed_requests(void **state)
{
	struct fixture *x = *state;
	uint64_t buf = alloc_buf(x, 512), st;
	struct test_buf b[3];
	uint32_t used;

	memset(guest_ptr(&x->mem, buf, 512), 0x77, 512);
	/* A write whose data the device could write into. */
	assert_int_equal(request(x, T_OUT, 0, buf, 512, true, NULL), S_IOERR);
	/* A read with data for the device to read. */
	assert_int_equal(request(x, T_IN, 0, buf, 512, false, NULL), S_IOERR);
	test_image_expect_pattern(x->fd, 0, 512);
	assert_int_equal(request(x, 99, 0, 0, 0, false, NULL), S_UNSUPP);
	/* A header of 8 bytes. */
	st = status_buf(x);
	b[0] = (struct test_buf){ header(x, T_IN, 0), 8, false };
	b[1] = (struct test_buf){ st, 1, true };
	run_chain(x, b, 2, &used);
	assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, st, 1), S_IOERR);
	assert_int_equal(used, 1);
	assert_false(x->dev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);

	/* No writable byte at all: no answer is possible. */
	b[0] = (struct test_buf){ header(x, T_IN, 0), 16, false };
	b[1] = (struct test_buf){ buf, 512, false };
	test_ring_post(&x->ring, b, 2);
	test_kick(x->dev, 0);
	assert_true(x->dev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* Requests wait for the reset. */
	test_ring_post(&x->ring,
		       (struct test_buf[]){ { header(x, T_FLUSH, 0), 16, false }, { status_buf(x), 1, true } },
		       2);
	test_kick(x->dev, 0);
	usleep(20000);
	assert_int_equal(test_ring_used_idx(&x->ring), 4);
	bring_up(x, 0);
	assert_int_equal(request(x, T_FLUSH, 0, 0, 0, false, NULL), S_OK);
}

static void read_only_drive(void **state)
{
	struct fixture *x = *state;
	uint64_t f = test_features_offered(x->dev), buf = alloc_buf(x, 512), id = alloc_buf(x, 20);

	assert_true(f & (1ull << F_RO));
	assert_false(f & (1ull << F_DISCARD));
	assert_false(f & (1ull << F_WRITE_ZEROES));
	memset(guest_ptr(&x->mem, buf, 512), 0x42, 512);
	assert_int_equal(request(x, T_OUT, 3, buf, 512, false, NULL), S_IOERR);
	assert_int_equal(dwz_request(x, T_WRITE_ZEROES, 3, 1, 0), S_IOERR);
	assert_int_equal(dwz_request(x, T_DISCARD, 3, 1, 0), S_IOERR);
	assert_int_equal(request(x, T_FLUSH, 0, 0, 0, false, NULL), S_OK);
	test_image_expect_pattern(x->fd, 0, IMAGE_SIZE);
	assert_int_equal(request(x, T_IN, 3, buf, 512, true, NULL), S_OK);
	test_image_expect(x->fd, 3 * 512, guest_ptr(&x->mem, buf, 512), 512);
	/* An id of exactly 20 bytes has no NUL. */
	assert_int_equal(request(x, T_GET_ID, 0, id, 20, true, NULL), S_OK);
	assert_memory_equal(guest_ptr(&x->mem, id, 20), "01234567890123456789", 20);
}

/* Many chains at once, one notification: all are served. */
static void many_in_flight(void **state)
{
	struct fixture *x = *state;
	enum { N = 80 };
	uint64_t data[N], st[N];
	uint8_t buf[512];

	for (int i = 0; i < N; i++) {
		test_pattern(buf, sizeof(buf), 1000 + i);
		data[i] = guest_data(x, buf, 512);
		st[i] = status_buf(x);
		test_ring_post(&x->ring, (struct test_buf[]){ { header(x, T_OUT, 500 + i), 16, false },
					 { data[i], 512, false }, { st[i], 1, true } }, 3);
	}
	test_kick(x->dev, 0);
	wait_used(x, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, st[i], 1), S_OK);
		test_pattern(buf, sizeof(buf), 1000 + i);
		test_image_expect(x->fd, (500 + i) * 512, buf, 512);
	}
	/* And read back the same way. */
	for (int i = 0; i < N; i++) {
		memset(guest_ptr(&x->mem, data[i], 512), 0, 512);
		st[i] = status_buf(x);
		test_ring_post(&x->ring, (struct test_buf[]){ { header(x, T_IN, 500 + i), 16, false },
					 { data[i], 512, true }, { st[i], 1, true } }, 3);
	}
	test_kick(x->dev, 0);
	wait_used(x, 2 * N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, st[i], 1), S_OK);
		test_pattern(buf, sizeof(buf), 1000 + i);
		assert_memory_equal(guest_ptr(&x->mem, data[i], 512), buf, 512);
	}
}

/* A reset while reads are in flight: once it returns, the device writes
 * nothing more into guest RAM, and it works again after a new setup. */
static void reset_with_requests_in_flight(void **state)
{
	struct fixture *x = *state;
	enum { N = 16, LEN = 64 << 10 };
	uint64_t first = x->next_buf;
	uint8_t *snap;
	uint16_t used_after;

	for (int i = 0; i < N; i++) {
		uint64_t d = alloc_buf(x, LEN);

		memset(guest_ptr(&x->mem, d, LEN), 0xcc, LEN);
		test_ring_post(&x->ring, (struct test_buf[]){ { header(x, T_IN, (uint64_t)i * 128), 16, false },
					 { d, LEN, true }, { status_buf(x), 1, true } }, 3);
	}
	test_kick(x->dev, 0);
	pthread_mutex_lock(&x->dev->lock);
	virtio_dev_set_status(x->dev, 0);
	pthread_mutex_unlock(&x->dev->lock);

	used_after = test_ring_used_idx(&x->ring);
	snap = malloc(x->next_buf - first);
	memcpy(snap, guest_ptr(&x->mem, first, x->next_buf - first), x->next_buf - first);
	usleep(100000);
	assert_int_equal(test_ring_used_idx(&x->ring), used_after);
	assert_memory_equal(guest_ptr(&x->mem, first, x->next_buf - first), snap, x->next_buf - first);
	free(snap);

	bring_up(x, 0);
	assert_int_equal(request(x, T_FLUSH, 0, 0, 0, false, NULL), S_OK);
	assert_int_equal(request(x, T_IN, 0, alloc_buf(x, 512), 512, true, NULL), S_OK);
}

/* A driver that does not flush gets writes through; they still land. */
static void without_flush_writes_go_through(void **state)
{
	struct fixture *x = *state;
	uint8_t data[512];

	bring_up(x, 1ull << F_FLUSH);
	memset(data, 0x3c, sizeof(data));
	assert_int_equal(request(x, T_OUT, 7, guest_data(x, data, 512), 512, false, NULL), S_OK);
	test_image_expect(x->fd, 7 * 512, data, 512);
}

/* Requests not yet answered when the device goes away still reach the
 * image: destroy waits for them. */
static void destroy_drains(void **state)
{
	struct fixture *x = *state;
	enum { N = 48 };
	uint8_t buf[4096];

	for (int i = 0; i < N; i++) {
		test_pattern(buf, sizeof(buf), 2000 + i);
		test_ring_post(&x->ring, (struct test_buf[]){ { header(x, T_OUT, (uint64_t)i * 8), 16, false },
					 { guest_data(x, buf, 4096), 4096, false },
					 { status_buf(x), 1, true } }, 3);
	}
	test_kick(x->dev, 0);
	virtio_blk_destroy(x->dev);
	x->dev = NULL;
	for (int i = 0; i < N; i++) {
		test_pattern(buf, sizeof(buf), 2000 + i);
		test_image_expect(x->fd, (uint64_t)i * 4096, buf, 4096);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_rw, teardown)

int main(void)
{
	const struct CMUnitTest common[] = {
		cmocka_unit_test(create_refuses_bad_configs),
	};
	const struct CMUnitTest tests[] = {
		T(config_and_features),
		T(write_then_read),
		T(any_framing),
		T(flush_and_get_id),
		T(discard_and_write_zeroes),
		T(discard_and_write_zeroes_refused),
		T(ranges_checked),
		T(malformed_requests),
		cmocka_unit_test_setup_teardown(read_only_drive, setup_ro, teardown),
		T(many_in_flight),
		T(reset_with_requests_in_flight),
		T(without_flush_writes_go_through),
		T(destroy_drains),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("virtio_blk", common, NULL, NULL);
	engine = BLK_IO_ENGINE_THREAD;
	failed += cmocka_run_group_tests_name("virtio_blk, thread engine", tests, NULL, NULL);
	engine = BLK_IO_ENGINE_AUTO;
	failed += cmocka_run_group_tests_name("virtio_blk, default engine", tests, NULL, NULL);
	return failed;
}
