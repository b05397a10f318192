/* wisp: a lightweight virtual machine monitor. */
#include <stdio.h>

#include "cli.h"
#include "cmd_run.h"
#include "exit_status.h"
#include "vm.h"

int main(int argc, char **argv)
{
	uint64_t t0 = monotonic_ns();
	struct vm_config cfg;

	switch (cli_parse(argc, argv, &cfg)) {
	case CLI_HELP:
		cli_usage(stdout);
		return WISP_EXIT_OK;
	case CLI_VERSION:
		printf("wisp %s\n", WISP_VERSION);
		return WISP_EXIT_OK;
	case CLI_ERROR:
		return WISP_EXIT_USAGE;
	case CLI_RUN:
		break;
	}
	return cmd_run(&cfg, t0);
}
