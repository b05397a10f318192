/* Guest RAM: one anonymous host mapping with guard pages on both sides,
 * split into a low region [0, min(size, hole start)) and, for guests
 * larger than the space below the PCI hole, a high region at 4 GiB.
 *
 * Every guest-physical access from the VMM goes through these helpers: a
 * guest-controlled address or length never reaches memcpy unchecked. */
#ifndef WISP_GUEST_MEM_H
#define WISP_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory_map.h"

#define GUEST_MEM_MAX_REGIONS 2

struct guest_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	uint8_t *mapping;      /* the whole host mapping, guards included */
	size_t mapping_size;
	uint64_t ram_size;     /* total guest RAM in bytes */
	unsigned nregions;
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
	/* Told of every write the VMM (a device, not a vCPU) makes into guest
	 * RAM while the guest runs, so that the software core drops code it
	 * decoded from those bytes. Set by the accelerator; NULL: no one
	 * listens (KVM). */
	void (*written)(void *opaque, uint64_t gpa, uint64_t len);
	void *written_opaque;
};

/* ram_size must be a non-zero multiple of 4 KiB and at most
 * GUEST_RAM_MAX. Returns 0 or a negative errno (-EINVAL, -ENOMEM). */
int guest_mem_init(struct guest_mem *mem, uint64_t ram_size);
void guest_mem_destroy(struct guest_mem *mem);

/* Host pointer for [gpa, gpa + len) if that range lies wholly inside one
 * RAM region, else NULL. len 0 is refused. */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

bool guest_mem_is_ram(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy in/out; 0 or -EFAULT when the range is not wholly RAM. */
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, size_t len);
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, size_t len);

/* A device wrote [gpa, gpa + len) through a host pointer. guest_mem_write
 * does this itself. */
static inline void guest_mem_note_write(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (mem->written && len)
		mem->written(mem->written_opaque, gpa, len);
}

/* The highest guest-physical address + 1 that is RAM. */
uint64_t guest_mem_end(const struct guest_mem *mem);

#endif
