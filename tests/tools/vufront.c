// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vufront: a synthetic vhost-user FRONT END for testing vdpa-agentd.
 *
 * It plays QEMU's part on one queue pair: guest memory is a memfd shared
 * with the agent, the split rings (RX = ring 0, TX = ring 1) and buffers live
 * in it, and the negotiation follows QEMU 7.2's order.  Then one mode runs:
 *
 *   vufront log SOCK [--frames N] [--hold S [--until FILE]]
 *       The dirty-log invariant, checked deterministically on a port with
 *       endpoint=loop: per frame, clear the log, post poisoned RX buffers,
 *       transmit, wait for the frame to come back, then every page the agent
 *       wrote (RX buffers per the used lengths, used ring entries and index)
 *       must be marked.  Along the way the log is resized (a second
 *       SET_LOG_BASE), LOG_ALL is switched off (frames must keep flowing)
 *       and on again.  Prints LOGCHECK {...}; exit 1 on any miss.  With
 *       --hold the connection stays up afterwards (logging on) for S seconds
 *       or until FILE exists, so a test can read the port's counters.
 *   vufront log SOCK [--frames N] --pause-at K --until FILE
 *       The same, but before frame K it prints "PAUSED K" and waits (120 s
 *       at most) until FILE exists: the test changes something under the
 *       port there (deletes its device, say) and the frames after it must
 *       pass the same checks.
 *   vufront log SOCK [--frames N] --at-stop
 *       The invariant at switchover, for ports whose log is merged only now
 *       and then (an accelerator's): logging on, the log cleared once, N
 *       frames moved (contents checked, the log not), then GET_VRING_BASE
 *       on both rings as QEMU sends at migration switchover; only then must
 *       every RX buffer page any frame wrote, and every used ring page
 *       written, be marked.  Prints LOGCHECK {...}; exit 1 on any miss.
 *   vufront hostile SOCK CASE [--hold S] [--until FILE]
 *       Delivers one malformed message or corrupted ring (see the case
 *       table, "vufront hostile --list").  Ring cases keep the connection
 *       open for S seconds (default 10) or until FILE exists, so the test
 *       can inspect the agent; protocol cases wait (5 s at most) for the
 *       agent to hang up.
 *       Exit 0 when the case was delivered.
 *   vufront traffic SOCK [--seconds S]
 *       64-byte frames on TX as fast as the agent takes them; prints
 *       TRAFFIC {...} with frames per second.
 *
 * VUFRONT_FEATURES=MASK (hex or decimal) in the environment limits the virtio
 * features vufront acks to MASK (a front end for a device that lacks some,
 * as the kernel's vdpa_sim_net lacks EVENT_IDX, MRG_RXBUF, INDIRECT_DESC);
 * VUFRONT_AS_SENT=1 accepts a frame that comes back unchanged as well as one
 * with its MACs swapped (the agent's loop endpoint swaps them; a device's
 * own loop, vdpa_sim_net's, does not) and counts those in LOGCHECK's
 * "as_sent".  VUFRONT_RING_SIZE=N (a power of two up to 512, the default) sets the
 * rings' size in the log modes (vdpa_sim_net takes 256 at most).
 *
 * Trust boundary: the agent is the peer under test, so nothing it sends is
 * believed: every wait is bounded (poll, CLOCK_MONOTONIC), replies are
 * checked for request id, flags and size, used-ring ids and lengths are
 * range-checked before they index anything.
 *
 * Exit codes: 0 success, 1 an invariant failed, 2 setup or protocol error
 * (the agent refused something a well-behaved front end does, timed out,
 * or answered garbage), 64 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "protocol/vhost_user.h"

/* ---- virtio constants (the agent's own headers are not a library) ----- */

#define F_MRG_RXBUF 15
#define F_STATUS 16
#define F_INDIRECT_DESC 28
#define F_EVENT_IDX 29
#define F_VERSION_1 32
#define BIT(b) (UINT64_C(1) << (b))

#define DESC_F_NEXT 1u
#define DESC_F_WRITE 2u
#define DESC_F_INDIRECT 4u

#define VNET_HDR 12u

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));
_Static_assert(sizeof(struct vring_desc) == 16, "descriptor");

/* ---- guest memory layout (offsets into the memfd) ----------------------- */

#define MEM_SIZE (16u << 20)
#define GPA_BASE UINT64_C(0x40000000)   /* not 0: a GPA/VA mix-up shows */
#define PAGE 4096u
#define QSZ 512u                        /* used ring 4102 bytes: two pages */

static const uint64_t ring_desc_off[2] = { 0x0000, 0x6000 };
static const uint64_t ring_avail_off[2] = { 0x2000, 0x8000 };
static const uint64_t ring_used_off[2] = { 0x3000, 0x9000 };
#define INDIRECT_OFF 0xc000u
#define TXBUF_OFF 0x100000u             /* QSZ x 4 KiB */
#define TXBUF_SIZE 4096u
#define RXBUF_OFF 0x400000u             /* QSZ x 8 KiB slots */
#define RXSLOT_SIZE 8192u

#define IO_TIMEOUT_MS 3000
#define FRAME_TIMEOUT_MS 3000

enum { RX = 0, TX = 1 };

struct ring {
	unsigned num;
	struct vring_desc *desc;
	uint16_t *avail;        /* flags, idx, ring[num], used_event */
	uint16_t *used;         /* flags, idx, {u32 id, u32 len}[num], avail_event */
	int kick, call;
	uint16_t avail_idx;     /* our shadow of avail->idx */
	uint16_t last_used;     /* next used entry to consume */
	uint32_t buflen[QSZ];   /* per head: bytes posted (0: not posted) */
	uint64_t bufgpa[QSZ];
};

struct fe {
	const char *sock_path;
	int sock;
	int memfd;
	uint8_t *mem;
	uint64_t features_offered, features;
	uint64_t pf_offered, pf;
	struct ring r[2];
	/* Dirty logs: cur is the one the agent should be writing. */
	int logfd[2];
	uint8_t *log[2];
	uint64_t log_size[2];
	int cur_log;            /* -1: logging off */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("vufront: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* Names for messages (standalone: no link against the agent's libraries). */
static const char *req_name(uint32_t req)
{
	static const char *const n[] = {
		[VU_REQ_GET_FEATURES] = "GET_FEATURES", [VU_REQ_SET_FEATURES] = "SET_FEATURES",
		[VU_REQ_SET_OWNER] = "SET_OWNER", [VU_REQ_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VU_REQ_SET_LOG_BASE] = "SET_LOG_BASE", [VU_REQ_SET_VRING_NUM] = "SET_VRING_NUM",
		[VU_REQ_SET_VRING_ADDR] = "SET_VRING_ADDR", [VU_REQ_SET_VRING_BASE] = "SET_VRING_BASE",
		[VU_REQ_GET_VRING_BASE] = "GET_VRING_BASE", [VU_REQ_SET_VRING_KICK] = "SET_VRING_KICK",
		[VU_REQ_SET_VRING_CALL] = "SET_VRING_CALL",
		[VU_REQ_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VU_REQ_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VU_REQ_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	};

	return req < sizeof(n) / sizeof(n[0]) && n[req] ? n[req] : "request";
}

static uint64_t gpa_of(uint64_t off)
{
	return GPA_BASE + off;
}

static uint64_t uva_of(const struct fe *fe, uint64_t off)
{
	return (uint64_t)(uintptr_t)(fe->mem + off);
}

/* ---- socket I/O ---------------------------------------------------------- */

static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Sends bytes with fds attached to the first byte; 0 or -errno. */
static int send_raw(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} ctl;
	const uint8_t *p = buf;
	int64_t deadline = now_ms() + IO_TIMEOUT_MS;
	size_t done = 0;

	if (nfds > 16)
		return -EINVAL;
	while (done < len) {
		struct iovec iov = { .iov_base = (void *)(uintptr_t)(p + done), .iov_len = len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (done == 0 && nfds) {
			struct cmsghdr *c;

			memset(ctl.buf, 0, sizeof(ctl.buf));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			int r;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			r = wait_fd(sock, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		done += (size_t)n;
	}
	return 0;
}

/*
 * Reads exactly len bytes before deadline; fds that arrive are closed
 * (a back end has no business sending us fds in any reply we ask for).
 * Returns 0, -ECONNRESET on EOF, -ETIMEDOUT, or -errno.
 */
static int recv_full(int sock, void *buf, size_t len, int64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} ctl;
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		struct iovec iov = { .iov_base = p + done, .iov_len = len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *c;
		ssize_t n;
		int r;

		r = wait_fd(sock, POLLIN, deadline);
		if (r < 0)
			return r;
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
		}
		if (n == 0)
			return -ECONNRESET;
		done += (size_t)n;
	}
	return 0;
}

/* Does this request have a reply of its own (given what we negotiated)? */
static bool has_own_reply(const struct fe *fe, uint32_t req)
{
	switch (req) {
	case VU_REQ_GET_FEATURES:
	case VU_REQ_GET_PROTOCOL_FEATURES:
	case VU_REQ_GET_QUEUE_NUM:
	case VU_REQ_GET_VRING_BASE:
	case VU_REQ_GET_MAX_MEM_SLOTS:
	case VU_REQ_GET_INFLIGHT_FD:
		return true;
	case VU_REQ_SET_LOG_BASE:
		return (fe->pf & VU_PF(VU_PROTO_F_LOG_SHMFD)) != 0;
	default:
		return false;
	}
}

static int send_msg(struct fe *fe, uint32_t req, uint32_t flags, const void *payload,
		    uint32_t size, const int *fds, size_t nfds)
{
	uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	struct vu_wire_hdr h = { .request = req, .flags = flags, .size = size };

	if (size > VU_MAX_PAYLOAD)
		return -EMSGSIZE;
	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + VU_HDR_SIZE, payload, size);
	return send_raw(fe->sock, buf, VU_HDR_SIZE + size, fds, nfds);
}

/* Reads one reply to req with exactly want_size payload bytes into out. */
static int recv_reply(struct fe *fe, uint32_t req, void *out, uint32_t want_size)
{
	struct vu_wire_hdr h;
	uint8_t payload[VU_MAX_PAYLOAD];
	int64_t deadline = now_ms() + IO_TIMEOUT_MS;
	int r;

	r = recv_full(fe->sock, &h, sizeof(h), deadline);
	if (r < 0)
		return r;
	if (h.request != req) {
		fprintf(stderr, "vufront: reply to %s has request id %u\n",
			req_name(req), h.request);
		return -EPROTO;
	}
	if ((h.flags & VU_FLAG_VERSION_MASK) != VU_VERSION || !(h.flags & VU_FLAG_REPLY)) {
		fprintf(stderr, "vufront: reply to %s has flags %#x\n", req_name(req),
			h.flags);
		return -EPROTO;
	}
	if (h.size != want_size) {
		fprintf(stderr, "vufront: reply to %s has size %u, expected %u\n",
			req_name(req), h.size, want_size);
		return -EPROTO;
	}
	r = recv_full(fe->sock, payload, h.size, deadline);
	if (r < 0)
		return r;
	if (out && want_size)
		memcpy(out, payload, want_size);
	return 0;
}

/*
 * One request the way QEMU sends it: with REPLY_ACK negotiated, requests
 * without a reply of their own carry NEED_REPLY and we wait for the ack.
 * Returns 0, a positive value if the agent NAKed, or -errno.
 */
static int request(struct fe *fe, uint32_t req, const void *payload, uint32_t size,
		   const int *fds, size_t nfds, void *out, uint32_t out_size)
{
	bool ack = !has_own_reply(fe, req) && (fe->pf & VU_PF(VU_PROTO_F_REPLY_ACK));
	uint32_t flags = VU_VERSION | (ack ? VU_FLAG_NEED_REPLY : 0);
	uint64_t v;
	int r;

	r = send_msg(fe, req, flags, payload, size, fds, nfds);
	if (r < 0)
		return r;
	if (has_own_reply(fe, req))
		return recv_reply(fe, req, out, out_size);
	if (!ack)
		return 0;
	r = recv_reply(fe, req, &v, sizeof(v));
	if (r < 0)
		return r;
	return v == 0 ? 0 : 1;
}

/* request() that must succeed. */
static void must(struct fe *fe, uint32_t req, const void *payload, uint32_t size,
		 const int *fds, size_t nfds, void *out, uint32_t out_size)
{
	int r = request(fe, req, payload, size, fds, nfds, out, out_size);

	if (r > 0)
		die("%s: the agent answered failure (REPLY_ACK)", req_name(req));
	if (r < 0)
		die("%s: %s", req_name(req), strerror(-r));
}

static void must_u64(struct fe *fe, uint32_t req, uint64_t v)
{
	must(fe, req, &v, sizeof(v), NULL, 0, NULL, 0);
}

static void must_state(struct fe *fe, uint32_t req, uint32_t index, uint32_t num)
{
	struct vu_wire_vring_state s = { .index = index, .num = num };

	must(fe, req, &s, sizeof(s), NULL, 0, NULL, 0);
}

/* ---- set-up -------------------------------------------------------------- */

static void fe_connect(struct fe *fe)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(fe->sock_path) >= sizeof(sa.sun_path))
		die("socket path too long: %s", fe->sock_path);
	strcpy(sa.sun_path, fe->sock_path);
	fe->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fe->sock < 0)
		die("socket: %s", strerror(errno));
	if (connect(fe->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s: %s", fe->sock_path, strerror(errno));
}

static void fe_init(struct fe *fe, const char *sock_path)
{
	memset(fe, 0, sizeof(*fe));
	fe->sock_path = sock_path;
	fe->logfd[0] = fe->logfd[1] = -1;
	fe->cur_log = -1;
	fe->memfd = memfd_create("vufront-guest", MFD_CLOEXEC);
	if (fe->memfd < 0 || ftruncate(fe->memfd, MEM_SIZE) < 0)
		die("guest memory memfd: %s", strerror(errno));
	fe->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fe->memfd, 0);
	if (fe->mem == MAP_FAILED)
		die("mmap guest memory: %s", strerror(errno));
	for (unsigned s = 0; s < 2; s++) {
		struct ring *r = &fe->r[s];

		r->num = QSZ;
		/* Log modes only (they index by r->num; traffic and hostile use QSZ). */
		if (getenv("VUFRONT_RING_SIZE")) {
			char *end;
			unsigned long n = strtoul(getenv("VUFRONT_RING_SIZE"), &end, 0);

			if (*end || n < 2 || n > QSZ || (n & (n - 1)))
				die("VUFRONT_RING_SIZE: not a power of two in 2..%u", QSZ);
			r->num = (uint32_t)n;
		}
		r->desc = (struct vring_desc *)(fe->mem + ring_desc_off[s]);
		r->avail = (uint16_t *)(fe->mem + ring_avail_off[s]);
		r->used = (uint16_t *)(fe->mem + ring_used_off[s]);
		r->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		r->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (r->kick < 0 || r->call < 0)
			die("eventfd: %s", strerror(errno));
	}
	fe_connect(fe);
}

/* QEMU 7.2's order: queries, SET_OWNER, features, memory. */
static void negotiate(struct fe *fe, uint64_t want)
{
	struct vu_wire_mem_table mt;
	uint32_t mt_size = offsetof(struct vu_wire_mem_table, regions) +
			   sizeof(struct vu_wire_mem_region);

	must(fe, VU_REQ_GET_FEATURES, NULL, 0, NULL, 0, &fe->features_offered, 8);
	if (!(fe->features_offered & BIT(VU_F_PROTOCOL_FEATURES)))
		die("agent does not offer PROTOCOL_FEATURES (%#" PRIx64 ")", fe->features_offered);
	if (!(fe->features_offered & BIT(VU_F_LOG_ALL)))
		die("agent does not offer LOG_ALL: QEMU would refuse to migrate");
	must(fe, VU_REQ_GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0, &fe->pf_offered, 8);
	{
		uint64_t need = VU_PF(VU_PROTO_F_LOG_SHMFD) | VU_PF(VU_PROTO_F_REPLY_ACK);
		uint64_t pf = fe->pf_offered & (need | VU_PF(VU_PROTO_F_MQ));

		if ((fe->pf_offered & need) != need)
			die("agent lacks LOG_SHMFD or REPLY_ACK (%#" PRIx64 ")", fe->pf_offered);
		/* Not acked yet when it is sent: no NEED_REPLY on this one. */
		must_u64(fe, VU_REQ_SET_PROTOCOL_FEATURES, pf);
		fe->pf = pf;
	}
	must(fe, VU_REQ_SET_OWNER, NULL, 0, NULL, 0, NULL, 0);
	if (getenv("VUFRONT_FEATURES")) {
		char *end;
		uint64_t mask = strtoull(getenv("VUFRONT_FEATURES"), &end, 0);

		if (*end)
			die("VUFRONT_FEATURES: not a number");
		want &= mask;
	}
	fe->features = fe->features_offered & want;
	fe->features |= BIT(VU_F_PROTOCOL_FEATURES);
	must_u64(fe, VU_REQ_SET_FEATURES, fe->features);

	memset(&mt, 0, sizeof(mt));
	mt.nregions = 1;
	mt.regions[0].guest_phys_addr = GPA_BASE;
	mt.regions[0].memory_size = MEM_SIZE;
	mt.regions[0].userspace_addr = uva_of(fe, 0);
	mt.regions[0].mmap_offset = 0;
	must(fe, VU_REQ_SET_MEM_TABLE, &mt, mt_size, &fe->memfd, 1, NULL, 0);
}

static void set_vring_addr(struct fe *fe, unsigned s, bool log)
{
	struct vu_wire_vring_addr a = {
		.index = s,
		.flags = log ? VU_VRING_F_LOG : 0,
		.desc_user_addr = uva_of(fe, ring_desc_off[s]),
		.used_user_addr = uva_of(fe, ring_used_off[s]),
		.avail_user_addr = uva_of(fe, ring_avail_off[s]),
		.log_guest_addr = gpa_of(ring_used_off[s]),
	};

	must(fe, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL, 0);
}

static void ring_setup(struct fe *fe, unsigned s)
{
	struct ring *r = &fe->r[s];
	uint64_t v = s;

	memset(fe->mem + ring_desc_off[s], 0, QSZ * sizeof(struct vring_desc));
	memset(fe->mem + ring_avail_off[s], 0, 6 + 2 * QSZ);
	memset(fe->mem + ring_used_off[s], 0, 6 + 8 * QSZ);
	must_state(fe, VU_REQ_SET_VRING_NUM, s, r->num);
	must_state(fe, VU_REQ_SET_VRING_BASE, s, 0);
	set_vring_addr(fe, s, false);
	must(fe, VU_REQ_SET_VRING_KICK, &v, sizeof(v), &r->kick, 1, NULL, 0);
	must(fe, VU_REQ_SET_VRING_CALL, &v, sizeof(v), &r->call, 1, NULL, 0);
}

static void rings_start(struct fe *fe)
{
	ring_setup(fe, RX);
	ring_setup(fe, TX);
	must_state(fe, VU_REQ_SET_VRING_ENABLE, RX, 1);
	must_state(fe, VU_REQ_SET_VRING_ENABLE, TX, 1);
}

static const uint64_t features_wanted = BIT(F_VERSION_1) | BIT(F_MRG_RXBUF) |
	BIT(F_INDIRECT_DESC) | BIT(F_EVENT_IDX) | BIT(F_STATUS);

/* ---- driver side of the rings -------------------------------------------- */

static uint16_t used_idx(const struct ring *r)
{
	return __atomic_load_n(&r->used[1], __ATOMIC_ACQUIRE);
}

static void used_elem(const struct ring *r, uint16_t i, uint32_t *ret_id, uint32_t *ret_len)
{
	const uint32_t *e = (const uint32_t *)((const uint8_t *)r->used + 4 + 8 * (i % r->num));

	*ret_id = __atomic_load_n(&e[0], __ATOMIC_RELAXED);
	*ret_len = __atomic_load_n(&e[1], __ATOMIC_RELAXED);
}

/* Makes head available and tells the device (always kicks: harmless). */
static void ring_post(struct ring *r, uint16_t head)
{
	r->avail[2 + r->avail_idx % r->num] = head;
	r->avail_idx++;
	/* EVENT_IDX: interrupt for anything past what we consumed. */
	r->avail[2 + r->num] = r->last_used;
	__atomic_store_n(&r->avail[1], r->avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void kick(const struct ring *r)
{
	uint64_t one = 1;

	if (write(r->kick, &one, sizeof(one)) < 0)
		die("kick: %s", strerror(errno));
}

static bool drain_call(const struct ring *r)
{
	uint64_t v;

	return read(r->call, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

static void desc_set(struct ring *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(&r->desc[i], &d, sizeof(d));
}

/* Builds test frame number seq of len bytes (len >= 14). */
static void make_frame(uint8_t *f, size_t len, uint32_t seq)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5; /* local experimental ethertype */
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seq * 31 + i * 7);
	if (len >= 18)
		memcpy(f + 14, &seq, 4);
}

/* Puts one frame (with a zero virtio-net header) on TX at head = its slot. */
static void tx_frame(struct fe *fe, const uint8_t *frame, size_t len)
{
	struct ring *r = &fe->r[TX];
	uint16_t head = r->avail_idx % r->num;
	uint64_t off = TXBUF_OFF + (uint64_t)head * TXBUF_SIZE;

	if (len + VNET_HDR > TXBUF_SIZE)
		die("internal: TX frame too large");
	memset(fe->mem + off, 0, VNET_HDR);
	memcpy(fe->mem + off + VNET_HDR, frame, len);
	desc_set(r, head, gpa_of(off), (uint32_t)(len + VNET_HDR), 0, 0);
	r->buflen[head] = (uint32_t)(len + VNET_HDR);
	ring_post(r, head);
	kick(r);
}

/* ---- dirty log ----------------------------------------------------------- */

static void log_create(struct fe *fe, int i, uint64_t cover)
{
	uint64_t pages = (cover + PAGE - 1) / PAGE;
	uint64_t size = ((pages + 7) / 8 + 7) & ~UINT64_C(7);

	fe->logfd[i] = memfd_create("vufront-log", MFD_CLOEXEC);
	if (fe->logfd[i] < 0 || ftruncate(fe->logfd[i], (off_t)size) < 0)
		die("log memfd: %s", strerror(errno));
	fe->log[i] = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fe->logfd[i], 0);
	if (fe->log[i] == MAP_FAILED)
		die("mmap log: %s", strerror(errno));
	fe->log_size[i] = size;
}

/* As QEMU harvests: exchange each word with zero; returns the bits seen. */
static uint64_t log_clear(struct fe *fe, int i)
{
	uint64_t *w = (uint64_t *)fe->log[i], n = 0;

	for (uint64_t k = 0; k < fe->log_size[i] / 8; k++)
		n += (uint64_t)__builtin_popcountll(__atomic_exchange_n(&w[k], 0, __ATOMIC_SEQ_CST));
	return n;
}

static bool log_test(const struct fe *fe, int i, uint64_t gpa)
{
	uint64_t page = gpa / PAGE;

	if (page / 8 >= fe->log_size[i])
		return false;
	return (__atomic_load_n(&fe->log[i][page / 8], __ATOMIC_ACQUIRE) >> (page % 8)) & 1;
}

static void set_log_base(struct fe *fe, int i)
{
	struct vu_wire_log l = { .mmap_size = fe->log_size[i], .mmap_offset = 0 };

	must(fe, VU_REQ_SET_LOG_BASE, &l, sizeof(l), &fe->logfd[i], 1, NULL, 0);
}

/* Migration starts (or restarts) with log i, as QEMU's vhost_dev_set_log(). */
static void logging_on(struct fe *fe, int i)
{
	set_log_base(fe, i);
	must_u64(fe, VU_REQ_SET_FEATURES, fe->features | BIT(VU_F_LOG_ALL));
	set_vring_addr(fe, RX, true);
	set_vring_addr(fe, TX, true);
	fe->cur_log = i;
}

static void logging_off(struct fe *fe)
{
	must_u64(fe, VU_REQ_SET_FEATURES, fe->features);
	set_vring_addr(fe, RX, false);
	set_vring_addr(fe, TX, false);
	fe->cur_log = -1;
}

/*
 * Keeps the connection open until the agent closes it (returns true), ms
 * pass, or the file until (if not NULL) exists: the test creates it once it
 * has looked at the agent.  Bytes the agent sends meanwhile are reported.
 */
static bool hold(struct fe *fe, int ms, const char *until)
{
	int64_t deadline = now_ms() + ms;
	uint8_t buf[256];

	for (;;) {
		struct pollfd p = { .fd = fe->sock, .events = POLLIN };
		ssize_t n;
		int r;

		if (until && access(until, F_OK) == 0)
			return false;
		if (now_ms() >= deadline)
			return false;
		r = poll(&p, 1, 50);
		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		n = recv(fe->sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
		if (n > 0)
			fprintf(stderr, "vufront: agent sent %zd unexpected bytes\n", n);
	}
}

/* ---- log mode ------------------------------------------------------------ */

struct logcheck {
	uint64_t frames, rx_pages, used_pages, missed, bad, stale_log_marks, calls_missing;
	uint64_t as_sent;	/* VUFRONT_AS_SENT: frames that came back unchanged */
	unsigned printed;
	/* --at-stop: per guest page, 1 + the last frame that made the agent
	 * write it (0: none) and what it was; checked after GET_VRING_BASE. */
	uint32_t *defer_frame;
	uint8_t *defer_kind;
};

enum { DK_RX_BUF = 1, DK_USED_RX, DK_USED_TX };

/* --at-stop: remembers that frame wrote guest bytes [gpa, gpa + len). */
static void defer_mark(struct logcheck *lc, uint32_t frame, uint64_t gpa, uint64_t len,
		       uint8_t kind)
{
	if (!lc->defer_frame || !len || gpa < GPA_BASE || gpa + len > GPA_BASE + MEM_SIZE)
		return;
	for (uint64_t p = (gpa - GPA_BASE) / PAGE; p <= (gpa - GPA_BASE + len - 1) / PAGE; p++) {
		lc->defer_frame[p] = frame + 1;
		lc->defer_kind[p] = kind;
	}
}

__attribute__((format(printf, 2, 3)))
static void report(struct logcheck *lc, const char *fmt, ...)
{
	va_list ap;

	if (lc->printed++ >= 40) {
		if (lc->printed == 41)
			fprintf(stderr, "vufront: (more failures not shown)\n");
		return;
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Waits until ring s's used index reaches want and a call came (*called
 * says on entry whether one already came for this wait); false on timeout.
 */
static bool wait_used(struct fe *fe, unsigned s, uint16_t want, bool *ret_called)
{
	struct ring *r = &fe->r[s];
	int64_t deadline = now_ms() + FRAME_TIMEOUT_MS;
	bool called = *ret_called;

	for (;;) {
		struct pollfd p = { .fd = r->call, .events = POLLIN };
		uint16_t u = used_idx(r);

		if (drain_call(r))
			called = true;
		/* Reached (or passed: the caller checks the count). */
		if ((uint16_t)(u - r->last_used) >= (uint16_t)(want - r->last_used) && called) {
			*ret_called = true;
			return true;
		}
		if (now_ms() >= deadline) {
			*ret_called = called;
			return (uint16_t)(u - r->last_used) >= (uint16_t)(want - r->last_used);
		}
		if (poll(&p, 1, 20) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
	}
}

/* Checks the used-ring bytes [off, off + len) of ring s are logged. */
static void check_used_logged(struct fe *fe, struct logcheck *lc, uint32_t frame, unsigned s,
			      uint64_t off, uint64_t len, const char *what)
{
	uint64_t gpa = gpa_of(ring_used_off[s]) + off;

	for (uint64_t p = gpa / PAGE; p <= (gpa + len - 1) / PAGE; p++) {
		lc->used_pages++;
		if (!log_test(fe, fe->cur_log, p * PAGE)) {
			lc->missed++;
			report(lc, "frame %u: %s used ring page gpa 0x%" PRIx64
			       " written (%s) but not in the dirty log", frame,
			       s == RX ? "RX" : "TX", p * PAGE, what);
		}
	}
}

static const uint32_t rx_bufsizes[] = { 2048, 128, 1536, 700, 4096, 64, 3000 };

static void one_frame(struct fe *fe, struct logcheck *lc, uint32_t seq, bool check_log)
{
	struct ring *rx = &fe->r[RX], *tx = &fe->r[TX];
	uint8_t frame[4096], got[4096 + VNET_HDR];
	size_t flen = 60 + (seq * 397u) % (3500 - 60);
	uint32_t bufsz = rx_bufsizes[seq % (sizeof(rx_bufsizes) / sizeof(rx_bufsizes[0]))];
	bool mrg = fe->features & BIT(F_MRG_RXBUF);
	unsigned nbufs, nused;
	uint8_t poison = (uint8_t)(0xa5 ^ seq);
	uint16_t rx_start = rx->last_used, tx_want;
	size_t gotlen = 0;
	bool called = false;

	if (!mrg)
		bufsz = 4096;
	if (bufsz < VNET_HDR + 1)
		bufsz = VNET_HDR + 1;
	nbufs = (unsigned)((flen + VNET_HDR + bufsz - 1) / bufsz);
	if (check_log && fe->cur_log >= 0)
		log_clear(fe, fe->cur_log);

	/* RX buffers: each in its own 8 KiB slot, at an offset that sometimes
	 * straddles a page boundary, the whole slot poisoned. */
	for (unsigned j = 0; j < nbufs; j++) {
		uint16_t head = rx->avail_idx % rx->num;
		uint64_t slot = RXBUF_OFF + (uint64_t)head * RXSLOT_SIZE;
		uint64_t in = ((seq * 7u + j * 3u) % 4u) * 1024u;

		/* Now and then the header alone (or split) at the end of a page:
		 * a header write that is not logged then shows on its own. */
		if (j == 0 && seq % 5 == 3)
			in = PAGE - VNET_HDR;
		else if (j == 0 && seq % 5 == 4)
			in = PAGE - VNET_HDR / 2;
		if (in + bufsz > RXSLOT_SIZE)
			in = RXSLOT_SIZE - bufsz;
		memset(fe->mem + slot, poison, RXSLOT_SIZE);
		desc_set(rx, head, gpa_of(slot + in), bufsz, DESC_F_WRITE, 0);
		rx->buflen[head] = bufsz;
		rx->bufgpa[head] = gpa_of(slot + in);
		ring_post(rx, head);
	}
	kick(rx);

	make_frame(frame, flen, seq);
	tx_want = (uint16_t)(tx->last_used + 1);
	tx_frame(fe, frame, flen);

	lc->frames++;
	if (!wait_used(fe, TX, tx_want, &called)) {
		report(lc, "frame %u: TX used index stuck at %u, want %u", seq, used_idx(tx),
		       tx_want);
		lc->bad++;
		return;
	}
	if (!called) {
		report(lc, "frame %u: TX used index advanced but no call", seq);
		lc->calls_missing++;
	}
	{
		uint16_t u = used_idx(tx);
		uint32_t id, len;

		if ((uint16_t)(u - tx->last_used) != 1) {
			report(lc, "frame %u: TX used index moved by %u, posted 1", seq,
			       (uint16_t)(u - tx->last_used));
			lc->bad++;
		}
		used_elem(tx, tx->last_used, &id, &len);
		if (id >= tx->num || !tx->buflen[id])
			report(lc, "frame %u: TX used id %u was not posted", seq, id), lc->bad++;
		else
			tx->buflen[id] = 0;
		if (check_log && fe->cur_log >= 0) {
			check_used_logged(fe, lc, seq, TX, 4 + 8 * (tx->last_used % tx->num), 8,
					  "used element");
			check_used_logged(fe, lc, seq, TX, 2, 2, "used index");
		}
		defer_mark(lc, seq, gpa_of(ring_used_off[TX]) + 4 + 8 * (tx->last_used % tx->num), 8,
			   DK_USED_TX);
		defer_mark(lc, seq, gpa_of(ring_used_off[TX]) + 2, 2, DK_USED_TX);
		tx->last_used = u;
	}

	/* The frame comes back on RX: how many buffers does it say it used? */
	called = false;
	if (!wait_used(fe, RX, (uint16_t)(rx_start + 1), &called)) {
		report(lc, "frame %u: no frame came back on RX within %d ms (used index %u)", seq,
		       FRAME_TIMEOUT_MS, used_idx(rx));
		lc->bad++;
		return;
	}
	{
		uint32_t id, len;
		uint16_t nb;

		used_elem(rx, rx_start, &id, &len);
		if (id >= rx->num || !rx->buflen[id] || len < VNET_HDR || len > rx->buflen[id]) {
			report(lc, "frame %u: RX used element {id %u, len %u} is not a posted buffer",
			       seq, id, len);
			lc->bad++;
			return;
		}
		memcpy(&nb, fe->mem + (rx->bufgpa[id] - GPA_BASE) + 10, 2);
		nused = mrg ? nb : 1;
		if (nused == 0 || nused > nbufs) {
			report(lc, "frame %u: RX header num_buffers %u, posted %u", seq, nb, nbufs);
			lc->bad++;
			return;
		}
	}
	if (!wait_used(fe, RX, (uint16_t)(rx_start + nused), &called) ||
	    (uint16_t)(used_idx(rx) - rx_start) != nused) {
		report(lc, "frame %u: RX used index %u, want %u", seq, used_idx(rx),
		       (uint16_t)(rx_start + nused));
		lc->bad++;
		return;
	}
	if (!called) {
		report(lc, "frame %u: RX used index advanced but no call", seq);
		lc->calls_missing++;
	}

	for (unsigned k = 0; k < nused; k++) {
		uint16_t ui = (uint16_t)(rx_start + k);
		uint32_t id, len;
		uint64_t gpa, off;

		used_elem(rx, ui, &id, &len);
		if (id >= rx->num || !rx->buflen[id] || len > rx->buflen[id]) {
			report(lc, "frame %u: RX used element %u {id %u, len %u} is not a posted buffer",
			       seq, k, id, len);
			lc->bad++;
			continue;
		}
		gpa = rx->bufgpa[id];
		off = gpa - GPA_BASE;
		if (gotlen + len <= sizeof(got)) {
			memcpy(got + gotlen, fe->mem + off, len);
			gotlen += len;
		}
		/* Bytes past the used length must still be poison. */
		for (uint32_t b = len; b < rx->buflen[id]; b++) {
			if (fe->mem[off + b] != poison) {
				report(lc, "frame %u: RX buffer gpa 0x%" PRIx64 " byte %u written beyond the used length %u",
				       seq, gpa, b, len);
				lc->bad++;
				break;
			}
		}
		if (check_log && fe->cur_log >= 0 && len) {
			for (uint64_t p = gpa / PAGE; p <= (gpa + len - 1) / PAGE; p++) {
				uint64_t lo = p * PAGE > gpa ? p * PAGE : gpa;
				uint64_t hi = (p + 1) * PAGE < gpa + len ? (p + 1) * PAGE : gpa + len;

				lc->rx_pages++;
				if (!log_test(fe, fe->cur_log, p * PAGE)) {
					lc->missed++;
					report(lc, "frame %u: RX buffer page gpa 0x%" PRIx64
					       " written (%" PRIu64 " bytes) but not in the dirty log",
					       seq, p * PAGE, hi - lo);
				}
			}
			check_used_logged(fe, lc, seq, RX, 4 + 8 * (ui % rx->num), 8, "used element");
		}
		defer_mark(lc, seq, gpa, len, DK_RX_BUF);
		defer_mark(lc, seq, gpa_of(ring_used_off[RX]) + 4 + 8 * (ui % rx->num), 8, DK_USED_RX);
		rx->buflen[id] = 0;
	}
	if (check_log && fe->cur_log >= 0)
		check_used_logged(fe, lc, seq, RX, 2, 2, "used index");
	defer_mark(lc, seq, gpa_of(ring_used_off[RX]) + 2, 2, DK_USED_RX);
	rx->last_used = (uint16_t)(rx_start + nused);

	/* The loop endpoint swaps the MACs and changes nothing else. */
	if (gotlen != flen + VNET_HDR) {
		report(lc, "frame %u: received %zu bytes, sent %zu (+%u header)", seq,
		       gotlen - (gotlen >= VNET_HDR ? VNET_HDR : 0), flen, VNET_HDR);
		lc->bad++;
	} else {
		uint8_t want[4096];

		memcpy(want, frame + 6, 6);
		memcpy(want + 6, frame, 6);
		memcpy(want + 12, frame + 12, flen - 12);
		if (memcmp(got + VNET_HDR, want, flen) == 0)
			;
		else if (getenv("VUFRONT_AS_SENT") && memcmp(got + VNET_HDR, frame, flen) == 0)
			lc->as_sent++;
		else {
			report(lc, "frame %u: received frame differs from the one sent", seq);
			lc->bad++;
		}
	}
}

static int mode_log(const char *sock, uint32_t nframes, int hold_s, const char *until,
		    long pause_at)
{
	struct fe fe;
	struct logcheck lc = { 0 };
	uint32_t resize_at = nframes / 2, off_at = nframes * 3 / 4, on_at = nframes * 7 / 8;
	uint64_t stale;

	fe_init(&fe, sock);
	negotiate(&fe, features_wanted);
	rings_start(&fe);
	/* The first log covers guest memory; the "resized" one twice that. */
	log_create(&fe, 0, GPA_BASE + MEM_SIZE);
	log_create(&fe, 1, 2 * (GPA_BASE + MEM_SIZE));
	logging_on(&fe, 0);

	for (uint32_t i = 0; i < nframes; i++) {
		if (i == resize_at && i > 0) {
			/* QEMU resizes: a new SET_LOG_BASE while logging; the old log
			 * must not see another mark once the reply came. */
			set_log_base(&fe, 1);
			log_clear(&fe, 0);
			fe.cur_log = 1;
		} else if (i == off_at && i > resize_at) {
			logging_off(&fe);
		} else if (i == on_at && i > off_at) {
			log_clear(&fe, 1);
			logging_on(&fe, 1);
		}
		if (pause_at >= 0 && i == (uint32_t)pause_at) {
			/* --pause-at: the test changes something under the port here. */
			printf("PAUSED %u\n", i);
			fflush(stdout);
			if (hold(&fe, 120000, until) || access(until, F_OK) != 0)
				die("frame %u: paused, and %s did not appear in 120 s (or the agent hung up)",
				    i, until);
		}
		one_frame(&fe, &lc, i, fe.cur_log >= 0);
		if (i >= resize_at && i > 0) {
			stale = log_clear(&fe, 0);
			if (stale) {
				lc.stale_log_marks += stale;
				report(&lc, "frame %u: %" PRIu64 " marks in the old log after SET_LOG_BASE replaced it",
				       i, stale);
			}
		}
		if (lc.bad > 20)
			break;
	}
	printf("LOGCHECK {\"frames\":%" PRIu64 ",\"rx_pages_checked\":%" PRIu64
	       ",\"used_pages_checked\":%" PRIu64 ",\"missed\":%" PRIu64 ",\"bad\":%" PRIu64
	       ",\"stale_log_marks\":%" PRIu64 ",\"calls_missing\":%" PRIu64
	       ",\"as_sent\":%" PRIu64 "}\n",
	       lc.frames, lc.rx_pages, lc.used_pages, lc.missed, lc.bad, lc.stale_log_marks,
	       lc.calls_missing, lc.as_sent);
	fflush(stdout);
	if (hold_s > 0 && hold(&fe, hold_s * 1000, until))
		fprintf(stderr, "vufront: agent closed the connection while held\n");
	close(fe.sock);
	return lc.missed || lc.bad || lc.stale_log_marks || lc.calls_missing ||
	       lc.frames != nframes ? 1 : 0;
}

/*
 * --at-stop: the log is checked once, after QEMU's switchover stop of both
 * rings (GET_VRING_BASE), not per frame: an accelerator port merges the
 * device's log periodically and finally when a ring stops.
 */
static int mode_log_at_stop(const char *sock, uint32_t nframes)
{
	static const char *const kind_name[] = {
		[DK_RX_BUF] = "RX buffer", [DK_USED_RX] = "RX used ring", [DK_USED_TX] = "TX used ring",
	};
	struct fe fe;
	struct logcheck lc = { 0 };
	uint32_t base[2];

	lc.defer_frame = calloc(MEM_SIZE / PAGE, sizeof(*lc.defer_frame));
	lc.defer_kind = calloc(MEM_SIZE / PAGE, sizeof(*lc.defer_kind));
	if (!lc.defer_frame || !lc.defer_kind)
		die("out of memory");
	fe_init(&fe, sock);
	negotiate(&fe, features_wanted);
	rings_start(&fe);
	log_create(&fe, 0, GPA_BASE + MEM_SIZE);
	logging_on(&fe, 0);
	log_clear(&fe, 0);

	for (uint32_t i = 0; i < nframes && lc.bad <= 20; i++)
		one_frame(&fe, &lc, i, false);

	/* Switchover: QEMU stops each ring; the answer means "no more writes". */
	for (unsigned s = 0; s < 2; s++) {
		struct vu_wire_vring_state st = { .index = s }, rep;

		must(&fe, VU_REQ_GET_VRING_BASE, &st, sizeof(st), NULL, 0, &rep, sizeof(rep));
		if (rep.index != s) {
			report(&lc, "GET_VRING_BASE %u: reply is for ring %u", s, rep.index);
			lc.bad++;
		}
		base[s] = rep.num;
	}
	if (base[TX] != fe.r[TX].avail_idx) {
		report(&lc, "GET_VRING_BASE TX: %u, but all %u TX buffers were used", base[TX],
		       fe.r[TX].avail_idx);
		lc.bad++;
	}

	for (uint64_t p = 0; p < MEM_SIZE / PAGE; p++) {
		uint64_t gpa = GPA_BASE + p * PAGE;

		if (!lc.defer_frame[p])
			continue;
		if (lc.defer_kind[p] == DK_RX_BUF)
			lc.rx_pages++;
		else
			lc.used_pages++;
		if (!log_test(&fe, 0, gpa)) {
			lc.missed++;
			report(&lc, "frame %u: %s page gpa 0x%" PRIx64 " written but not in the dirty log"
			       " after GET_VRING_BASE", lc.defer_frame[p] - 1,
			       kind_name[lc.defer_kind[p]], gpa);
		}
	}
	printf("LOGCHECK {\"at_stop\":true,\"frames\":%" PRIu64 ",\"rx_pages_checked\":%" PRIu64
	       ",\"used_pages_checked\":%" PRIu64 ",\"missed\":%" PRIu64 ",\"bad\":%" PRIu64
	       ",\"calls_missing\":%" PRIu64 ",\"rx_base\":%u,\"tx_base\":%u}\n",
	       lc.frames, lc.rx_pages, lc.used_pages, lc.missed, lc.bad, lc.calls_missing,
	       base[RX], base[TX]);
	fflush(stdout);
	close(fe.sock);
	free(lc.defer_frame);
	free(lc.defer_kind);
	return lc.missed || lc.bad || lc.calls_missing || lc.frames != nframes ? 1 : 0;
}

/* ---- traffic mode -------------------------------------------------------- */

static int mode_traffic(const char *sock, double seconds)
{
	struct fe fe;
	struct ring *rx, *tx;
	uint8_t frame[64];
	uint64_t txn = 0, rxn = 0;
	int64_t start, end;
	uint16_t tx_inflight = 0;

	fe_init(&fe, sock);
	negotiate(&fe, BIT(F_VERSION_1) | BIT(F_MRG_RXBUF));
	rings_start(&fe);
	rx = &fe.r[RX];
	tx = &fe.r[TX];
	/* Fill RX once; refill each buffer as it comes back. */
	for (unsigned h = 0; h < QSZ; h++) {
		uint64_t off = RXBUF_OFF + (uint64_t)h * RXSLOT_SIZE;

		desc_set(rx, (uint16_t)h, gpa_of(off), 2048, DESC_F_WRITE, 0);
		rx->buflen[h] = 2048;
		rx->avail[2 + h] = (uint16_t)h;
	}
	rx->avail_idx = QSZ;
	__atomic_store_n(&rx->avail[1], rx->avail_idx, __ATOMIC_RELEASE);
	kick(rx);
	/* TX descriptors are fixed: head h always holds buffer h. */
	make_frame(frame, sizeof(frame), 0);
	for (unsigned h = 0; h < QSZ; h++) {
		uint64_t off = TXBUF_OFF + (uint64_t)h * TXBUF_SIZE;

		memset(fe.mem + off, 0, VNET_HDR);
		memcpy(fe.mem + off + VNET_HDR, frame, sizeof(frame));
		desc_set(tx, (uint16_t)h, gpa_of(off), VNET_HDR + sizeof(frame), 0, 0);
	}

	start = now_ms();
	end = start + (int64_t)(seconds * 1000);
	while (now_ms() < end) {
		uint16_t u;
		bool progress = false;

		/* Reap TX (in any order: ids come from the used ring). */
		u = used_idx(tx);
		if ((uint16_t)(u - tx->last_used) > tx_inflight)
			die("TX used index jumped by %u with %u in flight",
			    (uint16_t)(u - tx->last_used), tx_inflight);
		while (tx->last_used != u) {
			tx->last_used++;
			tx_inflight--;
			txn++;
			progress = true;
		}
		/* Post as many as fit.  In-flight heads are the last tx_inflight
		 * avail entries; reuse the slot of the oldest completed. */
		while (tx_inflight < QSZ) {
			uint16_t head = tx->avail_idx % QSZ;

			tx->avail[2 + head] = head;
			tx->avail_idx++;
			tx_inflight++;
			progress = true;
		}
		__atomic_store_n(&tx->avail[1], tx->avail_idx, __ATOMIC_RELEASE);
		kick(tx);
		/* Reap and re-post RX. */
		u = used_idx(rx);
		while (rx->last_used != u) {
			uint32_t id, len;

			used_elem(rx, rx->last_used, &id, &len);
			if (id >= QSZ)
				die("RX used id %u out of range", id);
			rx->avail[2 + rx->avail_idx % QSZ] = (uint16_t)id;
			rx->avail_idx++;
			rx->last_used++;
			rxn++;
		}
		__atomic_store_n(&rx->avail[1], rx->avail_idx, __ATOMIC_RELEASE);
		kick(rx);
		if (!progress) {
			struct pollfd p[2] = { { .fd = tx->call, .events = POLLIN },
					       { .fd = rx->call, .events = POLLIN } };

			if (poll(p, 2, 10) < 0 && errno != EINTR)
				die("poll: %s", strerror(errno));
		}
		drain_call(tx);
		drain_call(rx);
	}
	{
		double el = (double)(now_ms() - start) / 1000.0;

		printf("TRAFFIC {\"seconds\":%.2f,\"tx_frames\":%" PRIu64 ",\"rx_frames\":%" PRIu64
		       ",\"tx_pps\":%.0f,\"rx_pps\":%.0f}\n",
		       el, txn, rxn, (double)txn / el, (double)rxn / el);
	}
	close(fe.sock);
	return txn ? 0 : 1;
}

/* ---- hostile mode -------------------------------------------------------- */

static void hostile_raw(struct fe *fe, uint32_t req, uint32_t flags, const void *payload,
			uint32_t size, const int *fds, size_t nfds)
{
	int r = send_msg(fe, req, flags, payload, size, fds, nfds);

	if (r < 0)
		die("sending the hostile %s: %s", req_name(req), strerror(-r));
}

/* Sets the TX ring up and running with a valid first descriptor prepared. */
static void ring_case_setup(struct fe *fe)
{
	negotiate(fe, features_wanted);
	rings_start(fe);
}

/* Makes TX head 0 available with descriptors the caller wrote, then kicks. */
static void tx_post_kick(struct fe *fe, uint16_t head)
{
	ring_post(&fe->r[TX], head);
	kick(&fe->r[TX]);
}

struct hcase {
	const char *name;
	bool ring;              /* keep the connection: the ring is what broke */
	const char *what;
};

static const struct hcase hcases[] = {
	{ "truncated-header", false, "8 of the 12 header bytes, then silence" },
	{ "oversized-size", false, "header size field 1 MiB" },
	{ "wrong-fd-count", false, "SET_VRING_CALL with 2 fds" },
	{ "too-many-fds", false, "GET_FEATURES with 12 fds attached" },
	{ "bad-version", false, "header version bits 2" },
	{ "reply-flag", false, "REPLY flag set on a request" },
	{ "unknown-request", false, "request id 119" },
	{ "mem-overflow", false, "SET_MEM_TABLE region whose gpa + size wraps" },
	{ "mem-beyond-fd", false, "SET_MEM_TABLE region larger than its memfd" },
	{ "ring-size", false, "SET_VRING_NUM 100 (not a power of two)" },
	{ "ring-index", false, "SET_VRING_NUM for ring 7 of 2" },
	{ "vring-addr-outside", true, "SET_VRING_ADDR outside guest memory" },
	{ "mem-shrink", true, "SET_MEM_TABLE without the rings' pages while they run" },
	{ "desc-loop", true, "TX descriptor chain 0 -> 1 -> 0" },
	{ "desc-outside", true, "TX descriptor pointing past guest memory" },
	{ "len-overflow", true, "TX descriptor whose addr + len wraps" },
	{ "next-range", true, "TX descriptor next beyond the ring" },
	{ "avail-jump", true, "TX avail idx ahead by ring size + 5" },
	{ "indirect-badlen", true, "TX indirect table of 24 bytes" },
	{ "indirect-outside", true, "TX indirect table outside guest memory" },
	{ "rx-readable", true, "RX chain without WRITE, then a frame to receive" },
};

static int mode_hostile(const char *sock, const char *name, int hold_s,
			const char *until)
{
	const struct hcase *hc = NULL;
	struct fe fe;
	struct ring *tx;
	uint32_t hdr8[3];
	int efd[12];

	for (size_t i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++)
		if (strcmp(hcases[i].name, name) == 0)
			hc = &hcases[i];
	if (!hc)
		die("unknown case '%s' (vufront hostile --list)", name);
	fe_init(&fe, sock);
	tx = &fe.r[TX];

	if (strcmp(name, "truncated-header") == 0) {
		struct vu_wire_hdr h = { VU_REQ_GET_FEATURES, VU_VERSION, 0 };

		memcpy(hdr8, &h, 8);
		if (send_raw(fe.sock, hdr8, 8, NULL, 0) < 0)
			die("send: %s", strerror(errno));
	} else if (strcmp(name, "oversized-size") == 0) {
		struct vu_wire_hdr h = { VU_REQ_GET_FEATURES, VU_VERSION, 1u << 20 };

		if (send_raw(fe.sock, &h, sizeof(h), NULL, 0) < 0)
			die("send: %s", strerror(errno));
	} else if (strcmp(name, "wrong-fd-count") == 0) {
		uint64_t v = 0;

		negotiate(&fe, features_wanted);
		efd[0] = fe.r[0].call;
		efd[1] = fe.r[1].call;
		hostile_raw(&fe, VU_REQ_SET_VRING_CALL, VU_VERSION | VU_FLAG_NEED_REPLY, &v,
			    sizeof(v), efd, 2);
	} else if (strcmp(name, "too-many-fds") == 0) {
		for (int i = 0; i < 12; i++)
			efd[i] = fe.r[0].kick;
		hostile_raw(&fe, VU_REQ_GET_FEATURES, VU_VERSION, NULL, 0, efd, 12);
	} else if (strcmp(name, "bad-version") == 0) {
		hostile_raw(&fe, VU_REQ_GET_FEATURES, 0x2, NULL, 0, NULL, 0);
	} else if (strcmp(name, "reply-flag") == 0) {
		hostile_raw(&fe, VU_REQ_GET_FEATURES, VU_VERSION | VU_FLAG_REPLY, NULL, 0, NULL, 0);
	} else if (strcmp(name, "unknown-request") == 0) {
		hostile_raw(&fe, 119, VU_VERSION, NULL, 0, NULL, 0);
	} else if (strcmp(name, "mem-overflow") == 0 || strcmp(name, "mem-beyond-fd") == 0) {
		struct vu_wire_mem_table mt;
		bool wrap = strcmp(name, "mem-overflow") == 0;

		negotiate(&fe, features_wanted);
		memset(&mt, 0, sizeof(mt));
		mt.nregions = 1;
		mt.regions[0].guest_phys_addr = wrap ? UINT64_C(0xffffffffff800000) : GPA_BASE;
		mt.regions[0].memory_size = wrap ? MEM_SIZE : 4 * (uint64_t)MEM_SIZE;
		mt.regions[0].userspace_addr = uva_of(&fe, 0);
		hostile_raw(&fe, VU_REQ_SET_MEM_TABLE, VU_VERSION | VU_FLAG_NEED_REPLY, &mt,
			    offsetof(struct vu_wire_mem_table, regions) +
				    sizeof(struct vu_wire_mem_region),
			    &fe.memfd, 1);
	} else if (strcmp(name, "ring-size") == 0 || strcmp(name, "ring-index") == 0) {
		bool size = strcmp(name, "ring-size") == 0;
		struct vu_wire_vring_state s = { .index = size ? 0 : 7, .num = size ? 100 : 256 };

		negotiate(&fe, features_wanted);
		hostile_raw(&fe, VU_REQ_SET_VRING_NUM, VU_VERSION | VU_FLAG_NEED_REPLY, &s,
			    sizeof(s), NULL, 0);
	} else if (strcmp(name, "vring-addr-outside") == 0) {
		struct vu_wire_vring_addr a = {
			.index = TX,
			.desc_user_addr = uva_of(&fe, 0) + 2 * (uint64_t)MEM_SIZE,
			.used_user_addr = uva_of(&fe, ring_used_off[TX]),
			.avail_user_addr = uva_of(&fe, ring_avail_off[TX]),
			.log_guest_addr = gpa_of(ring_used_off[TX]),
		};
		uint64_t v = TX;
		int r;

		negotiate(&fe, features_wanted);
		must_state(&fe, VU_REQ_SET_VRING_NUM, TX, QSZ);
		must_state(&fe, VU_REQ_SET_VRING_BASE, TX, 0);
		/* Accepted or not, the ring must not start on these addresses. */
		r = request(&fe, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL, 0);
		fprintf(stderr, "vufront: SET_VRING_ADDR outside memory: %s\n",
			r == 0 ? "acked" : r > 0 ? "NAKed" : strerror(-r));
		if (r == 0) {
			r = request(&fe, VU_REQ_SET_VRING_KICK, &v, sizeof(v), &tx->kick, 1, NULL, 0);
			if (r == 0)
				r = request(&fe, VU_REQ_SET_VRING_CALL, &v, sizeof(v), &tx->call, 1,
					    NULL, 0);
			if (r == 0) {
				struct vu_wire_vring_state s = { .index = TX, .num = 1 };

				r = request(&fe, VU_REQ_SET_VRING_ENABLE, &s, sizeof(s), NULL, 0,
					    NULL, 0);
				fprintf(stderr, "vufront: SET_VRING_ENABLE on it: %s\n",
					r == 0 ? "acked" : r > 0 ? "NAKed" : strerror(-r));
			}
		}
	} else if (strcmp(name, "mem-shrink") == 0) {
		struct vu_wire_mem_table mt;
		int r;

		/* Running rings, then a table that no longer holds them. */
		ring_case_setup(&fe);
		memset(&mt, 0, sizeof(mt));
		mt.nregions = 1;
		mt.regions[0].guest_phys_addr = GPA_BASE + TXBUF_OFF;
		mt.regions[0].memory_size = MEM_SIZE - TXBUF_OFF;
		mt.regions[0].userspace_addr = uva_of(&fe, TXBUF_OFF);
		mt.regions[0].mmap_offset = TXBUF_OFF;
		r = request(&fe, VU_REQ_SET_MEM_TABLE, &mt,
			    offsetof(struct vu_wire_mem_table, regions) +
				    sizeof(struct vu_wire_mem_region), &fe.memfd, 1, NULL, 0);
		fprintf(stderr, "vufront: SET_MEM_TABLE without the rings: %s\n",
			r == 0 ? "acked" : r > 0 ? "NAKed" : strerror(-r));
		if (r >= 0) {
			/* A kick on the orphaned ring must not make the agent touch it. */
			kick(tx);
			kick(&fe.r[RX]);
		}
	} else {
		/* Ring cases: a running, well set-up device first. */
		uint64_t buf = gpa_of(TXBUF_OFF);

		ring_case_setup(&fe);
		memset(fe.mem + TXBUF_OFF, 0, 2 * PAGE);
		if (strcmp(name, "desc-loop") == 0) {
			desc_set(tx, 0, buf, 64, DESC_F_NEXT, 1);
			desc_set(tx, 1, buf + 64, 64, DESC_F_NEXT, 0);
			tx_post_kick(&fe, 0);
		} else if (strcmp(name, "desc-outside") == 0) {
			desc_set(tx, 0, GPA_BASE + 2 * (uint64_t)MEM_SIZE, 128, 0, 0);
			tx_post_kick(&fe, 0);
		} else if (strcmp(name, "len-overflow") == 0) {
			desc_set(tx, 0, UINT64_C(0xfffffffffffff000), 0x2000, 0, 0);
			tx_post_kick(&fe, 0);
		} else if (strcmp(name, "next-range") == 0) {
			desc_set(tx, 0, buf, 64, DESC_F_NEXT, 40000);
			tx_post_kick(&fe, 0);
		} else if (strcmp(name, "avail-jump") == 0) {
			desc_set(tx, 0, buf, 64, 0, 0);
			tx->avail[2] = 0;
			tx->avail_idx = (uint16_t)(QSZ + 5);
			__atomic_store_n(&tx->avail[1], tx->avail_idx, __ATOMIC_RELEASE);
			kick(tx);
		} else if (strcmp(name, "indirect-badlen") == 0 ||
			   strcmp(name, "indirect-outside") == 0) {
			bool badlen = strcmp(name, "indirect-badlen") == 0;
			struct vring_desc *it = (struct vring_desc *)(fe.mem + INDIRECT_OFF);

			if (!(fe.features & BIT(F_INDIRECT_DESC)))
				die("agent did not offer INDIRECT_DESC: case not deliverable");
			desc_set(tx, 0, badlen ? gpa_of(INDIRECT_OFF) : GPA_BASE + 3 * (uint64_t)MEM_SIZE,
				 badlen ? 24 : 32, DESC_F_INDIRECT, 0);
			memset(it, 0, 2 * sizeof(*it));
			it[0].addr = buf;
			it[0].len = 64;
			tx_post_kick(&fe, 0);
		} else if (strcmp(name, "rx-readable") == 0) {
			struct ring *rx = &fe.r[RX];
			uint8_t frame[64];
			bool called = false;

			desc_set(rx, 0, gpa_of(RXBUF_OFF), 2048, 0 /* no WRITE */, 0);
			ring_post(rx, 0);
			kick(rx);
			make_frame(frame, sizeof(frame), 1);
			tx_frame(&fe, frame, sizeof(frame));
			/* The sibling TX ring must keep running after RX broke. */
			if (!wait_used(&fe, TX, 1, &called))
				die("rx-readable: TX did not complete the frame");
			tx->last_used = 1;
			usleep(200 * 1000);
			called = false;
			tx_frame(&fe, frame, sizeof(frame));
			if (!wait_used(&fe, TX, 2, &called)) {
				fprintf(stderr, "vufront: TX stopped after RX broke\n");
				printf("HOSTILE {\"case\":\"%s\",\"delivered\":true,\"sibling_ok\":false}\n",
				       name);
				return 1;
			}
			fprintf(stderr, "vufront: TX still runs after RX broke\n");
		}
	}

	printf("HOSTILE {\"case\":\"%s\",\"delivered\":true}\n", name);
	fflush(stdout);
	if (hc->ring) {
		/* Hold the connection so the test can look at the broken ring. */
		bool closed = hold(&fe, hold_s * 1000, until);

		fprintf(stderr, "vufront: %s\n", closed ? "agent closed the connection" :
			"hold over, closing");
	} else {
		/* The agent hangs up on a refused message; a half-sent one it keeps
		 * buffered (without waiting on it) until we close. */
		bool closed = hold(&fe, 5000, NULL);

		fprintf(stderr, "vufront: %s\n", closed ? "agent closed the connection" :
			"agent kept the connection open for 5 s");
	}
	close(fe.sock);
	return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vufront log SOCK [--frames N] [--hold SECONDS [--until FILE]]\n"
		"       vufront log SOCK [--frames N] --pause-at K --until FILE\n"
		"       vufront log SOCK [--frames N] --at-stop\n"
		"       vufront hostile SOCK CASE [--hold SECONDS] [--until FILE]\n"
		"       vufront hostile --list\n"
		"       vufront traffic SOCK [--seconds S]\n");
}

static long num_arg(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "vufront: bad number '%s' (%ld..%ld)\n", s, lo, hi);
		exit(64);
	}
	return v;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "hostile") == 0 && strcmp(argv[2], "--list") == 0) {
		for (size_t i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++)
			printf("%-20s %s %s\n", hcases[i].name, hcases[i].ring ? "ring " : "proto",
			       hcases[i].what);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return 64;
	}
	if (strcmp(argv[1], "log") == 0) {
		long frames = 2000, hold_s = 0, pause_at = -1;
		const char *until = NULL;
		bool at_stop = false;

		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc)
				frames = num_arg(argv[++i], 1, 10000000);
			else if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc)
				hold_s = num_arg(argv[++i], 0, 3600);
			else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc)
				until = argv[++i];
			else if (strcmp(argv[i], "--at-stop") == 0)
				at_stop = true;
			else if (strcmp(argv[i], "--pause-at") == 0 && i + 1 < argc)
				pause_at = num_arg(argv[++i], 0, 10000000);
			else {
				usage(stderr);
				return 64;
			}
		}
		if (at_stop) {
			if (hold_s || until) {
				usage(stderr);
				return 64;
			}
			return mode_log_at_stop(argv[2], (uint32_t)frames);
		}
		if (pause_at >= 0 && (!until || hold_s)) {
			usage(stderr);
			return 64;
		}
		return mode_log(argv[2], (uint32_t)frames, pause_at >= 0 ? 0 : (int)hold_s, until,
				pause_at);
	}
	if (strcmp(argv[1], "hostile") == 0) {
		long hold_s = 10;
		const char *until = NULL;

		if (argc < 4) {
			usage(stderr);
			return 64;
		}
		for (int i = 4; i < argc; i++) {
			if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc)
				hold_s = num_arg(argv[++i], 0, 3600);
			else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc)
				until = argv[++i];
			else {
				usage(stderr);
				return 64;
			}
		}
		return mode_hostile(argv[2], argv[3], (int)hold_s, until);
	}
	if (strcmp(argv[1], "traffic") == 0) {
		long secs = 5;

		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
				secs = num_arg(argv[++i], 1, 3600);
			else {
				usage(stderr);
				return 64;
			}
		}
		return mode_traffic(argv[2], (double)secs);
	}
	usage(stderr);
	return 64;
}
