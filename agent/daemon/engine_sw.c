/*
 * Software data path: worker threads over split virtqueues.  See
 * engine_sw.h for the pause protocol that keeps control-thread changes and
 * the data path apart.
 *
 * Per queue pair q the worker owns ring 2q (receiveq: we write frames for
 * the guest) and ring 2q+1 (transmitq: the guest's frames for the wire).
 * Each pass moves a bounded batch each way, publishes, and signals the
 * guest if it asked; with nothing to do it re-enables notifications and
 * sleeps in poll() on the kick eventfds, the endpoint and its control
 * eventfd.  The guest's rings are checked by virtqueue.c; a ring the guest
 * broke is reported once (log line and SET_VRING_ERR eventfd) and left
 * alone, while its sibling and every other port keep running.
 */
#include "agent/daemon/engine_sw.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/common/log.h"
#include "agent/datapath/virtio_net.h"
#include "dirtylog/dirtylog.h"

enum { RX = 0, TX = 1 };
#define BATCH 256

struct worker {
	struct engine_sw *e;
	unsigned qp;
	pthread_t thread;
	bool thread_started;
	int ctl_efd;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool pause_req;		/* also read without mu, atomically */
	bool paused;
	bool quit;
	uint64_t handshakes;	/* pauses that waited for the thread (under mu) */

	/* Owned by the worker while it runs, by the control thread while paused. */
	struct vq vq[2];
	bool running[2];
	/*
	 * The control thread's alone: started by the front end, which acked
	 * F_STATUS and has not set DRIVER_OK yet; served from then on
	 * (eng_settle()).
	 */
	bool waiting[2];
	/*
	 * The ring could not be set up again after a change of the memory table
	 * (its addresses are no longer in guest memory): it stays "running" for
	 * the device, is not served, reports broken, and GET_VRING_BASE answers
	 * the index it had.
	 */
	bool failed[2];
	uint16_t failed_base[2];
	/*
	 * Stopped with its sibling's GET_VRING_BASE (QEMU stops a queue pair's
	 * two rings in a row), at held_base: its own GET_VRING_BASE answers
	 * from there without a pause, and eng_settle() serves it again if a
	 * request of another kind comes first.  The control thread's alone.
	 */
	bool held[2];
	uint16_t held_base[2];
	int kick_fd[2];
	int call_fd[2];
	int err_fd[2];
	bool err_reported[2];
	size_t hdr_len;
	bool mergeable;
	struct vq_logger logger;
	struct dirtylog_cache cache;	/* QEMU's log (migration) or bench-log */
	bool logging;
	struct dirtylog_cache rec_cache;	/* dirtylog-snapshot recording */
	bool recording;
	uint64_t log_errors;

	uint8_t *txbuf;
	uint8_t *rxbuf;
	size_t rx_len;
	bool rx_pending;	/* a frame from the endpoint waits for RX buffers */

	/*
	 * Wall-clock ns of the first frame moved since the ring (re)started and
	 * of the last one, 0 for none: written by the worker once per batch,
	 * read by port show (relaxed; display and vdpa-migrate's traffic gap).
	 */
	uint64_t first_rt_ns[2];
	uint64_t last_rt_ns[2];
};

struct engine_sw {
	const char *name;
	struct vu_dev *dev;
	struct endpoint *ep;
	bool poll;
	unsigned nqp;
	struct worker w[];
};

static void lg_mark(void *opaque, uint64_t gpa, uint64_t len)
{
	struct worker *w = opaque;

	/* Beyond QEMU's log: cannot be recorded; counted, shown in port show. */
	if (w->logging && dirtylog_cache_mark(&w->cache, gpa, len) < 0)
		__atomic_store_n(&w->log_errors, __atomic_load_n(&w->log_errors, __ATOMIC_RELAXED) + 1,
				 __ATOMIC_RELAXED);	/* one writer; port show reads */
	if (w->recording)
		dirtylog_cache_mark(&w->rec_cache, gpa, len);
}

static void lg_flush(void *opaque)
{
	struct worker *w = opaque;

	if (w->logging)
		dirtylog_cache_flush(&w->cache);
	if (w->recording)
		dirtylog_cache_flush(&w->rec_cache);
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		(void)0; /* the front end closed its end; nothing to tell */
}

static void drain_fd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		(void)0; /* EAGAIN: already drained */
}

/*
 * Records that ring s moved frames in this batch.  CLOCK_REALTIME, not
 * MONOTONIC: vdpa-migrate compares the source host's last frame with the
 * destination host's first.  A vDSO read per batch, not per frame (the
 * coarse clock's tick of up to 4 ms would blur a gap of a few ms).
 */
static void note_moved(struct worker *w, unsigned s)
{
	struct timespec ts;
	uint64_t now;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return;
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (!now)
		return;
	if (!__atomic_load_n(&w->first_rt_ns[s], __ATOMIC_RELAXED))
		__atomic_store_n(&w->first_rt_ns[s], now, __ATOMIC_RELAXED);
	__atomic_store_n(&w->last_rt_ns[s], now, __ATOMIC_RELAXED);
}

static void publish_and_notify(struct worker *w, unsigned s)
{
	vq_publish(&w->vq[s]);
	if (vq_need_notify(&w->vq[s]))
		signal_fd(w->call_fd[s]);
}

static unsigned do_tx(struct worker *w)
{
	struct vq *vq = &w->vq[TX];
	unsigned n = 0, sent = 0;
	size_t len;
	int r;

	while (n < BATCH) {
		r = vnet_tx_pop(vq, &w->e->dev->mem, w->hdr_len, w->txbuf, ENDPOINT_MAX_FRAME, &len);
		if (r == -EAGAIN || r == -EIO)
			break;
		n++;
		if (r < 0)
			continue; /* dropped and returned to the guest */
		if (endpoint_send(w->e->ep, w->qp, w->txbuf, len) < 0)
			vq_count_drop(vq);
		else
			sent++;
	}
	if (n)
		publish_and_notify(w, TX);
	if (sent)
		note_moved(w, TX);
	return n;
}

static unsigned do_rx(struct worker *w)
{
	struct vq *vq = &w->vq[RX];
	unsigned n = 0, pushed = 0;
	ssize_t got;
	int r;

	while (n < BATCH) {
		if (!w->rx_pending) {
			got = endpoint_recv(w->e->ep, w->qp, w->rxbuf, ENDPOINT_MAX_FRAME);
			if (got < 0)
				break;
			w->rx_len = (size_t)got;
			w->rx_pending = true;
		}
		r = vnet_rx_push(vq, &w->e->dev->mem, w->hdr_len, w->mergeable, w->rxbuf, w->rx_len);
		if (r == -EAGAIN)
			break; /* no buffers: keep the frame, wait for a kick */
		w->rx_pending = false;
		n++;
		if (r == 0)
			pushed++;
		if (r == -EIO)
			break;
	}
	if (pushed) {
		publish_and_notify(w, RX);
		note_moved(w, RX);
	}
	return n;
}

static void report_broken(struct worker *w, unsigned s)
{
	if (!w->running[s] || w->err_reported[s] || !vq_is_broken(&w->vq[s]))
		return;
	w->err_reported[s] = true;
	log_warning("port %s: ring %u: guest error, ring stopped: %s", w->e->name,
		    2 * w->qp + s, vq_reason(&w->vq[s]));
	signal_fd(w->err_fd[s]);
}

/* Whether the worker moves frames on ring s: started, set up, not broken. */
static bool serving(const struct worker *w, unsigned s)
{
	return w->running[s] && !w->failed[s] && !vq_is_broken(&w->vq[s]);
}

/* Nothing to serve: the worker parks until a ring is given to it. */
static bool idle(const struct worker *w)
{
	return !serving(w, RX) && !serving(w, TX);
}

/*
 * Parks until resumed, and for as long as it is idle; returns true when
 * the worker must exit.  Parked idle, the worker is paused for the control
 * thread: worker_pause() returns at once, and a ring's first start (a
 * destination's, inside the migration's downtime) needs no handshake with
 * a thread that may be waiting for a core.  idle() is read only while no
 * pause is asked for: the control thread changes a paused worker's rings
 * without the mutex and resumes it under it.
 */
static bool park(struct worker *w)
{
	bool quit;

	/*
	 * Marks of writes no used index published yet (a chain written, then
	 * given back: -EAGAIN, -EMSGSIZE) are still in the cache, and the
	 * bytes are in guest memory all the same.  The control thread may
	 * answer GET_VRING_BASE, replace or drop the log, or free the engine
	 * once we are parked, and the refresh after it starts a new cache:
	 * whatever is cached now goes into the log before we say so.
	 */
	lg_flush(w);
	pthread_mutex_lock(&w->mu);
	w->paused = true;
	pthread_cond_broadcast(&w->cv);
	while (!w->quit && (w->pause_req || idle(w)))
		pthread_cond_wait(&w->cv, &w->mu);
	w->paused = false;
	quit = w->quit;
	pthread_mutex_unlock(&w->mu);
	return quit;
}

static bool want_rx_kick(const struct worker *w)
{
	return serving(w, RX) && w->rx_pending;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct engine_sw *e = w->e;

	for (;;) {
		struct pollfd pfd[4];
		nfds_t n = 0;
		unsigned progress = 0;
		bool again = false, nofd = false;
		int timeout = -1;

		if (__atomic_load_n(&w->pause_req, __ATOMIC_ACQUIRE)) {
			if (park(w))
				break;
			continue;
		}
		if (serving(w, TX))
			progress += do_tx(w);
		if (serving(w, RX))
			progress += do_rx(w);
		report_broken(w, TX);
		report_broken(w, RX);
		if (idle(w)) {
			if (park(w))
				break;
			continue;
		}
		if (progress || e->poll)
			continue;

		/* Nothing to do: ask for kicks, then re-check to close the race. */
		if (serving(w, TX) && vq_enable_notify(&w->vq[TX]) == 1)
			again = true;
		if (want_rx_kick(w) && vq_enable_notify(&w->vq[RX]) == 1)
			again = true;
		if (again) {
			if (serving(w, TX))
				vq_disable_notify(&w->vq[TX]);
			continue;
		}

		pfd[n++] = (struct pollfd){ .fd = w->ctl_efd, .events = POLLIN };
		if (serving(w, TX)) {
			if (w->kick_fd[TX] >= 0)
				pfd[n++] = (struct pollfd){ .fd = w->kick_fd[TX], .events = POLLIN };
			else
				nofd = true;
		}
		if (want_rx_kick(w)) {
			if (w->kick_fd[RX] >= 0)
				pfd[n++] = (struct pollfd){ .fd = w->kick_fd[RX], .events = POLLIN };
			else
				nofd = true;
		}
		if (serving(w, RX) && !w->rx_pending && endpoint_rx_fd(e->ep, w->qp) >= 0)
			pfd[n++] = (struct pollfd){ .fd = endpoint_rx_fd(e->ep, w->qp), .events = POLLIN };
		/* A ring without a kick fd must be polled: look again every millisecond. */
		if (nofd)
			timeout = 1;
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			log_err("port %s: queue pair %u: poll: %s", e->name, w->qp, strerror(errno));

		for (nfds_t i = 0; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (pfd[i].fd == w->ctl_efd) {
				drain_fd(w->ctl_efd);
			} else if (pfd[i].fd == w->kick_fd[TX] && serving(w, TX)) {
				drain_fd(pfd[i].fd);
				vq_count_kick(&w->vq[TX]);
			} else if (pfd[i].fd == w->kick_fd[RX] && serving(w, RX)) {
				drain_fd(pfd[i].fd);
				vq_count_kick(&w->vq[RX]);
			}
		}
		if (serving(w, TX))
			vq_disable_notify(&w->vq[TX]);
		if (serving(w, RX))
			vq_disable_notify(&w->vq[RX]);
	}
	return NULL;
}

static void worker_pause(struct worker *w)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->mu);
	__atomic_store_n(&w->pause_req, true, __ATOMIC_RELEASE);
	/* Parked (idle), it is not in poll(): nothing to wake. */
	if (!w->paused && write(w->ctl_efd, &one, sizeof(one)) < 0)
		(void)0; /* counter saturated: the worker is awake anyway */
	if (!w->paused && w->thread_started)
		w->handshakes++;
	while (!w->paused && w->thread_started)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

static void worker_resume(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	__atomic_store_n(&w->pause_req, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/*
 * Re-derives the worker's view of ring s from the device (memory table,
 * addresses, fds, log), keeping the ring's position.  Called while paused.
 */
static int worker_refresh_ring(struct worker *w, unsigned s, bool fresh)
{
	struct vu_dev *d = w->e->dev;
	unsigned idx = 2 * w->qp + s;
	const struct vu_ring_cfg *rc = &d->ring[idx];
	struct vq *vq = &w->vq[s];
	bool was_broken = !fresh && vq_is_broken(vq);
	const char *reason = was_broken ? vq_reason(vq) : NULL;
	uint16_t base = fresh ? rc->base : vq_get_base(vq);
	uint32_t flags = 0;
	int r;

	uint64_t log_addr = rc->addr.log_guest_addr;

	if (rc->addr.flags & VU_VRING_F_LOG)
		flags |= VQ_F_LOG;
	/* bench-log and recording: the used ring too, at its guest-physical address. */
	if ((d->bench_log || d->rec_log) && !(flags & VQ_F_LOG)) {
		log_addr = guest_mem_uva_to_gpa(&d->mem, rc->addr.used_user_addr);
		if (log_addr != UINT64_MAX)
			flags |= VQ_F_LOG;
	}
	if (d->features & VU_BIT(VIRTIO_F_EVENT_IDX))
		flags |= VQ_F_EVENT_IDX;
	if (d->features & VU_BIT(VIRTIO_F_INDIRECT_DESC))
		flags |= VQ_F_INDIRECT;
	r = vq_setup(vq, &d->mem, rc->num, rc->addr.desc_user_addr, rc->addr.avail_user_addr,
		     rc->addr.used_user_addr, log_addr, flags, base);
	if (r < 0) {
		log_err("port %s: ring %u: %s", w->e->name, idx, vq_reason(vq));
		if (!fresh) {
			w->failed[s] = true;
			w->failed_base[s] = base;
			signal_fd(rc->err_fd);
		}
		return r;
	}
	w->failed[s] = false;
	/* A ring the guest broke stays broken across pauses (and is not re-reported). */
	if (was_broken)
		vq_set_broken(vq, reason);
	if (fresh)
		w->err_reported[s] = false;
	vq_set_logger(vq, w->logging || w->recording ? &w->logger : NULL);
	w->kick_fd[s] = rc->kick_fd;
	w->call_fd[s] = rc->call_fd;
	w->err_fd[s] = rc->err_fd;
	/*
	 * No kicks for RX until we wait for buffers; none at all when polling,
	 * or the front end makes a system call per burst for nothing.
	 */
	if (s == RX || w->e->poll)
		vq_disable_notify(vq);
	return 0;
}

static void worker_refresh(struct worker *w)
{
	struct vu_dev *d = w->e->dev;
	struct dirtylog *log = vu_dev_active_log(d);

	w->hdr_len = vnet_hdr_len(d->features);
	w->mergeable = (d->features & VU_BIT(VIRTIO_NET_F_MRG_RXBUF)) != 0;
	w->logging = log != NULL;
	/* Empty: park() flushed it into the log it was for. */
	if (log)
		dirtylog_cache_init(&w->cache, log);
	w->recording = d->rec_log != NULL;
	if (d->rec_log)
		dirtylog_cache_init(&w->rec_cache, d->rec_log);
	for (unsigned s = 0; s < 2; s++) {
		if (w->running[s] && !w->failed[s])
			worker_refresh_ring(w, s, false);
	}
}

/* The host sees a link while at least one receive ring runs. */
static void update_carrier(struct engine_sw *e)
{
	bool on = false;
	int r;

	for (unsigned q = 0; q < e->nqp; q++)
		on = on || __atomic_load_n(&e->w[q].running[RX], __ATOMIC_RELAXED);
	r = endpoint_set_carrier(e->ep, on);
	if (r < 0)
		log_warning("port %s: cannot set the link %s: %s", e->name, on ? "up" : "down",
			    strerror(-r));
}

/* Ring s of paused worker w starts at the front end's base. */
static int ring_go(struct engine_sw *e, struct worker *w, unsigned s)
{
	int r = worker_refresh_ring(w, s, true);

	w->held[s] = false;
	if (r == 0) {
		w->running[s] = true;
		/* Paused: the worker writes it no more until resumed. */
		__atomic_store_n(&w->first_rt_ns[s], 0, __ATOMIC_RELAXED);
		if (s == RX) {
			/* Frames queued while nobody received are stale: drop them. */
			w->rx_pending = false;
			endpoint_drain(e->ep, w->qp);
		}
		log_info("port %s: ring %u started at avail index %u", e->name, 2 * w->qp + s,
			 e->dev->ring[2 * w->qp + s].base);
	}
	return r;
}

/* The worker serving ring idx, NULL for a ring the port does not have. */
static struct worker *worker_of(struct engine_sw *e, unsigned idx)
{
	return idx / 2 < e->nqp ? &e->w[idx / 2] : NULL;
}

/*
 * With F_STATUS a ring waits for DRIVER_OK (the virtio spec has the device
 * consume no buffer before it), and every ring of a queue pair then starts
 * with one pause of its worker (eng_settle()): a destination's rings used
 * to cost a pause each, and another each for its call fd, inside the
 * downtime.
 */
static int eng_ring_start(void *opaque, unsigned idx)
{
	struct engine_sw *e = opaque;
	struct worker *w = worker_of(e, idx);
	unsigned s = idx % 2;
	int r;

	if (!w)
		return -ERANGE;
	if (!vu_dev_driver_ok(e->dev)) {
		w->waiting[s] = true;
		return 0;
	}
	worker_pause(w);
	worker_refresh(w);
	r = ring_go(e, w, s);
	worker_resume(w);
	if (r == 0 && s == RX)
		update_carrier(e);
	return r;
}

static void eng_settle(void *opaque)
{
	struct engine_sw *e = opaque;
	bool rx = false;

	if (!vu_dev_driver_ok(e->dev))
		return;
	for (unsigned q = 0; q < e->nqp; q++) {
		struct worker *w = &e->w[q];

		if (!w->waiting[RX] && !w->waiting[TX] && !w->held[RX] && !w->held[TX])
			continue;
		worker_pause(w);
		worker_refresh(w);
		for (unsigned s = 0; s < 2; s++) {
			unsigned idx = 2 * q + s;

			/*
			 * Stopped with its sibling, and QEMU did not ask for its
			 * base next (a lone stop): served again where it stopped.
			 * A ring that cannot be set up again reports broken.
			 */
			if (w->held[s]) {
				w->held[s] = false;
				w->running[s] = true;
				if (worker_refresh_ring(w, s, false) == 0) {
					rx = rx || s == RX;
					log_info("port %s: ring %u served again at avail index %u",
						 e->name, idx, w->held_base[s]);
				}
				continue;
			}
			if (!w->waiting[s])
				continue;
			w->waiting[s] = false;
			if (ring_go(e, w, s) == 0) {
				rx = rx || s == RX;
				continue;
			}
			/* Too late to fail the request: the ring reports broken (see failed). */
			w->running[s] = w->failed[s] = true;
			w->failed_base[s] = e->dev->ring[idx].base;
			signal_fd(e->dev->ring[idx].err_fd);
		}
		worker_resume(w);
	}
	if (rx)
		update_carrier(e);
}

/* A ring the worker does not serve yet reads its call fd when it starts. */
static int eng_ring_call_changed(void *opaque, unsigned idx)
{
	struct worker *w = worker_of(opaque, idx);

	if (!w)
		return -ERANGE;
	return w->running[idx % 2] ? -EAGAIN : 0;
}

static int eng_ring_stop(void *opaque, unsigned idx, uint16_t *ret_base)
{
	struct engine_sw *e = opaque;
	struct worker *w = worker_of(e, idx);
	unsigned s = idx % 2;
	uint16_t base;

	if (!w)
		return -ERANGE;
	if (w->waiting[s]) {
		/* Never served: it is where the front end put it. */
		w->waiting[s] = false;
		*ret_base = e->dev->ring[idx].base;
		log_info("port %s: ring %u stopped at avail index %u", e->name, idx, *ret_base);
		return 0;
	}
	if (w->held[s]) {
		/* Stopped with its sibling: the worker has not touched it since. */
		w->held[s] = false;
		w->kick_fd[s] = w->call_fd[s] = w->err_fd[s] = -1;
		log_info("port %s: ring %u stopped at avail index %u", e->name, idx, w->held_base[s]);
		*ret_base = w->held_base[s];
		return 0;
	}
	worker_pause(w);
	if (!w->running[s]) {
		worker_resume(w);
		return -EINVAL;
	}
	/* Paused: every popped chain was pushed and published; the base is exact. */
	base = w->failed[s] ? w->failed_base[s] : vq_get_base(&w->vq[s]);
	w->running[s] = false;
	w->failed[s] = false;
	w->kick_fd[s] = w->call_fd[s] = w->err_fd[s] = -1;
	/*
	 * QEMU stops a queue pair by asking both its rings' bases in a row
	 * (vhost_dev_stop()): the sibling stops in this same pause, one
	 * handshake with the worker per queue pair instead of two inside the
	 * downtime.  Its position is exact for the same reason as this one's.
	 * A sibling that could not be set up again (failed) keeps its own
	 * stop: it is not served, and eng_settle() must not set it up.
	 */
	if (w->running[s ^ 1] && !w->failed[s ^ 1]) {
		unsigned o = s ^ 1;

		w->held_base[o] = vq_get_base(&w->vq[o]);
		w->held[o] = true;
		w->running[o] = false;
	}
	worker_resume(w);
	if (s == RX || w->held[RX])
		update_carrier(e);
	log_info("port %s: ring %u stopped at avail index %u", e->name, idx, base);
	*ret_base = base;
	return 0;
}

static void eng_pause(void *opaque)
{
	struct engine_sw *e = opaque;

	for (unsigned q = 0; q < e->nqp; q++)
		worker_pause(&e->w[q]);
}

static void eng_resume(void *opaque)
{
	struct engine_sw *e = opaque;

	for (unsigned q = 0; q < e->nqp; q++) {
		worker_refresh(&e->w[q]);
		worker_resume(&e->w[q]);
	}
}

static int eng_send_rarp(void *opaque, const uint8_t mac[6])
{
	struct engine_sw *e = opaque;

	return endpoint_send_rarp(e->ep, mac);
}

const struct vu_dev_ops engine_sw_ops = {
	.ring_start = eng_ring_start,
	.ring_stop = eng_ring_stop,
	.pause = eng_pause,
	.resume = eng_resume,
	.ring_call_changed = eng_ring_call_changed,
	.send_rarp = eng_send_rarp,
	.settle = eng_settle,
};

void engine_sw_free(struct engine_sw *e)
{
	if (!e)
		return;
	for (unsigned q = 0; q < e->nqp; q++) {
		struct worker *w = &e->w[q];
		uint64_t one = 1;

		if (w->thread_started) {
			pthread_mutex_lock(&w->mu);
			w->quit = true;
			__atomic_store_n(&w->pause_req, true, __ATOMIC_RELEASE);
			pthread_cond_broadcast(&w->cv);
			pthread_mutex_unlock(&w->mu);
			if (write(w->ctl_efd, &one, sizeof(one)) < 0)
				(void)0;
			pthread_join(w->thread, NULL);
		}
		if (w->ctl_efd >= 0)
			close(w->ctl_efd);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w->txbuf);
		free(w->rxbuf);
	}
	free(e);
}

int engine_sw_new(const char *name, struct vu_dev *dev, struct endpoint *ep, bool poll,
		  struct engine_sw **ret)
{
	unsigned nqp = dev->nvrings / 2;
	struct engine_sw *e;
	int r;

	e = calloc(1, sizeof(*e) + nqp * sizeof(struct worker));
	if (!e)
		return -ENOMEM;
	e->name = name;
	e->dev = dev;
	e->ep = ep;
	e->poll = poll;
	e->nqp = nqp;
	for (unsigned q = 0; q < nqp; q++) {
		struct worker *w = &e->w[q];

		w->e = e;
		w->qp = q;
		pthread_mutex_init(&w->mu, NULL);
		pthread_cond_init(&w->cv, NULL);
		vq_init(&w->vq[RX]);
		vq_init(&w->vq[TX]);
		for (unsigned s = 0; s < 2; s++)
			w->kick_fd[s] = w->call_fd[s] = w->err_fd[s] = -1;
		w->logger = (struct vq_logger){ .mark = lg_mark, .flush = lg_flush, .opaque = w };
		w->ctl_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		w->txbuf = malloc(ENDPOINT_MAX_FRAME);
		w->rxbuf = malloc(ENDPOINT_MAX_FRAME);
		if (w->ctl_efd < 0 || !w->txbuf || !w->rxbuf) {
			r = w->ctl_efd < 0 ? -errno : -ENOMEM;
			goto fail;
		}
	}
	for (unsigned q = 0; q < nqp; q++) {
		struct worker *w = &e->w[q];
		char tname[32];

		r = -pthread_create(&w->thread, NULL, worker_main, w);
		if (r < 0)
			goto fail;
		w->thread_started = true;
		snprintf(tname, sizeof(tname), "dp-%.8s-%u", name, q);
		tname[15] = '\0'; /* the kernel's limit for thread names */
		pthread_setname_np(w->thread, tname);
	}
	*ret = e;
	return 0;
fail:
	engine_sw_free(e);
	return r;
}

void engine_sw_ring_info(struct engine_sw *e, unsigned idx, struct engine_ring_info *ret)
{
	struct worker *w;
	unsigned s = idx % 2;

	memset(ret, 0, sizeof(*ret));
	if (!e || idx / 2 >= e->nqp)
		return;
	w = &e->w[idx / 2];
	/* Display only: racy snapshots of single words are acceptable here. */
	ret->running = __atomic_load_n(&w->running[s], __ATOMIC_RELAXED);
	ret->broken = vq_is_broken(&w->vq[s]) || __atomic_load_n(&w->failed[s], __ATOMIC_RELAXED);
	ret->reason = ret->broken ? vq_reason(&w->vq[s]) : NULL;
	ret->next_avail = __atomic_load_n(&w->vq[s].last_avail_idx, __ATOMIC_RELAXED);
	ret->used = __atomic_load_n(&w->vq[s].published_idx, __ATOMIC_RELAXED);
	vq_get_stats(&w->vq[s], &ret->stats);
	ret->first_frame_rt_ns = __atomic_load_n(&w->first_rt_ns[s], __ATOMIC_RELAXED);
	ret->last_frame_rt_ns = __atomic_load_n(&w->last_rt_ns[s], __ATOMIC_RELAXED);
}

uint64_t engine_sw_log_errors(struct engine_sw *e)
{
	uint64_t n = 0;

	for (unsigned q = 0; e && q < e->nqp; q++)
		n += __atomic_load_n(&e->w[q].log_errors, __ATOMIC_RELAXED);
	return n;
}

uint64_t engine_sw_handshakes(struct engine_sw *e)
{
	uint64_t n = 0;

	for (unsigned q = 0; e && q < e->nqp; q++) {
		pthread_mutex_lock(&e->w[q].mu);
		n += e->w[q].handshakes;
		pthread_mutex_unlock(&e->w[q].mu);
	}
	return n;
}

bool engine_sw_parked(struct engine_sw *e)
{
	bool parked = true;

	for (unsigned q = 0; e && q < e->nqp; q++) {
		pthread_mutex_lock(&e->w[q].mu);
		parked = parked && e->w[q].paused && !e->w[q].pause_req;
		pthread_mutex_unlock(&e->w[q].mu);
	}
	return parked;
}
