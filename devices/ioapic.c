#include "ioapic.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "apic_bus.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"
#include "vmm/platform.h"

/* MMIO window offsets. */
#define MMIO_IOREGSEL 0x00
#define MMIO_IOWIN    0x10
#define MMIO_EOI      0x40   /* version 0x20 and later */

/* Indirect registers (IOREGSEL values). */
#define REG_ID      0x00
#define REG_VER     0x01
#define REG_ARB     0x02
#define REG_REDTBL  0x10     /* 0x10 + 2n: entry n bits 31:0, +1: bits 63:32 */

#define ID_SHIFT    24
#define ID_MASK     0x0F000000u   /* 4-bit ID in bits 27:24 */

/* Redirection entry, low dword. */
#define RTE_VECTOR        0x000000FFu
#define RTE_DELIVERY      0x00000700u
#define RTE_DELIVERY_SHIFT 8
#define RTE_DEST_LOGICAL  0x00000800u
#define RTE_DELIVS        0x00001000u  /* send pending: never, delivery is instant */
#define RTE_POLARITY_LOW  0x00002000u
#define RTE_REMOTE_IRR    0x00004000u
#define RTE_TRIGGER_LEVEL 0x00008000u
#define RTE_MASKED        0x00010000u
#define RTE_LO_WRITABLE   (RTE_VECTOR | RTE_DELIVERY | RTE_DEST_LOGICAL | RTE_POLARITY_LOW | \
			   RTE_TRIGGER_LEVEL | RTE_MASKED)
/* High dword: destination in bits 63:56; the rest is reserved. */
#define RTE_HI_WRITABLE   0xFF000000u
#define RTE_DEST_SHIFT    24

struct ioapic {
	pthread_mutex_t lock;
	struct apic_bus *bus;
	uint8_t regsel;
	uint32_t id;                   /* as the ID register reads */
	uint32_t lo[IOAPIC_PINS];      /* redirection entries */
	uint32_t hi[IOAPIC_PINS];
	uint32_t pin_level;            /* bit n: pin n asserted */
};

static unsigned entry_mode(uint32_t lo)
{
	return (lo & RTE_DELIVERY) >> RTE_DELIVERY_SHIFT;
}

/* Only fixed and lowest-priority interrupts are EOIed by their handler;
 * NMI, SMI, INIT and ExtINT must be edge-triggered on the 82093AA, so
 * they are sent on edges whatever the trigger bit says, and never leave
 * remote IRR set for an EOI that will not come. */
static bool entry_is_level(uint32_t lo)
{
	unsigned mode = entry_mode(lo);

	return (lo & RTE_TRIGGER_LEVEL) &&
	       (mode == APIC_DELIVERY_FIXED || mode == APIC_DELIVERY_LOWEST);
}

static void send(struct ioapic *io, unsigned pin)
{
	uint32_t lo = io->lo[pin];
	struct apic_msg msg = {
		.dest = io->hi[pin] >> RTE_DEST_SHIFT,
		.logical = lo & RTE_DEST_LOGICAL,
		.vector = (uint8_t)(lo & RTE_VECTOR),
		.delivery_mode = (uint8_t)entry_mode(lo),
		.level = true,
		.trigger_level = entry_is_level(lo),
	};

	/* The local APIC accepts at once, so remote IRR is set at once and
	 * delivery status never shows "send pending". */
	if (msg.trigger_level)
		io->lo[pin] |= RTE_REMOTE_IRR;
	if (io->bus && io->bus->deliver)
		io->bus->deliver(io->bus, &msg);
}

/* A level-triggered pin sends whenever nothing stops it: called after any
 * change to the pin, its entry or its remote IRR. */
static void service_level(struct ioapic *io, unsigned pin)
{
	uint32_t lo = io->lo[pin];

	if (!entry_is_level(lo) || (lo & (RTE_MASKED | RTE_REMOTE_IRR)))
		return;
	if (io->pin_level & (1u << pin))
		send(io, pin);
}

static void eoi_locked(struct ioapic *io, uint8_t vector)
{
	unsigned pin;

	for (pin = 0; pin < IOAPIC_PINS; pin++) {
		uint32_t lo = io->lo[pin];

		if (!(lo & RTE_REMOTE_IRR) || (lo & RTE_VECTOR) != vector)
			continue;
		io->lo[pin] = lo & ~RTE_REMOTE_IRR;
		service_level(io, pin);
	}
}

static uint32_t reg_read(struct ioapic *io, uint8_t reg)
{
	unsigned pin;

	switch (reg) {
	case REG_ID:
		return io->id;
	case REG_VER:
		return ((uint32_t)(IOAPIC_PINS - 1) << 16) | IOAPIC_VERSION;
	case REG_ARB:
		/* The arbitration ID is loaded from the ID; nothing here
		 * arbitrates, so it never rotates away. */
		return io->id;
	}
	if (reg >= REG_REDTBL && reg < REG_REDTBL + 2 * IOAPIC_PINS) {
		pin = (unsigned)(reg - REG_REDTBL) / 2;
		return (reg & 1) ? io->hi[pin] : io->lo[pin];
	}
	return 0;
}

static void reg_write(struct ioapic *io, uint8_t reg, uint32_t v)
{
	unsigned pin;
	uint32_t lo;

	if (reg == REG_ID) {
		io->id = v & ID_MASK;
		return;
	}
	if (reg < REG_REDTBL || reg >= REG_REDTBL + 2 * IOAPIC_PINS)
		return;   /* version, arbitration and the reserved space are read-only */
	pin = (unsigned)(reg - REG_REDTBL) / 2;
	if (reg & 1) {
		io->hi[pin] = v & RTE_HI_WRITABLE;
		return;
	}
	lo = (io->lo[pin] & RTE_REMOTE_IRR) | (v & RTE_LO_WRITABLE);
	/* An edge-triggered pin has no use for remote IRR. Clearing it here
	 * is also how OSes retire a stuck level interrupt on parts without
	 * the EOI register: switch to edge and back. */
	if (!entry_is_level(lo))
		lo &= ~RTE_REMOTE_IRR;
	io->lo[pin] = lo;
	/* Unmasking (or reprogramming) a level pin that is still asserted
	 * sends it now; a masked edge stays lost. */
	service_level(io, pin);
}

/* The window holds three 32-bit registers at 16-byte spacing. Bytes that
 * fall outside them read as 0 and are dropped on writes; a narrow or
 * misaligned access to a register sees or changes only its bytes. */
static uint32_t window_read(struct ioapic *io, uint64_t slot)
{
	switch (slot) {
	case MMIO_IOREGSEL:
		return io->regsel;
	case MMIO_IOWIN:
		return reg_read(io, io->regsel);
	}
	return 0;   /* EOI is write-only; the rest is reserved */
}

static uint64_t ioapic_mmio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct ioapic *io = opaque;
	uint64_t v = 0;
	unsigned i;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&io->lock);
	for (i = 0; i < size; i++) {
		uint64_t off = offset + i;
		uint32_t r;

		if (off < offset || (off & 0xF) >= 4)
			continue;
		r = window_read(io, off & ~0xFull);
		v |= (uint64_t)((r >> (8 * (off & 3))) & 0xFF) << (8 * i);
	}
	pthread_mutex_unlock(&io->lock);
	return v;
}

static void ioapic_mmio_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct ioapic *io = opaque;
	uint64_t slot = offset & ~0xFull;
	unsigned lane = (unsigned)(offset & 0xF), i;
	uint32_t r;

	if (size > 8)
		size = 8;
	if (lane >= 4)
		return;
	pthread_mutex_lock(&io->lock);
	/* Merge the bytes written into the register's current value. */
	r = window_read(io, slot);
	for (i = 0; i < size && lane + i < 4; i++) {
		unsigned sh = 8 * (lane + i);
		r = (r & ~(0xFFu << sh)) | (uint32_t)((value >> (8 * i)) & 0xFF) << sh;
	}
	switch (slot) {
	case MMIO_IOREGSEL:
		io->regsel = (uint8_t)r;
		break;
	case MMIO_IOWIN:
		reg_write(io, io->regsel, r);
		break;
	case MMIO_EOI:
		eoi_locked(io, (uint8_t)r);
		break;
	}
	pthread_mutex_unlock(&io->lock);
}

static const struct bus_ops ioapic_ops = {
	.read = ioapic_mmio_read,
	.write = ioapic_mmio_write,
};

struct ioapic *ioapic_create(struct platform *p, struct apic_bus *bus)
{
	struct ioapic *io = calloc(1, sizeof(*io));
	unsigned pin;
	int rc;

	if (!io) {
		log_error("ioapic: out of memory");
		return NULL;
	}
	pthread_mutex_init(&io->lock, NULL);
	io->bus = bus;
	for (pin = 0; pin < IOAPIC_PINS; pin++)
		io->lo[pin] = RTE_MASKED;
	rc = bus_register(p->mmio, IOAPIC_BASE, IOAPIC_MMIO_SIZE, &ioapic_ops, io, "ioapic");
	if (rc) {
		log_error("ioapic: cannot claim MMIO 0x%llx: %s", (unsigned long long)IOAPIC_BASE,
			  strerror(-rc));
		ioapic_destroy(io);
		return NULL;
	}
	return io;
}

void ioapic_destroy(struct ioapic *io)
{
	if (!io)
		return;
	pthread_mutex_destroy(&io->lock);
	free(io);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level)
{
	uint32_t bit;
	bool was;

	if (pin >= IOAPIC_PINS)
		return;
	bit = 1u << pin;
	pthread_mutex_lock(&io->lock);
	was = io->pin_level & bit;
	if (level)
		io->pin_level |= bit;
	else
		io->pin_level &= ~bit;
	if (entry_is_level(io->lo[pin]))
		service_level(io, pin);
	else if (level && !was && !(io->lo[pin] & RTE_MASKED))
		send(io, pin);
	pthread_mutex_unlock(&io->lock);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	pthread_mutex_lock(&io->lock);
	eoi_locked(io, vector);
	pthread_mutex_unlock(&io->lock);
}
