/* The register offsets of a virtio-mmio device (virtio 1.x 4.2.2, the
 * version 2 layout), shared by the transport, its unit test and the test
 * guests' own driver: definitions only, so freestanding code can include
 * it. The device configuration space starts at 0x100. */
#ifndef WISP_VIRTIO_VIRTIO_MMIO_REGS_H
#define WISP_VIRTIO_VIRTIO_MMIO_REGS_H

#define VIRTIO_MMIO_REG_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_REG_VERSION             0x004
#define VIRTIO_MMIO_REG_DEVICE_ID           0x008
#define VIRTIO_MMIO_REG_VENDOR_ID           0x00c
#define VIRTIO_MMIO_REG_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_REG_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_REG_QUEUE_SEL           0x030
#define VIRTIO_MMIO_REG_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_REG_QUEUE_NUM           0x038
#define VIRTIO_MMIO_REG_QUEUE_READY         0x044
#define VIRTIO_MMIO_REG_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_REG_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_REG_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_REG_STATUS              0x070
#define VIRTIO_MMIO_REG_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_REG_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_REG_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_REG_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_REG_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_REG_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_REG_CONFIG_GENERATION   0x0fc

#endif
