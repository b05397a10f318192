#include "loader/pvh.h"

#include <string.h>

#include "loader/acpi.h"
#include "loader/bytes.h"
#include "loader/e820.h"
#include "loader/loader.h"
#include "loader/placement.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"

#define MEMMAP_ADDR  BOOT_EXTRA_ADDR
#define MODLIST_ADDR (BOOT_EXTRA_ADDR + E820_MAX_ENTRIES * HVM_MEMMAP_ENTRY_SIZE)

_Static_assert(HVM_START_INFO_SIZE <= BOOT_INFO_SIZE, "start info fits its page");
_Static_assert(E820_MAX_ENTRIES * HVM_MEMMAP_ENTRY_SIZE + HVM_MODLIST_ENTRY_SIZE <=
	       BOOT_EXTRA_SIZE, "memmap and module list fit the extra area");

int pvh_write_start_info(struct guest_mem *mem, const struct loader_input *in,
			 uint64_t initrd_addr)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	uint8_t memmap[E820_MAX_ENTRIES * HVM_MEMMAP_ENTRY_SIZE];
	uint8_t mod[HVM_MODLIST_ENTRY_SIZE];
	uint8_t si[BOOT_INFO_SIZE];  /* the whole page: nothing stale after it */
	size_t n = e820_build(mem, map, E820_MAX_ENTRIES);

	if (n > E820_MAX_ENTRIES)
		n = E820_MAX_ENTRIES;
	/* Linux copies at most its COMMAND_LINE_SIZE itself; the buffer is
	 * the only limit here. */
	if (place_cmdline(mem, in, NULL, BOOT_CMDLINE_MAX - 1) != 0)
		return -1;

	memset(memmap, 0, sizeof(memmap));
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = memmap + i * HVM_MEMMAP_ENTRY_SIZE;

		put_le64(e, map[i].addr);
		put_le64(e + 8, map[i].size);
		put_le32(e + 16, map[i].type);
	}

	memset(si, 0, sizeof(si));
	put_le32(si + HVM_SI_MAGIC, HVM_START_MAGIC);
	put_le32(si + HVM_SI_VERSION, 1);  /* 1: the memmap fields are valid */
	put_le64(si + HVM_SI_CMDLINE_PADDR, BOOT_CMDLINE_ADDR);
	put_le64(si + HVM_SI_RSDP_PADDR, ACPI_RSDP_ADDR);
	put_le64(si + HVM_SI_MEMMAP_PADDR, MEMMAP_ADDR);
	put_le32(si + HVM_SI_MEMMAP_ENTRIES, (uint32_t)n);
	if (loader_has_initrd(in)) {
		memset(mod, 0, sizeof(mod));
		put_le64(mod, initrd_addr);
		put_le64(mod + 8, in->initrd_size);
		put_le32(si + HVM_SI_NR_MODULES, 1);
		put_le64(si + HVM_SI_MODLIST_PADDR, MODLIST_ADDR);
		if (guest_mem_write(mem, MODLIST_ADDR, mod, sizeof(mod)) != 0)
			goto no_room;
	}
	if (guest_mem_write(mem, MEMMAP_ADDR, memmap, n * HVM_MEMMAP_ENTRY_SIZE) != 0 ||
	    guest_mem_write(mem, BOOT_INFO_ADDR, si, sizeof(si)) != 0)
		goto no_room;
	return 0;

no_room:
	log_error("guest RAM cannot hold the PVH start info");
	return -1;
}
