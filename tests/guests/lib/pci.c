/* PCI configuration mechanism #1 for the test guests (see pci.h). */
#include "guest.h"
#include "pci.h"

static uint32_t config_address(struct pci_fn f, unsigned reg)
{
	return 0x80000000u | (uint32_t)f.bus << 16 | (uint32_t)(f.dev & 31) << 11 |
	       (uint32_t)(f.fn & 7) << 8 | (reg & 0xFC);
}

uint32_t pci_read32(struct pci_fn f, unsigned reg)
{
	outl(PCI_CONFIG_ADDRESS, config_address(f, reg));
	return inl(PCI_CONFIG_DATA);
}

/* Narrower accesses go to the byte lanes of CONFIG_DATA the register
 * occupies, so they are real 16- and 8-bit configuration cycles. */
uint16_t pci_read16(struct pci_fn f, unsigned reg)
{
	outl(PCI_CONFIG_ADDRESS, config_address(f, reg));
	return inw(PCI_CONFIG_DATA + (reg & 2));
}

uint8_t pci_read8(struct pci_fn f, unsigned reg)
{
	outl(PCI_CONFIG_ADDRESS, config_address(f, reg));
	return inb(PCI_CONFIG_DATA + (reg & 3));
}

void pci_write32(struct pci_fn f, unsigned reg, uint32_t v)
{
	outl(PCI_CONFIG_ADDRESS, config_address(f, reg));
	outl(PCI_CONFIG_DATA, v);
}

void pci_write16(struct pci_fn f, unsigned reg, uint16_t v)
{
	outl(PCI_CONFIG_ADDRESS, config_address(f, reg));
	outw(PCI_CONFIG_DATA + (reg & 2), v);
}

void pci_write8(struct pci_fn f, unsigned reg, uint8_t v)
{
	outl(PCI_CONFIG_ADDRESS, config_address(f, reg));
	outb(PCI_CONFIG_DATA + (reg & 3), v);
}

int pci_find(unsigned bus, uint16_t vendor, uint16_t device, unsigned index,
	     struct pci_fn *out)
{
	for (unsigned dev = 0; dev < 32; dev++) {
		unsigned nfn = 1;

		for (unsigned fn = 0; fn < nfn; fn++) {
			struct pci_fn f = { (uint8_t)bus, (uint8_t)dev, (uint8_t)fn };
			uint32_t id = pci_read32(f, PCI_REG_VENDOR_ID);

			if ((id & 0xFFFF) == 0xFFFF)
				continue;
			/* Functions 1-7 exist only behind a multi-function
			 * function 0. */
			if (fn == 0 && (pci_read8(f, PCI_REG_HEADER_TYPE) & PCI_HEADER_MULTIFUNCTION))
				nfn = 8;
			if ((id & 0xFFFF) == vendor && (id >> 16) == device && index-- == 0) {
				*out = f;
				return 0;
			}
		}
	}
	return -1;
}

int pci_caps(struct pci_fn f, uint8_t *offsets, int max)
{
	int n = 0;

	if (!(pci_read16(f, PCI_REG_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	/* The bottom two bits of every pointer are reserved. */
	for (unsigned p = pci_read8(f, PCI_REG_CAP_PTR) & 0xFC; p; p = pci_read8(f, p + 1) & 0xFC) {
		if (p < 0x40 || n == PCI_MAX_CAPS)
			return -1;
		if (n < max)
			offsets[n] = (uint8_t)p;
		n++;
	}
	return n < max ? n : max;
}

static int is_mem64(uint32_t bar_value)
{
	return !(bar_value & 1) && ((bar_value >> 1) & 3) == 2;
}

int pci_bar(struct pci_fn f, unsigned bar, struct pci_bar *out)
{
	unsigned reg = PCI_REG_BAR0 + 4 * bar, b = 0;
	uint16_t cmd;
	uint32_t lo, hi = 0, mask_lo, mask_hi = 0;

	/* The upper half of a 64-bit BAR is no BAR of its own. */
	while (b < bar)
		b += is_mem64(pci_read32(f, PCI_REG_BAR0 + 4 * b)) ? 2 : 1;
	if (b != bar || bar >= PCI_BAR_COUNT)
		return -1;
	lo = pci_read32(f, reg);
	*out = (struct pci_bar){ .io = lo & 1, .is64 = is_mem64(lo) };
	if (out->is64) {
		if (bar == PCI_BAR_COUNT - 1)
			return -1;
		hi = pci_read32(f, reg + 4);
	}

	/* Sizing with decoding off, so the all-ones address is never live. */
	cmd = pci_read16(f, PCI_REG_COMMAND);
	pci_write16(f, PCI_REG_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	pci_write32(f, reg, 0xFFFFFFFF);
	mask_lo = pci_read32(f, reg);
	pci_write32(f, reg, lo);
	if (out->is64) {
		pci_write32(f, reg + 4, 0xFFFFFFFF);
		mask_hi = pci_read32(f, reg + 4);
		pci_write32(f, reg + 4, hi);
	}
	pci_write16(f, PCI_REG_COMMAND, cmd);

	if (out->io) {
		uint32_t mask = mask_lo & 0xFFFCu;

		out->addr = lo & 0xFFFCu;
		out->size = mask ? 0x10000u - mask : 0;
	} else if (out->is64) {
		uint64_t mask = ((uint64_t)mask_hi << 32) | (mask_lo & ~0xFu);

		out->addr = ((uint64_t)hi << 32) | (lo & ~0xFu);
		out->size = mask ? ~mask + 1 : 0;
	} else {
		uint32_t mask = mask_lo & ~0xFu;

		out->addr = lo & ~0xFu;
		out->size = mask ? (uint32_t)(~mask + 1) : 0;
	}
	return 0;
}
