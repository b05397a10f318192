/* The virtqueue of virtio 1.x: the split ring, as a device sees it.
 *
 * The driver (the guest) owns three areas in guest RAM: the descriptor
 * table, the available ring and the used ring. A device takes descriptor
 * chains from the available ring (virtq_pop), does the request, and hands
 * them back through the used ring (virtq_push), then asks the transport
 * for an interrupt when virtq_should_notify says the driver wants one
 * (VIRTIO_F_EVENT_IDX or the NO_INTERRUPT flag).
 *
 * Everything in the rings is guest input and hostile: a chain is flattened
 * into checked host segments (every address and length inside one RAM
 * region, indirect tables well formed, no loop, no chain longer than the
 * queue, readable segments before writable ones). A malformed chain is
 * never followed: virtq_pop returns -EINVAL and marks the queue broken; the
 * device then sets DEVICE_NEEDS_RESET through its transport. The VMM keeps
 * running either way.
 *
 * Writes the device makes into guest RAM through the segments are noted
 * for the software core (guest_mem_note_write) by virtq_push, for the
 * bytes it reports written.
 *
 * Not thread-safe: a device serializes the calls on one queue (the vCPU's
 * notify and an I/O worker's completions) with its own lock. */
#ifndef WISP_VIRTIO_VIRTQUEUE_H
#define WISP_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;

#define VIRTQ_MAX_SIZE 32768u   /* the split ring's limit */
/* Segments of one chain the device accepts; a longer chain is malformed
 * (Linux's chains for blk/net are a few dozen at most). */
#define VIRTQ_MAX_SEGS 256u

/* Feature bits the ring itself depends on. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

struct virtq_seg {
	void *host;           /* checked: [host, host + len) is guest RAM */
	uint64_t gpa;
	uint32_t len;
};

/* One chain taken from the available ring. */
struct virtq_elem {
	uint16_t head;        /* the chain's first descriptor: virtq_push's id */
	unsigned nout;        /* device-readable segments: seg[0 .. nout) */
	unsigned nin;         /* device-writable: seg[nout .. nout + nin) */
	uint64_t out_len, in_len;     /* their total lengths */
	struct virtq_seg seg[VIRTQ_MAX_SEGS];
};

struct virtq {
	/* Set by the transport from the driver's writes. */
	uint16_t size;        /* a power of two, 1..VIRTQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;           /* the driver enabled the queue */
	bool event_idx;       /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;        /* VIRTIO_F_INDIRECT_DESC negotiated */
	struct guest_mem *mem;

	/* The device's side. */
	uint16_t last_avail;  /* next available-ring index to take */
	uint16_t used_idx;    /* next used-ring index to fill */
	uint16_t signalled_used;      /* used_idx at the last interrupt */
	bool signalled_valid;         /* ... that value means something */
	bool broken;          /* a malformed ring was seen */
};

/* Back to the state after reset: not ready, addresses zero, indices zero,
 * no feature, not broken. mem is kept; size is 0 until the transport sets
 * it. */
void virtq_reset(struct virtq *vq);

/* Checks the ring areas lie in guest RAM and are aligned as the spec
 * requires (descriptors 16, available 2, used 4). false: the driver's
 * setup is invalid (the transport refuses QUEUE_ENABLE / sets
 * DEVICE_NEEDS_RESET). */
bool virtq_valid(const struct virtq *vq);

/* Take the next available chain into elem: 1 when one was taken, 0 when
 * none is available, -EINVAL when the ring or the chain is malformed (the
 * queue is then broken and stays so until reset). Descriptors of length 0
 * carry no bytes and give no segment (they still count towards
 * VIRTQ_MAX_SEGS). With VIRTIO_F_EVENT_IDX, finding the
 * ring empty asks the driver to notify for the next chain (avail_event):
 * a device pops until 0 after each notification. */
int virtq_pop(struct virtq *vq, struct virtq_elem *elem);

/* Return the chain elem (from virtq_pop on this queue) to the driver with
 * written bytes written into its writable segments (at most in_len; more
 * is clamped). Those bytes are noted with guest_mem_note_write. */
void virtq_push(struct virtq *vq, const struct virtq_elem *elem, uint32_t written);

/* virtq_push in two steps, for a device that returns several chains as
 * one unit (a frame spread over mergeable receive buffers): virtq_fill
 * writes elem's used entry at used index + off (noting its written bytes)
 * without the driver seeing it; virtq_flush(vq, n) then publishes the n
 * entries filled at offsets 0 .. n-1 in one move of the used index, so a
 * polling driver never finds only some of them. */
void virtq_fill(struct virtq *vq, const struct virtq_elem *elem, uint32_t written,
		unsigned off);
void virtq_flush(struct virtq *vq, unsigned n);

/* Whether the driver wants an interrupt for what was pushed since the
 * previous call (event index or NO_INTERRUPT flag); false when nothing
 * was pushed since. */
bool virtq_should_notify(struct virtq *vq);

/* Copy helpers over an element's segments: from its readable segments
 * starting at byte offset off (returns the bytes copied, fewer when the
 * segments end), and into its writable segments. */
size_t virtq_read_out(const struct virtq_elem *elem, size_t off, void *dst, size_t len);
size_t virtq_write_in(const struct virtq_elem *elem, size_t off, const void *src, size_t len);

/* The event-index test of the spec (vring_need_event): whether moving the
 * used index from old to new_idx passes the driver's event index. */
static inline bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

#endif
