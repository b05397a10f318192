/* A virtual machine: guest RAM, the buses, the devices, the vCPUs and the
 * accelerator that runs them, plus the one place where stopping is
 * decided. */
#ifndef WISP_VM_H
#define WISP_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel.h"
#include "bus.h"
#include "config.h"
#include "guest_mem.h"
#include "platform.h"

struct machine;

struct vcpu {
	struct vm *vm;
	unsigned index;
	pthread_t thread;
	bool thread_started;
	void *accel_data;           /* the backend's per-vCPU state */
	uint64_t pio_exits, mmio_exits;
};

struct vm {
	const struct vm_config *cfg;
	const struct accel_ops *accel;
	void *accel_data;           /* the backend's per-VM state */
	struct guest_mem mem;
	struct bus pio_bus;
	struct bus mmio_bus;
	struct platform platform;   /* what devices see of this VM */
	struct machine *machine;    /* the devices */
	enum virtio_transport transport; /* of the virtio devices, never AUTO */
	struct vcpu *vcpus;
	unsigned nvcpus;

	_Atomic int stop_reason;    /* enum vm_stop_reason; first request wins */
	int stop_status;            /* for VM_STOP_GUEST_EXIT */
	pthread_mutex_t stop_lock;
	int stop_eventfd;           /* wakes the main loop on a stop request */
	uint64_t t0_ns;             /* process start, for boot timings */
	_Atomic uint64_t first_entry_ns; /* first KVM_RUN of vCPU 0 */
};

/* Build guest RAM, buses, devices and vCPUs; load nothing yet. Returns 0
 * or an exit status (after one message). */
int vm_create(struct vm *vm, const struct vm_config *cfg, const struct accel_ops *accel,
	      uint64_t t0_ns);
void vm_destroy(struct vm *vm);

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status);
static inline bool vm_stopping(struct vm *vm)
{
	return atomic_load_explicit(&vm->stop_reason, memory_order_acquire) != VM_STOP_NONE;
}

/* The exit status of wisp for a stopped VM. */
int vm_exit_status(const struct vm *vm);

uint64_t monotonic_ns(void);

#endif
