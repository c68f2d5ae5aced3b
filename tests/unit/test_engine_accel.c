// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for agent/daemon/engine_accel.c against a device of the test's own:
 * a thread serving vfio-user on a unix socket (the protocol/ codecs, so
 * its replies parse), answering the vhost-vfio mailbox, and able to hang
 * on a stop the way a broken accelerator does.  The test plays QEMU
 * through vu_dev_handle(); guest memory and QEMU's log are memfds.
 *
 * The device "DMAs" into the memory it was mapped, which in one process
 * is the test's own: used->idx of ring 0, and its dirty log.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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
#include <unistd.h>
#include <cmocka.h>

#include "agent/daemon/accel_dev.h"
#include "agent/daemon/engine_accel.h"
#include "agent/daemon/vu_dev.h"
#include "dirtylog/dirtylog.h"
#include "protocol/vfio_user.h"
#include "protocol/vfio_user_io.h"
#include "protocol/vhost_vfio.h"
#include "tests/helpers/testhelp.h"
#include "tests/helpers/testhelp_vfudev.h"

#define RINGS 2u
#define UVA 0x10000000ull
#define MEM 0x100000ull		/* 1 MiB at GPA 0 */
#define USED0 0x2000ull		/* ring 0's used ring */
#define DEV_PAGE 3u		/* the page the device writes last */

/* ---- the device --------------------------------------------------------- */

struct fdev {
	int lsock, sock;
	pthread_t thread;
	bool hang_on_stop;	/* DEVICE_SET_STATE(STOP): no reply, keep "DMA"ing */
	/* Nonzero: each DEVICE_SET_STATE(STOP) first writes page mark_page++
	 * into its log (what it "DMA"ed last), then confirms the stop. */
	unsigned mark_page;
	unsigned marked;	/* stops that marked a page */
	uint16_t *used0;	/* ring 0's used ring in guest memory */

	/* Written by the device thread, read after it is joined or under mu. */
	pthread_mutex_t mu;
	bool saw_eof;		/* the client's end closed */
	bool hung;
	unsigned maps;
	uint64_t map_iova[32], map_size[32];
	int map_fd[32];
	struct vv_log log;	/* last SET_LOG_BASE_IOVA */
	unsigned log_bases;

	bool started, have_req;
	struct vv_msg req;
	/*
	 * hold_bursts: the replies to a burst's requests (accel_dev_vhost_many())
	 * are held until its last one arrived, the last ring's SET_VRING_BASE or
	 * GET_VRING_BASE: a client that waits for each reply before sending the
	 * next gets none (it times out).  held_max: most replies held at once.
	 */
	bool hold_bursts;
	bool hold_mailbox;	/* every mailbox reply held (atomic) */
	uint8_t *held;
	size_t held_len;
	unsigned nheld, held_max;
	uint64_t refuse;	/* a vhost request the device refuses (0: none) */
	unsigned writes;	/* mailbox writes (vhost requests) received */
	unsigned resets;	/* RESET_OWNERs among them */
	/* Interrupts: which vectors have an eventfd bound; SET_IRQS commands. */
	bool bound[RINGS];
	int irq_fd[RINGS];	/* the eventfd each bound vector signals (the device's copy) */
	unsigned irq_sets;
	uint16_t base[RINGS];
	int bell[RINGS];
	struct vfu_io_msg io;
	char path[108];
};

static void fdev_mark_log(struct fdev *f, uint64_t gpa)
{
	for (unsigned i = 0; i < f->maps; i++) {
		uint64_t *w;

		if (f->map_iova[i] != f->log.iova || !f->log_bases)
			continue;
		w = mmap(NULL, f->map_size[i], PROT_READ | PROT_WRITE, MAP_SHARED, f->map_fd[i], 0);
		assert_true(w != MAP_FAILED);
		__atomic_fetch_or(&w[(gpa >> 12) / 64], UINT64_C(1) << ((gpa >> 12) % 64),
				  __ATOMIC_RELEASE);
		munmap(w, f->map_size[i]);
	}
}

/* Whether m, a mailbox access for f->req, is held back (hold_bursts). */
static bool fdev_holds(const struct fdev *f, const struct vfu_msg *m)
{
	uint64_t r = f->req.request;
	bool done = m->command == VFU_CMD_REGION_READ || !vv_expects_reply(&f->req);

	if (m->command != VFU_CMD_REGION_WRITE && m->command != VFU_CMD_REGION_READ)
		return false;
	if (__atomic_load_n(&f->hold_mailbox, __ATOMIC_ACQUIRE))
		return true;
	if (!f->hold_bursts)
		return false;
	if ((r == VV_REQ_SET_VRING_BASE || r == VV_REQ_GET_VRING_BASE) &&
	    f->req.u.state.index == RINGS - 1 && done)
		return false;	/* the burst's last request: all its replies go now */
	return r == VV_REQ_RESET_OWNER || r == VV_REQ_SET_OWNER || r == VV_REQ_SET_FEATURES ||
	       r == VV_REQ_SET_MEM_TABLE || r == VV_REQ_SET_LOG_BASE_IOVA ||
	       r == VV_REQ_SET_VRING_NUM || r == VV_REQ_SET_VRING_ADDR ||
	       r == VV_REQ_SET_VRING_BASE || r == VV_REQ_GET_VRING_BASE ||
	       (r == VV_REQ_DEVICE_SET_STATE && f->req.u.u64 == VV_STATE_STOP);
}

/* Sends the len bytes of reply at buf, after any held ones, or holds them. */
static int fdev_send(struct fdev *f, const struct vfu_msg *m, const uint8_t *buf, size_t len,
		     const int *fds, size_t nfds)
{
	int r = 0;

	f->held = realloc(f->held, f->held_len + len);
	assert_non_null(f->held);
	memcpy(f->held + f->held_len, buf, len);
	f->held_len += len;
	f->nheld++;
	if (fdev_holds(f, m))
		return 0;
	assert_true(f->nheld == 1 || nfds == 0);
	pthread_mutex_lock(&f->mu);
	if (f->nheld > f->held_max)
		f->held_max = f->nheld;
	pthread_mutex_unlock(&f->mu);
	r = vfu_send_msg(f->sock, 1000, f->held, f->held_len, fds, nfds);
	f->held_len = 0;
	f->nheld = 0;
	return r;
}

static int fdev_reply(struct fdev *f, const struct vfu_msg *m)
{
	static uint8_t data[VFU_MAX_DATA];
	struct vv_parse_ctx ctx = { .max_vrings = RINGS };
	uint8_t buf[VFU_MAX_MSG];
	struct msg_err err;
	struct vfu_msg rep;
	struct msg_err verr;
	struct vv_msg vrep;
	size_t len;

	vfu_reply_init(&rep, m);
	switch (m->command) {
	case VFU_CMD_DMA_MAP:
		pthread_mutex_lock(&f->mu);
		assert_true(f->maps < 32);
		f->map_iova[f->maps] = m->u.dma_map.addr;
		f->map_size[f->maps] = m->u.dma_map.size;
		f->map_fd[f->maps++] = dup(m->fds[0]);
		pthread_mutex_unlock(&f->mu);
		break;
	case VFU_CMD_DMA_UNMAP:
		rep.u.dma_unmap = m->u.dma_unmap;
		break;
	case VFU_CMD_DEVICE_SET_IRQS: {
		const struct vfu_irq_set *q = &m->u.irq_set;

		pthread_mutex_lock(&f->mu);
		f->irq_sets++;
		/* VFIO's rules: DATA_NONE with count 0 unbinds every vector. */
		if ((q->flags & VFU_IRQ_DATA_NONE) && q->count == 0)
			memset(f->bound, 0, sizeof(f->bound));
		if (q->flags & VFU_IRQ_DATA_EVENTFD)
			for (unsigned i = 0; i < q->count && q->start + i < RINGS; i++) {
				f->bound[q->start + i] = true;
				if (f->irq_fd[q->start + i] > 0)
					close(f->irq_fd[q->start + i]);
				f->irq_fd[q->start + i] = dup(m->fds[i]);
			}
		pthread_mutex_unlock(&f->mu);
		break;
	}
	case VFU_CMD_REGION_WRITE: {
		size_t n = m->u.access.count;
		struct vv_wire_hdr h;

		memcpy(&h, m->u.access.data, sizeof(h));
		if (VV_HDR_SIZE + h.size <= n)
			n = VV_HDR_SIZE + h.size;
		assert_int_equal(vv_parse(m->u.access.data, n, &ctx, &f->req, &verr), 0);
		f->have_req = true;
		__atomic_fetch_add(&f->writes, 1, __ATOMIC_RELAXED);
		if (f->req.request == f->refuse && !vv_expects_reply(&f->req)) {
			assert_int_equal(vfu_encode_error(m->msg_id, m->command, -EPERM, buf,
							  sizeof(buf), &len), 0);
			return fdev_send(f, m, buf, len, NULL, 0);
		}
		pthread_mutex_lock(&f->mu);
		if (f->req.request == VV_REQ_DEVICE_SET_STATE)
			f->started = f->req.u.u64 == VV_STATE_START;
		if (f->req.request == VV_REQ_DEVICE_SET_STATE && f->req.u.u64 == VV_STATE_STOP &&
		    __atomic_load_n(&f->mark_page, __ATOMIC_ACQUIRE)) {
			fdev_mark_log(f, (uint64_t)f->mark_page * 4096u);
			__atomic_store_n(&f->mark_page, f->mark_page + 1, __ATOMIC_RELEASE);
			f->marked++;
		}
		if (f->req.request == VV_REQ_SET_VRING_BASE)
			f->base[f->req.u.state.index % RINGS] = (uint16_t)f->req.u.state.num;
		if (f->req.request == VV_REQ_RESET_OWNER)
			f->resets++;
		if (f->req.request == VV_REQ_SET_LOG_BASE_IOVA) {
			f->log = f->req.u.log;
			f->log_bases++;
		}
		pthread_mutex_unlock(&f->mu);
		rep.u.access = m->u.access;
		rep.u.access.data = NULL;
		break;
	}
	case VFU_CMD_REGION_READ:
		if (__atomic_load_n(&f->hang_on_stop, __ATOMIC_ACQUIRE) && f->have_req && f->req.request == VV_REQ_DEVICE_SET_STATE &&
		    f->req.u.u64 == VV_STATE_STOP)
			return 1;	/* hang: see fdev_main() */
		memset(data, 0, m->u.access.count);
		vv_reply_init(&vrep, &f->req);
		if (f->req.request == f->refuse)
			vrep.status = -EPERM;
		else if (f->req.request == VV_REQ_GET_FEATURES)
			vrep.u.u64 = UINT64_MAX;
		if (f->req.request == VV_REQ_GET_VRING_BASE) {
			if (f->started) {
				vrep.status = -EBUSY;
			} else {
				vrep.u.state.index = f->req.u.state.index;
				vrep.u.state.num = f->base[f->req.u.state.index % RINGS];
			}
		}
		assert_int_equal(vv_encode(&vrep, &ctx, data, m->u.access.count, &len, &verr), 0);
		rep.u.access = m->u.access;
		rep.u.access.data = data;
		break;
	default:
		if (!th_vfu_discovery_reply(m, RINGS, f->bell, 4096, &rep))
			fail_msg("unexpected %s", vfu_command_name(m->command));
	}
	assert_int_equal(vfu_encode(&rep, buf, sizeof(buf), &len, &err), 0);
	return fdev_send(f, m, buf, len, rep.fds, rep.nfds);
}

/*
 * Serves until the client leaves.  Hung on a stop, the device goes on
 * "DMA"ing until it sees the client's end close, then writes once more
 * (the used index, a page in its log: what a device does between the
 * stop it never confirmed and its death) and closes its own end.
 */
static void *fdev_main(void *arg)
{
	struct fdev *f = arg;

	f->sock = accept4(f->lsock, NULL, NULL, SOCK_CLOEXEC);
	assert_true(f->sock >= 0);
	for (;;) {
		struct vfu_msg m;
		struct msg_err err;
		int r = vfu_recv_msg(f->sock, -1, &f->io);

		if (r <= 0)
			break;
		assert_int_equal(vfu_parse(f->io.buf, f->io.len, f->io.fds, f->io.nfds, &m, &err), 0);
		f->io.nfds = 0;
		r = fdev_reply(f, &m);
		vfu_msg_close(&m);
		if (r == 1) {
			pthread_mutex_lock(&f->mu);
			f->hung = true;
			pthread_mutex_unlock(&f->mu);
			__atomic_store_n(&f->used0[1], htole16(5), __ATOMIC_RELEASE);
			/* Reads on (discarding) until the client's end closes. */
			while ((r = vfu_recv_msg(f->sock, -1, &f->io)) > 0)
				for (size_t i = 0; i < f->io.nfds; i++)
					close(f->io.fds[i]);
			__atomic_store_n(&f->used0[1], htole16(42), __ATOMIC_RELEASE);
			fdev_mark_log(f, DEV_PAGE * 4096ull);
			break;
		}
		if (r < 0)
			break;
	}
	pthread_mutex_lock(&f->mu);
	f->saw_eof = true;
	pthread_mutex_unlock(&f->mu);
	close(f->sock);
	return NULL;
}

static void fdev_start(struct fdev *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	pthread_mutex_init(&f->mu, NULL);
	snprintf(f->path, sizeof(f->path), "/tmp/test_engine_accel.%d.sock", (int)getpid());
	unlink(f->path);
	strcpy(sa.sun_path, f->path);
	f->lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lsock >= 0);
	assert_int_equal(bind(f->lsock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lsock, 1), 0);
	for (unsigned i = 0; i < RINGS; i++)
		f->bell[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(pthread_create(&f->thread, NULL, fdev_main, f), 0);
}

static void fdev_stop(struct fdev *f)
{
	pthread_join(f->thread, NULL);
	close(f->lsock);
	unlink(f->path);
	for (unsigned i = 0; i < RINGS; i++)
		close(f->bell[i]);
	for (unsigned i = 0; i < f->maps; i++)
		close(f->map_fd[i]);
	for (unsigned i = 0; i < RINGS; i++)
		if (f->irq_fd[i] > 0)
			close(f->irq_fd[i]);
	free(f->held);
	pthread_mutex_destroy(&f->mu);
}

static bool fdev_saw_eof(struct fdev *f)
{
	bool v;

	pthread_mutex_lock(&f->mu);
	v = f->saw_eof;
	pthread_mutex_unlock(&f->mu);
	return v;
}

/* ---- QEMU's side ------------------------------------------------------------ */

struct t {
	struct fdev f;
	struct vu_dev d;
	struct engine_accel *e;
	int qlog_fd;		/* QEMU's log */
	uint64_t qlog_size;
	/*
	 * The device's mailbox writes once the engine was made (its probe), and
	 * once ring i was set up (kick and call), before DRIVER_OK.
	 */
	unsigned writes_open, writes_at[RINGS];
	unsigned irqs_at[RINGS];	/* the device's SET_IRQS by then */
};

static struct vu_msg msg(uint32_t req)
{
	struct vu_msg m;

	memset(&m, 0, sizeof(m));
	m.request = req;
	m.flags = VU_VERSION;
	for (unsigned i = 0; i < VU_MAX_FDS; i++)
		m.fds[i] = -1;
	return m;
}

/* No pause between requests: they all came together (pause_prepares_together). */
static bool no_pause;

/* One request, then the pause after it (the port's engine_accel_idle()). */
static int handle(struct vu_dev *d, struct vu_msg *m, struct vu_reply *rep)
{
	int e = vu_dev_handle(d, m, rep);

	vu_msg_close(m);
	if (d->ops == &engine_accel_ops && d->opaque && !no_pause)
		engine_accel_idle(d->opaque);
	return e;
}

static void set_log_base(struct t *t, uint64_t size)
{
	struct vu_reply rep;
	struct vu_msg m;

	if (t->qlog_fd >= 0)
		close(t->qlog_fd);
	t->qlog_fd = th_memfd("qemu-log", size);
	t->qlog_size = size;
	m = msg(VU_REQ_SET_LOG_BASE);
	m.u.log = (struct vu_log){ size, 0 };
	m.fds[0] = dup(t->qlog_fd);
	m.nfds = 1;
	assert_int_equal(handle(&t->d, &m, &rep), 0);
}

static bool qlog_has(struct t *t, uint64_t page)
{
	uint64_t *w = mmap(NULL, t->qlog_size, PROT_READ, MAP_SHARED, t->qlog_fd, 0);
	bool v;

	assert_true(w != MAP_FAILED);
	v = (w[page / 64] >> (page % 64)) & 1;
	munmap(w, t->qlog_size);
	return v;
}

/* SET_MEM_TABLE: MEM bytes of a new memfd at GPA 0, UVA. */
static void set_mem_table(struct t *t)
{
	struct vu_reply rep;
	struct vu_msg m;

	m = msg(VU_REQ_SET_MEM_TABLE);
	m.u.mem.nregions = 1;
	m.u.mem.regions[0] = (struct vu_mem_region){ 0, MEM, UVA, 0 };
	m.fds[0] = th_memfd("guest", MEM);
	m.nfds = 1;
	assert_int_equal(handle(&t->d, &m, &rep), 0);
	t->f.used0 = guest_mem_uva_range(&t->d.mem, UVA + USED0, 4);
	assert_non_null(t->f.used0);
}

/* GET_VRING_BASE on ring i: handle()'s result, the reply in *rep. */
static int stop_ring(struct t *t, unsigned i, struct vu_reply *rep)
{
	struct vu_msg m = msg(VU_REQ_GET_VRING_BASE);

	memset(rep, 0, sizeof(*rep));
	m.u.state.index = i;
	m.ring = i;
	return handle(&t->d, &m, rep);
}

/* SET_VRING_KICK on ring i with a new eventfd. */
static void kick(struct t *t, unsigned i)
{
	struct vu_reply rep;
	struct vu_msg m = msg(VU_REQ_SET_VRING_KICK);

	m.u.vring_file.index = i;
	m.ring = i;
	m.fds[0] = eventfd(0, EFD_CLOEXEC);
	m.nfds = 1;
	assert_int_equal(handle(&t->d, &m, &rep), 0);
}

/* SET_VRING_CALL on ring i with a new eventfd. */
static void set_call(struct t *t, unsigned i)
{
	struct vu_reply rep;
	struct vu_msg m;

	m = msg(VU_REQ_SET_VRING_CALL);
	m.u.vring_file.index = i;
	m.ring = i;
	m.fds[0] = eventfd(0, EFD_CLOEXEC);
	m.nfds = 1;
	assert_int_equal(handle(&t->d, &m, &rep), 0);
}

static void driver_ok(struct t *t)
{
	struct vu_reply rep;
	struct vu_msg m = msg(VU_REQ_SET_STATUS);

	m.u.u64 = VU_STATUS_DRIVER_OK;
	assert_int_equal(handle(&t->d, &m, &rep), 0);
}

/*
 * QEMU setting the device up: memory table, log (UP_LOGGING: QEMU logs, as
 * a source does; without: a destination), features, each ring, and with
 * UP_STATUS (the STATUS protocol feature) DRIVER_OK.  UP_HOLD: the device
 * holds a burst's replies (hold_bursts).  refuse: a request the device
 * refuses.
 */
enum { UP_STATUS = 1, UP_HOLD = 2, UP_LOGGING = 4, UP_NO_DRIVER_OK = 8 };

static void up_session(struct t *t, unsigned flags, uint64_t refuse)
{
	bool hold = flags & UP_STATUS, logging = flags & UP_LOGGING;
	uint64_t features = VU_BIT(VIRTIO_F_VERSION_1) | (logging ? VU_BIT(VU_F_LOG_ALL) : 0);
	struct accel_dev *adev;
	struct vu_reply rep;
	struct vu_msg m;
	char spec[128], err[256];

	memset(t, 0, sizeof(*t));
	t->qlog_fd = -1;
	t->f.hold_bursts = flags & UP_HOLD;
	t->f.refuse = refuse;
	fdev_start(&t->f);
	vu_dev_init(&t->d, "a0", VU_BIT(VIRTIO_F_VERSION_1) | VU_BIT(VU_F_LOG_ALL), 0, 1,
		    &engine_accel_ops, NULL);
	snprintf(spec, sizeof(spec), "vfio-user:%s", t->f.path);
	assert_int_equal(accel_dev_open(spec, RINGS, &adev, err, sizeof(err)), 0);
	assert_int_equal(engine_accel_new("a0", &t->d, adev, 1000, ENGINE_ACCEL_AUTO, &t->e), 0);
	t->d.opaque = t->e;
	t->d.state = VU_STATE_OWNED;
	t->writes_open = __atomic_load_n(&t->f.writes, __ATOMIC_RELAXED);
	/*
	 * A front end with the STATUS protocol feature: the device starts
	 * once, at DRIVER_OK, with every ring (one burst for all).  Without it
	 * the first ring starts alone, and the second's start stops and
	 * reconfigures the device.
	 */
	if (hold)
		t->d.protocol_features |= VU_PF(VU_PROTO_F_STATUS);

	set_mem_table(t);
	if (logging)
		set_log_base(t, 4096);
	m = msg(VU_REQ_SET_FEATURES);
	m.u.u64 = features;
	assert_int_equal(handle(&t->d, &m, &rep), 0);
	for (unsigned i = 0; i < RINGS; i++) {
		m = msg(VU_REQ_SET_VRING_NUM);
		m.u.state = (struct vu_vring_state){ i, 256 };
		m.ring = i;
		assert_int_equal(handle(&t->d, &m, &rep), 0);
		m = msg(VU_REQ_SET_VRING_ADDR);
		m.u.addr.index = i;
		m.ring = i;
		m.u.addr.desc_user_addr = UVA + 0x10000 * (i + 1);
		m.u.addr.avail_user_addr = UVA + 0x10000 * (i + 1) + 0x1000;
		m.u.addr.used_user_addr = i ? UVA + 0x10000 * (i + 1) + 0x2000 : UVA + USED0;
		assert_int_equal(handle(&t->d, &m, &rep), 0);
		kick(t, i);
		assert_true(t->d.ring[i].started || refuse);
		/* QEMU's order: a ring's call fd comes after its kick. */
		set_call(t, i);
		/* What was sent without waiting has arrived once its replies have. */
		if (!(flags & UP_HOLD) && !refuse)
			assert_int_equal(accel_dev_sync(engine_accel_device(t->e)), 0);
		t->writes_at[i] = __atomic_load_n(&t->f.writes, __ATOMIC_RELAXED);
		pthread_mutex_lock(&t->f.mu);
		t->irqs_at[i] = t->f.irq_sets;
		pthread_mutex_unlock(&t->f.mu);
	}
	if (hold) {
		struct engine_accel_stats st;

		/*
		 * No start before DRIVER_OK, however many rings are on; guest
		 * memory is mapped already (since the memory table came).
		 */
		engine_accel_stats(t->e, &st);
		assert_int_equal(st.device_starts, 0);
		assert_int_equal(st.memory_maps, 1);
		if (!(flags & UP_NO_DRIVER_OK))
			driver_ok(t);
	}
	assert_int_equal(engine_accel_failed(t->e), refuse != 0);
}

/*
 * Connects, sets memory and logging, and starts both rings on the device,
 * which holds its replies to bursts (hold) or refuses a request (refuse).
 */
static void up_with(struct t *t, bool hold, uint64_t refuse)
{
	up_session(t, (hold ? UP_STATUS | UP_HOLD : 0) | UP_LOGGING, refuse);
}

static void up(struct t *t)
{
	up_with(t, false, 0);
}

static void down(struct t *t)
{
	vu_dev_reset(&t->d);
	engine_accel_free(t->e);
	fdev_stop(&t->f);
	close(t->qlog_fd);
}

/* ---- tests -------------------------------------------------------------- */

/*
 * The device never confirms the stop of GET_VRING_BASE.  Before the reply
 * it must be cut off and seen gone (it may write until then), and only
 * then its log harvested and the used index read: the reply carries what
 * the device wrote last (42), the page it wrote last is in QEMU's log, and
 * the migration is told nothing was missed.
 */
static void unconfirmed_stop_cuts_off_before_reply(void **state)
{
	struct vu_reply rep;
	struct t t;

	(void)state;
	up(&t);
	/* From now on (both rings run), the device hangs on a stop. */
	__atomic_store_n(&t.f.hang_on_stop, true, __ATOMIC_RELEASE);
	(void)stop_ring(&t, 0, &rep);
	assert_true(fdev_saw_eof(&t.f));
	assert_true(engine_accel_failed(t.e));
	assert_int_equal(rep.u.state.num, 42);
	assert_true(qlog_has(&t, DEV_PAGE));
	assert_int_equal(engine_accel_harvest_misses(t.e), 0);
	down(&t);
}

/*
 * The switchover with a device that stops cleanly: the first
 * GET_VRING_BASE stops the device, which wrote one more page into its log
 * just before it confirmed.  By the time the reply exists (vu_dev_handle()
 * returned; the port sends it after), that page is in QEMU's log.  The
 * second ring is answered from the same stop: the device is neither
 * restarted nor stopped again (one stop per switchover, issue 14), so no
 * second page appears, and the port is quiesced with nothing missed.  The
 * harvester's period (1 s) is far beyond the test, so the merges seen are
 * the stop's final harvest.
 */
static void clean_stop_harvests_before_reply(void **state)
{
	struct engine_accel_stats st;
	uint64_t starts, stops;
	struct vu_reply rep;
	struct t t;

	(void)state;
	up(&t);
	engine_accel_stats(t.e, &st);
	stops = st.device_stops;	/* ring 1's start stopped the device once */
	assert_false(qlog_has(&t, 10));
	__atomic_store_n(&t.f.mark_page, 10u, __ATOMIC_RELEASE);

	assert_int_equal(stop_ring(&t, 0, &rep), 0);
	assert_int_equal(rep.u.state.index, 0);
	assert_true(qlog_has(&t, 10));
	assert_false(qlog_has(&t, 11));
	assert_true(t.d.ring[1].started);
	assert_false(vu_dev_quiesced(&t.d));
	engine_accel_stats(t.e, &st);
	starts = st.device_starts;

	/* The last ring: answered from the stop, the device left alone. */
	assert_int_equal(stop_ring(&t, 1, &rep), 0);
	assert_int_equal(rep.u.state.index, 1);
	assert_false(qlog_has(&t, 11));
	assert_true(qlog_has(&t, 10));
	assert_true(vu_dev_quiesced(&t.d));
	assert_false(engine_accel_failed(t.e));
	assert_int_equal(engine_accel_harvest_misses(t.e), 0);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_stops, stops + 1);
	assert_int_equal(st.device_starts, starts);
	assert_int_equal(st.log_errors, 0);
	pthread_mutex_lock(&t.f.mu);
	assert_int_equal(t.f.marked, 1);
	pthread_mutex_unlock(&t.f.mu);
	down(&t);
}

/*
 * Guest memory grows (a DIMM plugged mid-migration): the device log must
 * cover the new memory and must not sit inside it, and the device is told
 * the new log.
 */
static void device_log_follows_memory(void **state)
{
	struct vu_reply rep;
	struct vu_msg m;
	size_t need;
	struct t t;

	(void)state;
	up(&t);
	assert_true(t.f.log_bases >= 1);
	m = msg(VU_REQ_SET_MEM_TABLE);
	m.u.mem.nregions = 2;
	m.u.mem.regions[0] = (struct vu_mem_region){ 0, MEM, UVA, 0 };
	m.u.mem.regions[1] = (struct vu_mem_region){ 0x4000000, 0x4000000, 0x20000000, 0 };
	m.fds[0] = th_memfd("guest", MEM);
	m.fds[1] = th_memfd("guest2", 0x4000000);
	m.nfds = 2;
	assert_int_equal(handle(&t.d, &m, &rep), 0);
	set_log_base(&t, 8192);	/* QEMU resizes its log too */
	assert_false(engine_accel_failed(t.e));
	assert_int_equal(dirtylog_size_for(0x8000000, 12, &need), 0);
	pthread_mutex_lock(&t.f.mu);
	assert_true(t.f.log.size >= need);
	assert_true(t.f.log.iova >= 0x8000000);
	pthread_mutex_unlock(&t.f.mu);
	down(&t);
}

/*
 * A GET_VRING_BASE that is not followed by the other ring's: the next
 * request of another kind (here SET_VRING_ENABLE 0 on the ring already
 * stopped, a no-op for it) restarts the device for the ring still on, at
 * the base read at the stop; then that ring's own stop stops it again.
 */
static void lone_stop_restarts_the_others(void **state)
{
	struct engine_accel_stats st;
	struct vu_reply rep;
	struct vu_msg m;
	struct t t;
	uint64_t starts, stops;

	(void)state;
	up(&t);
	engine_accel_stats(t.e, &st);
	stops = st.device_stops;
	assert_int_equal(stop_ring(&t, 0, &rep), 0);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_stops, stops + 1);
	starts = st.device_starts;

	m = msg(VU_REQ_SET_VRING_ENABLE);
	m.u.state = (struct vu_vring_state){ 0, 0 };
	m.ring = 0;
	assert_int_equal(handle(&t.d, &m, &rep), 0);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_starts, starts + 1);
	assert_true(t.d.ring[1].started);

	assert_int_equal(stop_ring(&t, 1, &rep), 0);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_stops, stops + 2);
	assert_int_equal(st.device_starts, starts + 1);
	assert_true(vu_dev_quiesced(&t.d));
	down(&t);
}

/*
 * The device is configured with one burst and its rings' bases read with
 * another (issue 14: a round trip per request cost the switchover a
 * millisecond and more per ring): the device holds every reply until a
 * burst's last request, so a client that waits for each reply before the
 * next fails here.  The first start: SET_OWNER, SET_FEATURES,
 * SET_MEM_TABLE, SET_LOG_BASE_IOVA and per ring NUM, ADDR, BASE, each a
 * mailbox write and the read of its reply; the stop: DEVICE_SET_STATE
 * stop and per ring a GET_VRING_BASE, each with the read of its reply.
 */
static void requests_go_in_bursts(void **state)
{
	struct vu_reply rep;
	struct t t;

	(void)state;
	up_with(&t, true, 0);
	pthread_mutex_lock(&t.f.mu);
	assert_int_equal(t.f.held_max, 2 * (4 + 3 * RINGS));
	t.f.held_max = 0;
	pthread_mutex_unlock(&t.f.mu);
	for (unsigned i = 0; i < RINGS; i++) {
		assert_int_equal(stop_ring(&t, i, &rep), 0);
		assert_int_equal(rep.u.state.index, i);
	}
	assert_false(engine_accel_failed(t.e));
	assert_true(vu_dev_quiesced(&t.d));
	pthread_mutex_lock(&t.f.mu);
	assert_int_equal(t.f.held_max, 2 * (1 + RINGS));
	pthread_mutex_unlock(&t.f.mu);
	down(&t);
}

/*
 * The device refuses a request in the middle of the configuration burst:
 * the engine fails, its error names the request, and every later reply of
 * the burst was read, so the next request gets its own reply.
 */
static void refusal_inside_a_burst(void **state)
{
	struct accel_dev *adev;
	struct vv_msg req, rep;
	struct t t;

	(void)state;
	up_with(&t, false, VV_REQ_SET_VRING_ADDR);
	adev = engine_accel_device(t.e);
	if (!strstr(accel_dev_error(adev), "SET_VRING_ADDR"))
		fail_msg("error: %s", accel_dev_error(adev));
	vv_msg_init(&req, VV_REQ_GET_FEATURES, 0);
	memset(&rep, 0, sizeof(rep));
	if (accel_dev_vhost(adev, &req, &rep) != 0)
		fail_msg("GET_FEATURES after the burst: %s", accel_dev_error(adev));
	assert_int_equal(rep.u.u64, UINT64_MAX);
	down(&t);
}

/*
 * A run longer than a burst (32 requests) goes as several, each reply in
 * its place; a failure ends the run: no later burst is sent.
 */
static void long_runs_stop_at_a_failure(void **state)
{
	enum { N = 40 };
	struct accel_dev *adev;
	struct vv_msg req[N], rep[N];
	unsigned before;
	struct t t;

	(void)state;
	up(&t);
	adev = engine_accel_device(t.e);
	for (unsigned i = 0; i < N; i++)
		vv_msg_init(&req[i], VV_REQ_GET_FEATURES, 0);
	memset(rep, 0, sizeof(rep));
	before = __atomic_load_n(&t.f.writes, __ATOMIC_RELAXED);
	assert_int_equal(accel_dev_vhost_many(adev, req, N, rep), 0);
	assert_int_equal(__atomic_load_n(&t.f.writes, __ATOMIC_RELAXED), before + N);
	for (unsigned i = 0; i < N; i++)
		assert_true(rep[i].u.u64 == UINT64_MAX);

	/* Request 5 is refused: the rest of its burst is carried out, nothing after it. */
	vv_msg_init(&req[5], VV_REQ_SET_FEATURES, VV_FLAG_NEED_REPLY);
	__atomic_store_n(&t.f.refuse, VV_REQ_SET_FEATURES, __ATOMIC_RELEASE);
	before = __atomic_load_n(&t.f.writes, __ATOMIC_RELAXED);
	assert_true(accel_dev_vhost_many(adev, req, N, rep) < 0);
	if (!strstr(accel_dev_error(adev), "SET_FEATURES"))
		fail_msg("error: %s", accel_dev_error(adev));
	assert_int_equal(__atomic_load_n(&t.f.writes, __ATOMIC_RELAXED), before + 32);
	/* In step: the next request gets its own reply. */
	memset(rep, 0, sizeof(rep));
	assert_int_equal(accel_dev_vhost(adev, &req[0], &rep[0]), 0);
	assert_true(rep[0].u.u64 == UINT64_MAX);
	down(&t);
}

/* DMA_MAPs of guest memory (IOVA 0) the device received. */
static unsigned guest_maps(struct fdev *f)
{
	unsigned n = 0;

	pthread_mutex_lock(&f->mu);
	for (unsigned i = 0; i < f->maps; i++)
		n += f->map_iova[i] == 0;
	pthread_mutex_unlock(&f->mu);
	return n;
}

/*
 * A destination (issue 14): QEMU sets every ring up, each ring's call fd
 * after its kick, then DRIVER_OK.  The device starts once, at DRIVER_OK,
 * with guest memory mapped once and every vector bound.  A call fd that
 * changes under a running ring (the guest masks a vector) is swapped in
 * place: no stop.  A restart in the same front-end session (a lone stop,
 * then another request) keeps the mapping; a new memory table maps anew.
 */
static void destination_starts_once(void **state)
{
	struct engine_accel_stats st;
	struct vu_reply rep;
	struct vu_msg m;
	struct t t;
	unsigned irqs;

	(void)state;
	up_with(&t, true, 0);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_starts, 1);
	assert_int_equal(st.device_stops, 0);
	assert_int_equal(st.memory_maps, 1);
	assert_int_equal(guest_maps(&t.f), 1);
	pthread_mutex_lock(&t.f.mu);
	for (unsigned i = 0; i < RINGS; i++)
		assert_true(t.f.bound[i]);
	irqs = t.f.irq_sets;
	pthread_mutex_unlock(&t.f.mu);

	set_call(&t, 1);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_stops, 0);
	assert_int_equal(st.device_starts, 1);
	assert_int_equal(st.call_swaps, 1);
	pthread_mutex_lock(&t.f.mu);
	assert_int_equal(t.f.irq_sets, irqs + 1);
	assert_true(t.f.bound[0] && t.f.bound[1]);
	pthread_mutex_unlock(&t.f.mu);

	/* A lone stop, then another request: a restart, the mapping kept. */
	assert_int_equal(stop_ring(&t, 0, &rep), 0);
	m = msg(VU_REQ_SET_VRING_ENABLE);
	m.u.state = (struct vu_vring_state){ 0, 0 };
	m.ring = 0;
	assert_int_equal(handle(&t.d, &m, &rep), 0);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_stops, 1);
	assert_int_equal(st.device_starts, 2);
	assert_int_equal(st.memory_maps, 1);
	assert_int_equal(guest_maps(&t.f), 1);

	/* A new memory table under the running ring: mapped anew. */
	set_mem_table(&t);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_starts, 3);
	assert_int_equal(st.memory_maps, 2);
	assert_int_equal(guest_maps(&t.f), 2);
	assert_false(engine_accel_failed(t.e));
	down(&t);
}

/*
 * A destination (STATUS, QEMU not logging): each ring's configuration goes
 * to the device as QEMU sets the ring up, before DRIVER_OK, and the start
 * sends the start alone (its interrupts besides).  A ring the front end
 * sets up anew at another base before DRIVER_OK makes the start configure
 * the device anew, after a RESET_OWNER.
 */
static void destination_prepares_rings(void **state)
{
	struct engine_accel_stats st;
	uint64_t one = 1, got = 0;
	struct vu_reply rep;
	struct vu_msg m;
	struct t t;
	int old, fd;

	(void)state;
	up_session(&t, UP_STATUS, 0);
	/*
	 * Owner, features, memory table with the first ring's size, addresses,
	 * base and interrupt; then the second's.
	 */
	assert_int_equal(t.writes_at[0] - t.writes_open, 3 + 3);
	assert_int_equal(t.writes_at[1] - t.writes_open, 3 + 3 * RINGS);
	assert_int_equal(t.irqs_at[0], 1);
	assert_int_equal(t.irqs_at[1], RINGS);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.prepared_requests, 3 + 3 * RINGS);
	assert_int_equal(st.device_starts, 1);
	assert_int_equal(st.device_stops, 0);
	pthread_mutex_lock(&t.f.mu);
	/* At DRIVER_OK the start alone. */
	assert_int_equal(t.f.writes, t.writes_at[RINGS - 1] + 1);
	assert_int_equal(t.f.irq_sets, RINGS);
	assert_true(t.f.started);
	assert_int_equal(t.f.resets, 0);
	for (unsigned i = 0; i < RINGS; i++)
		assert_true(t.f.bound[i]);
	pthread_mutex_unlock(&t.f.mu);
	down(&t);

	/*
	 * Ring 1 off, its call fd replaced meanwhile by a new eventfd under the
	 * same number (what a SET_VRING_CALL's fd gets when the old one's
	 * number is the lowest free one), then on again at the same base: the
	 * configuration is as prepared, but the interrupt must go to the new
	 * eventfd.  The replacement is made with dup2() onto the number the
	 * ring still holds: closing it first and waiting for the number to
	 * come back raced with the device thread's dup() of the fds it gets.
	 */
	up_session(&t, UP_STATUS | UP_NO_DRIVER_OK, 0);
	set_call(&t, 0);	/* ring 0 on: its new call fd is bound in place of the old */
	assert_int_equal(stop_ring(&t, 1, &rep), 0);
	old = t.d.ring[1].call_fd;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(fd >= 0 && fd != old);
	assert_int_equal(dup2(fd, old), old);
	close(fd);
	kick(&t, 1);
	driver_ok(&t);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_starts, 1);
	pthread_mutex_lock(&t.f.mu);
	assert_int_equal(t.f.resets, 0);
	/*
	 * Ring 0's new fd bound in place of the old (RINGS + 1); ring 1's lone
	 * stop holds the device (QEMU may ask for the other rings next), which
	 * ends the preparation: the start binds every vector, neighbours in
	 * one command, each to its own ring's eventfd (checked below).
	 */
	assert_int_equal(t.f.irq_sets, RINGS + 1 + 1);
	for (unsigned i = 0; i < RINGS; i++)
		assert_int_equal(write(t.f.irq_fd[i], &one, sizeof(one)), (ssize_t)sizeof(one));
	pthread_mutex_unlock(&t.f.mu);
	for (unsigned i = 0; i < RINGS; i++) {
		got = 0;
		assert_true(poll(&(struct pollfd){ .fd = t.d.ring[i].call_fd, .events = POLLIN }, 1,
				 0) == 1);
		assert_int_equal(read(t.d.ring[i].call_fd, &got, sizeof(got)), (ssize_t)sizeof(got));
		assert_int_equal(got, 1);
	}
	down(&t);

	/* Ring 1 stopped and set up again at base 7 before DRIVER_OK: configured anew. */
	up_session(&t, UP_STATUS | UP_NO_DRIVER_OK, 0);
	assert_int_equal(stop_ring(&t, 1, &rep), 0);
	m = msg(VU_REQ_SET_VRING_BASE);
	m.u.state = (struct vu_vring_state){ 1, 7 };
	m.ring = 1;
	assert_int_equal(handle(&t.d, &m, &rep), 0);
	kick(&t, 1);
	assert_true(t.d.ring[1].started);
	driver_ok(&t);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.prepared_requests, 3 + 3 * RINGS);
	assert_int_equal(st.device_starts, 1);
	assert_false(engine_accel_failed(t.e));
	pthread_mutex_lock(&t.f.mu);
	assert_int_equal(t.f.resets, 1);
	assert_int_equal(t.f.base[1], 7);
	assert_true(t.f.started);
	pthread_mutex_unlock(&t.f.mu);
	down(&t);
}

/*
 * A destination whose requests all came before the front end paused: the
 * pause prepares every ring and binds every vector at once, the vectors
 * in one command sent first with its eventfds and the rings' requests
 * after it in the same send; each vector signals its own ring's call fd,
 * and at DRIVER_OK the start goes alone.
 */
static void pause_prepares_together(void **state)
{
	struct engine_accel_stats st;
	uint64_t one = 1, got;
	struct t t;

	(void)state;
	no_pause = true;
	up_session(&t, UP_STATUS | UP_NO_DRIVER_OK, 0);
	no_pause = false;
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.prepared_requests, 0);
	engine_accel_idle(t.e);
	assert_int_equal(accel_dev_sync(engine_accel_device(t.e)), 0);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.prepared_requests, 3 + 3 * RINGS);
	pthread_mutex_lock(&t.f.mu);
	assert_int_equal(t.f.irq_sets, 1);
	for (unsigned i = 0; i < RINGS; i++) {
		assert_true(t.f.bound[i]);
		assert_int_equal(write(t.f.irq_fd[i], &one, sizeof(one)), (ssize_t)sizeof(one));
	}
	pthread_mutex_unlock(&t.f.mu);
	for (unsigned i = 0; i < RINGS; i++) {
		got = 0;
		assert_int_equal(read(t.d.ring[i].call_fd, &got, sizeof(got)), (ssize_t)sizeof(got));
		assert_int_equal(got, 1);
	}
	driver_ok(&t);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_starts, 1);
	pthread_mutex_lock(&t.f.mu);
	assert_int_equal(t.f.irq_sets, 1);
	assert_int_equal(t.f.resets, 0);
	assert_true(t.f.started);
	pthread_mutex_unlock(&t.f.mu);
	assert_false(engine_accel_failed(t.e));
	down(&t);
}

/*
 * QEMU reads the status right before it sets DRIVER_OK, and waits for the
 * reply: with every ring set up, the device starts inside that read (its
 * vCPUs stay stopped meanwhile), once; DRIVER_OK then starts nothing.  A
 * read with a ring not set up (stopped, no kick since) starts nothing.
 */
static void starts_at_last_status_read(void **state)
{
	struct engine_accel_stats st;
	struct vu_reply rep;
	struct vu_msg m;
	struct t t;

	(void)state;
	up_session(&t, UP_STATUS | UP_NO_DRIVER_OK, 0);
	m = msg(VU_REQ_SET_STATUS);
	m.u.u64 = VU_STATUS_FEATURES_OK;
	assert_int_equal(handle(&t.d, &m, &rep), 0);
	/* Ring 1 set up anew: no kick yet. */
	assert_int_equal(stop_ring(&t, 1, &rep), 0);
	m = msg(VU_REQ_GET_STATUS);
	assert_int_equal(handle(&t.d, &m, &rep), 0);
	assert_int_equal(rep.u.u64, VU_STATUS_FEATURES_OK);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_starts, 0);
	kick(&t, 1);
	set_call(&t, 1);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_starts, 0);

	m = msg(VU_REQ_GET_STATUS);
	assert_int_equal(handle(&t.d, &m, &rep), 0);
	assert_int_equal(rep.u.u64, VU_STATUS_FEATURES_OK);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_starts, 1);
	pthread_mutex_lock(&t.f.mu);
	assert_true(t.f.started);
	for (unsigned i = 0; i < RINGS; i++)
		assert_true(t.f.bound[i]);
	pthread_mutex_unlock(&t.f.mu);

	m = msg(VU_REQ_SET_STATUS);
	m.u.u64 = VU_STATUS_FEATURES_OK | VU_STATUS_DRIVER_OK;
	assert_int_equal(handle(&t.d, &m, &rep), 0);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.device_starts, 1);
	assert_int_equal(st.device_stops, 0);
	assert_false(engine_accel_failed(t.e));
	down(&t);
}

/*
 * Without STATUS each ring starts as it comes, the second before its call
 * fd: a vector without an eventfd must not unbind the others (vfio-user
 * cannot unbind one: DATA_NONE with count 0 unbinds them all, so the
 * engine unbinds first and binds the rest after).  Every vector ends bound.
 */
static void vectors_stay_bound(void **state)
{
	struct t t;

	(void)state;
	up(&t);
	pthread_mutex_lock(&t.f.mu);
	for (unsigned i = 0; i < RINGS; i++)
		if (!t.f.bound[i])
			fail_msg("vector %u unbound after every ring's SET_VRING_CALL", i);
	pthread_mutex_unlock(&t.f.mu);
	down(&t);
}

/*
 * A memory table while the device is stopped is DMA-mapped at once,
 * without waiting; the device's fd then turns readable with the replies,
 * which the port hands to engine_accel_device_readable(): read, no
 * failure.  A readable event found with nothing to read (the replies were
 * read meanwhile, by the next command) is no failure either.
 */
static void mapping_replies_come_unasked(void **state)
{
	struct engine_accel_stats st;
	struct pollfd pfd;
	struct vu_reply rep;
	struct t t;

	(void)state;
	up(&t);
	assert_int_equal(engine_accel_device_readable(t.e), 0);	/* nothing there */
	for (unsigned i = 0; i < RINGS; i++) {
		assert_int_equal(stop_ring(&t, i, &rep), 0);
	}
	set_mem_table(&t);
	engine_accel_stats(t.e, &st);
	assert_int_equal(st.memory_maps, 2);
	pfd = (struct pollfd){ .fd = accel_dev_fd(engine_accel_device(t.e)), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(engine_accel_device_readable(t.e), 0);
	assert_int_equal(engine_accel_device_readable(t.e), 0);
	assert_int_equal(accel_dev_sync(engine_accel_device(t.e)), 0);
	assert_false(engine_accel_failed(t.e));
	assert_int_equal(guest_maps(&t.f), 2);
	down(&t);
}

/*
 * The device's fd turns readable with some of the replies to what was sent
 * without waiting: those are read, and the control thread does not wait
 * there for the others (QEMU's next message waits behind it; a device
 * slow to answer them is no failure).
 */
static void readable_reads_only_what_came(void **state)
{
	struct accel_dev *adev;
	struct pollfd pfd;
	struct vv_msg req;
	struct t t;
	int mfd;

	(void)state;
	up_session(&t, UP_STATUS | UP_NO_DRIVER_OK, 0);
	adev = engine_accel_device(t.e);
	mfd = th_memfd("more", 4096);
	assert_int_equal(accel_dev_dma_map_nowait(adev, 0x40000000, 4096, mfd, 0), 0);
	__atomic_store_n(&t.f.hold_mailbox, true, __ATOMIC_RELEASE);
	vv_msg_init(&req, VV_REQ_SET_VRING_NUM, VV_FLAG_NEED_REPLY);
	req.u.state = (struct vv_vring_state){ 0, 256 };
	assert_int_equal(accel_dev_vhost_nowait(adev, &req, 1), 0);
	/* The mapping's reply comes; the request's are held. */
	pfd = (struct pollfd){ .fd = accel_dev_fd(adev), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(engine_accel_device_readable(t.e), 0);
	assert_false(engine_accel_failed(t.e));
	pthread_mutex_lock(&t.f.mu);
	assert_int_equal(t.f.maps, 2);
	pthread_mutex_unlock(&t.f.mu);
	close(mfd);
	down(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unconfirmed_stop_cuts_off_before_reply),
		cmocka_unit_test(device_log_follows_memory),
		cmocka_unit_test(clean_stop_harvests_before_reply),
		cmocka_unit_test(lone_stop_restarts_the_others),
		cmocka_unit_test(requests_go_in_bursts),
		cmocka_unit_test(refusal_inside_a_burst),
		cmocka_unit_test(long_runs_stop_at_a_failure),
		cmocka_unit_test(destination_starts_once),
		cmocka_unit_test(vectors_stay_bound),
		cmocka_unit_test(mapping_replies_come_unasked),
		cmocka_unit_test(destination_prepares_rings),
		cmocka_unit_test(pause_prepares_together),
		cmocka_unit_test(starts_at_last_status_read),
		cmocka_unit_test(readable_reads_only_what_came),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
