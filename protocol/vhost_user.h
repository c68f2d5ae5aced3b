/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-user, back-end side: wire structs, the parser and the reply encoders.
 *
 * vdpa-agentd is the vhost-user BACK END; QEMU (or DPDK virtio-user) is the
 * front end.  The reference is QEMU's docs/interop/vhost-user.rst.
 *
 * Trust boundary: every byte and every fd that arrives on the vhost-user
 * socket comes from the front end and is untrusted.  vu_parse() is the only
 * place that looks at those bytes; a struct vu_msg it returns has passed the
 * single validator (sizes, fd counts, ranges, overflow), so handlers may use
 * its fields without re-checking them.  Addresses inside it (guest physical,
 * front-end virtual) are still only numbers: translating them into our own
 * mappings is the memory table's job.
 *
 * Nothing here does I/O or logs: bytes and fds in, structs out (see
 * vhost_user_io.h for the socket side).
 */
#ifndef VDPA_PROTOCOL_VHOST_USER_H
#define VDPA_PROTOCOL_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/msg_table.h"

/* ---- wire constants --------------------------------------------------- */

enum vu_request {
	VU_REQ_GET_FEATURES = 1,
	VU_REQ_SET_FEATURES = 2,
	VU_REQ_SET_OWNER = 3,
	VU_REQ_RESET_OWNER = 4,
	VU_REQ_SET_MEM_TABLE = 5,
	VU_REQ_SET_LOG_BASE = 6,
	VU_REQ_SET_LOG_FD = 7,
	VU_REQ_SET_VRING_NUM = 8,
	VU_REQ_SET_VRING_ADDR = 9,
	VU_REQ_SET_VRING_BASE = 10,
	VU_REQ_GET_VRING_BASE = 11,
	VU_REQ_SET_VRING_KICK = 12,
	VU_REQ_SET_VRING_CALL = 13,
	VU_REQ_SET_VRING_ERR = 14,
	VU_REQ_GET_PROTOCOL_FEATURES = 15,
	VU_REQ_SET_PROTOCOL_FEATURES = 16,
	VU_REQ_GET_QUEUE_NUM = 17,
	VU_REQ_SET_VRING_ENABLE = 18,
	VU_REQ_SEND_RARP = 19,
	VU_REQ_NET_SET_MTU = 20,
	VU_REQ_GET_INFLIGHT_FD = 31,
	VU_REQ_SET_INFLIGHT_FD = 32,
	VU_REQ_GET_MAX_MEM_SLOTS = 36,
	VU_REQ_ADD_MEM_REG = 37,
	VU_REQ_REM_MEM_REG = 38,
	VU_REQ_SET_STATUS = 39,
	VU_REQ_GET_STATUS = 40,
	VU_REQ_MAX = 40, /* highest id in the message table */
};

/* Header flags. */
#define VU_FLAG_VERSION_MASK 0x3u
#define VU_VERSION 0x1u
#define VU_FLAG_REPLY (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)

/* Protocol feature bit numbers (GET/SET_PROTOCOL_FEATURES). */
enum vu_protocol_feature {
	VU_PROTO_F_MQ = 0,
	VU_PROTO_F_LOG_SHMFD = 1,
	VU_PROTO_F_RARP = 2,
	VU_PROTO_F_REPLY_ACK = 3,
	VU_PROTO_F_NET_MTU = 4,
	VU_PROTO_F_CONFIG = 9,
	VU_PROTO_F_INFLIGHT_SHMFD = 12,
	VU_PROTO_F_CONFIGURE_MEM_SLOTS = 15,
	VU_PROTO_F_STATUS = 16,
};

/* Virtio device status bits (SET_STATUS / GET_STATUS). */
#define VU_STATUS_DRIVER_OK 0x4u
#define VU_STATUS_FEATURES_OK 0x8u
#define VU_STATUS_MAX 0xffu          /* the virtio status is one byte */
#define VU_PF(bit) (UINT64_C(1) << (bit))

/* Virtio feature bits the protocol itself depends on. */
#define VU_F_LOG_ALL 26              /* VHOST_F_LOG_ALL */
#define VU_F_PROTOCOL_FEATURES 30    /* VHOST_USER_F_PROTOCOL_FEATURES */

/* The SET_VRING_KICK/CALL/ERR u64: bits 0-7 index, bit 8 "no fd". */
#define VU_VRING_IDX_MASK UINT64_C(0xff)
#define VU_VRING_NOFD_MASK (UINT64_C(1) << 8)

/* SET_VRING_ADDR flags: bit 0 asks us to log used-ring writes. */
#define VU_VRING_F_LOG (1u << 0)

#define VU_HDR_SIZE 12u
#define VU_MAX_FDS 8u                /* most fds one message may carry */
#define VU_MAX_MEM_REGIONS 8u        /* SET_MEM_TABLE limit (QEMU's VHOST_MEMORY_BASELINE_NREGIONS) */
/*
 * Largest payload we accept.  The largest legal request is SET_MEM_TABLE
 * with 8 regions (264 bytes); 4096 leaves room and bounds what a front end
 * can make us buffer.
 */
#define VU_MAX_PAYLOAD 4096u
#define VU_MAX_RING_SIZE 32768u      /* virtio split ring limit */
#define VU_MIN_MTU 68u               /* IPv4 minimum */
#define VU_MAX_MTU 65535u

/* ---- wire structs (native endian, packed, sizes asserted) -------------- */

struct vu_wire_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes after the header */
} __attribute__((packed));

struct vu_wire_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vu_wire_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
} __attribute__((packed));

struct vu_wire_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
} __attribute__((packed));

/* SET_MEM_TABLE: only nregions entries of regions[] are on the wire. */
struct vu_wire_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_wire_mem_region regions[VU_MAX_MEM_REGIONS];
} __attribute__((packed));

/* ADD_MEM_REG / REM_MEM_REG. */
struct vu_wire_single_region {
	uint64_t padding;
	struct vu_wire_mem_region region;
} __attribute__((packed));

struct vu_wire_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
} __attribute__((packed));

/*
 * GET/SET_INFLIGHT_FD.  QEMU and DPDK declare this struct unpacked, so its
 * sizeof (and the hdr.size they send and insist on in replies) includes 4
 * bytes of tail padding: 24, not 20.
 */
struct vu_wire_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t padding;
} __attribute__((packed));

_Static_assert(sizeof(struct vu_wire_hdr) == VU_HDR_SIZE, "vhost-user header");
_Static_assert(sizeof(struct vu_wire_vring_state) == 8, "vring state");
_Static_assert(sizeof(struct vu_wire_vring_addr) == 40, "vring addr");
_Static_assert(sizeof(struct vu_wire_mem_region) == 32, "memory region");
_Static_assert(sizeof(struct vu_wire_mem_table) == 8 + 8 * 32, "memory table");
_Static_assert(sizeof(struct vu_wire_single_region) == 40, "single region");
_Static_assert(sizeof(struct vu_wire_log) == 16, "log");
_Static_assert(sizeof(struct vu_wire_inflight) == 24, "inflight");

/* ---- connection state -------------------------------------------------- */

/*
 * Two states, used as bits in the table's "allowed in" mask.  CONNECTED is
 * before SET_OWNER: QEMU 7.2 queries features, protocol features, queue
 * count and memory slots there, DPDK virtio-user sends SET_OWNER first.
 * SET_OWNER moves to OWNED (and is accepted again there: QEMU sends it once
 * per queue pair on the same socket); RESET_OWNER moves back.
 */
enum vu_state {
	VU_STATE_CONNECTED = 1u << 0,
	VU_STATE_OWNED = 1u << 1,
};

/* What the parser needs to know about the connection. */
struct vu_parse_ctx {
	enum vu_state state;
	uint64_t features_offered;          /* our GET_FEATURES answer */
	uint64_t protocol_features_offered; /* our GET_PROTOCOL_FEATURES answer */
	uint64_t protocol_features;         /* negotiated so far (SET_PROTOCOL_FEATURES) */
	uint32_t max_vrings;                /* ring indexes must be below this */
};

/* ---- parsed messages ---------------------------------------------------- */

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct vu_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vu_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

struct vu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};

/*
 * A validated request.  Which union member is set follows the request:
 *   (nothing)   GET_* queries, SET_OWNER, RESET_OWNER (no payload)
 *   u64         SET_FEATURES, SET_PROTOCOL_FEATURES, NET_SET_MTU (68..65535)
 *   state       SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_ENABLE
 *   addr        SET_VRING_ADDR
 *   vring_file  SET_VRING_KICK/CALL/ERR (fd in fds[0] unless nofd)
 *   mem         SET_MEM_TABLE (region i's fd is fds[i])
 *   region      ADD_MEM_REG (fd in fds[0]), REM_MEM_REG (an fd, if any, is
 *               only there for old front ends: close it, don't use it)
 *   log         SET_LOG_BASE (fd in fds[0])
 *   inflight    GET_INFLIGHT_FD, SET_INFLIGHT_FD (fd in fds[0] for SET)
 *   mac         SEND_RARP
 * SET_LOG_FD carries its fd in fds[0] and nothing else.
 *
 * ring is the ring a per-ring request (SET/GET_VRING_*) is about, decoded
 * once here and checked to be below ctx->max_vrings, so a handler indexes
 * its rings with it directly; 0 for every other request.
 *
 * Fd ownership: the message owns fds[0..nfds).  A handler that keeps one
 * takes it with vu_msg_take_fd(), which leaves -1 in the slot; vu_msg_close()
 * closes whatever is left.  Calling vu_msg_close() twice is harmless.
 */
struct vu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t ring;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct {
			uint32_t index;
			bool nofd;
		} vring_file;
		struct {
			uint32_t nregions;
			struct vu_mem_region regions[VU_MAX_MEM_REGIONS];
		} mem;
		struct vu_mem_region region;
		struct vu_log log;
		struct vu_inflight inflight;
		uint8_t mac[6];
	} u;
	int fds[VU_MAX_FDS];
	size_t nfds;
};

/* Why vu_parse() refused a message, for the daemon's log line. */
/*
 * Parses and validates one complete message (header + payload) with the fds
 * that arrived with it.
 *
 * Returns 0 and fills *ret, or a negative errno per failure class:
 *   -EBADMSG     truncated header, hdr.size disagrees with len or the request
 *   -EPROTO      version bits not 1, or REPLY set on a request
 *   -EMSGSIZE    hdr.size above VU_MAX_PAYLOAD
 *   -EOPNOTSUPP  unknown request, or one whose protocol feature is not negotiated
 *   -EPERM       request not allowed in ctx->state (e.g. SET_MEM_TABLE before SET_OWNER)
 *   -EBADF       wrong number of fds, or an fd that fstat() refuses
 *   -ERANGE      ring index, ring size, base, nregions, MTU, queue count out of range
 *   -EOVERFLOW   an address/offset + size that wraps around 2^64
 *   -EINVAL      anything else (zero sizes, region beyond its fd, reserved
 *                bits, features not offered, overlapping regions ...)
 * On failure *err (if not NULL) says which field and why; *ret is untouched.
 *
 * Fds: vu_parse() always takes ownership of fds[0..nfds) and leaves -1 in
 * every slot.  On success they move into ret->fds; on failure they are
 * closed.  So the caller never closes them itself.
 */
int vu_parse(const uint8_t *buf, size_t len, int *fds, size_t nfds,
	     const struct vu_parse_ctx *ctx, struct vu_msg *ret,
	     struct msg_err *err);

/* Returns fds[i] and leaves -1 in its place (the caller now owns it); -1 if none. */
int vu_msg_take_fd(struct vu_msg *m, size_t i);

/* Closes every fd the message still owns.  Takes NULL. */
void vu_msg_close(struct vu_msg *m);

/*
 * Whether the table describes request, i.e. vu_parse() can hand it on: a
 * back end checks against this that it serves every one.
 */
bool vu_request_known(uint32_t request);

/* "SET_MEM_TABLE", or "UNKNOWN" for ids outside the table. */
const char *vu_request_name(uint32_t request);

/* The state after a successfully handled request (SET_OWNER, RESET_OWNER). */
enum vu_state vu_state_after(enum vu_state state, uint32_t request);

/* ---- replies ---------------------------------------------------------- */

enum vu_respond {
	VU_RESPOND_NONE,  /* send nothing */
	VU_RESPOND_REPLY, /* send the request's own reply (vu_encode_reply) */
	VU_RESPOND_ACK,   /* send a REPLY_ACK (vu_encode_ack) */
};

/*
 * The one place that decides what a parsed request answers, given the
 * protocol features negotiated when it arrived.  A REPLY_ACK is due when
 * NEED_REPLY is set, REPLY_ACK is negotiated and the request does not
 * already reply (requests with their own reply ignore NEED_REPLY).
 */
enum vu_respond vu_respond(const struct vu_msg *m, uint64_t protocol_features);
bool vu_needs_ack(const struct vu_msg *m, uint64_t protocol_features);

/* What the back end answers.  The request picks the payload layout. */
struct vu_reply {
	uint32_t request;
	union {
		uint64_t u64;                   /* GET_FEATURES, GET_PROTOCOL_FEATURES,
						   GET_QUEUE_NUM, GET_MAX_MEM_SLOTS */
		struct vu_vring_state state;    /* GET_VRING_BASE */
		struct vu_inflight inflight;    /* GET_INFLIGHT_FD (+1 fd sent beside) */
	} u;
};

/* Largest encoded reply: header + inflight. */
#define VU_MAX_REPLY (VU_HDR_SIZE + sizeof(struct vu_wire_inflight))

/*
 * Encodes the reply for r->request into buf (flags = version 1 | REPLY).
 * SET_LOG_BASE gets an empty payload.  Returns 0 and *ret_len, -EINVAL if
 * the request has no reply of its own, -ENOBUFS if len is too small.
 */
int vu_encode_reply(const struct vu_reply *r, uint8_t *buf, size_t len,
		    size_t *ret_len);

/*
 * Encodes a REPLY_ACK for request: u64 0 when status is 0, 1 when status
 * is a (negative) error; QEMU only tests for non-zero.
 */
int vu_encode_ack(uint32_t request, int status, uint8_t *buf, size_t len,
		  size_t *ret_len);

#endif
