#include "loader/bzimage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loader/acpi.h"
#include "loader/bytes.h"
#include "loader/device_tree.h"
#include "loader/e820.h"
#include "loader/elf.h"
#include "loader/kernel_payload.h"
#include "loader/loader.h"
#include "loader/placement.h"
#include "loader/x86_boot.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"

/* startup_64 sits 0x200 bytes into the protected-mode payload. */
#define STARTUP_64_OFFSET 0x200
/* boot_params.acpi_rsdp_addr, honoured from boot protocol 2.14 on. */
#define BP_ACPI_RSDP_ADDR    0x070
#define BZ_ACPI_RSDP_VERSION 0x020E
/* No real-mode code runs, but the kernel reads heap_end_ptr when
 * CAN_USE_HEAP is set; this is the customary value for a setup area at
 * 0x90000 with the stack above it. */
#define HEAP_END          (0xFE00 - 0x200)

/* The device tree as the one entry of the setup_data chain, which
 * boot_params' setup_data field points to; the kernel keeps the memory
 * reserved while it reads it. */
static int place_device_tree(struct guest_mem *mem, const struct loader_input *in,
			     uint8_t *bp)
{
	uint8_t *entry = calloc(1, BOOT_SETUP_DATA_SIZE);
	int size, ret = -1;

	if (!entry) {
		log_error("out of memory");
		return -1;
	}
	size = device_tree_build(entry + SETUP_DATA_HEADER,
				 BOOT_SETUP_DATA_SIZE - SETUP_DATA_HEADER, in->ncpus,
				 in->virtio_mmio, in->n_virtio_mmio);
	if (size < 0)
		goto out;
	put_le64(entry, 0);
	put_le32(entry + 8, SETUP_DTB);
	put_le32(entry + 12, (uint32_t)size);
	if (guest_mem_write(mem, BOOT_SETUP_DATA_ADDR, entry,
			    SETUP_DATA_HEADER + (size_t)size) != 0) {
		log_error("guest RAM cannot hold the device tree at 0x%llx",
			  (unsigned long long)BOOT_SETUP_DATA_ADDR);
		goto out;
	}
	put_le64(bp + BZ_SETUP_DATA, BOOT_SETUP_DATA_ADDR);
	ret = 0;
out:
	free(entry);
	return ret;
}

bool bzimage_detect(const uint8_t *image, size_t size)
{
	return size >= BZ_HEADER + 4 && memcmp(image + BZ_HEADER, "HdrS", 4) == 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Where the payload goes: its preferred address when that works, else the
 * lowest suitably aligned address from 1 MiB if the kernel can move. The
 * whole [addr, addr + span) must be RAM below the 4 GiB identity map. */
static int choose_load_address(const struct guest_mem *mem, const char *name,
			       const uint8_t *img, uint64_t span, uint64_t *addr)
{
	uint64_t pref = get_le64(img + BZ_PREF_ADDRESS);
	uint32_t align = get_le32(img + BZ_KERNEL_ALIGNMENT);
	uint64_t a;

	if (pref >= HIGH_MEMORY_START && range_in(pref, span, PCI_HOLE_END) &&
	    guest_mem_is_ram(mem, pref, span)) {
		*addr = pref;
		return 0;
	}
	if (!img[BZ_RELOCATABLE]) {
		log_error("%s: kernel is not relocatable and needs 0x%llx bytes at 0x%llx, "
			  "beyond guest RAM (%llu MiB)", name, (unsigned long long)span,
			  (unsigned long long)pref, (unsigned long long)(mem->ram_size >> 20));
		return -1;
	}
	if (align == 0 || (align & (align - 1)) != 0) {
		log_error("%s: bzImage kernel_alignment 0x%x is not a power of two", name, align);
		return -1;
	}
	a = align_up(HIGH_MEMORY_START, align);
	if (!range_in(a, span, PCI_HOLE_END) || !guest_mem_is_ram(mem, a, span)) {
		log_error("%s: kernel needs 0x%llx bytes (init_size) from 0x%llx, more than "
			  "guest RAM (%llu MiB) has there", name, (unsigned long long)span,
			  (unsigned long long)a, (unsigned long long)(mem->ram_size >> 20));
		return -1;
	}
	*addr = a;
	return 0;
}

/* The kernel proper, decompressed on the host and checked to land where
 * the kernel's decompressor would have put it. */
struct host_kernel {
	struct kernel_payload payload;
	struct elf_image elf;
	uint64_t entry;  /* physical address of vmlinux's startup_64 */
};

/* What elf_parse would refuse, asked quietly: a payload that is not an
 * x86-64 executable goes back to the guest's decompressor without an
 * error message. */
static const char *vmlinux_problem(const uint8_t *p, size_t n)
{
	unsigned phentsize, phnum;

	if (n < 64 || !elf_detect(p, n))
		return "not an ELF file";
	/* ELFCLASS64, ELFDATA2LSB, EV_CURRENT */
	if (p[4] != 2 || p[5] != 1 || p[6] != 1)
		return "not a little-endian ELF64 file";
	/* ET_EXEC */
	if (get_le16(p + 16) != 2 || get_le16(p + 18) != ELF_EM_X86_64)
		return "not an x86-64 executable";
	phentsize = get_le16(p + 54);
	phnum = get_le16(p + 56);
	if (phnum == 0 || phnum == 0xFFFF || phentsize < 56 ||
	    !range_in(get_le64(p + 32), (uint64_t)phnum * phentsize, n))
		return "an ELF file with malformed program headers";
	return NULL;
}

/* The decompressor copies each PT_LOAD to output + (p_paddr -
 * LOAD_PHYSICAL_ADDR), and without KASLR output is pref_address: so each
 * goes to its p_paddr, inside the init_size bytes the kernel owns from
 * there. Checks everything elf_load_segments would, so it cannot fail
 * after this. */
static bool vmlinux_segments_fit(const struct guest_mem *mem, const struct elf_image *elf,
				 uint64_t area, uint64_t area_size, char *why, size_t why_size)
{
	struct elf_phdr ph;
	bool any = false;

	for (unsigned i = 0; i < elf->phnum; i++) {
		elf_get_phdr(elf, i, &ph);
		if (ph.type != ELF_PT_LOAD || ph.memsz == 0)
			continue;
		any = true;
		if (ph.filesz > ph.memsz || !range_in(ph.offset, ph.filesz, elf->size)) {
			snprintf(why, why_size, "vmlinux segment %u has bad sizes", i);
			return false;
		}
		if (ph.paddr < area || !range_in(ph.paddr - area, ph.memsz, area_size) ||
		    ph.paddr < HIGH_MEMORY_START || !range_in(ph.paddr, ph.memsz, PCI_HOLE_END) ||
		    !guest_mem_is_ram(mem, ph.paddr, ph.memsz)) {
			snprintf(why, why_size, "vmlinux segment %u at 0x%llx+0x%llx is not RAM "
				 "inside the kernel's area 0x%llx+0x%llx", i,
				 (unsigned long long)ph.paddr, (unsigned long long)ph.memsz,
				 (unsigned long long)area, (unsigned long long)area_size);
			return false;
		}
	}
	if (!any)
		snprintf(why, why_size, "vmlinux has no loadable segment");
	return any;
}

/* An x86-64 vmlinux's e_entry is phys_startup_64, a physical address; a
 * build with a virtual one is translated through its segment. Either way
 * it must lie in the file data of a segment. */
static bool vmlinux_entry(const struct elf_image *elf, uint64_t *entry)
{
	uint64_t e = elf->entry;
	struct elf_phdr ph;
	bool phys = false;

	for (unsigned i = 0; i < elf->phnum && !phys; i++) {
		elf_get_phdr(elf, i, &ph);
		phys = ph.type == ELF_PT_LOAD && e >= ph.paddr && e - ph.paddr < ph.filesz;
	}
	if (!phys && !elf_entry_paddr(elf, &e))
		return false;
	for (unsigned i = 0; i < elf->phnum; i++) {
		elf_get_phdr(elf, i, &ph);
		if (ph.type == ELF_PT_LOAD && e >= ph.paddr && e - ph.paddr < ph.filesz) {
			*entry = e;
			return true;
		}
	}
	return false;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Decompressing on the host skips the guest's decompressor, which is
 * slow on the software core (and not free on KVM). It also skips KASLR:
 * the decompressor is what picks a random address, so the kernel runs at
 * its link address, as a vmlinux booted by Firecracker does. True with
 * *hk ready; false, after one --verbose line, when the guest must
 * decompress. */
static bool host_kernel_prepare(const struct guest_mem *mem, const char *name,
				const uint8_t *img, size_t size, uint64_t area,
				uint64_t area_size, struct host_kernel *hk)
{
	char why[KERNEL_PAYLOAD_WHY_SIZE];
	struct timespec t0;
	const char *problem;

	memset(hk, 0, sizeof(*hk));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (kernel_payload_extract(img, size, &hk->payload, why, sizeof(why)) != 0)
		goto guest;
	problem = vmlinux_problem(hk->payload.data, hk->payload.size);
	if (problem) {
		snprintf(why, sizeof(why), "the %s payload is %s",
			 kernel_payload_format_name(hk->payload.format), problem);
		goto guest;
	}
	if (elf_parse(name, hk->payload.data, hk->payload.size, &hk->elf) != 0) {
		snprintf(why, sizeof(why), "the payload's ELF headers are malformed");
		goto guest;
	}
	if (!vmlinux_segments_fit(mem, &hk->elf, area, area_size, why, sizeof(why)))
		goto guest;
	if (!vmlinux_entry(&hk->elf, &hk->entry)) {
		snprintf(why, sizeof(why), "vmlinux entry 0x%llx is not in a loaded segment",
			 (unsigned long long)hk->elf.entry);
		goto guest;
	}
	log_debug("%s: %s payload decompressed on the host (%zu bytes in %.1f ms); entering "
		  "vmlinux at 0x%llx without KASLR", name,
		  kernel_payload_format_name(hk->payload.format), hk->payload.size,
		  ms_since(&t0), (unsigned long long)hk->entry);
	return true;
guest:
	kernel_payload_free(&hk->payload);
	log_debug("%s: the guest decompresses the kernel: %s", name, why);
	return false;
}

static void write_e820(const struct guest_mem *mem, uint8_t *bp)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	size_t n = e820_build(mem, map, E820_MAX_ENTRIES);

	if (n > E820_MAX_ENTRIES)
		n = E820_MAX_ENTRIES;
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = bp + BP_E820_TABLE + 20 * i;

		put_le64(e, map[i].addr);
		put_le64(e + 8, map[i].size);
		put_le32(e + 16, map[i].type);
	}
	bp[BP_E820_ENTRIES] = (uint8_t)n;
}

int bzimage_load(struct guest_mem *mem, const struct loader_input *in,
		 struct loader_result *out)
{
	const char *name = loader_kernel_name(in);
	const uint8_t *img = in->kernel;
	size_t size = in->kernel_size;
	uint8_t bp[BOOT_INFO_SIZE];
	unsigned version, setup_sects;
	size_t hdr_end, payload_off;
	uint64_t payload_size, span, load, initrd_addr = 0;
	uint32_t init_size;
	struct host_kernel hk;
	bool direct;
	int ret = -1;

	if (size < BZ_VERSION + 2) {
		log_error("%s: bzImage is truncated (%zu bytes)", name, size);
		return -1;
	}
	if (get_le16(img + BZ_BOOT_FLAG) != 0xAA55) {
		log_error("%s: bzImage has boot flag 0x%04x at 0x1FE, expected 0xAA55", name,
			  get_le16(img + BZ_BOOT_FLAG));
		return -1;
	}
	version = get_le16(img + BZ_VERSION);
	if (version < BZ_MIN_VERSION) {
		log_error("%s: bzImage boot protocol %u.%02u is too old for 64-bit entry "
			  "(need >= 2.12)", name, version >> 8, version & 0xFF);
		return -1;
	}
	/* The byte at 0x201 is the jump's displacement: the header ends
	 * where the jump lands. */
	hdr_end = BZ_HEADER + img[BZ_JUMP + 1];
	if (hdr_end < BZ_INIT_SIZE + 4) {
		log_error("%s: bzImage setup header ends at 0x%zx, before init_size", name,
			  hdr_end);
		return -1;
	}
	if (hdr_end > BP_HDR_MAX_END)
		hdr_end = BP_HDR_MAX_END;
	if (size < hdr_end) {
		log_error("%s: bzImage is truncated inside its setup header (%zu bytes)", name,
			  size);
		return -1;
	}
	if (!(get_le16(img + BZ_XLOADFLAGS) & BZ_XLF_KERNEL_64)) {
		log_error("%s: bzImage has no 64-bit entry point (XLF_KERNEL_64 not set)", name);
		return -1;
	}
	if (!(img[BZ_LOADFLAGS] & BZ_LOADED_HIGH)) {
		log_error("%s: zImage kernels (not loaded high) are not supported", name);
		return -1;
	}

	setup_sects = img[BZ_SETUP_SECTS] ? img[BZ_SETUP_SECTS] : 4;
	payload_off = ((size_t)setup_sects + 1) * 512;
	if (payload_off >= size) {
		log_error("%s: bzImage protected-mode code at 0x%zx (setup_sects %u) lies past "
			  "the end of the file (%zu bytes)", name, payload_off, setup_sects, size);
		return -1;
	}
	payload_size = size - payload_off;
	if (payload_size <= STARTUP_64_OFFSET) {
		log_error("%s: bzImage protected-mode code is only %llu bytes, too short to "
			  "hold startup_64", name, (unsigned long long)payload_size);
		return -1;
	}
	/* The kernel decompresses itself in place: it owns init_size bytes
	 * from where it is loaded. */
	init_size = get_le32(img + BZ_INIT_SIZE);
	span = init_size > payload_size ? init_size : payload_size;
	/* pref_address is LOAD_PHYSICAL_ADDR, where the decompressor puts
	 * the kernel when it does not randomise. */
	direct = host_kernel_prepare(mem, name, img, size, get_le64(img + BZ_PREF_ADDRESS),
				     init_size, &hk);
	if (direct)
		load = get_le64(img + BZ_PREF_ADDRESS);
	else if (choose_load_address(mem, name, img, span, &load) != 0)
		return -1;

	memset(bp, 0, sizeof(bp));
	memcpy(bp + BZ_SETUP_SECTS, img + BZ_SETUP_SECTS, hdr_end - BZ_SETUP_SECTS);
	bp[BZ_TYPE_OF_LOADER] = 0xFF;  /* undefined boot loader */
	bp[BZ_LOADFLAGS] |= BZ_LOADED_HIGH | BZ_CAN_USE_HEAP;
	/* What the decompressor would hand on: it clears KASLR_FLAG and sets
	 * it again only when it randomised, which here nothing did. The
	 * kernel proper needs nothing else from it but boot_params in RSI. */
	if (direct)
		bp[BZ_LOADFLAGS] &= (uint8_t)~BZ_KASLR_FLAG;
	put_le16(bp + BZ_HEAP_END_PTR, HEAP_END);
	if (version >= BZ_ACPI_RSDP_VERSION)
		put_le64(bp + BP_ACPI_RSDP_ADDR, ACPI_RSDP_ADDR);

	if (place_cmdline(mem, in, NULL, get_le32(img + BZ_CMDLINE_SIZE)) != 0)
		goto out;
	put_le32(bp + BZ_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE_ADDR);

	if (loader_has_initrd(in)) {
		/* initrd_addr_max is the last byte the initrd may occupy. */
		uint64_t limit = (uint64_t)get_le32(img + BZ_INITRD_ADDR_MAX) + 1;

		if (place_initrd_high(mem, in, limit, load, load + span, &initrd_addr) != 0)
			goto out;
		put_le32(bp + BZ_RAMDISK_IMAGE, (uint32_t)initrd_addr);
		put_le32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_addr >> 32));
		put_le32(bp + BZ_RAMDISK_SIZE, (uint32_t)in->initrd_size);
		put_le32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)in->initrd_size >> 32));
	}
	write_e820(mem, bp);
	if (in->virtio_mmio_announce == VIRTIO_MMIO_IN_DT && place_device_tree(mem, in, bp) != 0)
		goto out;

	if (direct) {
		if (elf_load_segments(mem, &hk.elf, &out->kernel_start, &out->kernel_end) != 0)
			goto out;
	} else if (guest_mem_write(mem, load, img + payload_off, payload_size) != 0) {
		log_error("%s: guest RAM cannot hold the kernel", name);
		goto out;
	}
	if (guest_mem_write(mem, BOOT_INFO_ADDR, bp, sizeof(bp)) != 0 ||
	    x86_boot_setup(mem, X86_BOOT_LONG_MODE, &out->bsp) != 0) {
		log_error("%s: guest RAM cannot hold the kernel", name);
		goto out;
	}
	out->format = BOOT_FORMAT_BZIMAGE;
	out->bsp.rip = direct ? hk.entry : load + STARTUP_64_OFFSET;
	out->bsp.gpr[CPU_RSI] = BOOT_INFO_ADDR;
	out->bsp.gpr[CPU_RSP] = BOOT_STACK_TOP;
	if (!direct) {
		out->kernel_start = load;
		out->kernel_end = load + payload_size;
	}
	if (loader_has_initrd(in)) {
		out->initrd_start = initrd_addr;
		out->initrd_size = in->initrd_size;
	}
	ret = 0;
out:
	if (direct)
		kernel_payload_free(&hk.payload);
	return ret;
}
