#include "virtio_console.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virtio_dev.h"
#include "vmm/console.h"
#include "vmm/log.h"

/* Configuration space offsets (virtio 1.x 5.3.4), all little-endian. */
#define CFG_COLS         0
#define CFG_ROWS         2
#define CFG_MAX_NR_PORTS 4
#define CFG_EMERG_WR     8

struct virtio_console {
	int out_fd;
	uint16_t cols, rows;
	int wake_fd;                 /* eventfd: input space came back */

	/* Host input the guest has not taken yet: a ring. */
	size_t in_head, in_count;
	uint8_t in[VIRTIO_CONSOLE_INPUT_BUFFER];

	struct virtq_elem elem;      /* the chain in hand, under dev->lock */
	bool warned_rx, warned_tx;   /* a wrong-direction chain was reported */
};

static struct virtio_console *console_of(struct virtio_dev *dev)
{
	return dev->priv;
}

/* Copy as much pending input as the chain's writable buffers hold, in
 * order; returns the bytes copied. */
static uint32_t fill_chain(struct virtio_console *c, const struct virtq_elem *e)
{
	size_t room = e->in_len < c->in_count ? (size_t)e->in_len : c->in_count;
	size_t done = 0;

	while (done < room) {
		/* The ring wraps at most once within room. */
		size_t run = VIRTIO_CONSOLE_INPUT_BUFFER - c->in_head;

		if (run > room - done)
			run = room - done;
		virtq_write_in(e, done, c->in + c->in_head, run);
		c->in_head = (c->in_head + run) % VIRTIO_CONSOLE_INPUT_BUFFER;
		c->in_count -= run;
		done += run;
	}
	return (uint32_t)done;
}

static void wake_host(struct virtio_console *c)
{
	uint64_t one = 1;

	/* An eventfd write fails only if the counter would overflow: then
	 * it is readable anyway. */
	if (write(c->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("virtio-console: eventfd: %s", strerror(errno));
}

/* Pending input into the guest's receive buffers. A chain is taken only
 * while there is input for it: the others stay the driver's until then. */
static void deliver_input(struct virtio_dev *dev)
{
	struct virtio_console *c = console_of(dev);
	struct virtq *vq = &dev->vq[VIRTIO_CONSOLE_RX_QUEUE];
	bool was_full = c->in_count == VIRTIO_CONSOLE_INPUT_BUFFER;
	bool pushed = false;
	int rc = 0;

	while (c->in_count && (rc = virtq_pop(vq, &c->elem)) > 0) {
		uint32_t n = 0;

		if (c->elem.nout || !c->elem.nin) {
			if (!c->warned_rx)
				log_debug("virtio-console: a receive chain with device-readable "
					  "or no buffers: returned unused");
			c->warned_rx = true;
		} else {
			n = fill_chain(c, &c->elem);
		}
		virtq_push(vq, &c->elem, n);
		pushed = true;
	}
	if (pushed)
		virtio_dev_queue_interrupt(dev, VIRTIO_CONSOLE_RX_QUEUE);
	if (rc < 0)
		virtio_dev_needs_reset(dev);
	/* The host stopped reading its input when the buffer filled. */
	if (was_full && c->in_count < VIRTIO_CONSOLE_INPUT_BUFFER)
		wake_host(c);
}

static void transmit(struct virtio_dev *dev)
{
	struct virtio_console *c = console_of(dev);
	struct virtq *vq = &dev->vq[VIRTIO_CONSOLE_TX_QUEUE];
	bool pushed = false;
	int rc;

	while ((rc = virtq_pop(vq, &c->elem)) > 0) {
		const struct virtq_elem *e = &c->elem;

		if (e->nin) {
			if (!c->warned_tx)
				log_debug("virtio-console: a transmit chain with device-writable "
					  "buffers: returned unused");
			c->warned_tx = true;
		} else {
			for (unsigned i = 0; i < e->nout; i++)
				console_output(&c->out_fd, e->seg[i].host, e->seg[i].len,
					       "virtio-console");
		}
		/* The device writes nothing into a transmit buffer. */
		virtq_push(vq, e, 0);
		pushed = true;
	}
	if (pushed)
		virtio_dev_queue_interrupt(dev, VIRTIO_CONSOLE_TX_QUEUE);
	if (rc < 0)
		virtio_dev_needs_reset(dev);
}

static void console_queue_notify(struct virtio_dev *dev, unsigned q)
{
	if (q == VIRTIO_CONSOLE_RX_QUEUE)
		deliver_input(dev);
	else
		transmit(dev);
}

static void console_config_read(struct virtio_dev *dev, unsigned off, void *buf, unsigned len)
{
	struct virtio_console *c = console_of(dev);
	uint8_t cfg[VIRTIO_CONSOLE_CONFIG_SIZE] = { 0 };
	uint16_t cols = htole16(c->cols), rows = htole16(c->rows);
	uint32_t ports = htole32(1);

	memcpy(cfg + CFG_COLS, &cols, 2);
	memcpy(cfg + CFG_ROWS, &rows, 2);
	memcpy(cfg + CFG_MAX_NR_PORTS, &ports, 4);
	/* CFG_EMERG_WR is write-only, and EMERG_WRITE is not offered. */
	memcpy(buf, cfg + off, len);
}

/* Linux's driver learns the size only from a configuration change (its
 * port starts out 0x0): the size is announced as soon as the driver is
 * ready for interrupts. */
static void console_activate(struct virtio_dev *dev)
{
	if (virtio_dev_has_feature(dev, VIRTIO_CONSOLE_F_SIZE))
		virtio_dev_config_changed(dev);
}

static void console_destroy(struct virtio_dev *dev)
{
	struct virtio_console *c = console_of(dev);

	close(c->wake_fd);
	free(c);
}

static const struct virtio_dev_ops console_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.num_queues = 2,
	.queue_max_size = VIRTIO_CONSOLE_QUEUE_SIZE,
	.features = 1ull << VIRTIO_CONSOLE_F_SIZE,
	.config_size = VIRTIO_CONSOLE_CONFIG_SIZE,
	.config_read = console_config_read,
	.queue_notify = console_queue_notify,
	.activate = console_activate,
	.destroy = console_destroy,
};

int virtio_console_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg)
{
	const struct virtio_console_config *cfg = arg;
	struct virtio_console *c;
	int rc;

	if (!cfg) {
		log_error("virtio-console: no configuration given");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		log_error("virtio-console: out of memory");
		return -ENOMEM;
	}
	c->out_fd = cfg->out_fd;
	c->cols = cfg->cols;
	c->rows = cfg->rows;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0) {
		rc = -errno;
		log_error("virtio-console: eventfd: %s", strerror(errno));
		free(c);
		return rc;
	}
	rc = virtio_dev_init(dev, &console_ops, mem, c);
	if (rc) {
		close(c->wake_fd);
		free(c);
		return rc;
	}
	if (cfg->created)
		*cfg->created = dev;
	return 0;
}

size_t virtio_console_receive(struct virtio_dev *dev, const uint8_t *buf, size_t len)
{
	struct virtio_console *c;
	size_t n, tail;

	pthread_mutex_lock(&dev->lock);
	c = console_of(dev);
	n = VIRTIO_CONSOLE_INPUT_BUFFER - c->in_count;
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++) {
		tail = (c->in_head + c->in_count) % VIRTIO_CONSOLE_INPUT_BUFFER;
		c->in[tail] = buf[i];
		c->in_count++;
	}
	/* Through the core: it delivers only to a driver that is ready. */
	if (n)
		virtio_dev_queue_notify(dev, VIRTIO_CONSOLE_RX_QUEUE);
	pthread_mutex_unlock(&dev->lock);
	return n;
}

size_t virtio_console_input_space(struct virtio_dev *dev)
{
	size_t n;

	pthread_mutex_lock(&dev->lock);
	n = VIRTIO_CONSOLE_INPUT_BUFFER - console_of(dev)->in_count;
	pthread_mutex_unlock(&dev->lock);
	return n;
}

int virtio_console_wake_fd(struct virtio_dev *dev)
{
	/* Set once at setup and never changed: no lock needed. */
	return console_of(dev)->wake_fd;
}

void virtio_console_wake_ack(struct virtio_dev *dev)
{
	uint64_t count;

	if (read(console_of(dev)->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_debug("virtio-console: eventfd: %s", strerror(errno));
}

void virtio_console_resize(struct virtio_dev *dev, uint16_t cols, uint16_t rows)
{
	struct virtio_console *c;

	pthread_mutex_lock(&dev->lock);
	c = console_of(dev);
	if (c->cols != cols || c->rows != rows) {
		c->cols = cols;
		c->rows = rows;
		virtio_dev_config_changed(dev);
	}
	pthread_mutex_unlock(&dev->lock);
}
