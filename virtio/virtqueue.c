#include "virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vmm/guest_mem.h"

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

#define DESC_SIZE 16u
#define USED_ELEM_SIZE 8u

/* Byte offsets in the rings (virtio 1.2 2.7.6, 2.7.8). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX   2
#define AVAIL_RING  4
#define USED_IDX    2
#define USED_RING   4

/* A chain may not be longer than this in bytes (virtio 1.2 2.7.5.2). */
#define CHAIN_MAX_BYTES (1ull << 32)

/* Host views of the three areas, each checked as a whole. */
struct rings {
	uint8_t *desc;
	uint8_t *avail;
	uint8_t *used;
};

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static size_t avail_bytes(uint16_t size)
{
	return 6 + 2 * (size_t)size;  /* flags, idx, ring, used_event */
}

static size_t used_bytes(uint16_t size)
{
	return 6 + USED_ELEM_SIZE * (size_t)size;  /* flags, idx, ring, avail_event */
}

/* The driver may change the rings at any time: every field is loaded
 * once, and only through these (aligned, so never torn). */
static uint16_t load16(const uint8_t *p, int order)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, order));
}

static void store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)p, htole16(v), order);
}

static void store32(uint8_t *p, uint32_t v, int order)
{
	__atomic_store_n((uint32_t *)p, htole32(v), order);
}

static bool map_rings(const struct virtq *vq, struct rings *r)
{
	uint16_t n = vq->size;

	if (!vq->mem || n == 0 || (n & (n - 1)) || n > VIRTQ_MAX_SIZE)
		return false;
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return false;
	r->desc = guest_mem_ptr(vq->mem, vq->desc_gpa, DESC_SIZE * (uint64_t)n);
	r->avail = guest_mem_ptr(vq->mem, vq->avail_gpa, avail_bytes(n));
	r->used = guest_mem_ptr(vq->mem, vq->used_gpa, used_bytes(n));
	return r->desc && r->avail && r->used;
}

void virtq_reset(struct virtq *vq)
{
	struct guest_mem *mem = vq->mem;

	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	/* Nothing is in the used ring yet: the driver has seen all of it. */
	vq->signalled_valid = true;
}

bool virtq_valid(const struct virtq *vq)
{
	struct rings r;

	return map_rings(vq, &r);
}

/* A descriptor is copied out of guest RAM before it is looked at, so the
 * driver cannot change it between the check and the use. Indirect tables
 * have no alignment rule: memcpy, not a typed load. */
static void read_desc(const uint8_t *table, uint32_t i, struct desc *d)
{
	uint8_t raw[DESC_SIZE];
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;

	memcpy(raw, table + (size_t)i * DESC_SIZE, DESC_SIZE);
	memcpy(&addr, raw, 8);
	memcpy(&len, raw + 8, 4);
	memcpy(&flags, raw + 12, 2);
	memcpy(&next, raw + 14, 2);
	d->addr = le64toh(addr);
	d->len = le32toh(len);
	d->flags = le16toh(flags);
	d->next = le16toh(next);
}

struct walk {
	const struct guest_mem *mem;
	struct virtq_elem *elem;
	unsigned ndesc;       /* buffer descriptors so far */
	uint64_t bytes;
	bool writable;        /* a writable one was seen */
};

/* One buffer (not indirect) descriptor: checked, then a segment. */
static int add_buffer(struct walk *w, const struct desc *d)
{
	struct virtq_elem *elem = w->elem;
	struct virtq_seg *seg;
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	void *host;

	/* Zero-length descriptors count too: otherwise a table of them
	 * would be walked without bound. */
	if (++w->ndesc > VIRTQ_MAX_SEGS)
		return -EINVAL;
	if (write)
		w->writable = true;
	else if (w->writable)
		return -EINVAL;
	/* A length of 0 names no byte: there is no address to check and
	 * nothing for the device to read or write. */
	if (d->len == 0)
		return 0;
	w->bytes += d->len;
	if (w->bytes > CHAIN_MAX_BYTES)
		return -EINVAL;
	host = guest_mem_ptr(w->mem, d->addr, d->len);
	if (!host)
		return -EINVAL;

	/* Readable ones all come first, so this is the next free slot. */
	seg = &elem->seg[elem->nout + elem->nin];
	seg->host = host;
	seg->gpa = d->addr;
	seg->len = d->len;
	if (write) {
		elem->nin++;
		elem->in_len += d->len;
	} else {
		elem->nout++;
		elem->out_len += d->len;
	}
	return 0;
}

/* The table d refers to; it ends the chain (INDIRECT with NEXT was
 * refused by the caller). */
static int walk_indirect(struct walk *w, const struct desc *d)
{
	const uint8_t *table;
	uint32_t n, i = 0;
	struct desc id;
	int ret;

	if (d->len == 0 || d->len % DESC_SIZE)
		return -EINVAL;
	table = guest_mem_ptr(w->mem, d->addr, d->len);
	if (!table)
		return -EINVAL;
	n = d->len / DESC_SIZE;
	/* More steps than entries can only be a loop. */
	for (uint32_t steps = 0; steps < n; steps++) {
		read_desc(table, i, &id);
		if (id.flags & VIRTQ_DESC_F_INDIRECT)
			return -EINVAL;    /* one table per chain, no nesting */
		ret = add_buffer(w, &id);
		if (ret < 0)
			return ret;
		if (!(id.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (id.next >= n)
			return -EINVAL;
		i = id.next;
	}
	return -EINVAL;
}

static int walk_chain(const struct virtq *vq, const struct rings *r, uint16_t head,
		      struct virtq_elem *elem)
{
	struct walk w = { .mem = vq->mem, .elem = elem };
	uint16_t i = head;
	struct desc d;
	int ret;

	elem->head = head;
	elem->nout = elem->nin = 0;
	elem->out_len = elem->in_len = 0;
	/* The table has size entries: a longer chain visits one twice. */
	for (unsigned steps = 0; steps < vq->size; steps++) {
		read_desc(r->desc, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* Its own WRITE flag means nothing (virtio 1.2 2.7.5.3.2). */
			if (!vq->indirect || (d.flags & VIRTQ_DESC_F_NEXT))
				return -EINVAL;
			return walk_indirect(&w, &d);
		}
		ret = add_buffer(&w, &d);
		if (ret < 0)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= vq->size)
			return -EINVAL;
		i = d.next;
	}
	return -EINVAL;
}

int virtq_pop(struct virtq *vq, struct virtq_elem *elem)
{
	struct rings r;
	uint16_t avail_idx, pending, head;

	if (vq->broken)
		return -EINVAL;
	if (!vq->ready)
		return 0;
	if (!map_rings(vq, &r))
		goto malformed;

	/* Acquire: the ring entries and descriptors the driver wrote before
	 * publishing idx are read after it. */
	avail_idx = load16(r.avail + AVAIL_IDX, __ATOMIC_ACQUIRE);
	if (avail_idx == vq->last_avail && vq->event_idx) {
		uint8_t *avail_event = r.used + USED_RING + USED_ELEM_SIZE * vq->size;

		/* Ask to be notified when the driver makes the next chain
		 * available, then look again: a chain published before the
		 * driver could see avail_event may have gone without a
		 * notification. The fence orders our store before that load
		 * as the driver's orders its idx store before reading
		 * avail_event. */
		store16(avail_event, vq->last_avail, __ATOMIC_RELAXED);
		guest_mem_note_write(vq->mem, vq->used_gpa + USED_RING + USED_ELEM_SIZE * vq->size, 2);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = load16(r.avail + AVAIL_IDX, __ATOMIC_ACQUIRE);
	}
	pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending == 0)
		return 0;
	/* idx only grows and the ring has size entries. */
	if (pending > vq->size)
		goto malformed;

	head = load16(r.avail + AVAIL_RING + 2 * (vq->last_avail & (vq->size - 1)),
		      __ATOMIC_RELAXED);
	if (head >= vq->size || walk_chain(vq, &r, head, elem) < 0)
		goto malformed;
	vq->last_avail++;
	return 1;

malformed:
	vq->broken = true;
	return -EINVAL;
}

void virtq_fill(struct virtq *vq, const struct virtq_elem *elem, uint32_t written,
		unsigned off)
{
	struct rings r;
	uint64_t left;
	uint32_t slot;

	/* After a reset the driver owns whatever the ring addresses named:
	 * a late completion must not write there. */
	if (!vq->ready || !map_rings(vq, &r))
		return;
	if (written > elem->in_len)
		written = (uint32_t)elem->in_len;

	/* The device wrote these before the push; the software core hears of
	 * them before the driver can see the chain is done. */
	left = written;
	for (unsigned i = elem->nout; i < elem->nout + elem->nin && left; i++) {
		uint32_t n = elem->seg[i].len < left ? elem->seg[i].len : (uint32_t)left;

		guest_mem_note_write(vq->mem, elem->seg[i].gpa, n);
		left -= n;
	}

	slot = USED_RING + USED_ELEM_SIZE * ((uint16_t)(vq->used_idx + off) & (vq->size - 1));
	store32(r.used + slot, elem->head, __ATOMIC_RELAXED);
	store32(r.used + slot + 4, written, __ATOMIC_RELAXED);
	guest_mem_note_write(vq->mem, vq->used_gpa + slot, USED_ELEM_SIZE);
}

void virtq_flush(struct virtq *vq, unsigned n)
{
	struct rings r;

	if (n == 0 || !vq->ready || !map_rings(vq, &r))
		return;
	vq->used_idx = (uint16_t)(vq->used_idx + n);
	/* Release: the elements (and the data) are visible before idx. */
	store16(r.used + USED_IDX, vq->used_idx, __ATOMIC_RELEASE);
	guest_mem_note_write(vq->mem, vq->used_gpa + USED_IDX, 2);
}

void virtq_push(struct virtq *vq, const struct virtq_elem *elem, uint32_t written)
{
	virtq_fill(vq, elem, written, 0);
	virtq_flush(vq, 1);
}

bool virtq_should_notify(struct virtq *vq)
{
	struct rings r;
	uint16_t old = vq->signalled_used;
	bool valid = vq->signalled_valid;

	if (!vq->ready || !map_rings(vq, &r))
		return false;
	if (valid && vq->used_idx == old)
		return false;
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;

	/* The used idx store must be visible before the driver's suppression
	 * fields are read: a driver that re-enables interrupts writes them,
	 * fences, then re-reads used idx; one of the two sides sees the
	 * other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		uint16_t used_event = load16(r.avail + AVAIL_RING + 2 * vq->size,
					     __ATOMIC_RELAXED);

		return !valid || virtq_need_event(used_event, vq->used_idx, old);
	}
	/* Without EVENT_IDX the flag is advice we follow. */
	return !(load16(r.avail + AVAIL_FLAGS, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

/* Copies len bytes at byte offset off of the segments into to, or from
 * from into them (the other is NULL). */
static size_t copy_segs(const struct virtq_seg *seg, unsigned n, size_t off, size_t len,
			uint8_t *to, const uint8_t *from)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t chunk;

		if (off >= seg[i].len) {
			off -= seg[i].len;
			continue;
		}
		chunk = seg[i].len - off;
		if (chunk > len - done)
			chunk = len - done;
		if (to)
			memcpy(to + done, (const uint8_t *)seg[i].host + off, chunk);
		else
			memcpy((uint8_t *)seg[i].host + off, from + done, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

size_t virtq_read_out(const struct virtq_elem *elem, size_t off, void *dst, size_t len)
{
	return copy_segs(elem->seg, elem->nout, off, len, dst, NULL);
}

size_t virtq_write_in(const struct virtq_elem *elem, size_t off, const void *src, size_t len)
{
	return copy_segs(elem->seg + elem->nout, elem->nin, off, len, NULL, src);
}
