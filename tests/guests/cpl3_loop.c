/* cpl3-loop (benchmark, not a pass/fail test): N port writes at CPL 3
 * with IOPL 3 to the test device's scratch port, N from the command line
 * ("iterations=N", default 1000000; "port=P", default 0xe0). Reports the
 * TSC cycles taken and exits 0. */
#include "guest.h"

static uint16_t port;

static uint64_t loop(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		outl(port, (uint32_t)i);
	return n;
}

int guest_main(void)
{
	uint64_t n = cmdline_u64("iterations", 1000000);
	port = (uint16_t)cmdline_u64("port", 0xE0);

	printf("cpl3-loop: %lu x outl to port %#x at CPL 3\n", (unsigned long)n, port);
	uint64_t t0 = rdtsc();
	run_user(loop, n);
	uint64_t t = rdtsc() - t0;
	printf("cpl3-loop: done in %lu TSC cycles (%lu per iteration)\n", (unsigned long)t,
	       (unsigned long)(n ? t / n : 0));
	if (n && port == 0xE0 && cmdline_flag("testdev")) {
		uint32_t last = inl(port);
		if (last != (uint32_t)(n - 1)) {
			printf("FAIL: cpl3-loop: scratch port holds %#x, want %#x\n", last, (uint32_t)(n - 1));
			return 0x71;
		}
	}
	return 0;
}
