#include "i8259.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/platform.h"

#define PORT_MASTER     0x20
#define PORT_SLAVE      0xA0
#define PORT_ELCR       0x4D0   /* 0x4D0 master, 0x4D1 slave */

#define CASCADE_IRQ     2

/* Command port (even) writes. */
#define ICW1_SELECT     0x10
#define ICW1_IC4        0x01    /* ICW4 follows */
#define ICW1_SNGL       0x02    /* single chip, no ICW3 */
#define ICW1_LTIM       0x08    /* all inputs level-triggered */
#define OCW3_SELECT     0x08    /* with bit 4 clear; OCW2 otherwise */
#define OCW3_RIS        0x01    /* with RR: read ISR (else IRR) */
#define OCW3_RR         0x02
#define OCW3_POLL       0x04
#define OCW3_SMM        0x20    /* with ESMM: set (else clear) special mask */
#define OCW3_ESMM       0x40

/* OCW2 commands (bits 7:5); the level is in bits 2:0. */
#define OCW2_ROTATE_AEOI_CLEAR 0
#define OCW2_EOI               1
#define OCW2_NOP               2
#define OCW2_SPECIFIC_EOI      3
#define OCW2_ROTATE_AEOI_SET   4
#define OCW2_ROTATE_EOI        5
#define OCW2_SET_PRIORITY      6
#define OCW2_ROTATE_SPECIFIC   7

#define ICW4_AEOI       0x02
#define ICW4_SFNM       0x10

/* ELCR bits that exist: IRQ 0, 1, 2, 8 and 13 are edge-only on a PIIX. */
#define ELCR_MASK_MASTER 0xF8
#define ELCR_MASK_SLAVE  0xDE

#define POLL_INT        0x80    /* poll word: an interrupt was pending */

enum { MASTER, SLAVE };

struct pic {
	uint8_t irr, isr, imr;
	uint8_t lines;            /* input levels, for edge detection */
	uint8_t elcr, elcr_mask;
	uint8_t base;             /* vector of IR0 (ICW2, bits 7:3) */
	uint8_t priority_add;     /* the IR with the highest priority */
	uint8_t init_step;        /* 0: operational; 2..4: the ICW expected next */
	bool icw4_needed, single, ltim;
	bool auto_eoi, rotate_on_aeoi, sfnm, special_mask;
	bool read_isr, poll;
};

struct i8259 {
	pthread_mutex_t lock;
	struct pic pic[2];
	bool intr;                /* the INTR output last reported */
	void (*intr_changed)(void *opaque, bool level);
	void *opaque;
};

/* Inputs whose IRR follows the line. The master's cascade input is an
 * edge input like the others (its ELCR bit does not exist): a slave
 * request that goes away after the master latched it becomes the slave's
 * spurious IRQ 15. */
static uint8_t level_mask(const struct pic *c)
{
	return c->ltim ? 0xFF : c->elcr;
}

/* Priority rank (0 highest .. 7 lowest) of the best request in mask, or 8. */
static unsigned best_rank(const struct pic *c, uint8_t mask)
{
	unsigned i;

	for (i = 0; i < 8; i++)
		if (mask & (1u << ((i + c->priority_add) & 7)))
			return i;
	return 8;
}

static unsigned rank_to_irq(const struct pic *c, unsigned rank)
{
	return (rank + c->priority_add) & 7;
}

/* The request the chip would present on INTR, or -1. */
static int chip_irq(const struct pic *c, int which)
{
	uint8_t pending = c->irr & ~c->imr, inservice = c->isr;
	unsigned p, cur;

	p = best_rank(c, pending);
	if (p == 8)
		return -1;
	/* Special mask mode: a level masked in the IMR no longer inhibits
	 * lower priorities through its ISR bit. */
	if (c->special_mask)
		inservice &= ~c->imr;
	cur = best_rank(c, inservice);
	if (p < cur)
		return (int)rank_to_irq(c, p);
	/* Special fully nested mode: the master lets a slave interrupt
	 * through while another from the same slave is in service. */
	if (p == cur && which == MASTER && c->sfnm && !c->single &&
	    rank_to_irq(c, p) == CASCADE_IRQ)
		return CASCADE_IRQ;
	return -1;
}

static void set_line(struct pic *c, unsigned irq, bool level)
{
	uint8_t bit = (uint8_t)(1u << irq);

	if (level_mask(c) & bit) {
		if (level)
			c->irr |= bit;
		else
			c->irr &= (uint8_t)~bit;
	} else if (level && !(c->lines & bit)) {
		c->irr |= bit;
	}
	if (level)
		c->lines |= bit;
	else
		c->lines &= (uint8_t)~bit;
}

/* Recompute the cascade and INTR after any change. */
static void update(struct i8259 *s)
{
	bool slave_out = chip_irq(&s->pic[SLAVE], SLAVE) >= 0, out;

	if (!s->pic[MASTER].single)
		set_line(&s->pic[MASTER], CASCADE_IRQ, slave_out);
	out = chip_irq(&s->pic[MASTER], MASTER) >= 0;
	if (out != s->intr) {
		s->intr = out;
		if (s->intr_changed)
			s->intr_changed(s->opaque, out);
	}
}

/* Take irq in service, as the INTA cycle or a poll read does. */
static void ack(struct pic *c, unsigned irq)
{
	uint8_t bit = (uint8_t)(1u << irq);

	if (c->auto_eoi) {
		if (c->rotate_on_aeoi)
			c->priority_add = (uint8_t)((irq + 1) & 7);
	} else {
		c->isr |= bit;
	}
	/* An edge request is consumed; a level request stays as long as its
	 * line is high and is held off by ISR until the EOI. */
	if (!(level_mask(c) & bit))
		c->irr &= (uint8_t)~bit;
}

static void eoi(struct pic *c, unsigned irq, bool rotate)
{
	c->isr &= (uint8_t)~(1u << irq);
	if (rotate)
		c->priority_add = (uint8_t)((irq + 1) & 7);
}

static void write_icw1(struct pic *c, uint8_t v)
{
	c->icw4_needed = v & ICW1_IC4;
	c->single = v & ICW1_SNGL;
	c->ltim = v & ICW1_LTIM;
	/* Initialisation clears the mask, the in-service state, the special
	 * mask and the rotation, selects IRR for reads and resets the edge
	 * detectors: an edge input must rise again to request. ICW4's
	 * functions are off until an ICW4 says otherwise. */
	c->imr = 0;
	c->isr = 0;
	c->irr = c->lines & level_mask(c);
	c->priority_add = 0;
	c->special_mask = false;
	c->read_isr = false;
	c->poll = false;
	c->auto_eoi = false;
	c->rotate_on_aeoi = false;
	c->sfnm = false;
	c->init_step = 2;
}

static void write_ocw2(struct pic *c, uint8_t v)
{
	unsigned level = v & 7, rank;

	switch (v >> 5) {
	case OCW2_EOI:
	case OCW2_ROTATE_EOI:
		rank = best_rank(c, c->isr);
		if (rank < 8)
			eoi(c, rank_to_irq(c, rank), (v >> 5) == OCW2_ROTATE_EOI);
		break;
	case OCW2_SPECIFIC_EOI:
		eoi(c, level, false);
		break;
	case OCW2_ROTATE_SPECIFIC:
		eoi(c, level, true);
		break;
	case OCW2_SET_PRIORITY:
		/* The level named becomes the lowest priority. */
		c->priority_add = (uint8_t)((level + 1) & 7);
		break;
	case OCW2_ROTATE_AEOI_SET:
		c->rotate_on_aeoi = true;
		break;
	case OCW2_ROTATE_AEOI_CLEAR:
		c->rotate_on_aeoi = false;
		break;
	case OCW2_NOP:
		break;
	}
}

static void write_ocw3(struct pic *c, uint8_t v)
{
	if (v & OCW3_POLL)
		c->poll = true;
	if (v & OCW3_RR)
		c->read_isr = v & OCW3_RIS;
	if (v & OCW3_ESMM)
		c->special_mask = v & OCW3_SMM;
}

static void chip_write(struct pic *c, unsigned port, uint8_t v)
{
	if ((port & 1) == 0) {
		if (v & ICW1_SELECT)
			write_icw1(c, v);
		else if (v & OCW3_SELECT)
			write_ocw3(c, v);
		else
			write_ocw2(c, v);
		return;
	}
	switch (c->init_step) {
	case 2:
		c->base = v & 0xF8;
		c->init_step = c->single ? (c->icw4_needed ? 4 : 0) : 3;
		return;
	case 3:
		/* ICW3 (the slave's cascade identity or the master's slave
		 * map) changes nothing: the wiring is fixed. */
		c->init_step = c->icw4_needed ? 4 : 0;
		return;
	case 4:
		c->auto_eoi = v & ICW4_AEOI;
		c->sfnm = v & ICW4_SFNM;
		c->init_step = 0;
		return;
	}
	c->imr = v;
}

static uint8_t chip_read(struct pic *c, int which, unsigned port)
{
	int irq;

	if (c->poll) {
		/* A poll read is the INTA cycle without the CPU: it answers
		 * with the best request and takes it in service. */
		c->poll = false;
		irq = chip_irq(c, which);
		if (irq < 0)
			return 0;
		ack(c, (unsigned)irq);
		return (uint8_t)(POLL_INT | irq);
	}
	if (port & 1)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

static void write_elcr(struct pic *c, uint8_t v)
{
	uint8_t level;

	c->elcr = v & c->elcr_mask;
	/* Inputs now level-sensitive request as long as they are high. */
	level = level_mask(c);
	c->irr = (uint8_t)((c->irr & ~level) | (c->lines & level));
}

/* Byte access to one of the pair's ports. */
static uint8_t port_read(struct i8259 *s, uint16_t port)
{
	if (port == PORT_ELCR || port == PORT_ELCR + 1)
		return s->pic[port - PORT_ELCR].elcr;
	if ((port & ~1u) == PORT_MASTER)
		return chip_read(&s->pic[MASTER], MASTER, port);
	return chip_read(&s->pic[SLAVE], SLAVE, port);
}

static void port_write(struct i8259 *s, uint16_t port, uint8_t v)
{
	if (port == PORT_ELCR || port == PORT_ELCR + 1) {
		write_elcr(&s->pic[port - PORT_ELCR], v);
	} else if ((port & ~1u) == PORT_MASTER) {
		chip_write(&s->pic[MASTER], port, v);
	} else {
		chip_write(&s->pic[SLAVE], port, v);
	}
}

/* Each range is two byte-wide ports; a wide access is split into byte
 * cycles, and bytes past the range float high. */
struct range_ctx {
	struct i8259 *s;
	uint16_t base;
};

static uint64_t pic_read(void *opaque, uint64_t offset, unsigned size)
{
	const struct range_ctx *r = opaque;
	uint64_t v = 0;
	unsigned i;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&r->s->lock);
	for (i = 0; i < size; i++) {
		uint64_t b = 0xff;
		if (offset < 2 && i < 2 - offset)
			b = port_read(r->s, (uint16_t)(r->base + offset + i));
		v |= b << (8 * i);
	}
	update(r->s);
	pthread_mutex_unlock(&r->s->lock);
	return v;
}

static void pic_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	const struct range_ctx *r = opaque;
	unsigned i;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&r->s->lock);
	for (i = 0; i < size; i++) {
		if (offset < 2 && i < 2 - offset)
			port_write(r->s, (uint16_t)(r->base + offset + i), (uint8_t)(value >> (8 * i)));
	}
	update(r->s);
	pthread_mutex_unlock(&r->s->lock);
}

static const struct bus_ops pic_ops = {
	.read = pic_read,
	.write = pic_write,
};

/* Allocated with the pair so the bus can hand each range its base. */
struct i8259_alloc {
	struct i8259 s;
	struct range_ctx ranges[3];
};

struct i8259 *i8259_create(struct platform *p, void (*intr_changed)(void *opaque, bool level),
			   void *opaque)
{
	static const uint16_t bases[3] = { PORT_MASTER, PORT_SLAVE, PORT_ELCR };
	static const char *const names[3] = { "i8259-master", "i8259-slave", "i8259-elcr" };
	struct i8259_alloc *a;
	struct i8259 *s;
	unsigned i;
	int rc;

	for (i = 0; i < 3; i++) {
		if (!bus_range_free(p->pio, bases[i], 2)) {
			log_error("i8259: ports 0x%x-0x%x are taken", bases[i], bases[i] + 1);
			return NULL;
		}
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		log_error("i8259: out of memory");
		return NULL;
	}
	s = &a->s;
	pthread_mutex_init(&s->lock, NULL);
	s->intr_changed = intr_changed;
	s->opaque = opaque;
	s->pic[MASTER].base = 0x08;
	s->pic[SLAVE].base = 0x70;
	s->pic[MASTER].elcr_mask = ELCR_MASK_MASTER;
	s->pic[SLAVE].elcr_mask = ELCR_MASK_SLAVE;
	for (i = 0; i < 2; i++)
		s->pic[i].imr = 0xFF;
	for (i = 0; i < 3; i++) {
		a->ranges[i].s = s;
		a->ranges[i].base = bases[i];
		rc = bus_register(p->pio, bases[i], 2, &pic_ops, &a->ranges[i], names[i]);
		if (rc) {
			log_error("i8259: cannot claim ports 0x%x-0x%x: %s", bases[i], bases[i] + 1,
				  strerror(-rc));
			i8259_destroy(s);
			return NULL;
		}
	}
	return s;
}

void i8259_destroy(struct i8259 *pic)
{
	if (!pic)
		return;
	pthread_mutex_destroy(&pic->lock);
	/* s is the first member of its allocation. */
	free((struct i8259_alloc *)(void *)pic);
}

void i8259_set_irq(struct i8259 *pic, unsigned irq, bool level)
{
	if (irq >= 16 || irq == CASCADE_IRQ)
		return;
	pthread_mutex_lock(&pic->lock);
	set_line(&pic->pic[irq >> 3], irq & 7, level);
	update(pic);
	pthread_mutex_unlock(&pic->lock);
}

bool i8259_has_interrupt(struct i8259 *pic)
{
	bool v;

	pthread_mutex_lock(&pic->lock);
	v = pic->intr;
	pthread_mutex_unlock(&pic->lock);
	return v;
}

int i8259_acknowledge(struct i8259 *pic)
{
	struct pic *m = &pic->pic[MASTER], *sl = &pic->pic[SLAVE];
	int irq, irq2, vector;

	pthread_mutex_lock(&pic->lock);
	irq = chip_irq(m, MASTER);
	if (irq < 0) {
		vector = m->base + 7;
	} else {
		ack(m, (unsigned)irq);
		if (irq == CASCADE_IRQ && !m->single) {
			irq2 = chip_irq(sl, SLAVE);
			if (irq2 < 0) {
				vector = sl->base + 7;
			} else {
				ack(sl, (unsigned)irq2);
				vector = sl->base + irq2;
			}
			/* The slave's INT drops for its INTA cycle: if it
			 * still requests (auto-EOI, special mask), the
			 * master sees a new edge. */
			m->lines &= (uint8_t)~(1u << CASCADE_IRQ);
		} else {
			vector = m->base + irq;
		}
	}
	update(pic);
	pthread_mutex_unlock(&pic->lock);
	return vector;
}
