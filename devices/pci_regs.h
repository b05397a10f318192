/* The PCI configuration space layout (PCI Local Bus 3.0, chapter 6): the
 * mechanism #1 ports, the type-0 header's registers and the bits of them
 * wisp and its test guests use. One header, free of any code, so the
 * host's PCI devices and the guests' own drivers agree. */
#ifndef WISP_DEVICES_PCI_REGS_H
#define WISP_DEVICES_PCI_REGS_H

/* Configuration mechanism #1. */
#define PCI_CONFIG_ADDRESS     0xcf8
#define PCI_CONFIG_DATA        0xcfc
#define PCI_CONFIG_SPACE_SIZE  256u    /* a function's conventional space */

/* Type 0 header registers. */
#define PCI_REG_VENDOR_ID      0x00
#define PCI_REG_DEVICE_ID      0x02
#define PCI_REG_COMMAND        0x04
#define PCI_REG_STATUS         0x06
#define PCI_REG_REVISION_ID    0x08
#define PCI_REG_CLASS_PROG     0x09
#define PCI_REG_CLASS_DEVICE   0x0a
#define PCI_REG_CACHE_LINE     0x0c
#define PCI_REG_LATENCY        0x0d
#define PCI_REG_HEADER_TYPE    0x0e
#define PCI_REG_BAR0           0x10
#define PCI_REG_SUBSYS_VENDOR  0x2c
#define PCI_REG_SUBSYS_ID      0x2e
#define PCI_REG_CAP_PTR        0x34
#define PCI_REG_INTERRUPT_LINE 0x3c
#define PCI_REG_INTERRUPT_PIN  0x3d

#define PCI_BAR_COUNT          6u

#define PCI_COMMAND_IO            0x0001
#define PCI_COMMAND_MEMORY        0x0002
#define PCI_COMMAND_MASTER        0x0004
#define PCI_COMMAND_PARITY        0x0040
#define PCI_COMMAND_SERR          0x0100
#define PCI_COMMAND_INTX_DISABLE  0x0400
#define PCI_STATUS_INTERRUPT      0x0008
#define PCI_STATUS_CAP_LIST       0x0010
#define PCI_HEADER_MULTIFUNCTION  0x80

#define PCI_CAP_ID_VENDOR         0x09
#define PCI_CAP_ID_MSIX           0x11

#endif
