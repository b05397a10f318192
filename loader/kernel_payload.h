/* The compressed kernel inside a bzImage (boot protocol >= 2.08), taken
 * out and decompressed on the host so the loader can enter the kernel
 * proper without running the kernel's own decompressor in the guest.
 *
 * The setup header's payload_offset (from the start of the protected-mode
 * code) and payload_length locate it; its first bytes say how it is
 * compressed; its last four bytes are the decompressed size (the kernel's
 * build appends it, gzip carries it as ISIZE), which the result must match
 * exactly. Each decompressor is compiled in only when its library was found
 * at build time (HAVE_LZ4, HAVE_ZLIB, HAVE_LZMA, HAVE_ZSTD); bzip2 and LZO
 * are recognised but always left to the guest. */
#ifndef WISP_LOADER_KERNEL_PAYLOAD_H
#define WISP_LOADER_KERNEL_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kernel_payload_format {
	KERNEL_PAYLOAD_UNKNOWN = 0,
	KERNEL_PAYLOAD_GZIP,
	KERNEL_PAYLOAD_BZIP2,
	KERNEL_PAYLOAD_LZMA,
	KERNEL_PAYLOAD_XZ,
	KERNEL_PAYLOAD_LZO,
	KERNEL_PAYLOAD_LZ4,
	KERNEL_PAYLOAD_ZSTD,
};

/* No x86-64 kernel image is larger: the kernel's own mapping is 1 GiB. */
#define KERNEL_PAYLOAD_MAX_SIZE (1ull << 30)
/* Big enough for any reason kernel_payload_extract gives. */
#define KERNEL_PAYLOAD_WHY_SIZE 160

struct kernel_payload {
	enum kernel_payload_format format;
	uint8_t *data;  /* malloc'd: the decompressed kernel (a vmlinux ELF) */
	size_t size;
};

/* The format from the payload's magic bytes. */
enum kernel_payload_format kernel_payload_identify(const uint8_t *p, size_t len);

/* "gzip", "xz", ... or "unknown". */
const char *kernel_payload_format_name(enum kernel_payload_format format);

/* This build can decompress the format on the host. */
bool kernel_payload_host_supported(enum kernel_payload_format format);

/* Finds the payload of the bzImage image[0..size), checks every length the
 * image gives against the file and against min(init_size,
 * KERNEL_PAYLOAD_MAX_SIZE), and decompresses it into a new buffer. Returns 0
 * with *out filled, or -1 with *out empty and one line in why saying why
 * the host cannot (an unknown or unsupported format, a malformed stream, a
 * size that does not add up); it prints nothing. */
int kernel_payload_extract(const uint8_t *image, size_t size, struct kernel_payload *out,
			   char *why, size_t why_size);

/* Frees the buffer and empties *p; safe on an empty one. */
void kernel_payload_free(struct kernel_payload *p);

#endif
