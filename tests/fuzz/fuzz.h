/* The entry point every fuzz target defines: libFuzzer calls it with each
 * input; replay.c's main calls it with the saved ones. */
#ifndef WISP_TESTS_FUZZ_H
#define WISP_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
