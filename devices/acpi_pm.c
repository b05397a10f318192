#include "acpi_pm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "loader/acpi.h"
#include "vmm/log.h"
#include "vmm/platform.h"

_Static_assert(ACPI_PM1A_CNT_PORT == ACPI_PM1A_EVT_PORT + ACPI_PM1_EVT_LEN,
	       "one contiguous port range");
#define PM_PORTS      (ACPI_PM1_EVT_LEN + ACPI_PM1_CNT_LEN)
#define OFF_STS       0
#define OFF_EN        2
#define OFF_CNT       4

/* PM1_STS bits a guest may see (ACPI 6.x table 4-16); none is ever set
 * here, but the register keeps whatever we would set, write-1-to-clear. */
#define STS_MASK      0x8F31u  /* TMR, BM, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE, WAK */
#define EN_MASK       0x4521u  /* TMR, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE_DIS */
#define CNT_SCI_EN    (1u << 0)
#define CNT_SLP_TYP_SHIFT 10
#define CNT_SLP_TYP   (7u << CNT_SLP_TYP_SHIFT)
#define CNT_SLP_EN    (1u << 13)  /* write-only */
/* SCI_EN, BM_RLD, GBL_RLS (write-only in hardware, kept harmlessly), SLP_TYP. */
#define CNT_MASK      (CNT_SCI_EN | 0x6u | CNT_SLP_TYP)

struct acpi_pm {
	struct platform *p;
	pthread_mutex_t lock;
	uint16_t sts, en, cnt;
};

static uint8_t reg_byte(const struct acpi_pm *pm, unsigned off)
{
	uint16_t v;

	switch (off & ~1u) {
	case OFF_STS:
		v = pm->sts;
		break;
	case OFF_EN:
		v = pm->en;
		break;
	default:
		v = (uint16_t)(pm->cnt | CNT_SCI_EN);
		break;
	}
	return (uint8_t)(v >> (8 * (off & 1)));
}

static uint64_t acpi_pm_read(void *opaque, uint64_t offset, unsigned size)
{
	struct acpi_pm *pm = opaque;
	uint64_t v = 0;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < size; i++) {
		uint64_t off = offset + i;
		uint8_t b = off < PM_PORTS ? reg_byte(pm, (unsigned)off) : 0xFF;

		v |= (uint64_t)b << (8 * i);
	}
	pthread_mutex_unlock(&pm->lock);
	return v;
}

static void acpi_pm_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct acpi_pm *pm = opaque;
	uint16_t sts_clear = 0, en = 0, cnt = 0;
	bool en_hit[2] = { false, false }, cnt_hit[2] = { false, false };
	bool poweroff = false;

	/* Gather the bytes per register first, so a 16- or 32-bit write acts
	 * on whole registers and a byte write on its half. */
	for (unsigned i = 0; i < size; i++) {
		uint64_t off = offset + i;
		uint16_t b = (uint16_t)((value >> (8 * i)) & 0xFF);
		unsigned sh = 8 * (unsigned)(off & 1);

		if (off >= PM_PORTS)
			break;
		switch (off & ~1ull) {
		case OFF_STS:
			sts_clear |= (uint16_t)(b << sh);
			break;
		case OFF_EN:
			en |= (uint16_t)(b << sh);
			en_hit[off & 1] = true;
			break;
		default:
			cnt |= (uint16_t)(b << sh);
			cnt_hit[off & 1] = true;
			break;
		}
	}

	pthread_mutex_lock(&pm->lock);
	pm->sts &= (uint16_t)~sts_clear;
	for (unsigned h = 0; h < 2; h++) {
		uint16_t m = (uint16_t)(0xFFu << (8 * h));

		if (en_hit[h])
			pm->en = (uint16_t)((pm->en & ~m) | (en & m & EN_MASK));
		if (cnt_hit[h])
			pm->cnt = (uint16_t)((pm->cnt & ~m) | (cnt & m & CNT_MASK));
	}
	/* SLP_EN sits in the high byte; SLP_TYP is the register's, so a
	 * byte write of the high half alone still carries both. */
	if (cnt_hit[1] && (cnt & CNT_SLP_EN) &&
	    ((pm->cnt & CNT_SLP_TYP) >> CNT_SLP_TYP_SHIFT) == ACPI_S5_SLP_TYP)
		poweroff = true;
	pthread_mutex_unlock(&pm->lock);

	if (poweroff)
		platform_request_stop(pm->p, VM_STOP_POWEROFF, 0);
}

static const struct bus_ops acpi_pm_ops = {
	.read = acpi_pm_read,
	.write = acpi_pm_write,
};

struct acpi_pm *acpi_pm_create(struct platform *p)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	int rc;

	if (!pm) {
		log_error("acpi_pm: out of memory");
		return NULL;
	}
	pm->p = p;
	pm->cnt = CNT_SCI_EN;
	pthread_mutex_init(&pm->lock, NULL);
	rc = bus_register(p->pio, ACPI_PM1A_EVT_PORT, PM_PORTS, &acpi_pm_ops, pm, "acpi_pm");
	if (rc) {
		log_error("acpi_pm: cannot claim ports 0x%x-0x%x: %s", ACPI_PM1A_EVT_PORT,
			  ACPI_PM1A_EVT_PORT + PM_PORTS - 1, strerror(-rc));
		acpi_pm_destroy(pm);
		return NULL;
	}
	return pm;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}
