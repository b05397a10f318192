#include "cmd_run.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "console.h"
#include "devices/uart8250.h"
#include "exit_status.h"
#include "file_map.h"
#include "loader/bzimage.h"
#include "loader/loader.h"
#include "log.h"
#include "machine.h"
#include "vcpu.h"
#include "virtio/virtio_console.h"
#include "vm.h"

/* When the UART's receive queue is full, look again this often. */
#define RX_RETRY_MS 10

static int check_host_memory(uint64_t mem_size)
{
	long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
	uint64_t host;

	if (pages <= 0 || page_size <= 0)
		return 0;
	host = (uint64_t)pages * (uint64_t)page_size;
	if (mem_size > host) {
		log_error("--mem %llu MiB is more than this host's %llu MiB of RAM",
			  (unsigned long long)(mem_size >> 20), (unsigned long long)(host >> 20));
		return WISP_EXIT_HOST;
	}
	return 0;
}

/* The signals the main loop takes through a signalfd; every thread blocks
 * them (vCPU threads inherit the mask) so they cannot interrupt a device
 * model halfway. SIGPIPE is blocked so a closed console is an EPIPE. */
static int block_signals(sigset_t *handled)
{
	sigset_t blocked;

	sigemptyset(handled);
	sigaddset(handled, SIGINT);
	sigaddset(handled, SIGTERM);
	sigaddset(handled, SIGHUP);
	sigaddset(handled, SIGWINCH);
	blocked = *handled;
	sigaddset(&blocked, SIGPIPE);
	sigaddset(&blocked, SIGUSR1);
	return pthread_sigmask(SIG_BLOCK, &blocked, NULL);
}

static int arm_timeout(double seconds)
{
	struct itimerspec its = { 0 };
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0)
		return -1;
	its.it_value.tv_sec = (time_t)seconds;
	its.it_value.tv_nsec = (long)((seconds - (double)its.it_value.tv_sec) * 1e9);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Host input goes to one device: the virtio console when there is one
 * (--console-device virtio), else the serial port. */
static size_t input_space(struct vm *vm)
{
	struct virtio_dev *hvc = machine_virtio_console(vm->machine);

	if (hvc)
		return virtio_console_input_space(hvc);
	return uart8250_rx_space(machine_console_uart(vm->machine));
}

static void feed_console_input(struct vm *vm, struct console *con)
{
	struct virtio_dev *hvc = machine_virtio_console(vm->machine);
	uint8_t in[256], out[256];
	size_t space = input_space(vm), n;
	ssize_t got;

	if (space == 0)
		return;
	got = read(con->in_fd, in, space < sizeof(in) ? space : sizeof(in));
	if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
		con->in_fd = -1;   /* EOF: the guest keeps running without input */
		return;
	}
	if (got < 0)
		return;
	if (console_filter_input(con, in, (size_t)got, out, &n)) {
		log_info("quit requested from the console");
		vm_request_stop(vm, VM_STOP_SIGNAL, 0);
	}
	/* No more was read than there is space for: all of it is taken. */
	if (hvc)
		virtio_console_receive(hvc, out, n);
	else
		uart8250_receive(machine_console_uart(vm->machine), out, n);
}

/* SIGWINCH: the virtio console tells the guest the terminal's new size
 * (the serial port has no way to). */
static void console_resized(struct vm *vm, const struct console *con)
{
	struct virtio_dev *hvc = machine_virtio_console(vm->machine);
	uint16_t cols, rows;

	if (!hvc)
		return;
	console_window_size(con->out_fd, &cols, &rows);
	virtio_console_resize(hvc, cols, rows);
}

/* Serve signals, the timeout and console input until the VM stops. */
static void main_loop(struct vm *vm, struct console *con, int sig_fd, int timer_fd)
{
	while (!vm_stopping(vm)) {
		struct pollfd fds[4];
		nfds_t n = 0;
		int input_slot = -1, wake_slot = -1, timeout_ms = -1;
		struct virtio_dev *hvc = machine_virtio_console(vm->machine);

		fds[n++] = (struct pollfd){ .fd = vm->stop_eventfd, .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		if (timer_fd >= 0)
			fds[n++] = (struct pollfd){ .fd = timer_fd, .events = POLLIN };
		if (con->in_fd >= 0) {
			if (input_space(vm) > 0) {
				input_slot = (int)n;
				fds[n++] = (struct pollfd){ .fd = con->in_fd, .events = POLLIN };
			} else if (hvc) {
				/* Input waits for the guest's receive buffers; the
				 * device says when they came. */
				wake_slot = (int)n;
				fds[n++] = (struct pollfd){ .fd = virtio_console_wake_fd(hvc),
							    .events = POLLIN };
			} else {
				timeout_ms = RX_RETRY_MS;
			}
		}
		if (poll(fds, n, timeout_ms) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			vm_request_stop(vm, VM_STOP_INTERNAL, 0);
			break;
		}
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			bool got = read(sig_fd, &si, sizeof(si)) == sizeof(si);

			if (got && si.ssi_signo == SIGWINCH) {
				console_resized(vm, con);
			} else if (got) {
				log_info("stopping the VM on %s", strsignal((int)si.ssi_signo));
				vm_request_stop(vm, VM_STOP_SIGNAL, 0);
			}
		}
		if (timer_fd >= 0 && (fds[2].revents & POLLIN)) {
			log_error("the guest did not finish within --timeout %g s", vm->cfg->timeout_sec);
			vm_request_stop(vm, VM_STOP_TIMEOUT, 0);
		}
		if (input_slot >= 0) {
			if (fds[input_slot].revents & (POLLIN | POLLHUP))
				feed_console_input(vm, con);
			else if (fds[input_slot].revents & (POLLNVAL | POLLERR))
				con->in_fd = -1;
		}
		if (wake_slot >= 0 && (fds[wake_slot].revents & POLLIN))
			virtio_console_wake_ack(hvc);
	}
}

static void report_boot_timings(struct vm *vm, uint64_t end_ns)
{
	uint64_t first = atomic_load(&vm->first_entry_ns);

	if (first)
		fprintf(stderr, "boot-timing: first guest entry at %.3f ms\n",
			(first - vm->t0_ns) / 1e6);
	machine_report_boot_timings(vm->machine, stderr);
	fprintf(stderr, "boot-timing: exit at %.3f ms\n", (end_ns - vm->t0_ns) / 1e6);
}

/* Each drive's image can be opened as asked (the device opens it again
 * when the machine is built): a mistake here is the user's, reported
 * before any thread starts. */
/* --transport auto: a bzImage is a distribution kernel's, which finds
 * PCI devices by itself; the other formats (test guests, PVH and
 * multiboot kernels, minimal microVM builds) get the simpler virtio-mmio. */
static enum virtio_transport resolve_transport(const struct vm_config *cfg,
					       const struct file_map *kernel)
{
	enum virtio_transport t = cfg->transport;

	if (t == VIRTIO_TRANSPORT_AUTO)
		t = cfg->virtio_mmio_announce == VIRTIO_MMIO_IN_DSDT &&
				    bzimage_detect(kernel->data, kernel->size)
			    ? VIRTIO_TRANSPORT_PCI : VIRTIO_TRANSPORT_MMIO;
	log_debug("virtio transport: %s", t == VIRTIO_TRANSPORT_PCI ? "pci" : "mmio");
	return t;
}

int cmd_run(const struct vm_config *cfg, uint64_t t0_ns)
{
	struct file_map kernel = { 0 }, initrd = { 0 };
	struct console con = { .out_fd = -1, .in_fd = -1 };
	const struct accel_ops *accel;
	struct loader_result boot;
	struct loader_input in;
	struct vm vm = { .stop_eventfd = -1 };
	struct machine_backends backends;
	char *cmdline = NULL;
	sigset_t handled;
	int status, sig_fd = -1, timer_fd = -1;

	/* Everything the user can get wrong is checked before any thread. */
	if (file_map_open(&kernel, cfg->kernel_path, "kernel"))
		return WISP_EXIT_IMAGE;
	if (cfg->initrd_path && file_map_open(&initrd, cfg->initrd_path, "initrd")) {
		status = WISP_EXIT_IMAGE;
		goto out_files;
	}
	if (machine_backends_open(&backends, cfg)) {
		status = WISP_EXIT_IMAGE;
		goto out_files;
	}
	status = check_host_memory(cfg->mem_size);
	if (status)
		goto out_backends;
	status = console_open(&con, cfg);
	if (status)
		goto out_backends;
	accel = accel_select(cfg->accel);
	if (!accel) {
		status = WISP_EXIT_HOST;
		goto out_console;
	}
	if (block_signals(&handled)) {
		status = WISP_EXIT_INTERNAL;
		goto out_console;
	}
	status = vm_create(&vm, cfg, accel, t0_ns);
	if (status)
		goto out_vm;
	vm.transport = resolve_transport(cfg, &kernel);
	vm.machine = machine_create(&vm, &backends, con.out_fd);
	if (!vm.machine) {
		status = WISP_EXIT_INTERNAL;
		goto out_vm;
	}

	if (machine_kernel_cmdline(vm.machine, cfg->cmdline, &cmdline)) {
		status = WISP_EXIT_INTERNAL;
		goto out_vm;
	}
	in = (struct loader_input){
		.kernel = kernel.data, .kernel_size = kernel.size, .kernel_path = cfg->kernel_path,
		.initrd = initrd.data, .initrd_size = initrd.size, .initrd_path = cfg->initrd_path,
		.cmdline = cmdline ? cmdline : cfg->cmdline, .ncpus = cfg->cpus,
		.virtio_mmio_announce = cfg->virtio_mmio_announce,
	};
	in.virtio_mmio = machine_virtio_mmio(vm.machine, &in.n_virtio_mmio);
	in.pci_intx = machine_pci_intx(vm.machine, &in.n_pci_intx);
	if (loader_load(&vm.mem, &in, &boot)) {
		status = WISP_EXIT_IMAGE;
		goto out_vm;
	}
	log_debug("%s: %s image at 0x%llx-0x%llx", cfg->kernel_path, boot_format_name(boot.format),
		  (unsigned long long)boot.kernel_start, (unsigned long long)boot.kernel_end);
	if (vm.accel->vcpu_set_state(&vm.vcpus[0], &boot.bsp)) {
		log_error("%s rejected the boot vCPU state", accel->name);
		status = WISP_EXIT_INTERNAL;
		goto out_vm;
	}

	sig_fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0) {
		log_error("signalfd: %s", strerror(errno));
		status = WISP_EXIT_INTERNAL;
		goto out_vm;
	}
	if (cfg->timeout_sec > 0) {
		timer_fd = arm_timeout(cfg->timeout_sec);
		if (timer_fd < 0) {
			log_error("timerfd: %s", strerror(errno));
			status = WISP_EXIT_INTERNAL;
			goto out_vm;
		}
	}
	/* The guest's file data is in guest RAM now. */
	file_map_close(&kernel);
	file_map_close(&initrd);

	console_enter_raw(&con);
	if (vcpus_start(&vm) == 0)
		main_loop(&vm, &con, sig_fd, timer_fd);
	vcpus_stop(&vm);
	console_close(&con);
	if (cfg->boot_timings)
		report_boot_timings(&vm, monotonic_ns());
	status = vm_exit_status(&vm);

out_vm:
	if (timer_fd >= 0)
		close(timer_fd);
	if (sig_fd >= 0)
		close(sig_fd);
	vm_destroy(&vm);
	free(cmdline);
out_console:
	console_close(&con);
out_backends:
	machine_backends_close(&backends);
out_files:
	file_map_close(&initrd);
	file_map_close(&kernel);
	return status;
}
