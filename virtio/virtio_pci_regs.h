/* The virtio-pci layout (virtio 1.x 4.1.4): the vendor capabilities that
 * point into a BAR, and the fields of the common configuration structure.
 * Shared by the transport, its unit test and the test guests' own driver:
 * definitions only, so freestanding code can include it. */
#ifndef WISP_VIRTIO_VIRTIO_PCI_REGS_H
#define WISP_VIRTIO_VIRTIO_PCI_REGS_H

/* virtio_pci_cap.cfg_type. */
#define VIRTIO_PCI_CAP_COMMON_CFG  1
#define VIRTIO_PCI_CAP_NOTIFY_CFG  2
#define VIRTIO_PCI_CAP_ISR_CFG     3
#define VIRTIO_PCI_CAP_DEVICE_CFG  4
#define VIRTIO_PCI_CAP_PCI_CFG     5
#define VIRTIO_PCI_CAP_TYPES       6   /* one past the last: sizes a table by cfg_type */

/* Offsets inside a virtio_pci_cap (after the generic id and next bytes). */
#define VIRTIO_PCI_CAP_CFG_LEN     2
#define VIRTIO_PCI_CAP_CFG_TYPE    3
#define VIRTIO_PCI_CAP_BAR         4
#define VIRTIO_PCI_CAP_OFFSET      8
#define VIRTIO_PCI_CAP_LENGTH      12
#define VIRTIO_PCI_CAP_NOTIFY_MULTIPLIER 16  /* notify capability only */
#define VIRTIO_PCI_CAP_PCI_CFG_DATA      16  /* pci_cfg capability only */

/* Capability lengths: the plain one, and the two that carry a field more. */
#define VIRTIO_PCI_CAP_LEN         16
#define VIRTIO_PCI_NOTIFY_CAP_LEN  20
#define VIRTIO_PCI_CFG_CAP_LEN     20

/* The common configuration structure (4.1.4.3). */
#define VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT 0x00
#define VIRTIO_PCI_COMMON_DEVICE_FEATURE        0x04
#define VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT 0x08
#define VIRTIO_PCI_COMMON_DRIVER_FEATURE        0x0c
#define VIRTIO_PCI_COMMON_MSIX_CONFIG           0x10
#define VIRTIO_PCI_COMMON_NUM_QUEUES            0x12
#define VIRTIO_PCI_COMMON_DEVICE_STATUS         0x14
#define VIRTIO_PCI_COMMON_CONFIG_GENERATION     0x15
#define VIRTIO_PCI_COMMON_QUEUE_SELECT          0x16
#define VIRTIO_PCI_COMMON_QUEUE_SIZE            0x18
#define VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR     0x1a
#define VIRTIO_PCI_COMMON_QUEUE_ENABLE          0x1c
#define VIRTIO_PCI_COMMON_QUEUE_NOTIFY_OFF      0x1e
#define VIRTIO_PCI_COMMON_QUEUE_DESC            0x20
#define VIRTIO_PCI_COMMON_QUEUE_DRIVER          0x28
#define VIRTIO_PCI_COMMON_QUEUE_DEVICE          0x30
#define VIRTIO_PCI_COMMON_SIZE                  0x38  /* up to queue_device (virtio 1.0) */

/* msix_config / queue_msix_vector: no MSI-X vector. */
#define VIRTIO_PCI_NO_VECTOR       0xffff

#endif
