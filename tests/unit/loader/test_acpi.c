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

/* An AML PkgLength at p: the length it encodes (itself included) and, in
 * *n, the bytes it takes. */
static uint32_t pkglength(const uint8_t *p, unsigned *n)
{
	unsigned extra = p[0] >> 6;
	uint32_t len;

	if (extra == 0) {
		*n = 1;
		return p[0] & 0x3F;
	}
	assert_int_equal(p[0] & 0x30, 0);  /* bits 5:4 reserved with extra bytes */
	len = p[0] & 0x0F;
	for (unsigned i = 1; i <= extra; i++)
		len |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	*n = extra + 1;
	return len;
}

/* Device (VRnn) for virtio-mmio device i: checked field by field from the
 * ACPI and virtio specs' encodings; returns the bytes it took. */
static size_t check_virtio_device(const uint8_t *p, unsigned i, const struct loader_virtio_mmio *v)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *body, *crs, *r;
	unsigned n;
	uint32_t len;

	assert_int_equal(p[0], 0x5B);                 /* DeviceOp */
	assert_int_equal(p[1], 0x82);
	len = pkglength(p + 2, &n);
	body = p + 2 + n;
	assert_int_equal(body[0], 'V');
	assert_int_equal(body[1], 'R');
	assert_int_equal(body[2], hex[i >> 4]);
	assert_int_equal(body[3], hex[i & 0xF]);
	/* Name (_HID, "LNRO0005") */
	assert_memory_equal(body + 4, "\x08_HID\x0DLNRO0005", 15);
	/* Name (_UID, i) */
	assert_memory_equal(body + 19, "\x08_UID\x0A", 6);
	assert_int_equal(body[25], i);
	/* Name (_CRS, Buffer (23) { ... }) */
	crs = body + 26;
	assert_memory_equal(crs, "\x08_CRS\x11", 6);
	assert_int_equal(crs[6], 1 + 2 + 23);         /* PkgLength */
	assert_int_equal(crs[7], 0x0A);               /* BytePrefix */
	assert_int_equal(crs[8], 23);                 /* buffer size */
	r = crs + 9;
	/* Memory32Fixed (ReadWrite, base, size) */
	assert_int_equal(r[0], 0x86);
	assert_int_equal(r16(r + 1), 9);
	assert_int_equal(r[3], 1);
	assert_int_equal(r32(r + 4), v->base);
	assert_int_equal(r32(r + 8), v->size);
	/* Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) { gsi } */
	r += 12;
	assert_int_equal(r[0], 0x89);
	assert_int_equal(r16(r + 1), 6);
	assert_int_equal(r[3], 0x01);
	assert_int_equal(r[4], 1);
	assert_int_equal(r32(r + 5), v->gsi);
	/* EndTag, no checksum */
	r += 9;
	assert_int_equal(r[0], 0x79);
	assert_int_equal(r[1], 0);
	r += 2;
	/* The device's PkgLength covers exactly its body. */
	assert_int_equal(len, n + (size_t)(r - body));
	return (size_t)(r - p);
}

static void check_dsdt(const uint8_t *d, const struct loader_virtio_mmio *v, unsigned nv)
{
	static const uint8_t s5[] = {
		0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
		0x0A, ACPI_S5_SLP_TYP, 0x0A, ACPI_S5_SLP_TYP, 0x00, 0x00,
	};
	static const uint8_t pci0[] = {
		0x5B, 0x82, 0x15, 'P', 'C', 'I', '0',
		0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03,
		0x08, '_', 'U', 'I', 'D', 0x00,
	};
	const uint8_t *scope = d + 36 + sizeof(s5), *p;
	uint32_t len = r32(d + 4), scope_len;
	unsigned n;

	assert_int_equal(d[8], 2);
	assert_memory_equal(d + 36, s5, sizeof(s5));
	assert_int_equal(scope[0], 0x10);             /* ScopeOp */
	scope_len = pkglength(scope + 1, &n);
	/* The scope runs to the end of the table. */
	assert_int_equal(36 + sizeof(s5) + 1 + scope_len, len);
	if (nv == 0)
		assert_int_equal(n, 1);               /* the table as before virtio */
	p = scope + 1 + n;
	assert_memory_equal(p, "\\_SB_", 5);
	p += 5;
	assert_int_equal(sizeof(pci0), 3 + 0x15 - 1);  /* DeviceOp + PkgLength */
	assert_memory_equal(p, pci0, sizeof(pci0));
	p += sizeof(pci0);
	for (unsigned i = 0; i < nv; i++)
		p += check_virtio_device(p, i, &v[i]);
	assert_ptr_equal(p, d + len);
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

static void check_with(unsigned ncpus, const struct loader_virtio_mmio *v, unsigned nv)
{
	struct guest_mem *mem = mem_new(MiB(16));
	uint64_t rsdp = 0;
	struct parsed t;

	assert_int_equal(acpi_write_tables(mem, ncpus, v, nv, &rsdp), 0);
	t = parse(mem, rsdp);
	check_fadt(mem, &t);
	check_dsdt(t.dsdt, v, nv);
	/* GSIs 16 and up need no override: the _CRS says level, high. */
	check_madt(t.madt, ncpus);
	mem_free(mem);
}

static void check(unsigned ncpus)
{
	check_with(ncpus, NULL, 0);
}

static void test_1cpu(void **state) { (void)state; check(1); }
static void test_4cpus(void **state) { (void)state; check(4); }
static void test_64cpus(void **state) { (void)state; check(64); }
static void test_max_cpus(void **state) { (void)state; check(ACPI_MAX_CPUS); }

static struct loader_virtio_mmio slot(unsigned i)
{
	return (struct loader_virtio_mmio){
		.base = VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SLOT_SIZE, .size = 0x200, .gsi = 16 + i,
	};
}

static void test_one_virtio_mmio(void **state)
{
	struct loader_virtio_mmio v = slot(0);

	(void)state;
	check_with(1, &v, 1);
}

/* Eight devices: the scope's PkgLength needs two bytes. */
static void test_max_virtio_mmio(void **state)
{
	struct loader_virtio_mmio v[ACPI_MAX_VIRTIO_MMIO];

	(void)state;
	for (unsigned i = 0; i < ACPI_MAX_VIRTIO_MMIO; i++)
		v[i] = slot(i);
	check_with(4, v, ACPI_MAX_VIRTIO_MMIO);
	check_with(ACPI_MAX_CPUS, v, ACPI_MAX_VIRTIO_MMIO);
}

static void test_bad_virtio_mmio(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	struct loader_virtio_mmio v[ACPI_MAX_VIRTIO_MMIO + 1];
	uint64_t rsdp = 0;

	(void)state;
	for (unsigned i = 0; i <= ACPI_MAX_VIRTIO_MMIO; i++)
		v[i] = slot(i % 8);
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 1, v, ACPI_MAX_VIRTIO_MMIO + 1, &rsdp), -1);
	assert_non_null(strstr(capture_end(), "virtio-mmio"));
	v[0].gsi = 5;       /* an ISA IRQ: edge unless overridden */
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 1, v, 1, &rsdp), -1);
	assert_non_null(strstr(capture_end(), "GSI 5"));
	v[0] = slot(0);
	v[0].gsi = 24;      /* past the IOAPIC */
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 1, v, 1, &rsdp), -1);
	capture_end();
	v[0] = slot(0);
	v[0].base = 0xFFFFFF00;   /* Memory32Fixed cannot reach past 4 GiB */
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 1, v, 1, &rsdp), -1);
	capture_end();
	mem_free(mem);
}

static void test_bad_ncpus(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	uint64_t rsdp = 0;

	(void)state;
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 0, NULL, 0, &rsdp), -1);
	assert_non_null(strstr(capture_end(), "vCPUs"));
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, ACPI_MAX_CPUS + 1, NULL, 0, &rsdp), -1);
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

/* The loader puts the virtio-mmio devices in the DSDT, or (when the kernel
 * finds them on its command line) not: never both. */
static void test_via_loader_virtio(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	static const uint8_t junk[64] = { 1 };
	struct loader_virtio_mmio v[2] = { slot(0), slot(1) };
	struct loader_input in = { .kernel = junk, .kernel_size = sizeof(junk),
				   .kernel_path = "junk", .ncpus = 1,
				   .virtio_mmio = v, .n_virtio_mmio = 2,
				   .virtio_mmio_in_dsdt = true };
	struct loader_result out;
	struct parsed t;

	(void)state;
	capture_begin();
	assert_int_equal(loader_load(mem, &in, &out), -1);
	capture_end();
	t = parse(mem, ACPI_RSDP_ADDR);
	check_fadt(mem, &t);
	check_dsdt(t.dsdt, v, 2);

	in.virtio_mmio_in_dsdt = false;
	capture_begin();
	assert_int_equal(loader_load(mem, &in, &out), -1);
	capture_end();
	t = parse(mem, ACPI_RSDP_ADDR);
	check_fadt(mem, &t);
	check_dsdt(t.dsdt, NULL, 0);
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
		cmocka_unit_test(test_one_virtio_mmio),
		cmocka_unit_test(test_max_virtio_mmio),
		cmocka_unit_test(test_bad_virtio_mmio),
		cmocka_unit_test(test_via_loader_virtio),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
