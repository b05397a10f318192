#include "fixtures.h"

#include "loader/e820.h"
#include "loader/multiboot.h"
#include "loader/x86_boot.h"

#define AOUT_SIZE   0x2000
#define HDR_OFF     0x40
#define LOAD_ADDR   0x100000u
#define LOAD_END    0x101800u   /* loads file bytes [0, 0x1800) */
#define BSS_END     0x104000u
#define ENTRY       0x100080u

static uint8_t file[0x10000];

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 11);
}

/* A flat binary whose a.out kludge header says: the file from offset 0
 * goes to LOAD_ADDR (so the header at HDR_OFF sits at LOAD_ADDR + HDR_OFF). */
static size_t build_aout(uint32_t flags_extra)
{
	const uint32_t aout[5] = { LOAD_ADDR + HDR_OFF, LOAD_ADDR, LOAD_END, BSS_END, ENTRY };

	fill(file, AOUT_SIZE, 3);
	put_mb_header(file + HDR_OFF, MULTIBOOT_AOUT_KLUDGE | MULTIBOOT_PAGE_ALIGN |
				      MULTIBOOT_MEMORY_INFO | flags_extra, aout);
	return AOUT_SIZE;
}

static struct loader_input input(size_t size, const char *cmdline)
{
	return (struct loader_input){
		.kernel = file, .kernel_size = size, .kernel_path = "/boot/kernel.elf",
		.cmdline = cmdline, .ncpus = 2,
	};
}

static struct guest_mem *dirty_mem(uint64_t size)
{
	struct guest_mem *mem = mem_new(size);
	memset(gp(mem, MiB(1), MiB(1)), 0xAA, MiB(1));
	return mem;
}

static void check_entry_state(const struct loader_result *res, uint64_t entry)
{
	assert_int_equal(res->format, BOOT_FORMAT_MULTIBOOT);
	assert_string_equal(boot_format_name(res->format), "multiboot");
	assert_int_equal(res->bsp.rip, entry);
	assert_int_equal(res->bsp.gpr[CPU_RAX], 0x2BADB002);
	assert_int_equal(res->bsp.gpr[CPU_RBX], BOOT_INFO_ADDR);
	assert_int_equal(res->bsp.cr0, X86_CR0_PE | X86_CR0_ET);
	assert_int_equal(res->bsp.efer, 0);
	assert_int_equal(res->bsp.cs.db, 1);
	assert_int_equal(res->bsp.cs.l, 0);
	assert_int_equal(res->bsp.cs.base, 0);
	assert_int_equal(res->bsp.cs.limit, 0xFFFFFFFFu);
	assert_int_equal(res->bsp.ss.limit, 0xFFFFFFFFu);
	assert_int_equal(res->bsp.rflags & ((1 << 17) | (1 << 9)), 0);
}

/* The info structure, checked field by field against what a multiboot
 * kernel reads. */
static void check_info(const struct guest_mem *mem, uint64_t ram, const char *cmdline)
{
	const uint8_t *mbi = gp(mem, BOOT_INFO_ADDR, 128);
	struct e820_entry map[E820_MAX_ENTRIES];
	size_t n = e820_build(mem, map, E820_MAX_ENTRIES);
	uint32_t flags = r32(mbi + MBI_FLAGS);
	uint32_t mmap = r32(mbi + MBI_MMAP_ADDR), mmap_len = r32(mbi + MBI_MMAP_LENGTH);
	size_t i = 0;

	assert_int_equal(flags & 0x1, 0x1);    /* mem */
	assert_int_equal(flags & 0x4, 0x4);    /* cmdline */
	assert_int_equal(flags & 0x8, 0x8);    /* mods */
	assert_int_equal(flags & 0x40, 0x40);  /* mmap */
	assert_int_equal(flags & 0x200, 0x200);/* boot loader name */
	assert_int_equal(r32(mbi + MBI_MEM_LOWER), 639);
	assert_int_equal(r32(mbi + MBI_MEM_UPPER), (ram - MiB(1)) / 1024);
	assert_string_equal((const char *)gp(mem, r32(mbi + MBI_CMDLINE), strlen(cmdline) + 1),
			    cmdline);
	assert_string_equal((const char *)gp(mem, r32(mbi + MBI_LOADER_NAME), 5), "wisp");

	/* Walk the mmap the way the spec says: size excludes itself. */
	assert_int_equal(mmap_len, n * 24);
	for (uint32_t off = 0; off < mmap_len; i++) {
		const uint8_t *e = gp(mem, mmap + off, 24);
		assert_true(i < n);
		assert_int_equal(r32(e), 20);
		assert_int_equal(r64(e + 4), map[i].addr);
		assert_int_equal(r64(e + 12), map[i].size);
		assert_int_equal(r32(e + 20), map[i].type);
		off += r32(e) + 4;
	}
	assert_int_equal(i, n);
}

static void test_aout_kludge(void **state)
{
	struct guest_mem *mem = dirty_mem(MiB(64));
	struct loader_input in = input(build_aout(0), "console=ttyS0 x=1");
	struct loader_result res;
	const uint8_t *bss;

	(void)state;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	check_entry_state(&res, ENTRY);
	assert_memory_equal(gp(mem, LOAD_ADDR, LOAD_END - LOAD_ADDR), file, LOAD_END - LOAD_ADDR);
	bss = gp(mem, LOAD_END, BSS_END - LOAD_END);
	for (size_t i = 0; i < BSS_END - LOAD_END; i++)
		assert_int_equal(bss[i], 0);
	assert_int_equal(*gp(mem, BSS_END, 1), 0xAA);
	assert_int_equal(res.kernel_start, LOAD_ADDR);
	assert_int_equal(res.kernel_end, BSS_END);
	check_info(mem, MiB(64), "/boot/kernel.elf console=ttyS0 x=1");
	assert_int_equal(r32(gp(mem, BOOT_INFO_ADDR + MBI_MODS_COUNT, 4)), 0);
	/* MP table for every format. */
	assert_memory_equal(gp(mem, EBDA_START, 4), "_MP_", 4);
	mem_free(mem);
}

static void test_aout_load_to_end_of_file(void **state)
{
	struct guest_mem *mem = dirty_mem(MiB(64));
	const uint32_t aout[5] = { LOAD_ADDR + HDR_OFF, LOAD_ADDR, 0, 0, ENTRY };
	struct loader_input in = input(build_aout(0), "");
	struct loader_result res;

	(void)state;
	put_mb_header(file + HDR_OFF, MULTIBOOT_AOUT_KLUDGE, aout);
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_memory_equal(gp(mem, LOAD_ADDR, AOUT_SIZE), file, AOUT_SIZE);
	assert_int_equal(res.kernel_end, LOAD_ADDR + AOUT_SIZE);
	/* An empty command line leaves just the path, no trailing space. */
	check_info(mem, MiB(64), "/boot/kernel.elf");
	mem_free(mem);

	/* Nor does no command line at all: Linux's default is not for it. */
	mem = dirty_mem(MiB(64));
	in.cmdline = NULL;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	check_info(mem, MiB(64), "/boot/kernel.elf");
	mem_free(mem);
}

static void test_header_search(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	uint8_t buf[0x3000];
	size_t off;

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(multiboot_find(buf, sizeof(buf), &off), 0);
	put_mb_header(buf + 0x1FF4, 0, NULL);  /* last 12 bytes of the 8 KiB */
	assert_int_equal(multiboot_find(buf, sizeof(buf), &off), 1);
	assert_int_equal(off, 0x1FF4);
	assert_int_equal(multiboot_find(buf, 0x1FFF, &off), 0);  /* cut by the file end */
	memset(buf, 0, sizeof(buf));
	put_mb_header(buf + 0x2000, 0, NULL);  /* beyond the first 8 KiB */
	assert_int_equal(multiboot_find(buf, sizeof(buf), &off), 0);
	memset(buf, 0, sizeof(buf));
	put_mb_header(buf + 0x102, 0, NULL);   /* not 4-byte aligned */
	assert_int_equal(multiboot_find(buf, sizeof(buf), &off), 0);
	/* A bad checksum first, a good header later: the good one wins. */
	memset(buf, 0, sizeof(buf));
	put_mb_header(buf + 0x100, 0, NULL);
	w32(buf + 0x108, 0);
	put_mb_header(buf + 0x200, 0, NULL);
	assert_int_equal(multiboot_find(buf, sizeof(buf), &off), 1);
	assert_int_equal(off, 0x200);
	memset(buf + 0x200, 0, 12);
	assert_int_equal(multiboot_find(buf, sizeof(buf), &off), -1);
	assert_int_equal(off, 0x100);

	/* Through loader_load: a lone bad checksum is named as such. */
	{
		struct loader_input in = {
			.kernel = buf, .kernel_size = sizeof(buf), .kernel_path = "mb.bin",
			.cmdline = "", .ncpus = 1,
		};
		expect_load_error(mem, &in, "mb.bin: multiboot header at offset 0x100 has a bad "
				  "checksum", NULL);
		memset(buf + 0x100, 0, 12);
		expect_load_error(mem, &in, "mb.bin: not a bootable kernel image (no bzImage "
				  "header, multiboot header or ELF signature)", NULL);
	}
	mem_free(mem);
}

static void test_flags(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in;
	struct loader_result res;

	(void)state;
	in = input(build_aout(MULTIBOOT_VIDEO_MODE), "");
	assert_int_equal(load_quiet(mem, &in, &res), 0);  /* video mode: ignored */
	in = input(build_aout(0x8), "");
	expect_load_error(mem, &in, "/boot/kernel.elf: multiboot header requires features",
			  "0x00000008");
	in = input(build_aout(0x20000), "");  /* optional bits are fine */
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	mem_free(mem);
}

static void test_aout_errors(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input(AOUT_SIZE, "");
	struct {
		uint32_t f[5];
		const char *msg;
	} cases[] = {
		{ { LOAD_ADDR + HDR_OFF, LOAD_ADDR + HDR_OFF + 4, 0, 0, ENTRY }, "before the start" },
		{ { LOAD_ADDR + HDR_OFF + 0x100, LOAD_ADDR, 0, 0, ENTRY }, "before the start" },
		{ { LOAD_ADDR + HDR_OFF, LOAD_ADDR, LOAD_ADDR + AOUT_SIZE + 1, 0, ENTRY },
		  "load_end_addr" },
		{ { LOAD_ADDR + HDR_OFF, LOAD_ADDR, LOAD_ADDR - 1, 0, ENTRY }, "load_end_addr" },
		{ { LOAD_ADDR + HDR_OFF, LOAD_ADDR, LOAD_END, LOAD_END - 1, ENTRY }, "bss_end_addr" },
		{ { 0x8000 + HDR_OFF, 0x8000, 0, 0, 0x8000 }, "below 1 MiB" },
		{ { 0x3FFF000 + HDR_OFF, 0x3FFF000, 0, 0, 0x3FFF000 }, "outside guest RAM" },
		{ { LOAD_ADDR + HDR_OFF, LOAD_ADDR, 0, 0xFFFFFFFF, ENTRY }, "outside guest RAM" },
		{ { LOAD_ADDR + HDR_OFF, LOAD_ADDR, LOAD_END, BSS_END, BSS_END }, "entry_addr" },
		{ { LOAD_ADDR + HDR_OFF, LOAD_ADDR, LOAD_END, 0, LOAD_ADDR - 4 }, "entry_addr" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fill(file, AOUT_SIZE, 3);
		put_mb_header(file + HDR_OFF, MULTIBOOT_AOUT_KLUDGE, cases[i].f);
		expect_load_error(mem, &in, "/boot/kernel.elf: ", cases[i].msg);
	}
	/* A kludge header cut by the end of the file. */
	fill(file, AOUT_SIZE, 3);
	put_mb_header(file + 0x100, MULTIBOOT_AOUT_KLUDGE, NULL);
	in.kernel_size = 0x110;
	expect_load_error(mem, &in, "multiboot header at 0x100 is truncated", NULL);
	/* No kludge and no ELF: nothing says where to load. */
	put_mb_header(file + HDR_OFF, 0, NULL);
	in.kernel_size = AOUT_SIZE;
	expect_load_error(mem, &in, "not ELF", NULL);
	mem_free(mem);
}

/* An ELF32 i386 kernel carrying the header in its first segment. */
static size_t build_elf32(int is64)
{
	static uint8_t text[0x1000], data[0x200];
	struct tseg segs[2] = {
		{ 1, 0xC0200000, 0x200000, text, sizeof(text), sizeof(text), 0x1000 },
		{ 1, 0xC0300000, 0x300000, data, sizeof(data), 0x5000, 0x1000 },
	};

	fill(text, sizeof(text), 0x21);
	fill(data, sizeof(data), 0x61);
	put_mb_header(text + 0x10, MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO, NULL);
	return build_elf(file, sizeof(file), is64, is64 ? 62 : 3, 0xC0200100, segs, 2);
}

static void test_elf32(void **state)
{
	struct guest_mem *mem = dirty_mem(MiB(64));
	struct loader_input in = input(build_elf32(0), "quiet");
	struct loader_result res;
	static uint8_t rd[0x1234];
	const uint8_t *mbi, *mod;
	const uint8_t *bss;

	(void)state;
	fill(rd, sizeof(rd), 0x77);
	in.initrd = rd;
	in.initrd_size = sizeof(rd);
	in.initrd_path = "env.txt";
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	/* The entry is e_entry translated to its physical address. */
	check_entry_state(&res, 0x200100);
	assert_int_equal(res.kernel_start, 0x200000);
	assert_int_equal(res.kernel_end, 0x305000);
	assert_int_equal(*gp(mem, 0x200000, 1), 0x21);
	assert_int_equal(r32(gp(mem, 0x200010, 4)), 0x1BADB002);
	bss = gp(mem, 0x300200, 0x4E00);
	for (size_t i = 0; i < 0x4E00; i++)
		assert_int_equal(bss[i], 0);
	check_info(mem, MiB(64), "/boot/kernel.elf quiet");

	/* One module: the initrd, page aligned right after the kernel. */
	mbi = gp(mem, BOOT_INFO_ADDR, 128);
	assert_int_equal(r32(mbi + MBI_MODS_COUNT), 1);
	mod = gp(mem, r32(mbi + MBI_MODS_ADDR), 16);
	assert_int_equal(r32(mod), 0x305000);
	assert_int_equal(r32(mod + 4), 0x305000 + sizeof(rd));
	assert_string_equal((const char *)gp(mem, r32(mod + 8), 8), "env.txt");
	assert_int_equal(r32(mod + 12), 0);
	assert_memory_equal(gp(mem, r32(mod), sizeof(rd)), rd, sizeof(rd));
	assert_int_equal(res.initrd_start, 0x305000);
	assert_int_equal(res.initrd_size, sizeof(rd));
	mem_free(mem);
}

/* GRUB boots ELF64 multiboot kernels the same way: 32-bit entry. */
static void test_elf64_multiboot(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input(build_elf32(1), "");
	struct loader_result res;

	(void)state;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	check_entry_state(&res, 0x200100);
	mem_free(mem);
}

static void test_initrd_too_big(void **state)
{
	struct guest_mem *mem = mem_new(MiB(4));
	struct loader_input in = input(build_elf32(0), "");
	static uint8_t rd[MiB(1)];

	(void)state;
	/* Kernel ends at 0x305000: 1 MiB from there passes the 4 MiB end. */
	in.initrd = rd;
	in.initrd_size = sizeof(rd);
	in.initrd_path = "rd.img";
	expect_load_error(mem, &in, "rd.img: initrd of 1048576 bytes does not fit", NULL);
	mem_free(mem);
}

static void test_cmdline_too_long(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	size_t n = BOOT_CMDLINE_MAX - strlen("/boot/kernel.elf ");
	char *cmdline = malloc(n + 1);
	struct loader_input in = input(build_aout(0), cmdline);
	struct loader_result res;

	(void)state;
	memset(cmdline, 'x', n);
	cmdline[n] = '\0';
	expect_load_error(mem, &in, "command line is 65536 bytes", NULL);
	cmdline[n - 1] = '\0';  /* exactly fills the buffer with its NUL */
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_int_equal(*gp(mem, BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX - 1, 1), 0);
	free(cmdline);
	mem_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aout_kludge),
		cmocka_unit_test(test_aout_load_to_end_of_file),
		cmocka_unit_test(test_header_search),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_aout_errors),
		cmocka_unit_test(test_elf32),
		cmocka_unit_test(test_elf64_multiboot),
		cmocka_unit_test(test_initrd_too_big),
		cmocka_unit_test(test_cmdline_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
