// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What crosses the boundary between the agent and a kernel vhost-vdpa
 * device (/dev/vhost-vdpa-N), apart from the ioctls' plain integers:
 *
 *   - the IOTLB messages (VHOST_IOTLB_MSG_V2) written to the device's fd to
 *     map and unmap the device's IOVA space, and read from it when the
 *     kernel reports a miss or an access failure;
 *   - the virtio-net configuration space (VHOST_VDPA_GET_CONFIG);
 *   - the IOVA range (VHOST_VDPA_GET_IOVA_RANGE) a mapping must fit.
 *
 * The layouts are the Linux uAPI's (<linux/vhost_types.h>,
 * <linux/virtio_net.h>), written out here so that the parsers do not
 * depend on the build host's kernel headers (Debian 12's lack SUSPEND).
 *
 * Trust boundary: what the device (the kernel driver and the hardware
 * behind it) writes is untrusted: a message read from the fd, the config
 * space, the IOVA range.  Every field is checked before use; nothing is
 * asserted.  What we encode is checked too, so that a bad mapping is
 * refused here with a reason rather than by the kernel with EINVAL.
 */
#ifndef VDPA_PROTOCOL_VHOST_VDPA_H
#define VDPA_PROTOCOL_VHOST_VDPA_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/msg_table.h"

/* struct vhost_msg_v2: type, asid, then a 64-byte union holding the IOTLB message. */
#define VDPA_MSG_V2 2u
#define VDPA_MSG_V2_SIZE 72u
#define VDPA_IOTLB_OFF 8u	/* iova u64, size u64, uaddr u64, perm u8, type u8 (packed) */

enum vdpa_iotlb_type {
	VDPA_IOTLB_MISS = 1,
	VDPA_IOTLB_UPDATE = 2,
	VDPA_IOTLB_INVALIDATE = 3,
	VDPA_IOTLB_ACCESS_FAIL = 4,
	VDPA_IOTLB_BATCH_BEGIN = 5,
	VDPA_IOTLB_BATCH_END = 6,
};

enum vdpa_access {
	VDPA_ACCESS_RO = 1,
	VDPA_ACCESS_WO = 2,
	VDPA_ACCESS_RW = 3,
};

/* VHOST_GET/SET_BACKEND_FEATURES bits. */
enum vdpa_backend_feature {
	VDPA_BACKEND_F_IOTLB_MSG_V2 = 1,
	VDPA_BACKEND_F_IOTLB_BATCH = 2,
	VDPA_BACKEND_F_IOTLB_ASID = 3,
	VDPA_BACKEND_F_SUSPEND = 4,
	VDPA_BACKEND_F_RESUME = 5,
	VDPA_BACKEND_F_ENABLE_AFTER_DRIVER_OK = 6,
	VDPA_BACKEND_F_DESC_ASID = 7,
	VDPA_BACKEND_F_IOTLB_PERSIST = 8,
};

struct vdpa_iotlb {
	uint32_t asid;
	uint8_t type;		/* enum vdpa_iotlb_type */
	uint8_t perm;		/* enum vdpa_access: UPDATE, MISS, ACCESS_FAIL */
	uint64_t iova;
	uint64_t size;		/* UPDATE, INVALIDATE: bytes, at least 1 */
	uint64_t uaddr;		/* UPDATE: our virtual address of the memory */
};

/* The IOVA space a device can address, both ends inclusive. */
struct vdpa_iova_range {
	uint64_t first, last;
};

/*
 * Encodes m as a VHOST_IOTLB_MSG_V2 message of VDPA_MSG_V2_SIZE bytes into
 * buf (len at least that).  Only what the agent sends: UPDATE (size >= 1,
 * no wrap of iova or uaddr, perm RO/WO/RW), INVALIDATE (size >= 1, no wrap),
 * BATCH_BEGIN and BATCH_END (the rest zero).  -EINVAL with err's reason
 * otherwise.
 */
int vdpa_iotlb_encode(const struct vdpa_iotlb *m, uint8_t *buf, size_t len, size_t *ret_len,
		      struct msg_err *err);

/*
 * Parses what the device's fd gave on read(): a V2 message of exactly
 * VDPA_MSG_V2_SIZE bytes whose IOTLB type is MISS or ACCESS_FAIL (what the
 * kernel reports) with a valid perm, or, for tests and tools, any type
 * vdpa_iotlb_encode() makes.  -EBADMSG with err's reason otherwise.
 */
int vdpa_iotlb_parse(const uint8_t *buf, size_t len, struct vdpa_iotlb *ret,
		     struct msg_err *err);

/*
 * Checks a device's IOVA range (first <= last) and that [iova, iova + size)
 * lies inside it (size >= 1, no wrap).  0, or -ERANGE / -EINVAL with err's
 * reason.
 */
int vdpa_iova_check(const struct vdpa_iova_range *range, uint64_t iova, uint64_t size,
		    struct msg_err *err);

/* virtio-net config space members the agent reads, by offering feature. */
#define VDPA_NET_F_MTU 3
#define VDPA_NET_F_MAC 5
#define VDPA_NET_F_STATUS 16
#define VDPA_NET_F_MQ 22
#define VDPA_NET_CONFIG_MAX 256

struct vdpa_net_config {
	uint32_t has;			/* bits: VDPA_NET_F_* the device offered and filled */
	uint8_t mac[6];
	uint16_t status;		/* VIRTIO_NET_S_LINK_UP = 1, ANNOUNCE = 2 */
	uint16_t max_virtqueue_pairs;	/* 1..0x8000 */
	uint16_t mtu;			/* 68..65535 */
};

/*
 * Parses the first len bytes of a virtio-net device's config space (little
 * endian, VIRTIO_F_VERSION_1), reading only the members the features offer:
 * mac (MAC), status (STATUS), max_virtqueue_pairs (MQ, 1..0x8000), mtu
 * (MTU, at least 68).  A member the features offer must lie within len.
 * -EBADMSG with err's reason otherwise.
 */
int vdpa_net_config_parse(const uint8_t *buf, size_t len, uint64_t features,
			  struct vdpa_net_config *ret, struct msg_err *err);

/* "IOTLB_MSG_V2", ... or NULL for an unknown bit. */
const char *vdpa_backend_feature_name(unsigned bit);

#endif
