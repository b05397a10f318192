/* hello: serial output, and what each boot path hands over. The same file
 * is built as hello-elf64, hello-pvh, hello-multiboot and hello-bzimage.
 *
 * Expected: --mem 128M, --cmdline HELLO_CMDLINE and --initrd
 * initrd-pattern.txt (not for ELF64, which has no way to pass them). */
#include "bootinfo.h"
#include "guest.h"

#define HELLO_CMDLINE "wisp-hello answer=42 mem_mib=128"
#define INITRD_PATTERN "WISP-INITRD-PATTERN 0123456789abcdef\n" \
	"This file is the --initrd of the hello guests.\n"
#define MiB (1024ull * 1024)

static uint64_t expected_mem(void)
{
	return cmdline_u64("mem_mib", 128) * MiB;
}

static void check_initrd(uint64_t addr, uint64_t size)
{
	const size_t len = sizeof(INITRD_PATTERN) - 1;
	note("initrd at %#lx, %lu bytes", (unsigned long)addr, (unsigned long)size);
	check(size == len, "initrd size is %lu bytes (got %lu)", (unsigned long)len, (unsigned long)size);
	check(addr >= 0x100000 && addr + size <= expected_mem(),
	      "initrd lies in RAM above 1 MiB");
	check(addr && !memcmp((const void *)addr, INITRD_PATTERN, size < len ? size : len),
	      "initrd holds the pattern file");
}

/* RAM map sanity: one usable range covers the image at 1 MiB, the ranges
 * add up to about --mem. */
static void check_ram_ranges(const char *what, uint64_t total, int covers_1m, unsigned n)
{
	uint64_t mem = expected_mem();
	note("%s: %u entries, %lu KiB usable", what, n, (unsigned long)(total >> 10));
	check(n > 0, "%s has entries", what);
	check(covers_1m, "%s has usable RAM from 1 MiB up past the image", what);
	check(total <= mem && total + 4 * MiB >= mem,
	      "%s usable RAM %lu KiB matches --mem %lu KiB", what,
	      (unsigned long)(total >> 10), (unsigned long)(mem >> 10));
}

static int covers_image(uint64_t addr, uint64_t size)
{
	extern const char __image_end[];
	return addr <= 0x100000 && addr + size >= (uint64_t)__image_end;
}

static void check_cmdline_exact(const char *s)
{
	check(!strcmp(s, HELLO_CMDLINE), "cmdline is \"%s\" (got \"%s\")", HELLO_CMDLINE, s);
}

static void hello_multiboot(void)
{
	const struct mb_info *mi = (const void *)boot_info_addr;

	check(boot_magic == MB_BOOTLOADER_MAGIC, "EAX = %#x (got %#x)", MB_BOOTLOADER_MAGIC, boot_magic);
	check(boot_info_addr && boot_info_addr < 0x100000000ull, "EBX -> multiboot info at %#lx",
	      (unsigned long)boot_info_addr);
	if (!boot_info_addr)
		return;
	note("flags %#x", mi->flags);
	if (check(mi->flags & MB_INFO_MEMORY, "mem_lower/mem_upper present")) {
		uint64_t mem = expected_mem();
		uint64_t upper = (uint64_t)mi->mem_upper * 1024;
		check(mi->mem_lower >= 512 && mi->mem_lower <= 640, "mem_lower = %u KiB", mi->mem_lower);
		check(upper + MiB <= mem && upper + MiB + 4 * MiB >= mem,
		      "mem_upper = %u KiB matches --mem %lu MiB", mi->mem_upper,
		      (unsigned long)(mem / MiB));
	}
	if (check(mi->flags & MB_INFO_MMAP, "memory map present")) {
		uint64_t total = 0;
		int cov = 0;
		unsigned n = 0;
		for (uint64_t p = mi->mmap_addr; p < (uint64_t)mi->mmap_addr + mi->mmap_length; n++) {
			const struct mb_mmap_entry *e = (const void *)p;
			if (e->type == 1) {
				total += e->len;
				cov |= covers_image(e->addr, e->len);
			}
			p += e->size + 4;
			if (e->size < 20 || n > 64)
				break;
		}
		check_ram_ranges("multiboot mmap", total, cov, n);
	}
	if (check(mi->flags & MB_INFO_CMDLINE, "cmdline present")) {
		const char *s = (const char *)(uint64_t)mi->cmdline;
		const char *sp = s;
		while (*sp && *sp != ' ')
			sp++;
		size_t first = (size_t)(sp - s);
		const char *name = "hello-multiboot";
		int found = 0;
		for (size_t i = 0; i + strlen(name) <= first; i++)
			found |= !strncmp(s + i, name, strlen(name));
		note("cmdline: \"%s\"", s);
		check(found, "cmdline's first word is the kernel path (names %s)", name);
		check_cmdline_exact(*sp ? sp + 1 : sp);
	}
	if (check((mi->flags & MB_INFO_MODS) && mi->mods_count == 1, "one module (got %u)",
		  (mi->flags & MB_INFO_MODS) ? mi->mods_count : 0)) {
		const struct mb_module *m = (const void *)(uint64_t)mi->mods_addr;
		check(!(m->mod_start & 0xFFF), "module is page aligned (flag 0 of the header)");
		check_initrd(m->mod_start, m->mod_end - m->mod_start);
	}
	if (mi->flags & MB_INFO_LOADER)
		note("boot loader: %s", (const char *)(uint64_t)mi->boot_loader_name);
}

static void hello_pvh(void)
{
	const struct hvm_start_info *si = (const void *)boot_info_addr;

	check(boot_info_addr != 0, "EBX -> hvm_start_info at %#lx", (unsigned long)boot_info_addr);
	if (!si)
		return;
	if (!check(si->magic == HVM_START_MAGIC, "magic %#x (got %#x)", HVM_START_MAGIC, si->magic))
		return;
	check(si->version >= 1, "version %u >= 1", si->version);
	note("flags %#x, rsdp %#lx", si->flags, (unsigned long)si->rsdp_paddr);
	if (check(si->cmdline_paddr != 0, "cmdline present"))
		check_cmdline_exact((const char *)si->cmdline_paddr);
	if (check(si->nr_modules == 1 && si->modlist_paddr, "one module (got %u)", si->nr_modules)) {
		const struct hvm_modlist_entry *m = (const void *)si->modlist_paddr;
		check_initrd(m->paddr, m->size);
	}
	if (check(si->memmap_paddr && si->memmap_entries, "memory map present")) {
		const struct hvm_memmap_entry *e = (const void *)si->memmap_paddr;
		uint64_t total = 0;
		int cov = 0;
		for (unsigned i = 0; i < si->memmap_entries && i < 128; i++)
			if (e[i].type == 1) {
				total += e[i].size;
				cov |= covers_image(e[i].addr, e[i].size);
			}
		check_ram_ranges("PVH memmap", total, cov, si->memmap_entries);
	}
}

static void hello_bzimage(void)
{
	const uint8_t *bp = (const void *)boot_info_addr;

	check(bp != 0, "RSI -> boot_params at %#lx", (unsigned long)boot_info_addr);
	if (!bp)
		return;
	check(!memcmp(bp + BP_HEADER_MAGIC, "HdrS", 4), "boot_params holds the setup header (\"HdrS\")");
	note("protocol %#x, type_of_loader %#x", *(const uint16_t *)(bp + BP_VERSION),
	     bp[BP_TYPE_OF_LOADER]);
	unsigned n = bp[BP_E820_ENTRIES];
	const struct e820_entry *e = (const void *)(bp + BP_E820_TABLE);
	uint64_t total = 0;
	int cov = 0;
	for (unsigned i = 0; i < n && i < 128; i++)
		if (e[i].type == 1) {
			total += e[i].size;
			cov |= covers_image(e[i].addr, e[i].size);
		}
	check_ram_ranges("e820", total, cov, n);
	uint32_t cmd = *(const uint32_t *)(bp + BP_CMD_LINE_PTR);
	if (check(cmd != 0, "cmd_line_ptr set (%#x)", cmd))
		check_cmdline_exact((const char *)(uint64_t)cmd);
	uint64_t rd = *(const uint32_t *)(bp + BP_RAMDISK_IMAGE) |
		      (uint64_t)*(const uint32_t *)(bp + BP_EXT_RAMDISK_IMAGE) << 32;
	uint64_t rs = *(const uint32_t *)(bp + BP_RAMDISK_SIZE) |
		      (uint64_t)*(const uint32_t *)(bp + BP_EXT_RAMDISK_SIZE) << 32;
	if (check(rd && rs, "ramdisk_image/ramdisk_size set"))
		check_initrd(rd, rs);
}

static void hello_elf64(void)
{
	const uint64_t *r = entry_regs;

	check(r[ENTRY_CS] == 0x10, "CS = 0x10 (got %#lx)", (unsigned long)r[ENTRY_CS]);
	check(r[ENTRY_DS] == 0x18 && r[ENTRY_ES] == 0x18 && r[ENTRY_SS] == 0x18,
	      "DS/ES/SS = 0x18 (got %#lx/%#lx/%#lx)", (unsigned long)r[ENTRY_DS],
	      (unsigned long)r[ENTRY_ES], (unsigned long)r[ENTRY_SS]);
	check((r[ENTRY_CR0] & (CR0_PE | CR0_PG)) == (CR0_PE | CR0_PG), "CR0.PE and CR0.PG set (CR0 %#lx)",
	      (unsigned long)r[ENTRY_CR0]);
	check(r[ENTRY_CR4] & CR4_PAE, "CR4.PAE set (CR4 %#lx)", (unsigned long)r[ENTRY_CR4]);
	check((r[ENTRY_EFER] & (EFER_LME | EFER_LMA)) == (EFER_LME | EFER_LMA),
	      "EFER.LME and EFER.LMA set (EFER %#lx)", (unsigned long)r[ENTRY_EFER]);
	check(!(r[ENTRY_RFLAGS] & RFLAGS_IF), "interrupts off (RFLAGS %#lx)", (unsigned long)r[ENTRY_RFLAGS]);
	check(r[ENTRY_RSP] == 0x8F000, "RSP = 0x8f000 (got %#lx)", (unsigned long)r[ENTRY_RSP]);
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr, idtr;
	memcpy(&gdtr, &r[ENTRY_GDTR], sizeof(gdtr));
	memcpy(&idtr, &r[ENTRY_IDTR], sizeof(idtr));
	check(gdtr.base == 0x500 && gdtr.limit >= 0x1F && gdtr.limit < 0x80,
	      "boot GDT at 0x500 (base %#lx, limit %#x)", (unsigned long)gdtr.base, gdtr.limit);
	if (gdtr.base == 0x500 && gdtr.limit >= 0x1F) {
		const uint64_t *gdt = phys(0x500);
		check(((gdt[2] >> 40) & 0x9A) == 0x9A && (gdt[2] >> 53) & 1,
		      "GDT entry 0x10 is 64-bit code (%#lx)", (unsigned long)gdt[2]);
		check(((gdt[3] >> 40) & 0x92) == 0x92, "GDT entry 0x18 is data (%#lx)",
		      (unsigned long)gdt[3]);
	}
	check(idtr.limit == 0, "IDTR limit 0 (got %#x, base %#lx)", idtr.limit, (unsigned long)idtr.base);
	check((r[ENTRY_CR3] & ~0xFFFull) >= 0x9000 && (r[ENTRY_CR3] & ~0xFFFull) < 0xF000,
	      "CR3 in the boot page tables at 0x9000-0xefff (got %#lx)", (unsigned long)r[ENTRY_CR3]);
}

int guest_main(void)
{
	printf("Hello from a wisp test guest!\n");
	checks_begin("hello", 0x10);
	switch (boot_kind) {
	case BOOT_MULTIBOOT: hello_multiboot(); break;
	case BOOT_PVH: hello_pvh(); break;
	case BOOT_BZIMAGE: hello_bzimage(); break;
	case BOOT_ELF64: hello_elf64(); break;
	default: check(0, "known boot path (boot_kind %u)", boot_kind);
	}
	return checks_end();
}
