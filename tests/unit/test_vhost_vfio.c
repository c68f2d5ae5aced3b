// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for protocol/vhost_vfio.c: the request numbers are Linux's
 * (checked against <linux/vhost.h>), every request and reply round-trips
 * (encode, parse, fields equal), every malformed mailbox message, built
 * byte by byte, is refused with its own errno and reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <linux/vhost.h>

#include "agent/common/util.h"
#include "protocol/vhost_vfio.h"
#include "tests/helpers/testhelp.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define MAX_VRINGS 4

static const struct vv_parse_ctx ctx = { .max_vrings = MAX_VRINGS };

static void roundtrip(const struct vv_msg *m, struct vv_msg *out)
{
	uint8_t buf[VV_MAX_MSG];
	struct msg_err err = { 0 };
	size_t len = 0;
	int rc;

	rc = vv_encode(m, &ctx, buf, sizeof(buf), &len, &err);
	if (rc)
		print_error("encode %s: %d %s\n", vv_request_name(m->request), rc, err.reason);
	assert_int_equal(rc, 0);
	assert_true(len >= VV_HDR_SIZE && len <= VV_MAX_MSG);
	memset(out, 0x5a, sizeof(*out));
	rc = vv_parse(buf, len, &ctx, out, &err);
	if (rc)
		print_error("parse %s: %d %s\n", vv_request_name(m->request), rc, err.reason);
	assert_int_equal(rc, 0);
	assert_int_equal(out->request, m->request);
	assert_int_equal(out->flags & ~VV_FLAG_ERROR, m->flags & ~VV_FLAG_ERROR);
	assert_int_equal(out->status, m->status);
}

static void test_request_numbers(void **state)
{
	(void)state;
	/* The kernel's own macros, so a typo in ours cannot hide. */
	assert_int_equal(VV_REQ_GET_FEATURES, VHOST_GET_FEATURES);
	assert_int_equal(VV_REQ_SET_FEATURES, VHOST_SET_FEATURES);
	assert_int_equal(VV_REQ_SET_OWNER, VHOST_SET_OWNER);
	assert_int_equal(VV_REQ_RESET_OWNER, VHOST_RESET_OWNER);
	assert_int_equal(VV_REQ_SET_MEM_TABLE, VHOST_SET_MEM_TABLE);
	assert_int_equal(VV_REQ_SET_LOG_BASE, VHOST_SET_LOG_BASE);
	assert_int_equal(VV_REQ_SET_LOG_FD, VHOST_SET_LOG_FD);
	assert_int_equal(VV_REQ_SET_VRING_NUM, VHOST_SET_VRING_NUM);
	assert_int_equal(VV_REQ_SET_VRING_ADDR, VHOST_SET_VRING_ADDR);
	assert_int_equal(VV_REQ_SET_VRING_BASE, VHOST_SET_VRING_BASE);
	assert_int_equal(VV_REQ_GET_VRING_BASE, VHOST_GET_VRING_BASE);
	assert_int_equal(VV_REQ_SET_VRING_KICK, VHOST_SET_VRING_KICK);
	assert_int_equal(VV_REQ_SET_VRING_CALL, VHOST_SET_VRING_CALL);
	/* Ours are outside the 32-bit ioctl space. */
	assert_true(VV_REQ_DEVICE_SET_STATE > UINT32_MAX);
	assert_true(VV_REQ_SET_LOG_BASE_IOVA > UINT32_MAX);
	assert_string_equal(vv_request_name(VV_REQ_SET_LOG_BASE_IOVA), "SET_LOG_BASE_IOVA");
	assert_string_equal(vv_request_name(0), "UNKNOWN");
}

static void test_simple_requests(void **state)
{
	static const uint64_t reqs[] = { VV_REQ_GET_FEATURES, VV_REQ_SET_OWNER, VV_REQ_RESET_OWNER };
	struct vv_msg m, r;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		vv_msg_init(&m, reqs[i], i == 1 ? VV_FLAG_NEED_REPLY : 0);
		roundtrip(&m, &r);
	}
	vv_msg_init(&m, VV_REQ_SET_FEATURES, VV_FLAG_NEED_REPLY);
	m.u.u64 = (UINT64_C(1) << 32) | (UINT64_C(1) << 26);
	roundtrip(&m, &r);
	assert_int_equal(r.u.u64, m.u.u64);
	assert_true(vv_expects_reply(&r));
	vv_msg_init(&m, VV_REQ_SET_FEATURES, 0);
	assert_false(vv_expects_reply(&m));
	vv_msg_init(&m, VV_REQ_GET_FEATURES, 0);
	assert_true(vv_expects_reply(&m));

	vv_msg_init(&m, VV_REQ_DEVICE_SET_STATE, VV_FLAG_NEED_REPLY);
	m.u.u64 = VV_STATE_START;
	roundtrip(&m, &r);
	assert_int_equal(r.u.u64, VV_STATE_START);
	m.u.u64 = VV_STATE_STOP;
	roundtrip(&m, &r);
	assert_int_equal(r.u.u64, VV_STATE_STOP);
}

static void test_mem_table(void **state)
{
	struct vv_msg m, r;

	(void)state;
	for (uint32_t n = 1; n <= VV_MAX_MEM_REGIONS; n++) {
		vv_msg_init(&m, VV_REQ_SET_MEM_TABLE, VV_FLAG_NEED_REPLY);
		m.u.mem.nregions = n;
		for (uint32_t i = 0; i < n; i++) {
			m.u.mem.regions[i].guest_phys_addr = i * GiB;
			m.u.mem.regions[i].memory_size = 512 * MiB;
			m.u.mem.regions[i].userspace_addr = i * GiB; /* IOVA = GPA */
		}
		roundtrip(&m, &r);
		assert_int_equal(r.u.mem.nregions, n);
		for (uint32_t i = 0; i < n; i++) {
			assert_int_equal(r.u.mem.regions[i].guest_phys_addr, i * GiB);
			assert_int_equal(r.u.mem.regions[i].memory_size, 512 * MiB);
			assert_int_equal(r.u.mem.regions[i].userspace_addr, i * GiB);
		}
	}
}

static void test_vrings(void **state)
{
	struct vv_msg m, r;

	(void)state;
	vv_msg_init(&m, VV_REQ_SET_VRING_NUM, 0);
	m.u.state.index = 3;
	m.u.state.num = VV_MAX_RING_SIZE;
	roundtrip(&m, &r);
	assert_int_equal(r.u.state.index, 3);
	assert_int_equal(r.u.state.num, VV_MAX_RING_SIZE);

	vv_msg_init(&m, VV_REQ_SET_VRING_BASE, 0);
	m.u.state.index = 1;
	m.u.state.num = 65535;
	roundtrip(&m, &r);
	assert_int_equal(r.u.state.num, 65535);

	vv_msg_init(&m, VV_REQ_GET_VRING_BASE, 0);
	m.u.state.index = 2;
	roundtrip(&m, &r);
	assert_int_equal(r.u.state.index, 2);

	vv_msg_init(&m, VV_REQ_SET_VRING_ADDR, VV_FLAG_NEED_REPLY);
	m.u.addr.index = 1;
	m.u.addr.flags = VV_VRING_F_LOG;
	m.u.addr.desc_user_addr = 0x10000;
	m.u.addr.avail_user_addr = 0x11002;
	m.u.addr.used_user_addr = 0x12004;
	m.u.addr.log_guest_addr = 0x12004;
	roundtrip(&m, &r);
	assert_int_equal(r.u.addr.index, 1);
	assert_int_equal(r.u.addr.flags, VV_VRING_F_LOG);
	assert_int_equal(r.u.addr.desc_user_addr, 0x10000);
	assert_int_equal(r.u.addr.avail_user_addr, 0x11002);
	assert_int_equal(r.u.addr.used_user_addr, 0x12004);
	assert_int_equal(r.u.addr.log_guest_addr, 0x12004);
}

static void test_log(void **state)
{
	struct vv_msg m, r;

	(void)state;
	for (uint32_t shift = VV_LOG_SHIFT_MIN; shift <= VV_LOG_SHIFT_MAX; shift++) {
		vv_msg_init(&m, VV_REQ_SET_LOG_BASE_IOVA, VV_FLAG_NEED_REPLY);
		m.u.log.iova = UINT64_C(0x8000000000);
		m.u.log.size = 32 * 1024;
		m.u.log.granularity_shift = shift;
		roundtrip(&m, &r);
		assert_int_equal(r.u.log.iova, UINT64_C(0x8000000000));
		assert_int_equal(r.u.log.size, 32 * 1024);
		assert_int_equal(r.u.log.granularity_shift, shift);
	}
	m.u.log.size = VV_MAX_LOG_SIZE;
	roundtrip(&m, &r);
	assert_int_equal(r.u.log.size, VV_MAX_LOG_SIZE);
}

static void test_replies(void **state)
{
	struct vv_msg req, rep, r;
	struct msg_err err = { 0 };

	(void)state;
	vv_msg_init(&req, VV_REQ_GET_FEATURES, 0);
	vv_reply_init(&rep, &req);
	rep.u.u64 = UINT64_C(0x140000000);
	roundtrip(&rep, &r);
	assert_true(vv_msg_is_reply(&r));
	assert_int_equal(r.u.u64, UINT64_C(0x140000000));
	assert_int_equal(vv_match_reply(&req, &r, &err), 0);
	assert_false(vv_expects_reply(&r));

	vv_msg_init(&req, VV_REQ_GET_VRING_BASE, 0);
	req.u.state.index = 1;
	vv_reply_init(&rep, &req);
	rep.u.state.index = 1;
	rep.u.state.num = 4711;
	roundtrip(&rep, &r);
	assert_int_equal(r.u.state.index, 1);
	assert_int_equal(r.u.state.num, 4711);
	assert_int_equal(vv_match_reply(&req, &r, &err), 0);
	r.u.state.index = 2;
	assert_int_equal(vv_match_reply(&req, &r, &err), -EPROTO);
	assert_non_null(strstr(err.reason, "ring 2, the request was for ring 1"));

	/* A SET_* answers a u64 status 0; failures travel as ERROR + errno. */
	vv_msg_init(&req, VV_REQ_SET_MEM_TABLE, VV_FLAG_NEED_REPLY);
	vv_reply_init(&rep, &req);
	roundtrip(&rep, &r);
	assert_int_equal(r.status, 0);
	rep.status = -ENOSPC;
	roundtrip(&rep, &r);
	assert_int_equal(r.status, -ENOSPC);
	assert_true(r.flags & VV_FLAG_ERROR);
	assert_int_equal(vv_match_reply(&req, &r, &err), 0);

	/* A failed GET: the errno, not a value. */
	vv_msg_init(&req, VV_REQ_GET_VRING_BASE, 0);
	req.u.state.index = 3;
	vv_reply_init(&rep, &req);
	rep.status = -EBUSY;
	roundtrip(&rep, &r);
	assert_int_equal(r.status, -EBUSY);
	assert_int_equal(vv_match_reply(&req, &r, &err), 0);

	/* Mismatches. */
	vv_msg_init(&rep, VV_REQ_SET_OWNER, VV_FLAG_REPLY);
	assert_int_equal(vv_match_reply(&req, &rep, &err), -EPROTO);
	assert_non_null(strstr(err.reason, "the request was"));
	assert_int_equal(vv_match_reply(&req, &req, &err), -EPROTO);
	assert_int_equal(vv_match_reply(&rep, &rep, &err), -EPROTO);
}

/* ---- malformed input ------------------------------------------------------ */

union payload {
	uint8_t raw[VV_MAX_PAYLOAD + 64];
	uint64_t u64;
	struct vv_wire_vring_state st;
	struct vv_wire_vring_addr addr;
	struct vv_wire_mem_table mt;
	struct vv_wire_log log;
};

struct bad {
	const char *name;
	uint64_t req;
	uint32_t flags;
	uint32_t psize;
	int64_t size_adj; /* added to the header's size field */
	union payload p;
	int expect;
	const char *reason;
};

#define REP VV_FLAG_REPLY
#define U64(v) { .u64 = (v) }
#define ST(i, n) { .st = { (i), (n) } }
#define ADDR(i, f, d, a, u) { .addr = { (i), (f), (d), (u), (a), 0 } }
#define RG(g, s, u) { (g), (s), (u), 0 }
#define MT1(r) { .mt = { .nregions = 1, .regions = { r } } }
#define S_MT(n) (8 + 32 * (n))
#define LOG(i, s, g) { .log = { (i), (s), (g), 0 } }

static const struct bad bad_cases[] = {
	/* header */
	{ "size says more", VV_REQ_SET_FEATURES, 0, 8, 8, U64(0), -EBADMSG, "size field says 16 payload bytes, 8 present" },
	{ "size says less", VV_REQ_SET_FEATURES, 0, 8, -8, U64(0), -EBADMSG, "present" },
	{ "size huge", VV_REQ_SET_FEATURES, 0, 8, UINT32_MAX - 8, U64(0), -EMSGSIZE, "above the 264 limit" },
	{ "reserved flag", VV_REQ_SET_OWNER, 1u << 4, 0, 0, U64(0), -EPROTO, "reserved flag bits 0x10" },
	{ "ERROR on request", VV_REQ_SET_OWNER, VV_FLAG_ERROR, 0, 0, U64(0), -EPROTO, "ERROR flag on a request" },
	{ "unknown request", 0x1234, 0, 0, 0, U64(0), -EOPNOTSUPP, "unknown request 0x1234" },
	{ "unknown ioctl", VHOST_NET_SET_BACKEND, 0, 8, 0, U64(0), -EOPNOTSUPP, "unknown request" },
	{ "unknown private", VV_REQ_PRIVATE + 3, 0, 8, 0, U64(0), -EOPNOTSUPP, NULL },
	{ "raw SET_LOG_BASE", VV_REQ_SET_LOG_BASE, 0, 8, 0, U64(0x7f0000000000), -EOPNOTSUPP, "raw host address" },
	{ "SET_LOG_FD", VV_REQ_SET_LOG_FD, 0, 4, 0, U64(3), -EOPNOTSUPP, "no log eventfd" },
	{ "SET_VRING_KICK", VV_REQ_SET_VRING_KICK, 0, 8, 0, U64(0), -EOPNOTSUPP, "doorbells" },
	{ "SET_VRING_CALL", VV_REQ_SET_VRING_CALL, 0, 8, 0, U64(0), -EOPNOTSUPP, "MSI-X" },
	{ "reply to a refused request", VV_REQ_SET_VRING_CALL, REP, 8, 0, U64(0), -EOPNOTSUPP, NULL },
	/* sizes */
	{ "GET_FEATURES with payload", VV_REQ_GET_FEATURES, 0, 8, 0, U64(0), -EBADMSG, "GET_FEATURES: size 8, expected 0" },
	{ "SET_FEATURES short", VV_REQ_SET_FEATURES, 0, 4, 0, U64(0), -EBADMSG, "size 4, expected 8" },
	{ "SET_OWNER with payload", VV_REQ_SET_OWNER, 0, 8, 0, U64(0), -EBADMSG, NULL },
	{ "VRING_ADDR short", VV_REQ_SET_VRING_ADDR, 0, 32, 0, ADDR(0, 0, 0, 0, 0), -EBADMSG, "size 32, expected 40" },
	{ "LOG short", VV_REQ_SET_LOG_BASE_IOVA, 0, 20, 0, LOG(0, 8, 12), -EBADMSG, "size 20, expected 24" },
	{ "STATE short", VV_REQ_DEVICE_SET_STATE, 0, 4, 0, U64(1), -EBADMSG, NULL },
	/* memory table */
	{ "MEM_TABLE empty", VV_REQ_SET_MEM_TABLE, 0, 8, 0, { .mt = { .nregions = 0 } }, -EBADMSG, "expected 40..264" },
	{ "MEM_TABLE nregions 0", VV_REQ_SET_MEM_TABLE, 0, S_MT(1), 0, { .mt = { .nregions = 0 } }, -ERANGE, "nregions 0 is not in 1..8" },
	{ "MEM_TABLE nregions 9", VV_REQ_SET_MEM_TABLE, 0, S_MT(8), 0, { .mt = { .nregions = 9 } }, -ERANGE, "nregions 9" },
	{ "MEM_TABLE nregions huge", VV_REQ_SET_MEM_TABLE, 0, S_MT(1), 0, { .mt = { .nregions = UINT32_MAX } }, -ERANGE, NULL },
	{ "MEM_TABLE size != nregions", VV_REQ_SET_MEM_TABLE, 0, S_MT(2), 0, MT1(RG(0, MiB, 0)), -EBADMSG, "size 72 does not match nregions 1" },
	{ "MEM_TABLE size 0 region", VV_REQ_SET_MEM_TABLE, 0, S_MT(1), 0, MT1(RG(0, 0, 0)), -EINVAL, "region 0: memory_size is 0" },
	{ "MEM_TABLE gpa overflow", VV_REQ_SET_MEM_TABLE, 0, S_MT(1), 0, MT1(RG(UINT64_MAX - 10, MiB, 0)), -EOVERFLOW, "guest_phys_addr + memory_size overflows" },
	{ "MEM_TABLE iova overflow", VV_REQ_SET_MEM_TABLE, 0, S_MT(1), 0, MT1(RG(0, MiB, UINT64_MAX)), -EOVERFLOW, "userspace_addr (IOVA)" },
	{ "MEM_TABLE overlap", VV_REQ_SET_MEM_TABLE, 0, S_MT(2), 0,
	  { .mt = { .nregions = 2, .regions = { RG(0, 2 * MiB, 0), RG(MiB, MiB, 4 * MiB) } } }, -EINVAL, "regions 0 and 1 overlap" },
	/* rings */
	{ "VRING_NUM index", VV_REQ_SET_VRING_NUM, 0, 8, 0, ST(MAX_VRINGS, 256), -ERANGE, "ring index 4 is not below 4" },
	{ "VRING_NUM 0", VV_REQ_SET_VRING_NUM, 0, 8, 0, ST(0, 0), -ERANGE, "size 0 is not a power of two" },
	{ "VRING_NUM 384", VV_REQ_SET_VRING_NUM, 0, 8, 0, ST(0, 384), -ERANGE, "power of two" },
	{ "VRING_NUM 65536", VV_REQ_SET_VRING_NUM, 0, 8, 0, ST(0, 65536), -ERANGE, "1..32768" },
	{ "VRING_BASE 65536", VV_REQ_SET_VRING_BASE, 0, 8, 0, ST(0, 65536), -ERANGE, "base 65536 does not fit 16 bits" },
	{ "VRING_BASE index", VV_REQ_SET_VRING_BASE, 0, 8, 0, ST(UINT32_MAX, 0), -ERANGE, NULL },
	{ "GET_VRING_BASE index", VV_REQ_GET_VRING_BASE, 0, 8, 0, ST(MAX_VRINGS, 0), -ERANGE, NULL },
	{ "VRING_ADDR index", VV_REQ_SET_VRING_ADDR, 0, 40, 0, ADDR(9, 0, 0, 0, 0), -ERANGE, "ring index 9" },
	{ "VRING_ADDR flags", VV_REQ_SET_VRING_ADDR, 0, 40, 0, ADDR(0, 2, 0, 0, 0), -EINVAL, "undefined flags 0x2" },
	{ "VRING_ADDR desc", VV_REQ_SET_VRING_ADDR, 0, 40, 0, ADDR(0, 0, 8, 0, 0), -EINVAL, "desc_user_addr 0x8 is not 16-byte aligned" },
	{ "VRING_ADDR avail", VV_REQ_SET_VRING_ADDR, 0, 40, 0, ADDR(0, 0, 0, 1, 0), -EINVAL, "avail_user_addr" },
	{ "VRING_ADDR used", VV_REQ_SET_VRING_ADDR, 0, 40, 0, ADDR(0, 0, 0, 0, 2), -EINVAL, "used_user_addr" },
	/* device state */
	{ "STATE 2", VV_REQ_DEVICE_SET_STATE, 0, 8, 0, U64(2), -EINVAL, "state 2 is neither STOP (0) nor START (1)" },
	{ "STATE huge", VV_REQ_DEVICE_SET_STATE, 0, 8, 0, U64(UINT64_MAX), -EINVAL, NULL },
	/* log */
	{ "LOG size 0", VV_REQ_SET_LOG_BASE_IOVA, 0, 24, 0, LOG(0, 0, 12), -EINVAL, "size is 0" },
	{ "LOG overflow", VV_REQ_SET_LOG_BASE_IOVA, 0, 24, 0, LOG(UINT64_MAX - 7, 16, 12), -EOVERFLOW, "overflows" },
	{ "LOG size odd", VV_REQ_SET_LOG_BASE_IOVA, 0, 24, 0, LOG(0, 12, 12), -EINVAL, "size 0xc is not a multiple of 8" },
	{ "LOG iova misaligned", VV_REQ_SET_LOG_BASE_IOVA, 0, 24, 0, LOG(4, 8, 12), -EINVAL, "iova 0x4 is not 8-byte aligned" },
	{ "LOG too big", VV_REQ_SET_LOG_BASE_IOVA, 0, 24, 0, LOG(0, VV_MAX_LOG_SIZE + 8, 12), -ERANGE, "is above" },
	{ "LOG granularity 2 KiB", VV_REQ_SET_LOG_BASE_IOVA, 0, 24, 0, LOG(0, 8, 11), -ERANGE, "granularity_shift 11 is not in 12..21" },
	{ "LOG granularity 4 MiB", VV_REQ_SET_LOG_BASE_IOVA, 0, 24, 0, LOG(0, 8, 22), -ERANGE, "granularity_shift 22" },
	{ "LOG granularity huge", VV_REQ_SET_LOG_BASE_IOVA, 0, 24, 0, LOG(0, 8, UINT32_MAX), -ERANGE, NULL },
	/* replies */
	{ "reply NEED_REPLY", VV_REQ_SET_OWNER, REP | VV_FLAG_NEED_REPLY, 8, 0, U64(0), -EPROTO, "NEED_REPLY flag on a reply" },
	{ "reply short", VV_REQ_GET_FEATURES, REP, 4, 0, U64(0), -EBADMSG, "reply size 4, expected 8" },
	{ "reply empty", VV_REQ_SET_OWNER, REP, 0, 0, U64(0), -EBADMSG, "reply size 0" },
	{ "reply long", VV_REQ_SET_MEM_TABLE, REP, 16, 0, U64(0), -EBADMSG, NULL },
	{ "reply status without ERROR", VV_REQ_SET_OWNER, REP, 8, 0, U64(5), -EPROTO, "status 5 without the ERROR flag" },
	{ "error reply errno 0", VV_REQ_SET_OWNER, REP | VV_FLAG_ERROR, 8, 0, U64(0), -EPROTO, "errno 0, not 1..4095" },
	{ "error reply errno huge", VV_REQ_GET_FEATURES, REP | VV_FLAG_ERROR, 8, 0, U64(UINT64_MAX), -EPROTO, NULL },
	{ "GET_VRING_BASE reply index", VV_REQ_GET_VRING_BASE, REP, 8, 0, ST(MAX_VRINGS, 0), -ERANGE, "ring index 4" },
	{ "GET_VRING_BASE reply base", VV_REQ_GET_VRING_BASE, REP, 8, 0, ST(0, 70000), -ERANGE, "base 70000" },
};

static void run_bad(const struct bad *b)
{
	uint8_t buf[VV_HDR_SIZE + sizeof(union payload)];
	struct vv_wire_hdr h = {
		.request = b->req,
		.flags = b->flags,
		.size = (uint32_t)((int64_t)b->psize + b->size_adj),
	};
	struct msg_err err = { 0 };
	struct vv_msg m;
	int before = th_count_fds();
	int rc;

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + VV_HDR_SIZE, b->p.raw, b->psize);
	memset(&m, 0x5a, sizeof(m));
	rc = vv_parse(buf, VV_HDR_SIZE + b->psize, &ctx, &m, &err);
	if (rc != b->expect || (b->reason && !strstr(err.reason, b->reason)))
		print_error("case \"%s\": got %d (%s), expected %d (%s)\n", b->name, rc,
			    err.reason, b->expect, b->reason ? b->reason : "-");
	assert_int_equal(rc, b->expect);
	if (b->reason)
		assert_non_null(strstr(err.reason, b->reason));
	assert_true(err.reason[0] != '\0');
	assert_int_equal(m.request, UINT64_C(0x5a5a5a5a5a5a5a5a)); /* untouched */
	assert_int_equal(th_count_fds(), before);
}

static void test_malformed_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++)
		run_bad(&bad_cases[i]);
}

static void test_malformed_direct(void **state)
{
	uint8_t buf[VV_MAX_MSG] = { 0 };
	struct msg_err err = { 0 };
	struct vv_msg m;

	(void)state;
	assert_int_equal(vv_parse(buf, 15, &ctx, &m, &err), -EBADMSG);
	assert_non_null(strstr(err.reason, "15 bytes, shorter than the 16-byte header"));
	assert_int_equal(vv_parse(buf, 0, &ctx, &m, &err), -EBADMSG);
	assert_int_equal(vv_parse(NULL, 16, &ctx, &m, &err), -EINVAL);
	assert_int_equal(vv_parse(buf, 16, NULL, &m, &err), -EINVAL);
	assert_int_equal(vv_parse(buf, 16, &ctx, NULL, &err), -EINVAL);
	/* err may be NULL. */
	assert_int_equal(vv_parse(buf, 3, &ctx, &m, NULL), -EBADMSG);
}

static void test_encoder_refuses(void **state)
{
	uint8_t buf[VV_MAX_MSG];
	struct msg_err err = { 0 };
	struct vv_msg m;
	size_t len = 0;

	(void)state;
	vv_msg_init(&m, VV_REQ_SET_LOG_BASE, 0);
	assert_int_equal(vv_encode(&m, &ctx, buf, sizeof(buf), &len, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.reason, "SET_LOG_BASE_IOVA"));
	vv_msg_init(&m, VV_REQ_SET_VRING_KICK, 0);
	assert_int_equal(vv_encode(&m, &ctx, buf, sizeof(buf), &len, &err), -EOPNOTSUPP);
	vv_msg_init(&m, 42, 0);
	assert_int_equal(vv_encode(&m, &ctx, buf, sizeof(buf), &len, &err), -EOPNOTSUPP);
	vv_msg_init(&m, VV_REQ_SET_VRING_NUM, 0);
	m.u.state.num = 100;
	assert_int_equal(vv_encode(&m, &ctx, buf, sizeof(buf), &len, &err), -ERANGE);
	vv_msg_init(&m, VV_REQ_SET_MEM_TABLE, 0);
	m.u.mem.nregions = 9;
	assert_int_equal(vv_encode(&m, &ctx, buf, sizeof(buf), &len, &err), -ERANGE);
	m.u.mem.nregions = 1;
	m.u.mem.regions[0].memory_size = MiB;
	assert_int_equal(vv_encode(&m, &ctx, buf, 40, &len, &err), -ENOBUFS);
	assert_int_equal(vv_encode(&m, &ctx, buf, 8, &len, &err), -ENOBUFS);
	assert_int_equal(vv_encode(&m, &ctx, buf, sizeof(buf), &len, &err), 0);
	assert_int_equal(len, VV_HDR_SIZE + 40);
	vv_msg_init(&m, VV_REQ_SET_OWNER, 1u << 7);
	assert_int_equal(vv_encode(&m, &ctx, buf, sizeof(buf), &len, &err), -EPROTO);
	vv_msg_init(&m, VV_REQ_SET_OWNER, VV_FLAG_REPLY);
	m.status = -100000;
	assert_int_equal(vv_encode(&m, &ctx, buf, sizeof(buf), &len, &err), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_numbers),
		cmocka_unit_test(test_simple_requests),
		cmocka_unit_test(test_mem_table),
		cmocka_unit_test(test_vrings),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_malformed_table),
		cmocka_unit_test(test_malformed_direct),
		cmocka_unit_test(test_encoder_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
