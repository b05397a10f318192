#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "devices/fw_cfg.h"
#include "test_platform.h"
#include "vmm/memory_map.h"

#define SEL  0x510
#define DATA 0x511

struct fixture {
	struct fake_platform *f;
	struct fw_cfg *c;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = fake_platform_new();
	x->c = fw_cfg_create(&x->f->p, 4, GiB(6) + MiB(2));
	assert_non_null(x->c);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	fw_cfg_destroy(x->c);
	fake_platform_free(x->f);
	free(x);
	return 0;
}

static void select_key(struct fixture *x, uint16_t key)
{
	pio_out(x->f, SEL, 2, key);
}

static void read_item(struct fixture *x, uint16_t key, uint8_t *buf, size_t len)
{
	select_key(x, key);
	for (size_t i = 0; i < len; i++)
		buf[i] = inb(x->f, DATA);
}

static uint64_t read_le(struct fixture *x, uint16_t key, unsigned len)
{
	uint8_t b[8];
	uint64_t v = 0;

	read_item(x, key, b, len);
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void test_signature(void **state)
{
	struct fixture *x = *state;
	uint8_t b[8];

	read_item(x, FW_CFG_SIGNATURE, b, sizeof(b));
	assert_memory_equal(b, "QEMU\0\0\0\0", 8);
	/* Reselecting starts over. */
	read_item(x, FW_CFG_SIGNATURE, b, 4);
	assert_memory_equal(b, "QEMU", 4);
	/* The selector resets to the signature. */
	struct fake_platform *f = fake_platform_new();
	struct fw_cfg *c = fw_cfg_create(&f->p, 1, MiB(64));
	assert_non_null(c);
	assert_int_equal(inb(f, DATA), 'Q');
	fw_cfg_destroy(c);
	fake_platform_free(f);
}

static void test_id_and_sizes(void **state)
{
	struct fixture *x = *state;
	uint8_t dir[8];

	assert_int_equal(read_le(x, FW_CFG_ID, 4), 1);
	assert_int_equal(read_le(x, FW_CFG_RAM_SIZE, 8), GiB(6) + MiB(2));
	assert_int_equal(read_le(x, FW_CFG_NB_CPUS, 2), 4);
	assert_int_equal(read_le(x, FW_CFG_MAX_CPUS, 2), 4);
	read_item(x, FW_CFG_FILE_DIR, dir, sizeof(dir));
	assert_memory_equal(dir, "\0\0\0\0\0\0\0\0", 8);
}

static void test_read_past_end(void **state)
{
	struct fixture *x = *state;

	select_key(x, FW_CFG_NB_CPUS);
	assert_int_equal(inb(x->f, DATA), 4);
	assert_int_equal(inb(x->f, DATA), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(inb(x->f, DATA), 0);
	/* Unknown items read as zeros. */
	assert_int_equal(read_le(x, 0x1234, 8), 0);
	assert_int_equal(read_le(x, 0xffff, 8), 0);
}

static void test_selector(void **state)
{
	struct fixture *x = *state;

	select_key(x, FW_CFG_RAM_SIZE);
	assert_int_equal(pio_in(x->f, SEL, 2), FW_CFG_RAM_SIZE);
	/* Byte writes to the selector do not select. */
	outb(x->f, SEL, FW_CFG_NB_CPUS);
	assert_int_equal(pio_in(x->f, SEL, 2), FW_CFG_RAM_SIZE);
	/* Data writes are ignored and do not move the offset. */
	outb(x->f, DATA, 0x55);
	assert_int_equal(inb(x->f, DATA), (uint8_t)(GiB(6) + MiB(2)));
	/* The write-channel bit selects the same item. */
	select_key(x, 0x4000 | FW_CFG_NB_CPUS);
	assert_int_equal(inb(x->f, DATA), 4);
}

static void test_wide_data_read(void **state)
{
	struct fixture *x = *state;

	select_key(x, FW_CFG_SIGNATURE);
	assert_int_equal(pio_in(x->f, DATA, 4), 0x554d4551); /* "QEMU" */
	assert_int_equal(pio_in(x->f, DATA, 4), 0);
}

static void test_add_item(void **state)
{
	struct fixture *x = *state;
	const char hello[] = "hello";
	uint8_t b[6];

	assert_int_equal(fw_cfg_add_item(x->c, 0x8000, hello, 5), 0);
	read_item(x, 0x8000, b, 6);
	assert_memory_equal(b, "hello\0", 6);
	/* Replacing keeps one item with the new contents. */
	assert_int_equal(fw_cfg_add_item(x->c, 0x8000, "hi", 2), 0);
	read_item(x, 0x8000, b, 3);
	assert_memory_equal(b, "hi\0", 3);
	assert_int_equal(fw_cfg_add_item(x->c, 0x8001, NULL, 0), 0);
	assert_int_equal(read_le(x, 0x8001, 1), 0);
	assert_int_equal(fw_cfg_add_item(x->c, 0x4001, hello, 5), -EINVAL);
	assert_int_equal(fw_cfg_add_item(x->c, 0x8002, NULL, 5), -EINVAL);
	/* Many items. */
	for (uint16_t k = 0x100; k < 0x140; k++)
		assert_int_equal(fw_cfg_add_item(x->c, k, &k, sizeof(k)), 0);
	for (uint16_t k = 0x100; k < 0x140; k++)
		assert_int_equal(read_le(x, k, 2), k);
	assert_int_equal(read_le(x, FW_CFG_NB_CPUS, 2), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_signature),
		T(test_id_and_sizes),
		T(test_read_past_end),
		T(test_selector),
		T(test_wide_data_read),
		T(test_add_item),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
