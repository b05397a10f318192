/* The device tree read back with libfdt, as Linux would walk it: the CPUs
 * by APIC ID, the interrupt controllers by compatible, the serial port's
 * I/O ports through the isa bus, each virtio-mmio node's window and
 * interrupt, and the interrupt parent they resolve to. */
#include "fixtures.h"

#include <libfdt.h>

#include "loader/device_tree.h"

#define TREE_CAP 0x4000

static const struct loader_virtio_mmio two_devices[] = {
	{ .base = VIRTIO_MMIO_BASE, .size = 0x200, .gsi = 16 },
	{ .base = VIRTIO_MMIO_BASE + 0x200, .size = 0x200, .gsi = 17 },
};

static void *build(const struct loader_virtio_mmio *dev, unsigned n)
{
	void *fdt = malloc(TREE_CAP);
	int size;

	assert_non_null(fdt);
	memset(fdt, 0xA5, TREE_CAP);
	size = device_tree_build(fdt, TREE_CAP, 2, dev, n);
	assert_true(size > 0 && size <= TREE_CAP);
	assert_int_equal(fdt_check_header(fdt), 0);
	assert_int_equal(fdt_totalsize(fdt), (uint32_t)size);
	return fdt;
}

static uint32_t prop_u32(const void *fdt, int node, const char *name, int index)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, name, &len);

	assert_non_null(p);
	assert_true(len >= (index + 1) * 4);
	return fdt32_to_cpu(p[index]);
}

/* reg = <addr-hi addr-lo size-hi size-lo> with two cells each. */
static void check_reg(const void *fdt, int node, uint64_t addr, uint64_t size)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, "reg", &len);

	assert_non_null(p);
	assert_int_equal(len, 16);
	assert_int_equal((uint64_t)fdt32_to_cpu(p[0]) << 32 | fdt32_to_cpu(p[1]), addr);
	assert_int_equal((uint64_t)fdt32_to_cpu(p[2]) << 32 | fdt32_to_cpu(p[3]), size);
}

static void test_root_and_interrupt_controllers(void **state)
{
	void *fdt = build(two_devices, 2);
	int ioapic, lapic, len;
	uint32_t parent;

	(void)state;
	assert_int_equal(prop_u32(fdt, 0, "#address-cells", 0), 2);
	assert_int_equal(prop_u32(fdt, 0, "#size-cells", 0), 2);
	assert_string_equal(fdt_getprop(fdt, 0, "model", NULL), "wisp");

	ioapic = fdt_node_offset_by_compatible(fdt, -1, "intel,ce4100-ioapic");
	assert_true(ioapic > 0);
	assert_string_equal(fdt_get_name(fdt, ioapic, NULL), "interrupt-controller@fec00000");
	check_reg(fdt, ioapic, IOAPIC_BASE, 0x1000);
	assert_non_null(fdt_getprop(fdt, ioapic, "interrupt-controller", &len));
	assert_int_equal(len, 0);
	assert_int_equal(prop_u32(fdt, ioapic, "#interrupt-cells", 0), 2);
	/* Only one IOAPIC. */
	assert_true(fdt_node_offset_by_compatible(fdt, ioapic, "intel,ce4100-ioapic") < 0);

	/* Every node without its own interrupt-parent inherits the root's:
	 * the IOAPIC. */
	parent = prop_u32(fdt, 0, "interrupt-parent", 0);
	assert_int_equal(fdt_node_offset_by_phandle(fdt, parent), ioapic);

	lapic = fdt_node_offset_by_compatible(fdt, -1, "intel,ce4100-lapic");
	assert_true(lapic > 0);
	check_reg(fdt, lapic, LAPIC_BASE, 0x1000);
	assert_true(fdt_get_phandle(fdt, lapic) != parent);
	free(fdt);
}

static void test_cpus(void **state)
{
	void *fdt = build(two_devices, 2);
	int cpus = fdt_path_offset(fdt, "/cpus"), node, n = 0;

	(void)state;
	assert_true(cpus > 0);
	assert_int_equal(prop_u32(fdt, cpus, "#address-cells", 0), 1);
	assert_int_equal(prop_u32(fdt, cpus, "#size-cells", 0), 0);
	fdt_for_each_subnode(node, fdt, cpus) {
		char name[16];

		snprintf(name, sizeof(name), "cpu@%x", n);
		assert_string_equal(fdt_get_name(fdt, node, NULL), name);
		assert_string_equal(fdt_getprop(fdt, node, "device_type", NULL), "cpu");
		assert_int_equal(prop_u32(fdt, node, "reg", 0), n);
		n++;
	}
	assert_int_equal(n, 2);
	free(fdt);
}

/* ISA addresses are (space, offset): space 1 is I/O. The bus maps all of
 * I/O space one to one onto the root's addresses, which Linux on x86
 * takes as port numbers. */
static void test_serial_on_isa(void **state)
{
	void *fdt = build(two_devices, 2);
	int isa = fdt_path_offset(fdt, "/isa"), uart, len;
	const fdt32_t *ranges;

	(void)state;
	assert_true(isa > 0);
	assert_string_equal(fdt_getprop(fdt, isa, "compatible", NULL), "isa");
	assert_int_equal(prop_u32(fdt, isa, "#address-cells", 0), 2);
	assert_int_equal(prop_u32(fdt, isa, "#size-cells", 0), 1);
	ranges = fdt_getprop(fdt, isa, "ranges", &len);
	assert_non_null(ranges);
	assert_int_equal(len, 5 * 4);
	assert_int_equal(fdt32_to_cpu(ranges[0]), 1);          /* I/O space */
	assert_int_equal(fdt32_to_cpu(ranges[1]), 0);          /* from port 0 */
	assert_int_equal(fdt32_to_cpu(ranges[2]), 0);          /* to address 0 */
	assert_int_equal(fdt32_to_cpu(ranges[3]), 0);
	assert_int_equal(fdt32_to_cpu(ranges[4]), 0x10000);    /* all 64 Ki ports */

	uart = fdt_node_offset_by_compatible(fdt, -1, "ns16550a");
	assert_int_equal(fdt_parent_offset(fdt, uart), isa);
	assert_string_equal(fdt_get_name(fdt, uart, NULL), "serial@i3f8");
	assert_int_equal(prop_u32(fdt, uart, "reg", 0), 1);
	assert_int_equal(prop_u32(fdt, uart, "reg", 1), COM1_IO_BASE);
	assert_int_equal(prop_u32(fdt, uart, "reg", 2), 8);
	assert_int_equal(prop_u32(fdt, uart, "clock-frequency", 0), 1843200);
	/* ISA IRQ 4 on its IOAPIC pin, edge-triggered (index 3: rising). */
	assert_int_equal(prop_u32(fdt, uart, "interrupts", 0), IRQ_COM1);
	assert_int_equal(prop_u32(fdt, uart, "interrupts", 1), 3);
	free(fdt);
}

static void test_virtio_mmio_nodes(void **state)
{
	void *fdt = build(two_devices, 2);
	int node = -1;
	unsigned i = 0;

	(void)state;
	while ((node = fdt_node_offset_by_compatible(fdt, node, "virtio,mmio")) >= 0) {
		char name[32];

		assert_true(i < 2);
		/* At the root: Linux makes platform devices of its children. */
		assert_int_equal(fdt_parent_offset(fdt, node), 0);
		snprintf(name, sizeof(name), "virtio_mmio@%llx",
			 (unsigned long long)two_devices[i].base);
		assert_string_equal(fdt_get_name(fdt, node, NULL), name);
		check_reg(fdt, node, two_devices[i].base, two_devices[i].size);
		/* IOAPIC pin, trigger index 1 = level, active high. */
		assert_int_equal(prop_u32(fdt, node, "interrupts", 0), two_devices[i].gsi);
		assert_int_equal(prop_u32(fdt, node, "interrupts", 1), 1);
		i++;
	}
	assert_int_equal(i, 2);
	free(fdt);
}

static void test_no_devices(void **state)
{
	void *fdt = build(NULL, 0);

	(void)state;
	assert_true(fdt_node_offset_by_compatible(fdt, -1, "virtio,mmio") < 0);
	assert_true(fdt_node_offset_by_compatible(fdt, -1, "intel,ce4100-ioapic") > 0);
	free(fdt);
}

static void test_too_small(void **state)
{
	uint8_t buf[64];
	const char *msg;

	(void)state;
	capture_begin();
	assert_int_equal(device_tree_build(buf, sizeof(buf), 1, two_devices, 2), -1);
	msg = capture_end();
	assert_int_equal(count_lines(msg), 1);
	assert_non_null(strstr(msg, "device tree does not fit its 64 bytes"));
}

static void test_gsi_beyond_ioapic(void **state)
{
	const struct loader_virtio_mmio bad = { .base = VIRTIO_MMIO_BASE, .size = 0x200,
						.gsi = IOAPIC_PINS };
	uint8_t buf[TREE_CAP];
	const char *msg;

	(void)state;
	capture_begin();
	assert_int_equal(device_tree_build(buf, sizeof(buf), 1, &bad, 1), -1);
	msg = capture_end();
	assert_int_equal(count_lines(msg), 1);
	assert_non_null(strstr(msg, "GSI 24"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_and_interrupt_controllers),
		cmocka_unit_test(test_cpus),
		cmocka_unit_test(test_serial_on_isa),
		cmocka_unit_test(test_virtio_mmio_nodes),
		cmocka_unit_test(test_no_devices),
		cmocka_unit_test(test_too_small),
		cmocka_unit_test(test_gsi_beyond_ioapic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
