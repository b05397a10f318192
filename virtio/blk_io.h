/* The I/O engine behind a virtio-blk drive: one image file (a regular file
 * or a block device) and asynchronous requests on it.
 *
 * A caller fills a struct blk_io_req and hands it to blk_io_submit; the
 * engine does the I/O and calls req->done on its own worker thread, once
 * per accepted request, with 0 or a negative errno. Short transfers are
 * continued until the request is whole; an end of file inside a request
 * (the image shrank under us) is -EIO.
 *
 * Two implementations sit behind this interface, chosen when the image is
 * opened: io_uring (when wisp was built with liburing and the kernel lets
 * us set up a ring with the operations we need), else a worker thread that
 * does each request with plain preadv/pwritev/fdatasync/fallocate. Which
 * one is used is said once at verbose level.
 *
 * Durability: a request completes once the kernel has taken the bytes
 * (the page cache for a file). BLK_IO_FLUSH makes everything completed
 * before it durable (fdatasync). blk_io_close waits for every request in
 * flight and runs fdatasync before closing, so nothing that completed is
 * lost however the VMM ends, as long as it ends through blk_io_close. */
#ifndef WISP_VIRTIO_BLK_IO_H
#define WISP_VIRTIO_BLK_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct blk_io;

enum blk_io_op {
	BLK_IO_READ,          /* offset, iov */
	BLK_IO_WRITE,         /* offset, iov */
	BLK_IO_FLUSH,         /* fdatasync */
	BLK_IO_DISCARD,       /* offset, len: deallocate (reads give zeroes) */
	BLK_IO_WRITE_ZEROES,  /* offset, len: reads give zeroes afterwards */
};

/* req->flags */
#define BLK_IO_F_SYNC  1u  /* WRITE: fdatasync before completing (writethrough) */
#define BLK_IO_F_UNMAP 2u  /* WRITE_ZEROES: the range may be deallocated */

struct blk_io_req;
/* Called on the engine's worker thread. It may reuse or free req, and may
 * submit new requests; it must not call blk_io_drain or blk_io_close. */
typedef void (*blk_io_done_fn)(struct blk_io_req *req, int result);

struct blk_io_req {
	/* Set by the caller. */
	enum blk_io_op op;
	unsigned flags;
	uint64_t offset;          /* bytes into the image */
	uint64_t len;             /* DISCARD, WRITE_ZEROES: bytes */
	/* READ, WRITE: the buffers. The engine consumes the array while the
	 * request runs (it advances it over short transfers), so its
	 * contents are undefined at completion. */
	struct iovec *iov;
	unsigned iovcnt;
	blk_io_done_fn done;
	void *opaque;             /* the caller's */

	/* The engine's own, untouched by the caller. */
	struct blk_io_req *next;
	uint64_t progress;        /* bytes done of the current stage */
	unsigned stage;
	int result;
	unsigned cut_idx;         /* an iovec shortened for one transfer ... */
	size_t cut_len;           /* ... and its full length */
	bool cut;
	struct iovec zero_iov[16];        /* WRITE_ZEROES written as zeroes */
};

enum blk_io_engine {
	BLK_IO_ENGINE_AUTO,       /* io_uring when it works, else the thread */
	BLK_IO_ENGINE_URING,
	BLK_IO_ENGINE_THREAD,
};

struct blk_io_opts {
	bool read_only;           /* open O_RDONLY; blk_io_submit refuses writes */
	enum blk_io_engine engine;
	/* The most requests the caller will have in flight at once (it sizes
	 * the ring); 0: 128. More are accepted, only less efficiently. */
	unsigned depth;
	/* Largest transfer per system call in bytes, 0: no limit but the
	 * kernel's. Small values split requests into many short transfers;
	 * tests use it to drive the continuation path. */
	uint64_t max_transfer;
};

/* The image at path, opened read-write (or read-only) for an engine: a
 * regular file or a block device, locked against a second writer
 * (exclusively for a writable image, shared for a read-only one; the
 * lock goes with the descriptor). Returns the descriptor, or without a
 * message a negative errno: open's, -EINVAL when it is neither a file nor
 * a block device, -EBUSY when another process holds the lock. */
int blk_io_image_open(const char *path, bool read_only);

/* The engine on an image from blk_io_image_open (opened as
 * opts->read_only says), which it takes over: it is closed on failure
 * too. path names the image in messages. Errors are reported on stderr
 * and returned as a negative errno; -ENOSYS: the engine asked for cannot
 * run. */
int blk_io_open_fd(struct blk_io **out, int fd, const char *path,
		   const struct blk_io_opts *opts);

/* blk_io_image_open and blk_io_open_fd, with a message naming the path
 * when the image cannot be had. */
int blk_io_open(struct blk_io **out, const char *path, const struct blk_io_opts *opts);

/* Size of the image in bytes, as found at open. */
uint64_t blk_io_size(const struct blk_io *io);
/* Whether DISCARD can deallocate here (punching a hole past the end of the
 * file worked when it was opened). DISCARD is accepted either way; without
 * this it fails with -EOPNOTSUPP and changes nothing. */
bool blk_io_can_discard(const struct blk_io *io);
/* "io_uring" or "thread". */
const char *blk_io_engine_name(const struct blk_io *io);

/* Start req. 0: req->done will be called; negative errno (nothing will be
 * called): -EINVAL for a malformed request or a range that does not lie
 * wholly inside the image (the engine never grows it), -EROFS for a
 * change to a read-only image, -ESHUTDOWN once blk_io_close has begun.
 * Thread-safe. */
int blk_io_submit(struct blk_io *io, struct blk_io_req *req);

/* Wait until every request submitted so far has completed and its done
 * callback has returned. Not from a done callback. */
void blk_io_drain(struct blk_io *io);

/* Refuse new requests, drain, fdatasync (for a writable image), stop the
 * worker, close the file, free io. Returns 0 or fdatasync's negative
 * errno (also reported on stderr). Not from a done callback. */
int blk_io_close(struct blk_io *io);

#endif
