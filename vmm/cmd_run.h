/* `wisp run`: build the VM the configuration describes, boot it, serve
 * it until it stops, and turn how it stopped into the exit status. */
#ifndef WISP_CMD_RUN_H
#define WISP_CMD_RUN_H

#include <stdint.h>

#include "config.h"

int cmd_run(const struct vm_config *cfg, uint64_t t0_ns);

#endif
