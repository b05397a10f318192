#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "devices/pci_config.h"
#include "devices/pci_host.h"
#include "vmm/memory_map.h"
#include "test_platform.h"

#define ADDR 0xcf8
#define DATA 0xcfc

struct fixture {
	struct fake_platform *f;
	struct pci_host *h;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = fake_platform_new();
	x->h = pci_host_create(&x->f->p);
	assert_non_null(x->h);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	pci_host_destroy(x->h);
	fake_platform_free(x->f);
	free(x);
	return 0;
}

static uint32_t cfg_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

static uint32_t cfg_read(struct fixture *x, unsigned bus, unsigned dev, unsigned fn,
			 unsigned reg, unsigned size)
{
	pio_out(x->f, ADDR, 4, cfg_addr(bus, dev, fn, reg));
	return (uint32_t)pio_in(x->f, (uint16_t)(DATA + (reg & 3)), size);
}

static void cfg_write(struct fixture *x, unsigned bus, unsigned dev, unsigned fn,
		      unsigned reg, unsigned size, uint32_t v)
{
	pio_out(x->f, ADDR, 4, cfg_addr(bus, dev, fn, reg));
	pio_out(x->f, (uint16_t)(DATA + (reg & 3)), size, v);
}

static void test_address_latch(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(pio_in(x->f, ADDR, 4), 0);
	/* Linux's check for mechanism #1. */
	pio_out(x->f, ADDR, 4, 0x80000000);
	assert_int_equal(pio_in(x->f, ADDR, 4), 0x80000000);
	/* Reserved bits read as zero. */
	pio_out(x->f, ADDR, 4, 0xffffffff);
	assert_int_equal(pio_in(x->f, ADDR, 4), 0x80fffffc);
	/* Narrow accesses are not CONFIG_ADDRESS. */
	pio_out(x->f, ADDR, 4, 0x80000010);
	pio_out(x->f, ADDR + 3, 1, 0x01);
	pio_out(x->f, ADDR, 2, 0x1234);
	pio_out(x->f, ADDR + 2, 2, 0x1234);
	assert_int_equal(pio_in(x->f, ADDR, 4), 0x80000010);
	assert_int_equal(pio_in(x->f, ADDR, 1), 0xff);
	assert_int_equal(pio_in(x->f, ADDR + 1, 1), 0xff);
	assert_int_equal(pio_in(x->f, ADDR, 2), 0xffff);
}

static void test_host_bridge(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(cfg_read(x, 0, 0, 0, 0x00, 4), 0x00081b36);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x08, 4), 0x06000000);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x0e, 1), 0x00);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x06, 2) & 0x0010, 0); /* no capabilities */
	for (unsigned bar = 0x10; bar <= 0x24; bar += 4) {
		cfg_write(x, 0, 0, 0, bar, 4, 0xffffffff);
		assert_int_equal(cfg_read(x, 0, 0, 0, bar, 4), 0);
	}
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x3d, 1), 0); /* no interrupt pin */
}

static void test_narrow_data_access(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(cfg_read(x, 0, 0, 0, 0x00, 2), 0x1b36);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x02, 2), 0x0008);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x00, 1), 0x36);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x01, 1), 0x1b);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x0b, 1), 0x06);
	/* Within the dword but unaligned: bytes 1-2. */
	pio_out(x->f, ADDR, 4, cfg_addr(0, 0, 0, 0));
	assert_int_equal(pio_in(x->f, DATA + 1, 2), 0x081b);
	/* Crossing the dword: nothing answers. */
	assert_int_equal(pio_in(x->f, DATA + 3, 2), 0xffff);
	assert_int_equal(pio_in(x->f, DATA + 2, 4), 0xffffffff);
}

static void test_command_register(void **state)
{
	struct fixture *x = *state;

	cfg_write(x, 0, 0, 0, 0x04, 2, 0xffff);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x04, 2), 0x0147);
	cfg_write(x, 0, 0, 0, 0x04, 1, 0x00);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x04, 2), 0x0100);
	cfg_write(x, 0, 0, 0, 0x04, 4, 0xffff0006);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x04, 4), 0x00000006);
	/* IDs are read-only. */
	cfg_write(x, 0, 0, 0, 0x00, 4, 0x12345678);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x00, 4), 0x00081b36);
	cfg_write(x, 0, 0, 0, 0x3c, 1, 0x0b);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x3c, 1), 0x0b);
}

static void test_absent(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(cfg_read(x, 0, 1, 0, 0, 4), 0xffffffff);
	assert_int_equal(cfg_read(x, 0, 31, 7, 0, 4), 0xffffffff);
	assert_int_equal(cfg_read(x, 0, 0, 1, 0, 4), 0xffffffff);
	assert_int_equal(cfg_read(x, 1, 0, 0, 0, 4), 0xffffffff);
	assert_int_equal(cfg_read(x, 255, 0, 0, 0, 2), 0xffff);
	assert_int_equal(cfg_read(x, 0, 5, 0, 3, 1), 0xff);
	/* Enable bit clear: nothing, not even the host bridge. */
	pio_out(x->f, ADDR, 4, 0x00000000);
	assert_int_equal(pio_in(x->f, DATA, 4), 0xffffffff);
	pio_out(x->f, DATA, 4, 0);
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x00, 4), 0x00081b36);
}

struct recorder {
	unsigned reads, writes;
	unsigned offset, size;
	uint32_t value;
};

static uint32_t rec_read(void *opaque, unsigned offset, unsigned size)
{
	struct recorder *r = opaque;

	r->reads++;
	r->offset = offset;
	r->size = size;
	return 0xa5a5a5a5u & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
}

static void rec_write(void *opaque, unsigned offset, unsigned size, uint32_t value)
{
	struct recorder *r = opaque;

	r->writes++;
	r->offset = offset;
	r->size = size;
	r->value = value;
}

static const struct pci_function_ops rec_ops = { .config_read = rec_read,
						 .config_write = rec_write };

static void test_add_function(void **state)
{
	struct fixture *x = *state;
	struct recorder r = { 0 };
	const struct pci_function_ops half = { .config_read = rec_read };

	assert_int_equal(pci_host_add_function(x->h, PCI_DEVFN(3, 1), &rec_ops, &r), 0);
	assert_int_equal(pci_host_add_function(x->h, PCI_DEVFN(3, 1), &rec_ops, &r), -EEXIST);
	assert_int_equal(pci_host_add_function(x->h, PCI_DEVFN(0, 0), &rec_ops, &r), -EEXIST);
	assert_int_equal(pci_host_add_function(x->h, 256, &rec_ops, &r), -EINVAL);
	assert_int_equal(pci_host_add_function(x->h, 8, NULL, &r), -EINVAL);
	assert_int_equal(pci_host_add_function(x->h, 8, &half, &r), -EINVAL);

	assert_int_equal(cfg_read(x, 0, 3, 1, 0x12, 2), 0xa5a5);
	assert_int_equal(r.reads, 1);
	assert_int_equal(r.offset, 0x12);
	assert_int_equal(r.size, 2);
	assert_int_equal(cfg_read(x, 0, 3, 1, 0x40, 4), 0xa5a5a5a5);
	assert_int_equal(r.offset, 0x40);
	assert_int_equal(r.size, 4);

	cfg_write(x, 0, 3, 1, 0x3f, 1, 0x1ff);
	assert_int_equal(r.writes, 1);
	assert_int_equal(r.offset, 0x3f);
	assert_int_equal(r.size, 1);
	assert_int_equal(r.value, 0xff);

	/* Other buses and functions never reach it. */
	cfg_read(x, 1, 3, 1, 0x00, 4);
	cfg_read(x, 0, 3, 0, 0x00, 4);
	pio_out(x->f, ADDR, 4, cfg_addr(0, 3, 1, 0));
	pio_in(x->f, DATA + 3, 2);
	assert_int_equal(r.reads, 2);
}

static void test_port_conflict(void **state)
{
	struct fixture *x = *state;

	assert_null(pci_host_create(&x->f->p));
	assert_int_equal(cfg_read(x, 0, 0, 0, 0x00, 4), 0x00081b36);
}

/* --- the memory window --- */

#define FN_BAR_SIZE 0x1000u

/* A function with one memory BAR backed by a page of bytes, counting the
 * accesses it served. */
struct bar_fn {
	struct pci_config cfg;
	unsigned reads, writes;        /* served */
	unsigned asked;                /* offered, served or not */
	uint8_t mem[FN_BAR_SIZE];
};

static uint32_t fn_config_read(void *opaque, unsigned offset, unsigned size)
{
	return pci_config_read(&((struct bar_fn *)opaque)->cfg, offset, size);
}

static void fn_config_write(void *opaque, unsigned offset, unsigned size, uint32_t value)
{
	pci_config_write(&((struct bar_fn *)opaque)->cfg, offset, size, value);
}

static bool fn_bar_read(void *opaque, uint64_t addr, unsigned size, uint64_t *value)
{
	struct bar_fn *fn = opaque;
	uint64_t off;

	fn->asked++;
	if (pci_config_bar_decode(&fn->cfg, addr, size, &off) != 0)
		return false;
	fn->reads++;
	*value = 0;
	memcpy(value, fn->mem + off, size);   /* little-endian host */
	return true;
}

static bool fn_bar_write(void *opaque, uint64_t addr, unsigned size, uint64_t value)
{
	struct bar_fn *fn = opaque;
	uint64_t off;

	fn->asked++;
	if (pci_config_bar_decode(&fn->cfg, addr, size, &off) != 0)
		return false;
	fn->writes++;
	memcpy(fn->mem + off, &value, size);
	return true;
}

static const struct pci_function_ops bar_fn_ops = {
	.config_read = fn_config_read,
	.config_write = fn_config_write,
	.bar_read = fn_bar_read,
	.bar_write = fn_bar_write,
};

/* A function at dev with BAR 0 at addr, decoding as firmware left it. */
static struct bar_fn *add_bar_fn(struct fixture *x, unsigned dev, uint32_t addr, uint8_t fill)
{
	static const struct pci_config_id id = { .vendor = 0x1234, .device = 0x0001 };
	struct bar_fn *fn = calloc(1, sizeof(*fn));

	assert_non_null(fn);
	pci_config_init(&fn->cfg, &id);
	assert_int_equal(pci_config_set_bar(&fn->cfg, 0, FN_BAR_SIZE, addr), 0);
	pci_config_set(&fn->cfg, PCI_REG_COMMAND, 2, PCI_COMMAND_MEMORY);
	memset(fn->mem, fill, sizeof(fn->mem));
	assert_int_equal(pci_host_add_function(x->h, PCI_DEVFN(dev, 0), &bar_fn_ops, fn), 0);
	return fn;
}

#define BAR_A ((uint32_t)PCI_MMIO_START + 0x2000u)
#define BAR_B ((uint32_t)PCI_MMIO_START + 0x10000u)

static void test_window_routes(void **state)
{
	struct fixture *x = *state;
	struct bar_fn *a = add_bar_fn(x, 2, BAR_A, 0xaa);
	struct bar_fn *b = add_bar_fn(x, 5, BAR_B, 0xbb);

	/* Each BAR's bytes come from its own function, at every width. */
	assert_int_equal(mmio_in(x->f, BAR_A, 1), 0xaa);
	assert_int_equal(mmio_in(x->f, BAR_A + 0x10, 4), 0xaaaaaaaa);
	assert_int_equal(mmio_in(x->f, BAR_B + FN_BAR_SIZE - 8, 8), 0xbbbbbbbbbbbbbbbbull);
	assert_int_equal(a->reads, 2);
	assert_int_equal(b->reads, 1);

	/* Writes land at the right offset of the right function. */
	mmio_out(x->f, BAR_A + 0x10, 4, 0x11223344);
	mmio_out(x->f, BAR_B + 0x20, 2, 0x5566);
	mmio_out(x->f, BAR_B + 0x28, 8, 0x0102030405060708ull);
	assert_int_equal(a->writes, 1);
	assert_int_equal(b->writes, 2);
	assert_int_equal(a->mem[0x10], 0x44);
	assert_int_equal(a->mem[0x13], 0x11);
	assert_int_equal(a->mem[0x14], 0xaa);
	assert_int_equal(b->mem[0x20], 0x66);
	assert_int_equal(b->mem[0x21], 0x55);
	assert_int_equal(mmio_in(x->f, BAR_A + 0x10, 4), 0x11223344);
	assert_int_equal(mmio_in(x->f, BAR_A + 0x12, 2), 0x1122);
	assert_int_equal(mmio_in(x->f, BAR_B + 0x28, 8), 0x0102030405060708ull);
	/* B's bytes at A's offsets were not touched. */
	assert_int_equal(b->mem[0x10], 0xbb);
	free(a);
	free(b);
}

static void test_window_unclaimed(void **state)
{
	struct fixture *x = *state;
	struct bar_fn *a = add_bar_fn(x, 2, BAR_A, 0xaa);
	static const uint64_t nowhere[] = {
		PCI_MMIO_START, BAR_A - 8, BAR_A + FN_BAR_SIZE, 0xd0000000ull, PCI_MMIO_END - 8,
	};
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	uint64_t v;

	for (size_t i = 0; i < sizeof(nowhere) / sizeof(nowhere[0]); i++) {
		for (size_t s = 0; s < 4; s++) {
			unsigned size = sizes[s];

			assert_int_equal(mmio_in(x->f, nowhere[i], size),
					 size == 8 ? ~0ull : (1ull << (8 * size)) - 1);
			mmio_out(x->f, nowhere[i], size, 0);
		}
	}
	/* Hanging over either end of the BAR: not decoded either. */
	assert_int_equal(mmio_in(x->f, BAR_A - 2, 4), 0xffffffff);
	assert_int_equal(mmio_in(x->f, BAR_A + FN_BAR_SIZE - 4, 8), ~0ull);
	mmio_out(x->f, BAR_A + FN_BAR_SIZE - 2, 4, 0);
	assert_int_equal(a->reads + a->writes, 0);
	assert_true(a->asked > 0);           /* it was asked, and declined */
	assert_int_equal(a->mem[FN_BAR_SIZE - 1], 0xaa);

	/* The window is the host's: every address in it is claimed; just
	 * outside it belongs to others (nothing here). */
	assert_true(bus_read(&x->f->mmio, PCI_MMIO_START, 4, &v));
	assert_true(bus_read(&x->f->mmio, PCI_MMIO_END - 1, 1, &v));
	assert_false(bus_read(&x->f->mmio, PCI_MMIO_START - 1, 1, &v));
	assert_false(bus_read(&x->f->mmio, PCI_MMIO_END, 4, &v));
	free(a);
}

static void test_window_follows_config(void **state)
{
	struct fixture *x = *state;
	struct bar_fn *a = add_bar_fn(x, 2, BAR_A, 0xaa);
	struct bar_fn *b = add_bar_fn(x, 5, BAR_B, 0xbb);
	const uint32_t moved = (uint32_t)PCI_MMIO_START + 0x40000u;

	/* Memory decoding off through the command register: gone. */
	cfg_write(x, 0, 2, 0, PCI_REG_COMMAND, 2, 0);
	assert_int_equal(mmio_in(x->f, BAR_A, 4), 0xffffffff);
	cfg_write(x, 0, 2, 0, PCI_REG_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(mmio_in(x->f, BAR_A, 4), 0xaaaaaaaa);

	/* The OS sizes BAR 0 and moves it, as Linux does: decoding off
	 * meanwhile. */
	cfg_write(x, 0, 2, 0, PCI_REG_COMMAND, 2, 0);
	cfg_write(x, 0, 2, 0, PCI_REG_BAR0, 4, 0xffffffff);
	assert_int_equal(cfg_read(x, 0, 2, 0, PCI_REG_BAR0, 4), ~(FN_BAR_SIZE - 1));
	cfg_write(x, 0, 2, 0, PCI_REG_BAR0, 4, moved);
	cfg_write(x, 0, 2, 0, PCI_REG_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(cfg_read(x, 0, 2, 0, PCI_REG_BAR0, 4), moved);
	assert_int_equal(mmio_in(x->f, BAR_A, 4), 0xffffffff);
	assert_int_equal(mmio_in(x->f, moved + 4, 4), 0xaaaaaaaa);
	mmio_out(x->f, moved + 4, 1, 0x5c);
	assert_int_equal(a->mem[4], 0x5c);
	/* B never moved. */
	assert_int_equal(mmio_in(x->f, BAR_B, 4), 0xbbbbbbbb);

	/* Made to overlap A: the function added first answers. */
	cfg_write(x, 0, 5, 0, PCI_REG_BAR0, 4, moved);
	assert_int_equal(mmio_in(x->f, moved + 8, 4), 0xaaaaaaaa);
	mmio_out(x->f, moved + 8, 4, 0);
	assert_int_equal(b->writes, 0);
	assert_int_equal(mmio_in(x->f, BAR_B, 4), 0xffffffff);
	free(a);
	free(b);
}

static void test_add_function_bar_ops(void **state)
{
	struct fixture *x = *state;
	struct bar_fn fn = { 0 };
	const struct pci_function_ops only_read = { .config_read = fn_config_read,
						    .config_write = fn_config_write,
						    .bar_read = fn_bar_read };
	const struct pci_function_ops only_write = { .config_read = fn_config_read,
						     .config_write = fn_config_write,
						     .bar_write = fn_bar_write };
	const struct pci_function_ops no_config = { .bar_read = fn_bar_read,
						    .bar_write = fn_bar_write };

	assert_int_equal(pci_host_add_function(x->h, PCI_DEVFN(4, 0), &only_read, &fn), -EINVAL);
	assert_int_equal(pci_host_add_function(x->h, PCI_DEVFN(4, 0), &only_write, &fn), -EINVAL);
	assert_int_equal(pci_host_add_function(x->h, PCI_DEVFN(4, 0), &no_config, &fn), -EINVAL);
	/* None of them took the slot. */
	assert_int_equal(cfg_read(x, 0, 4, 0, 0x00, 4), 0xffffffff);
	/* Both, or neither (rec_ops): fine. */
	assert_int_equal(pci_host_add_function(x->h, PCI_DEVFN(4, 0), &bar_fn_ops, &fn), 0);
	assert_int_equal(pci_host_add_function(x->h, PCI_DEVFN(4, 1), &rec_ops, &fn), 0);
}

/* The window is taken: the host is refused, and leaves nothing claimed
 * behind (a bus cannot unregister, so it must check before it claims). */
static void test_window_conflict(void **state)
{
	static const struct bus_ops none = { 0 };
	struct fake_platform *f = fake_platform_new();
	struct pci_host *h;
	bool ports_free;

	(void)state;
	assert_int_equal(bus_register(&f->mmio, PCI_MMIO_END - 0x1000, 0x1000, &none, NULL,
				      "squatter"), 0);
	h = pci_host_create(&f->p);
	ports_free = bus_range_free(&f->pio, 0xcf8, 8);
	fake_platform_free(f);
	assert_null(h);
	assert_true(ports_free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_address_latch),
		T(test_host_bridge),
		T(test_narrow_data_access),
		T(test_command_register),
		T(test_absent),
		T(test_add_function),
		T(test_port_conflict),
		T(test_window_routes),
		T(test_window_unclaimed),
		T(test_window_follows_config),
		T(test_add_function_bar_ops),
		cmocka_unit_test(test_window_conflict),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
