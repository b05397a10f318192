#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "devices/pci_host.h"
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
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
