/* Fuzz target: virtio-blk's request parser, driven through the device core
 * as a driver would, with the rings, descriptors, request headers and
 * buffers made of the input bytes. Two drives on small image files, one
 * writable and one read-only, both on the worker-thread engine.
 *
 * Input (bytes past the end read as 0):
 *   0     bit 0: the read-only drive; bit 1: EVENT_IDX; bit 2:
 *         INDIRECT_DESC; bit 3: FLUSH (else the drive writes through);
 *         bit 4: DISCARD and WRITE_ZEROES where offered; bit 5: batch
 *         (below)
 *   1     queue size: 1 << (b % 9), 1..256
 *   2     chains the driver makes available
 *   then  the descriptor table (16 * size), the available ring's flags,
 *         ring and used_event, and the rest in the data area at DATA_GPA:
 *         descriptors name guest addresses, and only ones in [0, RAM)
 *         are RAM.
 *
 * One by one (batch clear): each chain is made available and notified
 * alone, and the device is waited for, so that the oracle sees guest
 * memory as the device did when it took the chain; stops when the device
 * needs a reset. Batch: every chain is made available at once and
 * notified once, so that requests run side by side on the engine and
 * complete on its thread (and may write into each other's rings).
 *
 * Whatever the bytes: no crash and no access outside guest RAM (guard
 * pages, ASan), every write the device notes lies in RAM, the used index
 * moves forward by at most what was popped; one by one also: the device
 * takes at most the one chain made available, the used element names
 * the chain taken, its length is at most the chain's writable bytes, a
 * chain without a writable byte is never answered, and the status byte
 * (the last writable byte) holds OK, IOERR or UNSUPP. The read-only
 * drive's image never changes. */
#include <endian.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_dev.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"

#define RAM        GUEST_RAM_MIN
#define DESC_GPA   0x1000ull
#define AVAIL_GPA  0x2000ull
#define USED_GPA   0x3000ull
#define DATA_GPA   0x4000ull
#define DATA_MAX   0x10000ull
#define HEADER     3

#define IMAGE_SIZE (64u << 10)    /* 128 sectors: ranges in and out are both easy */
/* Waiting longer than this for one input's requests is a hang. */
#define WAIT_S     5

/* Byte 0 of the input. */
#define F_READ_ONLY 0x01
#define F_EVENT_IDX 0x02
#define F_INDIRECT  0x04
#define F_FLUSH     0x08
#define F_DISCARD   0x10
#define F_BATCH     0x20

#define DESC_F_NEXT     1
#define DESC_F_WRITE    2
#define DESC_F_INDIRECT 4

/* Feature bits (virtio 1.x 5.2.3) the driver may accept. */
#define BLK_F_RO           5
#define BLK_F_FLUSH        9
#define BLK_F_DISCARD      13
#define BLK_F_WRITE_ZEROES 14

#define S_OK     0
#define S_IOERR  1
#define S_UNSUPP 2

struct drive {
	struct virtio_dev *dev;
	int fd;                   /* the harness's own view of the image */
};

static struct guest_mem mem;
static struct drive drives[2];    /* [0] writable, [1] read-only */
static uint8_t image[IMAGE_SIZE]; /* what both images hold at each input's start */

/* Woken by every noted write: a push notes the used index last. */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static unsigned long writes_noted;

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_virtio_blk: invariant broken: %s\n", what);
		abort();
	}
}

/* Every write the device tells the software core about. */
static void noted(void *opaque, uint64_t gpa, uint64_t len)
{
	check(guest_mem_is_ram(&mem, gpa, len), "a noted write lies in guest RAM");
	pthread_mutex_lock(&wake_lock);
	writes_noted++;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&wake_lock);
}

static void on_interrupt(struct virtio_dev *dev, unsigned q)
{
}

static void open_drive(struct drive *d, bool read_only)
{
	char path[] = "/tmp/wisp-fuzz-blk-XXXXXX";
	struct virtio_blk_config cfg = { .fd = -1, .read_only = read_only, .id = "wisp-fuzz",
					 .engine = BLK_IO_ENGINE_THREAD };

	d->fd = mkstemp(path);
	check(d->fd >= 0, "a temporary image can be made");
	check(pwrite(d->fd, image, IMAGE_SIZE, 0) == IMAGE_SIZE, "the image is written");
	cfg.path = path;
	d->dev = virtio_blk_create(&mem, &cfg);
	check(d->dev != NULL, "the drive is created");
	/* The drive and the harness keep their descriptors. */
	unlink(path);
	d->dev->interrupt = on_interrupt;
}

static void setup_once(void)
{
	for (size_t i = 0; i < IMAGE_SIZE; i++)
		image[i] = (uint8_t)(i * 13 + (i >> 9));
	/* The device's debug messages would drown the fuzzer's. */
	log_set_level(LOG_ERROR);
	check(guest_mem_init(&mem, RAM) == 0, "guest RAM");
	mem.written = noted;
	open_drive(&drives[0], false);
	open_drive(&drives[1], true);
}

static uint16_t rd16(uint64_t gpa)
{
	uint16_t v = 0;

	check(guest_mem_read(&mem, gpa, &v, 2) == 0, "the harness reads RAM");
	return le16toh(v);
}

static uint32_t rd32(uint64_t gpa)
{
	uint32_t v = 0;

	check(guest_mem_read(&mem, gpa, &v, 4) == 0, "the harness reads RAM");
	return le32toh(v);
}

static void wr16(uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	check(guest_mem_write(&mem, gpa, &v, 2) == 0, "the harness writes RAM");
}

/* Copies what is left of the input, at most len bytes, to gpa. */
static void fill(uint64_t gpa, const uint8_t **data, size_t *left, size_t len)
{
	size_t n = *left < len ? *left : len;

	if (n)
		memcpy(guest_mem_ptr(&mem, gpa, n), *data, n);
	*data += n;
	*left -= n;
}

/* Reset, then bring the device up as a driver would, with the features
 * the input picks from those offered. */
static void bring_up(struct virtio_dev *dev, uint8_t flags, uint16_t size)
{
	const uint8_t base = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	uint64_t offered, want = 1ull << VIRTIO_F_VERSION_1 | 1ull << BLK_F_RO;

	if (flags & F_EVENT_IDX)
		want |= 1ull << VIRTIO_F_EVENT_IDX;
	if (flags & F_INDIRECT)
		want |= 1ull << VIRTIO_F_INDIRECT_DESC;
	if (flags & F_FLUSH)
		want |= 1ull << BLK_F_FLUSH;
	if (flags & F_DISCARD)
		want |= 1ull << BLK_F_DISCARD | 1ull << BLK_F_WRITE_ZEROES;

	pthread_mutex_lock(&dev->lock);
	virtio_dev_set_status(dev, 0);
	virtio_dev_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_dev_set_status(dev, base);
	offered = (uint64_t)virtio_dev_features_offered(dev, 1) << 32 |
		  virtio_dev_features_offered(dev, 0);
	want &= offered;
	virtio_dev_ack_features(dev, 0, (uint32_t)want);
	virtio_dev_ack_features(dev, 1, (uint32_t)(want >> 32));
	virtio_dev_set_status(dev, base | VIRTIO_STATUS_FEATURES_OK);
	check(dev->status & VIRTIO_STATUS_FEATURES_OK, "the device takes offered features");
	dev->vq[0].size = size;
	dev->vq[0].desc_gpa = DESC_GPA;
	dev->vq[0].avail_gpa = AVAIL_GPA;
	dev->vq[0].used_gpa = USED_GPA;
	virtio_dev_queue_enable(dev, 0);
	check(dev->vq[0].ready, "the queue is valid");
	virtio_dev_set_status(dev, base | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	pthread_mutex_unlock(&dev->lock);
}

struct progress {
	uint16_t popped, used;    /* the device's last_avail and used_idx */
	bool needs_reset;
};

static struct progress progress(struct virtio_dev *dev)
{
	struct progress p;

	pthread_mutex_lock(&dev->lock);
	p.popped = dev->vq[0].last_avail;
	p.used = dev->vq[0].used_idx;
	p.needs_reset = dev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	pthread_mutex_unlock(&dev->lock);
	return p;
}

/* Notify, then wait until every chain taken is answered or the device
 * gave up on the queue (it then answers nothing more). A device gives up
 * while it pops, and a pop after the notification comes from a
 * completion, which pushed first: every change is seen after a wake-up. */
static struct progress kick_and_wait(struct virtio_dev *dev)
{
	struct timespec deadline;
	struct progress p;
	unsigned long seen;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_S;
	pthread_mutex_lock(&dev->lock);
	virtio_dev_queue_notify(dev, 0);
	pthread_mutex_unlock(&dev->lock);
	for (;;) {
		pthread_mutex_lock(&wake_lock);
		seen = writes_noted;
		pthread_mutex_unlock(&wake_lock);
		p = progress(dev);
		if (p.used == p.popped || p.needs_reset)
			return p;
		pthread_mutex_lock(&wake_lock);
		while (writes_noted == seen)
			check(pthread_cond_timedwait(&wake, &wake_lock, &deadline) == 0,
			      "every request taken is answered in time");
		pthread_mutex_unlock(&wake_lock);
	}
}

/* ---- what the device must have seen of one chain --------------------------
 *
 * The chain from head, walked as the split ring's rules have it. Only
 * used for chains the device took and answered: virtq_pop's stricter
 * checks (fuzz_virtqueue.c holds it to them) passed, so a plain walk
 * finds the same descriptors. */

struct chain {
	bool walkable;
	bool has_status;
	uint64_t writable;        /* bytes */
	uint64_t status_gpa;      /* the last writable byte */
};

static struct chain walk(uint16_t head, uint16_t size, bool indirect_ok)
{
	struct chain c = { 0 };
	uint64_t table = DESC_GPA;
	uint32_t entries = size, i = head, steps = 0;
	bool indirect = false;

	for (;;) {
		uint64_t d, addr;
		uint32_t len;
		uint16_t flags;

		if (i >= entries || ++steps > entries)
			return c;
		d = table + 16ull * i;
		if (!guest_mem_is_ram(&mem, d, 16))
			return c;
		addr = (uint64_t)rd32(d) | (uint64_t)rd32(d + 4) << 32;
		len = rd32(d + 8);
		flags = rd16(d + 12);
		if (flags & DESC_F_INDIRECT) {
			if (indirect || !indirect_ok || len < 16)
				return c;
			indirect = true;
			table = addr;
			entries = len / 16;
			i = steps = 0;
			continue;
		}
		if ((flags & DESC_F_WRITE) && len) {
			c.writable += len;
			c.status_gpa = addr + len - 1;
			c.has_status = true;
		}
		if (!(flags & DESC_F_NEXT)) {
			c.walkable = true;
			return c;
		}
		i = rd16(d + 14);
	}
}

/* The used ring as the device writes it: flags, idx, the ring and
 * avail_event. */
static bool in_used_ring(uint64_t gpa, uint16_t size)
{
	return gpa >= USED_GPA && gpa < USED_GPA + 6 + 8ull * size;
}

/* Each chain alone: take it, wait, compare with what the walk found. */
static void one_by_one(struct virtio_dev *dev, uint16_t size, unsigned chains, bool indirect)
{
	for (unsigned n = 0; n < chains; n++) {
		struct progress before = progress(dev), after;
		uint16_t head = rd16(AVAIL_GPA + 4 + 2ull * (before.popped % size));
		struct chain c = walk(head, size, indirect);
		uint64_t slot = USED_GPA + 4 + 8ull * (before.used % size);
		uint8_t status;

		check(before.used == before.popped && !before.needs_reset,
		      "the previous chain was answered");
		wr16(AVAIL_GPA + 2, (uint16_t)(before.popped + 1));
		after = kick_and_wait(dev);
		check((uint16_t)(after.popped - before.popped) <= 1,
		      "the device takes at most the one chain made available");
		check((uint16_t)(after.used - before.used) <= (uint16_t)(after.popped - before.popped),
		      "the used index moves by at most what was taken");
		if (after.used == before.used) {
			/* Malformed, or nowhere to put the status. */
			check(after.needs_reset, "a chain taken and not answered makes the "
			      "device need a reset");
			return;
		}
		check(c.walkable, "an answered chain is well formed");
		check(c.has_status, "a chain without a writable byte is not answered");
		check(rd32(slot) == head, "the used element names the chain taken");
		check(rd32(slot + 4) <= c.writable,
		      "the used length is at most the chain's writable bytes");
		/* The used element, written after it, may lie over it. */
		if (!in_used_ring(c.status_gpa, size)) {
			check(guest_mem_read(&mem, c.status_gpa, &status, 1) == 0, "status in RAM");
			check(status == S_OK || status == S_IOERR || status == S_UNSUPP,
			      "the status byte is OK, IOERR or UNSUPP");
		}
	}
}

/* All chains at once. A request's data may land on the available index
 * while the device still pops, and then it rightly takes more than the
 * harness published: only the used index is held to what was taken. */
static void batch(struct virtio_dev *dev, unsigned chains)
{
	struct progress before = progress(dev), after;

	wr16(AVAIL_GPA + 2, (uint16_t)(before.popped + chains));
	after = kick_and_wait(dev);
	check((uint16_t)(after.used - before.used) <= (uint16_t)(after.popped - before.popped),
	      "the used index moves by at most what was taken");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t back[IMAGE_SIZE];
	uint8_t h[HEADER] = { 0 };
	struct drive *d;
	uint16_t n;

	if (!mem.mapping)
		setup_once();
	memcpy(h, data, size < HEADER ? size : HEADER);
	data += size < HEADER ? size : HEADER;
	size -= size < HEADER ? size : HEADER;
	d = &drives[h[0] & F_READ_ONLY ? 1 : 0];
	n = (uint16_t)(1u << (h[1] % 9));

	/* Nothing of the previous input may steer this one: a request can
	 * have read image bytes anywhere into RAM, or written guest bytes
	 * into the image. RAM is cleared before DRIVER_OK, which looks at
	 * the available ring. */
	memset(guest_mem_ptr(&mem, 0, RAM), 0, RAM);
	if (d == &drives[0])
		check(pwrite(d->fd, image, IMAGE_SIZE, 0) == IMAGE_SIZE, "the image is restored");
	bring_up(d->dev, h[0], n);

	fill(DESC_GPA, &data, &size, 16ull * n);
	fill(AVAIL_GPA, &data, &size, 2);
	fill(AVAIL_GPA + 4, &data, &size, 2ull * n + 2);
	fill(DATA_GPA, &data, &size, DATA_MAX);

	if (h[0] & F_BATCH)
		batch(d->dev, h[2]);
	else
		one_by_one(d->dev, n, h[2], h[0] & F_INDIRECT);

	/* A reset waits for the requests still with the engine: after it,
	 * nothing touches guest RAM or the images. */
	pthread_mutex_lock(&d->dev->lock);
	virtio_dev_set_status(d->dev, 0);
	pthread_mutex_unlock(&d->dev->lock);
	check(pread(drives[1].fd, back, IMAGE_SIZE, 0) == IMAGE_SIZE, "the image reads back");
	check(memcmp(back, image, IMAGE_SIZE) == 0, "the read-only image never changes");
	return 0;
}
