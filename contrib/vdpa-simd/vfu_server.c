// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa-simd: the vfio-user server side.  One command table; each handler
 * gets a validated struct vfu_msg and fills the reply, and serve_one() is
 * the one place that sends replies.
 *
 * The device, as a client sees it (vdpa-simd(8) has the full story):
 *   region 0   vhost request mailbox, read/write, SIMD_MAILBOX_SIZE bytes
 *   region 1   notify area, write only, one 4 KiB page per vring: any write
 *              into page i rings ring i's doorbell.  DEVICE_GET_REGION_IO_FDS
 *              hands out one eventfd per page (an 8-byte ioeventfd at the
 *              page's offset), so a client rings a doorbell with write(2)
 *              and no message.
 *   irq index 0, one vector per vring: SET_IRQS DATA_EVENTFD|ACTION_TRIGGER
 *              binds the client's call eventfds.
 *   DMA        DMA_MAP mmaps the client's fd; the device reaches guest memory
 *              and its log buffer only through these mappings, by IOVA.
 *
 * TRUST BOUNDARY: every message and fd comes from the client.  vfu_recv_msg()
 * frames them, vfu_parse() validates them (sizes, argsz, fd counts, range
 * overflow, fd size for DMA_MAP); handlers check the device's own limits
 * (region and irq numbers, ranges inside a region, overlapping mappings).
 */
#include "contrib/vdpa-simd/simd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/common/log.h"
#include "agent/common/util.h"
#include "protocol/vfio_user_io.h"

#define ULL(v) ((unsigned long long)(v))
#define IO_TIMEOUT_MS 5000
#define SIMD_VERSION_MAJOR 0
#define SIMD_VERSION_MINOR 1

/* ---- DMA mappings ---------------------------------------------------------- */

struct simd_dma *simd_dma_find(struct simd_dev *d, uint64_t iova, uint64_t size)
{
	for (unsigned i = 0; i < d->ndma; i++) {
		struct simd_dma *m = &d->dma[i];

		if (iova >= m->iova && iova - m->iova < m->size && size <= m->size - (iova - m->iova))
			return m;
	}
	return NULL;
}

bool simd_dma_covers(struct simd_dev *d, uint64_t iova, uint64_t size, uint32_t flags)
{
	while (size) {
		struct simd_dma *m = simd_dma_find(d, iova, 1);
		uint64_t piece;

		if (!m || (m->flags & flags) != flags)
			return false;
		piece = m->iova + m->size - iova;
		if (piece >= size)
			return true;
		iova += piece;
		size -= piece;
	}
	return true;
}

static void dma_release(struct simd_dma *m)
{
	if (m->hva)
		munmap(m->hva, (size_t)m->size);
	if (m->fd >= 0)
		close(m->fd);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

void simd_dma_clear(struct simd_dev *d)
{
	for (unsigned i = 0; i < d->ndma; i++)
		dma_release(&d->dma[i]);
	d->ndma = 0;
}

/* ---- handlers ------------------------------------------------------------- */

typedef int cmd_fn(struct simd_dev *d, struct vfu_msg *req, struct vfu_msg *rep);

static int cmd_version(struct simd_dev *d, struct vfu_msg *req, struct vfu_msg *rep)
{
	static char caps[200];

	if (req->u.version.major != SIMD_VERSION_MAJOR) {
		log_warning("%s: VERSION %u.%u refused: this device speaks %u.x", d->who,
			    req->u.version.major, req->u.version.minor, SIMD_VERSION_MAJOR);
		return -ENOTSUP;
	}
	snprintf(caps, sizeof(caps),
		 "{\"capabilities\":{\"max_msg_fds\":%u,\"max_data_xfer_size\":%u,"
		 "\"max_dma_maps\":%u,\"pgsizes\":%u},\"log_granularity\":%llu,"
		 "\"mailbox_batch\":true,\"mailbox_if_ok\":true}",
		 VFU_MAX_FDS, VFU_MAX_DATA, SIMD_MAX_DMA, VFU_PAGE_SIZE,
		 1ULL << d->opt->log_shift);
	rep->u.version.major = SIMD_VERSION_MAJOR;
	rep->u.version.minor = req->u.version.minor < SIMD_VERSION_MINOR ? req->u.version.minor
									 : SIMD_VERSION_MINOR;
	rep->u.version.caps = caps;
	rep->u.version.caps_len = strlen(caps);
	d->version_ok = true;
	log_info("%s: vfio-user %u.%u", d->who, rep->u.version.major, rep->u.version.minor);
	return 0;
}

static int cmd_dma_map(struct simd_dev *d, struct vfu_msg *req, struct vfu_msg *rep)
{
	const struct vfu_dma_map *a = &req->u.dma_map;
	struct simd_dma *m;
	int prot = 0;
	void *p;

	(void)rep;
	if (a->size > SIZE_MAX)
		return -ENOMEM;
	for (unsigned i = 0; i < d->ndma; i++) {
		const struct simd_dma *o = &d->dma[i];

		if (a->addr < o->iova + o->size && o->iova < a->addr + a->size) {
			log_warning("%s: DMA_MAP IOVA %#llx + %#llx overlaps the mapping at %#llx",
				    d->who, ULL(a->addr), ULL(a->size), ULL(o->iova));
			return -EEXIST;
		}
	}
	if (d->ndma >= SIMD_MAX_DMA) {
		log_warning("%s: DMA_MAP: already %u mappings", d->who, SIMD_MAX_DMA);
		return -ENOSPC;
	}
	if (a->flags & VFU_DMA_READ)
		prot |= PROT_READ;
	if (a->flags & VFU_DMA_WRITE)
		prot |= PROT_READ | PROT_WRITE; /* the device reads what it writes (logs) */
	p = mmap(NULL, (size_t)a->size, prot, MAP_SHARED, req->fds[0], (off_t)a->offset);
	if (p == MAP_FAILED) {
		int e = -errno;

		log_warning("%s: DMA_MAP IOVA %#llx: mmap: %s", d->who, ULL(a->addr),
			    strerror(-e));
		return e;
	}
	m = &d->dma[d->ndma++];
	m->iova = a->addr;
	m->size = a->size;
	m->offset = a->offset;
	m->flags = a->flags;
	m->hva = p;
	m->fd = vfu_msg_take_fd(req, 0);
	log_info("%s: DMA_MAP IOVA %#llx..%#llx (%s%s)", d->who, ULL(a->addr),
		 ULL(a->addr + a->size - 1), (a->flags & VFU_DMA_READ) ? "r" : "",
		 (a->flags & VFU_DMA_WRITE) ? "w" : "");
	return 0;
}

static int cmd_dma_unmap(struct simd_dev *d, struct vfu_msg *req, struct vfu_msg *rep)
{
	const struct vfu_dma_unmap *a = &req->u.dma_unmap;
	unsigned kept = 0, removed = 0;

	/* Whole mappings only: VFIO cannot split one. */
	for (unsigned i = 0; i < d->ndma; i++) {
		const struct simd_dma *m = &d->dma[i];
		bool inside = m->iova >= a->addr && m->size <= a->size &&
			      m->iova - a->addr <= a->size - m->size;

		if (!inside && m->iova < a->addr + a->size && a->addr < m->iova + m->size) {
			log_warning("%s: DMA_UNMAP IOVA %#llx + %#llx cuts the mapping at %#llx",
				    d->who, ULL(a->addr), ULL(a->size), ULL(m->iova));
			return -EINVAL;
		}
	}
	/* The memory goes away: nothing may DMA into it any more. */
	if (simd_dev_uses(d, a->addr, a->size))
		simd_dev_fail(d, "DMA_UNMAP of IOVA %#llx..%#llx while the device uses it",
			      ULL(a->addr), ULL(a->addr + a->size - 1));
	if (d->log_set && d->log.iova < a->addr + a->size && a->addr < d->log.iova + d->log.size) {
		bool was = simd_dev_pause(d);

		log_warning("%s: DMA_UNMAP removes the dirty log buffer: logging stops", d->who);
		simd_dev_drop_log(d);
		simd_dev_resume(d, was);
	}
	for (unsigned i = 0; i < d->ndma; i++) {
		struct simd_dma *m = &d->dma[i];

		if (m->iova >= a->addr && m->iova - a->addr < a->size) {
			dma_release(m);
			removed++;
		} else {
			d->dma[kept++] = *m;
		}
	}
	for (unsigned i = kept; i < d->ndma; i++) {
		memset(&d->dma[i], 0, sizeof(d->dma[i]));
		d->dma[i].fd = -1;
	}
	d->ndma = kept;
	log_info("%s: DMA_UNMAP IOVA %#llx + %#llx: %u mapping(s) removed", d->who,
		 ULL(a->addr), ULL(a->size), removed);
	rep->u.dma_unmap = *a;
	return 0;
}

static int cmd_device_info(struct simd_dev *d, struct vfu_msg *req, struct vfu_msg *rep)
{
	(void)d, (void)req;
	rep->u.device_info.argsz = sizeof(struct vfu_wire_device_info);
	rep->u.device_info.flags = 0;
	rep->u.device_info.num_regions = 2;
	rep->u.device_info.num_irqs = SIMD_IRQ_INDEX + 1;
	return 0;
}

static int cmd_region_info(struct simd_dev *d, struct vfu_msg *req, struct vfu_msg *rep)
{
	struct vfu_region_info *ri = &rep->u.region_info;

	ri->argsz = sizeof(struct vfu_wire_region_info);
	ri->index = req->u.region_info.index;
	switch (ri->index) {
	case VV_REGION_MAILBOX:
		ri->flags = VFU_REGION_READ | VFU_REGION_WRITE;
		ri->size = SIMD_MAILBOX_SIZE;
		break;
	case VV_REGION_NOTIFY:
		ri->flags = VFU_REGION_WRITE;
		ri->size = (uint64_t)d->nvrings * VV_NOTIFY_STRIDE;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static int cmd_io_fds(struct simd_dev *d, struct vfu_msg *req, struct vfu_msg *rep)
{
	struct vfu_io_fds *io = &rep->u.io_fds;
	size_t need;

	io->index = req->u.io_fds.index;
	if (io->index == VV_REGION_MAILBOX)
		return 0; /* no doorbells there: count 0 */
	if (io->index != VV_REGION_NOTIFY)
		return -EINVAL;
	io->count = d->nvrings;
	need = sizeof(struct vfu_wire_io_fds) + d->nvrings * sizeof(struct vfu_wire_sub_region);
	/* Too small a buffer: the count alone, the client asks again. */
	if (req->u.io_fds.argsz < need)
		return 0;
	for (unsigned i = 0; i < d->nvrings; i++) {
		io->sub[i] = (struct vfu_sub_region){
			.offset = (uint64_t)i * VV_NOTIFY_STRIDE,
			.size = 8,
			.fd_index = i,
			.type = VFU_SUB_IOEVENTFD,
			.flags = 0,
		};
		rep->fds[i] = d->ring[i].kick_fd; /* still ours: the kernel sends copies */
	}
	io->nsub = d->nvrings;
	rep->nfds = d->nvrings;
	return 0;
}

static int cmd_irq_info(struct simd_dev *d, struct vfu_msg *req, struct vfu_msg *rep)
{
	if (req->u.irq_info.index != SIMD_IRQ_INDEX)
		return -EINVAL;
	rep->u.irq_info.argsz = sizeof(struct vfu_wire_irq_info);
	rep->u.irq_info.flags = VFU_IRQ_INFO_EVENTFD | VFU_IRQ_INFO_NORESIZE;
	rep->u.irq_info.index = SIMD_IRQ_INDEX;
	rep->u.irq_info.count = d->nvrings;
	return 0;
}

static void fire(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		(void)0; /* counter full, or the client closed its end */
}

static int cmd_set_irqs(struct simd_dev *d, struct vfu_msg *req, struct vfu_msg *rep)
{
	const struct vfu_irq_set *s = &req->u.irq_set;
	bool was;

	(void)rep;
	if (s->index != SIMD_IRQ_INDEX)
		return -EINVAL;
	if (!(s->flags & VFU_IRQ_ACTION_TRIGGER)) {
		log_warning("%s: SET_IRQS: only ACTION_TRIGGER (vectors cannot be masked)", d->who);
		return -EINVAL;
	}
	if (s->count == 0) { /* DATA_NONE, count 0: unbind every vector */
		was = simd_dev_pause(d);
		for (unsigned i = 0; i < d->nvrings; i++) {
			if (d->ring[i].call_fd >= 0)
				close(d->ring[i].call_fd);
			d->ring[i].call_fd = -1;
		}
		log_info("%s: irqs: every vector unbound", d->who);
		return simd_dev_resume(d, was);
	}
	if (s->start >= d->nvrings || s->count > d->nvrings - s->start) {
		log_warning("%s: SET_IRQS: vectors %u..%u, the device has %u", d->who, s->start,
			    s->start + s->count - 1, d->nvrings);
		return -EINVAL;
	}
	if (s->flags & VFU_IRQ_DATA_NONE) { /* fire them: a loopback test of the vectors */
		for (unsigned i = 0; i < s->count; i++)
			fire(d->ring[s->start + i].call_fd);
		return 0;
	}
	if (s->flags & VFU_IRQ_DATA_BOOL) {
		for (unsigned i = 0; i < s->count; i++)
			if (s->bools[i])
				fire(d->ring[s->start + i].call_fd);
		return 0;
	}
	/* DATA_EVENTFD: the workers read the call fds, swap them while stopped. */
	was = simd_dev_pause(d);
	for (unsigned i = 0; i < s->count; i++) {
		struct simd_ring *r = &d->ring[s->start + i];

		if (r->call_fd >= 0)
			close(r->call_fd);
		r->call_fd = vfu_msg_take_fd(req, i);
	}
	log_info("%s: irqs: vectors %u..%u bound", d->who, s->start, s->start + s->count - 1);
	return simd_dev_resume(d, was);
}

static int cmd_region_read(struct simd_dev *d, struct vfu_msg *req, struct vfu_msg *rep)
{
	const struct vfu_region_access *a = &req->u.access;
	static uint8_t data[SIMD_MAILBOX_SIZE];

	if (a->region != VV_REGION_MAILBOX)
		return -EINVAL; /* the notify area is write only */
	if (a->offset > SIMD_MAILBOX_SIZE || a->count > SIMD_MAILBOX_SIZE - a->offset)
		return -EINVAL;
	if (d->mbox_reply_len == 0)
		return -ENOMSG; /* no reply pending: nothing written, or not a request */
	memset(data, 0, sizeof(data));
	memcpy(data, d->mbox_reply, d->mbox_reply_len);
	rep->u.access = *a;
	rep->u.access.data = data + a->offset;
	return 0;
}

static int cmd_region_write(struct simd_dev *d, struct vfu_msg *req, struct vfu_msg *rep)
{
	const struct vfu_region_access *a = &req->u.access;
	uint64_t q;
	int r;

	switch (a->region) {
	case VV_REGION_MAILBOX:
		/* One whole request at offset 0; it runs before the write is answered. */
		if (a->offset != 0) {
			log_warning("%s: mailbox write at offset %llu: requests go at offset 0",
				    d->who, ULL(a->offset));
			return -EINVAL;
		}
		if (a->count > SIMD_MAILBOX_SIZE) {
			log_warning("%s: mailbox write of %u bytes: the mailbox holds %u", d->who,
				    a->count, SIMD_MAILBOX_SIZE);
			return -EINVAL;
		}
		r = simd_mailbox_write(d, a->data, a->count);
		if (r < 0)
			return r;
		break;
	case VV_REGION_NOTIFY:
		q = a->offset / VV_NOTIFY_STRIDE;
		if (q >= d->nvrings || a->count > VV_NOTIFY_STRIDE - a->offset % VV_NOTIFY_STRIDE)
			return -EINVAL;
		fire(d->ring[q].kick_fd);
		break;
	default:
		return -EINVAL;
	}
	rep->u.access = *a;
	rep->u.access.data = NULL;
	return 0;
}

struct simd_cmd {
	cmd_fn *fn;
	bool before_version; /* allowed before VERSION */
};

/* Sizes, fds and ranges are vfu_parse()'s; these are the device's handlers. */
static const struct simd_cmd simd_cmds[VFU_CMD_MAX + 1] = {
	[VFU_CMD_VERSION] = { .fn = cmd_version, .before_version = true },
	[VFU_CMD_DMA_MAP] = { .fn = cmd_dma_map },
	[VFU_CMD_DMA_UNMAP] = { .fn = cmd_dma_unmap },
	[VFU_CMD_DEVICE_GET_INFO] = { .fn = cmd_device_info },
	[VFU_CMD_DEVICE_GET_REGION_INFO] = { .fn = cmd_region_info },
	[VFU_CMD_DEVICE_GET_REGION_IO_FDS] = { .fn = cmd_io_fds },
	[VFU_CMD_DEVICE_GET_IRQ_INFO] = { .fn = cmd_irq_info },
	[VFU_CMD_DEVICE_SET_IRQS] = { .fn = cmd_set_irqs },
	[VFU_CMD_REGION_READ] = { .fn = cmd_region_read },
	[VFU_CMD_REGION_WRITE] = { .fn = cmd_region_write },
};

/* ---- the connection ------------------------------------------------------- */

/* Replies held back while commands wait (see send_reply()). */
#define REPLY_CORK (64u << 10)

struct conn_bufs {
	struct vfu_io_msg in;
	uint8_t out[VFU_MAX_MSG];
	struct vfu_msg req, rep;
	uint8_t cork[REPLY_CORK];
	size_t cork_len;
};

/* The replies held back go out, in one send.  <0: close. */
static int flush_replies(int sock, struct conn_bufs *b)
{
	size_t len = b->cork_len;

	b->cork_len = 0;
	return len ? vfu_send_msg(sock, IO_TIMEOUT_MS, b->cork, len, NULL, 0) : 0;
}

/*
 * A reply (len bytes at b->out, fds with it) is held back while more
 * commands wait, and they all go in one send once none does
 * (simd_serve()): a client that sends a flight of commands is woken once
 * for their replies, not once per reply.  One with fds goes at once, after
 * those held (its fds travel with its own first byte).
 */
static int send_reply(int sock, struct conn_bufs *b, size_t len, const int *fds, size_t nfds)
{
	int r;

	if ((nfds || b->cork_len + len > sizeof(b->cork)) && (r = flush_replies(sock, b)) < 0)
		return r;
	if (nfds || len > sizeof(b->cork))
		return vfu_send_msg(sock, IO_TIMEOUT_MS, b->out, len, fds, nfds);
	memcpy(b->cork + b->cork_len, b->out, len);
	b->cork_len += len;
	return 0;
}

/* The message in b->in: handled, its reply (if any) sent.  <0: close. */
static int serve_msg(struct simd_dev *d, int sock, struct conn_bufs *b)
{
	unsigned long long wall = 0;
	struct msg_err err;
	uint64_t t0 = 0;
	size_t len;
	int r;

	r = vfu_parse(b->in.buf, b->in.len, b->in.fds, b->in.nfds, &b->req, &err);
	if (r < 0) {
		struct vfu_wire_hdr h;

		log_warning("%s: bad message: %s", d->who, err.reason);
		/* The stream is intact (framing was fine): refuse this one command. */
		memcpy(&h, b->in.buf, sizeof(h));
		if ((h.flags & VFU_FLAG_TYPE_MASK) != VFU_TYPE_COMMAND)
			return 0;
		if (vfu_encode_error(h.msg_id, h.command, r < -(int)VFU_MAX_ERRNO ? -EINVAL : r,
				     b->out, sizeof(b->out), &len) < 0)
			return -EIO;
		return send_reply(sock, b, len, NULL, 0);
	}
	if (vfu_msg_is_reply(&b->req)) {
		log_warning("%s: unexpected %s reply from the client", d->who,
			    vfu_command_name(b->req.command));
		vfu_msg_close(&b->req);
		return 0;
	}
	vfu_reply_init(&b->rep, &b->req);
	/* At debug level, a line per command: when it was served, on the wall clock. */
	if (log_get_level() >= LOG_LVL_DEBUG) {
		wall = log_wall_us();
		t0 = mono_ns();
	}
	/* vfu_parse() passes only commands in its table: the index is in range. */
	if (!simd_cmds[b->req.command].fn) {
		r = -EOPNOTSUPP; /* known to the codec, not served by this device */
	} else if (!d->version_ok && !simd_cmds[b->req.command].before_version) {
		log_warning("%s: %s before VERSION", d->who, vfu_command_name(b->req.command));
		r = -EINVAL;
	} else {
		r = simd_cmds[b->req.command].fn(d, &b->req, &b->rep);
	}
	if (wall)
		log_debug("%s: %s at " LOG_WALL_FMT ", done in %llu us", d->who,
			  vfu_command_name(b->req.command), LOG_WALL_ARGS(wall),
			  (unsigned long long)(mono_ns() - t0) / 1000u);
	vfu_msg_close(&b->req);
	if (b->req.flags & VFU_FLAG_NO_REPLY)
		return 0;
	if (r < 0) {
		if (vfu_encode_error(b->req.msg_id, b->req.command,
				     r < -(int)VFU_MAX_ERRNO ? -EIO : r, b->out, sizeof(b->out),
				     &len) < 0)
			return -EIO;
		return send_reply(sock, b, len, NULL, 0);
	}
	r = vfu_encode(&b->rep, b->out, sizeof(b->out), &len, &err);
	if (r < 0) {
		log_err("%s: cannot encode the %s reply: %s", d->who,
			vfu_command_name(b->rep.command), err.reason);
		return r;
	}
	return send_reply(sock, b, len, b->rep.fds, b->rep.nfds);
}

/*
 * One message in, at most one reply out: 1 when one was served, 0 when
 * none was waiting, <0 when the connection must close.
 */
static int serve_one(struct simd_dev *d, int sock, struct conn_bufs *b)
{
	ssize_t got;
	int r;

	got = vfu_recv_msg(sock, IO_TIMEOUT_MS, &b->in);
	if (got == -EAGAIN)
		return 0;
	if (got <= 0)
		return got == 0 ? -ECONNRESET : (int)got;
	r = serve_msg(d, sock, b);
	return r < 0 ? r : 1;
}

int simd_serve(struct simd_dev *d, int sock, int listen_fd, volatile int *quit)
{
	struct conn_bufs *b = calloc(1, sizeof(*b));
	int r = 0;

	if (!b)
		return -ENOMEM;
	while (!*quit) {
		struct pollfd pfd[2] = {
			{ .fd = sock, .events = POLLIN },
			{ .fd = listen_fd, .events = POLLIN },
		};

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (pfd[1].revents & POLLIN) {
			/* One client at a time: a second one is turned away. */
			int extra = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (extra >= 0) {
				log_warning("%s: busy: a second client was refused", d->who);
				close(extra);
			}
		}
		/*
		 * A client sends its commands in bursts: serve every one that
		 * waits before polling again (a poll per command was a system
		 * call per command, at a VM's cost, inside a migration's
		 * downtime).
		 */
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			log_hold();
			while ((r = serve_one(d, sock, b)) > 0 && !*quit)
				;
			/*
			 * None waits: the replies go, then the threads of a
			 * start wake, a stop's guest memory is unmapped and
			 * the lines logged meanwhile are written (they would
			 * only delay the replies: a stop logs one per ring).
			 */
			if (r >= 0)
				r = flush_replies(sock, b);
			if (log_get_level() >= LOG_LVL_DEBUG) {
				unsigned long long wall = log_wall_us();

				log_debug("%s: replies sent by " LOG_WALL_FMT, d->who,
					  LOG_WALL_ARGS(wall));
			}
			simd_dev_after_replies(d);
			log_release();
			if (r < 0)
				break;
		}
	}
	free(b);
	return r == -ECONNRESET ? 0 : r;
}
