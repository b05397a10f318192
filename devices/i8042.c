#include "i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/memory_map.h"
#include "vmm/platform.h"

#define PORT_DATA   0x60
#define PORT_STATUS 0x64 /* read: status, write: command */

#define STR_OBF     0x01 /* output buffer full */
#define STR_IBF     0x02 /* input buffer full: never, commands complete at once */
#define STR_SYS     0x04 /* system flag */
#define STR_CMD     0x08 /* last write was to the command port */
#define STR_UNLOCK  0x10 /* keyboard not inhibited by the key lock */
#define STR_AUXDATA 0x20 /* output buffer holds mouse data: never */

#define CTR_KBDINT  0x01
#define CTR_AUXINT  0x02
#define CTR_SYS     0x04
#define CTR_KBDDIS  0x10
#define CTR_AUXDIS  0x20
#define CTR_XLATE   0x40

#define CMD_READ_RAM      0x20 /* 0x20-0x3f: read RAM byte; 0x20 is the command byte */
#define CMD_WRITE_RAM     0x60 /* 0x60-0x7f: write RAM byte */
#define CMD_AUX_DISABLE   0xa7
#define CMD_AUX_ENABLE    0xa8
#define CMD_AUX_TEST      0xa9
#define CMD_SELF_TEST     0xaa
#define CMD_KBD_TEST      0xab
#define CMD_KBD_DISABLE   0xad
#define CMD_KBD_ENABLE    0xae
#define CMD_READ_OUTPORT  0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3
#define CMD_WRITE_AUX     0xd4
#define CMD_PULSE         0xf0 /* 0xf0-0xff: pulse output lines whose bit is 0 */

#define SELF_TEST_OK      0x55
#define IFACE_TEST_OK     0x00
#define IFACE_CLOCK_HIGH  0x02 /* interface test: clock line stuck high */
#define KBD_RESEND        0xfe

#define OUTPORT_RESET     0x01 /* 0 holds the CPU in reset */
#define OUTPORT_A20       0x02

struct i8042 {
	pthread_mutex_t lock;
	struct platform *p;
	bool irq_level;

	uint8_t ram[32];       /* ram[0] is the command byte */
	uint8_t outbuf;
	bool obf;
	bool sys;
	bool last_was_cmd;
	uint8_t pending;       /* command waiting for its data byte, or 0 */
	uint8_t outport;
};

static void put_output(struct i8042 *k, uint8_t v)
{
	/* One byte of output buffer, like the real part: a new reply
	 * replaces one the guest never read. */
	k->outbuf = v;
	k->obf = true;
}

static void update_irq(struct i8042 *k)
{
	bool level = k->obf && (k->ram[0] & CTR_KBDINT);

	if (level != k->irq_level) {
		k->irq_level = level;
		platform_set_irq(k->p, IRQ_I8042, level);
	}
}

static void write_ctr(struct i8042 *k, uint8_t v)
{
	k->ram[0] = v;
	k->sys = v & CTR_SYS;
}

/* Returns true when the guest asked for a reset. */
static bool command(struct i8042 *k, uint8_t cmd)
{
	k->last_was_cmd = true;
	k->pending = 0;

	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + 0x20) {
		put_output(k, k->ram[cmd & 0x1f]);
		return false;
	}
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
		k->pending = cmd;
		return false;
	}
	if (cmd >= CMD_PULSE)
		return !(cmd & OUTPORT_RESET);

	switch (cmd) {
	case CMD_AUX_DISABLE:
		k->ram[0] |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		k->ram[0] &= (uint8_t)~CTR_AUXDIS;
		break;
	case CMD_AUX_TEST:
		/* Nothing on the mouse port, whose clock line is pulled up.
		 * Linux treats this answer as "no AUX port". */
		put_output(k, IFACE_CLOCK_HIGH);
		break;
	case CMD_SELF_TEST:
		k->sys = true;
		put_output(k, SELF_TEST_OK);
		break;
	case CMD_KBD_TEST:
		put_output(k, IFACE_TEST_OK);
		break;
	case CMD_KBD_DISABLE:
		k->ram[0] |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ram[0] &= (uint8_t)~CTR_KBDDIS;
		break;
	case CMD_READ_OUTPORT:
		put_output(k, k->outport);
		break;
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OBUF:
	case CMD_WRITE_AUX_OBUF:
	case CMD_WRITE_AUX:
		k->pending = cmd;
		break;
	default:
		/* Vendor commands, A20 helpers, input port: ignored. */
		break;
	}
	return false;
}

static bool data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->last_was_cmd = false;
	k->pending = 0;

	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
		if (cmd == CMD_WRITE_RAM)
			write_ctr(k, v);
		else
			k->ram[cmd & 0x1f] = v;
		return false;
	}
	switch (cmd) {
	case 0:
		/* A byte for the keyboard, but no keyboard is attached:
		 * answer "resend" at once so the driver's probe fails fast
		 * instead of waiting out its timeouts. */
		put_output(k, KBD_RESEND);
		return false;
	case CMD_WRITE_OUTPORT:
		/* A20 is not modelled: the guest always sees all of memory. */
		k->outport = v;
		return !(v & OUTPORT_RESET);
	case CMD_WRITE_KBD_OBUF:
		put_output(k, v);
		return false;
	case CMD_WRITE_AUX_OBUF:
		/* Without a mouse port the byte comes back as keyboard data;
		 * Linux's AUX loop test reads that as "no AUX port". */
		put_output(k, v);
		return false;
	case CMD_WRITE_AUX:
	default:
		return false;
	}
}

static uint64_t data_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8042 *k = opaque;
	uint64_t v;

	if (offset != 0 || size == 0)
		return ~0ull;
	pthread_mutex_lock(&k->lock);
	v = k->outbuf;
	k->obf = false;
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	/* Bytes past the port are not ours and float high. */
	return v | ~0xffull;
}

static uint64_t status_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8042 *k = opaque;
	uint64_t v = STR_UNLOCK;

	if (offset != 0 || size == 0)
		return ~0ull;
	pthread_mutex_lock(&k->lock);
	if (k->obf)
		v |= STR_OBF;
	if (k->sys)
		v |= STR_SYS;
	if (k->last_was_cmd)
		v |= STR_CMD;
	pthread_mutex_unlock(&k->lock);
	return v | ~0xffull;
}

static void port_write(struct i8042 *k, bool is_cmd, uint8_t v)
{
	bool reset;

	pthread_mutex_lock(&k->lock);
	reset = is_cmd ? command(k, v) : data(k, v);
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	if (reset)
		platform_request_stop(k->p, VM_STOP_RESET, 0);
}

static void data_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	if (offset == 0 && size > 0)
		port_write(opaque, false, (uint8_t)value);
}

static void cmd_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	if (offset == 0 && size > 0)
		port_write(opaque, true, (uint8_t)value);
}

static const struct bus_ops data_ops = { .read = data_read, .write = data_write };
static const struct bus_ops status_ops = { .read = status_read, .write = cmd_write };

struct i8042 *i8042_create(struct platform *p)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	int rc;

	if (!k) {
		log_error("i8042: out of memory");
		return NULL;
	}
	pthread_mutex_init(&k->lock, NULL);
	k->p = p;
	/* What a BIOS leaves behind: keyboard interrupt on, translation on,
	 * POST passed. */
	write_ctr(k, CTR_KBDINT | CTR_SYS | CTR_XLATE);
	k->outport = OUTPORT_RESET | OUTPORT_A20;

	if (!bus_range_free(p->pio, PORT_STATUS, 1))
		rc = -EEXIST;
	else
		rc = bus_register(p->pio, PORT_DATA, 1, &data_ops, k, "i8042-data");
	if (!rc)
		rc = bus_register(p->pio, PORT_STATUS, 1, &status_ops, k, "i8042-status");
	if (rc) {
		log_error("i8042: cannot claim ports 0x%x and 0x%x: %s", PORT_DATA, PORT_STATUS,
			  strerror(-rc));
		i8042_destroy(k);
		return NULL;
	}
	return k;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}
