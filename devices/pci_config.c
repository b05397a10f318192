#include "pci_config.h"

#include <errno.h>
#include <string.h>

#define PCI_CAPS_START         0x40    /* after the type-0 header */

/* No I/O BARs: I/O decoding stays off. */
#define COMMAND_WMASK (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | \
		       PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
#define BAR_MEM32_TYPE_MASK    0xfu    /* memory, 32-bit, not prefetchable: 0 */

void pci_config_init(struct pci_config *c, const struct pci_config_id *id)
{
	memset(c, 0, sizeof(*c));
	pci_config_set(c, PCI_REG_VENDOR_ID, 2, id->vendor);
	pci_config_set(c, PCI_REG_DEVICE_ID, 2, id->device);
	c->bytes[PCI_REG_REVISION_ID] = id->revision;
	pci_config_set(c, PCI_REG_CLASS_PROG, 2, id->class_code & 0xffff);
	c->bytes[PCI_REG_CLASS_PROG + 2] = (uint8_t)(id->class_code >> 16);
	c->bytes[PCI_REG_HEADER_TYPE] = 0x00;  /* type 0, one function */
	pci_config_set(c, PCI_REG_SUBSYS_VENDOR, 2, id->subsystem_vendor);
	pci_config_set(c, PCI_REG_SUBSYS_ID, 2, id->subsystem);
	c->bytes[PCI_REG_INTERRUPT_PIN] = id->interrupt_pin;

	c->wmask[PCI_REG_COMMAND] = (uint8_t)COMMAND_WMASK;
	c->wmask[PCI_REG_COMMAND + 1] = (uint8_t)(COMMAND_WMASK >> 8);
	c->wmask[PCI_REG_CACHE_LINE] = 0xff;
	c->wmask[PCI_REG_LATENCY] = 0xff;
	c->wmask[PCI_REG_INTERRUPT_LINE] = 0xff;   /* scratch for software */
	c->cap_end = PCI_CAPS_START;
}

int pci_config_set_bar(struct pci_config *c, unsigned n, uint32_t size, uint32_t addr)
{
	uint32_t mask;

	if (n >= PCI_BAR_COUNT || size < PCI_BAR_MIN_SIZE || (size & (size - 1)) ||
	    (addr & (size - 1)))
		return -EINVAL;
	c->bar_size[n] = size;
	mask = ~(size - 1) & ~BAR_MEM32_TYPE_MASK;
	/* Writing all ones reads back the size: only the address bits
	 * above it take what is written. */
	for (unsigned i = 0; i < 4; i++)
		c->wmask[PCI_REG_BAR0 + 4 * n + i] = (uint8_t)(mask >> (8 * i));
	pci_config_set(c, PCI_REG_BAR0 + 4 * n, 4, addr);
	return 0;
}

unsigned pci_config_add_cap(struct pci_config *c, const uint8_t *body, unsigned len,
			    const uint8_t *wmask)
{
	unsigned off = c->cap_end;

	/* cap_end never passes the end, so the subtraction cannot wrap. */
	if (len < 2 || len > PCI_CONFIG_SPACE_SIZE - off)
		return 0;
	memcpy(c->bytes + off, body, len);
	c->bytes[off + 1] = 0;
	if (wmask)
		memcpy(c->wmask + off, wmask, len);
	c->wmask[off] = c->wmask[off + 1] = 0;
	if (c->last_cap)
		c->bytes[c->last_cap + 1] = (uint8_t)off;
	else
		c->bytes[PCI_REG_CAP_PTR] = (uint8_t)off;
	pci_config_set(c, PCI_REG_STATUS, 2,
		       pci_config_read16(c, PCI_REG_STATUS) | PCI_STATUS_CAP_LIST);
	c->last_cap = off;
	/* Capabilities start at dword boundaries. */
	c->cap_end = (off + len + 3) & ~3u;
	return off;
}

static bool access_ok(unsigned off, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && off < PCI_CONFIG_SPACE_SIZE &&
	       size <= PCI_CONFIG_SPACE_SIZE - off;
}

uint32_t pci_config_read(const struct pci_config *c, unsigned off, unsigned size)
{
	uint32_t v = 0;

	if (!access_ok(off, size))
		return 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)c->bytes[off + i] << (8 * i);
	return v;
}

void pci_config_write(struct pci_config *c, unsigned off, unsigned size, uint32_t value)
{
	if (!access_ok(off, size))
		return;
	for (unsigned i = 0; i < size; i++) {
		uint8_t m = c->wmask[off + i];
		uint8_t b = (uint8_t)(value >> (8 * i));

		c->bytes[off + i] = (uint8_t)((c->bytes[off + i] & ~m) | (b & m));
	}
}

void pci_config_set(struct pci_config *c, unsigned off, unsigned size, uint32_t value)
{
	if (!access_ok(off, size))
		return;
	for (unsigned i = 0; i < size; i++)
		c->bytes[off + i] = (uint8_t)(value >> (8 * i));
}

int pci_config_bar_decode(const struct pci_config *c, uint64_t addr, unsigned size,
			  uint64_t *offset)
{
	if (!(pci_config_read16(c, PCI_REG_COMMAND) & PCI_COMMAND_MEMORY))
		return -1;
	for (unsigned n = 0; n < PCI_BAR_COUNT; n++) {
		uint64_t base = pci_config_read(c, PCI_REG_BAR0 + 4 * n, 4) & ~BAR_MEM32_TYPE_MASK;

		/* Address 0 is a BAR nobody assigned. (One being sized holds
		 * its size mask, above the PCI window: nothing reaches it.) */
		if (!c->bar_size[n] || base == 0)
			continue;
		if (addr >= base && addr - base < c->bar_size[n] &&
		    size <= c->bar_size[n] - (addr - base)) {
			*offset = addr - base;
			return (int)n;
		}
	}
	return -1;
}
