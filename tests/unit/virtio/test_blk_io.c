/* The disk I/O engine on a temporary image: every test runs once with the
 * worker-thread engine and once with io_uring (skipped where the kernel or
 * the build has none), and checks the bytes in the file itself. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/unit/virtio/test_image.h"
#include "virtio/blk_io.h"

#define IMAGE_SIZE (1u << 20)

static enum blk_io_engine engine;

/* Completions, counted under a lock the test waits on. */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned done;
	int last_result;
	int results[256];
	pthread_t thread;
};

static struct waiter w;

static void on_done(struct blk_io_req *req, int result)
{
	pthread_mutex_lock(&w.lock);
	if (w.done < 256)
		w.results[w.done] = result;
	w.done++;
	w.last_result = result;
	w.thread = pthread_self();
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
}

static void waiter_reset(void)
{
	pthread_mutex_lock(&w.lock);
	w.done = 0;
	w.last_result = 1;
	pthread_mutex_unlock(&w.lock);
}

/* Wait (at most 10 s) for n completions in all. */
static void wait_done(unsigned n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&w.lock);
	while (w.done < n)
		if (pthread_cond_timedwait(&w.cond, &w.lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&w.lock);
	assert_int_equal(w.done, n);
}

struct fixture {
	char path[64];
	int fd;                  /* the test's own view of the image */
	struct blk_io *io;
};

/* An image of IMAGE_SIZE bytes of pattern in dir, opened with opts. */
static int make_image(struct fixture *x, const char *dir, const struct blk_io_opts *opts)
{
	int r;

	x->fd = test_image_create(x->path, sizeof(x->path), dir, "wisp-blkio", IMAGE_SIZE);
	if (x->fd < 0)
		return x->fd;
	r = blk_io_open(&x->io, x->path, opts);
	if (r < 0) {
		close(x->fd);
		unlink(x->path);
	}
	return r;
}

static void drop_image(struct fixture *x)
{
	if (x->io)
		assert_int_equal(blk_io_close(x->io), 0);
	close(x->fd);
	unlink(x->path);
}

/* Open with this run's engine; skip the test where it cannot run. */
static void open_or_skip(struct fixture *x, const char *dir, struct blk_io_opts *opts)
{
	int r;

	opts->engine = engine;
	r = make_image(x, dir, opts);
	if (r == -ENOSYS)
		skip();
	assert_int_equal(r, 0);
	assert_string_equal(blk_io_engine_name(x->io),
			    engine == BLK_IO_ENGINE_URING ? "io_uring" : "thread");
}

static void submit_ok(struct blk_io *io, struct blk_io_req *req)
{
	req->done = on_done;
	assert_int_equal(blk_io_submit(io, req), 0);
}

/* Submit one request and wait for it; its result. */
static int run(struct blk_io *io, struct blk_io_req *req)
{
	waiter_reset();
	submit_ok(io, req);
	wait_done(1);
	return w.last_result;
}

/* ---- the tests ----------------------------------------------------------- */

static void open_refuses_what_is_not_an_image(void **state)
{
	struct blk_io_opts opts = { .engine = BLK_IO_ENGINE_THREAD };
	struct blk_io *io = (struct blk_io *)1;

	assert_int_equal(blk_io_open(&io, "/nonexistent/disk.img", &opts), -ENOENT);
	assert_null(io);
	assert_int_equal(blk_io_open(&io, "/tmp", &opts), -EISDIR);
	opts.read_only = true;
	assert_int_equal(blk_io_open(&io, "/tmp", &opts), -EINVAL);
	assert_int_equal(blk_io_open(&io, "/dev/null", &opts), -EINVAL);
	assert_null(io);
}

static void size_and_lock(void **state)
{
	struct blk_io_opts opts = { 0 };
	struct fixture x = { 0 };
	struct blk_io *other;

	open_or_skip(&x, "/tmp", &opts);
	assert_int_equal(blk_io_size(x.io), IMAGE_SIZE);
	/* A second writer, or a reader beside a writer, is refused. */
	opts.engine = BLK_IO_ENGINE_THREAD;
	assert_int_equal(blk_io_open(&other, x.path, &opts), -EBUSY);
	opts.read_only = true;
	assert_int_equal(blk_io_open(&other, x.path, &opts), -EBUSY);
	drop_image(&x);
}

/* The image opened apart, as wisp does before its threads start, and the
 * engine taking the descriptor over. */
static void engine_takes_an_opened_image(void **state)
{
	struct blk_io_opts opts = { .engine = BLK_IO_ENGINE_THREAD };
	struct fixture x = { 0 };
	struct blk_io *io;
	int fd;

	open_or_skip(&x, "/tmp", &opts);
	/* Held by the fixture's engine: a second writer is refused. */
	assert_int_equal(blk_io_image_open(x.path, false), -EBUSY);
	assert_int_equal(blk_io_image_open(x.path, true), -EBUSY);
	assert_int_equal(blk_io_close(x.io), 0);
	x.io = NULL;
	assert_int_equal(blk_io_image_open("/nonexistent/disk.img", true), -ENOENT);
	assert_int_equal(blk_io_image_open("/dev/null", true), -EINVAL);

	fd = blk_io_image_open(x.path, false);
	assert_true(fd >= 0);
	assert_int_equal(blk_io_open_fd(&io, fd, x.path, &opts), 0);
	assert_int_equal(blk_io_size(io), IMAGE_SIZE);
	/* The lock came with the descriptor. */
	assert_int_equal(blk_io_image_open(x.path, true), -EBUSY);
	assert_int_equal(blk_io_close(io), 0);
	assert_true(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
	drop_image(&x);
}

static void readers_share_an_image(void **state)
{
	struct blk_io_opts opts = { .read_only = true };
	struct fixture x = { 0 };
	struct blk_io *other;

	open_or_skip(&x, "/tmp", &opts);
	assert_int_equal(blk_io_open(&other, x.path, &opts), 0);
	assert_int_equal(blk_io_close(other), 0);
	drop_image(&x);
}

static void write_then_read_back(void **state)
{
	struct blk_io_opts opts = { 0 };
	struct fixture x = { 0 };
	uint8_t a[1000], b[3096], back_a[1000], back_b[3096];
	struct iovec iov[3];
	struct blk_io_req req = { 0 };

	open_or_skip(&x, "/tmp", &opts);
	test_pattern(a, sizeof(a), 50);
	test_pattern(b, sizeof(b), 90);
	iov[0] = (struct iovec){ a, sizeof(a) };
	iov[1] = (struct iovec){ NULL, 0 };      /* empty entries are fine */
	iov[2] = (struct iovec){ b, sizeof(b) };
	req = (struct blk_io_req){ .op = BLK_IO_WRITE, .offset = 8192, .iov = iov, .iovcnt = 3 };
	assert_int_equal(run(x.io, &req), 0);
	test_image_expect(x.fd, 8192, a, sizeof(a));
	test_image_expect(x.fd, 8192 + sizeof(a), b, sizeof(b));
	test_image_expect_pattern(x.fd, 0, 8192);
	test_image_expect_pattern(x.fd, 12288, 4096);

	iov[0] = (struct iovec){ back_a, sizeof(back_a) };
	iov[1] = (struct iovec){ back_b, sizeof(back_b) };
	req = (struct blk_io_req){ .op = BLK_IO_READ, .offset = 8192, .iov = iov, .iovcnt = 2 };
	assert_int_equal(run(x.io, &req), 0);
	assert_memory_equal(back_a, a, sizeof(a));
	assert_memory_equal(back_b, b, sizeof(b));
	/* The callback comes from the engine's thread. */
	assert_false(pthread_equal(w.thread, pthread_self()));
	drop_image(&x);
}

/* With a transfer limit every request is split into many short transfers
 * that the engine has to continue, across iovec boundaries. */
static void short_transfers_are_continued(void **state)
{
	struct blk_io_opts opts = { .max_transfer = 777 };
	struct fixture x = { 0 };
	enum { N = 5 };
	static uint8_t buf[N][10000], back[N][10000];
	struct iovec iov[N];
	struct blk_io_req req;

	open_or_skip(&x, "/tmp", &opts);
	for (int i = 0; i < N; i++) {
		test_pattern(buf[i], sizeof(buf[i]), 200 + i);
		iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) - i * 1000 };
	}
	req = (struct blk_io_req){ .op = BLK_IO_WRITE, .offset = 3, .iov = iov, .iovcnt = N };
	assert_int_equal(run(x.io, &req), 0);
	uint64_t off = 3;
	for (int i = 0; i < N; i++) {
		test_image_expect(x.fd, off, buf[i], sizeof(buf[i]) - i * 1000);
		off += sizeof(buf[i]) - i * 1000;
	}
	test_image_expect_pattern(x.fd, off, 4096);

	for (int i = 0; i < N; i++)
		iov[i] = (struct iovec){ back[i], sizeof(back[i]) - i * 1000 };
	req = (struct blk_io_req){ .op = BLK_IO_READ, .offset = 3, .iov = iov, .iovcnt = N };
	assert_int_equal(run(x.io, &req), 0);
	for (int i = 0; i < N; i++)
		assert_memory_equal(back[i], buf[i], sizeof(buf[i]) - i * 1000);
	drop_image(&x);
}

static void flush_and_sync_writes(void **state)
{
	struct blk_io_opts opts = { 0 };
	struct fixture x = { 0 };
	uint8_t data[512];
	struct iovec iov = { data, sizeof(data) };
	struct blk_io_req req = { .op = BLK_IO_FLUSH };

	open_or_skip(&x, "/tmp", &opts);
	assert_int_equal(run(x.io, &req), 0);
	memset(data, 0xa5, sizeof(data));
	req = (struct blk_io_req){ .op = BLK_IO_WRITE, .flags = BLK_IO_F_SYNC,
				   .offset = 512, .iov = &iov, .iovcnt = 1 };
	assert_int_equal(run(x.io, &req), 0);
	test_image_expect(x.fd, 512, data, sizeof(data));
	drop_image(&x);
}

static uint64_t allocated(struct fixture *x)
{
	struct stat st;

	assert_int_equal(fstat(x->fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static void discard_deallocates(void **state)
{
	struct blk_io_opts opts = { 0 };
	struct fixture x = { 0 };
	struct blk_io_req req;
	uint64_t before;

	open_or_skip(&x, "/tmp", &opts);
	if (!blk_io_can_discard(x.io))
		skip();
	before = allocated(&x);
	req = (struct blk_io_req){ .op = BLK_IO_DISCARD, .offset = 65536, .len = 262144 };
	assert_int_equal(run(x.io, &req), 0);
	test_image_expect_zero(x.fd, 65536, 262144);
	test_image_expect_pattern(x.fd, 0, 65536);
	test_image_expect_pattern(x.fd, 65536 + 262144, 4096);
	assert_true(allocated(&x) <= before - 262144);
	assert_int_equal(lseek(x.fd, 0, SEEK_END), IMAGE_SIZE);
	drop_image(&x);
}

static void write_zeroes_both_ways(void **state)
{
	struct blk_io_opts opts = { 0 };
	struct fixture x = { 0 };
	struct blk_io_req req;

	open_or_skip(&x, "/tmp", &opts);
	req = (struct blk_io_req){ .op = BLK_IO_WRITE_ZEROES, .offset = 1536, .len = 5120 };
	assert_int_equal(run(x.io, &req), 0);
	test_image_expect_zero(x.fd, 1536, 5120);
	test_image_expect_pattern(x.fd, 0, 1536);
	test_image_expect_pattern(x.fd, 6656, 4096);

	req = (struct blk_io_req){ .op = BLK_IO_WRITE_ZEROES, .flags = BLK_IO_F_UNMAP,
				   .offset = 131072, .len = 131072 };
	assert_int_equal(run(x.io, &req), 0);
	test_image_expect_zero(x.fd, 131072, 131072);
	test_image_expect_pattern(x.fd, 262144, 4096);
	assert_int_equal(lseek(x.fd, 0, SEEK_END), IMAGE_SIZE);
	drop_image(&x);
}

/* tmpfs punches holes but cannot zero a range: write-zeroes then writes
 * zeroes, in short transfers here. */
static void write_zeroes_falls_back_to_writing(void **state)
{
	struct blk_io_opts opts = { .max_transfer = 100000 };
	struct fixture x = { 0 };
	struct blk_io_req req;
	struct stat st;

	if (stat("/dev/shm", &st) < 0 || !S_ISDIR(st.st_mode))
		skip();
	open_or_skip(&x, "/dev/shm", &opts);
	for (int i = 0; i < 2; i++) {        /* refused, then known refused */
		uint64_t off = 4096 + i * 400000;

		req = (struct blk_io_req){ .op = BLK_IO_WRITE_ZEROES, .offset = off, .len = 300032 };
		assert_int_equal(run(x.io, &req), 0);
		test_image_expect_zero(x.fd, off, 300032);
		test_image_expect_pattern(x.fd, off - 512, 512);
		test_image_expect_pattern(x.fd, off + 300032, 512);
	}
	drop_image(&x);
}

static void bad_requests_refused(void **state)
{
	struct blk_io_opts opts = { 0 };
	struct fixture x = { 0 };
	uint8_t data[1024];
	struct iovec iov = { data, sizeof(data) };
	struct blk_io_req req;

	open_or_skip(&x, "/tmp", &opts);
	req = (struct blk_io_req){ .op = BLK_IO_WRITE, .offset = IMAGE_SIZE - 512,
				   .iov = &iov, .iovcnt = 1, .done = on_done };
	assert_int_equal(blk_io_submit(x.io, &req), -EINVAL);
	req.op = BLK_IO_READ;
	assert_int_equal(blk_io_submit(x.io, &req), -EINVAL);
	req = (struct blk_io_req){ .op = BLK_IO_DISCARD, .offset = 4096, .len = UINT64_MAX - 100,
				   .done = on_done };
	assert_int_equal(blk_io_submit(x.io, &req), -EINVAL);
	req = (struct blk_io_req){ .op = (enum blk_io_op)99, .done = on_done };
	assert_int_equal(blk_io_submit(x.io, &req), -EINVAL);
	req = (struct blk_io_req){ .op = BLK_IO_FLUSH };       /* no callback */
	assert_int_equal(blk_io_submit(x.io, &req), -EINVAL);
	/* The image never grew. */
	assert_int_equal(lseek(x.fd, 0, SEEK_END), IMAGE_SIZE);
	drop_image(&x);
}

static void read_only_refuses_changes(void **state)
{
	struct blk_io_opts opts = { .read_only = true };
	struct fixture x = { 0 };
	uint8_t data[512];
	struct iovec iov = { data, sizeof(data) };
	struct blk_io_req req;

	open_or_skip(&x, "/tmp", &opts);
	assert_false(blk_io_can_discard(x.io));
	req = (struct blk_io_req){ .op = BLK_IO_WRITE, .iov = &iov, .iovcnt = 1, .done = on_done };
	assert_int_equal(blk_io_submit(x.io, &req), -EROFS);
	req = (struct blk_io_req){ .op = BLK_IO_WRITE_ZEROES, .len = 512, .done = on_done };
	assert_int_equal(blk_io_submit(x.io, &req), -EROFS);
	req = (struct blk_io_req){ .op = BLK_IO_DISCARD, .len = 512, .done = on_done };
	assert_int_equal(blk_io_submit(x.io, &req), -EROFS);
	req = (struct blk_io_req){ .op = BLK_IO_READ, .offset = 512, .iov = &iov, .iovcnt = 1 };
	assert_int_equal(run(x.io, &req), 0);
	test_image_expect_pattern(x.fd, 512, 512);
	assert_int_equal(lseek(x.fd, 0, SEEK_END), IMAGE_SIZE);
	drop_image(&x);
}

/* The image shrank under the engine: a read that meets the end fails. */
static void end_of_file_inside_a_read_is_an_error(void **state)
{
	struct blk_io_opts opts = { 0 };
	struct fixture x = { 0 };
	uint8_t data[8192];
	struct iovec iov = { data, sizeof(data) };
	struct blk_io_req req;

	open_or_skip(&x, "/tmp", &opts);
	assert_int_equal(ftruncate(x.fd, IMAGE_SIZE - 4096), 0);
	req = (struct blk_io_req){ .op = BLK_IO_READ, .offset = IMAGE_SIZE - 8192,
				   .iov = &iov, .iovcnt = 1 };
	assert_int_equal(run(x.io, &req), -EIO);
	drop_image(&x);
}

/* Closing waits for every request in flight and leaves their bytes in the
 * file. */
static void close_drains_in_flight_requests(void **state)
{
	struct blk_io_opts opts = { .max_transfer = 1024 };
	struct fixture x = { 0 };
	enum { N = 64, LEN = 8192 };
	static uint8_t data[N][LEN];
	static struct iovec iov[N];
	static struct blk_io_req req[N];

	open_or_skip(&x, "/tmp", &opts);
	waiter_reset();
	for (int i = 0; i < N; i++) {
		test_pattern(data[i], LEN, 300 + i);
		iov[i] = (struct iovec){ data[i], LEN };
		req[i] = (struct blk_io_req){ .op = BLK_IO_WRITE, .offset = (uint64_t)i * LEN,
					      .iov = &iov[i], .iovcnt = 1 };
		submit_ok(x.io, &req[i]);
	}
	assert_int_equal(blk_io_close(x.io), 0);
	x.io = NULL;
	assert_int_equal(w.done, N);            /* before close returned */
	for (int i = 0; i < N; i++) {
		assert_int_equal(w.results[i], 0);
		test_image_expect(x.fd, (uint64_t)i * LEN, data[i], LEN);
	}
	drop_image(&x);
}

/* A callback may submit the next request (the device pops more work from
 * its completions). */
static struct blk_io *chain_io;
static struct blk_io_req chain_req[8];
static struct iovec chain_iov[8];
static uint8_t chain_data[8][512];

static void chain_done(struct blk_io_req *req, int result)
{
	int i = (int)(req - chain_req);

	if (result == 0 && i + 1 < 8)
		assert_int_equal(blk_io_submit(chain_io, &chain_req[i + 1]), 0);
	on_done(req, result);
}

static void callbacks_may_submit(void **state)
{
	struct blk_io_opts opts = { 0 };
	struct fixture x = { 0 };

	open_or_skip(&x, "/tmp", &opts);
	chain_io = x.io;
	for (int i = 0; i < 8; i++) {
		memset(chain_data[i], 0x10 + i, 512);
		chain_iov[i] = (struct iovec){ chain_data[i], 512 };
		chain_req[i] = (struct blk_io_req){ .op = BLK_IO_WRITE, .offset = 4096 + i * 512,
						    .iov = &chain_iov[i], .iovcnt = 1,
						    .done = chain_done };
	}
	waiter_reset();
	assert_int_equal(blk_io_submit(x.io, &chain_req[0]), 0);
	wait_done(8);
	blk_io_drain(x.io);
	for (int i = 0; i < 8; i++)
		test_image_expect(x.fd, 4096 + i * 512, chain_data[i], 512);
	drop_image(&x);
}

static void empty_requests_complete(void **state)
{
	struct blk_io_opts opts = { 0 };
	struct fixture x = { 0 };
	struct blk_io_req req;

	open_or_skip(&x, "/tmp", &opts);
	req = (struct blk_io_req){ .op = BLK_IO_READ, .offset = IMAGE_SIZE };
	assert_int_equal(run(x.io, &req), 0);
	req = (struct blk_io_req){ .op = BLK_IO_DISCARD, .offset = 0, .len = 0 };
	assert_int_equal(run(x.io, &req), 0);
	drop_image(&x);
}

int main(void)
{
	const struct CMUnitTest common[] = {
		cmocka_unit_test(open_refuses_what_is_not_an_image),
	};
	const struct CMUnitTest engine_tests[] = {
		cmocka_unit_test(size_and_lock),
		cmocka_unit_test(engine_takes_an_opened_image),
		cmocka_unit_test(readers_share_an_image),
		cmocka_unit_test(write_then_read_back),
		cmocka_unit_test(short_transfers_are_continued),
		cmocka_unit_test(flush_and_sync_writes),
		cmocka_unit_test(discard_deallocates),
		cmocka_unit_test(write_zeroes_both_ways),
		cmocka_unit_test(write_zeroes_falls_back_to_writing),
		cmocka_unit_test(bad_requests_refused),
		cmocka_unit_test(read_only_refuses_changes),
		cmocka_unit_test(end_of_file_inside_a_read_is_an_error),
		cmocka_unit_test(close_drains_in_flight_requests),
		cmocka_unit_test(callbacks_may_submit),
		cmocka_unit_test(empty_requests_complete),
	};
	int failed = 0;

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	failed += cmocka_run_group_tests_name("blk_io", common, NULL, NULL);
	engine = BLK_IO_ENGINE_THREAD;
	failed += cmocka_run_group_tests_name("blk_io thread engine", engine_tests, NULL, NULL);
	engine = BLK_IO_ENGINE_URING;
	failed += cmocka_run_group_tests_name("blk_io io_uring engine", engine_tests, NULL, NULL);
	return failed;
}
