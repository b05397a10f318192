#include "fixtures.h"

#include "loader/mptable.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Finds the floating pointer the way a guest does: a 16-byte aligned
 * "_MP_" with a good checksum in the first KiB of the EBDA. */
static uint64_t find_mpf(const struct guest_mem *mem)
{
	uint64_t ebda = (uint64_t)r16(gp(mem, BIOS_BDA_EBDA_SEG, 2)) << 4;
	const uint8_t *p = gp(mem, ebda, 1024);

	for (uint64_t off = 0; off < 1024; off += 16) {
		if (memcmp(p + off, "_MP_", 4) == 0 && p[off + 8] == 1 &&
		    sum(p + off, 16) == 0)
			return ebda + off;
	}
	fail_msg("no MP floating pointer in the EBDA at 0x%llx", (unsigned long long)ebda);
	return 0;
}

static void check_table_pci(unsigned ncpus, const struct loader_virtio_mmio *v, unsigned nv,
			    const struct loader_pci_intx *pci, unsigned npci)
{
	struct guest_mem *mem = mem_new(MiB(16));
	uint64_t mpf, mpc_addr;
	const uint8_t *f, *c, *e;
	unsigned len, count, n_io = 0, n_lint = 0, last_type = 0, n_pci = 0;
	uint8_t ioapic_id;
	int pins[24];
	/* [slot][pin - 1]: the GSI the table routes it to, or -1. */
	int pci_gsi[32][4];

	memset(pci_gsi, 0xff, sizeof(pci_gsi));
	assert_int_equal(mptable_write(mem, ncpus, v, nv, pci, npci), 0);
	assert_int_equal(r16(gp(mem, BIOS_BDA_EBDA_SEG, 2)), EBDA_START >> 4);
	assert_int_equal(r16(gp(mem, 0x413, 2)), 639);

	mpf = find_mpf(mem);
	assert_int_equal(mpf % 16, 0);
	assert_true(mpf >= EBDA_START && mpf + 16 <= VGA_RAM_START);
	f = gp(mem, mpf, 16);
	assert_int_equal(f[9], 4);  /* spec 1.4 */
	assert_int_equal(f[11], 0); /* feature byte 1: a table follows, not a default config */
	assert_int_equal(f[12] & 0x80, 0);  /* no IMCR: virtual wire */

	mpc_addr = r32(f + 4);
	c = gp(mem, mpc_addr, 44);
	assert_memory_equal(c, "PCMP", 4);
	len = r16(c + 4);
	c = gp(mem, mpc_addr, len);
	/* Inside reserved memory below 1 MiB, clear of the floating pointer. */
	assert_true(mpc_addr >= EBDA_START && mpc_addr + len <= HIGH_MEMORY_START);
	assert_false(mpc_addr < mpf + 16 && mpf < mpc_addr + len);
	assert_int_equal(sum(c, len), 0);
	assert_int_equal(c[6], 4);
	assert_memory_equal(c + 8, "WISP    ", 8);
	assert_memory_equal(c + 16, "WISPVM      ", 12);
	assert_int_equal(r32(c + 36), LAPIC_BASE);
	assert_int_equal(r16(c + 40), 0);  /* no extended table */
	count = r16(c + 34);
	assert_int_equal(count, ncpus + 2 + 1 + 16 + 2 + nv + npci);

	for (int i = 0; i < 24; i++)
		pins[i] = -1;
	ioapic_id = 0xFF;
	e = c + 44;
	for (unsigned i = 0; i < count; i++) {
		assert_true(e < c + len);
		/* Entries come sorted by type. */
		assert_true(e[0] >= last_type);
		last_type = e[0];
		switch (e[0]) {
		case 0:  /* processor */
			assert_int_equal(e[1], i);         /* APIC ID */
			assert_int_equal(e[2], 0x14);
			assert_int_equal(e[3], i == 0 ? 3 : 1);
			assert_int_equal((r32(e + 4) >> 8) & 0xF, 6);  /* family */
			assert_true(r32(e + 8) & (1u << 9));          /* APIC */
			e += 20;
			break;
		case 1:  /* bus */
			assert_int_equal(i, ncpus + (e[1] == MPTABLE_BUS_PCI ? 0 : 1));
			assert_memory_equal(e + 2, e[1] == MPTABLE_BUS_PCI ? "PCI   " : "ISA   ", 6);
			e += 8;
			break;
		case 2:  /* IOAPIC */
			ioapic_id = e[1];
			assert_int_equal(e[1], ncpus);
			assert_int_equal(e[2], 0x11);
			assert_int_equal(e[3], 1);
			assert_int_equal(r32(e + 4), IOAPIC_BASE);
			e += 8;
			break;
		case 3:  /* I/O interrupt */
			assert_int_equal(e[6], ioapic_id);
			if (e[4] == MPTABLE_BUS_PCI) {
				/* Source IRQ: device number in bits 6:2, pin
				 * (0 = INTA#) in bits 1:0; flags 0 conform to
				 * PCI: level, active low. */
				unsigned slot = (e[5] >> 2) & 0x1F, pin = e[5] & 3;

				assert_int_equal(e[5] & 0x80, 0);
				assert_int_equal(e[1], 0);            /* INT */
				assert_int_equal(r16(e + 2), 0);
				assert_int_equal(pci_gsi[slot][pin], -1);
				pci_gsi[slot][pin] = e[7];
				n_pci++;
				e += 8;
				break;
			}
			assert_int_equal(e[4], MPTABLE_BUS_ISA);
			if (e[1] == 3) {  /* ExtINT */
				assert_int_equal(n_io, 0);
				assert_int_equal(e[7], 0);
				assert_int_equal(r16(e + 2), 0);
			} else {
				assert_int_equal(e[1], 0);
				assert_true(e[5] < 24);
				/* ISA IRQs conform to the bus (edge, high); the
				 * virtio-mmio lines say level, active high. */
				assert_int_equal(r16(e + 2), e[5] < 16 ? 0 : 0xD);
				assert_int_equal(pins[e[5]], -1);
				pins[e[5]] = e[7];
			}
			n_io++;
			e += 8;
			break;
		case 4:  /* local interrupt */
			assert_int_equal(e[6], 0xFF);  /* all LAPICs */
			assert_int_equal(e[7], n_lint);
			assert_int_equal(e[1], n_lint == 0 ? 3 : 1);  /* ExtINT, NMI */
			n_lint++;
			e += 8;
			break;
		default:
			fail_msg("unknown entry type %u", e[0]);
		}
	}
	assert_ptr_equal(e, c + len);
	assert_int_equal(n_io, 16 + nv);
	assert_int_equal(n_pci, npci);
	for (unsigned i = 0; i < npci; i++) {
		assert_int_equal(pci_gsi[pci[i].slot][pci[i].pin - 1], pci[i].gsi);
		pci_gsi[pci[i].slot][pci[i].pin - 1] = -1;
	}
	/* No entries but the routes given. */
	for (unsigned slot = 0; slot < 32; slot++)
		for (unsigned pin = 0; pin < 4; pin++)
			assert_int_equal(pci_gsi[slot][pin], -1);
	assert_int_equal(n_lint, 2);
	assert_int_equal(pins[0], 2);   /* PIT where KVM routes GSI 0 */
	assert_int_equal(pins[2], -1);  /* cascade */
	for (int irq = 1; irq < 16; irq++)
		if (irq != 2)
			assert_int_equal(pins[irq], irq);
	for (unsigned i = 0; i < nv; i++)
		assert_int_equal(pins[v[i].gsi], v[i].gsi);
	for (int gsi = 16; gsi < 24; gsi++) {
		bool used = false;

		for (unsigned i = 0; i < nv; i++)
			used |= v[i].gsi == (unsigned)gsi;
		if (!used)
			assert_int_equal(pins[gsi], -1);
	}
	mem_free(mem);
}

static void check_table_with(unsigned ncpus, const struct loader_virtio_mmio *v, unsigned nv)
{
	check_table_pci(ncpus, v, nv, NULL, 0);
}

static void check_table(unsigned ncpus)
{
	check_table_with(ncpus, NULL, 0);
}

static void test_virtio_mmio(void **state)
{
	struct loader_virtio_mmio v[MPTABLE_MAX_VIRTIO_MMIO];

	(void)state;
	for (unsigned i = 0; i < MPTABLE_MAX_VIRTIO_MMIO; i++)
		v[i] = mmio_slot(i);
	check_table_with(1, v, 1);
	check_table_with(4, v, 3);
	check_table_with(MPTABLE_MAX_CPUS, v, MPTABLE_MAX_VIRTIO_MMIO);
}

static void test_refuses_bad_virtio_mmio(void **state)
{
	struct guest_mem *mem = mem_new(MiB(2));
	struct loader_virtio_mmio v[MPTABLE_MAX_VIRTIO_MMIO + 1];

	(void)state;
	for (unsigned i = 0; i <= MPTABLE_MAX_VIRTIO_MMIO; i++)
		v[i] = mmio_slot(i % 8);
	capture_begin();
	assert_int_equal(mptable_write(mem, 1, v, MPTABLE_MAX_VIRTIO_MMIO + 1, NULL, 0), -1);
	assert_non_null(strstr(capture_end(), "virtio-mmio"));
	v[0].gsi = 9;
	capture_begin();
	assert_int_equal(mptable_write(mem, 1, v, 1, NULL, 0), -1);
	assert_non_null(strstr(capture_end(), "GSI 9"));
	v[0].gsi = 24;
	capture_begin();
	assert_int_equal(mptable_write(mem, 1, v, 1, NULL, 0), -1);
	assert_non_null(strstr(capture_end(), "GSI 24"));
	assert_int_equal(r16(gp(mem, BIOS_BDA_EBDA_SEG, 2)), 0);
	mem_free(mem);
}

static void test_1_cpu(void **state) { (void)state; check_table(1); }
static void test_4_cpus(void **state) { (void)state; check_table(4); }
static void test_64_cpus(void **state) { (void)state; check_table(64); }
static void test_max_cpus(void **state) { (void)state; check_table(MPTABLE_MAX_CPUS); }

static void test_refuses_bad_counts(void **state)
{
	struct guest_mem *mem = mem_new(MiB(2));
	const unsigned bad[] = { 0, MPTABLE_MAX_CPUS + 1, 1000 };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		const char *msg;

		capture_begin();
		assert_int_equal(mptable_write(mem, bad[i], NULL, 0, NULL, 0), -1);
		msg = capture_end();
		assert_int_equal(count_lines(msg), 1);
		assert_non_null(strstr(msg, "vCPUs"));
	}
	/* Nothing was written. */
	assert_int_equal(r16(gp(mem, BIOS_BDA_EBDA_SEG, 2)), 0);
	mem_free(mem);
}

static void test_pci_routes(void **state)
{
	struct loader_virtio_mmio v[3] = { mmio_slot(0), mmio_slot(1), mmio_slot(2) };
	struct loader_pci_intx r[MPTABLE_MAX_PCI_INTX];

	(void)state;
	for (unsigned i = 0; i < MPTABLE_MAX_PCI_INTX; i++)
		r[i] = intx_route(1 + i, 1, 16 + i);
	check_table_pci(1, NULL, 0, r, 1);
	check_table_pci(2, NULL, 0, r, MPTABLE_MAX_PCI_INTX);
	/* Every field at its extremes, lines shared, next to virtio-mmio
	 * devices on 16-18. */
	r[0] = intx_route(31, 4, 23);
	r[1] = intx_route(1, 2, 19);
	r[2] = intx_route(2, 1, 19);
	r[3] = intx_route(31, 1, 20);
	check_table_pci(4, v, 3, r, 4);
	for (unsigned i = 0; i < MPTABLE_MAX_PCI_INTX; i++)
		r[i] = intx_route(1 + i / 4, 1 + i % 4, 19 + i % 5);
	check_table_pci(MPTABLE_MAX_CPUS, v, 3, r, MPTABLE_MAX_PCI_INTX);
}

static void expect_refused(const struct loader_virtio_mmio *v, unsigned nv,
			   const struct loader_pci_intx *r, unsigned nr, const char *frag)
{
	struct guest_mem *mem = mem_new(MiB(2));
	const char *msg;

	capture_begin();
	assert_int_equal(mptable_write(mem, 1, v, nv, r, nr), -1);
	msg = capture_end();
	assert_int_equal(count_lines(msg), 1);
	if (!strstr(msg, frag))
		fail_msg("message '%s' lacks '%s'", msg, frag);
	/* Nothing was written. */
	assert_int_equal(r16(gp(mem, BIOS_BDA_EBDA_SEG, 2)), 0);
	mem_free(mem);
}

/* The route rules themselves are test_pci_intx.c's: the MP table applies
 * them, with its own limit, before it writes anything. */
static void test_refuses_bad_pci_routes(void **state)
{
	struct loader_pci_intx r[MPTABLE_MAX_PCI_INTX + 1];

	(void)state;
	for (unsigned i = 0; i <= MPTABLE_MAX_PCI_INTX; i++)
		r[i] = intx_route(1 + i, 1, 16);
	expect_refused(NULL, 0, r, MPTABLE_MAX_PCI_INTX + 1, "PCI INTx routes");
	r[0] = intx_route(0, 1, 16);
	expect_refused(NULL, 0, r, 1, "slot 0 pin 1 -> GSI 16 cannot be described in the MP table");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_1_cpu),
		cmocka_unit_test(test_4_cpus),
		cmocka_unit_test(test_64_cpus),
		cmocka_unit_test(test_max_cpus),
		cmocka_unit_test(test_refuses_bad_counts),
		cmocka_unit_test(test_virtio_mmio),
		cmocka_unit_test(test_refuses_bad_virtio_mmio),
		cmocka_unit_test(test_pci_routes),
		cmocka_unit_test(test_refuses_bad_pci_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
