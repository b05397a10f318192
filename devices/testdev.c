#include "testdev.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/memory_map.h"
#include "vmm/platform.h"

struct testdev {
	pthread_mutex_t lock;
	struct platform *p;
	uint64_t pio_reads, pio_writes, mmio_reads, mmio_writes;
	uint8_t pio[TESTDEV_PIO_SIZE];
	uint8_t mmio[TESTDEV_MMIO_SIZE];
};

/* Little-endian scratch access. A wide access hanging over the end keeps
 * the bytes that fit; the rest read as 0xff, like nothing on the bus. */
static uint64_t scratch_read(const uint8_t *mem, uint64_t len, uint64_t offset, unsigned size)
{
	uint64_t v = 0;
	unsigned i;

	if (size > 8)
		size = 8;
	for (i = 0; i < size; i++) {
		uint64_t b = 0xff;
		if (offset < len && i < len - offset)
			b = mem[offset + i];
		v |= b << (8 * i);
	}
	return v;
}

static void scratch_write(uint8_t *mem, uint64_t len, uint64_t offset, unsigned size,
			  uint64_t value)
{
	unsigned i;

	if (size > 8)
		size = 8;
	for (i = 0; i < size; i++) {
		if (offset < len && i < len - offset)
			mem[offset + i] = (uint8_t)(value >> (8 * i));
	}
}

static uint64_t pio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct testdev *t = opaque;
	uint64_t v;

	pthread_mutex_lock(&t->lock);
	t->pio_reads++;
	v = scratch_read(t->pio, sizeof(t->pio), offset, size);
	pthread_mutex_unlock(&t->lock);
	return v;
}

static void pio_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct testdev *t = opaque;

	pthread_mutex_lock(&t->lock);
	t->pio_writes++;
	scratch_write(t->pio, sizeof(t->pio), offset, size, value);
	pthread_mutex_unlock(&t->lock);
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct testdev *t = opaque;
	uint64_t v;

	pthread_mutex_lock(&t->lock);
	t->mmio_reads++;
	v = scratch_read(t->mmio, sizeof(t->mmio), offset, size);
	pthread_mutex_unlock(&t->lock);
	return v;
}

static void mmio_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct testdev *t = opaque;

	pthread_mutex_lock(&t->lock);
	t->mmio_writes++;
	scratch_write(t->mmio, sizeof(t->mmio), offset, size, value);
	pthread_mutex_unlock(&t->lock);
}

static const struct bus_ops pio_ops = { .read = pio_read, .write = pio_write };
static const struct bus_ops mmio_ops = { .read = mmio_read, .write = mmio_write };

struct testdev *testdev_create(struct platform *p)
{
	struct testdev *t;
	int rc;

	if (!bus_range_free(p->mmio, TESTDEV_MMIO_BASE, TESTDEV_MMIO_SIZE)) {
		log_error("testdev: MMIO window 0x%llx is taken",
			  (unsigned long long)TESTDEV_MMIO_BASE);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		log_error("testdev: out of memory");
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->p = p;

	rc = bus_register(p->pio, TESTDEV_PIO_BASE, TESTDEV_PIO_SIZE, &pio_ops, t, "testdev");
	if (rc) {
		log_error("testdev: cannot claim ports 0x%x-0x%x: %s", TESTDEV_PIO_BASE,
			  TESTDEV_PIO_BASE + TESTDEV_PIO_SIZE - 1, strerror(-rc));
		testdev_destroy(t);
		return NULL;
	}
	rc = bus_register(p->mmio, TESTDEV_MMIO_BASE, TESTDEV_MMIO_SIZE, &mmio_ops, t, "testdev");
	if (rc) {
		log_error("testdev: cannot claim MMIO 0x%llx-0x%llx: %s",
			  (unsigned long long)TESTDEV_MMIO_BASE,
			  (unsigned long long)(TESTDEV_MMIO_BASE + TESTDEV_MMIO_SIZE - 1),
			  strerror(-rc));
		testdev_destroy(t);
		return NULL;
	}
	return t;
}

void testdev_destroy(struct testdev *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static uint64_t counter(struct testdev *t, const uint64_t *c)
{
	uint64_t v;

	pthread_mutex_lock(&t->lock);
	v = *c;
	pthread_mutex_unlock(&t->lock);
	return v;
}

uint64_t testdev_pio_reads(struct testdev *t) { return counter(t, &t->pio_reads); }
uint64_t testdev_pio_writes(struct testdev *t) { return counter(t, &t->pio_writes); }
uint64_t testdev_mmio_reads(struct testdev *t) { return counter(t, &t->mmio_reads); }
uint64_t testdev_mmio_writes(struct testdev *t) { return counter(t, &t->mmio_writes); }
