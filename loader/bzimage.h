/* Linux bzImage through the 64-bit boot protocol (Documentation/arch/x86/
 * boot.rst): no real-mode setup code runs; the protected-mode payload is
 * loaded and entered at its startup_64 with a zero page built here.
 *
 * When the host can decompress the payload (kernel_payload.h) and it is an
 * x86-64 vmlinux whose segments fit in RAM inside [pref_address,
 * pref_address + init_size), the kernel's decompressor is skipped: the
 * vmlinux segments go to their physical addresses and RIP is the kernel
 * proper's startup_64, with the same zero page. Otherwise the guest
 * decompresses, as a boot loader would leave it to.
 *
 * Entry state: long mode, identity map of 0..4 GiB, CS=0x10 DS..SS=0x18,
 * RIP = load address + 0x200 (or vmlinux's entry), RSI = BOOT_INFO_ADDR
 * (boot_params), RSP = BOOT_STACK_TOP, every other GPR 0, interrupts off. */
#ifndef WISP_LOADER_BZIMAGE_H
#define WISP_LOADER_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;
struct loader_input;
struct loader_result;

/* Setup header offsets (in the file and in boot_params alike). */
#define BZ_SETUP_SECTS      0x1F1
#define BZ_BOOT_FLAG        0x1FE
#define BZ_JUMP             0x200
#define BZ_HEADER           0x202
#define BZ_VERSION          0x206
#define BZ_TYPE_OF_LOADER   0x210
#define BZ_LOADFLAGS        0x211
#define BZ_RAMDISK_IMAGE    0x218
#define BZ_RAMDISK_SIZE     0x21C
#define BZ_HEAP_END_PTR     0x224
#define BZ_CMD_LINE_PTR     0x228
#define BZ_INITRD_ADDR_MAX  0x22C
#define BZ_KERNEL_ALIGNMENT 0x230
#define BZ_RELOCATABLE      0x234
#define BZ_XLOADFLAGS       0x236
#define BZ_CMDLINE_SIZE     0x238
#define BZ_PAYLOAD_OFFSET   0x248
#define BZ_PAYLOAD_LENGTH   0x24C
#define BZ_SETUP_DATA       0x250
#define BZ_PREF_ADDRESS     0x258
#define BZ_INIT_SIZE        0x260
/* boot_params fields outside the setup header. */
#define BP_EXT_RAMDISK_IMAGE 0x0C0
#define BP_EXT_RAMDISK_SIZE  0x0C4
#define BP_E820_ENTRIES      0x1E8
#define BP_E820_TABLE        0x2D0
#define BP_E820_MAX          128
#define BP_HDR_MAX_END       0x290  /* the setup header may not reach past this */

#define BZ_LOADED_HIGH      0x01
#define BZ_KASLR_FLAG       0x02  /* kernel-internal: the decompressor randomised */
#define BZ_CAN_USE_HEAP     0x80
#define BZ_XLF_KERNEL_64    0x0001
#define BZ_MIN_VERSION      0x020C  /* 2.12: xloadflags, 64-bit entry */
#define BZ_PAYLOAD_VERSION  0x0208  /* 2.08: payload_offset, payload_length */
/* setup_data entries: next (guest-physical, 0 ends), type, length, data. */
#define SETUP_DATA_HEADER   16
#define SETUP_DTB           2

/* "HdrS" at 0x202: the file claims to be a Linux kernel. */
bool bzimage_detect(const uint8_t *image, size_t size);

/* Loads and validates; returns 0 or -1 after one message. */
int bzimage_load(struct guest_mem *mem, const struct loader_input *in,
		 struct loader_result *out);

#endif
