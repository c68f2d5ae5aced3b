/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-vfio: vhost requests carried over a VFIO device (the 2018 proposal
 * in seed/vdpa-talk.txt, with its log fixed).  Wire structs, the one
 * parser for requests and replies, and their encoders.
 *
 * The device layout, client's view:
 *   region 0   the request mailbox.  The client writes one message
 *              {u64 request; u32 flags; u32 size; payload} at offset 0 and,
 *              when a reply is due (vv_expects_reply()), reads one back in
 *              the same layout (request echoed, flags REPLY).
 *              Batches: a device that says "mailbox_batch":true in its
 *              vfio-user VERSION capabilities also takes several messages
 *              back to back in one write, each of which must expect a
 *              reply, and whose replies (VV_REPLY_SIZE each) must fit the
 *              mailbox; otherwise it refuses the write and runs none.  It
 *              runs them in order, every one (a refusal travels in that
 *              request's reply), and one read returns their replies back
 *              to back, in order.  Split with vv_msg_size().
 *              Conditional: a device that also says "mailbox_if_ok":true
 *              carries out a request flagged VV_FLAG_IF_OK only when every
 *              request before it in the same write succeeded; otherwise
 *              its reply refuses it with ECANCELED and it is not run (a
 *              START after a configuration: one round trip for both, and
 *              no start on a configuration the device refused in part).
 *              Alone in its write, or first, it runs as any request.
 *   region 1   notify area, VV_NOTIFY_STRIDE (4 KiB) per queue: writing the
 *              queue index at queue * 4096 is the doorbell.  This is why
 *              VHOST_SET_VRING_KICK does not travel over the mailbox: a kick
 *              is that write, or an ioeventfd on it obtained with vfio-user
 *              DEVICE_GET_REGION_IO_FDS.
 *   irqs       MSI-X, one vector per vring, vector = queue index: the call
 *              eventfds are bound with VFIO SET_IRQS (DATA_EVENTFD |
 *              ACTION_TRIGGER), so VHOST_SET_VRING_CALL does not travel
 *              over the mailbox either.
 *   DMA        guest memory and the log buffer are DMA-mapped (vfio-user
 *              DMA_MAP); every address in a request is an IOVA.  The agent
 *              maps guest memory with IOVA = GPA, so a memory table's
 *              userspace_addr equals guest_phys_addr in practice, but the
 *              device must not assume it.
 *
 * Request numbers are the Linux VHOST_* ioctl numbers (linux/vhost.h,
 * _IOC encoding: dir << 30 | size << 16 | 0xAF << 8 | nr), plus two of our
 * own with bit 32 set, outside the 32-bit ioctl space:
 *   DEVICE_SET_STATE    start/stop the device (stop: no DMA after the reply)
 *   SET_LOG_BASE_IOVA   the log as {iova, size, granularity_shift} of a
 *                       DMA-mapped buffer.  The proposal sent VHOST_SET_LOG_BASE
 *                       with a raw host address, which no device can use;
 *                       that request is known and refused, and the new one
 *                       has its own number so a device that implements the
 *                       proposal refuses it instead of logging into a
 *                       random address.
 *
 * Trust boundary: for the device (vdpa-simd), the requests come from the
 * client; for the agent, the replies come from the device.  Both are
 * untrusted and both go through vv_parse(), the only place that looks at
 * mailbox bytes.  A mailbox carries no fds, so the parser takes none.
 *
 * Nothing here does I/O or logs.
 */
#ifndef VDPA_PROTOCOL_VHOST_VFIO_H
#define VDPA_PROTOCOL_VHOST_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/msg_table.h"

/* ---- wire constants --------------------------------------------------- */

#define VV_IOC_NONE 0u
#define VV_IOC_WRITE 1u
#define VV_IOC_READ 2u
#define VV_VHOST_TYPE 0xafu /* VHOST_VIRTIO */
#define VV_IOC(dir, nr, size)                                              \
	(((uint64_t)(dir) << 30) | ((uint64_t)(size) << 16) |                  \
	 ((uint64_t)VV_VHOST_TYPE << 8) | (uint64_t)(nr))

/* Written out; the asserts below tie each to its _IOC encoding. */
#define VV_REQ_GET_FEATURES UINT64_C(0x8008af00)   /* _IOR(0xAF, 0x00, __u64) */
#define VV_REQ_SET_FEATURES UINT64_C(0x4008af00)   /* _IOW(0xAF, 0x00, __u64) */
#define VV_REQ_SET_OWNER UINT64_C(0x0000af01)      /* _IO(0xAF, 0x01) */
#define VV_REQ_RESET_OWNER UINT64_C(0x0000af02)    /* _IO(0xAF, 0x02) */
#define VV_REQ_SET_MEM_TABLE UINT64_C(0x4008af03)  /* _IOW(0xAF, 0x03, struct vhost_memory) */
#define VV_REQ_SET_LOG_BASE UINT64_C(0x4008af04)   /* _IOW(0xAF, 0x04, __u64): refused */
#define VV_REQ_SET_LOG_FD UINT64_C(0x4004af07)     /* _IOW(0xAF, 0x07, int): refused */
#define VV_REQ_SET_VRING_NUM UINT64_C(0x4008af10)  /* _IOW(0xAF, 0x10, struct vhost_vring_state) */
#define VV_REQ_SET_VRING_ADDR UINT64_C(0x4028af11) /* _IOW(0xAF, 0x11, struct vhost_vring_addr) */
#define VV_REQ_SET_VRING_BASE UINT64_C(0x4008af12) /* _IOW(0xAF, 0x12, struct vhost_vring_state) */
#define VV_REQ_GET_VRING_BASE UINT64_C(0xc008af12) /* _IOWR(0xAF, 0x12, struct vhost_vring_state) */
#define VV_REQ_SET_VRING_KICK UINT64_C(0x4008af20) /* _IOW(0xAF, 0x20, struct vhost_vring_file): refused */
#define VV_REQ_SET_VRING_CALL UINT64_C(0x4008af21) /* _IOW(0xAF, 0x21, struct vhost_vring_file): refused */
/* Ours: bit 32 set, no ioctl number can collide. */
#define VV_REQ_PRIVATE UINT64_C(0x100000000)
#define VV_REQ_DEVICE_SET_STATE UINT64_C(0x100000001)
#define VV_REQ_SET_LOG_BASE_IOVA UINT64_C(0x100000002)

_Static_assert(VV_REQ_GET_FEATURES == VV_IOC(VV_IOC_READ, 0x00, 8), "VHOST_GET_FEATURES");
_Static_assert(VV_REQ_SET_FEATURES == VV_IOC(VV_IOC_WRITE, 0x00, 8), "VHOST_SET_FEATURES");
_Static_assert(VV_REQ_SET_OWNER == VV_IOC(VV_IOC_NONE, 0x01, 0), "VHOST_SET_OWNER");
_Static_assert(VV_REQ_RESET_OWNER == VV_IOC(VV_IOC_NONE, 0x02, 0), "VHOST_RESET_OWNER");
_Static_assert(VV_REQ_SET_MEM_TABLE == VV_IOC(VV_IOC_WRITE, 0x03, 8), "VHOST_SET_MEM_TABLE");
_Static_assert(VV_REQ_SET_LOG_BASE == VV_IOC(VV_IOC_WRITE, 0x04, 8), "VHOST_SET_LOG_BASE");
_Static_assert(VV_REQ_SET_LOG_FD == VV_IOC(VV_IOC_WRITE, 0x07, 4), "VHOST_SET_LOG_FD");
_Static_assert(VV_REQ_SET_VRING_NUM == VV_IOC(VV_IOC_WRITE, 0x10, 8), "VHOST_SET_VRING_NUM");
_Static_assert(VV_REQ_SET_VRING_ADDR == VV_IOC(VV_IOC_WRITE, 0x11, 40), "VHOST_SET_VRING_ADDR");
_Static_assert(VV_REQ_SET_VRING_BASE == VV_IOC(VV_IOC_WRITE, 0x12, 8), "VHOST_SET_VRING_BASE");
_Static_assert(VV_REQ_GET_VRING_BASE == VV_IOC(VV_IOC_READ | VV_IOC_WRITE, 0x12, 8),
	       "VHOST_GET_VRING_BASE");
_Static_assert(VV_REQ_SET_VRING_KICK == VV_IOC(VV_IOC_WRITE, 0x20, 8), "VHOST_SET_VRING_KICK");
_Static_assert(VV_REQ_SET_VRING_CALL == VV_IOC(VV_IOC_WRITE, 0x21, 8), "VHOST_SET_VRING_CALL");

/* Header flags. */
#define VV_FLAG_NEED_REPLY (1u << 0) /* request: answer even a SET_* */
#define VV_FLAG_REPLY (1u << 1)      /* this is the device's reply */
#define VV_FLAG_ERROR (1u << 2)      /* reply: the request failed, payload is the errno */
#define VV_FLAG_IF_OK (1u << 3)      /* request: only if the batch so far succeeded */
#define VV_FLAG_KNOWN (VV_FLAG_NEED_REPLY | VV_FLAG_REPLY | VV_FLAG_ERROR | VV_FLAG_IF_OK)

/* DEVICE_SET_STATE values. */
enum vv_device_state {
	VV_STATE_STOP = 0,
	VV_STATE_START = 1,
};

/* SET_VRING_ADDR flags: bit 0 asks the device to log used-ring writes. */
#define VV_VRING_F_LOG (1u << 0)

/* Device layout. */
#define VV_REGION_MAILBOX 0u
#define VV_REGION_NOTIFY 1u
#define VV_NOTIFY_STRIDE 4096u

#define VV_HDR_SIZE 16u
#define VV_MAX_MEM_REGIONS 8u
#define VV_MAX_RING_SIZE 32768u
#define VV_LOG_SHIFT_MIN 12u              /* 4 KiB per bit */
#define VV_LOG_SHIFT_MAX 21u              /* 2 MiB per bit */
#define VV_MAX_LOG_SIZE (UINT64_C(256) << 20) /* 8 TiB of IOVA at 4 KiB per bit */
#define VV_MAX_ERRNO 4095u

/* ---- wire structs (native endian, packed, sizes asserted) -------------- */

struct vv_wire_hdr {
	uint64_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes after the header */
} __attribute__((packed));

struct vv_wire_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vv_wire_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;  /* IOVAs, despite the names (struct vhost_vring_addr) */
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
} __attribute__((packed));

struct vv_wire_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr; /* the IOVA the region is DMA-mapped at */
	uint64_t flags_padding;
} __attribute__((packed));

/* SET_MEM_TABLE: only nregions entries of regions[] are on the wire. */
struct vv_wire_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vv_wire_mem_region regions[VV_MAX_MEM_REGIONS];
} __attribute__((packed));

/* SET_LOG_BASE_IOVA. */
struct vv_wire_log {
	uint64_t iova;              /* of the DMA-mapped log buffer */
	uint64_t size;              /* bytes; a multiple of 8 (QEMU reads u64 words) */
	uint32_t granularity_shift; /* log2 of the bytes one bit covers: 12..21 */
	uint32_t padding;
} __attribute__((packed));

_Static_assert(sizeof(struct vv_wire_hdr) == VV_HDR_SIZE, "vhost-vfio header");
_Static_assert(sizeof(struct vv_wire_vring_state) == 8, "vring state");
_Static_assert(sizeof(struct vv_wire_vring_addr) == 40, "vring addr");
_Static_assert(sizeof(struct vv_wire_mem_region) == 32, "memory region");
_Static_assert(sizeof(struct vv_wire_mem_table) == 8 + 8 * 32, "memory table");
_Static_assert(sizeof(struct vv_wire_log) == 24, "log");

#define VV_MAX_PAYLOAD ((uint32_t)sizeof(struct vv_wire_mem_table))
/* Every reply: the header and 8 bytes (a u64, a vring state, a status or an errno). */
#define VV_REPLY_SIZE (VV_HDR_SIZE + 8u)
/* The mailbox region must hold this much. */
#define VV_MAX_MSG (VV_HDR_SIZE + VV_MAX_PAYLOAD)

/* ---- parsed messages ---------------------------------------------------- */

struct vv_parse_ctx {
	uint32_t max_vrings; /* ring indexes must be below this */
};

struct vv_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vv_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct vv_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr; /* IOVA */
};

struct vv_log {
	uint64_t iova;
	uint64_t size;
	uint32_t granularity_shift;
};

/*
 * A validated request or reply (vv_msg_is_reply()).  The union member
 * follows the request:
 *   requests   (nothing)  GET_FEATURES, SET_OWNER, RESET_OWNER
 *              u64        SET_FEATURES, DEVICE_SET_STATE (enum vv_device_state)
 *              state      SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE (index)
 *              addr       SET_VRING_ADDR
 *              mem        SET_MEM_TABLE
 *              log        SET_LOG_BASE_IOVA
 *   replies    status is 0 or a negative errno (ERROR flag); when 0:
 *              u64        GET_FEATURES
 *              state      GET_VRING_BASE (num = next avail index)
 *              (nothing)  every other request (its u64 status was 0)
 */
struct vv_msg {
	uint64_t request;
	uint32_t flags;
	int status;
	union {
		uint64_t u64;
		struct vv_vring_state state;
		struct vv_vring_addr addr;
		struct {
			uint32_t nregions;
			struct vv_mem_region regions[VV_MAX_MEM_REGIONS];
		} mem;
		struct vv_log log;
	} u;
};

/*
 * Parses and validates one mailbox message (header + payload).
 *
 * Returns 0 and fills *ret, or a negative errno per failure class:
 *   -EBADMSG     truncated header, size disagrees with len or the request,
 *                nregions disagreeing with the size
 *   -EPROTO      reserved flag bits, NEED_REPLY on a reply, ERROR without
 *                REPLY, an errno outside 1..4095, a nonzero status without
 *                ERROR
 *   -EMSGSIZE    size above VV_MAX_PAYLOAD
 *   -EOPNOTSUPP  unknown request, or one that does not travel over the
 *                mailbox (raw SET_LOG_BASE, SET_LOG_FD, SET_VRING_KICK/CALL:
 *                the reason says what to use instead)
 *   -ERANGE      ring index, ring size, base, nregions, log size or
 *                granularity out of range
 *   -EOVERFLOW   an address + size that wraps around 2^64
 *   -EINVAL      anything else (zero sizes, misalignment, undefined flags,
 *                unknown device state, overlapping regions)
 * On failure *err (if not NULL) says which field and why; *ret is untouched.
 */
int vv_parse(const uint8_t *buf, size_t len, const struct vv_parse_ctx *ctx,
	     struct vv_msg *ret, struct msg_err *err);

/*
 * The bytes of the first message in buf (len of them), header and payload,
 * by its header's size field: the framing of a batch.  -EBADMSG when the
 * header or the payload it announces is not all there, -EMSGSIZE when the
 * payload is larger than any request's; nothing else is checked here
 * (vv_parse() checks the message).
 */
int vv_msg_size(const uint8_t *buf, size_t len, size_t *ret);

/* "SET_MEM_TABLE", or "UNKNOWN". */
const char *vv_request_name(uint64_t request);

static inline bool vv_msg_is_reply(const struct vv_msg *m)
{
	return (m->flags & VV_FLAG_REPLY) != 0;
}

/* Whether the device answers req: GET_* always, others with NEED_REPLY. */
bool vv_expects_reply(const struct vv_msg *req);

/*
 * Whether rep answers req: a reply to the same request and, for a
 * successful GET_VRING_BASE, the same ring.  0 or -EPROTO.
 */
int vv_match_reply(const struct vv_msg *req, const struct vv_msg *rep,
		   struct msg_err *err);

/*
 * Encodes m, request or reply by its REPLY flag, into buf (a reply with
 * status < 0 gets ERROR and the errno; a successful SET_* reply gets a u64
 * 0).  The encoder runs the parser's validator over what it wrote, with
 * ctx, so what it returns parses.  Returns 0 and *ret_len, -ENOBUFS, or
 * the validator's errno (with *err if not NULL).
 */
int vv_encode(const struct vv_msg *m, const struct vv_parse_ctx *ctx,
	      uint8_t *buf, size_t len, size_t *ret_len, struct msg_err *err);

/* A request m with flags (0 or NEED_REPLY); zeroes the union. */
void vv_msg_init(struct vv_msg *m, uint64_t request, uint32_t flags);
/* A successful reply to req (status 0, union zeroed). */
void vv_reply_init(struct vv_msg *m, const struct vv_msg *req);

#endif
