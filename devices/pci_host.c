#include "pci_host.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci_regs.h"
#include "vmm/log.h"
#include "vmm/memory_map.h"
#include "vmm/platform.h"

#define CONFIG_NPORTS       4

#define ADDR_ENABLE   0x80000000u
#define ADDR_MASK     0x80fffffcu /* reserved bits 30:24 and 1:0 read as 0 */
#define ADDR_BUS(a)   (((a) >> 16) & 0xff)
#define ADDR_DEVFN(a) (((a) >> 8) & 0xff)
#define ADDR_REG(a)   ((a) & 0xfc)

#define BRIDGE_VENDOR      0x1b36 /* Red Hat */
#define BRIDGE_DEVICE      0x0008 /* generic PCIe host bridge */
#define BRIDGE_CLASS       0x0600 /* bridge, host */
/* A host bridge has no BARs and no interrupt pin: only these command bits
 * mean anything for it. */
#define BRIDGE_COMMAND_WMASK (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
			      PCI_COMMAND_PARITY | PCI_COMMAND_SERR)
#define BRIDGE_COMMAND_RESET (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

struct pci_slot {
	const struct pci_function_ops *ops;
	void *opaque;
};

struct pci_host {
	pthread_mutex_t lock;   /* address latch, slots, bridge config */
	struct platform *p;
	uint32_t address;       /* CONFIG_ADDRESS as latched */
	struct pci_slot slots[PCI_MAX_DEVFN];
	/* The functions with memory BARs, in the order they were added;
	 * filled before vCPUs run and read without the lock afterwards.
	 * Where the OS made BARs overlap, the first function wins. */
	struct pci_slot bar_fns[PCI_MAX_DEVFN];
	unsigned n_bar_fns;
	/* The host bridge's own function. */
	uint8_t bridge_cfg[PCI_CONFIG_SPACE_SIZE];
	uint8_t bridge_wmask[PCI_CONFIG_SPACE_SIZE];
};

static uint64_t all_ones(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* --- the host bridge, 00:00.0 --- */

static uint32_t bridge_config_read(void *opaque, unsigned offset, unsigned size)
{
	struct pci_host *h = opaque;
	uint32_t v = 0;
	unsigned i;

	/* Past the conventional space (ECAM later): no extended capabilities. */
	if (offset >= PCI_CONFIG_SPACE_SIZE || size > PCI_CONFIG_SPACE_SIZE - offset)
		return 0;
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < size && i < 4; i++)
		v |= (uint32_t)h->bridge_cfg[offset + i] << (8 * i);
	pthread_mutex_unlock(&h->lock);
	return v;
}

static void bridge_config_write(void *opaque, unsigned offset, unsigned size, uint32_t value)
{
	struct pci_host *h = opaque;
	unsigned i;

	if (offset >= PCI_CONFIG_SPACE_SIZE || size > PCI_CONFIG_SPACE_SIZE - offset)
		return;
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < size && i < 4; i++) {
		uint8_t m = h->bridge_wmask[offset + i];
		uint8_t b = (uint8_t)(value >> (8 * i));
		h->bridge_cfg[offset + i] = (uint8_t)((h->bridge_cfg[offset + i] & ~m) | (b & m));
	}
	pthread_mutex_unlock(&h->lock);
}

static const struct pci_function_ops bridge_ops = {
	.config_read = bridge_config_read,
	.config_write = bridge_config_write,
};

static void put16(uint8_t *cfg, unsigned off, uint16_t v)
{
	cfg[off] = (uint8_t)v;
	cfg[off + 1] = (uint8_t)(v >> 8);
}

static void bridge_init(struct pci_host *h)
{
	uint8_t *cfg = h->bridge_cfg, *wm = h->bridge_wmask;

	put16(cfg, PCI_REG_VENDOR_ID, BRIDGE_VENDOR);
	put16(cfg, PCI_REG_DEVICE_ID, BRIDGE_DEVICE);
	put16(cfg, PCI_REG_COMMAND, BRIDGE_COMMAND_RESET);
	put16(cfg, PCI_REG_STATUS, 0);
	cfg[PCI_REG_REVISION_ID] = 0;
	cfg[PCI_REG_CLASS_PROG] = 0;
	put16(cfg, PCI_REG_CLASS_DEVICE, BRIDGE_CLASS);
	cfg[PCI_REG_HEADER_TYPE] = 0x00; /* type 0, single function */

	/* Everything else, BARs included, is read-only zero. */
	put16(wm, PCI_REG_COMMAND, BRIDGE_COMMAND_WMASK);
	wm[PCI_REG_CACHE_LINE] = 0xff;
	wm[PCI_REG_INTERRUPT_LINE] = 0xff; /* scratch for software */
}

/* --- mechanism #1 --- */

/* Which function CONFIG_ADDRESS points at; false when none answers. */
static bool target(struct pci_host *h, struct pci_slot *slot, unsigned *reg)
{
	uint32_t a;

	pthread_mutex_lock(&h->lock);
	a = h->address;
	*slot = h->slots[ADDR_DEVFN(a)];
	pthread_mutex_unlock(&h->lock);
	*reg = ADDR_REG(a);
	/* Only bus 0 exists: no bridges below the host bridge. */
	return (a & ADDR_ENABLE) && ADDR_BUS(a) == 0 && slot->ops;
}

static bool valid_data_access(uint64_t offset, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && offset < CONFIG_NPORTS &&
	       size <= CONFIG_NPORTS - offset;
}

/* The function is called without our lock: it takes its own, and this way
 * no lock order between the host and its functions ever arises. */
static uint64_t data_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_host *h = opaque;
	struct pci_slot slot;
	unsigned reg;

	if (!valid_data_access(offset, size) || !target(h, &slot, &reg))
		return all_ones(size);
	return slot.ops->config_read(slot.opaque, reg + (unsigned)offset, size) & all_ones(size);
}

static void data_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_host *h = opaque;
	struct pci_slot slot;
	unsigned reg;

	if (!valid_data_access(offset, size) || !target(h, &slot, &reg))
		return;
	slot.ops->config_write(slot.opaque, reg + (unsigned)offset, size,
			       (uint32_t)(value & all_ones(size)));
}

/* Only a dword access at 0xcf8 is CONFIG_ADDRESS; narrower ones belong to
 * other chipset registers we do not have. */
static uint64_t address_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_host *h = opaque;
	uint64_t v;

	if (offset != 0 || size != 4)
		return all_ones(size);
	pthread_mutex_lock(&h->lock);
	v = h->address;
	pthread_mutex_unlock(&h->lock);
	return v;
}

static void address_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_host *h = opaque;

	if (offset != 0 || size != 4)
		return;
	pthread_mutex_lock(&h->lock);
	h->address = (uint32_t)value & ADDR_MASK;
	pthread_mutex_unlock(&h->lock);
}

/* --- the memory window --- */

/* Nobody decodes the address: reads float high, writes vanish, as on a
 * bus without a target (a master abort). */
static uint64_t window_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_host *h = opaque;
	uint64_t addr = PCI_MMIO_START + offset, v;

	for (unsigned i = 0; i < h->n_bar_fns; i++)
		if (h->bar_fns[i].ops->bar_read(h->bar_fns[i].opaque, addr, size, &v))
			return v;
	return all_ones(size);
}

static void window_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_host *h = opaque;
	uint64_t addr = PCI_MMIO_START + offset;

	for (unsigned i = 0; i < h->n_bar_fns; i++)
		if (h->bar_fns[i].ops->bar_write(h->bar_fns[i].opaque, addr, size, value))
			return;
}

static const struct bus_ops window_ops = { .read = window_read, .write = window_write };

static const struct bus_ops address_ops = { .read = address_read, .write = address_write };
static const struct bus_ops data_ops = { .read = data_read, .write = data_write };

int pci_host_add_function(struct pci_host *h, unsigned devfn,
			  const struct pci_function_ops *ops, void *opaque)
{
	int rc = 0;

	if (devfn >= PCI_MAX_DEVFN || !ops || !ops->config_read || !ops->config_write ||
	    !ops->bar_read != !ops->bar_write)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	if (h->slots[devfn].ops) {
		rc = -EEXIST;
	} else {
		h->slots[devfn] = (struct pci_slot){ ops, opaque };
		if (ops->bar_read)
			h->bar_fns[h->n_bar_fns++] = h->slots[devfn];
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

struct pci_host *pci_host_create(struct platform *p)
{
	struct pci_host *h = calloc(1, sizeof(*h));
	int rc;

	if (!h) {
		log_error("pci_host: out of memory");
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	h->p = p;
	bridge_init(h);
	rc = pci_host_add_function(h, PCI_DEVFN(0, 0), &bridge_ops, h);
	if (rc) {
		log_error("pci_host: cannot add the host bridge: %s", strerror(-rc));
		pci_host_destroy(h);
		return NULL;
	}

	/* A bus cannot unregister: every range is checked before the first
	 * is claimed, or a failed create would leave ports pointing at a
	 * freed host. */
	if (!bus_range_free(p->mmio, PCI_MMIO_START, PCI_MMIO_END - PCI_MMIO_START)) {
		log_error("pci_host: the memory window 0x%llx-0x%llx is taken",
			  (unsigned long long)PCI_MMIO_START, (unsigned long long)PCI_MMIO_END - 1);
		pci_host_destroy(h);
		return NULL;
	}
	if (!bus_range_free(p->pio, PCI_CONFIG_DATA, CONFIG_NPORTS))
		rc = -EEXIST;
	else
		rc = bus_register(p->pio, PCI_CONFIG_ADDRESS, CONFIG_NPORTS, &address_ops, h,
				  "pci-config-address");
	if (!rc)
		rc = bus_register(p->pio, PCI_CONFIG_DATA, CONFIG_NPORTS, &data_ops, h,
				  "pci-config-data");
	if (rc) {
		log_error("pci_host: cannot claim ports 0x%x-0x%x: %s", PCI_CONFIG_ADDRESS,
			  PCI_CONFIG_DATA + CONFIG_NPORTS - 1, strerror(-rc));
		pci_host_destroy(h);
		return NULL;
	}
	rc = bus_register(p->mmio, PCI_MMIO_START, PCI_MMIO_END - PCI_MMIO_START, &window_ops, h,
			  "pci-memory-window");
	if (rc) {
		log_error("pci_host: cannot claim the memory window 0x%llx-0x%llx: %s",
			  (unsigned long long)PCI_MMIO_START, (unsigned long long)PCI_MMIO_END - 1,
			  strerror(-rc));
		pci_host_destroy(h);
		return NULL;
	}
	return h;
}

void pci_host_destroy(struct pci_host *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h);
}
