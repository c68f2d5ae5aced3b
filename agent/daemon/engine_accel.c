// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Accelerator engine; see engine_accel.h.
 *
 * Threads: the control thread configures, stops and starts the device
 * (every vu_dev_ops call).  A relay thread moves kicks from the guest's kick
 * eventfds to the device's doorbell eventfds.  A harvester thread merges the
 * device's dirty log into QEMU's every harvest_ms while QEMU logs.  The
 * harvester and the control thread share the logs under e->mu; the relay's
 * fd set is replaced only through relay_set(), which waits until the relay
 * has let go of the old fds (they may be closed right after).
 */
#include "agent/daemon/engine_accel.h"
#include "agent/daemon/shadow.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "agent/common/log.h"
#include "agent/common/util.h"
#include "dirtylog/dirtylog.h"
#include "dirtylog/harvest.h"

#define NV ACCEL_DEV_MAX_VRINGS
/* A configuration: SET_OWNER, SET_FEATURES, SET_MEM_TABLE, [SET_LOG_BASE_IOVA,] per ring 3. */
#define CFG_MAX (4 + 3 * NV)

/* What the device may be asked to do, of what the front end negotiated. */
#define DEVICE_FEATURES (VU_BIT(VIRTIO_F_VERSION_1) | VU_BIT(VIRTIO_NET_F_MRG_RXBUF) | \
			 VU_BIT(VIRTIO_F_INDIRECT_DESC) | VU_BIT(VIRTIO_F_EVENT_IDX) |     \
			 VU_BIT(VIRTIO_NET_F_MQ))

/* Features that change how the rings read: the device must have each one acked. */
#define LAYOUT_FEATURES (VU_BIT(VIRTIO_F_VERSION_1) | VU_BIT(VIRTIO_NET_F_MRG_RXBUF) | \
			 VU_BIT(VIRTIO_F_INDIRECT_DESC) | VU_BIT(VIRTIO_F_EVENT_IDX))

struct engine_accel {
	const char *name;
	struct vu_dev *dev;
	struct accel_dev *adev;
	unsigned nvrings;
	uint64_t device_features;
	bool failed;
	/* A failed device was cut off (cut_off()); gone: its end was seen to close. */
	bool cut, gone;
	/* Told to start and not since confirmed stopped (or cut off). */
	bool maybe_running;
	bool owner_set;
	bool started;
	/*
	 * Stopped by a GET_VRING_BASE while other rings are still on: their
	 * bases in base[] were read at that stop, and QEMU asks for them next
	 * (vhost_dev_stop() asks every ring in a row).  acc_settle() restarts
	 * them if a request of another kind comes first.
	 */
	bool held;
	bool on[NV];
	uint16_t base[NV];
	/*
	 * A destination's device prepared before DRIVER_OK (prepare()): the
	 * configuration requests sent so far, without waiting for their
	 * replies; the start sends only what follows them.  prep_broken: the
	 * front end changed what was sent (the start configures anew).
	 */
	struct vv_msg prep[CFG_MAX];
	unsigned nprep;
	bool prep_broken;
	/* The eventfd each ring's interrupt was bound to before the start (-1: none yet). */
	int prep_call[NV];

	unsigned nmaps;
	uint64_t map_iova[GUEST_MEM_MAX_REGIONS], map_size[GUEST_MEM_MAX_REGIONS];
	/* The front end's memory table the maps are of (vu_dev.mem_gen); valid with maps_valid. */
	uint64_t maps_gen;
	bool maps_valid;

	/* The device's log: a memfd we map and DMA-map for the device. */
	int log_fd;
	void *log_mem;
	size_t log_len;
	uint64_t log_iova;
	uint64_t log_span;		/* guest memory it covers: [0, log_span) */
	unsigned log_shift;
	struct dirtylog *devlog;
	bool log_mapped;

	/*
	 * Shadow rings (shadow.h), while QEMU logs and the device has no log
	 * (tracking relay): the device serves them, the relay thread moves
	 * descriptors between them and the guest's and marks QEMU's log.
	 */
	enum engine_accel_tracking tracking;
	struct shadow *shadow;
	bool shadow_mapped;
	uint64_t shadow_iova, shadow_size;
	int scall[NV];			/* the device's call eventfds in relay mode */
	uint64_t relayed_before;	/* chains relayed by shadows freed */
	bool shadow_failed;		/* the relay broke a ring (atomic) */
	bool was_relaying;		/* at the last start: for the log */

	pthread_mutex_t mu;		/* harvest state, stats */
	pthread_cond_t cv;
	bool harvest_on;
	bool quit;
	unsigned harvest_ms;
	pthread_t harvester;
	bool harvester_started;
	struct engine_accel_stats st;
	/* Device stops while QEMU logged that did not merge the device's log. */
	uint64_t harvest_misses;
	/* QEMU logs and the device has no log: the port must serve in software. */
	bool wants_software;

	pthread_mutex_t rmu;		/* relay fd set */
	pthread_cond_t rcv;
	int relay_efd;
	int kick[NV], bell[NV];
	int rcall[NV], gcall[NV];	/* relay mode: device call in, guest call out */
	struct shadow *rshadow;		/* relay mode: the shadow the fds belong to */
	struct dirtylog *rlog;		/* relay mode: QEMU's log, or NULL */
	uint64_t relay_gen, relay_seen;
	bool relay_running;		/* the last set given: run (control thread's) */
	bool relay_quit;
	pthread_t relay;
	bool relay_started;
};

static int dev_fail(struct engine_accel *e, int r, const char *what)
{
	if (!e->failed)
		log_err("port %s: accelerator: %s: %s", e->name, what, accel_dev_error(e->adev));
	e->failed = true;
	return r;
}

static int vhost(struct engine_accel *e, uint64_t request, struct vv_msg *m, struct vv_msg *rep)
{
	int r;

	m->request = request;
	r = accel_dev_vhost(e->adev, m, rep);
	return r < 0 ? dev_fail(e, r, vv_request_name(request)) : 0;
}

/* ---- kick relay ------------------------------------------------------- */

/* Relay mode: the device completed chains on ring q; the guest sees them now. */
static void relay_complete(struct engine_accel *e, struct shadow *sh, struct dirtylog *log,
			   unsigned q, int gcall)
{
	uint64_t one = 1;
	int r = shadow_complete(sh, q, &e->dev->mem, log);

	if (r > 0 && gcall >= 0 && write(gcall, &one, sizeof(one)) < 0)
		(void)0;
	if (r < 0 && !__atomic_exchange_n(&e->shadow_failed, true, __ATOMIC_ACQ_REL))
		log_err("port %s: relay: %s", e->name, shadow_error(sh));
}

/* Relay mode: the guest made chains available on ring q; the device gets them. */
static void relay_forward(struct engine_accel *e, struct shadow *sh, struct dirtylog *log,
			  unsigned q, int bell)
{
	uint64_t one = 1;
	int r = shadow_forward(sh, q, &e->dev->mem, log);

	if (r > 0 && write(bell, &one, sizeof(one)) < 0)
		(void)0;
	if (r < 0 && !__atomic_exchange_n(&e->shadow_failed, true, __ATOMIC_ACQ_REL))
		log_err("port %s: relay: %s", e->name, shadow_error(sh));
}

static void *relay_main(void *arg)
{
	struct engine_accel *e = arg;
	int kick[NV], bell[NV], rcall[NV], gcall[NV];
	unsigned ring[NV];
	struct shadow *sh = NULL;
	struct dirtylog *log = NULL;
	unsigned n = 0;

	for (;;) {
		struct pollfd pfd[2 * NV + 1];
		uint64_t v;

		pthread_mutex_lock(&e->rmu);
		if (e->relay_quit) {
			pthread_mutex_unlock(&e->rmu);
			break;
		}
		if (e->relay_seen != e->relay_gen) {
			n = 0;
			sh = e->rshadow;
			log = e->rlog;
			for (unsigned i = 0; i < e->nvrings; i++) {
				if (e->kick[i] >= 0 && e->bell[i] >= 0) {
					kick[n] = e->kick[i];
					bell[n] = e->bell[i];
					rcall[n] = sh ? e->rcall[i] : -1;
					gcall[n] = sh ? e->gcall[i] : -1;
					ring[n] = i;
					n++;
				}
			}
			e->relay_seen = e->relay_gen;
			pthread_cond_broadcast(&e->rcv);
		}
		pthread_mutex_unlock(&e->rmu);

		pfd[0] = (struct pollfd){ .fd = e->relay_efd, .events = POLLIN };
		for (unsigned i = 0; i < n; i++) {
			pfd[1 + i] = (struct pollfd){ .fd = kick[i], .events = POLLIN };
			pfd[1 + n + i] = (struct pollfd){ .fd = rcall[i], .events = POLLIN };
		}
		if (poll(pfd, 2 * n + 1, -1) < 0)
			continue;
		if (pfd[0].revents & POLLIN && read(e->relay_efd, &v, sizeof(v)) < 0)
			(void)0;
		for (unsigned i = 0; i < n; i++) {
			/* Completions first: they free guest buffers the next kick may bring. */
			if (sh && (pfd[1 + n + i].revents & POLLIN) &&
			    read(rcall[i], &v, sizeof(v)) == sizeof(v))
				relay_complete(e, sh, log, ring[i], gcall[i]);
			if (!(pfd[1 + i].revents & POLLIN))
				continue;
			if (read(kick[i], &v, sizeof(v)) != sizeof(v))
				continue;
			if (sh) {
				relay_forward(e, sh, log, ring[i], bell[i]);
			} else {
				v = 1;
				if (write(bell[i], &v, sizeof(v)) < 0)
					(void)0; /* the device went away: the port notices */
			}
		}
	}
	return NULL;
}

/*
 * Gives the relay a new fd set and waits until it has dropped the old one
 * (its fds may be closed right after).  From an empty set there is nothing
 * to drop: a start does not wait for the relay thread to wake (a thread
 * round trip inside the downtime; kicks meanwhile wait in their eventfds).
 */
static void relay_set(struct engine_accel *e, bool run)
{
	uint64_t one = 1, gen;
	bool was_empty = !e->relay_running;

	pthread_mutex_lock(&e->rmu);
	e->rshadow = run ? e->shadow : NULL;
	e->rlog = run && e->shadow ? vu_dev_active_log(e->dev) : NULL;
	for (unsigned i = 0; i < e->nvrings; i++) {
		e->kick[i] = run && e->on[i] ? e->dev->ring[i].kick_fd : -1;
		e->bell[i] = run && e->on[i] ? accel_dev_doorbell_fd(e->adev, i) : -1;
		e->rcall[i] = e->scall[i];
		e->gcall[i] = e->dev->ring[i].call_fd;
	}
	gen = ++e->relay_gen;
	e->relay_running = run;
	if (write(e->relay_efd, &one, sizeof(one)) < 0)
		(void)0;
	while (e->relay_started && e->relay_seen != gen && !(run && was_empty))
		pthread_cond_wait(&e->rcv, &e->rmu);
	pthread_mutex_unlock(&e->rmu);
}

/* ---- dirty log --------------------------------------------------------- */

/* The device logs packet buffers only: log the used rings of running rings. */
static void log_used_rings(struct engine_accel *e, struct dirtylog *qemu)
{
	for (unsigned i = 0; i < e->nvrings; i++) {
		const struct vu_ring_cfg *rc = &e->dev->ring[i];
		uint64_t gpa;

		if (!e->on[i])
			continue;
		gpa = guest_mem_uva_to_gpa(&e->dev->mem, rc->addr.used_user_addr);
		if (gpa != UINT64_MAX)
			dirtylog_mark(qemu, gpa, 6 + 8 * (uint64_t)rc->num);
	}
}

/*
 * With e->mu held.  0 when the device's log is merged into QEMU's (or
 * there is nothing to merge: no log on either side), else the harvest's
 * negative errno.
 */
static int harvest_locked(struct engine_accel *e)
{
	struct dirtylog *qemu = vu_dev_active_log(e->dev);
	uint64_t pages = 0, outside = 0, t = mono_ns();
	int r;

	if (!qemu || !e->devlog)
		return 0;
	r = dirtylog_harvest(e->devlog, qemu, NULL, &pages, &outside);
	if (r < 0)
		return r;
	e->st.log_errors += outside;
	log_used_rings(e, qemu);
	if (e->st.last_harvest_ns && t > e->st.last_harvest_ns)
		e->st.dirty_rate = (double)pages * 1e9 / (double)(t - e->st.last_harvest_ns);
	e->st.harvest_rounds++;
	e->st.harvest_pages += pages;
	e->st.last_round_pages = pages;
	e->st.last_harvest_ns = t;
	return 0;
}

static void *harvester_main(void *arg)
{
	struct engine_accel *e = arg;

	pthread_mutex_lock(&e->mu);
	while (!e->quit) {
		uint64_t until = mono_ns() + (uint64_t)e->harvest_ms * 1000000u;
		struct timespec ts = {
			.tv_sec = (time_t)(until / 1000000000u),
			.tv_nsec = (long)(until % 1000000000u),
		};

		pthread_cond_timedwait(&e->cv, &e->mu, &ts);
		if (e->harvest_on && !e->quit)
			(void)harvest_locked(e);	/* the next round or the stop retries */
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

static void devlog_free(struct engine_accel *e)
{
	if (e->log_mapped && !e->failed)
		accel_dev_dma_unmap(e->adev, e->log_iova, e->log_len);
	e->log_mapped = false;
	dirtylog_free(e->devlog);
	e->devlog = NULL;
	if (e->log_mem)
		munmap(e->log_mem, e->log_len);
	e->log_mem = NULL;
	if (e->log_fd >= 0)
		close(e->log_fd);
	e->log_fd = -1;
}

/* A log buffer for the device, DMA-mapped just above guest memory. */
static int devlog_setup(struct engine_accel *e)
{
	uint64_t span = guest_mem_span(&e->dev->mem), gran = accel_dev_log_granularity(e->adev);
	size_t bytes;
	int r;

	if (e->devlog)
		return 0;
	e->log_shift = (unsigned)__builtin_ctzll(gran);
	r = dirtylog_size_for(span, e->log_shift, &bytes);
	if (r < 0)
		return r;
	e->log_len = (bytes + 4095) & ~(size_t)4095;
	e->log_span = span;
	e->log_iova = (span + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
	e->log_fd = memfd_create("vdpa-devlog", MFD_CLOEXEC);
	if (e->log_fd < 0 || ftruncate(e->log_fd, (off_t)e->log_len) < 0)
		return -errno;
	e->log_mem = mmap(NULL, e->log_len, PROT_READ | PROT_WRITE, MAP_SHARED, e->log_fd, 0);
	if (e->log_mem == MAP_FAILED) {
		e->log_mem = NULL;
		return -errno;
	}
	r = dirtylog_wrap(e->log_mem, bytes, e->log_shift, &e->devlog);
	if (r < 0)
		return r;
	r = accel_dev_dma_map(e->adev, e->log_iova, e->log_len, e->log_fd, 0);
	if (r < 0)
		return dev_fail(e, r, "DMA map of the log");
	e->log_mapped = true;
	log_info("port %s: device log of %zu bytes at IOVA 0x%llx, %llu bytes per bit", e->name,
		 bytes, (unsigned long long)e->log_iova, (unsigned long long)gran);
	return 0;
}

/* ---- device configuration ---------------------------------------------- */

static bool any_on(const struct engine_accel *e)
{
	for (unsigned i = 0; i < e->nvrings; i++)
		if (e->on[i])
			return true;
	return false;
}

static bool all_on(const struct engine_accel *e)
{
	for (unsigned i = 0; i < e->nvrings; i++)
		if (!e->on[i])
			return false;
	return true;
}

/*
 * A failed device has not confirmed that it stopped: it may still be
 * writing guest memory, its log and used rings.  Nothing it wrote may be
 * taken as final (harvested, used->idx read, a reply sent on it) before it
 * is cut off and seen gone.  Once per device; true when it is gone.
 */
static bool cut_off(struct engine_accel *e)
{
	if (e->cut)
		return e->gone;
	e->cut = true;
	relay_set(e, false);
	e->started = false;
	e->gone = accel_dev_cut_off(e->adev, ACCEL_DEV_TIMEOUT_MS) == 0;
	e->maybe_running = !e->gone;
	if (e->gone)
		log_warning("port %s: accelerator cut off; its connection closed", e->name);
	else
		log_err("port %s: accelerator cut off, but its connection stays open: "
			"it may still write guest memory", e->name);
	return e->gone;
}

/*
 * The final harvest of a device that stopped (confirmed: r == 0) or was
 * cut off (r < 0, gone says whether it is).  A miss is a device that may
 * have written after the harvest, or a harvest that failed.
 */
static void final_harvest(struct engine_accel *e, int r, bool gone)
{
	/* QEMU's migration log: what a missed harvest would leave incomplete. */
	bool migrating = e->dev->log_all && e->dev->log;
	int h = 0;

	pthread_mutex_lock(&e->mu);
	e->harvest_on = false;
	if (r == 0 || gone)
		h = harvest_locked(e);
	if (migrating && ((r < 0 && !gone) || h < 0))
		e->harvest_misses++;
	e->st.device_stops++;
	pthread_mutex_unlock(&e->mu);
}

/*
 * A device without SUSPEND is stopped by a reset, which drops the chains it
 * holds.  A receive chain it dropped is simply the guest's again (nothing
 * was completed into it), but a transmit chain may already be on the wire:
 * handing it back would send it twice.  So the relay (stopped: it forwards
 * nothing more) waits, ACCEL_DEV_TIMEOUT_MS at most, for every transmit
 * chain it forwarded to complete before the reset.
 */
static void drain_transmit(struct engine_accel *e)
{
	struct dirtylog *log = vu_dev_active_log(e->dev);
	int64_t deadline = mono_ms() + ACCEL_DEV_TIMEOUT_MS;
	unsigned left;

	if (!e->shadow)
		return;
	for (;;) {
		left = 0;
		for (unsigned i = 1; i < e->nvrings; i += 2) {
			if (!e->on[i])
				continue;
			relay_complete(e, e->shadow, log, i, e->dev->ring[i].call_fd);
			left += shadow_in_flight(e->shadow, i);
		}
		if (left == 0 || mono_ms() >= deadline)
			break;
		usleep(200);
	}
	if (left)
		log_warning("port %s: %u transmit chain(s) not completed %d ms before the device's "
			    "reset: the next data path sends them again", e->name, left,
			    ACCEL_DEV_TIMEOUT_MS);
}

/*
 * Stops the device: no DMA after this returns.  Takes the final harvest,
 * logs the used rings and reads every running ring's next avail index.  A
 * device that does not confirm the stop is cut off first (its rings are
 * then read from used->idx by acc_ring_stop()).
 */
static int stop_device(struct engine_accel *e)
{
	struct vv_msg req[1 + NV], rep[1 + NV];
	unsigned ring[NV], n = 0, done = 0;
	bool gone = false, bases_on_device;
	uint64_t t0 = mono_ns(), t1, t2;
	int r = 0, rstop;

	if (!e->started)
		return 0;
	relay_set(e, false);
	e->started = false;
	if (!accel_dev_can_suspend(e->adev))
		drain_transmit(e);
	/*
	 * The stop and every running ring's base in one burst: the device
	 * answers the bases once it has stopped.  A device reset, not
	 * suspended, has forgotten them: the relay's shadow rings know where
	 * each ring stands.
	 */
	bases_on_device = accel_dev_can_suspend(e->adev) || !e->shadow;
	vv_msg_init(&req[n], VV_REQ_DEVICE_SET_STATE, VV_FLAG_NEED_REPLY);
	req[n++].u.u64 = VV_STATE_STOP;
	for (unsigned i = 0; i < e->nvrings && bases_on_device; i++) {
		if (!e->on[i])
			continue;
		vv_msg_init(&req[n], VV_REQ_GET_VRING_BASE, 0);
		req[n].u.state.index = i;
		ring[n - 1] = i;	/* req[0] is the stop */
		n++;
	}
	r = accel_dev_vhost_run(e->adev, req, n, rep, NULL, 0, &done);
	rstop = r < 0 && done == 0 ? r : 0;
	if (rstop < 0) {
		dev_fail(e, rstop, vv_request_name(VV_REQ_DEVICE_SET_STATE));
		gone = cut_off(e);
	} else {
		e->maybe_running = false;
	}
	/*
	 * Relay mode: what the device completed before it stopped reaches the
	 * guest now, marked in QEMU's log, before any base is answered.
	 */
	for (unsigned i = 0; i < e->nvrings && rstop == 0 && e->shadow; i++)
		if (e->on[i])
			relay_complete(e, e->shadow, vu_dev_active_log(e->dev), i,
				       e->dev->ring[i].call_fd);
	t1 = mono_ns();
	final_harvest(e, rstop, gone);
	t2 = mono_ns();
	if (rstop == 0 && r < 0)
		dev_fail(e, r, "reading the rings' bases");
	for (unsigned k = 1; k < n && r == 0; k++)
		e->base[ring[k - 1]] = (uint16_t)rep[k].u.state.num;
	for (unsigned i = 0; i < e->nvrings && r == 0 && !bases_on_device; i++)
		if (e->on[i])
			e->base[i] = shadow_next_avail(e->shadow, i);
	pthread_mutex_lock(&e->mu);
	e->st.last_stop_us = (t1 - t0) / 1000;
	e->st.last_harvest_us = (t2 - t1) / 1000;
	e->st.last_bases_us = 0;
	pthread_mutex_unlock(&e->mu);
	return r;
}

/* The device is stopped: its shadow rings go (a new one is made per start). */
static void shadow_drop(struct engine_accel *e)
{
	if (!e->shadow)
		return;
	if (e->shadow_mapped && !e->failed)
		accel_dev_dma_unmap(e->adev, e->shadow_iova, e->shadow_size);
	e->shadow_mapped = false;
	pthread_mutex_lock(&e->mu);
	e->relayed_before += shadow_relayed(e->shadow);
	pthread_mutex_unlock(&e->mu);
	shadow_free(e->shadow);
	e->shadow = NULL;
}

/* Shadow rings for the running rings at their bases, mapped above guest memory. */
static int shadow_setup(struct engine_accel *e)
{
	const struct guest_mem *mem = &e->dev->mem;
	struct shadow_ring_cfg cfg[NV];
	int r;

	memset(cfg, 0, sizeof(cfg));
	for (unsigned i = 0; i < e->nvrings; i++) {
		const struct vu_ring_cfg *rc = &e->dev->ring[i];

		if (!e->on[i])
			continue;
		cfg[i] = (struct shadow_ring_cfg){
			.num = rc->num,
			.desc_gpa = guest_mem_uva_to_gpa(mem, rc->addr.desc_user_addr),
			.avail_gpa = guest_mem_uva_to_gpa(mem, rc->addr.avail_user_addr),
			.used_gpa = guest_mem_uva_to_gpa(mem, rc->addr.used_user_addr),
			.base = e->base[i],
			.event_idx = (e->dev->features & VU_BIT(VIRTIO_F_EVENT_IDX)) != 0,
		};
	}
	e->shadow_iova = (guest_mem_span(mem) + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
	r = shadow_new(cfg, e->nvrings, e->shadow_iova, &e->shadow);
	if (r < 0)
		return dev_fail(e, r, "shadow rings");
	e->shadow_size = shadow_size(e->shadow);
	r = accel_dev_dma_map(e->adev, e->shadow_iova, e->shadow_size, shadow_fd(e->shadow), 0);
	if (r < 0)
		return dev_fail(e, r, "DMA map of the shadow rings");
	e->shadow_mapped = true;
	return 0;
}

static int map_memory(struct engine_accel *e)
{
	const struct guest_mem *mem = &e->dev->mem;
	int r;

	/*
	 * The same memory table as at the last start (a restart inside one
	 * front-end session): the device still has it mapped.  vhost-vdpa
	 * writes its mappings again itself after a reset that cleared them
	 * (accel_vdpa.c, reset()).
	 */
	if (e->maps_valid && e->maps_gen == e->dev->mem_gen)
		return 0;
	r = accel_dev_dma_batch(e->adev, true);
	if (r < 0)
		return dev_fail(e, r, "DMA map of guest memory");
	for (unsigned i = 0; i < e->nmaps; i++)
		accel_dev_dma_unmap(e->adev, e->map_iova[i], e->map_size[i]);
	e->nmaps = 0;
	e->maps_valid = false;
	for (unsigned i = 0; i < mem->nregions; i++) {
		/*
		 * IOVA = GPA: the device's addresses are the guest's.  Not
		 * waited for: the device maps while we go on, and the start
		 * collects the replies (accel_dev_sync()).
		 */
		r = accel_dev_dma_map_nowait(e->adev, mem->r[i].gpa, mem->r[i].size, mem->r[i].fd,
					     mem->r[i].mmap_offset);
		if (r < 0)
			return dev_fail(e, r, "DMA map of guest memory");
		e->map_iova[e->nmaps] = mem->r[i].gpa;
		e->map_size[e->nmaps++] = mem->r[i].size;
	}
	r = accel_dev_dma_batch(e->adev, false);
	if (r < 0)
		return dev_fail(e, r, "DMA map of guest memory");
	e->maps_gen = e->dev->mem_gen;
	e->maps_valid = true;
	pthread_mutex_lock(&e->mu);
	e->st.memory_maps++;
	pthread_mutex_unlock(&e->mu);
	return 0;
}

/*
 * With F_STATUS the front end says when its last ring is set up
 * (DRIVER_OK, or the GET_STATUS QEMU sends right before it: see
 * vu_dev_driver_ok()): the device starts once then, from acc_settle(),
 * with every ring and every ring's call fd (QEMU sends a ring's
 * SET_VRING_CALL after its SET_VRING_KICK: starting when the last ring was
 * kicked meant a stop and a second start at its CALL, inside the
 * downtime).  Started at that GET_STATUS, the device runs before QEMU
 * resumes the guest's vCPUs, which wait for the reply.  The virtio spec
 * has the device consume no buffer before the driver's DRIVER_OK: QEMU
 * starts its vhost device only once the guest's driver set it, and
 * forwards it after the rings (DPDK's virtio-user likewise).  A status of 0 (QEMU
 * stopping the device) keeps a held device stopped for the GET_VRING_BASEs
 * still to come.  Without F_STATUS each ring starts as it comes.
 */
static bool may_start(const struct engine_accel *e)
{
	return vu_dev_driver_ok(e->dev);
}

/*
 * The device's configuration for the rings on, into cfg (CFG_MAX): owner,
 * features, memory table, the device's log when QEMU logs on it, and each
 * ring's size, addresses and base; calls[] each ring's interrupt (-1: off).
 * Returns the number of requests, or -EFAULT for a ring whose addresses
 * lie outside guest memory (*ret_ring).
 */
static int build_config(struct engine_accel *e, bool relay, bool devlog, struct vv_msg *cfg,
			int *calls, unsigned *ret_ring)
{
	const struct guest_mem *mem = &e->dev->mem;
	struct vv_msg *mt;
	unsigned n = 0;

	vv_msg_init(&cfg[n++], VV_REQ_SET_OWNER, VV_FLAG_NEED_REPLY);
	vv_msg_init(&cfg[n], VV_REQ_SET_FEATURES, VV_FLAG_NEED_REPLY);
	cfg[n].u.u64 = (e->dev->features & DEVICE_FEATURES & e->device_features) |
		       (devlog ? VU_BIT(VU_F_LOG_ALL) : 0);
	/* Shadow rings: the relay asks for every completion (shadow.h). */
	if (relay)
		cfg[n].u.u64 &= ~VU_BIT(VIRTIO_F_EVENT_IDX);
	n++;
	mt = &cfg[n++];
	vv_msg_init(mt, VV_REQ_SET_MEM_TABLE, VV_FLAG_NEED_REPLY);
	mt->u.mem.nregions = mem->nregions;
	for (unsigned i = 0; i < mem->nregions; i++)
		mt->u.mem.regions[i] = (struct vv_mem_region){ mem->r[i].gpa, mem->r[i].size,
							       mem->r[i].gpa };
	/*
	 * The shadow rings are memory the device reads and writes as it does
	 * the guest's: a device that checks ring addresses against its memory
	 * table (vdpa-simd) needs them in it, at their IOVA.
	 */
	if (relay) {
		if (mt->u.mem.nregions >= VV_MAX_MEM_REGIONS)
			return -ENOSPC;
		mt->u.mem.regions[mt->u.mem.nregions++] = (struct vv_mem_region){
			e->shadow_iova, e->shadow_size, e->shadow_iova };
	}
	if (devlog) {
		vv_msg_init(&cfg[n], VV_REQ_SET_LOG_BASE_IOVA, VV_FLAG_NEED_REPLY);
		cfg[n++].u.log = (struct vv_log){ e->log_iova, dirtylog_size(e->devlog), e->log_shift };
	}
	for (unsigned i = 0; i < e->nvrings; i++) {
		const struct vu_ring_cfg *rc = &e->dev->ring[i];
		struct vv_vring_addr *a;

		calls[i] = e->on[i] ? (relay ? e->scall[i] : rc->call_fd) : -1;
		if (!e->on[i])
			continue;
		vv_msg_init(&cfg[n], VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY);
		cfg[n++].u.state = (struct vv_vring_state){ i, rc->num };
		vv_msg_init(&cfg[n], VV_REQ_SET_VRING_ADDR, VV_FLAG_NEED_REPLY);
		a = &cfg[n++].u.addr;
		a->index = i;
		a->desc_user_addr = guest_mem_uva_to_gpa(mem, rc->addr.desc_user_addr);
		a->avail_user_addr = guest_mem_uva_to_gpa(mem, rc->addr.avail_user_addr);
		a->used_user_addr = guest_mem_uva_to_gpa(mem, rc->addr.used_user_addr);
		if (relay)
			shadow_ring_iovas(e->shadow, i, &a->desc_user_addr, &a->avail_user_addr,
					  &a->used_user_addr);
		if (a->desc_user_addr == UINT64_MAX || a->avail_user_addr == UINT64_MAX ||
		    a->used_user_addr == UINT64_MAX) {
			*ret_ring = i;
			return -EFAULT;
		}
		vv_msg_init(&cfg[n], VV_REQ_SET_VRING_BASE, VV_FLAG_NEED_REPLY);
		cfg[n++].u.state = (struct vv_vring_state){ i, e->base[i] };
	}
	return (int)n;
}

/*
 * The interrupts of the prepared rings, as their call fds come (QEMU sends
 * a ring's SET_VRING_CALL before its SET_VRING_ENABLE, and after its kick):
 * bound before the start, which then binds nothing when every ring is on
 * with the fd bound here (all_irqs_prepared()).  Neighbouring vectors go
 * in one command.
 */
static void prepare_irqs(struct engine_accel *e)
{
	unsigned first = 0, n = 0;
	int fds[NV], r;

	for (unsigned i = 0; i <= e->nvrings && !e->failed; i++) {
		int fd = i < e->nvrings ? e->dev->ring[i].call_fd : -1;

		if (i < e->nvrings && e->on[i] && fd >= 0 && fd != e->prep_call[i]) {
			if (n == 0)
				first = i;
			e->prep_call[i] = -1;
			fds[n++] = fd;
			continue;
		}
		if (n == 0)
			continue;
		r = accel_dev_set_irqs_nowait(e->adev, first, fds, n);
		if (r < 0) {
			dev_fail(e, r, "preparing the device's interrupts");
			return;
		}
		for (unsigned k = 0; k < n; k++)
			e->prep_call[first + k] = fds[k];
		n = 0;
	}
}

/*
 * Every ring is on and its interrupt was bound to its call fd before the
 * start.  A call fd that changed since went through acc_ring_call_changed(),
 * which bound the new one (a ring without a call fd any more has -1).
 */
static bool all_irqs_prepared(const struct engine_accel *e)
{
	for (unsigned i = 0; i < e->nvrings; i++)
		if (!e->on[i] || e->prep_call[i] < 0 || e->prep_call[i] != e->dev->ring[i].call_fd)
			return false;
	return true;
}

/* What prepare() sent is where the configuration cfg[0..n) begins. */
static bool prepared_prefix(const struct engine_accel *e, const struct vv_msg *cfg, unsigned n)
{
	return e->nprep <= n && memcmp(cfg, e->prep, e->nprep * sizeof(cfg[0])) == 0;
}

/* The rings' configuration not sent yet (prepare()). */
static void prepare_rings(struct engine_accel *e)
{
	struct vv_msg cfg[1 + CFG_MAX], *from;
	unsigned bad, k;
	int calls[NV], n, r;

	n = build_config(e, false, false, &cfg[1], calls, &bad);
	if (n < 0 || !prepared_prefix(e, &cfg[1], (unsigned)n)) {
		e->prep_broken = true;
		return;
	}
	if ((unsigned)n > e->nprep) {
		from = &cfg[1 + e->nprep];
		k = (unsigned)n - e->nprep;
		if (!e->nprep && e->owner_set) {
			vv_msg_init(&cfg[0], VV_REQ_RESET_OWNER, VV_FLAG_NEED_REPLY);
			from = cfg;
			k++;
		}
		e->owner_set = true;
		r = accel_dev_vhost_nowait(e->adev, from, k);
		if (r < 0) {
			dev_fail(e, r, "preparing the device");
			return;
		}
		pthread_mutex_lock(&e->mu);
		e->st.prepared_requests += k;
		pthread_mutex_unlock(&e->mu);
		memcpy(&e->prep[e->nprep], &cfg[1 + e->nprep],
		       ((unsigned)n - e->nprep) * sizeof(cfg[0]));
		e->nprep = (unsigned)n;
	}
}

/*
 * A destination before DRIVER_OK: QEMU sends the memory table, then each
 * ring, then DRIVER_OK.  Whenever the front end pauses (engine_accel_idle():
 * the port has read every request waiting), what is known by then goes to
 * the device in one send (a mailbox batch and the interrupts), without
 * waiting for its replies (read as they arrive, checked at the start): the
 * device takes its configuration while QEMU sets up the next rings, and
 * the start sends only what follows it.  One send per pause, not per
 * request: on this testbed's VM a send that wakes the device's process
 * costs the sender tens of microseconds.  A device that had an owner (a
 * port that served before) is reset first, as the start would.  Not
 * prepared: a device held for GET_VRING_BASEs to come, and one QEMU logs
 * on or relays through (a destination is neither).  When the front end
 * changes what was sent (prep_broken), the start configures the device
 * anew, after a RESET_OWNER.
 */
static void prepare(struct engine_accel *e)
{
	int r;

	if (e->started || e->held || e->failed || e->prep_broken || may_start(e) || !any_on(e) ||
	    vu_dev_active_log(e->dev) || !accel_dev_can_suspend(e->adev) || !e->maps_valid ||
	    e->maps_gen != e->dev->mem_gen)
		return;
	/* One send: the interrupts first (a command with fds begins one), then the rings. */
	accel_dev_cork(e->adev);
	prepare_irqs(e);
	if (!e->failed)
		prepare_rings(e);
	r = accel_dev_uncork(e->adev);
	if (r < 0 && !e->failed)
		dev_fail(e, r, "preparing the device");
}

static int configure_and_start(struct engine_accel *e)
{
	const struct guest_mem *mem = &e->dev->mem;
	struct dirtylog *qemu = vu_dev_active_log(e->dev);
	int calls[NV];
	/*
	 * cfg[0]: RESET_OWNER when the device had an owner; the configuration
	 * after it; room for the START after that.
	 */
	struct vv_msg cfg[2 + CFG_MAX], m, *reqs;
	uint64_t t0 = mono_ns(), t1, t2, layout;
	unsigned n, bad = 0, nprep, done = 0;
	bool relay, irqs_ready, joined, prebound;
	int r, nc;

	if (e->failed)
		return -EIO;
	if (!may_start(e))
		return 0;
	e->held = false;
	if (!any_on(e))
		return 0;
	/*
	 * QEMU logs (a migration) and the port says dirty-tracking=software:
	 * the device is not to serve meanwhile.  It stays stopped, the rings at the bases
	 * read at its stop, and the port moves them to software
	 * (engine_accel_wants_software()) before the next request.
	 */
	if (qemu && e->tracking == ENGINE_ACCEL_SOFTWARE) {
		e->wants_software = true;
		return 0;
	}
	relay = (qemu && (e->tracking == ENGINE_ACCEL_RELAY || !accel_dev_has_log(e->adev))) ||
		!accel_dev_can_suspend(e->adev);
	/*
	 * The ring layout is the front end's: a device that lacks a feature
	 * it negotiated (EVENT_IDX: where notifications are suppressed;
	 * INDIRECT_DESC, MRG_RXBUF: what a chain holds) would misread the rings.
	 * The relay handles the guest's notifications itself: EVENT_IDX may lack.
	 */
	layout = LAYOUT_FEATURES & ~(relay ? VU_BIT(VIRTIO_F_EVENT_IDX) : 0);
	if (e->dev->features & layout & ~e->device_features) {
		log_err("port %s: the device lacks features the front end negotiated: 0x%llx "
			"(offered 0x%llx)", e->name,
			(unsigned long long)(e->dev->features & layout & ~e->device_features),
			(unsigned long long)e->device_features);
		e->failed = true;
		return -EOPNOTSUPP;
	}
	/*
	 * Guest memory grew (a new memory table): the device's log would not
	 * cover it, and sits at an IOVA just above the old memory, where the
	 * new memory may now be mapped.  The stop before this harvested it;
	 * a new one is made below, above the new memory and as large as it.
	 */
	if (e->devlog && guest_mem_span(mem) > e->log_span)
		devlog_free(e);
	r = map_memory(e);
	if (r < 0)
		return r;
	/* The mapping's replies, and those of the requests that prepared the device. */
	if ((r = accel_dev_sync(e->adev)) < 0)
		return dev_fail(e, r, e->nprep ? "DMA map of guest memory or preparing the device" :
					       "DMA map of guest memory");
	shadow_drop(e);
	if (relay && (r = shadow_setup(e)) < 0)
		return r;
	/* The device's log, DMA-mapped before the requests that name it. */
	if (qemu && !relay && (r = devlog_setup(e)) < 0)
		return e->failed ? r : dev_fail(e, r, "device log");
	t1 = mono_ns();
	/*
	 * The configuration goes as one burst (accel_dev_vhost_many()): no
	 * request waits for the one before.  Each asks for its reply all the
	 * same (NEED_REPLY: the mailbox read after it travels in the burst
	 * too), so a device that refuses one says so whether or not it fails
	 * the mailbox write.  The device keeps rings it was given before; a
	 * ring that stopped must not run again, so it forgets them all and
	 * gets the running ones anew - unless what it was given is where this
	 * configuration begins (prepare()): then only the rest goes.
	 */
	nc = build_config(e, relay, qemu && !relay, &cfg[1], calls, &bad);
	if (nc == -ENOSPC)
		return dev_fail(e, nc, "no memory table slot left for the shadow rings");
	if (nc < 0) {
		log_err("port %s: ring %u: ring addresses outside guest memory", e->name, bad);
		return nc;
	}
	n = (unsigned)nc;
	nprep = e->nprep;
	irqs_ready = false;
	if (nprep && prepared_prefix(e, &cfg[1], n)) {
		reqs = &cfg[1 + nprep];
		n -= nprep;
		irqs_ready = !relay && all_irqs_prepared(e);
	} else if (e->owner_set) {
		vv_msg_init(&cfg[0], VV_REQ_RESET_OWNER, VV_FLAG_NEED_REPLY);
		reqs = cfg;
		n++;
	} else {
		reqs = &cfg[1];
	}
	/*
	 * The START goes in the configuration's write when the device carries
	 * it out only after every request before it in the write succeeded
	 * (VV_FLAG_IF_OK, "mailbox_if_ok"): one round trip for both, and no
	 * start on a configuration refused in part.  The interrupts must be
	 * bound before the start, and the write's burst binds them after its
	 * requests: those not bound yet (prepare() binds them at the front
	 * end's pauses, but QEMU sends its last rings and its status read
	 * without one between: at one queue pair nothing was prepared) are
	 * bound now, ahead of the write; not ahead of a RESET_OWNER, and only
	 * when every ring is on (a ring off is unbound in the burst).  Their
	 * replies come before the write's, and accel_dev_sync() after it says
	 * how they went.
	 */
	vv_msg_init(&m, VV_REQ_DEVICE_SET_STATE, VV_FLAG_NEED_REPLY | VV_FLAG_IF_OK);
	m.u.u64 = VV_STATE_START;
	reqs[n] = m;
	joined = n > 0 && !relay && reqs != cfg && all_on(e) &&
		 accel_dev_one_conditional_write(e->adev, reqs, n + 1);
	prebound = joined && !irqs_ready;
	if (prebound) {
		prepare_irqs(e);
		if (e->failed)
			return -EIO;
		irqs_ready = all_irqs_prepared(e);
		joined = irqs_ready;
	}
	e->nprep = 0;
	e->prep_broken = false;
	/* Whatever went through before a refusal, the device is reset before its next use. */
	e->owner_set = true;
	/* The interrupts travel with the last burst: one round trip up to nine rings. */
	for (unsigned i = 0; i < NV; i++)
		e->prep_call[i] = -1;
	/* A start that fails (no reply in time) may have started it all the same. */
	if (joined)
		e->maybe_running = true;
	r = accel_dev_vhost_run(e->adev, reqs, n + joined, NULL, irqs_ready ? NULL : calls,
				e->nvrings, &done);
	if (r < 0)
		return dev_fail(e, r, joined && done == n ? vv_request_name(m.request) :
							    "configuration");
	if (prebound && (r = accel_dev_sync(e->adev)) < 0)
		return dev_fail(e, r, "the device's interrupts");
	t2 = mono_ns();
	if (!joined) {
		m.flags = VV_FLAG_NEED_REPLY;
		e->maybe_running = true;
		if ((r = vhost(e, VV_REQ_DEVICE_SET_STATE, &m, NULL)) < 0)
			return r;
	}
	e->started = true;
	pthread_mutex_lock(&e->mu);
	e->st.device_starts++;
	e->st.last_map_us = (t1 - t0) / 1000;
	e->st.last_config_us = (t2 - t1) / 1000;
	e->st.last_start_us = (mono_ns() - t2) / 1000;
	pthread_mutex_unlock(&e->mu);
	/* Relay mode: what the guest made available so far goes to the shadow rings first. */
	for (unsigned i = 0; i < e->nvrings && relay; i++)
		if (e->on[i] && shadow_forward(e->shadow, i, mem, qemu) < 0 &&
		    !__atomic_exchange_n(&e->shadow_failed, true, __ATOMIC_ACQ_REL))
			log_err("port %s: relay: %s", e->name, shadow_error(e->shadow));
	relay_set(e, true);
	if (relay != e->was_relaying) {
		for (unsigned i = 0; i < e->nvrings; i++)
			if (e->on[i])
				log_notice("port %s: ring %u %s from avail index %u", e->name, i,
					 relay ? "relayed through shadow rings" : "direct on the device",
					 e->base[i]);
		e->was_relaying = relay;
	}
	/* Guest buffers made available while the device was stopped: look now. */
	for (unsigned i = 0; i < e->nvrings; i++) {
		uint64_t one = 1;

		if (e->on[i] && write(accel_dev_doorbell_fd(e->adev, i), &one, sizeof(one)) < 0)
			(void)0;
	}
	pthread_mutex_lock(&e->mu);
	e->harvest_on = qemu != NULL;
	pthread_mutex_unlock(&e->mu);
	return 0;
}

int engine_accel_used_index(struct vu_dev *dev, unsigned idx, uint16_t *ret)
{
	const struct vu_ring_cfg *rc = &dev->ring[idx];
	const uint16_t *used = guest_mem_uva_range(&dev->mem, rc->addr.used_user_addr, 4);

	if (!used)
		return -EFAULT;
	*ret = __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
	return 0;
}

/* ---- vu_dev_ops ----------------------------------------------------------- */

static int acc_ring_start(void *opaque, unsigned idx)
{
	struct engine_accel *e = opaque;
	int r;

	if (idx >= e->nvrings)
		return -ERANGE;
	r = e->failed ? -EIO : stop_device(e);
	if (r == 0) {
		/* Its call fd may have changed while it was off, unseen (prepare_irqs()). */
		e->prep_call[idx] = -1;
		e->on[idx] = true;
		e->base[idx] = e->dev->ring[idx].base;
		r = configure_and_start(e);
		if (r == 0) {
			log_info("port %s: ring %u started on the accelerator at avail index %u",
				 e->name, idx, e->base[idx]);
			return 0;
		}
		e->on[idx] = false;
	}
	/*
	 * The device failed, not the ring: the port drops the accelerator
	 * right after this (handle_one(), use_accel() see engine_accel_failed())
	 * and vu_dev_switch() restarts every started ring in software, this
	 * one at its own base (acc_ring_stop() answers the base it was given
	 * for a ring that never ran on the device).  An error here told the front end that
	 * its ring failed (QEMU gives up on the NIC) and left the ring stopped
	 * after the fallback.
	 */
	if (e->failed)
		return 0;
	return r;
}

static int acc_ring_stop(void *opaque, unsigned idx, uint16_t *ret_base)
{
	struct engine_accel *e = opaque;
	uint64_t t0 = mono_ns();
	int r;

	if (idx >= e->nvrings)
		return -ERANGE;
	/* Never ran on the device (its start failed with it): it is where it was given. */
	if (!e->on[idx]) {
		*ret_base = e->dev->ring[idx].base;
		return 0;
	}
	/*
	 * One stop per switchover: the first GET_VRING_BASE stops the device,
	 * harvests once and reads every running ring's base; the rings after
	 * it are answered from there, the device untouched.
	 */
	r = e->held ? 0 : stop_device(e);
	if (r < 0 || e->failed) {
		/*
		 * The device failed.  If it failed before this stop with a
		 * start it never confirmed (a request that timed out may have
		 * started it), it was neither stopped nor cut off: now, and
		 * what it left merged, before anything of its is read.
		 */
		if (!e->cut && e->maybe_running)
			final_harvest(e, -EIO, cut_off(e));
		/* Resume where the guest saw the last completion. */
		r = engine_accel_used_index(e->dev, idx, &e->base[idx]);
		if (r < 0)
			return r;
	}
	*ret_base = e->base[idx];
	e->on[idx] = false;
	/* The rings still on wait for their GET_VRING_BASE, or acc_settle(). */
	e->held = any_on(e) && !e->failed;
	pthread_mutex_lock(&e->mu);
	e->st.last_switchover_us = (mono_ns() - t0) / 1000;
	pthread_mutex_unlock(&e->mu);
	log_info("port %s: ring %u stopped on the accelerator at avail index %u", e->name, idx,
		 *ret_base);
	return 0;
}

/*
 * After a request other than GET_VRING_BASE.  A stop that left rings on
 * was not a device stop by QEMU after all (a ring disabled, say), so the
 * rings still on run again, from the bases read at the stop; and rings
 * that waited for DRIVER_OK start, all with one device start.
 */
static void acc_settle(void *opaque)
{
	struct engine_accel *e = opaque;

	/*
	 * A memory table before the device runs (a destination: QEMU sends it
	 * first, then the rings, then DRIVER_OK): the device maps it while
	 * QEMU sets the rings up, and the start only collects the replies.
	 */
	if (!e->started && !e->failed && e->dev->mem.nregions &&
	    !(e->maps_valid && e->maps_gen == e->dev->mem_gen))
		map_memory(e);
	/* Each ring's configuration goes when the front end pauses (engine_accel_idle()). */

	/* Held after a lone stop, or rings waiting for DRIVER_OK: start them. */
	if (e->started || e->failed || !any_on(e) || !may_start(e))
		return;
	configure_and_start(e);
}

/*
 * A running ring's new call fd goes to the device in place: one SET_IRQS
 * (VHOST_SET_VRING_CALL), no stop.  Not started yet (or held): the start
 * reads it.  The relay signals the guest itself: it takes the pause.
 */
static int acc_ring_call_changed(void *opaque, unsigned idx)
{
	struct engine_accel *e = opaque;
	int r;

	if (idx >= e->nvrings || e->failed)
		return -EIO;
	/* Bound before the start (prepare_irqs()): the new one is bound in its place. */
	if (!e->started && e->on[idx] && e->prep_call[idx] >= 0) {
		e->prep_call[idx] = -1;
		prepare_irqs(e);
		return e->failed ? -EIO : 0;
	}
	if (!e->started || !e->on[idx])
		return 0;
	if (e->shadow)
		return -EAGAIN;
	r = accel_dev_set_irq(e->adev, idx, e->dev->ring[idx].call_fd);
	if (r < 0) {
		log_warning("port %s: ring %u: the device did not take the new call fd in place "
			    "(%s): it restarts with it", e->name, idx, accel_dev_error(e->adev));
		return r;
	}
	pthread_mutex_lock(&e->mu);
	e->st.call_swaps++;
	pthread_mutex_unlock(&e->mu);
	return 0;
}

static void acc_pause(void *opaque)
{
	stop_device(opaque);
}

static void acc_resume(void *opaque)
{
	struct engine_accel *e = opaque;

	/* A new QEMU log (resize) or logging turned off: a new device log next time. */
	if (!vu_dev_active_log(e->dev))
		devlog_free(e);
	configure_and_start(e);
}

const struct vu_dev_ops engine_accel_ops = {
	.ring_start = acc_ring_start,
	.ring_stop = acc_ring_stop,
	.pause = acc_pause,
	.resume = acc_resume,
	.ring_call_changed = acc_ring_call_changed,
	.settle = acc_settle,
};

int engine_accel_new(const char *name, struct vu_dev *dev, struct accel_dev *adev,
		     unsigned harvest_ms, enum engine_accel_tracking tracking,
		     struct engine_accel **ret)
{
	struct engine_accel *e = calloc(1, sizeof(*e));
	struct vv_msg m, rep;
	int r;

	if (!e) {
		accel_dev_close(adev);
		return -ENOMEM;
	}
	e->name = name;
	e->dev = dev;
	e->adev = adev;
	e->nvrings = dev->nvrings < NV ? dev->nvrings : NV;
	e->harvest_ms = harvest_ms ? harvest_ms : 50;
	e->tracking = tracking;
	e->log_fd = -1;
	for (unsigned i = 0; i < NV; i++)
		e->scall[i] = e->prep_call[i] = -1;
	pthread_mutex_init(&e->mu, NULL);
	{
		/* The harvester's deadlines are CLOCK_MONOTONIC; so must its waits be. */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&e->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_mutex_init(&e->rmu, NULL);
	pthread_cond_init(&e->rcv, NULL);
	for (unsigned i = 0; i < NV; i++)
		e->kick[i] = e->bell[i] = -1;
	e->relay_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->relay_efd < 0) {
		r = -errno;
		goto fail;
	}
	for (unsigned i = 0; i < e->nvrings; i++) {
		e->scall[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (e->scall[i] < 0) {
			r = -errno;
			goto fail;
		}
	}
	vv_msg_init(&m, 0, 0);
	r = vhost(e, VV_REQ_GET_FEATURES, &m, &rep);
	if (r < 0)
		goto fail;
	e->device_features = rep.u.u64;
	r = -pthread_create(&e->relay, NULL, relay_main, e);
	if (r < 0)
		goto fail;
	e->relay_started = true;
	r = -pthread_create(&e->harvester, NULL, harvester_main, e);
	if (r < 0)
		goto fail;
	e->harvester_started = true;
	*ret = e;
	return 0;
fail:
	engine_accel_free(e);
	return r;
}

void engine_accel_free(struct engine_accel *e)
{
	uint64_t one = 1;

	if (!e)
		return;
	if (!e->failed)
		stop_device(e);
	if (e->harvester_started) {
		pthread_mutex_lock(&e->mu);
		e->quit = true;
		pthread_cond_broadcast(&e->cv);
		pthread_mutex_unlock(&e->mu);
		pthread_join(e->harvester, NULL);
	}
	if (e->relay_started) {
		pthread_mutex_lock(&e->rmu);
		e->relay_quit = true;
		pthread_mutex_unlock(&e->rmu);
		if (write(e->relay_efd, &one, sizeof(one)) < 0)
			(void)0;
		pthread_join(e->relay, NULL);
	}
	devlog_free(e);
	shadow_drop(e);
	for (unsigned i = 0; i < NV; i++)
		if (e->scall[i] >= 0)
			close(e->scall[i]);
	if (e->relay_efd >= 0)
		close(e->relay_efd);
	accel_dev_close(e->adev);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->rmu);
	pthread_cond_destroy(&e->rcv);
	free(e);
}

int engine_accel_probe(struct engine_accel *e)
{
	struct vv_msg m, rep;
	int r;

	if (e->failed)
		return -EIO;
	if (__atomic_load_n(&e->shadow_failed, __ATOMIC_ACQUIRE))
		return dev_fail(e, -EIO, "relay");
	if (!e->started)
		return 0;
	for (unsigned i = 0; i < e->nvrings; i++) {
		if (!e->on[i])
			continue;
		/* A healthy running ring answers EBUSY (not while it runs). */
		vv_msg_init(&m, VV_REQ_GET_VRING_BASE, 0);
		m.u.state.index = i;
		r = accel_dev_vhost(e->adev, &m, &rep);
		if (r == -EBUSY)
			return 0;
		return dev_fail(e, r < 0 ? r : -EPROTO, "health check");
	}
	return 0;
}

uint64_t engine_accel_harvest_misses(struct engine_accel *e)
{
	uint64_t n;

	pthread_mutex_lock(&e->mu);
	n = e->harvest_misses;
	pthread_mutex_unlock(&e->mu);
	return n;
}

void engine_accel_idle(struct engine_accel *e)
{
	prepare(e);
}

int engine_accel_device_readable(struct engine_accel *e)
{
	bool awaited;
	int r;

	if (e->failed)
		return -EIO;
	r = accel_dev_readable(e->adev, &awaited);
	/* Sent without waiting: the DMA mapping (map_memory()) and what prepare() sends. */
	if (r < 0 && awaited)
		return dev_fail(e, r, "DMA map or preparation");
	return r;
}

bool engine_accel_wants_software(const struct engine_accel *e)
{
	return e->wants_software && !e->failed;
}

bool engine_accel_failed(const struct engine_accel *e)
{
	return e->failed;
}

struct accel_dev *engine_accel_device(struct engine_accel *e)
{
	return e->adev;
}

void engine_accel_stats(struct engine_accel *e, struct engine_accel_stats *ret)
{
	pthread_mutex_lock(&e->mu);
	*ret = e->st;
	ret->relayed = e->relayed_before + (e->shadow ? shadow_relayed(e->shadow) : 0);
	ret->relay_on = e->shadow != NULL && e->started;
	ret->device_features = e->device_features;
	/* A device without SUSPEND always relays: the relay serves EVENT_IDX. */
	ret->unserved_features = LAYOUT_FEATURES & ~e->device_features &
		~(accel_dev_can_suspend(e->adev) ? 0 : VU_BIT(VIRTIO_F_EVENT_IDX));
	pthread_mutex_unlock(&e->mu);
}
