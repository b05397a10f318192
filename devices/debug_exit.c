#include "debug_exit.h"

#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/platform.h"

#define PIO_SPACE 0x10000u

/* No mutable state, hence no lock: the platform decides which of several
 * concurrent stop requests wins. */
struct debug_exit {
	struct platform *p;
};

static uint64_t debug_exit_read(void *opaque, uint64_t offset, unsigned size)
{
	(void)opaque;
	(void)offset;
	(void)size;
	return ~0ull;
}

static void debug_exit_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct debug_exit *d = opaque;
	uint32_t status;

	(void)offset;
	if (size < 8)
		value &= (1ull << (8 * size)) - 1;
	/* Unsigned arithmetic: any v, of any width, gives a defined status;
	 * the top bit of a 32-bit v falls off, as in QEMU. */
	status = ((uint32_t)value << 1) | 1;

	platform_request_stop(d->p, VM_STOP_GUEST_EXIT, (int)status);
}

static const struct bus_ops debug_exit_ops = {
	.read = debug_exit_read,
	.write = debug_exit_write,
};

struct debug_exit *debug_exit_create(struct platform *p, uint16_t port, unsigned size)
{
	struct debug_exit *d;
	int rc;

	if (size == 0 || size > PIO_SPACE - port) {
		log_error("debug_exit: bad port range 0x%x, size %u", port, size);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		log_error("debug_exit: out of memory");
		return NULL;
	}
	d->p = p;
	rc = bus_register(p->pio, port, size, &debug_exit_ops, d, "debug_exit");
	if (rc) {
		log_error("debug_exit: cannot claim ports 0x%x-0x%x: %s", port, port + size - 1,
			  strerror(-rc));
		debug_exit_destroy(d);
		return NULL;
	}
	return d;
}

void debug_exit_destroy(struct debug_exit *d)
{
	if (!d)
		return;
	free(d);
}
