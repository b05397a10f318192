#include "blk_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "vmm/log.h"

/* Each request runs through stages; each stage is one or more system
 * calls (steps). Both engines share this logic and differ only in how a
 * step is executed: synchronously on the worker thread, or as an io_uring
 * submission whose completion the worker reaps. */
enum stage {
	ST_RW,           /* preadv/pwritev until the iovec is consumed */
	ST_SYNC,         /* fdatasync */
	ST_PUNCH,        /* fallocate(PUNCH_HOLE) */
	ST_ZERO_RANGE,   /* fallocate(ZERO_RANGE) */
	ST_WRITE_ZEROES, /* pwritev from a buffer of zeroes */
	ST_DONE,
};

enum step_kind { SK_READV, SK_WRITEV, SK_FDATASYNC, SK_FALLOCATE };

struct step {
	enum step_kind kind;
	const struct iovec *iov;
	int iovcnt;
	uint64_t off;
	int mode;
	uint64_t len;
};

/* Source of WRITE_ZEROES when the file system cannot zero a range itself.
 * Only ever read (pwritev), though iov_base is not const. */
#define ZERO_CHUNK (64u << 10)
static char zero_buf[ZERO_CHUNK];

#define DEFAULT_DEPTH 128u

struct blk_io {
	int fd;
	bool read_only;
	bool can_discard;
	bool uring;
	uint64_t size;
	uint64_t max_transfer;
	char *path;
	/* Set once a fallocate mode is refused, so later requests go straight
	 * to what works. */
	atomic_bool no_punch, no_zero_range;
	bool said_io_error;

	pthread_mutex_t lock;
	pthread_cond_t wake;             /* thread engine: work arrived, or stop */
	pthread_cond_t idle;             /* inflight dropped to 0 */
	struct blk_io_req *head, **tail; /* submitted, not yet started */
	unsigned inflight;               /* submitted, done not yet returned */
	bool closing;                    /* new requests are refused */
	bool stop;                       /* the worker ends */
	pthread_t worker;

#ifdef HAVE_LIBURING
	struct io_uring ring;
	int efd;                         /* wakes the worker for new requests */
	uint64_t efd_buf;
#endif
};

/* ---- the shared request logic ------------------------------------------ */

static void finish(struct blk_io_req *req, int result)
{
	req->result = result;
	req->stage = ST_DONE;
}

/* Drop n transferred bytes from the front of req's iovec, and the empty
 * entries that follow, so that iovcnt 0 means everything is done. */
static void advance_iov(struct blk_io_req *req, size_t n)
{
	while (req->iovcnt && n >= req->iov[0].iov_len) {
		n -= req->iov[0].iov_len;
		req->iov++;
		req->iovcnt--;
	}
	if (req->iovcnt && n) {
		req->iov[0].iov_base = (char *)req->iov[0].iov_base + n;
		req->iov[0].iov_len -= n;
	}
	while (req->iovcnt && req->iov[0].iov_len == 0) {
		req->iov++;
		req->iovcnt--;
	}
}

static void uncut(struct blk_io_req *req)
{
	if (req->cut) {
		req->iov[req->cut_idx].iov_len = req->cut_len;
		req->cut = false;
	}
}

static unsigned first_stage(struct blk_io *io, const struct blk_io_req *req)
{
	switch (req->op) {
	case BLK_IO_READ:
		return req->iovcnt ? ST_RW : ST_DONE;
	case BLK_IO_WRITE:
		if (req->iovcnt)
			return ST_RW;
		return req->flags & BLK_IO_F_SYNC ? ST_SYNC : ST_DONE;
	case BLK_IO_FLUSH:
		return ST_SYNC;
	case BLK_IO_DISCARD:
		return req->len ? ST_PUNCH : ST_DONE;
	case BLK_IO_WRITE_ZEROES:
		if (!req->len)
			return ST_DONE;
		/* Deallocating is allowed only when the caller says so. */
		if ((req->flags & BLK_IO_F_UNMAP) && !atomic_load(&io->no_punch))
			return ST_PUNCH;
		return atomic_load(&io->no_zero_range) ? ST_WRITE_ZEROES : ST_ZERO_RANGE;
	}
	return ST_DONE;
}

static void prepare_step(struct blk_io *io, struct blk_io_req *req, struct step *s)
{
	uint64_t limit = io->max_transfer, sum = 0;
	unsigned i, n;

	memset(s, 0, sizeof(*s));
	switch (req->stage) {
	case ST_RW:
		s->kind = req->op == BLK_IO_READ ? SK_READV : SK_WRITEV;
		s->iov = req->iov;
		n = req->iovcnt < IOV_MAX ? req->iovcnt : IOV_MAX;
		/* A transfer limit shortens one entry for this call only;
		 * complete_step puts it back before advancing. */
		for (i = 0; limit && i < n; i++) {
			if (req->iov[i].iov_len >= limit - sum) {
				req->cut = true;
				req->cut_idx = i;
				req->cut_len = req->iov[i].iov_len;
				req->iov[i].iov_len = limit - sum;
				n = i + 1;
				break;
			}
			sum += req->iov[i].iov_len;
		}
		s->iovcnt = (int)n;
		s->off = req->offset + req->progress;
		break;
	case ST_SYNC:
		s->kind = SK_FDATASYNC;
		break;
	case ST_PUNCH:
	case ST_ZERO_RANGE:
		s->kind = SK_FALLOCATE;
		s->mode = FALLOC_FL_KEEP_SIZE | (req->stage == ST_PUNCH ?
			FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
		s->off = req->offset;
		s->len = req->len;
		break;
	case ST_WRITE_ZEROES: {
		uint64_t left = req->len - req->progress;
		unsigned cnt = 0;

		if (limit && left > limit)
			left = limit;
		while (left && cnt < sizeof(req->zero_iov) / sizeof(req->zero_iov[0])) {
			size_t chunk = left < ZERO_CHUNK ? (size_t)left : ZERO_CHUNK;

			req->zero_iov[cnt].iov_base = zero_buf;
			req->zero_iov[cnt].iov_len = chunk;
			left -= chunk;
			cnt++;
		}
		s->kind = SK_WRITEV;
		s->iov = req->zero_iov;
		s->iovcnt = (int)cnt;
		s->off = req->offset + req->progress;
		break;
	}
	}
}

/* The file system cannot do this fallocate mode; another way may work. */
static bool refused(long res)
{
	return res == -EOPNOTSUPP || res == -ENOSYS || res == -ENODEV || res == -EINVAL;
}

/* Account the result of one step. Returns true when req is finished (its
 * result is in req->result). */
static bool complete_step(struct blk_io *io, struct blk_io_req *req, long res)
{
	uncut(req);
	if (res == -EINTR || res == -EAGAIN)
		return false;                /* the same step again */
	switch (req->stage) {
	case ST_RW:
		if (res < 0) {
			finish(req, (int)res);
			break;
		}
		/* No progress: the image ended inside the request (it shrank
		 * under us) or the device takes no more. */
		if (res == 0) {
			finish(req, -EIO);
			break;
		}
		req->progress += (uint64_t)res;
		advance_iov(req, (size_t)res);
		if (req->iovcnt == 0) {
			if (req->op == BLK_IO_WRITE && (req->flags & BLK_IO_F_SYNC))
				req->stage = ST_SYNC;
			else
				finish(req, 0);
		}
		break;
	case ST_SYNC:
		finish(req, res < 0 ? (int)res : 0);
		break;
	case ST_PUNCH:
		if (res >= 0) {
			finish(req, 0);
		} else if (refused(res)) {
			atomic_store(&io->no_punch, true);
			if (req->op == BLK_IO_DISCARD)
				finish(req, -EOPNOTSUPP);
			else
				req->stage = atomic_load(&io->no_zero_range) ?
					ST_WRITE_ZEROES : ST_ZERO_RANGE;
		} else {
			finish(req, (int)res);
		}
		break;
	case ST_ZERO_RANGE:
		if (res >= 0) {
			finish(req, 0);
		} else if (refused(res)) {
			atomic_store(&io->no_zero_range, true);
			req->stage = ST_WRITE_ZEROES;
			req->progress = 0;
		} else {
			finish(req, (int)res);
		}
		break;
	case ST_WRITE_ZEROES:
		if (res <= 0) {
			finish(req, res < 0 ? (int)res : -EIO);
			break;
		}
		req->progress += (uint64_t)res;
		if (req->progress >= req->len)
			finish(req, 0);
		break;
	}
	if (req->stage == ST_DONE && req->result < 0 && req->result != -EOPNOTSUPP &&
	    !io->said_io_error) {
		/* Worth one line: the guest only sees an I/O error. */
		io->said_io_error = true;
		log_warn("disk image '%s': I/O error: %s (reported to the guest)",
			 io->path, strerror(-req->result));
	}
	return req->stage == ST_DONE;
}

static void start_request(struct blk_io *io, struct blk_io_req *req)
{
	req->progress = 0;
	req->result = 0;
	req->cut = false;
	advance_iov(req, 0);
	req->stage = first_stage(io, req);
}

/* req's callback has returned. */
static void finish_one(struct blk_io *io)
{
	pthread_mutex_lock(&io->lock);
	if (--io->inflight == 0)
		pthread_cond_broadcast(&io->idle);
	pthread_mutex_unlock(&io->lock);
}

/* ---- the thread engine ------------------------------------------------- */

static long exec_step(struct blk_io *io, const struct step *s)
{
	long r = -EINVAL;

	switch (s->kind) {
	case SK_READV:
		r = preadv(io->fd, s->iov, s->iovcnt, (off_t)s->off);
		break;
	case SK_WRITEV:
		r = pwritev(io->fd, s->iov, s->iovcnt, (off_t)s->off);
		break;
	case SK_FDATASYNC:
		r = fdatasync(io->fd);
		break;
	case SK_FALLOCATE:
		r = fallocate(io->fd, s->mode, (off_t)s->off, (off_t)s->len);
		break;
	}
	return r < 0 ? -errno : r;
}

static void *thread_worker(void *arg)
{
	struct blk_io *io = arg;
	struct blk_io_req *req;
	struct step s;

	for (;;) {
		pthread_mutex_lock(&io->lock);
		while (!io->head && !io->stop)
			pthread_cond_wait(&io->wake, &io->lock);
		req = io->head;
		if (!req) {
			pthread_mutex_unlock(&io->lock);
			break;
		}
		io->head = req->next;
		if (!io->head)
			io->tail = &io->head;
		pthread_mutex_unlock(&io->lock);

		while (req->stage != ST_DONE) {
			prepare_step(io, req, &s);
			complete_step(io, req, exec_step(io, &s));
		}
		req->done(req, req->result);
		finish_one(io);
	}
	return NULL;
}

/* ---- the io_uring engine ----------------------------------------------- */

#ifdef HAVE_LIBURING

/* user_data of the eventfd read, told apart from requests. */
#define EFD_TAG ((uint64_t)1)

static struct io_uring_sqe *get_sqe(struct blk_io *io)
{
	struct io_uring_sqe *sqe;

	/* A full submission queue is emptied by submitting it; on a
	 * transient failure the entries stay queued for the next try. */
	while (!(sqe = io_uring_get_sqe(&io->ring)))
		io_uring_submit(&io->ring);
	return sqe;
}

static void arm_eventfd(struct blk_io *io)
{
	struct io_uring_sqe *sqe = get_sqe(io);

	io_uring_prep_read(sqe, io->efd, &io->efd_buf, sizeof(io->efd_buf), 0);
	sqe->user_data = EFD_TAG;
}

static void queue_step(struct blk_io *io, struct blk_io_req *req)
{
	struct io_uring_sqe *sqe = get_sqe(io);
	struct step s;

	prepare_step(io, req, &s);
	switch (s.kind) {
	case SK_READV:
		io_uring_prep_readv(sqe, io->fd, s.iov, (unsigned)s.iovcnt, s.off);
		break;
	case SK_WRITEV:
		io_uring_prep_writev(sqe, io->fd, s.iov, (unsigned)s.iovcnt, s.off);
		break;
	case SK_FDATASYNC:
		io_uring_prep_fsync(sqe, io->fd, IORING_FSYNC_DATASYNC);
		break;
	case SK_FALLOCATE:
		io_uring_prep_fallocate(sqe, io->fd, s.mode, (off_t)s.off, (off_t)s.len);
		break;
	}
	io_uring_sqe_set_data(sqe, req);
}

static void *uring_worker(void *arg)
{
	struct blk_io *io = arg;
	struct io_uring_cqe *cqe;
	struct blk_io_req *batch, *req;
	unsigned in_ring = 0;        /* requests with a step in the ring */
	bool said_error = false;
	int r;

	for (;;) {
		pthread_mutex_lock(&io->lock);
		batch = io->head;
		io->head = NULL;
		io->tail = &io->head;
		if (!batch && io->stop && in_ring == 0) {
			pthread_mutex_unlock(&io->lock);
			break;
		}
		pthread_mutex_unlock(&io->lock);

		while ((req = batch)) {
			batch = req->next;
			if (req->stage == ST_DONE) {
				req->done(req, req->result);
				finish_one(io);
			} else {
				queue_step(io, req);
				in_ring++;
			}
		}

		/* The eventfd read is always in the ring, so this returns when
		 * a request completes or a new one is submitted. */
		r = io_uring_submit_and_wait(&io->ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && !said_error) {
			said_error = true;
			log_error("disk image '%s': io_uring: %s", io->path, strerror(-r));
		}

		while (io_uring_peek_cqe(&io->ring, &cqe) == 0) {
			uint64_t data = cqe->user_data;
			long res = cqe->res;

			io_uring_cqe_seen(&io->ring, cqe);
			if (data == EFD_TAG) {
				arm_eventfd(io);
				continue;
			}
			req = (struct blk_io_req *)(uintptr_t)data;
			if (!complete_step(io, req, res)) {
				queue_step(io, req);
				continue;
			}
			in_ring--;
			req->done(req, req->result);
			finish_one(io);
		}
	}
	return NULL;
}

static void wake_uring(struct blk_io *io)
{
	uint64_t one = 1;

	/* Only fails when the counter would overflow: the worker is then
	 * woken already. */
	if (write(io->efd, &one, sizeof(one)) < 0) {
		/* nothing to do */
	}
}

/* 0, or why io_uring cannot serve this image. */
static int uring_setup(struct blk_io *io, unsigned depth)
{
	static const int needed[] = {
		IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
		IORING_OP_FALLOCATE, IORING_OP_READ,
	};
	struct io_uring_probe *probe;
	unsigned entries = depth + 1;    /* + the eventfd read */
	size_t i;
	int r;

	if (entries > 4096)
		entries = 4096;
	r = io_uring_queue_init(entries, &io->ring, 0);
	if (r < 0)
		return r;
	probe = io_uring_get_probe_ring(&io->ring);
	r = probe ? 0 : -ENOSYS;
	for (i = 0; probe && i < sizeof(needed) / sizeof(needed[0]); i++)
		if (!io_uring_opcode_supported(probe, needed[i]))
			r = -ENOSYS;
	if (probe)
		io_uring_free_probe(probe);
	if (r == 0) {
		io->efd = eventfd(0, EFD_CLOEXEC);
		if (io->efd < 0)
			r = -errno;
	}
	if (r < 0) {
		io_uring_queue_exit(&io->ring);
		return r;
	}
	arm_eventfd(io);
	return 0;
}

static void uring_teardown(struct blk_io *io)
{
	io_uring_queue_exit(&io->ring);
	close(io->efd);
}

#else

static int uring_setup(struct blk_io *io, unsigned depth)
{
	return -ENOSYS;
}

static void *uring_worker(void *arg)
{
	return NULL;
}

static void wake_uring(struct blk_io *io) {}
static void uring_teardown(struct blk_io *io) {}

#endif

/* ---- opening and closing ----------------------------------------------- */

/* Whether a block device discards: its queue says how much it takes. */
static bool bdev_discards(const struct stat *st)
{
	char path[128];
	unsigned long long max = 0;
	FILE *f;

	/* A partition has no queue of its own: its disk's is one up. */
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/discard_max_bytes",
		 major(st->st_rdev), minor(st->st_rdev));
	f = fopen(path, "re");
	if (!f) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../queue/discard_max_bytes",
			 major(st->st_rdev), minor(st->st_rdev));
		f = fopen(path, "re");
	}
	if (!f)
		return false;
	if (fscanf(f, "%llu", &max) != 1)
		max = 0;
	fclose(f);
	return max > 0;
}

/* Whether punching holes works, tried where it changes nothing: a page
 * past the end of the file (KEEP_SIZE keeps the size). */
static bool file_punches(int fd, uint64_t size)
{
	uint64_t off = (size + 4095) & ~(uint64_t)4095;

	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)off, 4096) == 0;
}

static void say_engine_once(const struct blk_io *io, int uring_err)
{
	static atomic_bool said_uring, said_thread;

	if (io->uring) {
		if (!atomic_exchange(&said_uring, true))
			log_debug("virtio-blk: disk I/O through io_uring");
	} else if (!atomic_exchange(&said_thread, true)) {
		if (uring_err)
			log_debug("virtio-blk: disk I/O on a worker thread (io_uring: %s)",
				  strerror(-uring_err));
		else
			log_debug("virtio-blk: disk I/O on a worker thread");
	}
}

int blk_io_image_open(const char *path, bool read_only)
{
	struct stat st;
	int fd, r;

	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		r = -EINVAL;
		goto fail;
	}
	/* Two writers on one image corrupt it; readers may share it. */
	if (flock(fd, (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

int blk_io_open(struct blk_io **out, const char *path, const struct blk_io_opts *opts)
{
	int fd = blk_io_image_open(path, opts && opts->read_only);

	*out = NULL;
	if (fd < 0) {
		log_error("disk image '%s': %s", path,
			  fd == -EINVAL ? "not a regular file or a block device" :
			  fd == -EBUSY ? "in use by another process (locked)" : strerror(-fd));
		return fd;
	}
	return blk_io_open_fd(out, fd, path, opts);
}

int blk_io_open_fd(struct blk_io **out, int fd, const char *path,
		   const struct blk_io_opts *opts)
{
	static const struct blk_io_opts defaults;
	struct blk_io *io;
	struct stat st;
	sigset_t all, old;
	unsigned depth;
	int r, uring_err = 0;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	depth = opts->depth ? opts->depth : DEFAULT_DEPTH;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		log_error("disk image '%s': %s", path, strerror(-r));
		goto fail_fd;
	}

	io = calloc(1, sizeof(*io));
	if (!io || !(io->path = strdup(path))) {
		free(io);
		log_error("disk image '%s': out of memory", path);
		r = -ENOMEM;
		goto fail_fd;
	}
	io->fd = fd;
	io->read_only = opts->read_only;
	io->max_transfer = opts->max_transfer;
	if (S_ISBLK(st.st_mode)) {
		uint64_t bytes = 0;

		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
			r = -errno;
			log_error("disk image '%s': cannot get its size: %s", path, strerror(-r));
			goto fail_io;
		}
		io->size = bytes;
		io->can_discard = !io->read_only && bdev_discards(&st);
	} else {
		io->size = (uint64_t)st.st_size;
		io->can_discard = !io->read_only && file_punches(fd, io->size);
	}
	atomic_init(&io->no_punch, !io->can_discard);
	atomic_init(&io->no_zero_range, false);
	pthread_mutex_init(&io->lock, NULL);
	pthread_cond_init(&io->wake, NULL);
	pthread_cond_init(&io->idle, NULL);
	io->tail = &io->head;

	if (opts->engine != BLK_IO_ENGINE_THREAD) {
		uring_err = uring_setup(io, depth);
		if (uring_err == 0) {
			io->uring = true;
		} else if (opts->engine == BLK_IO_ENGINE_URING) {
			log_error("disk image '%s': io_uring cannot be used: %s", path,
				  strerror(-uring_err));
			r = -ENOSYS;
			goto fail_sync;
		}
	}

	/* Signals are for the main thread: the worker never takes one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&io->worker, NULL, io->uring ? uring_worker : thread_worker, io);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		log_error("disk image '%s': cannot start its I/O thread: %s", path, strerror(-r));
		if (io->uring)
			uring_teardown(io);
		goto fail_sync;
	}
	say_engine_once(io, uring_err);
	*out = io;
	return 0;

fail_sync:
	pthread_cond_destroy(&io->idle);
	pthread_cond_destroy(&io->wake);
	pthread_mutex_destroy(&io->lock);
fail_io:
	free(io->path);
	free(io);
fail_fd:
	close(fd);
	return r;
}

uint64_t blk_io_size(const struct blk_io *io) { return io->size; }
bool blk_io_can_discard(const struct blk_io *io) { return io->can_discard; }
const char *blk_io_engine_name(const struct blk_io *io) { return io->uring ? "io_uring" : "thread"; }

/* Total bytes of an iovec, or false when it overflows. */
static bool iov_total(const struct iovec *iov, unsigned cnt, uint64_t *total)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < cnt; i++) {
		if (iov[i].iov_len > UINT64_MAX - sum)
			return false;
		sum += iov[i].iov_len;
	}
	*total = sum;
	return true;
}

int blk_io_submit(struct blk_io *io, struct blk_io_req *req)
{
	uint64_t len = req->len;
	bool wake;

	if (!req->done)
		return -EINVAL;
	switch (req->op) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		if ((req->iovcnt && !req->iov) || !iov_total(req->iov, req->iovcnt, &len))
			return -EINVAL;
		break;
	case BLK_IO_FLUSH:
		len = 0;
		break;
	case BLK_IO_DISCARD:
	case BLK_IO_WRITE_ZEROES:
		break;
	default:
		return -EINVAL;
	}
	if (req->op != BLK_IO_FLUSH && (req->offset > io->size || len > io->size - req->offset))
		return -EINVAL;
	if (io->read_only && req->op != BLK_IO_READ && req->op != BLK_IO_FLUSH)
		return -EROFS;

	start_request(io, req);
	req->next = NULL;
	pthread_mutex_lock(&io->lock);
	if (io->closing) {
		pthread_mutex_unlock(&io->lock);
		return -ESHUTDOWN;
	}
	io->inflight++;
	wake = !io->head;
	*io->tail = req;
	io->tail = &req->next;
	if (!io->uring)
		pthread_cond_signal(&io->wake);
	pthread_mutex_unlock(&io->lock);
	/* A non-empty list means a wake-up is already on its way. */
	if (io->uring && wake)
		wake_uring(io);
	return 0;
}

void blk_io_drain(struct blk_io *io)
{
	pthread_mutex_lock(&io->lock);
	while (io->inflight)
		pthread_cond_wait(&io->idle, &io->lock);
	pthread_mutex_unlock(&io->lock);
}

int blk_io_close(struct blk_io *io)
{
	int r = 0;

	pthread_mutex_lock(&io->lock);
	io->closing = true;
	while (io->inflight)
		pthread_cond_wait(&io->idle, &io->lock);
	io->stop = true;
	pthread_cond_signal(&io->wake);
	pthread_mutex_unlock(&io->lock);
	if (io->uring)
		wake_uring(io);
	pthread_join(io->worker, NULL);

	/* Everything the guest was told is written reaches the disk before
	 * the image is let go. */
	if (!io->read_only && fdatasync(io->fd) < 0) {
		r = -errno;
		log_error("disk image '%s': cannot flush it: %s", io->path, strerror(-r));
	}
	if (io->uring)
		uring_teardown(io);
	close(io->fd);
	pthread_cond_destroy(&io->idle);
	pthread_cond_destroy(&io->wake);
	pthread_mutex_destroy(&io->lock);
	free(io->path);
	free(io);
	return r;
}
