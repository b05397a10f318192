#include "guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Guard pages catch a VMM bug that runs off either end of guest RAM. */
#define GUARD_SIZE KiB(64)

int guest_mem_init(struct guest_mem *mem, uint64_t ram_size)
{
	uint64_t low, high;
	uint8_t *map;

	memset(mem, 0, sizeof(*mem));
	if (ram_size < GUEST_RAM_MIN || ram_size > GUEST_RAM_MAX || (ram_size & 0xfff))
		return -EINVAL;

	low = ram_size < PCI_HOLE_START ? ram_size : PCI_HOLE_START;
	high = ram_size - low;

	mem->mapping_size = ram_size + 2 * GUARD_SIZE;
	map = mmap(NULL, mem->mapping_size, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return -ENOMEM;
	if (mprotect(map + GUARD_SIZE, ram_size, PROT_READ | PROT_WRITE) != 0) {
		munmap(map, mem->mapping_size);
		return -ENOMEM;
	}
	/* Guest RAM is never worth a core dump and is large. */
	madvise(map + GUARD_SIZE, ram_size, MADV_DONTDUMP);

	mem->mapping = map;
	mem->ram_size = ram_size;
	mem->regions[0] = (struct guest_mem_region){ 0, low, map + GUARD_SIZE };
	mem->nregions = 1;
	if (high) {
		mem->regions[1] = (struct guest_mem_region){ HIGH_RAM_START, high,
							     map + GUARD_SIZE + low };
		mem->nregions = 2;
	}
	return 0;
}

void guest_mem_destroy(struct guest_mem *mem)
{
	if (mem->mapping)
		munmap(mem->mapping, mem->mapping_size);
	memset(mem, 0, sizeof(*mem));
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return NULL;
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];
		/* Written so that no sum can wrap around. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

bool guest_mem_is_ram(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return guest_mem_ptr(mem, gpa, len) != NULL;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, size_t len)
{
	const void *src;

	if (len == 0)
		return 0;
	src = guest_mem_ptr(mem, gpa, len);
	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, size_t len)
{
	void *dst;

	if (len == 0)
		return 0;
	dst = guest_mem_ptr(mem, gpa, len);
	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	guest_mem_note_write(mem, gpa, len);
	return 0;
}

uint64_t guest_mem_end(const struct guest_mem *mem)
{
	const struct guest_mem_region *last = &mem->regions[mem->nregions - 1];
	return last->gpa + last->size;
}
