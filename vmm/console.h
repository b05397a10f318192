/* The host side of the guest's console: where guest output goes and how
 * host input reaches the guest. On a terminal, stdin is put in raw mode
 * (restored on every way out of wisp) and Ctrl-A x quits. The console
 * devices (the serial port, the virtio console) write their output
 * through console_output, so --console applies to both alike. */
#ifndef WISP_CONSOLE_H
#define WISP_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct console {
	int out_fd;          /* guest output; -1 for none */
	bool out_owned;      /* opened by us (file:PATH) */
	int in_fd;           /* host input; -1 when none or at EOF */
	bool raw;            /* in_fd is a terminal in raw mode */
	bool escape;         /* Ctrl-A seen, waiting for the command key */
};

/* 0, or WISP_EXIT_USAGE after a message (an unwritable console file). */
int console_open(struct console *con, const struct vm_config *cfg);

/* Put the terminal (if any) into raw mode; safe to call once. */
void console_enter_raw(struct console *con);

/* Filter host input: copies to out what the guest should get, and returns
 * true when the user asked to quit (Ctrl-A x). */
bool console_filter_input(struct console *con, const uint8_t *in, size_t len,
			  uint8_t *out, size_t *out_len);

void console_close(struct console *con);

/* Write len bytes to *fd for a console device named who. EINTR and short
 * writes are retried. When nobody reads any more (EPIPE) *fd becomes -1,
 * so the guest keeps running and later output costs no syscall; on
 * another error (EAGAIN included) the rest is dropped rather than stall
 * a vCPU. *fd -1 discards. Returns the bytes written. */
size_t console_output(int *fd, const void *buf, size_t len, const char *who);

/* The size of the terminal on fd (TIOCGWINSZ), or 80x25 when fd is not a
 * terminal or reports no size. */
void console_window_size(int fd, uint16_t *cols, uint16_t *rows);

#define CONSOLE_DEFAULT_COLS 80
#define CONSOLE_DEFAULT_ROWS 25

#endif
