/* The devices of a wisp PC: which legacy devices exist, where, on which
 * interrupt line. The one place that knows the machine's wiring. */
#ifndef WISP_MACHINE_H
#define WISP_MACHINE_H

#include <stdio.h>

struct vm;
struct machine;
struct uart8250;

/* console_fd: where the serial console's output goes (-1: nowhere).
 * Returns NULL after a message. */
struct machine *machine_create(struct vm *vm, int console_fd);
void machine_destroy(struct machine *machine);

struct uart8250 *machine_console_uart(struct machine *machine);

/* Boot progress recorded from the POST code port, at exit. */
void machine_report_boot_timings(struct machine *machine, FILE *out);

#endif
