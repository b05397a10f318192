/* virtio-blk: a small virtio-blk driver of the guest's own, over virtio-mmio
 * or virtio-pci (wisp run --drive path=IMG[,ro][,id=NAME] --transport
 * mmio|pci), checking the block device against disk images the test
 * filled with a known pattern.
 *
 * Command line:
 *   transport=mmio|pci   how to find the device (default mmio)
 *   virtio_base=ADDR     mmio: the writable drive's register window
 *   virtio_gsi=N         mmio: its interrupt line (absent: not checked)
 *   ro_base=ADDR         mmio: a second drive, read-only (with ro_drive)
 *   ro_drive             a second drive, given ",ro", is there; over pci the
 *                        drives are the 1af4:1042 functions in bus order
 *   sectors=N            the capacity both images have, in 512-byte sectors
 *   write_sector=N       where the guest writes its own pattern
 *   serial=NAME          the writable drive's id= (GET_ID); ro_serial=NAME
 *                        the read-only one's (absent: no id, 20 NULs)
 *
 * Sector s of an image holds the test's pattern: bytes 0-7 the sector
 * number (le64), byte i >= 8 is (i * 7 + s * 13 + (s >> 8)) & 0xff. The
 * guest writes written_byte()'s pattern to write_sector; the test checks on
 * the host that exactly that sector changed.
 *
 * The driver negotiates VERSION_1 and FLUSH (what it uses), sets up queue 0
 * with QSIZE entries in its own memory and polls the used ring: no
 * interrupts, so it runs the same on both backends. Over PCI it finds
 * everything through the virtio vendor capabilities (virtio 1.x 4.1.4):
 * common configuration, notification (with notify_off_multiplier), ISR and
 * device configuration, each in the BAR the capability names, and checks
 * the alignments and sizes the spec requires of the device.
 *
 * Then, on the writable drive, the interrupt paths: INTx through the
 * IOAPIC (virtio-mmio's line from virtio_gsi=, virtio-pci's INTA# as the
 * MP table routes it) and, over PCI, MSI-X (a vector taken and refused,
 * an entry masked and unmasked with its pending bit).
 *
 * CPL-0 code runs slowly under PVM: everything here is a few hundred
 * thousand instructions at most, polling is bounded by the TSC. */
#include "guest.h"
#include "pci.h"
#include "virtio_mmio.h"
#include "../../virtio/virtio_pci_regs.h"

/* Feature bits. */
#define F_BLK_RO      5
#define F_BLK_FLUSH   9
#define F_VERSION_1   32

/* virtio-blk requests (5.2.6). */
#define T_IN     0
#define T_OUT    1
#define T_FLUSH  4
#define T_GET_ID 8
#define T_BOGUS  0x7f     /* no such request type */
#define S_OK     0
#define S_IOERR  1
#define S_UNSUPP 2
#define NO_STATUS 0xff    /* what the status byte holds until the device answers */
#define SECTOR   512u
#define ID_BYTES 20u

/* virtio-pci: the function's ids (4.1.2); the capabilities and the common
 * configuration structure are in virtio_pci_regs.h. */
#define VIRTIO_PCI_VENDOR   0x1af4
#define VIRTIO_PCI_BLK      0x1042     /* 0x1040 + device type 2 */

/* virtio-blk configuration (5.2.4). */
#define BLK_CFG_CAPACITY 0

/* The queue: two requests of three descriptors in flight at most. */
#define QSIZE     16
#define SLOTS     2
#define DESC_F_NEXT  1
#define DESC_F_WRITE 2

/* Polling bounds (tsc_deadline_ms assumes a fast TSC: the real wait is
 * longer). FLUSH waits for the host's fdatasync. */
#define WAIT_MS   2000

VIRTQ_DECLARE_RINGS(QSIZE);

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* One request slot: its header and status byte, and what came back. */
struct slot {
	struct blk_hdr hdr;
	uint8_t status;
	uint32_t used_len;
	int answered;
};

/* Each drive's rings and buffers, in the guest's own RAM (identity
 * mapped, below 4 GiB). */
struct drive_mem {
	struct virtq_desc desc[QSIZE] __attribute__((aligned(4096)));
	struct avail avail __attribute__((aligned(4096)));
	struct used used __attribute__((aligned(4096)));
	struct slot slot[SLOTS] __attribute__((aligned(64)));
	uint8_t data[SLOTS][2 * SECTOR] __attribute__((aligned(4096)));
};

struct drive {
	const char *name;
	int pci;
	int read_only;            /* the test gave it ",ro" */
	const char *serial;
	struct drive_mem *mem;
	uint16_t avail_idx;       /* the driver's shadow of avail.idx */
	uint16_t used_seen;       /* used entries taken so far */
	uint64_t features;        /* offered */
	uint64_t capacity;
	/* virtio-mmio */
	uint64_t base;
	/* virtio-pci: the structures' addresses, found through the
	 * capabilities */
	struct pci_fn fn;
	uint64_t common, isr, devcfg, notify_base, notify;
	uint32_t notify_mult, notify_len, devcfg_len;
	uint8_t msix_at, cfg_cap_at;                   /* capability offsets, 0: none */
	uint8_t common_bar, devcfg_bar;
	uint32_t common_off, devcfg_off;
};

static struct drive_mem drive_mem[2];
static struct drive drives[2];
static uint64_t sectors, write_sector;

static uint64_t addr_of(const volatile void *p) { return (uint64_t)(uintptr_t)p; }

/* ---- patterns ----------------------------------------------------------- */

static uint8_t image_byte(uint64_t s, unsigned i)
{
	if (i < 8)
		return (uint8_t)(s >> (8 * i));
	return (uint8_t)(i * 7 + s * 13 + (s >> 8));
}

static uint8_t written_byte(uint64_t s, unsigned i)
{
	static const char tag[16] = "wisp-blk-guest-w";

	if (i < sizeof(tag))
		return (uint8_t)tag[i];
	return (uint8_t)(0x5a ^ (i * 3) ^ s);
}

static void fill(uint8_t *buf, uint64_t s, uint8_t (*byte)(uint64_t, unsigned))
{
	for (unsigned i = 0; i < SECTOR; i++)
		buf[i] = byte(s, i);
}

/* The first byte of buf that is not sector s's pattern, or -1. */
static int first_mismatch(const uint8_t *buf, uint64_t s, uint8_t (*byte)(uint64_t, unsigned))
{
	for (unsigned i = 0; i < SECTOR; i++)
		if (buf[i] != byte(s, i))
			return (int)i;
	return -1;
}

/* ---- the transport: virtio-mmio or the virtio-pci common configuration ---- */

static uint32_t mmio_rd(struct drive *d, unsigned reg) { return mmio_read32(d->base + reg); }
static void mmio_wr(struct drive *d, unsigned reg, uint32_t v) { mmio_write32(d->base + reg, v); }

static uint8_t get_status(struct drive *d)
{
	if (d->pci)
		return mmio_read8(d->common + VIRTIO_PCI_COMMON_DEVICE_STATUS);
	return (uint8_t)mmio_rd(d, VIRTIO_MMIO_REG_STATUS);
}

static void set_status(struct drive *d, uint8_t s)
{
	if (d->pci)
		mmio_write8(d->common + VIRTIO_PCI_COMMON_DEVICE_STATUS, s);
	else
		mmio_wr(d, VIRTIO_MMIO_REG_STATUS, s);
}

/* Reset and wait for the device to say it is done (3.1.1, 4.1.4.3.2). */
static int reset(struct drive *d)
{
	uint64_t until = tsc_deadline_ms(WAIT_MS);

	set_status(d, 0);
	while (get_status(d) != 0)
		if (rdtsc() > until)
			return 0;
	return 1;
}

static uint32_t device_features32(struct drive *d, unsigned sel)
{
	if (d->pci) {
		mmio_write32(d->common + VIRTIO_PCI_COMMON_DEVICE_FEATURE_SELECT, sel);
		return mmio_read32(d->common + VIRTIO_PCI_COMMON_DEVICE_FEATURE);
	}
	mmio_wr(d, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, sel);
	return mmio_rd(d, VIRTIO_MMIO_REG_DEVICE_FEATURES);
}

static void set_driver_features(struct drive *d, uint64_t f)
{
	for (unsigned sel = 0; sel < 2; sel++) {
		uint32_t half = (uint32_t)(f >> (32 * sel));

		if (d->pci) {
			mmio_write32(d->common + VIRTIO_PCI_COMMON_DRIVER_FEATURE_SELECT, sel);
			mmio_write32(d->common + VIRTIO_PCI_COMMON_DRIVER_FEATURE, half);
		} else {
			mmio_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, sel);
			mmio_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES, half);
		}
	}
}

static uint8_t config_generation(struct drive *d)
{
	if (d->pci)
		return mmio_read8(d->common + VIRTIO_PCI_COMMON_CONFIG_GENERATION);
	return (uint8_t)mmio_rd(d, VIRTIO_MMIO_REG_CONFIG_GENERATION);
}

/* A 64-bit configuration field as two 32-bit reads, retried while the
 * generation changes under them (2.5.1). */
static uint64_t config_read64(struct drive *d, unsigned off)
{
	uint64_t cfg = d->pci ? d->devcfg : d->base + 0x100;
	uint64_t v;
	uint8_t gen;

	for (int tries = 0; tries < 8; tries++) {
		gen = config_generation(d);
		v = mmio_read32(cfg + off) | (uint64_t)mmio_read32(cfg + off + 4) << 32;
		if (config_generation(d) == gen)
			break;
	}
	return v;
}

/* Queue 0 with QSIZE entries in d->mem; 0 on success. */
static int setup_queue(struct drive *d)
{
	struct drive_mem *m = d->mem;
	uint64_t desc = addr_of(m->desc), avail = addr_of(&m->avail), used = addr_of(&m->used);
	uint32_t max;

	if (d->pci) {
		uint64_t c = d->common;
		uint16_t notify_off;

		/* 4.1.4.3: a queue that does not exist has size 0. */
		mmio_write16(c + VIRTIO_PCI_COMMON_QUEUE_SELECT, 1);
		check(mmio_read16(c + VIRTIO_PCI_COMMON_QUEUE_SIZE) == 0, "%s: queue 1 (there is none): size %u",
		      d->name, mmio_read16(c + VIRTIO_PCI_COMMON_QUEUE_SIZE));
		mmio_write16(c + VIRTIO_PCI_COMMON_QUEUE_SELECT, 0);
		max = mmio_read16(c + VIRTIO_PCI_COMMON_QUEUE_SIZE);
		notify_off = mmio_read16(c + VIRTIO_PCI_COMMON_QUEUE_NOTIFY_OFF);
		if (!check(max >= QSIZE && mmio_read16(c + VIRTIO_PCI_COMMON_QUEUE_ENABLE) == 0,
			   "%s: queue 0: size %u, not enabled", d->name, max))
			return -1;
		/* 4.1.4.4: notify_off * multiplier + 2 bytes inside the
		 * notification structure. */
		if (!check((uint64_t)notify_off * d->notify_mult + 2 <= d->notify_len,
			   "%s: queue 0 notifies at %u * %u inside the %u-byte structure", d->name,
			   notify_off, d->notify_mult, d->notify_len))
			return -1;
		d->notify = d->notify_base + (uint64_t)notify_off * d->notify_mult;
		note("%s: queue 0 size %u, notify_off %u, msix vector %#x", d->name, max, notify_off,
		     mmio_read16(c + VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR));
		mmio_write16(c + VIRTIO_PCI_COMMON_QUEUE_SIZE, QSIZE);
		/* 4.1.3.1: 64-bit fields as two 32-bit halves. */
		mmio_write32(c + VIRTIO_PCI_COMMON_QUEUE_DESC, (uint32_t)desc);
		mmio_write32(c + VIRTIO_PCI_COMMON_QUEUE_DESC + 4, (uint32_t)(desc >> 32));
		mmio_write32(c + VIRTIO_PCI_COMMON_QUEUE_DRIVER, (uint32_t)avail);
		mmio_write32(c + VIRTIO_PCI_COMMON_QUEUE_DRIVER + 4, (uint32_t)(avail >> 32));
		mmio_write32(c + VIRTIO_PCI_COMMON_QUEUE_DEVICE, (uint32_t)used);
		mmio_write32(c + VIRTIO_PCI_COMMON_QUEUE_DEVICE + 4, (uint32_t)(used >> 32));
		mmio_write16(c + VIRTIO_PCI_COMMON_QUEUE_ENABLE, 1);
		return check(mmio_read16(c + VIRTIO_PCI_COMMON_QUEUE_SIZE) == QSIZE &&
			     mmio_read16(c + VIRTIO_PCI_COMMON_QUEUE_ENABLE) == 1 &&
			     mmio_read32(c + VIRTIO_PCI_COMMON_QUEUE_DESC) == (uint32_t)desc &&
			     mmio_read32(c + VIRTIO_PCI_COMMON_QUEUE_DEVICE) == (uint32_t)used,
			     "%s: queue 0 enabled with %u entries, addresses read back", d->name,
			     QSIZE) ? 0 : -1;
	}
	mmio_wr(d, VIRTIO_MMIO_REG_QUEUE_SEL, 0);
	max = mmio_rd(d, VIRTIO_MMIO_REG_QUEUE_NUM_MAX);
	if (!check(max >= QSIZE && mmio_rd(d, VIRTIO_MMIO_REG_QUEUE_READY) == 0,
		   "%s: queue 0: QueueNumMax %u, not ready", d->name, max))
		return -1;
	virtio_mmio_queue_set(d->base, QSIZE, desc, avail, used);
	return check(mmio_rd(d, VIRTIO_MMIO_REG_QUEUE_READY) == 1,
		     "%s: queue 0 ready with %u entries", d->name, QSIZE) ? 0 : -1;
}

static int queue_enabled(struct drive *d)
{
	if (d->pci) {
		mmio_write16(d->common + VIRTIO_PCI_COMMON_QUEUE_SELECT, 0);
		return mmio_read16(d->common + VIRTIO_PCI_COMMON_QUEUE_ENABLE);
	}
	mmio_wr(d, VIRTIO_MMIO_REG_QUEUE_SEL, 0);
	return (int)mmio_rd(d, VIRTIO_MMIO_REG_QUEUE_READY);
}

static void notify(struct drive *d)
{
	if (d->pci)
		mmio_write16(d->notify, 0);      /* the queue index, 16 bits (4.1.4.4) */
	else
		mmio_wr(d, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
}

/* The interrupt reason, acknowledged: PCI's ISR clears on read; MMIO's
 * InterruptStatus needs InterruptACK. */
static uint32_t take_isr(struct drive *d)
{
	uint32_t v;

	if (d->pci)
		return mmio_read8(d->isr);
	v = mmio_rd(d, VIRTIO_MMIO_REG_INTERRUPT_STATUS);
	if (v)
		mmio_wr(d, VIRTIO_MMIO_REG_INTERRUPT_ACK, v);
	return v;
}

/* ---- finding the device ------------------------------------------------- */

static int find_mmio(struct drive *d, uint64_t base)
{
	d->base = base;
	note("%s: virtio-mmio at %#llx", d->name, (unsigned long long)base);
	return check(mmio_rd(d, VIRTIO_MMIO_REG_MAGIC_VALUE) == 0x74726976 &&
		     mmio_rd(d, VIRTIO_MMIO_REG_VERSION) == 2 &&
		     mmio_rd(d, VIRTIO_MMIO_REG_DEVICE_ID) == 2,
		     "%s: magic %#x, version %u, device id %u (block)", d->name,
		     mmio_rd(d, VIRTIO_MMIO_REG_MAGIC_VALUE), mmio_rd(d, VIRTIO_MMIO_REG_VERSION),
		     mmio_rd(d, VIRTIO_MMIO_REG_DEVICE_ID)) ? 0 : -1;
}

/* One virtio vendor capability, as the driver uses it. */
struct vcap {
	int found;
	uint8_t type, at, bar;
	uint32_t offset, length, notify_mult;
};

static const char *const cap_names[VIRTIO_PCI_CAP_TYPES] = {
	"?", "common", "notify", "ISR", "device", "pci-cfg",
};

/* The address of the structure cap describes, after checking that it
 * lies in its BAR; 0 if it does not. bars[] caches the decoded BARs. */
static uint64_t cap_address(struct drive *d, const struct vcap *cap, struct pci_bar *bars,
			    int *bar_done)
{
	struct pci_bar *b = &bars[cap->bar];

	if (!bar_done[cap->bar]) {
		if (pci_bar(d->fn, cap->bar, b)) {
			check(0, "%s: BAR %u (named by a capability) is the upper half of a 64-bit BAR",
			      d->name, cap->bar);
			return 0;
		}
		bar_done[cap->bar] = 1;
		note("%s: BAR %u: %s%s at %#llx, %#llx bytes", d->name, cap->bar,
		     b->io ? "I/O" : "memory", b->is64 ? " (64-bit)" : "",
		     (unsigned long long)b->addr, (unsigned long long)b->size);
	}
	if (b->io) {
		check(0, "%s: the %s structure is in I/O BAR %u: this driver maps memory BARs only",
		      d->name, cap_names[cap->type], cap->bar);
		return 0;
	}
	if (!b->addr || !b->size) {
		check(0, "%s: BAR %u is not placed (address %#llx, size %#llx)", d->name, cap->bar,
		      (unsigned long long)b->addr, (unsigned long long)b->size);
		return 0;
	}
	if ((uint64_t)cap->offset + cap->length > b->size) {
		check(0, "%s: a structure at %#x+%#x overruns BAR %u (%#llx bytes)", d->name,
		      cap->offset, cap->length, cap->bar, (unsigned long long)b->size);
		return 0;
	}
	return b->addr + cap->offset;
}

static int find_pci(struct drive *d, unsigned index)
{
	struct vcap caps[VIRTIO_PCI_CAP_TYPES] = { 0 };
	struct pci_bar bars[PCI_BAR_COUNT];
	int bar_done[PCI_BAR_COUNT] = { 0 };
	uint8_t offs[PCI_MAX_CAPS];
	int n, msix_at = 0;
	uint16_t cmd;

	if (!check(pci_find(0, VIRTIO_PCI_VENDOR, VIRTIO_PCI_BLK, index, &d->fn) == 0,
		   "%s: PCI function %04x:%04x number %u on bus 0", d->name, VIRTIO_PCI_VENDOR,
		   VIRTIO_PCI_BLK, index))
		return -1;
	note("%s: virtio-pci at 00:%02x.%u, revision %u, subsystem %04x:%04x, class %06x, "
	     "interrupt pin %u line %u", d->name, d->fn.dev, d->fn.fn,
	     pci_read8(d->fn, PCI_REG_REVISION_ID), pci_read16(d->fn, PCI_REG_SUBSYS_VENDOR),
	     pci_read16(d->fn, PCI_REG_SUBSYS_ID), pci_read32(d->fn, PCI_REG_REVISION_ID) >> 8,
	     pci_read8(d->fn, PCI_REG_INTERRUPT_PIN), pci_read8(d->fn, PCI_REG_INTERRUPT_LINE));
	/* 4.1.2.1: a non-transitional device has revision 1 or more. */
	check(pci_read8(d->fn, PCI_REG_REVISION_ID) >= 1, "%s: PCI revision ID %u >= 1 (modern)",
	      d->name, pci_read8(d->fn, PCI_REG_REVISION_ID));

	n = pci_caps(d->fn, offs, PCI_MAX_CAPS);
	if (!check(n > 0, "%s: a well-formed capability list (%d entries)", d->name, n))
		return -1;
	for (int i = 0; i < n; i++) {
		struct pci_fn f = d->fn;
		uint8_t at = offs[i], id = pci_read8(f, at), len, type;

		if (id == PCI_CAP_ID_MSIX && !msix_at)
			msix_at = at;
		if (id != PCI_CAP_ID_VENDOR)
			continue;
		len = pci_read8(f, at + VIRTIO_PCI_CAP_CFG_LEN);
		type = pci_read8(f, at + VIRTIO_PCI_CAP_CFG_TYPE);
		note("%s: vendor capability at %#x: type %u (%s), bar %u, offset %#x, length %#x%s",
		     d->name, at, type, type < VIRTIO_PCI_CAP_TYPES ? cap_names[type] : "unknown",
		     pci_read8(f, at + VIRTIO_PCI_CAP_BAR), pci_read32(f, at + VIRTIO_PCI_CAP_OFFSET),
		     pci_read32(f, at + VIRTIO_PCI_CAP_LENGTH), type == VIRTIO_PCI_CAP_NOTIFY_CFG ? " (+ multiplier)" : "");
		/* 4.1.4: the first capability of a type the driver can use
		 * is the one; BAR numbers 6 and up are reserved. */
		if (type == 0 || type >= VIRTIO_PCI_CAP_TYPES || caps[type].found ||
		    pci_read8(f, at + VIRTIO_PCI_CAP_BAR) > 5)
			continue;
		if (!check(len >= (type == VIRTIO_PCI_CAP_NOTIFY_CFG ? VIRTIO_PCI_NOTIFY_CAP_LEN
								    : VIRTIO_PCI_CAP_LEN),
			   "%s: %s capability length %u", d->name, cap_names[type], len))
			return -1;
		caps[type] = (struct vcap){
			.found = 1, .type = type, .at = at, .bar = pci_read8(f, at + VIRTIO_PCI_CAP_BAR),
			.offset = pci_read32(f, at + VIRTIO_PCI_CAP_OFFSET),
			.length = pci_read32(f, at + VIRTIO_PCI_CAP_LENGTH),
			.notify_mult = type == VIRTIO_PCI_CAP_NOTIFY_CFG
					       ? pci_read32(f, at + VIRTIO_PCI_CAP_NOTIFY_MULTIPLIER) : 0,
		};
	}
	if (msix_at)
		note("%s: MSI-X capability at %#x, %u vectors, table in BAR %u", d->name, msix_at,
		     (pci_read16(d->fn, msix_at + 2) & 0x7FF) + 1, pci_read32(d->fn, msix_at + 4) & 7);
	if (!check(caps[VIRTIO_PCI_CAP_COMMON_CFG].found && caps[VIRTIO_PCI_CAP_NOTIFY_CFG].found &&
		   caps[VIRTIO_PCI_CAP_ISR_CFG].found && caps[VIRTIO_PCI_CAP_DEVICE_CFG].found,
		   "%s: common, notify, ISR and device capabilities present", d->name))
		return -1;

	/* 4.1.4.3.1, 4.1.4.4.1, 4.1.4.6.1: what the device must align. */
	check(caps[VIRTIO_PCI_CAP_COMMON_CFG].offset % 4 == 0 &&
	      caps[VIRTIO_PCI_CAP_COMMON_CFG].length >= VIRTIO_PCI_COMMON_SIZE,
	      "%s: common configuration at %#x, %#x bytes (4-aligned, >= %#x)", d->name,
	      caps[VIRTIO_PCI_CAP_COMMON_CFG].offset, caps[VIRTIO_PCI_CAP_COMMON_CFG].length,
	      VIRTIO_PCI_COMMON_SIZE);
	check(caps[VIRTIO_PCI_CAP_NOTIFY_CFG].offset % 2 == 0 &&
	      caps[VIRTIO_PCI_CAP_NOTIFY_CFG].notify_mult % 2 == 0,
	      "%s: notification at %#x (2-aligned), notify_off_multiplier %u (even)", d->name,
	      caps[VIRTIO_PCI_CAP_NOTIFY_CFG].offset, caps[VIRTIO_PCI_CAP_NOTIFY_CFG].notify_mult);
	check(caps[VIRTIO_PCI_CAP_ISR_CFG].length >= 1, "%s: ISR status at %#x, %u bytes", d->name,
	      caps[VIRTIO_PCI_CAP_ISR_CFG].offset, caps[VIRTIO_PCI_CAP_ISR_CFG].length);
	check(caps[VIRTIO_PCI_CAP_DEVICE_CFG].offset % 4 == 0 && caps[VIRTIO_PCI_CAP_DEVICE_CFG].length >= 8,
	      "%s: device configuration at %#x, %#x bytes (4-aligned, holds the capacity)",
	      d->name, caps[VIRTIO_PCI_CAP_DEVICE_CFG].offset, caps[VIRTIO_PCI_CAP_DEVICE_CFG].length);

	/* BARs are sized with decoding off; then memory and bus mastering
	 * on (the device reads and writes the rings). */
	d->common = cap_address(d, &caps[VIRTIO_PCI_CAP_COMMON_CFG], bars, bar_done);
	d->notify_base = cap_address(d, &caps[VIRTIO_PCI_CAP_NOTIFY_CFG], bars, bar_done);
	d->isr = cap_address(d, &caps[VIRTIO_PCI_CAP_ISR_CFG], bars, bar_done);
	d->devcfg = cap_address(d, &caps[VIRTIO_PCI_CAP_DEVICE_CFG], bars, bar_done);
	if (!d->common || !d->notify_base || !d->isr || !d->devcfg)
		return -1;
	d->msix_at = (uint8_t)msix_at;
	/* 4.1.4.8: the device presents at least one. */
	check(caps[VIRTIO_PCI_CAP_PCI_CFG].found, "%s: a PCI configuration access capability", d->name);
	d->cfg_cap_at = caps[VIRTIO_PCI_CAP_PCI_CFG].found ? caps[VIRTIO_PCI_CAP_PCI_CFG].at : 0;
	d->common_bar = caps[VIRTIO_PCI_CAP_COMMON_CFG].bar;
	d->common_off = caps[VIRTIO_PCI_CAP_COMMON_CFG].offset;
	d->devcfg_bar = caps[VIRTIO_PCI_CAP_DEVICE_CFG].bar;
	d->devcfg_off = caps[VIRTIO_PCI_CAP_DEVICE_CFG].offset;
	d->notify_mult = caps[VIRTIO_PCI_CAP_NOTIFY_CFG].notify_mult;
	d->notify_len = caps[VIRTIO_PCI_CAP_NOTIFY_CFG].length;
	d->devcfg_len = caps[VIRTIO_PCI_CAP_DEVICE_CFG].length;

	cmd = pci_read16(d->fn, PCI_REG_COMMAND);
	pci_write16(d->fn, PCI_REG_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cmd = pci_read16(d->fn, PCI_REG_COMMAND);
	check((cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) ==
	      (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
	      "%s: memory decoding and bus mastering on (command %#x)", d->name, cmd);
	note("%s: common %#llx, notify %#llx, ISR %#llx, device %#llx", d->name,
	     (unsigned long long)d->common, (unsigned long long)d->notify_base,
	     (unsigned long long)d->isr, (unsigned long long)d->devcfg);
	check(mmio_read16(d->common + VIRTIO_PCI_COMMON_NUM_QUEUES) >= 1,
	      "%s: num_queues %u", d->name, mmio_read16(d->common + VIRTIO_PCI_COMMON_NUM_QUEUES));
	return 0;
}

/* ---- initialisation (3.1.1) ---------------------------------------------- */

static int init_device(struct drive *d)
{
	uint64_t want;
	uint8_t status;

	if (!check(reset(d), "%s: reset: status reads 0", d->name))
		return -1;
	set_status(d, VIRTIO_S_ACK);
	set_status(d, VIRTIO_S_ACK | VIRTIO_S_DRIVER);
	d->features = device_features32(d, 0) | (uint64_t)device_features32(d, 1) << 32;
	note("%s: device features %#llx", d->name, (unsigned long long)d->features);
	check((d->features >> F_VERSION_1) & 1, "%s: VERSION_1 offered", d->name);
	check((d->features >> F_BLK_FLUSH) & 1, "%s: FLUSH offered", d->name);
	check(((d->features >> F_BLK_RO) & 1) == (uint64_t)d->read_only, "%s: RO %s",
	      d->name, d->read_only ? "offered" : "not offered");
	/* RO is left out: the driver does not rely on it (and so may send the
	 * write the device must refuse). */
	want = d->features & ((1ull << F_VERSION_1) | (1ull << F_BLK_FLUSH));
	set_driver_features(d, want);
	set_status(d, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	status = get_status(d);
	if (!check(status == (VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK),
		   "%s: FEATURES_OK kept with %#llx (status %#x)", d->name,
		   (unsigned long long)want, status))
		return -1;

	d->capacity = config_read64(d, BLK_CFG_CAPACITY);
	check(d->capacity == sectors, "%s: capacity %llu sectors (the image has %llu)", d->name,
	      (unsigned long long)d->capacity, (unsigned long long)sectors);
	if (setup_queue(d))
		return -1;
	set_status(d, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK);
	status = get_status(d);
	return check(status == (VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK),
		     "%s: DRIVER_OK (status %#x)", d->name, status) ? 0 : -1;
}

/* ---- requests --------------------------------------------------------------- */

/* Put a request in slot k: header, optional data, status byte; made
 * available by publish(). */
static void post(struct drive *d, unsigned k, uint32_t type, uint64_t sector, void *data,
		 uint32_t len, int device_writes)
{
	struct drive_mem *m = d->mem;
	struct slot *s = &m->slot[k];
	uint16_t head = (uint16_t)(3 * k), i = head;

	s->hdr = (struct blk_hdr){ .type = type, .sector = sector };
	s->status = NO_STATUS;
	s->used_len = 0;
	s->answered = 0;
	m->desc[i] = (struct virtq_desc){ addr_of(&s->hdr), sizeof(s->hdr), DESC_F_NEXT, (uint16_t)(i + 1) };
	if (len) {
		i++;
		m->desc[i] = (struct virtq_desc){ addr_of(data), len,
					    DESC_F_NEXT | (device_writes ? DESC_F_WRITE : 0),
					    (uint16_t)(i + 1) };
	}
	i++;
	m->desc[i] = (struct virtq_desc){ addr_of(&s->status), 1, DESC_F_WRITE, 0 };
	m->avail.ring[d->avail_idx % QSIZE] = head;
	d->avail_idx++;
}

/* Publish what post() put in the ring, notify, and poll the used ring
 * until n more requests are answered; 0 on success. */
static int run(struct drive *d, unsigned n)
{
	struct drive_mem *m = d->mem;
	volatile struct used *used = &m->used;
	uint64_t until;

	/* x86 is TSO: the ring entries are seen before the index without a
	 * fence; the index before the notification needs one (the device
	 * may be another thread). */
	__asm__ volatile("" ::: "memory");
	m->avail.idx = d->avail_idx;
	__asm__ volatile("mfence" ::: "memory");
	notify(d);
	until = tsc_deadline_ms(WAIT_MS);
	while ((uint16_t)(used->idx - d->used_seen) < n) {
		if (rdtsc() > until) {
			check(0, "%s: no answer: used idx %u, expected %u", d->name, used->idx,
			      (uint16_t)(d->used_seen + n));
			return -1;
		}
		cpu_relax();
	}
	__asm__ volatile("" ::: "memory");
	for (unsigned j = 0; j < n; j++) {
		struct virtq_used_elem e = *(const struct virtq_used_elem *)&used->ring[d->used_seen % QSIZE];

		d->used_seen++;
		if (e.id % 3 || e.id / 3 >= SLOTS || m->slot[e.id / 3].answered) {
			check(0, "%s: used ring entry with id %u: no request of ours", d->name, e.id);
			return -1;
		}
		m->slot[e.id / 3].answered = 1;
		m->slot[e.id / 3].used_len = e.len;
	}
	return 0;
}

/* One request in slot 0; its status, or NO_STATUS when unanswered. */
static uint8_t request(struct drive *d, uint32_t type, uint64_t sector, void *data,
		       uint32_t len, int device_writes)
{
	post(d, 0, type, sector, data, len, device_writes);
	if (run(d, 1))
		return NO_STATUS;
	return d->mem->slot[0].status;
}

static const char *status_name(uint8_t s)
{
	switch (s) {
	case S_OK: return "OK";
	case S_IOERR: return "IOERR";
	case S_UNSUPP: return "UNSUPP";
	case NO_STATUS: return "none";
	default: return "bad status";
	}
}

/* ---- the checks ------------------------------------------------------------ */

/* Sector 0 and the middle one, both in flight at once. */
static void read_two(struct drive *d)
{
	struct drive_mem *m = d->mem;
	uint64_t mid = d->capacity / 2;
	int bad0, bad1;

	memset(m->data, 0, sizeof(m->data));
	post(d, 0, T_IN, 0, m->data[0], SECTOR, 1);
	post(d, 1, T_IN, mid, m->data[1], SECTOR, 1);
	if (run(d, 2))
		return;
	bad0 = first_mismatch(m->data[0], 0, image_byte);
	bad1 = first_mismatch(m->data[1], mid, image_byte);
	check(m->slot[0].status == S_OK && m->slot[0].used_len == SECTOR + 1 && bad0 < 0,
	      "%s: read sector 0: %s, used len %u, %s (first bytes %02x %02x %02x %02x)", d->name,
	      status_name(m->slot[0].status), m->slot[0].used_len,
	      bad0 < 0 ? "the image's pattern" : "NOT the image's pattern",
	      m->data[0][0], m->data[0][8], m->data[0][9], m->data[0][10]);
	check(m->slot[1].status == S_OK && m->slot[1].used_len == SECTOR + 1 && bad1 < 0,
	      "%s: read sector %llu (the middle): %s, used len %u, %s", d->name,
	      (unsigned long long)mid, status_name(m->slot[1].status), m->slot[1].used_len,
	      bad1 < 0 ? "the image's pattern" : "NOT the image's pattern");
	if (bad0 >= 0)
		note("sector 0 byte %d is %#x, expected %#x", bad0, m->data[0][bad0],
		     image_byte(0, (unsigned)bad0));
	if (bad1 >= 0)
		note("sector %llu byte %d is %#x, expected %#x", (unsigned long long)mid, bad1,
		     m->data[1][bad1], image_byte(mid, (unsigned)bad1));
}

/* The last sector reads; past the end (and across it) is IOERR. */
static void read_edges(struct drive *d)
{
	uint8_t *buf = d->mem->data[0];
	uint64_t last = d->capacity - 1;
	uint8_t st;

	st = request(d, T_IN, last, buf, SECTOR, 1);
	check(st == S_OK && first_mismatch(buf, last, image_byte) < 0,
	      "%s: read the last sector %llu: %s, the image's pattern", d->name,
	      (unsigned long long)last, status_name(st));
	st = request(d, T_IN, d->capacity, buf, SECTOR, 1);
	check(st == S_IOERR, "%s: read sector %llu (past the end): %s", d->name,
	      (unsigned long long)d->capacity, status_name(st));
	st = request(d, T_IN, last, buf, 2 * SECTOR, 1);
	check(st == S_IOERR, "%s: read 2 sectors from the last one (across the end): %s",
	      d->name, status_name(st));
}

static void get_id(struct drive *d)
{
	uint8_t *buf = d->mem->data[0];
	char want[ID_BYTES] = { 0 };
	char shown[ID_BYTES + 1];
	size_t n = d->serial ? strlen(d->serial) : 0;
	uint8_t st;

	if (n > ID_BYTES)
		n = ID_BYTES;
	memcpy(want, d->serial ? d->serial : "", n);
	memset(buf, 0xAA, ID_BYTES);
	st = request(d, T_GET_ID, 0, buf, ID_BYTES, 1);
	memcpy(shown, buf, ID_BYTES);
	shown[ID_BYTES] = 0;
	for (unsigned i = 0; i < ID_BYTES && shown[i]; i++)
		if (shown[i] < 0x20 || shown[i] > 0x7e)
			shown[i] = '?';
	check(st == S_OK && memcmp(buf, want, ID_BYTES) == 0,
	      "%s: GET_ID: %s, \"%s\" (expected \"%s\"%s)", d->name, status_name(st), shown,
	      d->serial ? d->serial : "", n < ID_BYTES ? " and NULs" : "");
}

static void unsupported(struct drive *d)
{
	uint8_t st = request(d, T_BOGUS, 0, d->mem->data[0], SECTOR, 1);

	check(st == S_UNSUPP, "%s: request type %#x: %s (expected UNSUPP)", d->name, T_BOGUS,
	      status_name(st));
}

/* Write, flush, read back; the test checks the image afterwards. */
static void write_flush_read(struct drive *d)
{
	struct drive_mem *m = d->mem;
	uint8_t st;
	int bad;

	fill(m->data[0], write_sector, written_byte);
	st = request(d, T_OUT, write_sector, m->data[0], SECTOR, 0);
	check(st == S_OK && m->slot[0].used_len == 1,
	      "%s: write sector %llu: %s, used len %u", d->name,
	      (unsigned long long)write_sector, status_name(st), m->slot[0].used_len);
	st = request(d, T_FLUSH, 0, 0, 0, 0);
	check(st == S_OK, "%s: FLUSH: %s", d->name, status_name(st));
	memset(m->data[1], 0, SECTOR);
	st = request(d, T_IN, write_sector, m->data[1], SECTOR, 1);
	bad = first_mismatch(m->data[1], write_sector, written_byte);
	check(st == S_OK && bad < 0, "%s: read back sector %llu: %s, %s", d->name,
	      (unsigned long long)write_sector, status_name(st),
	      bad < 0 ? "what was written" : "NOT what was written");
}

/* A write to a read-only drive is refused and changes nothing. */
static void write_refused(struct drive *d)
{
	struct drive_mem *m = d->mem;
	uint8_t st;

	fill(m->data[0], write_sector, written_byte);
	st = request(d, T_OUT, write_sector, m->data[0], SECTOR, 0);
	check(st == S_IOERR, "%s: write sector %llu on the read-only drive: %s (expected IOERR)",
	      d->name, (unsigned long long)write_sector, status_name(st));
	memset(m->data[1], 0, SECTOR);
	st = request(d, T_IN, write_sector, m->data[1], SECTOR, 1);
	check(st == S_OK && first_mismatch(m->data[1], write_sector, image_byte) < 0,
	      "%s: sector %llu still holds the image's pattern", d->name,
	      (unsigned long long)write_sector);
}

/* Every answer raised the interrupt reason "used buffer" (bit 0), though
 * nobody takes the interrupt: reading it (and acknowledging, on MMIO)
 * clears it. */
static void interrupt_status(struct drive *d)
{
	uint32_t first = take_isr(d), second = take_isr(d);

	check(first == 1 && second == 0,
	      "%s: interrupt status %#x after the requests, %#x once taken", d->name, first,
	      second);
}

/* ---- interrupts ---------------------------------------------------------------
 * With the requests polled, the interrupt paths are checked on their own:
 * INTx (virtio-mmio's line from virtio_gsi=, virtio-pci's INTA# through
 * the route the MP table gives, both level-triggered through the IOAPIC)
 * and MSI-X (virtio-pci). The handler takes the interrupt status before
 * the EOI, which lowers a level line.
 *
 * PVM's local APIC (the KVM of the development machines) performs the EOI
 * of a vector when it delivers it, before the handler runs: the IOAPIC
 * then finds the level line still high and delivers once more after the
 * handler lowered it. Such a re-delivery finds the status 0; at most one
 * per request is accepted and counted apart (see virtio_rng.c). */
#define VEC_INTX     0x51
#define VEC_MSIX     0x52
#define VEC_WATCHDOG 0x53
#define WATCHDOG_LONG  12500000u  /* about 200 ms at a 1 GHz APIC timer, divided by 16 */
#define WATCHDOG_SHORT 1250000u   /* about 20 ms */

#define MSIX_CTRL        2
#define MSIX_TABLE       4
#define MSIX_PBA         8
#define MSIX_CTRL_ENABLE  0x8000u
#define MSIX_CTRL_MASKALL 0x4000u
#define MSIX_ENTRY_SIZE  16
#define MSIX_ENTRY_CTRL  12
#define MSIX_ENTRY_MASKED 1u

static struct drive *irq_drive;
static volatile uint32_t intx_irqs, intx_empty, intx_reason, msix_irqs, watchdog_fired;

static void intx_isr(struct irq_frame *f)
{
	uint32_t reason = take_isr(irq_drive);

	(void)f;
	if (reason) {
		intx_reason = reason;
		intx_irqs++;
	} else {
		intx_empty++;
	}
	lapic_eoi();
}

static void msix_isr(struct irq_frame *f)
{
	(void)f;
	msix_irqs++;
	lapic_eoi();
}

static void watchdog_isr(struct irq_frame *f)
{
	(void)f;
	watchdog_fired = 1;
	lapic_eoi();
}

/* Halt with interrupts on until *count reaches n or the LAPIC one-shot
 * of ticks fires; whether count got there. */
static int wait_count(volatile uint32_t *count, uint32_t n, uint32_t ticks)
{
	watchdog_fired = 0;
	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, VEC_WATCHDOG | LVT_TIMER_ONESHOT);
	lapic_write(LAPIC_TIMER_INIT, ticks);
	while (*count < n && !watchdog_fired)
		sti_hlt();
	cli();
	lapic_write(LAPIC_TIMER_INIT, 0);
	return *count >= n;
}

/* PCI 2.3 INTx disable: the line stays low while the command register
 * says so, the status bit still shows the ISR, and clearing the disable
 * bit asserts the line. */
static void intx_disable_checks(struct drive *d)
{
	uint16_t cmd = pci_read16(d->fn, PCI_REG_COMMAND);
	uint32_t empty_before = intx_empty;
	uint8_t st;

	pci_write16(d->fn, PCI_REG_COMMAND, cmd | PCI_COMMAND_INTX_DISABLE);
	st = request(d, T_IN, 0, d->mem->data[0], SECTOR, 1);
	wait_count(&intx_irqs, 2, WATCHDOG_SHORT);
	check(st == S_OK && intx_irqs == 1 && intx_empty == empty_before &&
	      (pci_read16(d->fn, PCI_REG_STATUS) & PCI_STATUS_INTERRUPT),
	      "%s: INTx disabled: a request (%s), no interrupt, PCI status interrupt bit set",
	      d->name, status_name(st));
	intx_reason = 0;
	pci_write16(d->fn, PCI_REG_COMMAND, cmd & ~PCI_COMMAND_INTX_DISABLE);
	wait_count(&intx_irqs, 2, WATCHDOG_LONG);
	check(intx_irqs == 2 && intx_reason == 1 && intx_empty <= empty_before + 1,
	      "%s: INTx enabled again: the interrupt arrives, reason %#x", d->name, intx_reason);
}

static void intx_checks(struct drive *d)
{
	unsigned gsi = 0, flags = 0, pin = 1;
	int low, level;
	uint8_t st;

	if (d->pci) {
		int routed;

		pin = pci_read8(d->fn, PCI_REG_INTERRUPT_PIN);
		routed = pin >= 1 && pin <= 4 && mptable_pci_irq(0, d->fn.dev, pin, &gsi, &flags) == 0;
		if (!check(routed, "%s: INT%c# of 00:%02x.0 routed by the MP table: IOAPIC pin %u, flags %#x",
			   d->name, pin >= 1 && pin <= 4 ? 'A' + pin - 1 : '?', d->fn.dev, gsi, flags))
			return;
		/* Flags 0 conform to the bus: PCI is level-triggered, active low. */
		low = MP_FLAGS_POLARITY(flags) != MP_POLARITY_HIGH;
		level = MP_FLAGS_TRIGGER(flags) != MP_TRIGGER_EDGE;
		pci_write16(d->fn, PCI_REG_COMMAND,
			    pci_read16(d->fn, PCI_REG_COMMAND) & ~PCI_COMMAND_INTX_DISABLE);
	} else {
		gsi = (unsigned)cmdline_u64("virtio_gsi", 0);
		if (!gsi) {
			note("%s: no virtio_gsi= on the command line: the line is not checked", d->name);
			return;
		}
		low = 0;       /* the firmware tables' virtio-mmio lines: active high */
		level = 1;
	}
	if (!check(level && gsi < 24, "%s: the line is level-triggered, IOAPIC pin %u, active %s",
		   d->name, gsi, low ? "low" : "high"))
		return;
	ioapic_route(gsi, VEC_INTX | IOREDTBL_LEVEL | (low ? IOREDTBL_ACTIVE_LOW : 0), lapic_id());
	irq_drive = d;
	intx_irqs = intx_empty = intx_reason = 0;

	st = request(d, T_IN, 0, d->mem->data[0], SECTOR, 1);
	if (d->pci)
		check(pci_read16(d->fn, PCI_REG_STATUS) & PCI_STATUS_INTERRUPT,
		      "%s: PCI status: interrupt pending while the ISR is set", d->name);
	wait_count(&intx_irqs, 1, WATCHDOG_LONG);
	check(st == S_OK && intx_irqs == 1 && intx_reason == 1,
	      "%s: INTx: a request (%s), one interrupt on vector %#x, reason %#x (used buffer)",
	      d->name, status_name(st), VEC_INTX, intx_reason);
	if (d->pci)
		check(!(pci_read16(d->fn, PCI_REG_STATUS) & PCI_STATUS_INTERRUPT),
		      "%s: PCI status: no interrupt pending once the ISR was read", d->name);
	wait_count(&intx_irqs, 2, WATCHDOG_SHORT);
	if (intx_empty)
		note("%s: %u interrupts without a reason (re-delivered after an early EOI)", d->name,
		     intx_empty);
	check(intx_irqs == 1 && intx_empty <= 1,
	      "%s: no interrupt after the status was taken (%u with a reason, %u without)",
	      d->name, intx_irqs, intx_empty);
	if (d->pci)
		intx_disable_checks(d);
	ioapic_write(0x10 + 2 * gsi, IOREDTBL_MASKED);
}

/* The address of MSI-X structure reg (table or PBA) of n bytes, after
 * checking it lies in its BAR; 0 if not. */
static uint64_t msix_region(struct drive *d, unsigned reg, uint32_t n, const char *what)
{
	uint32_t v = pci_read32(d->fn, d->msix_at + reg);
	struct pci_bar b = { 0 };
	int ok = pci_bar(d->fn, v & 7, &b) == 0;

	if (!check(ok && !b.io && b.addr && (uint64_t)(v & ~7u) + n <= b.size,
		   "%s: MSI-X %s at %#x in BAR %u (%#llx bytes)", d->name, what, v & ~7u, v & 7,
		   (unsigned long long)b.size))
		return 0;
	return b.addr + (v & ~7u);
}

static void msix_checks(struct drive *d)
{
	uint64_t c = d->common, table, pba;
	uint16_t ctrl, vec;
	unsigned nvec;
	uint8_t st;

	if (!d->msix_at) {
		note("%s: no MSI-X capability: MSI-X not checked", d->name);
		return;
	}
	ctrl = pci_read16(d->fn, d->msix_at + MSIX_CTRL);
	nvec = (ctrl & 0x7FF) + 1u;
	table = msix_region(d, MSIX_TABLE, nvec * MSIX_ENTRY_SIZE, "table");
	pba = msix_region(d, MSIX_PBA, (nvec + 63) / 64 * 8, "pending bits");
	if (!table || !pba)
		return;

	/* Entry 0: this CPU, fixed delivery, edge. */
	mmio_write32(table + 0, 0xFEE00000u | lapic_id() << 12);
	mmio_write32(table + 4, 0);
	mmio_write32(table + 8, VEC_MSIX);
	mmio_write32(table + MSIX_ENTRY_CTRL, 0);
	pci_write16(d->fn, d->msix_at + MSIX_CTRL, (uint16_t)((ctrl & ~MSIX_CTRL_MASKALL) | MSIX_CTRL_ENABLE));
	mmio_write16(c + VIRTIO_PCI_COMMON_MSIX_CONFIG, VIRTIO_PCI_NO_VECTOR);
	mmio_write16(c + VIRTIO_PCI_COMMON_QUEUE_SELECT, 0);
	/* 4.1.5.1.2: a vector the device cannot use reads back VIRTIO_PCI_NO_VECTOR. */
	mmio_write16(c + VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, (uint16_t)nvec);
	vec = mmio_read16(c + VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR);
	check(vec == VIRTIO_PCI_NO_VECTOR, "%s: queue 0 refuses MSI-X vector %u of %u (reads %#x)", d->name,
	      nvec, nvec, vec);
	mmio_write16(c + VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, 0);
	vec = mmio_read16(c + VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR);
	if (!check(vec == 0, "%s: queue 0 takes MSI-X vector 0 (reads %#x)", d->name, vec))
		return;

	msix_irqs = 0;
	st = request(d, T_IN, 0, d->mem->data[0], SECTOR, 1);
	wait_count(&msix_irqs, 1, WATCHDOG_LONG);
	check(st == S_OK && msix_irqs == 1, "%s: MSI-X: a request (%s), interrupt on vector %#x",
	      d->name, status_name(st), VEC_MSIX);

	/* Masked, the message waits in the pending bits until unmasked. */
	mmio_write32(table + MSIX_ENTRY_CTRL, MSIX_ENTRY_MASKED);
	st = request(d, T_IN, 0, d->mem->data[0], SECTOR, 1);
	wait_count(&msix_irqs, 2, WATCHDOG_SHORT);
	check(st == S_OK && msix_irqs == 1 && (mmio_read32(pba) & 1),
	      "%s: MSI-X entry masked: a request (%s), no interrupt, pending bit %u", d->name,
	      status_name(st), mmio_read32(pba) & 1);
	mmio_write32(table + MSIX_ENTRY_CTRL, 0);
	wait_count(&msix_irqs, 2, WATCHDOG_LONG);
	check(msix_irqs == 2 && !(mmio_read32(pba) & 1),
	      "%s: unmasked: the pending message arrives, pending bit clear", d->name);

	mmio_write16(c + VIRTIO_PCI_COMMON_QUEUE_MSIX_VECTOR, VIRTIO_PCI_NO_VECTOR);
	pci_write16(d->fn, d->msix_at + MSIX_CTRL, ctrl & ~MSIX_CTRL_ENABLE);
}

static void interrupt_checks(struct drive *d)
{
	set_handler(VEC_INTX, intx_isr);
	set_handler(VEC_MSIX, msix_isr);
	set_handler(VEC_WATCHDOG, watchdog_isr);
	lapic_enable();
	pic_init_masked();
	cli();
	intx_checks(d);
	if (d->pci)
		msix_checks(d);
}

/* 4.1.4.8: the configuration access window reaches the same structures
 * as the BAR. */
static void pci_cfg_window(struct drive *d)
{
	unsigned at = d->cfg_cap_at;
	uint16_t nq;
	uint32_t cap_lo;

	if (!at)
		return;
	pci_write8(d->fn, at + VIRTIO_PCI_CAP_BAR, d->common_bar);
	pci_write32(d->fn, at + VIRTIO_PCI_CAP_OFFSET, d->common_off + VIRTIO_PCI_COMMON_NUM_QUEUES);
	pci_write32(d->fn, at + VIRTIO_PCI_CAP_LENGTH, 2);
	nq = pci_read16(d->fn, at + 16);
	pci_write8(d->fn, at + VIRTIO_PCI_CAP_BAR, d->devcfg_bar);
	pci_write32(d->fn, at + VIRTIO_PCI_CAP_OFFSET, d->devcfg_off + BLK_CFG_CAPACITY);
	pci_write32(d->fn, at + VIRTIO_PCI_CAP_LENGTH, 4);
	cap_lo = pci_read32(d->fn, at + 16);
	check(nq == mmio_read16(d->common + VIRTIO_PCI_COMMON_NUM_QUEUES) && cap_lo == (uint32_t)d->capacity,
	      "%s: through the configuration access window: num_queues %u, capacity %u", d->name,
	      nq, cap_lo);
}

static void drive_checks(struct drive *d)
{
	if (init_device(d))
		return;
	if (d->pci)
		pci_cfg_window(d);
	read_two(d);
	read_edges(d);
	get_id(d);
	unsupported(d);
	if (d->read_only)
		write_refused(d);
	else
		write_flush_read(d);
	interrupt_status(d);
	if (d == &drives[0])
		interrupt_checks(d);

	/* A reset takes the queue away. */
	check(reset(d) && !queue_enabled(d), "%s: reset: status 0, queue 0 disabled", d->name);
}

int guest_main(void)
{
	char transport[8] = "mmio";
	unsigned ndrives = cmdline_flag("ro_drive") ? 2 : 1;
	static char serial[2][ID_BYTES + 1];

	checks_begin("virtio-blk", 0x90);
	cmdline_value("transport", transport, sizeof(transport));
	sectors = cmdline_u64("sectors", 0);
	write_sector = cmdline_u64("write_sector", 0);
	if (strcmp(transport, "mmio") && strcmp(transport, "pci"))
		panic(0x9F, "transport=%s: not mmio or pci", transport);
	if (sectors < 8 || write_sector == 0 || write_sector >= sectors)
		panic(0x9F, "usage: sectors=N (at least 8) and write_sector=S (0 < S < N) on the "
		      "command line");
	if (!cmdline_value("serial", serial[0], sizeof(serial[0])))
		drives[0].serial = serial[0];
	if (!cmdline_value("ro_serial", serial[1], sizeof(serial[1])))
		drives[1].serial = serial[1];

	for (unsigned i = 0; i < ndrives; i++) {
		struct drive *d = &drives[i];
		int found;

		d->name = i ? "ro drive" : "drive";
		d->read_only = i == 1;
		d->mem = &drive_mem[i];
		d->pci = transport[0] == 'p';
		if (d->pci) {
			found = find_pci(d, i);
		} else {
			uint64_t base = cmdline_u64(i ? "ro_base" : "virtio_base", 0);

			if (!base)
				panic(0x9F, "usage: transport=mmio needs virtio_base=ADDR%s",
				      ndrives > 1 ? " and ro_base=ADDR" : "");
			found = find_mmio(d, base);
		}
		if (found == 0)
			drive_checks(d);
	}
	return checks_end();
}
