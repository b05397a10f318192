/* Parsing sizes and counts given on the command line. */
#ifndef WISP_SIZE_H
#define WISP_SIZE_H

#include <stdint.h>

/* "512M", "1G", "4096", "2k", "1T" (binary units, case-insensitive, an
 * optional "iB"/"B" suffix). Returns 0 or -1 for anything else, including
 * overflow, a sign, empty input and trailing garbage. */
int parse_size(const char *s, uint64_t *out);

/* A decimal unsigned number in [min, max]; 0 or -1. */
int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

/* Seconds: a positive decimal number ("30", "0.5"); 0 or -1. */
int parse_seconds(const char *s, double *out);

#endif
