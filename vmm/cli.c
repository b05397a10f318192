#include "cli.h"

#include <getopt.h>
#include <string.h>

#include "loader/loader.h"
#include "log.h"
#include "memory_map.h"
#include "size.h"
#include "virtio/tap.h"

void vm_config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = WISP_DEFAULT_MEM;
	cfg->cpus = 1;
	cfg->accel = ACCEL_AUTO;
	cfg->console = CONSOLE_STDIO;
}

void cli_usage(FILE *out)
{
	fprintf(out,
		"usage: wisp run --kernel PATH [options]\n"
		"       wisp --help | --version\n"
		"\n"
		"Run a microVM. The kernel may be a Linux bzImage, an ELF vmlinux (64-bit\n"
		"or PVH entry) or a multiboot v1 image.\n"
		"\n"
		"options of run:\n"
		"  --kernel PATH        guest kernel image (required)\n"
		"  --initrd PATH        initial ramdisk (multiboot: the one module)\n"
		"  --cmdline STR        kernel command line (default for Linux:\n"
		"                       \"%s\")\n"
		"  --mem SIZE           guest RAM: 512M, 1G or bytes (default: 256M)\n"
		"  --cpus N             vCPUs, 1 to %d (default: 1)\n"
		"  --accel auto|kvm|emu CPU backend (default: auto: KVM where it runs guests\n"
		"                       natively, else the software core)\n"
		"  --console stdio|file:PATH|none\n"
		"                       where the console goes (default: stdio)\n"
		"  --console-device serial|virtio\n"
		"                       which device gets host input (default: serial,\n"
		"                       ttyS0); virtio: a virtio console, the guest's hvc0,\n"
		"                       which needs console=hvc0 on the kernel command line\n"
		"                       (after console=ttyS0 when virtio_console is a\n"
		"                       module). The serial port's output stays either way\n"
		"  --timeout SECS       stop the guest after SECS seconds (exit status 10)\n"
		"  --boot-timings       print boot progress times (POST codes) at exit\n"
		"  --testdev            add the test device (ports 0xe0-0xe7, MMIO 0x%llx)\n"
		"  --drive path=IMG[,ro][,id=NAME]\n"
		"                       add a virtio-blk disk on the raw image IMG (the\n"
		"                       guest's vda, vdb... in order); ro: read-only;\n"
		"                       id: the serial the guest reads (20 bytes at most).\n"
		"                       Up to %d drives\n"
		"  --net tap=NAME[,mac=MAC]\n"
		"                       add a virtio-net device on the host's tap interface\n"
		"                       NAME (attached, or created if missing and allowed;\n"
		"                       wisp configures nothing on the host side). mac: the\n"
		"                       guest's address, xx:xx:xx:xx:xx:xx (default: 02:...\n"
		"                       derived from NAME). Up to %d\n"
		"  --rng                add a virtio-rng device (entropy from the host's\n"
		"                       getrandom())\n"
		"  --transport auto|mmio|pci\n"
		"                       how virtio devices attach. pci: functions on PCI\n"
		"                       bus 0 (slot 1 up, MSI-X, INTx on GSI %u up); mmio:\n"
		"                       windows at 0x%llx + 0x%llx per device, GSI %u up\n"
		"                       (see --virtio-mmio-announce). auto (default): pci\n"
		"                       for a bzImage, mmio for other kernel formats\n"
		"  --virtio-mmio-announce dsdt|cmdline|dt\n"
		"                       where the kernel learns of the virtio-mmio devices\n"
		"                       (cmdline and dt make --transport auto mmio).\n"
		"                       dsdt (default): the ACPI DSDT; cmdline: the kernel\n"
		"                       command line (virtio_mmio.device=), for kernels with\n"
		"                       CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES and without ACPI\n"
		"                       (or booted with acpi=off); dt: a device tree in the\n"
		"                       bzImage's setup_data, for kernels with CONFIG_OF and\n"
		"                       without ACPI\n"
		"  --virtio-mmio-cmdline\n"
		"                       the same as --virtio-mmio-announce cmdline\n"
		"  --quiet              print errors only\n"
		"  --verbose            print debugging messages\n"
		"\n"
		"On a terminal, Ctrl-A x quits and Ctrl-A Ctrl-A sends Ctrl-A.\n"
		"\n"
		"exit status: the guest's own ((v << 1) | 1 for a debug-exit write of v),\n"
		"0 guest powered off or reset, 2 usage error, 4 image cannot be loaded,\n"
		"6 host cannot run the VM, 8 guest crashed (triple fault), 10 timeout,\n"
		"12 stopped by a signal, 14 internal error.\n",
		LINUX_DEFAULT_CMDLINE, WISP_MAX_CPUS, (unsigned long long)TESTDEV_MMIO_BASE,
		WISP_MAX_DRIVES, WISP_MAX_NETS, VIRTIO_MMIO_GSI_BASE,
		(unsigned long long)VIRTIO_MMIO_BASE, (unsigned long long)VIRTIO_MMIO_SLOT_SIZE,
		VIRTIO_MMIO_GSI_BASE);
}

enum {
	OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_MEM, OPT_CPUS, OPT_ACCEL,
	OPT_CONSOLE, OPT_TIMEOUT, OPT_BOOT_TIMINGS, OPT_TESTDEV, OPT_DRIVE, OPT_NET, OPT_RNG, OPT_TRANSPORT,
	OPT_VIRTIO_MMIO_ANNOUNCE, OPT_VIRTIO_MMIO_CMDLINE, OPT_CONSOLE_DEVICE, OPT_QUIET, OPT_VERBOSE, OPT_HELP,
};

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "accel", required_argument, NULL, OPT_ACCEL },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "console-device", required_argument, NULL, OPT_CONSOLE_DEVICE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "boot-timings", no_argument, NULL, OPT_BOOT_TIMINGS },
	{ "testdev", no_argument, NULL, OPT_TESTDEV },
	{ "drive", required_argument, NULL, OPT_DRIVE },
	{ "net", required_argument, NULL, OPT_NET },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "virtio-mmio-announce", required_argument, NULL, OPT_VIRTIO_MMIO_ANNOUNCE },
	{ "virtio-mmio-cmdline", no_argument, NULL, OPT_VIRTIO_MMIO_CMDLINE },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* The value of option opt, one of the words in names (indexed by the enum
 * they name; NULL ends the list): its index, or -1 after a message that
 * lists them. */
static int parse_choice(const char *opt, const char *arg, const char *const *names)
{
	char list[128];
	size_t len = 0;

	for (int i = 0; names[i]; i++)
		if (!strcmp(arg, names[i]))
			return i;
	list[0] = '\0';
	for (int i = 0; names[i] && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
					names[i]);
	log_error("%s: '%s' is not one of %s", opt, arg, list);
	return -1;
}

static const char *const accel_names[] = {
	[ACCEL_AUTO] = "auto", [ACCEL_KVM] = "kvm", [ACCEL_EMU] = "emu", NULL,
};
static const char *const console_device_names[] = {
	[CONSOLE_DEVICE_SERIAL] = "serial", [CONSOLE_DEVICE_VIRTIO] = "virtio", NULL,
};
static const char *const transport_names[] = {
	[VIRTIO_TRANSPORT_AUTO] = "auto", [VIRTIO_TRANSPORT_MMIO] = "mmio",
	[VIRTIO_TRANSPORT_PCI] = "pci", NULL,
};
static const char *const virtio_mmio_announce_names[] = {
	[VIRTIO_MMIO_IN_DSDT] = "dsdt", [VIRTIO_MMIO_ON_CMDLINE] = "cmdline",
	[VIRTIO_MMIO_IN_DT] = "dt", NULL,
};

/* path=IMG[,ro][,id=NAME], split in a copy the config keeps. Logs and
 * returns -1 on a mistake. */
static int parse_drive(const char *arg, struct drive_config *d)
{
	char *save = NULL;

	memset(d, 0, sizeof(*d));
	if (strlen(arg) >= sizeof(d->spec)) {
		log_error("--drive: the value is longer than %zu bytes", sizeof(d->spec) - 1);
		return -1;
	}
	strcpy(d->spec, arg);
	for (char *item = strtok_r(d->spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (!strncmp(item, "path=", 5) && item[5]) {
			d->path = item + 5;
		} else if (!strcmp(item, "ro")) {
			d->read_only = true;
		} else if (!strncmp(item, "id=", 3)) {
			if (strlen(item + 3) > 20) {
				log_error("--drive: id '%s' is longer than 20 bytes", item + 3);
				return -1;
			}
			d->id = item + 3;
		} else {
			log_error("--drive: '%s' is not one of path=IMG, ro, id=NAME", item);
			return -1;
		}
	}
	if (!d->path) {
		log_error("--drive needs path=IMG (e.g. --drive path=disk.img,ro)");
		return -1;
	}
	return 0;
}

/* xx:xx:xx:xx:xx:xx, two hex digits each. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int j = 0; j < 2; j++, s++) {
			int c = (unsigned char)*s;

			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				v = v * 16 + (unsigned)((c | 0x20) - 'a' + 10);
			else
				return -1;
		}
		mac[i] = (uint8_t)v;
		if (*s != (i < 5 ? ':' : '\0'))
			return -1;
		s++;
	}
	return 0;
}

/* tap=NAME[,mac=MAC], split in a copy the config keeps. Logs and returns
 * -1 on a mistake. */
static int parse_net(const char *arg, struct net_config *n)
{
	char *save = NULL;

	memset(n, 0, sizeof(*n));
	if (strlen(arg) >= sizeof(n->spec)) {
		log_error("--net: the value is longer than %zu bytes", sizeof(n->spec) - 1);
		return -1;
	}
	strcpy(n->spec, arg);
	for (char *item = strtok_r(n->spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (!strncmp(item, "tap=", 4)) {
			if (!tap_name_valid(item + 4)) {
				log_error("--net: '%s' is not an interface name (1 to 15 bytes, no '/', "
					  "':' or spaces)", item + 4);
				return -1;
			}
			n->tap = item + 4;
		} else if (!strncmp(item, "mac=", 4)) {
			if (parse_mac(item + 4, n->mac)) {
				log_error("--net: mac '%s' is not of the form xx:xx:xx:xx:xx:xx", item + 4);
				return -1;
			}
			/* A NIC's own address is unicast and not all zero. */
			if ((n->mac[0] & 1) || !(n->mac[0] | n->mac[1] | n->mac[2] | n->mac[3] |
						 n->mac[4] | n->mac[5])) {
				log_error("--net: mac %s is %s, not a device's address", item + 4,
					  (n->mac[0] & 1) ? "a multicast address" : "all zero");
				return -1;
			}
			n->mac_set = true;
		} else {
			log_error("--net: '%s' is not one of tap=NAME, mac=MAC", item);
			return -1;
		}
	}
	if (!n->tap) {
		log_error("--net needs tap=NAME (e.g. --net tap=tap0)");
		return -1;
	}
	return 0;
}

static int parse_console(const char *s, struct vm_config *cfg)
{
	if (!strcmp(s, "stdio")) {
		cfg->console = CONSOLE_STDIO;
	} else if (!strcmp(s, "none")) {
		cfg->console = CONSOLE_NONE;
	} else if (!strncmp(s, "file:", 5) && s[5]) {
		cfg->console = CONSOLE_FILE;
		cfg->console_path = s + 5;
	} else {
		return -1;
	}
	return 0;
}

static enum cli_action parse_run(int argc, char **argv, struct vm_config *cfg)
{
	int opt, choice;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", run_options, NULL)) != -1) {
		const char *arg = optarg;

		switch (opt) {
		case OPT_KERNEL:
			cfg->kernel_path = arg;
			break;
		case OPT_INITRD:
			cfg->initrd_path = arg;
			break;
		case OPT_CMDLINE:
			cfg->cmdline = arg;
			break;
		case OPT_MEM:
			if (parse_size(arg, &cfg->mem_size)) {
				log_error("--mem: '%s' is not a size (use e.g. 512M, 1G or a number of bytes)", arg);
				return CLI_ERROR;
			}
			if (cfg->mem_size < GUEST_RAM_MIN || cfg->mem_size > GUEST_RAM_MAX) {
				log_error("--mem: %s is outside %llu MiB to %llu GiB", arg,
					  (unsigned long long)(GUEST_RAM_MIN >> 20),
					  (unsigned long long)(GUEST_RAM_MAX >> 30));
				return CLI_ERROR;
			}
			if (cfg->mem_size & 0xfff) {
				log_error("--mem: %s is not a multiple of 4 KiB", arg);
				return CLI_ERROR;
			}
			break;
		case OPT_CPUS:
			if (parse_uint(arg, 1, WISP_MAX_CPUS, &cfg->cpus)) {
				log_error("--cpus: '%s' is not a number from 1 to %d", arg, WISP_MAX_CPUS);
				return CLI_ERROR;
			}
			break;
		case OPT_ACCEL:
			choice = parse_choice("--accel", arg, accel_names);
			if (choice < 0)
				return CLI_ERROR;
			cfg->accel = (enum accel_choice)choice;
			break;
		case OPT_CONSOLE:
			if (parse_console(arg, cfg)) {
				log_error("--console: '%s' is not one of stdio, file:PATH, none", arg);
				return CLI_ERROR;
			}
			break;
		case OPT_CONSOLE_DEVICE:
			choice = parse_choice("--console-device", arg, console_device_names);
			if (choice < 0)
				return CLI_ERROR;
			cfg->console_device = (enum console_device)choice;
			break;
		case OPT_TIMEOUT:
			if (parse_seconds(arg, &cfg->timeout_sec)) {
				log_error("--timeout: '%s' is not a positive number of seconds", arg);
				return CLI_ERROR;
			}
			break;
		case OPT_BOOT_TIMINGS:
			cfg->boot_timings = true;
			break;
		case OPT_TESTDEV:
			cfg->testdev = true;
			break;
		case OPT_DRIVE:
			if (cfg->ndrives == WISP_MAX_DRIVES) {
				log_error("--drive: at most %d drives", WISP_MAX_DRIVES);
				return CLI_ERROR;
			}
			if (parse_drive(optarg, &cfg->drives[cfg->ndrives]))
				return CLI_ERROR;
			cfg->ndrives++;
			break;
		case OPT_NET:
			if (cfg->nnets == WISP_MAX_NETS) {
				log_error("--net: at most %d network devices", WISP_MAX_NETS);
				return CLI_ERROR;
			}
			if (parse_net(arg, &cfg->nets[cfg->nnets]))
				return CLI_ERROR;
			cfg->nnets++;
			break;
		case OPT_RNG:
			cfg->rng = true;
			break;
		case OPT_TRANSPORT:
			choice = parse_choice("--transport", arg, transport_names);
			if (choice < 0)
				return CLI_ERROR;
			cfg->transport = (enum virtio_transport)choice;
			break;
		case OPT_VIRTIO_MMIO_ANNOUNCE:
			choice = parse_choice("--virtio-mmio-announce", arg,
					      virtio_mmio_announce_names);
			if (choice < 0)
				return CLI_ERROR;
			cfg->virtio_mmio_announce = (enum virtio_mmio_announce)choice;
			break;
		case OPT_VIRTIO_MMIO_CMDLINE:
			cfg->virtio_mmio_announce = VIRTIO_MMIO_ON_CMDLINE;
			break;
		case OPT_QUIET:
			log_set_level(LOG_ERROR);
			break;
		case OPT_VERBOSE:
			log_set_level(LOG_DEBUG);
			break;
		case OPT_HELP:
			return CLI_HELP;
		case ':':
			log_error("%s needs a value (see 'wisp run --help')", argv[optind - 1]);
			return CLI_ERROR;
		default:
			log_error("unknown option '%s' (see 'wisp run --help')", argv[optind - 1]);
			return CLI_ERROR;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (see 'wisp run --help')", argv[optind]);
		return CLI_ERROR;
	}
	if (!cfg->kernel_path) {
		log_error("run needs --kernel PATH (see 'wisp run --help')");
		return CLI_ERROR;
	}
	if (cfg->ndrives + cfg->nnets + cfg->rng + (cfg->console_device == CONSOLE_DEVICE_VIRTIO) >
	    VIRTIO_MMIO_SLOTS) {
		log_error("at most %u virtio devices in all (--drive, --net, --rng, "
			  "--console-device virtio)",
			  VIRTIO_MMIO_SLOTS);
		return CLI_ERROR;
	}
	if (cfg->transport == VIRTIO_TRANSPORT_PCI &&
	    cfg->virtio_mmio_announce != VIRTIO_MMIO_IN_DSDT) {
		log_error("announcing virtio-mmio devices on the command line or in a device "
			  "tree needs --transport mmio (or auto), not pci");
		return CLI_ERROR;
	}
	return CLI_RUN;
}

enum cli_action cli_parse(int argc, char **argv, struct vm_config *cfg)
{
	vm_config_defaults(cfg);
	if (argc < 2) {
		log_error("no command given (see 'wisp --help')");
		return CLI_ERROR;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return CLI_HELP;
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))
		return CLI_VERSION;
	if (!strcmp(argv[1], "run"))
		return parse_run(argc - 1, argv + 1, cfg);
	log_error("unknown command '%s' (see 'wisp --help')", argv[1]);
	return CLI_ERROR;
}
