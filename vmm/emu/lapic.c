#include "lapic.h"

#include <pthread.h>
#include <stdlib.h>

#include "cpuid.h"

/* Register offsets in the page. */
#define REG_ID        0x020
#define REG_VERSION   0x030
#define REG_TPR       0x080
#define REG_APR       0x090
#define REG_PPR       0x0A0
#define REG_EOI       0x0B0
#define REG_RRD       0x0C0
#define REG_LDR       0x0D0
#define REG_DFR       0x0E0
#define REG_SVR       0x0F0
#define REG_ISR       0x100   /* 8 registers, 0x100-0x170 */
#define REG_TMR       0x180   /* 0x180-0x1F0 */
#define REG_IRR       0x200   /* 0x200-0x270 */
#define REG_ESR       0x280
#define REG_ICR_LO    0x300
#define REG_ICR_HI    0x310
#define REG_LVT0      0x320   /* timer; then thermal, perf, LINT0, LINT1, error */
#define REG_TIMER_ICR 0x380
#define REG_TIMER_CCR 0x390
#define REG_TIMER_DCR 0x3E0
#define PAGE_SIZE     0x1000u

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

/* LVT and ICR fields. */
#define APIC_VECTOR        0x000000FFu
#define APIC_DM_SHIFT      8
#define APIC_DM            0x00000700u
#define APIC_DEST_LOGICAL  0x00000800u   /* ICR */
#define APIC_POLARITY_LOW  0x00002000u   /* LVT LINT */
#define APIC_REMOTE_IRR    0x00004000u   /* LVT LINT, read-only */
#define APIC_LEVEL_ASSERT  0x00004000u   /* ICR */
#define APIC_TRIGGER_LEVEL 0x00008000u
#define APIC_MASKED        0x00010000u   /* LVT */
#define APIC_SHORTHAND_SHIFT 18          /* ICR */
#define TIMER_MODE_SHIFT   17
#define TIMER_MODE         0x00060000u
#define TIMER_ONESHOT      0
#define TIMER_PERIODIC     1
#define TIMER_TSC_DEADLINE 2
#define ICR_LO_WRITABLE    0x000CCFFFu
#define DEST_MASK          0xFF000000u   /* ICR high, LDR */

#define SVR_ENABLE         0x00000100u
#define SVR_WRITABLE       0x000003FFu   /* vector, enable, focus check */
#define DFR_MODEL_FLAT     0xFu
#define DFR_MODEL_CLUSTER  0x0u
#define DFR_RESERVED_ONES  0x0FFFFFFFu
#define DCR_WRITABLE       0x0000000Bu

#define ESR_SEND_ILLEGAL_VECTOR 0x20u
#define ESR_RECV_ILLEGAL_VECTOR 0x40u
#define ESR_ILLEGAL_REGISTER    0x80u

#define NS_PER_SEC 1000000000ull

static const uint32_t lvt_writable[LVT_COUNT] = {
	[LVT_TIMER] = APIC_VECTOR | APIC_MASKED | TIMER_MODE,
	[LVT_THERMAL] = APIC_VECTOR | APIC_DM | APIC_MASKED,
	[LVT_PERF] = APIC_VECTOR | APIC_DM | APIC_MASKED,
	[LVT_LINT0] = APIC_VECTOR | APIC_DM | APIC_POLARITY_LOW | APIC_TRIGGER_LEVEL | APIC_MASKED,
	[LVT_LINT1] = APIC_VECTOR | APIC_DM | APIC_POLARITY_LOW | APIC_TRIGGER_LEVEL | APIC_MASKED,
	[LVT_ERROR] = APIC_VECTOR | APIC_MASKED,
};

struct emu_lapic {
	pthread_mutex_t lock;
	struct apic_bus *bus;
	uint64_t (*now_ns)(void);
	void (*kick)(void *opaque);
	void *opaque;

	bool hw_enabled;            /* IA32_APIC_BASE bit 11 */
	uint8_t id;
	uint8_t tpr;
	uint32_t ldr, dfr, svr;
	uint32_t irr[8], isr[8], tmr[8];
	uint32_t esr;               /* as read: latched by the last ESR write */
	uint32_t esr_next;          /* errors since */
	uint32_t icr_lo, icr_hi;
	uint32_t lvt[LVT_COUNT];
	bool lint_level[2];         /* the pins, whatever the LVT says */

	/* Timer. One-shot and periodic: armed until the one-shot expires;
	 * timer_next is the next expiry, timer_period the periodic reload.
	 * TSC-deadline: tsc_deadline (0: disarmed) due at deadline_ns. */
	uint32_t timer_initial, timer_dcr;
	bool timer_armed;
	uint64_t timer_next, timer_period;
	uint64_t tsc_deadline, deadline_ns;
	int64_t tsc_offset;

	/* Events for the core. */
	bool nmi, init, sipi, extint_msg;
	uint8_t sipi_vector;
};

/* What the core can see pending, to kick it only on news. */
struct snapshot {
	unsigned flags;
	int vector;
};

#define SNAP_NMI    1u
#define SNAP_INIT   2u
#define SNAP_SIPI   4u
#define SNAP_EXTINT 8u

/* What a register write asks to do once the lock is dropped. */
struct outgoing {
	bool send, self;
	struct apic_msg msg;
	bool eoi;
	uint8_t eoi_vector;
};

/* ---- vector sets ------------------------------------------------------- */

static int highest(const uint32_t set[8])
{
	int i;

	for (i = 7; i >= 0; i--)
		if (set[i])
			return i * 32 + 31 - __builtin_clz(set[i]);
	return -1;
}

static bool test_vec(const uint32_t set[8], unsigned v)
{
	return set[v / 32] & (1u << (v % 32));
}

static void set_vec(uint32_t set[8], unsigned v)
{
	set[v / 32] |= 1u << (v % 32);
}

static void clear_vec(uint32_t set[8], unsigned v)
{
	set[v / 32] &= ~(1u << (v % 32));
}

/* ---- priorities -------------------------------------------------------- */

static uint8_t ppr(const struct emu_lapic *l)
{
	int isrv = highest(l->isr);
	uint8_t isr_class = isrv < 0 ? 0 : (uint8_t)(isrv & 0xF0);

	return (l->tpr & 0xF0) >= isr_class ? l->tpr : isr_class;
}

static uint8_t apr(const struct emu_lapic *l)
{
	int isrv = highest(l->isr), irrv = highest(l->irr);
	unsigned t = l->tpr & 0xF0, s = isrv < 0 ? 0 : (unsigned)isrv & 0xF0,
		 r = irrv < 0 ? 0 : (unsigned)irrv & 0xF0, m;

	if (t >= r && t > s)
		return l->tpr;
	m = t > s ? t : s;
	return (uint8_t)(m > r ? m : r);
}

static int deliverable(const struct emu_lapic *l)
{
	int v = highest(l->irr);

	if (v < 0 || (unsigned)(v & 0xF0) <= (ppr(l) & 0xF0u))
		return -1;
	return v;
}

static bool extint_pending_locked(const struct emu_lapic *l)
{
	uint32_t lint0 = l->lvt[LVT_LINT0];
	bool routed;

	if (l->extint_msg)
		return true;
	if (!l->lint_level[0])
		return false;
	/* A hardware-disabled APIC passes LINT0 through as the CPU's INTR. */
	routed = !l->hw_enabled ||
		 (!(lint0 & APIC_MASKED) &&
		  ((lint0 & APIC_DM) >> APIC_DM_SHIFT) == APIC_DELIVERY_EXTINT);
	return routed;
}

static struct snapshot snap(const struct emu_lapic *l)
{
	struct snapshot s = { 0, deliverable(l) };

	if (l->nmi)
		s.flags |= SNAP_NMI;
	if (l->init)
		s.flags |= SNAP_INIT;
	if (l->sipi)
		s.flags |= SNAP_SIPI;
	if (extint_pending_locked(l))
		s.flags |= SNAP_EXTINT;
	return s;
}

/* Drop the lock and kick the vCPU if something became deliverable. */
static void unlock_kick(struct emu_lapic *l, struct snapshot before)
{
	struct snapshot after = snap(l);
	bool kick = (after.flags & ~before.flags) ||
		    (after.vector >= 0 && after.vector != before.vector);

	pthread_mutex_unlock(&l->lock);
	if (kick && l->kick)
		l->kick(l->opaque);
}

/* ---- local interrupts -------------------------------------------------- */

static void raise_error(struct emu_lapic *l, uint32_t bits);

static void set_irr(struct emu_lapic *l, unsigned vector, bool level)
{
	/* Vectors 0-15 are the exceptions' and cannot be requested. */
	if (vector < 16) {
		raise_error(l, ESR_RECV_ILLEGAL_VECTOR);
		return;
	}
	set_vec(l->irr, vector);
	if (level)
		set_vec(l->tmr, vector);
	else
		clear_vec(l->tmr, vector);
}

static void raise_error(struct emu_lapic *l, uint32_t bits)
{
	uint32_t lvt = l->lvt[LVT_ERROR];

	l->esr_next |= bits;
	if (lvt & APIC_MASKED)
		return;
	/* An illegal error vector is itself an error, but not another
	 * interrupt. */
	if ((lvt & APIC_VECTOR) < 16)
		l->esr_next |= ESR_RECV_ILLEGAL_VECTOR;
	else
		set_irr(l, lvt & APIC_VECTOR, false);
}

/* The timer and the error LVT are always fixed and edge. */
static void fire_lvt(struct emu_lapic *l, unsigned idx)
{
	uint32_t lvt = l->lvt[idx];
	unsigned mode = idx == LVT_TIMER || idx == LVT_ERROR ? APIC_DELIVERY_FIXED :
			(lvt & APIC_DM) >> APIC_DM_SHIFT;

	if (lvt & APIC_MASKED)
		return;
	switch (mode) {
	case APIC_DELIVERY_FIXED:
		set_irr(l, lvt & APIC_VECTOR, false);
		break;
	case APIC_DELIVERY_NMI:
		l->nmi = true;
		break;
	case APIC_DELIVERY_INIT:
		l->init = true;
		l->sipi = false;
		break;
	default:
		/* SMI: no SMM. ExtINT works on the level, see
		 * extint_pending_locked(). */
		break;
	}
}

/* A LINT pin in fixed level mode requests while high, once per EOI. */
static void lint_level_eval(struct emu_lapic *l, unsigned pin)
{
	uint32_t *lvt = &l->lvt[LVT_LINT0 + pin];

	if ((*lvt & (APIC_MASKED | APIC_REMOTE_IRR)) || !(*lvt & APIC_TRIGGER_LEVEL) ||
	    (*lvt & APIC_DM) >> APIC_DM_SHIFT != APIC_DELIVERY_FIXED || !l->lint_level[pin])
		return;
	if ((*lvt & APIC_VECTOR) < 16) {
		raise_error(l, ESR_RECV_ILLEGAL_VECTOR);
		return;
	}
	*lvt |= APIC_REMOTE_IRR;
	set_irr(l, *lvt & APIC_VECTOR, true);
}

static void set_lint(struct emu_lapic *l, unsigned pin, bool level)
{
	uint32_t lvt = l->lvt[LVT_LINT0 + pin];
	bool rising = level && !l->lint_level[pin];

	l->lint_level[pin] = level;
	if (!l->hw_enabled) {
		/* No APIC: LINT1 is the NMI pin (LINT0, INTR, is a level). */
		if (pin == 1 && rising)
			l->nmi = true;
		return;
	}
	if (lvt & APIC_MASKED)
		return;
	if ((lvt & APIC_DM) >> APIC_DM_SHIFT == APIC_DELIVERY_FIXED && (lvt & APIC_TRIGGER_LEVEL))
		lint_level_eval(l, pin);
	else if (rising)
		fire_lvt(l, LVT_LINT0 + pin);
}

/* ---- timer ------------------------------------------------------------- */

static unsigned timer_mode(const struct emu_lapic *l)
{
	return (l->lvt[LVT_TIMER] & TIMER_MODE) >> TIMER_MODE_SHIFT;
}

static unsigned divide_shift(const struct emu_lapic *l)
{
	unsigned v = (l->timer_dcr & 3) | ((l->timer_dcr >> 1) & 4);

	return (v + 1) & 7;   /* 0 -> /2, ..., 6 -> /128, 7 -> /1 */
}

/* Time for count timer ticks after the divider, rounded up. */
static uint64_t count_to_ns(const struct emu_lapic *l, uint64_t count)
{
	unsigned __int128 ticks = (unsigned __int128)count << divide_shift(l);
	unsigned __int128 ns = (ticks * NS_PER_SEC + EMU_LAPIC_TIMER_HZ - 1) / EMU_LAPIC_TIMER_HZ;

	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

/* Counts (after the divider) left in ns, rounded up: a count reads its
 * loaded value until a whole divided tick has passed. */
static uint64_t ns_to_count(const struct emu_lapic *l, uint64_t ns)
{
	unsigned __int128 den = (unsigned __int128)NS_PER_SEC << divide_shift(l);

	return (uint64_t)(((unsigned __int128)ns * EMU_LAPIC_TIMER_HZ + den - 1) / den);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void timer_start(struct emu_lapic *l, uint64_t now)
{
	l->timer_armed = l->timer_initial != 0;
	if (!l->timer_armed)
		return;
	l->timer_period = count_to_ns(l, l->timer_initial);
	if (!l->timer_period)
		l->timer_period = 1;
	l->timer_next = add_sat(now, l->timer_period);
}

/* The end of the cycle in progress at now (periodic timers reload without
 * anyone polling), or 0 when a one-shot is over. */
static uint64_t cycle_end(const struct emu_lapic *l, uint64_t now)
{
	uint64_t e = l->timer_next, k;

	if (now < e)
		return e;
	if (timer_mode(l) != TIMER_PERIODIC)
		return 0;
	k = (now - e) / l->timer_period + 1;
	if (k > (UINT64_MAX - e) / l->timer_period)
		return UINT64_MAX;
	return e + k * l->timer_period;
}

static uint32_t current_count(const struct emu_lapic *l, uint64_t now)
{
	uint64_t end, c;

	if (!l->timer_armed || timer_mode(l) == TIMER_TSC_DEADLINE)
		return 0;
	end = cycle_end(l, now);
	if (!end)
		return 0;
	c = ns_to_count(l, end - now);
	return c > l->timer_initial ? l->timer_initial : (uint32_t)c;
}

static uint64_t tsc_to_ns(const struct emu_lapic *l, uint64_t tsc)
{
	__int128 g = (__int128)tsc - l->tsc_offset;
	unsigned __int128 ns;

	if (g <= 0)
		return 0;
	ns = ((unsigned __int128)g * NS_PER_SEC + EMU_TSC_HZ - 1) / EMU_TSC_HZ;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

/* Expiries up to now; returns the next one that would interrupt. */
static uint64_t timer_update(struct emu_lapic *l, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (timer_mode(l) == TIMER_TSC_DEADLINE) {
		if (l->tsc_deadline && now >= l->deadline_ns) {
			l->tsc_deadline = 0;
			fire_lvt(l, LVT_TIMER);
		}
		if (l->tsc_deadline)
			next = l->deadline_ns;
	} else if (l->timer_armed) {
		if (now >= l->timer_next) {
			if (timer_mode(l) == TIMER_PERIODIC)
				l->timer_next = cycle_end(l, now);
			else
				l->timer_armed = false;
			fire_lvt(l, LVT_TIMER);
		}
		if (l->timer_armed)
			next = l->timer_next;
	}
	return (l->lvt[LVT_TIMER] & APIC_MASKED) ? UINT64_MAX : next;
}

/* ---- state ------------------------------------------------------------- */

static void reset_locked(struct emu_lapic *l)
{
	unsigned i;

	l->tpr = 0;
	l->ldr = 0;
	l->dfr = 0xFFFFFFFFu;
	l->svr = 0xFF;
	for (i = 0; i < 8; i++)
		l->irr[i] = l->isr[i] = l->tmr[i] = 0;
	l->esr = l->esr_next = 0;
	l->icr_lo = l->icr_hi = 0;
	for (i = 0; i < LVT_COUNT; i++)
		l->lvt[i] = APIC_MASKED;
	l->timer_initial = 0;
	l->timer_dcr = 0;
	l->timer_armed = false;
	l->tsc_deadline = 0;
	l->nmi = l->init = l->sipi = l->extint_msg = false;
}

/* Fixed and lowest-priority to an enabled APIC; the rest always. */
static void accept_msg(struct emu_lapic *l, const struct apic_msg *m)
{
	if (!l->hw_enabled)
		return;
	switch (m->delivery_mode) {
	case APIC_DELIVERY_FIXED:
	case APIC_DELIVERY_LOWEST:
		if (!(l->svr & SVR_ENABLE) || !m->level)
			break;
		set_irr(l, m->vector, m->trigger_level);
		break;
	case APIC_DELIVERY_NMI:
		l->nmi = true;
		break;
	case APIC_DELIVERY_INIT:
		/* INIT level de-assert only resyncs arbitration IDs. */
		if (!m->level && m->trigger_level)
			break;
		l->init = true;
		l->sipi = false;   /* a start-up from before the INIT is stale */
		break;
	case APIC_DELIVERY_STARTUP:
		l->sipi = true;
		l->sipi_vector = m->vector;
		break;
	case APIC_DELIVERY_EXTINT:
		l->extint_msg = true;
		break;
	default:
		break;   /* SMI (no SMM), reserved */
	}
}

static void do_eoi(struct emu_lapic *l, struct outgoing *out)
{
	int v = highest(l->isr);
	unsigned pin;

	if (v < 0)
		return;
	clear_vec(l->isr, (unsigned)v);
	if (!test_vec(l->tmr, (unsigned)v))
		return;
	/* Level-triggered: tell the IOAPIC, and the local pins. */
	out->eoi = true;
	out->eoi_vector = (uint8_t)v;
	for (pin = 0; pin < 2; pin++) {
		uint32_t *lvt = &l->lvt[LVT_LINT0 + pin];

		if ((*lvt & APIC_REMOTE_IRR) && (*lvt & APIC_VECTOR) == (unsigned)v) {
			*lvt &= ~APIC_REMOTE_IRR;
			lint_level_eval(l, pin);
		}
	}
}

static void send_ipi(struct emu_lapic *l, struct outgoing *out)
{
	uint32_t lo = l->icr_lo;
	struct apic_msg m = {
		.dest = l->icr_hi >> 24,
		.logical = lo & APIC_DEST_LOGICAL,
		.vector = (uint8_t)(lo & APIC_VECTOR),
		.delivery_mode = (uint8_t)((lo & APIC_DM) >> APIC_DM_SHIFT),
		.level = lo & APIC_LEVEL_ASSERT,
		.trigger_level = lo & APIC_TRIGGER_LEVEL,
		.shorthand = (uint8_t)((lo >> APIC_SHORTHAND_SHIFT) & 3),
		.sender = l,
	};

	switch (m.delivery_mode) {
	case APIC_DELIVERY_FIXED:
	case APIC_DELIVERY_LOWEST:
		if (m.vector < 16) {
			raise_error(l, ESR_SEND_ILLEGAL_VECTOR);
			return;
		}
		/* An IPI is an edge unless the OS insists. */
		m.level = true;
		break;
	case APIC_DELIVERY_INIT:
		if (!m.level && m.trigger_level)
			return;   /* level de-assert: nothing to do */
		break;
	case APIC_DELIVERY_SMI:
	case APIC_DELIVERY_NMI:
	case APIC_DELIVERY_STARTUP:
		break;
	default:
		return;   /* ExtINT and the reserved mode cannot be sent */
	}
	out->send = true;
	out->self = m.shorthand == APIC_SHORTHAND_SELF;
	out->msg = m;
}

static bool valid_register(uint32_t reg)
{
	switch (reg) {
	case REG_ID: case REG_VERSION: case REG_TPR: case REG_APR: case REG_PPR:
	case REG_EOI: case REG_RRD: case REG_LDR: case REG_DFR: case REG_SVR:
	case REG_ESR: case REG_ICR_LO: case REG_ICR_HI:
	case REG_TIMER_ICR: case REG_TIMER_CCR: case REG_TIMER_DCR:
		return true;
	}
	return (reg >= REG_ISR && reg < REG_IRR + 0x80) ||
	       (reg >= REG_LVT0 && reg < REG_LVT0 + 0x10 * LVT_COUNT);
}

static uint32_t reg_read(struct emu_lapic *l, uint32_t reg, uint64_t now)
{
	switch (reg) {
	case REG_ID:
		return (uint32_t)l->id << 24;
	case REG_VERSION:
		return EMU_LAPIC_VERSION;
	case REG_TPR:
		return l->tpr;
	case REG_APR:
		return apr(l);
	case REG_PPR:
		return ppr(l);
	case REG_LDR:
		return l->ldr;
	case REG_DFR:
		return l->dfr;
	case REG_SVR:
		return l->svr;
	case REG_ESR:
		return l->esr;
	case REG_ICR_LO:
		return l->icr_lo;   /* delivery status: always idle */
	case REG_ICR_HI:
		return l->icr_hi;
	case REG_TIMER_ICR:
		return l->timer_initial;
	case REG_TIMER_CCR:
		return current_count(l, now);
	case REG_TIMER_DCR:
		return l->timer_dcr;
	}
	if (reg >= REG_ISR && reg < REG_ISR + 0x80)
		return l->isr[(reg - REG_ISR) / 0x10];
	if (reg >= REG_TMR && reg < REG_TMR + 0x80)
		return l->tmr[(reg - REG_TMR) / 0x10];
	if (reg >= REG_IRR && reg < REG_IRR + 0x80)
		return l->irr[(reg - REG_IRR) / 0x10];
	if (reg >= REG_LVT0 && reg < REG_LVT0 + 0x10 * LVT_COUNT)
		return l->lvt[(reg - REG_LVT0) / 0x10];
	return 0;   /* EOI (write-only), RRD, reserved */
}

static void write_lvt(struct emu_lapic *l, unsigned idx, uint32_t v)
{
	uint32_t old = l->lvt[idx], val = v & lvt_writable[idx];

	val |= old & APIC_REMOTE_IRR;
	/* While software-disabled, the LVT stays masked. */
	if (!(l->svr & SVR_ENABLE))
		val |= APIC_MASKED;
	l->lvt[idx] = val;
	if (idx == LVT_TIMER && ((old ^ val) & TIMER_MODE)) {
		/* Changing the timer mode disarms the timer. */
		l->timer_armed = false;
		l->timer_initial = 0;
		l->tsc_deadline = 0;
	}
	if (idx == LVT_LINT0 || idx == LVT_LINT1) {
		unsigned pin = idx - LVT_LINT0;

		if (!(val & APIC_TRIGGER_LEVEL) ||
		    (val & APIC_DM) >> APIC_DM_SHIFT != APIC_DELIVERY_FIXED)
			l->lvt[idx] &= ~APIC_REMOTE_IRR;
		lint_level_eval(l, pin);
	}
}

static void reg_write(struct emu_lapic *l, uint32_t reg, uint32_t v, uint64_t now,
		      struct outgoing *out)
{
	unsigned i, count;

	switch (reg) {
	case REG_ID:
		l->id = (uint8_t)(v >> 24);
		return;
	case REG_TPR:
		l->tpr = (uint8_t)v;
		return;
	case REG_EOI:
		do_eoi(l, out);
		return;
	case REG_LDR:
		l->ldr = v & DEST_MASK;
		return;
	case REG_DFR:
		l->dfr = v | DFR_RESERVED_ONES;
		return;
	case REG_SVR:
		l->svr = v & SVR_WRITABLE;
		if (!(l->svr & SVR_ENABLE))
			for (i = 0; i < LVT_COUNT; i++)
				l->lvt[i] |= APIC_MASKED;
		return;
	case REG_ESR:
		/* A write latches the errors seen since the last one. */
		l->esr = l->esr_next;
		l->esr_next = 0;
		return;
	case REG_ICR_LO:
		l->icr_lo = v & ICR_LO_WRITABLE;
		send_ipi(l, out);
		return;
	case REG_ICR_HI:
		l->icr_hi = v & DEST_MASK;
		return;
	case REG_TIMER_ICR:
		if (timer_mode(l) == TIMER_TSC_DEADLINE)
			return;
		l->timer_initial = v;
		timer_start(l, now);
		return;
	case REG_TIMER_DCR:
		/* The count in progress continues at the new rate. */
		count = current_count(l, now);
		l->timer_dcr = v & DCR_WRITABLE;
		if (l->timer_armed && timer_mode(l) != TIMER_TSC_DEADLINE) {
			l->timer_period = count_to_ns(l, l->timer_initial);
			if (!l->timer_period)
				l->timer_period = 1;
			if (count)
				l->timer_next = add_sat(now, count_to_ns(l, count));
		}
		return;
	}
	if (reg >= REG_LVT0 && reg < REG_LVT0 + 0x10 * LVT_COUNT) {
		write_lvt(l, (reg - REG_LVT0) / 0x10, v);
		return;
	}
	if (!valid_register(reg))
		raise_error(l, ESR_ILLEGAL_REGISTER);
	/* The rest is read-only. */
}

/* ---- the bus side ------------------------------------------------------ */

static void finish(struct emu_lapic *l, const struct outgoing *out)
{
	if (out->eoi && l->bus && l->bus->eoi)
		l->bus->eoi(l->bus, out->eoi_vector);
	if (!out->send)
		return;
	if (out->self) {
		emu_lapic_deliver(l, &out->msg);
	} else if (l->bus && l->bus->deliver) {
		l->bus->deliver(l->bus, &out->msg);
	} else if (out->msg.shorthand == APIC_SHORTHAND_ALL ||
		   (out->msg.shorthand == APIC_SHORTHAND_NONE && emu_lapic_match_dest(l, &out->msg))) {
		/* Alone in the machine. */
		emu_lapic_deliver(l, &out->msg);
	}
}

/* ---- API --------------------------------------------------------------- */

struct emu_lapic *emu_lapic_create(unsigned apic_id, struct apic_bus *bus,
				   uint64_t (*now_ns)(void), void (*kick)(void *opaque),
				   void *opaque)
{
	struct emu_lapic *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	pthread_mutex_init(&l->lock, NULL);
	l->bus = bus;
	l->now_ns = now_ns;
	l->kick = kick;
	l->opaque = opaque;
	l->id = (uint8_t)apic_id;
	l->hw_enabled = true;
	reset_locked(l);
	return l;
}

void emu_lapic_destroy(struct emu_lapic *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

void emu_lapic_reset(struct emu_lapic *l)
{
	pthread_mutex_lock(&l->lock);
	reset_locked(l);
	pthread_mutex_unlock(&l->lock);
}

void emu_lapic_setup_lints(struct emu_lapic *l, bool bsp)
{
	uint32_t mask = bsp ? 0 : APIC_MASKED;
	struct snapshot before;

	pthread_mutex_lock(&l->lock);
	before = snap(l);
	l->lvt[LVT_LINT0] = (APIC_DELIVERY_EXTINT << APIC_DM_SHIFT) | mask;
	l->lvt[LVT_LINT1] = (APIC_DELIVERY_NMI << APIC_DM_SHIFT) | mask;
	unlock_kick(l, before);
}

uint64_t emu_lapic_mmio_read(struct emu_lapic *l, uint32_t offset, unsigned size)
{
	struct snapshot before;
	uint64_t v = 0, now;
	unsigned i;

	if (size > 8)
		size = 8;
	if (offset >= PAGE_SIZE)
		return 0;
	now = l->now_ns();
	pthread_mutex_lock(&l->lock);
	before = snap(l);
	timer_update(l, now);
	if (!valid_register(offset & ~0xFu))
		raise_error(l, ESR_ILLEGAL_REGISTER);
	for (i = 0; i < size; i++) {
		uint32_t off = offset + i;

		if (off >= PAGE_SIZE || (off & 0xF) >= 4)
			continue;
		v |= (uint64_t)((reg_read(l, off & ~0xFu, now) >> (8 * (off & 3))) & 0xFF) << (8 * i);
	}
	unlock_kick(l, before);
	return v;
}

void emu_lapic_mmio_write(struct emu_lapic *l, uint32_t offset, unsigned size, uint64_t value)
{
	struct outgoing out = { 0 };
	struct snapshot before;
	uint64_t now;

	if (offset >= PAGE_SIZE || (offset & 0xF) || size < 4)
		return;
	now = l->now_ns();
	pthread_mutex_lock(&l->lock);
	before = snap(l);
	timer_update(l, now);
	reg_write(l, offset, (uint32_t)value, now, &out);
	unlock_kick(l, before);
	finish(l, &out);
}

uint64_t emu_lapic_poll(struct emu_lapic *l, uint64_t now)
{
	struct snapshot before;
	uint64_t next;

	pthread_mutex_lock(&l->lock);
	before = snap(l);
	next = timer_update(l, now);
	unlock_kick(l, before);
	return next;
}

void emu_lapic_set_tsc_deadline(struct emu_lapic *l, uint64_t tsc)
{
	uint64_t now = l->now_ns();
	struct snapshot before;

	pthread_mutex_lock(&l->lock);
	before = snap(l);
	timer_update(l, now);
	if (timer_mode(l) == TIMER_TSC_DEADLINE) {
		l->tsc_deadline = tsc;
		l->deadline_ns = tsc_to_ns(l, tsc);
		timer_update(l, now);
	}
	unlock_kick(l, before);
}

uint64_t emu_lapic_get_tsc_deadline(struct emu_lapic *l)
{
	uint64_t now = l->now_ns(), v;
	struct snapshot before;

	pthread_mutex_lock(&l->lock);
	before = snap(l);
	timer_update(l, now);
	v = timer_mode(l) == TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
	unlock_kick(l, before);
	return v;
}

void emu_lapic_set_tsc_offset(struct emu_lapic *l, int64_t offset)
{
	pthread_mutex_lock(&l->lock);
	l->tsc_offset = offset;
	if (l->tsc_deadline)
		l->deadline_ns = tsc_to_ns(l, l->tsc_deadline);
	pthread_mutex_unlock(&l->lock);
}

void emu_lapic_deliver(struct emu_lapic *l, const struct apic_msg *msg)
{
	struct snapshot before;

	pthread_mutex_lock(&l->lock);
	before = snap(l);
	accept_msg(l, msg);
	unlock_kick(l, before);
}

void emu_lapic_set_lint0(struct emu_lapic *l, bool level)
{
	struct snapshot before;

	pthread_mutex_lock(&l->lock);
	before = snap(l);
	set_lint(l, 0, level);
	unlock_kick(l, before);
}

void emu_lapic_set_lint1(struct emu_lapic *l, bool level)
{
	struct snapshot before;

	pthread_mutex_lock(&l->lock);
	before = snap(l);
	set_lint(l, 1, level);
	unlock_kick(l, before);
}

int emu_lapic_pending_vector(struct emu_lapic *l)
{
	int v;

	pthread_mutex_lock(&l->lock);
	v = deliverable(l);
	pthread_mutex_unlock(&l->lock);
	return v;
}

void emu_lapic_accept(struct emu_lapic *l, uint8_t vector)
{
	pthread_mutex_lock(&l->lock);
	if (test_vec(l->irr, vector)) {
		clear_vec(l->irr, vector);
		set_vec(l->isr, vector);
	}
	pthread_mutex_unlock(&l->lock);
}

bool emu_lapic_extint_pending(struct emu_lapic *l)
{
	bool v;

	pthread_mutex_lock(&l->lock);
	v = extint_pending_locked(l);
	pthread_mutex_unlock(&l->lock);
	return v;
}

bool emu_lapic_take_extint(struct emu_lapic *l, uint8_t *vector)
{
	int v;

	pthread_mutex_lock(&l->lock);
	if (!extint_pending_locked(l)) {
		pthread_mutex_unlock(&l->lock);
		return false;
	}
	l->extint_msg = false;
	pthread_mutex_unlock(&l->lock);
	/* The INTA cycle changes the 8259's INTR, which comes back here
	 * through emu_lapic_set_lint0: no lock may be held. */
	if (!l->bus || !l->bus->inta)
		return false;
	v = l->bus->inta(l->bus);
	if (v < 0)
		return false;
	*vector = (uint8_t)v;
	return true;
}

bool emu_lapic_has_interrupt(struct emu_lapic *l)
{
	bool v;

	pthread_mutex_lock(&l->lock);
	v = extint_pending_locked(l) || deliverable(l) >= 0;
	pthread_mutex_unlock(&l->lock);
	return v;
}

int emu_lapic_ack_interrupt(struct emu_lapic *l)
{
	uint8_t ext;
	int v;

	if (emu_lapic_take_extint(l, &ext))
		return ext;
	pthread_mutex_lock(&l->lock);
	v = deliverable(l);
	if (v >= 0) {
		clear_vec(l->irr, (unsigned)v);
		set_vec(l->isr, (unsigned)v);
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

bool emu_lapic_take_nmi(struct emu_lapic *l)
{
	bool v;

	pthread_mutex_lock(&l->lock);
	v = l->nmi;
	l->nmi = false;
	pthread_mutex_unlock(&l->lock);
	return v;
}

bool emu_lapic_take_init(struct emu_lapic *l)
{
	bool v, sipi;
	uint8_t sipi_vector;

	pthread_mutex_lock(&l->lock);
	v = l->init;
	if (v) {
		/* INIT resets the APIC too; a SIPI sent after it survives. */
		sipi = l->sipi;
		sipi_vector = l->sipi_vector;
		reset_locked(l);
		l->sipi = sipi;
		l->sipi_vector = sipi_vector;
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

bool emu_lapic_take_sipi(struct emu_lapic *l, uint8_t *vector)
{
	bool v;

	pthread_mutex_lock(&l->lock);
	v = l->sipi;
	if (v)
		*vector = l->sipi_vector;
	l->sipi = false;
	pthread_mutex_unlock(&l->lock);
	return v;
}

uint8_t emu_lapic_get_tpr(struct emu_lapic *l)
{
	uint8_t v;

	pthread_mutex_lock(&l->lock);
	v = l->tpr;
	pthread_mutex_unlock(&l->lock);
	return v;
}

void emu_lapic_set_tpr(struct emu_lapic *l, uint8_t tpr)
{
	struct snapshot before;

	pthread_mutex_lock(&l->lock);
	before = snap(l);
	l->tpr = tpr;
	unlock_kick(l, before);
}

void emu_lapic_set_enabled(struct emu_lapic *l, bool enabled)
{
	struct snapshot before;

	pthread_mutex_lock(&l->lock);
	before = snap(l);
	if (l->hw_enabled && !enabled)
		reset_locked(l);
	l->hw_enabled = enabled;
	unlock_kick(l, before);
}

bool emu_lapic_enabled(struct emu_lapic *l)
{
	bool v;

	pthread_mutex_lock(&l->lock);
	v = l->hw_enabled;
	pthread_mutex_unlock(&l->lock);
	return v;
}

unsigned emu_lapic_id(struct emu_lapic *l)
{
	unsigned v;

	pthread_mutex_lock(&l->lock);
	v = l->id;
	pthread_mutex_unlock(&l->lock);
	return v;
}

bool emu_lapic_match_dest(struct emu_lapic *l, const struct apic_msg *msg)
{
	unsigned mda = msg->dest & 0xFF, cluster, lcluster;
	bool v;

	pthread_mutex_lock(&l->lock);
	if (!l->hw_enabled) {
		v = false;
	} else if (!msg->logical) {
		v = msg->dest == APIC_BROADCAST || msg->dest == l->id;
	} else if (msg->dest == APIC_BROADCAST) {
		v = true;
	} else if ((l->dfr >> 28) == DFR_MODEL_CLUSTER) {
		/* High nibble: cluster (15: all), low nibble: members. */
		cluster = mda >> 4;
		lcluster = l->ldr >> 28;
		v = (cluster == 0xF || cluster == lcluster) && (mda & (l->ldr >> 24) & 0xF);
	} else {
		/* Flat (and the reserved models): one bit per APIC. */
		v = mda & (l->ldr >> 24);
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

unsigned emu_lapic_arb_priority(struct emu_lapic *l)
{
	unsigned v;

	pthread_mutex_lock(&l->lock);
	v = (l->svr & SVR_ENABLE) ? ppr(l) : 0x100;
	pthread_mutex_unlock(&l->lock);
	return v;
}
