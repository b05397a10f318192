#include "virtio_rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "virtio_dev.h"
#include "vmm/log.h"

struct virtio_rng {
	struct virtq_elem elem;      /* one request at a time, under dev->lock */
	bool warned;                 /* getrandom failed once already */
};

/* Fill len bytes at dst; returns how many could be had. */
static size_t fill_random(struct virtio_rng *r, uint8_t *dst, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom(dst + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!r->warned)
				log_warn("virtio-rng: getrandom: %s", n < 0 ? strerror(errno) : "no bytes");
			r->warned = true;
			break;
		}
		done += (size_t)n;
	}
	return done;
}

/* Serve one request; the bytes written into its writable segments. */
static uint32_t serve(struct virtio_rng *r)
{
	const struct virtq_elem *e = &r->elem;
	size_t want = e->in_len < VIRTIO_RNG_MAX_REQUEST ? (size_t)e->in_len : VIRTIO_RNG_MAX_REQUEST;
	size_t done = 0;

	for (unsigned i = e->nout; i < e->nout + e->nin && done < want; i++) {
		const struct virtq_seg *s = &e->seg[i];
		size_t n = s->len < want - done ? s->len : want - done;
		size_t got = fill_random(r, s->host, n);

		done += got;
		if (got < n)
			break;
	}
	return (uint32_t)done;
}

static void rng_queue_notify(struct virtio_dev *dev, unsigned q)
{
	struct virtio_rng *r = dev->priv;
	struct virtq *vq = &dev->vq[q];
	bool pushed = false;
	int rc;

	while ((rc = virtq_pop(vq, &r->elem)) > 0) {
		if (r->elem.nout) {
			log_debug("virtio-rng: a request with device-readable buffers");
			rc = -EINVAL;
			break;
		}
		virtq_push(vq, &r->elem, serve(r));
		pushed = true;
	}
	if (pushed)
		virtio_dev_queue_interrupt(dev, q);
	if (rc < 0)
		virtio_dev_needs_reset(dev);
}

static void rng_destroy(struct virtio_dev *dev)
{
	free(dev->priv);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_max_size = VIRTIO_RNG_QUEUE_SIZE,
	.features = 0,
	.config_size = 0,
	.queue_notify = rng_queue_notify,
	.destroy = rng_destroy,
};

int virtio_rng_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));
	int rc;

	(void)arg;
	if (!r) {
		log_error("virtio-rng: out of memory");
		return -ENOMEM;
	}
	rc = virtio_dev_init(dev, &rng_ops, mem, r);
	if (rc)
		free(r);
	return rc;
}
