#include "virtio_blk.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio_dev.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"

/* Feature bits (virtio 1.x 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define SECTOR      512u
#define HEADER_SIZE 16u   /* le32 type, le32 reserved, le64 sector */
/* A discard / write-zeroes segment: le64 sector, le32 num_sectors,
 * le32 flags. */
#define DWZ_SIZE    16u
#define DWZ_F_UNMAP 1u

/* Configuration space offsets (5.2.4); the rest reads as zero. */
#define CFG_CAPACITY          0    /* le64, sectors */
#define CFG_SEG_MAX           12   /* le32 */
#define CFG_BLK_SIZE          20   /* le32 */
#define CFG_NUM_QUEUES        34   /* le16 */
#define CFG_MAX_DISCARD_SECT  36   /* le32 */
#define CFG_MAX_DISCARD_SEG   40   /* le32 */
#define CFG_DISCARD_ALIGN     44   /* le32, sectors */
#define CFG_MAX_WZ_SECT       48   /* le32 */
#define CFG_MAX_WZ_SEG        52   /* le32 */
#define CFG_WZ_MAY_UNMAP      56   /* u8 */
#define CONFIG_SIZE           60

/* Limits on one discard / write-zeroes request. A discard is one
 * fallocate whatever its size; write-zeroes may end up written as zeroes
 * on a file system that cannot zero a range, so it is kept smaller. */
#define MAX_DISCARD_SECTORS (2u << 21)      /* 2 GiB */
#define MAX_WZ_SECTORS      (256u << 11)    /* 256 MiB */
#define DISCARD_ALIGN       8u              /* 4 KiB: a file system block */

/* A request is not answered yet: the engine has it. */
#define PENDING 0xff

#define BASE_FEATURES ((1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) | \
		       (1ull << VIRTIO_BLK_F_FLUSH))

struct virtio_blk;

/* One request from pop to push. The slots are as many as the queue can
 * hold, so a driver can never have more in flight. */
struct blk_req {
	struct blk_io_req io;
	struct virtio_blk *blk;
	struct blk_req *next;         /* free list, or completions waiting */
	uint32_t epoch;               /* blk->epoch when it was taken */
	uint32_t type;
	uint8_t *status;              /* the status byte, in guest RAM */
	uint64_t status_gpa;
	int result;                   /* the engine's */
	struct iovec iov[VIRTQ_MAX_SEGS];
	struct virtq_elem elem;
};

struct virtio_blk {
	struct virtio_dev *dev;
	struct blk_io *io;
	char *path;
	uint64_t capacity;            /* sectors */
	bool read_only;
	bool writethrough;            /* FLUSH was not negotiated */
	char id[VIRTIO_BLK_ID_BYTES];
	uint8_t config[CONFIG_SIZE];

	/* Under dev->lock. */
	struct blk_req *reqs, *free;
	uint32_t epoch;               /* bumped by a reset: older requests are not answered */
	bool starved;                 /* a chain waits for a free slot */
	bool stopping;                /* destroy began: take no more requests */

	/* Completions, under io_lock. A reset (dev->lock held) waits for
	 * io_busy to reach 0, so the engine's callbacks never block on
	 * dev->lock: they take it only if it is free, and otherwise queue
	 * the request for the completer thread, which may wait for it. */
	pthread_mutex_t io_lock;
	pthread_cond_t io_cond;
	unsigned io_busy;             /* requests the engine has */
	struct blk_req *done_head, **done_tail;
	bool completer_stop;
	pthread_t completer;
};

static void put_le16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put_le32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put_le64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static uint32_t get_le32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get_le64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

static bool queue_usable(const struct virtio_blk *blk)
{
	const struct virtio_dev *dev = blk->dev;
	const struct virtq *vq = &dev->vq[0];

	return !blk->stopping && vq->ready && !vq->broken &&
	       (dev->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET |
			       VIRTIO_STATUS_FAILED)) == VIRTIO_STATUS_DRIVER_OK;
}

/* [sector, sector + count) lies on the disk. */
static bool range_ok(const struct virtio_blk *blk, uint64_t sector, uint64_t count)
{
	return sector <= blk->capacity && count <= blk->capacity - sector;
}

/* iovecs for len bytes of segs, skipping the first skip bytes. */
static unsigned build_iov(struct iovec *iov, const struct virtq_seg *segs, unsigned n,
			  uint64_t skip, uint64_t len)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		uint64_t take;

		if (skip >= segs[i].len) {
			skip -= segs[i].len;
			continue;
		}
		take = segs[i].len - skip;
		if (take > len)
			take = len;
		iov[k].iov_base = (uint8_t *)segs[i].host + skip;
		iov[k].iov_len = (size_t)take;
		k++;
		len -= take;
		skip = 0;
	}
	return k;
}

/* The status byte is the last writable byte of the chain. */
static bool find_status(struct blk_req *req)
{
	const struct virtq_elem *e = &req->elem;

	for (unsigned i = e->nout + e->nin; i-- > e->nout;) {
		const struct virtq_seg *s = &e->seg[i];

		if (s->len) {
			req->status = (uint8_t *)s->host + s->len - 1;
			req->status_gpa = s->gpa + s->len - 1;
			return true;
		}
	}
	return false;
}

/* Answer req: its status byte, then the used ring (dev->lock held). The
 * used length covers every writable byte: an IN's data and the status
 * byte at the end. */
static void answer(struct virtio_blk *blk, struct blk_req *req, uint8_t status)
{
	struct virtio_dev *dev = blk->dev;
	uint64_t in_len = req->elem.in_len;

	*req->status = status;
	/* virtq_push notes what it reports; a chain longer than the used
	 * length can say still gets its status byte noted. */
	guest_mem_note_write(dev->mem, req->status_gpa, 1);
	virtq_push(&dev->vq[0], &req->elem, in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)in_len);
}

static void release(struct virtio_blk *blk, struct blk_req *req)
{
	req->next = blk->free;
	blk->free = req;
}

static void on_io_done(struct blk_io_req *io, int result);

/* Hand req to the engine; PENDING, or the status when it cannot go. */
static uint8_t submit(struct virtio_blk *blk, struct blk_req *req, enum blk_io_op op,
		      unsigned flags, uint64_t offset, uint64_t len, unsigned iovcnt)
{
	int r;

	req->io = (struct blk_io_req){
		.op = op, .flags = flags, .offset = offset, .len = len,
		.iov = req->iov, .iovcnt = iovcnt, .done = on_io_done, .opaque = req,
	};
	pthread_mutex_lock(&blk->io_lock);
	blk->io_busy++;
	pthread_mutex_unlock(&blk->io_lock);
	r = blk_io_submit(blk->io, &req->io);
	if (r == 0)
		return PENDING;
	pthread_mutex_lock(&blk->io_lock);
	blk->io_busy--;
	pthread_mutex_unlock(&blk->io_lock);
	log_debug("virtio-blk: '%s': request refused by the engine: %s", blk->path, strerror(-r));
	return VIRTIO_BLK_S_IOERR;
}

/* DISCARD and WRITE_ZEROES: one segment after the header. */
static uint8_t discard_or_zero(struct virtio_blk *blk, struct blk_req *req, uint64_t data_out)
{
	const struct virtq_elem *e = &req->elem;
	bool discard = req->type == VIRTIO_BLK_T_DISCARD;
	uint8_t seg[DWZ_SIZE];
	uint64_t sector;
	uint32_t count, flags;

	if (blk->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (!virtio_dev_has_feature(blk->dev, discard ? VIRTIO_BLK_F_DISCARD :
				    VIRTIO_BLK_F_WRITE_ZEROES))
		return VIRTIO_BLK_S_UNSUPP;
	if (e->in_len != 1 || data_out == 0 || data_out % DWZ_SIZE)
		return VIRTIO_BLK_S_IOERR;
	if (data_out > DWZ_SIZE)            /* max_discard_seg / max_write_zeroes_seg */
		return VIRTIO_BLK_S_UNSUPP;
	virtq_read_out(e, HEADER_SIZE, seg, sizeof(seg));
	sector = get_le64(seg);
	count = get_le32(seg + 8);
	flags = get_le32(seg + 12);
	/* 5.2.6.2: unknown flags, and unmap on a discard, are unsupported. */
	if ((flags & ~DWZ_F_UNMAP) || (discard && (flags & DWZ_F_UNMAP)))
		return VIRTIO_BLK_S_UNSUPP;
	if (count > (discard ? MAX_DISCARD_SECTORS : MAX_WZ_SECTORS) ||
	    !range_ok(blk, sector, count))
		return VIRTIO_BLK_S_IOERR;
	if (count == 0)
		return VIRTIO_BLK_S_OK;
	return submit(blk, req, discard ? BLK_IO_DISCARD : BLK_IO_WRITE_ZEROES,
		      (flags & DWZ_F_UNMAP) ? BLK_IO_F_UNMAP : 0,
		      sector * SECTOR, (uint64_t)count * SECTOR, 0);
}

/* Parse req and start it: PENDING, or the status to answer now. */
static uint8_t start(struct virtio_blk *blk, struct blk_req *req)
{
	const struct virtq_elem *e = &req->elem;
	uint8_t hdr[HEADER_SIZE];
	uint64_t sector, data_in, data_out;
	unsigned n;

	/* The header may be split over several buffers. */
	if (e->out_len < HEADER_SIZE)
		return VIRTIO_BLK_S_IOERR;
	virtq_read_out(e, 0, hdr, sizeof(hdr));
	req->type = get_le32(hdr);
	sector = get_le64(hdr + 8);
	data_out = e->out_len - HEADER_SIZE;
	data_in = e->in_len - 1;            /* in_len >= 1: there is a status byte */

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		if (data_out || data_in % SECTOR || !range_ok(blk, sector, data_in / SECTOR) ||
		    e->in_len > UINT32_MAX)
			return VIRTIO_BLK_S_IOERR;
		if (!data_in)
			return VIRTIO_BLK_S_OK;
		n = build_iov(req->iov, &e->seg[e->nout], e->nin, 0, data_in);
		return submit(blk, req, BLK_IO_READ, 0, sector * SECTOR, 0, n);

	case VIRTIO_BLK_T_OUT:
		/* Linux expects IOERR, not UNSUPP, for a write to a read-only disk. */
		if (data_in || blk->read_only || data_out % SECTOR ||
		    !range_ok(blk, sector, data_out / SECTOR))
			return VIRTIO_BLK_S_IOERR;
		if (!data_out)
			return VIRTIO_BLK_S_OK;
		n = build_iov(req->iov, e->seg, e->nout, HEADER_SIZE, data_out);
		return submit(blk, req, BLK_IO_WRITE, blk->writethrough ? BLK_IO_F_SYNC : 0,
			      sector * SECTOR, 0, n);

	case VIRTIO_BLK_T_FLUSH:
		if (data_in || data_out)
			return VIRTIO_BLK_S_IOERR;
		if (blk->read_only)
			return VIRTIO_BLK_S_OK;     /* nothing was written */
		return submit(blk, req, BLK_IO_FLUSH, 0, 0, 0, 0);

	case VIRTIO_BLK_T_GET_ID:
		if (data_out)
			return VIRTIO_BLK_S_IOERR;
		/* Shorter than 20 bytes, the id ends with a NUL (zero padding);
		 * a shorter buffer gets what fits. */
		virtq_write_in(e, 0, blk->id, data_in < sizeof(blk->id) ? (size_t)data_in : sizeof(blk->id));
		return VIRTIO_BLK_S_OK;

	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return discard_or_zero(blk, req, data_out);

	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Take what the driver made available (dev->lock held). */
static void process_queue(struct virtio_blk *blk)
{
	struct virtio_dev *dev = blk->dev;
	struct virtq *vq = &dev->vq[0];
	bool answered = false;
	struct blk_req *req;
	uint8_t status;
	int r;

	while (queue_usable(blk)) {
		req = blk->free;
		if (!req) {
			/* Every slot is in flight: a completion comes back here. */
			blk->starved = true;
			break;
		}
		r = virtq_pop(vq, &req->elem);
		if (r <= 0) {
			if (r < 0)
				virtio_dev_needs_reset(dev);
			break;
		}
		blk->free = req->next;
		req->epoch = blk->epoch;
		if (!find_status(req)) {
			/* Nowhere to answer: the chain is malformed. */
			log_debug("virtio-blk: a request without a writable status byte");
			release(blk, req);
			virtio_dev_needs_reset(dev);
			break;
		}
		status = start(blk, req);
		if (status != PENDING) {
			answer(blk, req, status);
			release(blk, req);
			answered = true;
		}
	}
	if (answered)
		virtio_dev_queue_interrupt(dev, 0);
}

/* A request back from the engine, dev->lock held. Not answered if the
 * driver reset the device since it was taken (the ring may be anything
 * now), the queue went bad or the device is going away. Returns whether
 * it was answered. */
static bool finish(struct virtio_blk *blk, struct blk_req *req)
{
	int result = req->result;
	bool answered = false;

	/* A discard is a hint: an image that cannot deallocate has done it. */
	if (result == -EOPNOTSUPP && req->type == VIRTIO_BLK_T_DISCARD)
		result = 0;
	if (req->epoch == blk->epoch && queue_usable(blk)) {
		answer(blk, req, result < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
		answered = true;
	}
	release(blk, req);
	return answered;
}

static void after_finish(struct virtio_blk *blk, bool answered)
{
	if (answered)
		virtio_dev_queue_interrupt(blk->dev, 0);
	if (blk->starved) {
		blk->starved = false;
		process_queue(blk);
	}
}

/* On the engine's thread. */
static void on_io_done(struct blk_io_req *io, int result)
{
	struct blk_req *req = io->opaque;
	struct virtio_blk *blk = req->blk;
	struct virtio_dev *dev = blk->dev;

	req->result = result;
	pthread_mutex_lock(&blk->io_lock);
	/* The engine is done with the guest's buffers. */
	if (--blk->io_busy == 0)
		pthread_cond_broadcast(&blk->io_cond);
	pthread_mutex_unlock(&blk->io_lock);

	if (pthread_mutex_trylock(&dev->lock) == 0) {
		after_finish(blk, finish(blk, req));
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	/* Someone holds dev->lock, maybe a reset waiting for the engine's
	 * other requests: waiting here would keep this thread from them. */
	pthread_mutex_lock(&blk->io_lock);
	req->next = NULL;
	*blk->done_tail = req;
	blk->done_tail = &req->next;
	pthread_cond_broadcast(&blk->io_cond);
	pthread_mutex_unlock(&blk->io_lock);
}

static void *completer(void *arg)
{
	struct virtio_blk *blk = arg;
	struct virtio_dev *dev = blk->dev;
	struct blk_req *list, *req;
	bool answered;

	for (;;) {
		pthread_mutex_lock(&blk->io_lock);
		while (!blk->done_head && !blk->completer_stop)
			pthread_cond_wait(&blk->io_cond, &blk->io_lock);
		list = blk->done_head;
		blk->done_head = NULL;
		blk->done_tail = &blk->done_head;
		pthread_mutex_unlock(&blk->io_lock);
		if (!list)
			break;                       /* stopping, and nothing left */

		pthread_mutex_lock(&dev->lock);
		answered = false;
		while ((req = list)) {
			list = req->next;
			answered |= finish(blk, req);
		}
		after_finish(blk, answered);
		pthread_mutex_unlock(&dev->lock);
	}
	return NULL;
}

/* ---- virtio_dev_ops ----------------------------------------------------- */

static void blk_config_read(struct virtio_dev *dev, unsigned off, void *buf, unsigned len)
{
	struct virtio_blk *blk = dev->priv;

	memcpy(buf, blk->config + off, len);
}

static void blk_queue_notify(struct virtio_dev *dev, unsigned q)
{
	process_queue(dev->priv);
}

static void blk_activate(struct virtio_dev *dev)
{
	struct virtio_blk *blk = dev->priv;

	/* A driver that cannot flush expects a write-through cache. */
	blk->writethrough = !blk->read_only && !virtio_dev_has_feature(dev, VIRTIO_BLK_F_FLUSH);
}

static void blk_reset(struct virtio_dev *dev)
{
	struct virtio_blk *blk = dev->priv;

	/* Requests still with the engine are not answered (see finish), and
	 * once this returns none of them reads or writes guest memory. */
	blk->epoch++;
	blk->starved = false;
	blk->writethrough = false;
	pthread_mutex_lock(&blk->io_lock);
	while (blk->io_busy)
		pthread_cond_wait(&blk->io_cond, &blk->io_lock);
	pthread_mutex_unlock(&blk->io_lock);
}

static void stop_completer(struct virtio_blk *blk)
{
	pthread_mutex_lock(&blk->io_lock);
	blk->completer_stop = true;
	pthread_cond_broadcast(&blk->io_cond);
	pthread_mutex_unlock(&blk->io_lock);
	pthread_join(blk->completer, NULL);
}

static void free_blk(struct virtio_blk *blk)
{
	pthread_cond_destroy(&blk->io_cond);
	pthread_mutex_destroy(&blk->io_lock);
	free(blk->reqs);
	free(blk->path);
	free(blk);
}

static void blk_destroy(struct virtio_dev *dev)
{
	struct virtio_blk *blk = dev->priv;

	pthread_mutex_lock(&dev->lock);
	blk->stopping = true;
	pthread_mutex_unlock(&dev->lock);
	/* Waits for the engine's requests (no one reads their answers any
	 * more, the data are in the image), flushes the image, closes it. */
	blk_io_close(blk->io);
	stop_completer(blk);
	free_blk(blk);
}

#define BLK_OPS(feat) {                                          \
	.name = "virtio-blk",                                    \
	.device_id = VIRTIO_ID_BLOCK,                            \
	.num_queues = 1,                                         \
	.queue_max_size = VIRTIO_BLK_QUEUE_SIZE,                 \
	.features = (feat),                                      \
	.config_size = CONFIG_SIZE,                              \
	.config_read = blk_config_read,                          \
	.queue_notify = blk_queue_notify,                        \
	.activate = blk_activate,                                \
	.reset = blk_reset,                                      \
	.destroy = blk_destroy,                                  \
}

/* The offered features depend on the drive; the core keeps a pointer to
 * the ops for the device's life, so each kind has its own table. */
static const struct virtio_dev_ops ops_ro =
	BLK_OPS(BASE_FEATURES | (1ull << VIRTIO_BLK_F_RO));
static const struct virtio_dev_ops ops_rw =
	BLK_OPS(BASE_FEATURES | (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
static const struct virtio_dev_ops ops_rw_discard =
	BLK_OPS(BASE_FEATURES | (1ull << VIRTIO_BLK_F_WRITE_ZEROES) |
		(1ull << VIRTIO_BLK_F_DISCARD));

static void fill_config(struct virtio_blk *blk, bool discard)
{
	uint8_t *c = blk->config;

	put_le64(c + CFG_CAPACITY, blk->capacity);
	put_le32(c + CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX);
	put_le32(c + CFG_BLK_SIZE, SECTOR);
	put_le16(c + CFG_NUM_QUEUES, 1);
	if (discard) {
		put_le32(c + CFG_MAX_DISCARD_SECT, MAX_DISCARD_SECTORS);
		put_le32(c + CFG_MAX_DISCARD_SEG, 1);
		put_le32(c + CFG_DISCARD_ALIGN, DISCARD_ALIGN);
	}
	if (!blk->read_only) {
		put_le32(c + CFG_MAX_WZ_SECT, MAX_WZ_SECTORS);
		put_le32(c + CFG_MAX_WZ_SEG, 1);
		/* With the unmap flag the range is punched when it can be. */
		c[CFG_WZ_MAY_UNMAP] = discard;
	}
}

int virtio_blk_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg)
{
	const struct virtio_blk_config *cfg = arg;
	struct blk_io_opts opts = { 0 };
	const struct virtio_dev_ops *ops;
	struct virtio_blk *blk;
	sigset_t all, old;
	uint64_t size;
	bool discard;
	int r;

	if (!cfg || !cfg->path) {
		log_error("virtio-blk: no image given");
		if (cfg && cfg->fd >= 0)
			close(cfg->fd);
		return -EINVAL;
	}
	if (cfg->id && strlen(cfg->id) > VIRTIO_BLK_ID_BYTES) {
		log_error("virtio-blk: id '%s' is longer than %u bytes", cfg->id,
			  VIRTIO_BLK_ID_BYTES);
		if (cfg->fd >= 0)
			close(cfg->fd);
		return -EINVAL;
	}
	blk = calloc(1, sizeof(*blk));
	/* A slot's pages are touched only when the driver has that many
	 * requests in flight. */
	if (blk)
		blk->reqs = calloc(VIRTIO_BLK_QUEUE_SIZE, sizeof(*blk->reqs));
	if (!blk || !blk->reqs || !(blk->path = strdup(cfg->path))) {
		log_error("virtio-blk: out of memory");
		if (blk)
			free(blk->reqs);
		free(blk);
		if (cfg->fd >= 0)
			close(cfg->fd);
		return -ENOMEM;
	}
	blk->read_only = cfg->read_only;
	if (cfg->id)
		memcpy(blk->id, cfg->id, strlen(cfg->id));
	for (unsigned i = VIRTIO_BLK_QUEUE_SIZE; i-- > 0;) {
		blk->reqs[i].blk = blk;
		release(blk, &blk->reqs[i]);
	}
	pthread_mutex_init(&blk->io_lock, NULL);
	pthread_cond_init(&blk->io_cond, NULL);
	blk->done_tail = &blk->done_head;

	opts.read_only = cfg->read_only;
	opts.engine = cfg->engine;
	opts.depth = VIRTIO_BLK_QUEUE_SIZE;
	r = cfg->fd >= 0 ? blk_io_open_fd(&blk->io, cfg->fd, cfg->path, &opts)
			 : blk_io_open(&blk->io, cfg->path, &opts);
	if (r < 0) {
		free_blk(blk);
		return r;
	}
	size = blk_io_size(blk->io);
	blk->capacity = size / SECTOR;
	if (size % SECTOR)
		log_warn("disk image '%s': %llu bytes is not a whole number of %u-byte sectors; "
			 "the guest sees %llu sectors", cfg->path, (unsigned long long)size, SECTOR,
			 (unsigned long long)blk->capacity);
	discard = !blk->read_only && blk_io_can_discard(blk->io);
	ops = blk->read_only ? &ops_ro : discard ? &ops_rw_discard : &ops_rw;
	fill_config(blk, discard);

	blk->dev = dev;
	/* The completer touches dev only for completions, and there are
	 * none before the device is set up. Signals are for the main
	 * thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&blk->completer, NULL, completer, blk);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		log_error("virtio-blk: cannot start a thread: %s", strerror(-r));
		blk_io_close(blk->io);
		free_blk(blk);
		return r;
	}
	r = virtio_dev_init(dev, ops, mem, blk);
	if (r < 0) {
		stop_completer(blk);
		blk_io_close(blk->io);
		free_blk(blk);
		return r;
	}
	log_debug("virtio-blk: '%s', %llu sectors%s%s, I/O through %s", cfg->path,
		  (unsigned long long)blk->capacity, blk->read_only ? ", read-only" : "",
		  discard ? ", discard" : "", blk_io_engine_name(blk->io));
	return 0;
}

struct virtio_dev *virtio_blk_create(struct guest_mem *mem, const struct virtio_blk_config *cfg)
{
	struct virtio_dev *dev = calloc(1, sizeof(*dev));

	if (!dev) {
		log_error("virtio-blk: out of memory");
		return NULL;
	}
	if (virtio_blk_setup(dev, mem, cfg) < 0) {
		free(dev);
		return NULL;
	}
	return dev;
}

void virtio_blk_destroy(struct virtio_dev *dev)
{
	if (!dev)
		return;
	virtio_dev_destroy(dev);
	free(dev);
}
