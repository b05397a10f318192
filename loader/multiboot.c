#include "loader/multiboot.h"

#include <string.h>

#include "loader/bytes.h"
#include "loader/e820.h"
#include "loader/elf.h"
#include "loader/loader.h"
#include "loader/placement.h"
#include "loader/x86_boot.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"

#define MMAP_ADDR    BOOT_EXTRA_ADDR
#define MODS_ADDR    (BOOT_EXTRA_ADDR + 0x200)
#define STRINGS_ADDR (BOOT_EXTRA_ADDR + 0x400)
#define LOADER_NAME  "wisp"

/* Bits 0..15 are requirements the loader must understand. */
#define REQUIRED_MASK 0x0000FFFFu
#define KNOWN_FLAGS   (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO | MULTIBOOT_VIDEO_MODE)

/* Offsets in the header. */
#define MBH_FLAGS         4
#define MBH_CHECKSUM      8
#define MBH_HEADER_ADDR   12
#define MBH_LOAD_ADDR     16
#define MBH_LOAD_END_ADDR 20
#define MBH_BSS_END_ADDR  24
#define MBH_ENTRY_ADDR    28
#define MBH_AOUT_SIZE     32

_Static_assert(E820_MAX_ENTRIES * MBI_MMAP_ENTRY_SIZE <= MODS_ADDR - MMAP_ADDR,
	       "mmap fits below the module list");

int multiboot_find(const uint8_t *image, size_t size, size_t *offset)
{
	size_t end = size < MULTIBOOT_SEARCH ? size : MULTIBOOT_SEARCH;
	int found = 0;

	for (size_t off = 0; off + 12 <= end; off += 4) {
		if (get_le32(image + off) != MULTIBOOT_HEADER_MAGIC)
			continue;
		if ((uint32_t)(MULTIBOOT_HEADER_MAGIC + get_le32(image + off + MBH_FLAGS) +
			       get_le32(image + off + MBH_CHECKSUM)) == 0) {
			*offset = off;
			return 1;
		}
		if (!found) {
			*offset = off;
			found = -1;
		}
	}
	return found;
}

/* The a.out kludge: the header says where its own bytes go (header_addr)
 * and so where the file's bytes from load_addr on go. */
static int load_aout(struct guest_mem *mem, const char *name, const uint8_t *img, size_t size,
		     size_t hoff, uint64_t *start, uint64_t *end, uint64_t *entry)
{
	const uint8_t *h = img + hoff;
	uint64_t header_addr, load_addr, load_end, bss_end, entry_addr, file_off, load_size;
	uint64_t mem_end;
	uint8_t *dst;

	if (!range_in(hoff, MBH_AOUT_SIZE, size)) {
		log_error("%s: multiboot header at 0x%zx is truncated", name, hoff);
		return -1;
	}
	header_addr = get_le32(h + MBH_HEADER_ADDR);
	load_addr = get_le32(h + MBH_LOAD_ADDR);
	load_end = get_le32(h + MBH_LOAD_END_ADDR);
	bss_end = get_le32(h + MBH_BSS_END_ADDR);
	entry_addr = get_le32(h + MBH_ENTRY_ADDR);

	if (load_addr > header_addr || header_addr - load_addr > hoff) {
		log_error("%s: multiboot load_addr 0x%llx and header_addr 0x%llx place the "
			  "image before the start of the file", name,
			  (unsigned long long)load_addr, (unsigned long long)header_addr);
		return -1;
	}
	file_off = hoff - (header_addr - load_addr);
	if (load_end == 0) {
		load_size = size - file_off;
	} else if (load_end < load_addr || !range_in(file_off, load_end - load_addr, size)) {
		log_error("%s: multiboot load_end_addr 0x%llx is not between load_addr and the "
			  "end of the file", name,
			  (unsigned long long)load_end);
		return -1;
	} else {
		load_size = load_end - load_addr;
	}
	mem_end = load_addr + load_size;
	if (bss_end) {
		if (bss_end < mem_end) {
			log_error("%s: multiboot bss_end_addr 0x%llx is below the end of the "
				  "loaded image 0x%llx", name, (unsigned long long)bss_end,
				  (unsigned long long)mem_end);
			return -1;
		}
		mem_end = bss_end;
	}
	if (load_addr < HIGH_MEMORY_START) {
		log_error("%s: multiboot load_addr 0x%llx is below 1 MiB, where the boot "
			  "structures live", name, (unsigned long long)load_addr);
		return -1;
	}
	if (mem_end == load_addr || !guest_mem_is_ram(mem, load_addr, mem_end - load_addr)) {
		log_error("%s: multiboot image at [0x%llx, 0x%llx) is empty or outside guest "
			  "RAM (%llu MiB)", name, (unsigned long long)load_addr,
			  (unsigned long long)mem_end, (unsigned long long)(mem->ram_size >> 20));
		return -1;
	}
	if (entry_addr < load_addr || entry_addr >= mem_end) {
		log_error("%s: multiboot entry_addr 0x%llx is outside the image [0x%llx, 0x%llx)",
			  name, (unsigned long long)entry_addr, (unsigned long long)load_addr,
			  (unsigned long long)mem_end);
		return -1;
	}
	dst = guest_mem_ptr(mem, load_addr, mem_end - load_addr);
	memcpy(dst, img + file_off, load_size);
	memset(dst + load_size, 0, mem_end - load_addr - load_size);
	*start = load_addr;
	*end = mem_end;
	*entry = entry_addr;
	return 0;
}

static int load_elf_image(struct guest_mem *mem, const char *name, const uint8_t *img,
			  size_t size, uint64_t *start, uint64_t *end, uint64_t *entry)
{
	struct elf_image elf;

	if (!elf_detect(img, size)) {
		log_error("%s: multiboot header without load addresses (flag 16) in an image "
			  "that is not ELF", name);
		return -1;
	}
	if (elf_parse(name, img, size, &elf) != 0)
		return -1;
	if (!elf_entry_paddr(&elf, entry)) {
		log_error("%s: ELF entry point 0x%llx is not inside a loadable segment", name,
			  (unsigned long long)elf.entry);
		return -1;
	}
	return elf_load_segments(mem, &elf, start, end);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* The mmap, module list and strings in BOOT_EXTRA, the info page. */
static int write_info(struct guest_mem *mem, const struct loader_input *in, uint64_t mod_start)
{
	const char *mod_name = loader_initrd_name(in);
	size_t mod_name_len = strlen(mod_name) + 1;
	struct e820_entry map[E820_MAX_ENTRIES];
	uint8_t mmap[E820_MAX_ENTRIES * MBI_MMAP_ENTRY_SIZE];
	uint8_t mod[MBI_MOD_SIZE];
	uint8_t mbi[BOOT_INFO_SIZE];
	size_t n = e820_build(mem, map, E820_MAX_ENTRIES);
	uint64_t low_end = mem->regions[0].size;
	uint64_t mod_str = STRINGS_ADDR + sizeof(LOADER_NAME);

	if (n > E820_MAX_ENTRIES)
		n = E820_MAX_ENTRIES;
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = mmap + i * MBI_MMAP_ENTRY_SIZE;

		/* size counts the bytes after itself */
		put_le32(e, MBI_MMAP_ENTRY_SIZE - 4);
		put_le64(e + 4, map[i].addr);
		put_le64(e + 12, map[i].size);
		put_le32(e + 20, map[i].type);
	}

	memset(mbi, 0, sizeof(mbi));
	put_le32(mbi + MBI_FLAGS, MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MODS |
				  MBI_FLAG_MMAP | MBI_FLAG_LOADER_NAME);
	put_le32(mbi + MBI_MEM_LOWER, (uint32_t)(EBDA_START >> 10));
	put_le32(mbi + MBI_MEM_UPPER, (uint32_t)((low_end - HIGH_MEMORY_START) >> 10));
	put_le32(mbi + MBI_CMDLINE, (uint32_t)BOOT_CMDLINE_ADDR);
	put_le32(mbi + MBI_MODS_ADDR, (uint32_t)MODS_ADDR);
	put_le32(mbi + MBI_MMAP_LENGTH, (uint32_t)(n * MBI_MMAP_ENTRY_SIZE));
	put_le32(mbi + MBI_MMAP_ADDR, (uint32_t)MMAP_ADDR);
	put_le32(mbi + MBI_LOADER_NAME, (uint32_t)STRINGS_ADDR);

	if (guest_mem_write(mem, MMAP_ADDR, mmap, n * MBI_MMAP_ENTRY_SIZE) != 0 ||
	    guest_mem_write(mem, STRINGS_ADDR, LOADER_NAME, sizeof(LOADER_NAME)) != 0)
		goto no_room;
	if (loader_has_initrd(in)) {
		if (!range_in(mod_str - BOOT_EXTRA_ADDR, mod_name_len, BOOT_EXTRA_SIZE)) {
			log_error("%s: initrd path is too long for the multiboot module string",
				  mod_name);
			return -1;
		}
		put_le32(mod, (uint32_t)mod_start);
		put_le32(mod + 4, (uint32_t)(mod_start + in->initrd_size));
		put_le32(mod + 8, (uint32_t)mod_str);
		put_le32(mod + 12, 0);
		put_le32(mbi + MBI_MODS_COUNT, 1);
		if (guest_mem_write(mem, MODS_ADDR, mod, sizeof(mod)) != 0 ||
		    guest_mem_write(mem, mod_str, mod_name, mod_name_len) != 0)
			goto no_room;
	}
	if (guest_mem_write(mem, BOOT_INFO_ADDR, mbi, sizeof(mbi)) != 0)
		goto no_room;
	return 0;

no_room:
	log_error("guest RAM cannot hold the multiboot information");
	return -1;
}

int multiboot_load(struct guest_mem *mem, const struct loader_input *in, size_t header_offset,
		   struct loader_result *out)
{
	const char *name = loader_kernel_name(in);
	uint32_t flags = get_le32(in->kernel + header_offset + MBH_FLAGS);
	uint32_t unknown = flags & REQUIRED_MASK & ~KNOWN_FLAGS;
	uint64_t start, end, entry, mod_start = 0;
	int r;

	if (unknown) {
		log_error("%s: multiboot header requires features wisp does not provide "
			  "(flags 0x%08x)", name, unknown);
		return -1;
	}
	/* Build the command line first: it is the likeliest input error and
	 * costs nothing to check. */
	if (place_cmdline(mem, in, name, BOOT_CMDLINE_MAX - 1) != 0)
		return -1;
	if (flags & MULTIBOOT_AOUT_KLUDGE)
		r = load_aout(mem, name, in->kernel, in->kernel_size, header_offset, &start,
			      &end, &entry);
	else
		r = load_elf_image(mem, name, in->kernel, in->kernel_size, &start, &end, &entry);
	if (r != 0)
		return -1;

	if (loader_has_initrd(in)) {
		/* Page aligned right after the kernel, where QEMU puts it:
		 * kernels tested under QEMU take the memory past mod_end as
		 * free. */
		mod_start = align_up(end, PAGE_SIZE_4K);
		if (mod_start > mem->regions[0].size ||
		    !range_in(mod_start, in->initrd_size, mem->regions[0].size)) {
			log_error("%s: initrd of %zu bytes does not fit in guest RAM after the "
				  "kernel (at 0x%llx)", loader_initrd_name(in), in->initrd_size,
				  (unsigned long long)mod_start);
			return -1;
		}
		if (guest_mem_write(mem, mod_start, in->initrd, in->initrd_size) != 0)
			return -1;
	}
	if (write_info(mem, in, mod_start) != 0 ||
	    x86_boot_setup(mem, X86_BOOT_PROTECTED_MODE, &out->bsp) != 0)
		return -1;

	out->format = BOOT_FORMAT_MULTIBOOT;
	out->bsp.rip = entry;
	out->bsp.gpr[CPU_RAX] = MULTIBOOT_BOOTLOADER_MAGIC;
	out->bsp.gpr[CPU_RBX] = BOOT_INFO_ADDR;
	out->bsp.gpr[CPU_RSP] = BOOT_STACK_TOP;
	out->kernel_start = start;
	out->kernel_end = end;
	if (loader_has_initrd(in)) {
		out->initrd_start = mod_start;
		out->initrd_size = in->initrd_size;
	}
	return 0;
}
