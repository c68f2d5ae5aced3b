// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vdpa-simd data path: the device's own "DMA" engine.  One worker thread
 * per queue pair q owns ring 2q (receiveq: wire -> guest) and ring 2q+1
 * (transmitq: guest -> wire), the same loop shape as the agent's software
 * engine: move a bounded batch each way, publish, raise the irq vector if
 * the driver asked, and with nothing to do re-enable notifications and
 * sleep on the doorbells (our io eventfds), the wire and a stop eventfd.
 *
 * TRUST BOUNDARY: the rings and every descriptor in them come from the
 * guest through the client's DMA mappings.  virtqueue.c reads each shared
 * field once and bounds-checks every address against the data-path view of
 * memory (the DMA-mapped IOVA ranges); an address outside is a device DMA
 * fault: the ring breaks, we log it once, GET_VRING_BASE reports EIO while
 * the device runs, and nothing here crashes.
 *
 * Dirty log: like the hardware it stands in for, the device marks only the
 * packet buffers it writes (RX), by IOVA at the log's granularity, flushed
 * before the used index is published and when the worker stops (a chain
 * written and given back publishes nothing).  It never logs used rings (no
 * VQ_F_LOG): the driver of the device does that.
 */
#include "contrib/vdpa-simd/simd.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/common/log.h"
#include "agent/datapath/virtio_net.h"

enum { RX = 0, TX = 1 };
#define BATCH 256

/* --fault die-after-packets: frames moved by every worker together. */
static uint64_t frames_moved;

static void lg_mark(void *opaque, uint64_t iova, uint64_t len)
{
	struct simd_worker *w = opaque;

	/* Beyond the log the client gave us: counted, reported at stop. */
	if (w->logging && dirtylog_cache_mark(&w->cache, iova, len) < 0)
		w->log_errors++;
}

static void lg_flush(void *opaque)
{
	struct simd_worker *w = opaque;

	if (w->logging)
		dirtylog_cache_flush(&w->cache);
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		(void)0; /* EAGAIN (counter full) or a closed peer: nothing to do */
}

static void drain_fd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		(void)0; /* EAGAIN: already drained */
}

/* The stop eventfd: a worker asleep in its poll wakes. */
static void kick_stop_efd(struct simd_worker *w)
{
	uint64_t one = 1;

	w->kick_later = false;
	if (write(w->stop_efd, &one, sizeof(one)) < 0)
		(void)0; /* counter saturated: the worker wakes anyway */
}

static struct simd_ring *wring(struct simd_worker *w, unsigned s)
{
	return &w->d->ring[2 * w->qp + s];
}

static bool serving(struct simd_worker *w, unsigned s)
{
	struct simd_ring *r = wring(w, s);

	return r->started && !vq_is_broken(&r->vq);
}

/* The fault budget: may one more frame move? */
static bool budget_left(const struct simd_worker *w)
{
	uint64_t n = w->d->opt->die_after;

	return n == 0 || __atomic_load_n(&frames_moved, __ATOMIC_RELAXED) < n;
}

static void count_frame(void)
{
	__atomic_add_fetch(&frames_moved, 1, __ATOMIC_RELAXED);
}

/* After a publish: the fault fires once the budget is spent, abruptly. */
static void maybe_die(const struct simd_worker *w)
{
	uint64_t n = w->d->opt->die_after;

	if (n && __atomic_load_n(&frames_moved, __ATOMIC_RELAXED) >= n) {
		log_err("fault die-after-packets=%llu: %llu frames moved, exiting now",
			(unsigned long long)n, (unsigned long long)n);
		_exit(SIMD_EXIT_FAULT);
	}
}

static void publish_and_notify(struct simd_worker *w, unsigned s)
{
	struct simd_ring *r = wring(w, s);

	vq_publish(&r->vq);
	if (vq_need_notify(&r->vq))
		signal_fd(r->call_fd);
	maybe_die(w);
}

static unsigned do_tx(struct simd_worker *w)
{
	struct vq *vq = &wring(w, TX)->vq;
	unsigned n = 0;
	size_t len;
	int r;

	while (n < BATCH && budget_left(w)) {
		r = vnet_tx_pop(vq, &w->d->mem, w->hdr_len, w->txbuf, ENDPOINT_MAX_FRAME, &len);
		if (r == -EAGAIN || r == -EIO)
			break;
		n++;
		if (r < 0)
			continue; /* malformed: dropped and returned to the guest */
		if (endpoint_send(w->d->ep, w->qp, w->txbuf, len) < 0)
			vq_count_drop(vq);
		count_frame();
	}
	if (n)
		publish_and_notify(w, TX);
	return n;
}

static unsigned do_rx(struct simd_worker *w)
{
	struct vq *vq = &wring(w, RX)->vq;
	unsigned n = 0, pushed = 0;
	ssize_t got;
	int r;

	while (n < BATCH && budget_left(w)) {
		if (!w->rx_pending) {
			got = endpoint_recv(w->d->ep, w->qp, w->rxbuf, ENDPOINT_MAX_FRAME);
			if (got < 0)
				break;
			w->rx_len = (size_t)got;
			w->rx_pending = true;
		}
		r = vnet_rx_push(vq, &w->d->mem, w->hdr_len, w->mergeable, w->rxbuf, w->rx_len);
		if (r == -EAGAIN)
			break; /* no buffers: keep the frame, wait for a doorbell */
		w->rx_pending = false;
		n++;
		if (r == 0) {
			pushed++;
			count_frame();
		}
		if (r == -EIO)
			break;
	}
	if (pushed)
		publish_and_notify(w, RX);
	return n;
}

static void report_broken(struct simd_worker *w, unsigned s)
{
	struct simd_ring *r = wring(w, s);

	if (!r->started || r->err_reported || !vq_is_broken(&r->vq))
		return;
	r->err_reported = true;
	log_err("%s: ring %u: device error, ring stopped: %s", w->d->who, 2 * w->qp + s,
		vq_reason(&r->vq));
}

/* --fault stall-ms: the doorbell is served late; a stop request cuts it short. */
static void stall(struct simd_worker *w)
{
	struct pollfd p = { .fd = w->stop_efd, .events = POLLIN };

	if (w->d->opt->stall_ms)
		(void)poll(&p, 1, (int)w->d->opt->stall_ms);
}

/* false: asked to stop already (it serves no more). */
static bool go_to_sleep(struct simd_worker *w)
{
	bool sleep;

	pthread_mutex_lock(&w->mu);
	sleep = !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE);
	w->asleep = sleep;
	pthread_mutex_unlock(&w->mu);
	return sleep;
}

/* false: a stop let it go while it slept; it must not touch a ring again. */
static bool wake_up(struct simd_worker *w)
{
	bool let_go;

	pthread_mutex_lock(&w->mu);
	w->asleep = false;
	let_go = w->let_go;
	pthread_mutex_unlock(&w->mu);
	return !let_go;
}

/* Serves the rings until asked to stop. */
static void serve(struct simd_worker *w)
{
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		struct simd_ring *rx = wring(w, RX), *tx = wring(w, TX);
		struct pollfd pfd[4];
		nfds_t n = 0;
		unsigned progress = 0;
		bool again = false, kicked = false;
		int efd;

		if (serving(w, TX))
			progress += do_tx(w);
		if (serving(w, RX))
			progress += do_rx(w);
		report_broken(w, TX);
		report_broken(w, RX);
		if (progress)
			continue;

		/* Nothing to do: ask for doorbells, then look again (the race). */
		if (serving(w, TX) && vq_enable_notify(&tx->vq) == 1)
			again = true;
		if (serving(w, RX) && w->rx_pending && vq_enable_notify(&rx->vq) == 1)
			again = true;
		if (again) {
			if (serving(w, TX))
				vq_disable_notify(&tx->vq);
			continue;
		}

		/*
		 * Asleep, the worker touches nothing: a stop finds it so (under
		 * mu) and lets it go without waiting for it (worker_tell_stop()).
		 * The marks in its cache go to the log first.
		 */
		lg_flush(w);
		if (!go_to_sleep(w))
			break;
		pfd[n++] = (struct pollfd){ .fd = w->stop_efd, .events = POLLIN };
		if (serving(w, TX))
			pfd[n++] = (struct pollfd){ .fd = tx->kick_fd, .events = POLLIN };
		if (serving(w, RX) && w->rx_pending)
			pfd[n++] = (struct pollfd){ .fd = rx->kick_fd, .events = POLLIN };
		efd = endpoint_rx_fd(w->d->ep, w->qp);
		if (serving(w, RX) && !w->rx_pending && efd >= 0)
			pfd[n++] = (struct pollfd){ .fd = efd, .events = POLLIN };
		if (poll(pfd, n, -1) < 0 && errno != EINTR)
			log_err("%s: queue pair %u: poll: %s", w->d->who, w->qp, strerror(errno));
		if (!wake_up(w))
			return;	/* let go asleep: the rings may be gone, the log too */

		for (nfds_t i = 0; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (pfd[i].fd == w->stop_efd) {
				drain_fd(w->stop_efd);
			} else if (pfd[i].fd == tx->kick_fd) {
				drain_fd(pfd[i].fd);
				vq_count_kick(&tx->vq);
				kicked = true;
			} else if (pfd[i].fd == rx->kick_fd) {
				drain_fd(pfd[i].fd);
				vq_count_kick(&rx->vq);
				kicked = true;
			}
		}
		if (kicked)
			stall(w);
		if (serving(w, TX))
			vq_disable_notify(&tx->vq);
		if (serving(w, RX))
			vq_disable_notify(&rx->vq);
	}
	/*
	 * Not every batch ends in a publish: a receive chain written and then
	 * given back (no second buffer, -EAGAIN; too many, -EMSGSIZE) leaves
	 * its marks in the cache while its bytes are in guest memory.  The
	 * stop that ends this serving is what the final harvest waits for, so
	 * they go into the log now.
	 */
	lg_flush(w);
}

static void *worker_main(void *arg)
{
	struct simd_worker *w = arg;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		w->parked = true;
		pthread_cond_broadcast(&w->cv);
		while (!w->go && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		w->go = false;
		w->parked = false;
		pthread_mutex_unlock(&w->mu);
		serve(w);
	}
}

void simd_worker_init(struct simd_worker *w, struct simd_dev *d, unsigned qp)
{
	memset(w, 0, sizeof(*w));
	w->d = d;
	w->qp = qp;
	w->stop_efd = -1;
	w->logger = (struct vq_logger){ .mark = lg_mark, .flush = lg_flush, .opaque = w };
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

static void worker_stop(struct simd_worker *w);

void simd_worker_destroy(struct simd_worker *w)
{
	worker_stop(w);
	if (w->kick_later)
		kick_stop_efd(w);
	if (w->thread_made) {
		pthread_mutex_lock(&w->mu);
		w->quit = true;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
		w->thread_made = false;
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	if (w->stop_efd >= 0)
		close(w->stop_efd);
	w->stop_efd = -1;
	free(w->txbuf);
	free(w->rxbuf);
	w->txbuf = w->rxbuf = NULL;
}

static int worker_start(struct simd_worker *w)
{
	struct simd_dev *d = w->d;
	int r;

	/*
	 * A worker a stop let go asleep wakes on the stop's eventfd and parks:
	 * it must be parked before the stop flag goes down, or it would serve
	 * on with what it had.
	 */
	if (w->kick_later)
		kick_stop_efd(w);
	if (w->thread_made) {
		pthread_mutex_lock(&w->mu);
		while (!w->parked)
			pthread_cond_wait(&w->cv, &w->mu);
		w->let_go = false;
		pthread_mutex_unlock(&w->mu);
	}
	if (w->stop_efd < 0) {
		w->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->stop_efd < 0)
			return -errno;
	}
	if (!w->txbuf)
		w->txbuf = malloc(ENDPOINT_MAX_FRAME);
	if (!w->rxbuf)
		w->rxbuf = malloc(ENDPOINT_MAX_FRAME);
	if (!w->txbuf || !w->rxbuf)
		return -ENOMEM;
	drain_fd(w->stop_efd);
	w->hdr_len = vnet_hdr_len(d->features);
	w->mergeable = (d->features & SIMD_BIT(SIMD_F_MRG_RXBUF)) != 0;
	w->logging = (d->features & SIMD_BIT(SIMD_F_LOG_ALL)) && d->dlog;
	if (w->logging)
		dirtylog_cache_init(&w->cache, d->dlog);
	for (unsigned s = 0; s < 2; s++) {
		struct simd_ring *ring = wring(w, s);

		if (!ring->started)
			continue;
		vq_set_logger(&ring->vq, w->logging ? &w->logger : NULL);
		/* RX needs doorbells only while it waits for buffers. */
		if (s == RX)
			vq_disable_notify(&ring->vq);
	}
	__atomic_store_n(&w->stop, false, __ATOMIC_RELEASE);
	if (!w->thread_made) {
		r = -pthread_create(&w->thread, NULL, worker_main, w);
		if (r < 0)
			return r;
		w->thread_made = true;
	}
	/* Woken by simd_workers_release(), once the start's reply is on its way. */
	pthread_mutex_lock(&w->mu);
	w->go = true;
	pthread_mutex_unlock(&w->mu);
	w->wake = true;
	w->running = true;
	return 0;
}

void simd_workers_release(struct simd_dev *d)
{
	for (unsigned q = 0; q < d->nqp; q++) {
		struct simd_worker *w = &d->w[q];

		if (w->kick_later)
			kick_stop_efd(w);
		if (!w->wake)
			continue;
		w->wake = false;
		pthread_mutex_lock(&w->mu);
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
}

/*
 * Tells a running worker to stop; worker_stop() waits for it unless it
 * was asleep in its poll: then it is let go, and woken only after the
 * reply is out (simd_workers_release(); a wake-up is an inter-processor
 * interrupt, tens of microseconds in a VM).  Awake, it sees the flag
 * before it would sleep (go_to_sleep()); the eventfd cuts a stall short.
 */
static void worker_tell_stop(struct simd_worker *w)
{
	bool asleep;

	if (!w->running || __atomic_exchange_n(&w->stop, true, __ATOMIC_ACQ_REL))
		return;	/* not running, or told already */
	pthread_mutex_lock(&w->mu);
	asleep = w->asleep;
	if (asleep)
		w->let_go = true;
	pthread_mutex_unlock(&w->mu);
	if (asleep)
		w->kick_later = true;
	else
		kick_stop_efd(w);
}

static void worker_stop(struct simd_worker *w)
{
	if (!w->running)
		return;
	worker_tell_stop(w);
	/*
	 * Parked, and not about to serve again, or asleep and let go: no DMA
	 * after this.  A start not yet released is taken back.
	 */
	pthread_mutex_lock(&w->mu);
	if (w->wake) {
		w->go = false;
		w->wake = false;
	}
	while (!w->let_go && (!w->parked || w->go))
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	w->running = false;
	if (w->log_errors) {
		log_warning("%s: queue pair %u: %llu buffer writes beyond the dirty log",
			    w->d->who, w->qp, (unsigned long long)w->log_errors);
		w->log_errors = 0;
	}
}

int simd_workers_start(struct simd_dev *d)
{
	int r;

	for (unsigned q = 0; q < d->nqp; q++) {
		struct simd_worker *w = &d->w[q];

		if (!d->ring[2 * q].started && !d->ring[2 * q + 1].started)
			continue;
		r = worker_start(w);
		if (r < 0) {
			log_err("%s: queue pair %u: cannot start its thread: %s", d->who, q,
				strerror(-r));
			simd_workers_stop(d);
			return r;
		}
	}
	return 0;
}

/* Every worker is told first, then waited for: they park side by side. */
void simd_workers_stop(struct simd_dev *d)
{
	for (unsigned q = 0; q < d->nqp; q++)
		worker_tell_stop(&d->w[q]);
	for (unsigned q = 0; q < d->nqp; q++)
		worker_stop(&d->w[q]);
}
