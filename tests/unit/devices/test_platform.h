/* A fake machine for device unit tests: real buses, and interrupt lines,
 * message-signalled interrupts and stop requests that are only recorded.
 * Include after cmocka.h. */
#ifndef WISP_TEST_PLATFORM_H
#define WISP_TEST_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "vmm/bus.h"
#include "vmm/platform.h"

#define FAKE_IRQS 32
#define FAKE_MSIS 16

struct fake_msi {
	uint64_t address;
	uint32_t data;
};

struct fake_platform {
	struct platform p;          /* first: the devices hand us this pointer */
	struct bus pio, mmio;
	bool irq[FAKE_IRQS];
	unsigned irq_calls[FAKE_IRQS];
	/* Every message sent; the first FAKE_MSIS of them kept in order. */
	unsigned msi_calls;
	struct fake_msi msi[FAKE_MSIS];
	unsigned stop_calls;
	enum vm_stop_reason stop_reason;
	int stop_status;
};

static inline void fake_set_irq(struct platform *p, unsigned gsi, bool level)
{
	struct fake_platform *f = (struct fake_platform *)p;

	assert_true(gsi < FAKE_IRQS);
	f->irq[gsi] = level;
	f->irq_calls[gsi]++;
}

static inline void fake_signal_msi(struct platform *p, uint64_t address, uint32_t data)
{
	struct fake_platform *f = (struct fake_platform *)p;

	if (f->msi_calls < FAKE_MSIS)
		f->msi[f->msi_calls] = (struct fake_msi){ address, data };
	f->msi_calls++;
}

static inline void fake_request_stop(struct platform *p, enum vm_stop_reason reason, int status)
{
	struct fake_platform *f = (struct fake_platform *)p;

	f->stop_calls++;
	f->stop_reason = reason;
	f->stop_status = status;
}

static inline struct fake_platform *fake_platform_new(void)
{
	struct fake_platform *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	f->p.pio = &f->pio;
	f->p.mmio = &f->mmio;
	f->p.set_irq = fake_set_irq;
	f->p.signal_msi = fake_signal_msi;
	f->p.request_stop = fake_request_stop;
	return f;
}

static inline void fake_platform_free(struct fake_platform *f)
{
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	free(f);
}

static inline uint64_t pio_in(struct fake_platform *f, uint16_t port, unsigned size)
{
	uint64_t v = 0;

	bus_read(&f->pio, port, size, &v);
	return v;
}

static inline void pio_out(struct fake_platform *f, uint16_t port, unsigned size, uint64_t v)
{
	bus_write(&f->pio, port, size, v);
}

static inline uint8_t inb(struct fake_platform *f, uint16_t port)
{
	return (uint8_t)pio_in(f, port, 1);
}

static inline void outb(struct fake_platform *f, uint16_t port, uint8_t v)
{
	pio_out(f, port, 1, v);
}

static inline uint64_t mmio_in(struct fake_platform *f, uint64_t addr, unsigned size)
{
	uint64_t v = 0;

	bus_read(&f->mmio, addr, size, &v);
	return v;
}

static inline void mmio_out(struct fake_platform *f, uint64_t addr, unsigned size, uint64_t v)
{
	bus_write(&f->mmio, addr, size, v);
}

#endif
