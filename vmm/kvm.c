/* The KVM backend: /dev/kvm ioctls, one vCPU fd per vCPU thread, the
 * in-kernel LAPIC/IOAPIC/PIC and PIT. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel.h"
#include "cpu_state.h"
#include "kvm_cpuid.h"
#include "log.h"
#include "memory_map.h"
#include "vm.h"

#define KVM_DEVICE "/dev/kvm"

#define MSR_IA32_MISC_ENABLE        0x000001a0
#define MISC_ENABLE_FAST_STRING     (1ull << 0)

#define APIC_LVT_LINT0              0x350
#define APIC_LVT_LINT1              0x360
#define APIC_MODE_EXTINT            0x7
#define APIC_MODE_NMI               0x4

struct kvm_vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	struct kvm_cpuid2 *cpuid;   /* supported, filtered; patched per vCPU */
};

struct kvm_vcpu {
	int fd;
	struct kvm_run *run;
};

static int open_kvm(char *why, size_t why_len)
{
	int fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	int version;

	if (fd < 0) {
		if (errno == ENOENT)
			snprintf(why, why_len, "%s does not exist (no KVM on this host)", KVM_DEVICE);
		else if (errno == EACCES || errno == EPERM)
			snprintf(why, why_len, "no permission to open %s (join the kvm group?)",
				 KVM_DEVICE);
		else
			snprintf(why, why_len, "cannot open %s: %s", KVM_DEVICE, strerror(errno));
		return -1;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(why, why_len, "%s speaks KVM API %d, wisp needs %d", KVM_DEVICE,
			 version, KVM_API_VERSION);
		close(fd);
		return -1;
	}
	return fd;
}

bool kvm_usable(char *why, size_t why_len)
{
	int fd = open_kvm(why, why_len);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A real-mode loop of PROBE_ITERATIONS "dec ecx; jnz" iterations, then hlt.
 * Hardware virtualization runs it in microseconds; a KVM that emulates
 * ring-0 code (PVM) needs tens of milliseconds. */
#define PROBE_ITERATIONS 20000
#define PROBE_CODE_ADDR  0x1000
#define PROBE_MEM_SIZE   0x10000
#define PROBE_NATIVE_MAX_NS 3000000ull  /* 3 ms: ~150x the native time */

static const uint8_t probe_code[] = {
	0x66, 0xb9, PROBE_ITERATIONS & 0xff, (PROBE_ITERATIONS >> 8) & 0xff, 0, 0, /* mov ecx, N */
	0x66, 0x49,                                                          /* dec ecx */
	0x75, 0xfc,                                                          /* jnz .-2 */
	0xf4,                                                                /* hlt */
};

bool kvm_runs_guests_natively(char *why, size_t why_len)
{
	int kvm_fd, vm_fd = -1, vcpu_fd = -1;
	void *mem = MAP_FAILED;
	struct kvm_run *run = MAP_FAILED;
	long run_size;
	bool native = false;
	uint64_t best = ~0ull;
	bool pvm = access("/sys/module/kvm_pvm", F_OK) == 0;

	kvm_fd = open_kvm(why, why_len);
	if (kvm_fd < 0)
		return false;
	snprintf(why, why_len, "the KVM probe VM could not be set up");
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		goto out;
	mem = mmap(NULL, PROBE_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		goto out;
	memcpy((uint8_t *)mem + PROBE_CODE_ADDR, probe_code, sizeof(probe_code));
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = PROBE_MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto out;
	ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR);
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu_fd < 0 || run_size <= 0)
		goto out;
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED)
		goto out;

	/* Twice: the first run also pays for faulting in the page. */
	for (int attempt = 0; attempt < 2; attempt++) {
		struct kvm_sregs sregs;
		struct kvm_regs regs = { .rip = PROBE_CODE_ADDR, .rflags = 0x2 };
		uint64_t t;

		if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
			goto out;
		sregs.cs.base = 0;
		sregs.cs.selector = 0;
		if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0 ||
		    ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
			goto out;
		t = monotonic_ns();
		if (ioctl(vcpu_fd, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_HLT) {
			snprintf(why, why_len, "the KVM probe guest did not run to its hlt");
			goto out;
		}
		t = monotonic_ns() - t;
		if (t < best)
			best = t;
	}
	native = best <= PROBE_NATIVE_MAX_NS;
	snprintf(why, why_len, "KVM ran a %d-iteration ring-0 probe loop in %.2f ms (%s)%s",
		 PROBE_ITERATIONS, best / 1e6,
		 native ? "hardware virtualization" : "ring-0 code is emulated, ~1000x slower than native",
		 pvm ? "; kvm_pvm is loaded: a software KVM without VMX/SVM" : "");
out:
	if (run != MAP_FAILED)
		munmap(run, run_size);
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	if (mem != MAP_FAILED)
		munmap(mem, PROBE_MEM_SIZE);
	if (vm_fd >= 0)
		close(vm_fd);
	close(kvm_fd);
	return native;
}

static bool check_cap(int fd, long cap, const char *name)
{
	if (ioctl(fd, KVM_CHECK_EXTENSION, cap) > 0)
		return true;
	log_error("KVM lacks %s, which wisp needs", name);
	return false;
}

static int kvm_vm_create(struct vm *vm)
{
	struct kvm_vm *k = calloc(1, sizeof(*k));
	char why[256];
	uint64_t identity_map = KVM_IDENTITY_MAP_ADDR;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	long run_size;

	if (!k)
		return -ENOMEM;
	k->vm_fd = -1;
	vm->accel_data = k;
	k->kvm_fd = open_kvm(why, sizeof(why));
	if (k->kvm_fd < 0) {
		log_error("%s", why);
		return -ENODEV;
	}
	if (!check_cap(k->kvm_fd, KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY") ||
	    !check_cap(k->kvm_fd, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP") ||
	    !check_cap(k->kvm_fd, KVM_CAP_PIT2, "KVM_CAP_PIT2") ||
	    !check_cap(k->kvm_fd, KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT") ||
	    !check_cap(k->kvm_fd, KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID") ||
	    !check_cap(k->kvm_fd, KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI"))
		return -ENODEV;
	if ((unsigned)ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS) < vm->nvcpus &&
	    (unsigned)ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS) < vm->nvcpus) {
		log_error("KVM on this host allows fewer than %u vCPUs", vm->nvcpus);
		return -ENODEV;
	}

	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		log_error("KVM_CREATE_VM failed: %s", strerror(errno));
		return -errno;
	}
	/* Intel needs both outside RAM; AMD and PVM ignore them. */
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		log_debug("KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	    ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity_map) < 0)
		log_debug("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));

	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct guest_mem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region region = {
			.slot = i, .guest_phys_addr = r->gpa, .memory_size = r->size,
			.userspace_addr = (uintptr_t)r->hva,
		};
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
			log_error("KVM_SET_USER_MEMORY_REGION (%llu MiB at 0x%llx): %s",
				  (unsigned long long)(r->size >> 20), (unsigned long long)r->gpa,
				  strerror(errno));
			return -errno;
		}
	}
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_error("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -errno;
	}
	/* Despite its name, SPEAKER_DUMMY is what makes the kernel serve port
	 * 0x61 (channel 2's gate and output), which Linux's PIT calibration
	 * polls. */
	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_error("KVM_CREATE_PIT2: %s", strerror(errno));
		return -errno;
	}
	run_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0) {
		log_error("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -EIO;
	}
	k->run_size = run_size;
	k->cpuid = kvm_cpuid_supported(k->kvm_fd);
	if (!k->cpuid)
		return -EIO;
	return 0;
}

static void kvm_vm_destroy(struct vm *vm)
{
	struct kvm_vm *k = vm->accel_data;

	if (!k)
		return;
	free(k->cpuid);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	free(k);
	vm->accel_data = NULL;
}

/* LINT0 in ExtINT mode and LINT1 as NMI: the virtual-wire wiring a PC
 * firmware leaves, which Linux and the MP table's local entries assume. */
static int setup_lapic_lints(int fd)
{
	struct kvm_lapic_state lapic;
	uint32_t *lint0 = (uint32_t *)&lapic.regs[APIC_LVT_LINT0];
	uint32_t *lint1 = (uint32_t *)&lapic.regs[APIC_LVT_LINT1];

	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	*lint0 = (*lint0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	*lint1 = (*lint1 & ~0x700u) | (APIC_MODE_NMI << 8);
	if (ioctl(fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

static int setup_msrs(int fd)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[1];
	} msrs = {
		.hdr.nmsrs = 1,
		.entries = { { .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING } },
	};

	if (ioctl(fd, KVM_SET_MSRS, &msrs) != 1)
		log_debug("KVM_SET_MSRS(IA32_MISC_ENABLE) was refused");
	return 0;
}

static int kvm_vcpu_create(struct vcpu *vcpu)
{
	struct kvm_vm *k = vcpu->vm->accel_data;
	struct kvm_vcpu *kv = calloc(1, sizeof(*kv));
	int err;

	if (!kv)
		return -ENOMEM;
	vcpu->accel_data = kv;
	kv->run = MAP_FAILED;
	kv->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)vcpu->index);
	if (kv->fd < 0) {
		log_error("KVM_CREATE_VCPU %u: %s", vcpu->index, strerror(errno));
		return -errno;
	}
	kv->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, kv->fd, 0);
	if (kv->run == MAP_FAILED) {
		log_error("mmap of vCPU %u's kvm_run: %s", vcpu->index, strerror(errno));
		return -errno;
	}
	err = kvm_cpuid_set(kv->fd, k->cpuid, vcpu->index, vcpu->vm->nvcpus);
	if (err) {
		log_error("KVM_SET_CPUID2 on vCPU %u: %s", vcpu->index, strerror(-err));
		return err;
	}
	setup_msrs(kv->fd);
	err = setup_lapic_lints(kv->fd);
	if (err) {
		log_error("setting up the LAPIC of vCPU %u: %s", vcpu->index, strerror(-err));
		return err;
	}
	return 0;
}

static void kvm_vcpu_destroy(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = vcpu->accel_data;
	struct kvm_vm *k = vcpu->vm->accel_data;

	if (!kv)
		return;
	if (kv->run != MAP_FAILED && k)
		munmap(kv->run, k->run_size);
	if (kv->fd >= 0)
		close(kv->fd);
	free(kv);
	vcpu->accel_data = NULL;
}

static void to_kvm_segment(struct kvm_segment *out, const struct cpu_segment *in)
{
	*out = (struct kvm_segment){
		.base = in->base, .limit = in->limit, .selector = in->selector,
		.type = in->type, .present = in->present, .dpl = in->dpl, .db = in->db,
		.s = in->s, .l = in->l, .g = in->g, .avl = in->avl, .unusable = in->unusable,
	};
}

static int kvm_vcpu_set_state(struct vcpu *vcpu, const struct cpu_state *st)
{
	struct kvm_vcpu *kv = vcpu->accel_data;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(kv->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	to_kvm_segment(&sregs.cs, &st->cs);
	to_kvm_segment(&sregs.ds, &st->ds);
	to_kvm_segment(&sregs.es, &st->es);
	to_kvm_segment(&sregs.fs, &st->fs);
	to_kvm_segment(&sregs.gs, &st->gs);
	to_kvm_segment(&sregs.ss, &st->ss);
	to_kvm_segment(&sregs.tr, &st->tr);
	to_kvm_segment(&sregs.ldt, &st->ldt);
	sregs.gdt.base = st->gdt.base;
	sregs.gdt.limit = st->gdt.limit;
	sregs.idt.base = st->idt.base;
	sregs.idt.limit = st->idt.limit;
	sregs.cr0 = st->cr0;
	sregs.cr2 = st->cr2;
	sregs.cr3 = st->cr3;
	sregs.cr4 = st->cr4;
	sregs.efer = st->efer;
	if (ioctl(kv->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rax = st->gpr[CPU_RAX]; regs.rbx = st->gpr[CPU_RBX];
	regs.rcx = st->gpr[CPU_RCX]; regs.rdx = st->gpr[CPU_RDX];
	regs.rsi = st->gpr[CPU_RSI]; regs.rdi = st->gpr[CPU_RDI];
	regs.rsp = st->gpr[CPU_RSP]; regs.rbp = st->gpr[CPU_RBP];
	regs.r8 = st->gpr[CPU_R8];   regs.r9 = st->gpr[CPU_R9];
	regs.r10 = st->gpr[CPU_R10]; regs.r11 = st->gpr[CPU_R11];
	regs.r12 = st->gpr[CPU_R12]; regs.r13 = st->gpr[CPU_R13];
	regs.r14 = st->gpr[CPU_R14]; regs.r15 = st->gpr[CPU_R15];
	regs.rip = st->rip;
	regs.rflags = st->rflags | 0x2;
	if (ioctl(kv->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	if (ioctl(kv->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

static void log_vcpu_registers(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = vcpu->accel_data;
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(kv->fd, KVM_GET_REGS, &r) < 0 || ioctl(kv->fd, KVM_GET_SREGS, &s) < 0)
		return;
	log_error("vCPU %u: rip=%016llx rsp=%016llx rflags=%08llx cs=%04x cr0=%08llx cr3=%llx cr4=%llx efer=%llx",
		  vcpu->index, r.rip, r.rsp, r.rflags, s.cs.selector, s.cr0, s.cr3, s.cr4, s.efer);
}

static int kvm_vcpu_run(struct vcpu *vcpu, struct vcpu_exit *exit)
{
	struct kvm_vcpu *kv = vcpu->accel_data;
	struct kvm_run *run = kv->run;

	for (;;) {
		if (ioctl(kv->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				run->immediate_exit = 0;
				exit->kind = VCPU_EXIT_KICKED;
				return 0;
			}
			return -errno;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			exit->kind = VCPU_EXIT_PIO;
			exit->pio.port = run->io.port;
			exit->pio.size = run->io.size;
			exit->pio.is_write = run->io.direction == KVM_EXIT_IO_OUT;
			exit->pio.count = run->io.count;
			exit->pio.data = (uint8_t *)run + run->io.data_offset;
			return 0;
		case KVM_EXIT_MMIO:
			exit->kind = VCPU_EXIT_MMIO;
			exit->mmio.gpa = run->mmio.phys_addr;
			exit->mmio.size = run->mmio.len;
			exit->mmio.is_write = run->mmio.is_write;
			exit->mmio.data = run->mmio.data;
			return 0;
		case KVM_EXIT_INTR:
			exit->kind = VCPU_EXIT_KICKED;
			return 0;
		case KVM_EXIT_HLT:
		case KVM_EXIT_IRQ_WINDOW_OPEN:
			continue;
		case KVM_EXIT_SHUTDOWN:
			exit->kind = VCPU_EXIT_SHUTDOWN;
			return 0;
		case KVM_EXIT_SYSTEM_EVENT:
			switch (run->system_event.type) {
			case KVM_SYSTEM_EVENT_SHUTDOWN:
				exit->kind = VCPU_EXIT_POWEROFF;
				return 0;
			case KVM_SYSTEM_EVENT_RESET:
				exit->kind = VCPU_EXIT_RESET;
				return 0;
			default:
				exit->kind = VCPU_EXIT_SHUTDOWN;
				return 0;
			}
		case KVM_EXIT_INTERNAL_ERROR:
			exit->kind = VCPU_EXIT_ERROR;
			exit->error.code = run->internal.suberror;
			exit->error.what = run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				? "KVM could not emulate an instruction of the guest"
				: "KVM reported an internal error";
			log_vcpu_registers(vcpu);
			return 0;
		case KVM_EXIT_FAIL_ENTRY:
			exit->kind = VCPU_EXIT_ERROR;
			exit->error.code = run->fail_entry.hardware_entry_failure_reason;
			exit->error.what = "KVM could not enter the guest (invalid vCPU state)";
			log_vcpu_registers(vcpu);
			return 0;
		default:
			exit->kind = VCPU_EXIT_ERROR;
			exit->error.code = run->exit_reason;
			exit->error.what = "KVM returned an exit wisp does not handle";
			log_vcpu_registers(vcpu);
			return 0;
		}
	}
}

static void kvm_vcpu_kick(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = vcpu->accel_data;

	/* immediate_exit covers the window before the thread enters KVM_RUN;
	 * the signal interrupts it once inside. */
	__atomic_store_n(&kv->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, SIGUSR1);
}

static void kvm_set_irq(struct vm *vm, unsigned gsi, bool level)
{
	struct kvm_vm *k = vm->accel_data;
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(k->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn("KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

static void kvm_signal_msi(struct vm *vm, uint64_t address, uint32_t data)
{
	struct kvm_vm *k = vm->accel_data;
	struct kvm_msi msi = {
		.address_lo = (uint32_t)address,
		.address_hi = (uint32_t)(address >> 32),
		.data = data,
	};

	/* 0: the interrupt was blocked (a masked or absent target), which
	 * is the guest's business; < 0 is ours. */
	if (ioctl(k->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		log_warn("KVM_SIGNAL_MSI 0x%llx/0x%x: %s", (unsigned long long)address, data,
			 strerror(errno));
}

const struct accel_ops kvm_accel_ops = {
	.name = "kvm",
	.vm_create = kvm_vm_create,
	.vm_destroy = kvm_vm_destroy,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_set_state = kvm_vcpu_set_state,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.set_irq = kvm_set_irq,
	.signal_msi = kvm_signal_msi,
};
