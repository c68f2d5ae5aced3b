/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vfio-user, both directions: wire structs, the one parser and the
 * encoders for every command and every reply.
 *
 * vdpa-agentd is the vfio-user CLIENT (it drives an accelerator); the
 * simulated accelerator vdpa-simd is the SERVER.  Both sides use this
 * module, so it parses and encodes commands and replies alike.  The
 * reference is QEMU's docs/devel/vfio-user.rst; the structs inside the
 * messages are those of Linux's include/uapi/linux/vfio.h.
 *
 * Trust boundary: every byte and every fd that arrives on a vfio-user
 * socket comes from the peer and is untrusted: for the agent, a device's
 * replies (a buggy or hostile accelerator); for the simulator, the client's
 * commands.  vfu_parse() is the only place that looks at those bytes; a
 * struct vfu_msg it returns has passed the single validator (sizes, argsz,
 * type bits, fd counts, bounds, overflow, alignment), so handlers may use
 * its fields without re-checking them.  Whether a reply answers the command
 * the client sent is a second question, vfu_match_reply()'s.
 *
 * Nothing here does I/O or logs: bytes and fds in, structs out (see
 * vfio_user_io.h for the socket side).  Native endian, as the spec says
 * (both ends share a host).
 */
#ifndef VDPA_PROTOCOL_VFIO_USER_H
#define VDPA_PROTOCOL_VFIO_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/msg_table.h"

/* ---- wire constants --------------------------------------------------- */

enum vfu_command {
	VFU_CMD_VERSION = 1,
	VFU_CMD_DMA_MAP = 2,
	VFU_CMD_DMA_UNMAP = 3,
	VFU_CMD_DEVICE_GET_INFO = 4,
	VFU_CMD_DEVICE_GET_REGION_INFO = 5,
	VFU_CMD_DEVICE_GET_REGION_IO_FDS = 6,
	VFU_CMD_DEVICE_GET_IRQ_INFO = 7,
	VFU_CMD_DEVICE_SET_IRQS = 8,
	VFU_CMD_REGION_READ = 9,
	VFU_CMD_REGION_WRITE = 10,
	VFU_CMD_MAX = 10, /* highest id in the message table */
};

/* Header flags: bits 0-3 the type, then two single bits; the rest reserved. */
#define VFU_FLAG_TYPE_MASK 0xfu
#define VFU_TYPE_COMMAND 0x0u
#define VFU_TYPE_REPLY 0x1u
#define VFU_FLAG_NO_REPLY (1u << 4) /* command: the sender wants no reply */
#define VFU_FLAG_ERROR (1u << 5)    /* reply: the command failed, see error */
#define VFU_FLAG_KNOWN (VFU_FLAG_TYPE_MASK | VFU_FLAG_NO_REPLY | VFU_FLAG_ERROR)

/* DMA_MAP flags (VFIO_DMA_MAP_FLAG_READ/WRITE). */
#define VFU_DMA_READ (1u << 0)
#define VFU_DMA_WRITE (1u << 1)

/* DEVICE_GET_INFO flags (VFIO_DEVICE_FLAGS_*), passed through unjudged. */
#define VFU_DEVICE_FLAGS_RESET (1u << 0)
#define VFU_DEVICE_FLAGS_PCI (1u << 1)

/* Region info flags (VFIO_REGION_INFO_FLAG_*). */
#define VFU_REGION_READ (1u << 0)
#define VFU_REGION_WRITE (1u << 1)
#define VFU_REGION_MMAP (1u << 2)
#define VFU_REGION_CAPS (1u << 3)
#define VFU_REGION_KNOWN 0xfu

/* IO_FDS sub-region types and flags. */
enum vfu_subregion_type {
	VFU_SUB_IOEVENTFD = 0,
	VFU_SUB_IOREGIONFD = 1,
};
#define VFU_SUB_F_DATAMATCH (1u << 0) /* ioeventfd only */

/* IRQ info flags (VFIO_IRQ_INFO_*). */
#define VFU_IRQ_INFO_EVENTFD (1u << 0)
#define VFU_IRQ_INFO_MASKABLE (1u << 1)
#define VFU_IRQ_INFO_AUTOMASKED (1u << 2)
#define VFU_IRQ_INFO_NORESIZE (1u << 3)
#define VFU_IRQ_INFO_KNOWN 0xfu

/* SET_IRQS flags (VFIO_IRQ_SET_*): exactly one DATA and one ACTION bit. */
#define VFU_IRQ_DATA_NONE (1u << 0)
#define VFU_IRQ_DATA_BOOL (1u << 1)
#define VFU_IRQ_DATA_EVENTFD (1u << 2)
#define VFU_IRQ_ACTION_MASK (1u << 3)
#define VFU_IRQ_ACTION_UNMASK (1u << 4)
#define VFU_IRQ_ACTION_TRIGGER (1u << 5)
#define VFU_IRQ_DATA_TYPES (VFU_IRQ_DATA_NONE | VFU_IRQ_DATA_BOOL | VFU_IRQ_DATA_EVENTFD)
#define VFU_IRQ_ACTION_TYPES (VFU_IRQ_ACTION_MASK | VFU_IRQ_ACTION_UNMASK | VFU_IRQ_ACTION_TRIGGER)

#define VFU_HDR_SIZE 16u
#define VFU_PAGE_SIZE 4096u          /* DMA_MAP/UNMAP and mmap offsets align to this */
#define VFU_MAX_SUBREGIONS 64u       /* IO_FDS count bound: one doorbell per queue, with room */
#define VFU_MAX_IRQS 64u             /* SET_IRQS count bound: one vector per queue, with room */
#define VFU_MAX_FDS 64u              /* most fds one message may carry (= the two bounds above) */
#define VFU_MAX_DATA 65536u          /* REGION_READ/WRITE count bound */
#define VFU_MAX_VERSION_JSON 4096u   /* VERSION capabilities string, NUL included */
#define VFU_MAX_REGION_CAPS 4096u    /* bytes of capability chain after vfio_region_info */
#define VFU_MAX_REGIONS 64u          /* DEVICE_GET_INFO num_regions (PCI: 9 + vendor regions) */
#define VFU_MAX_IRQ_TYPES 64u        /* DEVICE_GET_INFO num_irqs (PCI: 5) */
#define VFU_MAX_ERRNO 4095u          /* an error reply's errno: 1..4095 */

/* ---- wire structs (native endian, packed, sizes asserted) -------------- */

struct vfu_wire_hdr {
	uint16_t msg_id;
	uint16_t command;
	uint32_t size;  /* the whole message, header included */
	uint32_t flags;
	uint32_t error; /* errno when flags has VFU_FLAG_ERROR */
} __attribute__((packed));

/* VERSION: then an optional NUL-terminated JSON capabilities string. */
struct vfu_wire_version {
	uint16_t major;
	uint16_t minor;
} __attribute__((packed));

struct vfu_wire_dma_map {
	uint32_t argsz;
	uint32_t flags;
	uint64_t offset; /* into the fd */
	uint64_t addr;   /* IOVA */
	uint64_t size;
} __attribute__((packed));

struct vfu_wire_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
} __attribute__((packed));

struct vfu_wire_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
} __attribute__((packed));

/* struct vfio_region_info; a reply may be followed by a capability chain. */
struct vfu_wire_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset; /* from the start of this struct */
	uint64_t size;
	uint64_t offset;     /* mmap offset into the fd */
} __attribute__((packed));

/* GET_REGION_IO_FDS: a reply is followed by count sub-regions. */
struct vfu_wire_io_fds {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
} __attribute__((packed));

/* An ioeventfd (datamatch) or ioregionfd (user_data) sub-region: same size. */
struct vfu_wire_sub_region {
	uint64_t offset;
	uint64_t size;
	uint32_t fd_index;
	uint32_t type;
	uint32_t flags;
	uint32_t padding;
	uint64_t datamatch;
} __attribute__((packed));

struct vfu_wire_irq_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
} __attribute__((packed));

/* struct vfio_irq_set; DATA_BOOL is followed by count bytes, DATA_EVENTFD
 * sends its count eventfds as SCM_RIGHTS instead of in the payload. */
struct vfu_wire_irq_set {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t start;
	uint32_t count;
} __attribute__((packed));

/* REGION_READ/WRITE; data follows on a write request and a read reply. */
struct vfu_wire_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
} __attribute__((packed));

_Static_assert(sizeof(struct vfu_wire_hdr) == VFU_HDR_SIZE, "vfio-user header");
_Static_assert(sizeof(struct vfu_wire_version) == 4, "version");
_Static_assert(sizeof(struct vfu_wire_dma_map) == 32, "dma map");
_Static_assert(sizeof(struct vfu_wire_dma_unmap) == 24, "dma unmap");
_Static_assert(sizeof(struct vfu_wire_device_info) == 16, "device info");
_Static_assert(sizeof(struct vfu_wire_region_info) == 32, "region info");
_Static_assert(sizeof(struct vfu_wire_io_fds) == 16, "io fds");
_Static_assert(sizeof(struct vfu_wire_sub_region) == 40, "sub-region");
_Static_assert(sizeof(struct vfu_wire_irq_info) == 16, "irq info");
_Static_assert(sizeof(struct vfu_wire_irq_set) == 20, "irq set");
_Static_assert(sizeof(struct vfu_wire_region_access) == 16, "region access");

/* Largest payload: a REGION_READ reply or REGION_WRITE request of VFU_MAX_DATA. */
#define VFU_MAX_PAYLOAD (sizeof(struct vfu_wire_region_access) + VFU_MAX_DATA)
#define VFU_MAX_MSG (VFU_HDR_SIZE + VFU_MAX_PAYLOAD)

/* ---- parsed messages ---------------------------------------------------- */

/*
 * Pointers in these structs (caps, bools, data) point into the buffer
 * given to vfu_parse() and are valid as long as it is; for the encoders
 * they point at the caller's bytes.
 */
struct vfu_version {
	uint16_t major;
	uint16_t minor;
	const char *caps; /* NUL-terminated JSON, not interpreted; NULL if absent */
	size_t caps_len;  /* strlen(caps); 0 if absent */
};

struct vfu_dma_map {
	uint32_t flags; /* VFU_DMA_READ/WRITE */
	uint64_t offset;
	uint64_t addr;
	uint64_t size;
};

struct vfu_dma_unmap {
	uint32_t flags; /* always 0: the dirty-bitmap and unmap-all variants are refused */
	uint64_t addr;
	uint64_t size;
};

struct vfu_device_info {
	uint32_t argsz; /* command: the client's buffer; reply: what the server needs */
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
};

struct vfu_region_info {
	uint32_t argsz; /* command: the client's buffer (>= 32); reply: the size needed */
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
	const uint8_t *caps; /* reply: the capability chain bytes, opaque */
	size_t caps_len;     /* 0 when none, or when argsz says they did not fit */
};

struct vfu_sub_region {
	uint64_t offset;
	uint64_t size;
	uint32_t fd_index; /* into the message's fds */
	uint32_t type;     /* enum vfu_subregion_type */
	uint32_t flags;
	uint64_t datamatch; /* ioeventfd: the value matched; ioregionfd: user_data */
};

struct vfu_io_fds {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count; /* reply: sub-regions the region has (<= VFU_MAX_SUBREGIONS) */
	size_t nsub;    /* reply: entries present in sub[]: count, or 0 when the
			   client's argsz was too small (retry with argsz) */
	struct vfu_sub_region sub[VFU_MAX_SUBREGIONS];
};

struct vfu_irq_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
};

struct vfu_irq_set {
	uint32_t flags; /* one VFU_IRQ_DATA_* | one VFU_IRQ_ACTION_* */
	uint32_t index;
	uint32_t start;
	uint32_t count; /* <= VFU_MAX_IRQS; DATA_EVENTFD: the message's nfds */
	const uint8_t *bools; /* DATA_BOOL: count bytes, each 0 or 1 */
};

/* REGION_READ and REGION_WRITE. */
struct vfu_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;       /* 1..VFU_MAX_DATA */
	const uint8_t *data;  /* WRITE command, READ reply: count bytes; else NULL */
};

/*
 * A validated message, command or reply (vfu_msg_is_reply()).  Which union
 * member is set follows the command; an error reply sets none (its payload
 * is empty, error holds the errno):
 *   version       VERSION, both ways
 *   dma_map       DMA_MAP command (fd in fds[0]); its reply is empty
 *   dma_unmap     DMA_UNMAP, both ways (the reply echoes the command)
 *   device_info   DEVICE_GET_INFO, both ways
 *   region_info   DEVICE_GET_REGION_INFO, both ways (reply: fd in fds[0] iff MMAP)
 *   io_fds        DEVICE_GET_REGION_IO_FDS, both ways (reply: sub[i]'s fd is
 *                 fds[sub[i].fd_index])
 *   irq_info      DEVICE_GET_IRQ_INFO, both ways
 *   irq_set       DEVICE_SET_IRQS command (DATA_EVENTFD: eventfd i in fds[i]);
 *                 its reply is empty
 *   access        REGION_READ, REGION_WRITE, both ways
 *
 * Fd ownership: the message owns fds[0..nfds).  A handler that keeps one
 * takes it with vfu_msg_take_fd(), which leaves -1 in the slot;
 * vfu_msg_close() closes whatever is left and may be called twice.  For the
 * encoders, fds/nfds are the fds the caller will send beside the bytes
 * (only nfds is looked at: it must satisfy the fd rule).
 */
struct vfu_msg {
	uint16_t msg_id;
	uint16_t command;
	uint32_t flags; /* header flags: type, NO_REPLY, ERROR */
	uint32_t error; /* errno of an error reply (1..4095), else 0 */
	union {
		struct vfu_version version;
		struct vfu_dma_map dma_map;
		struct vfu_dma_unmap dma_unmap;
		struct vfu_device_info device_info;
		struct vfu_region_info region_info;
		struct vfu_io_fds io_fds;
		struct vfu_irq_info irq_info;
		struct vfu_irq_set irq_set;
		struct vfu_region_access access;
	} u;
	int fds[VFU_MAX_FDS];
	size_t nfds;
};

/* Why vfu_parse() (or an encoder, or vfu_match_reply()) refused a message. */
/*
 * Parses and validates one complete message (header + payload) with the fds
 * that arrived with it.
 *
 * Returns 0 and fills *ret, or a negative errno per failure class:
 *   -EBADMSG     truncated header, size field disagrees with len, payload
 *                size wrong for the command, argsz inconsistent, data
 *                length not matching count
 *   -EPROTO      type not 0 or 1, reserved header flag bits, NO_REPLY on a
 *                reply, ERROR on a command, an error reply with a payload or
 *                an errno outside 1..4095, error field set without ERROR
 *   -EMSGSIZE    size field above VFU_MAX_MSG
 *   -EOPNOTSUPP  unknown command, or a variant we do not implement
 *                (DMA_UNMAP dirty bitmap / unmap-all)
 *   -EBADF       wrong number of fds, or an fd that fstat() refuses
 *   -ERANGE      sub-region/irq count, data count, region/irq numbers above
 *                their bound
 *   -EOVERFLOW   an address/offset + size that wraps around 2^64 (or a
 *                start + count that wraps 2^32)
 *   -EINVAL      anything else (zero sizes, misalignment, undefined flags,
 *                JSON without its NUL, mapping beyond its fd ...)
 * On failure *err (if not NULL) says which field and why; *ret is untouched.
 *
 * Fds: vfu_parse() always takes ownership of fds[0..nfds) and leaves -1 in
 * every slot.  On success they move into ret->fds; on failure they are
 * closed.  So the caller never closes them itself.
 */
int vfu_parse(const uint8_t *buf, size_t len, int *fds, size_t nfds,
	      struct vfu_msg *ret, struct msg_err *err);

/* Returns fds[i] and leaves -1 in its place (the caller now owns it); -1 if none. */
int vfu_msg_take_fd(struct vfu_msg *m, size_t i);

/* Closes every fd the message still owns.  Takes NULL. */
void vfu_msg_close(struct vfu_msg *m);

/* "DMA_MAP", or "UNKNOWN" for ids outside the table. */
const char *vfu_command_name(uint32_t command);

static inline bool vfu_msg_is_reply(const struct vfu_msg *m)
{
	return (m->flags & VFU_FLAG_TYPE_MASK) == VFU_TYPE_REPLY;
}

/*
 * Whether rep (parsed) answers req (the command the client sent, as it
 * was given to vfu_encode()): a reply, same msg_id and command, and, for a
 * successful reply, the echoes agree (index of REGION_INFO/IO_FDS/IRQ_INFO,
 * offset/region/count of REGION_READ/WRITE, addr/size of DMA_UNMAP) and the
 * reply does not exceed the argsz the client offered.  Returns 0 (then look
 * at rep->error: nonzero means the server refused the command with that
 * errno) or -EPROTO with *err filled.
 */
int vfu_match_reply(const struct vfu_msg *req, const struct vfu_msg *rep,
		    struct msg_err *err);

/* ---- encoders ----------------------------------------------------------- */

/* Zeroes *m, sets the header fields and leaves -1 in every fd slot. */
void vfu_msg_init(struct vfu_msg *m, uint16_t command, uint16_t msg_id);
/* The same for the reply to req (same msg_id and command, type REPLY). */
void vfu_reply_init(struct vfu_msg *m, const struct vfu_msg *req);

/*
 * Encodes m (command or reply, by its type bits) into buf.  The header's
 * size is computed; argsz is computed where the spec fixes it (DMA_MAP,
 * DMA_UNMAP, SET_IRQS, the region-info and IO_FDS replies) and taken from m
 * where it is the client's buffer size.  An error reply (VFU_FLAG_ERROR)
 * is header-only.  The encoder runs the parser's validator over what it
 * wrote, with m->nfds fds, so whatever it returns parses (fd contents
 * aside).  Returns 0 and *ret_len, -ENOBUFS if len is too small, or the
 * validator's errno (with *err, if not NULL) for a message it refuses.
 */
int vfu_encode(const struct vfu_msg *m, uint8_t *buf, size_t len,
	       size_t *ret_len, struct msg_err *err);

/* Header-only error reply to (msg_id, command); status is a negative errno. */
int vfu_encode_error(uint16_t msg_id, uint16_t command, int status,
		     uint8_t *buf, size_t len, size_t *ret_len);

#endif
