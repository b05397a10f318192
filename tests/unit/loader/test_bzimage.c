#include "fixtures.h"

#include <libfdt.h>

#include "loader/bzimage.h"
#include "loader/e820.h"
#include "loader/x86_boot.h"

#define PAYLOAD_OFF  0xA00  /* (4 setup sectors + 1) * 512 */
#define PAYLOAD_SIZE 0x3000
#define IMAGE_SIZE   (PAYLOAD_OFF + PAYLOAD_SIZE)

static uint8_t image[IMAGE_SIZE + 0x1000];

static uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 7 + 1);
}

/* A minimal well-formed 64-bit-capable bzImage, protocol 2.15. */
static void build_image(void)
{
	memset(image, 0, sizeof(image));
	image[0x1F0] = 0x99;               /* before the header: not copied */
	image[BZ_SETUP_SECTS] = 4;
	w16(image + BZ_BOOT_FLAG, 0xAA55);
	image[BZ_JUMP] = 0xEB;
	image[BZ_JUMP + 1] = 0x6A;         /* header ends at 0x26C */
	memcpy(image + BZ_HEADER, "HdrS", 4);
	w16(image + BZ_VERSION, 0x020F);
	w16(image + 0x20E, 0x1234);        /* kernel_version, copied as is */
	image[BZ_LOADFLAGS] = BZ_LOADED_HIGH;
	w32(image + BZ_INITRD_ADDR_MAX, 0x7FFFFFFF);
	w32(image + BZ_KERNEL_ALIGNMENT, 0x200000);
	image[BZ_RELOCATABLE] = 1;
	w16(image + BZ_XLOADFLAGS, 0x3);   /* KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	w32(image + BZ_CMDLINE_SIZE, 255);
	w64(image + BZ_PREF_ADDRESS, 0x1000000);
	w32(image + BZ_INIT_SIZE, 0x800000);
	w32(image + 0x268, 0xDEADBEEF);    /* kernel_info_offset, inside the header */
	w32(image + 0x26C, 0xCAFEF00D);    /* past the header end: not copied */
	for (size_t i = 0; i < PAYLOAD_SIZE; i++)
		image[PAYLOAD_OFF + i] = payload_byte(i);
}

static struct loader_input input(const char *cmdline)
{
	return (struct loader_input){
		.kernel = image, .kernel_size = IMAGE_SIZE, .kernel_path = "kernel.bin",
		.cmdline = cmdline, .ncpus = 2,
	};
}

static int setup(void **state)
{
	(void)state;
	build_image();
	return 0;
}

static void check_payload_at(const struct guest_mem *mem, uint64_t addr)
{
	const uint8_t *p = gp(mem, addr, PAYLOAD_SIZE);
	for (size_t i = 0; i < PAYLOAD_SIZE; i++)
		assert_int_equal(p[i], payload_byte(i));
}

static void test_good_image(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input("console=ttyS0 panic=-1");
	struct loader_result res;
	const uint8_t *bp;

	(void)state;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_int_equal(res.format, BOOT_FORMAT_BZIMAGE);
	assert_string_equal(boot_format_name(res.format), "bzImage");
	assert_int_equal(res.kernel_start, 0x1000000);
	assert_int_equal(res.kernel_end, 0x1000000 + PAYLOAD_SIZE);
	assert_int_equal(res.initrd_start, 0);
	assert_int_equal(res.initrd_size, 0);
	check_payload_at(mem, 0x1000000);

	/* Entry state: 64-bit, startup_64, zero page in RSI. */
	assert_int_equal(res.bsp.rip, 0x1000200);
	assert_int_equal(res.bsp.gpr[CPU_RSI], BOOT_INFO_ADDR);
	assert_int_equal(res.bsp.gpr[CPU_RSP], BOOT_STACK_TOP);
	assert_int_equal(res.bsp.gpr[CPU_RAX], 0);
	assert_int_equal(res.bsp.gpr[CPU_RDI], 0);
	assert_int_equal(res.bsp.cr0 & (X86_CR0_PE | X86_CR0_PG), X86_CR0_PE | X86_CR0_PG);
	assert_int_equal(res.bsp.efer & X86_EFER_LMA, X86_EFER_LMA);
	assert_int_equal(res.bsp.cr3, BOOT_PAGE_TABLES_ADDR);
	assert_int_equal(res.bsp.cs.selector, 0x10);
	assert_int_equal(res.bsp.cs.l, 1);
	assert_int_equal(res.bsp.ds.selector, 0x18);
	assert_int_equal(res.bsp.rflags & 0x200, 0);  /* IF clear */

	/* The zero page. */
	bp = gp(mem, BOOT_INFO_ADDR, BOOT_INFO_SIZE);
	assert_int_equal(bp[0x1F0], 0);
	assert_int_equal(bp[BZ_SETUP_SECTS], 4);
	assert_int_equal(r16(bp + BZ_BOOT_FLAG), 0xAA55);
	assert_memory_equal(bp + BZ_HEADER, "HdrS", 4);
	assert_int_equal(r16(bp + BZ_VERSION), 0x020F);
	assert_int_equal(r16(bp + 0x20E), 0x1234);
	assert_int_equal(r32(bp + 0x268), 0xDEADBEEF);
	assert_int_equal(r32(bp + 0x26C), 0);
	assert_int_equal(r32(bp + BZ_INIT_SIZE), 0x800000);
	assert_int_equal(bp[BZ_TYPE_OF_LOADER], 0xFF);
	assert_int_equal(bp[BZ_LOADFLAGS], BZ_LOADED_HIGH | BZ_CAN_USE_HEAP);
	assert_int_equal(r16(bp + BZ_HEAP_END_PTR), 0xFE00 - 0x200);
	assert_int_equal(r32(bp + BZ_CMD_LINE_PTR), BOOT_CMDLINE_ADDR);
	assert_string_equal((const char *)gp(mem, BOOT_CMDLINE_ADDR, 24), "console=ttyS0 panic=-1");
	assert_int_equal(r32(bp + BZ_RAMDISK_IMAGE), 0);
	assert_int_equal(r32(bp + BZ_RAMDISK_SIZE), 0);
	assert_int_equal(r32(bp + 0xC8), 0);  /* ext_cmd_line_ptr */

	/* e820 in the zero page matches e820_build. */
	{
		struct e820_entry map[E820_MAX_ENTRIES];
		size_t n = e820_build(mem, map, E820_MAX_ENTRIES);

		assert_int_equal(bp[BP_E820_ENTRIES], n);
		assert_int_equal(n, 3);
		for (size_t i = 0; i < n; i++) {
			const uint8_t *e = bp + BP_E820_TABLE + 20 * i;
			assert_int_equal(r64(e), map[i].addr);
			assert_int_equal(r64(e + 8), map[i].size);
			assert_int_equal(r32(e + 16), map[i].type);
		}
		assert_int_equal(r64(bp + BP_E820_TABLE + 20 * n), 0);
	}
	/* Every format also gets the MP table: a floating pointer in the EBDA. */
	assert_memory_equal(gp(mem, EBDA_START, 4), "_MP_", 4);
	mem_free(mem);
}

static void test_bad_magic(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input("");

	(void)state;
	w16(image + BZ_BOOT_FLAG, 0x55AA);
	expect_load_error(mem, &in, "kernel.bin: ", "0xAA55");
	mem_free(mem);
}

static void test_old_protocol(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input("");

	(void)state;
	w16(image + BZ_VERSION, 0x020B);
	expect_load_error(mem, &in, "kernel.bin: bzImage boot protocol 2.11 is too old for 64-bit "
			  "entry (need >= 2.12)", NULL);
	w16(image + BZ_VERSION, 0x0206);
	expect_load_error(mem, &in, "protocol 2.06 is too old", NULL);
	mem_free(mem);
}

static void test_not_64bit(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input("");

	(void)state;
	w16(image + BZ_XLOADFLAGS, 0x2);
	expect_load_error(mem, &in, "kernel.bin: ", "XLF_KERNEL_64");
	mem_free(mem);
}

static void test_setup_sects_zero_means_four(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input("");
	struct loader_result res;

	(void)state;
	image[BZ_SETUP_SECTS] = 0;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	check_payload_at(mem, res.kernel_start);
	mem_free(mem);
}

static void test_payload_beyond_file(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input("");

	(void)state;
	image[BZ_SETUP_SECTS] = 200;  /* payload would start at 0x19200 */
	expect_load_error(mem, &in, "kernel.bin: ", "past the end of the file");
	/* A file cut right at the payload has no payload at all. */
	image[BZ_SETUP_SECTS] = 4;
	in.kernel_size = PAYLOAD_OFF;
	expect_load_error(mem, &in, "past the end of the file", NULL);
	mem_free(mem);
}

static void test_truncated_header(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input("");

	(void)state;
	in.kernel_size = 0x240;  /* "HdrS" present, header runs to 0x26C */
	expect_load_error(mem, &in, "kernel.bin: ", "truncated");
	in.kernel_size = 0x207;
	expect_load_error(mem, &in, "truncated", NULL);
	mem_free(mem);
}

static void test_header_end_clamped(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input("");
	struct loader_result res;
	const uint8_t *bp;

	(void)state;
	/* Claims to end at 0x301, over the zero page's e820 table. */
	image[BZ_JUMP + 1] = 0xFF;
	memset(image + 0x26C, 0x77, 0x301 - 0x26C);
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	bp = gp(mem, BOOT_INFO_ADDR, BOOT_INFO_SIZE);
	assert_int_equal(bp[0x28F], 0x77);
	assert_int_equal(bp[0x290], 0);
	assert_int_equal(r64(bp + BP_E820_TABLE), 0);  /* entry 0 starts at 0 */
	assert_int_equal(r64(bp + BP_E820_TABLE + 8), EBDA_START);
	/* And a header too short to hold init_size is refused. */
	image[BZ_JUMP + 1] = 0x50;
	expect_load_error(mem, &in, "setup header ends at 0x252", NULL);
	mem_free(mem);
}

static void test_init_size_too_large(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input("");

	(void)state;
	w32(image + BZ_INIT_SIZE, 0x8000000);  /* 128 MiB */
	expect_load_error(mem, &in, "kernel.bin: ", "init_size");
	mem_free(mem);
}

static void test_relocation(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	struct loader_input in = input("");
	struct loader_result res;

	(void)state;
	/* pref_address 16 MiB is past RAM: relocated to the first 2 MiB
	 * boundary at or above 1 MiB. */
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_int_equal(res.kernel_start, MiB(2));
	assert_int_equal(res.bsp.rip, MiB(2) + 0x200);
	check_payload_at(mem, MiB(2));

	w32(image + BZ_KERNEL_ALIGNMENT, 0x300000);
	expect_load_error(mem, &in, "kernel_alignment 0x300000 is not a power of two", NULL);

	image[BZ_RELOCATABLE] = 0;
	expect_load_error(mem, &in, "kernel.bin: kernel is not relocatable", NULL);

	/* A pref_address below 1 MiB is never used. */
	image[BZ_RELOCATABLE] = 1;
	w32(image + BZ_KERNEL_ALIGNMENT, 0x1000);
	w64(image + BZ_PREF_ADDRESS, 0x10000);
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_int_equal(res.kernel_start, MiB(1));
	mem_free(mem);
}

static void test_cmdline_limit(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input("0123456789abcdef");  /* 16 bytes */
	struct loader_result res;

	(void)state;
	w32(image + BZ_CMDLINE_SIZE, 16);
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_string_equal((const char *)gp(mem, BOOT_CMDLINE_ADDR, 17), "0123456789abcdef");
	in.cmdline = "0123456789abcdefg";
	expect_load_error(mem, &in, "kernel.bin: command line is 17 bytes, the kernel accepts "
			  "at most 16", NULL);
	mem_free(mem);
}

static void test_default_cmdline(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input(NULL);
	struct loader_result res;

	(void)state;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_string_equal((const char *)gp(mem, BOOT_CMDLINE_ADDR, sizeof(LINUX_DEFAULT_CMDLINE)),
			    LINUX_DEFAULT_CMDLINE);
	mem_free(mem);
}

static uint8_t *make_initrd(size_t size)
{
	uint8_t *p = malloc(size);
	assert_non_null(p);
	for (size_t i = 0; i < size; i++)
		p[i] = (uint8_t)(i ^ (i >> 8) ^ 0x5A);
	return p;
}

static void check_initrd(const struct guest_mem *mem, const struct loader_result *res,
			 const uint8_t *data, size_t size)
{
	const uint8_t *bp = gp(mem, BOOT_INFO_ADDR, BOOT_INFO_SIZE);

	assert_int_equal(res->initrd_size, size);
	assert_int_equal(res->initrd_start % 4096, 0);
	assert_int_equal(r32(bp + BZ_RAMDISK_IMAGE), (uint32_t)res->initrd_start);
	assert_int_equal(r32(bp + BP_EXT_RAMDISK_IMAGE), (uint32_t)(res->initrd_start >> 32));
	assert_int_equal(r32(bp + BZ_RAMDISK_SIZE), (uint32_t)size);
	assert_int_equal(r32(bp + BP_EXT_RAMDISK_SIZE), 0);
	assert_memory_equal(gp(mem, res->initrd_start, size), data, size);
}

static void test_initrd_below_addr_max(void **state)
{
	struct guest_mem *mem = mem_new(GiB(2));
	size_t size = MiB(1) + 3;
	uint8_t *initrd = make_initrd(size);
	struct loader_input in = input("");
	struct loader_result res;

	(void)state;
	w32(image + BZ_INITRD_ADDR_MAX, 0x37FFFFFF);
	in.initrd = initrd;
	in.initrd_size = size;
	in.initrd_path = "initrd.img";
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	check_initrd(mem, &res, initrd, size);
	/* As high as it goes: the last byte at most initrd_addr_max, less
	 * than a page of slack. */
	assert_true(res.initrd_start + size <= 0x38000000);
	assert_true(res.initrd_start + size > 0x38000000 - 4096);
	free(initrd);
	mem_free(mem);
}

static void test_initrd_top_of_ram(void **state)
{
	struct guest_mem *mem = mem_new(MiB(256));
	size_t size = 12345;
	uint8_t *initrd = make_initrd(size);
	struct loader_input in = input("");
	struct loader_result res;

	(void)state;
	in.initrd = initrd;
	in.initrd_size = size;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	check_initrd(mem, &res, initrd, size);
	assert_int_equal(res.initrd_start, (MiB(256) - size) & ~0xFFFull);
	free(initrd);
	mem_free(mem);
}

static void test_initrd_clear_of_init_size(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	size_t size = MiB(4);
	uint8_t *initrd = make_initrd(size);
	struct loader_input in = input("");
	struct loader_result res;

	(void)state;
	/* The kernel owns [16 MiB, 64 MiB): the initrd must go below it. */
	w32(image + BZ_INIT_SIZE, 0x3000000);
	in.initrd = initrd;
	in.initrd_size = size;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_int_equal(res.kernel_start, MiB(16));
	check_initrd(mem, &res, initrd, size);
	assert_int_equal(res.initrd_start, MiB(12));
	check_payload_at(mem, MiB(16));
	free(initrd);
	mem_free(mem);
}

static void test_initrd_does_not_fit(void **state)
{
	struct guest_mem *mem = mem_new(MiB(32));
	size_t size = MiB(15) + 1;
	uint8_t *initrd = make_initrd(size);
	struct loader_input in = input("");

	(void)state;
	/* Kernel at [16 MiB, 32 MiB); [1 MiB, 16 MiB) is one byte short. */
	w32(image + BZ_INIT_SIZE, 0x1000000);
	in.initrd = initrd;
	in.initrd_size = size;
	in.initrd_path = "big.cpio";
	expect_load_error(mem, &in, "big.cpio: initrd of 15728641 bytes does not fit", NULL);
	free(initrd);
	mem_free(mem);
}

/* With the devices announced in a device tree, boot_params' setup_data
 * points at a one-entry chain holding it, and the tree replaces the MP
 * table; otherwise the field stays 0. */
static void test_device_tree_in_setup_data(void **state)
{
	static const struct loader_virtio_mmio dev = { .base = VIRTIO_MMIO_BASE, .size = 0x200,
						       .gsi = 16 };
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input("");
	struct loader_result res;
	const uint8_t *bp = gp(mem, BOOT_INFO_ADDR, BOOT_INFO_SIZE);
	const void *fdt;
	uint32_t len;
	int node;

	(void)state;
	in.virtio_mmio = &dev;
	in.n_virtio_mmio = 1;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_int_equal(r64(bp + BZ_SETUP_DATA), 0);
	assert_memory_equal(gp(mem, EBDA_START, 4), "_MP_", 4);
	mem_free(mem);

	mem = mem_new(MiB(64));
	bp = gp(mem, BOOT_INFO_ADDR, BOOT_INFO_SIZE);
	in.virtio_mmio_announce = VIRTIO_MMIO_IN_DT;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_memory_not_equal(gp(mem, EBDA_START, 4), "_MP_", 4);
	assert_int_equal(r64(bp + BZ_SETUP_DATA), BOOT_SETUP_DATA_ADDR);
	assert_int_equal(g64(mem, BOOT_SETUP_DATA_ADDR), 0);           /* next: none */
	assert_int_equal(g32(mem, BOOT_SETUP_DATA_ADDR + 8), SETUP_DTB);
	len = g32(mem, BOOT_SETUP_DATA_ADDR + 12);
	fdt = gp(mem, BOOT_SETUP_DATA_ADDR + SETUP_DATA_HEADER, len);
	assert_int_equal(fdt_check_header(fdt), 0);
	assert_int_equal(fdt_totalsize(fdt), len);
	node = fdt_node_offset_by_compatible(fdt, -1, "virtio,mmio");
	assert_true(node > 0);
	assert_string_equal(fdt_get_name(fdt, node, NULL), "virtio_mmio@fe000000");
	mem_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_good_image, setup),
		cmocka_unit_test_setup(test_bad_magic, setup),
		cmocka_unit_test_setup(test_old_protocol, setup),
		cmocka_unit_test_setup(test_not_64bit, setup),
		cmocka_unit_test_setup(test_setup_sects_zero_means_four, setup),
		cmocka_unit_test_setup(test_payload_beyond_file, setup),
		cmocka_unit_test_setup(test_truncated_header, setup),
		cmocka_unit_test_setup(test_header_end_clamped, setup),
		cmocka_unit_test_setup(test_init_size_too_large, setup),
		cmocka_unit_test_setup(test_relocation, setup),
		cmocka_unit_test_setup(test_cmdline_limit, setup),
		cmocka_unit_test_setup(test_default_cmdline, setup),
		cmocka_unit_test_setup(test_initrd_below_addr_max, setup),
		cmocka_unit_test_setup(test_initrd_top_of_ram, setup),
		cmocka_unit_test_setup(test_initrd_clear_of_init_size, setup),
		cmocka_unit_test_setup(test_initrd_does_not_fit, setup),
		cmocka_unit_test_setup(test_device_tree_in_setup_data, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
