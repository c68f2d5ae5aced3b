// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for protocol/vhost_user.c: every request, encoded here the way
 * QEMU lays it out, goes through a socketpair and the I/O layer into the
 * parser; every malformed case is refused with its own errno and leaks no
 * fd (counted in /proc/self/fd around each case); replies are encoded, sent
 * and decoded by a test-side front end.
 *
 * The test-side encoder is the untrusted peer here: it deliberately builds
 * what a hostile front end would send.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/common/util.h"
#include "protocol/vhost_user.h"
#include "protocol/vhost_user_io.h"
#include "tests/helpers/testhelp.h"

#define MiB (UINT64_C(1) << 20)
#define UADDR UINT64_C(0x7f0000000000)

#define OFFERED_F ((UINT64_C(1) << VU_F_LOG_ALL) | (UINT64_C(1) << VU_F_PROTOCOL_FEATURES) | \
		   (UINT64_C(1) << 32) | (UINT64_C(1) << 5) | (UINT64_C(1) << 15))
#define OFFERED_PF (VU_PF(VU_PROTO_F_MQ) | VU_PF(VU_PROTO_F_LOG_SHMFD) | VU_PF(VU_PROTO_F_RARP) | \
		    VU_PF(VU_PROTO_F_REPLY_ACK) | VU_PF(VU_PROTO_F_NET_MTU) |                \
		    VU_PF(VU_PROTO_F_INFLIGHT_SHMFD) | VU_PF(VU_PROTO_F_CONFIGURE_MEM_SLOTS))
#define MAX_VRINGS 4

enum ctx_kind { CTX_OWNED, CTX_CONN, CTX_NOPF };

static struct vu_parse_ctx make_ctx(enum ctx_kind k)
{
	struct vu_parse_ctx c = {
		.state = k == CTX_CONN ? VU_STATE_CONNECTED : VU_STATE_OWNED,
		.features_offered = OFFERED_F,
		.protocol_features_offered = OFFERED_PF,
		.protocol_features = k == CTX_NOPF ? 0 : OFFERED_PF,
		.max_vrings = MAX_VRINGS,
	};
	return c;
}

union payload {
	uint8_t raw[sizeof(struct vu_wire_mem_table)];
	uint64_t u64;
	struct vu_wire_vring_state st;
	struct vu_wire_vring_addr addr;
	struct vu_wire_mem_table mt;
	struct vu_wire_single_region sr;
	struct vu_wire_log log;
	struct vu_wire_inflight inf;
};

/* ---- the test's front end ------------------------------------------------ */

/* Lays out a request as QEMU's vhost_user_write() does. */
static size_t fe_encode(uint8_t *buf, uint32_t req, uint32_t flags,
			const void *payload, uint32_t size)
{
	struct vu_wire_hdr h = { .request = req, .flags = flags, .size = size };

	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + VU_HDR_SIZE, payload, size);
	return VU_HDR_SIZE + size;
}

/*
 * Front end -> socketpair -> vu_io_recv() -> vu_parse().  The caller's fds
 * stay the caller's (the kernel passed duplicates).
 */
static int through(const uint8_t *buf, size_t len, const int *fds, size_t nfds,
		   const struct vu_parse_ctx *ctx, struct vu_msg *ret,
		   struct msg_err *err)
{
	struct vu_io_msg io;
	int sv[2];
	int rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* Every fd on the first byte, as QEMU and DPDK send them. */
	assert_int_equal(vu_io_send(sv[0], 1000, buf, len, fds, nfds), 0);
	assert_int_equal(vu_io_recv(sv[1], 1000, &io), (int)len);
	assert_int_equal(io.nfds, nfds);
	rc = vu_parse(io.buf, io.len, io.fds, io.nfds, ctx, ret, err);
	for (size_t i = 0; i < VU_MAX_FDS; i++)
		assert_int_equal(io.fds[i], -1);
	close(sv[0]);
	close(sv[1]);
	return rc;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Sends a well-formed request and expects it parsed; the message is returned. */
static struct vu_msg ok_msg(enum ctx_kind k, uint32_t req, uint32_t flags,
			    const void *payload, uint32_t size, size_t nfds,
			    uint64_t fd_size)
{
	struct vu_parse_ctx ctx = make_ctx(k);
	uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	struct msg_err err = { 0 };
	struct vu_msg m;
	int fds[VU_MAX_FDS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
	size_t len = fe_encode(buf, req, flags ? flags : VU_VERSION, payload, size);
	int rc;

	for (size_t i = 0; i < nfds; i++) {
		fds[i] = th_memfd("region", fd_size);
		assert_true(fds[i] >= 0);
	}
	rc = through(buf, len, fds, nfds, &ctx, &m, &err);
	if (rc != 0)
		print_error("%s refused: %d %s\n", vu_request_name(req), rc, err.reason);
	assert_int_equal(rc, 0);
	assert_int_equal(m.request, req);
	assert_int_equal(m.nfds, nfds);
	for (size_t i = 0; i < nfds; i++)
		assert_true(th_fd_is_open(m.fds[i]));
	close_all(fds, nfds);
	return m;
}

static struct vu_wire_mem_region region(uint64_t gpa, uint64_t size,
					uint64_t uaddr, uint64_t off)
{
	struct vu_wire_mem_region r = {
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = uaddr,
		.mmap_offset = off,
	};
	return r;
}

/* ---- round trips: every request ------------------------------------------ */

static void test_no_payload_requests(void **state)
{
	static const uint32_t reqs[] = {
		VU_REQ_GET_FEATURES, VU_REQ_SET_OWNER, VU_REQ_RESET_OWNER,
		VU_REQ_GET_PROTOCOL_FEATURES, VU_REQ_GET_QUEUE_NUM,
		VU_REQ_GET_MAX_MEM_SLOTS,
	};
	int before = th_count_fds();

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		struct vu_msg m = ok_msg(CTX_OWNED, reqs[i], 0, NULL, 0, 0, 0);

		assert_int_equal(m.flags, VU_VERSION);
		vu_msg_close(&m);
	}
	assert_int_equal(th_count_fds(), before);
}

static void test_features(void **state)
{
	uint64_t v = (UINT64_C(1) << VU_F_LOG_ALL) | (UINT64_C(1) << 32);
	uint64_t pf = VU_PF(VU_PROTO_F_REPLY_ACK) | VU_PF(VU_PROTO_F_LOG_SHMFD);
	struct vu_msg m;

	(void)state;
	m = ok_msg(CTX_OWNED, VU_REQ_SET_FEATURES, VU_VERSION | VU_FLAG_NEED_REPLY,
		   &v, 8, 0, 0);
	assert_int_equal(m.u.u64, v);
	assert_int_equal(m.flags, VU_VERSION | VU_FLAG_NEED_REPLY);
	m = ok_msg(CTX_CONN, VU_REQ_SET_PROTOCOL_FEATURES, 0, &pf, 8, 0, 0);
	assert_int_equal(m.u.u64, pf);
}

static void test_mem_table(void **state)
{
	union payload p = { 0 };
	int before = th_count_fds();
	struct vu_msg m;

	(void)state;
	p.mt.nregions = 2;
	p.mt.regions[0] = region(0, 0xa0000, UADDR, 0);
	p.mt.regions[1] = region(0x100000, 0xf00000, UADDR + 0x100000, 0x100000);
	m = ok_msg(CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, &p, 8 + 2 * 32, 2, 16 * MiB);
	assert_int_equal(m.u.mem.nregions, 2);
	assert_int_equal(m.u.mem.regions[0].memory_size, 0xa0000);
	assert_int_equal(m.u.mem.regions[1].guest_phys_addr, 0x100000);
	assert_int_equal(m.u.mem.regions[1].memory_size, 0xf00000);
	assert_int_equal(m.u.mem.regions[1].userspace_addr, UADDR + 0x100000);
	assert_int_equal(m.u.mem.regions[1].mmap_offset, 0x100000);
	vu_msg_close(&m);
	assert_int_equal(th_count_fds(), before);

	/* The limit itself: 8 regions, 8 fds. */
	memset(&p, 0, sizeof(p));
	p.mt.nregions = VU_MAX_MEM_REGIONS;
	for (uint32_t i = 0; i < VU_MAX_MEM_REGIONS; i++)
		p.mt.regions[i] = region(i * MiB, MiB, UADDR + i * MiB, 0);
	m = ok_msg(CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, &p, sizeof(p.mt), 8, MiB);
	assert_int_equal(m.u.mem.nregions, 8);
	assert_int_equal(m.u.mem.regions[7].guest_phys_addr, 7 * MiB);
	vu_msg_close(&m);
	assert_int_equal(th_count_fds(), before);
}

static void test_add_rem_mem_reg(void **state)
{
	union payload p = { 0 };
	int before = th_count_fds();
	struct vu_msg m;

	(void)state;
	p.sr.region = region(0x100000, 0x200000, UADDR, 0x1000);
	m = ok_msg(CTX_OWNED, VU_REQ_ADD_MEM_REG, 0, &p, sizeof(p.sr), 1, 4 * MiB);
	assert_int_equal(m.u.region.guest_phys_addr, 0x100000);
	assert_int_equal(m.u.region.memory_size, 0x200000);
	assert_int_equal(m.u.region.mmap_offset, 0x1000);
	vu_msg_close(&m);

	/* REM_MEM_REG: no fd, mmap_offset ignored (even a wrapping one). */
	p.sr.region.mmap_offset = UINT64_MAX;
	m = ok_msg(CTX_OWNED, VU_REQ_REM_MEM_REG, 0, &p, sizeof(p.sr), 0, 0);
	assert_int_equal(m.u.region.userspace_addr, UADDR);
	assert_int_equal(m.nfds, 0);
	/* ... and the one stray fd old QEMUs send is accepted, to be closed. */
	m = ok_msg(CTX_OWNED, VU_REQ_REM_MEM_REG, 0, &p, sizeof(p.sr), 1, MiB);
	assert_int_equal(m.nfds, 1);
	vu_msg_close(&m);
	assert_int_equal(th_count_fds(), before);
}

static void test_log(void **state)
{
	union payload p = { 0 };
	uint64_t zero = 0;
	int before = th_count_fds();
	struct vu_msg m;

	(void)state;
	p.log.mmap_size = 0x2000;
	p.log.mmap_offset = 0x1000;
	m = ok_msg(CTX_OWNED, VU_REQ_SET_LOG_BASE, 0, &p, sizeof(p.log), 1, 0x3000);
	assert_int_equal(m.u.log.mmap_size, 0x2000);
	assert_int_equal(m.u.log.mmap_offset, 0x1000);
	vu_msg_close(&m);

	m = ok_msg(CTX_OWNED, VU_REQ_SET_LOG_FD, 0, NULL, 0, 1, 0);
	vu_msg_close(&m);
	m = ok_msg(CTX_OWNED, VU_REQ_SET_LOG_FD, 0, &zero, 8, 1, 0);
	vu_msg_close(&m);
	assert_int_equal(th_count_fds(), before);
}

static void test_vring_state_requests(void **state)
{
	struct vu_wire_vring_state s;
	struct vu_msg m;

	(void)state;
	s = (struct vu_wire_vring_state){ .index = 1, .num = 256 };
	m = ok_msg(CTX_OWNED, VU_REQ_SET_VRING_NUM, 0, &s, 8, 0, 0);
	assert_int_equal(m.u.state.index, 1);
	assert_int_equal(m.ring, 1);
	assert_int_equal(m.u.state.num, 256);
	s = (struct vu_wire_vring_state){ .index = MAX_VRINGS - 1, .num = VU_MAX_RING_SIZE };
	m = ok_msg(CTX_OWNED, VU_REQ_SET_VRING_NUM, 0, &s, 8, 0, 0);
	assert_int_equal(m.u.state.num, VU_MAX_RING_SIZE);

	s = (struct vu_wire_vring_state){ .index = 0, .num = 65535 };
	m = ok_msg(CTX_OWNED, VU_REQ_SET_VRING_BASE, 0, &s, 8, 0, 0);
	assert_int_equal(m.u.state.num, 65535);

	s = (struct vu_wire_vring_state){ .index = 3, .num = 0 };
	m = ok_msg(CTX_OWNED, VU_REQ_GET_VRING_BASE, 0, &s, 8, 0, 0);
	assert_int_equal(m.u.state.index, 3);
	assert_int_equal(m.ring, 3);

	s = (struct vu_wire_vring_state){ .index = 2, .num = 1 };
	m = ok_msg(CTX_OWNED, VU_REQ_SET_VRING_ENABLE, 0, &s, 8, 0, 0);
	assert_int_equal(m.u.state.index, 2);
	assert_int_equal(m.ring, 2);
	assert_int_equal(m.u.state.num, 1);
}

static void test_vring_addr(void **state)
{
	struct vu_wire_vring_addr a = {
		.index = 1,
		.flags = VU_VRING_F_LOG,
		.desc_user_addr = UADDR + 0x1000,
		.used_user_addr = UADDR + 0x3004,
		.avail_user_addr = UADDR + 0x2002,
		.log_guest_addr = 0x43000,
	};
	struct vu_msg m;

	(void)state;
	m = ok_msg(CTX_OWNED, VU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), 0, 0);
	assert_int_equal(m.u.addr.index, 1);
	assert_int_equal(m.ring, 1);
	assert_int_equal(m.u.addr.flags, VU_VRING_F_LOG);
	assert_int_equal(m.u.addr.desc_user_addr, UADDR + 0x1000);
	assert_int_equal(m.u.addr.used_user_addr, UADDR + 0x3004);
	assert_int_equal(m.u.addr.avail_user_addr, UADDR + 0x2002);
	assert_int_equal(m.u.addr.log_guest_addr, 0x43000);
}

static void test_vring_files(void **state)
{
	static const uint32_t reqs[] = {
		VU_REQ_SET_VRING_KICK, VU_REQ_SET_VRING_CALL, VU_REQ_SET_VRING_ERR,
	};
	int before = th_count_fds();

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		uint64_t v = 2;
		struct vu_msg m = ok_msg(CTX_OWNED, reqs[i], 0, &v, 8, 1, 0);
		int fd;

		assert_int_equal(m.u.vring_file.index, 2);
		assert_int_equal(m.ring, 2);
		assert_false(m.u.vring_file.nofd);
		/* A handler keeping the fd takes it; the slot goes -1. */
		fd = vu_msg_take_fd(&m, 0);
		assert_true(th_fd_is_open(fd));
		assert_int_equal(m.fds[0], -1);
		assert_int_equal(vu_msg_take_fd(&m, 0), -1);
		vu_msg_close(&m);
		assert_true(th_fd_is_open(fd));
		close(fd);

		v = 3 | VU_VRING_NOFD_MASK;
		m = ok_msg(CTX_OWNED, reqs[i], 0, &v, 8, 0, 0);
		assert_int_equal(m.u.vring_file.index, 3);
		assert_int_equal(m.ring, 3);
		assert_true(m.u.vring_file.nofd);
	}
	assert_int_equal(th_count_fds(), before);
}

static void test_net_requests(void **state)
{
	uint8_t mac[8] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0, 0 };
	uint64_t mtu;
	struct vu_msg m;

	(void)state;
	m = ok_msg(CTX_OWNED, VU_REQ_SEND_RARP, 0, mac, 8, 0, 0);
	assert_memory_equal(m.u.mac, mac, 6);
	mtu = 68;
	m = ok_msg(CTX_OWNED, VU_REQ_NET_SET_MTU, 0, &mtu, 8, 0, 0);
	assert_int_equal(m.u.u64, 68);
	mtu = 9000;
	m = ok_msg(CTX_OWNED, VU_REQ_NET_SET_MTU, 0, &mtu, 8, 0, 0);
	assert_int_equal(m.u.u64, 9000);
	mtu = 65535;
	m = ok_msg(CTX_OWNED, VU_REQ_NET_SET_MTU, 0, &mtu, 8, 0, 0);
	assert_int_equal(m.u.u64, 65535);
}

static void test_inflight(void **state)
{
	struct vu_wire_inflight in = { .num_queues = 2, .queue_size = 256 };
	int before = th_count_fds();
	struct vu_msg m;

	(void)state;
	m = ok_msg(CTX_OWNED, VU_REQ_GET_INFLIGHT_FD, 0, &in, sizeof(in), 0, 0);
	assert_int_equal(m.u.inflight.num_queues, 2);
	assert_int_equal(m.u.inflight.queue_size, 256);

	in.mmap_size = 0x2000;
	in.mmap_offset = 0;
	m = ok_msg(CTX_OWNED, VU_REQ_SET_INFLIGHT_FD, 0, &in, sizeof(in), 1, 0x2000);
	assert_int_equal(m.u.inflight.mmap_size, 0x2000);
	assert_int_equal(m.u.inflight.num_queues, 2);
	vu_msg_close(&m);
	vu_msg_close(&m); /* twice is harmless */
	vu_msg_close(NULL);
	assert_int_equal(th_count_fds(), before);
}

/* ---- malformed input: each refused with its own errno, no fd leaked ------ */

struct bad {
	const char *name;
	enum ctx_kind ctx;
	uint32_t req;
	uint32_t flags;        /* 0: VU_VERSION */
	uint32_t size;
	union payload p;
	size_t nfds;
	uint64_t fd_size;      /* memfd size; 0: 1 MiB */
	int expect;
	const char *reason;    /* substring of err.reason, or NULL */
};

#define R(g, s, u, o) { .guest_phys_addr = (g), .memory_size = (s), .userspace_addr = (u), .mmap_offset = (o) }
#define ST(i, n) { .st = { .index = (i), .num = (n) } }
#define U64(v) { .u64 = (v) }
#define MT1(r) { .mt = { .nregions = 1, .regions = { r } } }
#define SR(r) { .sr = { .region = r } }
#define S_MT(n) (8 + (n) * 32)
#define S_SR sizeof(struct vu_wire_single_region)
#define S_ADDR sizeof(struct vu_wire_vring_addr)
#define S_INF sizeof(struct vu_wire_inflight)
#define GOOD_R R(0, MiB, UADDR, 0)
#define ADDR(i, f, d, u, a) { .addr = { .index = (i), .flags = (f), .desc_user_addr = (d), .used_user_addr = (u), .avail_user_addr = (a) } }
#define INF(sz, off, nq, qs) { .inf = { .mmap_size = (sz), .mmap_offset = (off), .num_queues = (nq), .queue_size = (qs) } }

static const struct bad bad_cases[] = {
	/* header */
	{ "version 0", CTX_OWNED, VU_REQ_GET_FEATURES, 0x4u << 8, 0, { { 0 } }, 0, 0, -EPROTO, "version" },
	{ "version 2", CTX_OWNED, VU_REQ_GET_FEATURES, 2, 0, { { 0 } }, 0, 0, -EPROTO, "version 2" },
	{ "version 3", CTX_OWNED, VU_REQ_SET_OWNER, 3, 0, { { 0 } }, 0, 0, -EPROTO, NULL },
	{ "reply bit", CTX_OWNED, VU_REQ_GET_FEATURES, VU_VERSION | VU_FLAG_REPLY, 0, { { 0 } }, 0, 0, -EPROTO, "REPLY" },
	{ "reply bit with fds", CTX_OWNED, VU_REQ_SET_LOG_BASE, VU_VERSION | VU_FLAG_REPLY, 16, { .log = { 0x1000, 0 } }, 1, 0, -EPROTO, NULL },
	{ "unknown 0", CTX_OWNED, 0, 0, 0, { { 0 } }, 0, 0, -EOPNOTSUPP, "unknown request 0" },
	{ "unknown 21 (SET_SLAVE_REQ_FD)", CTX_OWNED, 21, 0, 0, { { 0 } }, 1, 0, -EOPNOTSUPP, NULL },
	{ "unknown 39", CTX_OWNED, 39, 0, 8, U64(0), 0, 0, -EOPNOTSUPP, NULL },
	{ "unknown ~0", CTX_OWNED, UINT32_MAX, 0, 0, { { 0 } }, 2, 0, -EOPNOTSUPP, NULL },
	/* state */
	{ "MEM_TABLE before SET_OWNER", CTX_CONN, VU_REQ_SET_MEM_TABLE, 0, S_MT(1), MT1(GOOD_R), 1, 0, -EPERM, "before SET_OWNER" },
	{ "VRING_NUM before SET_OWNER", CTX_CONN, VU_REQ_SET_VRING_NUM, 0, 8, ST(0, 256), 0, 0, -EPERM, NULL },
	{ "VRING_KICK before SET_OWNER", CTX_CONN, VU_REQ_SET_VRING_KICK, 0, 8, U64(0), 1, 0, -EPERM, NULL },
	{ "LOG_BASE before SET_OWNER", CTX_CONN, VU_REQ_SET_LOG_BASE, 0, 16, { .log = { 0x1000, 0 } }, 1, 0, -EPERM, NULL },
	/* protocol features not negotiated */
	{ "RARP without F_RARP", CTX_NOPF, VU_REQ_SEND_RARP, 0, 8, U64(0), 0, 0, -EOPNOTSUPP, "not negotiated" },
	{ "MTU without F_NET_MTU", CTX_NOPF, VU_REQ_NET_SET_MTU, 0, 8, U64(1500), 0, 0, -EOPNOTSUPP, NULL },
	{ "MAX_MEM_SLOTS without F_CONFIGURE_MEM_SLOTS", CTX_NOPF, VU_REQ_GET_MAX_MEM_SLOTS, 0, 0, { { 0 } }, 0, 0, -EOPNOTSUPP, NULL },
	{ "ADD_MEM_REG without F_CONFIGURE_MEM_SLOTS", CTX_NOPF, VU_REQ_ADD_MEM_REG, 0, S_SR, SR(GOOD_R), 1, 0, -EOPNOTSUPP, NULL },
	{ "REM_MEM_REG without F_CONFIGURE_MEM_SLOTS", CTX_NOPF, VU_REQ_REM_MEM_REG, 0, S_SR, SR(GOOD_R), 0, 0, -EOPNOTSUPP, NULL },
	{ "GET_INFLIGHT without F_INFLIGHT", CTX_NOPF, VU_REQ_GET_INFLIGHT_FD, 0, S_INF, INF(0, 0, 1, 256), 0, 0, -EOPNOTSUPP, NULL },
	{ "SET_INFLIGHT without F_INFLIGHT", CTX_NOPF, VU_REQ_SET_INFLIGHT_FD, 0, S_INF, INF(0x1000, 0, 1, 256), 1, 0, -EOPNOTSUPP, NULL },
	/* size rules */
	{ "GET_FEATURES with payload", CTX_OWNED, VU_REQ_GET_FEATURES, 0, 8, U64(0), 0, 0, -EBADMSG, "size 8, expected 0" },
	{ "SET_OWNER with payload", CTX_OWNED, VU_REQ_SET_OWNER, 0, 4, U64(0), 0, 0, -EBADMSG, NULL },
	{ "SET_FEATURES short", CTX_OWNED, VU_REQ_SET_FEATURES, 0, 4, U64(0), 0, 0, -EBADMSG, NULL },
	{ "SET_FEATURES long", CTX_OWNED, VU_REQ_SET_FEATURES, 0, 16, U64(0), 0, 0, -EBADMSG, NULL },
	{ "VRING_ADDR short", CTX_OWNED, VU_REQ_SET_VRING_ADDR, 0, 32, ADDR(0, 0, 0, 0, 0), 0, 0, -EBADMSG, NULL },
	{ "VRING_NUM short", CTX_OWNED, VU_REQ_SET_VRING_NUM, 0, 4, ST(0, 256), 0, 0, -EBADMSG, NULL },
	{ "LOG_BASE short", CTX_OWNED, VU_REQ_SET_LOG_BASE, 0, 8, { .log = { 0x1000, 0 } }, 1, 0, -EBADMSG, NULL },
	{ "LOG_FD 9 bytes", CTX_OWNED, VU_REQ_SET_LOG_FD, 0, 9, U64(0), 1, 0, -EBADMSG, "expected 0..8" },
	{ "LOG_FD 4 bytes", CTX_OWNED, VU_REQ_SET_LOG_FD, 0, 4, U64(0), 1, 0, -EBADMSG, "expected 0 or 8" },
	{ "INFLIGHT 20 bytes", CTX_OWNED, VU_REQ_GET_INFLIGHT_FD, 0, 20, INF(0, 0, 1, 256), 0, 0, -EBADMSG, NULL },
	{ "MEM_TABLE below header", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, 4, MT1(GOOD_R), 0, 0, -EBADMSG, NULL },
	{ "MEM_TABLE size != nregions", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(2), MT1(GOOD_R), 1, 0, -EBADMSG, "does not match nregions 1" },
	{ "MEM_TABLE size short of nregions", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(1), { .mt = { .nregions = 2, .regions = { GOOD_R, GOOD_R } } }, 2, 0, -EBADMSG, NULL },
	{ "ADD_MEM_REG short", CTX_OWNED, VU_REQ_ADD_MEM_REG, 0, 32, SR(GOOD_R), 1, 0, -EBADMSG, NULL },
	/* fd counts */
	{ "GET_FEATURES with an fd", CTX_OWNED, VU_REQ_GET_FEATURES, 0, 0, { { 0 } }, 1, 0, -EBADF, "1 fds, expected 0" },
	{ "SET_OWNER with 8 fds", CTX_OWNED, VU_REQ_SET_OWNER, 0, 0, { { 0 } }, 8, 0, -EBADF, NULL },
	{ "LOG_BASE without fd", CTX_OWNED, VU_REQ_SET_LOG_BASE, 0, 16, { .log = { 0x1000, 0 } }, 0, 0, -EBADF, NULL },
	{ "LOG_BASE with 2 fds", CTX_OWNED, VU_REQ_SET_LOG_BASE, 0, 16, { .log = { 0x1000, 0 } }, 2, 0, -EBADF, NULL },
	{ "LOG_FD without fd", CTX_OWNED, VU_REQ_SET_LOG_FD, 0, 0, { { 0 } }, 0, 0, -EBADF, NULL },
	{ "KICK no fd, flag clear", CTX_OWNED, VU_REQ_SET_VRING_KICK, 0, 8, U64(0), 0, 0, -EBADF, NULL },
	{ "CALL fd with NOFD flag", CTX_OWNED, VU_REQ_SET_VRING_CALL, 0, 8, U64(VU_VRING_NOFD_MASK), 1, 0, -EBADF, NULL },
	{ "ERR 2 fds", CTX_OWNED, VU_REQ_SET_VRING_ERR, 0, 8, U64(0), 2, 0, -EBADF, NULL },
	{ "MEM_TABLE 1 region 2 fds", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(1), MT1(GOOD_R), 2, 0, -EBADF, NULL },
	{ "MEM_TABLE 2 regions 1 fd", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(2), { .mt = { .nregions = 2, .regions = { GOOD_R, R(MiB, MiB, UADDR, 0) } } }, 1, 0, -EBADF, NULL },
	{ "ADD_MEM_REG no fd", CTX_OWNED, VU_REQ_ADD_MEM_REG, 0, S_SR, SR(GOOD_R), 0, 0, -EBADF, NULL },
	{ "REM_MEM_REG 2 fds", CTX_OWNED, VU_REQ_REM_MEM_REG, 0, S_SR, SR(GOOD_R), 2, 0, -EBADF, "expected 0..1" },
	{ "SET_INFLIGHT no fd", CTX_OWNED, VU_REQ_SET_INFLIGHT_FD, 0, S_INF, INF(0x1000, 0, 1, 256), 0, 0, -EBADF, NULL },
	{ "GET_INFLIGHT with fd", CTX_OWNED, VU_REQ_GET_INFLIGHT_FD, 0, S_INF, INF(0, 0, 1, 256), 1, 0, -EBADF, NULL },
	/* memory table */
	{ "MEM_TABLE nregions 0", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(0), { .mt = { .nregions = 0 } }, 0, 0, -ERANGE, "nregions 0" },
	{ "MEM_TABLE nregions 9", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(8), { .mt = { .nregions = 9 } }, 8, 0, -ERANGE, "nregions 9" },
	{ "MEM_TABLE nregions 2^32-1", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(1), { .mt = { .nregions = UINT32_MAX } }, 1, 0, -ERANGE, NULL },
	{ "MEM_TABLE zero-size region", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(1), MT1(R(0, 0, UADDR, 0)), 1, 0, -EINVAL, "region 0: memory_size is 0" },
	{ "MEM_TABLE gpa + size overflows", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(2),
	  { .mt = { .nregions = 2, .regions = { GOOD_R, R(UINT64_MAX - 0xfff, 0x1000, UADDR, 0) } } }, 2, 0,
	  -EOVERFLOW, "SET_MEM_TABLE: region 1: guest_phys_addr + memory_size overflows" },
	{ "MEM_TABLE uaddr + size overflows", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(1), MT1(R(0, MiB, UINT64_MAX - 10, 0)), 1, 0, -EOVERFLOW, "userspace_addr + memory_size" },
	{ "MEM_TABLE offset + size overflows", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(1), MT1(R(0, MiB, UADDR, UINT64_MAX - MiB + 1)), 1, 0, -EOVERFLOW, "mmap_offset + memory_size overflows" },
	{ "MEM_TABLE region larger than fd", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(1), MT1(R(0, 2 * MiB, UADDR, 0)), 1, MiB, -EINVAL, "beyond the fd's size" },
	{ "MEM_TABLE offset + size beyond fd", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(1), MT1(R(0, MiB, UADDR, 1)), 1, MiB, -EINVAL, "beyond the fd's size" },
	{ "MEM_TABLE overlapping regions", CTX_OWNED, VU_REQ_SET_MEM_TABLE, 0, S_MT(2),
	  { .mt = { .nregions = 2, .regions = { R(0, 2 * MiB, UADDR, 0), R(MiB, MiB, UADDR, 0) } } }, 2, 4 * MiB, -EINVAL, "overlap" },
	{ "ADD_MEM_REG zero size", CTX_OWNED, VU_REQ_ADD_MEM_REG, 0, S_SR, SR(R(0, 0, UADDR, 0)), 1, 0, -EINVAL, NULL },
	{ "ADD_MEM_REG gpa overflow", CTX_OWNED, VU_REQ_ADD_MEM_REG, 0, S_SR, SR(R(UINT64_MAX, 1, UADDR, 0)), 1, 0, -EOVERFLOW, NULL },
	{ "ADD_MEM_REG offset overflow", CTX_OWNED, VU_REQ_ADD_MEM_REG, 0, S_SR, SR(R(0, 2, UADDR, UINT64_MAX)), 1, 0, -EOVERFLOW, NULL },
	{ "ADD_MEM_REG beyond fd", CTX_OWNED, VU_REQ_ADD_MEM_REG, 0, S_SR, SR(R(0, MiB, UADDR, 4096)), 1, MiB, -EINVAL, NULL },
	{ "REM_MEM_REG zero size", CTX_OWNED, VU_REQ_REM_MEM_REG, 0, S_SR, SR(R(0, 0, UADDR, 0)), 0, 0, -EINVAL, NULL },
	{ "REM_MEM_REG uaddr overflow", CTX_OWNED, VU_REQ_REM_MEM_REG, 0, S_SR, SR(R(0, 2, UINT64_MAX, 0)), 0, 0, -EOVERFLOW, NULL },
	/* log */
	{ "LOG_BASE size 0", CTX_OWNED, VU_REQ_SET_LOG_BASE, 0, 16, { .log = { 0, 0 } }, 1, 0, -EINVAL, "mmap_size is 0" },
	{ "LOG_BASE offset + size overflows", CTX_OWNED, VU_REQ_SET_LOG_BASE, 0, 16, { .log = { 0x1000, UINT64_MAX - 0xfff } }, 1, 0, -EOVERFLOW, "overflows" },
	{ "LOG_BASE beyond fd", CTX_OWNED, VU_REQ_SET_LOG_BASE, 0, 16, { .log = { 0x2000, 0x1000 } }, 1, 0x2000, -EINVAL, "beyond" },
	/* rings */
	{ "VRING_NUM index", CTX_OWNED, VU_REQ_SET_VRING_NUM, 0, 8, ST(MAX_VRINGS, 256), 0, 0, -ERANGE, "ring index 4 is not below 4" },
	{ "VRING_NUM size 0", CTX_OWNED, VU_REQ_SET_VRING_NUM, 0, 8, ST(0, 0), 0, 0, -ERANGE, "size 0" },
	{ "VRING_NUM size 3", CTX_OWNED, VU_REQ_SET_VRING_NUM, 0, 8, ST(0, 3), 0, 0, -ERANGE, "power of two" },
	{ "VRING_NUM size 65536", CTX_OWNED, VU_REQ_SET_VRING_NUM, 0, 8, ST(0, 65536), 0, 0, -ERANGE, NULL },
	{ "VRING_NUM size 2^31", CTX_OWNED, VU_REQ_SET_VRING_NUM, 0, 8, ST(0, UINT32_C(1) << 31), 0, 0, -ERANGE, NULL },
	{ "VRING_BASE 65536", CTX_OWNED, VU_REQ_SET_VRING_BASE, 0, 8, ST(0, 65536), 0, 0, -ERANGE, "16 bits" },
	{ "VRING_BASE index", CTX_OWNED, VU_REQ_SET_VRING_BASE, 0, 8, ST(UINT32_MAX, 0), 0, 0, -ERANGE, NULL },
	{ "GET_VRING_BASE index", CTX_OWNED, VU_REQ_GET_VRING_BASE, 0, 8, ST(MAX_VRINGS, 0), 0, 0, -ERANGE, NULL },
	{ "VRING_ENABLE 2", CTX_OWNED, VU_REQ_SET_VRING_ENABLE, 0, 8, ST(0, 2), 0, 0, -ERANGE, "not 0 or 1" },
	{ "VRING_ENABLE index", CTX_OWNED, VU_REQ_SET_VRING_ENABLE, 0, 8, ST(9, 1), 0, 0, -ERANGE, NULL },
	{ "VRING_ADDR index", CTX_OWNED, VU_REQ_SET_VRING_ADDR, 0, S_ADDR, ADDR(MAX_VRINGS, 0, UADDR, UADDR, UADDR), 0, 0, -ERANGE, NULL },
	{ "VRING_ADDR flags", CTX_OWNED, VU_REQ_SET_VRING_ADDR, 0, S_ADDR, ADDR(0, 2, UADDR, UADDR, UADDR), 0, 0, -EINVAL, "undefined flags 0x2" },
	{ "VRING_ADDR desc align", CTX_OWNED, VU_REQ_SET_VRING_ADDR, 0, S_ADDR, ADDR(0, 0, UADDR + 8, UADDR, UADDR), 0, 0, -EINVAL, "desc_user_addr" },
	{ "VRING_ADDR used align", CTX_OWNED, VU_REQ_SET_VRING_ADDR, 0, S_ADDR, ADDR(0, 0, UADDR, UADDR + 2, UADDR), 0, 0, -EINVAL, "used_user_addr" },
	{ "VRING_ADDR avail align", CTX_OWNED, VU_REQ_SET_VRING_ADDR, 0, S_ADDR, ADDR(0, 0, UADDR, UADDR, UADDR + 1), 0, 0, -EINVAL, "avail_user_addr" },
	{ "KICK index", CTX_OWNED, VU_REQ_SET_VRING_KICK, 0, 8, U64(MAX_VRINGS), 1, 0, -ERANGE, NULL },
	{ "CALL index 255 nofd", CTX_OWNED, VU_REQ_SET_VRING_CALL, 0, 8, U64(255 | VU_VRING_NOFD_MASK), 0, 0, -ERANGE, NULL },
	{ "ERR reserved bit", CTX_OWNED, VU_REQ_SET_VRING_ERR, 0, 8, U64(UINT64_C(1) << 9), 1, 0, -EINVAL, "reserved" },
	/* net */
	{ "MTU 67", CTX_OWNED, VU_REQ_NET_SET_MTU, 0, 8, U64(67), 0, 0, -ERANGE, "mtu 67" },
	{ "MTU 65536", CTX_OWNED, VU_REQ_NET_SET_MTU, 0, 8, U64(65536), 0, 0, -ERANGE, NULL },
	{ "MTU 2^63", CTX_OWNED, VU_REQ_NET_SET_MTU, 0, 8, U64(UINT64_C(1) << 63), 0, 0, -ERANGE, NULL },
	{ "RARP short", CTX_OWNED, VU_REQ_SEND_RARP, 0, 6, U64(0), 0, 0, -EBADMSG, NULL },
	/* features */
	{ "SET_FEATURES not offered", CTX_OWNED, VU_REQ_SET_FEATURES, 0, 8, U64(UINT64_C(1) << 40), 0, 0, -EINVAL, "not offered" },
	{ "SET_PROTOCOL_FEATURES not offered", CTX_CONN, VU_REQ_SET_PROTOCOL_FEATURES, 0, 8, U64(VU_PF(VU_PROTO_F_CONFIG)), 0, 0, -EINVAL, "0x200" },
	/* inflight */
	{ "GET_INFLIGHT 0 queues", CTX_OWNED, VU_REQ_GET_INFLIGHT_FD, 0, S_INF, INF(0, 0, 0, 256), 0, 0, -ERANGE, "num_queues" },
	{ "GET_INFLIGHT too many queues", CTX_OWNED, VU_REQ_GET_INFLIGHT_FD, 0, S_INF, INF(0, 0, MAX_VRINGS + 1, 256), 0, 0, -ERANGE, NULL },
	{ "GET_INFLIGHT queue_size 0", CTX_OWNED, VU_REQ_GET_INFLIGHT_FD, 0, S_INF, INF(0, 0, 1, 0), 0, 0, -ERANGE, "queue_size" },
	{ "GET_INFLIGHT queue_size 32769", CTX_OWNED, VU_REQ_GET_INFLIGHT_FD, 0, S_INF, INF(0, 0, 1, 32769), 0, 0, -ERANGE, NULL },
	{ "SET_INFLIGHT size 0", CTX_OWNED, VU_REQ_SET_INFLIGHT_FD, 0, S_INF, INF(0, 0, 1, 256), 1, 0, -EINVAL, NULL },
	{ "SET_INFLIGHT overflow", CTX_OWNED, VU_REQ_SET_INFLIGHT_FD, 0, S_INF, INF(2, UINT64_MAX, 1, 256), 1, 0, -EOVERFLOW, NULL },
	{ "SET_INFLIGHT beyond fd", CTX_OWNED, VU_REQ_SET_INFLIGHT_FD, 0, S_INF, INF(0x2000, 0, 1, 256), 1, 0x1000, -EINVAL, NULL },
	{ "SET_INFLIGHT queues", CTX_OWNED, VU_REQ_SET_INFLIGHT_FD, 0, S_INF, INF(0x1000, 0, 100, 256), 1, 0, -ERANGE, NULL },
};

static void run_bad(const struct bad *b)
{
	struct vu_parse_ctx ctx = make_ctx(b->ctx);
	uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	struct msg_err err = { 0 };
	struct vu_msg m;
	int fds[VU_MAX_FDS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
	size_t len;
	int before, rc;

	memset(&m, 0x5a, sizeof(m));
	before = th_count_fds();
	assert_true(before > 0);
	len = fe_encode(buf, b->req, b->flags ? b->flags : VU_VERSION, b->p.raw,
			b->size);
	for (size_t i = 0; i < b->nfds; i++) {
		fds[i] = th_memfd("bad", b->fd_size ? b->fd_size : MiB);
		assert_true(fds[i] >= 0);
	}
	rc = through(buf, len, fds, b->nfds, &ctx, &m, &err);
	close_all(fds, b->nfds);
	if (rc != b->expect || (b->reason && !strstr(err.reason, b->reason)))
		print_error("case \"%s\": got %d (%s), expected %d (%s)\n", b->name,
			    rc, err.reason, b->expect, b->reason ? b->reason : "-");
	assert_int_equal(rc, b->expect);
	if (b->reason)
		assert_non_null(strstr(err.reason, b->reason));
	assert_true(err.reason[0] != '\0');
	/* ret_* untouched on failure. */
	assert_int_equal(m.request, 0x5a5a5a5a);
	if (th_count_fds() != before)
		print_error("case \"%s\" leaked fds\n", b->name);
	assert_int_equal(th_count_fds(), before);
}

static void test_malformed_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++)
		run_bad(&bad_cases[i]);
}

/* Cases the socket layer cannot carry: the parser gets the bytes directly. */
static void test_malformed_direct(void **state)
{
	struct vu_parse_ctx ctx = make_ctx(CTX_OWNED);
	static uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD + 16];
	struct msg_err err = { 0 };
	struct vu_msg m;
	int fds[VU_MAX_FDS + 2];
	uint64_t v = 0;
	size_t len;
	int before = th_count_fds();

	(void)state;
	/* Header shorter than 12 bytes, with fds: closed, slots -1. */
	len = fe_encode(buf, VU_REQ_GET_FEATURES, VU_VERSION, NULL, 0);
	for (int i = 0; i < 2; i++)
		fds[i] = th_memfd("t", 4096);
	assert_int_equal(vu_parse(buf, 11, fds, 2, &ctx, &m, &err), -EBADMSG);
	assert_non_null(strstr(err.reason, "header"));
	assert_int_equal(fds[0], -1);
	assert_int_equal(fds[1], -1);
	assert_int_equal(vu_parse(buf, 0, NULL, 0, &ctx, &m, &err), -EBADMSG);
	assert_int_equal(th_count_fds(), before);

	/* Payload truncated: header says 8, 4 present. */
	len = fe_encode(buf, VU_REQ_SET_FEATURES, VU_VERSION, &v, 8);
	assert_int_equal(vu_parse(buf, len - 4, NULL, 0, &ctx, &m, &err), -EBADMSG);
	/* Trailing bytes past the header's size. */
	assert_int_equal(vu_parse(buf, len + 4, NULL, 0, &ctx, &m, &err), -EBADMSG);
	assert_non_null(strstr(err.reason, "12 present"));

	/* Oversized: hdr.size above the limit, even with every byte present. */
	len = fe_encode(buf, VU_REQ_SET_MEM_TABLE, VU_VERSION, NULL, 0);
	{
		struct vu_wire_hdr h = { VU_REQ_SET_MEM_TABLE, VU_VERSION, VU_MAX_PAYLOAD + 1 };

		memcpy(buf, &h, sizeof(h));
	}
	assert_int_equal(vu_parse(buf, VU_HDR_SIZE + VU_MAX_PAYLOAD + 1, NULL, 0,
				  &ctx, &m, &err), -EMSGSIZE);
	assert_non_null(strstr(err.reason, "4097"));
	/* Size claims 2^32-1 with only the header present: still EMSGSIZE. */
	{
		struct vu_wire_hdr h = { VU_REQ_SET_MEM_TABLE, VU_VERSION, UINT32_MAX };

		memcpy(buf, &h, sizeof(h));
	}
	assert_int_equal(vu_parse(buf, VU_HDR_SIZE, NULL, 0, &ctx, &m, &err), -EMSGSIZE);

	/* More fds than any message carries: all closed. */
	len = fe_encode(buf, VU_REQ_GET_FEATURES, VU_VERSION, NULL, 0);
	for (size_t i = 0; i < VU_MAX_FDS + 1; i++)
		fds[i] = th_memfd("t", 4096);
	assert_int_equal(vu_parse(buf, len, fds, VU_MAX_FDS + 1, &ctx, &m, &err), -EBADF);
	for (size_t i = 0; i < VU_MAX_FDS + 1; i++)
		assert_int_equal(fds[i], -1);
	assert_int_equal(th_count_fds(), before);

	/* An fd that fstat() refuses (not open) where a region fd belongs. */
	{
		union payload p = { .mt = { .nregions = 1, .regions = { R(0, 4096, UADDR, 0) } } };
		int bogus = 1000000;

		len = fe_encode(buf, VU_REQ_SET_MEM_TABLE, VU_VERSION, &p, S_MT(1));
		assert_int_equal(vu_parse(buf, len, &bogus, 1, &ctx, &m, &err), -EBADF);
		assert_int_equal(bogus, -1);
		assert_non_null(strstr(err.reason, "fstat"));
	}

	/* Bad arguments. */
	assert_int_equal(vu_parse(buf, len, NULL, 1, &ctx, &m, &err), -EINVAL);
	fds[0] = th_memfd("t", 4096);
	assert_int_equal(vu_parse(buf, len, fds, 1, NULL, &m, &err), -EINVAL);
	assert_int_equal(fds[0], -1);
	assert_int_equal(th_count_fds(), before);
}

/* Reserved header flag bits are ignored (a newer front end is not cut off). */
static void test_reserved_flags_ignored(void **state)
{
	struct vu_msg m;

	(void)state;
	m = ok_msg(CTX_OWNED, VU_REQ_GET_FEATURES, VU_VERSION | (1u << 5), NULL, 0, 0, 0);
	assert_int_equal(m.flags, VU_VERSION | (1u << 5));
}

/* ---- state model ----------------------------------------------------------- */

struct step {
	uint32_t req;
	uint32_t size;
	union payload p;
	int expect;
};

static void run_steps(const struct step *steps, size_t n, enum vu_state *state,
		      uint64_t *pf)
{
	for (size_t i = 0; i < n; i++) {
		struct vu_parse_ctx ctx = make_ctx(CTX_OWNED);
		uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
		struct msg_err err = { 0 };
		struct vu_msg m;
		size_t len;
		int rc;

		ctx.state = *state;
		ctx.protocol_features = *pf;
		len = fe_encode(buf, steps[i].req, VU_VERSION, steps[i].p.raw, steps[i].size);
		rc = through(buf, len, NULL, 0, &ctx, &m, &err);
		if (rc != steps[i].expect)
			print_error("step %zu (%s): %d %s\n", i,
				    vu_request_name(steps[i].req), rc, err.reason);
		assert_int_equal(rc, steps[i].expect);
		if (rc == 0) {
			*state = vu_state_after(*state, m.request);
			if (m.request == VU_REQ_SET_PROTOCOL_FEATURES)
				*pf = m.u.u64;
			vu_msg_close(&m);
		}
	}
}

static void test_state_qemu_order(void **st)
{
	/* QEMU 7.2 vhost_user_backend_init + vhost_dev_init, two queue pairs
	 * on one socket: the init sequence, SET_OWNER included, repeats. */
	const struct step steps[] = {
		{ VU_REQ_GET_FEATURES, 0, { { 0 } }, 0 },
		{ VU_REQ_GET_PROTOCOL_FEATURES, 0, { { 0 } }, 0 },
		{ VU_REQ_SET_PROTOCOL_FEATURES, 8, U64(OFFERED_PF), 0 },
		{ VU_REQ_GET_QUEUE_NUM, 0, { { 0 } }, 0 },
		{ VU_REQ_GET_MAX_MEM_SLOTS, 0, { { 0 } }, 0 },
		{ VU_REQ_SET_VRING_NUM, 8, ST(0, 256), -EPERM },
		{ VU_REQ_SET_OWNER, 0, { { 0 } }, 0 },
		{ VU_REQ_GET_FEATURES, 0, { { 0 } }, 0 },
		{ VU_REQ_SET_VRING_CALL, 8, U64(VU_VRING_NOFD_MASK), 0 },
		{ VU_REQ_GET_FEATURES, 0, { { 0 } }, 0 },
		{ VU_REQ_GET_PROTOCOL_FEATURES, 0, { { 0 } }, 0 },
		{ VU_REQ_SET_PROTOCOL_FEATURES, 8, U64(OFFERED_PF), 0 },
		{ VU_REQ_GET_MAX_MEM_SLOTS, 0, { { 0 } }, 0 },
		{ VU_REQ_SET_OWNER, 0, { { 0 } }, 0 },
		{ VU_REQ_SET_FEATURES, 8, U64(UINT64_C(1) << 32), 0 },
		{ VU_REQ_SET_VRING_NUM, 8, ST(3, 256), 0 },
		{ VU_REQ_SET_VRING_BASE, 8, ST(3, 0), 0 },
		{ VU_REQ_SET_VRING_ENABLE, 8, ST(3, 1), 0 },
		{ VU_REQ_NET_SET_MTU, 8, U64(1500), 0 },
		{ VU_REQ_GET_VRING_BASE, 8, ST(3, 0), 0 },
		{ VU_REQ_RESET_OWNER, 0, { { 0 } }, 0 },
		{ VU_REQ_SET_VRING_NUM, 8, ST(0, 256), -EPERM },
		{ VU_REQ_GET_FEATURES, 0, { { 0 } }, 0 },
	};
	enum vu_state state = VU_STATE_CONNECTED;
	uint64_t pf = 0;

	(void)st;
	run_steps(steps, ARRAY_SIZE(steps), &state, &pf);
	assert_int_equal(state, VU_STATE_CONNECTED);
}

static void test_state_dpdk_order(void **st)
{
	/* DPDK virtio-user: SET_OWNER first, then negotiation. */
	const struct step steps[] = {
		{ VU_REQ_GET_MAX_MEM_SLOTS, 0, { { 0 } }, -EOPNOTSUPP },
		{ VU_REQ_SET_OWNER, 0, { { 0 } }, 0 },
		{ VU_REQ_GET_FEATURES, 0, { { 0 } }, 0 },
		{ VU_REQ_GET_PROTOCOL_FEATURES, 0, { { 0 } }, 0 },
		{ VU_REQ_SET_PROTOCOL_FEATURES, 8, U64(VU_PF(VU_PROTO_F_MQ) | VU_PF(VU_PROTO_F_REPLY_ACK)), 0 },
		{ VU_REQ_SET_FEATURES, 8, U64(UINT64_C(1) << 32), 0 },
		{ VU_REQ_SET_VRING_NUM, 8, ST(0, 1024), 0 },
		{ VU_REQ_SET_VRING_ENABLE, 8, ST(1, 0), 0 },
		{ VU_REQ_NET_SET_MTU, 8, U64(1500), -EOPNOTSUPP },
	};
	enum vu_state state = VU_STATE_CONNECTED;
	uint64_t pf = 0;

	(void)st;
	run_steps(steps, ARRAY_SIZE(steps), &state, &pf);
	assert_int_equal(state, VU_STATE_OWNED);
	assert_int_equal(vu_state_after(VU_STATE_OWNED, 999), VU_STATE_OWNED);
	assert_string_equal(vu_request_name(VU_REQ_SET_MEM_TABLE), "SET_MEM_TABLE");
	assert_string_equal(vu_request_name(21), "UNKNOWN");
}

/* ---- replies ---------------------------------------------------------------- */

/* The test's front end reading a reply as QEMU's vhost_user_read() does. */
static size_t fe_recv(int sock, uint8_t *buf, size_t len, int *fds, size_t *nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;
	ssize_t r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	assert_true(r > 0);
	*nfds = 0;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		memcpy(fds, CMSG_DATA(c), n * sizeof(int));
		*nfds = n;
	}
	return (size_t)r;
}

static void reply_roundtrip(const struct vu_reply *r, int fd, uint8_t *out,
			    size_t *out_len, int *ret_fd)
{
	uint8_t buf[VU_MAX_REPLY];
	size_t len, nfds;
	int sv[2], fds[VU_MAX_FDS];

	assert_int_equal(vu_encode_reply(r, buf, sizeof(buf), &len), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vu_io_send(sv[0], 1000, buf, len, &fd, fd >= 0 ? 1 : 0), 0);
	*out_len = fe_recv(sv[1], out, VU_MAX_REPLY + 8, fds, &nfds);
	assert_int_equal(*out_len, len);
	assert_int_equal(nfds, fd >= 0 ? 1 : 0);
	*ret_fd = nfds ? fds[0] : -1;
	close(sv[0]);
	close(sv[1]);
}

static void check_reply_hdr(const uint8_t *buf, uint32_t req, uint32_t size)
{
	struct vu_wire_hdr h;

	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.request, req);
	assert_int_equal(h.flags, VU_VERSION | VU_FLAG_REPLY);
	assert_int_equal(h.size, size);
}

static void test_reply_u64(void **state)
{
	static const uint32_t reqs[] = {
		VU_REQ_GET_FEATURES, VU_REQ_GET_PROTOCOL_FEATURES,
		VU_REQ_GET_QUEUE_NUM, VU_REQ_GET_MAX_MEM_SLOTS,
	};

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct vu_reply r = { .request = reqs[i], .u.u64 = OFFERED_F + i };
		uint8_t out[VU_MAX_REPLY + 8];
		uint64_t v;
		size_t len;
		int fd;

		reply_roundtrip(&r, -1, out, &len, &fd);
		check_reply_hdr(out, reqs[i], 8);
		memcpy(&v, out + VU_HDR_SIZE, 8);
		assert_int_equal(v, OFFERED_F + i);
	}
}

static void test_reply_vring_base_and_log(void **state)
{
	struct vu_reply r = { .request = VU_REQ_GET_VRING_BASE, .u.state = { 3, 4711 } };
	struct vu_wire_vring_state s;
	uint8_t out[VU_MAX_REPLY + 8];
	size_t len;
	int fd;

	(void)state;
	reply_roundtrip(&r, -1, out, &len, &fd);
	check_reply_hdr(out, VU_REQ_GET_VRING_BASE, 8);
	memcpy(&s, out + VU_HDR_SIZE, 8);
	assert_int_equal(s.index, 3);
	assert_int_equal(s.num, 4711);

	r = (struct vu_reply){ .request = VU_REQ_SET_LOG_BASE };
	reply_roundtrip(&r, -1, out, &len, &fd);
	assert_int_equal(len, VU_HDR_SIZE);
	check_reply_hdr(out, VU_REQ_SET_LOG_BASE, 0);
}

static void test_reply_inflight(void **state)
{
	struct vu_reply r = {
		.request = VU_REQ_GET_INFLIGHT_FD,
		.u.inflight = { .mmap_size = 0x3000, .mmap_offset = 0x1000,
				.num_queues = 2, .queue_size = 256 },
	};
	struct vu_wire_inflight in;
	uint8_t out[VU_MAX_REPLY + 8];
	struct stat a, b;
	int before = th_count_fds();
	int mfd = th_memfd("inflight", 0x4000);
	size_t len;
	int fd;

	(void)state;
	reply_roundtrip(&r, mfd, out, &len, &fd);
	/* QEMU insists on hdr.size == sizeof(VhostUserInflight) == 24. */
	check_reply_hdr(out, VU_REQ_GET_INFLIGHT_FD, 24);
	memcpy(&in, out + VU_HDR_SIZE, sizeof(in));
	assert_int_equal(in.mmap_size, 0x3000);
	assert_int_equal(in.mmap_offset, 0x1000);
	assert_int_equal(in.num_queues, 2);
	assert_int_equal(in.queue_size, 256);
	assert_int_equal(fstat(mfd, &a), 0);
	assert_int_equal(fstat(fd, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	/* vu_io_send leaves our fd ours. */
	assert_true(th_fd_is_open(mfd));
	close(fd);
	close(mfd);
	assert_int_equal(th_count_fds(), before);
}

static void test_reply_ack_and_errors(void **state)
{
	uint8_t buf[VU_MAX_REPLY];
	struct vu_reply r = { .request = VU_REQ_SET_VRING_NUM };
	size_t len = 12345;
	uint64_t v;

	(void)state;
	assert_int_equal(vu_encode_ack(VU_REQ_SET_MEM_TABLE, 0, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, VU_HDR_SIZE + 8);
	check_reply_hdr(buf, VU_REQ_SET_MEM_TABLE, 8);
	memcpy(&v, buf + VU_HDR_SIZE, 8);
	assert_int_equal(v, 0);
	assert_int_equal(vu_encode_ack(VU_REQ_SET_VRING_ADDR, -EINVAL, buf, sizeof(buf), &len), 0);
	memcpy(&v, buf + VU_HDR_SIZE, 8);
	assert_int_equal(v, 1);

	/* A request without a reply of its own has nothing to encode. */
	len = 12345;
	assert_int_equal(vu_encode_reply(&r, buf, sizeof(buf), &len), -EINVAL);
	r.request = 99;
	assert_int_equal(vu_encode_reply(&r, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(vu_encode_ack(99, 0, buf, sizeof(buf), &len), -EINVAL);
	/* Too small a buffer; ret_len untouched. */
	r.request = VU_REQ_GET_FEATURES;
	assert_int_equal(vu_encode_reply(&r, buf, VU_HDR_SIZE + 7, &len), -ENOBUFS);
	assert_int_equal(vu_encode_ack(VU_REQ_SET_OWNER, 0, buf, 19, &len), -ENOBUFS);
	assert_int_equal(len, 12345);
}

static void test_respond_rule(void **state)
{
	const uint64_t ack = VU_PF(VU_PROTO_F_REPLY_ACK);
	const uint64_t shm = VU_PF(VU_PROTO_F_LOG_SHMFD);
	struct vu_msg m = { .request = VU_REQ_SET_MEM_TABLE, .flags = VU_VERSION | VU_FLAG_NEED_REPLY };

	(void)state;
	assert_int_equal(vu_respond(&m, ack), VU_RESPOND_ACK);
	assert_true(vu_needs_ack(&m, ack));
	assert_int_equal(vu_respond(&m, 0), VU_RESPOND_NONE);
	m.flags = VU_VERSION;
	assert_int_equal(vu_respond(&m, ack), VU_RESPOND_NONE);
	assert_false(vu_needs_ack(&m, ack));

	/* Requests with their own reply ignore NEED_REPLY. */
	m = (struct vu_msg){ .request = VU_REQ_GET_FEATURES, .flags = VU_VERSION | VU_FLAG_NEED_REPLY };
	assert_int_equal(vu_respond(&m, ack), VU_RESPOND_REPLY);
	assert_int_equal(vu_respond(&m, 0), VU_RESPOND_REPLY);
	m.request = VU_REQ_GET_VRING_BASE;
	assert_int_equal(vu_respond(&m, ack), VU_RESPOND_REPLY);
	m.request = VU_REQ_GET_INFLIGHT_FD;
	assert_false(vu_needs_ack(&m, ack));

	/* SET_LOG_BASE replies only with LOG_SHMFD; otherwise it may be acked. */
	m = (struct vu_msg){ .request = VU_REQ_SET_LOG_BASE, .flags = VU_VERSION | VU_FLAG_NEED_REPLY };
	assert_int_equal(vu_respond(&m, shm | ack), VU_RESPOND_REPLY);
	assert_int_equal(vu_respond(&m, ack), VU_RESPOND_ACK);
	m.flags = VU_VERSION;
	assert_int_equal(vu_respond(&m, shm), VU_RESPOND_REPLY);
	assert_int_equal(vu_respond(&m, 0), VU_RESPOND_NONE);

	assert_int_equal(vu_respond(NULL, ack), VU_RESPOND_NONE);
	m.request = 99;
	assert_int_equal(vu_respond(&m, ack), VU_RESPOND_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_payload_requests),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_mem_table),
		cmocka_unit_test(test_add_rem_mem_reg),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_vring_state_requests),
		cmocka_unit_test(test_vring_addr),
		cmocka_unit_test(test_vring_files),
		cmocka_unit_test(test_net_requests),
		cmocka_unit_test(test_inflight),
		cmocka_unit_test(test_malformed_table),
		cmocka_unit_test(test_malformed_direct),
		cmocka_unit_test(test_reserved_flags_ignored),
		cmocka_unit_test(test_state_qemu_order),
		cmocka_unit_test(test_state_dpdk_order),
		cmocka_unit_test(test_reply_u64),
		cmocka_unit_test(test_reply_vring_base_and_log),
		cmocka_unit_test(test_reply_inflight),
		cmocka_unit_test(test_reply_ack_and_errors),
		cmocka_unit_test(test_respond_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
