// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * simctl: a small vfio-user client that drives vdpa-simd end to end without
 * the agent, for tests/integration/test_simd.sh.  It plays both the agent
 * (vfio-user + vhost-vfio mailbox, with the protocol/ codecs) and the guest
 * driver (split rings in a memfd "guest memory" DMA-mapped at IOVA
 * 0x40000000), and prints what it saw as "key=value" lines; any check that
 * fails prints "FAIL: ..." and exits 1.
 *
 *   simctl SOCKET loop GRANULARITY   TX -> wire loop -> RX, dirty log, bases
 *   simctl SOCKET oob                a TX descriptor outside the mappings
 *   simctl SOCKET unmap              DMA_UNMAP of guest memory under running rings
 *   simctl SOCKET tx N               N frames one at a time (wire null),
 *                                    until the device goes away
 *
 * The device's replies are trusted here only as far as the codecs check
 * them: this is a test tool, it fails loudly on anything unexpected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
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

#include "protocol/vfio_user.h"
#include "protocol/vfio_user_io.h"
#include "protocol/vhost_vfio.h"

#define TIMEOUT_MS 5000
#define MEM_IOVA UINT64_C(0x40000000)
#define MEM_SIZE (8u << 20)
#define LOG_IOVA UINT64_C(0x10000000)
#define LOG_MAP_SIZE (64u << 10)
#define QSIZE 256u
#define BUF_SIZE 2048u
#define NRXBUF 16u
#define HDR_LEN 12u
#define FRAME_LEN 60u

/* Offsets in guest memory: rings in the first 2 MiB, buffers in others. */
#define RX_DESC 0x0000u
#define RX_AVAIL 0x1000u
#define RX_USED 0x2000u
#define TX_DESC 0x4000u
#define TX_AVAIL 0x5000u
#define TX_USED 0x6000u
#define TX_BUFS 0x200000u
#define RX_BUFS 0x400000u

#define F_MRG_RXBUF 15
#define F_LOG_ALL 26
#define F_VERSION_1 32
#define BIT(b) (UINT64_C(1) << (b))
#define DESC_F_NEXT 1
#define DESC_F_WRITE 2

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static int sock = -1;
static uint16_t msg_id;
static uint8_t *mem;            /* the guest memory memfd, mapped */
static uint8_t *logmem;         /* the device log memfd, mapped */
static int kick[2], call[2];    /* doorbells (from IO_FDS) and call eventfds */
static int nvrings;

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- vfio-user ------------------------------------------------------------ */

/* Sends req (with fds), receives and checks the reply.  Returns 0 or -errno of
 * an error reply; fds in *rep are the caller's to close. */
static int vfu_call(struct vfu_msg *req, struct vfu_msg *rep)
{
	static struct vfu_io_msg in;
	static uint8_t out[VFU_MAX_MSG];
	struct msg_err err;
	size_t len;
	int r;

	req->msg_id = ++msg_id;
	if ((r = vfu_encode(req, out, sizeof(out), &len, &err)) < 0)
		die("encode %s: %s", vfu_command_name(req->command), err.reason);
	if ((r = vfu_send_msg(sock, TIMEOUT_MS, out, len, req->fds, req->nfds)) < 0)
		die("send %s: %s", vfu_command_name(req->command), strerror(-r));
	r = vfu_recv_msg(sock, TIMEOUT_MS, &in);
	if (r <= 0)
		die("no reply to %s: %s", vfu_command_name(req->command),
		    r == 0 ? "connection closed" : strerror(-r));
	if ((r = vfu_parse(in.buf, in.len, in.fds, in.nfds, rep, &err)) < 0)
		die("bad reply to %s: %s", vfu_command_name(req->command), err.reason);
	if (vfu_match_reply(req, rep, &err) < 0)
		die("mismatched reply to %s: %s", vfu_command_name(req->command), err.reason);
	return rep->error ? -(int)rep->error : 0;
}

static void dma_map(int fd, uint64_t iova, uint64_t size)
{
	struct vfu_msg req, rep;
	int r;

	vfu_msg_init(&req, VFU_CMD_DMA_MAP, 0);
	req.u.dma_map = (struct vfu_dma_map){ .flags = VFU_DMA_READ | VFU_DMA_WRITE,
					      .offset = 0, .addr = iova, .size = size };
	req.fds[0] = fd;
	req.nfds = 1;
	if ((r = vfu_call(&req, &rep)) < 0)
		die("DMA_MAP %#llx: %s", (unsigned long long)iova, strerror(-r));
}

static int dma_unmap(uint64_t iova, uint64_t size)
{
	struct vfu_msg req, rep;

	vfu_msg_init(&req, VFU_CMD_DMA_UNMAP, 0);
	req.u.dma_unmap = (struct vfu_dma_unmap){ .addr = iova, .size = size };
	return vfu_call(&req, &rep);
}

static int region_write(uint32_t region, uint64_t off, const void *data, uint32_t count)
{
	struct vfu_msg req, rep;

	vfu_msg_init(&req, VFU_CMD_REGION_WRITE, 0);
	req.u.access = (struct vfu_region_access){ .offset = off, .region = region,
						   .count = count, .data = data };
	return vfu_call(&req, &rep);
}

/* ---- the mailbox ---------------------------------------------------------- */

/* Runs a vhost request; returns its status (0 or -errno), *rep for GETs. */
static int vv_call(struct vv_msg *req, struct vv_msg *ret_rep)
{
	struct vv_parse_ctx ctx = { .max_vrings = (uint32_t)nvrings };
	uint8_t buf[VV_MAX_MSG];
	struct vfu_msg vreq, vrep;
	struct vv_msg rep;
	struct msg_err err;
	size_t len;
	int r;

	if (vv_encode(req, &ctx, buf, sizeof(buf), &len, &err) < 0)
		die("encode %s: %s", vv_request_name(req->request), err.reason);
	r = region_write(VV_REGION_MAILBOX, 0, buf, (uint32_t)len);
	if (r < 0)
		return r;
	if (!vv_expects_reply(req))
		return 0;
	vfu_msg_init(&vreq, VFU_CMD_REGION_READ, 0);
	vreq.u.access = (struct vfu_region_access){ .offset = 0, .region = VV_REGION_MAILBOX,
						    .count = VV_HDR_SIZE + 8 };
	if ((r = vfu_call(&vreq, &vrep)) < 0)
		die("REGION_READ of the %s reply: %s", vv_request_name(req->request), strerror(-r));
	if (vv_parse(vrep.u.access.data, vrep.u.access.count, &ctx, &rep, &err) < 0)
		die("bad %s reply: %s", vv_request_name(req->request), err.reason);
	if (vv_match_reply(req, &rep, &err) < 0)
		die("mismatched %s reply: %s", vv_request_name(req->request), err.reason);
	if (ret_rep)
		*ret_rep = rep;
	return rep.status;
}

static int vv_simple(uint64_t request, uint64_t u64)
{
	struct vv_msg m;

	vv_msg_init(&m, request, VV_FLAG_NEED_REPLY);
	m.u.u64 = u64;
	return vv_call(&m, NULL);
}

static void must(int r, const char *what)
{
	if (r < 0)
		die("%s: %s", what, strerror(-r));
}

static int get_vring_base(unsigned idx, uint16_t *ret)
{
	struct vv_msg m, rep;
	int r;

	vv_msg_init(&m, VV_REQ_GET_VRING_BASE, 0);
	m.u.state.index = idx;
	r = vv_call(&m, &rep);
	if (r == 0)
		*ret = (uint16_t)rep.u.state.num;
	return r;
}

/* ---- set-up --------------------------------------------------------------- */

static int memfd(const char *name, size_t size, uint8_t **ret)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		die("memfd: %s", strerror(errno));
	*ret = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*ret == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	return fd;
}

static void connect_dev(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vfu_msg req, rep;
	const char caps[] = "{\"capabilities\":{\"max_msg_fds\":8}}";

	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s: %s", path, strerror(errno));

	vfu_msg_init(&req, VFU_CMD_VERSION, 0);
	req.u.version = (struct vfu_version){ .major = 0, .minor = 1, .caps = caps,
					      .caps_len = strlen(caps) };
	must(vfu_call(&req, &rep), "VERSION");
	printf("version=%u.%u\n", rep.u.version.major, rep.u.version.minor);
	if (!rep.u.version.caps || !strstr(rep.u.version.caps, "max_msg_fds") ||
	    !strstr(rep.u.version.caps, "max_data_xfer_size"))
		die("VERSION capabilities lack max_msg_fds/max_data_xfer_size: %s",
		    rep.u.version.caps ? rep.u.version.caps : "(none)");

	vfu_msg_init(&req, VFU_CMD_DEVICE_GET_INFO, 0);
	req.u.device_info.argsz = sizeof(struct vfu_wire_device_info);
	must(vfu_call(&req, &rep), "DEVICE_GET_INFO");
	printf("regions=%u irqs=%u\n", rep.u.device_info.num_regions, rep.u.device_info.num_irqs);
	if (rep.u.device_info.num_regions != 2 || rep.u.device_info.num_irqs != 1)
		die("DEVICE_GET_INFO: want 2 regions and 1 irq index");

	for (uint32_t i = 0; i < 2; i++) {
		vfu_msg_init(&req, VFU_CMD_DEVICE_GET_REGION_INFO, 0);
		req.u.region_info.argsz = sizeof(struct vfu_wire_region_info);
		req.u.region_info.index = i;
		must(vfu_call(&req, &rep), "DEVICE_GET_REGION_INFO");
		printf("region%u size=%llu flags=%#x\n", i,
		       (unsigned long long)rep.u.region_info.size, rep.u.region_info.flags);
		vfu_msg_close(&rep);
	}
	nvrings = (int)(rep.u.region_info.size / VV_NOTIFY_STRIDE);

	vfu_msg_init(&req, VFU_CMD_DEVICE_GET_IRQ_INFO, 0);
	req.u.irq_info.argsz = sizeof(struct vfu_wire_irq_info);
	req.u.irq_info.index = 0;
	must(vfu_call(&req, &rep), "DEVICE_GET_IRQ_INFO");
	printf("irq0 count=%u\n", rep.u.irq_info.count);
	if ((int)rep.u.irq_info.count != nvrings)
		die("irq vectors %u, notify pages %d", rep.u.irq_info.count, nvrings);

	/* Too small first, as a client that does not know the count yet. */
	vfu_msg_init(&req, VFU_CMD_DEVICE_GET_REGION_IO_FDS, 0);
	req.u.io_fds.argsz = sizeof(struct vfu_wire_io_fds);
	req.u.io_fds.index = VV_REGION_NOTIFY;
	must(vfu_call(&req, &rep), "DEVICE_GET_REGION_IO_FDS (count)");
	if ((int)rep.u.io_fds.count != nvrings || rep.u.io_fds.nsub != 0)
		die("IO_FDS: count %u nsub %zu", rep.u.io_fds.count, rep.u.io_fds.nsub);
	req.u.io_fds.argsz = rep.u.io_fds.argsz;
	must(vfu_call(&req, &rep), "DEVICE_GET_REGION_IO_FDS");
	printf("io_fds=%zu\n", rep.u.io_fds.nsub);
	for (size_t i = 0; i < 2; i++) {
		const struct vfu_sub_region *s = &rep.u.io_fds.sub[i];

		if (s->offset != i * VV_NOTIFY_STRIDE || s->type != VFU_SUB_IOEVENTFD)
			die("IO_FDS sub-region %zu: offset %#llx type %u", i,
			    (unsigned long long)s->offset, s->type);
		kick[i] = vfu_msg_take_fd(&rep, s->fd_index);
	}
	vfu_msg_close(&rep);
}

static void setup_memory(bool with_log, unsigned log_shift)
{
	int mfd = memfd("guest", MEM_SIZE, &mem);
	struct vv_msg m;

	dma_map(mfd, MEM_IOVA, MEM_SIZE);
	close(mfd);
	if (with_log) {
		int lfd = memfd("log", LOG_MAP_SIZE, &logmem);

		dma_map(lfd, LOG_IOVA, LOG_MAP_SIZE);
		close(lfd);
	}
	must(vv_simple(VV_REQ_SET_OWNER, 0), "SET_OWNER");
	vv_msg_init(&m, VV_REQ_SET_MEM_TABLE, VV_FLAG_NEED_REPLY);
	m.u.mem.nregions = 1;
	m.u.mem.regions[0] = (struct vv_mem_region){ .guest_phys_addr = MEM_IOVA,
						     .memory_size = MEM_SIZE,
						     .userspace_addr = MEM_IOVA };
	must(vv_call(&m, NULL), "SET_MEM_TABLE");
	if (with_log) {
		uint64_t span = MEM_IOVA + MEM_SIZE, pages = span >> log_shift;
		uint64_t size = (pages + 63) / 64 * 8;
		int r;

		vv_msg_init(&m, VV_REQ_SET_LOG_BASE_IOVA, VV_FLAG_NEED_REPLY);
		/* A granularity the device was not started with is refused. */
		m.u.log = (struct vv_log){ .iova = LOG_IOVA, .size = size,
					   .granularity_shift = log_shift == 12 ? 13 : 12 };
		r = vv_call(&m, NULL);
		printf("log_wrong_granularity=%s\n", r < 0 ? strerror(-r) : "accepted");
		if (r != -EINVAL)
			die("SET_LOG_BASE_IOVA with a wrong granularity was not refused with EINVAL");
		m.u.log.granularity_shift = log_shift;
		must(vv_call(&m, NULL), "SET_LOG_BASE_IOVA");
	}
}

static void setup_irqs(void)
{
	struct vfu_msg req, rep;

	for (int i = 0; i < 2; i++) {
		call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (call[i] < 0)
			die("eventfd: %s", strerror(errno));
	}
	vfu_msg_init(&req, VFU_CMD_DEVICE_SET_IRQS, 0);
	req.u.irq_set = (struct vfu_irq_set){
		.flags = VFU_IRQ_DATA_EVENTFD | VFU_IRQ_ACTION_TRIGGER,
		.index = 0, .start = 0, .count = 2 };
	req.fds[0] = call[0];
	req.fds[1] = call[1];
	req.nfds = 2;
	must(vfu_call(&req, &rep), "DEVICE_SET_IRQS");
}

static void setup_ring(unsigned idx, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct vv_msg m;

	vv_msg_init(&m, VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY);
	m.u.state = (struct vv_vring_state){ .index = idx, .num = QSIZE };
	must(vv_call(&m, NULL), "SET_VRING_NUM");
	vv_msg_init(&m, VV_REQ_SET_VRING_ADDR, VV_FLAG_NEED_REPLY);
	m.u.addr = (struct vv_vring_addr){ .index = idx, .desc_user_addr = MEM_IOVA + desc,
					   .avail_user_addr = MEM_IOVA + avail,
					   .used_user_addr = MEM_IOVA + used };
	must(vv_call(&m, NULL), "SET_VRING_ADDR");
	vv_msg_init(&m, VV_REQ_SET_VRING_BASE, VV_FLAG_NEED_REPLY);
	m.u.state = (struct vv_vring_state){ .index = idx, .num = 0 };
	must(vv_call(&m, NULL), "SET_VRING_BASE");
}

/* ---- the guest driver ----------------------------------------------------- */

static struct desc *descs(unsigned off)
{
	return (struct desc *)(mem + off);
}

static uint16_t *avail_ring(unsigned off)
{
	return (uint16_t *)(mem + off); /* flags, idx, ring[] */
}

static uint16_t used_idx(unsigned off)
{
	return __atomic_load_n((uint16_t *)(mem + off) + 1, __ATOMIC_ACQUIRE);
}

static void make_avail(unsigned avail_off, uint16_t head)
{
	uint16_t *a = avail_ring(avail_off);
	uint16_t idx = a[1];

	a[2 + idx % QSIZE] = head;
	__atomic_store_n(&a[1], (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

static void post_rx_buffers(void)
{
	for (uint16_t i = 0; i < NRXBUF; i++) {
		descs(RX_DESC)[i] = (struct desc){ .addr = MEM_IOVA + RX_BUFS + i * BUF_SIZE,
						   .len = BUF_SIZE, .flags = DESC_F_WRITE };
		make_avail(RX_AVAIL, i);
	}
}

static void fill_frame(uint8_t *p, unsigned seq)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x01 }, src[6] = { 0x02, 0, 0, 0, 0, 0x02 };

	memset(p, 0, HDR_LEN); /* virtio-net header */
	memcpy(p + HDR_LEN, dst, 6);
	memcpy(p + HDR_LEN + 6, src, 6);
	p[HDR_LEN + 12] = 0x88;
	p[HDR_LEN + 13] = 0xb5;
	for (unsigned i = 14; i < FRAME_LEN; i++)
		p[HDR_LEN + i] = (uint8_t)(seq * 7 + i);
}

/* Puts frame seq into TX descriptor slot seq % QSIZE; addr overrides the buffer. */
static void tx_frame(unsigned seq, uint64_t addr)
{
	uint16_t head = (uint16_t)(seq % QSIZE);
	uint64_t buf = TX_BUFS + (uint64_t)head * BUF_SIZE;

	fill_frame(mem + buf, seq);
	descs(TX_DESC)[head] = (struct desc){ .addr = addr ? addr : MEM_IOVA + buf,
					      .len = HDR_LEN + FRAME_LEN, .flags = 0 };
	make_avail(TX_AVAIL, head);
}

static void ring_doorbell_fd(unsigned idx)
{
	uint64_t one = 1;

	if (write(kick[idx], &one, sizeof(one)) != sizeof(one))
		die("doorbell %u: %s", idx, strerror(errno));
}

static bool wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1)
		return false;
	return read(fd, &v, sizeof(v)) == sizeof(v);
}

static bool wait_used(unsigned used_off, uint16_t want, int ms)
{
	long end = now_ms() + ms;

	while (used_idx(used_off) != want) {
		if (now_ms() > end)
			return false;
		usleep(1000);
	}
	return true;
}

static void check_rx(unsigned n, unsigned seq)
{
	struct { uint32_t id, len; } e;
	const uint8_t *b;
	uint8_t want[HDR_LEN + FRAME_LEN];

	memcpy(&e, mem + RX_USED + 4 + (n % QSIZE) * 8, sizeof(e));
	if (e.len != HDR_LEN + FRAME_LEN)
		die("RX used element %u: id %u len %u, want len %u", n, e.id, e.len,
		    HDR_LEN + FRAME_LEN);
	b = mem + RX_BUFS + e.id * BUF_SIZE;
	fill_frame(want, seq);
	if (b[10] != 1 || b[11] != 0)
		die("RX frame %u: num_buffers %u, want 1", n, b[10] | b[11] << 8);
	/* The loop swaps the MACs. */
	if (memcmp(b + HDR_LEN, want + HDR_LEN + 6, 6) || memcmp(b + HDR_LEN + 6, want + HDR_LEN, 6) ||
	    memcmp(b + HDR_LEN + 12, want + HDR_LEN + 12, FRAME_LEN - 12))
		die("RX frame %u differs from what was sent", n);
}

/* Log pages set, as "0x... 0x..." of IOVAs; returns how many. */
static unsigned log_pages(unsigned shift, char *out, size_t outlen)
{
	uint64_t pages = (MEM_IOVA + MEM_SIZE) >> shift;
	unsigned n = 0;
	size_t k = 0;

	out[0] = '\0';
	for (uint64_t p = 0; p < pages; p++) {
		if (!(__atomic_load_n(&logmem[p / 8], __ATOMIC_RELAXED) & (1u << (p % 8))))
			continue;
		n++;
		if (k < outlen)
			k += (size_t)snprintf(out + k, outlen - k, "%s%#llx", n > 1 ? "," : "",
					      (unsigned long long)(p << shift));
	}
	return n;
}

static bool log_test(unsigned shift, uint64_t iova)
{
	uint64_t p = iova >> shift;

	return logmem[p / 8] & (1u << (p % 8));
}

static void setup_all(const char *path, bool with_log, unsigned shift, uint64_t features)
{
	struct vv_msg m, rep;

	connect_dev(path);
	setup_memory(with_log, shift);
	setup_irqs();
	vv_msg_init(&m, VV_REQ_GET_FEATURES, 0);
	must(vv_call(&m, &rep), "GET_FEATURES");
	printf("features=%#llx\n", (unsigned long long)rep.u.u64);
	if ((rep.u.u64 & features) != features)
		die("device features %#llx lack %#llx", (unsigned long long)rep.u.u64,
		    (unsigned long long)features);
	must(vv_simple(VV_REQ_SET_FEATURES, features), "SET_FEATURES");
	setup_ring(0, RX_DESC, RX_AVAIL, RX_USED);
	setup_ring(1, TX_DESC, TX_AVAIL, TX_USED);
	post_rx_buffers();
	must(vv_simple(VV_REQ_DEVICE_SET_STATE, VV_STATE_START), "DEVICE_SET_STATE start");
}

/* rx 0xffff: whatever the RX used index says (the wire decides). */
static void expect_bases(uint16_t rx, uint16_t tx)
{
	uint16_t b0, b1;

	if (rx == 0xffff)
		rx = used_idx(RX_USED);

	must(get_vring_base(0, &b0), "GET_VRING_BASE 0");
	must(get_vring_base(1, &b1), "GET_VRING_BASE 1");
	printf("base0=%u base1=%u\n", b0, b1);
	if (b0 != rx || b1 != tx)
		die("GET_VRING_BASE: %u/%u, want %u/%u", b0, b1, rx, tx);
}

/* ---- scenarios -------------------------------------------------------------- */

static int sc_loop(const char *path, unsigned gran)
{
	const uint64_t f = BIT(F_VERSION_1) | BIT(F_MRG_RXBUF) | BIT(F_LOG_ALL);
	unsigned shift = (unsigned)__builtin_ctz(gran);
	char pages[512];
	uint16_t b;
	long t0;
	int r;

	if (gran < 4096 || (gran & (gran - 1)))
		die("granularity %u", gran);
	setup_all(path, true, shift, f);

	/* Frame 1: doorbell through the io eventfd.  Let the device go idle
	 * first, so the frame is found by the doorbell and not by the worker's
	 * first pass (the stall fault delays doorbells only). */
	usleep(100 * 1000);
	t0 = now_ms();
	tx_frame(0, 0);
	ring_doorbell_fd(1);
	if (!wait_fd(call[0], 3000))
		die("no RX interrupt after the TX doorbell");
	printf("rx_irq=1 latency_ms=%ld\n", now_ms() - t0);
	if (used_idx(RX_USED) != 1 || used_idx(TX_USED) != 1)
		die("used indexes RX %u TX %u, want 1/1", used_idx(RX_USED), used_idx(TX_USED));
	check_rx(0, 0);
	printf("rx_frame=ok\n");
	printf("log_pages=%u at %s\n", log_pages(shift, pages, sizeof(pages)), pages);
	if (!log_test(shift, MEM_IOVA + RX_BUFS))
		die("the RX buffer page %#llx is not marked in the device log",
		    (unsigned long long)(MEM_IOVA + RX_BUFS));
	if (log_test(shift, MEM_IOVA + RX_USED))
		die("the used ring page is marked: the device must not log used rings");
	if (log_pages(shift, pages, sizeof(pages)) != 1)
		die("want exactly the RX buffer page marked, got %s", pages);

	/* GET_VRING_BASE while running: refused, the ring is healthy. */
	r = get_vring_base(0, &b);
	printf("running_get_vring_base=%s\n", r < 0 ? strerror(-r) : "answered");
	if (r != -EBUSY)
		die("GET_VRING_BASE on a running device: want EBUSY");

	/* LOG_ALL off: the rings keep going, the log stays empty.  Frame 2
	 * rings the doorbell by a REGION_WRITE on the notify page instead. */
	must(vv_simple(VV_REQ_SET_FEATURES, f & ~BIT(F_LOG_ALL)), "SET_FEATURES -LOG_ALL");
	memset(logmem, 0, LOG_MAP_SIZE);
	tx_frame(1, 0);
	{
		uint64_t one = 1;

		must(region_write(VV_REGION_NOTIFY, 1 * VV_NOTIFY_STRIDE, &one, 8),
		     "REGION_WRITE doorbell");
	}
	if (!wait_used(RX_USED, 2, 3000))
		die("frame 2 did not come back after LOG_ALL off");
	check_rx(1, 1);
	printf("log_off_pages=%u\n", log_pages(shift, pages, sizeof(pages)));
	if (log_pages(shift, pages, sizeof(pages)) != 0)
		die("pages marked with LOG_ALL off: %s", pages);

	must(vv_simple(VV_REQ_DEVICE_SET_STATE, VV_STATE_STOP), "DEVICE_SET_STATE stop");
	expect_bases(2, 2);
	/* Stopped means stopped: a frame and a doorbell now move nothing. */
	tx_frame(2, 0);
	ring_doorbell_fd(1);
	usleep(200 * 1000);
	if (used_idx(TX_USED) != 2)
		die("the device moved a frame after stop");
	printf("after_stop_quiet=1\n");
	printf("PASS loop\n");
	return 0;
}

static int sc_oob(const char *path)
{
	const uint64_t f = BIT(F_VERSION_1) | BIT(F_MRG_RXBUF);
	struct vv_msg m, rep;
	uint16_t b;
	long end;
	int r;

	setup_all(path, false, 12, f);
	tx_frame(0, 0);
	ring_doorbell_fd(1);
	if (!wait_used(TX_USED, 1, 3000))
		die("the good frame was not sent");
	/* A descriptor pointing 1 GiB past the mapping. */
	tx_frame(1, MEM_IOVA + (1u << 30));
	ring_doorbell_fd(1);
	end = now_ms() + 3000;
	while ((r = get_vring_base(1, &b)) == -EBUSY && now_ms() < end)
		usleep(10 * 1000);
	printf("broken_ring_status=%s\n", r < 0 ? strerror(-r) : "answered");
	if (r != -EIO)
		die("GET_VRING_BASE of the broken ring: want EIO");
	r = get_vring_base(0, &b);
	printf("healthy_ring_status=%s\n", r < 0 ? strerror(-r) : "answered");
	if (r != -EBUSY)
		die("GET_VRING_BASE of the healthy ring: want EBUSY");
	vv_msg_init(&m, VV_REQ_GET_FEATURES, 0);
	must(vv_call(&m, &rep), "GET_FEATURES after the fault");
	must(vv_simple(VV_REQ_DEVICE_SET_STATE, VV_STATE_STOP), "DEVICE_SET_STATE stop");
	/* The bad chain was not consumed: the base stays on it. */
	expect_bases(0xffff, 1);
	printf("PASS oob\n");
	return 0;
}

static int sc_unmap(const char *path)
{
	const uint64_t f = BIT(F_VERSION_1) | BIT(F_MRG_RXBUF);
	uint16_t b;
	int r;

	setup_all(path, false, 12, f);
	tx_frame(0, 0);
	ring_doorbell_fd(1);
	if (!wait_used(TX_USED, 1, 3000))
		die("the frame was not sent");
	must(dma_unmap(MEM_IOVA, MEM_SIZE), "DMA_UNMAP");
	r = get_vring_base(1, &b);
	printf("after_unmap_status=%s\n", r < 0 ? strerror(-r) : "answered");
	if (r != -EIO)
		die("GET_VRING_BASE after DMA_UNMAP under running rings: want EIO");
	must(vv_simple(VV_REQ_DEVICE_SET_STATE, VV_STATE_STOP), "DEVICE_SET_STATE stop");
	expect_bases(0xffff, 1);
	r = vv_simple(VV_REQ_DEVICE_SET_STATE, VV_STATE_START);
	printf("restart_unmapped=%s\n", r < 0 ? strerror(-r) : "started");
	if (r != -EFAULT)
		die("start with unmapped rings: want EFAULT");
	printf("PASS unmap\n");
	return 0;
}

static int sc_tx(const char *path, unsigned n)
{
	const uint64_t f = BIT(F_VERSION_1) | BIT(F_MRG_RXBUF);
	unsigned done = 0;

	setup_all(path, false, 12, f);
	for (unsigned i = 0; i < n; i++) {
		struct pollfd p = { .fd = sock, .events = POLLIN };

		tx_frame(i, 0);
		ring_doorbell_fd(1);
		if (!wait_used(TX_USED, (uint16_t)(i + 1), 1000))
			break;
		done++;
		/* A device that died closed the socket. */
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLIN)))
			break;
	}
	{
		struct pollfd p = { .fd = sock, .events = POLLIN };
		char c;
		bool gone = poll(&p, 1, 2000) == 1 && recv(sock, &c, 1, MSG_DONTWAIT) <= 0;

		printf("tx_completed=%u tx_used=%u device_gone=%d\n", done, used_idx(TX_USED), gone);
	}
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && strcmp(argv[2], "loop") == 0)
		return sc_loop(argv[1], (unsigned)strtoul(argv[3], NULL, 0));
	if (argc >= 3 && strcmp(argv[2], "oob") == 0)
		return sc_oob(argv[1]);
	if (argc >= 3 && strcmp(argv[2], "unmap") == 0)
		return sc_unmap(argv[1]);
	if (argc >= 4 && strcmp(argv[2], "tx") == 0)
		return sc_tx(argv[1], (unsigned)strtoul(argv[3], NULL, 0));
	fprintf(stderr, "usage: simctl SOCKET loop GRANULARITY | oob | unmap | tx N\n");
	return 2;
}
