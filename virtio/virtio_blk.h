/* virtio-blk, the block device (virtio 1.x 5.2): one image file or block
 * device as a disk of 512-byte sectors, on one request queue of
 * VIRTIO_BLK_QUEUE_SIZE entries.
 *
 * Offered: SEG_MAX (VIRTIO_BLK_SEG_MAX data segments per request),
 * BLK_SIZE (512), FLUSH; RO for a read-only drive; for a writable one
 * WRITE_ZEROES always (fallocate, else zeroes written) and DISCARD where
 * the image can punch holes. One discard or write-zeroes segment per
 * request. Without FLUSH negotiated, writes are written through
 * (fdatasync before they complete).
 *
 * Requests: the 16-byte header anywhere in the readable buffers, data,
 * and the status byte as the last writable byte. A request the device
 * can answer but not serve gets IOERR (out of the disk, lengths not whole
 * sectors, buffers the wrong way round, a write on a read-only drive) or
 * UNSUPP (an unknown type or flag); one without a writable byte has no
 * answer: the device then needs a reset. Requests are served
 * asynchronously by the I/O engine (blk_io.h); completions are pushed
 * from its thread under dev->lock.
 *
 * Durability: FLUSH makes every completed write durable; destroying the
 * device (virtio_dev_destroy through the transport, or
 * virtio_blk_destroy) waits for requests in flight and flushes the image,
 * so what the guest was told is written survives a power-off or a
 * SIGTERM of wisp as long as teardown runs.
 *
 * Wiring, with the virtio-mmio transport (virtio_mmio.h):
 *
 *     struct virtio_blk_config cfg = { .path = "disk.img", .fd = -1,
 *                                      .read_only = false, .id = "wisp-disk0" };
 *     m = virtio_mmio_create(p, base, gsi, virtio_blk_setup, &cfg);
 *     ...                      (all vCPUs stopped)
 *     virtio_mmio_destroy(m);  (drains, flushes, closes the image)
 *
 * cfg is only read during setup. Or standalone, for a transport that takes
 * a ready device: virtio_blk_create / virtio_blk_destroy. */
#ifndef WISP_VIRTIO_VIRTIO_BLK_H
#define WISP_VIRTIO_VIRTIO_BLK_H

#include <stdbool.h>

#include "blk_io.h"
#include "virtqueue.h"

struct guest_mem;
struct virtio_dev;

#define VIRTIO_BLK_QUEUE_SIZE 256u
#define VIRTIO_BLK_ID_BYTES   20u    /* GET_ID's answer */

struct virtio_blk_config {
	const char *path;          /* the image: a regular file or a block device */
	/* The image already opened by blk_io_image_open (as read_only
	 * says), which the device takes over: closed when setup fails too.
	 * -1: the device opens path itself. */
	int fd;
	bool read_only;            /* opened read-only; the guest sees RO */
	/* The serial GET_ID answers (Linux: /sys/block/vdX/serial), at most
	 * VIRTIO_BLK_ID_BYTES bytes; NULL: none. */
	const char *id;
	/* The I/O engine; BLK_IO_ENGINE_AUTO (0) picks io_uring when it
	 * works. */
	enum blk_io_engine engine;
};

/* A virtio_dev_setup_fn (virtio_mmio.h): opens cfg->path and fills dev.
 * arg is a const struct virtio_blk_config *. Returns 0, or a negative
 * errno after one message naming the image (cannot be opened, not a file
 * or block device, locked by another process, id too long). */
int virtio_blk_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg);

/* The same as a device of its own: NULL after one message on failure.
 * Free it with virtio_blk_destroy (never plain virtio_dev_destroy: the
 * struct virtio_dev itself is this function's allocation). */
struct virtio_dev *virtio_blk_create(struct guest_mem *mem, const struct virtio_blk_config *cfg);
/* After every vCPU stopped and the transport let go of dev: waits for
 * requests in flight, flushes and closes the image, frees dev. NULL is
 * allowed. */
void virtio_blk_destroy(struct virtio_dev *dev);

/* Data segments per request the device accepts (config seg_max): the
 * chain limit less the header and the status. */
#define VIRTIO_BLK_SEG_MAX (VIRTQ_MAX_SEGS - 2)

#endif
