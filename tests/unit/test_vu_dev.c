/*
 * Unit tests for agent/daemon/vu_dev.c: the ring life cycle as QEMU drives it, and
 * that shared state only changes while the data path is paused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/daemon/vu_dev.h"
#include "dirtylog/dirtylog.h"

struct rec {
	unsigned started[VU_DEV_MAX_VRINGS];
	unsigned stopped[VU_DEV_MAX_VRINGS];
	unsigned pauses, resumes;
	int paused;		/* nesting: must be 0 or 1 */
	uint16_t stop_base;
	int start_error;
	int stop_error;
};

static int r_start(void *o, unsigned idx)
{
	struct rec *r = o;

	if (r->start_error)
		return r->start_error;
	r->started[idx]++;
	return 0;
}

static int r_stop(void *o, unsigned idx, uint16_t *ret_base)
{
	struct rec *r = o;

	r->stopped[idx]++;
	if (r->stop_error)
		return r->stop_error;
	*ret_base = r->stop_base;
	return 0;
}

static void r_pause(void *o)
{
	struct rec *r = o;

	assert_int_equal(r->paused, 0);
	r->paused = 1;
	r->pauses++;
}

static void r_resume(void *o)
{
	struct rec *r = o;

	assert_int_equal(r->paused, 1);
	r->paused = 0;
	r->resumes++;
}

static const struct vu_dev_ops ops = {
	.ring_start = r_start,
	.ring_stop = r_stop,
	.pause = r_pause,
	.resume = r_resume,
};

#define FEATURES (VU_BIT(VIRTIO_F_VERSION_1) | VU_BIT(VU_F_LOG_ALL) | \
		  VU_BIT(VU_F_PROTOCOL_FEATURES) | VU_BIT(VIRTIO_NET_F_MRG_RXBUF))

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

static int memfd(size_t size)
{
	int fd = memfd_create("t", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static int handle(struct vu_dev *d, struct vu_msg *m, struct vu_reply *rep)
{
	int e = vu_dev_handle(d, m, rep);

	vu_msg_close(m);
	return e;
}

/* What vu_parse() says of request req with a u64 payload, in d's context. */
static int parse_u64(const struct vu_dev *d, uint32_t req, uint64_t v, struct msg_err *err)
{
	struct vu_wire_hdr h = { .request = req, .flags = VU_VERSION, .size = sizeof(v) };
	uint8_t buf[sizeof(h) + sizeof(v)];
	struct vu_parse_ctx ctx;
	struct vu_msg m;
	int rc;

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &v, sizeof(v));
	vu_dev_parse_ctx(d, &ctx);
	rc = vu_parse(buf, sizeof(buf), NULL, 0, &ctx, &m, err);
	if (rc == 0)
		vu_msg_close(&m);
	return rc;
}

/* SET_FEATURES of features: what the handler says. */
static int set_features(struct vu_dev *d, uint64_t features)
{
	struct vu_reply rep;
	struct vu_msg m = msg(VU_REQ_SET_FEATURES);

	m.u.u64 = features;
	return handle(d, &m, &rep);
}

/* SET_MEM_TABLE of one 1 MiB region at gpa 0, front-end address 0x10000000. */
static int set_mem_table(struct vu_dev *d)
{
	struct vu_reply rep;
	struct vu_msg m = msg(VU_REQ_SET_MEM_TABLE);

	m.u.mem.nregions = 1;
	m.u.mem.regions[0] = (struct vu_mem_region){ 0, 1 << 20, 0x10000000, 0 };
	m.fds[0] = memfd(1 << 20);
	m.nfds = 1;
	return handle(d, &m, &rep);
}

/* SET_LOG_BASE of a size-byte log in fd (handed over). */
static int set_log_base(struct vu_dev *d, uint64_t size, int fd)
{
	struct vu_reply rep;
	struct vu_msg m = msg(VU_REQ_SET_LOG_BASE);

	m.u.log = (struct vu_log){ size, 0 };
	m.fds[0] = fd;
	m.nfds = 1;
	return handle(d, &m, &rep);
}

/* A request carrying a vring state {idx, num}: SET_VRING_NUM, _BASE, _ENABLE. */
static int ring_state(struct vu_dev *d, uint32_t req, unsigned idx, unsigned num)
{
	struct vu_reply rep;
	struct vu_msg m = msg(req);

	m.u.state = (struct vu_vring_state){ idx, num };
	m.ring = idx;
	return handle(d, &m, &rep);
}

/* GET_VRING_BASE of ring idx; the answer in *rep. */
static int get_vring_base(struct vu_dev *d, unsigned idx, struct vu_reply *rep)
{
	struct vu_msg m = msg(VU_REQ_GET_VRING_BASE);

	m.u.state.index = idx;
	m.ring = idx;
	return handle(d, &m, rep);
}

/* QEMU's start sequence for one ring, with or without SET_VRING_ENABLE. */
static void bring_up(struct vu_dev *d, unsigned idx, bool with_mem)
{
	struct vu_reply rep;
	struct vu_msg m;

	if (with_mem)
		assert_int_equal(set_mem_table(d), 0);
	assert_int_equal(ring_state(d, VU_REQ_SET_VRING_NUM, idx, 256), 0);
	assert_int_equal(ring_state(d, VU_REQ_SET_VRING_BASE, idx, 77), 0);
	m = msg(VU_REQ_SET_VRING_ADDR);
	m.u.addr.index = idx;
	m.ring = idx;
	m.u.addr.desc_user_addr = 0x10000000;
	m.u.addr.avail_user_addr = 0x10001000;
	m.u.addr.used_user_addr = 0x10002000;
	assert_int_equal(handle(d, &m, &rep), 0);
	m = msg(VU_REQ_SET_VRING_KICK);
	m.u.vring_file.index = idx;
	m.ring = idx;
	m.fds[0] = memfd(1);
	m.nfds = 1;
	assert_int_equal(handle(d, &m, &rep), 0);
}

static void lifecycle(void **state)
{
	struct rec rec = { .stop_base = 1234 };
	struct vu_dev d;
	struct vu_reply rep;
	struct vu_msg m;

	(void)state;
	vu_dev_init(&d, "p0", FEATURES, VU_PF(VU_PROTO_F_LOG_SHMFD), 2, &ops, &rec);

	m = msg(VU_REQ_GET_FEATURES);
	assert_int_equal(handle(&d, &m, &rep), 0);
	assert_int_equal(rep.u.u64, FEATURES);
	m = msg(VU_REQ_GET_QUEUE_NUM);
	assert_int_equal(handle(&d, &m, &rep), 0);
	assert_int_equal(rep.u.u64, 2);
	m = msg(VU_REQ_SET_OWNER);
	assert_int_equal(handle(&d, &m, &rep), 0);
	assert_int_equal(d.state, VU_STATE_OWNED);
	assert_int_equal(set_features(&d, FEATURES & ~VU_BIT(VU_F_LOG_ALL)), 0);

	/* With PROTOCOL_FEATURES the ring waits for SET_VRING_ENABLE. */
	bring_up(&d, 0, true);
	assert_int_equal(rec.started[0], 0);
	assert_int_equal(ring_state(&d, VU_REQ_SET_VRING_ENABLE, 0, 1), 0);
	assert_int_equal(rec.started[0], 1);
	assert_true(d.ring[0].started);
	assert_int_equal(d.ring[0].base, 77);

	/* A running ring refuses a new size or base. */
	assert_int_equal(ring_state(&d, VU_REQ_SET_VRING_NUM, 0, 128), -EBUSY);
	assert_non_null(strstr(d.err, "running"));

	/* GET_VRING_BASE stops the ring and answers the data path's index. */
	assert_int_equal(get_vring_base(&d, 0, &rep), 0);
	assert_int_equal(rec.stopped[0], 1);
	assert_int_equal(rep.u.state.index, 0);
	assert_int_equal(rep.u.state.num, 1234);
	assert_false(d.ring[0].started);

	/* A second GET_VRING_BASE on a stopped ring answers without stopping again. */
	assert_int_equal(get_vring_base(&d, 0, &rep), 0);
	assert_int_equal(rec.stopped[0], 1);
	assert_int_equal(rep.u.state.num, 1234);

	vu_dev_reset(&d);
	assert_int_equal(d.state, VU_STATE_CONNECTED);
	assert_int_equal(d.mem.nregions, 0);
}

static void no_protocol_features_starts_on_kick(void **state)
{
	struct rec rec = { 0 };
	struct vu_dev d;
	struct vu_reply rep;
	struct vu_msg m;

	(void)state;
	vu_dev_init(&d, "p0", FEATURES, 0, 1, &ops, &rec);
	m = msg(VU_REQ_SET_OWNER);
	assert_int_equal(handle(&d, &m, &rep), 0);
	assert_int_equal(set_features(&d, VU_BIT(VIRTIO_F_VERSION_1)), 0);
	bring_up(&d, 1, true);
	assert_int_equal(rec.started[1], 1);
	vu_dev_reset(&d);
	assert_int_equal(rec.stopped[1], 1);
}

static void ring_needs_memory(void **state)
{
	struct rec rec = { 0 };
	struct vu_dev d;

	(void)state;
	vu_dev_init(&d, "p0", FEATURES, 0, 1, &ops, &rec);
	d.state = VU_STATE_OWNED;
	bring_up(&d, 0, false);
	assert_int_equal(rec.started[0], 0);
	vu_dev_reset(&d);
}

/* LOG_ALL toggles and a new log (QEMU resizing it) only pause, never stop. */
static void logging_pauses_not_stops(void **state)
{
	struct rec rec = { 0 };
	struct vu_dev d;

	(void)state;
	vu_dev_init(&d, "p0", FEATURES, VU_PF(VU_PROTO_F_LOG_SHMFD), 1, &ops, &rec);
	d.state = VU_STATE_OWNED;
	assert_int_equal(set_features(&d, VU_BIT(VIRTIO_F_VERSION_1)), 0);
	bring_up(&d, 0, true);
	assert_true(d.ring[0].started);
	assert_null(vu_dev_active_log(&d));

	assert_int_equal(set_log_base(&d, 4096, memfd(4096)), 0);
	assert_int_equal(set_features(&d, VU_BIT(VIRTIO_F_VERSION_1) | VU_BIT(VU_F_LOG_ALL)), 0);
	assert_non_null(vu_dev_active_log(&d));
	assert_int_equal(dirtylog_size(vu_dev_active_log(&d)), 4096);

	assert_int_equal(set_log_base(&d, 8192, memfd(8192)), 0);
	assert_int_equal(dirtylog_size(vu_dev_active_log(&d)), 8192);

	assert_int_equal(set_features(&d, VU_BIT(VIRTIO_F_VERSION_1)), 0);
	assert_null(vu_dev_active_log(&d));

	assert_int_equal(rec.stopped[0], 0);
	assert_true(rec.pauses >= 4);
	assert_int_equal(rec.pauses, rec.resumes);
	assert_true(d.ring[0].started);
	vu_dev_reset(&d);
}

static void refusals(void **state)
{
	struct rec rec = { .start_error = -ENOMEM };
	struct vu_dev d;
	struct vu_reply rep;
	struct vu_msg m;
	struct msg_err verr;

	(void)state;
	vu_dev_init(&d, "p0", FEATURES, 0, 1, &ops, &rec);
	d.state = VU_STATE_OWNED;
	/* Features not offered and a ring beyond the device's: the parser
	 * refuses them with the device's context, no handler sees them. */
	assert_int_equal(parse_u64(&d, VU_REQ_SET_FEATURES, VU_BIT(1), &verr), -EINVAL);
	assert_non_null(strstr(verr.reason, "not offered"));
	m = msg(VU_REQ_SET_VRING_ADDR);
	m.u.addr.index = 0;
	m.ring = 0;
	assert_int_equal(handle(&d, &m, &rep), -EINVAL);
	assert_non_null(strstr(d.err, "no size"));
	assert_int_equal(parse_u64(&d, VU_REQ_SET_VRING_NUM, 5 | (UINT64_C(256) << 32), &verr),
			 -ERANGE);
	/* A data path that cannot start says so. */
	assert_int_equal(set_features(&d, VU_BIT(VIRTIO_F_VERSION_1)), 0);
	assert_int_equal(set_mem_table(&d), 0);
	assert_int_equal(ring_state(&d, VU_REQ_SET_VRING_NUM, 0, 256), 0);
	m = msg(VU_REQ_SET_VRING_ADDR);
	m.u.addr.index = 0;
	m.ring = 0;
	assert_int_equal(handle(&d, &m, &rep), 0);
	m = msg(VU_REQ_SET_VRING_KICK);
	m.u.vring_file.index = 0;
	m.ring = 0;
	m.u.vring_file.nofd = true;
	assert_int_equal(handle(&d, &m, &rep), -ENOMEM);
	assert_non_null(strstr(d.err, "cannot start"));
	assert_false(d.ring[0].started);
	vu_dev_reset(&d);
}

/*
 * A data path that cannot stop a ring cannot say where the ring stands:
 * GET_VRING_BASE must fail (the connection then closes) rather than answer
 * the base of the last SET_VRING_BASE, which the destination would resume
 * from.  The base stays unknown until the front end sets a new one.
 */
static void failed_stop_is_not_a_base(void **state)
{
	struct rec rec = { .stop_base = 1234, .stop_error = -EIO };
	struct vu_dev d;
	struct vu_reply rep;

	(void)state;
	vu_dev_init(&d, "p0", FEATURES, 0, 1, &ops, &rec);
	d.state = VU_STATE_OWNED;
	assert_int_equal(set_features(&d, VU_BIT(VIRTIO_F_VERSION_1)), 0);
	bring_up(&d, 0, true);
	assert_true(d.ring[0].started);

	assert_int_equal(get_vring_base(&d, 0, &rep), -EIO);
	assert_int_equal(rec.stopped[0], 1);
	assert_non_null(strstr(d.err, "cannot stop"));
	assert_false(d.mig.ring[0].handed_over);
	assert_false(vu_dev_quiesced(&d));
	/* Asked again: still no index to give. */
	assert_int_equal(get_vring_base(&d, 0, &rep), -EIO);
	assert_false(d.mig.ring[0].handed_over);

	/* A new base from the front end is a known position again. */
	assert_int_equal(ring_state(&d, VU_REQ_SET_VRING_BASE, 0, 5), 0);
	assert_int_equal(get_vring_base(&d, 0, &rep), 0);
	assert_int_equal(rep.u.state.num, 5);
	vu_dev_reset(&d);
}

/*
 * A guest resets its NIC while QEMU logs (mid-migration): QEMU stops every
 * ring (GET_VRING_BASE) and drops its reference to the log, which it frees
 * when no other device holds it; it restarts the rings and only then sends
 * SET_LOG_BASE with a new log.  The rings must not mark into the old
 * mapping meanwhile (nobody reads it any more), and what they write before
 * the new log arrives must reach it.
 */
static void ring_restarted_while_logging(void **state)
{
	struct rec rec = { .stop_base = 77 };
	struct dirtylog *old, *now;
	struct vu_dev d;
	struct vu_reply rep;
	uint64_t *words;
	int fd;

	(void)state;
	vu_dev_init(&d, "p0", FEATURES, VU_PF(VU_PROTO_F_LOG_SHMFD), 1, &ops, &rec);
	d.state = VU_STATE_OWNED;
	assert_int_equal(set_log_base(&d, 4096, memfd(4096)), 0);
	assert_int_equal(set_features(&d, VU_BIT(VIRTIO_F_VERSION_1) | VU_BIT(VU_F_LOG_ALL)), 0);
	bring_up(&d, 0, true);
	old = vu_dev_active_log(&d);
	assert_non_null(old);

	/* The reset: the ring stops, then starts again before SET_LOG_BASE. */
	assert_int_equal(get_vring_base(&d, 0, &rep), 0);
	bring_up(&d, 0, false);
	assert_true(d.ring[0].started);
	now = vu_dev_active_log(&d);
	assert_non_null(now);
	assert_ptr_not_equal(now, old);
	/* The data path writes page 5 of guest memory. */
	assert_int_equal(dirtylog_mark(now, 5 * 4096, 1), 0);

	fd = memfd(4096);
	assert_int_equal(set_log_base(&d, 4096, dup(fd)), 0);
	words = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(words != MAP_FAILED);
	assert_true(words[0] & (1u << 5));
	assert_true(rec.pauses == rec.resumes);
	munmap(words, 4096);
	close(fd);
	vu_dev_reset(&d);
}

/* What vu_dev_driver_ok() said at each settle, in order. */
static struct vu_dev *ok_dev;
static bool ok_seen[32];
static unsigned ok_n;

static void r_settle(void *o)
{
	(void)o;
	assert_true(ok_n < 32);
	ok_seen[ok_n++] = vu_dev_driver_ok(ok_dev);
}

static const struct vu_dev_ops settle_ops = {
	.ring_start = r_start,
	.ring_stop = r_stop,
	.pause = r_pause,
	.resume = r_resume,
	.settle = r_settle,
};

static bool status_read(struct vu_dev *d)
{
	struct vu_reply rep;
	struct vu_msg m = msg(VU_REQ_GET_STATUS);

	assert_int_equal(handle(d, &m, &rep), 0);
	assert_true(ok_n > 0);
	return ok_seen[ok_n - 1];
}

static void set_status(struct vu_dev *d, uint8_t status)
{
	struct vu_reply rep;
	struct vu_msg m = msg(VU_REQ_SET_STATUS);

	m.u.u64 = status;
	assert_int_equal(handle(d, &m, &rep), 0);
}

/*
 * QEMU 10's order on a destination, per queue pair: its rings enabled,
 * SET_FEATURES and a status read (FEATURES_OK), the rings set up; after
 * the last pair a status read and DRIVER_OK.  The front end lets the
 * rings run at that last read (the engine starts its device before the
 * reply, while QEMU waits), not at an earlier one: one with an enabled
 * ring not set up, or without FEATURES_OK.  A ring not enabled (a queue
 * pair the guest does not use) does not count.  The same features again
 * while rings run change nothing: no pause.
 */
static void driver_ok_at_last_status_read(void **state)
{
	uint64_t f = FEATURES & ~VU_BIT(VU_F_LOG_ALL);
	struct rec rec = { 0 };
	struct vu_dev d;

	(void)state;
	for (unsigned used = 2; used >= 1; used--) {
		memset(&rec, 0, sizeof(rec));
		ok_n = 0;
		vu_dev_init(&d, "p0", FEATURES, VU_PF(VU_PROTO_F_STATUS), 2, &settle_ops, &rec);
		ok_dev = &d;
		d.state = VU_STATE_OWNED;
		d.protocol_features = VU_PF(VU_PROTO_F_STATUS);
		assert_false(vu_dev_driver_ok(&d));
		for (unsigned q = 0; q < 2; q++) {
			if (q < used) {
				assert_int_equal(ring_state(&d, VU_REQ_SET_VRING_ENABLE, 2 * q, 1), 0);
				assert_int_equal(ring_state(&d, VU_REQ_SET_VRING_ENABLE, 2 * q + 1, 1), 0);
			}
			assert_int_equal(set_features(&d, f), 0);
			/* Pair 0's read has no FEATURES_OK yet; pair 1's an enabled ring not set up. */
			if (q == 0 || used == 2)
				assert_false(status_read(&d));
			else
				assert_true(status_read(&d));	/* every enabled ring runs */
			if (q == 0)
				set_status(&d, VU_STATUS_FEATURES_OK);
			bring_up(&d, 2 * q, q == 0);
			bring_up(&d, 2 * q + 1, false);
		}
		/* Not a read: no. */
		assert_false(vu_dev_driver_ok(&d));
		assert_true(status_read(&d));
		assert_false(vu_dev_driver_ok(&d));
		set_status(&d, VU_STATUS_FEATURES_OK | VU_STATUS_DRIVER_OK);
		assert_true(vu_dev_driver_ok(&d));
		/* Pair 1's SET_FEATURES came while pair 0's rings ran: no pause. */
		assert_int_equal(rec.pauses, 0);
		assert_int_equal(rec.started[3], used == 2 ? 1 : 0);
		/* New features while rings run: a pause. */
		assert_int_equal(set_features(&d, f | VU_BIT(VU_F_LOG_ALL)), 0);
		assert_int_equal(rec.pauses, 1);
		vu_dev_reset(&d);
	}
}

/* Every request the protocol table lets through has its handler, and no other. */
static void a_handler_per_request(void **state)
{
	(void)state;
	for (uint32_t req = 0; req <= VU_REQ_MAX + 1; req++) {
		if (vu_request_known(req) != vu_dev_serves(req))
			print_error("%s (%u): known %d, served %d\n", vu_request_name(req), req,
				    vu_request_known(req), vu_dev_serves(req));
		assert_int_equal(vu_request_known(req), vu_dev_serves(req));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_handler_per_request),
		cmocka_unit_test(lifecycle),
		cmocka_unit_test(no_protocol_features_starts_on_kick),
		cmocka_unit_test(ring_needs_memory),
		cmocka_unit_test(logging_pauses_not_stops),
		cmocka_unit_test(refusals),
		cmocka_unit_test(failed_stop_is_not_a_base),
		cmocka_unit_test(ring_restarted_while_logging),
		cmocka_unit_test(driver_ok_at_last_status_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
