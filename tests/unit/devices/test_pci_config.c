/* A PCI function's configuration space as a driver and the PCI host see
 * it: identity, the bits software may write, BAR sizing and decoding, the
 * capability list, and accesses that do not fit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci_config.h"

#define VENDOR    0x1234
#define DEVICE    0x5678
#define SUBVENDOR 0xabcd
#define SUBSYS    0xef01
#define CLASS     0x020000   /* network, Ethernet */
#define REVISION  0x03

#define BAR_BASE  0xc0010000u
#define BAR_SIZE  0x8000u

#define COMMAND_WRITABLE (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | 0x0040 | 0x0100 | \
			  PCI_COMMAND_INTX_DISABLE)

static const struct pci_config_id test_id = {
	.vendor = VENDOR,
	.device = DEVICE,
	.subsystem_vendor = SUBVENDOR,
	.subsystem = SUBSYS,
	.class_code = CLASS,
	.revision = REVISION,
	.interrupt_pin = 1,
};

static int setup(void **state)
{
	struct pci_config *c = malloc(sizeof(*c));

	assert_non_null(c);
	/* Garbage first: init must not rely on a zeroed structure. */
	memset(c, 0xa5, sizeof(*c));
	pci_config_init(c, &test_id);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void identity(void **state)
{
	struct pci_config *c = *state;

	assert_int_equal(pci_config_read(c, 0x00, 4), DEVICE << 16 | VENDOR);
	assert_int_equal(pci_config_read(c, 0x00, 2), VENDOR);
	assert_int_equal(pci_config_read(c, 0x02, 2), DEVICE);
	assert_int_equal(pci_config_read(c, 0x01, 1), VENDOR >> 8);
	assert_int_equal(pci_config_read(c, 0x08, 4), (uint32_t)CLASS << 8 | REVISION);
	assert_int_equal(pci_config_read(c, 0x0b, 1), CLASS >> 16);
	assert_int_equal(pci_config_read(c, 0x0e, 1), 0x00);           /* type 0 */
	assert_int_equal(pci_config_read(c, 0x2c, 4), (uint32_t)SUBSYS << 16 | SUBVENDOR);
	assert_int_equal(pci_config_read(c, PCI_REG_INTERRUPT_PIN, 1), 1);
	assert_int_equal(pci_config_read(c, PCI_REG_INTERRUPT_LINE, 1), 0);
	/* Nothing enabled, no capabilities, no BARs, nothing past the header. */
	assert_int_equal(pci_config_read(c, PCI_REG_COMMAND, 4), 0);
	assert_int_equal(pci_config_read(c, PCI_REG_CAP_PTR, 1), 0);
	for (unsigned off = PCI_REG_BAR0; off < PCI_REG_BAR0 + 4 * PCI_BAR_COUNT; off += 4)
		assert_int_equal(pci_config_read(c, off, 4), 0);
	for (unsigned off = 0x40; off < PCI_CONFIG_SPACE_SIZE; off += 4)
		assert_int_equal(pci_config_read(c, off, 4), 0);
	assert_int_equal(pci_config_read16(c, 0x00), VENDOR);
}

static void write_masks(void **state)
{
	struct pci_config *c = *state;
	uint8_t before[PCI_CONFIG_SPACE_SIZE];

	/* Command: only the bits the function implements; no I/O decoding. */
	pci_config_write(c, PCI_REG_COMMAND, 2, 0xffff);
	assert_int_equal(pci_config_read(c, PCI_REG_COMMAND, 2), COMMAND_WRITABLE);
	pci_config_write(c, PCI_REG_COMMAND, 1, 0x00);
	assert_int_equal(pci_config_read(c, PCI_REG_COMMAND, 2), COMMAND_WRITABLE & 0xff00);
	pci_config_write(c, PCI_REG_COMMAND, 4, 0xffff0000u | PCI_COMMAND_MEMORY);
	/* The status half of the dword is read-only. */
	assert_int_equal(pci_config_read(c, PCI_REG_COMMAND, 4), PCI_COMMAND_MEMORY);
	pci_config_write(c, PCI_REG_COMMAND + 1, 1, PCI_COMMAND_INTX_DISABLE >> 8);
	assert_int_equal(pci_config_read(c, PCI_REG_COMMAND, 2),
			 PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);

	/* Cache line size, latency timer, interrupt line: software's. */
	pci_config_write(c, 0x0c, 2, 0x4010);
	assert_int_equal(pci_config_read(c, 0x0c, 2), 0x4010);
	pci_config_write(c, PCI_REG_INTERRUPT_LINE, 1, 0x0b);
	assert_int_equal(pci_config_read(c, PCI_REG_INTERRUPT_LINE, 1), 0x0b);

	/* Everything else stays as it is, whatever is written. */
	memcpy(before, c->bytes, sizeof(before));
	for (unsigned off = 0; off < PCI_CONFIG_SPACE_SIZE; off += 4) {
		if (off == PCI_REG_COMMAND || off == 0x0c || off == PCI_REG_INTERRUPT_LINE)
			continue;
		pci_config_write(c, off, 4, 0xffffffff);
		pci_config_write(c, off, 4, 0);
	}
	assert_memory_equal(before, c->bytes, sizeof(before));
	/* The interrupt pin next to the writable line. */
	pci_config_write(c, PCI_REG_INTERRUPT_LINE, 2, 0x0405);
	assert_int_equal(pci_config_read(c, PCI_REG_INTERRUPT_LINE, 2), 0x0105);
	/* The header type next to the writable latency timer. */
	pci_config_write(c, 0x0c, 4, 0xffffffff);
	assert_int_equal(pci_config_read(c, 0x0c, 4), 0x0000ffff);

	/* The function itself may change anything. */
	pci_config_set(c, PCI_REG_STATUS, 2, PCI_STATUS_INTERRUPT);
	assert_int_equal(pci_config_read(c, PCI_REG_STATUS, 2), PCI_STATUS_INTERRUPT);
	pci_config_set(c, 0x00, 4, 0x11112222);
	assert_int_equal(pci_config_read(c, 0x00, 4), 0x11112222);
	/* ... and the driver still cannot. */
	pci_config_write(c, PCI_REG_STATUS, 2, 0);
	assert_int_equal(pci_config_read(c, PCI_REG_STATUS, 2), PCI_STATUS_INTERRUPT);
}

static void bar_sizing(void **state)
{
	struct pci_config *c = *state;
	const unsigned bar0 = PCI_REG_BAR0, bar5 = PCI_REG_BAR0 + 20;

	assert_int_equal(pci_config_set_bar(c, 0, BAR_SIZE, BAR_BASE), 0);
	assert_int_equal(pci_config_set_bar(c, 5, PCI_BAR_MIN_SIZE, 0xd0000010u), 0);
	/* Firmware's placement; type bits 0: memory, 32-bit, not prefetchable. */
	assert_int_equal(pci_config_read(c, bar0, 4), BAR_BASE);
	assert_int_equal(pci_config_read(c, bar5, 4), 0xd0000010u);

	/* The sizing protocol: all ones in, the size mask out, then restore. */
	pci_config_write(c, bar0, 4, 0xffffffff);
	assert_int_equal(pci_config_read(c, bar0, 4), ~(BAR_SIZE - 1));
	pci_config_write(c, bar0, 4, BAR_BASE);
	assert_int_equal(pci_config_read(c, bar0, 4), BAR_BASE);
	pci_config_write(c, bar5, 4, 0xffffffff);
	assert_int_equal(pci_config_read(c, bar5, 4), 0xfffffff0u);

	/* Address bits below the size and the type bits do not take writes. */
	pci_config_write(c, bar0, 4, 0xd000ffffu);
	assert_int_equal(pci_config_read(c, bar0, 4), 0xd0008000u);
	/* A byte at a time, as some software does. */
	pci_config_write(c, bar0 + 3, 1, 0xc1);
	pci_config_write(c, bar0 + 1, 1, 0xff);
	assert_int_equal(pci_config_read(c, bar0, 4), 0xc1008000u);

	/* BARs the function does not have stay 0 after all ones. */
	for (unsigned n = 1; n < 5; n++) {
		pci_config_write(c, PCI_REG_BAR0 + 4 * n, 4, 0xffffffff);
		assert_int_equal(pci_config_read(c, PCI_REG_BAR0 + 4 * n, 4), 0);
	}
}

static void bar_refused(void **state)
{
	struct pci_config *c = *state;

	assert_int_equal(pci_config_set_bar(c, PCI_BAR_COUNT, BAR_SIZE, BAR_BASE), -EINVAL);
	assert_int_equal(pci_config_set_bar(c, ~0u, BAR_SIZE, BAR_BASE), -EINVAL);
	assert_int_equal(pci_config_set_bar(c, 0, 0, BAR_BASE), -EINVAL);
	assert_int_equal(pci_config_set_bar(c, 0, 8, BAR_BASE), -EINVAL);
	assert_int_equal(pci_config_set_bar(c, 0, 0x3000, BAR_BASE), -EINVAL);
	assert_int_equal(pci_config_set_bar(c, 0, BAR_SIZE, BAR_BASE + 0x1000), -EINVAL);
	/* None of them left a BAR behind. */
	assert_int_equal(c->bar_size[0], 0);
	pci_config_write(c, PCI_REG_BAR0, 4, 0xffffffff);
	assert_int_equal(pci_config_read(c, PCI_REG_BAR0, 4), 0);
	/* The largest a 32-bit BAR can be. */
	assert_int_equal(pci_config_set_bar(c, 0, 0x80000000u, 0x80000000u), 0);
	pci_config_write(c, PCI_REG_BAR0, 4, 0xffffffff);
	assert_int_equal(pci_config_read(c, PCI_REG_BAR0, 4), 0x80000000u);
}

static void enable_memory(struct pci_config *c)
{
	pci_config_write(c, PCI_REG_COMMAND, 2, PCI_COMMAND_MEMORY);
}

static void bar_decode(void **state)
{
	struct pci_config *c = *state;
	uint64_t off = 0x1234;

	assert_int_equal(pci_config_set_bar(c, 0, BAR_SIZE, BAR_BASE), 0);
	assert_int_equal(pci_config_set_bar(c, 2, 0x1000, 0xd0000000u), 0);

	/* Memory decoding off: nothing, and *offset untouched. */
	assert_int_equal(pci_config_bar_decode(c, BAR_BASE, 4, &off), -1);
	assert_int_equal(off, 0x1234);

	enable_memory(c);
	assert_int_equal(pci_config_bar_decode(c, BAR_BASE, 4, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(pci_config_bar_decode(c, BAR_BASE + 0x1234, 2, &off), 0);
	assert_int_equal(off, 0x1234);
	assert_int_equal(pci_config_bar_decode(c, 0xd0000ff8u, 8, &off), 2);
	assert_int_equal(off, 0xff8);
	/* The last bytes, exactly. */
	assert_int_equal(pci_config_bar_decode(c, BAR_BASE + BAR_SIZE - 8, 8, &off), 0);
	assert_int_equal(off, BAR_SIZE - 8);
	assert_int_equal(pci_config_bar_decode(c, BAR_BASE + BAR_SIZE - 1, 1, &off), 0);
	assert_int_equal(off, BAR_SIZE - 1);

	/* Outside, or crossing either end. */
	off = 0x1234;
	assert_int_equal(pci_config_bar_decode(c, BAR_BASE - 1, 1, &off), -1);
	assert_int_equal(pci_config_bar_decode(c, BAR_BASE - 2, 4, &off), -1);
	assert_int_equal(pci_config_bar_decode(c, BAR_BASE + BAR_SIZE, 1, &off), -1);
	assert_int_equal(pci_config_bar_decode(c, BAR_BASE + BAR_SIZE - 2, 4, &off), -1);
	assert_int_equal(pci_config_bar_decode(c, BAR_BASE + BAR_SIZE - 4, 8, &off), -1);
	assert_int_equal(pci_config_bar_decode(c, 0xd0001000u, 4, &off), -1);
	/* The same low 32 bits above 4 GiB are not the BAR. */
	assert_int_equal(pci_config_bar_decode(c, 0x100000000ull + BAR_BASE, 4, &off), -1);
	assert_int_equal(pci_config_bar_decode(c, ~0ull - 3, 4, &off), -1);
	assert_int_equal(off, 0x1234);

	/* Off again: gone. */
	pci_config_write(c, PCI_REG_COMMAND, 2, 0);
	assert_int_equal(pci_config_bar_decode(c, BAR_BASE, 4, &off), -1);
	assert_int_equal(pci_config_bar_decode(c, 0xd0000000u, 4, &off), -1);
}

static void bar_decode_follows_moves(void **state)
{
	struct pci_config *c = *state;
	uint64_t off;

	assert_int_equal(pci_config_set_bar(c, 1, 0x1000, 0xc0002000u), 0);
	enable_memory(c);
	assert_int_equal(pci_config_bar_decode(c, 0xc0002010u, 4, &off), 1);
	pci_config_write(c, PCI_REG_BAR0 + 4, 4, 0xc0005000u);
	assert_int_equal(pci_config_bar_decode(c, 0xc0002010u, 4, &off), -1);
	assert_int_equal(pci_config_bar_decode(c, 0xc0005010u, 4, &off), 1);
	assert_int_equal(off, 0x10);

	/* Address 0 is a BAR nobody assigned: it decodes nothing, not even
	 * at address 0. */
	pci_config_write(c, PCI_REG_BAR0 + 4, 4, 0);
	assert_int_equal(pci_config_bar_decode(c, 0, 4, &off), -1);
	assert_int_equal(pci_config_bar_decode(c, 0x10, 4, &off), -1);
	assert_int_equal(pci_config_bar_decode(c, 0xc0005010u, 4, &off), -1);
	/* A BAR placed at 0 by its function is unassigned too. */
	assert_int_equal(pci_config_set_bar(c, 3, 0x1000, 0), 0);
	assert_int_equal(pci_config_bar_decode(c, 0, 4, &off), -1);
}

/* Walks the list as a driver does: how many capabilities, checking each
 * pointer on the way. */
static unsigned walk_caps(const struct pci_config *c, unsigned *last)
{
	unsigned n = 0, ptr;

	*last = 0;
	if (!(pci_config_read(c, PCI_REG_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	for (ptr = pci_config_read(c, PCI_REG_CAP_PTR, 1); ptr; ptr = pci_config_read(c, ptr + 1, 1)) {
		assert_true(ptr >= 0x40);
		assert_int_equal(ptr % 4, 0);
		assert_true(ptr > *last);            /* forward only: no loop */
		*last = ptr;
		n++;
		assert_true(n < 64);
	}
	return n;
}

static void capabilities(void **state)
{
	struct pci_config *c = *state;
	uint8_t a[10] = { PCI_CAP_ID_MSIX, 0xee, 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t a_wmask[10] = { 0xff, 0xff, 0xff, 0x0f };
	uint8_t b[5] = { PCI_CAP_ID_VENDOR, 0x77, 5, 0xaa, 0xbb };
	unsigned off_a, off_b, last;

	assert_int_equal(walk_caps(c, &last), 0);
	assert_int_equal(pci_config_read(c, PCI_REG_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);

	off_a = pci_config_add_cap(c, a, sizeof(a), a_wmask);
	assert_int_equal(off_a, 0x40);
	assert_true(pci_config_read(c, PCI_REG_STATUS, 2) & PCI_STATUS_CAP_LIST);
	assert_int_equal(pci_config_read(c, PCI_REG_CAP_PTR, 1), 0x40);
	/* The body as given, the next pointer filled in (the end: 0). */
	assert_int_equal(pci_config_read(c, off_a, 4), 0x02010011);
	assert_int_equal(pci_config_read(c, off_a + 4, 4), 0x06050403);
	assert_int_equal(pci_config_read(c, off_a + 8, 2), 0x0807);

	/* Ten bytes; the next one starts at the next dword. */
	off_b = pci_config_add_cap(c, b, sizeof(b), NULL);
	assert_int_equal(off_b, 0x4c);
	assert_int_equal(pci_config_read(c, off_a + 1, 1), 0x4c);
	assert_int_equal(pci_config_read(c, off_b, 4), 0xaa050009);
	assert_int_equal(pci_config_read(c, off_b + 4, 1), 0xbb);
	assert_int_equal(walk_caps(c, &last), 2);
	assert_int_equal(last, off_b);

	/* The write mask given; ID and next pointer are never the driver's. */
	pci_config_write(c, off_a, 4, 0xffffffff);
	assert_int_equal(pci_config_read(c, off_a, 4), 0x0fff4c11);
	pci_config_write(c, off_a, 4, 0);
	assert_int_equal(pci_config_read(c, off_a, 4), 0x00004c11);
	pci_config_write(c, off_a + 4, 4, 0);
	assert_int_equal(pci_config_read(c, off_a + 4, 4), 0x06050403);
	/* Without a mask: read-only. */
	pci_config_write(c, off_b, 4, 0);
	pci_config_write(c, off_b + 4, 1, 0);
	assert_int_equal(pci_config_read(c, off_b, 4), 0xaa050009);
	assert_int_equal(pci_config_read(c, off_b + 4, 1), 0xbb);
	/* Neither is the capability pointer nor the status bit. */
	pci_config_write(c, PCI_REG_CAP_PTR, 1, 0x80);
	pci_config_write(c, PCI_REG_STATUS, 2, 0);
	assert_int_equal(pci_config_read(c, PCI_REG_CAP_PTR, 1), 0x40);
	assert_true(pci_config_read(c, PCI_REG_STATUS, 2) & PCI_STATUS_CAP_LIST);
}

static void capabilities_fill_the_space(void **state)
{
	struct pci_config *c = *state;
	uint8_t body[16] = { PCI_CAP_ID_VENDOR };
	unsigned off, prev = 0, n = 0, last;

	/* Too short to be a capability. */
	assert_int_equal(pci_config_add_cap(c, body, 0, NULL), 0);
	assert_int_equal(pci_config_add_cap(c, body, 1, NULL), 0);
	assert_int_equal(pci_config_read(c, PCI_REG_CAP_PTR, 1), 0);
	assert_int_equal(pci_config_read(c, PCI_REG_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);

	/* 0x40..0xff holds twelve of 16 bytes, exactly. */
	while ((off = pci_config_add_cap(c, body, sizeof(body), NULL)) != 0) {
		assert_int_equal(off, 0x40 + 16 * n);
		assert_true(off + sizeof(body) <= PCI_CONFIG_SPACE_SIZE);
		if (prev)
			assert_int_equal(pci_config_read(c, prev + 1, 1), off);
		prev = off;
		n++;
		assert_true(n <= 12);
	}
	assert_int_equal(n, 12);
	/* Full: even the smallest is refused, and the chain stays as it was. */
	assert_int_equal(pci_config_add_cap(c, body, 2, NULL), 0);
	assert_int_equal(pci_config_read(c, prev + 1, 1), 0);
	assert_int_equal(walk_caps(c, &last), 12);
	assert_int_equal(last, 0xf0);
}

static void capability_too_big(void **state)
{
	struct pci_config *c = *state;
	uint8_t body[PCI_CONFIG_SPACE_SIZE] = { PCI_CAP_ID_VENDOR };
	uint8_t small[4] = { PCI_CAP_ID_MSIX };
	unsigned last;

	/* More than the space after the header: refused whole. */
	assert_int_equal(pci_config_add_cap(c, body, PCI_CONFIG_SPACE_SIZE - 0x40 + 1, NULL), 0);
	assert_int_equal(pci_config_read(c, PCI_REG_CAP_PTR, 1), 0);
	/* What fits still does, and fits to the last byte. */
	assert_int_equal(pci_config_add_cap(c, small, sizeof(small), NULL), 0x40);
	assert_int_equal(pci_config_add_cap(c, body, PCI_CONFIG_SPACE_SIZE - 0x44, NULL), 0x44);
	assert_int_equal(walk_caps(c, &last), 2);
	assert_int_equal(pci_config_add_cap(c, small, 2, NULL), 0);
}

/* A length so large that offset + length wraps around is still too large. */
static void capability_length_wraps(void **state)
{
	struct pci_config *c = *state;
	uint8_t body[16] = { PCI_CAP_ID_VENDOR };

	assert_int_equal(pci_config_add_cap(c, body, ~0u, NULL), 0);
	assert_int_equal(pci_config_add_cap(c, body, ~0u - 0x3f, NULL), 0);
	assert_int_equal(pci_config_read(c, PCI_REG_CAP_PTR, 1), 0);
	assert_int_equal(pci_config_read(c, PCI_REG_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
}

static void bad_accesses(void **state)
{
	struct pci_config *c = *state;
	uint8_t before[PCI_CONFIG_SPACE_SIZE];

	pci_config_write(c, PCI_REG_INTERRUPT_LINE, 1, 0x0b);
	/* Sizes other than 1, 2, 4. */
	assert_int_equal(pci_config_read(c, 0x00, 0), 0);
	assert_int_equal(pci_config_read(c, 0x00, 3), 0);
	assert_int_equal(pci_config_read(c, 0x00, 8), 0);
	/* Past the space, or running off its end. */
	assert_int_equal(pci_config_read(c, PCI_CONFIG_SPACE_SIZE, 1), 0);
	assert_int_equal(pci_config_read(c, PCI_CONFIG_SPACE_SIZE - 2, 4), 0);
	assert_int_equal(pci_config_read(c, ~0u, 1), 0);
	assert_int_equal(pci_config_read(c, ~0u - 1, 4), 0);
	assert_int_equal(pci_config_read(c, 0x1000, 4), 0);
	/* The last byte and the last dword are fine. */
	c->bytes[PCI_CONFIG_SPACE_SIZE - 1] = 0x5a;
	assert_int_equal(pci_config_read(c, PCI_CONFIG_SPACE_SIZE - 1, 1), 0x5a);
	assert_int_equal(pci_config_read(c, PCI_CONFIG_SPACE_SIZE - 4, 4), 0x5a000000);

	memcpy(before, c->bytes, sizeof(before));
	pci_config_write(c, PCI_REG_COMMAND, 3, 0xffffff);
	pci_config_write(c, PCI_REG_COMMAND, 8, 0xffffffff);
	pci_config_write(c, PCI_REG_COMMAND, 0, 0xffffffff);
	pci_config_write(c, PCI_CONFIG_SPACE_SIZE, 1, 0xff);
	pci_config_write(c, ~0u, 4, 0xffffffff);
	pci_config_set(c, 0x00, 3, 0);
	pci_config_set(c, PCI_CONFIG_SPACE_SIZE - 2, 4, 0);
	pci_config_set(c, ~0u - 1, 4, 0);
	assert_memory_equal(before, c->bytes, sizeof(before));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(identity),
		T(write_masks),
		T(bar_sizing),
		T(bar_refused),
		T(bar_decode),
		T(bar_decode_follows_moves),
		T(capabilities),
		T(capabilities_fill_the_space),
		T(capability_too_big),
		T(bad_accesses),
		T(capability_length_wraps),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
