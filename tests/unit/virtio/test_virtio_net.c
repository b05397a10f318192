/* virtio-net driven as a guest driver would: rings and buffers laid out by
 * hand in guest RAM, the device brought up through the device core, frames
 * sent on the transmit queue and received into chains on the receive
 * queue. The tap is a SOCK_SEQPACKET socket pair (one frame per message,
 * each behind its 12-byte virtio_net_hdr_v1, as a tap with IFF_VNET_HDR
 * speaks): the test holds the host's end. The last tests use a real tap
 * where the process may create one (root). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/tap.h"
#include "virtio/virtio_dev.h"
#include "virtio/virtio_net.h"
#include "vmm/guest_mem.h"
#include "tests/unit/virtio/virtq_test_ring.h"

#define RAM_SIZE  (16u << 20)
#define QSIZE     256u
#define BUF_GPA   0x40000u

#define HDR 12
#define F_CSUM       0
#define F_GUEST_CSUM 1
#define F_MAC        5
#define F_GUEST_TSO4 7
#define F_HOST_TSO4  11
#define F_MRG_RXBUF  15
#define F_STATUS     16

#define RXQ VIRTIO_NET_RXQ
#define TXQ VIRTIO_NET_TXQ

/* Where each queue's rings are. */
static const uint64_t desc_gpa[2] = { 0x1000, 0x10000 };
static const uint64_t avail_gpa[2] = { 0x3000, 0x12000 };
static const uint64_t used_gpa[2] = { 0x4000, 0x13000 };

struct fixture {
	struct guest_mem mem;
	struct virtio_dev dev;
	int host;                /* the test's end of the "tap" */
	int backend;             /* the device's end (for queue checks) */
	struct test_ring ring[2];
	uint64_t next_buf;
	atomic_uint irqs[2];
};

static struct fixture *current;

static void on_interrupt(struct virtio_dev *dev, unsigned q)
{
	if (q < 2)
		atomic_fetch_add(&current->irqs[q], 1);
}

static void pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 31 + seed + (i >> 8));
}

/* ---- a driver by hand ---------------------------------------------------- */

static uint64_t alloc_buf(struct fixture *x, uint64_t len)
{
	return guest_alloc(&x->next_buf, RAM_SIZE, len);
}

/* Reset, then set up with every offered feature but drop (EVENT_IDX left
 * out so that every push can interrupt) and queues of qsize entries. */
static void bring_up(struct fixture *x, uint64_t drop, uint16_t qsize)
{
	struct virtio_dev *dev = &x->dev;

	pthread_mutex_lock(&dev->lock);
	dev->interrupt = on_interrupt;
	virtio_dev_set_status(dev, 0);
	pthread_mutex_unlock(&dev->lock);
	for (unsigned q = 0; q < 2; q++) {
		test_ring_init(&x->ring[q], &x->mem, desc_gpa[q], avail_gpa[q], used_gpa[q], qsize, QSIZE);
		atomic_store(&x->irqs[q], 0);
	}

	pthread_mutex_lock(&dev->lock);
	test_driver_ok(dev, drop, x->ring, 2);
	pthread_mutex_unlock(&dev->lock);
}

static void reset_device(struct fixture *x)
{
	pthread_mutex_lock(&x->dev.lock);
	virtio_dev_set_status(&x->dev, 0);
	pthread_mutex_unlock(&x->dev.lock);
}

/* Wait (at most 5 s) until queue q's used index reaches idx. The device
 * publishes and interrupts under dev->lock: once the lock is taken after
 * that, its interrupt and statistics are there too. */
static void wait_used(struct fixture *x, unsigned q, uint16_t idx)
{
	for (int i = 0; i < 5000 && test_ring_used_idx(&x->ring[q]) != idx; i++)
		usleep(1000);
	assert_int_equal(test_ring_used_idx(&x->ring[q]), idx);
	pthread_mutex_lock(&x->dev.lock);
	pthread_mutex_unlock(&x->dev.lock);
}

/* Let the receive thread run a while: used for "nothing happens". */
static void settle(void)
{
	usleep(100 * 1000);
}

static double cpu_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static struct virtio_net_stats stats(struct fixture *x)
{
	struct virtio_net_stats s;

	virtio_net_get_stats(&x->dev, &s);
	return s;
}

/* One receive chain of len device-writable bytes (filled with fill). */
static uint64_t post_rx(struct fixture *x, uint32_t len, uint8_t fill)
{
	uint64_t gpa = alloc_buf(x, len);

	memset(guest_ptr(&x->mem, gpa, len), fill, len);
	test_ring_post(&x->ring[RXQ], &(struct test_buf){ gpa, len, true }, 1);
	return gpa;
}

/* The host sends a frame of len bytes behind a header (flags, gso_type). */
static void host_send(struct fixture *x, const uint8_t *frame, size_t len, uint8_t flags,
		      uint8_t gso)
{
	uint8_t *msg = calloc(1, HDR + len);

	msg[0] = flags;
	msg[1] = gso;
	memcpy(msg + HDR, frame, len);
	assert_int_equal(send(x->host, msg, HDR + len, 0), (ssize_t)(HDR + len));
	free(msg);
}

/* What the device wrote to the tap: one message, or -1 when none comes
 * within timeout_ms. */
static ssize_t host_recv(struct fixture *x, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = { .fd = x->host, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	return recv(x->host, buf, cap, MSG_DONTWAIT);
}

/* Bytes waiting in the device's end of the socket pair: frames it has
 * not read. */
static int backend_queued(struct fixture *x)
{
	int n = 0;

	assert_int_equal(ioctl(x->backend, SIOCINQ, &n), 0);
	return n;
}

/* ---- fixtures ------------------------------------------------------------ */

static const uint8_t test_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static int make(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct virtio_net_config cfg = { .tap = "test0", .mac = test_mac };
	int sv[2], big = 1 << 20;

	assert_non_null(x);
	assert_int_equal(guest_mem_init(&x->mem, RAM_SIZE), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	/* Room for several 64 KiB frames either way. */
	for (int i = 0; i < 2; i++) {
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	x->host = sv[1];
	x->backend = sv[0];
	/* Buffers are never reused: what a test finds in one is its own. */
	x->next_buf = BUF_GPA;
	cfg.fd = sv[0];
	current = x;
	assert_int_equal(virtio_net_setup(&x->dev, &x->mem, &cfg), 0);
	bring_up(x, 0, QSIZE);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	if (x->dev.ops)
		virtio_dev_destroy(&x->dev);
	close(x->host);
	guest_mem_destroy(&x->mem);
	free(x);
	return 0;
}

/* ---- the tests ----------------------------------------------------------- */

static void config_and_features(void **state)
{
	struct fixture *x = *state;
	uint64_t f = test_features_offered(&x->dev);
	uint8_t mac[6], other[6];
	uint16_t status;

	assert_int_equal(x->dev.ops->device_id, VIRTIO_ID_NET);
	assert_int_equal(x->dev.ops->num_queues, 2);
	assert_true(f & (1ull << F_MAC));
	assert_true(f & (1ull << F_STATUS));
	assert_true(f & (1ull << F_MRG_RXBUF));
	assert_true(f & (1ull << VIRTIO_F_VERSION_1));
	/* A socket takes no offload settings: none are offered. */
	assert_false(f & (1ull << F_CSUM));
	assert_false(f & (1ull << F_GUEST_CSUM));
	assert_false(f & (1ull << F_HOST_TSO4));
	assert_false(f & (1ull << F_GUEST_TSO4));

	x->dev.ops->config_read(&x->dev, 0, mac, 6);
	assert_memory_equal(mac, test_mac, 6);
	x->dev.ops->config_read(&x->dev, 6, &status, 2);
	assert_int_equal(status, 1);                  /* VIRTIO_NET_S_LINK_UP */

	/* The default address: locally administered, unicast, stable, and
	 * not the same for two names. */
	virtio_net_default_mac("tap0", mac);
	assert_int_equal(mac[0], 0x02);
	virtio_net_default_mac("tap0", other);
	assert_memory_equal(mac, other, 6);
	virtio_net_default_mac("tap1", other);
	assert_memory_not_equal(mac, other, 6);
}

static void default_mac_in_config(void **state)
{
	struct guest_mem mem;
	struct virtio_dev dev;
	struct virtio_net_config cfg = { .tap = "wisp-tap7" };
	uint8_t mac[6], want[6];
	int sv[2];

	assert_int_equal(guest_mem_init(&mem, RAM_SIZE), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cfg.fd = sv[0];
	assert_int_equal(virtio_net_setup(&dev, &mem, &cfg), 0);
	dev.ops->config_read(&dev, 0, mac, 6);
	virtio_net_default_mac("wisp-tap7", want);
	assert_memory_equal(mac, want, 6);
	virtio_dev_destroy(&dev);
	/* The device closed its end: the peer sees the hang-up. */
	assert_int_equal(recv(sv[1], mac, sizeof(mac), MSG_DONTWAIT), 0);
	close(sv[1]);
	guest_mem_destroy(&mem);
}

static void setup_refuses_bad_configs(void **state)
{
	struct guest_mem mem;
	struct virtio_dev dev;
	struct virtio_net_config cfg = { .fd = -1 };

	assert_int_equal(guest_mem_init(&mem, RAM_SIZE), 0);
	assert_int_equal(virtio_net_setup(&dev, &mem, NULL), -EINVAL);
	assert_int_equal(virtio_net_setup(&dev, &mem, &cfg), -EINVAL);   /* no tap */
	cfg.tap = "no/slash";
	assert_int_equal(virtio_net_setup(&dev, &mem, &cfg), -EINVAL);
	cfg.tap = "a-name-too-long-for-linux";
	assert_int_equal(virtio_net_setup(&dev, &mem, &cfg), -EINVAL);
	guest_mem_destroy(&mem);
}

/* A frame in five pieces, the header itself split, arrives whole. */
static void tx_split_frame(void **state)
{
	struct fixture *x = *state;
	uint8_t msg[HDR + 1500], got[HDR + 2000];
	uint64_t gpa = alloc_buf(x, sizeof(msg));
	uint32_t id, len;
	uint16_t head;
	ssize_t n;

	pattern(msg, sizeof(msg), 3);
	msg[0] = msg[1] = 0;                          /* no offload asked */
	memcpy(guest_ptr(&x->mem, gpa, sizeof(msg)), msg, sizeof(msg));
	head = test_ring_post(&x->ring[TXQ], (struct test_buf[]){ { gpa, 5, false }, { gpa + 5, 7, false },
					    { gpa + 12, 100, false }, { gpa + 112, 1, false },
					    { gpa + 113, sizeof(msg) - 113, false } }, 5);
	test_kick(&x->dev, TXQ);
	assert_int_equal(test_ring_used_idx(&x->ring[TXQ]), 1);
	test_ring_used_elem(&x->ring[TXQ], 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_true(atomic_load(&x->irqs[TXQ]) >= 1);

	n = host_recv(x, got, sizeof(got), 1000);
	assert_int_equal(n, sizeof(msg));
	/* num_buffers means nothing on transmit: the device sends 0. */
	msg[10] = msg[11] = 0;
	assert_memory_equal(got, msg, sizeof(msg));
	assert_int_equal(stats(x).tx_frames, 1);
	assert_int_equal(stats(x).tx_bytes, 1500);
	assert_int_equal(stats(x).tx_dropped, 0);
}

/* Several chains in one notification go out in order. */
static void tx_many(void **state)
{
	struct fixture *x = *state;
	enum { N = 40 };
	uint8_t msg[HDR + 600], got[HDR + 700];

	for (int i = 0; i < N; i++) {
		uint64_t gpa = alloc_buf(x, sizeof(msg));

		memset(msg, 0, HDR);
		pattern(msg + HDR, sizeof(msg) - HDR, (unsigned)i);
		memcpy(guest_ptr(&x->mem, gpa, sizeof(msg)), msg, sizeof(msg));
		test_ring_post(&x->ring[TXQ], &(struct test_buf){ gpa, sizeof(msg), false }, 1);
	}
	test_kick(&x->dev, TXQ);
	assert_int_equal(test_ring_used_idx(&x->ring[TXQ]), N);
	for (int i = 0; i < N; i++) {
		memset(msg, 0, HDR);
		pattern(msg + HDR, sizeof(msg) - HDR, (unsigned)i);
		assert_int_equal(host_recv(x, got, sizeof(got), 1000), sizeof(msg));
		assert_memory_equal(got, msg, sizeof(msg));
	}
}

static void expect_tx_dropped(struct fixture *x, const struct test_buf *b, unsigned n)
{
	uint8_t got[64];
	uint16_t before = test_ring_used_idx(&x->ring[TXQ]);
	uint64_t dropped = stats(x).tx_dropped;
	uint32_t id, len;
	uint16_t head;

	head = test_ring_post(&x->ring[TXQ], b, n);
	test_kick(&x->dev, TXQ);
	assert_int_equal(test_ring_used_idx(&x->ring[TXQ]), (uint16_t)(before + 1));
	test_ring_used_elem(&x->ring[TXQ], before, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(stats(x).tx_dropped, dropped + 1);
	assert_int_equal(host_recv(x, got, sizeof(got), 0), -1);
}

static uint64_t tx_frame(struct fixture *x, uint32_t len, uint8_t flags, uint8_t gso)
{
	uint64_t gpa = alloc_buf(x, len);
	uint8_t *p = guest_ptr(&x->mem, gpa, len);

	pattern(p, len, 9);
	if (len >= 2) {
		p[0] = flags;
		p[1] = gso;
	}
	return gpa;
}

/* Hostile chains are returned with length 0, nothing reaches the tap,
 * and the device carries on. */
static void tx_malformed(void **state)
{
	struct fixture *x = *state;
	uint64_t big = HDR + VIRTIO_NET_MAX_FRAME;
	uint8_t *got = malloc(big + 16);
	uint64_t gpa;

	/* Shorter than the header, or only the header. */
	expect_tx_dropped(x, &(struct test_buf){ tx_frame(x, 8, 0, 0), 8, false }, 1);
	expect_tx_dropped(x, &(struct test_buf){ tx_frame(x, HDR, 0, 0), HDR, false }, 1);
	/* One byte more than the largest frame. */
	gpa = tx_frame(x, (uint32_t)big + 1, 0, 0);
	expect_tx_dropped(x, &(struct test_buf){ gpa, (uint32_t)big + 1, false }, 1);
	/* A device-writable buffer on the transmit queue. */
	expect_tx_dropped(x, (struct test_buf[]){ { tx_frame(x, 100, 0, 0), 100, false },
					     { alloc_buf(x, 64), 64, true } }, 2);
	/* Offloads the driver did not negotiate (none were offered). */
	expect_tx_dropped(x, &(struct test_buf){ tx_frame(x, 100, 1, 0), 100, false }, 1);
	expect_tx_dropped(x, &(struct test_buf){ tx_frame(x, 100, 0, 1), 100, false }, 1);
	expect_tx_dropped(x, &(struct test_buf){ tx_frame(x, 100, 2, 0), 100, false }, 1);
	assert_false(x->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);

	/* The largest frame goes through, split at an odd place. */
	gpa = tx_frame(x, (uint32_t)big, 0, 0);
	test_ring_post(&x->ring[TXQ],
		       (struct test_buf[]){ { gpa, 7, false }, { gpa + 7, (uint32_t)big - 7, false } }, 2);
	test_kick(&x->dev, TXQ);
	assert_int_equal(host_recv(x, got, big + 16, 1000), (ssize_t)big);
	assert_memory_equal(got + HDR, (uint8_t *)guest_ptr(&x->mem, gpa, big) + HDR, big - HDR);
	assert_int_equal(stats(x).tx_frames, 1);
	assert_int_equal(stats(x).tx_dropped, 7);
	free(got);
}

/* A descriptor loop is the ring's fault, not a chain's: DEVICE_NEEDS_RESET,
 * and after a reset the device works again. */
static void tx_broken_ring(void **state)
{
	struct fixture *x = *state;
	uint8_t got[HDR + 200];
	uint64_t gpa = tx_frame(x, HDR + 100, 0, 0);
	uint8_t *d = guest_ptr(&x->mem, desc_gpa[TXQ], 16);
	uint16_t flags = TEST_DESC_F_NEXT, next = 0, head = 0;
	uint32_t len = 50;

	memcpy(d, &gpa, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);      /* points at itself */
	memcpy(guest_ptr(&x->mem, avail_gpa[TXQ] + 4, 2), &head, 2);
	__atomic_store_n((uint16_t *)guest_ptr(&x->mem, avail_gpa[TXQ] + 2, 2), 1, __ATOMIC_RELEASE);
	test_kick(&x->dev, TXQ);
	assert_true(x->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(test_ring_used_idx(&x->ring[TXQ]), 0);

	bring_up(x, 0, QSIZE);
	gpa = tx_frame(x, HDR + 100, 0, 0);
	test_ring_post(&x->ring[TXQ], &(struct test_buf){ gpa, HDR + 100, false }, 1);
	test_kick(&x->dev, TXQ);
	assert_int_equal(host_recv(x, got, sizeof(got), 1000), HDR + 100);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* A 3000-byte frame into 1024-byte chains: three of them, published
 * together, num_buffers 3, the bytes in order. */
static void rx_mergeable(void **state)
{
	struct fixture *x = *state;
	uint8_t frame[3000], back[HDR + 3000];
	uint64_t gpa[5];
	uint32_t id, len[3];
	size_t off = 0;

	for (int i = 0; i < 5; i++)
		gpa[i] = post_rx(x, 1024, 0xee);
	test_kick(&x->dev, RXQ);
	pattern(frame, sizeof(frame), 5);
	host_send(x, frame, sizeof(frame), 0, 0);
	wait_used(x, RXQ, 3);
	for (uint16_t i = 0; i < 3; i++) {
		test_ring_used_elem(&x->ring[RXQ], i, &id, &len[i]);
		assert_int_equal(id, i);        /* one descriptor per chain, in order */
	}
	assert_int_equal(len[0], 1024);
	assert_int_equal(len[1], 1024);
	assert_int_equal(len[2], HDR + 3000 - 2048);
	for (int i = 0; i < 3; i++) {
		memcpy(back + off, guest_ptr(&x->mem, gpa[i], len[i]), len[i]);
		off += len[i];
	}
	assert_int_equal(back[0], 0);                         /* flags */
	assert_int_equal(back[1], 0);                         /* gso_type */
	assert_int_equal(get16(back + 10), 3);                /* num_buffers */
	assert_memory_equal(back + HDR, frame, sizeof(frame));
	/* The other chains are untouched. */
	assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, gpa[3], 1), 0xee);
	assert_true(atomic_load(&x->irqs[RXQ]) >= 1);
	assert_int_equal(stats(x).rx_frames, 1);
	assert_int_equal(stats(x).rx_bytes, 3000);

	/* The next frame starts in the next chain. */
	host_send(x, frame, 100, 0, 0);
	wait_used(x, RXQ, 4);
	test_ring_used_elem(&x->ring[RXQ], 3, &id, &len[0]);
	assert_int_equal(id, 3);
	assert_int_equal(len[0], HDR + 100);
	assert_int_equal(get16(guest_ptr(&x->mem, gpa[3] + 10, 2)), 1);
	assert_memory_equal(guest_ptr(&x->mem, gpa[3] + HDR, 100), frame, 100);
}

/* The largest frame, from the tap into 4 KiB chains. */
static void rx_largest_frame(void **state)
{
	struct fixture *x = *state;
	uint32_t total = HDR + VIRTIO_NET_MAX_FRAME, chains = (total + 4095) / 4096, id, len;
	uint8_t *frame = malloc(VIRTIO_NET_MAX_FRAME);
	uint64_t first = 0;

	for (uint32_t i = 0; i < chains + 2; i++) {
		uint64_t g = post_rx(x, 4096, 0);

		if (i == 0)
			first = g;
	}
	test_kick(&x->dev, RXQ);
	pattern(frame, VIRTIO_NET_MAX_FRAME, 11);
	host_send(x, frame, VIRTIO_NET_MAX_FRAME, 0, 0);
	wait_used(x, RXQ, (uint16_t)chains);
	assert_int_equal(get16(guest_ptr(&x->mem, first + 10, 2)), chains);
	/* The chains are contiguous in guest RAM here: the frame reads back
	 * in one piece. */
	assert_memory_equal(guest_ptr(&x->mem, first + HDR, VIRTIO_NET_MAX_FRAME), frame,
			    VIRTIO_NET_MAX_FRAME);
	test_ring_used_elem(&x->ring[RXQ], (uint16_t)(chains - 1), &id, &len);
	assert_int_equal(len, total - 4096 * (chains - 1));

	/* One byte more is dropped before it reaches the guest. */
	{
		uint8_t *big = calloc(1, HDR + VIRTIO_NET_MAX_FRAME + 1);

		assert_int_equal(send(x->host, big, HDR + VIRTIO_NET_MAX_FRAME + 1, 0),
				 HDR + VIRTIO_NET_MAX_FRAME + 1);
		free(big);
	}
	host_send(x, frame, 60, 0, 0);
	wait_used(x, RXQ, (uint16_t)(chains + 1));
	assert_int_equal(stats(x).rx_dropped, 1);
	assert_int_equal(stats(x).rx_frames, 2);
	free(frame);
}

/* No receive buffers: the frame waits in the device and the tap is not
 * read further; buffers and a notification bring the frames in. */
static void rx_waits_for_buffers(void **state)
{
	struct fixture *x = *state;
	uint8_t a[700], b[900];
	uint64_t ga, gb;
	uint32_t id, len;
	double cpu;
	int queued;

	pattern(a, sizeof(a), 21);
	pattern(b, sizeof(b), 22);
	host_send(x, a, sizeof(a), 0, 0);
	host_send(x, b, sizeof(b), 0, 0);
	settle();
	assert_int_equal(test_ring_used_idx(&x->ring[RXQ]), 0);
	/* Waiting is sleeping: the device does not poll the tap in a loop. */
	cpu = cpu_seconds();
	settle();
	assert_true(cpu_seconds() - cpu < 0.02);
	/* At most the first frame was taken, into the device; the second is
	 * still the tap's. */
	queued = backend_queued(x);
	assert_int_equal(queued, HDR + sizeof(b));
	assert_int_equal(stats(x).rx_dropped, 0);

	ga = post_rx(x, 2048, 0);
	test_kick(&x->dev, RXQ);
	wait_used(x, RXQ, 1);
	test_ring_used_elem(&x->ring[RXQ], 0, &id, &len);
	assert_int_equal(len, HDR + sizeof(a));
	assert_memory_equal(guest_ptr(&x->mem, ga + HDR, sizeof(a)), a, sizeof(a));
	settle();
	assert_int_equal(test_ring_used_idx(&x->ring[RXQ]), 1);
	assert_int_equal(backend_queued(x), 0);      /* b waits in the device */

	gb = post_rx(x, 2048, 0);
	test_kick(&x->dev, RXQ);
	wait_used(x, RXQ, 2);
	assert_memory_equal(guest_ptr(&x->mem, gb + HDR, sizeof(b)), b, sizeof(b));
	assert_int_equal(stats(x).rx_frames, 2);
	assert_int_equal(stats(x).rx_dropped, 0);
}

/* Half a frame's chains taken, then no more: it waits, and continues in
 * the chains that come next. */
static void rx_waits_mid_frame(void **state)
{
	struct fixture *x = *state;
	uint8_t frame[2500], back[HDR + 2500];
	uint64_t g0, g1, g2;
	uint32_t id, len;

	g0 = post_rx(x, 1024, 0);
	test_kick(&x->dev, RXQ);
	pattern(frame, sizeof(frame), 33);
	host_send(x, frame, sizeof(frame), 0, 0);
	settle();
	assert_int_equal(test_ring_used_idx(&x->ring[RXQ]), 0);    /* not the first chain alone */
	g1 = post_rx(x, 1024, 0);
	test_kick(&x->dev, RXQ);
	settle();
	assert_int_equal(test_ring_used_idx(&x->ring[RXQ]), 0);
	g2 = post_rx(x, 1024, 0);
	test_kick(&x->dev, RXQ);
	wait_used(x, RXQ, 3);
	test_ring_used_elem(&x->ring[RXQ], 2, &id, &len);
	assert_int_equal(len, HDR + sizeof(frame) - 2048);
	memcpy(back, guest_ptr(&x->mem, g0, 1024), 1024);
	memcpy(back + 1024, guest_ptr(&x->mem, g1, 1024), 1024);
	memcpy(back + 2048, guest_ptr(&x->mem, g2, len), len);
	assert_int_equal(get16(back + 10), 3);
	assert_memory_equal(back + HDR, frame, sizeof(frame));
}

/* Without MRG_RXBUF a frame goes into one chain or not at all. */
static void rx_without_mergeable(void **state)
{
	struct fixture *x = *state;
	uint8_t frame[1500];
	uint64_t small, ok;
	uint32_t id, len;

	bring_up(x, 1ull << F_MRG_RXBUF, QSIZE);
	small = post_rx(x, 1000, 0x77);
	ok = post_rx(x, 2000, 0);
	test_kick(&x->dev, RXQ);
	pattern(frame, sizeof(frame), 44);
	host_send(x, frame, sizeof(frame), 0, 0);     /* does not fit the first */
	wait_used(x, RXQ, 1);
	test_ring_used_elem(&x->ring[RXQ], 0, &id, &len);
	assert_int_equal(len, 0);
	assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, small, 1), 0x77);
	assert_int_equal(stats(x).rx_dropped, 1);

	host_send(x, frame, sizeof(frame), 0, 0);
	wait_used(x, RXQ, 2);
	test_ring_used_elem(&x->ring[RXQ], 1, &id, &len);
	assert_int_equal(len, HDR + sizeof(frame));
	assert_int_equal(get16(guest_ptr(&x->mem, ok + 10, 2)), 1);     /* num_buffers */
	assert_memory_equal(guest_ptr(&x->mem, ok + HDR, sizeof(frame)), frame, sizeof(frame));
}

/* A frame larger than every chain of the queue together is dropped and
 * its chains go back empty; the next frame is received. */
static void rx_larger_than_queue(void **state)
{
	struct fixture *x = *state;
	uint8_t frame[2000];
	uint32_t id, len;
	uint64_t g;

	bring_up(x, 0, 8);
	for (int i = 0; i < 8; i++)
		post_rx(x, 128, 0);
	test_kick(&x->dev, RXQ);
	pattern(frame, sizeof(frame), 55);
	host_send(x, frame, sizeof(frame), 0, 0);
	wait_used(x, RXQ, 8);
	for (uint16_t i = 0; i < 8; i++) {
		test_ring_used_elem(&x->ring[RXQ], i, &id, &len);
		assert_int_equal(len, 0);
	}
	assert_int_equal(stats(x).rx_dropped, 1);
	g = post_rx(x, 1024, 0);
	test_kick(&x->dev, RXQ);
	host_send(x, frame, 500, 0, 0);
	wait_used(x, RXQ, 9);
	test_ring_used_elem(&x->ring[RXQ], 8, &id, &len);
	assert_int_equal(len, HDR + 500);
	assert_memory_equal(guest_ptr(&x->mem, g + HDR, 500), frame, 500);
}

/* Receive chains the driver got wrong go back unused, length 0. */
static void rx_bad_chains(void **state)
{
	struct fixture *x = *state;
	uint8_t frame[300];
	uint64_t readable = alloc_buf(x, 64), w = alloc_buf(x, 1024), tiny, good;
	uint32_t id, len;

	memset(guest_ptr(&x->mem, w, 1024), 0x11, 1024);
	test_ring_post(&x->ring[RXQ], (struct test_buf[]){ { readable, 64, false }, { w, 1024, true } }, 2);
	tiny = post_rx(x, HDR - 1, 0x22);
	good = post_rx(x, 1024, 0);
	test_kick(&x->dev, RXQ);
	pattern(frame, sizeof(frame), 66);
	host_send(x, frame, sizeof(frame), 0, 0);
	wait_used(x, RXQ, 3);
	test_ring_used_elem(&x->ring[RXQ], 0, &id, &len);
	assert_int_equal(len, 0);
	test_ring_used_elem(&x->ring[RXQ], 1, &id, &len);
	assert_int_equal(len, 0);
	test_ring_used_elem(&x->ring[RXQ], 2, &id, &len);
	assert_int_equal(len, HDR + sizeof(frame));
	assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, w, 1), 0x11);
	assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, tiny, 1), 0x22);
	assert_memory_equal(guest_ptr(&x->mem, good + HDR, sizeof(frame)), frame, sizeof(frame));
	assert_false(x->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Headers from the tap are fitted to what the driver took: a checksum
 * left to do or a TSO frame it cannot take is dropped, DATA_VALID
 * cleared. */
static void rx_header_filtered(void **state)
{
	struct fixture *x = *state;
	uint8_t frame[200];
	uint64_t g;

	g = post_rx(x, 1024, 0xff);
	post_rx(x, 1024, 0xff);
	test_kick(&x->dev, RXQ);
	pattern(frame, sizeof(frame), 77);
	host_send(x, frame, sizeof(frame), 1, 0);     /* NEEDS_CSUM */
	host_send(x, frame, sizeof(frame), 0, 1);     /* GSO TCPv4 */
	host_send(x, frame, sizeof(frame), 2, 0);     /* DATA_VALID */
	wait_used(x, RXQ, 1);
	settle();
	assert_int_equal(test_ring_used_idx(&x->ring[RXQ]), 1);
	assert_int_equal(stats(x).rx_dropped, 2);
	assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, g, 1), 0);           /* flags */
	assert_int_equal(*(uint8_t *)guest_ptr(&x->mem, g + 1, 1), 0);       /* gso_type */
	assert_memory_equal(guest_ptr(&x->mem, g + HDR, sizeof(frame)), frame, sizeof(frame));
}

/* After a reset the device writes nothing into guest RAM; a frame that
 * came meanwhile goes to the driver that sets it up next. */
static void reset_stops_guest_writes(void **state)
{
	struct fixture *x = *state;
	uint8_t frame[400], back[1024];
	uint64_t g;

	g = post_rx(x, 1024, 0x5a);
	reset_device(x);
	assert_int_equal(x->dev.status, 0);
	pattern(frame, sizeof(frame), 88);
	host_send(x, frame, sizeof(frame), 0, 0);
	settle();
	memset(back, 0x5a, sizeof(back));
	assert_memory_equal(guest_ptr(&x->mem, g, 1024), back, sizeof(back));
	assert_int_equal(test_ring_used_idx(&x->ring[RXQ]), 0);
	/* Notifications of a queue that is not set up do nothing. */
	test_kick(&x->dev, RXQ);
	test_kick(&x->dev, TXQ);
	settle();
	assert_memory_equal(guest_ptr(&x->mem, g, 1024), back, sizeof(back));

	bring_up(x, 0, QSIZE);
	g = post_rx(x, 1024, 0);
	test_kick(&x->dev, RXQ);
	wait_used(x, RXQ, 1);
	assert_memory_equal(guest_ptr(&x->mem, g + HDR, sizeof(frame)), frame, sizeof(frame));
}

/* A reset with a frame half placed: the chains taken are the driver's
 * again and nothing more is written to them; the frame starts over in
 * the next driver's chains. */
static void reset_mid_frame(void **state)
{
	struct fixture *x = *state;
	uint8_t frame[3000], back[HDR + 3000], fill[1024];
	uint64_t held, g[3];
	uint32_t len;

	held = post_rx(x, 1024, 0);
	test_kick(&x->dev, RXQ);
	pattern(frame, sizeof(frame), 99);
	host_send(x, frame, sizeof(frame), 0, 0);
	settle();
	assert_int_equal(test_ring_used_idx(&x->ring[RXQ]), 0);
	reset_device(x);
	/* The old driver's buffer is reused for something else. */
	memset(guest_ptr(&x->mem, held, 1024), 0x3c, 1024);
	settle();
	memset(fill, 0x3c, sizeof(fill));
	assert_memory_equal(guest_ptr(&x->mem, held, 1024), fill, sizeof(fill));

	bring_up(x, 0, QSIZE);
	for (int i = 0; i < 3; i++)
		g[i] = post_rx(x, 1024, 0);
	test_kick(&x->dev, RXQ);
	wait_used(x, RXQ, 3);
	for (int i = 0; i < 3; i++) {
		uint32_t id;

		test_ring_used_elem(&x->ring[RXQ], (uint16_t)i, &id, &len);
		memcpy(back + 1024 * i, guest_ptr(&x->mem, g[i], len), len);
	}
	assert_int_equal(get16(back + 10), 3);
	assert_memory_equal(back + HDR, frame, sizeof(frame));
	assert_memory_equal(guest_ptr(&x->mem, held, 1024), fill, sizeof(fill));
}

/* The host closing its end is a hang-up: the device stops reading but
 * keeps answering the driver (transmits are dropped). */
static void backend_hangup(void **state)
{
	struct fixture *x = *state;
	uint64_t gpa;

	post_rx(x, 1024, 0);
	test_kick(&x->dev, RXQ);
	close(x->host);
	x->host = socket(AF_UNIX, SOCK_SEQPACKET, 0);     /* for teardown */
	settle();
	gpa = tx_frame(x, HDR + 100, 0, 0);
	test_ring_post(&x->ring[TXQ], &(struct test_buf){ gpa, HDR + 100, false }, 1);
	test_kick(&x->dev, TXQ);
	assert_int_equal(test_ring_used_idx(&x->ring[TXQ]), 1);
	assert_int_equal(stats(x).tx_dropped, 1);
	assert_int_equal(test_ring_used_idx(&x->ring[RXQ]), 0);
}

/* ---- a real tap (needs CAP_NET_ADMIN) ------------------------------------ */

static bool can_make_taps(void)
{
	int fd = tap_open("wispnet-probe");

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void tap_names(void **state)
{
	assert_true(tap_name_valid("tap0"));
	assert_true(tap_name_valid("a-15-byte-name1"));
	assert_false(tap_name_valid("a-16-byte-name12"));
	assert_false(tap_name_valid(""));
	assert_false(tap_name_valid(NULL));
	assert_false(tap_name_valid("."));
	assert_false(tap_name_valid(".."));
	assert_false(tap_name_valid("a/b"));
	assert_false(tap_name_valid("a:b"));
	assert_false(tap_name_valid("a b"));
	assert_false(tap_name_valid("a\tb"));
	assert_int_equal(tap_open("bad/name"), -EINVAL);
}

static void real_tap(void **state)
{
	struct guest_mem mem;
	struct virtio_dev dev;
	struct virtio_net_config cfg = { .tap = "wispnet-t0", .fd = -1 };
	struct stat st;
	uint64_t f;
	pid_t pid;
	int fd, status;

	if (!can_make_taps()) {
		skip();
		return;
	}
	assert_int_equal(guest_mem_init(&mem, RAM_SIZE), 0);
	assert_int_equal(virtio_net_setup(&dev, &mem, &cfg), 0);
	/* Created, since there was none. */
	assert_int_equal(stat("/sys/class/net/wispnet-t0", &st), 0);
	/* A tap takes offload settings: they are offered. */
	f = test_features_offered(&dev);
	assert_true(f & (1ull << F_CSUM));
	assert_true(f & (1ull << F_GUEST_CSUM));
	assert_true(f & (1ull << F_HOST_TSO4));
	assert_true(f & (1ull << F_GUEST_TSO4));
	/* A single-queue tap has one user at a time. */
	assert_int_equal(tap_open("wispnet-t0"), -EBUSY);
	/* An interface that is not a tap. */
	assert_int_equal(tap_open("lo"), -EINVAL);
	/* Without the capability no tap is made (EACCES where /dev/net/tun
	 * itself is root's only). */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc = setuid(65534) == 0 ? tap_open("wispnet-t1") : 0;

		_exit(rc == -EPERM || rc == -EACCES ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	virtio_dev_destroy(&dev);
	/* Made by the device, gone with its descriptor. */
	assert_int_not_equal(stat("/sys/class/net/wispnet-t0", &st), 0);
	fd = tap_open("wispnet-t0");
	assert_true(fd >= 0);
	close(fd);
	guest_mem_destroy(&mem);
}

#define T(f) cmocka_unit_test_setup_teardown(f, make, teardown)

int main(void)
{
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(default_mac_in_config),
		cmocka_unit_test(setup_refuses_bad_configs),
		cmocka_unit_test(tap_names),
		cmocka_unit_test(real_tap),
	};
	const struct CMUnitTest tests[] = {
		T(config_and_features),
		T(tx_split_frame),
		T(tx_many),
		T(tx_malformed),
		T(tx_broken_ring),
		T(rx_mergeable),
		T(rx_largest_frame),
		T(rx_waits_for_buffers),
		T(rx_waits_mid_frame),
		T(rx_without_mergeable),
		T(rx_larger_than_queue),
		T(rx_bad_chains),
		T(rx_header_filtered),
		T(reset_stops_guest_writes),
		T(reset_mid_frame),
		T(backend_hangup),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("virtio_net", plain, NULL, NULL);
	failed += cmocka_run_group_tests_name("virtio_net on a socket pair", tests, NULL, NULL);
	return failed;
}
