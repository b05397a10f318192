/* A disk image for the block tests (the I/O engine, virtio-blk): a
 * temporary file filled with a known pattern, and checks of its bytes
 * read through the test's own descriptor, not through the code under
 * test. */
#ifndef WISP_TESTS_UNIT_VIRTIO_TEST_IMAGE_H
#define WISP_TESTS_UNIT_VIRTIO_TEST_IMAGE_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <unistd.h>
#include <cmocka.h>

/* Bytes that tell their place: buffers made with different seeds, or
 * taken from different offsets of one, differ. */
static inline void test_pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 13 + seed + (i >> 9));
}

/* A file dir/name-XXXXXX of size bytes of pattern (seed 1), its name in
 * path (path_size bytes); its descriptor, or -errno where it cannot be
 * made. */
static inline int test_image_create(char *path, size_t path_size, const char *dir,
				    const char *name, size_t size)
{
	uint8_t *buf;
	int fd;

	snprintf(path, path_size, "%s/%s-XXXXXX", dir, name);
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	buf = malloc(size);
	assert_non_null(buf);
	test_pattern(buf, size, 1);
	assert_int_equal(pwrite(fd, buf, size, 0), (ssize_t)size);
	free(buf);
	return fd;
}

/* The file holds want at off. */
static inline void test_image_expect(int fd, uint64_t off, const void *want, size_t len)
{
	uint8_t *got = malloc(len);

	assert_non_null(got);
	assert_int_equal(pread(fd, got, len, (off_t)off), (ssize_t)len);
	assert_memory_equal(got, want, len);
	free(got);
}

/* The file holds zeroes at off. */
static inline void test_image_expect_zero(int fd, uint64_t off, size_t len)
{
	uint8_t *zero = calloc(1, len);

	assert_non_null(zero);
	test_image_expect(fd, off, zero, len);
	free(zero);
}

/* The file still holds what test_image_create wrote at off. */
static inline void test_image_expect_pattern(int fd, uint64_t off, size_t len)
{
	uint8_t *want = malloc(off + len);

	assert_non_null(want);
	test_pattern(want, off + len, 1);
	test_image_expect(fd, off, want + off, len);
	free(want);
}

#endif
