/* The flattened device tree for kernels built with CONFIG_OF and without
 * ACPI. Linux on x86 takes the tree as the whole description of the
 * interrupt hardware: once it names an IOAPIC, interrupts reach devices
 * only through the tree, so the tree names everything that interrupts,
 * and the CPUs, and the MP table is left out. It travels in boot_params'
 * setup_data chain (SETUP_DTB), which bzimage.c builds. */
#ifndef WISP_LOADER_DEVICE_TREE_H
#define WISP_LOADER_DEVICE_TREE_H

#include <stddef.h>

#include "loader/loader.h"

/* Writes the tree for ncpus CPUs (APIC IDs 0..ncpus-1), the serial port
 * and the virtio-mmio devices into buf (cap bytes). Returns its size, or
 * -1 after a message when it does not fit or a device is not on an IOAPIC
 * pin. */
int device_tree_build(void *buf, size_t cap, unsigned ncpus,
		      const struct loader_virtio_mmio *virtio, unsigned nvirtio);

#endif
