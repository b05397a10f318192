#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>

#include "devices/cmos_rtc.h"
#include "test_platform.h"
#include "vmm/memory_map.h"

struct fixture {
	struct fake_platform *f;
	struct cmos_rtc *c;
};

static struct fixture *make(uint64_t ram_size)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = fake_platform_new();
	x->c = cmos_rtc_create(&x->f->p, ram_size);
	assert_non_null(x->c);
	return x;
}

static void unmake(struct fixture *x)
{
	cmos_rtc_destroy(x->c);
	fake_platform_free(x->f);
	free(x);
}

static int setup(void **state)
{
	*state = make(MiB(256));
	return 0;
}

static int teardown(void **state)
{
	unmake(*state);
	return 0;
}

static uint8_t cmos_read(struct fixture *x, uint8_t reg)
{
	outb(x->f, 0x70, reg);
	return inb(x->f, 0x71);
}

static void cmos_write(struct fixture *x, uint8_t reg, uint8_t v)
{
	outb(x->f, 0x70, reg);
	outb(x->f, 0x71, v);
}

static unsigned word(struct fixture *x, uint8_t reg)
{
	return cmos_read(x, reg) | (unsigned)cmos_read(x, (uint8_t)(reg + 1)) << 8;
}

static unsigned triple(struct fixture *x, uint8_t reg)
{
	return word(x, reg) | (unsigned)cmos_read(x, (uint8_t)(reg + 2)) << 16;
}

static void check_memory(uint64_t ram, unsigned ext, unsigned above16m, unsigned above4g)
{
	struct fixture *x = make(ram);
	unsigned sum = 0;

	assert_int_equal(word(x, 0x15), 640);
	assert_int_equal(word(x, 0x17), ext);
	assert_int_equal(word(x, 0x30), ext);
	assert_int_equal(word(x, 0x34), above16m);
	assert_int_equal(triple(x, 0x5b), above4g);
	for (uint8_t r = 0x10; r <= 0x2d; r++)
		sum += cmos_read(x, r);
	assert_int_equal((unsigned)cmos_read(x, 0x2e) << 8 | cmos_read(x, 0x2f), sum & 0xffff);
	unmake(x);
}

static void test_memory_fields(void **state)
{
	(void)state;
	/* 128 MiB: extended memory saturates at 0xffff KiB; 112 MiB above
	 * 16 MiB in 64 KiB units. */
	check_memory(MiB(128), 0xffff, 112 * 16, 0);
	check_memory(GiB(1), 0xffff, 1008 * 16, 0);
	/* 6 GiB: 3 GiB below the PCI hole, 3 GiB at 4 GiB. */
	check_memory(GiB(6), 0xffff, (3072 - 16) * 16, 3 * 16384);
	/* Around the 16-bit limit of the extended-memory field. */
	check_memory(MiB(64), 63 * 1024, 48 * 16, 0);
	check_memory(MiB(66), 0xffff, 50 * 16, 0);
	check_memory(MiB(8), 7 * 1024, 0, 0);
}

static int bcd(int v)
{
	return (v / 10) << 4 | v % 10;
}

/* Read the clock fields, retrying if a second boundary passed meanwhile so
 * the comparison with the host time is exact. */
static void read_clock(struct fixture *x, uint8_t regs[10], uint8_t *century, struct tm *host)
{
	for (int tries = 0; tries < 5; tries++) {
		time_t t0 = time(NULL), t1;

		for (uint8_t r = 0; r < 10; r++)
			regs[r] = cmos_read(x, r);
		*century = cmos_read(x, 0x32);
		t1 = time(NULL);
		if (t0 == t1) {
			gmtime_r(&t0, host);
			return;
		}
	}
	fail_msg("clock kept ticking over");
}

static void test_time_bcd(void **state)
{
	struct fixture *x = *state;
	uint8_t r[10], century;
	struct tm tm;

	assert_int_equal(cmos_read(x, 0x0b), 0x02);
	read_clock(x, r, &century, &tm);
	assert_int_equal(r[0], bcd(tm.tm_sec));
	assert_int_equal(r[2], bcd(tm.tm_min));
	assert_int_equal(r[4], bcd(tm.tm_hour));
	assert_int_equal(r[6], tm.tm_wday + 1);
	assert_int_equal(r[7], bcd(tm.tm_mday));
	assert_int_equal(r[8], bcd(tm.tm_mon + 1));
	assert_int_equal(r[9], bcd(tm.tm_year % 100));
	assert_int_equal(century, bcd((tm.tm_year + 1900) / 100));
}

static void test_time_binary(void **state)
{
	struct fixture *x = *state;
	uint8_t r[10], century;
	struct tm tm;

	cmos_write(x, 0x0b, 0x06);
	assert_int_equal(cmos_read(x, 0x0b), 0x06);
	read_clock(x, r, &century, &tm);
	assert_int_equal(r[0], tm.tm_sec);
	assert_int_equal(r[2], tm.tm_min);
	assert_int_equal(r[4], tm.tm_hour);
	assert_int_equal(r[7], tm.tm_mday);
	assert_int_equal(r[8], tm.tm_mon + 1);
	assert_int_equal(r[9], tm.tm_year % 100);
	assert_int_equal(century, (tm.tm_year + 1900) / 100);
}

static void test_time_12h(void **state)
{
	struct fixture *x = *state;
	uint8_t r[10], century;
	struct tm tm;
	int h;

	cmos_write(x, 0x0b, 0x04); /* binary, 12-hour */
	read_clock(x, r, &century, &tm);
	h = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
	assert_int_equal(r[4], h | (tm.tm_hour >= 12 ? 0x80 : 0));
}

static void test_set_time(void **state)
{
	struct fixture *x = *state;

	/* The way Linux sets the clock: SET, fields, SET off. The day comes
	 * before the month and would not fit the current month. */
	cmos_write(x, 0x0b, 0x82);
	cmos_write(x, 0x00, 0x30);
	cmos_write(x, 0x02, 0x59);
	cmos_write(x, 0x04, 0x23);
	cmos_write(x, 0x07, 0x31);
	cmos_write(x, 0x08, 0x12);
	cmos_write(x, 0x09, 0x99);
	cmos_write(x, 0x32, 0x19);
	/* Frozen while SET is held. */
	assert_int_equal(cmos_read(x, 0x07), 0x31);
	cmos_write(x, 0x0b, 0x02);

	assert_int_equal(cmos_read(x, 0x32), 0x19);
	assert_int_equal(cmos_read(x, 0x09), 0x99);
	assert_int_equal(cmos_read(x, 0x08), 0x12);
	assert_int_equal(cmos_read(x, 0x07), 0x31);
	assert_int_equal(cmos_read(x, 0x06), 6); /* a Friday */
	assert_int_equal(cmos_read(x, 0x04), 0x23);
	assert_int_equal(cmos_read(x, 0x02), 0x59);
	assert_true(cmos_read(x, 0x00) >= 0x30);

	/* Without SET, one field at a time. */
	cmos_write(x, 0x04, 0x05);
	assert_int_equal(cmos_read(x, 0x04), 0x05);
	assert_int_equal(cmos_read(x, 0x09), 0x99);
	/* 12-hour writes: 12 AM is midnight. */
	cmos_write(x, 0x0b, 0x00);
	cmos_write(x, 0x04, 0x12);
	cmos_write(x, 0x0b, 0x02);
	assert_int_equal(cmos_read(x, 0x04), 0x00);
}

static void test_hostile_values(void **state)
{
	struct fixture *x = *state;

	/* Not BCD, out of range: normalised, never crashes. */
	for (uint8_t r = 0; r < 10; r++)
		cmos_write(x, r, 0xff);
	cmos_write(x, 0x32, 0xff);
	cmos_write(x, 0x0b, 0x86);
	for (uint8_t r = 0; r < 10; r++)
		cmos_write(x, r, 0xff);
	cmos_write(x, 0x32, 0x00);
	cmos_write(x, 0x08, 0x00);
	cmos_write(x, 0x0b, 0x06);
	for (uint8_t r = 0; r < 0x80; r++)
		(void)cmos_read(x, r);
	assert_int_equal(cmos_read(x, 0x0d), 0x80);
}

static void test_status_registers(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(cmos_read(x, 0x0a), 0x26);
	cmos_write(x, 0x0a, 0xa6); /* UIP is read-only */
	assert_int_equal(cmos_read(x, 0x0a), 0x26);
	assert_int_equal(cmos_read(x, 0x0c), 0x00);
	cmos_write(x, 0x0c, 0xff);
	assert_int_equal(cmos_read(x, 0x0c), 0x00);
	assert_int_equal(cmos_read(x, 0x0d), 0x80);
	cmos_write(x, 0x0d, 0x00);
	assert_int_equal(cmos_read(x, 0x0d), 0x80);
}

static void test_nvram_and_index(void **state)
{
	struct fixture *x = *state;

	cmos_write(x, 0x40, 0xab);
	cmos_write(x, 0x7f, 0xcd);
	assert_int_equal(cmos_read(x, 0x40), 0xab);
	assert_int_equal(cmos_read(x, 0x7f), 0xcd);
	/* Bit 7 of the index masks NMIs; it does not select a register. */
	assert_int_equal(cmos_read(x, 0x80 | 0x40), 0xab);
	assert_int_equal(cmos_read(x, 0x80 | 0x0d), 0x80);
	/* A word write: index, then data. */
	pio_out(x->f, 0x70, 2, 0x5541);
	assert_int_equal(cmos_read(x, 0x41), 0x55);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		cmocka_unit_test(test_memory_fields),
		T(test_time_bcd),
		T(test_time_binary),
		T(test_time_12h),
		T(test_set_time),
		T(test_hostile_values),
		T(test_status_registers),
		T(test_nvram_and_index),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
