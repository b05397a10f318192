#include "bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->count = bus->capacity = 0;
}

/* Index of the first range whose base is > addr. */
static size_t upper_bound(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	size_t i = upper_bound(bus, addr);
	const struct bus_range *r;

	if (i == 0)
		return NULL;
	r = &bus->ranges[i - 1];
	return addr - r->base < r->len ? r : NULL;
}

bool bus_range_free(const struct bus *bus, uint64_t base, uint64_t len)
{
	for (size_t i = 0; i < bus->count; i++) {
		const struct bus_range *r = &bus->ranges[i];
		if (r->base - base < len || base - r->base < r->len)
			return false;
	}
	return true;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque, const char *name)
{
	size_t i;

	if (len == 0 || base + len - 1 < base || !ops)
		return -EINVAL;

	i = upper_bound(bus, base);
	if (i > 0) {
		const struct bus_range *prev = &bus->ranges[i - 1];
		if (base - prev->base < prev->len) {
			log_error("%s bus: %s at 0x%llx overlaps %s at 0x%llx", bus->name, name,
				  (unsigned long long)base, prev->name,
				  (unsigned long long)prev->base);
			return -EEXIST;
		}
	}
	if (i < bus->count && bus->ranges[i].base - base < len) {
		log_error("%s bus: %s at 0x%llx overlaps %s at 0x%llx", bus->name, name,
			  (unsigned long long)base, bus->ranges[i].name,
			  (unsigned long long)bus->ranges[i].base);
		return -EEXIST;
	}

	if (bus->count == bus->capacity) {
		size_t cap = bus->capacity ? bus->capacity * 2 : 16;
		struct bus_range *n = realloc(bus->ranges, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		bus->ranges = n;
		bus->capacity = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->count - i) * sizeof(*bus->ranges));
	bus->ranges[i] = (struct bus_range){ base, len, ops, opaque, name };
	bus->count++;
	return 0;
}

static uint64_t all_ones(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

bool bus_read(const struct bus *bus, uint64_t addr, unsigned size, uint64_t *value)
{
	const struct bus_range *r = bus_find(bus, addr);

	if (!r || !r->ops->read) {
		*value = all_ones(size);
		return r != NULL;
	}
	*value = r->ops->read(r->opaque, addr - r->base, size) & all_ones(size);
	return true;
}

bool bus_write(const struct bus *bus, uint64_t addr, unsigned size, uint64_t value)
{
	const struct bus_range *r = bus_find(bus, addr);

	if (!r)
		return false;
	if (r->ops->write)
		r->ops->write(r->opaque, addr - r->base, size, value & all_ones(size));
	return true;
}
