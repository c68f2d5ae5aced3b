/*
 * vhost-user device state machine; see vu_dev.h.
 *
 * Messages arrive already validated (sizes, fd counts, ranges), so handlers
 * here check only what depends on the device's state: a ring's size before
 * its addresses, memory before a ring can start, and so on.  Changes to
 * state the data path reads (memory table, log, a running ring's fds and
 * addresses) happen between ops->pause() and ops->resume(), so a worker
 * never sees a half-changed device.
 */
#include "agent/daemon/vu_dev.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/common/log.h"
#include "agent/common/util.h"
#include "dirtylog/dirtylog.h"
#include "dirtylog/harvest.h"

#define fail(d, e, ...) errf((d)->err, sizeof((d)->err), e, __VA_ARGS__)

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vu_dev_init(struct vu_dev *d, const char *name, uint64_t features,
		 uint64_t protocol_features, unsigned queue_pairs,
		 const struct vu_dev_ops *ops, void *opaque)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->state = VU_STATE_CONNECTED;
	d->features_offered = features;
	d->protocol_features_offered = protocol_features;
	d->nvrings = 2 * queue_pairs;
	if (d->nvrings > VU_DEV_MAX_VRINGS)
		d->nvrings = VU_DEV_MAX_VRINGS;
	d->ops = ops;
	d->opaque = opaque;
	guest_mem_init(&d->mem);
	for (unsigned i = 0; i < VU_DEV_MAX_VRINGS; i++) {
		d->ring[i].kick_fd = -1;
		d->ring[i].call_fd = -1;
		d->ring[i].err_fd = -1;
	}
}

/*
 * The ring counts as stopped either way: a data path whose stop failed has
 * given it up (or is gone).  What a failure loses is the position: base
 * still holds the last SET_VRING_BASE, and answering that would make the
 * next owner of the ring redo or skip what happened since.
 */
static int ring_stop(struct vu_dev *d, unsigned idx)
{
	struct vu_ring_cfg *r = &d->ring[idx];
	uint16_t base;
	int e;

	if (!r->started)
		return 0;
	e = d->ops->ring_stop(d->opaque, idx, &base);
	if (e == 0)
		r->base = base;
	else
		r->base_lost = true;
	r->started = false;
	return e;
}

static void stop_all(struct vu_dev *d)
{
	for (unsigned i = 0; i < d->nvrings; i++)
		(void)ring_stop(d, i);	/* everything goes: no position is kept */
}

static void pause_if_running(struct vu_dev *d, bool *paused);
static void resume_if_paused(struct vu_dev *d, bool paused);

int vu_dev_record_start(struct vu_dev *d)
{
	struct dirtylog *log;
	bool paused;
	int e;

	if (d->rec_log)
		return 0;
	if (!d->mem.nregions)
		return -ENODATA;
	e = dirtylog_new(guest_mem_span(&d->mem), DIRTYLOG_QEMU_PAGE_SHIFT, &log);
	if (e < 0)
		return e;
	pause_if_running(d, &paused);
	d->rec_log = log;
	resume_if_paused(d, paused);
	return 0;
}

void vu_dev_record_stop(struct vu_dev *d)
{
	struct dirtylog *old = d->rec_log;
	bool paused;

	if (!old)
		return;
	pause_if_running(d, &paused);
	d->rec_log = NULL;
	resume_if_paused(d, paused);
	dirtylog_free(old);
}

int vu_dev_record_take(struct vu_dev *d, void *dst, size_t dst_size, uint64_t *ret_pages)
{
	if (!d->rec_log)
		return -ENODATA;
	/* Safe against the workers' concurrent marks: nothing is lost. */
	return dirtylog_take(d->rec_log, dst, dst_size, ret_pages);
}

void vu_dev_reset(struct vu_dev *d)
{
	stop_all(d);
	dirtylog_free(d->rec_log);
	d->rec_log = NULL;
	for (unsigned i = 0; i < VU_DEV_MAX_VRINGS; i++) {
		struct vu_ring_cfg *r = &d->ring[i];
		close_fd(&r->kick_fd);
		close_fd(&r->call_fd);
		close_fd(&r->err_fd);
		memset(r, 0, sizeof(*r));
		r->kick_fd = r->call_fd = r->err_fd = -1;
	}
	mig_reset(&d->mig);
	guest_mem_clear(&d->mem);
	d->mem_gen++;
	dirtylog_free(d->log);
	d->log = NULL;
	d->log_interim = false;
	d->log_all = false;
	d->features = 0;
	d->features_set = false;
	d->protocol_features = 0;
	d->status = 0;
	d->mtu = 0;
	d->state = VU_STATE_CONNECTED;
}

static bool ring_enabled(const struct vu_dev *d, unsigned idx)
{
	return (d->features & VU_BIT(VU_F_PROTOCOL_FEATURES)) ? d->ring[idx].enabled : true;
}

/* Every ring the front end enabled has started (its engine may be waiting), one at least. */
static bool enabled_rings_started(const struct vu_dev *d)
{
	bool any = false;

	for (unsigned i = 0; i < d->nvrings; i++) {
		if (!ring_enabled(d, i))
			continue;
		if (!d->ring[i].started)
			return false;
		any = true;
	}
	return any;
}

bool vu_dev_driver_ok(const struct vu_dev *d)
{
	if (!(d->protocol_features & VU_PF(VU_PROTO_F_STATUS)) ||
	    (d->status & VU_STATUS_DRIVER_OK))
		return true;
	return d->status_read && (d->status & VU_STATUS_FEATURES_OK) &&
	       enabled_rings_started(d);
}

void vu_dev_parse_ctx(const struct vu_dev *d, struct vu_parse_ctx *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->state = d->state;
	ret->features_offered = d->features_offered;
	ret->protocol_features_offered = d->protocol_features_offered;
	ret->protocol_features = d->protocol_features;
	ret->max_vrings = d->nvrings;
}

/*
 * A ring runs once it has a size, addresses, a kick (the spec's start
 * signal) and memory, and is enabled; without PROTOCOL_FEATURES there is no
 * SET_VRING_ENABLE and rings start enabled.
 */
static bool ring_ready(const struct vu_dev *d, unsigned idx)
{
	const struct vu_ring_cfg *r = &d->ring[idx];

	/* A ring whose position was lost must not run from a made-up one. */
	return r->num && r->addr_set && r->kick_set && d->mem.nregions && ring_enabled(d, idx) &&
	       !r->base_lost;
}

static int maybe_start(struct vu_dev *d, unsigned idx)
{
	struct vu_ring_cfg *r = &d->ring[idx];
	int e;

	if (r->started || !ring_ready(d, idx))
		return 0;
	e = d->ops->ring_start(d->opaque, idx);
	if (e < 0)
		return fail(d, e, "ring %u: cannot start: %s", idx, strerror(-e));
	r->started = true;
	mig_ring_started(&d->mig, idx);
	return 0;
}

static bool any_started(const struct vu_dev *d)
{
	for (unsigned i = 0; i < d->nvrings; i++)
		if (d->ring[i].started)
			return true;
	return false;
}

int vu_dev_switch(struct vu_dev *d, const struct vu_dev_ops *ops, void *opaque)
{
	bool moved[VU_DEV_MAX_VRINGS] = { false };
	int r = 0;

	for (unsigned i = 0; i < d->nvrings; i++) {
		int e;

		moved[i] = d->ring[i].started;
		e = ring_stop(d, i);
		/* No position to restart from: the ring stays stopped. */
		if (e < 0) {
			moved[i] = false;
			if (r == 0)
				r = fail(d, e, "ring %u: cannot stop: %s", i, strerror(-e));
		}
	}
	d->ops = ops;
	d->opaque = opaque;
	for (unsigned i = 0; i < d->nvrings; i++) {
		int e;

		if (!moved[i])
			continue;
		e = maybe_start(d, i);
		if (e < 0 && r == 0)
			r = e;
	}
	/* Not inside a request: the new engine starts what it deferred now. */
	if (d->ops->settle)
		d->ops->settle(d->opaque);
	return r;
}

static void pause_if_running(struct vu_dev *d, bool *paused)
{
	*paused = any_started(d);
	if (*paused)
		d->ops->pause(d->opaque);
}

static void resume_if_paused(struct vu_dev *d, bool paused)
{
	if (paused)
		d->ops->resume(d->opaque);
}

/*
 * One handler per request, each named for it.  They run after vu_parse():
 * sizes, fd counts, ranges, offered features and the ring index are checked
 * (m->ring is below d->nvrings), so what they check is the device's state.
 * They fill *reply for requests that answer and never touch the socket:
 * port.c sends what vu_respond() says.
 */
typedef int vu_exec_fn(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply);

static int vu_get_features_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	(void)m;
	reply->u.u64 = d->features_offered;
	return 0;
}

static int vu_set_features_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	uint64_t features = m->u.u64;
	bool paused, was;

	(void)reply;
	/*
	 * The same features again change nothing (QEMU sends them once per
	 * queue pair, and again for the next pair while the earlier ones run).
	 */
	if (d->features_set && features == d->features)
		return 0;
	/* Turning LOG_ALL on or off must not stop the rings: only pause them. */
	pause_if_running(d, &paused);
	was = d->log_all;
	d->features = features;
	d->features_set = true;
	d->log_all = (features & VU_BIT(VU_F_LOG_ALL)) != 0;
	/* Logging off: the stand-in for a released log has nobody to go to. */
	if (!d->log_all && d->log_interim) {
		dirtylog_free(d->log);
		d->log = NULL;
		d->log_interim = false;
	}
	resume_if_paused(d, paused);
	if (d->log_all != was)
		log_notice("port %s: dirty logging %s%s", d->name, d->log_all ? "on" : "off",
			   d->log_all && !d->log ? " (no log yet)" : "");
	return 0;
}

static int vu_get_protocol_features_exec(struct vu_dev *d, struct vu_msg *m,
					 struct vu_reply *reply)
{
	(void)m;
	reply->u.u64 = d->protocol_features_offered;
	return 0;
}

static int vu_set_protocol_features_exec(struct vu_dev *d, struct vu_msg *m,
					 struct vu_reply *reply)
{
	(void)reply;
	d->protocol_features = m->u.u64;
	return 0;
}

static int vu_get_queue_num_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	(void)m;
	reply->u.u64 = d->nvrings / 2;
	return 0;
}

/*
 * The driver status (F_STATUS): QEMU sets ACKNOWLEDGE|DRIVER|DRIVER_OK
 * after the last queue pair's rings (an engine may wait for it to start
 * its device once) and 0 before the last queue pair's GET_VRING_BASEs.
 */
static int vu_set_status_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	(void)reply;
	d->status = (uint8_t)m->u.u64;
	return 0;
}

static int vu_get_status_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	(void)m;
	reply->u.u64 = d->status;
	return 0;
}

static int vu_get_max_mem_slots_exec(struct vu_dev *d, struct vu_msg *m,
				     struct vu_reply *reply)
{
	(void)d, (void)m;
	reply->u.u64 = GUEST_MEM_MAX_REGIONS;
	return 0;
}

static int vu_set_owner_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	(void)reply;
	d->state = vu_state_after(d->state, m->request);
	return 0;
}

static int vu_reset_owner_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	(void)m, (void)reply;
	vu_dev_reset(d);
	return 0;
}

static int vu_set_mem_table_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	struct dirtylog *own = NULL, *old = NULL;
	struct guest_mem mem;
	bool paused;
	int e;

	(void)reply;
	guest_mem_init(&mem);
	for (uint32_t i = 0; i < m->u.mem.nregions; i++) {
		const struct vu_mem_region *reg = &m->u.mem.regions[i];
		int fd = vu_msg_take_fd(m, i);

		e = guest_mem_add(&mem, reg->guest_phys_addr, reg->memory_size,
				  reg->userspace_addr, reg->mmap_offset, &fd);
		if (e < 0) {
			guest_mem_clear(&mem);
			return fail(d, e, "SET_MEM_TABLE: region %u: %s", i,
				    e == -EEXIST ? "overlaps another region" : strerror(-e));
		}
	}
	/* bench-log: a log of our own over all of guest memory, as QEMU would size it. */
	if (d->bench_log) {
		uint64_t span = guest_mem_span(&mem);

		e = dirtylog_new(span, DIRTYLOG_QEMU_PAGE_SHIFT, &own);
		if (e < 0) {
			guest_mem_clear(&mem);
			return fail(d, e, "SET_MEM_TABLE: bench-log: no log for %llu bytes: %s",
				    (unsigned long long)span, strerror(-e));
		}
	}
	pause_if_running(d, &paused);
	guest_mem_clear(&d->mem);
	d->mem = mem;
	d->mem_gen++;
	if (own) {
		old = d->log;
		d->log = own;
	}
	resume_if_paused(d, paused);
	dirtylog_free(old);
	return 0;
}

/*
 * QEMU's log outlives a ring only while QEMU holds it: vhost_dev_stop()
 * stops every ring (GET_VRING_BASE), syncs the log and drops its
 * reference, and the memory is freed when no other device holds it.  It
 * restarts the rings (a guest that reset its NIC mid-migration) and only
 * then sends SET_LOG_BASE with the log it uses now.  Marks made in between
 * into the old mapping reach nobody, and the accelerator's harvest would
 * empty the device's log into it.  So once every ring that ran has been
 * handed over the old mapping goes; while LOG_ALL is on a log of our own
 * takes its place, rather than none: a restarted ring writes guest memory
 * before SET_LOG_BASE arrives, and with no log those pages would be lost
 * to the migration.  SET_LOG_BASE merges it into the new log.
 */
static void release_log_if_quiesced(struct vu_dev *d)
{
	struct dirtylog *interim = NULL;

	if (!d->log || d->bench_log || !vu_dev_quiesced(d))
		return;
	if (d->log_interim)
		return;
	if (d->log_all && d->mem.nregions &&
	    dirtylog_new(guest_mem_span(&d->mem), DIRTYLOG_QEMU_PAGE_SHIFT, &interim) < 0)
		interim = NULL;	/* no memory: no log, as before SET_LOG_BASE */
	/* No ring runs (quiesced): nothing reads d->log now. */
	dirtylog_free(d->log);
	d->log = interim;
	d->log_interim = interim != NULL;
	log_info("port %s: every ring stopped: QEMU's dirty log released%s", d->name,
		 interim ? "; logging into our own until SET_LOG_BASE" : "");
}

static int vu_set_log_base_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	struct dirtylog *log, *old;
	int fd = vu_msg_take_fd(m, 0);
	bool paused;
	int e;

	(void)reply;	/* its reply (with LOG_SHMFD) is an empty one */
	e = dirtylog_map_fd(fd, m->u.log.mmap_size, m->u.log.mmap_offset,
			    DIRTYLOG_QEMU_PAGE_SHIFT, &log);
	close(fd);
	if (e < 0)
		return fail(d, e, "SET_LOG_BASE: cannot map %llu bytes at offset %llu: %s",
			    (unsigned long long)m->u.log.mmap_size,
			    (unsigned long long)m->u.log.mmap_offset, strerror(-e));
	/* QEMU resizes the log during migration: switch with the data path still. */
	pause_if_running(d, &paused);
	old = d->log;
	if (old && d->log_interim) {
		uint64_t pages = 0, outside = 0;

		/* What rings wrote since QEMU released its log: into the new one. */
		if (dirtylog_harvest(old, log, NULL, &pages, &outside) < 0 || outside)
			log_warning("port %s: %llu pages written before SET_LOG_BASE are "
				    "beyond the new log", d->name, (unsigned long long)outside);
	}
	d->log = log;
	d->log_interim = false;
	resume_if_paused(d, paused);
	dirtylog_free(old);
	log_info("port %s: dirty log of %llu bytes (guest memory up to %llu MiB)", d->name,
		 (unsigned long long)m->u.log.mmap_size,
		 (unsigned long long)(m->u.log.mmap_size * 8 * 4096 >> 20));
	return 0;
}

/* Only for LOG_SHMFD-less front ends that poll an eventfd; unused (the fd is closed). */
static int vu_set_log_fd_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	(void)d, (void)m, (void)reply;
	return 0;
}

static int vu_net_set_mtu_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	(void)reply;
	d->mtu = (uint16_t)m->u.u64;
	return 0;
}

static int vu_send_rarp_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	int e;

	(void)reply;
	if (!d->ops->send_rarp)
		return 0;
	e = d->ops->send_rarp(d->opaque, m->u.mac);
	return e < 0 ? fail(d, e, "SEND_RARP: %s", strerror(-e)) : 0;
}

static int vu_set_vring_num_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	struct vu_ring_cfg *r = &d->ring[m->ring];

	(void)reply;
	if (r->started)
		return fail(d, -EBUSY, "SET_VRING_NUM: ring %u is running", m->ring);
	r->num = m->u.state.num;
	return 0;
}

static int vu_set_vring_base_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	struct vu_ring_cfg *r = &d->ring[m->ring];

	(void)reply;
	if (r->started)
		return fail(d, -EBUSY, "SET_VRING_BASE: ring %u is running", m->ring);
	r->base = (uint16_t)m->u.state.num;
	r->base_lost = false;
	/* A new start of this ring: what was handed over is history. */
	mig_ring_rebased(&d->mig, m->ring);
	return 0;
}

/* The spec's stop signal: quiesce, then report where we are. */
static int vu_get_vring_base_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	unsigned idx = m->ring;
	struct vu_ring_cfg *r = &d->ring[idx];
	int e;

	e = ring_stop(d, idx);
	r->kick_set = false;
	if (e < 0 || r->base_lost)
		return fail(d, e < 0 ? e : -EIO, "GET_VRING_BASE: ring %u: cannot stop "
			    "the data path, its position is unknown%s%s", idx,
			    e < 0 ? ": " : "", e < 0 ? strerror(-e) : "");
	reply->u.state.index = idx;
	reply->u.state.num = r->base;
	mig_ring_handed_over(&d->mig, idx, r->base);
	release_log_if_quiesced(d);
	return 0;
}

static int vu_set_vring_addr_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	struct vu_ring_cfg *r = &d->ring[m->ring];
	bool paused;

	(void)reply;
	if (!r->num)
		return fail(d, -EINVAL, "SET_VRING_ADDR: ring %u has no size yet", m->ring);
	/* QEMU re-sends addresses on a running ring to switch used-ring logging. */
	paused = r->started;
	if (paused)
		d->ops->pause(d->opaque);
	r->addr = m->u.addr;
	r->addr_set = true;
	if (paused)
		d->ops->resume(d->opaque);
	return maybe_start(d, m->ring);
}

/*
 * Replaces one of ring m->ring's fds with the message's (none when the
 * request says "no fd"); a running ring sees the change after resume.
 */
static void swap_ring_fd(struct vu_dev *d, struct vu_msg *m, int *slot)
{
	bool paused = d->ring[m->ring].started;
	int fd = m->u.vring_file.nofd ? -1 : vu_msg_take_fd(m, 0);

	if (paused)
		d->ops->pause(d->opaque);
	close_fd(slot);
	*slot = fd;
	if (paused)
		d->ops->resume(d->opaque);
}

static int vu_set_vring_kick_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	struct vu_ring_cfg *r = &d->ring[m->ring];

	(void)reply;
	swap_ring_fd(d, m, &r->kick_fd);
	r->kick_set = true;
	return maybe_start(d, m->ring);
}

static int vu_set_vring_call_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	struct vu_ring_cfg *r = &d->ring[m->ring];

	(void)reply;
	/* An engine that can swap a running ring's call fd in place does. */
	if (r->started && !m->u.vring_file.nofd && d->ops->ring_call_changed) {
		int old = r->call_fd;

		r->call_fd = vu_msg_take_fd(m, 0);
		if (d->ops->ring_call_changed(d->opaque, m->ring) == 0) {
			close_fd(&old);
			return 0;
		}
		d->ops->pause(d->opaque);
		close_fd(&old);
		d->ops->resume(d->opaque);
		return 0;
	}
	swap_ring_fd(d, m, &r->call_fd);
	return 0;
}

static int vu_set_vring_err_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	(void)reply;
	swap_ring_fd(d, m, &d->ring[m->ring].err_fd);
	return 0;
}

static int vu_set_vring_enable_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	struct vu_ring_cfg *r = &d->ring[m->ring];
	int e;

	(void)reply;
	r->enabled = m->u.state.num != 0;
	if (!r->enabled) {
		e = ring_stop(d, m->ring);
		return e < 0 ? fail(d, e, "SET_VRING_ENABLE: ring %u: cannot stop: %s", m->ring,
				    strerror(-e)) : 0;
	}
	return maybe_start(d, m->ring);
}

/*
 * The table knows these (so they are refused cleanly, with a REPLY_ACK if
 * asked) but we never offer the protocol features they need.
 */
static int vu_not_served_exec(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	(void)reply;
	return fail(d, -EOPNOTSUPP, "%s: not supported by this back end",
		    vu_request_name(m->request));
}

static vu_exec_fn *const vu_exec[VU_REQ_MAX + 1] = {
	[VU_REQ_GET_FEATURES] = vu_get_features_exec,
	[VU_REQ_SET_FEATURES] = vu_set_features_exec,
	[VU_REQ_SET_OWNER] = vu_set_owner_exec,
	[VU_REQ_RESET_OWNER] = vu_reset_owner_exec,
	[VU_REQ_SET_MEM_TABLE] = vu_set_mem_table_exec,
	[VU_REQ_SET_LOG_BASE] = vu_set_log_base_exec,
	[VU_REQ_SET_LOG_FD] = vu_set_log_fd_exec,
	[VU_REQ_SET_VRING_NUM] = vu_set_vring_num_exec,
	[VU_REQ_SET_VRING_ADDR] = vu_set_vring_addr_exec,
	[VU_REQ_SET_VRING_BASE] = vu_set_vring_base_exec,
	[VU_REQ_GET_VRING_BASE] = vu_get_vring_base_exec,
	[VU_REQ_SET_VRING_KICK] = vu_set_vring_kick_exec,
	[VU_REQ_SET_VRING_CALL] = vu_set_vring_call_exec,
	[VU_REQ_SET_VRING_ERR] = vu_set_vring_err_exec,
	[VU_REQ_GET_PROTOCOL_FEATURES] = vu_get_protocol_features_exec,
	[VU_REQ_SET_PROTOCOL_FEATURES] = vu_set_protocol_features_exec,
	[VU_REQ_GET_QUEUE_NUM] = vu_get_queue_num_exec,
	[VU_REQ_SET_VRING_ENABLE] = vu_set_vring_enable_exec,
	[VU_REQ_SEND_RARP] = vu_send_rarp_exec,
	[VU_REQ_NET_SET_MTU] = vu_net_set_mtu_exec,
	[VU_REQ_GET_INFLIGHT_FD] = vu_not_served_exec,
	[VU_REQ_SET_INFLIGHT_FD] = vu_not_served_exec,
	[VU_REQ_GET_MAX_MEM_SLOTS] = vu_get_max_mem_slots_exec,
	[VU_REQ_ADD_MEM_REG] = vu_not_served_exec,
	[VU_REQ_REM_MEM_REG] = vu_not_served_exec,
	[VU_REQ_SET_STATUS] = vu_set_status_exec,
	[VU_REQ_GET_STATUS] = vu_get_status_exec,
};

bool vu_dev_serves(uint32_t request)
{
	return request <= VU_REQ_MAX && vu_exec[request];
}

int vu_dev_handle(struct vu_dev *d, struct vu_msg *m, struct vu_reply *reply)
{
	int e;

	d->err[0] = '\0';
	memset(reply, 0, sizeof(*reply));
	reply->request = m->request;
	/* Guards our array, not the protocol: vu_parse() passes only known ids. */
	if (!vu_dev_serves(m->request))
		return fail(d, -EOPNOTSUPP, "%s: not supported", vu_request_name(m->request));
	e = vu_exec[m->request](d, m, reply);
	/* The reply goes after this: an engine may start its rings first (vu_dev_driver_ok()). */
	d->status_read = m->request == VU_REQ_GET_STATUS;
	if (m->request != VU_REQ_GET_VRING_BASE && d->ops->settle)
		d->ops->settle(d->opaque);
	d->status_read = false;
	return e;
}
