#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "exit_status.h"
#include "log.h"

#define CTRL_A 0x01

/* One terminal per process: kept global so the atexit and fatal-signal
 * handlers can put it back whatever path wisp leaves by. */
static struct termios saved_termios;
static volatile sig_atomic_t termios_saved;

static void restore_terminal(void)
{
	if (termios_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
		termios_saved = 0;
	}
}

static void fatal_signal_handler(int sig)
{
	restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

int console_open(struct console *con, const struct vm_config *cfg)
{
	memset(con, 0, sizeof(*con));
	con->out_fd = -1;
	con->in_fd = -1;
	switch (cfg->console) {
	case CONSOLE_STDIO:
		con->out_fd = STDOUT_FILENO;
		if (fcntl(STDIN_FILENO, F_GETFD) >= 0)
			con->in_fd = STDIN_FILENO;
		break;
	case CONSOLE_FILE:
		con->out_fd = open(cfg->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (con->out_fd < 0) {
			log_error("--console file:%s: %s", cfg->console_path, strerror(errno));
			return WISP_EXIT_USAGE;
		}
		con->out_owned = true;
		break;
	case CONSOLE_NONE:
		break;
	}
	return 0;
}

void console_enter_raw(struct console *con)
{
	struct termios raw;
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };

	if (con->in_fd != STDIN_FILENO || !isatty(STDIN_FILENO) || termios_saved)
		return;
	if (tcgetattr(STDIN_FILENO, &saved_termios) < 0)
		return;
	raw = saved_termios;
	cfmakeraw(&raw);
	/* Keep output post-processing so host-side messages stay readable. */
	raw.c_oflag |= OPOST;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
		return;
	termios_saved = 1;
	con->raw = true;
	atexit(restore_terminal);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], fatal_signal_handler);
}

bool console_filter_input(struct console *con, const uint8_t *in, size_t len,
			  uint8_t *out, size_t *out_len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];

		if (!con->raw) {
			out[n++] = c;
			continue;
		}
		if (con->escape) {
			con->escape = false;
			if (c == 'x' || c == 'X') {
				*out_len = n;
				return true;
			}
			if (c == CTRL_A)
				out[n++] = CTRL_A;
			/* Any other key after Ctrl-A is swallowed, as in QEMU. */
			continue;
		}
		if (c == CTRL_A) {
			con->escape = true;
			continue;
		}
		out[n++] = c;
	}
	*out_len = n;
	return false;
}

void console_close(struct console *con)
{
	if (con->raw) {
		restore_terminal();
		con->raw = false;
	}
	if (con->out_owned && con->out_fd >= 0) {
		if (fsync(con->out_fd) < 0 && errno != EINVAL)
			log_warn("console file: %s", strerror(errno));
		close(con->out_fd);
	}
	con->out_fd = -1;
	con->in_fd = -1;
}

size_t console_output(int *fd, const void *buf, size_t len, const char *who)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len && *fd >= 0) {
		ssize_t n = write(*fd, p + done, len - done);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE) {
			log_debug("%s: output closed, discarding from now on", who);
			*fd = -1;
		}
		break;
	}
	return done;
}

void console_window_size(int fd, uint16_t *cols, uint16_t *rows)
{
	struct winsize ws;

	*cols = CONSOLE_DEFAULT_COLS;
	*rows = CONSOLE_DEFAULT_ROWS;
	if (fd < 0 || !isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return;
	/* A terminal that never had its size set (a bare pty) reports 0x0. */
	if (ws.ws_col && ws.ws_row) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}
