/* The MC146818-style CMOS clock and NVRAM on ports 0x70 (index) and 0x71
 * (data). The clock reads the host's UTC time, plus whatever offset the
 * guest set; the NVRAM carries the memory-size fields a PC BIOS leaves
 * there. No alarm, periodic or update interrupts. */
#ifndef WISP_DEVICES_CMOS_RTC_H
#define WISP_DEVICES_CMOS_RTC_H

#include <stdint.h>

struct platform;
struct cmos_rtc;

/* ram_size is the guest's total RAM, split as guest_mem splits it.
 * Returns NULL after logging why. */
struct cmos_rtc *cmos_rtc_create(struct platform *p, uint64_t ram_size);
void cmos_rtc_destroy(struct cmos_rtc *c);

#endif
