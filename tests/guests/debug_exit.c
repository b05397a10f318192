/* debug-exit: write 0x2A to the debug-exit port; wisp must exit with
 * (0x2A << 1) | 1 = 85. */
#include "guest.h"

int guest_main(void)
{
	printf("debug-exit: booted via %s, writing 0x2a to port %#x (expect exit status 85)\n",
	       boot_kind_name(), DEBUG_EXIT_PORT);
	outl(DEBUG_EXIT_PORT, 0x2A);
	printf("FAIL: debug-exit: still running after the write\n");
	return 0x2B;
}
