/* Fuzz target: the virtqueue as a device sees it, with a driver made of
 * the input bytes. The device pops until the ring is empty or found
 * malformed, reads and writes every chain and pushes it back.
 *
 * Input (bytes past the end read as 0):
 *   0     queue size: 1 << (b % 9), 1..256
 *   1     bit 0: EVENT_IDX; bit 1: INDIRECT_DESC; bit 2: the rings at
 *         the end of RAM, the descriptor table last; bit 3: the data area
 *         ends at the end of RAM (or where those rings begin). An access
 *         beyond a table that ends RAM faults in the guard page; elsewhere
 *         it would read other guest bytes unnoticed.
 *   2-3   last_avail the device starts from (16-bit wrap-around)
 *   4     chains the driver publishes: avail idx = last_avail + b
 *   5-6   used_idx the device starts from
 *   7     share (in 128ths) of each chain's writable bytes the device
 *         reports written: more than there are is clamped
 *   8-9   byte offset for the copy helpers
 *   then  the descriptor table (16 * size), the available ring's flags,
 *         ring and used_event, and the rest in the data area (indirect
 *         tables, buffers): descriptors name guest addresses, and only ones in
 *         [0, RAM) are RAM.
 *
 * Whatever the bytes: no access outside guest RAM (the guard pages fault,
 * ASan watches the host side), every noted write lies in RAM, and every
 * pop answers as a plain model of the spec's rules below says, with the
 * same segments; the used ring then holds what was pushed. */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "virtio/virtqueue.h"
#include "vmm/guest_mem.h"

#define RAM      MiB(64)      /* 65 descriptors of all of it pass 2^32 bytes */
#define DESC_GPA  0x1000ull
#define AVAIL_GPA 0x2000ull
#define USED_GPA  0x3000ull
#define DATA_GPA  0x4000ull
#define DATA_MAX  0x10000ull
#define HEADER    10
/* The rings at the end of RAM take at most this much. */
#define RINGS_MAX 0x2000ull

static struct guest_mem mem;
static struct virtq vq;
static struct virtq_elem elem;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void noted(void *opaque, uint64_t gpa, uint64_t len)
{
	check(guest_mem_is_ram(&mem, gpa, len));
}

/* Copies what is left of the input, at most len bytes, to gpa. */
static void fill(uint64_t gpa, const uint8_t **data, size_t *left, size_t len)
{
	size_t n = *left < len ? *left : len;

	if (n)
		memcpy(guest_mem_ptr(&mem, gpa, n), *data, n);
	*data += n;
	*left -= n;
}

/* ---- the rules again, written plainly from the spec ----------------------
 *
 * What virtq_pop must return for the ring as it is now, found by reading
 * guest memory only through guest_mem_read: the verdict and, for a good
 * chain, its segments. A chain breaking any rule is malformed, whichever
 * rule is checked first. */

#define F_NEXT     1
#define F_WRITE    2
#define F_INDIRECT 4

struct model_seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static struct model_seg mseg[VIRTQ_MAX_SEGS];
static unsigned nmseg;

static uint64_t rd(uint64_t gpa, unsigned bytes)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	check(guest_mem_read(&mem, gpa, b, bytes) == 0);
	for (unsigned i = bytes; i-- > 0;)
		v = v << 8 | b[i];
	return v;
}

static bool model_chain(uint16_t head)
{
	uint64_t table = vq.desc_gpa, bytes = 0;
	uint32_t entries = vq.size, i = head, steps = 0;
	bool indirect = false, writable = false;
	unsigned ndesc = 0;

	nmseg = 0;
	for (;;) {
		uint64_t d, addr;
		uint32_t len;
		uint16_t flags;

		if (i >= entries || ++steps > entries)
			return false;
		d = table + 16ull * i;
		addr = rd(d, 8);
		len = (uint32_t)rd(d + 8, 4);
		flags = (uint16_t)rd(d + 12, 2);
		if (flags & F_INDIRECT) {
			if (indirect || !vq.indirect || (flags & F_NEXT) || len == 0 ||
			    len % 16 || !guest_mem_is_ram(&mem, addr, len))
				return false;
			indirect = true;
			table = addr;
			entries = len / 16;
			i = steps = 0;
			continue;
		}
		if (++ndesc > VIRTQ_MAX_SEGS)
			return false;
		if (!(flags & F_WRITE) && writable)
			return false;
		writable |= flags & F_WRITE;
		if (len) {
			bytes += len;
			if (bytes > (1ull << 32) || !guest_mem_is_ram(&mem, addr, len))
				return false;
			mseg[nmseg++] = (struct model_seg){ addr, len, flags & F_WRITE };
		}
		if (!(flags & F_NEXT))
			return true;
		i = (uint16_t)rd(d + 14, 2);
	}
}

/* -EINVAL, 0 or 1, as virtq_pop must answer now. */
static int model_pop(void)
{
	uint16_t pending;

	if (vq.broken)
		return -EINVAL;
	pending = (uint16_t)(rd(vq.avail_gpa + 2, 2) - vq.last_avail);
	if (pending == 0)
		return 0;
	if (pending > vq.size)
		return -EINVAL;
	return model_chain((uint16_t)rd(vq.avail_gpa + 4 + 2 * (vq.last_avail % vq.size), 2)) ?
	       1 : -EINVAL;
}

static void check_elem(void)
{
	uint64_t out = 0, in = 0;

	check(elem.nout + elem.nin == nmseg);
	for (unsigned i = 0; i < nmseg; i++) {
		const struct virtq_seg *s = &elem.seg[i];

		check(s->gpa == mseg[i].gpa && s->len == mseg[i].len);
		check(mseg[i].write == (i >= elem.nout));
		check(guest_mem_ptr(&mem, s->gpa, s->len) == s->host);
		if (i < elem.nout)
			out += s->len;
		else
			in += s->len;
	}
	check(out == elem.out_len && in == elem.in_len);
}

/* The bytes at offset off of the readable (write false) or writable
 * segments, gathered through guest_mem_read, at most len of them. */
static size_t model_gather(bool write, size_t off, uint8_t *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < nmseg && done < len; i++) {
		size_t chunk;

		if (mseg[i].write != write)
			continue;
		if (off >= mseg[i].len) {
			off -= mseg[i].len;
			continue;
		}
		chunk = mseg[i].len - off < len - done ? mseg[i].len - off : len - done;
		check(guest_mem_read(&mem, mseg[i].gpa + off, buf + done, chunk) == 0);
		done += chunk;
		off = 0;
	}
	return done;
}

/* The copy helpers move the bytes the segments name, and no others. */
static void check_copies(size_t off)
{
	static uint8_t got[4096], want[4096];
	size_t n;

	n = virtq_read_out(&elem, off, got, sizeof(got));
	check(n == model_gather(false, off, want, sizeof(want)));
	check(memcmp(got, want, n) == 0);

	/* Segments may overlap each other: the last write wins, so the
	 * bytes are not compared back, only counted. */
	memset(got, 0xa5, sizeof(got));
	n = virtq_write_in(&elem, off, got, sizeof(got));
	check(n == model_gather(true, off, want, sizeof(want)));
}

/* The used ring after a push of written bytes. */
static void check_used(uint64_t written)
{
	uint64_t slot = vq.used_gpa + 4 + 8ull * ((uint16_t)(vq.used_idx - 1) % vq.size);

	check(rd(vq.used_gpa + 2, 2) == vq.used_idx);
	check(rd(slot, 4) == elem.head);
	check(rd(slot + 4, 4) == (written < elem.in_len ? written : elem.in_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t h[HEADER] = { 0 };
	uint16_t n, avail_idx;
	uint64_t top = RAM, data_gpa = DATA_GPA;
	size_t off;
	int rc = 0;

	if (!mem.mapping) {
		if (guest_mem_init(&mem, RAM) != 0)
			abort();
		mem.written = noted;
	}
	memcpy(h, data, size < HEADER ? size : HEADER);
	data += size < HEADER ? size : HEADER;
	size -= size < HEADER ? size : HEADER;

	/* What the previous input left: the rings and the data area. */
	memset(guest_mem_ptr(&mem, 0, DATA_GPA + DATA_MAX), 0, DATA_GPA + DATA_MAX);
	memset(guest_mem_ptr(&mem, RAM - RINGS_MAX - DATA_MAX, RINGS_MAX + DATA_MAX), 0,
	       RINGS_MAX + DATA_MAX);

	virtq_reset(&vq);
	vq.mem = &mem;
	n = vq.size = (uint16_t)(1u << (h[0] % 9));
	if (h[1] & 4) {
		vq.desc_gpa = RAM - 16ull * n;
		vq.avail_gpa = (vq.desc_gpa - (6 + 2ull * n)) & ~1ull;
		vq.used_gpa = (vq.avail_gpa - (6 + 8ull * n)) & ~3ull;
		top = vq.used_gpa;
	} else {
		vq.desc_gpa = DESC_GPA;
		vq.avail_gpa = AVAIL_GPA;
		vq.used_gpa = USED_GPA;
	}
	vq.event_idx = h[1] & 1;
	vq.indirect = h[1] & 2;
	vq.last_avail = (uint16_t)(h[2] | h[3] << 8);
	vq.used_idx = vq.signalled_used = (uint16_t)(h[5] | h[6] << 8);
	vq.ready = true;
	check(virtq_valid(&vq));

	fill(vq.desc_gpa, &data, &size, 16ull * n);
	fill(vq.avail_gpa, &data, &size, 2);
	fill(vq.avail_gpa + 4, &data, &size, 2ull * n + 2);
	/* The input's last byte then is the last before the rings or the end
	 * of RAM: a table there has nothing valid after it. */
	if (h[1] & 8)
		data_gpa = top - (size < DATA_MAX ? size : DATA_MAX);
	fill(data_gpa, &data, &size, DATA_MAX);
	avail_idx = htole16((uint16_t)(vq.last_avail + h[4]));
	memcpy(guest_mem_ptr(&mem, vq.avail_gpa + 2, 2), &avail_idx, 2);

	off = (size_t)(h[8] | h[9] << 8);
	/* Writable buffers may overlap the available ring and publish more:
	 * a bound keeps every input finite. */
	for (unsigned pops = 0; pops < 1024; pops++) {
		int expect = model_pop();
		uint16_t head = (uint16_t)rd(vq.avail_gpa + 4 + 2 * (vq.last_avail % n), 2);
		uint64_t written;

		rc = virtq_pop(&vq, &elem);
		check(rc == expect);
		if (rc == 0 && vq.event_idx)
			check(rd(vq.used_gpa + 4 + 8ull * n, 2) == vq.last_avail);
		if (rc <= 0)
			break;
		check(elem.head == head);
		check_elem();
		check_copies(off);
		written = elem.in_len * h[7] / 128;    /* up to twice too much */
		if (written > UINT32_MAX)
			written = UINT32_MAX;
		virtq_push(&vq, &elem, (uint32_t)written);
		check_used(written);
	}
	if (rc < 0)
		check(vq.broken);
	virtq_should_notify(&vq);
	return 0;
}
