#include "i8254.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/memory_map.h"
#include "vmm/platform.h"

#define PORT_COUNTER0  0x40     /* 0x40-0x42: channels 0-2, 0x43: control */
#define PORT_CONTROL   0x43
#define PORT_SYSCTRL_B 0x61
#define PIT_NPORTS     4

#define NS_PER_SEC     1000000000ull

/* Control word. */
#define CW_SC_SHIFT    6        /* 3: read-back */
#define CW_RW_SHIFT    4
#define CW_MODE_SHIFT  1
#define CW_BCD         0x01
#define RW_LATCH       0
#define RW_LSB         1
#define RW_MSB         2
#define RW_LOHI        3
/* Read-back command. */
#define RB_NO_COUNT    0x20     /* active low: latch the count */
#define RB_NO_STATUS   0x10     /* active low: latch the status */
#define RB_SELECT(ch)  (0x02u << (ch))
/* Status byte. */
#define ST_OUT         0x80
#define ST_NULL_COUNT  0x40

/* Port B (0x61). */
#define P61_GATE2      0x01
#define P61_SPEAKER    0x02
#define P61_WRITABLE   0x0F     /* gate, speaker, parity/IOCHK check enables */
#define P61_REFRESH    0x10
#define P61_OUT2       0x20
/* DRAM refresh requests toggled bit 4 every 15.085 us on a PC/AT; BIOS
 * delay loops count its toggles. */
#define REFRESH_NS     15085ull

struct channel {
	uint8_t mode;           /* 0..5 (6, 7 folded to 2, 3) */
	uint8_t mode_bits;      /* as written, for the status byte */
	uint8_t rw;             /* RW_LSB, RW_MSB, RW_LOHI */
	bool bcd;
	bool gate;

	uint32_t count_reg;     /* the last complete count written, decoded:
	                         * 1..65536 (1..10000 in BCD); 0 = 65536 */
	bool count_written;     /* since the last control word */
	bool write_msb_next;    /* LOHI write flip-flop */
	uint8_t write_lsb;
	bool read_msb_next;     /* LOHI read flip-flop */
	bool count_latched, status_latched;
	uint16_t latch;
	uint8_t status;
	bool null_count;        /* count written, not yet in the counter */

	/* The counting element. Ticks counted since the cycle began are
	 * ticks_before (earlier segments, or minus the ticks of earlier
	 * periods of the same time base) plus, while counting, the ticks
	 * since seg_ns. */
	bool armed;             /* a cycle is loaded (or triggered) */
	bool counting;          /* ...and ticking */
	uint32_t active;        /* the cycle's count (1..65536) */
	uint64_t seg_ns;
	int64_t ticks_before;
	uint16_t frozen;        /* what the counter reads while not armed */
	/* Mode 2/3: a new count loads at tick pending_at of this cycle. */
	bool reload_pending;
	uint64_t pending_at;
};

struct i8254 {
	pthread_mutex_t lock;
	struct platform *p;
	uint64_t (*now_ns)(void);
	struct channel ch[3];
	uint8_t port_b;         /* writable bits of port 0x61 */
	bool irq_level;         /* what IRQ 0 was last driven to */
	uint64_t next_edge;     /* channel 0's next unsignalled rising edge */
};

/* ---- time -------------------------------------------------------------- */

static uint64_t ticks_between(uint64_t from, uint64_t to)
{
	if (to <= from)
		return 0;
	return (uint64_t)((unsigned __int128)(to - from) * I8254_HZ / NS_PER_SEC);
}

/* The first instant at which ticks_between(from, t) >= ticks. */
static uint64_t time_after_ticks(uint64_t from, uint64_t ticks)
{
	unsigned __int128 ns = ((unsigned __int128)ticks * NS_PER_SEC + I8254_HZ - 1) / I8254_HZ;
	unsigned __int128 t = (unsigned __int128)from + ns;

	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

/* ---- counting element -------------------------------------------------- */

static uint32_t modulus(const struct channel *c)
{
	return c->bcd ? 10000 : 65536;
}

static uint64_t elapsed(const struct channel *c, uint64_t now)
{
	int64_t e = c->ticks_before + (c->counting ? (int64_t)ticks_between(c->seg_ns, now) : 0);

	return e < 0 ? 0 : (uint64_t)e;   /* a clock read from before */
}

/* The count register as a cycle length: 0 means the full range, and the
 * periodic modes need at least 2. */
static uint32_t cycle_of(const struct channel *c)
{
	uint32_t n = c->count_reg ? c->count_reg : modulus(c);

	if ((c->mode == 2 || c->mode == 3) && n < 2)
		n = 2;
	return n;
}

static void start_cycle(struct channel *c, uint64_t now, bool counting)
{
	c->armed = true;
	c->counting = counting;
	c->active = cycle_of(c);
	c->ticks_before = 0;
	c->seg_ns = now;
	c->reload_pending = false;
	c->null_count = false;
}

/* Apply a mode 2/3 count that was waiting for the end of its period. The
 * new cycle starts on that tick of the same time base, so no rounding of
 * nanoseconds creeps in. */
static void normalize(struct channel *c, uint64_t now)
{
	if (!c->reload_pending || !c->counting || elapsed(c, now) < c->pending_at)
		return;
	c->ticks_before -= (int64_t)c->pending_at;
	c->active = cycle_of(c);
	c->reload_pending = false;
	c->null_count = false;
}

static bool output(const struct channel *c, uint64_t now)
{
	uint64_t e = elapsed(c, now), r = c->active;

	switch (c->mode) {
	case 0:
		return c->armed && e >= r;
	case 1:
		return !c->armed || e >= r;
	case 2:
		return !c->counting || e % r != r - 1;
	case 3:
		return !c->counting || e % r < (r + 1) / 2;
	default:  /* 4, 5: low for the one tick at terminal count */
		return !c->armed || e != r;
	}
}

/* The counter in binary, 0..modulus-1. */
static uint32_t counter_value(const struct channel *c, uint64_t now)
{
	uint64_t e = elapsed(c, now), r = c->active, m = modulus(c), pos, half;

	if (!c->armed)
		return c->frozen % m;
	switch (c->mode) {
	case 2:
		return (uint32_t)((r - e % r) % m);
	case 3:
		/* Counts down by two through each half period. */
		pos = e % r;
		half = (r + 1) / 2;
		if (pos >= half)
			pos -= half;
		return (uint32_t)(((r & ~1ull) - 2 * pos) % m);
	default:
		/* Down from the count, wrapping past zero. */
		return (uint32_t)((r + m - e % m) % m);
	}
}

static uint16_t to_bcd(uint32_t v)
{
	return (uint16_t)((v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10);
}

static uint16_t read_counter(const struct channel *c, uint64_t now)
{
	uint32_t v = counter_value(c, now);

	return c->bcd ? to_bcd(v) : (uint16_t)v;
}

/* Nibbles above 9 are not BCD; they weigh what their place says and the
 * result wraps, which is as good as any answer to such a count. */
static uint32_t decode_count(const struct channel *c, uint16_t raw)
{
	if (!c->bcd)
		return raw;
	return ((raw >> 12) * 1000u + ((raw >> 8) & 0xF) * 100u + ((raw >> 4) & 0xF) * 10u +
		(raw & 0xF)) % 10000u;
}

/* Time of the next rising edge of the output after now, or UINT64_MAX. */
static uint64_t next_rising(const struct channel *c, uint64_t now)
{
	uint64_t e, r = c->active, target;

	if (!c->counting)
		return UINT64_MAX;
	e = elapsed(c, now);
	switch (c->mode) {
	case 0:
	case 1:
		if (e >= r)
			return UINT64_MAX;
		target = r;
		break;
	case 2:
	case 3:
		target = (e / r + 1) * r;
		break;
	default:
		if (e > r)
			return UINT64_MAX;
		target = r + 1;
		break;
	}
	return time_after_ticks(c->seg_ns, (uint64_t)((int64_t)target - c->ticks_before));
}

/* ---- IRQ 0 ------------------------------------------------------------- */

static void drive_irq(struct i8254 *pit, bool level)
{
	pit->irq_level = level;
	platform_set_irq(pit->p, IRQ_PIT, level);
}

/* Signal channel 0's rising edges up to now (as one edge however many)
 * and leave the line at the output's level. Called before and after every
 * change to channel 0, so no edge is missed or invented. */
static void irq_update(struct i8254 *pit, uint64_t now)
{
	struct channel *c = &pit->ch[0];
	bool edge = pit->next_edge <= now, out;

	normalize(c, now);
	out = output(c, now);
	if (edge) {
		if (pit->irq_level)
			drive_irq(pit, false);
		drive_irq(pit, true);
		if (!out)
			drive_irq(pit, false);
	} else if (out != pit->irq_level) {
		drive_irq(pit, out);
	}
	pit->next_edge = next_rising(c, now);
}

/* ---- registers --------------------------------------------------------- */

static uint8_t status_byte(const struct channel *c, uint64_t now)
{
	uint8_t s = (uint8_t)(c->rw << CW_RW_SHIFT | c->mode_bits << CW_MODE_SHIFT);

	if (c->bcd)
		s |= CW_BCD;
	if (output(c, now))
		s |= ST_OUT;
	if (c->null_count)
		s |= ST_NULL_COUNT;
	return s;
}

static void latch_count(struct channel *c, uint64_t now)
{
	/* A second latch before the first is read changes nothing. */
	if (c->count_latched)
		return;
	c->latch = read_counter(c, now);
	c->count_latched = true;
}

static void write_control(struct i8254 *pit, uint8_t v, uint64_t now)
{
	unsigned sc = v >> CW_SC_SHIFT, rw = (v >> CW_RW_SHIFT) & 3, i;
	struct channel *c;

	if (sc == 3) {
		for (i = 0; i < 3; i++) {
			c = &pit->ch[i];
			if (!(v & RB_SELECT(i)))
				continue;
			normalize(c, now);
			if (!(v & RB_NO_COUNT))
				latch_count(c, now);
			if (!(v & RB_NO_STATUS) && !c->status_latched) {
				c->status = status_byte(c, now);
				c->status_latched = true;
			}
		}
		return;
	}
	c = &pit->ch[sc];
	normalize(c, now);
	if (rw == RW_LATCH) {
		latch_count(c, now);
		return;
	}
	/* A control word resets the channel's logic: the counter keeps its
	 * value but stops until a count is written, and OUT takes the mode's
	 * initial level (low in mode 0, high in the others). */
	c->frozen = (uint16_t)counter_value(c, now);
	c->rw = (uint8_t)rw;
	c->mode_bits = (v >> CW_MODE_SHIFT) & 7;
	c->mode = c->mode_bits > 5 ? c->mode_bits - 4 : c->mode_bits;
	c->bcd = v & CW_BCD;
	c->armed = false;
	c->counting = false;
	c->reload_pending = false;
	c->count_written = false;
	c->null_count = true;
	c->write_msb_next = false;
	c->read_msb_next = false;
	c->count_latched = false;
	c->status_latched = false;
}

/* A complete count arrived. */
static void load_count(struct channel *c, uint16_t raw, uint64_t now)
{
	uint64_t e;

	c->count_reg = decode_count(c, raw);
	c->count_written = true;
	c->null_count = true;
	switch (c->mode) {
	case 0:
	case 4:
		start_cycle(c, now, c->gate);
		break;
	case 2:
	case 3:
		if (c->armed && c->counting) {
			/* The running period finishes with the old count. */
			e = elapsed(c, now);
			c->pending_at = (e / c->active + 1) * c->active;
			c->reload_pending = true;
		} else {
			start_cycle(c, now, c->gate);
		}
		break;
	default:
		/* Modes 1 and 5 wait for a gate trigger. */
		break;
	}
}

static void write_counter(struct channel *c, uint8_t v, uint64_t now)
{
	switch (c->rw) {
	case RW_LSB:
		load_count(c, v, now);
		return;
	case RW_MSB:
		load_count(c, (uint16_t)(v << 8), now);
		return;
	}
	if (!c->write_msb_next) {
		c->write_lsb = v;
		c->write_msb_next = true;
		/* In mode 0 the first byte stops the count and drops OUT. */
		if (c->mode == 0) {
			c->frozen = (uint16_t)counter_value(c, now);
			c->armed = false;
			c->counting = false;
		}
		return;
	}
	c->write_msb_next = false;
	load_count(c, (uint16_t)(c->write_lsb | v << 8), now);
}

static uint8_t read_port_counter(struct channel *c, uint64_t now)
{
	uint16_t v;
	uint8_t b;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	v = c->count_latched ? c->latch : read_counter(c, now);
	switch (c->rw) {
	case RW_LSB:
		c->count_latched = false;
		return (uint8_t)v;
	case RW_MSB:
		c->count_latched = false;
		return (uint8_t)(v >> 8);
	}
	b = c->read_msb_next ? (uint8_t)(v >> 8) : (uint8_t)v;
	if (c->read_msb_next)
		c->count_latched = false;
	c->read_msb_next = !c->read_msb_next;
	return b;
}

static void set_gate(struct channel *c, bool level, uint64_t now)
{
	if (level == c->gate)
		return;
	normalize(c, now);
	c->gate = level;
	if (!level) {
		/* Modes 0 and 4 pause; 2 and 3 stop (OUT high) until the
		 * next rising edge reloads; 1 and 5 do not care. */
		if ((c->mode == 0 || c->mode == 4 || c->mode == 2 || c->mode == 3) && c->counting) {
			c->ticks_before = (int64_t)elapsed(c, now);
			c->counting = false;
		}
		return;
	}
	switch (c->mode) {
	case 0:
	case 4:
		if (c->armed) {
			c->seg_ns = now;
			c->counting = true;
		}
		break;
	default:
		/* Modes 1 and 5 trigger, 2 and 3 restart, with the count
		 * register's value. */
		if (c->count_written)
			start_cycle(c, now, true);
		break;
	}
}

static uint8_t port_b_read(struct i8254 *pit, uint64_t now)
{
	uint8_t v = pit->port_b;

	if ((now / REFRESH_NS) & 1)
		v |= P61_REFRESH;
	normalize(&pit->ch[2], now);
	if (output(&pit->ch[2], now))
		v |= P61_OUT2;
	return v;
}

/* ---- bus --------------------------------------------------------------- */

static uint8_t reg_read(struct i8254 *pit, unsigned reg, uint64_t now)
{
	struct channel *c;

	if (reg == PORT_CONTROL - PORT_COUNTER0)
		return 0xff;   /* the control register cannot be read */
	c = &pit->ch[reg];
	normalize(c, now);
	return read_port_counter(c, now);
}

static void reg_write(struct i8254 *pit, unsigned reg, uint8_t v, uint64_t now)
{
	if (reg == PORT_CONTROL - PORT_COUNTER0) {
		write_control(pit, v, now);
		return;
	}
	normalize(&pit->ch[reg], now);
	write_counter(&pit->ch[reg], v, now);
}

/* Byte-wide ports: a wide access is split into byte cycles, and bytes past
 * the range float high. */
static uint64_t pit_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8254 *pit = opaque;
	uint64_t v = 0, now = pit->now_ns();
	unsigned i;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&pit->lock);
	irq_update(pit, now);
	for (i = 0; i < size; i++) {
		uint64_t b = 0xff;
		if (offset < PIT_NPORTS && i < PIT_NPORTS - offset)
			b = reg_read(pit, (unsigned)(offset + i), now);
		v |= b << (8 * i);
	}
	pthread_mutex_unlock(&pit->lock);
	return v;
}

static void pit_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct i8254 *pit = opaque;
	uint64_t now = pit->now_ns();
	unsigned i;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&pit->lock);
	irq_update(pit, now);
	for (i = 0; i < size; i++) {
		if (offset < PIT_NPORTS && i < PIT_NPORTS - offset)
			reg_write(pit, (unsigned)(offset + i), (uint8_t)(value >> (8 * i)), now);
	}
	irq_update(pit, now);
	pthread_mutex_unlock(&pit->lock);
}

static uint64_t port_b_bus_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8254 *pit = opaque;
	uint64_t v = 0, now = pit->now_ns();
	unsigned i;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&pit->lock);
	for (i = 0; i < size; i++)
		v |= (uint64_t)(offset == 0 && i == 0 ? port_b_read(pit, now) : 0xff) << (8 * i);
	pthread_mutex_unlock(&pit->lock);
	return v;
}

static void port_b_bus_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct i8254 *pit = opaque;
	uint64_t now = pit->now_ns();

	if (offset != 0 || size == 0)
		return;
	pthread_mutex_lock(&pit->lock);
	pit->port_b = (uint8_t)(value & P61_WRITABLE);
	set_gate(&pit->ch[2], value & P61_GATE2, now);
	pthread_mutex_unlock(&pit->lock);
}

static const struct bus_ops pit_ops = {
	.read = pit_read,
	.write = pit_write,
};

static const struct bus_ops port_b_ops = {
	.read = port_b_bus_read,
	.write = port_b_bus_write,
};

struct i8254 *i8254_create(struct platform *p, uint64_t (*now_ns)(void))
{
	struct i8254 *pit;
	unsigned i;
	int rc;

	if (!bus_range_free(p->pio, PORT_COUNTER0, PIT_NPORTS) ||
	    !bus_range_free(p->pio, PORT_SYSCTRL_B, 1)) {
		log_error("i8254: ports 0x40-0x43 or 0x61 are taken");
		return NULL;
	}
	pit = calloc(1, sizeof(*pit));
	if (!pit) {
		log_error("i8254: out of memory");
		return NULL;
	}
	pthread_mutex_init(&pit->lock, NULL);
	pit->p = p;
	pit->now_ns = now_ns;
	pit->next_edge = UINT64_MAX;
	/* Until programmed, each channel is as after a mode 0 control word
	 * (OUT low, not counting) except for the gates: 0 and 1 are wired
	 * high, 2 follows port B, which starts at 0. */
	for (i = 0; i < 3; i++) {
		pit->ch[i].rw = RW_LOHI;
		pit->ch[i].gate = i < 2;
		pit->ch[i].active = 65536;
	}
	rc = bus_register(p->pio, PORT_COUNTER0, PIT_NPORTS, &pit_ops, pit, "i8254");
	if (!rc)
		rc = bus_register(p->pio, PORT_SYSCTRL_B, 1, &port_b_ops, pit, "i8254-port-b");
	if (rc) {
		log_error("i8254: cannot claim its ports: %s", strerror(-rc));
		i8254_destroy(pit);
		return NULL;
	}
	return pit;
}

void i8254_destroy(struct i8254 *pit)
{
	if (!pit)
		return;
	pthread_mutex_destroy(&pit->lock);
	free(pit);
}

uint64_t i8254_poll(struct i8254 *pit, uint64_t now)
{
	uint64_t next;

	pthread_mutex_lock(&pit->lock);
	irq_update(pit, now);
	next = pit->next_edge;
	pthread_mutex_unlock(&pit->lock);
	return next;
}
