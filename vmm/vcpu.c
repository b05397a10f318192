#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "exit_status.h"
#include "log.h"

static void kick_signal_handler(int sig)
{
	(void)sig;
}

static uint64_t load_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void store_le(uint8_t *p, unsigned size, uint64_t v)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void handle_pio(struct vm *vm, struct vcpu_exit *exit)
{
	unsigned size = exit->pio.size;

	for (uint32_t i = 0; i < exit->pio.count; i++) {
		uint8_t *item = exit->pio.data + (size_t)i * size;
		uint64_t v;

		if (exit->pio.is_write) {
			bus_write(&vm->pio_bus, exit->pio.port, size, load_le(item, size));
		} else {
			bus_read(&vm->pio_bus, exit->pio.port, size, &v);
			store_le(item, size, v);
		}
	}
}

static void handle_mmio(struct vm *vm, struct vcpu_exit *exit)
{
	unsigned size = exit->mmio.size;
	uint64_t v;

	if (size == 0 || size > 8)
		return;
	if (exit->mmio.is_write) {
		bus_write(&vm->mmio_bus, exit->mmio.gpa, size, load_le(exit->mmio.data, size));
	} else {
		bus_read(&vm->mmio_bus, exit->mmio.gpa, size, &v);
		store_le(exit->mmio.data, size, v);
	}
}

void vcpu_serve_io(struct vcpu *vcpu, struct vcpu_exit *exit)
{
	if (exit->kind == VCPU_EXIT_PIO) {
		vcpu->pio_exits++;
		handle_pio(vcpu->vm, exit);
	} else if (exit->kind == VCPU_EXIT_MMIO) {
		vcpu->mmio_exits++;
		handle_mmio(vcpu->vm, exit);
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	struct vcpu_exit exit;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

	if (vcpu->index == 0) {
		uint64_t expected = 0;
		atomic_compare_exchange_strong(&vm->first_entry_ns, &expected, monotonic_ns());
	}

	while (!vm_stopping(vm)) {
		int err = vm->accel->vcpu_run(vcpu, &exit);

		if (err) {
			log_error("vCPU %u: running the guest failed: %s", vcpu->index, strerror(-err));
			vm_request_stop(vm, VM_STOP_INTERNAL, 0);
			break;
		}
		switch (exit.kind) {
		case VCPU_EXIT_PIO:
		case VCPU_EXIT_MMIO:
			vcpu_serve_io(vcpu, &exit);
			break;
		case VCPU_EXIT_KICKED:
			break;
		case VCPU_EXIT_SHUTDOWN:
			log_error("vCPU %u: triple fault: the guest crashed", vcpu->index);
			vm_request_stop(vm, VM_STOP_CRASH, 0);
			break;
		case VCPU_EXIT_RESET:
			vm_request_stop(vm, VM_STOP_RESET, 0);
			break;
		case VCPU_EXIT_POWEROFF:
			vm_request_stop(vm, VM_STOP_POWEROFF, 0);
			break;
		case VCPU_EXIT_ERROR:
			log_error("vCPU %u: %s (code %llu)", vcpu->index, exit.error.what,
				  (unsigned long long)exit.error.code);
			vm_request_stop(vm, VM_STOP_CRASH, 0);
			break;
		}
	}
	return NULL;
}

int vcpus_start(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = kick_signal_handler };

	/* No SA_RESTART: the kick must interrupt KVM_RUN. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		int err = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

		if (err) {
			log_error("cannot start the thread of vCPU %u: %s", i, strerror(err));
			vm_request_stop(vm, VM_STOP_INTERNAL, 0);
			return WISP_EXIT_HOST;
		}
		vcpu->thread_started = true;
	}
	return 0;
}

void vcpus_stop(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].thread_started)
			vm->accel->vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].thread_started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].thread_started = false;
		}
	}
}
