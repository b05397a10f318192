/* The guest's physical memory map in BIOS e820 form: the one source for the
 * Linux zero page, the multiboot mmap and the PVH memmap. */
#ifndef WISP_LOADER_E820_H
#define WISP_LOADER_E820_H

#include <stddef.h>
#include <stdint.h>

struct guest_mem;

#define E820_RAM      1
#define E820_RESERVED 2

/* Enough for every layout e820_build produces. */
#define E820_MAX_ENTRIES 8

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Fills out[0..max) in ascending address order:
 *   [0, EBDA_START)                 RAM (page 0 included)
 *   [EBDA_START, HIGH_MEMORY_START) reserved: EBDA, VGA hole, BIOS area
 *   [1 MiB, end of low RAM)         RAM
 *   [4 GiB, end of RAM)             RAM, when RAM reaches past the PCI hole
 * Returns the number of entries the map has, like snprintf: when that is
 * more than max only the first max were written. */
size_t e820_build(const struct guest_mem *mem, struct e820_entry *out, size_t max);

#endif
