#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/cli.h"
#include "vmm/log.h"

#define ARGV(...) ((char *[]){ "wisp", __VA_ARGS__, NULL })

static enum cli_action parse(struct vm_config *cfg, char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return cli_parse(argc, argv, cfg);
}

static void full_run_command(void **state)
{
	struct vm_config cfg;

	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k.bin", "--initrd", "i.img",
					  "--cmdline", "console=ttyS0 quiet", "--mem", "1G",
					  "--cpus", "4", "--accel", "kvm", "--console",
					  "file:/tmp/out.log", "--timeout", "2.5",
					  "--boot-timings", "--testdev")),
			 CLI_RUN);
	assert_string_equal(cfg.kernel_path, "k.bin");
	assert_string_equal(cfg.initrd_path, "i.img");
	assert_string_equal(cfg.cmdline, "console=ttyS0 quiet");
	assert_int_equal(cfg.mem_size, 1ull << 30);
	assert_int_equal(cfg.cpus, 4);
	assert_int_equal(cfg.accel, ACCEL_KVM);
	assert_int_equal(cfg.console, CONSOLE_FILE);
	assert_string_equal(cfg.console_path, "/tmp/out.log");
	assert_true(cfg.timeout_sec == 2.5);
	assert_true(cfg.boot_timings);
	assert_true(cfg.testdev);
}

static void defaults(void **state)
{
	struct vm_config cfg;

	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k")), CLI_RUN);
	assert_null(cfg.initrd_path);
	assert_null(cfg.cmdline);
	assert_int_equal(cfg.mem_size, WISP_DEFAULT_MEM);
	assert_int_equal(cfg.cpus, 1);
	assert_int_equal(cfg.accel, ACCEL_AUTO);
	assert_int_equal(cfg.console, CONSOLE_STDIO);
	assert_int_equal(cfg.console_device, CONSOLE_DEVICE_SERIAL);
	assert_true(cfg.timeout_sec == 0);
	assert_false(cfg.testdev);
	assert_false(cfg.rng);
	assert_int_equal(cfg.transport, VIRTIO_TRANSPORT_AUTO);
	assert_int_equal(cfg.virtio_mmio_announce, VIRTIO_MMIO_IN_DSDT);
}

static void virtio_options(void **state)
{
	struct vm_config cfg;

	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--rng", "--transport", "mmio",
					  "--virtio-mmio-cmdline")), CLI_RUN);
	assert_true(cfg.rng);
	assert_int_equal(cfg.transport, VIRTIO_TRANSPORT_MMIO);
	assert_int_equal(cfg.virtio_mmio_announce, VIRTIO_MMIO_ON_CMDLINE);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--transport=mmio")), CLI_RUN);
	assert_false(cfg.rng);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--rng", "--transport", "pci")),
			 CLI_RUN);
	assert_int_equal(cfg.transport, VIRTIO_TRANSPORT_PCI);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--transport", "auto")), CLI_RUN);
	assert_int_equal(cfg.transport, VIRTIO_TRANSPORT_AUTO);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--virtio-mmio-announce", "dt")),
			 CLI_RUN);
	assert_int_equal(cfg.virtio_mmio_announce, VIRTIO_MMIO_IN_DT);
	assert_int_equal(cfg.transport, VIRTIO_TRANSPORT_AUTO);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--virtio-mmio-announce=cmdline")),
			 CLI_RUN);
	assert_int_equal(cfg.virtio_mmio_announce, VIRTIO_MMIO_ON_CMDLINE);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--transport", "pci",
					  "--virtio-mmio-announce", "dsdt")), CLI_RUN);
	assert_int_equal(cfg.virtio_mmio_announce, VIRTIO_MMIO_IN_DSDT);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--virtio-mmio-announce", "of")),
			 CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--virtio-mmio-announce")),
			 CLI_ERROR);
	/* The command line and the device tree describe only virtio-mmio
	 * devices. */
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--transport", "pci",
					  "--virtio-mmio-cmdline")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--transport", "pci",
					  "--virtio-mmio-announce", "dt")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--transport", "ccw")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--transport")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--rng=yes")), CLI_ERROR);
}

static void drives(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--drive", "path=a.img",
					  "--drive=ro,id=serial-2,path=/x/b.img")), CLI_RUN);
	assert_int_equal(cfg.ndrives, 2);
	assert_string_equal(cfg.drives[0].path, "a.img");
	assert_false(cfg.drives[0].read_only);
	assert_null(cfg.drives[0].id);
	assert_string_equal(cfg.drives[1].path, "/x/b.img");
	assert_true(cfg.drives[1].read_only);
	assert_string_equal(cfg.drives[1].id, "serial-2");
	/* A 20-byte id is the most GET_ID carries. */
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--drive",
					  "path=a,id=12345678901234567890")), CLI_RUN);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--drive",
					  "path=a,id=123456789012345678901")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--drive", "ro")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--drive", "path=")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--drive", "path=a,rw")), CLI_ERROR);
}

static void nets(void **state)
{
	struct vm_config cfg;
	const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net", "tap=tap0",
					  "--net=mac=52:54:00:AB:cd:ef,tap=wisp-1")), CLI_RUN);
	assert_int_equal(cfg.nnets, 2);
	assert_string_equal(cfg.nets[0].tap, "tap0");
	assert_false(cfg.nets[0].mac_set);
	assert_string_equal(cfg.nets[1].tap, "wisp-1");
	assert_true(cfg.nets[1].mac_set);
	assert_memory_equal(cfg.nets[1].mac, mac, 6);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k")), CLI_RUN);
	assert_int_equal(cfg.nnets, 0);

	/* No tap, or not an interface name. */
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net", "mac=02:00:00:00:00:01")),
			 CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net", "tap=")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net", "tap=a/b")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net", "tap=sixteen-bytes-xx")),
			 CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net", "tap=t,queues=2")),
			 CLI_ERROR);
	/* MACs: the form, and a device's own address. */
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net",
					  "tap=t,mac=02:00:00:00:00")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net",
					  "tap=t,mac=02:00:00:00:00:01:02")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net",
					  "tap=t,mac=02:00:00:00:00:0g")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net",
					  "tap=t,mac=2:00:00:00:00:01")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net",
					  "tap=t,mac=03:00:00:00:00:01")), CLI_ERROR);   /* multicast */
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net",
					  "tap=t,mac=00:00:00:00:00:00")), CLI_ERROR);
	/* At most WISP_MAX_NETS, and 8 virtio devices in all. */
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net", "tap=a", "--net", "tap=b",
					  "--net", "tap=c", "--net", "tap=d", "--net", "tap=e")),
			 CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net", "tap=a", "--net", "tap=b",
					  "--drive", "path=1", "--drive", "path=2", "--drive", "path=3",
					  "--drive", "path=4", "--drive", "path=5", "--drive", "path=6")),
			 CLI_RUN);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--net", "tap=a", "--net", "tap=b",
					  "--drive", "path=1", "--drive", "path=2", "--drive", "path=3",
					  "--drive", "path=4", "--drive", "path=5", "--drive", "path=6",
					  "--rng")), CLI_ERROR);
}

static void equals_form_and_console_variants(void **state)
{
	struct vm_config cfg;

	assert_int_equal(parse(&cfg, ARGV("run", "--kernel=k", "--mem=512M", "--console=none",
					  "--accel=emu")), CLI_RUN);
	assert_int_equal(cfg.mem_size, 512ull << 20);
	assert_int_equal(cfg.console, CONSOLE_NONE);
	assert_int_equal(cfg.accel, ACCEL_EMU);
}

static void console_device(void **state)
{
	struct vm_config cfg;

	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--console-device", "virtio")),
			 CLI_RUN);
	assert_int_equal(cfg.console_device, CONSOLE_DEVICE_VIRTIO);
	assert_int_equal(cfg.console, CONSOLE_STDIO);      /* output: unchanged */
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--console-device=virtio",
					  "--console-device=serial", "--console", "none")), CLI_RUN);
	assert_int_equal(cfg.console_device, CONSOLE_DEVICE_SERIAL);
	assert_int_equal(cfg.console, CONSOLE_NONE);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--console-device", "hvc")),
			 CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--console-device")), CLI_ERROR);
	/* --console keeps its own values: the device is not one of them. */
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--console", "virtio")), CLI_ERROR);
}

static void help_and_version(void **state)
{
	struct vm_config cfg;

	assert_int_equal(parse(&cfg, ARGV("--help")), CLI_HELP);
	assert_int_equal(parse(&cfg, ARGV("-h")), CLI_HELP);
	assert_int_equal(parse(&cfg, ARGV("--version")), CLI_VERSION);
	assert_int_equal(parse(&cfg, ARGV("run", "--help")), CLI_HELP);
}

static void errors(void **state)
{
	struct vm_config cfg;

	assert_int_equal(parse(&cfg, (char *[]){ "wisp", NULL }), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("fly")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run")), CLI_ERROR);                   /* no kernel */
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel")), CLI_ERROR);       /* no value */
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--bogus")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "extra")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--mem", "lots")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--mem", "1M")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--mem", "5000")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--mem", "4T")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--cpus", "0")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--cpus", "65")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--cpus", "two")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--accel", "tcg")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--console", "tty")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--console", "file:")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--timeout", "0")), CLI_ERROR);
	assert_int_equal(parse(&cfg, ARGV("run", "--kernel", "k", "--timeout", "soon")), CLI_ERROR);
}

static int quiet(void **state)
{
	/* The error messages are the point of the parser but noise here. */
	log_set_level(LOG_SILENT);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_run_command),
		cmocka_unit_test(defaults),
		cmocka_unit_test(equals_form_and_console_variants),
		cmocka_unit_test(console_device),
		cmocka_unit_test(help_and_version),
		cmocka_unit_test(errors),
		cmocka_unit_test(virtio_options),
		cmocka_unit_test(drives),
		cmocka_unit_test(nets),
	};
	return cmocka_run_group_tests(tests, quiet, NULL);
}
