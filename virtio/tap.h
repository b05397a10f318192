/* The host side of a virtio-net device: a tap interface (/dev/net/tun,
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR).
 *
 * Every frame read from or written to the descriptor is preceded by
 * TAP_VNET_HDR_SIZE bytes laid out as virtio 1.x's struct
 * virtio_net_hdr_v1 (little-endian): the tap takes the guest's header as
 * it is and gives one the guest can take, so checksum and segmentation
 * offloads pass through without wisp touching a packet.
 *
 * Nothing is configured on the host side: the interface is neither
 * brought up nor given an address. That is the user's (or a script's)
 * business, before or after wisp starts. */
#ifndef WISP_VIRTIO_TAP_H
#define WISP_VIRTIO_TAP_H

#include <stdbool.h>

#define TAP_VNET_HDR_SIZE 12     /* sizeof(struct virtio_net_hdr_v1) */

/* Whether name can name a network interface: 1 to 15 bytes, not "." or
 * "..", no '/', ':' or white space (the kernel's rules). */
bool tap_name_valid(const char *name);

/* Attach to the tap interface name, or create it when there is none and
 * the process may (CAP_NET_ADMIN; a tap made here goes away with the
 * descriptor). Returns the descriptor (O_NONBLOCK, O_CLOEXEC, no offload
 * enabled) or a negative errno after one message that names the tap and
 * says why: no /dev/net/tun, not permitted, an interface of that name
 * that is not a single-queue tap, a tap another process holds. */
int tap_open(const char *name);

/* Which offloads the tap may use towards us (TUN_F_CSUM, TUN_F_TSO4,
 * TUN_F_TSO6, TUN_F_TSO_ECN: what the reader accepts in frames it reads).
 * 0 or a negative errno (-EINVAL: a combination the kernel refuses,
 * -ENOTTY: fd is not a tap). */
int tap_set_offload(int fd, unsigned tun_flags);

#endif
