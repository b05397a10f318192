#include "fixtures.h"

#include "loader/bzimage.h"
#include "loader/multiboot.h"

static uint8_t file[0x4000];

static struct loader_input input(size_t size)
{
	return (struct loader_input){
		.kernel = file, .kernel_size = size, .kernel_path = "guest.img",
		.cmdline = "", .ncpus = 1,
	};
}

static void test_format_names(void **state)
{
	(void)state;
	assert_string_equal(boot_format_name(BOOT_FORMAT_NONE), "none");
	assert_string_equal(boot_format_name(BOOT_FORMAT_BZIMAGE), "bzImage");
	assert_string_equal(boot_format_name(BOOT_FORMAT_MULTIBOOT), "multiboot");
	assert_string_equal(boot_format_name(BOOT_FORMAT_PVH), "PVH");
	assert_string_equal(boot_format_name(BOOT_FORMAT_ELF64), "ELF64");
	assert_string_equal(boot_format_name((enum boot_format)42), "none");
}

static void test_empty_and_garbage(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	struct loader_input in = input(0);
	struct loader_result res;

	(void)state;
	expect_load_error(mem, &in, "guest.img: kernel image is empty", NULL);
	in.kernel = NULL;
	in.kernel_size = 10;
	expect_load_error(mem, &in, "guest.img: kernel image is empty", NULL);

	for (size_t i = 0; i < sizeof(file); i++)
		file[i] = (uint8_t)(i * 37 + 11);
	in = input(sizeof(file));
	expect_load_error(mem, &in, "guest.img: not a bootable kernel image (no bzImage header, "
			  "multiboot header or ELF signature)", NULL);
	in = input(3);
	expect_load_error(mem, &in, "not a bootable kernel image", NULL);
	/* The format is NONE after a failure. */
	capture_begin();
	assert_int_equal(loader_load(mem, &in, &res), -1);
	capture_end();
	assert_int_equal(res.format, BOOT_FORMAT_NONE);
	/* No path given: messages still say what failed. */
	in.kernel_path = NULL;
	expect_load_error(mem, &in, "kernel: not a bootable", NULL);
	mem_free(mem);
}

static void test_truncated_signatures(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	struct loader_input in;

	(void)state;
	memset(file, 0, sizeof(file));
	memcpy(file, "\x7f" "ELF", 4);
	in = input(4);
	expect_load_error(mem, &in, "guest.img: truncated ELF header", NULL);
	memset(file, 0, sizeof(file));
	memcpy(file + BZ_HEADER, "HdrS", 4);
	in = input(BZ_HEADER + 4);
	expect_load_error(mem, &in, "guest.img: bzImage is truncated", NULL);
	mem_free(mem);
}

static void test_bad_cpu_count(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	struct loader_input in;

	(void)state;
	memset(file, 0, sizeof(file));
	in = input(sizeof(file));
	in.ncpus = 0;
	expect_load_error(mem, &in, "vCPUs", NULL);
	in.ncpus = 255;
	expect_load_error(mem, &in, "vCPUs", NULL);
	mem_free(mem);
}

/* The boot tables come first: a PCI INTx route they cannot describe
 * stops the load with one message, whatever the image. */
static void test_bad_pci_intx(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	static uint8_t text[0x200];
	struct tseg seg = { 1, 0x200000, 0x200000, text, sizeof(text), sizeof(text), 0x1000 };
	struct loader_pci_intx r[2] = { { .slot = 1, .pin = 1, .gsi = 16 },
					{ .slot = 2, .pin = 1, .gsi = 17 } };
	struct loader_virtio_mmio v = { .base = VIRTIO_MMIO_BASE, .size = 0x200, .gsi = 17 };
	struct loader_input in;
	struct loader_result res;

	(void)state;
	memset(text, 0x90, sizeof(text));
	in = input(build_elf(file, sizeof(file), 1, 62, 0x200000, &seg, 1));
	in.pci_intx = r;
	in.n_pci_intx = 2;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_int_equal(res.format, BOOT_FORMAT_ELF64);

	r[1].pin = 5;
	expect_load_error(mem, &in, "slot 2 pin 5 -> GSI 17", NULL);
	r[1].pin = 1;
	in.n_pci_intx = 9;
	expect_load_error(mem, &in, "9 PCI INTx routes", NULL);
	/* A virtio-mmio device's line, even one the kernel finds on its
	 * command line rather than in the DSDT. */
	in.n_pci_intx = 2;
	in.virtio_mmio = &v;
	in.n_virtio_mmio = 1;
	expect_load_error(mem, &in, "GSI 17 is both", NULL);
	mem_free(mem);
}

/* A multiboot header wins over the ELF header of the same file. */
static void test_multiboot_before_elf(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	static uint8_t text[0x200];
	struct tseg seg = { 1, 0x200000, 0x200000, text, sizeof(text), sizeof(text), 0x1000 };
	struct loader_input in;
	struct loader_result res;

	(void)state;
	memset(text, 0x90, sizeof(text));
	put_mb_header(text + 0x20, 0, NULL);
	in = input(build_elf(file, sizeof(file), 1, 62, 0x200000, &seg, 1));
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_int_equal(res.format, BOOT_FORMAT_MULTIBOOT);
	/* Without the header the same file is a plain ELF64 kernel. */
	memset(text + 0x20, 0, 12);
	in = input(build_elf(file, sizeof(file), 1, 62, 0x200000, &seg, 1));
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_int_equal(res.format, BOOT_FORMAT_ELF64);
	mem_free(mem);
}

/* The device tree travels in boot_params: other formats refuse it. */
static void test_device_tree_needs_bzimage(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	static uint8_t text[0x200];
	struct tseg seg = { 1, 0x200000, 0x200000, text, sizeof(text), sizeof(text), 0x1000 };
	struct loader_input in;

	(void)state;
	memset(text, 0x90, sizeof(text));
	in = input(build_elf(file, sizeof(file), 1, 62, 0x200000, &seg, 1));
	in.virtio_mmio_announce = VIRTIO_MMIO_IN_DT;
	expect_load_error(mem, &in, "is no bzImage", "setup_data");
	mem_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_empty_and_garbage),
		cmocka_unit_test(test_truncated_signatures),
		cmocka_unit_test(test_bad_cpu_count),
		cmocka_unit_test(test_multiboot_before_elf),
		cmocka_unit_test(test_bad_pci_intx),
		cmocka_unit_test(test_device_tree_needs_bzimage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
