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

/* An AML Integer at *p in any of its encodings; *p moves past it. */
static uint64_t aml_integer(const uint8_t **p)
{
	const uint8_t *q = *p;

	switch (q[0]) {
	case 0x00: *p = q + 1; return 0;              /* ZeroOp */
	case 0x01: *p = q + 1; return 1;              /* OneOp */
	case 0x0A: *p = q + 2; return q[1];           /* BytePrefix */
	case 0x0B: *p = q + 3; return r16(q + 1);     /* WordPrefix */
	case 0x0C: *p = q + 5; return r32(q + 1);     /* DWordPrefix */
	case 0x0E: *p = q + 9; return r64(q + 1);     /* QWordPrefix */
	}
	fail_msg("not an AML integer: opcode 0x%02x", q[0]);
	return 0;
}

/* The EISA id of a 7-character PNP id, compressed as the spec says:
 * three 5-bit letters, then four hex digits, stored big-endian. */
static uint32_t eisa_id(const char *id)
{
	uint32_t v = (uint32_t)(id[0] - 0x40) << 26 | (uint32_t)(id[1] - 0x40) << 21 |
		     (uint32_t)(id[2] - 0x40) << 16 | (uint32_t)strtoul(id + 3, NULL, 16);

	return __builtin_bswap32(v);
}

/* An address space descriptor (word 0x88, dword 0x87, qword 0x8A),
 * widened. */
struct space {
	uint8_t type, general, specific;
	uint64_t gra, min, max, tra, len;
};

static struct space address_space(const uint8_t *r)
{
	unsigned w = r[0] == 0x88 ? 2 : r[0] == 0x87 ? 4 : 8;
	const uint8_t *f = r + 6;
	struct space s = { r[3], r[4], r[5], 0, 0, 0, 0, 0 };
	uint64_t *field[] = { &s.gra, &s.min, &s.max, &s.tra, &s.len };

	/* 3 bytes of flags, 5 fields, no resource source. */
	assert_int_equal(r16(r + 1), 3 + 5 * w);
	for (unsigned i = 0; i < 5; i++, f += w)
		*field[i] = w == 2 ? r16(f) : w == 4 ? r32(f) : r64(f);
	/* A fixed window: _LEN is _MAX - _MIN + 1 (ACPI 6.x table 6.44). */
	assert_int_equal(s.general & 0x0C, 0x0C);
	assert_int_equal(s.len, s.max - s.min + 1);
	assert_int_equal(s.gra, 0);
	assert_int_equal(s.tra, 0);
	return s;
}

/* PCI0's _CRS, a resource template of len bytes: the bus range, the config
 * ports, the two I/O windows and the memory window, nothing else. */
static void check_pci0_crs(const uint8_t *r, size_t len)
{
	const uint8_t *end = r + len;
	unsigned buses = 0, ports = 0, io = 0, memory = 0;
	bool tagged = false;

	while (r < end) {
		size_t size;
		struct space s;

		assert_false(tagged);                 /* the end tag is last */
		if (!(r[0] & 0x80)) {                 /* small item */
			size = 1 + (r[0] & 7);
			assert_true(r + size <= end);
			switch (r[0] >> 3) {
			case 0x08:                    /* I/O port */
				assert_int_equal(size, 8);
				assert_int_equal(r[1], 1);        /* 16-bit decode */
				assert_int_equal(r16(r + 2), 0xCF8);
				assert_int_equal(r16(r + 4), 0xCF8);
				assert_int_equal(r[6], 1);
				assert_int_equal(r[7], 8);
				ports++;
				break;
			case 0x0F:                    /* end tag */
				assert_int_equal(size, 2);
				assert_int_equal(r[1], 0);
				tagged = true;
				break;
			default:
				fail_msg("unexpected small resource 0x%02x in PCI0's _CRS", r[0]);
			}
			r += size;
			continue;
		}
		size = 3 + r16(r + 1);
		assert_true(r + size <= end);
		assert_true(r[0] == 0x87 || r[0] == 0x88 || r[0] == 0x8A);
		s = address_space(r);
		/* A producer: the bridge decodes these for the devices below. */
		assert_int_equal(s.general & 0x03, 0);
		switch (s.type) {
		case 2:                               /* bus numbers: 0 only */
			assert_int_equal(s.min, 0);
			assert_int_equal(s.max, 0);
			assert_int_equal(s.specific, 0);
			buses++;
			break;
		case 1:                               /* I/O, around the config ports */
			assert_int_equal(s.specific & 3, 3);      /* entire range */
			if (s.min == 0)
				assert_int_equal(s.max, 0xCF7);
			else if (s.min == 0xD00)
				assert_int_equal(s.max, 0xFFFF);
			else
				fail_msg("unexpected I/O window 0x%llx", (unsigned long long)s.min);
			io++;
			break;
		case 0:                               /* memory: the BAR window */
			assert_int_equal(s.min, PCI_MMIO_START);
			assert_int_equal(s.max, PCI_MMIO_END - 1);
			assert_int_equal(s.specific & 1, 1);      /* read-write */
			assert_int_equal((s.specific >> 1) & 3, 0); /* non-cacheable */
			assert_int_equal((s.specific >> 3) & 3, 0); /* memory, not reserved */
			memory++;
			break;
		default:
			fail_msg("unexpected address space type %u", s.type);
		}
		r += size;
	}
	assert_ptr_equal(r, end);
	assert_true(tagged);
	assert_int_equal(buses, 1);
	assert_int_equal(ports, 1);
	assert_int_equal(io, 2);
	assert_int_equal(memory, 1);
}

/* A PackageOp at *p: its NumElements, *end where its PkgLength says it
 * stops; *p moves to its first element. */
static unsigned aml_package(const uint8_t **p, const uint8_t **end)
{
	unsigned n;
	uint32_t len;

	assert_int_equal((*p)[0], 0x12);
	len = pkglength(*p + 1, &n);
	*end = *p + 1 + len;
	*p += 1 + n + 1;
	return (*p)[-1];
}

/* PCI0's _PRT: one entry per route, in order, each
 * { (slot << 16) | 0xFFFF, pin - 1, 0, gsi }. */
static const uint8_t *check_prt(const uint8_t *p, const struct loader_pci_intx *pci, unsigned npci)
{
	const uint8_t *end, *e_end;

	assert_int_equal(aml_package(&p, &end), npci);
	for (unsigned i = 0; i < npci; i++) {
		assert_int_equal(aml_package(&p, &e_end), 4);
		assert_int_equal(aml_integer(&p), (uint64_t)pci[i].slot << 16 | 0xFFFF);
		assert_int_equal(aml_integer(&p), pci[i].pin - 1);
		assert_int_equal(aml_integer(&p), 0);  /* no link device */
		assert_int_equal(aml_integer(&p), pci[i].gsi);
		assert_ptr_equal(p, e_end);
	}
	assert_ptr_equal(p, end);
	return p;
}

/* Device (PCI0): its names in any order, each once; returns the bytes it
 * took. */
static size_t check_pci0(const uint8_t *p, const struct loader_pci_intx *pci, unsigned npci)
{
	const uint8_t *q, *end;
	bool hid = false, uid = false, seg = false, bbn = false, crs = false, prt = false;
	unsigned n;
	uint32_t len;

	assert_int_equal(p[0], 0x5B);                 /* DeviceOp */
	assert_int_equal(p[1], 0x82);
	len = pkglength(p + 2, &n);
	end = p + 2 + len;
	q = p + 2 + n;
	assert_memory_equal(q, "PCI0", 4);
	q += 4;
	while (q < end) {
		char name[5] = { 0 };

		assert_int_equal(q[0], 0x08);         /* NameOp */
		memcpy(name, q + 1, 4);
		q += 5;
		if (strcmp(name, "_HID") == 0) {
			assert_false(hid);
			assert_int_equal(aml_integer(&q), eisa_id("PNP0A03"));
			hid = true;
		} else if (strcmp(name, "_UID") == 0 || strcmp(name, "_SEG") == 0 ||
			   strcmp(name, "_BBN") == 0) {
			bool *seen = name[1] == 'U' ? &uid : name[1] == 'S' ? &seg : &bbn;

			assert_false(*seen);
			assert_int_equal(aml_integer(&q), 0);
			*seen = true;
		} else if (strcmp(name, "_CRS") == 0) {
			const uint8_t *b_end;
			uint64_t size;

			assert_false(crs);
			assert_int_equal(q[0], 0x11);         /* BufferOp */
			len = pkglength(q + 1, &n);
			b_end = q + 1 + len;
			q += 1 + n;
			size = aml_integer(&q);
			/* The buffer's size is what its PkgLength leaves. */
			assert_int_equal(q + size, b_end);
			check_pci0_crs(q, (size_t)size);
			q = b_end;
			crs = true;
		} else if (strcmp(name, "_PRT") == 0) {
			assert_false(prt);
			q = check_prt(q, pci, npci);
			prt = true;
		} else {
			fail_msg("unexpected name %s in PCI0", name);
		}
	}
	assert_ptr_equal(q, end);
	assert_true(hid && uid && seg && bbn && crs);
	/* No routes, no _PRT: ACPICA calls an empty one malformed. */
	assert_int_equal(prt, npci != 0);
	return (size_t)(end - p);
}

static void check_dsdt_pci(const uint8_t *d, const struct loader_virtio_mmio *v, unsigned nv,
			   const struct loader_pci_intx *pci, unsigned npci)
{
	static const uint8_t s5[] = {
		0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
		0x0A, ACPI_S5_SLP_TYP, 0x0A, ACPI_S5_SLP_TYP, 0x00, 0x00,
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
	p = scope + 1 + n;
	assert_memory_equal(p, "\\_SB_", 5);
	p += 5;
	p += check_pci0(p, pci, npci);
	for (unsigned i = 0; i < nv; i++)
		p += check_virtio_device(p, i, &v[i]);
	assert_ptr_equal(p, d + len);
}

static void check_dsdt(const uint8_t *d, const struct loader_virtio_mmio *v, unsigned nv)
{
	check_dsdt_pci(d, v, nv, NULL, 0);
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

static void check_with_pci(unsigned ncpus, const struct loader_virtio_mmio *v, unsigned nv,
			   const struct loader_pci_intx *pci, unsigned npci)
{
	struct guest_mem *mem = mem_new(MiB(16));
	uint64_t rsdp = 0;
	struct parsed t;

	assert_int_equal(acpi_write_tables(mem, ncpus, v, nv, pci, npci, &rsdp), 0);
	t = parse(mem, rsdp);
	check_fadt(mem, &t);
	check_dsdt_pci(t.dsdt, v, nv, pci, npci);
	/* GSIs 16 and up need no override: the _CRS says level, high. */
	check_madt(t.madt, ncpus);
	mem_free(mem);
}

static void check_with(unsigned ncpus, const struct loader_virtio_mmio *v, unsigned nv)
{
	check_with_pci(ncpus, v, nv, NULL, 0);
}

static void check(unsigned ncpus)
{
	check_with(ncpus, NULL, 0);
}

static void test_1cpu(void **state) { (void)state; check(1); }
static void test_4cpus(void **state) { (void)state; check(4); }
static void test_64cpus(void **state) { (void)state; check(64); }
static void test_max_cpus(void **state) { (void)state; check(ACPI_MAX_CPUS); }

static void test_one_virtio_mmio(void **state)
{
	struct loader_virtio_mmio v = mmio_slot(0);

	(void)state;
	check_with(1, &v, 1);
}

/* Eight devices: the scope's PkgLength needs two bytes. */
static void test_max_virtio_mmio(void **state)
{
	struct loader_virtio_mmio v[ACPI_MAX_VIRTIO_MMIO];

	(void)state;
	for (unsigned i = 0; i < ACPI_MAX_VIRTIO_MMIO; i++)
		v[i] = mmio_slot(i);
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
		v[i] = mmio_slot(i % 8);
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 1, v, ACPI_MAX_VIRTIO_MMIO + 1, NULL, 0, &rsdp), -1);
	assert_non_null(strstr(capture_end(), "virtio-mmio"));
	v[0].gsi = 5;       /* an ISA IRQ: edge unless overridden */
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 1, v, 1, NULL, 0, &rsdp), -1);
	assert_non_null(strstr(capture_end(), "GSI 5"));
	v[0] = mmio_slot(0);
	v[0].gsi = 24;      /* past the IOAPIC */
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 1, v, 1, NULL, 0, &rsdp), -1);
	capture_end();
	v[0] = mmio_slot(0);
	v[0].base = 0xFFFFFF00;   /* Memory32Fixed cannot reach past 4 GiB */
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 1, v, 1, NULL, 0, &rsdp), -1);
	capture_end();
	mem_free(mem);
}

static void test_bad_ncpus(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	uint64_t rsdp = 0;

	(void)state;
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 0, NULL, 0, NULL, 0, &rsdp), -1);
	assert_non_null(strstr(capture_end(), "vCPUs"));
	capture_begin();
	assert_int_equal(acpi_write_tables(mem, ACPI_MAX_CPUS + 1, NULL, 0, NULL, 0, &rsdp), -1);
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
 * finds them on its command line or in the device tree) not: never both. */
static void test_via_loader_virtio(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	static const uint8_t junk[64] = { 1 };
	struct loader_virtio_mmio v[2] = { mmio_slot(0), mmio_slot(1) };
	struct loader_input in = { .kernel = junk, .kernel_size = sizeof(junk),
				   .kernel_path = "junk", .ncpus = 1,
				   .virtio_mmio = v, .n_virtio_mmio = 2 };
	struct loader_result out;
	struct parsed t;

	(void)state;
	for (int a = VIRTIO_MMIO_IN_DSDT; a <= VIRTIO_MMIO_IN_DT; a++) {
		bool in_dsdt = a == VIRTIO_MMIO_IN_DSDT;

		in.virtio_mmio_announce = (enum virtio_mmio_announce)a;
		capture_begin();
		assert_int_equal(loader_load(mem, &in, &out), -1);
		capture_end();
		t = parse(mem, ACPI_RSDP_ADDR);
		check_fadt(mem, &t);
		check_dsdt(t.dsdt, in_dsdt ? v : NULL, in_dsdt ? 2 : 0);
	}
	mem_free(mem);
}

static void test_one_pci_route(void **state)
{
	struct loader_pci_intx r = intx_route(1, 1, 16);

	(void)state;
	check_with_pci(1, NULL, 0, &r, 1);
}

/* Every field at its extremes: slot 31, pin INTD#, GSI 23; two slots
 * sharing a GSI, as INTx lines may. */
static void test_pci_route_extremes(void **state)
{
	struct loader_pci_intx r[] = {
		intx_route(31, 4, 23), intx_route(1, 2, 17), intx_route(2, 1, 17), intx_route(30, 3, 16),
	};

	(void)state;
	check_with_pci(2, NULL, 0, r, 4);
}

/* The most routes next to the most virtio-mmio devices: PCI0's and the
 * scope's PkgLengths take two bytes, and the GSIs are apart. */
static void test_max_pci_routes(void **state)
{
	struct loader_virtio_mmio v[4];
	struct loader_pci_intx r[ACPI_MAX_PCI_INTX];

	(void)state;
	for (unsigned i = 0; i < 4; i++)
		v[i] = mmio_slot(i);
	for (unsigned i = 0; i < ACPI_MAX_PCI_INTX; i++)
		r[i] = intx_route(1 + i, 1 + i % 4, 20 + i % 4);
	check_with_pci(4, v, 4, r, ACPI_MAX_PCI_INTX);
	check_with_pci(ACPI_MAX_CPUS, NULL, 0, r, ACPI_MAX_PCI_INTX);
	for (unsigned i = 0; i < ACPI_MAX_PCI_INTX; i++)
		r[i] = intx_route(1 + i, 1, 16 + i);
	check_with_pci(1, NULL, 0, r, ACPI_MAX_PCI_INTX);
}

/* The largest DSDT that can be: seven virtio-mmio devices on GSIs 16-22,
 * and every route sharing the last one. */
static void test_largest_dsdt(void **state)
{
	struct loader_virtio_mmio v[ACPI_MAX_VIRTIO_MMIO - 1];
	struct loader_pci_intx r[ACPI_MAX_PCI_INTX];

	(void)state;
	for (unsigned i = 0; i < ACPI_MAX_VIRTIO_MMIO - 1; i++)
		v[i] = mmio_slot(i);
	for (unsigned i = 0; i < ACPI_MAX_PCI_INTX; i++)
		r[i] = intx_route(1 + i / 4, 1 + i % 4, 23);
	check_with_pci(ACPI_MAX_CPUS, v, ACPI_MAX_VIRTIO_MMIO - 1, r, ACPI_MAX_PCI_INTX);
}

static void expect_refused(const struct loader_virtio_mmio *v, unsigned nv,
			   const struct loader_pci_intx *r, unsigned nr, const char *frag)
{
	struct guest_mem *mem = mem_new(MiB(16));
	uint64_t rsdp = 0;
	const char *msg;

	capture_begin();
	assert_int_equal(acpi_write_tables(mem, 1, v, nv, r, nr, &rsdp), -1);
	msg = capture_end();
	assert_int_equal(count_lines(msg), 1);
	if (!strstr(msg, frag))
		fail_msg("message '%s' lacks '%s'", msg, frag);
	/* Nothing was written: no RSDP to find. */
	assert_int_equal(rsdp, 0);
	assert_memory_not_equal(gp(mem, ACPI_RSDP_ADDR, 8), "RSD PTR ", 8);
	mem_free(mem);
}

/* The route rules themselves are test_pci_intx.c's: the DSDT applies
 * them, with its own limit, before it writes anything. */
static void test_bad_pci_routes(void **state)
{
	struct loader_pci_intx r[ACPI_MAX_PCI_INTX + 1];

	(void)state;
	for (unsigned i = 0; i <= ACPI_MAX_PCI_INTX; i++)
		r[i] = intx_route(1 + i, 1, 16);
	expect_refused(NULL, 0, r, ACPI_MAX_PCI_INTX + 1, "PCI INTx routes");
	r[0] = intx_route(0, 1, 16);               /* the host bridge's slot */
	expect_refused(NULL, 0, r, 1, "slot 0 pin 1 -> GSI 16 cannot be described in the DSDT");
}

/* Through loader_load: the routes reach the DSDT whether or not the
 * virtio-mmio devices do. */
static void test_via_loader_pci(void **state)
{
	struct guest_mem *mem = mem_new(MiB(16));
	static const uint8_t junk[64] = { 1 };
	struct loader_virtio_mmio v[2] = { mmio_slot(0), mmio_slot(1) };
	struct loader_pci_intx r[3] = { intx_route(1, 1, 20), intx_route(2, 1, 21), intx_route(2, 2, 22) };
	struct loader_input in = { .kernel = junk, .kernel_size = sizeof(junk),
				   .kernel_path = "junk", .ncpus = 2,
				   .virtio_mmio = v, .n_virtio_mmio = 2,
				   .virtio_mmio_announce = VIRTIO_MMIO_IN_DSDT,
				   .pci_intx = r, .n_pci_intx = 3 };
	struct loader_result out;
	struct parsed t;

	(void)state;
	capture_begin();
	assert_int_equal(loader_load(mem, &in, &out), -1);
	capture_end();
	t = parse(mem, ACPI_RSDP_ADDR);
	check_fadt(mem, &t);
	check_dsdt_pci(t.dsdt, v, 2, r, 3);

	in.virtio_mmio_announce = VIRTIO_MMIO_ON_CMDLINE;
	capture_begin();
	assert_int_equal(loader_load(mem, &in, &out), -1);
	capture_end();
	t = parse(mem, ACPI_RSDP_ADDR);
	check_fadt(mem, &t);
	check_dsdt_pci(t.dsdt, NULL, 0, r, 3);
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
		cmocka_unit_test(test_one_pci_route),
		cmocka_unit_test(test_pci_route_extremes),
		cmocka_unit_test(test_max_pci_routes),
		cmocka_unit_test(test_largest_dsdt),
		cmocka_unit_test(test_bad_pci_routes),
		cmocka_unit_test(test_via_loader_pci),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
