// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user back end: the message table, the single validator, the pure
 * parser and the reply/REPLY_ACK encoders.  See vhost_user.h for the API.
 *
 * Trust boundary: buf, len's contents and the fds come from the front end
 * (QEMU, DPDK virtio-user, or anything that can connect to the socket) and
 * are untrusted.  Every count is bounded before use, every address + size
 * is checked for wrap-around before it is formed, fds are fstat()ed before
 * their size is believed.  Nothing here asserts on peer data.
 *
 * The only side effects are fstat() on received fds and close() of fds on
 * failure (vu_parse() always consumes the fds it is given).
 */
#include "protocol/vhost_user.h"
#include "protocol/msg_table.h"
#include "protocol/sock_io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the message table ------------------------------------------------ */

enum fd_rule {
	FD_NONE,       /* no fds */
	FD_ONE,        /* exactly one */
	FD_OPTIONAL,   /* 0 or 1; REM_MEM_REG: the spec says the back end MAY
			  accept one from old front ends and must close it */
	FD_VRING_FLAG, /* KICK/CALL/ERR: 1, or 0 when the u64's bit 8 says "no fd" */
	FD_PER_REGION, /* SET_MEM_TABLE: one per region */
};

enum reply_rule {
	REPLY_NEVER,  /* only a REPLY_ACK, when asked for and negotiated */
	REPLY_ALWAYS, /* has its own reply; NEED_REPLY is ignored */
	REPLY_IF_PF,  /* has its own reply only with reply_pf negotiated
			 (SET_LOG_BASE with LOG_SHMFD); else as NEVER */
};

enum reply_body {
	BODY_NONE,     /* no reply of its own */
	BODY_EMPTY,    /* header only (SET_LOG_BASE) */
	BODY_U64,
	BODY_STATE,    /* struct vu_wire_vring_state */
	BODY_INFLIGHT, /* struct vu_wire_inflight, plus an fd sent beside it */
};

struct vu_req_desc;
typedef int check_fn(const struct vu_req_desc *d, const uint8_t *p,
		     uint32_t size, const int *fds, size_t nfds,
		     const struct vu_parse_ctx *ctx, struct vu_msg *m,
		     struct msg_err *err);

struct vu_req_desc {
	const char *name;      /* NULL: not a request we serve */
	uint32_t min_size;     /* payload bytes; min == max means exact */
	uint32_t max_size;
	enum fd_rule fds;
	enum reply_rule reply;
	uint64_t reply_pf;     /* REPLY_IF_PF: protocol feature mask */
	enum reply_body body;
	uint64_t need_pf;      /* protocol features the request requires (0: none) */
	unsigned states;       /* enum vu_state bits in which it is allowed */
	unsigned enter;        /* state after it (0: unchanged) */
	check_fn *check;       /* payload-specific checks and decoding (NULL: none) */
};

#define ANY (VU_STATE_CONNECTED | VU_STATE_OWNED)
#define OWNED VU_STATE_OWNED

static check_fn check_set_features, check_set_protocol_features,
	check_mem_table, check_log_base, check_log_fd, check_vring_num, check_vring_addr,
	check_vring_base, check_vring_index, check_vring_file,
	check_vring_enable, check_rarp, check_mtu, check_get_inflight,
	check_set_inflight, check_add_mem_reg, check_rem_mem_reg, check_status;

/*
 * Choices, and why:
 *  - Allowed before SET_OWNER (ANY): the queries QEMU 7.2 sends before
 *    SET_OWNER (GET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES,
 *    GET_QUEUE_NUM, GET_MAX_MEM_SLOTS), SET_FEATURES (harmless, and some front
 *    ends negotiate fully before owning), SET_OWNER itself, and RESET_OWNER
 *    (a no-op there; refusing it would only break a reconnecting front end).
 *    All of them stay allowed once owned: DPDK virtio-user owns first, and
 *    QEMU repeats the whole init sequence, SET_OWNER included, once per
 *    queue pair on the same socket.
 *  - Everything that touches memory or rings needs OWNED.
 *  - need_pf follows the spec's "only when ... has been successfully
 *    negotiated" wording; GET_QUEUE_NUM is left out because the spec only
 *    asks that MQ be *offered* before it is sent.
 *  - Sizes are what QEMU and DPDK put in hdr.size: GET_* queries carry no
 *    payload, SET_LOG_FD may carry a u64 that is ignored, inflight is 24.
 *  - SET_LOG_BASE requires its fd: without LOG_SHMFD the log lives in
 *    QEMU's private memory and we could not write it anyway, and we always
 *    offer LOG_SHMFD.
 */
/* Payload sizes: EXACT(n), or RANGE(lo, hi) for the few that vary. */
#define EXACT(n) .min_size = (uint32_t)(n), .max_size = (uint32_t)(n)
#define RANGE(lo, hi) .min_size = (uint32_t)(lo), .max_size = (uint32_t)(hi)

/*
 * One row per request; a field left out is the zero default: no payload,
 * no fds, no reply of its own (REPLY_ACK only), no protocol feature needed,
 * state unchanged, nothing to check beyond size and fds.
 */
static const struct vu_req_desc vu_table[VU_REQ_MAX + 1] = {
	[VU_REQ_GET_FEATURES] = {
		.name = "GET_FEATURES", .states = ANY,
		.reply = REPLY_ALWAYS, .body = BODY_U64,
	},
	[VU_REQ_SET_FEATURES] = {
		.name = "SET_FEATURES", .states = ANY, EXACT(8),
		.check = check_set_features,
	},
	[VU_REQ_SET_OWNER] = {
		.name = "SET_OWNER", .states = ANY, .enter = VU_STATE_OWNED,
	},
	[VU_REQ_RESET_OWNER] = {
		.name = "RESET_OWNER", .states = ANY, .enter = VU_STATE_CONNECTED,
	},
	[VU_REQ_SET_MEM_TABLE] = {
		.name = "SET_MEM_TABLE", .states = OWNED,
		RANGE(offsetof(struct vu_wire_mem_table, regions),
		      sizeof(struct vu_wire_mem_table)),
		.fds = FD_PER_REGION, .check = check_mem_table,
	},
	[VU_REQ_SET_LOG_BASE] = {
		.name = "SET_LOG_BASE", .states = OWNED,
		EXACT(sizeof(struct vu_wire_log)), .fds = FD_ONE,
		.reply = REPLY_IF_PF, .reply_pf = VU_PF(VU_PROTO_F_LOG_SHMFD),
		.body = BODY_EMPTY, .check = check_log_base,
	},
	[VU_REQ_SET_LOG_FD] = {
		.name = "SET_LOG_FD", .states = OWNED, RANGE(0, 8), .fds = FD_ONE,
		.check = check_log_fd,
	},
	[VU_REQ_SET_VRING_NUM] = {
		.name = "SET_VRING_NUM", .states = OWNED, EXACT(8),
		.check = check_vring_num,
	},
	[VU_REQ_SET_VRING_ADDR] = {
		.name = "SET_VRING_ADDR", .states = OWNED,
		EXACT(sizeof(struct vu_wire_vring_addr)),
		.check = check_vring_addr,
	},
	[VU_REQ_SET_VRING_BASE] = {
		.name = "SET_VRING_BASE", .states = OWNED, EXACT(8),
		.check = check_vring_base,
	},
	[VU_REQ_GET_VRING_BASE] = {
		.name = "GET_VRING_BASE", .states = OWNED, EXACT(8),
		.reply = REPLY_ALWAYS, .body = BODY_STATE,
		.check = check_vring_index,
	},
	[VU_REQ_SET_VRING_KICK] = {
		.name = "SET_VRING_KICK", .states = OWNED, EXACT(8),
		.fds = FD_VRING_FLAG, .check = check_vring_file,
	},
	[VU_REQ_SET_VRING_CALL] = {
		.name = "SET_VRING_CALL", .states = OWNED, EXACT(8),
		.fds = FD_VRING_FLAG, .check = check_vring_file,
	},
	[VU_REQ_SET_VRING_ERR] = {
		.name = "SET_VRING_ERR", .states = OWNED, EXACT(8),
		.fds = FD_VRING_FLAG, .check = check_vring_file,
	},
	[VU_REQ_GET_PROTOCOL_FEATURES] = {
		.name = "GET_PROTOCOL_FEATURES", .states = ANY,
		.reply = REPLY_ALWAYS, .body = BODY_U64,
	},
	[VU_REQ_SET_PROTOCOL_FEATURES] = {
		.name = "SET_PROTOCOL_FEATURES", .states = ANY, EXACT(8),
		.check = check_set_protocol_features,
	},
	[VU_REQ_GET_QUEUE_NUM] = {
		.name = "GET_QUEUE_NUM", .states = ANY,
		.reply = REPLY_ALWAYS, .body = BODY_U64,
	},
	[VU_REQ_SET_VRING_ENABLE] = {
		.name = "SET_VRING_ENABLE", .states = OWNED, EXACT(8),
		.check = check_vring_enable,
	},
	[VU_REQ_SEND_RARP] = {
		.name = "SEND_RARP", .states = OWNED, EXACT(8),
		.need_pf = VU_PF(VU_PROTO_F_RARP), .check = check_rarp,
	},
	[VU_REQ_NET_SET_MTU] = {
		.name = "NET_SET_MTU", .states = OWNED, EXACT(8),
		.need_pf = VU_PF(VU_PROTO_F_NET_MTU), .check = check_mtu,
	},
	[VU_REQ_GET_INFLIGHT_FD] = {
		.name = "GET_INFLIGHT_FD", .states = OWNED,
		EXACT(sizeof(struct vu_wire_inflight)),
		.need_pf = VU_PF(VU_PROTO_F_INFLIGHT_SHMFD),
		.reply = REPLY_ALWAYS, .body = BODY_INFLIGHT,
		.check = check_get_inflight,
	},
	[VU_REQ_SET_INFLIGHT_FD] = {
		.name = "SET_INFLIGHT_FD", .states = OWNED,
		EXACT(sizeof(struct vu_wire_inflight)), .fds = FD_ONE,
		.need_pf = VU_PF(VU_PROTO_F_INFLIGHT_SHMFD),
		.check = check_set_inflight,
	},
	[VU_REQ_GET_MAX_MEM_SLOTS] = {
		.name = "GET_MAX_MEM_SLOTS", .states = ANY,
		.need_pf = VU_PF(VU_PROTO_F_CONFIGURE_MEM_SLOTS),
		.reply = REPLY_ALWAYS, .body = BODY_U64,
	},
	[VU_REQ_ADD_MEM_REG] = {
		.name = "ADD_MEM_REG", .states = OWNED,
		EXACT(sizeof(struct vu_wire_single_region)), .fds = FD_ONE,
		.need_pf = VU_PF(VU_PROTO_F_CONFIGURE_MEM_SLOTS),
		.check = check_add_mem_reg,
	},
	[VU_REQ_REM_MEM_REG] = {
		.name = "REM_MEM_REG", .states = OWNED,
		EXACT(sizeof(struct vu_wire_single_region)), .fds = FD_OPTIONAL,
		.need_pf = VU_PF(VU_PROTO_F_CONFIGURE_MEM_SLOTS),
		.check = check_rem_mem_reg,
	},
	/* QEMU: the driver status after the last queue pair started, 0 before it stops. */
	[VU_REQ_SET_STATUS] = {
		.name = "SET_STATUS", .states = OWNED, EXACT(8),
		.need_pf = VU_PF(VU_PROTO_F_STATUS), .check = check_status,
	},
	[VU_REQ_GET_STATUS] = {
		.name = "GET_STATUS", .states = OWNED,
		.need_pf = VU_PF(VU_PROTO_F_STATUS),
		.reply = REPLY_ALWAYS, .body = BODY_U64,
	},
};

#undef EXACT
#undef RANGE

static const struct vu_req_desc *lookup(uint32_t request)
{
	return MSG_ROW(vu_table, request);
}

bool vu_request_known(uint32_t request)
{
	return lookup(request) != NULL;
}

const char *vu_request_name(uint32_t request)
{
	const struct vu_req_desc *d = lookup(request);

	return d ? d->name : "UNKNOWN";
}

enum vu_state vu_state_after(enum vu_state state, uint32_t request)
{
	const struct vu_req_desc *d = lookup(request);

	return d && d->enter ? (enum vu_state)d->enter : state;
}

/* ---- helpers ------------------------------------------------------------ */

#define FAIL(d, rc, ...) msg_fail(err, (uint32_t)((d) - vu_table), (d)->name, (rc), __VA_ARGS__)

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The size of what fd refers to, as fstat() says; negative errno. */
static int fd_size(int fd, uint64_t *ret_size)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 0)
		return -EBADF;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* ---- payload checks (run by the validator, in table order) -------------- */

static int check_features(const struct vu_req_desc *d, const uint8_t *p,
			  uint64_t offered, struct vu_msg *m, struct msg_err *err)
{
	uint64_t v = get_u64(p);

	/* Accepting a bit we never offered would make the handler's view of
	 * the device and the front end's disagree. */
	if (v & ~offered)
		return FAIL(d, -EINVAL, "bits %#llx were not offered",
			    (unsigned long long)(v & ~offered));
	m->u.u64 = v;
	return 0;
}

static int check_set_features(const struct vu_req_desc *d, const uint8_t *p,
			      uint32_t size, const int *fds, size_t nfds,
			      const struct vu_parse_ctx *ctx, struct vu_msg *m,
			      struct msg_err *err)
{
	(void)size, (void)fds, (void)nfds;
	return check_features(d, p, ctx->features_offered, m, err);
}

static int check_set_protocol_features(const struct vu_req_desc *d,
				       const uint8_t *p, uint32_t size,
				       const int *fds, size_t nfds,
				       const struct vu_parse_ctx *ctx,
				       struct vu_msg *m, struct msg_err *err)
{
	(void)size, (void)fds, (void)nfds;
	return check_features(d, p, ctx->protocol_features_offered, m, err);
}

/*
 * One memory region.  where is "" or "region N: ".  fd < 0 skips the fd
 * size check; check_offset is false for REM_MEM_REG, whose mmap_offset the
 * spec says to ignore.
 */
static int check_region(const struct vu_req_desc *d, const char *where,
			const struct vu_mem_region *r, int fd, bool check_offset,
			struct msg_err *err)
{
	uint64_t fsize;

	if (r->memory_size == 0)
		return FAIL(d, -EINVAL, "%smemory_size is 0", where);
	if (r->guest_phys_addr > UINT64_MAX - r->memory_size)
		return FAIL(d, -EOVERFLOW,
			    "%sguest_phys_addr + memory_size overflows", where);
	if (r->userspace_addr > UINT64_MAX - r->memory_size)
		return FAIL(d, -EOVERFLOW,
			    "%suserspace_addr + memory_size overflows", where);
	if (!check_offset)
		return 0;
	if (r->mmap_offset > UINT64_MAX - r->memory_size)
		return FAIL(d, -EOVERFLOW,
			    "%smmap_offset + memory_size overflows", where);
	if (fd < 0)
		return 0;
	if (fd_size(fd, &fsize) < 0)
		return FAIL(d, -EBADF, "%sfstat of the region's fd failed", where);
	/* mmap() past the end of a file maps pages that SIGBUS on access. */
	if (r->mmap_offset + r->memory_size > fsize)
		return FAIL(d, -EINVAL,
			    "%smmap_offset + memory_size (%#llx) is beyond the fd's size (%#llx)",
			    where,
			    (unsigned long long)(r->mmap_offset + r->memory_size),
			    (unsigned long long)fsize);
	return 0;
}

static void decode_region(const uint8_t *p, struct vu_mem_region *r)
{
	struct vu_wire_mem_region w;

	memcpy(&w, p, sizeof(w));
	r->guest_phys_addr = w.guest_phys_addr;
	r->memory_size = w.memory_size;
	r->userspace_addr = w.userspace_addr;
	r->mmap_offset = w.mmap_offset;
}

/* nregions and the size/fd agreement were checked by the validator. */
static int check_mem_table(const struct vu_req_desc *d, const uint8_t *p,
			   uint32_t size, const int *fds, size_t nfds,
			   const struct vu_parse_ctx *ctx, struct vu_msg *m,
			   struct msg_err *err)
{
	uint32_t n;
	char where[24];
	int rc;

	(void)size, (void)nfds, (void)ctx;
	memcpy(&n, p, sizeof(n));
	for (uint32_t i = 0; i < n; i++) {
		struct vu_mem_region *r = &m->u.mem.regions[i];

		decode_region(p + offsetof(struct vu_wire_mem_table, regions) +
				      i * sizeof(struct vu_wire_mem_region), r);
		snprintf(where, sizeof(where), "region %u: ", i);
		rc = check_region(d, where, r, fds[i], true, err);
		if (rc < 0)
			return rc;
	}
	/* Overlapping guest ranges would make GPA translation ambiguous. */
	for (uint32_t i = 0; i < n; i++) {
		const struct vu_mem_region *a = &m->u.mem.regions[i];

		for (uint32_t j = i + 1; j < n; j++) {
			const struct vu_mem_region *b = &m->u.mem.regions[j];

			if (a->guest_phys_addr < b->guest_phys_addr + b->memory_size &&
			    b->guest_phys_addr < a->guest_phys_addr + a->memory_size)
				return FAIL(d, -EINVAL,
					    "regions %u and %u overlap in guest physical space",
					    i, j);
		}
	}
	m->u.mem.nregions = n;
	return 0;
}

static int check_single_region(const struct vu_req_desc *d, const uint8_t *p,
			       const int *fds, size_t nfds, bool is_add,
			       struct vu_msg *m, struct msg_err *err)
{
	struct vu_mem_region r;
	int rc;

	decode_region(p + offsetof(struct vu_wire_single_region, region), &r);
	rc = check_region(d, "", &r, is_add && nfds ? fds[0] : -1, is_add, err);
	if (rc < 0)
		return rc;
	m->u.region = r;
	return 0;
}

static int check_add_mem_reg(const struct vu_req_desc *d, const uint8_t *p,
			     uint32_t size, const int *fds, size_t nfds,
			     const struct vu_parse_ctx *ctx, struct vu_msg *m,
			     struct msg_err *err)
{
	(void)size, (void)ctx;
	return check_single_region(d, p, fds, nfds, true, m, err);
}

static int check_rem_mem_reg(const struct vu_req_desc *d, const uint8_t *p,
			     uint32_t size, const int *fds, size_t nfds,
			     const struct vu_parse_ctx *ctx, struct vu_msg *m,
			     struct msg_err *err)
{
	(void)size, (void)ctx;
	return check_single_region(d, p, fds, nfds, false, m, err);
}

/* mmap_size/mmap_offset + fd, shared by SET_LOG_BASE and SET_INFLIGHT_FD. */
static int check_shm_area(const struct vu_req_desc *d, uint64_t mmap_size,
			  uint64_t mmap_offset, int fd, struct msg_err *err)
{
	uint64_t fsize;

	if (mmap_size == 0)
		return FAIL(d, -EINVAL, "mmap_size is 0");
	if (mmap_offset > UINT64_MAX - mmap_size)
		return FAIL(d, -EOVERFLOW, "mmap_offset + mmap_size overflows");
	if (fd_size(fd, &fsize) < 0)
		return FAIL(d, -EBADF, "fstat of the fd failed");
	if (mmap_offset + mmap_size > fsize)
		return FAIL(d, -EINVAL,
			    "mmap_offset + mmap_size (%#llx) is beyond the fd's size (%#llx)",
			    (unsigned long long)(mmap_offset + mmap_size),
			    (unsigned long long)fsize);
	return 0;
}

static int check_log_base(const struct vu_req_desc *d, const uint8_t *p,
			  uint32_t size, const int *fds, size_t nfds,
			  const struct vu_parse_ctx *ctx, struct vu_msg *m,
			  struct msg_err *err)
{
	struct vu_wire_log w;
	int rc;

	(void)size, (void)nfds, (void)ctx;
	memcpy(&w, p, sizeof(w));
	rc = check_shm_area(d, w.mmap_size, w.mmap_offset, fds[0], err);
	if (rc < 0)
		return rc;
	m->u.log.mmap_size = w.mmap_size;
	m->u.log.mmap_offset = w.mmap_offset;
	return 0;
}

static int check_log_fd(const struct vu_req_desc *d, const uint8_t *p,
			uint32_t size, const int *fds, size_t nfds,
			const struct vu_parse_ctx *ctx, struct vu_msg *m,
			struct msg_err *err)
{
	(void)p, (void)fds, (void)nfds, (void)ctx, (void)m;
	/* The spec gives it no payload; a u64 is tolerated, nothing between. */
	if (size != 0 && size != sizeof(uint64_t))
		return FAIL(d, -EBADMSG, "size %u, expected 0 or 8", size);
	return 0;
}

static int ring_index(const struct vu_req_desc *d, uint32_t index,
		      const struct vu_parse_ctx *ctx, struct msg_err *err)
{
	if (index >= ctx->max_vrings)
		return FAIL(d, -ERANGE, "ring index %u is not below %u", index,
			    ctx->max_vrings);
	return 0;
}

static int decode_state(const struct vu_req_desc *d, const uint8_t *p,
			const struct vu_parse_ctx *ctx, struct vu_vring_state *s,
			struct msg_err *err)
{
	struct vu_wire_vring_state w;

	memcpy(&w, p, sizeof(w));
	s->index = w.index;
	s->num = w.num;
	return ring_index(d, w.index, ctx, err);
}

static int check_vring_index(const struct vu_req_desc *d, const uint8_t *p,
			     uint32_t size, const int *fds, size_t nfds,
			     const struct vu_parse_ctx *ctx, struct vu_msg *m,
			     struct msg_err *err)
{
	struct vu_vring_state s;
	int rc;

	(void)size, (void)fds, (void)nfds;
	/* GET_VRING_BASE: num is unused on the request. */
	rc = decode_state(d, p, ctx, &s, err);
	if (rc < 0)
		return rc;
	m->u.state = s;
	m->ring = s.index;
	return 0;
}

static int check_vring_num(const struct vu_req_desc *d, const uint8_t *p,
			   uint32_t size, const int *fds, size_t nfds,
			   const struct vu_parse_ctx *ctx, struct vu_msg *m,
			   struct msg_err *err)
{
	struct vu_vring_state s;
	int rc;

	(void)size, (void)fds, (void)nfds;
	rc = decode_state(d, p, ctx, &s, err);
	if (rc < 0)
		return rc;
	/* Split rings index with "& (num - 1)": a power of two, at most 2^15. */
	if (!is_pow2(s.num) || s.num > VU_MAX_RING_SIZE)
		return FAIL(d, -ERANGE,
			    "ring %u: size %u is not a power of two in 1..%u",
			    s.index, s.num, VU_MAX_RING_SIZE);
	m->u.state = s;
	m->ring = s.index;
	return 0;
}

static int check_vring_base(const struct vu_req_desc *d, const uint8_t *p,
			    uint32_t size, const int *fds, size_t nfds,
			    const struct vu_parse_ctx *ctx, struct vu_msg *m,
			    struct msg_err *err)
{
	struct vu_vring_state s;
	int rc;

	(void)size, (void)fds, (void)nfds;
	rc = decode_state(d, p, ctx, &s, err);
	if (rc < 0)
		return rc;
	/* Split-ring avail index is 16 bits; we don't do packed rings, so
	 * there is no wrap-counter bit to allow for. */
	if (s.num > UINT16_MAX)
		return FAIL(d, -ERANGE, "ring %u: base %u does not fit 16 bits",
			    s.index, s.num);
	m->u.state = s;
	m->ring = s.index;
	return 0;
}

static int check_vring_enable(const struct vu_req_desc *d, const uint8_t *p,
			      uint32_t size, const int *fds, size_t nfds,
			      const struct vu_parse_ctx *ctx, struct vu_msg *m,
			      struct msg_err *err)
{
	struct vu_vring_state s;
	int rc;

	(void)size, (void)fds, (void)nfds;
	rc = decode_state(d, p, ctx, &s, err);
	if (rc < 0)
		return rc;
	if (s.num > 1)
		return FAIL(d, -ERANGE, "ring %u: enable is %u, not 0 or 1",
			    s.index, s.num);
	m->u.state = s;
	m->ring = s.index;
	return 0;
}

static int check_vring_addr(const struct vu_req_desc *d, const uint8_t *p,
			    uint32_t size, const int *fds, size_t nfds,
			    const struct vu_parse_ctx *ctx, struct vu_msg *m,
			    struct msg_err *err)
{
	struct vu_wire_vring_addr w;
	int rc;

	(void)size, (void)fds, (void)nfds;
	memcpy(&w, p, sizeof(w));
	rc = ring_index(d, w.index, ctx, err);
	if (rc < 0)
		return rc;
	if (w.flags & ~VU_VRING_F_LOG)
		return FAIL(d, -EINVAL, "ring %u: undefined flags %#x", w.index,
			    w.flags & ~VU_VRING_F_LOG);
	/*
	 * Virtio split-ring alignment (desc 16, avail 2, used 4).  The engine
	 * accesses idx fields atomically, which a misaligned ring would make
	 * undefined; a front end passes through what the guest driver set.
	 */
	if (w.desc_user_addr % 16)
		return FAIL(d, -EINVAL, "ring %u: desc_user_addr %#llx is not 16-byte aligned",
			    w.index, (unsigned long long)w.desc_user_addr);
	if (w.avail_user_addr % 2)
		return FAIL(d, -EINVAL, "ring %u: avail_user_addr %#llx is not 2-byte aligned",
			    w.index, (unsigned long long)w.avail_user_addr);
	if (w.used_user_addr % 4)
		return FAIL(d, -EINVAL, "ring %u: used_user_addr %#llx is not 4-byte aligned",
			    w.index, (unsigned long long)w.used_user_addr);
	m->u.addr.index = w.index;
	m->u.addr.flags = w.flags;
	m->u.addr.desc_user_addr = w.desc_user_addr;
	m->u.addr.used_user_addr = w.used_user_addr;
	m->u.addr.avail_user_addr = w.avail_user_addr;
	m->u.addr.log_guest_addr = w.log_guest_addr;
	m->ring = w.index;
	return 0;
}

static int check_vring_file(const struct vu_req_desc *d, const uint8_t *p,
			    uint32_t size, const int *fds, size_t nfds,
			    const struct vu_parse_ctx *ctx, struct vu_msg *m,
			    struct msg_err *err)
{
	uint64_t v = get_u64(p);
	uint64_t reserved = v & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD_MASK);
	int rc;

	(void)size, (void)fds, (void)nfds;
	if (reserved)
		return FAIL(d, -EINVAL, "reserved bits %#llx set",
			    (unsigned long long)reserved);
	rc = ring_index(d, (uint32_t)(v & VU_VRING_IDX_MASK), ctx, err);
	if (rc < 0)
		return rc;
	m->u.vring_file.index = (uint32_t)(v & VU_VRING_IDX_MASK);
	m->u.vring_file.nofd = (v & VU_VRING_NOFD_MASK) != 0;
	m->ring = m->u.vring_file.index;
	return 0;
}

static int check_rarp(const struct vu_req_desc *d, const uint8_t *p,
		      uint32_t size, const int *fds, size_t nfds,
		      const struct vu_parse_ctx *ctx, struct vu_msg *m,
		      struct msg_err *err)
{
	(void)d, (void)size, (void)fds, (void)nfds, (void)ctx, (void)err;
	/* A 6-byte MAC at the start of the u64 area; the other 2 bytes are
	 * padding QEMU leaves zeroed, ignored rather than judged. */
	memcpy(m->u.mac, p, sizeof(m->u.mac));
	return 0;
}

static int check_mtu(const struct vu_req_desc *d, const uint8_t *p,
		     uint32_t size, const int *fds, size_t nfds,
		     const struct vu_parse_ctx *ctx, struct vu_msg *m,
		     struct msg_err *err)
{
	uint64_t v = get_u64(p);

	(void)size, (void)fds, (void)nfds, (void)ctx;
	if (v < VU_MIN_MTU || v > VU_MAX_MTU)
		return FAIL(d, -ERANGE, "mtu %llu is not in %u..%u",
			    (unsigned long long)v, VU_MIN_MTU, VU_MAX_MTU);
	m->u.u64 = v;
	return 0;
}

static int check_status(const struct vu_req_desc *d, const uint8_t *p,
			uint32_t size, const int *fds, size_t nfds,
			const struct vu_parse_ctx *ctx, struct vu_msg *m,
			struct msg_err *err)
{
	uint64_t v = get_u64(p);

	(void)size, (void)fds, (void)nfds, (void)ctx;
	if (v > VU_STATUS_MAX)
		return FAIL(d, -ERANGE, "status %#llx is more than a byte",
			    (unsigned long long)v);
	m->u.u64 = v;
	return 0;
}

static int decode_inflight(const struct vu_req_desc *d, const uint8_t *p,
			   const struct vu_parse_ctx *ctx, struct vu_inflight *in,
			   struct msg_err *err)
{
	struct vu_wire_inflight w;

	memcpy(&w, p, sizeof(w));
	if (w.num_queues == 0 || w.num_queues > ctx->max_vrings)
		return FAIL(d, -ERANGE, "num_queues %u is not in 1..%u",
			    w.num_queues, ctx->max_vrings);
	if (w.queue_size == 0 || w.queue_size > VU_MAX_RING_SIZE)
		return FAIL(d, -ERANGE, "queue_size %u is not in 1..%u",
			    w.queue_size, VU_MAX_RING_SIZE);
	in->mmap_size = w.mmap_size;
	in->mmap_offset = w.mmap_offset;
	in->num_queues = w.num_queues;
	in->queue_size = w.queue_size;
	return 0;
}

static int check_get_inflight(const struct vu_req_desc *d, const uint8_t *p,
			      uint32_t size, const int *fds, size_t nfds,
			      const struct vu_parse_ctx *ctx, struct vu_msg *m,
			      struct msg_err *err)
{
	(void)size, (void)fds, (void)nfds;
	/* mmap_size/offset are ours to fill in the reply; only the queue
	 * geometry on the request means anything. */
	return decode_inflight(d, p, ctx, &m->u.inflight, err);
}

static int check_set_inflight(const struct vu_req_desc *d, const uint8_t *p,
			      uint32_t size, const int *fds, size_t nfds,
			      const struct vu_parse_ctx *ctx, struct vu_msg *m,
			      struct msg_err *err)
{
	struct vu_inflight in;
	int rc;

	(void)size, (void)nfds;
	rc = decode_inflight(d, p, ctx, &in, err);
	if (rc < 0)
		return rc;
	rc = check_shm_area(d, in.mmap_size, in.mmap_offset, fds[0], err);
	if (rc < 0)
		return rc;
	m->u.inflight = in;
	return 0;
}

/* ---- the validator ------------------------------------------------------ */

/*
 * How many fds the message must carry.  Runs after the size rule, so the
 * payload fields it peeks at are there.  For SET_MEM_TABLE it also bounds
 * nregions and ties hdr.size to it, since both decide the fd count.
 */
static int expected_fds(const struct vu_req_desc *d, const uint8_t *p,
			uint32_t size, size_t *ret_lo, size_t *ret_hi,
			struct msg_err *err)
{
	uint32_t n;

	switch (d->fds) {
	case FD_NONE:
		*ret_lo = *ret_hi = 0;
		return 0;
	case FD_ONE:
		*ret_lo = *ret_hi = 1;
		return 0;
	case FD_OPTIONAL:
		*ret_lo = 0;
		*ret_hi = 1;
		return 0;
	case FD_VRING_FLAG:
		*ret_lo = *ret_hi = (get_u64(p) & VU_VRING_NOFD_MASK) ? 0 : 1;
		return 0;
	case FD_PER_REGION:
		memcpy(&n, p, sizeof(n));
		if (n == 0 || n > VU_MAX_MEM_REGIONS)
			return FAIL(d, -ERANGE, "nregions %u is not in 1..%u", n,
				    VU_MAX_MEM_REGIONS);
		/* n <= 8: no overflow in the product. */
		if (size != offsetof(struct vu_wire_mem_table, regions) +
				    n * sizeof(struct vu_wire_mem_region))
			return FAIL(d, -EBADMSG,
				    "size %u does not match nregions %u", size, n);
		*ret_lo = *ret_hi = n;
		return 0;
	}
	return FAIL(d, -EINVAL, "no fd rule");
}

static int validate(const uint8_t *buf, size_t len, const int *fds,
		    size_t nfds, const struct vu_parse_ctx *ctx,
		    struct vu_msg *m, struct msg_err *err)
{
	const struct vu_req_desc *d;
	struct vu_wire_hdr h;
	const uint8_t *p;
	size_t lo, hi;
	int rc;

	if (len < VU_HDR_SIZE)
		return msg_fail(err, 0, "header", -EBADMSG,
			    "%zu bytes, shorter than the %u-byte header", len,
			    VU_HDR_SIZE);
	memcpy(&h, buf, sizeof(h));
	if ((h.flags & VU_FLAG_VERSION_MASK) != VU_VERSION)
		return msg_fail(err, h.request, "header", -EPROTO,
			    "version %u, expected %u",
			    h.flags & VU_FLAG_VERSION_MASK, VU_VERSION);
	if (h.flags & VU_FLAG_REPLY)
		return msg_fail(err, h.request, "header", -EPROTO,
			    "REPLY flag set on a request");
	/* Other flag bits are reserved; ignored so a newer front end that
	 * sets one is not cut off. */
	if (h.size > VU_MAX_PAYLOAD)
		return msg_fail(err, h.request, "header", -EMSGSIZE,
			    "payload size %u above the %u limit", h.size,
			    VU_MAX_PAYLOAD);
	if (len - VU_HDR_SIZE != h.size)
		return msg_fail(err, h.request, "header", -EBADMSG,
			    "size field says %u payload bytes, %zu present",
			    h.size, len - VU_HDR_SIZE);

	d = lookup(h.request);
	if (!d)
		return msg_fail(err, h.request, "header", -EOPNOTSUPP,
			    "unknown request %u", h.request);
	if (!(d->states & (unsigned)ctx->state))
		return FAIL(d, -EPERM, "not allowed %s",
			    ctx->state == VU_STATE_CONNECTED ? "before SET_OWNER"
							     : "in this state");
	if ((ctx->protocol_features & d->need_pf) != d->need_pf)
		return FAIL(d, -EOPNOTSUPP,
			    "needs protocol features %#llx, not negotiated",
			    (unsigned long long)(d->need_pf & ~ctx->protocol_features));
	if (h.size < d->min_size || h.size > d->max_size) {
		if (d->min_size == d->max_size)
			return FAIL(d, -EBADMSG, "size %u, expected %u", h.size,
				    d->min_size);
		return FAIL(d, -EBADMSG, "size %u, expected %u..%u", h.size,
			    d->min_size, d->max_size);
	}

	p = buf + VU_HDR_SIZE;
	rc = expected_fds(d, p, h.size, &lo, &hi, err);
	if (rc < 0)
		return rc;
	if (nfds < lo || nfds > hi) {
		if (lo == hi)
			return FAIL(d, -EBADF, "%zu fds, expected %zu", nfds, lo);
		return FAIL(d, -EBADF, "%zu fds, expected %zu..%zu", nfds, lo, hi);
	}

	m->request = h.request;
	m->flags = h.flags;
	return d->check ? d->check(d, p, h.size, fds, nfds, ctx, m, err) : 0;
}

int vu_parse(const uint8_t *buf, size_t len, int *fds, size_t nfds,
	     const struct vu_parse_ctx *ctx, struct vu_msg *ret,
	     struct msg_err *err)
{
	struct vu_msg m;
	int rc;

	if (nfds && !fds)
		return msg_fail(err, 0, "vu_parse", -EINVAL, "nfds without fds");
	if (!ctx || !ret || (len && !buf)) {
		rc = msg_fail(err, 0, "vu_parse", -EINVAL, "missing argument");
		goto out_close;
	}
	if (nfds > VU_MAX_FDS) {
		rc = msg_fail(err, 0, "header", -EBADF, "%zu fds, at most %u", nfds,
			  VU_MAX_FDS);
		goto out_close;
	}

	memset(&m, 0, sizeof(m));
	rc = validate(buf, len, fds, nfds, ctx, &m, err);
	if (rc < 0)
		goto out_close;

	/* Hand the fds on: the message owns them now. */
	sio_move_fds(m.fds, VU_MAX_FDS, fds, nfds);
	m.nfds = nfds;
	*ret = m;
	return 0;

out_close:
	sio_close_fds(fds, nfds);
	return rc;
}

int vu_msg_take_fd(struct vu_msg *m, size_t i)
{
	if (!m)
		return -1;
	return sio_take_fd(m->fds, m->nfds < VU_MAX_FDS ? m->nfds : VU_MAX_FDS, i);
}

void vu_msg_close(struct vu_msg *m)
{
	if (!m)
		return;
	sio_close_fds(m->fds, m->nfds < VU_MAX_FDS ? m->nfds : VU_MAX_FDS);
}

/* ---- replies ------------------------------------------------------------ */

enum vu_respond vu_respond(const struct vu_msg *m, uint64_t protocol_features)
{
	const struct vu_req_desc *d;

	if (!m || !(d = lookup(m->request)))
		return VU_RESPOND_NONE;
	if (d->reply == REPLY_ALWAYS ||
	    (d->reply == REPLY_IF_PF && (protocol_features & d->reply_pf)))
		return VU_RESPOND_REPLY;
	if ((m->flags & VU_FLAG_NEED_REPLY) &&
	    (protocol_features & VU_PF(VU_PROTO_F_REPLY_ACK)))
		return VU_RESPOND_ACK;
	return VU_RESPOND_NONE;
}

bool vu_needs_ack(const struct vu_msg *m, uint64_t protocol_features)
{
	return vu_respond(m, protocol_features) == VU_RESPOND_ACK;
}

static int encode(uint32_t request, const void *payload, uint32_t size,
		  uint8_t *buf, size_t len, size_t *ret_len)
{
	struct vu_wire_hdr h = {
		.request = request,
		.flags = VU_VERSION | VU_FLAG_REPLY,
		.size = size,
	};

	if (!buf || len < VU_HDR_SIZE + (size_t)size)
		return -ENOBUFS;
	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + VU_HDR_SIZE, payload, size);
	*ret_len = VU_HDR_SIZE + (size_t)size;
	return 0;
}

int vu_encode_reply(const struct vu_reply *r, uint8_t *buf, size_t len,
		    size_t *ret_len)
{
	const struct vu_req_desc *d;
	struct vu_wire_vring_state st;
	struct vu_wire_inflight in;

	if (!r || !ret_len || !(d = lookup(r->request)))
		return -EINVAL;
	switch (d->body) {
	case BODY_EMPTY:
		return encode(r->request, NULL, 0, buf, len, ret_len);
	case BODY_U64:
		return encode(r->request, &r->u.u64, sizeof(r->u.u64), buf, len,
			      ret_len);
	case BODY_STATE:
		st.index = r->u.state.index;
		st.num = r->u.state.num;
		return encode(r->request, &st, sizeof(st), buf, len, ret_len);
	case BODY_INFLIGHT:
		memset(&in, 0, sizeof(in));
		in.mmap_size = r->u.inflight.mmap_size;
		in.mmap_offset = r->u.inflight.mmap_offset;
		in.num_queues = r->u.inflight.num_queues;
		in.queue_size = r->u.inflight.queue_size;
		return encode(r->request, &in, sizeof(in), buf, len, ret_len);
	case BODY_NONE:
		break;
	}
	return -EINVAL;
}

int vu_encode_ack(uint32_t request, int status, uint8_t *buf, size_t len,
		  size_t *ret_len)
{
	uint64_t v = status == 0 ? 0 : 1;

	if (!ret_len || !lookup(request))
		return -EINVAL;
	return encode(request, &v, sizeof(v), buf, len, ret_len);
}
