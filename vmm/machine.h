/* The devices of a wisp PC: which legacy and virtio devices exist, where,
 * on which interrupt line. The one place that knows the machine's wiring.
 *
 * virtio devices sit on the VM's one transport, in the order they are
 * created (drives, rng, nets, console): over virtio-mmio, device n at
 * VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_SLOT_SIZE on GSI VIRTIO_MMIO_GSI_BASE
 * + n (memory_map.h); over virtio-pci, the function in slot n + 1. */
#ifndef WISP_MACHINE_H
#define WISP_MACHINE_H

#include <stdio.h>

#include "config.h"

struct vm;
struct machine;
struct uart8250;
struct virtio_dev;
struct loader_virtio_mmio;
struct loader_pci_intx;

/* What the devices work on in the host, opened before the VM exists so
 * that a user's mistake is found before any thread starts: each drive's
 * image (opened, checked and locked) and each net's tap, in command-line
 * order. machine_create's devices take them over, leaving -1. */
struct machine_backends {
	int drive_fd[WISP_MAX_DRIVES];
	int net_fd[WISP_MAX_NETS];
};

/* Returns 0, or -1 after one message naming the option (nothing is left
 * open then). */
int machine_backends_open(struct machine_backends *b, const struct vm_config *cfg);
/* Closes what no device took. */
void machine_backends_close(struct machine_backends *b);

/* console_fd: where the console devices' output goes (-1: nowhere).
 * Returns NULL after a message. */
struct machine *machine_create(struct vm *vm, struct machine_backends *b, int console_fd);
void machine_destroy(struct machine *machine);

struct uart8250 *machine_console_uart(struct machine *machine);
/* The virtio console (--console-device virtio), or NULL. */
struct virtio_dev *machine_virtio_console(struct machine *machine);

/* The virtio-mmio devices, for the boot tables; *n gets their count. */
const struct loader_virtio_mmio *machine_virtio_mmio(const struct machine *machine,
						     unsigned *n);

/* The PCI functions' INTx routing, for the boot tables; *n gets their
 * count. */
const struct loader_pci_intx *machine_pci_intx(const struct machine *machine, unsigned *n);

/* The kernel command line for cmdline (NULL: none given) when the
 * virtio-mmio devices go on it (--virtio-mmio-cmdline): cmdline (or the
 * Linux default) plus virtio_mmio.device=SIZE@BASE:GSI for each device,
 * in *out (free() it). *out is NULL when the command line stays as given.
 * Returns 0, or -1 after a message. */
int machine_kernel_cmdline(const struct machine *machine, const char *cmdline, char **out);

/* Boot progress recorded from the POST code port, at exit. */
void machine_report_boot_timings(struct machine *machine, FILE *out);

#endif
