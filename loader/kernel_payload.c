#include "loader/kernel_payload.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/bytes.h"
#include "loader/bzimage.h"

#ifdef HAVE_LZ4
#include <lz4.h>
#endif
#ifdef HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef HAVE_LZMA
#include <lzma.h>
#endif
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

/* The kernel's lz4 wrapper (lz4 -l): this magic, then blocks of a 32-bit
 * compressed size and the block; every block but the last decompresses to
 * exactly 8 MiB, which the kernel's own decoder relies on too. */
#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_BLOCK (8u << 20)
/* The kernel's xz uses a 32 MiB dictionary; this leaves room for more
 * without letting a crafted header make liblzma allocate gigabytes. */
#define LZMA_MEMLIMIT    (256ull << 20)
/* The size trailer after the compressed stream. */
#define SIZE_TRAILER     4

static const struct {
	enum kernel_payload_format format;
	const char *name;
	const char *magic;
	size_t len;
} formats[] = {
	{ KERNEL_PAYLOAD_GZIP,  "gzip",  "\x1f\x8b", 2 },
	{ KERNEL_PAYLOAD_BZIP2, "bzip2", "BZh", 3 },
	{ KERNEL_PAYLOAD_LZMA,  "lzma",  "\x5d\x00", 2 },
	{ KERNEL_PAYLOAD_XZ,    "xz",    "\xfd" "7zXZ\x00", 6 },
	{ KERNEL_PAYLOAD_LZO,   "lzo",   "\x89" "LZO", 4 },
	{ KERNEL_PAYLOAD_LZ4,   "lz4",   "\x02\x21\x4c\x18", 4 },
	{ KERNEL_PAYLOAD_ZSTD,  "zstd",  "\x28\xb5\x2f\xfd", 4 },
};

__attribute__((format(printf, 3, 4)))
static int fail(char *why, size_t why_size, const char *fmt, ...)
{
	va_list ap;

	if (why && why_size) {
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return -1;
}

enum kernel_payload_format kernel_payload_identify(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (len >= formats[i].len && memcmp(p, formats[i].magic, formats[i].len) == 0)
			return formats[i].format;
	return KERNEL_PAYLOAD_UNKNOWN;
}

const char *kernel_payload_format_name(enum kernel_payload_format format)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].format == format)
			return formats[i].name;
	return "unknown";
}

bool kernel_payload_host_supported(enum kernel_payload_format format)
{
	switch (format) {
#ifdef HAVE_ZLIB
	case KERNEL_PAYLOAD_GZIP:
		return true;
#endif
#ifdef HAVE_LZMA
	case KERNEL_PAYLOAD_LZMA:
	case KERNEL_PAYLOAD_XZ:
		return true;
#endif
#ifdef HAVE_LZ4
	case KERNEL_PAYLOAD_LZ4:
		return true;
#endif
#ifdef HAVE_ZSTD
	case KERNEL_PAYLOAD_ZSTD:
		return true;
#endif
	default:
		return false;
	}
}

/* Each decoder turns in[0..in_len) into exactly out_len bytes at out, or
 * fails: a stream that ends early, runs past out_len or is corrupt is
 * refused, never truncated. */

#ifdef HAVE_LZ4
static int unlz4_legacy(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
			char *why, size_t why_size)
{
	size_t pos = 4, done = 0;

	if (in_len < 4 || get_le32(in) != LZ4_LEGACY_MAGIC)
		return fail(why, why_size, "lz4: not a legacy frame");
	while (pos < in_len) {
		size_t csize, want;
		int n;

		if (in_len - pos < 4)
			return fail(why, why_size, "lz4: truncated block header at %zu", pos);
		csize = get_le32(in + pos);
		pos += 4;
		/* Concatenated archives repeat the magic. */
		if (csize == LZ4_LEGACY_MAGIC)
			continue;
		if (csize == 0 || csize > in_len - pos ||
		    csize > (size_t)LZ4_compressBound(LZ4_LEGACY_BLOCK))
			return fail(why, why_size, "lz4: block of %zu bytes at %zu does not fit "
				    "the stream", csize, pos - 4);
		want = out_len - done < LZ4_LEGACY_BLOCK ? out_len - done : LZ4_LEGACY_BLOCK;
		if (want == 0)
			return fail(why, why_size, "lz4: data past the stated size of %zu bytes",
				    out_len);
		n = LZ4_decompress_safe((const char *)in + pos, (char *)out + done, (int)csize,
					(int)want);
		if (n < 0 || (size_t)n != want)
			return fail(why, why_size, "lz4: block at %zu is corrupt or not %zu bytes",
				    pos - 4, want);
		done += want;
		pos += csize;
	}
	if (done != out_len)
		return fail(why, why_size, "lz4: stream ends after %zu of %zu bytes", done,
			    out_len);
	return 0;
}
#endif

#ifdef HAVE_ZLIB
static int gunzip(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
		  char *why, size_t why_size)
{
	z_stream s;
	int r;

	/* Lengths are below 4 GiB (payload_length is 32 bits, out_len at most
	 * KERNEL_PAYLOAD_MAX_SIZE), so they fit zlib's uInt. */
	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK)
		return fail(why, why_size, "gzip: zlib cannot start a decoder");
	s.next_in = (Bytef *)in;
	s.avail_in = (uInt)in_len;
	s.next_out = out;
	s.avail_out = (uInt)out_len;
	r = inflate(&s, Z_FINISH);
	inflateEnd(&s);
	if (r != Z_STREAM_END)
		return fail(why, why_size, "gzip: %s", r == Z_BUF_ERROR ?
			    "stream truncated or larger than its stated size" : "corrupt stream");
	if (s.total_out != out_len)
		return fail(why, why_size, "gzip: %lu bytes, the trailer says %zu",
			    (unsigned long)s.total_out, out_len);
	return 0;
}
#endif

#ifdef HAVE_LZMA
static int unxz(bool alone, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
		char *why, size_t why_size)
{
	const char *fmt = alone ? "lzma" : "xz";
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r;

	r = alone ? lzma_alone_decoder(&s, LZMA_MEMLIMIT)
		  : lzma_stream_decoder(&s, LZMA_MEMLIMIT, 0);
	if (r != LZMA_OK)
		return fail(why, why_size, "%s: liblzma cannot start a decoder (%d)", fmt, r);
	s.next_in = in;
	s.avail_in = in_len;
	s.next_out = out;
	s.avail_out = out_len;
	/* LZMA_FINISH with all input given: each call makes progress or
	 * returns an error (LZMA_BUF_ERROR once it cannot), so this ends. */
	do
		r = lzma_code(&s, LZMA_FINISH);
	while (r == LZMA_OK);
	lzma_end(&s);
	if (r != LZMA_STREAM_END)
		return fail(why, why_size, "%s: %s (liblzma %d)", fmt,
			    r == LZMA_BUF_ERROR ? "stream truncated or larger than its stated size"
			    : r == LZMA_MEMLIMIT_ERROR ? "decoder needs too much memory"
			    : "corrupt stream", r);
	if (s.total_out != out_len)
		return fail(why, why_size, "%s: %llu bytes, the trailer says %zu", fmt,
			    (unsigned long long)s.total_out, out_len);
	return 0;
}
#endif

#ifdef HAVE_ZSTD
static int unzstd(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
		  char *why, size_t why_size)
{
	/* One shot into the caller's buffer: zstd then needs no window of its
	 * own, whatever size a crafted frame header asks for. */
	size_t n = ZSTD_decompress(out, out_len, in, in_len);

	if (ZSTD_isError(n))
		return fail(why, why_size, "zstd: %s", ZSTD_getErrorName(n));
	if (n != out_len)
		return fail(why, why_size, "zstd: %zu bytes, the trailer says %zu", n, out_len);
	return 0;
}
#endif

static int decompress(enum kernel_payload_format format, const uint8_t *in, size_t in_len,
		      uint8_t *out, size_t out_len, char *why, size_t why_size)
{
	/* gzip's trailer is part of its stream; every other format is
	 * followed by the size the kernel's build appended. */
	size_t body = in_len - SIZE_TRAILER;

	switch (format) {
#ifdef HAVE_ZLIB
	case KERNEL_PAYLOAD_GZIP:
		return gunzip(in, in_len, out, out_len, why, why_size);
#endif
#ifdef HAVE_LZMA
	case KERNEL_PAYLOAD_LZMA:
		return unxz(true, in, body, out, out_len, why, why_size);
	case KERNEL_PAYLOAD_XZ:
		return unxz(false, in, body, out, out_len, why, why_size);
#endif
#ifdef HAVE_LZ4
	case KERNEL_PAYLOAD_LZ4:
		return unlz4_legacy(in, body, out, out_len, why, why_size);
#endif
#ifdef HAVE_ZSTD
	case KERNEL_PAYLOAD_ZSTD:
		return unzstd(in, body, out, out_len, why, why_size);
#endif
	default:
		(void)body;
		return fail(why, why_size, "%s payload: no host decompressor in this build",
			    kernel_payload_format_name(format));
	}
}

int kernel_payload_extract(const uint8_t *image, size_t size, struct kernel_payload *out,
			   char *why, size_t why_size)
{
	unsigned version, setup_sects;
	uint64_t code, off, len, limit, out_len;
	enum kernel_payload_format format;
	const uint8_t *p;
	uint8_t *buf;

	memset(out, 0, sizeof(*out));
	if (size < BZ_INIT_SIZE + 4 || memcmp(image + BZ_HEADER, "HdrS", 4) != 0)
		return fail(why, why_size, "no setup header up to init_size");
	version = get_le16(image + BZ_VERSION);
	if (version < BZ_PAYLOAD_VERSION)
		return fail(why, why_size, "boot protocol %u.%02u has no payload fields",
			    version >> 8, version & 0xFF);
	setup_sects = image[BZ_SETUP_SECTS] ? image[BZ_SETUP_SECTS] : 4;
	code = ((uint64_t)setup_sects + 1) * 512;
	off = get_le32(image + BZ_PAYLOAD_OFFSET);
	len = get_le32(image + BZ_PAYLOAD_LENGTH);
	if (code > size || !range_in(off, len, size - code))
		return fail(why, why_size, "payload at 0x%llx+0x%llx lies past the end of "
			    "the file", (unsigned long long)(code + off), (unsigned long long)len);
	/* At least a magic and the size trailer. */
	if (len < 8)
		return fail(why, why_size, "payload of %llu bytes is too short",
			    (unsigned long long)len);
	p = image + code + off;
	format = kernel_payload_identify(p, len);
	if (format == KERNEL_PAYLOAD_UNKNOWN)
		return fail(why, why_size, "payload compression not recognised");
	if (!kernel_payload_host_supported(format))
		return fail(why, why_size, "%s payload: no host decompressor in this build",
			    kernel_payload_format_name(format));

	/* The decompressor writes the kernel into the init_size bytes it
	 * owns, so a larger size is a lie. */
	out_len = get_le32(p + len - SIZE_TRAILER);
	limit = get_le32(image + BZ_INIT_SIZE);
	if (limit > KERNEL_PAYLOAD_MAX_SIZE)
		limit = KERNEL_PAYLOAD_MAX_SIZE;
	if (out_len == 0 || out_len > limit)
		return fail(why, why_size, "%s payload says it decompresses to %llu bytes, "
			    "outside 1..%llu (init_size, at most 1 GiB)",
			    kernel_payload_format_name(format),
			    (unsigned long long)out_len, (unsigned long long)limit);

	buf = malloc(out_len);
	if (!buf)
		return fail(why, why_size, "no memory for %llu bytes",
			    (unsigned long long)out_len);
	if (decompress(format, p, len, buf, out_len, why, why_size) != 0) {
		free(buf);
		return -1;
	}
	out->format = format;
	out->data = buf;
	out->size = out_len;
	return 0;
}

void kernel_payload_free(struct kernel_payload *p)
{
	free(p->data);
	memset(p, 0, sizeof(*p));
}
