#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/log.h"

#define TUN_DEVICE "/dev/net/tun"

bool tap_name_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const char *c = name; *c; c++)
		if (*c == '/' || *c == ':' || *c == ' ' || (*c >= '\t' && *c <= '\r'))
			return false;
	return true;
}

/* Whether an interface called name exists on the host (in this network
 * namespace), to tell "may not create" from "may not attach". */
static bool interface_exists(const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	return stat(path, &st) == 0;
}

static void explain_setiff_error(const char *name, int err)
{
	bool exists = interface_exists(name);

	switch (err) {
	case EPERM:
		if (exists)
			log_error("not permitted to attach to tap '%s' (it belongs to another "
				  "user: create it with 'ip tuntap add %s mode tap user USER')", name, name);
		else
			log_error("no tap '%s', and creating one needs CAP_NET_ADMIN (run as "
				  "root, or create it beforehand: 'ip tuntap add %s mode tap user USER')",
				  name, name);
		break;
	case EBUSY:
		log_error("tap '%s' is in use by another process", name);
		break;
	case EINVAL:
		if (exists)
			log_error("'%s' exists but is not a single-queue tap device", name);
		else
			log_error("the kernel refused to create tap '%s'", name);
		break;
	default:
		log_error("cannot attach to tap '%s': %s", name, strerror(err));
		break;
	}
}

int tap_open(const char *name)
{
	struct ifreq ifr;
	int fd, err, hdr_size = TAP_VNET_HDR_SIZE, le = 1;

	if (!tap_name_valid(name)) {
		log_error("'%s' is not a valid interface name (1 to %d bytes, no '/', ':' "
			  "or spaces)", name ? name : "", IFNAMSIZ - 1);
		return -EINVAL;
	}
	fd = open(TUN_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == ENOENT || err == ENODEV || err == ENXIO)
			log_error("no %s on this host (load the tun module)", TUN_DEVICE);
		else if (err == EACCES)
			log_error("cannot open %s for tap '%s': %s (run as root, or give this user "
				  "access to %s and a tap of its own: 'ip tuntap add %s mode tap user "
				  "USER')", TUN_DEVICE, name, strerror(err), TUN_DEVICE, name);
		else
			log_error("cannot open %s for tap '%s': %s", TUN_DEVICE, name,
				  strerror(err));
		return -err;
	}
	memset(&ifr, 0, sizeof(ifr));
	/* Attaching sets the flags too: an existing tap made without a
	 * virtio header gets one on this descriptor. */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		explain_setiff_error(name, err);
		close(fd);
		return -err;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0) {
		err = errno;
		log_error("tap '%s': the kernel refuses a %d-byte virtio header: %s", name,
			  hdr_size, strerror(err));
		close(fd);
		return -err;
	}
	/* virtio 1.x headers are little-endian. On a little-endian host that
	 * is the tap's default and a kernel without this request is fine. */
	if (ioctl(fd, TUNSETVNETLE, &le) < 0 && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) {
		err = errno;
		log_error("tap '%s': cannot set little-endian virtio headers: %s", name,
			  strerror(err));
		close(fd);
		return -err;
	}
	/* A persistent tap keeps the offloads its last user set. */
	err = -tap_set_offload(fd, 0);
	if (err) {
		log_error("tap '%s': cannot clear its offloads: %s", name, strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

int tap_set_offload(int fd, unsigned tun_flags)
{
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tun_flags) < 0)
		return -errno;
	return 0;
}
