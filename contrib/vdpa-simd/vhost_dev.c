// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa-simd: the vhost requests a client writes into the mailbox (region
 * 0), and the device state they drive: features, memory, rings, the dirty
 * log, start and stop.
 *
 * TRUST BOUNDARY: the mailbox bytes come from the vfio-user client.
 * vv_parse() is the single validator (sizes, ring indexes below our vring
 * count, alignment, overflow); the table below adds who may send what when
 * (owner, stopped); handlers then judge only the device's own rules (is it
 * DMA-mapped, is the feature offered, does the granularity match).
 *
 * Ring state rules, which the agent relies on:
 *  - SET_VRING_NUM/ADDR/BASE and GET_VRING_BASE need the device stopped.
 *    While it runs, GET_VRING_BASE is the health probe: EBUSY for a healthy
 *    ring, EIO for a broken one (a DMA fault) or a failed device.
 *  - DEVICE_SET_STATE stop joins every worker before it returns: after its
 *    reply no DMA happens, and GET_VRING_BASE answers the next avail index.
 *  - LOG_ALL and SET_LOG_BASE_IOVA may change while the device runs: the
 *    workers are stopped and started around the change, the rings go on
 *    from where they were.
 */
#include "contrib/vdpa-simd/simd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/common/log.h"
#include "protocol/msg_table.h"

#define ULL(v) ((unsigned long long)(v))

uint64_t simd_dev_features(const struct simd_dev *d)
{
	uint64_t f = SIMD_BIT(SIMD_F_VERSION_1) | SIMD_BIT(SIMD_F_MRG_RXBUF) |
		     SIMD_BIT(SIMD_F_INDIRECT_DESC) | SIMD_BIT(SIMD_F_EVENT_IDX) |
		     SIMD_BIT(SIMD_F_LOG_ALL);

	if (d->nqp > 1)
		f |= SIMD_BIT(SIMD_F_MQ);
	return f;
}

/* ---- the data-path view of memory -------------------------------------- */

/*
 * Adds [iova, iova + size) to mem, one guest_mem region per DMA mapping it
 * crosses, addressed by IOVA (ring addresses and descriptors are IOVAs for
 * the device).  -EFAULT if some byte is not mapped for read and write.
 */
static int mem_add_range(struct simd_dev *d, struct guest_mem *mem, uint64_t iova,
			 uint64_t size)
{
	while (size) {
		struct simd_dma *m = simd_dma_find(d, iova, 1);
		uint64_t piece;
		int fd, r;

		if (!m || (m->flags & (VFU_DMA_READ | VFU_DMA_WRITE)) !=
				  (VFU_DMA_READ | VFU_DMA_WRITE))
			return -EFAULT;
		piece = m->iova + m->size - iova;
		if (piece > size)
			piece = size;
		fd = fcntl(m->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		r = guest_mem_add(mem, iova, piece, iova, m->offset + (iova - m->iova), &fd);
		if (r < 0)
			return r;
		iova += piece;
		size -= piece;
	}
	return 0;
}

/* The memory table's IOVA ranges; without one, every read/write mapping. */
static int build_mem(struct simd_dev *d)
{
	int r = 0;

	guest_mem_clear(&d->mem);
	if (d->nmt) {
		for (unsigned i = 0; i < d->nmt && r == 0; i++)
			r = mem_add_range(d, &d->mem, d->mt[i].userspace_addr,
					  d->mt[i].memory_size);
	} else {
		for (unsigned i = 0; i < d->ndma && r == 0; i++) {
			const struct simd_dma *m = &d->dma[i];

			if (d->log_set && m->iova <= d->log.iova &&
			    d->log.iova - m->iova < m->size)
				continue; /* the log buffer is not guest memory */
			if ((m->flags & VFU_DMA_WRITE) && (m->flags & VFU_DMA_READ))
				r = mem_add_range(d, &d->mem, m->iova, m->size);
		}
	}
	if (r < 0)
		guest_mem_clear(&d->mem);
	return r;
}

/* ---- start, stop, fail, pause ------------------------------------------ */

static void set_carrier(struct simd_dev *d, bool on)
{
	int r = endpoint_set_carrier(d->ep, on);

	if (r < 0)
		log_warning("%s: cannot set the wire's link %s: %s", d->who, on ? "up" : "down",
			    strerror(-r));
}

static bool ring_configured(const struct simd_ring *r)
{
	return r->has_num && r->has_addr;
}

static void dev_stop(struct simd_dev *d)
{
	if (d->state != SIMD_RUNNING)
		return;
	simd_workers_stop(d);
	for (unsigned i = 0; i < d->nvrings; i++) {
		struct simd_ring *r = &d->ring[i];

		if (!r->started)
			continue;
		r->base = vq_get_base(&r->vq);
		r->started = false;
		vq_reset(&r->vq);
		log_info("%s: ring %u stopped at avail index %u", d->who, i, r->base);
	}
	for (unsigned q = 0; q < d->nqp; q++)
		d->w[q].rx_pending = false;
	/*
	 * No worker touches guest memory any more; unmapping it (a TLB
	 * shootdown: 60-70 us p50 inside the stop in bench_downtime) waits
	 * until the reply is out (simd_dev_after_replies()).
	 */
	guest_mem_clear(&d->mem_old);
	d->mem_old = d->mem;
	guest_mem_init(&d->mem);
	set_carrier(d, false);
	d->state = SIMD_STOPPED;
}

static int dev_start(struct simd_dev *d)
{
	uint32_t flags = 0;
	unsigned n = 0;
	int r;

	if (d->state == SIMD_RUNNING)
		return 0;
	for (unsigned i = 0; i < d->nvrings; i++)
		n += ring_configured(&d->ring[i]);
	if (n == 0) {
		log_warning("%s: start refused: no ring has a size and addresses", d->who);
		return -EINVAL;
	}
	r = build_mem(d);
	if (r < 0) {
		log_warning("%s: start refused: guest memory is not DMA-mapped for read and write: %s",
			    d->who, strerror(-r));
		return r;
	}
	if (d->features & SIMD_BIT(SIMD_F_EVENT_IDX))
		flags |= VQ_F_EVENT_IDX;
	if (d->features & SIMD_BIT(SIMD_F_INDIRECT_DESC))
		flags |= VQ_F_INDIRECT;
	for (unsigned i = 0; i < d->nvrings; i++) {
		struct simd_ring *ring = &d->ring[i];

		if (!ring_configured(ring))
			continue;
		/* No VQ_F_LOG: this kind of device never logs its used rings. */
		r = vq_setup(&ring->vq, &d->mem, ring->num, ring->addr.desc_user_addr,
			     ring->addr.avail_user_addr, ring->addr.used_user_addr, 0, flags,
			     ring->base);
		if (r < 0) {
			log_warning("%s: start refused: ring %u: %s", d->who, i,
				    vq_reason(&ring->vq));
			goto fail;
		}
		ring->started = true;
		ring->err_reported = false;
		if (i % 2 == 0)
			endpoint_drain(d->ep, i / 2); /* stale frames for a new receiver */
	}
	r = simd_workers_start(d);
	if (r < 0)
		goto fail;
	d->state = SIMD_RUNNING;
	d->fail_reason[0] = '\0';
	set_carrier(d, true);
	for (unsigned i = 0; i < d->nvrings; i++)
		if (d->ring[i].started)
			log_info("%s: ring %u started at avail index %u", d->who, i,
				 d->ring[i].base);
	return 0;
fail:
	for (unsigned i = 0; i < d->nvrings; i++) {
		d->ring[i].started = false;
		vq_reset(&d->ring[i].vq);
	}
	guest_mem_clear(&d->mem);
	return r;
}

void simd_dev_fail(struct simd_dev *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->fail_reason, sizeof(d->fail_reason), fmt, ap);
	va_end(ap);
	log_err("%s: device error, stopping the device: %s", d->who, d->fail_reason);
	dev_stop(d);
	d->state = SIMD_FAILED;
}

bool simd_dev_pause(struct simd_dev *d)
{
	if (d->state != SIMD_RUNNING)
		return false;
	simd_workers_stop(d);
	return true;
}

int simd_dev_resume(struct simd_dev *d, bool was_running)
{
	int r;

	if (!was_running)
		return 0;
	r = simd_workers_start(d);
	if (r < 0)
		simd_dev_fail(d, "cannot restart the data path: %s", strerror(-r));
	return r;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

bool simd_dev_uses(const struct simd_dev *d, uint64_t iova, uint64_t size)
{
	if (d->state != SIMD_RUNNING)
		return false;
	for (unsigned i = 0; i < d->mem.nregions; i++)
		if (overlaps(iova, size, d->mem.r[i].gpa, d->mem.r[i].size))
			return true;
	if (d->dlog && (d->features & SIMD_BIT(SIMD_F_LOG_ALL)) &&
	    overlaps(iova, size, d->log.iova, d->log.size))
		return true;
	return false;
}

void simd_dev_drop_log(struct simd_dev *d)
{
	dirtylog_free(d->dlog);
	d->dlog = NULL;
	d->log_set = false;
}

/* ---- request handlers ---------------------------------------------------- */

static int req_get_features(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep)
{
	(void)req;
	rep->u.u64 = simd_dev_features(d);
	return 0;
}

static int req_set_features(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep)
{
	uint64_t f = req->u.u64, log = SIMD_BIT(SIMD_F_LOG_ALL), extra;
	bool was;
	int r;

	(void)rep;
	extra = f & ~simd_dev_features(d);
	if (extra) {
		log_warning("%s: SET_FEATURES: bits %#llx were not offered", d->who, ULL(extra));
		return -EINVAL;
	}
	if (d->state == SIMD_RUNNING && ((f ^ d->features) & ~log)) {
		log_warning("%s: SET_FEATURES: only LOG_ALL may change while the device runs",
			    d->who);
		return -EBUSY;
	}
	if ((f ^ d->features) & log)
		log_info("%s: dirty logging %s%s", d->who, (f & log) ? "on" : "off",
			 (f & log) && !d->dlog ? " (no log base yet)" : "");
	/* The workers read LOG_ALL when they start: restart them around it. */
	was = simd_dev_pause(d);
	d->features = f;
	r = simd_dev_resume(d, was);
	return r;
}

static int req_set_owner(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep)
{
	(void)req, (void)rep;
	if (d->owner)
		return -EBUSY;
	d->owner = true;
	return 0;
}

static int req_reset_owner(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep)
{
	(void)req, (void)rep;
	dev_stop(d);
	d->state = SIMD_STOPPED;
	d->owner = false;
	d->features = 0;
	d->nmt = 0;
	simd_dev_drop_log(d);
	for (unsigned i = 0; i < d->nvrings; i++) {
		struct simd_ring *r = &d->ring[i];

		r->has_num = r->has_addr = false;
		r->base = 0;
		vq_init(&r->vq);
	}
	log_info("%s: RESET_OWNER: device reset (DMA mappings and irqs kept)", d->who);
	return 0;
}

static int req_set_mem_table(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep)
{
	bool running = d->state == SIMD_RUNNING;
	int r;

	(void)rep;
	for (uint32_t i = 0; i < req->u.mem.nregions; i++) {
		const struct vv_mem_region *m = &req->u.mem.regions[i];

		if (!simd_dma_covers(d, m->userspace_addr, m->memory_size,
				     VFU_DMA_READ | VFU_DMA_WRITE)) {
			log_warning("%s: SET_MEM_TABLE: region %u (IOVA %#llx, %#llx bytes) is not DMA-mapped for read and write",
				    d->who, i, ULL(m->userspace_addr), ULL(m->memory_size));
			return -EFAULT;
		}
	}
	/* A new table under running rings: stop, swap, start at the same indexes. */
	if (running)
		dev_stop(d);
	d->nmt = req->u.mem.nregions;
	memcpy(d->mt, req->u.mem.regions, d->nmt * sizeof(d->mt[0]));
	log_info("%s: memory table: %u region(s)", d->who, d->nmt);
	if (running) {
		r = dev_start(d);
		if (r < 0) {
			simd_dev_fail(d, "rings do not fit the new memory table");
			return r;
		}
	}
	return 0;
}

static int req_set_vring_num(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep)
{
	struct simd_ring *r = &d->ring[req->u.state.index];

	(void)rep;
	r->num = req->u.state.num;
	r->has_num = true;
	return 0;
}

static int req_set_vring_addr(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep)
{
	struct simd_ring *r = &d->ring[req->u.addr.index];

	(void)rep;
	/* Bit 0 (log the used ring) is accepted and ignored: the driver logs it. */
	r->addr = req->u.addr;
	r->has_addr = true;
	return 0;
}

static int req_set_vring_base(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep)
{
	(void)rep;
	d->ring[req->u.state.index].base = (uint16_t)req->u.state.num;
	return 0;
}

static int req_get_vring_base(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep)
{
	unsigned i = req->u.state.index;
	struct simd_ring *r = &d->ring[i];

	if (d->state == SIMD_FAILED)
		return -EIO;
	if (d->state == SIMD_RUNNING)
		return r->started && vq_is_broken(&r->vq) ? -EIO : -EBUSY;
	rep->u.state.index = i;
	rep->u.state.num = r->base;
	return 0;
}

static int req_set_log_base(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep)
{
	const struct vv_log *l = &req->u.log;
	struct dirtylog *log;
	struct simd_dma *m;
	bool was;
	int r;

	(void)rep;
	if (l->granularity_shift != d->opt->log_shift) {
		log_warning("%s: SET_LOG_BASE_IOVA: granularity %llu bytes, this device logs at %llu",
			    d->who, 1ULL << l->granularity_shift, 1ULL << d->opt->log_shift);
		return -EINVAL;
	}
	m = simd_dma_find(d, l->iova, l->size);
	if (!m || !(m->flags & VFU_DMA_WRITE)) {
		log_warning("%s: SET_LOG_BASE_IOVA: IOVA %#llx + %#llx is not inside one writable DMA mapping",
			    d->who, ULL(l->iova), ULL(l->size));
		return -EFAULT;
	}
	if ((uintptr_t)(m->hva + (l->iova - m->iova)) % 8)
		return -EINVAL;
	r = dirtylog_wrap(m->hva + (l->iova - m->iova), (size_t)l->size, l->granularity_shift,
			  &log);
	if (r < 0)
		return r;
	/* The workers flush their caches into the old log as they stop. */
	was = simd_dev_pause(d);
	dirtylog_free(d->dlog);
	d->dlog = log;
	d->log = *l;
	d->log_set = true;
	log_info("%s: dirty log at IOVA %#llx, %llu bytes, %llu bytes per bit", d->who,
		 ULL(l->iova), ULL(l->size), 1ULL << l->granularity_shift);
	return simd_dev_resume(d, was);
}

/*
 * Starts and stops that changed the device's state, counted over the
 * simulator's life and logged as they happen ("device start #N", "device
 * stop #N"): tests count how often a driver stops and starts the device,
 * e.g. once each per switchover.
 */
static uint64_t simd_starts, simd_stops;

static int req_set_state(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep)
{
	bool was_running = d->state == SIMD_RUNNING;
	int r;

	(void)rep;
	if (req->u.u64 == VV_STATE_START) {
		r = dev_start(d);
		if (r == 0 && !was_running)
			log_info("%s: device start #%llu", d->who, ULL(++simd_starts));
		return r;
	}
	if (d->state == SIMD_FAILED)
		log_info("%s: stop acknowledges the device error (%s)", d->who, d->fail_reason);
	dev_stop(d);
	d->state = SIMD_STOPPED;
	if (was_running)
		log_info("%s: device stop #%llu", d->who, ULL(++simd_stops));
	return 0;
}

/* ---- the request table --------------------------------------------------- */

enum {
	R_OWNER = 1u << 0,   /* needs SET_OWNER first (EPERM), as the kernel's vhost */
	R_STOPPED = 1u << 1, /* refused with EBUSY while the device runs */
};

typedef int req_fn(struct simd_dev *d, const struct vv_msg *req, struct vv_msg *rep);

struct simd_req {
	uint64_t request;
	unsigned rules;
	req_fn *fn;
};

/*
 * Sizes and ranges are vv_parse()'s; these are the device's rules.  The
 * ioctl numbers are too sparse to index by: rows are found by .request.
 */
static const struct simd_req simd_reqs[] = {
	{ .request = VV_REQ_GET_FEATURES, .fn = req_get_features },
	{ .request = VV_REQ_SET_FEATURES, .rules = R_OWNER, .fn = req_set_features },
	{ .request = VV_REQ_SET_OWNER, .fn = req_set_owner },
	{ .request = VV_REQ_RESET_OWNER, .rules = R_OWNER, .fn = req_reset_owner },
	{ .request = VV_REQ_SET_MEM_TABLE, .rules = R_OWNER, .fn = req_set_mem_table },
	{ .request = VV_REQ_SET_VRING_NUM, .rules = R_OWNER | R_STOPPED,
	  .fn = req_set_vring_num },
	{ .request = VV_REQ_SET_VRING_ADDR, .rules = R_OWNER | R_STOPPED,
	  .fn = req_set_vring_addr },
	{ .request = VV_REQ_SET_VRING_BASE, .rules = R_OWNER | R_STOPPED,
	  .fn = req_set_vring_base },
	{ .request = VV_REQ_GET_VRING_BASE, .rules = R_OWNER, .fn = req_get_vring_base },
	{ .request = VV_REQ_SET_LOG_BASE_IOVA, .rules = R_OWNER, .fn = req_set_log_base },
	{ .request = VV_REQ_DEVICE_SET_STATE, .rules = R_OWNER, .fn = req_set_state },
};

/*
 * Returns 0 when the request was executed (its outcome, success or errno,
 * is the reply in the mailbox), or a negative errno for the REGION_WRITE
 * itself: the bytes are no request (no reply is left), or the request
 * failed and its sender asked for no reply, so it learns here.
 */
/*
 * One request (len bytes at buf, parsed into *ret_req) run, its reply
 * encoded at out (room for VV_REPLY_SIZE): 0, *out_len and *status (the
 * request's result) set.  < 0 when there is no reply: the request did not
 * parse, or its reply could not be encoded.  cancel: a request of the
 * same batch before it failed; one flagged VV_FLAG_IF_OK is then refused
 * (ECANCELED) without being run.
 */
static int run_request(struct simd_dev *d, const uint8_t *buf, size_t len, uint8_t *out,
		       size_t *out_len, struct vv_msg *ret_req, int *status, bool cancel)
{
	struct vv_parse_ctx ctx = { .max_vrings = d->nvrings };
	const struct simd_req *h;
	struct vv_msg *req = ret_req, rep;
	struct msg_err err;
	int r, e;

	r = vv_parse(buf, len, &ctx, req, &err);
	if (r < 0) {
		log_warning("%s: mailbox: %s", d->who, err.reason);
		return r;
	}
	if (vv_msg_is_reply(req)) {
		log_warning("%s: mailbox: a reply (%s) written as a request", d->who,
			    vv_request_name(req->request));
		return -EINVAL;
	}
	h = MSG_FIND(simd_reqs, request, req->request);
	vv_reply_init(&rep, req);
	if (!h)
		r = -EOPNOTSUPP; /* known to the codec, not served by this device */
	else if (cancel && (req->flags & VV_FLAG_IF_OK))
		r = -ECANCELED;
	else if ((h->rules & R_OWNER) && !d->owner)
		r = -EPERM;
	else if ((h->rules & R_STOPPED) && d->state == SIMD_RUNNING)
		r = -EBUSY;
	else
		r = h->fn(d, req, &rep);
	/* GET_VRING_BASE on a running device is the health probe: not news. */
	if (r < 0 && req->request != VV_REQ_GET_VRING_BASE)
		log_warning("%s: %s refused: %s", d->who, vv_request_name(req->request),
			    strerror(-r));
	else
		log_debug("%s: %s: %s", d->who, vv_request_name(req->request),
			  r < 0 ? strerror(-r) : "ok");
	if (r < -(int)VV_MAX_ERRNO)
		r = -EIO;
	rep.status = r;
	if (r < 0)
		memset(&rep.u, 0, sizeof(rep.u));
	e = vv_encode(&rep, &ctx, out, VV_REPLY_SIZE, out_len, &err);
	if (e < 0) {
		log_err("%s: mailbox: cannot encode the %s reply: %s", d->who,
			vv_request_name(req->request), err.reason);
		return -EIO;
	}
	*status = r;
	return 0;
}

/*
 * A batch (protocol/vhost_vfio.h): every message whole, parsed, with a
 * reply, and room for the replies; checked before any runs.  Returns how
 * many, or < 0.
 */
static int batch_check(struct simd_dev *d, const uint8_t *buf, size_t len)
{
	struct vv_parse_ctx ctx = { .max_vrings = d->nvrings };
	struct msg_err err;
	struct vv_msg m;
	size_t off = 0, n;
	int k = 0, r;

	while (off < len) {
		if ((r = vv_msg_size(buf + off, len - off, &n)) < 0) {
			log_warning("%s: mailbox: message %d of a batch is cut short", d->who,
				    k + 1);
			return r;
		}
		if ((r = vv_parse(buf + off, n, &ctx, &m, &err)) < 0) {
			log_warning("%s: mailbox: message %d of a batch: %s", d->who, k + 1,
				    err.reason);
			return r;
		}
		if (!vv_expects_reply(&m)) {
			log_warning("%s: mailbox: %s in a batch asks for no reply: the batch is "
				    "refused", d->who, vv_request_name(m.request));
			return -EINVAL;
		}
		off += n;
		k++;
	}
	if ((size_t)k * VV_REPLY_SIZE > sizeof(d->mbox_reply)) {
		log_warning("%s: mailbox: the replies of a batch of %d do not fit the mailbox",
			    d->who, k);
		return -ENOSPC;
	}
	return k;
}

int simd_mailbox_write(struct simd_dev *d, const uint8_t *buf, size_t len)
{
	struct vv_msg req;
	size_t n, first = len;
	bool failed;
	int r, k, status;

	d->mbox_reply_len = 0;
	d->mbox_writes++;
	/* One message (a batch of one is one), or a batch. */
	if (vv_msg_size(buf, len, &first) < 0 || first == len) {
		r = run_request(d, buf, len, d->mbox_reply, &n, &req, &status, false);
		if (r < 0)
			return r;
		d->mbox_requests++;
		if (status < 0 && !vv_expects_reply(&req))
			return status;	/* no reply to carry it: the write is refused */
		d->mbox_reply_len = n;
		return 0;
	}
	k = batch_check(d, buf, len);
	if (k < 0)
		return k;
	failed = false;
	for (size_t off = 0; off < len; off += n) {
		size_t m;

		(void)vv_msg_size(buf + off, len - off, &n);
		r = run_request(d, buf + off, n, d->mbox_reply + d->mbox_reply_len, &m, &req,
				&status, failed);
		if (r < 0) {
			d->mbox_reply_len = 0;	/* no reply of the batch is read */
			return r;
		}
		d->mbox_requests++;
		d->mbox_reply_len += m;
		failed |= status < 0;
	}
	return 0;
}

/* ---- life cycle ---------------------------------------------------------- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void simd_dev_after_replies(struct simd_dev *d)
{
	simd_workers_release(d);
	guest_mem_clear(&d->mem_old);
}

int simd_dev_reset(struct simd_dev *d)
{
	dev_stop(d);
	simd_dev_drop_log(d);
	simd_dma_clear(d);
	guest_mem_clear(&d->mem);
	guest_mem_clear(&d->mem_old);
	d->version_ok = false;
	d->owner = false;
	d->features = 0;
	d->nmt = 0;
	d->state = SIMD_STOPPED;
	d->fail_reason[0] = '\0';
	d->mbox_reply_len = 0;
	for (unsigned i = 0; i < d->nvrings; i++) {
		struct simd_ring *r = &d->ring[i];

		r->has_num = r->has_addr = false;
		r->base = 0;
		r->started = false;
		vq_init(&r->vq);
		close_fd(&r->call_fd);
		/* New doorbells: a previous client's copies must ring nothing. */
		close_fd(&r->kick_fd);
		r->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (r->kick_fd < 0)
			return -errno;
	}
	return 0;
}

int simd_dev_init(struct simd_dev *d, const struct simd_options *opt, struct endpoint *ep)
{
	memset(d, 0, sizeof(*d));
	d->opt = opt;
	d->ep = ep;
	d->nqp = opt->queues;
	d->nvrings = 2 * opt->queues;
	snprintf(d->who, sizeof(d->who), "device");
	guest_mem_init(&d->mem);
	guest_mem_init(&d->mem_old);
	for (unsigned i = 0; i < SIMD_MAX_VRINGS; i++) {
		d->ring[i].call_fd = -1;
		d->ring[i].kick_fd = -1;
		vq_init(&d->ring[i].vq);
	}
	for (unsigned i = 0; i < SIMD_MAX_DMA; i++)
		d->dma[i].fd = -1;
	for (unsigned q = 0; q < SIMD_MAX_QP; q++)
		simd_worker_init(&d->w[q], d, q);
	return simd_dev_reset(d);
}

void simd_dev_destroy(struct simd_dev *d)
{
	simd_dev_reset(d);
	for (unsigned i = 0; i < d->nvrings; i++)
		close_fd(&d->ring[i].kick_fd);
	for (unsigned q = 0; q < SIMD_MAX_QP; q++)
		simd_worker_destroy(&d->w[q]);
}
