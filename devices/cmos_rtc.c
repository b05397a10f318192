#include "cmos_rtc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/log.h"
#include "vmm/memory_map.h"
#include "vmm/platform.h"

#define PORT_INDEX 0x70
#define PORT_DATA  0x71
#define INDEX_MASK 0x7f /* bit 7 of the index port is the NMI mask: ignored */

#define CMOS_SIZE 128

/* Clock registers. */
#define REG_SEC       0x00
#define REG_SEC_ALARM 0x01
#define REG_MIN       0x02
#define REG_MIN_ALARM 0x03
#define REG_HOUR      0x04
#define REG_HOUR_ALARM 0x05
#define REG_WDAY      0x06
#define REG_MDAY      0x07
#define REG_MON       0x08
#define REG_YEAR      0x09
#define REG_A         0x0a
#define REG_B         0x0b
#define REG_C         0x0c
#define REG_D         0x0d
#define REG_CENTURY   0x32

#define A_UIP     0x80
#define A_DEFAULT 0x26 /* 32.768 kHz time base, 1024 Hz rate */
#define B_SET     0x80 /* clock stopped while the guest sets it */
#define B_DM      0x04 /* binary, else BCD */
#define B_24H     0x02
#define B_DEFAULT B_24H
#define D_VRT     0x80 /* RAM and time valid (battery good) */
#define HOUR_PM   0x80 /* in 12-hour mode */

/* NVRAM layout of a PC BIOS. */
#define REG_BASE_MEM_LO   0x15 /* KiB below 1 MiB */
#define REG_BASE_MEM_HI   0x16
#define REG_EXT_MEM_LO    0x17 /* KiB above 1 MiB, at most 0xffff */
#define REG_EXT_MEM_HI    0x18
#define REG_CSUM_FIRST    0x10 /* checksum covers 0x10-0x2d */
#define REG_CSUM_LAST     0x2d
#define REG_CSUM_HI       0x2e
#define REG_CSUM_LO       0x2f
#define REG_EXT_MEM2_LO   0x30 /* copy of 0x17/0x18 */
#define REG_EXT_MEM2_HI   0x31
#define REG_MEM_16M_LO    0x34 /* 64 KiB units from 16 MiB to the PCI hole */
#define REG_MEM_16M_HI    0x35
#define REG_MEM_4G_0      0x5b /* 64 KiB units above 4 GiB, 24 bits */
#define REG_MEM_4G_1      0x5c
#define REG_MEM_4G_2      0x5d

struct cmos_rtc {
	pthread_mutex_t lock;
	struct platform *p;
	uint8_t index;
	uint8_t ram[CMOS_SIZE];  /* the clock fields are computed, not kept here */
	time_t offset;           /* guest clock minus host clock, seconds */
	/* While B.SET is held the clock stands still and the guest's writes
	 * collect here, unnormalised: it writes one field at a time, and a
	 * day of 31 must survive until the month arrives. */
	bool frozen;
	struct tm set_tm;
};

static void guest_time(const struct cmos_rtc *c, struct tm *tm)
{
	time_t t;

	if (c->frozen) {
		*tm = c->set_tm;
		return;
	}
	t = time(NULL) + c->offset;
	if (!gmtime_r(&t, tm))
		memset(tm, 0, sizeof(*tm));
}

static void set_guest_time(struct cmos_rtc *c, struct tm *tm)
{
	time_t t;

	tm->tm_isdst = 0;
	t = timegm(tm);
	/* An unrepresentable date leaves the clock as it was. */
	if (t != (time_t)-1)
		c->offset = t - time(NULL);
}

static bool binary_mode(const struct cmos_rtc *c)
{
	return c->ram[REG_B] & B_DM;
}

static uint8_t encode(const struct cmos_rtc *c, int v)
{
	if (v < 0)
		v = 0;
	if (binary_mode(c))
		return (uint8_t)v;
	v %= 100;
	return (uint8_t)((v / 10) << 4 | v % 10);
}

/* Guest values are not checked for valid BCD digits: timegm() normalises
 * whatever comes out. */
static int decode(const struct cmos_rtc *c, uint8_t v)
{
	if (binary_mode(c))
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t read_clock(const struct cmos_rtc *c, unsigned reg)
{
	struct tm tm;
	int year, h;

	guest_time(c, &tm);
	year = tm.tm_year + 1900;
	switch (reg) {
	case REG_SEC:
		return encode(c, tm.tm_sec);
	case REG_MIN:
		return encode(c, tm.tm_min);
	case REG_HOUR:
		if (c->ram[REG_B] & B_24H)
			return encode(c, tm.tm_hour);
		h = tm.tm_hour % 12;
		return (uint8_t)(encode(c, h ? h : 12) | (tm.tm_hour >= 12 ? HOUR_PM : 0));
	case REG_WDAY:
		return encode(c, tm.tm_wday + 1);
	case REG_MDAY:
		return encode(c, tm.tm_mday);
	case REG_MON:
		return encode(c, tm.tm_mon + 1);
	case REG_YEAR:
		return encode(c, year < 0 ? 0 : year % 100);
	case REG_CENTURY:
		return encode(c, year < 0 ? 0 : year / 100);
	}
	return 0;
}

static void write_clock(struct cmos_rtc *c, unsigned reg, uint8_t v)
{
	struct tm tm;
	int year, h;

	guest_time(c, &tm);
	year = tm.tm_year + 1900;
	if (year < 0)
		year = 0;
	switch (reg) {
	case REG_SEC:
		tm.tm_sec = decode(c, v);
		break;
	case REG_MIN:
		tm.tm_min = decode(c, v);
		break;
	case REG_HOUR:
		if (c->ram[REG_B] & B_24H) {
			tm.tm_hour = decode(c, v);
		} else {
			h = decode(c, v & (uint8_t)~HOUR_PM) % 12;
			tm.tm_hour = (v & HOUR_PM) ? h + 12 : h;
		}
		break;
	case REG_WDAY:
		/* Derived from the date. */
		return;
	case REG_MDAY:
		tm.tm_mday = decode(c, v);
		break;
	case REG_MON:
		tm.tm_mon = decode(c, v) - 1;
		break;
	case REG_YEAR:
		tm.tm_year = year / 100 * 100 + decode(c, v) - 1900;
		break;
	case REG_CENTURY:
		tm.tm_year = decode(c, v) * 100 + year % 100 - 1900;
		break;
	}
	if (c->frozen)
		c->set_tm = tm;
	else
		set_guest_time(c, &tm);
}

static void write_b(struct cmos_rtc *c, uint8_t v)
{
	bool set = v & B_SET;

	if (set && !c->frozen) {
		guest_time(c, &c->set_tm);
		c->frozen = true;
	} else if (!set && c->frozen) {
		c->frozen = false;
		set_guest_time(c, &c->set_tm);
	}
	c->ram[REG_B] = v;
}

static uint8_t data_read(struct cmos_rtc *c)
{
	unsigned reg = c->index;
	uint8_t v;

	switch (reg) {
	case REG_SEC:
	case REG_MIN:
	case REG_HOUR:
	case REG_WDAY:
	case REG_MDAY:
	case REG_MON:
	case REG_YEAR:
	case REG_CENTURY:
		return read_clock(c, reg);
	case REG_A:
		/* We compute the time on every read, so an update is never
		 * in progress. */
		return c->ram[REG_A] & (uint8_t)~A_UIP;
	case REG_C:
		v = c->ram[REG_C];
		c->ram[REG_C] = 0;
		return v;
	case REG_D:
		return D_VRT;
	}
	return c->ram[reg];
}

static void data_write(struct cmos_rtc *c, uint8_t v)
{
	unsigned reg = c->index;

	switch (reg) {
	case REG_SEC:
	case REG_MIN:
	case REG_HOUR:
	case REG_WDAY:
	case REG_MDAY:
	case REG_MON:
	case REG_YEAR:
	case REG_CENTURY:
		write_clock(c, reg, v);
		return;
	case REG_A:
		c->ram[REG_A] = v & (uint8_t)~A_UIP;
		return;
	case REG_B:
		write_b(c, v);
		return;
	case REG_C:
	case REG_D:
		return; /* read-only */
	}
	c->ram[reg] = v;
}

/* Wide accesses are split into byte cycles over index and data. */
static uint64_t rtc_read(void *opaque, uint64_t offset, unsigned size)
{
	struct cmos_rtc *c = opaque;
	uint64_t v = 0;
	unsigned i;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < size; i++) {
		uint64_t b = 0xff; /* the index port is write-only */
		if (offset + i == PORT_DATA - PORT_INDEX)
			b = data_read(c);
		v |= b << (8 * i);
	}
	pthread_mutex_unlock(&c->lock);
	return v;
}

static void rtc_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct cmos_rtc *c = opaque;
	unsigned i;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < size; i++) {
		uint8_t b = (uint8_t)(value >> (8 * i));
		if (offset + i == 0)
			c->index = b & INDEX_MASK;
		else if (offset + i == PORT_DATA - PORT_INDEX)
			data_write(c, b);
	}
	pthread_mutex_unlock(&c->lock);
}

static const struct bus_ops rtc_ops = {
	.read = rtc_read,
	.write = rtc_write,
};

static void put16(uint8_t *ram, unsigned reg, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	ram[reg] = (uint8_t)v;
	ram[reg + 1] = (uint8_t)(v >> 8);
}

static void fill_memory_fields(uint8_t *ram, uint64_t ram_size)
{
	uint64_t low = ram_size < PCI_HOLE_START ? ram_size : PCI_HOLE_START;
	uint64_t high = ram_size - low;
	uint64_t base_kib = low < KiB(640) ? low >> 10 : 640;
	uint64_t ext = 0, mem16 = 0, mem4g = high >> 16;
	unsigned sum = 0, i;

	/* KiB above 1 MiB; the 16-bit cap makes it "up to about 64 MiB". */
	if (low > MiB(1))
		ext = (low - MiB(1)) >> 10;
	if (low > MiB(16))
		mem16 = (low - MiB(16)) >> 16;
	if (mem4g > 0xffffff)
		mem4g = 0xffffff;

	put16(ram, REG_BASE_MEM_LO, base_kib);
	put16(ram, REG_EXT_MEM_LO, ext);
	put16(ram, REG_EXT_MEM2_LO, ext);
	put16(ram, REG_MEM_16M_LO, mem16);
	ram[REG_MEM_4G_0] = (uint8_t)mem4g;
	ram[REG_MEM_4G_1] = (uint8_t)(mem4g >> 8);
	ram[REG_MEM_4G_2] = (uint8_t)(mem4g >> 16);

	for (i = REG_CSUM_FIRST; i <= REG_CSUM_LAST; i++)
		sum += ram[i];
	ram[REG_CSUM_HI] = (uint8_t)(sum >> 8);
	ram[REG_CSUM_LO] = (uint8_t)sum;
}

struct cmos_rtc *cmos_rtc_create(struct platform *p, uint64_t ram_size)
{
	struct cmos_rtc *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		log_error("cmos_rtc: out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->p = p;
	c->ram[REG_A] = A_DEFAULT;
	c->ram[REG_B] = B_DEFAULT;
	fill_memory_fields(c->ram, ram_size);

	rc = bus_register(p->pio, PORT_INDEX, 2, &rtc_ops, c, "cmos_rtc");
	if (rc) {
		log_error("cmos_rtc: cannot claim ports 0x%x-0x%x: %s", PORT_INDEX, PORT_DATA,
			  strerror(-rc));
		cmos_rtc_destroy(c);
		return NULL;
	}
	return c;
}

void cmos_rtc_destroy(struct cmos_rtc *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}
