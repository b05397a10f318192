/* virtio-rng, the entropy device (virtio 1.x 5.4): one request queue, no
 * configuration space, no device features. Every chain the driver makes
 * available is a request for as many random bytes as its writable
 * buffers hold; the device fills them from the host's getrandom() (at
 * most VIRTIO_RNG_MAX_REQUEST bytes per chain; the used length says how
 * many) at once, on the notifying vCPU's thread. A chain with readable
 * buffers is malformed: the device then needs a reset. */
#ifndef WISP_VIRTIO_VIRTIO_RNG_H
#define WISP_VIRTIO_VIRTIO_RNG_H

struct guest_mem;
struct virtio_dev;

#define VIRTIO_RNG_QUEUE_SIZE  256u
#define VIRTIO_RNG_MAX_REQUEST (64u << 10)

/* A virtio_dev_setup_fn (virtio_mmio.h): arg is unused. */
int virtio_rng_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg);

#endif
