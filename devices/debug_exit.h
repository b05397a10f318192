/* An exit port compatible with QEMU's isa-debug-exit: a guest writing v
 * ends the VM with exit status (v << 1) | 1. Test guests report their
 * verdict this way. */
#ifndef WISP_DEVICES_DEBUG_EXIT_H
#define WISP_DEVICES_DEBUG_EXIT_H

#include <stdint.h>

struct platform;
struct debug_exit;

/* Claims ports port..port+size-1 (wisp uses 0xf4, 4). Returns NULL after
 * logging why. */
struct debug_exit *debug_exit_create(struct platform *p, uint16_t port, unsigned size);
void debug_exit_destroy(struct debug_exit *d);

#endif
