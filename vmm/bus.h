/* Address-range dispatch for port I/O and MMIO.
 *
 * A bus is filled while the machine is built and is read-only once vCPUs
 * run, so lookups take no lock. Devices serialise their own state. */
#ifndef WISP_BUS_H
#define WISP_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus_ops {
	/* offset is relative to the registered base; size is 1, 2, 4 or 8.
	 * Values are little-endian numbers, zero-extended to 64 bits. */
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
	void (*write)(void *opaque, uint64_t offset, unsigned size, uint64_t value);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;           /* "pio" or "mmio", for messages */
	struct bus_range *ranges;   /* sorted by base, never overlapping */
	size_t count;
	size_t capacity;
};

void bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);

/* Returns 0, -EINVAL for an empty or wrapping range, -EEXIST when the range
 * overlaps one already registered (the message names both devices). */
int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque, const char *name);

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);

/* Whether no range overlaps [base, base + len). A bus cannot unregister, so
 * a device with several ranges checks the later ones before claiming the
 * first. */
bool bus_range_free(const struct bus *bus, uint64_t base, uint64_t len);

/* An access nobody claims reads as all ones and writes are dropped, like an
 * ISA bus with nothing driving it. Return false for such accesses. */
bool bus_read(const struct bus *bus, uint64_t addr, unsigned size, uint64_t *value);
bool bus_write(const struct bus *bus, uint64_t addr, unsigned size, uint64_t value);

#endif
