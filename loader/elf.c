#include "loader/elf.h"

#include <string.h>

#include "loader/bytes.h"
#include "loader/loader.h"
#include "loader/placement.h"
#include "loader/pvh.h"
#include "loader/x86_boot.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"

#define EI_CLASS      4
#define EI_DATA       5
#define EI_VERSION    6
#define ELFCLASS32    1
#define ELFCLASS64    2
#define ELFDATA2LSB   1
#define ET_EXEC       2
#define PN_XNUM       0xFFFF
#define EHDR32_SIZE   52
#define EHDR64_SIZE   64
#define PHDR32_SIZE   32
#define PHDR64_SIZE   56

/* 32-bit entry paths run with paging off, so everything must sit below
 * 4 GiB; the long-mode path's identity map covers the same range. */
#define SEGMENT_LIMIT PCI_HOLE_END

bool elf_detect(const uint8_t *image, size_t size)
{
	return size >= 4 && memcmp(image, "\x7f" "ELF", 4) == 0;
}

int elf_parse(const char *name, const uint8_t *image, size_t size, struct elf_image *elf)
{
	unsigned type, machine, want_machine, min_phent;

	memset(elf, 0, sizeof(*elf));
	if (size < EHDR32_SIZE || !elf_detect(image, size)) {
		log_error("%s: truncated ELF header (%zu bytes)", name, size);
		return -1;
	}
	if (image[EI_CLASS] != ELFCLASS32 && image[EI_CLASS] != ELFCLASS64) {
		log_error("%s: unknown ELF class %u", name, image[EI_CLASS]);
		return -1;
	}
	if (image[EI_DATA] != ELFDATA2LSB || image[EI_VERSION] != 1) {
		log_error("%s: ELF image is not a little-endian version 1 ELF file", name);
		return -1;
	}
	elf->name = name;
	elf->data = image;
	elf->size = size;
	elf->is64 = image[EI_CLASS] == ELFCLASS64;
	if (elf->is64 && size < EHDR64_SIZE) {
		log_error("%s: truncated ELF header (%zu bytes)", name, size);
		return -1;
	}
	type = get_le16(image + 16);
	machine = get_le16(image + 18);
	if (type != ET_EXEC) {
		log_error("%s: ELF type %u is not an executable (ET_EXEC)", name, type);
		return -1;
	}
	want_machine = elf->is64 ? ELF_EM_X86_64 : ELF_EM_386;
	if (machine != want_machine) {
		log_error("%s: ELF%s machine %u is not %s", name, elf->is64 ? "64" : "32",
			  machine, elf->is64 ? "x86-64" : "i386");
		return -1;
	}
	if (elf->is64) {
		elf->entry = get_le64(image + 24);
		elf->phoff = get_le64(image + 32);
		elf->phentsize = get_le16(image + 54);
		elf->phnum = get_le16(image + 56);
		min_phent = PHDR64_SIZE;
	} else {
		elf->entry = get_le32(image + 24);
		elf->phoff = get_le32(image + 28);
		elf->phentsize = get_le16(image + 42);
		elf->phnum = get_le16(image + 44);
		min_phent = PHDR32_SIZE;
	}
	if (elf->phnum == 0 || elf->phnum == PN_XNUM) {
		log_error("%s: ELF file has %s program headers", name,
			  elf->phnum ? "too many" : "no");
		return -1;
	}
	if (elf->phentsize < min_phent) {
		log_error("%s: ELF program header size %u is smaller than %u", name,
			  elf->phentsize, min_phent);
		return -1;
	}
	if (!range_in(elf->phoff, (uint64_t)elf->phnum * elf->phentsize, size)) {
		log_error("%s: ELF program headers at 0x%llx lie past the end of the file "
			  "(%zu bytes)", name, (unsigned long long)elf->phoff, size);
		return -1;
	}
	return 0;
}

void elf_get_phdr(const struct elf_image *elf, unsigned i, struct elf_phdr *ph)
{
	const uint8_t *p = elf->data + elf->phoff + (uint64_t)i * elf->phentsize;

	if (elf->is64) {
		ph->type = get_le32(p);
		ph->offset = get_le64(p + 8);
		ph->vaddr = get_le64(p + 16);
		ph->paddr = get_le64(p + 24);
		ph->filesz = get_le64(p + 32);
		ph->memsz = get_le64(p + 40);
		ph->align = get_le64(p + 48);
	} else {
		ph->type = get_le32(p);
		ph->offset = get_le32(p + 4);
		ph->vaddr = get_le32(p + 8);
		ph->paddr = get_le32(p + 12);
		ph->filesz = get_le32(p + 16);
		ph->memsz = get_le32(p + 20);
		ph->align = get_le32(p + 28);
	}
}

static int check_segment(const struct guest_mem *mem, const struct elf_image *elf, unsigned i,
			 const struct elf_phdr *ph)
{
	if (ph->filesz > ph->memsz) {
		log_error("%s: ELF segment %u has file size 0x%llx above its memory size 0x%llx",
			  elf->name, i, (unsigned long long)ph->filesz,
			  (unsigned long long)ph->memsz);
		return -1;
	}
	if (!range_in(ph->offset, ph->filesz, elf->size)) {
		log_error("%s: ELF segment %u data at 0x%llx+0x%llx lies past the end of the "
			  "file (%zu bytes)", elf->name, i, (unsigned long long)ph->offset,
			  (unsigned long long)ph->filesz, elf->size);
		return -1;
	}
	/* Below 1 MiB are the boot structures, the EBDA and the BIOS area. */
	if (ph->paddr < HIGH_MEMORY_START) {
		log_error("%s: ELF segment %u at 0x%llx is below 1 MiB, where the boot "
			  "structures live", elf->name, i, (unsigned long long)ph->paddr);
		return -1;
	}
	if (!range_in(ph->paddr, ph->memsz, SEGMENT_LIMIT) ||
	    !guest_mem_is_ram(mem, ph->paddr, ph->memsz)) {
		log_error("%s: ELF segment %u at 0x%llx+0x%llx is outside guest RAM below 4 GiB "
			  "(%llu MiB of RAM)", elf->name, i, (unsigned long long)ph->paddr,
			  (unsigned long long)ph->memsz,
			  (unsigned long long)(mem->ram_size >> 20));
		return -1;
	}
	return 0;
}

int elf_load_segments(struct guest_mem *mem, const struct elf_image *elf, uint64_t *start,
		      uint64_t *end)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	struct elf_phdr ph;

	/* Check them all before writing any, so a bad image leaves RAM as
	 * it was. */
	for (unsigned i = 0; i < elf->phnum; i++) {
		elf_get_phdr(elf, i, &ph);
		if (ph.type == ELF_PT_LOAD && ph.memsz && check_segment(mem, elf, i, &ph) != 0)
			return -1;
	}
	for (unsigned i = 0; i < elf->phnum; i++) {
		uint8_t *dst;

		elf_get_phdr(elf, i, &ph);
		if (ph.type != ELF_PT_LOAD || ph.memsz == 0)
			continue;
		dst = guest_mem_ptr(mem, ph.paddr, ph.memsz);
		if (!dst)
			return -1;  /* checked above */
		memcpy(dst, elf->data + ph.offset, ph.filesz);
		memset(dst + ph.filesz, 0, ph.memsz - ph.filesz);
		if (ph.paddr < lo)
			lo = ph.paddr;
		if (ph.paddr + ph.memsz > hi)
			hi = ph.paddr + ph.memsz;
	}
	if (hi == 0) {
		log_error("%s: ELF file has no loadable segment", elf->name);
		return -1;
	}
	*start = lo;
	*end = hi;
	return 0;
}

bool elf_entry_paddr(const struct elf_image *elf, uint64_t *paddr)
{
	struct elf_phdr ph;

	for (unsigned i = 0; i < elf->phnum; i++) {
		elf_get_phdr(elf, i, &ph);
		if (ph.type == ELF_PT_LOAD && elf->entry >= ph.vaddr &&
		    elf->entry - ph.vaddr < ph.memsz) {
			*paddr = ph.paddr + (elf->entry - ph.vaddr);
			return true;
		}
	}
	return false;
}

/* Notes are {namesz, descsz, type, name, desc}, name and desc padded to
 * the segment's alignment (4, or 8 for 8-aligned note segments). A walk
 * that runs off the segment stops there: the notes we want come from the
 * kernel's own assembler macros and are well formed. */
static int scan_notes(const struct elf_image *elf, const struct elf_phdr *ph, uint64_t *entry)
{
	const uint8_t *seg = elf->data + ph->offset;
	uint64_t a = ph->align == 8 ? 8 : 4;
	uint64_t pos = 0;

	while (pos + 12 <= ph->filesz) {
		uint64_t namesz = get_le32(seg + pos), descsz = get_le32(seg + pos + 4);
		uint32_t type = get_le32(seg + pos + 8);
		uint64_t name = pos + 12;
		uint64_t desc = name + ((namesz + a - 1) & ~(a - 1));
		uint64_t next = desc + ((descsz + a - 1) & ~(a - 1));

		if (desc + descsz > ph->filesz || name + namesz > ph->filesz)
			break;
		if (namesz == 4 && memcmp(seg + name, "Xen", 4) == 0 &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY) {
			uint64_t v;

			if (descsz == 4) {
				v = get_le32(seg + desc);
			} else if (descsz == 8) {
				v = get_le64(seg + desc);
			} else {
				log_error("%s: Xen PHYS32_ENTRY note has a %llu-byte value, "
					  "expected 4 or 8", elf->name, (unsigned long long)descsz);
				return -1;
			}
			if (v >= PCI_HOLE_END) {
				log_error("%s: PVH entry point 0x%llx is not a 32-bit address",
					  elf->name, (unsigned long long)v);
				return -1;
			}
			*entry = v;
			return 1;
		}
		pos = next;
	}
	return 0;
}

int elf_find_pvh_entry(const struct elf_image *elf, uint64_t *entry)
{
	struct elf_phdr ph;

	for (unsigned i = 0; i < elf->phnum; i++) {
		int r;

		elf_get_phdr(elf, i, &ph);
		if (ph.type != ELF_PT_NOTE)
			continue;
		if (!range_in(ph.offset, ph.filesz, elf->size)) {
			log_error("%s: ELF note segment %u lies past the end of the file "
				  "(%zu bytes)", elf->name, i, elf->size);
			return -1;
		}
		r = scan_notes(elf, &ph, entry);
		if (r != 0)
			return r;
	}
	return 0;
}

static bool has_loadable(const struct elf_image *elf)
{
	struct elf_phdr ph;

	for (unsigned i = 0; i < elf->phnum; i++) {
		elf_get_phdr(elf, i, &ph);
		if (ph.type == ELF_PT_LOAD && ph.memsz)
			return true;
	}
	return false;
}

/* The entry must land in memory the image itself filled. */
static bool paddr_loaded(const struct elf_image *elf, uint64_t addr)
{
	struct elf_phdr ph;

	for (unsigned i = 0; i < elf->phnum; i++) {
		elf_get_phdr(elf, i, &ph);
		if (ph.type == ELF_PT_LOAD && addr >= ph.paddr && addr - ph.paddr < ph.memsz)
			return true;
	}
	return false;
}

static int load_pvh(struct guest_mem *mem, const struct loader_input *in, uint64_t entry,
		    uint64_t lo, uint64_t hi, struct loader_result *out)
{
	uint64_t initrd_addr = 0;

	if (loader_has_initrd(in) &&
	    place_initrd_high(mem, in, PCI_HOLE_START, lo, hi, &initrd_addr) != 0)
		return -1;
	if (pvh_write_start_info(mem, in, initrd_addr) != 0 ||
	    x86_boot_setup(mem, X86_BOOT_PROTECTED_MODE, &out->bsp) != 0)
		return -1;
	out->format = BOOT_FORMAT_PVH;
	out->bsp.rip = entry;
	out->bsp.gpr[CPU_RBX] = BOOT_INFO_ADDR;
	out->bsp.gpr[CPU_RSP] = BOOT_STACK_TOP;
	if (loader_has_initrd(in)) {
		out->initrd_start = initrd_addr;
		out->initrd_size = in->initrd_size;
	}
	return 0;
}

static int load_elf64(struct guest_mem *mem, const struct loader_input *in,
		      const struct elf_image *elf, uint64_t entry, struct loader_result *out)
{
	if (in->cmdline && in->cmdline[0])
		log_warn("%s: an ELF64 kernel without a PVH note gets no command line; "
			 "ignoring it", elf->name);
	if (x86_boot_setup(mem, X86_BOOT_LONG_MODE, &out->bsp) != 0)
		return -1;
	out->format = BOOT_FORMAT_ELF64;
	out->bsp.rip = entry;
	out->bsp.gpr[CPU_RSP] = BOOT_STACK_TOP;
	return 0;
}

int elf_load(struct guest_mem *mem, const struct loader_input *in, struct loader_result *out)
{
	struct elf_image elf;
	uint64_t entry = 0, lo, hi;
	int pvh;

	if (elf_parse(loader_kernel_name(in), in->kernel, in->kernel_size, &elf) != 0)
		return -1;
	if (!has_loadable(&elf)) {
		log_error("%s: ELF file has no loadable segment", elf.name);
		return -1;
	}
	pvh = elf_find_pvh_entry(&elf, &entry);
	if (pvh < 0)
		return -1;
	if (!pvh) {
		if (!elf.is64) {
			log_error("%s: ELF32 image has neither a multiboot header nor a PVH "
				  "entry note", elf.name);
			return -1;
		}
		if (loader_has_initrd(in)) {
			log_error("%s: an ELF64 kernel without a PVH note has no way to receive "
				  "an initrd", elf.name);
			return -1;
		}
		if (!elf_entry_paddr(&elf, &entry)) {
			log_error("%s: ELF entry point 0x%llx is not inside a loadable segment",
				  elf.name, (unsigned long long)elf.entry);
			return -1;
		}
	}
	if (!paddr_loaded(&elf, entry)) {
		log_error("%s: %s entry point 0x%llx is not inside a loaded segment", elf.name,
			  pvh ? "PVH" : "ELF", (unsigned long long)entry);
		return -1;
	}
	if (elf_load_segments(mem, &elf, &lo, &hi) != 0)
		return -1;
	out->kernel_start = lo;
	out->kernel_end = hi;
	return pvh ? load_pvh(mem, in, entry, lo, hi, out)
		   : load_elf64(mem, in, &elf, entry, out);
}
