/* The exit statuses of the wisp process: the contract with scripts and CI.
 *
 * A guest that writes v to the debug-exit port ends wisp with (v << 1) | 1,
 * which is always odd; every status wisp chooses itself is even, so a script
 * can always tell the guest's verdict from wisp's own. */
#ifndef WISP_EXIT_STATUS_H
#define WISP_EXIT_STATUS_H

enum wisp_exit_status {
	WISP_EXIT_OK = 0,          /* guest powered off or reset cleanly */
	WISP_EXIT_USAGE = 2,       /* bad flag, bad value, bad configuration */
	WISP_EXIT_IMAGE = 4,       /* kernel/initrd missing, unreadable or not loadable */
	WISP_EXIT_HOST = 6,        /* host cannot provide it: no accelerator, memory */
	WISP_EXIT_GUEST_CRASH = 8, /* triple fault or a guest the CPU cannot run */
	WISP_EXIT_TIMEOUT = 10,    /* --timeout expired */
	WISP_EXIT_SIGNAL = 12,     /* stopped by SIGINT/SIGTERM/SIGHUP */
	WISP_EXIT_INTERNAL = 14,   /* a bug in wisp */
};

#endif
