#include "virtio_net.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tap.h"
#include "virtio_dev.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"

/* Feature bits (virtio 1.x 5.1.3). */
#define VIRTIO_NET_F_CSUM       0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN  9
#define VIRTIO_NET_F_HOST_TSO4  11
#define VIRTIO_NET_F_HOST_TSO6  12
#define VIRTIO_NET_F_HOST_ECN   13
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16

#define F(bit) (1ull << VIRTIO_NET_F_##bit)
#define BASE_FEATURES    (F(MAC) | F(STATUS) | F(MRG_RXBUF))
#define OFFLOAD_FEATURES (F(CSUM) | F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) | \
			  F(GUEST_ECN) | F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_ECN))

/* struct virtio_net_hdr_v1 (5.1.6): u8 flags, u8 gso_type, le16 hdr_len,
 * le16 gso_size, le16 csum_start, le16 csum_offset, le16 num_buffers. */
#define HDR_SIZE         TAP_VNET_HDR_SIZE
#define HDR_FLAGS        0
#define HDR_GSO_TYPE     1
#define HDR_NUM_BUFFERS  10
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2
#define GSO_NONE         0
#define GSO_TCPV4        1
#define GSO_TCPV6        4
#define GSO_ECN          0x80

/* Configuration space (5.1.4): mac, le16 status, le16
 * max_virtqueue_pairs (1; read only with MQ, which is not offered). */
#define CFG_MAC       0
#define CFG_STATUS    6
#define CFG_MAX_PAIRS 8
#define CONFIG_SIZE   10
#define S_LINK_UP     1

/* One more byte than the largest frame, so that a larger one shows. */
#define RX_BUF_SIZE (HDR_SIZE + VIRTIO_NET_MAX_FRAME + 1)
/* Frames the receive thread delivers before it lets go of dev->lock and
 * interrupts, so a flood cannot keep the vCPUs off the device. */
#define RX_BATCH 64

struct virtio_net {
	struct virtio_dev *dev;
	int tap_fd;
	int wake_fd;                  /* eventfd: the receive thread looks again */
	bool can_offload;             /* the backend takes TUNSETOFFLOAD */
	char name[32];                /* for messages: the tap's name */
	uint8_t config[CONFIG_SIZE];
	pthread_t rx_thread;

	/* Everything below is under dev->lock. */
	bool stopping;                /* destroy began */
	bool backend_gone;            /* the tap hung up or failed: not read again */
	bool rx_starved;              /* a frame waits for the driver's chains */
	bool warned_tx, warned_tap, warned_rx_chain, warned_rx_drop;
	struct virtio_net_stats stats;

	struct virtq_elem tx_elem;
	struct iovec tx_iov[VIRTQ_MAX_SEGS + 1];

	/* The frame read from the tap, header first (rx_len 0: none), and
	 * the chains taken for it so far with the bytes placed in each. */
	uint8_t *rx_frame;
	size_t rx_len, rx_placed;
	struct virtq_elem *rx_chains; /* VIRTIO_NET_QUEUE_SIZE of them */
	uint32_t rx_used[VIRTIO_NET_QUEUE_SIZE];
	unsigned rx_nchains;
};

static bool has(const struct virtio_net *net, unsigned bit)
{
	return virtio_dev_has_feature(net->dev, bit);
}

static void wake_rx(struct virtio_net *net)
{
	uint64_t one = 1;

	/* Fails only when the counter is full, and then it is readable. */
	if (write(net->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("virtio-net: eventfd: %s", strerror(errno));
}

static bool queue_usable(const struct virtio_net *net, unsigned q)
{
	const struct virtio_dev *dev = net->dev;

	return !net->stopping && dev->vq[q].ready && !dev->vq[q].broken &&
	       (dev->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET |
			       VIRTIO_STATUS_FAILED)) == VIRTIO_STATUS_DRIVER_OK;
}

static void backend_failed(struct virtio_net *net, int err)
{
	if (!net->backend_gone)
		log_warn("virtio-net: tap '%s' %s: no more frames from it", net->name,
			 err ? strerror(err) : "hung up");
	net->backend_gone = true;
}

/* ---- transmit ----------------------------------------------------------- */

static void tx_drop(struct virtio_net *net, const char *why)
{
	net->stats.tx_dropped++;
	if (!net->warned_tx)
		log_debug("virtio-net: transmit chain dropped: %s (said once)", why);
	net->warned_tx = true;
}

/* Whether the driver's header asks only for what it negotiated (5.1.6.2).
 * The tap checks the header again, as it would any user's. */
static const char *tx_header_problem(const struct virtio_net *net, const uint8_t *hdr)
{
	uint8_t flags = hdr[HDR_FLAGS], gso = hdr[HDR_GSO_TYPE];

	if (flags & ~HDR_F_NEEDS_CSUM)
		return "header flags a driver may not set";
	if ((flags & HDR_F_NEEDS_CSUM) && !has(net, VIRTIO_NET_F_CSUM))
		return "checksum offload not negotiated";
	switch (gso & ~GSO_ECN) {
	case GSO_NONE:
		if (gso & GSO_ECN)
			return "ECN without segmentation";
		return NULL;
	case GSO_TCPV4:
		if (!has(net, VIRTIO_NET_F_HOST_TSO4))
			return "TSO for IPv4 not negotiated";
		break;
	case GSO_TCPV6:
		if (!has(net, VIRTIO_NET_F_HOST_TSO6))
			return "TSO for IPv6 not negotiated";
		break;
	default:
		return "a segmentation type not offered";
	}
	if ((gso & GSO_ECN) && !has(net, VIRTIO_NET_F_HOST_ECN))
		return "TSO with ECN not negotiated";
	return NULL;
}

static void transmit_one(struct virtio_net *net, const struct virtq_elem *e)
{
	uint8_t hdr[HDR_SIZE];
	uint64_t skip = HDR_SIZE;
	const char *problem;
	unsigned n = 1;
	ssize_t wrote;

	if (e->nin) {
		tx_drop(net, "device-writable buffers");
		return;
	}
	if (e->out_len <= HDR_SIZE || e->out_len > HDR_SIZE + VIRTIO_NET_MAX_FRAME) {
		tx_drop(net, e->out_len <= HDR_SIZE ? "no frame behind the header" :
			"larger than the largest frame");
		return;
	}
	/* The tap gets this copy of the header, not the guest's bytes: what
	 * was checked is what is sent. */
	virtq_read_out(e, 0, hdr, HDR_SIZE);
	problem = tx_header_problem(net, hdr);
	if (problem) {
		tx_drop(net, problem);
		return;
	}
	memset(hdr + HDR_NUM_BUFFERS, 0, 2);   /* receive-only field */
	net->tx_iov[0] = (struct iovec){ .iov_base = hdr, .iov_len = HDR_SIZE };
	for (unsigned i = 0; i < e->nout; i++) {
		const struct virtq_seg *s = &e->seg[i];

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		net->tx_iov[n++] = (struct iovec){
			.iov_base = (uint8_t *)s->host + skip, .iov_len = (size_t)(s->len - skip),
		};
		skip = 0;
	}
	if (net->backend_gone) {
		net->stats.tx_dropped++;
		return;
	}
	do
		wrote = writev(net->tap_fd, net->tx_iov, (int)n);
	while (wrote < 0 && errno == EINTR);
	if (wrote < 0) {
		/* A frame the host's stack refuses, or a tap that is down
		 * (EIO): dropped, as a network drops. */
		net->stats.tx_dropped++;
		if (!net->warned_tap)
			log_debug("virtio-net: tap '%s' refused a frame: %s (said once)", net->name,
				  strerror(errno));
		net->warned_tap = true;
		if (errno == EBADFD || errno == EBADF)
			backend_failed(net, errno);
		return;
	}
	net->stats.tx_frames++;
	net->stats.tx_bytes += e->out_len - HDR_SIZE;
}

static void transmit(struct virtio_net *net)
{
	struct virtio_dev *dev = net->dev;
	struct virtq *vq = &dev->vq[VIRTIO_NET_TXQ];
	bool pushed = false;
	int rc;

	while ((rc = virtq_pop(vq, &net->tx_elem)) > 0) {
		transmit_one(net, &net->tx_elem);
		virtq_push(vq, &net->tx_elem, 0);
		pushed = true;
	}
	if (pushed)
		virtio_dev_queue_interrupt(dev, VIRTIO_NET_TXQ);
	if (rc < 0)
		virtio_dev_needs_reset(dev);
}

/* ---- receive ------------------------------------------------------------ */

/* Hand chains[0 .. n) back with their lengths as one unit (virtq_fill,
 * virtq_flush): a driver that polls and took a frame's first buffer finds
 * all num_buffers of them. */
static void publish_chains(struct virtq *vq, const struct virtq_elem *chains,
			   const uint32_t *lens, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		virtq_fill(vq, &chains[i], lens[i], i);
	virtq_flush(vq, n);
}

/* Fit the header of the waiting frame to what the driver negotiated
 * (5.1.6.4): false when the frame uses an offload it did not take. */
static bool rx_header_fits(const struct virtio_net *net, uint8_t *hdr)
{
	uint8_t flags = hdr[HDR_FLAGS], gso = hdr[HDR_GSO_TYPE];
	bool guest_csum = has(net, VIRTIO_NET_F_GUEST_CSUM);

	if ((flags & HDR_F_NEEDS_CSUM) && !guest_csum)
		return false;
	switch (gso & ~GSO_ECN) {
	case GSO_NONE:
		break;
	case GSO_TCPV4:
		if (!has(net, VIRTIO_NET_F_GUEST_TSO4))
			return false;
		break;
	case GSO_TCPV6:
		if (!has(net, VIRTIO_NET_F_GUEST_TSO6))
			return false;
		break;
	default:
		return false;
	}
	if ((gso & GSO_ECN) && !has(net, VIRTIO_NET_F_GUEST_ECN))
		return false;
	/* Without GUEST_CSUM the flags must be 0; with it, only these two
	 * mean something to the driver. */
	hdr[HDR_FLAGS] = guest_csum ? flags & (HDR_F_NEEDS_CSUM | HDR_F_DATA_VALID) : 0;
	hdr[HDR_NUM_BUFFERS] = 1;
	hdr[HDR_NUM_BUFFERS + 1] = 0;
	return true;
}

static void rx_drop(struct virtio_net *net, const char *why)
{
	net->stats.rx_dropped++;
	if (!net->warned_rx_drop)
		log_debug("virtio-net: received frame dropped: %s (said once)", why);
	net->warned_rx_drop = true;
}

/* The waiting frame is gone: its chains (if any) go back with length 0. */
static void rx_abandon(struct virtio_net *net, const char *why)
{
	for (unsigned i = 0; i < net->rx_nchains; i++)
		net->rx_used[i] = 0;
	publish_chains(&net->dev->vq[VIRTIO_NET_RXQ], net->rx_chains, net->rx_used,
		       net->rx_nchains);
	rx_drop(net, why);
	net->rx_len = net->rx_placed = 0;
	net->rx_nchains = 0;
}

/* Put the waiting frame into the driver's receive chains. 1: it is gone
 * (delivered, or dropped), with *pushed set when the used ring changed;
 * 0: it waits for more chains; -1: the ring is malformed. */
static int place_frame(struct virtio_net *net, bool *pushed)
{
	struct virtq *vq = &net->dev->vq[VIRTIO_NET_RXQ];
	bool mergeable = has(net, VIRTIO_NET_F_MRG_RXBUF);
	uint16_t count;
	int rc;

	if (net->rx_nchains == 0 && !rx_header_fits(net, net->rx_frame)) {
		rx_abandon(net, "an offload the driver did not negotiate");
		return 1;
	}
	while (net->rx_placed < net->rx_len) {
		struct virtq_elem *e = &net->rx_chains[net->rx_nchains];
		size_t chunk;

		/* Every chain the queue can hold is here and the frame still
		 * does not fit: no buffer the driver could add would help. */
		if (net->rx_nchains == vq->size) {
			*pushed = true;
			rx_abandon(net, "larger than the whole receive queue");
			return 1;
		}
		rc = virtq_pop(vq, e);
		if (rc <= 0)
			return rc < 0 ? -1 : 0;
		/* Each buffer holds at least a header when mergeable (5.1.6.3.1). */
		if (e->nout || e->in_len < HDR_SIZE) {
			if (!net->warned_rx_chain)
				log_debug("virtio-net: a receive chain with device-readable buffers or "
					  "shorter than the header: returned unused (said once)");
			net->warned_rx_chain = true;
			virtq_push(vq, e, 0);
			*pushed = true;
			continue;
		}
		if (!mergeable && e->in_len < net->rx_len) {
			net->rx_nchains++;
			*pushed = true;
			rx_abandon(net, "larger than the receive buffer (no mergeable buffers)");
			return 1;
		}
		chunk = net->rx_len - net->rx_placed;
		if (chunk > e->in_len)
			chunk = (size_t)e->in_len;
		virtq_write_in(e, 0, net->rx_frame + net->rx_placed, chunk);
		net->rx_used[net->rx_nchains++] = (uint32_t)chunk;
		net->rx_placed += chunk;
	}
	count = htole16((uint16_t)net->rx_nchains);
	virtq_write_in(&net->rx_chains[0], HDR_NUM_BUFFERS, &count, sizeof(count));
	publish_chains(vq, net->rx_chains, net->rx_used, net->rx_nchains);
	*pushed = true;
	net->stats.rx_frames++;
	net->stats.rx_bytes += net->rx_len - HDR_SIZE;
	net->rx_len = net->rx_placed = 0;
	net->rx_nchains = 0;
	return 1;
}

/* Read and place frames while the driver has chains for them (dev->lock
 * held). Returns whether a frame was read from the tap. */
static bool receive(struct virtio_net *net)
{
	struct virtio_dev *dev = net->dev;
	bool pushed = false, read_any = false;

	for (unsigned budget = RX_BATCH; budget && queue_usable(net, VIRTIO_NET_RXQ); budget--) {
		int rc;

		if (!net->rx_len) {
			ssize_t n;

			if (net->backend_gone)
				break;
			n = read(net->tap_fd, net->rx_frame, RX_BUF_SIZE);
			if (n < 0) {
				if (errno != EAGAIN && errno != EINTR)
					backend_failed(net, errno);
				break;
			}
			if (n == 0) {
				backend_failed(net, 0);
				break;
			}
			read_any = true;
			if ((size_t)n <= HDR_SIZE || (size_t)n > HDR_SIZE + VIRTIO_NET_MAX_FRAME) {
				rx_drop(net, (size_t)n <= HDR_SIZE ? "no frame behind the header" :
					"larger than the largest frame");
				continue;
			}
			net->rx_len = (size_t)n;
		}
		rc = place_frame(net, &pushed);
		if (rc == 0) {
			/* Not another read until the driver adds buffers. */
			net->rx_starved = true;
			break;
		}
		if (rc < 0) {
			virtio_dev_needs_reset(dev);
			break;
		}
	}
	if (pushed)
		virtio_dev_queue_interrupt(dev, VIRTIO_NET_RXQ);
	return read_any;
}

static bool rx_wants_tap(const struct virtio_net *net)
{
	return !net->backend_gone && !net->rx_starved && queue_usable(net, VIRTIO_NET_RXQ);
}

static void *rx_main(void *arg)
{
	struct virtio_net *net = arg;
	struct virtio_dev *dev = net->dev;

	pthread_mutex_lock(&dev->lock);
	while (!net->stopping) {
		struct pollfd fds[2] = {
			{ .fd = net->wake_fd, .events = POLLIN },
			{ .fd = rx_wants_tap(net) ? net->tap_fd : -1, .events = POLLIN },
		};
		uint64_t count;
		bool read_any;

		pthread_mutex_unlock(&dev->lock);
		if (poll(fds, 2, -1) < 0 && errno != EINTR) {
			log_error("virtio-net: poll: %s; tap '%s' is no longer read", strerror(errno),
				  net->name);
			pthread_mutex_lock(&dev->lock);
			break;
		}
		if ((fds[0].revents & POLLIN) && read(net->wake_fd, &count, sizeof(count)) < 0 &&
		    errno != EAGAIN)
			log_debug("virtio-net: eventfd: %s", strerror(errno));
		pthread_mutex_lock(&dev->lock);
		read_any = receive(net);
		/* An error or hang-up with nothing to read would wake poll
		 * forever. */
		if (!read_any && (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL)) &&
		    !(fds[1].revents & POLLIN))
			backend_failed(net, 0);
	}
	pthread_mutex_unlock(&dev->lock);
	return NULL;
}

/* ---- virtio_dev_ops ----------------------------------------------------- */

static void net_config_read(struct virtio_dev *dev, unsigned off, void *buf, unsigned len)
{
	struct virtio_net *net = dev->priv;

	memcpy(buf, net->config + off, len);
}

static void net_queue_notify(struct virtio_dev *dev, unsigned q)
{
	struct virtio_net *net = dev->priv;

	if (q == VIRTIO_NET_TXQ) {
		transmit(net);
	} else if (net->rx_starved) {
		net->rx_starved = false;
		wake_rx(net);
	}
}

/* The tap may hand us what the driver takes: checksums left to do
 * (GUEST_CSUM) and, with them, large TCP segments. */
static unsigned tun_offloads(const struct virtio_net *net)
{
	unsigned f = 0;

	if (!has(net, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	f |= TUN_F_CSUM;
	if (has(net, VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (has(net, VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) && has(net, VIRTIO_NET_F_GUEST_ECN))
		f |= TUN_F_TSO_ECN;
	return f;
}

static void net_activate(struct virtio_dev *dev)
{
	struct virtio_net *net = dev->priv;
	int rc;

	if (net->can_offload) {
		rc = tap_set_offload(net->tap_fd, tun_offloads(net));
		if (rc < 0)
			log_warn("virtio-net: tap '%s': cannot set offloads %#x: %s", net->name,
				 tun_offloads(net), strerror(-rc));
	}
	log_debug("virtio-net: tap '%s': driver took features %#llx, tap offloads %#x", net->name,
		  (unsigned long long)dev->features_acked, net->can_offload ? tun_offloads(net) : 0);
	/* The receive thread starts reading the tap. */
	wake_rx(net);
}

static void net_reset(struct virtio_dev *dev)
{
	struct virtio_net *net = dev->priv;

	/* The chains taken belong to the driver again; the frame waits for
	 * the next one. No guest memory is touched after this: every write
	 * happens under dev->lock with the queue ready. */
	net->rx_nchains = 0;
	net->rx_placed = 0;
	net->rx_starved = false;
	if (net->can_offload)
		tap_set_offload(net->tap_fd, 0);
}

static void free_net(struct virtio_net *net)
{
	if (net->tap_fd >= 0)
		close(net->tap_fd);
	if (net->wake_fd >= 0)
		close(net->wake_fd);
	free(net->rx_chains);
	free(net->rx_frame);
	free(net);
}

static void net_destroy(struct virtio_dev *dev)
{
	struct virtio_net *net = dev->priv;

	pthread_mutex_lock(&dev->lock);
	net->stopping = true;
	wake_rx(net);
	pthread_mutex_unlock(&dev->lock);
	pthread_join(net->rx_thread, NULL);
	free_net(net);
}

#define NET_OPS(feat) {                                          \
	.name = "virtio-net",                                    \
	.device_id = VIRTIO_ID_NET,                              \
	.num_queues = 2,                                         \
	.queue_max_size = VIRTIO_NET_QUEUE_SIZE,                 \
	.features = (feat),                                      \
	.config_size = CONFIG_SIZE,                              \
	.config_read = net_config_read,                          \
	.queue_notify = net_queue_notify,                        \
	.activate = net_activate,                                \
	.reset = net_reset,                                      \
	.destroy = net_destroy,                                  \
}

static const struct virtio_dev_ops ops_plain = NET_OPS(BASE_FEATURES);
static const struct virtio_dev_ops ops_offload = NET_OPS(BASE_FEATURES | OFFLOAD_FEATURES);

void virtio_net_default_mac(const char *name, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ull;    /* FNV-1a */

	for (const char *c = name ? name : ""; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
	mac[0] = 0x02;                          /* locally administered, unicast */
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * (i - 1)));
}

void virtio_net_get_stats(struct virtio_dev *dev, struct virtio_net_stats *out)
{
	struct virtio_net *net = dev->priv;

	pthread_mutex_lock(&dev->lock);
	*out = net->stats;
	pthread_mutex_unlock(&dev->lock);
}

static int open_backend(struct virtio_net *net, const struct virtio_net_config *cfg)
{
	int flags;

	if (cfg->fd < 0) {
		net->tap_fd = tap_open(cfg->tap);
		return net->tap_fd < 0 ? net->tap_fd : 0;
	}
	net->tap_fd = cfg->fd;
	flags = fcntl(net->tap_fd, F_GETFL);
	if (flags < 0 || fcntl(net->tap_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		int err = errno;

		log_error("virtio-net: the backend descriptor: %s", strerror(err));
		return -err;
	}
	return 0;
}

int virtio_net_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg)
{
	const struct virtio_net_config *cfg = arg;
	struct virtio_net *net;
	sigset_t all, old;
	uint8_t mac[6];
	int rc;

	if (!cfg || (cfg->fd < 0 && !cfg->tap)) {
		log_error("virtio-net: no tap given");
		if (cfg && cfg->fd >= 0)
			close(cfg->fd);
		return -EINVAL;
	}
	net = calloc(1, sizeof(*net));
	if (net) {
		net->tap_fd = net->wake_fd = -1;
		net->rx_frame = malloc(RX_BUF_SIZE);
		/* A chain's pages are touched only when a frame needs it. */
		net->rx_chains = calloc(VIRTIO_NET_QUEUE_SIZE, sizeof(*net->rx_chains));
	}
	if (!net || !net->rx_frame || !net->rx_chains) {
		log_error("virtio-net: out of memory");
		if (cfg->fd >= 0)
			close(cfg->fd);
		if (net)
			free_net(net);
		return -ENOMEM;
	}
	snprintf(net->name, sizeof(net->name), "%s", cfg->tap ? cfg->tap : "(descriptor)");
	rc = open_backend(net, cfg);
	if (rc < 0) {
		free_net(net);
		return rc;
	}
	/* Offloads are offered only if the tap will take the driver's choice:
	 * everything at once, then nothing until DRIVER_OK. */
	net->can_offload = tap_set_offload(net->tap_fd, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
					   TUN_F_TSO_ECN) == 0 &&
			   tap_set_offload(net->tap_fd, 0) == 0;
	net->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (net->wake_fd < 0) {
		rc = -errno;
		log_error("virtio-net: eventfd: %s", strerror(-rc));
		free_net(net);
		return rc;
	}
	if (cfg->mac)
		memcpy(mac, cfg->mac, sizeof(mac));
	else
		virtio_net_default_mac(cfg->tap, mac);
	memcpy(net->config + CFG_MAC, mac, sizeof(mac));
	net->config[CFG_STATUS] = S_LINK_UP;
	net->config[CFG_MAX_PAIRS] = 1;
	net->dev = dev;

	rc = virtio_dev_init(dev, net->can_offload ? &ops_offload : &ops_plain, mem, net);
	if (rc < 0) {
		free_net(net);
		return rc;
	}
	/* Signals are for the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&net->rx_thread, NULL, rx_main, net);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		log_error("virtio-net: cannot start a thread: %s", strerror(-rc));
		pthread_mutex_destroy(&dev->lock);
		dev->ops = NULL;
		dev->priv = NULL;
		free_net(net);
		return rc;
	}
	log_debug("virtio-net: tap '%s', MAC %02x:%02x:%02x:%02x:%02x:%02x, offloads %s",
		  net->name, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
		  net->can_offload ? "offered" : "not offered (the backend takes none)");
	return 0;
}
