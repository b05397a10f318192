/* QEMU's fw_cfg device, legacy I/O interface without DMA: a 16-bit
 * selector at port 0x510 picks an item, port 0x511 reads it a byte at a
 * time. Firmware and test guests find the CPU count and RAM size here. */
#ifndef WISP_DEVICES_FW_CFG_H
#define WISP_DEVICES_FW_CFG_H

#include <stddef.h>
#include <stdint.h>

struct platform;
struct fw_cfg;

/* Well-known selectors. */
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_ID        0x0001
#define FW_CFG_RAM_SIZE  0x0003
#define FW_CFG_NB_CPUS   0x0005
#define FW_CFG_MAX_CPUS  0x000f
#define FW_CFG_FILE_DIR  0x0019

/* Fills in the items above. Returns NULL after logging why. */
struct fw_cfg *fw_cfg_create(struct platform *p, unsigned ncpus, uint64_t ram_size);
void fw_cfg_destroy(struct fw_cfg *f);

/* Adds item key, or replaces it, with a copy of len bytes of data.
 * Returns 0, -EINVAL (key carries the write-channel bit 0x4000, or len
 * does not fit in 32 bits) or -ENOMEM. */
int fw_cfg_add_item(struct fw_cfg *f, uint16_t key, const void *data, size_t len);

#endif
