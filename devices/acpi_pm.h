/* The ACPI PM1a fixed-hardware registers the FADT of loader/acpi.c
 * describes: PM1_STS and PM1_EN at ACPI_PM1A_EVT_PORT, PM1_CNT at
 * ACPI_PM1A_CNT_PORT. ACPI is always enabled (SCI_EN reads 1), nothing
 * raises a status bit, and writing SLP_EN with SLP_TYP = ACPI_S5_SLP_TYP
 * (the DSDT's \_S5) powers the machine off. Other sleep states are
 * ignored. */
#ifndef WISP_DEVICES_ACPI_PM_H
#define WISP_DEVICES_ACPI_PM_H

struct platform;
struct acpi_pm;

/* Returns NULL after logging why. */
struct acpi_pm *acpi_pm_create(struct platform *p);
void acpi_pm_destroy(struct acpi_pm *pm);

#endif
