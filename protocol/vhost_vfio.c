// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-vfio mailbox: the message table, the single validator, the pure
 * parser and the encoders.  See vhost_vfio.h for the device layout and the
 * API.
 *
 * Trust boundary: the bytes read from (device side: written to) the
 * mailbox region come from the other end and are untrusted: the agent's
 * requests for the device, the device's replies for the agent.  Every count
 * is bounded before use, every address + size is checked for wrap-around
 * before it is formed.  Nothing here asserts on peer data, and nothing has
 * side effects: no fds travel through a mailbox.
 */
#include "protocol/vhost_vfio.h"
#include "protocol/msg_table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- the message table ------------------------------------------------ */

enum reply_body {
	BODY_STATUS, /* u64 status, 0 (failures travel as ERROR + errno) */
	BODY_U64,    /* GET_FEATURES */
	BODY_STATE,  /* GET_VRING_BASE: struct vv_wire_vring_state */
};

struct vv_req_desc;
typedef int check_fn(const struct vv_req_desc *d, const uint8_t *p,
		     uint32_t size, const struct vv_parse_ctx *ctx,
		     struct vv_msg *m, struct msg_err *err);

struct vv_req_desc {
	uint64_t request;
	const char *name;
	uint32_t min_size;    /* request payload bytes; min == max means exact */
	uint32_t max_size;
	bool always_replies;  /* GET_*: NEED_REPLY is implied */
	enum reply_body body; /* a successful reply's payload (always 8 bytes) */
	const char *refused;  /* known, but not over the mailbox: what to use */
	check_fn *check;      /* request payload checks and decoding */
};

static check_fn check_u64_any, check_mem_table, check_vring_num,
	check_vring_addr, check_vring_base, check_vring_index, check_state,
	check_log;

#define S_STATE ((uint32_t)sizeof(struct vv_wire_vring_state))
#define S_ADDR ((uint32_t)sizeof(struct vv_wire_vring_addr))
#define S_REGION ((uint32_t)sizeof(struct vv_wire_mem_region))
#define S_MT_HDR ((uint32_t)offsetof(struct vv_wire_mem_table, regions))
#define S_LOG ((uint32_t)sizeof(struct vv_wire_log))
#define S_REPLY 8u

/*
 * Choices, and why:
 *  - Sizes follow the Linux ioctl arguments, so a device can hand the
 *    payload to its vhost core as the kernel would; SET_MEM_TABLE is the
 *    ioctl's struct vhost_memory with nregions entries.
 *  - Every reply payload is 8 bytes: the u64 (GET_FEATURES), the vring
 *    state (GET_VRING_BASE), a u64 status 0, or with ERROR a u64 errno.
 *  - The four refused requests name what replaces them, so the daemon's
 *    log line says it.
 */
#define EXACT(n) .min_size = (n), .max_size = (n)
#define RANGE(lo, hi) .min_size = (lo), .max_size = (hi)

/*
 * Ioctl numbers are too sparse to index by: rows are found by .request.
 * A field left out is the default: no payload, a status reply only when
 * NEED_REPLY asks for one, carried over the mailbox, no payload check.
 */
static const struct vv_req_desc vv_table[] = {
	{ .request = VV_REQ_GET_FEATURES, .name = "GET_FEATURES",
	  .always_replies = true, .body = BODY_U64 },
	{ .request = VV_REQ_SET_FEATURES, .name = "SET_FEATURES", EXACT(8),
	  .check = check_u64_any },
	{ .request = VV_REQ_SET_OWNER, .name = "SET_OWNER" },
	{ .request = VV_REQ_RESET_OWNER, .name = "RESET_OWNER" },
	{ .request = VV_REQ_SET_MEM_TABLE, .name = "SET_MEM_TABLE",
	  RANGE(S_MT_HDR + S_REGION, (uint32_t)sizeof(struct vv_wire_mem_table)),
	  .check = check_mem_table },
	{ .request = VV_REQ_SET_LOG_BASE, .name = "SET_LOG_BASE", EXACT(8),
	  .refused = "carries a raw host address no device can use; send SET_LOG_BASE_IOVA" },
	{ .request = VV_REQ_SET_LOG_FD, .name = "SET_LOG_FD", EXACT(4),
	  .refused = "the device logs by DMA, there is no log eventfd" },
	{ .request = VV_REQ_SET_VRING_NUM, .name = "SET_VRING_NUM", EXACT(S_STATE),
	  .check = check_vring_num },
	{ .request = VV_REQ_SET_VRING_ADDR, .name = "SET_VRING_ADDR", EXACT(S_ADDR),
	  .check = check_vring_addr },
	{ .request = VV_REQ_SET_VRING_BASE, .name = "SET_VRING_BASE", EXACT(S_STATE),
	  .check = check_vring_base },
	{ .request = VV_REQ_GET_VRING_BASE, .name = "GET_VRING_BASE", EXACT(S_STATE),
	  .always_replies = true, .body = BODY_STATE, .check = check_vring_index },
	{ .request = VV_REQ_SET_VRING_KICK, .name = "SET_VRING_KICK", EXACT(8),
	  .refused = "kicks are doorbells: write the queue index to its region 1 page, "
		     "or an ioeventfd on it" },
	{ .request = VV_REQ_SET_VRING_CALL, .name = "SET_VRING_CALL", EXACT(8),
	  .refused = "calls are MSI-X vectors: bind the eventfd with VFIO SET_IRQS" },
	{ .request = VV_REQ_DEVICE_SET_STATE, .name = "DEVICE_SET_STATE", EXACT(8),
	  .check = check_state },
	{ .request = VV_REQ_SET_LOG_BASE_IOVA, .name = "SET_LOG_BASE_IOVA", EXACT(S_LOG),
	  .check = check_log },
};

#undef EXACT
#undef RANGE

static const struct vv_req_desc *lookup(uint64_t request)
{
	return MSG_FIND(vv_table, request, request);
}

const char *vv_request_name(uint64_t request)
{
	const struct vv_req_desc *d = lookup(request);

	return d ? d->name : "UNKNOWN";
}

/* ---- helpers ------------------------------------------------------------ */

#define FAIL(d, rc, ...) msg_fail(err, (d)->request, (d)->name, (rc), __VA_ARGS__)
#define ULL(v) ((unsigned long long)(v))

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* ---- request payload checks --------------------------------------------- */

static int check_u64_any(const struct vv_req_desc *d, const uint8_t *p,
			 uint32_t size, const struct vv_parse_ctx *ctx,
			 struct vv_msg *m, struct msg_err *err)
{
	(void)d, (void)size, (void)ctx, (void)err;
	/* Features: whether they were offered is the device's judgement. */
	m->u.u64 = get_u64(p);
	return 0;
}

static int check_state(const struct vv_req_desc *d, const uint8_t *p,
		       uint32_t size, const struct vv_parse_ctx *ctx,
		       struct vv_msg *m, struct msg_err *err)
{
	uint64_t v = get_u64(p);

	(void)size, (void)ctx;
	if (v != VV_STATE_STOP && v != VV_STATE_START)
		return FAIL(d, -EINVAL, "state %llu is neither STOP (0) nor START (1)", ULL(v));
	m->u.u64 = v;
	return 0;
}

static int check_mem_table(const struct vv_req_desc *d, const uint8_t *p,
			   uint32_t size, const struct vv_parse_ctx *ctx,
			   struct vv_msg *m, struct msg_err *err)
{
	struct vv_mem_region *r = m->u.mem.regions;
	uint32_t n;

	(void)ctx;
	memcpy(&n, p, sizeof(n));
	if (n == 0 || n > VV_MAX_MEM_REGIONS)
		return FAIL(d, -ERANGE, "nregions %u is not in 1..%u", n, VV_MAX_MEM_REGIONS);
	/* n <= 8: no overflow. */
	if (size != S_MT_HDR + n * S_REGION)
		return FAIL(d, -EBADMSG, "size %u does not match nregions %u", size, n);
	for (uint32_t i = 0; i < n; i++) {
		struct vv_wire_mem_region w;

		memcpy(&w, p + S_MT_HDR + i * S_REGION, sizeof(w));
		if (w.memory_size == 0)
			return FAIL(d, -EINVAL, "region %u: memory_size is 0", i);
		if (w.guest_phys_addr > UINT64_MAX - w.memory_size)
			return FAIL(d, -EOVERFLOW, "region %u: guest_phys_addr + memory_size overflows", i);
		if (w.userspace_addr > UINT64_MAX - w.memory_size)
			return FAIL(d, -EOVERFLOW, "region %u: userspace_addr (IOVA) + memory_size overflows", i);
		r[i].guest_phys_addr = w.guest_phys_addr;
		r[i].memory_size = w.memory_size;
		r[i].userspace_addr = w.userspace_addr;
	}
	/* Overlapping guest ranges would make GPA translation ambiguous. */
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			if (r[i].guest_phys_addr < r[j].guest_phys_addr + r[j].memory_size &&
			    r[j].guest_phys_addr < r[i].guest_phys_addr + r[i].memory_size)
				return FAIL(d, -EINVAL,
					    "regions %u and %u overlap in guest physical space", i, j);
	m->u.mem.nregions = n;
	return 0;
}

static int decode_state(const struct vv_req_desc *d, const uint8_t *p,
			const struct vv_parse_ctx *ctx, struct vv_vring_state *s,
			struct msg_err *err)
{
	struct vv_wire_vring_state w;

	memcpy(&w, p, sizeof(w));
	if (w.index >= ctx->max_vrings)
		return FAIL(d, -ERANGE, "ring index %u is not below %u", w.index, ctx->max_vrings);
	s->index = w.index;
	s->num = w.num;
	return 0;
}

static int check_vring_index(const struct vv_req_desc *d, const uint8_t *p,
			     uint32_t size, const struct vv_parse_ctx *ctx,
			     struct vv_msg *m, struct msg_err *err)
{
	(void)size;
	/* GET_VRING_BASE: num is unused on the request. */
	return decode_state(d, p, ctx, &m->u.state, err);
}

static int check_vring_num(const struct vv_req_desc *d, const uint8_t *p,
			   uint32_t size, const struct vv_parse_ctx *ctx,
			   struct vv_msg *m, struct msg_err *err)
{
	struct vv_vring_state s;
	int rc;

	(void)size;
	if ((rc = decode_state(d, p, ctx, &s, err)) < 0)
		return rc;
	if (!is_pow2(s.num) || s.num > VV_MAX_RING_SIZE)
		return FAIL(d, -ERANGE, "ring %u: size %u is not a power of two in 1..%u",
			    s.index, s.num, VV_MAX_RING_SIZE);
	m->u.state = s;
	return 0;
}

/* A split-ring index is 16 bits (no packed rings, no wrap counter). */
static int check_base(const struct vv_req_desc *d, const struct vv_vring_state *s,
		      struct msg_err *err)
{
	if (s->num > UINT16_MAX)
		return FAIL(d, -ERANGE, "ring %u: base %u does not fit 16 bits", s->index, s->num);
	return 0;
}

static int check_vring_base(const struct vv_req_desc *d, const uint8_t *p,
			    uint32_t size, const struct vv_parse_ctx *ctx,
			    struct vv_msg *m, struct msg_err *err)
{
	struct vv_vring_state s;
	int rc;

	(void)size;
	if ((rc = decode_state(d, p, ctx, &s, err)) < 0 || (rc = check_base(d, &s, err)) < 0)
		return rc;
	m->u.state = s;
	return 0;
}

static int check_vring_addr(const struct vv_req_desc *d, const uint8_t *p,
			    uint32_t size, const struct vv_parse_ctx *ctx,
			    struct vv_msg *m, struct msg_err *err)
{
	struct vv_wire_vring_addr w;

	(void)size;
	memcpy(&w, p, sizeof(w));
	if (w.index >= ctx->max_vrings)
		return FAIL(d, -ERANGE, "ring index %u is not below %u", w.index, ctx->max_vrings);
	if (w.flags & ~VV_VRING_F_LOG)
		return FAIL(d, -EINVAL, "ring %u: undefined flags %#x", w.index,
			    w.flags & ~VV_VRING_F_LOG);
	/* Virtio split-ring alignment: desc 16, avail 2, used 4. */
	if (w.desc_user_addr % 16)
		return FAIL(d, -EINVAL, "ring %u: desc_user_addr %#llx is not 16-byte aligned",
			    w.index, ULL(w.desc_user_addr));
	if (w.avail_user_addr % 2)
		return FAIL(d, -EINVAL, "ring %u: avail_user_addr %#llx is not 2-byte aligned",
			    w.index, ULL(w.avail_user_addr));
	if (w.used_user_addr % 4)
		return FAIL(d, -EINVAL, "ring %u: used_user_addr %#llx is not 4-byte aligned",
			    w.index, ULL(w.used_user_addr));
	m->u.addr.index = w.index;
	m->u.addr.flags = w.flags;
	m->u.addr.desc_user_addr = w.desc_user_addr;
	m->u.addr.used_user_addr = w.used_user_addr;
	m->u.addr.avail_user_addr = w.avail_user_addr;
	m->u.addr.log_guest_addr = w.log_guest_addr;
	return 0;
}

static int check_log(const struct vv_req_desc *d, const uint8_t *p, uint32_t size,
		     const struct vv_parse_ctx *ctx, struct vv_msg *m,
		     struct msg_err *err)
{
	struct vv_wire_log w;

	(void)size, (void)ctx;
	memcpy(&w, p, sizeof(w));
	if (w.size == 0)
		return FAIL(d, -EINVAL, "size is 0");
	if (w.iova > UINT64_MAX - w.size)
		return FAIL(d, -EOVERFLOW, "iova %#llx + size %#llx overflows", ULL(w.iova),
			    ULL(w.size));
	/* The log is read and cleared in 64-bit words, with atomics. */
	if (w.size % 8)
		return FAIL(d, -EINVAL, "size %#llx is not a multiple of 8", ULL(w.size));
	if (w.iova % 8)
		return FAIL(d, -EINVAL, "iova %#llx is not 8-byte aligned", ULL(w.iova));
	if (w.size > VV_MAX_LOG_SIZE)
		return FAIL(d, -ERANGE, "size %#llx is above %#llx", ULL(w.size),
			    ULL(VV_MAX_LOG_SIZE));
	/* A power of two by construction; 4 KiB .. 2 MiB per bit. */
	if (w.granularity_shift < VV_LOG_SHIFT_MIN || w.granularity_shift > VV_LOG_SHIFT_MAX)
		return FAIL(d, -ERANGE, "granularity_shift %u is not in %u..%u (4 KiB..2 MiB)",
			    w.granularity_shift, VV_LOG_SHIFT_MIN, VV_LOG_SHIFT_MAX);
	m->u.log.iova = w.iova;
	m->u.log.size = w.size;
	m->u.log.granularity_shift = w.granularity_shift;
	return 0;
}

/* ---- the validator ------------------------------------------------------ */

static int check_reply(const struct vv_req_desc *d, const struct vv_wire_hdr *h,
		       const uint8_t *p, const struct vv_parse_ctx *ctx,
		       struct vv_msg *m, struct msg_err *err)
{
	uint64_t v;
	int rc;

	if (h->flags & VV_FLAG_NEED_REPLY)
		return FAIL(d, -EPROTO, "NEED_REPLY flag on a reply");
	if (h->size != S_REPLY)
		return FAIL(d, -EBADMSG, "reply size %u, expected %u", h->size, S_REPLY);
	v = get_u64(p);
	if (h->flags & VV_FLAG_ERROR) {
		if (v == 0 || v > VV_MAX_ERRNO)
			return FAIL(d, -EPROTO, "error reply with errno %llu, not 1..%u", ULL(v),
				    VV_MAX_ERRNO);
		m->status = -(int)v;
		return 0;
	}
	switch (d->body) {
	case BODY_STATUS:
		if (v != 0)
			return FAIL(d, -EPROTO, "status %llu without the ERROR flag", ULL(v));
		break;
	case BODY_U64:
		m->u.u64 = v;
		break;
	case BODY_STATE:
		if ((rc = decode_state(d, p, ctx, &m->u.state, err)) < 0 ||
		    (rc = check_base(d, &m->u.state, err)) < 0)
			return rc;
		break;
	}
	m->status = 0;
	return 0;
}

static int validate(const uint8_t *buf, size_t len, const struct vv_parse_ctx *ctx,
		    struct vv_msg *m, struct msg_err *err)
{
	const struct vv_req_desc *d;
	struct vv_wire_hdr h;
	const uint8_t *p = buf + VV_HDR_SIZE;
	int rc;

	if (len < VV_HDR_SIZE)
		return msg_fail(err, 0, "header", -EBADMSG,
			    "%zu bytes, shorter than the %u-byte header", len, VV_HDR_SIZE);
	memcpy(&h, buf, sizeof(h));
	if (h.size > VV_MAX_PAYLOAD)
		return msg_fail(err, h.request, "header", -EMSGSIZE,
			    "payload size %u above the %u limit", h.size, VV_MAX_PAYLOAD);
	if (len - VV_HDR_SIZE != h.size)
		return msg_fail(err, h.request, "header", -EBADMSG,
			    "size field says %u payload bytes, %zu present", h.size,
			    len - VV_HDR_SIZE);
	if (h.flags & ~VV_FLAG_KNOWN)
		return msg_fail(err, h.request, "header", -EPROTO, "reserved flag bits %#x",
			    h.flags & ~VV_FLAG_KNOWN);
	if ((h.flags & VV_FLAG_ERROR) && !(h.flags & VV_FLAG_REPLY))
		return msg_fail(err, h.request, "header", -EPROTO, "ERROR flag on a request");

	d = lookup(h.request);
	if (!d)
		return msg_fail(err, h.request, "header", -EOPNOTSUPP, "unknown request %#llx",
			    ULL(h.request));
	if (d->refused)
		return FAIL(d, -EOPNOTSUPP, "not carried over the mailbox: %s", d->refused);

	m->request = h.request;
	m->flags = h.flags;
	if (h.flags & VV_FLAG_REPLY)
		return check_reply(d, &h, p, ctx, m, err);

	if (h.size < d->min_size || h.size > d->max_size) {
		if (d->min_size == d->max_size)
			return FAIL(d, -EBADMSG, "size %u, expected %u", h.size, d->min_size);
		return FAIL(d, -EBADMSG, "size %u, expected %u..%u", h.size, d->min_size,
			    d->max_size);
	}
	m->status = 0;
	if (d->check && (rc = d->check(d, p, h.size, ctx, m, err)) < 0)
		return rc;
	return 0;
}

int vv_msg_size(const uint8_t *buf, size_t len, size_t *ret)
{
	struct vv_wire_hdr h;

	if (!buf || !ret || len < VV_HDR_SIZE)
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.size > VV_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (h.size > len - VV_HDR_SIZE)
		return -EBADMSG;
	*ret = VV_HDR_SIZE + (size_t)h.size;
	return 0;
}

int vv_parse(const uint8_t *buf, size_t len, const struct vv_parse_ctx *ctx,
	     struct vv_msg *ret, struct msg_err *err)
{
	struct vv_msg m;
	int rc;

	if (!ctx || !ret || (len && !buf))
		return msg_fail(err, 0, "vv_parse", -EINVAL, "missing argument");
	memset(&m, 0, sizeof(m));
	rc = validate(buf, len, ctx, &m, err);
	if (rc < 0)
		return rc;
	*ret = m;
	return 0;
}

bool vv_expects_reply(const struct vv_msg *req)
{
	const struct vv_req_desc *d;

	if (!req || vv_msg_is_reply(req) || !(d = lookup(req->request)) || d->refused)
		return false;
	return d->always_replies || (req->flags & VV_FLAG_NEED_REPLY);
}

int vv_match_reply(const struct vv_msg *req, const struct vv_msg *rep,
		   struct msg_err *err)
{
	if (!req || !rep)
		return msg_fail(err, 0, "vv_match_reply", -EINVAL, "missing argument");
	if (vv_msg_is_reply(req) || !vv_msg_is_reply(rep))
		return msg_fail(err, rep->request, "vv_match_reply", -EPROTO,
			    "not a request and its reply");
	if (rep->request != req->request)
		return msg_fail(err, rep->request, vv_request_name(rep->request), -EPROTO,
			    "reply to %#llx, the request was %#llx", ULL(rep->request),
			    ULL(req->request));
	if (rep->status == 0 && req->request == VV_REQ_GET_VRING_BASE &&
	    rep->u.state.index != req->u.state.index)
		return msg_fail(err, rep->request, "GET_VRING_BASE", -EPROTO,
			    "reply for ring %u, the request was for ring %u",
			    rep->u.state.index, req->u.state.index);
	return 0;
}

/* ---- encoders ----------------------------------------------------------- */

void vv_msg_init(struct vv_msg *m, uint64_t request, uint32_t flags)
{
	memset(m, 0, sizeof(*m));
	m->request = request;
	m->flags = flags;
}

void vv_reply_init(struct vv_msg *m, const struct vv_msg *req)
{
	vv_msg_init(m, req->request, VV_FLAG_REPLY);
}

/* The request payload of m; *ret_size bytes at p (cap there). */
static int enc_request(const struct vv_msg *m, uint8_t *p, size_t cap,
		       uint32_t *ret_size)
{
	union {
		uint64_t u64;
		struct vv_wire_vring_state st;
		struct vv_wire_vring_addr addr;
		struct vv_wire_mem_table mt;
		struct vv_wire_log log;
	} w;
	uint32_t size;

	memset(&w, 0, sizeof(w));
	switch (m->request) {
	case VV_REQ_GET_FEATURES:
	case VV_REQ_SET_OWNER:
	case VV_REQ_RESET_OWNER:
		size = 0;
		break;
	case VV_REQ_SET_FEATURES:
	case VV_REQ_DEVICE_SET_STATE:
		w.u64 = m->u.u64;
		size = sizeof(w.u64);
		break;
	case VV_REQ_SET_VRING_NUM:
	case VV_REQ_SET_VRING_BASE:
	case VV_REQ_GET_VRING_BASE:
		w.st.index = m->u.state.index;
		w.st.num = m->u.state.num;
		size = sizeof(w.st);
		break;
	case VV_REQ_SET_VRING_ADDR:
		w.addr.index = m->u.addr.index;
		w.addr.flags = m->u.addr.flags;
		w.addr.desc_user_addr = m->u.addr.desc_user_addr;
		w.addr.used_user_addr = m->u.addr.used_user_addr;
		w.addr.avail_user_addr = m->u.addr.avail_user_addr;
		w.addr.log_guest_addr = m->u.addr.log_guest_addr;
		size = sizeof(w.addr);
		break;
	case VV_REQ_SET_MEM_TABLE:
		if (m->u.mem.nregions == 0 || m->u.mem.nregions > VV_MAX_MEM_REGIONS)
			return -ERANGE;
		w.mt.nregions = m->u.mem.nregions;
		for (uint32_t i = 0; i < m->u.mem.nregions; i++) {
			w.mt.regions[i].guest_phys_addr = m->u.mem.regions[i].guest_phys_addr;
			w.mt.regions[i].memory_size = m->u.mem.regions[i].memory_size;
			w.mt.regions[i].userspace_addr = m->u.mem.regions[i].userspace_addr;
		}
		size = S_MT_HDR + m->u.mem.nregions * S_REGION;
		break;
	case VV_REQ_SET_LOG_BASE_IOVA:
		w.log.iova = m->u.log.iova;
		w.log.size = m->u.log.size;
		w.log.granularity_shift = m->u.log.granularity_shift;
		size = sizeof(w.log);
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (size > cap)
		return -ENOBUFS;
	memcpy(p, &w, size);
	*ret_size = size;
	return 0;
}

static int enc_reply(const struct vv_msg *m, uint8_t *p, size_t cap,
		     uint32_t *ret_size)
{
	const struct vv_req_desc *d = lookup(m->request);
	struct vv_wire_vring_state st;
	uint64_t v = 0;

	if (!d || d->refused)
		return -EOPNOTSUPP;
	if (cap < S_REPLY)
		return -ENOBUFS;
	if (m->status < 0) {
		v = (uint64_t)-(int64_t)m->status;
	} else if (d->body == BODY_U64) {
		v = m->u.u64;
	} else if (d->body == BODY_STATE) {
		st.index = m->u.state.index;
		st.num = m->u.state.num;
		memcpy(&v, &st, sizeof(v));
	}
	memcpy(p, &v, sizeof(v));
	*ret_size = S_REPLY;
	return 0;
}

int vv_encode(const struct vv_msg *m, const struct vv_parse_ctx *ctx,
	      uint8_t *buf, size_t len, size_t *ret_len, struct msg_err *err)
{
	const struct vv_req_desc *d;
	struct vv_wire_hdr h;
	struct vv_msg check;
	uint32_t size = 0;
	int rc;

	if (!m || !ctx || !buf || !ret_len)
		return msg_fail(err, 0, "vv_encode", -EINVAL, "missing argument");
	if (len < VV_HDR_SIZE)
		return msg_fail(err, m->request, "vv_encode", -ENOBUFS, "%zu-byte buffer", len);
	d = lookup(m->request);
	if (!d)
		return msg_fail(err, m->request, "vv_encode", -EOPNOTSUPP,
			    "unknown request %#llx", ULL(m->request));
	if (d->refused)
		return FAIL(d, -EOPNOTSUPP, "not carried over the mailbox: %s", d->refused);
	if (vv_msg_is_reply(m))
		rc = enc_reply(m, buf + VV_HDR_SIZE, len - VV_HDR_SIZE, &size);
	else
		rc = enc_request(m, buf + VV_HDR_SIZE, len - VV_HDR_SIZE, &size);
	if (rc == -ENOBUFS)
		return FAIL(d, rc, "does not fit a %zu-byte buffer", len);
	if (rc < 0)
		return FAIL(d, rc, "cannot be encoded");
	h.request = m->request;
	h.flags = m->flags & ~VV_FLAG_ERROR;
	if (vv_msg_is_reply(m) && m->status < 0)
		h.flags |= VV_FLAG_ERROR;
	h.size = size;
	memcpy(buf, &h, sizeof(h));

	/* What we write, we would accept. */
	rc = validate(buf, VV_HDR_SIZE + (size_t)size, ctx, &check, err);
	if (rc < 0)
		return rc;
	*ret_len = VV_HDR_SIZE + (size_t)size;
	return 0;
}
