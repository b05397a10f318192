#include "loader/placement.h"

#include <string.h>

#include "loader/bytes.h"
#include "loader/loader.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"

const char *loader_kernel_name(const struct loader_input *in)
{
	return in->kernel_path ? in->kernel_path : "kernel";
}

const char *loader_initrd_name(const struct loader_input *in)
{
	return in->initrd_path ? in->initrd_path : "initrd";
}

bool loader_has_initrd(const struct loader_input *in)
{
	return in->initrd != NULL;
}

int place_cmdline(struct guest_mem *mem, const struct loader_input *in, const char *prefix,
		  uint64_t max_len)
{
	/* prefix is the multiboot kernel path: not a Linux kernel. */
	const char *cmdline = in->cmdline ? in->cmdline : prefix ? "" : LINUX_DEFAULT_CMDLINE;
	size_t plen = prefix ? strlen(prefix) : 0;
	size_t clen = strlen(cmdline);
	size_t sep = (plen && clen) ? 1 : 0;
	uint64_t len = (uint64_t)plen + sep + clen;
	uint8_t *dst;

	if (max_len > BOOT_CMDLINE_MAX - 1)
		max_len = BOOT_CMDLINE_MAX - 1;
	if (len > max_len) {
		log_error("%s: command line is %llu bytes, the kernel accepts at most %llu",
			  loader_kernel_name(in), (unsigned long long)len,
			  (unsigned long long)max_len);
		return -1;
	}
	dst = guest_mem_ptr(mem, BOOT_CMDLINE_ADDR, len + 1);
	if (!dst) {
		log_error("guest RAM cannot hold the command line");
		return -1;
	}
	memcpy(dst, prefix ? prefix : "", plen);
	if (sep)
		dst[plen] = ' ';
	memcpy(dst + plen + sep, cmdline, clen);
	dst[len] = '\0';
	return 0;
}

static uint64_t align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

int place_initrd_high(struct guest_mem *mem, const struct loader_input *in, uint64_t limit,
		      uint64_t avoid, uint64_t avoid_end, uint64_t *addr)
{
	uint64_t size = in->initrd_size;
	/* Low RAM is one region starting at 0; its end is below the hole. */
	uint64_t top = mem->regions[0].size;

	uint64_t highest;

	if (limit < top)
		top = limit;
	highest = top;
	/* Two candidates: just below the top, and just below whatever the
	 * top one collided with. */
	for (int attempt = 0; attempt < 2; attempt++) {
		uint64_t a;

		if (size > top || top - size < HIGH_MEMORY_START)
			break;
		a = align_down(top - size, PAGE_SIZE_4K);
		if (a < HIGH_MEMORY_START)
			break;
		if (!ranges_overlap(a, size ? size : 1, avoid, avoid_end - avoid)) {
			if (size && guest_mem_write(mem, a, in->initrd, size) != 0)
				break;
			*addr = a;
			return 0;
		}
		top = avoid;
	}
	log_error("%s: initrd of %llu bytes does not fit in guest RAM between 1 MiB and "
		  "0x%llx clear of the kernel at [0x%llx, 0x%llx)",
		  loader_initrd_name(in), (unsigned long long)size, (unsigned long long)highest,
		  (unsigned long long)avoid, (unsigned long long)avoid_end);
	return -1;
}
