#include "vm.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "exit_status.h"
#include "log.h"
#include "machine.h"

uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct vm *vm_of(struct platform *p)
{
	return (struct vm *)((char *)p - offsetof(struct vm, platform));
}

static void vm_platform_set_irq(struct platform *p, unsigned gsi, bool level)
{
	struct vm *vm = vm_of(p);

	vm->accel->set_irq(vm, gsi, level);
}

static void vm_platform_signal_msi(struct platform *p, uint64_t address, uint32_t data)
{
	struct vm *vm = vm_of(p);

	vm->accel->signal_msi(vm, address, data);
}

static void vm_platform_request_stop(struct platform *p, enum vm_stop_reason reason, int status)
{
	vm_request_stop(vm_of(p), reason, status);
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status)
{
	uint64_t one = 1;
	bool first;

	/* The lock makes reason and status one decision: the first request
	 * wins whole, whichever threads race. */
	pthread_mutex_lock(&vm->stop_lock);
	first = atomic_load(&vm->stop_reason) == VM_STOP_NONE;
	if (first) {
		vm->stop_status = status;
		atomic_store_explicit(&vm->stop_reason, (int)reason, memory_order_release);
	}
	pthread_mutex_unlock(&vm->stop_lock);
	if (first && write(vm->stop_eventfd, &one, sizeof(one)) < 0)
		log_debug("stop eventfd: %s", strerror(errno));
}

int vm_exit_status(const struct vm *vm)
{
	switch ((enum vm_stop_reason)atomic_load(&vm->stop_reason)) {
	case VM_STOP_NONE:
	case VM_STOP_POWEROFF:
	case VM_STOP_RESET:
		return WISP_EXIT_OK;
	case VM_STOP_GUEST_EXIT:
		return vm->stop_status & 0xff;
	case VM_STOP_CRASH:
		return WISP_EXIT_GUEST_CRASH;
	case VM_STOP_TIMEOUT:
		return WISP_EXIT_TIMEOUT;
	case VM_STOP_SIGNAL:
		return WISP_EXIT_SIGNAL;
	case VM_STOP_INTERNAL:
		return WISP_EXIT_INTERNAL;
	}
	return WISP_EXIT_INTERNAL;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, const struct accel_ops *accel,
	      uint64_t t0_ns)
{
	int err;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->accel = accel;
	vm->nvcpus = cfg->cpus;
	vm->t0_ns = t0_ns;
	pthread_mutex_init(&vm->stop_lock, NULL);
	vm->stop_eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_eventfd < 0) {
		log_error("eventfd: %s", strerror(errno));
		return WISP_EXIT_HOST;
	}
	bus_init(&vm->pio_bus, "pio");
	bus_init(&vm->mmio_bus, "mmio");

	err = guest_mem_init(&vm->mem, cfg->mem_size);
	if (err) {
		log_error("cannot reserve %llu MiB of guest memory: %s",
			  (unsigned long long)(cfg->mem_size >> 20), strerror(-err));
		return WISP_EXIT_HOST;
	}
	vm->platform = (struct platform){
		.pio = &vm->pio_bus,
		.mmio = &vm->mmio_bus,
		.mem = &vm->mem,
		.set_irq = vm_platform_set_irq,
		.signal_msi = vm_platform_signal_msi,
		.request_stop = vm_platform_request_stop,
	};

	if (accel->vm_create(vm))
		return WISP_EXIT_HOST;

	vm->vcpus = calloc(vm->nvcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		log_error("out of memory");
		return WISP_EXIT_HOST;
	}
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].index = i;
		if (accel->vcpu_create(&vm->vcpus[i]))
			return WISP_EXIT_HOST;
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (vm->machine)
		machine_destroy(vm->machine);
	vm->machine = NULL;
	if (vm->vcpus && vm->accel)
		for (unsigned i = 0; i < vm->nvcpus; i++)
			vm->accel->vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	if (vm->accel)
		vm->accel->vm_destroy(vm);
	bus_destroy(&vm->pio_bus);
	bus_destroy(&vm->mmio_bus);
	guest_mem_destroy(&vm->mem);
	if (vm->stop_eventfd >= 0)
		close(vm->stop_eventfd);
	vm->stop_eventfd = -1;
}
