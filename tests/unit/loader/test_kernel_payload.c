/* The bzImage payload decompressed on the host: each format built with its
 * own library's compressor, wrapped in a synthetic setup header the way the
 * kernel's build lays it out (payload_offset/payload_length, the size
 * trailer), then hostile variants; and the bzImage loader entering a
 * vmlinux made that way directly, or falling back to the guest. */
#include "fixtures.h"

#include "loader/bytes.h"
#include "loader/bzimage.h"
#include "loader/elf.h"
#include "loader/kernel_payload.h"
#include "vmm/log.h"

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

#define CODE_OFF    0xA00   /* (4 setup sectors + 1) * 512 */
#define PAYLOAD_REL 0x300   /* payload_offset: decompressor code before it */
#define TAIL        0x200   /* more decompressor after it */
#define PLAIN_SIZE  (MiB(1) + 12345)
#define LZ4_BLOCK   (8u << 20)

static uint8_t *plain;
static size_t plain_size;

/* Compressible but not trivial: short runs from a small alphabet. */
static void make_plain(size_t size)
{
	uint32_t x = 12345;

	free(plain);
	plain = malloc(size);
	assert_non_null(plain);
	plain_size = size;
	for (size_t i = 0; i < size; i++) {
		if (i % 7 == 0)
			x = x * 1103515245u + 12345u;
		plain[i] = (uint8_t)('a' + ((x >> 16) % 11));
	}
}

/* A growing byte buffer for compressed streams. */
struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more > b->cap) {
		b->cap = (b->len + more) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
}

static void buf_put(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_put32(struct buf *b, uint32_t v)
{
	uint8_t le[4];

	w32(le, v);
	buf_put(b, le, 4);
}

/* What the kernel's build does after every compressor but gzip. */
static void append_size(struct buf *b, uint32_t size)
{
	buf_put32(b, size);
}

/* A bzImage holding payload[0..len) at payload_offset, with init_size. */
static uint8_t *wrap(const uint8_t *payload, size_t len, uint32_t init_size, size_t *size)
{
	size_t n = CODE_OFF + PAYLOAD_REL + len + TAIL;
	uint8_t *img = calloc(1, n);

	assert_non_null(img);
	img[BZ_SETUP_SECTS] = 4;
	w16(img + BZ_BOOT_FLAG, 0xAA55);
	img[BZ_JUMP] = 0xEB;
	img[BZ_JUMP + 1] = 0x6A;
	memcpy(img + BZ_HEADER, "HdrS", 4);
	w16(img + BZ_VERSION, 0x020F);
	img[BZ_LOADFLAGS] = BZ_LOADED_HIGH;
	w32(img + BZ_INITRD_ADDR_MAX, 0x7FFFFFFF);
	w32(img + BZ_KERNEL_ALIGNMENT, 0x200000);
	img[BZ_RELOCATABLE] = 1;
	w16(img + BZ_XLOADFLAGS, 0x3);
	w32(img + BZ_CMDLINE_SIZE, 255);
	w32(img + BZ_PAYLOAD_OFFSET, PAYLOAD_REL);
	w32(img + BZ_PAYLOAD_LENGTH, (uint32_t)len);
	w64(img + BZ_PREF_ADDRESS, 0x1000000);
	w32(img + BZ_INIT_SIZE, init_size);
	memset(img + CODE_OFF, 0x90, PAYLOAD_REL);
	memcpy(img + CODE_OFF + PAYLOAD_REL, payload, len);
	memset(img + CODE_OFF + PAYLOAD_REL + len, 0xCC, TAIL);
	*size = n;
	return img;
}

/* The stream for plain[0..size) in one format, as the kernel's build
 * makes it; false when this build lacks the library. */
static bool compress_as(enum kernel_payload_format format, const uint8_t *src, size_t size,
			struct buf *b)
{
	memset(b, 0, sizeof(*b));
	switch (format) {
#ifdef HAVE_ZLIB
	case KERNEL_PAYLOAD_GZIP: {
		z_stream s;

		memset(&s, 0, sizeof(s));
		assert_int_equal(deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
					      Z_DEFAULT_STRATEGY), Z_OK);
		buf_reserve(b, deflateBound(&s, size));
		s.next_in = (Bytef *)src;
		s.avail_in = (uInt)size;
		s.next_out = b->p;
		s.avail_out = (uInt)b->cap;
		assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
		b->len = s.total_out;
		deflateEnd(&s);
		return true;
	}
#endif
#ifdef HAVE_LZMA
	case KERNEL_PAYLOAD_XZ: {
		/* As scripts/xz_wrap.sh: the x86 BCJ filter, then LZMA2, CRC32. */
		lzma_options_lzma opt;
		lzma_filter filters[3] = {
			{ .id = LZMA_FILTER_X86, .options = NULL },
			{ .id = LZMA_FILTER_LZMA2, .options = &opt },
			{ .id = LZMA_VLI_UNKNOWN, .options = NULL },
		};
		size_t pos = 0;

		assert_false(lzma_lzma_preset(&opt, 1));
		buf_reserve(b, lzma_stream_buffer_bound(size));
		assert_int_equal(lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL, src,
							   size, b->p, &pos, b->cap), LZMA_OK);
		b->len = pos;
		append_size(b, (uint32_t)size);
		return true;
	}
	case KERNEL_PAYLOAD_LZMA: {
		lzma_stream s = LZMA_STREAM_INIT;
		lzma_options_lzma opt;
		lzma_ret r;

		assert_false(lzma_lzma_preset(&opt, 1));
		assert_int_equal(lzma_alone_encoder(&s, &opt), LZMA_OK);
		buf_reserve(b, size + size / 2 + 4096);
		s.next_in = src;
		s.avail_in = size;
		s.next_out = b->p;
		s.avail_out = b->cap;
		do
			r = lzma_code(&s, LZMA_FINISH);
		while (r == LZMA_OK);
		assert_int_equal(r, LZMA_STREAM_END);
		b->len = s.total_out;
		lzma_end(&s);
		append_size(b, (uint32_t)size);
		return true;
	}
#endif
#ifdef HAVE_LZ4
	case KERNEL_PAYLOAD_LZ4:
		/* lz4 -l: the legacy frame, 8 MiB blocks. */
		buf_put32(b, 0x184C2102);
		for (size_t off = 0; off < size; off += LZ4_BLOCK) {
			int n = size - off < LZ4_BLOCK ? (int)(size - off) : (int)LZ4_BLOCK;
			int bound = LZ4_compressBound(n), c;

			buf_reserve(b, 4 + (size_t)bound);
			c = LZ4_compress_default((const char *)src + off,
						 (char *)b->p + b->len + 4, n, bound);
			assert_true(c > 0);
			w32(b->p + b->len, (uint32_t)c);
			b->len += 4 + (size_t)c;
		}
		append_size(b, (uint32_t)size);
		return true;
#endif
#ifdef HAVE_ZSTD
	case KERNEL_PAYLOAD_ZSTD: {
		size_t n;

		buf_reserve(b, ZSTD_compressBound(size));
		n = ZSTD_compress(b->p, b->cap, src, size, 3);
		assert_false(ZSTD_isError(n));
		b->len = n;
		append_size(b, (uint32_t)size);
		return true;
	}
#endif
	default:
		return false;
	}
}

static int extract(const uint8_t *img, size_t size, struct kernel_payload *kp, char *why)
{
	why[0] = '\0';
	return kernel_payload_extract(img, size, kp, why, KERNEL_PAYLOAD_WHY_SIZE);
}

static void expect_refused(const uint8_t *img, size_t size, const char *fragment)
{
	char why[KERNEL_PAYLOAD_WHY_SIZE];
	struct kernel_payload kp;

	assert_int_equal(extract(img, size, &kp, why), -1);
	printf("refused: %s\n", why);
	assert_null(kp.data);
	assert_int_equal(kp.size, 0);
	assert_true(strlen(why) > 0);
	if (fragment)
		assert_non_null(strstr(why, fragment));
}

static void round_trip(enum kernel_payload_format format)
{
	char why[KERNEL_PAYLOAD_WHY_SIZE];
	struct kernel_payload kp;
	struct buf b;
	uint8_t *img;
	size_t size;

	if (!compress_as(format, plain, plain_size, &b)) {
		skip();
		return;
	}
	assert_int_equal(kernel_payload_identify(b.p, b.len), format);
	assert_true(kernel_payload_host_supported(format));
	img = wrap(b.p, b.len, (uint32_t)(plain_size + MiB(1)), &size);
	assert_int_equal(extract(img, size, &kp, why), 0);
	assert_int_equal(kp.format, format);
	assert_int_equal(kp.size, plain_size);
	assert_memory_equal(kp.data, plain, plain_size);
	kernel_payload_free(&kp);
	assert_null(kp.data);

	/* init_size one byte short of the output: refused before decoding. */
	w32(img + BZ_INIT_SIZE, (uint32_t)plain_size - 1);
	expect_refused(img, size, "init_size");
	free(img);
	free(b.p);
}

static void test_gzip(void **state) { (void)state; round_trip(KERNEL_PAYLOAD_GZIP); }
static void test_xz(void **state) { (void)state; round_trip(KERNEL_PAYLOAD_XZ); }
static void test_lzma(void **state) { (void)state; round_trip(KERNEL_PAYLOAD_LZMA); }
static void test_zstd(void **state) { (void)state; round_trip(KERNEL_PAYLOAD_ZSTD); }

/* Several 8 MiB blocks and a short last one, as Debian's kernel has. */
static void test_lz4_blocks(void **state)
{
	(void)state;
	make_plain(2 * LZ4_BLOCK + 4321);
	round_trip(KERNEL_PAYLOAD_LZ4);
	make_plain(PLAIN_SIZE);
}

static void test_identify(void **state)
{
	static const struct {
		const char *magic;
		size_t len;
		enum kernel_payload_format format;
		const char *name;
	} cases[] = {
		{ "\x1f\x8b\x08\x00", 4, KERNEL_PAYLOAD_GZIP, "gzip" },
		{ "BZh91AY", 7, KERNEL_PAYLOAD_BZIP2, "bzip2" },
		{ "\x5d\x00\x00\x80", 4, KERNEL_PAYLOAD_LZMA, "lzma" },
		{ "\xfd" "7zXZ\x00\x00", 7, KERNEL_PAYLOAD_XZ, "xz" },
		{ "\x89LZO\x00", 5, KERNEL_PAYLOAD_LZO, "lzo" },
		{ "\x02\x21\x4c\x18", 4, KERNEL_PAYLOAD_LZ4, "lz4" },
		{ "\x28\xb5\x2f\xfd", 4, KERNEL_PAYLOAD_ZSTD, "zstd" },
		{ "\x7f" "ELF", 4, KERNEL_PAYLOAD_UNKNOWN, "unknown" },
		{ "\xfd" "7zX", 4, KERNEL_PAYLOAD_UNKNOWN, "unknown" },  /* too short */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum kernel_payload_format f =
			kernel_payload_identify((const uint8_t *)cases[i].magic, cases[i].len);

		assert_int_equal(f, cases[i].format);
		assert_string_equal(kernel_payload_format_name(f), cases[i].name);
	}
	assert_false(kernel_payload_host_supported(KERNEL_PAYLOAD_BZIP2));
	assert_false(kernel_payload_host_supported(KERNEL_PAYLOAD_LZO));
	assert_false(kernel_payload_host_supported(KERNEL_PAYLOAD_UNKNOWN));
}

/* Recognised but left to the guest, and not recognised at all. */
static void test_unsupported_formats(void **state)
{
	uint8_t p[64];
	uint8_t *img;
	size_t size;

	(void)state;
	memset(p, 0x41, sizeof(p));
	memcpy(p, "BZh9", 4);
	img = wrap(p, sizeof(p), MiB(64), &size);
	expect_refused(img, size, "bzip2");
	free(img);
	memcpy(p, "\x89LZO", 4);
	img = wrap(p, sizeof(p), MiB(64), &size);
	expect_refused(img, size, "lzo");
	free(img);
	memcpy(p, "\x7f" "ELF", 4);
	img = wrap(p, sizeof(p), MiB(64), &size);
	expect_refused(img, size, "not recognised");
	free(img);
}

/* The first format this build can compress, for the malformed cases. */
static enum kernel_payload_format any_format(struct buf *b)
{
	static const enum kernel_payload_format order[] = {
		KERNEL_PAYLOAD_LZ4, KERNEL_PAYLOAD_ZSTD, KERNEL_PAYLOAD_XZ, KERNEL_PAYLOAD_LZMA,
		KERNEL_PAYLOAD_GZIP,
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (compress_as(order[i], plain, plain_size, b))
			return order[i];
	return KERNEL_PAYLOAD_UNKNOWN;
}

static void test_header_lengths(void **state)
{
	struct buf b;
	uint8_t *img;
	size_t size;

	(void)state;
	if (any_format(&b) == KERNEL_PAYLOAD_UNKNOWN) {
		skip();
		return;
	}
	img = wrap(b.p, b.len, MiB(64), &size);

	/* payload_length one byte past the end of the file. */
	w32(img + BZ_PAYLOAD_LENGTH, (uint32_t)(size - CODE_OFF - PAYLOAD_REL + 1));
	expect_refused(img, size, "past the end");
	/* payload_offset past the end, and one that wraps with the length. */
	w32(img + BZ_PAYLOAD_LENGTH, (uint32_t)b.len);
	w32(img + BZ_PAYLOAD_OFFSET, (uint32_t)(size - CODE_OFF + 1));
	expect_refused(img, size, "past the end");
	w32(img + BZ_PAYLOAD_OFFSET, 0xFFFFFFF0u);
	expect_refused(img, size, "past the end");
	w32(img + BZ_PAYLOAD_OFFSET, PAYLOAD_REL);
	/* setup_sects putting the protected-mode code past the file. */
	img[BZ_SETUP_SECTS] = 0xFF;
	expect_refused(img + 0, CODE_OFF + 0x100, "past the end");
	img[BZ_SETUP_SECTS] = 4;
	/* A payload too short to hold its trailer. */
	w32(img + BZ_PAYLOAD_LENGTH, 5);
	expect_refused(img, size, "too short");
	w32(img + BZ_PAYLOAD_LENGTH, (uint32_t)b.len);
	/* Protocol 2.07 has no payload fields. */
	w16(img + BZ_VERSION, 0x0207);
	expect_refused(img, size, "2.07");
	w16(img + BZ_VERSION, 0x020F);
	/* A file ending inside the setup header. */
	expect_refused(img, BZ_INIT_SIZE + 3, "setup header");
	memcpy(img + BZ_HEADER, "HdrT", 4);
	expect_refused(img, size, "setup header");
	free(img);
	free(b.p);
}

/* The trailer is checked against init_size and the absolute limit before
 * anything is allocated, and the stream must produce exactly that much. */
static void test_sizes(void **state)
{
	enum kernel_payload_format f;
	struct buf b;
	uint8_t *img, *tr;
	size_t size;

	(void)state;
	f = any_format(&b);
	if (f == KERNEL_PAYLOAD_UNKNOWN) {
		skip();
		return;
	}
	img = wrap(b.p, b.len, 0xFFFFFFFFu, &size);
	tr = img + CODE_OFF + PAYLOAD_REL + b.len - 4;

	w32(tr, (uint32_t)(KERNEL_PAYLOAD_MAX_SIZE + 1));
	expect_refused(img, size, "outside");
	w32(tr, 0);
	expect_refused(img, size, "outside");
	/* The stream holds more than the trailer says, or less. */
	w32(tr, (uint32_t)plain_size - 1);
	expect_refused(img, size, NULL);
	w32(tr, (uint32_t)plain_size + 1);
	expect_refused(img, size, NULL);
	w32(tr, (uint32_t)plain_size);
	{
		char why[KERNEL_PAYLOAD_WHY_SIZE];
		struct kernel_payload kp;

		assert_int_equal(extract(img, size, &kp, why), 0);
		kernel_payload_free(&kp);
	}
	free(img);
	free(b.p);
}

/* Cut streams and flipped bytes, in every format this build has. */
static void test_truncated_and_corrupt(void **state)
{
	static const enum kernel_payload_format all[] = {
		KERNEL_PAYLOAD_GZIP, KERNEL_PAYLOAD_XZ, KERNEL_PAYLOAD_LZMA, KERNEL_PAYLOAD_LZ4,
		KERNEL_PAYLOAD_ZSTD,
	};
	int tried = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct buf b, cut;
		uint8_t *img;
		size_t size, keep;

		if (!compress_as(all[i], plain, plain_size, &b))
			continue;
		tried++;
		/* The stream cut in half, the trailer still after it. */
		keep = b.len / 2;
		memset(&cut, 0, sizeof(cut));
		buf_put(&cut, b.p, keep);
		if (all[i] == KERNEL_PAYLOAD_GZIP)
			buf_put(&cut, b.p + b.len - 8, 8);  /* CRC32 and ISIZE */
		else
			append_size(&cut, (uint32_t)plain_size);
		img = wrap(cut.p, cut.len, MiB(64), &size);
		expect_refused(img, size, kernel_payload_format_name(all[i]));
		free(img);
		free(cut.p);

		/* Garbage in the middle of the stream. */
		memset(b.p + b.len / 3, 0xA5, 64);
		img = wrap(b.p, b.len, MiB(64), &size);
		expect_refused(img, size, kernel_payload_format_name(all[i]));
		free(img);
		free(b.p);
	}
	if (!tried) {
		skip();
		return;
	}
}

/* lz4 block sizes are lengths from the image like any other. */
static void test_lz4_block_lengths(void **state)
{
	struct buf b;
	uint8_t *img, *blk;
	size_t size;

	(void)state;
	if (!compress_as(KERNEL_PAYLOAD_LZ4, plain, plain_size, &b)) {
		skip();
		return;
	}
	img = wrap(b.p, b.len, MiB(64), &size);
	blk = img + CODE_OFF + PAYLOAD_REL + 4;
	w32(blk, (uint32_t)b.len);               /* past the end of the stream */
	expect_refused(img, size, "does not fit");
	w32(blk, 0xFFFFFFF0u);
	expect_refused(img, size, "does not fit");
	w32(blk, 0);
	expect_refused(img, size, "does not fit");
	w32(blk, (uint32_t)(b.len - 13));        /* one byte short: a cut block */
	expect_refused(img, size, "lz4");
	free(img);
	/* Only the magic, and a block header cut short. */
	{
		uint8_t p[11] = { 0x02, 0x21, 0x4c, 0x18, 0x10, 0x00, 0x00 };

		w32(p + 7, (uint32_t)plain_size);
		img = wrap(p, sizeof(p), MiB(64), &size);
		expect_refused(img, size, "truncated block header");
		free(img);
		img = wrap(p, 8, MiB(64), &size);
		w32(img + CODE_OFF + PAYLOAD_REL + 4, (uint32_t)plain_size);
		expect_refused(img, size, "stream ends");
		free(img);
	}
	free(b.p);
}

/* The loader: a vmlinux in the payload is entered directly. */
#define VMLINUX_BASE  0x1000000ull
#define VMLINUX_TEXT  0x4000
#define VMLINUX_BSS   0x3000
#define VMLINUX_ENTRY (VMLINUX_BASE + 0x100)

static uint8_t text[VMLINUX_TEXT];
static uint8_t vmlinux[VMLINUX_TEXT + 0x1000];

static size_t build_vmlinux(uint64_t paddr, uint64_t entry)
{
	struct tseg segs[] = {
		{ ELF_PT_LOAD, 0xffffffff81000000ull + (paddr - VMLINUX_BASE), paddr, text,
		  VMLINUX_TEXT, VMLINUX_TEXT + VMLINUX_BSS, 0x200000 },
	};

	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)(i * 13 + 5);
	return build_elf(vmlinux, sizeof(vmlinux), 1, 62, entry, segs, 1);
}

/* The vmlinux compressed in the first format this build has. */
static uint8_t *vmlinux_bzimage(size_t elf_size, size_t *size)
{
	static const enum kernel_payload_format order[] = {
		KERNEL_PAYLOAD_LZ4, KERNEL_PAYLOAD_ZSTD, KERNEL_PAYLOAD_XZ, KERNEL_PAYLOAD_LZMA,
		KERNEL_PAYLOAD_GZIP,
	};
	struct buf b;
	uint8_t *img;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!compress_as(order[i], vmlinux, elf_size, &b))
			continue;
		img = wrap(b.p, b.len, MiB(8), size);
		free(b.p);
		return img;
	}
	return NULL;
}

/* loader_load at --verbose: 0 and exactly one line holding fragment. */
static void load_verbose(struct guest_mem *mem, const struct loader_input *in,
			 struct loader_result *res, const char *fragment)
{
	enum log_level saved = log_get_level();
	const char *msg;
	int r;

	log_set_level(LOG_DEBUG);
	capture_begin();
	r = loader_load(mem, in, res);
	msg = capture_end();
	log_set_level(saved);
	assert_int_equal(r, 0);
	assert_int_equal(count_lines(msg), 1);
	assert_non_null(strstr(msg, fragment));
}

static void test_load_vmlinux_directly(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_result res;
	struct loader_input in;
	const uint8_t *p;
	uint8_t *img;
	size_t size;

	(void)state;
	img = vmlinux_bzimage(build_vmlinux(VMLINUX_BASE, VMLINUX_ENTRY), &size);
	if (!img) {
		mem_free(mem);
		skip();
		return;
	}
	img[BZ_LOADFLAGS] |= BZ_KASLR_FLAG;  /* a stale in-kernel flag: cleared */
	/* The bss must come out zeroed. */
	memset(gp(mem, VMLINUX_BASE + VMLINUX_TEXT, VMLINUX_BSS), 0xEE, VMLINUX_BSS);
	in = (struct loader_input){
		.kernel = img, .kernel_size = size, .kernel_path = "vmlinuz",
		.initrd = text, .initrd_size = 0x2000, .cmdline = "console=ttyS0", .ncpus = 1,
	};
	load_verbose(mem, &in, &res, "payload decompressed on the host");
	assert_int_equal(res.format, BOOT_FORMAT_BZIMAGE);
	assert_int_equal(res.bsp.rip, VMLINUX_ENTRY);
	assert_int_equal(res.bsp.gpr[CPU_RSI], BOOT_INFO_ADDR);
	assert_int_equal(res.kernel_start, VMLINUX_BASE);
	assert_int_equal(res.kernel_end, VMLINUX_BASE + VMLINUX_TEXT + VMLINUX_BSS);
	p = gp(mem, VMLINUX_BASE, VMLINUX_TEXT + VMLINUX_BSS);
	assert_memory_equal(p, text, VMLINUX_TEXT);
	for (size_t i = 0; i < VMLINUX_BSS; i++)
		assert_int_equal(p[VMLINUX_TEXT + i], 0);
	/* The same zero page as the guest-decompressing path. */
	p = gp(mem, BOOT_INFO_ADDR, BOOT_INFO_SIZE);
	assert_memory_equal(p + BZ_HEADER, "HdrS", 4);
	assert_int_equal(p[BZ_LOADFLAGS], BZ_LOADED_HIGH | BZ_CAN_USE_HEAP);
	assert_int_equal(r32(p + BZ_CMD_LINE_PTR), BOOT_CMDLINE_ADDR);
	assert_int_equal(r32(p + BZ_RAMDISK_IMAGE), res.initrd_start);
	assert_int_equal(r32(p + BZ_RAMDISK_SIZE), 0x2000);
	assert_true(p[BP_E820_ENTRIES] > 0);
	/* The initrd stays clear of the init_size bytes the kernel owns. */
	assert_false(ranges_overlap(res.initrd_start, 0x2000, VMLINUX_BASE, MiB(8)));
	free(img);
	mem_free(mem);
}

/* Anything off: the payload goes to RAM as before and the guest runs the
 * decompressor at load + 0x200, after one line at --verbose saying why. */
static void expect_guest_decompresses(uint8_t *img, size_t size, uint64_t ram,
				      const char *why)
{
	struct guest_mem *mem = mem_new(ram);
	struct loader_input in = {
		.kernel = img, .kernel_size = size, .kernel_path = "vmlinuz", .ncpus = 1,
	};
	struct loader_result res;

	load_verbose(mem, &in, &res, "the guest decompresses the kernel: ");
	assert_non_null(strstr(capture_buf, why));
	assert_int_equal(res.bsp.rip, res.kernel_start + 0x200);
	assert_int_equal(res.kernel_end - res.kernel_start, size - CODE_OFF);
	assert_memory_equal(gp(mem, res.kernel_start, size - CODE_OFF), img + CODE_OFF,
			    size - CODE_OFF);
	mem_free(mem);
}

static void test_load_falls_back(void **state)
{
	uint8_t *img;
	size_t size;

	(void)state;
	/* A segment outside [pref_address, + init_size). */
	img = vmlinux_bzimage(build_vmlinux(VMLINUX_BASE + MiB(8), VMLINUX_ENTRY + MiB(8)),
			      &size);
	if (!img) {
		skip();
		return;
	}
	expect_guest_decompresses(img, size, MiB(64), "inside the kernel's area");
	free(img);
	/* The entry outside every segment. */
	img = vmlinux_bzimage(build_vmlinux(VMLINUX_BASE, VMLINUX_BASE + MiB(1)), &size);
	expect_guest_decompresses(img, size, MiB(64), "not in a loaded segment");
	free(img);
	/* Not an x86-64 executable. */
	build_vmlinux(VMLINUX_BASE, VMLINUX_ENTRY);
	w16(vmlinux + 18, 3);
	img = vmlinux_bzimage(sizeof(vmlinux), &size);
	expect_guest_decompresses(img, size, MiB(64), "not an x86-64 executable");
	free(img);
	/* RAM too small for the segment at its address: the guest path
	 * relocates the compressed kernel. */
	img = vmlinux_bzimage(build_vmlinux(VMLINUX_BASE, VMLINUX_ENTRY), &size);
	w32(img + BZ_INIT_SIZE, MiB(4));
	expect_guest_decompresses(img, size, MiB(12), "is not RAM");
	/* Not compressed in a format the host knows. */
	memcpy(img + CODE_OFF + PAYLOAD_REL, "BZh9", 4);
	expect_guest_decompresses(img, size, MiB(64), "bzip2 payload");
	free(img);
}

static int setup_group(void **state)
{
	(void)state;
	make_plain(PLAIN_SIZE);
	return 0;
}

static int teardown_group(void **state)
{
	(void)state;
	free(plain);
	plain = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_xz),
		cmocka_unit_test(test_lzma),
		cmocka_unit_test(test_zstd),
		cmocka_unit_test(test_lz4_blocks),
		cmocka_unit_test(test_identify),
		cmocka_unit_test(test_unsupported_formats),
		cmocka_unit_test(test_header_lengths),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_lz4_block_lengths),
		cmocka_unit_test(test_load_vmlinux_directly),
		cmocka_unit_test(test_load_falls_back),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
