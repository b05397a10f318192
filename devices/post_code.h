/* The POST diagnostic port 0x80. Firmware and test guests write progress
 * codes here; wisp notes when each code first appeared so boot phases can
 * be timed ("boot-timing:" lines). Linux also writes it as an I/O delay,
 * so a write costs no more than a lock. */
#ifndef WISP_DEVICES_POST_CODE_H
#define WISP_DEVICES_POST_CODE_H

#include <stdint.h>
#include <stdio.h>

struct platform;
struct post_code;

/* Returns NULL after logging why. The epoch defaults to creation time. */
struct post_code *post_code_create(struct platform *p);
void post_code_destroy(struct post_code *pc);

/* Times are reported relative to t0_ns, a CLOCK_MONOTONIC time (the
 * moment wisp was exec'd). */
void post_code_set_epoch(struct post_code *pc, uint64_t t0_ns);

/* One line per code seen, oldest first:
 * "boot-timing: post 0x%02x at %.3f ms". */
void post_code_report(struct post_code *pc, FILE *out);

#endif
