#include "machine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/acpi_pm.h"
#include "devices/cmos_rtc.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/i8042.h"
#include "devices/pci_host.h"
#include "devices/post_code.h"
#include "devices/testdev.h"
#include "devices/uart8250.h"
#include "loader/loader.h"
#include "console.h"
#include "log.h"
#include "memory_map.h"
#include "virtio/blk_io.h"
#include "virtio/tap.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_mmio.h"
#include "virtio/virtio_net.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtio_rng.h"
#include "vm.h"

#define DEBUG_EXIT_PORT  0xf4
#define DEBUG_EXIT_SIZE  4

/* The virtio-mmio window lies in the PCI hole, clear of everything else
 * there, and its lines on IOAPIC pins no ISA IRQ uses. */
#define VIRTIO_MMIO_END (VIRTIO_MMIO_BASE + VIRTIO_MMIO_SLOTS * VIRTIO_MMIO_SLOT_SIZE)
_Static_assert(VIRTIO_MMIO_SLOT_SIZE >= VIRTIO_MMIO_SIZE, "a slot holds the registers");
_Static_assert(VIRTIO_MMIO_BASE >= PCI_MMCONFIG_START + 0x10000000ull &&
	       VIRTIO_MMIO_END <= TESTDEV_MMIO_BASE && VIRTIO_MMIO_END <= IOAPIC_BASE,
	       "virtio-mmio window between ECAM and the test device");
_Static_assert(VIRTIO_MMIO_GSI_BASE >= 16 &&
	       VIRTIO_MMIO_GSI_BASE + VIRTIO_MMIO_SLOTS <= IOAPIC_PINS,
	       "virtio-mmio lines on IOAPIC pins 16 and up");

/* virtio-pci device n is bus-0 slot n + 1 (slot 0 is the host bridge),
 * its BAR the n-th of the PCI window, its INTA# on GSI 16 + n: one line
 * per device, so no line is shared and none needs a wired OR. A VM has
 * one transport, so these pins are never also virtio-mmio's. */
#define VIRTIO_PCI_MAX      VIRTIO_MMIO_SLOTS
#define VIRTIO_PCI_GSI_BASE VIRTIO_MMIO_GSI_BASE
_Static_assert(PCI_MMIO_START + VIRTIO_PCI_MAX * (uint64_t)VIRTIO_PCI_BAR_SIZE <= PCI_MMIO_END &&
	       PCI_MMIO_START % VIRTIO_PCI_BAR_SIZE == 0,
	       "virtio-pci BARs fit the PCI window, each aligned to its size");
_Static_assert(VIRTIO_PCI_GSI_BASE + VIRTIO_PCI_MAX <= IOAPIC_PINS,
	       "virtio-pci lines on IOAPIC pins");

/* One virtio device, on whichever transport the VM has. */
struct machine_virtio {
	struct virtio_mmio *mmio;
	struct virtio_pci *pci;
};

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
	struct machine_virtio virtio[VIRTIO_MMIO_SLOTS];
	unsigned nvirtio;
	bool virtio_on_pci;         /* the transport of them all */
	/* What the boot tables say of device n, on the transport it has:
	 * its mmio window or its PCI INTx line. */
	struct loader_virtio_mmio virtio_desc[VIRTIO_MMIO_SLOTS];
	struct loader_pci_intx pci_intx[VIRTIO_PCI_MAX];
	bool virtio_on_cmdline;
	struct virtio_dev *virtio_console;  /* --console-device virtio */
};

static int add_virtio_mmio(struct machine *m, struct vm *vm, unsigned n,
			   virtio_dev_setup_fn setup, const void *arg)
{
	uint64_t base = VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_SLOT_SIZE;
	unsigned gsi = VIRTIO_MMIO_GSI_BASE + n;

	m->virtio[n].mmio = virtio_mmio_create(&vm->platform, base, gsi, setup, arg);
	if (!m->virtio[n].mmio)
		return -1;
	m->virtio_desc[n] = (struct loader_virtio_mmio){
		.base = base, .size = VIRTIO_MMIO_SIZE, .gsi = gsi,
	};
	log_debug("%s on virtio-mmio at 0x%llx, GSI %u",
		  virtio_mmio_dev(m->virtio[n].mmio)->ops->name, (unsigned long long)base, gsi);
	return 0;
}

static int add_virtio_pci(struct machine *m, struct vm *vm, unsigned n,
			  virtio_dev_setup_fn setup, const void *arg)
{
	unsigned slot = n + 1, gsi = VIRTIO_PCI_GSI_BASE + n;
	uint32_t bar = (uint32_t)(PCI_MMIO_START + n * (uint64_t)VIRTIO_PCI_BAR_SIZE);

	m->virtio[n].pci = virtio_pci_create(&vm->platform, m->pci_host, slot, bar, gsi, setup,
					     arg);
	if (!m->virtio[n].pci)
		return -1;
	m->pci_intx[n] = (struct loader_pci_intx){
		.slot = (uint8_t)slot, .pin = 1, .gsi = gsi,
	};
	log_debug("%s on virtio-pci at 00:%02x.0, BAR 0x%x, INTA# on GSI %u",
		  virtio_pci_dev(m->virtio[n].pci)->ops->name, slot, bar, gsi);
	return 0;
}

/* The next virtio device, made by setup, on the VM's transport. */
static int add_virtio(struct machine *m, struct vm *vm, virtio_dev_setup_fn setup,
		      const void *arg)
{
	unsigned n = m->nvirtio;
	int rc;

	if (n >= VIRTIO_MMIO_SLOTS) {
		log_error("at most %u virtio devices", VIRTIO_MMIO_SLOTS);
		return -1;
	}
	if (m->virtio_on_pci)
		rc = add_virtio_pci(m, vm, n, setup, arg);
	else
		rc = add_virtio_mmio(m, vm, n, setup, arg);
	if (rc == 0)
		m->nvirtio++;
	return rc;
}

static void close_backend(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void machine_backends_close(struct machine_backends *b)
{
	for (unsigned i = 0; i < WISP_MAX_DRIVES; i++)
		close_backend(&b->drive_fd[i]);
	for (unsigned i = 0; i < WISP_MAX_NETS; i++)
		close_backend(&b->net_fd[i]);
}

int machine_backends_open(struct machine_backends *b, const struct vm_config *cfg)
{
	for (unsigned i = 0; i < WISP_MAX_DRIVES; i++)
		b->drive_fd[i] = -1;
	for (unsigned i = 0; i < WISP_MAX_NETS; i++)
		b->net_fd[i] = -1;
	for (unsigned i = 0; i < cfg->ndrives; i++) {
		const struct drive_config *d = &cfg->drives[i];
		int fd = blk_io_image_open(d->path, d->read_only);

		if (fd == -EINVAL)
			log_error("--drive: '%s' is not a regular file or a block device", d->path);
		else if (fd == -EBUSY)
			log_error("--drive: '%s' is in use by another process (locked)", d->path);
		else if (fd < 0)
			log_error("--drive: cannot open '%s'%s: %s", d->path,
				  d->read_only ? "" : " for writing (add ,ro for a read-only drive)",
				  strerror(-fd));
		if (fd < 0)
			goto fail;
		b->drive_fd[i] = fd;
	}
	/* A tap created here lives as long as its descriptor. */
	for (unsigned i = 0; i < cfg->nnets; i++) {
		b->net_fd[i] = tap_open(cfg->nets[i].tap);
		if (b->net_fd[i] < 0)
			goto fail;
	}
	return 0;
fail:
	machine_backends_close(b);
	return -1;
}

static int add_virtio_devices(struct machine *m, struct vm *vm, struct machine_backends *b,
			      int console_fd)
{
	/* Drives first, in command-line order: the guest names them vda,
	 * vdb... in the order it finds them. The device takes the image
	 * over, even when it fails. */
	for (unsigned i = 0; i < vm->cfg->ndrives; i++) {
		const struct drive_config *d = &vm->cfg->drives[i];
		struct virtio_blk_config blk = {
			.path = d->path, .fd = b->drive_fd[i], .read_only = d->read_only,
			.id = d->id,
		};

		b->drive_fd[i] = -1;
		if (add_virtio(m, vm, virtio_blk_setup, &blk))
			return -1;
	}
	if (vm->cfg->rng && add_virtio(m, vm, virtio_rng_setup, NULL))
		return -1;
	/* Network devices in command-line order: eth0, eth1... */
	for (unsigned i = 0; i < vm->cfg->nnets; i++) {
		const struct net_config *n = &vm->cfg->nets[i];
		struct virtio_net_config net = {
			.tap = n->tap, .fd = b->net_fd[i], .mac = n->mac_set ? n->mac : NULL,
		};

		b->net_fd[i] = -1;
		if (add_virtio(m, vm, virtio_net_setup, &net))
			return -1;
	}
	if (vm->cfg->console_device == CONSOLE_DEVICE_VIRTIO) {
		struct virtio_console_config con = {
			.out_fd = console_fd, .created = &m->virtio_console,
		};

		console_window_size(console_fd, &con.cols, &con.rows);
		if (add_virtio(m, vm, virtio_console_setup, &con))
			return -1;
	}
	return 0;
}

struct machine *machine_create(struct vm *vm, struct machine_backends *b, int console_fd)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct platform *p = &vm->platform;

	if (!m)
		return NULL;
	m->virtio_on_pci = vm->transport == VIRTIO_TRANSPORT_PCI;
	m->virtio_on_cmdline = vm->cfg->virtio_mmio_announce == VIRTIO_MMIO_ON_CMDLINE;
	m->com1 = uart8250_create(p, COM1_IO_BASE, IRQ_COM1, console_fd);
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
	    !m->fw_cfg || !m->pci_host || !m->acpi_pm || (vm->cfg->testdev && !m->testdev) ||
	    add_virtio_devices(m, vm, b, console_fd)) {
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
	for (unsigned i = 0; i < m->nvirtio; i++) {
		virtio_mmio_destroy(m->virtio[i].mmio);
		virtio_pci_destroy(m->virtio[i].pci);
	}
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

struct virtio_dev *machine_virtio_console(struct machine *m)
{
	return m->virtio_console;
}

void machine_report_boot_timings(struct machine *m, FILE *out)
{
	post_code_report(m->post_code, out);
}

const struct loader_virtio_mmio *machine_virtio_mmio(const struct machine *m, unsigned *n)
{
	*n = m->virtio_on_pci ? 0 : m->nvirtio;
	return m->virtio_desc;
}

const struct loader_pci_intx *machine_pci_intx(const struct machine *m, unsigned *n)
{
	*n = m->virtio_on_pci ? m->nvirtio : 0;
	return m->pci_intx;
}

int machine_kernel_cmdline(const struct machine *m, const char *cmdline, char **out)
{
	/* " virtio_mmio.device=0x200@0xfe000000:16" */
	enum { ENTRY_MAX = 64 };
	const char *base = cmdline ? cmdline : LINUX_DEFAULT_CMDLINE;
	size_t len = strlen(base), cap;
	char *s;

	*out = NULL;
	if (!m->virtio_on_cmdline || m->virtio_on_pci || m->nvirtio == 0)
		return 0;
	cap = len + m->nvirtio * ENTRY_MAX + 1;
	s = malloc(cap);
	if (!s) {
		log_error("out of memory");
		return -1;
	}
	memcpy(s, base, len + 1);
	for (unsigned i = 0; i < m->nvirtio; i++) {
		const struct loader_virtio_mmio *d = &m->virtio_desc[i];

		len += (size_t)snprintf(s + len, cap - len, "%svirtio_mmio.device=0x%x@0x%llx:%u",
					len ? " " : "", d->size, (unsigned long long)d->base,
					d->gsi);
	}
	*out = s;
	return 0;
}
