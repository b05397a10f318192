#include "machine.h"

#include <stdlib.h>

#include "devices/acpi_pm.h"
#include "devices/cmos_rtc.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/i8042.h"
#include "devices/pci_host.h"
#include "devices/post_code.h"
#include "devices/testdev.h"
#include "devices/uart8250.h"
#include "memory_map.h"
#include "vm.h"

#define COM1_BASE        0x3f8
#define DEBUG_EXIT_PORT  0xf4
#define DEBUG_EXIT_SIZE  4

struct machine {
	struct uart8250 *com1;
	struct i8042 *i8042;
	struct cmos_rtc *rtc;
	struct debug_exit *debug_exit;
	struct post_code *post_code;
	struct fw_cfg *fw_cfg;
	struct pci_host *pci_host;
	struct testdev *testdev;
	struct acpi_pm *acpi_pm;
};

struct machine *machine_create(struct vm *vm, int console_fd)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct platform *p = &vm->platform;

	if (!m)
		return NULL;
	m->com1 = uart8250_create(p, COM1_BASE, IRQ_COM1, console_fd);
	m->i8042 = i8042_create(p);
	m->rtc = cmos_rtc_create(p, vm->mem.ram_size);
	m->debug_exit = debug_exit_create(p, DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE);
	m->post_code = post_code_create(p);
	m->fw_cfg = fw_cfg_create(p, vm->nvcpus, vm->mem.ram_size);
	m->pci_host = pci_host_create(p);
	m->acpi_pm = acpi_pm_create(p);
	if (vm->cfg->testdev)
		m->testdev = testdev_create(p);
	if (!m->com1 || !m->i8042 || !m->rtc || !m->debug_exit || !m->post_code ||
	    !m->fw_cfg || !m->pci_host || !m->acpi_pm || (vm->cfg->testdev && !m->testdev)) {
		machine_destroy(m);
		return NULL;
	}
	post_code_set_epoch(m->post_code, vm->t0_ns);
	return m;
}

void machine_destroy(struct machine *m)
{
	if (!m)
		return;
	if (m->testdev)
		testdev_destroy(m->testdev);
	acpi_pm_destroy(m->acpi_pm);
	if (m->pci_host)
		pci_host_destroy(m->pci_host);
	if (m->fw_cfg)
		fw_cfg_destroy(m->fw_cfg);
	if (m->post_code)
		post_code_destroy(m->post_code);
	if (m->debug_exit)
		debug_exit_destroy(m->debug_exit);
	if (m->rtc)
		cmos_rtc_destroy(m->rtc);
	if (m->i8042)
		i8042_destroy(m->i8042);
	if (m->com1)
		uart8250_destroy(m->com1);
	free(m);
}

struct uart8250 *machine_console_uart(struct machine *m)
{
	return m->com1;
}

void machine_report_boot_timings(struct machine *m, FILE *out)
{
	post_code_report(m->post_code, out);
}
