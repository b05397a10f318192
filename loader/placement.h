/* Putting the pieces every boot path hands to its kernel into guest RAM:
 * the command line at BOOT_CMDLINE_ADDR and the initrd high in low RAM. */
#ifndef WISP_LOADER_PLACEMENT_H
#define WISP_LOADER_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem;
struct loader_input;

#define PAGE_SIZE_4K 0x1000ull

/* The names to put in messages; never NULL. */
const char *loader_kernel_name(const struct loader_input *in);
const char *loader_initrd_name(const struct loader_input *in);

/* True when the input carries an initrd (possibly of 0 bytes). */
bool loader_has_initrd(const struct loader_input *in);

/* Writes prefix (may be NULL), a space if both are non-empty, cmdline and
 * a NUL at BOOT_CMDLINE_ADDR. Without a cmdline, the Linux boot paths (no
 * prefix) get LINUX_DEFAULT_CMDLINE. max_len is the most the kernel accepts, NUL
 * not counted; the buffer's own size also applies. Returns 0, or -1 after
 * one message. */
int place_cmdline(struct guest_mem *mem, const struct loader_input *in, const char *prefix,
		  uint64_t max_len);

/* Finds the highest page-aligned address a with [a, a + size) in RAM,
 * a >= 1 MiB, a + size <= limit and clear of [avoid, avoid_end), copies
 * the initrd there and sets *addr. Returns 0, or -1 after one message. */
int place_initrd_high(struct guest_mem *mem, const struct loader_input *in, uint64_t limit,
		      uint64_t avoid, uint64_t avoid_end, uint64_t *addr);

#endif
