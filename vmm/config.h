/* What the user asked for: the result of parsing the command line, before
 * anything is opened or allocated. */
#ifndef WISP_CONFIG_H
#define WISP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "accel.h"
#include "loader/virtio_mmio_announce.h"

#define WISP_DEFAULT_MEM      (256ull << 20)
#define WISP_MAX_CPUS         64

enum console_kind { CONSOLE_STDIO, CONSOLE_FILE, CONSOLE_NONE };
/* Which device gets host input (its output goes where --console says,
 * as the serial port's always does). */
enum console_device { CONSOLE_DEVICE_SERIAL, CONSOLE_DEVICE_VIRTIO };
/* AUTO: pci for a bzImage (a distribution kernel finds PCI devices on its
 * own), mmio for the other formats and when the devices are announced on
 * the command line or in a device tree. */
enum virtio_transport { VIRTIO_TRANSPORT_AUTO, VIRTIO_TRANSPORT_MMIO, VIRTIO_TRANSPORT_PCI };

/* Drives the command line may add (virtio-mmio has 8 slots in all). */
#define WISP_MAX_DRIVES 6

/* --drive path=IMG[,ro][,id=NAME] */
struct drive_config {
	const char *path;           /* these point into spec */
	bool read_only;
	const char *id;             /* NULL: none (GET_ID answers empty) */
	char spec[4200];            /* the option's value, split at its commas */
};

/* Network devices the command line may add. */
#define WISP_MAX_NETS 4

/* --net tap=NAME[,mac=xx:xx:xx:xx:xx:xx] */
struct net_config {
	const char *tap;            /* the host's tap interface; points into spec */
	uint8_t mac[6];
	bool mac_set;               /* else derived from the tap's name */
	char spec[64];              /* the option's value, split at its commas */
};

struct vm_config {
	const char *kernel_path;
	const char *initrd_path;    /* NULL: none */
	const char *cmdline;        /* NULL: the loader's default */
	uint64_t mem_size;
	unsigned cpus;
	enum accel_choice accel;
	enum console_kind console;
	const char *console_path;   /* CONSOLE_FILE only */
	enum console_device console_device;  /* --console-device */
	double timeout_sec;         /* 0: none */
	bool boot_timings;
	bool testdev;
	bool rng;                   /* a virtio-rng device */
	struct drive_config drives[WISP_MAX_DRIVES];  /* virtio-blk devices */
	unsigned ndrives;
	struct net_config nets[WISP_MAX_NETS];  /* virtio-net devices */
	unsigned nnets;
	enum virtio_transport transport;  /* of the virtio devices */
	enum virtio_mmio_announce virtio_mmio_announce;  /* where the kernel learns
	                             * of the virtio-mmio devices */
};

void vm_config_defaults(struct vm_config *cfg);

#endif
