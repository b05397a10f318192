/* ELF executables: header and program-header validation, loading PT_LOAD
 * segments by physical address, and the two boot paths of an ELF kernel
 * without a multiboot header:
 *   - PVH, when a PT_NOTE holds the Xen note PHYS32_ENTRY (type 18):
 *     32-bit flat protected mode, paging off, EBX = hvm_start_info
 *     (see pvh.h), EIP = the note's entry;
 *   - ELF64 otherwise: long mode with the 0..4 GiB identity map,
 *     RIP = e_entry (translated to its physical address), RSI = 0,
 *     RSP = BOOT_STACK_TOP. Such a kernel has no way to receive an
 *     initrd, so one is refused.
 * Both need every segment in RAM between 1 MiB and 4 GiB. */
#ifndef WISP_LOADER_ELF_H
#define WISP_LOADER_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;
struct loader_input;
struct loader_result;

#define ELF_PT_LOAD 1
#define ELF_PT_NOTE 4
#define ELF_EM_386    3
#define ELF_EM_X86_64 62
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* A validated ELF file: class, entry, where the program headers are. */
struct elf_image {
	const char *name;     /* for messages */
	const uint8_t *data;
	size_t size;
	bool is64;
	uint64_t entry;       /* e_entry, a virtual address */
	uint64_t phoff;
	unsigned phentsize, phnum;
};

/* One program header, the same for both classes. */
struct elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* The ELF signature: "\x7fELF". */
bool elf_detect(const uint8_t *image, size_t size);

/* Checks identity (little-endian ET_EXEC; ELF64 x86-64 or ELF32 i386) and
 * that the program header table lies inside the file. 0 or -1 after one
 * message naming name. */
int elf_parse(const char *name, const uint8_t *image, size_t size, struct elf_image *elf);

/* Program header i < elf->phnum. */
void elf_get_phdr(const struct elf_image *elf, unsigned i, struct elf_phdr *ph);

/* Copies every PT_LOAD to its p_paddr and zeroes its bss, after checking
 * each: file data inside the file, filesz <= memsz, [paddr, paddr + memsz)
 * in RAM between 1 MiB and 4 GiB. Sets [*start, *end) to the span of the
 * segments. 0 or -1 after one message. */
int elf_load_segments(struct guest_mem *mem, const struct elf_image *elf, uint64_t *start,
		      uint64_t *end);

/* e_entry as a physical address, through the PT_LOAD whose virtual range
 * holds it; false when no segment's memory holds the entry. */
bool elf_entry_paddr(const struct elf_image *elf, uint64_t *paddr);

/* The PHYS32_ENTRY of a Xen note: 1 and *entry when present, 0 when
 * absent, -1 after a message when malformed. */
int elf_find_pvh_entry(const struct elf_image *elf, uint64_t *entry);

/* The PVH or ELF64 boot path for an ELF kernel. 0 or -1 after one
 * message. */
int elf_load(struct guest_mem *mem, const struct loader_input *in, struct loader_result *out);

#endif
