/*
 * Unit tests for agent/daemon/port.c: a real port (endpoint=null) on a real
 * loop, its vhost-user socket in a temporary directory, driven by the test
 * as QEMU drives it: negotiation, SET_MEM_TABLE (a memfd the test also
 * maps, to play the guest), two rings, LOG_ALL with a log memfd, a frame on
 * the transmit ring, then the stop by GET_VRING_BASE that a migration's
 * switchover is.  What is asserted is what port-show reports
 * (port_detail_json): state, engine, rings and the migration bookkeeping.
 *
 * The test steps the port's loop itself while it waits for a reply; the
 * software engine's workers are its own threads.  Every wait has a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/common/log.h"
#include "agent/daemon/loop.h"
#include "agent/daemon/port.h"
#include "agent/daemon/vu_dev.h"
#include "protocol/vhost_user.h"
#include "tests/helpers/testhelp.h"

#define WAIT_MS 3000
#define MEM_SIZE (1u << 20)
#define MEM_UVA UINT64_C(0x7f0000000000)	/* the front end's address of gpa 0 */
#define RING_SIZE 256
#define LOG_SIZE 4096

/* Ring r's parts, as guest physical addresses. */
#define DESC(r) (UINT64_C(0x10000) * ((r) + 1))
#define AVAIL(r) (DESC(r) + 0x2000)
#define USED(r) (DESC(r) + 0x3000)
#define BUF(r) (UINT64_C(0x80000) + UINT64_C(0x10000) * (r))

struct fixture {
	char dir[64];
	char sock[100];
	struct loop *loop;
	struct port *port;
	struct port_config cfg;
	int fe;			/* the front end's end of the socket */
	int memfd;
	uint8_t *mem;		/* the guest's memory, as the test sees it */
	int logfd;
	uint8_t *log;		/* QEMU's dirty log */
	int kick[2], call[2];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fe_connect(struct fixture *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* The port accepts on its loop. */
	for (int i = 0; i < 3; i++)
		assert_true(loop_iterate(f->loop, 10) >= 0);
	return fd;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char spec[256], err[CONFIG_ERR_MAX] = "";

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vdpa-port-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/p0.sock", f->dir);
	assert_int_equal(loop_new(&f->loop), 0);
	snprintf(spec, sizeof(spec), "name=p0,socket=%s,endpoint=null", f->sock);
	assert_int_equal(port_spec_parse(spec, &f->cfg, err, sizeof(err)), 0);
	assert_int_equal(port_new(f->loop, &f->cfg, PORT_FROM_CLI, &f->port, err, sizeof(err)), 0);
	f->memfd = th_memfd("guest", MEM_SIZE);
	assert_true(f->memfd >= 0);
	f->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->mem != MAP_FAILED);
	f->logfd = th_memfd("log", LOG_SIZE);
	assert_true(f->logfd >= 0);
	f->log = mmap(NULL, LOG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->logfd, 0);
	assert_true(f->log != MAP_FAILED);
	for (int r = 0; r < 2; r++) {
		f->kick[r] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f->call[r] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(f->kick[r] >= 0 && f->call[r] >= 0);
	}
	f->fe = fe_connect(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->fe >= 0)
		close(f->fe);
	port_free(f->port);
	loop_free(f->loop);
	munmap(f->mem, MEM_SIZE);
	munmap(f->log, LOG_SIZE);
	close(f->memfd);
	close(f->logfd);
	for (int r = 0; r < 2; r++) {
		close(f->kick[r]);
		close(f->call[r]);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- the front end's side of the wire ------------------------------- */

static void fe_send(struct fixture *f, uint32_t req, uint32_t flags, const void *payload,
		    uint32_t size, const int *fds, size_t nfds)
{
	struct vu_wire_hdr h = { .request = req, .flags = VU_VERSION | flags, .size = size };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)(uintptr_t)payload, size } };
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	ssize_t n;

	if (nfds) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	n = sendmsg(f->fe, &mh, MSG_NOSIGNAL);
	assert_int_equal(n, (ssize_t)(sizeof(h) + size));
}

/*
 * Receives one message from the port, stepping its loop meanwhile; false
 * when the port closed the connection.  Never waits past WAIT_MS.
 */
static bool fe_recv(struct fixture *f, struct vu_wire_hdr *h, void *payload, size_t max)
{
	int64_t deadline = now_ms() + WAIT_MS;
	uint8_t buf[sizeof(*h) + 256];
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = f->fe, .events = POLLIN };
		ssize_t n;

		assert_true(now_ms() < deadline);
		if (poll(&pfd, 1, 0) <= 0) {
			assert_true(loop_iterate(f->loop, 10) >= 0);
			continue;
		}
		n = recv(f->fe, buf + len, sizeof(buf) - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			assert_int_equal(len, 0);
			return false;
		}
		len += (size_t)n;
		if (len < sizeof(*h))
			continue;
		memcpy(h, buf, sizeof(*h));
		assert_true(h->size <= max && h->size <= sizeof(buf) - sizeof(*h));
		if (len < sizeof(*h) + h->size)
			continue;
		assert_int_equal(len, sizeof(*h) + h->size);	/* one reply per request */
		memcpy(payload, buf + sizeof(*h), h->size);
		return true;
	}
}

/* A request with its own reply (GET_*): the u64 or vring state it carries. */
static void fe_get(struct fixture *f, uint32_t req, const void *payload, uint32_t size,
		   void *out, uint32_t out_size)
{
	struct vu_wire_hdr h;

	fe_send(f, req, 0, payload, size, NULL, 0);
	assert_true(fe_recv(f, &h, out, out_size));
	assert_int_equal(h.request, req);
	assert_true(h.flags & VU_FLAG_REPLY);
	assert_int_equal(h.size, out_size);
}

static uint64_t fe_get_u64(struct fixture *f, uint32_t req)
{
	uint64_t v = 0;

	fe_get(f, req, NULL, 0, &v, sizeof(v));
	return v;
}

/* A request sent with NEED_REPLY (REPLY_ACK negotiated): its ack's status. */
static uint64_t fe_ack(struct fixture *f, uint32_t req, const void *payload, uint32_t size,
		       const int *fds, size_t nfds)
{
	struct vu_wire_hdr h;
	uint64_t status = UINT64_MAX;

	fe_send(f, req, VU_FLAG_NEED_REPLY, payload, size, fds, nfds);
	assert_true(fe_recv(f, &h, &status, sizeof(status)));
	assert_int_equal(h.request, req);
	assert_int_equal(h.size, sizeof(status));
	return status;
}

static void fe_ack_u64(struct fixture *f, uint32_t req, uint64_t v)
{
	assert_int_equal(fe_ack(f, req, &v, sizeof(v), NULL, 0), 0);
}

static void fe_ack_state(struct fixture *f, uint32_t req, uint32_t index, uint32_t num)
{
	struct vu_wire_vring_state s = { index, num };

	assert_int_equal(fe_ack(f, req, &s, sizeof(s), NULL, 0), 0);
}

#define FEATURES (VU_BIT(VIRTIO_F_VERSION_1) | VU_BIT(VU_F_PROTOCOL_FEATURES) | \
		  VU_BIT(VIRTIO_NET_F_MRG_RXBUF))
#define PFEATURES (VU_PF(VU_PROTO_F_MQ) | VU_PF(VU_PROTO_F_LOG_SHMFD) | \
		   VU_PF(VU_PROTO_F_REPLY_ACK))

/* QEMU's opening: features, protocol features (REPLY_ACK from then on), owner. */
static void negotiate(struct fixture *f)
{
	uint64_t v;

	v = fe_get_u64(f, VU_REQ_GET_FEATURES);
	assert_int_equal(v, port_offered_features(&f->cfg));
	v = FEATURES;
	fe_send(f, VU_REQ_SET_FEATURES, 0, &v, sizeof(v), NULL, 0);
	v = fe_get_u64(f, VU_REQ_GET_PROTOCOL_FEATURES);
	assert_int_equal(v, port_offered_protocol_features(&f->cfg));
	v = PFEATURES;
	/* The ack rule is what was negotiated before: no ack for this one. */
	fe_send(f, VU_REQ_SET_PROTOCOL_FEATURES, 0, &v, sizeof(v), NULL, 0);
	assert_int_equal(fe_ack(f, VU_REQ_SET_OWNER, NULL, 0, NULL, 0), 0);
}

static void set_mem_table(struct fixture *f)
{
	struct {
		uint32_t nregions, padding;
		struct vu_wire_mem_region r;
	} __attribute__((packed)) mt = { 1, 0, { 0, MEM_SIZE, MEM_UVA, 0 } };

	assert_int_equal(fe_ack(f, VU_REQ_SET_MEM_TABLE, &mt, sizeof(mt), &f->memfd, 1), 0);
}

/* A ring from its size to its enable, used-ring logging on. */
static void ring_up(struct fixture *f, uint32_t r, uint32_t base)
{
	struct vu_wire_vring_addr a = {
		.index = r, .flags = VU_VRING_F_LOG,
		.desc_user_addr = MEM_UVA + DESC(r),
		.used_user_addr = MEM_UVA + USED(r),
		.avail_user_addr = MEM_UVA + AVAIL(r),
		.log_guest_addr = USED(r),
	};
	uint64_t u;

	/* A guest that stopped at base: nothing posted past it (not a broken ring). */
	__atomic_store_n((uint16_t *)(f->mem + AVAIL(r) + 2), (uint16_t)base, __ATOMIC_RELEASE);
	__atomic_store_n((uint16_t *)(f->mem + USED(r) + 2), (uint16_t)base, __ATOMIC_RELEASE);
	fe_ack_state(f, VU_REQ_SET_VRING_NUM, r, RING_SIZE);
	assert_int_equal(fe_ack(f, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	fe_ack_state(f, VU_REQ_SET_VRING_BASE, r, base);
	u = r;
	assert_int_equal(fe_ack(f, VU_REQ_SET_VRING_CALL, &u, sizeof(u), &f->call[r], 1), 0);
	assert_int_equal(fe_ack(f, VU_REQ_SET_VRING_KICK, &u, sizeof(u), &f->kick[r], 1), 0);
	fe_ack_state(f, VU_REQ_SET_VRING_ENABLE, r, 1);
}

/* GET_VRING_BASE: the next avail index the port hands over. */
static uint32_t ring_stop(struct fixture *f, uint32_t r)
{
	struct vu_wire_vring_state s = { r, 0 }, out = { 0, 0 };

	fe_get(f, VU_REQ_GET_VRING_BASE, &s, sizeof(s), &out, sizeof(out));
	assert_int_equal(out.index, r);
	return out.num;
}

/* QEMU starts a migration: LOG_ALL, then the log to write into. */
static void log_on(struct fixture *f)
{
	struct vu_wire_log l = { LOG_SIZE, 0 };
	struct vu_wire_hdr h;
	uint8_t body[16];

	fe_ack_u64(f, VU_REQ_SET_FEATURES, FEATURES | VU_BIT(VU_F_LOG_ALL));
	/* With LOG_SHMFD, SET_LOG_BASE has a reply of its own. */
	fe_send(f, VU_REQ_SET_LOG_BASE, 0, &l, sizeof(l), &f->logfd, 1);
	assert_true(fe_recv(f, &h, body, sizeof(body)));
	assert_int_equal(h.request, VU_REQ_SET_LOG_BASE);
}

/* The guest transmits one frame on ring r (odd: guest to host) and kicks. */
static void guest_tx(struct fixture *f, unsigned r, uint16_t head, uint16_t avail_idx)
{
	struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;
	} __attribute__((packed)) d = { BUF(r), 12 + 60, 0, 0 };
	uint64_t one = 1;
	uint16_t *avail = (uint16_t *)(f->mem + AVAIL(r));

	memset(f->mem + BUF(r), 0, 12);		/* virtio-net header */
	memset(f->mem + BUF(r) + 12, 0xab, 60);	/* the frame */
	memcpy(f->mem + DESC(r) + 16u * head, &d, sizeof(d));
	avail[2 + (avail_idx % RING_SIZE)] = head;
	__atomic_store_n(&avail[1], (uint16_t)(avail_idx + 1), __ATOMIC_RELEASE);
	assert_int_equal(write(f->kick[r], &one, sizeof(one)), (ssize_t)sizeof(one));
}

static uint16_t used_idx(struct fixture *f, unsigned r)
{
	return __atomic_load_n((uint16_t *)(f->mem + USED(r) + 2), __ATOMIC_ACQUIRE);
}

static bool log_page_marked(struct fixture *f, uint64_t gpa)
{
	uint64_t page = gpa >> 12;

	return (__atomic_load_n(&f->log[page / 8], __ATOMIC_ACQUIRE) >> (page % 8)) & 1;
}

/* ---- what port-show says --------------------------------------------- */

static struct json_object *show(struct fixture *f)
{
	return port_detail_json(f->port);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("port-show has no \"%s\": %s", key, json_object_to_json_string(o));
	return v;
}

static const char *sget(struct json_object *o, const char *key)
{
	return json_object_get_string(get(o, key));
}

static bool bget(struct json_object *o, const char *key)
{
	return json_object_get_boolean(get(o, key));
}

static int64_t iget(struct json_object *o, const char *key)
{
	return json_object_get_int64(get(o, key));
}

/* handed_over as "ring:next_avail,..." to compare in one assertion. */
static void handed_over(struct json_object *p, char *buf, size_t len)
{
	struct json_object *arr = get(get(p, "migration"), "handed_over");
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *h = json_object_array_get_idx(arr, i);

		off += (size_t)snprintf(buf + off, len - off, "%s%lld:%lld", i ? "," : "",
					(long long)iget(h, "ring"), (long long)iget(h, "next_avail"));
	}
}

static struct json_object *ring(struct json_object *p, size_t i)
{
	struct json_object *rings = get(p, "rings");

	assert_true(json_object_array_length(rings) > i);
	return json_object_array_get_idx(rings, i);
}

/* ---- tests -------------------------------------------------------------- */

static void test_listening_port(void **state)
{
	struct fixture *f = *state;
	struct json_object *p;

	close(f->fe);
	f->fe = -1;
	for (int i = 0; i < 5; i++)
		assert_true(loop_iterate(f->loop, 10) >= 0);
	p = show(f);
	assert_string_equal(sget(p, "state"), "listening");
	assert_string_equal(sget(p, "engine"), "none");
	assert_string_equal(sget(p, "endpoint"), "null");
	assert_false(bget(get(p, "migration"), "quiesced"));
	assert_false(bget(get(p, "migration"), "final_harvest"));
	assert_int_equal(json_object_array_length(get(p, "rings")), 0);
	assert_int_equal(iget(p, "connections"), 1);
	json_object_put(p);
}

static void test_negotiated_and_connected(void **state)
{
	struct fixture *f = *state;
	struct json_object *p;
	char hex[32];

	negotiate(f);
	p = show(f);
	assert_string_equal(sget(p, "state"), "connected");
	assert_string_equal(sget(p, "engine"), "sw");
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)FEATURES);
	assert_string_equal(sget(p, "features"), hex);
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)PFEATURES);
	assert_string_equal(sget(p, "protocol_features"), hex);
	assert_false(bget(p, "log_all"));
	/* Nothing ran yet: not quiesced, nothing handed over. */
	assert_false(bget(get(p, "migration"), "quiesced"));
	assert_int_equal(json_object_array_length(get(get(p, "migration"), "handed_over")), 0);
	json_object_put(p);
}

/*
 * The switchover as a migration's source sees it: rings running with QEMU
 * logging, a frame moved, then GET_VRING_BASE of each ring.
 */
static void test_switchover_bookkeeping(void **state)
{
	struct fixture *f = *state;
	struct json_object *p;
	char ho[64];
	int64_t deadline;

	negotiate(f);
	set_mem_table(f);
	ring_up(f, 0, 0);
	ring_up(f, 1, 0);
	p = show(f);
	assert_string_equal(sget(p, "state"), "running");
	assert_true(bget(ring(p, 0), "started"));
	assert_true(bget(ring(p, 1), "started"));
	assert_int_equal(iget(ring(p, 1), "size"), RING_SIZE);
	assert_int_equal(iget(ring(p, 1), "started_at"), 0);
	assert_false(bget(get(p, "migration"), "quiesced"));
	assert_false(bget(get(p, "migration"), "final_harvest"));
	json_object_put(p);

	log_on(f);
	p = show(f);
	assert_true(bget(p, "log_all"));
	json_object_put(p);

	/* One frame out of the guest: the used ring is written, and logged. */
	guest_tx(f, 1, 0, 0);
	deadline = now_ms() + WAIT_MS;
	while (used_idx(f, 1) != 1) {
		assert_true(now_ms() < deadline);
		assert_true(loop_iterate(f->loop, 5) >= 0);
	}
	assert_true(log_page_marked(f, USED(1)));

	/* The first ring stops: handed over, but not quiesced yet. */
	assert_int_equal(ring_stop(f, 0), 0);
	p = show(f);
	assert_string_equal(sget(p, "state"), "running");
	assert_false(bget(get(p, "migration"), "quiesced"));
	assert_false(bget(get(p, "migration"), "final_harvest"));
	handed_over(p, ho, sizeof(ho));
	assert_string_equal(ho, "0:0");
	json_object_put(p);

	/* The last: it hands over past the frame, and the port is quiesced. */
	assert_int_equal(ring_stop(f, 1), 1);
	p = show(f);
	assert_string_equal(sget(p, "state"), "connected");
	assert_string_equal(sget(p, "engine"), "sw");
	assert_true(bget(get(p, "migration"), "quiesced"));
	/* The software path marks before it publishes: its harvest is final. */
	assert_true(bget(get(p, "migration"), "final_harvest"));
	handed_over(p, ho, sizeof(ho));
	assert_string_equal(ho, "0:0,1:1");
	assert_false(bget(ring(p, 1), "started"));
	assert_int_equal(iget(ring(p, 1), "next_avail"), 1);
	assert_int_equal(iget(p, "log_errors"), 0);
	json_object_put(p);

	/* A SET_VRING_BASE makes ring 0's hand-over history: no longer quiesced. */
	fe_ack_state(f, VU_REQ_SET_VRING_BASE, 0, 0);
	p = show(f);
	assert_false(bget(get(p, "migration"), "quiesced"));
	handed_over(p, ho, sizeof(ho));
	assert_string_equal(ho, "1:1");
	json_object_put(p);
}

/* A ring started again after its hand-over: not quiesced, not handed over. */
static void test_restart_after_handover(void **state)
{
	struct fixture *f = *state;
	struct json_object *p;
	char ho[64];

	negotiate(f);
	set_mem_table(f);
	ring_up(f, 0, 7);
	assert_int_equal(ring_stop(f, 0), 7);
	p = show(f);
	assert_true(bget(get(p, "migration"), "quiesced"));
	handed_over(p, ho, sizeof(ho));
	assert_string_equal(ho, "0:7");
	json_object_put(p);

	ring_up(f, 0, 7);
	p = show(f);
	assert_string_equal(sget(p, "state"), "running");
	assert_false(bget(get(p, "migration"), "quiesced"));
	assert_int_equal(iget(ring(p, 0), "started_at"), 7);
	handed_over(p, ho, sizeof(ho));
	assert_string_equal(ho, "");
	json_object_put(p);
}

/* The front end goes: the port listens again and a new one starts clean. */
static void test_reconnect_clears_the_bookkeeping(void **state)
{
	struct fixture *f = *state;
	struct json_object *p;
	char ho[64];

	negotiate(f);
	set_mem_table(f);
	ring_up(f, 0, 3);
	assert_int_equal(ring_stop(f, 0), 3);
	close(f->fe);
	f->fe = -1;
	for (int i = 0; i < 5; i++)
		assert_true(loop_iterate(f->loop, 10) >= 0);
	p = show(f);
	assert_string_equal(sget(p, "state"), "listening");
	assert_false(bget(get(p, "migration"), "quiesced"));
	handed_over(p, ho, sizeof(ho));
	assert_string_equal(ho, "");
	json_object_put(p);

	f->fe = fe_connect(f);
	negotiate(f);
	p = show(f);
	assert_string_equal(sget(p, "state"), "connected");
	assert_int_equal(iget(p, "connections"), 2);
	assert_false(bget(get(p, "migration"), "quiesced"));
	handed_over(p, ho, sizeof(ho));
	assert_string_equal(ho, "");
	json_object_put(p);
}

/* A message refused by the table ends the connection, not the port. */
static void test_refused_message_disconnects(void **state)
{
	struct fixture *f = *state;
	struct vu_wire_vring_state s = { 0, RING_SIZE };
	struct vu_wire_hdr h;
	uint64_t body;
	struct json_object *p;

	/* SET_VRING_NUM before SET_OWNER: not allowed in that state. */
	fe_send(f, VU_REQ_SET_VRING_NUM, 0, &s, sizeof(s), NULL, 0);
	assert_false(fe_recv(f, &h, &body, sizeof(body)));
	p = show(f);
	assert_string_equal(sget(p, "state"), "listening");
	json_object_put(p);
	close(f->fe);
	f->fe = fe_connect(f);
	negotiate(f);
	p = show(f);
	assert_string_equal(sget(p, "state"), "connected");
	json_object_put(p);
}

/*
 * At debug level each request gets a line once answered, with the wall
 * clock it came at (the clock of QEMU's trace with -msg timestamp=on) and
 * the time it took; a ring's request names its ring.  At info, none.
 */
static void test_debug_lines_carry_the_wall_clock(void **state)
{
	struct fixture *f = *state;
	unsigned long long before, after, sec, usec, us;
	int fd = th_memfd("stderr", 0), saved = dup(STDERR_FILENO);
	char buf[16384], head[64];
	const char *l;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, STDERR_FILENO);
	log_set_journal(false);
	log_set_level(LOG_LVL_INFO);
	(void)fe_get_u64(f, VU_REQ_GET_FEATURES);
	log_set_level(LOG_LVL_DEBUG);
	before = log_wall_us();
	negotiate(f);
	set_mem_table(f);
	ring_up(f, 1, 0);
	after = log_wall_us();
	log_set_level(LOG_LVL_INFO);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';

	/* The GET_FEATURES at info level left no line: one, negotiate()'s. */
	snprintf(head, sizeof(head), "port %s: GET_FEATURES at ", f->cfg.name);
	l = strstr(buf, head);
	assert_non_null(l);
	assert_null(strstr(l + 1, head));
	assert_int_equal(sscanf(l + strlen(head), "%llu.%llu (wall clock), done in %llu us", &sec,
				&usec, &us), 3);
	assert_true(usec < 1000000u);
	assert_true(sec * 1000000u + usec >= before && sec * 1000000u + usec <= after);
	assert_true(us <= after - before);
	snprintf(head, sizeof(head), "port %s: SET_MEM_TABLE at ", f->cfg.name);
	assert_non_null(strstr(buf, head));
	snprintf(head, sizeof(head), "port %s: SET_VRING_NUM ring 1 at ", f->cfg.name);
	assert_non_null(strstr(buf, head));
	snprintf(head, sizeof(head), "port %s: SET_OWNER at ", f->cfg.name);
	assert_non_null(strstr(buf, head));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listening_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negotiated_and_connected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_switchover_bookkeeping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_after_handover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_clears_the_bookkeeping, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refused_message_disconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_debug_lines_carry_the_wall_clock, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
