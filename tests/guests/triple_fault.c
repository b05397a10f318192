/* triple-fault: with an empty IDT (limit 0) any exception escalates to a
 * triple fault (#UD -> #GP -> #DF -> shutdown); wisp must report a guest
 * crash (exit status 8). ud2 rather than int3: KVM's instruction emulator
 * (used for CPL-0 code by the PVM host this project runs on) cannot
 * emulate INT n outside real mode and reports an emulation failure, which
 * wisp would also turn into status 8 for the wrong reason. */
#include "guest.h"

int guest_main(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } empty = { 0, 0 };

	printf("triple-fault: booted via %s; loading an IDT with limit 0 and executing ud2 "
	       "(expect exit status 8)\n", boot_kind_name());
	__asm__ volatile("lidt %0\n\tud2" :: "m"(empty) : "memory");
	printf("FAIL: triple-fault: still running after int3 with an empty IDT\n");
	return 0x33;
}
