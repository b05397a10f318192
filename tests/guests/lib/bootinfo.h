/* The structures the boot paths hand over (public boot ABIs). */
#ifndef GUEST_BOOTINFO_H
#define GUEST_BOOTINFO_H

#include <stdint.h>

/* PVH: struct hvm_start_info (version 1) and friends. */
#define HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;      /* version >= 1 */
	uint32_t memmap_entries;    /* version >= 1 */
	uint32_t reserved;
};
struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};
struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;              /* 1 = RAM */
	uint32_t reserved;
};

/* multiboot v1 */
#define MB_BOOTLOADER_MAGIC 0x2BADB002u
#define MB_INFO_MEMORY   (1u << 0)
#define MB_INFO_CMDLINE  (1u << 2)
#define MB_INFO_MODS     (1u << 3)
#define MB_INFO_MMAP     (1u << 6)
#define MB_INFO_LOADER   (1u << 9)
struct mb_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
};
struct mb_module {
	uint32_t mod_start, mod_end;
	uint32_t string;
	uint32_t reserved;
};
struct mb_mmap_entry {
	uint32_t size;              /* of the rest of the entry */
	uint64_t addr;
	uint64_t len;
	uint32_t type;
} __attribute__((packed));

/* Linux boot_params (the zero page): the offsets used here. */
#define BP_E820_ENTRIES  0x1E8   /* u8 */
#define BP_HDR           0x1F1   /* setup header copy */
#define BP_HEADER_MAGIC  0x202   /* "HdrS" */
#define BP_VERSION       0x206   /* u16 */
#define BP_TYPE_OF_LOADER 0x210  /* u8 */
#define BP_RAMDISK_IMAGE 0x218   /* u32 */
#define BP_RAMDISK_SIZE  0x21C   /* u32 */
#define BP_CMD_LINE_PTR  0x228   /* u32 */
#define BP_EXT_RAMDISK_IMAGE 0x0C0
#define BP_EXT_RAMDISK_SIZE  0x0C4
#define BP_EXT_CMD_LINE_PTR  0x0C8
#define BP_E820_TABLE    0x2D0   /* struct e820_entry[128] */
#define BP_SETUP_DATA    0x250   /* u64: the first setup_data entry, 0: none */
/* The setup_data chain (boot protocol 2.09 and later): entries
 * { u64 next; u32 type; u32 len; u8 data[len]; }. */
#define SETUP_DATA_HEADER 16
#define SETUP_DATA_TYPE   8
#define SETUP_DATA_LEN    12
#define SETUP_DTB         2      /* data: a flattened device tree */
struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

#endif
