/* The accelerator interface: the one seam between everything that is the
 * same for every backend (loaders, buses, devices, interrupt routing, the
 * CLI) and the thing that actually runs guest instructions.
 *
 * An accelerator runs a vCPU until the guest does something the VMM must
 * handle and describes it as a struct vcpu_exit. The generic vCPU loop
 * (vcpu.c) serves port I/O and MMIO from the shared buses and calls run
 * again, which completes the access (for reads, with the data filled in). */
#ifndef WISP_ACCEL_H
#define WISP_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct cpu_state;

enum vcpu_exit_kind {
	VCPU_EXIT_PIO,       /* port I/O; pio.count items of pio.size bytes */
	VCPU_EXIT_MMIO,      /* access outside RAM */
	VCPU_EXIT_KICKED,    /* another thread asked this vCPU to look up */
	VCPU_EXIT_SHUTDOWN,  /* triple fault */
	VCPU_EXIT_RESET,     /* the guest asked for a system reset */
	VCPU_EXIT_POWEROFF,  /* the guest asked for a power-off */
	VCPU_EXIT_ERROR,     /* the backend cannot go on; error.what says why */
};

struct vcpu_exit {
	enum vcpu_exit_kind kind;
	union {
		struct {
			uint16_t port;
			uint8_t size;      /* 1, 2 or 4 */
			bool is_write;
			uint32_t count;    /* > 1 for string I/O */
			uint8_t *data;     /* count * size bytes, owned by the backend */
		} pio;
		struct {
			uint64_t gpa;
			uint8_t size;      /* 1 to 8 */
			bool is_write;
			uint8_t *data;     /* size bytes, owned by the backend */
		} mmio;
		struct {
			const char *what;  /* static string */
			uint64_t code;     /* backend-specific detail */
		} error;
	};
};

struct accel_ops {
	const char *name;
	/* Create the VM and map vm->mem into it. */
	int (*vm_create)(struct vm *vm);
	void (*vm_destroy)(struct vm *vm);
	/* Create vCPU vcpu->index. Every vCPU but 0 waits for INIT/SIPI. */
	int (*vcpu_create)(struct vcpu *vcpu);
	void (*vcpu_destroy)(struct vcpu *vcpu);
	/* Load the boot vCPU's initial architectural state. */
	int (*vcpu_set_state)(struct vcpu *vcpu, const struct cpu_state *state);
	/* Run until an exit; 0 and *exit filled, or a negative errno. Called
	 * only from the vCPU's own thread. */
	int (*vcpu_run)(struct vcpu *vcpu, struct vcpu_exit *exit);
	/* From any thread: make vcpu_run return VCPU_EXIT_KICKED soon. */
	void (*vcpu_kick)(struct vcpu *vcpu);
	/* Drive interrupt line gsi (IOAPIC pin / ISA IRQ) to a level. */
	void (*set_irq)(struct vm *vm, unsigned gsi, bool level);
	/* Deliver a message-signalled interrupt (address/data as a PCI
	 * function writes them). Any thread. */
	void (*signal_msi)(struct vm *vm, uint64_t address, uint32_t data);
};

enum accel_choice { ACCEL_AUTO, ACCEL_KVM, ACCEL_EMU };

extern const struct accel_ops kvm_accel_ops;
extern const struct accel_ops emu_accel_ops;

/* KVM's checks, for accel selection. Both fill why (a sentence) on false. */
bool kvm_usable(char *why, size_t why_len);
bool kvm_runs_guests_natively(char *why, size_t why_len);

/* Pick a backend for choice. Returns NULL after printing one message when
 * none can run; otherwise says on stderr (info level) which one and why. */
const struct accel_ops *accel_select(enum accel_choice choice);

const char *accel_choice_name(enum accel_choice choice);

#endif
