#include "kvm_cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"

#define CPUID_1_ECX_HYPERVISOR   (1u << 31)
#define CPUID_1_EDX_HTT          (1u << 28)
#define CPUID_MAX_ENTRIES        256

struct kvm_cpuid2 *kvm_cpuid_supported(int kvm_fd)
{
	for (unsigned nent = CPUID_MAX_ENTRIES; nent <= 4 * CPUID_MAX_ENTRIES; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return NULL;
		c->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			/* No performance counters: a guest that programs them
			 * would see nothing count under a VMM that does not
			 * virtualize them consistently. */
			for (unsigned i = 0; i < c->nent; i++)
				if (c->entries[i].function == 0xa)
					c->entries[i].eax = c->entries[i].ebx =
						c->entries[i].ecx = c->entries[i].edx = 0;
			return c;
		}
		free(c);
		if (errno != E2BIG)
			break;
	}
	log_error("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	return NULL;
}

void kvm_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned index, unsigned ncpus)
{
	for (unsigned i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 0x1:
			/* Initial APIC ID and the logical processor count. */
			e->ebx = (e->ebx & 0x0000ffffu) | (index << 24) |
				 ((ncpus > 255 ? 255 : ncpus) << 16);
			if (ncpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			break;
		case 0xb:
		case 0x1f:
			/* x2APIC topology: the x2APIC ID of this vCPU. */
			e->edx = index;
			break;
		default:
			break;
		}
	}
}

int kvm_cpuid_set(int vcpu_fd, const struct kvm_cpuid2 *model, unsigned index, unsigned ncpus)
{
	size_t size = sizeof(*model) + model->nent * sizeof(model->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	int err = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, model, size);
	kvm_cpuid_patch(c, index, ncpus);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		err = -errno;
	free(c);
	return err;
}
