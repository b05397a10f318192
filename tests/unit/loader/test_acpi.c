#include "fixtures.h"

#include "loader/acpi.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Finds the RSDP the way Linux does without a hint: a 16-byte aligned
 * "RSD PTR " with a good checksum in 0xE0000-0xFFFFF. */
static uint64_t find_rsdp(const struct guest_mem *mem)
{
	const uint8_t *p = gp(mem, 0xE0000, 0x20000);

	for (uint64_t off = 0; off < 0x20000; off += 16) {
		if (memcmp(p + off, "RSD PTR ", 8) == 0 && sum(p + off, 20) == 0)
			return 0xE0000 + off;
	}
	fail_msg("no RSDP in the BIOS area");
	return 0;
}

/* A table with a good header: signature, length inside the window, sum 0. */
static const uint8_t *table(const struct guest_mem *mem, uint64_t gpa, const char *sig)
{
	const uint8_t *t = gp(mem, gpa, 36);
	uint32_t len = r32(t + 4);

	assert_memory_equal(t, sig, 4);
	assert_true(len >= 36);
	assert_true(gpa >= ACPI_TABLES_ADDR && gpa + len <= ACPI_TABLES_ADDR + ACPI_TABLES_SIZE);
	t = gp(mem, gpa, len);
	assert_int_equal(sum(t, len), 0);
	assert_memory_equal(t + 10, "WISP  ", 6);
	assert_memory_equal(t + 16, "WISPVM  ", 8);
	return t;
}

struct parsed {
	const uint8_t *fadt, *madt, *dsdt, *facs;
};

static struct parsed parse(const struct guest_mem *mem, uint64_t rsdp_addr)
{
	struct parsed out = { 0 };
	const uint8_t *r, *x;
	uint64_t rsdp = find_rsdp(mem);
	unsigned n;

	assert_int_equal(rsdp, rsdp_addr);
	assert_int_equal(rsdp, ACPI_RSDP_ADDR);
	r = gp(mem, rsdp, 36);
	assert_int_equal(r[15], 2);
	assert_int_equal(r32(r + 20), 36);
	assert_int_equal(sum(r, 36), 0);
	assert_memory_equal(r + 9, "WISP  ", 6);

	x = table(mem, r64(r + 24), "XSDT");
	assert_int_equal(x[8], 1);
	n = (r32(x + 4) - 36) / 8;
	assert_int_equal(r32(x + 4), 36 + 8 * n);
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = r64(x + 36 + 8 * i);
		const uint8_t *t = gp(mem, a, 4);

		if (memcmp(t, "FACP", 4) == 0) {
			assert_null(out.fadt);
			out.fadt = table(mem, a, "FACP");
		} else if (memcmp(t, "APIC", 4) == 0) {
			assert_null(out.madt);
			out.madt = table(mem, a, "APIC");
		} else {
			fail_msg("unexpected table %.4s in the XSDT", (const char *)t);
		}
	}
	assert_non_null(out.fadt);
	assert_non_null(out.madt);
	return out;
}

static void check_fadt(const struct guest_mem *mem, struct parsed *t)
{
	const uint8_t *f = t->fadt;
	uint32_t flags;

	assert_int_equal(r32(f + 4), 276);
	assert_int_equal(f[8], 6);
	/* FACS and DSDT, 32- and 64-bit pointers agreeing. */
	assert_int_equal(r32(f + 36), 0);            /* FACS via X_FIRMWARE_CTRL */
	assert_int_equal(r32(f + 40), r64(f + 140));
	t->facs = gp(mem, r64(f + 132), 64);
	assert_int_equal(r64(f + 132) % 64, 0);
	assert_memory_equal(t->facs, "FACS", 4);
	assert_int_equal(r32(t->facs + 4), 64);
	t->dsdt = table(mem, r64(f + 140), "DSDT");

	assert_int_equal(r16(f + 46), 9);            /* SCI_INT */
	assert_int_equal(r32(f + 48), 0);            /* SMI_CMD */
	assert_int_equal(r32(f + 56), ACPI_PM1A_EVT_PORT);
	assert_int_equal(r32(f + 60), 0);            /* no PM1b */
	assert_int_equal(r32(f + 64), ACPI_PM1A_CNT_PORT);
	assert_int_equal(r32(f + 68), 0);
	assert_int_equal(r32(f + 76), 0);            /* no PM timer */
	assert_int_equal(r32(f + 80), 0);            /* no GPE0 */
	assert_int_equal(f[88], 4);                  /* PM1_EVT_LEN */
	assert_int_equal(f[89], 2);                  /* PM1_CNT_LEN */
	assert_int_equal(f[91], 0);                  /* PM_TMR_LEN */
	assert_int_equal(r16(f + 109), 0x3);         /* LEGACY_DEVICES | 8042 */
	flags = r32(f + 112);
	assert_int_equal(flags & (1u << 20), 0);     /* not HW_REDUCED */
	assert_int_equal(flags & (1u << 10), 0);     /* no reset register */
	assert_true(flags & (1u << 0));              /* WBINVD */
	assert_true(flags & (1u << 2));              /* PROC_C1 */
	assert_true(flags & (1u << 4));              /* PWR_BUTTON */
	assert_true(flags & (1u << 5));              /* SLP_BUTTON */
	/* X_PM1a_EVT_BLK, X_PM1a_CNT_BLK: system I/O GAS. */
	assert_int_equal(f[148], 1);
	assert_int_equal(f[149], 32);
	assert_int_equal(r64(f + 152), ACPI_PM1A_EVT_PORT);
	assert_int_equal(f[172], 1);
	assert_int_equal(f[173], 16);
	assert_int_equal(r64(f + 176), ACPI_PM1A_CNT_PORT);
	assert_int_equal(f[208], 0);                 /* no X_PM_TMR_BLK */
}

static void check_dsdt(const uint8_t *d)
{
	static const uint8_t s5[] = {
		0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
		0x0A, ACPI_S5_SLP_TYP, 0x0A, ACPI_S5_SLP_TYP, 0x00, 0x00,
	};

	static const uint8_t pci0[] = {
		0x10, 0x1D, '\\', '_', 'S', 'B', '_',
		0x5B, 0x82, 0x15, 'P', 'C', 'I', '0',
		0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03,
		0x08, '_', 'U', 'I', 'D', 0x00,
	};

	assert_int_equal(d[8], 2);
	assert_int_equal(r32(d + 4), 36 + sizeof(s5) + sizeof(pci0));
	assert_memory_equal(d + 36, s5, sizeof(s5));
	/* The PkgLengths cover exactly what follows them. */
	assert_int_equal(sizeof(pci0), 1 + 0x1D);       /* ScopeOp + PkgLength */
	assert_int_equal(sizeof(pci0), 9 + 0x15);       /* ... DeviceOp + PkgLength */
	assert_memory_equal(d + 36 + sizeof(s5), pci0, sizeof(pci0));
}

static void check_madt(const uint8_t *m, unsigned ncpus)
{
	uint32_t len = r32(m + 4);
	unsigned cpus = 0, ioapics = 0, nmis = 0;
	bool iso0 = false, iso9 = false;

	assert_int_equal(r32(m + 36), LAPIC_BASE);
	assert_int_equal(r32(m + 40) & 1, 1);  /* PCAT_COMPAT */
	for (uint32_t off = 44; off < len;) {
		const uint8_t *e = m + off;

		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], cpus);         /* UID */
			assert_int_equal(e[3], cpus);         /* APIC ID */
			assert_int_equal(r32(e + 4), 1);      /* enabled */
			cpus++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], ncpus);
			assert_int_equal(r32(e + 4), IOAPIC_BASE);
			assert_int_equal(r32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0);
			if (e[3] == 0) {
				assert_int_equal(r32(e + 4), 2);
				assert_int_equal(r16(e + 8), 0x5);  /* edge, high */
				iso0 = true;
			} else if (e[3] == 9) {
				assert_int_equal(r32(e + 4), 9);
				assert_int_equal(r16(e + 8), 0xD);  /* level, high */
				iso9 = true;
			} else {
				fail_msg("unexpected override for IRQ %u", e[3]);
			}
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xFF);
			assert_int_equal(e[5], 1);  /* LINT1 */
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	assert_int_equal(cpus, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(nmis, 1);
	assert_true(iso0);
	assert_true(iso9);
}

static void check(unsigned ncpus)
{
	struct guest_mem *mem = mem_new(MiB(16));
	uint64_t rsdp = 0;
	struct parsed t;

	assert_int_equal(acpi_write_tables(mem, ncpus, &rsdp), 0);
	t = parse(mem, rsdp);
	check_fadt(mem, &t);
	check_dsdt(t.dsdt);
	check_madt(t.madt, ncpus);
	mem_free(mem);
}

static void test_1cpu(void **state) { (void)state; check(1); }
static void test_4cpus(void **state) { (void)state; check(4); }
static void test_64cpus(void **state) { (void)state; check(64); }
static void test_max_cpus(void **state) { (void)state; check(ACPI_MAX_CPUS); }

static void test_bad_ncpus(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	uint64_t rsdp = 0;

	(void)state;
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 0, &rsdp), -1);
	assert_non_null(strstr(capture_end(), "vCPUs"));
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, ACPI_MAX_CPUS + 1, &rsdp), -1);
	assert_non_null(strstr(capture_end(), "vCPUs"));
	mem_free(mem);
}

/* Through loader_load, the tables exist whatever the image format. */
static void test_via_loader(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	/* A minimal ELF64 would do; loader_load writes the tables before it
	 * looks at the image, so even a rejected image leaves them. */
	static const uint8_t junk[64] = { 1 };
	struct loader_input in = { .kernel = junk, .kernel_size = sizeof(junk),
				   .kernel_path = "junk", .ncpus = 2 };
	struct loader_result out;

	(void)state;
	capture_begin();
	assert_int_equal(loader_load(mem, &in, &out), -1);
	capture_end();
	check_madt(parse(mem, ACPI_RSDP_ADDR).madt, 2);
	mem_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_1cpu),
		cmocka_unit_test(test_4cpus),
		cmocka_unit_test(test_64cpus),
		cmocka_unit_test(test_max_cpus),
		cmocka_unit_test(test_bad_ncpus),
		cmocka_unit_test(test_via_loader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
