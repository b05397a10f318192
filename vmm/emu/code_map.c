#include "code_map.h"

#include <stdlib.h>
#include <sys/mman.h>

/* The arrays are as large as RAM's page count; only the parts for pages
 * that ever hold code are touched, so they are mapped lazily. */
static void *lazy_zeroed(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

struct emu_code_map *emu_code_map_new(uint64_t top)
{
	struct emu_code_map *map = calloc(1, sizeof(*map));

	if (!map)
		return NULL;
	map->pages = (top + 4095) >> 12;
	map->code = lazy_zeroed(map->pages ? map->pages : 1);
	map->gen = lazy_zeroed((map->pages ? map->pages : 1) * sizeof(uint32_t));
	if (!map->code || !map->gen) {
		emu_code_map_free(map);
		return NULL;
	}
	return map;
}

void emu_code_map_free(struct emu_code_map *map)
{
	if (!map)
		return;
	if (map->code)
		munmap(map->code, map->pages ? map->pages : 1);
	if (map->gen)
		munmap(map->gen, (map->pages ? map->pages : 1) * sizeof(uint32_t));
	free(map);
}

void emu_code_map_written(struct emu_code_map *map, uint64_t page)
{
	__atomic_store_n(&map->code[page], 0, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&map->gen[page], 1, __ATOMIC_SEQ_CST);
}
