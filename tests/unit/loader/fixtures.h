/* Shared helpers of the loader unit tests: guest RAM, capturing the one
 * error message a bad image must produce, little-endian pokes for building
 * synthetic images, and an independent reader of what the loaders wrote.
 * Everything is static: each test executable includes it once. */
#ifndef WISP_TEST_LOADER_FIXTURES_H
#define WISP_TEST_LOADER_FIXTURES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loader/loader.h"
#include "vmm/guest_mem.h"
#include "vmm/memory_map.h"

static inline void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void w32(uint8_t *p, uint32_t v) { w16(p, (uint16_t)v); w16(p + 2, (uint16_t)(v >> 16)); }
static inline void w64(uint8_t *p, uint64_t v) { w32(p, (uint32_t)v); w32(p + 4, (uint32_t)(v >> 32)); }
static inline uint16_t r16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t r32(const uint8_t *p) { return r16(p) | (uint32_t)r16(p + 2) << 16; }
static inline uint64_t r64(const uint8_t *p) { return r32(p) | (uint64_t)r32(p + 4) << 32; }

/* Guest RAM pointer for a range the test expects to be RAM. */
static inline uint8_t *gp(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(mem, gpa, len);
	assert_non_null(p);
	return p;
}

static inline uint32_t g32(const struct guest_mem *mem, uint64_t gpa) { return r32(gp(mem, gpa, 4)); }
static inline uint64_t g64(const struct guest_mem *mem, uint64_t gpa) { return r64(gp(mem, gpa, 8)); }

static inline struct guest_mem *mem_new(uint64_t size)
{
	struct guest_mem *mem = calloc(1, sizeof(*mem));
	assert_non_null(mem);
	assert_int_equal(guest_mem_init(mem, size), 0);
	return mem;
}

static inline void mem_free(struct guest_mem *mem)
{
	guest_mem_destroy(mem);
	free(mem);
}

/* stderr capture: everything log_error prints between begin and end. */
static int capture_saved_fd = -1;
static FILE *capture_file;
static char capture_buf[8192];

static inline void capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	assert_non_null(capture_file);
	capture_saved_fd = dup(2);
	assert_true(capture_saved_fd >= 0);
	assert_true(dup2(fileno(capture_file), 2) >= 0);
}

static inline const char *capture_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(capture_saved_fd, 2);
	close(capture_saved_fd);
	rewind(capture_file);
	n = fread(capture_buf, 1, sizeof(capture_buf) - 1, capture_file);
	capture_buf[n] = '\0';
	fclose(capture_file);
	/* Echo it so a failing test shows what was said. */
	fputs(capture_buf, stdout);
	return capture_buf;
}

static inline int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Runs loader_load expecting failure with exactly one message holding
 * every given fragment. */
static inline void expect_load_error(struct guest_mem *mem, const struct loader_input *in,
				     const char *frag1, const char *frag2)
{
	struct loader_result res;
	const char *msg;
	int r;

	capture_begin();
	r = loader_load(mem, in, &res);
	msg = capture_end();
	assert_int_equal(r, -1);
	assert_int_equal(count_lines(msg), 1);
	assert_non_null(strstr(msg, "error: "));
	if (frag1)
		assert_non_null(strstr(msg, frag1));
	if (frag2)
		assert_non_null(strstr(msg, frag2));
}

/* Virtio-mmio device i as the machine places it (memory_map.h), and a PCI
 * INTx route: the boot tables' inputs. */
static inline struct loader_virtio_mmio mmio_slot(unsigned i)
{
	return (struct loader_virtio_mmio){
		.base = VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SLOT_SIZE, .size = 0x200, .gsi = 16 + i,
	};
}

static inline struct loader_pci_intx intx_route(unsigned slot, unsigned pin, unsigned gsi)
{
	return (struct loader_pci_intx){ .slot = (uint8_t)slot, .pin = (uint8_t)pin, .gsi = gsi };
}

static inline int load_quiet(struct guest_mem *mem, const struct loader_input *in,
			     struct loader_result *res)
{
	int r;

	capture_begin();
	r = loader_load(mem, in, res);
	capture_end();
	return r;
}

/* Synthetic ELF files: the header, the program headers right after it,
 * then each segment's file data at a 16-byte aligned offset. */
struct tseg {
	uint32_t type;
	uint64_t vaddr, paddr;
	const uint8_t *data;
	uint64_t filesz, memsz, align;
};

#define EHDR64 64
#define PHDR64 56
#define EHDR32 52
#define PHDR32 32

/* Returns the file size; *phoff_out (optional) where the phdrs are. */
static inline size_t build_elf(uint8_t *buf, size_t cap, int is64, uint16_t machine,
			       uint64_t entry, const struct tseg *segs, unsigned n)
{
	size_t eh = is64 ? EHDR64 : EHDR32, ph = is64 ? PHDR64 : PHDR32;
	size_t off = (eh + n * ph + 15) & ~(size_t)15;

	memset(buf, 0, cap);
	memcpy(buf, "\x7f" "ELF", 4);
	buf[4] = is64 ? 2 : 1;
	buf[5] = 1;
	buf[6] = 1;
	w16(buf + 16, 2);  /* ET_EXEC */
	w16(buf + 18, machine);
	w32(buf + 20, 1);
	if (is64) {
		w64(buf + 24, entry);
		w64(buf + 32, eh);
		w16(buf + 52, (uint16_t)eh);
		w16(buf + 54, (uint16_t)ph);
		w16(buf + 56, (uint16_t)n);
	} else {
		w32(buf + 24, (uint32_t)entry);
		w32(buf + 28, (uint32_t)eh);
		w16(buf + 40, (uint16_t)eh);
		w16(buf + 42, (uint16_t)ph);
		w16(buf + 44, (uint16_t)n);
	}
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = buf + eh + i * ph;
		const struct tseg *s = &segs[i];

		assert_true(off + s->filesz <= cap);
		if (s->data)
			memcpy(buf + off, s->data, s->filesz);
		if (is64) {
			w32(p, s->type);
			w32(p + 4, 7);
			w64(p + 8, off);
			w64(p + 16, s->vaddr);
			w64(p + 24, s->paddr);
			w64(p + 32, s->filesz);
			w64(p + 40, s->memsz);
			w64(p + 48, s->align);
		} else {
			w32(p, s->type);
			w32(p + 4, (uint32_t)off);
			w32(p + 8, (uint32_t)s->vaddr);
			w32(p + 12, (uint32_t)s->paddr);
			w32(p + 16, (uint32_t)s->filesz);
			w32(p + 20, (uint32_t)s->memsz);
			w32(p + 24, 7);
			w32(p + 28, (uint32_t)s->align);
		}
		off = (off + s->filesz + 15) & ~(size_t)15;
	}
	return off;
}

/* Offset of program header i in a file build_elf made. */
static inline size_t elf_phdr_off(int is64, unsigned i)
{
	return is64 ? EHDR64 + i * PHDR64 : EHDR32 + i * PHDR32;
}

/* One ELF note, 4-byte padded; returns its size. */
static inline size_t build_note(uint8_t *buf, const char *name, uint32_t type,
				const void *desc, uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	size_t off = 12;

	w32(buf, namesz);
	w32(buf + 4, descsz);
	w32(buf + 8, type);
	memset(buf + off, 0, (namesz + 3) & ~3u);
	memcpy(buf + off, name, namesz);
	off += (namesz + 3) & ~3u;
	memset(buf + off, 0, (descsz + 3) & ~3u);
	memcpy(buf + off, desc, descsz);
	return off + ((descsz + 3) & ~3u);
}

/* A multiboot v1 header; with aout, the five address fields follow. */
static inline void put_mb_header(uint8_t *p, uint32_t flags, const uint32_t aout[5])
{
	w32(p, 0x1BADB002);
	w32(p + 4, flags);
	w32(p + 8, (uint32_t)(0u - 0x1BADB002u - flags));
	if (aout)
		for (int i = 0; i < 5; i++)
			w32(p + 12 + 4 * i, aout[i]);
}

#endif
