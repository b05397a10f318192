#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtio/virtqueue.h"
#include "vmm/guest_mem.h"

/* The driver's side of the ring, as a guest lays it out. */
#define F_NEXT     1
#define F_WRITE    2
#define F_INDIRECT 4
#define AVAIL_F_NO_INTERRUPT 1

/* Large enough that 65 descriptors of all of RAM pass 2^32 bytes. */
#define RAM       MiB(64)
#define DESC_GPA  0x10000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA  0x30000ull
#define IND_GPA   0x40000ull
#define BUF_GPA   0x100000ull

struct note {
	uint64_t gpa, len;
};

struct drv {
	struct guest_mem mem;
	struct virtq vq;
	uint16_t avail_idx;
	unsigned nnotes;
	struct note notes[64];
	struct virtq_elem elem;
};

static void record_write(void *opaque, uint64_t gpa, uint64_t len)
{
	struct drv *d = opaque;

	assert_true(guest_mem_is_ram(&d->mem, gpa, len));
	if (d->nnotes < sizeof(d->notes) / sizeof(d->notes[0]))
		d->notes[d->nnotes++] = (struct note){ gpa, len };
}

static void queue_init(struct drv *d, uint16_t size)
{
	virtq_reset(&d->vq);
	d->vq.mem = &d->mem;
	d->vq.size = size;
	d->vq.desc_gpa = DESC_GPA;
	d->vq.avail_gpa = AVAIL_GPA;
	d->vq.used_gpa = USED_GPA;
	d->vq.ready = true;
	d->avail_idx = 0;
	memset(guest_mem_ptr(&d->mem, DESC_GPA, 0x30000 + 0x10000), 0, 0x40000);
}

static int setup_mem(struct drv **out, uint64_t ram)
{
	struct drv *d = calloc(1, sizeof(*d));

	if (!d || guest_mem_init(&d->mem, ram) != 0)
		return -1;
	d->mem.written = record_write;
	d->mem.written_opaque = d;
	queue_init(d, 8);
	*out = d;
	return 0;
}

static int setup(void **state)
{
	return setup_mem((struct drv **)state, RAM);
}

static int teardown(void **state)
{
	struct drv *d = *state;

	guest_mem_destroy(&d->mem);
	free(d);
	return 0;
}

/* ---- the driver's writes and the device's results, little-endian ---- */

static void *gp(struct drv *d, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(&d->mem, gpa, len);

	assert_non_null(p);
	return p;
}

static void wr16(struct drv *d, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(gp(d, gpa, 2), &v, 2);
}

static uint16_t rd16(struct drv *d, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, gp(d, gpa, 2), 2);
	return le16toh(v);
}

static uint32_t rd32(struct drv *d, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, gp(d, gpa, 4), 4);
	return le32toh(v);
}

static void set_desc_at(struct drv *d, uint64_t table, unsigned i, uint64_t addr,
			uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t raw[16];
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(raw, &a, 8);
	memcpy(raw + 8, &l, 4);
	memcpy(raw + 12, &f, 2);
	memcpy(raw + 14, &n, 2);
	memcpy(gp(d, table + 16ull * i, 16), raw, 16);
}

static void set_desc(struct drv *d, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	set_desc_at(d, DESC_GPA, i, addr, len, flags, next);
}

/* Puts head in the available ring and publishes it. */
static void make_avail(struct drv *d, uint16_t head)
{
	wr16(d, AVAIL_GPA + 4 + 2 * (d->avail_idx % d->vq.size), head);
	d->avail_idx++;
	wr16(d, AVAIL_GPA + 2, d->avail_idx);
}

static void set_used_event(struct drv *d, uint16_t v)
{
	wr16(d, AVAIL_GPA + 4 + 2 * d->vq.size, v);
}

static uint16_t avail_event(struct drv *d)
{
	return rd16(d, USED_GPA + 4 + 8 * d->vq.size);
}

static void expect_malformed(struct drv *d)
{
	assert_int_equal(virtq_pop(&d->vq, &d->elem), -EINVAL);
	assert_true(d->vq.broken);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), -EINVAL);
}

/* The next chain pops, from head, with nout readable and nin writable
 * segments of out_len and in_len bytes. */
static void expect_chain(struct drv *d, uint16_t head, unsigned nout, unsigned nin,
			 uint64_t out_len, uint64_t in_len)
{
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	assert_int_equal(d->elem.head, head);
	assert_int_equal(d->elem.nout, nout);
	assert_int_equal(d->elem.nin, nin);
	assert_int_equal(d->elem.out_len, out_len);
	assert_int_equal(d->elem.in_len, in_len);
}

/* Head made available: the chain it starts is refused, for good. */
static void expect_head_malformed(struct drv *d, uint16_t head)
{
	make_avail(d, head);
	expect_malformed(d);
}

/* With INDIRECT_DESC negotiated, the chain at slot 0 is one descriptor
 * naming an indirect table of len bytes at table. */
static void indirect_head(struct drv *d, uint64_t table, uint32_t len)
{
	d->vq.indirect = true;
	set_desc(d, 0, table, len, F_INDIRECT, 0);
}

/* ---- well-formed chains ------------------------------------------------ */

static void single_readable_descriptor(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, BUF_GPA, 100, 0, 0);
	make_avail(d, 0);
	expect_chain(d, 0, 1, 0, 100, 0);
	assert_ptr_equal(d->elem.seg[0].host, gp(d, BUF_GPA, 1));
	assert_int_equal(d->elem.seg[0].gpa, BUF_GPA);
	assert_int_equal(d->elem.seg[0].len, 100);
	assert_int_equal(d->vq.last_avail, 1);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 0);
	assert_false(d->vq.broken);
}

static void chain_of_readable_and_writable(void **state)
{
	struct drv *d = *state;

	/* Scattered over the table, as a driver's free list leaves them. */
	set_desc(d, 2, BUF_GPA, 16, F_NEXT, 5);
	set_desc(d, 5, BUF_GPA + 0x1000, 512, F_NEXT, 7);
	set_desc(d, 7, BUF_GPA + 0x2000, 64, F_NEXT | F_WRITE, 0);
	set_desc(d, 0, BUF_GPA + 0x3000, 1, F_WRITE, 0);
	make_avail(d, 2);
	expect_chain(d, 2, 2, 2, 528, 65);
	assert_int_equal(d->elem.seg[1].gpa, BUF_GPA + 0x1000);
	assert_int_equal(d->elem.seg[2].gpa, BUF_GPA + 0x2000);
	assert_int_equal(d->elem.seg[3].gpa, BUF_GPA + 0x3000);
	assert_int_equal(d->elem.seg[3].len, 1);
}

static void only_writable(void **state)
{
	struct drv *d = *state;

	set_desc(d, 3, BUF_GPA, 4096, F_WRITE, 0);
	make_avail(d, 3);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	assert_int_equal(d->elem.nout, 0);
	assert_int_equal(d->elem.nin, 1);
	assert_int_equal(d->elem.in_len, 4096);
}

static void several_chains_in_order(void **state)
{
	struct drv *d = *state;

	for (unsigned i = 0; i < 8; i++) {
		set_desc(d, i, BUF_GPA + i * 0x100, 10 + i, 0, 0);
		make_avail(d, (uint16_t)(7 - i));
	}
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
		assert_int_equal(d->elem.head, 7 - i);
		assert_int_equal(d->elem.out_len, 10 + 7 - i);
	}
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 0);
}

static void avail_index_wraps_around(void **state)
{
	struct drv *d = *state;

	d->vq.last_avail = 0xfffe;
	d->avail_idx = 0xfffe;
	for (unsigned i = 0; i < 4; i++) {
		set_desc(d, i, BUF_GPA, 1, 0, 0);
		make_avail(d, (uint16_t)i);
	}
	assert_int_equal(rd16(d, AVAIL_GPA + 2), 2);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
		assert_int_equal(d->elem.head, i);
	}
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 0);
	assert_int_equal(d->vq.last_avail, 2);
}

static void exactly_size_pending_is_fine(void **state)
{
	struct drv *d = *state;

	for (unsigned i = 0; i < 8; i++) {
		set_desc(d, i, BUF_GPA, 1, 0, 0);
		make_avail(d, (uint16_t)i);
	}
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 0);
}

static void chain_as_long_as_the_queue(void **state)
{
	struct drv *d = *state;

	for (unsigned i = 0; i < 8; i++)
		set_desc(d, i, BUF_GPA + i, 1, i < 7 ? F_NEXT : 0, (uint16_t)(i + 1));
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	assert_int_equal(d->elem.nout, 8);
}

static void indirect_table(void **state)
{
	struct drv *d = *state;

	d->vq.indirect = true;
	/* The WRITE flag of the descriptor naming the table is ignored. */
	set_desc(d, 4, IND_GPA, 3 * 16, F_INDIRECT | F_WRITE, 0);
	set_desc_at(d, IND_GPA, 0, BUF_GPA, 16, F_NEXT, 2);
	set_desc_at(d, IND_GPA, 2, BUF_GPA + 0x100, 200, F_NEXT | F_WRITE, 1);
	set_desc_at(d, IND_GPA, 1, BUF_GPA + 0x1000, 1, F_WRITE, 0);
	make_avail(d, 4);
	expect_chain(d, 4, 1, 2, 16, 201);
	assert_int_equal(d->elem.seg[1].gpa, BUF_GPA + 0x100);
	assert_int_equal(d->elem.seg[2].gpa, BUF_GPA + 0x1000);
}

static void direct_descriptors_then_indirect(void **state)
{
	struct drv *d = *state;

	d->vq.indirect = true;
	set_desc(d, 0, BUF_GPA, 8, F_NEXT, 1);
	set_desc(d, 1, IND_GPA, 2 * 16, F_INDIRECT, 0);
	set_desc_at(d, IND_GPA, 0, BUF_GPA + 8, 8, F_NEXT, 1);
	set_desc_at(d, IND_GPA, 1, BUF_GPA + 16, 8, F_WRITE, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	assert_int_equal(d->elem.nout, 2);
	assert_int_equal(d->elem.nin, 1);
}

static void indirect_table_unaligned(void **state)
{
	struct drv *d = *state;

	indirect_head(d, IND_GPA + 3, 16);
	set_desc_at(d, IND_GPA + 3, 0, BUF_GPA, 8, 0, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	assert_int_equal(d->elem.out_len, 8);
}

static void zero_length_descriptors_give_no_segment(void **state)
{
	struct drv *d = *state;

	/* Its address names no byte and is not checked. */
	set_desc(d, 0, ~0ull, 0, F_NEXT, 1);
	set_desc(d, 1, BUF_GPA, 10, F_NEXT, 2);
	set_desc(d, 2, RAM + 0x1000, 0, F_WRITE | F_NEXT, 3);
	set_desc(d, 3, BUF_GPA + 10, 5, F_WRITE, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	assert_int_equal(d->elem.nout, 1);
	assert_int_equal(d->elem.nin, 1);
	assert_int_equal(d->elem.seg[0].gpa, BUF_GPA);
	assert_int_equal(d->elem.seg[1].gpa, BUF_GPA + 10);
}

static void most_segments_accepted(void **state)
{
	struct drv *d = *state;

	indirect_head(d, IND_GPA, VIRTQ_MAX_SEGS * 16);
	for (unsigned i = 0; i < VIRTQ_MAX_SEGS; i++)
		set_desc_at(d, IND_GPA, i, BUF_GPA + i, 1,
			    i + 1 < VIRTQ_MAX_SEGS ? F_NEXT : 0, (uint16_t)(i + 1));
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	assert_int_equal(d->elem.nout, VIRTQ_MAX_SEGS);
	assert_int_equal(d->elem.out_len, VIRTQ_MAX_SEGS);
}

static void four_gib_chain_accepted(void **state)
{
	struct drv *d = *state;

	/* 64 times all of RAM: 2^32 bytes, the spec's limit. */
	indirect_head(d, IND_GPA, 64 * 16);
	for (unsigned i = 0; i < 64; i++)
		set_desc_at(d, IND_GPA, i, 0, (uint32_t)RAM, i < 63 ? F_NEXT : 0, (uint16_t)(i + 1));
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	assert_int_equal(d->elem.out_len, 1ull << 32);
}

/* ---- copy helpers ------------------------------------------------------ */

static void read_out_and_write_in_span_segments(void **state)
{
	struct drv *d = *state;
	uint8_t buf[64], back[64];

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i + 1);
	memcpy(gp(d, BUF_GPA, 3), buf, 3);
	memcpy(gp(d, BUF_GPA + 0x100, 5), buf + 3, 5);
	set_desc(d, 0, BUF_GPA, 3, F_NEXT, 1);
	set_desc(d, 1, BUF_GPA + 0x100, 5, F_NEXT, 2);
	set_desc(d, 2, BUF_GPA + 0x200, 4, F_NEXT | F_WRITE, 3);
	set_desc(d, 3, BUF_GPA + 0x300, 6, F_WRITE, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);

	memset(back, 0, sizeof(back));
	assert_int_equal(virtq_read_out(&d->elem, 0, back, sizeof(back)), 8);
	assert_memory_equal(back, buf, 8);
	assert_int_equal(virtq_read_out(&d->elem, 2, back, 3), 3);
	assert_memory_equal(back, buf + 2, 3);
	assert_int_equal(virtq_read_out(&d->elem, 8, back, 1), 0);
	assert_int_equal(virtq_read_out(&d->elem, 100, back, 1), 0);

	assert_int_equal(virtq_write_in(&d->elem, 2, buf, sizeof(buf)), 8);
	assert_memory_equal(gp(d, BUF_GPA + 0x202, 2), buf, 2);
	assert_memory_equal(gp(d, BUF_GPA + 0x300, 6), buf + 2, 6);
	/* The readable segments are never written. */
	assert_memory_equal(gp(d, BUF_GPA, 3), buf, 3);
	assert_int_equal(virtq_write_in(&d->elem, 10, buf, 1), 0);
}

/* ---- the used ring ----------------------------------------------------- */

static void push_fills_the_used_ring(void **state)
{
	struct drv *d = *state;
	struct virtq_elem *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

	assert_non_null(a);
	assert_non_null(b);
	set_desc(d, 1, BUF_GPA, 10, F_WRITE, 0);
	set_desc(d, 6, BUF_GPA + 0x100, 8, F_NEXT, 3);
	set_desc(d, 3, BUF_GPA + 0x200, 100, F_WRITE, 0);
	make_avail(d, 1);
	make_avail(d, 6);
	assert_int_equal(virtq_pop(&d->vq, a), 1);
	assert_int_equal(virtq_pop(&d->vq, b), 1);

	/* Out of order, as a device completes them. */
	virtq_push(&d->vq, b, 42);
	assert_int_equal(rd16(d, USED_GPA + 2), 1);
	assert_int_equal(rd32(d, USED_GPA + 4), 6);
	assert_int_equal(rd32(d, USED_GPA + 8), 42);
	/* More than the writable bytes is clamped. */
	virtq_push(&d->vq, a, 1000);
	assert_int_equal(rd16(d, USED_GPA + 2), 2);
	assert_int_equal(rd32(d, USED_GPA + 12), 1);
	assert_int_equal(rd32(d, USED_GPA + 16), 10);
	assert_int_equal(d->vq.used_idx, 2);
	free(a);
	free(b);
}

static void used_index_wraps_around(void **state)
{
	struct drv *d = *state;

	d->vq.used_idx = 0xffff;
	set_desc(d, 0, BUF_GPA, 4, F_WRITE, 0);
	make_avail(d, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	virtq_push(&d->vq, &d->elem, 4);
	/* Slot 0xffff % 8 = 7. */
	assert_int_equal(rd32(d, USED_GPA + 4 + 8 * 7), 0);
	assert_int_equal(rd32(d, USED_GPA + 4 + 8 * 7 + 4), 4);
	assert_int_equal(rd16(d, USED_GPA + 2), 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	virtq_push(&d->vq, &d->elem, 3);
	assert_int_equal(rd32(d, USED_GPA + 4 + 4), 3);
	assert_int_equal(rd16(d, USED_GPA + 2), 1);
}

static bool noted(struct drv *d, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < d->nnotes; i++)
		if (d->notes[i].gpa == gpa && d->notes[i].len == len)
			return true;
	return false;
}

/* The notes that fall in the data buffers, not the rings. */
static unsigned data_notes(struct drv *d)
{
	unsigned n = 0;

	for (unsigned i = 0; i < d->nnotes; i++)
		n += d->notes[i].gpa >= BUF_GPA;
	return n;
}

static void push_notes_the_written_bytes(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, BUF_GPA, 7, F_NEXT, 1);
	set_desc(d, 1, BUF_GPA + 0x1000, 10, F_WRITE | F_NEXT, 2);
	set_desc(d, 2, BUF_GPA + 0x2000, 20, F_WRITE | F_NEXT, 3);
	set_desc(d, 3, BUF_GPA + 0x3000, 30, F_WRITE, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	d->nnotes = 0;
	virtq_push(&d->vq, &d->elem, 25);
	assert_int_equal(data_notes(d), 2);
	assert_true(noted(d, BUF_GPA + 0x1000, 10));
	assert_true(noted(d, BUF_GPA + 0x2000, 15));
	/* The used ring's element and index are device writes too. */
	assert_true(noted(d, USED_GPA + 4, 8));
	assert_true(noted(d, USED_GPA + 2, 2));
}

static void push_of_nothing_written_notes_no_data(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, BUF_GPA, 10, F_WRITE, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	d->nnotes = 0;
	virtq_push(&d->vq, &d->elem, 0);
	assert_int_equal(data_notes(d), 0);
	assert_int_equal(rd32(d, USED_GPA + 8), 0);
}

static void push_after_reset_writes_nothing(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, BUF_GPA, 10, F_WRITE, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	virtq_reset(&d->vq);
	d->nnotes = 0;
	virtq_push(&d->vq, &d->elem, 10);
	assert_int_equal(d->nnotes, 0);
	assert_int_equal(rd16(d, USED_GPA + 2), 0);
}

/* ---- malformed rings and chains ---------------------------------------- */

static void loop_in_chain(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, BUF_GPA, 1, F_NEXT, 1);
	set_desc(d, 1, BUF_GPA, 1, F_NEXT, 0);
	expect_head_malformed(d, 0);
}

static void descriptor_pointing_at_itself(void **state)
{
	struct drv *d = *state;

	set_desc(d, 3, BUF_GPA, 1, F_WRITE | F_NEXT, 3);
	expect_head_malformed(d, 3);
}

static void loop_of_zero_length_descriptors(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, 0, 0, F_NEXT, 0);
	expect_head_malformed(d, 0);
}

static void chain_longer_than_the_queue(void **state)
{
	struct drv *d = *state;

	/* Every next is in range: only the count finds the loop. */
	queue_init(d, 4);
	for (unsigned i = 0; i < 4; i++)
		set_desc(d, i, BUF_GPA + i, 1, F_NEXT, (uint16_t)((i + 1) % 4));
	expect_head_malformed(d, 0);
}

static void head_out_of_range(void **state)
{
	struct drv *d = *state;

	expect_head_malformed(d, 8);
}

static void next_out_of_range(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, BUF_GPA, 1, F_NEXT, 8);
	expect_head_malformed(d, 0);
}

static void address_outside_ram(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, RAM + 0x1000, 16, 0, 0);
	expect_head_malformed(d, 0);
}

static void address_plus_length_overflows(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, ~0ull - 10, 100, 0, 0);
	expect_head_malformed(d, 0);
}

static void buffer_crosses_the_end_of_ram(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, RAM - 50, 51, F_WRITE, 0);
	expect_head_malformed(d, 0);
}

static void buffer_ending_at_the_end_of_ram(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, RAM - 50, 50, F_WRITE, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
}

static void buffer_crosses_into_the_pci_hole(void **state)
{
	struct drv *d;

	/* Two regions: RAM below the hole and RAM at 4 GiB. */
	assert_int_equal(setup_mem(&d, GiB(4)), 0);
	assert_int_equal(d->mem.nregions, 2);
	set_desc(d, 0, PCI_HOLE_START - 8, 16, 0, 0);
	expect_head_malformed(d, 0);

	queue_init(d, 8);
	set_desc(d, 0, HIGH_RAM_START, 16, 0, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	*state = d;
	teardown(state);
}

static void writable_before_readable(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, BUF_GPA, 4, F_WRITE | F_NEXT, 1);
	set_desc(d, 1, BUF_GPA + 4, 4, 0, 0);
	expect_head_malformed(d, 0);
}

static void writable_before_readable_across_the_table(void **state)
{
	struct drv *d = *state;

	d->vq.indirect = true;
	set_desc(d, 0, BUF_GPA, 4, F_WRITE | F_NEXT, 1);
	set_desc(d, 1, IND_GPA, 16, F_INDIRECT, 0);
	set_desc_at(d, IND_GPA, 0, BUF_GPA + 4, 4, 0, 0);
	expect_head_malformed(d, 0);
}

static void zero_length_readable_after_writable(void **state)
{
	struct drv *d = *state;

	/* The order is a rule on the chain, bytes or not. */
	set_desc(d, 0, BUF_GPA, 4, F_WRITE | F_NEXT, 1);
	set_desc(d, 1, BUF_GPA, 0, 0, 0);
	expect_head_malformed(d, 0);
}

static void indirect_without_the_feature(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, IND_GPA, 16, F_INDIRECT, 0);
	set_desc_at(d, IND_GPA, 0, BUF_GPA, 4, 0, 0);
	expect_head_malformed(d, 0);
}

static void indirect_length_not_a_multiple_of_16(void **state)
{
	struct drv *d = *state;

	indirect_head(d, IND_GPA, 24);
	set_desc_at(d, IND_GPA, 0, BUF_GPA, 4, 0, 0);
	expect_head_malformed(d, 0);
}

static void indirect_length_zero(void **state)
{
	struct drv *d = *state;

	indirect_head(d, IND_GPA, 0);
	expect_head_malformed(d, 0);
}

static void indirect_table_outside_ram(void **state)
{
	struct drv *d = *state;

	indirect_head(d, RAM - 16, 32);
	expect_head_malformed(d, 0);
}

static void nested_indirect(void **state)
{
	struct drv *d = *state;

	indirect_head(d, IND_GPA, 16);
	set_desc_at(d, IND_GPA, 0, IND_GPA + 0x100, 16, F_INDIRECT, 0);
	set_desc_at(d, IND_GPA + 0x100, 0, BUF_GPA, 4, 0, 0);
	expect_head_malformed(d, 0);
}

static void indirect_with_next(void **state)
{
	struct drv *d = *state;

	d->vq.indirect = true;
	set_desc(d, 0, IND_GPA, 16, F_INDIRECT | F_NEXT, 1);
	set_desc(d, 1, BUF_GPA, 4, F_WRITE, 0);
	set_desc_at(d, IND_GPA, 0, BUF_GPA, 4, 0, 0);
	expect_head_malformed(d, 0);
}

static void loop_in_indirect_table(void **state)
{
	struct drv *d = *state;

	indirect_head(d, IND_GPA, 3 * 16);
	set_desc_at(d, IND_GPA, 0, BUF_GPA, 1, F_NEXT, 1);
	set_desc_at(d, IND_GPA, 1, BUF_GPA, 1, F_NEXT, 2);
	set_desc_at(d, IND_GPA, 2, BUF_GPA, 1, F_NEXT, 0);
	expect_head_malformed(d, 0);
}

static void indirect_next_beyond_the_table(void **state)
{
	struct drv *d = *state;

	indirect_head(d, IND_GPA, 2 * 16);
	set_desc_at(d, IND_GPA, 0, BUF_GPA, 1, F_NEXT, 2);
	set_desc_at(d, IND_GPA, 2, BUF_GPA, 1, 0, 0);
	expect_head_malformed(d, 0);
}

static void too_many_segments(void **state)
{
	struct drv *d = *state;
	unsigned n = VIRTQ_MAX_SEGS + 1;

	indirect_head(d, IND_GPA, n * 16);
	for (unsigned i = 0; i < n; i++)
		set_desc_at(d, IND_GPA, i, BUF_GPA + i, 1, i + 1 < n ? F_NEXT : 0, (uint16_t)(i + 1));
	expect_head_malformed(d, 0);
}

static void chain_longer_than_four_gib(void **state)
{
	struct drv *d = *state;

	/* 2^32 bytes and one more. */
	indirect_head(d, IND_GPA, 65 * 16);
	for (unsigned i = 0; i < 64; i++)
		set_desc_at(d, IND_GPA, i, 0, (uint32_t)RAM, F_NEXT, (uint16_t)(i + 1));
	set_desc_at(d, IND_GPA, 64, BUF_GPA, 1, 0, 0);
	expect_head_malformed(d, 0);
}

static void avail_index_jumps_beyond_the_size(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, BUF_GPA, 1, 0, 0);
	wr16(d, AVAIL_GPA + 2, 9);
	expect_malformed(d);
}

static void avail_index_going_back(void **state)
{
	struct drv *d = *state;

	/* A decrement looks like 65535 new entries. */
	set_desc(d, 0, BUF_GPA, 1, 0, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	wr16(d, AVAIL_GPA + 2, 0);
	expect_malformed(d);
}

static void broken_until_reset(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, BUF_GPA, 1, F_NEXT, 9);
	expect_head_malformed(d, 0);
	/* Mending the ring does not mend the queue. */
	set_desc(d, 0, BUF_GPA, 1, 0, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), -EINVAL);

	queue_init(d, 8);
	assert_false(d->vq.broken);
	assert_ptr_equal(d->vq.mem, &d->mem);
	set_desc(d, 0, BUF_GPA, 1, 0, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
}

static void reset_clears_the_device_side(void **state)
{
	struct drv *d = *state;

	d->vq.last_avail = 3;
	d->vq.used_idx = 4;
	d->vq.broken = true;
	d->vq.event_idx = d->vq.indirect = true;
	virtq_reset(&d->vq);
	assert_false(d->vq.ready);
	assert_int_equal(d->vq.size, 0);
	assert_int_equal(d->vq.desc_gpa | d->vq.avail_gpa | d->vq.used_gpa, 0);
	assert_int_equal(d->vq.last_avail, 0);
	assert_int_equal(d->vq.used_idx, 0);
	assert_false(d->vq.broken || d->vq.event_idx || d->vq.indirect);
	assert_ptr_equal(d->vq.mem, &d->mem);
}

static void not_ready_pops_nothing(void **state)
{
	struct drv *d = *state;

	set_desc(d, 0, BUF_GPA, 1, 0, 0);
	make_avail(d, 0);
	d->vq.ready = false;
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 0);
	assert_false(d->vq.broken);
}

static void rings_moved_out_of_ram(void **state)
{
	struct drv *d = *state;

	d->vq.used_gpa = RAM;
	expect_malformed(d);
}

/* ---- setup checks ------------------------------------------------------ */

static void valid_checks_alignment_and_placement(void **state)
{
	struct drv *d = *state;
	struct virtq *vq = &d->vq;

	assert_true(virtq_valid(vq));
	vq->desc_gpa = DESC_GPA + 8;
	assert_false(virtq_valid(vq));
	vq->desc_gpa = DESC_GPA;
	vq->avail_gpa = AVAIL_GPA + 1;
	assert_false(virtq_valid(vq));
	vq->avail_gpa = AVAIL_GPA + 2;
	assert_true(virtq_valid(vq));
	vq->used_gpa = USED_GPA + 2;
	assert_false(virtq_valid(vq));
	vq->used_gpa = USED_GPA + 4;
	assert_true(virtq_valid(vq));

	/* Each area to its last byte, the event fields included. */
	vq->desc_gpa = RAM - 16 * 8;
	assert_true(virtq_valid(vq));
	vq->desc_gpa = RAM - 16 * 8 + 16;
	assert_false(virtq_valid(vq));
	vq->desc_gpa = DESC_GPA;
	vq->avail_gpa = RAM - (6 + 2 * 8);
	assert_true(virtq_valid(vq));
	vq->avail_gpa = RAM - (4 + 2 * 8);
	assert_false(virtq_valid(vq));
	vq->avail_gpa = AVAIL_GPA;
	vq->used_gpa = RAM - (6 + 8 * 8) - 2;  /* 4-aligned */
	assert_true(virtq_valid(vq));
	vq->used_gpa = RAM - 4 - 8 * 8;
	assert_false(virtq_valid(vq));
	vq->used_gpa = ~0ull - 3;
	assert_false(virtq_valid(vq));
}

static void valid_checks_the_size(void **state)
{
	struct drv *d = *state;
	struct virtq *vq = &d->vq;

	vq->size = 0;
	assert_false(virtq_valid(vq));
	vq->size = 6;
	assert_false(virtq_valid(vq));
	vq->size = 1;
	assert_true(virtq_valid(vq));
	vq->size = 32768;
	vq->desc_gpa = 0x100000;
	vq->avail_gpa = 0x200000;
	vq->used_gpa = 0x300000;
	assert_true(virtq_valid(vq));
	vq->mem = NULL;
	assert_false(virtq_valid(vq));
}

static void size_one_queue(void **state)
{
	struct drv *d = *state;

	queue_init(d, 1);
	set_desc(d, 0, BUF_GPA, 1, 0, 0);
	for (unsigned i = 0; i < 3; i++) {
		make_avail(d, 0);
		assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
		virtq_push(&d->vq, &d->elem, 0);
	}
	assert_int_equal(rd16(d, USED_GPA + 2), 3);
}

/* ---- interrupts -------------------------------------------------------- */

static void push_one(struct drv *d)
{
	set_desc(d, 0, BUF_GPA, 1, F_WRITE, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	virtq_push(&d->vq, &d->elem, 1);
}

static void notify_follows_no_interrupt_flag(void **state)
{
	struct drv *d = *state;

	/* Nothing pushed: nothing to tell. */
	assert_false(virtq_should_notify(&d->vq));
	push_one(d);
	assert_true(virtq_should_notify(&d->vq));
	assert_false(virtq_should_notify(&d->vq));
	wr16(d, AVAIL_GPA, AVAIL_F_NO_INTERRUPT);
	push_one(d);
	assert_false(virtq_should_notify(&d->vq));
	wr16(d, AVAIL_GPA, 0);
	push_one(d);
	assert_true(virtq_should_notify(&d->vq));
}

static void event_idx_ignores_the_flag(void **state)
{
	struct drv *d = *state;

	d->vq.event_idx = true;
	wr16(d, AVAIL_GPA, AVAIL_F_NO_INTERRUPT);
	set_used_event(d, 0);
	push_one(d);
	assert_true(virtq_should_notify(&d->vq));
}

static void event_idx_waits_for_the_event(void **state)
{
	struct drv *d = *state;

	d->vq.event_idx = true;
	/* Wake me when used idx passes 2, i.e. after the third chain. */
	set_used_event(d, 2);
	push_one(d);
	assert_false(virtq_should_notify(&d->vq));
	push_one(d);
	assert_false(virtq_should_notify(&d->vq));
	push_one(d);
	assert_true(virtq_should_notify(&d->vq));
	push_one(d);
	assert_false(virtq_should_notify(&d->vq));
	/* Several pushes, one call: the event is inside the batch. */
	set_used_event(d, 5);
	push_one(d);
	push_one(d);
	push_one(d);
	assert_true(virtq_should_notify(&d->vq));
}

static void event_idx_across_the_wrap(void **state)
{
	struct drv *d = *state;

	d->vq.event_idx = true;
	d->vq.used_idx = d->vq.signalled_used = 0xfffe;
	d->vq.signalled_valid = true;
	set_used_event(d, 0xffff);
	push_one(d);          /* 0xfffe -> 0xffff, written at index 0xfffe */
	assert_false(virtq_should_notify(&d->vq));
	push_one(d);          /* -> 0, written at index 0xffff */
	assert_true(virtq_should_notify(&d->vq));
	set_used_event(d, 1);
	push_one(d);          /* -> 1, written at index 0 */
	assert_false(virtq_should_notify(&d->vq));
	push_one(d);          /* -> 2, written at index 1 */
	assert_true(virtq_should_notify(&d->vq));

	d->vq.used_idx = d->vq.signalled_used = 0xfffe;
	set_used_event(d, 0);
	for (unsigned i = 0; i < 4; i++)
		push_one(d);  /* -> 2, across 0 */
	assert_true(virtq_should_notify(&d->vq));

	d->vq.used_idx = d->vq.signalled_used = 0xfffe;
	set_used_event(d, 3);
	for (unsigned i = 0; i < 4; i++)
		push_one(d);  /* -> 2: 3 not reached */
	assert_false(virtq_should_notify(&d->vq));
	push_one(d);          /* -> 3 */
	assert_false(virtq_should_notify(&d->vq));
	push_one(d);          /* -> 4 */
	assert_true(virtq_should_notify(&d->vq));
}

static void event_idx_first_call_without_history(void **state)
{
	struct drv *d = *state;

	/* What the driver saw is unknown: better one interrupt too many. */
	d->vq.event_idx = true;
	d->vq.signalled_valid = false;
	set_used_event(d, 100);
	push_one(d);
	assert_true(virtq_should_notify(&d->vq));
	push_one(d);
	assert_false(virtq_should_notify(&d->vq));
}

static void need_event_arithmetic(void **state)
{
	assert_true(virtq_need_event(0, 1, 0));
	assert_false(virtq_need_event(1, 1, 0));
	assert_true(virtq_need_event(0xffff, 0, 0xffff));
	assert_true(virtq_need_event(0xfffe, 2, 0xfff0));
	assert_true(virtq_need_event(1, 2, 0xfff0));
	assert_false(virtq_need_event(2, 2, 0xfff0));
	assert_false(virtq_need_event(0xffef, 2, 0xfff0));
	assert_false(virtq_need_event(5, 5, 5));
}

static void empty_ring_arms_avail_event(void **state)
{
	struct drv *d = *state;

	d->vq.event_idx = true;
	wr16(d, USED_GPA + 4 + 8 * 8, 0x1234);
	set_desc(d, 0, BUF_GPA, 1, 0, 0);
	make_avail(d, 0);
	make_avail(d, 0);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	/* Busy: the driver's notifications are not asked for again yet. */
	assert_int_equal(avail_event(d), 0x1234);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 1);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 0);
	assert_int_equal(avail_event(d), 2);
	assert_true(noted(d, USED_GPA + 4 + 8 * 8, 2));
}

static void no_avail_event_without_the_feature(void **state)
{
	struct drv *d = *state;

	wr16(d, USED_GPA + 4 + 8 * 8, 0x1234);
	assert_int_equal(virtq_pop(&d->vq, &d->elem), 0);
	assert_int_equal(avail_event(d), 0x1234);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(single_readable_descriptor),
		T(chain_of_readable_and_writable),
		T(only_writable),
		T(several_chains_in_order),
		T(avail_index_wraps_around),
		T(exactly_size_pending_is_fine),
		T(chain_as_long_as_the_queue),
		T(indirect_table),
		T(direct_descriptors_then_indirect),
		T(indirect_table_unaligned),
		T(zero_length_descriptors_give_no_segment),
		T(most_segments_accepted),
		T(four_gib_chain_accepted),
		T(read_out_and_write_in_span_segments),
		T(push_fills_the_used_ring),
		T(used_index_wraps_around),
		T(push_notes_the_written_bytes),
		T(push_of_nothing_written_notes_no_data),
		T(push_after_reset_writes_nothing),
		T(loop_in_chain),
		T(descriptor_pointing_at_itself),
		T(loop_of_zero_length_descriptors),
		T(chain_longer_than_the_queue),
		T(head_out_of_range),
		T(next_out_of_range),
		T(address_outside_ram),
		T(address_plus_length_overflows),
		T(buffer_crosses_the_end_of_ram),
		T(buffer_ending_at_the_end_of_ram),
		cmocka_unit_test(buffer_crosses_into_the_pci_hole),
		T(writable_before_readable),
		T(writable_before_readable_across_the_table),
		T(zero_length_readable_after_writable),
		T(indirect_without_the_feature),
		T(indirect_length_not_a_multiple_of_16),
		T(indirect_length_zero),
		T(indirect_table_outside_ram),
		T(nested_indirect),
		T(indirect_with_next),
		T(loop_in_indirect_table),
		T(indirect_next_beyond_the_table),
		T(too_many_segments),
		T(chain_longer_than_four_gib),
		T(avail_index_jumps_beyond_the_size),
		T(avail_index_going_back),
		T(broken_until_reset),
		T(reset_clears_the_device_side),
		T(not_ready_pops_nothing),
		T(rings_moved_out_of_ram),
		T(valid_checks_alignment_and_placement),
		T(valid_checks_the_size),
		T(size_one_queue),
		T(notify_follows_no_interrupt_flag),
		T(event_idx_ignores_the_flag),
		T(event_idx_waits_for_the_event),
		T(event_idx_across_the_wrap),
		T(event_idx_first_call_without_history),
		cmocka_unit_test(need_event_arithmetic),
		T(empty_ring_arms_avail_event),
		T(no_avail_event_without_the_feature),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
