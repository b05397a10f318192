/* The PCI INTx route rules both boot tables hold their routes to
 * (loader/pci_intx.c): each refused route with the one message that says
 * why; the tables' own tests check only that they apply them. */
#include "fixtures.h"

#include "loader/pci_intx.h"

#define MAX_ROUTES 8

static void expect_refused(const struct loader_virtio_mmio *v, unsigned nv,
			   const struct loader_pci_intx *r, unsigned nr, const char *frag)
{
	const char *msg;

	capture_begin();
	assert_false(pci_intx_routes_valid(r, nr, MAX_ROUTES, v, nv, "the table"));
	msg = capture_end();
	assert_int_equal(count_lines(msg), 1);
	if (!strstr(msg, frag))
		fail_msg("message '%s' lacks '%s'", msg, frag);
}

static void test_valid_routes(void **state)
{
	struct loader_virtio_mmio v[2] = { mmio_slot(0), mmio_slot(1) };   /* GSI 16, 17 */
	struct loader_pci_intx r[MAX_ROUTES];

	(void)state;
	assert_true(pci_intx_routes_valid(NULL, 0, MAX_ROUTES, v, 2, "the table"));
	/* Every slot and pin the bus has, and lines shared between routes. */
	r[0] = intx_route(1, 1, 18);
	r[1] = intx_route(1, 4, 18);
	r[2] = intx_route(31, 1, 23);
	r[3] = intx_route(31, 4, 19);
	assert_true(pci_intx_routes_valid(r, 4, MAX_ROUTES, v, 2, "the table"));
	for (unsigned i = 0; i < MAX_ROUTES; i++)
		r[i] = intx_route(1 + i / 4, 1 + i % 4, 20);
	assert_true(pci_intx_routes_valid(r, MAX_ROUTES, MAX_ROUTES, v, 2, "the table"));
}

static void test_bad_routes(void **state)
{
	struct loader_pci_intx r[MAX_ROUTES + 1];
	struct loader_virtio_mmio v = mmio_slot(2);   /* GSI 18 */

	(void)state;
	for (unsigned i = 0; i <= MAX_ROUTES; i++)
		r[i] = intx_route(1 + i, 1, 16);
	expect_refused(NULL, 0, r, MAX_ROUTES + 1, "9 PCI INTx routes cannot be described in "
		       "the table (at most 8)");
	expect_refused(NULL, 0, NULL, 1, "without their table");
	r[0] = intx_route(0, 1, 16);              /* the host bridge's slot */
	expect_refused(NULL, 0, r, 1, "slot 0 pin 1 -> GSI 16 cannot be described in the table");
	r[0] = intx_route(32, 1, 16);             /* would spill into the pin bits */
	expect_refused(NULL, 0, r, 1, "slot 32");
	r[0] = intx_route(1, 0, 16);
	expect_refused(NULL, 0, r, 1, "pin 0");
	r[0] = intx_route(1, 5, 16);
	expect_refused(NULL, 0, r, 1, "pin 5");
	r[0] = intx_route(1, 1, 9);               /* ISA IRQs */
	expect_refused(NULL, 0, r, 1, "GSI 9");
	r[0] = intx_route(1, 1, 15);
	expect_refused(NULL, 0, r, 1, "GSI 15");
	r[0] = intx_route(1, 1, 24);              /* past the IOAPIC */
	expect_refused(NULL, 0, r, 1, "GSI 24");
	r[0] = intx_route(3, 2, 16);
	r[1] = intx_route(4, 2, 17);
	r[2] = intx_route(3, 2, 19);              /* slot 3's INTB# again */
	expect_refused(NULL, 0, r, 3, "slot 3 pin 2 has two");
	r[2] = intx_route(5, 1, 18);              /* virtio-mmio device 2's line */
	expect_refused(&v, 1, r, 3, "GSI 18 is both");
	/* The same routes without that device are fine. */
	assert_true(pci_intx_routes_valid(r, 3, MAX_ROUTES, NULL, 0, "the table"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_routes),
		cmocka_unit_test(test_bad_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
