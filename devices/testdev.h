/* A device for wisp's own test guests (wisp run --testdev): eight bytes of
 * scratch at I/O ports 0xe0-0xe7 and a page of scratch memory at
 * TESTDEV_MMIO_BASE. Guests use them to exercise port and MMIO exits of
 * every width; the access counters let unit tests see what arrived. */
#ifndef WISP_DEVICES_TESTDEV_H
#define WISP_DEVICES_TESTDEV_H

#include <stdint.h>

struct platform;
struct testdev;

#define TESTDEV_PIO_BASE 0xe0
#define TESTDEV_PIO_SIZE 8

/* Returns NULL after logging why. */
struct testdev *testdev_create(struct platform *p);
void testdev_destroy(struct testdev *t);

/* Accesses seen so far, whatever their offset or size. */
uint64_t testdev_pio_reads(struct testdev *t);
uint64_t testdev_pio_writes(struct testdev *t);
uint64_t testdev_mmio_reads(struct testdev *t);
uint64_t testdev_mmio_writes(struct testdev *t);

#endif
