/* The CPUID a KVM vCPU shows its guest: what KVM supports on this host,
 * trimmed to a consistent model (topology, hypervisor bit, no PMU). */
#ifndef WISP_KVM_CPUID_H
#define WISP_KVM_CPUID_H

#include <linux/kvm.h>

/* KVM_GET_SUPPORTED_CPUID, filtered; NULL after a message. Free it. */
struct kvm_cpuid2 *kvm_cpuid_supported(int kvm_fd);

/* Patch a copy of the model for vCPU index of ncpus and KVM_SET_CPUID2 it.
 * Returns 0 or a negative errno. */
int kvm_cpuid_set(int vcpu_fd, const struct kvm_cpuid2 *model, unsigned index, unsigned ncpus);

/* The per-vCPU patching, on its own for unit tests. */
void kvm_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned index, unsigned ncpus);

#endif
