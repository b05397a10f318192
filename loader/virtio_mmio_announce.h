/* Where a kernel learns of the virtio-mmio devices. Exactly one place
 * names them, or the kernel would probe each device twice. */
#ifndef WISP_LOADER_VIRTIO_MMIO_ANNOUNCE_H
#define WISP_LOADER_VIRTIO_MMIO_ANNOUNCE_H

enum virtio_mmio_announce {
	VIRTIO_MMIO_IN_DSDT,     /* LNRO0005 devices in the DSDT: ACPI kernels */
	VIRTIO_MMIO_ON_CMDLINE,  /* virtio_mmio.device=, which the caller puts on
	                          * the command line: kernels with
	                          * CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES */
	VIRTIO_MMIO_IN_DT,       /* a device tree in the bzImage's setup_data:
	                          * kernels with CONFIG_OF and without ACPI */
};

#endif
