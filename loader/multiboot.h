/* Multiboot v1 (spec 0.6.96) kernels, with QEMU's conventions that test
 * kernels rely on.
 *
 * The header is a 4-byte aligned {magic 0x1BADB002, flags, checksum} in the
 * first 8 KiB. With flag 16 (the a.out kludge) its address fields say what
 * to load where; otherwise the image must be ELF (ELF32 i386, or ELF64
 * x86-64 with 32-bit entry as GRUB allows) and its PT_LOAD segments load at
 * their physical addresses. Flags 0 (page-aligned modules) and 1 (memory
 * info) are honoured, 2 (video mode) ignored, any other of bits 3..15
 * refused.
 *
 * Entry state: 32-bit flat protected mode, paging off, CS=0x10 DS..SS=0x18,
 * EAX = 0x2BADB002, EBX = BOOT_INFO_ADDR, ESP = BOOT_STACK_TOP, EIP = the
 * entry. The multiboot info at BOOT_INFO_ADDR has flags MEM | CMDLINE |
 * MODS | MMAP | LOADER_NAME:
 *   mem_lower 639 KiB, mem_upper = KiB of RAM from 1 MiB to the end of low RAM
 *   cmdline -> BOOT_CMDLINE_ADDR: "<kernel path>" or "<kernel path> <cmdline>"
 *   mods    -> BOOT_EXTRA_ADDR + 0x200: the initrd, if any, as the one
 *              module, page aligned right after the kernel, its string the
 *              initrd's path
 *   mmap    -> BOOT_EXTRA_ADDR: e820_build's entries {size 20, addr, len, type}
 *   boot_loader_name -> "wisp" in BOOT_EXTRA_ADDR + 0x400 */
#ifndef WISP_LOADER_MULTIBOOT_H
#define WISP_LOADER_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

struct guest_mem;
struct loader_input;
struct loader_result;

#define MULTIBOOT_HEADER_MAGIC     0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_SEARCH           8192

/* Header flags. */
#define MULTIBOOT_PAGE_ALIGN       0x00000001u
#define MULTIBOOT_MEMORY_INFO      0x00000002u
#define MULTIBOOT_VIDEO_MODE       0x00000004u
#define MULTIBOOT_AOUT_KLUDGE      0x00010000u

/* Info flags and field offsets. */
#define MBI_FLAG_MEM               0x00000001u
#define MBI_FLAG_CMDLINE           0x00000004u
#define MBI_FLAG_MODS              0x00000008u
#define MBI_FLAG_MMAP              0x00000040u
#define MBI_FLAG_LOADER_NAME       0x00000200u
#define MBI_FLAGS                  0
#define MBI_MEM_LOWER              4
#define MBI_MEM_UPPER              8
#define MBI_CMDLINE                16
#define MBI_MODS_COUNT             20
#define MBI_MODS_ADDR              24
#define MBI_MMAP_LENGTH            44
#define MBI_MMAP_ADDR              48
#define MBI_LOADER_NAME            64
#define MBI_MOD_SIZE               16  /* mod_start, mod_end, string, reserved */
#define MBI_MMAP_ENTRY_SIZE        24  /* size (20), base, length, type */

/* 1 and *offset when a header with a valid checksum is there; 0 when there
 * is no header; -1 (and *offset) when the only magic found has a bad
 * checksum, for the caller to say so if nothing else fits. */
int multiboot_find(const uint8_t *image, size_t size, size_t *offset);

/* Loads the image whose header multiboot_find found at header_offset.
 * 0 or -1 after one message. */
int multiboot_load(struct guest_mem *mem, const struct loader_input *in, size_t header_offset,
		   struct loader_result *out);

#endif
