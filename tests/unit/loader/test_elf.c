#include "fixtures.h"

#include "loader/acpi.h"
#include "loader/e820.h"
#include "loader/elf.h"
#include "loader/pvh.h"
#include "loader/x86_boot.h"

static uint8_t file[0x10000];
static uint8_t text[0x800], data[0x100];

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

static int setup(void **state)
{
	(void)state;
	fill(text, sizeof(text), 1);
	fill(data, sizeof(data), 0x40);
	return 0;
}

/* A kernel linked high (vaddr 0xffffffff80000000 + paddr) with text at
 * 2 MiB and data + bss at 3 MiB; optional note segment last. */
static size_t build_kernel(const uint8_t *note, size_t note_size, int is64)
{
	uint64_t off = is64 ? 0xffffffff80000000ull : 0;
	struct tseg segs[3] = {
		{ ELF_PT_LOAD, off + MiB(2), MiB(2), text, sizeof(text), sizeof(text), 0x1000 },
		{ ELF_PT_LOAD, off + MiB(3), MiB(3), data, sizeof(data), 0x3000, 0x1000 },
		{ ELF_PT_NOTE, 0, 0, note, note_size, 0, 4 },
	};
	return build_elf(file, sizeof(file), is64, is64 ? 62 : 3, off + MiB(2) + 0x10, segs,
			 note ? 3 : 2);
}

static struct loader_input input(size_t size)
{
	return (struct loader_input){
		.kernel = file, .kernel_size = size, .kernel_path = "vmlinux",
		.cmdline = "", .ncpus = 1,
	};
}

static void check_segments(const struct guest_mem *mem)
{
	const uint8_t *bss = gp(mem, MiB(3) + sizeof(data), 0x3000 - sizeof(data));

	assert_memory_equal(gp(mem, MiB(2), sizeof(text)), text, sizeof(text));
	assert_memory_equal(gp(mem, MiB(3), sizeof(data)), data, sizeof(data));
	for (size_t i = 0; i < 0x3000 - sizeof(data); i++)
		assert_int_equal(bss[i], 0);
	/* Only the segments were touched. */
	assert_int_equal(*gp(mem, MiB(3) + 0x3000, 1), 0xAA);
}

static struct guest_mem *dirty_mem(uint64_t size)
{
	struct guest_mem *mem = mem_new(size);
	/* Garbage where the bss goes, to see it zeroed. */
	memset(gp(mem, MiB(3), MiB(1)), 0xAA, MiB(1));
	return mem;
}

static void test_elf64_loads_segments(void **state)
{
	struct guest_mem *mem = dirty_mem(MiB(64));
	struct loader_input in = input(build_kernel(NULL, 0, 1));
	struct loader_result res;

	(void)state;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	assert_int_equal(res.format, BOOT_FORMAT_ELF64);
	assert_string_equal(boot_format_name(res.format), "ELF64");
	check_segments(mem);
	assert_int_equal(res.kernel_start, MiB(2));
	assert_int_equal(res.kernel_end, MiB(3) + 0x3000);

	/* e_entry is virtual; the vCPU starts at its physical address. */
	assert_int_equal(res.bsp.rip, MiB(2) + 0x10);
	assert_int_equal(res.bsp.gpr[CPU_RSI], 0);
	assert_int_equal(res.bsp.gpr[CPU_RSP], BOOT_STACK_TOP);
	assert_int_equal(res.bsp.cr0 & X86_CR0_PG, X86_CR0_PG);
	assert_int_equal(res.bsp.efer, X86_EFER_LME | X86_EFER_LMA);
	assert_int_equal(res.bsp.cs.l, 1);
	assert_int_equal(res.bsp.cr3, BOOT_PAGE_TABLES_ADDR);
	assert_int_equal(g64(mem, BOOT_PAGE_TABLES_ADDR) & 1, 1);
	mem_free(mem);
}

static void test_elf64_refuses_initrd(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input(build_kernel(NULL, 0, 1));
	static const uint8_t rd[16];

	(void)state;
	in.initrd = rd;
	in.initrd_size = sizeof(rd);
	expect_load_error(mem, &in, "vmlinux: ", "initrd");
	mem_free(mem);
}

static void set_phdr64(size_t size, unsigned i, unsigned field, uint64_t v)
{
	(void)size;
	w64(file + elf_phdr_off(1, i) + field, v);
}

/* Each mutation of a good file, and the message it must produce. */
static void test_bad_headers(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	size_t size;
	struct loader_input in;

	(void)state;
#define RESET() (size = build_kernel(NULL, 0, 1), in = input(size))
	RESET();
	w64(file + 32, size);                       /* e_phoff at the end */
	expect_load_error(mem, &in, "vmlinux: ", "program headers");
	RESET();
	w64(file + 32, UINT64_MAX - 8);             /* e_phoff wrapping */
	expect_load_error(mem, &in, "program headers", NULL);
	RESET();
	w16(file + 56, 0x400);                      /* e_phnum past the file */
	expect_load_error(mem, &in, "program headers", NULL);
	RESET();
	w16(file + 56, 0);
	expect_load_error(mem, &in, "no program headers", NULL);
	RESET();
	w16(file + 54, 32);                         /* e_phentsize too small */
	expect_load_error(mem, &in, "program header size", NULL);
	RESET();
	set_phdr64(size, 1, 8, size - 0x10);        /* p_offset: data past the end */
	expect_load_error(mem, &in, "segment 1", "past the end of the file");
	RESET();
	set_phdr64(size, 1, 8, UINT64_MAX - 0x10);  /* p_offset wrapping */
	expect_load_error(mem, &in, "segment 1", "past the end of the file");
	RESET();
	set_phdr64(size, 1, 32, 0x4000);            /* filesz > memsz */
	expect_load_error(mem, &in, "segment 1", "file size 0x4000 above");
	RESET();
	set_phdr64(size, 1, 24, 0x8000);            /* paddr in the boot structures */
	expect_load_error(mem, &in, "below 1 MiB", NULL);
	RESET();
	set_phdr64(size, 1, 24, MiB(64) - 0x1000);  /* runs off the end of RAM */
	expect_load_error(mem, &in, "segment 1", "outside guest RAM");
	RESET();
	set_phdr64(size, 1, 24, UINT64_MAX - 0x1000); /* paddr + memsz wraps */
	expect_load_error(mem, &in, "segment 1", "outside guest RAM");
	RESET();
	set_phdr64(size, 1, 40, UINT64_MAX);        /* memsz absurd */
	expect_load_error(mem, &in, "segment 1", "outside guest RAM");
	RESET();
	w64(file + 24, 0x1234);                     /* e_entry outside every segment */
	expect_load_error(mem, &in, "entry point 0x1234", NULL);
	RESET();
	w16(file + 16, 3);                          /* ET_DYN */
	expect_load_error(mem, &in, "ELF type 3 is not an executable", NULL);
	RESET();
	w16(file + 18, 183);                        /* aarch64 */
	expect_load_error(mem, &in, "machine 183", NULL);
	RESET();
	file[5] = 2;                                /* big-endian */
	expect_load_error(mem, &in, "little-endian", NULL);
	RESET();
	file[4] = 3;
	expect_load_error(mem, &in, "ELF class 3", NULL);
	RESET();
	in.kernel_size = 40;                        /* truncated header */
	expect_load_error(mem, &in, "vmlinux: truncated ELF header", NULL);
	RESET();
	in.kernel_size = 60;                        /* ELF64 needs 64 bytes */
	expect_load_error(mem, &in, "truncated ELF header", NULL);
	RESET();
	w32(file + elf_phdr_off(1, 0), 6);          /* no PT_LOAD left */
	w32(file + elf_phdr_off(1, 1), 6);
	expect_load_error(mem, &in, "vmlinux: ELF file has no loadable segment", NULL);
#undef RESET
	mem_free(mem);
}

static void test_elf32_without_pvh_refused(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	struct loader_input in = input(build_kernel(NULL, 0, 0));

	(void)state;
	expect_load_error(mem, &in, "vmlinux: ELF32 image has neither a multiboot header nor a "
			  "PVH entry note", NULL);
	mem_free(mem);
}

static size_t pvh_note(uint8_t *buf, uint64_t entry, uint32_t descsz)
{
	uint8_t v[8];
	size_t n;

	w64(v, entry);
	/* Other notes come first, as in a real vmlinux. */
	n = build_note(buf, "GNU", 3, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	n += build_note(buf + n, "Xen", 6, "linux", 6);
	n += build_note(buf + n, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, v, descsz);
	return n;
}

static void check_pvh(const struct guest_mem *mem, const struct loader_result *res,
		      uint64_t entry, const char *cmdline)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	size_t n = e820_build(mem, map, E820_MAX_ENTRIES);
	const uint8_t *si = gp(mem, res->bsp.gpr[CPU_RBX], HVM_START_INFO_SIZE);
	uint64_t memmap = r64(si + HVM_SI_MEMMAP_PADDR);

	assert_int_equal(res->format, BOOT_FORMAT_PVH);
	assert_string_equal(boot_format_name(res->format), "PVH");
	/* 32-bit flat protected mode, paging off. */
	assert_int_equal(res->bsp.rip, entry);
	assert_int_equal(res->bsp.gpr[CPU_RBX], BOOT_INFO_ADDR);
	assert_int_equal(res->bsp.cr0, X86_CR0_PE | X86_CR0_ET);
	assert_int_equal(res->bsp.cr4, 0);
	assert_int_equal(res->bsp.efer, 0);
	assert_int_equal(res->bsp.cs.db, 1);
	assert_int_equal(res->bsp.cs.l, 0);
	assert_int_equal(res->bsp.cs.limit, 0xFFFFFFFFu);
	assert_int_equal(res->bsp.ds.limit, 0xFFFFFFFFu);
	assert_int_equal(res->bsp.tr.type, 11);
	assert_int_equal(res->bsp.tr.limit, 0x67);
	assert_int_equal(res->bsp.rflags & ((1 << 17) | (1 << 9) | (1 << 8)), 0);

	assert_int_equal(r32(si + HVM_SI_MAGIC), 0x336ec578);
	assert_int_equal(r32(si + HVM_SI_VERSION), 1);
	assert_int_equal(r32(si + HVM_SI_FLAGS), 0);
	assert_int_equal(r64(si + HVM_SI_RSDP_PADDR), ACPI_RSDP_ADDR);
	assert_string_equal((const char *)gp(mem, r64(si + HVM_SI_CMDLINE_PADDR),
					     strlen(cmdline) + 1), cmdline);
	assert_int_equal(r32(si + HVM_SI_MEMMAP_ENTRIES), n);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = gp(mem, memmap + i * HVM_MEMMAP_ENTRY_SIZE, HVM_MEMMAP_ENTRY_SIZE);
		assert_int_equal(r64(e), map[i].addr);
		assert_int_equal(r64(e + 8), map[i].size);
		assert_int_equal(r32(e + 16), map[i].type);
		assert_int_equal(r32(e + 20), 0);
	}
}

static void test_pvh_note(void **state)
{
	struct guest_mem *mem = dirty_mem(MiB(128));
	uint8_t note[128];
	size_t nsz = pvh_note(note, MiB(2) + 0x40, 4);
	struct loader_input in = input(build_kernel(note, nsz, 1));
	static uint8_t rd[5000];
	struct loader_result res;
	const uint8_t *si, *mod;

	(void)state;
	fill(rd, sizeof(rd), 9);
	in.cmdline = "console=ttyS0 earlyprintk=serial";
	in.initrd = rd;
	in.initrd_size = sizeof(rd);
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	check_segments(mem);
	check_pvh(mem, &res, MiB(2) + 0x40, "console=ttyS0 earlyprintk=serial");

	si = gp(mem, BOOT_INFO_ADDR, HVM_START_INFO_SIZE);
	assert_int_equal(r32(si + HVM_SI_NR_MODULES), 1);
	mod = gp(mem, r64(si + HVM_SI_MODLIST_PADDR), HVM_MODLIST_ENTRY_SIZE);
	assert_int_equal(r64(mod), res.initrd_start);
	assert_int_equal(r64(mod + 8), sizeof(rd));
	assert_int_equal(r64(mod + 16), 0);
	assert_int_equal(res.initrd_size, sizeof(rd));
	assert_int_equal(res.initrd_start % 4096, 0);
	/* High in low RAM, clear of the kernel. */
	assert_true(res.initrd_start + sizeof(rd) <= MiB(128));
	assert_true(res.initrd_start >= MiB(128) - 0x3000);
	assert_memory_equal(gp(mem, res.initrd_start, sizeof(rd)), rd, sizeof(rd));
	mem_free(mem);
}

static void test_pvh_note_8_byte_and_elf32(void **state)
{
	struct guest_mem *mem = dirty_mem(MiB(64));
	uint8_t note[128];
	size_t nsz = pvh_note(note, MiB(2) + 0x80, 8);
	struct loader_input in = input(build_kernel(note, nsz, 1));
	struct loader_result res;

	(void)state;
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	check_pvh(mem, &res, MiB(2) + 0x80, "");
	assert_int_equal(r32(gp(mem, BOOT_INFO_ADDR + HVM_SI_NR_MODULES, 4)), 0);

	/* The same for an i386 ELF. */
	in = input(build_kernel(note, pvh_note(note, MiB(2) + 0x44, 4), 0));
	assert_int_equal(load_quiet(mem, &in, &res), 0);
	check_pvh(mem, &res, MiB(2) + 0x44, "");
	mem_free(mem);
}

static void test_pvh_bad_notes(void **state)
{
	struct guest_mem *mem = mem_new(MiB(64));
	uint8_t note[128];
	size_t size;
	struct loader_input in;

	(void)state;
	size = build_kernel(note, pvh_note(note, MiB(2), 2), 1);
	in = input(size);
	expect_load_error(mem, &in, "vmlinux: Xen PHYS32_ENTRY note has a 2-byte value", NULL);

	size = build_kernel(note, pvh_note(note, 0x100000000ull, 8), 1);
	in = input(size);
	expect_load_error(mem, &in, "not a 32-bit address", NULL);

	size = build_kernel(note, pvh_note(note, MiB(5), 4), 1);
	in = input(size);
	expect_load_error(mem, &in, "PVH entry point 0x500000 is not inside a loaded segment",
			  NULL);

	/* The note segment itself past the end of the file. */
	size = build_kernel(note, pvh_note(note, MiB(2), 4), 1);
	w64(file + elf_phdr_off(1, 2) + 8, size + 4);
	in = input(size);
	expect_load_error(mem, &in, "note segment 2", NULL);

	/* A truncated note list is just ignored: no PVH entry, ELF64 boot. */
	size = build_kernel(note, pvh_note(note, MiB(2), 4), 1);
	w64(file + elf_phdr_off(1, 2) + 32, 30);  /* filesz cuts the 2nd note */
	in = input(size);
	{
		struct loader_result res;
		assert_int_equal(load_quiet(mem, &in, &res), 0);
		assert_int_equal(res.format, BOOT_FORMAT_ELF64);
	}
	mem_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_elf64_loads_segments, setup),
		cmocka_unit_test_setup(test_elf64_refuses_initrd, setup),
		cmocka_unit_test_setup(test_bad_headers, setup),
		cmocka_unit_test_setup(test_elf32_without_pvh_refused, setup),
		cmocka_unit_test_setup(test_pvh_note, setup),
		cmocka_unit_test_setup(test_pvh_note_8_byte_and_elf32, setup),
		cmocka_unit_test_setup(test_pvh_bad_notes, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
