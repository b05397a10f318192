/* The tree follows the x86 bindings Linux knows (arch/x86/kernel/
 * devicetree.c, written for the CE4100 boards):
 *   - /cpus/cpu@N with reg = the local APIC ID;
 *   - the local APIC by the compatible "intel,ce4100-lapic";
 *   - an IOAPIC node with the compatible "intel,ce4100-ioapic" becomes
 *     an interrupt domain whose two cells are the pin and an index into
 *     Linux's trigger table (0 edge falling, 1 level high, 2 level low,
 *     3 edge rising); it is the root's interrupt-parent;
 *   - an "isa" bus maps I/O space (first reg cell 1) one to one onto port
 *     numbers, and carries the serial port (an ns16550a);
 *   - root-level nodes with a compatible become platform devices, so the
 *     virtio-mmio nodes need no bus node around them. */
#include "loader/device_tree.h"

#include <libfdt.h>
#include <stdint.h>
#include <stdio.h>

#include "vmm/log.h"
#include "vmm/memory_map.h"

#define PHANDLE_IOAPIC 1
#define PHANDLE_LAPIC  2
#define DT_IRQ_LEVEL_HIGH 1
#define DT_IRQ_EDGE_RISING 3
#define APIC_WINDOW_SIZE  0x1000u
#define ISA_IO_SPACE      1u        /* first cell of an ISA address */
#define IO_SPACE_SIZE     0x10000u
#define UART_PORTS        8u
#define UART_CLOCK_HZ     1843200u  /* 115200 baud * 16 */

/* A node named NAME@ADDR with a two-cell address and size. */
static int begin_node_at(void *fdt, const char *name, uint64_t addr, uint64_t size)
{
	char node[48];
	uint64_t reg[2] = { cpu_to_fdt64(addr), cpu_to_fdt64(size) };
	int err;

	snprintf(node, sizeof(node), "%s@%llx", name, (unsigned long long)addr);
	err = fdt_begin_node(fdt, node);
	if (!err)
		err = fdt_property(fdt, "reg", reg, sizeof(reg));
	return err;
}

static int put_interrupts(void *fdt, uint32_t pin, uint32_t trigger)
{
	uint32_t cells[2] = { cpu_to_fdt32(pin), cpu_to_fdt32(trigger) };

	return fdt_property(fdt, "interrupts", cells, sizeof(cells));
}

static int put_cpus(void *fdt, unsigned ncpus)
{
	int err = fdt_begin_node(fdt, "cpus");

	if (!err)
		err = fdt_property_u32(fdt, "#address-cells", 1);
	if (!err)
		err = fdt_property_u32(fdt, "#size-cells", 0);
	for (unsigned i = 0; !err && i < ncpus; i++) {
		char node[16];

		snprintf(node, sizeof(node), "cpu@%x", i);
		err = fdt_begin_node(fdt, node);
		if (!err)
			err = fdt_property_string(fdt, "device_type", "cpu");
		if (!err)
			err = fdt_property_u32(fdt, "reg", i);
		if (!err)
			err = fdt_end_node(fdt);
	}
	if (!err)
		err = fdt_end_node(fdt);
	return err;
}

static int put_interrupt_controllers(void *fdt)
{
	int err;

	err = begin_node_at(fdt, "interrupt-controller", IOAPIC_BASE, APIC_WINDOW_SIZE);
	if (!err)
		err = fdt_property_string(fdt, "compatible", "intel,ce4100-ioapic");
	if (!err)
		err = fdt_property(fdt, "interrupt-controller", NULL, 0);
	if (!err)
		err = fdt_property_u32(fdt, "#interrupt-cells", 2);
	if (!err)
		err = fdt_property_u32(fdt, "phandle", PHANDLE_IOAPIC);
	if (!err)
		err = fdt_end_node(fdt);

	if (!err)
		err = begin_node_at(fdt, "interrupt-controller", LAPIC_BASE, APIC_WINDOW_SIZE);
	if (!err)
		err = fdt_property_string(fdt, "compatible", "intel,ce4100-lapic");
	if (!err)
		err = fdt_property_u32(fdt, "phandle", PHANDLE_LAPIC);
	if (!err)
		err = fdt_end_node(fdt);
	return err;
}

static int put_isa_bus(void *fdt)
{
	/* child (space, offset) -> parent (two-cell address), size */
	uint32_t ranges[5] = { cpu_to_fdt32(ISA_IO_SPACE), 0, 0, 0, cpu_to_fdt32(IO_SPACE_SIZE) };
	uint32_t uart_reg[3] = { cpu_to_fdt32(ISA_IO_SPACE), cpu_to_fdt32(COM1_IO_BASE),
				 cpu_to_fdt32(UART_PORTS) };
	char node[16];
	int err;

	err = fdt_begin_node(fdt, "isa");
	if (!err)
		err = fdt_property_string(fdt, "compatible", "isa");
	if (!err)
		err = fdt_property_u32(fdt, "#address-cells", 2);
	if (!err)
		err = fdt_property_u32(fdt, "#size-cells", 1);
	if (!err)
		err = fdt_property(fdt, "ranges", ranges, sizeof(ranges));

	snprintf(node, sizeof(node), "serial@i%x", COM1_IO_BASE);
	if (!err)
		err = fdt_begin_node(fdt, node);
	if (!err)
		err = fdt_property_string(fdt, "compatible", "ns16550a");
	if (!err)
		err = fdt_property(fdt, "reg", uart_reg, sizeof(uart_reg));
	if (!err)
		err = fdt_property_u32(fdt, "clock-frequency", UART_CLOCK_HZ);
	if (!err)
		err = put_interrupts(fdt, IRQ_COM1, DT_IRQ_EDGE_RISING);
	if (!err)
		err = fdt_end_node(fdt);

	if (!err)
		err = fdt_end_node(fdt);
	return err;
}

static int put_virtio_mmio(void *fdt, const struct loader_virtio_mmio *dev)
{
	int err;

	err = begin_node_at(fdt, "virtio_mmio", dev->base, dev->size);
	if (!err)
		err = fdt_property_string(fdt, "compatible", "virtio,mmio");
	if (!err)
		err = put_interrupts(fdt, dev->gsi, DT_IRQ_LEVEL_HIGH);
	if (!err)
		err = fdt_end_node(fdt);
	return err;
}

int device_tree_build(void *buf, size_t cap, unsigned ncpus,
		      const struct loader_virtio_mmio *virtio, unsigned nvirtio)
{
	int err;

	for (unsigned i = 0; i < nvirtio; i++) {
		if (virtio[i].gsi >= IOAPIC_PINS) {
			log_error("internal error: virtio-mmio device on GSI %u, not an IOAPIC pin",
				  virtio[i].gsi);
			return -1;
		}
	}
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	err = fdt_create(buf, (int)cap);
	if (!err)
		err = fdt_finish_reservemap(buf);
	if (!err)
		err = fdt_begin_node(buf, "");
	if (!err)
		err = fdt_property_string(buf, "compatible", "wisp,microvm");
	if (!err)
		err = fdt_property_string(buf, "model", "wisp");
	if (!err)
		err = fdt_property_u32(buf, "#address-cells", 2);
	if (!err)
		err = fdt_property_u32(buf, "#size-cells", 2);
	if (!err)
		err = fdt_property_u32(buf, "interrupt-parent", PHANDLE_IOAPIC);
	if (!err)
		err = put_cpus(buf, ncpus);
	if (!err)
		err = put_interrupt_controllers(buf);
	if (!err)
		err = put_isa_bus(buf);
	for (unsigned i = 0; !err && i < nvirtio; i++)
		err = put_virtio_mmio(buf, &virtio[i]);
	if (!err)
		err = fdt_end_node(buf);
	if (!err)
		err = fdt_finish(buf);
	if (err) {
		log_error("the device tree does not fit its %zu bytes: %s", cap, fdt_strerror(err));
		return -1;
	}
	return (int)fdt_totalsize(buf);
}
