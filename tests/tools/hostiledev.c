// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hostiledev: a vfio-user SERVER that plays a vhost-vfio accelerator well
 * up to one chosen point and then misbehaves in one chosen way, for
 * tests/integration/test_hostile_device.sh.
 *
 *   hostiledev --socket PATH --mode MODE [--rings N]
 *   hostiledev --list
 *
 * Until its trigger, the device answers as vdpa-simd does (VERSION 0.1, two
 * regions, one irq index with N vectors, one doorbell eventfd per ring, a
 * mailbox that answers vhost-vfio requests) using the protocol/ codecs, so
 * every well-formed reply parses by construction.  The misbehaviour itself
 * is written byte by byte: the encoders refuse to produce it.
 *
 * It serves one client at a time, for ever (until SIGTERM).  Per client it
 * prints "conn N: ..." lines on stdout; "conn N: misbehaved: WHAT" says the
 * chosen fault was delivered, so a test knows its case really ran.
 *
 * Exit codes: 0 on SIGTERM, 2 setup error, 64 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
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
#include <unistd.h>

#include "protocol/vfio_user.h"
#include "protocol/vfio_user_io.h"
#include "protocol/vhost_vfio.h"
#include "tests/helpers/testhelp_vfudev.h"

#define IO_TIMEOUT_MS 5000
#define MAX_RINGS 16u
#define MAILBOX_SIZE 4096u
#define FLOOD_FDS 100u

/* What to do when the trigger arrives. */
enum action {
	A_GARBAGE,		/* text junk instead of a reply */
	A_SHORT_CLOSE,		/* a header promising more than follows, then close */
	A_WRONG_ID,		/* a well-formed reply with another msg_id */
	A_SIZE_MAX,		/* a header with size 0xffffffff */
	A_SILENT,		/* no reply, socket kept open */
	A_CLOSE,		/* close the connection */
	A_STALL_MID,		/* half a message, then nothing */
	A_VERSION_MAJOR,	/* VERSION 1.0 */
	A_EXTRA_FDS,		/* a VERSION reply with 2 eventfds attached */
	A_FD_FLOOD,		/* a VERSION reply with FLOOD_FDS fds attached */
	A_ERRNO_RANGE,		/* an error reply with errno 5000 */
	A_TOO_MANY_REGIONS,	/* DEVICE_GET_INFO: num_regions 65 */
	A_REGION_HUGE,		/* mmap region of 2^63 bytes on a 4 KiB memfd */
	A_REGION_OVERFLOW,	/* region offset + size wraps 2^64 */
	A_REGION_SMALL,		/* mailbox of 16 bytes */
	A_IRQ_FEW,		/* one vector for all the rings */
	A_DOORBELL_MISSING,	/* IO_FDS: a doorbell for ring 0 only */
	A_MAILBOX_GARBAGE,	/* the mailbox reads back junk */
	A_MAILBOX_MISMATCH,	/* the mailbox answers another request */
	A_VHOST_REFUSE,		/* the mailbox answers the trigger with EIO */
};

struct mode {
	const char *name;
	enum action action;
	uint16_t command;	/* vfio-user trigger; 0: the first request */
	uint64_t vhost;		/* or a vhost-vfio request read from the mailbox */
	uint64_t vhost_arg;	/* with this u64 (DEVICE_SET_STATE), ~0: any */
	const char *what;
};

static const struct mode modes[] = {
	{ "garbage", A_GARBAGE, 0, 0, 0, "64 bytes of text instead of a reply" },
	{ "short-close", A_SHORT_CLOSE, 0, 0, 0, "header says 64 bytes, 8 follow, closed" },
	{ "wrong-id", A_WRONG_ID, 0, 0, 0, "VERSION reply with the wrong msg_id" },
	{ "size-max", A_SIZE_MAX, 0, 0, 0, "reply header with size 0xffffffff" },
	{ "silent", A_SILENT, 0, 0, 0, "no reply, connection kept open" },
	{ "close-first", A_CLOSE, 0, 0, 0, "closed at the first request" },
	{ "stall-mid", A_STALL_MID, 0, 0, 0, "half a reply, then nothing" },
	{ "version-major", A_VERSION_MAJOR, VFU_CMD_VERSION, 0, 0, "VERSION 1.0" },
	{ "unexpected-fds", A_EXTRA_FDS, VFU_CMD_VERSION, 0, 0, "VERSION reply with 2 fds" },
	{ "fd-flood", A_FD_FLOOD, VFU_CMD_VERSION, 0, 0, "VERSION reply with 100 fds" },
	{ "errno-range", A_ERRNO_RANGE, VFU_CMD_VERSION, 0, 0, "error reply with errno 5000" },
	{ "too-many-regions", A_TOO_MANY_REGIONS, VFU_CMD_DEVICE_GET_INFO, 0, 0,
	  "DEVICE_GET_INFO with 65 regions" },
	{ "region-huge", A_REGION_HUGE, VFU_CMD_DEVICE_GET_REGION_INFO, 0, 0,
	  "mmap region of 2^63 bytes on a 4 KiB memfd" },
	{ "region-overflow", A_REGION_OVERFLOW, VFU_CMD_DEVICE_GET_REGION_INFO, 0, 0,
	  "region offset + size wraps around 2^64" },
	{ "region-small", A_REGION_SMALL, VFU_CMD_DEVICE_GET_REGION_INFO, 0, 0,
	  "mailbox region of 16 bytes" },
	{ "irq-few", A_IRQ_FEW, VFU_CMD_DEVICE_GET_IRQ_INFO, 0, 0, "one interrupt vector" },
	{ "doorbell-missing", A_DOORBELL_MISSING, VFU_CMD_DEVICE_GET_REGION_IO_FDS, 0, 0,
	  "a doorbell for ring 0 only" },
	{ "mailbox-garbage", A_MAILBOX_GARBAGE, 0, VV_REQ_GET_FEATURES, ~0ull,
	  "GET_FEATURES read back as junk" },
	{ "mailbox-mismatch", A_MAILBOX_MISMATCH, 0, VV_REQ_GET_FEATURES, ~0ull,
	  "GET_FEATURES answered as GET_VRING_BASE" },
	{ "dma-map-close", A_CLOSE, VFU_CMD_DMA_MAP, 0, 0, "closed at the first DMA_MAP" },
	{ "start-refused", A_VHOST_REFUSE, 0, VV_REQ_DEVICE_SET_STATE, VV_STATE_START,
	  "DEVICE_SET_STATE start refused with EIO" },
};

/* One connection's device state. */
struct conn {
	int sock;
	unsigned id;
	unsigned rings;
	int bell[MAX_RINGS];
	bool have_req;		/* a vhost request sits in the mailbox */
	struct vv_msg req;
	bool started;
	uint32_t base[MAX_RINGS];
	bool fired;
	bool send_failed;	/* the misbehaviour did not go out */
	struct vfu_io_msg io;
	uint8_t out[VFU_MAX_MSG];
};

static const struct mode *mode;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void say(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	printf("conn %u: ", c->id);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/*
 * Raw bytes with fds, whatever they are: one sendmsg(), so more fds than
 * vfu_send_msg() allows may ride along (the kernel takes up to 253).
 */
static int send_raw(struct conn *c, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FLOOD_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	if (nfds > FLOOD_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	/* Messages here are small: the socket buffer takes them whole. */
	r = sendmsg(c->sock, &mh, MSG_NOSIGNAL);
	if (r < 0 || (size_t)r != len) {
		say(c, "send: %s", r < 0 ? strerror(errno) : "short write");
		c->send_failed = true;
		return -EIO;
	}
	return 0;
}

static int send_msg(struct conn *c, const struct vfu_msg *m)
{
	struct msg_err err;
	size_t len;
	int r;

	r = vfu_encode(m, c->out, sizeof(c->out), &len, &err);
	if (r < 0) {
		say(c, "cannot encode %s: %s", vfu_command_name(m->command), err.reason);
		return r;
	}
	return send_raw(c, c->out, len, m->fds, m->nfds);
}

/* A raw reply header (and payload) to req. */
static int send_hdr(struct conn *c, const struct vfu_msg *req, uint32_t size, uint32_t flags,
		    uint32_t error, const void *payload, size_t plen, const int *fds, size_t nfds)
{
	struct vfu_wire_hdr h = {
		.msg_id = req->msg_id,
		.command = req->command,
		.size = size,
		.flags = flags,
		.error = error,
	};

	memcpy(c->out, &h, sizeof(h));
	if (plen)
		memcpy(c->out + sizeof(h), payload, plen);
	return send_raw(c, c->out, sizeof(h) + plen, fds, nfds);
}

/* ---- the well-behaved device ------------------------------------------- */

/* The vhost-vfio reply to the request in the mailbox, into dst (count bytes). */
static int mailbox_reply(struct conn *c, uint8_t *dst, uint32_t count)
{
	struct vv_parse_ctx ctx = { .max_vrings = c->rings };
	struct vv_msg rep;
	struct msg_err err;
	size_t len;
	int r;

	memset(dst, 0, count);
	if (!c->have_req)
		return 0;
	vv_reply_init(&rep, &c->req);
	switch (c->req.request) {
	case VV_REQ_GET_FEATURES:
		rep.u.u64 = UINT64_MAX;	/* the agent takes what it knows */
		break;
	case VV_REQ_GET_VRING_BASE:
		if (c->started) {
			rep.status = -EBUSY;
		} else {
			rep.u.state.index = c->req.u.state.index;
			rep.u.state.num = c->base[c->req.u.state.index % MAX_RINGS];
		}
		break;
	default:
		break;
	}
	r = vv_encode(&rep, &ctx, dst, count, &len, &err);
	if (r < 0)
		say(c, "cannot encode the %s reply: %s", vv_request_name(c->req.request),
		    err.reason);
	return r;
}

/* A vhost request written into the mailbox: remember it, act on it. */
static void mailbox_write(struct conn *c, const struct vfu_msg *m)
{
	struct vv_parse_ctx ctx = { .max_vrings = c->rings };
	struct msg_err err;
	struct vv_msg req;
	size_t len = m->u.access.count;

	c->have_req = false;
	if (m->u.access.region != VV_REGION_MAILBOX)
		return;
	if (len >= VV_HDR_SIZE) {
		struct vv_wire_hdr h;

		memcpy(&h, m->u.access.data, sizeof(h));
		if (h.size <= VV_MAX_PAYLOAD && VV_HDR_SIZE + h.size <= len)
			len = VV_HDR_SIZE + h.size;
	}
	if (vv_parse(m->u.access.data, len, &ctx, &req, &err) < 0) {
		say(c, "mailbox: %s", err.reason);
		return;
	}
	c->req = req;
	c->have_req = true;
	switch (req.request) {
	case VV_REQ_DEVICE_SET_STATE:
		c->started = req.u.u64 == VV_STATE_START;
		break;
	case VV_REQ_SET_VRING_BASE:
		c->base[req.u.state.index % MAX_RINGS] = req.u.state.num;
		break;
	default:
		break;
	}
}

/* Answers m as a healthy device would; 0, or < 0 to drop the client. */
static int serve(struct conn *c, struct vfu_msg *m)
{
	static uint8_t data[VFU_MAX_DATA];
	struct vfu_msg rep;

	vfu_reply_init(&rep, m);
	switch (m->command) {
	case VFU_CMD_DMA_MAP:
	case VFU_CMD_DEVICE_SET_IRQS:
		break;
	case VFU_CMD_DMA_UNMAP:
		rep.u.dma_unmap = m->u.dma_unmap;
		break;
	case VFU_CMD_REGION_WRITE:
		mailbox_write(c, m);
		rep.u.access = m->u.access;
		rep.u.access.data = NULL;
		break;
	case VFU_CMD_REGION_READ:
		if (mailbox_reply(c, data, m->u.access.count) < 0)
			return -EINVAL;
		rep.u.access = m->u.access;
		rep.u.access.data = data;
		break;
	default:
		if (!th_vfu_discovery_reply(m, c->rings, c->bell, MAILBOX_SIZE, &rep)) {
			say(c, "unexpected %s", vfu_command_name(m->command));
			return -EINVAL;
		}
		break;
	}
	return send_msg(c, &rep);
}

/* ---- the misbehaviour ---------------------------------------------------- */

static bool triggered(struct conn *c, const struct vfu_msg *m)
{
	if (c->fired)
		return false;
	if (mode->vhost) {
		/* The answer to a vhost request is the mailbox read after it. */
		return m->command == VFU_CMD_REGION_READ && c->have_req &&
		       c->req.request == mode->vhost &&
		       (mode->vhost_arg == ~0ull || c->req.u.u64 == mode->vhost_arg);
	}
	return mode->command == 0 || m->command == mode->command;
}

/* Returns 1 to keep serving, 0 to close the connection, -1 to hold it silently. */
static int misbehave(struct conn *c, struct vfu_msg *m)
{
	static uint8_t data[VFU_MAX_DATA];
	struct vfu_msg rep;
	int fds[FLOOD_FDS];
	size_t nfds = 0;
	int r = 1;

	c->fired = true;
	for (size_t i = 0; i < FLOOD_FDS; i++)
		fds[i] = -1;
	vfu_reply_init(&rep, m);
	switch (mode->action) {
	case A_GARBAGE: {
		static const char junk[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
					   "Connection: close\r\n\r\n";

		send_raw(c, junk, 64 < sizeof(junk) ? 64 : sizeof(junk), NULL, 0);
		break;
	}
	case A_SHORT_CLOSE: {
		static const uint8_t eight[8] = { 0, 0, 1, 0 };

		send_hdr(c, m, 64, VFU_TYPE_REPLY, 0, eight, sizeof(eight), NULL, 0);
		r = 0;
		break;
	}
	case A_WRONG_ID:
		rep.msg_id = (uint16_t)(m->msg_id + 0x5a5);
		rep.u.version.major = 0;
		rep.u.version.minor = 1;
		send_msg(c, &rep);
		break;
	case A_SIZE_MAX:
		send_hdr(c, m, 0xffffffffu, VFU_TYPE_REPLY, 0, NULL, 0, NULL, 0);
		break;
	case A_SILENT:
	case A_STALL_MID:
		if (mode->action == A_STALL_MID) {
			static const uint8_t four[4] = { 0, 0, 1, 0 };

			send_hdr(c, m, VFU_HDR_SIZE + 4 + 8, VFU_TYPE_REPLY, 0, four,
				 sizeof(four), NULL, 0);
		}
		r = -1;
		break;
	case A_CLOSE:
		r = 0;
		break;
	case A_VERSION_MAJOR:
		rep.u.version.major = 1;
		rep.u.version.minor = 0;
		send_msg(c, &rep);
		break;
	case A_EXTRA_FDS:
	case A_FD_FLOOD: {
		struct vfu_wire_version v = { 0, 1 };

		nfds = mode->action == A_EXTRA_FDS ? 2 : FLOOD_FDS;
		for (size_t i = 0; i < nfds; i++)
			fds[i] = eventfd(0, EFD_CLOEXEC);
		send_hdr(c, m, VFU_HDR_SIZE + sizeof(v), VFU_TYPE_REPLY, 0, &v, sizeof(v), fds,
			 nfds);
		break;
	}
	case A_ERRNO_RANGE:
		send_hdr(c, m, VFU_HDR_SIZE, VFU_TYPE_REPLY | VFU_FLAG_ERROR, 5000, NULL, 0,
			 NULL, 0);
		break;
	case A_TOO_MANY_REGIONS: {
		struct vfu_wire_device_info w = { sizeof(w), 0, VFU_MAX_REGIONS + 1, 1 };

		send_hdr(c, m, VFU_HDR_SIZE + sizeof(w), VFU_TYPE_REPLY, 0, &w, sizeof(w), NULL,
			 0);
		break;
	}
	case A_REGION_HUGE:
	case A_REGION_OVERFLOW:
	case A_REGION_SMALL: {
		struct vfu_wire_region_info w = {
			.argsz = sizeof(w),
			.flags = VFU_REGION_READ | VFU_REGION_WRITE,
			.index = m->u.region_info.index,
			.size = 16,
		};

		if (mode->action == A_REGION_HUGE) {
			w.flags |= VFU_REGION_MMAP;
			w.size = UINT64_C(1) << 63;
			fds[0] = memfd_create("hostiledev-region", MFD_CLOEXEC);
			if (fds[0] >= 0 && ftruncate(fds[0], 4096) < 0)
				say(c, "ftruncate: %s", strerror(errno));
			nfds = 1;
		} else if (mode->action == A_REGION_OVERFLOW) {
			w.offset = UINT64_MAX - 4095;
			w.size = 8192;
		}
		send_hdr(c, m, VFU_HDR_SIZE + sizeof(w), VFU_TYPE_REPLY, 0, &w, sizeof(w), fds,
			 nfds);
		break;
	}
	case A_IRQ_FEW:
		rep.u.irq_info.argsz = sizeof(struct vfu_wire_irq_info);
		rep.u.irq_info.flags = VFU_IRQ_INFO_EVENTFD;
		rep.u.irq_info.index = m->u.irq_info.index;
		rep.u.irq_info.count = 1;
		send_msg(c, &rep);
		break;
	case A_DOORBELL_MISSING:
		rep.u.io_fds.index = m->u.io_fds.index;
		rep.u.io_fds.count = 1;
		rep.u.io_fds.sub[0] = (struct vfu_sub_region){
			.size = 8,
			.type = VFU_SUB_IOEVENTFD,
		};
		rep.u.io_fds.nsub = 1;
		rep.fds[0] = c->bell[0];
		rep.nfds = 1;
		send_msg(c, &rep);
		break;
	case A_MAILBOX_GARBAGE:
	case A_MAILBOX_MISMATCH:
	case A_VHOST_REFUSE: {
		struct vv_parse_ctx ctx = { .max_vrings = c->rings };
		struct vv_msg vrep;
		struct msg_err err;
		size_t len;

		memset(data, 0, m->u.access.count);
		if (mode->action == A_MAILBOX_GARBAGE) {
			memset(data, 0xa5, m->u.access.count);
		} else {
			vv_reply_init(&vrep, &c->req);
			if (mode->action == A_MAILBOX_MISMATCH) {
				struct vv_msg other;

				vv_msg_init(&other, VV_REQ_GET_VRING_BASE, 0);
				vv_reply_init(&vrep, &other);
			} else {
				vrep.status = -EIO;
			}
			if (vv_encode(&vrep, &ctx, data, m->u.access.count, &len, &err) < 0)
				say(c, "cannot encode: %s", err.reason);
		}
		rep.u.access = m->u.access;
		rep.u.access.data = data;
		send_msg(c, &rep);
		break;
	}
	}
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (c->send_failed)
		return 0;
	say(c, "misbehaved: %s (at %s%s%s)", mode->what, vfu_command_name(m->command),
	    mode->vhost ? " of " : "", mode->vhost ? vv_request_name(mode->vhost) : "");
	return r;
}

/* ---- connections ----------------------------------------------------------- */

static void serve_conn(struct conn *c)
{
	struct vfu_msg m;
	struct msg_err err;
	bool hold = false;
	int r;

	for (;;) {
		if (stop)
			return;
		r = vfu_recv_msg(c->sock, IO_TIMEOUT_MS, &c->io);
		if (r == 0) {
			say(c, "the client closed the connection");
			return;
		}
		if (r == -EINTR)
			continue;
		if (r < 0) {
			say(c, "receive: %s", strerror(-r));
			return;
		}
		r = vfu_parse(c->io.buf, c->io.len, c->io.fds, c->io.nfds, &m, &err);
		c->io.nfds = 0;
		if (r < 0) {
			say(c, "bad command: %s", err.reason);
			return;
		}
		if (hold) {
			/* Silent: read on so the client never blocks sending. */
			vfu_msg_close(&m);
			continue;
		}
		if (triggered(c, &m)) {
			r = misbehave(c, &m);
			vfu_msg_close(&m);
			if (r == 0) {
				say(c, "closing");
				return;
			}
			hold = r < 0;
			continue;
		}
		r = serve(c, &m);
		vfu_msg_close(&m);
		if (r < 0)
			return;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: hostiledev --socket PATH --mode MODE [--rings N]\n"
		   "       hostiledev --list\n");
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sigaction sa_term = { .sa_handler = on_term };
	const char *path = NULL, *name = NULL;
	unsigned rings = 2, nconn = 0;
	int lfd;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--list") == 0) {
			for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++)
				printf("%s\t%s\n", modes[k].name, modes[k].what);
			return 0;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return 64;
		}
		if (strcmp(argv[i], "--socket") == 0) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--mode") == 0) {
			name = argv[++i];
		} else if (strcmp(argv[i], "--rings") == 0) {
			rings = (unsigned)strtoul(argv[++i], NULL, 10);
		} else {
			usage(stderr);
			return 64;
		}
	}
	for (size_t k = 0; name && k < sizeof(modes) / sizeof(modes[0]); k++)
		if (strcmp(modes[k].name, name) == 0)
			mode = &modes[k];
	if (!path || !mode || rings == 0 || rings > MAX_RINGS ||
	    strlen(path) >= sizeof(sa.sun_path)) {
		usage(stderr);
		return 64;
	}
	/* No SA_RESTART: a blocked accept() or recvmsg() sees the signal. */
	sigaction(SIGTERM, &sa_term, NULL);
	sigaction(SIGINT, &sa_term, NULL);
	signal(SIGPIPE, SIG_IGN);

	strcpy(sa.sun_path, path);
	unlink(path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
		fprintf(stderr, "hostiledev: %s: %s\n", path, strerror(errno));
		return 2;
	}
	printf("listening on %s, mode %s: %s\n", path, mode->name, mode->what);
	fflush(stdout);
	while (!stop) {
		struct conn *c;
		int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (s < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "hostiledev: accept: %s\n", strerror(errno));
			return 2;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(s);
			continue;
		}
		c->sock = s;
		c->id = ++nconn;
		c->rings = rings;
		for (unsigned q = 0; q < rings; q++)
			c->bell[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		say(c, "connected");
		serve_conn(c);
		for (unsigned q = 0; q < rings; q++)
			close(c->bell[q]);
		close(s);
		free(c);
	}
	unlink(path);
	return 0;
}
