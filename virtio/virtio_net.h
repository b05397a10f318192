/* virtio-net, the network device (virtio 1.x 5.1), on a tap interface of
 * the host (tap.h): one receive queue (0, receiveq1) and one transmit
 * queue (1, transmitq1); no control queue, no multiqueue.
 *
 * Offered: MAC (the address in the configuration space), STATUS (the link
 * is always up), MRG_RXBUF (a frame spread over as many receive chains as
 * it needs, num_buffers in its header). When the backend is a tap that
 * takes offload settings, also CSUM, GUEST_CSUM, HOST_TSO4/6, HOST_ECN,
 * GUEST_TSO4/6 and GUEST_ECN: the 12-byte virtio_net_hdr_v1 goes between
 * guest and tap unchanged and the host kernel does the checksums and
 * segmentation; at DRIVER_OK the tap is told which offloads the driver
 * took (TUNSETOFFLOAD), at reset none. No UFO/USO.
 *
 * Transmit, on the notifying vCPU's thread: each chain (header + frame in
 * its readable buffers, any framing) is written to the tap at once with
 * writev. A chain shorter than the header, longer than the header plus
 * VIRTIO_NET_MAX_FRAME, with writable buffers, or whose header asks for
 * an offload the driver did not negotiate, is dropped: it goes back with
 * length 0 and the device carries on.
 *
 * Receive, on the device's own thread: it polls the tap and an eventfd;
 * reads one frame at a time and fills receive chains with it (header
 * first). When the driver has no chain left the frame waits in the device
 * and the tap is not read until the driver makes buffers available on
 * the receive queue (its notification wakes the thread): the tap's own
 * queue holds what comes meanwhile, and the host drops beyond it. A frame
 * that cannot fit (without MRG_RXBUF: larger than the chain; with it:
 * larger than every chain of the queue together) is dropped and the
 * chains taken for it go back with length 0. A frame whose header uses an
 * offload the driver did not take (left in the tap from before a reset)
 * is dropped. A receive chain with readable buffers goes back with length
 * 0, unused.
 *
 * All guest memory is touched under dev->lock; after reset returns the
 * device touches none until the driver sets it up again. A frame waiting
 * for buffers survives a reset (it is the network's, not the driver's).
 *
 * Transport-independent: virtio_net_setup is a virtio_dev_setup_fn. */
#ifndef WISP_VIRTIO_VIRTIO_NET_H
#define WISP_VIRTIO_VIRTIO_NET_H

#include <stdint.h>

struct guest_mem;
struct virtio_dev;

#define VIRTIO_NET_QUEUE_SIZE 256u
#define VIRTIO_NET_RXQ 0u
#define VIRTIO_NET_TXQ 1u
/* The largest frame either way, without the virtio header: a 64 KiB IP
 * packet (the most segmentation offload makes) behind an Ethernet header
 * with a VLAN tag. */
#define VIRTIO_NET_MAX_FRAME (65536u + 18u)

struct virtio_net_config {
	/* The host's tap interface (tap_open), unless fd >= 0. */
	const char *tap;
	/* An open backend the device takes over (it closes it): a tap
	 * descriptor, or any descriptor that reads and writes one frame
	 * per message, each behind a 12-byte virtio_net_hdr_v1 (a
	 * SOCK_SEQPACKET socket in tests). Offloads are offered only when
	 * it takes TUNSETOFFLOAD. -1: open tap. */
	int fd;
	/* The guest's MAC address; NULL: virtio_net_default_mac(tap). */
	const uint8_t *mac;
};

/* A virtio_dev_setup_fn (virtio_mmio.h): arg is a const struct
 * virtio_net_config *, only read during setup. 0, or a negative errno
 * after one message (the tap cannot be opened, no thread). */
int virtio_net_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg);

/* A locally administered unicast address, 02:xx:xx:xx:xx:xx, the same for
 * the same name every time. */
void virtio_net_default_mac(const char *name, uint8_t mac[6]);

/* What the device did, since setup. */
struct virtio_net_stats {
	uint64_t tx_frames, tx_bytes;     /* written to the tap */
	uint64_t tx_dropped;              /* malformed, or the tap refused them */
	uint64_t rx_frames, rx_bytes;     /* given to the driver */
	uint64_t rx_dropped;              /* did not fit, or an offload not negotiated */
};

/* Takes dev->lock. */
void virtio_net_get_stats(struct virtio_dev *dev, struct virtio_net_stats *out);

#endif
