#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "devices/post_code.h"
#include "test_platform.h"

struct fixture {
	struct fake_platform *f;
	struct post_code *pc;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f = fake_platform_new();
	x->pc = post_code_create(&x->f->p);
	assert_non_null(x->pc);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	post_code_destroy(x->pc);
	fake_platform_free(x->f);
	free(x);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pause_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000 };

	nanosleep(&ts, NULL);
}

static char *report(struct fixture *x)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	post_code_report(x->pc, out);
	fclose(out);
	return buf;
}

static void test_last_value(void **state)
{
	struct fixture *x = *state;

	outb(x->f, 0x80, 0x12);
	outb(x->f, 0x80, 0x34);
	assert_int_equal(inb(x->f, 0x80), 0x34);
	assert_int_equal(pio_in(x->f, 0x80, 2), 0xff34);
	assert_int_equal(inb(x->f, 0x81), 0xff);
}

static void test_report_order(void **state)
{
	struct fixture *x = *state;
	char *text, *line;
	unsigned code;
	double ms, prev = -1.0;
	unsigned expect[] = { 0x10, 0x20, 0x05 };
	unsigned n = 0;

	/* The epoch one second back: every time is at least 1000 ms. */
	post_code_set_epoch(x->pc, now_ns() - 1000000000ull);
	outb(x->f, 0x80, 0x10);
	pause_ms(2);
	outb(x->f, 0x80, 0x20);
	pause_ms(2);
	outb(x->f, 0x80, 0x10); /* a repeat does not move 0x10 */
	outb(x->f, 0x80, 0x05);
	for (int i = 0; i < 10000; i++)
		outb(x->f, 0x80, 0x20);

	text = report(x);
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		assert_int_equal(sscanf(line, "boot-timing: post 0x%x at %lf ms", &code, &ms), 2);
		assert_true(n < 3);
		assert_int_equal(code, expect[n]);
		assert_true(ms >= 1000.0 && ms < 60000.0);
		assert_true(ms >= prev);
		prev = ms;
		n++;
	}
	assert_int_equal(n, 3);
	free(text);
}

static void test_format(void **state)
{
	struct fixture *x = *state;
	char *text;

	outb(x->f, 0x80, 0xab);
	text = report(x);
	assert_int_equal(strncmp(text, "boot-timing: post 0xab at ", 26), 0);
	assert_non_null(strstr(text, " ms\n"));
	free(text);
}

static void test_empty_report(void **state)
{
	struct fixture *x = *state;
	char *text = report(x);

	assert_string_equal(text, "");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_last_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_report, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
