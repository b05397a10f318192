/* The software-core backend behind the accelerator interface: one emu_cpu
 * per vCPU thread, the interrupt controllers and timers KVM would keep in
 * the kernel (LAPICs, IOAPIC, 8259 pair, 8254), and HLT that sleeps until
 * an interrupt or a timer is due. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/i8254.h"
#include "devices/i8259.h"
#include "devices/ioapic.h"
#include "devices/msi.h"
#include "vmm/accel.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#include "apic_router.h"
#include "block.h"
#include "cpu.h"
#include "cpu_init.h"
#include "exec.h"
#include "interp.h"
#include "interrupt.h"
#include "jit.h"
#include "lapic.h"
#include "mem.h"

/* Instructions between looks at timers and requests: small enough that a
 * timer is late by well under a millisecond, large enough to be noise. */
#define RUN_BUDGET 20000

/* Runs of a block before it is translated: code that runs once or twice
 * (most of a boot's initialisation) is cheaper to interpret. */
#define JIT_THRESHOLD 4

struct emu_vm {
	struct exec_table table;
	struct apic_router *router;
	struct ioapic *ioapic;
	struct i8259 *pic;
	struct i8254 *pit;
	struct emu_vcpu **vcpus;   /* by index, for the PIC's INTR line */
	unsigned nvcpus;
	struct emu_code_map *code_map;
};

struct emu_vcpu {
	struct emu_cpu cpu;
	struct emu_env env;
	struct vcpu *vcpu;
	atomic_bool exit_request;
	pthread_mutex_t sleep_lock;
	pthread_cond_t sleep_cond;
	bool woken;
};

static uint64_t now_ns(void)
{
	return monotonic_ns();
}

static struct emu_vcpu *env_vcpu(struct emu_env *env)
{
	return (struct emu_vcpu *)((char *)env - offsetof(struct emu_vcpu, env));
}

/* A device may have stopped the VM (debug-exit, reset): the instruction
 * that did it completes, and the core stops at the next boundary, as a
 * KVM vCPU would on its way back from the exit. */
static void serve_io(struct emu_env *env, struct vcpu_exit *exit)
{
	struct emu_vcpu *ev = env_vcpu(env);

	vcpu_serve_io(ev->vcpu, exit);
	if (vm_stopping(ev->vcpu->vm))
		atomic_store(&ev->exit_request, true);
}

/* Port I/O and MMIO leave the core as the same exits KVM produces and are
 * served by the same code. */
static uint64_t env_pio_read(struct emu_env *env, uint16_t port, unsigned size)
{
	uint8_t data[4] = { 0 };
	struct vcpu_exit exit = { .kind = VCPU_EXIT_PIO,
		.pio = { .port = port, .size = (uint8_t)size, .is_write = false, .count = 1, .data = data } };
	uint64_t v = 0;

	serve_io(env, &exit);
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static void env_pio_write(struct emu_env *env, uint16_t port, unsigned size, uint64_t value)
{
	uint8_t data[4];
	struct vcpu_exit exit = { .kind = VCPU_EXIT_PIO,
		.pio = { .port = port, .size = (uint8_t)size, .is_write = true, .count = 1, .data = data } };

	for (unsigned i = 0; i < size && i < sizeof(data); i++)
		data[i] = (uint8_t)(value >> (8 * i));
	serve_io(env, &exit);
}

static uint64_t env_mmio_read(struct emu_env *env, uint64_t gpa, unsigned size)
{
	uint8_t data[8] = { 0 };
	struct vcpu_exit exit = { .kind = VCPU_EXIT_MMIO,
		.mmio = { .gpa = gpa, .size = (uint8_t)size, .is_write = false, .data = data } };
	uint64_t v = 0;

	serve_io(env, &exit);
	for (unsigned i = 0; i < size && i < sizeof(data); i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static void env_mmio_write(struct emu_env *env, uint64_t gpa, unsigned size, uint64_t value)
{
	uint8_t data[8];
	struct vcpu_exit exit = { .kind = VCPU_EXIT_MMIO,
		.mmio = { .gpa = gpa, .size = (uint8_t)size, .is_write = true, .data = data } };

	for (unsigned i = 0; i < size && i < sizeof(data); i++)
		data[i] = (uint8_t)(value >> (8 * i));
	serve_io(env, &exit);
}

/* Make a vCPU look up: out of emu_run, and out of a HLT sleep. */
static void wake(void *opaque)
{
	struct emu_vcpu *ev = opaque;

	atomic_store(&ev->exit_request, true);
	pthread_mutex_lock(&ev->sleep_lock);
	ev->woken = true;
	pthread_cond_signal(&ev->sleep_cond);
	pthread_mutex_unlock(&ev->sleep_lock);
}

/* The 8259's INTR output reaches the CPUs as LINT0 (ExtINT on the BSP, as
 * the MP table's local entries say). */
static void pic_intr_changed(void *opaque, bool level)
{
	struct emu_vm *e = opaque;

	if (e->vcpus && e->vcpus[0])
		emu_lapic_set_lint0(e->vcpus[0]->cpu.lapic, level);
}

/* Devices' writes into guest RAM (guest_mem.h) reach the code map too. */
static void note_device_write(void *opaque, uint64_t gpa, uint64_t len)
{
	emu_code_map_note_write(opaque, gpa, len);
}

static int emu_vm_create(struct vm *vm)
{
	struct emu_vm *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	vm->accel_data = e;
	exec_table_init(&e->table);
	e->nvcpus = vm->nvcpus;
	e->vcpus = calloc(vm->nvcpus, sizeof(*e->vcpus));
	e->router = apic_router_create();
	{
		const struct guest_mem_region *last = &vm->mem.regions[vm->mem.nregions - 1];

		e->code_map = emu_code_map_new(last->gpa + last->size);
	}
	if (!e->vcpus || !e->router || !e->code_map)
		return -ENOMEM;
	vm->mem.written = note_device_write;
	vm->mem.written_opaque = e->code_map;
	e->ioapic = ioapic_create(&vm->platform, apic_router_bus(e->router));
	e->pic = i8259_create(&vm->platform, pic_intr_changed, e);
	e->pit = i8254_create(&vm->platform, now_ns);
	if (!e->ioapic || !e->pic || !e->pit)
		return -ENODEV;
	apic_router_set_ioapic(e->router, e->ioapic);
	apic_router_set_pic(e->router, e->pic);
	return 0;
}

static void emu_vm_destroy(struct vm *vm)
{
	struct emu_vm *e = vm->accel_data;

	if (!e)
		return;
	if (e->pit)
		i8254_destroy(e->pit);
	if (e->pic)
		i8259_destroy(e->pic);
	if (e->ioapic)
		ioapic_destroy(e->ioapic);
	if (e->router)
		apic_router_destroy(e->router);
	vm->mem.written = NULL;
	emu_code_map_free(e->code_map);
	free(e->vcpus);
	free(e);
	vm->accel_data = NULL;
}

static int emu_vcpu_create(struct vcpu *vcpu)
{
	struct emu_vm *e = vcpu->vm->accel_data;
	struct emu_vcpu *ev = calloc(1, sizeof(*ev));
	pthread_condattr_t attr;

	if (!ev)
		return -ENOMEM;
	vcpu->accel_data = ev;
	ev->vcpu = vcpu;
	pthread_mutex_init(&ev->sleep_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->sleep_cond, &attr);
	pthread_condattr_destroy(&attr);
	ev->env = (struct emu_env){ env_pio_read, env_pio_write, env_mmio_read, env_mmio_write };

	emu_cpu_reset(&ev->cpu);
	ev->cpu.index = vcpu->index;
	ev->cpu.mem = &vcpu->vm->mem;
	ev->cpu.env = &ev->env;
	ev->cpu.tlb = emu_tlb_new();
	ev->cpu.blocks = emu_block_cache_new();
	ev->cpu.code_map = e->code_map;
	/* Without executable memory the blocks are interpreted. */
	ev->cpu.jit = emu_jit_new(JIT_THRESHOLD);
	ev->cpu.lapic = emu_lapic_create(vcpu->index, apic_router_bus(e->router), now_ns, wake, ev);
	if (!ev->cpu.tlb || !ev->cpu.lapic || !ev->cpu.blocks)
		return -ENOMEM;
	emu_lapic_setup_lints(ev->cpu.lapic, vcpu->index == 0);
	if (apic_router_add(e->router, ev->cpu.lapic))
		return -ENOSPC;
	/* Every vCPU but the first waits for INIT and a start-up IPI. */
	ev->cpu.wait_for_sipi = vcpu->index != 0;
	e->vcpus[vcpu->index] = ev;
	return 0;
}

static void emu_vcpu_destroy(struct vcpu *vcpu)
{
	struct emu_vcpu *ev = vcpu->accel_data;

	if (!ev)
		return;
	if (ev->cpu.lapic)
		emu_lapic_destroy(ev->cpu.lapic);
	if (ev->cpu.tlb)
		emu_tlb_free(ev->cpu.tlb);
	emu_block_cache_free(ev->cpu.blocks);
	emu_jit_free(ev->cpu.jit);
	pthread_cond_destroy(&ev->sleep_cond);
	pthread_mutex_destroy(&ev->sleep_lock);
	free(ev);
	vcpu->accel_data = NULL;
}

static int emu_vcpu_set_state(struct vcpu *vcpu, const struct cpu_state *state)
{
	struct emu_vcpu *ev = vcpu->accel_data;

	emu_cpu_load_state(&ev->cpu, state);
	emu_tlb_flush(&ev->cpu, true);
	ev->cpu.wait_for_sipi = false;
	return 0;
}

/* Sleep until woken or until deadline (CLOCK_MONOTONIC ns). */
static void sleep_until(struct emu_vcpu *ev, uint64_t deadline)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000000ull),
			       .tv_nsec = (long)(deadline % 1000000000ull) };

	pthread_mutex_lock(&ev->sleep_lock);
	while (!ev->woken && !atomic_load(&ev->exit_request)) {
		if (deadline == UINT64_MAX)
			pthread_cond_wait(&ev->sleep_cond, &ev->sleep_lock);
		else if (pthread_cond_timedwait(&ev->sleep_cond, &ev->sleep_lock, &ts) == ETIMEDOUT)
			break;
	}
	ev->woken = false;
	pthread_mutex_unlock(&ev->sleep_lock);
}

/* Timers: the vCPU's own LAPIC and the PIT. Every vCPU polls the PIT, so
 * whichever is awake raises its interrupt on time, and a sleeping vCPU
 * wakes for it. Returns the earliest next deadline. */
static uint64_t poll_timers(struct emu_vm *e, struct emu_vcpu *ev)
{
	uint64_t now = now_ns();
	uint64_t next = emu_lapic_poll(ev->cpu.lapic, now);
	uint64_t pit = i8254_poll(e->pit, now);

	return pit < next ? pit : next;
}

/* Deliver what the LAPIC has for this CPU, at an instruction boundary.
 * Returns false when the CPU must keep sleeping (waiting for a SIPI). */
static bool take_interrupts(struct emu_vcpu *ev)
{
	struct emu_cpu *cpu = &ev->cpu;
	uint8_t vector;
	int pending;

	if (emu_lapic_take_init(cpu->lapic)) {
		emu_cpu_reset(cpu);
		emu_tlb_flush(cpu, true);
		cpu->wait_for_sipi = true;
	}
	if (cpu->wait_for_sipi) {
		if (!emu_lapic_take_sipi(cpu->lapic, &vector))
			return false;
		emu_cpu_sipi(cpu, vector);
		cpu->wait_for_sipi = false;
	}
	if (!cpu->nmi_blocked && emu_lapic_take_nmi(cpu->lapic)) {
		cpu->event = (struct emu_event){ .pending = true, .vector = EMU_VEC_NMI, .is_interrupt = true };
		cpu->halted = false;
		emu_deliver_event(cpu);
		return true;
	}
	cpu->irq_window_exit = false;
	if (!emu_lapic_has_interrupt(cpu->lapic))
		return true;
	if (!(cpu->rflags & EMU_IF) || cpu->interrupt_shadow) {
		cpu->irq_window_exit = true;
		return true;
	}
	pending = emu_lapic_ack_interrupt(cpu->lapic);
	if (pending < 0)
		return true;
	cpu->event = (struct emu_event){ .pending = true, .vector = (uint8_t)pending,
					 .is_interrupt = true };
	cpu->halted = false;
	emu_deliver_event(cpu);
	return true;
}

static int emu_vcpu_run(struct vcpu *vcpu, struct vcpu_exit *exit)
{
	struct emu_vm *e = vcpu->vm->accel_data;
	struct emu_vcpu *ev = vcpu->accel_data;
	struct emu_cpu *cpu = &ev->cpu;

	for (;;) {
		uint64_t next = poll_timers(e, ev);
		bool runnable;

		if (atomic_exchange(&ev->exit_request, false) && vm_stopping(vcpu->vm)) {
			exit->kind = VCPU_EXIT_KICKED;
			return 0;
		}
		runnable = take_interrupts(ev);
		if (cpu->triple_fault) {
			exit->kind = VCPU_EXIT_SHUTDOWN;
			return 0;
		}
		if (!runnable || cpu->halted) {
			sleep_until(ev, next);
			continue;
		}
		switch (emu_run(cpu, &e->table, RUN_BUDGET, &ev->exit_request)) {
		case EMU_STOP_SHUTDOWN:
			exit->kind = VCPU_EXIT_SHUTDOWN;
			return 0;
		case EMU_STOP_BUDGET:
		case EMU_STOP_HALT:
		case EMU_STOP_REQUEST:
		case EMU_STOP_IRQ_WINDOW:
			break;
		}
	}
}

static void emu_vcpu_kick(struct vcpu *vcpu)
{
	wake(vcpu->accel_data);
}

static void emu_set_irq(struct vm *vm, unsigned gsi, bool level)
{
	struct emu_vm *e = vm->accel_data;

	/* ISA IRQ 0 (the PIT) is on IOAPIC pin 2, as the MP table says; the
	 * others keep their number. */
	ioapic_set_irq(e->ioapic, gsi == 0 ? 2 : gsi, level);
	if (gsi < 16)
		i8259_set_irq(e->pic, gsi, level);
}

static void emu_signal_msi(struct vm *vm, uint64_t address, uint32_t data)
{
	struct emu_vm *e = vm->accel_data;
	struct apic_bus *bus = apic_router_bus(e->router);
	struct apic_msg msg;
	static atomic_bool warned;

	if (!msi_decode(address, data, &msg)) {
		if (!atomic_exchange(&warned, true))
			log_warn("an MSI to 0x%llx (data 0x%x) is not an interrupt message; "
				 "dropped (said once)", (unsigned long long)address, data);
		return;
	}
	bus->deliver(bus, &msg);
}

const struct accel_ops emu_accel_ops = {
	.name = "emu",
	.vm_create = emu_vm_create,
	.vm_destroy = emu_vm_destroy,
	.vcpu_create = emu_vcpu_create,
	.vcpu_destroy = emu_vcpu_destroy,
	.vcpu_set_state = emu_vcpu_set_state,
	.vcpu_run = emu_vcpu_run,
	.vcpu_kick = emu_vcpu_kick,
	.set_irq = emu_set_irq,
	.signal_msi = emu_signal_msi,
};
