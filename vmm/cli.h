/* The command line: `wisp run ...`, `wisp --help`, `wisp --version`. */
#ifndef WISP_CLI_H
#define WISP_CLI_H

#include <stdio.h>

#include "config.h"

enum cli_action { CLI_RUN, CLI_HELP, CLI_VERSION, CLI_ERROR };

/* Parses argv into cfg (which gets defaults first). On CLI_ERROR one
 * message has been printed; the caller exits with WISP_EXIT_USAGE. Checks
 * values only: files are opened later. */
enum cli_action cli_parse(int argc, char **argv, struct vm_config *cfg);

void cli_usage(FILE *out);

#endif
