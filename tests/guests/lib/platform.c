/* Boot information, the command line, fw_cfg, the MP table, CMOS, the
 * interrupt controllers, delays and the string functions the compiler may
 * call. */
#include "bootinfo.h"
#include "guest.h"

/* ---- strings ------------------------------------------------------------- */
void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;
	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (uint8_t)*a - (uint8_t)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, (size_t)-1);
}

uint64_t parse_u64(const char *s, const char **end)
{
	uint64_t v = 0;
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		v = v * base + d;
	}
	if (end)
		*end = s;
	return v;
}

/* ---- boot information and the command line --------------------------------- */
const char *boot_kind_name(void)
{
	switch (boot_kind) {
	case BOOT_ELF64: return "ELF64";
	case BOOT_PVH: return "PVH";
	case BOOT_MULTIBOOT: return "multiboot";
	case BOOT_BZIMAGE: return "bzImage";
	}
	return "unknown";
}

const char *boot_cmdline(void)
{
	const char *s = 0;
	if (boot_kind == BOOT_PVH) {
		const struct hvm_start_info *si = (const void *)boot_info_addr;
		if (si && si->magic == HVM_START_MAGIC)
			s = (const char *)si->cmdline_paddr;
	} else if (boot_kind == BOOT_MULTIBOOT) {
		const struct mb_info *mi = (const void *)boot_info_addr;
		if (mi && boot_magic == MB_BOOTLOADER_MAGIC && (mi->flags & MB_INFO_CMDLINE))
			s = (const char *)(uint64_t)mi->cmdline;
	} else if (boot_kind == BOOT_BZIMAGE) {
		const uint8_t *bp = (const void *)boot_info_addr;
		if (bp)
			s = (const char *)(uint64_t)(*(const uint32_t *)(bp + BP_CMD_LINE_PTR) |
						     (uint64_t)*(const uint32_t *)(bp + BP_EXT_CMD_LINE_PTR) << 32);
	}
	return s ? s : "";
}

/* Find "key" or "key=value" as a whole word; returns the start of the
 * value ("" for a bare key) or NULL. */
static const char *cmdline_find(const char *key)
{
	const char *s = boot_cmdline();
	size_t kl = strlen(key);
	while (*s) {
		while (*s == ' ')
			s++;
		const char *w = s;
		while (*s && *s != ' ')
			s++;
		if ((size_t)(s - w) >= kl && !strncmp(w, key, kl)) {
			if (w + kl == s)
				return s;
			if (w[kl] == '=')
				return w + kl + 1;
		}
	}
	return 0;
}

int cmdline_value(const char *key, char *buf, size_t n)
{
	const char *v = cmdline_find(key);
	size_t i = 0;
	if (!v)
		return -1;
	for (; v[i] && v[i] != ' ' && i + 1 < n; i++)
		buf[i] = v[i];
	if (n)
		buf[i] = '\0';
	return 0;
}

uint64_t cmdline_u64(const char *key, uint64_t dflt)
{
	const char *v = cmdline_find(key);
	if (!v || *v < '0' || *v > '9')
		return dflt;
	return parse_u64(v, 0);
}

int cmdline_flag(const char *key)
{
	const char *v = cmdline_find(key);
	return v && (*v == '\0' || *v == ' ' || *v == '1');
}

/* ---- fw_cfg, MP table, CMOS -------------------------------------------------- */
void fw_cfg_read(uint16_t key, void *buf, size_t n)
{
	uint8_t *p = buf;
	outw(FW_CFG_PORT_SEL, key);
	while (n--)
		*p++ = inb(FW_CFG_PORT_DATA);
}

int fw_cfg_present(void)
{
	char sig[4];
	fw_cfg_read(FW_CFG_SIGNATURE, sig, 4);
	return !memcmp(sig, "QEMU", 4);
}

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static const uint8_t *mp_find_floating(uint64_t start, uint64_t len)
{
	for (uint64_t a = start; a + 16 <= start + len; a += 16) {
		const uint8_t *p = phys(a);
		if (!memcmp(p, "_MP_", 4) && p[8] == 1 && checksum(p, 16) == 0)
			return p;
	}
	return 0;
}

/* The MP configuration table, its signature and checksum checked; NULL if
 * there is none. */
static const uint8_t *mp_config_table(void)
{
	uint64_t ebda = (uint64_t)*(const uint16_t *)phys(0x40E) << 4;
	const uint8_t *fp = 0;
	if (ebda >= 0x80000 && ebda < 0xA0000)
		fp = mp_find_floating(ebda, 1024);
	if (!fp)
		fp = mp_find_floating(0x9FC00, 1024);
	if (!fp)
		fp = mp_find_floating(0xF0000, 0x10000);
	if (!fp)
		return 0;
	const uint8_t *ct = (const uint8_t *)(uint64_t)*(const uint32_t *)(fp + 4);
	if (!ct || memcmp(ct, "PCMP", 4))
		return 0;
	if (checksum(ct, *(const uint16_t *)(ct + 4)) != 0)
		return 0;
	return ct;
}

int mptable_pci_irq(unsigned bus, unsigned dev, unsigned pin, unsigned *ioapic_pin,
		    unsigned *flags)
{
	const uint8_t *ct = mp_config_table();
	if (!ct || pin < 1 || pin > 4)
		return -1;
	uint16_t len = *(const uint16_t *)(ct + 4);
	uint16_t count = *(const uint16_t *)(ct + 34);
	const uint8_t *first = ct + 44, *end = ct + len;
	int pci_bus_id = -1;
	/* Two passes: the bus entries name the PCI bus's id, which the I/O
	 * interrupt entries then refer to (MP 1.4, 4.3.2 and 4.3.4). */
	for (int pass = 0; pass < 2; pass++) {
		const uint8_t *e = first;
		for (unsigned i = 0; i < count && e + 8 <= end; i++) {
			if (e[0] == 0) {
				e += 20;
				continue;
			}
			if (e[0] > 4)
				break;
			if (pass == 0 && e[0] == 1 && e[1] == bus && !memcmp(e + 2, "PCI", 3))
				pci_bus_id = e[1];
			/* The source IRQ of a PCI bus: device << 2 | pin (0 = INTA#). */
			if (pass == 1 && e[0] == 3 && e[1] == 0 && e[4] == pci_bus_id &&
			    e[5] == (uint8_t)(dev << 2 | (pin - 1))) {
				*ioapic_pin = e[7];
				*flags = *(const uint16_t *)(e + 2);
				return 0;
			}
			e += 8;
		}
		if (pci_bus_id < 0)
			return -1;
	}
	return -1;
}

int mptable_cpus(uint8_t *apic_ids, int max)
{
	const uint8_t *ct = mp_config_table();
	if (!ct)
		return -1;
	uint16_t len = *(const uint16_t *)(ct + 4);
	uint16_t count = *(const uint16_t *)(ct + 34);
	const uint8_t *e = ct + 44, *end = ct + len;
	int n = 0;
	for (unsigned i = 0; i < count && e < end; i++) {
		if (e[0] == 0) {              /* processor, 20 bytes */
			if ((e[3] & 1) && n < max)
				apic_ids[n++] = e[1];
			e += 20;
		} else if (e[0] <= 4) {
			e += 8;
		} else {
			break;
		}
	}
	return n;
}

uint8_t cmos_read(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

/* ---- interrupt controllers ----------------------------------------------------- */
void lapic_enable(void)
{
	lapic_write(LAPIC_SVR, 0x100 | SPURIOUS_VECTOR);
	lapic_write(LAPIC_TPR, 0);
}

int lapic_send_ipi(uint32_t dest, uint32_t icr_lo)
{
	lapic_write(LAPIC_ICR_HI, dest << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	uint64_t until = tsc_deadline_ms(100);
	while (lapic_read(LAPIC_ICR_LO) & (1u << 12))
		if (rdtsc() > until)
			return -1;
	return 0;
}

uint32_t ioapic_read(uint32_t reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

void ioapic_route(unsigned pin, uint32_t lo, uint32_t dest)
{
	ioapic_write(0x10 + 2 * pin, IOREDTBL_MASKED);
	ioapic_write(0x11 + 2 * pin, dest << 24);
	ioapic_write(0x10 + 2 * pin, lo);
}

void pic_init_masked(void)
{
	outb(0x20, 0x11);   /* ICW1: edge, cascade, ICW4 */
	outb(0xA0, 0x11);
	outb(0x21, 0x20);   /* ICW2: vector base */
	outb(0xA1, 0x28);
	outb(0x21, 0x04);   /* ICW3: slave on IRQ2 */
	outb(0xA1, 0x02);
	outb(0x21, 0x01);   /* ICW4: 8086 mode */
	outb(0xA1, 0x01);
	outb(0x21, 0xFF);   /* mask everything */
	outb(0xA1, 0xFF);
}

/* ---- time ------------------------------------------------------------------------ */
void delay_ms(uint32_t ms)
{
	uint64_t until = tsc_deadline_ms(ms);
	while (rdtsc() < until)
		cpu_relax();
}
