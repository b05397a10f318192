/* virtio-console (virtio 1.x 5.3): one console port, the guest's hvc0.
 *
 * No MULTIPORT, so no control queues: queue 0 (receiveq0) carries host
 * input to the guest, queue 1 (transmitq0) the guest's output to the
 * host. VIRTIO_CONSOLE_F_SIZE is offered with the size given at setup
 * (the host terminal's); a configuration change at DRIVER_OK announces it
 * (Linux reads the size only then), virtio_console_resize changes it and
 * tells the driver again. The configuration space is the spec's 12 bytes: cols, rows,
 * max_nr_ports (1; meaningful only with MULTIPORT) and emerg_wr (not
 * offered: reads 0, writes are ignored).
 *
 * Output: every chain on transmitq0 is written to out_fd through
 * console_output (vmm/console.h), the path the serial port's output takes,
 * at once on the notifying vCPU's thread.
 *
 * Input: host bytes wait in a buffer of VIRTIO_CONSOLE_INPUT_BUFFER bytes
 * until the guest has receive buffers, and go into them in order as soon
 * as it has. The host stops reading its input while the buffer is full
 * (virtio_console_input_space is 0); when the guest's next buffers on
 * receiveq0 drain it, the wake descriptor becomes readable and the host
 * reads on. Nothing is dropped. Input survives a device reset: it is the
 * user's, not the driver's, and goes to the driver that sets the device
 * up next.
 *
 * Hostile driver: a chain on transmitq0 with device-writable buffers, or
 * one on receiveq0 with device-readable buffers, is returned unused with
 * length 0 and the device carries on; a malformed ring sets
 * DEVICE_NEEDS_RESET (virtqueue.h).
 *
 * Transport-independent: virtio_console_setup is a virtio_dev_setup_fn. */
#ifndef WISP_VIRTIO_VIRTIO_CONSOLE_H
#define WISP_VIRTIO_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

struct guest_mem;
struct virtio_dev;

#define VIRTIO_CONSOLE_QUEUE_SIZE   64u   /* Linux fills receiveq0 with pages */
#define VIRTIO_CONSOLE_INPUT_BUFFER 4096u
#define VIRTIO_CONSOLE_CONFIG_SIZE  12u

#define VIRTIO_CONSOLE_RX_QUEUE 0u        /* receiveq0 */
#define VIRTIO_CONSOLE_TX_QUEUE 1u        /* transmitq0 */

/* Feature bits (virtio 1.x 5.3.3). */
#define VIRTIO_CONSOLE_F_SIZE        0
#define VIRTIO_CONSOLE_F_MULTIPORT   1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

struct virtio_console_config {
	int out_fd;                  /* guest output; -1 discards; the caller owns it */
	uint16_t cols, rows;         /* the console size the driver reads */
	/* Set to the device when setup succeeds, for the host side's calls
	 * below (the transport owns the struct virtio_dev). May be NULL. */
	struct virtio_dev **created;
};

/* A virtio_dev_setup_fn (virtio_mmio.h); arg is a const struct
 * virtio_console_config *. 0, or a negative errno after a message. */
int virtio_console_setup(struct virtio_dev *dev, struct guest_mem *mem, const void *arg);

/* ---- the host side (any thread; each call takes dev->lock) -------------- */

/* Queue host input for the guest: returns how many bytes of buf were
 * taken (fewer than len when the input buffer fills). */
size_t virtio_console_receive(struct virtio_dev *dev, const uint8_t *buf, size_t len);
/* How many bytes virtio_console_receive would take now. */
size_t virtio_console_input_space(struct virtio_dev *dev);
/* Readable (an eventfd) when input space came back after the buffer was
 * full; virtio_console_wake_ack empties it. */
int virtio_console_wake_fd(struct virtio_dev *dev);
void virtio_console_wake_ack(struct virtio_dev *dev);
/* The host terminal changed size: the driver gets a configuration
 * change (nothing happens when the size is the same). */
void virtio_console_resize(struct virtio_dev *dev, uint16_t cols, uint16_t rows);

#endif
