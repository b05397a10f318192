#include <fcntl.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/console.h"

static void raw_console_ctrl_a_x_quits(void **state)
{
	struct console con = { .raw = true };
	uint8_t out[16];
	size_t n;

	assert_false(console_filter_input(&con, (const uint8_t *)"ls\r", 3, out, &n));
	assert_int_equal(n, 3);
	assert_memory_equal(out, "ls\r", 3);
	assert_true(console_filter_input(&con, (const uint8_t *)"a\x01x", 3, out, &n));
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'a');
}

static void ctrl_a_twice_sends_one_and_split_escapes_work(void **state)
{
	struct console con = { .raw = true };
	uint8_t out[16];
	size_t n;

	assert_false(console_filter_input(&con, (const uint8_t *)"\x01\x01z", 3, out, &n));
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 0x01);
	assert_int_equal(out[1], 'z');
	/* The escape may arrive in one read and the command in the next. */
	assert_false(console_filter_input(&con, (const uint8_t *)"\x01", 1, out, &n));
	assert_int_equal(n, 0);
	assert_true(console_filter_input(&con, (const uint8_t *)"x", 1, out, &n));
	/* Unknown commands are swallowed. */
	con.escape = false;
	assert_false(console_filter_input(&con, (const uint8_t *)"\x01qy", 3, out, &n));
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'y');
}

static void piped_input_passes_through_untouched(void **state)
{
	struct console con = { .raw = false };
	uint8_t out[16];
	size_t n;

	assert_false(console_filter_input(&con, (const uint8_t *)"\x01x\n", 3, out, &n));
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\x01x\n", 3);
}

static void window_size_of_a_terminal_or_the_default(void **state)
{
	struct winsize ws = { .ws_row = 43, .ws_col = 132 };
	int master, slave, fds[2];
	uint16_t cols, rows;

	assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
	assert_int_equal(ioctl(slave, TIOCSWINSZ, &ws), 0);
	console_window_size(slave, &cols, &rows);
	assert_int_equal(cols, 132);
	assert_int_equal(rows, 43);
	/* A terminal that reports no size gets the default. */
	ws = (struct winsize){ 0 };
	assert_int_equal(ioctl(slave, TIOCSWINSZ, &ws), 0);
	console_window_size(slave, &cols, &rows);
	assert_int_equal(cols, 80);
	assert_int_equal(rows, 25);
	close(master);
	close(slave);

	assert_int_equal(pipe(fds), 0);
	console_window_size(fds[1], &cols, &rows);
	assert_int_equal(cols, 80);
	assert_int_equal(rows, 25);
	console_window_size(-1, &cols, &rows);
	assert_int_equal(cols, 80);
	close(fds[0]);
	close(fds[1]);
}

static void output_reaches_the_fd_until_the_reader_goes(void **state)
{
	int fds[2], fd;
	char buf[16];

	assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
	fd = fds[1];
	assert_int_equal(console_output(&fd, "hello", 5, "test"), 5);
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	close(fds[0]);
	/* EPIPE: the output is given up, and later writes cost nothing. */
	assert_int_equal(console_output(&fd, "lost", 4, "test"), 0);
	assert_int_equal(fd, -1);
	assert_int_equal(console_output(&fd, "lost", 4, "test"), 0);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(raw_console_ctrl_a_x_quits),
		cmocka_unit_test(ctrl_a_twice_sends_one_and_split_escapes_work),
		cmocka_unit_test(piped_input_passes_through_untouched),
		cmocka_unit_test(window_size_of_a_terminal_or_the_default),
		cmocka_unit_test(output_reaches_the_fd_until_the_reader_goes),
	};

	signal(SIGPIPE, SIG_IGN);   /* as wisp: a closed console is an EPIPE */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
